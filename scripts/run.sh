#!/usr/bin/env bash
# Installs what Clawkeep needs on Debian 12, builds the CLI and the desktop app, and starts it.
#
#   scripts/run.sh            build and start the desktop app on your own inventory
#   scripts/run.sh --demo     first start the demo world (a local Anthropic API fake, test hosts,
#                             a seeded inventory in its own data dir) and open the app on it
#   scripts/run.sh --release  an optimised build (about 11 minutes on 2 cores; default: debug)
#
# Without a display (no $DISPLAY / $WAYLAND_DISPLAY) it builds everything and, with --demo, runs
# the CLI tour against the demo world (otherwise prints it). Where no Secret Service is running,
# the demo starts a private one (see scripts/demo.sh). A second --demo reuses a demo that is up.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
demo=0; profile=debug; cargo_profile=()
for a in "$@"; do
  case "$a" in
    --demo) demo=1 ;;
    --release) profile=release; cargo_profile=(--release) ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
[ -x target/tools/node/bin/node ] && export PATH="$ROOT/target/tools/node/bin:$PATH"

echo "[run] building the CLI"
cargo build --locked "${cargo_profile[@]}" -p clawkeep-cli --bin clawkeep
if [ -f ui/package.json ]; then
  echo "[run] building the UI and the desktop app (assets embedded)"
  (cd ui && npm run build --silent)
  cargo build --locked "${cargo_profile[@]}" -p clawkeep-desktop --features tauri/custom-protocol
fi
BIN="$ROOT/target/$profile"
echo "[run] the CLI is $BIN/clawkeep (add it to PATH: export PATH=\"$BIN:\$PATH\")"

if [ "$demo" = 1 ]; then
  # The demo's own data dir, Anthropic fake and test hosts (see scripts/demo.sh).
  demo_env="${CLAWKEEP_DEMO_DIR:-$ROOT/.testworld/demo}/demo.env"
  if [ -f "$demo_env" ] && ! scripts/demo.sh status >/dev/null 2>&1; then scripts/demo.sh down; fi
  if [ -f "$demo_env" ]; then echo "[run] the demo world is already up: reusing it"; else scripts/demo.sh up; fi
  # shellcheck disable=SC1090
  . "$demo_env"
  echo "[run] demo world up (CLAWKEEP_HOME=$CLAWKEEP_HOME); stop it with scripts/demo.sh down"
fi

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x "$BIN/clawkeep-desktop" ]; then
  echo "[run] starting Clawkeep"
  exec "$BIN/clawkeep-desktop"
fi

if [ "$demo" = 1 ]; then
  echo
  echo "No display here, so the desktop app was built but not started. The CLI tour, on the demo world:"
  export PATH="$BIN:$PATH"
  tour() { echo; echo "\$ $*"; "$@" || echo "(exit $?)"; }
  tour clawkeep self-check
  tour clawkeep instance list
  tour clawkeep key list
  first=$(clawkeep --json instance list | grep -o '"name": *"[^"]*"' | head -n1 | sed 's/.*"\([^"]*\)"$/\1/')
  tour clawkeep check --all
  [ -z "$first" ] || tour clawkeep deploy "$first" --dry-run
  tour clawkeep rotate plan
  tour clawkeep audit --since 1h
  cat <<EOT

Go on from here in your shell:
  source $demo_env; export PATH="$BIN:\$PATH"
  clawkeep --help                                       # every command; --json on every read
  scripts/demo.sh down                                  # stop the demo world
EOT
  exit 0
fi

cat <<EOT

No display here, so the desktop app was built but not started. A short CLI tour:

  export PATH="$BIN:\$PATH"
  clawkeep self-check                                   # store and OS keychain reachable?
  clawkeep instance add acme-prod-1 --host 203.0.113.10 --user openclaw \\
      --owner acme --env prod --workload support-bot    # an OpenClaw VPS
  clawkeep key suggest-name --instance acme-prod-1      # openclaw-acme-prod-support-bot
  clawkeep key add openclaw-acme-prod-support-bot --instance acme-prod-1
                                                        # paste the key at the hidden prompt
  clawkeep instance list                                # the fleet, with key hint and age
  clawkeep audit                                        # every change, newest first

EOT
