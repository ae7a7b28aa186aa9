/*
 * smc_config.h - every limit, timing and tuning constant of the SMC firmware in one place.
 *
 * firmware/smc/README.md explains where each number comes from. Times are in microseconds unless
 * the name says otherwise; temperatures in centi-degrees Celsius (cC); voltages in millivolts.
 */
#ifndef SMC_CONFIG_H
#define SMC_CONFIG_H

#define SMC_FW_MAJOR 1
#define SMC_FW_MINOR 0
#define SMC_FW_PATCH 0

/* Main loop: one poll per millisecond; rails and power-good are sampled on every poll. */
#define SMC_TICK_US 1000u
#define SMC_CONTROL_PERIOD_US 1000000u /* fan control / thermal protection period */
#define SMC_WDT_TIMEOUT_MS 2000u       /* hung loop -> reset after 2 s (the RP2040 maximum is 8.38 s) */
#define SMC_LIVENESS_US 3000000u       /* watchdog is fed only if the control task ran this recently */

/* --- power sequencing (PCIe CEM: PERST# >= 100 ms after power valid, >= 100 us after REFCLK) --- */
#define SMC_T_12V_TIMEOUT_US 1000000u  /* 12 V must be in band within 1 s of the power-on request */
#define SMC_T_AUX_RAMP_US 100000u      /* 3.3 V aux must regulate within 100 ms of its enable */
#define SMC_T_CORE_RAMP_US 50000u      /* core VRM soft-start (~3 ms) plus power-good delay, with margin */
#define SMC_T_CLK_US 20000u            /* reference clock buffer lock */
#define SMC_T_PERST_AFTER_PG_US 100000u
#define SMC_T_PERST_AFTER_CLK_US 100u
#define SMC_T_GPU_EN_DELAY_US 1000u    /* PERST# release -> GPU enable signals */
#define SMC_T_PDN_PERST_US 1000u       /* PERST# asserted -> clock stopped (clock keeps running >= 100 us) */
#define SMC_T_PDN_CORE_US 50000u       /* core must discharge below its off level */
#define SMC_T_PDN_AUX_US 200000u       /* aux must discharge below its off level */

/* --- voltage windows (ADC, rail millivolts) --- */
#define SMC_V12_NOM_MV 12000
#define SMC_V12_LO_MV 11040 /* -8%: the PCIe CEM 12 V tolerance */
#define SMC_V12_HI_MV 12960 /* +8% */
#define SMC_V3V3_NOM_MV 3300
#define SMC_V3V3_LO_MV 3003 /* -9%: the PCIe CEM 3.3 Vaux tolerance */
#define SMC_V3V3_HI_MV 3597 /* +9% */
#define SMC_VCORE_NOM_MV 800
#define SMC_VCORE_LO_MV 752 /* -6%: VRM set-point 1.5% + load-line/ripple 2% + ADC 2% */
#define SMC_VCORE_HI_MV 848 /* +6% */
#define SMC_VOFF_PERMILLE 100 /* a rail below 10% of nominal counts as discharged ("off") */
/* Debounce, in 1 kHz samples. 3 out-of-window samples trip (<= 4 ms after the excursion starts, well
 * inside the 10 ms requirement); any one- or two-sample spike is ignored; 5 in-window samples make a
 * rail "in regulation" during the ramp. */
#define SMC_VMON_TRIP_SAMPLES 3
#define SMC_VMON_OK_SAMPLES 5
#define SMC_PG_FALL_SAMPLES 2 /* power-good low on 2 samples (>= 1 ms) = lost; shorter = glitch */
#define SMC_PG_RISE_SAMPLES 2

/* --- temperatures --- */
#define SMC_OW_CONV_US 750000u        /* DS18B20 12-bit conversion time (datasheet maximum) */
#define SMC_OW_CRC_RETRIES 3          /* a failed read is retried 3 times, then the sensor is failed */
#define SMC_OW_REJECT_LIMIT 3         /* consecutive rejected readings (85 degC at power-up) -> failed */
#define SMC_OW_RECOVER_READS 3        /* consecutive good readings bring a failed sensor back */
#define SMC_OW_SEARCH_RETRY_US 10000000u /* re-run the ROM search every 10 s while a sensor is absent */
#define SMC_OW_P85_JUMP_CC 1000       /* an 85.00 degC reading more than 10 K from the last one is rejected */
#define SMC_HOST_SILENT_US 5000000u   /* no host update for 5 s -> fans 100% */
#define SMC_DIE_MIN_CC (-4000)        /* plausible range of a host-reported die temperature */
#define SMC_DIE_MAX_CC 15000

/* Thermal protection limits, per sensor (index SB_SMC_T_*): slowdown request, shutdown request,
 * emergency power-off, and the hysteresis below slowdown/shutdown before the request clears.
 * EPO needs SMC_EPO_CONFIRM consecutive readings at or above the limit. */
#define SMC_EPO_CONFIRM 2
#define SMC_LIMITS_INIT                                                          \
    {                                                                            \
        {8900, 9000, 9100, 300},   /* GPU die: A100 slowdown 89, shutdown 92 */ \
        {9500, 10000, 11000, 500}, /* VRM (PCB next to the power stages) */      \
        {7000, 7500, 8000, 300},   /* PCIe connector (PCB next to the pins) */   \
        {4000, 4500, 5000, 200},   /* intake air */                              \
        {6500, 7000, 7500, 300},   /* exhaust air */                             \
    }

/* --- fans --- */
#define SMC_FAN_RPM_MAX_INIT {6000, 6000, 4800} /* datasheet full speed of each fan */
#define SMC_FAN_FAIL_PERMILLE 100               /* tach under 10% of the commanded speed ... */
#define SMC_FAN_FAIL_US 3000000u                /* ... for 3 s -> failed */
#define SMC_FAN_GPU_MASK 0x3u                   /* fans 0 and 1 cool the GPU heatsink */
#define SMC_FAN_BOARD_MASK 0x4u                 /* fan 2 cools the VRM, connector and exhaust */
#define SMC_POWER_LPF_S 30.0f                   /* feed-forward: GPU power low-passed over 30 s ... */
#define SMC_POWER_STEP_W 100.0f                 /* ... but a change of more than 100 W is followed at once */

#endif
