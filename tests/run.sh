#!/usr/bin/env bash
# run.sh: THE test command.  Installs what is missing, then builds and runs
# every unit and end-to-end test twice with CTest: a normal build with
# warnings as errors (build/), and the same under AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/), where a memory error, a leak
# at exit or undefined behaviour in the gateway fails the test that saw it.
# Exit status 0 only when every test passed in both.
#   tests/run.sh            both builds
#   tests/run.sh --normal   the normal build only
#   tests/run.sh --sanitize the sanitizer build only
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
mode=${1:-all}

"$here/install-deps.sh"

run_build() {	# DIR CMAKE_ARGS...
	local dir=$1
	shift
	cmake -S "$top" -B "$dir" -DJG_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)"
	ctest --test-dir "$dir" --output-on-failure -j2 --timeout 900
}

if [ "$mode" = all ] || [ "$mode" = --normal ]; then
	echo "== normal build =="
	run_build "$top/build"
fi
if [ "$mode" = all ] || [ "$mode" = --sanitize ]; then
	echo "== AddressSanitizer + UndefinedBehaviorSanitizer build =="
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	run_build "$top/build-asan" -DJG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
fi
