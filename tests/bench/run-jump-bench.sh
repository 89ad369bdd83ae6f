#!/usr/bin/env bash
# run-jump-bench.sh: jump-mode benchmark, run by hand (not by CTest).  In one
# run it compares jumpgate as jump host, OpenSSH sshd as jump host and a
# direct connection to the pod (an OpenSSH sshd on 127.0.0.2), and prints a
# markdown table, also saved to tests/bench/results-jump.md.  Everything is
# on loopback, every load loop is bounded in count and time, and every
# process started is stopped by PID.  Needs root (sshd privilege
# separation, ulimit -n).  See README.md for the knobs.
set -u
set -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
: "${JUMPGATE:=$SRC/build-bench/jumpgate}"
export JUMPGATE
# jg_load and jg_sink: from the build (tests/bench) or compiled here.
: "${JG_BENCH_BIN:=$(dirname "$JUMPGATE")/tests/bench}"
# A scratch directory of our own: other test runs on this machine may
# sweep /tmp/jg-e2e.* while we run.
export TMPDIR=${BENCH_TMPDIR:-/tmp/jg-bench}
mkdir -p "$TMPDIR"
. "$SRC/tests/e2e/lib.sh"

# 768 MiB stays below the 1 GiB after which OpenSSH rekeys
# chacha20-poly1305, which jumpgate does not survive yet (see the rekey row).
BENCH_MIB=${BENCH_MIB:-768}		# per throughput transfer
BENCH_LAT_RUNS=${BENCH_LAT_RUNS:-20}
BENCH_HS_THREADS=${BENCH_HS_THREADS:-16}
BENCH_HS_JG=${BENCH_HS_JG:-4000}	# handshakes, jumpgate
BENCH_HS_SSHD=${BENCH_HS_SSHD:-800}	# handshakes, sshd (slower)
BENCH_HS_CAP_S=${BENCH_HS_CAP_S:-20}
BENCH_IDLE=${BENCH_IDLE:-1000}
BENCH_IDLE_BIG=${BENCH_IDLE_BIG:-10000}
BENCH_HOLD_THREADS=${BENCH_HOLD_THREADS:-16}
# Far end of the 1,000 idle channels: "sink" (jg_sink) or "pod" (the
# pod's sshd, which cannot accept at jumpgate's fill rate on 2 shared
# cores: connects time out in its listen queue).
BENCH_IDLE_TARGET=${BENCH_IDLE_TARGET:-sink}
BENCH_OUT=${BENCH_OUT:-$HERE/results-jump.md}
BENCH_PHASES=${BENCH_PHASES:-lat tput hs idle big}
BENCH_MAX_S=${BENCH_MAX_S:-600}		# no new phase starts after this
TMO=180				# seconds, any single ssh transfer
PROCSTAT="python3 $HERE/jg_procstat.py"
BENCH_START=$(date +%s)
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

[ "$(id -u)" -eq 0 ] || { echo "run as root (sshd, ulimit -n)" >&2; exit 1; }
# 10,000 jump sessions need 20,000 fds in the gateway (client + pod side).
# Without CAP_SYS_RESOURCE only the hard limit is reachable: say so.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
FD_LIMIT=$(ulimit -n)
[ -x "$JUMPGATE" ] || { echo "no jumpgate binary at $JUMPGATE" >&2; exit 1; }

# Stops what we started, and the per-connection children our sshds forked
# (found by ppid, stopped by PID), then lib.sh's cleanup.
bench_cleanup() {
	local pid kid
	for pid in "${JG_PIDS[@]}"; do
		for kid in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
			kill "$kid" 2>/dev/null
		done
	done
	jg_cleanup
}
trap bench_cleanup EXIT

log() { printf '# [%3ds] %s\n' $(($(date +%s) - BENCH_START)) "$*" >&2; }

LOAD=$JG_BENCH_BIN/jg_load
SINK=$JG_BENCH_BIN/jg_sink
if [ ! -x "$LOAD" ] || [ ! -x "$SINK" ]; then
	log "compiling jg_load and jg_sink into $T"
	for t in jg_load jg_sink; do
		cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
		    -o "$T/$t" "$HERE/$t.c" $(pkg-config --cflags --libs libssh) \
		    -pthread || exit 1
	done
	LOAD=$T/jg_load
	SINK=$T/jg_sink
fi

ME=$(id -un)
jg_keygen alice
mkdir -p "$T/users" /run/sshd
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/alice.pub" "$T/authorized_keys"
POD_PORT=$(jg_free_port 127.0.0.2)
SINK_PORT=$(jg_free_port 127.0.0.2)
SJ_PORT=$(jg_free_port 127.0.0.1 20000 29999)

# The sink stands in for a pod where the pod's sshd would cost more than
# what is measured (handshakes) or cannot follow (10,000 sessions).
"$SINK" 127.0.0.2 "$SINK_PORT" "$T/sink.status" 1200 &
SINK_PID=$!
JG_PIDS+=("$SINK_PID")
jg_wait_port 127.0.0.2 "$SINK_PORT" || exit 1

sshd_common() {
	cat <<CFG
PidFile none
AuthorizedKeysFile $T/authorized_keys
StrictModes no
UsePAM no
UseDNS no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
X11Forwarding no
AllowAgentForwarding no
MaxSessions 100
CFG
}

# The pod: holds the 1,000 idle jump channels as unauthenticated
# connections, so no login grace and a high MaxStartups.
ssh-keygen -q -t ed25519 -N '' -f "$T/pod_host_key" </dev/null
{
	echo "ListenAddress 127.0.0.2:$POD_PORT"
	echo "HostKey $T/pod_host_key"
	sshd_common
	echo "LoginGraceTime 0"
	echo "MaxStartups 20000:30:20000"
	echo "LogLevel INFO"
} >"$T/pod_sshd_config"
/usr/sbin/sshd -D -e -f "$T/pod_sshd_config" 2>"$T/pod.log" &
POD_PID=$!
JG_PIDS+=("$POD_PID")

# OpenSSH as jump host: forwarding to the pod (and its stand-in) only.
ssh-keygen -q -t ed25519 -N '' -f "$T/sj_host_key" </dev/null
{
	echo "ListenAddress 127.0.0.1:$SJ_PORT"
	echo "HostKey $T/sj_host_key"
	sshd_common
	echo "AllowTcpForwarding yes"
	echo "PermitOpen 127.0.0.2:$POD_PORT 127.0.0.2:$SINK_PORT"
	echo "MaxStartups 1000:30:2000"
	echo "LoginGraceTime 30"
	echo "LogLevel INFO"
} >"$T/sj_sshd_config"
/usr/sbin/sshd -D -e -f "$T/sj_sshd_config" 2>"$T/sj.log" &
SJ_PID=$!
JG_PIDS+=("$SJ_PID")
jg_wait_port 127.0.0.2 "$POD_PORT" || exit 1
jg_wait_port 127.0.0.1 "$SJ_PORT" || exit 1

{
	echo "apiVersion: v1"
	echo "kind: List"
	echo "items:"
	jg_pod_yaml p1 alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
	jg_pod_yaml p2 alice jpt-alice-251121-bbbbb sinkjob 127.0.0.2 "$SINK_PORT"
} >"$T/routes.yaml"

# bench_start_gw: a fresh jumpgate (each memory phase starts clean, so
# freed heap from earlier phases does not hide per-session memory).
GW_N=0
GW_PID=
bench_start_gw() {
	[ -n "$GW_PID" ] && jg_stop "$GW_PID"
	GW_N=$((GW_N + 1))
	GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
	cat >"$T/jumpgate.yaml" <<CFG
listen:
  - address: 127.0.0.1
    port: $GW_PORT
host_keys:
  paths: [$T/gw_host_ed25519_key]
  generate: true
users:
  key_sources:
    - type: authorized_keys
      path: "$T/users/%u.keys"
routes:
  source: static
  static_file: $T/routes.yaml
limits:
  max_startups: "1000:30:2000"
  max_sessions: 20000
  max_sessions_per_user: 20000
logging:
  level: info
CFG
	"$JUMPGATE" -D -e -f "$T/jumpgate.yaml" 2>"$T/gw-$GW_N.log" &
	GW_PID=$!
	JG_PIDS+=("$GW_PID")
	jg_wait_port 127.0.0.1 "$GW_PORT" || exit 1
	JG_JUMP="alice@127.0.0.1:$GW_PORT"
}
bench_start_gw

# One ssh_config per cipher: ProxyJump passes -F on to the jump hop's ssh,
# so both hops use the same cipher.
for c in default aes128-gcm@openssh.com chacha20-poly1305@openssh.com rekey; do
	jg_ssh_config "$T/ssh_$c" "$T/alice"
	{
		echo "  UpdateHostKeys no"
		echo "  ControlMaster no"
		echo "  ControlPath none"
		case $c in
		default) ;;
		rekey) echo "  Ciphers aes128-gcm@openssh.com"
		    echo "  RekeyLimit 8M" ;;
		*) echo "  Ciphers $c" ;;
		esac
	} >>"$T/ssh_$c"
done
SJ_JUMP="$ME@127.0.0.1:$SJ_PORT"

# ssh_to PATH CONFIG COMMAND...: PATH is jg, sj or direct.
ssh_to() {
	local path=$1 cfg=$2
	shift 2
	case $path in
	jg) timeout "$TMO" ssh -F "$cfg" -J "$JG_JUMP" "$ME@myjob" "$@" ;;
	sj) timeout "$TMO" ssh -F "$cfg" -J "$SJ_JUMP" -p "$POD_PORT" \
	    "$ME@127.0.0.2" "$@" ;;
	direct) timeout "$TMO" ssh -F "$cfg" -p "$POD_PORT" "$ME@127.0.0.2" \
	    "$@" ;;
	esac
}

# Gateway PID per path; "direct" has none.
gw_pid() {
	case $1 in jg) echo "$GW_PID" ;; sj) echo "$SJ_PID" ;; *) echo "" ;; esac
}

# CPU seconds of a gateway tree; for sshd, waits (bounded) for the session
# children to exit and be reaped into the listener's cutime first.
gw_cpu() {
	local pid
	pid=$(gw_pid "$1")
	[ -n "$pid" ] || { echo 0; return; }
	[ "$1" = sj ] && $PROCSTAT wait "$pid" 10 1
	$PROCSTAT tree "$pid" | sed 's/.*cpu_s=//'
}

field() {	# field NAME "k=v k=v ...": the value of NAME
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1
}
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan";
	else if (NR % 2) print v[(NR + 1) / 2];
	else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

declare -A R	# results, keyed "metric/path"

# Sanity: each path works before anything is measured.
for p in jg sj direct; do
	out=$(ssh_to "$p" "$T/ssh_default" 'echo ok' </dev/null 2>"$T/err-$p")
	[ "$out" = ok ] || { echo "path $p does not work:" >&2;
	    cat "$T/err-$p" >&2; exit 1; }
done

# --- 5. latency of `ssh -J ... true`, interleaved so drift hits all three.
phase_lat() {
	log "latency: $BENCH_LAT_RUNS x ssh true per path"
	for i in $(seq 1 "$BENCH_LAT_RUNS"); do
		for p in jg sj direct; do
			t0=$(now_ms)
			if ssh_to "$p" "$T/ssh_default" true </dev/null 2>/dev/null; then
				echo $(($(now_ms) - t0)) >>"$T/lat-$p"
			else
				R[latfail/$p]=$((${R[latfail/$p]:-0} + 1))
			fi
		done
	done
	# The outer hop alone (ssh -W with stdin at EOF: kex, auth, channel
	# open, pod connect, close): what a jump adds to the direct path.
	for i in $(seq 1 "$BENCH_LAT_RUNS"); do
		for p in jg sj; do
			t0=$(now_ms)
			if outer_hop "$p" </dev/null >/dev/null 2>&1; then
				echo $(($(now_ms) - t0)) >>"$T/lat-outer-$p"
			fi
		done
	done
	for p in jg sj direct outer-jg outer-sj; do
		R[lat/$p]=$(median "$T/lat-$p")
	done
}
outer_hop() {
	if [ "$1" = jg ]; then
		timeout "$TMO" ssh -F "$T/ssh_default" -p "$GW_PORT" \
		    alice@127.0.0.1 -W myjob:22
	else
		timeout "$TMO" ssh -F "$T/ssh_default" -p "$SJ_PORT" \
		    "$ME@127.0.0.1" -W "127.0.0.2:$POD_PORT"
	fi
}

# BENCH_PERF=1: profile jumpgate during its transfers (perf record -g);
# the reports stay in the scratch directory (set JG_KEEP=1).
PERF_PID=
perf_start() {
	[ "${BENCH_PERF:-0}" = 1 ] && [ "$1" = jg ] || return 0
	perf record -q -F 499 -g -p "$GW_PID" -o "$T/perf-$2.data" \
	    >/dev/null 2>&1 &
	PERF_PID=$!
	JG_PIDS+=("$PERF_PID")
}
perf_stop() {
	[ -n "$PERF_PID" ] || return 0
	kill -INT "$PERF_PID" 2>/dev/null
	wait "$PERF_PID" 2>/dev/null
	PERF_PID=
}

# --- 3, 4. throughput and gateway CPU per GiB.  Transfer time is dd's
# own clock on the pod: it starts once the session is up, so connection
# set-up (measured above) is not in the rate.
phase_tput() {
	# Key re-exchange in mid-transfer: OpenSSH rekeys chacha20-poly1305
	# after 1 GiB by default; RekeyLimit 8M makes it happen 8 times in
	# 64 MiB, both ways.
	local ok
	for p in jg sj direct; do
		log "rekey check $p: 64 MiB each way with RekeyLimit 8M"
		ok=0
		ssh_to "$p" "$T/ssh_rekey" 'dd if=/dev/zero bs=1M count=64' \
		    </dev/null 2>"$T/rekey-$p-down.err" | wc -c \
		    >"$T/rekey-$p-down.count"
		[ "$(cat "$T/rekey-$p-down.count")" = 67108864 ] &&
		    ok=$((ok + 1))
		head -c 67108864 /dev/zero | ssh_to "$p" "$T/ssh_rekey" \
		    'wc -c' 2>"$T/rekey-$p-up.err" >"$T/rekey-$p-up.count"
		[ "$(tr -d ' ' <"$T/rekey-$p-up.count")" = 67108864 ] &&
		    ok=$((ok + 1))
		R[rekey/$p]=$ok
		echo "rekey $p: down $(cat "$T/rekey-$p-down.count") up" \
		    "$(tr -d ' ' <"$T/rekey-$p-up.count") bytes of 67108864;" \
		    "$(tail -c 120 "$T/rekey-$p-down.err" | tr '\n' ' ')" \
		    >>"$T/tput.txt"
	done
	BYTES=$((BENCH_MIB * 1048576))
	for c in aes128-gcm@openssh.com chacha20-poly1305@openssh.com; do
		cs=${c%%@*}
		for d in up down; do
			for p in jg sj direct; do
				log "throughput $cs $d $p ($BENCH_MIB MiB)"
				f=$T/tput-$cs-$d-$p
				cpu0=$(gw_cpu "$p")
				perf_start "$p" "$cs-$d"
				t0=$(now_ms)
				if [ "$d" = up ]; then
					head -c "$BYTES" /dev/zero | ssh_to "$p" \
					    "$T/ssh_$c" 'dd of=/dev/null bs=1M' \
					    2>"$f.err" >/dev/null
				else
					ssh_to "$p" "$T/ssh_$c" "dd if=/dev/zero \
					    bs=1M count=$BENCH_MIB" </dev/null \
					    2>"$f.err" | wc -c >"$f.count"
				fi
				wall=$(($(now_ms) - t0))
				perf_stop
				cpu1=$(gw_cpu "$p")
				got=$(sed -n 's/^\([0-9]*\) bytes.*copied.*/\1/p' \
				    "$f.err")
				secs=$(sed -n 's/.* copied, \([0-9.e-]*\) s.*/\1/p' \
				    "$f.err")
				if [ "$d" = down ]; then
					got=$(cat "$f.count")
				fi
				echo "$cs $d $p: bytes=$got dd_s=$secs wall_ms=$wall" \
				    "cpu0=$cpu0 cpu1=$cpu1" >>"$T/tput.txt"
				if [ "$got" != "$BYTES" ] || [ -z "$secs" ]; then
					R[tput/$cs/$d/$p]="failed"
					log "$cs $d $p failed: $(tail -c 300 \
					    "$f.err" | tr '\n' ' ')"
					continue
				fi
				R[tput/$cs/$d/$p]=$(calc %.0f "$BENCH_MIB / $secs")
				[ "$p" = direct ] && continue
				R[cpu/$cs/$d/$p]=$(calc %.2f \
				    "($cpu1 - $cpu0) / ($BENCH_MIB / 1024)")
			done
		done
	done
}

# --- 1. handshakes: key exchange, ed25519 auth, direct-tcpip open to the
# job's port 22 (the sink stands in for the pod), close.
hs_run() {	# hs_run PATH COUNT: sets R[hs/PATH], R[hscpu/PATH]
	local p=$1 n=$2 out cpu0 cpu1 ok
	log "handshakes $p: $n with $BENCH_HS_THREADS clients, cap ${BENCH_HS_CAP_S}s"
	if [ "$p" = jg ]; then
		set -- -a 127.0.0.1 -p "$GW_PORT" -l alice -d sinkjob -P 22
	else
		set -- -a 127.0.0.1 -p "$SJ_PORT" -l "$ME" -d 127.0.0.2 \
		    -P "$SINK_PORT"
	fi
	"$LOAD" "$@" -i "$T/alice" -m handshake -n 8 -c 2 >/dev/null	# warm
	cpu0=$(gw_cpu "$p")
	perf_start "$p" handshake
	out=$("$LOAD" "$@" -i "$T/alice" -m handshake -n "$n" \
	    -c "$BENCH_HS_THREADS" -s "$BENCH_HS_CAP_S")
	perf_stop
	cpu1=$(gw_cpu "$p")
	echo "handshake $p: $out cpu0=$cpu0 cpu1=$cpu1" >>"$T/hs.txt"
	ok=$(field ok "$out")
	R[hs/$p]=$(field rate "$out")
	R[hsfail/$p]=$(field fail "$out")
	R[hsp50/$p]=$(field p50_ms "$out")
	R[hscpu/$p]=$(calc %.2f "($cpu1 - $cpu0) * 1000 / ($ok > 0 ? $ok : 1)")
}
phase_hs() {
	hs_run jg "$BENCH_HS_JG"
	hs_run sj "$BENCH_HS_SSHD"
}

# --- 2. memory per idle session.  hold_run PATH N KEY DEST DEST_PORT:
# holds N sessions, waits until the far end has them, measures the
# gateway tree, lets go.
# hold_run P N KEY DEST DPORT [-N]: holds N idle sessions on jump host P,
# each with an idle channel to DEST (or none, with -N, as ssh -N).
hold_run() {
	local p=$1 n=$2 key=$3 dest=$4 dport=$5 nochan=${6:-}
	local before after lpid out held pid
	pid=$(gw_pid "$p")
	if [ "$p" = jg ]; then
		set -- -a 127.0.0.1 -p "$GW_PORT" -l alice -d "$dest" -P 22
		"$LOAD" "$@" -i "$T/alice" -m handshake -n 8 -c 2 >/dev/null
	else
		set -- -a 127.0.0.1 -p "$SJ_PORT" -l "$ME" -d "$dest" \
		    -P "$dport"
	fi
	before=$($PROCSTAT tree "$pid")
	log "hold $p: $n idle sessions (to $dest)"
	"$LOAD" "$@" -i "$T/alice" -m hold -n "$n" -c "$BENCH_HOLD_THREADS" \
	    -s 240 -H 600 $nochan >"$T/hold-$key.out" 2>&1 &
	lpid=$!
	JG_PIDS+=("$lpid")
	jg_wait_log "$T/hold-$key.out" '^mode=hold' 5000 || true
	out=$(head -1 "$T/hold-$key.out")
	held=$(field ok "$out")
	# The far end must see every channel before we measure.
	[ -z "$nochan" ] && far_end_wait "$dport" "${held:-0}"
	R[farend/$key]=$(far_end_count "$dport")
	after=$($PROCSTAT tree "$pid")
	if [ "$p" = jg ]; then	# idle CPU with everything held, 5 s
		local c0 c1
		c0=$(field cpu_s "$after")
		sleep 5
		c1=$(field cpu_s "$($PROCSTAT tree "$pid")")
		R[idlecpu/$key]=$(calc %.1f "($c1 - $c0) * 100 / 5")
	fi
	echo "hold $key: $out" >>"$T/hold.txt"
	echo "  before: $before" >>"$T/hold.txt"
	echo "  after:  $after (far end sees ${R[farend/$key]})" >>"$T/hold.txt"
	R[held/$key]=${held:-0}
	R[holdfail/$key]=$(field fail "$out")
	R[holdrate/$key]=$(field rate "$out")
	R[procs/$key]=$(field procs "$after")
	if [ "${held:-0}" -gt 0 ]; then
		R[pss/$key]=$(calc %.1f "($(field pss_kib "$after") - \
		    $(field pss_kib "$before")) / $held")
		R[rss/$key]=$(calc %.1f "($(field rss_kib "$after") - \
		    $(field rss_kib "$before")) / $held")
		R[pssall/$key]=$(calc %.0f "$(field pss_kib "$after") / 1024")
	fi
	log "hold $p: releasing"
	local t0
	t0=$(now_ms)
	jg_stop "$lpid"
	# With no channels, the gateway's own connections are the far end.
	far_end_wait "$([ -n "$nochan" ] && echo "$GW_PORT" || echo "$dport")" 0
	R[release/$key]=$(($(now_ms) - t0))
	[ "$p" = sj ] && $PROCSTAT wait "$SJ_PID" 30 1
}
# Connections the far end (pod sshd or sink) holds.
far_end_count() {
	if [ "$1" = "$SINK_PORT" ]; then
		sed -n 's/^open=\([0-9]*\).*/\1/p' "$T/sink.status"
	else
		ss -Htn state established "( sport = :$1 )" | wc -l
	fi
}
far_end_wait() {	# far_end_wait PORT N: bounded, 60 s
	local tries=600
	while [ "$tries" -gt 0 ]; do
		[ "$(far_end_count "$1")" = "$2" ] && return 0
		tries=$((tries - 1))
		sleep 0.1
	done
	log "far end port $1 holds $(far_end_count "$1"), wanted $2"
	return 1
}

phase_idle() {
	bench_start_gw
	if [ "$BENCH_IDLE_TARGET" = pod ]; then
		hold_run jg "$BENCH_IDLE" idle-jg myjob "$POD_PORT"
		hold_run sj "$BENCH_IDLE" idle-sj 127.0.0.2 "$POD_PORT"
	else
		hold_run jg "$BENCH_IDLE" idle-jg sinkjob "$SINK_PORT"
		hold_run sj "$BENCH_IDLE" idle-sj 127.0.0.2 "$SINK_PORT"
	fi
}
phase_big() {
	bench_start_gw
	hold_run jg "$BENCH_IDLE_BIG" big-jg sinkjob "$SINK_PORT"
	# One fd a session: the fd limit no longer stands in the way.
	bench_start_gw
	hold_run jg "$BENCH_IDLE_BIG" bigsess-jg sinkjob "$SINK_PORT" -N
}

for ph in $BENCH_PHASES; do
	# Each phase is bounded; past the budget the rest are skipped.
	if [ $(($(date +%s) - BENCH_START)) -gt "$BENCH_MAX_S" ]; then
		log "over ${BENCH_MAX_S}s: skipping phase $ph"
		continue
	fi
	case $ph in
	lat|tput|hs|idle|big) "phase_$ph" ;;
	*) echo "unknown phase $ph (lat tput hs idle big)" >&2; exit 2 ;;
	esac
done
log "done; writing $BENCH_OUT"

# --- the table.  v KEY: a result or "n/a" for a phase not run.
v() { printf '%s' "${R[$1]:-n/a}"; }
num() { case $1 in ''|n/a|nan|failed) return 1 ;; esac; }
yesno() { awk "BEGIN { print ($1) ? \"yes\" : \"no\" }"; }
met_ratio() {	# met_ratio A B MIN: "yes (3.10x)"
	local r
	if num "$1" && num "$2"; then
		r=$(calc %.2f "$1 / $2")
		echo "$(yesno "$r >= $3") (${r}x)"
	else
		echo n/a
	fi
}
cap_of() {	# cap_of MS_PER_HANDSHAKE: handshakes/s on all cores
	if num "$1" && [ "$1" != 0.00 ]; then
		calc %.0f "$(nproc) * 1000 / $1"
	else
		echo n/a
	fi
}
met_max() {	# met_max A MAX
	if num "$1"; then yesno "$1 <= $2"; else echo n/a; fi
}
table() {
	local c d dn diff met held far
	echo "| metric | jumpgate | OpenSSH sshd jump | direct | target | met? |"
	echo "|---|---|---|---|---|---|"
	echo "| handshakes/s: kex + ed25519 auth + direct-tcpip open/close" \
	    "($BENCH_HS_THREADS clients) | $(v hs/jg) (fail $(v hsfail/jg))" \
	    "| $(v hs/sj) (fail $(v hsfail/sj)) | – | jumpgate >= 10x sshd |" \
	    "$(met_ratio "$(v hs/jg)" "$(v hs/sj)" 10) |"
	echo "| gateway CPU per handshake (ms); handshakes/s that" \
	    "makes on $(nproc) dedicated cores | $(v hscpu/jg);" \
	    "$(cap_of "$(v hscpu/jg)") | $(v hscpu/sj);" \
	    "$(cap_of "$(v hscpu/sj)") | – | jumpgate >= 10x sshd |" \
	    "$(met_ratio "$(v hscpu/sj)" "$(v hscpu/jg)" 10) |"
	echo "| memory per idle session, $BENCH_IDLE held: PSS (KiB) |" \
	    "$(v pss/idle-jg) | $(v pss/idle-sj) | – | <= 32 KiB |" \
	    "$(met_max "$(v pss/idle-jg)" 32) |"
	echo "| memory per idle session, $BENCH_IDLE held: RSS (KiB) |" \
	    "$(v rss/idle-jg) | $(v rss/idle-sj) | – | – | – |"
	held=$(v held/big-jg)
	far=$(v farend/big-jg)
	met=n/a
	num "$held" && num "$far" &&
	    met=$(yesno "$held == $BENCH_IDLE_BIG && $far == $BENCH_IDLE_BIG")
	echo "| $BENCH_IDLE_BIG idle sessions on jumpgate (channels to" \
	    "jg_sink) | $held authenticated, $far channels reaching the" \
	    "sink; PSS $(v pss/big-jg) KiB (RSS $(v rss/big-jg) KiB) each;" \
	    "idle CPU $(v idlecpu/big-jg)% of a core; fd limit $FD_LIMIT" \
	    "| – | – | all $BENCH_IDLE_BIG held | $met |"
	held=$(v held/bigsess-jg)
	met=n/a
	num "$held" && met=$(yesno "$held == $BENCH_IDLE_BIG")
	echo "| $BENCH_IDLE_BIG idle sessions on jumpgate, authenticated," \
	    "no channel (as \`ssh -N\`) | $held held; PSS" \
	    "$(v pss/bigsess-jg) KiB (RSS $(v rss/bigsess-jg) KiB) each;" \
	    "idle CPU $(v idlecpu/bigsess-jg)% of a core | – | – |" \
	    "all $BENCH_IDLE_BIG held | $met |"
	for c in aes128-gcm chacha20-poly1305; do
		for d in up down; do
			dn=upload
			[ "$d" = down ] && dn=download
			echo "| jump throughput $c $dn (MiB/s) |" \
			    "$(v "tput/$c/$d/jg") | $(v "tput/$c/$d/sj") |" \
			    "$(v "tput/$c/$d/direct") | >= 1.2x sshd jump |" \
			    "$(met_ratio "$(v "tput/$c/$d/jg")" \
			    "$(v "tput/$c/$d/sj")" 1.2) |"
		done
	done
	for c in aes128-gcm chacha20-poly1305; do
		for d in up down; do
			dn=upload
			[ "$d" = down ] && dn=download
			echo "| gateway CPU per GiB relayed, $c $dn (s) |" \
			    "$(v "cpu/$c/$d/jg") | $(v "cpu/$c/$d/sj") | – |" \
			    "<= 1.0 s/GiB | $(met_max "$(v "cpu/$c/$d/jg")" 1.0) |"
		done
	done
	met=n/a
	num "$(v rekey/jg)" && met=$(yesno "$(v rekey/jg) == 2")
	echo "| transfers that survive key re-exchange (RekeyLimit 8M," \
	    "64 MiB down + up) | $(v rekey/jg)/2 | $(v rekey/sj)/2 |" \
	    "$(v rekey/direct)/2 | all (a rekey must not end a jump) |" \
	    "$met |"
	diff=n/a
	met=n/a
	if num "$(v lat/jg)" && num "$(v lat/direct)"; then
		diff=$(calc %+.0f "$(v lat/jg) - $(v lat/direct)")
		met="$(yesno "$diff <= 15") ($diff ms)"
	fi
	echo "| \`ssh -J ... true\`, median of $BENCH_LAT_RUNS (ms) |" \
	    "$(v lat/jg) | $(v lat/sj) | $(v lat/direct) | jumpgate within" \
	    "15 ms of direct | $met |"
	echo "| outer hop alone: \`ssh -W\` to the jump host, stdin at EOF," \
	    "median (ms) | $(v lat/outer-jg) | $(v lat/outer-sj) | – | – |" \
	    "– |"
}

idle_far_end() {
	if [ "$BENCH_IDLE_TARGET" = pod ]; then
		echo "The $BENCH_IDLE idle channels go to the pod's sshd," \
		    "which holds them unauthenticated (LoginGraceTime 0," \
		    "MaxStartups 20000)."
	else
		echo "The $BENCH_IDLE idle channels go to \`jg_sink\`, for" \
		    "both jump hosts: on 2 shared cores the pod's sshd" \
		    "(fork and re-exec per connection) cannot accept at" \
		    "jumpgate's fill rate, and connects time out in its" \
		    "listen queue (BENCH_IDLE_TARGET=pod uses it anyway)."
	fi
}

method() {
	echo "Method: one run of \`tests/bench/run-jump-bench.sh\`" \
	    "(phases: $BENCH_PHASES) on $(nproc) cores ($(uname -r)," \
	    "$(ssh -V 2>&1 | cut -d, -f1), libssh" \
	    "$(pkg-config --modversion libssh)), everything on loopback," \
	    "clients and servers sharing the same cores. The pod is an" \
	    "OpenSSH sshd on 127.0.0.2; the OpenSSH jump host is a second" \
	    "sshd on 127.0.0.1 with AllowTcpForwarding yes and PermitOpen" \
	    "limited to the pod and its stand-in; both jump hosts take the" \
	    "same ed25519 user key, and jumpgate runs with its default" \
	    "worker count (one per core). Handshakes: \`tests/bench/jg_load\`" \
	    "(libssh client, $BENCH_HS_THREADS threads, at most" \
	    "$BENCH_HS_JG / $BENCH_HS_SSHD connections and" \
	    "${BENCH_HS_CAP_S} s) does curve25519 kex, auth none + ed25519" \
	    "publickey, opens a direct-tcpip channel (jumpgate: the job's" \
	    "port 22, route lookup included) and closes; the channels go to" \
	    "\`jg_sink\`, a TCP sink standing in for the pod, so the pod's" \
	    "sshd costs nothing. Gateway CPU is utime+stime (+cutime+cstime)" \
	    "from /proc/PID/stat over the gateway's process tree, for sshd" \
	    "the listener and its reaped per-session children. Memory: PSS" \
	    "and RSS from /proc/PID/smaps_rollup summed over that tree," \
	    "before and after $BENCH_IDLE sessions are held (authenticated," \
	    "one idle jump channel each), divided by the count; each" \
	    "jumpgate memory phase starts a fresh gateway. $(idle_far_end)" \
	    "The $BENCH_IDLE_BIG-session run points the channels at" \
	    "\`jg_sink\` (the pod's sshd would need $BENCH_IDLE_BIG" \
	    "processes) and counts what the sink holds; jumpgate needs two" \
	    "fds per jump session, so the fd limit ($FD_LIMIT here, a hard" \
	    "limit this machine's root may not raise) caps it. A second" \
	    "fresh gateway then holds $BENCH_IDLE_BIG authenticated sessions" \
	    "with no channel (\`jg_load -N\`), one fd each. Throughput:" \
	    "$BENCH_MIB MiB through \`ssh -F cfg -J ...\` with the same" \
	    "cipher on both hops (ProxyJump passes -F on to the jump hop)," \
	    "upload \`head -c N /dev/zero | ssh ... 'dd of=/dev/null bs=1M'\`," \
	    "download \`ssh ... 'dd if=/dev/zero bs=1M count=N'\`; the rate" \
	    "is dd's own clock on the pod, so connection set-up is left" \
	    "out. Latency: median wall time of \`ssh ... true\`, the three" \
	    "paths interleaved. Nothing asserts; the targets are the issue's." \
	    "Load average before the run: $LOADAVG_START; after:" \
	    "$(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine" \
	    "moves every figure)."
}

{
	table
	echo
	method
	echo
	echo "<details><summary>raw figures</summary>"
	echo
	echo '```'
	cat "$T/hs.txt" "$T/hold.txt" "$T/tput.txt" 2>/dev/null
	for p in jg sj direct outer-jg outer-sj; do
		[ -f "$T/lat-$p" ] || continue
		echo "latency $p ms: $(sort -n "$T/lat-$p" | tr '\n' ' ')" \
		    "fail=${R[latfail/$p]:-0}"
	done
	echo "release of held sessions (ms): jg-$BENCH_IDLE" \
	    "$(v release/idle-jg) sj-$BENCH_IDLE $(v release/idle-sj)" \
	    "jg-$BENCH_IDLE_BIG $(v release/big-jg)" \
	    "jg-$BENCH_IDLE_BIG-nochannel $(v release/bigsess-jg)"
	echo "fill rate (sessions/s, $BENCH_HOLD_THREADS clients): jg" \
	    "$(v holdrate/idle-jg) sj $(v holdrate/idle-sj)" \
	    "jg-$BENCH_IDLE_BIG $(v holdrate/big-jg)" \
	    "jg-$BENCH_IDLE_BIG-nochannel $(v holdrate/bigsess-jg); sshd" \
	    "processes with" \
	    "$BENCH_IDLE held: $(v procs/idle-sj)"
	echo "run took $(($(date +%s) - BENCH_START)) s"
	echo '```'
	echo
	echo "</details>"
} >"$T/table.md"
cp "$T/table.md" "$BENCH_OUT"
cat "$T/table.md"
