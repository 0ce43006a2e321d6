/* The model families cria runs and what sets each apart from llama. */
#include <string.h>

#include "model/model.h"

static const cria_arch families[] = {
    {.name = "llama", .rope = CRIA_ROPE_NORM, .act = CRIA_ACT_SILU},
    {.name = "qwen2", .rope = CRIA_ROPE_NEOX, .act = CRIA_ACT_SILU},
    {.name = "qwen3", .rope = CRIA_ROPE_NEOX, .act = CRIA_ACT_SILU},
    {.name = "gemma", .rope = CRIA_ROPE_NEOX, .act = CRIA_ACT_GELU, .embd_scale = true, .scale_q = true},
    /* BitNet b1.58 as llama.cpp c392e50 builds it: SwiGLU (not squared ReLU), sub-norms, the embedding as classifier */
    {.name = "bitnet", .rope = CRIA_ROPE_NEOX, .act = CRIA_ACT_SILU, .sub_norms = true, .always_tied = true},
};

const cria_arch *cria_arch_find(const char *name)
{
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        if (strcmp(families[i].name, name) == 0)
            return &families[i];
    }
    return NULL;
}

const char *cria_arch_names(void)
{
    return "llama, qwen2, qwen3, gemma, bitnet";
}

/*
 * As llama.cpp builds its RoPE from a file's metadata: no scaling unless
 * rope.scaling.type asks for it (the type defaults to linear, with a factor
 * of 1); YaRN extrapolates (ext_factor 1) between the correction dimensions
 * of beta_fast 32 and beta_slow 1 over the original context; rope_freqs
 * divides the angles in any mode.
 */
cria_rope_params cria_model_rope_params(const cria_model *m)
{
    const cria_hparams *hp = &m->hp;
    cria_rope_params p = cria_rope_params_plain(hp->n_rot, hp->rope_freq_base);
    if (hp->rope_scaling != CRIA_ROPE_SCALING_NONE && hp->rope_scale > 0.0f)
        p.freq_scale = 1.0f / hp->rope_scale;
    if (hp->rope_attn_factor > 0.0f)
        p.attn_factor = hp->rope_attn_factor;
    if (hp->rope_scaling == CRIA_ROPE_SCALING_YARN) {
        p.ext_factor = 1.0f;
        const int32_t n_orig = hp->n_ctx_orig > 0 ? hp->n_ctx_orig : hp->n_ctx_train;
        cria_rope_yarn_corr_dims(hp->n_rot, n_orig, hp->rope_freq_base, 32.0f, 1.0f, p.corr_dims);
    }
    p.freq_factors = m->rope_freqs;
    return p;
}
