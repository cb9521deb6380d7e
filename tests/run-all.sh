#!/bin/bash
# run-all.sh - every test `make check` runs: the unit test binaries given as
# arguments, the declarative CLI cases, then the integration suites that
# start their own servers on loopback (Samba AD DC, Graph emulator).
# Needs BDEKEY (the binary under test).  Prints 'check: N passed, M failed'.
set -u
cd "$(dirname "$0")/.." || exit 1
: "${BDEKEY:?BDEKEY must name the binary under test}"
export BDEKEY
# Under SANITIZE=...: exit codes no test expects, and every report also in
# a file, so a report is a failure even where a test expects exit 1.
# Leaks inside libraries we do not own (Kerberos, SASL plug-ins) are theirs.
sanlogs=$(mktemp -d /tmp/bdekey-san.XXXXXX)
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0:exitcode=86"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86:log_path=$sanlogs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=87:log_path=$sanlogs/ubsan"
PY=/usr/bin/python3

pass=0
fail=0
failed=()
tests_pass=0
tests_fail=0
out=$(mktemp /tmp/bdekey-run.XXXXXX)
times=()	# "SECONDS NAME" of each suite, for the slowest in the summary
# run NAME COMMAND...: a suite; its own closing line adds to the test count
run() {
	local name=$1 rc line n m t0=$SECONDS
	shift
	echo "== $name"
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	times+=("$((SECONDS - t0)) $name")
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		failed+=("$name")
	fi
	# "suite: N passed, M failed" (ours) or cmocka's "[  PASSED  ] N test(s)."
	line=$(grep -E '^[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
	if [ -n "$line" ]; then
		n=$(echo "$line" | sed -E 's/^[^:]*: ([0-9]+) passed.*/\1/')
		m=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	else
		n=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' "$out" | tail -1)
		m=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' "$out" | tail -1)
	fi
	tests_pass=$((tests_pass + ${n:-0}))
	tests_fail=$((tests_fail + ${m:-0}))
	# a suite that failed without counting a failure still counts one
	[ "$rc" -eq 0 ] || [ "${m:-0}" -gt 0 ] || tests_fail=$((tests_fail + 1))
}

# The sanitizer reports and the summary; the exit status of the run.
finish() {
	if [ -n "$(ls -A "$sanlogs")" ]; then
		echo "== sanitizer reports"
		cat "$sanlogs"/*
		fail=$((fail + 1))
		tests_fail=$((tests_fail + 1))
		failed+=("sanitizer reports")
	fi
	rm -rf "$sanlogs" "$out" ${vgwrap:+"$vgwrap"}
	echo
	[ "$fail" -eq 0 ] || echo "failed suites: ${failed[*]}"
	# where the time goes (CI keeps the whole run under 30 minutes)
	echo "slowest suites (s): $(printf '%s\n' "${times[@]}" | sort -rn |
		head -6 | awk '{ t = $1; sub(/^[0-9]+ /, "")
			printf "%s%s %s", (NR > 1 ? ", " : ""), $0, t }')"
	echo "suites: $pass passed, $fail failed"
	echo "check: $tests_pass passed, $tests_fail failed"
	[ "$fail" -eq 0 ]
}

# make check VALGRIND=1: the unit and CLI tests under memcheck, where any
# error or definite leak fails the test (exit 88); the suites with servers
# and the memory measurements (edge.sh) run without it.
vgwrap=
if [ -n "${VALGRIND:-}" ]; then
	vg=(valgrind -q --error-exitcode=88 --leak-check=full
	    --errors-for-leak-kinds=definite,indirect
	    --show-leak-kinds=definite,indirect)
	vgwrap=$(mktemp /tmp/bdekey-vg.XXXXXX)
	printf '#!/bin/sh\nexec %s "%s" "$@"\n' "${vg[*]}" "$BDEKEY" >"$vgwrap"
	chmod 755 "$vgwrap"
	for t in "$@"; do
		run "unit $(basename "$t") (valgrind)" timeout 1800 "${vg[@]}" "$t"
	done
	run "cli cases (valgrind)" timeout 1800 "$PY" tests/clitest.py \
	    "$vgwrap" tests/cli/*.t
	finish
	exit
fi

for t in "$@"; do
	run "unit $(basename "$t")" timeout 600 "$t"
done
run "cli cases" timeout 600 "$PY" tests/clitest.py "$BDEKEY" tests/cli/*.t
run "cli edge cases" timeout 120 tests/cli/edge.sh
run "volume" timeout 900 bash tests/volume/test-volume.sh
run "volume cli" timeout 900 bash tests/volume/test-cli.sh
run "cli live cases" timeout 600 "$PY" tests/cli/live.py
# one Samba DC for every suite that needs AD (provisioning takes seconds)
addir=$(mktemp -d /tmp/bdekey-check-ad.XXXXXX)
trap 'tests/ad/dc.sh stop "$addir" >/dev/null 2>&1; rm -rf "$addir"' EXIT
if timeout 600 tests/ad/dc.sh start "$addir" >"$addir.log" 2>&1; then
	export BDEKEY_AD_DIR=$addir
else
	echo "the Samba AD DC did not start:"
	tail -20 "$addir.log"
	fail=$((fail + 1))
	tests_fail=$((tests_fail + 1))
	failed+=("samba-dc")
fi
rm -f "$addir.log"
# the fixtures prove themselves before the suites rely on them
[ -z "${BDEKEY_AD_DIR:-}" ] ||
	run "ad fixture self-test" timeout 300 "$PY" tests/ad/selftest.py "$addir"
run "graph emulator self-test" timeout 300 bash tests/graph/selftest.sh
run "key vault emulator self-test" timeout 300 bash tests/keyvault/selftest.sh
for suite in tests/ad/test-ad.sh tests/ad/test-discovery.sh tests/ad/test-report.sh tests/graph/test-graph.sh tests/graph/test-report.sh tests/graph/test-rotate-wait.sh tests/keyvault/test-keyvault.sh tests/hostile/test-hostile.sh tests/e2e/test-*.sh tests/cli/audit-order.sh; do
	[ -f "$suite" ] || continue
	run "$suite" timeout 1800 bash "$suite"
done

finish
