/*
 * rp2040_regs.h - the RP2040 registers the SMC firmware uses (addresses and fields from the RP2040
 * datasheet: RESETS 2.14, CLOCKS 2.15, XOSC 2.16, PLL 2.18, IO_BANK0/PADS 2.19, SIO 2.3, DMA 2.5,
 * TIMER 4.6, WATCHDOG 4.7, PWM 4.5, ADC 4.9, SPI (ARM PL022) 4.4, NVIC/SCB of the Cortex-M0+).
 * Every peripheral register also has atomic aliases: +0x1000 XOR, +0x2000 SET, +0x3000 CLEAR.
 */
#ifndef RP2040_REGS_H
#define RP2040_REGS_H

#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))
#define REG_XOR(addr) REG((addr) + 0x1000u)
#define REG_SET(addr) REG((addr) + 0x2000u)
#define REG_CLR(addr) REG((addr) + 0x3000u)

/* --- RESETS --- */
#define RESETS_BASE 0x4000C000u
#define RESETS_RESET (RESETS_BASE + 0x00u)
#define RESETS_DONE (RESETS_BASE + 0x08u)
#define RST_ADC (1u << 0)
#define RST_DMA (1u << 2)
#define RST_IO_BANK0 (1u << 5)
#define RST_PADS_BANK0 (1u << 8)
#define RST_PLL_SYS (1u << 12)
#define RST_PLL_USB (1u << 13)
#define RST_PWM (1u << 14)
#define RST_SPI0 (1u << 16)
#define RST_TIMER (1u << 21)

/* --- CLOCKS --- */
#define CLOCKS_BASE 0x40008000u
#define CLK_REF_CTRL (CLOCKS_BASE + 0x30u)
#define CLK_REF_DIV (CLOCKS_BASE + 0x34u)
#define CLK_REF_SELECTED (CLOCKS_BASE + 0x38u)
#define CLK_SYS_CTRL (CLOCKS_BASE + 0x3Cu)
#define CLK_SYS_DIV (CLOCKS_BASE + 0x40u)
#define CLK_SYS_SELECTED (CLOCKS_BASE + 0x44u)
#define CLK_PERI_CTRL (CLOCKS_BASE + 0x48u)
#define CLK_ADC_CTRL (CLOCKS_BASE + 0x60u)
#define CLK_ADC_DIV (CLOCKS_BASE + 0x64u)
#define CLK_SYS_RESUS_CTRL (CLOCKS_BASE + 0x78u)
#define CLK_CTRL_ENABLE (1u << 11)
#define CLK_REF_SRC_XOSC 2u        /* CLK_REF_CTRL.SRC */
#define CLK_SYS_SRC_AUX 1u         /* CLK_SYS_CTRL.SRC: clksrc_clk_sys_aux */
#define CLK_SYS_AUXSRC_PLL_SYS 0u  /* CLK_SYS_CTRL.AUXSRC, bits 7:5 */
#define CLK_PERI_AUXSRC_SYS 0u     /* CLK_PERI_CTRL.AUXSRC: clk_sys */
#define CLK_ADC_AUXSRC_PLL_USB 0u  /* CLK_ADC_CTRL.AUXSRC */

/* --- XOSC --- */
#define XOSC_BASE 0x40024000u
#define XOSC_CTRL (XOSC_BASE + 0x00u)
#define XOSC_STATUS (XOSC_BASE + 0x04u)
#define XOSC_STARTUP (XOSC_BASE + 0x0Cu)
#define XOSC_CTRL_FREQ_1_15MHZ 0xAA0u
#define XOSC_CTRL_ENABLE (0xFABu << 12)
#define XOSC_STATUS_STABLE (1u << 31)

/* --- PLLs --- */
#define PLL_SYS_BASE 0x40028000u
#define PLL_USB_BASE 0x4002C000u
#define PLL_CS 0x00u
#define PLL_PWR 0x04u
#define PLL_FBDIV 0x08u
#define PLL_PRIM 0x0Cu
#define PLL_CS_LOCK (1u << 31)
#define PLL_PWR_PD (1u << 0)
#define PLL_PWR_POSTDIVPD (1u << 3)
#define PLL_PWR_VCOPD (1u << 5)

/* --- IO_BANK0 and PADS_BANK0 --- */
#define IO_BANK0_BASE 0x40014000u
#define GPIO_CTRL(n) (IO_BANK0_BASE + 8u * (n) + 4u)
#define IO_INTR(n) (IO_BANK0_BASE + 0x0F0u + 4u * ((n) / 8u))       /* raw interrupts, 4 bits/GPIO */
#define IO_PROC0_INTE(n) (IO_BANK0_BASE + 0x100u + 4u * ((n) / 8u))
#define IO_EDGE_LOW(n) (1u << (4u * ((n) % 8u) + 2u))
#define IO_EDGE_HIGH(n) (1u << (4u * ((n) % 8u) + 3u))
#define FUNC_SPI 1u
#define FUNC_PWM 4u
#define FUNC_SIO 5u
#define FUNC_NULL 0x1Fu
#define PADS_BANK0_BASE 0x4001C000u
#define PAD(n) (PADS_BANK0_BASE + 4u + 4u * (n))
#define PAD_OD (1u << 7)
#define PAD_IE (1u << 6)
#define PAD_DRIVE_4MA (1u << 4)
#define PAD_PUE (1u << 3)
#define PAD_PDE (1u << 2)
#define PAD_SCHMITT (1u << 1)

/* --- SIO --- */
#define SIO_BASE 0xD0000000u
#define SIO_GPIO_IN (SIO_BASE + 0x004u)
#define SIO_GPIO_OUT_SET (SIO_BASE + 0x014u)
#define SIO_GPIO_OUT_CLR (SIO_BASE + 0x018u)
#define SIO_GPIO_OE_SET (SIO_BASE + 0x024u)
#define SIO_GPIO_OE_CLR (SIO_BASE + 0x028u)

/* --- TIMER (1 MHz from the watchdog tick) --- */
#define TIMER_BASE 0x40054000u
#define TIMER_TIMERAWH (TIMER_BASE + 0x24u)
#define TIMER_TIMERAWL (TIMER_BASE + 0x28u)

/* --- WATCHDOG and PSM --- */
#define WATCHDOG_BASE 0x40058000u
#define WATCHDOG_CTRL (WATCHDOG_BASE + 0x00u)
#define WATCHDOG_LOAD (WATCHDOG_BASE + 0x04u)
#define WATCHDOG_REASON (WATCHDOG_BASE + 0x08u)
#define WATCHDOG_SCRATCH(i) (WATCHDOG_BASE + 0x0Cu + 4u * (i)) /* 0..7; the boot ROM uses 4..7 */
#define WATCHDOG_TICK (WATCHDOG_BASE + 0x2Cu)
#define WATCHDOG_CTRL_ENABLE (1u << 30)
#define WATCHDOG_CTRL_PAUSE_DBG1 (1u << 26)
#define WATCHDOG_CTRL_PAUSE_DBG0 (1u << 25)
#define WATCHDOG_CTRL_PAUSE_JTAG (1u << 24)
#define WATCHDOG_REASON_TIMER (1u << 0)
#define WATCHDOG_REASON_FORCE (1u << 1)
#define WATCHDOG_TICK_ENABLE (1u << 9)
#define PSM_BASE 0x40010000u
#define PSM_WDSEL (PSM_BASE + 0x08u)
#define PSM_ALL 0x1FFFFu
#define PSM_ROSC_XOSC 0x3u
#define VREG_CHIP_RESET 0x40064008u
#define CHIP_RESET_HAD_POR (1u << 8)

/* --- PWM (8 slices of 0x14 bytes) --- */
#define PWM_BASE 0x40050000u
#define PWM_CSR(s) (PWM_BASE + 0x14u * (s) + 0x00u)
#define PWM_DIV(s) (PWM_BASE + 0x14u * (s) + 0x04u)
#define PWM_CTR(s) (PWM_BASE + 0x14u * (s) + 0x08u)
#define PWM_CC(s) (PWM_BASE + 0x14u * (s) + 0x0Cu)
#define PWM_TOP(s) (PWM_BASE + 0x14u * (s) + 0x10u)
#define PWM_CSR_EN (1u << 0)
#define PWM_CSR_DIVMODE_RISE (2u << 4) /* count rising edges of the B input */

/* --- ADC --- */
#define ADC_BASE 0x4004C000u
#define ADC_CS (ADC_BASE + 0x00u)
#define ADC_RESULT (ADC_BASE + 0x04u)
#define ADC_CS_EN (1u << 0)
#define ADC_CS_START_ONCE (1u << 2)
#define ADC_CS_READY (1u << 8)
#define ADC_CS_AINSEL_SHIFT 12u

/* --- SPI0 (ARM PrimeCell PL022) --- */
#define SPI0_BASE 0x4003C000u
#define SSPCR0 (SPI0_BASE + 0x000u)
#define SSPCR1 (SPI0_BASE + 0x004u)
#define SSPDR (SPI0_BASE + 0x008u)
#define SSPSR (SPI0_BASE + 0x00Cu)
#define SSPCPSR (SPI0_BASE + 0x010u)
#define SSPIMSC (SPI0_BASE + 0x014u)
#define SSPRIS (SPI0_BASE + 0x018u)
#define SSPICR (SPI0_BASE + 0x020u)
#define SSPDMACR (SPI0_BASE + 0x024u)
#define SSPCR0_DSS_8 0x7u
#define SSPCR0_SPO (1u << 6)
#define SSPCR0_SPH (1u << 7)
#define SSPCR1_SSE (1u << 1)
#define SSPCR1_MS (1u << 2)
#define SSPSR_RNE (1u << 2)
#define SSPRIS_ROR (1u << 0)
#define SSPDMACR_RX (1u << 0)
#define SSPDMACR_TX (1u << 1)

/* --- DMA --- */
#define DMA_BASE 0x50000000u
#define DMA_READ(ch) (DMA_BASE + 0x40u * (ch) + 0x00u)
#define DMA_WRITE(ch) (DMA_BASE + 0x40u * (ch) + 0x04u)
#define DMA_COUNT(ch) (DMA_BASE + 0x40u * (ch) + 0x08u)
#define DMA_CTRL_TRIG(ch) (DMA_BASE + 0x40u * (ch) + 0x0Cu)
#define DMA_CHAN_ABORT (DMA_BASE + 0x444u)
#define DMA_CTRL_EN (1u << 0)
#define DMA_CTRL_INCR_READ (1u << 4)
#define DMA_CTRL_INCR_WRITE (1u << 5)
#define DMA_CTRL_CHAIN_TO(c) ((uint32_t)(c) << 11)
#define DMA_CTRL_TREQ(t) ((uint32_t)(t) << 15)
#define DMA_CTRL_BUSY (1u << 24)
#define DREQ_SPI0_TX 16u
#define DREQ_SPI0_RX 17u

/* --- Cortex-M0+ --- */
#define NVIC_ISER 0xE000E100u
#define NVIC_ICPR 0xE000E280u
#define IRQ_IO_BANK0 13u

#endif
