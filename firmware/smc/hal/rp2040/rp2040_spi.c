/*
 * rp2040_spi.c - the SPI status link on the RP2040: SPI0 (ARM PL022) in slave mode, SPI mode 3
 * (CPOL=1, CPHA=1: the PL022 slave needs CPHA=1 to keep chip select low across bytes), 8-bit
 * frames, at most 1 MHz from the host (the slave needs clk_peri >= 12 x SCK).
 *
 * DMA channel 0 moves received bytes into a receive slot, channel 1 feeds the transmit FIFO from a
 * zero-padded copy of the armed response. When chip select rises (GPIO 17 edge interrupt) the
 * transaction is complete: the slot is queued for hal_spi_poll, both channels are aborted, the
 * PL022 is reset (its FIFOs have no flush) and everything is re-armed for the next transaction.
 * The host leaves at least 100 us between transactions for that (the 1-Wire code masks interrupts
 * for at most ~70 us).
 */
#include "rp2040_regs.h"
#include "rp2040_hal.h"

#include "sb_smc_proto.h"
#include "smc_hal.h"

#include <string.h>

#define CS_PIN 17u
#define RX_MAX (SB_SMC_FRAME_MAX + 8u)
#define TX_LEN (RX_MAX + 8u) /* longer than any accepted transaction: the FIFO never runs dry */
#define SLOTS 2u
#define DMA_RX 0u
#define DMA_TX 1u

typedef struct slot {
    uint8_t rx[RX_MAX];
    volatile uint32_t len;
    volatile bool overflow;
    volatile uint32_t tx_tag;
    volatile uint32_t tx_sent;
} slot;

static slot slots[SLOTS];
static uint8_t scratch_rx[RX_MAX];     /* when both slots wait for the application */
static volatile unsigned q_head, q_count, cur;
static volatile bool cur_is_scratch;
static uint8_t tx_buf[2][TX_LEN];      /* armed response (zero-padded) for the next transaction */
static volatile unsigned tx_sel;           /* buffer being shifted out */
static volatile uint32_t act_tag, act_len;   /* its tag and response length */
static volatile uint32_t pend_tag, pend_len; /* the other buffer, armed during a transaction */
static volatile bool tx_pending;
static slot out_slot;                  /* what hal_spi_poll handed out last */

static void ssp_config(void) {
    REG(SSPCR1) = 0;
    REG(SSPCR0) = SSPCR0_DSS_8 | SSPCR0_SPO | SSPCR0_SPH; /* Motorola frame, mode 3, SCR 0 */
    REG(SSPCPSR) = 2;
    REG(SSPIMSC) = 0;
    REG(SSPDMACR) = SSPDMACR_RX | SSPDMACR_TX;
    REG(SSPCR1) = SSPCR1_MS;               /* slave: MS is set while SSE is clear */
    REG(SSPCR1) = SSPCR1_MS | SSPCR1_SSE;
}

static void dma_abort(void) {
    REG(DMA_CHAN_ABORT) = (1u << DMA_RX) | (1u << DMA_TX);
    while (REG(DMA_CHAN_ABORT) & ((1u << DMA_RX) | (1u << DMA_TX)))
        ;
}

/* Points both channels at the current buffers and starts them (they wait for the PL022's DREQs). */
static void arm(void) {
    uint8_t *dst = cur_is_scratch ? scratch_rx : slots[cur].rx;
    REG(DMA_READ(DMA_RX)) = SSPDR;
    REG(DMA_WRITE(DMA_RX)) = (uint32_t)(uintptr_t)dst;
    REG(DMA_COUNT(DMA_RX)) = RX_MAX;
    REG(DMA_CTRL_TRIG(DMA_RX)) = DMA_CTRL_EN | DMA_CTRL_INCR_WRITE | DMA_CTRL_CHAIN_TO(DMA_RX) |
                                 DMA_CTRL_TREQ(DREQ_SPI0_RX);
    REG(DMA_READ(DMA_TX)) = (uint32_t)(uintptr_t)tx_buf[tx_sel];
    REG(DMA_WRITE(DMA_TX)) = SSPDR;
    REG(DMA_COUNT(DMA_TX)) = TX_LEN;
    REG(DMA_CTRL_TRIG(DMA_TX)) = DMA_CTRL_EN | DMA_CTRL_INCR_READ | DMA_CTRL_CHAIN_TO(DMA_TX) |
                                 DMA_CTRL_TREQ(DREQ_SPI0_TX);
}

/* Stops the transfer engine and resets the PL022, which empties both FIFOs. */
static void quiesce(void) {
    dma_abort();
    REG_SET(RESETS_RESET) = RST_SPI0;
    REG_CLR(RESETS_RESET) = RST_SPI0;
    while (!(REG(RESETS_DONE) & RST_SPI0))
        ;
    ssp_config();
}

void rp2040_spi_init(void) {
    static const uint8_t pins[4] = {16, 17, 18, 19};
    for (unsigned i = 0; i < 4; i++) {
        REG(PAD(pins[i])) = PAD_IE | PAD_DRIVE_4MA | PAD_SCHMITT | (pins[i] == CS_PIN ? PAD_PUE : 0u);
        REG(GPIO_CTRL(pins[i])) = FUNC_SPI;
    }
    memset(tx_buf, 0, sizeof tx_buf);
    q_head = q_count = cur = 0;
    cur_is_scratch = false;
    tx_sel = 0;
    act_tag = act_len = pend_tag = pend_len = 0;
    tx_pending = false;
    quiesce();
    arm();
    /* Chip select rising edge: the end of a transaction. The input path works whatever the pin's
     * function, so the PL022 keeps CSn while IO_BANK0 watches it. */
    REG(IO_INTR(CS_PIN)) = IO_EDGE_HIGH(CS_PIN);
    REG_SET(IO_PROC0_INTE(CS_PIN)) = IO_EDGE_HIGH(CS_PIN);
    REG(NVIC_ICPR) = 1u << IRQ_IO_BANK0;
    REG(NVIC_ISER) = 1u << IRQ_IO_BANK0;
}

void rp2040_isr_io_bank0(void) {
    if (!(REG(IO_INTR(CS_PIN)) & IO_EDGE_HIGH(CS_PIN)))
        return;
    REG(IO_INTR(CS_PIN)) = IO_EDGE_HIGH(CS_PIN);
    /* Let the DMA drain the receive FIFO (a byte is 8 us at 1 MHz; this takes well under 1 us). */
    for (int i = 0; i < 1000 && (REG(SSPSR) & SSPSR_RNE); i++)
        ;
    uint32_t received = RX_MAX - REG(DMA_COUNT(DMA_RX));
    bool overflow = (REG(SSPSR) & SSPSR_RNE) || (REG(SSPRIS) & SSPRIS_ROR);
    bool was_scratch = cur_is_scratch;
    unsigned done = cur;
    quiesce();
    if (!was_scratch && received > 0) {
        slot *s = &slots[done];
        s->len = received;
        s->overflow = overflow;
        s->tx_tag = act_tag;
        s->tx_sent = act_tag ? (received < act_len ? received : act_len) : 0;
        q_count++;
    }
    /* Next receive buffer: a free slot, or the scratch buffer when the application is behind. */
    if (q_count < SLOTS) {
        cur = (q_head + q_count) % SLOTS;
        cur_is_scratch = false;
    } else {
        cur_is_scratch = true;
    }
    if (tx_pending) {
        tx_sel ^= 1u;
        act_tag = pend_tag;
        act_len = pend_len;
        tx_pending = false;
    }
    arm();
}

static uint32_t irq_off(void) {
    uint32_t primask;
    __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    return primask;
}
static void irq_restore(uint32_t primask) { __asm volatile("msr primask, %0" ::"r"(primask) : "memory"); }

bool hal_spi_poll(smc_spi_xfer *x) {
    uint32_t m = irq_off();
    if (q_count == 0) {
        irq_restore(m);
        return false;
    }
    slot *s = &slots[q_head];
    out_slot.len = s->len;
    out_slot.overflow = s->overflow;
    out_slot.tx_tag = s->tx_tag;
    out_slot.tx_sent = s->tx_sent;
    memcpy(out_slot.rx, s->rx, s->len <= RX_MAX ? s->len : RX_MAX);
    q_head = (q_head + 1u) % SLOTS;
    q_count--;
    if (cur_is_scratch) { /* a slot is free again: receive into it from the next transaction */
        cur = (q_head + q_count) % SLOTS;
        cur_is_scratch = false;
        if (REG(SIO_GPIO_IN) & (1u << CS_PIN)) { /* bus idle: switch now */
            quiesce();
            arm();
        }
    }
    irq_restore(m);
    x->rx = out_slot.rx;
    x->rx_len = out_slot.len;
    x->overflow = out_slot.overflow;
    x->tx_tag = out_slot.tx_tag;
    x->tx_sent = out_slot.tx_sent;
    return true;
}

void hal_spi_arm(const uint8_t *buf, size_t len, uint32_t tag) {
    if (!buf || len > SB_SMC_FRAME_MAX)
        len = 0;
    uint32_t m = irq_off();
    unsigned other = tx_sel ^ 1u;
    memset(tx_buf[other], 0, TX_LEN);
    if (len)
        memcpy(tx_buf[other], buf, len);
    pend_len = (uint32_t)len;
    pend_tag = len ? tag : 0;
    tx_pending = true;
    if (REG(SIO_GPIO_IN) & (1u << CS_PIN)) {
        /* Chip select is high: no transaction in progress, so the new buffer can go in now. */
        tx_sel = other;
        act_tag = pend_tag;
        act_len = pend_len;
        tx_pending = false;
        quiesce();
        arm();
    }
    irq_restore(m);
}
