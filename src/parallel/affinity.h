/*
 * Thread placement: llama-cli's CPU options (mask, range, strict, NUMA mode,
 * priority) planned over a topology, and the calls that apply a plan to a
 * thread. The public half (cria_placement_init, ...) is in cria.h.
 *
 * The plan, for N threads (S = the selected CPUs: mask and range, else every
 * usable CPU, narrowed to the caller's node by isolate):
 *   strict, no NUMA or isolate   thread i -> L[i mod |L|], one CPU
 *   strict, distribute           thread i -> node i mod K, its (i / K)-th CPU of L
 *   not strict, distribute       thread i -> every CPU of S on node i mod K
 *   not strict, mask/range/isolate  every thread -> all of S
 *   nothing asked                no thread pinned (the OS places them)
 * where L lists S in ascending order when the user listed CPUs, else one PU
 * per physical core first, then the other PUs (SMT siblings, efficiency
 * cores). K is the number of NUMA nodes in S; with K = 1 (a single-node
 * machine) distribute changes nothing: a documented no-op.
 */
#ifndef CRIA_PARALLEL_AFFINITY_H
#define CRIA_PARALLEL_AFFINITY_H

#include <sched.h>
#include <stddef.h>

#include "cria.h"
#include "parallel/topology.h"

typedef enum cria_numa_mode {
    CRIA_NUMA_NONE = 0,
    CRIA_NUMA_DISTRIBUTE,
    CRIA_NUMA_ISOLATE,
} cria_numa_mode;

/* Parses "distribute", "isolate", "none" or "numactl" (NULL or "": none); CRIA_ERR_ARG otherwise. */
cria_status cria_numa_mode_parse(const char *s, cria_numa_mode *mode, cria_error *err);

/*
 * Plans params over topo. caller_cpu is the CPU the calling thread runs on,
 * for isolate (-1: ask sched_getcpu). Free the result with cria_placement_free.
 */
cria_status cria_placement_build(const cria_topology *topo, const cria_cpu_params *params, int caller_cpu,
                                 cria_placement **out, cria_error *err);

/* CPUs of thread ith (wrapping past n_threads): *cpus points into pl; returns the count (0: not pinned). */
int cria_placement_thread_cpus(const cria_placement *pl, int ith, const int **cpus);

/* NUMA node (OS index) that thread ith runs on, for cria_membind; -1 when not pinned or spanning nodes. */
int cria_placement_thread_node(const cria_placement *pl, int ith);

/*
 * True when the plan places threads at all (the user asked for a mask, a
 * range, strict or a NUMA mode): a pool then restricts its worker 0, the
 * calling thread, to thread 0's CPUs as well (as llama.cpp does with the
 * main thread), since it does its share of every region and all serial work.
 */
int cria_placement_pins_caller(const cria_placement *pl);

/* Restricts the calling thread to the n CPUs listed (n > 0); CRIA_ERR_ARG naming them when the OS refuses. */
cria_status cria_pin_self(const int *cpus, int n, cria_error *err);

/* A CPU_ALLOC'd set of the n CPUs listed (free it with CPU_FREE); *size gets its byte size. NULL: no memory. */
cpu_set_t *cria_cpuset_new(const int *cpus, int n, size_t *size);

#endif
