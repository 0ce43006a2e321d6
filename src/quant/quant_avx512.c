/*
 * AVX-512 kernels of the quantized types (F, BW, VL and VNNI), compiled with
 * the AVX-512 flags and reached only through cria_quant_traits_for at that
 * level. The dot products live in quant_x86.h, shared with the AVX2 file;
 * here VNNI's VPDPBUSD forms each lane's four byte products and their sum in
 * one instruction with no 16-bit intermediate, and sub-block scales multiply
 * whole int32 lanes. The integer lanes are the same numbers as at the other
 * levels, so the results are the scalar bits; tests/test_quant.c checks.
 */
#include <immintrin.h>
#include <string.h>

#include "quant/quant_impl.h"

/* Lane k = sum of u[j] * s[j], bytes j = 4k..4k+3 (u unsigned), in one VPDPBUSD. */
static inline __m256i dot_us8(__m256i u, __m256i s)
{
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
}

/* Sub-block scales as int32 multipliers: lanes 0..3 (bytes 0..15) s0, lanes 4..7 s1. */
static inline __m256i scales2(int s0, int s1)
{
    return _mm256_set_m128i(_mm_set1_epi32(s1), _mm_set1_epi32(s0));
}

static inline __m256i sdot(__m256i u, __m256i s, __m256i sc)
{
    return _mm256_mullo_epi32(dot_us8(u, s), sc);
}

/* Byte j = 0xFF where bit j of the 32-bit word at p is set: one mask-to-vector move. */
static inline __m256i bits32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_movm_epi8((__mmask32)v);
}

#include "quant/quant_x86.h"

const cria_quant_traits cria_quant_avx512[CRIA_DTYPE_COUNT] = {
    [CRIA_DTYPE_Q2_K] = {
        .type = CRIA_DTYPE_Q2_K, .block = QK_K, .block_bytes = sizeof(block_q2_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q2_k_from_float, .to_float = quant_q2_k_to_float, .vec_dot = q2_k_dot,
        .vec_dot_rows = q2_k_rows,
    },
    [CRIA_DTYPE_Q3_K] = {
        .type = CRIA_DTYPE_Q3_K, .block = QK_K, .block_bytes = sizeof(block_q3_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q3_k_from_float, .to_float = quant_q3_k_to_float, .vec_dot = q3_k_dot,
        .vec_dot_rows = q3_k_rows,
    },
    [CRIA_DTYPE_Q8_K] = {
        .type = CRIA_DTYPE_Q8_K, .block = QK_K, .block_bytes = sizeof(block_q8_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_avx2_q8_k_from_float, .to_float = quant_q8_k_to_float, .vec_dot = NULL,
    },
    [CRIA_DTYPE_Q8_0] = {
        .type = CRIA_DTYPE_Q8_0, .block = QK_LEGACY, .block_bytes = sizeof(block_q8_0),
        .vec_dot_type = CRIA_DTYPE_Q8_0,
        .from_float = quant_avx2_q8_0_from_float, .to_float = q8_0_to_float, .vec_dot = q8_0_dot,
        .vec_dot_rows = q8_0_rows,
    },
    [CRIA_DTYPE_Q4_0] = {
        .type = CRIA_DTYPE_Q4_0, .block = QK_LEGACY, .block_bytes = sizeof(block_q4_0),
        .vec_dot_type = CRIA_DTYPE_Q8_0,
        .from_float = quant_q4_0_from_float, .to_float = q4_0_to_float, .vec_dot = q4_0_dot,
        .vec_dot_rows = q4_0_rows,
    },
    [CRIA_DTYPE_Q4_1] = {
        .type = CRIA_DTYPE_Q4_1, .block = QK_LEGACY, .block_bytes = sizeof(block_q4_1),
        .vec_dot_type = CRIA_DTYPE_Q8_1,
        .from_float = quant_q4_1_from_float, .to_float = q4_1_to_float, .vec_dot = q4_1_dot,
        .vec_dot_rows = q4_1_rows,
    },
    [CRIA_DTYPE_Q5_0] = {
        .type = CRIA_DTYPE_Q5_0, .block = QK_LEGACY, .block_bytes = sizeof(block_q5_0),
        .vec_dot_type = CRIA_DTYPE_Q8_0,
        .from_float = quant_q5_0_from_float, .to_float = q5_0_to_float, .vec_dot = q5_0_dot,
        .vec_dot_rows = q5_0_rows,
    },
    [CRIA_DTYPE_Q5_1] = {
        .type = CRIA_DTYPE_Q5_1, .block = QK_LEGACY, .block_bytes = sizeof(block_q5_1),
        .vec_dot_type = CRIA_DTYPE_Q8_1,
        .from_float = quant_q5_1_from_float, .to_float = q5_1_to_float, .vec_dot = q5_1_dot,
        .vec_dot_rows = q5_1_rows,
    },
    [CRIA_DTYPE_Q4_K] = {
        .type = CRIA_DTYPE_Q4_K, .block = QK_K, .block_bytes = sizeof(block_q4_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q4_k_from_float, .to_float = q4_k_to_float, .vec_dot = q4_k_dot,
        .vec_dot_rows = q4_k_rows,
    },
    [CRIA_DTYPE_Q5_K] = {
        .type = CRIA_DTYPE_Q5_K, .block = QK_K, .block_bytes = sizeof(block_q5_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q5_k_from_float, .to_float = q5_k_to_float, .vec_dot = q5_k_dot,
        .vec_dot_rows = q5_k_rows,
    },
    [CRIA_DTYPE_Q6_K] = {
        .type = CRIA_DTYPE_Q6_K, .block = QK_K, .block_bytes = sizeof(block_q6_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q6_k_from_float, .to_float = q6_k_to_float, .vec_dot = q6_k_dot,
        .vec_dot_rows = q6_k_rows,
    },
    [CRIA_DTYPE_TQ2_0] = {
        .type = CRIA_DTYPE_TQ2_0, .block = QK_K, .block_bytes = sizeof(block_tq2_0),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_tq2_0_from_float, .to_float = tq2_0_to_float, .vec_dot = tq2_0_dot,
        .vec_dot_rows = tq2_0_rows,
    },
};
