/*
 * The model: hyper-parameters, weight views into the mapped file, and the
 * vocabulary. Read-only once loaded, so any number of contexts can share it.
 */
#ifndef CRIA_MODEL_MODEL_H
#define CRIA_MODEL_MODEL_H

#include "cria.h"
#include "tokenizer/vocab.h"

/* The model's vocabulary (never NULL for a loaded model). */
const cria_vocab *cria_model_vocab(const cria_model *model);

#endif
