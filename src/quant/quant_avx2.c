/*
 * AVX2 (+ FMA, F16C) dot products of the quantized types, compiled with the
 * AVX2 flags and only reached through cria_quant_traits_for at that level.
 * Each row here replaces the scalar row of its type; tests/test_quant.c
 * checks every one against the scalar reference.
 */
#include <immintrin.h>

#include "quant/quant_impl.h"

const cria_quant_traits cria_quant_avx2[CRIA_DTYPE_COUNT] = {
    [CRIA_DTYPE_F32] = {0},
};
