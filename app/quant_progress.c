#include "quant_progress.h"

#include <stdio.h>

#include "cria.h"
#include "parallel/topology.h"

void cria_app_progress_print(void *ctx, uint64_t done, uint64_t total, const cria_qtensor *t)
{
    cria_app_progress *p = ctx;
    int pct = total ? (int)(100.0 * (double)done / (double)total) : 100;
    int64_t now = cria_time_us();
    if (pct == p->last_pct || (done < total && now - p->last_us < 200000))
        return;
    p->last_pct = pct;
    p->last_us = now;
    fprintf(stderr, "\r%s: %3d%% %-40s %-6s", p->verb, pct, t->name, cria_dtype_name(t->type));
    fflush(stderr);
}

void cria_app_progress_end(cria_app_progress *p)
{
    if (p->last_pct >= 0)
        fputc('\n', stderr);
    p->last_pct = -1;
}

int cria_app_physical_cores(void)
{
    cria_topology *topo = NULL;
    cria_error err;
    int n = 1;
    if (cria_topology_load(&topo, &err) == CRIA_OK) {
        n = cria_topology_n_physical(topo);
        cria_topology_free(topo);
    }
    return n > 0 ? n : 1;
}
