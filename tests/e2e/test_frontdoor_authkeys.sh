#!/usr/bin/env bash
# authorized_keys options at the front door, with real logins: from=,
# command=, restrict, expiry-time= and permitopen=, each in alice's keys
# file ($T/users/alice.keys) on its own key.  Then an unknown user and a
# wrong key must get the same answer; the median time of each is printed
# (not asserted).
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
for k in kfrom10 kfrom127 kcmd krestrict kexp kopen mallory; do jg_keygen "$k"; done
mkdir -p "$T/users"
{
	echo "from=\"10.0.0.0/8\" $(cat "$T/kfrom10.pub")"
	echo "from=\"127.0.0.0/8\" $(cat "$T/kfrom127.pub")"
	echo "command=\"echo hi\" $(cat "$T/kcmd.pub")"
	echo "restrict $(cat "$T/krestrict.pub")"
	echo "expiry-time=\"20000101\" $(cat "$T/kexp.pub")"
	echo "permitopen=\"myjob:22\" $(cat "$T/kopen.pub")"
} >"$T/users/alice.keys"
KEYS="$T/users/alice.keys"
cat "$T"/k*.pub >"$T/pod_authorized_keys"

POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_authorized_keys" ||
    { fail "the pod's sshd starts"; jg_done; }
{
	echo "apiVersion: v1"
	echo "kind: List"
	echo "items:"
	jg_pod_yaml p1 alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
	jg_pod_yaml p2 alice jpt-alice-251121-bbbbb otherjob 127.0.0.2 "$POD_PORT"
} >"$T/routes.yaml"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
# No penalty box: the timing part below fails 20 logins on purpose.
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "limits:
  penalty_duration_s: 0"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
GW="alice@127.0.0.1:$GW_PORT"
for k in kfrom10 kfrom127 kcmd krestrict kexp kopen mallory; do
	jg_ssh_config "$T/ssh_$k" "$T/$k"
done
fp() { ssh-keygen -l -E sha256 -f "$T/$1.pub" | awk '{print $2}'; }
# A SHA256 fingerprint is base64: '+' must not act as an ERE operator.
# jump KEY TARGET: ssh -J with only that key (both hops), prints output.
jump() {
	timeout 30 ssh -F "$T/ssh_$1" -J "$GW" "$ME@$2" "echo $1-ok" 2>"$T/$1.err"
}

out=$(jump kfrom10 myjob)
check "from=\"10.0.0.0/8\": refused from 127.0.0.1" \
	jg_refused "$out" "$T/kfrom10.err" "Permission denied (publickey)"
check "gateway log: the from= refusal names the line and the pattern" \
	grep -qF "key ED25519 $(fp kfrom10) refused: key at $KEYS:1 is not allowed from 127.0.0.1 (from=\"10.0.0.0/8\")" "$GW_LOG"
out=$(jump kfrom127 myjob)
check "from=\"127.0.0.0/8\": accepted from 127.0.0.1" [ "$out" = kfrom127-ok ]
[ "$out" = kfrom127-ok ] || jg_show "$T/kfrom127.err"

out=$(jump kcmd myjob)
check "command=\"...\": refused" \
	jg_refused "$out" "$T/kcmd.err" "Permission denied (publickey)"
check "gateway log: the command= refusal says jumpgate cannot honour it" \
	grep -qF "key ED25519 $(fp kcmd) refused: key at $KEYS:3 is restricted by command= which jumpgate cannot honour" "$GW_LOG"

out=$(jump krestrict myjob)
check "restrict: the jump is refused" [ -z "$out" ]
check "restrict: the client prints the jumpgate message about port forwarding" \
	grep -qF "jumpgate: the key you logged in with does not permit forwarding to myjob port 22 (authorized_keys no-port-forwarding, restrict or permitopen)" "$T/krestrict.err"
grep -q "does not permit" "$T/krestrict.err" || jg_show "$T/krestrict.err"
check "gateway log: the restrict refusal" \
	grep -qE "refused jump for alice from 127.0.0.1 port [0-9]+ to myjob port 22: the key you logged in with does not permit forwarding" "$GW_LOG"

out=$(jump kexp myjob)
check "expiry-time=\"20000101\": refused" \
	jg_refused "$out" "$T/kexp.err" "Permission denied (publickey)"
check "gateway log: the expiry refusal names the time" \
	grep -qF "key ED25519 $(fp kexp) refused: key at $KEYS:5 expired at 2000-01-01 00:00:00 UTC" "$GW_LOG"

out=$(jump kopen myjob)
check "permitopen=\"myjob:22\": the jump to myjob works" [ "$out" = kopen-ok ]
out=$(jump kopen otherjob)
check "permitopen=\"myjob:22\": the jump to otherjob is refused with the message" \
	jg_refused "$out" "$T/kopen.err" "jumpgate: the key you logged in with does not permit forwarding to otherjob port 22"

# ---- Unknown user and wrong key look the same ----
# attempt KEY USER: one failed login; prints its time in ms, leaves stderr.
attempt() {
	local start
	start=$(jg_now_ms)
	timeout 30 ssh -F "$T/ssh_$1" -p "$GW_PORT" "$2@127.0.0.1" true 2>"$T/attempt.err"
	echo $(( $(jg_now_ms) - start ))
}
: >"$T/t.unknown"
: >"$T/t.wrong"
for _ in $(seq 1 10); do
	attempt kfrom127 nosuchuser >>"$T/t.unknown"
	sed 's/nosuchuser/USER/g' "$T/attempt.err" >"$T/unknown.err"
	attempt mallory alice >>"$T/t.wrong"
	sed 's/alice/USER/g' "$T/attempt.err" >"$T/wrong.err"
done
check "unknown user: Permission denied (publickey)" grep -q "Permission denied (publickey)" "$T/unknown.err"
check "wrong key: Permission denied (publickey)" grep -q "Permission denied (publickey)" "$T/wrong.err"
check "unknown user and wrong key: the client sees the same text" cmp -s "$T/unknown.err" "$T/wrong.err"
cmp -s "$T/unknown.err" "$T/wrong.err" || { jg_show "$T/unknown.err"; jg_show "$T/wrong.err"; }
echo "# median of 10 failed logins: unknown user $(jg_median <"$T/t.unknown") ms, wrong key $(jg_median <"$T/t.wrong") ms"
check "gateway log: 10 x Failed publickey for invalid user nosuchuser" \
	jg_wait_count "$GW_LOG" "Failed publickey for invalid user nosuchuser from 127.0.0.1 port [0-9]+ ssh2" 10
check "gateway log: 10 x Failed publickey for alice (wrong key)" \
	jg_wait_count "$GW_LOG" "Failed publickey for alice from 127.0.0.1 port [0-9]+ ssh2: ED25519 $(fp mallory | sed 's/[+/]/\\&/g')" 10
jg_check_log_clean
jg_done
