/*
 * smc_test_sensors.c - the DS18B20 sensors: CRC-8, ROM search, readings, and the failure modes
 * (unplugged, stuck at the power-on value, 85 degC right after power-up, brown-out, CRC errors,
 * failed-conversion value, bus short), each with the fans' reaction.
 */
#include "sb_test.h"
#include "smc_config.h"
#include "smc_onewire.h"
#include "smc_sensors.h"
#include "smc_test_util.h"

#include <math.h>
#include <string.h>

#define MS 1000u

static void test_crc8(void) {
    SB_CHECK_EQ_INT(smc_ow_crc8((const uint8_t *)"123456789", 9), 0xA1); /* CRC-8/MAXIM check value */
    uint8_t rom[8] = {0x28, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0};
    rom[7] = smc_ow_crc8(rom, 7);
    SB_CHECK_EQ_INT(smc_ow_crc8(rom, 8), 0);
    rom[3] ^= 0x10;
    SB_CHECK(smc_ow_crc8(rom, 8) != 0);
}

static void make_sp(uint8_t sp[9], int raw) {
    memset(sp, 0, 9);
    sp[0] = (uint8_t)raw;
    sp[1] = (uint8_t)((unsigned)raw >> 8);
    sp[2] = 1;
    sp[3] = 0xFE;
    sp[4] = 0x7F;
    sp[5] = 0xFF;
    sp[6] = 0x0C;
    sp[7] = 0x10;
    sp[8] = smc_ow_crc8(sp, 8);
}

static void test_validation(void) {
    smc_ow_sensor s;
    memset(&s, 0, sizeof s);
    uint8_t sp[9];
    int16_t c = 0;
    make_sp(sp, 25 * 16 + 8); /* 25.5 degC */
    SB_CHECK(smc_sensors_validate(&s, sp, &c) == SMC_OW_ACCEPT && c == 2550);
    make_sp(sp, -10 * 16 - 4); /* -10.25 */
    SB_CHECK(smc_sensors_validate(&s, sp, &c) == SMC_OW_ACCEPT && c == -1025);
    /* 85.00 right after power-up: rejected; after a reading of 84.5: accepted; after 40: rejected. */
    make_sp(sp, 0x0550);
    SB_CHECK(smc_sensors_validate(&s, sp, &c) == SMC_OW_REJECT);
    s.have_value = true;
    s.centi = 8450;
    SB_CHECK(smc_sensors_validate(&s, sp, &c) == SMC_OW_ACCEPT && c == 8500);
    s.centi = 4000;
    SB_CHECK(smc_sensors_validate(&s, sp, &c) == SMC_OW_REJECT);
    /* The failed-conversion value and anything outside -55..125 degC. */
    make_sp(sp, 0x07FF);
    SB_CHECK(smc_sensors_validate(&s, sp, &c) == SMC_OW_REJECT);
    make_sp(sp, -56 * 16);
    SB_CHECK(smc_sensors_validate(&s, sp, &c) == SMC_OW_REJECT);
    /* A bad CRC, an all-zero read (bus stuck low: its CRC is valid), all ones (nothing answered). */
    make_sp(sp, 400);
    sp[0] ^= 1;
    SB_CHECK(smc_sensors_validate(&s, sp, &c) == SMC_OW_ERROR);
    memset(sp, 0, 9);
    SB_CHECK_EQ_INT(smc_ow_crc8(sp, 9), 0);
    SB_CHECK(smc_sensors_validate(&s, sp, &c) == SMC_OW_ERROR);
    memset(sp, 0xFF, 9);
    SB_CHECK(smc_sensors_validate(&s, sp, &c) == SMC_OW_ERROR);
}

/* The app's reading of location i against the model (1/16 degC resolution, one cycle of lag). */
static void check_readings(const char *what) {
    const smc_app *a = tu_app();
    static const int node[4] = {SIM_T_VRM, SIM_T_CONN, SIM_T_INTAKE, SIM_T_EXHAUST};
    for (int i = 0; i < 4; i++) {
        double got = a->temp[i + 1] / 100.0, want = sim_temp(node[i]);
        SB_CHECKF(a->temp_status[i + 1] == SB_SMC_TEMP_ST_OK, "%s: sensor %d status %d", what, i,
                  a->temp_status[i + 1]);
        SB_CHECKF(fabs(got - want) < 0.5, "%s: sensor %d reads %.2f, model %.2f", what, i, got, want);
    }
}

static void test_search_and_read(void) {
    sim_config c;
    sim_config_default(&c);
    c.ow_extra_device = true; /* a foreign device on the bus too */
    tu_boot(&c, 2500 * MS);
    const smc_app *a = tu_app();
    for (int i = 0; i < 4; i++) {
        uint8_t rom[8];
        sim_ow_rom(i, rom);
        SB_CHECKF(a->sen.s[i].present && memcmp(a->sen.s[i].rom, rom, 8) == 0, "location %d identified", i);
    }
    SB_CHECK_EQ_INT(a->sen.n_found, 4); /* the foreign family is not a temperature sensor */
    check_readings("boot");
    SB_CHECK(!a->failsafe);
    /* Readings follow the model as it heats. */
    SB_CHECK(tu_power_on(1000 * MS));
    sim_set_load(1.0);
    sim_run_us(120000 * MS);
    check_readings("after 2 min at full load");
    SB_CHECK(a->temp[SB_SMC_T_VRM] > 3000);
    SB_CHECK_EQ_INT(a->sen.crc_errors, 0);
}

/* Runs until fans are all at 100% and returns how long after `since` that happened. */
static uint64_t fans_full_after(uint64_t since, uint64_t max_us) {
    uint64_t t = 0;
    if (!tu_run_until_fans(1000, max_us, &t))
        return UINT64_MAX;
    return t - since;
}

static void test_unplugged(void) {
    /* Absent at boot: found missing by the search, fans stay at 100%. */
    sim_config c;
    sim_config_default(&c);
    tu_boot(&c, 0);
    sim_ow_set_fault(2, SIM_OW_UNPLUGGED, 0);
    sim_run_us(5000 * MS);
    const smc_app *a = tu_app();
    SB_CHECK_EQ_INT(a->temp_status[SB_SMC_T_INTAKE], SB_SMC_TEMP_ST_ABSENT);
    SB_CHECK(a->failsafe);
    for (int i = 0; i < SB_SMC_NUM_FANS; i++)
        SB_CHECK_EQ_INT(sim_fan_duty(i), 1000);
    /* Plugged in: the periodic re-search finds it, readings resume, fans come down. */
    sim_ow_set_fault(2, SIM_OW_OK, 0);
    sim_run_us(15000 * MS);
    SB_CHECK_EQ_INT(a->temp_status[SB_SMC_T_INTAKE], SB_SMC_TEMP_ST_OK);
    SB_CHECK(!a->failsafe);
    sim_run_us(10000 * MS);
    SB_CHECK(sim_fan_duty(0) < 1000);

    /* Unplugged while running: failed within a cycle, fans at 100% within one control period. */
    sim_run_us(60000 * MS);
    SB_CHECK(sim_fan_duty(0) < 1000);
    uint64_t t0 = sim_now_us();
    sim_ow_set_fault(0, SIM_OW_UNPLUGGED, 0);
    uint64_t dt = fans_full_after(t0, 5000 * MS);
    SB_CHECKF(dt <= 2000 * MS, "fans at 100%% %llu ms after the sensor was pulled", (unsigned long long)dt / 1000);
    SB_CHECK_EQ_INT(a->temp_status[SB_SMC_T_VRM], SB_SMC_TEMP_ST_FAILED);
    SB_CHECK(a->sen.s[0].crc_errors >= 1 + SMC_OW_CRC_RETRIES);
    sb_smc_status st;
    SB_CHECK(sim_host_status(&st) == 0);
    SB_CHECK(st.flags & SB_SMC_FLAG_SENSOR_FAIL);
    SB_CHECK(st.flags & (1u << (SB_SMC_FLAG_TEMP_FAIL_SHIFT + SB_SMC_T_VRM)));
    SB_CHECK(st.flags & SB_SMC_FLAG_FAILSAFE);
}

static void test_stuck_at_power_on_value(void) {
    sim_config c;
    sim_config_default(&c);
    tu_boot(&c, 0);
    sim_ow_set_fault(1, SIM_OW_STUCK_85, 0);
    sim_run_us(6000 * MS);
    const smc_app *a = tu_app();
    SB_CHECK_EQ_INT(a->temp_status[SB_SMC_T_CONN], SB_SMC_TEMP_ST_FAILED);
    SB_CHECK(a->sen.s[1].rejects >= SMC_OW_REJECT_LIMIT);
    SB_CHECK(!a->sen.s[1].have_value); /* 85.00 never accepted */
    SB_CHECK(a->temp[SB_SMC_T_CONN] != 8500);
    SB_CHECK(a->failsafe && sim_fan_duty(2) == 1000);
    /* The failure is in the log. */
    sb_smc_fault_rec rec[SB_SMC_FAULT_LOG_MAX];
    unsigned n = smc_fault_log_get(&a->log, rec);
    bool logged = false;
    for (unsigned i = 0; i < n; i++)
        logged |= rec[i].code == SB_SMC_FAULT_SENSOR_FAILED && rec[i].source == SB_SMC_T_CONN;
    SB_CHECK(logged);
}

static void test_85_right_after_power_up(void) {
    sim_config c;
    sim_config_default(&c);
    tu_boot(&c, 0);
    sim_ow_set_fault(3, SIM_OW_SLOW_FIRST, 0); /* first conversion not done at 750 ms */
    sim_run_us(5000 * MS);
    const smc_app *a = tu_app();
    SB_CHECK_EQ_INT(a->sen.s[3].rejects, 1);
    SB_CHECK_EQ_INT(a->temp_status[SB_SMC_T_EXHAUST], SB_SMC_TEMP_ST_OK);
    SB_CHECK(a->temp[SB_SMC_T_EXHAUST] < 3000);

    /* A brown-out of one sensor mid-run: its 85.00 is rejected once, the sensor stays in use. */
    sim_run_us(1300 * MS);
    sim_ow_set_fault(0, SIM_OW_BROWNOUT, 0);
    sim_run_us(3000 * MS);
    SB_CHECK(a->sen.s[0].rejects <= 1);
    SB_CHECK_EQ_INT(a->temp_status[SB_SMC_T_VRM], SB_SMC_TEMP_ST_OK);
    SB_CHECK(a->temp[SB_SMC_T_VRM] != 8500);

    /* The failed-conversion value is rejected too. */
    sim_ow_set_fault(2, SIM_OW_OUT_OF_RANGE, 2);
    sim_run_us(4000 * MS);
    SB_CHECK(a->sen.s[2].rejects >= 1);
    SB_CHECK_EQ_INT(a->temp_status[SB_SMC_T_INTAKE], SB_SMC_TEMP_ST_OK);
    SB_CHECK(a->temp[SB_SMC_T_INTAKE] < 3000);
}

static void test_crc_errors(void) {
    sim_config c;
    sim_config_default(&c);
    tu_boot(&c, 3000 * MS);
    const smc_app *a = tu_app();
    /* Two corrupted reads: retried, the sensor stays OK. */
    sim_ow_set_fault(1, SIM_OW_CRC, 2);
    sim_run_us(3000 * MS);
    SB_CHECK_EQ_INT(a->sen.s[1].crc_errors, 2);
    SB_CHECK_EQ_INT(a->temp_status[SB_SMC_T_CONN], SB_SMC_TEMP_ST_OK);
    SB_CHECK(!a->failsafe);
    sb_smc_telemetry tm;
    SB_CHECK(sim_host_telemetry(&tm) == 0 && tm.ow_crc_errors >= 2);
    /* Every read corrupted: 1 try + 3 retries, then failed; fans to 100% within a second. */
    sim_ow_set_fault(1, SIM_OW_CRC, -1);
    uint64_t t0 = sim_now_us();
    uint32_t e0 = a->sen.s[1].crc_errors;
    SB_CHECK(tu_run_until_fans(1000, 3000 * MS, NULL));
    SB_CHECK(sim_now_us() - t0 <= 2100 * MS);
    SB_CHECK_EQ_INT(a->temp_status[SB_SMC_T_CONN], SB_SMC_TEMP_ST_FAILED);
    SB_CHECK_EQ_INT(a->sen.s[1].crc_errors - e0, 1 + SMC_OW_CRC_RETRIES);
    /* Healthy again: three good readings bring it back. */
    sim_ow_set_fault(1, SIM_OW_CRC, 0);
    sim_run_us(5000 * MS);
    SB_CHECK_EQ_INT(a->temp_status[SB_SMC_T_CONN], SB_SMC_TEMP_ST_OK);
}

static void test_bus_short(void) {
    tu_boot(NULL, 3000 * MS);
    const smc_app *a = tu_app();
    SB_CHECK(!a->failsafe);
    sim_ow_bus_short(true);
    sim_run_us(3000 * MS);
    for (int i = 1; i <= 4; i++)
        SB_CHECK_EQ_INT(a->temp_status[i], SB_SMC_TEMP_ST_FAILED);
    SB_CHECK(a->failsafe && sim_fan_duty(0) == 1000);
    SB_CHECK(a->sen.bus_errors > 0);
    sim_ow_bus_short(false);
    sim_run_us(15000 * MS);
    for (int i = 1; i <= 4; i++)
        SB_CHECK_EQ_INT(a->temp_status[i], SB_SMC_TEMP_ST_OK);
}

int main(void) {
    SB_RUN(test_crc8);
    SB_RUN(test_validation);
    SB_RUN(test_search_and_read);
    SB_RUN(test_unplugged);
    SB_RUN(test_stuck_at_power_on_value);
    SB_RUN(test_85_right_after_power_up);
    SB_RUN(test_crc_errors);
    SB_RUN(test_bus_short);
    return sb_test_finish();
}
