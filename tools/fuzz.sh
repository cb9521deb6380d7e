#!/bin/bash
# fuzz.sh DIR SECONDS NAME... - run each libFuzzer target DIR/fuzz/fuzz_NAME
# for SECONDS on a scratch copy of its seed corpus tests/fuzz/corpus_NAME
# (the committed corpus is never written).  Prints one line a target:
# "fuzz: NAME: N runs in S s, no finding" and fails on the first finding.
set -u
cd "$(dirname "$0")/.." || exit 1
dir=$1
secs=$2
shift 2
work=$(mktemp -d /tmp/bdekey-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
total=0
for name in "$@"; do
	bin=$dir/fuzz/fuzz_$name
	case $name in
	checksum) max_len=600 ;;
	volume) max_len=131072 ;;
	*) max_len=65536 ;;
	esac
	mkdir -p "$work/$name"
	if [ -d "tests/fuzz/corpus_$name" ]; then
		cp -r "tests/fuzz/corpus_$name/." "$work/$name/"
	else
		echo "fuzz: $name: no seed corpus tests/fuzz/corpus_$name" >&2
		exit 1
	fi
	log=$work/$name.log
	# findings go to $work (artifact_prefix), reported below
	if ! timeout $((secs + 120)) "$bin" -max_total_time="$secs" \
	    -max_len="$max_len" -timeout=20 -rss_limit_mb=2048 \
	    -artifact_prefix="$work/$name-" -print_final_stats=1 \
	    "$work/$name" >"$log" 2>&1; then
		echo "fuzz: $name: FINDING"
		tail -40 "$log"
		ls "$work"/"$name"-* 2>/dev/null
		exit 1
	fi
	runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
	echo "fuzz: $name: ${runs:-?} runs in $secs s, no finding"
	total=$((total + ${runs:-0}))
done
echo "fuzz: $# targets, $total runs, no finding"
