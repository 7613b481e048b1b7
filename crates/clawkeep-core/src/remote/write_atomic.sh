# Clawkeep atomic write over the exec channel, for hosts without an SFTP subsystem: the body of
# the command ssh/execfs.rs runs, after a prelude of single-quoted assignments: P (the file to
# replace) and N (a random nonce). The new content arrives on stdin, never in argv. The same
# steps as the SFTP path: a 0600 temp file in the same directory, fsync, the replaced file's
# owner and group, rename over the target; a reader sees the old file or the new one, and on
# failure the temp file is removed. Exit codes (execfs.rs reads them): 0 written, 10 a tool is
# missing, 11 the temp file cannot be created, 12 writing or syncing it failed, 13 the owner or
# group cannot be kept, 14 chmod or rename failed, 15 the target cannot be written through.
# POSIX sh; `shellcheck -s sh` runs on it in scripts/test.sh.
# shellcheck shell=sh disable=SC2154
umask 077
LC_ALL=C; export LC_ALL
for t in cat ls chmod chown mv rm; do
  command -v "$t" >/dev/null 2>&1 || { echo "ck_missing=$t"; exit 10; }
done
# A symlinked file is written through: the link stays, its target is replaced.
if [ -L "$P" ]; then
  R=$(readlink -f -- "$P" 2>/dev/null) || R=
  [ -n "$R" ] || { echo "$P is a symlink whose target cannot be resolved" >&2; exit 15; }
  P=$R
fi
if [ -d "$P" ]; then echo "$P is a directory" >&2; exit 15; fi
case "$P" in */*) D=${P%/*}; [ -n "$D" ] || D=/ ;; *) D=. ;; esac
T="$D/.${P##*/}.clawkeep-tmp-$N"
OWN=
if [ -f "$P" ]; then
  L=$(ls -nd -- "$P") || exit 15
  # shellcheck disable=SC2086 # ls -n prints: mode links uid gid …
  set -- $L
  OWN="$3:$4"
fi
# Only the temp file is created, exclusively (noclobber): never an existing file.
( set -C; : > "$T" ) || exit 11
fail() { rm -f -- "$T"; exit "$1"; }
cat > "$T" || fail 12
# fsync: coreutils' `sync FILE`, else the whole file system.
sync -- "$T" 2>/dev/null || sync || fail 12
if [ -n "$OWN" ]; then
  L=$(ls -nd -- "$T") || fail 13
  # shellcheck disable=SC2086
  set -- $L
  if [ "$3:$4" != "$OWN" ]; then
    chown -- "$OWN" "$T" || { echo "ck_owner=$OWN"; fail 13; }
  fi
fi
chmod 600 -- "$T" || fail 14
mv -f -- "$T" "$P" || fail 14
echo ck_written=1
