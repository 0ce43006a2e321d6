#include "slots.h"

#include <stdio.h>

#include "args.h"
#include "tune.h"

bool cria_app_load_slots(const char *path, const cria_model_params *mp, int32_t n_ctx, int32_t n_slots, int32_t *n_threads,
                         int32_t *n_threads_batch, const cria_cpu_params *cpu, cria_model **model,
                         cria_placement **placement, int32_t *slot_ctx, cria_app_slot_tune *tune)
{
    cria_error err;
    if (cria_model_load(path, mp, model, &err) != CRIA_OK) {
        cria_app_error("%s", err.msg);
        return false;
    }
    cria_model_info mi;
    cria_model_get_info(*model, &mi);
    *slot_ctx = n_ctx > 0 ? n_ctx / n_slots : mi.n_ctx_train;
    if (*slot_ctx < 2) {
        cria_app_error("a context of %d tokens split over %d slots leaves %d per slot (raise -c)", n_ctx, n_slots,
                       *slot_ctx);
        return false;
    }
    tune->thresholds[0] = '\0';
    cria_tuning tuned;
    if (!tune->no_tune && cria_app_tune_load(*model, tune->quiet, &tuned)) {
        if (*n_threads == 0 && *n_threads_batch == 0)
            *n_threads_batch = tuned.n_threads_batch;
        if (*n_threads == 0)
            *n_threads = tuned.n_threads;
        if (tune->poll < 0)
            tune->poll = tuned.poll;
        cria_tune_thresholds_spec(&tuned, tune->thresholds, sizeof tune->thresholds);
    }
    if (tune->poll < 0)
        tune->poll = 50;
    /* where the threads run (bad --cpu-* / --numa values fail here), and how many by default */
    cria_cpu_params where = cpu ? *cpu : cria_cpu_default_params();
    where.n_threads = *n_threads > *n_threads_batch ? *n_threads : *n_threads_batch; /* 0: neither given */
    if (cria_placement_init(&where, placement, &err) != CRIA_OK) {
        cria_app_error("%s", err.msg);
        return false;
    }
    if (*n_threads == 0)
        *n_threads = cria_placement_default_threads(*placement);
    if (*n_threads_batch == 0)
        *n_threads_batch = *n_threads;
    if (cria_thread_set_priority(where.prio, &err) != CRIA_OK && !tune->quiet)
        fprintf(stderr, "warning: %s\n", err.msg);
    return true;
}
