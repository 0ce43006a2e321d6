/*
 * cria batch: a file of prompts through the request scheduler (continuous
 * batching, src/server/sched.h). stdout (or -o) gets one JSON object per
 * prompt, in input order, as soon as it and every prompt before it are done;
 * stderr gets a progress line and a summary: aggregate tokens/s, latency
 * p50/p95 and, with --compare, the speedup over the same prompts one by one
 * (-np 1, the same code and per-slot context, so greedy or seeded outputs
 * must match, and the summary says whether they do).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "args.h"
#include "engine.h"
#include "sampling_args.h"
#include "commands.h"
#include "cria.h"
#include "server/sched.h"
#include "model/profile.h"

typedef struct batch_opts {
    cria_engine_opts eng; /* -m, --vocab, -t, -tb, --poll, --no-tune, --no-repack, placement */
    const char *file, *out;
    int32_t n_slots, n_predict, n_ctx, n_batch;
    const char *stop[CRIA_SCHED_MAX_STOP]; /* --stop, for prompts without their own */
    int32_t n_stop;
    cria_sampling_opts smp; /* -s and llama-cli's sampling options, shared with cria run */
    bool compare, quiet, profile;
} batch_opts;

/* One prompt: its text (from the file) and tokens. */
typedef struct batch_item {
    char *prompt;
    size_t prompt_len;
    int32_t line;           /* in the input file, for messages */
    int32_t n_predict;      /* -n, or the line's "max_tokens" */
    char *stop[CRIA_SCHED_MAX_STOP]; /* the line's "stop" (a string or an array of them) */
    int32_t n_stop;
    bool has_stop;
    cria_token *toks;
    int32_t n_toks;
} batch_item;

struct batch_run;

/* What the scheduler returned for one prompt. */
typedef struct batch_result {
    struct batch_run *run;
    bool done;
    char *text;             /* generated text (malloc'd) */
    cria_token *gen;        /* generated ids (malloc'd), for --compare */
    int32_t n_gen;
    cria_finish_reason finish;
    double ms, queue_ms, prompt_ms, gen_ms;
    char error[512];
} batch_result;

/* One pass over every prompt. */
typedef struct batch_run {
    const batch_item *items;
    batch_result *res;
    int32_t n, n_done, next_out;
    FILE *out;              /* NULL: no JSONL and no progress (the --compare pass) */
    const batch_opts *o;
    int64_t t0;
    int64_t n_gen;
    double wall_ms;
    cria_sched_stats stats; /* at the end of the pass */
    bool tty, oom;
} batch_run;

static void batch_usage(FILE *f)
{
    fprintf(f,
            "usage: cria batch -m MODEL -f PROMPTS [options]\n"
            "\n"
            "Runs every prompt through one context with continuous batching: up to -np\n"
            "sequences share each forward pass. Results go out as JSONL in input order.\n"
            "\n");
    cria_engine_model_usage(f);
    fprintf(f,
            "  -f, --file FILE        prompts: one per line (empty lines skipped, text taken literally),\n"
            "                         or JSONL (name ending in .jsonl, or first line starting with '{'):\n"
            "                         one {\"prompt\": \"...\"} per line, optional \"max_tokens\": N\n"
            "  -o, --output FILE      write the JSONL results to FILE (default: stdout)\n"
            "  -np, --parallel N      sequences decoded at once (default 4)\n"
            "  -n, --n-predict N      most tokens generated per prompt (default 128; -1: until end of text\n"
            "                         or a full slot)\n"
            "  -c, --ctx-size N       total context, split evenly among the -np slots (default: the model's\n"
            "                         training context per slot)\n"
            "  -b, --batch-size N     most tokens per forward pass: one per generating sequence plus\n"
            "                         prompt chunks (default 512; at least -np)\n"
            "      --compare          also run the prompts one by one (-np 1) and print the speedup\n"
            "      --profile          before the summary, time per op kind in the batched run's forward\n"
            "                         passes (matmuls by weight, attention, norms, ..., sync wait), as in\n"
            "                         cria run --profile (sampling happens outside them)\n");
    cria_engine_thread_usage(f);
    fprintf(f,
            "      --stop S           end a prompt's text where S appears (cut before it); repeatable,\n"
            "                         for prompts without their own JSONL \"stop\" (a string or an array)\n"
            "      --log-disable      no progress line or summary\n"
            "  -h, --help             this help\n"
            "\n"
            "Each JSONL line: index, prompt, text, n_prompt, n_gen, finish (length|eos|...),\n"
            "ms (submit to done), queue_ms, prompt_ms, gen_ms. Every prompt gets the same seed.\n"
            "\n");
    cria_sampling_usage(f);
}

/* Parses argv into o; returns 0 to go on, 1 on an error, -1 when help was printed. */
static int parse_batch_args(int argc, char **argv, batch_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_slots = 4;
    o->n_predict = 128;
    cria_sampling_opts_init(&o->smp);
    cria_engine_opts_init(&o->eng);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            batch_usage(stdout);
            return -1;
        } else if (cria_engine_arg(argc, argv, &i, &o->eng, &ok)) {
            /* -m, --vocab, -t, -tb, --poll, --no-tune, --no-repack, -C, -Cr, --cpu-strict, --prio, --numa */
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            ok = cria_arg_str(argc, argv, &i, &o->file);
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            ok = cria_arg_str(argc, argv, &i, &o->out);
        } else if (!strcmp(a, "-np") || !strcmp(a, "--parallel")) {
            ok = cria_arg_i32(argc, argv, &i, 1, 1024, &o->n_slots);
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
            ok = cria_arg_i32(argc, argv, &i, -1, INT32_MAX, &o->n_predict);
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            ok = cria_arg_i32(argc, argv, &i, 0, 1 << 24, &o->n_ctx);
        } else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) {
            ok = cria_arg_i32(argc, argv, &i, 1, 1 << 24, &o->n_batch);
        } else if (!strcmp(a, "--compare")) {
            o->compare = true;
        } else if (!strcmp(a, "--profile")) {
            o->profile = true;
        } else if (cria_sampling_arg(argc, argv, &i, &o->smp, &ok)) {
            /* -s, --temp, --top-k, ... as cria run takes them */
        } else if (!strcmp(a, "--stop")) {
            if (o->n_stop == CRIA_SCHED_MAX_STOP) {
                cria_app_error("option --stop: at most %d stop strings", CRIA_SCHED_MAX_STOP);
                return 1;
            }
            ok = cria_arg_str(argc, argv, &i, &o->stop[o->n_stop++]);
        } else if (!strcmp(a, "--log-disable")) {
            o->quiet = true;
        } else {
            cria_app_error("unknown option '%s' (see cria batch -h)", a);
            ok = false;
        }
        if (!ok)
            return 1;
    }
    if (!o->eng.model) {
        cria_app_error("no model given: use -m FILE (see cria batch -h)");
        return 1;
    }
    if (!o->file) {
        cria_app_error("no prompts given: use -f FILE (see cria batch -h)");
        return 1;
    }
    return 0;
}

/* ---- input ------------------------------------------------------------------------------ */

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cria_app_error("cannot open prompts file %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *grown = realloc(buf, cap * 2 + 1);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    const bool failed = ferror(f);
    fclose(f);
    if (!buf || failed) {
        free(buf);
        cria_app_error("cannot read prompts file %s", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Fills item from one JSONL line; false after printing why. */
static bool parse_jsonl_line(const char *path, int32_t line, const char *s, size_t n, batch_item *it)
{
    cJSON *j = cJSON_ParseWithLength(s, n);
    if (!j) {
        cria_app_error("%s:%d: malformed JSON (expected {\"prompt\": \"...\"})", path, line);
        return false;
    }
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "prompt");
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "max_tokens");
    bool ok = cJSON_IsObject(j) && cJSON_IsString(p);
    if (!ok)
        cria_app_error("%s:%d: expected an object with a \"prompt\" string", path, line);
    if (ok && mt && (!cJSON_IsNumber(mt) || mt->valuedouble < -1 || mt->valuedouble > INT32_MAX ||
                     mt->valuedouble != floor(mt->valuedouble))) {
        cria_app_error("%s:%d: \"max_tokens\" must be an integer >= -1", path, line);
        ok = false;
    }
    const cJSON *st = ok ? cJSON_GetObjectItemCaseSensitive(j, "stop") : NULL;
    if (st) {
        const int n_st = cJSON_IsString(st) ? 1 : cJSON_IsArray(st) ? cJSON_GetArraySize(st) : -1;
        ok = n_st >= 0 && n_st <= CRIA_SCHED_MAX_STOP;
        for (int k = 0; ok && k < n_st; k++) {
            const cJSON *e = cJSON_IsString(st) ? st : cJSON_GetArrayItem(st, k);
            ok = cJSON_IsString(e);
            it->stop[k] = ok ? strdup(e->valuestring) : NULL;
            it->n_stop = k + 1;
            if (ok && !it->stop[k]) {
                cria_app_error("out of memory for the prompts");
                cJSON_Delete(j);
                return false;
            }
        }
        if (!ok)
            cria_app_error("%s:%d: \"stop\" must be a string or an array of at most %d strings", path, line,
                           CRIA_SCHED_MAX_STOP);
        it->has_stop = true;
    }
    if (ok) {
        it->prompt_len = strlen(p->valuestring);
        it->prompt = dup_n(p->valuestring, it->prompt_len);
        if (mt)
            it->n_predict = (int32_t)mt->valuedouble;
        if (!it->prompt) {
            cria_app_error("out of memory for the prompts");
            ok = false;
        }
    }
    cJSON_Delete(j);
    return ok;
}

/*
 * Reads the prompts: one per non-empty line of text, or one JSON object per
 * non-empty line of JSONL. Returns the count (> 0), or -1 after printing why.
 */
static int32_t read_prompts(const char *path, int32_t n_predict, batch_item **out)
{
    size_t len;
    char *buf = read_all(path, &len);
    if (!buf)
        return -1;
    const char *first = buf + strspn(buf, " \t\r\n");
    const bool jsonl = ends_with(path, ".jsonl") || *first == '{';
    int32_t n = 0, cap = 0, line = 0;
    batch_item *items = NULL;
    bool ok = true;
    for (char *s = buf; ok && s < buf + len;) {
        char *nl = memchr(s, '\n', (size_t)(buf + len - s));
        size_t m = nl ? (size_t)(nl - s) : (size_t)(buf + len - s);
        char *next = s + m + 1;
        line++;
        if (m > 0 && s[m - 1] == '\r')
            m--;
        if (strspn(s, " \t") >= m) { /* blank line */
            s = next;
            continue;
        }
        if (n == cap) {
            const int32_t grown_cap = cap ? cap * 2 : 64;
            batch_item *grown = realloc(items, (size_t)grown_cap * sizeof *grown);
            if (!grown) {
                cria_app_error("out of memory for the prompts");
                ok = false;
                break;
            }
            memset(grown + cap, 0, (size_t)(grown_cap - cap) * sizeof *grown);
            items = grown;
            cap = grown_cap;
        }
        batch_item *it = &items[n];
        it->line = line;
        it->n_predict = n_predict;
        if (jsonl) {
            ok = parse_jsonl_line(path, line, s, m, it);
        } else {
            it->prompt_len = m;
            it->prompt = dup_n(s, m);
            if (!it->prompt) {
                cria_app_error("out of memory for the prompts");
                ok = false;
            }
        }
        n += ok;
        s = next;
    }
    free(buf);
    if (ok && n == 0) {
        cria_app_error("%s: no prompts (the file is empty or blank)", path);
        ok = false;
    }
    if (!ok) {
        for (int32_t i = 0; i <= n && i < cap; i++) { /* item n may hold part of a failed line (or zeros) */
            free(items[i].prompt);
            for (int32_t k = 0; k < items[i].n_stop; k++)
                free(items[i].stop[k]);
        }
        free(items);
        return -1;
    }
    *out = items;
    return n;
}

static void free_items(batch_item *items, int32_t n)
{
    for (int32_t i = 0; items && i < n; i++) {
        free(items[i].prompt);
        free(items[i].toks);
        for (int32_t k = 0; k < items[i].n_stop; k++)
            free(items[i].stop[k]);
    }
    free(items);
}

static void free_results(batch_result *res, int32_t n)
{
    for (int32_t i = 0; res && i < n; i++) {
        free(res[i].text);
        free(res[i].gen);
    }
    free(res);
}

/* ---- output ----------------------------------------------------------------------------- */

/* Copies s, replacing bytes that are not valid UTF-8 with U+FFFD, so every line is valid JSON text. */
static char *valid_utf8(const char *s, size_t n)
{
    char *d = malloc(3 * n + 1), *w = d;
    if (!d)
        return NULL;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        int len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        bool good = len > 0 && p + len <= end && !(len == 2 && *p < 0xC2) && !(len == 4 && *p > 0xF4);
        for (int k = 1; good && k < len; k++)
            good = (p[k] & 0xC0) == 0x80;
        if (good && len == 3)
            good = !(*p == 0xE0 && p[1] < 0xA0) && !(*p == 0xED && p[1] >= 0xA0);
        if (good && len == 4)
            good = !(*p == 0xF0 && p[1] < 0x90) && !(*p == 0xF4 && p[1] >= 0x90);
        if (good) {
            memcpy(w, p, (size_t)len);
            w += len;
            p += len;
        } else {
            memcpy(w, "\xEF\xBF\xBD", 3);
            w += 3;
            p++;
        }
    }
    *w = '\0';
    return d;
}

/* Writes item i as one JSON line; false on no memory or a write error. */
static bool write_item(FILE *f, int32_t i, const batch_item *in, const batch_result *it)
{
    char *prompt = valid_utf8(in->prompt, in->prompt_len);
    char *text = it->text ? valid_utf8(it->text, strlen(it->text)) : NULL;
    cJSON *j = cJSON_CreateObject();
    bool ok = prompt && (text || !it->text) && j;
    if (ok) {
        cJSON_AddNumberToObject(j, "index", i);
        cJSON_AddStringToObject(j, "prompt", prompt);
        cJSON_AddStringToObject(j, "text", text ? text : "");
        cJSON_AddNumberToObject(j, "n_prompt", in->n_toks);
        cJSON_AddNumberToObject(j, "n_gen", it->n_gen);
        cJSON_AddStringToObject(j, "finish", cria_finish_reason_str(it->finish));
        cJSON_AddNumberToObject(j, "ms", round(it->ms * 1e3) / 1e3);
        cJSON_AddNumberToObject(j, "queue_ms", round(it->queue_ms * 1e3) / 1e3);
        cJSON_AddNumberToObject(j, "prompt_ms", round(it->prompt_ms * 1e3) / 1e3);
        cJSON_AddNumberToObject(j, "gen_ms", round(it->gen_ms * 1e3) / 1e3);
        if (it->finish == CRIA_FINISH_ERROR)
            cJSON_AddStringToObject(j, "error", it->error);
    }
    char *line = ok ? cJSON_PrintUnformatted(j) : NULL;
    ok = line && fprintf(f, "%s\n", line) > 0;
    cJSON_free(line);
    cJSON_Delete(j);
    free(prompt);
    free(text);
    return ok;
}

static void progress(batch_run *r, bool last)
{
    if (r->o->quiet || !r->out)
        return;
    /* on a terminal one line redrawn per prompt; otherwise a line per tenth of the prompts */
    const int32_t tenth = r->n >= 10 ? r->n / 10 : 1;
    if (!r->tty && !last && r->n_done % tenth != 0)
        return;
    const double s = (double)(cria_time_us() - r->t0) / 1e6;
    fprintf(stderr, "%sbatch: %d/%d prompts done, %lld tokens generated, %.1f tokens/s%s", r->tty ? "\r" : "",
            r->n_done, r->n, (long long)r->n_gen, s > 0 ? (double)r->n_gen / s : 0.0,
            r->tty && !last ? "" : "\n");
}

static void on_done(void *user, const cria_sched_result *res)
{
    batch_result *it = user;
    batch_run *r = it->run;
    it->done = true;
    it->finish = res->finish;
    it->n_gen = res->n_gen;
    it->ms = res->total_ms;
    it->queue_ms = res->queue_ms;
    it->prompt_ms = res->prompt_ms;
    it->gen_ms = res->gen_ms;
    it->error[0] = '\0';
    if (res->finish == CRIA_FINISH_ERROR)
        snprintf(it->error, sizeof it->error, "%s", res->error.msg);
    it->text = dup_n(res->text, res->text_len);
    it->gen = malloc(((size_t)res->n_gen + 1) * sizeof *it->gen);
    if (!it->text || !it->gen)
        r->oom = true;
    else
        memcpy(it->gen, res->tokens, (size_t)res->n_gen * sizeof *it->gen);
    r->n_done++;
    r->n_gen += res->n_gen;
    while (r->out && r->next_out < r->n && r->res[r->next_out].done) {
        if (!write_item(r->out, r->next_out, &r->items[r->next_out], &r->res[r->next_out]))
            r->oom = true;
        r->next_out++;
    }
    if (r->out)
        fflush(r->out);
    progress(r, r->n_done == r->n);
}

/* ---- the runs ---------------------------------------------------------------------------- */

/*
 * Runs every prompt through a scheduler of n_slots slots of slot_ctx tokens
 * each over a fresh context, submitting as slots free up (the queue holds
 * 2 x n_slots). Fills r->res and r->wall_ms; false after printing why.
 */
/* profile: time the forward passes by op kind and print the table at the end (the batched pass). */
static bool run_all(const cria_engine *eng, const batch_opts *o, const cria_sampler_params *sp, int32_t n_slots,
                    int32_t slot_ctx, bool profile, batch_run *r)
{
    cria_model *model = eng->model;
    cria_context_params cp = cria_context_default_params();
    cria_engine_context_params(eng, &cp);
    cp.n_ctx = slot_ctx * n_slots;
    cp.n_seq_max = n_slots;
    cp.n_batch = o->n_batch > 0 ? o->n_batch : 512;
    if (cp.n_batch < n_slots)
        cp.n_batch = n_slots;
    if (cp.n_batch > cp.n_ctx)
        cp.n_batch = cp.n_ctx;
    cria_context *ctx = NULL;
    cria_sched *s = NULL;
    cria_error err;
    if (cria_context_init(model, &cp, &ctx, &err) != CRIA_OK) {
        cria_app_error("%s: %s", o->eng.model, err.msg);
        return false;
    }
    if (profile)
        cria_context_set_profile(ctx, true);
    cria_sched_params spar = {.n_slots = n_slots, .n_batch = 0, .max_queue = 2 * n_slots};
    if (cria_sched_init(model, ctx, &spar, &s, &err) != CRIA_OK) {
        cria_app_error("%s", err.msg);
        cria_context_free(ctx);
        return false;
    }
    bool ok = true;
    int32_t next = 0;
    r->t0 = cria_time_us();
    for (bool busy = true; ok && (busy || next < r->n);) {
        while (next < r->n) {
            const batch_item *it = &r->items[next];
            cria_sched_request rq = {
                .prompt = it->toks,
                .n_prompt = it->n_toks,
                .n_predict = it->n_predict,
                .stop = it->has_stop ? (const char *const *)it->stop : o->stop,
                .n_stop = it->has_stop ? it->n_stop : o->n_stop,
                .sampling = *sp,
                .on_done = on_done,
                .user = &r->res[next],
            };
            r->res[next].run = r;
            int64_t id;
            cria_status st = cria_sched_submit(s, &rq, &id, &err);
            if (st == CRIA_ERR_BUSY)
                break;
            if (st != CRIA_OK) {
                cria_app_error("%s:%d: %s", o->file, it->line, err.msg);
                ok = false;
                break;
            }
            next++;
        }
        if (ok)
            ok = cria_sched_step(s, &busy, &err) == CRIA_OK;
        if (r->oom) {
            cria_app_error("out of memory for the results");
            ok = false;
        }
    }
    r->wall_ms = (double)(cria_time_us() - r->t0) / 1e3;
    cria_sched_get_stats(s, &r->stats);
    cria_sched_free(s);
    if (profile) {
        const cria_profile prof = cria_context_profile(ctx);
        cria_profile_print(stderr, "batch: forward passes", &prof);
    }
    cria_context_free(ctx);
    return ok;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of n sorted values, nearest rank. */
static double quantile(const double *v, int32_t n, double q)
{
    int32_t k = (int32_t)ceil(q * n) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

static void summary(const batch_run *r, const batch_run *seq)
{
    int64_t n_prompt_toks = 0;
    int32_t n_err = 0;
    double *lat = malloc((size_t)r->n * sizeof *lat);
    for (int32_t i = 0; i < r->n; i++) {
        n_prompt_toks += r->items[i].n_toks;
        n_err += r->res[i].finish == CRIA_FINISH_ERROR;
        if (lat)
            lat[i] = r->res[i].ms;
    }
    const double s = r->wall_ms / 1e3;
    fprintf(stderr,
            "batch: %lld prompt + %lld generated tokens in %.1f ms: %.2f generated tokens/s (%.2f tokens/s "
            "with the prompts)\n",
            (long long)n_prompt_toks, (long long)r->n_gen, r->wall_ms, s > 0 ? (double)r->n_gen / s : 0.0,
            s > 0 ? (double)(r->n_gen + n_prompt_toks) / s : 0.0);
    if (lat) {
        qsort(lat, (size_t)r->n, sizeof *lat, cmp_double);
        fprintf(stderr, "batch: latency per prompt (submit to done): p50 %.1f ms, p95 %.1f ms, max %.1f ms\n",
                quantile(lat, r->n, 0.5), quantile(lat, r->n, 0.95), lat[r->n - 1]);
        free(lat);
    }
    if (r->stats.n_steps > 0)
        fprintf(stderr, "batch: %lld steps of %.1f tokens on average; forward passes %.1f%% of the time\n",
                (long long)r->stats.n_steps,
                (double)(r->stats.n_gen_tokens + n_prompt_toks) / (double)r->stats.n_steps,
                r->wall_ms > 0 ? 100.0 * (double)r->stats.t_decode_us / 1e3 / r->wall_ms : 0.0);
    if (n_err)
        fprintf(stderr, "batch: %d prompts failed (see their \"error\")\n", n_err);
    if (!seq) {
        fprintf(stderr, "batch: speedup over one by one: run with --compare\n");
        return;
    }
    bool same = true;
    for (int32_t i = 0; i < r->n && same; i++)
        same = r->res[i].n_gen == seq->res[i].n_gen &&
               !memcmp(r->res[i].gen, seq->res[i].gen, (size_t)r->res[i].n_gen * sizeof *r->res[i].gen);
    const double s1 = seq->wall_ms / 1e3;
    const double tps = s > 0 ? (double)r->n_gen / s : 0.0, tps1 = s1 > 0 ? (double)seq->n_gen / s1 : 0.0;
    fprintf(stderr,
            "batch: one by one (-np 1): %.1f ms, %.2f generated tokens/s; speedup %.2fx (wall %.2fx); outputs "
            "%s\n",
            seq->wall_ms, tps1, tps1 > 0 ? tps / tps1 : 0.0, r->wall_ms > 0 ? seq->wall_ms / r->wall_ms : 0.0,
            same ? "identical" : "differ (sampling is seeded per prompt: they should not)");
}

/* Tokenizes every prompt (with BOS) and checks it fits a slot; false after printing why. */
static bool tokenize_all(const cria_model *model, const batch_opts *o, batch_item *items, int32_t n,
                         int32_t slot_ctx)
{
    for (int32_t i = 0; i < n; i++) {
        batch_item *it = &items[i];
        if (it->prompt_len > (size_t)INT32_MAX - 2) {
            cria_app_error("%s:%d: prompt is too long", o->file, it->line);
            return false;
        }
        int32_t cap = (int32_t)it->prompt_len + 2;
        for (int k = 0; k < 2; k++) {
            free(it->toks);
            it->toks = malloc((size_t)cap * sizeof *it->toks);
            if (!it->toks) {
                cria_app_error("out of memory for the prompts");
                return false;
            }
            it->n_toks = cria_tokenize(model, it->prompt, it->prompt_len, it->toks, cap, 1);
            if (it->n_toks >= 0)
                break;
            cap = -it->n_toks;
        }
        if (it->n_toks <= 0) {
            cria_app_error("%s:%d: cannot tokenize the prompt", o->file, it->line);
            return false;
        }
        if (it->n_toks > slot_ctx) {
            cria_app_error("%s:%d: prompt is too long: %d tokens, a slot's context holds %d (raise -c or lower -np)",
                           o->file, it->line, it->n_toks, slot_ctx);
            return false;
        }
    }
    return true;
}

int cria_cmd_batch(int argc, char **argv)
{
    batch_opts o;
    int rc = parse_batch_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : 1;
    batch_item *items = NULL;
    const int32_t n = read_prompts(o.file, o.n_predict, &items);
    if (n < 0)
        return 1;

    rc = 1;
    cria_engine eng = {0};
    cria_logit_bias *bias = NULL;
    FILE *out = NULL;
    batch_run par = {0}, seq = {0};
    int32_t slot_ctx;
    o.eng.quiet = o.quiet;
    if (!cria_engine_open(&o.eng, &eng) || !cria_engine_slot_ctx(&eng, o.n_ctx, o.n_slots, &slot_ctx))
        goto done;
    cria_model *model = eng.model;
    cria_model_info mi;
    cria_model_get_info(model, &mi);
    if (!tokenize_all(model, &o, items, n, slot_ctx))
        goto done;
    cria_sampler_params sp;
    bias = cria_sampling_resolve(&o.smp, model, &sp);
    par = (batch_run){.items = items, .n = n, .o = &o, .tty = isatty(fileno(stderr)) != 0};
    par.res = calloc((size_t)n, sizeof *par.res);
    if (!bias || !par.res) {
        cria_app_error("out of memory");
        goto done;
    }
    out = o.out ? fopen(o.out, "w") : stdout;
    if (!out) {
        cria_app_error("cannot write %s: %s", o.out, strerror(errno));
        goto done;
    }
    par.out = out;
    if (!o.quiet)
        fprintf(stderr, "batch: %s, %d prompts, %d slots x %d tokens of context, %d threads\n", mi.name, n, o.n_slots,
                slot_ctx, eng.n_threads);
    if (!run_all(&eng, &o, &sp, o.n_slots, slot_ctx, o.profile, &par))
        goto done;
    if (fflush(out) != 0 || ferror(out)) {
        cria_app_error("cannot write %s", o.out ? o.out : "stdout");
        goto done;
    }
    if (o.compare) {
        seq = (batch_run){.items = items, .n = n, .o = &o};
        seq.res = calloc((size_t)n, sizeof *seq.res);
        if (!seq.res) {
            cria_app_error("out of memory");
            goto done;
        }
        if (!o.quiet)
            fprintf(stderr, "batch: --compare: the same prompts one by one (-np 1)\n");
        if (!run_all(&eng, &o, &sp, 1, slot_ctx, false, &seq))
            goto done;
    }
    if (!o.quiet)
        summary(&par, o.compare ? &seq : NULL);
    rc = 0;
    for (int32_t i = 0; i < n; i++)
        rc |= par.res[i].finish == CRIA_FINISH_ERROR;
done:
    if (out && out != stdout && fclose(out) != 0 && rc == 0) {
        cria_app_error("cannot write %s", o.out);
        rc = 1;
    }
    free_results(par.res, n);
    free_results(seq.res, n);
    free(bias);
    free_items(items, n);
    cria_engine_close(&eng);
    return rc;
}
