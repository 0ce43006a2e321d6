/*
 * The sampler chain: each sampler against probabilities computed by hand on
 * small distributions (both the reference and the optimised path), the edge
 * cases (k above the vocabulary, p = 1, equal logits, -inf logits, a single
 * candidate, an empty history), the chain order and its parser, and the
 * optimised paths against the naive reference on random logits at 32000,
 * 128256 and 151936 tokens.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cria.h"
#include "util.h"

#define TOL 1e-5

/* ---- helpers ---------------------------------------------------------------- */

typedef struct arr {
    cria_token_data d[64];
    cria_token_data_array a;
} arr;

/* Candidates with logits log(p[i]) (p may be unnormalised; 0 gives -inf), ids 0..n-1, unsorted. */
static void from_probs(arr *x, const float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x->d[i] = (cria_token_data){.id = (cria_token)i, .logit = logf(p[i]), .p = 0.0f};
    x->a = (cria_token_data_array){.data = x->d, .size = n, .selected = -1, .sorted = 0};
}

static void from_logits(arr *x, const float *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x->d[i] = (cria_token_data){.id = (cria_token)i, .logit = l[i], .p = 0.0f};
    x->a = (cria_token_data_array){.data = x->d, .size = n, .selected = -1, .sorted = 0};
}

static int by_logit_desc(const void *a, const void *b)
{
    const cria_token_data *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit < y->logit ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Sorts by logit (descending, ties by id) and sets p to the softmax, in double. */
static void normalise(cria_token_data_array *a)
{
    qsort(a->data, a->size, sizeof *a->data, by_logit_desc);
    double max = a->size ? (double)a->data[0].logit : 0.0, sum = 0.0;
    for (size_t i = 0; i < a->size; i++)
        sum += a->data[i].logit == -INFINITY ? 0.0 : exp((double)a->data[i].logit - max);
    for (size_t i = 0; i < a->size; i++)
        a->data[i].p = a->data[i].logit == -INFINITY ? 0.0f : (float)(exp((double)a->data[i].logit - max) / sum);
}

static void expect_probs(cria_token_data_array *a, const double *want, size_t n, const char *what)
{
    normalise(a);
    if (a->size != n) {
        print_error("%s: %zu candidates left, want %zu\n", what, a->size, n);
        fail();
    }
    for (size_t i = 0; i < n; i++) {
        if (fabs((double)a->data[i].p - want[i]) > TOL) {
            print_error("%s: p[%zu] = %f, want %f\n", what, i, (double)a->data[i].p, want[i]);
            fail();
        }
    }
}

/* Applies s (freed here) to probabilities p in both modes and checks the normalised result. */
static void check(cria_sampler *(*make)(const void *), const void *arg, const float *p, size_t n,
                  const double *want, size_t n_want, const char *what)
{
    for (int ref = 0; ref < 2; ref++) {
        cria_sampler *s = make(arg);
        assert_non_null(s);
        cria_sampler_set_reference(s, ref);
        arr x;
        from_probs(&x, p, n);
        cria_sampler_apply(s, &x.a);
        char buf[128];
        snprintf(buf, sizeof buf, "%s (%s)", what, ref ? "reference" : "optimised");
        expect_probs(&x.a, want, n_want, buf);
        cria_sampler_free(s);
    }
}

typedef struct kp {
    int32_t k;
    float p, t;
    size_t min_keep;
} kp;

static cria_sampler *mk_top_k(const void *a) { return cria_sampler_init_top_k(((const kp *)a)->k); }
static cria_sampler *mk_top_p(const void *a) { return cria_sampler_init_top_p(((const kp *)a)->p, ((const kp *)a)->min_keep); }
static cria_sampler *mk_min_p(const void *a) { return cria_sampler_init_min_p(((const kp *)a)->p, ((const kp *)a)->min_keep); }
static cria_sampler *mk_typical(const void *a) { return cria_sampler_init_typical(((const kp *)a)->p, ((const kp *)a)->min_keep); }
static cria_sampler *mk_temp(const void *a) { return cria_sampler_init_temp(((const kp *)a)->t); }
static cria_sampler *mk_sigma(const void *a) { return cria_sampler_init_top_n_sigma(((const kp *)a)->p); }
static cria_sampler *mk_xtc(const void *a) { return cria_sampler_init_xtc(1.0f, ((const kp *)a)->t, ((const kp *)a)->min_keep, 7); }
static cria_sampler *mk_dynatemp(const void *a) { return cria_sampler_init_temp_ext(((const kp *)a)->t, ((const kp *)a)->p, 1.0f); }

static const float P4[4] = {0.1f, 0.2f, 0.3f, 0.4f};

/* ---- hand-computed distributions ----------------------------------------------- */

static void test_top_k(void **state)
{
    (void)state;
    check(mk_top_k, &(kp){.k = 1}, P4, 4, (double[]){1.0}, 1, "top-k 1");
    check(mk_top_k, &(kp){.k = 3}, P4, 4, (double[]){0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9}, 3, "top-k 3");
    check(mk_top_k, &(kp){.k = 4}, P4, 4, (double[]){0.4, 0.3, 0.2, 0.1}, 4, "top-k 4");
    check(mk_top_k, &(kp){.k = 10}, P4, 4, (double[]){0.4, 0.3, 0.2, 0.1}, 4, "top-k above the vocabulary");
    check(mk_top_k, &(kp){.k = 0}, P4, 4, (double[]){0.4, 0.3, 0.2, 0.1}, 4, "top-k 0 (off)");
    /* equal logits: ties go to the smaller id */
    for (int ref = 0; ref < 2; ref++) {
        arr x;
        from_probs(&x, (float[]){0.25f, 0.25f, 0.25f, 0.25f}, 4);
        cria_sampler *s = cria_sampler_init_top_k(2);
        cria_sampler_set_reference(s, ref);
        cria_sampler_apply(s, &x.a);
        assert_int_equal(x.a.size, 2);
        assert_int_equal(x.a.data[0].id, 0);
        assert_int_equal(x.a.data[1].id, 1);
        cria_sampler_free(s);
    }
}

static void test_top_p(void **state)
{
    (void)state;
    check(mk_top_p, &(kp){.p = 0.0f}, P4, 4, (double[]){1.0}, 1, "top-p 0");
    check(mk_top_p, &(kp){.p = 0.7f}, P4, 4, (double[]){0.571429, 0.428571}, 2, "top-p 0.7");
    check(mk_top_p, &(kp){.p = 0.8f}, P4, 4, (double[]){0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9}, 3, "top-p 0.8");
    check(mk_top_p, &(kp){.p = 1.0f}, P4, 4, (double[]){0.4, 0.3, 0.2, 0.1}, 4, "top-p 1 (off)");
    check(mk_top_p, &(kp){.p = 0.0f, .min_keep = 3}, P4, 4, (double[]){0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9}, 3,
          "top-p 0 min_keep 3");
    check(mk_top_p, &(kp){.p = 0.5f}, (float[]){0.25f, 0.25f, 0.25f, 0.25f}, 4, (double[]){0.5, 0.5}, 2,
          "top-p 0.5 on equal logits");
}

static void test_min_p(void **state)
{
    (void)state;
    check(mk_min_p, &(kp){.p = 0.76f}, P4, 4, (double[]){1.0}, 1, "min-p 0.76");
    check(mk_min_p, &(kp){.p = 0.74f}, P4, 4, (double[]){0.571429, 0.428571}, 2, "min-p 0.74");
    check(mk_min_p, &(kp){.p = 0.5f}, P4, 4, (double[]){0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9}, 3, "min-p 0.5");
    check(mk_min_p, &(kp){.p = 1.0f}, P4, 4, (double[]){1.0}, 1, "min-p 1");
    check(mk_min_p, &(kp){.p = 0.0f}, P4, 4, (double[]){0.4, 0.3, 0.2, 0.1}, 4, "min-p 0 (off)");
    check(mk_min_p, &(kp){.p = 0.76f, .min_keep = 2}, P4, 4, (double[]){0.571429, 0.428571}, 2, "min-p min_keep 2");
    check(mk_min_p, &(kp){.p = 0.9f}, (float[]){0.25f, 0.25f, 0.25f, 0.25f}, 4,
          (double[]){0.25, 0.25, 0.25, 0.25}, 4, "min-p on equal logits");
}

static void test_typical(void **state)
{
    (void)state;
    check(mk_typical, &(kp){.p = 0.5f}, (float[]){0.97f, 0.01f, 0.01f, 0.01f}, 4, (double[]){1.0}, 1, "typical 0.97");
    /* H = 1.3322; |-ln 0.2 - H| = 0.277 < |-ln 0.4 - H| = 0.416: the three 0.2s come first */
    check(mk_typical, &(kp){.p = 0.5f}, (float[]){0.4f, 0.2f, 0.2f, 0.2f}, 4, (double[]){1 / 3.0, 1 / 3.0, 1 / 3.0},
          3, "typical 0.5");
    check(mk_typical, &(kp){.p = 1.0f}, P4, 4, (double[]){0.4, 0.3, 0.2, 0.1}, 4, "typical 1 (off)");
}

static void test_temperature(void **state)
{
    (void)state;
    /* temp 0.5 squares the probabilities */
    check(mk_temp, &(kp){.t = 0.5f}, P4, 4, (double[]){0.16 / 0.3, 0.09 / 0.3, 0.04 / 0.3, 0.01 / 0.3}, 4, "temp 0.5");
    check(mk_temp, &(kp){.t = 1.0f}, P4, 4, (double[]){0.4, 0.3, 0.2, 0.1}, 4, "temp 1");
    check(mk_temp, &(kp){.t = 0.0f}, P4, 4, (double[]){1.0, 0.0, 0.0, 0.0}, 4, "temp 0");
    /* dynamic: temp 1 +- 1, exponent 1: T = 2 H / ln 4 */
    const double h = -(0.1 * log(0.1) + 0.2 * log(0.2) + 0.3 * log(0.3) + 0.4 * log(0.4));
    const double t = 2.0 * h / log(4.0);
    double w[4], sum = 0.0;
    for (int i = 0; i < 4; i++)
        sum += (w[i] = pow(0.4 - 0.1 * i, 1.0 / t));
    for (int i = 0; i < 4; i++)
        w[i] /= sum;
    check(mk_dynatemp, &(kp){.t = 1.0f, .p = 1.0f}, P4, 4, w, 4, "dynamic temperature");
    check(mk_dynatemp, &(kp){.t = 1.0f, .p = 1.0f}, (float[]){1.0f}, 1, (double[]){1.0}, 1,
          "dynamic temperature, one candidate");
}

static void test_top_n_sigma(void **state)
{
    (void)state;
    /* logits 1..4: mean 2.5, sd 1.118; n = 1 keeps logits >= 2.882 */
    const float pe[4] = {expf(1.0f), expf(2.0f), expf(3.0f), expf(4.0f)};
    const double e = exp(1.0);
    check(mk_sigma, &(kp){.p = 1.0f}, pe, 4, (double[]){e / (1 + e), 1 / (1 + e), 0.0, 0.0}, 4,
          "top-n-sigma 1 (masked tokens stay, at -inf)");
    const double z = 1 + e + e * e + e * e * e;
    check(mk_sigma, &(kp){.p = 3.0f}, pe, 4, (double[]){e * e * e / z, e * e / z, e / z, 1 / z}, 4, "top-n-sigma 3");
    check(mk_sigma, &(kp){.p = -1.0f}, pe, 4, (double[]){e * e * e / z, e * e / z, e / z, 1 / z}, 4,
          "top-n-sigma off");
}

static void test_xtc(void **state)
{
    (void)state;
    check(mk_xtc, &(kp){.t = 0.1f}, P4, 4, (double[]){1.0}, 1, "xtc threshold 0.1");
    check(mk_xtc, &(kp){.t = 0.25f}, P4, 4, (double[]){0.5, 1 / 3.0, 1 / 6.0}, 3, "xtc threshold 0.25");
    check(mk_xtc, &(kp){.t = 0.6f}, P4, 4, (double[]){0.4, 0.3, 0.2, 0.1}, 4, "xtc threshold above 0.5 (off)");
    check(mk_xtc, &(kp){.t = 0.1f, .min_keep = 2}, P4, 4, (double[]){0.4, 0.3, 0.2, 0.1}, 4, "xtc min_keep 2");
}

/* Accepts history[] into a fresh sampler (both modes) and checks the result on probabilities p. */
static void check_history(cria_sampler *(*make)(void), const cria_token *hist, size_t n_hist, const float *p,
                          size_t n, const double *want, const char *what)
{
    for (int ref = 0; ref < 2; ref++) {
        cria_sampler *s = make();
        assert_non_null(s);
        cria_sampler_set_reference(s, ref);
        for (size_t i = 0; i < n_hist; i++)
            cria_sampler_accept(s, hist[i]);
        arr x;
        from_probs(&x, p, n);
        cria_sampler_apply(s, &x.a);
        /* results are compared by id, not by rank */
        normalise(&x.a);
        for (size_t i = 0; i < n; i++) {
            const cria_token_data *t = &x.a.data[i];
            if (fabs((double)t->p - want[t->id]) > TOL) {
                print_error("%s (%s): p[id %d] = %f, want %f\n", what, ref ? "reference" : "optimised", t->id,
                            (double)t->p, want[t->id]);
                fail();
            }
        }
        cria_sampler_free(s);
    }
}

static cria_sampler *mk_rep(void) { return cria_sampler_init_penalties(5, 64, 50.0f, 0.0f, 0.0f); }
static cria_sampler *mk_freq(void) { return cria_sampler_init_penalties(5, 64, 1.0f, 1.0f, 0.5f); }
static cria_sampler *mk_ring(void) { return cria_sampler_init_penalties(5, 2, 1.0f, 1.0f, 0.5f); }

static void test_penalties(void **state)
{
    (void)state;
    const float u5[5] = {0.2f, 0.2f, 0.2f, 0.2f, 0.2f};
    /* repeat 50 on a negative logit multiplies it: token 0 is all but gone */
    check_history(mk_rep, (cria_token[]){0}, 1, u5, 5, (double[]){0.0, 0.25, 0.25, 0.25, 0.25}, "repeat penalty");
    /* freq 1, presence 0.5: token 0 (twice) -2.5, token 1 (once) -1.5 */
    const double a = exp(-2.5), b = exp(-1.5), z = a + b + 3.0;
    check_history(mk_freq, (cria_token[]){0, 0, 1}, 3, u5, 5, (double[]){a / z, b / z, 1 / z, 1 / z, 1 / z},
                  "frequency and presence penalties");
    /* a window of 2: only tokens 2 and 1 of 0 0 1 2 count */
    check_history(mk_ring, (cria_token[]){0, 0, 1, 2}, 4, u5, 5,
                  (double[]){1 / (3 + 2 * b), b / (3 + 2 * b), b / (3 + 2 * b), 1 / (3 + 2 * b), 1 / (3 + 2 * b)},
                  "penalties ring buffer");
    check_history(mk_freq, NULL, 0, u5, 5, (double[]){0.2, 0.2, 0.2, 0.2, 0.2}, "penalties, empty history");
    /* the sign rule on raw logits: positive divided, negative multiplied */
    for (int ref = 0; ref < 2; ref++) {
        cria_sampler *s = cria_sampler_init_penalties(3, 64, 2.0f, 0.0f, 0.0f);
        cria_sampler_set_reference(s, ref);
        cria_sampler_accept(s, 0);
        cria_sampler_accept(s, 1);
        arr x;
        from_logits(&x, (float[]){1.0f, -1.0f, 2.0f}, 3);
        cria_sampler_apply(s, &x.a);
        assert_float_equal(x.d[0].logit, 0.5f, 1e-6f);
        assert_float_equal(x.d[1].logit, -2.0f, 1e-6f);
        assert_float_equal(x.d[2].logit, 2.0f, 1e-6f);
        cria_sampler_free(s);
    }
}

static const cria_token BRK_3[] = {3}, BRK_2[] = {2}, BRK_32[] = {3, 2};
static const cria_token *brk_list;
static size_t brk_len;

static cria_sampler *mk_dry(void)
{
    return cria_sampler_init_dry_tokens(4, 1024, 1.0f, 1.1f, 2, -1, brk_list ? &brk_list : NULL, &brk_len,
                                        brk_list ? 1 : 0);
}

static cria_sampler *mk_dry_last3(void) { return cria_sampler_init_dry_tokens(4, 1024, 1.0f, 1.1f, 2, 3, NULL, NULL, 0); }

static void test_dry(void **state)
{
    (void)state;
    const float u4[4] = {0.25f, 0.25f, 0.25f, 0.25f};
    const double e1 = exp(-1.0), e11 = exp(-1.1), e1331 = exp(-1.331);
    brk_list = NULL;
    check_history(mk_dry, (cria_token[]){0, 1}, 2, u4, 4, (double[]){0.25, 0.25, 0.25, 0.25}, "dry, no repeat");
    check_history(mk_dry, NULL, 0, u4, 4, (double[]){0.25, 0.25, 0.25, 0.25}, "dry, empty history");
    /* "0 1" repeats; 2 followed it: penalty 1 * 1.1^0 */
    check_history(mk_dry, (cria_token[]){0, 1, 2, 0, 1}, 5, u4, 4,
                  (double[]){1 / (3 + e1), 1 / (3 + e1), e1 / (3 + e1), 1 / (3 + e1)}, "dry");
    /* "0 1 2 0 1" repeats (length 5): penalty 1.1^3 = 1.331 */
    check_history(mk_dry, (cria_token[]){0, 1, 2, 0, 1, 2, 0, 1}, 8, u4, 4,
                  (double[]){1 / (3 + e1331), 1 / (3 + e1331), e1331 / (3 + e1331), 1 / (3 + e1331)},
                  "dry, long repeat");
    /* "2 0 1" repeats and 3 followed: 1.1^1; the breaker "3 2" cuts the repeat to length 2: 1.1^0 */
    const cria_token h[] = {2, 0, 1, 3, 2, 0, 1};
    check_history(mk_dry, h, 7, u4, 4, (double[]){1 / (3 + e11), 1 / (3 + e11), 1 / (3 + e11), e11 / (3 + e11)},
                  "dry, no breaker");
    brk_list = BRK_32;
    brk_len = 2;
    check_history(mk_dry, h, 7, u4, 4, (double[]){1 / (3 + e1), 1 / (3 + e1), 1 / (3 + e1), e1 / (3 + e1)},
                  "dry, two-token breaker");
    /* a single-token breaker is never penalised */
    brk_list = BRK_2;
    brk_len = 1;
    check_history(mk_dry, (cria_token[]){0, 1, 2, 0, 1}, 5, u4, 4, (double[]){0.25, 0.25, 0.25, 0.25},
                  "dry, single-token breaker");
    brk_list = BRK_3;
    check_history(mk_dry, (cria_token[]){0, 1, 2, 0, 1}, 5, u4, 4,
                  (double[]){1 / (3 + e1), 1 / (3 + e1), e1 / (3 + e1), 1 / (3 + e1)}, "dry, unused breaker");
    brk_list = NULL;
    /* a window of 3 sees only 2 0 1: no repeat */
    check_history(mk_dry_last3, (cria_token[]){0, 1, 2, 0, 1}, 5, u4, 4, (double[]){0.25, 0.25, 0.25, 0.25},
                  "dry, last_n 3");
}

static void test_logit_bias(void **state)
{
    (void)state;
    const cria_logit_bias bias[] = {{3, -INFINITY}, {0, 1.0986123f}, {99, 5.0f}}; /* ln 3; 99 is out of range */
    for (int ref = 0; ref < 2; ref++) {
        for (int shuffled = 0; shuffled < 2; shuffled++) {
            cria_sampler *s = cria_sampler_init_logit_bias(4, 3, bias);
            cria_sampler_set_reference(s, ref);
            arr x;
            from_probs(&x, (float[]){0.25f, 0.25f, 0.25f, 0.25f}, 4);
            if (shuffled) { /* ids no longer equal to indices: the search path */
                cria_token_data t = x.d[0];
                x.d[0] = x.d[3];
                x.d[3] = t;
            }
            cria_sampler_apply(s, &x.a);
            expect_probs(&x.a, (double[]){0.6, 0.2, 0.2, 0.0}, 4, "logit bias");
            assert_int_equal(x.a.data[0].id, 0);
            assert_int_equal(x.a.data[3].id, 3);
            cria_sampler_free(s);
        }
    }
}

static void test_greedy_and_dist(void **state)
{
    (void)state;
    for (int ref = 0; ref < 2; ref++) {
        cria_sampler *g = cria_sampler_init_greedy();
        cria_sampler_set_reference(g, ref);
        arr x;
        from_logits(&x, (float[]){1.0f, 3.0f, -INFINITY, 3.0f}, 4);
        cria_sampler_apply(g, &x.a);
        assert_int_equal(x.a.selected, 1); /* the first maximum */
        from_logits(&x, (float[]){-INFINITY, -INFINITY}, 2);
        cria_sampler_apply(g, &x.a);
        assert_int_equal(x.a.selected, 0);
        cria_sampler_free(g);

        /* frequencies of 20000 seeded draws from {0.1, 0.2, 0.3, 0.4} */
        cria_sampler *d = cria_sampler_init_dist(1234);
        cria_sampler_set_reference(d, ref);
        int count[4] = {0};
        for (int i = 0; i < 20000; i++) {
            from_probs(&x, P4, 4);
            cria_sampler_apply(d, &x.a);
            assert_true(x.a.selected >= 0 && x.a.selected < 4);
            count[x.a.data[x.a.selected].id]++;
        }
        for (int i = 0; i < 4; i++)
            assert_true(fabs(count[i] / 20000.0 - (double)P4[i]) < 0.015);
        /* a -inf candidate is never drawn; a single one always is */
        for (int i = 0; i < 100; i++) {
            from_logits(&x, (float[]){-INFINITY, 0.0f, -INFINITY}, 3);
            cria_sampler_apply(d, &x.a);
            assert_int_equal(x.a.selected, 1);
            from_logits(&x, (float[]){2.0f}, 1);
            cria_sampler_apply(d, &x.a);
            assert_int_equal(x.a.selected, 0);
            assert_float_equal(x.a.data[0].p, 1.0f, 1e-6f);
        }
        cria_sampler_free(d);
    }
    /* the same seed gives the same stream, a reset restarts it */
    cria_sampler *a = cria_sampler_init_dist(99), *b = cria_sampler_init_dist(99);
    cria_token first[50];
    for (int i = 0; i < 50; i++) {
        arr x, y;
        from_probs(&x, P4, 4);
        from_probs(&y, P4, 4);
        cria_sampler_apply(a, &x.a);
        cria_sampler_apply(b, &y.a);
        assert_int_equal(x.a.selected, y.a.selected);
        first[i] = x.d[x.a.selected].id;
    }
    cria_sampler_reset(a);
    for (int i = 0; i < 50; i++) {
        arr x;
        from_probs(&x, P4, 4);
        cria_sampler_apply(a, &x.a);
        assert_int_equal(x.d[x.a.selected].id, first[i]);
    }
    cria_sampler_free(a);
    cria_sampler_free(b);
}

static void test_mirostat(void **state)
{
    (void)state;
    for (int ref = 0; ref < 2; ref++) {
        /* v2 with a tiny target surprise keeps only the most likely token */
        cria_sampler *m2 = cria_sampler_init_mirostat_v2(5, 0.01f, 0.1f);
        cria_sampler_set_reference(m2, ref);
        for (int i = 0; i < 20; i++) {
            arr x;
            from_probs(&x, P4, 4);
            cria_sampler_apply(m2, &x.a);
            assert_int_equal(x.a.data[x.a.selected].id, 3);
        }
        cria_sampler_free(m2);
        /* v1 on a steep distribution selects from its top; a single candidate is selected */
        cria_sampler *m1 = cria_sampler_init_mirostat(4, 5, 0.01f, 0.1f, 100);
        cria_sampler_set_reference(m1, ref);
        for (int i = 0; i < 20; i++) {
            arr x;
            from_probs(&x, (float[]){0.001f, 0.01f, 0.1f, 0.889f}, 4);
            cria_sampler_apply(m1, &x.a);
            assert_int_equal(x.a.data[x.a.selected].id, 3);
            from_probs(&x, (float[]){1.0f}, 1);
            cria_sampler_apply(m1, &x.a);
            assert_int_equal(x.a.selected, 0);
        }
        cria_sampler_free(m1);
    }
}

/* Edge cases every filter must survive: one candidate, all -inf, all equal. */
static void test_edges(void **state)
{
    (void)state;
    cria_sampler *all[] = {
        cria_sampler_init_top_k(5),          cria_sampler_init_top_p(0.5f, 0),   cria_sampler_init_min_p(0.5f, 0),
        cria_sampler_init_typical(0.5f, 0),  cria_sampler_init_top_n_sigma(1), cria_sampler_init_xtc(1, 0.1f, 1, 1),
        cria_sampler_init_temp_ext(0.8f, 0.5f, 1), cria_sampler_init_temp(0.7f),
        cria_sampler_init_penalties(4, 8, 1.3f, 0.1f, 0.1f),
        cria_sampler_init_dry_tokens(4, 64, 1.0f, 1.75f, 1, -1, NULL, NULL, 0),
        cria_sampler_init_logit_bias(4, 1, (cria_logit_bias[]){{1, 1.0f}}),
    };
    const size_t n_all = sizeof all / sizeof all[0];
    for (int ref = 0; ref < 2; ref++) {
        for (size_t i = 0; i < n_all; i++) {
            cria_sampler *s = all[i];
            assert_non_null(s);
            cria_sampler_set_reference(s, ref);
            cria_sampler_accept(s, 1);
            cria_sampler_accept(s, 1);
            arr x;
            from_logits(&x, (float[]){0.5f}, 1);
            cria_sampler_apply(s, &x.a);
            assert_int_equal(x.a.size, 1);
            from_logits(&x, (float[]){-INFINITY, -INFINITY, -INFINITY}, 3);
            cria_sampler_apply(s, &x.a);
            assert_true(x.a.size >= 1 && x.a.size <= 3);
            from_logits(&x, (float[]){1.0f, 1.0f, 1.0f, 1.0f}, 4);
            cria_sampler_apply(s, &x.a);
            assert_true(x.a.size >= 1 && x.a.size <= 4);
            from_logits(&x, (float[]){0.0f, -INFINITY, 1.0f, -INFINITY}, 4);
            cria_sampler_apply(s, &x.a);
            assert_true(x.a.size >= 1 && x.a.size <= 4);
        }
    }
    for (size_t i = 0; i < n_all; i++)
        cria_sampler_free(all[i]);
    /* NaN logits count as -inf, in every path */
    for (int ref = 0; ref < 2; ref++) {
        float x[40];
        for (int i = 0; i < 40; i++)
            x[i] = i % 3 ? NAN : (float)i / 10.0f;
        x[21] = 7.0f;
        cria_sampler_params p = cria_sampler_default_params();
        for (int temp0 = 0; temp0 < 2; temp0++) {
            p.temp = temp0 ? 0.0f : 0.8f;
            cria_sampler *c = cria_sampler_chain_from_params(&p, NULL, 40, 64);
            cria_sampler_set_reference(c, ref);
            for (int i = 0; i < 5; i++)
                assert_int_equal(cria_sampler_sample(c, x, 40), 21);
            cria_sampler_free(c);
        }
        cria_sampler *g = cria_sampler_init_greedy();
        cria_sampler_set_reference(g, ref);
        assert_int_equal(cria_sampler_sample(g, x, 40), 21);
        for (int i = 0; i < 40; i++)
            x[i] = NAN;
        assert_int_equal(cria_sampler_sample(g, x, 40), 0);
        cria_sampler_free(g);
    }
    /* top-k 3 over two -inf logits keeps one of them, with p = 0 */
    check(mk_top_k, &(kp){.k = 3}, (float[]){1.0f, 0.0f, 2.7182818f, 0.0f}, 4,
          (double[]){2.7182818 / 3.7182818, 1 / 3.7182818, 0.0}, 3, "top-k with -inf logits");
}

/* ---- the chain ------------------------------------------------------------------ */

static void test_order(void **state)
{
    (void)state;
    cria_sampler_params p = cria_sampler_default_params();
    char buf[256];
    cria_sampler_order_str(&p, buf, sizeof buf);
    assert_string_equal(buf, "penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature");
    assert_true(cria_sampler_parse_order("top_k;typical;top-p;min_p;temp", 0, &p));
    cria_sampler_order_str(&p, buf, sizeof buf);
    assert_string_equal(buf, "top_k;typ_p;top_p;min_p;temperature");
    assert_true(cria_sampler_parse_order("kypmt", 1, &p));
    cria_sampler_order_str(&p, buf, sizeof buf);
    assert_string_equal(buf, "top_k;typ_p;top_p;min_p;temperature");
    assert_false(cria_sampler_parse_order("top_k;bogus", 0, &p));
    assert_false(cria_sampler_parse_order("kq", 1, &p));
    cria_sampler_order_str(&p, buf, sizeof buf);
    assert_string_equal(buf, "top_k;typ_p;top_p;min_p;temperature"); /* unchanged on error */

    /* the default chain, as llama-cli builds it */
    p = cria_sampler_default_params();
    cria_sampler *c = cria_sampler_chain_from_params(&p, NULL, 4, 64);
    const char *names[] = {"penalties", "dry", "top-n-sigma", "top-k", "typical", "top-p", "min-p", "xtc",
                           "temp-ext", "dist"};
    assert_int_equal(cria_sampler_chain_n(c), 10);
    for (int i = 0; i < 10; i++)
        assert_string_equal(cria_sampler_name(cria_sampler_chain_get(c, i)), names[i]);
    assert_null(cria_sampler_chain_get(c, 10));
    cria_sampler_free(c);
    p.mirostat = 2;
    c = cria_sampler_chain_from_params(&p, NULL, 4, 64);
    assert_int_equal(cria_sampler_chain_n(c), 2);
    assert_string_equal(cria_sampler_name(cria_sampler_chain_get(c, 1)), "mirostat-v2");
    cria_sampler_free(c);

    /* order matters: min-p 0.5 before temperature 2 keeps 3 of {0.1 .. 0.4}, after it all 4 */
    for (int ref = 0; ref < 2; ref++) {
        for (int temp_first = 0; temp_first < 2; temp_first++) {
            p = cria_sampler_default_params();
            p.temp = 2.0f;
            p.min_p = 0.5f;
            assert_true(cria_sampler_parse_order(temp_first ? "temperature;min_p" : "min_p;temperature", 0, &p));
            c = cria_sampler_chain_from_params(&p, NULL, 4, 64);
            cria_sampler_set_reference(c, ref);
            arr x;
            from_probs(&x, P4, 4);
            cria_sampler_apply(c, &x.a);
            assert_int_equal(x.a.size, temp_first ? 4 : 3);
            assert_true(x.a.selected >= 0);
            cria_sampler_free(c);
        }
    }
    /* temp 0 ends in greedy: the chain returns the argmax, penalties still apply first */
    p = cria_sampler_default_params();
    p.temp = 0.0f;
    p.penalty_repeat = 100.0f;
    c = cria_sampler_chain_from_params(&p, NULL, 4, 64);
    /* the samplers that only drop tokens below the best are left out: they cannot change the pick */
    assert_int_equal(cria_sampler_chain_n(c), 3);
    assert_string_equal(cria_sampler_name(cria_sampler_chain_get(c, 0)), "penalties");
    assert_string_equal(cria_sampler_name(cria_sampler_chain_get(c, 1)), "dry");
    assert_string_equal(cria_sampler_name(cria_sampler_chain_get(c, cria_sampler_chain_n(c) - 1)), "greedy");
    const float logits[4] = {1.0f, 3.0f, 2.0f, 0.0f};
    assert_int_equal(cria_sampler_sample(c, logits, 4), 1);
    assert_int_equal(cria_sampler_sample(c, logits, 4), 2); /* 1 is now penalised: 3 / 100 */
    assert_int_equal(cria_sampler_chain_perf(c).n_sample, 2);
    cria_sampler_free(c);
}

/* ---- optimised == reference at real vocabulary sizes ------------------------------ */

static uint64_t rng_state = 42;
static double rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

/* Gaussian logits (sd 3) with a few -inf and duplicated values, like a model's. */
static void random_logits(float *x, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        double u = rnd() + 1e-12, v = rnd();
        x[i] = (float)(3.0 * sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
    }
    for (int i = 0; i < 20; i++)
        x[(int32_t)(rnd() * n)] = -INFINITY;
    for (int i = 0; i < 20; i++)
        x[(int32_t)(rnd() * n)] = x[(int32_t)(rnd() * n)];
}

static void fill(cria_token_data_array *a, cria_token_data *d, const float *x, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        d[i] = (cria_token_data){.id = i, .logit = x[i], .p = 0.0f};
    *a = (cria_token_data_array){.data = d, .size = (size_t)n, .selected = -1, .sorted = 0};
}

typedef cria_sampler *(*maker)(int32_t n_vocab);
static cria_sampler *v_top_k(int32_t n) { (void)n; return cria_sampler_init_top_k(40); }
static cria_sampler *v_top_k_big(int32_t n) { return cria_sampler_init_top_k(n / 4); }
static cria_sampler *v_top_p(int32_t n) { (void)n; return cria_sampler_init_top_p(0.95f, 1); }
static cria_sampler *v_min_p(int32_t n) { (void)n; return cria_sampler_init_min_p(0.05f, 1); }
static cria_sampler *v_typical(int32_t n) { (void)n; return cria_sampler_init_typical(0.9f, 1); }
static cria_sampler *v_sigma(int32_t n) { (void)n; return cria_sampler_init_top_n_sigma(2.0f); }
static cria_sampler *v_xtc(int32_t n) { (void)n; return cria_sampler_init_xtc(1.0f, 0.001f, 1, 3); }
static cria_sampler *v_temp(int32_t n) { (void)n; return cria_sampler_init_temp(0.7f); }
static cria_sampler *v_dyn(int32_t n) { (void)n; return cria_sampler_init_temp_ext(0.8f, 0.5f, 1.0f); }
static cria_sampler *v_pen(int32_t n) { return cria_sampler_init_penalties(n, 64, 1.3f, 0.2f, 0.3f); }
/* DRY with breakers: single tokens (some in the repeated history) and a pair. */
static cria_sampler *v_dry(int32_t n)
{
    static cria_token seq[64][2];
    const cria_token *list[64];
    size_t lens[64];
    for (int i = 0; i < 64; i++) {
        seq[i][0] = (cria_token)((int64_t)i * n / 64 + 17);
        seq[i][1] = (cria_token)((int64_t)i * n / 97);
        list[i] = seq[i];
        lens[i] = i % 8 ? 1 : 2;
    }
    return cria_sampler_init_dry_tokens(n, 4096, 0.8f, 1.75f, 2, -1, list, lens, 64);
}
static cria_sampler *v_dry_plain(int32_t n)
{
    return cria_sampler_init_dry_tokens(n, 4096, 0.8f, 1.75f, 2, -1, NULL, NULL, 0);
}
static cria_sampler *v_bias(int32_t n)
{
    const cria_logit_bias b[] = {{0, 10.0f}, {n - 1, -INFINITY}, {n / 2, 2.5f}, {n / 2, 1.0f}};
    return cria_sampler_init_logit_bias(n, 4, b);
}
static cria_sampler *v_greedy(int32_t n) { (void)n; return cria_sampler_init_greedy(); }
static cria_sampler *v_dist(int32_t n) { (void)n; return cria_sampler_init_dist(11); }
static cria_sampler *v_miro1(int32_t n) { return cria_sampler_init_mirostat(n, 5, 5.0f, 0.1f, 100); }
static cria_sampler *v_miro2(int32_t n) { (void)n; return cria_sampler_init_mirostat_v2(5, 5.0f, 0.1f); }

static const struct {
    const char *name;
    maker make;
    bool selects; /* picks the token itself: no draw after it in a chain */
} variants[] = {
    {"top-k", v_top_k, false},     {"top-k n/4", v_top_k_big, false}, {"top-p", v_top_p, false},       {"min-p", v_min_p, false},
    {"typical", v_typical, false}, {"top-n-sigma", v_sigma, false},   {"xtc", v_xtc, false},           {"temp", v_temp, false},
    {"dynatemp", v_dyn, false},    {"penalties", v_pen, false},       {"dry", v_dry, false}, {"dry, no breakers", v_dry_plain, false},           {"logit-bias", v_bias, false},
    {"greedy", v_greedy, true}, {"dist", v_dist, true}, {"mirostat", v_miro1, true}, {"mirostat-v2", v_miro2, true},
};

/* A history with repeats, so penalties and DRY have work. */
static void feed_history(cria_sampler *s, int32_t n_vocab)
{
    cria_token h[300];
    for (int i = 0; i < 300; i++)
        h[i] = i < 150 || i % 40 >= 30 ? (cria_token)(rnd() * n_vocab) : h[i - 100];
    /* two of v_dry's breakers: the pair 8 and the single token 3, before the repeats */
    h[60] = (cria_token)((int64_t)8 * n_vocab / 64 + 17);
    h[61] = (cria_token)((int64_t)8 * n_vocab / 97);
    h[120] = (cria_token)((int64_t)3 * n_vocab / 64 + 17);
    for (int i = 0; i < 300; i++)
        cria_sampler_accept(s, h[i]);
}

static void compare_arrays(const cria_token_data_array *r, const cria_token_data_array *o, const char *what,
                           int32_t n_vocab)
{
    if (r->size != o->size || r->selected != o->selected) {
        print_error("%s @%d: size %zu vs %zu, selected %lld vs %lld\n", what, n_vocab, r->size, o->size,
                    (long long)r->selected, (long long)o->selected);
        fail();
    }
    for (size_t i = 0; i < r->size; i++) {
        const cria_token_data *a = &r->data[i], *b = &o->data[i];
        const bool same_logit = a->logit == b->logit || fabsf(a->logit - b->logit) <= 1e-5f * fabsf(a->logit);
        if (a->id != b->id || !same_logit || fabsf(a->p - b->p) > 1e-6f + 1e-5f * a->p) {
            print_error("%s @%d: entry %zu: id %d/%d logit %g/%g p %g/%g\n", what, n_vocab, i, a->id, b->id,
                        (double)a->logit, (double)b->logit, (double)a->p, (double)b->p);
            fail();
        }
    }
}

static void test_optimised_equals_reference(void **state)
{
    (void)state;
    const int32_t sizes[] = {32000, 128256, 151936};
    for (size_t si = 0; si < 3; si++) {
        const int32_t n = sizes[si];
        float *x = malloc((size_t)n * sizeof *x);
        cria_token_data *dr = malloc((size_t)n * sizeof *dr), *dopt = malloc((size_t)n * sizeof *dopt);
        assert_true(x && dr && dopt);
        random_logits(x, n);
        for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
            /* each sampler alone, on the full candidate array */
            cria_sampler *ref = variants[v].make(n), *opt = variants[v].make(n);
            cria_sampler_set_reference(ref, 1);
            const uint64_t saved = rng_state;
            feed_history(ref, n);
            rng_state = saved;
            feed_history(opt, n);
            cria_token_data_array ar, ao;
            fill(&ar, dr, x, n);
            fill(&ao, dopt, x, n);
            cria_sampler_apply(ref, &ar);
            cria_sampler_apply(opt, &ao);
            compare_arrays(&ar, &ao, variants[v].name, n);
            /* second pass (at one size): on the sorted top 1000, the sorted fast paths */
            if (si == 0) {
                fill(&ar, dr, x, n);
                cria_sampler *k = cria_sampler_init_top_k(1000);
                cria_sampler_apply(k, &ar);
                memcpy(dopt, dr, ar.size * sizeof *dr);
                ao = ar;
                ao.data = dopt;
                cria_sampler_apply(ref, &ar);
                cria_sampler_apply(opt, &ao);
                compare_arrays(&ar, &ao, variants[v].name, n);
                cria_sampler_free(k);
            }
            cria_sampler_free(ref);
            cria_sampler_free(opt);

            /* in a chain ending in a draw, through cria_sampler_sample (the raw-logit paths) */
            cria_sampler *cr = cria_sampler_chain_init(), *co = cria_sampler_chain_init();
            cria_sampler_chain_add(cr, variants[v].make(n));
            cria_sampler_chain_add(co, variants[v].make(n));
            if (!variants[v].selects) {
                cria_sampler_chain_add(cr, cria_sampler_init_dist(77));
                cria_sampler_chain_add(co, cria_sampler_init_dist(77));
            }
            cria_sampler_set_reference(cr, 1);
            const uint64_t saved2 = rng_state;
            feed_history(cr, n);
            rng_state = saved2;
            feed_history(co, n);
            for (int step = 0; step < 2; step++) {
                cria_token a = cria_sampler_sample(cr, x, n), b = cria_sampler_sample(co, x, n);
                if (a != b) {
                    print_error("%s chain @%d step %d: token %d vs %d\n", variants[v].name, n, step, a, b);
                    fail();
                }
            }
            cria_sampler_free(cr);
            cria_sampler_free(co);
        }
        /* the default chain, and one with every sampler switched on */
        for (int full = 0; full < 2; full++) {
            cria_sampler_params p = cria_sampler_default_params();
            p.seed = 5;
            if (full) {
                p.penalty_repeat = 1.1f;
                p.penalty_freq = 0.1f;
                p.dry_multiplier = 0.8f;
                p.top_n_sigma = 3.0f;
                p.typical_p = 0.95f;
                p.xtc_probability = 0.5f;
                p.dynatemp_range = 0.3f;
                p.top_k = 100;
            }
            cria_sampler *cr = cria_sampler_chain_from_params(&p, NULL, n, 4096);
            cria_sampler *co = cria_sampler_chain_from_params(&p, NULL, n, 4096);
            cria_sampler_set_reference(cr, 1);
            const uint64_t saved = rng_state;
            feed_history(cr, n);
            rng_state = saved;
            feed_history(co, n);
            for (int step = 0; step < 4; step++) {
                cria_token a = cria_sampler_sample(cr, x, n), b = cria_sampler_sample(co, x, n);
                if (a != b) {
                    print_error("%s chain @%d step %d: token %d vs %d\n", full ? "full" : "default", n, step, a, b);
                    fail();
                }
            }
            cria_sampler_free(cr);
            cria_sampler_free(co);
        }
        free(x);
        free(dr);
        free(dopt);
    }
}

/* Generates n tokens from "Once upon a time" on stories260K with threads threads and the chain of p. */
static void generate(const cria_sampler_params *p, int threads, cria_token *out, int n)
{
    cria_model_params mp = cria_model_default_params();
    mp.vocab_path = test_shared("models/tok512.bin");
    cria_model *m = NULL;
    cria_error err;
    assert_int_equal(cria_model_load(test_shared("models/stories260K.bin"), &mp, &m, &err), CRIA_OK);
    cria_context_params cp = cria_context_default_params();
    cp.n_ctx = 256;
    cp.n_threads = cp.n_threads_batch = threads;
    cria_context *ctx = NULL;
    assert_int_equal(cria_context_init(m, &cp, &ctx, &err), CRIA_OK);
    cria_model_info mi;
    cria_model_get_info(m, &mi);
    cria_sampler *s = cria_sampler_chain_from_params(p, m, mi.n_vocab, cria_n_ctx(ctx));
    assert_non_null(s);
    cria_token toks[16];
    const char *prompt = "Once upon a time";
    int32_t np = cria_tokenize(m, prompt, strlen(prompt), toks, 16, 1);
    assert_true(np > 0);
    cria_batch b = cria_batch_init(16);
    b.n_tokens = np;
    for (int32_t i = 0; i < np; i++) {
        b.token[i] = toks[i];
        b.pos[i] = i;
        b.seq_id[i] = 0;
        b.logits[i] = i == np - 1;
        cria_sampler_accept(s, toks[i]);
    }
    assert_int_equal(cria_decode(ctx, &b, &err), CRIA_OK);
    const float *logits = cria_get_logits_ith(ctx, np - 1);
    for (int i = 0; i < n; i++) {
        out[i] = cria_sampler_sample(s, logits, mi.n_vocab);
        b.n_tokens = 1;
        b.token[0] = out[i];
        b.pos[0] = np + i;
        b.seq_id[0] = 0;
        b.logits[0] = 1;
        assert_int_equal(cria_decode(ctx, &b, &err), CRIA_OK);
        logits = cria_get_logits_ith(ctx, 0);
    }
    cria_batch_free(&b);
    cria_sampler_free(s);
    cria_context_free(ctx);
    cria_model_free(m);
}

/* The same seed gives the same text for any thread count, with every stateful sampler on. */
static void test_seed_and_threads(void **state)
{
    (void)state;
    if (!test_have("models/stories260K.bin") || !test_have("models/tok512.bin"))
        skip();
    cria_sampler_params p = cria_sampler_default_params();
    p.seed = 1234;
    p.penalty_repeat = 1.1f;
    p.dry_multiplier = 0.5f;
    p.xtc_probability = 0.3f;
    p.top_n_sigma = 3.0f;
    enum { N = 96 };
    cria_token a[N], b[N], c[N];
    generate(&p, 1, a, N);
    generate(&p, 3, b, N);
    generate(&p, 1, c, N);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(a, c, sizeof a);
    p.seed = 4321;
    generate(&p, 1, c, N);
    assert_true(memcmp(a, c, sizeof a) != 0); /* another seed, another text */
}

/* cria run's sampling flags: each reaches the chain it names; bad values are one clear error. */
static void test_cli_flags(void **state)
{
    (void)state;
    if (!test_have("models/stories260K.bin") || !test_have("models/tok512.bin"))
        skip();
    char base[1024];
    snprintf(base, sizeof base, "run -m '%s' --vocab '%s' -p 'Once upon a time' -n 16 -s 3",
             test_shared("models/stories260K.bin"), test_shared("models/tok512.bin"));
    const struct {
        const char *flags, *chain;
    } ok[] = {
        {"", "logits -> penalties -> dry -> top-n-sigma -> top-k -> typical -> top-p -> min-p -> xtc -> temp-ext -> dist"},
        {"--temp 0", "logits -> penalties -> dry -> greedy"}, /* the rest cannot change the argmax */
        {"--samplers 'top_k;typical;top_p;min_p;temperature'", "logits -> top-k -> typical -> top-p -> min-p -> temp-ext -> dist"},
        {"--sampling-seq kt", "logits -> top-k -> temp-ext -> dist"},
        {"-l 13+1 --logit-bias 2-inf", "logits -> logit-bias -> penalties"},
        {"--mirostat 1 --mirostat-lr 0.2 --mirostat-ent 4", "logits -> temp -> mirostat"},
        {"--mirostat 2", "logits -> temp -> mirostat-v2"},
        {"--repeat-penalty 1.2 --repeat-last-n 32 --frequency-penalty 0.3 --presence-penalty 0.2", "repeat_last_n = 32, repeat_penalty = 1.200"},
        {"--dry-multiplier 0.8 --dry-base 2 --dry-allowed-length 3 --dry-penalty-last-n 100 --dry-sequence-breaker '\\n' --dry-sequence-breaker none", "dry_multiplier = 0.800, dry_base = 2.000, dry_allowed_length = 3"},
        {"--top-k 5 --top-p 0.5 --min-p 0.1 --typical 0.9 --top-nsigma 2 --xtc-probability 0.5 --xtc-threshold 0.2 --min-keep 2", "top_k = 5, top_p = 0.500, min_p = 0.100, xtc_probability = 0.500"},
        {"--dynatemp-range 0.3 --dynatemp-exp 2", "temp-ext"},
        {"--ignore-eos", "logits -> logit-bias -> penalties"},
        {"--sampler-seq ke", "logits -> top-k -> penalties -> dist"},
    };
    char args[2048];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        snprintf(args, sizeof args, "%s %s", base, ok[i].flags);
        char *out = NULL, *err = NULL;
        int rc = test_run_cria(args, &out, &err);
        if (rc != 0 || !strstr(err, ok[i].chain) || strncmp(out, "Once upon a time", 16) != 0) {
            print_error("cria %s: rc %d, stderr:\n%s\n", args, rc, err ? err : "");
            fail();
        }
        free(out);
        free(err);
    }
    const struct {
        const char *flags, *word;
    } bad[] = {
        {"--samplers 'top_k;bogus'", "--samplers"}, {"--sampling-seq kq", "--sampling-seq"},
        {"--logit-bias 13", "--logit-bias"},       {"-l 13+x", "-l"},
        {"--mirostat 3", "--mirostat"},            {"--min-p 2", "--min-p"},
        {"--repeat-last-n -2", "--repeat-last-n"}, {"--dry-multiplier -1", "--dry-multiplier"},
        {"--xtc-probability 1.5", "--xtc-probability"}, {"--typical", "needs a value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, "%s %s", base, bad[i].flags);
        char *out = NULL, *err = NULL;
        int rc = test_run_cria(args, &out, &err);
        if (rc == 0 || !strstr(err, bad[i].word) || !strstr(err, "error:") || (out && out[0])) {
            print_error("cria %s: rc %d, stdout '%s', stderr:\n%s\n", args, rc, out ? out : "", err ? err : "");
            fail();
        }
        free(out);
        free(err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_typical),
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_top_n_sigma),
        cmocka_unit_test(test_xtc),
        cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_dry),
        cmocka_unit_test(test_logit_bias),
        cmocka_unit_test(test_greedy_and_dist),
        cmocka_unit_test(test_mirostat),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_optimised_equals_reference),
        cmocka_unit_test(test_seed_and_threads),
        cmocka_unit_test(test_cli_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
