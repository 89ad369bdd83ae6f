#!/usr/bin/env bash
# MaxStartups and listening on two address families at once.  With
# max_startups "2:100:2", two unauthenticated raw TCP connections held
# open fill the gateway: a third connection (raw, then a real client) is
# dropped at accept and logged "past MaxStartups"; once the two are
# closed, logins work again.  The gateway listens on 127.0.0.1 and ::1
# together and takes a jump through each.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
jg_keygen alice
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/alice.pub" "$T/pod_authorized_keys"

POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_authorized_keys" ||
    { fail "the pod's sshd starts"; jg_done; }
{
	echo "apiVersion: v1"
	echo "kind: List"
	echo "items:"
	jg_pod_yaml p1 alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
} >"$T/routes.yaml"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
cat >"$T/jumpgate.yaml" <<CFG
listen:
  - address: 127.0.0.1
    port: $GW_PORT
  - address: "::1"
    port: $GW_PORT
host_keys:
  paths: [$T/gw_host_ed25519_key]
  generate: true
users:
  key_sources:
    - type: authorized_keys
      path: "$T/users/%u.keys"
routes:
  source: static
  static_file: $T/routes.yaml
limits:
  max_startups: "2:100:2"
logging:
  level: verbose
CFG
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
check "the gateway listens on ::1 as well" jg_wait_port ::1 "$GW_PORT"
jg_ssh_config "$T/ssh_alice" "$T/alice"
GW="alice@127.0.0.1:$GW_PORT"

# ---- MaxStartups ----
holders=()
for i in 1 2; do
	python3 "$JG_TOOLS/tcpprobe.py" 127.0.0.1 "$GW_PORT" \
	    --ready "$T/hold$i.ready" --timeout 60 >"$T/hold$i.out" &
	holders+=($!)
	JG_PIDS+=($!)
done
ready() { [ -s "$T/hold1.ready" ] && [ -s "$T/hold2.ready" ]; }
wait_ready() {
	local tries=200
	while [ $tries -gt 0 ]; do ready && return 0; tries=$((tries - 1)); sleep 0.05; done
	return 1
}
check "two raw TCP connections are taken (each got the gateway's banner)" wait_ready

python3 "$JG_TOOLS/tcpprobe.py" 127.0.0.1 "$GW_PORT" --timeout 10 >"$T/third.out"
read -r status secs nbytes _ <"$T/third.out"
check "a third connection is closed at once without a banner (got $status after $secs s, $nbytes bytes)" \
	[ "$status $nbytes" = "eof 0" ]
check "gateway log: drop connection ... past MaxStartups" \
	jg_wait_log "$GW_LOG" "drop connection #[0-9]+ from \[127.0.0.1\]:[0-9]+ on \[127.0.0.1\]:$GW_PORT past MaxStartups \(2 pending, limits 2:100:2\)"
out=$(timeout 30 ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" 'echo should-not-run' 2>"$T/full.err")
check "a real client is dropped too while the two are held" [ -z "$out" ]
check "the dropped client reports the closed connection" \
	grep -q "Connection closed by remote host" "$T/full.err"
grep -q "closed" "$T/full.err" || jg_show "$T/full.err"
n=$(jg_count "$GW_LOG" "past MaxStartups")
check "gateway log: both drops logged (got $n)" [ "$n" -ge 2 ]

for p in "${holders[@]}"; do jg_stop "$p"; done
check "gateway log: the two held connections are closed [preauth]" \
	jg_wait_count "$GW_LOG" "Connection closed by 127.0.0.1 port [0-9]+ \[preauth\]" 2
out=$(timeout 30 ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" 'echo after-release' 2>"$T/after.err")
check "after they are closed, a login works again" [ "$out" = after-release ]
[ "$out" = after-release ] || jg_show "$T/after.err"
# Completed logins must give their startup slot back as well: two more
# in a row would be refused if the last one had kept its slot.
out1=$(timeout 30 ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" 'echo again-1' 2>"$T/again1.err")
out2=$(timeout 30 ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" 'echo again-2' 2>"$T/again2.err")
check "logins that complete give their startup slot back" \
	[ "$out1 $out2" = "again-1 again-2" ]
# So must failed ones.
jg_keygen mallory
jg_ssh_config "$T/ssh_mallory" "$T/mallory"
for i in 1 2 3; do
	timeout 30 ssh -F "$T/ssh_mallory" -p "$GW_PORT" alice@127.0.0.1 true 2>"$T/wrong$i.err"
done
check "three wrong-key logins are refused" grep -q "Permission denied (publickey)" "$T/wrong3.err"
out=$(timeout 30 ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" 'echo after-failures' 2>"$T/after2.err")
check "failed logins give their startup slot back" [ "$out" = after-failures ]

# ---- Two address families ----
out=$(timeout 30 ssh -F "$T/ssh_alice" -J "alice@[::1]:$GW_PORT" "$ME@myjob" 'echo via-v6' 2>"$T/v6.err")
check "a jump through the gateway's ::1 listener" [ "$out" = via-v6 ]
[ "$out" = via-v6 ] || jg_show "$T/v6.err"
out=$(timeout 30 ssh -F "$T/ssh_alice" -J "alice@127.0.0.1:$GW_PORT" "$ME@myjob" 'echo via-v4' 2>"$T/v4.err")
check "a jump through the gateway's 127.0.0.1 listener" [ "$out" = via-v4 ]
check "gateway log: a login from ::1 on ::1" \
	grep -qE "Connection from ::1 port [0-9]+ on ::1 port $GW_PORT" "$GW_LOG"
check "gateway log: Accepted publickey for alice from ::1" \
	grep -qE "Accepted publickey for alice from ::1 port [0-9]+ ssh2" "$GW_LOG"
check "gateway log: the v6 session's audit line" \
	jg_wait_log "$GW_LOG" "session-end id=[0-9]+ user=alice job=jpt-alice-251121-aaaaa .*from=::1:[0-9]+ "
jg_check_log_clean
jg_done
