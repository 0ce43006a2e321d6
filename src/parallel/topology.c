/*
 * Topology from hwloc, flattened at load into plain arrays so that every query
 * is a read of const data and no hwloc object outlives the load.
 */
#include "parallel/topology.h"

#include <errno.h>
#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

struct cria_topology {
    int n_packages;
    int max_cpu;
    int n_cpus;    /* usable PUs */
    int *cpus;     /* [n_cpus] ascending */
    int *node_of;  /* [n_cpus] usable-node index of cpus[i] */
    int *core_of;  /* [n_cpus] core index of cpus[i] */
    unsigned char *perf; /* [n_cpus] cpus[i] is on a performance core */
    int n_cores;
    int *cores;    /* [n_cores] first usable PU of each usable performance core, ascending */
    int n_nodes;
    int *node_os;  /* [n_nodes] OS index of each usable node */
};

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/*
 * The PUs of the highest-performance CPU kind, or NULL when the machine has
 * one kind or hwloc cannot rank them (then every core counts). Without ranked
 * efficiencies, Intel's "IntelAtom" core type marks the efficiency cores.
 */
static hwloc_bitmap_t perf_kind_cpus(hwloc_topology_t topo)
{
    int nr = hwloc_cpukinds_get_nr(topo, 0);
    if (nr <= 1)
        return NULL;
    hwloc_bitmap_t best = hwloc_bitmap_alloc(), set = hwloc_bitmap_alloc();
    int best_eff = -1, ranked = 1;
    for (int k = 0; k < nr && best && set; k++) {
        int eff = -1;
        unsigned n_infos = 0;
        struct hwloc_info_s *infos = NULL;
        if (hwloc_cpukinds_get_info(topo, (unsigned)k, set, &eff, &n_infos, &infos, 0) != 0)
            continue;
        if (eff < 0) {
            ranked = 0;
            int atom = 0;
            for (unsigned i = 0; i < n_infos; i++)
                if (!strcmp(infos[i].name, "CoreType") && !strcmp(infos[i].value, "IntelAtom"))
                    atom = 1;
            if (!atom)
                hwloc_bitmap_or(best, best, set);
        } else if (ranked && eff > best_eff) {
            best_eff = eff;
            hwloc_bitmap_copy(best, set);
        }
    }
    hwloc_bitmap_free(set);
    if (best && hwloc_bitmap_iszero(best)) {
        hwloc_bitmap_free(best);
        best = NULL;
    }
    return best;
}

/* Fills t from a loaded hwloc topology and the usable set; returns false on no memory. */
static int flatten(cria_topology *t, hwloc_topology_t topo, hwloc_const_bitmap_t allowed)
{
    t->max_cpu = hwloc_bitmap_last(hwloc_topology_get_complete_cpuset(topo));
    t->n_cpus = hwloc_bitmap_weight(allowed);
    int n_core_objs = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    int n_node_objs = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    size_t nc = (size_t)t->n_cpus;
    t->cpus = calloc(nc, sizeof *t->cpus);
    t->node_of = calloc(nc, sizeof *t->node_of);
    t->core_of = calloc(nc, sizeof *t->core_of);
    t->perf = calloc(nc, sizeof *t->perf);
    t->cores = calloc(nc, sizeof *t->cores);
    t->node_os = calloc((size_t)(n_node_objs > 0 ? n_node_objs : 1), sizeof *t->node_os);
    hwloc_bitmap_t perf = perf_kind_cpus(topo), tmp = hwloc_bitmap_alloc();
    if (!t->cpus || !t->node_of || !t->core_of || !t->perf || !t->cores || !t->node_os || !tmp) {
        hwloc_bitmap_free(perf);
        hwloc_bitmap_free(tmp);
        return 0;
    }
    if (perf) {
        hwloc_bitmap_and(perf, perf, allowed);
        if (hwloc_bitmap_iszero(perf)) { /* only efficiency cores usable: they are the cores */
            hwloc_bitmap_free(perf);
            perf = NULL;
        }
    }
    hwloc_const_bitmap_t core_pus = perf ? perf : allowed;

    int i = 0, cpu;
    hwloc_bitmap_foreach_begin(cpu, allowed) {
        t->perf[i] = (unsigned char)hwloc_bitmap_isset(core_pus, (unsigned)cpu);
        t->core_of[i] = i; /* no core objects (some virtual machines): each PU is a core */
        t->cpus[i++] = cpu;
    }
    hwloc_bitmap_foreach_end();

    for (int k = 0; k < n_core_objs; k++) {
        hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)k);
        for (int c = 0; c < t->n_cpus; c++)
            if (hwloc_bitmap_isset(core->cpuset, (unsigned)t->cpus[c]))
                t->core_of[c] = k;
    }
    /* One representative per performance core: its first usable PU. */
    for (int c = 0; c < t->n_cpus; c++) {
        int first = 1;
        for (int d = 0; d < c && first; d++)
            if (t->core_of[d] == t->core_of[c] && t->perf[d])
                first = 0;
        if (t->perf[c] && first)
            t->cores[t->n_cores++] = t->cpus[c];
    }

    for (int k = 0; k < n_node_objs; k++) {
        hwloc_obj_t node = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, (unsigned)k);
        hwloc_bitmap_and(tmp, node->cpuset, allowed);
        if (hwloc_bitmap_iszero(tmp))
            continue;
        for (int c = 0; c < t->n_cpus; c++)
            if (hwloc_bitmap_isset(tmp, (unsigned)t->cpus[c]))
                t->node_of[c] = t->n_nodes;
        t->node_os[t->n_nodes++] = (int)node->os_index;
    }
    if (t->n_nodes == 0) /* no NUMA information: one node with everything (node_of is all 0) */
        t->node_os[t->n_nodes++] = 0;

    int n_pack = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    for (int k = 0; k < n_pack; k++) {
        hwloc_obj_t pack = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, (unsigned)k);
        if (hwloc_bitmap_intersects(pack->cpuset, allowed))
            t->n_packages++;
    }
    if (t->n_packages == 0)
        t->n_packages = 1;
    hwloc_bitmap_free(perf);
    hwloc_bitmap_free(tmp);
    return 1;
}

/*
 * Shared tail of both loaders: intersects the topology's CPUs with
 * restrict_to (NULL: none), flattens, and frees topo.
 */
static cria_status finish(hwloc_topology_t topo, hwloc_const_bitmap_t restrict_to, cria_topology **out,
                          cria_error *err)
{
    cria_status st = CRIA_OK;
    cria_topology *t = calloc(1, sizeof *t);
    hwloc_bitmap_t allowed = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(topo));
    if (!t || !allowed) {
        st = cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for the CPU topology");
        goto done;
    }
    hwloc_bitmap_and(allowed, allowed, hwloc_topology_get_topology_cpuset(topo));
    if (restrict_to)
        hwloc_bitmap_and(allowed, allowed, restrict_to);
    if (hwloc_bitmap_iszero(allowed)) {
        st = cria_err_set(err, CRIA_ERR_ARG, "the process may run on none of this machine's CPUs");
        goto done;
    }
    if (!flatten(t, topo, allowed))
        st = cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for the CPU topology");
done:
    hwloc_bitmap_free(allowed);
    hwloc_topology_destroy(topo);
    if (st != CRIA_OK) {
        cria_topology_free(t);
        return st;
    }
    *out = t;
    return CRIA_OK;
}

cria_status cria_topology_load(cria_topology **out, cria_error *err)
{
    *out = NULL;
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0)
        return cria_err_set(err, CRIA_ERR_NOMEM, "hwloc: cannot initialise a topology");
    if (hwloc_topology_load(topo) != 0) {
        int e = errno;
        hwloc_topology_destroy(topo);
        return cria_err_set(err, CRIA_ERR_IO, "hwloc: cannot read this machine's topology: %s", strerror(e));
    }
    /* The process's mask; the calling thread's when the threads disagree or the OS cannot say. */
    hwloc_bitmap_t bound = hwloc_bitmap_alloc();
    if (bound && hwloc_get_cpubind(topo, bound, HWLOC_CPUBIND_PROCESS) != 0 &&
        hwloc_get_cpubind(topo, bound, HWLOC_CPUBIND_THREAD) != 0)
        hwloc_bitmap_fill(bound);
    cria_status st = finish(topo, bound, out, err);
    hwloc_bitmap_free(bound);
    return st;
}

/* Parses a CPU list ("0-3,8") into a new bitmap; NULL on a malformed list. */
static hwloc_bitmap_t parse_list(const char *list)
{
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (set && hwloc_bitmap_list_sscanf(set, list) != 0) {
        hwloc_bitmap_free(set);
        return NULL;
    }
    return set;
}

/* Registers perf as the faster kind and the rest of the machine as the slower one. */
static int register_kinds(hwloc_topology_t topo, hwloc_bitmap_t perf)
{
    hwloc_bitmap_t slow = hwloc_bitmap_dup(hwloc_topology_get_complete_cpuset(topo));
    if (!slow)
        return -1;
    hwloc_bitmap_andnot(slow, slow, perf);
    int rc = hwloc_cpukinds_register(topo, perf, 1, 0, NULL, 0);
    if (rc == 0 && !hwloc_bitmap_iszero(slow))
        rc = hwloc_cpukinds_register(topo, slow, 0, 0, NULL, 0);
    hwloc_bitmap_free(slow);
    return rc;
}

cria_status cria_topology_load_synthetic(const char *desc, const char *allowed, const char *perf,
                                         cria_topology **out, cria_error *err)
{
    *out = NULL;
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0)
        return cria_err_set(err, CRIA_ERR_NOMEM, "hwloc: cannot initialise a topology");
    if (!desc || hwloc_topology_set_synthetic(topo, desc) != 0 || hwloc_topology_load(topo) != 0) {
        hwloc_topology_destroy(topo);
        return cria_err_set(err, CRIA_ERR_ARG, "bad synthetic topology \"%s\"", desc ? desc : "(null)");
    }
    hwloc_bitmap_t allow = NULL, fast = NULL;
    cria_status st = CRIA_OK;
    if (allowed && !(allow = parse_list(allowed)))
        st = cria_err_set(err, CRIA_ERR_ARG, "bad CPU list \"%s\"", allowed);
    if (st == CRIA_OK && perf && (!(fast = parse_list(perf)) || register_kinds(topo, fast) != 0))
        st = cria_err_set(err, CRIA_ERR_ARG, "bad performance CPU list \"%s\"", perf);
    if (st == CRIA_OK)
        st = finish(topo, allow, out, err);
    else
        hwloc_topology_destroy(topo);
    hwloc_bitmap_free(allow);
    hwloc_bitmap_free(fast);
    return st;
}

void cria_topology_free(cria_topology *t)
{
    if (!t)
        return;
    free(t->cpus);
    free(t->node_of);
    free(t->core_of);
    free(t->perf);
    free(t->cores);
    free(t->node_os);
    free(t);
}

int cria_topology_n_packages(const cria_topology *t) { return t->n_packages; }
int cria_topology_n_logical(const cria_topology *t) { return t->n_cpus; }
int cria_topology_n_physical(const cria_topology *t) { return t->n_cores; }
int cria_topology_n_numa(const cria_topology *t) { return t->n_nodes; }
int cria_topology_max_cpu(const cria_topology *t) { return t->max_cpu; }

static int copy_out(const int *src, int n, int *dst, int cap)
{
    if (dst)
        memcpy(dst, src, (size_t)(n < cap ? n : cap) * sizeof *dst);
    return n;
}

int cria_topology_cpus(const cria_topology *t, int *cpus, int cap)
{
    return copy_out(t->cpus, t->n_cpus, cpus, cap);
}

int cria_topology_cores(const cria_topology *t, int *cpus, int cap)
{
    return copy_out(t->cores, t->n_cores, cpus, cap);
}

/* Position of cpu in the ascending usable list, or -1. */
static int cpu_pos(const cria_topology *t, int cpu)
{
    const int *p = bsearch(&cpu, t->cpus, (size_t)t->n_cpus, sizeof *t->cpus, cmp_int);
    return p ? (int)(p - t->cpus) : -1;
}

int cria_topology_usable(const cria_topology *t, int cpu)
{
    return cpu_pos(t, cpu) >= 0;
}

int cria_topology_numa_of(const cria_topology *t, int cpu)
{
    int i = cpu_pos(t, cpu);
    return i < 0 ? -1 : t->node_of[i];
}

int cria_topology_core_of(const cria_topology *t, int cpu)
{
    int i = cpu_pos(t, cpu);
    return i < 0 ? -1 : t->core_of[i];
}

int cria_topology_is_perf(const cria_topology *t, int cpu)
{
    int i = cpu_pos(t, cpu);
    return i >= 0 && t->perf[i];
}

int cria_topology_numa_os_index(const cria_topology *t, int node)
{
    return node >= 0 && node < t->n_nodes ? t->node_os[node] : -1;
}

void cria_cpu_list_str(const int *cpus, int n, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap == 0)
        return;
    buf[0] = '\0';
    for (int i = 0; i < n && len < cap;) {
        int j = i;
        while (j + 1 < n && cpus[j + 1] == cpus[j] + 1)
            j++;
        int w = j > i ? snprintf(buf + len, cap - len, "%s%d-%d", i ? "," : "", cpus[i], cpus[j])
                      : snprintf(buf + len, cap - len, "%s%d", i ? "," : "", cpus[i]);
        if (w < 0)
            break;
        len += (size_t)w;
        i = j + 1;
    }
}

void cria_topology_describe(const cria_topology *t, char *buf, size_t cap)
{
    char list[256];
    cria_cpu_list_str(t->cpus, t->n_cpus, list, sizeof list);
    snprintf(buf, cap, "%d package%s, %d NUMA node%s, %d physical core%s, %d logical CPU%s usable (CPUs %s)",
             t->n_packages, t->n_packages == 1 ? "" : "s", t->n_nodes, t->n_nodes == 1 ? "" : "s", t->n_cores,
             t->n_cores == 1 ? "" : "s", t->n_cpus, t->n_cpus == 1 ? "" : "s", list);
}
