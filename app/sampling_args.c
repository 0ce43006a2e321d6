#include "sampling_args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"

void cria_sampling_opts_init(cria_sampling_opts *o)
{
    memset(o, 0, sizeof *o);
    o->sp = cria_sampler_default_params();
    o->seed = -1;
}

size_t cria_unescape(char *s, size_t n)
{
    size_t w = 0;
    for (size_t r = 0; r < n; r++) {
        if (s[r] == '\\' && r + 1 < n) {
            r++;
            s[w++] = s[r] == 'n' ? '\n' : s[r] == 't' ? '\t' : s[r] == 'r' ? '\r' : s[r];
        } else {
            s[w++] = s[r];
        }
    }
    return w;
}

/* Parses TOKEN(+|-)BIAS, e.g. 15043+1 or 15043-inf, into o->sp's bias list. */
static bool parse_logit_bias(const char *opt, const char *s, cria_sampling_opts *o)
{
    char *end;
    errno = 0;
    long tok = strtol(s, &end, 10);
    bool ok = errno == 0 && end != s && tok >= 0 && tok <= INT32_MAX && (*end == '+' || *end == '-');
    float bias = 0.0f;
    if (ok) {
        const char sign = *end;
        const char *v = end + 1;
        bias = strtof(v, &end);
        ok = end != v && *end == '\0' && !isnan(bias);
        bias = sign == '-' ? -bias : bias;
    }
    if (!ok) {
        cria_app_error("option %s expects TOKEN+BIAS or TOKEN-BIAS (e.g. 15043+1, 15043-inf), got '%s'", opt, s);
        return false;
    }
    if (o->sp.n_logit_bias == CRIA_APP_MAX_LOGIT_BIAS) {
        cria_app_error("option %s: at most %d biases", opt, CRIA_APP_MAX_LOGIT_BIAS);
        return false;
    }
    o->bias[o->sp.n_logit_bias++] = (cria_logit_bias){.token = (cria_token)tok, .bias = bias};
    return true;
}

bool cria_sampling_arg(int argc, char **argv, int *i, cria_sampling_opts *o, bool *ok)
{
    const char *a = argv[*i];
    cria_sampler_params *sp = &o->sp;
    const char *s;
    if (!strcmp(a, "-s") || !strcmp(a, "--seed")) {
        *ok = cria_arg_i64(argc, argv, i, -1, INT64_MAX, &o->seed);
    } else if (!strcmp(a, "--temp")) {
        *ok = cria_arg_f32(argc, argv, i, 0.0f, 1e6f, &sp->temp);
    } else if (!strcmp(a, "--dynatemp-range")) {
        *ok = cria_arg_f32(argc, argv, i, 0.0f, 1e6f, &sp->dynatemp_range);
    } else if (!strcmp(a, "--dynatemp-exp")) {
        *ok = cria_arg_f32(argc, argv, i, 0.0f, 1e6f, &sp->dynatemp_exponent);
    } else if (!strcmp(a, "--top-k")) {
        *ok = cria_arg_i32(argc, argv, i, 0, INT32_MAX, &sp->top_k);
    } else if (!strcmp(a, "--top-p")) {
        *ok = cria_arg_f32(argc, argv, i, 0.0f, 1.0f, &sp->top_p);
    } else if (!strcmp(a, "--min-p")) {
        *ok = cria_arg_f32(argc, argv, i, 0.0f, 1.0f, &sp->min_p);
    } else if (!strcmp(a, "--typical")) {
        *ok = cria_arg_f32(argc, argv, i, 0.0f, 1.0f, &sp->typical_p);
    } else if (!strcmp(a, "--top-nsigma") || !strcmp(a, "--top-n-sigma")) {
        *ok = cria_arg_f32(argc, argv, i, -1.0f, 1e6f, &sp->top_n_sigma);
    } else if (!strcmp(a, "--xtc-probability")) {
        *ok = cria_arg_f32(argc, argv, i, 0.0f, 1.0f, &sp->xtc_probability);
    } else if (!strcmp(a, "--xtc-threshold")) {
        *ok = cria_arg_f32(argc, argv, i, 0.0f, 1.0f, &sp->xtc_threshold);
    } else if (!strcmp(a, "--min-keep")) {
        *ok = cria_arg_i32(argc, argv, i, 0, INT32_MAX, &sp->min_keep);
    } else if (!strcmp(a, "--repeat-last-n")) {
        *ok = cria_arg_i32(argc, argv, i, -1, INT32_MAX, &sp->penalty_last_n);
    } else if (!strcmp(a, "--repeat-penalty")) {
        *ok = cria_arg_f32(argc, argv, i, 0.0f, 1e6f, &sp->penalty_repeat);
    } else if (!strcmp(a, "--presence-penalty")) {
        *ok = cria_arg_f32(argc, argv, i, -1e6f, 1e6f, &sp->penalty_present);
    } else if (!strcmp(a, "--frequency-penalty")) {
        *ok = cria_arg_f32(argc, argv, i, -1e6f, 1e6f, &sp->penalty_freq);
    } else if (!strcmp(a, "--dry-multiplier")) {
        *ok = cria_arg_f32(argc, argv, i, 0.0f, 1e6f, &sp->dry_multiplier);
    } else if (!strcmp(a, "--dry-base")) {
        *ok = cria_arg_f32(argc, argv, i, 0.0f, 1e6f, &sp->dry_base);
    } else if (!strcmp(a, "--dry-allowed-length")) {
        *ok = cria_arg_i32(argc, argv, i, 0, INT32_MAX, &sp->dry_allowed_length);
    } else if (!strcmp(a, "--dry-penalty-last-n")) {
        *ok = cria_arg_i32(argc, argv, i, -1, INT32_MAX, &sp->dry_penalty_last_n);
    } else if (!strcmp(a, "--dry-sequence-breaker")) {
        *ok = cria_arg_str(argc, argv, i, &s);
        if (*ok && !o->breakers_set) {
            sp->n_dry_breakers = 0;
            o->breakers_set = true;
        }
        if (*ok && strcmp(s, "none") != 0) {
            if (sp->n_dry_breakers == CRIA_DRY_MAX_BREAKERS) {
                cria_app_error("option %s: at most %d breakers", a, CRIA_DRY_MAX_BREAKERS);
                *ok = false;
            } else {
                argv[*i][cria_unescape(argv[*i], strlen(argv[*i]))] = '\0';
                sp->dry_breakers[sp->n_dry_breakers++] = argv[*i];
            }
        }
    } else if (!strcmp(a, "--mirostat")) {
        *ok = cria_arg_i32(argc, argv, i, 0, 2, &sp->mirostat);
    } else if (!strcmp(a, "--mirostat-lr")) {
        *ok = cria_arg_f32(argc, argv, i, 0.0f, 1e6f, &sp->mirostat_eta);
    } else if (!strcmp(a, "--mirostat-ent")) {
        *ok = cria_arg_f32(argc, argv, i, 0.0f, 1e6f, &sp->mirostat_tau);
    } else if (!strcmp(a, "-l") || !strcmp(a, "--logit-bias")) {
        *ok = cria_arg_str(argc, argv, i, &s) && parse_logit_bias(a, s, o);
    } else if (!strcmp(a, "--ignore-eos")) {
        o->ignore_eos = true;
        *ok = true;
    } else if (!strcmp(a, "--samplers") || !strcmp(a, "--sampling-seq") || !strcmp(a, "--sampler-seq")) {
        const bool letters = strcmp(a, "--samplers") != 0;
        *ok = cria_arg_str(argc, argv, i, &s);
        if (*ok && !cria_sampler_parse_order(s, letters, sp)) {
            cria_app_error("option %s: unknown sampler in '%s' (see cria run -h)", a, s);
            *ok = false;
        }
    } else {
        return false;
    }
    return true;
}

void cria_sampling_usage(FILE *f)
{
    fprintf(f,
            "sampling (llama-cli's flags and defaults):\n"
            "  -s, --seed N           random seed (default -1: from the clock)\n"
            "      --samplers LIST    samplers in order, ';'-separated (default:\n"
            "                         penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature)\n"
            "      --sampling-seq S   the same as letters: e=penalties d=dry s=top_n_sigma k=top_k\n"
            "                         y=typ_p p=top_p m=min_p x=xtc t=temperature (default edskypmxt)\n"
            "      --temp T           temperature (default 0.8; 0: greedy)\n"
            "      --dynatemp-range R dynamic temperature range: temp +- R by entropy (default 0: off)\n"
            "      --dynatemp-exp E   dynamic temperature exponent (default 1.0)\n"
            "      --top-k N          top-k (default 40; 0: off)\n"
            "      --top-p P          top-p (default 0.95; 1.0: off)\n"
            "      --min-p P          min-p (default 0.05; 0.0: off)\n"
            "      --typical P        locally typical sampling (default 1.0: off)\n"
            "      --top-nsigma N     top-n-sigma (default -1: off)\n"
            "      --xtc-probability P  XTC chance per token (default 0.0: off)\n"
            "      --xtc-threshold T  XTC probability threshold (default 0.1; > 0.5: off)\n"
            "      --min-keep N       keep at least N tokens in top-p, min-p, typical, XTC (default 0)\n"
            "      --repeat-last-n N  tokens the penalties look back over (default 64; 0: off; -1: context size)\n"
            "      --repeat-penalty R repetition penalty (default 1.0: off)\n"
            "      --presence-penalty P   presence penalty (default 0.0: off)\n"
            "      --frequency-penalty F  frequency penalty (default 0.0: off)\n"
            "      --dry-multiplier M DRY multiplier (default 0.0: off)\n"
            "      --dry-base B       DRY base (default 1.75)\n"
            "      --dry-allowed-length N  repeats longer than N are penalised (default 2)\n"
            "      --dry-penalty-last-n N  tokens DRY looks back over (default -1: context size; 0: off)\n"
            "      --dry-sequence-breaker S  a DRY breaker, repeatable; replaces the defaults\n"
            "                         '\\n' ':' '\\\"' '*'; 'none': no breakers\n"
            "      --mirostat N       0: off, 1: Mirostat, 2: Mirostat 2.0 (replaces the samplers above)\n"
            "      --mirostat-lr ETA  Mirostat learning rate (default 0.1)\n"
            "      --mirostat-ent TAU Mirostat target entropy (default 5.0)\n"
            "  -l, --logit-bias T+B   add B to token T's logit (e.g. 15043+1, 15043-inf); repeatable\n"
            "      --ignore-eos       never end the text: end-of-generation tokens get a -inf bias\n"
            "\n");
}

cria_logit_bias *cria_sampling_resolve(const cria_sampling_opts *o, const cria_model *model, cria_sampler_params *sp)
{
    *sp = o->sp;
    sp->seed = o->seed < 0 ? (uint64_t)time(NULL) ^ (uint64_t)cria_time_us() : (uint64_t)o->seed;
    cria_model_info mi;
    cria_model_get_info(model, &mi);
    int32_t n_eog = 0;
    for (cria_token t = 0; o->ignore_eos && t < mi.n_vocab; t++)
        n_eog += cria_token_is_eog(model, t) != 0;
    cria_logit_bias *bias = malloc((size_t)(sp->n_logit_bias + n_eog + 1) * sizeof *bias);
    if (!bias)
        return NULL;
    memcpy(bias, o->bias, (size_t)sp->n_logit_bias * sizeof *bias);
    for (cria_token t = 0; o->ignore_eos && t < mi.n_vocab; t++) {
        if (cria_token_is_eog(model, t))
            bias[sp->n_logit_bias++] = (cria_logit_bias){.token = t, .bias = -INFINITY};
    }
    sp->logit_bias = bias;
    return bias;
}
