#!/usr/bin/env bash
# A private Secret Service that outlives this script, for the demo on a machine without one
# (a server, a container, an SSH login): its own D-Bus session bus and gnome-keyring-daemon,
# with a throw-away "login" keyring under DIR. Nothing outside DIR is touched.
#
#   scripts/secret-service.sh running        exit 0 when the current session has a Secret Service
#   scripts/secret-service.sh start DIR      start one (or reuse the one DIR already runs);
#                                            writes DIR/secret-service.env (source it to use it)
#   scripts/secret-service.sh stop DIR       stop it (the keyring daemon exits with its bus)
#
# The keyring's password is a fixed demo value: this is for demo data, never for real keys
# (for those, use your desktop session's keyring). scripts/with-secret-service.sh is the
# variant for one command (tests); this one stays up until `stop`.
set -euo pipefail

has_secret_service() {
  [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || return 1
  local q=(dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus)
  "${q[@]}" org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true' && return 0
  # a desktop session starts gnome-keyring / KeePassXC on first use
  "${q[@]}" org.freedesktop.DBus.ListActivatableNames 2>/dev/null | grep -q '"org.freedesktop.secrets"'
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

case "${1:-}" in
running) has_secret_service ;;
start)
  dir=${2:?usage: secret-service.sh start DIR}
  mkdir -p "$dir"; chmod 700 "$dir"; dir=$(cd "$dir" && pwd)
  if [ -f "$dir/secret-service.env" ]; then
    # shellcheck disable=SC1091
    . "$dir/secret-service.env"
    if pid_alive "${CK_SECRET_SERVICE_PID:-}" && has_secret_service; then exit 0; fi
  fi
  mkdir -p "$dir/data" "$dir/run"; chmod 700 "$dir/data" "$dir/run"
  rm -f "$dir/run/bus"
  out=$(dbus-daemon --session --fork --address="unix:path=$dir/run/bus" --print-address=1 --print-pid=1)
  addr=$(printf '%s\n' "$out" | sed -n 1p); pid=$(printf '%s\n' "$out" | sed -n 2p)
  export DBUS_SESSION_BUS_ADDRESS=$addr XDG_DATA_HOME=$dir/data XDG_RUNTIME_DIR=$dir/run
  # --unlock reads the password on stdin and creates the "login" collection on a fresh dir.
  printf '%s' "clawkeep-demo" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  for _ in $(seq 50); do has_secret_service && break; sleep 0.1; done
  has_secret_service || { echo "secret-service: gnome-keyring did not come up on $addr" >&2; kill "$pid" 2>/dev/null || true; exit 1; }
  umask 077
  cat > "$dir/secret-service.env" <<EOF
export DBUS_SESSION_BUS_ADDRESS=$addr
export CK_SECRET_SERVICE_PID=$pid
EOF
  ;;
stop)
  dir=${2:?usage: secret-service.sh stop DIR}
  [ -f "$dir/secret-service.env" ] || exit 0
  pid=$(sed -n 's/^export CK_SECRET_SERVICE_PID=//p' "$dir/secret-service.env")
  if pid_alive "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q dbus-daemon; then kill "$pid" 2>/dev/null || true; fi
  rm -f "$dir/secret-service.env"
  ;;
*) sed -n '2,13p' "$0"; exit 2 ;;
esac
