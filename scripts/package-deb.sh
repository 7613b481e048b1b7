#!/usr/bin/env bash
# Builds the Debian package of Clawkeep with the Tauri bundler: the desktop app
# (/usr/bin/clawkeep-desktop, a desktop entry, hicolor icons) plus the `clawkeep` CLI on PATH,
# its man page and its bash/zsh/fish completions (generated from the CLI's clap definition by
# `clawkeep man` and `clawkeep completions SHELL`; src-tauri/tauri.deb.conf.json maps them).
#
#   scripts/package-deb.sh            release build (about 11 minutes on 2 cores, cold)
#
# Prints the path of the .deb on its last line: target/release/bundle/deb/Clawkeep_<v>_<arch>.deb.
# Install it with `sudo apt install ./Clawkeep_….deb` (pulls WebKitGTK) and remove it with
# `sudo apt remove clawkeep`: your inventory and keychain entries stay (they are in your home
# directory and your keychain, never in the package). scripts/test-deb.sh tests exactly that.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[ -x target/tools/node/bin/node ] && export PATH="$ROOT/target/tools/node/bin:$PATH"
[ -x ui/node_modules/.bin/tauri ] || (cd ui && npm ci --no-audit --no-fund)

echo "[deb] building the CLI (release)" >&2
cargo build --locked --release -p clawkeep-cli --bin clawkeep
pkg=target/release/pkg
mkdir -p "$pkg"
target/release/clawkeep man | gzip -9n > "$pkg/clawkeep.1.gz"
target/release/clawkeep completions bash > "$pkg/clawkeep.bash"
target/release/clawkeep completions zsh > "$pkg/_clawkeep"
target/release/clawkeep completions fish > "$pkg/clawkeep.fish"

echo "[deb] building the UI" >&2
(cd ui && npm run build --silent) >&2
echo "[deb] building the desktop app and the package (tauri build --bundles deb)" >&2
ui/node_modules/.bin/tauri build --bundles deb --config src-tauri/tauri.deb.conf.json >&2
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' src-tauri/tauri.conf.json)
deb=$(ls -t target/release/bundle/deb/Clawkeep_"${version}"_*.deb | head -n1)
echo "[deb] $(du -h "$deb" | cut -f1) $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)" >&2
echo "$ROOT/$deb"
