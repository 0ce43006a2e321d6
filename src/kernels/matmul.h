/*
 * y = x W^T for a weight matrix W (rows x cols, any supported type) and a
 * batch of n f32 activation rows x (n x cols): y is n x rows.
 *
 * The activations are converted once to the type the weight's dot product
 * takes (f16 for f16 weights, bf16 for bf16, f32 for f32, and for block
 * types the traits' vec_dot_type: Q8_0, Q8_1 or Q8_K), as the reference
 * engine does, then row chunks are shared out through an atomic counter. A
 * chunk streams its weight rows once and applies them to every token, so a
 * batch reads the weights once, not n times.
 */
#ifndef CRIA_KERNELS_MATMUL_H
#define CRIA_KERNELS_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/vec.h"
#include "model/model.h"
#include "parallel/pool.h"

/* Bytes of scratch cria_matmul needs for n activation rows of `cols`. */
size_t cria_matmul_scratch_bytes(int64_t n, int64_t cols);

/*
 * y[t * w->rows + r] = dot(W row r, x row t) for t < n, r < w->rows, on up to
 * nth threads of pool. scratch holds cria_matmul_scratch_bytes(n, w->cols).
 */
void cria_matmul(const cria_vec_kernels *k, cria_pool *pool, int nth, const cria_weight *w, const float *x,
                 int64_t n, float *y, void *scratch);

/*
 * Several weights over the same input in one parallel region (Q, K and V;
 * gate and up): y[i] = x W[i]^T. The input is converted once when the weights
 * take the same activation format; otherwise each weight gets its own region.
 */
void cria_matmul_multi(const cria_vec_kernels *k, cria_pool *pool, int nth, int count, const cria_weight *const *w,
                       float *const *y, const float *x, int64_t n, void *scratch);

/*
 * For a pool spread over NUMA nodes (cria_pool_get_groups), binds each
 * group's share of w's rows, the rows that group's threads take first in a
 * matmul, to the group's node; nothing to do for one group. Fails with
 * cria_membind's errors (CRIA_ERR_UNSUPPORTED where the OS refuses).
 */
cria_status cria_matmul_place(const cria_weight *w, cria_pool_groups groups, cria_error *err);

#endif
