#!/usr/bin/env bash
# Load benchmark: pipy (--threads=1) against nginx (1 worker), measured in one run.
#
#   bench/run.sh                 # 3 rounds of 10 s per scenario
#   ROUNDS=5 DURATION=20 bench/run.sh
#
# Scenarios (wrk -t1 -c50 on 127.0.0.1; load and upstream pinned to CPU 0,
# the server under test to CPU 1):
#   serve    pipy serveHTTP(fixed message)      vs nginx `return 200`
#   proxy    pipy demuxHTTP->muxHTTP->connect   vs nginx proxy_pass (upstream keepalive)
#   routing  proxy + URLRouter/RoundRobin in JS vs nginx proxy_pass
# Both proxies forward to the same nginx upstream (1 worker) on :9001.
# With PIPY_UPSTREAM=/path/to/upstream/pipy, upstream Pipy runs the same three
# scripts (on ports 92xx, also one thread) in the same rounds, and the table adds
# its column and our ratio to it.
# Then (unless CODECS=0) bench/codecs.sh: compressHTTP against nginx `gzip on`
# and WebSocket proxying against nginx's upgrade proxy, each with its ratio.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
OUT=bench/out
mkdir -p "$OUT"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk; then
  apt-get update -qq && apt-get install -y -qq nginx-light wrk >/dev/null
fi
PIPY=${PIPY:-target/release/pipy}
[ -x "$PIPY" ] || cargo build --release -p pipy

# Two nginx masters of one worker each: the upstream both proxies forward to,
# and the peer pipy is compared with (return 200 on 9002, proxy_pass on 9003).
# shellcheck source=bench/nginx.sh
. bench/nginx.sh
nginx_conf upstream on "$UPSTREAM_SERVER"
nginx_conf peer on "$PEER_SERVERS"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# The load generator and the shared upstream run on CPU 0, the servers under
# test (nginx peer, pipy) on CPU 1, so each subject gets one core to itself.
LOAD_CPU=${LOAD_CPU:-0}
SUBJECT_CPU=${SUBJECT_CPU:-1}
taskset -c "$LOAD_CPU" nginx -c "$PWD/$OUT/nginx-upstream.conf" -p "$PWD/$OUT" & PIDS+=($!)
taskset -c "$SUBJECT_CPU" nginx -c "$PWD/$OUT/nginx-peer.conf" -p "$PWD/$OUT" & PIDS+=($!)

# Each server runs from a copy of its binary of its own, as one pod runs one:
# pages of one file mapped by several processes count in each one's RSS and
# are not the kernel's to take back from any of them.
start_pipy() { # script: starts pipy in this shell, pid in $!
  cp "$PIPY" "$OUT/pipy-${1%.js}"
  taskset -c "$SUBJECT_CPU" "$OUT/pipy-${1%.js}" --threads=1 --log-level=warn "bench/scripts/$1" > "$OUT/$1.log" 2>&1 &
  PIDS+=($!)
}
wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }
wait_port 9001; wait_port 9002; wait_port 9003

start_pipy serve.js; SERVE_PID=$!
start_pipy proxy.js; PROXY_PID=$!
start_pipy routing.js; ROUTING_PID=$!
wait_port 9101; wait_port 9102; wait_port 9103

# Upstream Pipy, when given: the same scripts on ports 92xx.
UPSTREAM=${PIPY_UPSTREAM:-}
declare -A UP_PID
if [ -n "$UPSTREAM" ]; then
  for s in serve proxy routing; do
    sed 's/\b910\([123]\)\b/920\1/' "bench/scripts/$s.js" > "$OUT/upstream-$s.js"
    cp "$UPSTREAM" "$OUT/upstream-pipy-$s"
    taskset -c "$SUBJECT_CPU" "$OUT/upstream-pipy-$s" --threads=1 --log-level=warn "$OUT/upstream-$s.js" > "$OUT/upstream-$s.log" 2>&1 &
    PIDS+=($!); UP_PID[$s]=$!
  done
  wait_port 9201; wait_port 9202; wait_port 9203
fi

# One wrk run: prints "rps p99_ms errors".
measure() {
  local url=$1
  local out
  out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$url" 2>&1)
  local rps p99 errs
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}')
  errs=$(echo "$out" | awk '/Socket errors/ {gsub(",",""); print $4+$6+$8+$10; f=1} /Non-2xx/ {n=$4} END {if (!f) print 0+n}')
  echo "$rps $p99 $errs"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rss_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
nginx_worker_rss() { # peak RSS of the peer's worker
  local w
  w=$(pgrep -f "nginx: worker" | while read -r p; do if grep -q "$PWD/$OUT/nginx-peer.conf" "/proc/$(awk '/PPid/ {print $2}' /proc/$p/status)/cmdline" 2>/dev/null; then echo "$p"; fi; done | awk 'NR == 1')
  [ -n "$w" ] && rss_mb "$w" || echo "?"
}

declare -A URL=(
  [nginx-return]=http://127.0.0.1:9002/
  [pipy-serve]=http://127.0.0.1:9101/
  [nginx-proxy]=http://127.0.0.1:9003/
  [pipy-proxy]=http://127.0.0.1:9102/
  [pipy-routing]=http://127.0.0.1:9103/hi/there
)
CASES=(nginx-return pipy-serve nginx-proxy pipy-proxy pipy-routing)
if [ -n "$UPSTREAM" ]; then
  URL[up-serve]=http://127.0.0.1:9201/
  URL[up-proxy]=http://127.0.0.1:9202/
  URL[up-routing]=http://127.0.0.1:9203/hi/there
  CASES+=(up-serve up-proxy up-routing)
fi
declare -A RS PS E
for c in "${CASES[@]}"; do RS[$c]=""; PS[$c]=""; E[$c]=0; done

# Warm-up: 3 s each, so that allocators and the script engine reach steady state.
for url in "${URL[@]}"; do taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d3s "$url" >/dev/null 2>&1 || true; done
# Peak RSS is the peak under the load: each subject's high-water mark starts
# again from its resident set now (clear_refs 5), start-up spikes left out.
for p in "$SERVE_PID" "$PROXY_PID" "$ROUTING_PID" ${UP_PID[serve]:-} ${UP_PID[proxy]:-} ${UP_PID[routing]:-} $(pgrep -f "nginx: worker" || true); do
  echo 5 > "/proc/$p/clear_refs" 2>/dev/null || echo "could not reset the peak RSS of $p" >&2
done
# Rounds interleave the scenarios so that drift of the machine hits all alike.
for round in $(seq 1 "$ROUNDS"); do
  for c in "${CASES[@]}"; do
    read -r r p e < <(measure "${URL[$c]}")
    RS[$c]+="$r "; PS[$c]+="$p "; E[$c]=$((E[$c] + ${e%.*}))
    echo "round $round $c: $r req/s, p99 $p ms, errors $e" >&2
  done
done
declare -A R P
for c in "${CASES[@]}"; do
  R[$c]=$(printf '%s\n' ${RS[$c]} | median)
  P[$c]=$(printf '%s\n' ${PS[$c]} | median)
done

# Ratio of the medians, and the median of per-round ratios (each round measures
# pipy and nginx back to back, which cancels slow drift of the machine).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
round_ratio() { # pipy-case nginx-case
  paste -d' ' <(printf '%s\n' ${RS[$1]}) <(printf '%s\n' ${RS[$2]}) | awk '{printf "%.4f\n", $1/$2}' | median
}
{
  echo "rounds=$ROUNDS duration=${DURATION}s connections=$CONNS (wrk -t1), medians"
  printf '%-14s %12s %10s %7s %9s %16s %12s\n' scenario req/s p99_ms errors rss_MiB "ratio_vs_nginx" "per_round"
  printf '%-14s %12s %10s %7s %9s %16s\n' nginx-return "${R[nginx-return]}" "${P[nginx-return]}" "${E[nginx-return]}" "$(nginx_worker_rss)" "-"
  printf '%-14s %12s %10s %7s %9s %16s %12s\n' pipy-serve "${R[pipy-serve]}" "${P[pipy-serve]}" "${E[pipy-serve]}" "$(rss_mb "$SERVE_PID")" "$(ratio "${R[pipy-serve]}" "${R[nginx-return]}")" "$(round_ratio pipy-serve nginx-return)"
  printf '%-14s %12s %10s %7s %9s %16s\n' nginx-proxy "${R[nginx-proxy]}" "${P[nginx-proxy]}" "${E[nginx-proxy]}" "-" "-"
  printf '%-14s %12s %10s %7s %9s %16s %12s\n' pipy-proxy "${R[pipy-proxy]}" "${P[pipy-proxy]}" "${E[pipy-proxy]}" "$(rss_mb "$PROXY_PID")" "$(ratio "${R[pipy-proxy]}" "${R[nginx-proxy]}")" "$(round_ratio pipy-proxy nginx-proxy)"
  printf '%-14s %12s %10s %7s %9s %16s %12s\n' pipy-routing "${R[pipy-routing]}" "${P[pipy-routing]}" "${E[pipy-routing]}" "$(rss_mb "$ROUTING_PID")" "$(ratio "${R[pipy-routing]}" "${R[nginx-proxy]}")" "$(round_ratio pipy-routing nginx-proxy)"
  if [ -n "$UPSTREAM" ]; then
    echo
    echo "upstream Pipy ($UPSTREAM), same rounds; ours/upstream: ratio of medians, median of per-round ratios"
    printf '%-14s %12s %10s %7s %9s %16s %12s %12s\n' scenario req/s p99_ms errors rss_MiB "ours_vs_upstream" "per_round" "p99_ours/up"
    for s in serve proxy routing; do
      printf '%-14s %12s %10s %7s %9s %16s %12s %12s\n' "up-$s" "${R[up-$s]}" "${P[up-$s]}" "${E[up-$s]}" "$(rss_mb "${UP_PID[$s]}")" \
        "$(ratio "${R[pipy-$s]}" "${R[up-$s]}")" "$(round_ratio "pipy-$s" "up-$s")" "$(ratio "${P[pipy-$s]}" "${P[up-$s]}")"
    done
  fi
} | tee "$OUT/results.txt"

# The codec scenarios, each against nginx doing the same, in this same run.
if [ "${CODECS:-1}" = 1 ]; then
  cleanup
  trap - EXIT
  ROUNDS=$ROUNDS DURATION=$DURATION bench/codecs.sh
fi
