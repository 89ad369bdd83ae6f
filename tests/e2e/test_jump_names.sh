#!/usr/bin/env bash
# How a jump target names a job and a pod, against real sshds: a three-pod
# job (master-0, worker-0, worker-1, each its own sshd on its own address),
# an ambiguous display name, a job without an ssh rule, a malformed ssh
# rule beside a good one, and the two other places an endpoint may come
# from: a NodePort Service and the crater.raids.io/ssh-enabled annotation.
# Which sshd answered is told by the server address in $SSH_CONNECTION.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
jg_keygen alice
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/alice.pub" "$T/pod_authorized_keys"

declare -A PORT
for a in 11 12 13 14 15; do
	PORT[$a]=$(jg_free_port "127.0.0.$a")
	jg_start_pod "pod$a" "127.0.0.$a" "${PORT[$a]}" "$T/pod_authorized_keys" ||
	    fail "pod sshd on 127.0.0.$a starts"
done
DEAD_PORT=$(jg_free_port 127.0.0.14)
MULTI=jpt-alice-251121-multi

# pod_item JOB TASK INDEX DISPLAY HOSTIP [annotation lines...]: one Pod of
# a Volcano job, named <job>-<task>-<index>.
pod_item() {
	local job=$1 task=$2 index=$3 display=$4 hostip=$5 line
	shift 5
	cat <<YAML
  - apiVersion: v1
    kind: Pod
    metadata:
      name: $job-$task-$index
      namespace: crater-workspace
      labels:
        crater.raids.io/task-user: alice
        volcano.sh/job-name: $job
        volcano.sh/task-spec: $task
      annotations:
        crater.raids.io/task-name: "$display"
YAML
	for line in "$@"; do
		echo "        $line"
	done
	cat <<YAML
    status:
      phase: Running
      hostIP: $hostip
YAML
}
np() {	# np RULE PORT ADDR NODEPORT: a nodeport.crater.raids.io annotation
	echo "nodeport.crater.raids.io/$1: '{\"name\":\"$1\",\"containerPort\":$2,\"address\":\"$3\",\"nodePort\":$4}'"
}

{
	echo "apiVersion: v1"
	echo "kind: List"
	echo "items:"
	# Listed out of order: the default pod must not depend on the file.
	pod_item $MULTI worker 1 train 127.0.0.13 "$(np ssh 22 127.0.0.13 "${PORT[13]}")"
	pod_item $MULTI worker 0 train 127.0.0.12 "$(np ssh 22 127.0.0.12 "${PORT[12]}")"
	pod_item $MULTI master 0 train 127.0.0.11 "$(np ssh 22 127.0.0.11 "${PORT[11]}")"
	pod_item jpt-alice-251121-twin1 default0 0 twin 127.0.0.11 "$(np ssh 22 127.0.0.11 "${PORT[11]}")"
	pod_item jpt-alice-251121-twin2 default0 0 twin 127.0.0.12 "$(np ssh 22 127.0.0.12 "${PORT[12]}")"
	pod_item jpt-alice-251121-mail default0 0 mailjob 127.0.0.11 "$(np smtp 25 127.0.0.11 2525)"
	pod_item jpt-alice-251121-brok default0 0 brokenjob 127.0.0.11 \
	    "nodeport.crater.raids.io/ssh: '{\"name\":\"ssh\",\"containerPort\":22,\"address\":\"127.0.0.11\",\"nodePort\":\"abc\"}'" \
	    "$(np smtp 25 127.0.0.11 2525)"
	# Current Crater: a NodePort Service selects the pod; a stale
	# annotation pointing at a dead port must lose to it.
	pod_item jpt-alice-251121-svc default0 0 svcjob 127.0.0.14 "$(np ssh 22 127.0.0.14 "$DEAD_PORT")"
	cat <<YAML
  - apiVersion: v1
    kind: Service
    metadata:
      name: np-alice-5e1f0
      namespace: crater-workspace
      labels:
        crater.raids.io/task-user: alice
      annotations:
        crater.raids.io/port-name: ssh
    spec:
      type: NodePort
      selector:
        volcano.sh/job-name: jpt-alice-251121-svc
      ports:
        - name: ssh
          port: 22
          targetPort: 22
          nodePort: ${PORT[14]}
YAML
	pod_item jpt-alice-251121-ena default0 0 enajob 127.0.0.15 \
	    "crater.raids.io/ssh-enabled: \"127.0.0.15:${PORT[15]}\""
} >"$T/routes.yaml"
BAD_LINE=$(grep -n 'nodePort":"abc"' "$T/routes.yaml" | cut -d: -f1)

GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
jg_ssh_config "$T/ssh_alice" "$T/alice"
GW="alice@127.0.0.1:$GW_PORT"

# Prints the address of the sshd that ran the command, or nothing.
server_of() {
	timeout 30 ssh -F "$T/ssh_alice" -J "$GW" "$ME@$1" \
	    'set -- $SSH_CONNECTION; echo "$3:$4"' 2>"$T/err"
}

check "gateway start-up log names file:line of the malformed ssh annotation" \
	grep -qE "warn: $T/routes.yaml:$BAD_LINE: item [0-9]+ \(jpt-alice-251121-brok-default0-0\): annotation nodeport.crater.raids.io/ssh: nodePort: expected an integer" "$GW_LOG"

out=$(server_of train)
check "display name of a multi-pod job reaches master-0 by default" [ "$out" = "127.0.0.11:${PORT[11]}" ]
out=$(server_of $MULTI)
check "internal name of a multi-pod job reaches master-0 by default" [ "$out" = "127.0.0.11:${PORT[11]}" ]
out=$(server_of "train+worker-1")
check "train+worker-1 reaches worker-1" [ "$out" = "127.0.0.13:${PORT[13]}" ]
out=$(server_of "$MULTI+worker-0")
check "JOB+worker-0 reaches worker-0" [ "$out" = "127.0.0.12:${PORT[12]}" ]
out=$(server_of "$MULTI+master-0")
check "JOB+master-0 reaches master-0" [ "$out" = "127.0.0.11:${PORT[11]}" ]
out=$(server_of "$MULTI+$MULTI-worker-1")
check "JOB+<full pod name> reaches that pod" [ "$out" = "127.0.0.13:${PORT[13]}" ]

out=$(server_of "$MULTI+worker-9")
check "JOB+worker-9 is refused, listing the job's pods" \
	jg_refused "$out" "$T/err" "jumpgate: job '$MULTI' of alice has no pod 'worker-9'; its pods: master-0, worker-0, worker-1"
grep -q "its pods" "$T/err" || jg_show "$T/err"

out=$(server_of twin)
check "an ambiguous display name is refused, listing both jobs" \
	jg_refused "$out" "$T/err" "jumpgate: job name 'twin' matches 2 jobs of alice: jpt-alice-251121-twin1 (twin), jpt-alice-251121-twin2 (twin); use the internal name"
grep -q "matches 2 jobs" "$T/err" || jg_show "$T/err"
out=$(server_of jpt-alice-251121-twin2)
check "the internal name of one of the twins reaches it" [ "$out" = "127.0.0.12:${PORT[12]}" ]

out=$(server_of mailjob)
check "a job with only an smtp rule: no rule for port 22, rules listed" \
	jg_refused "$out" "$T/err" "jumpgate: job 'mailjob' (jpt-alice-251121-mail) of alice has no rule for port 22; rules: smtp(25)"
grep -q "no rule for port 22" "$T/err" || jg_show "$T/err"

out=$(server_of brokenjob)
check "a malformed ssh rule beside a good smtp one: the message says what is wrong" \
	jg_refused_re "$out" "$T/err" "jumpgate: job 'brokenjob' \(jpt-alice-251121-brok\) of alice has no usable ssh rule: annotation nodeport.crater.raids.io/ssh: nodePort: expected an integer .*got \"abc\""
grep -q "no usable ssh rule" "$T/err" || jg_show "$T/err"

out=$(server_of svcjob)
check "an endpoint from a NodePort Service (hostIP + nodePort) wins over a stale annotation" \
	[ "$out" = "127.0.0.14:${PORT[14]}" ]
[ -n "$out" ] || jg_show "$T/err"
check "gateway log: the Service's endpoint was used" \
	grep -qE "jump for alice from 127.0.0.1 port [0-9]+ to svcjob port 22: job jpt-alice-251121-svc pod crater-workspace/jpt-alice-251121-svc-default0-0 at 127.0.0.14 port ${PORT[14]}\$" "$GW_LOG"
out=$(server_of enajob)
check "an endpoint from crater.raids.io/ssh-enabled works" [ "$out" = "127.0.0.15:${PORT[15]}" ]
[ -n "$out" ] || jg_show "$T/err"

check "gateway log: worker-1 jump names the pod and its endpoint" \
	grep -qE "jump for alice from 127.0.0.1 port [0-9]+ to train\+worker-1 port 22: job $MULTI pod crater-workspace/$MULTI-worker-1 at 127.0.0.13 port ${PORT[13]}\$" "$GW_LOG"
check "gateway log: the worker-9 refusal is logged" \
	grep -qE "refused jump for alice from 127.0.0.1 port [0-9]+ to $MULTI\+worker-9 port 22: .*has no pod 'worker-9'" "$GW_LOG"
jg_check_log_clean
jg_done
