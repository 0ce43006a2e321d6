/* The progress line of cria quantize and cria synth on stderr: percent done and the tensor being written. */
#ifndef CRIA_APP_QUANT_PROGRESS_H
#define CRIA_APP_QUANT_PROGRESS_H

#include <stdint.h>

#include "quant/quantize_model.h"

typedef struct cria_app_progress {
    const char *verb; /* "quantize", "synth" */
    int last_pct;     /* -1 before the first line */
    int64_t last_us;
} cria_app_progress;

/* A cria_quant_progress_fn; ctx is a cria_app_progress. At most five updates a second, and always the last. */
void cria_app_progress_print(void *ctx, uint64_t done, uint64_t total, const cria_qtensor *t);

/* Ends the line if one was printed. */
void cria_app_progress_end(cria_app_progress *p);

/* The machine's physical cores (the default thread count), 1 when they cannot be read. */
int cria_app_physical_cores(void);

#endif
