/*
 * smc_test_vmon.c - voltage monitoring: +-2% noise and one-sample spikes never trip, a real
 * excursion trips within 10 ms; the ADC scaling; and the same on the running simulated board.
 */
#include "sb_test.h"
#include "smc_config.h"
#include "smc_test_util.h"
#include "smc_vmon.h"

#include <stdlib.h>

static const smc_vmon_limits core_lim = {SMC_VCORE_NOM_MV, SMC_VCORE_LO_MV, SMC_VCORE_HI_MV, 80};
static const smc_vmon_limits v12_lim = {SMC_V12_NOM_MV, SMC_V12_LO_MV, SMC_V12_HI_MV, 1200};

static uint64_t g_r = 99;
static double urand(void) {
    g_r = g_r * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(g_r >> 11) / 9007199254740992.0;
}

/* Noise of +-pct% of nominal around nominal: `n` samples never trip a rail that is ok. */
static void noise_run(const smc_vmon_limits *lim, double pct, double spike_every, int n) {
    smc_vmon_rail r;
    smc_vmon_init(&r, lim);
    for (int i = 0; i < 10; i++)
        smc_vmon_sample(&r, lim->nom_mv);
    SB_CHECK(r.ok);
    int trips = 0;
    for (int i = 0; i < n; i++) {
        double v = lim->nom_mv * (1.0 + (2.0 * urand() - 1.0) * pct / 100.0);
        if (spike_every > 0 && i % (int)spike_every == 0)
            v = urand() < 0.5 ? lim->nom_mv * 0.3 : lim->nom_mv * 1.6; /* one-sample spike */
        smc_vmon_sample(&r, (uint16_t)(v + 0.5));
        if (!r.ok)
            trips++;
    }
    SB_CHECK_EQ_INT(trips, 0);
}

static void test_noise_and_spikes_never_trip(void) {
    noise_run(&core_lim, 2.0, 0, 1000000);
    noise_run(&v12_lim, 2.0, 0, 1000000);
    noise_run(&core_lim, 2.0, 7, 200000); /* a spike every 7th sample */
    noise_run(&v12_lim, 2.0, 3, 200000);  /* every 3rd */
    /* Two consecutive spike samples do not trip either. */
    smc_vmon_rail r;
    smc_vmon_init(&r, &core_lim);
    for (int i = 0; i < 10; i++)
        smc_vmon_sample(&r, 800);
    for (int k = 0; k < 1000; k++) {
        smc_vmon_sample(&r, 300);
        smc_vmon_sample(&r, 1200);
        smc_vmon_sample(&r, 800);
        SB_CHECK(r.ok);
    }
}

static void test_excursion_trips_fast(void) {
    smc_vmon_rail r;
    smc_vmon_init(&r, &core_lim);
    for (int i = 0; i < 10; i++)
        smc_vmon_sample(&r, 800);
    /* 1 kHz samples: a drop to 0.72 V must trip within 10 samples (10 ms). */
    int n = 0;
    while (r.ok && n < 100) {
        smc_vmon_sample(&r, 720);
        n++;
    }
    SB_CHECK(!r.ok);
    SB_CHECK(n <= SMC_VMON_TRIP_SAMPLES && n <= 10);
    SB_CHECK_EQ_INT(r.status, SB_SMC_RAIL_ST_UV);
    smc_vmon_init(&r, &v12_lim);
    for (int i = 0; i < 10; i++)
        smc_vmon_sample(&r, 12000);
    n = 0;
    while (r.ok && n < 100) {
        smc_vmon_sample(&r, 13300);
        n++;
    }
    SB_CHECK(n <= 10 && r.status == SB_SMC_RAIL_ST_OV);
    /* Discharge detection. */
    for (int i = 0; i < 3; i++)
        smc_vmon_sample(&r, 100);
    SB_CHECK(r.off);
}

static void test_adc_scaling(void) {
    SB_CHECK_EQ_INT(smc_vmon_adc_to_mv(0, 1000), 0);
    SB_CHECK_EQ_INT(smc_vmon_adc_to_mv(4095, 1000), 3299);
    /* 12 V through 47k/10k: 12 V -> 2.105 V -> 2612 counts. */
    uint16_t mv = smc_vmon_adc_to_mv(2612, SMC_ADC_RATIO_12V);
    SB_CHECK(mv >= 11990 && mv <= 12010);
    SB_CHECK_EQ_INT(smc_vmon_adc_to_mv(9999, 1000), 3299); /* out-of-range input is clamped */
}

/* On the board: noise and spikes for a minute of running, then real excursions. */
static void test_board_noise_then_excursion(void) {
    sim_config c;
    sim_config_default(&c);
    c.adc_noise_pct = 2.0;
    c.adc_spike_prob = 0.002; /* isolated spikes; three in a row would be a real excursion */
    c.gpu_load = 0.5;
    tu_boot(&c, 2500000);
    SB_CHECK(tu_power_on(1000000));
    sim_run_us(60000000);
    const smc_app *a = tu_app();
    SB_CHECK_EQ_INT(a->pwr.state, SB_SMC_PWR_RUNNING);
    SB_CHECKF(!a->pwr.fault_latched, "fault %s", sb_smc_fault_name(a->pwr.fault.code));

    /* The core sags to 0.735 V: PG (90% = 0.72 V) stays high, only the ADC window sees it. */
    uint64_t t0 = sim_now_us() + 123;
    sim_rail_override(SIM_RAIL_CORE, 0.735, t0, 1000000);
    SB_CHECK(tu_run_until_state(SB_SMC_PWR_PDN_PERST, 20000));
    uint64_t t_perst = tu_event_after(SIM_EV_OUT, SMC_OUT_PERST_N, 0, t0);
    SB_CHECKF(t_perst - t0 <= 10000, "tripped %llu us after the excursion", (unsigned long long)(t_perst - t0));
    SB_CHECK_EQ_INT(a->pwr.fault.code, SB_SMC_FAULT_CORE_WINDOW);
}

int main(void) {
    SB_RUN(test_noise_and_spikes_never_trip);
    SB_RUN(test_excursion_trips_fast);
    SB_RUN(test_adc_scaling);
    SB_RUN(test_board_noise_then_excursion);
    return sb_test_finish();
}
