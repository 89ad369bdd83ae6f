#!/usr/bin/env bash
# run-direct-bench.sh: direct-mode benchmark, run by hand (not by CTest).
# Compares jumpgate's direct mode (ssh alice+myjob@gw: the gateway decrypts
# and logs in to the pod itself) with jumpgate as jump host (ssh -J), an
# OpenSSH sshd as jump host, and a direct connection to the pod (an OpenSSH
# sshd on 127.0.0.2): throughput for aes128-gcm and chacha20-poly1305 each
# way, gateway CPU per GiB, the median time of `ssh ... true`, and the
# gateway's memory per idle direct session (BENCH_IDLE sessions held, each
# running `sleep` in the pod).  Prints a markdown table, also saved to
# tests/bench/results-direct.md.  Everything is on loopback; every process
# started is stopped by PID.  Needs root (sshd privilege separation).
#
# Knobs: BENCH_MIB (per transfer, 512), BENCH_LAT_RUNS (15), BENCH_IDLE
# (100), BENCH_PHASES ("lat tput idle"), BENCH_OUT, JUMPGATE.
set -u
set -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
: "${JUMPGATE:=$SRC/build-bench/jumpgate}"
export JUMPGATE
export TMPDIR=${BENCH_TMPDIR:-/tmp/jg-bench-direct}
mkdir -p "$TMPDIR"
. "$SRC/tests/e2e/lib.sh"

BENCH_MIB=${BENCH_MIB:-512}
BENCH_LAT_RUNS=${BENCH_LAT_RUNS:-15}
BENCH_IDLE=${BENCH_IDLE:-100}
BENCH_PHASES=${BENCH_PHASES:-lat tput idle}
BENCH_OUT=${BENCH_OUT:-$HERE/results-direct.md}
TMO=180
PROCSTAT="python3 $HERE/jg_procstat.py"
BENCH_START=$(date +%s)
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

[ "$(id -u)" -eq 0 ] || { echo "run as root (sshd)" >&2; exit 1; }
[ -x "$JUMPGATE" ] || { echo "no jumpgate binary at $JUMPGATE" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# The per-connection children our sshds forked are stopped too (found by
# ppid, stopped by PID), then lib.sh's cleanup.
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

ME=$(id -un)
jg_keygen alice
jg_direct_user alice
mkdir -p /run/sshd
cat "$T/alice.pub" "$T/user-keys/alice.pub" >"$T/authorized_keys"
POD_PORT=$(jg_free_port 127.0.0.2)
SJ_PORT=$(jg_free_port 127.0.0.1 20000 29999)
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)

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
MaxSessions 100
MaxStartups 500:30:1000
LogLevel ERROR
CFG
}
ssh-keygen -q -t ed25519 -N '' -f "$T/pod_host_key" </dev/null
{
	echo "ListenAddress 127.0.0.2:$POD_PORT"
	echo "HostKey $T/pod_host_key"
	sshd_common
} >"$T/pod_sshd_config"
/usr/sbin/sshd -D -e -f "$T/pod_sshd_config" 2>"$T/pod.log" &
JG_PIDS+=("$!")
ssh-keygen -q -t ed25519 -N '' -f "$T/sj_host_key" </dev/null
{
	echo "ListenAddress 127.0.0.1:$SJ_PORT"
	echo "HostKey $T/sj_host_key"
	sshd_common
	echo "AllowTcpForwarding yes"
	echo "PermitOpen 127.0.0.2:$POD_PORT"
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
} >"$T/routes.yaml"
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
upstream:
  user: $ME
  auth: [key]
  user_key_dir: $T/user-keys
limits:
  max_startups: "500:30:1000"
  max_sessions: 2000
  max_sessions_per_user: 2000
logging:
  level: info
CFG
"$JUMPGATE" -D -e -f "$T/jumpgate.yaml" 2>"$T/gw.log" &
GW_PID=$!
JG_PIDS+=("$GW_PID")
jg_wait_port 127.0.0.1 "$GW_PORT" || exit 1

for c in default aes128-gcm@openssh.com chacha20-poly1305@openssh.com; do
	jg_ssh_config "$T/ssh_$c" "$T/alice"
	{
		echo "  UpdateHostKeys no"
		echo "  ControlMaster no"
		echo "  ControlPath none"
		[ "$c" = default ] || echo "  Ciphers $c"
	} >>"$T/ssh_$c"
done

# ssh_to PATH CONFIG COMMAND...: PATH is dm (direct mode), jg (jumpgate
# as jump host), sj (sshd as jump host) or pod (straight to the pod).
ssh_to() {
	local path=$1 cfg=$2
	shift 2
	case $path in
	dm) timeout "$TMO" ssh -F "$cfg" -p "$GW_PORT" alice+myjob@127.0.0.1 "$@" ;;
	jg) timeout "$TMO" ssh -F "$cfg" -J "alice@127.0.0.1:$GW_PORT" \
	    "$ME@myjob" "$@" ;;
	sj) timeout "$TMO" ssh -F "$cfg" -J "$ME@127.0.0.1:$SJ_PORT" \
	    -p "$POD_PORT" "$ME@127.0.0.2" "$@" ;;
	pod) timeout "$TMO" ssh -F "$cfg" -p "$POD_PORT" "$ME@127.0.0.2" "$@" ;;
	esac
}
PATHS="dm jg sj pod"
gw_cpu() {
	local pid
	case $1 in dm|jg) pid=$GW_PID ;; sj) pid=$SJ_PID ;; *) echo 0; return ;; esac
	[ "$1" = sj ] && $PROCSTAT wait "$pid" 10 1
	$PROCSTAT tree "$pid" | sed 's/.*cpu_s=//'
}
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan";
	else if (NR % 2) print v[(NR + 1) / 2];
	else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
declare -A R

for p in $PATHS; do
	out=$(ssh_to "$p" "$T/ssh_default" 'echo ok' </dev/null 2>"$T/err-$p")
	[ "$out" = ok ] || { echo "path $p does not work:" >&2;
	    cat "$T/err-$p" >&2; exit 1; }
done

phase_lat() {
	log "latency: $BENCH_LAT_RUNS x ssh true per path"
	for i in $(seq 1 "$BENCH_LAT_RUNS"); do
		for p in $PATHS; do
			t0=$(now_ms)
			ssh_to "$p" "$T/ssh_default" true </dev/null 2>/dev/null &&
			    echo $(($(now_ms) - t0)) >>"$T/lat-$p"
		done
	done
	for p in $PATHS; do R[lat/$p]=$(median "$T/lat-$p"); done
}

# Transfer time is dd's own clock in the pod (or at the receiving end):
# it starts once the session is up.
phase_tput() {
	local bytes=$((BENCH_MIB * 1048576)) c cs d p cpu0 cpu1 got secs
	for c in aes128-gcm@openssh.com chacha20-poly1305@openssh.com; do
		cs=${c%%@*}
		for d in up down; do
			for p in $PATHS; do
				log "throughput $cs $d $p ($BENCH_MIB MiB)"
				cpu0=$(gw_cpu "$p")
				if [ "$d" = up ]; then
					head -c "$bytes" /dev/zero | ssh_to "$p" \
					    "$T/ssh_$c" 'dd of=/dev/null bs=1M' \
					    2>"$T/dd.err" >/dev/null
				else
					ssh_to "$p" "$T/ssh_$c" "dd if=/dev/zero \
					    bs=1M count=$BENCH_MIB" </dev/null \
					    2>"$T/dd.err" | dd of=/dev/null bs=1M \
					    2>"$T/dd.down"
				fi
				cpu1=$(gw_cpu "$p")
				[ "$d" = down ] && cp "$T/dd.down" "$T/dd.err"
				got=$(sed -n 's/^\([0-9]*\) bytes.*copied.*/\1/p' "$T/dd.err")
				secs=$(sed -n 's/.* copied, \([0-9.e-]*\) s.*/\1/p' "$T/dd.err")
				echo "$cs $d $p: bytes=$got s=$secs cpu0=$cpu0 cpu1=$cpu1" \
				    >>"$T/tput.txt"
				if [ "$got" != "$bytes" ] || [ -z "$secs" ]; then
					R[tput/$cs/$d/$p]=failed
					continue
				fi
				R[tput/$cs/$d/$p]=$(calc %.0f "$BENCH_MIB / $secs")
				[ "$p" = pod ] && continue
				R[cpu/$cs/$d/$p]=$(calc %.2f \
				    "($cpu1 - $cpu0) / ($BENCH_MIB / 1024)")
			done
		done
	done
}

# Memory: BENCH_IDLE direct sessions, each running sleep in the pod.
phase_idle() {
	local before after i pids=() n held
	before=$($PROCSTAT tree "$GW_PID")
	log "idle: holding $BENCH_IDLE direct sessions"
	for i in $(seq 1 "$BENCH_IDLE"); do
		ssh -F "$T/ssh_default" -p "$GW_PORT" alice+myjob@127.0.0.1 \
		    'echo up; exec sleep 600' </dev/null >"$T/idle-$i.out" \
		    2>/dev/null &
		pids+=("$!")
		JG_PIDS+=("$!")
		# A few at a time: the pod's sshd has MaxStartups too.
		[ $((i % 10)) -eq 0 ] && jg_wait_log "$T/idle-$i.out" '^up$' 400
	done
	held=0
	for i in $(seq 1 "$BENCH_IDLE"); do
		jg_wait_log "$T/idle-$i.out" '^up$' 400 >/dev/null &&
		    held=$((held + 1))
	done
	sleep 1		# let allocations settle
	after=$($PROCSTAT tree "$GW_PID")
	echo "idle: held=$held before: $before after: $after" >>"$T/idle.txt"
	n=$held
	[ "$n" -gt 0 ] || n=1
	R[idle/held]=$held
	R[idle/rss]=$(calc %.0f "($(field rss_kib "$after") - $(field rss_kib "$before")) / $n")
	R[idle/pss]=$(calc %.0f "($(field pss_kib "$after") - $(field pss_kib "$before")) / $n")
	R[idle/threads]=$(awk '/^Threads:/ {print $2}' "/proc/$GW_PID/status")
	for i in "${pids[@]}"; do kill "$i" 2>/dev/null; done
	for i in "${pids[@]}"; do wait "$i" 2>/dev/null; done
}

for ph in $BENCH_PHASES; do "phase_$ph"; done

v() { echo "${R[$1]:--}"; }
{
	echo "# Direct-mode benchmark"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load at start $LOADAVG_START;"
	echo "$BENCH_MIB MiB per transfer (dd's clock), loopback, OpenSSH $(ssh -V 2>&1 | cut -d' ' -f1)."
	echo "dm = jumpgate direct mode (ssh alice+myjob@gw), jg = jumpgate as jump host (ssh -J),"
	echo "sj = OpenSSH sshd as jump host, pod = straight to the pod's sshd."
	echo "In dm the cipher is the client's on the client hop; the gateway's hop to the pod"
	echo "uses libssh's default choice (chacha20-poly1305 with OpenSSH 9)."
	echo
	echo "| measure | dm | jg | sj | pod |"
	echo "|---|---|---|---|---|"
	for cs in aes128-gcm chacha20-poly1305; do
		for d in up down; do
			echo "| $cs $d MiB/s | $(v tput/$cs/$d/dm) | $(v tput/$cs/$d/jg) | $(v tput/$cs/$d/sj) | $(v tput/$cs/$d/pod) |"
		done
	done
	for cs in aes128-gcm chacha20-poly1305; do
		for d in up down; do
			echo "| gateway CPU s/GiB $cs $d | $(v cpu/$cs/$d/dm) | $(v cpu/$cs/$d/jg) | $(v cpu/$cs/$d/sj) | - |"
		done
	done
	echo "| \`ssh ... true\` median ms | $(v lat/dm) | $(v lat/jg) | $(v lat/sj) | $(v lat/pod) |"
	echo
	echo "Idle direct sessions held: $(v idle/held) (each runs sleep in the pod);"
	echo "gateway memory per session: RSS $(v idle/rss) KiB, PSS $(v idle/pss) KiB;"
	echo "gateway threads while held: $(v idle/threads)."
} | tee "$BENCH_OUT"
