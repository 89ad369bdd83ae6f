#!/usr/bin/env bash
# PROXY protocol v1 and v2 on a listener, accepted only from trusted
# networks: the client address it carries is the one the gateway logs,
# penalises and checks from= options against.  The "clients" here are
# documentation addresses written into headers by a loopback proxy; no
# packet goes to them.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
jg_keygen alice
jg_keygen mallory
jg_keygen fromkey
mkdir -p "$T/users"
{
	cat "$T/alice.pub"
	printf 'from="198.51.100.0/24" %s\n' "$(cat "$T/fromkey.pub")"
} >"$T/users/alice.keys"
cat "$T/alice.pub" "$T/fromkey.pub" >"$T/pod_ak"
POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_ak"
{
	echo "items:"
	jg_pod_yaml a alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
} >"$T/routes.yaml"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
UNTRUSTED_PORT=$(jg_free_port 127.0.0.1 20000 29999)
cat >"$T/jumpgate.yaml" <<CFG
listen:
  - address: 127.0.0.1
    port: $GW_PORT
    proxy_protocol: true
    proxy_trusted: [127.0.0.1]
  - address: 127.0.0.1
    port: $UNTRUSTED_PORT
    proxy_protocol: true
    proxy_trusted: ["10.0.0.0/8"]
host_keys: {paths: [$T/hk], generate: true}
users: {key_sources: [{type: authorized_keys, path: "$T/users/%u.keys"}]}
routes: {source: static, static_file: $T/routes.yaml}
limits: {penalty_failures: 3, penalty_duration_s: 60}
logging: {level: verbose}
CFG
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
jg_ssh_config "$T/ssh_alice" "$T/alice"
jg_ssh_config "$T/ssh_from" "$T/fromkey"
jg_ssh_config "$T/ssh_mallory" "$T/mallory"

# lb MODE ADDR PORT: starts a proxy, sets LB_PORT.
lb() {
	rm -f "$T/lb.port"
	python3 "$JG_SOURCE_DIR/tests/e2e/tools/proxy_lb.py" "$T/lb.port" "$2" "$1" "$3" "$4" &
	JG_PIDS+=("$!")
	LB_PID=$!
	for t in $(seq 200); do [ -s "$T/lb.port" ] && break; sleep 0.02; done
	LB_PORT=$(cat "$T/lb.port")
}

lb v1 "$GW_PORT" 198.51.100.7 40001
out=$(ssh -F "$T/ssh_alice" -J "alice@127.0.0.1:$LB_PORT" "$ME@myjob" 'echo via-v1' 2>"$T/err")
check "a login through a PROXY v1 balancer works" [ "$out" = via-v1 ]
check "the log names the client from the v1 header" \
	grep -q "Accepted publickey for alice from 198.51.100.7 port 40001 ssh2" "$GW_LOG"
# The gateway writes the audit line when it has closed the session, which
# may be after the client has exited.
check "the audit line names the client from the header" \
	jg_wait_log "$GW_LOG" "session-end .* from=198\.51\.100\.7:40001 "
out=$(ssh -F "$T/ssh_from" -J "alice@127.0.0.1:$LB_PORT" "$ME@myjob" 'echo from-ok' 2>"$T/err")
check "from= is checked against the header's address (allowed)" [ "$out" = from-ok ]
jg_stop "$LB_PID"

lb v2 "$GW_PORT" 2001:db8::9 40002
out=$(ssh -F "$T/ssh_alice" -J "alice@127.0.0.1:$LB_PORT" "$ME@myjob" 'echo via-v2' 2>"$T/err")
check "a login through a PROXY v2 (IPv6) balancer works" [ "$out" = via-v2 ]
check "the log names the client from the v2 header" \
	grep -q "Accepted publickey for alice from 2001:db8::9 port 40002 ssh2" "$GW_LOG"
ssh -F "$T/ssh_from" -J "alice@127.0.0.1:$LB_PORT" "$ME@myjob" true 2>"$T/err"
check "from= is checked against the header's address (refused)" \
	grep -q "Permission denied (publickey)" "$T/err"
jg_stop "$LB_PID"

lb v2 "$GW_PORT" 203.0.113.9 40003
for i in 1 2 3; do
	ssh -F "$T/ssh_mallory" -p "$LB_PORT" alice@127.0.0.1 true 2>/dev/null
done
ssh -F "$T/ssh_alice" -J "alice@127.0.0.1:$LB_PORT" "$ME@myjob" 'echo penalised' >"$T/out" 2>"$T/err"
check "penalties go to the client in the header" [ ! -s "$T/out" ]
check "the penalty drop names the header's client" \
	grep -qE "drop connection from \[203.0.113.9\]:40003 \(via PROXY\) penalty" "$GW_LOG"
jg_stop "$LB_PID"
lb v1 "$GW_PORT" 198.51.100.8 40004
out=$(ssh -F "$T/ssh_alice" -J "alice@127.0.0.1:$LB_PORT" "$ME@myjob" 'echo other-client' 2>"$T/err")
check "another client behind the same balancer is not penalised" [ "$out" = other-client ]
jg_stop "$LB_PID"

lb v2local "$GW_PORT" 127.0.0.1 1
out=$(ssh -F "$T/ssh_alice" -J "alice@127.0.0.1:$LB_PORT" "$ME@myjob" 'echo local' 2>"$T/err")
check "a v2 LOCAL header (health check) keeps the peer address" [ "$out" = local ]
jg_stop "$LB_PID"

lb garbage "$GW_PORT" 127.0.0.1 1
ssh -F "$T/ssh_alice" -p "$LB_PORT" alice@127.0.0.1 true 2>"$T/err"
check "a bad header is refused and logged" grep -q "bad PROXY header from 127.0.0.1 port [0-9]*: not a PROXY protocol header" "$GW_LOG"
jg_stop "$LB_PID"

lb v1 "$UNTRUSTED_PORT" 198.51.100.7 40005
ssh -F "$T/ssh_alice" -p "$LB_PORT" alice@127.0.0.1 true 2>"$T/err"
check "a sender outside proxy_trusted is refused" \
	grep -q "refused connection from 127.0.0.1 port [0-9]* on 127.0.0.1 port $UNTRUSTED_PORT: not in proxy_trusted" "$GW_LOG"
jg_stop "$LB_PID"
jg_done
