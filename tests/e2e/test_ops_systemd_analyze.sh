#!/usr/bin/env bash
# The systemd unit's hardening, checked offline.  systemd/jumpgate.service.in
# is configured with sed as CMake does, `systemd-analyze verify` loads it,
# and `systemd-analyze security --offline=true` must rate its exposure 2.0
# or less; every remaining exposure line must be explained in the unit.
#
# The hardening must not break the gateway: a representative run (jump,
# direct mode with a generated user key, a self-service command, a key
# fetched from a URL, SIGHUP, SIGTERM, and `jumpgate -t` as ExecStartPre
# runs it) is traced with strace, and every system call it makes must be
# in the unit's SystemCallFilter, every socket in RestrictAddressFamilies,
# no mapping writable and executable (MemoryDenyWriteExecute), and no
# /proc file outside the process's own (ProcSubset=pid, ProtectProc).
. "$(dirname "$0")/lib.sh"
# This test runs the gateway under strace; LeakSanitizer cannot work under
# ptrace, so a sanitizer build checks leaks in every other test instead.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

if ! command -v systemd-analyze >/dev/null 2>&1; then
	fail "systemd-analyze is installed (Debian package systemd)"
	jg_done
fi
UNIT_IN="$JG_SOURCE_DIR/systemd/jumpgate.service.in"
UNIT="$T/jumpgate.service"
# As CMake's configure_file(@ONLY) does; sbindir is the build directory
# so that `verify` finds the binary.
sed -e "s|@JG_SBINDIR@|$(dirname "$JUMPGATE")|g" -e "s|@JG_SYSCONFDIR@|/etc|g" \
    "$UNIT_IN" >"$UNIT"
check "the configured unit has no @placeholder@ left" jg_lacks "$UNIT" "@[A-Z_]+@"
systemd-analyze verify "$UNIT" >"$T/verify.out" 2>&1
rc=$?
check "systemd-analyze verify loads the unit (exit $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || jg_show "$T/verify.out"

systemd-analyze security --offline=true "$UNIT" >"$T/security.out" 2>&1
level=$(sed -n 's/.*Overall exposure level for jumpgate.service: \([0-9.]*\).*/\1/p' "$T/security.out")
echo "# systemd-analyze security: overall exposure ${level:-?}"
grep "✗" "$T/security.out" | awk '{ w = $NF; $1 = ""; $NF = ""; printf "#   %-5s %s\n", w, $0 }'
check "the exposure is 2.0 or less (${level:-none})" \
	awk -v l="${level:-99}" 'BEGIN { exit !(l + 0 <= 2.0) }'
missing=""
while read -r name; do
	grep -qF -- "$name" "$UNIT_IN" || missing="$missing $name"
done < <(grep "✗" "$T/security.out" | awk '{ print $2 }')
check "every remaining exposure line is explained in the unit (unexplained:${missing:- none})" \
	[ -z "$missing" ]

# ---- What the filter allows: @system-service minus @privileged @resources.
expand_set() {	# expand_set @SET...: every system call in the sets
	python3 - "$@" <<'PY'
import subprocess, sys
seen = {}
def expand(name):
    if name in seen:
        return seen[name]
    seen[name] = set()
    out = subprocess.run(["systemd-analyze", "syscall-filter", name],
                         capture_output=True, text=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        t = line.strip()
        if not t or t.startswith("#"):
            continue
        calls |= expand(t) if t.startswith("@") else {t}
    seen[name] = calls
    return calls
res = set()
for n in sys.argv[1:]:
    res |= expand(n)
print("\n".join(sorted(res)))
PY
}
allow=$(grep '^SystemCallFilter=[^~]' "$UNIT" | sed 's/^SystemCallFilter=//' | tr ' ' '\n')
deny=$(grep '^SystemCallFilter=~' "$UNIT" | sed 's/^SystemCallFilter=~//' | tr ' ' '\n')
# shellcheck disable=SC2086
expand_set $allow >"$T/allow.txt"
# shellcheck disable=SC2086
expand_set $deny >"$T/deny.txt"
grep -vxFf "$T/deny.txt" "$T/allow.txt" >"$T/permitted.txt"
echo "# the unit's filter permits $(wc -l <"$T/permitted.txt") system calls"
check "the filter permits a sane set (>200 calls)" [ "$(wc -l <"$T/permitted.txt")" -gt 200 ]
check "the filter denies setuid (@privileged)" jg_lacks "$T/permitted.txt" "^setuid$"

if ! command -v strace >/dev/null 2>&1; then
	fail "strace is installed (Debian package strace), to trace the gateway"
	jg_done
fi

# ---- A representative run under strace.
ME=$(id -un)
jg_keygen alice
jg_keygen bob
mkdir -p "$T/users" "$T/user-keys" "$T/www"
chmod 700 "$T/user-keys"
cp "$T/alice.pub" "$T/users/alice.keys"
cp "$T/bob.pub" "$T/www/bob.keys"
cat "$T/alice.pub" "$T/bob.pub" >"$T/pod_ak"
HPORT=$(jg_free_port 127.0.0.1 20000 29999)
python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$HPORT" \
    >"$T/http.log" 2>&1 &
JG_PIDS+=("$!")
jg_wait_port 127.0.0.1 "$HPORT" || fail "the key URL server starts"
POD_PORT=$(jg_free_port 127.0.0.2)
jg_start_pod job1 127.0.0.2 "$POD_PORT" "$T/pod_ak" || { fail "the pod's sshd starts"; jg_done; }
{
	echo "items:"
	jg_pod_yaml p1 alice jpt-alice-251121-aaaaa myjob 127.0.0.2 "$POD_PORT"
	jg_pod_yaml p2 bob jpt-bob-251121-bbbbb bobjob 127.0.0.2 "$POD_PORT"
} >"$T/routes.yaml"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
jg_write_config "$T/jumpgate.yaml" "$T/routes.yaml" "$GW_PORT" "upstream:
  user: $ME
  auth: [key]
  user_key_dir: $T/user-keys"
# A second key source: bob's keys come from a URL.
python3 - "$T/jumpgate.yaml" "$HPORT" <<'PY'
import sys
path, port = sys.argv[1], sys.argv[2]
s = open(path).read()
s = s.replace('      path: "', '      path: "', 1)
s = s.replace("routes:\n", "    - type: url\n      url: \"http://127.0.0.1:%s/%%u.keys\"\n"
              "      timeout_ms: 3000\n      cache_ttl_s: 60\nroutes:\n" % port, 1)
open(path, "w").write(s)
PY
strace -f -qq -o "$T/strace-t.out" "$JUMPGATE" -t -f "$T/jumpgate.yaml" >"$T/t.out" 2>&1
check "jumpgate -t (ExecStartPre) passes under strace" grep -q "configuration OK" "$T/t.out"

GW_LOG="$T/gateway.log"
strace -f -qq -o "$T/strace.out" "$JUMPGATE" -D -e -f "$T/jumpgate.yaml" 2>>"$GW_LOG" &
STRACE_PID=$!
JG_PIDS+=("$STRACE_PID")
jg_wait_log "$GW_LOG" "ready, [0-9]+ workers" 400 || { fail "the gateway starts under strace"; jg_done; }
GW_PID=$(ps -o pid= --ppid "$STRACE_PID" | tr -d ' ')
jg_ssh_config "$T/ssh_alice" "$T/alice"
jg_ssh_config "$T/ssh_bob" "$T/bob"
# Each user's first login fetches their keys from the URL; such a
# cold-cache login can be refused (a gateway bug, test_fault_slow_keys.sh).
# One login each first, whatever its outcome, so that the checks below
# test the hardening, not that bug.
for u in alice bob; do
	timeout 60 ssh -F "$T/ssh_$u" -p "$GW_PORT" "$u@127.0.0.1" help >/dev/null 2>&1 ||
	    echo "# warm-up login of $u refused (cold key cache; see test_fault_slow_keys.sh)"
done
out=$(timeout 60 ssh -F "$T/ssh_alice" -J "alice@127.0.0.1:$GW_PORT" "$ME@myjob" 'echo jumped' 2>"$T/e1")
check "traced: a jump works" [ "$out" = jumped ]
out=$(timeout 60 ssh -F "$T/ssh_alice" -p "$GW_PORT" alice@127.0.0.1 pubkey 2>"$T/e2")
check "traced: a self-service command works (pubkey makes alice's gateway key)" grep -q "^ssh-ed25519 " <<<"$out"
[ -n "$out" ] && echo "$out" >>"$T/pod_ak"
out=$(timeout 60 ssh -F "$T/ssh_alice" -p "$GW_PORT" "alice+myjob@127.0.0.1" 'echo direct' 2>"$T/e3")
check "traced: a direct session works" [ "$out" = direct ]
[ "$out" = direct ] || jg_show "$T/e3"
out=$(timeout 60 ssh -F "$T/ssh_bob" -J "bob@127.0.0.1:$GW_PORT" "$ME@bobjob" 'echo via-url' 2>"$T/e4")
check "traced: a user whose key comes from a URL gets in" [ "$out" = via-url ]
kill -HUP "$GW_PID"
check "traced: SIGHUP reloads" jg_wait_log "$GW_LOG" "Received SIGHUP; configuration reloaded" 400
kill -TERM "$GW_PID"
jg_wait_gone "$STRACE_PID" 400
wait "$STRACE_PID"
check "traced: SIGTERM ends it" [ -s "$T/strace.out" ]

cat "$T/strace-t.out" "$T/strace.out" >"$T/trace.all"
sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$T/trace.all" | sort -u >"$T/used.txt"
echo "# the traced run used $(wc -l <"$T/used.txt") distinct system calls"
bad=$(grep -vxFf "$T/permitted.txt" "$T/used.txt" | tr '\n' ' ')
check "every system call the gateway made is permitted by SystemCallFilter (not permitted: ${bad:-none})" \
	[ -z "$bad" ]
fams=$(sed -nE 's/^[0-9]+ +socket\((AF_[A-Z0-9]+|[0-9]+),.*/\1/p' "$T/trace.all" | sort -u | tr '\n' ' ')
echo "# socket families used: $fams"
check "every socket is AF_INET, AF_INET6 or AF_UNIX (RestrictAddressFamilies)" \
	[ -z "$(tr ' ' '\n' <<<"$fams" | grep -vxE 'AF_INET|AF_INET6|AF_UNIX|')" ]
wx=$(grep -cE '^[0-9]+ +(mmap|mprotect|pkey_mprotect)\(.*PROT_WRITE\|PROT_EXEC|PROT_EXEC\|PROT_WRITE' "$T/trace.all")
check "no mapping is both writable and executable (MemoryDenyWriteExecute; $wx found)" [ "$wx" -eq 0 ]
procs=$(grep -oE '"/proc/[^"]*"' "$T/trace.all" | sort -u | grep -vE '^"/proc/(self|thread-self|[0-9]+)(/|")' | tr '\n' ' ')
check "only the process's own /proc files are opened (ProcSubset=pid; others: ${procs:-none})" \
	[ -z "$procs" ]
echo "# /proc paths used: $(grep -oE '"/proc/[^"]*"' "$T/trace.all" | sed -E 's/[0-9]+/N/g' | sort -u | tr '\n' ' ')"
GW_PID=
jg_done
