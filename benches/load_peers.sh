#!/usr/bin/env bash
# Requests/s of `lelantos-conform load` beside its peers, in one run, against the same target: a
# static file served by nginx on loopback (one worker, keep-alive), all at 50 users/connections.
#   benches/load_peers.sh [SECONDS]        (default 10; needs nginx and wrk; oha and locust if present)
# `bare goose, shaped` sends the swarm's request (API-key header, named, body read) without its
# accounting, so the rows show what the request costs and what the accounting adds.
#   ROUNDS=N (default 3): every client runs N times, interleaved (wrk, oha, locust, bare goose,
#   swarm, then again), so a slow spell on this shared machine hits all of them; the table gives
#   each client's median, and the swarm's ratio to bare goose is taken within each round (paired)
#   before its median. Install the peers with `apt-get install nginx wrk`, `pip install locust`,
#   `cargo install oha --locked` (--locked: its newest dependencies may need a newer rustc).
# Also: CPU µs per request (user+sys from /usr/bin/time, startup and report writing included) and
# peak RSS of each client, and a long run of the swarm (LONG=1: a million requests) for the RSS
# ceiling.
set -euo pipefail
SECS=${1:-10}
USERS=50
source "$(dirname "$0")/nginx_static.sh"

ROUNDS=${ROUNDS:-3}
# timed COMMAND...: runs it, leaves its output in $TMP/out and "user sys max_rss_kib" in $TMP/t.
timed() {
  /usr/bin/time -f '%U %S %M' -o "$TMP/time" "$@" > "$TMP/out" 2>&1 || true
  # The last line: /usr/bin/time puts "Command exited with non-zero status" lines before it.
  tail -n1 "$TMP/time" > "$TMP/t"
}
# record NAME REQUESTS: appends "NAME rps cpu_us rss_mib" for this round to $TMP/rows.
record() {
  local name=$1 reqs=${2:-0} u s rss
  read -r u s rss < "$TMP/t"
  if [ -z "$reqs" ] || [ "$reqs" -le 0 ]; then echo "$name: no requests reported" >&2; return; fi
  echo "$name $((reqs / SECS)) $(echo "($u+$s)*1000000/$reqs" | bc) $((rss / 1024))" >> "$TMP/rows"
}

if locust --version > /dev/null 2>&1; then
  cat > "$TMP/locustfile.py" <<PY
from locust import FastHttpUser, task
class U(FastHttpUser):
    @task
    def get(self):
        self.client.get("/sandboxes")
PY
fi
export LELANTOS_API_KEY=lel_bench
: > "$TMP/rows"
for round in $(seq "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  timed wrk -t2 -c$USERS -d${SECS}s "$URL/sandboxes"
  record wrk "$(grep -o '^ *[0-9]* requests' "$TMP/out" | awk '{print $1}')"

  if oha --version > /dev/null 2>&1; then
    timed oha --no-tui -c $USERS -z ${SECS}s --output-format json "$URL/sandboxes"
    record oha "$(python3 -c "import json;d=json.load(open('$TMP/out'));print(sum(d['statusCodeDistribution'].values()))" 2>/dev/null || echo 0)"
  fi

  if [ -f "$TMP/locustfile.py" ]; then
    timed locust -f "$TMP/locustfile.py" --headless -u $USERS -r $USERS -t ${SECS}s -H "$URL" --csv "$TMP/locust"
    record "locust(FastHttpUser)" "$(awk -F, '$2=="Aggregated"{print $3}' "$TMP/locust_stats.csv" 2>/dev/null || echo 0)"
  fi

  timed "$BARE" "$URL" $USERS $SECS plain
  record bare_goose "$(grep -o '[0-9]* requests' "$TMP/out" | awk '{print $1}')"

  timed "$BARE" "$URL" $USERS $SECS shaped
  record bare_goose,_shaped "$(grep -o '[0-9]* requests' "$TMP/out" | awk '{print $1}')"

  timed "$BIN" load -q --target "$URL" --scenario benches/load-bench.yaml --duration ${SECS}s --report-dir "$TMP/report"
  record lelantos-conform_load "$(python3 -c "import json;print(json.load(open('$TMP/report/load.json'))['requests'])")"
done

python3 - "$TMP/rows" "$ROUNDS" "$SECS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
rounds, secs = sys.argv[2], sys.argv[3]
order = []
by = {}
for name, rps, cpu, rss in rows:
    if name not in by:
        order.append(name)
        by[name] = []
    by[name].append((int(rps), int(cpu), int(rss)))
print(f"{rounds} rounds of {secs} s, interleaved; medians, with every round's requests/s")
print()
print("| client | requests/s | CPU µs/request | peak RSS MiB | rounds (req/s) |")
print("|---|---|---|---|---|")
for name in order:
    v = by[name]
    med = lambda i: int(statistics.median(x[i] for x in v))
    print(f"| {name.replace('_', ' ')} | {med(0):,} | {med(1)} | {med(2)} | {', '.join(f'{x[0]:,}' for x in v)} |")
swarm, bare = by.get("lelantos-conform_load", []), by.get("bare_goose", [])
if swarm and bare:
    paired = [s[0] / b[0] for s, b in zip(swarm, bare)]
    print()
    print("swarm / bare goose, per round: " + ", ".join(f"{r:.2f}" for r in paired)
          + f"; median {statistics.median(paired):.2f}")
    print(f"CPU µs/request, swarm minus bare goose (median): "
          f"{statistics.median(s[1] - b[1] for s, b in zip(swarm, bare))}")
    for peer in ("wrk", "oha", "locust(FastHttpUser)"):
        if peer in by:
            r = [s[0] / p[0] for s, p in zip(swarm, by[peer])]
            print(f"swarm / {peer} (median of rounds): {statistics.median(r):.2f}")
PY

if [ "${LONG:-0}" = 1 ]; then
  # Long enough for a million requests at the rate just measured.
  reqs=$(awk '$1=="lelantos-conform_load"{print $2}' "$TMP/rows" | sort -n | head -n1)
  long=$(( 1000000 / reqs + 2 ))
  timed "$BIN" load -q --target "$URL" --scenario benches/load-bench.yaml --duration ${long}s --report-dir "$TMP/report-long"
  read -r u s rss < "$TMP/t"
  reqs=$(python3 -c "import json;print(json.load(open('$TMP/report-long/load.json'))['requests'])")
  echo "long run: $reqs requests in ${long}s, peak RSS $((rss / 1024)) MiB"
fi
