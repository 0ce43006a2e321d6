/*
 * The op profiler behind --profile: wall time of the forward pass split by
 * op kind (matmuls by weight, attention, RoPE, norms, ...), the time the
 * calling thread waits at the pool's joins, and the parallel regions each op
 * ran. Off by default; off, the forward pass pays one branch per op and reads
 * no timer.
 *
 * The forward pass calls cria_prof_lap after each op: the time since the
 * previous lap goes to that op, less the join waits inside it, which go to
 * CRIA_PROF_SYNC. Counters only grow; callers take snapshots
 * (cria_context_profile) and subtract them to split prompt from generation.
 */
#ifndef CRIA_MODEL_PROFILE_H
#define CRIA_MODEL_PROFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cria.h"
#include "parallel/pool.h"

typedef enum cria_prof_op {
    CRIA_PROF_EMBED,
    CRIA_PROF_NORM,      /* attention, feed-forward and output RMSNorm */
    CRIA_PROF_QKV,       /* the fused wq/wk/wv matmul */
    CRIA_PROF_ROPE,      /* the QKV epilogue: biases, QK-norm, RoPE, K and V into the cache */
    CRIA_PROF_ATTENTION,
    CRIA_PROF_WO,
    CRIA_PROF_RESIDUAL,  /* the residual adds */
    CRIA_PROF_GATE_UP,   /* the fused gate/up matmul */
    CRIA_PROF_ACT,       /* SwiGLU or GeGLU */
    CRIA_PROF_DOWN,
    CRIA_PROF_OUTPUT,    /* the classifier */
    CRIA_PROF_SAMPLE,    /* filled by the caller: sampling happens outside the context */
    CRIA_PROF_SYNC,      /* the calling thread waiting at joins for the other threads */
    CRIA_PROF_OTHER,     /* batch checks and cache bookkeeping around the forward pass */
    CRIA_PROF_COUNT,
} cria_prof_op;

/* Totals since profiling was turned on. */
typedef struct cria_profile {
    int64_t ns[CRIA_PROF_COUNT];
    uint64_t syncs[CRIA_PROF_COUNT]; /* parallel regions (dispatch + join) each op ran */
    int64_t worker_wait_ns;          /* all workers' idle time from finishing their share to the join */
    int64_t n_tokens, n_decodes;
    int32_t n_threads;               /* the pool's */
} cria_profile;

/* A context's profiler state. */
typedef struct cria_prof {
    bool on;
    int64_t t_mark, wait_mark;
    uint64_t regions_mark;
    cria_profile total;
} cria_prof;

/* Name of an op row as the table prints it. */
const char *cria_prof_op_name(cria_prof_op op);

/* Starts a lap: now, and the pool's region and wait counters. */
void cria_prof_mark(cria_prof *p, const cria_pool *pool);

/* Ends the lap that cria_prof_mark or the previous lap started, charging it to op, and starts the next. */
void cria_prof_lap(cria_prof *p, const cria_pool *pool, cria_prof_op op);

/* Turns profiling of ctx on or off (between decodes); counters keep their totals. */
void cria_context_set_profile(cria_context *ctx, bool on);

/* The totals so far. */
cria_profile cria_context_profile(const cria_context *ctx);

/* after - before, for the work between two snapshots (n_threads from after). */
cria_profile cria_profile_diff(const cria_profile *after, const cria_profile *before);

/* a += b (n_threads: the larger). */
void cria_profile_add(cria_profile *a, const cria_profile *b);

/* Sum of every op row, nanoseconds. */
int64_t cria_profile_total_ns(const cria_profile *p);

/*
 * Writes p as a table: one row per op kind with ms per token, % of the total
 * and parallel regions per token, then a total row and the workers' wait.
 * title names the phase ("prompt", "generation"). Per token: per token
 * processed (n_tokens).
 */
void cria_profile_print(FILE *f, const char *title, const cria_profile *p);

#endif
