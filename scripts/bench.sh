#!/usr/bin/env bash
# egresscheck's benchmarks (issue 7): builds the benchmark in release mode and prints one
# table. Everything runs on loopback (127.0.0.0/8); nothing leaves the machine.
#
#   scripts/bench.sh                      # the defaults: 1,000 targets, 7 rounds, every section
#   scripts/bench.sh --targets 2000 --rounds 5
#   scripts/bench.sh --only throughput    # throughput, holes, stalls, rules, peers (comma-separated)
#   scripts/bench.sh --help
#
# The peers (sslscan, nmap) are measured when installed: apt-get install sslscan nmap.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --locked --bench perf -- "$@"
