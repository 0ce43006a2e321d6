#include "engine.h"

#include <string.h>

#include "args.h"
#include "tune.h"

void cria_engine_opts_init(cria_engine_opts *o)
{
    memset(o, 0, sizeof *o);
    o->poll = -1;
    o->cpu = cria_cpu_default_params(); /* n_threads 0: the placement's default (physical cores) */
}

bool cria_engine_arg(int argc, char **argv, int *i, cria_engine_opts *o, bool *ok)
{
    const char *a = argv[*i];
    if (!strcmp(a, "-m") || !strcmp(a, "--model"))
        *ok = cria_arg_str(argc, argv, i, &o->model);
    else if (!strcmp(a, "--vocab"))
        *ok = cria_arg_str(argc, argv, i, &o->vocab);
    else if (!strcmp(a, "-t") || !strcmp(a, "--threads"))
        *ok = cria_arg_i32(argc, argv, i, 1, 1024, &o->n_threads);
    else if (!strcmp(a, "-tb") || !strcmp(a, "--threads-batch"))
        *ok = cria_arg_i32(argc, argv, i, 1, 1024, &o->n_threads_batch);
    else if (!strcmp(a, "--poll"))
        *ok = cria_arg_i32(argc, argv, i, 0, 100, &o->poll);
    else if (!strcmp(a, "--no-tune"))
        o->no_tune = *ok = true;
    else if (!strcmp(a, "--no-repack"))
        o->no_repack = *ok = true;
    else
        return cria_cpu_arg(argc, argv, i, &o->cpu, ok);
    return true;
}

void cria_engine_model_usage(FILE *f)
{
    fprintf(f, "  -m, --model FILE       GGUF model or llama2.c checkpoint\n"
               "      --vocab FILE       tokenizer.bin for a llama2.c checkpoint\n");
}

void cria_engine_thread_usage(FILE *f)
{
    fprintf(f,
            "  -t, --threads N        threads for one-token passes, as in generation (default: the physical\n"
            "                         cores available, no SMT siblings, no efficiency cores)\n"
            "  -tb, --threads-batch N threads for passes of several tokens, as prompts (default: same as -t)\n"
            "      --poll 0..100      how long idle threads poll for work before sleeping (default 50; 0: sleep)\n"
            "      --no-tune          ignore the tuning file of cria tune (by default, when it matches this CPU\n"
            "                         and model shape, it sets -t, -tb, --poll and the parallel thresholds\n"
            "                         that the flags leave open)\n"
            "      --no-repack        keep the weights in the file's layout (by default Q4_0 and Q8_0 are\n"
            "                         repacked at load for the AVX-512 VNNI kernels, into memory of the same size)\n");
    cria_cpu_usage(f);
}

bool cria_engine_open(const cria_engine_opts *o, cria_engine *e)
{
    memset(e, 0, sizeof *e);
    cria_error err;
    cria_model_params mp = cria_model_default_params();
    mp.vocab_path = o->vocab;
    mp.no_repack = o->no_repack;
    if (cria_model_load(o->model, &mp, &e->model, &err) != CRIA_OK) {
        cria_app_error("%s", err.msg);
        return false;
    }
    e->n_threads = o->n_threads;
    e->n_threads_batch = o->n_threads_batch;
    e->poll = o->poll;
    cria_tuning tuned;
    if (!o->no_tune && cria_app_tune_load(e->model, o->quiet, &tuned)) {
        if (e->n_threads == 0 && e->n_threads_batch == 0)
            e->n_threads_batch = tuned.n_threads_batch;
        if (e->n_threads == 0)
            e->n_threads = tuned.n_threads;
        if (e->poll < 0)
            e->poll = tuned.poll;
        cria_tune_thresholds_spec(&tuned, e->thresholds, sizeof e->thresholds);
    }
    if (e->poll < 0)
        e->poll = 50;
    /* where the threads run, and how many by default; the priority before the pool starts, so workers inherit it */
    cria_cpu_params where = o->cpu;
    where.n_threads = e->n_threads > e->n_threads_batch ? e->n_threads : e->n_threads_batch; /* 0: neither given */
    if (cria_placement_init(&where, &e->placement, &err) != CRIA_OK) {
        cria_app_error("%s", err.msg);
        return false;
    }
    if (e->n_threads == 0)
        e->n_threads = cria_placement_default_threads(e->placement);
    if (e->n_threads_batch == 0)
        e->n_threads_batch = e->n_threads;
    if (cria_thread_set_priority(where.prio, &err) != CRIA_OK && !o->quiet)
        fprintf(stderr, "warning: %s\n", err.msg);
    return true;
}

void cria_engine_context_params(const cria_engine *e, cria_context_params *cp)
{
    cp->placement = e->placement;
    cp->poll = e->poll;
    cp->thresholds = e->thresholds[0] ? e->thresholds : NULL;
    cp->n_threads = e->n_threads;
    cp->n_threads_batch = e->n_threads_batch;
}

bool cria_engine_slot_ctx(const cria_engine *e, int32_t n_ctx, int32_t n_slots, int32_t *slot_ctx)
{
    cria_model_info mi;
    cria_model_get_info(e->model, &mi);
    *slot_ctx = n_ctx > 0 ? n_ctx / n_slots : mi.n_ctx_train;
    if (*slot_ctx < 2) {
        cria_app_error("a context of %d tokens split over %d slots leaves %d per slot (raise -c)", n_ctx, n_slots,
                       *slot_ctx);
        return false;
    }
    return true;
}

void cria_engine_close(cria_engine *e)
{
    cria_placement_free(e->placement);
    cria_model_free(e->model);
    memset(e, 0, sizeof *e);
}
