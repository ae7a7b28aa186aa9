/* cmd_version.c - `solebox version`: the version of this build. */
#include "commands.h"

#include <stdio.h>

#ifndef SOLEBOX_VERSION
#define SOLEBOX_VERSION "0.0.0"
#endif

int sb_cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("solebox %s\n", SOLEBOX_VERSION);
    return 0;
}
