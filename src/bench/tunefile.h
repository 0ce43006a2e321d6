/*
 * The tuning file: what `cria tune` found best on one CPU for one model
 * shape (thread counts for prompt and generation, --poll, the outer x inner
 * split for batch throughput, the parallel thresholds) and the table it
 * measured, as JSON. One file per (CPU, shape) key in the tuning folder:
 * $CRIA_TUNE_DIR, else $XDG_CACHE_HOME/cria/tune, else ~/.cache/cria/tune.
 * run, bench, batch and serve look it up after loading a model.
 */
#ifndef CRIA_BENCH_TUNEFILE_H
#define CRIA_BENCH_TUNEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cria.h"
#include "parallel/threshold.h"

#define CRIA_TUNE_VERSION 1
#define CRIA_TUNE_MAX_ROWS 128

/* One measurement of the search, as the table prints it. */
typedef struct cria_tune_row {
    char search[24];  /* "pp threads", "tg threads", "poll", "batch NxT", "matmul", "attention" */
    char setting[32]; /* "2", "50", "2x1", "4096/thread" */
    double value;     /* tokens/s, or for thresholds the parallel speedup over serial */
    char unit[8];     /* "t/s" or "x" */
    bool best;        /* the setting chosen for this search */
} cria_tune_row;

typedef struct cria_tuning {
    char cpu[160];    /* cria_tune_cpu_key */
    char shape[160];  /* cria_tune_shape_key */
    char model[512];  /* the file tuned on (information only) */
    char mode[8];     /* "quick" or "full" */
    char created[32]; /* ISO 8601 UTC */
    double seconds;   /* wall time of the search */
    int32_t n_threads, n_threads_batch; /* -t (generation) and -tb (prompt) */
    int32_t poll;
    int32_t cfg_seq, cfg_threads;       /* best outer x inner for aggregate generation throughput */
    cria_thresholds thresholds;
    int32_t n_rows;
    cria_tune_row rows[CRIA_TUNE_MAX_ROWS];
} cria_tuning;

/* This machine's key: the CPU model name and the CPUs this process may use, e.g. "AMD EPYC, 2 CPUs". */
void cria_tune_cpu_key(char *buf, size_t cap);

/* A model's key: architecture, dimensions and weight type, e.g. "llama v32000 d768 ff2048 l12 h12 kv12 f16". */
void cria_tune_shape_key(const cria_model *model, char *buf, size_t cap);

/*
 * The path of the tuning file for a key in the tuning folder. CRIA_ERR_ARG
 * when no folder can be named (no $CRIA_TUNE_DIR, $XDG_CACHE_HOME or $HOME)
 * or the path is too long.
 */
cria_status cria_tune_path(const char *cpu, const char *shape, char *buf, size_t cap, cria_error *err);

/* "matmul=N,attention=N": thresholds as cria_context_params.thresholds takes them. */
void cria_tune_thresholds_spec(const cria_tuning *t, char *buf, size_t cap);

/* Writes t as JSON to path (through a temporary file and a rename), creating missing folders. */
cria_status cria_tunefile_write(const char *path, const cria_tuning *t, cria_error *err);

/*
 * Reads a tuning file. CRIA_ERR_IO when it cannot be read; CRIA_ERR_FORMAT,
 * naming the fault, when it is not JSON, is of another version, or a field
 * is missing or out of range.
 */
cria_status cria_tunefile_read(const char *path, cria_tuning *t, cria_error *err);

typedef enum cria_tune_found {
    CRIA_TUNE_NONE,    /* no file for this key */
    CRIA_TUNE_LOADED,  /* *t holds it */
    CRIA_TUNE_IGNORED, /* a file is there but unusable (corrupt, or its key differs): why says so */
} cria_tune_found;

/* Looks up the tuning file for (cpu, shape); path gets its name in every case where one could be named. */
cria_tune_found cria_tunefile_lookup(const char *cpu, const char *shape, cria_tuning *t, char *path, size_t cap,
                                     cria_error *why);

/* Prints the measured table and the chosen settings. */
void cria_tuning_print(FILE *f, const cria_tuning *t);

#endif
