#!/bin/bash
# test-volume.sh - volume/ against the BitLocker volumes Windows made
# (tests/volume/data/), through the driver tests/volume/voltool.c:
#
#   - every image: the volume ID, description, computer, drive, creation
#     time, method, To Go flag and protectors (images.conf, expected.conf);
#     its recovery password opens it, another image's (checksum-valid)
#     does not (bad-key), a typo fails its checksum (bad-key), junk is no
#     password (usage); the .BEK opens its volume; the second recovery
#     password of the two-recovery volume opens it too
#   - whole-disk images built here: GPT with BitLocker in partitions 2
#     and 3, MBR with it in partition 3; found at the right offsets, keys
#     checked there; a GPT disk without BitLocker says what it holds
#   - bad input: NTFS, zeros, empty, truncated, metadata past the end,
#     damaged metadata, a partition cut off, a directory, a FIFO, a
#     character device, a missing file, an unreadable file (as nobody),
#     a .BEK for another protector or with a damaged key
#   - a loop block device (root), activation through device-mapper (root
#     and /dev/mapper/control); where they cannot run, the test says why
#     and checks the one-line error instead
#
# Needs O (the build directory, as make check passes it) or VOLTOOL;
# builds $O/tests/voltool when it is missing.  Prints
# 'volume: N passed, M failed'.
set -u
SUITE=volume
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
root=$PWD
O=${O:-build/dev}
VOLTOOL=${VOLTOOL:-$O/tests/voltool}
case $VOLTOOL in /*) ;; *) VOLTOOL=$root/$VOLTOOL ;; esac

notrun() { echo "NOT RUN: $*"; }

if [ ! -x "$VOLTOOL" ]; then
	make --no-print-directory -s O="$O" "$VOLTOOL" >/dev/null 2>&1 ||
		make --no-print-directory O="$O" "$VOLTOOL"
fi
[ -x "$VOLTOOL" ] || give_up "no voltool at $VOLTOOL"
for c in tar xz sfdisk dd truncate timeout; do
	command -v "$c" >/dev/null || give_up "$c is missing (make deps installs it)"
done

make_tmp volume /tmp
mapped=()
loops=()
cleanup() {
	local m l
	for m in "${mapped[@]}"; do
		"$VOLTOOL" deactivate "$m" >/dev/null 2>&1
	done
	for l in "${loops[@]}"; do
		losetup -d "$l" 2>/dev/null
	done
}
tar --sparse -xJf tests/volume/data/bitlk-images.tar.xz -C "$tmp" ||
	give_up "cannot extract the test images"
img=$tmp/bitlk-images
bek=$img/4381F759-C4F8-4DE0-BB61-FC33A831BDA5.BEK

# vt ARGS...: voltool with stdout in $tmp/out, stderr in $tmp/err, $rc
vt() { capture "$VOLTOOL" "$@"; }
# vtpw PASSWORD ARGS...: the same with the password on stdin
vtpw() { capture_pw "$1" "$VOLTOOL" "${@:2}"; }
# expect WHAT RC [PATTERN]: the last vt exited RC and stderr matches PATTERN
expect() { expect_rc "$@"; }
# field KEY [N]: KEY's value in volume N (default 1) of the last scan
field() {
	awk -v k="$1" -v n="${2:-1}" -F= '
		/^volume=/ { v = $2 }
		v == n && $1 == k { sub(/^[^=]*=/, ""); print; exit }
	' "$tmp/out"
}
# protectors [N]: "ID type" lines of volume N, sorted
protectors() {
	awk -v n="${1:-1}" -F= '
		/^volume=/ { v = $2 }
		v == n && $1 == "protector" { print $2 }
	' "$tmp/out" | sort
}
# check_volume NAME N: volume N of the last scan is image NAME
check_volume() {
	local name=$1 n=$2 ic=$img/images.conf ec=tests/volume/expected.conf
	local want k v extra
	same "$name volume_id" "$(field volume_id "$n")" \
		"$(conf "$ic" "$name" GUID | upper)"
	for k in description computer drive created method to_go; do
		v=$(echo "$k" | upper)
		same "$name $k" "$(field "$k" "$n")" "$(conf "$ec" "$name" "$v")"
	done
	same "$name error" "$(field error "$n")" ""
	want=$(
		for k in PW_VMK_GUID:password RP_VMK_GUID:recovery-password \
			RP2_VMK_GUID:recovery-password SK_VMK_GUID:startup-key; do
			v=$(conf "$ic" "$name" "${k%%:*}" | upper)
			[ -z "$v" ] || echo "$v ${k#*:}"
		done
		extra=$(conf "$ec" "$name" EXTRA_PROTECTORS)
		[ -z "$extra" ] || echo "$extra"
	)
	same "$name protectors" "$(protectors "$n")" "$(echo "$want" | sort)"
}

names=("${IMAGES[@]}")

# --- every image: metadata, then its keys
for i in "${!names[@]}"; do
	name=${names[$i]}
	other=${names[$(((i + 1) % ${#names[@]}))]}
	rp=$(conf "$img/images.conf" "$name" RP)
	wrong=$(conf "$img/images.conf" "$other" RP)
	vt scan "$img/$name.img"
	expect "$name: scan" 0
	same "$name: one volume" "$(grep -c '^volume=' "$tmp/out")" 1
	same "$name offset" "$(field offset)" 0
	same "$name partno" "$(field partno)" 0
	same "$name size" "$(field size)" "$(stat -c %s "$img/$name.img")"
	check_volume "$name" 1
	vtpw "$rp" check "$img/$name.img"
	expect "$name: its recovery password" 0
	# another volume's password: checksum-valid, the classic stale key
	vtpw "$wrong" check "$img/$name.img"
	expect "$name: $other's recovery password" 10 \
		"does not open volume .*wrong key for this volume"
done

rp=$(conf "$img/images.conf" bitlk-aes-xts-128 RP)
x128=$img/bitlk-aes-xts-128.img
# typed with blanks instead of dashes: the same password
vtpw "$(echo "$rp" | tr - ' ')" check "$x128"
expect "recovery password with blanks" 0
# one digit misheard: fails its checksum before any key derivation
vtpw "${rp%?}$(( (${rp: -1} + 1) % 10 ))" check "$x128"
expect "recovery password with a typo" 10 "fails its checksum in block 8"
vtpw "12345" check "$x128"
expect "not a recovery password" 2 "not a recovery password"
vtpw "" check "$x128"
expect "empty password" 2 "not a recovery password"

# the second recovery password of the two-recovery volume
two=$img/bitlk-aes-xts-128-two-recovery.img
vtpw "$(conf "$img/images.conf" bitlk-aes-xts-128-two-recovery RP2)" check "$two"
expect "two-recovery: second recovery password" 0

# the startup key: its ID is its file name and the protector's
sk=$img/bitlk-aes-xts-128-startup-key.img
vt bek-id "$bek"
expect "bek-id" 0
same "bek-id" "$(cat "$tmp/out")" \
	"$(conf "$img/images.conf" bitlk-aes-xts-128-startup-key SK_VMK_GUID | upper)"
vt check-bek "$sk" "$bek"
expect "startup key opens its volume" 0
vt check-bek "$x128" "$bek"
expect "startup key, volume without one" 2 "has no startup-key protector"
# a .BEK naming another protector (bytes 16-31)
cp "$bek" "$tmp/other.BEK"
printf '\x11\x22\x33\x44' | dd of="$tmp/other.BEK" bs=1 seek=16 conv=notrunc status=none
vt check-bek "$sk" "$tmp/other.BEK"
expect "startup key for another protector" 10 "is for protector 44332211-"
# the right protector, a damaged key (the last byte of the file)
cp "$bek" "$tmp/damaged.BEK"
size=$(stat -c %s "$bek")
last=$(od -An -tu1 -j $((size - 1)) -N1 "$bek" | tr -d ' ')
printf "\\x$(printf %02x $(((last + 1) % 256)))" |
	dd of="$tmp/damaged.BEK" bs=1 seek=$((size - 1)) conv=notrunc status=none
vt check-bek "$sk" "$tmp/damaged.BEK"
expect "startup key with a damaged key" 10 "wrong key for this volume"
head -c 30 "$bek" >"$tmp/short.BEK"
vt check-bek "$sk" "$tmp/short.BEK"
expect "a .BEK cut short" 2 "not a .BEK file"
vt check-bek "$sk" "$tmp"
expect "a directory as .BEK" 2 "not a regular file"

# --- whole disks, built here from the images (sparse: a few MB on disk)

gpt=$tmp/gpt.img
gpt_disk "$gpt" "$sk" "$img/bitlk-aes-xts-256.img"
vt scan "$gpt"
expect "gpt: scan" 0
same "gpt: volumes" "$(grep -c '^volume=' "$tmp/out")" 2
same "gpt: partition" "$(field partno 1)" 2
same "gpt: offset" "$(field offset 1)" $((18432 * 512))
same "gpt: size" "$(field size 1)" $((206848 * 512))
check_volume bitlk-aes-xts-128-startup-key 1
same "gpt: 2nd partition" "$(field partno 2)" 3
same "gpt: 2nd offset" "$(field offset 2)" $((225280 * 512))
check_volume bitlk-aes-xts-256 2
vtpw "$(conf "$img/images.conf" bitlk-aes-xts-128-startup-key RP)" check "$gpt" 1
expect "gpt: recovery password at an offset" 0
vtpw "$(conf "$img/images.conf" bitlk-aes-xts-256 RP)" check "$gpt" 1
expect "gpt: other volume's password at an offset" 10 "partition 2\\): wrong key"
vtpw "$(conf "$img/images.conf" bitlk-aes-xts-256 RP)" check "$gpt" 2
expect "gpt: second volume's password" 0
vt check-bek "$gpt" "$bek" 1
expect "gpt: startup key at an offset" 0

mbr=$tmp/mbr.img
mbr_disk "$mbr" "$two"
vt scan "$mbr"
expect "mbr: scan" 0
same "mbr: volumes" "$(grep -c '^volume=' "$tmp/out")" 1
same "mbr: partition" "$(field partno)" 3
same "mbr: offset" "$(field offset)" $((18432 * 512))
check_volume bitlk-aes-xts-128-two-recovery 1
vtpw "$(conf "$img/images.conf" bitlk-aes-xts-128-two-recovery RP2)" check "$mbr"
expect "mbr: second recovery password at an offset" 0
vtpw "$rp" check "$mbr"
expect "mbr: wrong password at an offset" 10 "wrong key for this volume"
# both disks at once: one list
vt scan "$gpt" "$mbr"
same "two disks: volumes" "$(grep -c '^volume=' "$tmp/out")" 3

# a GPT disk without BitLocker says what each partition holds
nob=$tmp/nobitlocker.img
plain_gpt_disk "$nob" 3
vt scan "$nob"
expect "gpt without BitLocker" 1 \
	"^voltool: no BitLocker volume in '.*': found a GPT partition table with 3 partitions, none BitLocker \\(1: an NTFS filesystem, 2: nothing libblkid recognises, 3: nothing libblkid recognises\\)$"
# disks cut off inside the BitLocker partition: the MBR still lists it,
# the GPT claims more sectors than there are and loses its backup header
cp --sparse=always "$mbr" "$tmp/cut.img"
truncate -s 60M "$tmp/cut.img"
vt scan "$tmp/cut.img"
expect "mbr cut inside partition 3" 9 \
	"^voltool: '.*' partition 3: the BitLocker metadata lies past the end of the 53477376 bytes there: truncated image"
cp --sparse=always "$gpt" "$tmp/cut.img"
truncate -s 60M "$tmp/cut.img"
vt scan "$tmp/cut.img"
expect "gpt cut inside partition 2" 1 "found a protective MBR but no GPT .*cut short"

# --- bad input
fake=$tmp/ntfs.img
truncate -s 4M "$fake"
fake_ntfs "$fake" 0
vt scan "$fake"
expect "NTFS image" 1 "^voltool: no BitLocker volume in '.*': found an NTFS filesystem$"
truncate -s 10M "$tmp/zero.img"
vt scan "$tmp/zero.img"
expect "zeroed image" 1 "only zeros in its first MiB$"
: >"$tmp/empty.img"
vt scan "$tmp/empty.img"
expect "empty file" 1 "it is empty$"
cp --sparse=always "$x128" "$tmp/t40.img"
truncate -s 40M "$tmp/t40.img"
vt scan "$tmp/t40.img"
expect "truncated at 40 MiB" 9 "lies past the end of the 41943040 bytes there: truncated image"
cp --sparse=always "$x128" "$tmp/t1.img"
truncate -s 1M "$tmp/t1.img"
vt scan "$tmp/t1.img"
expect "truncated at 1 MiB" 1 "found a BitLocker boot sector but no metadata"
# the second and third metadata offsets point past the end (boot sector
# at 0xB8 and 0xC0, the first metadata block's copy of them at +0x28/+0x30)
meta0=$((0x2195000))
cp --sparse=always "$x128" "$tmp/past.img"
for o in 0xb8 0xc0 $((meta0 + 0x28)) $((meta0 + 0x30)); do
	printf '\x00\x00\x00\x00\x01\x00\x00\x00' |
		dd of="$tmp/past.img" bs=1 seek=$((o)) conv=notrunc status=none
done
vt scan "$tmp/past.img"
expect "metadata offsets past the end" 9 "lies past the end"
# the metadata size field (first block, +64) far larger than the block
cp --sparse=always "$x128" "$tmp/size.img"
printf '\xf0\xff\xff\xff' | dd of="$tmp/size.img" bs=1 seek=$((meta0 + 64)) conv=notrunc status=none
vt scan "$tmp/size.img"
expect "metadata size past the end" 9 "libbde cannot read the BitLocker metadata"
vtpw "$rp" check "$tmp/size.img"
expect "key check on damaged metadata" 9 "cannot read the BitLocker metadata"
vt scan "$tmp"
expect "directory" 2 "is a directory"
mkfifo "$tmp/fifo"
vt scan "$tmp/fifo"
expect "FIFO (must not wait for a writer)" 2 "is a FIFO"
vt scan /dev/null
expect "character device" 2 "is a character device"
vt scan "$tmp/does-not-exist"
expect "missing file" 9 "cannot open"
# a file the user cannot read: root reads everything, so run as nobody
unreadable_image "$x128" "$VOLTOOL"
if [ "$(id -u)" -ne 0 ]; then
	vt scan "$tmp/pub/secret.img"
	expect "unreadable file" 9 "run as root or add yourself to the disk group"
elif command -v setpriv >/dev/null; then
	as_nobody "$VOLTOOL" scan "$tmp/pub/secret.img"
	expect "unreadable file (as nobody)" 9 \
		"permission denied: run as root or add yourself to the disk group"
else
	notrun "unreadable file: running as root and setpriv is missing"
fi

# --- a loop block device over the GPT disk (root only)
if [ "$(id -u)" -eq 0 ] && command -v losetup >/dev/null &&
	loop=$(losetup --find --show --read-only --partscan "$gpt" 2>"$tmp/err"); then
	loops+=("$loop")
	vt scan "$loop"
	expect "block device: scan" 0
	same "block device: partition" "$(field partno)" 2
	same "block device: offset" "$(field offset)" $((18432 * 512))
	dev=$(field device)
	# the partition's own node when the kernel made one, else none
	case $dev in "" | "${loop}p2") ok ;; *) bad "block device: device '$dev'" ;; esac
	vtpw "$(conf "$img/images.conf" bitlk-aes-xts-128-startup-key RP)" check "$loop"
	expect "block device: recovery password" 0
	[ -n "$dev" ] || notrun "partition node: the kernel made no ${loop}p2 here"
else
	notrun "loop block device: $( [ "$(id -u)" -eq 0 ] && head -c 200 "$tmp/err" || echo "not root")"
fi

# --- activation through device-mapper
vt dm
if [ "$rc" -eq 0 ]; then
	name=bdekey-test-$$
	mapped+=("$name")
	vtpw "$rp" activate "$x128" "$name"
	expect "activate read-only" 0
	if [ -b "/dev/mapper/$name" ]; then ok; else bad "no /dev/mapper/$name"; fi
	same "activated read-only" "$(blockdev --getro "/dev/mapper/$name" 2>&1)" 1
	vtpw "$rp" activate "$x128" "$name"
	expect "activate a taken name" 2 "exists already"
	vt deactivate "$name"
	expect "deactivate" 0
	vt deactivate "$name"
	expect "deactivate again" 1 "no active volume"
	# a volume inside a whole disk goes through a loop device
	vtpw "$(conf "$img/images.conf" bitlk-aes-xts-128-two-recovery RP2)" \
		activate "$mbr" "$name"
	expect "activate at an offset" 0
	vt deactivate "$name"
	expect "deactivate the offset one" 0
	vtpw "$(conf "$img/images.conf" bitlk-aes-xts-256 RP)" activate "$x128" "$name"
	expect "activate with a wrong key" 10 "wrong key"
else
	why=$(sed -n 's/^voltool: //p' "$tmp/err")
	notrun "activation: $why"
	# what a user gets instead: one clear line, exit 9 (io)
	same "no device-mapper: one line" "$(grep -c '^voltool:' "$tmp/err")" 1
	grep -qE "^voltool: device-mapper (is not available: (no /dev/mapper/control|the kernel has no device-mapper driver)|needs root)" \
		"$tmp/err" && ok || bad "dm message: $(cat "$tmp/err")"
	vtpw "$rp" activate "$x128" bdekey-test
	expect "activate without device-mapper" 9 "^voltool: device-mapper "
	vt deactivate bdekey-test
	expect "deactivate without device-mapper" 9 "^voltool: device-mapper "
fi
vtpw "$rp" activate "$x128" "bad/name"
expect "activate: bad name" 2 "bad mapping name"

finish
