# Sourced by bench/run.sh and bench/cpu.sh: nginx configurations of one worker
# for the shared upstream (9001) and the peer pipy is compared with (return 200
# on 9002, proxy_pass with upstream keep-alive on 9003). Needs $OUT and $PWD.

UPSTREAM_SERVER='server { listen 127.0.0.1:9001; location / { return 200 "Hi, there!\n"; } }'
PEER_SERVERS='server { listen 127.0.0.1:9002; location / { return 200 "Hi, there!\n"; } }
  server { listen 127.0.0.1:9003; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } }'

# nginx_conf NAME MASTER(on|off) SERVERS...: writes $OUT/nginx-NAME.conf.
nginx_conf() {
  local name=$1 master=$2; shift 2
  cat > "$OUT/nginx-$name.conf" <<NGINX
worker_processes 1;
master_process $master;
daemon off;
pid $PWD/$OUT/nginx-$name.pid;
error_log $PWD/$OUT/nginx-$name-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:9001; keepalive 64; }
  $*
}
NGINX
}
