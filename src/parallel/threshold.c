#include "parallel/threshold.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

static const char *const op_names[CRIA_OP_COUNT] = {"matmul", "attention"};

cria_thresholds cria_thresholds_default(void)
{
    /*
     * From make bench-kernels on the development machine (docs/benchmarks.md):
     * a region costs ~0.16 us with spinning workers; a matmul of 4096
     * multiply-adds ran 0.92x on two threads, 16384 per thread 1.57x.
     * Attention's work counts its per-cell cost (threshold.h). Since the
     * register tiles and the blocked attention kernels, stories260K tg128 at
     * 2 threads against 1 (medians of 8 alternating rounds): both thresholds
     * at 16384 1.00x, at 8192 1.12x, at 4096 1.07x; so 8192 per thread,
     * about half a microsecond of work.
     */
    cria_thresholds t = {.min_work = {[CRIA_OP_MATMUL] = 8192, [CRIA_OP_ATTENTION] = 8192}};
    return t;
}

const char *cria_op_name(cria_op op)
{
    return (unsigned)op < CRIA_OP_COUNT ? op_names[op] : "?";
}

cria_status cria_thresholds_parse(cria_thresholds *t, const char *spec, cria_error *err)
{
    cria_thresholds out = *t;
    const char *p = spec;
    while (*p) {
        const char *eq = strchr(p, '=');
        if (!eq)
            return cria_err_set(err, CRIA_ERR_ARG, "thresholds '%s': expected op=N", spec);
        int op = -1;
        for (int i = 0; i < CRIA_OP_COUNT; i++) {
            if (strlen(op_names[i]) == (size_t)(eq - p) && strncmp(p, op_names[i], (size_t)(eq - p)) == 0)
                op = i;
        }
        if (op < 0)
            return cria_err_set(err, CRIA_ERR_ARG, "thresholds '%s': unknown op '%.*s' (matmul, attention)", spec,
                                (int)(eq - p), p);
        char *end;
        errno = 0;
        long long v = strtoll(eq + 1, &end, 10);
        if (errno || end == eq + 1 || v < 1 || (*end && *end != ','))
            return cria_err_set(err, CRIA_ERR_ARG, "thresholds '%s': bad value for %s", spec, op_names[op]);
        out.min_work[op] = v;
        p = *end ? end + 1 : end;
    }
    *t = out;
    return CRIA_OK;
}
