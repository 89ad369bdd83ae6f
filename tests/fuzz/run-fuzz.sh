#!/usr/bin/env bash
# run-fuzz.sh: a bounded libFuzzer run of every fuzz target, for CI (the
# CTest fuzz-run) and by hand.  Installs clang and the libFuzzer runtime
# when missing, builds tests/fuzz as a project of its own with clang,
# -DJG_FUZZ=ON (ASan+UBSan), then fuzzes each target for SECONDS on a
# copy of its corpus and saved crashes: the committed corpus never grows.
# Exit status 0 only when no target crashed, leaked, hung or broke an
# invariant; a crash input is kept and the way to make it a regression
# test is printed.
#
#   tests/fuzz/run-fuzz.sh [--build-dir DIR] [--only TARGET] [--seed N]
#                          [SECONDS]
#     SECONDS    per target, default 20
#     DIR        default <repo>/build-fuzz
#     N          libFuzzer's random seed; default a new one each run
#   FUZZ_ARGS    extra libFuzzer flags, e.g. FUZZ_ARGS=-max_len=65536
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build="$top/build-fuzz"
only=
seed=
seconds=20

while [ $# -gt 0 ]; do
	case "$1" in
	--build-dir) build=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--seed)
		case "$2" in
		*[!0-9]*|'') echo "run-fuzz: --seed wants a number, not '$2'" >&2
			exit 2 ;;
		esac
		seed=$2; shift 2 ;;
	-h|--help) sed -n '2,16p' "$0"; exit 0 ;;
	*[!0-9]*|'') echo "run-fuzz: bad argument '$1'" >&2; exit 2 ;;
	*) seconds=$1; shift ;;
	esac
done

# clang and its runtimes: on Debian bookworm libFuzzer ships in
# libclang-rt-14-dev (libclang_rt.fuzzer-x86_64.a), next to ASan/UBSan.
need_pkgs() {
	local missing=() p
	for p in clang libclang-rt-14-dev; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "install ok installed"; then
			missing+=("$p")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	echo "run-fuzz: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
	    >/dev/null
}
need_pkgs

work=$(mktemp -d "${TMPDIR:-/tmp}/jg-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The toolchain must really link a fuzzer, or every target "fails".
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
    >"$work/probe.c"
if ! clang -fsanitize=fuzzer,address,undefined -o "$work/probe" \
    "$work/probe.c" 2>"$work/probe.log"; then
	echo "run-fuzz: clang cannot link a libFuzzer program:" >&2
	cat "$work/probe.log" >&2
	exit 1
fi

echo "run-fuzz: building in $build"
start=$(date +%s)
cmake -S "$here" -B "$build" -DCMAKE_C_COMPILER=clang -DJG_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" \
    >"$work/configure.log" 2>&1 || { cat "$work/configure.log" >&2; exit 1; }
cmake --build "$build" --target fuzz_all -j2 >"$work/build.log" 2>&1 ||
    { tail -50 "$work/build.log" >&2; exit 1; }
echo "run-fuzz: built in $(( $(date +%s) - start )) s"

targets=$(sed -n '/^set(JG_FUZZ_TARGETS/,/)/p' "$here/CMakeLists.txt" |
    tr -d '()' | sed 's/set//; s/JG_FUZZ_TARGETS//' | tr -s ' \n' '\n' |
    grep -v '^$')
if [ -n "$only" ]; then
	targets=$only
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
crashes="$build/crashes"
failed=()
for t in $targets; do
	bin="$build/fuzz_$t"
	corpus="$work/$t/corpus"
	mkdir -p "$corpus" "$work/$t/artifacts"
	rm -rf "$crashes/$t"
	# Saved crashes first, one by one: one not fixed yet fails the
	# target, but must not keep the fuzzer from looking for new ones.
	stale=()
	for f in "$here/regressions/$t/"*; do
		[ -f "$f" ] || continue
		if TMPDIR="$work" "$bin" -runs=1 "$f" >"$work/$t/regression.log" 2>&1; then
			cp "$f" "$corpus/"
		else
			stale+=("$f")
			echo "run-fuzz: $t: saved crash $f still fails:" >&2
			grep -E 'ERROR|SUMMARY|invariant|runtime error|^ +#[0-9] ' \
			    "$work/$t/regression.log" | head -20 >&2 || true
		fi
	done
	# A copy: libFuzzer adds what it finds to the first directory.
	find "$here/corpus/$t" -maxdepth 1 -type f ! -name '.*' \
	    -exec cp {} "$corpus/" \;
	rc=0
	# Scratch files of inputs that crash are not cleaned up at exit:
	# keep them where the trap removes them.
	mkdir -p "$work/$t/tmp"
	# shellcheck disable=SC2086
	TMPDIR="$work/$t/tmp" "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
	    -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" \
	    ${seed:+-seed=$seed} ${FUZZ_ARGS:-} "$corpus" </dev/null >"$work/$t/log" 2>&1 || rc=$?
	# Summaries are best effort: a target that died at start has none.
	stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' \
	    "$work/$t/log" | tail -1 |
	    sed 's/^#\([0-9]*\)[[:space:]]*[A-Z]*/runs \1/') || true
	eps=$(sed -n 's/^stat::average_exec_per_sec:[[:space:]]*//p' \
	    "$work/$t/log") || true
	used_seed=$(sed -n 's/^INFO: Seed: //p' "$work/$t/log" | head -1) || true
	printf 'run-fuzz: %-14s %s, %s exec/s, seed %s\n' "$t" \
	    "${stats:-no stats}" "${eps:-?}" "${used_seed:-?}"
	if [ ${#stale[@]} -gt 0 ] && [ "$rc" -eq 0 ]; then
		failed+=("$t")
	fi
	if [ "$rc" -ne 0 ]; then
		failed+=("$t")
		mkdir -p "$crashes/$t"
		cp "$work/$t/log" "$crashes/$t/log"
		echo "run-fuzz: $t FAILED (exit $rc); the end of its log:" >&2
		grep -v -E '^#[0-9]+' "$work/$t/log" | tail -60 >&2 || true
		for a in "$work/$t/artifacts/"*; do
			[ -f "$a" ] || continue
			cp "$a" "$crashes/$t/"
			name=$(basename "$a")
			echo "run-fuzz: input saved as $crashes/$t/$name" >&2
			echo "run-fuzz: reproduce: $bin $crashes/$t/$name" >&2
			echo "run-fuzz: keep it as a regression test:" >&2
			echo "    cp $crashes/$t/$name $here/regressions/$t/<what-it-breaks>" >&2
		done
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "run-fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
	exit 1
fi
echo "run-fuzz: every target ran ${seconds} s without a failure"
