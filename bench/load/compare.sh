#!/usr/bin/env bash
# Side-by-side load comparison on one machine: the origin directly, HyperGate, nginx, HAProxy and YARP.
# Every proxy runs pinned to CPU 1; the nginx origin and wrk share CPU 0. Scenarios run in interleaved rounds
# (A B C D E, A B C D E, ...) so that machine noise spreads over all targets alike.
#
# Environment: ROUNDS (default 3), DURATION per run (default 5s), TARGETS (default "direct hypergate nginx haproxy yarp";
#              also "hypergate_rl": HyperGate with a rate limit per client address far above the offered load, and
#              "hypergate_auth": HyperGate with JWT authentication on the route, and "hypergate_ops": HyperGate with
#              the admin listener (metrics exported) and the access log to a file, and "hypergate_xform": HyperGate
#              with three header transforms and a request id on the route, and "hypergate_p2c" and
#              "hypergate_rr": HyperGate balancing over two origin ports with p2c or round_robin, and
#              "hypergate_alt": another HyperGate binary, ALT_BINARY, with the plain config: an A/B in one run, and
#              "hypergate_tls", "nginx_tls", "haproxy_tls": each terminating TLS 1.3 with one ECDSA P-256 certificate,
#              "hypergate_cache", "varnish", "nginx_cache": each caching the origin's responses in memory (nginx:
#              proxy_cache, on disk through the page cache), "hypergate_gzip" and "nginx_gzip": gzip level 1 on
#              JSON responses, "hypergate_json": the same after a JSON transform (a rename and a removal per item)),
#              SCENARIOS (default "small50 small256 16k 1m post4k"; also "auth50": small50 with a bearer token on
#              every request, which only hypergate_auth checks; "tlsnew": 16 connections, a new one, so a full TLS
#              handshake, per request; "hit" and "hit16k": 12 B and 16 KiB objects the origin marks cacheable, so that
#              after the first request every one is a hit on a caching target; "miss": a new URL per request, every
#              one a miss and a store on a caching target; "json16k": 16 KiB of JSON asked for with
#              Accept-Encoding: gzip; "h2tls": HTTP/2 over TLS with h2load, 10 connections of 100 concurrent streams
#              each, for the *_tls targets, which all offer h2 by ALPN and proxy to the origin in HTTP/1.1),
#              H2_LATENCY (default 1: h2load writes its per-request log, which gives p50 and p99; 0: throughput
#              only, for a load generator that the log's writing would otherwise slow to below the proxies' pace),
#              RESULTS (file to update, default bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
TARGETS=${TARGETS:-"direct hypergate nginx haproxy yarp"}
SCENARIOS=${SCENARIOS:-"small50 small256 16k 1m post4k"}
RESULTS=${RESULTS:-bench/RESULTS.md}
H2_LATENCY=${H2_LATENCY:-1}

# --- prerequisites -------------------------------------------------------------------------------------------
missing=()
for tool in wrk h2load nginx haproxy varnishd taskset clang; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nghttp2-client nginx-light haproxy varnish util-linux clang zlib1g-dev >/dev/null
fi
./build.sh build >/dev/null
./build.sh publish >/dev/null   # HyperGate is measured as shipped: the native AOT binary

work=$(mktemp -d)
chmod 755 "$work"  # the nginx workers run unprivileged and must read the files
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

ORIGIN=8090 HYPERGATE=8091 NGINX=8092 HAPROXY=8093 YARP=8094 HYPERGATE_RL=8095 HYPERGATE_AUTH=8096 HYPERGATE_OPS=8097 HYPERGATE_ADMIN=8098
ORIGIN2=8099 HYPERGATE_P2C=8100 HYPERGATE_RR=8101 HYPERGATE_ALT=8102 HYPERGATE_TLS=8103 NGINX_TLS=8104 HAPROXY_TLS=8105
HYPERGATE_CACHE=8106 VARNISH=8107 NGINX_CACHE=8108 HYPERGATE_XFORM=8109 NGINX_GZIP=8110 HYPERGATE_GZIP=8111 HYPERGATE_JSON=8112

# One ECDSA P-256 certificate for every proxy that terminates TLS.
mkdir -p "$work/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
  -addext "subjectAltName=DNS:bench.test" -keyout "$work/tls/site.key" -out "$work/tls/site.pem" 2>/dev/null
cat "$work/tls/site.pem" "$work/tls/site.key" >"$work/tls/haproxy.pem"

# --- origin: nginx on CPU 0 serving 12 bytes, 16 KiB and 1 MiB ---------------------------------------------
mkdir -p "$work/www" "$work/nginx-origin" "$work/nginx-proxy" "$work/load"
head -c 16384 /dev/urandom >"$work/www/16k.bin"
head -c 1048576 /dev/urandom >"$work/www/1m.bin"
# 16 KiB of JSON: items with a name to rename and a secret to remove.
python3 -c 'import json; print(json.dumps({"items": [{"id": i, "name": f"item {i}", "secret": f"s-{i:08d}", "price": i * 1.25, "tags": ["a", "b"]} for i in range(190)]}), end="")' >"$work/www/16k.json"
cat >"$work/nginx-origin/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx-origin/nginx.pid;
error_log $work/nginx-origin/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx-origin;
  server {
    listen 127.0.0.1:$ORIGIN;
    listen 127.0.0.1:$ORIGIN2;
    root $work/www;
    location = /small { default_type text/plain; return 200 "hello world\n"; }
    location = /post { client_max_body_size 1m; default_type text/plain; return 200 "ok\n"; }
    location = /cached/small { default_type text/plain; add_header Cache-Control "max-age=3600"; return 200 "hello world\n"; }
    location = /cached/16k.bin { alias $work/www/16k.bin; add_header Cache-Control "max-age=3600"; }
    location = /16k.json { types { } default_type application/json; }
  }
}
CONF
taskset -c 0 nginx -c "$work/nginx-origin/nginx.conf" -g 'daemon off;' & pids+=($!)

# --- proxies, each pinned to CPU 1 with its best single-core settings ----------------------------------------
# HyperGate: the published native binary, workstation non-concurrent GC, no data-plane logging.
cat >"$work/hypergate.toml" <<CONF
[server]
listen = ["127.0.0.1:$HYPERGATE"]
[limits]
keepalive_timeout = "5m"
[upstreams.origin]
targets = ["127.0.0.1:$ORIGIN"]
max_idle_connections = 1024
[routes.all]
path_prefix = "/"
upstream = "origin"
CONF
taskset -c 1 artifacts/hypergate/hypergate --config "$work/hypergate.toml" --stats-on-exit >"$work/hypergate.log" 2>&1 & hypergate_pid=$!; pids+=($hypergate_pid)

# The same, with every request checked against a per-client token bucket that never refuses: the limiter's cost.
sed -e "s/:$HYPERGATE\"/:$HYPERGATE_RL\"/" -e 's/^upstream = "origin"$/upstream = "origin"\nrate_limit = ["per_client"]/' "$work/hypergate.toml" >"$work/hypergate-rl.toml"
printf '[rate_limits.per_client]\nkey = "ip"\nrate = 1000000000\nper = "1s"\n' >>"$work/hypergate-rl.toml"
taskset -c 1 artifacts/hypergate/hypergate --config "$work/hypergate-rl.toml" >/dev/null 2>&1 & hypergate_rl_pid=$!; pids+=($hypergate_rl_pid)

# The same, with every request authenticated by an HS256 JWT (validated once, then served from the token cache).
secret=bench-secret-0123456789-0123456789-0123456789
sed -e "s/:$HYPERGATE\"/:$HYPERGATE_AUTH\"/" -e 's/^upstream = "origin"$/upstream = "origin"\nauth = ["jwt"]/' "$work/hypergate.toml" >"$work/hypergate-auth.toml"
printf '[auth.jwt]\ntype = "jwt"\nissuer = "bench"\naudiences = ["bench"]\nalgorithms = ["HS256"]\nsecret = "%s"\n' "$secret" >>"$work/hypergate-auth.toml"
b64() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
jwt_head=$(printf '{"alg":"HS256","typ":"JWT"}' | b64)
jwt_body=$(printf '{"iss":"bench","aud":"bench","sub":"load","exp":%d}' $(( $(date +%s) + 86400 )) | b64)
jwt_signature=$(printf '%s.%s' "$jwt_head" "$jwt_body" | openssl dgst -sha256 -hmac "$secret" -binary | b64)
printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$jwt_head.$jwt_body.$jwt_signature" >"$work/auth.lua"
taskset -c 1 artifacts/hypergate/hypergate --config "$work/hypergate-auth.toml" >/dev/null 2>&1 & hypergate_auth_pid=$!; pids+=($hypergate_auth_pid)

# The same, with operations on: metrics aggregated for /metrics and the dashboard, one access log line per request.
sed -e "s/:$HYPERGATE\"/:$HYPERGATE_OPS\"/" "$work/hypergate.toml" >"$work/hypergate-ops.toml"
printf '[admin]\nlisten = "127.0.0.1:%s"\n[access_log]\npath = "%s"\n' "$HYPERGATE_ADMIN" "$work/access.log" >>"$work/hypergate-ops.toml"
taskset -c 1 artifacts/hypergate/hypergate --config "$work/hypergate-ops.toml" >/dev/null 2>&1 & hypergate_ops_pid=$!; pids+=($hypergate_ops_pid)

# The same, with three header transforms (a templated set, a rename, a removal) and a request id on every request.
sed -e "s/:$HYPERGATE\"/:$HYPERGATE_XFORM\"/" -e 's/^upstream = "origin"$/upstream = "origin"\nrequest_headers = { set = { "X-Route" = "{route}" }, rename = { "User-Agent" = "X-Client-Agent" }, remove = ["Accept"] }/' \
  "$work/hypergate.toml" >"$work/hypergate-xform.toml"
printf '[request_id]\n' >>"$work/hypergate-xform.toml"
taskset -c 1 artifacts/hypergate/hypergate --config "$work/hypergate-xform.toml" >/dev/null 2>&1 & hypergate_xform_pid=$!; pids+=($hypergate_xform_pid)

# Compression at gzip level 1 (as nginx_gzip), alone and after a JSON transform (a rename and a removal per item).
sed -e "s/:$HYPERGATE\"/:$HYPERGATE_GZIP\"/" -e 's/^upstream = "origin"$/upstream = "origin"\ncompress = { level = "fastest", algorithms = ["gzip"] }/' "$work/hypergate.toml" >"$work/hypergate-gzip.toml"
taskset -c 1 artifacts/hypergate/hypergate --config "$work/hypergate-gzip.toml" >/dev/null 2>&1 & hypergate_gzip_pid=$!; pids+=($hypergate_gzip_pid)
sed -e "s/:$HYPERGATE\"/:$HYPERGATE_JSON\"/" -e 's/^upstream = "origin"$/upstream = "origin"\ncompress = { level = "fastest", algorithms = ["gzip"] }\nresponse_body = { rename = { "\/items\/*\/name" = "\/items\/*\/title" }, remove = ["\/items\/*\/secret"] }/' "$work/hypergate.toml" >"$work/hypergate-json.toml"
taskset -c 1 artifacts/hypergate/hypergate --config "$work/hypergate-json.toml" >/dev/null 2>&1 & hypergate_json_pid=$!; pids+=($hypergate_json_pid)

# Balancing over two destinations (the origin's two ports): p2c, the default, against round_robin.
for balance in p2c rr; do
  port=$([[ $balance == p2c ]] && echo $HYPERGATE_P2C || echo $HYPERGATE_RR)
  sed -e "s/:$HYPERGATE\"/:$port\"/" -e "s/^targets = .*/targets = [\"127.0.0.1:$ORIGIN\", \"127.0.0.1:$ORIGIN2\"]\nbalance = \"$([[ $balance == p2c ]] && echo p2c || echo round_robin)\"/" \
    "$work/hypergate.toml" >"$work/hypergate-$balance.toml"
  taskset -c 1 artifacts/hypergate/hypergate --config "$work/hypergate-$balance.toml" >/dev/null 2>&1 & pids+=($!)
  eval "hypergate_${balance}_pid=$!"
done

# TLS 1.3 at the edge (TLS 1.2 is offered too, but every client here negotiates 1.3); allocations reported on exit.
sed -e "s/^listen = .*/listen_tls = [\"127.0.0.1:$HYPERGATE_TLS\"]/" "$work/hypergate.toml" >"$work/hypergate-tls.toml"
printf '[tls]\ncertificates = [{ cert = "%s", key = "%s" }]\n' "$work/tls/site.pem" "$work/tls/site.key" >>"$work/hypergate-tls.toml"
taskset -c 1 artifacts/hypergate/hypergate --config "$work/hypergate-tls.toml" --stats-on-exit >"$work/hypergate-tls.log" 2>&1 & hypergate_tls_pid=$!; pids+=($hypergate_tls_pid)

# Caching: HyperGate's store, Varnish with its default VCL and a malloc store, nginx's proxy_cache.
sed -e "s/:$HYPERGATE\"/:$HYPERGATE_CACHE\"/" -e 's/^upstream = "origin"$/upstream = "origin"\ncache = true/' "$work/hypergate.toml" >"$work/hypergate-cache.toml"
printf '[cache]\nmax_size = "256MB"\n' >>"$work/hypergate-cache.toml"
taskset -c 1 artifacts/hypergate/hypergate --config "$work/hypergate-cache.toml" --stats-on-exit >"$work/hypergate-cache.log" 2>&1 & hypergate_cache_pid=$!; pids+=($hypergate_cache_pid)
mkdir -p "$work/varnish" "$work/nginx-cache"
taskset -c 1 varnishd -F -n "$work/varnish" -a "127.0.0.1:$VARNISH" -b "127.0.0.1:$ORIGIN" -s malloc,256m >/dev/null 2>&1 & varnish_pid=$!; pids+=($varnish_pid)

if [[ -n "${ALT_BINARY:-}" ]]; then
  sed -e "s/:$HYPERGATE\"/:$HYPERGATE_ALT\"/" "$work/hypergate.toml" >"$work/hypergate-alt.toml"
  taskset -c 1 "$ALT_BINARY" --config "$work/hypergate-alt.toml" >/dev/null 2>&1 & hypergate_alt_pid=$!; pids+=($hypergate_alt_pid)
fi

# nginx: one worker, upstream keep-alive, HTTP/1.1 to the origin, no logs, no buffering to disk.
cat >"$work/nginx-proxy/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx-proxy/nginx.pid;
error_log $work/nginx-proxy/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx-proxy;
  proxy_temp_path $work/nginx-proxy;
  upstream origin { server 127.0.0.1:$ORIGIN; keepalive 512; keepalive_requests 1000000; }
  proxy_cache_path $work/nginx-cache levels=1:2 keys_zone=hits:10m max_size=256m;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:tls:10m;
  server {
    listen 127.0.0.1:$NGINX_TLS ssl http2;
    ssl_certificate $work/tls/site.pem;
    ssl_certificate_key $work/tls/site.key;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
  server {
    listen 127.0.0.1:$NGINX_GZIP;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      gzip on;
      gzip_comp_level 1;
      gzip_min_length 1024;
      gzip_proxied any;
      gzip_types application/json;
      gzip_vary on;
    }
  }
  server {
    listen 127.0.0.1:$NGINX_CACHE;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache hits;
    }
  }
  server {
    listen 127.0.0.1:$NGINX;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
      proxy_buffers 16 64k;
      client_max_body_size 1m;
    }
  }
}
CONF
taskset -c 1 nginx -c "$work/nginx-proxy/nginx.conf" -g 'daemon off;' & nginx_pid=$!; pids+=($nginx_pid)

# HAProxy: one thread, HTTP mode, connection reuse always, no logs.
cat >"$work/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend in
  bind 127.0.0.1:$HAPROXY
  default_backend origin
frontend tls
  bind 127.0.0.1:$HAPROXY_TLS ssl crt $work/tls/haproxy.pem ssl-min-ver TLSv1.2 alpn h2,http/1.1
  default_backend origin
backend origin
  server origin 127.0.0.1:$ORIGIN maxconn 1024
CONF
taskset -c 1 haproxy -f "$work/haproxy.cfg" -db & haproxy_pid=$!; pids+=($haproxy_pid)

# YARP: the package's defaults, Kestrel, same GC settings as HyperGate, logging off.
taskset -c 1 dotnet bench/YarpBaseline/bin/Release/net10.0/YarpBaseline.dll --listen 127.0.0.1:$YARP --destination http://127.0.0.1:$ORIGIN >/dev/null 2>&1 & yarp_pid=$!; pids+=($yarp_pid)

port_of() { case $1 in direct) echo $ORIGIN;; hypergate_cache) echo $HYPERGATE_CACHE;; varnish) echo $VARNISH;; nginx_cache) echo $NGINX_CACHE;; hypergate_tls) echo $HYPERGATE_TLS;; nginx_tls) echo $NGINX_TLS;; haproxy_tls) echo $HAPROXY_TLS;; hypergate) echo $HYPERGATE;; hypergate_rl) echo $HYPERGATE_RL;; hypergate_auth) echo $HYPERGATE_AUTH;; hypergate_ops) echo $HYPERGATE_OPS;; hypergate_xform) echo $HYPERGATE_XFORM;; hypergate_gzip) echo $HYPERGATE_GZIP;; hypergate_json) echo $HYPERGATE_JSON;; nginx_gzip) echo $NGINX_GZIP;; hypergate_p2c) echo $HYPERGATE_P2C;; hypergate_rr) echo $HYPERGATE_RR;; hypergate_alt) echo $HYPERGATE_ALT;; nginx) echo $NGINX;; haproxy) echo $HAPROXY;; yarp) echo $YARP;; esac; }
pid_of() { case $1 in direct) echo "";; hypergate_cache) echo $hypergate_cache_pid;; varnish) echo $varnish_pid;; nginx_cache) echo $nginx_pid;; hypergate_tls) echo $hypergate_tls_pid;; nginx_tls) echo $nginx_pid;; haproxy_tls) echo $haproxy_pid;; hypergate) echo $hypergate_pid;; hypergate_rl) echo $hypergate_rl_pid;; hypergate_auth) echo $hypergate_auth_pid;; hypergate_ops) echo $hypergate_ops_pid;; hypergate_xform) echo $hypergate_xform_pid;; hypergate_gzip) echo $hypergate_gzip_pid;; hypergate_json) echo $hypergate_json_pid;; nginx_gzip) echo $nginx_pid;; hypergate_p2c) echo $hypergate_p2c_pid;; hypergate_rr) echo $hypergate_rr_pid;; hypergate_alt) echo $hypergate_alt_pid;; nginx) echo $nginx_pid;; haproxy) echo $haproxy_pid;; yarp) echo $yarp_pid;; esac; }
# The *_tls targets speak https.
url_of() { if [[ $1 == *_tls ]]; then echo "https://127.0.0.1:$(port_of "$1")"; else echo "http://127.0.0.1:$(port_of "$1")"; fi; }
for target in $TARGETS; do
  for _ in $(seq 1 100); do curl -kfs -o /dev/null -H "Authorization: Bearer $jwt_head.$jwt_body.$jwt_signature" "$(url_of "$target")/small" && break; sleep 0.1; done
done

# scenario → connections, path, extra wrk arguments
scenario() {
  case $1 in
    small50) echo "50 /small" ;;
    small256) echo "256 /small" ;;
    16k) echo "50 /16k.bin" ;;
    1m) echo "16 /1m.bin" ;;
    post4k) echo "50 /post -s bench/load/post4k.lua" ;;
    auth50) echo "50 /small -s $work/auth.lua" ;;
    tlsnew) echo "16 /small -s bench/load/close.lua" ;;
    hit) echo "50 /cached/small" ;;
    hit16k) echo "50 /cached/16k.bin" ;;
    miss) echo "50 /cached/small -s bench/load/unique.lua" ;;
    json16k) echo "50 /16k.json -H Accept-Encoding:gzip" ;;
    h2tls) echo "10 /small h2load" ;;
  esac
}

# One load run: wrk, or h2load for the HTTP/2 scenario (its per-request log gives the percentiles);
# prints "rps p50_ms p99_ms errors".
load() { # connections path extra url duration
  local connections=$1 path=$2 extra=$3 url=$4 duration=$5 out
  if [[ $extra == h2load ]]; then
    # The log goes to a directory of its own: a gateway watching its config's directory would see every line written.
    local log=()
    [[ $H2_LATENCY == 1 ]] && log=(--log-file="$work/load/h2load.log")
    out=$(taskset -c 0 h2load -t1 -c"$connections" -m100 -D"${duration%s}" --warm-up-time=1 "${log[@]}" "$url$path")
    # "requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout"; "status codes: N 2xx, N 3xx, N 4xx, N 5xx".
    local errors
    errors=$(awk '/^requests:/ { e = $10 + $12 + $14 } /^status codes:/ { e += $5 + $7 + $9 } END { print e + 0 }' <<<"$out")
    awk '/^finished in/ { gsub(",", ""); printf "%s ", $4 }' <<<"$out"
    if [[ $H2_LATENCY != 1 ]]; then
      echo "nan nan $errors"
      return
    fi
    sort -n -k3 "$work/load/h2load.log" | awk -v errors="$errors" \
      '{ d[NR] = $3 } END { printf "%.3f %.3f %d\n", d[int(NR * 0.5)] / 1000, d[int(NR * 0.99)] / 1000, errors }'
    return
  fi
  # shellcheck disable=SC2086
  out=$(taskset -c 0 wrk -t1 -c"$connections" -d"$duration" --latency $extra "$url$path")
  echo "$(awk '/^Requests\/sec/ { print $2 }' <<<"$out") $(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")") $(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")") \
    $(awk '/Socket errors/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } /Non-2xx/ { n += $5 } END { print n + 0 }' <<<"$out")"
}

to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

# Warm every target (JIT, pools) before measuring.
for target in $TARGETS; do
  # .NET targets need time for tiered compilation and PGO to reach their steady state.
  taskset -c 0 wrk -t1 -c50 -d${WARMUP:-10s} -s "$work/auth.lua" "$(url_of "$target")/small" >/dev/null
done
# Then every scenario's shape once, briefly, so that every target's pools (buffers, connection states, upstream
# connections) have grown to the run's peak concurrency and body sizes before anything is measured; HyperGate's
# allocation count starts after this (SIGUSR1 takes its baseline again).
for name in $SCENARIOS; do
  read -r connections path extra <<<"$(scenario "$name")"
  for target in $TARGETS; do
    load "$connections" "$path" "$extra" "$(url_of "$target")" "${WARMUP_SCENARIO:-2s}" >/dev/null
  done
done
kill -USR1 "$hypergate_pid" "$hypergate_tls_pid" "$hypergate_cache_pid"
hypergate_before=$(grep -c . "$work/hypergate.log" || true)

echo "round scenario target rps p50_ms p99_ms errors rss_kb" >"$work/raw.txt"
for round in $(seq 1 "$ROUNDS"); do
  for name in $SCENARIOS; do
    read -r connections path extra <<<"$(scenario "$name")"
    for target in $TARGETS; do
      pid=$(pid_of "$target")
      rss_file="$work/rss"; echo 0 >"$rss_file"
      if [[ -n "$pid" ]]; then
        ( peak=0; while kill -0 "$pid" 2>/dev/null; do
            rss=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
            ((rss > peak)) && peak=$rss && echo "$peak" >"$rss_file"; sleep 0.5; done ) & sampler=$!
      fi
      read -r rps p50 p99 errors <<<"$(load "$connections" "$path" "$extra" "$(url_of "$target")" "$DURATION")"
      [[ -n "$pid" ]] && { kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; }
      echo "$round $name $target $rps $p50 $p99 ${errors:-0} $(cat "$rss_file")" | tee -a "$work/raw.txt"
    done
  done
done

# HyperGate reports its allocations on a clean exit.
kill -TERM "$hypergate_pid" "$hypergate_tls_pid" "$hypergate_cache_pid"; wait "$hypergate_pid" "$hypergate_tls_pid" "$hypergate_cache_pid" 2>/dev/null || true
stats=$(grep '^stats: requests=' "$work/hypergate.log" || echo "stats: unavailable")
tls_stats=$(grep '^stats: requests=' "$work/hypergate-tls.log" || echo "stats: unavailable")
cache_stats=$(grep '^stats: requests=' "$work/hypergate-cache.log" || echo "stats: unavailable")
echo "$stats"
echo "TLS: $tls_stats"
echo "cache: $cache_stats"

# --- summary table -----------------------------------------------------------------------------------------
table=$(python3 - "$work/raw.txt" "$SCENARIOS" "$TARGETS" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]).read().splitlines()[1:]]
scenarios, targets = sys.argv[2].split(), sys.argv[3].split()
names = {"hit": "cache hit, 12 B, 50 conns", "hit16k": "cache hit, 16 KiB, 50 conns", "miss": "cache miss (a new URL each), 12 B, 50 conns", "tlsnew": "12 B, 16 conns, a new connection (full handshake) per request", "auth50": "12 B, 50 conns, bearer token", "small50": "12 B, 50 conns", "small256": "12 B, 256 conns", "16k": "16 KiB, 50 conns", "1m": "1 MiB, 16 conns", "post4k": "POST 4 KiB, 50 conns", "h2tls": "HTTP/2 over TLS, 12 B, 10 conns × 100 streams (h2load)"}
print("| scenario | target | RPS median (min–max) | p50 ms | p99 ms | errors | RSS MB | × direct | × anchor |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for s in scenarios:
    med = {}
    for t in targets:
        rps = [float(r[3]) for r in rows if r[1] == s and r[2] == t]
        med[t] = statistics.median(rps) if rps else 0
    for t in targets:
        sel = [r for r in rows if r[1] == s and r[2] == t]
        if not sel:
            continue
        rps = [float(r[3]) for r in sel]
        p50 = statistics.median(float(r[4]) for r in sel)
        p99 = statistics.median(float(r[5]) for r in sel)
        errors = sum(int(float(r[6])) for r in sel)
        rss = max(int(r[7]) for r in sel) / 1024
        direct = f"{med[t] / med['direct']:.2f}" if med.get("direct") else "–"
        # TLS rows compare with HAProxy terminating TLS, cache rows with Varnish, the rest with HAProxy.
        anchor = "haproxy_tls" if t.endswith("_tls") else "varnish" if s in ("hit", "hit16k", "miss") and "varnish" in med else "haproxy"
        haproxy = f"{med[t] / med[anchor]:.2f}" if med.get(anchor) else "–"
        print(f"| {names.get(s, s)} | {t} | {med[t]:,.0f} ({min(rps):,.0f}–{max(rps):,.0f}) | {p50:.2f} | {p99:.2f} | {errors} | {rss:.0f} | {direct} | {haproxy} |")
PY
)
echo "$table"

versions="nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), HAProxy $(haproxy -v | awk 'NR==1 { print $3 }'), YARP 2.3.0, wrk $(wrk -v 2>&1 | awk 'NR==1 { print $2 }'), .NET $(dotnet --version)"
section=$(cat <<MD
<!-- compare:start -->
Run on $(date -u +%Y-%m-%d), $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -sr).
$versions. $ROUNDS interleaved rounds of $DURATION per target and scenario; proxies on CPU 1, origin and wrk on CPU 0.

$table

HyperGate allocations over the measured rounds (counted from the end of the warm-up, which ran every scenario once): \`$stats\`; with TLS: \`$tls_stats\`; caching: \`$cache_stats\`
<!-- compare:end -->
MD
)
if [[ -f "$RESULTS" ]]; then python3 bench/load/update-results.py "$RESULTS" compare "$section"; fi
