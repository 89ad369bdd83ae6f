# lib.sh: shared helpers for jumpgate's end-to-end tests.  Sourced by each
# tests/e2e/test_*.sh.  Everything a test starts runs on loopback, is
# recorded by PID, and is stopped by PID when the test exits.
#
# Environment (set by CTest): JUMPGATE (the binary), JG_SOURCE_DIR.

set -u
set -o pipefail

: "${JUMPGATE:?JUMPGATE must point at the jumpgate binary}"
SSHD=${SSHD:-/usr/sbin/sshd}
T=$(mktemp -d "${TMPDIR:-/tmp}/jg-e2e.XXXXXX")
chmod 700 "$T"
JG_PIDS=()
JG_FAILS=0
JG_PASSES=0

jg_cleanup() {
	local pid
	for pid in "${JG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${JG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	if [ "${JG_KEEP:-0}" = 1 ]; then
		echo "kept scratch directory $T"
	else
		rm -rf "$T"
	fi
}
trap jg_cleanup EXIT

# Stops one process we started and forgets it.
jg_stop() {
	local pid=$1 p keep=()
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	for p in "${JG_PIDS[@]}"; do
		[ "$p" = "$pid" ] || keep+=("$p")
	done
	JG_PIDS=("${keep[@]}")
}

pass() { JG_PASSES=$((JG_PASSES + 1)); echo "ok - $*"; }
fail() { JG_FAILS=$((JG_FAILS + 1)); echo "FAIL - $*"; }

# check "description" command...: passes when the command succeeds.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

# Prints the summary line CI reads and exits with the right status.  The
# gateway is stopped first, so that a sanitizer build's reports (memory
# errors, leaks at exit) reach its log and fail the test.
jg_done() {
	if [ -n "${GW_PID:-}" ] && kill -0 "$GW_PID" 2>/dev/null; then
		jg_stop "$GW_PID"
	fi
	if [ -n "${GW_LOG:-}" ] && [ -f "$GW_LOG" ]; then
		if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$GW_LOG"; then
			fail "gateway log has a sanitizer report"
			grep -E -A30 "AddressSanitizer|LeakSanitizer|runtime error:" "$GW_LOG" | head -60
		fi
	fi
	echo "$JG_PASSES passed, $JG_FAILS failed"
	[ "$JG_FAILS" -eq 0 ]
	exit $?
}

# Waits (bounded) until a TCP port accepts connections.
jg_wait_port() {
	local addr=$1 port=$2 tries=${3:-200}
	while [ "$tries" -gt 0 ]; do
		if (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null; then
			return 0
		fi
		tries=$((tries - 1))
		sleep 0.05
	done
	echo "timed out waiting for $addr port $port" >&2
	return 1
}

# Waits (bounded) until a file contains a pattern (grep -E).
jg_wait_log() {
	local file=$1 pattern=$2 tries=${3:-200}
	while [ "$tries" -gt 0 ]; do
		if grep -qE -- "$pattern" "$file" 2>/dev/null; then
			return 0
		fi
		tries=$((tries - 1))
		sleep 0.05
	done
	echo "timed out waiting for /$pattern/ in $file" >&2
	return 1
}

# Picks a free TCP port on addr in [low, high].
jg_free_port() {
	python3 - "$1" "${2:-30000}" "${3:-32767}" <<'PY'
import random, socket, sys
addr, low, high = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(200):
    p = random.randint(low, high)
    s = socket.socket()
    try:
        s.bind((addr, p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    sys.exit(0)
sys.exit("no free port")
PY
}

jg_keygen() {
	ssh-keygen -q -t "${2:-ed25519}" -N '' -C "$1@test" -f "$T/$1" </dev/null
}

# jg_direct_user NAME: NAME (with $T/NAME.pub from jg_keygen) may log in
# to the gateway (users/NAME.keys), and the gateway's own upstream key for
# NAME is made ahead in user-keys/NAME, where upstream.user_key_dir finds
# it, so that a pod's authorized_keys can list user-keys/NAME.pub.
jg_direct_user() {
	mkdir -p "$T/users" "$T/user-keys"
	chmod 700 "$T/user-keys"
	cp "$T/$1.pub" "$T/users/$1.keys"
	ssh-keygen -q -t ed25519 -N '' -C "jumpgate-$1" -f "$T/user-keys/$1" </dev/null
}

# jg_start_pod NAME ADDR PORT AUTHORIZED_KEYS_FILE
# Starts a real OpenSSH sshd as the "pod" of a job.  Its login user is
# whoever runs the tests (root in CI).  Sets POD_PID.
jg_start_pod() {
	local name=$1 addr=$2 port=$3 ak=$4 dir="$T/pod-$1"
	mkdir -p "$dir"
	# Debian's sshd insists on its privilege separation directory.
	if [ "$(id -u)" -eq 0 ]; then mkdir -p /run/sshd; fi
	ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" </dev/null
	cat >"$dir/sshd_config" <<CFG
ListenAddress $addr:$port
HostKey $dir/host_key
PidFile none
AuthorizedKeysFile $ak
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
AllowTcpForwarding yes
LogLevel VERBOSE
# Tests open many sessions at once; sshd's default 10:30:100 would drop
# some of them at random before the gateway is even involved.
MaxStartups 200
MaxSessions 100
CFG
	"$SSHD" -D -e -f "$dir/sshd_config" 2>"$dir/log" &
	POD_PID=$!
	JG_PIDS+=("$POD_PID")
	jg_wait_port "$addr" "$port"
}

# jg_pod_yaml NAME USER JOB DISPLAY ADDR PORT [PHASE]: one Pod item for a
# static routes file, with the seed's nodeport annotation.
jg_pod_yaml() {
	local name=$1 user=$2 job=$3 display=$4 addr=$5 port=$6
	local phase=${7:-Running}
	cat <<YAML
  - apiVersion: v1
    kind: Pod
    metadata:
      name: $job-default0-0
      namespace: crater-workspace
      labels:
        crater.raids.io/task-user: $user
        volcano.sh/job-name: $job
        volcano.sh/task-spec: default0
        crater.raids.io/base-url: ${job#*-}
      annotations:
        crater.raids.io/task-name: "$display"
        nodeport.crater.raids.io/ssh: '{"name":"ssh","containerPort":22,"address":"$addr","nodePort":$port}'
    status:
      phase: $phase
      hostIP: $addr
YAML
}

# jg_config_front PORT: the listen, host key and user key sections of
# every test gateway's config.
jg_config_front() {
	cat <<CFG
listen:
  - address: 127.0.0.1
    port: $1
host_keys:
  paths: [$T/gw_host_ed25519_key]
  generate: true
users:
  key_sources:
    - type: authorized_keys
      path: "$T/users/%u.keys"
CFG
}

# jg_write_config FILE ROUTES_FILE PORT [extra yaml appended]
jg_write_config() {
	local file=$1 routes=$2 port=$3
	{
		jg_config_front "$port"
		cat <<CFG
routes:
  source: static
  static_file: $routes
logging:
  level: verbose
CFG
	} >"$file"
	if [ $# -gt 3 ]; then
		printf '%s\n' "$4" >>"$file"
	fi
}

# jg_write_kube_config FILE PORT CONTEXT NAMESPACE KUBE_LINES [EXTRA]: a
# gateway routed by the test API server, through $T/tls/kubeconfig and its
# CONTEXT.  KUBE_LINES (indented by four) go under routes.kubernetes, EXTRA
# (top-level yaml) at the end.
jg_write_kube_config() {
	local file=$1 port=$2 context=$3 ns=$4
	{
		jg_config_front "$port"
		cat <<CFG
routes:
  source: kubernetes
  kubernetes:
    kubeconfig: $T/tls/kubeconfig
    context: $context
    namespaces: [$ns]
$5
logging:
  level: verbose
CFG
		if [ $# -gt 5 ]; then
			printf '%s\n' "$6"
		fi
	} >"$file"
}

# jg_direct_gateway: the direct-mode set-up of the tests that need one
# user and one pod: alice (key $T/alice) logs in to a gateway that routes
# her job myjob to a pod sshd on 127.0.0.2 and logs in there as the user
# running the tests, with its own key for alice.  Sets ME, POD_PORT and
# GW_PORT (and what jg_start_pod and jg_start_gateway set); a part that
# does not start ends the test.
jg_direct_gateway() {
	ME=$(id -un)
	jg_keygen alice
	jg_direct_user alice
	cp "$T/user-keys/alice.pub" "$T/ak_gateway"
	POD_PORT=$(jg_free_port 127.0.0.2)
	jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/ak_gateway" ||
	    { fail "pod starts"; jg_done; }
	{
		echo "apiVersion: v1"
		echo "kind: List"
		echo "items:"
		jg_pod_yaml p1 alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
	} >"$T/routes.yaml"
	GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
	jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "upstream:
  user: $ME
  auth: [key]
  user_key_dir: $T/user-keys"
	jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
}

# jg_start_gateway CONFIG: starts jumpgate in the foreground.  Sets GW_PID
# and GW_LOG.
jg_start_gateway() {
	local cfg=$1 port
	GW_LOG="$T/gateway.log"
	"$JUMPGATE" -D -e -f "$cfg" 2>>"$GW_LOG" &
	GW_PID=$!
	JG_PIDS+=("$GW_PID")
	port=$(awk '/port:/ {print $2; exit}' "$cfg")
	jg_wait_port 127.0.0.1 "$port"
}

# An ssh_config every client in a test shares: loopback test hosts, fresh
# host keys every run, never prompt.
jg_ssh_config() {
	local file=$1 user_key=$2
	cat >"$file" <<CFG
Host *
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  BatchMode yes
  IdentitiesOnly yes
  IdentityFile $user_key
  LogLevel ERROR
  ConnectTimeout 10
CFG
}

# ---- Helpers for the jump-mode and front-door suites.  Added after the
# ---- functions above, none of which they change.

JG_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tools

jg_now_ms() {
	echo $(( $(date +%s%N) / 1000000 ))
}

# The median of the numbers on stdin, one a line.
jg_median() {
	sort -n | awk '{ v[NR] = $1 }
	    END { if (NR == 0) print "nan";
	          else if (NR % 2) print v[(NR + 1) / 2];
	          else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Prints up to 20 lines of a file as '#' comments: context for a failure.
jg_show() {
	[ -f "$1" ] || return 0
	head -n 20 -- "$1" | sed 's/^/#   /'
}

# Every descendant of a PID we started, found through the process tree
# (ps --ppid), never by name.
jg_descendants() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$c"
		jg_descendants "$c"
	done
}

# Waits (bounded) until a PID has exited.
jg_wait_gone() {
	local pid=$1 tries=${2:-200}
	while [ "$tries" -gt 0 ]; do
		kill -0 "$pid" 2>/dev/null || return 0
		tries=$((tries - 1))
		sleep 0.05
	done
	return 1
}

# Counts the lines of a file that match an ERE (0 when it is missing).
jg_count() {
	local n
	n=$(grep -cE -- "$2" "$1" 2>/dev/null)
	echo "${n:-0}"
}

# Waits (bounded) until a file has at least N lines matching an ERE.
jg_wait_count() {
	local file=$1 pattern=$2 want=$3 tries=${4:-200}
	while [ "$tries" -gt 0 ]; do
		[ "$(jg_count "$file" "$pattern")" -ge "$want" ] && return 0
		tries=$((tries - 1))
		sleep 0.05
	done
	echo "timed out waiting for $want x /$pattern/ in $file" >&2
	return 1
}

# jg_check_log_clean [ALLOWED_ERE]: one check that the gateway log holds
# no "error:" line, other than those matching ALLOWED_ERE (the errors a
# test provoked on purpose).
jg_check_log_clean() {
	local allowed=${1:-'^$'} bad
	bad=$(grep -E '\]: error: ' "$GW_LOG" | grep -vE -- "$allowed")
	if [ -z "$bad" ]; then
		pass "gateway log has no unexpected error: lines"
	else
		fail "gateway log has no unexpected error: lines"
		printf '%s\n' "$bad" | head -n 10 | sed 's/^/#   /'
	fi
}

# jg_refused OUTPUT ERRFILE TEXT: true when a client printed nothing and
# its stderr (ERRFILE) holds TEXT, a fixed string: a refusal as the user
# sees it.  jg_refused_re does the same with an ERE.
jg_refused() {
	[ -z "$1" ] && grep -qF -- "$3" "$2"
}
jg_refused_re() {
	[ -z "$1" ] && grep -qE -- "$3" "$2"
}

# True when no line of a file matches an ERE.
jg_lacks() {
	! grep -qE -- "$2" "$1"
}

# jg_api_start LISTEN [ARGS...]: starts the Kubernetes API test server
# (tests/kube/apiserver.py) on LISTEN with TLS material in $T/tls, admin
# token "admin-token", state kept in $T/api-state.json (so a restart on the
# same port keeps the cluster) and bookmarks every 2 s; ARGS are passed on.
# Waits (bounded) until it wrote its port.  Sets API_PID, API_PORT, API.
jg_api_start() {
	local listen=$1 tries=600
	shift
	rm -f "$T/api.port"
	python3 "$JG_SOURCE_DIR/tests/kube/apiserver.py" --listen "$listen" \
	    --tls-dir "$T/tls" --token admin-token "$@" \
	    --state "$T/api-state.json" --port-file "$T/api.port" \
	    --bookmark-interval 2 2>>"$T/api.log" &
	API_PID=$!
	JG_PIDS+=("$API_PID")
	while [ ! -s "$T/api.port" ] && [ "$tries" -gt 0 ]; do
		kill -0 "$API_PID" 2>/dev/null || break
		tries=$((tries - 1))
		sleep 0.05
	done
	[ -s "$T/api.port" ] || { jg_show "$T/api.log"; return 1; }
	API_PORT=$(cat "$T/api.port")
	API="https://127.0.0.1:$API_PORT"
}

# jg_api_test WHAT: one /_test/ control request to the API test server;
# the answer goes to $T/ktest.out.
jg_api_test() {
	curl -sS --max-time 10 --cacert "$T/tls/ca.crt" "$API/_test/$1" \
	    >"$T/ktest.out"
}
