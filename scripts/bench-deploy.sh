#!/usr/bin/env bash
# Deploy benchmark (not a test): one key to each of N test hosts (default 50) with
# `clawkeep deploy --all --yes` (plan + atomic .env write + gateway restart + /readyz +
# effective-key check, one SSH connection per host), then the same file push with Ansible
# (`ansible-core` from PyPI in a venv under the target dir, `copy` module, forks = N), on the same
# hosts in the same run. Prints both wall times and the ratio.
#
# Needs root (the test world makes users and sshds on 127.0.1.N), openssh-server, nftables,
# and a Secret Service: the script re-runs itself under scripts/with-secret-service.sh.
#   scripts/bench-deploy.sh [N] [RUNS]
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

VENV=$TARGET/bench-venv
if [ ! -x "$VENV/bin/ansible" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q ansible-core
fi

work=$(mktemp -d /tmp/ck-bench.XXXXXX)
world_dir=
cleanup() {
  [ -n "$world_dir" ] && "$TW" down "$world_dir" >/dev/null 2>&1 || true
  [ -n "${CLAWKEEP_KEYCHAIN_SERVICE:-}" ] && secret-tool clear service "$CLAWKEEP_KEYCHAIN_SERVICE" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "bringing up $N test hosts…"
"$TW" up "$N" > "$work/up.txt"
# shellcheck disable=SC1090
eval "$(grep '^CK_' "$work/up.txt")"
world_dir=$CK_WORLD_DIR

export CLAWKEEP_HOME=$work/ck CLAWKEEP_KEYCHAIN_SERVICE=clawkeep-bench-$$
"$CK" settings set-ssh-identity --key-file "$CK_CLIENT_KEY" >/dev/null
fake_key() { # a well-formed fake key, made now (never committed)
  printf '%s%s%sAA' 'sk-ant-' 'api03-' "$(head -c 200 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 93)"
}
grep -v '^#' "$CK_HOSTS_TSV" | while IFS=$'\t' read -r name addr port user home gwport fp; do
  "$CK" instance add "b-$name" --host "$addr" --port "$port" --user "$user" --owner bench --env prod \
    --workload bot --restart-cmd "$CK_RESTART_COMMAND" --tag bench >/dev/null
  "$CK" host trust "b-$name" --fingerprint "$fp" >/dev/null
  fake_key | "$CK" key add "openclaw-bench-prod-bot-$name" --instance "b-$name" --stdin --allow-name >/dev/null
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "clawkeep deploy --all --yes --concurrency $N ($RUNS runs)…"
: > "$work/ck.times"
for r in $(seq "$RUNS"); do
  # put another key in every host's .env first, so every run really changes every host
  grep -v '^#' "$CK_HOSTS_TSV" | while IFS=$'\t' read -r name addr port user home _rest; do
    printf '# bench\nOTHER=1\nANTHROPIC_API_KEY=%s\n' "$(fake_key)" > "$home/.openclaw/.env"
    chown "$user" "$home/.openclaw/.env"; chmod 600 "$home/.openclaw/.env"
  done
  # the test world's supervisor holds back restarts of a gateway younger than 2 s (crash-loop
  # guard); let the previous run's gateways age past that
  sleep 2.5
  t0=$(date +%s.%N)
  "$CK" deploy --all --yes --concurrency "$N" > "$work/ck.out" 2>&1 || { cat "$work/ck.out"; echo "clawkeep deploy failed"; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l >> "$work/ck.times"
  tail -n1 "$work/ck.out"
done
ck_med=$(median < "$work/ck.times")

# Ansible: the same .env push (mode 0600) with the copy module, forks = N, pipelining on.
cat > "$work/ansible.cfg" <<EOF
[defaults]
forks = $N
host_key_checking = True
interpreter_python = /usr/bin/python3
gathering = explicit
stdout_callback = minimal
[ssh_connection]
pipelining = True
ssh_args = -F $CK_SSH_CONFIG
EOF
{
  echo "[hosts]"
  grep -v '^#' "$CK_HOSTS_TSV" | cut -f1
} > "$work/inventory.ini"
printf '# pushed by ansible\nANTHROPIC_API_KEY=%s\n' "$(fake_key)" > "$work/env"
echo "ansible copy, forks $N ($RUNS runs)…"
: > "$work/ans.times"
for r in $(seq "$RUNS"); do
  printf '# pushed by ansible run %s\nANTHROPIC_API_KEY=%s\n' "$r" "$(fake_key)" > "$work/env"
  t0=$(date +%s.%N)
  ANSIBLE_CONFIG=$work/ansible.cfg "$VENV/bin/ansible" all -i "$work/inventory.ini" -m copy \
    -a "src=$work/env dest=~/.openclaw/.env mode=0600" > "$work/ans.out" 2>&1 || { tail -20 "$work/ans.out"; echo "ansible failed"; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l >> "$work/ans.times"
done
ans_med=$(median < "$work/ans.times")

echo
echo "hosts: $N   runs: $RUNS   machine: $(nproc) cores"
echo "clawkeep deploy (plan+write+restart+readyz+verify) wall s: $(tr '\n' ' ' < "$work/ck.times")  median $ck_med"
echo "ansible copy (file push only)                   wall s: $(tr '\n' ' ' < "$work/ans.times")  median $ans_med"
echo "ratio ansible/clawkeep: $(echo "$ans_med / $ck_med" | bc -l | cut -c1-5)"
