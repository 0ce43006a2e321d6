#include "args.h"

#include <string.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void cria_app_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool cria_arg_str(int argc, char **argv, int *i, const char **out)
{
    if (*i + 1 >= argc) {
        cria_app_error("option %s needs a value", argv[*i]);
        return false;
    }
    *out = argv[++*i];
    return true;
}

bool cria_arg_i64(int argc, char **argv, int *i, int64_t lo, int64_t hi, int64_t *out)
{
    const char *opt = argv[*i], *s;
    if (!cria_arg_str(argc, argv, i, &s))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) {
        cria_app_error("option %s expects an integer, got '%s'", opt, s);
        return false;
    }
    if (v < lo || v > hi) {
        cria_app_error("option %s: %lld is out of range %lld..%lld", opt, v, (long long)lo, (long long)hi);
        return false;
    }
    *out = v;
    return true;
}

bool cria_arg_i32(int argc, char **argv, int *i, int32_t lo, int32_t hi, int32_t *out)
{
    int64_t v;
    if (!cria_arg_i64(argc, argv, i, lo, hi, &v))
        return false;
    *out = (int32_t)v;
    return true;
}

bool cria_arg_f32(int argc, char **argv, int *i, float lo, float hi, float *out)
{
    const char *opt = argv[*i], *s;
    if (!cria_arg_str(argc, argv, i, &s))
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || isnan(v)) {
        cria_app_error("option %s expects a number, got '%s'", opt, s);
        return false;
    }
    if (v < (double)lo || v > (double)hi) {
        cria_app_error("option %s: %g is out of range %g..%g", opt, v, (double)lo, (double)hi);
        return false;
    }
    *out = (float)v;
    return true;
}

bool cria_cpu_arg(int argc, char **argv, int *i, cria_cpu_params *cpu, bool *ok)
{
    const char *a = argv[*i];
    if (!strcmp(a, "-C") || !strcmp(a, "--cpu-mask"))
        *ok = cria_arg_str(argc, argv, i, &cpu->cpu_mask);
    else if (!strcmp(a, "-Cr") || !strcmp(a, "--cpu-range"))
        *ok = cria_arg_str(argc, argv, i, &cpu->cpu_range);
    else if (!strcmp(a, "--cpu-strict"))
        *ok = cria_arg_i32(argc, argv, i, 0, 1, &cpu->strict);
    else if (!strcmp(a, "--prio"))
        *ok = cria_arg_i32(argc, argv, i, -1, 3, &cpu->prio);
    else if (!strcmp(a, "--numa"))
        *ok = cria_arg_str(argc, argv, i, &cpu->numa);
    else
        return false;
    return true;
}

void cria_cpu_usage(FILE *f)
{
    fprintf(f, "  -C, --cpu-mask HEX     CPUs the threads may use, a hex mask of any length (bit i = CPU i)\n"
               "  -Cr, --cpu-range A-B   CPUs A..B, added to the mask\n"
               "      --cpu-strict 0|1   1: thread i pinned to the i-th selected CPU (default 0: threads float)\n"
               "      --prio N           -1 low, 0 normal (default), 1 medium, 2 high, 3 realtime\n"
               "      --numa MODE        distribute: threads spread over NUMA nodes, each node's share of the\n"
               "                         weight rows bound to it; isolate: all on this thread's node; none\n"
               "                         (default; one node: both do nothing)\n");
}
