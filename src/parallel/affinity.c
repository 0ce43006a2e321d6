/* Thread placement: options parsed and checked, the plan built, and pinning and priority applied. */
#include "parallel/affinity.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/error.h"

enum { MAX_THREADS = 1024 }; /* the pool's limit */

struct cria_placement {
    int n_threads;
    int n_default;           /* what n_threads = 0 stands for with these options */
    int strict, prio, pins;
    cria_numa_mode numa, numa_asked; /* distribute over one node becomes none */
    int *first;              /* [n_threads + 1]: thread i may run on cpus[first[i] .. first[i+1]) */
    int *cpus;
    int *node_of_thread;     /* [n_threads]: NUMA node (OS index) of its CPUs, -1 when they span nodes or none */
    char topo_line[320];     /* cria_topology_describe at planning time */
};

static const char *const numa_names[] = {"none", "distribute", "isolate"};
static const char *const prio_names[] = {"low", "normal", "medium", "high", "realtime"};

cria_cpu_params cria_cpu_default_params(void)
{
    cria_cpu_params p = {.n_threads = 0, .cpu_mask = NULL, .cpu_range = NULL, .strict = 0, .prio = 0, .numa = NULL};
    return p;
}

cria_status cria_numa_mode_parse(const char *s, cria_numa_mode *mode, cria_error *err)
{
    if (!s || !*s || !strcmp(s, "none") || !strcmp(s, "numactl"))
        *mode = CRIA_NUMA_NONE;
    else if (!strcmp(s, "distribute"))
        *mode = CRIA_NUMA_DISTRIBUTE;
    else if (!strcmp(s, "isolate"))
        *mode = CRIA_NUMA_ISOLATE;
    else
        return cria_err_set(err, CRIA_ERR_ARG, "--numa \"%.64s\": must be distribute, isolate or none", s);
    return CRIA_OK;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Marks sel[cpu] for each bit of a hex mask (bit i = CPU i, rightmost digit = CPUs 0-3); bits past max_cpu are dropped. */
static cria_status parse_mask(const char *s, int max_cpu, unsigned char *sel, cria_error *err)
{
    const char *p = s + ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 2 : 0);
    size_t len = strlen(p);
    const char *more = strlen(s) > 64 ? "..." : "";
    if (len == 0)
        return cria_err_set(err, CRIA_ERR_ARG, "--cpu-mask \"%.64s%s\": no hexadecimal digits", s, more);
    for (size_t k = 0; k < len; k++) {
        char c = p[len - 1 - k];
        int v = hex_digit(c);
        if (v < 0)
            return cria_err_set(err, CRIA_ERR_ARG, "--cpu-mask \"%.64s%s\": '%c' is not a hexadecimal digit", s,
                                more, c);
        for (size_t b = 0; b < 4; b++)
            if ((v >> b) & 1 && 4 * k + b <= (size_t)max_cpu)
                sel[4 * k + b] = 1;
    }
    return CRIA_OK;
}

/* Reads a decimal CPU index at *p (advancing it); -1 when there is none or it exceeds a million. */
static long parse_index(const char **p)
{
    long v = -1;
    while (**p >= '0' && **p <= '9') {
        v = (v < 0 ? 0 : v) * 10 + (**p - '0');
        if (v > 1000000)
            return -1;
        (*p)++;
    }
    return v;
}

/* Marks sel[A..B] for "A-B" ("A": one CPU, "A-": to the last CPU, "-B": from CPU 0). */
static cria_status parse_range(const char *s, int max_cpu, unsigned char *sel, cria_error *err)
{
    const char *p = s;
    long lo = *p == '-' ? 0 : parse_index(&p), hi = lo;
    if (*p == '-') {
        p++;
        hi = *p ? parse_index(&p) : max_cpu;
    }
    if (lo < 0 || hi < 0 || *p || !strcmp(s, "-"))
        return cria_err_set(err, CRIA_ERR_ARG, "--cpu-range \"%.64s\": expected A-B with CPU numbers A <= B", s);
    if (lo > hi)
        return cria_err_set(err, CRIA_ERR_ARG, "--cpu-range \"%.64s\": starts after it ends", s);
    if (hi > max_cpu)
        return cria_err_set(err, CRIA_ERR_ARG, "--cpu-range \"%.64s\" is outside this machine's CPUs 0-%d", s,
                            max_cpu);
    for (long c = lo; c <= hi; c++)
        sel[c] = 1;
    return CRIA_OK;
}

/* Checks the scalar options; CRIA_ERR_ARG naming the first bad one. */
static cria_status check_params(const cria_cpu_params *p, cria_error *err)
{
    if (p->n_threads < 0 || p->n_threads > MAX_THREADS)
        return cria_err_set(err, CRIA_ERR_ARG, "-t %d: thread count must be 1..%d (0: default)", p->n_threads,
                            MAX_THREADS);
    if (p->strict != 0 && p->strict != 1)
        return cria_err_set(err, CRIA_ERR_ARG, "--cpu-strict %d: must be 0 or 1", p->strict);
    if (p->prio < -1 || p->prio > 3)
        return cria_err_set(err, CRIA_ERR_ARG, "--prio %d: must be -1..3 (low, normal, medium, high, realtime)",
                            p->prio);
    return CRIA_OK;
}

/*
 * The selected CPUs S, ascending, into sel_cpus (room for every usable CPU)
 * and their count into *n_sel. CPUs of the mask that the process may not use
 * are dropped; a mask or range left with none is an error.
 */
static cria_status select_cpus(const cria_topology *t, const cria_cpu_params *p, cria_numa_mode numa,
                               int caller_cpu, int *sel_cpus, int *n_sel, cria_error *err)
{
    const int max_cpu = cria_topology_max_cpu(t), n_usable = cria_topology_n_logical(t);
    const int have_mask = p->cpu_mask && *p->cpu_mask, have_range = p->cpu_range && *p->cpu_range;
    int n = cria_topology_cpus(t, sel_cpus, n_usable);
    if (have_mask || have_range) {
        unsigned char *mark = calloc((size_t)max_cpu + 1, 1);
        unsigned char *one = calloc((size_t)max_cpu + 1, 1);
        cria_status st = mark && one ? CRIA_OK : cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for a CPU mask");
        char usable[256];
        cria_cpu_list_str(sel_cpus, n, usable, sizeof usable);
        /* Each of mask and range must select a usable CPU on its own; together they are a union. */
        for (int which = 0; which < 2 && st == CRIA_OK; which++) {
            const char *s = which ? p->cpu_range : p->cpu_mask;
            if (!(which ? have_range : have_mask))
                continue;
            memset(one, 0, (size_t)max_cpu + 1);
            st = which ? parse_range(s, max_cpu, one, err) : parse_mask(s, max_cpu, one, err);
            int hits = 0;
            for (int i = 0; i < n && st == CRIA_OK; i++)
                hits += one[sel_cpus[i]];
            if (st == CRIA_OK && hits == 0)
                st = cria_err_set(err, CRIA_ERR_ARG, "%s \"%.64s%s\" selects none of the CPUs this process may use (%s)",
                                  which ? "--cpu-range" : "--cpu-mask", s, strlen(s) > 64 ? "..." : "", usable);
            for (int c = 0; c <= max_cpu && st == CRIA_OK; c++)
                mark[c] |= one[c];
        }
        int m = 0;
        for (int i = 0; i < n && st == CRIA_OK; i++)
            if (mark[sel_cpus[i]])
                sel_cpus[m++] = sel_cpus[i];
        free(mark);
        free(one);
        if (st != CRIA_OK)
            return st;
        n = m;
    }
    if (numa == CRIA_NUMA_ISOLATE) {
        if (caller_cpu < 0)
            caller_cpu = sched_getcpu();
        int node = cria_topology_numa_of(t, caller_cpu);
        if (node < 0) /* the caller runs outside the usable CPUs: take the first selected CPU's node */
            node = cria_topology_numa_of(t, sel_cpus[0]);
        int m = 0;
        for (int i = 0; i < n; i++)
            if (cria_topology_numa_of(t, sel_cpus[i]) == node)
                sel_cpus[m++] = sel_cpus[i];
        if (m == 0)
            return cria_err_set(err, CRIA_ERR_ARG,
                                "--numa isolate: none of the selected CPUs is on NUMA node %d, where the calling "
                                "thread runs (CPU %d)",
                                cria_topology_numa_os_index(t, node), caller_cpu);
        n = m;
    }
    *n_sel = n;
    return CRIA_OK;
}

/*
 * Orders S for strict pinning into L: as listed when the user listed CPUs,
 * else one PU per physical core first, then the rest (taken: n bytes of
 * scratch). Returns in *n_phys the
 * physical cores S covers (performance cores; all cores when S has none).
 */
static void order_cpus(const cria_topology *t, const int *s, int n, int listed, unsigned char *taken, int *l,
                       int *n_phys)
{
    int perf_any = 0, m = 0;
    for (int i = 0; i < n; i++) {
        perf_any |= cria_topology_is_perf(t, s[i]);
        taken[i] = 0;
    }
    int phys = 0;
    for (int i = 0; i < n; i++) {
        int first = !perf_any || cria_topology_is_perf(t, s[i]);
        for (int j = 0; j < i && first; j++)
            if (cria_topology_core_of(t, s[j]) == cria_topology_core_of(t, s[i]))
                first = 0;
        if (!first)
            continue;
        phys++;
        if (!listed) {
            l[m++] = s[i];
            taken[i] = 1;
        }
    }
    for (int i = 0; i < n; i++)
        if (!taken[i])
            l[m++] = s[i];
    *n_phys = phys > 0 ? phys : 1;
}

cria_status cria_placement_build(const cria_topology *t, const cria_cpu_params *params, int caller_cpu,
                                 cria_placement **out, cria_error *err)
{
    *out = NULL;
    cria_cpu_params p = params ? *params : cria_cpu_default_params();
    cria_numa_mode numa;
    cria_status st = check_params(&p, err);
    if (st == CRIA_OK)
        st = cria_numa_mode_parse(p.numa, &numa, err);
    if (st != CRIA_OK)
        return st;
    const int n_usable = cria_topology_n_logical(t);
    const int listed = (p.cpu_mask && *p.cpu_mask) || (p.cpu_range && *p.cpu_range);
    const int n_nodes_all = cria_topology_n_numa(t);
    int *s = malloc((size_t)n_usable * sizeof *s), *l = malloc((size_t)n_usable * sizeof *l);
    int *node_ids = malloc((size_t)n_nodes_all * sizeof *node_ids);
    unsigned char *taken = malloc((size_t)n_usable);
    cria_placement *pl = calloc(1, sizeof *pl);
    if (!s || !l || !node_ids || !taken || !pl) {
        st = cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for a thread placement");
        goto done;
    }
    int n = 0;
    st = select_cpus(t, &p, numa, caller_cpu, s, &n, err);
    if (st != CRIA_OK)
        goto done;
    int n_phys;
    order_cpus(t, s, n, listed, taken, l, &n_phys);

    /* Nodes present in S, in node order; distribute with one node is the same as none. */
    int n_nodes = 0;
    for (int k = 0; k < n_nodes_all; k++)
        for (int i = 0; i < n; i++)
            if (cria_topology_numa_of(t, s[i]) == k) {
                node_ids[n_nodes++] = k;
                break;
            }
    const cria_numa_mode numa_asked = numa;
    if (numa == CRIA_NUMA_DISTRIBUTE && n_nodes <= 1)
        numa = CRIA_NUMA_NONE;

    pl->n_default = p.strict && listed ? n : n_phys;
    pl->n_threads = p.n_threads > 0 ? p.n_threads : pl->n_default;
    pl->strict = p.strict;
    pl->prio = p.prio;
    pl->numa = numa;
    pl->numa_asked = numa_asked;
    pl->pins = p.strict || listed || numa != CRIA_NUMA_NONE;
    cria_topology_describe(t, pl->topo_line, sizeof pl->topo_line);
    const int nt = pl->n_threads;
    size_t per = p.strict ? 1 : (size_t)n;
    pl->first = calloc((size_t)nt + 1, sizeof *pl->first);
    pl->node_of_thread = calloc((size_t)nt, sizeof *pl->node_of_thread);
    pl->cpus = malloc((pl->pins ? (size_t)nt * per : 1) * sizeof *pl->cpus);
    if (!pl->first || !pl->node_of_thread || !pl->cpus) {
        st = cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for a placement of %d threads", nt);
        goto done;
    }
    int k = 0;
    for (int i = 0; i < nt; i++) {
        pl->first[i] = k;
        pl->node_of_thread[i] = -1;
        if (!pl->pins)
            continue;
        int node = numa == CRIA_NUMA_DISTRIBUTE ? node_ids[i % n_nodes] : -1;
        if (p.strict && node >= 0) { /* the (i / K)-th CPU of L on this thread's node */
            int want = i / n_nodes, on_node = 0, cnt = 0;
            for (int j = 0; j < n; j++)
                cnt += cria_topology_numa_of(t, l[j]) == node;
            want %= cnt;
            for (int j = 0; j < n; j++)
                if (cria_topology_numa_of(t, l[j]) == node && on_node++ == want)
                    pl->cpus[k++] = l[j];
        } else if (p.strict) {
            pl->cpus[k++] = l[i % n];
        } else { /* float over S, or S on this thread's node */
            for (int j = 0; j < n; j++)
                if (node < 0 || cria_topology_numa_of(t, s[j]) == node)
                    pl->cpus[k++] = s[j];
        }
        int nd = cria_topology_numa_of(t, pl->cpus[pl->first[i]]);
        for (int j = pl->first[i]; j < k; j++)
            if (cria_topology_numa_of(t, pl->cpus[j]) != nd)
                nd = -1;
        pl->node_of_thread[i] = nd < 0 ? -1 : cria_topology_numa_os_index(t, nd);
    }
    pl->first[nt] = k;
done:
    free(s);
    free(l);
    free(node_ids);
    free(taken);
    if (st != CRIA_OK) {
        cria_placement_free(pl);
        return st;
    }
    *out = pl;
    return CRIA_OK;
}

cria_status cria_placement_init(const cria_cpu_params *params, cria_placement **out, cria_error *err)
{
    *out = NULL;
    cria_topology *t;
    cria_status st = cria_topology_load(&t, err);
    if (st != CRIA_OK)
        return st;
    st = cria_placement_build(t, params, -1, out, err);
    cria_topology_free(t);
    return st;
}

void cria_placement_free(cria_placement *pl)
{
    if (!pl)
        return;
    free(pl->first);
    free(pl->cpus);
    free(pl->node_of_thread);
    free(pl);
}

int32_t cria_placement_n_threads(const cria_placement *pl)
{
    return pl->n_threads;
}

int32_t cria_placement_default_threads(const cria_placement *pl)
{
    return pl->n_default;
}

int cria_placement_thread_cpus(const cria_placement *pl, int ith, const int **cpus)
{
    int i = ith % pl->n_threads;
    *cpus = pl->cpus + pl->first[i];
    return pl->first[i + 1] - pl->first[i];
}

int cria_placement_thread_node(const cria_placement *pl, int ith)
{
    return pl->node_of_thread[ith % pl->n_threads];
}

int cria_placement_pins_caller(const cria_placement *pl)
{
    return pl->pins;
}

int32_t cria_placement_cpus(const cria_placement *pl, int32_t ith, int32_t *cpus, int32_t cap)
{
    if (ith < 0)
        return 0;
    const int *c;
    int n = cria_placement_thread_cpus(pl, ith, &c);
    for (int i = 0; i < n && i < cap; i++)
        cpus[i] = c[i];
    return n;
}

void cria_placement_print(const cria_placement *pl, const int32_t *running_on, int32_t n_running, FILE *f)
{
    fprintf(f, "topology: %s\n", pl->topo_line);
    fprintf(f, "placement: %d thread%s, strict %d, numa %s%s, prio %d (%s)%s\n", pl->n_threads,
            pl->n_threads == 1 ? "" : "s", pl->strict, numa_names[pl->numa_asked],
            pl->numa != pl->numa_asked ? " (one node: nothing to do)" : "", pl->prio, prio_names[pl->prio + 1],
            pl->pins ? "" : ", threads not pinned");
    int n = running_on && n_running > pl->n_threads ? n_running : pl->n_threads;
    if (!pl->pins && !running_on)
        return;
    char list[1024];
    for (int i = 0; i < n; i++) {
        const int *c;
        int nc = cria_placement_thread_cpus(pl, i, &c);
        fprintf(f, "  thread %d: ", i);
        if (nc == 0) {
            fprintf(f, "not pinned");
        } else {
            cria_cpu_list_str(c, nc, list, sizeof list);
            fprintf(f, "CPU%s %s", nc == 1 ? "" : "s", list);
            int node = pl->node_of_thread[i % pl->n_threads];
            if (node >= 0)
                fprintf(f, " (NUMA node %d)", node);
        }
        if (running_on && i < n_running)
            fprintf(f, ", running on CPU %d", running_on[i]);
        fprintf(f, "\n");
    }
}

cpu_set_t *cria_cpuset_new(const int *cpus, int n, size_t *size)
{
    int max = 0;
    for (int i = 0; i < n; i++)
        max = cpus[i] > max ? cpus[i] : max;
    cpu_set_t *set = CPU_ALLOC((size_t)max + 1);
    if (!set)
        return NULL;
    *size = CPU_ALLOC_SIZE((size_t)max + 1);
    CPU_ZERO_S(*size, set);
    for (int i = 0; i < n; i++)
        if (cpus[i] >= 0)
            CPU_SET_S((size_t)cpus[i], *size, set);
    return set;
}

cria_status cria_pin_self(const int *cpus, int n, cria_error *err)
{
    size_t size;
    if (n <= 0)
        return cria_err_set(err, CRIA_ERR_ARG, "no CPU to pin the thread to");
    cpu_set_t *set = cria_cpuset_new(cpus, n, &size);
    if (!set)
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for a CPU set");
    int rc = pthread_setaffinity_np(pthread_self(), size, set);
    CPU_FREE(set);
    if (rc != 0) {
        char list[128];
        cria_cpu_list_str(cpus, n, list, sizeof list);
        return cria_err_set(err, CRIA_ERR_ARG, "cannot pin a thread to CPUs %s: %s", list, strerror(rc));
    }
    return CRIA_OK;
}

/*
 * nice values per level, as llama.cpp's process priority; on Linux
 * setpriority on a thread id changes that thread alone, and new threads
 * inherit it. Realtime is SCHED_FIFO instead (the pool's spinners sleep on a
 * futex after a bounded spin, so they cannot starve the machine for long).
 */
cria_status cria_thread_set_priority(int32_t prio, cria_error *err)
{
    static const int nice_of[] = {5, 0, -5, -10};
    if (prio < -1 || prio > 3)
        return cria_err_set(err, CRIA_ERR_ARG, "--prio %d: must be -1..3 (low, normal, medium, high, realtime)",
                            prio);
    if (prio == 0)
        return CRIA_OK;
    if (prio == 3) {
        struct sched_param sp = {.sched_priority = sched_get_priority_min(SCHED_FIFO) + 49};
        int rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
        if (rc != 0)
            return cria_err_set(err, CRIA_ERR_UNSUPPORTED,
                                "cannot set priority realtime (SCHED_FIFO): %s; needs root or CAP_SYS_NICE",
                                strerror(rc));
        return CRIA_OK;
    }
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), nice_of[prio + 1]) != 0)
        return cria_err_set(err, CRIA_ERR_UNSUPPORTED, "cannot set priority %s (nice %d): %s%s", prio_names[prio + 1],
                            nice_of[prio + 1], strerror(errno), prio > 0 ? "; needs root or CAP_SYS_NICE" : "");
    return CRIA_OK;
}
