#!/usr/bin/env bash
# Builds the C baselines of the benchmarks: every tests/bench/*.c becomes
# .build/NAME.so (cc -O2 -shared -fPIC). First-line directives in a source:
#   // libs: -lbpf      libraries to link
#   // build: exe       also build .build/NAME, an executable, with -DBENCH_MAIN
set -euo pipefail
cd "$(dirname "$0")"
CC=${CC:-cc}
mkdir -p .build
for src in *.c; do
  [ -e "$src" ] || continue
  name=${src%.c}
  libs=$(sed -n 's|^// libs: ||p' "$src" | head -n1)
  build=$(sed -n 's|^// build: ||p' "$src" | head -n1)
  # shellcheck disable=SC2086
  "$CC" -O2 -shared -fPIC -o ".build/$name.so" "$src" $libs
  if [[ " $build " == *" exe "* ]]; then
    # shellcheck disable=SC2086
    "$CC" -O2 -DBENCH_MAIN -o ".build/$name" "$src" $libs
  fi
done
