#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs `cflight serve`
# (grpc://127.0.0.1:8815, datasets in ./cflight-data). Arguments go to
# `cflight serve` (see `cflight serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec "${CFLIGHT_BUILD_DIR:-build}"/bin/cflight serve "$@"
