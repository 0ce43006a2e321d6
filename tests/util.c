#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

const char *test_shared(const char *rel)
{
    static char bufs[8][4096];
    static unsigned slot;
    const char *base = getenv("CRIA_SHARED");
    char *buf = bufs[slot++ % 8];
    snprintf(buf, sizeof bufs[0], "%s/%s", base && *base ? base : "../shared", rel);
    return buf;
}

bool test_have(const char *rel)
{
    struct stat st;
    return stat(test_shared(rel), &st) == 0;
}

char *test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (size)
        *size = n;
    return buf;
}

bool test_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

const char *test_tmp_path(const char *suffix)
{
    static char bufs[8][512];
    static unsigned slot, counter;
    const char *dir = getenv("TMPDIR");
    char *buf = bufs[slot++ % 8];
    snprintf(buf, sizeof bufs[0], "%s/cria-test-%d-%u%s", dir && *dir ? dir : "/tmp", (int)getpid(),
             counter++, suffix ? suffix : "");
    return buf;
}

int test_run_cria(const char *args, char **out, char **err)
{
    const char *bin = getenv("CRIA_BIN");
    /* cria loads tuning files (cria tune): outside the test runner, which gives an empty folder, point at none. */
    setenv("CRIA_TUNE_DIR", "/nonexistent/cria-tests-no-tuning", 0);
    const char *o = test_tmp_path(".out"), *e = test_tmp_path(".err");
    char outp[512], errp[512];
    snprintf(outp, sizeof outp, "%s", o);
    snprintf(errp, sizeof errp, "%s", e);
    size_t len = strlen(args) + 2048;
    char *cmd = malloc(len);
    if (!cmd)
        return -1;
    snprintf(cmd, len, "timeout 120 %s %s </dev/null >%s 2>%s", bin && *bin ? bin : "build/cria", args, outp,
             errp);
    int st = system(cmd);
    free(cmd);
    if (out)
        *out = test_read_file(outp, NULL);
    if (err)
        *err = test_read_file(errp, NULL);
    unlink(outp);
    unlink(errp);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

double test_nmse(const float *ref, const float *got, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)ref[i] - (double)got[i];
        num += d * d;
        den += (double)ref[i] * (double)ref[i];
    }
    return den > 0 ? num / den : num;
}

void test_assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle)) {
        print_error("expected \"%s\" in:\n%s\n", needle, hay ? hay : "(null)");
        fail();
    }
}

void test_check_bits(uint32_t got, uint32_t want, const char *what, long i)
{
    if (got != want) {
        print_error("%s [%ld]: got 0x%08x, want 0x%08x\n", what, i, (unsigned)got, (unsigned)want);
        fail();
    }
}

uint32_t test_rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

float test_rng_float(uint32_t *s)
{
    return (float)(test_rng_next(s) >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
}
