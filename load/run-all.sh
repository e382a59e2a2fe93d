#!/usr/bin/env bash
# The BENCHMARKS.md suite, one scenario after another, each bounded by its own hard timeout.
set -u
cd "$(dirname "$0")/.."
npm run build --silent
log="load/results/suite-$(date -u +%Y%m%dT%H%M%S).log"
mkdir -p load/results
run() { echo "### $*" | tee -a "$log"; timeout 420 npm run --silent "$@" 2>&1 | grep -v ': ready [0-9]* failed' | tee -a "$log"; }
run bench:announce -- --sockets 10000 --processes 2 --count 100 --rate 10 --timeout-s 400
run bench:idle -- --sockets 10000 --processes 2 --systems banyan,floor,socketio,ws --timeout-s 400
run bench:chat -- --users 20000 --processes 2 --rates 1000,2000,4000,6000,8000,10000 --step-s 6 --timeout-s 400
run bench:throughput -- --sockets 10000 --processes 2 --rates 10,20,40,60,80,100,140 --step-s 3 --timeout-s 300
run bench:http -- --duration-s 6 --rounds 2
run bench:reconnect -- --sockets 10000 --processes 2 --systems banyan,floor,socketio,ws --timeout-s 400
echo "log: $log"
