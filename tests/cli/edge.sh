#!/bin/bash
# edge.sh - CLI behaviour the declarative cases cannot express: a full
# standard output, a closed pipe, huge and unterminated lines, streaming.
set -u
: "${BDEKEY:?}"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
pw=496298-461032-321464-595518-463221-173943-033616-139579
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# a password cut short by a full disk is an error (exit 4), said on stderr
"$BDEKEY" check "$pw" >/dev/full 2>"$tmp/err"
rc=$?
if [ $rc -eq 4 ] && grep -q 'cannot write to standard output' "$tmp/err"; then ok
else bad "stdout to /dev/full: exit $rc, $(cat "$tmp/err")"; fi

# a last line without a newline still counts
out=$(printf '%s' "$pw" | "$BDEKEY" check -)
[ "$out" = valid ] && ok || bad "unterminated last line: '$out'"

# CRLF input (a file from Windows)
out=$(printf '%s\r\n%s\r\n' "$pw" "$pw" | "$BDEKEY" check -)
[ "$out" = "$(printf 'valid\nvalid')" ] && ok || bad "CRLF lines: '$out'"

# a huge line is reported once and skipped; the next line is still checked
{ head -c 300000 /dev/zero | tr '\0' 7; printf '\n%s\n' "$pw"; } |
	"$BDEKEY" check - >"$tmp/out"
rc=$?
if [ $rc -eq 1 ] && [ "$(sed -n 2p "$tmp/out")" = valid ] &&
	grep -q '^invalid: too long' "$tmp/out" && [ "$(wc -l <"$tmp/out")" -eq 2 ]
then ok; else bad "huge line: exit $rc: $(head -c 200 "$tmp/out")"; fi

# JSON for invalid UTF-8 input stays valid JSON
printf '\xff\xfe49\n' | "$BDEKEY" check --json - >"$tmp/json"
if /usr/bin/python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); assert d["valid"] is False and d["password"] is None' "$tmp/json"
then ok; else bad "invalid UTF-8 JSON: $(cat "$tmp/json")"; fi

# streaming: 200,000 lines in constant memory, one answer a line
for i in $(seq 1 1000); do echo "$pw"; done >"$tmp/k"
for i in $(seq 1 200); do cat "$tmp/k"; done >"$tmp/many"
n=$("$BDEKEY" check - <"$tmp/many" | grep -c '^valid$')
[ "$n" -eq 200000 ] && ok || bad "200000 lines gave $n valid"

# bash completion offers commands and each command's options from --help
comp() {
	bash -c 'source docs/bdekey.bash; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_bdekey; echo "${COMPREPLY[*]}"' _ "$BDEKEY" "$@"
}
out=$(comp re)
[ "$out" = "recover" ] && ok || bad "completion of 're': '$out'"
out=$(comp lookup --sh)
[ "$out" = "--show" ] && ok || bad "completion of 'lookup --sh': '$out'"
out=$(comp lookup --source "")
[ "$out" = "ad graph all" ] && ok || bad "completion of --source: '$out'"

echo "edge: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
