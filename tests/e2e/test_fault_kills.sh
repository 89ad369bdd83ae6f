#!/usr/bin/env bash
# Processes killed in the middle of a 64 MiB transfer.  In jump mode
# (ssh -J) and direct mode (ssh alice+job@gw), a download and an upload
# each have either the client (the ssh processes, SIGKILL) or the pod
# (every sshd process serving the session, SIGKILL) killed once 8 MiB
# have arrived: eight cases.  After each, the other side must notice, the
# session's audit line must be written, and the gateway's open fds must be
# back at the baseline exactly.  At the end its RSS must be back within a
# small tolerance of the baseline, which is taken after one complete
# transfer of each kind (so the allocator's arenas are already grown).
# The gateway runs with fixed glibc malloc trim and mmap thresholds
# (GLIBC_TUNABLES), so that freed memory goes back to the kernel and RSS
# measures what is still allocated: with the dynamic defaults, a direct
# session's thread arena keeps its peak (about 7 MB after a killed
# transfer, "in use" a few KiB per malloc_stats) and RSS would show the
# allocator's cache, not a leak.
# Transfers are paced on the sending side (1 MiB, then 30 ms) so that the
# kill lands mid-transfer on a fast machine too; the kill itself waits for
# the receiving side's byte count, not for time.
. "$(dirname "$0")/lib.sh"
. "$JG_TOOLS/ops_lib.sh"

ME=$(id -un)
MIB=64
KILL_AT=$((8 * 1048576))
RSS_TOLERANCE_KB=${JG_RSS_TOLERANCE_KB:-1024}
jg_keygen alice
jg_direct_user alice
# The gateway's own key for alice (direct mode) is listed by the pod too.
cat "$T/alice.pub" "$T/user-keys/alice.pub" >"$T/pod_authorized_keys"
POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_authorized_keys" ||
    { fail "the pod's sshd starts"; jg_done; }
{
	echo "items:"
	jg_pod_yaml p1 alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
} >"$T/routes.yaml"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "upstream:
  user: $ME
  auth: [key]
  user_key_dir: $T/user-keys"
GLIBC_TUNABLES=glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=131072 \
    jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
ops_wait_probe
jg_ssh_config "$T/ssh_alice" "$T/alice"

# The pod sends 64 MiB paced; the client sends the same, paced, from here.
PACED_DOWN="for i in \$(seq $MIB); do head -c 1048576 /dev/zero || exit; sleep 0.03; done"
paced_up() {
	local i
	for i in $(seq "$MIB"); do
		head -c 1048576 /dev/zero || return
		sleep 0.03
	done
}
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }

# dest MODE: the ssh arguments that reach myjob in that mode.
dest() {
	if [ "$1" = jump ]; then
		echo "-J alice@127.0.0.1:$GW_PORT $ME@myjob"
	else
		echo "-p $GW_PORT alice+myjob@127.0.0.1"
	fi
}

# transfer NAME MODE DIR: starts one transfer in the background; sets
# CPID (a subshell; timeout and ssh are below it), PROGRESS (the file that
# grows at the receiving end) and RCFILE (ssh's exit status, when it ends).
# The subshell reaps ssh itself, so that a SIGKILLed ssh is not reported
# on the test's console.
transfer() {
	local name=$1 mode=$2 dir=$3
	RCFILE="$T/$name.rc"
	rm -f "$RCFILE"
	# shellcheck disable=SC2046
	if [ "$dir" = down ]; then
		PROGRESS="$T/$name.down"
		( timeout 90 ssh -F "$T/ssh_alice" $(dest "$mode") "$PACED_DOWN" \
		    </dev/null >"$PROGRESS" 2>"$T/$name.err"
		  echo $? >"$RCFILE" ) 2>/dev/null &
	else
		PROGRESS="$T/$name.up"
		( timeout 90 ssh -F "$T/ssh_alice" $(dest "$mode") "cat >$PROGRESS" \
		    < <(paced_up) >/dev/null 2>"$T/$name.err"
		  echo $? >"$RCFILE" ) 2>/dev/null &
	fi
	CPID=$!
	JG_PIDS+=("$CPID")
}
rc_of() { cat "$RCFILE" 2>/dev/null || echo none; }

wait_size() {	# wait_size FILE BYTES: bounded, 50 ms steps
	local tries=400
	while [ "$(size_of "$1")" -lt "$2" ] && [ "$tries" -gt 0 ]; do
		tries=$((tries - 1))
		sleep 0.05
	done
	[ "$(size_of "$1")" -ge "$2" ]
}

# ---- Warm-up: one complete transfer of each kind, then the baseline ----
for mode in jump direct; do
	for dir in down up; do
		ends=$(jg_count "$GW_LOG" "session-end ")
		transfer "warm-$mode-$dir" "$mode" "$dir"
		jg_wait_gone "$CPID" 1200
		wait "$CPID"
		rc=$(rc_of)
		check "warm-up: a complete $MIB MiB $dir transfer in $mode mode (exit $rc, $(size_of "$PROGRESS") bytes)" \
			eval '[ "$rc" = 0 ] && [ "$(size_of "$PROGRESS")" -eq $((MIB * 1048576)) ]'
		jg_wait_count "$GW_LOG" "session-end " $((ends + 1)) >/dev/null
		rm -f "$PROGRESS"
	done
done
# Two sessions' worth of fds settle after the audit line; give them time.
FD0=$(ops_fds "$GW_PID")
FD0=$(ops_wait_fds "$GW_PID" "$((FD0 < 10 ? FD0 : 10))" 40)
RSS0=$(ops_rss_kb "$GW_PID")
echo "# baseline after warm-up: $FD0 fds, RSS $RSS0 KiB"

# ---- The eight kills (JG_KILL_ROUNDS times; more to look for a leak) ----
for round in $(seq "${JG_KILL_ROUNDS:-1}"); do
for mode in jump direct; do
	for victim in client pod; do
		for dir in down up; do
			name="$mode-$victim-$dir"
			ends=$(jg_count "$GW_LOG" "session-end ")
			transfer "$name" "$mode" "$dir"
			if ! wait_size "$PROGRESS" "$KILL_AT"; then
				fail "$name: the transfer reaches 8 MiB"
				jg_show "$T/$name.err"
				kill -KILL $(jg_descendants "$CPID") 2>/dev/null
				wait "$CPID"
				continue
			fi
			if [ "$victim" = client ]; then
				victims=$(jg_descendants "$CPID")
			else
				victims=$(jg_descendants "$POD_PID")
			fi
			at=$(size_of "$PROGRESS")
			start=$(jg_now_ms)
			# shellcheck disable=SC2086
			kill -KILL $victims 2>/dev/null
			jg_wait_gone "$CPID" 300
			wait "$CPID"
			rc=$(rc_of)
			gone_ms=$(( $(jg_now_ms) - start ))
			final=$(size_of "$PROGRESS")
			check "$name: killed mid-transfer ($at bytes at the kill, $final in the end, of $((MIB * 1048576)))" \
				[ "$final" -lt $((MIB * 1048576)) ]
			[ "$victim" = pod ] &&
			check "$name: the client ends within 15 s, with an error (exit $rc after $gone_ms ms)" \
				eval '[ "$rc" != 0 ] && [ "$rc" != none ] && [ "$gone_ms" -lt 15000 ]'
			check "$name: the session's audit line is written" \
				jg_wait_count "$GW_LOG" "session-end " $((ends + 1)) 300
			line=$(grep "session-end " "$GW_LOG" | tail -n 1)
			echo "# $name: ${line#*session-end }"
			check "$name: the audit line is alice's $mode session to the job" \
				grep -qE "user=alice job=jpt-alice-251121-aaaaa .*mode=$mode " <<<"$line"
			fds=$(ops_wait_fds "$GW_PID" "$FD0" 300)
			check "$name: the gateway's fds are back at the baseline ($fds, baseline $FD0)" \
				[ "$fds" -eq "$FD0" ]
			[ "$fds" -eq "$FD0" ] || ls -l "/proc/$GW_PID/fd" | sed 's/^/#   /'
			rm -f "$PROGRESS"
		done
	done
done
echo "# RSS after round $round: $(ops_rss_kb "$GW_PID") KiB"
done

RSS1=$(ops_rss_kb "$GW_PID")
echo "# RSS: baseline $RSS0 KiB, after the eight kills $RSS1 KiB (tolerance $RSS_TOLERANCE_KB KiB)"
if [ -n "${JG_SANITIZED:-}" ]; then
	# ASan keeps freed memory in quarantine and caches its own chunks, so
	# RSS here is the sanitizer's; LeakSanitizer checks leaks when the
	# gateway exits, and the ordinary build runs this check.
	echo "# SKIP RSS check under ASan (LeakSanitizer checks leaks at exit)"
else
	check "the gateway's RSS is back within $RSS_TOLERANCE_KB KiB of the baseline ($RSS0 -> $RSS1 KiB)" \
	    [ "$RSS1" -le $((RSS0 + RSS_TOLERANCE_KB)) ]
fi
out=$(timeout 30 ssh -F "$T/ssh_alice" -J "alice@127.0.0.1:$GW_PORT" "$ME@myjob" 'echo alive' 2>"$T/after.err")
check "a jump after the kills works" [ "$out" = alive ]
out=$(timeout 30 ssh -F "$T/ssh_alice" -p "$GW_PORT" "alice+myjob@127.0.0.1" 'echo alive' 2>"$T/after.err")
check "a direct session after the kills works" [ "$out" = alive ]
jg_check_log_clean
jg_done
