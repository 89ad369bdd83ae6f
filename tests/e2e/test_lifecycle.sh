#!/usr/bin/env bash
# Running it in production: SIGHUP reloads the whole configuration while
# sessions carry on (a bad one is refused and the old stays), SIGTERM
# drains, a restart hands the port over without refusing connections,
# systemd hears READY/RELOADING/STOPPING/WATCHDOG, and socket activation
# works.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
jg_keygen alice
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/alice.pub" "$T/pod_authorized_keys"
POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_authorized_keys"
{
	echo "items:"
	jg_pod_yaml a alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
} >"$T/routes.yaml"
jg_ssh_config "$T/ssh_alice" "$T/alice"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
GW="alice@127.0.0.1:$GW_PORT"
write_cfg() {	# $1: extra YAML
	jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "$1"
}
write_cfg "limits:
  max_startups: \"200\"
  drain_timeout_s: 20"
python3 "$JG_SOURCE_DIR/tests/e2e/tools/notify_listen.py" "$T/notify.sock" "$T/notify.log" &
JG_PIDS+=("$!")
jg_wait_log "$T/notify.log" "" 1 2>/dev/null || true
for i in $(seq 100); do [ -S "$T/notify.sock" ] && break; sleep 0.02; done
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=400000 jg_start_gateway "$T/jumpgate.yaml" ||
	{ fail "gateway starts"; jg_done; }
A_PID=$GW_PID
check "systemd hears READY=1" jg_wait_log "$T/notify.log" "^READY=1"
check "the watchdog is fed" jg_wait_log "$T/notify.log" "^WATCHDOG=1"

run_job() { ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" "$@"; }
hups() { grep -c "Received SIGHUP; configuration reloaded" "$GW_LOG"; }

# 20 sessions move data while the gateway is reloaded 10 times.
head -c 8M /dev/urandom >"$T/blob"
want=$(sha256sum <"$T/blob" | cut -d' ' -f1)
pids=()
for i in $(seq 20); do
	timeout 120 ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" \
	    'sleep 1; sha256sum' <"$T/blob" >"$T/sum.$i" 2>"$T/sum.$i.err" &
	pids+=("$!")
done
for i in $(seq 10); do
	before=$(hups)
	kill -HUP "$A_PID"
	for t in $(seq 200); do [ "$(hups)" -gt "$before" ] && break; sleep 0.05; done
done
ok=0
for i in $(seq 20); do
	wait "${pids[$((i - 1))]}" && [ "$(cut -d' ' -f1 "$T/sum.$i")" = "$want" ] && ok=$((ok + 1))
done
check "10 reloads happened" [ "$(hups)" -eq 10 ]
check "20 sessions moving data through 10 reloads: none dropped (ok=$ok)" [ "$ok" -eq 20 ]
check "systemd hears RELOADING=1 with MONOTONIC_USEC" grep -q "^RELOADING=1|MONOTONIC_USEC=[0-9]" "$T/notify.log"

# A reload puts new limits, routes and log level in force.
{
	echo "items:"
	jg_pod_yaml a alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
	jg_pod_yaml b alice jpt-alice-251121-bbbbb newjob 127.0.0.2 "$POD_PORT"
} >"$T/routes2.yaml"
jg_write_config "$T/jumpgate.yaml" "$T/routes2.yaml" "$GW_PORT" "limits:
  max_sessions_per_user: 1
  drain_timeout_s: 20"
before=$(hups); kill -HUP "$A_PID"
check "the new configuration is reloaded" \
	eval 'for t in $(seq 200); do [ "$(hups)" -gt "$before" ] && break; sleep 0.05; done; [ "$(hups)" -gt "$before" ]'
out=$(run_job 'echo new-routes' 2>"$T/err")
check "a job from the new routes file routes" [ "$out" = new-routes ]
# Every earlier session of alice must have given its slot back before the
# holder takes the only one, and the holder's own jump (not one of the
# earlier ones) must be logged before the second login tries.
jg_wait_count "$GW_LOG" "Disconnected from user alice " \
	"$(jg_count "$GW_LOG" "Accepted publickey for alice ")"
jumps=$(jg_count "$GW_LOG" "jump for alice .* to myjob port 22: job")
ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" 'sleep 5' >/dev/null 2>&1 &
holder=$!
JG_PIDS+=("$holder")
jg_wait_count "$GW_LOG" "jump for alice .* to myjob port 22: job" $((jumps + 1))
run_job true 2>"$T/err"
check "the new per-user limit is in force" grep -q "jumpgate: too many sessions for alice (limit 1)" "$T/err"
jg_stop "$holder"

# A broken configuration is refused whole; the old stays in force.
cp "$T/jumpgate.yaml" "$T/good.yaml"
printf 'limitz:\n  max_sessions: 3\n' >>"$T/jumpgate.yaml"
kill -HUP "$A_PID"
check "a broken config's error is logged with file:line:column" \
	jg_wait_log "$GW_LOG" "jumpgate.yaml:[0-9]+:[0-9]+: unknown key 'limitz' \\(did you mean 'limits'\\?\\)"
check "the log says the old configuration stays" \
	jg_wait_log "$GW_LOG" "has errors: keeping the configuration in force"
out=$(run_job 'echo still-works' 2>"$T/err")
check "logins still work after a refused reload" [ "$out" = still-works ]
write_cfg "limits:
  max_startups: \"200\"
  drain_timeout_s: 20"
before=$(hups); kill -HUP "$A_PID"
for t in $(seq 200); do [ "$(hups)" -gt "$before" ] && break; sleep 0.05; done

# Hand-over: a second gateway shares the port (SO_REUSEPORT); the first
# drains on SIGTERM; sequential logins meanwhile all succeed.
B_LOG="$T/gateway-b.log"
"$JUMPGATE" -D -e -f "$T/jumpgate.yaml" 2>"$B_LOG" &
B_PID=$!
JG_PIDS+=("$B_PID")
jg_wait_log "$B_LOG" "ready, [0-9]+ workers"
ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" 'sleep 3; echo drained-session-finished' >"$T/drain.out" 2>&1 &
long=$!
for t in $(seq 100); do
	[ "$(grep -c 'to myjob port 22: job' "$GW_LOG")" -ge 3 ] && break; sleep 0.05
done
kill -TERM "$A_PID"
fails=0
for i in $(seq 15); do
	out=$(run_job "echo handover-$i" 2>>"$T/handover.err")
	[ "$out" = "handover-$i" ] || fails=$((fails + 1))
done
check "15 logins during the hand-over: none refused (failures: $fails)" [ "$fails" -eq 0 ]
wait "$long"
check "a session open at SIGTERM finishes its work" grep -q drained-session-finished "$T/drain.out"
wait "$A_PID"
status=$?
check "the draining gateway exits 0" [ $status -eq 0 ]
check "systemd hears STOPPING=1" grep -q "^STOPPING=1" "$T/notify.log"
check "the drain is logged" grep -q "draining: no new connections" "$GW_LOG"
check "the second gateway served logins" grep -q "Accepted publickey for alice" "$B_LOG"

# Drain deadline: a session still open is closed with a message.
write_cfg "limits:
  drain_timeout_s: 1"
jg_stop "$B_PID"
jumps_before=$(grep -c 'to myjob port 22: job' "$GW_LOG")
jg_start_gateway "$T/jumpgate.yaml"
C_PID=$GW_PID
ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" 'sleep 30' >/dev/null 2>"$T/cut.err" &
cut=$!
# The session is open once the gateway has connected its jump and the
# pod has logged the login.
for t in $(seq 400); do
	[ "$(grep -c 'to myjob port 22: job' "$GW_LOG")" -gt "$jumps_before" ] &&
	    [ "$(grep -c 'Accepted publickey' "$T/pod-job1/log")" -ge 1 ] && break
	sleep 0.05
done
pod_logins=$(grep -c 'Accepted publickey' "$T/pod-job1/log")
for t in $(seq 400); do
	[ "$(grep -c 'session opened\|Starting session' "$T/pod-job1/log")" -ge "$pod_logins" ] && break
	sleep 0.05
done
start=$(jg_now_ms)
kill -TERM "$C_PID"
wait "$cut"
elapsed=$(( $(jg_now_ms) - start ))
check "past the drain deadline the user is told why" \
	grep -q "jumpgate: the gateway is shutting down" "$T/cut.err"
echo "# session cut ${elapsed} ms after SIGTERM (drain_timeout_s 1)"
check "the cut comes after the deadline, not at once" [ "$elapsed" -ge 900 ]
wait "$C_PID"

# Socket activation: the listening socket comes from the parent.
SA_PORT=$(jg_free_port 127.0.0.1 20000 29999)
python3 "$JG_SOURCE_DIR/tests/e2e/tools/socket_activate.py" 127.0.0.1 "$SA_PORT" \
	"$JUMPGATE" -D -e -f "$T/jumpgate.yaml" 2>"$T/sa.log" &
SA_PID=$!
JG_PIDS+=("$SA_PID")
check "socket activation: systemd's socket is used" \
	jg_wait_log "$T/sa.log" "using 1 listening sockets from systemd"
out=$(ssh -F "$T/ssh_alice" -J "alice@127.0.0.1:$SA_PORT" "$ME@myjob" 'echo activated' 2>"$T/err")
check "socket activation: logins work on the inherited socket" [ "$out" = activated ]
jg_stop "$SA_PID"
jg_done
