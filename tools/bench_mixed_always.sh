#!/bin/bash
# usage: tools/bench_mixed_always.sh BIN PORT -> prints GET rps while SETs run concurrently (fsync always)
BIN=$1; PORT=$2; D=$(mktemp -d /tmp/mixed.XXXX)
if [ "$BIN" = redis ]; then
  (cd $D && redis-server --port $PORT --save '' --appendonly yes --appendfsync always --dir $D --daemonize no >/dev/null 2>&1 &) 
else
  $BIN --bind 127.0.0.1 --port $PORT --data-dir $D --sync always >/dev/null 2>&1 &
fi
sleep 1
redis-benchmark -p $PORT -t set -n 60000 -c 25 -r 100000 -q > $D/set.txt 2>&1 &
SP=$!
sleep 0.5
redis-benchmark -p $PORT -t get -n 200000 -c 25 -r 100000 -q 2>&1 | tr '\r' '\n' | grep "requests per second" | tail -1
wait $SP
tr '\r' '\n' < $D/set.txt | grep "requests per second" | tail -1
redis-cli -p $PORT shutdown nosave >/dev/null 2>&1
sleep 0.5; rm -rf $D
