#!/usr/bin/env bash
# Key re-exchange in the middle of a transfer must not end a session:
# libssh 0.10 takes no channel data while it rekeys, which is
# backpressure, not an error.  Both modes, both directions, with a
# RekeyLimit small enough that every transfer rekeys several times.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
jg_keygen alice
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
POD_PORT=$(jg_free_port 127.0.0.2)
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
{
	echo "items:"
	jg_pod_yaml a alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
} >"$T/routes.yaml"
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "upstream:
  user: $ME
  user_key_dir: $T/userkeys"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
# The pod trusts alice (jump mode) and the gateway's key for alice
# (direct mode without an agent).
jg_ssh_config "$T/ssh_alice" "$T/alice"
echo "  RekeyLimit 2M" >>"$T/ssh_alice"
ssh -F "$T/ssh_alice" -p "$GW_PORT" alice@127.0.0.1 pubkey 2>/dev/null | head -1 >"$T/gwkey.pub"
cat "$T/alice.pub" "$T/gwkey.pub" >"$T/pod_authorized_keys"
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_authorized_keys"
printf 'RekeyLimit 2M\n' >>"$T/pod-job1/sshd_config"

head -c 48M /dev/urandom >"$T/blob"
want=$(sha256sum <"$T/blob" | cut -d' ' -f1)
GW="alice@127.0.0.1:$GW_PORT"

got=$(timeout 120 ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" sha256sum <"$T/blob" 2>"$T/err" | cut -d' ' -f1)
check "jump mode: 48 MiB up through many rekeys arrives intact" [ "$got" = "$want" ]
got=$(timeout 120 ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" "cat $T/blob" 2>"$T/err" | sha256sum | cut -d' ' -f1)
check "jump mode: 48 MiB down through many rekeys arrives intact" [ "$got" = "$want" ]
got=$(timeout 120 ssh -v -F "$T/ssh_alice" -p "$GW_PORT" "alice+myjob@127.0.0.1" sha256sum <"$T/blob" 2>"$T/err" | cut -d' ' -f1)
check "direct mode: 48 MiB up through many rekeys arrives intact" [ "$got" = "$want" ]
n=$(grep -c "SSH2_MSG_KEXINIT sent" "$T/err")
check "the client really rekeyed with the gateway during it ($n key exchanges)" [ "$n" -ge 5 ]
got=$(timeout 120 ssh -F "$T/ssh_alice" -p "$GW_PORT" "alice+myjob@127.0.0.1" "cat $T/blob" 2>"$T/err" | sha256sum | cut -d' ' -f1)
check "direct mode: 48 MiB down through many rekeys arrives intact" [ "$got" = "$want" ]
jg_done
