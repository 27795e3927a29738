#!/usr/bin/env bash
# Installs whatever the build and the tests need and this machine lacks:
# Debian packages (by name) and the npm packages of the Node.js test peer.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config clang clang-format
  libnghttp2-dev libuv1-dev libssl-dev libprotobuf-c-dev protobuf-c-compiler
  liblz4-dev libzstd-dev libjansson-dev libcsv-dev zlib1g-dev
  python3 python3-grpcio python3-protobuf python3-flatbuffers
  nodejs npm iperf3 openssl ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# Node from another source (nodesource, nvm) is fine too.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs/}"); missing=("${missing[@]/npm/}")
fi
missing=($(printf '%s\n' "${missing[@]}" | sed '/^$/d'))

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Node.js interoperability peers (tests/peers/node) use npm's
# @grpc/grpc-js and apache-arrow, pinned by package-lock.json. Reinstall
# whenever the lock file changed since the last install.
peer=tests/peers/node
if [[ -f $peer/package-lock.json ]]; then
  want=$(sha256sum "$peer/package-lock.json" | cut -d' ' -f1)
  have=$(cat "$peer/node_modules/.cflight-lock-sha256" 2>/dev/null || true)
  if [[ "$want" != "$have" ]]; then
    echo "install-deps: npm ci in $peer"
    (cd "$peer" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$peer/node_modules/.cflight-lock-sha256"
  fi
fi
