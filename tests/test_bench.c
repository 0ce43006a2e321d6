/*
 * cria bench: the cross product of option lists (library and CLI), the
 * statistics, every output format (the JSON parses, with llama-bench's field
 * names; the CSV has a header and one row per test), bad values (one line
 * "error: ...", non-zero exit), a small real run on stories260K, the thread
 * sweep, and cria --version.
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

#include "bench/bench.h"
#include "cria.h"
#include "util.h"

#define GGUF_F32 "models/stories260K-f32.gguf"
#define CKPT "models/stories260K.bin"
#define TOK512 "models/tok512.bin"

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* Runs cria bench with args formatted like printf; returns the exit status, output in *out and *err. */
static int bench(char **out, char **err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bench(char **out, char **err, const char *fmt, ...)
{
    char args[4096];
    int n = snprintf(args, sizeof args, "bench ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args + n, sizeof args - (size_t)n, fmt, ap);
    va_end(ap);
    return test_run_cria(args, out, err);
}

/* ---- library: cross product and statistics ------------------------------------------- */

static void test_expand(void **state)
{
    (void)state;
    cria_bench_params p = cria_bench_default_params();
    p.n_models = 2;
    p.models[0] = "a.gguf";
    p.models[1] = "b.gguf";
    assert_int_equal(cria_bench_expand(&p, NULL, 0), 2 * 2); /* pp512, tg128 per model */
    p.n_threads = (cria_bench_list){.n = 2, .v = {1, 2}};
    p.n_prompt = (cria_bench_list){.n = 3, .v = {64, 0, 128}}; /* 0: no test */
    p.n_gen = (cria_bench_list){.n = 1, .v = {32}};
    p.pg_prompt = (cria_bench_list){.n = 1, .v = {16}};
    p.pg_gen = (cria_bench_list){.n = 1, .v = {8}};
    p.n_batch = (cria_bench_list){.n = 2, .v = {32, 64}};
    const int32_t n = cria_bench_expand(&p, NULL, 0);
    assert_int_equal(n, 2 * 2 * 2 * (2 + 1 + 1));
    cria_bench_test t[64];
    assert_int_equal(cria_bench_expand(&p, t, 64), n);
    /* llama-bench's order: model, batch, threads outermost; pp, tg, pg within. */
    char name[48];
    const char *want[] = {"pp64", "pp128", "tg32", "pp16+tg8"};
    for (int i = 0; i < 4; i++) {
        cria_bench_test_name(&t[i], name, sizeof name);
        assert_string_equal(name, want[i]);
        assert_int_equal(t[i].model, 0);
        assert_int_equal(t[i].n_threads, 1);
        assert_int_equal(t[i].n_batch, 32);
    }
    assert_int_equal(t[4].n_threads, 2);
    assert_int_equal(t[8].n_batch, 64);
    assert_int_equal(t[16].model, 1);
    p.n_prompt.n = 0;
    p.n_gen = (cria_bench_list){.n = 1, .v = {0}};
    p.pg_prompt.n = p.pg_gen.n = 0;
    assert_int_equal(cria_bench_expand(&p, NULL, 0), 0);
}

static void test_stats(void **state)
{
    (void)state;
    const double v[] = {1.0, 2.0, 3.0, 4.0};
    assert_true(fabs(cria_bench_mean(v, 4) - 2.5) < 1e-12);
    assert_true(fabs(cria_bench_stddev(v, 4) - sqrt(5.0 / 3.0)) < 1e-12); /* n - 1 */
    assert_true(cria_bench_stddev(v, 1) == 0.0);
    assert_true(cria_bench_mean(v, 0) == 0.0);
    cria_bench_format f;
    assert_true(cria_bench_format_parse("jsonl", &f) && f == CRIA_BENCH_JSONL);
    assert_true(cria_bench_format_parse("md", &f) && f == CRIA_BENCH_MD);
    assert_false(cria_bench_format_parse("xml", &f));
}

static void test_probe(void **state)
{
    (void)state;
    cria_bench_system sys;
    cria_error err;
    assert_int_equal(cria_bench_probe(&sys, &err), CRIA_OK);
    assert_true(sys.n_physical >= 1 && sys.n_logical >= sys.n_physical);
    assert_true(sys.bw_gbs > 0.1 && sys.bw_gbs_1t > 0.1);
    assert_true(sys.gflops_1t > 0.1 && sys.gflops > 0.1);
    assert_true(sys.cpu_model[0] && sys.isa[0] && sys.governor[0]);
    assert_true(sys.probe_ms > 0.0); /* its speed is a benchmark matter (docs/benchmarks.md), not a test's */
    const cria_bench_test tg = {.n_gen = 128, .n_threads = 1}, pp = {.n_prompt = 512, .n_threads = 1};
    assert_true(cria_bench_limit(&sys, &tg) == sys.bw_gbs_1t);
    assert_true(cria_bench_limit(&sys, &pp) == sys.gflops_1t);
}

/* ---- the CLI ------------------------------------------------------------------------- */

/* A real run, md: the table on stdout, the system summary on stderr, in well under 10 s. */
static void test_run_md(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    char *out, *err;
    const int64_t t0 = cria_time_us();
    assert_int_equal(bench(&out, &err, "-m %s -p 16 -n 8 -r 2", test_shared(GGUF_F32)), 0);
    assert_true(cria_time_us() - t0 < 10 * 1000000);
    test_assert_contains(out, "| model");
    test_assert_contains(out, "t/s");
    test_assert_contains(out, "pp16");
    test_assert_contains(out, "tg8");
    test_assert_contains(out, "GFLOP/s");
    test_assert_contains(out, "GB/s");
    test_assert_contains(out, "% limit");
    assert_int_equal(count_lines(out), 2 + 2);
    test_assert_contains(err, "system: ");
    test_assert_contains(err, "memory read");
    test_assert_contains(err, "GFLOP/s");
    free(out);
    free(err);
}

/* md shows a column for each of -b, -C, --cpu-strict, --poll given, as llama-bench does. */
static void test_md_option_columns(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    char *out;
    assert_int_equal(bench(&out, NULL, "-m %s -p 32 -n 0 -r 1 -b 8,32 --poll 0", test_shared(GGUF_F32)), 0);
    test_assert_contains(out, "| n_batch |");
    test_assert_contains(out, "| poll |");
    test_assert_contains(out, "|       8 |");
    test_assert_contains(out, "|      32 |");
    assert_null(strstr(out, "cpu_mask"));
    assert_int_equal(count_lines(out), 2 + 2);
    free(out);
}

/* CSV: a header and one row per test of the cross product (-t 1,2 x -p 16,32 + -n 4: 6 rows), same column count. */
static void test_csv_cross_product(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    char *out;
    assert_int_equal(bench(&out, NULL, "-m %s -t 1,2 -p 16,32 -n 4 -r 1 -o csv", test_shared(GGUF_F32)), 0);
    assert_int_equal(count_lines(out), 1 + 6);
    assert_true(!strncmp(out, "build_commit,", 13));
    test_assert_contains(out, "n_prompt,n_gen");
    test_assert_contains(out, "avg_ts,stddev_ts");
    int commas_header = -1;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        int c = 0;
        bool quoted = false;
        for (char *p = line; *p; p++) {
            quoted ^= *p == '"';
            c += !quoted && *p == ',';
        }
        if (commas_header < 0)
            commas_header = c;
        assert_int_equal(c, commas_header);
    }
    free(out);
}

/* Repeated options append; two models (-m a,b) double the rows. */
static void test_repeated_and_models(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    SKIP_WITHOUT(CKPT);
    char *out;
    assert_int_equal(bench(&out, NULL, "-m %s,%s --vocab %s -p 8 -p 4 -n 0 -r 1 -o csv", test_shared(GGUF_F32),
                           test_shared(CKPT), test_shared(TOK512)),
                     0);
    assert_int_equal(count_lines(out), 1 + 2 * 2);
    free(out);
}

/* -c: one row per context size, with n_ctx, KV cache bytes and peak RSS; --progress lines on stderr. */
static void test_ctx_sizes_and_progress(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    char *out, *err;
    assert_int_equal(bench(&out, &err, "-m %s -p 8 -n 0 -r 2 -c 64,128 --progress", test_shared(GGUF_F32)), 0);
    test_assert_contains(out, "KV MiB");
    test_assert_contains(out, "peak RSS MiB");
    test_assert_contains(out, "|      64 |");
    test_assert_contains(out, "|     128 |");
    assert_int_equal(count_lines(out), 2 + 2);
    test_assert_contains(err, "cria bench: test 1/2: pp8, ");
    test_assert_contains(err, "repetition 2/2");
    free(out);
    free(err);
    assert_int_equal(bench(&out, NULL, "-m %s -p 8 -n 0 -r 1 -c 64 -o csv", test_shared(GGUF_F32)), 0);
    test_assert_contains(out, ",n_ctx,kv_bytes,peak_rss_bytes,");
    /* stories260K: 5 layers, 4 kv heads of 8: 64 cells x 5 x 32 x 2 (K, V) x 2 bytes */
    test_assert_contains(out, ",64,40960,");
    free(out);
}

/* --configs NxT: N sequences at once; threads shown as NxT, t/s for all and per sequence; rows per config. */
static void test_configs(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    char *out;
    assert_int_equal(bench(&out, NULL, "-m %s -p 8 -n 4 -r 2 --configs 1x1,2x1,3x1", test_shared(GGUF_F32)), 0);
    test_assert_contains(out, "t/s/seq");
    test_assert_contains(out, "|     1x1 |");
    test_assert_contains(out, "|     2x1 |");
    test_assert_contains(out, "|     3x1 |");
    assert_int_equal(count_lines(out), 2 + 3 * 2);
    free(out);
    assert_int_equal(bench(&out, NULL, "-m %s -p 0 -n 4 -r 1 --configs 2x1 -o csv", test_shared(GGUF_F32)), 0);
    test_assert_contains(out, ",n_seq,avg_ts_seq\n");
    assert_int_equal(count_lines(out), 2);
    /* the aggregate is n_seq x the per-sequence rate when the sequences overlap perfectly; never below one's */
    const char *row = strchr(out, '\n') + 1;
    double avg_ts = 0.0, avg_ts_seq = 0.0;
    int field = 0;
    for (const char *c = row; *c && *c != '\n'; c++)
        if (*c == ',') {
            field++;
            if (field == 19)
                avg_ts = strtod(c + 1, NULL);
            if (field == 30)
                avg_ts_seq = strtod(c + 1, NULL);
        }
    assert_true(avg_ts > 0.0 && avg_ts_seq > 0.0);
    assert_true(avg_ts <= 2.0 * avg_ts_seq * 1.05);
    free(out);
}

static void expect_error(const char *args, const char *needle);

/* --plot: the sweep figure and the bar chart are valid PNG and SVG files; a bad extension is refused. */
static void test_plot(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    if (system("command -v gnuplot > /dev/null 2>&1") != 0) {
        print_message("skipped: no gnuplot\n");
        skip();
    }
    const char *png = test_tmp_path(".png"), *svg = test_tmp_path(".svg");
    char *err;
    assert_int_equal(bench(NULL, &err, "-m %s -p 8 -n 4 -r 1 -t 2 --sweep-threads --plot %s", test_shared(GGUF_F32),
                           png),
                     0);
    test_assert_contains(err, "plot: wrote ");
    free(err);
    size_t size;
    char *data = test_read_file(png, &size);
    assert_non_null(data);
    assert_true(size > 1000 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8));
    free(data);
    assert_int_equal(bench(NULL, NULL, "-m %s -p 8 -n 0 -r 1 --configs 1x1,2x1 --plot %s", test_shared(GGUF_F32), svg),
                     0);
    data = test_read_file(svg, &size);
    assert_non_null(data);
    assert_non_null(strstr(data, "<svg"));
    assert_non_null(strstr(data, "</svg>"));
    free(data);
    remove(png);
    remove(svg);
    expect_error("-m x --plot out.pdf", "--plot: 'out.pdf' must end in .svg or .png");
}

/* Runs python3 on a file: 0 when the check passes. */
static int python_check(const char *script, const char *path)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "python3 -c '%s' < '%s'", script, path);
    return system(cmd);
}

static const char *const json_fields[] = {"build_commit", "cpu_info", "model_filename", "model_type", "model_size",
                                          "model_n_params", "n_batch", "n_threads", "n_prompt", "n_gen", "avg_ns",
                                          "stddev_ns", "avg_ts", "stddev_ts", "samples_ns", "samples_ts", "test",
                                          "achieved", "pct_limit", "n_ctx", "kv_bytes", "peak_rss_bytes", "n_seq", "avg_ts_seq", "system"};

static void check_json(const char *format, const char *loader)
{
    char *out;
    assert_int_equal(bench(&out, NULL, "-m %s -p 8 -n 4 -pg 8,2 -r 2 -o %s", test_shared(GGUF_F32), format), 0);
    const char *path = test_tmp_path(".json");
    assert_true(test_write_file(path, out, strlen(out)));
    char script[1500];
    int n = snprintf(script, sizeof script,
                     "import json,sys; rows=%s; assert len(rows)==3, len(rows); "
                     "assert [r[\"test\"] for r in rows]==[\"pp8\",\"tg4\",\"pp8+tg2\"]; "
                     "assert all(len(r[\"samples_ns\"])==2 and r[\"avg_ts\"]>0 for r in rows); "
                     "assert rows[2][\"n_prompt\"]==8 and rows[2][\"n_gen\"]==2; ",
                     loader);
    for (size_t i = 0; i < sizeof json_fields / sizeof *json_fields; i++)
        n += snprintf(script + n, sizeof script - (size_t)n, "assert all(\"%s\" in r for r in rows); ",
                      json_fields[i]);
    if (python_check(script, path) != 0) {
        print_error("%s output failed the check:\n%s\n", format, out);
        fail();
    }
    free(out);
}

static void test_json(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    check_json("json", "json.load(sys.stdin)");
}

static void test_jsonl(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    check_json("jsonl", "[json.loads(l) for l in sys.stdin if l.strip()]");
}

/* --sweep-threads -t 2: threads 1 and 2, speedup and efficiency columns, the 50% line. */
static void test_sweep(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    char *out;
    assert_int_equal(bench(&out, NULL, "-m %s -p 16 -n 0 -r 1 -t 2 --sweep-threads", test_shared(GGUF_F32)), 0);
    test_assert_contains(out, "speedup");
    test_assert_contains(out, "eff %");
    test_assert_contains(out, "1.00 |  100.0 |"); /* the 1-thread row is its own baseline */
    test_assert_contains(out, "pp16: efficiency");
    assert_int_equal(count_lines(out), 2 + 2 + 2);
    free(out);
    assert_int_equal(bench(&out, NULL, "-m %s -p 0 -n 4 -r 1 -t 2 --sweep-threads -o csv", test_shared(GGUF_F32)), 0);
    test_assert_contains(out, ",speedup,efficiency\n");
    assert_int_equal(count_lines(out), 1 + 2);
    free(out);
}

/* Each bad value: non-zero exit, nothing on stdout, one line on stderr starting "error:" and naming it. */
static void expect_error(const char *args, const char *needle)
{
    char *out, *err;
    int rc = bench(&out, &err, "%s", args);
    if (rc == 0 || rc == -1 || !err || strncmp(err, "error: ", 7) != 0 || count_lines(err) != 1 || out[0]) {
        print_error("cria bench %s: exit %d, stdout:\n%s\nstderr:\n%s\n", args, rc, out, err);
        fail();
    }
    test_assert_contains(err, needle);
    free(out);
    free(err);
}

static void test_bad_values(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    char args[1024];
    const char *m = test_shared(GGUF_F32);
    const struct {
        const char *rest, *needle; /* arguments after -m MODEL */
    } cases[] = {
        {"-t 0", "-t: 0 is out of range"},
        {"-t 1,0", "-t: 0 is out of range"},
        {"-p -1", "-p: -1 is out of range"},
        {"-n x", "-n expects integers"},
        {"-p 8,", "-p expects integers"},
        {"-o xml", "unknown output format 'xml'"},
        {"-r 0", "-r: 0 is out of range"},
        {"-pg 8", "-pg expects two numbers"},
        {"--poll 101", "--poll: 101 is out of range"},
        {"--delay -1", "--delay"},
        {"--frobnicate", "unknown option '--frobnicate'"},
        {"-p 0 -n 0", "no tests to run"},
        {"-t", "-t needs a value"},
        {"--configs 2x", "--configs expects NxT pairs"},
        {"--configs 0x1", "--configs expects NxT pairs"},
        {"--configs 2x1 --sweep-threads", "cannot be combined"},
        {"-c 0", "-c: 0 is out of range"},
        {",/nonexistent/model.gguf", "cannot open model '/nonexistent/model.gguf'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(args, sizeof args, "-m %s%s%s", m, cases[i].rest[0] == ',' ? "" : " ", cases[i].rest);
        expect_error(args, cases[i].needle);
    }
    expect_error("-p 8", "no model given");
}

/* Bad placements are refused before the probe and the table: one error line, nothing on stdout. */
static void test_bad_mask(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    char args[1024];
    snprintf(args, sizeof args, "-m %s -p 8 -n 0 -r 1 -C zz -o csv", test_shared(GGUF_F32));
    expect_error(args, "mask");
    snprintf(args, sizeof args, "-m %s -p 8 -n 0 -r 1 -C 0x1,0x100000000", test_shared(GGUF_F32));
    expect_error(args, "0x100000000");
    snprintf(args, sizeof args, "-m %s -p 8 -n 0 -r 1 --numa sideways", test_shared(GGUF_F32));
    expect_error(args, "sideways");
}

static void test_help_and_version(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(bench(&out, NULL, "-h"), 0);
    test_assert_contains(out, "usage: cria bench");
    test_assert_contains(out, "--sweep-threads");
    free(out);
    assert_int_equal(test_run_cria("--version", &out, NULL), 0);
    test_assert_contains(out, "cria " CRIA_VERSION " (commit ");
    test_assert_contains(out, "compiler: ");
    test_assert_contains(out, "build flags: ");
    test_assert_contains(out, "simd: built scalar avx2 avx512; detected ");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_run_md),
        cmocka_unit_test(test_md_option_columns),
        cmocka_unit_test(test_csv_cross_product),
        cmocka_unit_test(test_repeated_and_models),
        cmocka_unit_test(test_ctx_sizes_and_progress),
        cmocka_unit_test(test_configs),
        cmocka_unit_test(test_plot),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_mask),
        cmocka_unit_test(test_help_and_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
