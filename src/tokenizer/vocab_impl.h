/*
 * Private to src/tokenizer: the vocabulary's layout, shared by the loaders
 * (vocab.c), the encoders (spm.c, bpe.c) and the decoder (detok.c), and the
 * pieces of a tokenize call they share (tokenize.c, special.c).
 */
#ifndef CRIA_TOKENIZER_VOCAB_IMPL_H
#define CRIA_TOKENIZER_VOCAB_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/vocab.h"

/* Which encoder a vocabulary uses (tokenizer.ggml.model). */
typedef enum cria_vocab_kind {
    CRIA_VOCAB_SPM = 0, /* "llama": SentencePiece scores, byte fallback */
    CRIA_VOCAB_BPE = 1, /* "gpt2": byte-level BPE with merges and a pre-tokenizer (bpe.c) */
} cria_vocab_kind;

typedef struct cria_bpe cria_bpe; /* merges, byte mapping and pre-tokenizer (bpe.h) */

/* Most end-of-generation ids a vocab keeps (EOS, EOT, EOM, and named end-of-turn tokens). */
#define CRIA_VOCAB_MAX_EOG 8

/*
 * Per-token data is in parallel arrays. Pieces (SPM spelling) and their
 * decoded texts (what token_to_piece writes) live in one arena; each piece is
 * NUL-terminated, texts are not. The piece -> id map is open addressing with
 * linear probing over a power-of-two table of id + 1 (0: empty slot).
 */
struct cria_vocab {
    cria_vocab_kind kind;
    cria_bpe *bpe; /* CRIA_VOCAB_BPE only; owned */
    int32_t n_tokens;
    char *arena;
    uint32_t *piece_off, *piece_len; /* into arena */
    uint32_t *text_off, *text_len;   /* into arena */
    float *score;
    uint8_t *type;                   /* cria_token_type */
    uint32_t *map;
    uint32_t map_mask;
    uint32_t max_piece_len;

    /*
     * ASCII bytes found in no piece of two or more bytes: a character like
     * that never merges, so the encoder runs its merges between two of them
     * independently (same result, a small heap). Llama 2: '\n', '\t', ...
     */
    bool barrier[128];
    cria_token byte_tok[256];        /* the token of each byte for byte fallback (unk when none) */
    cria_token bos, eos, unk, pad;
    cria_token eog[CRIA_VOCAB_MAX_EOG];
    int n_eog;
    bool add_bos, add_eos, add_space_prefix;

    /* Control, unknown and user-defined tokens, longest piece first, for splitting text around them. */
    cria_token *special;
    int32_t n_special;
    int32_t n_user_defined;
};

/* Where an encoder's tokens go: written while they fit, always counted. */
typedef struct cria_tok_sink {
    cria_token *out;
    int32_t cap;
    int64_t n;
} cria_tok_sink;

static inline void cria_tok_sink_put(cria_tok_sink *s, cria_token t)
{
    if (s->n < s->cap)
        s->out[s->n] = t;
    s->n++;
}

/* A piece of the input: raw text to encode, or a special token found in it (special.c). */
typedef struct cria_tok_frag {
    size_t off, len;
    cria_token tok; /* -1: raw text */
} cria_tok_frag;

/*
 * Splits text into raw fragments and special tokens (control and unknown
 * tokens when parse_special, user-defined ones always), longest token first,
 * as llama.cpp's tokenizer_st_partition does. On success *frags is a malloc'd
 * array of *n_frags entries in text order. Returns false when out of memory.
 */
bool cria_tok_partition(const cria_vocab *v, const char *text, size_t len, bool parse_special,
                        cria_tok_frag **frags, size_t *n_frags);

/*
 * The encoders: each encodes the raw fragments of text (special-token
 * fragments pass through as their token) into s. They return false when out
 * of memory.
 */
bool cria_spm_encode(const cria_vocab *v, const char *text, const cria_tok_frag *fr, size_t n_frag,
                     cria_tok_sink *s);
bool cria_bpe_encode(const cria_vocab *v, const char *text, const cria_tok_frag *fr, size_t n_frag,
                     cria_tok_sink *s);

static inline const char *cria_vocab_piece_ptr(const cria_vocab *v, cria_token t)
{
    return v->arena + v->piece_off[t];
}

#endif
