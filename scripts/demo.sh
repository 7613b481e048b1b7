#!/usr/bin/env bash
# The Clawkeep demo world: a fake Anthropic API, a few SSH test hosts with OpenClaw layouts and
# (mini) gateways, and a Clawkeep inventory seeded with matching instances and keys.
#
#   scripts/demo.sh up [N]     start (default 3 hosts); prints what to export to use it
#   scripts/demo.sh down       stop everything the demo started (by its recorded state)
#   scripts/demo.sh status
#
# Without root (a person's desktop) the hosts log in as you on 127.0.0.1:220NN, each with its
# own HOME under the demo dir; nothing is changed outside the demo dir. As root the hosts are
# real users ckh<i> on 127.0.1.<i+1>:22 (the script says so before creating them).
# Keys go to your OS keychain through the CLI. Where no Secret Service is running (a server, an
# SSH login) the demo starts a private one with a throw-away keyring in its own dir (it says so,
# and demo.env points the CLI at it; `down` stops it). All traffic stays on 127.0.0.0/8.
#
# State: $CLAWKEEP_DEMO_DIR (default <repo>/.testworld/demo): fake.pid, fake-state.json,
# keys.tsv (0600), world-dir, clawkeep/ (the demo's CLAWKEEP_HOME), demo.env.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
D=${CLAWKEEP_DEMO_DIR:-$repo/.testworld/demo}
FAKE_PORT=${CLAWKEEP_DEMO_FAKE_PORT:-18555}
bindir="${CARGO_TARGET_DIR:-$repo/target}/debug"

down() {
  [ -d "$D" ] || { echo "demo: nothing to stop ($D absent)"; return 0; }
  if [ -f "$D/fake.pid" ]; then
    pid=$(cat "$D/fake.pid")
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$D/fake-state.json"; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  fi
  if [ -f "$D/world-dir" ] && [ -d "$(cat "$D/world-dir")" ]; then
    "$repo/scripts/testhosts.sh" down "$(cat "$D/world-dir")"
  fi
  "$repo/scripts/secret-service.sh" stop "$D/secret-service"
  rm -rf "$D"
  echo "demo: down"
}

case "${1:-}" in
up)
  n=${2:-3}
  [ ! -e "$D/fake.pid" ] || { echo "demo already up ($D); run scripts/demo.sh down first" >&2; exit 1; }
  if [ "$(id -u)" = 0 ]; then
    mode=()
    echo "demo: running as root: creating $n Unix users (ckh<i>) with sshd on 127.0.1.<i+1>:22"
  else
    mode=(--same-user)
    echo "demo: no root: $n hosts log in as $(id -un) on 127.0.0.1:220NN (separate HOMEs)"
  fi
  (cd "$repo" && cargo build -q -p fake-anthropic -p clawkeep-cli -p clawkeep-tests --bins)
  mkdir -p "$D"; chmod 700 "$D"
  ss_env=""
  if ! "$repo/scripts/secret-service.sh" running; then
    "$repo/scripts/secret-service.sh" start "$D/secret-service"
    ss_env="$D/secret-service/secret-service.env"
    # shellcheck disable=SC1090
    . "$ss_env"
    echo "demo: no Secret Service in this session: started a private one for the demo (throw-away keyring in $D/secret-service)"
  fi
  # 1. the fake Anthropic API, with one minted key per host
  "$bindir/fake-anthropic" --listen "127.0.0.1:$FAKE_PORT" --preset demo --state "$D/fake-state.json" \
    --mint "$n" --keys-out "$D/keys.tsv" >"$D/fake.log" 2>&1 &
  echo $! > "$D/fake.pid"
  base="http://127.0.0.1:$FAKE_PORT"
  for _ in $(seq 100); do curl -fsS "$base/__fake/clock" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "$base/__fake/clock" >/dev/null || { echo "fake did not start:"; cat "$D/fake.log"; down; exit 1; }
  # 2. the hosts, their OpenClaw providers pointed at the fake
  "$bindir/testworld" up "$n" "${mode[@]}" --base-url "$base" > "$D/world.out"
  sed -n 's/^CK_WORLD_DIR=//p' "$D/world.out" > "$D/world-dir"
  wd=$(cat "$D/world-dir")
  # 3. the inventory (a private CLAWKEEP_HOME) and each host's .env, as a deployed fleet
  export CLAWKEEP_HOME="$D/clawkeep"
  ck="$bindir/clawkeep"
  "$ck" settings set-base-url "$base" >/dev/null
  "$ck" settings set-ssh-identity --key-file "$wd/client/id_ed25519" >/dev/null
  i=0
  grep -v '^#' "$wd/hosts.tsv" | while IFS=$'\t' read -r name addr port user home gwport fp; do
    i=$((i+1))
    inst="demo-$name"
    key=$(awk -F'\t' -v k="key-$i" '$1==k {print $3}' "$D/keys.tsv")
    keyid=$(awk -F'\t' -v k="key-$i" '$1==k {print $2}' "$D/keys.tsv")
    "$ck" instance add "$inst" --host "$addr" --port "$port" --user "$user" --owner demo --env prod \
      --workload "$name" --restart-cmd '~/.local/bin/openclaw-gateway-restart' >/dev/null
    # pin the host key (the checklist and deploy refuse unpinned hosts); the world knows it
    "$ck" host trust "$inst" --fingerprint "$fp" >/dev/null
    printf '%s' "$key" | "$ck" key add "openclaw-demo-prod-$name" --instance "$inst" --stdin --key-id "$keyid" >/dev/null
    printf 'ANTHROPIC_API_KEY=%s\n' "$key" | ssh -F "$wd/client/ssh_config" "$name" \
      'umask 077; cat > ~/.openclaw/.env.new && mv -f ~/.openclaw/.env.new ~/.openclaw/.env && ~/.local/bin/openclaw-gateway-restart >/dev/null'
    echo "demo: $inst ($user@$addr:$port, gateway 127.0.0.1:$gwport, host key $fp)"
  done
  cat > "$D/demo.env" <<EOF
export CLAWKEEP_HOME=$D/clawkeep
export CLAWKEEP_ANTHROPIC_BASE_URL=$base
export CK_SSH_CONFIG=$wd/client/ssh_config
EOF
  [ -z "$ss_env" ] || grep '^export DBUS_SESSION_BUS_ADDRESS=' "$ss_env" >> "$D/demo.env"
  echo "demo: up. Use it with:  source $D/demo.env && $bindir/clawkeep instance list"
  echo "      ssh into a host:   ssh -F $wd/client/ssh_config h<i>      stop: scripts/demo.sh down"
  ;;
down) down ;;
status)
  [ -d "$D" ] || { echo "demo: down"; exit 0; }
  echo "demo dir $D"; [ -f "$D/fake.pid" ] && echo "fake pid $(cat "$D/fake.pid")"
  [ -f "$D/world-dir" ] && cat "$(cat "$D/world-dir")/hosts.tsv"
  # exit 1 when a part of it is gone (e.g. after a reboot): `down` then `up` again
  kill -0 "$(cat "$D/fake.pid" 2>/dev/null || echo x)" 2>/dev/null || { echo "demo: the fake API is not running"; exit 1; }
  if [ -f "$D/secret-service/secret-service.env" ]; then
    kill -0 "$(sed -n 's/^export CK_SECRET_SERVICE_PID=//p' "$D/secret-service/secret-service.env")" 2>/dev/null \
      || { echo "demo: its private Secret Service is not running"; exit 1; }
  fi
  ;;
*) sed -n '2,17p' "$0"; exit 2 ;;
esac
