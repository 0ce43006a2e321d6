/*
 * cria bench, the library side: llama-bench's tests (ppN: one prompt of N
 * random tokens; tgN: N single-token decodes; ppN+tgM: both), repeated after
 * one warm-up, over the cross product of every option's list; statistics;
 * the md/csv/json/jsonl writers; and a short probe of the machine's limits
 * (memory read bandwidth, peak FMA throughput) that each result is set
 * against. app/bench.c parses options into cria_bench_params and prints.
 */
#ifndef CRIA_BENCH_BENCH_H
#define CRIA_BENCH_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cria.h"
#include "model/profile.h"

#define CRIA_BENCH_MAX_LIST 64

/* A list option (-t 1,2,4): values in the order given. */
typedef struct cria_bench_list {
    int32_t n;
    int32_t v[CRIA_BENCH_MAX_LIST];
} cria_bench_list;

/* A model's tuning file (cria tune), as app/bench.c found it: used by tests whose -t or --poll was not given. */
typedef struct cria_bench_tuned {
    bool loaded;
    int32_t n_threads, n_threads_batch, poll; /* tg tests take n_threads; pp and pp+tg n_threads_batch */
    char thresholds[96];                      /* cria_context_params.thresholds */
} cria_bench_tuned;

typedef struct cria_bench_params {
    int32_t n_models;
    const char *models[CRIA_BENCH_MAX_LIST]; /* borrowed paths */
    const char *vocab;                       /* tokenizer.bin for llama2.c checkpoints; NULL: none */
    bool no_repack;                          /* weights in the file's layout (cria_model_params.no_repack) */
    cria_bench_list n_prompt;                /* -p: a ppN test per value > 0 */
    cria_bench_list n_gen;                   /* -n: a tgN test per value > 0 */
    cria_bench_list pg_prompt, pg_gen;       /* -pg N,M pairs (same length) */
    cria_bench_list n_batch;                 /* -b */
    cria_bench_list n_threads;               /* -t; a value 0 stands for the physical cores */
    cria_bench_list cfg_seq, cfg_threads;    /* --configs NxT pairs (same length); when given, they
                                                replace -t: N sequences at once, T threads each */
    cria_bench_list poll;                    /* --poll 0..100 */
    cria_bench_list cpu_strict;              /* --cpu-strict 0|1 */
    cria_bench_list n_ctx;                   /* -c: context sizes; 0 (the default): n_prompt + n_gen */
    int32_t n_cpu_mask;
    const char *cpu_mask[CRIA_BENCH_MAX_LIST]; /* -C; "" or NULL: none */
    const char *numa;                          /* --numa; NULL: none */
    int32_t prio;                              /* --prio -1..3 */
    int32_t reps;                              /* -r, after one warm-up run */
    double delay_s;                            /* --delay: sleep before each test */
    bool progress;                             /* --progress: a line per test and repetition on stderr */
    bool sweep_threads;                        /* speedup and efficiency vs the 1-thread row */
    bool profile;                              /* --profile: time per op kind into each result */
    bool poll_given;                           /* --poll given: tuning files do not change it */
    cria_bench_tuned tuned[CRIA_BENCH_MAX_LIST]; /* per model; none loaded by default */
} cria_bench_params;

/* llama-bench's defaults: -p 512 -n 128 -b 2048 -t physical cores -r 5 --poll 50. */
cria_bench_params cria_bench_default_params(void);

/* One test instance: a point of the cross product. */
typedef struct cria_bench_test {
    int32_t model;          /* index into params.models */
    int32_t n_prompt, n_gen;
    int32_t n_batch, n_threads, poll, cpu_strict;
    int32_t n_seq;          /* sequences run at once, each on its own context of n_threads (--configs) */
    int32_t n_ctx;          /* -c; the context made holds at least n_prompt + n_gen */
    const char *cpu_mask;   /* borrowed; NULL: none */
} cria_bench_test;

/*
 * Expands params into test instances in llama-bench's order (models, then
 * batch, threads, poll, strict, mask, context size; within each: pp tests,
 * tg tests, pg tests). Writes up to cap of them (tests may be NULL when cap is 0) and
 * returns how many there are in all.
 */
int32_t cria_bench_expand(const cria_bench_params *p, cria_bench_test *tests, int32_t cap);

/* What the probe found out about this machine (cria_bench_probe). */
typedef struct cria_bench_system {
    char cpu_model[128];
    int32_t n_physical, n_logical;
    char isa[16];              /* SIMD level in use */
    char governor[32];         /* "n/a" where unreadable */
    double mem_total_gib, mem_avail_gib;
    double bw_gbs;             /* memory read bandwidth, all physical cores, best of a few (GB/s = 1e9 B/s) */
    double bw_gbs_1t;          /* the same on one thread */
    double gflops_1t;          /* peak f32 FMA GFLOP/s of one thread */
    double gflops;             /* the same on all physical cores */
    double probe_ms;           /* how long the probe took */
} cria_bench_system;

/*
 * Measures the machine: CPU model, cores (hwloc), SIMD level, memory,
 * governor, then a read-bandwidth and an FMA probe (well under a second).
 * Run it before any thread is pinned.
 */
cria_status cria_bench_probe(cria_bench_system *sys, cria_error *err);

/* The machine's limit for a test on n_seq x n_threads threads: GB/s for tg, GFLOP/s for pp. */
double cria_bench_limit(const cria_bench_system *sys, const cria_bench_test *t);

/* Sample statistics over n values: mean, and standard deviation with n - 1 (0 when n < 2). */
double cria_bench_mean(const double *v, int32_t n);
double cria_bench_stddev(const double *v, int32_t n);

/* The model as the result rows describe it. */
typedef struct cria_bench_model {
    const char *filename;      /* borrowed path */
    char type[64];             /* "llama 15M F32" */
    uint64_t size;             /* weight bytes */
    uint64_t bytes_per_token;  /* weight bytes one generated token reads: all but the token embedding,
                                  of which one row (all of it when the classifier shares it) */
    uint64_t n_params;
} cria_bench_model;

/* One finished test. */
typedef struct cria_bench_result {
    cria_bench_test test;
    cria_bench_model model;
    int32_t n_samples;
    int64_t *samples_ns;       /* owned (cria_bench_result_free) */
    double *samples_ts;        /* tokens/s per sample, all sequences together */
    double avg_ts_seq;         /* tokens/s of one sequence, averaged over sequences and samples */
    double avg_ns, stddev_ns, avg_ts, stddev_ts;
    double achieved;           /* GB/s (tg: bytes_per_token x t/s) or GFLOP/s (pp, pp+tg: 2 x params per token x t/s) */
    double limit;              /* the machine's, from the probe (0: unknown) */
    double pct_limit;          /* 100 x achieved / limit */
    double speedup, efficiency; /* --sweep-threads: vs the 1-thread row of the same test; 0: none */
    int32_t n_ctx;             /* the context's size */
    uint64_t kv_bytes;         /* its KV cache (keys and values, f16) */
    uint64_t peak_rss;         /* peak resident bytes during the test (VmHWM, reset before it where the
                                  kernel allows; else the process's peak so far); 0: unknown */
    char time[32];             /* ISO 8601 UTC start time (llama-bench's test_time) */
    cria_profile prof_prompt, prof_gen; /* --profile: the timed repetitions of every sequence, summed */
} cria_bench_result;

void cria_bench_result_free(cria_bench_result *r);

/* The name of a test as llama-bench writes it: "pp512", "tg128", "pp512+tg128". */
void cria_bench_test_name(const cria_bench_test *t, char *buf, size_t cap);

/* Called after each finished test, in order; return false to stop. */
typedef bool (*cria_bench_on_result)(const cria_bench_result *r, void *user);

/*
 * Runs every test of params (cria_bench_expand) against the probed system,
 * calling on_result after each. Models are loaded once each; a context is
 * made per test (n_ctx: -c, at least n_prompt + n_gen) and the KV cache
 * cleared before each repetition. Returns CRIA_OK, or the first error (a model that does
 * not load, a bad placement, a failed decode) with err filled.
 */
cria_status cria_bench_run(const cria_bench_params *params, const cria_bench_system *sys, cria_bench_on_result on_result,
                           void *user, cria_error *err);

/*
 * Plans every test's thread placement and frees the plans: the bad -C,
 * --cpu-strict, --numa and --prio values fail here, before anything runs.
 */
cria_status cria_bench_validate(const cria_bench_params *params, cria_error *err);

/* ---- output (src/bench/output.c) ----------------------------------------- */

typedef enum cria_bench_format {
    CRIA_BENCH_MD,
    CRIA_BENCH_CSV,
    CRIA_BENCH_JSON,
    CRIA_BENCH_JSONL,
} cria_bench_format;

/* Parses "md", "csv", "json", "jsonl"; false if unknown. */
bool cria_bench_format_parse(const char *s, cria_bench_format *out);

/* Build information carried by every row. */
typedef struct cria_bench_build {
    const char *version, *commit, *compiler;
} cria_bench_build;

/* A writer: header, rows as they finish, footer. */
typedef struct cria_bench_writer {
    FILE *out;
    cria_bench_format format;
    bool sweep;                /* add speedup and efficiency columns */
    bool memory;               /* md: add n_ctx, KV cache and peak RSS columns (-c given) */
    bool configs;              /* md: threads as NxT, and a tokens/s per sequence column (--configs given) */
    bool show_batch, show_mask, show_strict, show_poll; /* md: columns for options given (as llama-bench) */
    const cria_bench_system *sys;
    cria_bench_build build;
    int32_t n_rows;
} cria_bench_writer;

/* Prints the system summary, a few lines (md writes it to stderr, beside the table). */
void cria_bench_print_system(FILE *f, const cria_bench_system *sys);
void cria_bench_write_header(cria_bench_writer *w);
void cria_bench_write_row(cria_bench_writer *w, const cria_bench_result *r);
void cria_bench_write_footer(cria_bench_writer *w);

/* ---- plot (src/bench/plot.c) ---------------------------------------------- */

/* What a plot needs of one finished row. */
typedef struct cria_bench_point {
    char series[96];           /* the test: model file name and test name, e.g. "m.gguf pp512" */
    int32_t n_seq, n_threads;
    double avg_ts, stddev_ts, speedup, efficiency;
} cria_bench_point;

/* The point of a result; model_name is the short name used in legends. */
void cria_bench_point_of(const cria_bench_result *r, const char *model_name, cria_bench_point *pt);

/*
 * Renders the points with gnuplot into path (.svg or .png, by its
 * extension): with sweep, the thread-scaling figure (speedup per test next
 * to the ideal line, and efficiency with a 50% line); otherwise a bar chart
 * of tokens/s per row (configs as NxT). CRIA_ERR_UNSUPPORTED when gnuplot
 * is missing or the extension is neither; CRIA_ERR_IO when gnuplot fails.
 */
cria_status cria_bench_plot(const char *path, const cria_bench_point *pts, int32_t n, bool sweep, cria_error *err);

#endif
