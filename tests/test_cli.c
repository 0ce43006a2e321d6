/*
 * The command-line contract of `cria run`, tested through the binary
 * ($CRIA_BIN): every bad model file, checkpoint, vocabulary or flag must end
 * in a non-zero exit (never a signal), nothing on stdout (the prompt is printed
 * only once the model has loaded), and one line on stderr, "error: ...",
 * naming the file (or option) and what is wrong. Then the positive side:
 * golden greedy output, the llama-cli timing lines, --log-disable,
 * --dump-logits, -f, seeds and thread counts, -n 0 and -h.
 *
 * Bad GGUF files start from a tiny valid llama model written here with the
 * GGUF writer (dim 32, 2 layers, 4 heads, 2 kv heads, ff 64, a synthetic
 * 300-token SentencePiece vocabulary), which is first checked to run.
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
#include <sys/wait.h>
#include <unistd.h>

#include "cria.h"
#include "gguf/gguf.h"
#include "util.h"

#define PROMPT "Once upon a time"
#define GOLDEN_252 "golden/stories260K-greedy-252.txt"
#define CKPT "models/stories260K.bin"
#define TOK512 "models/tok512.bin"
#define GGUF_F32 "models/stories260K-f32.gguf"
#define LOGITS_P1 "golden/stories260K-f32.p1.logits.f32"

/* ---- small helpers -------------------------------------------------------------------- */

/* Fails the test, showing the text searched, when needle is not in hay. */
/* A freshly formatted argument string (cria's arguments, shell syntax); caller frees. */
static char *fmt_args(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_args(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Deterministic uniform floats in [-scale, scale). */
static float rnd(uint64_t *s, float scale)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return scale * ((float)(uint32_t)(*s >> 40) / (float)(1u << 24) * 2.0f - 1.0f);
}

/* Little-endian stores into a file image. */
static void put_u32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)(v >> (8 * i));
}

static void put_u64(char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (char)(v >> (8 * i));
}

/*
 * test_tmp_path and test_shared hand out 8 rotating buffers, and every
 * test_run_cria call takes two temp paths; hold copies a path into a ring of
 * 64 of its own, ample for the few paths a test keeps at once.
 */
static const char *hold(const char *path)
{
    static char ring[64][1024];
    static unsigned next;
    char *p = ring[next++ % 64];
    snprintf(p, sizeof ring[0], "%s", path);
    return p;
}

/* Writes the first n bytes of the shared (or any) file src to a fresh temp path. */
static const char *write_prefix(const char *src, size_t n, const char *suffix)
{
    size_t size;
    char *data = test_read_file(src, &size);
    assert_non_null(data);
    assert_true(n <= size);
    const char *path = hold(test_tmp_path(suffix));
    assert_true(test_write_file(path, data, n));
    free(data);
    return path;
}

/* ---- running cria --------------------------------------------------------------------- */

/*
 * Runs cria with args and checks a clean failure: exit status 1..123 (neither
 * a signal, which the shell and timeout report as 128+, nor the timeout's
 * 124), empty stdout, and stderr ending in a single "error: " line. strict:
 * stderr is nothing but that line. Returns the error line (caller frees).
 */
static char *run_fail(const char *args, bool strict)
{
    char *out = NULL, *err = NULL;
    int rc = test_run_cria(args, &out, &err);
    assert_non_null(out);
    assert_non_null(err);
    if (rc < 1 || rc > 123 || out[0] != '\0') {
        print_error("cria %s\nexit %d\nstdout: %s\nstderr: %s\n", args, rc, out, err);
        fail();
    }
    size_t n = strlen(err);
    const char *line = err;
    if (n > 0 && err[n - 1] == '\n') {
        for (const char *p = err; p < err + n - 1; p++) {
            if (*p == '\n')
                line = p + 1;
        }
    }
    bool one_error = strncmp(line, "error: ", 7) == 0 && n > 0 && err[n - 1] == '\n';
    for (const char *p = strstr(err, "error: "); one_error && p; p = strstr(p + 1, "error: "))
        one_error = p == line;
    if (!one_error || (strict && line != err)) {
        print_error("cria %s\nexit %d\nstderr is not a single \"error: \" line:\n%s", args, rc, err);
        fail();
    }
    char *msg = strdup(line);
    assert_non_null(msg);
    free(out);
    free(err);
    return msg;
}

/* run_fail(args, true), then each of the NULL-terminated words must be in the error line. */
static void expect_error(const char *args, ...) __attribute__((sentinel));
static void expect_error(const char *args, ...)
{
    char *msg = run_fail(args, true);
    va_list ap;
    va_start(ap, args);
    for (const char *w = va_arg(ap, const char *); w; w = va_arg(ap, const char *))
        test_assert_contains(msg, w);
    va_end(ap);
    free(msg);
}

/* As expect_error for a model file: `cria run -m 'model' EXTRA -p hi`. */
static void expect_model_error(const char *model, const char *extra, const char *word)
{
    char *args = fmt_args("run -m '%s' %s -p hi -n 4", model, extra ? extra : "");
    expect_error(args, model, word, (const char *)NULL);
    free(args);
}

/* Runs cria and asserts exit 0; returns stdout (caller frees), stderr into *err when err is set. */
static char *run_ok(const char *args, char **err)
{
    char *out = NULL, *e = NULL;
    int rc = test_run_cria(args, &out, &e);
    if (rc != 0 || !out) {
        print_error("cria %s\nexit %d\nstderr: %s\n", args, rc, e ? e : "(null)");
        fail();
    }
    if (err)
        *err = e;
    else
        free(e);
    return out;
}

/* ---- a tiny llama GGUF ---------------------------------------------------------------- */

enum { T_DIM = 32, T_LAYERS = 2, T_HEADS = 4, T_KV_HEADS = 2, T_FF = 64, T_VOCAB = 300, T_CTX = 64 };

typedef struct tiny_opts {
    const char *arch;        /* general.architecture; NULL: "llama" */
    const char *omit_key;    /* a metadata key left out */
    const char *omit_tensor; /* a tensor left out */
    const char *bad_tensor;  /* a tensor whose second dimension is one too large */
    const char *set_key;     /* an integer metadata key given the value set_value instead */
    uint32_t set_value;
} tiny_opts;

/*
 * SentencePiece vocabulary: <unk>, <s>, </s>, the 256 byte tokens <0x00>..
 * <0xFF>, U+2581 (a space), a..z, then a few merged pieces.
 */
static void tiny_vocab(cria_gguf_writer *w)
{
    static char pieces[T_VOCAB][16];
    static const char *const words[] = {"\xe2\x96\x81O", "On", "ce", "\xe2\x96\x81u", "up", "on", "\xe2\x96\x81t",
                                        "ti", "im", "me", "\xe2\x96\x81" "a", "th", "he", "\xe2\x96\x81the"};
    const char *ptrs[T_VOCAB];
    float scores[T_VOCAB];
    int32_t types[T_VOCAB];
    int n = 0;
    snprintf(pieces[n], sizeof pieces[n], "<unk>"), types[n++] = 2;
    snprintf(pieces[n], sizeof pieces[n], "<s>"), types[n++] = 3;
    snprintf(pieces[n], sizeof pieces[n], "</s>"), types[n++] = 3;
    for (int b = 0; b < 256; b++)
        snprintf(pieces[n], sizeof pieces[n], "<0x%02X>", b), types[n++] = 6;
    snprintf(pieces[n], sizeof pieces[n], "\xe2\x96\x81"), types[n++] = 1;
    for (char c = 'a'; c <= 'z'; c++)
        snprintf(pieces[n], sizeof pieces[n], "%c", c), types[n++] = 1;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        snprintf(pieces[n], sizeof pieces[n], "%s", words[i]), types[n++] = 1;
    assert_int_equal(n, T_VOCAB);
    for (int i = 0; i < n; i++) {
        ptrs[i] = pieces[i];
        scores[i] = types[i] == 1 ? (float)(i - n) : 0.0f;
    }
    assert_true(cria_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama"));
    assert_true(cria_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", ptrs, (uint64_t)n));
    assert_true(cria_gguf_writer_set_arr(w, "tokenizer.ggml.scores", CRIA_GGUF_FLOAT32, scores, (uint64_t)n));
    assert_true(cria_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", CRIA_GGUF_INT32, types, (uint64_t)n));
    assert_true(cria_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0));
    assert_true(cria_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1));
    assert_true(cria_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2));
}

typedef struct tiny_tensors {
    float *data[3 + 9 * T_LAYERS];
    int n;
} tiny_tensors;

/* Adds an F32 tensor of ne0 x ne1 (ne1 == 0: 1-D) filled with `fill`, or random values when fill is 0. */
static void tiny_tensor(cria_gguf_writer *w, tiny_tensors *tt, const tiny_opts *o, uint64_t *seed, const char *name,
                        uint64_t ne0, uint64_t ne1, float fill)
{
    if (o->omit_tensor && !strcmp(o->omit_tensor, name))
        return;
    if (o->bad_tensor && !strcmp(o->bad_tensor, name))
        ne1 = (ne1 ? ne1 : 1) + 1;
    const uint64_t ne[2] = {ne0, ne1 ? ne1 : 1};
    size_t n = (size_t)(ne[0] * ne[1]);
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = fill != 0.0f ? fill : rnd(seed, 0.3f);
    tt->data[tt->n++] = x;
    assert_true(cria_gguf_writer_add_tensor(w, name, CRIA_DTYPE_F32, ne1 ? 2 : 1, ne, x));
}

/* Writes a tiny llama model (altered as o says) to a fresh temp path and returns it. */
static const char *tiny_model(const tiny_opts *o)
{
    static const tiny_opts none;
    if (!o)
        o = &none;
    const char *arch = o->arch ? o->arch : "llama";
    cria_gguf_writer *w = cria_gguf_writer_init(0);
    assert_non_null(w);
    char key[96];
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)
#define KEEP(k) (!o->omit_key || strcmp(o->omit_key, (k)) != 0)
    if (KEEP("general.architecture"))
        assert_true(cria_gguf_writer_set_str(w, "general.architecture", arch));
    assert_true(cria_gguf_writer_set_str(w, "general.name", "tiny"));
    const struct {
        const char *suffix;
        uint32_t v;
    } ints[] = {
        {"context_length", T_CTX},        {"embedding_length", T_DIM},        {"block_count", T_LAYERS},
        {"feed_forward_length", T_FF},    {"attention.head_count", T_HEADS}, {"attention.head_count_kv", T_KV_HEADS},
        {"rope.dimension_count", T_DIM / T_HEADS},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        KEY(ints[i].suffix);
        const uint32_t v = o->set_key && !strcmp(o->set_key, key) ? o->set_value : ints[i].v;
        if (KEEP(key))
            assert_true(cria_gguf_writer_set_u32(w, key, v));
    }
    KEY("attention.layer_norm_rms_epsilon");
    if (KEEP(key))
        assert_true(cria_gguf_writer_set_f32(w, key, 1e-5f));
#undef KEY
#undef KEEP
    tiny_vocab(w);

    tiny_tensors tt = {.n = 0};
    uint64_t seed = 42;
    const uint64_t hd = T_DIM / T_HEADS;
    tiny_tensor(w, &tt, o, &seed, "token_embd.weight", T_DIM, T_VOCAB, 0.0f);
    tiny_tensor(w, &tt, o, &seed, "output_norm.weight", T_DIM, 0, 1.0f);
    tiny_tensor(w, &tt, o, &seed, "output.weight", T_DIM, T_VOCAB, 0.0f);
    for (int l = 0; l < T_LAYERS; l++) {
        const struct {
            const char *suffix;
            uint64_t ne0, ne1;
            float fill;
        } t[] = {
            {"attn_norm", T_DIM, 0, 1.0f},          {"attn_q", T_DIM, T_HEADS * hd, 0.0f},
            {"attn_k", T_DIM, T_KV_HEADS * hd, 0.0f}, {"attn_v", T_DIM, T_KV_HEADS * hd, 0.0f},
            {"attn_output", T_HEADS * hd, T_DIM, 0.0f}, {"ffn_norm", T_DIM, 0, 1.0f},
            {"ffn_gate", T_DIM, T_FF, 0.0f},        {"ffn_up", T_DIM, T_FF, 0.0f},
            {"ffn_down", T_FF, T_DIM, 0.0f},
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, t[i].suffix);
            tiny_tensor(w, &tt, o, &seed, name, t[i].ne0, t[i].ne1, t[i].fill);
        }
    }
    const char *path = hold(test_tmp_path(".gguf"));
    cria_error err;
    cria_status st = cria_gguf_writer_write(w, path, &err);
    if (st != CRIA_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(st, CRIA_OK);
    cria_gguf_writer_free(w);
    for (int i = 0; i < tt.n; i++)
        free(tt.data[i]);
    return path;
}

/*
 * File offset of tensor `name`'s type field in the GGUF at path (its data
 * offset field follows 4 bytes later).
 */
static size_t tensor_type_at(const char *path, const char *name)
{
    cria_gguf *g = NULL;
    cria_error err;
    assert_int_equal(cria_gguf_open(path, &g, &err), CRIA_OK);
    const cria_gguf_tensor *t = cria_gguf_find_tensor(g, name);
    assert_non_null(t);
    size_t at = (size_t)(t->info_offset + 8 + t->name.len + 4 + 8 * (uint64_t)t->n_dims);
    cria_gguf_close(g);
    return at;
}

/* A copy of the file at src with the 4 or 8 bytes at `at` set to v; returns the copy's path. */
static const char *patched_copy(const char *src, size_t at, uint64_t v, int width)
{
    size_t size;
    char *data = test_read_file(src, &size);
    assert_non_null(data);
    assert_true(at + (size_t)width <= size);
    if (width == 4)
        put_u32(data + at, (uint32_t)v);
    else
        put_u64(data + at, v);
    const char *path = hold(test_tmp_path(".gguf"));
    assert_true(test_write_file(path, data, size));
    free(data);
    return path;
}

/* ---- the valid tiny model runs -------------------------------------------------------- */

static void test_tiny_model_runs(void **state)
{
    (void)state;
    const char *path = tiny_model(NULL);
    char *args = fmt_args("run -m '%s' -p '" PROMPT "' -n 8 --temp 0", path);
    char *err = NULL;
    char *out = run_ok(args, &err);
    assert_true(strncmp(out, PROMPT, strlen(PROMPT)) == 0);
    test_assert_contains(err, "n_vocab 300, n_embd 32, n_ff 64, n_layer 2, n_head 4, n_head_kv 2");
    free(out);
    free(err);
    free(args);
    unlink(path);
}

/* ---- 1-3: missing, empty, not a model --------------------------------------------------- */

static void test_missing_file(void **state)
{
    (void)state;
    const char *path = hold(test_tmp_path(".gguf"));
    expect_model_error(path, NULL, "No such file");
}

static void test_empty_file(void **state)
{
    (void)state;
    const char *path = hold(test_tmp_path(".gguf"));
    assert_true(test_write_file(path, "", 0));
    expect_model_error(path, NULL, "empty");
    unlink(path);
}

static void test_wrong_magic(void **state)
{
    (void)state;
    /* Random bytes (a fixed seed), long enough to pass for a llama2.c header. */
    char junk[4096];
    uint64_t s = 7;
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(rnd(&s, 128.0f));
    const char *path = hold(test_tmp_path(".bin"));
    assert_true(test_write_file(path, junk, sizeof junk));
    expect_model_error(path, NULL, "not a llama2.c checkpoint");
    unlink(path);

    /* Text files, short and long; and a GGUF magic with a wrong case. */
    const char *text = "This is not a model.\n";
    path = hold(test_tmp_path(".txt"));
    assert_true(test_write_file(path, text, strlen(text)));
    expect_model_error(path, NULL, "not a GGUF file");
    unlink(path);
    const char *longer = "# Notes\n\nThis file is plain text, long enough to fill a llama2.c header and more.\n";
    path = hold(test_tmp_path(".txt"));
    assert_true(test_write_file(path, longer, strlen(longer)));
    expect_model_error(path, NULL, "not a llama2.c checkpoint");
    unlink(path);
    path = hold(test_tmp_path(".gguf"));
    char gguf[64] = "gguf";
    assert_true(test_write_file(path, gguf, sizeof gguf));
    expect_model_error(path, NULL, "GGUF");
    unlink(path);
}

/* A directory is not a model either. */
static void test_directory(void **state)
{
    (void)state;
    const char *dir = getenv("TMPDIR");
    dir = dir && *dir ? dir : "/tmp";
    expect_model_error(dir, NULL, "not a regular file");
}

/* ---- 4-5: truncated GGUF -------------------------------------------------------------- */

/* True when msg says the file ends too soon, in one of the reader's words. */
static bool says_truncated(const char *msg)
{
    return strstr(msg, "truncated") || strstr(msg, "remain") || strstr(msg, "past the end") ||
           strstr(msg, "too short");
}

static void expect_truncated(const char *path)
{
    char *args = fmt_args("run -m '%s' -p hi", path);
    char *msg = run_fail(args, true);
    test_assert_contains(msg, path);
    if (!says_truncated(msg)) {
        print_error("no word for truncation in: %s", msg);
        fail();
    }
    free(msg);
    free(args);
}

static void test_gguf_truncated_header(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    const char *src = hold(test_shared(GGUF_F32));
    cria_gguf *g = NULL;
    cria_error err;
    assert_int_equal(cria_gguf_open(src, &g, &err), CRIA_OK);
    const size_t data = (size_t)cria_gguf_data_offset(g);
    /* Inside the magic, the version, each count, the key/values, the tensor infos, the padding. */
    const size_t cuts[] = {2, 4, 6, 8, 12, 16, 20, 24, 25, 40, 100, 1000, 2000, 5000, 10000,
                           (size_t)cria_gguf_tensor_at(g, cria_gguf_n_tensors(g) - 1)->info_offset + 3, data - 1};
    cria_gguf_close(g);
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        const char *path = write_prefix(src, cuts[i], ".gguf");
        expect_truncated(path);
        unlink(path);
    }
}

static void test_gguf_truncated_data(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    const char *src = hold(test_shared(GGUF_F32));
    size_t size;
    char *whole = test_read_file(src, &size);
    assert_non_null(whole);
    free(whole);
    const size_t cuts[] = {size - 1, size - 100, size - 5000, size / 2, 20000};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        const char *path = write_prefix(src, cuts[i], ".gguf");
        char *args = fmt_args("run -m '%s' -p hi", path);
        expect_error(args, path, "past the end", (const char *)NULL);
        free(args);
        unlink(path);
    }
}

/* ---- 6-8: patched tiny models --------------------------------------------------------- */

static void test_tensor_offset_past_end(void **state)
{
    (void)state;
    const char *good = tiny_model(NULL);
    size_t size;
    free(test_read_file(good, &size));
    const size_t at = tensor_type_at(good, "blk.1.ffn_down.weight") + 4;
    /* Just past the end, aligned; far past; and so far that offset + size overflows. */
    const uint64_t offsets[] = {(size + 31) / 32 * 32, 1ull << 40, UINT64_MAX - 31};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        const char *path = patched_copy(good, at, offsets[i], 8);
        expect_model_error(path, NULL, "blk.1.ffn_down.weight");
        char *args = fmt_args("run -m '%s' -p hi", path);
        char *msg = run_fail(args, true);
        if (!says_truncated(msg) && !strstr(msg, "overflow")) {
            print_error("offset %llu: %s", (unsigned long long)offsets[i], msg);
            fail();
        }
        free(msg);
        free(args);
        unlink(path);
    }
    /* An offset that is not aligned. */
    const char *path = patched_copy(good, at, 4, 8);
    expect_model_error(path, NULL, "align");
    unlink(path);
    unlink(good);
}

static void test_absurd_counts(void **state)
{
    (void)state;
    const char *good = tiny_model(NULL);
    const char *path = patched_copy(good, 8, 1ull << 60, 8);
    expect_model_error(path, NULL, "tensor count");
    unlink(path);
    path = patched_copy(good, 16, 1ull << 60, 8);
    expect_model_error(path, NULL, "count");
    unlink(path);
    path = patched_copy(good, 8, UINT64_MAX, 8);
    expect_model_error(path, NULL, "tensor count");
    unlink(path);
    unlink(good);
    if (test_have(GGUF_F32)) {
        path = patched_copy(test_shared(GGUF_F32), 8, 1ull << 60, 8);
        expect_model_error(path, NULL, "tensor count");
        unlink(path);
    }
}

static void test_unknown_tensor_type(void **state)
{
    (void)state;
    const char *good = tiny_model(NULL);
    const char *path = patched_copy(good, tensor_type_at(good, "blk.0.attn_q.weight"), 99, 4);
    expect_model_error(path, NULL, "unknown type id 99");
    expect_model_error(path, NULL, "blk.0.attn_q.weight");
    cria_model *m = NULL;
    cria_error err;
    assert_int_equal(cria_model_load(path, NULL, &m, &err), CRIA_ERR_UNSUPPORTED);
    unlink(path);
    unlink(good);
}

/* ---- 9-11: metadata, tensors, architecture --------------------------------------------- */

static void test_missing_metadata(void **state)
{
    (void)state;
    const char *keys[] = {"llama.embedding_length", "general.architecture", "llama.block_count",
                          "llama.attention.head_count", "llama.attention.layer_norm_rms_epsilon",
                          "llama.context_length", "llama.feed_forward_length"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *path = tiny_model(&(tiny_opts){.omit_key = keys[i]});
        expect_model_error(path, NULL, keys[i]);
        expect_model_error(path, NULL, "missing");
        unlink(path);
    }
}

static void test_missing_tensor(void **state)
{
    (void)state;
    const char *names[] = {"blk.1.ffn_down.weight", "token_embd.weight", "blk.0.attn_norm.weight",
                           "output_norm.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *path = tiny_model(&(tiny_opts){.omit_tensor = names[i]});
        char *args = fmt_args("run -m '%s' -p hi", path);
        expect_error(args, path, "missing tensor", names[i], (const char *)NULL);
        free(args);
        unlink(path);
    }
    /* output.weight is optional: without it the classifier is the embedding (tied). */
    const char *path = tiny_model(&(tiny_opts){.omit_tensor = "output.weight"});
    char *args = fmt_args("run -m '%s' -p hi -n 2", path);
    char *err = NULL;
    free(run_ok(args, &err));
    test_assert_contains(err, "tied output");
    free(err);
    free(args);
    unlink(path);
}

static void test_misshaped_tensor(void **state)
{
    (void)state;
    const char *names[] = {"blk.0.attn_q.weight", "blk.1.attn_k.weight", "blk.1.ffn_down.weight",
                           "token_embd.weight", "output.weight", "blk.0.ffn_norm.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *path = tiny_model(&(tiny_opts){.bad_tensor = names[i]});
        char *args = fmt_args("run -m '%s' -p hi", path);
        expect_error(args, path, names[i], "shape", (const char *)NULL);
        free(args);
        unlink(path);
    }
}

static void test_unsupported_arch(void **state)
{
    (void)state;
    const char *path = tiny_model(&(tiny_opts){.arch = "gpt2"});
    char *args = fmt_args("run -m '%s' -p hi", path);
    expect_error(args, path, "'gpt2'", "not supported", (const char *)NULL);
    free(args);
    /* The status behind that message, through the library. */
    cria_model *m = NULL;
    cria_error err;
    assert_int_equal(cria_model_load(path, NULL, &m, &err), CRIA_ERR_UNSUPPORTED);
    assert_null(m);
    unlink(path);
}

/* Metadata the tensors contradict or no machine could hold: a clean error, never an allocation sized by it. */
static void test_absurd_metadata(void **state)
{
    (void)state;
    const struct {
        const char *key;
        uint32_t value;
        const char *word;
    } cases[] = {
        {"llama.block_count", 1u << 30, "block count"},
        {"llama.block_count", 0x7fffffff, "tensors"},
        {"llama.block_count", 0x80000000u, "out of range"},
        {"llama.block_count", 0, "block count is 0"},
        {"llama.block_count", 3, "missing tensor 'blk.2.attn_norm.weight'"},
        {"llama.embedding_length", 1u << 30, "head size"},
        {"llama.embedding_length", 0, "embedding length is 0"},
        {"llama.feed_forward_length", 0x7fffffff, "shape"},
        {"llama.attention.head_count", 0, "head count is 0"},
        {"llama.attention.head_count", 0x7fffffff, "not a multiple"},
        {"llama.attention.head_count_kv", 3, "not a multiple"},
        {"llama.attention.head_count_kv", 0x7fffffff, "not a multiple"},
        {"llama.rope.dimension_count", 3, "rope dimension count"},
        {"llama.rope.dimension_count", 1u << 30, "rope dimension count"},
        {"llama.context_length", 0, "context length 0"},
        {"llama.context_length", 0x7fffffff, "-c"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = tiny_model(&(tiny_opts){.set_key = cases[i].key, .set_value = cases[i].value});
        expect_model_error(path, NULL, cases[i].word);
        unlink(path);
    }
    /* A huge training context is fine when -c asks for less. */
    const char *path = tiny_model(&(tiny_opts){.set_key = "llama.context_length", .set_value = 0x7fffffff});
    char *args = fmt_args("run -m '%s' -c 16 -p hi -n 2", path);
    free(run_ok(args, NULL));
    free(args);
    unlink(path);
}

/* ---- 12: a prompt longer than the context ----------------------------------------------- */

static void test_prompt_too_long(void **state)
{
    (void)state;
    const char *path = tiny_model(NULL);
    const char *prompt = "Once upon a time there was a little girl who lived in a village near the forest";
    char *args = fmt_args("run -m '%s' -c 8 -p '%s' --log-disable", path, prompt);
    expect_error(args, "prompt is too long", "-c", (const char *)NULL);
    free(args);
    /* Without --log-disable the load lines come first, but the error is still one last line and stdout is empty. */
    args = fmt_args("run -m '%s' -c 8 -p '%s'", path, prompt);
    char *msg = run_fail(args, false);
    test_assert_contains(msg, "prompt is too long");
    free(msg);
    free(args);
    unlink(path);
}

/* ---- 13: llama2.c checkpoints ----------------------------------------------------------- */

static void test_llama2c_truncated(void **state)
{
    (void)state;
    SKIP_WITHOUT(CKPT);
    SKIP_WITHOUT(TOK512);
    const char *src = hold(test_shared(CKPT));
    size_t size;
    free(test_read_file(src, &size));
    const size_t cuts[] = {size - 1, size - 4096, size / 2, 64, 28};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        const char *path = write_prefix(src, cuts[i], ".bin");
        char *args = fmt_args("run -m '%s' --vocab '%s' -p hi", path, test_shared(TOK512));
        expect_error(args, path, "truncated", (const char *)NULL);
        free(args);
        unlink(path);
    }
    const char *path = write_prefix(src, 27, ".bin");
    char *args = fmt_args("run -m '%s' --vocab '%s' -p hi", path, test_shared(TOK512));
    expect_error(args, path, "too short", (const char *)NULL);
    free(args);
    unlink(path);
}

static void test_llama2c_bad_header(void **state)
{
    (void)state;
    /* dim, hidden, layers, heads, kv heads, vocab, seq_len: a plausible header, then zeros. */
    const int32_t good[7] = {64, 172, 5, 8, 4, 512, 512};
    const struct {
        int index;
        int32_t value;
    } bad[] = {{0, 0}, {0, -64}, {1, 0}, {2, -1}, {3, 0}, {4, 0}, {6, 0}, {6, -512}, {0, INT32_MIN}, {5, INT32_MIN}};
    const size_t size = 28 + 4096;
    char *data = calloc(1, size);
    assert_non_null(data);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t h[7];
        memcpy(h, good, sizeof h);
        h[bad[i].index] = bad[i].value;
        for (int k = 0; k < 7; k++)
            put_u32(data + 4 * k, (uint32_t)h[k]);
        const char *path = hold(test_tmp_path(".bin"));
        assert_true(test_write_file(path, data, size));
        char word[64];
        snprintf(word, sizeof word, "header value %d", (int)bad[i].value);
        char *args = fmt_args("run -m '%s' --vocab /dev/null -p hi", path);
        expect_error(args, path, word, "out of range", (const char *)NULL);
        free(args);
        unlink(path);
    }
    /* Positive but inconsistent: 64 is not a multiple of 6 heads. */
    for (int k = 0; k < 7; k++)
        put_u32(data + 4 * k, (uint32_t)(k == 3 ? 6 : good[k]));
    const char *path = hold(test_tmp_path(".bin"));
    assert_true(test_write_file(path, data, size));
    char *args = fmt_args("run -m '%s' --vocab /dev/null -p hi", path);
    expect_error(args, path, "head count", (const char *)NULL);
    free(args);
    unlink(path);
    free(data);
}

static void test_llama2c_vocab(void **state)
{
    (void)state;
    SKIP_WITHOUT(CKPT);
    const char *ckpt = hold(test_shared(CKPT));
    char *args = fmt_args("run -m '%s' -p hi", ckpt);
    expect_error(args, ckpt, "--vocab", (const char *)NULL);
    free(args);
    const char *missing = hold(test_tmp_path(".bin"));
    args = fmt_args("run -m '%s' --vocab '%s' -p hi", ckpt, missing);
    expect_error(args, missing, "No such file", (const char *)NULL);
    free(args);
    const char *empty = hold(test_tmp_path(".bin"));
    assert_true(test_write_file(empty, "", 0));
    args = fmt_args("run -m '%s' --vocab '%s' -p hi", ckpt, empty);
    expect_error(args, empty, "too short", (const char *)NULL);
    free(args);
    unlink(empty);
}

/* ---- 14-15: flags -------------------------------------------------------------------- */

static void test_bad_flags(void **state)
{
    (void)state;
    const char *model = tiny_model(NULL);
    const char *pfile = hold(test_tmp_path(".txt"));
    assert_true(test_write_file(pfile, PROMPT, strlen(PROMPT)));
    const struct {
        const char *flags, *word;
    } cases[] = {
        {"--bogus", "unknown option '--bogus'"},
        {"-x 3", "unknown option '-x'"},
        {"-n abc", "-n"},
        {"-n 12x", "integer"},
        {"-n -2", "out of range"},
        {"-t 0", "-t"},
        {"-t -1", "out of range"},
        {"-tb 0", "-tb"},
        {"-c -5", "-c"},
        {"-c 99999999999999999999", "-c"},
        {"-b 0", "-b"},
        {"--temp -1", "--temp"},
        {"--temp nan", "--temp"},
        {"--top-p 2", "--top-p"},
        {"-s x", "-s"},
        {"-n", "needs a value"},
        {"--poll 101", "--poll"},
        {"--poll x", "--poll"},
        {"--cpu-strict 2", "--cpu-strict"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *args = fmt_args("run -m '%s' -p hi %s", model, cases[i].flags);
        expect_error(args, cases[i].word, (const char *)NULL);
        free(args);
    }
    expect_error("run -m", "-m", "needs a value", (const char *)NULL);
    expect_error("run -p hi", "no model", (const char *)NULL);
    char *args = fmt_args("run -m '%s' -p hi -f '%s'", model, pfile);
    expect_error(args, "-p", "-f", (const char *)NULL);
    free(args);
    const char *nofile = hold(test_tmp_path(".txt"));
    args = fmt_args("run -m '%s' -f '%s'", model, nofile);
    expect_error(args, nofile, "prompt file", (const char *)NULL);
    free(args);
    /* An unknown command: the error line comes first, then the top-level usage. */
    char *out = NULL, *err = NULL;
    assert_int_equal(test_run_cria("frobnicate", &out, &err), 1);
    assert_string_equal(out, "");
    assert_true(strncmp(err, "error: unknown command 'frobnicate'\n", 36) == 0);
    free(out);
    free(err);
    unlink(pfile);
    unlink(model);
}

static void test_help(void **state)
{
    (void)state;
    const char *helps[] = {"run -h", "run --help", "run -m /nonexistent -h"};
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
        char *err = NULL;
        char *out = run_ok(helps[i], &err);
        assert_true(strncmp(out, "usage: cria run", 15) == 0);
        test_assert_contains(out, "--dump-logits");
        assert_string_equal(err, "");
        free(out);
        free(err);
    }
}

/* ---- positive contract: stories260K --------------------------------------------------- */

/* `run -m stories260K.bin --vocab tok512.bin EXTRA` (caller frees). */
static char *ckpt_args(const char *extra)
{
    return fmt_args("run -m '%s' --vocab '%s' %s", test_shared(CKPT), test_shared(TOK512), extra);
}

static void test_golden_greedy(void **state)
{
    (void)state;
    SKIP_WITHOUT(CKPT);
    SKIP_WITHOUT(TOK512);
    SKIP_WITHOUT(GOLDEN_252);
    size_t n;
    char *golden = test_read_file(test_shared(GOLDEN_252), &n);
    assert_non_null(golden);
    char *args = ckpt_args("-p '" PROMPT "' -n 252 --temp 0");
    char *out = run_ok(args, NULL);
    assert_string_equal(out, golden);
    free(out);
    free(args);
    free(golden);
}

/* The line of err holding `key` (and not `not`); NULL when none does. */
static const char *find_line(const char *err, const char *key, const char *not)
{
    for (const char *line = err; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *k = strstr(line, key);
        const char *x = not ? strstr(line, not) : NULL;
        if (k && k < line + len && !(x && x < line + len))
            return k;
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

/* ms per token and tokens per second agree with the total time and count (printed to 2 decimals). */
static void check_rates(double ms, int n, double per_token, double per_second)
{
    assert_true(ms >= 0.0 && per_token >= 0.0 && per_second >= 0.0);
    if (n > 0)
        assert_true(fabs(per_token - ms / n) <= 0.006);
    if (n > 0 && ms >= 1.0)
        assert_true(fabs(per_second - 1e3 * n / ms) <= 0.01 * per_second + 1.0);
}

static void test_timing_lines(void **state)
{
    (void)state;
    SKIP_WITHOUT(CKPT);
    SKIP_WITHOUT(TOK512);
    char *args = ckpt_args("-p '" PROMPT "' -n 252 --temp 0");
    char *err = NULL;
    free(run_ok(args, &err));
    double ms, per_token, per_second;
    int n;
    const char *p = find_line(err, "load time = ", NULL);
    assert_non_null(p);
    assert_int_equal(sscanf(p, "load time = %lf ms", &ms), 1);
    assert_true(ms >= 0.0);

    p = find_line(err, "prompt eval time = ", NULL);
    assert_non_null(p);
    assert_int_equal(sscanf(p, "prompt eval time = %lf ms / %d tokens (%lf ms per token, %lf tokens per second)", &ms,
                            &n, &per_token, &per_second),
                     4);
    assert_int_equal(n, 5); /* BOS + 4 prompt tokens */
    check_rates(ms, n, per_token, per_second);

    p = find_line(err, "eval time = ", "prompt eval");
    assert_non_null(p);
    assert_int_equal(
        sscanf(p, "eval time = %lf ms / %d runs (%lf ms per token, %lf tokens per second)", &ms, &n, &per_token,
               &per_second),
        4);
    assert_int_equal(n, 251); /* the last of 252 tokens is sampled, not evaluated */
    check_rates(ms, n, per_token, per_second);

    p = find_line(err, "sampling time = ", NULL);
    assert_non_null(p);
    assert_int_equal(sscanf(p, "sampling time = %lf ms / %d runs (%lf ms per token, %lf tokens per second)", &ms,
                            &n, &per_token, &per_second),
                     4);
    assert_int_equal(n, 252);

    p = find_line(err, "total time = ", NULL);
    assert_non_null(p);
    assert_int_equal(sscanf(p, "total time = %lf ms / %d tokens", &ms, &n), 2);
    assert_int_equal(n, 256);
    assert_null(strstr(err, "error"));
    free(err);
    free(args);
}

static void test_log_disable(void **state)
{
    (void)state;
    SKIP_WITHOUT(CKPT);
    SKIP_WITHOUT(TOK512);
    SKIP_WITHOUT(GOLDEN_252);
    char *golden = test_read_file(test_shared(GOLDEN_252), NULL);
    assert_non_null(golden);
    char *args = ckpt_args("-p '" PROMPT "' -n 252 --temp 0 --log-disable");
    char *err = NULL;
    char *out = run_ok(args, &err);
    assert_string_equal(err, "");
    assert_string_equal(out, golden);
    free(out);
    free(err);
    free(args);
    /* The tiny GGUF too. */
    const char *model = tiny_model(NULL);
    args = fmt_args("run -m '%s' -p hi -n 4 --log-disable", model);
    out = run_ok(args, &err);
    assert_string_equal(err, "");
    free(out);
    free(err);
    free(args);
    unlink(model);
    free(golden);
}

static void test_dump_logits(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    SKIP_WITHOUT(LOGITS_P1);
    const char *dump = hold(test_tmp_path(".f32"));
    char *args = fmt_args("run -m '%s' -p '" PROMPT "' -n 0 --dump-logits '%s'", test_shared(GGUF_F32), dump);
    free(run_ok(args, NULL));
    size_t n_got, n_ref;
    char *got = test_read_file(dump, &n_got);
    char *ref = test_read_file(test_shared(LOGITS_P1), &n_ref);
    assert_non_null(got);
    assert_non_null(ref);
    assert_int_equal(n_got, 512 * sizeof(float));
    assert_int_equal(n_ref, n_got);
    float *a = malloc(n_ref), *b = malloc(n_got);
    assert_non_null(a);
    assert_non_null(b);
    memcpy(a, ref, n_ref);
    memcpy(b, got, n_got);
    double nmse = test_nmse(a, b, 512);
    if (!(nmse < 1e-6)) {
        print_error("logits NMSE %g\n", nmse);
        fail();
    }
    free(a);
    free(b);
    free(got);
    free(ref);
    free(args);
    unlink(dump);
    /* A dump path that cannot be written is an error naming it. */
    const char *bad = "/nonexistent-dir/logits.f32";
    args = fmt_args("run -m '%s' -p '" PROMPT "' -n 0 --dump-logits %s --log-disable", test_shared(GGUF_F32), bad);
    char *out = NULL, *err = NULL;
    int rc = test_run_cria(args, &out, &err);
    assert_int_equal(rc, 1);
    test_assert_contains(err, bad);
    free(out);
    free(err);
    free(args);
}

static void test_prompt_file(void **state)
{
    (void)state;
    SKIP_WITHOUT(CKPT);
    SKIP_WITHOUT(TOK512);
    const char *pfile = hold(test_tmp_path(".txt"));
    assert_true(test_write_file(pfile, PROMPT, strlen(PROMPT)));
    char *extra = fmt_args("-f '%s' -n 64 --temp 0", pfile);
    char *args = ckpt_args(extra);
    char *from_file = run_ok(args, NULL);
    free(args);
    free(extra);
    args = ckpt_args("-p '" PROMPT "' -n 64 --temp 0");
    char *from_flag = run_ok(args, NULL);
    assert_string_equal(from_file, from_flag);
    free(from_file);
    free(from_flag);
    free(args);
    unlink(pfile);
}

static void test_seed_and_threads(void **state)
{
    (void)state;
    SKIP_WITHOUT(CKPT);
    SKIP_WITHOUT(TOK512);
    char *args = ckpt_args("-p '" PROMPT "' -n 64 --temp 0.8 -s 1234");
    char *a = run_ok(args, NULL), *b = run_ok(args, NULL);
    assert_string_equal(a, b);
    assert_true(strncmp(a, PROMPT, strlen(PROMPT)) == 0);
    free(a);
    free(b);
    free(args);

    args = ckpt_args("-p '" PROMPT "' -n 64 --temp 0 -t 1");
    a = run_ok(args, NULL);
    free(args);
    args = ckpt_args("-p '" PROMPT "' -n 64 --temp 0 -t 2");
    b = run_ok(args, NULL);
    assert_string_equal(a, b);
    free(a);
    free(b);
    free(args);
}

static void test_n_zero(void **state)
{
    (void)state;
    SKIP_WITHOUT(CKPT);
    SKIP_WITHOUT(TOK512);
    char *args = ckpt_args("-p '" PROMPT "' -n 0");
    char *out = run_ok(args, NULL);
    assert_string_equal(out, PROMPT "\n");
    free(out);
    free(args);
}

/* Prompts are unescaped as llama-cli does (\n, \t, \\, quotes) unless --no-escape. */
static void test_escapes(void **state)
{
    (void)state;
    SKIP_WITHOUT(CKPT);
    SKIP_WITHOUT(TOK512);
    char *args = ckpt_args("-p 'A\\nB\\t\\\\ \\\"q\\\"' -n 0");
    char *out = run_ok(args, NULL);
    assert_string_equal(out, "A\nB\t\\ \"q\"\n");
    free(out);
    free(args);
    args = ckpt_args("-p 'A\\nB' --no-escape -n 0");
    out = run_ok(args, NULL);
    assert_string_equal(out, "A\\nB\n");
    free(out);
    free(args);
}

/* `make run` with no model anywhere: says where it looked and how to get one, and exits non-zero. */
static void test_make_run_without_model(void **state)
{
    (void)state;
    const char *dir = test_tmp_path("-norun");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/root/scripts' && cp scripts/run-default.sh '%s/root/scripts/' && "
             "env -u CRIA_MODEL '%s/root/scripts/run-default.sh' build/cria >'%s/out' 2>'%s/err'",
             dir, dir, dir, dir, dir);
    int st = system(cmd);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    char path[600];
    snprintf(path, sizeof path, "%s/err", dir);
    char *err = test_read_file(path, NULL);
    assert_non_null(err);
    assert_non_null(strstr(err, "no model found"));
    assert_non_null(strstr(err, "stories260K.bin"));
    assert_non_null(strstr(err, "curl"));
    free(err);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* cria info: the metadata and tensor table of a GGUF, the hyper-parameters of a checkpoint, clear errors. */
static void test_info(void **state)
{
    (void)state;
    SKIP_WITHOUT(GGUF_F32);
    SKIP_WITHOUT(CKPT);
    SKIP_WITHOUT(TOK512);
    char *args = fmt_args("info '%s'", test_shared(GGUF_F32));
    char *out = run_ok(args, NULL);
    test_assert_contains(out, "GGUF v3");
    test_assert_contains(out, "architecture: llama");
    test_assert_contains(out, "llama.embedding_length");
    test_assert_contains(out, "token_embd.weight");
    test_assert_contains(out, "[64, 512]");
    test_assert_contains(out, "32.000 bits per weight");
    free(out);
    free(args);
    args = fmt_args("info --vocab '%s' '%s'", test_shared(TOK512), test_shared(CKPT));
    out = run_ok(args, NULL);
    test_assert_contains(out, "llama2.c checkpoint");
    test_assert_contains(out, "n_embd 64");
    test_assert_contains(out, "tied output");
    free(out);
    free(args);
    expect_error("info /nonexistent/model.gguf", "/nonexistent/model.gguf", "cannot open", (const char *)NULL);
    expect_error("info", "no model", (const char *)NULL);
    expect_error("info --bogus x", "--bogus", (const char *)NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_model_runs),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_wrong_magic),
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_gguf_truncated_header),
        cmocka_unit_test(test_gguf_truncated_data),
        cmocka_unit_test(test_tensor_offset_past_end),
        cmocka_unit_test(test_absurd_counts),
        cmocka_unit_test(test_unknown_tensor_type),
        cmocka_unit_test(test_missing_metadata),
        cmocka_unit_test(test_missing_tensor),
        cmocka_unit_test(test_misshaped_tensor),
        cmocka_unit_test(test_unsupported_arch),
        cmocka_unit_test(test_absurd_metadata),
        cmocka_unit_test(test_prompt_too_long),
        cmocka_unit_test(test_llama2c_truncated),
        cmocka_unit_test(test_llama2c_bad_header),
        cmocka_unit_test(test_llama2c_vocab),
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_golden_greedy),
        cmocka_unit_test(test_timing_lines),
        cmocka_unit_test(test_log_disable),
        cmocka_unit_test(test_dump_logits),
        cmocka_unit_test(test_prompt_file),
        cmocka_unit_test(test_seed_and_threads),
        cmocka_unit_test(test_n_zero),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_make_run_without_model),
        cmocka_unit_test(test_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
