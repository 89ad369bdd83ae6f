#!/usr/bin/env bash
# Direct mode with upstream.host_key_policy: annotation: the pod's host key
# must be the one its annotation pins, as a public key line or as a
# SHA256 fingerprint; anything else is refused with a reason.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
jg_keygen alice
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
: >"$T/pod_ak"
POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_ak"
ssh-keygen -q -t ed25519 -N '' -f "$T/other_host_key"
KEYLINE=$(cut -d' ' -f1,2 "$T/pod-job1/host_key.pub")
FP=$(ssh-keygen -lf "$T/pod-job1/host_key.pub" | awk '{print $2}')
OTHER=$(cut -d' ' -f1,2 "$T/other_host_key.pub")

pod() {	# JOB DISPLAY PIN
	cat <<YAML
  - kind: Pod
    metadata:
      name: $1-default0-0
      namespace: crater-workspace
      labels: {crater.raids.io/task-user: alice, volcano.sh/job-name: $1, volcano.sh/task-spec: default0}
      annotations:
        crater.raids.io/task-name: $2
        nodeport.crater.raids.io/ssh: '{"name":"ssh","containerPort":22,"address":"127.0.0.2","nodePort":$POD_PORT}'
${3:+        jumpgate.crater.raids.io/host-key: "$3"}
    status: {phase: Running, hostIP: 127.0.0.2}
YAML
}
{
	echo "items:"
	pod jpt-alice-1-keyline byline "$KEYLINE"
	pod jpt-alice-1-fprint byfp "$FP"
	pod jpt-alice-1-wrong wrongkey "$OTHER"
	pod jpt-alice-1-nopin nopin ""
} >"$T/routes.yaml"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "upstream:
  user: $ME
  user_key_dir: $T/userkeys
  host_key_policy: annotation"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
jg_ssh_config "$T/ssh_alice" "$T/alice"
ssh -F "$T/ssh_alice" -p "$GW_PORT" alice@127.0.0.1 pubkey 2>/dev/null | head -1 >>"$T/pod_ak"
direct() { ssh -F "$T/ssh_alice" -p "$GW_PORT" "alice+$1@127.0.0.1" "$2" 2>"$T/err"; }

out=$(direct byline 'echo pinned-by-key')
check "a host key pinned as a public key line is accepted" [ "$out" = pinned-by-key ]
check "the log says the key was pinned by the annotation" \
	grep -q "upstream host key for job jpt-alice-1-keyline pod .*: ED25519 $FP (pinned by annotation)" "$GW_LOG"
out=$(direct byfp 'echo pinned-by-fingerprint')
check "a host key pinned as a SHA256 fingerprint is accepted" [ "$out" = pinned-by-fingerprint ]
out=$(direct wrongkey 'echo should-not-run')
status=$?
check "a pod whose key differs from the pin is refused" [ -z "$out" ]
check "... with a non-zero exit status" [ $status -ne 0 ]
check "the user is told the key is not the pinned one" \
	grep -q "jumpgate: cannot log in to job 'jpt-alice-1-wrong' as alice: the pod's host key (ED25519 $FP) is not the one its annotation jumpgate.crater.raids.io/host-key pins" "$T/err"
out=$(direct nopin 'echo should-not-run')
check "a pod without the annotation is refused" [ -z "$out" ]
check "the user is told the pod has no such annotation" \
	grep -q "(the pod has no such annotation)" "$T/err"
jg_done
