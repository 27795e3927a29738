#!/bin/sh
# CTest entry for read-ipc.mjs (apache-arrow reads cflight's IPC output).
# Exits 77, which CTest reports as skipped, when node or the npm packages
# are not installed.
dir=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null 2>&1; then
  echo "skipped: node is not installed (scripts/install-deps.sh installs it)"
  exit 77
fi
if [ ! -d "$dir/node_modules/apache-arrow" ] || [ ! -d "$dir/node_modules/fzstd" ] ||
  [ ! -d "$dir/node_modules/lz4js" ]; then
  echo "skipped: the npm packages are missing: run scripts/install-deps.sh (npm ci in $dir)"
  exit 77
fi
exec node "$dir/read-ipc.mjs" "$@"
