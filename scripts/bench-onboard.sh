#!/usr/bin/env bash
# Onboarding benchmark (not a test): N test hosts (default 50), each with its own key in
# ~/.openclaw/.env, onboarded in one `clawkeep onboard --from-csv … --known-fingerprints …
# --yes --adopt` (host keys fetched in parallel and verified against the list, discovery in one
# round trip per host, the key read over the pinned channel into the keychain, records and
# audit written) into a fresh data dir; then the same work by hand, scripted: one `ssh-keyscan`
# and one `ssh … cat ~/.openclaw/.env` per host, one host after the other (no keychain, no
# record: the lower bound of the manual way). Prints the median wall time of each.
#
# Needs root (the test world makes users and sshds on 127.0.1.N), openssh-server and a Secret
# Service: the script re-runs itself under scripts/with-secret-service.sh.
#   scripts/bench-onboard.sh [N] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50}
RUNS=${2:-3}
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  exec scripts/with-secret-service.sh "$0" "$@"
fi
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release -q -p clawkeep-cli --bin clawkeep
cargo build -q -p clawkeep-tests --bin testworld --bin mini-gateway
CK=$TARGET/release/clawkeep
TW=$TARGET/debug/testworld

work=$(mktemp -d /tmp/ck-bench.XXXXXX)
world_dir=
cleanup() {
  if [ -n "$world_dir" ]; then "$TW" down "$world_dir" >/dev/null 2>&1 || true; fi
  for s in "${services[@]:-}"; do
    if [ -n "$s" ]; then secret-tool clear service "$s" 2>/dev/null || true; fi
  done
  rm -rf "$work"
}
services=()
trap cleanup EXIT

echo "bringing up $N test hosts…"
"$TW" up "$N" --no-gateway > "$work/up.txt"
# shellcheck disable=SC1090
eval "$(grep '^CK_' "$work/up.txt")"
world_dir=$CK_WORLD_DIR

fake_key() { # a well-formed fake key, made now (never committed)
  printf '%s%s%sAA' 'sk-ant-' 'api03-' "$(head -c 300 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 93)"
}
echo "name,host,port,user" > "$work/fleet.csv"
: > "$work/known"
grep -v '^#' "$CK_HOSTS_TSV" | while IFS=$'\t' read -r name addr port user home _gw fp; do
  printf '# client env\nexport ANTHROPIC_API_KEY="%s"\n' "$(fake_key)" > "$home/.openclaw/.env"
  chown "$user" "$home/.openclaw/.env"; chmod 600 "$home/.openclaw/.env"
  echo "acme-prod-$name,$addr,$port,$user" >> "$work/fleet.csv"
  echo "$addr:$port $fp" >> "$work/known"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "clawkeep onboard --yes --adopt, $N hosts ($RUNS runs, a fresh data dir each)…"
: > "$work/ck.times"
for r in $(seq "$RUNS"); do
  export CLAWKEEP_HOME=$work/ck$r CLAWKEEP_KEYCHAIN_SERVICE=clawkeep-bench-onboard-$$-$r
  services+=("$CLAWKEEP_KEYCHAIN_SERVICE")
  "$CK" settings set-ssh-identity --key-file "$CK_CLIENT_KEY" >/dev/null
  t0=$(date +%s.%N)
  "$CK" onboard --from-csv "$work/fleet.csv" --known-fingerprints "$work/known" --yes --adopt --owner acme --env prod --concurrency "$N" > "$work/ck.out" 2>&1 ||
    { tail -n 20 "$work/ck.out"; echo "clawkeep onboard failed"; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l >> "$work/ck.times"
  tail -n1 "$work/ck.out"
  grep -q "$N key(s) adopted" "$work/ck.out" || { echo "expected $N adopted keys"; exit 1; }
done
ck_med=$(median < "$work/ck.times")

echo "by hand, scripted: ssh-keyscan + ssh cat per host ($RUNS runs)…"
: > "$work/hand.times"
for r in $(seq "$RUNS"); do
  t0=$(date +%s.%N)
  grep -v '^#' "$CK_HOSTS_TSV" | while IFS=$'\t' read -r name addr port user _rest; do
    ssh-keyscan -T 5 -p "$port" -t ed25519 "$addr" > "$work/kh.$name" 2>/dev/null
    ssh -n -F /dev/null -i "$CK_CLIENT_KEY" -o IdentitiesOnly=yes -o UserKnownHostsFile="$work/kh.$name" -o StrictHostKeyChecking=yes \
      -o BatchMode=yes -p "$port" "$user@$addr" 'cat ~/.openclaw/.env' > /dev/null
  done
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l >> "$work/hand.times"
done
hand_med=$(median < "$work/hand.times")

printf 'onboard %d hosts: clawkeep %.2f s (median of %d; target <= 3 s); by hand (keyscan + ssh cat, scripted, no keychain) %.2f s\n' \
  "$N" "$ck_med" "$RUNS" "$hand_med"
