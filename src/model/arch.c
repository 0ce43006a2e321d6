/* The model families cria runs and what sets each apart from llama. */
#include <string.h>

#include "model/model.h"

static const cria_arch families[] = {
    {.name = "llama", .rope = CRIA_ROPE_NORM, .act = CRIA_ACT_SILU},
    {.name = "qwen2", .rope = CRIA_ROPE_NEOX, .act = CRIA_ACT_SILU},
    {.name = "qwen3", .rope = CRIA_ROPE_NEOX, .act = CRIA_ACT_SILU},
    {.name = "gemma", .rope = CRIA_ROPE_NEOX, .act = CRIA_ACT_GELU, .embd_scale = true, .scale_q = true},
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
    return "llama, qwen2, qwen3, gemma";
}
