#!/usr/bin/env bash
# 1,000 concurrent jump sessions, each moving 4 MiB through the gateway
# and the same 4 MiB back.  jg_stream (tests/e2e/tools/jg_stream.c) opens
# all the sessions first (libssh, a few threads), then streams a
# deterministic pseudo-random payload through every one at once to an echo
# "pod" (jg_stream echo; the relay does not care what is behind the port).
# sha256 is checked both ways: what the pod received against what the
# client sent (upload), what the client got back against the same (download).
# None may be corrupt, none dropped; each session has its audit line with
# the right byte counts; the gateway's fds return to the idle baseline.
# Throughput, gateway CPU and peak RSS are printed as '#' lines.
#
# Knobs: JG_LOAD_SESSIONS (1000), JG_LOAD_BYTES (4194304), JG_LOAD_THREADS
# (4 client threads), JG_LOAD_CAP_S (150: no transfer runs past this).
. "$(dirname "$0")/lib.sh"
. "$JG_TOOLS/ops_lib.sh"

N=${JG_LOAD_SESSIONS:-1000}
BYTES=${JG_LOAD_BYTES:-4194304}
THREADS=${JG_LOAD_THREADS:-4}
CAP_S=${JG_LOAD_CAP_S:-150}

# Per session: 2 fds in the gateway, 1 in the client, 1 in the echo pod.
nofile=$(ops_raise_nofile)
echo "# fd limit $nofile for the gateway, the client and the echo pod each"
if [ "$nofile" -lt $((N * 2 + 100)) ]; then
	fail "the fd limit ($nofile) allows $N sessions (needs $((N * 2 + 100)))"
	jg_done
fi
STREAM=$(jg_stream_bin) || { fail "jg_stream builds"; jg_done; }

jg_keygen alice
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"

POD_PORT=$(jg_free_port 127.0.0.2)
"$STREAM" echo -a 127.0.0.2 -p "$POD_PORT" -o "$T/echo.report" \
    -w "$T/echo.ready" 2>"$T/echo.log" &
ECHO_PID=$!
JG_PIDS+=("$ECHO_PID")
check "the echo pod listens" jg_wait_log "$T/echo.ready" "^listening"
{
	echo "items:"
	jg_pod_yaml p1 alice jpt-alice-251121-load0 loadjob 127.0.0.2 "$POD_PORT"
} >"$T/routes.yaml"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
# Limits raised for one user holding N sessions; max_startups only needs
# to cover the client's threads, which set up one session at a time each.
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "limits:
  max_sessions: $((N * 2))
  max_sessions_per_user: $((N * 2))
  max_startups: \"100:30:200\"" 
sed -i 's/level: verbose/level: info/' "$T/jumpgate.yaml"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
# The start-up port probe must be gone before the baseline is taken.
ops_wait_probe
FD0=$(ops_fds "$GW_PID")
RSS0=$(ops_rss_kb "$GW_PID")
CPU0=$(ops_cpu_s "$GW_PID")

start=$(jg_now_ms)
timeout $((CAP_S + 60)) "$STREAM" client -a 127.0.0.1 -p "$GW_PORT" -l alice \
    -i "$T/alice" -d loadjob -P 22 -n "$N" -c "$THREADS" -b "$BYTES" \
    -s "$CAP_S" -o "$T/client.report" >"$T/client.out" 2>"$T/client.err"
rc=$?
wall_ms=$(( $(jg_now_ms) - start ))
HWM=$(ops_hwm_kb "$GW_PID")
CPU1=$(ops_cpu_s "$GW_PID")
sed 's/^/# client: /' "$T/client.out"
[ -s "$T/client.err" ] && jg_show "$T/client.err"
summary=$(grep '^sessions=' "$T/client.out")
kv() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<" $summary"; }

check "jg_stream ran to the end (exit $rc)" [ "$rc" -eq 0 ]
check "all $N sessions were open at once before data moved" \
	grep -q "^# all set up: $N of $N sessions open" "$T/client.out"
check "$N sessions came back complete, sha256 equal to what was sent (ok=$(kv ok))" \
	[ "$(kv ok)" = "$N" ]
check "no session was corrupt (corrupt=$(kv corrupt))" [ "$(kv corrupt)" = 0 ]
check "no session was dropped (failed=$(kv failed))" [ "$(kv failed)" = 0 ]
[ "$(kv failed)" = 0 ] || grep -v ' ok ' "$T/client.report" | head -5 | sed 's/^/#   /'

# Upload direction on its own: the pod's sha256 of what it received is
# the client's sha256 of what it sent, for every session.
up_ok=$(awk -v bytes="$BYTES" '
	NR == FNR { sent[$1] = $5; next }
	$1 in sent && $2 == bytes && $3 == sent[$1] && $4 == "eof" { ok++ }
	END { print ok + 0 }' "$T/client.report" "$T/echo.report")
check "the pod received every session's $BYTES bytes intact (sha256 match: $up_ok of $N)" \
	[ "$up_ok" -eq "$N" ]

check "gateway log: $N audit lines" \
	jg_wait_count "$GW_LOG" "session-end id=[0-9]+ user=alice job=jpt-alice-251121-load0 " "$N" 400
n=$(jg_count "$GW_LOG" "session-end .* mode=jump .* bytes_up=$BYTES bytes_down=$BYTES ")
check "every audit line counts $BYTES bytes each way (got $n of $N)" [ "$n" -eq "$N" ]
fds=$(ops_wait_fds "$GW_PID" "$FD0" 400)
check "the gateway's fds return to the idle baseline ($fds, baseline $FD0)" [ "$fds" -eq "$FD0" ]
check "the gateway is still running" kill -0 "$GW_PID"

mib=$(kv mib_per_s)
echo "# load: $N sessions x $BYTES bytes each way; set-up $(kv setup_s) s, data $(kv moving_s) s, wall $((wall_ms / 1000)) s"
echo "# load: throughput $mib MiB/s through the gateway (both directions summed, $(( N * BYTES * 2 / 1048576 )) MiB)"
echo "# load: gateway CPU $(awk -v a="$CPU0" -v b="$CPU1" 'BEGIN { printf "%.1f", b - a }') s;" \
    "RSS idle $RSS0 KiB, peak (VmHWM) $HWM KiB, peak per session $(( (HWM - RSS0) / N )) KiB;" \
    "after $(ops_rss_kb "$GW_PID") KiB"
jg_check_log_clean
jg_done
