/*
 * Quantized tensor types: one const row of traits per type and ISA level
 * (block geometry, the activation type its dot product takes, and the
 * kernels), as ggml's type_traits table. The scalar rows (quant.c, with the
 * formats in quant_legacy.c, quant_k.c, quant_ternary.c) are the reference;
 * quant_avx2.c and quant_avx512.c replace the kernels they speed up and keep
 * the scalar ones for the rest.
 *
 * A matmul of a weight of type W quantizes each activation row once to
 * traits(W)->vec_dot_type (Q8_0 for the 32-blocks, Q8_1 for Q4_1/Q5_1, Q8_K
 * for the K-quants and ternary types), as llama.cpp does, so the integer
 * dot products and therefore the results agree with it.
 */
#ifndef CRIA_QUANT_QUANT_H
#define CRIA_QUANT_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cpu.h"
#include "base/dtype.h"
#include "base/error.h"

/*
 * Kernels of one type. n is the element count, a multiple of the block
 * (callers check it; cria_quantize_row below checks for them).
 */
typedef void (*cria_from_float_fn)(const float *x, void *y, int64_t n);
typedef void (*cria_to_float_fn)(const void *x, float *y, int64_t n);
/* sum over i < n of w[i] * a[i]: w a row of the weight type, a of vec_dot_type. */
typedef float (*cria_vec_dot_fn)(int64_t n, const void *w, const void *a);

/*
 * out[r] = vec_dot(n, w + r * w_stride, a) for r < nrows (1..CRIA_DOT_ROWS):
 * several weight rows against one activation row, their float chains
 * interleaved so the FMA latency overlaps; the same bits as nrows calls.
 */
enum { CRIA_DOT_ROWS = 4 };
typedef void (*cria_vec_dot_rows_fn)(int64_t n, int nrows, const void *w, size_t w_stride, const void *a, float *out);

/*
 * out[t * out_stride + r] = vec_dot(n, w row r, a row t) for r < nr <=
 * CRIA_DOT_ROWS and t < nt <= tile_toks (rows w_stride, activations
 * a_stride bytes apart): the prompt's GEMM, each weight block unpacked once
 * for all the tile's tokens; the same bits as vec_dot.
 */
typedef void (*cria_vec_dot_tile_fn)(int64_t n, int nr, const void *w, size_t w_stride, int nt, const void *a,
                                     size_t a_stride, float *out, size_t out_stride);

/*
 * The prompt's GEMM over weights repacked on the fly (quant_gemm_avx512.c):
 * out[t * out_stride + r] = dot(w row r, a row t) for r < nr <=
 * CRIA_GEMM_ROWS and t < nt (any count). The rows are interleaved in slices
 * so one VPDPBUSD forms sixteen rows' sums in its lanes; the repacking costs
 * one pass over the rows per call, which many tokens repay. Each output is
 * one float chain of block sums times scales: Q4_0's reference shape, so
 * there vec_dot's bits; the types whose reference keeps eight float lanes
 * per row agree with it to rounding (about 1e-6 relative).
 * gemm_prep first lays the activations out for the kernel in `extra`, once
 * per matmul: in tiles of CRIA_GEMM_TOKS tokens (the last one padded),
 * gemm_extra bytes per token and activation block, so extra needs
 * ceil(nt / CRIA_GEMM_TOKS) * CRIA_GEMM_TOKS * (n / block) * gemm_extra
 * bytes. gemm then reads the activations from extra only.
 */
enum { CRIA_GEMM_ROWS = 16, CRIA_GEMM_TOKS = 8 };
typedef void (*cria_gemm_prep_fn)(int64_t n, int nt, const void *a, size_t a_stride, void *extra);
typedef void (*cria_gemm_fn)(int64_t n, int nr, const void *w, size_t w_stride, int nt, const void *a,
                             size_t a_stride, const void *extra, float *out, size_t out_stride);

/*
 * One token's matmul (GEMV) through a kernel that reads the weights as the
 * file has them but twice the blocks per instruction of vec_dot_rows (the
 * activations, a, with what gemv_prep derived from them once per matmul,
 * gemv_extra bytes per element): out[r] = dot(w row r, a) for r < nr <=
 * CRIA_DOT_ROWS, in vec_dot's float shape, so with its bits.
 */
typedef void (*cria_gemv_prep_fn)(int64_t n, const void *a, void *prep);
typedef void (*cria_gemv_fn)(int64_t n, int nr, const void *w, size_t w_stride, const void *a, const void *prep,
                             float *out);

/*
 * The kernel over weights packed at load (packed.h): 16 rows of the packed
 * layout at wp (one group, n elements each) for nt tokens, whose
 * activations packed_prep laid out in extra (packed_extra bytes per token
 * and activation block, whole tiles of CRIA_GEMM_TOKS tokens, as
 * gemm_prep): out[t * out_stride + r]. The bits of vec_dot, for any nt.
 */
typedef void (*cria_packed_fn)(int64_t n, const void *wp, int nt, const void *extra, float *out, size_t out_stride);

typedef struct cria_quant_traits {
    cria_dtype type;
    int32_t block;       /* elements per block */
    size_t block_bytes;  /* bytes per block */
    cria_dtype vec_dot_type;
    cria_from_float_fn from_float;
    cria_to_float_fn to_float;
    cria_vec_dot_fn vec_dot; /* NULL for activation-only types (Q8_K, Q8_1) */
    cria_vec_dot_rows_fn vec_dot_rows; /* NULL where only vec_dot exists */
    cria_vec_dot_tile_fn vec_dot_tile; /* NULL where only vec_dot exists */
    int tile_toks;                     /* tokens per vec_dot_tile call */
    cria_gemm_fn gemm;                 /* NULL where there is none */
    cria_gemm_prep_fn gemm_prep;       /* set with gemm */
    size_t gemm_extra;                 /* prep bytes per token and activation block */
    int gemm_min_toks;                 /* fewest tokens for which gemm beats vec_dot_tile */
    cria_gemv_fn gemv;                 /* NULL where there is none */
    cria_gemv_prep_fn gemv_prep;       /* set with gemv */
    size_t gemv_extra;                 /* prep bytes per element */
    cria_packed_fn packed;             /* NULL where weights are not packed at load */
    cria_gemm_prep_fn packed_prep;     /* set with packed */
    size_t packed_extra;               /* packed_prep's bytes per token and activation block */
} cria_quant_traits;

/* True for the block types this module implements. */
bool cria_quant_is_quantized(cria_dtype t);

/* The traits of type t at ISA level isa, or NULL when t is not a quantized type. */
const cria_quant_traits *cria_quant_traits_for(cria_dtype t, cria_isa isa);

/*
 * Quantizes n floats into type t (scalar reference). Fails with CRIA_ERR_ARG
 * when t is not a quantized type or n is not a multiple of its block.
 * Defined for any input: NaN counts as 0; +-Inf and magnitudes beyond 1e30
 * are clamped to +-1e30, and a half-precision block scale that would
 * overflow saturates at 65504, so such blocks decode to the largest values
 * the format can hold, with the input's sign.
 */
cria_status cria_quantize_row(cria_dtype t, const float *x, void *y, int64_t n, cria_error *err);

/* Dequantizes n elements of type t into y; the same checks as cria_quantize_row. */
cria_status cria_dequantize_row(cria_dtype t, const void *x, float *y, int64_t n, cria_error *err);

#endif
