/*
 * smc_sensors.h - the DS18B20 temperature sensors on the 1-Wire bus.
 *
 * One bus carries the four board sensors. A ROM search finds them; each sensor's location
 * (1 VRM, 2 PCIe connector, 3 intake, 4 exhaust) is programmed at manufacturing into its TH user
 * byte, with TL = ~TH as a check. Every second: CONVERT T to all (SKIP ROM), wait 750 ms (the
 * 12-bit conversion time), then MATCH ROM + READ SCRATCHPAD for each. The step function performs
 * at most one bus operation (a reset or one byte, <= 1 ms) per call, so it never stalls the loop.
 *
 * A reading is rejected (not used, counted) when it is outside the sensor's -55..+125 degC range
 * (the failed-conversion value 0x07FF = +127.94 degC among them), or when it is exactly 85.00 degC
 * (the power-on value of the register) and is the first reading of that sensor or more than 10 K
 * from its previous reading. A CRC or format error is retried up to 3 times; then the sensor is
 * failed, as it is after 3 rejected readings in a row or when the search does not find it.
 */
#ifndef SMC_SENSORS_H
#define SMC_SENSORS_H

#include "smc_onewire.h"

#include <stdbool.h>
#include <stdint.h>

#define SMC_OW_NUM_LOC 4 /* sensor i here is temperature SB_SMC_T_* index i+1 */
#define SMC_OW_MAX_FOUND 8
#define SMC_OW_CONFIG_12BIT 0x7F

typedef struct smc_ow_sensor {
    bool present;       /* found by the search and identified */
    uint8_t rom[8];
    int16_t centi;      /* last accepted reading */
    uint8_t status;     /* SB_SMC_TEMP_ST_* */
    bool have_value;    /* a reading was accepted since the sensor (re)appeared */
    bool fresh;         /* a reading was accepted in the last cycle */
    uint8_t reject_run; /* consecutive rejected readings */
    uint8_t good_run;   /* consecutive accepted readings while failed */
    uint8_t attempt;    /* attempts of the current read */
    uint32_t crc_errors;
    uint32_t rejects;
} smc_ow_sensor;

typedef enum smc_sen_phase {
    SMC_SEN_SEARCH = 0,
    SMC_SEN_IDENT,
    SMC_SEN_CONFIG,
    SMC_SEN_CONVERT,
    SMC_SEN_WAIT,
    SMC_SEN_READ,
    SMC_SEN_IDLE,
} smc_sen_phase;

/* One 1-Wire transaction: reset, write tx[0..ntx), read nrx bytes into rx. */
typedef struct smc_ow_txn {
    uint8_t tx[14];
    uint8_t ntx;
    uint8_t nrx;
    uint8_t rx[9];
    uint8_t pos; /* 0 = reset next */
} smc_ow_txn;

typedef struct smc_sensors {
    smc_ow_sensor s[SMC_OW_NUM_LOC];
    smc_sen_phase phase;
    uint64_t t_cycle;  /* start of the current conversion cycle */
    uint64_t t_search; /* start of the last search */
    smc_ow_search search;
    uint8_t found[SMC_OW_MAX_FOUND][8];
    uint8_t n_found;
    uint8_t idx;       /* ident: index into found[]; read: sensor index */
    uint8_t attempt;
    smc_ow_txn txn;
    bool txn_active;
    bool searched;        /* a search has completed since start */
    bool cycle_done;      /* set when a read phase finished; the caller clears it */
    uint8_t new_fail;     /* bit i: sensor i failed since the caller last cleared it */
    uint32_t crc_errors;  /* all CRC/format errors */
    uint32_t bus_errors;  /* resets without presence or with the line stuck low */
} smc_sensors;

void smc_sensors_init(smc_sensors *ss, uint64_t now);
/* Advances the bus work by at most one operation. */
void smc_sensors_step(smc_sensors *ss, uint64_t now);

/* Reading validation, exposed for the tests: classifies a 9-byte scratchpad for sensor s. */
typedef enum smc_ow_verdict { SMC_OW_ACCEPT = 0, SMC_OW_REJECT, SMC_OW_ERROR } smc_ow_verdict;
smc_ow_verdict smc_sensors_validate(const smc_ow_sensor *s, const uint8_t sp[9], int16_t *centi);

#endif
