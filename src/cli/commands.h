/*
 * commands.h - the solebox subcommands.
 *
 * Each subcommand lives in its own cmd_<name>.c and has the signature
 *   int sb_cmd_<name>(int argc, char **argv)
 * where argv[0] is the subcommand name. It returns the process exit status:
 * 0 on success, 1 on a user-facing error (message already printed to
 * stderr), 2 on a usage error.
 */
#ifndef SB_CLI_COMMANDS_H
#define SB_CLI_COMMANDS_H

typedef int (*sb_cmd_fn)(int argc, char **argv);

typedef struct sb_command {
    const char *name;
    sb_cmd_fn fn;
    const char *summary;
} sb_command;

int sb_cmd_version(int argc, char **argv);
int sb_cmd_inspect(int argc, char **argv);
int sb_cmd_tokenize(int argc, char **argv);
int sb_cmd_template(int argc, char **argv);
int sb_cmd_hw(int argc, char **argv);
int sb_cmd_serve(int argc, char **argv);
int sb_cmd_eval(int argc, char **argv);
int sb_cmd_run(int argc, char **argv);
int sb_cmd_bench(int argc, char **argv);
int sb_cmd_quantize(int argc, char **argv);

#endif
