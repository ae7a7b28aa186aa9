/*
 * main.c - the solebox command-line entry point: dispatches to a subcommand.
 */
#include "commands.h"

#include <stdio.h>
#include <string.h>

/* One line per subcommand; the implementation is in cmd_<name>.c. */
static const sb_command commands[] = {
    {"version", sb_cmd_version, "print the version"},
    {"hw", sb_cmd_hw, "talk to the system-management controller (status, power, faults)"},
    {"serve", sb_cmd_serve, "serve the OpenAI-compatible API and the web UI"},
    {"tokenize", sb_cmd_tokenize, "turn text into token ids with a model's tokenizer"},
    {"eval", sb_cmd_eval, "evaluate token ids: write every position's logits, then greedy-decode"},
    {"inspect", sb_cmd_inspect, "print a GGUF file's metadata and tensor table"},
    {"template", sb_cmd_template, "render a conversation through a model's chat template"},
    {"run", sb_cmd_run, "generate a continuation of a prompt (streamed to stdout)"},
    {"bench", sb_cmd_bench, "measure prefill / decode speed against this machine's limits"},
    {"quantize", sb_cmd_quantize, "quantize an F32/F16/BF16 GGUF model (Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K)"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: solebox <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'solebox <command> --help' for the options of a command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return sb_cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "solebox: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
