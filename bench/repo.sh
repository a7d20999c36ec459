#!/usr/bin/env bash
# Repo benchmark: what workers send the repo (manifest GET, HEAD, status POST),
# from many connections, next to nginx's `return 200`, measured in one run.
#
#   bench/repo.sh                 # 3 rounds of 10 s, wrk -t1 -c50
# The load runs on CPU 0, the server under test (nginx with one worker, the
# pipy repo) on CPU 1.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
LOAD_CPU=${LOAD_CPU:-0}
SUBJECT_CPU=${SUBJECT_CPU:-1}
OUT=bench/out
mkdir -p "$OUT"
command -v nginx >/dev/null && command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light wrk >/dev/null; }
PIPY=${PIPY:-target/release/pipy}
[ -x "$PIPY" ] || cargo build --release -p pipy

cat > "$OUT/nginx-repo-peer.conf" <<NGINX
worker_processes 1;
daemon off;
pid $PWD/$OUT/nginx-repo-peer.pid;
error_log $PWD/$OUT/nginx-repo-peer-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:9002; location / { return 200 "/main.js"; } }
}
NGINX
cat > "$OUT/head.lua" <<'LUA'
wrk.method = "HEAD"
LUA
cat > "$OUT/status.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"timestamp":1795641218182,"since":1795641218176,"uuid":"0b7d3c1e-6a1f-4a5b-9a8e-3f0e6b2d9c11","name":"w","ip":"127.0.0.1","version":"1","modules":{},"logs":[]}'
LUA

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
taskset -c "$SUBJECT_CPU" nginx -c "$PWD/$OUT/nginx-repo-peer.conf" -p "$PWD/$OUT" & PIDS+=($!)
taskset -c "$SUBJECT_CPU" "$PIPY" --log-level=warn --admin-port=127.0.0.1:9301 > "$OUT/repo.log" 2>&1 & PIDS+=($!)
for port in 9002 9301; do
  for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
done
curl -s -X POST http://127.0.0.1:9301/api/v1/repo/bench >/dev/null
curl -s -X POST http://127.0.0.1:9301/api/v1/repo-files/bench/main.js -d "pipy().listen(8080).serveHTTP(new Message('hi'))" >/dev/null
curl -s -X PATCH http://127.0.0.1:9301/api/v1/repo/bench -d '{"version":"1"}' >/dev/null

measure() { # url [script] -> "rps errors"
  local out
  out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" ${2:+-s "$2"} "$1" 2>&1)
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "$out" | awk '/Socket errors/ {gsub(",",""); print $4+$6+$8+$10; f=1} /Non-2xx/ {n=$4} END {if (!f) print 0+n}')"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A RS E
CASES=(nginx manifest head status)
for c in "${CASES[@]}"; do RS[$c]=""; E[$c]=0; done
for round in $(seq 1 "$ROUNDS"); do
  for c in "${CASES[@]}"; do
    case $c in
      nginx) read -r r e < <(measure http://127.0.0.1:9002/) ;;
      manifest) read -r r e < <(measure http://127.0.0.1:9301/repo/bench/) ;;
      # wrk cannot read answers to HEAD (it waits for the body the length
      # announces), so the per-file GET stands in: a HEAD does the same lookup.
      head) read -r r e < <(measure http://127.0.0.1:9301/repo/bench/main.js) ;;
      status) read -r r e < <(measure http://127.0.0.1:9301/repo/bench/ "$OUT/status.lua") ;;
    esac
    RS[$c]+="$r "; E[$c]=$((E[$c] + ${e%.*}))
    echo "round $round $c: $r req/s, errors $e" >&2
  done
done
declare -A R
for c in "${CASES[@]}"; do R[$c]=$(printf '%s\n' ${RS[$c]} | median); done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
# A worker sends one HEAD (costing what a GET does) and one status POST every 5 s.
workers=$(awk -v h="${R[head]}" -v s="${R[status]}" 'BEGIN {printf "%d", 1 / (0.2 / h + 0.2 / s)}')
{
  echo "rounds=$ROUNDS duration=${DURATION}s connections=$CONNS (wrk -t1), medians"
  printf '%-22s %12s %7s %10s\n' scenario req/s errors vs_nginx
  printf '%-22s %12s %7s %10s\n' "nginx return 200" "${R[nginx]}" "${E[nginx]}" -
  printf '%-22s %12s %7s %10s\n' "repo GET manifest" "${R[manifest]}" "${E[manifest]}" "$(ratio "${R[manifest]}" "${R[nginx]}")"
  printf '%-22s %12s %7s %10s\n' "repo GET file" "${R[head]}" "${E[head]}" "$(ratio "${R[head]}" "${R[nginx]}")"
  printf '%-22s %12s %7s %10s\n' "repo POST status" "${R[status]}" "${E[status]}" "$(ratio "${R[status]}" "${R[nginx]}")"
  echo "workers one repo core carries at a 5 s interval (HEAD + POST each): ~$workers"
} | tee "$OUT/repo-results.txt"
