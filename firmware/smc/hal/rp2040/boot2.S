/*
 * boot2.S - second-stage boot for a W25Q-compatible QSPI flash, standard-SPI read command 03h.
 *
 * The RP2040 boot ROM loads these 256 bytes (252 of code + the CRC32 that tools/rp2040_tool.c
 * appends) to SRAM at 0x20041F00, checks the CRC32 and jumps here with lr = 0. This code programs
 * the SSI (DesignWare SPI at 0x18000000) for execute-in-place: every XIP access sends command 03h
 * plus a 24-bit address as one 32-bit standard-SPI frame and reads one 32-bit frame back, at
 * clk_sys / 4. 03h needs no dummy cycles and works on any 25-series flash up to 50 MHz (the boot
 * ROM's ROSC clock, and later 125 MHz / 4 = 31.25 MHz). Then it vectors into the image through
 * the table at 0x10000100; called as a function (lr != 0) it just returns.
 */
    .syntax unified
    .cpu cortex-m0plus
    .thumb

    .equ SSI_BASE,        0x18000000
    .equ SSI_CTRLR0,      0x00
    .equ SSI_CTRLR1,      0x04
    .equ SSI_SSIENR,      0x08
    .equ SSI_BAUDR,       0x14
    .equ SSI_SPI_CTRLR0,  0xF4
    /* CTRLR0: SPI_FRF = standard (0) << 21, DFS_32 = 32 bits (31) << 16, TMOD = EEPROM read (3) << 8 */
    .equ CTRLR0_XIP,      (0 << 21) | (31 << 16) | (3 << 8)
    /* SPI_CTRLR0: XIP_CMD = 03h << 24, WAIT_CYCLES = 0 << 11, INST_L = 8 bit (2) << 8,
     * ADDR_L = 24 bit (6 nibbles) << 2, TRANS_TYPE = command and address in standard SPI (0) */
    .equ SPI_CTRLR0_XIP,  (0x03 << 24) | (0 << 11) | (2 << 8) | (6 << 2) | 0
    .equ IMAGE_VECTORS,   0x10000100
    .equ M0PLUS_VTOR,     0xE000ED08

    .section .text
    .global _stage2_boot
    .type _stage2_boot, %function
    .thumb_func
_stage2_boot:
    push {lr}
    ldr r3, =SSI_BASE
    movs r1, #0
    str r1, [r3, #SSI_SSIENR]       /* disable the SSI to reconfigure it */
    movs r1, #4
    str r1, [r3, #SSI_BAUDR]        /* SCK = clk_sys / 4 */
    ldr r1, =CTRLR0_XIP
    str r1, [r3, #SSI_CTRLR0]
    movs r1, #0
    str r1, [r3, #SSI_CTRLR1]       /* NDF = 0: one data frame per XIP access */
    ldr r1, =SPI_CTRLR0_XIP
    ldr r0, =(SSI_BASE + SSI_SPI_CTRLR0)
    str r1, [r0]
    movs r1, #1
    str r1, [r3, #SSI_SSIENR]       /* enable: XIP is live */

    pop {r0}
    cmp r0, #0
    beq vector_into_image
    bx r0

vector_into_image:
    ldr r0, =IMAGE_VECTORS
    ldr r1, =M0PLUS_VTOR
    str r0, [r1]
    ldmia r0, {r0, r1}              /* initial stack pointer, reset handler */
    msr msp, r0
    bx r1

    .ltorg
