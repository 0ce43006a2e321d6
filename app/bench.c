/*
 * cria bench: llama-bench's options and output. Parses the option lists
 * into cria_bench_params, probes the machine, runs the cross product
 * (src/bench/measure.c) and writes each row as it finishes
 * (src/bench/output.c). md goes to stdout with the system summary on
 * stderr; csv, json and jsonl put everything on stdout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bench/bench.h"
#include "tune.h"
#include "commands.h"
#include "cria.h"

#ifndef CRIA_GIT_COMMIT
#define CRIA_GIT_COMMIT "unknown"
#endif

#define BENCH_MAX_THREADS 1024

static void bench_usage(FILE *f)
{
    fprintf(f,
            "usage: cria bench -m MODEL [options]   (llama-bench's options; every one takes a comma-separated\n"
            "                                        list or may be repeated, and the run is the cross product)\n"
            "\n"
            "  -m, --model FILE[,FILE]   GGUF models or llama2.c checkpoints\n"
            "      --vocab FILE          tokenizer.bin for llama2.c checkpoints\n"
            "  -p, --n-prompt N[,N]      prompt tests ppN: one prompt of N random tokens (default 512; 0: none)\n"
            "  -n, --n-gen N[,N]         generation tests tgN: N single-token decodes (default 128; 0: none)\n"
            "  -pg N,M                   a prompt of N tokens then M generated (test ppN+tgM); repeatable\n"
            "  -b, --batch-size N[,N]    most prompt tokens per decode (default 2048)\n"
            "  -c, --ctx-size N[,N]      context sizes (default: the test's tokens); adds n_ctx, KV cache and\n"
            "                            peak resident memory columns to md (csv and json always carry them)\n"
            "  -t, --threads N[,N]       threads (default: physical cores)\n"
            "      --configs NxT[,NxT]   outer x inner: N sequences generated at once, each on its own context\n"
            "                            with T threads (replaces -t; threads unpinned when N > 1); t/s is\n"
            "                            all sequences together, t/s/seq one sequence's\n"
            "  -r, --repetitions N       timed runs per test after one warm-up (default 5)\n"
            "      --delay SECONDS       sleep before each test (default 0)\n"
            "  -C, --cpu-mask HEX[,HEX]  CPUs the threads may use (bit i = CPU i)\n"
            "      --cpu-strict 0|1[,..] 1: thread i pinned to the i-th selected CPU (default 0)\n"
            "      --poll 0..100[,..]    how long idle threads poll before sleeping (default 50)\n"
            "      --numa MODE           distribute, isolate or none (default none)\n"
            "      --prio N              -1 low, 0 normal (default), 1 medium, 2 high, 3 realtime\n"
            "  -o, --output FORMAT       md (default), csv, json or jsonl\n"
            "      --plot FILE.svg|png   draw the results with gnuplot: the thread-scaling figure with\n"
            "                            --sweep-threads (speedup vs ideal, efficiency with a 50%% line),\n"
            "                            else tokens/s bars per test (configs as NxT)\n"
            "      --progress            a line per test and repetition on stderr\n"
            "      --sweep-threads       threads 1..N (N: the largest -t, or the physical cores): adds speedup\n"
            "                            and efficiency columns and where efficiency falls below 50%%\n"
            "      --profile             after the results, per test on stderr: time per op kind (matmuls by\n"
            "                            weight, attention, rope, norms, activation, waiting at joins) in\n"
            "                            ms/token and %%, and thread syncs per token, for prompt and generation\n"
            "      --no-tune             ignore tuning files of cria tune (by default a model's file, when it\n"
            "                            matches this CPU and the model's shape, sets -t (tg tests: its -t,\n"
            "                            pp tests: its -tb), --poll and the parallel thresholds unless given)\n"
            "      --no-repack           keep the weights in the file's layout (by default Q4_0 and Q8_0 are\n"
            "                            repacked at load for the AVX-512 VNNI kernels)\n"
            "  -h, --help                this help\n"
            "\n"
            "Every row gives tokens/s (mean and sample stddev over the repetitions), the achieved rate\n"
            "(tg: GB/s of weights read; pp: GFLOP/s at 2 x parameters per token) and its share of the\n"
            "machine's measured limit (memory read bandwidth; f32 FMA peak x threads).\n");
}

/* Appends the comma-separated integers of s, each in lo..hi, to l; one error line and false if one is bad. */
static bool parse_list(const char *opt, const char *s, int32_t lo, int32_t hi, cria_bench_list *l)
{
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || end == p || (*end && *end != ',')) {
            cria_app_error("option %s expects integers separated by commas, got '%s'", opt, s);
            return false;
        }
        if (v < lo || v > hi) {
            cria_app_error("option %s: %lld is out of range %d..%d", opt, v, lo, hi);
            return false;
        }
        if (l->n == CRIA_BENCH_MAX_LIST) {
            cria_app_error("option %s: at most %d values", opt, CRIA_BENCH_MAX_LIST);
            return false;
        }
        l->v[l->n++] = (int32_t)v;
        if (!*end)
            return true;
        p = end + 1;
    }
}

/* Splits s at commas into borrowed strings appended to out (s is modified); false when too many. */
static bool split_strings(const char *opt, char *s, const char **out, int32_t *n)
{
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == CRIA_BENCH_MAX_LIST) {
            cria_app_error("option %s: at most %d values", opt, CRIA_BENCH_MAX_LIST);
            return false;
        }
        out[(*n)++] = tok;
    }
    return true;
}

/* Appends --configs NxT[,NxT...] to p's config pairs (N, T in 1..1024); one error line and false if bad. */
static bool parse_configs(const char *s, cria_bench_params *p)
{
    for (const char *c = s;;) {
        char *end;
        errno = 0;
        long n = strtol(c, &end, 10), t = 0;
        bool ok = !errno && end != c && (*end == 'x' || *end == 'X');
        if (ok) {
            const char *ts = end + 1;
            t = strtol(ts, &end, 10);
            ok = !errno && end != ts && (*end == ',' || !*end);
        }
        if (!ok || n < 1 || n > BENCH_MAX_THREADS || t < 1 || t > BENCH_MAX_THREADS) {
            cria_app_error("option --configs expects NxT pairs separated by commas (N, T in 1..%d), got '%s'",
                           BENCH_MAX_THREADS, s);
            return false;
        }
        if (p->cfg_seq.n == CRIA_BENCH_MAX_LIST) {
            cria_app_error("option --configs: at most %d pairs", CRIA_BENCH_MAX_LIST);
            return false;
        }
        p->cfg_seq.v[p->cfg_seq.n++] = (int32_t)n;
        p->cfg_threads.v[p->cfg_threads.n++] = (int32_t)t;
        if (!*end)
            return true;
        c = end + 1;
    }
}

typedef struct bench_opts {
    cria_bench_params p;
    cria_bench_format format;
    const char *plot;
    bool given_p, given_n, given_b, given_t, given_poll, given_strict, given_mask, given_c;
    bool no_tune;
} bench_opts;

/* Reads the value of list option argv[*i] into l, replacing the default on the option's first use. */
static bool list_arg(int argc, char **argv, int *i, int32_t lo, int32_t hi, bool *given, cria_bench_list *l)
{
    const char *opt = argv[*i], *s;
    if (!cria_arg_str(argc, argv, i, &s))
        return false;
    if (!*given)
        l->n = 0;
    *given = true;
    return parse_list(opt, s, lo, hi, l);
}

/* Parses argv into o; prints one error line and returns false on a bad option. *help: -h was given. */
static bool parse_args(int argc, char **argv, bench_opts *o, bool *help)
{
    cria_bench_params *p = &o->p;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *s;
        bool ok = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            *help = true;
            return true;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            ok = cria_arg_str(argc, argv, &i, &s) && split_strings(a, argv[i], p->models, &p->n_models);
        } else if (!strcmp(a, "--vocab")) {
            ok = cria_arg_str(argc, argv, &i, &p->vocab);
        } else if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) {
            ok = list_arg(argc, argv, &i, 0, 1 << 20, &o->given_p, &p->n_prompt);
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) {
            ok = list_arg(argc, argv, &i, 0, 1 << 20, &o->given_n, &p->n_gen);
        } else if (!strcmp(a, "-pg")) {
            cria_bench_list pair = {0};
            ok = cria_arg_str(argc, argv, &i, &s) && parse_list(a, s, 0, 1 << 20, &pair);
            if (ok && pair.n != 2) {
                cria_app_error("option -pg expects two numbers N,M (prompt, generated), got '%s'", s);
                ok = false;
            } else if (ok && p->pg_prompt.n == CRIA_BENCH_MAX_LIST) {
                cria_app_error("option -pg: at most %d pairs", CRIA_BENCH_MAX_LIST);
                ok = false;
            } else if (ok) {
                p->pg_prompt.v[p->pg_prompt.n++] = pair.v[0];
                p->pg_gen.v[p->pg_gen.n++] = pair.v[1];
            }
        } else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) {
            ok = list_arg(argc, argv, &i, 1, 1 << 20, &o->given_b, &p->n_batch);
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            ok = list_arg(argc, argv, &i, 1, 1 << 24, &o->given_c, &p->n_ctx);
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            ok = list_arg(argc, argv, &i, 1, BENCH_MAX_THREADS, &o->given_t, &p->n_threads);
        } else if (!strcmp(a, "--configs")) {
            ok = cria_arg_str(argc, argv, &i, &s) && parse_configs(s, p);
        } else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) {
            ok = cria_arg_i32(argc, argv, &i, 1, 100000, &p->reps);
        } else if (!strcmp(a, "--delay")) {
            float d;
            ok = cria_arg_f32(argc, argv, &i, 0.0f, 3600.0f, &d);
            p->delay_s = d;
        } else if (!strcmp(a, "-C") || !strcmp(a, "--cpu-mask")) {
            if (!o->given_mask)
                p->n_cpu_mask = 0;
            o->given_mask = true;
            ok = cria_arg_str(argc, argv, &i, &s) && split_strings(a, argv[i], p->cpu_mask, &p->n_cpu_mask);
        } else if (!strcmp(a, "--cpu-strict")) {
            ok = list_arg(argc, argv, &i, 0, 1, &o->given_strict, &p->cpu_strict);
        } else if (!strcmp(a, "--poll")) {
            ok = list_arg(argc, argv, &i, 0, 100, &o->given_poll, &p->poll);
        } else if (!strcmp(a, "--numa")) {
            ok = cria_arg_str(argc, argv, &i, &p->numa);
        } else if (!strcmp(a, "--prio")) {
            ok = cria_arg_i32(argc, argv, &i, -1, 3, &p->prio);
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            ok = cria_arg_str(argc, argv, &i, &s);
            if (ok && !cria_bench_format_parse(s, &o->format)) {
                cria_app_error("unknown output format '%s' (md, csv, json or jsonl)", s);
                ok = false;
            }
        } else if (!strcmp(a, "--plot")) {
            ok = cria_arg_str(argc, argv, &i, &o->plot);
            if (ok && !(strlen(o->plot) > 4 && (!strcmp(o->plot + strlen(o->plot) - 4, ".svg") ||
                                               !strcmp(o->plot + strlen(o->plot) - 4, ".png")))) {
                cria_app_error("option --plot: '%s' must end in .svg or .png", o->plot);
                ok = false;
            }
        } else if (!strcmp(a, "--progress")) {
            p->progress = true;
        } else if (!strcmp(a, "--sweep-threads")) {
            p->sweep_threads = true;
        } else if (!strcmp(a, "--profile")) {
            p->profile = true;
        } else if (!strcmp(a, "--no-tune")) {
            o->no_tune = true;
        } else if (!strcmp(a, "--no-repack")) {
            o->p.no_repack = true;
        } else {
            cria_app_error("unknown option '%s' (cria bench -h lists them)", a);
            ok = false;
        }
        if (!ok)
            return false;
    }
    if (p->n_models == 0) {
        cria_app_error("no model given (-m FILE)");
        return false;
    }
    if (p->sweep_threads && p->cfg_seq.n > 0) {
        cria_app_error("--sweep-threads and --configs cannot be combined (both choose the threads)");
        return false;
    }
    if (o->given_mask && p->n_cpu_mask == 0) {
        cria_app_error("option -C: no mask given");
        return false;
    }
    for (int32_t m = 0; m < p->n_models; m++) { /* before the probe and the table: one clear line */
        FILE *f = fopen(p->models[m], "rb");
        if (!f) {
            cria_app_error("cannot open model '%s': %s", p->models[m], strerror(errno));
            return false;
        }
        fclose(f);
    }
    if (cria_bench_expand(p, NULL, 0) == 0) {
        cria_app_error("no tests to run: every -p, -n and -pg is 0");
        return false;
    }
    return true;
}

/* --sweep-threads bookkeeping: each test's first thread count whose efficiency is below 50%. */
typedef struct sweep_note {
    char name[48];
    int32_t model, below; /* below: 0 while none */
} sweep_note;

typedef struct bench_sink {
    cria_bench_writer w;
    const cria_bench_params *p;
    cria_bench_point *pts; /* every row, for --plot; NULL without it */
    int32_t n_pts, cap_pts;
    bool nomem;
    sweep_note notes[CRIA_BENCH_MAX_LIST];
    int32_t n_notes;
    cria_bench_result *profiled; /* --profile: each row's test and profiles (samples not kept) */
    int32_t n_profiled, cap_profiled;
} bench_sink;

static bool on_result(const cria_bench_result *r, void *user)
{
    bench_sink *s = user;
    cria_bench_write_row(&s->w, r);
    if (s->p->profile) {
        if (s->n_profiled == s->cap_profiled) {
            const int32_t cap = s->cap_profiled ? s->cap_profiled * 2 : 8;
            cria_bench_result *grown = realloc(s->profiled, (size_t)cap * sizeof *grown);
            if (!grown) {
                s->nomem = true;
                return false;
            }
            s->profiled = grown;
            s->cap_profiled = cap;
        }
        cria_bench_result *keep = &s->profiled[s->n_profiled++];
        *keep = *r;
        keep->samples_ns = NULL;
        keep->samples_ts = NULL;
    }
    if (s->cap_pts > 0 && !s->nomem) {
        if (s->n_pts == s->cap_pts) {
            cria_bench_point *grown = realloc(s->pts, (size_t)s->cap_pts * 2 * sizeof *grown);
            if (!grown) {
                s->nomem = true;
                return false;
            }
            s->pts = grown;
            s->cap_pts *= 2;
        }
        const char *path = s->p->models[r->test.model], *slash = strrchr(path, '/');
        cria_bench_point_of(r, slash ? slash + 1 : path, &s->pts[s->n_pts++]);
    }
    if (!s->w.sweep)
        return true;
    char name[48];
    cria_bench_test_name(&r->test, name, sizeof name);
    sweep_note *n = NULL;
    for (int32_t i = 0; i < s->n_notes && !n; i++)
        if (s->notes[i].model == r->test.model && !strcmp(s->notes[i].name, name))
            n = &s->notes[i];
    if (!n && s->n_notes < CRIA_BENCH_MAX_LIST) {
        n = &s->notes[s->n_notes++];
        snprintf(n->name, sizeof n->name, "%s", name);
        n->model = r->test.model;
        n->below = 0;
    }
    if (n && n->below == 0 && r->efficiency > 0.0 && r->efficiency < 50.0)
        n->below = r->test.n_threads;
    return true;
}

/* --profile: each test's op table for its prompt and its generation, on stderr after the results. */
static void print_profiles(const bench_sink *s, const cria_bench_params *p)
{
    for (int32_t i = 0; i < s->n_profiled; i++) {
        const cria_bench_result *r = &s->profiled[i];
        char name[48], title[256];
        cria_bench_test_name(&r->test, name, sizeof name);
        const char *phases[2] = {"prompt", "generation"};
        const cria_profile *prof[2] = {&r->prof_prompt, &r->prof_gen};
        for (int k = 0; k < 2; k++) {
            if (prof[k]->n_tokens == 0)
                continue;
            snprintf(title, sizeof title, "%s %s, %dx%d threads, %s", p->models[r->test.model], name, r->test.n_seq,
                     r->test.n_threads, phases[k]);
            cria_profile_print(stderr, title, prof[k]);
        }
    }
}

/* Looks up each model's tuning file (loading the model briefly for its shape); false after an error line. */
static bool load_tuning(cria_bench_params *p)
{
    for (int32_t m = 0; m < p->n_models; m++) {
        cria_model *model = NULL;
        cria_model_params mp = cria_model_default_params();
        mp.vocab_path = p->vocab;
        mp.no_repack = 1; /* only its shape is needed */
        cria_error err;
        if (cria_model_load(p->models[m], &mp, &model, &err) != CRIA_OK) {
            cria_app_error("%s", err.msg);
            return false;
        }
        cria_tuning *t = malloc(sizeof *t);
        if (t && cria_app_tune_load(model, false, t)) {
            cria_bench_tuned *d = &p->tuned[m];
            d->loaded = true;
            d->n_threads = t->n_threads;
            d->n_threads_batch = t->n_threads_batch;
            d->poll = t->poll;
            cria_tune_thresholds_spec(t, d->thresholds, sizeof d->thresholds);
        }
        free(t);
        cria_model_free(model);
    }
    return true;
}

/* One line per swept test: where efficiency fell below 50% (md: stdout, under the table; else stderr). */
static void print_sweep_notes(const bench_sink *s, const cria_bench_params *p, FILE *f)
{
    fputc('\n', f);
    for (int32_t i = 0; i < s->n_notes; i++) {
        const sweep_note *n = &s->notes[i];
        if (n->below)
            fprintf(f, "%s %s: efficiency drops below 50%% at %d threads\n", p->models[n->model], n->name, n->below);
        else
            fprintf(f, "%s %s: efficiency stays at or above 50%% up to %d threads\n", p->models[n->model], n->name,
                    p->n_threads.v[p->n_threads.n - 1]);
    }
}

int cria_cmd_bench(int argc, char **argv)
{
    bench_opts *o = calloc(1, sizeof *o);
    bench_sink *s = calloc(1, sizeof *s);
    int rc = 1;
    if (!o || !s) {
        cria_app_error("out of memory");
        goto done;
    }
    o->p = cria_bench_default_params();
    o->format = CRIA_BENCH_MD;
    bool help = false;
    if (!parse_args(argc, argv, o, &help))
        goto done;
    if (help) {
        bench_usage(stdout);
        rc = 0;
        goto done;
    }
    o->p.poll_given = o->given_poll;
    if (!o->no_tune && !load_tuning(&o->p))
        goto done;
    cria_error err;
    if (cria_bench_validate(&o->p, &err) != CRIA_OK) {
        cria_app_error("%s", err.msg);
        goto done;
    }
    cria_bench_system sys;
    if (cria_bench_probe(&sys, &err) != CRIA_OK) {
        cria_app_error("machine probe: %s", err.msg);
        goto done;
    }
    cria_bench_params *p = &o->p;
    if (p->sweep_threads) { /* -t 1..N */
        int32_t top = sys.n_physical > 0 ? sys.n_physical : 1;
        if (o->given_t) {
            top = 1;
            for (int32_t i = 0; i < p->n_threads.n; i++)
                top = p->n_threads.v[i] > top ? p->n_threads.v[i] : top;
        }
        if (top > CRIA_BENCH_MAX_LIST) {
            cria_app_error("--sweep-threads: at most %d threads", CRIA_BENCH_MAX_LIST);
            goto done;
        }
        p->n_threads.n = top;
        for (int32_t t = 0; t < top; t++)
            p->n_threads.v[t] = t + 1;
    }
    s->w = (cria_bench_writer){.out = stdout,
                               .format = o->format,
                               .sweep = p->sweep_threads,
                               .memory = o->given_c,
                               .configs = p->cfg_seq.n > 0,
                               .show_batch = o->given_b,
                               .show_mask = o->given_mask,
                               .show_strict = o->given_strict,
                               .show_poll = o->given_poll,
                               .sys = &sys,
                               .build = {.version = CRIA_VERSION, .commit = CRIA_GIT_COMMIT, .compiler = __VERSION__}};
    s->p = p;
    if (o->plot) {
        s->cap_pts = 16;
        s->pts = malloc((size_t)s->cap_pts * sizeof *s->pts);
        if (!s->pts) {
            cria_app_error("out of memory");
            goto done;
        }
    }
    cria_bench_write_header(&s->w);
    cria_status st = cria_bench_run(p, &sys, on_result, s, &err);
    cria_bench_write_footer(&s->w);
    if (st != CRIA_OK) {
        cria_app_error("%s", err.msg);
        goto done;
    }
    if (s->nomem) {
        cria_app_error("out of memory for the plot's points");
        goto done;
    }
    if (p->sweep_threads)
        print_sweep_notes(s, p, o->format == CRIA_BENCH_MD ? stdout : stderr);
    if (p->profile)
        print_profiles(s, p);
    if (o->plot) {
        if (cria_bench_plot(o->plot, s->pts, s->n_pts, p->sweep_threads, &err) != CRIA_OK) {
            cria_app_error("%s", err.msg);
            goto done;
        }
        fprintf(stderr, "plot: wrote %s\n", o->plot);
    }
    rc = 0;
done:
    if (s) {
        free(s->pts);
        free(s->profiled);
    }
    free(s);
    free(o);
    return rc;
}
