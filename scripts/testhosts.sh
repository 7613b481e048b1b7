#!/usr/bin/env bash
# Clawkeep SSH test hosts (the "test world", tests/src/world.rs) from the command line.
#
#   scripts/testhosts.sh up [N] [--port P] [--same-user] [--no-gateway] [--base-url URL]
#        start N hosts (default 3) and leave them running; prints the world dir, ssh_config,
#        client key, known_hosts and one line per host. Root: users ckh<i>, sshd on
#        127.0.1.<i+1>:22. --same-user (no root needed): hosts log in as you, sshd on
#        127.0.0.1:220NN. Each host has ~/.openclaw/{openclaw.json,.env} and a mini gateway on
#        127.0.0.1:280NN under a supervisor; restart command: ~/.local/bin/openclaw-gateway-restart
#   scripts/testhosts.sh status              list worlds (dir, owner alive?, hosts)
#   scripts/testhosts.sh ssh NAME [CMD…]     ssh into host NAME (h<i>) of the newest world
#   scripts/testhosts.sh down [--force] [DIR…]
#        tear down leftovers by their recorded state: detached worlds and worlds whose owning
#        test process is gone (--force: also worlds of live test processes). Kills only the
#        pids/process groups recorded in the dir (checked against their command line) and the
#        processes of the users the world created; deletes those users, the world's nft
#        table, leases and the dir. Never kills by process name. Pure sh: works without a build.
#
# Root of all worlds: $CLAWKEEP_TESTWORLD_ROOT, default /tmp/ck-world (root) or
# /tmp/ck-world-u<uid> (others).
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -n "${CLAWKEEP_TESTWORLD_ROOT:-}" ]; then root=$CLAWKEEP_TESTWORLD_ROOT
elif [ "$(id -u)" = 0 ]; then root=/tmp/ck-world
else root=/tmp/ck-world-u$(id -u); fi

owner_alive() { # dir -> 0 if owned by a live process or detached
  local o pid start
  o=$(cat "$1/owner" 2>/dev/null || true)
  [ "$o" = detached ] && return 0
  pid=${o%% *}; start=${o##* }
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  # field 22 of /proc/<pid>/stat (after the ")" of the comm field) is the start time
  [ "$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f20)" = "$start" ]
}

cmdline_has() { # pid needle
  [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -qF -- "$2"
}

teardown() { # dir
  local d=$1 f pg pid u home uid p t name
  echo "tearing down $d"
  for f in "$d"/h[0-9]*/gw.pgid; do
    [ -f "$f" ] || continue
    pg=$(cat "$f")
    for p in /proc/[0-9]*; do
      pid=${p#/proc/}
      # field 3 after the ")" of the comm field is the process group
      if [ "$(sed 's/.*) //' "$p/stat" 2>/dev/null | cut -d' ' -f3)" = "$pg" ] && cmdline_has "$pid" "$d"; then
        kill -TERM -- "-$pg" 2>/dev/null || true
        break
      fi
    done
  done
  for f in "$d"/h[0-9]*/sshd.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if cmdline_has "$pid" "$d"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  if [ -f "$d/users" ]; then
    while read -r u; do
      [ -n "$u" ] || continue
      home=$(getent passwd "$u" | cut -d: -f6 || true)
      case "$home" in "$d"/*) ;; *) continue ;; esac
      uid=$(id -u "$u")
      [ "$uid" != 0 ] || continue
      for p in /proc/[0-9]*; do
        [ "$(stat -c %u "$p" 2>/dev/null)" = "$uid" ] && kill -KILL "${p#/proc/}" 2>/dev/null || true
      done
      for _ in $(seq 30); do
        userdel "$u" 2>/dev/null && break
        getent passwd "$u" >/dev/null || break
        sleep 0.1
      done
      getent passwd "$u" >/dev/null && echo "warning: could not delete user $u" >&2
    done < "$d/users"
  fi
  if [ -f "$d/nft-table" ]; then
    t=$(cat "$d/nft-table")
    case "$t" in *[!A-Za-z0-9_]*|'') ;; *) nft delete table inet "$t" 2>/dev/null || true ;; esac
  fi
  name=$(basename "$d")
  for f in "$root"/leases/*; do
    [ -f "$f" ] && [ "$(cat "$f")" = "$name" ] && rm -f "$f"
  done
  rm -rf "$d"
}

newest_world() { ls -dt "$root"/w* 2>/dev/null | head -1; }

cmd=${1:-}; shift || true
case "$cmd" in
up)
  args=()
  case "${1:-}" in ''|-*) args+=(3) ;; esac
  cd "$repo_root"
  cargo build -q -p clawkeep-tests --bins
  bindir="${CARGO_TARGET_DIR:-$repo_root/target}/debug"
  exec "$bindir/testworld" up "${args[@]}" "$@"
  ;;
status)
  for d in "$root"/w*; do
    [ -d "$d" ] || continue
    if owner_alive "$d"; then s="alive ($(cat "$d/owner"))"; else s="LEFTOVER (owner gone)"; fi
    echo "$d  $s  hosts: $(ls -d "$d"/h[0-9]*/ 2>/dev/null | wc -l)"
  done
  ;;
ssh)
  d=$(newest_world); [ -n "$d" ] || { echo "no world under $root" >&2; exit 1; }
  h=${1:?host name, e.g. h0}; shift
  exec ssh -F "$d/client/ssh_config" "$h" "$@"
  ;;
down)
  force=0; dirs=()
  for a in "$@"; do case "$a" in --force) force=1 ;; *) dirs+=("$a") ;; esac; done
  [ -d "$root" ] || { echo "nothing to do ($root absent)"; exit 0; }
  exec 9>"$root/alloc.lock"; flock 9
  if [ ${#dirs[@]} -eq 0 ]; then
    for d in "$root"/w*; do
      [ -d "$d" ] || continue
      o=$(cat "$d/owner" 2>/dev/null || true)
      if [ "$o" = detached ] || [ $force = 1 ] || ! owner_alive "$d"; then teardown "$d"
      else echo "skipping $d: owned by live process ${o%% *} (use --force)"; fi
    done
  else
    for d in "${dirs[@]}"; do
      d=$(cd "$d" && pwd)
      case "$d" in "$root"/w*) teardown "$d" ;; *) echo "not a world dir under $root: $d" >&2; exit 1 ;; esac
    done
  fi
  # leases pointing at vanished worlds
  for f in "$root"/leases/*; do [ -f "$f" ] && [ ! -d "$root/$(cat "$f")" ] && rm -f "$f"; done
  echo "down: done"
  ;;
*) sed -n '2,24p' "$0"; exit 2 ;;
esac
