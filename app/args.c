#include "args.h"

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
