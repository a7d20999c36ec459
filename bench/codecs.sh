#!/usr/bin/env bash
# Codec benchmark: pipy (--threads=1) against nginx (1 worker), one run.
#
#   bench/codecs.sh                  # 3 rounds of 10 s per scenario
#   ROUNDS=5 DURATION=20 bench/codecs.sh
#
# Scenarios (load and backend pinned to CPU 0, the server under test to CPU 1):
#   gzip       demuxHTTP + compressHTTP('gzip') of a 17 KiB text  vs nginx
#              serving the same text from a file with `gzip on` (level 6, as
#              pipy's): wrk -t1 -c50 with Accept-Encoding: gzip
#   ws-proxy   a WebSocket proxied by demuxHTTP->muxHTTP->connect vs nginx
#              proxy_pass with proxy_http_version 1.1 and the upgrade
#              headers; the backend is pipy's decode/encodeWebSocket echo;
#              the load is Python websockets: 16 connections, 64-byte
#              messages, one in flight per connection (the client bounds the
#              rate; the ratio compares the proxies under the same client)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
OUT=bench/out
mkdir -p "$OUT"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk; then
  apt-get update -qq && apt-get install -y -qq nginx-light wrk >/dev/null
fi
python3 -c 'import websockets' 2>/dev/null || python3 -m pip install -q websockets || python3 -m pip install -q --break-system-packages websockets
PIPY=target/release/pipy
[ -x "$PIPY" ] || cargo build --release -p pipy

TEXT=$(python3 -c "print('pipy compresses this line of text. ' * 512, end='')")
mkdir -p "$OUT/gzip-root"
printf '%s' "$TEXT" > "$OUT/gzip-root/text.txt"
cat > "$OUT/nginx-codecs.conf" <<NGINX
worker_processes 1;
daemon off;
pid $PWD/$OUT/nginx-codecs.pid;
error_log $PWD/$OUT/nginx-codecs-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:9021;
    gzip on; gzip_comp_level 6; gzip_min_length 0; gzip_types text/plain;
    default_type text/plain;
    root $PWD/$OUT/gzip-root;
    location / { try_files /text.txt =404; }
  }
  server {
    listen 127.0.0.1:9013;
    location / {
      proxy_pass http://127.0.0.1:9003;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
    }
  }
}
NGINX

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
LOAD_CPU=${LOAD_CPU:-0}
SUBJECT_CPU=${SUBJECT_CPU:-1}
taskset -c "$LOAD_CPU" "$PIPY" --threads=1 --log-level=warn bench/scripts/ws-echo.js > "$OUT/ws-echo.log" 2>&1 & PIDS+=($!)
taskset -c "$SUBJECT_CPU" nginx -c "$PWD/$OUT/nginx-codecs.conf" -p "$PWD/$OUT" & PIDS+=($!)
taskset -c "$SUBJECT_CPU" "$PIPY" --threads=1 --log-level=warn bench/scripts/compress-http.js > "$OUT/compress-http.log" 2>&1 & PIDS+=($!); GZ_PID=$!
taskset -c "$SUBJECT_CPU" "$PIPY" --threads=1 --log-level=warn bench/scripts/ws-proxy.js > "$OUT/ws-proxy.log" 2>&1 & PIDS+=($!); WS_PID=$!
wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }
for p in 9003 9013 9021 9113 9121; do wait_port $p; done

# "rate errors" of one run.
wrk_run() {
  local out
  out=$(taskset -c "$LOAD_CPU" wrk -t1 -c50 -d"${DURATION}s" -H 'Accept-Encoding: gzip' "$1" 2>&1)
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "$out" | awk '/Socket errors/ {gsub(",",""); e=$4+$6+$8+$10} /Non-2xx/ {n=$4} END {print 0+e+n}')"
}
ws_run() { taskset -c "$LOAD_CPU" python3 bench/ws_load.py "$1" 16 "$DURATION"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rss_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

# The two answers are the same text, gzipped.
for port in 9021 9121; do
  got=$(curl -s --compressed "http://127.0.0.1:$port/")
  [ "$got" = "$TEXT" ] || { echo "port $port answers something else" >&2; exit 1; }
done

declare -A RS E
CASES=(nginx-gzip pipy-gzip nginx-ws-proxy pipy-ws-proxy)
for c in "${CASES[@]}"; do RS[$c]=""; E[$c]=0; done
run_case() {
  case $1 in
    nginx-gzip) wrk_run http://127.0.0.1:9021/ ;;
    pipy-gzip) wrk_run http://127.0.0.1:9121/ ;;
    nginx-ws-proxy) ws_run ws://127.0.0.1:9013/ ;;
    pipy-ws-proxy) ws_run ws://127.0.0.1:9113/ ;;
  esac
}
for c in "${CASES[@]}"; do DURATION=2 run_case "$c" >/dev/null || true; done
for round in $(seq 1 "$ROUNDS"); do
  for c in "${CASES[@]}"; do
    read -r r e < <(run_case "$c")
    RS[$c]+="$r "; E[$c]=$((E[$c] + ${e%.*}))
    echo "round $round $c: $r /s, errors $e" >&2
  done
done
declare -A R
for c in "${CASES[@]}"; do R[$c]=$(printf '%s\n' ${RS[$c]} | median); done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
{
  echo "rounds=$ROUNDS duration=${DURATION}s, medians (gzip: req/s; ws-proxy: messages/s)"
  printf '%-16s %12s %7s %9s %8s\n' scenario rate errors rss_MiB ratio
  printf '%-16s %12s %7s %9s %8s\n' nginx-gzip "${R[nginx-gzip]}" "${E[nginx-gzip]}" - -
  printf '%-16s %12s %7s %9s %8s\n' pipy-gzip "${R[pipy-gzip]}" "${E[pipy-gzip]}" "$(rss_mb "$GZ_PID")" "$(ratio "${R[pipy-gzip]}" "${R[nginx-gzip]}")"
  printf '%-16s %12s %7s %9s %8s\n' nginx-ws-proxy "${R[nginx-ws-proxy]}" "${E[nginx-ws-proxy]}" - -
  printf '%-16s %12s %7s %9s %8s\n' pipy-ws-proxy "${R[pipy-ws-proxy]}" "${E[pipy-ws-proxy]}" "$(rss_mb "$WS_PID")" "$(ratio "${R[pipy-ws-proxy]}" "${R[nginx-ws-proxy]}")"
} | tee "$OUT/codecs.txt"
