/* NUMA memory placement through the mbind and get_mempolicy system calls. */
#include "parallel/membind.h"

#include <errno.h>
#include <linux/mempolicy.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/error.h"

enum { MAX_NODES = 1024, LONG_BITS = 8 * sizeof(unsigned long) };

cria_status cria_membind(const void *addr, size_t len, int node, cria_error *err)
{
    if (node < 0 || node >= MAX_NODES)
        return cria_err_set(err, CRIA_ERR_ARG, "NUMA node %d is out of range 0..%d", node, MAX_NODES - 1);
    if (len == 0)
        return CRIA_OK;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t lo = (uintptr_t)addr & ~(page - 1), hi = (uintptr_t)addr + len;
    unsigned long mask[MAX_NODES / LONG_BITS];
    memset(mask, 0, sizeof mask);
    mask[(size_t)node / LONG_BITS] = 1UL << ((size_t)node % LONG_BITS);
    /* maxnode counts one more than the mask's bits: the kernel reads maxnode - 1 of them. */
    if (syscall(SYS_mbind, lo, hi - lo, MPOL_BIND, mask, (unsigned long)MAX_NODES + 1, MPOL_MF_MOVE) != 0) {
        int e = errno;
        return cria_err_set(err, e == EINVAL ? CRIA_ERR_ARG : CRIA_ERR_UNSUPPORTED,
                            "cannot bind %zu bytes to NUMA node %d: %s", len, node, strerror(e));
    }
    return CRIA_OK;
}

int cria_mem_node_of(const void *addr)
{
    int node = -1;
    if (syscall(SYS_get_mempolicy, &node, NULL, 0UL, addr, (unsigned long)(MPOL_F_NODE | MPOL_F_ADDR)) != 0)
        return -1;
    return node;
}
