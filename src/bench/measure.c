/*
 * cria bench's measurement loop, as llama-bench does it: per test a fresh
 * context sized for the test, one warm-up run, then -r timed repetitions,
 * each on an empty KV cache. ppN decodes N random token ids (BOS first,
 * fixed seed) in batches of -b; tgN decodes N tokens one at a time.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "bench/bench.h"
#include "model/model.h"

cria_bench_params cria_bench_default_params(void)
{
    cria_bench_params p;
    memset(&p, 0, sizeof p);
    p.n_prompt = (cria_bench_list){.n = 1, .v = {512}};
    p.n_gen = (cria_bench_list){.n = 1, .v = {128}};
    p.n_batch = (cria_bench_list){.n = 1, .v = {2048}};
    p.n_threads = (cria_bench_list){.n = 1, .v = {0}};
    p.poll = (cria_bench_list){.n = 1, .v = {50}};
    p.cpu_strict = (cria_bench_list){.n = 1, .v = {0}};
    p.n_ctx = (cria_bench_list){.n = 1, .v = {0}};
    p.n_cpu_mask = 1;
    p.cpu_mask[0] = NULL;
    p.reps = 5;
    return p;
}

int32_t cria_bench_expand(const cria_bench_params *p, cria_bench_test *tests, int32_t cap)
{
    int32_t n = 0;
    for (int32_t m = 0; m < p->n_models; m++)
        for (int32_t b = 0; b < p->n_batch.n; b++)
            for (int32_t t = 0; t < (p->cfg_seq.n > 0 ? p->cfg_seq.n : p->n_threads.n); t++)
                for (int32_t po = 0; po < p->poll.n; po++)
                    for (int32_t s = 0; s < p->cpu_strict.n; s++)
                        for (int32_t c = 0; c < p->n_cpu_mask * p->n_ctx.n; c++) {
                            const cria_bench_test base = {.model = m,
                                                          .n_batch = p->n_batch.v[b],
                                                          .n_threads = p->cfg_seq.n > 0 ? p->cfg_threads.v[t]
                                                                                        : p->n_threads.v[t],
                                                          .n_seq = p->cfg_seq.n > 0 ? p->cfg_seq.v[t] : 1,
                                                          .poll = p->poll.v[po],
                                                          .cpu_strict = p->cpu_strict.v[s],
                                                          .cpu_mask = p->cpu_mask[c / p->n_ctx.n],
                                                          .n_ctx = p->n_ctx.v[c % p->n_ctx.n]};
                            const int32_t n_kinds = p->n_prompt.n + p->n_gen.n + p->pg_prompt.n;
                            for (int32_t k = 0; k < n_kinds; k++) {
                                cria_bench_test x = base;
                                if (k < p->n_prompt.n) {
                                    x.n_prompt = p->n_prompt.v[k];
                                } else if (k < p->n_prompt.n + p->n_gen.n) {
                                    x.n_gen = p->n_gen.v[k - p->n_prompt.n];
                                } else {
                                    x.n_prompt = p->pg_prompt.v[k - p->n_prompt.n - p->n_gen.n];
                                    x.n_gen = p->pg_gen.v[k - p->n_prompt.n - p->n_gen.n];
                                }
                                if (x.n_prompt == 0 && x.n_gen == 0)
                                    continue; /* -p 0 / -n 0: no such test */
                                if (n < cap)
                                    tests[n] = x;
                                n++;
                            }
                        }
    return n;
}

void cria_bench_test_name(const cria_bench_test *t, char *buf, size_t cap)
{
    if (t->n_prompt > 0 && t->n_gen > 0)
        snprintf(buf, cap, "pp%d+tg%d", t->n_prompt, t->n_gen);
    else if (t->n_prompt > 0)
        snprintf(buf, cap, "pp%d", t->n_prompt);
    else
        snprintf(buf, cap, "tg%d", t->n_gen);
}

void cria_bench_result_free(cria_bench_result *r)
{
    free(r->samples_ns);
    free(r->samples_ts);
    r->samples_ns = NULL;
    r->samples_ts = NULL;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* splitmix64: the fixed-seed source of the random prompt and generated ids. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Everything one test's runs share. */
typedef struct bench_run {
    cria_context *ctx;
    cria_batch batch;
    int32_t n_batch, n_vocab;
    cria_token bos;
    uint64_t rng;
    bool profile;                       /* --profile: sum the timed runs' op times */
    cria_profile prof_prompt, prof_gen;
} bench_run;

/* Decodes n_prompt random ids (BOS first) from position 0, n_batch at a time, asking for the last logits. */
static cria_status run_prompt(bench_run *b, int32_t n_prompt, cria_error *err)
{
    for (int32_t done = 0; done < n_prompt;) {
        const int32_t n = n_prompt - done < b->n_batch ? n_prompt - done : b->n_batch;
        for (int32_t i = 0; i < n; i++) {
            const int32_t pos = done + i;
            b->batch.token[i] = pos == 0 ? b->bos : (cria_token)(next_rand(&b->rng) % (uint64_t)b->n_vocab);
            b->batch.pos[i] = pos;
            b->batch.seq_id[i] = 0;
            b->batch.logits[i] = done + i == n_prompt - 1;
        }
        b->batch.n_tokens = n;
        cria_status st = cria_decode(b->ctx, &b->batch, err);
        if (st != CRIA_OK)
            return st;
        done += n;
    }
    return CRIA_OK;
}

/* Decodes n_gen single tokens after pos0 (BOS when the cache is empty, random ids after). */
static cria_status run_gen(bench_run *b, int32_t pos0, int32_t n_gen, cria_error *err)
{
    cria_token tok = pos0 == 0 ? b->bos : (cria_token)(next_rand(&b->rng) % (uint64_t)b->n_vocab);
    for (int32_t i = 0; i < n_gen; i++) {
        b->batch.token[0] = tok;
        b->batch.pos[0] = pos0 + i;
        b->batch.seq_id[0] = 0;
        b->batch.logits[0] = 1;
        b->batch.n_tokens = 1;
        cria_status st = cria_decode(b->ctx, &b->batch, err);
        if (st != CRIA_OK)
            return st;
        tok = (cria_token)(next_rand(&b->rng) % (uint64_t)b->n_vocab);
    }
    return CRIA_OK;
}

static cria_status run_once(bench_run *b, const cria_bench_test *t, bool warmup, cria_error *err)
{
    cria_status st = CRIA_OK;
    const bool prof = b->profile && !warmup;
    cria_profile p0, p1, p2;
    if (prof)
        p0 = cria_context_profile(b->ctx);
    if (t->n_prompt > 0)
        st = run_prompt(b, t->n_prompt, err);
    if (prof)
        p1 = cria_context_profile(b->ctx);
    if (st == CRIA_OK && t->n_gen > 0)
        st = run_gen(b, t->n_prompt, warmup ? 1 : t->n_gen, err);
    if (prof) {
        p2 = cria_context_profile(b->ctx);
        const cria_profile dp = cria_profile_diff(&p1, &p0), dg = cria_profile_diff(&p2, &p1);
        cria_profile_add(&b->prof_prompt, &dp);
        cria_profile_add(&b->prof_gen, &dg);
    }
    return st;
}

static void describe_model(const cria_model *model, const char *path, cria_bench_model *out)
{
    cria_model_info mi;
    cria_model_get_info(model, &mi);
    out->filename = path;
    out->size = mi.weight_bytes;
    out->n_params = mi.n_params;
    const uint64_t embd = (uint64_t)model->tok_embd.rows * model->tok_embd.row_bytes;
    out->bytes_per_token = mi.weight_bytes;
    if (!model->tied_output && embd < mi.weight_bytes)
        out->bytes_per_token = mi.weight_bytes - embd + model->tok_embd.row_bytes;
    const double np = (double)mi.n_params;
    char size[32];
    if (np >= 1e9)
        snprintf(size, sizeof size, "%.1fB", np / 1e9);
    else if (np >= 1e6)
        snprintf(size, sizeof size, "%.0fM", np / 1e6);
    else
        snprintf(size, sizeof size, "%.0fK", np / 1e3);
    const char *type = model->hp.n_layer > 0 ? cria_dtype_name(model->layers[0].wq.type) : "?";
    snprintf(out->type, sizeof out->type, "%s %s %s", mi.arch, size, type);
}

/* Mean, stddev, achieved throughput and its share of the machine's limit. */
static void summarise(cria_bench_result *r, const cria_bench_system *sys)
{
    const int32_t n = r->n_samples;
    const double tokens = ((double)r->test.n_prompt + r->test.n_gen) * (r->test.n_seq > 1 ? r->test.n_seq : 1);
    double *ns = malloc((size_t)n * sizeof *ns);
    for (int32_t i = 0; i < n; i++) {
        r->samples_ts[i] = tokens * 1e9 / (double)r->samples_ns[i];
        if (ns)
            ns[i] = (double)r->samples_ns[i];
    }
    if (ns) {
        r->avg_ns = cria_bench_mean(ns, n);
        r->stddev_ns = cria_bench_stddev(ns, n);
    }
    free(ns);
    r->avg_ts = cria_bench_mean(r->samples_ts, n);
    r->stddev_ts = cria_bench_stddev(r->samples_ts, n);
    if (r->test.n_prompt == 0)
        r->achieved = (double)r->model.bytes_per_token * r->avg_ts / 1e9;
    else
        r->achieved = 2.0 * (double)r->model.n_params * r->avg_ts / 1e9;
    r->limit = cria_bench_limit(sys, &r->test);
    r->pct_limit = r->limit > 0.0 ? 100.0 * r->achieved / r->limit : 0.0;
}

static void sleep_s(double s)
{
    if (s <= 0.0)
        return;
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

static void utc_now(char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * Resets the kernel's peak-RSS mark (VmHWM) to the current RSS, so that the
 * next peak_rss() is this test's; false where the kernel refuses.
 */
static bool reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return false;
    bool ok = fputs("5", f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok;
}

/* The peak resident set in bytes (VmHWM of /proc/self/status); 0 when unreadable. */
static uint64_t peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %llu kB", &kib) == 1)
            break;
    fclose(f);
    return (uint64_t)kib * 1024u;
}

/*
 * One sequence of a test: its own context and batch. With --configs NxT,
 * N of them run at once, each from its own OS thread (worker 0 of its
 * context's pool of T threads); the calling thread releases each
 * repetition to all of them and waits for all, so the wall time covers
 * every sequence.
 */
typedef struct seq_sync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int32_t released; /* repetitions released so far (the warm-up counts) */
    int32_t finished; /* sequence-repetitions finished */
    bool quit;
} seq_sync;

typedef struct seq_worker {
    bench_run b;
    const cria_bench_test *t;
    int32_t reps;
    seq_sync *sync;
    int64_t *ns;       /* [reps] this sequence's own time per repetition */
    cria_status st;
    cria_error err;
} seq_worker;

/* The warm-up (rep -1) or one repetition of one sequence; a failed sequence does nothing more. */
static void seq_rep(seq_worker *w, int32_t rep)
{
    if (w->st != CRIA_OK)
        return;
    cria_kv_seq_rm(w->b.ctx, -1, 0, -1);
    const int64_t t0 = now_ns();
    w->st = run_once(&w->b, w->t, rep < 0, &w->err);
    if (rep >= 0)
        w->ns[rep] = now_ns() - t0;
}

static void *seq_main(void *arg)
{
    seq_worker *w = arg;
    seq_sync *s = w->sync;
    for (int32_t rep = -1; rep < w->reps; rep++) {
        pthread_mutex_lock(&s->mu);
        while (!s->quit && s->released < rep + 2)
            pthread_cond_wait(&s->cv, &s->mu);
        const bool quit = s->quit;
        pthread_mutex_unlock(&s->mu);
        if (quit)
            break;
        seq_rep(w, rep);
        pthread_mutex_lock(&s->mu);
        s->finished++;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static void progress(const cria_bench_params *p, const cria_bench_test *t, int32_t index, int32_t n_tests, int32_t rep)
{
    if (!p->progress)
        return;
    char name[48];
    cria_bench_test_name(t, name, sizeof name);
    if (rep < 0)
        fprintf(stderr, "cria bench: test %d/%d: %s, %dx%d threads: warm-up\n", index + 1, n_tests, name, t->n_seq,
                t->n_threads);
    else
        fprintf(stderr, "cria bench: test %d/%d: %s, %dx%d threads: repetition %d/%d\n", index + 1, n_tests, name,
                t->n_seq, t->n_threads, rep + 1, p->reps);
}

/*
 * Runs the repetitions: one sequence on the calling thread (which the
 * placement may have pinned), several from their own threads. Fills
 * r->samples_ns with the wall time of each repetition and r->avg_ts_seq.
 */
static cria_status run_reps(seq_worker *w, int32_t n_seq, const cria_bench_params *p, int32_t index, int32_t n_tests,
                            cria_bench_result *r, cria_error *err)
{
    const cria_bench_test *t = w[0].t;
    cria_status st = CRIA_OK;
    if (n_seq == 1) {
        for (int32_t rep = -1; rep < p->reps && w[0].st == CRIA_OK; rep++) {
            progress(p, t, index, n_tests, rep);
            seq_rep(&w[0], rep);
            if (rep >= 0)
                r->samples_ns[rep] = w[0].ns[rep];
        }
    } else {
        seq_sync sync = {.released = 0};
        pthread_t *th = calloc((size_t)n_seq, sizeof *th);
        if (!th)
            return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for %d sequences", n_seq);
        pthread_mutex_init(&sync.mu, NULL);
        pthread_cond_init(&sync.cv, NULL);
        int32_t started = 0;
        for (; started < n_seq; started++) {
            w[started].sync = &sync;
            if (pthread_create(&th[started], NULL, seq_main, &w[started]) != 0)
                break;
        }
        if (started < n_seq)
            st = cria_err_set(err, CRIA_ERR_NOMEM, "cannot start %d threads for the sequences", n_seq);
        for (int32_t rep = -1; rep < p->reps && st == CRIA_OK; rep++) {
            progress(p, t, index, n_tests, rep);
            pthread_mutex_lock(&sync.mu);
            const int64_t t0 = now_ns();
            sync.released = rep + 2;
            pthread_cond_broadcast(&sync.cv);
            while (sync.finished < n_seq * (rep + 2))
                pthread_cond_wait(&sync.cv, &sync.mu);
            pthread_mutex_unlock(&sync.mu);
            if (rep >= 0)
                r->samples_ns[rep] = now_ns() - t0;
        }
        pthread_mutex_lock(&sync.mu);
        sync.quit = true;
        pthread_cond_broadcast(&sync.cv);
        pthread_mutex_unlock(&sync.mu);
        for (int32_t i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        pthread_cond_destroy(&sync.cv);
        pthread_mutex_destroy(&sync.mu);
        free(th);
    }
    for (int32_t i = 0; i < n_seq && st == CRIA_OK; i++)
        if (w[i].st != CRIA_OK) {
            *err = w[i].err;
            st = w[i].st;
        }
    if (st != CRIA_OK)
        return st;
    r->n_samples = p->reps;
    const double tokens = (double)t->n_prompt + t->n_gen;
    double sum = 0.0;
    for (int32_t i = 0; i < n_seq; i++)
        for (int32_t rep = 0; rep < p->reps; rep++)
            sum += tokens * 1e9 / (double)w[i].ns[rep];
    r->avg_ts_seq = sum / ((double)n_seq * p->reps);
    return CRIA_OK;
}

/*
 * Runs one test on a loaded model: n_seq contexts (one unless --configs),
 * a warm-up, then the timed repetitions into r.
 */
static cria_status measure(cria_model *model, const cria_bench_params *p, const cria_bench_test *t,
                           const cria_placement *pl, cria_bench_result *r, int32_t index, int32_t n_tests,
                           cria_error *err)
{
    const int32_t n_seq = t->n_seq > 1 ? t->n_seq : 1;
    cria_context_params cp = cria_context_default_params();
    cp.n_ctx = t->n_prompt + t->n_gen > t->n_ctx ? t->n_prompt + t->n_gen : t->n_ctx;
    cp.n_batch = t->n_prompt > 0 ? (t->n_batch < t->n_prompt ? t->n_batch : t->n_prompt) : 1;
    cp.n_threads = cp.n_threads_batch = t->n_threads;
    cp.placement = n_seq == 1 ? pl : NULL; /* N pools pinned by one plan would share CPUs */
    cp.poll = t->poll;
    cp.thresholds = p->tuned[t->model].loaded ? p->tuned[t->model].thresholds : NULL;
    cria_token bos = cria_token_bos(model);
    if (bos < 0 || bos >= model->hp.n_vocab)
        bos = 0;
    r->n_ctx = cp.n_ctx;
    r->kv_bytes = (uint64_t)n_seq * (uint64_t)cp.n_ctx * (uint64_t)model->hp.n_layer * (uint64_t)model->hp.n_head_kv *
                  (uint64_t)model->hp.head_dim * 2u * sizeof(uint16_t);
    reset_peak_rss(); /* where refused, peak_rss() is the process's peak so far */
    seq_worker *w = calloc((size_t)n_seq, sizeof *w);
    r->samples_ns = calloc((size_t)p->reps, sizeof *r->samples_ns);
    r->samples_ts = calloc((size_t)p->reps, sizeof *r->samples_ts);
    cria_status st = CRIA_OK;
    if (!w || !r->samples_ns || !r->samples_ts) {
        st = cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for a test of %d sequences", n_seq);
        goto done;
    }
    for (int32_t i = 0; i < n_seq && st == CRIA_OK; i++) {
        w[i] = (seq_worker){.t = t, .reps = p->reps, .st = CRIA_OK};
        w[i].b = (bench_run){.n_batch = cp.n_batch, .n_vocab = model->hp.n_vocab, .bos = bos,
                             .rng = 1234 + (uint64_t)i};
        w[i].ns = calloc((size_t)p->reps, sizeof *w[i].ns);
        w[i].b.batch = cria_batch_init(cp.n_batch);
        if (!w[i].ns || !w[i].b.batch.token)
            st = cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for a test of %d sequences", n_seq);
        else
            st = cria_context_init(model, &cp, &w[i].b.ctx, err);
        if (st == CRIA_OK && p->profile) {
            w[i].b.profile = true;
            cria_context_set_profile(w[i].b.ctx, true);
        }
    }
    if (st != CRIA_OK)
        goto done;
    utc_now(r->time, sizeof r->time);
    if ((st = run_reps(w, n_seq, p, index, n_tests, r, err)) != CRIA_OK)
        goto done;
    r->peak_rss = peak_rss();
    for (int32_t i = 0; i < n_seq && p->profile; i++) {
        cria_profile_add(&r->prof_prompt, &w[i].b.prof_prompt);
        cria_profile_add(&r->prof_gen, &w[i].b.prof_gen);
    }
done:
    for (int32_t i = 0; w && i < n_seq; i++) {
        cria_batch_free(&w[i].b.batch);
        cria_context_free(w[i].b.ctx);
        free(w[i].ns);
    }
    free(w);
    return st;
}

/* Index of the finished row the --sweep-threads speedup of row i is measured against; -1: none. */
static int32_t sweep_base(const cria_bench_result *rows, int32_t i)
{
    const cria_bench_test *t = &rows[i].test;
    for (int32_t j = 0; j < i; j++) {
        const cria_bench_test *u = &rows[j].test;
        if (u->n_threads == 1 && u->model == t->model && u->n_prompt == t->n_prompt && u->n_gen == t->n_gen &&
            u->n_batch == t->n_batch && u->poll == t->poll && u->cpu_strict == t->cpu_strict &&
            u->cpu_mask == t->cpu_mask && u->n_ctx == t->n_ctx && u->n_seq == t->n_seq)
            return j;
    }
    return -1;
}

/*
 * Plans where a test's threads run. Every plan is made before the first
 * context pins anything (a pinned caller narrows the CPUs later plans see),
 * so the plans for all tests are made up front, one per test.
 */
static cria_status plan_all(const cria_bench_params *p, cria_bench_test *tests, int32_t n, cria_placement **pl,
                            cria_error *err)
{
    for (int32_t i = 0; i < n; i++) {
        const cria_bench_tuned *tuned = &p->tuned[tests[i].model];
        if (tuned->loaded && tests[i].n_threads == 0)
            tests[i].n_threads = tests[i].n_prompt > 0 ? tuned->n_threads_batch : tuned->n_threads;
        if (tuned->loaded && !p->poll_given)
            tests[i].poll = tuned->poll;
        cria_cpu_params cpu = cria_cpu_default_params();
        cpu.n_threads = tests[i].n_threads;
        cpu.cpu_mask = tests[i].cpu_mask;
        cpu.strict = tests[i].cpu_strict;
        cpu.numa = p->numa;
        cpu.prio = p->prio;
        cria_status st = cria_placement_init(&cpu, &pl[i], err);
        if (st != CRIA_OK)
            return st;
        if (tests[i].n_threads == 0) /* -t 0: the plan's default (physical cores under the mask) */
            tests[i].n_threads = cria_placement_n_threads(pl[i]);
    }
    return CRIA_OK;
}

cria_status cria_bench_validate(const cria_bench_params *p, cria_error *err)
{
    const int32_t n = cria_bench_expand(p, NULL, 0);
    cria_bench_test *tests = calloc((size_t)n + 1, sizeof *tests);
    cria_placement **pl = calloc((size_t)n + 1, sizeof *pl);
    cria_status st = CRIA_OK;
    if (!tests || !pl)
        st = cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for %d tests", n);
    if (st == CRIA_OK) {
        cria_bench_expand(p, tests, n);
        st = plan_all(p, tests, n, pl, err);
    }
    for (int32_t i = 0; pl && i < n; i++)
        cria_placement_free(pl[i]);
    free(pl);
    free(tests);
    return st;
}

cria_status cria_bench_run(const cria_bench_params *p, const cria_bench_system *sys, cria_bench_on_result on_result,
                           void *user, cria_error *err)
{
    const int32_t n = cria_bench_expand(p, NULL, 0);
    if (n == 0)
        return cria_err_set(err, CRIA_ERR_ARG, "no tests to run (every -p, -n and -pg is 0)");
    if (p->reps < 1)
        return cria_err_set(err, CRIA_ERR_ARG, "repetitions must be at least 1");
    cria_bench_test *tests = calloc((size_t)n, sizeof *tests);
    cria_bench_result *rows = calloc((size_t)n, sizeof *rows);
    cria_placement **pl = calloc((size_t)n, sizeof *pl);
    cria_model *model = NULL;
    int32_t loaded = -1;
    cria_status st = CRIA_OK;
    if (!tests || !rows || !pl) {
        st = cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for %d tests", n);
        goto done;
    }
    cria_bench_expand(p, tests, n);
    if ((st = plan_all(p, tests, n, pl, err)) != CRIA_OK)
        goto done;
    if (p->prio != 0 && cria_thread_set_priority(p->prio, err) != CRIA_OK)
        fprintf(stderr, "warning: %s\n", err->msg);
    for (int32_t i = 0; i < n; i++) {
        const cria_bench_test *t = &tests[i];
        if (t->model != loaded) { /* tests of one model are adjacent: load each once */
            cria_model_free(model);
            model = NULL;
            cria_model_params mp = cria_model_default_params();
            mp.vocab_path = p->vocab;
            mp.no_repack = p->no_repack;
            if ((st = cria_model_load(p->models[t->model], &mp, &model, err)) != CRIA_OK)
                goto done;
            loaded = t->model;
        }
        sleep_s(p->delay_s);
        cria_bench_result *r = &rows[i];
        r->test = *t;
        describe_model(model, p->models[t->model], &r->model);
        if ((st = measure(model, p, t, pl[i], r, i, n, err)) != CRIA_OK)
            goto done;
        summarise(r, sys);
        const int32_t base = p->sweep_threads ? sweep_base(rows, i) : -1;
        if (base >= 0 && rows[base].avg_ts > 0.0) {
            r->speedup = r->avg_ts / rows[base].avg_ts;
            r->efficiency = 100.0 * r->speedup / t->n_threads;
        } else if (p->sweep_threads && t->n_threads == 1) {
            r->speedup = 1.0;
            r->efficiency = 100.0;
        }
        if (on_result && !on_result(r, user))
            break;
    }
done:
    cria_model_free(model);
    for (int32_t i = 0; pl && i < n; i++)
        cria_placement_free(pl[i]);
    for (int32_t i = 0; rows && i < n; i++)
        cria_bench_result_free(&rows[i]);
    free(pl);
    free(rows);
    free(tests);
    return st;
}
