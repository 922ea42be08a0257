#!/usr/bin/env bash
# Runs "$@" in the project with / as a mount point. run-fresh's machine is a chroot whose /
# is no mount point, which no booted machine has and which `ip netns` (mount --make-rslave /)
# and `unshare --propagation` need: there, a recursive bind of / is made and entered first.
# Where / is a mount point already, it only runs "$@".
set -euo pipefail
if awk '$5 == "/" { found = 1 } END { exit !found }' /proc/self/mountinfo; then exec "$@"; fi
mkdir -p /.fresh_root
mount --rbind / /.fresh_root
exec chroot /.fresh_root /bin/bash -c 'cd "$0" && exec "$@"' "$PWD" "$@"
