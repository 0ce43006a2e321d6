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

#include "quant/quant_gemm.h"
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

#define QUANT_TILE_TOKS 4 /* 4 x 4 accumulators in the 32 registers of AVX-512 */
/*
 * The repacking GEMM kernels (quant_gemm_avx512.c) of the types that have
 * one, each from the token count where it beat vec_dot_tile in thread CPU
 * time (64 rows x 2048, 4..32 tokens): Q8_0 between 12 and 16, Q4_0 8, Q4_K
 * 8-12, Q6_K below 6; Q5_0 and Q5_K as Q4_0 and Q4_K.
 */
#define QUANT_GEMM_32(fn, min)                                                                               \
    .gemm = fn, .gemm_prep = quant_avx512_gemm_prep_q8_0,                                                   \
    .gemm_extra = sizeof(quant_gemm_act32) / CRIA_GEMM_TOKS, .gemm_min_toks = (min),
#define QUANT_GEMM_K(fn, min)                                                                                \
    .gemm = fn, .gemm_prep = quant_avx512_gemm_prep_q8_k,                                                   \
    .gemm_extra = sizeof(quant_gemm_actk) / CRIA_GEMM_TOKS, .gemm_min_toks = (min),
#define QUANT_GEMM_Q8_0                                                                                      \
    QUANT_GEMM_32(quant_avx512_gemm_q8_0, 16)                                                                \
    .packed = quant_avx512_packed_q8_0, .packed_prep = quant_avx512_packed_prep_q8_0,                        \
    .packed_extra = sizeof(quant_packed_act8) > sizeof(quant_gemm_act32) / CRIA_GEMM_TOKS                 \
                        ? sizeof(quant_packed_act8)                                                          \
                        : sizeof(quant_gemm_act32) / CRIA_GEMM_TOKS,
#define QUANT_GEMM_Q4_0                                                                                      \
    QUANT_GEMM_32(quant_avx512_gemm_q4_0, 8)                                                                 \
    .gemv = quant_avx512_gemv_q4_0, .gemv_prep = quant_avx512_gemv_prep_q8_0, .gemv_extra = 2,           \
    .packed = quant_avx512_packed_q4_0, .packed_prep = quant_avx512_gemm_prep_q8_0,                          \
    .packed_extra = sizeof(quant_gemm_act32) / CRIA_GEMM_TOKS,
#define QUANT_GEMM_Q4_K                                                                                      \
    QUANT_GEMM_K(quant_avx512_gemm_q4_k, 12)                                                                 \
    .gemv = quant_avx512_gemv_q4_k, .gemv_prep = quant_avx512_gemv_prep_q4_k, .gemv_extra = 1,
#define QUANT_GEMM_Q5_0 QUANT_GEMM_32(quant_avx512_gemm_q5_0, 8)
#define QUANT_GEMM_Q5_K                                                                                      \
    QUANT_GEMM_K(quant_avx512_gemm_q5_k, 12)                                                                 \
    .gemv = quant_avx512_gemv_q5_k, .gemv_prep = quant_avx512_gemv_prep_q4_k, .gemv_extra = 1,
#define QUANT_GEMM_Q6_K                                                                                      \
    QUANT_GEMM_K(quant_avx512_gemm_q6_k, 6)                                                                  \
    .gemv = quant_avx512_gemv_q6_k, .gemv_prep = quant_avx512_gemv_prep_q8_k, .gemv_extra = 1,
#define QUANT_X86_TABLE cria_quant_avx512
#include "quant/quant_x86.h"
