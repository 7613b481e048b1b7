#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing, builds the UI,
# then runs every Rust test (unit, CLI end to end, fake API contract, SSH test hosts, real
# OpenClaw) and the real-window GUI journey inside a private D-Bus session with an unlocked
# gnome-keyring (throw-away keyring files). Needs root: the test hosts are real sshd servers
# with their own Unix users, and faults are injected with nftables.
#
#   scripts/test.sh              everything
#   scripts/test.sh -p NAME ...  extra arguments go to `cargo test` (the GUI journey and the
#                                second OpenClaw pass are skipped)
#   CLAWKEEP_TEST_DEB=1 scripts/test.sh   also install the .deb on a clean Debian tree
#                                (scripts/test-deb.sh; builds the package first if needed)
#
# After the workspace tests, the real-OpenClaw tests that touch version-dependent behaviour
# (the checklist's and deploy's `real_openclaw` tests: key stores, paste-api-key, secrets
# reload, /readyz, the config schema) run once more against the older OpenClaw that
# tests/src/openclaw.rs names (OLD_VERSION, installed into target/openclaw-<version>; ~2 min
# warm; docs/openclaw-versions.md). The round-trip and rotation journeys (only `.env` and a
# restart, already covered by deploy's) stay on the default version to keep CI short.
# CLAWKEEP_OPENCLAW_SECOND_PASS=0 skips that pass.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
start=$(date +%s)

if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh needs root (it creates Unix users, sshd test hosts and nftables rules)." >&2
  echo "Run it as root on a throw-away machine or VM, e.g.: sudo -E env PATH=\"\$PATH\" scripts/test.sh" >&2
  exit 2
fi

# Free space first: a full disk otherwise shows up minutes later as an npm, mktemp or linker
# error far from its cause. A cold run writes ~4 GiB (target/ ~3 GiB with the dev profile's
# line-tables-only debug info, the VPS tree ~1 GiB, two OpenClaw installs); 6 GiB leaves room.
free_kib() { df -Pk "$1" 2>/dev/null | awk 'NR == 2 { print $4 }'; }
for d in "$ROOT" "${TMPDIR:-/tmp}"; do
  echo "[test] free space on $d: $(df -Ph "$d" | awk 'NR == 2 { print $4 " of " $2 }')"
done
if [ "$(free_kib "$ROOT")" -lt $((6 * 1024 * 1024)) ] || [ "$(free_kib "${TMPDIR:-/tmp}")" -lt $((512 * 1024)) ]; then
  echo "[test] less free space than a cold run needs (6 GiB beside the repo, 512 MiB in ${TMPDIR:-/tmp}): failures below may be a full disk" >&2
fi

scripts/install-deps.sh
# install-deps may have put a newer Node under target/tools.
[ -x target/tools/node/bin/node ] && export PATH="$ROOT/target/tools/node/bin:$PATH"

if [ -f ui/package.json ]; then
  echo "[test] UI: type check (svelte-check, strict TS), unit tests, build (ui/dist is embedded in the desktop binary)"
  (cd ui && npm run check --silent && npm run test:unit --silent && npm run build --silent)
fi

export CARGO_TERM_COLOR=never RUST_BACKTRACE=1
# Lint failures fail the run at the end; the tests still run so their results are seen too.
lint_status=0
if cargo fmt --version >/dev/null 2>&1; then
  echo "[test] cargo fmt --check (rustfmt.toml)"
  cargo fmt --check || { echo "[test] the tree is not formatted: run cargo fmt" >&2; lint_status=1; }
else
  echo "[test] rustfmt is not installed: formatting not checked"
fi
if cargo clippy --version >/dev/null 2>&1; then
  echo "[test] cargo clippy --workspace --all-targets -D warnings"
  cargo clippy --workspace --all-targets --locked -- -D warnings || { echo "[test] clippy found problems" >&2; lint_status=1; }
else
  echo "[test] clippy is not installed: lints not checked"
fi
if command -v shellcheck >/dev/null 2>&1; then
  echo "[test] shellcheck: the scripts core sends to hosts (crates/clawkeep-core/src/remote/*.sh)"
  shellcheck -s sh crates/clawkeep-core/src/remote/*.sh || { echo "[test] shellcheck found problems in a host script" >&2; lint_status=1; }
else
  echo "[test] shellcheck is not installed: host scripts not checked"
fi
# Hosts the harness left behind after a crash are removed first (by its own state records).
[ -x scripts/testhosts.sh ] && scripts/testhosts.sh down >/dev/null 2>&1 || true
[ -x scripts/vps.sh ] && scripts/vps.sh reap >/dev/null 2>&1 || true
if [ "$#" -eq 0 ] && [ -x scripts/vps.sh ]; then
  # The VPS box of tests/tests/e2e/vps.rs (Debian + systemd + the real OpenClaw as a systemd user
  # unit): built once into target/vps (~4 min cold: debootstrap + npm), a cache check afterwards.
  vps_t=$(date +%s)
  echo "[test] VPS tree (scripts/vps.sh build)"
  if scripts/vps.sh build; then
    echo "[test] VPS tree ready in $(( $(date +%s) - vps_t )) s"
  else
    echo "[test] the VPS tree could not be built after $(( $(date +%s) - vps_t )) s (tests/tests/e2e/vps.rs will fail)" >&2
  fi
fi

status=0
if [ "$#" -gt 0 ]; then
  scripts/with-secret-service.sh cargo test --locked "$@" || status=$?
else
  scripts/with-secret-service.sh cargo test --workspace --locked --no-fail-fast || status=$?
  if [ "${CLAWKEEP_OPENCLAW_SECOND_PASS:-1}" != 0 ]; then
    old_oc=$(sed -n 's/^pub const OLD_VERSION: &str = "\([^"]*\)";.*/\1/p' tests/src/openclaw.rs)
    echo "[test] the real-OpenClaw tests again against OpenClaw ${old_oc:?} (docs/openclaw-versions.md)"
    pass_start=$(date +%s)
    CLAWKEEP_OPENCLAW_VERSION=$old_oc scripts/with-secret-service.sh cargo test --locked -p clawkeep-tests \
      --test e2e -- checklist::healthy_real_openclaw checklist::real_openclaw_cooldown deploy::real_openclaw || status=$?
    echo "[test] OpenClaw $old_oc pass: $(( $(date +%s) - pass_start )) s"
  fi
  if [ -x scripts/e2e-gui.sh ]; then
    scripts/with-secret-service.sh scripts/e2e-gui.sh || status=$?
  fi
  # The .deb on a clean Debian tree (install, CLI on PATH, app starts, removal keeps the user's
  # data). Opt-in: a release build is ~11 min on 2 cores when no .deb is there yet; ~1–2 min
  # with one (scripts/package-deb.sh makes it).
  if [ "${CLAWKEEP_TEST_DEB:-0}" = 1 ]; then
    scripts/test-deb.sh || status=$?
  fi
fi
[ "$lint_status" = 0 ] || { echo "[test] lints failed (see above)" >&2; [ "$status" != 0 ] || status=1; }
echo "[test] finished in $(( $(date +%s) - start )) s with status $status"
exit "$status"
