/*
 * A persistent thread pool: n-1 workers plus the calling thread as worker 0.
 * A parallel region publishes one task with an atomic generation counter;
 * workers spin briefly on it, then sleep on a futex. Nothing is created or
 * allocated per region.
 */
#ifndef CRIA_PARALLEL_POOL_H
#define CRIA_PARALLEL_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cria.h"

typedef struct cria_pool cria_pool;

/* fn runs once per thread index ith in [0, nth). */
typedef void (*cria_task_fn)(void *arg, int ith, int nth);

/* Starts n_threads - 1 workers (n_threads >= 1). */
cria_status cria_pool_init(int n_threads, cria_pool **out, cria_error *err);

/*
 * Like cria_pool_init, with each thread started on the CPUs that placement
 * gives it (cria_placement_cpus; threads with none are not pinned). Worker 0
 * is the calling thread: it is restricted to thread 0's CPUs too, and stays so
 * after the pool is freed. NULL placement: cria_pool_init.
 */
cria_status cria_pool_init_placed(int n_threads, const cria_placement *placement, cria_pool **out,
                                  cria_error *err);

/* Stops and joins the workers. */
void cria_pool_free(cria_pool *pool);

int cria_pool_size(const cria_pool *pool);

/* Parallel regions (dispatch + join, each one synchronisation of the threads) run so far; direct calls on one thread do not count. */
uint64_t cria_pool_regions(const cria_pool *pool);

/*
 * Sets how long waiting threads spin before sleeping: poll 0..100 (clamped),
 * 50 being the default. A pool with more threads than CPUs never spins.
 * Call between regions, from the calling thread; idle workers take the new
 * value when they next wait.
 */
void cria_pool_set_poll(cria_pool *pool, int poll);

/*
 * Profiling of joins (off by default; call between regions). While on, each
 * region adds to *caller_ns the time the calling thread waits at the join
 * after finishing its own share, and to *workers_ns each worker's time from
 * finishing its share to the end of the region. Off: no timer is read.
 */
void cria_pool_set_profile(cria_pool *pool, bool on);
void cria_pool_join_waits(const cria_pool *pool, int64_t *caller_ns, int64_t *workers_ns);

/*
 * Thread groups, for splitting work and memory by NUMA node: a pool whose
 * placement pins its threads to two or more nodes (--numa distribute) has
 * one group per node; any other pool has one group of every thread.
 * of_thread[i] is thread i's group, threads[g] the threads in group g and
 * node[g] its node's OS index (-1 when unknown). Valid while the pool lives
 * and its groups are not set again.
 */
typedef struct cria_pool_groups {
    int n;
    const int *of_thread, *threads, *node;
} cria_pool_groups;

cria_pool_groups cria_pool_get_groups(const cria_pool *pool);

/*
 * Sets the groups by hand: of_thread[i] in [0, n) for each of the pool's
 * threads, every group non-empty (for tests, and for hosts that place
 * threads themselves); the nodes become unknown. CRIA_ERR_ARG otherwise,
 * leaving the groups as they were. Call between regions.
 */
cria_status cria_pool_set_groups(cria_pool *pool, int n, const int *of_thread, cria_error *err);

/* Runs one region on every thread; cpu_of_thread[i] gets the CPU thread i ran it on (pool size entries). */
void cria_pool_where(cria_pool *pool, int *cpu_of_thread);

/*
 * Runs fn(arg, ith, nth) for ith = 0..nth-1, ith 0 on the caller, and returns
 * when all have finished. nth is clamped to [1, pool size]; nth == 1 calls fn
 * directly with no synchronisation.
 */
void cria_pool_run(cria_pool *pool, int nth, cria_task_fn fn, void *arg);

/* Splits [0, n) into nth near-equal static ranges; sets *lo, *hi for ith. */
static inline void cria_split_range(long n, int ith, int nth, long *lo, long *hi)
{
    long base = n / nth, extra = n % nth;
    *lo = ith * base + (ith < extra ? ith : extra);
    *hi = *lo + base + (ith < extra ? 1 : 0);
}

#endif
