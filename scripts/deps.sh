#!/usr/bin/env bash
# deps.sh [run|test] - make sure the Debian packages Solebox needs are installed.
#
# Installs what is missing with apt-get when run as root; otherwise prints the
# exact command to run and fails. `run` is what building and serving needs;
# `test` adds the cross compilers, emulator, fuzzer runtime and browser the
# test suite uses.
set -euo pipefail

RUN_PKGS=(build-essential cmake ninja-build pkg-config
  libpcre2-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev libsodium-dev
  libcurl4-gnutls-dev libgnutls28-dev)
TEST_PKGS=(clang libclang-rt-14-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  gcc-arm-none-eabi libnewlib-arm-none-eabi nodejs npm chromium curl python3)

mode=${1:-run}
pkgs=("${RUN_PKGS[@]}")
if [ "$mode" = test ]; then
  pkgs+=("${TEST_PKGS[@]}")
fi

# A package also counts as present when the command it provides is already
# on the PATH from elsewhere (e.g. Node.js from NodeSource, whose nodejs
# package bundles npm and conflicts with Debian's npm package).
provides() {
  case $1 in
    nodejs) command -v node >/dev/null ;;
    npm) command -v npm >/dev/null ;;
    chromium) command -v chromium >/dev/null ;;
    *) return 1 ;;
  esac
}

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && ! provides "$p"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: run this as root, then try again:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
