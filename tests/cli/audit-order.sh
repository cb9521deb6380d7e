#!/bin/bash
# audit-order.sh - no record, no action: with an audit log that cannot be
# written (BDEKEY_AUDIT_LOG=/dev/full, a full disk), `package` writes no
# file and `rotate` sends no rotation, and both exit 4 saying why.  Each
# refusal is paired with the same command and a writable log, which does
# write the file / reach the emulator: the refusals are not vacuous.
#
#   BDEKEY=build/dev/bdekey tests/cli/audit-order.sh
#
# Servers, on loopback: the Samba AD DC (tests/ad/dc.sh; the running one
# named by BDEKEY_AD_DIR, as make check shares it, else one of our own in a
# temporary directory) and the Graph emulator (tests/graph/server.sh).
# Commands run in clitest.py's clean environment plus the settings named
# here, each under `timeout`.  Ends with "audit-order: N passed, M failed".
# A server that does not start is a failure under CI=true, else a skip.
set -u

here=$(cd "$(dirname "$0")" && pwd)
SUITE='audit-order'
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"
top=$(cd "$here/../.." && pwd)
PY=/usr/bin/python3
BDEKEY=${BDEKEY:?BDEKEY must name the bdekey binary under test}
case $BDEKEY in /*) ;; *) BDEKEY=$PWD/$BDEKEY ;; esac
T=60

make_tmp audit-order
dcdir=${BDEKEY_AD_DIR:-}
own_dc=0
cleanup() {
	"$top/tests/graph/server.sh" stop "$tmp/graph" >/dev/null 2>&1
	[ "$own_dc" = 1 ] && timeout 60 "$top/tests/ad/dc.sh" stop "$dcdir" \
		>/dev/null 2>&1
}

check() { check_cmd "$@"; }	# check NAME COMMAND...
# a server that does not start: a failure in CI, else its cases are skipped
no_server() {
	if [ "${CI:-}" = true ]; then
		not_ok "$1"
	else
		echo "SKIPPED (not CI: not a failure): $1"
	fi
}

mapfile -t CLEAN < <("$PY" "$top/tests/clitest.py" --env "$tmp/home")
# bd [NAME=value...] -- ARGS...: bdekey in the clean environment plus the
# settings given; stdout in $tmp/out, stderr in $tmp/err, status in $RC
BDEKEY_ENV=(-i "${CLEAN[@]}")
bd() { run_bdekey "$@"; }
audit_has() { [ -f "$1" ] && grep -qF -- "\"action\":\"$2\"" "$1"; }

# ------------------------------------------------------------ package (AD)
# The running DC of make check (BDEKEY_AD_DIR), else our own.
dc_up() {
	[ -n "$dcdir" ] && dc_running "$dcdir" && return 0
	dcdir=$tmp/dc
	own_dc=1
	# someone else's DC on 127.0.0.1: ours goes on another address
	AD_IP=$(free_ip 1 30 636) dc_start dc.sh "$dcdir" 600
}

if dc_up && dcenv=$(timeout 60 "$top/tests/ad/dc.sh" env "$dcdir"); then
	eval "$dcenv"
	(umask 077 && cp "$AD_HELPDESK_PASS_FILE" "$tmp/helpdesk.pass")
	AD=(LDAPTLS_CACERT="$LDAPTLS_CACERT" LDAPTLS_REQCERT=demand
		BDEKEY_LDAP_URI="$AD_URI_LDAPS" BDEKEY_LDAP_MECH=SIMPLE
		BDEKEY_LDAP_BINDDN="$AD_HELPDESK_DN"
		BDEKEY_LDAP_PASSWORD_FILE="$tmp/helpdesk.pass")
	mkdir -p "$tmp/pkg"

	bd "${AD[@]}" BDEKEY_AUDIT_LOG=/dev/full -- package \
		--key-id "$AD_BETA_KEY" -o "$tmp/pkg/full.kpg" --reason INC-1
	check "package, audit log on a full disk: exit 4 (got $RC)" \
		[ "$RC" = 4 ]
	check "package, audit log on a full disk: no file written" \
		[ ! -e "$tmp/pkg/full.kpg" ]
	check "package, audit log on a full disk: says the audit log failed, and why" \
		eval 'err_has audit && err_has /dev/full && err_has "No space left on device"'
	check "package, audit log on a full disk: nothing on stdout" \
		[ ! -s "$tmp/out" ]

	bd "${AD[@]}" BDEKEY_AUDIT_LOG="$tmp/audit.jsonl" -- package \
		--key-id "$AD_BETA_KEY" -o "$tmp/pkg/ok.kpg" --reason INC-1
	check "package, writable audit log: exit 0 (got $RC)" [ "$RC" = 0 ]
	check "package, writable audit log: the file is written" \
		[ -s "$tmp/pkg/ok.kpg" ]
	check "package, writable audit log: recorded" \
		audit_has "$tmp/audit.jsonl" package
else
	no_server "the Samba AD DC did not start: no package cases"
fi

# ------------------------------------------------------------ rotate (Graph)
if start_env 90 "$top/tests/graph/server.sh" start "$tmp/graph" \
    2>"$tmp/graph.err"; then
	G=(BDEKEY_TENANT="$BDEKEY_TENANT" BDEKEY_AUTHORITY="$BDEKEY_AUTHORITY"
		BDEKEY_GRAPH="$BDEKEY_GRAPH" BDEKEY_CA_BUNDLE="$BDEKEY_CA_BUNDLE"
		BDEKEY_CLIENT_ID="$GRAPH_EMU_APP_CLIENT_ID"
		BDEKEY_CLIENT_SECRET_FILE="$GRAPH_EMU_APP_SECRET_FILE")
	# the emulator records each rotation before it answers the POST
	rotations() {
		emu rotations |
			"$PY" -c 'import json, sys; print(len(json.load(sys.stdin)["value"]))'
	}

	bd "${G[@]}" BDEKEY_AUDIT_LOG=/dev/full -- rotate \
		--device LAPTOP-ALPHA --yes --reason INC-2
	check "rotate, audit log on a full disk: exit 4 (got $RC)" [ "$RC" = 4 ]
	check "rotate, audit log on a full disk: no rotation POST reached the emulator" \
		[ "$(rotations)" = 0 ]
	check "rotate, audit log on a full disk: says the audit log failed, and why" \
		eval 'err_has audit && err_has /dev/full && err_has "No space left on device"'
	check "rotate, audit log on a full disk: nothing on stdout" \
		[ ! -s "$tmp/out" ]

	bd "${G[@]}" BDEKEY_AUDIT_LOG="$tmp/audit.jsonl" -- rotate \
		--device LAPTOP-ALPHA --yes --reason INC-2
	check "rotate, writable audit log: exit 0 (got $RC)" [ "$RC" = 0 ]
	check "rotate, writable audit log: one rotation reached the emulator" \
		[ "$(rotations)" = 1 ]
	check "rotate, writable audit log: recorded" \
		audit_has "$tmp/audit.jsonl" rotate
else
	sed 's/^/     graph: /' "$tmp/graph.err" | tail -n 10
	no_server "the Graph emulator did not start: no rotate cases"
fi

finish
