#!/usr/bin/env bash
# CPU cost per request, less at the mercy of this machine's noise than req/s:
# for each server (pipy, nginx, and upstream Pipy when PIPY_UPSTREAM is given)
# and scenario (serve, proxy, routing as in run.sh):
#   cpu_us/req  the server's CPU time (perf stat task-clock: user and kernel)
#               over the requests wrk completed in that time
#   Ir/req      user-space instructions per request under callgrind (CALLGRIND=1;
#               nginx runs without its master process there)
# This machine has no hardware counters for perf (a VM), hence task-clock and
# callgrind rather than cycles.
#
#   bench/cpu.sh
#   CALLGRIND=1 PIPY_UPSTREAM=/path/to/pipy bench/cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/out
mkdir -p "$OUT"
LOAD_CPU=${LOAD_CPU:-0}
SUBJECT_CPU=${SUBJECT_CPU:-1}
DURATION=${DURATION:-5}
PIPY=${PIPY:-target/release/pipy}
command -v nginx >/dev/null && command -v wrk >/dev/null && command -v perf >/dev/null ||
  { apt-get update -qq && apt-get install -y -qq nginx-light wrk linux-perf valgrind >/dev/null; }
[ -x "$PIPY" ] || cargo build --release -p pipy

# shellcheck source=bench/nginx.sh
. bench/nginx.sh
nginx_conf cpu-upstream on "$UPSTREAM_SERVER"
# One process (no master): perf and callgrind then watch the worker itself.
nginx_conf cpu-peer off "$PEER_SERVERS"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 600); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.1; done; echo "port $1 not up" >&2; exit 1; }
taskset -c "$LOAD_CPU" nginx -c "$PWD/$OUT/nginx-cpu-upstream.conf" -p "$PWD/$OUT" & PIDS+=($!)
wait_port 9001

# The subjects: name, port, path, command (started on the subject's CPU).
SUBJECTS=(
  "nginx-return|9002|/|nginx -c $PWD/$OUT/nginx-cpu-peer.conf -p $PWD/$OUT"
  "nginx-proxy|9003|/|nginx -c $PWD/$OUT/nginx-cpu-peer.conf -p $PWD/$OUT"
  "pipy-serve|9101|/|$PIPY --threads=1 --log-level=warn bench/scripts/serve.js"
  "pipy-proxy|9102|/|$PIPY --threads=1 --log-level=warn bench/scripts/proxy.js"
  "pipy-routing|9103|/hi/there|$PIPY --threads=1 --log-level=warn bench/scripts/routing.js"
)
if [ -n "${PIPY_UPSTREAM:-}" ]; then
  for s in serve proxy routing; do sed 's/\b910\([123]\)\b/920\1/' "bench/scripts/$s.js" > "$OUT/upstream-$s.js"; done
  SUBJECTS+=(
    "up-serve|9201|/|$PIPY_UPSTREAM --threads=1 --log-level=warn $OUT/upstream-serve.js"
    "up-proxy|9202|/|$PIPY_UPSTREAM --threads=1 --log-level=warn $OUT/upstream-proxy.js"
    "up-routing|9203|/hi/there|$PIPY_UPSTREAM --threads=1 --log-level=warn $OUT/upstream-routing.js"
  )
fi

cpu_per_request() { # port path cmd -> "cpu_us/req req/s"
  local port=$1 path=$2 cmd=$3
  # shellcheck disable=SC2086
  taskset -c "$SUBJECT_CPU" $cmd > "$OUT/cpu-subject.log" 2>&1 &
  local pid=$!
  wait_port "$port"
  taskset -c "$LOAD_CPU" wrk -t1 -c50 -d2s "http://127.0.0.1:$port$path" >/dev/null
  perf stat -x, -e task-clock -p "$pid" -o "$OUT/cpu-perf.txt" -- sleep "$DURATION" &
  local perf=$!
  local n
  n=$(taskset -c "$LOAD_CPU" wrk -t1 -c50 -d"$DURATION"s "http://127.0.0.1:$port$path" | awk '/requests in/ {print $1}')
  wait "$perf"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local ms
  ms=$(awk -F, '/task-clock/ {print $1}' "$OUT/cpu-perf.txt")
  awk -v ms="$ms" -v n="$n" -v d="$DURATION" 'BEGIN {printf "%.2f %.0f\n", ms * 1000 / n, n / d}'
}

instructions_per_request() { # port path cmd -> Ir/req
  local port=$1 path=$2 cmd=$3 out="$OUT/cpu-callgrind"
  rm -f "$out".*
  # shellcheck disable=SC2086
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" $cmd > "$OUT/cpu-callgrind.log" 2>&1 &
  local pid=$!
  wait_port "$port"
  callgrind_control -i on "$pid" >/dev/null 2>&1
  wrk -t1 -c10 -d3s "http://127.0.0.1:$port$path" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  local n
  n=$(wrk -t1 -c10 -d8s "http://127.0.0.1:$port$path" | awk '/requests in/ {print $1}')
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local ir
  ir=$(callgrind_annotate "$(ls -S "$out".* | head -1)" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  awk -v ir="$ir" -v n="$n" 'BEGIN {printf "%.0f", ir / n}'
}

{
  printf '%-14s %12s %12s %12s\n' subject cpu_us/req req/s Ir/req
  for s in "${SUBJECTS[@]}"; do
    IFS='|' read -r name port path cmd <<<"$s"
    read -r cpu rps < <(cpu_per_request "$port" "$path" "$cmd")
    ir="-"
    [ "${CALLGRIND:-0}" = 1 ] && ir=$(instructions_per_request "$port" "$path" "$cmd")
    printf '%-14s %12s %12s %12s\n' "$name" "$cpu" "$rps" "$ir"
  done
} | tee "$OUT/cpu.txt"
