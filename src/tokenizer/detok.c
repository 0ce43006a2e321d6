/*
 * From tokens back to text: one token's text, a whole sequence's text, the
 * streaming detokenizer that never splits a UTF-8 character, and the public
 * token functions of include/cria.h, which reach the vocab through the model.
 */
#include <limits.h>
#include <string.h>

#include "model/model.h"
#include "tokenizer/vocab.h"
#include "tokenizer/vocab_impl.h"

/* The decoded text of t (see vocab.c's token_text); empty for an id out of range. */
static const char *text_of(const cria_vocab *v, cria_token t, uint32_t *n)
{
    if (t < 0 || t >= v->n_tokens) {
        *n = 0;
        return "";
    }
    *n = v->text_len[t];
    return v->arena + v->text_off[t];
}

int32_t cria_vocab_token_to_piece(const cria_vocab *v, cria_token t, char *buf, int32_t cap)
{
    uint32_t n;
    const char *s = text_of(v, t, &n);
    if (n > (uint32_t)(cap > 0 ? cap : 0))
        return -(int32_t)n;
    if (n)
        memcpy(buf, s, n);
    return (int32_t)n;
}

int32_t cria_vocab_detokenize(const cria_vocab *v, const cria_token *tokens, int32_t n, char *buf, int32_t cap)
{
    int64_t total = 0;
    bool strip = v->add_space_prefix;
    for (int32_t i = 0; i < n; i++) {
        uint32_t k;
        const char *s = text_of(v, tokens[i], &k);
        if (strip && k > 0 && s[0] == ' ') {
            s++;
            k--;
        }
        strip = false;
        if (total + k <= cap && k)
            memcpy(buf + total, s, k);
        total += k;
        if (total > INT32_MAX)
            return INT32_MIN;
    }
    return total > cap ? -(int32_t)total : (int32_t)total;
}

/* ---- streaming ----------------------------------------------------------- */

/*
 * Length of the UTF-8 sequence at s (n bytes available): the sequence's
 * length when complete and valid, 0 when the bytes so far are a valid but
 * unfinished start, or -1 when s[0] does not start a valid sequence (then it
 * is released alone, as is). Overlong forms, surrogates and code points past
 * U+10FFFF are invalid.
 */
static int utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    int need;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return -1;
    for (int i = 1; i < need; i++) {
        if ((size_t)i >= n)
            return 0;
        unsigned char lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xbf;
        if (s[i] < lo_i || s[i] > hi_i)
            return -1;
    }
    return need;
}

/* Byte i of the stream made of the pending bytes, then the token's text s. */
static unsigned char stream_byte(const cria_detok *d, const char *s, size_t i)
{
    size_t np = (size_t)d->n_pending;
    return i < np ? d->pending[i] : (unsigned char)s[i - np];
}

int32_t cria_vocab_detok_push(const cria_vocab *v, cria_detok *d, cria_token t, char *out, int32_t cap)
{
    uint32_t k;
    const char *s = text_of(v, t, &k);
    if (v->add_space_prefix && d->prev >= 0 && d->prev == v->bos && k > 0 && s[0] == ' ') {
        s++;
        k--;
    }
    /*
     * The stream is the pending bytes (an unfinished sequence, at most 3)
     * followed by the token's text. Everything before a trailing unfinished
     * sequence is released; an invalid byte is released as is.
     */
    size_t np = (size_t)d->n_pending, total = np + k, emit = total;
    for (size_t i = 0; i < total;) {
        unsigned char win[4];
        size_t avail = total - i < 4 ? total - i : 4;
        for (size_t j = 0; j < avail; j++)
            win[j] = stream_byte(d, s, i + j);
        int len = utf8_sequence(win, avail);
        if (len == 0) {
            emit = i;
            break;
        }
        i += len > 0 ? (size_t)len : 1;
    }
    if (emit > (size_t)INT32_MAX)
        return INT32_MIN;
    if (emit > (size_t)(cap > 0 ? cap : 0))
        return -(int32_t)emit;

    unsigned char keep[4];
    size_t n_keep = total - emit;
    for (size_t j = 0; j < n_keep; j++)
        keep[j] = stream_byte(d, s, emit + j);
    size_t from_pending = emit < np ? emit : np;
    if (from_pending)
        memcpy(out, d->pending, from_pending);
    if (emit > from_pending)
        memcpy(out + from_pending, s, emit - from_pending);
    memcpy(d->pending, keep, n_keep);
    d->n_pending = (int)n_keep;
    d->prev = t;
    return (int32_t)emit;
}

void cria_detok_init(cria_detok *d, const cria_model *model)
{
    d->model = model;
    d->prev = -1;
    d->n_pending = 0;
    memset(d->pending, 0, sizeof d->pending);
}

int32_t cria_detok_push(cria_detok *d, cria_token t, char *out, int32_t cap)
{
    return cria_vocab_detok_push(cria_model_vocab(d->model), d, t, out, cap);
}

int32_t cria_detok_flush(cria_detok *d, char *out, int32_t cap)
{
    int32_t n = d->n_pending;
    if (n > cap)
        return -n;
    if (n)
        memcpy(out, d->pending, (size_t)n);
    d->n_pending = 0;
    return n;
}

/* ---- the public token functions ------------------------------------------ */

cria_token cria_token_bos(const cria_model *model)
{
    return cria_vocab_bos(cria_model_vocab(model));
}

cria_token cria_token_eos(const cria_model *model)
{
    return cria_vocab_eos(cria_model_vocab(model));
}

int cria_token_is_eog(const cria_model *model, cria_token t)
{
    return cria_vocab_is_eog(cria_model_vocab(model), t);
}

int32_t cria_tokenize(const cria_model *model, const char *text, size_t len, cria_token *tokens,
                      int32_t max_tokens, int add_bos)
{
    return cria_vocab_tokenize(cria_model_vocab(model), text, len, tokens, max_tokens, add_bos != 0);
}

int32_t cria_token_to_piece(const cria_model *model, cria_token t, char *buf, int32_t cap)
{
    return cria_vocab_token_to_piece(cria_model_vocab(model), t, buf, cap);
}
