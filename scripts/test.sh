#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs CTest.
# Arguments are passed to ctest (e.g. -R ipc, -L interop).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd "${CFLIGHT_BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" "$@"
