#!/usr/bin/env bash
# A pod that dies under a running session: `ssh -J ... 'sleep 30'` is
# running when the pod's sshd (the listener we started and every process
# below it, found through the process tree) is killed.  The client must
# notice within a few seconds and exit non-zero, the gateway must write
# the session's audit line, and a new jump must say the pod cannot be
# reached.  A second job's session through the same gateway is unharmed.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
jg_keygen alice
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/alice.pub" "$T/pod_authorized_keys"

POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod doomed 127.0.0.2 "$POD_PORT" "$T/pod_authorized_keys" ||
    { fail "the pod's sshd starts"; jg_done; }
DOOMED_PID=$POD_PID
OTHER_PORT=$(jg_free_port 127.0.0.3)
jg_start_pod other 127.0.0.3 "$OTHER_PORT" "$T/pod_authorized_keys" ||
    { fail "the pod's sshd starts"; jg_done; }
{
	echo "apiVersion: v1"
	echo "kind: List"
	echo "items:"
	jg_pod_yaml p1 alice jpt-alice-251121-aaaaa doomedjob 127.0.0.2 "$POD_PORT"
	jg_pod_yaml p2 alice jpt-alice-251121-bbbbb otherjob 127.0.0.3 "$OTHER_PORT"
} >"$T/routes.yaml"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
jg_ssh_config "$T/ssh_alice" "$T/alice"
GW="alice@127.0.0.1:$GW_PORT"

# The other job's session waits for one line that is written at the end.
mkfifo "$T/other.in"
timeout 120 ssh -F "$T/ssh_alice" -J "$GW" "$ME@otherjob" 'echo started; read line; echo "other-$line"' \
    <"$T/other.in" >"$T/other.out" 2>"$T/other.err" &
other_pid=$!
JG_PIDS+=("$other_pid")
exec 7>"$T/other.in"

timeout 60 ssh -F "$T/ssh_alice" -J "$GW" "$ME@doomedjob" 'echo started; sleep 30' \
    </dev/null >"$T/doomed.out" 2>"$T/doomed.err" &
client_pid=$!
JG_PIDS+=("$client_pid")
check "the session to doomedjob is running" jg_wait_log "$T/doomed.out" '^started$'
check "the session to otherjob is running" jg_wait_log "$T/other.out" '^started$'

# The pod dies: its sshd listener and every process below it at once.
victims=$(jg_descendants "$DOOMED_PID")
check "the pod's sshd has processes serving the session" [ -n "$victims" ]
# Out of the job table first, or bash reports "Killed" on the console;
# its zombie (and so its PID) stays ours until this script exits.
disown "$DOOMED_PID"
start=$(jg_now_ms)
# shellcheck disable=SC2086
kill -KILL "$DOOMED_PID" $victims 2>/dev/null
check "the client exits within 10 s of the pod's death" jg_wait_gone "$client_pid" 200
gone_ms=$(( $(jg_now_ms) - start ))
wait "$client_pid"
status=$?
echo "# client noticed the dead pod after $gone_ms ms, exit status $status"
check "the client exits with a non-zero status" [ "$status" -ne 0 ]
check "the client says the connection to the pod closed" \
	grep -qiE "closed|reset|broken pipe" "$T/doomed.err"
jg_show "$T/doomed.err"
check "gateway log: the session's audit line" \
	jg_wait_log "$GW_LOG" "session-end id=[0-9]+ user=alice job=jpt-alice-251121-aaaaa pod=crater-workspace/jpt-alice-251121-aaaaa-default0-0 endpoint=127.0.0.2:$POD_PORT mode=jump from=127.0.0.1:[0-9]+ bytes_up=[1-9][0-9]* bytes_down=[1-9][0-9]* duration_ms=[0-9]+ reason="
check "the audit blames the pod, not the client" \
	grep -qE "session-end .*job=jpt-alice-251121-aaaaa .*reason=\"pod (closed the connection|connection lost: [^\"]+)\"" "$GW_LOG"
grep -E "session-end .*job=jpt-alice-251121-aaaaa" "$GW_LOG" | sed 's/^.*session-end/# audit: session-end/'

out=$(timeout 30 ssh -F "$T/ssh_alice" -J "$GW" "$ME@doomedjob" 'echo alive' 2>"$T/again.err")
check "a new jump to the dead pod says it cannot be reached" \
	jg_refused "$out" "$T/again.err" "jumpgate: cannot reach job 'jpt-alice-251121-aaaaa' of alice: pod crater-workspace/jpt-alice-251121-aaaaa-default0-0 at 127.0.0.2 port $POD_PORT: Connection refused"

echo fine >&7
exec 7>&-
wait "$other_pid"
other_status=$?
check "the other job's session was unharmed: ssh exits 0" [ "$other_status" -eq 0 ]
check "the other job's session was unharmed: it read and answered" \
	[ "$(sed -n 2p "$T/other.out")" = other-fine ]
check "the gateway is still running" kill -0 "$GW_PID"
jg_check_log_clean
jg_done
