/*
 * llama-cli's sampling parameters: their defaults, the --samplers and
 * --sampling-seq order syntax, and the chain llama.cpp's common_sampler
 * builds from them (logit bias, the ordered samplers, then a seeded draw, or
 * temperature + mirostat).
 */
#include <string.h>

#include "sample/sampler_impl.h"

static const struct {
    const char *name; /* as --samplers prints it */
    char letter;      /* as --sampling-seq spells it */
} type_names[CRIA_SAMPLER_TYPE_COUNT] = {
    [CRIA_SAMPLER_PENALTIES] = {"penalties", 'e'},
    [CRIA_SAMPLER_DRY] = {"dry", 'd'},
    [CRIA_SAMPLER_TOP_N_SIGMA] = {"top_n_sigma", 's'},
    [CRIA_SAMPLER_TOP_K] = {"top_k", 'k'},
    [CRIA_SAMPLER_TYPICAL] = {"typ_p", 'y'},
    [CRIA_SAMPLER_TOP_P] = {"top_p", 'p'},
    [CRIA_SAMPLER_MIN_P] = {"min_p", 'm'},
    [CRIA_SAMPLER_XTC] = {"xtc", 'x'},
    [CRIA_SAMPLER_TEMPERATURE] = {"temperature", 't'},
};

/* Other spellings llama.cpp accepts. */
static const struct {
    const char *name;
    cria_sampler_type type;
} aliases[] = {
    {"top-k", CRIA_SAMPLER_TOP_K},       {"top-p", CRIA_SAMPLER_TOP_P},
    {"nucleus", CRIA_SAMPLER_TOP_P},     {"typical-p", CRIA_SAMPLER_TYPICAL},
    {"typical", CRIA_SAMPLER_TYPICAL},   {"typ-p", CRIA_SAMPLER_TYPICAL},
    {"typ", CRIA_SAMPLER_TYPICAL},       {"min-p", CRIA_SAMPLER_MIN_P},
    {"temp", CRIA_SAMPLER_TEMPERATURE},  {"top-n-sigma", CRIA_SAMPLER_TOP_N_SIGMA},
    {"penalty", CRIA_SAMPLER_PENALTIES}, {"repetition", CRIA_SAMPLER_PENALTIES},
};

const char *cria_sampler_type_name(cria_sampler_type t)
{
    return (unsigned)t < CRIA_SAMPLER_TYPE_COUNT ? type_names[t].name : "?";
}

cria_sampler_params cria_sampler_default_params(void)
{
    cria_sampler_params p = {
        .seed = 0xFFFFFFFFu,
        .temp = 0.8f,
        .dynatemp_range = 0.0f,
        .dynatemp_exponent = 1.0f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .typical_p = 1.0f,
        .top_n_sigma = -1.0f,
        .xtc_probability = 0.0f,
        .xtc_threshold = 0.1f,
        .min_keep = 0,
        .penalty_last_n = 64,
        .penalty_repeat = 1.0f,
        .penalty_freq = 0.0f,
        .penalty_present = 0.0f,
        .dry_multiplier = 0.0f,
        .dry_base = 1.75f,
        .dry_allowed_length = 2,
        .dry_penalty_last_n = -1,
        .n_dry_breakers = 4,
        .dry_breakers = {"\n", ":", "\"", "*"},
        .mirostat = 0,
        .mirostat_tau = 5.0f,
        .mirostat_eta = 0.1f,
        .n_order = 9,
        .order = {CRIA_SAMPLER_PENALTIES, CRIA_SAMPLER_DRY, CRIA_SAMPLER_TOP_N_SIGMA, CRIA_SAMPLER_TOP_K,
                  CRIA_SAMPLER_TYPICAL, CRIA_SAMPLER_TOP_P, CRIA_SAMPLER_MIN_P, CRIA_SAMPLER_XTC,
                  CRIA_SAMPLER_TEMPERATURE},
    };
    return p;
}

/* The type named by s[0..n); false if none. */
static bool lookup(const char *s, size_t n, cria_sampler_type *out)
{
    for (int t = 0; t < CRIA_SAMPLER_TYPE_COUNT; t++) {
        if (strlen(type_names[t].name) == n && !memcmp(type_names[t].name, s, n)) {
            *out = (cria_sampler_type)t;
            return true;
        }
    }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strlen(aliases[i].name) == n && !memcmp(aliases[i].name, s, n)) {
            *out = aliases[i].type;
            return true;
        }
    }
    return false;
}

int cria_sampler_parse_order(const char *s, int letters, cria_sampler_params *p)
{
    cria_sampler_type order[CRIA_SAMPLER_MAX_ORDER];
    int32_t n = 0;
    if (letters) {
        for (; *s; s++) {
            int t = 0;
            while (t < CRIA_SAMPLER_TYPE_COUNT && type_names[t].letter != *s)
                t++;
            if (t == CRIA_SAMPLER_TYPE_COUNT || n == CRIA_SAMPLER_MAX_ORDER)
                return 0;
            order[n++] = (cria_sampler_type)t;
        }
    } else {
        while (*s) {
            size_t len = strcspn(s, ";");
            if (len > 0) {
                if (n == CRIA_SAMPLER_MAX_ORDER || !lookup(s, len, &order[n]))
                    return 0;
                n++;
            }
            s += len;
            if (*s == ';')
                s++;
        }
    }
    memcpy(p->order, order, (size_t)n * sizeof *order);
    p->n_order = n;
    return 1;
}

void cria_sampler_order_str(const cria_sampler_params *p, char *buf, size_t cap)
{
    if (cap == 0)
        return;
    buf[0] = '\0';
    size_t used = 0;
    for (int32_t i = 0; i < p->n_order; i++) {
        const char *name = cria_sampler_type_name(p->order[i]);
        size_t len = strlen(name) + (i ? 1 : 0);
        if (used + len + 1 > cap)
            break;
        if (i)
            buf[used++] = ';';
        memcpy(buf + used, name, strlen(name) + 1);
        used += strlen(name);
    }
}

static cria_sampler *make(const cria_sampler_params *p, cria_sampler_type t, const cria_model *model,
                          int32_t n_vocab, int32_t n_ctx)
{
    const size_t min_keep = p->min_keep > 0 ? (size_t)p->min_keep : 0;
    switch (t) {
    case CRIA_SAMPLER_PENALTIES:
        return cria_sampler_init_penalties(n_vocab, p->penalty_last_n == -1 ? n_ctx : p->penalty_last_n,
                                           p->penalty_repeat, p->penalty_freq, p->penalty_present);
    case CRIA_SAMPLER_DRY:
        return cria_sampler_init_dry(model, n_vocab, n_ctx, p->dry_multiplier, p->dry_base, p->dry_allowed_length,
                                     p->dry_penalty_last_n, p->dry_breakers, (size_t)p->n_dry_breakers);
    case CRIA_SAMPLER_TOP_N_SIGMA:
        return cria_sampler_init_top_n_sigma(p->top_n_sigma);
    case CRIA_SAMPLER_TOP_K:
        return cria_sampler_init_top_k(p->top_k);
    case CRIA_SAMPLER_TYPICAL:
        return cria_sampler_init_typical(p->typical_p, min_keep);
    case CRIA_SAMPLER_TOP_P:
        return cria_sampler_init_top_p(p->top_p, min_keep);
    case CRIA_SAMPLER_MIN_P:
        return cria_sampler_init_min_p(p->min_p, min_keep);
    case CRIA_SAMPLER_XTC:
        return cria_sampler_init_xtc(p->xtc_probability, p->xtc_threshold, min_keep, p->seed);
    case CRIA_SAMPLER_TEMPERATURE:
        return cria_sampler_init_temp_ext(p->temp, p->dynatemp_range, p->dynatemp_exponent);
    case CRIA_SAMPLER_TYPE_COUNT:
        break;
    }
    return NULL;
}

/*
 * With temp <= 0 the chain ends in greedy, and these samplers only ever drop
 * tokens below the best one, so they cannot change the pick: leave them out
 * (sorting the vocabulary for top-k costs more than the forward pass of a
 * small model). Not when XTC is on: it drops the best tokens, judged by
 * probabilities over whatever the samplers before it left.
 */
static bool keeps_argmax(const cria_sampler_params *p, cria_sampler_type t)
{
    const bool xtc_on = p->xtc_probability > 0.0f && p->xtc_threshold <= 0.5f;
    switch (t) {
    case CRIA_SAMPLER_TOP_N_SIGMA:
    case CRIA_SAMPLER_TOP_K:
    case CRIA_SAMPLER_TYPICAL:
    case CRIA_SAMPLER_TOP_P:
    case CRIA_SAMPLER_MIN_P:
    case CRIA_SAMPLER_TEMPERATURE:
    case CRIA_SAMPLER_XTC: /* off, it changes nothing */
        return !xtc_on;
    default:
        return false;
    }
}

cria_sampler *cria_sampler_chain_from_params(const cria_sampler_params *p, const cria_model *model, int32_t n_vocab,
                                             int32_t n_ctx)
{
    if (n_vocab <= 0 || p->n_order < 0 || p->n_order > CRIA_SAMPLER_MAX_ORDER ||
        p->n_dry_breakers < 0 || p->n_dry_breakers > CRIA_DRY_MAX_BREAKERS)
        return NULL;
    cria_sampler *chain = cria_sampler_chain_init();
    if (!chain)
        return NULL;
    bool ok = true;
    if (p->n_logit_bias > 0)
        ok = cria_sampler_chain_add(chain, cria_sampler_init_logit_bias(n_vocab, p->n_logit_bias, p->logit_bias));
    if (p->mirostat == 0) {
        for (int32_t i = 0; ok && i < p->n_order; i++) {
            if (p->temp <= 0.0f && keeps_argmax(p, p->order[i]))
                continue;
            ok = cria_sampler_chain_add(chain, make(p, p->order[i], model, n_vocab, n_ctx));
        }
        /* temp <= 0 leaves one finite logit: select it without a random draw */
        if (ok)
            ok = cria_sampler_chain_add(chain, p->temp > 0.0f ? cria_sampler_init_dist(p->seed)
                                                              : cria_sampler_init_greedy());
    } else if (p->mirostat == 1 || p->mirostat == 2) {
        ok = cria_sampler_chain_add(chain, cria_sampler_init_temp(p->temp));
        if (ok)
            ok = cria_sampler_chain_add(chain, p->mirostat == 1 ? cria_sampler_init_mirostat(n_vocab, p->seed,
                                                                                            p->mirostat_tau,
                                                                                            p->mirostat_eta, 100)
                                                                : cria_sampler_init_mirostat_v2(p->seed,
                                                                                               p->mirostat_tau,
                                                                                               p->mirostat_eta));
    } else {
        ok = false;
    }
    if (!ok) {
        cria_sampler_free(chain);
        return NULL;
    }
    return chain;
}
