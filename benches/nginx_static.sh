# Sourced by the load benchmarks: builds the release binaries, serves a static file with nginx on
# loopback (one worker, keep-alive, configured in a temp dir) and sets TMP, URL, BIN and BARE.
# The caller sets PORT (optional) and runs `set -euo pipefail` first.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PORT=${PORT:-18089}
TMP=$(mktemp -d)
trap 'kill $(cat "$TMP/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$TMP"' EXIT

# PROFILE=debug only checks the scripts themselves; the figures are release builds'.
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
