/*
 * startup.c - RP2040 vector table and reset handler (no SDK).
 *
 * The boot ROM copies the 256-byte second stage (boot2.S, at the start of flash) to SRAM, checks
 * its CRC32 and runs it; the stage 2 sets up execute-in-place and jumps through this table, which
 * the linker script places right after it at 0x10000100: initial stack pointer, then the handlers.
 */
#include "rp2040_hal.h"

#include <stdint.h>
#include <string.h>

extern uint32_t __stack_top[];
extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
int main(void);

void reset_handler(void);
static void default_handler(void) {
    for (;;)
        __asm volatile("bkpt #0");
}

typedef void (*vector_fn)(void);

__attribute__((section(".vectors"), used)) const vector_fn vector_table[16 + 32] = {
    (vector_fn)(uintptr_t)__stack_top, /* initial MSP */
    reset_handler,
    default_handler, /* NMI */
    default_handler, /* HardFault */
    0, 0, 0, 0, 0, 0, 0,
    default_handler, /* SVCall */
    0, 0,
    default_handler, /* PendSV */
    default_handler, /* SysTick */
    /* IRQ 0..31: TIMER 0-3, PWM_WRAP, USBCTRL, XIP, PIO0 0-1, PIO1 0-1, DMA 0-1, IO_BANK0 (13), ... */
    default_handler, default_handler, default_handler, default_handler, default_handler, default_handler,
    default_handler, default_handler, default_handler, default_handler, default_handler, default_handler,
    default_handler, rp2040_isr_io_bank0, default_handler, default_handler, default_handler, default_handler,
    default_handler, default_handler, default_handler, default_handler, default_handler, default_handler,
    default_handler, default_handler, default_handler, default_handler, default_handler, default_handler,
    default_handler, default_handler,
};

/* Initialised data from flash to RAM, .bss zeroed (.noinit left alone), clocks, then main. */
__attribute__((noreturn)) void reset_handler(void) {
    size_t n = (size_t)((uintptr_t)__data_end - (uintptr_t)__data_start);
    memcpy(__data_start, __data_load, n);
    memset(__bss_start, 0, (size_t)((uintptr_t)__bss_end - (uintptr_t)__bss_start));
    rp2040_clocks_init();
    main();
    for (;;)
        ;
}
