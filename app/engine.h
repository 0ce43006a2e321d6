/*
 * The model and thread set-up shared by the subcommands that run a model
 * (run, batch, serve): their common options, loading, the tuning file,
 * where the threads run, and the context parameters that follow.
 */
#ifndef CRIA_APP_ENGINE_H
#define CRIA_APP_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cria.h"

typedef struct cria_engine_opts {
    const char *model, *vocab;          /* -m, --vocab */
    int32_t n_threads, n_threads_batch; /* -t, -tb; 0 until given */
    int32_t poll;                       /* --poll; -1 until given */
    bool no_tune, no_repack;            /* --no-tune, --no-repack */
    bool quiet;                         /* set by the caller: no notes or warnings on stderr */
    cria_cpu_params cpu;                /* -C, -Cr, --cpu-strict, --prio, --numa */
} cria_engine_opts;

/* A loaded model and what the options resolved to. */
typedef struct cria_engine {
    cria_model *model;
    cria_placement *placement;
    int32_t n_threads, n_threads_batch, poll;
    char thresholds[96]; /* the tuning file's parallel thresholds; "" when none */
} cria_engine;

void cria_engine_opts_init(cria_engine_opts *o);

/*
 * One of the options above at argv[*i] into o, as the parsers of args.h.
 * Returns false when argv[*i] is none of them (*ok untouched); else *ok says
 * whether its value parsed.
 */
bool cria_engine_arg(int argc, char **argv, int *i, cria_engine_opts *o, bool *ok);

/* Their help lines: the model's (-m, --vocab), then the threads' and weights' (the rest). */
void cria_engine_model_usage(FILE *f);
void cria_engine_thread_usage(FILE *f);

/*
 * Loads the model; unless no_tune, the tuning file for the model on this CPU
 * fills what the flags left open (thread counts, -t alone setting -tb too,
 * poll and the thresholds); then plans where the threads run (bad --cpu-*,
 * --numa values fail here), fills thread counts still open with the
 * physical cores of the selected CPUs, poll with 50, and sets the priority.
 * Prints one error line and returns false on failure; e then holds whatever
 * was made, for cria_engine_close.
 */
bool cria_engine_open(const cria_engine_opts *o, cria_engine *e);

/* The placement, poll, thresholds and thread counts of e into cp. */
void cria_engine_context_params(const cria_engine *e, cria_context_params *cp);

/*
 * Context cells per slot when n_ctx (0: the training context per slot) is
 * split over n_slots sequences; prints an error line and returns false
 * when fewer than 2 are left.
 */
bool cria_engine_slot_ctx(const cria_engine *e, int32_t n_ctx, int32_t n_slots, int32_t *slot_ctx);

void cria_engine_close(cria_engine *e);

#endif
