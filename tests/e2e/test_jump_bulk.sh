#!/usr/bin/env bash
# Big transfers through jump mode: 256 MiB from the client to the pod and
# 256 MiB from the pod to the client through `ssh -J`, each stream's
# SHA-256 computed where it is produced and where it is consumed.  The
# speed is printed as a '#' line for people, never asserted.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
SIZE=$((256 * 1024 * 1024))
jg_keygen alice
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/alice.pub" "$T/pod_authorized_keys"

POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_authorized_keys" ||
    { fail "the pod's sshd starts"; jg_done; }
{
	echo "apiVersion: v1"
	echo "kind: List"
	echo "items:"
	jg_pod_yaml p1 alice jpt-alice-251121-aaaaa bigjob 127.0.0.2 "$POD_PORT"
} >"$T/routes.yaml"

GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
jg_ssh_config "$T/ssh_alice" "$T/alice"
GW="alice@127.0.0.1:$GW_PORT"

# sums_match A B: A is a SHA-256 in hex and B is the same.
sums_match() { [[ $1 =~ ^[0-9a-f]{64}$ ]] && [ "$1" = "$2" ]; }

# Upload: the client hashes what it sends (through a FIFO, so that the
# hash is finished when we wait for it), the pod hashes what it receives.
mkfifo "$T/up.fifo"
sha256sum <"$T/up.fifo" >"$T/up.local" &
sum_pid=$!
JG_PIDS+=("$sum_pid")
start=$(jg_now_ms)
head -c "$SIZE" /dev/urandom | tee "$T/up.fifo" |
	timeout 300 ssh -F "$T/ssh_alice" -J "$GW" "$ME@bigjob" 'sha256sum' \
	>"$T/up.remote" 2>"$T/up.err"
up_status=$?
up_ms=$(( $(jg_now_ms) - start ))
wait "$sum_pid"
local_sum=$(awk '{print $1}' "$T/up.local")
remote_sum=$(awk '{print $1}' "$T/up.remote")
check "upload of 256 MiB: ssh exits 0" [ "$up_status" -eq 0 ]
check "upload of 256 MiB: the pod's SHA-256 equals the client's" \
	sums_match "$local_sum" "$remote_sum"
[ "$up_status" -eq 0 ] || jg_show "$T/up.err"
echo "# upload: 256 MiB in $up_ms ms, $(awk -v ms="$up_ms" 'BEGIN { printf "%.1f", 256 * 1000 / (ms > 0 ? ms : 1) }') MiB/s"

# Download: the pod hashes what it sends into a file beside the test
# (the pod is this machine), the client hashes what it receives.
remote_cmd="f=$T/down.fifo; mkfifo \$f && { sha256sum <\$f >$T/down.remote & head -c $SIZE /dev/urandom | tee \$f; wait; }"
start=$(jg_now_ms)
timeout 300 ssh -F "$T/ssh_alice" -J "$GW" "$ME@bigjob" "$remote_cmd" \
	2>"$T/down.err" | sha256sum >"$T/down.local"
down_status=${PIPESTATUS[0]}
down_ms=$(( $(jg_now_ms) - start ))
local_sum=$(awk '{print $1}' "$T/down.local")
remote_sum=$(awk '{print $1}' "$T/down.remote" 2>/dev/null)
check "download of 256 MiB: ssh exits 0" [ "$down_status" -eq 0 ]
check "download of 256 MiB: the client's SHA-256 equals the pod's" \
	sums_match "$remote_sum" "$local_sum"
[ "$down_status" -eq 0 ] || jg_show "$T/down.err"
echo "# download: 256 MiB in $down_ms ms, $(awk -v ms="$down_ms" 'BEGIN { printf "%.1f", 256 * 1000 / (ms > 0 ? ms : 1) }') MiB/s"

# The audit lines count what crossed the gateway: the SSH stream to the
# pod carries the payload plus its own framing, so at least 256 MiB.
check "gateway log: two audit lines, one per transfer" \
	jg_wait_count "$GW_LOG" "session-end id=[0-9]+ user=alice job=jpt-alice-251121-aaaaa .*mode=jump" 2
up_bytes=$(grep -oE 'session-end .*bytes_up=[0-9]+' "$GW_LOG" | head -n 1 | grep -oE '[0-9]+$')
down_bytes=$(grep -oE 'session-end .*bytes_down=[0-9]+' "$GW_LOG" | sed -n 2p | grep -oE '[0-9]+$')
check "audit: the upload session relayed at least 256 MiB up" [ "${up_bytes:-0}" -ge "$SIZE" ]
check "audit: the download session relayed at least 256 MiB down" [ "${down_bytes:-0}" -ge "$SIZE" ]
jg_check_log_clean
jg_done
