# Cross-compiling Solebox for aarch64 Linux with Debian's aarch64-linux-gnu
# GCC; test binaries run under qemu-user (CTest prepends the emulator).
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake -DSOLEBOX_MINIMAL=ON
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

set(SB_AARCH64_SYSROOT /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH ${SB_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# qemu's default CPU (max) has every extension, dotprod included; the tests
# also run the no-dotprod kernels by masking the feature.
find_program(SB_QEMU_AARCH64 qemu-aarch64)
if(SB_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SB_QEMU_AARCH64} -L ${SB_AARCH64_SYSROOT})
endif()
