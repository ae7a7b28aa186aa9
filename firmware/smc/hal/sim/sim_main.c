/*
 * sim_main.c - smc_sim: the simulated SMC board as a process, serving the SPI slave side over a
 * Unix socket so that the host tools (src/hw, `solebox hw --socket PATH`) can talk to it.
 *
 * Socket protocol, one message per SPI transaction (chip select low .. high):
 *   client -> sim: u32 little-endian length n (1..4096), then n MOSI bytes
 *   sim -> client: u32 little-endian length n, then the n MISO bytes clocked out meanwhile
 * Simulated time runs at --speed times real time; the board's own simulated host keeps sending the
 * die temperature and GPU power every second unless --no-host.
 *
 *   smc_sim --socket PATH [--speed X] [--warmup S] [--load L] [--ambient C] [--seed N]
 *           [--profile quiet|normal|max] [--power-on] [--no-host] [--fault NAME]... [--exit-after S]
 * Faults: fan0-stuck fan1-stuck fan2-stuck vrm-sensor-unplugged aux-no-start core-no-pg clk-no-lock
 */
#define _GNU_SOURCE
#include "sim_board.h"
#include "smc_app.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_XFER 4096
#define MAX_CLIENTS 8

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct client {
    int fd;
    uint8_t buf[4 + MAX_XFER];
    size_t have;
} client;

static int usage(void) {
    fprintf(stderr, "usage: smc_sim --socket PATH [--speed X] [--warmup S] [--load L] [--ambient C] [--seed N]\n"
                    "               [--profile quiet|normal|max] [--power-on] [--no-host] [--fault NAME]...\n"
                    "               [--exit-after S]\n"
                    "faults: fan0-stuck fan1-stuck fan2-stuck vrm-sensor-unplugged aux-no-start core-no-pg "
                    "clk-no-lock\n");
    return 2;
}

static bool apply_fault(const char *f) {
    if (strncmp(f, "fan", 3) == 0 && f[3] >= '0' && f[3] <= '2' && strcmp(f + 4, "-stuck") == 0)
        sim_fan_stuck(f[3] - '0', true);
    else if (strcmp(f, "vrm-sensor-unplugged") == 0)
        sim_ow_set_fault(0, SIM_OW_UNPLUGGED, 0);
    else if (strcmp(f, "aux-no-start") == 0)
        sim_rail_set_fault(SIM_RAIL_3V3, SIM_RAIL_NO_START);
    else if (strcmp(f, "core-no-pg") == 0)
        sim_rail_set_fault(SIM_RAIL_CORE, SIM_RAIL_NO_PG);
    else if (strcmp(f, "clk-no-lock") == 0)
        sim_clk_never_locks(true);
    else
        return false;
    return true;
}

/* Handles one complete transaction message from a client; false when the client must go. */
static bool serve(client *c, bool *exchange_open) {
    uint32_t n = (uint32_t)c->buf[0] | ((uint32_t)c->buf[1] << 8) | ((uint32_t)c->buf[2] << 16) |
                 ((uint32_t)c->buf[3] << 24);
    const uint8_t *mosi = c->buf + 4;
    static uint8_t out[4 + MAX_XFER];
    bool request = false;
    for (uint32_t i = 0; i < n; i++)
        if (mosi[i]) {
            request = true;
            break;
        }
    if (request) {
        /* One exchange on the bus at a time: let the board's own host finish its exchange. */
        for (int i = 0; i < 50 && !sim_host_agent_idle(); i++)
            sim_run_us(1000);
        sim_host_hold(true);
        *exchange_open = true;
    }
    memcpy(out, c->buf, 4);
    sim_spi_transfer(mosi, out + 4, n);
    if (!request && out[4] != 0) {
        sim_host_hold(false); /* a response went out: the exchange is over */
        *exchange_open = false;
    }
    if (request)
        sim_run_us(1000); /* the firmware polls within a millisecond */
    size_t len = 4 + n, off = 0;
    while (off < len) {
        ssize_t w = write(c->fd, out + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        off += (size_t)w;
    }
    return true;
}

int main(int argc, char **argv) {
    const char *sock_path = NULL;
    double speed = 1.0, warmup = 0.0, exit_after = 0.0;
    bool power_on = false;
    int profile = -1;
    const char *faults[16];
    int n_faults = 0;
    sim_config cfg;
    sim_config_default(&cfg);
    cfg.gpu_load = 0.3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--socket") == 0 && v) {
            sock_path = v;
            i++;
        } else if (strcmp(a, "--speed") == 0 && v) {
            speed = atof(v);
            i++;
        } else if (strcmp(a, "--warmup") == 0 && v) {
            warmup = atof(v);
            i++;
        } else if (strcmp(a, "--load") == 0 && v) {
            cfg.gpu_load = atof(v);
            i++;
        } else if (strcmp(a, "--ambient") == 0 && v) {
            cfg.ambient_c = atof(v);
            i++;
        } else if (strcmp(a, "--seed") == 0 && v) {
            cfg.seed = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--exit-after") == 0 && v) {
            exit_after = atof(v);
            i++;
        } else if (strcmp(a, "--profile") == 0 && v) {
            profile = strcmp(v, "quiet") == 0 ? 0 : strcmp(v, "normal") == 0 ? 1 : strcmp(v, "max") == 0 ? 2 : -2;
            if (profile == -2)
                return usage();
            i++;
        } else if (strcmp(a, "--fault") == 0 && v && n_faults < 16) {
            faults[n_faults++] = v;
            i++;
        } else if (strcmp(a, "--power-on") == 0) {
            power_on = true;
        } else if (strcmp(a, "--no-host") == 0) {
            cfg.host_agent = false;
        } else {
            return usage();
        }
    }
    if (!sock_path || speed <= 0 || speed > 10000 || cfg.gpu_load < 0 || cfg.gpu_load > 1)
        return usage();
    if (strlen(sock_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        fprintf(stderr, "smc_sim: socket path too long: %s\n", sock_path);
        return 1;
    }

    sim_power_on(&cfg);
    for (int i = 0; i < n_faults; i++)
        if (!apply_fault(faults[i])) {
            fprintf(stderr, "smc_sim: unknown fault '%s'\n", faults[i]);
            return usage();
        }
    sim_run_us(2500000); /* boot, sensors found and read */
    if (profile >= 0) {
        uint8_t r;
        sim_host_fan_profile((uint8_t)profile, &r);
    }
    if (power_on) {
        uint8_t r;
        sim_host_power(true, &r);
        sim_run_us(1000000); /* the sequence (or its fault) is complete before anyone asks */
    }
    if (warmup > 0)
        sim_run_us((uint64_t)(warmup * 1e6));

    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lfd < 0) {
        perror("smc_sim: socket");
        return 1;
    }
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, sock_path);
    unlink(sock_path);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 4) != 0) {
        fprintf(stderr, "smc_sim: cannot listen on %s: %s\n", sock_path, strerror(errno));
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "smc_sim: listening on %s (speed %gx)\n", sock_path, speed);

    client cl[MAX_CLIENTS];
    int ncl = 0;
    bool exchange_open = false;
    double t_open = 0;
    double real0 = now_s();
    uint64_t sim0 = sim_now_us();
    while (!g_stop) {
        double real = now_s() - real0;
        if (exit_after > 0 && real >= exit_after)
            break;
        uint64_t target = sim0 + (uint64_t)(real * speed * 1e6);
        if (target > sim_now_us())
            sim_run_us(target - sim_now_us());
        if (exchange_open && now_s() - t_open > 2.0) {
            sim_host_hold(false); /* a client that never read its response */
            exchange_open = false;
        }

        struct pollfd pf[1 + MAX_CLIENTS];
        pf[0].fd = lfd;
        pf[0].events = POLLIN;
        for (int i = 0; i < ncl; i++) {
            pf[1 + i].fd = cl[i].fd;
            pf[1 + i].events = POLLIN;
        }
        int r = poll(pf, (nfds_t)(1 + ncl), 1);
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        if ((pf[0].revents & POLLIN) && ncl < MAX_CLIENTS) {
            int fd = accept(lfd, NULL, NULL);
            if (fd >= 0) {
                cl[ncl].fd = fd;
                cl[ncl].have = 0;
                ncl++;
            }
        }
        for (int i = 0; i < ncl; i++) {
            if (!(pf[1 + i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            client *c = &cl[i];
            bool drop = false;
            ssize_t got = read(c->fd, c->buf + c->have, sizeof c->buf - c->have);
            if (got <= 0) {
                drop = true;
            } else {
                c->have += (size_t)got;
                while (c->have >= 4) {
                    uint32_t n = (uint32_t)c->buf[0] | ((uint32_t)c->buf[1] << 8) | ((uint32_t)c->buf[2] << 16) |
                                 ((uint32_t)c->buf[3] << 24);
                    if (n == 0 || n > MAX_XFER) {
                        drop = true;
                        break;
                    }
                    if (c->have < 4 + n)
                        break;
                    bool was_open = exchange_open;
                    if (!serve(c, &exchange_open)) {
                        drop = true;
                        break;
                    }
                    if (exchange_open && !was_open)
                        t_open = now_s();
                    memmove(c->buf, c->buf + 4 + n, c->have - 4 - n);
                    c->have -= 4 + n;
                }
            }
            if (drop) {
                close(c->fd);
                cl[i] = cl[--ncl];
                i--;
                /* pf[] no longer lines up with cl[]: handle the rest next round. */
                break;
            }
        }
    }
    for (int i = 0; i < ncl; i++)
        close(cl[i].fd);
    close(lfd);
    unlink(sock_path);
    const smc_app *a = smc_app_state();
    fprintf(stderr, "smc_sim: stopped at %.1f s simulated, state %s\n", sim_now_us() / 1e6,
            sb_smc_state_name(a->pwr.state));
    return 0;
}
