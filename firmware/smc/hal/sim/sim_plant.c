/*
 * sim_plant.c - the simulated GPU load, thermal model and fans (HAL: hal_fan_set, hal_tach_count).
 *
 * Lumped RC nodes, integrated with explicit Euler every 100 ms (the fastest time constant, the die
 * over its heatsink, is 2 s):
 *
 *   GPU die       C = 40 J/K (die, package, HBM)   R(die->heatsink) = 0.05 K/W (TIM + spreader)
 *   GPU heatsink  C = 900 J/K (~1 kg Cu/Al)         to air: effectiveness-NTU with hA = 1.6*V^0.8 W/K
 *                                                   (V = duct flow in CFM) plus 1 W/K natural convection
 *   VRM           C = 80 J/K (stages, inductors, PCB copper); loss 10% of GPU power + 2 W;
 *                 to air: 0.3 + 0.15*V^0.8 W/K with V = board fan flow + 20% of the GPU duct flow
 *   PCIe conn.    C = 25 J/K; I^2*R heating, R = 4 mOhm at I = (GPU + VRM power) / 12 V;
 *                 to air 0.15 + 0.04*Vb^0.8 W/K, to the VRM 0.4 W/K through the board copper
 *   intake        sensor lag 30 s towards ambient
 *   exhaust       mixed air: ambient + heat into the air / (m_dot * cp); sensor lag 20 s
 *
 * Fans: GPU fans 25 CFM each at full speed (6000 rpm), board fan 25 CFM (4800 rpm), speed linear in
 * duty above 5%, spin-up time constant 1.5 s, spin-down 3 s (a blocked rotor stops at once); a blocked
 * fan in the push-pull GPU duct
 * obstructs 40% of the flow of the other. Two tach pulses per revolution. GPU power: 50 W idle to
 * 400 W at full load while running, 30 W when powered but held in reset.
 */
#include "sim_internal.h"

#include <math.h>
#include <string.h>

#define PLANT_DT_US 100000u
#define CP_AIR 1005.0
#define RHO_AIR 1.16
#define CFM_TO_M3S 4.719e-4
#define P_IDLE 50.0
#define P_MAX 400.0
#define P_RESET 30.0
#define C_DIE 40.0
#define R_JH 0.05
#define C_HS 900.0
#define HS_HA_K 1.6
#define HS_G0 1.0
#define C_VRM 80.0
#define VRM_LOSS 0.10
#define C_CONN 25.0
#define R_CONN 0.004
#define G_VRM_CONN 0.4
#define FAN_CFM_GPU 25.0
#define FAN_CFM_BOARD 25.0
#define TAU_INTAKE 30.0
#define TAU_EXHAUST 20.0

static const double rpm_max[SB_SMC_NUM_FANS] = {6000.0, 6000.0, 4800.0};

void sim_plant_reset(void) {
    for (int i = 0; i < SIM_NUM_T; i++)
        g_sim.T[i] = g_sim.cfg.ambient_c;
    memset(g_sim.fan_rpm, 0, sizeof g_sim.fan_rpm);
    memset(g_sim.tach, 0, sizeof g_sim.tach);
    memset(g_sim.tach_frac, 0, sizeof g_sim.tach_frac);
    g_sim.t_plant = 0;
    g_sim.p_gpu = 0;
    g_sim.power_noise = 0;
}

void sim_fans_on_reset(void) {
    for (int i = 0; i < SB_SMC_NUM_FANS; i++)
        g_sim.fan_duty[i] = 1000;
}

static double core_volts(void) { return g_sim.rail[SIM_RAIL_CORE].v; }

static double gpu_power(void) {
    double vc = core_volts();
    bool powered = vc > 0.5 * 0.8;
    bool running = powered && g_sim.out[SMC_OUT_PERST_N] && g_sim.out[SMC_OUT_GPU_EN] && vc > 0.9 * 0.8;
    if (!running)
        return powered ? P_RESET : 0.0;
    double load = g_sim.load < 0 ? 0 : (g_sim.load > 1 ? 1 : g_sim.load);
    if (g_sim.cfg.gpu_obeys_slowdown && !g_sim.out[SMC_OUT_SLOWDOWN_N] && load > 0.5)
        load = 0.5;
    double p = P_IDLE + load * (P_MAX - P_IDLE);
    if (g_sim.cfg.power_noise_pct > 0)
        p *= 1.0 + g_sim.power_noise * g_sim.cfg.power_noise_pct / 100.0;
    return p < 0 ? 0 : p;
}

/* Heat the air takes from a surface at dT with conductance hA and air capacity rate c (W/K). */
static double ntu_heat(double hA, double c, double dT) {
    if (c < 1e-6)
        return 0.0;
    return c * (1.0 - exp(-hA / c)) * dT;
}

static void plant_step(double dt) {
    double T_amb = g_sim.cfg.ambient_c;
    double *T = g_sim.T;

    /* GPU power with an AR(1) fluctuation (correlation time ~1 s). */
    g_sim.power_noise = 0.9 * g_sim.power_noise + sqrt(1.0 - 0.81) * sim_rng_normal();
    double p = gpu_power();
    g_sim.p_gpu = p;
    bool core_on = core_volts() > 0.4;
    double p_vrm = core_on ? VRM_LOSS * p + 2.0 : 0.0;
    double amps = (p + p_vrm) / 12.0;
    double p_conn = amps * amps * R_CONN;

    /* Fans. */
    double w[SB_SMC_NUM_FANS];
    int stalled_gpu = 0;
    for (int i = 0; i < SB_SMC_NUM_FANS; i++) {
        uint16_t duty = g_sim.in_reset ? 1000 : g_sim.fan_duty[i];
        double target = (g_sim.fan_stuck[i] || duty < 50) ? 0.0 : duty / 1000.0 * rpm_max[i];
        double tau = target > g_sim.fan_rpm[i] ? 1.5 : 3.0;
        g_sim.fan_rpm[i] += (target - g_sim.fan_rpm[i]) * (1.0 - exp(-dt / tau));
        if (g_sim.fan_stuck[i])
            g_sim.fan_rpm[i] = 0.0; /* a blocked rotor stops at once */
        if (g_sim.fan_rpm[i] < 1.0 && target == 0.0)
            g_sim.fan_rpm[i] = 0.0;
        double pulses = g_sim.tach_frac[i] + g_sim.fan_rpm[i] / 60.0 * SMC_TACH_PULSES_PER_REV * dt;
        double whole = floor(pulses);
        g_sim.tach[i] += (uint32_t)whole;
        g_sim.tach_frac[i] = pulses - whole;
        w[i] = g_sim.fan_rpm[i] / rpm_max[i];
        if (i < 2 && w[i] < 0.1)
            stalled_gpu++;
    }
    double v_gpu = FAN_CFM_GPU * (w[0] + w[1]) * (1.0 - 0.4 * (stalled_gpu == 1 ? 1 : 0));
    double v_board = FAN_CFM_BOARD * w[2];
    double air_gpu = v_gpu * CFM_TO_M3S * RHO_AIR * CP_AIR;
    double air_board = v_board * CFM_TO_M3S * RHO_AIR * CP_AIR;

    /* GPU die and heatsink. */
    double q_jh = (T[SIM_T_DIE] - T[SIM_T_HEATSINK]) / R_JH;
    double hA = HS_HA_K * pow(v_gpu, 0.8);
    double q_hs_air = ntu_heat(hA, air_gpu, T[SIM_T_HEATSINK] - T_amb);
    double q_hs = q_hs_air + HS_G0 * (T[SIM_T_HEATSINK] - T_amb);
    double dT_die = (p - q_jh) / C_DIE * dt;
    double dT_hs = (q_jh - q_hs) / C_HS * dt;

    /* VRM and connector. */
    double v_vrm = v_board + 0.2 * v_gpu;
    double q_vrm_air = (0.3 + 0.15 * pow(v_vrm, 0.8)) * (T[SIM_T_VRM] - (T_amb + 2.0));
    double q_vc = G_VRM_CONN * (T[SIM_T_VRM] - T[SIM_T_CONN]);
    double q_conn_air = (0.15 + 0.04 * pow(v_board, 0.8)) * (T[SIM_T_CONN] - T_amb);
    double dT_vrm = (p_vrm - q_vrm_air - q_vc) / C_VRM * dt;
    double dT_conn = (p_conn + q_vc - q_conn_air) / C_CONN * dt;

    /* Air: intake sensor, exhaust mix and its sensor. */
    double air_total = air_gpu + air_board;
    double heat_air = q_hs_air + q_vrm_air + q_conn_air;
    double t_ex_air = air_total > 1e-3 ? T_amb + heat_air / air_total : T_amb + 40.0;
    if (t_ex_air > T_amb + 60.0)
        t_ex_air = T_amb + 60.0;

    T[SIM_T_DIE] += dT_die;
    T[SIM_T_HEATSINK] += dT_hs;
    T[SIM_T_VRM] += dT_vrm;
    T[SIM_T_CONN] += dT_conn;
    T[SIM_T_INTAKE] += (T_amb - T[SIM_T_INTAKE]) * dt / TAU_INTAKE;
    T[SIM_T_EXHAUST] += (t_ex_air - T[SIM_T_EXHAUST]) * dt / TAU_EXHAUST;
}

void sim_plant_advance(uint64_t to_us) {
    while (g_sim.t_plant + PLANT_DT_US <= to_us) {
        plant_step(PLANT_DT_US / 1e6);
        g_sim.t_plant += PLANT_DT_US;
    }
}

double sim_temp(int node) { return node >= 0 && node < SIM_NUM_T ? g_sim.T[node] : 0.0; }
double sim_gpu_power(void) { return g_sim.p_gpu; }
void sim_set_load(double load) { g_sim.load = load; }
void sim_set_ambient(double c) { g_sim.cfg.ambient_c = c; }

void sim_set_temp(int node, double c) {
    if (node >= 0 && node < SIM_NUM_T)
        g_sim.T[node] = c;
}

void sim_fan_stuck(int fan, bool stuck) {
    if (fan >= 0 && fan < SB_SMC_NUM_FANS)
        g_sim.fan_stuck[fan] = stuck;
}

uint16_t sim_fan_duty(int fan) {
    if (fan < 0 || fan >= SB_SMC_NUM_FANS)
        return 0;
    return g_sim.in_reset ? 1000 : g_sim.fan_duty[fan];
}

double sim_fan_rpm(int fan) { return fan >= 0 && fan < SB_SMC_NUM_FANS ? g_sim.fan_rpm[fan] : 0.0; }

bool sim_first_ow_after_boot(uint64_t *t_us, uint16_t duty[SB_SMC_NUM_FANS]) {
    if (!g_sim.ow_seen_after_boot)
        return false;
    *t_us = g_sim.ow_first_t;
    memcpy(duty, g_sim.ow_first_duty, sizeof g_sim.ow_first_duty);
    return true;
}

void hal_fan_set(unsigned fan, uint16_t duty_permille) {
    if (fan < SB_SMC_NUM_FANS && !g_sim.in_reset)
        g_sim.fan_duty[fan] = duty_permille > 1000 ? 1000 : duty_permille;
}

uint32_t hal_tach_count(unsigned fan) {
    if (fan >= SB_SMC_NUM_FANS)
        return 0;
    /* Pulses since the last plant step too, as a real edge counter would have them. */
    double since = (double)(g_sim.now - g_sim.t_plant) / 1e6;
    double extra = g_sim.tach_frac[fan] + g_sim.fan_rpm[fan] / 60.0 * SMC_TACH_PULSES_PER_REV * since;
    return g_sim.tach[fan] + (uint32_t)floor(extra);
}
