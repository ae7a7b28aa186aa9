/*
 * cmd_hw.c - `solebox hw`: talk to the system-management controller (SMC) that powers and cools the
 * GPU, over SPI (spidev) or, for tests, a socket to the simulator.
 *
 *   solebox hw [--device /dev/spidevX.Y | --socket PATH] [--json] <command>
 *     status                    state, rails, temperatures, fans, faults
 *     faults                    the fault log
 *     power on|off              sequence the GPU up or down
 *     clear-fault               clear a latched fault (and failed fans)
 *     fan-profile quiet|normal|max
 *     version                   firmware version
 */
#include "commands.h"

#include "sb_hw.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_DEVICE "/dev/spidev0.0"

static void usage(FILE *out) {
    fprintf(out, "usage: solebox hw [--device /dev/spidevX.Y | --socket PATH] [--json] <command>\n\n"
                 "commands:\n"
                 "  status                         state, rails, temperatures, fans and faults\n"
                 "  faults                         the fault log, oldest first\n"
                 "  power on|off                   power the GPU up or down\n"
                 "  clear-fault                    clear a latched fault (and failed fans)\n"
                 "  fan-profile quiet|normal|max   choose the fan profile\n"
                 "  version                        firmware version of the controller\n\n"
                 "options:\n"
                 "  --device PATH   spidev device of the controller (default " DEFAULT_DEVICE ")\n"
                 "  --socket PATH   talk to the simulator (smc_sim --socket PATH) instead\n"
                 "  --json          machine-readable output (status, faults, version)\n");
}

static void print_flags(uint32_t fl) {
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {{SB_SMC_FLAG_SLOWDOWN, "slowdown-requested"}, {SB_SMC_FLAG_SHUTDOWN, "shutdown-requested"},
                 {SB_SMC_FLAG_EPO, "emergency-power-off"},     {SB_SMC_FLAG_FAULT, "fault-latched"},
                 {SB_SMC_FLAG_FAILSAFE, "fans-failsafe"},      {SB_SMC_FLAG_HOST_SILENT, "host-silent"},
                 {SB_SMC_FLAG_SENSOR_FAIL, "sensor-failed"},   {SB_SMC_FLAG_FAN_FAIL, "fan-failed"}};
    int n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (fl & names[i].bit)
            printf("%s%s", n++ ? " " : "", names[i].name);
    printf("%s\n", n ? "" : "-");
}

static const char *rail_status(unsigned s) {
    static const char *const t[] = {"off", "ok", "UNDER", "OVER"};
    return s < 4 ? t[s] : "?";
}

static const char *temp_status(unsigned s) {
    static const char *const t[] = {"unknown", "ok", "FAILED", "stale", "ABSENT"};
    return s < 5 ? t[s] : "?";
}

static void print_fault(const sb_smc_fault_rec *f) {
    if (f->code == SB_SMC_FAULT_NONE) {
        printf("none\n");
        return;
    }
    printf("%s  source %s  step %s  at %.3f s", sb_smc_fault_name(f->code),
           sb_smc_fault_source_name(f->code, f->source), sb_smc_state_name(f->step), f->time_ms / 1000.0);
    const char *unit = sb_smc_fault_value_unit(f->code);
    if (strcmp(unit, "cC") == 0)
        printf("  value %.2f C", f->value / 100.0);
    else if (*unit)
        printf("  value %d %s", (int)f->value, unit);
    printf("\n");
}

static void print_status(const sb_smc_version *v, const sb_smc_status *s, const sb_smc_telemetry *t) {
    printf("SMC          firmware %u.%u.%u (%s), protocol %u, up %.1f s, last reset: %s\n", v->major, v->minor,
           v->patch, v->build, v->proto, s->uptime_ms / 1000.0, sb_smc_reset_name(s->reset_reason));
    printf("State        %s   fan profile %s\n", sb_smc_state_name(s->pwr_state), sb_smc_profile_name(s->profile));
    printf("Fault        ");
    print_fault(&s->fault);
    printf("Flags        ");
    print_flags(s->flags);
    printf("\n%-10s %8s  %s\n", "Rail", "mV", "status");
    for (unsigned i = 0; i < SB_SMC_NUM_RAILS; i++)
        printf("%-10s %8u  %s\n", sb_smc_rail_name(i), t->rail_mv[i], rail_status(t->rail_status[i]));
    printf("\n%-10s %8s  %s\n", "Sensor", "degC", "status");
    for (unsigned i = 0; i < SB_SMC_NUM_TEMPS; i++) {
        if (t->temp_status[i] == SB_SMC_TEMP_ST_OK || t->temp_status[i] == SB_SMC_TEMP_ST_STALE)
            printf("%-10s %8.2f  %s\n", sb_smc_temp_name(i), t->temp_centi[i] / 100.0, temp_status(t->temp_status[i]));
        else
            printf("%-10s %8s  %s\n", sb_smc_temp_name(i), "-", temp_status(t->temp_status[i]));
    }
    printf("\n%-10s %8s %8s  %s\n", "Fan", "duty", "rpm", "status");
    for (unsigned i = 0; i < SB_SMC_NUM_FANS; i++)
        printf("fan%-7u %7.1f%% %8u  %s\n", i, t->fan_duty_permille[i] / 10.0, t->fan_rpm[i],
               t->fan_status[i] == SB_SMC_FAN_ST_OK ? "ok" : "FAILED");
    printf("\nGPU power    %.1f W (reported by the host)\n", t->gpu_power_dw / 10.0);
    printf("Counters     power-good glitches %u, 1-Wire errors %u, faults logged %u\n", t->pg_glitches,
           t->ow_crc_errors, s->fault_total);
    printf("Link         ");
    for (unsigned i = 0; i < SB_SMC_LINK_NUM; i++)
        printf("%s%s %u", i ? ", " : "", sb_smc_link_name(i), (unsigned)t->link[i]);
    printf("\n");
}

static json_t *fault_json(const sb_smc_fault_rec *f) {
    return json_pack("{s:s, s:s, s:s, s:I, s:I}", "code", sb_smc_fault_name(f->code), "source",
                     sb_smc_fault_source_name(f->code, f->source), "step", sb_smc_state_name(f->step), "time_ms",
                     (json_int_t)f->time_ms, "value", (json_int_t)f->value);
}

static json_t *status_json(const sb_smc_version *v, const sb_smc_status *s, const sb_smc_telemetry *t) {
    json_t *o = json_object();
    char ver[32];
    snprintf(ver, sizeof ver, "%u.%u.%u", v->major, v->minor, v->patch);
    json_object_set_new(o, "firmware", json_string(ver));
    json_object_set_new(o, "build", json_string(v->build));
    json_object_set_new(o, "state", json_string(sb_smc_state_name(s->pwr_state)));
    json_object_set_new(o, "profile", json_string(sb_smc_profile_name(s->profile)));
    json_object_set_new(o, "reset_reason", json_string(sb_smc_reset_name(s->reset_reason)));
    json_object_set_new(o, "uptime_ms", json_integer(s->uptime_ms));
    json_object_set_new(o, "flags", json_integer(s->flags));
    json_object_set_new(o, "fault", s->fault.code ? fault_json(&s->fault) : json_null());
    json_t *rails = json_object(), *temps = json_object(), *fans = json_array(), *link = json_object();
    for (unsigned i = 0; i < SB_SMC_NUM_RAILS; i++)
        json_object_set_new(rails, sb_smc_rail_name(i),
                            json_pack("{s:i, s:s}", "mv", t->rail_mv[i], "status", rail_status(t->rail_status[i])));
    for (unsigned i = 0; i < SB_SMC_NUM_TEMPS; i++)
        json_object_set_new(temps, sb_smc_temp_name(i),
                            json_pack("{s:f, s:s}", "celsius", t->temp_centi[i] / 100.0, "status",
                                      temp_status(t->temp_status[i])));
    for (unsigned i = 0; i < SB_SMC_NUM_FANS; i++)
        json_array_append_new(fans, json_pack("{s:f, s:i, s:b}", "duty_pct", t->fan_duty_permille[i] / 10.0, "rpm",
                                              t->fan_rpm[i], "failed", t->fan_status[i] != SB_SMC_FAN_ST_OK));
    for (unsigned i = 0; i < SB_SMC_LINK_NUM; i++)
        json_object_set_new(link, sb_smc_link_name(i), json_integer(t->link[i]));
    json_object_set_new(o, "rails", rails);
    json_object_set_new(o, "temperatures", temps);
    json_object_set_new(o, "fans", fans);
    json_object_set_new(o, "gpu_power_w", json_real(t->gpu_power_dw / 10.0));
    json_object_set_new(o, "link", link);
    return o;
}

static int print_json(json_t *o) {
    if (!o) {
        fprintf(stderr, "solebox hw: out of memory\n");
        return 1;
    }
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    if (!s) {
        fprintf(stderr, "solebox hw: out of memory\n");
        return 1;
    }
    printf("%s\n", s);
    free(s);
    return 0;
}

static int fail(const char *what, const sb_error *err) {
    fprintf(stderr, "solebox hw: %s: %s\n", what, err->msg);
    return 1;
}

static int result(const char *what, uint8_t r) {
    if (r == SB_SMC_RES_OK) {
        printf("%s: ok\n", what);
        return 0;
    }
    fprintf(stderr, "solebox hw: %s refused: %s\n", what, sb_smc_result_name(r));
    return 1;
}

static int run(sb_hw_client *c, const char *cmd, const char *arg, bool json) {
    sb_error err;
    sb_error_clear(&err);
    if (strcmp(cmd, "status") == 0) {
        sb_smc_version v;
        sb_smc_status s;
        sb_smc_telemetry t;
        if (sb_hw_get_version(c, &v, &err) != SB_OK || sb_hw_get_status(c, &s, &err) != SB_OK ||
            sb_hw_get_telemetry(c, &t, &err) != SB_OK)
            return fail("status", &err);
        if (json)
            return print_json(status_json(&v, &s, &t));
        print_status(&v, &s, &t);
        return 0;
    }
    if (strcmp(cmd, "faults") == 0) {
        sb_smc_fault_log l;
        if (sb_hw_get_fault_log(c, &l, &err) != SB_OK)
            return fail("faults", &err);
        if (json) {
            json_t *a = json_array();
            for (unsigned i = 0; i < l.count; i++)
                json_array_append_new(a, fault_json(&l.rec[i]));
            return print_json(json_pack("{s:I, s:o}", "total", (json_int_t)l.total, "faults", a));
        }
        printf("%u fault(s) logged since power-up, %u shown (oldest first)\n", l.total, l.count);
        for (unsigned i = 0; i < l.count; i++) {
            printf("  ");
            print_fault(&l.rec[i]);
        }
        return 0;
    }
    if (strcmp(cmd, "version") == 0) {
        sb_smc_version v;
        if (sb_hw_get_version(c, &v, &err) != SB_OK)
            return fail("version", &err);
        if (json)
            return print_json(json_pack("{s:i, s:i, s:i, s:i, s:s}", "major", v.major, "minor", v.minor, "patch",
                                        v.patch, "protocol", v.proto, "build", v.build));
        printf("SMC firmware %u.%u.%u (%s), protocol %u\n", v.major, v.minor, v.patch, v.build, v.proto);
        return 0;
    }
    uint8_t r = 0xFF;
    if (strcmp(cmd, "power") == 0) {
        if (sb_hw_power(c, strcmp(arg, "on") == 0, &r, &err) != SB_OK)
            return fail("power", &err);
        return result(strcmp(arg, "on") == 0 ? "power on" : "power off", r);
    }
    if (strcmp(cmd, "clear-fault") == 0) {
        if (sb_hw_clear_fault(c, &r, &err) != SB_OK)
            return fail("clear-fault", &err);
        return result("clear-fault", r);
    }
    /* fan-profile (validated by the caller) */
    uint8_t p = strcmp(arg, "quiet") == 0 ? SB_SMC_PROFILE_QUIET
                : strcmp(arg, "max") == 0 ? SB_SMC_PROFILE_MAX
                                          : SB_SMC_PROFILE_NORMAL;
    if (sb_hw_fan_profile(c, p, &r, &err) != SB_OK)
        return fail("fan-profile", &err);
    return result("fan-profile", r);
}

int sb_cmd_hw(int argc, char **argv) {
    const char *device = NULL, *socket_path = NULL, *cmd = NULL, *arg = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--device") == 0 || strcmp(a, "--socket") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "solebox hw: %s needs a path\n", a);
                return 2;
            }
            if (a[2] == 'd')
                device = argv[++i];
            else
                socket_path = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (a[0] == '-') {
            fprintf(stderr, "solebox hw: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        } else if (!cmd) {
            cmd = a;
        } else if (!arg) {
            arg = a;
        } else {
            fprintf(stderr, "solebox hw: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!cmd) {
        usage(stderr);
        return 2;
    }
    if (device && socket_path) {
        fprintf(stderr, "solebox hw: give either --device or --socket, not both\n");
        return 2;
    }
    bool takes_arg = strcmp(cmd, "power") == 0 || strcmp(cmd, "fan-profile") == 0;
    bool known = takes_arg || strcmp(cmd, "status") == 0 || strcmp(cmd, "faults") == 0 ||
                 strcmp(cmd, "clear-fault") == 0 || strcmp(cmd, "version") == 0;
    if (!known) {
        fprintf(stderr, "solebox hw: unknown command '%s'\n\n", cmd);
        usage(stderr);
        return 2;
    }
    if (takes_arg != (arg != NULL)) {
        fprintf(stderr, "solebox hw: '%s' %s\n", cmd, takes_arg ? "needs an argument" : "takes no argument");
        return 2;
    }
    if (strcmp(cmd, "power") == 0 && strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
        fprintf(stderr, "solebox hw: power takes 'on' or 'off', not '%s'\n", arg);
        return 2;
    }
    if (strcmp(cmd, "fan-profile") == 0 && strcmp(arg, "quiet") != 0 && strcmp(arg, "normal") != 0 &&
        strcmp(arg, "max") != 0) {
        fprintf(stderr, "solebox hw: fan-profile takes quiet, normal or max, not '%s'\n", arg);
        return 2;
    }

    sb_error err;
    sb_error_clear(&err);
    sb_hw_transport *t = NULL;
    sb_status st = socket_path ? sb_hw_transport_socket(socket_path, &t, &err)
                               : sb_hw_transport_spidev(device ? device : DEFAULT_DEVICE, 0, &t, &err);
    if (st != SB_OK)
        return fail("cannot reach the system-management controller", &err);
    sb_hw_client *c = NULL;
    if (sb_hw_client_create(t, NULL, &c, &err) != SB_OK)
        return fail("client", &err);
    int rc = run(c, cmd, arg, json);
    sb_hw_client_free(c);
    return rc;
}
