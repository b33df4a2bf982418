#!/bin/bash
# run.sh - the README's test command: every test, in one go.
#
# Builds twice through tests/bootstrap.sh and runs `make check` in each:
#   build/       plain, -Werror
#   build-asan/  ASan + UBSan, -Werror, halting on the first report
# then checks the C style with clang-format (counted as one test). Both
# builds always run, so one report shows every failure. The closing line is
# "N passed, N failed"; the exit status is non-zero if anything failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

passed=0
failed=0
failed_logs=() # .log files of failed tests, shown at the end
problems=()    # failures that have no test log of their own

# Build DIR with CONFIGURE_ARGS and run its tests, then count the results:
# automake's TAP driver writes one ":test-result:" line per TAP test into
# DIR/tests/**/*.trs.
check_build()
{
	local dir=$1 make_ok=1 trs result bad n=0 nbad=0
	shift
	echo "=== $dir: build (configure $*)"
	# A stale .trs from an earlier run must not count as this run's.
	if [[ -d $dir/tests ]]; then
		find "$dir/tests" \( -name '*.trs' -o -name '*.log' \) -delete
	fi
	if ! tests/bootstrap.sh "$dir" "$@"; then
		problems+=("$dir: build failed (see its output above)")
		return
	fi
	echo "=== $dir: make check"
	make -C "$dir" check -j2 || make_ok=0

	while IFS= read -r -d '' trs; do
		bad=0
		while read -r _ result _; do
			n=$((n + 1))
			case $result in
			PASS | XFAIL)
				passed=$((passed + 1))
				;;
			# SKIP counts as failed: the project rule is no skipped
			# tests; a test that cannot run fails and says why.
			*) # FAIL, XPASS, ERROR, SKIP
				failed=$((failed + 1))
				bad=1
				;;
			esac
		done < <(grep '^:test-result:' "$trs" || true)
		if ((bad)); then
			failed_logs+=("${trs%.trs}.log")
			nbad=$((nbad + 1))
		fi
	done < <(find "$dir/tests" -name '*.trs' -print0 | sort -z)

	if ((!make_ok && !nbad)); then
		# A check program did not build, or a driver died unrecorded.
		problems+=("$dir: make check failed (see its output above)")
	elif ((n == 0)); then
		problems+=("$dir: no test ran")
	fi
}

check_build build --enable-werror
# Sanitizer reports must fail the test that caused them, leaks included.
ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	check_build build-asan --enable-sanitizers --enable-werror

echo "=== clang-format --dry-run -Werror"
misformatted=()
while IFS= read -r -d '' src; do
	clang-format --dry-run -Werror "$src" 2>/dev/null ||
		misformatted+=("$src")
done < <(find vhdx src policy fuse tests \( -name '*.c' -o -name '*.h' \) \
	-print0 2>/dev/null | sort -z)
if ((${#misformatted[@]} == 0)); then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi

# Each problem without a test of its own counts as one failed test.
failed=$((failed + ${#problems[@]}))
if ((failed)); then
	echo
	echo "=== FAILURES"
	for p in "${problems[@]}"; do
		echo "$p"
	done
	for log in "${failed_logs[@]}"; do
		echo "--- $ROOT/$log (last 40 lines)"
		tail -n 40 "$log" || true
	done
	if ((${#misformatted[@]})); then
		echo "--- clang-format: fix with clang-format -i ${misformatted[*]}"
		for src in "${misformatted[@]}"; do
			clang-format "$src" | diff -u "$src" - | head -n 30 || true
		done
	fi
fi
# What the crash tests saw (write.bats, merge.bats print it into their logs).
echo
echo "=== crash tests"
for dir in build build-asan; do
	grep -h "kills survived" "$dir"/tests/integ/*.log 2>/dev/null |
		sed "s/^# /$dir: /" || true
done
echo "$passed passed, $failed failed"
((failed == 0))
