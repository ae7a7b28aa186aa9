/*
 * rp2040_hal.c - the SMC HAL on the RP2040 at register level: clocks (12 MHz crystal, PLL_SYS
 * 125 MHz, PLL_USB 48 MHz for the ADC), GPIO, ADC, PWM fans and tach counters, the 1 MHz timer,
 * 1-Wire bit-banging with timer-based delays, the watchdog and its scratch registers.
 * The SPI slave is in rp2040_spi.c. Not run on hardware here: see README "RP2040 build".
 *
 * Pin map (GPIO):
 *   0 AUX_EN   1 CORE_EN   2 CLK_EN   3 PERST_N   4 GPU_EN          (outputs, board pull-downs)
 *   13 SLOWDOWN_N   15 ALERT_N                                      (outputs)
 *   6 PG_CORE   8 CLK_OK                                            (inputs, board pull-ups)
 *   10/12/14 FAN0..2 PWM (PWM5A/6A/7A, 25 kHz)   5/7/9 FAN0..2 TACH (PWM2B/3B/4B edge counters)
 *   11 1-Wire (open drain by output enable, 4.7k pull-up on the board)
 *   16 SPI0 RX (MOSI)  17 SPI0 CSn  18 SPI0 SCK  19 SPI0 TX (MISO)  (slave)
 *   26/27/28 ADC0..2: 12 V (47k/10k), 3.3 V aux (10k/10k), 0.8 V core (1k series)
 */
#include "rp2040_regs.h"
#include "rp2040_hal.h"

#include "sb_smc_msg.h"
#include "smc_hal.h"

static const uint8_t out_pin[SMC_OUT_COUNT] = {0, 1, 2, 3, 4, 13, 15};
static const uint8_t in_pin[SMC_IN_COUNT] = {6, 8};
static const uint8_t fan_pwm_pin[SB_SMC_NUM_FANS] = {10, 12, 14};
static const uint8_t fan_tach_pin[SB_SMC_NUM_FANS] = {5, 7, 9};
#define OW_PIN 11u
#define FAN_PWM_TOP 4999u /* 125 MHz / 5000 = 25 kHz, the 4-wire fan PWM frequency */

static uint32_t tach_total[SB_SMC_NUM_FANS];
static uint16_t tach_last[SB_SMC_NUM_FANS];

static unsigned pwm_slice(unsigned pin) { return (pin >> 1) & 7u; }

/* --- clocks and resets --- */

static void unreset(uint32_t mask) {
    REG_CLR(RESETS_RESET) = mask;
    while ((REG(RESETS_DONE) & mask) != mask)
        ;
}

static void pll_init(uint32_t base, uint32_t fbdiv, uint32_t post1, uint32_t post2, uint32_t reset_bit) {
    REG_SET(RESETS_RESET) = reset_bit;
    unreset(reset_bit);
    REG(base + PLL_CS) = 1;                                  /* REFDIV = 1: 12 MHz reference */
    REG(base + PLL_FBDIV) = fbdiv;                           /* VCO = 12 MHz * fbdiv */
    REG_CLR(base + PLL_PWR) = PLL_PWR_PD | PLL_PWR_VCOPD;    /* power the PLL and its VCO */
    while (!(REG(base + PLL_CS) & PLL_CS_LOCK))
        ;
    REG(base + PLL_PRIM) = (post1 << 16) | (post2 << 12);
    REG_CLR(base + PLL_PWR) = PLL_PWR_POSTDIVPD;
}

void rp2040_clocks_init(void) {
    /* Everything but the flash interface back to reset; released below once clocks are up. */
    REG_SET(RESETS_RESET) = RST_ADC | RST_DMA | RST_IO_BANK0 | RST_PADS_BANK0 | RST_PWM | RST_SPI0 | RST_TIMER;
    REG(CLK_SYS_RESUS_CTRL) = 0;

    /* Crystal: 1-15 MHz range, ~1 ms start-up (47 * 256 cycles of 12 MHz). */
    REG(XOSC_CTRL) = XOSC_CTRL_FREQ_1_15MHZ;
    REG(XOSC_STARTUP) = 47;
    REG(XOSC_CTRL) = XOSC_CTRL_FREQ_1_15MHZ | XOSC_CTRL_ENABLE;
    while (!(REG(XOSC_STATUS) & XOSC_STATUS_STABLE))
        ;

    /* clk_sys off the aux mux (onto clk_ref) and clk_ref onto the crystal before touching the PLLs. */
    REG_CLR(CLK_SYS_CTRL) = 1u;
    while (REG(CLK_SYS_SELECTED) != 1u)
        ;
    REG(CLK_REF_CTRL) = CLK_REF_SRC_XOSC;
    while (REG(CLK_REF_SELECTED) != (1u << CLK_REF_SRC_XOSC))
        ;
    REG(CLK_REF_DIV) = 1u << 8;

    pll_init(PLL_SYS_BASE, 125, 6, 2, RST_PLL_SYS); /* 1500 MHz / 6 / 2 = 125 MHz */
    pll_init(PLL_USB_BASE, 100, 5, 5, RST_PLL_USB); /* 1200 MHz / 5 / 5 = 48 MHz */

    REG(CLK_SYS_DIV) = 1u << 8;
    REG(CLK_SYS_CTRL) = CLK_SYS_AUXSRC_PLL_SYS << 5; /* aux = pll_sys, still on clk_ref */
    REG_SET(CLK_SYS_CTRL) = CLK_SYS_SRC_AUX;
    while (REG(CLK_SYS_SELECTED) != (1u << CLK_SYS_SRC_AUX))
        ;
    REG(CLK_PERI_CTRL) = CLK_CTRL_ENABLE | (CLK_PERI_AUXSRC_SYS << 5);
    REG(CLK_ADC_CTRL) = 0; /* stop before switching the aux source */
    REG(CLK_ADC_DIV) = 1u << 8;
    REG(CLK_ADC_CTRL) = CLK_CTRL_ENABLE | (CLK_ADC_AUXSRC_PLL_USB << 5);

    /* 1 us tick for the timer and the watchdog from the 12 MHz clk_ref. */
    REG(WATCHDOG_TICK) = WATCHDOG_TICK_ENABLE | 12u;

    unreset(RST_ADC | RST_DMA | RST_IO_BANK0 | RST_PADS_BANK0 | RST_PWM | RST_SPI0 | RST_TIMER);
}

/* --- time --- */

uint64_t hal_time_us(void) {
    uint32_t hi, lo, hi2;
    do {
        hi = REG(TIMER_TIMERAWH);
        lo = REG(TIMER_TIMERAWL);
        hi2 = REG(TIMER_TIMERAWH);
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

void hal_delay_us(uint32_t us) {
    uint32_t t0 = REG(TIMER_TIMERAWL);
    while (REG(TIMER_TIMERAWL) - t0 < us)
        ;
}

void rp2040_wait_tick(uint32_t period_us) {
    static uint32_t next;
    uint32_t now = REG(TIMER_TIMERAWL);
    if ((int32_t)(now - next) >= (int32_t)period_us || next == 0)
        next = now; /* late or first call: restart the grid */
    next += period_us;
    while ((int32_t)(REG(TIMER_TIMERAWL) - next) < 0)
        ;
}

/* --- GPIO --- */

static void gpio_func(unsigned pin, uint32_t func, uint32_t pad) {
    REG(PAD(pin)) = pad;
    REG(GPIO_CTRL(pin)) = func;
}

void hal_board_init(void) {
    /* Outputs low first (the board pull-downs already hold them there), then drive them. */
    for (unsigned i = 0; i < SMC_OUT_COUNT; i++) {
        REG(SIO_GPIO_OUT_CLR) = 1u << out_pin[i];
        REG(SIO_GPIO_OE_SET) = 1u << out_pin[i];
        gpio_func(out_pin[i], FUNC_SIO, PAD_IE | PAD_DRIVE_4MA | PAD_SCHMITT);
    }
    for (unsigned i = 0; i < SMC_IN_COUNT; i++) {
        REG(SIO_GPIO_OE_CLR) = 1u << in_pin[i];
        gpio_func(in_pin[i], FUNC_SIO, PAD_IE | PAD_SCHMITT);
        REG(IO_INTR(in_pin[i])) = IO_EDGE_LOW(in_pin[i]) | IO_EDGE_HIGH(in_pin[i]); /* clear stale edges */
    }

    /* Fans: PWM at 25 kHz, 100% at once; tach inputs counted by the B channel of other slices. */
    for (unsigned f = 0; f < SB_SMC_NUM_FANS; f++) {
        unsigned s = pwm_slice(fan_pwm_pin[f]);
        REG(PWM_DIV(s)) = 1u << 4; /* integer divider 1 */
        REG(PWM_TOP(s)) = FAN_PWM_TOP;
        REG(PWM_CC(s)) = FAN_PWM_TOP + 1u; /* channel A (pin even): always high = 100% */
        REG(PWM_CSR(s)) = PWM_CSR_EN;
        gpio_func(fan_pwm_pin[f], FUNC_PWM, PAD_DRIVE_4MA);
        unsigned t = pwm_slice(fan_tach_pin[f]);
        REG(PWM_CSR(t)) = 0;
        REG(PWM_DIV(t)) = 1u << 4;
        REG(PWM_TOP(t)) = 0xFFFFu;
        REG(PWM_CTR(t)) = 0;
        REG(PWM_CSR(t)) = PWM_CSR_DIVMODE_RISE | PWM_CSR_EN;
        gpio_func(fan_tach_pin[f], FUNC_PWM, PAD_IE | PAD_PUE | PAD_SCHMITT);
        tach_last[f] = 0;
        tach_total[f] = 0;
    }

    /* 1-Wire: output latch low, released (input) until a slot drives it. */
    REG(SIO_GPIO_OE_CLR) = 1u << OW_PIN;
    REG(SIO_GPIO_OUT_CLR) = 1u << OW_PIN;
    gpio_func(OW_PIN, FUNC_SIO, PAD_IE | PAD_DRIVE_4MA | PAD_SCHMITT);

    /* ADC inputs: digital input off, no pulls. */
    for (unsigned pin = 26; pin <= 28; pin++)
        gpio_func(pin, FUNC_NULL, PAD_OD);
    REG(ADC_CS) = ADC_CS_EN;
    while (!(REG(ADC_CS) & ADC_CS_READY))
        ;

    rp2040_spi_init();
}

void hal_out_set(smc_out o, bool level) {
    if ((unsigned)o >= SMC_OUT_COUNT)
        return;
    if (level)
        REG(SIO_GPIO_OUT_SET) = 1u << out_pin[o];
    else
        REG(SIO_GPIO_OUT_CLR) = 1u << out_pin[o];
}

bool hal_in_get(smc_in i) {
    if ((unsigned)i >= SMC_IN_COUNT)
        return false;
    return (REG(SIO_GPIO_IN) >> in_pin[i]) & 1u;
}

bool hal_in_fell(smc_in i) {
    if ((unsigned)i >= SMC_IN_COUNT)
        return false;
    unsigned pin = in_pin[i];
    uint32_t bit = IO_EDGE_LOW(pin);
    bool fell = (REG(IO_INTR(pin)) & bit) != 0;
    if (fell)
        REG(IO_INTR(pin)) = bit; /* edge bits clear on write 1 */
    return fell;
}

/* --- ADC --- */

uint16_t hal_adc_read(smc_adc ch) {
    if ((unsigned)ch >= SMC_ADC_COUNT)
        return 0;
    REG(ADC_CS) = ADC_CS_EN | ((uint32_t)ch << ADC_CS_AINSEL_SHIFT);
    REG(ADC_CS) = ADC_CS_EN | ((uint32_t)ch << ADC_CS_AINSEL_SHIFT) | ADC_CS_START_ONCE;
    while (!(REG(ADC_CS) & ADC_CS_READY)) /* 96 ADC clocks = 2 us */
        ;
    return (uint16_t)(REG(ADC_RESULT) & 0xFFFu);
}

/* --- fans --- */

void hal_fan_set(unsigned fan, uint16_t duty_permille) {
    if (fan >= SB_SMC_NUM_FANS)
        return;
    if (duty_permille > 1000)
        duty_permille = 1000;
    uint32_t cc = (uint32_t)duty_permille * (FAN_PWM_TOP + 1u) / 1000u;
    unsigned s = pwm_slice(fan_pwm_pin[fan]);
    REG(PWM_CC(s)) = (REG(PWM_CC(s)) & 0xFFFF0000u) | cc; /* channel A */
}

uint32_t hal_tach_count(unsigned fan) {
    if (fan >= SB_SMC_NUM_FANS)
        return 0;
    uint16_t now = (uint16_t)REG(PWM_CTR(pwm_slice(fan_tach_pin[fan])));
    tach_total[fan] += (uint16_t)(now - tach_last[fan]); /* 16-bit counter, read at least once a second */
    tach_last[fan] = now;
    return tach_total[fan];
}

/* --- 1-Wire: standard speed, slots of 70 us; interrupts masked only in the timed windows --- */

static inline uint32_t irq_off(void) {
    uint32_t primask;
    __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    return primask;
}
static inline void irq_restore(uint32_t primask) { __asm volatile("msr primask, %0" ::"r"(primask) : "memory"); }
static inline void ow_low(void) { REG(SIO_GPIO_OE_SET) = 1u << OW_PIN; }
static inline void ow_release(void) { REG(SIO_GPIO_OE_CLR) = 1u << OW_PIN; }
static inline bool ow_level(void) { return (REG(SIO_GPIO_IN) >> OW_PIN) & 1u; }

smc_ow_reset hal_ow_reset(void) {
    if (!ow_level())
        return SMC_OW_SHORT; /* nobody may hold the idle bus low */
    ow_low();
    hal_delay_us(480);
    uint32_t m = irq_off();
    ow_release();
    hal_delay_us(70);
    bool presence = !ow_level();
    irq_restore(m);
    hal_delay_us(410);
    if (!ow_level())
        return SMC_OW_SHORT;
    return presence ? SMC_OW_PRESENCE : SMC_OW_NO_DEVICE;
}

void hal_ow_write_bit(bool bit) {
    uint32_t m = irq_off();
    ow_low();
    if (bit) {
        hal_delay_us(6);
        ow_release();
        irq_restore(m);
        hal_delay_us(64);
    } else {
        hal_delay_us(60);
        ow_release();
        irq_restore(m);
        hal_delay_us(10);
    }
}

bool hal_ow_read_bit(void) {
    uint32_t m = irq_off();
    ow_low();
    hal_delay_us(6);
    ow_release();
    hal_delay_us(9);
    bool b = ow_level();
    irq_restore(m);
    hal_delay_us(55);
    return b;
}

/* --- watchdog and retained words --- */

static uint32_t wdt_load;

void hal_wdt_start(uint32_t timeout_ms) {
    /* RP2040-E1: the counter decrements twice per tick, so load twice the microseconds; the 24-bit
     * counter then allows at most 8.388 s. */
    uint64_t load = (uint64_t)timeout_ms * 1000u * 2u;
    if (load > 0xFFFFFFu)
        load = 0xFFFFFFu;
    wdt_load = (uint32_t)load;
    REG(PSM_WDSEL) = PSM_ALL & ~PSM_ROSC_XOSC; /* a bite resets everything but the oscillators */
    REG(WATCHDOG_LOAD) = wdt_load;
    REG(WATCHDOG_CTRL) = WATCHDOG_CTRL_ENABLE | WATCHDOG_CTRL_PAUSE_DBG0 | WATCHDOG_CTRL_PAUSE_DBG1 |
                         WATCHDOG_CTRL_PAUSE_JTAG;
}

void hal_wdt_kick(void) { REG(WATCHDOG_LOAD) = wdt_load; }

unsigned hal_reset_reason(void) {
    uint32_t r = REG(WATCHDOG_REASON);
    if (r & (WATCHDOG_REASON_TIMER | WATCHDOG_REASON_FORCE))
        return SB_SMC_RESET_WATCHDOG;
    return (REG(VREG_CHIP_RESET) & CHIP_RESET_HAD_POR) ? SB_SMC_RESET_POWER_ON : SB_SMC_RESET_OTHER;
}

uint32_t hal_retained_read(unsigned i) { return i < SMC_RETAINED_WORDS ? REG(WATCHDOG_SCRATCH(i)) : 0; }

void hal_retained_write(unsigned i, uint32_t v) {
    if (i < SMC_RETAINED_WORDS)
        REG(WATCHDOG_SCRATCH(i)) = v;
}
