#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root: installs what is missing,
# reserves hugepages, builds, then runs unit, end-to-end and smoke tests (meson test).
# Extra arguments go to `meson test` (e.g. --suite unit, or a test name).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/setup-hugepages.sh
scripts/build.sh
meson test -C "${SSW_BUILD_DIR:-build}" --print-errorlogs "$@"
