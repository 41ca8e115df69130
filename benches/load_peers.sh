#!/usr/bin/env bash
# Requests/s of `lelantos-conform load` beside its peers, in one run, against the same target: a
# static file served by nginx on loopback (one worker, keep-alive), all at 50 users/connections.
#   benches/load_peers.sh [SECONDS]        (default 10; needs nginx and wrk; oha and locust if present)
# Also: CPU seconds per request (user+sys from /usr/bin/time) and peak RSS of each client, and a
# long run of the swarm (LONG=1: a million requests) for the RSS ceiling.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
USERS=50
PORT=${PORT:-18089}
TMP=$(mktemp -d)
trap 'kill $(cat "$TMP/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$TMP"' EXIT

# PROFILE=debug only checks the script itself; the figures are release builds'.
PROFILE=${PROFILE:-release}
if [ "$PROFILE" = release ]; then
  cargo build --release --quiet --bin lelantos-conform --example bare_goose
else
  cargo build --quiet --bin lelantos-conform --example bare_goose
fi
BIN=target/$PROFILE/lelantos-conform
BARE=target/$PROFILE/examples/bare_goose

mkdir -p "$TMP/www" "$TMP/logs"
echo '{"sandboxes":[]}' > "$TMP/www/sandboxes"
cat > "$TMP/nginx.conf" <<CONF
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path $TMP/logs;
  proxy_temp_path $TMP/logs;
  fastcgi_temp_path $TMP/logs;
  uwsgi_temp_path $TMP/logs;
  scgi_temp_path $TMP/logs;
  server {
    listen 127.0.0.1:$PORT;
    root $TMP/www;
    default_type application/json;
  }
}
CONF
nginx -c "$TMP/nginx.conf" -p "$TMP"
sleep 0.5
URL="http://127.0.0.1:$PORT"

# measure NAME COMMAND...: prints "NAME requests seconds cpu_seconds max_rss_kib" via /usr/bin/time.
row() { printf '| %s | %s | %s | %s |\n' "$@"; }
# result NAME REQUESTS USER SYS RSS_KIB: one table row (n/a when the client reported nothing).
result() {
  local name=$1 reqs=${2:-0} u=$3 s=$4 rss=$5
  if [ -z "$reqs" ] || [ "$reqs" -le 0 ]; then row "$name" n/a n/a n/a; return; fi
  row "$name" "$((reqs / SECS))" "$(echo "($u+$s)*1000000/$reqs" | bc)" "$((rss / 1024))"
}
timed() {
  local name=$1; shift
  /usr/bin/time -f '%U %S %M' -o "$TMP/time" "$@" > "$TMP/out" 2>&1 || true
  # The last line: /usr/bin/time puts "Command exited with non-zero status" lines before it.
  read -r u s rss < <(tail -n1 "$TMP/time")
  echo "$name $u $s $rss"
}

echo "| client | requests/s | CPU µs/request | peak RSS MiB |"
echo "|---|---|---|---|"

# wrk
timed wrk wrk -t2 -c$USERS -d${SECS}s "$URL/sandboxes" > "$TMP/t"
read -r _ u s rss < "$TMP/t"
reqs=$(grep -o '^ *[0-9]* requests' "$TMP/out" | awk '{print $1}')
result wrk "$reqs" "$u" "$s" "$rss"

if oha --version > /dev/null 2>&1; then
  timed oha oha --no-tui -c $USERS -z ${SECS}s --output-format json "$URL/sandboxes" > "$TMP/t"
  read -r _ u s rss < "$TMP/t"
  reqs=$(python3 -c "import json;d=json.load(open('$TMP/out'));print(sum(d['statusCodeDistribution'].values()))" 2>/dev/null || echo 0)
  result oha "$reqs" "$u" "$s" "$rss"
fi

if locust --version > /dev/null 2>&1; then
  cat > "$TMP/locustfile.py" <<PY
from locust import FastHttpUser, task
class U(FastHttpUser):
    @task
    def get(self):
        self.client.get("/sandboxes")
PY
  timed locust locust -f "$TMP/locustfile.py" --headless -u $USERS -r $USERS -t ${SECS}s -H "$URL" --csv "$TMP/locust" > "$TMP/t"
  read -r _ u s rss < "$TMP/t"
  reqs=$(awk -F, '$2=="Aggregated"{print $3}' "$TMP/locust_stats.csv" 2>/dev/null || echo 0)
  result "locust (FastHttpUser)" "$reqs" "$u" "$s" "$rss"
fi

timed bare_goose "$BARE" "$URL" $USERS $SECS > "$TMP/t"
read -r _ u s rss < "$TMP/t"
reqs=$(grep -o '[0-9]* requests' "$TMP/out" | awk '{print $1}')
result "bare goose" "$reqs" "$u" "$s" "$rss"

export LELANTOS_API_KEY=lel_bench
timed swarm "$BIN" load -q --target "$URL" --scenario benches/load-bench.yaml --duration ${SECS}s --report-dir "$TMP/report" > "$TMP/t"
read -r _ u s rss < "$TMP/t"
reqs=$(python3 -c "import json;print(json.load(open('$TMP/report/load.json'))['requests'])")
result "lelantos-conform load" "$reqs" "$u" "$s" "$rss"

if [ "${LONG:-0}" = 1 ]; then
  # Long enough for a million requests at the rate just measured.
  long=$(( 1000000 / (reqs / SECS) + 2 ))
  timed swarm-long "$BIN" load -q --target "$URL" --scenario benches/load-bench.yaml --duration ${long}s --report-dir "$TMP/report-long" > "$TMP/t"
  read -r _ u s rss < "$TMP/t"
  reqs=$(python3 -c "import json;print(json.load(open('$TMP/report-long/load.json'))['requests'])")
  echo "long run: $reqs requests in ${long}s, peak RSS $((rss / 1024)) MiB"
fi
