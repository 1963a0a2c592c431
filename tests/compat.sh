#!/usr/bin/env bash
# Compatibility check with Redis's own tools: a redis-cli session whose every reply is compared,
# then a short redis-benchmark run that must finish without an error reply.
#
#   tests/compat.sh [path/to/kvserver]     (default: builds and uses target/debug/kvserver)
#
# Needs redis-cli and redis-benchmark (Debian's redis-tools); .ci/run installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-}"
if [[ -z "$bin" ]]; then
  cargo build -q -p kvserver
  bin="target/debug/kvserver"
fi
for tool in redis-cli redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "compat: $tool not found (apt-get install redis-tools)"; exit 2; }
done

work="$(mktemp -d)"
log="$work/server.log"
"$bin" --bind 127.0.0.1 --port 0 --in-memory >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

port=""
for _ in $(seq 1 300); do
  port="$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n1)"
  [[ -n "$port" ]] && break
  kill -0 "$pid" 2>/dev/null || { echo "compat: kvserver exited early:"; cat "$log"; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "compat: kvserver did not log its port"; cat "$log"; exit 1; }
echo "compat: kvserver on port $port ($(redis-cli --version))"

passed=0
failed=0
# check <expected-regex> <command...>: runs redis-cli and matches its whole output.
check() {
  local want="$1"
  shift
  local got
  got="$(redis-cli -p "$port" "$@" 2>&1)" || true
  if [[ "$got" =~ ^($want)$ ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "compat: FAIL: redis-cli $* -> '$got', expected /^($want)$/"
  fi
}

check 'PONG' PING
check 'OK' SET greeting hello
check 'hello' GET greeting
check '1' EXISTS greeting
check '0' EXISTS nosuchkey
check 'OK' SET other 1
check 'greeting' KEYS 'greet*'
check '1' EXPIRE greeting 100
check '(99|100)' TTL greeting
check '-1' TTL other
check '0' EXPIRE nosuchkey 100
check '2' DEL greeting other
check '0' EXISTS greeting
check '' GET greeting
check '-2' TTL greeting
check '' KEYS '*'
check '(\(error\) )?ERR wrong number of arguments for .get. command' GET
check "(\\(error\\) )?ERR unknown command 'NOSUCH', with args beginning with: 'x' " NOSUCH x
check '3' INCRBY counter 3
check 'string' TYPE counter

# A pipe of commands through one connection, as `redis-cli < file` sends them.
piped="$(printf 'SET p 1\nINCR p\nGET p\n' | redis-cli -p "$port")"
if [[ "$piped" == $'OK\n2\n2' ]]; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "compat: FAIL: piped session gave '$piped'"; fi

# redis-benchmark: every request must succeed; an error reply makes it print "Error" / exit non-zero.
bench_out="$work/bench.txt"
if redis-benchmark -p "$port" -t set,get,incr,mset -n 20000 -c 20 -P 4 -q >"$bench_out" 2>&1 &&
   ! grep -qi 'error' "$bench_out" &&
   [[ "$(grep -c 'requests per second' "$bench_out")" -eq 4 ]]; then
  passed=$((passed + 1))
  tr '\r' '\n' <"$bench_out" | grep 'requests per second' | sed 's/^/compat: /' || true
else
  failed=$((failed + 1))
  echo "compat: FAIL: redis-benchmark:"; tr '\r' '\n' <"$bench_out" | tail -20
fi

echo "compat: $passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
