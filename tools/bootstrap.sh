#!/usr/bin/env bash
# Installs every Debian package Kiln needs to build, test and run, and the
# npm packages of the SDK compatibility test (tests/node) under
# ~/.cache/kiln/node (with --bench also bench/run's Celery and Redis).
# Idempotent: when everything is already installed it
# only runs dpkg-query and compares a lock file (no network).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # toolchain and build
  g++ git python3 bubblewrap bazel-bootstrap bazel-platforms bazel-rules-java
  # protobuf / gRPC code generation and libraries
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev libgrpc-dev
  # core libraries
  libabsl-dev librocksdb-dev libssl-dev libyaml-cpp-dev libcurl4-openssl-dev
  nlohmann-json3-dev libre2-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
)
# bench/run's peer for the dispatch comparison: Celery 5 on Redis.
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(redis-server python3-celery python3-redis)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

# Node.js and npm for tests/node. The machine may carry NodeSource's nodejs,
# which bundles npm and conflicts with Debian's npm package: install
# Debian's only what is absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The official OpenAI and Anthropic SDKs, at the versions of the lock file.
NODE_DIR="${KILN_NODE_DIR:-$HOME/.cache/kiln/node}"
if ! cmp -s tests/node/package-lock.json "$NODE_DIR/package-lock.json" ||
   [ ! -d "$NODE_DIR/node_modules" ]; then
  echo "bootstrap: installing the npm packages of tests/node into $NODE_DIR" >&2
  mkdir -p "$NODE_DIR"
  cp tests/node/package.json tests/node/package-lock.json "$NODE_DIR/"
  (cd "$NODE_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
fi
