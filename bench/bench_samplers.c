/*
 * Sampler micro-benchmark: microseconds per cria_sampler_sample call (build
 * the candidates, apply, select, accept) for each sampler alone, for greedy
 * alone and for llama-cli's default chain, with the naive reference paths and
 * with the optimised ones, at several vocabulary sizes. One thread: sampling
 * runs on the caller.
 *
 *   bench_samplers [-r REPEATS] [-s NAME] [VOCAB ...]   (default: 32000 128256 151936)
 *
 * -s keeps only the rows whose name contains NAME.
 *
 * Logits are N(0, 5) (as llama.cpp's sampling benchmarks use), fixed seed; the
 * penalties and DRY see a 300-token history with repeats. Each figure is the
 * best of REPEATS (default 5) timed runs of at least 50 ms each (the mean per
 * call within a run): on a shared machine the least disturbed run is the most
 * repeatable figure. Prints a markdown table.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cria.h"

static uint64_t rng_state = 42;

static double rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

typedef cria_sampler *(*maker)(int32_t n_vocab);

static cria_sampler *m_greedy(int32_t n) { (void)n; return cria_sampler_init_greedy(); }
static cria_sampler *m_dist(int32_t n) { (void)n; return cria_sampler_init_dist(1); }
static cria_sampler *m_temp(int32_t n) { (void)n; return cria_sampler_init_temp(0.8f); }
static cria_sampler *m_dyn(int32_t n) { (void)n; return cria_sampler_init_temp_ext(0.8f, 0.5f, 1.0f); }
static cria_sampler *m_top_k(int32_t n) { (void)n; return cria_sampler_init_top_k(40); }
static cria_sampler *m_top_p(int32_t n) { (void)n; return cria_sampler_init_top_p(0.95f, 1); }
static cria_sampler *m_min_p(int32_t n) { (void)n; return cria_sampler_init_min_p(0.05f, 1); }
static cria_sampler *m_typical(int32_t n) { (void)n; return cria_sampler_init_typical(0.95f, 1); }
static cria_sampler *m_sigma(int32_t n) { (void)n; return cria_sampler_init_top_n_sigma(1.0f); }
static cria_sampler *m_xtc(int32_t n) { (void)n; return cria_sampler_init_xtc(1.0f, 0.1f, 1, 1); }
static cria_sampler *m_pen(int32_t n) { return cria_sampler_init_penalties(n, 64, 1.1f, 0.1f, 0.1f); }
/* 400 breaker sequences, about what "\n" ":" "\"" "*" become over a 32k-128k vocabulary. */
static cria_sampler *m_dry(int32_t n)
{
    static cria_token seq[400][2];
    const cria_token *list[400];
    size_t lens[400];
    for (int i = 0; i < 400; i++) {
        seq[i][0] = (cria_token)((int64_t)i * n / 400);
        seq[i][1] = (cria_token)((int64_t)(i * 7 + 3) * n / 2800);
        list[i] = seq[i];
        lens[i] = i % 4 ? 1 : 2;
    }
    return cria_sampler_init_dry_tokens(n, 4096, 0.8f, 1.75f, 2, -1, list, lens, 400);
}
static cria_sampler *m_miro1(int32_t n) { return cria_sampler_init_mirostat(n, 1, 5.0f, 0.1f, 100); }
static cria_sampler *m_miro2(int32_t n) { (void)n; return cria_sampler_init_mirostat_v2(1, 5.0f, 0.1f); }
static cria_sampler *m_bias(int32_t n)
{
    const cria_logit_bias b[] = {{1, 2.0f}, {n - 1, -INFINITY}, {n / 2, 1.5f}, {n / 3, -1.0f}};
    return cria_sampler_init_logit_bias(n, 4, b);
}
static cria_sampler *m_default(int32_t n)
{
    cria_sampler_params p = cria_sampler_default_params();
    p.seed = 1;
    return cria_sampler_chain_from_params(&p, NULL, n, 4096);
}
static cria_sampler *m_default_rep(int32_t n)
{
    cria_sampler_params p = cria_sampler_default_params();
    p.seed = 1;
    p.penalty_repeat = 1.1f;
    return cria_sampler_chain_from_params(&p, NULL, n, 4096);
}

static cria_sampler *m_none(int32_t n) { (void)n; return cria_sampler_chain_init(); }

static const struct {
    const char *name, *what;
    maker make;
} cases[] = {
    {"candidates only", "empty chain: build n_vocab candidates, pick the most likely", m_none},
    {"greedy", "argmax", m_greedy},
    {"default chain", "penalties;dry;top_n_sigma;top_k 40;typ_p;top_p 0.95;min_p 0.05;xtc;temp 0.8; dist", m_default},
    {"default chain + repeat 1.1", "the same with --repeat-penalty 1.1", m_default_rep},
    {"dist", "softmax + seeded draw", m_dist},
    {"temperature", "0.8", m_temp},
    {"dynamic temperature", "0.8 +- 0.5", m_dyn},
    {"top-k", "40", m_top_k},
    {"top-p", "0.95", m_top_p},
    {"min-p", "0.05", m_min_p},
    {"typical", "0.95", m_typical},
    {"top-n-sigma", "1.0", m_sigma},
    {"xtc", "probability 1, threshold 0.1", m_xtc},
    {"penalties", "last 64, repeat 1.1, freq 0.1, presence 0.1", m_pen},
    {"dry", "0.8, base 1.75, allowed 2, last n_ctx, 400 breakers", m_dry},
    {"mirostat", "tau 5, eta 0.1, m 100", m_miro1},
    {"mirostat v2", "tau 5, eta 0.1", m_miro2},
    {"logit bias", "4 tokens", m_bias},
};

/* A chain holding one sampler (or the chain itself), in reference or optimised mode, with history. */
static cria_sampler *setup(maker make, int32_t n, int reference)
{
    cria_sampler *s = make(n);
    if (!s)
        return NULL;
    cria_sampler *chain = s;
    if (strcmp(cria_sampler_name(s), "chain") != 0) {
        chain = cria_sampler_chain_init();
        if (!chain || !cria_sampler_chain_add(chain, s))
            return NULL;
    }
    cria_sampler_set_reference(chain, reference);
    uint64_t saved = rng_state;
    rng_state = 7;
    cria_token h[300];
    for (int i = 0; i < 300; i++) {
        h[i] = i < 150 || i % 40 >= 30 ? (cria_token)(rnd() * n) : h[i - 100];
        cria_sampler_accept(chain, h[i]);
    }
    rng_state = saved;
    return chain;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The best over repeats of the mean microseconds per sample call. */
static double time_us(cria_sampler *chain, const float *logits, int32_t n, int repeats)
{
    volatile cria_token sink = 0;
    for (int i = 0; i < 3; i++)
        sink += cria_sampler_sample(chain, logits, n);
    double t[64];
    for (int r = 0; r < repeats; r++) {
        int64_t t0 = cria_time_us(), t1;
        int iters = 0;
        do {
            sink += cria_sampler_sample(chain, logits, n);
            iters++;
            t1 = cria_time_us();
        } while (t1 - t0 < 50000 || iters < 3);
        t[r] = (double)(t1 - t0) / iters;
    }
    (void)sink;
    qsort(t, (size_t)repeats, sizeof *t, cmp_double);
    return t[0];
}

int main(int argc, char **argv)
{
    int32_t sizes[16] = {32000, 128256, 151936};
    int n_sizes = 3, repeats = 5;
    int given = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-r") && i + 1 < argc) {
            repeats = atoi(argv[++i]);
            repeats = repeats < 1 ? 1 : repeats > 64 ? 64 : repeats;
        } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
            only = argv[++i];
        } else if (given < 16 && atoi(argv[i]) > 0) {
            sizes[given++] = atoi(argv[i]);
        } else {
            fprintf(stderr, "usage: bench_samplers [-r REPEATS] [-s NAME] [VOCAB ...]\n");
            return 1;
        }
    }
    if (given)
        n_sizes = given;

    printf("| sampler | settings |");
    for (int s = 0; s < n_sizes; s++)
        printf(" %d naive (us) | optimised (us) | speedup |", sizes[s]);
    printf("\n| --- | --- |");
    for (int s = 0; s < n_sizes; s++)
        printf(" ---: | ---: | ---: |");
    printf("\n");
    float *logits[16];
    for (int s = 0; s < n_sizes; s++) {
        logits[s] = malloc((size_t)sizes[s] * sizeof(float));
        if (!logits[s])
            return 1;
        for (int32_t i = 0; i < sizes[s]; i++) {
            double u = rnd() + 1e-12, v = rnd();
            logits[s][i] = (float)(5.0 * sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
        }
    }
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if (only && !strstr(cases[c].name, only))
            continue;
        printf("| %s | %s |", cases[c].name, cases[c].what);
        fflush(stdout);
        for (int s = 0; s < n_sizes; s++) {
            double t[2];
            for (int ref = 1; ref >= 0; ref--) {
                cria_sampler *chain = setup(cases[c].make, sizes[s], ref);
                if (!chain) {
                    fprintf(stderr, "out of memory\n");
                    return 1;
                }
                t[ref] = time_us(chain, logits[s], sizes[s], repeats);
                cria_sampler_free(chain);
            }
            printf(" %.1f | %.1f | %.1fx |", t[1], t[0], t[1] / t[0]);
            fflush(stdout);
        }
        printf("\n");
    }
    for (int s = 0; s < n_sizes; s++)
        free(logits[s]);
    return 0;
}
