/*
 * sim_internal.h - state shared by the files of the simulated board (not for tests).
 */
#ifndef SIM_INTERNAL_H
#define SIM_INTERNAL_H

#include "sim_board.h"

#define SIM_OW_NUM 5 /* four DS18B20 + an optional foreign device */
#define SIM_SPI_QUEUE 4
#define SIM_SPI_RX_MAX (SB_SMC_FRAME_MAX + 8)
#define SIM_MAX_WINDOWS 8

typedef struct sim_window {
    uint64_t start, end;
    double value;
} sim_window;

typedef struct sim_rail {
    double nominal;
    double v;       /* voltage at t_upd */
    uint64_t t_upd;
    bool enabled;   /* enable input as driven */
    double ramp_us; /* 0 -> nominal */
    double tau_us;  /* discharge time constant */
    sim_rail_fault fault;
    sim_window ovr[SIM_MAX_WINDOWS];
    int n_ovr;
    uint64_t t_good; /* core: when the voltage entered the PG band (UINT64_MAX = not) */
} sim_rail;

typedef struct sim_ow_dev {
    bool exists;
    bool plugged;
    bool ds18b20;
    uint8_t rom[8];
    uint8_t sp[9];
    int node;         /* SIM_T_* it measures */
    int state;
    int bitpos;
    uint8_t acc;
    bool match_ok;
    int search_bit;
    int search_phase;
    bool converting;
    uint64_t conv_done;
    int conversions;
    sim_ow_fault fault;
    int fault_count;
    bool corrupt_this_read;
    int corrupt_bit;
    uint32_t reads;
} sim_ow_dev;

typedef struct sim_spi_rec {
    uint8_t rx[SIM_SPI_RX_MAX];
    size_t rx_len;
    bool overflow;
    uint32_t tx_tag;
    size_t tx_sent;
} sim_spi_rec;

typedef struct sim_state {
    sim_config cfg;
    uint64_t now;
    uint64_t rng;
    uint32_t adc_rng;
    bool hung;
    bool in_reset;       /* chip held in reset / booting */
    uint64_t boot_at;    /* when the firmware starts after a reset */
    unsigned reset_reason;
    unsigned resets;
    uint64_t last_boot;

    /* watchdog */
    bool wdt_on;
    uint64_t wdt_timeout_us;
    uint64_t wdt_last_kick;
    uint32_t retained[SMC_RETAINED_WORDS];

    /* gpio */
    bool out[SMC_OUT_COUNT];
    bool pg_level;       /* last evaluated */
    bool pg_fell;        /* falling edge latched since last hal_in_fell */
    uint64_t pg_fell_checked;
    bool clk_level;
    bool clk_fell;
    sim_window pg_glitch[SIM_MAX_WINDOWS];
    int n_pg_glitch;
    bool clk_never;
    uint64_t t_clk_en;
    sim_window clk_loss[SIM_MAX_WINDOWS];
    int n_clk_loss;
    sim_rail rail[SIM_NUM_RAILS];

    /* events */
    sim_event ev[SIM_MAX_EVENTS];
    size_t n_ev;
    void (*out_hook)(void *);
    void *out_hook_arg;

    /* plant */
    double T[SIM_NUM_T];
    double load;
    double p_gpu;
    double power_noise;
    uint64_t t_plant;
    uint16_t fan_duty[SB_SMC_NUM_FANS];
    double fan_rpm[SB_SMC_NUM_FANS];
    bool fan_stuck[SB_SMC_NUM_FANS];
    double tach_frac[SB_SMC_NUM_FANS];
    uint32_t tach[SB_SMC_NUM_FANS];

    /* 1-wire */
    sim_ow_dev ow[SIM_OW_NUM];
    bool ow_short;
    bool ow_seen_after_boot;
    uint64_t ow_first_t;
    uint16_t ow_first_duty[SB_SMC_NUM_FANS];

    /* spi */
    sim_spi_rec q[SIM_SPI_QUEUE];
    unsigned q_head, q_count;
    sim_spi_rec cur; /* the record handed out by hal_spi_poll */
    const uint8_t *tx_buf;
    size_t tx_len;
    uint32_t tx_tag;

    /* simulated host */
    bool agent_on;
    bool host_busy;      /* a sim_host_request is in flight: the agent waits */
    uint16_t host_seq;
    bool host_synced;
    uint64_t agent_next;
    uint32_t agent_flags;
    int agent_state;
    uint64_t agent_poll_at;
    int agent_tries;
    uint8_t agent_cmd;
    uint16_t agent_seq;
} sim_state;

extern sim_state g_sim;

/* sim_board.c */
uint64_t sim_rng_next(void);
double sim_rng_uniform(void); /* [0, 1) */
double sim_rng_normal(void);
void sim_event_add(uint8_t kind, uint8_t which, uint8_t level);
void sim_rails_update(void);

/* sim_plant.c */
void sim_plant_reset(void);
void sim_plant_advance(uint64_t to_us);
void sim_fans_on_reset(void);

/* sim_onewire.c */
void sim_ow_reset_board(void);

/* sim_spi.c */
void sim_spi_reset_board(void);
void sim_host_tick(void);

#endif
