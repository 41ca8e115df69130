#!/usr/bin/env bash
# Wall time of `run` against `serve` at real windows, per limiter: the whole run divided by the
# window, and the rate-limit scenario's own time (where the waits for freshness, the refill
# check beside them, and Retry-After live).
#
#   benches/run_windows.sh [WINDOW] [LIMITERS...]      e.g. benches/run_windows.sh 60s fixed bucket
#
# Defaults: 60s, every limiter. BIN=path uses another build (default: a release build made here).
# Loopback only; each run is bounded by the harness's own waits (a few windows at most).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
WINDOW=${1:-60s}
shift || true
LIMITERS=("$@")
[ ${#LIMITERS[@]} -gt 0 ] || LIMITERS=(fixed sliding bucket gcra)
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --bin lelantos-conform
  BIN=target/release/lelantos-conform
fi
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
secs=$(python3 -c "import re,sys; m=re.fullmatch(r'(\d+)(ms|s|m)', sys.argv[1]); n=int(m[1]); print(n/1000 if m[2]=='ms' else n*60 if m[2]=='m' else n)" "$WINDOW")

printf '%-8s %8s %10s %14s %s\n' limiter window "run (s)" "run / window" "rate-limits.yaml#budgets (s)"
for limiter in "${LIMITERS[@]}"; do
  dir="$TMP/$limiter"
  mkdir -p "$dir"
  "$BIN" serve --addr 127.0.0.1:0 --window "$WINDOW" --limiter "$limiter" \
    --credentials-out "$dir/creds.json" > "$dir/serve.out" 2> "$dir/serve.err" &
  pid=$!
  for _ in $(seq 100); do grep -q '^listening on ' "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
  url=$(sed -n 's/^listening on //p' "$dir/serve.out")
  {
    echo "base_url: $url"
    echo "credentials:"
    for role in api_key api_key_other_team api_key_revoked email password admin_token jwt_secret other_team_sandbox; do
      echo "  $role: {file: creds.json, pointer: /$role}"
    done
    echo "rate_limits: {window: $WINDOW}"
  } > "$dir/profile.yaml"
  start=$(date +%s.%N)
  code=0
  "$BIN" run --profile "$dir/profile.yaml" --quiet --format json --report-dir "$dir/report" > /dev/null 2> "$dir/run.err" || code=$?
  end=$(date +%s.%N)
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  python3 - "$dir/report/compliance.json" "$limiter" "$WINDOW" "$secs" "$start" "$end" "$code" <<'PY'
import json, sys
path, limiter, window, secs, start, end, code = sys.argv[1:]
wall = float(end) - float(start)
r = json.load(open(path))
budgets = next((s["duration_ms"] / 1000 for s in r["scenarios"] if s["name"] == "rate-limits.yaml#budgets"), float("nan"))
print(f"{limiter:<8} {window:>8} {wall:>10.1f} {wall / float(secs):>14.2f} {budgets:.1f}   (exit {code}, verdict {r['verdict']})")
PY
done
