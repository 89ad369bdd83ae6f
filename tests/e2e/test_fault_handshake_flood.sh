#!/usr/bin/env bash
# A handshake flood must not lock a legitimate user out.  500 raw TCP
# connections from 127.0.0.50 that never finish key exchange (every other
# one sends its identification line, the rest send nothing) are held open
# while alice logs in from 127.0.0.1: `ssh -J alice@gw me@job true`, five
# times, must work.  Their times are printed next to an unloaded baseline
# measured the same way (a target of 1 s median, not asserted: timings
# are the benchmarks' business).  On this project's 2-core machine the
# baseline is 0.5 to 0.8 s, most of it the two ssh processes and the
# pod's sshd.  max_startups is set above the flood, so the
# half-open connections cost the user only what the event loop spends on
# them.  Once the flood is gone the gateway's fds return to the baseline.
#
# The same flood against the default max_startups (10:30:100) is measured
# too and printed, not asserted: MaxStartups is global, as in sshd, so 100
# pending connections from one source drop everyone else.  See the '#'
# lines for the numbers.
. "$(dirname "$0")/lib.sh"
. "$JG_TOOLS/ops_lib.sh"

FLOOD=${JG_FLOOD_COUNT:-500}
FLOOD_SRC=127.0.0.50
ME=$(id -un)
ops_raise_nofile >/dev/null
jg_keygen alice
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/alice.pub" "$T/pod_authorized_keys"
POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_authorized_keys" ||
    { fail "the pod's sshd starts"; jg_done; }
{
	echo "items:"
	jg_pod_yaml p1 alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
} >"$T/routes.yaml"
jg_ssh_config "$T/ssh_alice" "$T/alice"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
GW="alice@127.0.0.1:$GW_PORT"

# login_grace_time_s 90: the flood is held through every measurement.
write_cfg() {	# $1: max_startups
	jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "limits:
  login_grace_time_s: 90${1:+
  max_startups: \"$1\"}"
}

# login_ms TAG: one timed login; prints its ms, or "fail".
login_ms() {
	local t0 out
	t0=$(jg_now_ms)
	out=$(timeout 20 ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" 'echo in' 2>"$T/login-$1.err")
	if [ "$out" = in ]; then
		echo $(( $(jg_now_ms) - t0 ))
	else
		echo fail
	fi
}

# logins TAG [N]: N (5) logins, one a line.
logins() {
	local i
	for i in $(seq "${2:-5}"); do login_ms "$1-$i"; done
}

# flood_start TAG: starts the flood; waits until it has settled.
flood_start() {
	rm -f "$T/flood-$1.ready"
	python3 "$JG_TOOLS/tcpflood.py" 127.0.0.1 "$GW_PORT" --count "$FLOOD" \
	    --bind "$FLOOD_SRC" --banner-every 2 --ready "$T/flood-$1.ready" \
	    --ready-timeout 40 --hold 150 >"$T/flood-$1.out" 2>&1 &
	FLOOD_PID=$!
	JG_PIDS+=("$FLOOD_PID")
	jg_wait_log "$T/flood-$1.ready" "^connected=" 1000
}
flood_kv() {	# flood_kv TAG KEY
	sed -n "s/.*$2=\\([0-9]*\\).*/\\1/p" "$T/flood-$1.ready"
}

# ---- max_startups above the flood ----
write_cfg "1000:30:1000"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
ops_wait_probe
FD0=$(ops_fds "$GW_PID")
login_ms warmup >/dev/null
base=$(logins base)
base_med=$(grep -v fail <<<"$base" | jg_median)
check "unloaded: five logins work ($(echo $base))" [ "$(grep -c fail <<<"$base")" -eq 0 ]

check "the flood of $FLOOD is set up" flood_start high
echo "# flood (max_startups 1000:30:1000): $(cat "$T/flood-high.ready")"
check "all $FLOOD flood connections are held by the gateway (each got its identification)" \
	[ "$(flood_kv high banner)" = "$FLOOD" ]
check "gateway: $FLOOD connections pending, fds $(ops_fds "$GW_PID") (baseline $FD0)" \
	[ "$(ops_fds "$GW_PID")" -ge $((FD0 + FLOOD)) ]
loaded=$(logins flood)
loaded_med=$(grep -v fail <<<"$loaded" | jg_median)
echo "# login (ssh -J ... true): unloaded $(echo $base) ms, median $base_med;" \
    "under $FLOOD half-open $(echo $loaded) ms, median $loaded_med"
check "under the flood: five logins work ($(echo $loaded))" \
	[ "$(grep -c fail <<<"$loaded")" -eq 0 ]
grep -q fail <<<"$loaded" && jg_show "$T/login-flood-1.err"
check "the flood is still held after the logins" \
	[ "$(grep -c "Timeout before authentication for $FLOOD_SRC" "$GW_LOG")" -eq 0 ]
jg_stop "$FLOOD_PID"
check "gateway log: the $FLOOD flood connections closed [preauth]" \
	jg_wait_count "$GW_LOG" "Connection closed by $FLOOD_SRC port [0-9]+ \[preauth\]" "$FLOOD" 400
fds=$(ops_wait_fds "$GW_PID" "$FD0" 200)
check "the gateway's fds return to the baseline ($fds, baseline $FD0)" [ "$fds" -eq "$FD0" ]
after=$(login_ms after)
check "a login after the flood works ($after ms)" [ "$after" != fail ]
jg_check_log_clean
jg_stop "$GW_PID"

# ---- the default max_startups (10:30:100): measured, not asserted ----
mv "$GW_LOG" "$T/gateway-high.log"
write_cfg ""
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts (default max_startups)"; jg_done; }
ops_wait_probe
check "the flood of $FLOOD is set up against the default max_startups" flood_start def
loaded=$(logins def 3)
drops=$(jg_count "$GW_LOG" "past MaxStartups")
echo "# flood (default max_startups 10:30:100): $(cat "$T/flood-def.ready"); gateway logged $drops drops"
echo "# login under the flood with the default 10:30:100: $(echo $loaded) (ms or fail)"
if grep -q fail <<<"$loaded"; then
	echo "# design issue: MaxStartups is global (as in sshd), so $FLOOD half-open" \
	    "connections from one address ($FLOOD_SRC) hold every startup slot and" \
	    "the legitimate user's connections are dropped at accept; a per-source" \
	    "cap on pending connections (sshd's PerSourceMaxStartups) would keep the" \
	    "user in. Raise max_startups above the expected flood, as above."
	jg_show "$T/login-def-1.err"
fi
jg_stop "$FLOOD_PID"
check "the default gateway survives the flood and takes logins again" \
	eval '[ "$(login_ms def-after)" != fail ]'
jg_check_log_clean
jg_done
