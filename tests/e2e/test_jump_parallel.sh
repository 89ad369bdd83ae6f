#!/usr/bin/env bash
# 50 `ssh -J` sessions at once through one gateway: each runs a command
# that echoes its own token and hashes 1 MiB of its own random data, and
# every one must come back with its token and the right hash.  Each client
# is bounded by `timeout`.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
N=50
jg_keygen alice
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/alice.pub" "$T/pod_authorized_keys"

# The pod's own sshd must not be what drops connections: OpenSSH's default
# MaxStartups (10:30:100) would refuse some of 50 simultaneous logins.
cat >"$T/sshd-wide" <<EOF
#!/bin/sh
exec $SSHD "\$@" -o MaxStartups=200 -o PerSourcePenalties=no
EOF
chmod +x "$T/sshd-wide"
# OpenSSH before 9.8 has no PerSourcePenalties: drop the option there.
if grep -q "Bad configuration option" <<<"$("$SSHD" -T -f /dev/null \
    -o PerSourcePenalties=no 2>&1)"; then
	sed -i 's/ -o PerSourcePenalties=no//' "$T/sshd-wide"
fi
POD_PORT=$(jg_free_port 127.0.0.2)
SSHD="$T/sshd-wide" jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_authorized_keys" ||
    { fail "the pod's sshd starts"; jg_show "$T/pod-job1/log"; jg_done; }
{
	echo "apiVersion: v1"
	echo "kind: List"
	echo "items:"
	jg_pod_yaml p1 alice jpt-alice-251121-aaaaa busyjob 127.0.0.2 "$POD_PORT"
} >"$T/routes.yaml"

GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
# The gateway's default MaxStartups (10:30:100) drops at random, as sshd's
# does; this test is about concurrency, not about that limit.
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "limits:
  max_startups: \"200\""
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
jg_ssh_config "$T/ssh_alice" "$T/alice"
GW="alice@127.0.0.1:$GW_PORT"

for i in $(seq 1 $N); do
	head -c 1048576 /dev/urandom >"$T/in.$i"
	sha256sum <"$T/in.$i" | awk '{print $1}' >"$T/want.$i"
done

start=$(jg_now_ms)
pids=()
for i in $(seq 1 $N); do
	timeout 90 ssh -F "$T/ssh_alice" -J "$GW" "$ME@busyjob" \
	    "echo token-$i-\$\$; sha256sum" <"$T/in.$i" >"$T/out.$i" \
	    2>"$T/err.$i" &
	pids+=($!)
done
JG_PIDS+=("${pids[@]}")
failed_status=0
for i in $(seq 1 $N); do
	wait "${pids[$((i - 1))]}" || failed_status=$((failed_status + 1))
done
elapsed=$(( $(jg_now_ms) - start ))
echo "# $N parallel sessions finished in $elapsed ms"

bad=0
for i in $(seq 1 $N); do
	if ! grep -qE "^token-$i-[0-9]+\$" "$T/out.$i" ||
	    [ "$(sed -n '2{s/ .*//;p}' "$T/out.$i")" != "$(cat "$T/want.$i")" ]; then
		bad=$((bad + 1))
		[ "$bad" -le 3 ] && { echo "# session $i:"; jg_show "$T/out.$i"; jg_show "$T/err.$i"; }
	fi
done
check "all $N parallel ssh -J clients exit 0" [ "$failed_status" -eq 0 ]
check "all $N sessions echoed their own token and the right SHA-256 of their 1 MiB" [ "$bad" -eq 0 ]
# Tokens carry the remote shell's PID: 50 distinct ones prove 50 distinct
# remote sessions, not one answer seen many times.
distinct=$(cat "$T"/out.* | grep -E '^token-' | sort -u | wc -l)
check "the $N tokens are distinct" [ "$distinct" -eq "$N" ]
check "gateway log: $N accepted logins" \
	jg_wait_count "$GW_LOG" "Accepted publickey for alice from 127.0.0.1" "$N"
check "gateway log: $N audit lines" \
	jg_wait_count "$GW_LOG" "session-end id=[0-9]+ user=alice job=jpt-alice-251121-aaaaa .*mode=jump" "$N"
ids=$(grep -oE 'session-end id=[0-9]+' "$GW_LOG" | sort -u | wc -l)
check "the audit lines name $N distinct session ids" [ "$ids" -eq "$N" ]
jg_check_log_clean
jg_done
