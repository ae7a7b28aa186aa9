/*
 * main.c - the SMC firmware's entry point on the RP2040: the application's main loop at 1 kHz.
 */
#include "rp2040_hal.h"
#include "smc_app.h"
#include "smc_config.h"

int main(void) {
    smc_app_init();
    for (;;) {
        smc_app_poll();
        rp2040_wait_tick(SMC_TICK_US);
    }
}
