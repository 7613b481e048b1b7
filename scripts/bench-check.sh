#!/usr/bin/env bash
# Benchmark of the troubleshooting checklist (issue 6): the full checklist (host facts over SSH +
# the free API probes against the local fake) over 50 test hosts, and the same host facts with
# Ansible ad-hoc (ansible-core from PyPI in a venv under the target dir; shell module; forks 50).
# Needs root (test hosts are real sshd servers with their own users). Prints MEASURE lines.
#   scripts/bench-check.sh [N_HOSTS]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "needs root (test hosts)" >&2; exit 2; }
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
VENV="$TARGET/ansible-venv"
if [ ! -x "$VENV/bin/ansible" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet 'ansible-core>=2.15,<2.18'
fi
export BENCH_ANSIBLE="$VENV/bin/ansible" BENCH_HOSTS="${1:-50}"
cargo test -p clawkeep-tests --test e2e -- checklist_bench:: --ignored --nocapture 2>&1 | grep -E "MEASURE|bring-up|panicked|error" || true
