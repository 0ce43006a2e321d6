/*
 * The machine probe behind cria bench's system header: what the CPU is
 * (/proc/cpuinfo, hwloc cores, SIMD level, governor, /proc/meminfo) and the
 * two limits every result is set against, measured in well under a second:
 * memory read bandwidth (a 256 MiB buffer summed by every physical core,
 * best of five) for token generation, and peak f32 FMA throughput (a loop
 * on registers) for prompt processing.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "base/cpu.h"
#include "base/error.h"
#include "bench/bench.h"
#include "bench/probe_isa.h"
#include "parallel/pool.h"
#include "parallel/topology.h"

#define PROBE_MAX_THREADS 256
#define PROBE_BUF_MAX ((size_t)256 << 20)
#define PROBE_BUF_MIN ((size_t)16 << 20)
#define PROBE_FMA_ITERS 1000000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Scalar twins of the ISA loops: eight chains of multiply-add, eight 64-bit sums. */
static float fma_scalar(int64_t iters, double *flops)
{
    float c[8] = {1.00f, 1.01f, 1.02f, 1.03f, 1.04f, 1.05f, 1.06f, 1.07f}; /* distinct: not merged */
    const float m = 0.999999f, a = 1e-7f;
    for (int64_t i = 0; i < iters; i++)
        for (int j = 0; j < 8; j++)
            c[j] = c[j] * m + a;
    *flops = (double)iters * 8.0 * 2.0;
    return c[0] + c[1] + c[2] + c[3] + c[4] + c[5] + c[6] + c[7];
}

static uint64_t read_scalar(const void *p, size_t n)
{
    const uint64_t *v = p;
    uint64_t s[8] = {0};
    for (size_t i = 0; i < n / 8; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += v[i + (size_t)j];
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

typedef struct probe_job {
    cria_probe_fma_fn fma;
    cria_probe_read_fn read;
    unsigned char *buf;
    size_t size;
    double flops[PROBE_MAX_THREADS];
    uint64_t sum[PROBE_MAX_THREADS];
    float sink[PROBE_MAX_THREADS];
} probe_job;

/* Each thread reads its own contiguous slice (512-byte multiples: the read loops' unit). */
static void slice(const probe_job *j, int ith, int nth, size_t *off, size_t *len)
{
    long lo, hi;
    cria_split_range((long)(j->size / 512), ith, nth, &lo, &hi);
    *off = (size_t)lo * 512;
    *len = (size_t)(hi - lo) * 512;
}

/* First touch by the thread that will read the slice (its NUMA node). */
static void task_touch(void *arg, int ith, int nth)
{
    probe_job *j = arg;
    size_t off, len;
    slice(j, ith, nth, &off, &len);
    memset(j->buf + off, (int)(ith * 37 + 1), len);
}

static void task_read(void *arg, int ith, int nth)
{
    probe_job *j = arg;
    size_t off, len;
    slice(j, ith, nth, &off, &len);
    j->sum[ith] += j->read(j->buf + off, len);
}

static void task_fma(void *arg, int ith, int nth)
{
    (void)nth;
    probe_job *j = arg;
    j->sink[ith] += j->fma(PROBE_FMA_ITERS, &j->flops[ith]);
}

/* Best GB/s over reps passes of the whole buffer on nth threads. */
static double best_bandwidth(cria_pool *pool, probe_job *j, int nth, int reps)
{
    double best = 0.0;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        cria_pool_run(pool, nth, task_read, j);
        double gbs = (double)j->size / (now_s() - t0) / 1e9;
        best = gbs > best ? gbs : best;
    }
    return best;
}

/* Best GFLOP/s over reps rounds of the FMA loop on nth threads. */
static double best_gflops(cria_pool *pool, probe_job *j, int nth, int reps)
{
    double best = 0.0;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        cria_pool_run(pool, nth, task_fma, j);
        double dt = now_s() - t0, flops = 0.0;
        for (int i = 0; i < nth; i++)
            flops += j->flops[i];
        best = flops / dt / 1e9 > best ? flops / dt / 1e9 : best;
    }
    return best;
}

/* Copies the value after "key" and a colon on the first matching line of a /proc file; false if none. */
static bool proc_field(const char *path, const char *key, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    const size_t kl = strlen(key);
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) != 0)
            continue;
        const char *c = strchr(line + kl, ':');
        if (!c)
            continue;
        c++;
        while (*c == ' ' || *c == '\t')
            c++;
        size_t n = strcspn(c, "\n");
        n = n < cap - 1 ? n : cap - 1;
        memcpy(out, c, n);
        out[n] = '\0';
        found = true;
    }
    fclose(f);
    return found;
}

static double meminfo_gib(const char *key)
{
    char v[64];
    if (!proc_field("/proc/meminfo", key, v, sizeof v))
        return 0.0;
    return strtod(v, NULL) / (1024.0 * 1024.0); /* the file says kB */
}

static void read_governor(char *out, size_t cap)
{
    snprintf(out, cap, "n/a");
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "r");
    if (!f)
        return;
    char line[64];
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] && strlen(line) < cap)
            memcpy(out, line, strlen(line) + 1);
    }
    fclose(f);
}

cria_status cria_bench_probe(cria_bench_system *sys, cria_error *err)
{
    const double t0 = now_s();
    memset(sys, 0, sizeof *sys);
    if (!proc_field("/proc/cpuinfo", "model name", sys->cpu_model, sizeof sys->cpu_model))
        snprintf(sys->cpu_model, sizeof sys->cpu_model, "unknown");
    cria_topology *topo = NULL;
    cria_status st = cria_topology_load(&topo, err);
    if (st != CRIA_OK)
        return st;
    sys->n_physical = cria_topology_n_physical(topo);
    sys->n_logical = cria_topology_n_logical(topo);
    cria_topology_free(topo);
    const cria_isa isa = cria_isa_active();
    snprintf(sys->isa, sizeof sys->isa, "%s", cria_isa_name(isa));
    read_governor(sys->governor, sizeof sys->governor);
    sys->mem_total_gib = meminfo_gib("MemTotal");
    sys->mem_avail_gib = meminfo_gib("MemAvailable");

    probe_job *j = calloc(1, sizeof *j);
    if (!j)
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for the machine probe");
    j->fma = isa == CRIA_ISA_AVX512 ? cria_probe_fma_avx512
             : isa == CRIA_ISA_AVX2 ? cria_probe_fma_avx2
                                    : fma_scalar;
    j->read = isa == CRIA_ISA_AVX512 ? cria_probe_read_avx512
              : isa == CRIA_ISA_AVX2 ? cria_probe_read_avx2
                                     : read_scalar;
    /* The buffer: 256 MiB (far past any cache), less when a quarter of free memory is smaller. */
    size_t size = PROBE_BUF_MAX;
    const double quarter = sys->mem_avail_gib * 1024.0 * 1024.0 * 1024.0 / 4.0;
    if (quarter > 0.0 && quarter < (double)size)
        size = (size_t)quarter > PROBE_BUF_MIN ? ((size_t)quarter & ~(PROBE_BUF_MIN - 1)) : PROBE_BUF_MIN;
    j->size = size;
    /* 2 MiB aligned and marked for huge pages: 128 faults to fill it instead of 65536 (most of the probe's time). */
    j->buf = aligned_alloc(PROBE_BUF_MIN, size);
    if (j->buf)
        madvise(j->buf, size, MADV_HUGEPAGE);
    int nth = sys->n_physical > 0 ? sys->n_physical : 1;
    nth = nth < PROBE_MAX_THREADS ? nth : PROBE_MAX_THREADS;
    cria_pool *pool = NULL;
    if (!j->buf) {
        st = cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for the %zu MiB bandwidth probe", size >> 20);
    } else if ((st = cria_pool_init(nth, &pool, err)) == CRIA_OK) {
        cria_pool_run(pool, nth, task_touch, j);
        /* Best of five: on a shared machine a pass that lost its core to another process is common. */
        sys->bw_gbs = best_bandwidth(pool, j, nth, 5);
        sys->bw_gbs_1t = best_bandwidth(pool, j, 1, 5);
        sys->gflops_1t = best_gflops(pool, j, 1, 5);
        sys->gflops = nth > 1 ? best_gflops(pool, j, nth, 5) : sys->gflops_1t;
        cria_pool_free(pool);
    }
    free(j->buf);
    free(j);
    sys->probe_ms = (now_s() - t0) * 1e3;
    return st;
}

/*
 * Token generation reads every weight once per token: its limit is the
 * bandwidth (one thread's when the test runs on one). Prompt processing is
 * compute: the per-thread FMA peak times the threads, up to the cores.
 */
double cria_bench_limit(const cria_bench_system *sys, const cria_bench_test *t)
{
    const int32_t cores = sys->n_physical > 0 ? sys->n_physical : 1;
    const int32_t all = t->n_threads * (t->n_seq > 1 ? t->n_seq : 1);
    const int32_t nth = all < cores ? all : cores;
    if (t->n_prompt == 0)
        return nth <= 1 ? sys->bw_gbs_1t : sys->bw_gbs;
    return sys->gflops_1t * nth;
}
