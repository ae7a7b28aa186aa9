/*
 * sim_onewire.c - a bit-level 1-Wire bus with DS18B20 devices (HAL: hal_ow_reset/write_bit/read_bit).
 *
 * Every device runs the DS18B20 protocol per bit slot: ROM commands (SEARCH F0 with bit/complement/
 * direction slots, MATCH 55, SKIP CC, READ 33) then function commands (CONVERT T 44, READ SCRATCHPAD
 * BE, WRITE SCRATCHPAD 4E). The bus is wired-AND: in a read slot it reads 1 only if no device pulls
 * it low. A reset takes 960 us and a slot 70 us of simulated time. Each device's TH byte holds its
 * location (1..4) and TL its complement, as programmed at manufacturing; the temperature register
 * powers up at 85.00 degC (0x0550) and a conversion takes 550..750 ms.
 */
#include "sim_internal.h"

#include "smc_onewire.h"

#include <math.h>
#include <string.h>

#define T_RESET_US 960u
#define T_SLOT_US 70u

enum { ST_IDLE = 0, ST_ROMCMD, ST_SEARCH, ST_MATCH, ST_READROM, ST_FUNC, ST_READSP, ST_WRITESP, ST_CONVERT };

static const int loc_node[4] = {SIM_T_VRM, SIM_T_CONN, SIM_T_INTAKE, SIM_T_EXHAUST};

static void sp_crc(sim_ow_dev *d) { d->sp[8] = smc_ow_crc8(d->sp, 8); }

static void power_up(sim_ow_dev *d) {
    d->sp[0] = 0x50; /* 85.00 degC */
    d->sp[1] = 0x05;
    d->sp[5] = 0xFF;
    d->sp[6] = 0x0C;
    d->sp[7] = 0x10;
    sp_crc(d);
    d->converting = false;
    d->conversions = 0;
    d->state = ST_IDLE;
}

void sim_ow_reset_board(void) {
    memset(g_sim.ow, 0, sizeof g_sim.ow);
    g_sim.ow_short = false;
    for (int i = 0; i < 4; i++) {
        sim_ow_dev *d = &g_sim.ow[i];
        d->exists = d->plugged = d->ds18b20 = true;
        d->rom[0] = SMC_OW_FAMILY_DS18B20;
        uint64_t serial = sim_rng_next();
        for (int k = 1; k < 7; k++)
            d->rom[k] = (uint8_t)(serial >> (8 * k));
        d->rom[7] = smc_ow_crc8(d->rom, 7);
        d->node = loc_node[i];
        d->sp[2] = (uint8_t)(i + 1);
        d->sp[3] = (uint8_t)~(uint8_t)(i + 1);
        d->sp[4] = 0x7F; /* 12-bit from EEPROM */
        power_up(d);
    }
    if (g_sim.cfg.ow_extra_device) {
        sim_ow_dev *d = &g_sim.ow[4];
        d->exists = d->plugged = true;
        d->ds18b20 = false;
        d->rom[0] = 0x01; /* a silicon serial number chip: ROM commands only */
        uint64_t serial = sim_rng_next();
        for (int k = 1; k < 7; k++)
            d->rom[k] = (uint8_t)(serial >> (8 * k));
        d->rom[7] = smc_ow_crc8(d->rom, 7);
    }
}

static int raw_of(double c) {
    double r = floor(c * 16.0 + 0.5);
    if (r < -55 * 16)
        r = -55 * 16;
    if (r > 125 * 16)
        r = 125 * 16;
    return (int)r;
}

/* Finishes a conversion whose time has come: the register takes the node temperature. */
static void conv_update(sim_ow_dev *d) {
    if (!d->converting || g_sim.now < d->conv_done)
        return;
    d->converting = false;
    d->conversions++;
    if (d->fault == SIM_OW_STUCK_85)
        return;
    int raw = raw_of(g_sim.T[d->node]);
    if (d->fault == SIM_OW_OUT_OF_RANGE && d->fault_count != 0) {
        raw = 0x07FF;
        if (d->fault_count > 0)
            d->fault_count--;
    }
    d->sp[0] = (uint8_t)raw;
    d->sp[1] = (uint8_t)((unsigned)raw >> 8);
    sp_crc(d);
}

static bool on_bus(const sim_ow_dev *d) { return d->exists && d->plugged; }

static int rom_bit(const sim_ow_dev *d, int i) { return (d->rom[i >> 3] >> (i & 7)) & 1; }

/* The bit a device puts on the bus in a read slot (1 = released), and its state change. */
static int dev_read(sim_ow_dev *d) {
    switch (d->state) {
    case ST_SEARCH:
        if (d->search_phase == 0) {
            d->search_phase = 1;
            return rom_bit(d, d->search_bit);
        }
        if (d->search_phase == 1) {
            d->search_phase = 2;
            return !rom_bit(d, d->search_bit);
        }
        return 1;
    case ST_READROM: {
        int b = d->bitpos < 64 ? rom_bit(d, d->bitpos) : 1;
        d->bitpos++;
        return b;
    }
    case ST_READSP: {
        int b = 1;
        if (d->bitpos < 72) {
            b = (d->sp[d->bitpos >> 3] >> (d->bitpos & 7)) & 1;
            if (d->corrupt_this_read && d->bitpos == d->corrupt_bit)
                b ^= 1;
        }
        d->bitpos++;
        return b;
    }
    case ST_CONVERT:
        conv_update(d);
        return d->converting ? 0 : 1;
    default:
        return 1;
    }
}

static void dev_func(sim_ow_dev *d, uint8_t cmd) {
    d->bitpos = 0;
    d->acc = 0;
    if (!d->ds18b20) {
        d->state = ST_IDLE;
        return;
    }
    switch (cmd) {
    case SMC_OW_CMD_CONVERT_T:
        conv_update(d);
        {
            uint64_t t = 550000u + (uint64_t)(sim_rng_uniform() * 200000.0);
            if (d->fault == SIM_OW_SLOW_FIRST && d->conversions == 0)
                t = 900000u;
            d->converting = true;
            d->conv_done = g_sim.now + t;
        }
        d->state = ST_CONVERT;
        break;
    case SMC_OW_CMD_READ_SCRATCH:
        conv_update(d);
        d->reads++;
        d->corrupt_this_read = false;
        if (d->fault == SIM_OW_CRC && d->fault_count != 0) {
            d->corrupt_this_read = true;
            d->corrupt_bit = (int)(sim_rng_next() % 72u);
            if (d->fault_count > 0)
                d->fault_count--;
        }
        d->state = ST_READSP;
        break;
    case SMC_OW_CMD_WRITE_SCRATCH:
        d->state = ST_WRITESP;
        break;
    default:
        d->state = ST_IDLE;
        break;
    }
}

static void dev_write(sim_ow_dev *d, int bit) {
    switch (d->state) {
    case ST_ROMCMD:
    case ST_FUNC:
        d->acc |= (uint8_t)(bit << d->bitpos);
        if (++d->bitpos < 8)
            return;
        if (d->state == ST_FUNC) {
            dev_func(d, d->acc);
            return;
        }
        d->bitpos = 0;
        switch (d->acc) {
        case SMC_OW_CMD_SEARCH_ROM:
            d->state = ST_SEARCH;
            d->search_bit = 0;
            d->search_phase = 0;
            break;
        case SMC_OW_CMD_MATCH_ROM:
            d->state = ST_MATCH;
            d->match_ok = true;
            break;
        case SMC_OW_CMD_SKIP_ROM:
            d->state = ST_FUNC;
            break;
        case SMC_OW_CMD_READ_ROM:
            d->state = ST_READROM;
            break;
        default:
            d->state = ST_IDLE;
            break;
        }
        d->acc = 0;
        break;
    case ST_SEARCH:
        if (d->search_phase != 2) {
            d->state = ST_IDLE; /* protocol error: a write where a read slot was expected */
            break;
        }
        if (bit != rom_bit(d, d->search_bit)) {
            d->state = ST_IDLE; /* not this branch: drops out until the next reset */
            break;
        }
        d->search_phase = 0;
        if (++d->search_bit == 64)
            d->state = ST_IDLE;
        break;
    case ST_MATCH:
        if (bit != rom_bit(d, d->bitpos))
            d->match_ok = false;
        if (++d->bitpos == 64) {
            d->state = d->match_ok ? ST_FUNC : ST_IDLE;
            d->bitpos = 0;
            d->acc = 0;
        }
        break;
    case ST_WRITESP:
        if (bit)
            d->sp[2 + d->bitpos / 8] |= (uint8_t)(1u << (d->bitpos & 7));
        else
            d->sp[2 + d->bitpos / 8] &= (uint8_t)~(1u << (d->bitpos & 7));
        if (++d->bitpos == 24) {
            d->sp[4] = (uint8_t)((d->sp[4] & 0x60u) | 0x1Fu); /* only R1:R0 are writable */
            sp_crc(d);
            d->state = ST_IDLE;
        }
        break;
    default:
        break;
    }
}

static void note_first_op(void) {
    if (!g_sim.ow_seen_after_boot) {
        g_sim.ow_seen_after_boot = true;
        g_sim.ow_first_t = g_sim.now;
        memcpy(g_sim.ow_first_duty, g_sim.fan_duty, sizeof g_sim.ow_first_duty);
    }
}

smc_ow_reset hal_ow_reset(void) {
    note_first_op();
    g_sim.now += T_RESET_US;
    if (g_sim.ow_short)
        return SMC_OW_SHORT;
    bool presence = false;
    for (int i = 0; i < SIM_OW_NUM; i++) {
        sim_ow_dev *d = &g_sim.ow[i];
        if (!on_bus(d))
            continue;
        conv_update(d);
        d->state = ST_ROMCMD;
        d->bitpos = 0;
        d->acc = 0;
        presence = true;
    }
    return presence ? SMC_OW_PRESENCE : SMC_OW_NO_DEVICE;
}

void hal_ow_write_bit(bool bit) {
    note_first_op();
    g_sim.now += T_SLOT_US;
    if (g_sim.ow_short)
        return;
    for (int i = 0; i < SIM_OW_NUM; i++)
        if (on_bus(&g_sim.ow[i]))
            dev_write(&g_sim.ow[i], bit ? 1 : 0);
}

bool hal_ow_read_bit(void) {
    note_first_op();
    g_sim.now += T_SLOT_US;
    if (g_sim.ow_short)
        return false;
    int bus = 1;
    for (int i = 0; i < SIM_OW_NUM; i++)
        if (on_bus(&g_sim.ow[i]))
            bus &= dev_read(&g_sim.ow[i]);
    return bus != 0;
}

void sim_ow_set_fault(int loc, sim_ow_fault f, int count) {
    if (loc < 0 || loc >= 4)
        return;
    sim_ow_dev *d = &g_sim.ow[loc];
    switch (f) {
    case SIM_OW_UNPLUGGED:
        d->plugged = false;
        d->state = ST_IDLE;
        break;
    case SIM_OW_BROWNOUT:
        power_up(d);
        break;
    case SIM_OW_OK:
        if (!d->plugged) {
            d->plugged = true;
            power_up(d); /* plugged back in: a fresh power-up */
        }
        d->fault = SIM_OW_OK;
        break;
    default:
        d->fault = f;
        d->fault_count = count;
        break;
    }
}

void sim_ow_bus_short(bool shorted) { g_sim.ow_short = shorted; }

uint32_t sim_ow_reads(int loc) { return loc >= 0 && loc < SIM_OW_NUM ? g_sim.ow[loc].reads : 0; }

void sim_ow_rom(int loc, uint8_t rom[8]) {
    if (loc >= 0 && loc < SIM_OW_NUM)
        memcpy(rom, g_sim.ow[loc].rom, 8);
}
