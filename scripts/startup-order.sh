#!/usr/bin/env bash
# Regenerates src-tauri/startup.order (not a test): the functions of the desktop app's own code
# that a start up to the Fleet screen with 1,000 instances touches, in address order. The release build links them side by side (src-tauri/build.rs hands the file to the
# linker, lld, as --symbol-ordering-file), so the app's resident code is what it runs.
#
# Why: the kernel maps a program's code in 64-KiB windows around each page it runs (fault-around)
# from a page cache that read-ahead fills. With startup code spread over the whole 18-MB .text,
# nearly 11 MB of it stayed mapped (PSS) after the first screen, although the pages actually run
# were 4 MB. Packed together, the same pages make the resident code only a little more than what
# runs.
#
# How: with read-ahead off for the binary's block device and the binary dropped from the page
# cache, only the pages the process itself touches enter the cache and its page tables; the
# present pages (/proc/PID/pagemap) then name the symbols that overlap them (nm). A symbol whose
# name changed since (its code changed) is simply not ordered: the file ages gracefully, and this
# script brings it up to date. Run it after a change to what the app does at start.
#   sudo scripts/startup-order.sh      (builds the release app unless ORDER_SKIP_BUILD=1)
# Needs root (the block device's read-ahead), python3, nm (binutils), Xvfb and a Secret Service
# as bench-gui.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
APP="$TARGET/release/clawkeep-desktop"
SEED="$TARGET/debug/examples/gui_bench_seed"
OUT="$ROOT/src-tauri/startup.order"
if [ -z "${_ORDER_INNER:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "startup-order: needs root (to turn read-ahead off while it measures)" >&2; exit 1; }
  if [ -z "${ORDER_SKIP_BUILD:-}" ]; then
    (cd ui && npm run build >/dev/null)
    cargo build --release -p clawkeep-desktop --features tauri/custom-protocol --bin clawkeep-desktop
  fi
  [ -x "$SEED" ] || cargo build -p clawkeep-cli --example gui_bench_seed
  export _ORDER_INNER=1
  exec bash scripts/with-secret-service.sh xvfb-run -a -s "-screen 0 1400x900x24 -nolisten tcp" bash "$0" "$@"
fi

RUN="$(mktemp -d /tmp/clawkeep-order.XXXXXX)"
dev=$(basename "$(findmnt -no SOURCE --target "$APP")")
RA=/sys/class/block/$dev/queue/read_ahead_kb
[ -f "$RA" ] || RA=$(dirname "$(readlink -f "/sys/class/block/$dev")")/queue/read_ahead_kb
[ -f "$RA" ] || { echo "startup-order: no read-ahead setting found for $dev" >&2; exit 1; }
ra_before=$(cat "$RA")
PID=""
cleanup() {
  echo "$ra_before" >"$RA"
  [ -n "$PID" ] && { kill -TERM -- "-$PID" 2>/dev/null || true; sleep 0.5; kill -KILL -- "-$PID" 2>/dev/null || true; }
  rm -rf "$RUN"
}
trap cleanup EXIT

export CLAWKEEP_HOME="$RUN/home" CLAWKEEP_KEYCHAIN_SERVICE="clawkeep-order-$$"
export XDG_CONFIG_HOME="$RUN/cfg" XDG_DATA_HOME="$RUN/data" XDG_CACHE_HOME="$RUN/cache"
export WEBKIT_DISABLE_COMPOSITING_MODE=1 NO_AT_BRIDGE=1
"$SEED" "$CLAWKEEP_HOME" 1000 0 >&2
mkdir -p "$XDG_DATA_HOME/dev.clawkeep.desktop"
printf '{"lastView":"fleet"}' >"$XDG_DATA_HOME/dev.clawkeep.desktop/prefs.json"

echo 0 >"$RA"
sync "$APP"                                       # a freshly linked binary's pages are dirty: they
dd if="$APP" iflag=nocache count=0 status=none   # must be written before they can be dropped
setsid "$APP" >"$RUN/log" 2>&1 &
PID=$!
for _ in $(seq 1000); do grep -q "mark fleet-rendered" "$RUN/log" && break; sleep 0.01; done
grep -q "mark fleet-rendered" "$RUN/log" || { cat "$RUN/log" >&2; echo "startup-order: the Fleet never rendered" >&2; exit 1; }
sleep 1
echo "$ra_before" >"$RA"

python3 - "$PID" "$APP" "$OUT" <<'EOF'
import bisect, struct, subprocess, sys
pid, app, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
name = app.rsplit("/", 1)[-1]
maps = [l.split() for l in open(f"/proc/{pid}/maps")]
mine = [m for m in maps if len(m) > 5 and m[5].rsplit("/", 1)[-1] == name]
base = int(mine[0][0].split("-")[0], 16) - int(mine[0][2], 16)
present = set()
with open(f"/proc/{pid}/pagemap", "rb") as pm:
    for m in mine:
        if "x" not in m[1]:
            continue  # code only: ordering the read-only data changed its resident share by 0.2 MB
        lo, hi = (int(x, 16) for x in m[0].split("-"))
        pm.seek(lo // 4096 * 8)
        data = pm.read((hi - lo) // 4096 * 8)
        for i in range((hi - lo) // 4096):
            if struct.unpack_from("<Q", data, i * 8)[0] >> 63:
                present.add((lo - base) // 4096 + i)
syms = []
for line in subprocess.run(["nm", "-S", "--defined-only", app], capture_output=True, text=True, check=True).stdout.splitlines():
    p = line.split()
    if len(p) == 4 and p[2] in "tTwW" and int(p[1], 16) > 0:
        syms.append((int(p[0], 16), int(p[1], 16), p[3]))
syms.sort()
names, seen = [], set()
for addr, size, sym in syms:
    if sym not in seen and any(pg in present for pg in range(addr // 4096, (addr + size - 1) // 4096 + 1)):
        seen.add(sym)
        names.append(sym)
with open(out, "w") as f:
    f.write("".join(n + "\n" for n in names))
total = sum(s for a, s, n in syms if n in seen)
print(f"startup-order: {len(present) * 4} KiB of the app's code touched; "
      f"{len(names)} symbols ({total // 1024} KiB) written to {out}", file=sys.stderr)
EOF
