#include "quant/quantize_model.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/cpu.h"
#include "kernels/vec.h"
#include "parallel/pool.h"
#include "quant/quant.h"

/* ggml's GGML_QNT_VERSION: the block layouts these files use. */
#define QUANTIZATION_VERSION 2

static const cria_quant_mix mixes[] = {
    {"f32", CRIA_FTYPE_ALL_F32, CRIA_DTYPE_F32},   {"f16", CRIA_FTYPE_F16, CRIA_DTYPE_F16},
    {"bf16", CRIA_FTYPE_BF16, CRIA_DTYPE_BF16},    {"q8_0", CRIA_FTYPE_Q8_0, CRIA_DTYPE_Q8_0},
    {"q4_0", CRIA_FTYPE_Q4_0, CRIA_DTYPE_Q4_0},    {"q4_1", CRIA_FTYPE_Q4_1, CRIA_DTYPE_Q4_1},
    {"q5_0", CRIA_FTYPE_Q5_0, CRIA_DTYPE_Q5_0},    {"q5_1", CRIA_FTYPE_Q5_1, CRIA_DTYPE_Q5_1},
    {"q2_k", CRIA_FTYPE_Q2_K, CRIA_DTYPE_Q2_K},
    {"q3_k_s", CRIA_FTYPE_Q3_K_S, CRIA_DTYPE_Q3_K}, {"q3_k_m", CRIA_FTYPE_Q3_K_M, CRIA_DTYPE_Q3_K},
    {"q3_k_l", CRIA_FTYPE_Q3_K_L, CRIA_DTYPE_Q3_K}, {"q4_k_s", CRIA_FTYPE_Q4_K_S, CRIA_DTYPE_Q4_K},
    {"q4_k_m", CRIA_FTYPE_Q4_K_M, CRIA_DTYPE_Q4_K}, {"q5_k_s", CRIA_FTYPE_Q5_K_S, CRIA_DTYPE_Q5_K},
    {"q5_k_m", CRIA_FTYPE_Q5_K_M, CRIA_DTYPE_Q5_K}, {"q6_k", CRIA_FTYPE_Q6_K, CRIA_DTYPE_Q6_K},
    {"tq1_0", CRIA_FTYPE_TQ1_0, CRIA_DTYPE_TQ1_0}, {"tq2_0", CRIA_FTYPE_TQ2_0, CRIA_DTYPE_TQ2_0},
};

/* llama-quantize's short names for the _m mixes. */
static const struct {
    const char *alias, *name;
} aliases[] = {{"q3_k", "q3_k_m"}, {"q4_k", "q4_k_m"}, {"q5_k", "q5_k_m"}};

const cria_quant_mix *cria_quant_mix_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(name, aliases[i].alias) == 0)
            name = aliases[i].name;
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++)
        if (strcasecmp(name, mixes[i].name) == 0)
            return &mixes[i];
    return NULL;
}

void cria_quant_mix_names(char *buf, size_t cap)
{
    size_t used = 0;
    if (!cap)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0] && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", mixes[i].name);
}

/* ---- the per-tensor type choice -------------------------------------------------- */

static bool has(const char *name, const char *part)
{
    return strstr(name, part) != NULL;
}

/* llama.cpp's choice of the layers that get more bits: the first and last eighth, and every third in between. */
static bool use_more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* The layer number of a "blk.N." name, 0 for other tensors. */
static int layer_of(const char *name)
{
    int l = 0;
    if (sscanf(name, "blk.%d.", &l) != 1 || l < 0)
        l = 0;
    return l;
}

/* Highest dimension above 1, plus one (ggml_n_dims): a [n, 1] tensor is 1-D. */
static uint32_t real_dims(uint32_t n_dims, const uint64_t *ne)
{
    uint32_t d = 1;
    for (uint32_t i = 1; i < n_dims && i < CRIA_GGUF_MAX_DIMS; i++)
        if (ne[i] > 1)
            d = i + 1;
    return d;
}

/* Whether llama.cpp converts the tensor at all (it copies the rest unchanged). */
static bool convertible(const char *name, uint32_t n_dims, const uint64_t *ne)
{
    static const char *const never[] = {
        "_norm.weight", "ffn_gate_inp.weight", "ssm_conv1d.weight", "time_mix_first.weight",
        "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
        "time_mix_lerp_fused.weight", "attn_rel_b.weight",
    };
    size_t len = strlen(name);
    if (len < 6 || strcmp(name + len - 6, "weight") != 0 || real_dims(n_dims, ne) < 2)
        return false;
    if (!strcmp(name, "position_embd.weight") || !strcmp(name, "token_types.weight"))
        return false;
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (has(name, never[i]))
            return false;
    return true;
}

/* llama_tensor_get_type's rules for the file types cria writes (no experts, no Falcon, no 70B special case). */
static cria_dtype mix_type(const cria_quant_mix *mix, const cria_quant_model *m, const char *name, uint64_t ne0)
{
    const cria_ftype f = mix->ftype;
    cria_dtype t = mix->base;
    const int n_layer = m->n_layer > 0 ? m->n_layer : 1, i_layer = layer_of(name);
    const bool classifier =
        !strcmp(name, "output.weight") || (!m->has_output && !strcmp(name, "token_embd.weight"));
    if (classifier) {
        if (ne0 % cria_dtype_get(t)->block != 0)
            t = CRIA_DTYPE_Q8_0;
        else if (t != CRIA_DTYPE_Q8_0)
            t = CRIA_DTYPE_Q6_K;
    } else if (!strcmp(name, "token_embd.weight")) {
        if (f == CRIA_FTYPE_TQ1_0 || f == CRIA_FTYPE_TQ2_0)
            t = CRIA_DTYPE_Q4_K;
    } else if (has(name, "attn_v.weight")) {
        const int i = i_layer, n = m->n_attn_v > 0 ? m->n_attn_v : n_layer;
        if (f == CRIA_FTYPE_Q2_K)
            t = m->n_gqa >= 4 ? CRIA_DTYPE_Q4_K : CRIA_DTYPE_Q3_K;
        else if (f == CRIA_FTYPE_Q3_K_M)
            t = i < 2 ? CRIA_DTYPE_Q5_K : CRIA_DTYPE_Q4_K;
        else if (f == CRIA_FTYPE_Q3_K_L)
            t = CRIA_DTYPE_Q5_K;
        else if ((f == CRIA_FTYPE_Q4_K_M || f == CRIA_FTYPE_Q5_K_M) && use_more_bits(i, n))
            t = CRIA_DTYPE_Q6_K;
        else if (f == CRIA_FTYPE_Q4_K_S && i < 4)
            t = CRIA_DTYPE_Q5_K;
    } else if (has(name, "attn_k.weight") || has(name, "attn_q.weight")) {
        /* only the IQ mixes and 8-expert models change these */
    } else if (has(name, "ffn_down")) {
        const int i = i_layer, n = n_layer;
        if (f == CRIA_FTYPE_Q2_K)
            t = CRIA_DTYPE_Q3_K;
        else if (f == CRIA_FTYPE_Q3_K_M)
            t = i < n / 16 ? CRIA_DTYPE_Q5_K : CRIA_DTYPE_Q4_K;
        else if (f == CRIA_FTYPE_Q3_K_L)
            t = CRIA_DTYPE_Q5_K;
        else if (f == CRIA_FTYPE_Q4_K_M) {
            if (use_more_bits(i, n))
                t = CRIA_DTYPE_Q6_K;
        } else if (f == CRIA_FTYPE_Q5_K_M && use_more_bits(i, n))
            t = CRIA_DTYPE_Q6_K;
        else if (f == CRIA_FTYPE_Q4_K_S && i < n / 8)
            t = CRIA_DTYPE_Q5_K;
    } else if (has(name, "attn_output.weight")) {
        if (f == CRIA_FTYPE_Q2_K)
            t = CRIA_DTYPE_Q3_K;
        else if (f == CRIA_FTYPE_Q3_K_M)
            t = CRIA_DTYPE_Q4_K;
        else if (f == CRIA_FTYPE_Q3_K_L)
            t = CRIA_DTYPE_Q5_K;
    } else if (has(name, "attn_qkv.weight")) {
        if (f == CRIA_FTYPE_Q3_K_M || f == CRIA_FTYPE_Q3_K_L)
            t = CRIA_DTYPE_Q4_K;
        else if (f == CRIA_FTYPE_Q4_K_M)
            t = CRIA_DTYPE_Q5_K;
        else if (f == CRIA_FTYPE_Q5_K_M)
            t = CRIA_DTYPE_Q6_K;
    }
    return t;
}

/* The type a row of length ne0 can take instead of t (llama.cpp's fallbacks; see the header). */
static cria_dtype fallback_for(cria_dtype t, uint64_t ne0)
{
    switch (t) {
    case CRIA_DTYPE_TQ1_0:
    case CRIA_DTYPE_TQ2_0:
    case CRIA_DTYPE_Q2_K:
    case CRIA_DTYPE_Q3_K:
        t = CRIA_DTYPE_Q4_0;
        break;
    case CRIA_DTYPE_Q4_K:
        t = CRIA_DTYPE_Q5_0;
        break;
    case CRIA_DTYPE_Q5_K:
        t = CRIA_DTYPE_Q5_1;
        break;
    case CRIA_DTYPE_Q6_K:
        t = CRIA_DTYPE_Q8_0;
        break;
    default:
        t = CRIA_DTYPE_F16;
        break;
    }
    return ne0 % cria_dtype_get(t)->block == 0 ? t : CRIA_DTYPE_F16;
}

cria_dtype cria_quant_choose_type(const cria_quant_mix *mix, const cria_quant_model *m, const char *name,
                                  uint32_t n_dims, const uint64_t *ne, cria_dtype in_type, bool *fallback)
{
    if (fallback)
        *fallback = false;
    if (!convertible(name, n_dims, ne))
        return in_type;
    cria_dtype t = mix->base;
    if (cria_quant_is_quantized(t) && !m->pure)
        t = mix_type(mix, m, name, ne[0]);
    if (ne[0] % cria_dtype_get(t)->block != 0) {
        t = fallback_for(t, ne[0]);
        if (fallback)
            *fallback = true;
    }
    return t;
}

/* ---- row conversion -------------------------------------------------------------- */

/* n floats into type t (F32, F16, BF16 or a block type; n a multiple of its block). */
static cria_status convert_floats(cria_dtype t, const float *x, void *y, int64_t n, cria_error *err)
{
    switch (t) {
    case CRIA_DTYPE_F32:
        memcpy(y, x, (size_t)n * sizeof *x);
        return CRIA_OK;
    case CRIA_DTYPE_F16:
        cria_vec_for(cria_isa_active())->f32_to_f16(n, x, y);
        return CRIA_OK;
    case CRIA_DTYPE_BF16:
        cria_vec_for(cria_isa_active())->f32_to_bf16(n, x, y);
        return CRIA_OK;
    default:
        return cria_quantize_row(t, x, y, n, err);
    }
}

/* ---- the streaming writer -------------------------------------------------------- */

enum {
    SCRATCH_FLOATS = 1 << 18,    /* per thread: rows produced as floats at a time (1 MiB) */
    CHUNK_BYTES = 16 << 20,      /* converted bytes handed to the file at a time */
};

typedef struct qdriver {
    cria_pool *pool;
    int nth;
    uint64_t done, total;
    cria_quant_progress_fn progress;
    void *progress_ctx;
} qdriver;

typedef struct qfill {
    qdriver *d;
    const cria_qtensor *t;
} qfill;

/* One chunk of rows, split over the threads. */
typedef struct qchunk {
    const cria_qtensor *t;
    int64_t row0, nrows, n_per_row, scratch_rows;
    uint64_t row_bytes;
    float *scratch; /* nth x scratch_rows x n_per_row */
    uint8_t *out;
    atomic_int failed;
    atomic_llong next; /* first row not yet taken */
} qchunk;

/*
 * Threads take scratch_rows rows at a time from a shared counter, so one
 * slowed by other work on the machine delays no one.
 */
static void convert_task(void *arg, int ith, int nth)
{
    qchunk *c = arg;
    (void)nth;
    float *x = c->scratch + (size_t)ith * (size_t)c->scratch_rows * (size_t)c->n_per_row;
    for (;;) {
        const int64_t r = atomic_fetch_add(&c->next, c->scratch_rows);
        if (r >= c->nrows)
            break;
        const int64_t k = c->nrows - r < c->scratch_rows ? c->nrows - r : c->scratch_rows;
        c->t->rows(c->t->rows_ctx, c->row0 + r, k, x);
        cria_error e;
        if (convert_floats(c->t->type, x, c->out + (size_t)r * c->row_bytes, k * c->n_per_row, &e) != CRIA_OK)
            atomic_store(&c->failed, 1);
    }
}

static cria_status fill_tensor(void *ctx, cria_gguf_sink *sink, cria_error *err)
{
    const qfill *f = ctx;
    qdriver *d = f->d;
    const cria_qtensor *t = f->t;
    const int64_t n_per_row = (int64_t)t->ne[0];
    int64_t nrows = 1;
    for (uint32_t i = 1; i < t->n_dims; i++)
        nrows *= (int64_t)t->ne[i];
    uint64_t row_bytes;
    if (!cria_dtype_row_bytes(t->type, t->ne[0], &row_bytes))
        return cria_err_set(err, CRIA_ERR_ARG, "tensor %s: rows of %lld do not fit type %s", t->name,
                            (long long)n_per_row, cria_dtype_name(t->type));
    int64_t scratch_rows = SCRATCH_FLOATS / n_per_row;
    if (scratch_rows < 1)
        scratch_rows = 1;
    int64_t chunk_rows = (int64_t)(CHUNK_BYTES / row_bytes);
    if (chunk_rows < d->nth * scratch_rows)
        chunk_rows = d->nth * scratch_rows;
    if (chunk_rows > nrows)
        chunk_rows = nrows;
    if (scratch_rows > chunk_rows)
        scratch_rows = chunk_rows;
    qchunk c = {.t = t, .n_per_row = n_per_row, .scratch_rows = scratch_rows, .row_bytes = row_bytes};
    c.scratch = malloc((size_t)d->nth * (size_t)scratch_rows * (size_t)n_per_row * sizeof *c.scratch);
    c.out = malloc((size_t)chunk_rows * (size_t)row_bytes);
    cria_status st = CRIA_OK;
    if (!c.scratch || !c.out)
        st = cria_err_set(err, CRIA_ERR_NOMEM, "tensor %s: out of memory for the conversion buffers", t->name);
    for (int64_t r = 0; st == CRIA_OK && r < nrows; r += chunk_rows) {
        c.row0 = r;
        c.nrows = nrows - r < chunk_rows ? nrows - r : chunk_rows;
        atomic_store(&c.failed, 0);
        atomic_store(&c.next, 0);
        int nth = (int64_t)d->nth < c.nrows ? d->nth : (int)c.nrows;
        cria_pool_run(d->pool, nth, convert_task, &c);
        if (atomic_load(&c.failed))
            st = cria_err_set(err, CRIA_ERR_ARG, "tensor %s: cannot convert rows to %s", t->name,
                              cria_dtype_name(t->type));
        else if (!cria_gguf_sink_put(sink, c.out, (size_t)c.nrows * (size_t)row_bytes))
            st = cria_err_set(err, CRIA_ERR_IO, "tensor %s: cannot write: %s", t->name, strerror(errno ? errno : EIO));
        d->done += (uint64_t)c.nrows * (uint64_t)n_per_row;
        if (d->progress)
            d->progress(d->progress_ctx, d->done, d->total, t);
    }
    free(c.scratch);
    free(c.out);
    return st;
}

static uint64_t n_elements(const cria_qtensor *t)
{
    uint64_t n = 1;
    for (uint32_t i = 0; i < t->n_dims; i++)
        n *= t->ne[i];
    return n;
}

cria_status cria_quant_write(cria_gguf_writer *w, const cria_qtensor *ts, size_t n, const char *path,
                             int n_threads, cria_quant_progress_fn progress, void *progress_ctx, cria_error *err)
{
    qdriver d = {.nth = n_threads > 0 ? n_threads : 1, .progress = progress, .progress_ctx = progress_ctx};
    qfill *fills = calloc(n ? n : 1, sizeof *fills);
    if (!fills)
        return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory", path);
    cria_status st = cria_pool_init(d.nth, &d.pool, err);
    for (size_t i = 0; st == CRIA_OK && i < n; i++) {
        const cria_qtensor *t = &ts[i];
        if (!t->raw)
            d.total += n_elements(t);
        fills[i] = (qfill){&d, t};
        bool ok = t->raw ? cria_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->raw)
                         : cria_gguf_writer_add_tensor_fill(w, t->name, t->type, t->n_dims, t->ne, fill_tensor,
                                                            &fills[i]);
        if (!ok)
            st = cria_err_set(err, CRIA_ERR_ARG, "%s: cannot add tensor %s as %s (a duplicate name, or rows of %llu "
                                                 "not a multiple of the block)",
                              path, t->name, cria_dtype_name(t->type), (unsigned long long)t->ne[0]);
    }
    if (st == CRIA_OK)
        st = cria_gguf_writer_write(w, path, err);
    cria_pool_free(d.pool);
    free(fills);
    return st;
}

/* ---- cria quantize --------------------------------------------------------------- */

typedef struct src_tensor {
    const void *data;
    cria_dtype type;
    int64_t n_per_row;
} src_tensor;

static void rows_from_file(const void *ctx, int64_t row0, int64_t nrows, float *dst)
{
    const src_tensor *s = ctx;
    const size_t n = (size_t)(nrows * s->n_per_row), first = (size_t)(row0 * s->n_per_row);
    const cria_vec_kernels *k = cria_vec_for(cria_isa_active());
    if (s->type == CRIA_DTYPE_F32)
        memcpy(dst, (const float *)s->data + first, n * sizeof *dst);
    else if (s->type == CRIA_DTYPE_F16)
        k->f16_to_f32((int64_t)n, (const uint16_t *)s->data + first, dst);
    else
        k->bf16_to_f32((int64_t)n, (const uint16_t *)s->data + first, dst);
}

/* The name as a C string, or false when it does not fit a cria_qtensor. */
static bool copy_name(char *dst, size_t cap, cria_gguf_str s)
{
    if (s.len >= cap || memchr(s.ptr, '\0', (size_t)s.len))
        return false;
    memcpy(dst, s.ptr, (size_t)s.len);
    dst[s.len] = '\0';
    return true;
}

/* The shape facts the mixes use, from the metadata and the tensor names. */
static void model_facts(const cria_gguf *g, cria_quant_model *m, cria_error *err)
{
    cria_gguf_str arch = {0};
    char key[160], a[64] = "llama";
    if (cria_gguf_get_str(g, "general.architecture", &arch, err) && arch.len < sizeof a) {
        memcpy(a, arch.ptr, (size_t)arch.len);
        a[arch.len] = '\0';
    }
    uint32_t v, heads = 0, kv_heads = 0;
    snprintf(key, sizeof key, "%s.block_count", a);
    if (cria_gguf_get_u32(g, key, &v, err))
        m->n_layer = (int32_t)v;
    snprintf(key, sizeof key, "%s.attention.head_count", a);
    if (cria_gguf_get_u32(g, key, &v, err))
        heads = v;
    snprintf(key, sizeof key, "%s.attention.head_count_kv", a);
    if (cria_gguf_get_u32(g, key, &v, err))
        kv_heads = v;
    m->n_gqa = heads && kv_heads ? (int32_t)(heads / kv_heads) : 1;
    for (uint64_t i = 0; i < cria_gguf_n_tensors(g); i++) {
        const cria_gguf_tensor *t = cria_gguf_tensor_at(g, i);
        char name[96];
        if (!copy_name(name, sizeof name, t->name))
            continue;
        if (has(name, "attn_v.weight") || has(name, "attn_qkv.weight") || has(name, "attn_kv_b.weight"))
            m->n_attn_v++;
        else if (!strcmp(name, "output.weight"))
            m->has_output = true;
    }
}

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

cria_status cria_quantize_model(const cria_quantize_params *p, cria_quantize_report *rep, cria_error *err)
{
    memset(rep, 0, sizeof *rep);
    if (!p->mix)
        return cria_err_set(err, CRIA_ERR_ARG, "no target type given");
    struct stat si, so;
    if (stat(p->in_path, &si) != 0)
        return cria_err_set(err, CRIA_ERR_IO, "%s: cannot open: %s", p->in_path, strerror(errno));
    if (stat(p->out_path, &so) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
        return cria_err_set(err, CRIA_ERR_ARG, "%s: the output is the input file; give another output path",
                            p->out_path);
    cria_gguf *g = NULL;
    cria_status st = cria_gguf_open(p->in_path, &g, err);
    if (st != CRIA_OK)
        return st;
    const uint64_t n = cria_gguf_n_tensors(g);
    cria_qtensor *ts = calloc(n ? n : 1, sizeof *ts);
    src_tensor *srcs = calloc(n ? n : 1, sizeof *srcs);
    cria_gguf_writer *w = cria_gguf_writer_init(cria_gguf_alignment(g));
    if (!ts || !srcs || !w) {
        st = cria_err_set(err, CRIA_ERR_NOMEM, "out of memory");
        goto done;
    }
    cria_quant_model m = {.pure = p->pure};
    model_facts(g, &m, err);
    for (uint64_t i = 0; i < cria_gguf_n_kv(g); i++) {
        const cria_gguf_kv *kv = cria_gguf_kv_at(g, i);
        if (!cria_gguf_writer_copy_kv(w, g, kv)) {
            st = cria_err_set(err, CRIA_ERR_UNSUPPORTED, "%s: cannot copy metadata key %.*s", p->in_path,
                              (int)(kv->key.len < 200 ? kv->key.len : 200), kv->key.ptr);
            goto done;
        }
    }
    if (!cria_gguf_writer_set_u32(w, "general.quantization_version", QUANTIZATION_VERSION) ||
        !cria_gguf_writer_set_u32(w, "general.file_type", (uint32_t)p->mix->ftype)) {
        st = cria_err_set(err, CRIA_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (uint64_t i = 0; i < n; i++) {
        const cria_gguf_tensor *gt = cria_gguf_tensor_at(g, i);
        cria_qtensor *t = &ts[i];
        if (!copy_name(t->name, sizeof t->name, gt->name)) {
            st = cria_err_set(err, CRIA_ERR_UNSUPPORTED, "%s: tensor %llu: name too long", p->in_path,
                              (unsigned long long)i);
            goto done;
        }
        if (cria_quant_is_quantized(gt->type)) {
            st = cria_err_set(err, CRIA_ERR_UNSUPPORTED,
                              "%s: tensor %s is already quantized (%s); quantize from an F32, F16 or BF16 file",
                              p->in_path, t->name, cria_dtype_name(gt->type));
            goto done;
        }
        t->n_dims = gt->n_dims;
        memcpy(t->ne, gt->ne, sizeof t->ne);
        bool fb = false;
        t->type = cria_quant_choose_type(p->mix, &m, t->name, gt->n_dims, gt->ne, gt->type, &fb);
        rep->n_elements += gt->n_elements;
        rep->in_tensor_bytes += gt->n_bytes;
        if (t->type == gt->type) {
            t->raw = gt->data;
        } else if (gt->type == CRIA_DTYPE_F32 || gt->type == CRIA_DTYPE_F16 || gt->type == CRIA_DTYPE_BF16) {
            srcs[i] = (src_tensor){gt->data, gt->type, (int64_t)gt->ne[0]};
            t->rows = rows_from_file;
            t->rows_ctx = &srcs[i];
            rep->n_converted++;
            rep->n_fallback += fb;
        } else {
            st = cria_err_set(err, CRIA_ERR_UNSUPPORTED, "%s: tensor %s has type %s; cannot convert it to %s",
                              p->in_path, t->name, cria_dtype_name(gt->type), cria_dtype_name(t->type));
            goto done;
        }
        uint64_t row, bytes = 0;
        if (cria_dtype_row_bytes(t->type, t->ne[0], &row))
            bytes = row * (gt->n_elements / t->ne[0]);
        rep->out_tensor_bytes += bytes;
        rep->n_by_type[t->type]++;
    }
    rep->n_tensors = (int32_t)n;
    rep->in_file_bytes = cria_gguf_file_size(g);
    st = cria_quant_write(w, ts, (size_t)n, p->out_path, p->n_threads, p->progress, p->progress_ctx, err);
    if (st == CRIA_OK)
        rep->out_file_bytes = file_size(p->out_path);
done:
    cria_gguf_writer_free(w);
    free(srcs);
    free(ts);
    cria_gguf_close(g);
    return st;
}
