#!/usr/bin/env bash
# expect_config_error.sh JUMPGATE CFG: `jumpgate -t -f CFG` must refuse the
# broken config CFG: exit status 1, and stderr containing the text that the
# file's first line promises ("# expect: <text>").  Prints what it got when
# it does not.
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 JUMPGATE CFG" >&2
	exit 2
fi
jumpgate=$1
cfg=$2

first=$(head -n 1 -- "$cfg") || { echo "FAIL: cannot read $cfg" >&2; exit 1; }
case $first in
'# expect: '?*)
	want=${first#'# expect: '}
	;;
*)
	echo "FAIL: $cfg: first line must be '# expect: <text>', got: $first" >&2
	exit 1
	;;
esac

errfile=$(mktemp) || exit 1
trap 'rm -f -- "$errfile"' EXIT
"$jumpgate" -t -f "$cfg" >/dev/null 2>"$errfile"
status=$?

fail=0
if [ "$status" -ne 1 ]; then
	echo "FAIL: $cfg: exit status $status, expected 1" >&2
	fail=1
fi
# A fixed-string match: the expectation may contain [ ] . * and quotes.
if ! grep -qF -- "$want" "$errfile"; then
	echo "FAIL: $cfg: stderr lacks: $want" >&2
	fail=1
fi
if [ "$fail" -ne 0 ]; then
	echo "--- stderr of $jumpgate -t -f $cfg:" >&2
	cat -- "$errfile" >&2
	echo "---" >&2
	exit 1
fi
echo "ok: $(basename -- "$cfg"): $want"
