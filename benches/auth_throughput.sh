#!/usr/bin/env bash
# Throughput and memory of the reference server's auth + rate-limit path, over loopback only.
#
# 1. Throughput: `GET list_sandboxes` with wrk against a bare axum handler (examples/bare_server.rs:
#    same axum, same JSON shape, no auth) and against `serve --window 60s --identities N`, the
#    X-API-Key header rotating over the N provisioned keys (benches/rotate_keys.lua). Both servers
#    get the same script, so the client does the same work. Prints req/s, p99 and the ratio.
#    With 60 s windows each key may make `general` limit requests a minute; the keys are walked in
#    turn, so a key repeats only after N requests. Non-2xx answers (429s) are counted separately.
# 2. Memory: for each limiter of MEMORY_LIMITERS, a server with a window (MEMORY_WINDOW_SECS)
#    longer than one walk over all N keys; once every identity has made a request (all their
#    states alive at once), the peak RSS (VmHWM) and current RSS; then, after one window and a
#    sweep with no traffic, the limiter's state count and RSS again (they must fall back).
#
# Environment: IDENTITIES (default 1000000), DURATION (wrk run, default 10s), ROUNDS (default 3),
# THREADS (wrk threads, default 1), CONNECTIONS (default 64), MEMORY_LIMITERS (default
# "fixed sliding"), MEMORY_WINDOW_SECS (default 120). Installs wrk with apt-get when it is missing.
set -euo pipefail

IDENTITIES=${IDENTITIES:-1000000}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-3}
MEMORY_LIMITERS=${MEMORY_LIMITERS:-fixed sliding}
MEMORY_WINDOW_SECS=${MEMORY_WINDOW_SECS:-120}
WINDOW_SECS=60

cd "$(dirname "$0")/.."
ROOT=$(pwd)

if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --quiet --bin lelantos-conform --example bare_server
BIN=$ROOT/target/release/lelantos-conform
BARE=$ROOT/target/release/examples/bare_server

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK" # holds the generated credentials
}
trap cleanup EXIT

# The header and path come from the spec, like everything else the contract fixes.
spec_value() { # spec_value SECTION KEY: the first `KEY:` under `  SECTION:` in specs/lelantos.yaml
  awk -v s="  $1:" -v k="$2:" '$0 ~ "^"s {f=1; next} f && $1 == k {print $2; exit}' specs/lelantos.yaml
}
HEADER=$(spec_value api_key header)
PATH_=$(spec_value list_sandboxes path)

wait_listening() { # wait_listening FILE: prints the address once FILE says `listening on`
  for _ in $(seq 1 1200); do
    if grep -q '^listening on http://' "$1" 2>/dev/null; then
      sed -n 's#^listening on http://##p' "$1" | head -1
      return 0
    fi
    sleep 0.1
  done
  echo "server did not start; its output:" >&2
  cat "$1" >&2
  return 1
}

rss() { # rss PID FIELD: kB of VmRSS or VmHWM
  awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"
}
mib() { echo "$(($1 / 1024)) MiB"; }

run_wrk() { # run_wrk URL DURATION OUT [START]: START is the index of the first key to send
  wrk -t "$THREADS" -c "$CONNECTIONS" -d "$2" --latency -s benches/rotate_keys.lua "$1" \
    -- "$WORK/keys.txt" "$HEADER" "$THREADS" "${4:-0}" >"$3"
}
rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
p99() { awk '$1 == "99%" {print $2}' "$1"; }
non2xx() { awk '/Non-2xx or 3xx responses:/ {print $5}' "$1" | grep . || echo 0; }
total() { awk '/requests in/ {print $1}' "$1"; }

echo "== reference server: serve --window ${WINDOW_SECS}s --identities $IDENTITIES"
t0=$(date +%s.%N)
"$BIN" serve --addr 127.0.0.1:0 --window "${WINDOW_SECS}s" --identities "$IDENTITIES" \
  --credentials-out "$WORK/creds.json" >"$WORK/ref.out" 2>"$WORK/ref.err" &
REF_PID=$!
PIDS+=("$REF_PID")
REF_ADDR=$(wait_listening "$WORK/ref.out")
t1=$(date +%s.%N)
echo "started in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s; RSS $(mib "$(rss "$REF_PID" VmRSS)"), peak so far $(mib "$(rss "$REF_PID" VmHWM)")"
python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["extra_api_keys"]))' \
  "$WORK/creds.json" >"$WORK/keys.txt"

echo "== bare axum handler"
"$BARE" --addr 127.0.0.1:0 >"$WORK/bare.out" 2>&1 &
BARE_PID=$!
PIDS+=("$BARE_PID")
BARE_ADDR=$(wait_listening "$WORK/bare.out")

echo "== throughput: wrk -t$THREADS -c$CONNECTIONS -d$DURATION GET $PATH_, $HEADER rotating over $IDENTITIES keys"
echo "   $ROUNDS alternating rounds per server (loopback on a shared machine is noisy): medians"
run_wrk "http://$BARE_ADDR$PATH_" 2s "$WORK/warm-bare.txt"
run_wrk "http://$REF_ADDR$PATH_" 2s "$WORK/warm-ref.txt"
for round in $(seq 1 "$ROUNDS"); do
  run_wrk "http://$BARE_ADDR$PATH_" "$DURATION" "$WORK/bare-$round.txt"
  run_wrk "http://$REF_ADDR$PATH_" "$DURATION" "$WORK/ref-$round.txt"
  printf '   round %s: bare %s req/s (p99 %s), reference %s req/s (p99 %s, non-2xx %s of %s)\n' "$round" \
    "$(rps "$WORK/bare-$round.txt")" "$(p99 "$WORK/bare-$round.txt")" \
    "$(rps "$WORK/ref-$round.txt")" "$(p99 "$WORK/ref-$round.txt")" \
    "$(non2xx "$WORK/ref-$round.txt")" "$(total "$WORK/ref-$round.txt")"
done
kill "$BARE_PID"
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
to_ms() { awk '{v = $1; if (v ~ /us$/) {sub(/us$/, "", v); v /= 1000} else if (v ~ /ms$/) {sub(/ms$/, "", v)} else if (v ~ /s$/) {sub(/s$/, "", v); v *= 1000}; print v}'; }
B=$(for f in "$WORK"/bare-*.txt; do rps "$f"; done | median)
R=$(for f in "$WORK"/ref-*.txt; do rps "$f"; done | median)
BP=$(for f in "$WORK"/bare-*.txt; do p99 "$f" | to_ms; done | median)
RP=$(for f in "$WORK"/ref-*.txt; do p99 "$f" | to_ms; done | median)
N2=$(for f in "$WORK"/ref-*.txt; do non2xx "$f"; done | awk '{s += $1} END {print s}')
NT=$(for f in "$WORK"/ref-*.txt; do total "$f"; done | awk '{s += $1} END {print s}')
printf '%-10s %10.0f req/s  p99 %6.2f ms\n' bare "$B" "$BP"
printf '%-10s %10.0f req/s  p99 %6.2f ms  (429 and other non-2xx: %s of %s requests)\n' reference "$R" "$RP" "$N2" "$NT"
echo "ratio reference/bare: $(awk -v r="$R" -v b="$B" 'BEGIN {printf "%.3f", r / b}')"

kill "$REF_PID"

# Memory: a server per limiter with a window longer than the walk over all keys, so every
# identity's state is alive at once at the end of the walk (the worst case).
for limiter in $MEMORY_LIMITERS; do
  echo "== memory ($limiter limiter, window ${MEMORY_WINDOW_SECS}s): every one of the $IDENTITIES identities makes a request"
  "$BIN" serve --addr 127.0.0.1:0 --window "${MEMORY_WINDOW_SECS}s" --limiter "$limiter" \
    --identities "$IDENTITIES" --credentials-out "$WORK/creds.json" >"$WORK/mem.out" 2>"$WORK/mem.err" &
  MEM_PID=$!
  PIDS+=("$MEM_PID")
  MEM_ADDR=$(wait_listening "$WORK/mem.out")
  python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["extra_api_keys"]))' \
    "$WORK/creds.json" >"$WORK/keys.txt"
  echo "   after start: RSS $(mib "$(rss "$MEM_PID" VmRSS)"), peak $(mib "$(rss "$MEM_PID" VmHWM)")"
  # Walk the keys in passes that continue one another until every key was sent once.
  sent=0
  for pass in 1 2 3 4 5 6; do
    [ "$sent" -ge "$IDENTITIES" ] && break
    secs=$(awk -v n="$((IDENTITIES - sent))" -v r="$R" 'BEGIN {printf "%d", n / r * 1.1 + 2}')
    run_wrk "http://$MEM_ADDR$PATH_" "${secs}s" "$WORK/walk.txt" "$sent"
    sent=$((sent + $(total "$WORK/walk.txt")))
    echo "   walk pass $pass: $(total "$WORK/walk.txt") requests in ${secs}s, non-2xx $(non2xx "$WORK/walk.txt")"
  done
  sleep 6 # the server logs its state count every 5 s
  echo "   limiter: $(grep -o '[0-9]* identity states' "$WORK/mem.err" | tail -1)"
  echo "   after the walk: RSS $(mib "$(rss "$MEM_PID" VmRSS)"), peak (VmHWM) $(mib "$(rss "$MEM_PID" VmHWM)")"
  # Idle: the states expire one window after their last request; the sweep runs every 30 s.
  deadline=$((SECONDS + MEMORY_WINDOW_SECS + 60))
  while [ $SECONDS -lt $deadline ]; do
    sleep 5
    last=$(grep -o '[0-9]* identity states' "$WORK/mem.err" | tail -1 | cut -d' ' -f1)
    [ "${last:-1}" = 0 ] && break
  done
  echo "   idle: limiter $(grep -o '[0-9]* identity states' "$WORK/mem.err" | tail -1), RSS $(mib "$(rss "$MEM_PID" VmRSS)")"
  kill "$MEM_PID"
done
