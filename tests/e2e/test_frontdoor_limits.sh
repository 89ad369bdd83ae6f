#!/usr/bin/env bash
# The front door's limits, each seen by a real client and in the log in
# sshd's words: login grace time, max auth tries, the per-source penalty
# and the per-user session cap.  Each part connects from its own loopback
# source address (127.0.0.2x), so that one part's failed logins cannot
# put another part's source in the penalty box.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
jg_keygen alice
for k in w1 w2 w3 w4 w5; do jg_keygen "$k"; done
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
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "limits:
  login_grace_time_s: 2
  max_auth_tries: 3
  penalty_failures: 3
  penalty_duration_s: 30
  max_sessions_per_user: 2"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
GW="alice@127.0.0.1:$GW_PORT"

# ssh_from ADDR KEY: prints the name of an ssh_config whose connections
# leave from ADDR and offer KEY.
ssh_from() {
	local f="$T/ssh_$1_$(basename "$2")"
	jg_ssh_config "$f" "$2"
	echo "  BindAddress $1" >>"$f"
	echo "$f"
}

# ---- Per-user session cap (part 1): two sessions held open ----
S24=$(ssh_from 127.0.0.24 "$T/alice")
holders=()
for i in 1 2; do
	ssh -F "$S24" -N -p "$GW_PORT" alice@127.0.0.1 2>"$T/hold$i.err" &
	holders+=($!)
	JG_PIDS+=($!)
done
check "two sessions of alice are accepted and held open" \
	jg_wait_count "$GW_LOG" "Accepted publickey for alice from 127.0.0.24 port" 2

# ---- Login grace time ----
# One connection sends nothing, one sends only its identification line.
python3 "$JG_TOOLS/tcpprobe.py" 127.0.0.1 "$GW_PORT" --bind 127.0.0.21 \
    --timeout 15 >"$T/grace1.out" &
g1=$!
python3 "$JG_TOOLS/tcpprobe.py" 127.0.0.1 "$GW_PORT" --bind 127.0.0.21 \
    --send-banner --timeout 15 >"$T/grace2.out" &
g2=$!
JG_PIDS+=("$g1" "$g2")
wait "$g1"; wait "$g2"
for n in 1 2; do
	read -r status secs _ lport _ <"$T/grace$n.out"
	what=$([ "$n" = 1 ] && echo "a silent connection" || echo "a connection that only sent its banner")
	check "login grace 2 s: $what is closed by the gateway" [ "$status" = eof ]
	check "login grace 2 s: $what is closed after 1.5..5 s (took $secs s)" \
		awk -v s="$secs" 'BEGIN { exit !(s >= 1.5 && s <= 5) }'
	check "gateway log: Timeout before authentication for 127.0.0.21 port $lport" \
		jg_wait_log "$GW_LOG" "Timeout before authentication for 127.0.0.21 port $lport\$"
	check "login grace 2 s: $what is told why in a clear-text SSH disconnect" \
		grep -qF "jumpgate: login grace time exceeded (2 s)" "$T/grace$n.out"
	grep -qF "grace time exceeded" "$T/grace$n.out" || jg_show "$T/grace$n.out"
done

# The grace time has passed for the held sessions: authenticated
# sessions must not be subject to it.
check "authenticated sessions outlive the login grace time" \
	kill -0 "${holders[@]}"
check "gateway log: no grace timeout for the held sessions" \
	jg_lacks "$GW_LOG" "Timeout before authentication for 127.0.0.24 "

# ---- Per-user session cap (part 2) ----
out=$(timeout 30 ssh -F "$S24" -J "$GW" "$ME@myjob" 'echo third' 2>"$T/third.err")
check "a third concurrent session is refused" [ -z "$out" ]
check "the client prints: too many sessions for alice (limit 2)" \
	grep -q "jumpgate: too many sessions for alice (limit 2)" "$T/third.err"
grep -q "too many sessions" "$T/third.err" || jg_show "$T/third.err"
check "gateway log: refused session ... too many sessions" \
	grep -qE "refused session for alice from 127.0.0.24 port [0-9]+: too many sessions for alice \(limit 2\)" "$GW_LOG"
jg_stop "${holders[0]}"
check "gateway log: the first held session ends" \
	jg_wait_log "$GW_LOG" "Disconnected from user alice 127.0.0.24 port"
out=$(timeout 30 ssh -F "$S24" -J "$GW" "$ME@myjob" 'echo third-again' 2>"$T/third2.err")
check "after one session ends, a new one is accepted" [ "$out" = third-again ]
[ "$out" = third-again ] || jg_show "$T/third2.err"
jg_stop "${holders[1]}"

# ---- Max auth tries ----
S22=$(ssh_from 127.0.0.22 "$T/w1")
# LogLevel INFO: whatever ends the connection is printed, for the record.
timeout 30 ssh -F "$S22" -o LogLevel=INFO -i "$T/w2" -i "$T/w3" -i "$T/w4" \
    -i "$T/w5" -p "$GW_PORT" alice@127.0.0.1 true 2>"$T/tries.err"
check "5 wrong keys against max_auth_tries 3: the client sees Too many authentication failures" \
	grep -q "Too many authentication failures" "$T/tries.err"
grep -q "Too many" "$T/tries.err" || jg_show "$T/tries.err"
check "gateway log: maximum authentication attempts exceeded" \
	grep -qE "maximum authentication attempts exceeded for alice from 127.0.0.22 port [0-9]+ ssh2 \[preauth\]" "$GW_LOG"
n=$(jg_count "$GW_LOG" "Failed publickey for alice from 127.0.0.22 ")
check "gateway log: exactly 3 failed keys before the cut (got $n)" [ "$n" -eq 3 ]

# ---- Per-source penalty ----
S23=$(ssh_from 127.0.0.23 "$T/w1")
S23OK=$(ssh_from 127.0.0.23 "$T/alice")
for i in 1 2 3; do
	timeout 30 ssh -F "$S23" -p "$GW_PORT" alice@127.0.0.1 true 2>"$T/pen$i.err"
done
check "three wrong-key logins from 127.0.0.23 are refused" \
	grep -q "Permission denied (publickey)" "$T/pen3.err"
out=$(timeout 30 ssh -F "$S23OK" -J "$GW" "$ME@myjob" 'echo should-not-run' 2>"$T/pen-ok.err")
check "then alice's right key from the same source is dropped" [ -z "$out" ]
check "the dropped client sees the connection closed" \
	grep -qiE "closed|reset" "$T/pen-ok.err"
check "gateway log: drop connection #... penalty" \
	grep -qE "drop connection #[0-9]+ from \[127.0.0.23\]:[0-9]+ on \[127.0.0.1\]:$GW_PORT penalty: failed authentication, [0-9]+ s left" "$GW_LOG"
n=$(jg_count "$GW_LOG" "Accepted publickey for alice from 127.0.0.23 ")
check "gateway log: no login was accepted from the penalised source" [ "$n" -eq 0 ]
S25=$(ssh_from 127.0.0.25 "$T/alice")
out=$(timeout 30 ssh -F "$S25" -J "$GW" "$ME@myjob" 'echo other-source' 2>"$T/pen25.err")
check "another source address is not penalised" [ "$out" = other-source ]

jg_check_log_clean
jg_done
