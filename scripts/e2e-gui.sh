#!/usr/bin/env bash
# End-to-end test of the desktop app in a real window.
#
# Builds the UI and the debug app with embedded assets, installs tauri-driver if missing,
# starts Xvfb and tauri-driver (which starts WebKitWebDriver, which starts the app), runs the
# WebDriver journey in ui/e2e/ with node's test runner, then tears everything down by process
# group. Runs inside a private D-Bus session with an unlocked gnome-keyring (it re-executes
# itself under scripts/with-secret-service.sh when no Secret Service is on the bus), with a
# throw-away CLAWKEEP_HOME, XDG dirs and keychain service name.
#
# Real sshd test hosts (testworld up 3 --no-gateway) for the onboarding wizard, torn down at the end.
# Output: screenshots of each screen and the logs under artifacts/gui-e2e/; last line
# `gui-e2e: N passed, M failed`. Exit status non-zero on any failure.
#
# Needs (Debian): libwebkit2gtk-4.1-dev webkit2gtk-driver xvfb dbus gnome-keyring; node + npm.
# Env: GUI_E2E_ARTIFACTS_DIR (default artifacts/gui-e2e), CARGO_TARGET_DIR (default ./target), CLAWKEEP_TOOLS_DIR (where tauri-driver is
#      installed; default $CARGO_TARGET_DIR/tools), GUI_E2E_SKIP_BUILD=1 to reuse the last build.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { echo "gui-e2e: $*" >&2; }

has_secret_service() {
  [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] && dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true
}
if ! has_secret_service; then
  wss="$ROOT/scripts/with-secret-service.sh"
  [ -f "$wss" ] || wss="$ROOT/../shared/scripts/with-secret-service.sh"
  say "no Secret Service on the session bus: starting a private one ($wss)"
  exec bash "$wss" bash "$0" "$@"
fi

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
TOOLS="${CLAWKEEP_TOOLS_DIR:-$TARGET/tools}"
ART="${GUI_E2E_ARTIFACTS_DIR:-$ROOT/artifacts/gui-e2e}"
mkdir -p "$(dirname "$ART")"
# One run at a time per artifacts directory (a second run waits).
exec 9>"$ART.lock"
flock 9
rm -rf "$ART"; mkdir -p "$ART/screens"
started=$(date +%s)

if [ -z "${GUI_E2E_SKIP_BUILD:-}" ]; then
  say "building the UI"
  ( cd ui
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi
    npm run build ) >"$ART/build-ui.log" 2>&1 || { cat "$ART/build-ui.log" >&2; say "0 passed, 1 failed"; exit 1; }
  say "building the app (debug, embedded assets) and the CLI"
  cargo build -p clawkeep-desktop --features tauri/custom-protocol 2>"$ART/build-app.log" || { tail -50 "$ART/build-app.log" >&2; say "0 passed, 1 failed"; exit 1; }
  mkdir -p "$TARGET/gui-e2e"
  # `cargo test` rewrites target/debug/clawkeep-desktop without embedded assets: keep a copy.
  cp "$TARGET/debug/clawkeep-desktop" "$TARGET/gui-e2e/clawkeep-desktop"
  cargo build -p clawkeep-cli -p fake-anthropic 2>"$ART/build-cli.log" || { tail -50 "$ART/build-cli.log" >&2; say "0 passed, 1 failed"; exit 1; }
  # The sshd test hosts the onboarding wizard takes over (tests/src/bin/testworld.rs).
  cargo build -p clawkeep-tests --bins 2>"$ART/build-testworld.log" || { tail -50 "$ART/build-testworld.log" >&2; say "0 passed, 1 failed"; exit 1; }
fi
if [ ! -x "$TOOLS/bin/tauri-driver" ]; then
  say "installing tauri-driver into $TOOLS (once)"
  cargo install tauri-driver --locked --version '^2' --root "$TOOLS" >"$ART/install-tauri-driver.log" 2>&1 \
    || { tail -30 "$ART/install-tauri-driver.log" >&2; say "0 passed, 1 failed"; exit 1; }
fi
command -v WebKitWebDriver >/dev/null || { say "WebKitWebDriver not found (Debian package webkit2gtk-driver)"; say "0 passed, 1 failed"; exit 1; }

RUN="$(mktemp -d /tmp/clawkeep-gui-e2e.XXXXXX)"
export CLAWKEEP_HOME="$RUN/home"
export CLAWKEEP_KEYCHAIN_SERVICE="clawkeep-gui-e2e-$$-$RANDOM"
export XDG_DATA_HOME="$RUN/xdg-data" XDG_CONFIG_HOME="$RUN/xdg-config" XDG_CACHE_HOME="$RUN/xdg-cache"
# The app's save dialog answers this path (WebDriver cannot click a native dialog).
export CLAWKEEP_E2E_SAVE_PATH="$RUN/rotations.ics"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
export WEBKIT_DISABLE_COMPOSITING_MODE=1 NO_AT_BRIDGE=1
unset CLAWKEEP_ANTHROPIC_BASE_URL

pids=()
WORLD=""
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  if [ -n "$WORLD" ]; then "$ROOT/scripts/testhosts.sh" down "$WORLD" >"$ART/testworld-down.log" 2>&1 || true; fi
  rm -rf "$RUN"
}
trap cleanup EXIT

# Three real sshd test hosts on 127.0.0.0/8 for the onboarding wizard (no gateway; the journey
# writes each host's .env). As root: users ckh<i>; otherwise hosts log in as you.
world_args=(3 --no-gateway)
[ "$(id -u)" = 0 ] || world_args+=(--same-user)
"$TARGET/debug/testworld" up "${world_args[@]}" >"$ART/testworld.out" 2>"$ART/testworld.log" \
  || { tail -30 "$ART/testworld.log" >&2; say "the test hosts did not start"; say "0 passed, 1 failed"; exit 1; }
WORLD=$(sed -n 's/^CK_WORLD_DIR=//p' "$ART/testworld.out")
[ -d "$WORLD" ] || { say "no world dir in testworld's output"; say "0 passed, 1 failed"; exit 1; }
export GUI_E2E_WORLD_DIR="$WORLD"

# Xvfb picks a free display and tells us which; its screen holds the journey's widest window (1,920 × 1,080).
setsid Xvfb -displayfd 3 -screen 0 1920x1080x24 -nolisten tcp 3>"$RUN/display" >"$ART/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$RUN/display" ] && break; sleep 0.05; done
[ -s "$RUN/display" ] || { say "Xvfb did not start"; say "0 passed, 1 failed"; exit 1; }
export DISPLAY=":$(head -1 "$RUN/display")"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port); NATIVE_PORT=$(free_port)
# Its own process group: tauri-driver, WebKitWebDriver and the app go down together.
# The app's stdout/stderr land in this log (it is leak-checked too).
setsid "$TOOLS/bin/tauri-driver" --port "$PORT" --native-port "$NATIVE_PORT" >"$ART/tauri-driver.log" 2>&1 </dev/null &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

export GUI_E2E_APP="$TARGET/gui-e2e/clawkeep-desktop"
export GUI_E2E_DRIVER="http://127.0.0.1:$PORT/"
export GUI_E2E_CLI="$TARGET/debug/clawkeep"
export GUI_E2E_FAKE="$TARGET/debug/fake-anthropic"
export GUI_E2E_ARTIFACTS="$ART/screens"
export GUI_E2E_SCAN="$CLAWKEEP_HOME:$XDG_DATA_HOME:$XDG_CONFIG_HOME:$XDG_CACHE_HOME:$ART/tauri-driver.log"

say "running the WebDriver journey on $DISPLAY (driver :$PORT)"
rc=0
( cd ui && timeout 300 node --test --test-force-exit --test-reporter=tap --test-concurrency=1 e2e/ ) >"$ART/journey.tap" 2>&1 || rc=$?
grep -E "^(not )?ok |^# (Subtest|pass|fail)|^\s+(error|expected|actual|at ):" "$ART/journey.tap" >&2 || true
[ "$rc" -ne 0 ] && { say "journey output:"; tail -60 "$ART/journey.tap" >&2; }
passed=$(grep -cE '^ok [0-9]+ ' "$ART/journey.tap" || true)
failed=$(grep -cE '^not ok [0-9]+ ' "$ART/journey.tap" || true)
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
say "took $(( $(date +%s) - started )) s; screenshots and logs in artifacts/gui-e2e/"
echo "gui-e2e: $passed passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
