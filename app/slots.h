/* Set-up shared by the subcommands that serve several sequences at once (batch, serve). */
#ifndef CRIA_APP_SLOTS_H
#define CRIA_APP_SLOTS_H

#include <stdbool.h>
#include <stdint.h>

#include "cria.h"

/* What the tuning file of cria tune fills in for batch and serve. */
typedef struct cria_app_slot_tune {
    bool no_tune, quiet; /* --no-tune; no line on stderr */
    int32_t poll;        /* in: -1 when --poll was not given; out: the tuning file's then, else 50 */
    char thresholds[96]; /* out: for cria_context_params.thresholds; "" when none */
} cria_app_slot_tune;

/*
 * Loads the model (vocab: tokenizer.bin of a llama2.c checkpoint, or NULL),
 * splits n_ctx (0: the training context per slot) over n_slots into
 * *slot_ctx, plans where the threads run from cpu (--cpu-mask, --cpu-range,
 * --cpu-strict, --numa; NULL: anywhere) into *placement (for
 * cria_context_params.placement; free it with cria_placement_free), sets
 * cpu->prio, and fills thread counts left at 0 with the physical cores of the
 * selected CPUs. Unless tune->no_tune, the tuning file for the model
 * on this CPU fills thread counts left at 0 first (-t alone sets -tb too),
 * and tune->poll and tune->thresholds. Prints one error line and returns false on failure;
 * whatever was made is still in *model / *placement for the caller to free.
 */
bool cria_app_load_slots(const char *path, const cria_model_params *mp, int32_t n_ctx, int32_t n_slots, int32_t *n_threads,
                         int32_t *n_threads_batch, const cria_cpu_params *cpu, cria_model **model,
                         cria_placement **placement, int32_t *slot_ctx, cria_app_slot_tune *tune);

#endif
