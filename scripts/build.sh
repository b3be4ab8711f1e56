#!/usr/bin/env bash
# Configures (once), builds and installs ssw-router and sswctl (to /usr/local/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SSW_BUILD_DIR:-build}
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD"
fi
ninja -C "$BUILD"
if [ "$(id -u)" -eq 0 ]; then
  meson install -C "$BUILD" --no-rebuild --quiet
fi
