#!/usr/bin/env bash
# Direct mode with clients other than OpenSSH: dropbear's dbclient, PuTTY's
# plink and python3-paramiko each log in as alice+myjob, run a command
# whose output and exit status are checked, and paramiko also moves a
# file both ways over sftp.  Their host-key stores live under a scratch
# HOME.
. "$(dirname "$0")/lib.sh"

jg_direct_gateway
mkdir -p "$T/home"
GW_FP=$(ssh-keygen -l -E sha256 -f "$T/gw_host_ed25519_key.pub" | awk '{print $2}')
CMD='echo says-$((6 * 7)) $SSH_CONNECTION; echo oops >&2; exit 6'
WANT="^says-42 [0-9.]+ [0-9]+ 127\.0\.0\.2 $POD_PORT\$"

# ---- dropbear ----
if ! command -v dbclient >/dev/null || ! command -v dropbearconvert >/dev/null; then
	fail "dbclient and dropbearconvert are installed"
else
	dropbearconvert openssh dropbear "$T/alice" "$T/alice.db" >/dev/null 2>&1
	out=$(HOME="$T/home" timeout 30 dbclient -y -y -i "$T/alice.db" \
	    -p "$GW_PORT" alice+myjob@127.0.0.1 "$CMD" </dev/null 2>"$T/db.err")
	rc=$?
	check "dbclient runs a command in the pod" grep -qE "$WANT" <<<"$out"
	check "dbclient gets stderr apart and exit status 6" \
		[ $rc -eq 6 ] && grep -q "^oops" "$T/db.err"
	[ -n "$out" ] || jg_show "$T/db.err"
	HOME="$T/home" timeout 30 dbclient -y -y -i "$T/alice.db" \
	    -p "$GW_PORT" alice+nosuchjob@127.0.0.1 true </dev/null >/dev/null 2>"$T/db2.err"
	check "dbclient shows why an unknown job is refused" \
		grep -q "jumpgate: job 'nosuchjob' not found for alice" "$T/db2.err"
fi

# ---- PuTTY ----
if ! command -v plink >/dev/null || ! command -v puttygen >/dev/null; then
	fail "plink and puttygen are installed"
else
	puttygen "$T/alice" -O private -o "$T/alice.ppk" >/dev/null 2>&1
	out=$(HOME="$T/home" timeout 30 plink -ssh -batch -noagent \
	    -i "$T/alice.ppk" -hostkey "$GW_FP" -P "$GW_PORT" -l alice+myjob \
	    127.0.0.1 "$CMD" </dev/null 2>"$T/plink.err")
	rc=$?
	out=$(tr -d '\r' <<<"$out")
	check "plink runs a command in the pod" grep -qE "$WANT" <<<"$out"
	check "plink gets stderr apart and exit status 6" \
		[ $rc -eq 6 ] && grep -q "^oops" "$T/plink.err"
	[ -n "$out" ] || jg_show "$T/plink.err"
fi

# ---- paramiko ----
PY=/usr/bin/python3
if ! "$PY" -c 'import paramiko' 2>/dev/null; then
	fail "python3-paramiko is installed"
else
	head -c 1000000 /dev/urandom >"$T/blob"
	"$PY" - "$GW_PORT" "$T/alice" "$T/blob" "$T/blob.pm" "$T/blob.back" \
	    "$CMD" >"$T/pm.out" 2>"$T/pm.err" <<'PY'
import sys, paramiko
port, key, src, remote, back, cmd = sys.argv[1:7]
c = paramiko.SSHClient()
c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
c.connect("127.0.0.1", port=int(port), username="alice+myjob",
          key_filename=key, look_for_keys=False, allow_agent=False,
          timeout=20)
_, out, err = c.exec_command(cmd)
print("out:" + out.read().decode().strip())
print("err:" + err.read().decode().strip())
print("status:%d" % out.channel.recv_exit_status())
sftp = c.open_sftp()
sftp.put(src, remote)
sftp.get(remote, back)
print("sftp:%d" % sftp.stat(remote).st_size)
sftp.close()
c.close()
PY
	check "paramiko exec: output from the pod" grep -qE "^out:says-42 " "$T/pm.out"
	check "paramiko exec: stderr apart and exit status 6" \
		grep -q "^err:oops" "$T/pm.out" && grep -q "^status:6" "$T/pm.out"
	check "paramiko sftp: a file goes up and comes back intact" \
		cmp -s "$T/blob" "$T/blob.back"
	grep -q "^status:" "$T/pm.out" || jg_show "$T/pm.err"
fi

check "gateway log: the clients' sessions were direct" \
	jg_wait_count "$GW_LOG" "session-end .*job=jpt-alice-251121-aaaaa .*mode=direct" 3
jg_check_log_clean
jg_done
