#!/usr/bin/env bash
# Benchmark of the cost trail (issue 13): KEYS keys × 90 days × 3 models of usage in the local
# fake; the first sync, an incremental sync, and the month's cost per instance from the cache,
# through the real release binary under a private Secret Service. Prints MEASURE lines.
#   scripts/bench-cost.sh [KEYS]
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_COST_KEYS="${1:-1000}"
cargo build --release -q -p clawkeep-cli
export CLAWKEEP_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/clawkeep"
scripts/with-secret-service.sh cargo test --release -p clawkeep-tests --test e2e -- cost::bench_sync_and_report --ignored --nocapture 2>&1 \
  | grep -E "MEASURE|panicked|error" || true
