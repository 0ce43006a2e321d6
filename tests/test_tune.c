/*
 * cria tune, the tuning file and --profile: the file's round trip, lookup by
 * key (a mismatch or a corrupt file is ignored with a warning, never a
 * crash), run/bench/serve options over the tuned values (flags override,
 * --no-tune ignores), `cria tune --quick` end to end, the profiler's table
 * (every op row, percentages summing to 100) and that profiling does not
 * change the generated text. Every test that runs cria points CRIA_TUNE_DIR
 * at a fresh folder, never at the real cache.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/tunefile.h"
#include "cria.h"
#include "model/profile.h"
#include "parallel/pool.h"
#include "util.h"

#define GGUF_F32 "models/stories260K-f32.gguf"

static void assert_lacks(const char *hay, const char *needle)
{
    if (hay && strstr(hay, needle)) {
        print_error("did not expect \"%s\" in:\n%s\n", needle, hay);
        fail();
    }
}

/* Runs cria with args formatted like printf. */
static int cria(char **out, char **err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cria(char **out, char **err, const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return test_run_cria(args, out, err);
}

/* A fresh, empty tuning folder, set as $CRIA_TUNE_DIR for this process and the cria it runs. */
static const char *fresh_tune_dir(void)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s", test_tmp_path("-tune"));
    assert_int_equal(mkdir(dir, 0755), 0);
    setenv("CRIA_TUNE_DIR", dir, 1);
    return dir;
}

static void remove_dir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A tuning with every field set, for the round trip. */
static void sample_tuning(cria_tuning *t, const char *cpu, const char *shape)
{
    memset(t, 0, sizeof *t);
    snprintf(t->cpu, sizeof t->cpu, "%s", cpu);
    snprintf(t->shape, sizeof t->shape, "%s", shape);
    snprintf(t->model, sizeof t->model, "/models/m.gguf");
    snprintf(t->mode, sizeof t->mode, "quick");
    snprintf(t->created, sizeof t->created, "2026-11-21T12:00:00Z");
    t->seconds = 12.5;
    t->n_threads = 3;
    t->n_threads_batch = 5;
    t->poll = 25;
    t->cfg_seq = 2;
    t->cfg_threads = 4;
    t->thresholds.min_work[CRIA_OP_MATMUL] = 8192;
    t->thresholds.min_work[CRIA_OP_ATTENTION] = 131072;
    t->n_rows = 2;
    t->rows[0] = (cria_tune_row){.search = "tg threads", .setting = "3", .value = 123.5, .unit = "t/s", .best = true};
    t->rows[1] = (cria_tune_row){.search = "matmul", .setting = "8192/thread", .value = 1.25, .unit = "x"};
}

/* The keys of the stories260K model on this machine. */
static void model_keys(char *cpu, size_t cpu_cap, char *shape, size_t shape_cap)
{
    cria_model *m = NULL;
    cria_error err;
    assert_int_equal(cria_model_load(test_shared(GGUF_F32), NULL, &m, &err), CRIA_OK);
    cria_tune_cpu_key(cpu, cpu_cap);
    cria_tune_shape_key(m, shape, shape_cap);
    cria_model_free(m);
}

/* ---- the tuning file ---------------------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
    (void)state;
    const char *dir = fresh_tune_dir();
    char path[1200];
    cria_error err;
    assert_int_equal(cria_tune_path("Some CPU @ 2.0GHz, 8 CPUs", "llama v512 d64", path, sizeof path, &err), CRIA_OK);
    assert_non_null(strstr(path, dir));
    assert_non_null(strstr(path, "some-cpu-2.0ghz-8-cpus-llama-v512-d64.json"));
    cria_tuning *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    sample_tuning(a, "Some CPU @ 2.0GHz, 8 CPUs", "llama v512 d64");
    char nested[1300];
    snprintf(nested, sizeof nested, "%s/deeper/still/t.json", dir); /* missing folders are made */
    assert_int_equal(cria_tunefile_write(nested, a, &err), CRIA_OK);
    assert_int_equal(cria_tunefile_read(nested, b, &err), CRIA_OK);
    assert_string_equal(b->cpu, a->cpu);
    assert_string_equal(b->shape, a->shape);
    assert_string_equal(b->model, a->model);
    assert_string_equal(b->mode, "quick");
    assert_string_equal(b->created, a->created);
    assert_true(fabs(b->seconds - 12.5) < 1e-9);
    assert_int_equal(b->n_threads, 3);
    assert_int_equal(b->n_threads_batch, 5);
    assert_int_equal(b->poll, 25);
    assert_int_equal(b->cfg_seq, 2);
    assert_int_equal(b->cfg_threads, 4);
    assert_int_equal(b->thresholds.min_work[CRIA_OP_MATMUL], 8192);
    assert_int_equal(b->thresholds.min_work[CRIA_OP_ATTENTION], 131072);
    assert_int_equal(b->n_rows, 2);
    assert_string_equal(b->rows[0].search, "tg threads");
    assert_true(b->rows[0].best);
    assert_false(b->rows[1].best);
    assert_true(fabs(b->rows[1].value - 1.25) < 1e-9);
    char spec[96];
    cria_tune_thresholds_spec(b, spec, sizeof spec);
    assert_string_equal(spec, "matmul=8192,attention=131072");
    free(a);
    free(b);
    remove_dir(dir);
}

static void test_lookup_by_key(void **state)
{
    (void)state;
    const char *dir = fresh_tune_dir();
    cria_tuning *t = malloc(sizeof *t), *got = malloc(sizeof *got);
    char path[1200];
    cria_error err;
    assert_int_equal(cria_tunefile_lookup("cpu A", "shape X", got, path, sizeof path, &err), CRIA_TUNE_NONE);
    sample_tuning(t, "cpu A", "shape X");
    assert_int_equal(cria_tune_path("cpu A", "shape X", path, sizeof path, &err), CRIA_OK);
    assert_int_equal(cria_tunefile_write(path, t, &err), CRIA_OK);
    assert_int_equal(cria_tunefile_lookup("cpu A", "shape X", got, path, sizeof path, &err), CRIA_TUNE_LOADED);
    assert_int_equal(got->n_threads_batch, 5);
    /* another CPU or shape: another file name, so nothing is found */
    assert_int_equal(cria_tunefile_lookup("cpu B", "shape X", got, path, sizeof path, &err), CRIA_TUNE_NONE);
    assert_int_equal(cria_tunefile_lookup("cpu A", "shape Y", got, path, sizeof path, &err), CRIA_TUNE_NONE);
    /* a file under the right name whose key inside differs (copied by hand): ignored, saying why */
    sample_tuning(t, "cpu C", "shape X");
    assert_int_equal(cria_tune_path("cpu A", "shape X", path, sizeof path, &err), CRIA_OK);
    assert_int_equal(cria_tunefile_write(path, t, &err), CRIA_OK);
    assert_int_equal(cria_tunefile_lookup("cpu A", "shape X", got, path, sizeof path, &err), CRIA_TUNE_IGNORED);
    test_assert_contains(err.msg, "is for \"cpu C\"");
    free(t);
    free(got);
    remove_dir(dir);
}

static void test_corrupt_files(void **state)
{
    (void)state;
    const char *dir = fresh_tune_dir();
    cria_tuning *t = malloc(sizeof *t);
    char path[1200];
    cria_error err;
    assert_int_equal(cria_tune_path("cpu", "shape", path, sizeof path, &err), CRIA_OK);
    assert_int_equal(cria_tunefile_read(path, t, &err), CRIA_ERR_IO); /* missing */
    test_assert_contains(err.msg, "cannot open tuning file");
    static const struct {
        const char *text, *says;
    } cases[] = {
        {"", "not valid JSON"},
        {"{\"cria_tune\": 1, \"cpu\": \"cpu\", \"shape\"", "not valid JSON"}, /* truncated */
        {"[1, 2]", "not a JSON object"},
        {"{\"cria_tune\": 99}", "version 99"},
        {"{\"cria_tune\": 1, \"shape\": \"shape\"}", "'cpu'"},
        {"{\"cria_tune\": 1, \"cpu\": \"cpu\", \"shape\": \"shape\", \"n_threads\": 0, \"n_threads_batch\": 1, "
         "\"poll\": 50}",
         "'n_threads'"},
        {"{\"cria_tune\": 1, \"cpu\": \"cpu\", \"shape\": \"shape\", \"n_threads\": 2, \"n_threads_batch\": 1, "
         "\"poll\": 500}",
         "'poll'"},
        {"{\"cria_tune\": 1, \"cpu\": \"cpu\", \"shape\": \"shape\", \"n_threads\": 2, \"n_threads_batch\": 1.5, "
         "\"poll\": 5}",
         "'n_threads_batch'"},
        {"{\"cria_tune\": 1, \"cpu\": \"cpu\", \"shape\": \"shape\", \"n_threads\": 2, \"n_threads_batch\": 1, "
         "\"poll\": 5}",
         "'thresholds'"},
        {"{\"cria_tune\": 1, \"cpu\": \"cpu\", \"shape\": \"shape\", \"n_threads\": 2, \"n_threads_batch\": 1, "
         "\"poll\": 5, \"thresholds\": {\"matmul\": -4, \"attention\": 9}}",
         "'matmul'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_true(test_write_file(path, cases[i].text, strlen(cases[i].text)));
        assert_int_equal(cria_tunefile_read(path, t, &err), CRIA_ERR_FORMAT);
        test_assert_contains(err.msg, path);
        test_assert_contains(err.msg, cases[i].says);
        assert_int_equal(cria_tunefile_lookup("cpu", "shape", t, path, sizeof path, &err), CRIA_TUNE_IGNORED);
    }
    free(t);
    remove_dir(dir);
}

/* ---- run, bench and serve over a tuning file --------------------------------------------------- */

/* Writes a tuning file for stories260K on this machine. */
static void write_260k_tuning(int32_t t, int32_t tb, int32_t poll)
{
    char cpu[160], shape[160], path[1200];
    model_keys(cpu, sizeof cpu, shape, sizeof shape);
    cria_tuning *tu = malloc(sizeof *tu);
    sample_tuning(tu, cpu, shape);
    tu->n_threads = t;
    tu->n_threads_batch = tb;
    tu->poll = poll;
    cria_error err;
    assert_int_equal(cria_tune_path(cpu, shape, path, sizeof path, &err), CRIA_OK);
    assert_int_equal(cria_tunefile_write(path, tu, &err), CRIA_OK);
    free(tu);
}

static void test_flags_override_tuning(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    const char *dir = fresh_tune_dir();
    const char *m = test_shared(GGUF_F32);
    write_260k_tuning(3, 2, 7);
    char *err;
    assert_int_equal(cria(NULL, &err, "run -m %s -p Once -n 2", m), 0);
    test_assert_contains(err, "tune: using ");
    test_assert_contains(err, dir);
    test_assert_contains(err, "threads 3 (batch 2), poll 7,");
    free(err);
    assert_int_equal(cria(NULL, &err, "run -m %s -p Once -n 2 -t 1", m), 0); /* -t alone sets -tb too */
    test_assert_contains(err, "threads 1 (batch 1), poll 7,");
    free(err);
    assert_int_equal(cria(NULL, &err, "run -m %s -p Once -n 2 -tb 1 --poll 60", m), 0);
    test_assert_contains(err, "threads 3 (batch 1), poll 60,");
    free(err);
    assert_int_equal(cria(NULL, &err, "run -m %s -p Once -n 2 --no-tune", m), 0);
    assert_lacks(err, "tune: using");
    test_assert_contains(err, "poll 50,");
    free(err);
    assert_int_equal(cria(NULL, &err, "run -m %s -p Once -n 2 --log-disable", m), 0); /* quiet stays quiet */
    assert_lacks(err, "tune:");
    free(err);

    /* bench: tg tests take the tuned -t, pp tests its -tb, and --poll the tuned poll, unless given */
    char *out;
    assert_int_equal(cria(&out, &err, "bench -m %s -p 8 -n 4 -r 1 -o jsonl", m), 0);
    test_assert_contains(err, "tune: using ");
    test_assert_contains(out, "\"n_prompt\": 8, \"n_gen\": 0");
    free(out);
    free(err);
    assert_int_equal(cria(&out, &err, "bench -m %s -p 8 -n 0 -r 1 -o csv", m), 0);
    test_assert_contains(out, ",2,"); /* n_threads of the pp test: the tuned -tb */
    test_assert_contains(out, ",7,8,0,"); /* poll 7, n_prompt 8, n_gen 0 */
    free(out);
    free(err);
    assert_int_equal(cria(&out, &err, "bench -m %s -p 0 -n 4 -r 1 -t 1 --poll 9 -o csv", m), 0);
    test_assert_contains(out, ",9,0,4,");
    free(out);
    free(err);
    assert_int_equal(cria(&out, &err, "bench -m %s -p 0 -n 4 -r 1 --no-tune -o csv", m), 0);
    assert_lacks(err, "tune: using");
    test_assert_contains(out, ",50,0,4,");
    free(out);
    free(err);
    remove_dir(dir);
}

/* batch (and serve, through the same set-up in app/slots.c) load the file too. */
static void test_batch_uses_tuning(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    const char *dir = fresh_tune_dir();
    write_260k_tuning(1, 2, 0);
    const char *prompts = test_tmp_path(".txt");
    assert_true(test_write_file(prompts, "Once upon a time\nThe cat\n", 26));
    char *out, *err;
    assert_int_equal(cria(&out, &err, "batch -m %s -f %s -n 4 -np 2 --temp 0", test_shared(GGUF_F32), prompts), 0);
    test_assert_contains(err, "tune: using ");
    test_assert_contains(err, dir);
    free(out), free(err);
    assert_int_equal(
        cria(&out, &err, "batch -m %s -f %s -n 4 -np 2 --temp 0 --no-tune", test_shared(GGUF_F32), prompts), 0);
    assert_lacks(err, "tune: using");
    free(out), free(err);
    unlink(prompts);
    remove_dir(dir);
}

static void test_ignored_files_warn(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    const char *dir = fresh_tune_dir();
    const char *m = test_shared(GGUF_F32);
    char cpu[160], shape[160], path[1200];
    model_keys(cpu, sizeof cpu, shape, sizeof shape);
    cria_error e;
    assert_int_equal(cria_tune_path(cpu, shape, path, sizeof path, &e), CRIA_OK);
    assert_true(test_write_file(path, "{\"cria_tune\": 1, \"cpu\"", 22));
    char *out, *err;
    assert_int_equal(cria(&out, &err, "run -m %s -p Once -n 2 --temp 0", m), 0);
    test_assert_contains(err, "warning: tuning file ");
    test_assert_contains(err, "not valid JSON");
    test_assert_contains(err, "ignored");
    test_assert_contains(out, "Once");
    free(out);
    free(err);
    remove_dir(dir);
}

/* ---- cria tune ------------------------------------------------------------------------------------ */

static void test_tune_bad_args(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(cria(&out, &err, "tune"), 1);
    test_assert_contains(err, "error: no model given");
    free(out), free(err);
    assert_int_equal(cria(&out, &err, "tune -m x.gguf --fast"), 1);
    test_assert_contains(err, "error: unknown option '--fast'");
    free(out), free(err);
    assert_int_equal(cria(&out, &err, "tune -m x.gguf -t 0"), 1);
    test_assert_contains(err, "error: ");
    free(out), free(err);
    assert_int_equal(cria(&out, &err, "tune -m /nonexistent/model.gguf --no-save"), 1);
    test_assert_contains(err, "error: ");
    test_assert_contains(err, "/nonexistent/model.gguf");
    free(out), free(err);
    assert_int_equal(cria(&out, &err, "tune -h"), 0);
    test_assert_contains(out, "usage: cria tune");
    test_assert_contains(out, "CRIA_TUNE_DIR");
    free(out), free(err);
    assert_int_equal(cria(&out, &err, "-h"), 0);
    test_assert_contains(out, "tune ");
    free(out), free(err);
}

static void test_tune_quick_then_run(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    const char *dir = fresh_tune_dir();
    const char *m = test_shared(GGUF_F32);
    char *out, *err;
    assert_int_equal(cria(&out, &err, "tune --quick -m %s", m), 0);
    test_assert_contains(out, "| pp threads   | 1 ");
    test_assert_contains(out, "| tg threads   | 1 ");
    test_assert_contains(out, "chosen: -t ");
    test_assert_contains(err, "tune [1/");
    test_assert_contains(err, "tune: quick search took ");
    test_assert_contains(err, "tune: saved ");
    test_assert_contains(err, dir);
    /* the saved file is the one the keys name, and it reads back */
    char cpu[160], shape[160], path[1200];
    model_keys(cpu, sizeof cpu, shape, sizeof shape);
    cria_error e;
    assert_int_equal(cria_tune_path(cpu, shape, path, sizeof path, &e), CRIA_OK);
    test_assert_contains(err, path);
    cria_tuning *t = malloc(sizeof *t);
    assert_int_equal(cria_tunefile_read(path, t, &e), CRIA_OK);
    assert_string_equal(t->mode, "quick");
    assert_true(t->n_threads >= 1 && t->n_threads_batch >= 1);
    assert_true(t->n_rows >= 4);
    free(out), free(err);

    char line[1400];
    snprintf(line, sizeof line, "tune: using %s (-t %d -tb %d --poll %d", path, t->n_threads, t->n_threads_batch,
             t->poll);
    assert_int_equal(cria(&out, &err, "run -m %s -p Once -n 4 --temp 0", m), 0);
    test_assert_contains(err, line);
    free(out), free(err);
    free(t);

    /* -o writes elsewhere, --no-save nowhere */
    char other[1300];
    snprintf(other, sizeof other, "%s/mine.json", dir);
    assert_int_equal(cria(&out, &err, "tune -m %s -t 1 -o %s", m, other), 0);
    assert_int_equal(access(other, F_OK), 0);
    free(out), free(err);
    remove_dir(dir);
}

/* ---- --profile ------------------------------------------------------------------------------------ */

/* Sums the % column of the profile table titled by `title` in err; checks every op row is there. */
static double profile_percent(const char *err, const char *title)
{
    const char *p = strstr(err, title);
    if (!p) {
        print_error("no \"%s\" in:\n%s\n", title, err);
        fail();
    }
    double sum = 0.0;
    for (int op = 0; op < CRIA_PROF_COUNT; op++) {
        char row[64];
        snprintf(row, sizeof row, "| %-16s |", cria_prof_op_name((cria_prof_op)op));
        const char *r = strstr(p, row);
        if (!r) {
            print_error("no row \"%s\" after \"%s\" in:\n%s\n", row, title, err);
            fail();
        }
        double ms, pct, syncs;
        assert_int_equal(sscanf(r + strlen(row), " %lf | %lf | %lf |", &ms, &pct, &syncs), 3);
        assert_true(ms >= 0.0 && pct >= 0.0 && syncs >= 0.0);
        sum += pct;
    }
    const char *total = strstr(p, "| total ");
    assert_non_null(total);
    return sum;
}

static void test_profile_run(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    const char *m = test_shared(GGUF_F32);
    char *plain, *prof, *err;
    assert_int_equal(cria(&plain, NULL, "run -m %s -p 'Once upon a time' -n 24 --temp 0 -t 2", m), 0);
    assert_int_equal(cria(&prof, &err, "run -m %s -p 'Once upon a time' -n 24 --temp 0 -t 2 --profile", m), 0);
    assert_string_equal(plain, prof); /* profiling changes no result */
    test_assert_contains(err, "eval time =");
    assert_true(strstr(err, "profile: prompt") > strstr(err, "total time ="));
    assert_true(fabs(profile_percent(err, "profile: prompt") - 100.0) < 0.2);
    assert_true(fabs(profile_percent(err, "profile: generation") - 100.0) < 0.2);
    test_assert_contains(err, "profile: generation: 23 tokens, 23 decode calls, threads 2");
    test_assert_contains(err, "workers idle at joins:");
    free(plain), free(prof), free(err);
}

static void test_profile_bench(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    char *out, *err;
    assert_int_equal(cria(&out, &err, "bench -m %s -p 16 -n 8 -r 2 -t 1 --profile", test_shared(GGUF_F32)), 0);
    assert_true(fabs(profile_percent(err, "pp16, 1x1 threads, prompt: 32 tokens") - 100.0) < 0.2);
    assert_true(fabs(profile_percent(err, "tg8, 1x1 threads, generation: 16 tokens") - 100.0) < 0.2);
    test_assert_contains(out, " tg8 |"); /* the results table is untouched */
    free(out), free(err);
}

/* The library side: counters only move while profiling is on; syncs match the pool's. */
static void test_profile_counters(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    cria_model *m = NULL;
    cria_context *ctx = NULL;
    cria_error err;
    assert_int_equal(cria_model_load(test_shared(GGUF_F32), NULL, &m, &err), CRIA_OK);
    cria_context_params cp = cria_context_default_params();
    cp.n_ctx = 64;
    cp.n_threads = cp.n_threads_batch = 2;
    cp.thresholds = "matmul=1,attention=1"; /* every kernel split: regions to count */
    assert_int_equal(cria_context_init(m, &cp, &ctx, &err), CRIA_OK);
    cria_batch b = cria_batch_init(4);
    for (int i = 0; i < 4; i++) {
        b.token[i] = 1 + i;
        b.pos[i] = i;
        b.seq_id[i] = 0;
        b.logits[i] = i == 3;
    }
    b.n_tokens = 4;
    assert_int_equal(cria_decode(ctx, &b, &err), CRIA_OK);
    cria_profile off = cria_context_profile(ctx);
    assert_int_equal(cria_profile_total_ns(&off), 0);
    assert_int_equal(off.n_tokens, 0);

    cria_context_set_profile(ctx, true);
    const uint64_t syncs0 = cria_context_n_syncs(ctx);
    cria_kv_seq_rm(ctx, -1, 0, -1);
    assert_int_equal(cria_decode(ctx, &b, &err), CRIA_OK);
    b.n_tokens = 1;
    b.pos[0] = 4;
    b.logits[0] = 1;
    assert_int_equal(cria_decode(ctx, &b, &err), CRIA_OK);
    cria_profile on = cria_context_profile(ctx);
    assert_int_equal(on.n_tokens, 5);
    assert_int_equal(on.n_decodes, 2);
    assert_true(cria_profile_total_ns(&on) > 0);
    assert_true(on.ns[CRIA_PROF_QKV] > 0 && on.ns[CRIA_PROF_OUTPUT] > 0);
    uint64_t syncs = 0;
    for (int i = 0; i < CRIA_PROF_COUNT; i++)
        syncs += on.syncs[i];
    assert_int_equal(syncs, cria_context_n_syncs(ctx) - syncs0);
    assert_true(on.syncs[CRIA_PROF_QKV] >= 2); /* one fused region per layer at least */
    cria_profile d = cria_profile_diff(&on, &off);
    assert_int_equal(d.n_tokens, 5);

    cria_context_set_profile(ctx, false);
    b.pos[0] = 5;
    assert_int_equal(cria_decode(ctx, &b, &err), CRIA_OK);
    cria_profile after = cria_context_profile(ctx);
    assert_int_equal(after.n_tokens, 5);
    assert_int_equal(cria_profile_total_ns(&after), cria_profile_total_ns(&on));
    cria_batch_free(&b);
    cria_context_free(ctx);
    cria_model_free(m);
}

/* The pool's join timing: off, nothing moves; on, waits add up and stay non-negative. */
static void busy(void *arg, int ith, int nth)
{
    (void)arg, (void)nth;
    volatile int spin = 0;
    for (int i = 0; i < 20000 * (ith + 1); i++)
        spin++;
}

static void test_pool_join_waits(void **state)
{
    (void)state;
    cria_pool *pool = NULL;
    cria_error err;
    assert_int_equal(cria_pool_init(2, &pool, &err), CRIA_OK);
    int64_t caller, workers;
    for (int i = 0; i < 50; i++)
        cria_pool_run(pool, 2, busy, NULL);
    cria_pool_join_waits(pool, &caller, &workers);
    assert_int_equal(caller, 0);
    assert_int_equal(workers, 0);
    cria_pool_set_profile(pool, true);
    for (int i = 0; i < 50; i++)
        cria_pool_run(pool, 2, busy, NULL);
    cria_pool_join_waits(pool, &caller, &workers);
    assert_true(caller > 0); /* the worker does twice the caller's work: the caller waits */
    assert_true(workers >= 0);
    cria_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_lookup_by_key),
        cmocka_unit_test(test_corrupt_files),
        cmocka_unit_test(test_flags_override_tuning),
        cmocka_unit_test(test_batch_uses_tuning),
        cmocka_unit_test(test_ignored_files_warn),
        cmocka_unit_test(test_tune_bad_args),
        cmocka_unit_test(test_tune_quick_then_run),
        cmocka_unit_test(test_profile_run),
        cmocka_unit_test(test_profile_bench),
        cmocka_unit_test(test_profile_counters),
        cmocka_unit_test(test_pool_join_waits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
