/*
 * The thread pool: argument errors; every thread index runs exactly once per
 * region with the clamped nth, and the region returns only when all have
 * finished; tens of thousands of tiny regions with no lost wakeup; pools
 * created and freed repeatedly with a region straight after init; regions
 * after the workers have gone to sleep. The whole program runs under
 * alarm(60), so a hang fails instead of blocking CI.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parallel/pool.h"

enum { MAX_THREADS = 16 };

/* ---- helpers --------------------------------------------------------------- */

static cria_pool *pool_new(int n)
{
    cria_pool *pool = NULL;
    cria_error err;
    assert_int_equal(cria_pool_init(n, &pool, &err), CRIA_OK);
    assert_non_null(pool);
    assert_int_equal(cria_pool_size(pool), n);
    return pool;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/*
 * What the task functions saw. Workers never call cmocka (it is not thread
 * safe): they count, and the test thread asserts afterwards.
 */
typedef struct record {
    atomic_int calls[MAX_THREADS];
    atomic_int bad; /* wrong nth, ith out of range, or ith 0 off the calling thread */
    int want_nth;
    pthread_t caller;
} record;

static void record_reset(record *r, int want_nth)
{
    for (int i = 0; i < MAX_THREADS; i++)
        atomic_init(&r->calls[i], 0);
    atomic_init(&r->bad, 0);
    r->want_nth = want_nth;
    r->caller = pthread_self();
}

static void record_task(void *arg, int ith, int nth)
{
    record *r = arg;
    if (nth != r->want_nth || ith < 0 || ith >= nth || ith >= MAX_THREADS) {
        atomic_fetch_add(&r->bad, 1);
        return;
    }
    if (ith == 0 && !pthread_equal(pthread_self(), r->caller))
        atomic_fetch_add(&r->bad, 1);
    atomic_fetch_add(&r->calls[ith], 1);
}

/* Asserts that indices [0, nth) ran once each and nothing else ran. */
static void record_check(record *r, int nth)
{
    assert_int_equal(atomic_load(&r->bad), 0);
    for (int i = 0; i < MAX_THREADS; i++)
        assert_int_equal(atomic_load(&r->calls[i]), i < nth ? 1 : 0);
}

/* Runs one region of record_task on pool with nth requested and checks it. */
static void run_checked(cria_pool *pool, int nth)
{
    const int size = cria_pool_size(pool);
    const int want = nth < 1 ? 1 : nth > size ? size : nth;
    record r;
    record_reset(&r, want);
    cria_pool_run(pool, nth, record_task, &r);
    record_check(&r, want);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_init_errors(void **state)
{
    (void)state;
    static const int bad[] = {0, -1, INT_MIN, 1025, 2000, INT_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cria_error err;
        memset(&err, 0, sizeof err);
        cria_pool *pool = (cria_pool *)&err; /* must be overwritten with NULL */
        assert_int_equal(cria_pool_init(bad[i], &pool, &err), CRIA_ERR_ARG);
        assert_null(pool);
        assert_int_equal(err.status, CRIA_ERR_ARG);
        assert_true(err.msg[0] != '\0');
        /* A NULL error pointer is allowed. */
        assert_int_equal(cria_pool_init(bad[i], &pool, NULL), CRIA_ERR_ARG);
        assert_null(pool);
    }
    cria_pool *one = pool_new(1);
    cria_pool_free(one);
    cria_pool_free(NULL);
}

/* fn runs once per ith in [0, nth) with nth clamped to [1, pool size]; ith 0 on the caller. */
static void test_run_indices(void **state)
{
    (void)state;
    static const int sizes[] = {1, 2, 4, 5, MAX_THREADS};
    static const int nths[] = {INT_MIN, -1, 0, 1, 2, 3, 4, 5, 6, 15, 16, 17, 100, INT_MAX};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        cria_pool *pool = pool_new(sizes[si]);
        for (int rep = 0; rep < 3; rep++)
            for (size_t ni = 0; ni < sizeof nths / sizeof nths[0]; ni++)
                run_checked(pool, nths[ni]);
        cria_pool_free(pool);
    }
}

typedef struct slow_arg {
    atomic_int finished;
    int slow_ith;
} slow_arg;

static void slow_task(void *arg, int ith, int nth)
{
    (void)nth;
    slow_arg *s = arg;
    if (ith == s->slow_ith)
        sleep_ms(30);
    atomic_fetch_add(&s->finished, 1);
}

/* cria_pool_run returns only after every thread, even a slow one, has finished. */
static void test_run_waits_for_all(void **state)
{
    (void)state;
    cria_pool *pool = pool_new(4);
    for (int slow = 0; slow < 4; slow++) {
        slow_arg s = {.slow_ith = slow};
        atomic_init(&s.finished, 0);
        cria_pool_run(pool, 4, slow_task, &s);
        assert_int_equal(atomic_load(&s.finished), 4);
    }
    cria_pool_free(pool);
}

/* One cache line per thread index, so the stress test measures the pool, not false sharing. */
typedef struct slot {
    _Alignas(64) long count;
    long sum;
} slot;

typedef struct stress_arg {
    slot slots[MAX_THREADS];
    long region;
    atomic_int done;
} stress_arg;

/* Plain (non-atomic) per-index updates: correct only if the pool orders regions properly. */
static void stress_task(void *arg, int ith, int nth)
{
    (void)nth;
    stress_arg *s = arg;
    s->slots[ith].count++;
    s->slots[ith].sum += s->region + ith;
    atomic_fetch_add_explicit(&s->done, 1, memory_order_relaxed);
}

/*
 * 20000 tiny regions on 2-, 3- and 4-thread pools, nth cycling through
 * 1..size+1: after each, every index has run; at the end, each slot's count
 * and sum match the schedule exactly.
 */
static void test_stress(void **state)
{
    (void)state;
    enum { REGIONS = 20000 };
    for (int size = 2; size <= 4; size++) {
        cria_pool *pool = pool_new(size);
        static stress_arg s;
        memset(&s, 0, sizeof s);
        atomic_init(&s.done, 0);
        long want_count[MAX_THREADS] = {0}, want_sum[MAX_THREADS] = {0};
        long short_regions = 0;
        for (long r = 0; r < REGIONS; r++) {
            const int nth = 1 + (int)(r % (size + 1));
            const int eff = nth > size ? size : nth;
            s.region = r;
            atomic_store_explicit(&s.done, 0, memory_order_relaxed);
            cria_pool_run(pool, nth, stress_task, &s);
            if (atomic_load_explicit(&s.done, memory_order_relaxed) != eff)
                short_regions++;
            for (int i = 0; i < eff; i++) {
                want_count[i]++;
                want_sum[i] += r + i;
            }
        }
        assert_int_equal(short_regions, 0);
        for (int i = 0; i < MAX_THREADS; i++) {
            assert_int_equal(s.slots[i].count, want_count[i]);
            assert_int_equal(s.slots[i].sum, want_sum[i]);
        }
        cria_pool_free(pool);
    }
}

/*
 * 100 pools created and freed: most run a region immediately after init
 * (workers may not have started yet and must not miss it), some are freed
 * before any region or before their workers have run at all.
 */
static void test_init_free_repeat(void **state)
{
    (void)state;
    for (int i = 0; i < 100; i++) {
        const int size = 2 + i % 4;
        cria_pool *pool = pool_new(size);
        if (i % 5 != 4) {
            run_checked(pool, size);
            if (i % 2)
                run_checked(pool, size - 1);
        }
        cria_pool_free(pool);
    }
}

/* Regions 100 ms apart, after the workers stopped spinning and sleep on the futex, still complete. */
static void test_after_sleep(void **state)
{
    (void)state;
    for (int size = 2; size <= 4; size += 2) {
        cria_pool *pool = pool_new(size);
        run_checked(pool, size);
        for (int rep = 0; rep < 3; rep++) {
            sleep_ms(100);
            run_checked(pool, size);
            run_checked(pool, size); /* and one right behind it, while they spin */
        }
        cria_pool_free(pool);
    }
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_pool: timed out after 60 s (a region never completed?)\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_errors),
        cmocka_unit_test(test_run_indices),
        cmocka_unit_test(test_run_waits_for_all),
        cmocka_unit_test(test_stress),
        cmocka_unit_test(test_init_free_repeat),
        cmocka_unit_test(test_after_sleep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
