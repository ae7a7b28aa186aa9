/*
 * smc_fault.c - fault ring log and retained latch (see smc_fault.h).
 */
#include "smc_fault.h"

#include "smc_hal.h"

#include <string.h>

#define RETAIN_TAG 0xA5u
#define RETAIN_SALT 0x5EC0DE11u

void smc_fault_log_init(smc_fault_log *l) { memset(l, 0, sizeof *l); }

void smc_fault_log_add(smc_fault_log *l, const sb_smc_fault_rec *r) {
    l->rec[l->head] = *r;
    l->head = (uint8_t)((l->head + 1u) % SB_SMC_FAULT_LOG_MAX);
    if (l->count < SB_SMC_FAULT_LOG_MAX)
        l->count++;
    if (l->total < 0xFFFFu)
        l->total++;
}

unsigned smc_fault_log_get(const smc_fault_log *l, sb_smc_fault_rec *out) {
    unsigned start = (l->head + SB_SMC_FAULT_LOG_MAX - l->count) % SB_SMC_FAULT_LOG_MAX;
    for (unsigned i = 0; i < l->count; i++)
        out[i] = l->rec[(start + i) % SB_SMC_FAULT_LOG_MAX];
    return l->count;
}

static uint32_t check_word(const uint32_t w[3]) {
    uint8_t b[12];
    for (int i = 0; i < 3; i++)
        sb_smc_put_u32(b + 4 * i, w[i]);
    return sb_smc_crc32c(b, sizeof b) ^ RETAIN_SALT;
}

void smc_fault_pack(const sb_smc_fault_rec *r, uint32_t w[4]) {
    w[0] = ((uint32_t)RETAIN_TAG << 24) | ((uint32_t)r->step << 16) | ((uint32_t)r->source << 8) | r->code;
    w[1] = r->time_ms;
    w[2] = (uint32_t)r->value;
    w[3] = check_word(w);
}

bool smc_fault_unpack(const uint32_t w[4], sb_smc_fault_rec *r) {
    memset(r, 0, sizeof *r);
    if ((w[0] >> 24) != RETAIN_TAG || w[3] != check_word(w))
        return false;
    uint8_t code = (uint8_t)w[0];
    if (code == SB_SMC_FAULT_NONE || code >= SB_SMC_FAULT_NUM_CODES)
        return false;
    r->code = code;
    r->source = (uint8_t)(w[0] >> 8);
    r->step = (uint8_t)(w[0] >> 16);
    r->time_ms = w[1];
    r->value = (int32_t)w[2];
    return true;
}

void smc_fault_persist(const sb_smc_fault_rec *r) {
    uint32_t w[4] = {0, 0, 0, 0};
    if (r && r->code != SB_SMC_FAULT_NONE)
        smc_fault_pack(r, w);
    for (unsigned i = 0; i < SMC_RETAINED_WORDS; i++)
        hal_retained_write(i, w[i]);
}

bool smc_fault_restore(sb_smc_fault_rec *r) {
    uint32_t w[4];
    for (unsigned i = 0; i < SMC_RETAINED_WORDS; i++)
        w[i] = hal_retained_read(i);
    return smc_fault_unpack(w, r);
}
