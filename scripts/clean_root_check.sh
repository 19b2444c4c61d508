#!/usr/bin/env bash
# Clean-root check: runs the README's first command, scripts/demo.sh, as root in a fresh minimal
# Debian 12 root (debootstrap, chroot), so that a package this machine has only because someone
# installed it by hand, or because a Recommends pulled it in, makes the check fail. Only the
# bare debootstrap base is cached (/var/cache/amphora-clean-root); everything the project
# installs is installed afresh on every run. Needs root; reaches the package registries through
# this machine's own apt and pip configuration, which it copies into the root.
#   scripts/clean_root_check.sh                  # scripts/demo.sh in the clean root
#   scripts/clean_root_check.sh scripts/test.sh  # any other command from the checkout
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUITE=bookworm
VARIANT=minbase
INCLUDE=""  # nothing extra: scripts/setup.sh must install all the project needs
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
CACHE_DIR=/var/cache/amphora-clean-root
WORK_DIR=/var/tmp/amphora-clean-root
LOG="$WORK_DIR/last-run.log"

die() { echo "clean-root: $*" >&2; exit 1; }
say() { echo "clean-root: $*"; }
dur() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

case "${1:-}" in
  -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) die "unknown option '$1' (see --help)" ;;
esac
COMMAND=("$@")
((${#COMMAND[@]})) || COMMAND=(scripts/demo.sh)

# Everything outside the new mount namespace: prerequisites, the lock, stale mounts.
if [ -z "${_CLEAN_ROOT_NS:-}" ]; then
  [ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, mount and chroot need it)"
  [ -f /etc/debian_version ] || die "needs a Debian host (apt-get, debootstrap)"
  git -C "$ROOT" rev-parse --verify -q HEAD >/dev/null || die "$ROOT is not a git checkout"
  start=$(date +%s)
  # The keyring is only a Recommends of debootstrap; without it debootstrap falls back to a
  # built-in https mirror instead of this machine's.
  if ! command -v debootstrap >/dev/null || [ ! -f "$KEYRING" ]; then
    say "installing debootstrap on the host"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      debootstrap debian-archive-keyring >/dev/null
  fi
  mkdir -p "$CACHE_DIR" "$WORK_DIR"
  exec 9>"$WORK_DIR/lock"
  flock -n 9 || { say "waiting for another clean-root check to finish"; flock 9; }
  # Mounts left by a run that was killed outright: unmount them (deepest first) before anything
  # under the work directory is deleted, or refuse.
  stale=$(awk -v d="$WORK_DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r)
  if [ -n "$stale" ]; then
    say "unmounting stale mounts under $WORK_DIR"
    while read -r m; do umount "$m" || true; done <<<"$stale"
    ! awk -v d="$WORK_DIR/" 'index($2, d) == 1 {found=1} END {exit !found}' /proc/mounts ||
      die "stale mounts remain under $WORK_DIR (see /proc/mounts); unmount them by hand"
  fi
  # Runs that were killed outright, and anything of theirs still running in their root. Their
  # mounts lived in their own namespace, which ends with its last process; from here each run
  # directory is a plain tree.
  for p in /proc/[0-9]*; do
    case "$(readlink "$p/root" 2>/dev/null)" in "$WORK_DIR"/run.*) kill -9 "${p#/proc/}" || true ;; esac
  done 2>/dev/null
  for old in "$WORK_DIR"/run.*; do
    [ ! -d "$old" ] || rm -rf --one-file-system "$old"
  done
  # A private mount namespace: nothing mounted from here on is visible to, or can outlive
  # the check on, the rest of the machine, even if this script is killed.
  export _CLEAN_ROOT_NS=1 _CLEAN_ROOT_START="$start"
  exec unshare --mount --propagation private bash "$ROOT/scripts/clean_root_check.sh" "$@"
fi
unset _CLEAN_ROOT_NS
START="$_CLEAN_ROOT_START"

# The mirror debootstrap uses is the host's own, as apt itself parses the sources.
MIRROR=$(apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' |
  awk -v s="$SUITE" '$2 == s && $3 == "deb" {print $1; exit}')
[ -n "$MIRROR" ] || die "no 'deb ... $SUITE' entry in the host's apt sources"

RUN=""
ROOTFS=""
CHILD=""
cleanup() {
  local rc=$? t0 p m sig found
  set +e
  trap - EXIT INT TERM
  t0=$(date +%s)
  [ -n "$CHILD" ] && kill "$CHILD" 2>/dev/null
  if [ -n "$RUN" ] && [ -d "$RUN" ]; then
    # Processes still running inside the root would keep its mounts busy.
    for sig in TERM KILL; do
      found=""
      for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOTFS" ] && kill -s "$sig" "${p#/proc/}" && found=1
      done 2>/dev/null
      [ -n "$found" ] && sleep 2
    done
    awk -v d="$RUN/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r |
      while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
    if awk -v d="$RUN/" 'index($2, d) == 1 {found=1} END {exit !found}' /proc/self/mounts; then
      echo "clean-root: mounts remain under $RUN; not deleting it" >&2
      rc=1
    else
      rm -rf --one-file-system "$RUN"
    fi
  fi
  say "cleanup $(dur $(($(date +%s) - t0))); total $(dur $(($(date +%s) - START)))"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Long steps run in the background so that a signal interrupts the wait at once. Their output
# goes to the file given first, if any (only theirs: a trap that fires during the wait must not
# write there).
bg() {
  local out="$1"
  shift
  if [ -n "$out" ]; then "$@" </dev/null >"$out" 2>&1 9>&- & else "$@" </dev/null 9>&- & fi
  CHILD=$!
  wait "$CHILD" && CHILD="" || { local rc=$?; CHILD=""; return $rc; }
}

# The root gets a file system of its own in a sparse image, without journal or write barriers:
# dpkg's fsyncs cost nothing there, and removing the root is removing one file instead of a
# hundred thousand (minutes on a busy disk). Where loop devices are not available it is a plain
# directory.
RUN=$(mktemp -d "$WORK_DIR/run.XXXXXX")
ROOTFS="$RUN/root"
mkdir -m 755 "$ROOTFS"
if ! { truncate -s 40G "$RUN/root.img" && mkfs.ext4 -q -F -O ^has_journal -E nodiscard \
         "$RUN/root.img" && mount -o loop,nobarrier,noatime "$RUN/root.img" "$ROOTFS"; } 2>/dev/null; then
  rm -f "$RUN/root.img"
  say "no loop device: the root is a plain directory (slower to remove)"
fi

# The base: cached, keyed by everything that determines it.
KEY=$(printf '%s\n' "$SUITE" "$VARIANT" "$INCLUDE" "$MIRROR" "$(dpkg --print-architecture)" \
  "$(dpkg-query -W -f='${Version}' debootstrap)" | sha256sum | cut -c1-16)
BASE="$CACHE_DIR/base-$SUITE-$VARIANT-$KEY.tar.gz"
t=$(date +%s)
if [ ! -f "$BASE" ]; then
  say "creating the $SUITE base ($VARIANT) from $MIRROR"
  if ! bg "$LOG" debootstrap --variant="$VARIANT" ${INCLUDE:+--include="$INCLUDE"} \
      --keyring="$KEYRING" "$SUITE" "$ROOTFS" "$MIRROR"; then
    tail -n 20 "$LOG" >&2
    die "debootstrap failed (log: $LOG)"
  fi
  rm -f "$CACHE_DIR"/base-*.tar.gz*  # older keys, and halves of interrupted writes
  bg "" tar -C "$ROOTFS" --numeric-owner -czf "$BASE.tmp" .
  mv "$BASE.tmp" "$BASE"
  say "base created in $(dur $(($(date +%s) - t)))"
else
  bg "" tar -C "$ROOTFS" --numeric-owner -xpzf "$BASE"
  say "base extracted from the cache in $(dur $(($(date +%s) - t))) ($BASE)"
fi
chmod 755 "$ROOTFS"  # as on any system: apt's _apt user, for one, must reach into /

# apt, DNS and pip exactly as on the host: its sources replace the base's.
t=$(date +%s)
rm -rf "${ROOTFS:?}/etc/apt/sources.list" "$ROOTFS/etc/apt/sources.list.d"
cp -a /etc/apt/. "$ROOTFS/etc/apt/"
# Keyrings the sources name outside /etc/apt.
shopt -s nullglob
sources=(/etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
shopt -u nullglob
[ ! -f /etc/apt/sources.list ] || sources+=(/etc/apt/sources.list)
for k in $(grep -hoiE '^signed-by:[[:space:]]*/[^[:space:]]+|signed-by=/[^] ,]+' "${sources[@]}" \
           /dev/null | sed 's|^[^/]*||'); do
  [ ! -f "$k" ] || install -D -m 644 "$k" "$ROOTFS$k"
done
copy() { [ -f "$1" ] && { rm -f "$ROOTFS$2"; install -D -m 644 "$(readlink -f "$1")" "$ROOTFS$2"; }; }
for f in /etc/resolv.conf /etc/hosts /etc/pip.conf /etc/xdg/pip/pip.conf ${PIP_CONFIG_FILE:-} \
         ${PIP_CERT:-}; do
  copy "$f" "$f" || true
done
copy "${HOME:-/root}/.config/pip/pip.conf" /root/.config/pip/pip.conf || true
copy "${HOME:-/root}/.pip/pip.conf" /root/.pip/pip.conf || true
# The CA bundle, and the local CAs that update-ca-certificates adds back when the ca-certificates
# package is installed in the root later.
mkdir -p "$ROOTFS/etc/ssl/certs" "$ROOTFS/usr/local/share/ca-certificates"
cp -aL /etc/ssl/certs/. "$ROOTFS/etc/ssl/certs/"
[ ! -d /usr/local/share/ca-certificates ] ||
  cp -a /usr/local/share/ca-certificates/. "$ROOTFS/usr/local/share/ca-certificates/"
# Daemons that package scripts would start must not outlive the check.
printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"

# The checkout as CI cloned it: tracked files at HEAD only (no build/, .venv/, out/).
SRC=/root/amphora
mkdir -p "$ROOTFS$SRC"
git -C "$ROOT" archive --format=tar HEAD | tar -C "$ROOTFS$SRC" -x
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ] ||
  say "warning: uncommitted changes in $ROOT are not part of the check (it copies HEAD)"

mount -t proc proc "$ROOTFS/proc"
mount --bind /sys "$ROOTFS/sys"
mount --bind /dev "$ROOTFS/dev"
mount --bind /dev/pts "$ROOTFS/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$ROOTFS/dev/shm"

# The environment: a clean one, plus what routes pip (and any proxy) as on the host. Local
# find-links directories are bind-mounted read-only at the same path.
ENVS=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
      "TERM=${TERM:-dumb}")
for v in $(compgen -e); do
  case "$v" in
    PIP_*|http_proxy|https_proxy|no_proxy|HTTP_PROXY|HTTPS_PROXY|NO_PROXY) ENVS+=("$v=${!v}") ;;
  esac
done
for d in ${PIP_FIND_LINKS:-}; do
  d="${d#file://}"
  if [ "${d:0:1}" = / ] && [ -d "$d" ]; then
    mkdir -p "$ROOTFS$d"
    mount --bind "$d" "$ROOTFS$d"
    mount -o remount,bind,ro "$ROOTFS$d"
  fi
done
say "root ready in $(dur $(($(date +%s) - t))): HEAD $(git -C "$ROOT" rev-parse --short HEAD) in $SRC"

t=$(date +%s)
say "running '${COMMAND[*]}' in the clean root (log: $LOG)"
if bg "$LOG" env -i "${ENVS[@]}" "$(command -v chroot)" "$ROOTFS" /bin/bash -c \
    'cd "$0" && exec "$@"' "$SRC" "${COMMAND[@]}"; then
  tail -n 12 "$LOG" | sed 's/^/  | /'
  say "'${COMMAND[*]}' passed in $(dur $(($(date +%s) - t)))"
else
  rc=$?
  tail -n 60 "$LOG" | sed 's/^/  | /' >&2
  die "'${COMMAND[*]}' FAILED (exit $rc) after $(dur $(($(date +%s) - t))); full log: $LOG"
fi
