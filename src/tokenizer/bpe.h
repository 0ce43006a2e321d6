/*
 * Private to src/tokenizer: the byte-level BPE (GPT-2 style) tables a
 * vocabulary with tokenizer.ggml.model "gpt2" carries, and the GPT-2 mapping
 * between bytes and the characters that spell them in pieces.
 */
#ifndef CRIA_TOKENIZER_BPE_H
#define CRIA_TOKENIZER_BPE_H

#include <stdbool.h>
#include <stdint.h>

#include "gguf/gguf.h"
#include "tokenizer/vocab_impl.h"

/*
 * Reads tokenizer.ggml.merges ("left right" strings, rank = index) and
 * tokenizer.ggml.pre from g for the vocabulary v (pieces and map ready) and
 * attaches the result to v->bpe. Sets v->add_bos from the pre-tokenizer's
 * default (the caller reads the add_bos_token key afterwards). A missing or
 * malformed merge list is CRIA_ERR_FORMAT; an unknown pre-tokenizer
 * CRIA_ERR_UNSUPPORTED; a missing pre-tokenizer key selects "default".
 */
cria_status cria_bpe_load(const cria_gguf *g, cria_vocab *v, cria_error *err);
void cria_bpe_free(cria_bpe *b);

/*
 * Writes the bytes a BPE piece (n bytes, GPT-2 spelling) stands for at dst
 * and returns their count, never more than n. A character outside the
 * mapping is copied as is.
 */
uint32_t cria_bpe_unmap(const char *p, uint32_t n, char *dst);

#endif
