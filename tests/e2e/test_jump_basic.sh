#!/usr/bin/env bash
# Jump mode with the real OpenSSH client: ssh -J, ProxyJump from an -F
# config, ssh -W, scp and sftp through the jump, and the refusals a user
# must understand (unknown job, another user's job, IP and hostname
# targets, no ssh rule, a pod that refuses connections).
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
jg_keygen alice
jg_keygen bob
jg_keygen mallory
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/bob.pub" "$T/users/bob.keys"
cat "$T/alice.pub" "$T/bob.pub" >"$T/pod_authorized_keys"

POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_authorized_keys"
DEAD_PORT=$(jg_free_port 127.0.0.3)

{
	echo "apiVersion: v1"
	echo "kind: List"
	echo "items:"
	jg_pod_yaml p1 alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
	jg_pod_yaml p2 bob jpt-bob-251121-bbbbb bobjob 127.0.0.2 "$POD_PORT"
	jg_pod_yaml p3 alice jpt-alice-251121-ccccc deadjob 127.0.0.3 "$DEAD_PORT"
	jg_pod_yaml p4 alice jpt-alice-251121-ddddd pendjob 127.0.0.2 "$POD_PORT" Pending
} >"$T/routes.yaml"

GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
jg_ssh_config "$T/ssh_alice" "$T/alice"
jg_ssh_config "$T/ssh_mallory" "$T/mallory"
GW="alice@127.0.0.1:$GW_PORT"

out=$(ssh -F "$T/ssh_alice" -J "$GW" "$ME@myjob" 'echo hello-from-pod' 2>"$T/err")
check "ssh -J reaches the pod by display name" [ "$out" = hello-from-pod ]
out=$(ssh -F "$T/ssh_alice" -J "$GW" "$ME@jpt-alice-251121-aaaaa" 'echo internal' 2>"$T/err")
check "ssh -J reaches the pod by internal job name" [ "$out" = internal ]
out=$(ssh -F "$T/ssh_alice" -J "$GW" "$ME@alice-251121-aaaaa" 'echo baseurl' 2>"$T/err")
check "ssh -J reaches the pod by base-url name" [ "$out" = baseurl ]

cat >"$T/ssh_proxyjump" <<CFG
Host gw
  HostName 127.0.0.1
  Port $GW_PORT
  User alice
Host myjob
  User $ME
  ProxyJump gw
CFG
cat "$T/ssh_alice" >>"$T/ssh_proxyjump"
out=$(ssh -F "$T/ssh_proxyjump" myjob 'echo via-proxyjump' 2>"$T/err")
check "ProxyJump from an -F config file" [ "$out" = via-proxyjump ]

out=$(ssh -F "$T/ssh_alice" -o "ProxyCommand=ssh -F $T/ssh_alice -p $GW_PORT -W %h:%p alice@127.0.0.1" "$ME@myjob" 'echo via-W' 2>"$T/err")
check "ssh -W as a ProxyCommand" [ "$out" = via-W ]

head -c 3000000 /dev/urandom >"$T/blob"
scp -q -F "$T/ssh_alice" -J "$GW" "$T/blob" "$ME@myjob:$T/blob.up" 2>"$T/err"
check "scp through the jump copies a file intact" cmp -s "$T/blob" "$T/blob.up"
printf 'get %s %s\n' "$T/blob.up" "$T/blob.down" >"$T/sftp.batch"
sftp -q -F "$T/ssh_alice" -J "$GW" -b "$T/sftp.batch" "$ME@myjob" >/dev/null 2>"$T/err"
check "sftp through the jump fetches a file intact" cmp -s "$T/blob" "$T/blob.down"

# Refusals: each message must reach the user's terminal.
ssh -F "$T/ssh_alice" -J "$GW" "$ME@nosuchjob" true 2>"$T/err"
check "unknown job: says so and lists the user's jobs" \
	grep -q "jumpgate: job 'nosuchjob' not found for alice; your jobs: .*jpt-alice-251121-aaaaa" "$T/err"
ssh -F "$T/ssh_alice" -J "$GW" "$ME@bobjob" true 2>"$T/err"
check "another user's job is not found for alice" \
	grep -q "jumpgate: job 'bobjob' not found for alice" "$T/err"
ssh -F "$T/ssh_alice" -J "$GW" "$ME@127.0.0.2" true 2>"$T/err"
check "an IP address is not a job" grep -q "jumpgate: job '127.0.0.2' not found for alice" "$T/err"
ssh -F "$T/ssh_alice" -J "$GW" "$ME@localhost" true 2>"$T/err"
check "a host name is not a job" grep -q "jumpgate: job 'localhost' not found for alice" "$T/err"
ssh -F "$T/ssh_alice" -J "$GW" "$ME@pendjob" true 2>"$T/err"
check "a pending job says it is not running" grep -q "jumpgate: .*pendjob.* not running (phase Pending)" "$T/err"
ssh -F "$T/ssh_alice" -J "$GW" -p 8888 "$ME@myjob" true 2>"$T/err"
check "ProxyJump to a port without a rule says which rules exist" \
	grep -q "jumpgate: job 'myjob' (jpt-alice-251121-aaaaa) of alice has no rule for port 8888; rules: ssh(22)" "$T/err"
# ssh -L through the gateway: port 22 of a job reaches its sshd; a port
# without a rule is refused (a plain open failure: it is not SSH).
LPORT=$(jg_free_port 127.0.0.1 20000 29999)
LPORT2=$(jg_free_port 127.0.0.1 20000 29999)
ssh -F "$T/ssh_alice" -p "$GW_PORT" -N -L "127.0.0.1:$LPORT:myjob:22" \
	-L "127.0.0.1:$LPORT2:myjob:8888" alice@127.0.0.1 2>"$T/fwd.err" &
fwd_pid=$!
JG_PIDS+=("$fwd_pid")
jg_wait_port 127.0.0.1 "$LPORT"
banner=$(timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$LPORT; head -c 7 <&3")
check "ssh -L to a job's port 22 reaches the pod's sshd" [ "$banner" = SSH-2.0 ]
got=$(timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$LPORT2; cat <&3" | wc -c)
check "ssh -L to a port without a rule gets nothing" [ "$got" -eq 0 ]
check "gateway log: the -L refusal names the port and the rules" \
	jg_wait_log "$GW_LOG" "refused jump for alice from 127.0.0.1 port [0-9]+ to myjob port 8888: .*rules: ssh\(22\)"
jg_stop "$fwd_pid"

start=$(date +%s%N)
ssh -F "$T/ssh_alice" -J "$GW" "$ME@deadjob" true 2>"$T/err"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "a pod refusing connections: clear error" \
	grep -q "jumpgate: cannot reach job 'jpt-alice-251121-ccccc' of alice: pod crater-workspace/jpt-alice-251121-ccccc-default0-0 at 127.0.0.3 port $DEAD_PORT: Connection refused" "$T/err"
echo "# refused pod reported after ${elapsed_ms} ms"

# Authentication failures.
ssh -F "$T/ssh_mallory" -J "mallory@127.0.0.1:$GW_PORT" "$ME@myjob" true 2>"$T/err"
check "an unknown user is refused" grep -q "Permission denied (publickey)" "$T/err"
ssh -F "$T/ssh_mallory" -J "$GW" "$ME@myjob" true 2>"$T/err"
check "a wrong key is refused" grep -q "Permission denied (publickey)" "$T/err"
check "gateway log: Accepted publickey in sshd's words" \
	grep -qE "Accepted publickey for alice from 127.0.0.1 port [0-9]+ ssh2: ED25519 SHA256:" "$GW_LOG"
check "gateway log: Failed publickey for an invalid user" \
	grep -qE "Failed publickey for invalid user mallory from 127.0.0.1 port [0-9]+ ssh2" "$GW_LOG"
check "gateway log: audit line per session" \
	jg_wait_log "$GW_LOG" "session-end id=[0-9]+ user=alice job=jpt-alice-251121-aaaaa pod=crater-workspace/jpt-alice-251121-aaaaa-default0-0 endpoint=127.0.0.2:$POD_PORT mode=jump"
jg_done
