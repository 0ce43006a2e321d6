/*
 * cria tune's search. The end-to-end searches (threads, poll, batch splits)
 * run cria bench's tests (src/bench/measure.c) in rounds: every candidate
 * once per round, so a burst of load from elsewhere hits all candidates
 * alike, and each candidate scores its best repetition (the least disturbed
 * one). A candidate with more threads must beat one with fewer by more than
 * TIE_MARGIN to win, so noise does not buy threads that do not pay.
 */
#include "bench/tune.h"

#include <math.h>
#include <stdarg.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cpu.h"
#include "base/error.h"
#include "base/fp16.h"
#include "bench/bench.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/vec.h"
#include "model/model.h"
#include "parallel/pool.h"

#define TIE_MARGIN 0.01

/* How long and how often each mode measures. */
typedef struct tune_plan {
    int32_t n_prompt, n_gen, reps, rounds;
    int32_t polls[8], n_polls;
    int32_t work_step;  /* thresholds: candidate work per thread grows by this factor */
    int32_t kernel_reps;
} tune_plan;

static const tune_plan quick_plan = {.n_prompt = 32, .n_gen = 16, .reps = 2, .rounds = 2,
                                     .polls = {0, 50, 100}, .n_polls = 3, .work_step = 4, .kernel_reps = 40};
static const tune_plan full_plan = {.n_prompt = 128, .n_gen = 64, .reps = 3, .rounds = 3,
                                    .polls = {0, 10, 25, 50, 75, 100}, .n_polls = 6, .work_step = 2,
                                    .kernel_reps = 100};

enum { KIND_PP, KIND_TG, KIND_POLL, KIND_CFG, KIND_COUNT };
static const char *const kind_names[KIND_COUNT] = {"pp threads", "tg threads", "poll", "batch NxT"};

/* One end-to-end candidate and its best tokens/s so far. */
typedef struct cand {
    int kind;
    int32_t threads, seq, poll;
    double best_ts;
} cand;

typedef struct tune_state {
    const cria_tune_params *p;
    const tune_plan *plan;
    cand c[CRIA_BENCH_MAX_LIST * 2];
    int32_t n_cand;
    int32_t step, n_steps; /* progress */
    int kind;              /* the search under way: decides which candidates results map to */
} tune_state;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void progress(tune_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(tune_state *s, const char *fmt, ...)
{
    if (!s->p->progress)
        return;
    char line[256];
    int n = snprintf(line, sizeof line, "tune [%d/%d] ", s->step, s->n_steps);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    s->p->progress(line, s->p->user);
}

static cand *add_cand(tune_state *s, int kind, int32_t threads, int32_t seq, int32_t poll)
{
    if (s->n_cand == (int32_t)(sizeof s->c / sizeof s->c[0]))
        return NULL;
    cand *c = &s->c[s->n_cand++];
    *c = (cand){.kind = kind, .threads = threads, .seq = seq, .poll = poll, .best_ts = 0.0};
    return c;
}

static bool on_result(const cria_bench_result *r, void *user)
{
    tune_state *s = user;
    const cria_bench_test *t = &r->test;
    const int kind = s->kind == KIND_PP || s->kind == KIND_TG ? (t->n_prompt > 0 ? KIND_PP : KIND_TG) : s->kind;
    double best = 0.0;
    for (int32_t i = 0; i < r->n_samples; i++)
        best = r->samples_ts[i] > best ? r->samples_ts[i] : best;
    for (int32_t i = 0; i < s->n_cand; i++) {
        cand *c = &s->c[i];
        if (c->kind == kind && c->threads == t->n_threads && c->seq == t->n_seq && c->poll == t->poll) {
            c->best_ts = best > c->best_ts ? best : c->best_ts;
            break;
        }
    }
    s->step++;
    char name[48];
    cria_bench_test_name(t, name, sizeof name);
    progress(s, "%s %s, %dx%d threads, poll %d: %.2f t/s", kind_names[kind], name, t->n_seq, t->n_threads, t->poll,
             best);
    return true;
}

/* Runs params' tests plan->rounds times, scoring the candidates of the current search. */
static cria_status run_rounds(tune_state *s, const cria_bench_params *bp, cria_error *err)
{
    cria_bench_system sys;
    memset(&sys, 0, sizeof sys); /* no limits needed: only tokens/s is compared */
    for (int32_t r = 0; r < s->plan->rounds; r++) {
        cria_status st = cria_bench_run(bp, &sys, on_result, s, err);
        if (st != CRIA_OK)
            return st;
    }
    return CRIA_OK;
}

/* The best candidate of a kind; one with fewer threads (or sequences) wins ties within TIE_MARGIN. */
static cand *best_of(tune_state *s, int kind)
{
    cand *best = NULL;
    for (int32_t i = 0; i < s->n_cand; i++) {
        cand *c = &s->c[i];
        if (c->kind != kind)
            continue;
        if (!best || c->best_ts > best->best_ts * (1.0 + TIE_MARGIN))
            best = c;
    }
    return best;
}

static void add_row(cria_tuning *t, const char *search, const char *setting, double value, const char *unit,
                    bool best)
{
    if (t->n_rows == CRIA_TUNE_MAX_ROWS)
        return;
    cria_tune_row *r = &t->rows[t->n_rows++];
    snprintf(r->search, sizeof r->search, "%s", search);
    snprintf(r->setting, sizeof r->setting, "%s", setting);
    r->value = value;
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    r->best = best;
}

/* Rows for every candidate of a kind, the chosen one marked. */
static void cand_rows(tune_state *s, cria_tuning *t, int kind, const cand *chosen)
{
    for (int32_t i = 0; i < s->n_cand; i++) {
        const cand *c = &s->c[i];
        if (c->kind != kind)
            continue;
        char setting[32];
        if (kind == KIND_CFG)
            snprintf(setting, sizeof setting, "%dx%d", c->seq, c->threads);
        else if (kind == KIND_POLL)
            snprintf(setting, sizeof setting, "%d (-t %d)", c->poll, c->threads);
        else
            snprintf(setting, sizeof setting, "%d", c->threads);
        add_row(t, kind_names[kind], setting, c->best_ts, "t/s", c == chosen);
    }
}

static cria_bench_params base_params(const cria_tune_params *p, const tune_plan *plan)
{
    cria_bench_params bp = cria_bench_default_params();
    bp.n_models = 1;
    bp.models[0] = p->model;
    bp.vocab = p->vocab;
    bp.reps = plan->reps;
    bp.n_prompt = (cria_bench_list){.n = 1, .v = {0}};
    bp.n_gen = (cria_bench_list){.n = 1, .v = {0}};
    return bp;
}

/* ---- thresholds: serial vs parallel kernel timings ---------------------------------------------- */

typedef struct kernel_bench {
    const cria_vec_kernels *vk;
    cria_pool *pool;
    int nth, reps;
} kernel_bench;

typedef void (*kernel_fn)(const kernel_bench *kb, void *arg, int nth);

/*
 * Nanoseconds per call of fn at nth threads over one short window (at least
 * 20 us). Windows are short so that many of them fall between the
 * preemptions of a busy machine: the best window is the kernel's own cost.
 */
static double window_ns(const kernel_bench *kb, kernel_fn fn, void *arg, int nth)
{
    int64_t t0 = now_ns(), t;
    int64_t calls = 0;
    do {
        fn(kb, arg, nth);
        calls++;
        t = now_ns();
    } while (t - t0 < 20000);
    return (double)(t - t0) / (double)calls;
}

/* Speedup of nth threads over one: windows alternate serial and parallel, best of reps each. */
static double speedup(const kernel_bench *kb, kernel_fn fn, void *arg)
{
    double serial = 1e30, parallel = 1e30;
    fn(kb, arg, kb->nth); /* wake the workers, warm the caches */
    for (int r = 0; r < kb->reps; r++) {
        const double a = window_ns(kb, fn, arg, 1), b = window_ns(kb, fn, arg, kb->nth);
        serial = a < serial ? a : serial;
        parallel = b < parallel ? b : parallel;
    }
    return serial / parallel;
}

typedef struct mm_arg {
    cria_weight w;
    float *x, *y;
    void *scratch;
} mm_arg;

static void run_matmul(const kernel_bench *kb, void *p, int nth)
{
    mm_arg *a = p;
    cria_matmul(kb->vk, kb->pool, nth, &a->w, a->x, 1, a->y, a->scratch);
}

typedef struct attn_arg {
    cria_attn_layer layer;
    float *q, *out, *scratch;
    size_t scratch_floats;
    const cria_vec_kernels *vk;
    atomic_int next;
} attn_arg;

/* One query token, kv heads handed out one at a time (as the forward pass splits a generated token). */
static void attn_task(void *p, int ith, int nth)
{
    (void)nth;
    attn_arg *a = p;
    for (;;) {
        const int kh = atomic_fetch_add_explicit(&a->next, 1, memory_order_relaxed);
        if (kh >= a->layer.n_head_kv)
            break;
        cria_attention(a->vk, &a->layer, kh, kh + 1, 0, a->layer.n_cells - 1, a->q, a->out,
                       a->scratch + (size_t)ith * a->scratch_floats);
    }
}

static void run_attention(const kernel_bench *kb, void *p, int nth)
{
    attn_arg *a = p;
    atomic_store_explicit(&a->next, 0, memory_order_relaxed);
    cria_pool_run(kb->pool, nth, attn_task, a);
}

/*
 * Picks the threshold from speedups at growing work per thread: the least
 * work from which parallel wins at every larger size measured. When it
 * never wins, the split starts above the largest size measured (or stays at
 * the default, if that is larger still).
 */
static int64_t pick_threshold(const int64_t *work, const double *sp, int n, int64_t dflt)
{
    int64_t pick = -1;
    for (int i = n - 1; i >= 0 && sp[i] > 1.0; i--)
        pick = work[i];
    if (pick > 0)
        return pick;
    if (n == 0)
        return dflt;
    return work[n - 1] * 2 > dflt ? work[n - 1] * 2 : dflt;
}

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / (float)0x1000000 * 2.0f - 1.0f;
}

/* Sizes the threshold searches measure: work per thread from 1024 up by step while the model's shape allows. */
static int matmul_sizes(const cria_weight *w, int nth, int step)
{
    int n = 0;
    for (int64_t work = 1024; n < 32 && work <= (int64_t)1 << 22; work *= step, n++)
        if ((work * nth + w->cols - 1) / w->cols > w->rows)
            break;
    return n;
}

static int attention_sizes(const cria_hparams *hp, int nth, int step)
{
    if (hp->n_head_kv < 2)
        return 0; /* one kv head: the forward pass cannot split a token's attention */
    const int64_t per_cell = cria_attention_work(1, hp->n_head, 1, hp->head_dim);
    int n = 0;
    for (int64_t work = 1024; n < 32 && work <= (int64_t)1 << 22; work *= step, n++)
        if ((work * nth + per_cell - 1) / per_cell > (1 << 16))
            break;
    return n;
}

/* Matmul: the model's own first up-projection, cut to as many rows as each size needs, one token. */
static cria_status tune_matmul(tune_state *s, const cria_model *model, kernel_bench *kb, cria_tuning *t,
                               cria_error *err)
{
    if (model->hp.n_layer < 1)
        return CRIA_OK;
    const cria_weight full = model->layers[0].w_up;
    int64_t work[32], chosen;
    double sp[32];
    int n = 0;
    mm_arg a = {.w = full};
    a.x = malloc((size_t)full.cols * sizeof *a.x);
    a.y = malloc((size_t)full.rows * sizeof *a.y);
    a.scratch = malloc(cria_matmul_scratch_bytes(1, full.cols));
    if (!a.x || !a.y || !a.scratch) {
        free(a.x), free(a.y), free(a.scratch);
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for the matmul timings");
    }
    uint64_t seed = 42;
    for (int64_t i = 0; i < full.cols; i++)
        a.x[i] = frand(&seed);
    const int n_sizes = matmul_sizes(&full, kb->nth, s->plan->work_step);
    for (int64_t w = 1024; n < n_sizes; w *= s->plan->work_step) {
        a.w.rows = (w * kb->nth + full.cols - 1) / full.cols;
        s->step++;
        progress(s, "matmul threshold: %lld multiply-adds per thread", (long long)w);
        work[n] = w;
        sp[n++] = speedup(kb, run_matmul, &a);
    }
    free(a.x), free(a.y), free(a.scratch);
    chosen = pick_threshold(work, sp, n, t->thresholds.min_work[CRIA_OP_MATMUL]);
    t->thresholds.min_work[CRIA_OP_MATMUL] = chosen;
    for (int i = 0; i < n; i++) {
        char setting[32];
        snprintf(setting, sizeof setting, "%lld/thread", (long long)work[i]);
        add_row(t, "matmul", setting, sp[i], "x", work[i] == chosen);
    }
    return CRIA_OK;
}

/* Attention: one query over a synthetic cache with the model's heads, as many cells as each size needs. */
static cria_status tune_attention(tune_state *s, const cria_model *model, kernel_bench *kb, cria_tuning *t,
                                  cria_error *err)
{
    const cria_hparams *hp = &model->hp;
    const int64_t per_cell = cria_attention_work(1, hp->n_head, 1, hp->head_dim);
    const int64_t q_dim = (int64_t)hp->n_head * hp->head_dim, kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    int64_t work[32], cells_of[32];
    double sp[32];
    const int n = attention_sizes(hp, kb->nth, s->plan->work_step);
    for (int i = 0; i < n; i++) {
        work[i] = i == 0 ? 1024 : work[i - 1] * s->plan->work_step;
        cells_of[i] = (work[i] * kb->nth + per_cell - 1) / per_cell;
    }
    if (n == 0)
        return CRIA_OK;
    const int64_t top = cells_of[n - 1];
    attn_arg a = {.vk = kb->vk};
    uint16_t *k = malloc((size_t)(top * kv_dim) * sizeof *k), *v = malloc((size_t)(top * kv_dim) * sizeof *v);
    int32_t *pos = malloc((size_t)top * sizeof *pos), *seq = calloc((size_t)top, sizeof *seq);
    a.q = malloc((size_t)q_dim * sizeof *a.q);
    a.out = malloc((size_t)q_dim * sizeof *a.out);
    a.layer = (cria_attn_layer){.n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .head_dim = hp->head_dim,
                                .n_cells = (int32_t)top, .k = k, .v = v, .cell_pos = pos, .cell_seq = seq,
                                .scale = 1.0f / sqrtf((float)hp->head_dim)};
    a.scratch_floats = cria_attention_scratch_floats(&a.layer);
    a.scratch = malloc((size_t)kb->nth * a.scratch_floats * sizeof *a.scratch);
    cria_status st = CRIA_OK;
    if (!k || !v || !pos || !seq || !a.q || !a.out || !a.scratch) {
        st = cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for the attention timings");
        goto done;
    }
    uint64_t seed = 7;
    for (int64_t i = 0; i < top * kv_dim; i++) {
        k[i] = cria_f32_to_fp16(frand(&seed));
        v[i] = cria_f32_to_fp16(frand(&seed));
    }
    for (int64_t i = 0; i < top; i++)
        pos[i] = (int32_t)i;
    for (int64_t i = 0; i < q_dim; i++)
        a.q[i] = frand(&seed);
    for (int i = 0; i < n; i++) {
        a.layer.n_cells = (int32_t)cells_of[i];
        s->step++;
        progress(s, "attention threshold: %lld work per thread (multiply-adds + per-cell cost)", (long long)work[i]);
        sp[i] = speedup(kb, run_attention, &a);
    }
    const int64_t chosen = pick_threshold(work, sp, n, t->thresholds.min_work[CRIA_OP_ATTENTION]);
    t->thresholds.min_work[CRIA_OP_ATTENTION] = chosen;
    for (int i = 0; i < n; i++) {
        char setting[32];
        snprintf(setting, sizeof setting, "%lld/thread", (long long)work[i]);
        add_row(t, "attention", setting, sp[i], "x", work[i] == chosen);
    }
done:
    free(k), free(v), free(pos), free(seq), free(a.q), free(a.out), free(a.scratch);
    return st;
}

/* ---- the search ----------------------------------------------------------------------------------- */

/* Physical cores and logical CPUs this process may use. */
static cria_status count_cpus(int32_t *physical, int32_t *logical, cria_error *err)
{
    cria_cpu_params cpu = cria_cpu_default_params();
    cria_placement *pl = NULL;
    cria_status st = cria_placement_init(&cpu, &pl, err);
    if (st != CRIA_OK)
        return st;
    *physical = cria_placement_default_threads(pl);
    cria_placement_free(pl);
    cpu_set_t set;
    *logical = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : *physical;
    if (*logical < *physical)
        *logical = *physical;
    return CRIA_OK;
}

static void utc_now(char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

cria_status cria_tune_run(const cria_tune_params *p, cria_tuning *out, cria_error *err)
{
    const int64_t t_start = now_ns();
    tune_state *s = calloc(1, sizeof *s);
    if (!s)
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for the search");
    s->p = p;
    s->plan = p->full ? &full_plan : &quick_plan;
    const tune_plan *plan = s->plan;
    memset(out, 0, sizeof *out);
    cria_model *model = NULL;
    cria_pool *pool = NULL;
    int32_t physical, logical;
    cria_status st = count_cpus(&physical, &logical, err);
    if (st != CRIA_OK)
        goto done;
    int32_t top = p->max_threads > 0 ? p->max_threads : p->full ? logical : physical;
    if (top > CRIA_BENCH_MAX_LIST)
        top = CRIA_BENCH_MAX_LIST;
    cria_model_params mp = cria_model_default_params();
    mp.vocab_path = p->vocab;
    if ((st = cria_model_load(p->model, &mp, &model, err)) != CRIA_OK)
        goto done;
    cria_tune_cpu_key(out->cpu, sizeof out->cpu);
    cria_tune_shape_key(model, out->shape, sizeof out->shape);
    snprintf(out->model, sizeof out->model, "%s", p->model);
    snprintf(out->mode, sizeof out->mode, "%s", p->full ? "full" : "quick");
    utc_now(out->created, sizeof out->created);
    out->thresholds = cria_thresholds_default();
    out->n_threads = out->n_threads_batch = out->cfg_seq = out->cfg_threads = 1;
    out->poll = 50;

    /* The batch splits: N sequences x T threads filling the cores (--full: every CPU, and also half of them). */
    int32_t cfg_n[CRIA_BENCH_MAX_LIST], cfg_t[CRIA_BENCH_MAX_LIST], n_cfg = 0;
    for (int32_t total = top; total >= 1 && top > 1; total = p->full && total == top ? top / 2 : 0)
        for (int32_t nseq = 1; nseq <= total && n_cfg < CRIA_BENCH_MAX_LIST; nseq++)
            if (total % nseq == 0) {
                cfg_n[n_cfg] = nseq;
                cfg_t[n_cfg++] = total / nseq;
            }
    const int32_t n_mm = model->hp.n_layer > 0 ? matmul_sizes(&model->layers[0].w_up, top, plan->work_step) : 0;
    const int32_t n_attn = attention_sizes(&model->hp, top, plan->work_step);
    s->n_steps = plan->rounds * (2 * top + (top > 1 ? plan->n_polls + n_cfg : 0)) + (top > 1 ? n_mm + n_attn : 0);

    /* 1. Threads for prompt processing and for generation, both in one list of tests per round. */
    cria_bench_params bp = base_params(p, plan);
    bp.n_prompt.v[0] = plan->n_prompt;
    bp.n_gen.v[0] = plan->n_gen;
    bp.n_threads.n = top;
    for (int32_t i = 0; i < top; i++) {
        bp.n_threads.v[i] = i + 1;
        add_cand(s, KIND_PP, i + 1, 1, 50);
        add_cand(s, KIND_TG, i + 1, 1, 50);
    }
    s->kind = KIND_PP;
    if ((st = run_rounds(s, &bp, err)) != CRIA_OK)
        goto done;
    const cand *pp = best_of(s, KIND_PP), *tg = best_of(s, KIND_TG);
    out->n_threads_batch = pp->threads;
    out->n_threads = tg->threads;

    if (top > 1) {
        /* 2. --poll, where it matters: generation on its threads (or the prompt's, if generation runs on one). */
        const bool on_tg = out->n_threads > 1 || out->n_threads_batch == 1;
        const int32_t nth = on_tg ? (out->n_threads > 1 ? out->n_threads : top) : out->n_threads_batch;
        bp = base_params(p, plan);
        if (on_tg)
            bp.n_gen.v[0] = plan->n_gen;
        else
            bp.n_prompt.v[0] = plan->n_prompt;
        bp.n_threads = (cria_bench_list){.n = 1, .v = {nth}};
        bp.poll.n = plan->n_polls;
        for (int32_t i = 0; i < plan->n_polls; i++) {
            bp.poll.v[i] = plan->polls[i];
            add_cand(s, KIND_POLL, nth, 1, plan->polls[i]);
        }
        s->kind = KIND_POLL;
        if ((st = run_rounds(s, &bp, err)) != CRIA_OK)
            goto done;
        /* Ties go to the first listed: 0 (sleep at once) burns the least CPU. */
        const cand *poll = best_of(s, KIND_POLL);
        out->poll = poll->poll;
        /* The thread search ran at poll 50: threads that lost there may win at the poll found (sleeping at
         * once can beat spinning on a busy machine), and then they are the choice. */
        const cand *single = on_tg ? tg : pp;
        if (single->threads != nth && poll->best_ts > single->best_ts * (1.0 + TIE_MARGIN)) {
            for (int32_t i = 0; i < s->n_cand; i++)
                if (s->c[i].kind == single->kind && s->c[i].threads == nth)
                    *(on_tg ? &tg : &pp) = &s->c[i];
            *(on_tg ? &out->n_threads : &out->n_threads_batch) = nth;
        }
        cand_rows(s, out, KIND_PP, pp);
        cand_rows(s, out, KIND_TG, tg);
        cand_rows(s, out, KIND_POLL, poll);

        /* 3. Outer x inner for aggregate generation throughput (cria bench --configs). */
        bp = base_params(p, plan);
        bp.n_gen.v[0] = plan->n_gen;
        bp.poll.v[0] = out->poll;
        for (int32_t i = 0; i < n_cfg; i++) {
            bp.cfg_seq.v[bp.cfg_seq.n++] = cfg_n[i];
            bp.cfg_threads.v[bp.cfg_threads.n++] = cfg_t[i];
            add_cand(s, KIND_CFG, cfg_t[i], cfg_n[i], out->poll);
        }
        s->kind = KIND_CFG;
        if ((st = run_rounds(s, &bp, err)) != CRIA_OK)
            goto done;
        const cand *cfg = best_of(s, KIND_CFG);
        out->cfg_seq = cfg->seq;
        out->cfg_threads = cfg->threads;
        cand_rows(s, out, KIND_CFG, cfg);

        /* 4. Thresholds on every physical core the search may use, with the chosen poll. */
        kernel_bench kb = {.vk = cria_vec_for(cria_isa_active()), .nth = top, .reps = plan->kernel_reps};
        if ((st = cria_pool_init(top, &pool, err)) != CRIA_OK)
            goto done;
        cria_pool_set_poll(pool, out->poll);
        kb.pool = pool;
        if ((st = tune_matmul(s, model, &kb, out, err)) != CRIA_OK ||
            (st = tune_attention(s, model, &kb, out, err)) != CRIA_OK)
            goto done;
    } else {
        cand_rows(s, out, KIND_PP, pp);
        cand_rows(s, out, KIND_TG, tg);
    }
    out->seconds = (double)(now_ns() - t_start) / 1e9;
done:
    cria_pool_free(pool);
    cria_model_free(model);
    free(s);
    return st;
}
