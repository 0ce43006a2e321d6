/*
 * llama-cli's sampling options, shared by the subcommands that generate
 * (run, batch): parsing, help text, and the final parameters with the seed
 * resolved and --ignore-eos turned into logit biases.
 */
#ifndef CRIA_APP_SAMPLING_ARGS_H
#define CRIA_APP_SAMPLING_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cria.h"

#define CRIA_APP_MAX_LOGIT_BIAS 256

typedef struct cria_sampling_opts {
    cria_sampler_params sp; /* every sampling option; sp.seed is resolved by cria_sampling_resolve */
    int64_t seed;           /* -s; -1: from the clock */
    bool breakers_set;      /* a --dry-sequence-breaker replaced the defaults */
    bool ignore_eos;        /* bias every end-of-generation token to -inf */
    cria_logit_bias bias[CRIA_APP_MAX_LOGIT_BIAS]; /* -l, backing sp.logit_bias */
} cria_sampling_opts;

/* llama-cli's defaults. */
void cria_sampling_opts_init(cria_sampling_opts *o);

/*
 * Returns true when argv[*i] is a sampling option (then *ok says whether its
 * value parsed, and *i has moved past it), false when it is not one.
 * DRY breakers are unescaped in place in argv and borrowed from it.
 */
bool cria_sampling_arg(int argc, char **argv, int *i, cria_sampling_opts *o, bool *ok);

/* The help text of the sampling options. */
void cria_sampling_usage(FILE *f);

/*
 * The parameters to build a chain with: o's, the seed resolved (the clock
 * when -1), the user's biases followed by -inf on every end-of-generation
 * token under --ignore-eos. Returns the bias array backing sp->logit_bias
 * (free it once the chain is built: chains copy it), or NULL when out of
 * memory.
 */
cria_logit_bias *cria_sampling_resolve(const cria_sampling_opts *o, const cria_model *model, cria_sampler_params *sp);

/* Replaces the C escapes \n \t \r \\ \" \' in the n bytes at s, in place; returns the new length. */
size_t cria_unescape(char *s, size_t n);

#endif
