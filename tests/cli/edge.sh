#!/bin/bash
# edge.sh - CLI behaviour the declarative cases cannot express: a full
# standard output, a closed pipe, huge and unterminated lines, streaming
# in constant memory (peak RSS), the bash completion.
# Every command runs in clitest.py's clean environment (no BDEKEY_*,
# LDAP*, KRB5*; a private HOME).
set -u
: "${BDEKEY:?}"
here=$(cd "$(dirname "$0")" && pwd)
SUITE=edge
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"
pw=496298-461032-321464-595518-463221-173943-033616-139579
make_tmp edge
mapfile -t CLEAN < <(/usr/bin/python3 "$here/../clitest.py" --env "$tmp/home")
[ "${#CLEAN[@]}" -gt 0 ] || { echo "FAIL: no clean environment"; exit 1; }
# bdekey ARGS...: the binary under test in the clean environment
bdekey() { env -i "${CLEAN[@]}" "$BDEKEY" "$@"; }

# a password cut short by a full disk is an error (exit 4), said on stderr
bdekey check "$pw" >/dev/full 2>"$tmp/err"
rc=$?
if [ $rc -eq 4 ] && grep -q 'cannot write to standard output' "$tmp/err"; then ok
else bad "stdout to /dev/full: exit $rc, $(cat "$tmp/err")"; fi

# every command's output is checked the same way, help and version too
for args in config --help --version help "help check" "check --help" \
	"lookup --help" "recover --help" "config --help" "package --help" \
	"login --help" "logout --help" "rotate --help"; do
	# shellcheck disable=SC2086
	bdekey $args >/dev/full 2>"$tmp/err"
	rc=$?
	if [ $rc -eq 4 ] && grep -q 'cannot write to standard output' "$tmp/err"
	then ok; else bad "$args >/dev/full: exit $rc, $(cat "$tmp/err")"; fi
done

# a last line without a newline still counts
out=$(printf '%s' "$pw" | bdekey check -)
[ "$out" = valid ] && ok || bad "unterminated last line: '$out'"

# CRLF input (a file from Windows)
out=$(printf '%s\r\n%s\r\n' "$pw" "$pw" | bdekey check -)
[ "$out" = "$(printf 'valid\nvalid')" ] && ok || bad "CRLF lines: '$out'"

# a huge line is reported once and skipped; the next line is still checked
{ head -c 300000 /dev/zero | tr '\0' 7; printf '\n%s\n' "$pw"; } |
	bdekey check - >"$tmp/out"
rc=$?
if [ $rc -eq 1 ] && [ "$(sed -n 2p "$tmp/out")" = valid ] &&
	grep -q '^invalid: too long' "$tmp/out" && [ "$(wc -l <"$tmp/out")" -eq 2 ]
then ok; else bad "huge line: exit $rc: $(head -c 200 "$tmp/out")"; fi

# JSON for invalid UTF-8 input stays valid JSON
printf '\xff\xfe49\n' | bdekey check --json - >"$tmp/json"
if /usr/bin/python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); assert d["valid"] is False and d["password"] is None' "$tmp/json"
then ok; else bad "invalid UTF-8 JSON: $(cat "$tmp/json")"; fi

# streaming in constant memory: one answer a line, and the peak RSS for
# 100,000 lines within 1 MiB of that for 10,000 (a leak of a dozen bytes
# a line would exceed it; run-to-run noise is a few hundred KiB)
rss() {	# rss N [--json]: peak RSS in KiB of checking N lines, in $RSS
	local n=$1
	shift
	yes "$pw" | head -n "$n" >"$tmp/many"
	env -i "${CLEAN[@]}" /usr/bin/time -f %M -o "$tmp/rss" \
		"$BDEKEY" check "$@" - <"$tmp/many" >"$tmp/out"
	RSS=$(tail -n 1 "$tmp/rss")
	if [ "$(grep -c '^valid$\|"valid":true' "$tmp/out")" -ne "$n" ] ||
		[ "$(wc -l <"$tmp/out")" -ne "$n" ]; then
		bad "$n lines $*: $(wc -l <"$tmp/out") answers"
		return 1
	fi
	ok
}
[ -x /usr/bin/time ] || bad "no /usr/bin/time (Debian package time): no RSS"
for mode in "" --json; do
	# shellcheck disable=SC2086
	rss 10000 $mode || continue
	small=$RSS
	# shellcheck disable=SC2086
	rss 100000 $mode || continue
	large=$RSS
	if [ "$large" -le $((small + 1024)) ]; then ok
	else bad "check $mode: peak RSS ${large} KiB for 100,000 lines, ${small} KiB for 10,000"; fi
done

# bash completion offers commands and each command's options from --help
comp() {
	env -i "${CLEAN[@]}" bash -c 'source docs/bdekey.bash
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_bdekey; echo "${COMPREPLY[*]}"' _ "$BDEKEY" "$@"
}
out=$(comp re)
[ "$out" = "recover report" ] && ok || bad "completion of 're': '$out'"
out=$(comp rep)
[ "$out" = "report" ] && ok || bad "completion of 'rep': '$out'"
out=$(comp lookup --sh)
[ "$out" = "--show" ] && ok || bad "completion of 'lookup --sh': '$out'"
out=$(comp lookup --source "")
[ "$out" = "ad graph all keyvault" ] && ok || bad "completion of --source: '$out'"

finish
