#!/usr/bin/env bash
# run.sh: THE test command.  Installs what is missing, builds jumpgate
# with warnings as errors, and runs every unit and end-to-end test with
# CTest.  Exit status 0 only when every test passed.
#   tests/run.sh               the normal build (build/)
#   tests/run.sh --sanitize    the same under ASan+UBSan (build-asan/)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build="$top/build"
extra=()
if [ "${1:-}" = "--sanitize" ]; then
	build="$top/build-asan"
	extra=(-DJG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi

"$here/install-deps.sh"
cmake -S "$top" -B "$build" -DJG_WERROR=ON "${extra[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j2 --timeout 600
