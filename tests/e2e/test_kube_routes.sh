#!/usr/bin/env bash
# The Kubernetes route source end to end: jumpgate lists and watches the
# test API server (tests/kube/apiserver.py, TLS, tokenFile credentials)
# and `ssh -J` reaches real sshd "pods" as jobs appear, change and go:
# annotations, Service-only and ssh-enabled-only jobs, ambiguous and
# Chinese display names, a malformed annotation beside a good one.  Then
# the API server is restarted mid-watch, expires watches (410), fails a
# burst of requests (500) and rotates the token, and routing carries on.
# Every wait is a bounded poll.  Event-to-routable latencies are printed
# as '#' lines: from just before the change is sent to the API server
# until the gateway published the routes (and until a jump worked).
. "$(dirname "$0")/lib.sh"

if ! command -v kubectl >/dev/null 2>&1; then
	fail "kubectl is installed (needed to drive the test API server)"
	jg_done
fi

ME=$(id -un)
NS=crater-workspace
# A sanitizer build is several times slower: it still runs every step,
# but the timing checks only print.
jg_keygen alice
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/alice.pub" "$T/pod_ak"
printf 'sa-token-one\n' >"$T/sa-token"

# ---- The API server.

# api_start LISTEN: the API test server, accepting the rotating token
# file too (generates TLS material the first time).
api_start() { jg_api_start "$1" --token-file "$T/sa-token"; }
ktest() { jg_api_test "$1"; }

api_start 127.0.0.1:0 || { fail "the test API server starts"; jg_done; }
K() { kubectl --kubeconfig "$T/tls/kubeconfig" --cache-dir "$T/kcache" "$@"; }

# kapi METHOD PATH [JSON]: one API request as the admin, with curl (fast,
# so that latencies measure jumpgate, not kubectl's start-up).
kapi() {
	local method=$1 path=$2 body=${3:-}
	curl -sS --max-time 10 --cacert "$T/tls/ca.crt" \
	    -H "Authorization: Bearer admin-token" \
	    -H "Content-Type: application/merge-patch+json" \
	    -X "$method" ${body:+--data "$body"} "$API$path" >"$T/kapi.out"
}

# kpod JOB DISPLAY [ANNOTATION_YAML]: creates the job's pod (Pending).
kpod() {
	local job=$1 display=$2 ann=${3:-}
	cat >"$T/obj.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $job-default0-0
  namespace: $NS
  labels:
    crater.raids.io/task-user: alice
    crater.raids.io/task-type: jupyter
    volcano.sh/job-name: $job
    volcano.sh/task-spec: default0
    crater.raids.io/base-url: ${job#*-}
  annotations:
    crater.raids.io/task-name: "$display"
    crater.raids.io/user: alice
$ann
spec:
  containers:
  - name: main
    image: crater/jupyter:latest
    ports:
    - containerPort: 22
YAML
	K apply -f "$T/obj.yaml" >/dev/null 2>>"$T/kubectl.err"
}

# krun JOB HOSTIP: the pod starts running on a node (status subresource).
krun() {
	kapi PATCH "/api/v1/namespaces/$NS/pods/$1-default0-0/status" \
	    "{\"status\":{\"phase\":\"Running\",\"hostIP\":\"$2\"}}"
}

# ---- Measuring.

# ms from $1 (epoch ms) to the first "routes published" line at or after
# it, and the gateway's own "N ms after the first change arrived".
published_after() {
	python3 - "$GW_LOG" "$1" <<'PY'
import datetime, re, sys
log, t0 = sys.argv[1], int(sys.argv[2])
for line in open(log, errors="replace"):
    if "routes published" not in line:
        continue
    try:
        t = datetime.datetime.strptime(line.split(" ", 1)[0],
            "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        continue
    ms = int(t.timestamp() * 1000)
    if ms >= t0:
        m = re.search(r"(\d+) ms after the first change", line)
        print(ms - t0, m.group(1) if m else "?")
        break
PY
}

# Prints the sshd address:port that ran the command, or nothing.
server_of() {
	timeout 20 ssh -F "$T/ssh_alice" -J "$GW" "$ME@$1" \
	    'set -- $SSH_CONNECTION; echo "$3:$4"' 2>"$T/err"
}

# wait_server NAME WANT: polls (bounded) until NAME reaches WANT.  Sets
# JUMP_MS: ms from T0 until the start of the jump that worked.
wait_server() {
	local name=$1 want=$2 deadline start out
	deadline=$(( $(jg_now_ms) + 20000 ))
	while [ "$(jg_now_ms)" -lt "$deadline" ]; do
		start=$(jg_now_ms)
		out=$(server_of "$name")
		if [ "$out" = "$want" ]; then
			JUMP_MS=$((start - T0))
			return 0
		fi
		sleep 0.02
	done
	echo "# $name never reached $want; last: '$out'" >&2
	jg_show "$T/err"
	return 1
}

# wait_refused NAME PATTERN: polls until a jump to NAME is refused with a
# message matching PATTERN.
wait_refused() {
	local name=$1 pattern=$2 deadline start
	deadline=$(( $(jg_now_ms) + 20000 ))
	while [ "$(jg_now_ms)" -lt "$deadline" ]; do
		start=$(jg_now_ms)
		if [ -z "$(server_of "$name")" ] &&
		    grep -qE -- "$pattern" "$T/err"; then
			JUMP_MS=$((start - T0))
			return 0
		fi
		sleep 0.02
	done
	jg_show "$T/err"
	return 1
}

# latency WHAT: the '#' line for the change sent at T0.
latency() {
	local pub
	pub=$(published_after "$T0")
	echo "# latency: $1: routes published $(echo "$pub" | cut -d' ' -f1) ms after the change was sent (gateway: $(echo "$pub" | cut -d' ' -f2) ms after the event arrived); first working jump started at +${JUMP_MS} ms"
	[ -n "$pub" ] && echo "$pub" >>"$T/${LAT_FILE:-latencies}"
}

# ---- The pods (real sshd), each on its own loopback address and port.

P1=$(jg_free_port 127.0.0.2)
jg_start_pod a 127.0.0.2 "$P1" "$T/pod_ak"
P2=$(jg_free_port 127.0.0.2)
jg_start_pod a2 127.0.0.2 "$P2" "$T/pod_ak"
P3=$(jg_free_port 127.0.0.3)
jg_start_pod svc 127.0.0.3 "$P3" "$T/pod_ak"
P3B=$(jg_free_port 127.0.0.3)
jg_start_pod svc2 127.0.0.3 "$P3B" "$T/pod_ak"
P4=$(jg_free_port 127.0.0.4)
jg_start_pod sshen 127.0.0.4 "$P4" "$T/pod_ak"
P5=$(jg_free_port 127.0.0.5)
jg_start_pod misc 127.0.0.5 "$P5" "$T/pod_ak"

annot() {	# annot ADDRESS PORT: the seed's per-rule annotation, as YAML
	printf "    nodeport.crater.raids.io/ssh: '{\"name\":\"ssh\",\"containerPort\":22,\"address\":\"%s\",\"nodePort\":%s}'" "$1" "$2"
}

# One job exists before the gateway starts: it must be routable at once.
kpod jpt-alice-251121-early0 early "$(annot 127.0.0.5 "$P5")"
krun jpt-alice-251121-early0 127.0.0.5

# ---- The gateway.

GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_kube_config "$T/jumpgate.yaml" "$GW_PORT" jumpgate-tokenfile "$NS" \
"    request_timeout_ms: 5000
    watch_timeout_s: 10
    backoff_max_ms: 500
    token_reread_s: 1"

out=$("$JUMPGATE" -t -f "$T/jumpgate.yaml" 2>&1)
check "jumpgate -t checks credentials and lists: configuration OK" \
	[ "$out" = "configuration OK" ]
ktest "forbid?verb=list&resource=services"
out=$("$JUMPGATE" -t -f "$T/jumpgate.yaml" 2>&1)
check "jumpgate -t reports a forbidden list with the API server's reason" \
	grep -q "kubernetes: list services in namespace $NS at $API (kubeconfig .* context jumpgate-tokenfile): HTTP 403: services is forbidden" <<<"$out"
ktest "forbid?clear=1"
sed 's/context: jumpgate-tokenfile/context: jumpgate-insecure/' \
    "$T/jumpgate.yaml" >"$T/insecure.yaml"
out=$("$JUMPGATE" -t -f "$T/insecure.yaml" 2>&1)
check "a kubeconfig with insecure-skip-tls-verify is refused by default" \
	grep -q "insecure-skip-tls-verify: true is refused" <<<"$out"

# In-cluster credentials: a service account directory and the env.
mkdir -p "$T/sa"
cp "$T/tls/ca.crt" "$T/sa/ca.crt"
cp "$T/sa-token" "$T/sa/token"
sed 's|kubeconfig: .*|kubeconfig: null|' "$T/jumpgate.yaml" >"$T/incluster.yaml"
out=$(JUMPGATE_SA_DIR="$T/sa" KUBERNETES_SERVICE_HOST=127.0.0.1 \
    KUBERNETES_SERVICE_PORT=$API_PORT "$JUMPGATE" -t -f "$T/incluster.yaml" 2>&1)
check "in-cluster credentials (JUMPGATE_SA_DIR, KUBERNETES_SERVICE_*) work" \
	[ "$out" = "configuration OK" ]

jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_show "$GW_LOG"; jg_done; }
jg_ssh_config "$T/ssh_alice" "$T/alice"
GW="alice@127.0.0.1:$GW_PORT"

check "the gateway starts with the routes of the first list" \
	grep -q "routes: 1 pods loaded" "$GW_LOG"
out=$(server_of early)
check "a job that existed before the start is routable at once" \
	[ "$out" = "127.0.0.5:$P5" ]

# ---- Jobs come, change and go.

kpod jpt-alice-251121-aaaaa newjob "$(annot 127.0.0.2 "$P1")"
T0=$(jg_now_ms)
krun jpt-alice-251121-aaaaa 127.0.0.2
check "a new job appears and works" wait_server newjob "127.0.0.2:$P1"
latency "new job"

T0=$(jg_now_ms)
kapi PATCH "/api/v1/namespaces/$NS/pods/jpt-alice-251121-aaaaa-default0-0" \
    "{\"metadata\":{\"annotations\":{\"nodeport.crater.raids.io/ssh\":\"{\\\"name\\\":\\\"ssh\\\",\\\"containerPort\\\":22,\\\"address\\\":\\\"127.0.0.2\\\",\\\"nodePort\\\":$P2}\"}}}"
check "an annotation change moves the job to the new port" \
	wait_server newjob "127.0.0.2:$P2"
latency "annotation change"

# Service-only, as current Crater records it: np-<user>-<5 hex>.
SVC_JOB=jpt-alice-251121-svc01
cat >"$T/svc.yaml" <<YAML
apiVersion: v1
kind: Service
metadata:
  name: np-alice-3f9a1
  namespace: $NS
  labels:
    crater.raids.io/task-user: alice
    crater.raids.io/base-url: alice-251121-svc01
    crater.raids.io/task-type: jupyter
  annotations:
    crater.raids.io/port-name: ssh
spec:
  type: NodePort
  selector:
    volcano.sh/job-name: $SVC_JOB
  ports:
  - name: ssh
    port: 22
    targetPort: 22
    nodePort: $P3
YAML
K apply -f "$T/svc.yaml" >/dev/null 2>>"$T/kubectl.err"
kpod "$SVC_JOB" svcjob
T0=$(jg_now_ms)
krun "$SVC_JOB" 127.0.0.3
check "a Service-only job routes to the pod's hostIP and the nodePort" \
	wait_server svcjob "127.0.0.3:$P3"
latency "Service-only job"

T0=$(jg_now_ms)
kapi PATCH "/api/v1/namespaces/$NS/services/np-alice-3f9a1" \
    "{\"spec\":{\"ports\":[{\"name\":\"ssh\",\"port\":22,\"targetPort\":22,\"nodePort\":$P3B}]}}"
check "a changed Service nodePort re-routes the pods it selects" \
	wait_server svcjob "127.0.0.3:$P3B"
latency "Service nodePort change"

kpod jpt-alice-251121-sshen sshenjob \
    "    crater.raids.io/ssh-enabled: \"127.0.0.4:$P4\""
T0=$(jg_now_ms)
krun jpt-alice-251121-sshen 127.0.0.4
check "an ssh-enabled-only job is routable" wait_server sshenjob "127.0.0.4:$P4"
latency "ssh-enabled job"

kpod jpt-alice-251121-twin1 twin "$(annot 127.0.0.5 "$P5")"
krun jpt-alice-251121-twin1 127.0.0.5
kpod jpt-alice-251121-twin2 twin "$(annot 127.0.0.5 "$P5")"
T0=$(jg_now_ms)
krun jpt-alice-251121-twin2 127.0.0.5
check "an ambiguous display name lists both jobs" \
	wait_refused twin "job name 'twin' matches 2 jobs of alice: jpt-alice-251121-twin1 \(twin\), jpt-alice-251121-twin2 \(twin\)"
out=$(server_of jpt-alice-251121-twin2)
check "the internal name of one twin reaches it" [ "$out" = "127.0.0.5:$P5" ]

kpod jpt-alice-251121-zh001 "训练任务" "$(annot 127.0.0.5 "$P5")"
T0=$(jg_now_ms)
krun jpt-alice-251121-zh001 127.0.0.5
check "a Chinese display name is routable" wait_server "训练任务" "127.0.0.5:$P5"
latency "Chinese display name"

# A malformed annotation next to a good one: the good one routes, the bad
# one is logged once per object, not once per login or per change.
kpod jpt-alice-251121-mixed mixedjob "$(annot 127.0.0.5 "$P5")
    nodeport.crater.raids.io/web: '{\"name\":\"web\",\"containerPort\":8888,\"nodePort\":\"abc\"}'"
T0=$(jg_now_ms)
krun jpt-alice-251121-mixed 127.0.0.5
check "a pod with a malformed annotation still routes by its good one" \
	wait_server mixedjob "127.0.0.5:$P5"
server_of mixedjob >/dev/null
n=$(jg_count "$GW_LOG" "routes published")
kapi PATCH "/api/v1/namespaces/$NS/pods/jpt-alice-251121-mixed-default0-0" \
    '{"metadata":{"labels":{"touched":"yes"}}}'
jg_wait_count "$GW_LOG" "routes published" "$((n + 1))" >/dev/null
server_of mixedjob >/dev/null
n=$(jg_count "$GW_LOG" "warn: kubernetes: pod $NS/jpt-alice-251121-mixed-default0-0 \(resourceVersion [0-9]+\): annotation nodeport.crater.raids.io/web: nodePort: expected an integer 1..65535, got \"abc\"")
check "the malformed annotation is logged once, with namespace/name and reason (got $n)" \
	[ "$n" -eq 1 ]

T0=$(jg_now_ms)
kapi DELETE "/api/v1/namespaces/$NS/pods/jpt-alice-251121-aaaaa-default0-0"
check "a deleted pod stops routing" \
	wait_refused newjob "job 'newjob' not found for alice"
latency "pod deleted"

# ---- The API server goes away and comes back.

relists=$(jg_count "$GW_LOG" "listing again")
failures=$(jg_count "$GW_LOG" "kubernetes: watch pods in $NS at $API failed")
answers=$(jg_count "$GW_LOG" "pods in $NS: the API server answers again")
jg_stop "$API_PID"
jg_wait_count "$GW_LOG" "kubernetes: watch pods in $NS at $API failed" $((failures + 1)) 200 >/dev/null
out=$(server_of svcjob)
check "while the API server is down, routing goes on from the last state" \
	[ "$out" = "127.0.0.3:$P3B" ]
check "while it is down, a refusal says how old the route data is" \
	wait_refused nosuchjob "job 'nosuchjob' not found for alice; .* \\(route data is [0-9]+ s old: the route source cannot be reached\\)"
ssh -F "$T/ssh_alice" -p "${GW#*:}" alice@127.0.0.1 >"$T/table.out" 2>&1 </dev/null
check "while it is down, the job table says how old the data is" \
	grep -qE "Note: route data is [0-9]+ s old" "$T/table.out"
api_start "127.0.0.1:$API_PORT" || fail "the API server restarts on its port"
jg_wait_count "$GW_LOG" "pods in $NS: the API server answers again" $((answers + 1)) 400 >/dev/null
check "after the restart the gateway relists (its watch history is gone)" \
	jg_wait_count "$GW_LOG" "listing again|answers again" "$((relists + 1))"
kpod jpt-alice-251121-after after "$(annot 127.0.0.2 "$P1")"
T0=$(jg_now_ms)
krun jpt-alice-251121-after 127.0.0.2
check "a job created after the restart is seen" wait_server after "127.0.0.2:$P1"
latency "new job after API server restart"
out=$(server_of svcjob)
check "jobs from before the restart still route" [ "$out" = "127.0.0.3:$P3B" ]

# ---- Forced 410 on the open watches.

relists=$(jg_count "$GW_LOG" "listing again")
ktest "expire-watches?open=1"
check "a watch ERROR 410 makes the gateway list again" \
	jg_wait_count "$GW_LOG" "listing again: watch ERROR event 410" "$((relists + 1))"
T0=$(jg_now_ms)
kapi DELETE "/api/v1/namespaces/$NS/pods/jpt-alice-251121-after-default0-0"
check "after the relist, changes are seen again" \
	wait_refused after "job 'after' not found for alice"
latency "pod deleted after a 410"

# ---- A burst of 500s.

# Only the gateway's lists and watches fail (GET on the collections), so
# that kubectl below is not caught in the burst.
burst=$(jg_count "$GW_LOG" "failed: HTTP 500: ")
ktest "fail?count=8&code=500&method=GET&path=%28pods%7Cservices%29%24"
ktest "drop-watches"
check "a burst of 500s is logged with the API server's reason" \
	jg_wait_count "$GW_LOG" "failed: HTTP 500: " $((burst + 1)) 200
kpod jpt-alice-251121-burst burst "$(annot 127.0.0.2 "$P1")"
T0=$(jg_now_ms)
krun jpt-alice-251121-burst 127.0.0.2
check "after the burst the gateway reconnects and sees new jobs" \
	wait_server burst "127.0.0.2:$P1"
latency "new job after a burst of 500s"

# ---- The token rotates: the old one stops working at once.

printf 'sa-token-two\n' >"$T/sa-token"
ktest "drop-watches"
check "the rotated token file is read again" \
	jg_wait_log "$GW_LOG" "the token in .*sa-token changed" 100
kpod jpt-alice-251121-rotat rotated "$(annot 127.0.0.2 "$P1")"
T0=$(jg_now_ms)
krun jpt-alice-251121-rotat 127.0.0.2
check "with the new token, new jobs are seen" wait_server rotated "127.0.0.2:$P1"
latency "new job after a token rotation"
ktest "requests"
n=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r=r.get("requests", r); print(sum(1 for x in r[-5:] if x.get("code") == 401))' "$T/ktest.out" 2>/dev/null)
check "the gateway's latest requests are not refused (401s: ${n:-?})" [ "${n:-1}" -eq 0 ]

out=$(server_of early)
check "the first job still routes at the end" [ "$out" = "127.0.0.5:$P5" ]

# ---- Scale: 10,000 pods (1,000 of them Service-only) on a second API
# ---- server and gateway.  One change must re-resolve one pod, fast.

python3 - "$T/preload.json" "$P1" <<'PY'
import json, sys
path, port = sys.argv[1], int(sys.argv[2])
items = []
for i in range(10000):
    user = "alice" if i == 0 else "user%d" % (i % 1000)
    job = "jpt-%s-251121-%05x" % (user, i)
    ann = {"crater.raids.io/task-name": "scalejob" if i == 0 else "job %d" % i}
    if i % 10 != 5:
        ann["nodeport.crater.raids.io/ssh"] = json.dumps({"name": "ssh",
            "containerPort": 22, "address": "127.0.0.2",
            "nodePort": port if i == 0 else 30000 + i % 2000})
    items.append({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": job + "-default0-0", "namespace": "crater-workspace",
        "labels": {"crater.raids.io/task-user": user,
                   "volcano.sh/job-name": job,
                   "volcano.sh/task-spec": "default0",
                   "crater.raids.io/base-url": job.split("-", 1)[1]},
        "annotations": ann},
        "spec": {"containers": [{"name": "main", "image": "x",
                                 "ports": [{"containerPort": 22}]}]},
        "status": {"phase": "Running", "hostIP": "127.0.0.9"}})
    if i % 10 == 5:
        items.append({"apiVersion": "v1", "kind": "Service", "metadata": {
            "name": "np-%s-%05x" % (user, i), "namespace": "crater-workspace",
            "annotations": {"crater.raids.io/port-name": "ssh"}},
            "spec": {"type": "NodePort", "selector": {"volcano.sh/job-name": job},
                     "ports": [{"port": 22, "targetPort": 22,
                                "nodePort": 30000 + (i // 10) % 2700}]}})
json.dump({"items": items}, open(path, "w"))
PY
rm -f "$T/api2.port"
python3 "$JG_SOURCE_DIR/tests/kube/apiserver.py" --listen 127.0.0.1:0 --tls-dir "$T/tls2" --token admin-token \
    --port-file "$T/api2.port" --preload "$T/preload.json" --lenient \
    2>>"$T/api2.log" &
API2_PID=$!
JG_PIDS+=("$API2_PID")
jg_wait_log "$T/api2.port" "[0-9]" 1200 >/dev/null
API2_PORT=$(cat "$T/api2.port")
GW2_PORT=$(jg_free_port 127.0.0.1 20000 29999)
sed -e "s|port: $GW_PORT|port: $GW2_PORT|" \
    -e "s|kubeconfig: .*|kubeconfig: $T/tls2/kubeconfig|" \
    -e "s|context: .*|context: jumpgate-token|" \
    -e "s|request_timeout_ms: .*|request_timeout_ms: 30000|" \
    "$T/jumpgate.yaml" >"$T/jumpgate2.yaml"
GW_LOG_1=$GW_LOG
GW_LOG="$T/gateway2.log"
LAT_FILE=latencies-scale
t=$(jg_now_ms)
"$JUMPGATE" -D -e -f "$T/jumpgate2.yaml" 2>>"$GW_LOG" &
GW2_PID=$!
JG_PIDS+=("$GW2_PID")
jg_wait_port 127.0.0.1 "$GW2_PORT" 1200 || fail "the second gateway starts"
echo "# scale: the gateway listed 10,000 pods and 1,000 Services and was ready in $(( $(jg_now_ms) - t )) ms"
check "the second gateway starts with 10,000 pods" grep -q "routes: 10000 pods loaded" "$GW_LOG"
GW="alice@127.0.0.1:$GW2_PORT"
out=$(server_of scalejob)
check "with 10,000 pods alice's job routes" [ "$out" = "127.0.0.2:$P1" ]
API_SAVE=$API
API="https://127.0.0.1:$API2_PORT"
# scale_change PORT: points alice's job at PORT; prints the rebuild line.
# (Runs in a subshell: the caller sets T0.)
scale_change() {
	local n
	n=$(jg_count "$GW_LOG" "routes published")
	curl -sS --max-time 10 --cacert "$T/tls2/ca.crt" \
	    -H "Authorization: Bearer admin-token" \
	    -H "Content-Type: application/merge-patch+json" -X PATCH \
	    --data "{\"metadata\":{\"annotations\":{\"nodeport.crater.raids.io/ssh\":\"{\\\"containerPort\\\":22,\\\"address\\\":\\\"127.0.0.2\\\",\\\"nodePort\\\":$1}\"}}}" \
	    "$API/api/v1/namespaces/$NS/pods/jpt-alice-251121-00000-default0-0" >/dev/null
	jg_wait_count "$GW_LOG" "routes published" "$((n + 1))" >/dev/null
	grep "routes published" "$GW_LOG" | sed -n "$((n + 1))p"
}
T0=$(jg_now_ms)
line=$(scale_change "$P2")
check "with 10,000 pods one change is routable" wait_server scalejob "127.0.0.2:$P2"
latency "one pod changed among 10,000"
echo "# scale: $line" | sed 's/^# scale: .*kubernetes: /# scale: /'
check "one changed pod among 10,000 is the only one re-resolved" \
	grep -q "10000 pods with routes (1 re-resolved" <<<"$line"
r1=$(sed -n 's/.*; \([0-9.]*\) ms CPU.*/\1/p' <<<"$line")
line=$(scale_change "$P1")
echo "# scale: $line" | sed 's/^# scale: .*kubernetes: /# scale: /'
r2=$(sed -n 's/.*; \([0-9.]*\) ms CPU.*/\1/p' <<<"$line")
# The rebuild's CPU time, printed: speed targets live in the benchmarks
# (tests/bench/run-kube-bench.sh), never in a CI assertion.
echo "# scale: a rebuild with 10,000 pods took ${r1:-?} and ${r2:-?} ms of CPU (target: well under 100)"
n=$(jg_count "$GW_LOG" "routes published")
T0=$(jg_now_ms)
curl -sS --max-time 10 --cacert "$T/tls2/ca.crt" -H "Authorization: Bearer admin-token" \
    -H "Content-Type: application/merge-patch+json" -X PATCH \
    --data '{"spec":{"ports":[{"port":22,"targetPort":22,"nodePort":32700}]}}' \
    "$API/api/v1/namespaces/$NS/services/np-user5-00005" >/dev/null
jg_wait_count "$GW_LOG" "routes published" "$((n + 1))" >/dev/null
line=$(grep "routes published" "$GW_LOG" | sed -n "$((n + 1))p")
echo "# scale: Service changed: $line" | sed 's/: .*kubernetes: /: /'
check "a changed Service among 1,000 re-resolves only the pod it selects" \
	grep -q "(1 re-resolved" <<<"$line"
latency "one Service changed among 1,000"
API=$API_SAVE
jg_stop "$GW2_PID"
if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$GW_LOG"; then
	fail "the second gateway's log has a sanitizer report"
fi
GW_LOG=$GW_LOG_1
LAT_FILE=latencies

if [ -s "$T/latencies" ]; then
	echo "# latency summary: change sent -> routes published, ms: median $(cut -d' ' -f1 "$T/latencies" | jg_median), max $(cut -d' ' -f1 "$T/latencies" | sort -n | tail -1); event arrived -> published: median $(cut -d' ' -f2 "$T/latencies" | jg_median), max $(cut -d' ' -f2 "$T/latencies" | sort -n | tail -1); n=$(wc -l <"$T/latencies")"
	echo "# latency: $(awk '$2 !~ /^[0-9]+$/ || $2 > 100 { n++ } END { print n + 0 }' "$T/latencies") of $(wc -l <"$T/latencies") changes took over 100 ms from reaching the gateway (a target, printed)"
fi
if [ -s "$T/latencies-scale" ]; then
	echo "# latency summary, 10,000 pods: event arrived -> published, ms: $(cut -d' ' -f2 "$T/latencies-scale" | tr '\n' ' ')(wall time, includes waiting for the CPU)"
fi
[ -s "$T/kubectl.err" ] && { echo "# kubectl said:"; jg_show "$T/kubectl.err"; }
jg_check_log_clean
jg_done
