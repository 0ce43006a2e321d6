#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vocab_cases.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void ref_load(const char *rel, ref_cases *rc)
{
    char inp[256], out[256];
    snprintf(inp, sizeof inp, "%s.inp", rel);
    snprintf(out, sizeof out, "%s.out", rel);
    memset(rc, 0, sizeof *rc);
    size_t n_inp, n_out;
    rc->inp = test_read_file(test_shared(inp), &n_inp);
    rc->outp = test_read_file(test_shared(out), &n_out);
    assert_non_null(rc->inp);
    assert_non_null(rc->outp);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    size_t sep_len = sizeof sep - 1;
    rc->c = calloc(1024, sizeof *rc->c);
    assert_non_null(rc->c);
    size_t pos = 0;
    while (pos < n_inp) {
        assert_true(rc->n < 1024);
        char *hit = strstr(rc->inp + pos, sep);
        size_t end = hit ? (size_t)(hit - rc->inp) : n_inp;
        rc->c[rc->n].text = rc->inp + pos;
        rc->c[rc->n].len = end - pos;
        rc->n++;
        if (!hit)
            break;
        pos = end + sep_len;
    }
    int line = 0;
    char *p = rc->outp;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        assert_true(line < rc->n);
        ref_case *c = &rc->c[line++];
        c->ids = malloc((strlen(p) / 2 + 1) * sizeof *c->ids);
        assert_non_null(c->ids);
        char *q = p, *e;
        for (;;) {
            long val = strtol(q, &e, 10);
            if (e == q)
                break;
            c->ids[c->n_ids++] = (cria_token)val;
            q = e;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    assert_int_equal(line, rc->n);
}

void ref_free(ref_cases *rc)
{
    for (int i = 0; i < rc->n; i++)
        free(rc->c[i].ids);
    free(rc->c);
    free(rc->inp);
    free(rc->outp);
}
