#!/bin/bash
# report-ad.sh - `bdekey report --source ad` beside ldapsearch paging the
# same objects, on a Samba AD DC with 10,000 and then 100,000 computers
# (about 2.5 recovery objects each).
#
#   BDEKEY=build/rel/bdekey bash bench/report-ad.sh
#
# Starts its own DC (tests/ad/dc.sh) in a temporary directory on
# BENCH_AD_IP (default 127.0.0.91), stops it on exit.  For each size the
# DC is stopped, tests/ad/bulkescrow.py adds the computers straight into
# sam.ldb (OU=Escrow: 0 to 4 keys each, one in ten without, 2.5 on
# average; lastLogonTimestamp on six in seven), and the DC started again.
# Needs root and the packages of tests/ad/README.md; without them it says
# SKIPPED and exits 0.
#
# Both clients bind as `reader` (simple bind over LDAPS) and read the
# whole domain: bdekey its two paged searches (`report --json`, output to
# /dev/null); ldapsearch the same two searches with the same attributes,
# -E pr=1000/noprompt, LDIF to /dev/null, one after the other (its time is
# the sum, its RSS the larger).  Wall time: the median of BENCH_RUNS (3)
# runs after a warm-up; peak RSS from /usr/bin/time -v (maximum resident
# set size) in the same runs, the largest.  Both get --timeout /
# -o nettimeout of BENCH_TIMEOUT (600 s): Samba answers the first page of
# a large search only once it has matched every object (81 s for 251,058
# recovery objects).
#
# Settings: BENCH_RUNS (3), BENCH_REPORT_SIZES ("10000 100000":
# cumulative computer counts), BENCH_AD_IP, BENCH_TIMEOUT, BENCH_KEEP=1
# (keep the temporary directory, the DC stopped), BENCH_DC_DIR (a DC
# directory of an earlier run, kept: loading is the slow part; sizes it
# already holds are measured without loading).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
BDEKEY=${BDEKEY:-$ROOT/build/rel/bdekey}
case $BDEKEY in /*) ;; *) BDEKEY=$ROOT/$BDEKEY ;; esac
RUNS=${BENCH_RUNS:-3}
SIZES=${BENCH_REPORT_SIZES:-10000 100000}
IP=${BENCH_AD_IP:-127.0.0.91}
TO=${BENCH_TIMEOUT:-600}

skip() { echo "bench/report-ad.sh: SKIPPED: $*" >&2; exit 0; }
[ -x "$BDEKEY" ] || { echo "bench/report-ad.sh: no bdekey binary at $BDEKEY" >&2; exit 1; }
[ "$(id -u)" = 0 ] || skip "needs root (the DC binds ports 88, 389 and 636)"
for c in samba samba-tool ldapsearch timeout flock setsid; do
	command -v "$c" >/dev/null || skip "$c is not installed (see tests/ad/README.md)"
done
[ -x /usr/bin/time ] || skip "/usr/bin/time is missing (Debian package time)"
[ -x "$PY" ] || skip "$PY is missing"
"$BDEKEY" report --help >/dev/null 2>&1 || skip "this bdekey has no report command"
port_busy() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
for p in 88 389 636; do
	port_busy "$IP" "$p" && { echo "bench/report-ad.sh: $IP:$p is in use (set BENCH_AD_IP)" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/bdekey-bench-report-ad.XXXXXX)
DC=${BENCH_DC_DIR:-$TMP/dc}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "${CHILD:-}" ]; then
		kill_tree "$CHILD"
		wait "$CHILD" 2>/dev/null || true
	fi
	if [ -d "$DC/etc" ]; then
		timeout 60 "$ROOT/tests/ad/dc.sh" stop "$DC" >/dev/null 2>&1 ||
			echo "bench/report-ad.sh: could not stop the DC in $DC" >&2
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench/report-ad.sh: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck disable=SC2034  # read by bench/lib.sh
BENCH_NAME=bench/report-ad.sh
. "$ROOT/bench/lib.sh"
private_home BDEKEY_ LDAP

log "DC in $DC on $IP"
SECONDS=0
fg env AD_IP="$IP" timeout 600 "$ROOT/tests/ad/dc.sh" start "$DC" >"$TMP/dc.log" 2>&1 || {
	tail -n 30 "$TMP/dc.log" >&2
	exit 1
}
log "DC up after ${SECONDS} s"
eval "$(timeout 30 "$ROOT/tests/ad/dc.sh" env "$DC")"
PWFILE=$TMP/reader.pass
install -m 0600 "$AD_READER_PASS_FILE" "$PWFILE"

BDK=(env BDEKEY_LDAP_MECH=SIMPLE "BDEKEY_LDAP_BINDDN=$AD_READER_DN"
	"BDEKEY_LDAP_PASSWORD_FILE=$PWFILE" "BDEKEY_LDAP_URI=$AD_URI_LDAPS"
	"$BDEKEY" report --source ad --json --timeout "$TO")
LDS=(ldapsearch -LLL -x -H "$AD_URI_LDAPS" -D "$AD_READER_DN" -y "$PWFILE"
	-o ldif-wrap=no -o nettimeout="$TO" -E pr=1000/noprompt -b "$BDEKEY_TEST_BASE")
KEYQ=('(objectClass=msFVE-RecoveryInformation)' msFVE-VolumeGuid whenCreated)
PCQ=('(objectCategory=computer)' cn dNSHostName operatingSystem
	lastLogonTimestamp objectSid)

# timed OUT CMD...: run CMD (stdout to OUT) under /usr/bin/time -v; sets
# T_WALL (s) and T_RSS (KiB)
timed() {
	local out=$1
	shift
	fg /usr/bin/time -v -o "$TMP/time" timeout 3600 "$@" >"$out" 2>"$TMP/stderr" || {
		echo "bench/report-ad.sh: failed: $*" >&2
		tail -n 5 "$TMP/stderr" >&2
		return 1
	}
	T_RSS=$(sed -n 's/^\tMaximum resident set size (kbytes): //p' "$TMP/time")
	T_WALL=$(sed -n 's/^\tElapsed (wall clock) time (h:mm:ss or m:ss): //p' "$TMP/time" |
		awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

ROWS=()
loaded=0
[ ! -s "$DC/escrow.count" ] || read -r loaded _ <"$DC/escrow.count"
for size in $SIZES; do
	add=$((size - loaded))
	LOAD_S=0
	if [ "$add" -lt 0 ]; then
		log "$DC holds $loaded computers, more than $size: skipped"
		continue
	fi
	if [ "$add" -gt 0 ]; then
		log "adding $add computers (DC stopped)"
		SECONDS=0
		fg timeout 120 "$ROOT/tests/ad/dc.sh" stop "$DC" >/dev/null 2>&1
		fg env -u KRB5_CONFIG -u KRB5CCNAME timeout 14400 "$PY" \
			"$ROOT/tests/ad/bulkescrow.py" --conf "$DC/etc/smb.conf" \
			--dir "$DC" -n "$add" >"$TMP/bulk.out" 2>"$TMP/bulk.log" || {
			tail -n 20 "$TMP/bulk.log" >&2
			exit 1
		}
		LOAD_S=$SECONDS
		fg env AD_IP="$IP" timeout 600 "$ROOT/tests/ad/dc.sh" start "$DC" \
			>>"$TMP/dc.log" 2>&1 || {
			tail -n 30 "$TMP/dc.log" >&2
			exit 1
		}
		loaded=$size
		log "loaded in $LOAD_S s: $(cat "$DC/escrow.count") (computers, keys) in OU=Escrow"
	fi

	# what is there, counted once by ldapsearch
	"${LDS[@]}" "${PCQ[@]}" 2>/dev/null | grep -c '^dn' >"$TMP/npc" || true
	"${LDS[@]}" "${KEYQ[@]}" 2>/dev/null | grep -c '^dn' >"$TMP/nkey" || true
	NPC=$(cat "$TMP/npc")
	NKEY=$(cat "$TMP/nkey")

	: >"$TMP/b.wall"
	: >"$TMP/l.wall"
	BRSS=0
	LRSS=0
	for run in $(seq 0 "$RUNS"); do
		timed "$TMP/report.json" "${BDK[@]}"
		rows=$(wc -l <"$TMP/report.json")
		[ "$rows" = "$NPC" ] || { echo "bench/report-ad.sh: bdekey gave $rows rows, ldapsearch $NPC computers" >&2; exit 1; }
		if [ "$run" -gt 0 ]; then
			echo "$T_WALL" >>"$TMP/b.wall"
			[ "$T_RSS" -gt "$BRSS" ] && BRSS=$T_RSS
		fi
		timed /dev/null "${LDS[@]}" "${KEYQ[@]}"
		w1=$T_WALL r1=$T_RSS
		timed /dev/null "${LDS[@]}" "${PCQ[@]}"
		if [ "$run" -gt 0 ]; then
			awk -v a="$w1" -v b="$T_WALL" 'BEGIN { print a + b }' >>"$TMP/l.wall"
			[ "$r1" -gt "$LRSS" ] && LRSS=$r1
			[ "$T_RSS" -gt "$LRSS" ] && LRSS=$T_RSS
		fi
	done
	BW=$(median <"$TMP/b.wall")
	LW=$(median <"$TMP/l.wall")
	log "$size: bdekey $BW s ($BRSS KiB), ldapsearch $LW s ($LRSS KiB)"
	ROWS+=("$size $NPC $NKEY $BW $LW $BRSS $LRSS $LOAD_S")
done

echo
echo "## report (AD): $(date -u +%F), $(nproc) CPUs, Samba $(samba -V | awk '{ print $2 }')"
echo
echo "| computers (bulk) | computers | recovery objects | bdekey report s | ldapsearch s | ratio | bdekey RSS MiB | ldapsearch RSS MiB | load s |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in "${ROWS[@]}"; do
	# shellcheck disable=SC2086
	set -- $r
	awk -v s="$1" -v pc="$2" -v k="$3" -v bw="$4" -v lw="$5" -v br="$6" -v lr="$7" -v ld="$8" \
		'BEGIN { printf "| %d | %d | %d | %.2f | %.2f | %.2f | %.1f | %.1f | %d |\n", s, pc, k, bw, lw, bw / lw, br / 1024, lr / 1024, ld }'
done
if [ "${#ROWS[@]}" -ge 2 ]; then
	set -- ${ROWS[0]}
	first=$6
	# shellcheck disable=SC2086
	set -- ${ROWS[${#ROWS[@]}-1]}
	awk -v a="$first" -v b="$6" 'BEGIN { printf "\nbdekey peak RSS, largest size against the first: %+.1f %%\n", (b - a) * 100 / a }'
fi
