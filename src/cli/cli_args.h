/*
 * cli_args.h - strict parsing of option values for the subcommands: the
 * whole string must be the number (no trailing text, no overflow), so that
 * `-n 10x` or `--seed -1` is a usage error rather than a silent default.
 */
#ifndef SB_CLI_ARGS_H
#define SB_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>

/* A decimal integer in [lo, hi]. */
bool sb_cli_long(const char *s, long lo, long hi, long *out);
bool sb_cli_int(const char *s, int lo, int hi, int *out);
/* A finite float. */
bool sb_cli_float(const char *s, float *out);
/* An unsigned decimal (digits only: no sign, no leading space). */
bool sb_cli_u64(const char *s, uint64_t *out);

#endif
