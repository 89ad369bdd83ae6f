#!/usr/bin/env bash
# Reloading the static route file with SIGHUP while the gateway runs: a
# job added to the file becomes reachable, a job removed stops being
# reachable, and a file that is not valid YAML is reported with
# file:line:column while the routes in force keep working.  Each new file
# is written beside the old one and renamed into place, as an editor or
# a config manager would, so the gateway never reads half a file.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
jg_keygen alice
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/alice.pub" "$T/pod_authorized_keys"

POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_authorized_keys" ||
    { fail "the pod's sshd starts"; jg_done; }
POD3_PORT=$(jg_free_port 127.0.0.3)
jg_start_pod job3 127.0.0.3 "$POD3_PORT" "$T/pod_authorized_keys" ||
    { fail "the pod's sshd starts"; jg_done; }

# routes JOBS...: writes the route file with the named jobs, atomically.
routes() {
	local j
	{
		echo "apiVersion: v1"
		echo "kind: List"
		echo "items:"
		for j in "$@"; do
			case $j in
			myjob) jg_pod_yaml p1 alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT" ;;
			newjob) jg_pod_yaml p2 alice jpt-alice-251121-nnnnn newjob 127.0.0.3 "$POD3_PORT" ;;
			esac
		done
	} >"$T/routes.yaml.new"
	mv "$T/routes.yaml.new" "$T/routes.yaml"
}
# hup N: sends SIGHUP and waits for the N-th reload outcome in the log.
hup() {
	kill -HUP "$GW_PID"
	jg_wait_count "$GW_LOG" "Received SIGHUP; route" "$1"
}
jump() {
	timeout 30 ssh -F "$T/ssh_alice" -J "$GW" "$ME@$1" 'set -- $SSH_CONNECTION; echo "$3"' 2>"$T/err"
}

routes myjob
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
jg_ssh_config "$T/ssh_alice" "$T/alice"
GW="alice@127.0.0.1:$GW_PORT"

check "gateway log: 1 pod loaded at start" grep -q "routes: 1 pods loaded" "$GW_LOG"
out=$(jump myjob)
check "myjob works before any reload" [ "$out" = 127.0.0.2 ]
out=$(jump newjob)
check "newjob is not in the file: refused, not found" \
	jg_refused "$out" "$T/err" "jumpgate: job 'newjob' not found for alice; your jobs: jpt-alice-251121-aaaaa"

# A session opened now stays open across every reload below; it reads
# one line that is written only at the end.
mkfifo "$T/live.in"
before=$(jg_count "$GW_LOG" "jump for alice from 127.0.0.1 port [0-9]+ to myjob port 22:")
timeout 120 ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" 'read line; echo "survived-$line"' \
    <"$T/live.in" >"$T/live.out" 2>"$T/live.err" &
live_pid=$!
JG_PIDS+=("$live_pid")
exec 7>"$T/live.in"
check "a long session to myjob is open" \
	jg_wait_count "$GW_LOG" "jump for alice from 127.0.0.1 port [0-9]+ to myjob port 22:" $((before + 1))

routes myjob newjob
check "SIGHUP after adding newjob: the log says the routes were reloaded" hup 1
check "gateway log: Received SIGHUP; routes reloaded: 2 pods" \
	grep -q "Received SIGHUP; routes reloaded: 2 pods" "$GW_LOG"
out=$(jump newjob)
check "newjob works after the reload" [ "$out" = 127.0.0.3 ]
[ "$out" = 127.0.0.3 ] || jg_show "$T/err"
out=$(jump myjob)
check "myjob still works after the reload" [ "$out" = 127.0.0.2 ]

# Not YAML: a mapping value where none may be, on line 7 of the file.
cp "$T/routes.yaml" "$T/routes.good"
{
	echo "apiVersion: v1"
	echo "kind: List"
	echo "items:"
	echo "  - apiVersion: v1"
	echo "    kind: Pod"
	echo "    metadata:"
	echo "      name: broken: here"
} >"$T/routes.yaml.new"
mv "$T/routes.yaml.new" "$T/routes.yaml"
check "SIGHUP with a broken file: the reload outcome is logged" hup 2
check "gateway log: the YAML error names file:line:column" \
	grep -qE "error: $T/routes.yaml:7:[0-9]+: " "$GW_LOG"
grep -qE "error: $T/routes.yaml:7:" "$GW_LOG" || grep -E "error:" "$GW_LOG" | tail -n 3 | sed 's/^/#   /'
check "gateway log: route reload failed, keeping the routes in force" \
	grep -q "error: Received SIGHUP; route reload failed, keeping the routes in force" "$GW_LOG"
out=$(jump myjob)
check "after the failed reload, myjob still works" [ "$out" = 127.0.0.2 ]
out=$(jump newjob)
check "after the failed reload, newjob (from the last good file) still works" [ "$out" = 127.0.0.3 ]

# Removing a job takes effect too.
routes myjob
check "SIGHUP after removing newjob: reloaded" hup 3
check "gateway log: Received SIGHUP; routes reloaded: 1 pods" \
	grep -q "Received SIGHUP; routes reloaded: 1 pods" "$GW_LOG"
out=$(jump newjob)
check "newjob is refused again once removed from the file" \
	jg_refused "$out" "$T/err" "jumpgate: job 'newjob' not found for alice"
out=$(jump myjob)
check "myjob still works" [ "$out" = 127.0.0.2 ]

echo reloads >&7
exec 7>&-
wait "$live_pid"
live_status=$?
check "the session opened before the reloads is still alive and works" \
	[ "$live_status:$(cat "$T/live.out")" = 0:survived-reloads ]
[ "$live_status" -eq 0 ] || jg_show "$T/live.err"
check "the gateway is still the same process" kill -0 "$GW_PID"
jg_check_log_clean "error: ($T/routes.yaml:|Received SIGHUP; route reload failed)"
jg_done
