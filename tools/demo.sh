#!/bin/bash
# demo.sh - `make demo`: a tour of bdekey against a real Samba AD domain
# controller and the project's Graph emulator, both on loopback, started
# here and stopped on exit (nothing is left running).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BDEKEY:?BDEKEY must name the binary}"
PY=/usr/bin/python3

tmp=$(mktemp -d /tmp/bdekey-demo.XXXXXX)
cleanup() {
	tests/graph/server.sh stop "$tmp/graph" >/dev/null 2>&1 || true
	tests/ad/dc.sh stop "$tmp/ad" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

bold=
plain=
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	bold=$(tput bold 2>/dev/null || true)
	plain=$(tput sgr0 2>/dev/null || true)
fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() {
	printf '%s$ %s%s\n' "$bold" "$*" "$plain"
	"$@" || printf '(exit status %d)\n' "$?"
}

say "starting a Samba AD domain controller on loopback (first run provisions it: ~10 s)"
tests/ad/dc.sh start "$tmp/ad" >/dev/null
eval "$(tests/ad/dc.sh env "$tmp/ad")"
say "starting the Microsoft Graph / identity platform emulator"
"$PY" tests/e2e/hybrid_fixture.py "$tmp/fixture.json"
eval "$(GRAPH_EMU_FIXTURE="$tmp/fixture.json" tests/graph/server.sh start "$tmp/graph")"

# the helpdesk agent: Kerberos for AD, a device-code sign-in for Entra ID
export XDG_CACHE_HOME="$tmp/cache" XDG_STATE_HOME="$tmp/state" \
	XDG_CONFIG_HOME="$tmp/config"
export BDEKEY_LDAP_URI="$AD_URI_LDAP"
kinit "$AD_HELPDESK_UPN" <"$AD_HELPDESK_PASS_FILE" >/dev/null

say "sign in to Entra ID (the emulator approves the code as helpdesk@contoso.test)"
run "$BDEKEY" login
say "the keys of PC-ALPHA in both directories (no password is read)"
run "$BDEKEY" lookup --device PC-ALPHA
say "the ID on the user's screen starts 063EA4E1: find it, read and check the password"
run "$BDEKEY" lookup --key-id 063EA4E1 --show --reason "DEMO-1"
say "the user reads the password back with one misheard digit"
run "$BDEKEY" check 496298-461032-321465-595518-463221-173943-033616-139579
say "read it out block by block (on a terminal bdekey waits for Enter)"
run "$BDEKEY" lookup --device PC-ALPHA --key-id 063EA4E1 --read-out --reason "DEMO-1"
say "every password shown was recorded first (no password in the log)"
run cat "$XDG_STATE_HOME/bdekey/audit.jsonl"
say "done; stopping the servers"
