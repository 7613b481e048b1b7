#!/usr/bin/env bash
# Tests the Debian package the way a user meets it, on a clean Debian 12 tree (a copy of the
# debootstrap tree scripts/vps.sh builds under target/vps/base, entered with chroot in a private
# mount namespace; nothing of this machine's /usr is visible in it):
#   1. its dependencies come from Debian's own packages (apt, offline from a cache), then
#      `dpkg -i Clawkeep_….deb` installs it;
#   2. `clawkeep --version` runs from PATH; the man page, the bash/zsh/fish completions, the
#      desktop entry and the icons are where the desktop and the shells look;
#   3. the app starts: as a plain user on a private X server (Xvfb on this machine, its socket
#      bound in), it renders the Fleet screen (its `mark fleet-rendered` line);
#   4. `dpkg -r` and then `dpkg --purge` remove the programs and leave the user's data dir
#      (made by the CLI and the app) untouched.
#
#   sudo scripts/test-deb.sh [PATH.deb]   default: the newest target/release/bundle/deb/*.deb;
#                                         when there is none, scripts/package-deb.sh builds it
#                                         (about 11 minutes on 2 cores)
#
# Needs root, Xvfb and the VPS base tree (scripts/vps.sh build makes it). The first run
# downloads the package's dependencies (WebKitGTK, GTK: 190 packages, 139 MB; 17 s here) once with the apt in the clean
# tree from the mirror this machine's apt uses, into target/deb-test/ (like vps.sh build); later
# runs are offline. Takes ~1–2 min warm. Opt-in in scripts/test.sh: CLAWKEEP_TEST_DEB=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { echo "[test-deb] $*" >&2; }
die() { echo "[test-deb] FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "scripts/test-deb.sh needs root (chroot, dpkg in a tree, mounts)" >&2; exit 2; }
command -v Xvfb >/dev/null || { echo "scripts/test-deb.sh needs Xvfb (apt-get install xvfb)" >&2; exit 2; }

deb=${1:-}
if [ -z "$deb" ]; then
  deb=$(ls -t target/release/bundle/deb/*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then log "no .deb yet: building it (scripts/package-deb.sh)"; deb=$(scripts/package-deb.sh | tail -n1); fi
fi
[ -f "$deb" ] || die "no package at $deb"
deb=$(realpath "$deb")
pkg=$(dpkg-deb -f "$deb" Package); version=$(dpkg-deb -f "$deb" Version)
depends=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/([^)]*)//g; s/|.*//; s/ //g' | grep -v '^$' | sort -u | tr '\n' ' ')
log "package $pkg $version ($(du -h "$deb" | cut -f1)); depends: $depends"

VPS_DIR="${CLAWKEEP_VPS_DIR:-$ROOT/target/vps}"
[ -d "$VPS_DIR/base/usr" ] || scripts/vps.sh build >&2
CACHE="$ROOT/target/deb-test"
work=$(mktemp -d /tmp/clawkeep-deb-test.XXXXXX)
xpid=""
cleanup() {
  if [ -n "$xpid" ]; then kill "$xpid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Runs a command inside a tree's chroot, with /proc, /sys, /dev and the X socket, in a private
# mount namespace (the mounts end with it). An argv prefix, so a background job can exec it.
# shellcheck disable=SC2016
INROOT=(unshare --mount --propagation private -- sh -c '
    r=$1; shift
    mount -t proc proc "$r/proc" && mount --rbind /sys "$r/sys" && mount --rbind /dev "$r/dev"
    mkdir -p "$r/tmp/.X11-unix" && mount --bind /tmp/.X11-unix "$r/tmp/.X11-unix"
    exec chroot "$r" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 "$@"
  ' inroot)
inroot() { "${INROOT[@]}" "$@"; }

# 1. Dependencies: once, from the mirror (apt-get in a throw-away copy); then from the cache.
stamp="$(cat "$VPS_DIR/base/.clawkeep-vps-stamp" 2>/dev/null) | $depends"
if [ ! -f "$CACHE/stamp" ] || [ "$(cat "$CACHE/stamp")" != "$stamp" ]; then
  log "first run: downloading the dependencies into $CACHE (once)"
  rm -rf "$CACHE"; mkdir -p "$CACHE"
  cp -a "$VPS_DIR/base" "$work/dl"
  cp /etc/resolv.conf "$work/dl/etc/resolv.conf"
  # shellcheck disable=SC2086
  inroot "$work/dl" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --download-only --no-install-recommends $depends" >&2
  mkdir -p "$CACHE/lists" "$CACHE/archives"
  cp -a "$work/dl/var/lib/apt/lists/." "$CACHE/lists/"
  cp -a "$work/dl/var/cache/apt/archives/." "$CACHE/archives/"
  rm -rf "$work/dl"
  echo "$stamp" > "$CACHE/stamp"
fi

R="$work/root"
log "clean tree: a copy of $VPS_DIR/base"
cp -a "$VPS_DIR/base" "$R"
[ ! -e "$R/usr/bin/clawkeep" ] || die "the clean tree already has clawkeep"
cp -a "$CACHE/lists/." "$R/var/lib/apt/lists/"
cp -a "$CACHE/archives/." "$R/var/cache/apt/archives/"
cp "$deb" "$R/tmp/clawkeep.deb"
log "installing the dependencies (offline), then dpkg -i"
# shellcheck disable=SC2086
inroot "$R" sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-download --no-install-recommends $depends" >"$work/apt.log" 2>&1 \
  || { tail -n 30 "$work/apt.log" >&2; die "the dependencies did not install"; }
inroot "$R" dpkg -i /tmp/clawkeep.deb >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; die "dpkg -i failed"; }
inroot "$R" dpkg-query -W -f='${Status}\n' "$pkg" | grep -qx "install ok installed" || die "$pkg is not installed"

# 2. What the package puts where.
v=$(inroot "$R" clawkeep --version) || die "clawkeep --version failed"
[ "$v" = "clawkeep $version" ] || die "clawkeep --version said '$v', want 'clawkeep $version'"
inroot "$R" sh -c 'command -v clawkeep-desktop' >/dev/null || die "clawkeep-desktop is not on PATH"
log "on PATH: clawkeep ($v) and clawkeep-desktop"
zcat "$R/usr/share/man/man1/clawkeep.1.gz" | grep -q '^\.TH clawkeep 1' || die "no man page"
zcat "$R/usr/share/man/man1/clawkeep.1.gz" | grep -q 'rotate' || die "the man page does not list the commands"
inroot "$R" bash -c '. /usr/share/bash-completion/completions/clawkeep && complete -p clawkeep' >/dev/null || die "the bash completion does not load"
grep -q '#compdef clawkeep' "$R/usr/share/zsh/vendor-completions/_clawkeep" || die "no zsh completion"
grep -q 'complete -c clawkeep' "$R/usr/share/fish/vendor_completions.d/clawkeep.fish" || die "no fish completion"
desktop=$(ls "$R"/usr/share/applications/*.desktop 2>/dev/null | head -n1)
[ -n "$desktop" ] || die "no desktop entry"
grep -q '^Exec=clawkeep-desktop' "$desktop" || die "the desktop entry does not start clawkeep-desktop: $(cat "$desktop")"
icon=$(sed -n 's/^Icon=//p' "$desktop")
icons=$(find "$R/usr/share/icons/hicolor" -name "$icon.png" | wc -l)
[ "$icons" -ge 2 ] || die "icon $icon: $icons sizes in hicolor"
log "desktop entry $(basename "$desktop") (icon $icon in $icons sizes), man page, bash/zsh/fish completions: present"

# 3. A user's data, and the app starting on it.
inroot "$R" useradd -m -s /bin/bash alice
ALICE=(setpriv --reuid=alice --regid=alice --init-groups env HOME=/home/alice USER=alice XDG_RUNTIME_DIR=/tmp/alice-run)
asalice() { inroot "$R" "${ALICE[@]}" "$@"; }
install -d -m 700 -o "$(stat -c %u "$R/home/alice")" "$R/tmp/alice-run"
asalice clawkeep instance add acme-prod --host 127.0.0.1 --user openclaw --owner acme --env prod >/dev/null || die "clawkeep instance add failed"
data="$R/home/alice/.local/share/clawkeep"
[ -f "$data/clawkeep.db" ] || die "no data dir at ~/.local/share/clawkeep"

display=""
for n in $(seq 90 140); do [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { display=$n; break; }; done
[ -n "$display" ] || die "no free X display number"
Xvfb ":$display" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xpid=$!
for _ in $(seq 1 100); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done
log "starting clawkeep-desktop as alice on :$display"
# Its own process group (setsid execs: the job's pid is the app's), so the app and its WebKit
# processes are ended together by that id.
( exec setsid "${INROOT[@]}" "$R" "${ALICE[@]}" DISPLAY=":$display" clawkeep-desktop >"$work/app.log" 2>&1 ) &
app=$!
started=0
for _ in $(seq 1 1200); do
  if grep -q 'mark fleet-rendered' "$work/app.log"; then started=1; break; fi
  kill -0 "$app" 2>/dev/null || break
  sleep 0.1
done
kill -TERM -- "-$app" 2>/dev/null || true
wait "$app" 2>/dev/null || true
[ "$started" = 1 ] || { tail -n 30 "$work/app.log" >&2; die "the app did not render its first screen"; }
log "the app started and rendered the Fleet screen ($(grep -o 'mark fleet-rendered [0-9]* ms' "$work/app.log"))"

# 4. Removal leaves the user's data alone (every file, as the CLI and the app left it).
before=$(cd "$data" && find . -type f -exec sha256sum {} + | sort)
inroot "$R" dpkg -r "$pkg" >/dev/null 2>&1 || die "dpkg -r failed"
[ ! -e "$R/usr/bin/clawkeep" ] && [ ! -e "$R/usr/bin/clawkeep-desktop" ] || die "the programs are still there after dpkg -r"
inroot "$R" dpkg --purge "$pkg" >/dev/null 2>&1 || die "dpkg --purge failed"
[ ! -e "$desktop" ] && [ ! -e "$R/usr/share/man/man1/clawkeep.1.gz" ] || die "files left after purge"
after=$(cd "$data" && find . -type f -exec sha256sum {} + | sort)
[ "$before" = "$after" ] || die "the user's data changed on removal"
log "dpkg -r and --purge: programs gone, ~/.local/share/clawkeep untouched ($(echo "$after" | wc -l) files)"
log "PASS"
