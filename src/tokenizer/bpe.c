/*
 * Byte-level BPE, GPT-2 style (llama.cpp's llm_tokenizer_bpe): the merge
 * table, the byte <-> character mapping, and the encoder.
 *
 * Pieces spell each byte as one printable character (GPT-2's bytes_to_unicode:
 * printable Latin-1 bytes stand for themselves, the other 68 bytes for U+0100
 * onwards, so a space is 'Ġ' U+0120). The text is split into words by the
 * pre-tokenizer (bpe_pre.c); each byte of a word starts as one symbol, the
 * token of its character. A min-heap holds every adjacent pair that a merge
 * joins, keyed by the merge's rank (ties: the leftmost pair); popping the
 * best pair merges the right symbol into the left one and queues the two new
 * pairs around it; entries made stale by earlier merges are recognised by
 * the token ids they were queued with and dropped. O(n log n) per word.
 *
 * Merges are kept as (left token, right token) -> (rank, result token), so
 * the loop never touches strings. Within one call, a word seen before is
 * looked up in a cache instead of merged again (about 2x on English text). A merge whose parts or result is not a
 * token of the vocabulary can never produce a token and is left out (Hugging
 * Face refuses such files); a symbol that is not a token is written as the
 * tokens of its single-byte characters, as llama.cpp does.
 */
#include "tokenizer/bpe.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "tokenizer/bpe_pre.h"
#include "tokenizer/heap.h"

/* One merge: the pair's rank and the token it makes. */
typedef struct bpe_merge {
    uint64_t key; /* left << 32 | right; BPE_EMPTY: free slot */
    int32_t rank;
    cria_token result;
} bpe_merge;

#define BPE_EMPTY UINT64_MAX

struct cria_bpe {
    cria_bpe_pre *pre;
    bool ignore_merges;
    bpe_merge *merges; /* open addressing, linear probing */
    uint32_t mask;
    int32_t n_merges;  /* kept (parts and result are tokens) */
    cria_token byte_tok[256];     /* the token of each byte's character, -1 when none */
    cria_token fallback[256][2];  /* tokens of the single bytes of that character's UTF-8, -1 when none */
};

/* ---- the GPT-2 byte mapping ------------------------------------------------ */

/* The character (code point) that spells byte b. */
static uint32_t byte_to_cp(unsigned b)
{
    if (b <= 32)
        return 256 + b;
    if (b >= 127 && b <= 160)
        return 256 + 33 + (b - 127);
    if (b == 173)
        return 256 + 67;
    return b;
}

/* The byte that code point c spells, or -1 when c is not in the mapping. */
static int cp_to_byte(uint32_t c)
{
    if ((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255))
        return (int)c;
    if (c < 256 || c >= 256 + 68)
        return -1;
    uint32_t i = c - 256;
    return i < 33 ? (int)i : i < 67 ? (int)(127 + i - 33) : 173;
}

/* UTF-8 of byte b's character at dst (2 bytes at most); returns its length. */
static uint32_t byte_utf8(unsigned b, char *dst)
{
    uint32_t c = byte_to_cp(b);
    if (c < 0x80) {
        dst[0] = (char)c;
        return 1;
    }
    dst[0] = (char)(0xc0 | (c >> 6));
    dst[1] = (char)(0x80 | (c & 0x3f));
    return 2;
}

uint32_t cria_bpe_unmap(const char *p, uint32_t n, char *dst)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        int b = -1;
        uint32_t step = 1;
        if (c < 0x80) {
            b = cp_to_byte(c);
        } else if ((c & 0xe0) == 0xc0 && i + 1 < n && ((unsigned char)p[i + 1] & 0xc0) == 0x80) {
            step = 2;
            b = cp_to_byte((uint32_t)(c & 0x1f) << 6 | ((unsigned char)p[i + 1] & 0x3f));
        }
        if (b >= 0) {
            dst[k++] = (char)b;
        } else {
            memmove(dst + k, p + i, step); /* outside the mapping: as is */
            k += step;
        }
        i += step;
    }
    return k;
}

/* ---- the merge table ----------------------------------------------------- */

static uint32_t pair_slot(const cria_bpe *b, uint64_t key)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32) & b->mask;
}

static const bpe_merge *merge_find(const cria_bpe *b, cria_token left, cria_token right)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (uint32_t i = pair_slot(b, key);; i = (i + 1) & b->mask) {
        const bpe_merge *m = &b->merges[i];
        if (m->key == key)
            return m;
        if (m->key == BPE_EMPTY)
            return NULL;
    }
}

/* Adds a merge unless the pair is already there (the first, lowest rank wins, as in llama.cpp). */
static void merge_add(cria_bpe *b, cria_token left, cria_token right, int32_t rank, cria_token result)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    uint32_t i = pair_slot(b, key);
    while (b->merges[i].key != BPE_EMPTY) {
        if (b->merges[i].key == key)
            return;
        i = (i + 1) & b->mask;
    }
    b->merges[i] = (bpe_merge){key, rank, result};
    b->n_merges++;
}

void cria_bpe_free(cria_bpe *b)
{
    if (!b)
        return;
    cria_bpe_pre_free(b->pre);
    free(b->merges);
    free(b);
}

/* Reads the merges into b; every string must be "left right" with both parts non-empty. */
static cria_status load_merges(const cria_gguf *g, const cria_vocab *v, cria_bpe *b, cria_error *err)
{
    const char *name = cria_gguf_name(g);
    const cria_gguf_kv *kv = cria_gguf_find(g, "tokenizer.ggml.merges");
    if (!kv)
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: no tokenizer.ggml.merges key (a BPE vocabulary needs its merges)",
                            name);
    if (kv->type != CRIA_GGUF_ARRAY || kv->arr_type != CRIA_GGUF_STRING)
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: at byte %llu: tokenizer.ggml.merges is not an array of strings",
                            name, (unsigned long long)kv->offset);
    if (kv->arr_n > (1u << 26))
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: at byte %llu: tokenizer.ggml.merges has %llu entries (at most %u)",
                            name, (unsigned long long)kv->offset, (unsigned long long)kv->arr_n, 1u << 26);
    uint32_t cap = 16;
    while (cap < 2 * kv->arr_n)
        cap *= 2;
    b->merges = malloc((size_t)cap * sizeof *b->merges);
    char *joined = malloc((size_t)v->max_piece_len + 1);
    if (!b->merges || !joined) {
        free(joined);
        return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory for %llu merges", name,
                            (unsigned long long)kv->arr_n);
    }
    for (uint32_t i = 0; i < cap; i++)
        b->merges[i].key = BPE_EMPTY;
    b->mask = cap - 1;

    for (uint64_t r = 0; r < kv->arr_n; r++) {
        cria_gguf_str s = cria_gguf_arr_str(g, kv, r);
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', (size_t)s.len - 1) : NULL;
        if (!sp || (uint64_t)(sp - s.ptr) + 1 >= s.len) {
            int shown = s.len > 64 ? 64 : (int)s.len;
            free(joined);
            return cria_err_set(err, CRIA_ERR_FORMAT,
                                "%s: tokenizer.ggml.merges[%llu] = \"%.*s\" is not two pieces separated by a space",
                                name, (unsigned long long)r, shown, s.ptr);
        }
        size_t nl = (size_t)(sp - s.ptr), nr = (size_t)s.len - nl - 1;
        cria_token left = cria_vocab_find(v, s.ptr, nl), right = cria_vocab_find(v, sp + 1, nr);
        if (left < 0 || right < 0 || nl + nr > v->max_piece_len)
            continue;
        memcpy(joined, s.ptr, nl);
        memcpy(joined + nl, sp + 1, nr);
        cria_token result = cria_vocab_find(v, joined, nl + nr);
        if (result >= 0)
            merge_add(b, left, right, (int32_t)r, result);
    }
    free(joined);
    return CRIA_OK;
}

cria_status cria_bpe_load(const cria_gguf *g, cria_vocab *v, cria_error *err)
{
    cria_bpe *b = calloc(1, sizeof *b);
    if (!b)
        return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory for the BPE tables", cria_gguf_name(g));
    cria_status st = load_merges(g, v, b, err);
    if (st == CRIA_OK) {
        cria_error e;
        cria_err_clear(&e);
        cria_gguf_str pre;
        bool have = cria_gguf_get_str(g, "tokenizer.ggml.pre", &pre, &e);
        if (!have && e.status != CRIA_OK) {
            st = cria_err_set(err, e.status, "%s", e.msg);
        } else {
            cria_bpe_pre_flags flags;
            st = cria_bpe_pre_create(cria_gguf_name(g), have ? pre.ptr : NULL, have ? (size_t)pre.len : 0, &b->pre,
                                     &flags, err);
            b->ignore_merges = st == CRIA_OK && flags.ignore_merges;
            if (st == CRIA_OK)
                v->add_bos = flags.add_bos;
        }
    }
    if (st != CRIA_OK) {
        cria_bpe_free(b);
        return st;
    }
    for (int c = 0; c < 256; c++) {
        char u[2];
        uint32_t n = byte_utf8((unsigned)c, u);
        b->byte_tok[c] = cria_vocab_find(v, u, n);
        for (uint32_t k = 0; k < 2; k++)
            b->fallback[c][k] = k < n ? cria_vocab_find(v, u + k, 1) : -1;
    }
    v->bpe = b;
    return CRIA_OK;
}

/* ---- the encoder --------------------------------------------------------- */

typedef struct bpe_symbol {
    int32_t prev, next; /* neighbours in the word, -1 at the ends */
    int32_t n;          /* bytes covered (the symbol starts at its own index); 0 once merged away */
    cria_token id;      /* its token, -1 when its text is none */
} bpe_symbol;

typedef struct bpe_pair {
    int32_t rank, left, right;
    cria_token lid, rid, result; /* the sides' tokens when queued, and what they make */
} bpe_pair;

typedef struct bpe_work {
    bpe_symbol *sym;
    bpe_pair *heap;
    char *enc;        /* a word in piece spelling, for ignore_merges */
    cria_token *out;  /* a word's tokens (at most 2 per byte) */
    size_t cap;       /* symbols (bytes) the buffers hold */
    int32_t n_heap;
} bpe_work;

/*
 * The words of one call already encoded, so that a word that comes back is
 * looked up instead of merged again (natural text repeats most of its
 * words). Open addressing over words that point into the caller's text;
 * tokens in one growing array. Lives for one call: no shared state.
 */
typedef struct cache_slot {
    const char *word; /* NULL: free */
    uint32_t len, hash;
    uint32_t tok_off, n_tok;
} cache_slot;

typedef struct word_cache {
    cache_slot *slot;
    uint32_t mask, used;
    cria_token *tok;
    size_t n_tok, cap_tok;
} word_cache;

/* Words longer than this are not cached (rare, and they rarely repeat). */
#define CACHE_MAX_WORD 64
/* Most slots a cache grows to (8 MiB); past that, new words are just encoded. */
#define CACHE_MAX_SLOTS (1u << 18)

static bool work_reserve(bpe_work *w, size_t n)
{
    if (n <= w->cap)
        return true;
    size_t cap = n > 2 * w->cap ? n : 2 * w->cap;
    bpe_symbol *sym = realloc(w->sym, cap * sizeof *sym);
    if (sym)
        w->sym = sym;
    bpe_pair *heap = realloc(w->heap, 3 * cap * sizeof *heap);
    if (heap)
        w->heap = heap;
    char *enc = realloc(w->enc, 2 * cap);
    if (enc)
        w->enc = enc;
    cria_token *out = realloc(w->out, 2 * cap * sizeof *out);
    if (out)
        w->out = out;
    if (!sym || !heap || !enc || !out)
        return false;
    w->cap = cap;
    return true;
}

/* True when a comes out of the heap before b: lower rank, then the leftmost pair. */
static bool pair_before(const bpe_pair *a, const bpe_pair *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

CRIA_HEAP_DEFINE(pair_heap, bpe_pair, pair_before)

/* Queues the pair (left, right) when a merge joins their tokens. */
static void try_pair(const cria_bpe *b, bpe_work *w, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return;
    cria_token l = w->sym[left].id, r = w->sym[right].id;
    if (l < 0 || r < 0)
        return;
    const bpe_merge *m = merge_find(b, l, r);
    if (m)
        pair_heap_push(w->heap, &w->n_heap, (bpe_pair){m->rank, left, right, l, r, m->result});
}

/* Encodes one word (n raw bytes) into w->out; returns the token count. */
static int32_t encode_word(const cria_vocab *v, const cria_bpe *b, bpe_work *w, const unsigned char *s, int32_t n)
{
    int32_t k = 0;
    if (b->ignore_merges && n > 1) {
        size_t len = 0;
        for (int32_t i = 0; i < n; i++)
            len += byte_utf8(s[i], w->enc + len);
        cria_token t = cria_vocab_find(v, w->enc, len);
        if (t >= 0) {
            w->out[0] = t;
            return 1;
        }
    }
    for (int32_t i = 0; i < n; i++)
        w->sym[i] = (bpe_symbol){i - 1, i + 1 < n ? i + 1 : -1, 1, b->byte_tok[s[i]]};
    w->n_heap = 0;
    for (int32_t i = 1; i < n; i++)
        try_pair(b, w, i - 1, i);
    while (w->n_heap > 0) {
        bpe_pair p = pair_heap_pop(w->heap, &w->n_heap);
        bpe_symbol *l = &w->sym[p.left], *r = &w->sym[p.right];
        if (l->n == 0 || r->n == 0 || l->next != p.right || l->id != p.lid || r->id != p.rid)
            continue; /* stale: one side changed since it was queued */
        l->n += r->n;
        l->id = p.result;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            w->sym[r->next].prev = p.left;
        try_pair(b, w, l->prev, p.left);
        try_pair(b, w, p.left, l->next);
    }
    for (int32_t i = 0; i >= 0; i = w->sym[i].next) {
        if (w->sym[i].id >= 0) {
            w->out[k++] = w->sym[i].id;
            continue;
        }
        for (int32_t c = i; c < i + w->sym[i].n; c++)
            for (int j = 0; j < 2; j++)
                if (b->fallback[s[c]][j] >= 0)
                    w->out[k++] = b->fallback[s[c]][j];
    }
    return k;
}

static uint32_t word_hash(const char *s, uint32_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (uint32_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h ^ (h >> 15);
}

/* The slot of word (n bytes, hash h): its entry, or the free slot where it goes. */
static cache_slot *cache_probe(const word_cache *c, const char *word, uint32_t n, uint32_t h)
{
    for (uint32_t i = h & c->mask;; i = (i + 1) & c->mask) {
        cache_slot *sl = &c->slot[i];
        if (!sl->word || (sl->hash == h && sl->len == n && memcmp(sl->word, word, n) == 0))
            return sl;
    }
}

/* Doubles the slot table (first call: makes it); false when at its limit or out of memory. */
static bool cache_grow(word_cache *c)
{
    uint32_t old = c->slot ? c->mask + 1 : 0, cap = old ? 2 * old : 4096;
    if (cap > CACHE_MAX_SLOTS)
        return false;
    cache_slot *ns = calloc(cap, sizeof *ns);
    if (!ns)
        return false;
    word_cache grown = *c;
    grown.slot = ns;
    grown.mask = cap - 1;
    for (uint32_t i = 0; i < old; i++)
        if (c->slot[i].word)
            *cache_probe(&grown, c->slot[i].word, c->slot[i].len, c->slot[i].hash) = c->slot[i];
    free(c->slot);
    *c = grown;
    return true;
}

/* Remembers the n tokens of word when there is room; a full cache just stops growing. */
static void cache_put(word_cache *c, cache_slot *sl, const char *word, uint32_t len, uint32_t h,
                      const cria_token *tok, int32_t n)
{
    if (c->n_tok + (size_t)n > c->cap_tok) {
        size_t cap = c->cap_tok ? 2 * c->cap_tok : 4096;
        while (cap < c->n_tok + (size_t)n)
            cap *= 2;
        cria_token *nt = realloc(c->tok, cap * sizeof *nt);
        if (!nt)
            return;
        c->tok = nt;
        c->cap_tok = cap;
    }
    memcpy(c->tok + c->n_tok, tok, (size_t)n * sizeof *tok);
    *sl = (cache_slot){word, len, h, (uint32_t)c->n_tok, (uint32_t)n};
    c->n_tok += (size_t)n;
    c->used++;
}

/* Encodes one word into s, through the cache when the word is short. False when out of memory. */
static bool put_word(const cria_vocab *v, const cria_bpe *b, bpe_work *w, word_cache *c, const char *word,
                     uint32_t n, cria_tok_sink *s)
{
    cache_slot *sl = NULL;
    uint32_t h = 0;
    if (n <= CACHE_MAX_WORD) {
        if (2 * (c->used + 1) > (c->slot ? c->mask + 1 : 0))
            cache_grow(c);
        if (c->slot && 2 * (c->used + 1) <= c->mask + 1) {
            h = word_hash(word, n);
            sl = cache_probe(c, word, n, h);
            if (sl->word) {
                for (uint32_t i = 0; i < sl->n_tok; i++)
                    cria_tok_sink_put(s, c->tok[sl->tok_off + i]);
                return true;
            }
        }
    }
    if (!work_reserve(w, n))
        return false;
    int32_t k = encode_word(v, b, w, (const unsigned char *)word, (int32_t)n);
    for (int32_t i = 0; i < k; i++)
        cria_tok_sink_put(s, w->out[i]);
    if (sl)
        cache_put(c, sl, word, n, h, w->out, k);
    return true;
}

bool cria_bpe_encode(const cria_vocab *v, const char *text, const cria_tok_frag *fr, size_t n_frag,
                     cria_tok_sink *s)
{
    const cria_bpe *b = v->bpe;
    cria_bpe_split *split = NULL;
    bpe_work w = {0};
    word_cache cache = {0};
    bool ok = true;
    for (size_t i = 0; ok && i < n_frag; i++) {
        if (fr[i].tok >= 0) {
            cria_tok_sink_put(s, fr[i].tok);
            continue;
        }
        if (!split && !(split = cria_bpe_split_new(b->pre))) {
            ok = false;
            break;
        }
        const uint32_t *lens;
        size_t n_words;
        const char *p = text + fr[i].off;
        ok = cria_bpe_split_run(b->pre, split, p, fr[i].len, &lens, &n_words);
        for (size_t k = 0; ok && k < n_words; k++) {
            ok = put_word(v, b, &w, &cache, p, lens[k], s);
            p += lens[k];
        }
    }
    cria_bpe_split_free(split);
    free(w.sym);
    free(w.heap);
    free(w.enc);
    free(w.out);
    free(cache.slot);
    free(cache.tok);
    return ok;
}
