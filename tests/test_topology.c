/*
 * Topology and placement: hwloc synthetic topologies (two sockets with SMT,
 * NUMA nodes, a hybrid CPU, a restricted affinity mask) give the right core
 * counts and plans for every option; every bad option is a CRIA_ERR_ARG
 * naming the value. On the real machine: the default thread count, pinning
 * the calling thread and reading it back, a placed pool whose workers run on
 * their planned CPUs, NUMA memory binding, priorities, and a context built
 * with a placement.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sys/mman.h>

#include "parallel/affinity.h"
#include "parallel/membind.h"
#include "parallel/pool.h"
#include "parallel/topology.h"
#include "util.h"

enum { MAXC = 64 };

static cria_topology *synth(const char *desc, const char *allowed, const char *perf)
{
    cria_topology *t = NULL;
    cria_error err = {0};
    cria_status st = cria_topology_load_synthetic(desc, allowed, perf, &t, &err);
    if (st != CRIA_OK)
        print_error("%s: %s\n", desc, err.msg);
    assert_int_equal(st, CRIA_OK);
    assert_non_null(t);
    return t;
}

static cria_placement *plan(const cria_topology *t, const cria_cpu_params *p, int caller_cpu)
{
    cria_placement *pl = NULL;
    cria_error err = {0};
    cria_status st = cria_placement_build(t, p, caller_cpu, &pl, &err);
    if (st != CRIA_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(st, CRIA_OK);
    assert_non_null(pl);
    return pl;
}

/* Asserts thread ith is pinned to exactly one CPU, cpu. */
static void assert_pinned(const cria_placement *pl, int ith, int cpu)
{
    int32_t c[MAXC];
    int32_t n = cria_placement_cpus(pl, ith, c, MAXC);
    if (n != 1 || c[0] != cpu)
        print_error("thread %d: %d CPUs, first %d; expected CPU %d\n", ith, n, n ? c[0] : -1, cpu);
    assert_int_equal(n, 1);
    assert_int_equal(c[0], cpu);
}

/* Asserts thread ith may run on exactly CPUs lo..hi. */
static void assert_floats(const cria_placement *pl, int ith, int lo, int hi)
{
    int32_t c[MAXC];
    int32_t n = cria_placement_cpus(pl, ith, c, MAXC);
    assert_int_equal(n, hi - lo + 1);
    for (int i = 0; i < n; i++)
        assert_int_equal(c[i], lo + i);
}

/* Asserts that building p over t fails with CRIA_ERR_ARG and a message containing what. */
static void assert_bad(const cria_topology *t, const cria_cpu_params *p, int caller_cpu, const char *what)
{
    cria_placement *pl = (cria_placement *)1;
    cria_error err = {0};
    assert_int_equal(cria_placement_build(t, p, caller_cpu, &pl, &err), CRIA_ERR_ARG);
    assert_null(pl);
    assert_int_equal(err.status, CRIA_ERR_ARG);
    if (!strstr(err.msg, what))
        print_error("message \"%s\" does not name \"%s\"\n", err.msg, what);
    assert_non_null(strstr(err.msg, what));
}

/* ---- synthetic topologies --------------------------------------------------- */

static void test_two_sockets_smt(void **state)
{
    (void)state;
    cria_topology *t = synth("package:2 core:4 pu:2", NULL, NULL);
    assert_int_equal(cria_topology_n_packages(t), 2);
    assert_int_equal(cria_topology_n_physical(t), 8);
    assert_int_equal(cria_topology_n_logical(t), 16);
    assert_int_equal(cria_topology_n_numa(t), 1);
    assert_int_equal(cria_topology_max_cpu(t), 15);
    int cores[MAXC];
    assert_int_equal(cria_topology_cores(t, cores, MAXC), 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(cores[i], 2 * i); /* one PU per core: no SMT sibling */
    assert_int_equal(cria_topology_core_of(t, 5), cria_topology_core_of(t, 4));
    assert_int_not_equal(cria_topology_core_of(t, 5), cria_topology_core_of(t, 6));
    char line[256];
    cria_topology_describe(t, line, sizeof line);
    assert_string_equal(line, "2 packages, 1 NUMA node, 8 physical cores, 16 logical CPUs usable (CPUs 0-15)");
    cria_topology_free(t);
}

/* Intel's usual numbering: the first PUs of all cores, then their SMT siblings (P#0 and P#4 share a core). */
static void test_sibling_numbering(void **state)
{
    (void)state;
    cria_topology *t = synth("core:4 pu:2(indexes=0,4,1,5,2,6,3,7)", NULL, NULL);
    int cores[MAXC];
    assert_int_equal(cria_topology_cores(t, cores, MAXC), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(cores[i], i);
    assert_int_equal(cria_topology_core_of(t, 4), cria_topology_core_of(t, 0));
    cria_cpu_params p = cria_cpu_default_params();
    p.strict = 1;
    p.n_threads = 6;
    cria_placement *pl = plan(t, &p, -1);
    const int want[] = {0, 1, 2, 3, 4, 5};
    for (int i = 0; i < 6; i++)
        assert_pinned(pl, i, want[i]);
    cria_placement_free(pl);
    p.strict = 0;
    p.n_threads = 0;
    p.cpu_mask = "0x11"; /* CPUs 0 and 4: one core */
    pl = plan(t, &p, -1);
    assert_int_equal(cria_placement_n_threads(pl), 1);
    cria_placement_free(pl);
    cria_topology_free(t);
}

/* distribute over a mask that covers part of each node: nodes alternate, each walking its own CPUs. */
static void test_plan_distribute_mask(void **state)
{
    (void)state;
    cria_topology *t = synth("pack:2 numa:1 core:4 pu:2", NULL, NULL);
    cria_cpu_params p = cria_cpu_default_params();
    p.numa = "distribute";
    p.strict = 1;
    p.cpu_mask = "0x0f0f";
    cria_placement *pl = plan(t, &p, -1);
    assert_int_equal(cria_placement_n_threads(pl), 8);
    const int want[] = {0, 8, 1, 9, 2, 10, 3, 11};
    for (int i = 0; i < 8; i++)
        assert_pinned(pl, i, want[i]);
    cria_placement_free(pl);
    cria_topology_free(t);
}

static void test_numa_nodes(void **state)
{
    (void)state;
    cria_topology *t = synth("pack:2 numa:1 core:4 pu:2", NULL, NULL);
    assert_int_equal(cria_topology_n_numa(t), 2);
    assert_int_equal(cria_topology_n_physical(t), 8);
    assert_int_equal(cria_topology_n_logical(t), 16);
    assert_int_equal(cria_topology_numa_of(t, 3), 0);
    assert_int_equal(cria_topology_numa_of(t, 9), 1);
    assert_int_equal(cria_topology_numa_of(t, 16), -1);
    assert_int_equal(cria_topology_numa_os_index(t, 1), 1);
    cria_topology_free(t);

    t = synth("numa:2 core:4 pu:1", NULL, NULL);
    assert_int_equal(cria_topology_n_numa(t), 2);
    assert_int_equal(cria_topology_n_physical(t), 8);
    assert_int_equal(cria_topology_n_logical(t), 8);
    assert_int_equal(cria_topology_numa_of(t, 4), 1);
    cria_topology_free(t);
}

/* The process's affinity mask narrows everything: here CPUs 0-5 and then two SMT siblings of other cores. */
static void test_restricted(void **state)
{
    (void)state;
    cria_topology *t = synth("pack:2 numa:1 core:4 pu:2", "0-5", NULL);
    assert_int_equal(cria_topology_n_logical(t), 6);
    assert_int_equal(cria_topology_n_physical(t), 3);
    assert_int_equal(cria_topology_n_numa(t), 1); /* node 1 has no usable CPU */
    assert_false(cria_topology_usable(t, 6));
    cria_topology_free(t);

    t = synth("package:2 core:4 pu:2", "1,3", NULL);
    int cores[MAXC];
    assert_int_equal(cria_topology_cores(t, cores, MAXC), 2);
    assert_int_equal(cores[0], 1);
    assert_int_equal(cores[1], 3);
    cria_topology_free(t);
}

/* A hybrid CPU: 4 performance cores with SMT (PUs 0-7) and 8 single-threaded efficiency cores. */
static void test_hybrid(void **state)
{
    (void)state;
    cria_topology *t = synth("core:12 pu:2", "0-7,8,10,12,14,16,18,20,22", "0-7");
    assert_int_equal(cria_topology_n_logical(t), 16);
    assert_int_equal(cria_topology_n_physical(t), 4);
    assert_true(cria_topology_is_perf(t, 3));
    assert_false(cria_topology_is_perf(t, 8));
    cria_cpu_params p = cria_cpu_default_params();
    cria_placement *pl = plan(t, &p, -1);
    assert_int_equal(cria_placement_n_threads(pl), 4);
    cria_placement_free(pl);
    /* strict without a list: one PU per performance core, then the rest in order */
    p.strict = 1;
    p.n_threads = 6;
    pl = plan(t, &p, -1);
    for (int i = 0; i < 4; i++)
        assert_pinned(pl, i, 2 * i);
    assert_pinned(pl, 4, 1);
    assert_pinned(pl, 5, 3);
    cria_placement_free(pl);
    cria_topology_free(t);

    /* only efficiency cores usable: they are the physical cores */
    t = synth("core:12 pu:2", "8-23", "0-7");
    assert_int_equal(cria_topology_n_physical(t), 8);
    cria_topology_free(t);
}

/* ---- placement plans -------------------------------------------------------- */

static void test_plan_default(void **state)
{
    (void)state;
    cria_topology *t = synth("package:2 core:4 pu:2", NULL, NULL);
    cria_placement *pl = plan(t, NULL, -1);
    assert_int_equal(cria_placement_n_threads(pl), 8);
    int32_t c[MAXC];
    for (int i = 0; i < 8; i++)
        assert_int_equal(cria_placement_cpus(pl, i, c, MAXC), 0); /* nothing asked: nothing pinned */
    assert_false(cria_placement_pins_caller(pl));
    cria_placement_free(pl);

    cria_cpu_params p = cria_cpu_default_params();
    p.n_threads = 3;
    pl = plan(t, &p, -1);
    assert_int_equal(cria_placement_n_threads(pl), 3);
    assert_int_equal(cria_placement_default_threads(pl), 8);
    cria_placement_free(pl);
    cria_topology_free(t);
}

static void test_plan_strict(void **state)
{
    (void)state;
    cria_topology *t = synth("package:2 core:4 pu:2", NULL, NULL);
    cria_cpu_params p = cria_cpu_default_params();
    p.strict = 1;
    p.n_threads = 10;
    cria_placement *pl = plan(t, &p, -1);
    for (int i = 0; i < 8; i++)
        assert_pinned(pl, i, 2 * i); /* physical cores first */
    assert_pinned(pl, 8, 1);         /* then the SMT siblings */
    assert_pinned(pl, 9, 3);
    assert_pinned(pl, 10, 0); /* past n_threads: the plan again from the start */
    assert_true(cria_placement_pins_caller(pl));
    cria_placement_free(pl);
    cria_topology_free(t);
}

static void test_plan_mask(void **state)
{
    (void)state;
    cria_topology *t = synth("package:2 core:4 pu:2", NULL, NULL);
    cria_cpu_params p = cria_cpu_default_params();
    p.cpu_mask = "0xf0";
    cria_placement *pl = plan(t, &p, -1);
    assert_int_equal(cria_placement_n_threads(pl), 2); /* CPUs 4-7 are two physical cores */
    assert_floats(pl, 0, 4, 7);
    assert_floats(pl, 1, 4, 7);
    assert_true(cria_placement_pins_caller(pl)); /* the caller is restricted to the mask too */
    cria_placement_free(pl);

    p.strict = 1; /* one thread per listed CPU, in order */
    pl = plan(t, &p, -1);
    assert_int_equal(cria_placement_n_threads(pl), 4);
    for (int i = 0; i < 4; i++)
        assert_pinned(pl, i, 4 + i);
    cria_placement_free(pl);

    /* arbitrarily long masks, leading zeros and no 0x prefix */
    p.cpu_mask = "000000000000000000000000000000000000000000000000000000000000000000000000c001";
    pl = plan(t, &p, -1);
    assert_int_equal(cria_placement_n_threads(pl), 3);
    assert_pinned(pl, 0, 0);
    assert_pinned(pl, 1, 14);
    assert_pinned(pl, 2, 15);
    cria_placement_free(pl);
    cria_topology_free(t);
}

static void test_plan_range(void **state)
{
    (void)state;
    cria_topology *t = synth("package:2 core:4 pu:2", NULL, NULL);
    cria_cpu_params p = cria_cpu_default_params();
    p.cpu_range = "8-11";
    p.strict = 1;
    p.n_threads = 6;
    cria_placement *pl = plan(t, &p, -1);
    const int want[] = {8, 9, 10, 11, 8, 9};
    for (int i = 0; i < 6; i++)
        assert_pinned(pl, i, want[i]);
    cria_placement_free(pl);

    /* a range adds to a mask; the open forms */
    p.cpu_mask = "0x3";
    p.cpu_range = "14-";
    p.n_threads = 0;
    pl = plan(t, &p, -1);
    assert_int_equal(cria_placement_n_threads(pl), 4);
    const int want2[] = {0, 1, 14, 15};
    for (int i = 0; i < 4; i++)
        assert_pinned(pl, i, want2[i]);
    cria_placement_free(pl);

    p.cpu_mask = NULL;
    p.cpu_range = "-1";
    p.strict = 0;
    pl = plan(t, &p, -1);
    assert_int_equal(cria_placement_n_threads(pl), 1);
    assert_floats(pl, 0, 0, 1);
    cria_placement_free(pl);
    cria_topology_free(t);
}

static void test_plan_distribute(void **state)
{
    (void)state;
    cria_topology *t = synth("pack:2 numa:1 core:4 pu:2", NULL, NULL);
    cria_cpu_params p = cria_cpu_default_params();
    p.numa = "distribute";
    cria_placement *pl = plan(t, &p, -1);
    assert_int_equal(cria_placement_n_threads(pl), 8);
    for (int i = 0; i < 8; i++) {
        if (i % 2)
            assert_floats(pl, i, 8, 15);
        else
            assert_floats(pl, i, 0, 7);
    }
    cria_placement_free(pl);

    p.strict = 1; /* node by node, one physical core each */
    pl = plan(t, &p, -1);
    const int want[] = {0, 8, 2, 10, 4, 12, 6, 14};
    for (int i = 0; i < 8; i++) {
        assert_pinned(pl, i, want[i]);
        assert_int_equal(cria_placement_thread_node(pl, i), i % 2);
    }
    cria_placement_free(pl);
    cria_topology_free(t);
}

/*
 * A single NUMA node: distribute is a documented no-op (same plan as none),
 * so scripts that always pass --numa distribute work on any machine.
 */
static void test_plan_distribute_one_node(void **state)
{
    (void)state;
    cria_topology *t = synth("core:4 pu:1", NULL, NULL);
    cria_cpu_params p = cria_cpu_default_params();
    p.numa = "distribute";
    cria_placement *pl = plan(t, &p, -1);
    assert_int_equal(cria_placement_n_threads(pl), 4);
    int32_t c[MAXC];
    for (int i = 0; i < 4; i++)
        assert_int_equal(cria_placement_cpus(pl, i, c, MAXC), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    cria_placement_print(pl, NULL, 0, f);
    fclose(f);
    assert_non_null(strstr(buf, "numa distribute (one node: nothing to do)"));
    free(buf);
    cria_placement_free(pl);
    p.strict = 1;
    pl = plan(t, &p, -1);
    for (int i = 0; i < 4; i++)
        assert_pinned(pl, i, i);
    cria_placement_free(pl);
    cria_topology_free(t);
}

static void test_plan_isolate(void **state)
{
    (void)state;
    cria_topology *t = synth("pack:2 numa:1 core:4 pu:2", NULL, NULL);
    cria_cpu_params p = cria_cpu_default_params();
    p.numa = "isolate";
    cria_placement *pl = plan(t, &p, 9); /* the caller runs on CPU 9, node 1 */
    assert_int_equal(cria_placement_n_threads(pl), 4);
    for (int i = 0; i < 4; i++)
        assert_floats(pl, i, 8, 15);
    cria_placement_free(pl);

    p.strict = 1;
    pl = plan(t, &p, 9);
    for (int i = 0; i < 4; i++)
        assert_pinned(pl, i, 8 + 2 * i);
    cria_placement_free(pl);

    p.strict = 0;
    pl = plan(t, &p, 100); /* a caller outside the usable CPUs: the first selected CPU's node */
    assert_floats(pl, 0, 0, 7);
    cria_placement_free(pl);

    p.cpu_mask = "ff"; /* node 0 only: nothing left on the caller's node */
    assert_bad(t, &p, 9, "NUMA node 1");
    cria_topology_free(t);
}

static void test_print(void **state)
{
    (void)state;
    cria_topology *t = synth("pack:2 numa:1 core:4 pu:2", NULL, NULL);
    cria_cpu_params p = cria_cpu_default_params();
    p.numa = "distribute";
    p.strict = 1;
    p.n_threads = 3;
    cria_placement *pl = plan(t, &p, -1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    const int32_t seen[4] = {0, 8, 2, 10};
    cria_placement_print(pl, seen, 4, f);
    fclose(f);
    assert_non_null(strstr(buf, "topology: 2 packages, 2 NUMA nodes, 8 physical cores, 16 logical CPUs"));
    assert_non_null(strstr(buf, "placement: 3 threads, strict 1, numa distribute, prio 0 (normal)"));
    assert_non_null(strstr(buf, "thread 1: CPU 8 (NUMA node 1), running on CPU 8\n"));
    assert_non_null(strstr(buf, "thread 3: CPU 0 (NUMA node 0), running on CPU 10\n")); /* past the plan: wraps */
    free(buf);
    cria_placement_free(pl);
    cria_topology_free(t);
}

/* ---- bad options -------------------------------------------------------------- */

static void test_bad_options(void **state)
{
    (void)state;
    cria_topology *t = synth("package:2 core:4 pu:2", "0-5", NULL);
    cria_cpu_params p;
    struct {
        const char *mask, *range, *numa;
        int strict, prio, n_threads;
        const char *what;
    } bad[] = {
        {"0xZZ", NULL, NULL, 0, 0, 0, "0xZZ"},
        {"0x", NULL, NULL, 0, 0, 0, "\"0x\""},
        {"12 ", NULL, NULL, 0, 0, 0, "\"12 \""},
        {"0xc0", NULL, NULL, 0, 0, 0, "selects none of the CPUs this process may use (0-5)"},
        {"0x10000000000000000000000000000000000000000", NULL, NULL, 0, 0, 0, "selects none"},
        {NULL, "5-2", NULL, 0, 0, 0, "\"5-2\""},
        {NULL, "3-99", NULL, 0, 0, 0, "\"3-99\" is outside this machine's CPUs 0-15"},
        {NULL, "a-b", NULL, 0, 0, 0, "\"a-b\""},
        {NULL, "1-2-3", NULL, 0, 0, 0, "\"1-2-3\""},
        {NULL, "-", NULL, 0, 0, 0, "\"-\""},
        {NULL, "99999999999", NULL, 0, 0, 0, "99999999999"},
        {NULL, "8-9", NULL, 0, 0, 0, "\"8-9\" selects none"},
        {"0x1", "8-9", NULL, 0, 0, 0, "\"8-9\" selects none"},
        {NULL, NULL, "spread", 0, 0, 0, "\"spread\""},
        {NULL, NULL, NULL, 2, 0, 0, "--cpu-strict 2"},
        {NULL, NULL, NULL, 0, 7, 0, "--prio 7"},
        {NULL, NULL, NULL, 0, -2, 0, "--prio -2"},
        {NULL, NULL, NULL, 0, 0, -1, "-t -1"},
        {NULL, NULL, NULL, 0, 0, 5000, "-t 5000"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = cria_cpu_default_params();
        p.cpu_mask = bad[i].mask;
        p.cpu_range = bad[i].range;
        p.numa = bad[i].numa;
        p.strict = bad[i].strict;
        p.prio = bad[i].prio;
        p.n_threads = bad[i].n_threads;
        assert_bad(t, &p, -1, bad[i].what);
    }
    cria_topology_free(t);

    cria_topology *t2 = (cria_topology *)1;
    cria_error err = {0};
    assert_int_equal(cria_topology_load_synthetic("widget:3", NULL, NULL, &t2, &err), CRIA_ERR_ARG);
    assert_null(t2);
    assert_non_null(strstr(err.msg, "widget:3"));
    assert_int_equal(cria_topology_load_synthetic("core:2", "x", NULL, &t2, &err), CRIA_ERR_ARG);
    assert_null(t2);
}

/* ---- the real machine -------------------------------------------------------- */

static cpu_set_t saved_mask;

static int save_affinity(void **state)
{
    (void)state;
    return sched_getaffinity(0, sizeof saved_mask, &saved_mask);
}

static int restore_affinity(void **state)
{
    (void)state;
    return sched_setaffinity(0, sizeof saved_mask, &saved_mask);
}

static void test_machine_default(void **state)
{
    (void)state;
    cria_topology *t = NULL;
    cria_error err = {0};
    assert_int_equal(cria_topology_load(&t, &err), CRIA_OK);
    int n_log = cria_topology_n_logical(t), n_phys = cria_topology_n_physical(t);
    assert_true(n_phys >= 1 && n_phys <= n_log);
    assert_int_equal(n_log, CPU_COUNT(&saved_mask)); /* restricted to the affinity mask */
    assert_true(cria_topology_n_numa(t) >= 1);
    cria_topology_free(t);

    cria_placement *pl = NULL;
    assert_int_equal(cria_placement_init(NULL, &pl, &err), CRIA_OK);
    int n = cria_placement_n_threads(pl);
    assert_true(n >= 1 && n <= n_log);
    assert_int_equal(n, n_phys);
    cria_placement_free(pl);

    /* distribute on this machine (usually one node: a no-op) still plans every thread */
    cria_cpu_params p = cria_cpu_default_params();
    p.numa = "distribute";
    assert_int_equal(cria_placement_init(&p, &pl, &err), CRIA_OK);
    assert_int_equal(cria_placement_n_threads(pl), n_phys);
    cria_placement_free(pl);
}

static void test_machine_pin_self(void **state)
{
    (void)state;
    cria_topology *t = NULL;
    cria_error err = {0};
    assert_int_equal(cria_topology_load(&t, &err), CRIA_OK);
    int cpus[1024];
    int n = cria_topology_cpus(t, cpus, 1024);
    int cpu = cpus[n - 1];
    assert_int_equal(cria_pin_self(&cpu, 1, &err), CRIA_OK);
    assert_int_equal(sched_getcpu(), cpu);
    cpu_set_t now;
    assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof now, &now), 0);
    assert_int_equal(CPU_COUNT(&now), 1);
    assert_true(CPU_ISSET(cpu, &now));

    int bogus = cria_topology_max_cpu(t) + 1000; /* not a CPU: an error, not a crash */
    assert_int_equal(cria_pin_self(&bogus, 1, &err), CRIA_ERR_ARG);
    assert_non_null(strstr(err.msg, "cannot pin"));
    assert_int_equal(cria_pin_self(NULL, 0, &err), CRIA_ERR_ARG);
    cria_topology_free(t);
}

typedef struct where {
    int cpu[16];
    int n_allowed[16];
} where;

static void record_cpu(void *arg, int ith, int nth)
{
    (void)nth;
    where *w = arg;
    cpu_set_t set;
    w->cpu[ith] = sched_getcpu();
    w->n_allowed[ith] = pthread_getaffinity_np(pthread_self(), sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
}

/* Strict: each worker, the caller included, runs on its planned CPU; three threads wrap around two CPUs. */
static void test_machine_pool_strict(void **state)
{
    (void)state;
    cria_cpu_params p = cria_cpu_default_params();
    p.strict = 1;
    p.n_threads = 3;
    cria_placement *pl = NULL;
    cria_error err = {0};
    assert_int_equal(cria_placement_init(&p, &pl, &err), CRIA_OK);
    cria_pool *pool = NULL;
    assert_int_equal(cria_pool_init_placed(3, pl, &pool, &err), CRIA_OK);
    where w;
    memset(&w, -1, sizeof w);
    for (int rep = 0; rep < 3; rep++) {
        cria_pool_run(pool, 3, record_cpu, &w);
        for (int i = 0; i < 3; i++) {
            int32_t c;
            assert_int_equal(cria_placement_cpus(pl, i, &c, 1), 1);
            assert_int_equal(w.cpu[i], c);
            assert_int_equal(w.n_allowed[i], 1);
        }
    }
    cria_pool_free(pool);
    cria_placement_free(pl);
}

/* Not strict, with a range: the workers and the caller float over it. */
static void test_machine_pool_float(void **state)
{
    (void)state;
    cria_topology *t = NULL;
    cria_error err = {0};
    assert_int_equal(cria_topology_load(&t, &err), CRIA_OK);
    int cpus[1024];
    int n = cria_topology_cpus(t, cpus, 1024);
    char range[32];
    snprintf(range, sizeof range, "%d-%d", cpus[n / 2], cpus[n - 1]); /* the upper half of the usable CPUs */
    cria_topology_free(t);
    n -= n / 2;

    cria_cpu_params p = cria_cpu_default_params();
    p.cpu_range = range;
    p.n_threads = 2;
    cria_placement *pl = NULL;
    assert_int_equal(cria_placement_init(&p, &pl, &err), CRIA_OK);
    assert_int_equal(cria_placement_cpus(pl, 1, NULL, 0), n);
    cria_pool *pool = NULL;
    assert_int_equal(cria_pool_init_placed(2, pl, &pool, &err), CRIA_OK);
    where w;
    cria_pool_run(pool, 2, record_cpu, &w);
    int32_t c[1024];
    cria_placement_cpus(pl, 1, c, 1024);
    for (int ith = 0; ith < 2; ith++) {
        assert_int_equal(w.n_allowed[ith], n);
        int found = 0;
        for (int i = 0; i < n; i++)
            found |= c[i] == w.cpu[ith];
        assert_true(found);
    }
    cria_pool_free(pool);
    cria_placement_free(pl);
}

/*
 * Binding memory to the node of a usable CPU puts its pages there (on a
 * single-node machine that is node 0: the no-op case); a node the kernel
 * does not know is an error.
 */
static void test_membind(void **state)
{
    (void)state;
    cria_cpu_params p = cria_cpu_default_params();
    p.strict = 1;
    p.numa = "isolate";
    cria_placement *pl = NULL;
    cria_error err = {0};
    assert_int_equal(cria_placement_init(&p, &pl, &err), CRIA_OK);
    int node = cria_placement_thread_node(pl, 0);
    assert_true(node >= 0);
    cria_placement_free(pl);

    const size_t len = 1 << 20;
    char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(buf != MAP_FAILED);
    memset(buf, 1, len / 2); /* half already there: moved; half faulted in later: placed */
    cria_status st = cria_membind(buf + 100, len - 100, node, &err);
    if (st == CRIA_ERR_UNSUPPORTED) { /* a kernel without NUMA support */
        munmap(buf, len);
        skip();
    }
    assert_int_equal(st, CRIA_OK);
    memset(buf, 2, len);
    assert_int_equal(cria_mem_node_of(buf), node);
    assert_int_equal(cria_mem_node_of(buf + len - 1), node);
    assert_int_equal(cria_membind(buf, len, 1000, &err), CRIA_ERR_ARG);
    assert_int_equal(cria_membind(buf, len, -1, &err), CRIA_ERR_ARG);
    assert_non_null(strstr(err.msg, "-1"));
    munmap(buf, len);
}

static void test_priority(void **state)
{
    (void)state;
    cria_error err = {0};
    assert_int_equal(cria_thread_set_priority(0, &err), CRIA_OK);
    assert_int_equal(cria_thread_set_priority(7, &err), CRIA_ERR_ARG);
    assert_non_null(strstr(err.msg, "--prio 7"));
    /* medium needs privileges: either it works or it is a warning with a reason */
    cria_status st = cria_thread_set_priority(1, &err);
    assert_true(st == CRIA_OK || (st == CRIA_ERR_UNSUPPORTED && strstr(err.msg, "medium")));
    if (st == CRIA_OK) {
        assert_int_equal(getpriority(PRIO_PROCESS, (id_t)gettid()), -5);
        setpriority(PRIO_PROCESS, (id_t)gettid(), 0); /* back to normal for the tests after */
    }
}

/* A context built with a strict placement runs its pool on the planned CPUs and decodes. */
static void test_context_placed(void **state)
{
    (void)state;
    if (!test_have("models/stories260K-f32.gguf"))
        skip();
    cria_error err = {0};
    cria_model *m = NULL;
    assert_int_equal(cria_model_load(test_shared("models/stories260K-f32.gguf"), NULL, &m, &err), CRIA_OK);
    cria_cpu_params cp = cria_cpu_default_params();
    cp.strict = 1;
    cp.n_threads = 2;
    cria_placement *pl = NULL;
    assert_int_equal(cria_placement_init(&cp, &pl, &err), CRIA_OK);
    cria_context_params p = cria_context_default_params();
    p.n_ctx = 64;
    p.n_threads = 2;
    p.placement = pl;
    cria_context *ctx = NULL;
    int32_t want, want1;
    assert_int_equal(cria_placement_cpus(pl, 0, &want, 1), 1);
    assert_int_equal(cria_placement_cpus(pl, 1, &want1, 1), 1);
    assert_int_equal(cria_context_init(m, &p, &ctx, &err), CRIA_OK);
    cria_placement_free(pl); /* borrowed only during init */
    int32_t now_on[4] = {-1, -1, -1, -1};
    assert_int_equal(cria_context_thread_cpus(ctx, now_on, 4), 2);
    assert_int_equal(now_on[0], want);
    assert_int_equal(now_on[1], want1);
    cria_batch b = cria_batch_init(4);
    b.n_tokens = 1;
    b.token[0] = cria_token_bos(m);
    b.pos[0] = 0;
    b.seq_id[0] = 0;
    b.logits[0] = 1;
    assert_int_equal(cria_decode(ctx, &b, &err), CRIA_OK);
    assert_non_null(cria_get_logits_ith(ctx, 0));
    cpu_set_t now;
    assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof now, &now), 0);
    assert_int_equal(CPU_COUNT(&now), 1); /* strict pins the caller, worker 0 */
    assert_true(CPU_ISSET(want, &now));
    cria_batch_free(&b);
    cria_context_free(ctx);
    cria_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_sockets_smt),
        cmocka_unit_test(test_sibling_numbering),
        cmocka_unit_test(test_numa_nodes),
        cmocka_unit_test(test_restricted),
        cmocka_unit_test(test_hybrid),
        cmocka_unit_test(test_plan_default),
        cmocka_unit_test(test_plan_strict),
        cmocka_unit_test(test_plan_mask),
        cmocka_unit_test(test_plan_range),
        cmocka_unit_test(test_plan_distribute),
        cmocka_unit_test(test_plan_distribute_mask),
        cmocka_unit_test(test_plan_distribute_one_node),
        cmocka_unit_test(test_plan_isolate),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test_setup_teardown(test_machine_default, save_affinity, restore_affinity),
        cmocka_unit_test_setup_teardown(test_machine_pin_self, save_affinity, restore_affinity),
        cmocka_unit_test_setup_teardown(test_machine_pool_strict, save_affinity, restore_affinity),
        cmocka_unit_test_setup_teardown(test_machine_pool_float, save_affinity, restore_affinity),
        cmocka_unit_test_setup_teardown(test_membind, save_affinity, restore_affinity),
        cmocka_unit_test(test_priority),
        cmocka_unit_test_setup_teardown(test_context_placed, save_affinity, restore_affinity),
    };
    return cmocka_run_group_tests_name("topology", tests, NULL, NULL);
}
