#!/usr/bin/env bash
# What the swarm's accounting costs per request, in instructions (callgrind counts them the same
# whatever else the machine is doing, unlike seconds). Against the nginx static file of
# load_peers.sh, at 50 users, three clients run under callgrind for SHORT and LONG seconds each:
#   bare goose            one plain GET transaction (goose's own `user.get`)
#   bare goose, shaped    the swarm's request without its accounting: API-key header, named
#                         request, body read (examples/bare_goose.rs `shaped`)
#   lelantos-conform load benches/load-bench.yaml: the same request, every one accounted
# Instructions per request are the difference between the two runs divided by the difference in
# requests, so start-up, client set-up and report writing cancel out. User space only (callgrind
# does not see the kernel). Under callgrind a run makes a few hundred requests per second, so
# per-second work (the per-second histograms) weighs more per request than at full speed.
#   benches/load_instructions.sh [SHORT LONG]     (default 4 12; needs nginx and valgrind)
set -euo pipefail
SHORT=${1:-4}
LONG=${2:-12}
USERS=50
source "$(dirname "$0")/nginx_static.sh"
export LELANTOS_API_KEY=lel_bench

# count NAME SECS: runs the client under callgrind; prints "instructions requests".
count() {
  local name=$1 secs=$2 reqs
  case $name in
    plain | shaped)
      valgrind --tool=callgrind --callgrind-out-file="$TMP/cg" "$BARE" "$URL" $USERS "$secs" "$name" \
        > "$TMP/out" 2> "$TMP/err"
      reqs=$(grep -o '[0-9]* requests' "$TMP/out" | awk '{print $1}') ;;
    swarm)
      valgrind --tool=callgrind --callgrind-out-file="$TMP/cg" "$BIN" load -q --target "$URL" \
        --scenario benches/load-bench.yaml --duration "${secs}s" --report-dir "$TMP/report" \
        > "$TMP/out" 2> "$TMP/err" || true
      reqs=$(python3 -c "import json;print(json.load(open('$TMP/report/load.json'))['requests'])") ;;
  esac
  echo "$(grep -o 'Collected : [0-9]*' "$TMP/err" | awk '{print $3}') $reqs"
}

echo "| client | instructions/request (user space) | vs bare goose |"
echo "|---|---|---|"
base=
for name in plain shaped swarm; do
  read -r i1 r1 < <(count $name "$SHORT")
  read -r i2 r2 < <(count $name "$LONG")
  per=$(( (i2 - i1) / (r2 - r1) ))
  base=${base:-$per}
  label=$(case $name in plain) echo "bare goose";; shaped) echo "bare goose, shaped";; swarm) echo "lelantos-conform load";; esac)
  echo "| $label | $per | $(echo "scale=2; $per / $base" | bc) |"
done
