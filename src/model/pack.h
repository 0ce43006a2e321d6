/* Load-time packing of a model's weights for the active kernels. */
#ifndef CRIA_MODEL_PACK_H
#define CRIA_MODEL_PACK_H

#include <stdbool.h>

#include "base/cpu.h"
#include "model/model.h"

/*
 * Gives every matrix whose type has packed kernels at level isa
 * (cria_pack_supported) a packed copy (cria_weight.packed); the others are
 * left alone. Returns whether anything was packed: false too when the
 * memory cannot be had, and then m is unchanged.
 */
bool cria_model_pack(cria_model *m, cria_isa isa);

/* Releases the packed copies (cria_model_free does). */
void cria_model_unpack(cria_model *m);

#endif
