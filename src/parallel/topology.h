/*
 * The machine as the thread pool sees it, read with hwloc: packages, NUMA
 * nodes, physical cores and logical CPUs (PUs), restricted to the CPUs this
 * process may run on. CPUs are named by their OS index (what taskset, masks
 * and sched_getcpu use). Every list is in ascending CPU order.
 *
 * "Physical cores" means one per core, no SMT siblings, and on hybrid CPUs
 * only the cores of the highest-performance kind (hwloc cpukinds), unless the
 * process may use none of those.
 */
#ifndef CRIA_PARALLEL_TOPOLOGY_H
#define CRIA_PARALLEL_TOPOLOGY_H

#include <stddef.h>

#include "cria.h"

typedef struct cria_topology cria_topology;

/*
 * Loads this machine's topology, restricted to the process's affinity mask
 * (the union of its threads' masks) and cgroup. Load it before pinning
 * anything: a pinned thread narrows what the process "may use".
 */
cria_status cria_topology_load(cria_topology **out, cria_error *err);

/*
 * Builds a topology from an hwloc synthetic description, for tests:
 * desc as hwloc_topology_set_synthetic takes it ("pack:2 numa:1 core:4 pu:2");
 * allowed: a CPU list ("0-5,8") standing for the process's affinity, NULL: all;
 * perf: a CPU list registered as the performance kind of a hybrid CPU (the
 * others become a lower-efficiency kind), NULL: one kind.
 */
cria_status cria_topology_load_synthetic(const char *desc, const char *allowed, const char *perf,
                                         cria_topology **out, cria_error *err);

void cria_topology_free(cria_topology *topo);

int cria_topology_n_packages(const cria_topology *topo);
/* Logical CPUs (PUs) the process may use. */
int cria_topology_n_logical(const cria_topology *topo);
/* Physical performance cores with at least one usable PU: the default thread count. */
int cria_topology_n_physical(const cria_topology *topo);
/* NUMA nodes with at least one usable PU (1 on a machine without NUMA). */
int cria_topology_n_numa(const cria_topology *topo);
/* Highest OS CPU index on the machine, usable or not. */
int cria_topology_max_cpu(const cria_topology *topo);

/* Usable CPUs, ascending; writes up to cap, returns the count. */
int cria_topology_cpus(const cria_topology *topo, int *cpus, int cap);
/* The first usable PU of each usable physical performance core, ascending; returns the count. */
int cria_topology_cores(const cria_topology *topo, int *cpus, int cap);
/* Index (0 .. n_numa-1, in the order of the usable nodes) of the node holding cpu; -1: not usable. */
int cria_topology_numa_of(const cria_topology *topo, int cpu);
/* OS index of usable node i (what numactl calls the node); -1: out of range. */
int cria_topology_numa_os_index(const cria_topology *topo, int node);

/* True when cpu is a usable CPU. */
int cria_topology_usable(const cria_topology *topo, int cpu);
/* Index of the core holding usable cpu (any kind; SMT siblings share it); -1: not usable. */
int cria_topology_core_of(const cria_topology *topo, int cpu);
/* True when usable cpu counts as a physical core's PU (a performance core on hybrid CPUs). */
int cria_topology_is_perf(const cria_topology *topo, int cpu);

/*
 * One line describing the topology, e.g. "1 package, 1 NUMA node, 2 physical
 * cores, 2 logical CPUs usable (CPUs 0-1)"; NUL-terminated in buf.
 */
void cria_topology_describe(const cria_topology *topo, char *buf, size_t cap);

/* Writes a CPU list such as "0-3,8,10-11" for n ascending CPUs into buf (cap bytes, NUL-terminated). */
void cria_cpu_list_str(const int *cpus, int n, char *buf, size_t cap);

#endif
