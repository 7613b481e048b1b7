#!/usr/bin/env bash
# Team vault benchmark (not a test), issue 15's sizes: N instances with one key each (default
# 1000) over 30 owners (the first owner holds 100), 10 members. The store is a bare repository
# on the local disk (the Git round trip over a network comes on top). Timed, one run each:
#   - the admin's first share of the whole inventory (sync: encrypt, write, commit, push);
#   - the first sync into an empty data dir (an admin attaching: verify, import into SQLite;
#     the secrets stay in the clone, read on use);                   target ≤ 2 s
#   - a no-change sync;                                                    target ≤ 0.3 s + Git
#   - granting a scope of 100 keys;                                        target ≤ 1 s
#   - removing a member with access to everything.                         target ≤ 3 s
# Needs a Secret Service: the script re-runs itself under scripts/with-secret-service.sh.
# Measured 2026-12-05, release, local bare repository, 2 cores shared with other builds:
#   share 1000: 2.6 s; invite an admin (1000 re-encrypted): 1.1 s; first sync into an empty data
#   dir: 9.3 s (target 2 s); no-change sync: 0.51 s (target 0.3 s + Git); grant 100: 1.1 s
#   (target 1 s); remove with access to everything: 5.1 s (target 3 s). Targets not met yet.
# Measured again after the team-perf changes (blobs read by id, commits verified from their
# parent's state plus the files they change, secrets decrypted on every core), 3 runs of the old
# and new builds interleaved, load average 0.4–1.9, medians old → new: first sync 7.4 → 1.8 s;
# no-change sync 0.38 → 0.08 s; grant 100: 0.61 → 0.31 s; remove: 2.1 → 1.6 s. What is left of
# the first sync is mostly git writing the 3,000-file work tree of the clone, whose cost on this
# VM's ext4 grows with recent deletions by other jobs: a plain `git clone` of the benchmark's
# repository took 0.4 s, then 2.3 s an hour later (0.07 s on tmpfs); new builds' first sync
# ranged 0.9–2.6 s over six runs.
#   scripts/bench-team.sh [N] [debug|release]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
PROFILE=${2:-release}
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  exec scripts/with-secret-service.sh "$0" "$@"
fi
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
if [ "$PROFILE" = release ]; then
  cargo build --release -q -p clawkeep-cli --bin clawkeep
else
  cargo build -q -p clawkeep-cli --bin clawkeep
fi
CK=$TARGET/$PROFILE/clawkeep

work=$(mktemp -d /tmp/ck-bench-team.XXXXXX)
services=()
cleanup() {
  for s in "${services[@]:-}"; do
    if [ -n "$s" ]; then secret-tool clear service "$s" 2>/dev/null || true; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

git init -q --bare --initial-branch=main "$work/team.git"
member() { # name → data dir, keychain service, signing key
  local n=$1
  mkdir -p "$work/$n"
  ssh-keygen -q -t ed25519 -N "" -C "$n" -f "$work/$n.key"
  services+=("ck-bench-team-$$-$n")
}
ck() { # member, args…
  local n=$1
  shift
  CLAWKEEP_HOME="$work/$n" CLAWKEEP_KEYCHAIN_SERVICE="ck-bench-team-$$-$n" "$CK" "$@"
}
now_ms() { date +%s%3N; }
timed() { # label, member, args…
  local label=$1 t0 t1
  shift
  t0=$(now_ms)
  ck "$@" >/dev/null
  t1=$(now_ms)
  printf '%-52s %6d ms\n' "$label" $((t1 - t0))
}
# A well-formed fake key made here, never stored in the tree.
fake_key() {
  printf 'sk-ant-api03-%sAA' "$(head -c 200 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 93)"
}

MEMBERS=(alice bob carol m4 m5 m6 m7 m8 m9 m10)
for m in "${MEMBERS[@]}"; do member "$m"; done
ck alice team join --name alice --signing-key "$work/alice.key" >/dev/null
ck alice team init "$work/team.git" >/dev/null

echo "making $N instances and keys…"
for i in $(seq 1 "$N"); do
  if [ "$i" -le 100 ]; then o=o1; else o=o$((2 + i % 29)); fi
  ck alice instance add "i$i" --host 127.0.0.1 --user oc --owner "$o" --env prod --restart-cmd true >/dev/null
  fake_key | ck alice key add "k$i" --instance "i$i" --stdin --allow-name >/dev/null
done

timed "admin shares $N instances + keys (first sync)" alice team sync
for m in "${MEMBERS[@]:1}"; do
  j=$(ck "$m" --json team join --name "$m" --signing-key "$work/$m.key")
  r=$(printf '%s' "$j" | sed -n 's/.*"recipient":"\([^"]*\)".*/\1/p')
  s=$(printf '%s' "$j" | sed -n 's/.*"signing_key":"\([^"]*\)".*/\1/p')
  if [ "$m" = bob ]; then
    timed "invite an admin (all $N secrets re-encrypted)" alice team invite "$m" --recipient "$r" --signing-key "$s" --admin
  else
    ck alice team invite "$m" --recipient "$r" --signing-key "$s" >/dev/null
  fi
done
for k in $(seq 4 10); do ck alice team grant "m$k" "o$k" >/dev/null; done

timed "first sync into an empty data dir ($N keys)" bob team init "$work/team.git"
timed "no-change sync" bob team sync
timed "grant a scope of 100 keys" alice team grant carol o1
timed "remove a member with access to everything" alice team remove bob --yes
