/*
 * NUMA memory placement for --numa distribute: put the part of a buffer that
 * a thread reads on the node that thread runs on. Linux mbind/get_mempolicy,
 * called directly (no libnuma). On a single-node machine binding to node 0
 * changes nothing: a documented no-op.
 */
#ifndef CRIA_PARALLEL_MEMBIND_H
#define CRIA_PARALLEL_MEMBIND_H

#include <stddef.h>

#include "cria.h"

/*
 * Binds the pages overlapping [addr, addr + len) to NUMA node `node` (its OS
 * index, as cria_placement_thread_node gives) and moves the pages already
 * there that only this process maps. Page-cache pages of a file mapping that
 * other processes share stay where they are ("where the OS allows"); the call
 * still succeeds. CRIA_ERR_ARG for a node the kernel does not know;
 * CRIA_ERR_UNSUPPORTED when the kernel refuses otherwise (no NUMA, EPERM).
 */
cria_status cria_membind(const void *addr, size_t len, int node, cria_error *err);

/* The NUMA node (OS index) of the page holding addr, faulting it in if needed; -1 when the kernel cannot say. */
int cria_mem_node_of(const void *addr);

#endif
