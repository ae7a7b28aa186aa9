/*
 * smc_onewire.c - 1-Wire CRC-8, byte transfers and the incremental ROM search.
 */
#include "smc_onewire.h"

#include <string.h>

uint8_t smc_ow_crc8(const uint8_t *p, unsigned n) {
    uint8_t crc = 0;
    for (unsigned i = 0; i < n; i++) {
        uint8_t b = p[i];
        for (int k = 0; k < 8; k++) {
            uint8_t mix = (uint8_t)((crc ^ b) & 1u);
            crc >>= 1;
            if (mix)
                crc ^= 0x8Cu;
            b >>= 1;
        }
    }
    return crc;
}

void smc_ow_write_byte(uint8_t b) {
    for (int i = 0; i < 8; i++)
        hal_ow_write_bit((b >> i) & 1u);
}

uint8_t smc_ow_read_byte(void) {
    uint8_t b = 0;
    for (int i = 0; i < 8; i++)
        if (hal_ow_read_bit())
            b |= (uint8_t)(1u << i);
    return b;
}

void smc_ow_search_begin(smc_ow_search *s) {
    memset(s, 0, sizeof *s);
    s->active = true;
}

smc_ow_search_result smc_ow_search_step(smc_ow_search *s, unsigned max_bits) {
    if (!s->active || s->last_device)
        return SMC_OW_SEARCH_DONE;
    if (s->bit == 0) {
        if (hal_ow_reset() != SMC_OW_PRESENCE) {
            s->active = false;
            return SMC_OW_SEARCH_ERROR;
        }
        smc_ow_write_byte(SMC_OW_CMD_SEARCH_ROM);
        s->bit = 1;
        s->last_zero = 0;
        return SMC_OW_SEARCH_RUNNING;
    }
    for (unsigned k = 0; k < max_bits && s->bit <= 64; k++) {
        unsigned idx = (unsigned)(s->bit - 1);
        uint8_t mask = (uint8_t)(1u << (idx & 7u));
        bool id = hal_ow_read_bit();
        bool cmp = hal_ow_read_bit();
        bool dir;
        if (id && cmp) { /* nobody answered this bit: devices left the bus mid-search */
            s->active = false;
            return SMC_OW_SEARCH_ERROR;
        }
        if (id != cmp) {
            dir = id;
        } else if (s->bit < s->last_discrepancy) {
            dir = (s->rom[idx >> 3] & mask) != 0;
        } else {
            dir = s->bit == s->last_discrepancy;
        }
        if (id == cmp && !dir)
            s->last_zero = s->bit;
        if (dir)
            s->rom[idx >> 3] |= mask;
        else
            s->rom[idx >> 3] &= (uint8_t)~mask;
        hal_ow_write_bit(dir);
        s->bit++;
    }
    if (s->bit <= 64)
        return SMC_OW_SEARCH_RUNNING;
    s->bit = 0;
    s->last_discrepancy = s->last_zero;
    if (s->last_discrepancy == 0)
        s->last_device = true;
    if (smc_ow_crc8(s->rom, 8) != 0 || s->rom[0] == 0) {
        s->active = false;
        return SMC_OW_SEARCH_ERROR;
    }
    return SMC_OW_SEARCH_FOUND;
}
