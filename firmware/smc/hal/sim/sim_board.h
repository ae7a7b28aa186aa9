/*
 * sim_board.h - a simulated SMC board for host tests and the smc_sim process.
 *
 * It implements the HAL (smc_hal.h) on a model of the board: the 12 V input and the 3.3 V aux and
 * 0.8 V core rails with ramp and discharge times and injectable faults; the core power-good and the
 * reference clock; ADC noise and spikes; a lumped-RC thermal model (GPU die, heatsink, VRM, PCIe
 * connector, intake and exhaust air) driven by GPU power and fan speed; three fans with tachometers;
 * four DS18B20 sensors on a bit-level 1-Wire bus with their failure modes; the watchdog and chip
 * reset; and the SPI master side, including a simulated host that sends the die temperature and
 * GPU power once a second.
 *
 * Time is a simulated microsecond clock: it advances only in sim_run_us (1 ms main-loop ticks) and
 * by the time HAL calls take (1-Wire slots, delays). Everything is deterministic for a given seed.
 * There is one board per process (the HAL is a set of global functions).
 */
#ifndef SIM_BOARD_H
#define SIM_BOARD_H

#include "sb_smc_msg.h"
#include "smc_hal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sim_config {
    uint64_t seed;
    double ambient_c;         /* intake air, degC */
    double adc_noise_pct;     /* uniform +- noise on every ADC sample, % of the rail's nominal */
    double adc_spike_prob;    /* probability per sample of a one-sample spike of +-30% */
    double gpu_load;          /* 0..1 */
    double power_noise_pct;   /* GPU power fluctuation, % (1-sigma, per 100 ms) */
    bool host_agent;          /* the simulated host sends HOST_UPDATE every second */
    bool gpu_obeys_slowdown;  /* the GPU caps itself at 50% load while SLOWDOWN_N is low */
    uint32_t die_quantum_cc;  /* resolution of the die temperature the host reports (100 = 1 degC) */
    bool ow_extra_device;     /* a foreign 1-Wire device (family 0x01) on the bus too */
} sim_config;

void sim_config_default(sim_config *c);

/* Power-on: a fresh board (rails off, cold, retained words cleared) with cfg; boots the firmware. */
void sim_power_on(const sim_config *cfg);
/* Removes and restores board power: like sim_power_on with the current config. */
void sim_power_cycle(void);
/* Advances simulated time by us, running the main loop once per millisecond. */
void sim_run_us(uint64_t us);
/* Runs until pred(arg) is true (checked every tick) or max_us passed; returns whether it became true. */
bool sim_run_until(bool (*pred)(void *), void *arg, uint64_t max_us);
uint64_t sim_now_us(void);
/* A hung main loop: the firmware is not polled (the watchdog is still counting). */
void sim_set_hung(bool hung);
unsigned sim_reset_count(void);
uint64_t sim_last_boot_us(void);

/* --- rails --- */
enum { SIM_RAIL_12V = 0, SIM_RAIL_3V3 = 1, SIM_RAIL_CORE = 2, SIM_NUM_RAILS = 3 };
typedef enum sim_rail_fault {
    SIM_RAIL_OK = 0,
    SIM_RAIL_NO_START,  /* stays at 0 V when enabled */
    SIM_RAIL_SLOW,      /* ramps 10x slower than nominal */
    SIM_RAIL_LOW,       /* regulates at 85% of nominal */
    SIM_RAIL_NO_PG,     /* core: voltage fine but power-good never asserts */
} sim_rail_fault;
void sim_rail_set_fault(int rail, sim_rail_fault f);
/* Forces a rail to volts during [start_us, start_us + dur_us) (absolute sim time). */
void sim_rail_override(int rail, double volts, uint64_t start_us, uint64_t dur_us);
/* Pulls the core power-good low during [start_us, start_us + dur_us) with the voltage fine. */
void sim_pg_glitch(uint64_t start_us, uint64_t dur_us);
/* Reference clock: never locks (true) / loses lock during a window. */
void sim_clk_never_locks(bool never);
void sim_clk_loss(uint64_t start_us, uint64_t dur_us);
/* Ramp time 0 -> nominal of a rail (defaults: aux 20 ms, core 3 ms). */
void sim_rail_set_ramp_us(int rail, double ramp_us);
double sim_rail_volts(int rail);
bool sim_pg(void);
bool sim_clk_ok(void);
bool sim_out(smc_out o);

/* --- events (output and power-good/clock edges, resets) --- */
enum { SIM_EV_OUT = 1, SIM_EV_PG = 2, SIM_EV_CLK = 3, SIM_EV_RESET = 4, SIM_EV_BOOT = 5 };
typedef struct sim_event {
    uint64_t t;
    uint8_t kind;
    uint8_t which; /* smc_out for SIM_EV_OUT, reset reason for SIM_EV_RESET */
    uint8_t level;
} sim_event;
/* The events since power-on or the last clear (the first SIM_MAX_EVENTS of them). */
#define SIM_MAX_EVENTS 4096
size_t sim_events(const sim_event **ev);
void sim_events_clear(void);
/* Called on every output change, after it took effect (for invariant checks); NULL to remove. */
void sim_set_output_hook(void (*fn)(void *), void *arg);

/* --- thermal model --- */
enum { SIM_T_DIE = 0, SIM_T_HEATSINK, SIM_T_VRM, SIM_T_CONN, SIM_T_INTAKE, SIM_T_EXHAUST, SIM_NUM_T };
double sim_temp(int node);     /* model temperature, degC (intake/exhaust: at the sensor) */
double sim_gpu_power(void);    /* W */
void sim_set_load(double load);
void sim_set_ambient(double c);
/* Sets a node's temperature directly (tests of protection limits). */
void sim_set_temp(int node, double c);

/* --- fans --- */
void sim_fan_stuck(int fan, bool stuck); /* rotor blocked: 0 RPM, no airflow */
uint16_t sim_fan_duty(int fan);          /* per mille as driven (1000 while the chip is in reset) */
double sim_fan_rpm(int fan);
/* Time and duties at the first 1-Wire operation after the last boot; false if none yet. */
bool sim_first_ow_after_boot(uint64_t *t_us, uint16_t duty[SB_SMC_NUM_FANS]);

/* --- 1-Wire sensors (loc 0..3 = VRM, PCIe connector, intake, exhaust) --- */
typedef enum sim_ow_fault {
    SIM_OW_OK = 0,
    SIM_OW_UNPLUGGED,   /* not on the bus */
    SIM_OW_STUCK_85,    /* conversions never update: always the power-on 85.00 degC */
    SIM_OW_CRC,         /* the next `count` scratchpad reads have a bit flipped (count < 0: all) */
    SIM_OW_SLOW_FIRST,  /* the first conversion after power-up takes 900 ms */
    SIM_OW_BROWNOUT,    /* the sensor resets now: register back to 85.00 until the next conversion */
    SIM_OW_OUT_OF_RANGE,/* the next `count` conversions yield 0x07FF (+127.94 degC) */
} sim_ow_fault;
void sim_ow_set_fault(int loc, sim_ow_fault f, int count);
void sim_ow_bus_short(bool shorted);
uint32_t sim_ow_reads(int loc); /* scratchpad reads served */
void sim_ow_rom(int loc, uint8_t rom[8]);

/* --- SPI master and the simulated host --- */
/* One full-duplex transaction of len bytes (chip select low for its duration). */
void sim_spi_transfer(const uint8_t *mosi, uint8_t *miso, size_t len);
/* A complete request/response exchange as the host does it, running the board meanwhile.
 * Returns 0 and the response payload (and its command byte) on success; -1 no response,
 * or the NAK reason when the SMC answered with a NAK. */
int sim_host_request(uint8_t cmd, const uint8_t *payload, size_t len, uint8_t *resp, size_t cap, size_t *resp_len);
/* Convenience wrappers (0 on success). */
int sim_host_power(bool on, uint8_t *result);
int sim_host_status(sb_smc_status *st);
int sim_host_telemetry(sb_smc_telemetry *t);
int sim_host_clear_fault(uint8_t *result);
int sim_host_fan_profile(uint8_t profile, uint8_t *result);
void sim_host_agent(bool enable);
/* Holds the periodic agent off (while another master, e.g. a socket client, has an exchange in
 * flight); true when the agent has no exchange of its own in flight. */
void sim_host_hold(bool hold);
bool sim_host_agent_idle(void);
/* The flags returned by the last HOST_UPDATE the agent sent. */
uint32_t sim_host_last_flags(void);

#endif
