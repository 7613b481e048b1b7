//! Shell scripts installed on each test host: the login-shell wrapper (for the noisy and
//! huge-output faults), the gateway supervisor (a stand-in for `systemd --user`, which test
//! hosts don't have) and the restart command a Clawkeep instance is configured with.

/// The per-host restart command to configure on a Clawkeep instance for a test host. Run
/// over SSH as the host user, it stops the running gateway; the supervisor starts a fresh
/// process, which re-reads `~/.openclaw/.env`. Exits 0 once the new process exists (not yet
/// healthy; poll `/readyz` on the gateway port for that), 1 if the gateway didn't come back
/// within 10 s. Equivalent of `systemctl --user restart openclaw-gateway` on a real VPS.
pub const RESTART_COMMAND: &str = "~/.local/bin/openclaw-gateway-restart";

/// Relative to the home dir: where the supervisor keeps `gateway.pid`, `gateway.log`, ….
pub const GW_STATE_REL: &str = ".local/state/clawkeep-gw";

/// Login shell wrapper. `{mode_file}` is replaced with the host's root-owned mode file.
pub fn login_shell(mode_file: &str) -> String {
    format!(
        r#"#!/bin/sh
# Login shell of a Clawkeep test host (tests/src/scripts.rs). Normally just bash. The harness
# switches faults by writing {mode_file}:
#   noisy       print a banner and noise (stdout and stderr) before every command
#   huge:<N>    print N bytes of filler on stdout before every command
#   say         print the bytes of {mode_file}-say on stdout and on stderr before every command
mode=
[ -r {mode_file} ] && read -r mode < {mode_file}
case "$mode" in
  noisy)
    printf 'Welcome to Ubuntu 24.04.1 LTS (GNU/Linux 6.8.0-45-generic x86_64)\n\n * Documentation:  https://help.ubuntu.invalid\n\nLast login: Mon Nov 24 09:12:44 2026 from 127.0.0.1\nnvm: loading node...\n'
    printf 'bash: warning: setlocale: LC_ALL: cannot change locale (en_US.UTF-8)\n' >&2
    ;;
  huge:*)
    n=${{mode#huge:}}
    yes 'filler filler filler filler filler filler filler filler filler filler filler' | head -c "$n"
    ;;
  say)
    cat {mode_file}-say 2>/dev/null
    cat {mode_file}-say >&2 2>/dev/null
    ;;
esac
# A POSIX sh wrapper (dash starts in a fraction of bash's time), so that a command costs about
# what it costs on a real host, where sshd starts bash itself.
exec /bin/bash "$@"
"#
    )
}

/// Gateway supervisor, run as the host user: `sh supervisor.sh <state-dir> <command…>`.
pub const SUPERVISOR: &str = r#"#!/bin/sh
# Tiny service manager for a Clawkeep test host's gateway (tests/src/scripts.rs); stands in for
# systemd --user. It keeps one gateway process running: when the process exits it starts a new
# one (which re-reads ~/.openclaw/.env), except after exit code 78 (config error; like the
# unit's RestartPreventExitStatus=78), where it waits for a restart request.
# Restart request: ~/.local/bin/openclaw-gateway-restart. Like `systemctl restart`, a requested
# restart starts the new process at once; only a crash waits (0.2 s, 1 s for a gateway that
# lived under 2 s: the crash-loop guard). Builtins where it can (a fleet restarts at once on a
# 2-core machine): the clock is read from /proc/uptime, not by running date.
state=$1; shift
mkdir -p "$state"
exec >>"$state/supervisor.log" 2>&1 </dev/null
echo $$ > "$state/supervisor.pid"
child=
trap 'rm -f "$state/gateway.pid"; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null; exit 0' TERM INT HUP
now() { read -r now _ < /proc/uptime; now=${now%.*}; }
starts=0
while :; do
  rm -f "$state/restart-requested"
  now; t0=$now
  "$@" >>"$state/gateway.log" 2>&1 &
  child=$!
  starts=$((starts+1))
  echo "$child" > "$state/gateway.pid.tmp" && mv -f "$state/gateway.pid.tmp" "$state/gateway.pid"
  echo "uptime $t0: started gateway pid $child (start #$starts)"
  wait "$child"; rc=$?
  now; echo "uptime $now: gateway pid $child exited rc=$rc"
  if [ "$rc" = 78 ]; then
    echo "exit 78 (config error): not restarting until a restart is requested"
    while [ ! -e "$state/restart-requested" ]; do sleep 0.2; done
  elif [ -e "$state/restart-requested" ]; then
    :
  elif [ $((now - t0)) -lt 2 ]; then
    sleep 1
  else
    sleep 0.2
  fi
done
"#;

/// `~/.local/bin/openclaw-gateway-restart` (see [`RESTART_COMMAND`]).
pub const RESTART_SCRIPT: &str = r#"#!/bin/sh
# Restart this test host's OpenClaw gateway (what `systemctl --user restart openclaw-gateway`
# does on a real VPS). Stops the running gateway; the supervisor starts a fresh process, which
# re-reads ~/.openclaw/.env. Exit 0 once the new process exists, 1 if it didn't come back.
# Polls every 20 ms with builtins (read, kill -0) and sleep.
state="$HOME/.local/state/clawkeep-gw"
sup=; [ -f "$state/supervisor.pid" ] && read -r sup < "$state/supervisor.pid"
[ -n "$sup" ] && kill -0 "$sup" 2>/dev/null \
  || { echo "openclaw-gateway-restart: no supervisor running" >&2; exit 1; }
old=; [ -f "$state/gateway.pid" ] && read -r old < "$state/gateway.pid"
touch "$state/restart-requested"
if [ -n "$old" ]; then
  kill -TERM "$old" 2>/dev/null
  i=0
  while kill -0 "$old" 2>/dev/null && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done
  kill -0 "$old" 2>/dev/null && kill -KILL "$old" 2>/dev/null
fi
i=0
while [ $i -lt 500 ]; do
  new=; [ -f "$state/gateway.pid" ] && read -r new < "$state/gateway.pid"
  if [ -n "$new" ] && [ "$new" != "$old" ]; then echo "gateway restarted: pid ${old:-none} -> $new"; exit 0; fi
  sleep 0.02; i=$((i+1))
done
echo "openclaw-gateway-restart: gateway did not come back within 10 s" >&2
exit 1
"#;
