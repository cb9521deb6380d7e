#!/bin/bash
# run.sh - every benchmark; results go to docs/performance.md by hand.
set -eu
cd "$(dirname "$0")/.."
: "${BDEKEY:?}"
/usr/bin/python3 bench/check.py "$BDEKEY"
for b in bench/ad.sh bench/graph.sh bench/volume.sh bench/keyvault.sh \
    bench/report-ad.sh bench/report-graph.sh; do
	[ -f "$b" ] && bash "$b"
done
