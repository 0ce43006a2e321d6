/*
 * Splitting the input around special tokens before encoding: control and
 * unknown tokens ("<s>", "<|endoftext|>", "<|im_start|>") when the caller
 * asks for them, user-defined tokens always, as llama.cpp does.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/vocab_impl.h"

typedef struct frag_list {
    cria_tok_frag *v;
    size_t n, cap;
} frag_list;

static bool frag_add(frag_list *l, cria_tok_frag f)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        cria_tok_frag *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return false;
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = f;
    return true;
}

static bool special_applies(const cria_vocab *v, cria_token t, bool parse_special)
{
    return parse_special || v->type[t] == CRIA_TOKEN_USER_DEFINED;
}

/* Each special token, longest first, is cut out of every raw fragment that remains. */
bool cria_tok_partition(const cria_vocab *v, const char *text, size_t len, bool parse_special,
                        cria_tok_frag **frags, size_t *n_frags)
{
    frag_list cur = {0}, next = {0};
    bool ok = frag_add(&cur, (cria_tok_frag){0, len, -1});
    for (int32_t k = 0; ok && k < v->n_special; k++) {
        cria_token t = v->special[k];
        if (!special_applies(v, t, parse_special))
            continue;
        const char *p = cria_vocab_piece_ptr(v, t);
        size_t m = v->piece_len[t];
        next.n = 0;
        for (size_t f = 0; ok && f < cur.n; f++) {
            cria_tok_frag fr = cur.v[f];
            if (fr.tok >= 0 || fr.len < m) {
                ok = frag_add(&next, fr);
                continue;
            }
            size_t at = fr.off, end = fr.off + fr.len;
            while (ok && at < end) {
                const char *hit = memmem(text + at, end - at, p, m);
                if (!hit) {
                    ok = frag_add(&next, (cria_tok_frag){at, end - at, -1});
                    break;
                }
                size_t h = (size_t)(hit - text);
                if (h > at)
                    ok = frag_add(&next, (cria_tok_frag){at, h - at, -1});
                ok = ok && frag_add(&next, (cria_tok_frag){h, m, t});
                at = h + m;
            }
        }
        frag_list tmp = cur;
        cur = next;
        next = tmp;
    }
    free(next.v);
    if (!ok) {
        free(cur.v);
        return false;
    }
    *frags = cur.v;
    *n_frags = cur.n;
    return true;
}
