/*
 * cria tune's search: thread counts for prompt processing and generation
 * (measured separately), --poll, the outer x inner split for aggregate
 * generation throughput (cria bench's --configs), and the parallel
 * thresholds of matmul and attention (serial vs parallel kernel timings at
 * growing sizes: the threshold is the least work per thread from which the
 * parallel split wins at every larger size measured). The result is a
 * cria_tuning for src/bench/tunefile.h to save.
 */
#ifndef CRIA_BENCH_TUNE_H
#define CRIA_BENCH_TUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "bench/tunefile.h"
#include "cria.h"

typedef struct cria_tune_params {
    const char *model;   /* path */
    const char *vocab;   /* tokenizer.bin for a llama2.c checkpoint; NULL: none */
    bool full;           /* longer tests, more repetitions and rounds, every poll step and split */
    int32_t max_threads; /* most threads tried; 0: physical cores (quick) or logical CPUs (full) */
    /* Called with a one-line progress message (no newline) before each measurement; may be NULL. */
    void (*progress)(const char *line, void *user);
    void *user;
} cria_tune_params;

/*
 * Runs the search on this machine and fills *out (keys, chosen settings,
 * every measurement as a row). Returns the first error (a model that does
 * not load, a failed decode) with err filled.
 */
cria_status cria_tune_run(const cria_tune_params *p, cria_tuning *out, cria_error *err);

#endif
