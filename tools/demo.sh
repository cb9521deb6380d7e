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
	tests/keyvault/server.sh stop "$tmp/kv" >/dev/null 2>&1 || true
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

say "starting a Samba AD domain controller with its DNS server on loopback (first run provisions it: ~15 s)"
# (not 127.0.0.1: Samba's DNS set-up will not register a DC on that one)
if ! AD_IP=${DEMO_AD_IP:-127.0.0.81} tests/ad/dnsdc.sh start "$tmp/ad" \
    >"$tmp/dc.log" 2>&1; then
	tail -n 15 "$tmp/dc.log" >&2
	echo "demo: the Samba AD DC did not start" >&2
	exit 1
fi
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
say "no configuration: the domain from the Kerberos ticket, its DCs from DNS (Samba's DNS server here: --dns-server), the forest's Global Catalog for the search"
run env -u BDEKEY_LDAP_URI "$BDEKEY" lookup --source ad --dns-server "$AD_IP" \
	--forest --key-id 063EA4E1 --show --reason "DEMO-1"
printf '%s$ bdekey config --dns-server %s | sed -n %s%s\n' "$bold" "$AD_IP" \
	"'/^# no URI/,\$p'" "$plain"
env -u BDEKEY_LDAP_URI "$BDEKEY" config --dns-server "$AD_IP" |
	sed -n '/^# no URI/,$p' || printf '(exit status %d)\n' "$?"
say "escrow health across both directories: one row per device, hybrid devices joined (metadata only: no password is read)"
run "$BDEKEY" report --stale 365
say "only the devices with no key on file, for a spreadsheet"
run "$BDEKEY" report --missing --csv
say "the user reads the password back with one misheard digit"
run "$BDEKEY" check 496298-461032-321465-595518-463221-173943-033616-139579
say "read it out block by block (on a terminal bdekey waits for Enter)"
run "$BDEKEY" lookup --device PC-ALPHA --key-id 063EA4E1 --read-out --reason "DEMO-1"
say "a password read out is rotated: Intune asks the device for a new one, and bdekey waits until the new key is escrowed"
run "$BDEKEY" rotate --device PC-ALPHA --yes --wait 60 --poll 1 --reason "DEMO-1"

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

# Azure: the Key Vault + ARM emulator holds the same Windows-made .BEK,
# wrapped with the older of three KEK versions (tests/keyvault/README.md)
say "an Azure VM that will not boot: its BitLocker key file (BEK) from Key Vault, exactly where ARM says, unwrapped with the KEK version that wrapped it (not the latest)"
[ "$(id -u)" -eq 0 ] || export KV_EMU_PORTS=any
eval "$(tests/keyvault/server.sh start "$tmp/kv")"
# the user's Entra ID sign-in also redeems for the vault and ARM, as in Entra
curl -sS --max-time 20 --cacert "$BDEKEY_CA_BUNDLE" -o /dev/null \
	-H 'Content-Type: application/json' -d '{"refresh_cross_resource": true}' \
	"$GRAPH_EMU_URL/_test/config"
say "which key files does Key Vault hold for WIN-ADE01? (lookup lists them, metadata only: no secret is read)"
run "$BDEKEY" lookup --source keyvault --device WIN-ADE01
run "$BDEKEY" bek --vm vm-dual -g rg-vms -o "$tmp/keys/" --reason "DEMO-3"
say "the key file opens the disk; unlock --vault fetches it by the disk's own protector ID, in memory only"
run "$BDEKEY" unlock --test --key-file "$tmp/keys/$KV_FX_REAL_BEK_ID.BEK" \
	"$tmp/bitlk-images/bitlk-aes-xts-128-startup-key.img"
run "$BDEKEY" unlock --test --vault "$BDEKEY_VAULT" --reason "DEMO-3" \
	"$tmp/bitlk-images/bitlk-aes-xts-128-startup-key.img"
say "every password and key used was recorded first (no secret in the log)"
run cat "$XDG_STATE_HOME/bdekey/audit.jsonl"
say "done; stopping the servers"
