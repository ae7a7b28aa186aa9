#!/usr/bin/env bash
# cross-arm64.sh - build the engine libraries and their tests for aarch64 and
# run them under qemu-user.
#
#   scripts/cross-arm64.sh [build dir, default build-arm64]
#
# Configures with cmake/toolchain-aarch64.cmake and SOLEBOX_MINIMAL=ON (core,
# gguf, backend, backend/cpu and their tests; no PCRE2 needed), builds, and
# runs ctest (qemu-aarch64 is the CTest emulator, default CPU "max", which
# has dotprod). The CPU kernel test then runs a second time on an emulated
# Cortex-A53 (no dotprod, no fp16 arithmetic) so that feature detection and
# the baseline kernels are exercised on a CPU that really lacks them.
# Needs gcc-aarch64-linux-gnu and qemu-user (scripts/deps.sh test).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-arm64}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
SYSROOT=/usr/aarch64-linux-gnu

for tool in aarch64-linux-gnu-gcc qemu-aarch64; do
  if ! command -v "$tool" >/dev/null; then
    echo "cross-arm64: $tool is missing (install gcc-aarch64-linux-gnu qemu-user)" >&2
    exit 1
  fi
done

GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
cmake -S . -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-aarch64.cmake" -DSOLEBOX_MINIMAL=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS"
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS"

# The kernels on a CPU without dotprod (detection, not a mask).
KTEST="$BUILD/tests/backend/cpu/test_cpu_matmul"
if [ -x "$KTEST" ]; then
  echo "cross-arm64: test_cpu_matmul on an emulated Cortex-A53 (no dotprod)"
  qemu-aarch64 -cpu cortex-a53 -L "$SYSROOT" "$KTEST"
fi
