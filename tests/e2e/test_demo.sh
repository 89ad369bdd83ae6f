#!/usr/bin/env bash
# The README's demo command works: tests/demo.sh builds, starts a pod sshd
# and jumpgate on the embedded default routes, prints what to type, and
# what it prints works.  Stopping it stops everything it started.
. "$(dirname "$0")/lib.sh"

port=$(jg_free_port 127.0.0.1 20000 29999)
JG_DEMO_PORT=$port "$JG_SOURCE_DIR/tests/demo.sh" >"$T/demo.out" 2>&1 &
demo_pid=$!
JG_PIDS+=("$demo_pid")
check "the demo prints what to type" jg_wait_log "$T/demo.out" "ProxyJump: +ssh -F" 1200
check "the demo gateway listens on the chosen port" jg_wait_port 127.0.0.1 "$port"
D=$(awk '/^  scratch/ {print $2}' "$T/demo.out")
cmd=$(awk -F'ProxyJump: +' '/ProxyJump:/ {print $2}' "$T/demo.out")
check "the demo names its scratch directory" [ -d "$D" ]
out=$($cmd -o BatchMode=yes 'echo demo-pod-says-hi' 2>"$T/err")
check "the printed ProxyJump command logs in to the demo pod" [ "$out" = demo-pod-says-hi ]
jump=$(awk -F'jump mode: +' '/jump mode:/ {print $2}' "$T/demo.out")
out=$($jump -o BatchMode=yes 'echo via-J' 2>"$T/err")
check "the printed ssh -J command logs in to the demo pod" [ "$out" = via-J ]
err=$(awk -F'an error: +' '/an error:/ {print $2}' "$T/demo.out")
$err -o BatchMode=yes true 2>"$T/err"
check "the printed error example explains itself" \
	grep -q "jumpgate: job 'nosuchjob' not found for demo; your jobs: jpt-demo-251121-0a1b2" "$T/err"

# Ctrl-C in a terminal; TERM here, because a background job of a script
# starts with SIGINT ignored.
kill -TERM "$demo_pid"
wait "$demo_pid"
check "stopping the demo closes the gateway port" \
	eval "! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null"
check "stopping the demo removes its scratch directory" [ ! -d "$D" ]
check "stopping the demo says so" grep -q "demo stopped" "$T/demo.out"
jg_done
