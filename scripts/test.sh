#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root: installs what is missing,
# reserves hugepages, builds, then runs unit, end-to-end and smoke tests (meson test), and
# the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Extra arguments go to the first `meson test` (e.g. --suite unit, or a test name).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/setup-hugepages.sh
scripts/build.sh
meson test -C "${SSW_BUILD_DIR:-build}" --print-errorlogs "$@"

asan=${SSW_ASAN_BUILD_DIR:-build-asan}
if [ ! -f "$asan/build.ninja" ]; then
  meson setup "$asan" -Db_sanitize=address,undefined -Dbench=false
fi
ninja -C "$asan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C "$asan" --suite unit --print-errorlogs --no-rebuild
