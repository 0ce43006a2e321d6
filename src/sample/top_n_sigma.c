/*
 * Top-n-sigma (Tang et al. 2024): keeps the tokens whose logit is within n
 * standard deviations of the maximum (statistics over the finite logits),
 * sets the others to -inf, and leaves the array sorted and softmaxed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample/sampler_impl.h"

typedef struct sigma_sampler {
    cria_sampler base;
    float n;
    cria_token_data *tmp; /* fast-path scratch */
    size_t cap;
    cria_sort_buf sort;
} sigma_sampler;

/* The cut: max - n * std over the logits that are not -inf (two passes, in double). */
static float sigma_bar(const cria_token_data_array *cur, float n)
{
    float max = -INFINITY;
    double sum = 0.0;
    size_t valid = 0;
    for (size_t i = 0; i < cur->size; i++) {
        const float x = cur->data[i].logit;
        if (x != -INFINITY) {
            max = x > max ? x : max;
            sum += (double)x;
            valid++;
        }
    }
    const double mean = valid ? sum / (double)valid : 0.0;
    double acc = 0.0;
    for (size_t i = 0; i < cur->size; i++) {
        const float x = cur->data[i].logit;
        if (x != -INFINITY)
            acc += ((double)x - mean) * ((double)x - mean);
    }
    const float sd = valid ? (float)sqrt(acc / (double)valid) : 0.0f;
    return max - n * sd;
}

static void sigma_apply_ref(cria_sampler *s, cria_token_data_array *cur)
{
    const float n = ((sigma_sampler *)s)->n;
    if (n <= 0.0f || cur->size <= 1)
        return;
    const float bar = sigma_bar(cur, n);
    for (size_t i = 0; i < cur->size; i++) {
        if (cur->data[i].logit < bar)
            cur->data[i].logit = -INFINITY;
    }
    cria_cand_softmax_ref(cur);
}

/*
 * Same result without sorting the whole vocabulary: a stable partition puts
 * the survivors first (sorted alone) and the masked tokens after them, which
 * are already in id order when the input was.
 */
static void sigma_apply(cria_sampler *s, cria_token_data_array *cur)
{
    sigma_sampler *t = (sigma_sampler *)s;
    if (t->n <= 0.0f || cur->size <= 1)
        return;
    if (cur->size > t->cap) {
        free(t->tmp);
        t->tmp = malloc(cur->size * sizeof *t->tmp);
        t->cap = t->tmp ? cur->size : 0;
        if (!t->tmp) {
            sigma_apply_ref(s, cur);
            return;
        }
    }
    const float bar = sigma_bar(cur, t->n);
    cria_token_data *d = cur->data;
    size_t kept = 0, masked = 0;
    for (size_t i = 0; i < cur->size; i++) {
        if (d[i].logit < bar || d[i].logit == -INFINITY) {
            t->tmp[masked] = d[i];
            t->tmp[masked++].logit = -INFINITY;
        } else {
            d[kept++] = d[i];
        }
    }
    memcpy(d + kept, t->tmp, masked * sizeof *d);
    cria_token_data_array head = {.data = d, .size = kept, .selected = -1, .sorted = cur->sorted};
    cria_cand_sort(&head, &t->sort);
    bool ids_sorted = true;
    for (size_t i = kept + 1; i < cur->size && ids_sorted; i++)
        ids_sorted = d[i - 1].id < d[i].id;
    if (!ids_sorted) {
        cria_token_data_array tail = {.data = d + kept, .size = masked, .selected = -1, .sorted = 0};
        cria_cand_sort_ref(&tail);
    }
    cur->sorted = 1;
    cria_cand_softmax(cur, false, NULL);
}

static cria_raw_result sigma_apply_raw(cria_sampler *s, cria_raw_logits *raw, cria_token_data_array *cur)
{
    (void)raw;
    (void)cur;
    return ((sigma_sampler *)s)->n <= 0.0f ? CRIA_RAW_KEPT : CRIA_RAW_NONE;
}

static void sigma_free(cria_sampler *s)
{
    free(((sigma_sampler *)s)->tmp);
    cria_sort_buf_free(&((sigma_sampler *)s)->sort);
}

static const cria_sampler_iface sigma_iface = {
    .name = "top-n-sigma",
    .apply = sigma_apply,
    .apply_ref = sigma_apply_ref,
    .apply_raw = sigma_apply_raw,
    .free = sigma_free,
};

cria_sampler *cria_sampler_init_top_n_sigma(float n)
{
    sigma_sampler *t = (sigma_sampler *)cria_sampler_new(&sigma_iface, sizeof *t);
    if (t)
        t->n = n;
    return t ? &t->base : NULL;
}
