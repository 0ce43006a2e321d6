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
#include "vocab_cases.h"

#define GPT2_GGUF "vocab/ggml-vocab-gpt-2.gguf"
#define QWEN2_GGUF "models/synth-tiny-qwen2-q8_0.gguf"
#define QWEN2_GOLDEN "golden/arch/synth-tiny-qwen2-q8_0.p1.txt"

/* ---- helpers --------------------------------------------------------------- */

/* One reference case: the text and the expected ids (without BOS). */
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

/* Every case decodes back to its text, whole and through the streaming detokenizer. */
static void test_gpt2_roundtrip(void **state)
{
    (void)state;
    if (!test_have(GPT2_GGUF ".inp"))
        skip();
    cria_vocab *v = load_gguf_vocab(test_shared(GPT2_GGUF));
    ref_cases rc;
    ref_load(GPT2_GGUF, &rc);
    for (int i = 0; i < rc.n; i++) {
        size_t cap = rc.c[i].len + 16;
        char *buf = malloc(cap);
        assert_non_null(buf);
        int32_t n = cria_vocab_detokenize(v, rc.c[i].ids, rc.c[i].n_ids, buf, (int32_t)cap);
        assert_int_equal(n, (int32_t)rc.c[i].len);
        assert_memory_equal(buf, rc.c[i].text, rc.c[i].len);

        cria_detok d;
        cria_detok_init(&d, NULL);
        size_t at = 0;
        for (int32_t k = 0; k < rc.c[i].n_ids; k++) {
            int32_t got = cria_vocab_detok_push(v, &d, rc.c[i].ids[k], buf + at, (int32_t)(cap - at));
            assert_true(got >= 0);
            at += (size_t)got;
        }
        at += (size_t)cria_detok_flush(&d, buf + at, (int32_t)(cap - at));
        assert_int_equal(at, rc.c[i].len);
        assert_memory_equal(buf, rc.c[i].text, rc.c[i].len);
        free(buf);
    }
    ref_free(&rc);

    /* Bytes that are not UTF-8 survive too: every byte has a token. */
    static const char raw[] = "\xff\xfe" "ab\x80 \xc3(\x01\x7f";
    int32_t n;
    cria_token *ids = tokenize(v, raw, sizeof raw - 1, false, false, &n);
    char buf[64];
    assert_int_equal(cria_vocab_detokenize(v, ids, n, buf, sizeof buf), (int32_t)sizeof raw - 1);
    assert_memory_equal(buf, raw, sizeof raw - 1);
    free(ids);
    cria_vocab_free(v);
}

/* The GPT-2 vocabulary's settings and pieces as raw bytes. */
static void test_gpt2_vocab(void **state)
{
    (void)state;
    if (!test_have(GPT2_GGUF))
        skip();
    cria_vocab *v = load_gguf_vocab(test_shared(GPT2_GGUF));
    assert_int_equal(cria_vocab_n_tokens(v), 50257);
    assert_int_equal(cria_vocab_bos(v), 50256);
    assert_int_equal(cria_vocab_eos(v), 50256);
    assert_false(cria_vocab_add_bos(v)); /* no add_bos_token key: BPE default */
    assert_false(cria_vocab_add_eos(v));
    assert_false(cria_vocab_add_space_prefix(v));
    assert_true(cria_vocab_is_eog(v, 50256));
    char buf[32];
    assert_int_equal(cria_vocab_token_to_piece(v, 995, buf, sizeof buf), 6); /* "Ġworld" */
    assert_memory_equal(buf, " world", 6);
    assert_int_equal(cria_vocab_token_to_piece(v, 198, buf, sizeof buf), 1); /* "Ċ" */
    assert_int_equal(buf[0], '\n');
    assert_int_equal(cria_vocab_token_to_piece(v, 50256, buf, sizeof buf), 0); /* control: nothing */
    assert_int_equal(cria_vocab_token_to_piece(v, 995, buf, 3), -6);

    /* add_special without add_bos_token adds nothing; "Hello world" is [15496, 995]. */
    int32_t n;
    cria_token *ids = tokenize(v, "Hello world", 11, true, false, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 15496);
    assert_int_equal(ids[1], 995);
    free(ids);
    cria_vocab_free(v);
}

/* <|endoftext|> in the text is the control token only when asked for. */
static void test_gpt2_special(void **state)
{
    (void)state;
    if (!test_have(GPT2_GGUF))
        skip();
    cria_vocab *v = load_gguf_vocab(test_shared(GPT2_GGUF));
    static const char text[] = "Hello<|endoftext|> world";
    int32_t n;
    cria_token *ids = tokenize(v, text, sizeof text - 1, false, true, &n);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 15496);
    assert_int_equal(ids[1], 50256);
    assert_int_equal(ids[2], 995);
    free(ids);

    ids = tokenize(v, text, sizeof text - 1, false, false, &n);
    assert_true(n > 3);
    for (int32_t i = 0; i < n; i++)
        assert_int_not_equal(ids[i], 50256);
    char buf[64];
    assert_int_equal(cria_vocab_detokenize(v, ids, n, buf, sizeof buf), (int32_t)sizeof text - 1);
    assert_memory_equal(buf, text, sizeof text - 1);
    free(ids);
    cria_vocab_free(v);
}

/* ---- small written vocabularies ------------------------------------------ */

/* Pieces of the small vocabularies: single letters, their merges, a space ('Ġ'), a control token. */
static const char *const mini_tokens[] = {"a", "b", "c", "ab", "bc", "abc", "\xc4\xa0", "<|end|>"};
static const int32_t mini_types[] = {1, 1, 1, 1, 1, 1, 1, 3};
#define MINI_N 8
#define MINI_END 7

/*
 * Writes a BPE vocab GGUF: the mini pieces, n_merges merges (NULL: no key;
 * merges_as_ints: an integer array instead), pre (NULL: no key). Returns its path.
 */
static const char *write_bpe_gguf(const char *const *merges, uint64_t n_merges, bool merges_as_ints,
                                  const char *pre)
{
    cria_gguf_writer *w = cria_gguf_writer_init(0);
    assert_non_null(w);
    assert_true(cria_gguf_writer_set_str(w, "general.architecture", "gpt2"));
    assert_true(cria_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"));
    if (pre)
        assert_true(cria_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre));
    assert_true(cria_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", mini_tokens, MINI_N));
    assert_true(cria_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", CRIA_GGUF_INT32, mini_types, MINI_N));
    if (merges_as_ints) {
        static const int32_t ints[] = {1, 2};
        assert_true(cria_gguf_writer_set_arr(w, "tokenizer.ggml.merges", CRIA_GGUF_INT32, ints, 2));
    } else if (merges) {
        assert_true(cria_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, n_merges));
    }
    assert_true(cria_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", MINI_END));
    assert_true(cria_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", MINI_END));
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

/* Tokenizes text with the mini vocab made from these merges and pre; writes the ids as "3 2" into out. */
static void mini_ids(const char *const *merges, uint64_t n_merges, const char *pre, const char *text, char *out,
                     size_t cap)
{
    cria_vocab *v = NULL;
    cria_error err;
    const char *path = write_bpe_gguf(merges, n_merges, false, pre);
    if (load_written(path, &v, &err) != CRIA_OK)
        fail_msg("%s", err.msg);
    int32_t n;
    cria_token *ids = tokenize(v, text, strlen(text), true, true, &n);
    size_t at = 0;
    out[0] = '\0';
    for (int32_t i = 0; i < n; i++)
        at += (size_t)snprintf(out + at, cap - at, "%s%d", i ? " " : "", ids[i]);
    free(ids);
    cria_vocab_free(v);
}

/* The lowest-ranked merge applies first, whatever its position. */
static void test_merge_priority(void **state)
{
    (void)state;
    char got[64];
    static const char *const ab_first[] = {"a b", "b c"};
    mini_ids(ab_first, 2, "gpt-2", "abc", got, sizeof got);
    assert_string_equal(got, "3 2"); /* ab c */
    static const char *const bc_first[] = {"b c", "a b"};
    mini_ids(bc_first, 2, "gpt-2", "abc", got, sizeof got);
    assert_string_equal(got, "0 4"); /* a bc */
    static const char *const chain[] = {"b c", "a b", "a bc"};
    mini_ids(chain, 3, "gpt-2", "abc", got, sizeof got);
    assert_string_equal(got, "5"); /* abc */
    /* Two words: the space starts the second one; merges never cross words. */
    mini_ids(chain, 3, "gpt-2", "abc abc", got, sizeof got);
    assert_string_equal(got, "5 6 5");
    /* Llama 3 takes a word that is a token as it is (ignore_merges) and adds BOS by default. */
    static const char *const none_useful[] = {"a c"};
    mini_ids(none_useful, 1, "gpt-2", "abc", got, sizeof got);
    assert_string_equal(got, "0 1 2");
    mini_ids(none_useful, 1, "llama-bpe", "abc", got, sizeof got);
    assert_string_equal(got, "7 5");
    /* Special tokens in the text with parse_special (mini_ids asks for them). */
    mini_ids(chain, 3, "gpt-2", "ab<|end|>c", got, sizeof got);
    assert_string_equal(got, "3 7 2");
}

static void test_load_errors(void **state)
{
    (void)state;
    cria_vocab *v = NULL;
    cria_error err;
    static const char *const good[] = {"a b", "b c"};

    /* No merges at all. */
    assert_int_equal(load_written(write_bpe_gguf(NULL, 0, false, "gpt-2"), &v, &err), CRIA_ERR_FORMAT);
    assert_null(v);
    assert_non_null(strstr(err.msg, "tokenizer.ggml.merges"));

    /* Merges that are not strings. */
    assert_int_equal(load_written(write_bpe_gguf(NULL, 0, true, "gpt-2"), &v, &err), CRIA_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "not an array of strings"));

    /* A merge string that is not two pieces: no space, a leading space, nothing after the space. */
    static const char *const bad1[] = {"a b", "bc"};
    static const char *const bad2[] = {" ab"};
    static const char *const bad3[] = {"a b", "b c", "ab "};
    assert_int_equal(load_written(write_bpe_gguf(bad1, 2, false, "gpt-2"), &v, &err), CRIA_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "tokenizer.ggml.merges[1] = \"bc\""));
    assert_int_equal(load_written(write_bpe_gguf(bad2, 1, false, "gpt-2"), &v, &err), CRIA_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "merges[0]"));
    assert_int_equal(load_written(write_bpe_gguf(bad3, 3, false, "gpt-2"), &v, &err), CRIA_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "merges[2]"));

    /* An unknown pre-tokenizer is refused by name, not silently replaced. */
    assert_int_equal(load_written(write_bpe_gguf(good, 2, false, "klingon"), &v, &err), CRIA_ERR_UNSUPPORTED);
    assert_null(v);
    assert_non_null(strstr(err.msg, "\"klingon\""));

    /* No pre-tokenizer key: llama.cpp's "default" expressions. */
    assert_int_equal(load_written(write_bpe_gguf(good, 2, false, NULL), &v, &err), CRIA_OK);
    assert_non_null(v);
    cria_vocab_free(v);
    v = NULL;

    /* Every pre-tokenizer the issue names loads, and the others cria knows. */
    static const char *const names[] = {
        "gpt-2",       "llama-bpe", "llama3",  "qwen2",   "deepseek-llm", "deepseek-coder", "falcon",
        "starcoder",   "refact",    "mpt",     "gpt-neox", "default",     "deepseek-v3",    "gpt-4o",
        "tekken",      "viking",    "poro-chat", "dbrx",  "command-r",    "stablelm2",      "chatglm-bpe",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cria_status st = load_written(write_bpe_gguf(good, 2, false, names[i]), &v, &err);
        if (st != CRIA_OK)
            fail_msg("%s: %s", names[i], err.msg);
        cria_vocab_free(v);
        v = NULL;
    }
}

/* ---- pre-tokenizer splits ------------------------------------------------ */

/* Splits text with the pre-tokenizer name; returns the words joined by '|' (static buffer). */
static const char *split_with(const char *name, const char *text)
{
    static char out[512];
    cria_bpe_pre *p = NULL;
    cria_bpe_pre_flags flags;
    cria_error err;
    memset(&err, 0, sizeof err);
    if (cria_bpe_pre_create("test", name, strlen(name), &p, &flags, &err) != CRIA_OK)
        fail_msg("%s", err.msg);
    cria_bpe_split *s = cria_bpe_split_new(p);
    assert_non_null(s);
    const uint32_t *lens;
    size_t n;
    assert_true(cria_bpe_split_run(p, s, text, strlen(text), &lens, &n));
    size_t at = 0, off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        at += (size_t)snprintf(out + at, sizeof out - at, "%s%.*s", i ? "|" : "", (int)lens[i], text + off);
        off += lens[i];
    }
    assert_int_equal(off, strlen(text));
    cria_bpe_split_free(s);
    cria_bpe_pre_free(p);
    return out;
}

/* Each family's split of one sentence, worked out by hand from its expressions. */
static void test_pre_splits(void **state)
{
    (void)state;
    static const char t[] = "Hello world's 12345  x\n";
    assert_string_equal(split_with("gpt-2", t), "Hello| world|'s| 12345| | x|\n");
    assert_string_equal(split_with("mpt", t), "Hello| world|'s| 12345| | x|\n");
    assert_string_equal(split_with("gpt-neox", t), "Hello| world|'s| 12345| | x|\n");
    assert_string_equal(split_with("llama-bpe", t), "Hello| world|'s| |123|45| | x|\n");
    assert_string_equal(split_with("qwen2", t), "Hello| world|'s| |1|2|3|4|5| | x|\n");
    assert_string_equal(split_with("starcoder", t), "Hello| world|'s| |1|2|3|4|5| | x|\n");
    assert_string_equal(split_with("refact", t), "Hello| world|'s| |1|2|3|4|5| | x|\n");
    assert_string_equal(split_with("falcon", t), "Hello| world|'|s| |123|45| | x|\n");
    assert_string_equal(split_with("default", t), "Hello| world|'|s| |123|45| | x|\n");
    assert_string_equal(split_with("deepseek-coder", t), "Hello| world|'|s| |1|2|3|4|5| | x|\n");
    assert_string_equal(split_with("deepseek-llm", t), "Hello| world|'|s| |12345| | x|\n");
    assert_string_equal(split_with("deepseek-v3", t), "Hello| world|'s| |123|45| | x|\n");
    assert_string_equal(split_with("gpt-4o", t), "Hello| world's| |123|45| | x|\n");
    assert_string_equal(split_with("tekken", t), "Hello| world|'s| |1|2|3|4|5| | x|\n");
    /* Unicode letters and case-insensitive contractions. */
    assert_string_equal(split_with("gpt-2", "\xd0\xbd\xd0\xb5 \xd0\xbd\xd0\xb0"), "\xd0\xbd\xd0\xb5| \xd0\xbd\xd0\xb0");
    assert_string_equal(split_with("llama3", "I'LL GO"), "I|'LL| GO");
    assert_string_equal(split_with("gpt-2", "I'LL GO"), "I|'|LL| GO");
    /* Bytes that are not UTF-8 match nothing and stay words of their own. */
    assert_string_equal(split_with("gpt-2", "ab\xff\xfe" "cd"), "ab|\xff\xfe|cd");
    assert_string_equal(split_with("gpt-2", ""), "");
}

/* ---- the Qwen2 model's vocabulary ---------------------------------------- */

/* The synthetic Qwen2 model's vocabulary reproduces the reference engine's prompt ids (no BOS). */
static void test_qwen2_golden(void **state)
{
    (void)state;
    if (!test_have(QWEN2_GGUF) || !test_have(QWEN2_GOLDEN))
        skip();
    cria_vocab *v = load_gguf_vocab(test_shared(QWEN2_GGUF));
    char *g = test_read_file(test_shared(QWEN2_GOLDEN), NULL);
    assert_non_null(g);
    char *prompt = strstr(g, "prompt: "), *ids_line = strstr(g, "prompt_tokens: ");
    assert_non_null(prompt);
    assert_non_null(ids_line);
    prompt += strlen("prompt: ");
    size_t plen = strcspn(prompt, "\n");
    cria_token want[256];
    int32_t n_want = 0;
    char *q = ids_line + strlen("prompt_tokens: "), *e;
    for (;;) {
        long val = strtol(q, &e, 10);
        if (e == q || n_want == 256)
            break;
        want[n_want++] = (cria_token)val;
        q = e;
        if (*q == '\n')
            break;
    }
    assert_true(n_want > 0);
    int32_t n;
    cria_token *ids = tokenize(v, prompt, plen, true, false, &n); /* add_special: the vocab adds no BOS */
    if (n != n_want || memcmp(ids, want, (size_t)n * sizeof *ids) != 0) {
        print_ids("want", want, n_want);
        print_ids("got ", ids, n);
        fail();
    }
    free(ids);
    free(g);
    cria_vocab_free(v);
}

/* ---- cria tokenize ------------------------------------------------------- */

/* Runs cria tokenize with these arguments; returns its stdout (malloc'd) and checks the exit status. */
static char *run_tokenize(const char *args, int want_rc)
{
    char cmd[1024], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "tokenize %s", args);
    int rc = test_run_cria(cmd, &out, &err);
    if (rc != want_rc)
        fail_msg("cria %s: exit %d, want %d; stderr: %s", cmd, rc, want_rc, err ? err : "");
    free(err);
    assert_non_null(out);
    return out;
}

static void test_cli_tokenize(void **state)
{
    (void)state;
    if (!test_have(GPT2_GGUF) || !test_have("models/stories260K.bin") || !test_have("models/tok512.bin") ||
        !test_have("models/stories260K-f32.gguf"))
        skip();
    char args[1024];
    /* A vocab-only GGUF, both output forms, special tokens on and off. */
    snprintf(args, sizeof args, "-m '%s' -p 'Hello world<|endoftext|>' --special", test_shared(GPT2_GGUF));
    char *out = run_tokenize(args, 0);
    assert_string_equal(out, " 15496 -> 'Hello'\n   995 -> ' world'\n 50256 -> '<|endoftext|>'\n");
    free(out);
    snprintf(args, sizeof args, "-m '%s' -p 'Hello world<|endoftext|>' --ids", test_shared(GPT2_GGUF));
    out = run_tokenize(args, 0);
    assert_string_equal(out, "[15496, 995, 27, 91, 437, 1659, 5239, 91, 29]\n");
    free(out);
    /* A model GGUF (SPM): BOS by default, none with --no-bos. */
    snprintf(args, sizeof args, "-m '%s' -p 'Once upon a time' --ids", test_shared("models/stories260K-f32.gguf"));
    out = run_tokenize(args, 0);
    assert_string_equal(out, "[1, 403, 407, 261, 378]\n");
    free(out);
    snprintf(args, sizeof args, "-m '%s' -p 'Once upon a time' --ids --no-bos",
             test_shared("models/stories260K-f32.gguf"));
    out = run_tokenize(args, 0);
    assert_string_equal(out, "[403, 407, 261, 378]\n");
    free(out);
    /* A llama2.c checkpoint with its tokenizer.bin, piece form. */
    snprintf(args, sizeof args, "-m '%s' --vocab '%s' -p 'Once upon'", test_shared("models/stories260K.bin"),
             test_shared("models/tok512.bin"));
    out = run_tokenize(args, 0);
    assert_string_equal(out, "     1 -> '<s>'\n   403 -> ' Once'\n   407 -> ' upon'\n");
    free(out);
    /* Errors: no text, a missing file, a checkpoint without its tokenizer. */
    snprintf(args, sizeof args, "-m '%s'", test_shared(GPT2_GGUF));
    free(run_tokenize(args, 1));
    free(run_tokenize("-m /nonexistent/model.gguf -p x", 1));
    snprintf(args, sizeof args, "-m '%s' -p x", test_shared("models/stories260K.bin"));
    free(run_tokenize(args, 1));
}

/* ---- speed --------------------------------------------------------------- */

/* Tokenizes a few MB of mixed text (the reference inputs, repeated) and reports MB/s. */
static void test_speed(void **state)
{
    (void)state;
    if (!test_have(GPT2_GGUF ".inp"))
        skip();
    cria_vocab *v = load_gguf_vocab(test_shared(GPT2_GGUF));
    size_t n_inp;
    char *inp = test_read_file(test_shared(GPT2_GGUF ".inp"), &n_inp);
    assert_non_null(inp);
    size_t reps = (4u << 20) / n_inp + 1, len = reps * n_inp;
    char *text = malloc(len);
    assert_non_null(text);
    for (size_t i = 0; i < reps; i++)
        memcpy(text + i * n_inp, inp, n_inp);
    cria_token *ids = malloc(len * sizeof *ids);
    assert_non_null(ids);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int32_t n = cria_vocab_tokenize(v, text, len, ids, (int32_t)len, false);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    assert_true(n > 0);
    fprintf(stderr, "bpe: %.1f MB in %.3f s: %.1f MB/s, %.2f M tokens/s\n", (double)len / 1e6, s,
            (double)len / 1e6 / s, (double)n / 1e6 / s);
    /* The repeated text gives the repeated ids. */
    int32_t n_one = cria_vocab_tokenize(v, inp, n_inp, NULL, 0, false);
    assert_true(n_one < 0);
    free(ids);
    free(text);
    free(inp);
    cria_vocab_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2_ref_cases),
        cmocka_unit_test(test_gpt2_roundtrip),
        cmocka_unit_test(test_gpt2_vocab),
        cmocka_unit_test(test_gpt2_special),
        cmocka_unit_test(test_merge_priority),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_pre_splits),
        cmocka_unit_test(test_qwen2_golden),
        cmocka_unit_test(test_cli_tokenize),
        cmocka_unit_test(test_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
