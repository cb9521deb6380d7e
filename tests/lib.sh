# shellcheck shell=bash
# tests/lib.sh - the helpers the integration suites share.  Sourced, not run:
#
#   SUITE=graph
#   . "$(dirname "$0")/../lib.sh"
#
# SUITE names the closing line "SUITE: N passed, M failed" that
# tests/run-all.sh adds to its counts (finish); the exit status is 0 when
# nothing failed.  Helpers that read a run's output use $TMP/out and
# $TMP/err (make_tmp); those that call Python use the suite's $PY.
#
# Where suites mean different things by one name (check, expect, run), this
# file has one helper for each meaning and the suite says which it uses:
#   check() { check_cmd "$@"; }     or     check() { check_eq "$@"; }
# bash only.

: "${SUITE:?set SUITE before sourcing tests/lib.sh}"
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)	# tests/
pass=0
fail=0
PIDS=()	# background helpers to stop on exit (stop_pids)
STARTED=0	# dc_start ran: stop_dc stops that DC

# ------------------------------------------------------------ counting

# ok [NAME]: a test passed; with NAME it is printed "ok   NAME" (the suites
# that print every result).  Returns 0, for `COND && ok || bad ...`.
ok() {
	pass=$((pass + 1))
	[ $# -eq 0 ] || echo "ok   $*"
	return 0
}

# not_ok NAME: a test failed: "FAIL NAME", then the start of the last run's
# stderr ($TMP/err) when it has any: ERR_LINES lines (5), control bytes as ^X
not_ok() {
	fail=$((fail + 1))
	echo "FAIL $*"
	if [ -s "$TMP/err" ]; then
		head -c 2000 "$TMP/err" | cat -v | head -n "${ERR_LINES:-5}" |
			sed 's/^/     stderr: /'
	fi
	return 0
}

# bad MESSAGE: a test failed: "FAIL: MESSAGE" (the suites that print only
# failures); `no` is the same, as the Graph and Key Vault suites call it
bad() {
	fail=$((fail + 1))
	echo "FAIL: $*"
	return 0
}
no() { bad "$@"; }

# summary: the closing line tests/run-all.sh parses for the counts
summary() { echo "$SUITE: $pass passed, $fail failed"; }

# finish: the closing line, then exit: 0 when nothing failed, else 1
finish() {
	summary
	[ "$fail" -eq 0 ]
	exit
}

# fatal MESSAGE: the suite cannot go on: "SUITE: MESSAGE" on stderr, one
# failure more, finish (exit 1)
fatal() {
	echo "$SUITE: $*" >&2
	fail=$((fail + 1))
	finish
}

# give_up MESSAGE: the suite cannot go on: "FAIL: MESSAGE", counted, finish
give_up() {
	bad "$@"
	finish
}

# skip_or_fail FAIL_LINE SKIP_LINE [nosummary]: a server the suite needs did
# not start.  Under CI=true that is a failure, never a skip: FAIL_LINE, one
# failure more, finish (exit 1).  Elsewhere the suite is skipped, said
# loudly: SKIP_LINE, the closing line (not with nosummary), exit 0.
skip_or_fail() {
	if [ "${CI:-}" = true ]; then
		echo "$1"
		fail=$((fail + 1))
		finish
	fi
	echo "$2"
	[ "${3:-}" = nosummary ] || summary
	exit 0
}

# ------------------------------------------------------------ assertions

# check_cmd NAME COMMAND...: a test that COMMAND succeeds (ok / not_ok)
check_cmd() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# check_eq NAME EXPECTED ACTUAL: a test that the two strings are equal
check_eq() {
	if [ "$2" = "$3" ]; then ok; else bad "$1: expected [$2], got [$3]"; fi
}

# same NAME GOT WANT: the same test, arguments the other way round
same() {
	if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', want '$3'"; fi
}

# contains NAME FILE TEXT: a test that FILE holds TEXT (fixed string); a
# failure shows the file
contains() {
	if grep -qF -- "$3" "$2"; then ok; else
		bad "$1: '$3' not in $(basename "$2"):"
		sed 's/^/    /' "$2" | head -20
	fi
}

# has NAME FILE TEXT: the same, a failure quotes the file on its line
has() {
	if grep -qF -- "$3" "$2"; then ok; else
		bad "$1: '$3' not in: $(head -c 600 "$2")"
	fi
}

# lacks NAME FILE TEXT: a test that FILE does not hold TEXT; a failure
# shows the lines that do
lacks() {
	if grep -qF -- "$3" "$2"; then
		bad "$1: '$3' in $(basename "$2")"
		grep -F -- "$3" "$2" | head -5
	else ok; fi
}

# err_has TEXT / out_has TEXT: the last run's stderr / stdout holds TEXT
err_has() { grep -qF -- "$1" "$TMP/err"; }
out_has() { grep -qF -- "$1" "$TMP/out"; }

# holds NAME EXPR FUNCTION [ARGS...]: a test that `FUNCTION EXPR ARGS`
# prints true (FUNCTION evaluates a Python expression over some output)
holds() {
	if [ "$("$3" "$2" "${@:4}")" = true ]; then ok "$1"; else not_ok "$1: $2"; fi
}

# json EXPR: a Python expression over the last run's JSON output (d)
json() {
	"$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
r = eval(sys.argv[2])
print(r if not isinstance(r, bool) else str(r).lower())' "$TMP/out" "$1" 2>>"$TMP/err"
}

# jl EXPR: a Python expression over the last run's JSON Lines output (a
# report's): its rows r, by name by, the errors list e (or None), last line
jl() {
	"$PY" -c 'import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [x for x in lines if "errors" not in x]
by = {x["name"]: x for x in r}
e = next((x["errors"] for x in lines if "errors" in x), None)
last = lines[-1] if lines else None
v = eval(sys.argv[2])
print(v if not isinstance(v, bool) else str(v).lower())' "$TMP/out" "$1" 2>>"$TMP/err"
}

# jcheck NAME EXPR: a test that EXPR holds over the last run's output, read
# by JSON_EVAL (default json; a suite of JSON Lines names its own reader)
jcheck() { holds "$1" "$2" "${JSON_EVAL:-json}"; }

# scheck NAME EXPR: a test that EXPR holds over the spy's log (the suite's
# own `spy EXPR`)
scheck() { holds "$1" "$2" spy; }

# jtest NAME [FILE] EXPR: a test that a Python expression holds over the
# JSON in FILE (default $TMP/out) as d; key(ID) is d's key with that ID
jtest() {
	local name=$1 file=$TMP/out
	if [ $# -ge 3 ]; then
		file=$2
		shift
	fi
	if "$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
def key(i):
    m = [k for k in d["keys"] if k["key_id"] == i]
    return m[0] if len(m) == 1 else None
sys.exit(0 if eval(sys.argv[2]) else 1)' "$file" "$2" 2>>"$TMP/jerr"; then
		ok
	else
		bad "$name: $2: $(head -c 900 "$file")"
	fi
}

# js EXPR < JSON: a Python expression over the document d; dicts, lists,
# booleans and None printed as JSON
js() { "$PY" -c 'import json,sys; d=json.load(sys.stdin); r=eval(sys.argv[1]); print(json.dumps(r) if isinstance(r,(dict,list,bool)) or r is None else r)' "$1"; }

# ------------------------------------------------------------ running bdekey

# run_bdekey [VAR=value...] -- ARGS...: bdekey ARGS with those settings,
# bounded by $T seconds, stdin empty; stdout in $TMP/out, stderr in
# $TMP/err, exit status in $RC, seconds taken in $SECS.  BDEKEY_ENV (an
# array), when set, leads env's arguments (e.g. -i and a clean environment).
run_bdekey() {
	local envs=() t0
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	t0=$(date +%s.%N)
	env ${BDEKEY_ENV[@]+"${BDEKEY_ENV[@]}"} "${envs[@]}" timeout "$T" \
		"$BDEKEY" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
	RC=$?
	SECS=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
}

# expect_exit NAME STATUS: a test that the last run_bdekey exited STATUS
expect_exit() {
	if [ "$RC" = "$2" ]; then
		ok "$1 (exit $RC, ${SECS}s)"
	else
		not_ok "$1: exit $RC, expected $2"
	fi
}

# capture PROGRAM ARGS...: PROGRAM bounded (60 s); stdout in $TMP/out,
# stderr in $TMP/err, exit status in $rc
capture() {
	timeout 60 "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
}

# capture_pw PASSWORD PROGRAM ARGS...: the same with PASSWORD (and a
# newline) on stdin
capture_pw() {
	printf '%s\n' "$1" | timeout 60 "${@:2}" >"$TMP/out" 2>"$TMP/err"
	rc=$?
}

# bk ARGS... / bkpw PASSWORD ARGS...: capture bdekey (stdin empty) / with
# PASSWORD on stdin
bk() { capture "$BDEKEY" "$@" </dev/null; }
bkpw() { capture_pw "$1" "$BDEKEY" "${@:2}"; }

# expect_rc NAME STATUS [PATTERN]: a test that the last run exited STATUS
# ($rc) and, with PATTERN, that its stderr matches it (grep -E)
expect_rc() {
	local name=$1 want=$2 pat=${3:-}
	if [ "$rc" -ne "$want" ]; then
		bad "$name: exit $rc, want $want: $(head -c 400 "$TMP/err")"
	elif [ -n "$pat" ] && ! grep -qE -- "$pat" "$TMP/err"; then
		bad "$name: stderr lacks /$pat/: $(head -c 400 "$TMP/err")"
	else
		ok
	fi
}

# records: how many audit records $audit holds so far
records() { [ -f "$audit" ] && wc -l <"$audit" || echo 0; }

# last_audit FIELD: that field of the last record in $AUDIT
last_audit() { tail -1 "$AUDIT" | js "d.get('$1')"; }

# ------------------------------------------------------------ environment

# make_tmp NAME [DIR]: a private directory DIR/bdekey-NAME.XXXXXX (DIR:
# $TMPDIR or /tmp) in TMP (and tmp); on exit the suite's `cleanup`, when it
# has one, runs first, then the directory goes
make_tmp() {
	TMP=$(mktemp -d "${2:-${TMPDIR:-/tmp}}/bdekey-$1.XXXXXX")
	# shellcheck disable=SC2034 # the suites that spell it tmp
	tmp=$TMP
	trap lib_exit EXIT
}
lib_exit() {
	if declare -F cleanup >/dev/null; then cleanup; fi
	rm -rf "$TMP"
}

# scrub_env: no BDEKEY_* setting of the caller's reaches the commands
scrub_env() {
	local v
	for v in $(env | sed -n 's/^\(BDEKEY_[A-Z_]*\)=.*/\1/p'); do
		[ "$v" = BDEKEY ] || unset "$v"
	done
}

# private_home: HOME and the XDG cache, state and config directories in $TMP
private_home() {
	export HOME=$TMP/home XDG_CACHE_HOME=$TMP/cache XDG_STATE_HOME=$TMP/state \
		XDG_CONFIG_HOME=$TMP/config
	mkdir -p "$HOME"
}

# ------------------------------------------------------------ servers

# wait_for TENTHS COMMAND...: COMMAND until it succeeds, at most TENTHS
# times 0.1 s apart; fails when it never did
wait_for() {
	local n=$1 i
	shift
	for i in $(seq "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# wait_ready FILE [TENTHS [PATTERN [PID]]]: a helper wrote a line matching
# PATTERN (grep; default "ready") to FILE, within TENTHS tenths of a second
# (default 50); with PID, give up as soon as that process has gone
wait_ready() {
	wait_for "${2:-50}" ready_or_gone "$1" "${3:-ready}" "${4:-}" &&
		grep -q -- "${3:-ready}" "$1" 2>/dev/null && return 0
	echo "no '${3:-ready}' in $1" >&2
	return 1
}
ready_or_gone() {
	grep -q -- "$2" "$1" 2>/dev/null && return 0
	[ -n "$3" ] && ! kill -0 "$3" 2>/dev/null
}

# stop_pids: stop the background helpers in PIDS (started by this shell)
stop_pids() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}

# start_env SECONDS COMMAND...: start a server (COMMAND, e.g. server.sh start
# DIR), bounded by SECONDS, and take the `export` lines it prints into this
# shell; fails when it did not start
start_env() {
	local lines
	lines=$(timeout "$1" "${@:2}") || return 1
	eval "$lines"
}

# free_port: a TCP port free on 127.0.0.1 now
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# port_busy HOST PORT: something listens there (2 s at most)
port_busy() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# free_ip FIRST LAST PORT...: the first address 127.0.0.N, N from FIRST to
# LAST, where none of the PORTs is taken (else 127.0.0.LAST)
free_ip() {
	local n p busy
	for n in $(seq "$1" "$2"); do
		busy=
		for p in "${@:3}"; do
			if port_busy "127.0.0.$n" "$p"; then
				busy=1
				break
			fi
		done
		[ -n "$busy" ] || break
	done
	echo "127.0.0.$n"
}

# ------------------------------------------------------------ the Samba AD DC

# dc_running DIR: the fixture DC (tests/ad/dc.sh) in DIR answers
dc_running() { timeout 30 "$LIB_DIR/ad/dc.sh" status "$1" >/dev/null 2>&1; }

# dc_reuse DIR: BDEKEY_AD_DIR is set (make check shares one DC) and the DC
# in DIR answers: said, and used
dc_reuse() {
	[ -n "${BDEKEY_AD_DIR:-}" ] && dc_running "$1" || return 1
	echo "using the running DC in $1"
}

# dc_start SCRIPT DIR SECONDS: start a fixture DC (tests/ad/SCRIPT: dc.sh,
# or dnsdc.sh with DNS) in DIR, bounded by SECONDS; STARTED=1 either way,
# for the cleanup to stop what half started; on failure the end of its log
dc_start() {
	STARTED=1
	timeout "$3" "$LIB_DIR/ad/$1" start "$2" >"$TMP/dc.log" 2>&1 && return 0
	sed 's/^/dc: /' "$TMP/dc.log" | tail -n 20
	return 1
}

# stop_dc: stop the DC in $DIR when dc_start started it (60 s at most)
stop_dc() {
	[ "$STARTED" != 1 ] ||
		timeout 60 "$LIB_DIR/ad/dc.sh" stop "$DIR" >/dev/null 2>&1
}

# dc_env DIR: the DC's variables (dc.sh env) into this shell, or the suite
# fails (exit 1)
dc_env() {
	eval "$(timeout 60 "$LIB_DIR/ad/dc.sh" env "$1")" || {
		echo "FAIL dc.sh env"
		fail=$((fail + 1))
		finish
	}
}

# ad_private_env [VAR...]: a clean, private environment for bdekey against
# AD: HOME, its config, the audit log and the Kerberos ticket cache in $TMP;
# no LDAP or bdekey settings of the caller's, nor the VARs given
ad_private_env() {
	export HOME=$TMP/home XDG_CONFIG_HOME=$TMP/home/.config
	mkdir -p "$HOME"
	export BDEKEY_AUDIT_LOG=$TMP/audit.log
	export KRB5CCNAME=FILE:$TMP/krb5cc
	unset BDEKEY_LDAP_URI BDEKEY_LDAP_BASE BDEKEY_LDAP_MECH BDEKEY_LDAP_BINDDN \
		BDEKEY_LDAP_PASSWORD_FILE BDEKEY_LDAP_STARTTLS BDEKEY_LDAP_PAGE_SIZE \
		BDEKEY_TIMEOUT BDEKEY_TENANT BDEKEY_CONFIG LDAPURI LDAPBASE "$@"
}

# kinit_helpdesk: a test that helpdesk gets a Kerberos ticket ($T seconds)
kinit_helpdesk() {
	if printf '%s\n' "$AD_HELPDESK_PASS" |
	    timeout "$T" kinit "$AD_HELPDESK_UPN" >"$TMP/err" 2>&1; then
		ok "kinit $AD_HELPDESK_UPN"
	else
		not_ok "kinit $AD_HELPDESK_UPN"
	fi
}

# tls_end_point CERT: the channel binding tls-server-end-point (RFC 5929)
# of the PEM certificate CERT, in hex, as GSSAPI inside TLS must carry it
tls_end_point() {
	"$PY" -c 'import hashlib, sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
h = c.signature_hash_algorithm.name
h = "sha256" if h in ("md5", "sha1") else h  # RFC 5929 4.1
print((b"tls-server-end-point:" + hashlib.new(h, c.public_bytes(serialization.Encoding.DER)).digest()).hex())' "$1"
}

# spy_start NAME [ARGS]: a logging TLS proxy in front of SPY_UPSTREAM
# (default $AD_URI_LDAPS) on a free port, with the DC's certificate in
# $DIR/tls: tests/ad/ldapspy.py, or stallspy.py when ARGS start with
# --stall-at or --delay-at.  Sets SPY_PORT and SPY_LOG ($TMP/spy-NAME.log);
# pid in PIDS.
spy_start() {
	local name=$1 prog=ldapspy.py
	shift
	case ${1:-} in --stall-at | --delay-at) prog=stallspy.py ;; esac
	SPY_LOG=$TMP/spy-$name.log
	: >"$SPY_LOG"
	SPY_PORT=$(free_port)
	"$PY" "$LIB_DIR/ad/$prog" "$@" --port "$SPY_PORT" \
		--upstream "${SPY_UPSTREAM:-$AD_URI_LDAPS}" \
		--cert "$DIR/tls/server.pem" --key "$DIR/tls/server.key" \
		--cafile "$DIR/tls/ca.pem" --log "$SPY_LOG" \
		>"$TMP/spy-$name.out" 2>&1 &
	PIDS+=($!)
	wait_ready "$TMP/spy-$name.out"
}

# e2e_dc: the DC in BDEKEY_AD_DIR (make check shares one), else one of our
# own in $TMP/ad (own_dc=1): started (not bounded), its variables in this
# shell, its directory in addir; fatal when it does not start
e2e_dc() {
	if [ -n "${BDEKEY_AD_DIR:-}" ]; then
		addir=$BDEKEY_AD_DIR
	else
		addir=$TMP/ad
		own_dc=1
	fi
	"$LIB_DIR/ad/dc.sh" start "$addir" >"$TMP/dc.out" 2>&1 ||
		fatal "the Samba AD DC did not start: $(tail -5 "$TMP/dc.out")"
	eval "$("$LIB_DIR/ad/dc.sh" env "$addir")"
}

# e2e_graph [OPTIONS]: the Graph emulator in $TMP/graph over the fixture
# $TMP/fixture.json (not bounded), its variables in this shell; fatal when
# it does not start
e2e_graph() {
	GRAPH_EMU_FIXTURE=$TMP/fixture.json "$LIB_DIR/graph/server.sh" start \
		"$TMP/graph" "$@" >"$TMP/graph.env" 2>"$TMP/graph.err" ||
		fatal "the Graph emulator did not start: $(tail -5 "$TMP/graph.err")"
	. "$TMP/graph.env"
}

# e2e_env: bdekey's cache, state and config in $TMP (no config file), AD
# over ldap:// with GSSAPI; audit: the audit log
e2e_env() {
	export XDG_CACHE_HOME="$TMP/cache" XDG_STATE_HOME="$TMP/state" \
		XDG_CONFIG_HOME="$TMP/config" BDEKEY_CONFIG=
	export BDEKEY_LDAP_URI="$AD_URI_LDAP" BDEKEY_LDAP_MECH=GSSAPI
	audit="$XDG_STATE_HOME/bdekey/audit.jsonl"
}

# e2e_stop: stop the Graph emulator in $TMP/graph, and the DC when e2e_dc
# started its own (a suite's cleanup)
e2e_stop() {
	"$LIB_DIR/graph/server.sh" stop "$TMP/graph" >/dev/null 2>&1
	[ "${own_dc:-0}" != 1 ] || "$LIB_DIR/ad/dc.sh" stop "$addir" >/dev/null 2>&1
}

# ------------------------------------------------------------ the emulators

# tcurl ARGS...: curl to an emulator (its CA, 20 s at most)
tcurl() { curl -sS --max-time 20 --cacert "$BDEKEY_CA_BUNDLE" "$@"; }

# emu PATH [CURL ARGS]: the Graph emulator's test interface, /_test/PATH
emu() { tcurl "$GRAPH_EMU_URL/_test/$1" "${@:2}"; }

# cfg JSON: the Graph emulator's configuration from now on; a refusal is a
# failure (curl -f), or with CFG_LAX set only an unreachable emulator is
cfg() {
	local f=-f
	[ -z "${CFG_LAX:-}" ] || f=
	emu config -o /dev/null $f -H 'Content-Type: application/json' -d "$1" ||
		no "emulator config $1"
}

# codes_issued: how many device codes the Graph emulator has issued
codes_issued() { emu device_codes | js 'd["issued"]'; }

# run_emu NAME STATUS COMMAND...: COMMAND bounded by $T seconds, stdin
# empty; stdout in $TMP/out, stderr in $TMP/err, the Graph emulator's log
# lines of the run ($LOG, but /_test/ requests) in $TMP/log; a test that it
# exited STATUS (a failure shows the start of stdout and stderr)
run_emu() {
	local name=$1 want=$2 rc n0
	shift 2
	n0=$(wc -l <"$LOG")
	timeout "$T" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
	rc=$?
	tail -n +"$((n0 + 1))" "$LOG" | grep -v ' /_test/' >"$TMP/log"
	if [ "$rc" = "$want" ]; then ok; else
		no "$name: exit $rc, expected $want"
		sed 's/^/    out: /' "$TMP/out" | head -5
		sed 's/^/    err: /' "$TMP/err" | head -10
	fi
}

# ------------------------------------------------------------ volume images

# the BitLocker volumes Windows made (tests/volume/data/bitlk-images.tar.xz)
# shellcheck disable=SC2034 # used by the volume suites
IMAGES=(bitlk-aes-xts-128 bitlk-aes-cbc-128 bitlk-aes-xts-256
	bitlk-aes-xts-128-startup-key bitlk-aes-xts-128-two-recovery
	bitlk-togo-aes-xts-128)

# conf FILE SECTION KEY: a value of an INI-style file ("" when absent)
conf() {
	awk -v s="[$2]" -v k="$3" '
		/^\[/ { in_s = ($0 == s); next }
		in_s && index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }
	' "$1"
}
upper() { tr '[:lower:]' '[:upper:]'; }

# fake_ntfs FILE OFFSET: an NTFS boot sector and MFT records blkid accepts,
# at byte OFFSET of FILE
fake_ntfs() {
	local f=$1 base=$2 r o
	p() { printf "$2" | dd of="$f" bs=1 seek=$((base + $1)) conv=notrunc status=none; }
	p 0 '\xeb\x52\x90NTFS    \x00\x02\x08'
	p 0x15 '\xf8'
	p 0x28 '\x00\x20\x00\x00\x00\x00\x00\x00\x04'
	p 0x38 '\x08'
	p 0x40 '\xf6'
	p 0x44 '\x01'
	p 0x1fe '\x55\xaa'
	for r in 0 1 2 3; do
		o=$((16384 + r * 1024))
		p $o 'FILE'
		p $((o + 0x14)) '\x38'
		p $((o + 0x38)) '\xff\xff\xff\xff'
	done
}

# put IMAGE DISK MIB: IMAGE into DISK at that MiB offset (sparse)
put() { dd if="$1" of="$2" bs=1M seek="$3" conv=sparse,notrunc status=none; }

# gpt_disk DISK IMAGE2 IMAGE3: a 240 MiB GPT disk (sparse): an NTFS
# partition 1, IMAGE2 in partition 2 (sector 18432), IMAGE3 in 3 (225280)
gpt_disk() {
	truncate -s 240M "$1"
	sfdisk -q "$1" >/dev/null <<'EOF'
label: gpt
unit: sectors
start=2048, size=16384, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7
start=18432, size=206848, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7
start=225280, size=204800, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7
EOF
	fake_ntfs "$1" $((2048 * 512))
	put "$2" "$1" 9
	put "$3" "$1" 110
}

# mbr_disk DISK IMAGE: a 140 MiB MBR disk (sparse), IMAGE in partition 3
# (sector 18432) after an NTFS-typed and a Linux partition, both empty
mbr_disk() {
	truncate -s 140M "$1"
	sfdisk -q "$1" >/dev/null <<'EOF'
label: dos
unit: sectors
start=2048, size=8192, type=7
start=10240, size=8192, type=83
start=18432, size=206848, type=7
EOF
	put "$2" "$1" 9
}

# plain_gpt_disk DISK N: a 40 MiB GPT disk (sparse) without BitLocker: N
# partitions of 8 MiB from sector 2048, an NTFS filesystem in the first
plain_gpt_disk() {
	local i
	truncate -s 40M "$1"
	{
		printf 'label: gpt\nunit: sectors\n'
		for i in $(seq 0 $(($2 - 1))); do
			echo "start=$((2048 + i * 16384)), size=16384"
		done
	} | sfdisk -q "$1" >/dev/null
	fake_ntfs "$1" $((2048 * 512))
}

# unreadable_image IMAGE PROGRAM: $TMP/pub/secret.img, a copy of IMAGE only
# its owner reads, next to a copy of PROGRAM anyone may run (as_nobody)
unreadable_image() {
	mkdir -m 755 "$TMP/pub"
	cp "$2" "$TMP/pub/$(basename "$2")"
	chmod 755 "$TMP" "$TMP/pub/$(basename "$2")"
	cp --sparse=always "$1" "$TMP/pub/secret.img"
	chmod 600 "$TMP/pub/secret.img"
}

# as_nobody PROGRAM ARGS...: PROGRAM's copy in $TMP/pub run as user nobody
# (setpriv), bounded (60 s); sanitizer logs on stderr, nobody cannot write
# where they go; stdout in $TMP/out, stderr in $TMP/err, status in $rc
as_nobody() {
	ASAN_OPTIONS=$(echo "${ASAN_OPTIONS:-}" | sed 's/:*log_path=[^:]*//') \
	UBSAN_OPTIONS=$(echo "${UBSAN_OPTIONS:-}" | sed 's/:*log_path=[^:]*//') \
		timeout 60 setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$TMP/pub/$(basename "$1")" "${@:2}" >"$TMP/out" 2>"$TMP/err"
	rc=$?
}
