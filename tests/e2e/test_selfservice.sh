#!/usr/bin/env bash
# Self-service on the gateway itself (ssh alice@gateway [COMMAND]): the job
# table, jobs for scripts and as JSON, ssh-config entries that real ssh
# and VSCode read, the direct-mode public key, banner and motd; and the
# routing refusals each explaining itself in the user's terminal.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
jg_keygen alice
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/alice.pub" "$T/pod_authorized_keys"
POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_authorized_keys"
DEAD_PORT=$(jg_free_port 127.0.0.4)

{
	echo "kind: List"
	echo "items:"
	jg_pod_yaml a alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
	jg_pod_yaml b alice jpt-alice-251121-bbbbb "my training job #2" 127.0.0.2 "$POD_PORT"
	jg_pod_yaml c alice jpt-alice-251121-ccccc "训练任务" 127.0.0.2 "$POD_PORT"
	jg_pod_yaml d alice jpt-alice-251121-ddddd waiting 127.0.0.2 "$POD_PORT" Pending
	jg_pod_yaml e bob jpt-bob-251121-eeeee bobjob 127.0.0.2 "$POD_PORT"
	cat <<YAML
  - kind: Pod
    metadata:
      name: jpt-alice-251121-fffff-default0-0
      namespace: crater-workspace
      labels: {crater.raids.io/task-user: alice, volcano.sh/job-name: jpt-alice-251121-fffff, volcano.sh/task-spec: default0}
      annotations:
        crater.raids.io/task-name: mailonly
        nodeport.crater.raids.io/smtp: '{"name":"smtp","containerPort":25,"address":"127.0.0.2","nodePort":30025}'
    status: {phase: Running, hostIP: 127.0.0.2}
  - kind: Pod
    metadata:
      name: jpt-alice-251121-ggggg-default0-0
      namespace: crater-workspace
      labels: {crater.raids.io/task-user: alice, volcano.sh/job-name: jpt-alice-251121-ggggg, volcano.sh/task-spec: default0}
      annotations:
        crater.raids.io/task-name: broken
        nodeport.crater.raids.io/ssh: '{"name":"ssh","containerPort":22,"address":"127.0.0.2","nodePort":"32513"}'
        nodeport.crater.raids.io/smtp: '{"name":"smtp","containerPort":25,"address":"127.0.0.2","nodePort":30025}'
    status: {phase: Running, hostIP: 127.0.0.2}
YAML
	jg_pod_yaml h alice jpt-alice-251121-hhhhh deadjob 127.0.0.4 "$DEAD_PORT"
} >"$T/routes.yaml"

printf 'Authorized use only. (test banner)\n' >"$T/banner"
printf 'Maintenance on Sunday. (test motd)\n' >"$T/motd"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "gateway:
  banner_file: $T/banner
  motd_file: $T/motd
upstream:
  user: $ME
  user_key_dir: $T/userkeys"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
jg_ssh_config "$T/ssh_alice" "$T/alice"
GWSSH=(ssh -F "$T/ssh_alice" -p "$GW_PORT" alice@127.0.0.1)
GW="alice@127.0.0.1:$GW_PORT"

# The interactive table, on a pty.
"${GWSSH[@]}" -o LogLevel=INFO -tt >"$T/table" 2>"$T/table.err" </dev/null
status=$?
tr -d '\r' <"$T/table" >"$T/table.txt"
check "interactive login exits 0" [ $status -eq 0 ]
check "the banner is shown before login" grep -q "Authorized use only. (test banner)" "$T/table.err"
check "the motd is shown" grep -q "Maintenance on Sunday. (test motd)" "$T/table.txt"
check "the table has its header" grep -qE "^  JOB +DISPLAY NAME +TYPE AS +PODS +PHASE +SSH +RULES" "$T/table.txt"
check "a reachable job is listed with its rules" \
	grep -qE "^  jpt-alice-251121-aaaaa +myjob +myjob +1 +Running +yes +ssh\(22\)" "$T/table.txt"
check "an untypeable display name gets a typeable alias" \
	grep -qE "^  jpt-alice-251121-bbbbb +my training job #2 +my-training-job-2 " "$T/table.txt"
check "a non-ASCII display name is shown and typed by its base-url" \
	grep -qE "^  jpt-alice-251121-ccccc +训练任务 +alice-251121-ccccc " "$T/table.txt"
check "a pending job says it is not reachable" \
	grep -qE "^  jpt-alice-251121-ddddd .*Pending +no \(not running\)" "$T/table.txt"
check "a job without an ssh rule says so" \
	grep -qE "^  jpt-alice-251121-fffff .*no \(no ssh rule\) +smtp\(25\)" "$T/table.txt"
check "a job with a malformed ssh rule says so" \
	grep -qE "^  jpt-alice-251121-ggggg .*no \(malformed rule\) +smtp\(25\) \+ 1 malformed" "$T/table.txt"
check "other users' jobs are not listed" eval '! grep -q bobjob "$T/table.txt"'
check "the table prints the exact jump command" \
	grep -qF "ssh -J alice@127.0.0.1:$GW_PORT $ME@myjob" "$T/table.txt"
check "the table prints the exact direct command" \
	grep -qF "ssh -p $GW_PORT alice+myjob@127.0.0.1" "$T/table.txt"

# The printed jump command works as printed.
cmd=$(grep -oE "ssh -J [^ ]+ [^ ]+$" "$T/table.txt" | head -1)
out=$(ssh -F "$T/ssh_alice" ${cmd#ssh } 'echo printed-command-works' 2>"$T/err")
check "the printed jump command reaches the pod" [ "$out" = printed-command-works ]
out=$(ssh -F "$T/ssh_alice" -J "$GW" "$ME@my-training-job-2" 'echo alias-works' 2>"$T/err")
check "the typeable alias reaches the job" [ "$out" = alias-works ]

# jobs: tab-separated, for scripts.
"${GWSSH[@]}" jobs >"$T/jobs.tsv" 2>"$T/err"
check "jobs exits 0" [ $? -eq 0 ]
check "jobs has a header line" grep -qP "^#job\tdisplay\ttype_as\tnamespace\tpods\tphase\tssh\trules$" "$T/jobs.tsv"
check "jobs lists each job on one tab-separated line" \
	[ "$(awk -F'\t' 'NR>1 && NF==8' "$T/jobs.tsv" | wc -l)" -eq 7 ]
check "jobs says which job SSH reaches" \
	[ "$(awk -F'\t' '$1=="jpt-alice-251121-aaaaa" {print $7}' "$T/jobs.tsv")" = yes ]

# jobs --json parsed by a real JSON parser.
"${GWSSH[@]}" jobs --json >"$T/jobs.json" 2>"$T/err"
check "jobs --json is valid JSON with the user's jobs" python3 - "$T/jobs.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["user"] == "alice", d
jobs = {j["name"]: j for j in d["jobs"]}
assert len(jobs) == 7, sorted(jobs)
j = jobs["jpt-alice-251121-aaaaa"]
assert j["display_name"] == "myjob" and j["ssh"] is True and j["type_as"] == "myjob", j
assert j["pods"][0]["rules"][0] == {"name": "ssh", "container_port": 22}, j
assert jobs["jpt-alice-251121-ccccc"]["display_name"] == "训练任务"
assert jobs["jpt-alice-251121-ddddd"]["ssh"] is False
assert jobs["jpt-alice-251121-ggggg"]["pods"][0]["malformed_rules"] == 1
assert "jpt-bob-251121-eeeee" not in jobs
PY

# ssh-config: read by ssh -G, then used for real connections.
"${GWSSH[@]}" ssh-config >"$T/cfg.jump" 2>"$T/err"
check "ssh-config exits 0" [ $? -eq 0 ]
cat "$T/cfg.jump" "$T/ssh_alice" >"$T/cfg.jump.all"
check "ssh -G reads the jump entry" \
	eval 'ssh -G -F "$T/cfg.jump.all" myjob | grep -qx "proxyjump jumpgate"'
check "the entry's HostName is the internal job name" \
	eval 'ssh -G -F "$T/cfg.jump.all" myjob | grep -qx "hostname jpt-alice-251121-aaaaa"'
check "only running jobs with ssh get entries" eval '! grep -q "^Host waiting" "$T/cfg.jump"'
out=$(ssh -F "$T/cfg.jump.all" myjob 'echo via-ssh-config' 2>"$T/err")
check "the jump entry connects for real" [ "$out" = via-ssh-config ]
out=$(ssh -F "$T/cfg.jump.all" alice-251121-ccccc 'echo cjk-job' 2>"$T/err")
check "the non-ASCII job's entry connects for real" [ "$out" = cjk-job ]
"${GWSSH[@]}" ssh-config --direct myjob >"$T/cfg.direct" 2>"$T/err"
cat "$T/cfg.direct" "$T/ssh_alice" >"$T/cfg.direct.all"
check "ssh -G reads the direct entry" \
	eval 'ssh -G -F "$T/cfg.direct.all" myjob | grep -qx "user alice+jpt-alice-251121-aaaaa"'
check "the direct entry points at the gateway" \
	eval 'ssh -G -F "$T/cfg.direct.all" myjob | grep -qx "port $GW_PORT"'
"${GWSSH[@]}" ssh-config nosuchjob >/dev/null 2>"$T/err"
status=$?
check "ssh-config with an unknown job fails" [ $status -eq 1 ]
check "ssh-config with an unknown job explains" \
	grep -q "jumpgate: job .nosuchjob. not found for alice" "$T/err"

# pubkey: the key direct mode logs in with, created on first use.
"${GWSSH[@]}" pubkey >"$T/pubkey" 2>"$T/err"
check "pubkey prints an ed25519 key named for the user" \
	grep -qE "^ssh-ed25519 AAAA[^ ]+ jumpgate-alice$" "$T/pubkey"
check "pubkey says where to put it" grep -q "authorized_keys in your jobs" "$T/pubkey"
check "the user's key file is private" [ "$(stat -c %a "$T/userkeys/alice")" = 600 ]
"${GWSSH[@]}" pubkey >"$T/pubkey2" 2>/dev/null
check "pubkey is stable across calls" cmp -s "$T/pubkey" "$T/pubkey2"

# With the gateway's key for alice in the pod, the direct entry connects.
head -1 "$T/pubkey" >>"$T/pod_authorized_keys"
out=$(ssh -F "$T/cfg.direct.all" myjob 'echo via-direct-entry' 2>"$T/err")
check "the direct entry from ssh-config connects for real" [ "$out" = via-direct-entry ]

"${GWSSH[@]}" frobnicate >/dev/null 2>"$T/err"
status=$?
check "an unknown command exits 2" [ $status -eq 2 ]
check "an unknown command is named with the list of commands" \
	eval 'grep -q "jumpgate: unknown command .frobnicate." "$T/err" && grep -q "ssh-config" "$T/err"'

# Refusals in jump mode, each in the user's terminal.
ssh -F "$T/ssh_alice" -J "$GW" "$ME@mailonly" true 2>"$T/err"
check "no ssh rule: names the rules the job has" \
	grep -q "jumpgate: job 'mailonly' (jpt-alice-251121-fffff) of alice has no rule for port 22; rules: smtp(25)" "$T/err"
ssh -F "$T/ssh_alice" -J "$GW" "$ME@broken" true 2>"$T/err"
check "malformed annotation: says which key and what is wrong" \
	grep -q "jumpgate: .*broken.*nodeport.crater.raids.io/ssh.*nodePort" "$T/err"
check "the admin finds the malformed annotation with file:line in the log" \
	grep -qE "$T/routes.yaml:[0-9]+: .*nodeport.crater.raids.io/ssh" "$GW_LOG"
ssh -F "$T/ssh_alice" -J "$GW" "$ME@waiting" true 2>"$T/err"
check "not running: names the phase" grep -q "jumpgate: job 'waiting' (jpt-alice-251121-ddddd) of alice is not running (phase Pending)" "$T/err"
ssh -F "$T/ssh_alice" -J "$GW" "$ME@bobjob" true 2>"$T/err"
check "unknown job: lists the user's jobs (at most ten)" \
	grep -q "jumpgate: job 'bobjob' not found for alice; your jobs: " "$T/err"
ssh -F "$T/ssh_alice" -J "$GW" "$ME@deadjob" true 2>"$T/err"
check "unreachable pod: names the endpoint and the error" \
	grep -q "jumpgate: cannot reach job 'jpt-alice-251121-hhhhh' of alice: pod crater-workspace/jpt-alice-251121-hhhhh-default0-0 at 127.0.0.4 port $DEAD_PORT: Connection refused" "$T/err"
# The same refusals in direct mode: on stderr, with a non-zero status.
direct() { ssh -F "$T/ssh_alice" -p "$GW_PORT" "alice+$1@127.0.0.1" true 2>"$T/err"; }
direct mailonly
status=$?
check "direct mode, no ssh rule: non-zero exit" [ $status -ne 0 ]
check "direct mode, no ssh rule: names the rules the job has" \
	grep -q "jumpgate: job 'mailonly' (jpt-alice-251121-fffff) of alice has no rule for port 22; rules: smtp(25)" "$T/err"
direct broken
check "direct mode, malformed annotation: says which key and what is wrong" \
	grep -q "jumpgate: .*broken.*nodeport.crater.raids.io/ssh.*nodePort" "$T/err"
direct waiting
check "direct mode, not running: names the phase" \
	grep -q "jumpgate: job 'waiting' (jpt-alice-251121-ddddd) of alice is not running (phase Pending)" "$T/err"
direct bobjob
check "direct mode, unknown job: lists the user's jobs" \
	grep -q "jumpgate: job 'bobjob' not found for alice; your jobs: " "$T/err"
direct deadjob
status=$?
check "direct mode, unreachable pod: non-zero exit" [ $status -ne 0 ]
check "direct mode, unreachable pod: names the endpoint and the error" \
	grep -q "jumpgate: cannot reach job '.*' of alice: pod crater-workspace/jpt-alice-251121-hhhhh-default0-0 at 127.0.0.4 port $DEAD_PORT: Connection refused" "$T/err"
jg_done
