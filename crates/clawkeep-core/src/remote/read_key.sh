# Clawkeep key adoption: the body of the script sent on stdin (`sh -s`) to read one key the
# host-facts script saw, after a prelude onboard/discover.rs builds (single-quoted): N (nonce),
# ST (state dir), SRC (where: dotenv, systemd_env, profile, shared_profile, secret_file, config,
# legacy, models_json, proc), ARG (agent id, file path or pid) and FP (the SHA-256 the facts
# script computed). It prints `value|<key>` for the one candidate whose SHA-256 is FP, on this
# channel's stdout only: the key never goes into argv (printf is a builtin; values move through
# pipes), a file or a log. POSIX sh; `shellcheck -s sh` runs on it in scripts/test.sh.
# shellcheck shell=sh disable=SC2154
umask 077
LC_ALL=C; export LC_ALL
# shellcheck disable=SC2088 # a literal "~" from the inventory is matched, not expanded
case "$ST" in "~") ST=$HOME ;; "~/"*) ST="$HOME/${ST#"~/"}" ;; esac
CR=$(printf '\r')
RE='sk-ant-[a-z]+[0-9]*-[A-Za-z0-9_-]+'
# key-shaped tokens of a (possibly binary) file
cands() {
  [ -r "$1" ] && [ -f "$1" ] || return 0
  grep -aoE "$RE" -- "$1" 2>/dev/null | head -n 200
  tr -c 'A-Za-z0-9_-' '\n' < "$1" 2>/dev/null | grep -E '^sk-ant-[a-z]+[0-9]*-' | head -n 200
}
# what SQL reads from a SQLite file (live rows), else a byte scan of it and its WAL
sqlcands() {
  [ -f "$1" ] || return 0
  if command -v sqlite3 >/dev/null 2>&1 && q=$(sqlite3 -bail -readonly "$1" 'SELECT 1 FROM sqlite_master LIMIT 0;' "$2" 2>/dev/null); then
    printf '%s\n' "$q" | tr -c 'A-Za-z0-9_-' '\n' | grep -E '^sk-ant-[a-z]+[0-9]*-' | head -n 200
  fi
  cands "$1"; cands "$1-wal"
}
# the last ANTHROPIC_API_KEY of a dotenv/EnvironmentFile, by the facts script's rule
envval() {
  [ -r "$1" ] && [ -f "$1" ] || return 0
  v=
  while IFS= read -r l || [ -n "$l" ]; do
    case $l in *ANTHROPIC_API_KEY*=*) ;; *) continue ;; esac
    l=${l%"$CR"}; l=${l#"${l%%[![:space:]]*}"}
    case $l in export[[:space:]]*) l=${l#export}; l=${l#"${l%%[![:space:]]*}"} ;; esac
    case $l in ANTHROPIC_API_KEY*) l=${l#ANTHROPIC_API_KEY}; l=${l#"${l%%[![:space:]]*}"} ;; *) continue ;; esac
    case $l in =*) l=${l#=}; v=${l#"${l%%[![:space:]]*}"} ;; esac
  done < "$1"
  v=${v%% #*}
  case $v in \"*\") v=${v#\"}; v=${v%\"} ;; \'*\') v=${v#\'}; v=${v%\'} ;; esac
  if [ -n "$v" ]; then printf '%s\n' "$v"; fi
}
list() {
  case $SRC in
    dotenv) envval "$ST/.env" ;;
    systemd_env) envval "$ST/gateway.systemd.env"; envval "$ARG" ;;
    profile) sqlcands "$ST/agents/$ARG/agent/openclaw-agent.sqlite" .dump ;;
    shared_profile) sqlcands "$ST/state/openclaw.sqlite" "SELECT value_json FROM config_machine_state WHERE state_key = 'authProfiles.store';" ;;
    legacy) cands "$ST/agents/$ARG/agent/auth-profiles.json" ;;
    models_json) cands "$ST/agents/$ARG/agent/models.json" ;;
    secret_file) cands "$ARG" ;;
    config) cands "$ST/openclaw.json" ;;
    proc) [ -r "/proc/$ARG/environ" ] && tr '\0' '\n' < "/proc/$ARG/environ" 2>/dev/null | sed -n 's/^ANTHROPIC_API_KEY=//p' ;;
  esac
}
echo "CLAWKEEP-READ 1 $N"
list | while IFS= read -r k; do
  [ -n "$k" ] || continue
  h=$(printf '%s' "$k" | sha256sum 2>/dev/null); h=${h%% *}
  if [ "$h" = "$FP" ]; then printf 'value|%s\n' "$k"; break; fi
done
echo "CLAWKEEP-READ-END 1 $N"
