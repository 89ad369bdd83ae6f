#!/usr/bin/env bash
# No file descriptor is closed twice.  A second close() of a number the
# gateway already closed closes whatever another thread opened under that
# number in between: another worker's fresh connection, a pod socket, a
# Kubernetes watch.  Under load that shows as connections dropped at
# random ("Connection from ... on  port 0", "epoll: Bad file
# descriptor", curl's "select/poll returned error"; see
# test_fault_apiserver.sh).  Here it is made visible without load: the
# gateway runs under strace, serves one of each kind of connection (a
# self-service login, a wrong key, a bare TCP probe, a jump, a refused
# jump, a direct session), and no close() may fail with EBADF, which is
# what the second close of a number nobody reused returns.
. "$(dirname "$0")/lib.sh"
# This test runs the gateway under strace; LeakSanitizer cannot work under
# ptrace, so a sanitizer build checks leaks in every other test instead.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

if ! command -v strace >/dev/null 2>&1; then
	fail "strace is installed (Debian package strace)"
	jg_done
fi
ME=$(id -un)
jg_keygen alice
jg_keygen mallory
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
  user_key_dir: $T/user-keys"
GW_LOG="$T/gateway.log"
strace -f -qq -e trace=close,accept4,socket,dup -o "$T/strace.out" \
    "$JUMPGATE" -D -e -f "$T/jumpgate.yaml" 2>>"$GW_LOG" &
STRACE_PID=$!
JG_PIDS+=("$STRACE_PID")
jg_wait_log "$GW_LOG" "ready, [0-9]+ workers" 400 || { fail "the gateway starts under strace"; jg_done; }
GW_PID=$(ps -o pid= --ppid "$STRACE_PID" | tr -d ' ')
jg_ssh_config "$T/ssh_alice" "$T/alice"
jg_ssh_config "$T/ssh_mallory" "$T/mallory"
S=(-F "$T/ssh_alice" -p "$GW_PORT")

out=$(timeout 60 ssh "${S[@]}" alice@127.0.0.1 help 2>"$T/e1")
check "a self-service login" grep -q "jumpgate commands" <<<"$out"
timeout 60 ssh -F "$T/ssh_mallory" -p "$GW_PORT" alice@127.0.0.1 help >/dev/null 2>"$T/e2"
check "a wrong key is refused" grep -q "Permission denied" "$T/e2"
python3 "$JG_TOOLS/tcpprobe.py" 127.0.0.1 "$GW_PORT" --timeout 1 >/dev/null
out=$(timeout 60 ssh -F "$T/ssh_alice" -J "alice@127.0.0.1:$GW_PORT" "$ME@myjob" 'echo jumped' 2>"$T/e3")
check "a jump" [ "$out" = jumped ]
out=$(timeout 60 ssh -F "$T/ssh_alice" -J "alice@127.0.0.1:$GW_PORT" "$ME@nosuchjob" true 2>"$T/e4")
check "a refused jump" grep -q "not found for alice" "$T/e4"
out=$(timeout 60 ssh "${S[@]}" "alice+myjob@127.0.0.1" 'echo direct' 2>"$T/e5")
check "a direct session" [ "$out" = direct ]
check "gateway log: five sessions ended" jg_wait_count "$GW_LOG" "session-end |Connection closed by|closed before authentication" 5 400
kill -TERM "$GW_PID"
jg_wait_gone "$STRACE_PID" 400
wait "$STRACE_PID"
GW_PID=

n=$(grep -cE '^[0-9]+ +close\([0-9]+\) += -1 EBADF' "$T/strace.out")
echo "# close() calls: $(grep -cE '^[0-9]+ +close\(' "$T/strace.out"), failing with EBADF: $n"
check "no fd is closed twice (close() = EBADF: $n)" [ "$n" -eq 0 ]
if [ "$n" -gt 0 ]; then
	# Each double close with the call before it on that fd.
	awk '/ close\([0-9]+\) += -1 EBADF/ {
		match($0, /close\([0-9]+\)/); fd = substr($0, RSTART + 6, RLENGTH - 7)
		print "#   " prev[fd]; print "#   " $0; shown++
		if (shown >= 6) exit
	}
	{ if (match($0, /close\([0-9]+\)/)) { fd = substr($0, RSTART + 6, RLENGTH - 7); prev[fd] = $0 }
	  else if (match($0, /= [0-9]+$/)) { fd = substr($0, RSTART + 2); prev[fd] = $0 } }' "$T/strace.out"
fi
jg_done
