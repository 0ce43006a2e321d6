/*
 * Private to src/tokenizer: the vocabulary's layout, shared by the loaders
 * (vocab.c), the encoder (spm.c) and the decoder (detok.c).
 */
#ifndef CRIA_TOKENIZER_VOCAB_IMPL_H
#define CRIA_TOKENIZER_VOCAB_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "tokenizer/vocab.h"

/* Most end-of-generation ids a vocab keeps (EOS, EOT, EOM, and named end-of-turn tokens). */
#define CRIA_VOCAB_MAX_EOG 8

/*
 * Per-token data is in parallel arrays. Pieces (SPM spelling) and their
 * decoded texts (what token_to_piece writes) live in one arena; each piece is
 * NUL-terminated, texts are not. The piece -> id map is open addressing with
 * linear probing over a power-of-two table of id + 1 (0: empty slot).
 */
struct cria_vocab {
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

static inline const char *cria_vocab_piece_ptr(const cria_vocab *v, cria_token t)
{
    return v->arena + v->piece_off[t];
}

#endif
