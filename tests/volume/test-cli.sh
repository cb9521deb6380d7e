#!/bin/bash
# test-cli.sh - the commands on the disk in hand, through the real binary
# (`bdekey volume`, `unlock --test`, `unlock`, `lock`), on the BitLocker
# volumes Windows made (tests/volume/data/), without any directory:
#
#   - every image: `volume --json` reports the volume ID, description,
#     computer, drive, creation time, method, To Go flag and protectors
#     that images.conf and expected.conf give; the human block says the
#     same; `unlock --test --password-stdin` with its recovery password
#     opens it (exit 0, an audit record first), another image's password
#     (checksum-valid) does not (exit 5, "does not open")
#   - a typo (exit 5, a suggestion, nothing tried or recorded), blanks for
#     dashes, junk, an empty line; the .BEK with --key-file; the second
#     recovery password of the two-recovery volume; --reason and
#     require_reason in the audit record; the record comes before the key
#     is tried (a log that cannot be written: exit 4, the volume untouched)
#   - whole disks built here (GPT: BitLocker in partitions 2 and 3; MBR:
#     in 3): found at the right offsets; `unlock` on a disk with two
#     BitLocker partitions asks for the partition (exit 2)
#   - bad input: NTFS, zeros, empty, truncated, a directory, a FIFO (must
#     not wait for a writer), a character device, a missing file, an
#     unreadable file (as nobody): one clear line, the documented status
#   - `lookup --volume`: the volume is read before any directory is asked
#     (a disk with two volumes, an NTFS image, a directory: no connection)
#   - `unlock` without --test where device-mapper is missing: exit 4 with
#     the device-mapper line, and no directory asked (a listener on the
#     configured LDAP port sees no connection); `lock` likewise; where
#     device-mapper works (root, dm_mod), activation read-only and `lock`
#
# Needs BDEKEY (the binary under test) or O (the build directory, as make
# check passes it).  Prints 'volume-cli: N passed, M failed'.
set -u
SUITE=volume-cli
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
root=$PWD
O=${O:-build/dev}
BDEKEY=${BDEKEY:-$O/bdekey}
case $BDEKEY in /*) ;; *) BDEKEY=$root/$BDEKEY ;; esac
PY=/usr/bin/python3

notrun() { echo "NOT RUN: $*"; }

[ -x "$BDEKEY" ] || give_up "no bdekey at $BDEKEY (set BDEKEY or O)"
for c in tar xz sfdisk dd truncate timeout mkfifo "$PY"; do
	command -v "$c" >/dev/null || give_up "$c is missing (make deps installs it)"
done

make_tmp volume-cli /tmp
mapped=()
listener=
cleanup() {
	local m
	for m in "${mapped[@]}"; do
		timeout 30 "$BDEKEY" lock "$m" >/dev/null 2>&1
	done
	if [ -n "$listener" ]; then
		kill "$listener" 2>/dev/null
		wait "$listener" 2>/dev/null
	fi
}
tar --sparse -xJf tests/volume/data/bitlk-images.tar.xz -C "$tmp" ||
	give_up "cannot extract the test images"
img=$tmp/bitlk-images
ic=$img/images.conf
ec=tests/volume/expected.conf
bek=$img/4381F759-C4F8-4DE0-BB61-FC33A831BDA5.BEK

# No directory, no config file, no audit log but ours: nothing of the
# caller's environment reaches the commands.
scrub_env
unset LDAPURI LDAPHOST
private_home
audit=$XDG_STATE_HOME/bdekey/audit.jsonl

# bk / bkpw ARGS...: bdekey, bounded, output in $tmp/out and $tmp/err (lib.sh)
# expect WHAT RC [PATTERN]: the last run exited RC, stderr matches PATTERN
expect() { expect_rc "$@"; }
# oneline WHAT: the last run's stderr is one "bdekey: " line
oneline() {
	if [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q '^bdekey: ' "$tmp/err"; then
		ok
	else
		bad "$1: want one 'bdekey: ' line on stderr, got: $(head -c 400 "$tmp/err")"
	fi
}
# lastrec EXPR: a Python expression over the last audit record (r) holds
lastrec() {
	local what=$1
	if [ -f "$audit" ] && tail -1 "$audit" | "$PY" -c 'import json, sys
r = json.loads(sys.stdin.read())
sys.exit(0 if eval(sys.argv[1]) else 1)' "$2" 2>>"$tmp/jerr"; then
		ok
	else
		bad "$what: $2: $(tail -1 "$audit" 2>/dev/null | head -c 400)"
	fi
}

# want_volume NAME N: a Python expression that volume N of the JSON
# output is image NAME, by images.conf and expected.conf
want_volume() {
	local name=$1 n=$2 k v protectors="" drive
	for k in PW_VMK_GUID:password RP_VMK_GUID:recovery-password \
		RP2_VMK_GUID:recovery-password SK_VMK_GUID:startup-key; do
		v=$(conf "$ic" "$name" "${k%%:*}" | upper)
		[ -z "$v" ] || protectors="$protectors('$v', '${k#*:}'),"
	done
	v=$(conf "$ec" "$name" EXTRA_PROTECTORS)
	[ -z "$v" ] || protectors="$protectors('${v% *}', '${v#* }'),"
	drive=$(conf "$ec" "$name" DRIVE)
	[ -n "$drive" ] && drive="'$drive'" || drive=None
	printf '%s' "(lambda v: v['error'] is None
		and v['volume_id'] == '$(conf "$ic" "$name" GUID | upper)'
		and v['description'] == '$(conf "$ec" "$name" DESCRIPTION)'
		and v['computer'] == '$(conf "$ec" "$name" COMPUTER)'
		and v['drive'] == $drive
		and v['created'] == '$(conf "$ec" "$name" CREATED)'
		and v['method'] == '$(conf "$ec" "$name" METHOD)'
		and v['to_go'] == bool($(conf "$ec" "$name" TO_GO))
		and sorted((p['id'], p['type']) for p in v['protectors'])
		    == sorted([$protectors]))(d['volumes'][$n])"
}

names=("${IMAGES[@]}")

# --- every image: what `volume` reads, then its keys -----------------------
for i in "${!names[@]}"; do
	name=${names[$i]}
	other=${names[$(((i + 1) % ${#names[@]}))]}
	f=$img/$name.img
	guid=$(conf "$ic" "$name" GUID | upper)
	rp=$(conf "$ic" "$name" RP)
	bk volume --json "$f"
	expect "$name: volume --json" 0
	jtest "$name: one volume, no errors, the image itself" \
		"len(d['volumes']) == 1 and d['errors'] == [] and d['volumes'][0]['path'] == '$f' and d['volumes'][0]['offset'] == 0 and d['volumes'][0]['partition'] == 0 and d['volumes'][0]['size'] == $(stat -c %s "$f")"
	jtest "$name: metadata and protectors" "$(want_volume "$name" 0)"
	bk volume "$f"
	expect "$name: volume" 0
	has "$name: human: volume id" "$tmp/out" "volume id   $guid"
	has "$name: human: description" "$tmp/out" \
		"description $(conf "$ec" "$name" DESCRIPTION)"
	has "$name: human: computer" "$tmp/out" \
		"computer    $(conf "$ec" "$name" COMPUTER)"
	has "$name: human: recovery protector" "$tmp/out" \
		"protector   $(conf "$ic" "$name" RP_VMK_GUID | upper)  recovery-password"
	if [ "$(conf "$ec" "$name" TO_GO)" = 1 ]; then
		has "$name: human: To Go" "$tmp/out" "(BitLocker To Go)"
	else
		lacks "$name: human: not To Go" "$tmp/out" "To Go"
	fi

	n=$(records)
	bkpw "$rp" unlock --test --password-stdin "$f"
	expect "$name: unlock --test with its recovery password" 0
	has "$name: says it opens" "$tmp/out" \
		"the typed recovery password opens volume $guid"
	same "$name: one audit record" "$(records)" $((n + 1))
	lastrec "$name: audit record of the test" \
		"r['action'] == 'unlock-test' and r['source'] == 'stdin' and r['volume_id'] == '$guid' and r['volume'] == '$f'"
	# another volume's password: checksum-valid, the classic stale key
	bkpw "$(conf "$ic" "$other" RP)" unlock --test --password-stdin "$f"
	expect "$name: $other's recovery password" 5 "does not open volume $guid"
	lacks "$name: wrong key: nothing on stdout" "$tmp/out" "opens"
done
lacks "audit log: never a password" "$audit" \
	"$(conf "$ic" bitlk-aes-xts-128 RP | cut -d- -f1-2)"
mode=$(stat -c %a "$audit" 2>/dev/null)
same "audit log mode" "$mode" 600

x128=$img/bitlk-aes-xts-128.img
rp=$(conf "$ic" bitlk-aes-xts-128 RP)
# --- passwords as typed ------------------------------------------------
bkpw "$(echo "$rp" | tr - ' ')" unlock --test --password-stdin "$x128"
expect "recovery password with blanks" 0
bkpw "$(echo "$rp" | tr -d -)" unlock --test --password-stdin "$x128"
expect "recovery password as 48 digits" 0
# one digit misheard: fails its checksum, suggestions, nothing tried
n=$(records)
typo="${rp%?}$(( (${rp: -1} + 1) % 10 ))"
bkpw "$typo" unlock --test --password-stdin "$x128"
expect "typo" 5 "block 8 \"${typo: -6}\": not a multiple of 11; did you mean ${rp: -6}"
has "typo: nothing tried" "$tmp/err" "the password has a typo; nothing was tried"
same "typo: no audit record" "$(records)" "$n"
bkpw "12345" unlock --test --password-stdin "$x128"
expect "not a recovery password" 2 "not a recovery password"
bk unlock --test --password-stdin "$x128"
expect "nothing on stdin" 2 "no password on standard input"
bkpw "$(printf '%05000d' 0)" unlock --test --password-stdin "$x128"
expect "an over-long line" 2 "too long|not a recovery password"

# --- the .BEK startup key ------------------------------------------------
sk=$img/bitlk-aes-xts-128-startup-key.img
skid=$(conf "$ic" bitlk-aes-xts-128-startup-key SK_VMK_GUID | upper)
n=$(records)
bk unlock --test --key-file "$bek" "$sk"
expect ".BEK opens its volume" 0
has ".BEK: names the key" "$tmp/out" "key $skid (key-file) opens volume"
lastrec ".BEK: audit record" \
	"r['action'] == 'unlock-test' and r['source'] == 'key-file' and r['key_id'] == '$skid'"
bk unlock --test --key-file "$bek" "$x128"
expect ".BEK on a volume without a startup key" 2 "has no startup-key protector"
bk unlock --test --key-file "$tmp/no-such.BEK" "$sk"
expect "missing .BEK" 4 "no-such.BEK"
oneline "missing .BEK"
bk unlock --test --key-file "$img" "$sk"
expect "a directory as .BEK" 2 "not a regular file"

# --- the second recovery password of the two-recovery volume -------------
two=$img/bitlk-aes-xts-128-two-recovery.img
bkpw "$(conf "$ic" bitlk-aes-xts-128-two-recovery RP2)" unlock --test \
	--password-stdin "$two"
expect "two-recovery: second recovery password" 0

# --- the audit record: reason, require_reason, written before use ---------
bkpw "$rp" unlock --test --password-stdin --reason "TICKET-77" "$x128"
expect "unlock --test --reason" 0
lastrec "reason recorded" "r['reason'] == 'TICKET-77'"
n=$(records)
BDEKEY_REQUIRE_REASON=yes bkpw "$rp" unlock --test --password-stdin "$x128"
expect "require_reason without --reason" 2 "--reason"
same "require_reason: no record" "$(records)" "$n"
# a wrong key with a log that cannot be written: the record comes first,
# so the key is never tried (exit 4, not 5)
BDEKEY_AUDIT_LOG=/dev/full bkpw "$(conf "$ic" bitlk-aes-xts-256 RP)" \
	unlock --test --password-stdin "$x128"
expect "audit log full: nothing tried" 4
lacks "audit log full: key not tried" "$tmp/err" "does not open"
lacks "audit log full: nothing on stdout" "$tmp/out" "opens"
BDEKEY_AUDIT_LOG=/dev/full bkpw "$rp" unlock --test --password-stdin "$x128"
expect "audit log full, right key" 4
lacks "audit log full, right key: not used" "$tmp/out" "opens"

# --- usage -----------------------------------------------------------------
bk unlock --test
expect "unlock without a path" 2 "give one partition, disk or image file"
bk unlock --test "$x128" "$sk"
expect "unlock with two paths" 2 "give one partition, disk or image file"
bkpw "$rp" unlock --test --password-stdin --key-file "$bek" "$x128"
expect "two key options" 2 "at most one of --key-id, --key-file and --password-stdin"
bk unlock --test --key-id nothex "$x128"
expect "a malformed key ID" 2
bkpw "$rp" unlock --test --password-stdin --name "bad/name" "$x128"
expect "a bad mapping name" 2 "bad mapping name"
bk volume
expect "volume without a path" 2 "give a partition, a disk or an image file"
bk lock
expect "lock without a name" 2 "give the name of one mapping"
bk lock "bad/name"
expect "lock with a bad name" 2 "bad mapping name"
for c in volume unlock lock; do
	bk "$c" --help
	expect "$c --help" 0
	has "$c --help: usage" "$tmp/out" "usage: bdekey $c"
done

# --- whole disks, built here (sparse: a few MB on disk) ---------------------

gpt=$tmp/gpt.img
gpt_disk "$gpt" "$sk" "$img/bitlk-aes-xts-256.img"
bk volume --json "$gpt"
expect "gpt: volume --json" 0
jtest "gpt: two volumes, partitions 2 and 3 at their offsets" \
	"[(v['path'], v['partition'], v['offset'], v['size']) for v in d['volumes']] == [('$gpt', 2, $((18432 * 512)), $((206848 * 512))), ('$gpt', 3, $((225280 * 512)), $((204800 * 512)))]"
jtest "gpt: partition 2 is the startup-key volume" \
	"$(want_volume bitlk-aes-xts-128-startup-key 0)"
jtest "gpt: partition 3 is the AES-XTS-256 volume" \
	"$(want_volume bitlk-aes-xts-256 1)"
bk volume "$gpt"
expect "gpt: volume" 0
has "gpt: human: partition 2" "$tmp/out" "partition   2"
has "gpt: human: offset of partition 2" "$tmp/out" "offset      $((18432 * 512))"
has "gpt: human: offset of partition 3" "$tmp/out" "offset      $((225280 * 512))"
# two BitLocker partitions: unlock cannot guess; it lists them
n=$(records)
bkpw "$(conf "$ic" bitlk-aes-xts-256 RP)" unlock --test --password-stdin "$gpt"
expect "gpt: unlock asks for the partition" 2 \
	"'.*gpt.img' holds 2 BitLocker volumes; give one with --partition N"
has "gpt: lists partition 2" "$tmp/err" "partition 2 at byte $((18432 * 512))  $(conf "$ic" bitlk-aes-xts-128-startup-key GUID | upper)"
has "gpt: lists partition 3" "$tmp/err" "partition 3 at byte $((225280 * 512))  $(conf "$ic" bitlk-aes-xts-256 GUID | upper)"
same "gpt: nothing tried, nothing recorded" "$(records)" "$n"

mbr=$tmp/mbr.img
mbr_disk "$mbr" "$two"
bk volume --json "$mbr"
expect "mbr: volume --json" 0
jtest "mbr: one volume, partition 3 at its offset" \
	"[(v['partition'], v['offset']) for v in d['volumes']] == [(3, $((18432 * 512)))]"
jtest "mbr: the two-recovery volume" "$(want_volume bitlk-aes-xts-128-two-recovery 0)"
bkpw "$(conf "$ic" bitlk-aes-xts-128-two-recovery RP2)" unlock --test \
	--password-stdin "$mbr"
expect "mbr: unlock --test in partition 3" 0
has "mbr: opens" "$tmp/out" "opens volume $(conf "$ic" bitlk-aes-xts-128-two-recovery GUID | upper)"
bkpw "$rp" unlock --test --password-stdin "$mbr"
expect "mbr: a wrong password in partition 3" 5 "does not open"
bk volume --json "$gpt" "$mbr"
expect "two disks at once" 0
jtest "two disks: three volumes" "len(d['volumes']) == 3"

# a GPT disk without BitLocker says what it holds
nob=$tmp/nobitlocker.img
plain_gpt_disk "$nob" 2
bk volume "$nob"
expect "gpt without BitLocker" 1 \
	"no BitLocker volume in '.*': found a GPT partition table with 2 partitions, none BitLocker \\(1: an NTFS filesystem"
oneline "gpt without BitLocker"

# --- bad input: one clear line, the documented status ---------------------
fake=$tmp/ntfs.img
truncate -s 4M "$fake"
fake_ntfs "$fake" 0
bk volume "$fake"
expect "NTFS image" 1 "^bdekey: volume: no BitLocker volume in '.*': found an NTFS filesystem$"
oneline "NTFS image"
[ -s "$tmp/out" ] && bad "NTFS image: stdout not empty" || ok
bkpw "$rp" unlock --test --password-stdin "$fake"
expect "unlock on an NTFS image" 1 "found an NTFS filesystem"
oneline "unlock on an NTFS image"
truncate -s 10M "$tmp/zero.img"
bk volume "$tmp/zero.img"
expect "zeroed image" 1 "no BitLocker volume in '.*': only zeros in its first MiB$"
oneline "zeroed image"
: >"$tmp/empty.img"
bk volume "$tmp/empty.img"
expect "empty file" 1 "it is empty$"
cp --sparse=always "$x128" "$tmp/t40.img"
truncate -s 40M "$tmp/t40.img"
bk volume "$tmp/t40.img"
expect "truncated image" 4 "truncated image"
bkpw "$rp" unlock --test --password-stdin "$tmp/t40.img"
expect "unlock on a truncated image" 4 "truncated image"
bk volume "$tmp"
expect "directory" 2 "^bdekey: volume: '.*' is a directory"
oneline "directory"
bkpw "$rp" unlock --test --password-stdin "$tmp"
expect "unlock on a directory" 2 "is a directory"
mkfifo "$tmp/fifo"
# timeout's 124 is a failure: a FIFO must be refused, not waited on
timeout 10 "$BDEKEY" volume "$tmp/fifo" >"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
expect "FIFO (must not wait for a writer)" 2 "is a FIFO"
oneline "FIFO"
printf '%s\n' "$rp" | timeout 10 "$BDEKEY" unlock --test --password-stdin \
	"$tmp/fifo" >"$tmp/out" 2>"$tmp/err"
rc=$?
expect "unlock on a FIFO" 2 "is a FIFO"
bk volume /dev/null
expect "character device" 2 "is a character device"
bk volume "$tmp/does-not-exist"
expect "missing file" 4 "cannot open '.*does-not-exist'"
oneline "missing file"
bkpw "$rp" unlock --test --password-stdin "$tmp/does-not-exist"
expect "unlock on a missing file" 4 "cannot open"
# several paths: every volume listed, the worst status
bk volume --json "$x128" "$tmp/zero.img" "$tmp/does-not-exist"
expect "several paths: the worst status" 4
jtest "several paths: the volume and two errors" \
	"len(d['volumes']) == 1 and [(e['path'].rsplit('/', 1)[1], e['kind']) for e in d['errors']] == [('zero.img', 'not-found'), ('does-not-exist', 'io')] and all(e['message'] for e in d['errors'])"
bk volume "$x128" "$tmp"
expect "a volume and a directory" 2
has "a volume and a directory: the volume still shown" "$tmp/out" \
	"volume id   $(conf "$ic" bitlk-aes-xts-128 GUID | upper)"
bk volume --json "$tmp/zero.img"
expect "only zeros, JSON" 1
jtest "only zeros, JSON: no volume, a not-found error" \
	"d['volumes'] == [] and len(d['errors']) == 1 and d['errors'][0]['kind'] == 'not-found'"
# a file the user cannot read: root reads everything, so run as nobody
unreadable_image "$x128" "$BDEKEY"
if [ "$(id -u)" -ne 0 ]; then
	bk volume "$tmp/pub/secret.img"
	expect "unreadable file" 4 "run as root or add yourself to the disk group"
elif command -v setpriv >/dev/null; then
	as_nobody "$BDEKEY" volume "$tmp/pub/secret.img" </dev/null
	expect "unreadable file (as nobody)" 4 \
		"permission denied: run as root or add yourself to the disk group"
	oneline "unreadable file"
else
	notrun "unreadable file: running as root and setpriv is missing"
fi

# --- device-mapper: activation, or the one-line error where it is missing --
# a listener on the LDAP port bdekey is pointed at: it records any
# connection, so "no directory was asked" is checked, not assumed
port_file=$tmp/listener.port
"$PY" -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(600)
while True:
    c, _ = s.accept()
    open(sys.argv[2], "a").write("connection\n")
    c.close()
' "$port_file" "$tmp/listener.log" &
listener=$!
wait_for 50 test -s "$port_file"
lport=$(cat "$port_file" 2>/dev/null)
[ -n "$lport" ] && ok || bad "the LDAP listener did not start"
lempty() { [ -s "$tmp/listener.log" ] && bad "$1: the directory was asked" || ok; }

# lookup --volume reads the volume before it asks any directory
BDEKEY_LDAP_URI=ldap://127.0.0.1:$lport bk lookup --volume "$gpt"
expect "lookup --volume on a disk with two volumes" 2 "holds 2 BitLocker volumes; give one with --partition N"
lempty "lookup --volume on a disk with two volumes"
BDEKEY_LDAP_URI=ldap://127.0.0.1:$lport bk lookup --volume "$fake" --show
expect "lookup --volume on an NTFS image" 1 "found an NTFS filesystem"
lempty "lookup --volume on an NTFS image"
BDEKEY_LDAP_URI=ldap://127.0.0.1:$lport bk lookup --volume "$tmp" --show
expect "lookup --volume on a directory" 2 "is a directory"
lempty "lookup --volume on a directory"
bk lookup --volume "$x128" --device DESKTOP-NPM7RCA
expect "lookup --volume with --device" 2 "without --device and --key-id"
bk lookup --volume "$x128" --read-out --json
expect "lookup --volume --read-out --json" 2 "do not go together"

dm_ok=0
[ -e /dev/mapper/control ] && [ "$(id -u)" -eq 0 ] && dm_ok=1
if [ "$dm_ok" = 1 ]; then
	name=bdekey-cli-$$
	mapped+=("$name")
	bkpw "$rp" unlock --password-stdin --name "$name" "$x128"
	expect "activate read-only" 0
	has "activate: says read-only" "$tmp/out" "as /dev/mapper/$name (read-only)"
	has "activate: how to mount" "$tmp/out" "mount -o ro /dev/mapper/$name"
	lastrec "activate: audit action unlock" "r['action'] == 'unlock'"
	if [ -b "/dev/mapper/$name" ]; then ok; else bad "no /dev/mapper/$name"; fi
	same "activated read-only" "$(blockdev --getro "/dev/mapper/$name" 2>&1)" 1
	bkpw "$rp" unlock --password-stdin --name "$name" "$x128"
	expect "activate a taken name" 2 "exists already"
	bk lock "$name"
	expect "lock" 0
	has "lock: says so" "$tmp/out" "closed /dev/mapper/$name"
	bk lock "$name"
	expect "lock again" 1 "no active volume"
	bkpw "$(conf "$ic" bitlk-aes-xts-128-two-recovery RP2)" unlock \
		--password-stdin --name "$name" "$mbr"
	expect "activate partition 3 of a disk image" 0
	bk lock "$name"
	expect "lock the partition" 0
	bkpw "$(conf "$ic" bitlk-aes-xts-256 RP)" unlock --password-stdin \
		--name "$name" "$x128"
	expect "activate with a wrong key" 5 "wrong key"
	bk lock bdekey-cli-unknown-$$
	expect "lock an unknown name" 1 "no active volume '/dev/mapper/bdekey-cli-unknown-$$'"
	oneline "lock an unknown name"
	notrun "the missing-device-mapper error: device-mapper works here"
else
	notrun "activation: $( [ -e /dev/mapper/control ] && echo "not root" || echo "no /dev/mapper/control")"
	dmre="^bdekey: unlock: device-mapper (is not available|needs root).*--test proves the key without it"
	n=$(records)
	bkpw "$rp" unlock --password-stdin "$x128"
	expect "unlock without device-mapper" 4 "$dmre"
	oneline "unlock without device-mapper"
	same "no device-mapper: nothing used, nothing recorded" "$(records)" "$n"
	bk unlock --key-file "$bek" "$sk"
	expect "unlock --key-file without device-mapper" 4 "$dmre"
	# a directory is configured: it is not asked
	BDEKEY_LDAP_URI=ldap://127.0.0.1:$lport bk unlock "$x128"
	expect "unlock from the directory without device-mapper" 4 "$dmre"
	oneline "unlock from the directory without device-mapper"
	lempty "unlock without device-mapper"
	# no directory configured: device-mapper is still what stops it (a
	# directory set up now would not help)
	bk unlock "$x128"
	expect "unlock, no directory, no device-mapper" 4 "$dmre"
	bk lock bdekey-cli-unknown
	expect "lock without device-mapper" 4 "^bdekey: lock: device-mapper "
	oneline "lock without device-mapper"
fi
# --test asks the directory, and says when it is unreachable
BDEKEY_LDAP_URI=ldap://127.0.0.1:$lport BDEKEY_TIMEOUT=3 bk unlock --test "$x128"
[ "$rc" -ne 0 ] && ok || bad "unlock --test, directory not answering: exit 0"
# the listener may accept (and log) only after bdekey gave up: wait for it
wait_for 50 test -s "$tmp/listener.log"
[ -s "$tmp/listener.log" ] && ok || bad "unlock --test did not ask the directory"

finish
