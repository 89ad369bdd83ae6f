#!/usr/bin/env bash
# Prometheus metrics and probes over HTTP (libmicrohttpd): counters move
# with real logins, jumps and refusals; /readyz turns 503 while draining.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
jg_keygen alice
jg_keygen mallory
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/alice.pub" "$T/pod_ak"
POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_ak"
{
	echo "items:"
	jg_pod_yaml a alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
} >"$T/routes.yaml"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
M_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "metrics:
  listen: 127.0.0.1:$M_PORT
limits:
  drain_timeout_s: 20"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
jg_wait_port 127.0.0.1 "$M_PORT"
jg_ssh_config "$T/ssh_alice" "$T/alice"
jg_ssh_config "$T/ssh_mallory" "$T/mallory"
GW="alice@127.0.0.1:$GW_PORT"
M="http://127.0.0.1:$M_PORT"
metric() {	# metric 'name{labels}' -> value
	curl -s "$M/metrics" | awk -v k="$1" '$1 == k {print $2}'
}

check "/healthz answers ok" [ "$(curl -s "$M/healthz")" = ok ]
check "/readyz answers ready once routes are loaded" [ "$(curl -s -o /dev/null -w '%{http_code}' "$M/readyz")" = 200 ]
check "an unknown path is 404" [ "$(curl -s -o /dev/null -w '%{http_code}' "$M/nope")" = 404 ]
check "POST is refused" [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$M/metrics")" = 405 ]

out=$(ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" 'head -c 100000 /dev/zero' 2>/dev/null | wc -c)
check "a jump moves data" [ "$out" -eq 100000 ]
ssh -F "$T/ssh_alice" -J "$GW" "$ME@nosuchjob" true 2>/dev/null
ssh -F "$T/ssh_mallory" -p "$GW_PORT" alice@127.0.0.1 true 2>/dev/null
ssh -F "$T/ssh_alice" -p "$GW_PORT" alice@127.0.0.1 jobs >/dev/null 2>&1

curl -s "$M/metrics" >"$T/metrics.txt"
check "the page is valid Prometheus text" python3 - "$T/metrics.txt" <<'PY'
import re, sys
line_re = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? [0-9.e+-]+$')
n = 0
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        continue
    assert line_re.match(line), line
    n += 1
assert n > 20, n
PY
check "accepted connections are counted" [ "$(metric 'jumpgate_connections_total{result="accepted"}')" -ge 4 ]
check "accepted public keys are counted" [ "$(metric 'jumpgate_auth_total{method="publickey",result="accepted"}')" -ge 3 ]
check "failed public keys are counted" [ "$(metric 'jumpgate_auth_total{method="publickey",result="failed"}')" -ge 1 ]
check "jump sessions are counted" [ "$(metric 'jumpgate_sessions_total{mode="jump"}')" -eq 1 ]
check "gateway answers are counted" [ "$(metric 'jumpgate_sessions_total{mode="gateway"}')" -eq 1 ]
check "route lookups by result: ok" [ "$(metric 'jumpgate_route_lookups_total{result="ok"}')" -eq 1 ]
check "route lookups by result: not_found" [ "$(metric 'jumpgate_route_lookups_total{result="not_found"}')" -eq 1 ]
check "relayed bytes down include the 100000 sent" [ "$(metric 'jumpgate_relayed_bytes_total{direction="down"}')" -ge 100000 ]
check "the handshake histogram counted the logins" [ "$(metric 'jumpgate_handshake_seconds_count')" -ge 3 ]
check "the route table size is shown" [ "$(metric 'jumpgate_routes_pods')" -eq 1 ]
check "the static source is up" [ "$(metric 'jumpgate_route_source_up')" -eq 1 ]

# Draining: not ready any more, while a session still runs.
ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" 'sleep 4' >/dev/null 2>&1 &
hold=$!
JG_PIDS+=("$hold")
for t in $(seq 200); do [ "$(metric jumpgate_sessions_active)" = 1 ] && break; sleep 0.05; done
check "an open session shows as active" [ "$(metric jumpgate_sessions_active)" -eq 1 ]
kill -TERM "$GW_PID"
code=000
for t in $(seq 100); do
	code=$(curl -s -o /dev/null -w '%{http_code}' "$M/readyz")
	[ "$code" = 503 ] && break
	sleep 0.05
done
check "/readyz is 503 while draining" [ "$code" = 503 ]
wait "$hold"
jg_done
