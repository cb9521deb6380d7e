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

# the disk in hand: a BitLocker volume Windows made (tests/volume/data/),
# its recovery password escrowed in the test domain under its protector ID
# for the computer its description names (tests/e2e/volume_fixture.py)
tar --sparse -xJf tests/volume/data/bitlk-images.tar.xz -C "$tmp"
"$PY" tests/e2e/volume_fixture.py ldif "$tmp/bitlk-images/images.conf" \
	"OU=Demo,$BDEKEY_TEST_BASE" >"$tmp/volume.ldif"
ldapadd -x -H "$AD_URI_LDAPS" -D "$AD_ADMIN_DN" -y "$AD_ADMIN_PASS_FILE" \
	-f "$tmp/volume.ldif" >/dev/null
# (a subshell: the image names stay short, the cleanup runs from here)
(
cd "$tmp/bitlk-images"
say "the disk in hand (an image here; /dev/sdc on a repair VM): its volume, computer and key protectors"
run "$BDEKEY" volume bitlk-aes-xts-128.img
say "its keys by protector ID, each password proved against the volume (the computer's other keys: not this volume's, never read)"
run "$BDEKEY" lookup --volume bitlk-aes-xts-128.img --show --reason "DEMO-2"
say "a password escrowed under the right ID that does not open the disk is caught before anyone reads it out"
run "$BDEKEY" lookup --volume bitlk-aes-cbc-128.img --source ad --read-out --reason "DEMO-2"
say "unlock picks the key that opens the volume; --test activates nothing (no root, no device-mapper)"
run "$BDEKEY" unlock --test --reason "DEMO-2" bitlk-aes-xts-128.img
)
say "every password shown was recorded first (no password in the log)"
run cat "$XDG_STATE_HOME/bdekey/audit.jsonl"
say "done; stopping the servers"
