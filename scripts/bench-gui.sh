#!/usr/bin/env bash
# Benchmark (not a test) of the desktop app in a real window under Xvfb, for each instance count:
#   - cold start to the first rendered Fleet screen (target <= 1.5 s);
#   - memory of the app's process tree (the app plus WebKit's web and network processes) once the
#     Fleet is on screen, RSS and PSS, beside the same numbers for the floor: an empty Tauri 2
#     window built the same way (src-tauri/examples/empty_window.rs, a blank page from a local
#     server), measured in the same run; the ratio app PSS / floor PSS (target <= 1.10);
#   - the Costs chart: from the screen having the chart's data to the frame after Chart.js drew it
#     (target <= 200 ms), with the spend of 1,000 instances (90 days × 3 models) synced from the
#     fake Anthropic API into the SQLite file the app opens.
#
# The app prints `clawkeep-desktop: mark <name> <ms> ms` lines (ui_mark, src-tauri/src/marks.rs):
# fleet-rendered (since process start), cost-chart-data (report fetched and stacked) and
# cost-chart-drawn (data to drawn). The Costs runs open on the Costs screen through the
# preferences file (lastView), as after a person last left the app there.
# Usage: scripts/bench-gui.sh [RUNS]   (default 3; medians printed last). Env: CARGO_TARGET_DIR,
#        BENCH_INSTANCES (default "1000"; e.g. "1000 10000"), BENCH_COST_KEYS (default 1000),
#        BENCH_RELEASE=1 (measure release builds of the app and the floor instead of debug ones;
#        about 11 minutes to build on 2 cores), BENCH_PROFILE=NAME (the same with another Cargo
#        profile: one optimised for size — opt-level "s", fat LTO, one codegen unit — measured
#        2026-12-06 took the app's code from 23.8 to 14.3 MB but its PSS down by only 2 MB at
#        1,000 instances, so the desktop stays on `release`), BENCH_SKIP_BUILD=1 (use the
#        binaries as built), BENCH_APP_ENV="VAR=value …" (extra environment for the app only;
#        JSC_useJIT=1 measures it with WebKit's JavaScript compilers, which the app turns off by
#        default: src-tauri/src/memory.rs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ -z "${_BENCH_INNER:-}" ]; then
  export _BENCH_INNER=1
  wss="$ROOT/scripts/with-secret-service.sh"; [ -f "$wss" ] || wss="$ROOT/../shared/scripts/with-secret-service.sh"
  exec bash "$wss" xvfb-run -a -s "-screen 0 1400x900x24 -nolisten tcp" bash "$0" "$@"
fi
RUNS="${1:-3}"
COUNTS="${BENCH_INSTANCES:-1000}"
COST_KEYS="${BENCH_COST_KEYS:-1000}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SEED="$TARGET/debug/examples/gui_bench_seed"
[ -n "${BENCH_RELEASE:-}" ] && BENCH_PROFILE="${BENCH_PROFILE:-release}"
if [ -n "${BENCH_PROFILE:-}" ]; then
  # What users run: an optimised build. The floor is built with the same profile and features.
  # Two cargo runs: an example brings in the package's dev-dependencies, and cargo unifies their
  # features (tauri's `test`, core's `test-support`) into every target built in the same run, so
  # the app built beside the floor would not be the app scripts/run.sh and the .deb build (nor
  # match src-tauri/startup.order, whose symbol names carry the features' hashes).
  APP="$TARGET/$BENCH_PROFILE/clawkeep-desktop"; FLOOR="$TARGET/$BENCH_PROFILE/examples/empty_window"
  if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    (cd ui && npm run build >/dev/null)
    cargo build --profile "$BENCH_PROFILE" -p clawkeep-desktop --features tauri/custom-protocol --bin clawkeep-desktop
    cargo build --profile "$BENCH_PROFILE" -p clawkeep-desktop --features tauri/custom-protocol --example empty_window
  fi
else
  APP="$TARGET/gui-e2e/clawkeep-desktop"; FLOOR="$TARGET/gui-e2e/empty_window"
  if [ -z "${BENCH_SKIP_BUILD:-}" ] && { [ ! -x "$APP" ] || [ ! -x "$FLOOR" ]; }; then
    (cd ui && npm run build >/dev/null)
    cargo build -p clawkeep-desktop --features tauri/custom-protocol --bin clawkeep-desktop   # apart, as above
    cargo build -p clawkeep-desktop --features tauri/custom-protocol --example empty_window
    mkdir -p "$TARGET/gui-e2e"
    cp "$TARGET/debug/clawkeep-desktop" "$APP"; cp "$TARGET/debug/examples/empty_window" "$FLOOR"
  fi
fi
[ -x "$SEED" ] || cargo build -p clawkeep-cli --example gui_bench_seed

RUN="$(mktemp -d /tmp/clawkeep-bench.XXXXXX)"
trap 'rm -rf "$RUN"' EXIT
export CLAWKEEP_KEYCHAIN_SERVICE="clawkeep-bench-$$"
export XDG_CONFIG_HOME="$RUN/cfg" WEBKIT_DISABLE_COMPOSITING_MODE=1 NO_AT_BRIDGE=1
read -r -a APP_ENV <<<"${BENCH_APP_ENV:-}"
echo "bench-gui: app $APP${APP_ENV[*]:+ with ${APP_ENV[*]}}, floor $FLOOR; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

tree_mem_kb() { # "RSS PSS" of a process and all its descendants, in kB
  local pids=("$1") all=() p
  while [ ${#pids[@]} -gt 0 ]; do
    p=${pids[0]}; pids=("${pids[@]:1}"); all+=("$p")
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do pids+=("$c"); done
  done
  # RSS counts the WebKit/GTK libraries once per process; PSS shares them out fairly.
  local sum=0 psum=0 kb pss
  for p in "${all[@]}"; do
    kb=$(awk '/^VmRSS/ {print $2}' /proc/"$p"/status 2>/dev/null || echo 0)
    pss=$(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)
    # Of which the SQLite file the app maps (clean page cache, shared with the OS's).
    db=$(awk '/clawkeep\.db/ {m = 1; next} /^[0-9a-f]+-[0-9a-f]+ / {m = 0} m && /^Pss:/ {s += $2} END {print s + 0}' /proc/"$p"/smaps 2>/dev/null || echo 0)
    echo "bench-gui:     $(cat /proc/"$p"/comm 2>/dev/null): RSS $((${kb:-0} / 1024)) MB, PSS $((${pss:-0} / 1024)) MB$([ "${db:-0}" -gt 0 ] && echo " (SQLite file mapped: $((db / 1024)) MB PSS)")" >&2
    sum=$((sum + ${kb:-0})); psum=$((psum + ${pss:-0}))
  done
  echo "$sum $psum"
}

# How much of a program's code stays mapped depends on how much of its file the page cache holds
# (the kernel maps code in 64-KiB windows from it). Every launch starts with the whole binary
# cached, the most it can be (as just after an install or a build), so runs compare alike.
cache_whole() { cat "$1" >/dev/null; }

# Starts "$@" in its own process group with fresh XDG data and cache dirs (cold: no WebKit
# caches), waits up to 6 s for PATTERN in its log; sets LOG, PID and WALL (ms, or empty).
launch() {
  local pattern="$1" tag="$2"; shift 2
  export XDG_DATA_HOME="$RUN/data-$tag" XDG_CACHE_HOME="$RUN/cache-$tag"
  mkdir -p "$XDG_DATA_HOME"
  [ -n "${PREFS:-}" ] && { mkdir -p "$XDG_DATA_HOME/dev.clawkeep.desktop"; printf '%s' "$PREFS" >"$XDG_DATA_HOME/dev.clawkeep.desktop/prefs.json"; }
  LOG="$RUN/$tag.log"
  local start; start=$(date +%s%N)
  setsid "$@" >"$LOG" 2>&1 &
  PID=$!
  WALL=""
  for _ in $(seq 600); do
    if grep -q "$pattern" "$LOG"; then WALL=$(( ($(date +%s%N) - start) / 1000000 )); break; fi
    sleep 0.01
  done
}
stop() { kill -TERM -- "-$PID" 2>/dev/null || true; sleep 0.5; kill -KILL -- "-$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
mark() { { grep -ao "mark $1 [0-9]* ms" "$LOG" || true; } | head -1 | awk '{print $3}'; }
median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "?"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

summary=()
for N in $COUNTS; do
  export CLAWKEEP_HOME="$RUN/home-$N"
  echo "bench-gui: seeding $N instances with keys, and $COST_KEYS keys' spend through the cost sync" >&2
  "$SEED" "$CLAWKEEP_HOME" "$N" "$COST_KEYS" >&2
  f_rss=(); f_pss=(); a_rss=(); a_pss=(); fleet=(); chart=(); cdata=()
  for r in $(seq 1 "$RUNS"); do
    # The floor, then the app on the Fleet, one after the other (never both at once).
    PREFS=""
    cache_whole "$FLOOR"; cache_whole "$APP"
    launch "empty-window: page loaded" "floor-$N-$r" "$FLOOR"
    sleep 1   # as long as the app is given to settle
    read -r rss pss < <(tree_mem_kb "$PID")
    stop
    f_rss+=($((rss / 1024))); f_pss+=($((pss / 1024)))
    echo "bench-gui: N=$N run $r: floor ${WALL:-timeout} ms to page loaded, tree RSS $((rss / 1024)) MB, PSS $((pss / 1024)) MB"

    PREFS='{"lastView":"fleet"}'
    launch "mark fleet-rendered" "fleet-$N-$r" env "${APP_ENV[@]}" "$APP"
    sleep 1   # let the page settle before measuring memory
    read -r rss pss < <(tree_mem_kb "$PID")
    inapp=$(mark fleet-rendered)
    stop
    a_rss+=($((rss / 1024))); a_pss+=($((pss / 1024))); fleet+=("${WALL:-timeout}")
    echo "bench-gui: N=$N run $r: first Fleet render ${WALL:-timeout} ms after spawn (${inapp:-?} ms in-process), app tree RSS $((rss / 1024)) MB, PSS $((pss / 1024)) MB"

    # No spend to chart without instances (the seed syncs the spend of at most N keys).
    if [ "$COST_KEYS" -gt 0 ] && [ "$N" -gt 0 ]; then
      PREFS='{"lastView":"costs"}'
      launch "mark cost-chart-drawn" "costs-$N-$r" env "${APP_ENV[@]}" "$APP"
      drawn=$(mark cost-chart-drawn); data=$(mark cost-chart-data)
      stop
      chart+=("${drawn:-timeout}"); cdata+=("${data:-?}")
      echo "bench-gui: N=$N run $r: Costs chart of $COST_KEYS instances' spend drawn ${drawn:-timeout} ms after its data (report fetched and stacked in ${data:-?} ms)"
    fi
  done
  fp=$(echo "${f_pss[*]}" | median); ap=$(echo "${a_pss[*]}" | median)
  ratio=$(awk -v a="$ap" -v f="$fp" 'BEGIN { if (f > 0) printf "%.2f", a / f; else print "?" }')
  summary+=("bench-gui: N=$N medians of $RUNS: first Fleet render $(echo "${fleet[*]}" | median) ms; floor RSS $(echo "${f_rss[*]}" | median) MB, PSS $fp MB; app RSS $(echo "${a_rss[*]}" | median) MB, PSS $ap MB; PSS ratio app/floor $ratio (target <= 1.10)")
  [ "$COST_KEYS" -gt 0 ] && [ "$N" -gt 0 ] && summary+=("bench-gui: N=$N medians of $RUNS: Costs chart drawn $(echo "${chart[*]}" | median) ms after its data (target <= 200), data $(echo "${cdata[*]}" | median) ms")
done
printf '%s\n' "${summary[@]}"
