#include "parallel/pool.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "parallel/affinity.h"

/*
 * Spin iterations before a waiting thread sleeps (a few hundred microseconds
 * of pause instructions), and how often a spinning thread yields its core in
 * case a thread with work is queued behind it. A pool with more threads than
 * CPUs does not spin at all: a spinning thread would take the core a thread
 * with work needs.
 */
enum { POOL_SPIN = 20000, POOL_YIELD_EVERY = 1024 };

/* One cache line per worker's finish time, so profiled workers do not share a line. */
enum { POOL_FINISH_STRIDE = 8 };

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct cria_pool {
    int n_threads;
    atomic_int spin; /* iterations to spin before sleeping: idle workers read it while the caller may set it */
    uint64_t n_regions; /* parallel regions run (written by the caller only) */
    bool profile;       /* time the joins (cria_pool_set_profile) */
    int64_t wait_caller_ns, wait_workers_ns;
    int64_t *finish_ns; /* [n_threads * POOL_FINISH_STRIDE]: when each worker finished its share (profiling) */
    bool oversubscribed;
    pthread_t *threads;
    /* thread groups (cria_pool_get_groups): n_groups, then [n_threads] of_thread, [n_threads] threads, [n_threads] node */
    int n_groups;
    int *group_buf;
    /* Written by the caller before bumping `generation`; read by workers after. */
    cria_task_fn fn;
    void *arg;
    int nth;
    _Alignas(64) atomic_uint generation;
    _Alignas(64) atomic_uint remaining; /* workers of the current region not yet done */
    atomic_int caller_sleeping;         /* the caller waits in futex_wait on `remaining` */
    _Alignas(64) atomic_int stop;
    atomic_int sleeping; /* workers inside futex_wait, so the caller skips the wake syscall when none */
};

typedef struct worker_arg {
    cria_pool *pool;
    int ith;
} worker_arg;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* One step of a spin loop: a pause, and now and then a yield to a queued thread. */
static void spin_pause(int i)
{
    if (i % POOL_YIELD_EVERY == POOL_YIELD_EVERY - 1)
        sched_yield();
    else
        cpu_relax();
}

static void futex_wait(atomic_uint *addr, unsigned expected)
{
    syscall(SYS_futex, (uint32_t *)(uintptr_t)addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake_all(atomic_uint *addr)
{
    syscall(SYS_futex, (uint32_t *)(uintptr_t)addr, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* Waits until the generation differs from seen; returns the new one. */
static unsigned wait_generation(cria_pool *pool, unsigned seen)
{
    const int spin = atomic_load_explicit(&pool->spin, memory_order_relaxed);
    for (int i = 0; i < spin; i++) {
        unsigned g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (g != seen)
            return g;
        spin_pause(i);
    }
    for (;;) {
        unsigned g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (g != seen)
            return g;
        /* seq_cst pairs with the caller's generation bump then sleeping load: one of us sees the other. */
        atomic_fetch_add(&pool->sleeping, 1);
        futex_wait(&pool->generation, seen);
        atomic_fetch_sub(&pool->sleeping, 1);
    }
}

static void *worker_main(void *p)
{
    worker_arg *wa = p;
    cria_pool *pool = wa->pool;
    int ith = wa->ith;
    free(wa);
    /* Regions count from generation 0, which may already be past by the time this thread runs. */
    unsigned seen = 0;
    for (;;) {
        seen = wait_generation(pool, seen);
        if (atomic_load_explicit(&pool->stop, memory_order_acquire))
            return NULL;
        if (ith < pool->nth) {
            pool->fn(pool->arg, ith, pool->nth);
            if (pool->profile)
                pool->finish_ns[ith * POOL_FINISH_STRIDE] = now_ns();
        }
        /* The last one wakes a caller that gave up spinning (seq_cst: pairs with the caller's flag). */
        if (atomic_fetch_sub(&pool->remaining, 1) == 1 && atomic_load(&pool->caller_sleeping))
            futex_wake_all(&pool->remaining);
    }
}

/* Starts worker ith with pthread attributes that set its CPUs before it runs (when the plan pins it). */
static int start_worker(cria_pool *pool, int ith, const cria_placement *placement, worker_arg *wa)
{
    const int *cpus = NULL;
    int n_cpus = placement ? cria_placement_thread_cpus(placement, ith, &cpus) : 0;
    if (n_cpus == 0)
        return pthread_create(&pool->threads[ith], NULL, worker_main, wa);
    size_t size;
    cpu_set_t *set = cria_cpuset_new(cpus, n_cpus, &size);
    pthread_attr_t attr;
    int rc = set ? pthread_attr_init(&attr) : ENOMEM;
    if (rc == 0) {
        rc = pthread_attr_setaffinity_np(&attr, size, set);
        if (rc == 0)
            rc = pthread_create(&pool->threads[ith], &attr, worker_main, wa);
        pthread_attr_destroy(&attr);
    }
    if (set)
        CPU_FREE(set);
    return rc;
}

cria_status cria_pool_init(int n_threads, cria_pool **out, cria_error *err)
{
    return cria_pool_init_placed(n_threads, NULL, out, err);
}

static void set_groups_from_nodes(cria_pool *pool, const cria_placement *placement);

cria_status cria_pool_init_placed(int n_threads, const cria_placement *placement, cria_pool **out,
                                  cria_error *err)
{
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return cria_err_set(err, CRIA_ERR_ARG, "thread count %d out of range 1..1024", n_threads);
    cria_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for the thread pool");
    pool->n_threads = n_threads;
    cpu_set_t allowed;
    bool oversubscribed = sched_getaffinity(0, sizeof allowed, &allowed) == 0 && n_threads > CPU_COUNT(&allowed);
    pool->oversubscribed = oversubscribed;
    atomic_init(&pool->spin, oversubscribed ? 0 : POOL_SPIN);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->remaining, 0);
    atomic_init(&pool->caller_sleeping, 0);
    atomic_init(&pool->stop, 0);
    atomic_init(&pool->sleeping, 0);
    if (n_threads > 1) {
        pool->threads = calloc((size_t)n_threads, sizeof *pool->threads);
        pool->finish_ns = calloc((size_t)n_threads * POOL_FINISH_STRIDE, sizeof *pool->finish_ns);
        if (!pool->threads || !pool->finish_ns) {
            free(pool->threads);
            free(pool->finish_ns);
            free(pool);
            return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for the thread pool");
        }
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        int rc = wa ? 0 : ENOMEM;
        if (wa) {
            wa->pool = pool;
            wa->ith = i;
            rc = start_worker(pool, i, placement, wa);
            if (rc)
                free(wa);
        }
        if (rc) {
            pool->n_threads = i; /* join only the ones started */
            cria_pool_free(pool);
            return cria_err_set(err, rc == EINVAL ? CRIA_ERR_ARG : CRIA_ERR_NOMEM, "cannot start thread %d%s: %s",
                                i, rc == EINVAL ? " on its CPUs" : "", strerror(rc));
        }
    }
    if (!pool->group_buf && !(pool->group_buf = calloc((size_t)n_threads * 3, sizeof *pool->group_buf))) {
        cria_pool_free(pool);
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for the thread pool");
    }
    set_groups_from_nodes(pool, placement);
    if (placement && cria_placement_pins_caller(placement)) {
        const int *cpus;
        int n_cpus = cria_placement_thread_cpus(placement, 0, &cpus);
        cria_status st = cria_pin_self(cpus, n_cpus, err);
        if (st != CRIA_OK) {
            cria_pool_free(pool);
            return st;
        }
    }
    *out = pool;
    return CRIA_OK;
}

void cria_pool_free(cria_pool *pool)
{
    if (!pool)
        return;
    if (pool->n_threads > 1) {
        atomic_store_explicit(&pool->stop, 1, memory_order_release);
        atomic_fetch_add_explicit(&pool->generation, 1, memory_order_acq_rel);
        futex_wake_all(&pool->generation);
        for (int i = 1; i < pool->n_threads; i++)
            pthread_join(pool->threads[i], NULL);
    }
    free(pool->threads);
    free(pool->finish_ns);
    free(pool->group_buf);
    free(pool);
}

/* One group per NUMA node the placement pins threads to; one group of all when it pins to fewer than two. */
static void set_groups_from_nodes(cria_pool *pool, const cria_placement *placement)
{
    const int n = pool->n_threads;
    int *of = pool->group_buf, *threads = of + n, *node = threads + n;
    pool->n_groups = 1;
    for (int i = 0; i < n; i++) {
        of[i] = 0;
        threads[i] = 0;
        node[i] = -1;
    }
    threads[0] = n;
    if (!placement)
        return;
    int groups = 0;
    for (int i = 0; i < n; i++) {
        const int nd = cria_placement_thread_node(placement, i);
        if (nd < 0) { /* a thread on no single node: no split by node */
            groups = 0;
            goto single;
        }
        int g = 0;
        while (g < groups && node[g] != nd)
            g++;
        if (g == groups)
            node[groups++] = nd;
        of[i] = g;
    }
    if (groups < 2)
        goto single;
    pool->n_groups = groups;
    for (int g = 0; g < groups; g++)
        threads[g] = 0;
    for (int i = 0; i < n; i++)
        threads[of[i]]++;
    return;
single:;
    const int only = groups == 1 ? node[0] : -1; /* every thread on one node: say which */
    for (int i = 0; i < n; i++) {
        of[i] = 0;
        node[i] = -1;
    }
    node[0] = only;
    threads[0] = n;
    pool->n_groups = 1;
}

cria_pool_groups cria_pool_get_groups(const cria_pool *pool)
{
    const int n = pool->n_threads;
    return (cria_pool_groups){.n = pool->n_groups, .of_thread = pool->group_buf,
                              .threads = pool->group_buf + n, .node = pool->group_buf + 2 * n};
}

cria_status cria_pool_set_groups(cria_pool *pool, int n, const int *of_thread, cria_error *err)
{
    const int nt = pool->n_threads;
    if (n < 1 || n > nt)
        return cria_err_set(err, CRIA_ERR_ARG, "%d thread groups for a pool of %d threads", n, nt);
    int count[1024] = {0};
    for (int i = 0; i < nt; i++) {
        if (of_thread[i] < 0 || of_thread[i] >= n)
            return cria_err_set(err, CRIA_ERR_ARG, "thread %d: group %d out of range 0..%d", i, of_thread[i], n - 1);
        count[of_thread[i]]++;
    }
    for (int g = 0; g < n; g++) {
        if (!count[g])
            return cria_err_set(err, CRIA_ERR_ARG, "thread group %d has no thread", g);
    }
    int *of = pool->group_buf, *threads = of + nt, *node = threads + nt;
    for (int i = 0; i < nt; i++) {
        of[i] = of_thread[i];
        threads[i] = i < n ? count[i] : 0;
        node[i] = -1;
    }
    pool->n_groups = n;
    return CRIA_OK;
}

int cria_pool_size(const cria_pool *pool)
{
    return pool->n_threads;
}

uint64_t cria_pool_regions(const cria_pool *pool)
{
    return pool->n_regions;
}

void cria_pool_set_poll(cria_pool *pool, int poll)
{
    poll = poll < 0 ? 0 : poll > 100 ? 100 : poll;
    atomic_store_explicit(&pool->spin, pool->oversubscribed ? 0 : POOL_SPIN / 50 * poll, memory_order_relaxed);
}

void cria_pool_set_profile(cria_pool *pool, bool on)
{
    pool->profile = on && pool->n_threads > 1;
}

void cria_pool_join_waits(const cria_pool *pool, int64_t *caller_ns, int64_t *workers_ns)
{
    *caller_ns = pool->wait_caller_ns;
    *workers_ns = pool->wait_workers_ns;
}

static void record_cpu(void *arg, int ith, int nth)
{
    (void)nth;
    ((int *)arg)[ith] = sched_getcpu();
}

void cria_pool_where(cria_pool *pool, int *cpu_of_thread)
{
    cria_pool_run(pool, pool->n_threads, record_cpu, cpu_of_thread);
}

/*
 * Waits for the workers of the current region: spins first (the common case
 * is a few microseconds), then sleeps, so an oversubscribed machine does not
 * burn the core a late worker needs.
 */
static void wait_done(cria_pool *pool)
{
    const int spin = atomic_load_explicit(&pool->spin, memory_order_relaxed);
    for (int i = 0; i < spin; i++) {
        if (atomic_load_explicit(&pool->remaining, memory_order_acquire) == 0)
            return;
        spin_pause(i);
    }
    atomic_store(&pool->caller_sleeping, 1);
    for (;;) {
        unsigned left = atomic_load(&pool->remaining);
        if (left == 0)
            break;
        futex_wait(&pool->remaining, left);
    }
    atomic_store(&pool->caller_sleeping, 0);
}

void cria_pool_run(cria_pool *pool, int nth, cria_task_fn fn, void *arg)
{
    if (nth > pool->n_threads)
        nth = pool->n_threads;
    if (nth <= 1) {
        fn(arg, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    pool->nth = nth;
    pool->n_regions++;
    /* Every worker checks in, even those with ith >= nth, so the next region never races a straggler. */
    atomic_store_explicit(&pool->remaining, (unsigned)pool->n_threads - 1, memory_order_relaxed);
    atomic_fetch_add(&pool->generation, 1);
    if (atomic_load(&pool->sleeping) > 0)
        futex_wake_all(&pool->generation);
    fn(arg, 0, nth);
    if (!pool->profile) {
        wait_done(pool);
        return;
    }
    const int64_t t0 = now_ns();
    wait_done(pool);
    const int64_t t1 = now_ns();
    pool->wait_caller_ns += t1 - t0;
    for (int i = 1; i < nth; i++) {
        const int64_t idle = t1 - pool->finish_ns[i * POOL_FINISH_STRIDE];
        pool->wait_workers_ns += idle > 0 ? idle : 0;
    }
}
