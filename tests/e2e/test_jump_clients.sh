#!/usr/bin/env bash
# Jump mode with clients other than OpenSSH: dropbear's dbclient and
# PuTTY's plink.  Each logs in to the gateway with alice's key (converted
# to its own format), opens a direct-tcpip channel to the job, logs in to
# the pod's real sshd through it and runs a command whose output is
# checked.  Both keep their host-key stores under a scratch HOME.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
jg_keygen alice
mkdir -p "$T/users" "$T/home"
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/alice.pub" "$T/pod_authorized_keys"

POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_authorized_keys" ||
    { fail "the pod's sshd starts"; jg_done; }
{
	echo "apiVersion: v1"
	echo "kind: List"
	echo "items:"
	jg_pod_yaml p1 alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
} >"$T/routes.yaml"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }

fingerprint() { ssh-keygen -l -E sha256 -f "$1" | awk '{print $2}'; }
GW_FP=$(fingerprint "$T/gw_host_ed25519_key.pub")
POD_FP=$(fingerprint "$T/pod-job1/host_key.pub")

# ---- dropbear ----
if ! command -v dbclient >/dev/null || ! command -v dropbearconvert >/dev/null; then
	fail "dbclient and dropbearconvert are installed"
else
	dropbearconvert openssh dropbear "$T/alice" "$T/alice.db" \
	    >/dev/null 2>"$T/conv.err"
	check "dropbearconvert turns alice's key into dropbear's format" \
		[ -s "$T/alice.db" ]
	# -J runs a program as the transport; the inner dbclient's -B asks
	# the gateway for a direct-tcpip channel to myjob:22 (netcat mode).
	# -y -y: no host-key store (both hosts have fresh keys every run).
	proxy="dbclient -y -y -i $T/alice.db -p $GW_PORT -B myjob:22 alice@127.0.0.1"
	out=$(HOME="$T/home" timeout 30 dbclient -y -y -i "$T/alice.db" \
	    -J "$proxy" "$ME@myjob" 'echo dropbear-says-$((6 * 7)) $SSH_CONNECTION' \
	    </dev/null 2>"$T/db.err")
	check "dbclient -J 'dbclient -B myjob:22' logs in to the pod and runs a command" \
		grep -qE "^dropbear-says-42 [0-9.]+ [0-9]+ 127\.0\.0\.2 $POD_PORT\$" <<<"$out"
	[ -n "$out" ] || jg_show "$T/db.err"
	# Multi-hop syntax: dbclient's own "host1,host2" route through the
	# gateway; the second hop's host is the job name.
	# dbclient runs itself for the first hop, so it needs its full path.
	out=$(HOME="$T/home" timeout 30 "$(command -v dbclient)" -y -y \
	    -i "$T/alice.db" "alice@127.0.0.1/$GW_PORT,$ME@myjob" 'echo multihop-ok' \
	    </dev/null 2>"$T/db2.err")
	check "dbclient multi-hop 'gw,myjob' reaches the pod" [ "$out" = multihop-ok ]
	[ "$out" = multihop-ok ] || jg_show "$T/db2.err"
	# An unknown job: the gateway answers in-band with an SSH
	# disconnect.  Dropbear prints "Disconnect received" and drops the
	# text of any disconnect message (its process_packet ignores it), so
	# only the outcome and the gateway's log can be checked here.
	start=$(jg_now_ms)
	HOME="$T/home" timeout 30 dbclient -y -y -i "$T/alice.db" \
	    -J "dbclient -y -y -i $T/alice.db -p $GW_PORT -B nosuchjob:22 alice@127.0.0.1" \
	    "$ME@nosuchjob" true </dev/null >/dev/null 2>"$T/db3.err"
	db3=$?
	db3_ms=$(( $(jg_now_ms) - start ))
	# dropbear_close() exits 0 even then: the status proves nothing.
	check "dbclient to an unknown job ends on the gateway's disconnect" \
		grep -q "Connection to $ME@nosuchjob:22 exited: Disconnect received" "$T/db3.err"
	check "gateway log: dbclient's unknown job refused, listing alice's jobs" \
		grep -qE "refused jump for alice from 127.0.0.1 port [0-9]+ to nosuchjob port 22: job 'nosuchjob' not found for alice; your jobs: jpt-alice-251121-aaaaa" "$GW_LOG"
	echo "# dbclient refusal took $db3_ms ms (exit status $db3)"
fi

# ---- PuTTY ----
if ! command -v plink >/dev/null || ! command -v puttygen >/dev/null; then
	fail "plink and puttygen are installed"
else
	puttygen "$T/alice" -O private -o "$T/alice.ppk" >/dev/null 2>"$T/conv.err"
	check "puttygen turns alice's key into a .ppk" [ -s "$T/alice.ppk" ]
	# The outer plink tunnels through the inner one (-nc: a direct-tcpip
	# channel in place of a session); -hostkey pins each host's key.
	proxy="plink -ssh -batch -noagent -i $T/alice.ppk -hostkey $GW_FP -P $GW_PORT -l alice -nc myjob:22 127.0.0.1"
	out=$(HOME="$T/home" timeout 30 plink -ssh -batch -noagent \
	    -i "$T/alice.ppk" -hostkey "$POD_FP" -proxycmd "$proxy" \
	    -l "$ME" myjob 'echo putty-says-$((6 * 7)) $SSH_CONNECTION' \
	    </dev/null 2>"$T/plink.err")
	out=$(tr -d '\r' <<<"$out")
	check "plink -proxycmd 'plink -nc myjob:22' logs in to the pod and runs a command" \
		grep -qE "^putty-says-42 [0-9.]+ [0-9]+ 127\.0\.0\.2 $POD_PORT\$" <<<"$out"
	[ -n "$out" ] || jg_show "$T/plink.err"
	# A wrong pinned key for the gateway must stop plink before it logs in.
	HOME="$T/home" timeout 30 plink -ssh -batch -noagent -i "$T/alice.ppk" \
	    -hostkey "$POD_FP" -P "$GW_PORT" -l alice -nc myjob:22 127.0.0.1 \
	    </dev/null >/dev/null 2>"$T/plink2.err"
	check "plink refuses a gateway whose host key does not match -hostkey" \
		grep -q "Host key not in manually configured list" "$T/plink2.err"
	# An unknown job: PuTTY prints the text of the in-band disconnect.
	HOME="$T/home" timeout 30 plink -ssh -batch -noagent \
	    -i "$T/alice.ppk" -hostkey "$POD_FP" \
	    -proxycmd "plink -ssh -batch -noagent -i $T/alice.ppk -hostkey $GW_FP -P $GW_PORT -l alice -nc nosuchjob:22 127.0.0.1" \
	    -l "$ME" nosuchjob true </dev/null >/dev/null 2>"$T/plink4.err"
	check "plink shows the gateway's refusal for an unknown job" \
		grep -q "jumpgate: job 'nosuchjob' not found for alice; your jobs: jpt-alice-251121-aaaaa" "$T/plink4.err"
	grep -q "jumpgate: job" "$T/plink4.err" || jg_show "$T/plink4.err"
	# plink -nc to a job without a rule for that port: a plain open
	# failure (not port 22, so nothing is said in-band).
	HOME="$T/home" timeout 30 plink -ssh -batch -noagent -i "$T/alice.ppk" \
	    -hostkey "$GW_FP" -P "$GW_PORT" -l alice -nc myjob:8888 127.0.0.1 \
	    </dev/null >"$T/plink3.out" 2>"$T/plink3.err"
	plink3=$?
	check "plink -nc to a port without a rule fails" [ "$plink3" -ne 0 ]
fi

# Logins: dbclient x3 (with multi-hop's first hop), plink x3 (the one
# with the wrong pinned key never gets that far).
check "gateway log: every dbclient and plink login was accepted by key" \
	jg_wait_count "$GW_LOG" "Accepted publickey for alice from 127.0.0.1 port [0-9]+ ssh2: ED25519 SHA256:" 6
check "gateway log: jumps to myjob port 22 were made (dbclient x2, plink)" \
	jg_wait_count "$GW_LOG" "jump for alice from 127.0.0.1 port [0-9]+ to myjob port 22: job jpt-alice-251121-aaaaa" 3
check "gateway log: the port-8888 jump was refused with the rules" \
	grep -qE "refused jump for alice from 127.0.0.1 port [0-9]+ to myjob port 8888: .*rules: ssh\(22\)" "$GW_LOG"
jg_check_log_clean
jg_done
