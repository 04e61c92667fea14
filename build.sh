#!/usr/bin/env bash
# HyperGate build entry point. Usage: ./build.sh [build|test|run|publish|bench] [options]
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

command=${1:-build}
shift || true

build() { dotnet build HyperGate.sln -c Release -nologo -v quiet "$@"; }

# The functional tests start a real redis-server, drive the dashboard in headless Chromium, try an old TLS
# version with openssl and speak HTTP/2 with curl and nghttp; install them on a fresh Debian machine (as root). The tests find them by the same rule (tests/HyperGate.FunctionalTests/Infrastructure/TestTools.cs):
# the program an environment variable names, else the first of its names on PATH.
has_tool() { # variable name...
  local variable=$1; shift
  [[ -n "${!variable:-}" ]] && return 0
  local name; for name in "$@"; do command -v "$name" >/dev/null && return 0; done
  return 1
}

test_dependencies() {
  local missing=()
  has_tool HYPERGATE_REDIS_SERVER redis-server || missing+=(redis-server)
  has_tool HYPERGATE_CHROMIUM chromium chromium-browser || missing+=(chromium)
  command -v openssl >/dev/null || missing+=(openssl)  # the TLS tests' protocol-version client
  has_tool HYPERGATE_CURL curl || missing+=(curl)      # HTTP/2 clients: curl and nghttp
  has_tool HYPERGATE_NGHTTP nghttp || missing+=(nghttp2-client)
  if (( ${#missing[@]} > 0 )); then
    echo "installing ${missing[*]} for the tests (apt-get, as root)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

case "$command" in
  build)
    build "$@"
    ;;
  test)
    test_dependencies
    build
    dotnet test HyperGate.sln -c Release --no-build -nologo "$@"
    # SIMD is an accelerator, never the only path: the parsers must give the same answers without it.
    DOTNET_EnableHWIntrinsic=0 dotnet test tests/HyperGate.Tests/HyperGate.Tests.csproj -c Release --no-build -nologo \
      --filter "FullyQualifiedName~HyperGate.Tests.Http1|FullyQualifiedName~HyperGate.Tests.Http2|FullyQualifiedName~HyperGate.Tests.Routing"
    ;;
  run)
    echo "building the gateway and the demo echo service (Release; the first build restores packages, about a minute)"
    for project in src/HyperGate/HyperGate.csproj src/HyperGate.DemoUpstream/HyperGate.DemoUpstream.csproj; do
      dotnet build "$project" -c Release -nologo -v minimal
    done
    demo=src/HyperGate.DemoUpstream/bin/Release/net10.0/HyperGate.DemoUpstream
    demos=()
    trap 'kill "${demos[@]}" 2>/dev/null || true' EXIT
    for service in echo-1:9001 echo-2:9002; do
      # Each demo service prints one line: listening, or why it could not start.
      exec {out}< <(exec "$demo" --urls "http://127.0.0.1:${service#*:}" --name "${service%:*}" 2>&1)
      demos+=($!)
      if ! read -r -t 30 line <&"$out" || [[ "$line" != *"listening on"* ]]; then
        echo "${line:-${service%:*} did not start within 30 s}" >&2
        exit 1
      fi
      echo "$line"
    done
    # The gateway logs one line per listener once all are bound; at the first, say where to look.
    announce() {
      trap '' INT  # Ctrl-C stops the gateway, whose last lines still come through here
      local line admin="" ready=false
      while IFS= read -r line; do
        printf '%s\n' "$line"
        if [[ "$line" == *"admin API on "* ]]; then admin=${line##*admin API on }; fi
        if [[ "$line" == *"listening on "* ]]; then
          local url=${line##*listening on }; url=${url%% *}
          if [[ $ready == false ]]; then
            ready=true
            echo
            echo "HyperGate is ready (Ctrl-C stops it). Try:"
            [[ -n "$admin" ]] && printf '  %-46s %s\n' "$admin" "the dashboard: open it in a browser"
          fi
          if [[ $url == https://* ]]; then
            printf '  %-46s %s\n' "curl -ik $url/echo/hello" "over HTTPS (-k: the demo's self-signed certificate)"
          else
            printf '  %-46s %s\n' "curl -i $url/echo/hello" "the gateway: proxied to an echo service"
          fi
        fi
      done
    }
    src/HyperGate/bin/Release/net10.0/hypergate --config conf/hypergate.toml "$@" > >(announce)
    ;;
  publish)
    # Native AOT (a standalone binary, measured faster than the JIT build: bench/RESULTS.md) when publishing for
    # this machine's architecture and a native toolchain is present; framework-dependent otherwise.
    host=$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')
    arch=$host
    if [[ "${1:-}" == "--arch" ]]; then arch=${2:?--arch needs x64 or arm64}; shift 2; fi
    aot=false fallback=""
    if [[ "$arch" != "$host" ]]; then fallback="native AOT compiles for this machine's architecture ($host) only"
    elif ! command -v clang >/dev/null; then fallback="native AOT needs clang: apt-get install clang"
    else aot=true; fi
    [[ -n "$fallback" ]] && echo "publishing framework-dependent (it needs the .NET 10 runtime where it runs): $fallback"
    rm -rf artifacts/hypergate
    dotnet publish src/HyperGate/HyperGate.csproj -c Release -r "linux-$arch" --self-contained "$aot" -p:PublishAot="$aot" \
      -nologo -o artifacts/hypergate "$@"
    rm -f artifacts/hypergate/*.dbg
    echo "published artifacts/hypergate/hypergate (linux-$arch, $([[ $aot == true ]] && echo "native AOT" || echo "framework-dependent: $fallback"))"
    ;;
  bench)
    build
    if [[ "${1:-}" == "--ci" ]]; then
      dotnet run -c Release --no-build --project bench/HyperGate.Benchmarks -- --ci
    else
      dotnet run -c Release --no-build --project bench/HyperGate.Benchmarks -- "$@"
    fi
    ;;
  fuzz)
    # AFL++ through SharpFuzz against one parser for a bounded time: ./build.sh fuzz [request|response|chunked] [seconds]
    target=${1:-request}
    seconds=${2:-600}
    command -v afl-fuzz >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null; }
    export PATH="$PATH:$HOME/.dotnet/tools"
    command -v sharpfuzz >/dev/null || dotnet tool install --global SharpFuzz.CommandLine >/dev/null
    rm -rf artifacts/fuzz/bin
    dotnet publish tests/Fuzz/HyperGate.Fuzz -c Release -nologo -v quiet -o artifacts/fuzz/bin
    sharpfuzz artifacts/fuzz/bin/HyperGate.Core.dll
    rm -rf "artifacts/fuzz/$target"
    AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
      timeout --signal=INT "$seconds" afl-fuzz -i "tests/Fuzz/corpus/$target" -o "artifacts/fuzz/$target" -t 5000 -m none \
      -- dotnet artifacts/fuzz/bin/HyperGate.Fuzz.dll "$target" >"artifacts/fuzz/$target.log" 2>&1 || true
    stats="artifacts/fuzz/$target/default/fuzzer_stats"
    [[ -f "$stats" ]] || { tail -20 "artifacts/fuzz/$target.log"; exit 1; }
    awk -F' *: *' '/^(run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs)/ { print "  " $1 ": " $2 }' "$stats"
    echo "crash inputs, if any: artifacts/fuzz/$target/default/crashes/ (copy them to tests/Fuzz/regressions/$target/)"
    ;;
  *)
    echo "usage: ./build.sh [build|test|run|publish [--arch x64|arm64]|bench [--ci]|fuzz [target] [seconds]]" >&2
    exit 2
    ;;
esac
