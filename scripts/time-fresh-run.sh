#!/usr/bin/env bash
# Times README's first command, `scripts/run.sh --demo`, as on a fresh Debian 12 machine (not a
# test; the number goes in README.md). The machine is the VPS box's debootstrap tree
# (scripts/vps.sh: Debian bookworm minbase with systemd, ssh, curl, CA certificates) under
# systemd-nspawn, sharing this machine's network so apt, crates.io and npm are reached as
# usual; a user `dev` with sudo, this machine's own CA certificates and npm config (every
# machine of this kind has them), and the Rust toolchain bind-mounted read-only (README: "Rust
# must be installed"). Nothing else is warm: no packages beyond the base, empty cargo and npm
# caches, a clone of HEAD with no target dir, no display, no D-Bus session. It then runs the
# command twice more in one session: the builds up to date, then with the demo still up
# (reused), and stops the demo.
#   sudo scripts/time-fresh-run.sh          output in target/fresh-run/{first,again}.log
# Needs root, systemd-container and overlayfs; builds target/vps first when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[ "$(id -u)" = 0 ] || { echo "needs root (overlayfs, systemd-nspawn)" >&2; exit 1; }
BASE=${CLAWKEEP_VPS_DIR:-$ROOT/target/vps}/base
[ -d "$BASE/etc" ] || scripts/vps.sh build
TOOLCHAIN=$(rustc --print sysroot)
F=$ROOT/target/fresh-run
mkdir -p "$F"
cleanup() { umount "$F/root" 2>/dev/null || true; rm -rf "$F/upper" "$F/work" "$F/root"; }
trap cleanup EXIT
cleanup
mkdir -p "$F/upper" "$F/work" "$F/root"
mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$F/upper,workdir=$F/work" "$F/root"
cp /usr/local/share/ca-certificates/*.crt "$F/root/usr/local/share/ca-certificates/" 2>/dev/null || true
cat > "$F/root/setup.sh" <<'EOS'
set -e
update-ca-certificates >/dev/null
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends sudo git >/dev/null
useradd -m -s /bin/bash dev
echo 'dev ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/dev
git -c safe.directory='*' clone -q /src.git /home/dev/clawkeep && chown -R dev:dev /home/dev/clawkeep
EOS
cat > "$F/root/timed.sh" <<'EOS'
cd ~/clawkeep
export PATH=/opt/rust/bin:$PATH CARGO_HOME=$HOME/.cargo
unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS
start=$(date +%s%N)
el() { echo $(( ($(date +%s%N) - start) / 1000000000 )); }
scripts/run.sh --demo 2>&1 | while IFS= read -r l; do printf '[%5ss] %s\n' "$(el)" "$l"; done
echo "EXIT ${PIPESTATUS[0]} after $(el) s"
EOS
NS=(systemd-nspawn -q --register=no --keep-unit -D "$F/root" --bind-ro="$TOOLCHAIN:/opt/rust" --bind-ro="$ROOT/.git:/src.git")
"${NS[@]}" /bin/bash /setup.sh
[ -f "$HOME/.npmrc" ] && install -m 644 "$HOME/.npmrc" "$F/root/home/dev/.npmrc"
AS_DEV=(--user=dev --chdir=/home/dev -E HOME=/home/dev -E NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt -E SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt)
"${NS[@]}" "${AS_DEV[@]}" /bin/bash /timed.sh | tee "$F/first.log" | grep -E '^\[ *[0-9]+s\] \[(deps|run)\]|^EXIT'
echo "--- again, builds up to date; then again with the demo up"
"${NS[@]}" "${AS_DEV[@]}" /bin/bash -c 'bash /timed.sh; bash /timed.sh; cd ~/clawkeep && scripts/demo.sh down >/dev/null' | tee "$F/again.log" | grep -E '^EXIT|reusing'
