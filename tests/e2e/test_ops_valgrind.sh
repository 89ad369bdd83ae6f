#!/usr/bin/env bash
# A representative run of the gateway under valgrind memcheck: a jump
# with a small transfer, a refused jump, a self-service command, a direct
# session (ssh alice+job@gw, the gateway's key in the pod), a SIGHUP
# reload, then SIGTERM.  Valgrind must report no errors and no definitely
# lost bytes (--errors-for-leak-kinds=definite --error-exitcode=99).
# Known false positives inside libssh, libcurl or OpenSSL, if any, go in
# tests/e2e/tools/valgrind.supp with a comment each saying why they are
# not jumpgate's.  Everything is slow under valgrind: the waits are long,
# and still bounded.
. "$(dirname "$0")/lib.sh"

if ! command -v valgrind >/dev/null 2>&1; then
	fail "valgrind is installed (Debian package valgrind)"
	jg_done
fi
if ldd "$JUMPGATE" 2>/dev/null | grep -q libasan; then
	# tests/CMakeLists.txt does not register this test in that build.
	fail "a sanitized gateway cannot run under valgrind"
	jg_done
fi
ME=$(id -un)
SUPP="$JG_TOOLS/valgrind.supp"
jg_keygen alice
jg_direct_user alice
cat "$T/alice.pub" "$T/user-keys/alice.pub" >"$T/pod_ak"
POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_ak" || { fail "the pod's sshd starts"; jg_done; }
{
	echo "items:"
	jg_pod_yaml p1 alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
} >"$T/routes.yaml"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "upstream:
  user: $ME
  auth: [key]
  user_key_dir: $T/user-keys
  auth_timeout_ms: 60000
  connect_timeout_ms: 30000
limits:
  login_grace_time_s: 120
  connect_timeout_ms: 30000
  drain_timeout_s: 5"

GW_LOG="$T/gateway.log"
VG_LOG="$T/valgrind.log"
valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \
    --error-exitcode=99 --track-fds=no --num-callers=30 \
    ${SUPP:+--suppressions="$SUPP"} --log-file="$VG_LOG" \
    "$JUMPGATE" -D -e -f "$T/jumpgate.yaml" 2>>"$GW_LOG" &
GW_PID=$!
JG_PIDS+=("$GW_PID")
check "the gateway starts under valgrind" jg_wait_log "$GW_LOG" "ready, [0-9]+ workers" 1200
jg_ssh_config "$T/ssh_alice" "$T/alice"
sed -i 's/ConnectTimeout 10/ConnectTimeout 60/' "$T/ssh_alice"
GW="alice@127.0.0.1:$GW_PORT"

head -c 262144 /dev/urandom >"$T/blob"
want=$(sha256sum <"$T/blob" | cut -d' ' -f1)
got=$(timeout 120 ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" sha256sum <"$T/blob" 2>"$T/jump.err" | cut -d' ' -f1)
check "a jump moves 256 KiB intact" [ "$got" = "$want" ]
[ "$got" = "$want" ] || jg_show "$T/jump.err"
out=$(timeout 120 ssh -F "$T/ssh_alice" -J "$GW" "$ME@nosuchjob" true 2>"$T/refused.err")
check "a jump to an unknown job is refused with the reason" \
	jg_refused "$out" "$T/refused.err" "jumpgate: job 'nosuchjob' not found for alice"
out=$(timeout 120 ssh -F "$T/ssh_alice" -p "$GW_PORT" alice@127.0.0.1 jobs 2>"$T/jobs.err")
check "a self-service command answers (jobs)" grep -q "jpt-alice-251121-aaaaa" <<<"$out"
out=$(timeout 120 ssh -F "$T/ssh_alice" -p "$GW_PORT" "alice+myjob@127.0.0.1" 'head -c 65536 /dev/zero | wc -c' 2>"$T/direct.err")
check "a direct session runs a command in the pod" [ "$(tr -d ' ' <<<"$out")" = 65536 ]
[ -n "$out" ] || jg_show "$T/direct.err"
check "gateway log: four audit lines" jg_wait_count "$GW_LOG" "session-end " 4 600
kill -HUP "$GW_PID"
check "SIGHUP reloads under valgrind" \
	jg_wait_log "$GW_LOG" "Received SIGHUP; configuration reloaded" 1200
out=$(timeout 120 ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" 'echo after-reload' 2>"$T/after.err")
check "a jump after the reload works" [ "$out" = after-reload ]
kill -TERM "$GW_PID"
jg_wait_gone "$GW_PID" 1200 || fail "the gateway exits within 60 s of SIGTERM"
wait "$GW_PID"
status=$?
GW_PID=
check "valgrind exits 0 (99 means errors or definite leaks; got $status)" [ "$status" -eq 0 ]

summary=$(grep -E "ERROR SUMMARY:" "$VG_LOG" | tail -n 1)
echo "# valgrind: ${summary#*== }"
grep -E "definitely lost:|indirectly lost:|possibly lost:|still reachable:|All heap blocks were freed" \
    "$VG_LOG" | sed 's/^==[0-9]*== */#   /'
check "valgrind: ERROR SUMMARY: 0 errors" grep -qE "ERROR SUMMARY: 0 errors from 0 contexts" "$VG_LOG"
if grep -q "LEAK SUMMARY" "$VG_LOG"; then
	check "valgrind: definitely lost: 0 bytes" grep -qE "definitely lost: 0 bytes in 0 blocks" "$VG_LOG"
else
	check "valgrind: no leak summary: all heap blocks were freed" \
		grep -q "All heap blocks were freed" "$VG_LOG"
fi
if ! grep -qE "ERROR SUMMARY: 0 errors" "$VG_LOG"; then
	grep -E -A25 "Invalid|uninitialised|definitely lost in" "$VG_LOG" | head -80 | sed 's/^/#   /'
fi
jg_check_log_clean
jg_done
