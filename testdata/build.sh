#!/usr/bin/env bash
# Builds every testdata/*.c into little- and big-endian BPF objects with BTF:
#   NAME-el.o, NAME-eb.o
# A source may start with directive comments:
#   // cflags: -mcpu=v4        extra clang flags
#   // variants: nobtf         also build NAME-nobtf-el.o / NAME-nobtf-eb.o with -g0
# A source that includes "vmlinux.h" (the benchmark corpus, written as tools against the
# kernel's types are) gets one dumped from the kernel's BTF, $VMLINUX_BTF or
# /sys/kernel/btf/vmlinux, into testdata/vmlinux.h (not committed: 3 MB, and the kernel's).
# Usage: testdata/build.sh [NAME.c ...]   (default: all sources)
set -euo pipefail
cd "$(dirname "$0")"
CLANG=${CLANG:-clang-19}
command -v "$CLANG" >/dev/null || { echo "testdata: $CLANG not found (apt-get install clang-19)" >&2; exit 1; }
sources=("$@")
[ ${#sources[@]} -gt 0 ] || sources=(*.c)
for src in "${sources[@]}"; do
  name=${src%.c}
  if [ ! -e vmlinux.h ] && grep -q '^#include "vmlinux.h"' "$src"; then
    bpftool btf dump file "${VMLINUX_BTF:-/sys/kernel/btf/vmlinux}" format c >vmlinux.h.tmp
    mv vmlinux.h.tmp vmlinux.h
  fi
  cflags=$(sed -n 's|^// cflags: ||p' "$src" | head -n1)
  variants=$(sed -n 's|^// variants: ||p' "$src" | head -n1)
  for endian in el eb; do
    # shellcheck disable=SC2086
    "$CLANG" -O2 -g -target "bpf$endian" -I/usr/include/x86_64-linux-gnu -I. $cflags \
      -c "$src" -o "$name-$endian.o"
    if [[ " $variants " == *" nobtf "* ]]; then
      # shellcheck disable=SC2086
      "$CLANG" -O2 -g0 -target "bpf$endian" -I/usr/include/x86_64-linux-gnu -I. $cflags \
        -c "$src" -o "$name-nobtf-$endian.o"
    fi
  done
  echo "built $name"
done
