/*
 * BPE pre-tokenizers: the regular expressions each tokenizer.ggml.pre name
 * stands for, compiled once per vocabulary with PCRE2 (UTF, Unicode
 * properties, JIT when the library has it), and the split they define.
 *
 * A pre-tokenizer is a list of expressions applied in turn, as llama.cpp's
 * unicode_regex_split does: each expression runs over every word the
 * previous ones produced, treating that word as the whole subject (so `$`
 * and `(?!\S)` see the word's end), and both its matches and the text
 * between them become words. Invalid UTF-8 never matches and ends up in the
 * words between matches.
 *
 * The expressions are the ones the reference tokenizers publish (tokenizer.json
 * and llama.cpp's llama-vocab.cpp), with non-ASCII literals written as \x{...}
 * and DeepSeek's long list of cased-letter ranges written as \p{L&}.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer/bpe_pre.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

/* Most expressions one pre-tokenizer applies in turn. */
#define PRE_MAX_EXPR 6

/* GPT-2's expression: contractions, letters, digits, other symbols, each with one optional leading space. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
/* Llama 3 (tiktoken cl100k): case-insensitive contractions, digits in groups of up to 3, newlines apart. */
#define RE_LLAMA3                                                                                             \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"        \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* Qwen2: Llama 3's expression with single digits. */
#define RE_QWEN2                                                                                              \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"             \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* CJK ideographs U+4E00-U+9FA5, U+0800-U+4E00 and Hangul U+AC00-U+D7FF, as DeepSeek writes them. */
#define RE_DEEPSEEK_CJK "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"

/* GPT-4o (o200k): cased words with their contractions, digits in groups of up to 3. */
#define RE_WORDS_CASED                                                                                        \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
#define RE_WORDS_UPPER                                                                                        \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
#define RE_CONTRACTION "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
#define RE_GPT4O                                                                                              \
    RE_WORDS_CASED RE_CONTRACTION "|" RE_WORDS_UPPER RE_CONTRACTION                                           \
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* Mistral's Tekken: the same words without contractions, single digits. */
#define RE_TEKKEN                                                                                             \
    RE_WORDS_CASED "|" RE_WORDS_UPPER "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* Poro, Viking, BLOOM: anything up to a space or one of these punctuation marks. */
#define RE_PORO " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{0964}\\x{06D4}\\x{060C})]+"

typedef struct pre_kind {
    const char *expr[PRE_MAX_EXPR]; /* NULL-terminated */
} pre_kind;

static const pre_kind pre_default = {{"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]", NULL}};
static const pre_kind pre_gpt2 = {{RE_GPT2, NULL}};
static const pre_kind pre_llama3 = {{RE_LLAMA3, NULL}};
static const pre_kind pre_qwen2 = {{RE_QWEN2, NULL}};
static const pre_kind pre_falcon = {{"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]", NULL}};
static const pre_kind pre_starcoder = {{"\\p{N}", RE_GPT2, NULL}};
static const pre_kind pre_deepseek_llm = {{
    "[\\r\\n]",
    "\\s?\\p{L&}+",
    "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
    "\\s+$",
    RE_DEEPSEEK_CJK,
    "\\p{N}+",
}};
static const pre_kind pre_deepseek_coder = {{"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_DEEPSEEK_CJK, "\\p{N}", NULL}};
static const pre_kind pre_deepseek_v3 = {{
    "\\p{N}{1,3}",
    "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
    "| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
}};
static const pre_kind pre_gpt4o = {{RE_GPT4O, NULL}};
static const pre_kind pre_tekken = {{RE_TEKKEN, NULL}};
static const pre_kind pre_poro = {{RE_PORO, NULL}};
static const pre_kind pre_viking = {{RE_PORO, "\\p{N}", NULL}};

/* Each tokenizer.ggml.pre name cria knows, with its expressions and settings (llama.cpp's names). */
static const struct pre_name {
    const char *name;
    const pre_kind *kind;
    cria_bpe_pre_flags flags;
} pre_names[] = {
    {"default", &pre_default, {false, false}},
    {"gpt-2", &pre_gpt2, {false, false}},
    {"phi-2", &pre_gpt2, {false, false}},
    {"mpt", &pre_gpt2, {false, false}},
    {"olmo", &pre_gpt2, {false, false}},
    {"jais", &pre_gpt2, {false, false}},
    {"roberta-bpe", &pre_gpt2, {false, false}},
    {"jina-es", &pre_gpt2, {false, false}},
    {"jina-de", &pre_gpt2, {false, false}},
    {"jina-v1-en", &pre_gpt2, {false, false}},
    {"jina-v2-es", &pre_gpt2, {false, false}},
    {"jina-v2-de", &pre_gpt2, {false, false}},
    {"jina-v2-code", &pre_gpt2, {false, false}},
    {"gigachat", &pre_gpt2, {false, false}},
    {"exaone4", &pre_gpt2, {false, false}},
    /* GPT-NeoX (Pythia) uses the byte-level GPT-2 expression; llama.cpp files from it carry no name. */
    {"gpt-neox", &pre_gpt2, {false, false}},
    {"llama3", &pre_llama3, {true, true}},
    {"llama-v3", &pre_llama3, {true, true}},
    {"llama-bpe", &pre_llama3, {true, true}},
    {"falcon3", &pre_llama3, {true, true}},
    {"falcon-h1", &pre_llama3, {true, true}},
    {"pixtral", &pre_llama3, {true, true}},
    {"midm-2.0", &pre_llama3, {true, true}},
    {"lfm2", &pre_llama3, {true, true}},
    {"chatglm-bpe", &pre_llama3, {false, false}},
    {"glm4", &pre_llama3, {false, false}},
    {"dbrx", &pre_llama3, {false, false}},
    {"smaug-bpe", &pre_llama3, {false, false}},
    {"qwen2", &pre_qwen2, {false, false}},
    {"deepseek-r1-qwen", &pre_qwen2, {false, false}},
    {"stablelm2", &pre_qwen2, {false, false}},
    {"megrez", &pre_qwen2, {false, false}},
    {"grok-2", &pre_qwen2, {false, false}},
    {"deepseek-llm", &pre_deepseek_llm, {false, false}},
    {"deepseek-coder", &pre_deepseek_coder, {false, false}},
    {"deepseek-v3", &pre_deepseek_v3, {false, false}},
    {"gpt-4o", &pre_gpt4o, {false, false}},
    {"llama4", &pre_gpt4o, {false, false}},
    {"tekken", &pre_tekken, {true, true}},
    {"falcon", &pre_falcon, {false, false}},
    {"starcoder", &pre_starcoder, {false, false}},
    {"refact", &pre_starcoder, {false, false}},
    {"command-r", &pre_starcoder, {false, false}},
    {"smollm", &pre_starcoder, {false, false}},
    {"codeshell", &pre_starcoder, {false, false}},
    {"exaone", &pre_starcoder, {false, false}},
    {"minerva-7b", &pre_starcoder, {false, false}},
    {"poro-chat", &pre_poro, {false, false}},
    {"bloom", &pre_poro, {false, false}},
    {"gpt3-finnish", &pre_poro, {false, false}},
    {"viking", &pre_viking, {false, false}},
};

struct cria_bpe_pre {
    int n_expr;
    pcre2_code *code[PRE_MAX_EXPR];
    bool jit; /* every expression JIT-compiled */
};

struct cria_bpe_split {
    pcre2_match_data *md;
    pcre2_match_context *mctx; /* with jit_stack, made when the default JIT stack is too small */
    pcre2_jit_stack *jit_stack;
    uint32_t *a, *b; /* word lengths: the current split and the next */
    size_t cap;
};

void cria_bpe_pre_free(cria_bpe_pre *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_expr; i++)
        pcre2_code_free(p->code[i]);
    free(p);
}

cria_status cria_bpe_pre_create(const char *file, const char *name, size_t len, cria_bpe_pre **out,
                                cria_bpe_pre_flags *flags, cria_error *err)
{
    *out = NULL;
    const struct pre_name *found = NULL;
    if (!name) {
        found = &pre_names[0];
    } else {
        for (size_t i = 0; i < sizeof pre_names / sizeof pre_names[0]; i++)
            if (strlen(pre_names[i].name) == len && memcmp(pre_names[i].name, name, len) == 0)
                found = &pre_names[i];
    }
    if (!found) {
        int shown = len > 64 ? 64 : (int)len;
        return cria_err_set(err, CRIA_ERR_UNSUPPORTED,
                            "%s: tokenizer.ggml.pre \"%.*s\" is not a pre-tokenizer cria knows (gpt-2, llama-bpe, "
                            "qwen2, deepseek-llm, deepseek-coder, falcon, starcoder, refact, mpt, gpt-neox, ...)",
                            file, shown, name);
    }
    cria_bpe_pre *p = calloc(1, sizeof *p);
    if (!p)
        return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory for the pre-tokenizer", file);
    p->jit = true;
    for (int i = 0; i < PRE_MAX_EXPR && found->kind->expr[i]; i++) {
        int code;
        PCRE2_SIZE at;
        const char *re = found->kind->expr[i];
        p->code[i] = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &code,
                                   &at, NULL);
        if (!p->code[i]) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(code, msg, sizeof msg);
            cria_bpe_pre_free(p);
            return cria_err_set(err, CRIA_ERR_UNSUPPORTED, "%s: pre-tokenizer \"%s\": expression %d at %zu: %s", file,
                                found->name, i, (size_t)at, (const char *)msg);
        }
        p->n_expr = i + 1;
        if (pcre2_jit_compile(p->code[i], PCRE2_JIT_COMPLETE) != 0)
            p->jit = false; /* no JIT on this platform: the interpreter gives the same matches */
    }
    *flags = found->flags;
    *out = p;
    return CRIA_OK;
}

cria_bpe_split *cria_bpe_split_new(const cria_bpe_pre *p)
{
    cria_bpe_split *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    uint32_t most = 0;
    for (int i = 0; i < p->n_expr; i++) {
        uint32_t n = 0;
        pcre2_pattern_info(p->code[i], PCRE2_INFO_CAPTURECOUNT, &n);
        if (n > most)
            most = n;
    }
    s->md = pcre2_match_data_create(most + 1, NULL);
    if (!s->md) {
        free(s);
        return NULL;
    }
    return s;
}

void cria_bpe_split_free(cria_bpe_split *s)
{
    if (!s)
        return;
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    pcre2_jit_stack_free(s->jit_stack);
    free(s->a);
    free(s->b);
    free(s);
}

/* Gives s a larger JIT stack (the default 32 KiB can run out on long runs of spaces). */
static bool grow_jit_stack(cria_bpe_split *s)
{
    if (s->jit_stack)
        return false;
    s->mctx = pcre2_match_context_create(NULL);
    s->jit_stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, NULL);
    if (!s->mctx || !s->jit_stack)
        return false;
    pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
    return true;
}

/* Length of the UTF-8 sequence a lead byte starts (1 for anything else), to step past an empty match. */
static size_t utf8_step(unsigned char c)
{
    return c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/*
 * Splits the word at w (n bytes) with code, appending word lengths to out
 * (*k of them so far). Returns false when the engine fails.
 */
static bool split_word(pcre2_code *code, cria_bpe_split *s, const char *w, size_t n, uint32_t *out, size_t *k)
{
    size_t start = 0, done = 0;
    while (start < n) {
        int rc = pcre2_match(code, (PCRE2_SPTR)w, n, start, 0, s->md, s->mctx);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && grow_jit_stack(s))
            continue;
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0)
            return false;
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms) { /* an empty match makes no word; step over one character */
            start = ms + utf8_step((unsigned char)w[ms]);
            continue;
        }
        if (ms > done)
            out[(*k)++] = (uint32_t)(ms - done);
        out[(*k)++] = (uint32_t)(me - ms);
        done = start = me;
    }
    if (done < n)
        out[(*k)++] = (uint32_t)(n - done);
    return true;
}

bool cria_bpe_split_run(const cria_bpe_pre *p, cria_bpe_split *s, const char *text, size_t len,
                        const uint32_t **lens, size_t *n)
{
    if (len + 1 > s->cap) {
        size_t cap = len + 1 > 2 * s->cap ? len + 1 : 2 * s->cap;
        uint32_t *a = realloc(s->a, cap * sizeof *a);
        if (a)
            s->a = a;
        uint32_t *b = realloc(s->b, cap * sizeof *b);
        if (b)
            s->b = b;
        if (!a || !b)
            return false;
        s->cap = cap;
    }
    size_t k = 0;
    s->a[k++] = (uint32_t)len;
    for (int e = 0; e < p->n_expr; e++) {
        size_t m = 0, off = 0;
        for (size_t i = 0; i < k; i++) {
            if (!split_word(p->code[e], s, text + off, s->a[i], s->b, &m))
                return false;
            off += s->a[i];
        }
        uint32_t *t = s->a;
        s->a = s->b;
        s->b = t;
        k = m;
    }
    *lens = s->a;
    *n = len > 0 ? k : 0;
    return true;
}
