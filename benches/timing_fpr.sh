#!/usr/bin/env bash
# The timing test's false-positive rate and sensitivity against the embedded reference server.
#
#   benches/timing_fpr.sh [RUNS] [LEAKS...]
#
# 1. False positives: RUNS (default 20) `timing` runs against the faultless server (default
#    settings: 30 000 samples, 60 s budget), each with its own seed; counts verdicts, and prints
#    the smallest detectable leak each run reports.
# 2. Sensitivity: for each --leak-ns in LEAKS (default 100 50 20 10 5), one run against the
#    admin-timing-leak fault with a 60 s budget and up to 1 000 000 samples (sampling stops at
#    the first decision); prints the verdict and how long it took. The smallest leak-ns that
#    still fails is the figure.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
shift || true
leaks=("${@:-100 50 20 10 5}")
read -r -a leaks <<<"${leaks[*]}"
cargo build --release --quiet
bin=target/release/lelantos-conform
out=$(mktemp -d)
field() { python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['timing'][0]; print(t['status'], t['samples'], t.get('detectable_ns') or '-', t['duration_ms'])" "$1"; }

echo "== false positives: $runs faultless runs (30000 samples, 60 s budget)"
fails=0
for i in $(seq 1 "$runs"); do
  $bin timing --quiet --seed "$i" --report-dir "$out/fpr-$i" --format json >/dev/null 2>&1 || true
  read -r status n d ms < <(field "$out/fpr-$i/compliance.json")
  printf 'run %2d: %-12s samples %6s  detectable %8s ns  %6s ms\n' "$i" "$status" "$n" "$d" "$ms"
  [ "$status" = fail ] && fails=$((fails + 1))
done
echo "false positives: $fails / $runs"

echo "== sensitivity: admin-timing-leak, 60 s budget, up to 1000000 samples"
smallest=none
for l in "${leaks[@]}"; do
  $bin timing --quiet --seed 1 --fault admin-timing-leak --leak-ns "$l" --samples 1000000 --budget 60s \
    --report-dir "$out/leak-$l" --format json >/dev/null 2>&1 || true
  read -r status n d ms < <(field "$out/leak-$l/compliance.json")
  printf 'leak-ns %4s (%5s ns over the token): %-12s samples %7s  %6s ms\n' "$l" "$((l * 39))" "$status" "$n" "$ms"
  [ "$status" = fail ] && smallest=$l
done
echo "smallest --leak-ns detected: $smallest"
rm -rf "$out"
