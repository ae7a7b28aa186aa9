/*
 * rp2040_hal.h - functions of the RP2040 HAL beyond smc_hal.h, used by its startup and main.
 */
#ifndef RP2040_HAL_H
#define RP2040_HAL_H

#include <stdint.h>

/* Crystal, PLLs and clock tree; releases the peripherals the firmware uses from reset. */
void rp2040_clocks_init(void);
/* Waits for the next tick of a period_us grid (the main loop's 1 ms pacing). */
void rp2040_wait_tick(uint32_t period_us);
/* SPI0 as a PL022 slave with DMA on both directions, chip select watched by a GPIO interrupt. */
void rp2040_spi_init(void);
/* The IO_BANK0 interrupt: the end of an SPI transaction (chip select rising). */
void rp2040_isr_io_bank0(void);

#endif
