/*
 * Parallel thresholds: the least work per thread for which a kernel's
 * parallel split beats running it on the calling thread alone. One table for
 * every kernel, filled once per context (defaults measured on the development
 * machine, see docs/benchmarks.md; $CRIA_THRESHOLDS overrides them), read-only
 * afterwards.
 */
#ifndef CRIA_PARALLEL_THRESHOLD_H
#define CRIA_PARALLEL_THRESHOLD_H

#include <stdint.h>

#include "cria.h"

typedef enum cria_op {
    CRIA_OP_MATMUL,    /* work = multiply-adds: rows x cols x tokens */
    CRIA_OP_ATTENTION, /* work = cria_attention_work: tokens x heads x cells x (head_dim + CRIA_ATTN_CELL_COST) */
    CRIA_OP_COUNT,
} cria_op;

typedef struct cria_thresholds {
    int64_t min_work[CRIA_OP_COUNT]; /* per thread */
} cria_thresholds;

/* The defaults. */
cria_thresholds cria_thresholds_default(void);

/*
 * Applies overrides written as "matmul=N,attention=N" (any subset) to t.
 * Returns CRIA_ERR_ARG, leaving t unchanged, on a malformed string.
 */
cria_status cria_thresholds_parse(cria_thresholds *t, const char *spec, cria_error *err);

/* Name of an op as the override string spells it. */
const char *cria_op_name(cria_op op);

/*
 * Attention's work: the multiply-adds of the scores and the values, plus
 * what each (head, cell) costs besides them (its softmax term, exp and the
 * half-precision rounding of its probability), counted as that many more
 * multiply-adds. Without it, heads of 8 floats (stories260K) looked ten
 * times cheaper than they run.
 */
enum { CRIA_ATTN_CELL_COST = 32 };

static inline int64_t cria_attention_work(int64_t tokens, int32_t heads, int64_t cells, int32_t head_dim)
{
    return tokens * heads * cells * (head_dim + CRIA_ATTN_CELL_COST);
}

/* Threads to use for `work` units of op with at most max_threads: at least 1. */
static inline int cria_threads_for(const cria_thresholds *t, cria_op op, int64_t work, int max_threads)
{
    int64_t n = work / (t->min_work[op] > 0 ? t->min_work[op] : 1);
    return n < 1 ? 1 : (n < max_threads ? (int)n : max_threads);
}

#endif
