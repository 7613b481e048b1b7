# Clawkeep onboarding facts: appended to the checklist's host-facts script (same `sh -s` run,
# same prelude: N, ST, …) by onboard/discover.rs, so discovery stays one round trip. It reports
# how the gateway is run (systemd user or system unit, a restart script); it reads no key.
# POSIX sh; `shellcheck -s sh` runs on it in scripts/test.sh.
# shellcheck shell=sh disable=SC2154
echo "CLAWKEEP-ONBOARD 1 $N"
for u in "$HOME"/.config/systemd/user/openclaw*.service; do
  [ -f "$u" ] && printf 'unit|user|%s\n' "${u##*/}"
done
for d in /etc/systemd/system /lib/systemd/system /usr/lib/systemd/system; do
  for u in "$d"/openclaw*.service; do
    [ -f "$u" ] && printf 'unit|system|%s\n' "${u##*/}"
  done
done
for f in "$HOME"/.local/bin/*gateway*restart* "$HOME"/.local/bin/*restart*gateway* "$HOME"/bin/*gateway*restart* "$HOME"/bin/*restart*gateway* "$ST"/*restart*; do
  [ -f "$f" ] && [ -x "$f" ] && printf 'restart|%s\n' "$f"
done
echo "CLAWKEEP-ONBOARD-END 1 $N"
