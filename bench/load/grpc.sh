#!/usr/bin/env bash
# gRPC unary calls through HyperGate (h2c at the edge, h2c to the service) against the same calls made to the
# service directly. The service and the load tool (bench/GrpcLoad: Grpc.AspNetCore and Grpc.Net.Client) share
# CPU 0; the gateway runs on CPU 1. Targets run in interleaved rounds.
#
# Environment: ROUNDS (default 3), DURATION in seconds (default 5), CONCURRENCY calls in flight (default 64),
#              RESULTS (file whose <!-- grpc:start --> … <!-- grpc:end --> section is replaced, default bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONCURRENCY=${CONCURRENCY:-64}
RESULTS=${RESULTS:-bench/RESULTS.md}
command -v taskset >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq util-linux clang zlib1g-dev >/dev/null; }
./build.sh build >/dev/null
./build.sh publish >/dev/null

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

SERVICE=8120 GATEWAY=8121
tool=bench/GrpcLoad/bin/Release/net10.0/GrpcLoad.dll
taskset -c 0 dotnet "$tool" serve $SERVICE >/dev/null 2>&1 & pids+=($!)
cat >"$work/hypergate.toml" <<TOML
[server]
listen = ["127.0.0.1:$GATEWAY"]
watch_config = false
[http2]
h2c = true
[upstreams.grpc]
targets = ["127.0.0.1:$SERVICE"]
protocol = "h2c"
[routes.grpc]
path_prefix = "/hypergate.test.Echo/"
upstream = "grpc"
TOML
taskset -c 1 artifacts/hypergate/hypergate --config "$work/hypergate.toml" --stats-on-exit >"$work/hypergate.log" 2>&1 & gateway_pid=$!; pids+=($gateway_pid)

url_of() { case $1 in direct) echo "http://127.0.0.1:$SERVICE";; hypergate) echo "http://127.0.0.1:$GATEWAY";; esac; }
for target in direct hypergate; do
  for _ in $(seq 1 100); do taskset -c 0 dotnet "$tool" load "$(url_of $target)" 1 0.2 >/dev/null 2>&1 && break; sleep 0.2; done
  taskset -c 0 dotnet "$tool" load "$(url_of $target)" "$CONCURRENCY" 5 >/dev/null   # warm-up: JIT, pools, connections
done
kill -USR1 "$gateway_pid"

echo "round target rps p50_ms p99_ms errors" >"$work/raw.txt"
for round in $(seq 1 "$ROUNDS"); do
  for target in direct hypergate; do
    echo "$round $target $(taskset -c 0 dotnet "$tool" load "$(url_of $target)" "$CONCURRENCY" "$DURATION")" | tee -a "$work/raw.txt"
  done
done

kill -TERM "$gateway_pid"; wait "$gateway_pid" 2>/dev/null || true
stats=$(grep '^stats: requests=' "$work/hypergate.log" || echo "stats: unavailable")
echo "$stats"

table=$(python3 - "$work/raw.txt" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]).read().splitlines()[1:]]
med = {t: statistics.median(float(r[2]) for r in rows if r[1] == t) for t in ("direct", "hypergate")}
print("| target | calls/s median (min–max) | p50 ms | p99 ms | errors | × direct |")
print("| --- | --- | --- | --- | --- | --- |")
for t in ("direct", "hypergate"):
    sel = [r for r in rows if r[1] == t]
    rps = [float(r[2]) for r in sel]
    print(f"| {t} | {med[t]:,.0f} ({min(rps):,.0f}–{max(rps):,.0f}) | {statistics.median(float(r[3]) for r in sel):.2f} | {statistics.median(float(r[4]) for r in sel):.2f} | {sum(int(r[5]) for r in sel)} | {med[t] / med['direct']:.2f} |")
PY
)
echo "$table"

section=$(cat <<MD
<!-- grpc:start -->
Run on $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -sr), .NET $(dotnet --version), Grpc.AspNetCore 2.85.0 service and
Grpc.Net.Client 2.85.0 load ($CONCURRENCY calls in flight on one channel) on CPU 0, HyperGate on CPU 1; $ROUNDS
interleaved rounds of ${DURATION}s.

$table

HyperGate over the measured rounds: \`$stats\`
<!-- grpc:end -->
MD
)
if [[ -f "$RESULTS" ]]; then python3 bench/load/update-results.py "$RESULTS" grpc "$section"; fi
