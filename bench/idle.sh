#!/usr/bin/env bash
# Per-connection memory: N idle keep-alive connections (each after one request)
# to `serveHTTP` (scripts/serve.js) and to nginx `return 200`, and upstream
# Pipy's when PIPY_UPSTREAM is given. For each: resident memory per
# connection, and wrk's latency on 50 active connections with and without the
# idle ones held.
#
#   bench/idle.sh            # N=8000
#   N=2000 bench/idle.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-8000}
OUT=bench/out
mkdir -p "$OUT"
LOAD_CPU=${LOAD_CPU:-0}
SUBJECT_CPU=${SUBJECT_CPU:-1}
command -v nginx >/dev/null && command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light wrk >/dev/null; }
PIPY=target/release/pipy
[ -x "$PIPY" ] || cargo build --release -p pipy
ulimit -n $((N + 4096)) 2>/dev/null || true

cat > "$OUT/nginx-idle.conf" <<NGINX
worker_processes 1;
worker_rlimit_nofile $((N + 4096));
daemon off;
pid $PWD/$OUT/nginx-idle.pid;
error_log $PWD/$OUT/nginx-idle-error.log warn;
events { worker_connections $((N + 1024)); }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  server { listen 127.0.0.1:9002 backlog=4096; location / { return 200 "Hi, there!\n"; } }
}
NGINX

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }

taskset -c "$SUBJECT_CPU" nginx -c "$PWD/$OUT/nginx-idle.conf" -p "$PWD/$OUT" & PIDS+=($!)
taskset -c "$SUBJECT_CPU" "$PIPY" --threads=1 --log-level=warn bench/scripts/serve.js > "$OUT/idle-pipy.log" 2>&1 & PIDS+=($!); OURS=$!
if [ -n "${PIPY_UPSTREAM:-}" ]; then
  sed 's/\b9101\b/9201/' bench/scripts/serve.js > "$OUT/upstream-idle-serve.js"
  taskset -c "$SUBJECT_CPU" "$PIPY_UPSTREAM" --threads=1 --log-level=warn "$OUT/upstream-idle-serve.js" > "$OUT/idle-upstream.log" 2>&1 & PIDS+=($!); UP=$!
  wait_port 9201
fi
wait_port 9002; wait_port 9101
NGINX_WORKER=$(pgrep -f "nginx: worker" | while read -r p; do if grep -q "nginx-idle.conf" "/proc/$(awk '/PPid/ {print $2}' /proc/$p/status)/cmdline" 2>/dev/null; then echo "$p"; fi; done | head -1)

p99() { awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}'; }
rps() { awk '/Requests\/sec/ {print $2}'; }

{
  echo "idle keep-alive connections: N=$N; latency: wrk -t1 -c50 -d5s alone, then with the N held"
  printf '%-10s %10s %14s %12s %12s %12s %12s\n' subject conns bytes/conn p99_alone p99_held rps_alone rps_held
  for subject in nginx:9002:$NGINX_WORKER pipy:9101:$OURS ${UP:+upstream:9201:$UP}; do
    IFS=: read -r name port pid <<<"$subject"
    alone=$(taskset -c "$LOAD_CPU" wrk -t1 -c50 -d5s --latency "http://127.0.0.1:$port/")
    taskset -c "$LOAD_CPU" python3 bench/idle_conns.py "127.0.0.1:$port" "$pid" "$N" 8 > "$OUT/idle-$name.txt" &
    held_pid=$!
    for _ in $(seq 1 600); do grep -q per_connection "$OUT/idle-$name.txt" 2>/dev/null && break; sleep 0.1; done
    held=$(taskset -c "$LOAD_CPU" wrk -t1 -c50 -d5s --latency "http://127.0.0.1:$port/")
    wait "$held_pid"
    line=$(cat "$OUT/idle-$name.txt")
    conns=$(sed -n 's/.*connections=\([0-9]*\).*/\1/p' <<<"$line")
    per=$(sed -n 's/.*per_connection_bytes=\([0-9.]*\).*/\1/p' <<<"$line")
    printf '%-10s %10s %14s %12s %12s %12s %12s\n' "$name" "$conns" "$per" "$(p99 <<<"$alone")" "$(p99 <<<"$held")" "$(rps <<<"$alone")" "$(rps <<<"$held")"
  done
} | tee "$OUT/idle.txt"
