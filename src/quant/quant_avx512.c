/*
 * AVX-512 kernels of the quantized types (F, BW, VL and VNNI), compiled with
 * the AVX-512 flags and reached only through cria_quant_traits_for at that
 * level. VNNI's VPDPBUSD forms each lane's four byte products and their sum
 * in one instruction (no 16-bit intermediate), which is the integer lane the
 * float shape of the scalar reference needs; everything after it (one FMA
 * per block and lane, hsum_float_8) is the reference's, so the results are
 * the scalar bits. tests/test_quant.c checks every row against the scalar one.
 */
#include <immintrin.h>
#include <string.h>

#include "quant/quant_impl.h"

/* (a0+a4 + a2+a6) + (a1+a5 + a3+a7), as quant_lanes_sum. */
static inline float hsum8(__m256 v)
{
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/* (m0 + m2) + (m1 + m3), as quant_lanes4_sum. */
static inline float hsum4(__m128 r)
{
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/* Eight int32 lanes, lane k = sum of u[j] * s[j] over bytes j = 4k..4k+3 (u unsigned), in one VPDPBUSD. */
static inline __m256i dot_us8(__m256i u, __m256i s)
{
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
}

/* The same for two signed operands (x * y = |x| * (y signed by x)). */
static inline __m256i dot_ss8(__m256i x, __m256i y)
{
    return dot_us8(_mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
}

/* 32 nibbles of 16 bytes: bytes 0..15 the low nibbles, 16..31 the high ones. */
static inline __m256i nibbles32(const uint8_t *qs)
{
    const __m128i b = _mm_loadu_si128((const __m128i *)qs);
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(both, _mm256_set1_epi8(0xF));
}

/* 32 bytes, byte j = 0xFF where bit j of the 32-bit word at p is set (an AVX-512 mask move). */
static inline __m256i bits32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_movm_epi8((__mmask32)v);
}

/* Half to float in one F16C instruction (the scalar quant_f32 is bit manipulation; same values). */
static inline float h2f(uint16_t h)
{
    return _cvtsh_ss(h);
}

static inline __m256 fma_block(__m256i lanes, float d, __m256 acc)
{
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), _mm256_set1_ps(d), acc);
}

/* ---- 32-blocks ----------------------------------------------------------- */

static float q8_0_dot(int64_t n, const void *vw, const void *va)
{
    const block_q8_0 *w = vw, *a = va;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)w[i].qs);
        const __m256i y = _mm256_loadu_si256((const __m256i *)a[i].qs);
        acc = fma_block(dot_ss8(x, y), h2f(w[i].d) * h2f(a[i].d), acc);
    }
    return hsum8(acc);
}

static float q4_0_dot(int64_t n, const void *vw, const void *va)
{
    const block_q4_0 *w = vw;
    const block_q8_0 *a = va;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        const __m256i x = _mm256_sub_epi8(nibbles32(w[i].qs), _mm256_set1_epi8(8));
        const __m256i y = _mm256_loadu_si256((const __m256i *)a[i].qs);
        acc = fma_block(dot_ss8(x, y), h2f(w[i].d) * h2f(a[i].d), acc);
    }
    return hsum8(acc);
}

static float q4_1_dot(int64_t n, const void *vw, const void *va)
{
    const block_q4_1 *w = vw;
    const block_q8_1 *a = va;
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        summs += h2f(w[i].m) * h2f(a[i].s);
        const __m256i y = _mm256_loadu_si256((const __m256i *)a[i].qs);
        acc = fma_block(dot_us8(nibbles32(w[i].qs), y), h2f(w[i].d) * h2f(a[i].d), acc);
    }
    return hsum8(acc) + summs;
}

static float q5_0_dot(int64_t n, const void *vw, const void *va)
{
    const block_q5_0 *w = vw;
    const block_q8_0 *a = va;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        /* q - 16 = the nibble with 0xF0 or'ed in (as a signed byte) where the fifth bit is clear */
        const __m256i hi = _mm256_andnot_si256(bits32(w[i].qh), _mm256_set1_epi8((char)0xF0));
        const __m256i x = _mm256_or_si256(nibbles32(w[i].qs), hi);
        const __m256i y = _mm256_loadu_si256((const __m256i *)a[i].qs);
        acc = fma_block(dot_ss8(x, y), h2f(w[i].d) * h2f(a[i].d), acc);
    }
    return hsum8(acc);
}

static float q5_1_dot(int64_t n, const void *vw, const void *va)
{
    const block_q5_1 *w = vw;
    const block_q8_1 *a = va;
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        summs += h2f(w[i].m) * h2f(a[i].s);
        const __m256i hi = _mm256_and_si256(bits32(w[i].qh), _mm256_set1_epi8(0x10));
        const __m256i x = _mm256_or_si256(nibbles32(w[i].qs), hi);
        const __m256i y = _mm256_loadu_si256((const __m256i *)a[i].qs);
        acc = fma_block(dot_us8(x, y), h2f(w[i].d) * h2f(a[i].d), acc);
    }
    return hsum8(acc) + summs;
}

/* ---- K-quants and TQ2_0 ---------------------------------------------------- */

/* Four int32 lanes, lane k = sum of the two sub-block mins of pair k times their activation sums. */
static inline __m128 k45_mins(const uint8_t *scales, const block_q8_K *a, float dmin, __m128 accm)
{
    int32_t prod[4];
    for (int k = 0; k < 4; k++) {
        uint8_t sc, m0, m1;
        quant_k4_scale_min(2 * k, scales, &sc, &m0);
        quant_k4_scale_min(2 * k + 1, scales, &sc, &m1);
        prod[k] = m0 * (a->bsums[4 * k] + a->bsums[4 * k + 1]) + m1 * (a->bsums[4 * k + 2] + a->bsums[4 * k + 3]);
    }
    const __m128 p = _mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)prod));
    return _mm_fmadd_ps(p, _mm_set1_ps(dmin), accm);
}

static float q4_k_dot(int64_t n, const void *vw, const void *va)
{
    const block_q4_K *w = vw;
    const block_q8_K *a = va;
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0xF);
    for (int64_t i = 0; i < n / QK_K; i++) {
        accm = k45_mins(w[i].scales, &a[i], -a[i].d * h2f(w[i].dmin), accm);
        __m256i lanes = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            uint8_t sl, sh, m;
            quant_k4_scale_min(2 * c, w[i].scales, &sl, &m);
            quant_k4_scale_min(2 * c + 1, w[i].scales, &sh, &m);
            const __m256i q = _mm256_loadu_si256((const __m256i *)(w[i].qs + 32 * c));
            const __m256i yl = _mm256_loadu_si256((const __m256i *)(a[i].qs + 64 * c));
            const __m256i yh = _mm256_loadu_si256((const __m256i *)(a[i].qs + 64 * c + 32));
            const __m256i pl = dot_us8(_mm256_and_si256(q, m4), yl);
            const __m256i ph = dot_us8(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), yh);
            lanes = _mm256_add_epi32(lanes, _mm256_mullo_epi32(pl, _mm256_set1_epi32(sl)));
            lanes = _mm256_add_epi32(lanes, _mm256_mullo_epi32(ph, _mm256_set1_epi32(sh)));
        }
        acc = fma_block(lanes, a[i].d * h2f(w[i].d), acc);
    }
    return hsum8(acc) + hsum4(accm);
}

static float q5_k_dot(int64_t n, const void *vw, const void *va)
{
    const block_q5_K *w = vw;
    const block_q8_K *a = va;
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0xF), b4 = _mm256_set1_epi8(0x10);
    for (int64_t i = 0; i < n / QK_K; i++) {
        accm = k45_mins(w[i].scales, &a[i], -a[i].d * h2f(w[i].dmin), accm);
        const __m256i hbits = _mm256_loadu_si256((const __m256i *)w[i].qh);
        __m256i lanes = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            uint8_t sl, sh, m;
            quant_k4_scale_min(2 * c, w[i].scales, &sl, &m);
            quant_k4_scale_min(2 * c + 1, w[i].scales, &sh, &m);
            const __m256i q = _mm256_loadu_si256((const __m256i *)(w[i].qs + 32 * c));
            /* bit 2c of qh[l] is bit 4 of the low element, bit 2c+1 of the high one */
            const __m256i hl = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hbits, 2 * c), 4), b4);
            const __m256i hh = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hbits, 2 * c + 1), 4), b4);
            const __m256i yl = _mm256_loadu_si256((const __m256i *)(a[i].qs + 64 * c));
            const __m256i yh = _mm256_loadu_si256((const __m256i *)(a[i].qs + 64 * c + 32));
            const __m256i pl = dot_us8(_mm256_or_si256(_mm256_and_si256(q, m4), hl), yl);
            const __m256i ph = dot_us8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), hh), yh);
            lanes = _mm256_add_epi32(lanes, _mm256_mullo_epi32(pl, _mm256_set1_epi32(sl)));
            lanes = _mm256_add_epi32(lanes, _mm256_mullo_epi32(ph, _mm256_set1_epi32(sh)));
        }
        acc = fma_block(lanes, a[i].d * h2f(w[i].d), acc);
    }
    return hsum8(acc) + hsum4(accm);
}

/* Two sub-block scales for a 32-element group as int32 lanes: 0..3 get s0, 4..7 get s1. */
static inline __m256i scale_pair(int8_t s0, int8_t s1)
{
    return _mm256_set_m128i(_mm_set1_epi32(s1), _mm_set1_epi32(s0));
}

static float q6_k_dot(int64_t n, const void *vw, const void *va)
{
    const block_q6_K *w = vw;
    const block_q8_K *a = va;
    __m256 acc = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i lanes = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(w[i].ql + 64 * h));
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(w[i].ql + 64 * h + 32));
            const __m256i hb = _mm256_loadu_si256((const __m256i *)(w[i].qh + 32 * h));
            const __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m3), 4)),
                _mm256_or_si256(_mm256_and_si256(l1, m4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m3), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m3), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m3), 4)),
            };
            for (int c = 0; c < 4; c++) {
                const int e0 = 128 * h + 32 * c;
                const __m256i y = _mm256_loadu_si256((const __m256i *)(a[i].qs + e0));
                /* (q - 32) * y = q * y - 32 * y */
                const __m256i p = _mm256_sub_epi32(dot_us8(q[c], y), dot_us8(k32, y));
                const __m256i s = scale_pair(w[i].scales[e0 / 16], w[i].scales[e0 / 16 + 1]);
                lanes = _mm256_add_epi32(lanes, _mm256_mullo_epi32(p, s));
            }
        }
        acc = fma_block(lanes, a[i].d * h2f(w[i].d), acc);
    }
    return hsum8(acc);
}

static float tq2_0_dot(int64_t n, const void *vw, const void *va)
{
    const block_tq2_0 *w = vw;
    const block_q8_K *a = va;
    __m256 acc = _mm256_setzero_ps();
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i lanes = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(w[i].qs + 32 * h));
            for (int s = 0; s < 4; s++) {
                const __m256i t = _mm256_and_si256(_mm256_srli_epi16(q, 2 * s), m3);
                const __m256i y = _mm256_loadu_si256((const __m256i *)(a[i].qs + 128 * h + 32 * s));
                /* (t - 1) * y = t * y - y */
                lanes = _mm256_add_epi32(lanes, _mm256_sub_epi32(dot_us8(t, y), dot_us8(one, y)));
            }
        }
        acc = fma_block(lanes, a[i].d * h2f(w[i].d), acc);
    }
    return hsum8(acc);
}

const cria_quant_traits cria_quant_avx512[CRIA_DTYPE_COUNT] = {
    [CRIA_DTYPE_Q8_0] = {
        .type = CRIA_DTYPE_Q8_0, .block = QK_LEGACY, .block_bytes = sizeof(block_q8_0),
        .vec_dot_type = CRIA_DTYPE_Q8_0,
        .from_float = quant_avx2_q8_0_from_float, .to_float = quant_q8_0_to_float, .vec_dot = q8_0_dot,
    },
    [CRIA_DTYPE_Q4_0] = {
        .type = CRIA_DTYPE_Q4_0, .block = QK_LEGACY, .block_bytes = sizeof(block_q4_0),
        .vec_dot_type = CRIA_DTYPE_Q8_0,
        .from_float = quant_q4_0_from_float, .to_float = quant_q4_0_to_float, .vec_dot = q4_0_dot,
    },
    [CRIA_DTYPE_Q4_1] = {
        .type = CRIA_DTYPE_Q4_1, .block = QK_LEGACY, .block_bytes = sizeof(block_q4_1),
        .vec_dot_type = CRIA_DTYPE_Q8_1,
        .from_float = quant_q4_1_from_float, .to_float = quant_q4_1_to_float, .vec_dot = q4_1_dot,
    },
    [CRIA_DTYPE_Q5_0] = {
        .type = CRIA_DTYPE_Q5_0, .block = QK_LEGACY, .block_bytes = sizeof(block_q5_0),
        .vec_dot_type = CRIA_DTYPE_Q8_0,
        .from_float = quant_q5_0_from_float, .to_float = quant_q5_0_to_float, .vec_dot = q5_0_dot,
    },
    [CRIA_DTYPE_Q5_1] = {
        .type = CRIA_DTYPE_Q5_1, .block = QK_LEGACY, .block_bytes = sizeof(block_q5_1),
        .vec_dot_type = CRIA_DTYPE_Q8_1,
        .from_float = quant_q5_1_from_float, .to_float = quant_q5_1_to_float, .vec_dot = q5_1_dot,
    },
    [CRIA_DTYPE_Q4_K] = {
        .type = CRIA_DTYPE_Q4_K, .block = QK_K, .block_bytes = sizeof(block_q4_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q4_k_from_float, .to_float = quant_q4_k_to_float, .vec_dot = q4_k_dot,
    },
    [CRIA_DTYPE_Q5_K] = {
        .type = CRIA_DTYPE_Q5_K, .block = QK_K, .block_bytes = sizeof(block_q5_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q5_k_from_float, .to_float = quant_q5_k_to_float, .vec_dot = q5_k_dot,
    },
    [CRIA_DTYPE_Q6_K] = {
        .type = CRIA_DTYPE_Q6_K, .block = QK_K, .block_bytes = sizeof(block_q6_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q6_k_from_float, .to_float = quant_q6_k_to_float, .vec_dot = q6_k_dot,
    },
    [CRIA_DTYPE_TQ2_0] = {
        .type = CRIA_DTYPE_TQ2_0, .block = QK_K, .block_bytes = sizeof(block_tq2_0),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_tq2_0_from_float, .to_float = quant_tq2_0_to_float, .vec_dot = tq2_0_dot,
    },
};
