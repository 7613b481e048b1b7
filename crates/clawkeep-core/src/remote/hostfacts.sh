# Clawkeep host facts: the body of the read-only script the checklist sends to a host on
# stdin (`sh -s`), after a prelude of variable assignments that checklist/hostfacts.rs builds
# (all single-quoted): N (report nonce), PURL (API base URL for the opt-in probe, or empty),
# ST (state dir), AGENTS, UNIT, C1H/C24H (log cut-offs), D0/D1 (dates). It prints fingerprints
# of keys, never keys. POSIX sh; `shellcheck -s sh` runs on it in scripts/test.sh.
# shellcheck shell=sh disable=SC2154
umask 077
LC_ALL=C; export LC_ALL
# shellcheck disable=SC2088 # a literal "~" from the inventory is matched, not expanded
case "$ST" in "~") ST=$HOME ;; "~/"*) ST="$HOME/${ST#"~/"}" ;; esac
if command -v timeout >/dev/null 2>&1; then TO() { timeout "$@"; }; else TO() { shift; "$@"; }; fi
# Cheap on a busy host: shell builtins wherever the shell can do the work, one process per tool
# otherwise (a fleet check runs this on every host at once; each fork+exec costs ~1 ms of CPU).
o() { printf '%s\n' "$*"; }
CR=$(printf '\r')
# emitk SOURCE VALUE: length, hint and SHA-256 of a key; the value itself is never printed.
emitk() {
  [ -n "$2" ] || return 0
  hs=$(printf '%s' "$2" | sha256sum 2>/dev/null); hs=${hs%% *}
  # hint as keyfmt::hint: first 16 + last 4 from 40 characters on; first 4 from 16; else none
  # (a short proxy token must never come back whole or mostly)
  if [ "${#2}" -ge 40 ]; then ha=${2%"${2#????????????????}"}; hb=${2#"${2%????}"}
  elif [ "${#2}" -ge 16 ]; then ha=${2%"${2#????}"}; hb=
  else ha=; hb=; fi
  printf 'key|%s|%s...%s|%s|%s\n' "${#2}" "$ha" "$hb" "$hs" "$1"
  if [ -n "$PURL" ]; then probek "$1" "$hs" "$2"; fi
  return 0
}
# probek SOURCE SHA256 KEY (opt-in): GET /v1/models?limit=1 from this host with a key the gateway
# could use; the key reaches curl on stdin as a header file, never in argv. Once per key, at most 8.
PDONE=; PN=0
probek() {
  case $1 in proc:*|dotenv|systemd_env|unit_env|profile:*|shared_profile|config:*) ;; *) return 0 ;; esac
  case "$PDONE" in *"|$2|"*) return 0 ;; esac
  PDONE="$PDONE|$2|"; PN=$((PN + 1)); [ "$PN" -le 8 ] || return 0
  if ! command -v curl >/dev/null 2>&1; then o "hprobe|$2|0||||no_curl||curl is not installed on the host"; return 0; fi
  printf 'x-api-key: %s\nanthropic-version: 2023-06-01\n' "$3" |
    TO 20 curl -sS -D - -o - --connect-timeout 5 --max-time 15 -H @- "$PURL/v1/models?limit=1" 2>&1 | head -c 65536 |
    awk -v fp="$2" '
      function val(s) { sub(/^[^:]*:[ \t]*/, "", s); return s }
      { sub(/\r$/, "") }
      /^HTTP\/[0-9.]+ [0-9][0-9][0-9]/ { st = $2; body = 0; next }
      /^curl: \([0-9]+\)/ { err = $0; next }
      body == 0 && $0 == "" && st != "" { body = 1; next }
      body == 0 { l = tolower($0)
        if (l ~ /^request-id:/) rid = val($0)
        else if (l ~ /^anthropic-organization-id:/) org = val($0)
        else if (l ~ /^anthropic-workspace-id:/) ws = val($0)
        next }
      { if (et == "" && match($0, /"type"[ \t]*:[ \t]*"[a-z_]*error"/)) { et = substr($0, RSTART, RLENGTH); sub(/^.*:[ \t]*"/, "", et); sub(/"$/, "", et) }
        if (msg == "" && match($0, /"message"[ \t]*:[ \t]*"[^"]*"/)) { msg = substr($0, RSTART, RLENGTH); sub(/^"message"[ \t]*:[ \t]*"/, "", msg); sub(/"$/, "", msg) } }
      function f(x) { gsub(/[|]/, "/", x); return x }
      END { s = f(org) "|" f(ws) "|" f(rid) "|" f(et) "|" f(msg) "|" f(err)
        gsub(/sk-ant-[A-Za-z0-9_-]+/, "<key>", s); gsub(/[\001-\037]/, " ", s)
        printf "hprobe|%s|%d|%s\n", fp, st + 0, substr(s, 1, 600) }'
}
# a key-shaped token with a body (a bare `sk-ant-oat01-` prefix in code or docs is not one)
WRE='sk-ant-[a-z]+[0-9]*-[A-Za-z0-9_-]{16}'
# scanb SOURCE FILE [RE]: every key-shaped token (or every token matching RE) of a (possibly
# binary) file.
scanb() {
  [ -r "$2" ] && [ -f "$2" ] || return 0
  tr -c 'A-Za-z0-9_-' '\n' < "$2" 2>/dev/null | grep -E "${3:-^sk-ant-[a-z]+[0-9]*-}" | head -n 50 | while IFS= read -r k; do emitk "$1" "$k"; done
}
# sqlkeys SOURCE DB SQL: key-shaped tokens in what SQL reads from a SQLite file (live rows, WAL
# included); when sqlite3 is missing or fails (not a database, another schema), a byte scan of
# the file and its WAL (which may also see deleted rows).
sqlkeys() {
  [ -f "$2" ] || return 0
  if command -v sqlite3 >/dev/null 2>&1 && q=$(TO 10 sqlite3 -bail -readonly "$2" 'SELECT 1 FROM sqlite_master LIMIT 0;' "$3" 2>/dev/null); then
    printf '%s\n' "$q" | tr -c 'A-Za-z0-9_-' '\n' | grep -E '^sk-ant-[a-z]+[0-9]*-' | head -n 50 | while IFS= read -r k; do emitk "$1" "$k"; done
  else
    scanb "$1" "$2"; scanb "$1" "$2-wal"
  fi
}
# authstate STORE DB TABLE COLUMN KEY: the auth profiles OpenClaw has locally taken out of use
# after a failure (`usageStats` of its auth-profile state: cooldownUntil / disabledUntil still in
# the future), as `authstate|STORE|PROFILE|cooldown or disabled|ms left|reason`; `authread|STORE`
# when the state could be read. The state holds no key. Needs sqlite3 (with JSON, 3.38+).
authstate() {
  [ -f "$2" ] && command -v sqlite3 >/dev/null 2>&1 || return 0
  # shellcheck disable=SC2016 # $.x are JSON paths for SQLite, not shell variables
  if r=$(TO 10 sqlite3 -bail -readonly -separator '|' "$2" "SELECT replace(replace(p.key,'|','/'),char(10),' '),
      CASE WHEN ifnull(json_extract(p.value,'$.disabledUntil'),0) > n THEN 'disabled' ELSE 'cooldown' END,
      CAST(max(ifnull(json_extract(p.value,'$.cooldownUntil'),0), ifnull(json_extract(p.value,'$.disabledUntil'),0)) - n AS INTEGER),
      replace(CASE WHEN ifnull(json_extract(p.value,'$.disabledUntil'),0) > n THEN ifnull(json_extract(p.value,'$.disabledReason'),'')
        ELSE ifnull(json_extract(p.value,'$.cooldownReason'),'') END,'|','/')
    FROM (SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) AS n), $3 s, json_each(s.$4, '$.usageStats') p
    WHERE s.state_key = '$5' AND json_type(p.value) = 'object'
      AND max(ifnull(json_extract(p.value,'$.cooldownUntil'),0), ifnull(json_extract(p.value,'$.disabledUntil'),0)) > n;" 2>/dev/null); then
    o "authread|$1"
    printf '%s\n' "$r" | head -n 50 | while IFS= read -r l; do [ -n "$l" ] && o "authstate|$1|$l"; done
  fi
  return 0
}
# envkey SOURCE FILE: the last ANTHROPIC_API_KEY of a dotenv/EnvironmentFile (read by the shell).
envkey() {
  [ -r "$2" ] && [ -f "$2" ] || return 0
  v=
  while IFS= read -r l || [ -n "$l" ]; do
    case $l in *ANTHROPIC_API_KEY*=*) ;; *) continue ;; esac
    l=${l%"$CR"}; l=${l#"${l%%[![:space:]]*}"}
    case $l in export[[:space:]]*) l=${l#export}; l=${l#"${l%%[![:space:]]*}"} ;; esac
    case $l in ANTHROPIC_API_KEY*) l=${l#ANTHROPIC_API_KEY}; l=${l#"${l%%[![:space:]]*}"} ;; *) continue ;; esac
    case $l in =*) l=${l#=}; v=${l#"${l%%[![:space:]]*}"} ;; esac
  done < "$2"
  v=${v%% #*}
  case $v in \"*\") v=${v#\"}; v=${v%\"} ;; \'*\') v=${v#\'}; v=${v%\'} ;; esac
  if [ -n "$v" ]; then emitk "$1" "$v"; fi
}
echo "CLAWKEEP-FACTS 1 $N"
# `id` once: "uid=1001(name) gid=…"
x=$(id 2>/dev/null); x=${x#uid=}; U=${x%%[!0-9]*}
case $x in "$U("*) UN=${x#*\(}; UN=${UN%%\)*} ;; *) UN= ;; esac
o "user|$UN|$U"
o "home|$HOME"
o "state|$ST"
OSN=
if [ -r /etc/os-release ]; then
  while IFS= read -r l || [ -n "$l" ]; do case $l in PRETTY_NAME=*) OSN=${l#PRETTY_NAME=} ;; esac; done < /etc/os-release
fi
OSN=${OSN#\"}; OSN=${OSN%\"}
o "os|$OSN"
KS=; KR=
{ read -r KS < /proc/sys/kernel/ostype; read -r KR < /proc/sys/kernel/osrelease; } 2>/dev/null
if [ -n "$KR" ]; then o "kernel|$KS $KR"; else o "kernel|$(uname -sr 2>/dev/null)"; fi
o "cpus|$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)"
MEM=
{ while read -r k v _; do case $k in MemTotal:) MEM=$v; break ;; esac; done < /proc/meminfo; } 2>/dev/null
o "mem_kb|$MEM"
OC=$(command -v openclaw 2>/dev/null)
for c in "$HOME/.local/openclaw/npm-global/bin/openclaw" "$HOME/.npm-global/bin/openclaw" "$HOME/.local/bin/openclaw"; do
  [ -z "$OC" ] && [ -x "$c" ] && OC=$c
done
if [ -n "$OC" ]; then o "openclaw|$(TO 15 "$OC" --version 2>/dev/null </dev/null | head -n 1)"; else o "openclaw|"; fi
# permissions of the state dir and secret-bearing files: one stat for all of them
stat -c '%a|%u|%U|%Y|%n' -- "$ST" "$ST/.env" "$ST/openclaw.json" "$ST/gateway.systemd.env" \
  "$ST"/agents/*/agent/openclaw-agent.sqlite "$ST"/agents/*/agent/auth-profiles.json "$ST/state/openclaw.sqlite" "$ST"/secrets/* 2>/dev/null |
while IFS= read -r l; do
  case ${l#*|*|*|*|} in
    "$ST") k=state_dir ;; "$ST/.env") k="env" ;; "$ST/openclaw.json") k=config ;; "$ST/gateway.systemd.env") k=systemd_env ;; *) k="secret" ;;
  esac
  o "stat|$k|$l"
done
for f in "$ST"/openclaw.json.clobbered.*; do [ -e "$f" ] && o "clobbered|${f##*/}"; done
# the config, key-shaped strings replaced by numbered markers (hashed here)
lf=
if [ -r "$ST/openclaw.json" ]; then
  o "config|present"
  awk '{ b += length($0) + 1; if (b > 262144) exit; line=$0; out="";
      while (match(line, /sk-ant-[a-z]+[0-9]*-[A-Za-z0-9_-]+/)) { n++; print "K" n " " substr(line, RSTART, RLENGTH); out = out substr(line, 1, RSTART-1) "__CK_KEY_" n "__"; line = substr(line, RSTART+RLENGTH) }
      print "L" out line }' "$ST/openclaw.json" 2>/dev/null | while IFS= read -r l; do
    case $l in
      K*) n=${l%% *}; emitk "config:${n#K}" "${l#* }" ;;
      L*) printf 'cfg|%s\n' "${l#L}" ;;
    esac
  done
  # log files named in the config (for the log counts below)
  lf=$(awk 'match($0, /"?file"?[ \t]*:[ \t]*"[^"]*"/) { s = substr($0, RSTART, RLENGTH); sub(/^[^:]*:[ \t]*"/, "", s); sub(/"$/, "", s); print s; if (++n == 3) exit }' "$ST/openclaw.json" 2>/dev/null)
  # paths named in the config: file secret providers among them (scanned below)
  sp=$(awk 'match($0, /"?path"?[ \t]*:[ \t]*"[^"]*"/) { s = substr($0, RSTART, RLENGTH); sub(/^[^:]*:[ \t]*"/, "", s); sub(/"$/, "", s); print s; if (++n == 10) exit }' "$ST/openclaw.json" 2>/dev/null)
else
  o "config|missing"
fi
# secret files a config SecretRef may read: the state dir's secrets/ and the config's paths
# (small regular files only; the gateway reads them only through a SecretRef)
sseen=" "
for f in "$ST"/secrets/* "$ST"/secrets/*/* $sp; do
  # shellcheck disable=SC2088 # a literal "~" from the config is matched, not expanded
  case "$f" in "~/"*) f="$HOME/${f#"~/"}" ;; esac
  case "$sseen" in *" $f "*) continue ;; esac
  sseen="$sseen$f "
  if [ -f "$f" ] && [ -r "$f" ] && [ "$(wc -c < "$f" 2>/dev/null)" -le 65536 ]; then
    scanb "secret_file:$f" "$f" "^$WRE"
  fi
done
# agents: configured and discovered; their auth profiles (live rows via sqlite3 when present)
set --
for d in "$ST"/agents/*/; do [ -d "$d" ] || continue; d=${d%/}; set -- "$@" "${d##*/}"; done
seen=" "
for a in $AGENTS "$@"; do
  case "$seen" in *" $a "*) continue ;; esac
  seen="$seen$a "
  d="$ST/agents/$a/agent"
  if [ -d "$d" ]; then o "agent|$a|1"; else o "agent|$a|0"; fi
  sqlkeys "profile:$a" "$d/openclaw-agent.sqlite" .dump
  authstate "agent:$a" "$d/openclaw-agent.sqlite" auth_profile_state state_json primary
  scanb "legacy:$a" "$d/auth-profiles.json"
  scanb "models_json:$a" "$d/models.json"
done
# the shared auth-profile store of OpenClaw 2026.9+ (every agent's, in the state database)
sqlkeys shared_profile "$ST/state/openclaw.sqlite" "SELECT value_json FROM config_machine_state WHERE state_key = 'authProfiles.store';"
authstate shared "$ST/state/openclaw.sqlite" config_machine_state value_json authProfiles.state
# the running gateway: its real process environment
# (the user's own processes by a builtin scan of /proc, then one grep over just their command
# lines: pgrep -f would read every process of the machine)
set --
for d in /proc/[0-9]*; do [ -O "$d" ] && set -- "$@" "$d/cmdline"; done
pids=
if [ $# -gt 0 ]; then
  # shellcheck disable=SC2013 # /proc/<pid>/cmdline paths have no spaces
  for f in $(grep -a -l -e gateway -- "$@" 2>/dev/null); do f=${f#/proc/}; pids="$pids ${f%/cmdline}"; done
fi
mp=
if [ -n "$UNIT" ] && command -v systemctl >/dev/null 2>&1; then
  mp=$(TO 5 systemctl --user show -p MainPID --value "$UNIT" 2>/dev/null)
  o "unitpid|$mp"
  case "$mp" in ''|0|*[!0-9]*) ;; *) pids="$mp $pids" ;; esac
fi
gseen=" "
for p in $pids; do
  case "$gseen" in *" $p "*) continue ;; esac
  gseen="$gseen$p "
  [ -r "/proc/$p/cmdline" ] || continue
  cmd=$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null)
  a0=${cmd%% *}; a0=${a0##*/}
  case "$a0" in sh|bash|dash|zsh|pgrep|sudo|ssh|timeout) continue ;; esac
  # a gateway whose environment names another HOME serves another OpenClaw install of this
  # user (several installs under one account, e.g. the no-root demo world): not this one's
  if [ -r "/proc/$p/environ" ]; then
    ph=$(tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -m 1 '^HOME=')
    [ -z "$ph" ] || [ "${ph#HOME=}" = "$HOME" ] || continue
  fi
  printf 'proc|%s|%s|%.300s\n' "$p" "$(stat -c %Y "/proc/$p" 2>/dev/null)" "$cmd"
  # in the unit's cgroup, or started by hand beside it (a restart of the unit can't replace it)
  if [ -n "$UNIT" ] && [ -n "$mp" ] && [ -r "/proc/$p/cgroup" ]; then
    if grep -q "/${UNIT%.service}\.service\$" "/proc/$p/cgroup" 2>/dev/null; then o "proccg|$p|1"; else o "proccg|$p|0"; fi
  fi
  if [ -r "/proc/$p/environ" ]; then
    v=$(tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -m 1 '^ANTHROPIC_API_KEY=')
    v=${v#ANTHROPIC_API_KEY=}
    if [ -n "$v" ]; then emitk "proc:$p" "$v"; else o "procenv|$p|none"; fi
  else
    o "procenv|$p|unreadable"
  fi
done
# env files: the state dir's .env, the service's env files
envkey dotenv "$ST/.env"
envkey systemd_env "$ST/gateway.systemd.env"
if [ -n "$UNIT" ]; then
  uf="$HOME/.config/systemd/user/${UNIT%.service}.service"
  if [ -r "$uf" ]; then
    sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$uf" | while IFS= read -r ef; do
      case "$ef" in "$ST/gateway.systemd.env") ;; *) envkey "systemd_env" "$ef" ;; esac
    done
  fi
  # the unit's environment as systemd loaded it: the unit file and its drop-ins
  # (`systemctl --user edit` writes ~/.config/systemd/user/<unit>.service.d/override.conf);
  # the unit file alone when the user manager cannot be asked
  if command -v systemctl >/dev/null 2>&1 && ue=$(TO 5 systemctl --user show -p Environment --value "$UNIT" 2>/dev/null); then
    v=$(printf '%s\n' "$ue" | tr ' ' '\n' | sed -n 's/^"\{0,1\}ANTHROPIC_API_KEY=//p' | tail -n 1 | tr -d '"')
  elif [ -r "$uf" ]; then
    v=$(sed -n 's/^Environment="\{0,1\}ANTHROPIC_API_KEY=//p' "$uf" | tail -n 1 | tr -d '"')
  else
    v=
  fi
  emitk unit_env "$v"
fi
# keys in shell history and in world-readable files under the home directory
for f in .bash_history .zsh_history .sh_history .histfile .local/share/fish/fish_history .python_history .node_repl_history .psql_history .mysql_history; do
  scanb "history:$HOME/$f" "$HOME/$f"
done
# (a key there has a body: a bare prefix such as `sk-ant-oat01-` in code or docs is not one;
# installed packages and the npm cache are skipped: OpenClaw in the user's npm prefix ships
# such prefixes, and reading its ~650 MB on every check would be slow)
find "$HOME" -xdev -maxdepth 6 -type d \( -name node_modules -o -name .npm \) -prune -o -type f -perm -004 -size -4096k -exec grep -lE "$WRE" {} + 2>/dev/null | { n=0; while [ $n -lt 200 ] && IFS= read -r f; do
  n=$((n + 1)); scanb "world:$f" "$f" "^$WRE"
done; }
# the config OpenClaw restores when it rejects the live one (a literal key in it comes back then)
scanb lastgood "$ST/openclaw.json.last-good" "^$WRE"
# keys OpenClaw itself left in plain text in its own files (its catalog cache, the config audit
# log, saved command output, …): every file under the state dir except the stores a key is
# meant to live in (.env, openclaw.json, the SQLite stores, profiles, secrets/, env files) and
# the backups Clawkeep and OpenClaw keep of those
find "$ST" -xdev -maxdepth 5 -type f -size -4096k \
  ! -name .env ! -name 'openclaw.json' ! -name 'openclaw.json.*' ! -name '*.sqlite' ! -name '*.sqlite-wal' ! -name '*.sqlite-shm' \
  ! -name auth-profiles.json ! -name models.json ! -name 'gateway.systemd.env' ! -name '*.clawkeep-bak' ! -path "$ST/secrets/*" \
  -exec grep -lE "$WRE" {} + 2>/dev/null | { n=0; while [ $n -lt 50 ] && IFS= read -r f; do
  n=$((n + 1)); scanb "leftover:$f" "$f" "^$WRE"
done; }
# gateway logs: 429/529/401 counts in the last hour and day (each file once: the config may
# name one that the state dir's logs/ also holds)
lseen=
{
  for f in $lf "/tmp/openclaw/openclaw-$D1.log" "/tmp/openclaw/openclaw-$D0.log" "$ST"/logs/*.log; do
    # shellcheck disable=SC2015 # either test failing means skip
    [ -f "$f" ] && [ -r "$f" ] || continue
    case "$lseen" in *"|$f|"*) continue ;; esac
    lseen="$lseen|$f|"
    echo "@@logsrc $f"
    tail -c 20000000 "$f" 2>/dev/null
  done
  if [ -n "$UNIT" ] && command -v journalctl >/dev/null 2>&1; then
    echo "@@logsrc journal:$UNIT"
    TO 10 journalctl --user -u "$UNIT" --since "-24h" --utc -o short-iso --no-pager -q 2>/dev/null | tail -n 200000
  fi
} | awk -v c1="$C1H" -v c24="$C24H" '
  /^@@logsrc / { print "logsrc|" substr($0, 10); next }
  { if (match($0, /20[0-9][0-9]-[01][0-9]-[0-3][0-9][T ][0-2][0-9]:[0-5][0-9]:[0-5][0-9]/)) { t = substr($0, RSTART, RLENGTH); sub(/ /, "T", t) } else next
    if (t < c24) next
    n++
    if ($0 ~ /rate_limit_error|HTTP 429|rawError=429|"status":429|status=429|API rate limit reached/) { r24++; if (t >= c1) r1++ }
    if ($0 ~ /overloaded_error|HTTP 529|rawError=529|"status":529|status=529|temporarily overloaded/) { o24++; if (t >= c1) o1++ }
    if ($0 ~ /authentication_error|HTTP 401|rawError=401|"status":401/) { a24++; if (t >= c1) a1++ }
  }
  END { printf "logs|%d|%d|%d|%d|%d|%d|%d\n", r1, r24, o1, o24, a1, a24, n }'
echo "CLAWKEEP-END 1 $N"
