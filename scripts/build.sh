#!/usr/bin/env bash
# Configures and builds into ${CFLIGHT_BUILD_DIR:-build}. Extra CMake
# arguments come from CFLIGHT_CMAKE_ARGS (e.g. "-DCFLIGHT_SANITIZE=ON").
set -euo pipefail
cd "$(dirname "$0")/.."
build=${CFLIGHT_BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=${CFLIGHT_BUILD_TYPE:-RelWithDebInfo} ${CFLIGHT_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)"
