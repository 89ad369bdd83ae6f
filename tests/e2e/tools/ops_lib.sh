# ops_lib.sh: helpers shared by the load, fault and operations tests
# (tests/e2e/test_load_*.sh, test_fault_*.sh, test_ops_*.sh).  Sourced
# after lib.sh; changes nothing lib.sh defines.  Everything reads /proc
# of a PID the test started itself.

# Prints the path of jg_stream (tests/e2e/tools/jg_stream.c): the one the
# build made ($JG_BUILD_DIR/tests/e2e/tools/jg_stream) when there is one,
# else one compiled now into the scratch directory.
jg_stream_bin() {
	local built="${JG_BUILD_DIR:-}/tests/e2e/tools/jg_stream"
	local src="$JG_TOOLS/jg_stream.c"
	if [ -n "${JG_BUILD_DIR:-}" ] && [ -x "$built" ] && [ "$built" -nt "$src" ]; then
		echo "$built"
		return 0
	fi
	if [ ! -x "$T/jg_stream" ]; then
		${CC:-cc} -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
		    -Wall -o "$T/jg_stream" "$src" -lssh -lcrypto -lpthread \
		    >"$T/jg_stream.build" 2>&1 || { cat "$T/jg_stream.build" >&2; return 1; }
	fi
	echo "$T/jg_stream"
}

# Open file descriptors of a process.
ops_fds() {
	ls "/proc/$1/fd" 2>/dev/null | wc -l
}

# Resident set size now / at its peak (VmHWM), in KiB.
ops_rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}
ops_hwm_kb() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# CPU seconds (user + system) a process has used so far.
ops_cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' \
	    "/proc/$1/stat" 2>/dev/null
}

# ops_wait_fds PID WANT [TRIES]: waits (bounded, 50 ms steps) until the
# process has exactly WANT fds open; prints the last count seen.
ops_wait_fds() {
	local pid=$1 want=$2 tries=${3:-200} n
	while :; do
		n=$(ops_fds "$pid")
		if [ "$n" -eq "$want" ] || [ "$tries" -le 0 ]; then
			echo "$n"
			return 0
		fi
		tries=$((tries - 1))
		sleep 0.05
	done
}

# TCP sockets of a process, listeners included (ss, matched by PID).
ops_sockets() {
	ss -Htanp 2>/dev/null | grep -c "pid=$1,"
}

# ops_raise_nofile: lifts the soft fd limit to the hard one (allowed
# without privileges).  Prints the limit now in force.
ops_raise_nofile() {
	ulimit -n "$(ulimit -Hn)" 2>/dev/null
	ulimit -n
}

# Waits (bounded) until the gateway has finished with jg_start_gateway's
# port probe.  Depending on timing it is logged as sshd's "Connection
# closed by ... [preauth]" or, when the probe left before the gateway's
# identification went out, only as "closed before authentication".
ops_wait_probe() {
	jg_wait_log "$GW_LOG" "Connection closed by 127.0.0.1 port [0-9]+ \[preauth\]|from 127.0.0.1 port [0-9]+ closed before authentication" >/dev/null
}

# Prints the path of jg_load (tests/bench/jg_load.c, the benchmark's load
# generator): the build's, else one compiled now into the scratch dir.
jg_load_bin() {
	local built="${JG_BUILD_DIR:-}/tests/bench/jg_load"
	local src="$JG_SOURCE_DIR/tests/bench/jg_load.c"
	if [ -n "${JG_BUILD_DIR:-}" ] && [ -x "$built" ]; then
		echo "$built"
		return 0
	fi
	if [ ! -x "$T/jg_load" ]; then
		${CC:-cc} -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
		    -o "$T/jg_load" "$src" -lssh -lpthread \
		    >"$T/jg_load.build" 2>&1 || { cat "$T/jg_load.build" >&2; return 1; }
	fi
	echo "$T/jg_load"
}
