#!/usr/bin/env bash
# limits.max_startups_per_source: one address holding its share of
# unauthenticated connections cannot take more, and a user from another
# address still logs in; the global MaxStartups stays as it is.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
jg_keygen alice
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
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "limits:
  max_startups: \"10:30:100\"
  max_startups_per_source: 3"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
jg_ssh_config "$T/ssh_alice" "$T/alice"

for i in 1 2 3; do
	python3 "$JG_TOOLS/tcpprobe.py" --bind 127.0.0.40 127.0.0.1 "$GW_PORT" \
	    --ready "$T/hold$i.ready" --timeout 60 >"$T/hold$i.out" &
	JG_PIDS+=($!)
done
held() { [ -s "$T/hold1.ready" ] && [ -s "$T/hold2.ready" ] && [ -s "$T/hold3.ready" ]; }
for t in $(seq 200); do held && break; sleep 0.05; done
check "one address may hold 3 unauthenticated connections" held
python3 "$JG_TOOLS/tcpprobe.py" --bind 127.0.0.40 127.0.0.1 "$GW_PORT" --timeout 10 >"$T/fourth.out"
read -r status secs nbytes _ <"$T/fourth.out"
check "its 4th is closed at once without a banner ($status, $nbytes bytes)" [ "$status $nbytes" = "eof 0" ]
check "the drop is logged with the per-source reason" \
	jg_wait_log "$GW_LOG" "drop connection #[0-9]+ from \[127.0.0.40\]:[0-9]+ on \[127.0.0.1\]:$GW_PORT past PerSourceMaxStartups \(3 pending from this address\)"
out=$(ssh -F "$T/ssh_alice" -o BindAddress=127.0.0.41 -J "alice@127.0.0.1:$GW_PORT" "$ME@myjob" 'echo other-address' 2>"$T/err")
check "a user from another address logs in meanwhile" [ "$out" = other-address ]
jg_done
