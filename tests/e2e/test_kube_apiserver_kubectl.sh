#!/usr/bin/env bash
# The Kubernetes API test server (tests/kube/apiserver.py) is only useful if
# it behaves like a real one, so the real kubectl drives it here: apply,
# get (table, wide, json), selectors, annotate, label, status patches,
# delete, --watch, pagination, the three kubeconfig contexts; raw curl
# checks the watch protocol details kubectl hides (bookmarks, 410 after a
# compaction, expired continue tokens), large objects, fault injection and
# a restart that keeps the cluster.  Needs no jumpgate binary.
. "$(dirname "$0")/lib.sh"

KUBE=${JG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/kube
if ! command -v kubectl >/dev/null || ! command -v curl >/dev/null; then
	fail "kubectl and curl are installed (tests/install-deps.sh installs them)"
	jg_done
fi

echo "# kubectl $(kubectl version --client -o json 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')"

TOKEN=tok-$RANDOM$RANDOM
TLS=$T/kube
NS=crater-workspace
POD=jpt-alice-251110-ab12c-default0-0
echo "rotating-token-1" >"$T/token"

# start_api [PORT]: starts the server (on PORT to restart), sets API_PID,
# PORT and URL.
start_api() {
	rm -f "$T/port"
	python3 "$KUBE/apiserver.py" --listen "127.0.0.1:${1:-0}" --tls-dir "$TLS" \
	    --token "$TOKEN" --token-file "$T/token" --state "$T/state.json" \
	    --port-file "$T/port" --bookmark-interval 60 2>>"$T/apiserver.log" &
	API_PID=$!
	JG_PIDS+=("$API_PID")
	jg_wait_log "$T/port" '^[0-9]+$' || { jg_show "$T/apiserver.log"; return 1; }
	PORT=$(cat "$T/port")
	URL=https://127.0.0.1:$PORT
}

k() {
	kubectl --kubeconfig "$TLS/kubeconfig" --cache-dir "$T/kcache" \
	    --request-timeout=10s "$@"
}
api() {
	curl -sS --max-time 10 --cacert "$TLS/ca.crt" \
	    -H "Authorization: Bearer $TOKEN" "$@"
}
ctl() {
	curl -sS --max-time 10 --cacert "$TLS/ca.crt" "$URL/_test/$1"
}
# py EXPR: evaluates EXPR with o = the JSON document on stdin, prints it.
py() {
	python3 -c 'import json, sys; o = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
# events FILE: the watch events in FILE (one JSON event a line, or
# kubectl's pretty-printed stream) as "TYPE name rv" lines.
events() {
	python3 - "$1" <<'PY'
import json, sys
s, i, dec = open(sys.argv[1]).read(), 0, json.JSONDecoder()
while True:
    while i < len(s) and s[i].isspace():
        i += 1
    if i >= len(s):
        break
    e, i = dec.raw_decode(s, i)
    md = e["object"].get("metadata", {})
    print(e["type"], md.get("name", "-"), md.get("resourceVersion", "-"),
          e["object"].get("code", "-"))
PY
}
rv_of() { k get pod "$1" -o jsonpath='{.metadata.resourceVersion}'; }

start_api || { fail "the API server starts"; jg_done; }
pass "the API server starts and writes its port"
check "it made a CA, server and client certificates and kubeconfigs" \
	test -s "$TLS/ca.crt" -a -s "$TLS/server.key" -a -s "$TLS/client.crt" \
	    -a -s "$TLS/kubeconfig" -a -s "$TLS/kubeconfig-paths"

out=$(k version 2>&1)
# kubectl before 1.28 prints the whole version.Info struct.
check "kubectl version sees the server" \
	grep -qE 'Server Version: (v1\.32|version\.Info\{.*GitVersion:"v1\.32)' <<<"$out"

# kubectl before 1.27 fetches this (as protobuf) before it applies anything.
check "/openapi/v2 answers protobuf with swagger 2.0 and JSON alike" \
	eval '[ "$(api -H "Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf" \
	    "$URL/openapi/v2" | head -c 5 | od -An -tx1 | tr -d " ")" = 0a03322e30 ] &&
	    [ "$(api "$URL/openapi/v2" | py "o[\"swagger\"]")" = 2.0 ]'

# ---- apply: create
out=$(k apply -f "$KUBE/fixtures/crater-job.yaml" -f "$KUBE/fixtures/crater-node.yaml" 2>&1)
check "kubectl apply creates the pod" grep -q "pod/$POD created" <<<"$out"
check "kubectl apply creates the NodePort service" \
	grep -q "service/np-alice-3f9a1 created" <<<"$out"
check "kubectl apply creates the node" grep -q "node/node-a created" <<<"$out"

# ---- get: server-side tables, wide, json
out=$(k get pods 2>&1)
check "get pods prints the server's table" \
	grep -qE "^$POD +1/1 +Running +0 +[0-9]+s" <<<"$out"
out=$(k get pods -o wide 2>&1)
check "get pods -o wide adds IP and node" \
	grep -qE "^$POD .* 10\.244\.1\.17 +node-a +<none>" <<<"$out"
out=$(k get svc -o wide 2>&1)
check "get svc -o wide shows the NodePort and selector" \
	grep -qE "^np-alice-3f9a1 +NodePort +10\.96\.[0-9.]+ +<none> +22:32513/TCP .*volcano.sh/job-name=jpt-alice-251110-ab12c" <<<"$out"
out=$(k get nodes -o wide 2>&1)
check "get nodes -o wide shows Ready, role and addresses" \
	grep -qE "^node-a +Ready +worker .*192\.168\.5\.82 +203\.0\.113\.82" <<<"$out"
k get pods -o json >"$T/pods.json" 2>&1
check "get pods -o json lists the pod with its phase and hostIP" \
	[ "$(py '[(i["kind"], i["status"]["phase"], i["status"]["hostIP"]) for i in o["items"]]' <"$T/pods.json")" \
	    = "[('Pod', 'Running', '192.168.5.82')]" ]
check "the nodeport annotation survives as JSON" \
	[ "$(py 'json.loads(o["items"][0]["metadata"]["annotations"]["nodeport.crater.raids.io/ssh"])["nodePort"]' <"$T/pods.json")" = 32513 ]
check "the pod has uid, creationTimestamp, generation 1 and server defaults" \
	[ "$(py '[[bool(i["metadata"]["uid"]), bool(i["metadata"]["creationTimestamp"]), i["metadata"]["generation"], i["spec"]["restartPolicy"]] for i in o["items"]][0]' <"$T/pods.json")" \
	    = "[True, True, 1, 'Always']" ]
raw=$(api "$URL/api/v1/namespaces/$NS/pods")
check "a raw list has kind PodList, the list RV, and items without kind" \
	[ "$(py '(o["kind"], o["metadata"]["resourceVersion"].isdigit(), "kind" in o["items"][0])' <<<"$raw")" \
	    = "('PodList', True, False)" ]

# ---- selectors
check "get -l task-user=alice finds the pod" \
	[ "$(k get pods -l crater.raids.io/task-user=alice -o name)" = "pod/$POD" ]
check "get -l task-user=bob finds nothing" \
	[ -z "$(k get pods -l crater.raids.io/task-user=bob -o name 2>/dev/null)" ]
check "set-based selectors work (in, notin, !key)" \
	[ "$(k get pods -l 'crater.raids.io/task-user in (alice,bob),volcano.sh/task-spec notin (master),!nope' -o name)" = "pod/$POD" ]
check "--field-selector status.phase=Running finds it" \
	[ "$(k get pods --field-selector status.phase=Running -o name)" = "pod/$POD" ]
check "--field-selector status.phase!=Running does not" \
	[ -z "$(k get pods --field-selector status.phase!=Running -o name 2>/dev/null)" ]
out=$(k get pods --field-selector spec.foo=bar 2>&1)
check "an unknown field selector is a BadRequest" \
	grep -q "field label not supported: spec.foo" <<<"$out"

# ---- annotate, label, apply again, status
rv0=$(rv_of "$POD")
k annotate pod "$POD" crater.raids.io/ssh-enabled=192.168.5.82:32600 --overwrite >/dev/null
rv1=$(rv_of "$POD")
check "kubectl annotate changes the annotation" \
	[ "$(k get pod "$POD" -o jsonpath='{.metadata.annotations.crater\.raids\.io/ssh-enabled}')" = "192.168.5.82:32600" ]
check "and the resourceVersion grows ($rv0 -> $rv1)" [ "$rv1" -gt "$rv0" ]
k label pod "$POD" stage=one >/dev/null
rv2=$(rv_of "$POD")
check "kubectl label adds the label, and the resourceVersion grows" \
	[ "$(k get pods -l stage=one -o name)" = "pod/$POD" -a "$rv2" -gt "$rv1" ]
k label pod "$POD" stage=one --overwrite >/dev/null
check "a label write that changes nothing keeps the resourceVersion" \
	[ "$(rv_of "$POD")" = "$rv2" ]

sed -e 's/task-name: myjob/task-name: "my job 2"/' -e 's/:2025.01/:2025.02/' \
    "$KUBE/fixtures/crater-job.yaml" >"$T/job2.yaml"
out=$(k apply -f "$T/job2.yaml" 2>&1)
check "apply with a change configures the pod, leaves the service" \
	grep -q "pod/$POD configured" <<<"$out"
check "the unchanged service is reported unchanged" \
	grep -q "service/np-alice-3f9a1 unchanged" <<<"$out"
k get pod "$POD" -o json >"$T/pod2.json"
check "the 3-way merge applied the change and kept kubectl's label" \
	[ "$(py '(o["metadata"]["annotations"]["crater.raids.io/task-name"], o["spec"]["containers"][0]["image"].split(":")[-1], len(o["spec"]["containers"][0]["ports"]), o["metadata"]["labels"]["stage"], o["metadata"]["generation"])' <"$T/pod2.json")" \
	    = "('my job 2', '2025.02', 2, 'one', 2)" ]
# patch_status TYPE PATCH: patches the pod's status subresource; kubectl
# before 1.24 has no --subresource, so there the same PATCH goes by curl.
patch_status() {
	if k patch --help | grep -q -- --subresource; then
		k patch pod "$POD" --subresource=status --type="$1" -p "$2" >/dev/null
	else
		api -o /dev/null -X PATCH -H "Content-Type: application/$1-patch+json" \
		    -d "$2" "$URL/api/v1/namespaces/$NS/pods/$POD/status"
	fi
}
patch_status merge '{"status":{"phase":"Failed"}}'
check "a patch of the status subresource changes the phase" \
	[ "$(k get pods --field-selector status.phase=Failed -o name)" = "pod/$POD" ]
k patch pod "$POD" --type=merge -p '{"status":{"phase":"Unknown"}}' >/dev/null
check "a patch of the main resource ignores status, as a real server does" \
	[ "$(k get pod "$POD" -o jsonpath='{.status.phase}')" = Failed ]
patch_status json '[{"op":"replace","path":"/status/phase","value":"Running"}]'
check "a JSON patch on status puts it back" \
	[ "$(k get pod "$POD" -o jsonpath='{.status.phase}')" = Running ]

# ---- errors shaped like Kubernetes'
out=$(k create -f "$KUBE/fixtures/crater-node.yaml" 2>&1)
check "creating an existing object is AlreadyExists" \
	grep -q 'Error from server (AlreadyExists): .*nodes "node-a" already exists' <<<"$out"
out=$(k get pod nope 2>&1)
check "a missing object is NotFound" \
	grep -q 'Error from server (NotFound): pods "nope" not found' <<<"$out"
raw=$(api "$URL/api/v1/namespaces/$NS/pods/nope")
check "the NotFound Status has Kubernetes' shape" \
	[ "$(py '(o["kind"], o["apiVersion"], o["status"], o["reason"], o["code"], o["details"])' <<<"$raw")" \
	    = "('Status', 'v1', 'Failure', 'NotFound', 404, {'name': 'nope', 'kind': 'pods'})" ]
raw=$(api -H 'Content-Type: application/json' \
    --data '{"metadata":{"name":"bad"},"spec":{"containers":[{"name":"c"}]}}' \
    "$URL/api/v1/namespaces/$NS/pods")
check "a pod without an image is 422 Invalid, with the field named" \
	[ "$(py '(o["code"], o["reason"], o["message"], o["details"]["causes"][0]["field"])' <<<"$raw")" \
	    = "(422, 'Invalid', 'Pod \"bad\" is invalid: spec.containers[0].image: Required value', 'spec.containers[0].image')" ]

# ---- watch with the real kubectl
# kubectl itself in the background, not the function k: lib.sh's EXIT trap
# would run in a backgrounded function's subshell when it is stopped.
kubectl --kubeconfig "$TLS/kubeconfig" --cache-dir "$T/kcache" \
    get pods --watch -o json --output-watch-events >"$T/watch.out" 2>"$T/watch.err" &
WATCH_PID=$!
JG_PIDS+=("$WATCH_PID")
jg_wait_log "$T/watch.out" '"type": ?"ADDED"'
k run w1 --image=busybox:1.36 --restart=Never >/dev/null
k label pod w1 stage=two >/dev/null
out=$(k delete pod w1 2>&1)
check "kubectl delete pod deletes (and its wait sees it gone)" \
	grep -q 'pod "w1" deleted' <<<"$out"
jg_wait_log "$T/watch.out" '"type": ?"DELETED"'
jg_stop "$WATCH_PID"
events "$T/watch.out" >"$T/watch.ev"
check "kubectl --watch saw the initial pod as ADDED" \
	grep -q "^ADDED $POD " "$T/watch.ev"
check "then w1 ADDED, MODIFIED, DELETED in order" \
	[ "$(awk '$2 == "w1" { printf "%s ", $1 }' "$T/watch.ev")" = "ADDED MODIFIED DELETED " ]
check "with increasing resourceVersions" \
	awk '$2 == "w1" { if ($3 <= last) bad = 1; last = $3 } END { exit bad }' "$T/watch.ev"
check "kubectl get w1 now says NotFound" \
	grep -q NotFound <<<"$(k get pod w1 2>&1)"

# ---- authentication
out=$(k --token wrong-token get pods 2>&1)
status=$?
check "a wrong token makes kubectl fail" [ $status -ne 0 ]
check "saying Unauthorized" grep -q "You must be logged in to the server (Unauthorized)" <<<"$out"
raw=$(curl -sS --max-time 10 --cacert "$TLS/ca.crt" "$URL/api/v1/pods")
check "no credentials: a 401 Status" \
	[ "$(py '(o["kind"], o["reason"], o["code"])' <<<"$raw")" = "('Status', 'Unauthorized', 401)" ]
ctl requests-clear >/dev/null
check "the client-certificate context works" \
	[ "$(k --context jumpgate-cert get pods -o name)" = "pod/$POD" ]
check "and the server saw the certificate's CN as the user" \
	[ "$(ctl requests | py 'sorted({r["user"] for r in o["requests"]})')" = "['jumpgate']" ]
check "the insecure-skip-tls-verify context works" \
	[ "$(k --context jumpgate-insecure get pods -o name)" = "pod/$POD" ]
check "the kubeconfig with file paths works" \
	[ "$(kubectl --kubeconfig "$TLS/kubeconfig-paths" --cache-dir "$T/kcache" --context jumpgate-cert get pods -o name)" = "pod/$POD" ]
check "the token file's content is a valid token" \
	[ "$(k --token rotating-token-1 get pods -o name)" = "pod/$POD" ]
echo "rotating-token-2" >"$T/token"
check "after rotation the new content is valid" \
	[ "$(k --token rotating-token-2 get pods -o name)" = "pod/$POD" ]
check "and the old one is not" \
	grep -q Unauthorized <<<"$(k --token rotating-token-1 get pods 2>&1)"

# ---- pagination
for i in 1 2 3 4; do
	k run "page$i" --image=busybox:1.36 --restart=Never -l page=yes >/dev/null
done
ctl requests-clear >/dev/null
check "get pods --chunk-size=2 lists all 5 pods" \
	[ "$(k get pods --chunk-size=2 -o name | wc -l)" -eq 5 ]
check "in 3 requests of limit=2, two with a continue token" \
	[ "$(ctl requests | py '[(r["query"].get("limit"), "continue" in r["query"]) for r in o["requests"] if r["path"].endswith("/pods")]')" \
	    = "[('2', False), ('2', True), ('2', True)]" ]
raw=$(api "$URL/api/v1/namespaces/$NS/pods?limit=2")
cont=$(py 'o["metadata"]["continue"]' <<<"$raw")
check "a raw first page has a continue token and remainingItemCount 3" \
	[ "$(py 'o["metadata"]["remainingItemCount"]' <<<"$raw")" = 3 ]
ctl compact >/dev/null
raw=$(api "$URL/api/v1/namespaces/$NS/pods?limit=2&continue=$cont")
check "after a compaction the continue token is 410 Expired" \
	[ "$(py '(o["code"], o["reason"])' <<<"$raw")" = "(410, 'Expired')" ]

# ---- raw watches: bookmarks, 410, selectors
rv_now=$(api "$URL/api/v1/namespaces/$NS/pods?limit=1" | py 'o["metadata"]["resourceVersion"]')
curl -sS -N --max-time 20 --cacert "$TLS/ca.crt" -H "Authorization: Bearer $TOKEN" \
    "$URL/api/v1/namespaces/$NS/pods?watch=1&allowWatchBookmarks=true&resourceVersion=$rv_now&labelSelector=page%3Dyes" \
    >"$T/raw.watch" 2>"$T/raw.err" &
RAW_PID=$!
JG_PIDS+=("$RAW_PID")
tries=100
until [ "$(ctl state | py 'len(o["watches"])')" -ge 1 ] || [ $tries -eq 0 ]; do
	tries=$((tries - 1))
	sleep 0.05
done
ctl bookmark >/dev/null
jg_wait_log "$T/raw.watch" '"type":"BOOKMARK"'
check "a watch with allowWatchBookmarks gets a BOOKMARK on demand" \
	grep -q "^BOOKMARK - $rv_now " <(events "$T/raw.watch")
k label pod page1 page=no --overwrite >/dev/null
k label pod "$POD" page=yes >/dev/null
jg_wait_count "$T/raw.watch" '"type":"(ADDED|DELETED)"' 2
events "$T/raw.watch" >"$T/raw.ev"
check "leaving a watch's label selection is DELETED, entering it ADDED" \
	[ "$(awk '$1 != "BOOKMARK" { printf "%s %s,", $1, $2 }' "$T/raw.ev")" = "DELETED page1,ADDED $POD," ]
ctl 'bookmark-interval?seconds=0.2' >/dev/null
jg_wait_count "$T/raw.watch" '"type":"BOOKMARK"' 3
check "and periodic BOOKMARKs at the set interval" \
	[ "$(jg_count "$T/raw.watch" '"type":"BOOKMARK"')" -ge 3 ]
ctl 'bookmark-interval?seconds=60' >/dev/null
ctl drop-watches >/dev/null
jg_wait_gone "$RAW_PID"
wait "$RAW_PID"
check "drop-watches cuts the stream mid-body (curl exit 18)" [ $? -eq 18 ]

ctl compact >/dev/null
api -N "$URL/api/v1/namespaces/$NS/pods?watch=1&resourceVersion=$rv_now" >"$T/old.watch"
check "a watch from an RV older than the compaction gets ERROR 410 and ends" \
	[ "$(events "$T/old.watch")" = "ERROR - - 410" ]
check "its Status says too old resource version, reason Expired" \
	grep -q '"message":"too old resource version: [0-9]* ([0-9]*)","reason":"Expired"' "$T/old.watch"
out=$(api -N "$URL/api/v1/namespaces/$NS/pods?watch=1&resourceVersion=$(ctl state | py 'o["resourceVersion"]')&timeoutSeconds=1")
status=$?
check "timeoutSeconds ends an idle watch cleanly" [ $status -eq 0 -a -z "$out" ]

# ---- NodePort allocation, as the real server's: in range, never shared.
# svc NAME [NODEPORT]: a NodePort Service manifest for kubectl apply
# (kubectl create service sends protobuf, which this server does not speak).
svc() {
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s"},"spec":{"type":"NodePort","selector":{"app":"%s"},"ports":[{"port":2222,"targetPort":22%s}]}}\n' \
	    "$1" "$1" "${2:+,\"nodePort\":$2}"
}
nodeport_of() { k get svc "$1" -o jsonpath='{.spec.ports[0].nodePort}'; }
svc np1 | k apply -f - >/dev/null
np=$(nodeport_of np1)
check "a NodePort Service without a nodePort gets one in 30000-32767 ($np)" \
	[ -n "$np" ] && [ "$np" -ge 30000 -a "$np" -le 32767 ]
out=$(svc np2 "$np" | k apply -f - 2>&1)
check "a second Service asking for the same nodePort is refused" \
	grep -q "provided port is already allocated" <<<"$out"
k label svc np1 relabelled=yes >/dev/null
check "an update of the holder keeps its port (no conflict with itself)" \
	[ -n "$np" ] && [ "$(nodeport_of np1)" = "$np" ]
k delete svc np1 >/dev/null
svc np2 "$np" | k apply -f - >/dev/null
check "once the holder is deleted the port can be taken" \
	[ -n "$np" ] && [ "$(nodeport_of np2)" = "$np" ]
svc np3 | k apply -f - >/dev/null
check "Services get distinct cluster IPs" \
	[ "$(k get svc np2 np3 -o jsonpath='{.items[*].spec.clusterIP}' | tr ' ' '\n' | sort -u | grep -c .)" -eq 2 ]
k delete svc np2 np3 >/dev/null

# ---- faults
ctl 'fail?count=1&code=500&path=/pods$' >/dev/null
out=$(k get pods 2>&1)
check "an injected 500 reaches kubectl as InternalError" \
	grep -q "Error from server (InternalError)" <<<"$out"
check "and only once" [ "$(k get pod "$POD" -o name)" = "pod/$POD" ]
ctl 'fail?count=1&code=429&path=/pods$' >/dev/null
check "an injected 429 with Retry-After is retried by kubectl" \
	[ "$(k get pods -l page -o name | wc -l)" -eq 5 ]

# ---- a 1 MiB annotation
python3 -c '
import json
print(json.dumps({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "big", "annotations": {"big": "x" * (1 << 20)}},
    "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}))' >"$T/big.json"
code=$(api -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$T/big.json" "$URL/api/v1/namespaces/$NS/pods")
check "a pod with a 1 MiB annotation is created" [ "$code" = 201 ]
check "and kubectl reads it back whole (a gzipped response)" \
	[ "$(k get pod big -o json | py 'len(o["metadata"]["annotations"]["big"])')" = 1048576 ]

# ---- restart with --state
rv_before=$(ctl state | py 'int(o["resourceVersion"])')
kill -TERM "$API_PID"
wait "$API_PID"
check "SIGTERM stops the server with status 0" [ $? -eq 0 ]
jg_stop "$API_PID"
start_api "$PORT" || fail "the API server restarts on the same port"
check "after a restart the cluster is still there" \
	[ "$(k get pods -o name | wc -l)" -eq 6 ]
k run after --image=busybox:1.36 --restart=Never >/dev/null
check "and the resourceVersion continues from the saved one" \
	[ "$(rv_of after)" -gt "$rv_before" ]
api -N "$URL/api/v1/pods?watch=1&resourceVersion=$rv_now" >"$T/restart.watch"
check "a watch from before the restart gets 410" \
	[ "$(events "$T/restart.watch")" = "ERROR - - 410" ]

jg_done
