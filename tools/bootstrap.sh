#!/usr/bin/env bash
# Installs every Debian package Kiln needs to build, test and run.
# Idempotent: when everything is already installed it only runs dpkg-query
# and returns at once (no apt-get update, no network).
set -euo pipefail

PACKAGES=(
  # toolchain and build
  g++ git python3 bazel-bootstrap bazel-platforms bazel-rules-java
  # protobuf / gRPC code generation and libraries
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev libgrpc-dev
  # core libraries
  libabsl-dev librocksdb-dev libssl-dev libyaml-cpp-dev libcurl4-openssl-dev
  nlohmann-json3-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "bootstrap: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
