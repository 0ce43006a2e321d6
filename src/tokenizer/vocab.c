/*
 * The vocabulary: loading from GGUF tokenizer.ggml.* keys or from a llama2.c
 * tokenizer.bin, the piece -> id map, and the accessors.
 *
 * Both loaders work in two passes over their source: the first validates
 * every count and length and sizes the arena, the second copies. Finishing
 * (vocab_finish) then derives what the encoder and decoder need: the decoded
 * text of each token, the hash map, the byte-fallback table, the special
 * tokens and the end-of-generation set.
 */
#include "tokenizer/vocab.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/fp16.h"
#include "tokenizer/bpe.h"
#include "tokenizer/vocab_impl.h"

/* Most tokens a vocabulary may have; real ones have up to a few hundred thousand. */
#define VOCAB_MAX_TOKENS (1 << 24)
/* Longest piece a tokenizer.bin may store; SentencePiece pieces are a few dozen bytes at most. */
#define LLAMA2C_MAX_PIECE 65536

/* U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's spelling of a space. */
static const char spm_space[3] = {'\xe2', '\x96', '\x81'};

/* ---- the piece -> id map ------------------------------------------------- */

static uint32_t piece_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h ^ (h >> 15);
}

cria_token cria_vocab_find(const cria_vocab *v, const char *piece, size_t len)
{
    if (!v || len == 0 || len > v->max_piece_len)
        return -1;
    uint32_t i = piece_hash(piece, len) & v->map_mask;
    for (;;) {
        uint32_t slot = v->map[i];
        if (slot == 0)
            return -1;
        cria_token t = (cria_token)(slot - 1);
        if (v->piece_len[t] == len && memcmp(cria_vocab_piece_ptr(v, t), piece, len) == 0)
            return t;
        i = (i + 1) & v->map_mask;
    }
}

/* Fills the map; a piece that repeats maps to its last id, as in llama.cpp. */
static bool map_build(cria_vocab *v)
{
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)v->n_tokens)
        cap *= 2;
    v->map = calloc(cap, sizeof *v->map);
    if (!v->map)
        return false;
    v->map_mask = cap - 1;
    for (cria_token t = 0; t < v->n_tokens; t++) {
        uint32_t len = v->piece_len[t];
        if (len == 0)
            continue;
        const char *p = cria_vocab_piece_ptr(v, t);
        uint32_t i = piece_hash(p, len) & v->map_mask;
        while (v->map[i] != 0) {
            cria_token u = (cria_token)(v->map[i] - 1);
            if (v->piece_len[u] == len && memcmp(cria_vocab_piece_ptr(v, u), p, len) == 0)
                break;
            i = (i + 1) & v->map_mask;
        }
        v->map[i] = (uint32_t)t + 1;
    }
    return true;
}

/* ---- building ------------------------------------------------------------ */

/* A vocab of n tokens with room for piece_bytes bytes of pieces (their NULs and texts come on top). */
static cria_vocab *vocab_alloc(int32_t n, size_t piece_bytes)
{
    cria_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    size_t un = (size_t)n;
    v->n_tokens = n;
    v->arena = malloc(2 * piece_bytes + un + 1);
    v->piece_off = malloc(un * sizeof *v->piece_off);
    v->piece_len = malloc(un * sizeof *v->piece_len);
    v->text_off = malloc(un * sizeof *v->text_off);
    v->text_len = malloc(un * sizeof *v->text_len);
    v->score = malloc(un * sizeof *v->score);
    v->type = malloc(un);
    if (!v->arena || !v->piece_off || !v->piece_len || !v->text_off || !v->text_len || !v->score || !v->type) {
        cria_vocab_free(v);
        return NULL;
    }
    v->bos = v->eos = v->unk = v->pad = -1;
    v->add_bos = true;
    v->add_space_prefix = true;
    return v;
}

/* Value of a byte token's piece "<0xXX>", or -1 when the piece has another form. */
static int byte_piece_value(const char *p, size_t n)
{
    if (n != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>')
        return -1;
    int val = 0;
    for (int i = 3; i < 5; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        val = val * 16 + d;
    }
    return val;
}

/*
 * Writes the decoded text of token t (what token_to_piece prints) at dst and
 * returns its length, never more than the piece's: normal tokens with U+2581
 * as a space, user-defined tokens as stored, byte tokens as their byte, the
 * rest (control, unknown, unused, undefined) as nothing, as llama.cpp prints
 * them with special = false. In a BPE vocabulary, normal and byte tokens
 * are GPT-2 spellings of bytes and print as those bytes.
 */
static uint32_t token_text(const cria_vocab *v, cria_token t, char *dst)
{
    const char *p = cria_vocab_piece_ptr(v, t);
    uint32_t n = v->piece_len[t];
    if (v->kind == CRIA_VOCAB_BPE) {
        uint8_t ty = v->type[t];
        if (ty == CRIA_TOKEN_NORMAL || ty == CRIA_TOKEN_BYTE)
            return cria_bpe_unmap(p, n, dst);
        if (ty != CRIA_TOKEN_USER_DEFINED)
            return 0;
    }
    switch ((cria_token_type)v->type[t]) {
    case CRIA_TOKEN_BYTE: {
        int b = byte_piece_value(p, n);
        if (b >= 0) {
            dst[0] = (char)b;
            return 1;
        }
        break; /* not of the form <0xXX>: print it like a normal token */
    }
    case CRIA_TOKEN_USER_DEFINED:
        memcpy(dst, p, n);
        return n;
    case CRIA_TOKEN_NORMAL:
        break;
    default:
        return 0;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < n;) {
        if (i + 3 <= n && memcmp(p + i, spm_space, 3) == 0) {
            dst[k++] = ' ';
            i += 3;
        } else {
            dst[k++] = p[i++];
        }
    }
    return k;
}

typedef struct special_key {
    uint32_t len;
    cria_token id;
} special_key;

static int special_cmp(const void *a, const void *b)
{
    const special_key *x = a, *y = b;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static void eog_add(cria_vocab *v, cria_token t)
{
    if (t < 0 || t >= v->n_tokens || v->n_eog >= CRIA_VOCAB_MAX_EOG)
        return;
    for (int i = 0; i < v->n_eog; i++)
        if (v->eog[i] == t)
            return;
    v->eog[v->n_eog++] = t;
}

/* Control tokens that end a turn in common chat vocabularies (llama.cpp marks them end-of-generation too). */
static const char *const eot_names[] = {
    "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>",
};

/*
 * Derives texts, the map, byte fallback, specials and the end-of-generation
 * set once pieces, scores and types are in place. piece_bytes is the space
 * the pieces took (texts go after them). Returns CRIA_ERR_NOMEM or CRIA_OK.
 */
static cria_status vocab_finish(cria_vocab *v, size_t piece_bytes, cria_error *err)
{
    size_t text_at = piece_bytes + (size_t)v->n_tokens;
    v->max_piece_len = 0;
    int32_t n_special = 0;
    for (cria_token t = 0; t < v->n_tokens; t++) {
        if (v->piece_len[t] > v->max_piece_len)
            v->max_piece_len = v->piece_len[t];
        v->text_off[t] = (uint32_t)text_at;
        v->text_len[t] = token_text(v, t, v->arena + text_at);
        text_at += v->text_len[t];
        uint8_t ty = v->type[t];
        if ((ty == CRIA_TOKEN_CONTROL || ty == CRIA_TOKEN_UNKNOWN || ty == CRIA_TOKEN_USER_DEFINED) &&
            v->piece_len[t] > 0)
            n_special++;
    }
    for (int c = 0; c < 128; c++)
        v->barrier[c] = true;
    for (cria_token t = 0; t < v->n_tokens; t++) {
        const unsigned char *p = (const unsigned char *)cria_vocab_piece_ptr(v, t);
        if (v->piece_len[t] >= 2)
            for (uint32_t i = 0; i < v->piece_len[t]; i++)
                if (p[i] < 128)
                    v->barrier[p[i]] = false;
    }
    if (!map_build(v))
        return cria_err_set(err, CRIA_ERR_NOMEM, "vocab: out of memory for the piece map");

    for (int b = 0; b < 256; b++) {
        char hex[7];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        cria_token t = cria_vocab_find(v, hex, 6);
        if (t < 0) {
            char c = (char)b;
            t = cria_vocab_find(v, &c, 1);
        }
        v->byte_tok[b] = t >= 0 ? t : v->unk;
    }

    if (n_special > 0) {
        special_key *keys = malloc((size_t)n_special * sizeof *keys);
        v->special = malloc((size_t)n_special * sizeof *v->special);
        if (!keys || !v->special) {
            free(keys);
            return cria_err_set(err, CRIA_ERR_NOMEM, "vocab: out of memory for the special tokens");
        }
        int32_t k = 0;
        for (cria_token t = 0; t < v->n_tokens; t++) {
            uint8_t ty = v->type[t];
            if ((ty == CRIA_TOKEN_CONTROL || ty == CRIA_TOKEN_UNKNOWN || ty == CRIA_TOKEN_USER_DEFINED) &&
                v->piece_len[t] > 0) {
                keys[k++] = (special_key){v->piece_len[t], t};
                if (ty == CRIA_TOKEN_USER_DEFINED)
                    v->n_user_defined++;
            }
        }
        qsort(keys, (size_t)k, sizeof *keys, special_cmp);
        for (int32_t i = 0; i < k; i++)
            v->special[i] = keys[i].id;
        v->n_special = k;
        free(keys);
    }

    eog_add(v, v->eos);
    for (size_t i = 0; i < sizeof eot_names / sizeof eot_names[0]; i++) {
        cria_token t = cria_vocab_find(v, eot_names[i], strlen(eot_names[i]));
        if (t >= 0 && (v->type[t] == CRIA_TOKEN_CONTROL || v->type[t] == CRIA_TOKEN_USER_DEFINED))
            eog_add(v, t);
    }
    return CRIA_OK;
}

void cria_vocab_free(cria_vocab *v)
{
    if (!v)
        return;
    free(v->arena);
    free(v->piece_off);
    free(v->piece_len);
    free(v->text_off);
    free(v->text_len);
    free(v->score);
    free(v->type);
    free(v->map);
    free(v->special);
    cria_bpe_free(v->bpe);
    free(v);
}

/* ---- GGUF ---------------------------------------------------------------- */

/* Reads an optional u32 key that names a token id (< n): *id is kept when absent or "none". */
static cria_status gguf_token_id(const cria_gguf *g, const char *key, int32_t n, cria_token *id,
                                 cria_error *err)
{
    cria_error e;
    cria_err_clear(&e);
    uint32_t val;
    if (!cria_gguf_get_u32(g, key, &val, &e)) {
        if (e.status != CRIA_OK)
            return cria_err_set(err, e.status, "%s", e.msg);
        return CRIA_OK;
    }
    /* Converters write 0xFFFFFFFF for "none" (stories260K's padding id): keep the default, as llama.cpp does. */
    if (val == UINT32_MAX)
        return CRIA_OK;
    if (val >= (uint32_t)n) {
        const cria_gguf_kv *kv = cria_gguf_find(g, key);
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: at byte %llu: %s = %u is out of range (%d tokens)",
                            cria_gguf_name(g), (unsigned long long)(kv ? kv->offset : 0), key, val, n);
    }
    *id = (cria_token)val;
    return CRIA_OK;
}

/* Reads an optional bool key into *out (kept when absent). */
static cria_status gguf_flag(const cria_gguf *g, const char *key, bool *out, cria_error *err)
{
    cria_error e;
    cria_err_clear(&e);
    if (!cria_gguf_get_bool(g, key, out, &e) && e.status != CRIA_OK)
        return cria_err_set(err, e.status, "%s", e.msg);
    return CRIA_OK;
}

static bool gguf_int_type(cria_gguf_type t)
{
    return t == CRIA_GGUF_UINT8 || t == CRIA_GGUF_INT8 || t == CRIA_GGUF_UINT16 || t == CRIA_GGUF_INT16 ||
           t == CRIA_GGUF_UINT32 || t == CRIA_GGUF_INT32 || t == CRIA_GGUF_UINT64 || t == CRIA_GGUF_INT64;
}

/*
 * Checks that key, when present, is an array of n elements, integers when
 * want_int, else float32. Returns its kv; NULL when absent, or with *st set
 * (and err filled) on a mismatch.
 */
static const cria_gguf_kv *gguf_array(const cria_gguf *g, const char *key, uint64_t n, bool want_int,
                                      cria_status *st, cria_error *err)
{
    const cria_gguf_kv *kv = cria_gguf_find(g, key);
    if (!kv)
        return NULL;
    bool type_ok = kv->type == CRIA_GGUF_ARRAY &&
                   (want_int ? gguf_int_type(kv->arr_type) : kv->arr_type == CRIA_GGUF_FLOAT32);
    if (!type_ok) {
        *st = cria_err_set(err, CRIA_ERR_FORMAT, "%s: at byte %llu: %s is %s%s%s, expected an array of %s",
                           cria_gguf_name(g), (unsigned long long)kv->offset, key,
                           kv->type == CRIA_GGUF_ARRAY ? "an array of " : "a ",
                           cria_gguf_type_name(kv->type == CRIA_GGUF_ARRAY ? kv->arr_type : kv->type),
                           kv->type == CRIA_GGUF_ARRAY ? "" : " value", want_int ? "integers" : "float32");
        return NULL;
    }
    if (kv->arr_n != n) {
        *st = cria_err_set(err, CRIA_ERR_FORMAT,
                           "%s: at byte %llu: %s has %llu entries but tokenizer.ggml.tokens has %llu",
                           cria_gguf_name(g), (unsigned long long)kv->offset, key,
                           (unsigned long long)kv->arr_n, (unsigned long long)n);
        return NULL;
    }
    return kv;
}

cria_status cria_vocab_load_gguf(const cria_gguf *g, cria_vocab **out, cria_error *err)
{
    *out = NULL;
    const char *name = cria_gguf_name(g);
    cria_error e;
    cria_err_clear(&e);
    cria_gguf_str model;
    if (!cria_gguf_get_str(g, "tokenizer.ggml.model", &model, &e)) {
        if (e.status != CRIA_OK)
            return cria_err_set(err, e.status, "%s", e.msg);
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: no tokenizer.ggml.model key (the file has no vocabulary)",
                            name);
    }
    cria_vocab_kind kind;
    if (cria_gguf_str_eq(model, "llama")) {
        kind = CRIA_VOCAB_SPM;
    } else if (cria_gguf_str_eq(model, "gpt2")) {
        kind = CRIA_VOCAB_BPE;
    } else {
        int shown = model.len > 64 ? 64 : (int)model.len;
        return cria_err_set(err, CRIA_ERR_UNSUPPORTED,
                            "%s: tokenizer.ggml.model \"%.*s\" is not supported (\"llama\", SentencePiece, or "
                            "\"gpt2\", byte-level BPE)",
                            name, shown, model.ptr);
    }

    const cria_gguf_kv *tok = cria_gguf_find(g, "tokenizer.ggml.tokens");
    if (!tok)
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: no tokenizer.ggml.tokens key", name);
    if (tok->type != CRIA_GGUF_ARRAY || tok->arr_type != CRIA_GGUF_STRING)
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: at byte %llu: tokenizer.ggml.tokens is not an array of strings",
                            name, (unsigned long long)tok->offset);
    if (tok->arr_n == 0 || tok->arr_n > VOCAB_MAX_TOKENS)
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: at byte %llu: tokenizer.ggml.tokens has %llu entries (1 to %d allowed)",
                            name, (unsigned long long)tok->offset, (unsigned long long)tok->arr_n,
                            VOCAB_MAX_TOKENS);
    int32_t n = (int32_t)tok->arr_n;

    cria_status st = CRIA_OK;
    const cria_gguf_kv *scores = gguf_array(g, "tokenizer.ggml.scores", tok->arr_n, false, &st, err);
    if (st != CRIA_OK)
        return st;
    const cria_gguf_kv *types = gguf_array(g, "tokenizer.ggml.token_type", tok->arr_n, true, &st, err);
    if (st != CRIA_OK)
        return st;

    uint64_t piece_bytes = 0;
    for (int32_t i = 0; i < n; i++) {
        piece_bytes += cria_gguf_arr_str(g, tok, (uint64_t)i).len;
        if (piece_bytes > UINT32_MAX / 4)
            return cria_err_set(err, CRIA_ERR_FORMAT, "%s: tokenizer.ggml.tokens: the pieces are too long in total",
                                name);
    }

    cria_vocab *v = vocab_alloc(n, (size_t)piece_bytes);
    if (!v)
        return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory for %d tokens", name, n);
    size_t at = 0;
    for (int32_t i = 0; i < n; i++) {
        cria_gguf_str s = cria_gguf_arr_str(g, tok, (uint64_t)i);
        v->piece_off[i] = (uint32_t)at;
        v->piece_len[i] = (uint32_t)s.len;
        if (s.len)
            memcpy(v->arena + at, s.ptr, (size_t)s.len);
        at += (size_t)s.len;
        v->arena[at++] = '\0';
        v->score[i] = scores ? cria_gguf_arr_f32(scores, (uint64_t)i) : 0.0f;
        int64_t ty = types ? cria_gguf_arr_int(types, (uint64_t)i) : CRIA_TOKEN_NORMAL;
        /* llama.cpp reads an unknown type as undefined (printed as nothing). */
        v->type[i] = (uint8_t)(ty >= CRIA_TOKEN_UNDEFINED && ty <= CRIA_TOKEN_BYTE ? ty : CRIA_TOKEN_UNDEFINED);
    }

    v->kind = kind;
    if (kind == CRIA_VOCAB_SPM) {
        /* SentencePiece defaults, kept only where the vocab is large enough. */
        v->unk = 0;
        v->bos = n > 1 ? 1 : -1;
        v->eos = n > 2 ? 2 : -1;
    } else {
        /* llama.cpp's BPE defaults; the pre-tokenizer may turn add_bos on (Llama 3). */
        v->unk = -1;
        v->bos = v->eos = n > 11 ? 11 : -1;
        v->add_bos = false;
        v->add_space_prefix = false;
    }
    v->add_eos = false;
    if ((st = gguf_token_id(g, "tokenizer.ggml.bos_token_id", n, &v->bos, err)) != CRIA_OK ||
        (st = gguf_token_id(g, "tokenizer.ggml.eos_token_id", n, &v->eos, err)) != CRIA_OK ||
        (st = gguf_token_id(g, "tokenizer.ggml.unknown_token_id", n, &v->unk, err)) != CRIA_OK ||
        (st = gguf_token_id(g, "tokenizer.ggml.padding_token_id", n, &v->pad, err)) != CRIA_OK ||
        (st = gguf_flag(g, "tokenizer.ggml.add_bos_token", &v->add_bos, err)) != CRIA_OK ||
        (st = gguf_flag(g, "tokenizer.ggml.add_eos_token", &v->add_eos, err)) != CRIA_OK ||
        (st = gguf_flag(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix, err)) != CRIA_OK) {
        cria_vocab_free(v);
        return st;
    }
    cria_token eot = -1, eom = -1;
    if ((st = gguf_token_id(g, "tokenizer.ggml.eot_token_id", n, &eot, err)) != CRIA_OK ||
        (st = gguf_token_id(g, "tokenizer.ggml.eom_token_id", n, &eom, err)) != CRIA_OK ||
        (st = vocab_finish(v, (size_t)piece_bytes, err)) != CRIA_OK ||
        (kind == CRIA_VOCAB_BPE && ((st = cria_bpe_load(g, v, err)) != CRIA_OK ||
                                    (st = gguf_flag(g, "tokenizer.ggml.add_bos_token", &v->add_bos, err)) != CRIA_OK))) {
        cria_vocab_free(v);
        return st;
    }
    eog_add(v, eot);
    eog_add(v, eom);
    *out = v;
    return CRIA_OK;
}

/* ---- llama2.c tokenizer.bin ---------------------------------------------- */

/*
 * Writes piece `id` of a tokenizer.bin (n bytes at src) in SentencePiece
 * spelling at dst (NULL: only measure) and returns its length: spaces become
 * U+2581, and the BOS and EOS pieces, which llama2.c stores as "\n<s>\n" and
 * "\n</s>\n", become "<s>" and "</s>" as in the GGUF vocab.
 */
static size_t llama2c_piece(const uint8_t *src, size_t n, int32_t id, char *dst)
{
    if (id == 1 && n == 5 && memcmp(src, "\n<s>\n", 5) == 0) {
        src += 1;
        n = 3;
    } else if (id == 2 && n == 6 && memcmp(src, "\n</s>\n", 6) == 0) {
        src += 1;
        n = 4;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == ' ') {
            if (dst)
                memcpy(dst + k, spm_space, 3);
            k += 3;
        } else {
            if (dst)
                dst[k] = (char)src[i];
            k++;
        }
    }
    return k;
}

static cria_status read_whole_file(const char *path, uint8_t **data, size_t *size, cria_error *err)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cria_err_set(err, CRIA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 1u << 20;
            uint8_t *nb = ncap > cap ? realloc(buf, ncap) : NULL;
            if (!nb) {
                free(buf);
                fclose(f);
                return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory reading the file", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad) {
        free(buf);
        return cria_err_set(err, CRIA_ERR_IO, "%s: read error", path);
    }
    *data = buf;
    *size = n;
    return CRIA_OK;
}

static int32_t ld_i32(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t i;
    memcpy(&i, &u, sizeof i);
    return i;
}

/*
 * Walks the tokens of a tokenizer.bin (n_want > 0: exactly that many, else to
 * the end). Without v it validates, counts tokens into *n_out and sizes the
 * pieces into *bytes; with v it copies pieces, scores and types.
 */
static cria_status llama2c_walk(const char *path, const uint8_t *d, size_t size, int32_t n_want, cria_vocab *v,
                                int32_t *n_out, size_t *bytes, cria_error *err)
{
    size_t pos = 4, at = 0;
    int32_t i = 0;
    for (; n_want > 0 ? i < n_want : pos < size; i++) {
        if (pos == size)
            return cria_err_set(err, CRIA_ERR_FORMAT, "%s: at byte %zu: the file ends after %d tokens, the model has %d",
                                path, pos, i, n_want);
        if (i >= VOCAB_MAX_TOKENS)
            return cria_err_set(err, CRIA_ERR_FORMAT, "%s: at byte %zu: more than %d tokens", path, pos,
                                VOCAB_MAX_TOKENS);
        if (size - pos < 8)
            return cria_err_set(err, CRIA_ERR_FORMAT, "%s: at byte %zu: token %d is truncated (%zu bytes left, need 8 for its score and length)",
                                path, pos, i, size - pos);
        float score = cria_bits_f32((uint32_t)ld_i32(d + pos));
        int32_t len = ld_i32(d + pos + 4);
        if (len < 0 || len > LLAMA2C_MAX_PIECE)
            return cria_err_set(err, CRIA_ERR_FORMAT, "%s: at byte %zu: token %d has length %d (0 to %d allowed)",
                                path, pos + 4, i, len, LLAMA2C_MAX_PIECE);
        pos += 8;
        if ((size_t)len > size - pos)
            return cria_err_set(err, CRIA_ERR_FORMAT, "%s: at byte %zu: token %d needs %d bytes, the file has %zu left",
                                path, pos, i, len, size - pos);
        const uint8_t *src = d + pos;
        pos += (size_t)len;
        if (!v) {
            *bytes += llama2c_piece(src, (size_t)len, i, NULL);
            if (*bytes > UINT32_MAX / 4)
                return cria_err_set(err, CRIA_ERR_FORMAT, "%s: at byte %zu: the pieces are too long in total", path,
                                    pos);
            continue;
        }
        char *dst = v->arena + at;
        size_t k = llama2c_piece(src, (size_t)len, i, dst);
        dst[k] = '\0';
        v->piece_off[i] = (uint32_t)at;
        v->piece_len[i] = (uint32_t)k;
        at += k + 1;
        v->score[i] = score;
        v->type[i] = i == 0 ? CRIA_TOKEN_UNKNOWN
                     : i <= 2 ? CRIA_TOKEN_CONTROL
                     : byte_piece_value(dst, k) >= 0 ? CRIA_TOKEN_BYTE : CRIA_TOKEN_NORMAL;
    }
    if (n_out)
        *n_out = i;
    return CRIA_OK;
}

cria_status cria_vocab_load_llama2c(const char *path, int32_t n_vocab_expected, cria_vocab **out,
                                    cria_error *err)
{
    *out = NULL;
    if (n_vocab_expected < 0 || n_vocab_expected > VOCAB_MAX_TOKENS)
        return cria_err_set(err, CRIA_ERR_ARG, "%s: bad expected token count %d", path, n_vocab_expected);
    uint8_t *d;
    size_t size;
    cria_status st = read_whole_file(path, &d, &size, err);
    if (st != CRIA_OK)
        return st;
    if (size < 4) {
        free(d);
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: at byte 0: the file is %zu bytes, too short for a tokenizer.bin header",
                            path, size);
    }
    int32_t max_len = ld_i32(d);
    if (max_len < 0 || max_len > LLAMA2C_MAX_PIECE) {
        free(d);
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: at byte 0: max_token_length %d is out of range (0 to %d)", path,
                            max_len, LLAMA2C_MAX_PIECE);
    }
    int32_t n = 0;
    size_t bytes = 0;
    st = llama2c_walk(path, d, size, n_vocab_expected, NULL, &n, &bytes, err);
    if (st == CRIA_OK && n < 3)
        st = cria_err_set(err, CRIA_ERR_FORMAT, "%s: %d tokens; a tokenizer.bin needs at least <unk>, BOS and EOS",
                          path, n);
    cria_vocab *v = NULL;
    if (st == CRIA_OK && !(v = vocab_alloc(n, bytes)))
        st = cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory for %d tokens", path, n);
    if (st == CRIA_OK)
        st = llama2c_walk(path, d, size, n, v, NULL, NULL, err);
    free(d);
    if (st == CRIA_OK) {
        v->unk = 0;
        v->bos = 1;
        v->eos = 2;
        v->add_bos = true;
        v->add_eos = false;
        v->add_space_prefix = true;
        st = vocab_finish(v, bytes, err);
    }
    if (st != CRIA_OK) {
        cria_vocab_free(v);
        return st;
    }
    *out = v;
    return CRIA_OK;
}

/* ---- accessors ----------------------------------------------------------- */

int32_t cria_vocab_n_tokens(const cria_vocab *v)
{
    return v->n_tokens;
}

cria_token cria_vocab_bos(const cria_vocab *v)
{
    return v->bos;
}

cria_token cria_vocab_eos(const cria_vocab *v)
{
    return v->eos;
}

cria_token cria_vocab_unk(const cria_vocab *v)
{
    return v->unk;
}

bool cria_vocab_is_eog(const cria_vocab *v, cria_token t)
{
    for (int i = 0; i < v->n_eog; i++)
        if (v->eog[i] == t)
            return true;
    return false;
}

bool cria_vocab_add_bos(const cria_vocab *v)
{
    return v->add_bos;
}

bool cria_vocab_add_eos(const cria_vocab *v)
{
    return v->add_eos;
}

bool cria_vocab_add_space_prefix(const cria_vocab *v)
{
    return v->add_space_prefix;
}

cria_token_type cria_vocab_token_type(const cria_vocab *v, cria_token t)
{
    return t >= 0 && t < v->n_tokens ? (cria_token_type)v->type[t] : CRIA_TOKEN_UNDEFINED;
}

float cria_vocab_score(const cria_vocab *v, cria_token t)
{
    return t >= 0 && t < v->n_tokens ? v->score[t] : 0.0f;
}

const char *cria_vocab_piece_raw(const cria_vocab *v, cria_token t)
{
    return t >= 0 && t < v->n_tokens ? cria_vocab_piece_ptr(v, t) : "";
}
