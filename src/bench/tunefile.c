/* The tuning file: keys, the folder, and the JSON written by cria tune and read by run, bench, batch and serve. */
#include "bench/tunefile.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/dtype.h"
#include "base/error.h"
#include "model/model.h"

void cria_tune_cpu_key(char *buf, size_t cap)
{
    char name[128] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) != 0)
                continue;
            const char *v = strchr(line, ':');
            if (!v)
                break;
            for (v++; *v == ' ' || *v == '\t'; v++) {
            }
            size_t n = strcspn(v, "\n");
            while (n > 0 && isspace((unsigned char)v[n - 1]))
                n--;
            if (n > 0)
                snprintf(name, sizeof name, "%.*s", (int)n, v);
            break;
        }
        fclose(f);
    }
    /* The CPUs this process may use are part of the key: thread counts tuned on 16 CPUs are wrong on 4. */
    cpu_set_t set;
    int n_cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(buf, cap, "%s, %d CPUs", name, n_cpus);
}

void cria_tune_shape_key(const cria_model *model, char *buf, size_t cap)
{
    cria_model_info mi;
    cria_model_get_info(model, &mi);
    const char *type = model->hp.n_layer > 0 ? cria_dtype_name(model->layers[0].wq.type) : "?";
    snprintf(buf, cap, "%s v%d d%d ff%d l%d h%d kv%d %s", mi.arch, mi.n_vocab, mi.n_embd, mi.n_ff, mi.n_layer,
             mi.n_head, mi.n_head_kv, type);
}

/* Appends s to out as a file-name fragment: lower-case letters and digits, runs of anything else as one '-'. */
static void slug(const char *s, char *out, size_t cap, size_t *len)
{
    bool dash = *len > 0;
    for (; *s && *len + 2 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '.' || c == '_') {
            if (dash && *len > 0)
                out[(*len)++] = '-';
            dash = false;
            out[(*len)++] = (char)tolower(c);
        } else {
            dash = true;
        }
    }
    out[*len] = '\0';
}

/* The tuning folder into buf. */
static cria_status tune_dir(char *buf, size_t cap, cria_error *err)
{
    const char *dir = getenv("CRIA_TUNE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (dir && *dir)
        n = snprintf(buf, cap, "%s", dir);
    else if (xdg && *xdg)
        n = snprintf(buf, cap, "%s/cria/tune", xdg);
    else if (home && *home)
        n = snprintf(buf, cap, "%s/.cache/cria/tune", home);
    else
        return cria_err_set(err, CRIA_ERR_ARG, "no tuning folder: set CRIA_TUNE_DIR (or HOME)");
    if (n < 0 || (size_t)n >= cap)
        return cria_err_set(err, CRIA_ERR_ARG, "tuning folder path is too long");
    return CRIA_OK;
}

cria_status cria_tune_path(const char *cpu, const char *shape, char *buf, size_t cap, cria_error *err)
{
    char dir[1024];
    cria_status st = tune_dir(dir, sizeof dir, err);
    if (st != CRIA_OK)
        return st;
    char name[256];
    size_t len = 0;
    slug(cpu, name, sizeof name, &len);
    slug(shape, name, sizeof name, &len);
    int n = snprintf(buf, cap, "%s/%s.json", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return cria_err_set(err, CRIA_ERR_ARG, "tuning file path is too long");
    return CRIA_OK;
}

void cria_tune_thresholds_spec(const cria_tuning *t, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s=%lld,%s=%lld", cria_op_name(CRIA_OP_MATMUL),
             (long long)t->thresholds.min_work[CRIA_OP_MATMUL], cria_op_name(CRIA_OP_ATTENTION),
             (long long)t->thresholds.min_work[CRIA_OP_ATTENTION]);
}

/* mkdir -p of the folder holding path. */
static cria_status make_parent(const char *path, cria_error *err)
{
    char dir[1024];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return cria_err_set(err, CRIA_ERR_ARG, "tuning file path is too long");
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return CRIA_OK;
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            const char c = *p;
            *p = '\0';
            if (mkdir(dir, 0755) != 0 && errno != EEXIST)
                return cria_err_set(err, CRIA_ERR_IO, "cannot create folder %s: %s", dir, strerror(errno));
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return CRIA_OK;
}

static cJSON *to_json(const cria_tuning *t)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "cria_tune", CRIA_TUNE_VERSION);
    cJSON_AddStringToObject(root, "cpu", t->cpu);
    cJSON_AddStringToObject(root, "shape", t->shape);
    cJSON_AddStringToObject(root, "model", t->model);
    cJSON_AddStringToObject(root, "mode", t->mode);
    cJSON_AddStringToObject(root, "created", t->created);
    cJSON_AddNumberToObject(root, "seconds", t->seconds);
    cJSON_AddNumberToObject(root, "n_threads", t->n_threads);
    cJSON_AddNumberToObject(root, "n_threads_batch", t->n_threads_batch);
    cJSON_AddNumberToObject(root, "poll", t->poll);
    cJSON *cfg = cJSON_AddObjectToObject(root, "batch_config");
    cJSON_AddNumberToObject(cfg, "n_seq", t->cfg_seq);
    cJSON_AddNumberToObject(cfg, "n_threads", t->cfg_threads);
    cJSON *th = cJSON_AddObjectToObject(root, "thresholds");
    for (int op = 0; op < CRIA_OP_COUNT; op++)
        cJSON_AddNumberToObject(th, cria_op_name((cria_op)op), (double)t->thresholds.min_work[op]);
    cJSON *rows = cJSON_AddArrayToObject(root, "measured");
    for (int32_t i = 0; i < t->n_rows; i++) {
        const cria_tune_row *r = &t->rows[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "search", r->search);
        cJSON_AddStringToObject(o, "setting", r->setting);
        cJSON_AddNumberToObject(o, "value", r->value);
        cJSON_AddStringToObject(o, "unit", r->unit);
        cJSON_AddBoolToObject(o, "best", r->best);
        cJSON_AddItemToArray(rows, o);
    }
    return root;
}

cria_status cria_tunefile_write(const char *path, const cria_tuning *t, cria_error *err)
{
    cria_status st = make_parent(path, err);
    if (st != CRIA_OK)
        return st;
    cJSON *root = to_json(t);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for the tuning file");
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        free(text);
        return cria_err_set(err, CRIA_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    }
    bool ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    ok = fclose(f) == 0 && ok;
    free(text);
    /* A rename, so a reader never sees half a file. */
    if (!ok || rename(tmp, path) != 0) {
        const int e = errno;
        unlink(tmp);
        return cria_err_set(err, CRIA_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    return CRIA_OK;
}

/* Reads an integer field in lo..hi; false after filling err. */
static bool get_int(const cJSON *o, const char *name, double lo, double hi, const char *path, int64_t *out,
                    cria_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi || v->valuedouble != (double)(int64_t)v->valuedouble) {
        cria_err_set(err, CRIA_ERR_FORMAT, "tuning file %s: '%s' is missing or not an integer in %.0f..%.0f", path,
                     name, lo, hi);
        return false;
    }
    *out = (int64_t)v->valuedouble;
    return true;
}

/* Copies a string field; required ones missing fill err and return false. */
static bool get_str(const cJSON *o, const char *name, bool required, const char *path, char *out, size_t cap,
                    cria_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(v)) {
        out[0] = '\0';
        if (required)
            cria_err_set(err, CRIA_ERR_FORMAT, "tuning file %s: '%s' is missing or not a string", path, name);
        return !required;
    }
    snprintf(out, cap, "%s", v->valuestring);
    return true;
}

static cria_status from_json(const cJSON *root, const char *path, cria_tuning *t, cria_error *err)
{
    memset(t, 0, sizeof *t);
    int64_t v, nt, ntb, poll, seq = 1, cthr = 1;
    if (!cJSON_IsObject(root))
        return cria_err_set(err, CRIA_ERR_FORMAT, "tuning file %s: not a JSON object", path);
    if (!get_int(root, "cria_tune", 0, 1e9, path, &v, err))
        return CRIA_ERR_FORMAT;
    if (v != CRIA_TUNE_VERSION)
        return cria_err_set(err, CRIA_ERR_FORMAT, "tuning file %s: version %lld, this cria reads version %d (run cria tune again)",
                            path, (long long)v, CRIA_TUNE_VERSION);
    if (!get_str(root, "cpu", true, path, t->cpu, sizeof t->cpu, err) ||
        !get_str(root, "shape", true, path, t->shape, sizeof t->shape, err) ||
        !get_str(root, "model", false, path, t->model, sizeof t->model, err) ||
        !get_str(root, "mode", false, path, t->mode, sizeof t->mode, err) ||
        !get_str(root, "created", false, path, t->created, sizeof t->created, err) ||
        !get_int(root, "n_threads", 1, 1024, path, &nt, err) ||
        !get_int(root, "n_threads_batch", 1, 1024, path, &ntb, err) || !get_int(root, "poll", 0, 100, path, &poll, err))
        return CRIA_ERR_FORMAT;
    t->n_threads = (int32_t)nt;
    t->n_threads_batch = (int32_t)ntb;
    t->poll = (int32_t)poll;
    const cJSON *secs = cJSON_GetObjectItemCaseSensitive(root, "seconds");
    t->seconds = cJSON_IsNumber(secs) ? secs->valuedouble : 0.0;
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "batch_config");
    if (cfg && (!get_int(cfg, "n_seq", 1, 1024, path, &seq, err) || !get_int(cfg, "n_threads", 1, 1024, path, &cthr, err)))
        return CRIA_ERR_FORMAT;
    t->cfg_seq = (int32_t)seq;
    t->cfg_threads = (int32_t)cthr;
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(root, "thresholds");
    if (!cJSON_IsObject(th))
        return cria_err_set(err, CRIA_ERR_FORMAT, "tuning file %s: 'thresholds' is missing or not an object", path);
    for (int op = 0; op < CRIA_OP_COUNT; op++) {
        if (!get_int(th, cria_op_name((cria_op)op), 1, 1e15, path, &v, err))
            return CRIA_ERR_FORMAT;
        t->thresholds.min_work[op] = v;
    }
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(root, "measured"), *r;
    if (!cJSON_IsArray(rows))
        return CRIA_OK; /* the table is information only */
    cJSON_ArrayForEach(r, rows)
    {
        if (t->n_rows == CRIA_TUNE_MAX_ROWS || !cJSON_IsObject(r))
            break;
        cria_tune_row *row = &t->rows[t->n_rows];
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(r, "value");
        get_str(r, "search", false, path, row->search, sizeof row->search, err);
        get_str(r, "setting", false, path, row->setting, sizeof row->setting, err);
        get_str(r, "unit", false, path, row->unit, sizeof row->unit, err);
        row->value = cJSON_IsNumber(val) ? val->valuedouble : 0.0;
        row->best = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "best"));
        t->n_rows++;
    }
    return CRIA_OK;
}

cria_status cria_tunefile_read(const char *path, cria_tuning *t, cria_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cria_err_set(err, CRIA_ERR_IO, "cannot open tuning file %s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    bool too_big = false;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            if (cap >= (1u << 22)) { /* a tuning file is a few KiB */
                too_big = true;
                break;
            }
            cap = cap ? cap * 2 : 8192;
            char *grown = realloc(text, cap);
            if (!grown)
                break;
            text = grown;
        }
        size_t got = fread(text + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    const bool failed = ferror(f) != 0;
    fclose(f);
    if (!text || failed || too_big) {
        free(text);
        return cria_err_set(err, too_big ? CRIA_ERR_FORMAT : CRIA_ERR_IO, "cannot read tuning file %s%s", path,
                            too_big ? ": larger than 4 MiB" : "");
    }
    text[len] = '\0';
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root)
        return cria_err_set(err, CRIA_ERR_FORMAT, "tuning file %s: not valid JSON", path);
    cria_status st = from_json(root, path, t, err);
    cJSON_Delete(root);
    return st;
}

cria_tune_found cria_tunefile_lookup(const char *cpu, const char *shape, cria_tuning *t, char *path, size_t cap,
                                     cria_error *why)
{
    if (cria_tune_path(cpu, shape, path, cap, why) != CRIA_OK) {
        path[0] = '\0';
        return CRIA_TUNE_NONE;
    }
    if (access(path, F_OK) != 0)
        return CRIA_TUNE_NONE;
    if (cria_tunefile_read(path, t, why) != CRIA_OK)
        return CRIA_TUNE_IGNORED;
    if (strcmp(t->cpu, cpu) != 0 || strcmp(t->shape, shape) != 0) {
        cria_err_set(why, CRIA_ERR_FORMAT, "tuning file %s is for \"%s\" / \"%s\", not this \"%s\" / \"%s\"", path,
                     t->cpu, t->shape, cpu, shape);
        return CRIA_TUNE_IGNORED;
    }
    return CRIA_TUNE_LOADED;
}

void cria_tuning_print(FILE *f, const cria_tuning *t)
{
    fprintf(f, "\n| %-12s | %-14s | %12s | %4s |\n", "search", "setting", "measured", "best");
    fprintf(f, "| ------------ | -------------- | -----------: | ---- |\n");
    for (int32_t i = 0; i < t->n_rows; i++) {
        const cria_tune_row *r = &t->rows[i];
        char val[32];
        snprintf(val, sizeof val, "%.2f %s", r->value, r->unit);
        fprintf(f, "| %-12s | %-14s | %12s | %4s |\n", r->search, r->setting, val, r->best ? "*" : "");
    }
    char spec[96];
    cria_tune_thresholds_spec(t, spec, sizeof spec);
    fprintf(f, "\ncpu: %s\nmodel shape: %s\n", t->cpu, t->shape);
    fprintf(f, "chosen: -t %d -tb %d --poll %d, thresholds %s; batch throughput: %dx%d (sequences x threads)\n",
            t->n_threads, t->n_threads_batch, t->poll, spec, t->cfg_seq, t->cfg_threads);
}
