#!/usr/bin/env bash
# Wall time of `run` against `serve` at real windows, per limiter: the whole run divided by the
# window, then each stage's wall time and what its scenarios waited for (compliance.json's
# `scenarios[].stage`, `started_ms`, `duration_ms` and `waits`).
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

printf '%-8s %8s %10s %14s\n' limiter window "run (s)" "run / window"
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
print(f"{limiter:<8} {window:>8} {wall:>10.1f} {wall / float(secs):>14.2f}   (exit {code}, verdict {r['verdict']})")
stages = {}
for s in r["scenarios"]:
    stages.setdefault(s.get("stage", 0), []).append(s)
for stage in sorted(stages):
    ss = stages[stage]
    t0 = min(s.get("started_ms", 0) for s in ss)
    t1 = max(s.get("started_ms", 0) + s["duration_ms"] for s in ss)
    print(f"           stage {stage}: {t0 / 1000:6.1f} s to {t1 / 1000:6.1f} s ({(t1 - t0) / 1000:.1f} s, {len(ss)} scenarios)")
    for s in sorted(ss, key=lambda s: -s["duration_ms"]):
        waits = ", ".join(f"{w['reason']} {w['ms'] / 1000:.1f} s" for w in s.get("waits", []))
        if waits or s["duration_ms"] >= 1000:
            print(f"             {s['name']:<42} {s['duration_ms'] / 1000:6.1f} s  waited: {waits or 'nothing'}")
for t in r.get("timing", []):
    print(f"           timing screen: {t['status']}, {t['samples']} samples, {t['throttled']} throttled: {t['reason']}")
PY
done
