#!/usr/bin/env bash
# Benchmarks (not tests). Release builds; numbers go to stdout.
#   scripts/bench.sh            the inventory benchmark (10,000 instances + 10,000 keys)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p clawkeep-cli --bin clawkeep --example inventory_bench
CLAWKEEP_BIN="$PWD/target/release/clawkeep" target/release/examples/inventory_bench "${1:-10000}" "${2:-30}"
