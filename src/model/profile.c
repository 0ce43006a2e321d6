/* The op profiler: laps charged to op kinds, snapshots, and the table --profile prints. */
#include "model/profile.h"

#include <string.h>
#include <time.h>

#include "model/context.h"

static const char *const op_names[CRIA_PROF_COUNT] = {
    [CRIA_PROF_EMBED] = "embedding",        [CRIA_PROF_NORM] = "norms",
    [CRIA_PROF_QKV] = "matmul qkv",         [CRIA_PROF_ROPE] = "rope + kv store",
    [CRIA_PROF_ATTENTION] = "attention",    [CRIA_PROF_WO] = "matmul wo",
    [CRIA_PROF_RESIDUAL] = "residual add",  [CRIA_PROF_GATE_UP] = "matmul gate/up",
    [CRIA_PROF_ACT] = "activation",         [CRIA_PROF_DOWN] = "matmul down",
    [CRIA_PROF_OUTPUT] = "matmul output",   [CRIA_PROF_SAMPLE] = "sampling",
    [CRIA_PROF_SYNC] = "sync wait",         [CRIA_PROF_OTHER] = "other",
};

const char *cria_prof_op_name(cria_prof_op op)
{
    return (unsigned)op < CRIA_PROF_COUNT ? op_names[op] : "?";
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void cria_prof_mark(cria_prof *p, const cria_pool *pool)
{
    int64_t workers;
    cria_pool_join_waits(pool, &p->wait_mark, &workers);
    p->regions_mark = cria_pool_regions(pool);
    p->t_mark = now_ns();
}

void cria_prof_lap(cria_prof *p, const cria_pool *pool, cria_prof_op op)
{
    const int64_t t = now_ns();
    int64_t caller, workers;
    cria_pool_join_waits(pool, &caller, &workers);
    const uint64_t regions = cria_pool_regions(pool);
    const int64_t waited = caller - p->wait_mark;
    p->total.ns[op] += t - p->t_mark - waited;
    p->total.ns[CRIA_PROF_SYNC] += waited;
    p->total.syncs[op] += regions - p->regions_mark;
    p->total.worker_wait_ns = workers;
    p->wait_mark = caller;
    p->regions_mark = regions;
    p->t_mark = t;
}

void cria_context_set_profile(cria_context *ctx, bool on)
{
    ctx->prof.on = on;
    ctx->prof.total.n_threads = cria_pool_size(ctx->pool);
    cria_pool_set_profile(ctx->pool, on);
}

cria_profile cria_context_profile(const cria_context *ctx)
{
    return ctx->prof.total;
}

cria_profile cria_profile_diff(const cria_profile *after, const cria_profile *before)
{
    cria_profile d = *after;
    for (int i = 0; i < CRIA_PROF_COUNT; i++) {
        d.ns[i] -= before->ns[i];
        d.syncs[i] -= before->syncs[i];
    }
    d.worker_wait_ns -= before->worker_wait_ns;
    d.n_tokens -= before->n_tokens;
    d.n_decodes -= before->n_decodes;
    return d;
}

void cria_profile_add(cria_profile *a, const cria_profile *b)
{
    for (int i = 0; i < CRIA_PROF_COUNT; i++) {
        a->ns[i] += b->ns[i];
        a->syncs[i] += b->syncs[i];
    }
    a->worker_wait_ns += b->worker_wait_ns;
    a->n_tokens += b->n_tokens;
    a->n_decodes += b->n_decodes;
    a->n_threads = a->n_threads > b->n_threads ? a->n_threads : b->n_threads;
}

int64_t cria_profile_total_ns(const cria_profile *p)
{
    int64_t t = 0;
    for (int i = 0; i < CRIA_PROF_COUNT; i++)
        t += p->ns[i];
    return t;
}

void cria_profile_print(FILE *f, const char *title, const cria_profile *p)
{
    const double n = p->n_tokens > 0 ? (double)p->n_tokens : 1.0;
    const int64_t total = cria_profile_total_ns(p);
    uint64_t syncs = 0;
    for (int i = 0; i < CRIA_PROF_COUNT; i++)
        syncs += p->syncs[i];
    fprintf(f, "\nprofile: %s: %lld tokens, %lld decode calls, threads %d\n", title, (long long)p->n_tokens,
            (long long)p->n_decodes, p->n_threads);
    fprintf(f, "| %-16s | %10s | %6s | %11s |\n", "op", "ms/token", "%", "syncs/token");
    fprintf(f, "| ---------------- | ---------: | -----: | ----------: |\n");
    for (int i = 0; i < CRIA_PROF_COUNT; i++)
        fprintf(f, "| %-16s | %10.4f | %6.2f | %11.2f |\n", op_names[i], (double)p->ns[i] / 1e6 / n,
                total > 0 ? 100.0 * (double)p->ns[i] / (double)total : 0.0, (double)p->syncs[i] / n);
    fprintf(f, "| %-16s | %10.4f | %6.2f | %11.2f |\n", "total", (double)total / 1e6 / n, total > 0 ? 100.0 : 0.0,
            (double)syncs / n);
    const int workers = p->n_threads > 1 ? p->n_threads - 1 : 0;
    if (workers > 0)
        fprintf(f, "workers idle at joins: %.4f ms/token per worker (%d workers; not in the total)\n",
                (double)p->worker_wait_ns / 1e6 / n / workers, workers);
}
