#!/usr/bin/env bash
# Transport benchmark: pipy (--threads=1) against nginx (1 worker), one run.
#
#   bench/transports.sh                  # 3 rounds of 10 s per scenario
#   ROUNDS=5 DURATION=20 bench/transports.sh
#
# Scenarios (load and upstream pinned to CPU 0, the server under test to CPU 1):
#   tls-proxy  acceptTLS->demuxHTTP->muxHTTP->connect  vs nginx `ssl` + proxy_pass
#              (wrk -t1 -c50 on https://, keep-alive; one ECDSA P-256 certificate)
#   h2         serveHTTP over HTTP/2 (prior knowledge)  vs nginx `http2` + return 200
#              (h2load -c10 -m10: 10 connections of 10 streams)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
OUT=bench/out
mkdir -p "$OUT"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk || ! need h2load || ! need openssl; then
  apt-get update -qq && apt-get install -y -qq nginx-light wrk nghttp2-client openssl >/dev/null
fi
PIPY=target/release/pipy
[ -x "$PIPY" ] || cargo build --release -p pipy

# A certificate for both servers.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$OUT/bench-key.pem" -out "$OUT/bench-cert.pem" 2>/dev/null
export BENCH_CERT_PEM BENCH_KEY_PEM
BENCH_CERT_PEM=$(cat "$OUT/bench-cert.pem")
BENCH_KEY_PEM=$(cat "$OUT/bench-key.pem")

cat > "$OUT/nginx-tx-upstream.conf" <<NGINX
worker_processes 1;
daemon off;
pid $PWD/$OUT/nginx-tx-upstream.pid;
error_log $PWD/$OUT/nginx-tx-upstream-error.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:9001; location / { return 200 "Hi, there!\n"; } } }
NGINX
cat > "$OUT/nginx-tx-peer.conf" <<NGINX
worker_processes 1;
daemon off;
pid $PWD/$OUT/nginx-tx-peer.pid;
error_log $PWD/$OUT/nginx-tx-peer-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  http2_max_requests 1000000;
  upstream backend { server 127.0.0.1:9001; keepalive 64; }
  server {
    listen 127.0.0.1:9011 ssl;
    ssl_certificate $PWD/$OUT/bench-cert.pem;
    ssl_certificate_key $PWD/$OUT/bench-key.pem;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server { listen 127.0.0.1:9012 http2; location / { return 200 "Hi, there!\n"; } }
}
NGINX

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
LOAD_CPU=${LOAD_CPU:-0}
SUBJECT_CPU=${SUBJECT_CPU:-1}
taskset -c "$LOAD_CPU" nginx -c "$PWD/$OUT/nginx-tx-upstream.conf" -p "$PWD/$OUT" & PIDS+=($!)
taskset -c "$SUBJECT_CPU" nginx -c "$PWD/$OUT/nginx-tx-peer.conf" -p "$PWD/$OUT" & PIDS+=($!)
taskset -c "$SUBJECT_CPU" "$PIPY" --threads=1 --log-level=warn bench/scripts/tls-proxy.js > "$OUT/tls-proxy.log" 2>&1 & PIDS+=($!); TLS_PID=$!
taskset -c "$SUBJECT_CPU" "$PIPY" --threads=1 --log-level=warn bench/scripts/h2.js > "$OUT/h2.log" 2>&1 & PIDS+=($!); H2_PID=$!
wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }
for p in 9001 9011 9012 9111 9112; do wait_port $p; done

# "req/s errors" of one run.
wrk_run() {
  local out
  out=$(taskset -c "$LOAD_CPU" wrk -t1 -c50 -d"${DURATION}s" "$1" 2>&1)
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "$out" | awk '/Socket errors/ {gsub(",",""); e=$4+$6+$8+$10} /Non-2xx/ {n=$4} END {print 0+e+n}')"
}
h2_run() {
  local out
  out=$(taskset -c "$LOAD_CPU" h2load -c10 -m10 -D"$DURATION" "$1" 2>&1)
  echo "$(echo "$out" | awk '/^finished in/ {gsub(",",""); print $4}') $(echo "$out" | awk '/^requests:/ {print $10+$12}')"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rss_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

declare -A RS E
CASES=(nginx-tls-proxy pipy-tls-proxy nginx-h2 pipy-h2)
for c in "${CASES[@]}"; do RS[$c]=""; E[$c]=0; done
run_case() {
  case $1 in
    nginx-tls-proxy) wrk_run https://127.0.0.1:9011/ ;;
    pipy-tls-proxy) wrk_run https://127.0.0.1:9111/ ;;
    nginx-h2) h2_run http://127.0.0.1:9012/ ;;
    pipy-h2) h2_run http://127.0.0.1:9112/ ;;
  esac
}
for c in "${CASES[@]}"; do DURATION=3 run_case "$c" >/dev/null || true; done
for round in $(seq 1 "$ROUNDS"); do
  for c in "${CASES[@]}"; do
    read -r r e < <(run_case "$c")
    RS[$c]+="$r "; E[$c]=$((E[$c] + ${e%.*}))
    echo "round $round $c: $r req/s, errors $e" >&2
  done
done
declare -A R
for c in "${CASES[@]}"; do R[$c]=$(printf '%s\n' ${RS[$c]} | median); done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
{
  echo "rounds=$ROUNDS duration=${DURATION}s, medians"
  printf '%-16s %12s %7s %9s %8s\n' scenario req/s errors rss_MiB ratio
  printf '%-16s %12s %7s %9s %8s\n' nginx-tls-proxy "${R[nginx-tls-proxy]}" "${E[nginx-tls-proxy]}" - -
  printf '%-16s %12s %7s %9s %8s\n' pipy-tls-proxy "${R[pipy-tls-proxy]}" "${E[pipy-tls-proxy]}" "$(rss_mb "$TLS_PID")" "$(ratio "${R[pipy-tls-proxy]}" "${R[nginx-tls-proxy]}")"
  printf '%-16s %12s %7s %9s %8s\n' nginx-h2 "${R[nginx-h2]}" "${E[nginx-h2]}" - -
  printf '%-16s %12s %7s %9s %8s\n' pipy-h2 "${R[pipy-h2]}" "${E[pipy-h2]}" "$(rss_mb "$H2_PID")" "$(ratio "${R[pipy-h2]}" "${R[nginx-h2]}")"
} | tee "$OUT/transports.txt"
