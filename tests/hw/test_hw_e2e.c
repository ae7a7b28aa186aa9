/*
 * test_hw_e2e.c - end to end: starts the simulator process (smc_sim --socket), talks to it with the
 * sb_hw client and with `solebox hw ... --socket PATH`, and checks what comes back: the status table,
 * JSON, power off/on, fan profile, fault log after an injected fault, and the CLI's error exits.
 * argv[1] = smc_sim, argv[2] = solebox.
 */
#define _GNU_SOURCE
#include "sb_test.h"

#include "sb_hw.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *g_sim_bin, *g_cli;

static pid_t start_sim(const char *sock, const char *const *extra) {
    char *args[32];
    int n = 0;
    args[n++] = (char *)g_sim_bin;
    args[n++] = "--socket";
    args[n++] = (char *)sock;
    args[n++] = "--speed";
    args[n++] = "20";
    for (int i = 0; extra && extra[i] && n < 30; i++)
        args[n++] = (char *)extra[i];
    args[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        execv(g_sim_bin, args);
        _exit(127);
    }
    /* Wait until the socket accepts connections. */
    for (int i = 0; i < 500; i++) {
        sb_hw_transport *t = NULL;
        sb_error err;
        if (sb_hw_transport_socket(sock, &t, &err) == SB_OK) {
            sb_hw_transport_free(t);
            return pid;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    return pid;
}

static void stop_sim(pid_t pid) {
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    SB_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Runs `solebox hw <args>`; returns its exit status and its stdout in out (static). */
static int cli(const char *args, const char **out) {
    static char buf[16384];
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s hw %s 2>&1", g_cli, args);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    if (p) {
        n = fread(buf, 1, sizeof buf - 1, p);
        int st = pclose(p);
        buf[n] = 0;
        *out = buf;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    buf[0] = 0;
    *out = buf;
    return -1;
}

static void test_status_and_commands(void) {
    char sock[512];
    snprintf(sock, sizeof sock, "%s/smc.sock", sb_test_tmpdir());
    static const char *const extra[] = {"--power-on", "--load", "0.6", "--warmup", "120", NULL};
    pid_t pid = start_sim(sock, extra);
    char args[1024];
    const char *out;

    /* The library directly. */
    sb_hw_transport *t = NULL;
    sb_error err;
    SB_CHECK(sb_hw_transport_socket(sock, &t, &err) == SB_OK);
    sb_hw_client *c = NULL;
    SB_CHECK(sb_hw_client_create(t, NULL, &c, &err) == SB_OK);
    sb_smc_telemetry tm;
    SB_CHECK(sb_hw_get_telemetry(c, &tm, &err) == SB_OK);
    SB_CHECK_EQ_INT(tm.pwr_state, SB_SMC_PWR_RUNNING);
    SB_CHECK(tm.rail_mv[SB_SMC_RAIL_CORE] > 760 && tm.rail_mv[SB_SMC_RAIL_CORE] < 840);
    SB_CHECK(tm.temp_status[SB_SMC_T_DIE] == SB_SMC_TEMP_ST_OK && tm.temp_centi[SB_SMC_T_DIE] > 3000);
    sb_hw_client_free(c);

    /* The CLI. */
    snprintf(args, sizeof args, "--socket %s status", sock);
    SB_CHECK_EQ_INT(cli(args, &out), 0);
    SB_CHECK(strstr(out, "State        RUNNING") != NULL);
    SB_CHECK(strstr(out, "VCORE") != NULL && strstr(out, "gpu_die") != NULL && strstr(out, "fan2") != NULL);
    SB_CHECK(strstr(out, "Fault        none") != NULL);
    if (!strstr(out, "RUNNING"))
        fprintf(stderr, "%s\n", out);
    snprintf(args, sizeof args, "status --json --socket %s", sock);
    SB_CHECK_EQ_INT(cli(args, &out), 0);
    SB_CHECK(strstr(out, "\"state\": \"RUNNING\"") != NULL && strstr(out, "\"temperatures\"") != NULL);
    snprintf(args, sizeof args, "--socket %s version", sock);
    SB_CHECK_EQ_INT(cli(args, &out), 0);
    SB_CHECK(strstr(out, "SMC firmware 1.0.0 (sim), protocol 1") != NULL);
    snprintf(args, sizeof args, "--socket %s fan-profile quiet", sock);
    SB_CHECK_EQ_INT(cli(args, &out), 0);
    snprintf(args, sizeof args, "--socket %s power off", sock);
    SB_CHECK_EQ_INT(cli(args, &out), 0);
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    snprintf(args, sizeof args, "--socket %s status", sock);
    SB_CHECK_EQ_INT(cli(args, &out), 0);
    SB_CHECK(strstr(out, "State        OFF   fan profile quiet") != NULL);
    snprintf(args, sizeof args, "--socket %s power on", sock);
    SB_CHECK_EQ_INT(cli(args, &out), 0);
    snprintf(args, sizeof args, "--socket %s faults", sock);
    SB_CHECK_EQ_INT(cli(args, &out), 0);
    SB_CHECK(strstr(out, "0 fault(s) logged") != NULL);

    /* Usage errors exit 2, unreachable controllers 1. */
    snprintf(args, sizeof args, "--socket %s fan-profile loud", sock);
    SB_CHECK_EQ_INT(cli(args, &out), 2);
    SB_CHECK_EQ_INT(cli("--socket /nonexistent/smc.sock status", &out), 1);
    SB_CHECK(strstr(out, "cannot reach the system-management controller") != NULL);
    SB_CHECK_EQ_INT(cli("frobnicate", &out), 2);
    SB_CHECK_EQ_INT(cli("--device /nonexistent/spidev0.0 status", &out), 1);
    stop_sim(pid);
}

static void test_fault_shows_up(void) {
    char sock[512];
    snprintf(sock, sizeof sock, "%s/smc2.sock", sb_test_tmpdir());
    static const char *const extra[] = {"--power-on", "--fault", "aux-no-start", NULL};
    pid_t pid = start_sim(sock, extra);
    char args[1024];
    const char *out;
    snprintf(args, sizeof args, "--socket %s status", sock);
    SB_CHECK_EQ_INT(cli(args, &out), 0);
    SB_CHECK(strstr(out, "State        FAULT") != NULL);
    SB_CHECK(strstr(out, "AUX_TIMEOUT  source 3V3_AUX  step AUX_RAMP") != NULL);
    SB_CHECK(strstr(out, "fault-latched") != NULL);
    snprintf(args, sizeof args, "--socket %s power on", sock);
    SB_CHECK_EQ_INT(cli(args, &out), 1);
    SB_CHECK(strstr(out, "fault latched") != NULL);
    snprintf(args, sizeof args, "--socket %s faults", sock);
    SB_CHECK_EQ_INT(cli(args, &out), 0);
    SB_CHECK(strstr(out, "AUX_TIMEOUT") != NULL);
    snprintf(args, sizeof args, "--socket %s clear-fault", sock);
    SB_CHECK_EQ_INT(cli(args, &out), 0);
    stop_sim(pid);
}

int main(int argc, char **argv) {
    if (argc < 3)
        sb_test_skip("usage: test_hw_e2e SMC_SIM SOLEBOX");
    g_sim_bin = argv[1];
    g_cli = argv[2];
    if (access(g_sim_bin, X_OK) != 0 || access(g_cli, X_OK) != 0)
        sb_test_skip("%s or %s is not built", g_sim_bin, g_cli);
    SB_RUN(test_status_and_commands);
    SB_RUN(test_fault_shows_up);
    return sb_test_finish();
}
