/*
 * sb_smc_msg.h - the payloads carried by SMC frames, and the names of the things they report.
 *
 * Each payload has a plain C struct, an encoder that serialises it field by field (little-endian)
 * and returns the byte count, and a decoder that checks the length and returns false on a payload
 * that does not fit. Both sides (firmware and host) use the same functions.
 */
#ifndef SB_SMC_MSG_H
#define SB_SMC_MSG_H

#include "sb_smc_proto.h"

#define SB_SMC_NUM_RAILS 3 /* 12 V input, 3.3 V aux, 0.8 V core */
#define SB_SMC_NUM_TEMPS 5 /* GPU die (from the host), VRM, PCIe connector, intake, exhaust */
#define SB_SMC_NUM_FANS 3  /* two on the GPU heatsink (push-pull), one board/VRM fan */
#define SB_SMC_FAULT_LOG_MAX 16

enum { SB_SMC_RAIL_12V = 0, SB_SMC_RAIL_3V3 = 1, SB_SMC_RAIL_CORE = 2, SB_SMC_SRC_CLK = 3 };
enum { SB_SMC_T_DIE = 0, SB_SMC_T_VRM = 1, SB_SMC_T_CONN = 2, SB_SMC_T_INTAKE = 3, SB_SMC_T_EXHAUST = 4 };

/* Power sequencing states (see firmware/smc/app/smc_pwr.h for the transitions). */
typedef enum sb_smc_pwr_state {
    SB_SMC_PWR_OFF = 0,
    SB_SMC_PWR_WAIT_12V,
    SB_SMC_PWR_AUX_RAMP,
    SB_SMC_PWR_CORE_RAMP,
    SB_SMC_PWR_CLK_WAIT,
    SB_SMC_PWR_PERST_WAIT,
    SB_SMC_PWR_GPU_ENABLE,
    SB_SMC_PWR_RUNNING,
    SB_SMC_PWR_PDN_PERST, /* power-down: PERST# asserted, reference clock still running */
    SB_SMC_PWR_PDN_CORE,  /* power-down: clock and core off, waiting for the core to discharge */
    SB_SMC_PWR_PDN_AUX,   /* power-down: aux off, waiting for it to discharge */
    SB_SMC_PWR_FAULT,     /* everything off, a fault latched: only CLEAR_FAULT or a power cycle leaves */
    SB_SMC_PWR_NUM_STATES
} sb_smc_pwr_state;

/* Fault codes. 1..11 latch the power state machine; the rest are only logged. */
typedef enum sb_smc_fault_code {
    SB_SMC_FAULT_NONE = 0,
    SB_SMC_FAULT_V12_LOST = 1,      /* 12 V input left its band while a rail was on */
    SB_SMC_FAULT_V12_TIMEOUT = 2,   /* 12 V never came into band */
    SB_SMC_FAULT_AUX_TIMEOUT = 3,   /* 3.3 V aux not in regulation within 100 ms */
    SB_SMC_FAULT_AUX_LOST = 4,      /* 3.3 V aux left its window while on */
    SB_SMC_FAULT_CORE_TIMEOUT = 5,  /* core power-good (and window) not reached in time */
    SB_SMC_FAULT_CORE_PG_LOST = 6,  /* core power-good deasserted while on */
    SB_SMC_FAULT_CORE_WINDOW = 7,   /* core voltage left its window (ADC) while PG was still high */
    SB_SMC_FAULT_CLK_TIMEOUT = 8,   /* reference clock did not become stable */
    SB_SMC_FAULT_CLK_LOST = 9,      /* reference clock lost while running */
    SB_SMC_FAULT_DISCHARGE = 10,    /* a rail did not discharge during power-down */
    SB_SMC_FAULT_THERMAL_EPO = 11,  /* emergency power-off on temperature */
    SB_SMC_FAULT_FAN_FAILED = 12,   /* tachometer under 10% of command for 3 s */
    SB_SMC_FAULT_SENSOR_FAILED = 13,/* a temperature sensor failed (absent, CRC, stuck) */
    SB_SMC_FAULT_WATCHDOG = 14,     /* the previous run ended in a watchdog reset */
    SB_SMC_FAULT_HOST_SILENT = 15,  /* no host update for 5 s while the GPU was powered */
    SB_SMC_FAULT_NUM_CODES
} sb_smc_fault_code;

typedef enum sb_smc_profile {
    SB_SMC_PROFILE_QUIET = 0,
    SB_SMC_PROFILE_NORMAL = 1,
    SB_SMC_PROFILE_MAX = 2,
    SB_SMC_PROFILE_NUM
} sb_smc_profile;

typedef enum sb_smc_reset_reason {
    SB_SMC_RESET_POWER_ON = 0,
    SB_SMC_RESET_WATCHDOG = 1,
    SB_SMC_RESET_OTHER = 2,
} sb_smc_reset_reason;

/* Status of one reading in the telemetry. */
enum { SB_SMC_RAIL_ST_OFF = 0, SB_SMC_RAIL_ST_OK, SB_SMC_RAIL_ST_UV, SB_SMC_RAIL_ST_OV };
enum { SB_SMC_TEMP_ST_UNKNOWN = 0, SB_SMC_TEMP_ST_OK, SB_SMC_TEMP_ST_FAILED, SB_SMC_TEMP_ST_STALE,
       SB_SMC_TEMP_ST_ABSENT };
enum { SB_SMC_FAN_ST_OK = 0, SB_SMC_FAN_ST_FAILED };

/* Status flag bits. */
#define SB_SMC_FLAG_SLOWDOWN (1u << 0)     /* slowdown requested (a temperature at its slowdown limit) */
#define SB_SMC_FLAG_SHUTDOWN (1u << 1)     /* orderly shutdown requested */
#define SB_SMC_FLAG_EPO (1u << 2)          /* an emergency power-off happened (latched with the fault) */
#define SB_SMC_FLAG_FAULT (1u << 3)        /* a power fault is latched */
#define SB_SMC_FLAG_FAILSAFE (1u << 4)     /* fans forced to 100% */
#define SB_SMC_FLAG_HOST_SILENT (1u << 5)  /* no host update for 5 s */
#define SB_SMC_FLAG_SENSOR_FAIL (1u << 6)  /* at least one 1-Wire sensor failed */
#define SB_SMC_FLAG_FAN_FAIL (1u << 7)     /* at least one fan failed */
#define SB_SMC_FLAG_FAN_FAIL_SHIFT 16      /* bit 16+i: fan i failed */
#define SB_SMC_FLAG_TEMP_FAIL_SHIFT 20     /* bit 20+i: temperature i failed or stale */

/* One fault record (12 bytes on the wire). source: rail (SB_SMC_RAIL_*, SB_SMC_SRC_CLK), sensor
 * (SB_SMC_T_*) or fan index, by code. step: the power state when it happened. value: mV, centi-degC
 * or RPM, by code. */
typedef struct sb_smc_fault_rec {
    uint8_t code;
    uint8_t source;
    uint8_t step;
    uint32_t time_ms; /* SMC uptime when it happened */
    int32_t value;
} sb_smc_fault_rec;
#define SB_SMC_FAULT_REC_LEN 12u

/* Link (SPI) receive counters, in telemetry order. */
enum {
    SB_SMC_LINK_OK = 0,
    SB_SMC_LINK_MAGIC,
    SB_SMC_LINK_VERSION,
    SB_SMC_LINK_LENGTH,
    SB_SMC_LINK_TRUNCATED,
    SB_SMC_LINK_CRC,
    SB_SMC_LINK_REPLAY,
    SB_SMC_LINK_UNKNOWN,
    SB_SMC_LINK_OVERFLOW,
    SB_SMC_LINK_BAD_PAYLOAD,
    SB_SMC_LINK_NUM
};

typedef struct sb_smc_status {
    uint8_t result;
    uint8_t pwr_state;
    uint8_t profile;
    uint8_t reset_reason;
    uint32_t flags;
    sb_smc_fault_rec fault; /* the latched fault; code 0 when none */
    uint32_t uptime_ms;
    uint16_t fault_total; /* faults logged since power-up */
    uint16_t last_seq;
} sb_smc_status;
#define SB_SMC_STATUS_LEN 28u

typedef struct sb_smc_telemetry {
    uint8_t result;
    uint8_t pwr_state;
    uint8_t profile;
    uint8_t reset_reason;
    uint32_t flags;
    uint16_t rail_mv[SB_SMC_NUM_RAILS];
    uint8_t rail_status[SB_SMC_NUM_RAILS];
    int16_t temp_centi[SB_SMC_NUM_TEMPS];
    uint8_t temp_status[SB_SMC_NUM_TEMPS];
    uint16_t fan_duty_permille[SB_SMC_NUM_FANS];
    uint16_t fan_rpm[SB_SMC_NUM_FANS];
    uint8_t fan_status[SB_SMC_NUM_FANS];
    uint16_t gpu_power_dw; /* last GPU power from the host, 0.1 W */
    uint32_t uptime_ms;
    uint16_t pg_glitches;   /* core power-good dips too short to trip */
    uint16_t ow_crc_errors; /* 1-Wire CRC/validation errors (retried) */
    uint32_t link[SB_SMC_LINK_NUM];
} sb_smc_telemetry;
#define SB_SMC_TELEMETRY_LEN (8u + 6u + 3u + 10u + 5u + 6u + 6u + 3u + 2u + 4u + 4u + 4u * SB_SMC_LINK_NUM)

typedef struct sb_smc_fault_log {
    uint8_t result;
    uint8_t count;  /* records that follow, oldest first */
    uint16_t total; /* faults logged since power-up (older ones dropped) */
    sb_smc_fault_rec rec[SB_SMC_FAULT_LOG_MAX];
} sb_smc_fault_log;

typedef struct sb_smc_version {
    uint8_t result;
    uint8_t major, minor, patch;
    uint8_t proto;
    char build[24]; /* NUL-terminated board/build name */
} sb_smc_version;
#define SB_SMC_VERSION_LEN 29u

/* GPU die temperature and power, sent by the host once a second. */
typedef struct sb_smc_host_update {
    int16_t die_centi;     /* GPU die, centi-degC */
    uint16_t power_dw;     /* GPU board power, 0.1 W */
    uint8_t valid;         /* bit 0: die valid, bit 1: power valid */
} sb_smc_host_update;
#define SB_SMC_HOST_UPDATE_LEN 5u

/* The last accepted sequence number, returned by SYNC. */
typedef struct sb_smc_sync {
    uint8_t result;
    uint16_t last_seq;
    uint8_t session; /* 1 when a sequence was accepted since the SMC started */
} sb_smc_sync;
#define SB_SMC_SYNC_LEN 4u

/* NAK payload. */
typedef struct sb_smc_nak {
    uint8_t reason;
    uint8_t cmd;
    uint16_t last_seq;
} sb_smc_nak;
#define SB_SMC_NAK_LEN 4u

/* Encoders: write into buf (capacity cap), return the length or 0 when cap is too small.
 * Decoders: return false when n does not fit the message (or the count field overflows). */
size_t sb_smc_status_encode(const sb_smc_status *m, uint8_t *buf, size_t cap);
bool sb_smc_status_decode(const uint8_t *p, size_t n, sb_smc_status *m);
size_t sb_smc_telemetry_encode(const sb_smc_telemetry *m, uint8_t *buf, size_t cap);
bool sb_smc_telemetry_decode(const uint8_t *p, size_t n, sb_smc_telemetry *m);
size_t sb_smc_fault_log_encode(const sb_smc_fault_log *m, uint8_t *buf, size_t cap);
bool sb_smc_fault_log_decode(const uint8_t *p, size_t n, sb_smc_fault_log *m);
size_t sb_smc_version_encode(const sb_smc_version *m, uint8_t *buf, size_t cap);
bool sb_smc_version_decode(const uint8_t *p, size_t n, sb_smc_version *m);
size_t sb_smc_host_update_encode(const sb_smc_host_update *m, uint8_t *buf, size_t cap);
bool sb_smc_host_update_decode(const uint8_t *p, size_t n, sb_smc_host_update *m);
size_t sb_smc_sync_encode(const sb_smc_sync *m, uint8_t *buf, size_t cap);
bool sb_smc_sync_decode(const uint8_t *p, size_t n, sb_smc_sync *m);
size_t sb_smc_nak_encode(const sb_smc_nak *m, uint8_t *buf, size_t cap);
bool sb_smc_nak_decode(const uint8_t *p, size_t n, sb_smc_nak *m);

/* Stable short names for display; "?" for values out of range. Static storage. */
const char *sb_smc_state_name(unsigned state);
const char *sb_smc_fault_name(unsigned code);
const char *sb_smc_profile_name(unsigned profile);
const char *sb_smc_reset_name(unsigned reason);
const char *sb_smc_rail_name(unsigned rail);
const char *sb_smc_temp_name(unsigned sensor);
const char *sb_smc_link_name(unsigned counter);
const char *sb_smc_nak_name(unsigned reason);
const char *sb_smc_result_name(unsigned result);
/* Name of a fault's source (rail, sensor or fan) given its code. */
const char *sb_smc_fault_source_name(unsigned code, unsigned source);
/* Unit of a fault record's value given its code: "mV", "cC" (centi-degC), "rpm" or "". */
const char *sb_smc_fault_value_unit(unsigned code);

#endif
