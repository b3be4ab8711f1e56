#!/usr/bin/env bash
# The main demo on a fresh Debian 12 machine, as root: installs what is missing, reserves
# hugepages, builds and installs, then runs the demo in network namespaces it removes after.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/setup-hugepages.sh
scripts/build.sh
exec /usr/bin/python3 scripts/demo_testbed.py "$@"
