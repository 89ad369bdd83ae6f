#!/usr/bin/env bash
# The Kubernetes API server misbehaves while users log in.  With
# routes.source kubernetes against tests/kube/apiserver.py, two loops of
# real logins (`ssh -J alice@gw me@JOB`, one after the other, bounded in
# count and time) run the whole time: one to a job routed by its pod's
# nodeport annotation, one to a job routed only by a NodePort Service.
# A third loop runs jg_load (tests/bench/jg_load.c): key exchange, login
# and a direct-tcpip open to the first job's port 8888 rule (an echo
# server), many a second, so that even a brief gap in the route table
# would show as a refused open (a refusal on a port other than 22 is a
# plain channel-open failure).
# Meanwhile the API server is stopped and restarted on its port, every
# open watch gets ERROR 410 (and the history is compacted so that the
# re-watch is 410 too), and a burst of 500s hits the lists and watches.
# Existing jobs must keep routing throughout: zero failed logins.  Each
# fault must have been seen by the gateway (its log) and by at least one
# login of each loop while it lasted.  Afterwards the gateway's fds return
# to the baseline taken before the faults.
. "$(dirname "$0")/lib.sh"
. "$JG_TOOLS/ops_lib.sh"

ME=$(id -un)
NS=crater-workspace
jg_keygen alice
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/alice.pub" "$T/pod_ak"

api_start() { jg_api_start "$1"; }
ktest() { jg_api_test "$1"; }
api_start 127.0.0.1:0 || { fail "the test API server starts"; jg_done; }
kapi() {	# kapi METHOD PATH [JSON]
	curl -sS --max-time 10 --cacert "$T/tls/ca.crt" \
	    -H "Authorization: Bearer admin-token" \
	    -H "Content-Type: application/json" \
	    -X "$1" ${3:+--data "$3"} "$API$2" >"$T/kapi.out"
}

# Two pods (real sshd) and their jobs: A by annotation, B by a Service.
PA=$(jg_free_port 127.0.0.2)
jg_start_pod a 127.0.0.2 "$PA" "$T/pod_ak" || { fail "pod a starts"; jg_done; }
PW=$(jg_free_port 127.0.0.2)
STREAM=$(jg_stream_bin) || { fail "jg_stream builds"; jg_done; }
JG_LOAD=$(jg_load_bin) || { fail "jg_load builds"; jg_done; }
"$STREAM" echo -a 127.0.0.2 -p "$PW" -o "$T/web.report" -w "$T/web.ready" 2>"$T/web.log" &
JG_PIDS+=("$!")
jg_wait_log "$T/web.ready" "^listening" || { fail "the web echo starts"; jg_done; }
PB=$(jg_free_port 127.0.0.3)
jg_start_pod b 127.0.0.3 "$PB" "$T/pod_ak" || { fail "pod b starts"; jg_done; }
pod_json() {	# pod_json JOB DISPLAY HOSTIP [ANNOTATION_JSON_MEMBER]
	cat <<JSON
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$1-default0-0","namespace":"$NS",
 "labels":{"crater.raids.io/task-user":"alice","volcano.sh/job-name":"$1",
  "volcano.sh/task-spec":"default0","crater.raids.io/base-url":"${1#*-}"},
 "annotations":{"crater.raids.io/task-name":"$2"${4:+,$4}}},
 "spec":{"containers":[{"name":"main","image":"crater/jupyter:latest","ports":[{"containerPort":22}]}]},
 "status":{"phase":"Running","hostIP":"$3"}}
JSON
}
kapi POST "/api/v1/namespaces/$NS/pods" "$(pod_json jpt-alice-251121-anno1 annojob 127.0.0.2 \
    "\"nodeport.crater.raids.io/ssh\":\"{\\\"name\\\":\\\"ssh\\\",\\\"containerPort\\\":22,\\\"address\\\":\\\"127.0.0.2\\\",\\\"nodePort\\\":$PA}\",
    \"nodeport.crater.raids.io/web\":\"{\\\"name\\\":\\\"web\\\",\\\"containerPort\\\":8888,\\\"address\\\":\\\"127.0.0.2\\\",\\\"nodePort\\\":$PW}\"")"
kapi POST "/api/v1/namespaces/$NS/pods" "$(pod_json jpt-alice-251121-svc01 svcjob 127.0.0.3)"
kapi POST "/api/v1/namespaces/$NS/services" "{\"apiVersion\":\"v1\",\"kind\":\"Service\",
 \"metadata\":{\"name\":\"np-alice-3f9a1\",\"namespace\":\"$NS\",
  \"labels\":{\"crater.raids.io/task-user\":\"alice\"},
  \"annotations\":{\"crater.raids.io/port-name\":\"ssh\"}},
 \"spec\":{\"type\":\"NodePort\",\"selector\":{\"volcano.sh/job-name\":\"jpt-alice-251121-svc01\"},
  \"ports\":[{\"name\":\"ssh\",\"port\":22,\"targetPort\":22,\"nodePort\":$PB}]}}"
check "the API server holds the two jobs" grep -q "np-alice-3f9a1" "$T/kapi.out"

GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_kube_config "$T/jumpgate.yaml" "$GW_PORT" jumpgate-token "$NS" \
"    request_timeout_ms: 5000
    watch_timeout_s: 10
    backoff_max_ms: 500" "limits:
  max_startups: \"50:30:100\""
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_show "$GW_LOG"; jg_done; }
ops_wait_probe
jg_ssh_config "$T/ssh_alice" "$T/alice"
GW="alice@127.0.0.1:$GW_PORT"
check "the gateway starts with both jobs" grep -q "routes: 2 pods loaded" "$GW_LOG"

# ---- The login loops ----

# login_loop NAME JOB WANT: logins one after the other until $T/stop
# exists, at most 400 of them and 150 s; one line each in $T/loop-NAME:
# "ok MS" or "fail MS what-was-printed".
login_loop() {
	local name=$1 job=$2 want=$3 i=0 out deadline
	deadline=$(( $(jg_now_ms) + 150000 ))
	while [ "$i" -lt 400 ] && [ ! -e "$T/stop" ] && [ "$(jg_now_ms)" -lt "$deadline" ]; do
		i=$((i + 1))
		out=$(timeout 20 ssh -F "$T/ssh_alice" -J "$GW" "$ME@$job" \
		    'set -- $SSH_CONNECTION; echo "$3:$4"' 2>>"$T/loop-$name.err")
		if [ "$out" = "$want" ]; then
			echo "ok $(jg_now_ms)" >>"$T/loop-$name"
		else
			echo "fail $(jg_now_ms) ${out:-nothing}" >>"$T/loop-$name"
		fi
	done
}
oks() { jg_count "$T/loop-$1" "^ok "; }

# load_loop: jg_load runs of 100 handshakes (one thread) until $T/stop,
# at most 200 runs and 150 s; their summary lines go to $T/load.out.
load_loop() {
	local i=0 deadline
	deadline=$(( $(jg_now_ms) + 150000 ))
	while [ "$i" -lt 200 ] && [ ! -e "$T/stop" ] && [ "$(jg_now_ms)" -lt "$deadline" ]; do
		i=$((i + 1))
		"$JG_LOAD" -a 127.0.0.1 -p "$GW_PORT" -l alice -i "$T/alice" \
		    -d annojob -P 8888 -m handshake -n 100 -c 1 -s 10 \
		    >>"$T/load.out" 2>&1
	done
}
load_sum() {	# load_sum KEY: the sum of KEY= over the runs so far
	sed -n "s/.* $1=\\([0-9]*\\).*/\\1/p" "$T/load.out" 2>/dev/null |
	    awk '{ s += $1 } END { print s + 0 }'
}
# more_logins N: waits (bounded, 60 s) until both loops have N more
# successful logins than when it was called.
more_logins() {
	local a b tries=1200
	a=$(( $(oks anno) + $1 ))
	b=$(( $(oks svc) + $1 ))
	while [ "$tries" -gt 0 ]; do
		[ "$(oks anno)" -ge "$a" ] && [ "$(oks svc)" -ge "$b" ] && return 0
		[ -e "$T/loops.done" ] && return 1
		tries=$((tries - 1))
		sleep 0.05
	done
	return 1
}

# The baseline: the watches are open, each job has had one login, and
# that session has ended (its audit line is written).
out1=$(timeout 20 ssh -F "$T/ssh_alice" -J "$GW" "$ME@annojob" 'echo one' 2>"$T/first.err")
out2=$(timeout 20 ssh -F "$T/ssh_alice" -J "$GW" "$ME@svcjob" 'echo two' 2>>"$T/first.err")
check "both jobs route before the faults" [ "$out1 $out2" = "one two" ]
jg_wait_count "$GW_LOG" "session-end " 2 >/dev/null
FD0=$(ops_fds "$GW_PID")
echo "# baseline: $FD0 fds (listener, workers' epolls, the API server connections)"

touch "$T/loop-anno" "$T/loop-svc"
login_loop anno annojob "127.0.0.2:$PA" &
LA=$!
login_loop svc svcjob "127.0.0.3:$PB" &
LB=$!
load_loop &
LL=$!
JG_PIDS+=("$LA" "$LB" "$LL")
check "both loops log in" more_logins 2

# ---- The API server is stopped, then restarted on its port ----
jg_stop "$API_PID"
check "restart: the gateway notices the API server is gone" \
	jg_wait_log "$GW_LOG" "kubernetes: (watch|list) .* failed" 400
check "restart: both loops log in while it is down" more_logins 2
api_start "127.0.0.1:$API_PORT" || fail "restart: the API server comes back on its port"
check "restart: the gateway lists again once it answers" \
	jg_wait_log "$GW_LOG" "the API server answers again" 400
check "restart: both loops log in after it" more_logins 1

# ---- Forced 410s: every open watch, and the re-watch after compaction ----
relists=$(jg_count "$GW_LOG" "listing again: watch ERROR event 410")
ktest "compact"
ktest "expire-watches?open=1&next=2"
check "410: the gateway lists again after watch ERROR 410" \
	jg_wait_count "$GW_LOG" "listing again: watch ERROR event 410" $((relists + 1)) 400
check "410: both loops log in across the relist" more_logins 2

# ---- A burst of 500s on the lists and watches ----
burst=$(jg_count "$GW_LOG" "failed: HTTP 500")
answers=$(jg_count "$GW_LOG" "the API server answers again")
ktest "fail?count=12&code=500&method=GET&path=%28pods%7Cservices%29%24"
ktest "drop-watches"
check "500s: the burst reaches the gateway" \
	jg_wait_count "$GW_LOG" "failed: HTTP 500" $((burst + 1)) 400
check "500s: both loops log in during the burst" more_logins 2
check "500s: the gateway recovers" \
	jg_wait_count "$GW_LOG" "the API server answers again" $((answers + 1)) 400
check "500s: both loops log in after the burst" more_logins 2

touch "$T/stop"
for p in "$LA" "$LB" "$LL"; do
	jg_wait_gone "$p" 600
	wait "$p"
done
touch "$T/loops.done"
na=$(oks anno); nb=$(oks svc)
fa=$(jg_count "$T/loop-anno" "^fail "); fb=$(jg_count "$T/loop-svc" "^fail ")
echo "# logins: annotation job $na ok, $fa failed; Service job $nb ok, $fb failed"
check "zero failed logins to the annotation job ($fa of $((na + fa)))" [ "$fa" -eq 0 ]
check "zero failed logins to the Service job ($fb of $((nb + fb)))" [ "$fb" -eq 0 ]
if [ "$((fa + fb))" -gt 0 ]; then
	grep -h "^fail" "$T/loop-anno" "$T/loop-svc" | head -5 | sed 's/^/#   /'
	jg_show "$T/loop-anno.err"
	jg_show "$T/loop-svc.err"
fi
lok=$(load_sum ok); lfail=$(load_sum fail)
echo "# jg_load: $lok handshakes with a direct-tcpip open to annojob:8888 ok, $lfail failed ($(grep -c '^mode=' "$T/load.out") runs)"
check "jg_load: thousands of logins and opens, none failed ($lfail failed of $((lok + lfail)))" \
	eval '[ "$lfail" -eq 0 ] && [ "$lok" -gt 0 ]'
[ "$lfail" -eq 0 ] || grep -v ' fail=0 ' "$T/load.out" | head -3 | sed 's/^/#   /'
check "the gateway held the whole time" kill -0 "$GW_PID"
# Only the watches remain: the same fd count as in the baseline.
fds=$(ops_wait_fds "$GW_PID" "$FD0" 400)
check "the gateway's fds return to the baseline ($fds, baseline $FD0)" [ "$fds" -eq "$FD0" ]
[ "$fds" -eq "$FD0" ] || ls -l "/proc/$GW_PID/fd" | sed 's/^/#   /'
jg_check_log_clean "kubernetes: "
jg_done
