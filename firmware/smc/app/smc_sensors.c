/*
 * smc_sensors.c - DS18B20 discovery, conversion cycle, validation and failure handling.
 */
#include "smc_sensors.h"

#include "sb_smc_msg.h"
#include "smc_config.h"

#include <string.h>

#define RAW_85C 0x0550
#define RAW_MIN (-55 * 16)
#define RAW_MAX (125 * 16)

void smc_sensors_init(smc_sensors *ss, uint64_t now) {
    memset(ss, 0, sizeof *ss);
    for (int i = 0; i < SMC_OW_NUM_LOC; i++)
        ss->s[i].status = SB_SMC_TEMP_ST_UNKNOWN;
    ss->phase = SMC_SEN_SEARCH;
    ss->t_search = now;
    ss->t_cycle = now;
    smc_ow_search_begin(&ss->search);
}

static void txn_read(smc_ow_txn *t, const uint8_t rom[8]) {
    memset(t, 0, sizeof *t);
    t->tx[0] = SMC_OW_CMD_MATCH_ROM;
    memcpy(t->tx + 1, rom, 8);
    t->tx[9] = SMC_OW_CMD_READ_SCRATCH;
    t->ntx = 10;
    t->nrx = 9;
}

static void txn_config(smc_ow_txn *t, const uint8_t rom[8], uint8_t th, uint8_t tl) {
    memset(t, 0, sizeof *t);
    t->tx[0] = SMC_OW_CMD_MATCH_ROM;
    memcpy(t->tx + 1, rom, 8);
    t->tx[9] = SMC_OW_CMD_WRITE_SCRATCH;
    t->tx[10] = th;
    t->tx[11] = tl;
    t->tx[12] = SMC_OW_CONFIG_12BIT;
    t->ntx = 13;
    t->nrx = 0;
}

static void txn_convert_all(smc_ow_txn *t) {
    memset(t, 0, sizeof *t);
    t->tx[0] = SMC_OW_CMD_SKIP_ROM;
    t->tx[1] = SMC_OW_CMD_CONVERT_T;
    t->ntx = 2;
}

typedef enum { TXN_RUNNING, TXN_DONE, TXN_BUS_ERROR } txn_result;

/* One bus operation of a transaction. */
static txn_result txn_step(smc_sensors *ss, smc_ow_txn *t) {
    if (t->pos == 0) {
        t->pos = 1;
        if (hal_ow_reset() != SMC_OW_PRESENCE) {
            ss->bus_errors++;
            return TXN_BUS_ERROR;
        }
    } else if (t->pos <= t->ntx) {
        smc_ow_write_byte(t->tx[t->pos - 1]);
        t->pos++;
    } else {
        unsigned k = (unsigned)(t->pos - 1 - t->ntx);
        t->rx[k] = smc_ow_read_byte();
        t->pos++;
    }
    return t->pos > t->ntx + t->nrx ? TXN_DONE : TXN_RUNNING;
}

smc_ow_verdict smc_sensors_validate(const smc_ow_sensor *s, const uint8_t sp[9], int16_t *centi) {
    if (smc_ow_crc8(sp, 9) != 0)
        return SMC_OW_ERROR;
    /* Fixed bits of the DS18B20 scratchpad: config 0RR11111, byte 7 = 0x10. This rejects the
     * all-zero read of a bus stuck low, whose CRC is valid. */
    if ((sp[4] & 0x9Fu) != 0x1Fu || sp[7] != 0x10u)
        return SMC_OW_ERROR;
    int raw = (int16_t)(uint16_t)(sp[0] | (sp[1] << 8));
    if (raw < RAW_MIN || raw > RAW_MAX)
        return SMC_OW_REJECT;
    int c = raw * 25 / 4; /* 1/16 degC -> centi-degC, exact */
    if (raw == RAW_85C) {
        int d = s->centi - c;
        if (!s->have_value || d > SMC_OW_P85_JUMP_CC || d < -SMC_OW_P85_JUMP_CC)
            return SMC_OW_REJECT;
    }
    *centi = (int16_t)c;
    return SMC_OW_ACCEPT;
}

static void sensor_fail(smc_sensors *ss, unsigned i) {
    smc_ow_sensor *s = &ss->s[i];
    if (s->status != SB_SMC_TEMP_ST_FAILED && s->status != SB_SMC_TEMP_ST_ABSENT)
        ss->new_fail |= (uint8_t)(1u << i);
    s->status = s->present ? SB_SMC_TEMP_ST_FAILED : SB_SMC_TEMP_ST_ABSENT;
    s->good_run = 0;
    s->fresh = false;
}

/* Applies the result of one read attempt; returns true when the sensor is finished this cycle. */
static bool sensor_result(smc_sensors *ss, unsigned i, bool bus_ok, const uint8_t sp[9]) {
    smc_ow_sensor *s = &ss->s[i];
    int16_t c = 0;
    smc_ow_verdict v = bus_ok ? smc_sensors_validate(s, sp, &c) : SMC_OW_ERROR;
    if (v == SMC_OW_ERROR) {
        s->crc_errors++;
        ss->crc_errors++;
        if (++ss->attempt <= SMC_OW_CRC_RETRIES)
            return false; /* retry at once */
        sensor_fail(ss, i);
        return true;
    }
    if (v == SMC_OW_REJECT) {
        s->rejects++;
        s->fresh = false;
        if (++s->reject_run >= SMC_OW_REJECT_LIMIT)
            sensor_fail(ss, i);
        return true;
    }
    s->reject_run = 0;
    s->centi = c;
    s->have_value = true;
    s->fresh = true;
    if (s->status == SB_SMC_TEMP_ST_FAILED) {
        if (++s->good_run >= SMC_OW_RECOVER_READS) {
            s->status = SB_SMC_TEMP_ST_OK;
            s->good_run = 0;
        }
    } else {
        s->status = SB_SMC_TEMP_ST_OK;
    }
    return true;
}

/* Next present sensor at or after i, or SMC_OW_NUM_LOC. */
static uint8_t next_present(const smc_sensors *ss, unsigned i) {
    while (i < SMC_OW_NUM_LOC && !ss->s[i].present)
        i++;
    return (uint8_t)i;
}

static void start_search(smc_sensors *ss, uint64_t now) {
    ss->phase = SMC_SEN_SEARCH;
    ss->t_search = now;
    ss->n_found = 0;
    smc_ow_search_begin(&ss->search);
}

/* Assigns the identified ROM to its location; sensors not identified become absent. */
static void ident_done(smc_sensors *ss, const uint8_t rom[8], const uint8_t sp[9]) {
    uint8_t th = sp[2], tl = sp[3];
    if ((unsigned)(tl ^ th) != 0xFFu || th < 1 || th > SMC_OW_NUM_LOC)
        return; /* not one of ours (unprogrammed) */
    smc_ow_sensor *s = &ss->s[th - 1];
    if (s->present && memcmp(s->rom, rom, 8) == 0)
        return;
    if (!s->present || s->status == SB_SMC_TEMP_ST_ABSENT || s->status == SB_SMC_TEMP_ST_FAILED) {
        memcpy(s->rom, rom, 8);
        s->present = true;
        s->have_value = false;
        s->reject_run = 0;
        s->good_run = 0;
        s->status = SB_SMC_TEMP_ST_UNKNOWN;
    }
}

static void search_finished(smc_sensors *ss, uint64_t now) {
    ss->searched = true;
    /* Sensors that were present but are no longer on the bus keep their ROM; their reads fail. */
    for (unsigned i = 0; i < SMC_OW_NUM_LOC; i++)
        if (!ss->s[i].present)
            sensor_fail(ss, i);
    ss->phase = SMC_SEN_CONVERT;
    ss->t_cycle = now;
}

void smc_sensors_step(smc_sensors *ss, uint64_t now) {
    switch (ss->phase) {
    case SMC_SEN_SEARCH: {
        smc_ow_search_result r = smc_ow_search_step(&ss->search, 2);
        if (r == SMC_OW_SEARCH_FOUND) {
            if (ss->search.rom[0] == SMC_OW_FAMILY_DS18B20 && ss->n_found < SMC_OW_MAX_FOUND)
                memcpy(ss->found[ss->n_found++], ss->search.rom, 8);
        } else if (r == SMC_OW_SEARCH_DONE || r == SMC_OW_SEARCH_ERROR) {
            if (r == SMC_OW_SEARCH_ERROR)
                ss->bus_errors++;
            ss->phase = SMC_SEN_IDENT;
            ss->idx = 0;
            ss->attempt = 0;
            ss->txn_active = false;
        }
        break;
    }
    case SMC_SEN_IDENT:
        if (ss->idx >= ss->n_found) {
            search_finished(ss, now);
            break;
        }
        if (!ss->txn_active) {
            txn_read(&ss->txn, ss->found[ss->idx]);
            ss->txn_active = true;
        }
        {
            txn_result r = txn_step(ss, &ss->txn);
            if (r == TXN_RUNNING)
                break;
            ss->txn_active = false;
            bool ok = r == TXN_DONE && smc_ow_crc8(ss->txn.rx, 9) == 0 && (ss->txn.rx[4] & 0x9Fu) == 0x1Fu;
            if (!ok) {
                ss->crc_errors++;
                if (++ss->attempt <= SMC_OW_CRC_RETRIES)
                    break;
            } else {
                ident_done(ss, ss->found[ss->idx], ss->txn.rx);
                if (ss->txn.rx[4] != SMC_OW_CONFIG_12BIT) {
                    txn_config(&ss->txn, ss->found[ss->idx], ss->txn.rx[2], ss->txn.rx[3]);
                    ss->txn_active = true;
                    ss->phase = SMC_SEN_CONFIG;
                    break;
                }
            }
            ss->idx++;
            ss->attempt = 0;
        }
        break;
    case SMC_SEN_CONFIG:
        if (txn_step(ss, &ss->txn) != TXN_RUNNING) {
            ss->txn_active = false;
            ss->phase = SMC_SEN_IDENT;
            ss->idx++;
            ss->attempt = 0;
        }
        break;
    case SMC_SEN_CONVERT:
        if (!ss->txn_active) {
            txn_convert_all(&ss->txn);
            ss->txn_active = true;
        }
        if (txn_step(ss, &ss->txn) != TXN_RUNNING) {
            /* A bus error here shows up as failed reads below. */
            ss->txn_active = false;
            ss->phase = SMC_SEN_WAIT;
        }
        break;
    case SMC_SEN_WAIT:
        if (now - ss->t_cycle >= SMC_OW_CONV_US) {
            ss->phase = SMC_SEN_READ;
            ss->idx = next_present(ss, 0);
            ss->attempt = 0;
            ss->txn_active = false;
        }
        break;
    case SMC_SEN_READ:
        if (ss->idx >= SMC_OW_NUM_LOC) {
            ss->cycle_done = true;
            ss->phase = SMC_SEN_IDLE;
            break;
        }
        if (!ss->txn_active) {
            txn_read(&ss->txn, ss->s[ss->idx].rom);
            ss->txn_active = true;
        }
        {
            txn_result r = txn_step(ss, &ss->txn);
            if (r == TXN_RUNNING)
                break;
            ss->txn_active = false;
            if (sensor_result(ss, ss->idx, r == TXN_DONE, ss->txn.rx)) {
                ss->idx = next_present(ss, ss->idx + 1u);
                ss->attempt = 0;
            }
        }
        break;
    case SMC_SEN_IDLE:
        if (now - ss->t_cycle >= SMC_CONTROL_PERIOD_US) {
            bool missing = false;
            for (unsigned i = 0; i < SMC_OW_NUM_LOC; i++)
                missing |= !ss->s[i].present || ss->s[i].status == SB_SMC_TEMP_ST_FAILED;
            if (missing && now - ss->t_search >= SMC_OW_SEARCH_RETRY_US) {
                start_search(ss, now);
            } else {
                ss->phase = SMC_SEN_CONVERT;
                ss->t_cycle += SMC_CONTROL_PERIOD_US;
                if (now - ss->t_cycle >= SMC_CONTROL_PERIOD_US)
                    ss->t_cycle = now; /* fell behind: resynchronise instead of bursting */
            }
        }
        break;
    }
}
