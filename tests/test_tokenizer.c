/*
 * The SPM tokenizer against llama.cpp's reference cases and the golden
 * prompts, the decoders (token_to_piece, detokenize, the streaming UTF-8-safe
 * detokenizer), and the loaders on good and malformed inputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "tokenizer/vocab.h"
#include "util.h"
#include "vocab_cases.h"

#define SPM_GGUF "vocab/ggml-vocab-llama-spm.gguf"
#define LLAMA2_BIN "models/tokenizer.bin"
#define TOK512_BIN "models/tok512.bin"

/* ---- helpers --------------------------------------------------------------- */

/* One reference case: the text and the expected ids (without BOS). */
/* Tokenizes text; returns a malloc'd array and its length in *n. */
static cria_token *tokenize(const cria_vocab *v, const char *text, size_t len, bool add_bos, int32_t *n)
{
    int32_t need = cria_vocab_tokenize(v, text, len, NULL, 0, add_bos);
    if (need < 0)
        need = -need;
    cria_token *ids = malloc(((size_t)need + 1) * sizeof *ids);
    assert_non_null(ids);
    *n = cria_vocab_tokenize(v, text, len, ids, need, add_bos);
    assert_int_equal(*n, need);
    return ids;
}

static void print_ids(const char *label, const cria_token *ids, int32_t n)
{
    fprintf(stderr, "  %s:", label);
    for (int32_t i = 0; i < n; i++)
        fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "\n");
}

/* Checks every reference case against vocab v; reports each case that fails. */
static void check_ref_cases(const cria_vocab *v, const char *what)
{
    ref_cases rc;
    ref_load(SPM_GGUF, &rc);
    assert_true(rc.n >= 40);
    int failed = 0;
    for (int i = 0; i < rc.n; i++) {
        const ref_case *c = &rc.c[i];
        int32_t n;
        cria_token *ids = tokenize(v, c->text, c->len, false, &n);
        bool ok = n == c->n_ids && (n == 0 || memcmp(ids, c->ids, (size_t)n * sizeof *ids) == 0);
        if (!ok) {
            fprintf(stderr, "%s: case %d \"%.*s\" differs\n", what, i, (int)c->len, c->text);
            print_ids("expected", c->ids, c->n_ids);
            print_ids("got     ", ids, n);
            failed++;
        }
        free(ids);
    }
    ref_free(&rc);
    assert_int_equal(failed, 0);
}

static cria_vocab *load_bin(const char *rel, int32_t n)
{
    cria_vocab *v = NULL;
    cria_error err;
    memset(&err, 0, sizeof err);
    cria_status st = cria_vocab_load_llama2c(test_shared(rel), n, &v, &err);
    if (st != CRIA_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, CRIA_OK);
    return v;
}

static cria_vocab *load_gguf_vocab(const char *path)
{
    cria_gguf *g = NULL;
    cria_error err;
    memset(&err, 0, sizeof err);
    cria_status st = cria_gguf_open(path, &g, &err);
    if (st != CRIA_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, CRIA_OK);
    cria_vocab *v = NULL;
    st = cria_vocab_load_gguf(g, &v, &err);
    if (st != CRIA_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, CRIA_OK);
    cria_gguf_close(g); /* the vocab keeps copies */
    return v;
}

/* ---- reference cases --------------------------------------------------------- */

static void test_ref_cases_gguf(void **state)
{
    (void)state;
    if (!test_have(SPM_GGUF) || !test_have(SPM_GGUF ".inp"))
        skip();
    cria_vocab *v = load_gguf_vocab(test_shared(SPM_GGUF));
    assert_int_equal(cria_vocab_n_tokens(v), 32000);
    assert_int_equal(cria_vocab_bos(v), 1);
    assert_int_equal(cria_vocab_eos(v), 2);
    assert_int_equal(cria_vocab_unk(v), 0);
    assert_true(cria_vocab_add_bos(v));
    assert_false(cria_vocab_add_eos(v));
    assert_true(cria_vocab_add_space_prefix(v));
    check_ref_cases(v, SPM_GGUF);
    cria_vocab_free(v);
}

static void test_ref_cases_llama2c(void **state)
{
    (void)state;
    if (!test_have(LLAMA2_BIN) || !test_have(SPM_GGUF ".inp"))
        skip();
    cria_vocab *v = load_bin(LLAMA2_BIN, 32000);
    check_ref_cases(v, LLAMA2_BIN);
    cria_vocab_free(v);
}

/* The tokenizer.bin and the GGUF hold the same vocabulary: same pieces, scores and types per id. */
static void test_llama2c_matches_gguf(void **state)
{
    (void)state;
    if (!test_have(LLAMA2_BIN) || !test_have(SPM_GGUF))
        skip();
    cria_vocab *a = load_bin(LLAMA2_BIN, 0);
    cria_vocab *b = load_gguf_vocab(test_shared(SPM_GGUF));
    assert_int_equal(cria_vocab_n_tokens(a), cria_vocab_n_tokens(b));
    int diff = 0;
    for (cria_token t = 0; t < cria_vocab_n_tokens(a); t++) {
        bool same = strcmp(cria_vocab_piece_raw(a, t), cria_vocab_piece_raw(b, t)) == 0 &&
                    cria_vocab_token_type(a, t) == cria_vocab_token_type(b, t) &&
                    cria_vocab_score(a, t) == cria_vocab_score(b, t);
        if (!same && diff++ < 5)
            fprintf(stderr, "token %d: \"%s\" type %d score %g vs \"%s\" type %d score %g\n", t,
                    cria_vocab_piece_raw(a, t), cria_vocab_token_type(a, t), (double)cria_vocab_score(a, t),
                    cria_vocab_piece_raw(b, t), cria_vocab_token_type(b, t), (double)cria_vocab_score(b, t));
    }
    assert_int_equal(diff, 0);
    cria_vocab_free(a);
    cria_vocab_free(b);
}

/* ---- golden prompts (stories260K, tok512) --------------------------------- */

/* The text after "key: " on its line in buf, NUL-terminated in place. */
static char *golden_field(char *buf, const char *key)
{
    size_t kl = strlen(key);
    for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == ':' && p[kl + 1] == ' ') {
            char *s = p + kl + 2, *nl = strchr(s, '\n');
            if (nl)
                *nl = '\0';
            return s;
        }
    }
    return NULL;
}

static void check_golden(const cria_vocab *v, const char *rel)
{
    char *buf = test_read_file(test_shared(rel), NULL);
    assert_non_null(buf);
    char *prompt = golden_field(buf, "prompt");
    assert_non_null(prompt);
    char *toks = golden_field(prompt + strlen(prompt) + 1, "prompt_tokens");
    assert_non_null(toks);
    cria_token want[256];
    int32_t n_want = 0;
    for (char *e, *q = toks;; q = e) {
        long val = strtol(q, &e, 10);
        if (e == q)
            break;
        want[n_want++] = (cria_token)val;
    }
    int32_t n;
    cria_token *ids = tokenize(v, prompt, strlen(prompt), true, &n);
    if (n != n_want || memcmp(ids, want, (size_t)n * sizeof *ids) != 0) {
        fprintf(stderr, "%s: \"%s\"\n", rel, prompt);
        print_ids("expected", want, n_want);
        print_ids("got     ", ids, n);
        fail();
    }
    free(ids);
    free(buf);
}

static void test_tok512_golden(void **state)
{
    (void)state;
    if (!test_have(TOK512_BIN) || !test_have("golden/stories260K-f32.p1.txt"))
        skip();
    cria_vocab *v = load_bin(TOK512_BIN, 512);
    cria_token once[8];
    assert_int_equal(cria_vocab_tokenize(v, "Once upon a time", 16, once, 8, true), 5);
    static const cria_token want[5] = {1, 403, 407, 261, 378};
    assert_memory_equal(once, want, sizeof want);
    check_golden(v, "golden/stories260K-f32.p1.txt");
    check_golden(v, "golden/stories260K-f32.p2.txt");
    check_golden(v, "golden/stories260K-f32.p3.txt");
    cria_vocab_free(v);
}

/* The vocab inside the stories260K GGUF agrees with its tok512.bin on the golden prompts. */
static void test_stories260k_gguf_golden(void **state)
{
    (void)state;
    if (!test_have("models/stories260K-f32.gguf") || !test_have("golden/stories260K-f32.p1.txt"))
        skip();
    cria_vocab *v = load_gguf_vocab(test_shared("models/stories260K-f32.gguf"));
    assert_int_equal(cria_vocab_n_tokens(v), 512);
    check_golden(v, "golden/stories260K-f32.p1.txt");
    check_golden(v, "golden/stories260K-f32.p2.txt");
    check_golden(v, "golden/stories260K-f32.p3.txt");
    cria_vocab_free(v);
}

/* ---- tokenize edge cases ------------------------------------------------------ */

static void test_tokenize_edges(void **state)
{
    (void)state;
    if (!test_have(LLAMA2_BIN))
        skip();
    cria_vocab *v = load_bin(LLAMA2_BIN, 32000);
    cria_token ids[64];
    /* Empty text: nothing, or BOS alone. */
    assert_int_equal(cria_vocab_tokenize(v, "", 0, ids, 64, false), 0);
    assert_int_equal(cria_vocab_tokenize(v, "", 0, ids, 64, true), 1);
    assert_int_equal(ids[0], 1);
    assert_int_equal(cria_vocab_tokenize(v, NULL, 0, NULL, 0, false), 0);

    /* Too small a buffer: -(needed), nothing written past max_tokens. */
    const char *text = "Hello world";
    int32_t n = cria_vocab_tokenize(v, text, strlen(text), ids, 64, true);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], 15043);
    assert_int_equal(ids[2], 3186);
    for (int i = 0; i < 64; i++)
        ids[i] = -7;
    assert_int_equal(cria_vocab_tokenize(v, text, strlen(text), ids, 2, true), -3);
    for (int i = 2; i < 64; i++)
        assert_int_equal(ids[i], -7);
    assert_int_equal(cria_vocab_tokenize(v, text, strlen(text), NULL, 0, true), -3);

    /* The text need not be NUL-terminated: only len bytes count. */
    assert_int_equal(cria_vocab_tokenize(v, "Hello worldXYZ", 11, ids, 64, false), 2);

    /* Byte fallback for a character without a token, and invalid UTF-8 as bytes. */
    n = cria_vocab_tokenize(v, "\xf0\x9f\xa6\x99", 4, ids, 64, false); /* U+1F999 */
    assert_int_equal(n, 5);
    static const cria_token llama[5] = {29871, 243, 162, 169, 156};
    assert_memory_equal(ids, llama, sizeof llama);
    n = cria_vocab_tokenize(v, "\xff", 1, ids, 64, false);
    assert_int_equal(n, 2);
    assert_int_equal(ids[1], 3 + 0xff);

    /* parse_special turns "<s>" in the text into BOS; plain tokenize does not. */
    n = cria_vocab_tokenize_ex(v, "<s>Hi", 5, ids, 64, false, true);
    assert_true(n >= 2);
    assert_int_equal(ids[0], 1);
    n = cria_vocab_tokenize_ex(v, "<s>Hi", 5, ids, 64, false, false);
    for (int32_t i = 0; i < n; i++)
        assert_int_not_equal(ids[i], 1);

    assert_int_equal(cria_vocab_find(v, "\xe2\x96\x81Hello", 8), 15043);
    assert_int_equal(cria_vocab_find(v, "no such piece", 13), -1);
    assert_true(cria_vocab_is_eog(v, 2));
    assert_false(cria_vocab_is_eog(v, 1));
    assert_string_equal(cria_vocab_piece_raw(v, 1), "<s>");
    assert_string_equal(cria_vocab_piece_raw(v, 2), "</s>");
    assert_string_equal(cria_vocab_piece_raw(v, 99999), "");
    cria_vocab_free(v);
}

/* Long text (1 MB): the encoder stays O(n log n), well under a second even under ASan. */
static void test_tokenize_long(void **state)
{
    (void)state;
    if (!test_have(LLAMA2_BIN) || !test_have(SPM_GGUF ".inp"))
        skip();
    cria_vocab *v = load_bin(LLAMA2_BIN, 32000);
    size_t n_inp;
    char *inp = test_read_file(test_shared(SPM_GGUF ".inp"), &n_inp);
    assert_non_null(inp);
    size_t reps = 512, len = n_inp * reps;
    char *big = malloc(len + 1);
    assert_non_null(big);
    for (size_t i = 0; i < reps; i++)
        memcpy(big + i * n_inp, inp, n_inp);
    /* One long word too: a single run of letters merges through many levels. */
    memset(big + len / 2, 'a', 20000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int32_t n;
    cria_token *ids = tokenize(v, big, len, true, &n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    fprintf(stderr, "tokenized %zu bytes into %d tokens in %.3f s (twice: counting, then writing)\n", len, n, s);
    assert_true(n > (int32_t)(len / 8));
    /* And it decodes back to the text. */
    char *back = malloc(len + 16);
    assert_non_null(back);
    assert_int_equal(cria_vocab_detokenize(v, ids + 1, n - 1, back, (int32_t)len + 16), (int32_t)len);
    assert_memory_equal(back, big, len);
    free(back);
    free(ids);
    free(big);
    free(inp);
    cria_vocab_free(v);
}

/*
 * The reference the encoder must agree with: rescan every adjacent pair,
 * merge the best-scoring one (the leftmost on ties), repeat; O(n^2), plain.
 * Writes the ids (without BOS) into out and returns their count.
 */
static int32_t naive_encode(const cria_vocab *v, const char *text, size_t len, cria_token *out)
{
    char *buf = malloc(3 * len + 4);
    size_t (*sym)[2] = malloc((3 * len + 4) * sizeof *sym); /* offset, length */
    assert_non_null(buf);
    assert_non_null(sym);
    size_t n = 0, ns = 0;
    if (len > 0 && cria_vocab_add_space_prefix(v)) {
        memcpy(buf, "\xe2\x96\x81", 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(buf + n, "\xe2\x96\x81", 3);
            n += 3;
        } else {
            buf[n++] = text[i];
        }
    }
    for (size_t off = 0; off < n; ns++) {
        unsigned char c = (unsigned char)buf[off];
        size_t cl = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (cl > n - off)
            cl = n - off;
        sym[ns][0] = off;
        sym[ns][1] = cl;
        off += cl;
    }
    for (;;) {
        size_t best = SIZE_MAX;
        float best_score = 0;
        for (size_t i = 0; i + 1 < ns; i++) {
            cria_token t = cria_vocab_find(v, buf + sym[i][0], sym[i][1] + sym[i + 1][1]);
            if (t >= 0 && (best == SIZE_MAX || cria_vocab_score(v, t) > best_score)) {
                best = i;
                best_score = cria_vocab_score(v, t);
            }
        }
        if (best == SIZE_MAX)
            break;
        sym[best][1] += sym[best + 1][1];
        memmove(&sym[best + 1], &sym[best + 2], (ns - best - 2) * sizeof *sym);
        ns--;
    }
    int32_t k = 0;
    for (size_t i = 0; i < ns; i++) {
        cria_token t = cria_vocab_find(v, buf + sym[i][0], sym[i][1]);
        if (t >= 0) {
            out[k++] = t;
            continue;
        }
        for (size_t j = 0; j < sym[i][1]; j++) {
            char hex[7];
            snprintf(hex, sizeof hex, "<0x%02X>", (unsigned char)buf[sym[i][0] + j]);
            t = cria_vocab_find(v, hex, 6);
            out[k++] = t >= 0 ? t : cria_vocab_unk(v);
        }
    }
    free(sym);
    free(buf);
    return k;
}

/* Random texts of words, spaces, newlines, tabs, accents, CJK, emoji and stray bytes: encoder == reference. */
static void test_matches_naive(void **state)
{
    (void)state;
    if (!test_have(LLAMA2_BIN))
        skip();
    cria_vocab *v = load_bin(LLAMA2_BIN, 32000);
    static const char *const parts[] = {
        "the", " ", "  ", "\n", "\t", "a", "ing", "Hello", "world", "3", "333", ".", ",", "'s", "\xc3\xa9",
        "\xe4\xbd\xa0\xe5\xa5\xbd", "\xf0\x9f\xa6\x99", "\xe2\x96\x81", "\xff", "\x80", "\xe2", "(", "ll", "un",
        "\xd0\xbd\xd0\xb5", "\r\n", "   ", "re", "<s>", "e",
    };
    uint32_t seed = 12345;
    char text[512];
    cria_token got[2048], want[2048];
    for (int iter = 0; iter < 400; iter++) {
        size_t len = 0;
        seed = seed * 1103515245u + 12345u;
        int n_parts = (int)(seed >> 16) % 60;
        for (int k = 0; k < n_parts; k++) {
            seed = seed * 1103515245u + 12345u;
            const char *p = parts[(seed >> 16) % (sizeof parts / sizeof parts[0])];
            size_t pl = strlen(p);
            if (len + pl >= sizeof text)
                break;
            memcpy(text + len, p, pl);
            len += pl;
        }
        int32_t n_got = cria_vocab_tokenize(v, text, len, got, 2048, false);
        int32_t n_want = naive_encode(v, text, len, want);
        if (n_got != n_want || memcmp(got, want, (size_t)n_got * sizeof *got) != 0) {
            fprintf(stderr, "iteration %d: \"%.*s\"\n", iter, (int)len, text);
            print_ids("reference", want, n_want);
            print_ids("encoder  ", got, n_got);
            fail();
        }
    }
    cria_vocab_free(v);
}

/* ---- decoding ------------------------------------------------------------------ */

static void test_token_to_piece(void **state)
{
    (void)state;
    if (!test_have(LLAMA2_BIN))
        skip();
    cria_vocab *v = load_bin(LLAMA2_BIN, 32000);
    char buf[32];
    assert_int_equal(cria_vocab_token_to_piece(v, 15043, buf, sizeof buf), 6);
    assert_memory_equal(buf, " Hello", 6);
    assert_int_equal(cria_vocab_token_to_piece(v, 15043, buf, 3), -6);
    assert_int_equal(cria_vocab_token_to_piece(v, 15043, NULL, 0), -6);
    /* Control and unknown tokens print nothing; byte tokens their byte. */
    assert_int_equal(cria_vocab_token_to_piece(v, 0, buf, sizeof buf), 0);
    assert_int_equal(cria_vocab_token_to_piece(v, 1, buf, sizeof buf), 0);
    assert_int_equal(cria_vocab_token_to_piece(v, 2, buf, sizeof buf), 0);
    assert_int_equal(cria_vocab_token_type(v, 0), CRIA_TOKEN_UNKNOWN);
    assert_int_equal(cria_vocab_token_type(v, 1), CRIA_TOKEN_CONTROL);
    assert_int_equal(cria_vocab_token_type(v, 3 + 0x0a), CRIA_TOKEN_BYTE);
    assert_int_equal(cria_vocab_token_type(v, 15043), CRIA_TOKEN_NORMAL);
    assert_int_equal(cria_vocab_token_to_piece(v, 3 + 0x0a, buf, sizeof buf), 1);
    assert_int_equal(buf[0], '\n');
    assert_int_equal(cria_vocab_token_to_piece(v, 3 + 0xf0, buf, sizeof buf), 1);
    assert_int_equal((unsigned char)buf[0], 0xf0);
    /* Out of range: nothing. */
    assert_int_equal(cria_vocab_token_to_piece(v, -1, buf, sizeof buf), 0);
    assert_int_equal(cria_vocab_token_to_piece(v, 32000, buf, sizeof buf), 0);
    cria_vocab_free(v);
}

/* Streams ids through a fresh detokenizer and flushes; returns the malloc'd text, its length in *n. */
static char *stream_all(const cria_vocab *v, const cria_token *ids, int32_t n_ids, size_t *n)
{
    cria_detok d;
    cria_detok_init(&d, NULL);
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (int32_t i = 0; i <= n_ids; i++) {
        for (;;) {
            int32_t room = (int32_t)(cap - len);
            int32_t got = i < n_ids ? cria_vocab_detok_push(v, &d, ids[i], out + len, room)
                                    : cria_detok_flush(&d, out + len, room);
            if (got >= 0) {
                len += (size_t)got;
                break;
            }
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
    }
    *n = len;
    return out;
}

/*
 * Every reference case decodes back to its text: the ids alone through
 * cria_vocab_detokenize (llama.cpp's rule: the space the encoder added is
 * dropped from the first token), and BOS + ids through the stream (llama2.c's
 * rule: dropped from the token after BOS).
 */
static void test_roundtrip(void **state)
{
    (void)state;
    if (!test_have(LLAMA2_BIN) || !test_have(SPM_GGUF ".inp"))
        skip();
    cria_vocab *v = load_bin(LLAMA2_BIN, 32000);
    ref_cases rc;
    ref_load(SPM_GGUF, &rc);
    int failed = 0;
    for (int i = 0; i < rc.n; i++) {
        const ref_case *c = &rc.c[i];
        char buf[8192];
        int32_t n = cria_vocab_detokenize(v, c->ids, c->n_ids, buf, sizeof buf);
        assert_true(n >= 0);
        if ((size_t)n != c->len || memcmp(buf, c->text, c->len) != 0) {
            fprintf(stderr, "detokenize case %d: \"%.*s\" came back as \"%.*s\"\n", i, (int)c->len, c->text, n,
                    buf);
            failed++;
        }
        assert_int_equal(cria_vocab_detokenize(v, c->ids, c->n_ids, buf, 0), c->len ? -(int32_t)c->len : 0);

        cria_token *with_bos = malloc(((size_t)c->n_ids + 1) * sizeof *with_bos);
        assert_non_null(with_bos);
        with_bos[0] = 1;
        memcpy(with_bos + 1, c->ids, (size_t)c->n_ids * sizeof *with_bos);
        size_t sn;
        char *s = stream_all(v, with_bos, c->n_ids + 1, &sn);
        if (sn != c->len || memcmp(s, c->text, c->len) != 0) {
            fprintf(stderr, "stream case %d: \"%.*s\" came back as \"%.*s\"\n", i, (int)c->len, c->text, (int)sn, s);
            failed++;
        }
        free(s);
        free(with_bos);
    }
    ref_free(&rc);
    assert_int_equal(failed, 0);
    cria_vocab_free(v);
}

static cria_token byte_token(unsigned b)
{
    return (cria_token)(3 + b); /* Llama 2 places <0x00>..<0xFF> at 3..258 */
}

static void test_stream_utf8(void **state)
{
    (void)state;
    if (!test_have(LLAMA2_BIN))
        skip();
    cria_vocab *v = load_bin(LLAMA2_BIN, 32000);
    cria_detok d;
    char out[64];

    /* U+1F999 split over four byte tokens: nothing until the last byte, then all four. */
    cria_detok_init(&d, NULL);
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0xf0), out, sizeof out), 0);
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0x9f), out, sizeof out), 0);
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0xa6), out, sizeof out), 0);
    assert_int_equal(d.n_pending, 3);
    /* Too small a buffer: -(needed), and the state is kept for a retry. */
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0x99), out, 3), -4);
    assert_int_equal(d.n_pending, 3);
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0x99), out, sizeof out), 4);
    assert_memory_equal(out, "\xf0\x9f\xa6\x99", 4);
    assert_int_equal(d.n_pending, 0);
    assert_int_equal(cria_detok_flush(&d, out, sizeof out), 0);

    /* A normal token after an unfinished sequence: the stray bytes go out as they are, then the text. */
    cria_detok_init(&d, NULL);
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0xe2), out, sizeof out), 0);
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0x96), out, sizeof out), 0);
    assert_int_equal(cria_vocab_detok_push(v, &d, 15043, out, sizeof out), 8); /* " Hello" */
    assert_memory_equal(out, "\xe2\x96 Hello", 8);

    /* Invalid bytes are released at once: a lone continuation byte, 0xff, an overlong lead. */
    cria_detok_init(&d, NULL);
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0x80), out, sizeof out), 1);
    assert_int_equal((unsigned char)out[0], 0x80);
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0xff), out, sizeof out), 1);
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0xc0), out, sizeof out), 1);
    /* A lead followed by a non-continuation byte: the lead is released alone, the new lead waits. */
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0xe0), out, sizeof out), 0);
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0xc3), out, sizeof out), 1);
    assert_int_equal((unsigned char)out[0], 0xe0);
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0xa9), out, sizeof out), 2); /* U+00E9 */
    assert_memory_equal(out, "\xc3\xa9", 2);
    /* Surrogates (ED A0..BF) are not valid UTF-8: released byte by byte. */
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0xed), out, sizeof out), 0);
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0xa0), out, sizeof out), 2);

    /* Flush releases an unfinished sequence as it is. */
    cria_detok_init(&d, NULL);
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0xf0), out, sizeof out), 0);
    assert_int_equal(cria_vocab_detok_push(v, &d, byte_token(0x9f), out, sizeof out), 0);
    assert_int_equal(cria_detok_flush(&d, out, 1), -2);
    assert_int_equal(cria_detok_flush(&d, out, sizeof out), 2);
    assert_memory_equal(out, "\xf0\x9f", 2);
    assert_int_equal(cria_detok_flush(&d, out, sizeof out), 0);

    /* The leading space goes only after BOS; control tokens print nothing. */
    cria_detok_init(&d, NULL);
    assert_int_equal(cria_vocab_detok_push(v, &d, 15043, out, sizeof out), 6);
    cria_detok_init(&d, NULL);
    assert_int_equal(cria_vocab_detok_push(v, &d, 1, out, sizeof out), 0);
    assert_int_equal(cria_vocab_detok_push(v, &d, 15043, out, sizeof out), 5);
    assert_memory_equal(out, "Hello", 5);
    assert_int_equal(cria_vocab_detok_push(v, &d, 3186, out, sizeof out), 6);
    assert_memory_equal(out, " world", 6);
    assert_int_equal(cria_vocab_detok_push(v, &d, 2, out, sizeof out), 0);
    cria_vocab_free(v);
}

/* ---- malformed tokenizer.bin --------------------------------------------------- */

/* Writes a tokenizer.bin of the given bytes and loads it; returns the status, err filled. */
static cria_status load_bytes(const void *data, size_t size, int32_t n, cria_error *err, const char **path)
{
    *path = test_tmp_path(".bin");
    assert_true(test_write_file(*path, data, size));
    cria_vocab *v = NULL;
    memset(err, 0, sizeof *err);
    cria_status st = cria_vocab_load_llama2c(*path, n, &v, err);
    if (st == CRIA_OK)
        cria_vocab_free(v);
    else
        assert_null(v);
    unlink(*path);
    return st;
}

/* A small valid tokenizer.bin: <unk>, BOS, EOS, "a", " b", "<0x41>". */
static size_t small_bin(uint8_t *buf)
{
    static const char *const pieces[] = {"<unk>", "\n<s>\n", "\n</s>\n", "a", " b", "<0x41>"};
    size_t at = 0;
    int32_t max_len = 6;
    memcpy(buf + at, &max_len, 4);
    at += 4;
    for (int i = 0; i < 6; i++) {
        float score = (float)-i;
        int32_t len = (int32_t)strlen(pieces[i]);
        memcpy(buf + at, &score, 4);
        memcpy(buf + at + 4, &len, 4);
        memcpy(buf + at + 8, pieces[i], (size_t)len);
        at += 8 + (size_t)len;
    }
    return at;
}

static void test_bad_llama2c(void **state)
{
    (void)state;
    cria_error err;
    cria_vocab *v = NULL;
    const char *path;
    uint8_t buf[256];
    size_t size = small_bin(buf);

    /* The good one loads, with or without a count, and converts spaces. */
    assert_int_equal(load_bytes(buf, size, 6, &err, &path), CRIA_OK);
    assert_int_equal(load_bytes(buf, size, 0, &err, &path), CRIA_OK);
    path = test_tmp_path(".bin");
    assert_true(test_write_file(path, buf, size));
    assert_int_equal(cria_vocab_load_llama2c(path, 0, &v, &err), CRIA_OK);
    unlink(path);
    assert_int_equal(cria_vocab_n_tokens(v), 6);
    assert_string_equal(cria_vocab_piece_raw(v, 4), "\xe2\x96\x81" "b");
    assert_int_equal(cria_vocab_token_type(v, 5), CRIA_TOKEN_BYTE);
    assert_int_equal(cria_vocab_token_type(v, 3), CRIA_TOKEN_NORMAL);
    cria_token ids[8];
    /* " b" is a token; "A" falls back to <0x41>; "z" has neither a token nor a byte token: <unk>. */
    assert_int_equal(cria_vocab_tokenize(v, "bAz", 3, ids, 8, true), 4);
    static const cria_token want[4] = {1, 4, 5, 0};
    assert_memory_equal(ids, want, sizeof want);
    cria_vocab_free(v);

    /* Missing file. */
    memset(&err, 0, sizeof err);
    assert_int_equal(cria_vocab_load_llama2c("/nonexistent/tokenizer.bin", 0, &v, &err), CRIA_ERR_IO);
    assert_null(v);
    assert_non_null(strstr(err.msg, "/nonexistent/tokenizer.bin"));

    /* Empty, or a header cut short. */
    assert_int_equal(load_bytes(buf, 0, 0, &err, &path), CRIA_ERR_FORMAT);
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(load_bytes(buf, 3, 0, &err, &path), CRIA_ERR_FORMAT);

    /* Truncated inside a token's bytes, and inside a score/length pair. */
    assert_int_equal(load_bytes(buf, size - 2, 0, &err, &path), CRIA_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "byte"));
    assert_non_null(strstr(err.msg, "token 5"));
    assert_int_equal(load_bytes(buf, size - 10, 0, &err, &path), CRIA_ERR_FORMAT);

    /* Fewer tokens than the model expects. */
    assert_int_equal(load_bytes(buf, size, 7, &err, &path), CRIA_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "6 tokens"));

    /* Negative and absurd lengths (token 0's length is at bytes 8..11). */
    uint8_t bad[256];
    memcpy(bad, buf, size);
    int32_t neg = -5, huge = 0x7fffffff;
    memcpy(bad + 8, &neg, 4);
    assert_int_equal(load_bytes(bad, size, 0, &err, &path), CRIA_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "at byte 8"));
    memcpy(bad + 8, &huge, 4);
    assert_int_equal(load_bytes(bad, size, 0, &err, &path), CRIA_ERR_FORMAT);

    /* A length past the end of the file. */
    memcpy(bad, buf, size);
    int32_t past = 200;
    memcpy(bad + 8, &past, 4);
    assert_int_equal(load_bytes(bad, size, 0, &err, &path), CRIA_ERR_FORMAT);

    /* Negative max_token_length, and a bad expected count. */
    memcpy(bad, buf, size);
    memcpy(bad, &neg, 4);
    assert_int_equal(load_bytes(bad, size, 0, &err, &path), CRIA_ERR_FORMAT);
    assert_int_equal(load_bytes(buf, size, -1, &err, &path), CRIA_ERR_ARG);

    /* Too few tokens for <unk>, BOS and EOS. */
    assert_int_equal(load_bytes(buf, 4 + 8 + 5 + 8 + 5, 0, &err, &path), CRIA_ERR_FORMAT);
}

/* ---- GGUF vocabularies written here ---------------------------------------------- */

/*
 * Writes a vocab-only GGUF: tokens, then optional scores (n_scores of them)
 * and types; model is tokenizer.ggml.model. Returns the path.
 */
static const char *write_vocab_gguf(const char *model, const char *const *tokens, uint64_t n, const float *scores,
                                    uint64_t n_scores, const int32_t *types, uint32_t bos)
{
    cria_gguf_writer *w = cria_gguf_writer_init(0);
    assert_non_null(w);
    assert_true(cria_gguf_writer_set_str(w, "general.architecture", "llama"));
    assert_true(cria_gguf_writer_set_str(w, "tokenizer.ggml.model", model));
    assert_true(cria_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, n));
    if (scores)
        assert_true(cria_gguf_writer_set_arr(w, "tokenizer.ggml.scores", CRIA_GGUF_FLOAT32, scores, n_scores));
    if (types)
        assert_true(cria_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", CRIA_GGUF_INT32, types, n));
    assert_true(cria_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", bos));
    const char *path = test_tmp_path(".gguf");
    cria_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(cria_gguf_writer_write(w, path, &err), CRIA_OK);
    cria_gguf_writer_free(w);
    return path;
}

static cria_status load_written(const char *path, cria_vocab **v, cria_error *err)
{
    cria_gguf *g = NULL;
    memset(err, 0, sizeof *err);
    assert_int_equal(cria_gguf_open(path, &g, err), CRIA_OK);
    cria_status st = cria_vocab_load_gguf(g, v, err);
    cria_gguf_close(g);
    unlink(path);
    return st;
}

static const char *const mini_tokens[] = {
    "<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "<x>", "\xe2\x96\x81" "a", "\xe2\x96\x81" "b", "aa",
};
static const float mini_scores[] = {0, 0, 0, -1, -2, -2, 0, -1, -1, -3};
static const int32_t mini_types[] = {2, 3, 3, 1, 1, 1, 4, 1, 1, 1};
#define MINI_N 10

static void test_gguf_bad(void **state)
{
    (void)state;
    cria_vocab *v = NULL;
    cria_error err;

    /* Scores shorter than the tokens. */
    const char *path = write_vocab_gguf("llama", mini_tokens, MINI_N, mini_scores, MINI_N - 1, mini_types, 1);
    assert_int_equal(load_written(path, &v, &err), CRIA_ERR_FORMAT);
    assert_null(v);
    assert_non_null(strstr(err.msg, "tokenizer.ggml.scores"));
    assert_non_null(strstr(err.msg, path));

    /* A tokenizer cria does not have (WordPiece). */
    path = write_vocab_gguf("bert", mini_tokens, MINI_N, mini_scores, MINI_N, mini_types, 1);
    assert_int_equal(load_written(path, &v, &err), CRIA_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "bert"));

    /* BPE without its merges (tests/test_bpe.c checks the rest of BPE loading). */
    path = write_vocab_gguf("gpt2", mini_tokens, MINI_N, mini_scores, MINI_N, mini_types, 1);
    assert_int_equal(load_written(path, &v, &err), CRIA_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "tokenizer.ggml.merges"));

    /* A special id out of range. */
    path = write_vocab_gguf("llama", mini_tokens, MINI_N, mini_scores, MINI_N, mini_types, 99);
    assert_int_equal(load_written(path, &v, &err), CRIA_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "tokenizer.ggml.bos_token_id"));

    /* Scores of the wrong type (int32 instead of float32). */
    {
        path = test_tmp_path(".gguf");
        cria_gguf_writer *w = cria_gguf_writer_init(0);
        assert_non_null(w);
        assert_true(cria_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama"));
        assert_true(cria_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", mini_tokens, MINI_N));
        assert_true(cria_gguf_writer_set_arr(w, "tokenizer.ggml.scores", CRIA_GGUF_INT32, mini_types, MINI_N));
        memset(&err, 0, sizeof err);
        assert_int_equal(cria_gguf_writer_write(w, path, &err), CRIA_OK);
        cria_gguf_writer_free(w);
    }
    assert_int_equal(load_written(path, &v, &err), CRIA_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "tokenizer.ggml.scores"));

    /* No vocabulary at all. */
    {
        cria_gguf_writer *w = cria_gguf_writer_init(0);
        assert_non_null(w);
        assert_true(cria_gguf_writer_set_str(w, "general.architecture", "llama"));
        path = test_tmp_path(".gguf");
        assert_int_equal(cria_gguf_writer_write(w, path, &err), CRIA_OK);
        cria_gguf_writer_free(w);
    }
    assert_int_equal(load_written(path, &v, &err), CRIA_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "tokenizer.ggml.model"));
}

/* User-defined tokens split the text first (each raw part gets the space prefix); merges prefer the best score, then the leftmost pair. */
static void test_gguf_user_defined(void **state)
{
    (void)state;
    cria_vocab *v = NULL;
    cria_error err;
    const char *path = write_vocab_gguf("llama", mini_tokens, MINI_N, mini_scores, MINI_N, mini_types, 1);
    assert_int_equal(load_written(path, &v, &err), CRIA_OK);
    cria_token ids[16];
    /* "a<x>b" -> " a" <x> " b" */
    assert_int_equal(cria_vocab_tokenize(v, "a<x>b", 5, ids, 16, false), 3);
    static const cria_token want[3] = {7, 6, 8};
    assert_memory_equal(ids, want, sizeof want);
    /* "aaa" -> "▁a" scores -1, "aa" -3: "▁a" first, then "a" "a" -> "aa": [7, 9] */
    assert_int_equal(cria_vocab_tokenize(v, "aaa", 3, ids, 16, false), 2);
    assert_int_equal(ids[0], 7);
    assert_int_equal(ids[1], 9);
    /* User-defined tokens print as stored. */
    char buf[8];
    assert_int_equal(cria_vocab_token_to_piece(v, 6, buf, sizeof buf), 3);
    assert_memory_equal(buf, "<x>", 3);
    cria_vocab_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_cases_gguf),
        cmocka_unit_test(test_ref_cases_llama2c),
        cmocka_unit_test(test_llama2c_matches_gguf),
        cmocka_unit_test(test_tok512_golden),
        cmocka_unit_test(test_stories260k_gguf_golden),
        cmocka_unit_test(test_tokenize_edges),
        cmocka_unit_test(test_tokenize_long),
        cmocka_unit_test(test_matches_naive),
        cmocka_unit_test(test_token_to_piece),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_stream_utf8),
        cmocka_unit_test(test_bad_llama2c),
        cmocka_unit_test(test_gguf_bad),
        cmocka_unit_test(test_gguf_user_defined),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
