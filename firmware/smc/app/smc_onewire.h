/*
 * smc_onewire.h - the 1-Wire byte and ROM layers over the HAL's bit primitives.
 *
 * CRC-8 (Dallas/Maxim, x^8+x^5+x^4+1, reflected), byte transfers (LSB first), and the ROM search
 * (Maxim AN187) as an incremental step machine so that the main loop never blocks for more than a
 * few bit slots.
 */
#ifndef SMC_ONEWIRE_H
#define SMC_ONEWIRE_H

#include "smc_hal.h"

#include <stdbool.h>
#include <stdint.h>

#define SMC_OW_CMD_SEARCH_ROM 0xF0
#define SMC_OW_CMD_READ_ROM 0x33
#define SMC_OW_CMD_MATCH_ROM 0x55
#define SMC_OW_CMD_SKIP_ROM 0xCC
#define SMC_OW_CMD_CONVERT_T 0x44
#define SMC_OW_CMD_READ_SCRATCH 0xBE
#define SMC_OW_CMD_WRITE_SCRATCH 0x4E
#define SMC_OW_FAMILY_DS18B20 0x28

/* CRC-8/MAXIM of n bytes; a block followed by its CRC byte has CRC 0. */
uint8_t smc_ow_crc8(const uint8_t *p, unsigned n);

void smc_ow_write_byte(uint8_t b);
uint8_t smc_ow_read_byte(void);

/* ROM search state. Start with smc_ow_search_begin, then call smc_ow_search_step until it stops
 * returning SMC_OW_SEARCH_RUNNING. */
typedef enum smc_ow_search_result {
    SMC_OW_SEARCH_RUNNING = 0,
    SMC_OW_SEARCH_FOUND,   /* rom holds a device's ROM (CRC checked); more may follow */
    SMC_OW_SEARCH_DONE,    /* no more devices */
    SMC_OW_SEARCH_ERROR,   /* no presence, bus short, or an impossible bit pair / bad CRC */
} smc_ow_search_result;

typedef struct smc_ow_search {
    uint8_t rom[8];
    uint8_t last_discrepancy; /* bit (1..64) where the previous pass took the 0 branch last */
    uint8_t last_zero;
    uint8_t bit;              /* next bit number, 1..64; 0 = needs reset + command */
    bool last_device;
    bool active;
} smc_ow_search;

void smc_ow_search_begin(smc_ow_search *s);
/* Runs at most max_bits bit positions of the current pass (a pass starts with reset + F0).
 * After FOUND the next call starts the next pass; after DONE or ERROR call begin again. */
smc_ow_search_result smc_ow_search_step(smc_ow_search *s, unsigned max_bits);

#endif
