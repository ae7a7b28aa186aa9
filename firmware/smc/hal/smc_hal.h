/*
 * smc_hal.h - the hardware interface of the SMC firmware.
 *
 * The application (firmware/smc/app) touches the board only through these functions. Two
 * implementations exist: hal/rp2040 (registers of the real chip) and hal/sim (a simulated board on
 * the host). Signals are named by their board function, not by pin: the pin map lives in the
 * implementation. All functions are called from the main loop only (never from interrupts).
 */
#ifndef SMC_HAL_H
#define SMC_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Digital outputs. Every one has an external pull-down, so a chip in reset drives nothing: rails off,
 * PERST# asserted (low), GPU disabled. */
typedef enum smc_out {
    SMC_OUT_AUX_EN = 0,  /* 3.3 V aux load switch enable */
    SMC_OUT_CORE_EN,     /* 0.8 V core VRM enable */
    SMC_OUT_CLK_EN,      /* PCIe reference clock buffer output enable */
    SMC_OUT_PERST_N,     /* PCIe PERST# to the GPU, low = in reset */
    SMC_OUT_GPU_EN,      /* GPU enable signals */
    SMC_OUT_SLOWDOWN_N,  /* to the GPU's power-brake input, low = slow down */
    SMC_OUT_ALERT_N,     /* to the host, low = attention (slowdown/shutdown request, fault) */
    SMC_OUT_COUNT
} smc_out;

/* Digital inputs. */
typedef enum smc_in {
    SMC_IN_PG_CORE = 0, /* core VRM power-good */
    SMC_IN_CLK_OK,      /* reference clock buffer locked/stable */
    SMC_IN_COUNT
} smc_in;

/* ADC channels (RP2040 ADC0..2 on GPIO26..28); raw 12-bit counts of a 3.3 V reference. */
typedef enum smc_adc {
    SMC_ADC_12V = 0, /* through a 47k/10k divider */
    SMC_ADC_3V3,     /* through a 10k/10k divider */
    SMC_ADC_CORE,    /* direct, through 1k */
    SMC_ADC_COUNT
} smc_adc;

#define SMC_ADC_FULL_SCALE_MV 3300u
#define SMC_ADC_COUNTS 4096u
/* Divider ratio of each channel in 1/1000 (rail mV = pin mV * ratio / 1000). */
#define SMC_ADC_RATIO_12V 5700u
#define SMC_ADC_RATIO_3V3 2000u
#define SMC_ADC_RATIO_CORE 1000u

#define SMC_NUM_FAN_CHANNELS 3
#define SMC_TACH_PULSES_PER_REV 2u

/* Result of a 1-Wire reset. */
typedef enum smc_ow_reset {
    SMC_OW_PRESENCE = 0, /* at least one device answered */
    SMC_OW_NO_DEVICE,    /* line high during the presence window */
    SMC_OW_SHORT,        /* line still low after the reset: bus shorted or stuck */
} smc_ow_reset;

/* One finished SPI slave transaction (chip select went low then high). */
typedef struct smc_spi_xfer {
    const uint8_t *rx; /* received bytes; valid until the next hal_spi_poll */
    size_t rx_len;
    bool overflow;      /* the master clocked more bytes than the receive buffer holds */
    uint32_t tx_tag;    /* tag of the buffer that was shifted out (0 = none armed) */
    size_t tx_sent;     /* how many bytes of that buffer were shifted out */
} smc_spi_xfer;

/* --- board bring-up --- */
/* Puts every output in its safe state (all off, PERST# asserted) and the fans at full speed; called
 * first thing after reset. */
void hal_board_init(void);

/* --- time --- */
uint64_t hal_time_us(void);      /* monotonic microseconds since reset */
void hal_delay_us(uint32_t us);  /* busy-wait */

/* --- GPIO --- */
void hal_out_set(smc_out o, bool level);
bool hal_in_get(smc_in i);
/* True when the input fell (high to low) since the last call; the edge is latched by hardware, so
 * a dip shorter than the main-loop period is still seen. Clears the latch. */
bool hal_in_fell(smc_in i);

/* --- ADC --- */
uint16_t hal_adc_read(smc_adc ch); /* one conversion, 0..4095 */

/* --- fans: PWM out (25 kHz), tachometer in --- */
void hal_fan_set(unsigned fan, uint16_t duty_permille); /* 0..1000 */
uint32_t hal_tach_count(unsigned fan);                  /* running count of tach edges (wraps) */

/* --- 1-Wire (bit level; the byte and ROM layers are in app/smc_onewire.c) --- */
smc_ow_reset hal_ow_reset(void);
void hal_ow_write_bit(bool bit);
bool hal_ow_read_bit(void);

/* --- SPI slave --- */
/* Hands out the next finished transaction; false when none is waiting. */
bool hal_spi_poll(smc_spi_xfer *x);
/* Arms buf (len bytes, zero padding after it) to be shifted out from the next transaction on;
 * len 0 disarms (zeros). The buffer must stay valid until re-armed. tag != 0 identifies it. */
void hal_spi_arm(const uint8_t *buf, size_t len, uint32_t tag);

/* --- watchdog and retained state --- */
void hal_wdt_start(uint32_t timeout_ms);
void hal_wdt_kick(void);
/* Why the chip last reset (SB_SMC_RESET_*). */
unsigned hal_reset_reason(void);
/* Four words that survive a watchdog reset but not a power cycle (RP2040 watchdog SCRATCH0..3). */
#define SMC_RETAINED_WORDS 4u
uint32_t hal_retained_read(unsigned i);
void hal_retained_write(unsigned i, uint32_t v);

#endif
