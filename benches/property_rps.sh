#!/usr/bin/env bash
# Requests per second the property runner reaches against the embedded reference server, beside
# the step runner's, from the scenarios' own counts in compliance.json (requests / duration of
# each scenario, summed per kind).
#
# The authentication scenarios are compared (no scenario of either kind waits there): the steps of
# scenarios/api-keys.yaml, access-tokens.yaml, admin-token.yaml and every-request.yaml, and the
# property scenarios of scenarios/properties.yaml but the rate-limit mixes (those send concurrent
# batches, shown apart). Each side runs alone, RUNS times (default 5), release build; prints the
# median of each.
set -euo pipefail
RUNS=${RUNS:-5}
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=./target/release/lelantos-conform
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

rate() { # dir kind [exclude-substring]
  python3 - "$1" "$2" "${3:-}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1] + "/compliance.json"))
req = ms = 0
for s in r["scenarios"]:
    if s["kind"] == sys.argv[2] and (not sys.argv[3] or sys.argv[3] not in s["name"]):
        req += s["requests"]; ms += s["duration_ms"]
print(f"{req / max(ms, 1) * 1000:.0f} {req} {ms}")
PY
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

steps=(); props=(); mixes=()
for i in $(seq "$RUNS"); do
  "$BIN" run -q --seed "$i" --format json --report-dir "$OUT/s$i" \
    --scenarios scenarios/api-keys.yaml --scenarios scenarios/access-tokens.yaml \
    --scenarios scenarios/admin-token.yaml --scenarios scenarios/every-request.yaml >/dev/null || true
  "$BIN" run -q --seed "$i" --format json --report-dir "$OUT/p$i" \
    --scenarios scenarios/properties.yaml >/dev/null || true
  steps+=("$(rate "$OUT/s$i" steps | cut -d' ' -f1)")
  props+=("$(rate "$OUT/p$i" property rate-limit-mixes | cut -d' ' -f1)")
  mixes+=("$(python3 - "$OUT/p$i" <<'PY'
import json, sys
r = json.load(open(sys.argv[1] + "/compliance.json"))
s = [x for x in r["scenarios"] if "rate-limit-mixes" in x["name"]][0]
print(f'{s["requests"] / max(s["duration_ms"], 1) * 1000:.0f}')
PY
)")
done
s=$(printf '%s\n' "${steps[@]}" | median)
p=$(printf '%s\n' "${props[@]}" | median)
m=$(printf '%s\n' "${mixes[@]}" | median)
echo "step runner (auth scenarios):           $s requests/s  (runs: ${steps[*]})"
echo "property runner (auth properties):      $p requests/s  (runs: ${props[*]})"
echo "property runner (rate-limit mixes):     $m requests/s  (runs: ${mixes[*]})"
python3 -c "print(f'property / step: {$p / max($s, 1):.2f}')"
