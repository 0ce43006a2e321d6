/*
 * Golden cases of ../shared/golden through the library API, shared by the
 * golden test programs: a case names a model, a prompt, its token ids, 64
 * greedy ids and the reference's last-position logits.
 */
#ifndef CRIA_TESTS_GOLDEN_H
#define CRIA_TESTS_GOLDEN_H

#include <stdbool.h>

#include "cria.h"

enum { GOLDEN_MAX_IDS = 256, GOLDEN_N_GEN = 64 };

/* Loads a model from the shared folder (vocab_rel: tokenizer.bin of a llama2.c checkpoint, or NULL); fails the test on error. */
cria_model *golden_load_model(const char *model_rel, const char *vocab_rel);

/* A context of n_ctx cells for n_seq sequences on `threads` threads; fails the test on error. */
cria_context *golden_new_context(cria_model *m, int n_ctx, int n_seq, int threads);

/* cria_decode that fails the test on error. */
void golden_decode(cria_context *ctx, const cria_batch *b);

/*
 * Runs one case (case_rel, e.g. "golden/stories260K-f32.p1.txt") on a model:
 * the prompt ids must match, the last-position logits must be within
 * max_nmse of the reference's (the logits file sits beside the case), and
 * the first n_gen of the 64 greedy ids must match. near_tie > 0 allows one
 * thing: a step where the reference's token and ours are within near_tie in
 * our logits ends the case there (it is reported), since float rounding
 * outside the tested kernels decides such a tie.
 */
void golden_check_case(const char *case_rel, const char *model_rel, const char *vocab_rel, double max_nmse,
                       int threads, double near_tie, int n_gen);

#endif
