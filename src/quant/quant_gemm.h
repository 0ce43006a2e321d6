/*
 * The repacking GEMM kernels of the AVX-512 VNNI level (quant_gemm_avx512.c),
 * entered through the traits' gemm and gemm_prep (see quant.h).
 */
#ifndef CRIA_QUANT_QUANT_GEMM_H
#define CRIA_QUANT_QUANT_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "quant/quant.h"

/*
 * The activations as the kernels read them, per tile of CRIA_GEMM_TOKS
 * tokens and activation block, all at fixed offsets from one pointer (a
 * 32-bit broadcast of four quants feeds each VPDPBUSD), with the block's
 * scale and the sums the kernels take the weights' offsets back out with.
 */
typedef struct quant_gemm_act32 { /* a Q8_0 block */
    int32_t q[CRIA_GEMM_TOKS][8]; /* token t, group g: the token's quants 4g..4g+3 */
    float d[CRIA_GEMM_TOKS];
    int32_t nsum[CRIA_GEMM_TOKS]; /* minus the sum of the token's 32 quants */
} quant_gemm_act32;

typedef struct quant_gemm_actk { /* a Q8_K block */
    int32_t q[CRIA_GEMM_TOKS][64];
    float d[CRIA_GEMM_TOKS];
    int32_t s32[4][CRIA_GEMM_TOKS]; /* int16 pairs: the sums of sub-blocks of 32, 2k and 2k+1 */
    int32_t s16[8][CRIA_GEMM_TOKS]; /* int16 pairs: bsums 2k and 2k+1 (sub-blocks of 16) */
} quant_gemm_actk;

void quant_avx512_gemm_prep_q8_0(int64_t n, int nt, const void *a, size_t a_stride, void *extra);
void quant_avx512_gemm_prep_q8_k(int64_t n, int nt, const void *a, size_t a_stride, void *extra);
void quant_avx512_gemm_q8_0(int64_t n, int nr, const void *w, size_t w_stride, int nt, const void *a,
                            size_t a_stride, const void *extra, float *out, size_t out_stride);
void quant_avx512_gemm_q4_0(int64_t n, int nr, const void *w, size_t w_stride, int nt, const void *a,
                            size_t a_stride, const void *extra, float *out, size_t out_stride);
void quant_avx512_gemm_q5_0(int64_t n, int nr, const void *w, size_t w_stride, int nt, const void *a,
                            size_t a_stride, const void *extra, float *out, size_t out_stride);
void quant_avx512_gemm_q5_k(int64_t n, int nr, const void *w, size_t w_stride, int nt, const void *a,
                            size_t a_stride, const void *extra, float *out, size_t out_stride);
void quant_avx512_gemm_q4_k(int64_t n, int nr, const void *w, size_t w_stride, int nt, const void *a,
                            size_t a_stride, const void *extra, float *out, size_t out_stride);
void quant_avx512_gemm_q6_k(int64_t n, int nr, const void *w, size_t w_stride, int nt, const void *a,
                            size_t a_stride, const void *extra, float *out, size_t out_stride);

void quant_avx512_gemv_prep_q8_0(int64_t n, const void *a, void *prep);
void quant_avx512_gemv_prep_q8_k(int64_t n, const void *a, void *prep);
void quant_avx512_gemv_q4_0(int64_t n, int nr, const void *w, size_t w_stride, const void *a, const void *prep,
                            float *out);
void quant_avx512_gemv_prep_q4_k(int64_t n, const void *a, void *prep);
void quant_avx512_gemv_q4_k(int64_t n, int nr, const void *w, size_t w_stride, const void *a, const void *prep,
                            float *out);
void quant_avx512_gemv_q5_k(int64_t n, int nr, const void *w, size_t w_stride, const void *a, const void *prep,
                            float *out);
void quant_avx512_gemv_q6_k(int64_t n, int nr, const void *w, size_t w_stride, const void *a, const void *prep,
                            float *out);

/* Q4_0 packed at load (packed.h, quant_packed_avx512.c), over gemm_prep_q8_0's layout. */
void quant_avx512_packed_q4_0(int64_t n, const void *wp, int nt, const void *extra, float *out, size_t out_stride);

/*
 * Q8_0 packed at load, over its own layout: the quants of each 4-byte group
 * with the group's correction (the weights are stored plus 128, so minus
 * 128 times the group's activation sum), since Q8_0's reference keeps one
 * float lane per group.
 */
typedef struct quant_packed_act8 { /* one token's block; token t's blocks are at t * (n / 32) */
    int32_t q[8];    /* group g: the quants 4g..4g+3 */
    int32_t corr[8]; /* group g: -128 * their sum */
    float d;
} quant_packed_act8;

/* From this many tokens packed Q8_0 sums per block (the GEMM's numbers) over gemm_prep_q8_0's layout. */
enum { CRIA_PACKED_Q8_0_GEMM_TOKS = 16 };

void quant_avx512_packed_prep_q8_0(int64_t n, int nt, const void *a, size_t a_stride, void *extra);
void quant_avx512_packed_q8_0(int64_t n, const void *wp, int nt, const void *extra, float *out, size_t out_stride);

#endif
