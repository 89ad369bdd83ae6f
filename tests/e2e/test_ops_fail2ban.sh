#!/usr/bin/env bash
# fail2ban bans what jumpgate logs.  Real failed logins are made against a
# gateway logging to stderr (-e), each kind from its own loopback source:
# an unknown user (127.0.0.31), a wrong key for an existing user
# (127.0.0.32), too many authentication failures (127.0.0.33, five keys
# against max_auth_tries 3), and good logins (127.0.0.34).  Debian's
# fail2ban-regex then runs the stock sshd filter on the gateway's own
# lines and must count failures against the right host and user, and
# none against the good one:
#   - sshd[_daemon=jumpgate] (normal mode): unknown users and too many
#     failures count; a valid user's wrong key does not (sshd's filter
#     treats publickey failures so, since clients offer several keys);
#   - sshd[_daemon=jumpgate, mode=aggressive]: the wrong key counts too.
# The same lines in syslog form ("host jumpgate[PID]: ...", as in
# /var/log/auth.log) need _daemon=jumpgate: the stock filter's _daemon =
# sshd matches none of them.  config/fail2ban/ (filter.d/jumpgate.conf,
# jail.d/jumpgate.conf) is checked the same way, and the jail passes
# `fail2ban-client --test`.
. "$(dirname "$0")/lib.sh"

if ! dpkg -s fail2ban >/dev/null 2>&1 || ! command -v fail2ban-regex >/dev/null 2>&1; then
	fail "fail2ban is installed (Debian package fail2ban: apt-get install fail2ban, or tests/install-deps.sh)"
	jg_done
fi
F2B_CONF=/etc/fail2ban
OURS="$JG_SOURCE_DIR/config/fail2ban"

jg_keygen alice
for k in w1 w2 w3 w4 w5; do jg_keygen "$k"; done
mkdir -p "$T/users"
cp "$T/alice.pub" "$T/users/alice.keys"
echo "items: []" >"$T/routes.yaml"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "limits:
  max_auth_tries: 3
  penalty_failures: 100"
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }

# from ADDR KEY...: an ssh_config leaving from ADDR and offering KEYs.
from() {
	local addr=$1 f="$T/ssh_$1"
	shift
	jg_ssh_config "$f" "$1"
	shift
	echo "  BindAddress $addr" >>"$f"
	for k in "$@"; do echo "  IdentityFile $k" >>"$f"; done
	echo "$f"
}
S31=$(from 127.0.0.31 "$T/alice")
S32=$(from 127.0.0.32 "$T/w1")
S33=$(from 127.0.0.33 "$T/w1" "$T/w2" "$T/w3" "$T/w4" "$T/w5")
S34=$(from 127.0.0.34 "$T/alice")
for i in 1 2 3; do
	timeout 20 ssh -F "$S31" -p "$GW_PORT" bob@127.0.0.1 help >/dev/null 2>>"$T/c31.err"
	timeout 20 ssh -F "$S32" -p "$GW_PORT" alice@127.0.0.1 help >/dev/null 2>>"$T/c32.err"
done
for i in 1 2; do
	timeout 20 ssh -F "$S33" -p "$GW_PORT" alice@127.0.0.1 help >/dev/null 2>>"$T/c33.err"
	timeout 20 ssh -F "$S34" -p "$GW_PORT" alice@127.0.0.1 help >>"$T/c34.out" 2>>"$T/c34.err"
done
check "the unknown user is refused 3 times" \
	[ "$(grep -c 'Permission denied' "$T/c31.err")" -eq 3 ]
check "the wrong key is refused 3 times" \
	[ "$(grep -c 'Permission denied' "$T/c32.err")" -eq 3 ]
check "five keys against max_auth_tries 3: Too many authentication failures, twice" \
	[ "$(grep -c 'Too many authentication failures' "$T/c33.err")" -eq 2 ]
check "the good logins got in" [ "$(grep -c 'jumpgate commands' "$T/c34.out")" -eq 2 ]
check "gateway log: 3 x Invalid user bob from 127.0.0.31" \
	jg_wait_count "$GW_LOG" "Invalid user bob from 127.0.0.31 port [0-9]+$" 3
check "gateway log: 3 x Connection closed by authenticating user alice 127.0.0.32 [preauth]" \
	jg_wait_count "$GW_LOG" "Connection closed by authenticating user alice 127.0.0.32 port [0-9]+ \[preauth\]" 3
check "gateway log: 2 x maximum authentication attempts exceeded for alice from 127.0.0.33" \
	jg_wait_count "$GW_LOG" "maximum authentication attempts exceeded for alice from 127.0.0.33 port [0-9]+ ssh2 \[preauth\]" 2
check "gateway log: 2 x Accepted publickey for alice from 127.0.0.34" \
	jg_wait_count "$GW_LOG" "Accepted publickey for alice from 127.0.0.34 port" 2
jg_wait_count "$GW_LOG" "session-end .*from=127.0.0.34:" 2 >/dev/null
jg_stop "$GW_PID"
grep -E "Invalid user|Failed publickey|maximum authentication|Connection closed by|Accepted publickey" \
    "$GW_LOG" | head -8 | sed 's/^/# log: /'

# The same lines as syslog writes them (rsyslog, /var/log/auth.log): the
# host name in front, and no "verbose: " style level word (syslog carries
# the level as the priority).
sed -E 's/^[0-9-]+T[0-9:.]+Z (jumpgate\[[0-9]+\]: )((debug|verbose|warn|error): )?/Nov 21 14:03:33 gw1 \1/' \
    "$GW_LOG" >"$T/auth.log"

# A fail2ban configuration directory with config/fail2ban/ installed in
# it; the Debian sshd jail is off, ours reads the gateway's log.
cp -r "$F2B_CONF" "$T/f2b"
cp "$OURS/filter.d/jumpgate.conf" "$T/f2b/filter.d/"
cp "$OURS/jail.d/jumpgate.conf" "$T/f2b/jail.d/"
printf '[sshd]\nenabled = false\n\n[jumpgate]\nlogpath = %s\nbackend = polling\n' \
    "$T/auth.log" >"$T/f2b/jail.d/zz-test.local"

# f2b NAME LOG FILTER [CONFDIR]: fail2ban-regex; one "IP USER" line per
# failure it would count, in $T/f2b-NAME, and its summary line.
f2b() {
	fail2ban-regex ${4:+-c "$4"} -r -o '<ip> <F-USER>' "$2" "$3" \
	    >"$T/f2b-$1" 2>"$T/f2b-$1.err"
	fail2ban-regex ${4:+-c "$4"} -r "$2" "$3" 2>/dev/null | grep '^Lines:' >"$T/f2b-$1.sum"
	echo "# fail2ban-regex $3 on $(basename "$2"): $(cat "$T/f2b-$1.sum");" \
	    "failures by host: $(awk '{ print $1 }' "$T/f2b-$1" | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')"
}
hits() { grep -c "^$2 " "$T/f2b-$1"; }
users_of() { awk -v ip="$2" '$1 == ip { print $2 }' "$T/f2b-$1" | sort -u | tr '\n' ' '; }

# expect NAME AGGRESSIVE: the checks for one fail2ban-regex run.
expect() {
	local n=$1 aggr=$2 what="$1"
	check "$what: the unknown user counts against 127.0.0.31, 3 times or more ($(hits "$n" 127.0.0.31))" \
		[ "$(hits "$n" 127.0.0.31)" -ge 3 ]
	check "$what: ... as user bob ($(users_of "$n" 127.0.0.31))" [ "$(users_of "$n" 127.0.0.31)" = "bob " ]
	check "$what: too many authentication failures count against 127.0.0.33, twice or more ($(hits "$n" 127.0.0.33))" \
		[ "$(hits "$n" 127.0.0.33)" -ge 2 ]
	check "$what: ... as user alice ($(users_of "$n" 127.0.0.33))" [ "$(users_of "$n" 127.0.0.33)" = "alice " ]
	if [ "$aggr" = 1 ]; then
		check "$what: the wrong key counts against 127.0.0.32, 3 times ($(hits "$n" 127.0.0.32))" \
			[ "$(hits "$n" 127.0.0.32)" -eq 3 ]
	else
		check "$what: a valid user's wrong key is not a failure in normal mode ($(hits "$n" 127.0.0.32))" \
			[ "$(hits "$n" 127.0.0.32)" -eq 0 ]
	fi
	check "$what: nothing counts against the good logins' 127.0.0.34 ($(hits "$n" 127.0.0.34))" \
		[ "$(hits "$n" 127.0.0.34)" -eq 0 ]
	# 127.0.0.1 is jg_start_gateway's port probe: a connection closed
	# before its identification, which aggressive mode counts as
	# sshd's ddos rules do.
	check "$what: every failure names one of the test's client addresses" \
		[ "$(grep -cvE '^127\.0\.0\.(3[123]|1) ' "$T/f2b-$n")" -eq 0 ]
}

f2b stderr-normal "$GW_LOG" "sshd[_daemon=jumpgate]"
expect stderr-normal 0
f2b stderr-aggr "$GW_LOG" "sshd[_daemon=jumpgate, mode=aggressive]"
expect stderr-aggr 1
f2b syslog-normal "$T/auth.log" "sshd[_daemon=jumpgate]"
expect syslog-normal 0
f2b syslog-stock "$T/auth.log" "sshd"
check "syslog lines: the stock sshd filter (_daemon = sshd) matches none of jumpgate's ($(wc -l <"$T/f2b-syslog-stock"))" \
	[ "$(wc -l <"$T/f2b-syslog-stock")" -eq 0 ]
f2b stderr-stock "$GW_LOG" "sshd"
echo "# (on stderr lines the stock filter matches only because its optional host name field takes 'jumpgate[PID]:')"

# Our filter and jail.
f2b ours-normal "$T/auth.log" jumpgate "$T/f2b"
expect ours-normal 0
f2b ours-aggr "$T/auth.log" "jumpgate[mode=aggressive]" "$T/f2b"
expect ours-aggr 1
out=$(fail2ban-client -c "$T/f2b" --test 2>&1)
check "fail2ban-client --test accepts config/fail2ban's jail" grep -q "configuration test is successful" <<<"$out"
grep -q "successful" <<<"$out" || printf '%s\n' "$out" | tail -5 | sed 's/^/#   /'
out=$(fail2ban-client -c "$T/f2b" -d 2>/dev/null)
check "the jail 'jumpgate' is defined, with the journal match for jumpgate.service" \
	grep -q "'jumpgate', 'addjournalmatch', '_SYSTEMD_UNIT=jumpgate.service'" <<<"$out"
jg_done
