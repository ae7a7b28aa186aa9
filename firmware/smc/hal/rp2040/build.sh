#!/usr/bin/env bash
# build.sh OUTDIR - builds the SMC firmware image for the RP2040 with Debian's arm-none-eabi-gcc
# (no pico-sdk): OUTDIR/smc.elf, smc.bin, smc.uf2 and smc.map. Prints the flash and RAM use and
# fails if they exceed the RP2040 (2 MB flash, 264 KB SRAM). Exits 77 (skipped) without the
# cross compiler.
set -euo pipefail

OUT=${1:?usage: build.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
SMC=$(cd "$HERE/../.." && pwd)
if ! command -v arm-none-eabi-gcc >/dev/null 2>&1; then
  echo "SKIP: arm-none-eabi-gcc is not installed (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"
  exit 77
fi
HOSTCC=${HOSTCC:-cc}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

"$HOSTCC" -O2 -Wall -Wextra -o "$OUT/rp2040_tool" "$HERE/tools/rp2040_tool.c"
"$OUT/rp2040_tool" selftest

ARCH=(-mcpu=cortex-m0plus -mthumb)
CFLAGS=("${ARCH[@]}" -std=gnu11 -Os -g -ffreestanding -ffunction-sections -fdata-sections
  -Wall -Wextra -Wno-unused-parameter -Wvla -Werror
  -DSMC_BUILD_NAME='"rp2040"'
  -I"$SMC/app" -I"$SMC/hal" -I"$SMC/hal/rp2040" -I"$SMC/proto")

# Second stage: linked where the boot ROM runs it, reduced to raw bytes, CRC appended.
arm-none-eabi-gcc "${ARCH[@]}" -nostdlib -Wl,-Ttext=0x20041f00 -Wl,-e,_stage2_boot -Wl,--no-warn-rwx-segments \
  -o "$OUT/boot2.elf" "$HERE/boot2.S"
arm-none-eabi-objcopy -O binary "$OUT/boot2.elf" "$OUT/boot2.bin"
"$OUT/rp2040_tool" boot2 "$OUT/boot2.bin" "$OUT/boot2_256.bin"

SOURCES=("$SMC"/app/*.c "$SMC"/proto/*.c "$HERE/rp2040_hal.c" "$HERE/rp2040_spi.c" "$HERE/startup.c" "$HERE/main.c")
OBJS=()
for src in "${SOURCES[@]}"; do
  obj="$OUT/$(basename "${src%.c}").o"
  arm-none-eabi-gcc "${CFLAGS[@]}" -c "$src" -o "$obj"
  OBJS+=("$obj")
done
arm-none-eabi-gcc "${ARCH[@]}" -DBOOT2_BIN="\"$OUT/boot2_256.bin\"" -c "$HERE/boot2_blob.S" -o "$OUT/boot2_blob.o"
OBJS+=("$OUT/boot2_blob.o")

arm-none-eabi-gcc "${ARCH[@]}" -nostartfiles --specs=nano.specs -T "$HERE/smc.ld" \
  -Wl,--gc-sections -Wl,-Map="$OUT/smc.map" -Wl,--no-warn-rwx-segments \
  -o "$OUT/smc.elf" "${OBJS[@]}" -lc -lgcc
arm-none-eabi-objcopy -O binary "$OUT/smc.elf" "$OUT/smc.bin"
"$OUT/rp2040_tool" verify "$OUT/smc.bin"
"$OUT/rp2040_tool" uf2 "$OUT/smc.bin" "$OUT/smc.uf2" 0x10000000

sym() { arm-none-eabi-nm "$OUT/smc.elf" | awk -v s="$1" '$3 == s { print $1 }'; }
FLASH_END=$((16#$(sym __flash_end)))
RAM_USED=$((16#$(sym __ram_used)))
FLASH_USED=$((FLASH_END - 0x10000000))
STACK=4096
RAM_TOTAL=$((RAM_USED + STACK))
PERMILLE=$((FLASH_USED * 1000 / 2097152))
echo "smc.elf: flash ${FLASH_USED} bytes of 2097152 ($((PERMILLE / 10)).$((PERMILLE % 10))%)," \
     "RAM ${RAM_USED} bytes (.data+.bss+.noinit) + ${STACK} stack of 270336"
echo "smc.uf2: $(stat -c %s "$OUT/smc.uf2") bytes"
arm-none-eabi-size "$OUT/smc.elf"
if [ "$FLASH_USED" -gt 2097152 ] || [ "$RAM_TOTAL" -gt 270336 ]; then
  echo "FAIL: the image does not fit the RP2040" >&2
  exit 1
fi
