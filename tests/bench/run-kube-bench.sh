#!/usr/bin/env bash
# run-kube-bench.sh: the Kubernetes route source at scale, run by hand (not
# by CTest).  The test API server (tests/kube/apiserver.py) is preloaded
# with 10,000 Crater-style Running pods (1,000 users x 10 jobs) and 10,000
# NodePort Services selecting them; the script measures the gateway's
# initial list and index build (time, CPU, memory against an empty
# namespace), route_lookup() and route_snapshot_new() on the same pods
# (route_lookup_bench), and event-to-routable latency for annotation
# changes, a Service change, an added and a deleted pod.  It prints a
# markdown table, also saved to tests/bench/results-kube.md.  Everything is
# on loopback, every wait is bounded, every process started is stopped by
# PID.  No root needed; about a minute, a quarter of it the test server's
# preload.
#
# Knobs: JUMPGATE (build-bench/jumpgate), JG_BENCH_BIN (where
# route_lookup_bench is; built with cmake when missing), BENCH_USERS
# (1000), BENCH_JOBS (10 per user), BENCH_START_RUNS (3), BENCH_EVENTS
# (20), BENCH_SVC_EVENTS (5 Service nodePort changes), BENCH_LOOKUPS (100000), BENCH_VERIFY (1: prove each change with
# ssh -W), BENCH_MAX_S (420: no phase starts after it), BENCH_OUT,
# BENCH_TMPDIR, JG_KEEP=1 (keep the scratch directory).
set -u
set -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
: "${JUMPGATE:=$SRC/build-bench/jumpgate}"
export JUMPGATE
: "${JG_BENCH_BIN:=$(dirname "$JUMPGATE")/tests/bench}"
# A scratch directory of our own: other test runs on this machine may
# sweep /tmp/jg-e2e.* while we run.
export TMPDIR=${BENCH_TMPDIR:-/tmp/jg-bench-kube}
mkdir -p "$TMPDIR"
. "$SRC/tests/e2e/lib.sh"

BENCH_USERS=${BENCH_USERS:-1000}
BENCH_JOBS=${BENCH_JOBS:-10}		# per user; one pod and one Service each
BENCH_START_RUNS=${BENCH_START_RUNS:-3}	# gateway starts with the full list
BENCH_EVENTS=${BENCH_EVENTS:-20}	# annotation changes timed
BENCH_SVC_EVENTS=${BENCH_SVC_EVENTS:-5}	# Service nodePort changes timed
BENCH_LOOKUPS=${BENCH_LOOKUPS:-100000}
BENCH_VERIFY=${BENCH_VERIFY:-1}		# 1: prove each change by a jump
BENCH_MAX_S=${BENCH_MAX_S:-420}		# no phase starts after this
BENCH_OUT=${BENCH_OUT:-$HERE/results-kube.md}
NS=crater-workspace
EMPTY_NS=bench-empty
API_PY="$SRC/tests/kube/apiserver.py"
PROCSTAT="python3 $HERE/jg_procstat.py"
BENCH_START=$(date +%s)
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
NPODS=$((BENCH_USERS * BENCH_JOBS))

[ -x "$JUMPGATE" ] || { echo "no jumpgate binary at $JUMPGATE" >&2; exit 1; }
[ "$BENCH_USERS" -ge 3 ] && [ "$BENCH_JOBS" -ge 2 ] ||
    { echo "BENCH_USERS >= 3 and BENCH_JOBS >= 2, please" >&2; exit 2; }

log() { printf '# [%3ds] %s\n' $(($(date +%s) - BENCH_START)) "$*" >&2; }
over_budget() { [ $(($(date +%s) - BENCH_START)) -gt "$BENCH_MAX_S" ]; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
field() {	# field NAME "k=v k=v ...": the value of NAME
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1
}
declare -A R	# results

LOOKUP=$JG_BENCH_BIN/route_lookup_bench
if [ ! -x "$LOOKUP" ]; then
	log "building route_lookup_bench in $(dirname "$JUMPGATE")"
	cmake --build "$(dirname "$JUMPGATE")" --target route_lookup_bench \
	    >"$T/build.log" 2>&1 || { cat "$T/build.log" >&2; exit 1; }
	LOOKUP=$(dirname "$JUMPGATE")/tests/bench/route_lookup_bench
fi

# ---- The cluster.  Job i (0-based) is user i / JOBS's job i % JOBS.  Its
# pod carries the labels and annotations of crater-cluster-facts.md (and
# Volcano's), the seed documents' nodeport.crater.raids.io/ssh annotation,
# phase Running and a hostIP.  Its Service np-<user>-<5 hex> exposes port
# 22 (rule "ssh") for even jobs and 8888 (rule "notebook") for odd ones:
# with the default precedence [service, annotation, ssh-enabled], even
# jobs route by their Service and odd ones by the annotation, so both
# endpoint records are exercised.  Service nodePorts are 30000 + i,
# unique, as on a cluster whose --service-node-port-range was widened for
# 10,000 of them (the default range has 2,768 ports; the API server runs
# with --lenient so that it accepts the wider range).  Job 0 of user0001
# runs on 127.0.0.2, so that its Service change can be proved by a jump.
job_hex() { printf '%05x' $(( ($1 * 0x9e37 + 0x1234) % 0x100000 )); }
job_user() { printf 'user%04d' $(($1 / BENCH_JOBS)); }
job_name() { echo "jpt-$(job_user "$1")-251110-$(job_hex "$1")"; }

python3 - "$T/list.json" "$BENCH_USERS" "$BENCH_JOBS" "$NS" <<'PY'
import json, sys
path, users, jobs, ns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
items = []
for i in range(users * jobs):
    u, k = i // jobs, i % jobs
    user = "user%04d" % u
    hx = "%05x" % ((i * 0x9e37 + 0x1234) % 0x100000)
    job = "jpt-%s-251110-%s" % (user, hx)
    base = "%s-251110-%s" % (user, hx)
    node = i % 200
    host = "192.168.%d.%d" % (5 + node // 250, node % 250 + 1)
    if u == 1 and k == 0:
        host = "127.0.0.2"
    # Display names: free text, typeable, or Chinese (typed by base-url).
    display = ["train %d" % k, "notebook-%d" % k, "训练任务 %d" % k,
               "exp%d" % k][k % 4]
    ann = {"crater.raids.io/task-name": display,
           "crater.raids.io/user": user,
           "nodeport.crater.raids.io/ssh": json.dumps({"name": "ssh",
               "containerPort": 22, "address": host,
               "nodePort": 30000 + i % 2768}, separators=(",", ":")),
           "scheduling.k8s.io/group-name": job + "-pg",
           "volcano.sh/job-name": job, "volcano.sh/job-version": "0",
           "volcano.sh/queue-name": "default", "volcano.sh/task-index": "0",
           "volcano.sh/task-spec": "default0",
           "volcano.sh/template-uid": job + "-default0"}
    items.append({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": job + "-default0-0", "namespace": ns,
        "labels": {"crater.raids.io/task-user": user,
                   "crater.raids.io/task-type": "jupyter",
                   "crater.raids.io/base-url": base,
                   "crater.raids.io/task-account": "default",
                   "volcano.sh/job-name": job,
                   "volcano.sh/job-namespace": ns,
                   "volcano.sh/queue-name": "default",
                   "volcano.sh/task-spec": "default0"},
        "annotations": ann},
        "spec": {"nodeName": "node-%03d" % node, "containers": [{
            "name": "main", "image": "crater/jupyter:2025.10",
            "ports": [{"name": "ssh", "containerPort": 22},
                      {"name": "notebook", "containerPort": 8888}]}]},
        "status": {"phase": "Running", "hostIP": host,
                   "podIP": "10.244.%d.%d" % (i // 250, i % 250 + 2)}})
    rule, tport = ("ssh", 22) if k % 2 == 0 else ("notebook", 8888)
    items.append({"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "np-%s-%s" % (user, hx), "namespace": ns,
        "labels": {"crater.raids.io/task-user": user,
                   "crater.raids.io/base-url": base,
                   "crater.raids.io/task-type": "jupyter"},
        "annotations": {"crater.raids.io/port-name": rule}},
        "spec": {"type": "NodePort", "selector": {"volcano.sh/job-name": job},
                 "clusterIP": "10.96.%d.%d" % (i // 250, i % 250 + 1),
                 "ports": [{"name": rule, "protocol": "TCP", "port": tport,
                            "targetPort": tport, "nodePort": 30000 + i}]}})
json.dump({"items": items}, open(path, "w"))
PY
[ -s "$T/list.json" ] || { echo "could not write the list" >&2; exit 1; }

# ---- 2. lookups, first, while nothing of ours runs.
log "route_lookup_bench: $NPODS pods, $BENCH_LOOKUPS lookups"
R[lookup]=$("$LOOKUP" -n "$BENCH_LOOKUPS" -b 100 -r 20 "$T/list.json" \
    2>"$T/lookup.err") || { cat "$T/lookup.err" >&2; R[lookup]=; }

# ---- The API server.  Its preload creates every object through the same
# path as a POST (validation, nodePort allocation) and encodes each once.
log "API server: preloading $NPODS pods and $NPODS Services"
t=$(jg_now_ms)
python3 "$API_PY" --listen 127.0.0.1:0 --tls-dir "$T/tls" \
    --token admin-token --port-file "$T/api.port" --preload "$T/list.json" \
    --lenient 2>"$T/api.log" &
API_PID=$!
JG_PIDS+=("$API_PID")
jg_wait_log "$T/api.port" '^[0-9]+$' 6000 >/dev/null ||
    { jg_show "$T/api.log"; exit 1; }
R[preload_s]=$(calc %.0f "($(jg_now_ms) - $t) / 1000")
API_PORT=$(cat "$T/api.port")
API="https://127.0.0.1:$API_PORT"
log "API server up on port $API_PORT after ${R[preload_s]} s"

# kapi METHOD PATH [JSON] [CONTENT_TYPE]: one API request as the admin.
kapi() {
	curl -sS --max-time 10 --cacert "$T/tls/ca.crt" \
	    -H "Authorization: Bearer admin-token" \
	    -H "Content-Type: ${4:-application/merge-patch+json}" \
	    -X "$1" ${3:+--data "$3"} -o "$T/kapi.out" -w '%{http_code}' \
	    "$API$2"
}
ktest() {
	curl -sS --max-time 10 --cacert "$T/tls/ca.crt" "$API/_test/$1"
}

# ---- A stand-in for the pods that changes move: a TCP listener on
# 127.0.0.2 that answers "jg-kube-bench port N" on each of its ports.
NLPORTS=4
LPORTS=()
for i in $(seq 1 $NLPORTS); do
	LPORTS+=("$(jg_free_port 127.0.0.2 40000 49999)")
done
python3 - "${LPORTS[@]}" <<'PY' 2>"$T/listener.log" &
import selectors, socket, sys, time
sel = selectors.DefaultSelector()
for p in sys.argv[1:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.2", int(p)))
    s.listen(64)
    sel.register(s, selectors.EVENT_READ, int(p))
deadline = time.monotonic() + 900       # never outlives a forgotten run
while time.monotonic() < deadline:
    for key, _ in sel.select(timeout=1):
        c, _ = key.fileobj.accept()
        try:
            c.sendall(b"jg-kube-bench port %d\n" % key.data)
        except OSError:
            pass
        c.close()
PY
LISTEN_PID=$!
JG_PIDS+=("$LISTEN_PID")
jg_wait_port 127.0.0.2 "${LPORTS[$((NLPORTS - 1))]}" || exit 1

jg_keygen bench
mkdir -p "$T/users"
jg_ssh_config "$T/ssh_config" "$T/bench"
user_keys() { [ -f "$T/users/$1.keys" ] || cp "$T/bench.pub" "$T/users/$1.keys"; }

# ---- The gateway.  gw_config NAMESPACE: writes $T/gw.yaml.
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
M_PORT=$(jg_free_port 127.0.0.1 20000 29999)
gw_config() {
	jg_write_kube_config "$T/gw.yaml" "$GW_PORT" jumpgate-token "$1" \
"    request_timeout_ms: 60000
    watch_timeout_s: 600" "metrics:
  listen: 127.0.0.1:$M_PORT"
}

# Epoch ms of each log line matching an ERE (the gateway's UTC stamps).
log_ms() {
	python3 - "$1" "$2" <<'PY'
import datetime, re, sys
pat = re.compile(sys.argv[2])
for line in open(sys.argv[1], errors="replace"):
    if not pat.search(line):
        continue
    try:
        t = datetime.datetime.strptime(line.split(" ", 1)[0],
            "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        continue
    print(int(t.timestamp() * 1000))
PY
}

# The API server's list requests since epoch ms $1: "pages first_ms last_ms"
# (each the time the answer had been written).
list_requests() {
	ktest requests | python3 -c '
import json, sys
t0 = int(sys.argv[1]) / 1000
r = [x for x in json.load(sys.stdin)["requests"] if not x["watch"]
     and x["method"] == "GET" and x["time"] >= t0
     and x["path"].endswith(("/pods", "/services"))]
if r:
    print(len(r), int(r[0]["time"] * 1000), int(r[-1]["time"] * 1000))
else:
    print(0, 0, 0)' "$1"
}

metric() {	# metric NAME: its value on /metrics (first sample)
	curl -s --max-time 5 "http://127.0.0.1:$M_PORT/metrics" |
	    awk -v n="$1" '$1 == n || index($1, n "{") == 1 { print $2; exit }'
}
vmhwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# gw_start KEY NAMESPACE: starts a gateway, waits (bounded) until it logs
# "ready" and /readyz says so, and records times, CPU and memory under KEY.
GW_PID=
GW_N=0
gw_start() {
	local key=$1 t0 tp tr lr st ln
	gw_config "$2"
	GW_N=$((GW_N + 1))
	GW_LOG=$T/gw-$GW_N.log
	t0=$(jg_now_ms)
	"$JUMPGATE" -D -e -f "$T/gw.yaml" 2>"$GW_LOG" &
	GW_PID=$!
	JG_PIDS+=("$GW_PID")
	if ! jg_wait_log "$GW_LOG" "jumpgate .* ready" 2400 >/dev/null; then
		log "gateway $key did not get ready"
		jg_show "$GW_LOG" >&2
		return 1
	fi
	tr=$(log_ms "$GW_LOG" "jumpgate .* ready" | head -1)
	tp=$(log_ms "$GW_LOG" "routes published" | head -1)
	st=$($PROCSTAT tree "$GW_PID")	# CPU at ready
	ln=$(grep -m1 "routes published" "$GW_LOG")
	R[ready/$key]=$((tr - t0))
	R[pub/$key]=$(( ${tp:-$tr} - t0))
	R_PUB_ABS=${tp:-$tr}
	R[cpu/$key]=$(field cpu_s "$st")
	R[resolve/$key]=$(sed -n 's/.*resolve \([0-9.]*\),.*/\1/p' <<<"$ln")
	R[index/$key]=$(sed -n 's/.*index \([0-9.]*\);.*/\1/p' <<<"$ln")
	R[buildcpu/$key]=$(sed -n 's/.*; \([0-9.]*\) ms CPU.*/\1/p' <<<"$ln")
	lr=$(list_requests "$t0")
	R[pages/$key]=$(cut -d' ' -f1 <<<"$lr")
	R[firstpage/$key]=$(( $(cut -d' ' -f2 <<<"$lr") - t0))
	R[lastpage/$key]=$(( $(cut -d' ' -f3 <<<"$lr") - t0))
	R[tail/$key]=$((R_PUB_ABS - $(cut -d' ' -f3 <<<"$lr")))
	R[readyz/$key]=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$M_PORT/readyz")
	R[pods/$key]=$(metric jumpgate_routes_pods)
	# Memory once the watches are open (the state the gateway then
	# keeps), bounded.
	jg_wait_metric jumpgate_kubernetes_watch_connected 1 100
	st=$($PROCSTAT tree "$GW_PID")
	R[rss/$key]=$(field rss_kib "$st")
	R[pss/$key]=$(field pss_kib "$st")
	R[hwm/$key]=$(vmhwm "$GW_PID")
	echo "start $key: exec -> first list page answered ${R[firstpage/$key]} ms," \
	    "last of ${R[pages/$key]} pages ${R[lastpage/$key]} ms," \
	    "routes published ${R[pub/$key]} ms, ready ${R[ready/$key]} ms;" \
	    "build: resolve ${R[resolve/$key]:-} ms, index ${R[index/$key]:-} ms," \
	    "${R[buildcpu/$key]:-} ms CPU; gateway CPU at ready ${R[cpu/$key]} s;" \
	    "/readyz ${R[readyz/$key]}; routes ${R[pods/$key]};" \
	    "rss ${R[rss/$key]} KiB pss ${R[pss/$key]} KiB peak rss" \
	    "${R[hwm/$key]} KiB" >>"$T/raw.txt"
}
jg_wait_metric() {	# NAME VALUE TRIES (50 ms apart)
	local tries=$3
	while [ "$tries" -gt 0 ]; do
		[ "$(metric "$1")" = "$2" ] && return 0
		tries=$((tries - 1))
		sleep 0.05
	done
	return 1
}
gw_stop() {
	[ -n "$GW_PID" ] && jg_stop "$GW_PID"
	GW_PID=
}

median() { jg_median; }
col() { tr ' ' '\n' | grep -v '^$'; }

# ---- 1. initial list and index build; memory against an empty
# namespace (same binary, config, TLS and threads; no objects).
if ! over_budget; then
	log "gateway on the empty namespace $EMPTY_NS (memory baseline)"
	gw_start base "$EMPTY_NS" || exit 1
	gw_stop
	for r in $(seq 1 "$BENCH_START_RUNS"); do
		if over_budget; then
			log "over ${BENCH_MAX_S}s: no more starts"
			break
		fi
		log "gateway start $r of $BENCH_START_RUNS: $NPODS pods, $NPODS Services"
		gw_start "full$r" "$NS" || exit 1
		R[starts]=$r
		[ "$r" -lt "$BENCH_START_RUNS" ] && gw_stop
	done
fi

# ---- 3. event to routable, on the last gateway (10,000 pods loaded).
# change_timed WHAT METHOD PATH BODY [CONTENT_TYPE]: sends the change
# and waits (bounded) for the next "routes published" line.  Appends
# "sent_to_published_ms arrived_to_published_ms re_resolved pods" to
# $T/lat-WHAT.
change_timed() {
	local what=$1 n t0 code line tp
	shift
	# The previous jump has finished; let its session wind down, so
	# that each change meets an idle gateway.
	sleep 0.2
	n=$(jg_count "$GW_LOG" "routes published")
	t0=$(jg_now_ms)
	code=$(kapi "$@")
	case $code in
	2??) ;;
	*) log "$what: the API server answered $code: $(head -c 300 "$T/kapi.out")"
	   return 1 ;;
	esac
	if ! jg_wait_count "$GW_LOG" "routes published" "$((n + 1))" 200 \
	    >/dev/null; then
		log "$what: no routes published within 10 s"
		return 1
	fi
	line=$(grep "routes published" "$GW_LOG" | sed -n "$((n + 1))p")
	tp=$(log_ms <(printf '%s\n' "$line") "routes published")
	echo "$((tp - t0)) $(sed -n 's/.* \([0-9]*\) ms after the first change.*/\1/p' <<<"$line") $(sed -n 's/.*(\([0-9]*\) re-resolved.*/\1/p' <<<"$line") $(sed -n 's/.*published: \([0-9]*\) pods.*/\1/p' <<<"$line")" \
	    >>"$T/lat-$what"
	echo "$what: $line" >>"$T/raw-events.txt"
}
# jump USER JOB: what the listener behind JOB's ssh rule says, through the
# gateway (ssh -W, stdin at EOF), printable characters only; stderr kept
# in $T/jump.err.  A refused jump prints the gateway's sentence on stdout
# (it answers the inner ssh with a pseudo banner) or on stderr.
jump() {
	user_keys "$1"
	timeout 20 ssh -F "$T/ssh_config" -p "$GW_PORT" "$1@127.0.0.1" \
	    -W "$2:22" </dev/null 2>"$T/jump.err" | tr -cd '[:print:]\n'
}
verify() {	# verify WHAT USER JOB WANT_PORT
	[ "$BENCH_VERIFY" = 1 ] || return 0
	local out
	out=$(jump "$2" "$3")
	if [ "$out" = "jg-kube-bench port $4" ]; then
		R[verified/$1]=$((${R[verified/$1]:-0} + 1))
	else
		echo "$1: jump to $2/$3 got '$out' wanted port $4:" \
		    "$(head -c 300 "$T/jump.err")" >>"$T/raw-events.txt"
	fi
}
annotation_json() {	# annotation_json PORT: the merge patch
	printf '{"metadata":{"annotations":{"nodeport.crater.raids.io/ssh":"{\\"name\\":\\"ssh\\",\\"containerPort\\":22,\\"address\\":\\"127.0.0.2\\",\\"nodePort\\":%s}"}}}' "$1"
}

if [ -n "$GW_PID" ] && ! over_budget; then
	jg_wait_metric jumpgate_kubernetes_watch_connected 1 200 ||
	    log "the watch is not connected; timing anyway"
	log "event to routable: $BENCH_EVENTS annotation changes"
	for e in $(seq 1 "$BENCH_EVENTS"); do
		over_budget && { log "over ${BENCH_MAX_S}s"; break; }
		# An odd (annotation-routed) job of a different user each time.
		u=$(( (e * 37) % (BENCH_USERS - 2) + 2 ))
		i=$(( u * BENCH_JOBS + 1 + 2 * (e % (BENCH_JOBS / 2)) ))
		port=${LPORTS[$((e % NLPORTS))]}
		change_timed annotation PATCH \
		    "/api/v1/namespaces/$NS/pods/$(job_name "$i")-default0-0" \
		    "$(annotation_json "$port")" && R[events/annotation]=$e
		verify annotation "$(job_user "$i")" "$(job_name "$i")" "$port"
	done

	# A Service's nodePort (job 0 of user0001 routes by its Service and
	# runs on 127.0.0.2).  A Service change costs more: the gateway
	# rebuilds its Service index and re-checks the pods it selects.
	i=$BENCH_JOBS
	log "event to routable: $BENCH_SVC_EVENTS Service nodePort changes"
	for e in $(seq 1 "$BENCH_SVC_EVENTS"); do
		over_budget && { log "over ${BENCH_MAX_S}s"; break; }
		port=${LPORTS[$((e % NLPORTS))]}
		change_timed service PATCH \
		    "/api/v1/namespaces/$NS/services/np-$(job_user "$i")-$(job_hex "$i")" \
		    "{\"spec\":{\"ports\":[{\"name\":\"ssh\",\"protocol\":\"TCP\",\"port\":22,\"targetPort\":22,\"nodePort\":$port}]}}" &&
		    R[events/service]=$e
		verify service "$(job_user "$i")" "$(job_name "$i")" "$port"
	done

	# A new pod, created Running (the test server keeps the status).
	newjob=jpt-user0001-251110-bench
	port=${LPORTS[1]}
	log "event to routable: one added pod"
	change_timed added POST "/api/v1/namespaces/$NS/pods" "$(python3 - \
	    "$newjob" "$port" "$NS" <<'PY'
import json, sys
job, port, ns = sys.argv[1], int(sys.argv[2]), sys.argv[3]
print(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {
    "name": job + "-default0-0", "namespace": ns,
    "labels": {"crater.raids.io/task-user": "user0001",
               "crater.raids.io/task-type": "jupyter",
               "crater.raids.io/base-url": job.split("-", 1)[1],
               "volcano.sh/job-name": job, "volcano.sh/task-spec": "default0"},
    "annotations": {"crater.raids.io/task-name": "bench added",
        "crater.raids.io/user": "user0001",
        "nodeport.crater.raids.io/ssh": json.dumps({"name": "ssh",
            "containerPort": 22, "address": "127.0.0.2", "nodePort": port})}},
    "spec": {"containers": [{"name": "main", "image": "x",
                             "ports": [{"containerPort": 22}]}]},
    "status": {"phase": "Running", "hostIP": "127.0.0.2"}}))
PY
)" application/json
	verify added user0001 "$newjob" "$port"

	# A deleted pod: the jump must then be refused as not found.
	i=$((2 * BENCH_JOBS + BENCH_JOBS - 1))
	log "event to routable: one deleted pod"
	change_timed deleted DELETE \
	    "/api/v1/namespaces/$NS/pods/$(job_name "$i")-default0-0"
	if [ "$BENCH_VERIFY" = 1 ]; then
		out=$(jump "$(job_user "$i")" "$(job_name "$i")")
		if ! grep -q "jg-kube-bench" <<<"$out" && { grep -q \
		    "job '$(job_name "$i")' not found for $(job_user "$i")" \
		    <<<"$out" || grep -q "not found for $(job_user "$i")" \
		    "$T/jump.err"; }; then
			R[verified/deleted]=1
		else
			echo "deleted: jump got '$(head -c 300 <<<"$out")':" \
			    "$(head -c 300 "$T/jump.err")" >>"$T/raw-events.txt"
		fi
	fi
	R[rss/after-events]=$(field rss_kib "$($PROCSTAT tree "$GW_PID")")
	gw_stop
fi
jg_stop "$API_PID"
jg_stop "$LISTEN_PID"
log "done; writing $BENCH_OUT"

# ---- The table.
v() { printf '%s' "${R[$1]:-n/a}"; }
num() { case $1 in ''|n/a|nan) return 1 ;; esac; }
yesno() { awk "BEGIN { print ($1) ? \"yes\" : \"no\" }"; }
met_max() { if num "$1"; then yesno "$1 <= $2"; else echo n/a; fi; }
lk() { field "$1" "${R[lookup]:-}"; }
# Over the full starts: "median (min-max)" of R[WHAT/fullN].
starts() {
	local r vals=
	for r in $(seq 1 "${R[starts]:-0}"); do
		vals="$vals ${R[$1/full$r]:-}"
	done
	[ -n "$(col <<<"$vals")" ] || { echo "n/a n/a n/a"; return; }
	echo "$(col <<<"$vals" | median) $(col <<<"$vals" | sort -n | head -1)" \
	    "$(col <<<"$vals" | sort -n | tail -1)"
}
mmm() {		# mmm WHAT: "median (min-max)"
	local s
	s=$(starts "$1")
	set -- $s
	if [ "$2" = "$3" ]; then echo "$1"; else echo "$1 ($2-$3)"; fi
}
smed() { starts "$1" | cut -d' ' -f1; }
smax() { starts "$1" | cut -d' ' -f3; }
lat() {		# lat WHAT COLUMN: "median max n"
	[ -s "$T/lat-$1" ] || { echo "n/a n/a 0"; return; }
	echo "$(cut -d' ' -f"$2" "$T/lat-$1" | median)" \
	    "$(cut -d' ' -f"$2" "$T/lat-$1" | sort -n | tail -1)" \
	    "$(wc -l <"$T/lat-$1")"
}
mib() { if num "$1"; then calc %.1f "$1 / 1024"; else echo n/a; fi; }
delta() {	# delta KEY: last full start minus the baseline, KiB
	local last=full${R[starts]:-0}
	if num "${R[$1/$last]:-}" && num "${R[$1/base]:-}"; then
		echo $((${R[$1/$last]} - ${R[$1/base]}))
	else
		echo n/a
	fi
}

table() {
	local b m a s x d
	echo "| metric | measured | target | met? |"
	echo "|---|---|---|---|"
	b=n/a
	m=n/a
	if num "$(smed resolve)" && num "$(smed index)"; then
		b=$(calc %.0f "$(smed resolve) + $(smed index)")
		m=$(calc %.0f "$(smax resolve) + $(smax index)")
	fi
	echo "| index build after the initial list: resolve $NPODS pods +" \
	    "route_snapshot_new, gateway's own timing (ms), median of" \
	    "$(v starts) starts | $b (resolve $(mmm resolve), index" \
	    "$(mmm index); $(mmm buildcpu) ms CPU) | <= 1 s | $(met_max "$m" 1000) |"
	m=$(smax pub)
	echo "| gateway start to routes published, with the initial list of" \
	    "$NPODS pods + $NPODS Services from the Python test server (ms)" \
	    "| $(mmm pub); ready (listening, /readyz $(v readyz/full1))" \
	    "$(mmm ready) | <= 1 s | $(met_max "$m" 1000) |"
	echo "| of which: waiting for the test server's" \
	    "$(v pages/full1) list pages (ms, last page answered) |" \
	    "$(mmm lastpage); first page $(mmm firstpage) | – | – |"
	echo "| the gateway's own part: last list page answered -> routes" \
	    "published (ms; parse of the last page, resolve, index) |" \
	    "$(mmm tail) | <= 1 s | $(met_max "$(smax tail)" 1000) |"
	echo "| gateway CPU, start to ready (s) | $(mmm cpu) (empty" \
	    "namespace: $(v cpu/base)) | – | – |"
	d=$(delta rss)
	echo "| memory of the route data: RSS after the list, minus a gateway" \
	    "on an empty namespace (MiB) | $(mib "$d") ($(mib "$(v \
	    rss/full${R[starts]:-0})") vs $(mib "$(v rss/base)")) | <= 64 MiB" \
	    "| $(if num "$d"; then yesno "$d <= 65536"; else echo n/a; fi) |"
	d=$(delta pss)
	echo "| same, PSS (MiB) | $(mib "$d") | <= 64 MiB |" \
	    "$(if num "$d"; then yesno "$d <= 65536"; else echo n/a; fi) |"
	d=$(delta hwm)
	echo "| same, peak RSS during the list (VmHWM, MiB) | $(mib "$d") |" \
	    "<= 64 MiB | $(if num "$d"; then yesno "$d <= 65536"; else echo \
	    n/a; fi) |"
	echo "| heap of the data structures alone (route_lookup_bench," \
	    "mallinfo2): podmeta objects / route pods / snapshot (MiB) |" \
	    "$(mib "$(lk heap_objects_kib)") / $(mib "$(lk heap_routes_kib)")" \
	    "/ $(mib "$(lk heap_snapshot_kib)") | – | – |"
	x=$(lk lookup_ns_p99)
	echo "| route_lookup() on $(lk routable) pods, each timed (ns):" \
	    "median / p99 / max of $(lk lookups) | $(lk lookup_ns_median) /" \
	    "$x / $(lk lookup_ns_max) | <= 2 us | median" \
	    "$(met_max "$(lk lookup_ns_median)" 2000), p99 $(met_max "$x" 2000) |"
	echo "| route_lookup(), batches of $(lk batch): mean per lookup," \
	    "median / p99 of batches (ns) | $(lk batch_ns_median) /" \
	    "$(lk batch_ns_p99) | <= 2 us | $(met_max "$(lk batch_ns_median)" \
	    2000) |"
	echo "| route_snapshot_new() of $(lk routable) pods (ms): median /" \
	    "max of $(lk snap_runs); CPU median | $(lk snap_ms_median) /" \
	    "$(lk snap_ms_max); $(lk snap_cpu_ms_median) | – | – |"
	echo "| podmeta_resolve() of all $(lk routable) pods, once (ms) |" \
	    "$(lk resolve_ms) | – | – |"
	for s in annotation service added deleted; do
		set -- $(lat "$s" 1)
		a=$1 m=$2 x=$3
		set -- $(lat "$s" 2)
		case $s in
		annotation) d="a pod's annotation nodePort changed" ;;
		service) d="a Service's nodePort changed" ;;
		added) d="one pod added" ;;
		deleted) d="one pod deleted" ;;
		esac
		if [ "$x" -gt 1 ]; then
			echo "| event to routable among $NPODS pods, $d: change" \
			    "sent -> routes published (ms), median / max of $x |" \
			    "$a / $m (the gateway's part, event arrived ->" \
			    "published: $1 / $2) | <= 100 ms | median" \
			    "$(met_max "$a" 100), max $(met_max "$m" 100);" \
			    "gateway's part: median $(met_max "$1" 100), max" \
			    "$(met_max "$2" 100) |"
		else
			echo "| event to routable among $NPODS pods, $d: change" \
			    "sent -> routes published (ms) | $a (the gateway's" \
			    "part: $1) | <= 100 ms | $(met_max "$a" 100);" \
			    "gateway's part: $(met_max "$1" 100) |"
		fi
	done
	if [ "$BENCH_VERIFY" = 1 ]; then
		x="\"$(v verified/annotation)\" == \"$(v events/annotation)\""
		x="$x && \"$(v verified/service)\" == \"$(v events/service)\""
		x="$x && \"$(v verified/added)$(v verified/deleted)\" == \"11\""
		echo "| changes proved by a jump (ssh -W through the gateway" \
		    "reached the new port, or was refused for the deleted" \
		    "pod) | annotation $(v verified/annotation)/$(v \
		    events/annotation), Service $(v verified/service)/$(v \
		    events/service), added $(v verified/added)/1, deleted" \
		    "$(v verified/deleted)/1 | all | $(yesno "$x") |"
	fi
}

method() {
	echo "Method: one run of \`tests/bench/run-kube-bench.sh\` on" \
	    "$(nproc) shared cores ($(uname -r)), everything on loopback." \
	    "The test API server (\`tests/kube/apiserver.py\`, Python, TLS," \
	    "\`--preload --lenient\`; preloading took $(v preload_s) s) holds" \
	    "$NPODS Running pods ($BENCH_USERS users x $BENCH_JOBS jobs) with" \
	    "the labels and annotations of crater-cluster-facts.md and" \
	    "Volcano's, the seed documents' nodeport.crater.raids.io/ssh" \
	    "annotation and a hostIP, and $NPODS NodePort Services" \
	    "np-<user>-<5 hex> selecting them by volcano.sh/job-name (rule" \
	    "ssh/22 for even jobs, notebook/8888 for odd ones, so with the" \
	    "default precedence half the pods route by Service and half by" \
	    "annotation; nodePorts 30000 + i, which a real cluster allows" \
	    "only with a widened service-node-port-range). jumpgate" \
	    "(routes.source kubernetes, token auth, metrics.listen, log level" \
	    "verbose) was started $(v starts) times; times are from the exec" \
	    "to the first \`routes published\` log line and to the \`ready\`" \
	    "line (the gateway waits for the first full list before it" \
	    "listens), the list pages' times from the server's" \
	    "\`/_test/requests\` log, and the build split (resolve, index," \
	    "CPU) from the publish line itself. The list is paged (limit 500)" \
	    "and its wall time includes the Python server's paging (it keeps" \
	    "each object's JSON, as it was preloaded); the gateway's own part" \
	    "is the build row and its CPU. Memory: RSS," \
	    "PSS (smaps_rollup) and VmHWM of the gateway once its watches" \
	    "are open, minus the same gateway watching an empty namespace" \
	    "(same TLS, threads and worker count). Lookups:" \
	    "\`route_lookup_bench\` reads the same list file, converts it with" \
	    "podmeta_json_* and podmeta_resolve() (each pod with the" \
	    "Services whose selector key matches one of its labels, as the" \
	    "source's index does), builds route_snapshot_new() 20 times, then" \
	    "times $(lk lookups) lookups of random existing jobs by the" \
	    "names a user types (internal name, base-url or display name," \
	    "a third each), each with its own clock_gettime pair (about" \
	    "$(lk clock_ns) ns of it, not subtracted) and again in batches;" \
	    "it ran before the API server started. Events: on the last" \
	    "gateway, $(v events/annotation) merge-patches of an" \
	    "annotation-routed pod's nodePort (a different user each time)," \
	    "$(v events/service) changes of a Service's nodePort, one pod" \
	    "created and one deleted," \
	    "each sent with curl; the latency is from just before curl" \
	    "starts to the timestamp of the next \`routes published\` line" \
	    "(ms resolution; it includes curl's start and the Python server" \
	    "applying the change and writing the watch event), and the" \
	    "gateway's own \"ms after the first change arrived\" (it waits" \
	    "5 ms of quiet to batch events). Each change was then checked by" \
	    "\`ssh -W job:22\` through the gateway to a TCP listener on the new" \
	    "port (not timed); changes are 0.2 s apart, after that jump." \
	    "Where the gateway's rebuild took longer in wall time than in" \
	    "CPU (raw figures: \"N ms: resolve, index; M ms CPU\"), it was" \
	    "waiting for a core. Nothing asserts; the targets are the issue's." \
	    "The machine is shared: load average before the run" \
	    "$LOADAVG_START, after $(cut -d' ' -f1-3 /proc/loadavg)."
}

{
	table
	echo
	method
	echo
	echo "<details><summary>raw figures</summary>"
	echo
	echo '```'
	echo "route_lookup_bench: ${R[lookup]:-failed: $(head -c 300 "$T/lookup.err" 2>/dev/null)}"
	cat "$T/raw.txt" 2>/dev/null
	for s in annotation service added deleted; do
		[ -s "$T/lat-$s" ] || continue
		echo "$s (sent->published arrived->published re-resolved pods):" \
		    "$(tr '\n' ';' <"$T/lat-$s")"
	done
	sed 's/^\([a-z]*\): .*kubernetes: /\1: /' "$T/raw-events.txt" \
	    2>/dev/null | head -40
	echo "gateway RSS after the events: $(v rss/after-events) KiB"
	echo "run took $(($(date +%s) - BENCH_START)) s"
	echo '```'
	echo
	echo "</details>"
} >"$T/table.md"
cp "$T/table.md" "$BENCH_OUT"
cat "$T/table.md"
