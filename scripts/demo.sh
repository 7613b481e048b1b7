#!/usr/bin/env bash
# The Clawkeep demo world: a fake Anthropic API, a few SSH test hosts with OpenClaw layouts and
# (mini) gateways, and a Clawkeep inventory seeded with matching instances and keys: a small
# fleet with the problems Clawkeep exists to catch, each found by `clawkeep check --all`:
#   demo-01, -02, -11…  healthy
#   demo-03   the .env has the new key, the gateway still runs the old one   restart_needed
#   demo-04   the .env holds a truncated key                                key_truncated
#   demo-05, -06  one workspace, a burst of 429s in the gateway logs        shared_rate_limit, rate_limited
#   demo-07   the key expires in 3 days (Console and inventory)             key_expiring_soon (rotate plan)
#   demo-08   host key not trusted yet (nothing is sent to it)              host_key_untrusted
#   demo-09, -10  10's .env has 09's key; the inventory holds 10's own      key_shared_across_instances,
#                                                                            key_of_other_instance
#
#   scripts/demo.sh up [N]     start (default and minimum 10 hosts); prints what to export to use it
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
  n=${2:-10}
  [ "$n" -ge 10 ] || { echo "demo: the fleet needs at least 10 hosts (one per planted problem, two healthy)" >&2; exit 2; }
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
  WS_DEFAULT=wrkspc_01DefaultWorkspace000000 WS_BURST=wrkspc_01ProdAWorkspace00000000
  BURST_LIMITS='{"rpm":20,"itpm":20000,"otpm":4000,"count_tokens_rpm":100}'
  keyval() { awk -F'\t' -v k="$1" '$1==k {print $3}' "$D/keys.tsv"; }
  keyid() { awk -F'\t' -v k="$1" '$1==k {print $2}' "$D/keys.tsv"; }
  mint() { # NAME WORKSPACE [EXPIRES_AT]: one more key in the fake's Console, appended to keys.tsv
    local resp id
    resp=$(curl -fsS -X POST -H 'content-type: application/json' \
      -d "{\"name\":\"$1\",\"workspace_id\":\"$2\"${3:+,\"expires_at\":\"$3\"}}" "$base/__fake/keys")
    id=$(printf '%s' "$resp" | grep -o '"id":"[^"]*"' | head -n1 | cut -d'"' -f4)
    printf '%s\t%s\t%s\n' "$1" "$id" "$(printf '%s' "$resp" | grep -o '"key":"[^"]*"' | head -n1 | cut -d'"' -f4)" >> "$D/keys.tsv"
  }
  put_env() { # HOST KEY [restart]: the key on stdin into the host's .env (never in an argv)
    printf 'ANTHROPIC_API_KEY=%s\n' "$2" | ssh -F "$wd/client/ssh_config" "$1" \
      "umask 077; cat > ~/.openclaw/.env.new && mv -f ~/.openclaw/.env.new ~/.openclaw/.env${3:+ && ~/.local/bin/openclaw-gateway-restart >/dev/null}"
  }
  # 2. the hosts, their OpenClaw providers pointed at the fake
  "$bindir/testworld" up "$n" "${mode[@]}" --base-url "$base" > "$D/world.out"
  sed -n 's/^CK_WORLD_DIR=//p' "$D/world.out" > "$D/world-dir"
  wd=$(cat "$D/world-dir")
  # 3. the inventory (a private CLAWKEEP_HOME) and each host's .env: a deployed fleet with the
  #    problems Clawkeep exists to catch, one per host (see the plan at the top of this file).
  export CLAWKEEP_HOME="$D/clawkeep"
  ck="$bindir/clawkeep"
  "$ck" settings set-base-url "$base" >/dev/null
  "$ck" settings set-ssh-identity --key-file "$wd/client/id_ed25519" >/dev/null
  # The fixture Admin key, so the checklist sees each key's Console status and expiry.
  printf '%s' "$(keyval admin)" | "$ck" key add clawkeep-demo-admin --stdin --allow-name >/dev/null
  mapfile -t hosts < <(grep -v '^#' "$wd/hosts.tsv")
  i=0 burst=() burst_inst=() sharer=""
  for line in "${hosts[@]}"; do
    IFS=$'\t' read -r name addr port user _home gwport fp <<<"$line"
    i=$((i+1))
    # instances are named by position (demo-01…), whatever host slots the world got
    inst=$(printf 'demo-%02d' "$i") workload=$(printf 'agent%02d' "$i")
    keyname="key-$i"
    what="healthy"
    case $i in
      5|6) # the burst pair: keys of one workspace with tight limits (shared 429s, below)
        keyname="burst-$i"; mint "$keyname" "$WS_BURST"; burst+=("$name:$gwport"); burst_inst+=("$inst"); what="429 burst, shared workspace limit" ;;
      7) # a key the Console expires in 3 days: rotate it now
        keyname="expiring-$i"; mint "$keyname" "$WS_DEFAULT" "$(date -u -d '+3 days' +%Y-%m-%dT%H:%M:%SZ)"
        what="key expires in 3 days: overdue for rotation" ;;
    esac
    expires=()
    [ "$i" != 7 ] || expires=(--expires "$(date -u -d '+3 days' +%Y-%m-%d)")
    # shellcheck disable=SC2088 # the tilde is for the host's shell
    "$ck" instance add "$inst" --host "$addr" --port "$port" --user "$user" --owner demo --env prod \
      --workload "$workload" --restart-cmd '~/.local/bin/openclaw-gateway-restart' >/dev/null
    # pin the host key (the checklist and deploy refuse unpinned hosts); the world knows it.
    # The 8th host is left untrusted: the first thing a new host needs.
    if [ "$i" = 8 ]; then what="host key not trusted yet"; else "$ck" host trust "$inst" --fingerprint "$fp" >/dev/null; fi
    printf '%s' "$(keyval "$keyname")" | "$ck" key add "openclaw-demo-prod-$workload" --instance "$inst" --stdin \
      --key-id "$(keyid "$keyname")" "${expires[@]}" >/dev/null
    case $i in
      3) # rotated: the .env has the new key, the running gateway still the old one
        mint "old-$i" "$WS_DEFAULT"
        put_env "$name" "$(keyval "old-$i")" restart
        put_env "$name" "$(keyval "$keyname")"
        what="gateway still runs the old key (not restarted)" ;;
      4) # a key cut short in the .env (a copy/paste accident)
        k=$(keyval "$keyname"); put_env "$name" "${k:0:100}" restart; k=""
        what=".env holds a truncated key" ;;
      10) # the 9th host's key copied here; the inventory holds this host's own
        put_env "$name" "$(keyval key-9)" restart
        what="runs $sharer's key (one key, two instances)" ;;
      *) put_env "$name" "$(keyval "$keyname")" restart ;;
    esac
    [ "$i" != 9 ] || { sharer=$inst; what="its key is copied to the next instance"; }
    printf 'demo: %-8s %-46s (%s: %s@%s:%s, gateway 127.0.0.1:%s)\n' "$inst" "$what" "$name" "$user" "$addr" "$port" "$gwport"
  done
  # The burst: the 5th and 6th hosts share a workspace limited to 20 requests a minute; 30 agent turns
  # through their gateways get 429s, which the gateways log as OpenClaw does.
  curl -fsS -X POST -H 'content-type: application/json' -d "$BURST_LIMITS" "$base/__fake/workspaces/$WS_BURST/rate_limits" >/dev/null
  n429=0
  for b in "${burst[@]}"; do
    for _ in $(seq 100); do curl -fsS "http://127.0.0.1:${b#*:}/health" >/dev/null 2>&1 && break; sleep 0.1; done
  done
  for _ in $(seq 15); do
    for b in "${burst[@]}"; do
      st=$(curl -sS -X POST "http://127.0.0.1:${b#*:}/__turn" | grep -o '"status":[0-9]*' | head -n1 | cut -d: -f2)
      if [ "$st" = 429 ]; then
        n429=$((n429+1))
        printf '{"time":"%s","level":"warn","subsystem":"agent","msg":"rawError=429: {\\"type\\":\\"error\\",\\"error\\":{\\"type\\":\\"rate_limit_error\\"}}"}\n' \
          "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" | ssh -F "$wd/client/ssh_config" "${b%%:*}" 'cat >> ~/.openclaw/logs/openclaw.log'
      fi
    done
  done
  echo "demo: burst on ${burst_inst[0]} and ${burst_inst[1]}: $n429 of 30 agent turns got 429 (shared workspace limit)"
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
*) sed -n '2,/^set -euo/{/^set/!p}' "$0"; exit 2 ;;
esac
