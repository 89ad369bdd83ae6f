#!/usr/bin/env bash
# Direct mode (ssh alice+JOB@gateway) with the real OpenSSH client: the
# gateway logs in to the pod's sshd itself and bridges the session.
# Exec output and exit codes (a signal death too), stdout/stderr kept
# apart, a pty driven by tmux with a real resize, the gateway's key and
# the client's forwarded agent as the login to the pod, ssh-add -l in the
# pod, ControlMaster, and what the user sees when things go wrong: an
# unknown job, a pod that refuses the gateway's login, a pod whose sshd is
# down, a pod killed under a running session (with no fd left behind).
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
jg_keygen alice
jg_keygen bob
jg_direct_user alice
mkdir -p "$T/home"
cp "$T/bob.pub" "$T/users/bob.keys"
# The pod lists the gateway's key for alice (jg_direct_user); the
# agent-only pod (agentjob) lists alice's own key and nothing else.
cat "$T/alice.pub" "$T/user-keys/alice.pub" >"$T/ak_both"
cp "$T/alice.pub" "$T/ak_alice"

POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod keyed 127.0.0.2 "$POD_PORT" "$T/ak_both" || { fail "pod starts"; jg_done; }
AGENT_PORT=$(jg_free_port 127.0.0.3)
jg_start_pod agentonly 127.0.0.3 "$AGENT_PORT" "$T/ak_alice" || { fail "pod starts"; jg_done; }
DOOMED_PORT=$(jg_free_port 127.0.0.4)
jg_start_pod doomed 127.0.0.4 "$DOOMED_PORT" "$T/ak_both" || { fail "pod starts"; jg_done; }
DOOMED_PID=$POD_PID
DEAD_PORT=$(jg_free_port 127.0.0.5)
{
	echo "apiVersion: v1"
	echo "kind: List"
	echo "items:"
	jg_pod_yaml p1 alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
	jg_pod_yaml p2 alice jpt-alice-251121-bbbbb agentjob 127.0.0.3 "$AGENT_PORT"
	jg_pod_yaml p3 alice jpt-alice-251121-ccccc doomedjob 127.0.0.4 "$DOOMED_PORT"
	jg_pod_yaml p4 alice jpt-alice-251121-ddddd deadjob 127.0.0.5 "$DEAD_PORT"
	jg_pod_yaml p5 bob jpt-bob-251121-eeeee bobjob 127.0.0.3 "$AGENT_PORT"
} >"$T/routes.yaml"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "upstream:
  user: $ME
  auth: [agent, key]
  user_key_dir: $T/user-keys"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
jg_ssh_config "$T/ssh_alice" "$T/alice"
S=(-F "$T/ssh_alice" -p "$GW_PORT")
GW=127.0.0.1
# jg_start_gateway's port probe must be gone before the fds are counted.
jg_wait_log "$GW_LOG" "Connection closed by 127.0.0.1 port [0-9]+ \[preauth\]" >/dev/null
FD_BEFORE=$(ls "/proc/$GW_PID/fd" | wc -l)

# ---- exec ----
out=$(timeout 30 ssh "${S[@]}" "alice+myjob@$GW" 'echo hello $SSH_CONNECTION' 2>"$T/err")
check "exec runs in the pod (its sshd saw the gateway connect)" \
	grep -qE "^hello 127\.0\.0\.[0-9]+ [0-9]+ 127\.0\.0\.2 $POD_PORT\$" <<<"$out"
[ -n "$out" ] || jg_show "$T/err"
timeout 30 ssh "${S[@]}" "alice+myjob@$GW" true
check "exit status 0 comes back" [ $? -eq 0 ]
timeout 30 ssh "${S[@]}" "alice+myjob@$GW" 'exit 3'
check "exit status 3 comes back" [ $? -eq 3 ]
timeout 30 ssh "${S[@]}" -p "$POD_PORT" "$ME@127.0.0.2" 'kill -TERM $$' 2>"$T/sig.direct"
want=$?
timeout 30 ssh "${S[@]}" "alice+myjob@$GW" 'kill -TERM $$' 2>"$T/sig.gw"
got=$?
check "a command killed by SIGTERM ends the client as a direct login does ($want)" \
	[ "$got" -eq "$want" ] && [ "$got" -ne 0 ]
timeout 30 ssh "${S[@]}" "alice+myjob@$GW" 'echo to-out; echo to-err >&2; exit 7' \
    >"$T/so" 2>"$T/se"
rc=$?
check "stdout and stderr stay apart (and exit 7)" \
	[ "$(cat "$T/so")" = to-out ] && [ "$(cat "$T/se")" = to-err ] && [ $rc -eq 7 ]
out=$(printf 'line1\nline2\n' | timeout 30 ssh "${S[@]}" "alice+myjob@$GW" 'wc -l')
check "stdin reaches the command and its EOF ends it" [ "$(tr -d ' ' <<<"$out")" = 2 ]

# ---- pty, driven by tmux ----
export TMUX_TMPDIR="$T"
tmux -L jgd new-session -d -s pty -x 80 -y 24 \
    "ssh -tt ${S[*]} alice+myjob@$GW" 2>"$T/tmux.err"
tmux_pid=$(tmux -L jgd display-message -p -t pty '#{pid}' 2>/dev/null)
[ -n "$tmux_pid" ] && JG_PIDS+=("$tmux_pid")
pane() { tmux -L jgd capture-pane -p -t pty 2>/dev/null; }
wait_pane() {
	local tries=200
	while [ $tries -gt 0 ]; do
		pane | grep -qE -- "$1" && return 0
		tries=$((tries - 1))
		sleep 0.05
	done
	pane | sed 's/^/#   /' | tail -n 8
	return 1
}
tmux -L jgd send-keys -t pty 'echo T=$(tty) S=$(stty size) E=$TERM' Enter
check "the shell has a pty of the client's size (24 80)" \
	wait_pane "T=/dev/pts/[0-9]+ S=24 80 E=(tmux|screen)"
tmux -L jgd resize-window -t pty -x 100 -y 40
tmux -L jgd send-keys -t pty 'echo R=$(stty size)' Enter
check "a resize of the client's terminal reaches the pod (40 100)" wait_pane "R=40 100"
tmux -L jgd send-keys -t pty 'exit 5' Enter
tmux -L jgd kill-server 2>/dev/null

# ---- the login to the pod ----
# Without -A the agent-only pod refuses the gateway's key: the user is
# told which key to add.
pub=$(cut -d' ' -f1,2 "$T/user-keys/alice.pub")
timeout 30 ssh "${S[@]}" "alice+agentjob@$GW" true 2>"$T/nologin.err"
rc=$?
check "a pod that refuses the gateway: exit status 1" [ $rc -eq 1 ]
check "... and the user is told to use -A or add the gateway's key" \
	grep -qF "jumpgate: cannot log in to job 'jpt-alice-251121-bbbbb' as alice: use ssh -A, or add this key to ~/.ssh/authorized_keys in your job: $pub jumpgate-alice" "$T/nologin.err"
jg_show "$T/nologin.err"

# Bob has no gateway key yet: his first login makes one (mode 0600) and
# tells him exactly that key.
jg_ssh_config "$T/ssh_bob" "$T/bob"
timeout 30 ssh -F "$T/ssh_bob" -p "$GW_PORT" "bob+bobjob@$GW" true 2>"$T/bob.err"
check "a user's gateway key is made on first use, mode 0600" \
	[ "$(stat -c %a "$T/user-keys/bob" 2>/dev/null)" = 600 ]
bobpub=$(cut -d' ' -f1,2 "$T/user-keys/bob.pub" 2>/dev/null)
check "... and it is the key the user is told to add" \
	grep -qF "add this key to ~/.ssh/authorized_keys in your job: ${bobpub:-none} jumpgate-bob" "$T/bob.err"

eval "$(ssh-agent -s)" >/dev/null
JG_PIDS+=("$SSH_AGENT_PID")
ssh-add -q "$T/alice" 2>/dev/null
alice_fp=$(ssh-keygen -l -f "$T/alice.pub" | awk '{print $2}')
out=$(timeout 30 ssh "${S[@]}" -A -o IdentityAgent="$SSH_AUTH_SOCK" "alice+agentjob@$GW" 'echo agent-login-ok; ssh-add -l' 2>"$T/agent.err")
check "ssh -A: the client's agent logs the gateway in to the pod" grep -q "^agent-login-ok" <<<"$out"
check "ssh -A: ssh-add -l in the pod lists the client's key" grep -qF "$alice_fp" <<<"$out"
[ -n "$out" ] || jg_show "$T/agent.err"
check "gateway log: the login used the forwarded agent" \
	grep -qE "direct session for alice from 127.0.0.1 port [0-9]+: job jpt-alice-251121-bbbbb .* with forwarded agent" "$GW_LOG"
out=$(timeout 30 ssh "${S[@]}" -A -o IdentityAgent="$SSH_AUTH_SOCK" "alice+myjob@$GW" 'ssh-add -l' 2>"$T/agent2.err")
check "ssh -A to a pod the gateway key opens: the agent still reaches the pod" grep -qF "$alice_fp" <<<"$out"
kill "$SSH_AGENT_PID" 2>/dev/null
unset SSH_AUTH_SOCK

# ---- ControlMaster: two sessions over one connection ----
timeout 60 ssh "${S[@]}" -N -o ControlMaster=yes -o ControlPath="$T/cm" \
    "alice+myjob@$GW" 2>"$T/cm.err" &
cm_pid=$!
JG_PIDS+=("$cm_pid")
tries=100
while [ ! -S "$T/cm" ] && [ $tries -gt 0 ]; do sleep 0.05; tries=$((tries - 1)); done
accepted=$(jg_count "$GW_LOG" "Accepted publickey for alice")
a=$(timeout 30 ssh "${S[@]}" -o ControlPath="$T/cm" "alice+myjob@$GW" 'echo one' 2>/dev/null)
b=$(timeout 30 ssh "${S[@]}" -o ControlPath="$T/cm" "alice+myjob@$GW" 'echo two; exit 4' 2>/dev/null)
rc=$?
check "ControlMaster: two sessions over the master" [ "$a" = one ] && [ "$b" = two ] && [ $rc -eq 4 ]
check "ControlMaster: no new login to the gateway" \
	[ "$(jg_count "$GW_LOG" "Accepted publickey for alice")" -eq "$accepted" ]
ssh -o ControlPath="$T/cm" -O exit "alice+myjob@$GW" 2>/dev/null
jg_wait_gone "$cm_pid"

# ---- refusals ----
timeout 30 ssh "${S[@]}" "alice+nosuchjob@$GW" true 2>"$T/nojob.err"
rc=$?
check "unknown job: exit status 1 and the user's jobs listed" \
	[ $rc -eq 1 ] && grep -q "^jumpgate: job 'nosuchjob' not found for alice; your jobs: .*jpt-alice-251121-aaaaa" "$T/nojob.err"
check "gateway log: the refusal in our words" \
	grep -qE "refused direct session for alice from 127.0.0.1 port [0-9]+: job 'nosuchjob' not found for alice" "$GW_LOG"
start=$(jg_now_ms)
timeout 30 ssh "${S[@]}" "alice+deadjob@$GW" true 2>"$T/dead.err"
rc=$?
ms=$(( $(jg_now_ms) - start ))
check "a pod whose sshd is down is reported within 5 s ($ms ms)" [ "$ms" -lt 5000 ] && [ $rc -eq 1 ]
check "... with the pod, its address and the reason" \
	grep -q "^jumpgate: cannot reach job 'jpt-alice-251121-ddddd' of alice: pod crater-workspace/jpt-alice-251121-ddddd-default0-0 at 127.0.0.5 port $DEAD_PORT: Connection refused" "$T/dead.err"

# ---- the pod dies under a running session ----
timeout 60 ssh "${S[@]}" "alice+doomedjob@$GW" 'echo started; sleep 30' \
    </dev/null >"$T/doomed.out" 2>"$T/doomed.err" &
client_pid=$!
JG_PIDS+=("$client_pid")
check "the session to doomedjob is running" jg_wait_log "$T/doomed.out" '^started$'
victims=$(jg_descendants "$DOOMED_PID")
disown "$DOOMED_PID"
start=$(jg_now_ms)
# shellcheck disable=SC2086
kill -KILL "$DOOMED_PID" $victims 2>/dev/null
check "the client exits within 5 s of the pod's death" jg_wait_gone "$client_pid" 100
wait "$client_pid"
rc=$?
echo "# the client noticed after $(( $(jg_now_ms) - start )) ms, exit status $rc"
check "the client exits 255 and says the pod connection was lost" \
	[ $rc -eq 255 ] && grep -q "^jumpgate: lost the connection to job 'jpt-alice-251121-ccccc' of alice: pod crater-workspace/jpt-alice-251121-ccccc-default0-0 at 127.0.0.4 port $DOOMED_PORT" "$T/doomed.err"
jg_show "$T/doomed.err"
check "gateway log: audit line for the lost session" \
	jg_wait_log "$GW_LOG" "session-end id=[0-9]+ user=alice job=jpt-alice-251121-ccccc pod=crater-workspace/jpt-alice-251121-ccccc-default0-0 endpoint=127.0.0.4:$DOOMED_PORT mode=direct .*reason=\"pod connection lost"

check "gateway log: audit lines with mode=direct and bytes" \
	jg_wait_log "$GW_LOG" "session-end id=[0-9]+ user=alice job=jpt-alice-251121-aaaaa pod=crater-workspace/jpt-alice-251121-aaaaa-default0-0 endpoint=127.0.0.2:$POD_PORT mode=direct from=127.0.0.1:[0-9]+ bytes_up=[0-9]+ bytes_down=[1-9][0-9]* duration_ms=[0-9]+ reason=\"client closed\""
# Every session has ended (each wrote its audit line): no fd is left.
jg_wait_count "$GW_LOG" "session-end .*mode=direct" "$(jg_count "$GW_LOG" "Accepted publickey for")" >/dev/null
FD_AFTER=$(ls "/proc/$GW_PID/fd" | wc -l)
check "the gateway holds no more fds than before the sessions ($FD_BEFORE -> $FD_AFTER)" \
	[ "$FD_AFTER" -le "$FD_BEFORE" ]

# ---- the gateway stops (a second SIGTERM ends the drain at once) ----
timeout 60 ssh "${S[@]}" "alice+myjob@$GW" 'echo started; sleep 30' \
    </dev/null >"$T/stop.out" 2>"$T/stop.err" &
client_pid=$!
JG_PIDS+=("$client_pid")
check "a session is running when the gateway stops" jg_wait_log "$T/stop.out" '^started$'
kill -TERM "$GW_PID"
jg_wait_log "$GW_LOG" "draining" >/dev/null
kill -TERM "$GW_PID"
check "the client ends within 5 s" jg_wait_gone "$client_pid" 100
wait "$client_pid"
rc=$?
check "the client exits 255 and is told the gateway is shutting down" \
	[ $rc -eq 255 ] && grep -q "^jumpgate: the gateway is shutting down; session to job 'myjob' of alice closed" "$T/stop.err"
jg_show "$T/stop.err"
check "gateway log: the audit line says why" \
	jg_wait_log "$GW_LOG" "session-end .*mode=direct .*reason=\"gateway shutting down\""
jg_wait_gone "$GW_PID" 200
jg_check_log_clean
jg_done
