/* cria: one binary, one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "base/cpu.h"
#include "cria.h"
#include "commands.h"

#ifndef CRIA_GIT_COMMIT
#define CRIA_GIT_COMMIT "unknown"
#endif
#ifndef CRIA_BUILD_FLAGS
#define CRIA_BUILD_FLAGS "unknown"
#endif

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"run", cria_cmd_run, "generate text from a prompt (llama-cli style flags; cria run -h)"},
    {"batch", cria_cmd_batch, "a file of prompts through continuous batching: JSONL out, tokens/s, latency (cria batch -h)"},
    {"serve", cria_cmd_serve, "OpenAI-compatible HTTP server with continuous batching and streaming (cria serve -h)"},
    {"bench", cria_cmd_bench, "llama-bench style speed tests: pp, tg, thread sweeps (cria bench -h)"},
    {"tune", cria_cmd_tune, "find this machine's best threads, poll and thresholds for a model; saved for run/bench/serve (cria tune -h)"},
    {"info", cria_cmd_info, "a model file's metadata, hyper-parameters and tensor table (cria info -h)"},
    {"tokenize", cria_cmd_tokenize, "text to token ids, llama-tokenize style (cria tokenize -h)"},
    {"synth", cria_cmd_synth, "write a random-weight model of a real shape (cria synth -h)"},
    {"quantize", cria_cmd_quantize, "convert an F32/F16/BF16 GGUF to a quantized type or mix (cria quantize -h)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: cria <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n  cria --version    version, build and instruction sets\n"
               "  cria -h           this help\n");
}

static int version(void)
{
    printf("cria %s (commit %s)\n", CRIA_VERSION, CRIA_GIT_COMMIT);
    printf("compiler: %s\n", __VERSION__);
    printf("build flags: %s\n", CRIA_BUILD_FLAGS);
    printf("simd: built scalar avx2 avx512; detected %s; active %s\n", cria_isa_name(cria_isa_detected()),
           cria_isa_name(cria_isa_active()));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version"))
        return version();
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (!strcmp(cmd, commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "error: unknown command '%s'\n", cmd);
    usage(stderr);
    return 1;
}
