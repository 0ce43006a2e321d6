/*
 * The byte-level BPE tokenizer: llama.cpp's GPT-2 reference cases, round
 * trips, special tokens on and off, merge priority on a small vocabulary,
 * each pre-tokenizer's split, load errors, the Qwen2 golden prompt, the
 * `cria tokenize` command, and the encoder's speed.
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
#include "tokenizer/bpe_pre.h"
#include "tokenizer/vocab.h"
#include "util.h"

#define GPT2_GGUF "vocab/ggml-vocab-gpt-2.gguf"
#define QWEN2_GGUF "models/synth-tiny-qwen2-q8_0.gguf"
#define QWEN2_GOLDEN "golden/arch/synth-tiny-qwen2-q8_0.p1.txt"

/* ---- helpers --------------------------------------------------------------- */

/* One reference case: the text and the expected ids (without BOS). */
typedef struct ref_case {
    char *text;
    size_t len;
    cria_token *ids;
    int32_t n_ids;
} ref_case;

typedef struct ref_cases {
    ref_case *c;
    int n;
    char *inp, *outp; /* the files' buffers */
} ref_cases;

/*
 * Reads the .inp/.out pair of vocab rel as llama.cpp's test-tokenizer-0 does:
 * inputs split by "\n__ggml_vocab_test__\n" (text after the last separator,
 * if any, is one more case), one output line per case, ids separated by spaces.
 */
static void ref_load(const char *rel, ref_cases *rc)
{
    char inp[256], out[256];
    snprintf(inp, sizeof inp, "%s.inp", rel);
    snprintf(out, sizeof out, "%s.out", rel);
    memset(rc, 0, sizeof *rc);
    size_t n_inp, n_out;
    rc->inp = test_read_file(test_shared(inp), &n_inp);
    rc->outp = test_read_file(test_shared(out), &n_out);
    assert_non_null(rc->inp);
    assert_non_null(rc->outp);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    size_t sep_len = sizeof sep - 1;
    rc->c = calloc(1024, sizeof *rc->c);
    assert_non_null(rc->c);
    size_t pos = 0;
    while (pos < n_inp) {
        assert_true(rc->n < 1024);
        char *hit = strstr(rc->inp + pos, sep);
        size_t end = hit ? (size_t)(hit - rc->inp) : n_inp;
        rc->c[rc->n].text = rc->inp + pos;
        rc->c[rc->n].len = end - pos;
        rc->n++;
        if (!hit)
            break;
        pos = end + sep_len;
    }
    int line = 0;
    char *p = rc->outp;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        assert_true(line < rc->n);
        ref_case *c = &rc->c[line++];
        c->ids = malloc((strlen(p) / 2 + 1) * sizeof *c->ids);
        assert_non_null(c->ids);
        char *q = p, *e;
        for (;;) {
            long val = strtol(q, &e, 10);
            if (e == q)
                break;
            c->ids[c->n_ids++] = (cria_token)val;
            q = e;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    assert_int_equal(line, rc->n);
}

static void ref_free(ref_cases *rc)
{
    for (int i = 0; i < rc->n; i++)
        free(rc->c[i].ids);
    free(rc->c);
    free(rc->inp);
    free(rc->outp);
}

/* Tokenizes text; returns a malloc'd array and its length in *n. */
static cria_token *tokenize(const cria_vocab *v, const char *text, size_t len, bool add_special,
                            bool parse_special, int32_t *n)
{
    int32_t need = cria_vocab_tokenize_ex(v, text, len, NULL, 0, add_special, parse_special);
    if (need < 0)
        need = -need;
    cria_token *ids = malloc(((size_t)need + 1) * sizeof *ids);
    assert_non_null(ids);
    *n = cria_vocab_tokenize_ex(v, text, len, ids, need, add_special, parse_special);
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

static cria_vocab *load_gguf_vocab(const char *path)
{
    cria_gguf *g = NULL;
    cria_error err;
    memset(&err, 0, sizeof err);
    cria_status st = cria_gguf_open(path, &g, &err);
    if (st != CRIA_OK)
        fail_msg("%s", err.msg);
    cria_vocab *v = NULL;
    st = cria_vocab_load_gguf(g, &v, &err);
    if (st != CRIA_OK)
        fail_msg("%s", err.msg);
    cria_gguf_close(g); /* the vocab keeps copies */
    return v;
}

/* ---- GPT-2 reference cases ----------------------------------------------- */

static void test_gpt2_ref_cases(void **state)
{
    (void)state;
    if (!test_have(GPT2_GGUF ".inp"))
        skip();
    cria_vocab *v = load_gguf_vocab(test_shared(GPT2_GGUF));
    ref_cases rc;
    ref_load(GPT2_GGUF, &rc);
    int bad = 0;
    for (int i = 0; i < rc.n; i++) {
        int32_t n;
        cria_token *ids = tokenize(v, rc.c[i].text, rc.c[i].len, false, false, &n);
        if (n != rc.c[i].n_ids || memcmp(ids, rc.c[i].ids, (size_t)n * sizeof *ids) != 0) {
            fprintf(stderr, "case %d: '%.*s'\n", i, (int)rc.c[i].len, rc.c[i].text);
            print_ids("want", rc.c[i].ids, rc.c[i].n_ids);
            print_ids("got ", ids, n);
            bad++;
        }
        free(ids);
    }
    fprintf(stderr, "gpt-2: %d of %d cases match\n", rc.n - bad, rc.n);
    ref_free(&rc);
    cria_vocab_free(v);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2_ref_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
