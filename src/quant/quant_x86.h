/*
 * The x86 dot-product kernels, written once and compiled twice: included by
 * quant_avx2.c and quant_avx512.c, each of which first defines the integer
 * primitives for its instruction set:
 *
 *   dot_us8(u, s)        eight int32 lanes, lane k = sum of u[j] * s[j] over
 *                        bytes j = 4k..4k+3 (u unsigned, s signed)
 *   scales2(s0, s1)      two sub-block scales in the form sdot takes
 *   sdot(u, s, sc)       dot_us8 with lanes 0..3 times s0 and 4..7 times s1
 *   bits32(p)            byte j = 0xFF where bit j of the 32-bit word at p is set
 *
 * Every kernel keeps the scalar reference's float shape (quant_impl.h: eight
 * integer lanes by (e % 32) / 4, one FMA per block and lane, hsum_float_8),
 * so each level returns the scalar bits. A kernel is one block function
 * (adds one block's contribution into acc and aux) and one final function;
 * dot_rows runs up to four weight rows side by side, so four independent
 * FMA chains hide each other's latency. The includer defines QUANT_X86_TABLE,
 * the name of the traits table this file ends with.
 */
#ifndef CRIA_QUANT_X86_H
#define CRIA_QUANT_X86_H

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

/* Signed x signed bytes: x * y = |x| * (y with x's sign); y must not hold -128. */
static inline __m256i dot_ss8(__m256i x, __m256i y)
{
    return dot_us8(_mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
}

/* 32 nibbles of 16 bytes: bytes 0..15 the low nibbles, 16..31 the high ones. */
static inline __m256i nibbles32(const uint8_t *qs)
{
    const __m128i b = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(0xF));
}

/* Half to float in one F16C instruction (the scalar quant_f32 does it in bit arithmetic; same values). */
static inline float h2f(uint16_t h)
{
    return _cvtsh_ss(h);
}

static inline __m256 fma_block(__m256i lanes, float d, __m256 acc)
{
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), _mm256_set1_ps(d), acc);
}

static inline __m256i load32(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

typedef void (*block_fn)(const char *w, const char *a, __m256 *acc, __m128 *aux);
typedef float (*final_fn)(__m256 acc, __m128 aux);

/*
 * out[r] = the dot of weight row r (rows `stride` bytes apart, blocks of
 * wbytes) with the activation row a (blocks of abytes), nb blocks, r < nr.
 * Inlined into each kernel with constant block and final functions.
 */
static inline __attribute__((always_inline)) void dot_rows(int64_t nb, int nr, const void *w, size_t stride,
                                                           size_t wbytes, const void *a, size_t abytes, block_fn blk,
                                                           final_fn fin, float *out)
{
    const char *wc = w, *ac = a;
    if (nr == CRIA_DOT_ROWS) {
        __m256 acc[CRIA_DOT_ROWS];
        __m128 aux[CRIA_DOT_ROWS];
        for (int r = 0; r < CRIA_DOT_ROWS; r++) {
            acc[r] = _mm256_setzero_ps();
            aux[r] = _mm_setzero_ps();
        }
        for (int64_t i = 0; i < nb; i++) {
#pragma GCC unroll 4
            for (int r = 0; r < CRIA_DOT_ROWS; r++) {
                /*
                 * The caller's next rows follow these: start their lines on the
                 * way into L2 now (a fixed count per block, so no branch). From
                 * memory this lifts a one-token matmul from 7-10 to 12-21 GB/s
                 * per core (bench_quant); past the matrix end they are only hints.
                 */
                const char *next = wc + (size_t)(r + CRIA_DOT_ROWS) * stride + (size_t)i * wbytes;
                for (size_t off = 0; off < wbytes; off += 64)
                    _mm_prefetch(next + off, _MM_HINT_T1);
                blk(wc + (size_t)r * stride + (size_t)i * wbytes, ac + (size_t)i * abytes, &acc[r], &aux[r]);
            }
        }
        for (int r = 0; r < CRIA_DOT_ROWS; r++)
            out[r] = fin(acc[r], aux[r]);
        return;
    }
    for (int r = 0; r < nr; r++) {
        __m256 acc = _mm256_setzero_ps();
        __m128 aux = _mm_setzero_ps();
        for (int64_t i = 0; i < nb; i++)
            blk(wc + (size_t)r * stride + (size_t)i * wbytes, ac + (size_t)i * abytes, &acc, &aux);
        out[r] = fin(acc, aux);
    }
}

static float fin_lanes(__m256 acc, __m128 aux)
{
    (void)aux;
    return hsum8(acc);
}

/* Q4_1 / Q5_1: the min terms were summed one by one in aux's first float. */
static float fin_lanes_plus_scalar(__m256 acc, __m128 aux)
{
    return hsum8(acc) + _mm_cvtss_f32(aux);
}

/* Q4_K / Q5_K: the min terms in aux's four lanes. */
static float fin_lanes_plus_mins(__m256 acc, __m128 aux)
{
    return hsum8(acc) + hsum4(aux);
}

/* ---- 32-blocks ----------------------------------------------------------- */

static inline void blk_q8_0(const char *w, const char *a, __m256 *acc, __m128 *aux)
{
    (void)aux;
    const block_q8_0 *x = (const block_q8_0 *)(const void *)w, *y = (const block_q8_0 *)(const void *)a;
    *acc = fma_block(dot_ss8(load32(x->qs), load32(y->qs)), h2f(x->d) * h2f(y->d), *acc);
}

/*
 * Q4_0 sums like the reference on x86 (llama.cpp repacks Q4_0 into its
 * q4_0_8x8 layout whenever AVX2 is there, and those kernels take each
 * block's exact integer sum times its scale into one float per row): the
 * eight lanes are added as integers, then one scalar FMA per block into aux.
 */
static inline void blk_q4_0(const char *w, const char *a, __m256 *acc, __m128 *aux)
{
    (void)acc;
    const block_q4_0 *x = (const block_q4_0 *)(const void *)w;
    const block_q8_0 *y = (const block_q8_0 *)(const void *)a;
    /* (q - 8) * y = q * y - 8 * y: unsigned nibbles go straight in, and 8 * y is the same for every row */
    const __m256i yv = load32(y->qs);
    const __m256i lanes = _mm256_sub_epi32(dot_us8(nibbles32(x->qs), yv), dot_us8(_mm256_set1_epi8(8), yv));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(lanes), _mm256_extracti128_si256(lanes, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    *aux = _mm_fmadd_ss(_mm_cvtepi32_ps(s), _mm_set_ss(h2f(x->d) * h2f(y->d)), *aux);
}

/* Q4_0: the one float chain blk_q4_0 keeps in aux's first lane. */
static float fin_scalar(__m256 acc, __m128 aux)
{
    (void)acc;
    return _mm_cvtss_f32(aux);
}

static inline void blk_q4_1(const char *w, const char *a, __m256 *acc, __m128 *aux)
{
    const block_q4_1 *x = (const block_q4_1 *)(const void *)w;
    const block_q8_1 *y = (const block_q8_1 *)(const void *)a;
    *aux = _mm_add_ss(*aux, _mm_set_ss(h2f(x->m) * h2f(y->s)));
    *acc = fma_block(dot_us8(nibbles32(x->qs), load32(y->qs)), h2f(x->d) * h2f(y->d), *acc);
}

static inline void blk_q5_0(const char *w, const char *a, __m256 *acc, __m128 *aux)
{
    (void)aux;
    const block_q5_0 *x = (const block_q5_0 *)(const void *)w;
    const block_q8_0 *y = (const block_q8_0 *)(const void *)a;
    /* (q - 16) * y = q * y - 16 * y with q = nibble | fifth bit << 4 */
    const __m256i q = _mm256_or_si256(nibbles32(x->qs), _mm256_and_si256(bits32(x->qh), _mm256_set1_epi8(0x10)));
    const __m256i yv = load32(y->qs);
    const __m256i lanes = _mm256_sub_epi32(dot_us8(q, yv), dot_us8(_mm256_set1_epi8(16), yv));
    *acc = fma_block(lanes, h2f(x->d) * h2f(y->d), *acc);
}

static inline void blk_q5_1(const char *w, const char *a, __m256 *acc, __m128 *aux)
{
    const block_q5_1 *x = (const block_q5_1 *)(const void *)w;
    const block_q8_1 *y = (const block_q8_1 *)(const void *)a;
    *aux = _mm_add_ss(*aux, _mm_set_ss(h2f(x->m) * h2f(y->s)));
    const __m256i q = _mm256_or_si256(nibbles32(x->qs), _mm256_and_si256(bits32(x->qh), _mm256_set1_epi8(0x10)));
    *acc = fma_block(dot_us8(q, load32(y->qs)), h2f(x->d) * h2f(y->d), *acc);
}

/* ---- K-quants and TQ2_0 -------------------------------------------------- */

/*
 * Q4_K / Q5_K mins: lane k = the mins of sub-blocks 2k and 2k+1 times their
 * activation sums (bsums 4k..4k+1 and 4k+2..4k+3), accumulated with dmin.
 */
static inline __m128 k45_mins(const uint8_t m[8], const block_q8_K *y, float dmin, __m128 accm)
{
    const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y->bsums),
                                      _mm_loadu_si128((const __m128i *)(y->bsums + 8)));
    const __m128i mins = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)m));
    return _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_madd_epi16(mins, bs)), _mm_set1_ps(dmin), accm);
}

static inline void blk_q4_k(const char *w, const char *a, __m256 *acc, __m128 *aux)
{
    const block_q4_K *x = (const block_q4_K *)(const void *)w;
    const block_q8_K *y = (const block_q8_K *)(const void *)a;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    uint8_t sc[8], m[8];
    quant_k4_unpack(x->scales, sc, m);
    *aux = k45_mins(m, y, -y->d * h2f(x->dmin), *aux);
    __m256i lanes = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {
        const int sl = sc[2 * c], sh = sc[2 * c + 1];
        const __m256i q = load32(x->qs + 32 * c);
        lanes = _mm256_add_epi32(lanes, sdot(_mm256_and_si256(q, m4), load32(y->qs + 64 * c), scales2(sl, sl)));
        lanes = _mm256_add_epi32(lanes, sdot(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), load32(y->qs + 64 * c + 32),
                                             scales2(sh, sh)));
    }
    *acc = fma_block(lanes, y->d * h2f(x->d), *acc);
}

static inline void blk_q5_k(const char *w, const char *a, __m256 *acc, __m128 *aux)
{
    const block_q5_K *x = (const block_q5_K *)(const void *)w;
    const block_q8_K *y = (const block_q8_K *)(const void *)a;
    const __m256i m4 = _mm256_set1_epi8(0xF), b4 = _mm256_set1_epi8(0x10);
    uint8_t sc[8], m[8];
    quant_k4_unpack(x->scales, sc, m);
    *aux = k45_mins(m, y, -y->d * h2f(x->dmin), *aux);
    const __m256i hbits = load32(x->qh);
    __m256i lanes = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {
        const int sl = sc[2 * c], sh = sc[2 * c + 1];
        const __m256i q = load32(x->qs + 32 * c);
        /* bit 2c of qh[l] is bit 4 of the low element, bit 2c+1 of the high one */
        const __m256i hl = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hbits, 2 * c), 4), b4);
        const __m256i hh = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hbits, 2 * c + 1), 4), b4);
        const __m256i ql = _mm256_or_si256(_mm256_and_si256(q, m4), hl);
        const __m256i qu = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), hh);
        lanes = _mm256_add_epi32(lanes, sdot(ql, load32(y->qs + 64 * c), scales2(sl, sl)));
        lanes = _mm256_add_epi32(lanes, sdot(qu, load32(y->qs + 64 * c + 32), scales2(sh, sh)));
    }
    *acc = fma_block(lanes, y->d * h2f(x->d), *acc);
}

static inline void blk_q6_k(const char *w, const char *a, __m256 *acc, __m128 *aux)
{
    (void)aux;
    const block_q6_K *x = (const block_q6_K *)(const void *)w;
    const block_q8_K *y = (const block_q8_K *)(const void *)a;
    const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
    __m256i lanes = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        const __m256i l0 = load32(x->ql + 64 * h), l1 = load32(x->ql + 64 * h + 32), hb = load32(x->qh + 32 * h);
        const __m256i q[4] = {
            _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m3), 4)),
            _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m3), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m3), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m3), 4)),
        };
        for (int c = 0; c < 4; c++) {
            const int e0 = 128 * h + 32 * c;
            const __m256i yv = load32(y->qs + e0), sc = scales2(x->scales[e0 / 16], x->scales[e0 / 16 + 1]);
            /* (q - 32) * y = q * y - 32 * y */
            lanes = _mm256_add_epi32(lanes, _mm256_sub_epi32(sdot(q[c], yv, sc), sdot(k32, yv, sc)));
        }
    }
    *acc = fma_block(lanes, y->d * h2f(x->d), *acc);
}

static inline void blk_q2_k(const char *w, const char *a, __m256 *acc, __m128 *aux)
{
    (void)aux;
    const block_q2_K *x = (const block_q2_K *)(const void *)w;
    const block_q8_K *y = (const block_q8_K *)(const void *)a;
    const __m256i m3 = _mm256_set1_epi8(3);
    /* mins first, lane k = m[2k] * bsums[2k] + m[2k+1] * bsums[2k+1], as the scalar reference */
    const __m128i sc = _mm_loadu_si128((const __m128i *)x->scales);
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), _mm_set1_epi8(0xF)));
    const __m256i mprod = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)y->bsums));
    *acc = fma_block(mprod, -y->d * h2f(x->dmin), *acc);
    __m256i lanes = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        const __m256i q = load32(x->qs + 32 * h);
        for (int k = 0; k < 4; k++) {
            const int j = 8 * h + 2 * k; /* the sub-blocks of elements 128h + 32k .. +31 */
            const __m256i q2 = _mm256_and_si256(_mm256_srli_epi16(q, 2 * k), m3);
            lanes = _mm256_add_epi32(lanes, sdot(q2, load32(y->qs + 128 * h + 32 * k),
                                                 scales2(x->scales[j] & 0xF, x->scales[j + 1] & 0xF)));
        }
    }
    *acc = fma_block(lanes, y->d * h2f(x->d), *acc);
}

static inline void blk_q3_k(const char *w, const char *a, __m256 *acc, __m128 *aux)
{
    (void)aux;
    const block_q3_K *x = (const block_q3_K *)(const void *)w;
    const block_q8_K *y = (const block_q8_K *)(const void *)a;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1), k4 = _mm256_set1_epi8(4);
    int8_t sc[16];
    quant_q3k_unpack(x->scales, sc);
    const __m256i hm = load32(x->hmask);
    __m256i lanes = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        const __m256i q = load32(x->qs + 32 * h);
        for (int k = 0; k < 4; k++) {
            const int j = 8 * h + 2 * k;
            /* u = low two bits | high bit << 2 in 0..7; the value is u - 4 */
            const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + k), one);
            const __m256i u = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * k), m3), _mm256_slli_epi16(hb, 2));
            const __m256i yv = load32(y->qs + 128 * h + 32 * k), s2 = scales2(sc[j], sc[j + 1]);
            lanes = _mm256_add_epi32(lanes, _mm256_sub_epi32(sdot(u, yv, s2), sdot(k4, yv, s2)));
        }
    }
    *acc = fma_block(lanes, y->d * h2f(x->d), *acc);
}

static inline void blk_tq2_0(const char *w, const char *a, __m256 *acc, __m128 *aux)
{
    (void)aux;
    const block_tq2_0 *x = (const block_tq2_0 *)(const void *)w;
    const block_q8_K *y = (const block_q8_K *)(const void *)a;
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256i lanes = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        const __m256i q = load32(x->qs + 32 * h);
        for (int s = 0; s < 4; s++) {
            const __m256i t = _mm256_and_si256(_mm256_srli_epi16(q, 2 * s), m3);
            lanes = _mm256_add_epi32(lanes, dot_us8(t, load32(y->qs + 128 * h + 32 * s)));
        }
    }
    /* (t - 1) * y: lane k takes off activations 32k..32k+31 (bsums 2k, 2k+1), the scalar reference's grouping */
    const __m256i bs = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(const void *)y->bsums),
                                         _mm256_set1_epi16(1));
    *acc = fma_block(_mm256_sub_epi32(lanes, bs), y->d * h2f(x->d), *acc);
}

/*
 * Trit of every byte of b: byte j times m[j] (mod 256) brings the wanted
 * trit of a pack5 byte to the top, which (v * 3) >> 8 reads, as the scalar
 * unpack5; in 16-bit lanes so the products are exact.
 */
static inline __m256i trits32(__m256i b, __m256i m)
{
    const __m256i zero = _mm256_setzero_si256(), low = _mm256_set1_epi16(0xFF), three = _mm256_set1_epi16(3);
    __m256i lo = _mm256_mullo_epi16(_mm256_unpacklo_epi8(b, zero), _mm256_unpacklo_epi8(m, zero));
    __m256i hi = _mm256_mullo_epi16(_mm256_unpackhi_epi8(b, zero), _mm256_unpackhi_epi8(m, zero));
    lo = _mm256_and_si256(lo, low);
    hi = _mm256_and_si256(hi, low);
    lo = _mm256_srli_epi16(_mm256_mullo_epi16(lo, three), 8);
    hi = _mm256_srli_epi16(_mm256_mullo_epi16(hi, three), 8);
    return _mm256_packus_epi16(lo, hi);
}

/*
 * TQ1_0 (layout in quant_ternary.c): qs[0..31] hold elements 32k + j (trit k),
 * qs[32..47] elements 160 + 16k + j, qh elements 240 + 4k + m; each 32-byte
 * group of trits lines up with 32 activations, byte j in lane j / 4.
 */
static inline void blk_tq1_0(const char *w, const char *a, __m256 *acc, __m128 *aux)
{
    (void)aux;
    const block_tq1_0 *x = (const block_tq1_0 *)(const void *)w;
    const block_q8_K *y = (const block_q8_K *)(const void *)a;
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    const __m256i q = load32(x->qs);
    __m256i lanes = _mm256_setzero_si256();
    for (int k = 0; k < 5; k++)
        lanes = _mm256_add_epi32(lanes, dot_us8(trits32(q, _mm256_set1_epi8((char)pow3[k])), load32(y->qs + 32 * k)));
    const __m128i q2 = _mm_loadu_si128((const __m128i *)(const void *)(x->qs + 32));
    const __m256i q22 = _mm256_set_m128i(q2, q2);
    lanes = _mm256_add_epi32(lanes, dot_us8(trits32(q22, _mm256_set_m128i(_mm_set1_epi8(3), _mm_set1_epi8(1))),
                                            load32(y->qs + 160)));
    lanes = _mm256_add_epi32(lanes, dot_us8(trits32(q22, _mm256_set_m128i(_mm_set1_epi8(27), _mm_set1_epi8(9))),
                                            load32(y->qs + 192)));
    int32_t qh;
    memcpy(&qh, x->qh, sizeof qh);
    const __m256i last = _mm256_set_m128i(_mm_set1_epi32(qh), q2); /* qh byte m repeated: byte 4k + m wants trit k */
    const __m256i mlast = _mm256_set_m128i(_mm_setr_epi8(1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27),
                                           _mm_set1_epi8(81));
    lanes = _mm256_add_epi32(lanes, dot_us8(trits32(last, mlast), load32(y->qs + 224)));
    const __m256i bs = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(const void *)y->bsums),
                                         _mm256_set1_epi16(1));
    *acc = fma_block(_mm256_sub_epi32(lanes, bs), y->d * h2f(x->d), *acc);
}

/* ---- the entry points: vec_dot and vec_dot_rows per type ------------------- */

static void q8_0_rows(int64_t n, int nr, const void *w, size_t stride, const void *a, float *out)
{
    dot_rows(n / QK_LEGACY, nr, w, stride, sizeof(block_q8_0), a, sizeof(block_q8_0), blk_q8_0, fin_lanes, out);
}

static void q4_0_rows(int64_t n, int nr, const void *w, size_t stride, const void *a, float *out)
{
    dot_rows(n / QK_LEGACY, nr, w, stride, sizeof(block_q4_0), a, sizeof(block_q8_0), blk_q4_0, fin_scalar, out);
}

static void q4_1_rows(int64_t n, int nr, const void *w, size_t stride, const void *a, float *out)
{
    dot_rows(n / QK_LEGACY, nr, w, stride, sizeof(block_q4_1), a, sizeof(block_q8_1), blk_q4_1,
             fin_lanes_plus_scalar, out);
}

static void q5_0_rows(int64_t n, int nr, const void *w, size_t stride, const void *a, float *out)
{
    dot_rows(n / QK_LEGACY, nr, w, stride, sizeof(block_q5_0), a, sizeof(block_q8_0), blk_q5_0, fin_lanes, out);
}

static void q5_1_rows(int64_t n, int nr, const void *w, size_t stride, const void *a, float *out)
{
    dot_rows(n / QK_LEGACY, nr, w, stride, sizeof(block_q5_1), a, sizeof(block_q8_1), blk_q5_1,
             fin_lanes_plus_scalar, out);
}

static void q2_k_rows(int64_t n, int nr, const void *w, size_t stride, const void *a, float *out)
{
    dot_rows(n / QK_K, nr, w, stride, sizeof(block_q2_K), a, sizeof(block_q8_K), blk_q2_k, fin_lanes, out);
}

static void q3_k_rows(int64_t n, int nr, const void *w, size_t stride, const void *a, float *out)
{
    dot_rows(n / QK_K, nr, w, stride, sizeof(block_q3_K), a, sizeof(block_q8_K), blk_q3_k, fin_lanes, out);
}

static void q4_k_rows(int64_t n, int nr, const void *w, size_t stride, const void *a, float *out)
{
    dot_rows(n / QK_K, nr, w, stride, sizeof(block_q4_K), a, sizeof(block_q8_K), blk_q4_k, fin_lanes_plus_mins, out);
}

static void q5_k_rows(int64_t n, int nr, const void *w, size_t stride, const void *a, float *out)
{
    dot_rows(n / QK_K, nr, w, stride, sizeof(block_q5_K), a, sizeof(block_q8_K), blk_q5_k, fin_lanes_plus_mins, out);
}

static void q6_k_rows(int64_t n, int nr, const void *w, size_t stride, const void *a, float *out)
{
    dot_rows(n / QK_K, nr, w, stride, sizeof(block_q6_K), a, sizeof(block_q8_K), blk_q6_k, fin_lanes, out);
}

static void tq1_0_rows(int64_t n, int nr, const void *w, size_t stride, const void *a, float *out)
{
    dot_rows(n / QK_K, nr, w, stride, sizeof(block_tq1_0), a, sizeof(block_q8_K), blk_tq1_0, fin_lanes, out);
}

static void tq2_0_rows(int64_t n, int nr, const void *w, size_t stride, const void *a, float *out)
{
    dot_rows(n / QK_K, nr, w, stride, sizeof(block_tq2_0), a, sizeof(block_q8_K), blk_tq2_0, fin_lanes, out);
}

/*
 * The prompt's GEMM: up to CRIA_DOT_ROWS weight rows x QUANT_TILE_TOKS
 * activation rows in one pass over the blocks, so each weight block is
 * loaded and unpacked once for every token of the tile and each activation
 * block once for every row. Every (row, token) sum takes the block and final
 * functions of dot_rows in the same order: the bits of vec_dot. Rows past nr
 * and tokens past nt repeat row / token 0 and are not stored.
 */
#ifndef QUANT_TILE_TOKS
#define QUANT_TILE_TOKS 2 /* 4 x 2 accumulators: the sixteen registers of AVX2 */
#endif

static inline __attribute__((always_inline)) void dot_tile(int64_t nb, int nr, const void *w, size_t stride,
                                                           size_t wbytes, int nt, const void *a, size_t astride,
                                                           size_t abytes, block_fn blk, final_fn fin, float *out,
                                                           size_t ostride)
{
    const char *wr[CRIA_DOT_ROWS], *at[QUANT_TILE_TOKS];
    for (int r = 0; r < CRIA_DOT_ROWS; r++)
        wr[r] = (const char *)w + (size_t)(r < nr ? r : 0) * stride;
    for (int t = 0; t < QUANT_TILE_TOKS; t++)
        at[t] = (const char *)a + (size_t)(t < nt ? t : 0) * astride;
    __m256 acc[CRIA_DOT_ROWS][QUANT_TILE_TOKS];
    __m128 aux[CRIA_DOT_ROWS][QUANT_TILE_TOKS];
#pragma GCC unroll 4
    for (int r = 0; r < CRIA_DOT_ROWS; r++) {
#pragma GCC unroll 4
        for (int t = 0; t < QUANT_TILE_TOKS; t++) {
            acc[r][t] = _mm256_setzero_ps();
            aux[r][t] = _mm_setzero_ps();
        }
    }
    for (int64_t i = 0; i < nb; i++) {
#pragma GCC unroll 4
        for (int r = 0; r < CRIA_DOT_ROWS; r++) {
            /* the next rows' block on its way into L2, as in dot_rows (a few tokens stream from memory too) */
            const char *next = wr[r] + (size_t)CRIA_DOT_ROWS * stride + (size_t)i * wbytes;
            for (size_t off = 0; off < wbytes; off += 64)
                _mm_prefetch(next + off, _MM_HINT_T1);
#pragma GCC unroll 4
            for (int t = 0; t < QUANT_TILE_TOKS; t++)
                blk(wr[r] + (size_t)i * wbytes, at[t] + (size_t)i * abytes, &acc[r][t], &aux[r][t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < QUANT_TILE_TOKS; t++) {
#pragma GCC unroll 4
        for (int r = 0; r < CRIA_DOT_ROWS; r++) {
            if (t < nt && r < nr)
                out[(size_t)t * ostride + (size_t)r] = fin(acc[r][t], aux[r][t]);
        }
    }
}

#define QUANT_TILE_FN(name, qk, wblock, ablock, blk, fin)                                                        \
    static void name(int64_t n, int nr, const void *w, size_t stride, int nt, const void *a, size_t astride,   \
                     float *out, size_t ostride)                                                               \
    {                                                                                                          \
        dot_tile(n / (qk), nr, w, stride, sizeof(wblock), nt, a, astride, sizeof(ablock), blk, fin, out,       \
                 ostride);                                                                                     \
    }

QUANT_TILE_FN(q8_0_tile, QK_LEGACY, block_q8_0, block_q8_0, blk_q8_0, fin_lanes)
QUANT_TILE_FN(q4_0_tile, QK_LEGACY, block_q4_0, block_q8_0, blk_q4_0, fin_scalar)
QUANT_TILE_FN(q4_1_tile, QK_LEGACY, block_q4_1, block_q8_1, blk_q4_1, fin_lanes_plus_scalar)
QUANT_TILE_FN(q5_0_tile, QK_LEGACY, block_q5_0, block_q8_0, blk_q5_0, fin_lanes)
QUANT_TILE_FN(q5_1_tile, QK_LEGACY, block_q5_1, block_q8_1, blk_q5_1, fin_lanes_plus_scalar)
QUANT_TILE_FN(q2_k_tile, QK_K, block_q2_K, block_q8_K, blk_q2_k, fin_lanes)
QUANT_TILE_FN(q3_k_tile, QK_K, block_q3_K, block_q8_K, blk_q3_k, fin_lanes)
QUANT_TILE_FN(q4_k_tile, QK_K, block_q4_K, block_q8_K, blk_q4_k, fin_lanes_plus_mins)
QUANT_TILE_FN(q5_k_tile, QK_K, block_q5_K, block_q8_K, blk_q5_k, fin_lanes_plus_mins)
QUANT_TILE_FN(q6_k_tile, QK_K, block_q6_K, block_q8_K, blk_q6_k, fin_lanes)
QUANT_TILE_FN(tq1_0_tile, QK_K, block_tq1_0, block_q8_K, blk_tq1_0, fin_lanes)
QUANT_TILE_FN(tq2_0_tile, QK_K, block_tq2_0, block_q8_K, blk_tq2_0, fin_lanes)

/* One row: the same kernel with nr = 1. */
static float q8_0_dot(int64_t n, const void *w, const void *a)
{
    float r;
    q8_0_rows(n, 1, w, 0, a, &r);
    return r;
}

static float q4_0_dot(int64_t n, const void *w, const void *a)
{
    float r;
    q4_0_rows(n, 1, w, 0, a, &r);
    return r;
}

static float q4_1_dot(int64_t n, const void *w, const void *a)
{
    float r;
    q4_1_rows(n, 1, w, 0, a, &r);
    return r;
}

static float q5_0_dot(int64_t n, const void *w, const void *a)
{
    float r;
    q5_0_rows(n, 1, w, 0, a, &r);
    return r;
}

static float q5_1_dot(int64_t n, const void *w, const void *a)
{
    float r;
    q5_1_rows(n, 1, w, 0, a, &r);
    return r;
}

static float q2_k_dot(int64_t n, const void *w, const void *a)
{
    float r;
    q2_k_rows(n, 1, w, 0, a, &r);
    return r;
}

static float q3_k_dot(int64_t n, const void *w, const void *a)
{
    float r;
    q3_k_rows(n, 1, w, 0, a, &r);
    return r;
}

static float q4_k_dot(int64_t n, const void *w, const void *a)
{
    float r;
    q4_k_rows(n, 1, w, 0, a, &r);
    return r;
}

static float q5_k_dot(int64_t n, const void *w, const void *a)
{
    float r;
    q5_k_rows(n, 1, w, 0, a, &r);
    return r;
}

static float q6_k_dot(int64_t n, const void *w, const void *a)
{
    float r;
    q6_k_rows(n, 1, w, 0, a, &r);
    return r;
}

static float tq1_0_dot(int64_t n, const void *w, const void *a)
{
    float r;
    tq1_0_rows(n, 1, w, 0, a, &r);
    return r;
}

static float tq2_0_dot(int64_t n, const void *w, const void *a)
{
    float r;
    tq2_0_rows(n, 1, w, 0, a, &r);
    return r;
}

/* ---- dequantizers: the scalar arithmetic (d * q, or d * q + m, d * q - m) eight floats at a time -------- */

/* y[0..31] = scale(e) * q[e] - off, with scale s0 for e < 16 and s1 for e >= 16 (signed bytes q). */
static inline void store32(__m256i q, float s0, float s1, float off, float *y)
{
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    const __m128i part[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; k++) {
        const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part[k]));
        const __m256 p = _mm256_mul_ps(_mm256_set1_ps(k < 2 ? s0 : s1), v);
        _mm256_storeu_ps(y + 8 * k, off != 0.0f ? _mm256_sub_ps(p, _mm256_set1_ps(off)) : p);
    }
}

/* The same with an added minimum: y = s * q + m (Q4_1, Q5_1). */
static inline void store32_plus(__m256i q, float s, float m, float *y)
{
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    const __m128i part[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; k++) {
        const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part[k]));
        _mm256_storeu_ps(y + 8 * k, _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(s), v), _mm256_set1_ps(m)));
    }
}

static void q8_0_to_float(const void *vx, float *y, int64_t n)
{
    const block_q8_0 *x = vx;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        const float d = h2f(x[i].d);
        store32(load32(x[i].qs), d, d, 0.0f, y + i * QK_LEGACY);
    }
}

static void q4_0_to_float(const void *vx, float *y, int64_t n)
{
    const block_q4_0 *x = vx;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        const float d = h2f(x[i].d);
        store32(_mm256_sub_epi8(nibbles32(x[i].qs), _mm256_set1_epi8(8)), d, d, 0.0f, y + i * QK_LEGACY);
    }
}

static void q4_1_to_float(const void *vx, float *y, int64_t n)
{
    const block_q4_1 *x = vx;
    for (int64_t i = 0; i < n / QK_LEGACY; i++)
        store32_plus(nibbles32(x[i].qs), h2f(x[i].d), h2f(x[i].m), y + i * QK_LEGACY);
}

static void q5_0_to_float(const void *vx, float *y, int64_t n)
{
    const block_q5_0 *x = vx;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        const float d = h2f(x[i].d);
        const __m256i q = _mm256_or_si256(nibbles32(x[i].qs), _mm256_and_si256(bits32(x[i].qh), _mm256_set1_epi8(0x10)));
        store32(_mm256_sub_epi8(q, _mm256_set1_epi8(16)), d, d, 0.0f, y + i * QK_LEGACY);
    }
}

static void q5_1_to_float(const void *vx, float *y, int64_t n)
{
    const block_q5_1 *x = vx;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        const __m256i q = _mm256_or_si256(nibbles32(x[i].qs), _mm256_and_si256(bits32(x[i].qh), _mm256_set1_epi8(0x10)));
        store32_plus(q, h2f(x[i].d), h2f(x[i].m), y + i * QK_LEGACY);
    }
}

/* Q4_K (hbits NULL) and Q5_K: sub-block j = 2c + hi holds the low (hi 0) or high nibbles of qs[32c..]. */
static inline void k45_to_float(uint16_t dh, uint16_t dminh, const uint8_t *scales, const uint8_t *qs,
                                const uint8_t *qh, float *y)
{
    const float d = h2f(dh), dmin = h2f(dminh);
    const __m256i m4 = _mm256_set1_epi8(0xF), b4 = _mm256_set1_epi8(0x10);
    uint8_t sc[8], m[8];
    quant_k4_unpack(scales, sc, m);
    const __m256i hbits = qh ? load32(qh) : _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {
        const __m256i q = load32(qs + 32 * c);
        __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if (qh) {
            lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hbits, 2 * c), 4), b4));
            hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hbits, 2 * c + 1), 4), b4));
        }
        const float s0 = d * (float)sc[2 * c], s1 = d * (float)sc[2 * c + 1];
        store32(lo, s0, s0, dmin * (float)m[2 * c], y + 64 * c);
        store32(hi, s1, s1, dmin * (float)m[2 * c + 1], y + 64 * c + 32);
    }
}

static void q4_k_to_float(const void *vx, float *y, int64_t n)
{
    const block_q4_K *x = vx;
    for (int64_t i = 0; i < n / QK_K; i++)
        k45_to_float(x[i].d, x[i].dmin, x[i].scales, x[i].qs, NULL, y + i * QK_K);
}

static void q5_k_to_float(const void *vx, float *y, int64_t n)
{
    const block_q5_K *x = vx;
    for (int64_t i = 0; i < n / QK_K; i++)
        k45_to_float(x[i].d, x[i].dmin, x[i].scales, x[i].qs, x[i].qh, y + i * QK_K);
}

static void q6_k_to_float(const void *vx, float *y, int64_t n)
{
    const block_q6_K *x = vx;
    const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(x[i].d);
        for (int h = 0; h < 2; h++) {
            const __m256i l0 = load32(x[i].ql + 64 * h), l1 = load32(x[i].ql + 64 * h + 32), hb = load32(x[i].qh + 32 * h);
            const __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m3), 4)),
                _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m3), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m3), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m3), 4)),
            };
            for (int c = 0; c < 4; c++) {
                const int e0 = 128 * h + 32 * c;
                store32(_mm256_sub_epi8(q[c], k32), d * (float)x[i].scales[e0 / 16], d * (float)x[i].scales[e0 / 16 + 1],
                        0.0f, y + i * QK_K + e0);
            }
        }
    }
}

static void tq2_0_to_float(const void *vx, float *y, int64_t n)
{
    const block_tq2_0 *x = vx;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(x[i].d);
        for (int h = 0; h < 2; h++) {
            const __m256i q = load32(x[i].qs + 32 * h);
            for (int s = 0; s < 4; s++) {
                const __m256i t = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(q, 2 * s), m3), one);
                store32(t, d, d, 0.0f, y + i * QK_K + 128 * h + 32 * s);
            }
        }
    }
}

/*
 * The traits table of the including ISA file, named by QUANT_X86_TABLE: one
 * table for both levels (the Q8_0/Q8_K activation quantizers are the AVX2
 * ones at both).
 */
#ifndef QUANT_GEMM_Q8_0
#define QUANT_GEMM_Q8_0
#endif
#ifndef QUANT_GEMM_Q4_0
#define QUANT_GEMM_Q4_0
#endif
#ifndef QUANT_GEMM_Q4_K
#define QUANT_GEMM_Q4_K
#endif
#ifndef QUANT_GEMM_Q6_K
#define QUANT_GEMM_Q6_K
#endif
#ifndef QUANT_GEMM_Q5_0
#define QUANT_GEMM_Q5_0
#endif
#ifndef QUANT_GEMM_Q5_K
#define QUANT_GEMM_Q5_K
#endif

const cria_quant_traits QUANT_X86_TABLE[CRIA_DTYPE_COUNT] = {
    [CRIA_DTYPE_Q2_K] = {
        .type = CRIA_DTYPE_Q2_K, .block = QK_K, .block_bytes = sizeof(block_q2_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q2_k_from_float, .to_float = quant_q2_k_to_float, .vec_dot = q2_k_dot,
        .vec_dot_rows = q2_k_rows,
        .vec_dot_tile = q2_k_tile, .tile_toks = QUANT_TILE_TOKS,
    },
    [CRIA_DTYPE_Q3_K] = {
        .type = CRIA_DTYPE_Q3_K, .block = QK_K, .block_bytes = sizeof(block_q3_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q3_k_from_float, .to_float = quant_q3_k_to_float, .vec_dot = q3_k_dot,
        .vec_dot_rows = q3_k_rows,
        .vec_dot_tile = q3_k_tile, .tile_toks = QUANT_TILE_TOKS,
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
        .vec_dot_tile = q8_0_tile, .tile_toks = QUANT_TILE_TOKS,
        QUANT_GEMM_Q8_0
    },
    [CRIA_DTYPE_Q4_0] = {
        .type = CRIA_DTYPE_Q4_0, .block = QK_LEGACY, .block_bytes = sizeof(block_q4_0),
        .vec_dot_type = CRIA_DTYPE_Q8_0,
        .from_float = quant_q4_0_from_float, .to_float = q4_0_to_float, .vec_dot = q4_0_dot,
        .vec_dot_rows = q4_0_rows,
        .vec_dot_tile = q4_0_tile, .tile_toks = QUANT_TILE_TOKS,
        QUANT_GEMM_Q4_0
    },
    [CRIA_DTYPE_Q4_1] = {
        .type = CRIA_DTYPE_Q4_1, .block = QK_LEGACY, .block_bytes = sizeof(block_q4_1),
        .vec_dot_type = CRIA_DTYPE_Q8_1,
        .from_float = quant_q4_1_from_float, .to_float = q4_1_to_float, .vec_dot = q4_1_dot,
        .vec_dot_rows = q4_1_rows,
        .vec_dot_tile = q4_1_tile, .tile_toks = QUANT_TILE_TOKS,
    },
    [CRIA_DTYPE_Q5_0] = {
        .type = CRIA_DTYPE_Q5_0, .block = QK_LEGACY, .block_bytes = sizeof(block_q5_0),
        .vec_dot_type = CRIA_DTYPE_Q8_0,
        .from_float = quant_q5_0_from_float, .to_float = q5_0_to_float, .vec_dot = q5_0_dot,
        .vec_dot_rows = q5_0_rows,
        .vec_dot_tile = q5_0_tile, .tile_toks = QUANT_TILE_TOKS,
        QUANT_GEMM_Q5_0
    },
    [CRIA_DTYPE_Q5_1] = {
        .type = CRIA_DTYPE_Q5_1, .block = QK_LEGACY, .block_bytes = sizeof(block_q5_1),
        .vec_dot_type = CRIA_DTYPE_Q8_1,
        .from_float = quant_q5_1_from_float, .to_float = q5_1_to_float, .vec_dot = q5_1_dot,
        .vec_dot_rows = q5_1_rows,
        .vec_dot_tile = q5_1_tile, .tile_toks = QUANT_TILE_TOKS,
    },
    [CRIA_DTYPE_Q4_K] = {
        .type = CRIA_DTYPE_Q4_K, .block = QK_K, .block_bytes = sizeof(block_q4_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q4_k_from_float, .to_float = q4_k_to_float, .vec_dot = q4_k_dot,
        .vec_dot_rows = q4_k_rows,
        .vec_dot_tile = q4_k_tile, .tile_toks = QUANT_TILE_TOKS,
        QUANT_GEMM_Q4_K
    },
    [CRIA_DTYPE_Q5_K] = {
        .type = CRIA_DTYPE_Q5_K, .block = QK_K, .block_bytes = sizeof(block_q5_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q5_k_from_float, .to_float = q5_k_to_float, .vec_dot = q5_k_dot,
        .vec_dot_rows = q5_k_rows,
        .vec_dot_tile = q5_k_tile, .tile_toks = QUANT_TILE_TOKS,
        QUANT_GEMM_Q5_K
    },
    [CRIA_DTYPE_Q6_K] = {
        .type = CRIA_DTYPE_Q6_K, .block = QK_K, .block_bytes = sizeof(block_q6_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q6_k_from_float, .to_float = q6_k_to_float, .vec_dot = q6_k_dot,
        .vec_dot_rows = q6_k_rows,
        .vec_dot_tile = q6_k_tile, .tile_toks = QUANT_TILE_TOKS,
        QUANT_GEMM_Q6_K
    },
    [CRIA_DTYPE_TQ1_0] = {
        .type = CRIA_DTYPE_TQ1_0, .block = QK_K, .block_bytes = sizeof(block_tq1_0),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_tq1_0_from_float, .to_float = quant_tq1_0_to_float, .vec_dot = tq1_0_dot,
        .vec_dot_rows = tq1_0_rows,
        .vec_dot_tile = tq1_0_tile, .tile_toks = QUANT_TILE_TOKS,
    },
    [CRIA_DTYPE_TQ2_0] = {
        .type = CRIA_DTYPE_TQ2_0, .block = QK_K, .block_bytes = sizeof(block_tq2_0),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_tq2_0_from_float, .to_float = tq2_0_to_float, .vec_dot = tq2_0_dot,
        .vec_dot_rows = tq2_0_rows,
        .vec_dot_tile = tq2_0_tile, .tile_toks = QUANT_TILE_TOKS,
    },
};

#endif
