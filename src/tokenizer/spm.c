/*
 * The SentencePiece-style encoder (llama.cpp's llm_tokenizer_spm).
 *
 * The text (after an optional leading space) has every ' ' spelled U+2581
 * and is split into UTF-8 characters, each a symbol in a linked list. A
 * max-heap holds every adjacent pair whose concatenation is a token, keyed by
 * that token's score (ties: the leftmost pair). Popping the best pair merges
 * the right symbol into the left one and queues the two new pairs around it;
 * entries made stale by earlier merges are recognised by their size and
 * dropped. Each final symbol is a token, or (a single character that is not
 * one) falls back to one <0xXX> token per byte. O(n log n) in the text's
 * length, one allocation per call. The checks, BOS/EOS and the split around
 * special tokens are tokenize.c's.
 *
 * llama.cpp also keeps a "merge history" to resegment final symbols that are
 * not tokens. Every merged symbol is a token by construction, so that path
 * only ever meets unmerged characters, whose history is empty: byte fallback
 * is the whole of it.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/vocab.h"
#include "tokenizer/vocab_impl.h"
#include "tokenizer/heap.h"

typedef struct spm_symbol {
    int32_t prev, next; /* neighbours in the list, -1 at the ends */
    uint32_t off, n;    /* bytes of the escaped text; n == 0 once merged away */
} spm_symbol;

typedef struct spm_bigram {
    int32_t left, right;
    float score;
    uint32_t size; /* left.n + right.n when queued: differs once either side changed */
} spm_bigram;

typedef struct spm_work {
    char *text;           /* the escaped fragment */
    spm_symbol *sym;
    spm_bigram *heap;
    int32_t n_heap;
} spm_work;

/* True when a comes out of the heap before b: higher score, then the leftmost pair. */
static bool bigram_before(const spm_bigram *a, const spm_bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

CRIA_HEAP_DEFINE(bigram_heap, spm_bigram, bigram_before)

/* Queues the pair (left, right) when their concatenation is a token. */
static void try_pair(const cria_vocab *v, spm_work *w, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return;
    const spm_symbol *l = &w->sym[left], *r = &w->sym[right];
    uint32_t size = l->n + r->n;
    cria_token t = cria_vocab_find(v, w->text + l->off, size);
    if (t < 0)
        return;
    bigram_heap_push(w->heap, &w->n_heap, (spm_bigram){left, right, v->score[t], size});
}

/* Applies the best queued merge until none is left. */
static void merge_all(const cria_vocab *v, spm_work *w)
{
    while (w->n_heap > 0) {
        spm_bigram b = bigram_heap_pop(w->heap, &w->n_heap);
        spm_symbol *l = &w->sym[b.left], *r = &w->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->next != b.right || l->n + r->n != b.size)
            continue; /* stale: one side merged since it was queued */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            w->sym[r->next].prev = b.left;
        try_pair(v, w, l->prev, b.left);
        try_pair(v, w, b.left, l->next);
    }
}

static bool is_barrier(const cria_vocab *v, const spm_work *w, int32_t i)
{
    unsigned char c = (unsigned char)w->text[w->sym[i].off];
    return c < 128 && v->barrier[c];
}

/* Bytes of the UTF-8 sequence a lead byte starts (1 for a stray continuation byte), as llama.cpp counts. */
static uint32_t utf8_len(unsigned char c)
{
    static const uint8_t by_high_nibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return by_high_nibble[c >> 4];
}

/* Encodes text (n bytes), with a leading space when space_prefix, into s. */
static void spm_encode(const cria_vocab *v, spm_work *w, const char *text, size_t n, bool space_prefix,
                       cria_tok_sink *s)
{
    size_t len = 0;
    if (space_prefix) {
        memcpy(w->text, "\xe2\x96\x81", 3);
        len = 3;
    }
    for (size_t i = 0; i < n; i++) {
        if (text[i] == ' ') {
            memcpy(w->text + len, "\xe2\x96\x81", 3);
            len += 3;
        } else {
            w->text[len++] = text[i];
        }
    }
    if (len == 0)
        return;

    int32_t n_sym = 0;
    for (size_t off = 0; off < len;) {
        uint32_t cl = utf8_len((unsigned char)w->text[off]);
        if (cl > len - off)
            cl = (uint32_t)(len - off);
        w->sym[n_sym] = (spm_symbol){n_sym - 1, n_sym + 1, (uint32_t)off, cl};
        off += cl;
        n_sym++;
    }
    w->sym[n_sym - 1].next = -1;

    /* Merge each run between barrier characters on its own: no pair crosses one. */
    for (int32_t a = 0; a < n_sym;) {
        int32_t b = a;
        while (b < n_sym && !is_barrier(v, w, b))
            b++;
        w->n_heap = 0;
        for (int32_t i = a + 1; i < b; i++)
            try_pair(v, w, i - 1, i);
        merge_all(v, w);
        a = b + 1;
    }

    for (int32_t i = 0; i >= 0; i = w->sym[i].next) {
        const spm_symbol *sy = &w->sym[i];
        cria_token t = cria_vocab_find(v, w->text + sy->off, sy->n);
        if (t >= 0) {
            cria_tok_sink_put(s, t);
            continue;
        }
        for (uint32_t k = 0; k < sy->n; k++)
            cria_tok_sink_put(s, v->byte_tok[(unsigned char)w->text[sy->off + k]]);
    }
}

bool cria_spm_encode(const cria_vocab *v, const char *text, const cria_tok_frag *fr, size_t n_frag,
                     cria_tok_sink *s)
{
    /* One block for the longest raw fragment: escaped text, symbols, heap (at most 3 pushes per symbol). */
    size_t most = 0;
    for (size_t i = 0; i < n_frag; i++)
        if (fr[i].tok < 0 && fr[i].len > most)
            most = fr[i].len;
    size_t text_cap = 3 * most + 3;
    size_t text_bytes = (text_cap + 7) & ~(size_t)7;
    void *block = NULL;
    spm_work w = {0};
    if (most > 0) {
        block = malloc(text_bytes + text_cap * sizeof(spm_symbol) + 3 * text_cap * sizeof(spm_bigram));
        if (!block)
            return false;
        w.text = block;
        w.sym = (spm_symbol *)((char *)block + text_bytes);
        w.heap = (spm_bigram *)(w.sym + text_cap);
    }

    bool prev_special = true; /* the first fragment gets the space prefix; so does one after a special token */
    for (size_t i = 0; i < n_frag; i++) {
        if (fr[i].tok >= 0) {
            cria_tok_sink_put(s, fr[i].tok);
            prev_special = true;
            continue;
        }
        spm_encode(v, &w, text + fr[i].off, fr[i].len, v->add_space_prefix && prev_special, s);
        prev_special = false;
    }
    free(block);
    return true;
}
