#!/usr/bin/env bash
# Direct mode's third upstream login: the pod's password prompt passed
# through to the user's terminal (upstream.auth "password").  A throwaway
# system user with a password is the pod's login; the gateway's key and
# the agent fail first.  Driven by tmux: the right password gives a shell
# as that user, three wrong ones end with a clear message and exit 1,
# Ctrl-C cancels, a session without a pty is told to use ssh -t, and no
# answer ever reaches the gateway's log.  Also: keyboard-interactive
# through PAM when the machine's PAM lets sshd run, and a gateway without
# "password" in upstream.auth never asks.  Needs root (useradd, sshd).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	fail "running as root, needed to make a user with a password (CI runs as root)"
	jg_done
fi

PWUSER="jgpwtest$$"
PW_CREATED=0
TM=(tmux -L jgpw)
export TMUX_TMPDIR="$T"
GW2_PID=""
GW2_LOG="$T/gateway2.log"

pw_cleanup() {
	local tries=100
	local keep=${JG_KEEP:-0}
	"${TM[@]}" kill-server 2>/dev/null
	JG_KEEP=1 jg_cleanup >/dev/null
	if [ "$PW_CREATED" = 1 ]; then
		# The pod's sessions end with the gateway: wait for them.
		while pgrep -u "$PWUSER" >/dev/null 2>&1 && [ $tries -gt 0 ]; do
			sleep 0.05
			tries=$((tries - 1))
		done
		userdel -f "$PWUSER" 2>/dev/null ||
		    echo "# could not remove user $PWUSER" >&2
	fi
	if [ "$keep" = 1 ]; then echo "kept scratch directory $T"; else rm -rf "$T"; fi
}
trap pw_cleanup EXIT

# Passwords with shell-awkward characters; tmux types them literally.
PW="Pw-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')!x y"
WRONG1="wrong-$(head -c 6 /dev/urandom | base64 | tr -d '/+=')"
WRONG2="also-wrong-$$"
useradd -M -s /bin/sh "$PWUSER" || { fail "useradd $PWUSER"; jg_done; }
PW_CREATED=1
printf '%s:%s\n' "$PWUSER" "$PW" | chpasswd || { fail "chpasswd"; jg_done; }

# pw_start_pod NAME ADDR PORT USEPAM PASSWORDAUTH: an sshd that takes
# passwords; with UsePAM yes keyboard-interactive asks through PAM.
pw_start_pod() {
	local addr=$2 port=$3 pam=$4 pwauth=$5 dir="$T/pod-$1"
	mkdir -p "$dir" /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" </dev/null
	: >"$T/ak_none"
	cat >"$dir/sshd_config" <<CFG
ListenAddress $addr:$port
HostKey $dir/host_key
PidFile none
AuthorizedKeysFile $T/ak_none
StrictModes no
UsePAM $pam
PasswordAuthentication $pwauth
KbdInteractiveAuthentication yes
PermitRootLogin no
LogLevel VERBOSE
CFG
	"$SSHD" -D -e -f "$dir/sshd_config" 2>"$dir/log" &
	POD_PID=$!
	JG_PIDS+=("$POD_PID")
	jg_wait_port "$addr" "$port"
}

jg_keygen alice
mkdir -p "$T/users" "$T/user-keys"
chmod 700 "$T/user-keys"
cp "$T/alice.pub" "$T/users/alice.keys"
POD_PORT=$(jg_free_port 127.0.0.2)
pw_start_pod pw 127.0.0.2 "$POD_PORT" no yes || { fail "pod starts"; jg_done; }
PAM_PORT=$(jg_free_port 127.0.0.3)
pw_start_pod pam 127.0.0.3 "$PAM_PORT" yes no || { fail "PAM pod starts"; jg_done; }
{
	echo "apiVersion: v1"
	echo "kind: List"
	echo "items:"
	jg_pod_yaml p1 alice jpt-alice-251121-pwpwp pwjob 127.0.0.2 "$POD_PORT"
	jg_pod_yaml p2 alice jpt-alice-251121-pampa pamjob 127.0.0.3 "$PAM_PORT"
} >"$T/routes.yaml"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "upstream:
  user: $PWUSER
  auth: [agent, key, password]
  user_key_dir: $T/user-keys
  auth_timeout_ms: 15000"
# Debug: even the most talkative log must not hold an answer.
sed -i 's/level: verbose/level: debug/' "$T/jumpgate.yaml"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
jg_ssh_config "$T/ssh_alice" "$T/alice"
SSHCMD="ssh -F $T/ssh_alice -p $GW_PORT"
GW=127.0.0.1

# -J: a long line the pane wrapped is one line again.
pane() { "${TM[@]}" capture-pane -p -J -t "$1" 2>/dev/null; }
# wait_pane WINDOW ERE [TRIES]
wait_pane() {
	local tries=${3:-300}
	while [ "$tries" -gt 0 ]; do
		pane "$1" | grep -qE -- "$2" && return 0
		tries=$((tries - 1))
		sleep 0.05
	done
	pane "$1" | grep -v '^$' | sed 's/^/#   /' | tail -n 10
	return 1
}
# start_pane NAME COMMAND: a client in tmux; "EXIT=<status>" when it ends.
start_pane() {
	"${TM[@]}" new-session -d -s "$1" -x 100 -y 30 \
	    "$2; echo EXIT=\$?; sleep 60" 2>>"$T/tmux.err"
}
not_in_pane() {
	! pane "$1" | grep -qF -- "$2"
}
type_line() {
	"${TM[@]}" send-keys -t "$1" -l -- "$2"
	"${TM[@]}" send-keys -t "$1" Enter
}

# ---- the right password: a shell as the pod's user ----
start_pane ok "$SSHCMD -t alice+pwjob@$GW"
check "the pod's password prompt is shown on the user's terminal" \
	wait_pane ok "$PWUSER@pwjob's password: ?\$"
type_line ok "$PW"
"${TM[@]}" send-keys -t ok -l 'echo "I=$(whoami)"'
"${TM[@]}" send-keys -t ok Enter
check "the right password gives a shell as $PWUSER" wait_pane ok "I=$PWUSER\$"
check "the password was not echoed" not_in_pane ok "$PW"
type_line ok "exit 6"
check "the shell's exit status comes back (6)" wait_pane ok "^EXIT=6\$"
check "gateway log: logged in with password" \
	grep -qE "direct session for alice from 127\.0\.0\.1 port [0-9]+: job jpt-alice-251121-pwpwp .* as $PWUSER with password after" "$GW_LOG"
check "the pod's sshd accepted the password" \
	grep -qE "Accepted password for $PWUSER from 127\.0\.0\.1" "$T/pod-pw/log"

# ---- three wrong passwords ----
start_pane bad "$SSHCMD -t alice+pwjob@$GW"
wait_pane bad "password: ?\$" >/dev/null
type_line bad "$WRONG1"
check "a wrong password: the user is asked again" \
	wait_pane bad "^Permission denied, please try again\.\$"
type_line bad "$WRONG2"
wait_pane bad "password: ?\$" >/dev/null
type_line bad "$WRONG1$WRONG2"
check "three wrong passwords end the session with exit status 1" \
	wait_pane bad "^EXIT=1\$"
check "... saying the job refused the password 3 times" \
	wait_pane bad "^jumpgate: cannot log in to job 'jpt-alice-251121-pwpwp' as alice: Permission denied: the job refused the password 3 times"
check "... after two 'please try again'" \
	[ "$(pane bad | grep -c '^Permission denied, please try again\.$')" -eq 2 ]
check "gateway log: each refusal, no more than three" \
	[ "$(jg_count "$GW_LOG" "refused the password for $PWUSER \(try [123] of 3\)")" -eq 3 ]

# ---- a wrong try, then backspace; and Ctrl-C ----
start_pane bs "$SSHCMD -t alice+pwjob@$GW 'echo BS=\$(whoami)'"
wait_pane bs "password: ?\$" >/dev/null
type_line bs "$WRONG2"
wait_pane bs "^Permission denied, please try again\.\$" >/dev/null
"${TM[@]}" send-keys -t bs -l -- "${PW}zz"
"${TM[@]}" send-keys -t bs BSpace BSpace Enter
check "after a wrong try, the right password (typo taken back with backspace) runs the command" \
	wait_pane bs "^BS=$PWUSER\$"
check "... exit status 0" wait_pane bs "^EXIT=0\$"

start_pane cc "$SSHCMD -t alice+pwjob@$GW"
wait_pane cc "password: ?\$" >/dev/null
"${TM[@]}" send-keys -t cc -l -- "half"
"${TM[@]}" send-keys -t cc C-c
check "Ctrl-C at the prompt cancels: exit status 1 and 'login cancelled'" \
	wait_pane cc "^jumpgate: cannot log in to job 'jpt-alice-251121-pwpwp' as alice: login cancelled"
wait_pane cc "^EXIT=1\$" >/dev/null || fail "Ctrl-C: exit status 1"

# ---- no pty: the user is told how ----
out=$(timeout 30 $SSHCMD "alice+pwjob@$GW" whoami 2>"$T/nopty.err")
rc=$?
check "without a pty: exit status 1, nothing run" [ $rc -eq 1 ] && [ -z "$out" ]
check "... and the hint to use ssh -t" \
	grep -qF "jumpgate: job 'pwjob' needs a password: run ssh -t -p $GW_PORT alice+pwjob@127.0.0.1 to type it" "$T/nopty.err"
jg_show "$T/nopty.err"

# ---- keyboard-interactive through PAM ----
start_pane pam "$SSHCMD -t alice+pamjob@$GW 'echo K=\$(whoami)'"
if wait_pane pam "^Password: ?\$" 200 >/dev/null; then
	pass "PAM: the pod's own keyboard-interactive prompt is shown"
	type_line pam "$PW"
	if wait_pane pam "^K=$PWUSER\$" 100; then
		pass "PAM: the right answer runs the command as $PWUSER"
		check "gateway log: logged in with keyboard-interactive" \
			grep -qE "job jpt-alice-251121-pampa .* as $PWUSER with keyboard-interactive after" "$GW_LOG"
	elif grep -qE "Accepted keyboard-interactive/pam for $PWUSER" "$T/pod-pam/log"; then
		# This machine's PAM session stack (pam_loginuid in a
		# container) may refuse after the password was accepted.
		pass "PAM: the answer was accepted (the pod's PAM session then failed)"
		jg_show "$T/pod-pam/log"
	else
		fail "PAM: the right answer runs the command as $PWUSER"
		jg_show "$T/pod-pam/log"
	fi
else
	echo "ok - skipped: sshd's keyboard-interactive through PAM does not work here"
	pane pam | sed 's/^/#   /' | tail -n 5
fi

# ---- the answers never reach the gateway's log ----
leaks=0
for s in "$PW" "$WRONG1" "$WRONG2" "half"; do
	grep -qF -- "$s" "$GW_LOG" && leaks=$((leaks + 1))
done
check "no password, right or wrong, is in the gateway log" [ $leaks -eq 0 ]

# A second gateway on the same routes, for other upstream settings.
# start_gw2 EXTRA_YAML: stops the last one first; sets GW2_PORT.
start_gw2() {
	[ -n "$GW2_PID" ] && stop_gw2
	GW2_PORT=$(jg_free_port 127.0.0.1 20000 29999)
	jg_write_config "$T/jumpgate2.yaml" "$T/routes.yaml" "$GW2_PORT" "$1"
	"$JUMPGATE" -D -e -f "$T/jumpgate2.yaml" 2>>"$GW2_LOG" &
	GW2_PID=$!
	JG_PIDS+=("$GW2_PID")
	jg_wait_port 127.0.0.1 "$GW2_PORT"
}
stop_gw2() {
	jg_stop "$GW2_PID"
	GW2_PID=""
	if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$GW2_LOG"; then
		fail "second gateway's log has a sanitizer report"
		grep -E -A30 "AddressSanitizer|LeakSanitizer|runtime error:" "$GW2_LOG" | head -60
	fi
}

# ---- without "password" in upstream.auth (the default) nobody is asked ----
start_gw2 "upstream:
  user: $PWUSER
  user_key_dir: $T/user-keys"
start_pane nopw "ssh -F $T/ssh_alice -p $GW2_PORT -t alice+pwjob@$GW"
check "default upstream.auth: no prompt, the usual refusal, exit status 1" \
	wait_pane nopw "^EXIT=1\$"
check "... telling which key to add" \
	wait_pane nopw "^jumpgate: cannot log in to job 'jpt-alice-251121-pwpwp' as alice: use ssh -A, or add this key"
check "... and never showing a password prompt" not_in_pane nopw "password: "

# ---- password alone (nothing tried before it), and the prompt's timeout ----
start_gw2 "upstream:
  user: $PWUSER
  auth: [password]
  auth_timeout_ms: 2000"
start_pane only "ssh -F $T/ssh_alice -p $GW2_PORT -t alice+pwjob@$GW 'echo O=\$(whoami)'"
wait_pane only "password: ?\$" >/dev/null
type_line only "$PW"
check "upstream.auth [password] alone: the right password runs the command" \
	wait_pane only "^O=$PWUSER\$"
start_pane slow "ssh -F $T/ssh_alice -p $GW2_PORT -t alice+pwjob@$GW"
wait_pane slow "password: ?\$" >/dev/null
start=$(jg_now_ms)
check "nothing typed: the prompt gives up after auth_timeout_ms, exit status 1" \
	wait_pane slow "^EXIT=1\$"
ms=$(( $(jg_now_ms) - start ))
check "... within 2 to 5 s ($ms ms), saying so" \
	[ "$ms" -ge 1500 ] && [ "$ms" -lt 5000 ] && pane slow | grep -q "^jumpgate: cannot log in to job 'jpt-alice-251121-pwpwp' as alice: nothing typed within 2 s"
check "gateway log: no answer there either" jg_lacks "$GW2_LOG" "$PW"
stop_gw2

jg_check_log_clean
jg_done
