/*
 * smc_fault.h - the fault log and the latched fault that survives a watchdog reset.
 *
 * The log is a ring of the last SB_SMC_FAULT_LOG_MAX records in RAM. The latched power fault is
 * also written to the four retained words (RP2040 watchdog scratch registers: kept across a
 * watchdog reset, cleared by a power cycle) with a check word, so that a reset neither clears it
 * nor lets the GPU come back on by itself.
 */
#ifndef SMC_FAULT_H
#define SMC_FAULT_H

#include "sb_smc_msg.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct smc_fault_log {
    sb_smc_fault_rec rec[SB_SMC_FAULT_LOG_MAX];
    uint8_t head;   /* next slot to write */
    uint8_t count;  /* valid records */
    uint16_t total; /* records ever added (saturating) */
} smc_fault_log;

void smc_fault_log_init(smc_fault_log *l);
void smc_fault_log_add(smc_fault_log *l, const sb_smc_fault_rec *r);
/* Copies the records oldest first into out (room for SB_SMC_FAULT_LOG_MAX); returns the count. */
unsigned smc_fault_log_get(const smc_fault_log *l, sb_smc_fault_rec *out);

/* Packs a fault into the retained words (code NONE erases them). */
void smc_fault_persist(const sb_smc_fault_rec *r);
/* Restores the retained fault; false (and *r zeroed) when there is none or the words do not check. */
bool smc_fault_restore(sb_smc_fault_rec *r);

/* Pure packing, exposed for tests: 4 words <-> record. */
void smc_fault_pack(const sb_smc_fault_rec *r, uint32_t w[4]);
bool smc_fault_unpack(const uint32_t w[4], sb_smc_fault_rec *r);

#endif
