#!/usr/bin/env bash
# Usage: scripts/with-secret-service.sh CMD [ARGS...]      e.g.  scripts/with-secret-service.sh cargo test
#
# Runs CMD inside a private D-Bus session bus (dbus-run-session) with gnome-keyring-daemon's
# Secret Service component started and its "login" collection created+unlocked with a known
# password. Keyring files go to a throw-away $XDG_DATA_HOME, so nothing touches ~/.local/share.
# When CMD exits, dbus-run-session tears the bus down and gnome-keyring-daemon exits with it.
#
# Debian 12 packages: dbus (dbus-run-session, dbus-send), gnome-keyring,
#                     libsecret-tools (optional: secret-tool for debugging),
#                     libdbus-1-dev + pkg-config (build-time, for keyring's libdbus backend)
set -euo pipefail
if [ -z "${_KS_INNER:-}" ]; then
  export _KS_INNER=1
  # gnome-keyring keeps its files in $XDG_DATA_HOME/keyrings (do NOT change $HOME:
  # cargo/rustup would lose ~/.cargo and ~/.rustup)
  own_data=""; own_run=""
  if [ -z "${KS_DATA_HOME:-}" ]; then own_data=1; fi
  export XDG_DATA_HOME="${KS_DATA_HOME:-$(mktemp -d /tmp/ks-data.XXXXXX)}"
  if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
    own_run=1; export XDG_RUNTIME_DIR="$(mktemp -d /tmp/ks-run.XXXXXX)"; chmod 700 "$XDG_RUNTIME_DIR"
  fi
  rc=0
  dbus-run-session -- "$0" "$@" || rc=$?
  if [ -n "$own_data" ]; then rm -rf "$XDG_DATA_HOME"; fi
  if [ -n "$own_run" ]; then rm -rf "$XDG_RUNTIME_DIR"; fi
  exit "$rc"
fi
# --- inside the private bus ---
# --unlock reads the password from stdin; on a fresh data dir it CREATES the "login"
# collection with that password and makes it the default alias. Without --unlock the
# collection does not exist and every write fails with NoStorageAccess(NoResult).
printf '%s' "${KEYRING_PASSWORD:-ci-test-password}" \
  | gnome-keyring-daemon --unlock --components=secrets >/dev/null
# wait until org.freedesktop.secrets is owned on the bus
for _ in $(seq 50); do
  if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
       org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true; then
    break
  fi
  sleep 0.1
done
exec "$@"
