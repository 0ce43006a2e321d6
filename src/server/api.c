/*
 * OpenAI-style request parsing and response writing (api.h), on cJSON.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "server/api.h"

bool cria_api_fail(cria_api_error *e, int status, const char *type, const char *code, const char *fmt, ...)
{
    e->status = status;
    e->type = type;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return false;
}

char *cria_api_error_json(const cria_api_error *e)
{
    cJSON *root = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(root, "error");
    char *msg = cria_api_utf8_clean(e->msg, strlen(e->msg));
    char *s = NULL;
    if (o && msg && cJSON_AddStringToObject(o, "message", msg) && cJSON_AddStringToObject(o, "type", e->type) &&
        (e->code ? cJSON_AddStringToObject(o, "code", e->code) != NULL : cJSON_AddNullToObject(o, "code") != NULL))
        s = cJSON_PrintUnformatted(root);
    free(msg);
    cJSON_Delete(root);
    return s;
}

char *cria_api_utf8_clean(const char *s, size_t len)
{
    char *out = malloc(len * 3 + 1); /* each bad byte becomes 3 */
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        const unsigned c = p[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = n > 0 && i + n <= len && c != 0;
        for (size_t k = 1; ok && k < n; k++)
            ok = (p[i + k] & 0xC0) == 0x80;
        if (ok && n == 2)
            ok = c >= 0xC2;
        if (ok && n == 3) {
            const unsigned cp = ((c & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6);
            ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
        }
        if (ok && n == 4) {
            const unsigned cp = ((c & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12);
            ok = cp >= 0x10000 && cp <= 0x10FFFF;
        }
        if (ok) {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- requests ------------------------------------------------------------------------- */

#define BAD(err, ...) cria_api_fail(err, 400, "invalid_request_error", NULL, __VA_ARGS__)

/* The member key of obj, or NULL when absent or JSON null (both mean "not given"). */
static const cJSON *field(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* A number in [lo, hi] into *out; true (unchanged) when absent. */
static bool get_num(const cJSON *obj, const char *key, double lo, double hi, float *out, cria_api_error *err)
{
    const cJSON *v = field(obj, key);
    if (!v)
        return true;
    if (!cJSON_IsNumber(v))
        return BAD(err, "'%s' must be a number", key);
    if (!(v->valuedouble >= lo && v->valuedouble <= hi))
        return BAD(err, "'%s' must be between %g and %g, got %g", key, lo, hi, v->valuedouble);
    *out = (float)v->valuedouble;
    return true;
}

/* An integer in [lo, hi] into *out; true (unchanged) when absent. */
static bool get_int(const cJSON *obj, const char *key, double lo, double hi, int64_t *out, cria_api_error *err)
{
    const cJSON *v = field(obj, key);
    if (!v)
        return true;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        return BAD(err, "'%s' must be an integer", key);
    if (!(v->valuedouble >= lo && v->valuedouble <= hi))
        return BAD(err, "'%s' must be between %.0f and %.0f, got %.0f", key, lo, hi, v->valuedouble);
    *out = (int64_t)v->valuedouble;
    return true;
}

static bool get_bool(const cJSON *obj, const char *key, bool *out, cria_api_error *err)
{
    const cJSON *v = field(obj, key);
    if (!v)
        return true;
    if (!cJSON_IsBool(v))
        return BAD(err, "'%s' must be true or false", key);
    *out = cJSON_IsTrue(v);
    return true;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static bool parse_stop(const cJSON *root, cria_api_request *r, cria_api_error *err)
{
    const cJSON *v = field(root, "stop");
    if (!v)
        return true;
    if (cJSON_IsString(v)) {
        if (!v->valuestring[0])
            return BAD(err, "'stop' must not be empty");
        r->stop[0] = dup_str(v->valuestring);
        r->n_stop = 1;
        return r->stop[0] || cria_api_fail(err, 500, "server_error", NULL, "out of memory");
    }
    if (!cJSON_IsArray(v))
        return BAD(err, "'stop' must be a string or an array of strings");
    if (cJSON_GetArraySize(v) > CRIA_API_MAX_STOP)
        return BAD(err, "'stop' has more than %d strings", CRIA_API_MAX_STOP);
    const cJSON *s;
    cJSON_ArrayForEach(s, v) {
        if (!cJSON_IsString(s) || !s->valuestring[0])
            return BAD(err, "'stop' must hold non-empty strings");
        if (!(r->stop[r->n_stop] = dup_str(s->valuestring)))
            return cria_api_fail(err, 500, "server_error", NULL, "out of memory");
        r->n_stop++;
    }
    return true;
}

/* The text of a message's content: a string, or an array of {"type": "text", "text": ...} parts (joined). */
static char *message_text(const cJSON *content, size_t i, cria_api_error *err)
{
    if (!content)
        return dup_str("");
    if (cJSON_IsString(content))
        return dup_str(content->valuestring);
    if (!cJSON_IsArray(content)) {
        BAD(err, "'messages[%zu].content' must be a string or an array of text parts", i);
        return NULL;
    }
    size_t n = 1;
    const cJSON *p;
    cJSON_ArrayForEach(p, content) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (!cJSON_IsString(t)) {
            BAD(err, "'messages[%zu].content' parts must be {\"type\": \"text\", \"text\": \"...\"}", i);
            return NULL;
        }
        n += strlen(t->valuestring);
    }
    char *s = malloc(n);
    if (!s)
        return NULL;
    s[0] = '\0';
    cJSON_ArrayForEach(p, content)
        strcat(s, cJSON_GetObjectItemCaseSensitive(p, "text")->valuestring);
    return s;
}

static bool parse_messages(const cJSON *root, cria_chat_template tmpl, cria_api_request *r, cria_api_error *err)
{
    const cJSON *msgs = field(root, "messages");
    if (!msgs)
        return BAD(err, "'messages' is required");
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
        return BAD(err, "'messages' must be a non-empty array");
    const size_t n = (size_t)cJSON_GetArraySize(msgs);
    cria_chat_msg *cm = calloc(n, sizeof *cm);
    char **texts = calloc(n, sizeof *texts);
    bool ok = cm && texts;
    if (!ok)
        cria_api_fail(err, 500, "server_error", NULL, "out of memory");
    size_t i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs) {
        if (!ok)
            break;
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsObject(m) || !cJSON_IsString(role)) {
            ok = BAD(err, "'messages[%zu]' must be an object with a string 'role'", i);
            break;
        }
        err->status = 0;
        texts[i] = message_text(field(m, "content"), i, err);
        if (!texts[i]) {
            ok = err->status ? false : cria_api_fail(err, 500, "server_error", NULL, "out of memory");
            break;
        }
        cm[i] = (cria_chat_msg){.role = role->valuestring, .content = texts[i]};
        i++;
    }
    if (ok) {
        r->prompt = cria_chat_render(tmpl, cm, n, true, &r->prompt_len);
        if (!r->prompt)
            ok = cria_api_fail(err, 500, "server_error", NULL, "out of memory");
    }
    for (size_t k = 0; texts && k < n; k++)
        free(texts[k]);
    free(texts);
    free(cm);
    return ok;
}

static bool parse_prompt(const cJSON *root, cria_api_request *r, cria_api_error *err)
{
    const cJSON *p = field(root, "prompt");
    if (!p)
        return BAD(err, "'prompt' is required");
    if (cJSON_IsArray(p)) { /* OpenAI allows a list of prompts: one per request here */
        if (cJSON_GetArraySize(p) != 1)
            return BAD(err, "'prompt' as an array must hold exactly one string");
        p = cJSON_GetArrayItem(p, 0);
    }
    if (!cJSON_IsString(p))
        return BAD(err, "'prompt' must be a string");
    r->prompt = dup_str(p->valuestring);
    r->prompt_len = strlen(p->valuestring);
    return r->prompt || cria_api_fail(err, 500, "server_error", NULL, "out of memory");
}

static bool parse_sampling(const cJSON *root, uint64_t seed, cria_api_request *r, cria_api_error *err)
{
    cria_sampler_params *sp = &r->sampling;
    *sp = cria_sampler_default_params();
    int64_t top_k = sp->top_k, s = -1;
    if (!get_num(root, "temperature", 0, 100, &sp->temp, err) || !get_num(root, "top_p", 0, 1, &sp->top_p, err) ||
        !get_num(root, "min_p", 0, 1, &sp->min_p, err) || !get_int(root, "top_k", 0, 1e9, &top_k, err) ||
        !get_int(root, "seed", -1, 9007199254740991.0, &s, err) ||
        !get_num(root, "presence_penalty", -2, 2, &sp->penalty_present, err) ||
        !get_num(root, "frequency_penalty", -2, 2, &sp->penalty_freq, err) ||
        !get_num(root, "repeat_penalty", 0, 100, &sp->penalty_repeat, err))
        return false;
    sp->top_k = (int32_t)top_k;
    sp->seed = s >= 0 ? (uint64_t)s : seed;
    return true;
}

/*
 * Completions: logprobs N (OpenAI's legacy integer); chat: logprobs true with
 * top_logprobs N; both: llama.cpp's n_probs N, which turns them on when N > 0
 * and the OpenAI fields do not say otherwise.
 */
static bool parse_logprobs(const cJSON *root, bool chat, cria_api_request *r, cria_api_error *err)
{
    const double hi = CRIA_SCHED_MAX_PROBS;
    int64_t n_probs = 0, n = -1;
    bool on = false;
    if (!get_int(root, "n_probs", 0, hi, &n_probs, err))
        return false;
    if (chat) {
        if (!get_bool(root, "logprobs", &on, err) || !get_int(root, "top_logprobs", 0, hi, &n, err))
            return false;
        if (n >= 0 && !on)
            return BAD(err, "'top_logprobs' needs 'logprobs': true");
        if (!field(root, "logprobs") && n_probs > 0)
            on = true;
    } else {
        const cJSON *v = field(root, "logprobs");
        if (v && !cJSON_IsNumber(v))
            return BAD(err, "'logprobs' must be an integer between 0 and %d (the alternatives per token)",
                       CRIA_SCHED_MAX_PROBS);
        if (!get_int(root, "logprobs", 0, hi, &n, err))
            return false;
        on = n >= 0 || n_probs > 0;
    }
    r->logprobs = on;
    r->n_probs = on ? (int32_t)(n >= 0 ? n : n_probs) : 0;
    return true;
}

bool cria_api_parse_request(const char *body, size_t len, bool chat, cria_chat_template tmpl, uint64_t seed,
                            cria_api_request *out, cria_api_error *err)
{
    memset(out, 0, sizeof *out);
    out->chat = chat;
    out->max_tokens = -1;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root)
        return BAD(err, "the body is not valid JSON");
    bool ok = true;
    int64_t max_tokens = -1, n = 1;
    if (!cJSON_IsObject(root))
        ok = BAD(err, "the body must be a JSON object");
    if (ok)
        ok = chat ? parse_messages(root, tmpl, out, err) : parse_prompt(root, out, err);
    /* max_tokens: 1 .. 2^31-1 here; the slot's context is checked once the prompt is tokenized */
    ok = ok && get_int(root, "n_predict", 1, INT32_MAX, &max_tokens, err) &&
         get_int(root, "max_tokens", 1, INT32_MAX, &max_tokens, err) &&
         get_int(root, "max_completion_tokens", 1, INT32_MAX, &max_tokens, err) &&
         get_int(root, "n", 1, 1, &n, err) && get_bool(root, "stream", &out->stream, err) &&
         get_bool(root, "ignore_eos", &out->ignore_eos, err) && parse_sampling(root, seed, out, err) &&
         parse_stop(root, out, err) && parse_logprobs(root, chat, out, err);
    out->max_tokens = (int32_t)max_tokens;
    cJSON_Delete(root);
    return ok;
}

void cria_api_request_free(cria_api_request *r)
{
    free(r->prompt);
    for (int32_t i = 0; i < r->n_stop; i++)
        free(r->stop[i]);
    memset(r, 0, sizeof *r);
}

/* ---- responses ------------------------------------------------------------------------ */

static bool add_usage(cJSON *root, const cria_api_result *r)
{
    cJSON *u = cJSON_AddObjectToObject(root, "usage"), *t = cJSON_AddObjectToObject(root, "timings");
    if (!u || !t)
        return false;
    const double pms = r->prompt_ms, gms = r->gen_ms;
    return cJSON_AddNumberToObject(u, "prompt_tokens", r->n_prompt) &&
           cJSON_AddNumberToObject(u, "completion_tokens", r->n_gen) &&
           cJSON_AddNumberToObject(u, "total_tokens", r->n_prompt + r->n_gen) &&
           cJSON_AddNumberToObject(t, "prompt_n", r->n_prompt) && cJSON_AddNumberToObject(t, "prompt_ms", pms) &&
           cJSON_AddNumberToObject(t, "prompt_per_token_ms", r->n_prompt ? pms / r->n_prompt : 0.0) &&
           cJSON_AddNumberToObject(t, "prompt_per_second", pms > 0 ? 1e3 * r->n_prompt / pms : 0.0) &&
           cJSON_AddNumberToObject(t, "predicted_n", r->n_gen) && cJSON_AddNumberToObject(t, "predicted_ms", gms) &&
           cJSON_AddNumberToObject(t, "predicted_per_token_ms", r->n_gen ? gms / r->n_gen : 0.0) &&
           cJSON_AddNumberToObject(t, "predicted_per_second", gms > 0 ? 1e3 * r->n_gen / gms : 0.0);
}

/* The envelope shared by responses and chunks: id, object, created, model, and an empty choices array. */
static cJSON *envelope(const cria_api_result *r, const char *object, cJSON **choice)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    if (!cJSON_AddStringToObject(root, "id", r->id) || !cJSON_AddStringToObject(root, "object", object) ||
        !cJSON_AddNumberToObject(root, "created", (double)r->created) ||
        !cJSON_AddStringToObject(root, "model", r->model)) {
        cJSON_Delete(root);
        return NULL;
    }
    cJSON *choices = cJSON_AddArrayToObject(root, "choices"), *c = cJSON_CreateObject();
    if (!choices || !c || !cJSON_AddItemToArray(choices, c)) {
        cJSON_Delete(c);
        cJSON_Delete(root);
        return NULL;
    }
    *choice = c;
    if (!cJSON_AddNumberToObject(c, "index", 0)) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* The text of token t (JSON-safe, malloc'd) and its raw bytes in raw[0, *n_raw). */
static char *token_text(const cria_api_result *r, cria_token t, char *raw, int32_t cap, int32_t *n_raw)
{
    int32_t n = r->piece ? r->piece(r->piece_user, t, raw, cap) : -1;
    *n_raw = n > 0 && n <= cap ? n : 0;
    return cria_api_utf8_clean(raw, (size_t)*n_raw);
}

/*
 * A token's name in completions' shape, where top_logprobs uses it as a key:
 * its text, or, when that is not valid UTF-8 (a byte token, part of a
 * character), "bytes:\xe2\x80" as OpenAI writes them, so that different
 * byte tokens do not all become the same U+FFFD key (malloc'd).
 */
static char *completion_token(const cria_api_result *r, cria_token t)
{
    char raw[256];
    int32_t n_raw;
    char *tok = token_text(r, t, raw, (int32_t)sizeof raw, &n_raw);
    if (!tok || (strlen(tok) == (size_t)n_raw && !memcmp(tok, raw, (size_t)n_raw)))
        return tok;
    free(tok);
    char *b = malloc(6 + 4 * (size_t)n_raw + 1);
    if (!b)
        return NULL;
    memcpy(b, "bytes:", 7);
    for (int32_t i = 0; i < n_raw; i++)
        snprintf(b + 6 + 4 * i, 5, "\\x%02x", (unsigned char)raw[i]);
    return b;
}

/*
 * Completions' shape: {tokens, token_logprobs, top_logprobs: [{token:
 * logprob}], text_offset}. Two alternatives of the same name: the first
 * (likelier) stays.
 */
static bool add_completion_logprobs(cJSON *choice, const cria_api_result *r)
{
    cJSON *o = cJSON_AddObjectToObject(choice, "logprobs");
    cJSON *toks = o ? cJSON_AddArrayToObject(o, "tokens") : NULL;
    cJSON *lps = o ? cJSON_AddArrayToObject(o, "token_logprobs") : NULL;
    cJSON *tops = o ? cJSON_AddArrayToObject(o, "top_logprobs") : NULL;
    cJSON *offs = o ? cJSON_AddArrayToObject(o, "text_offset") : NULL;
    bool ok = toks && lps && tops && offs;
    for (int32_t i = 0; ok && i < r->n_lp; i++) {
        const cria_sched_logprobs *e = &r->lp[i];
        char *tok = completion_token(r, e->token);
        cJSON *top = cJSON_CreateObject();
        ok = tok && top && cJSON_AddItemToArray(toks, cJSON_CreateString(tok)) &&
             cJSON_AddItemToArray(lps, cJSON_CreateNumber(e->logprob)) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber(e->text_offset));
        free(tok);
        for (int32_t k = 0; ok && k < e->n_top; k++) {
            char *alt = completion_token(r, e->top[k].token);
            ok = alt && (cJSON_GetObjectItemCaseSensitive(top, alt) ||
                         cJSON_AddNumberToObject(top, alt, e->top[k].logprob));
            free(alt);
        }
        if (!top || !cJSON_AddItemToArray(tops, top)) {
            cJSON_Delete(top);
            ok = false;
        }
    }
    return ok;
}

/* One chat entry: {token, logprob, bytes}, into obj. */
static bool add_chat_token(cJSON *obj, const cria_api_result *r, cria_token t, float logprob)
{
    char raw[256];
    int32_t n_raw;
    char *tok = token_text(r, t, raw, (int32_t)sizeof raw, &n_raw);
    cJSON *bytes = NULL;
    bool ok = tok && cJSON_AddStringToObject(obj, "token", tok) && cJSON_AddNumberToObject(obj, "logprob", logprob) &&
              (bytes = cJSON_AddArrayToObject(obj, "bytes"));
    for (int32_t i = 0; ok && i < n_raw; i++)
        ok = cJSON_AddItemToArray(bytes, cJSON_CreateNumber((unsigned char)raw[i]));
    free(tok);
    return ok;
}

/* Chat's shape: {content: [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}. */
static bool add_chat_logprobs(cJSON *choice, const cria_api_result *r)
{
    cJSON *o = cJSON_AddObjectToObject(choice, "logprobs");
    cJSON *content = o ? cJSON_AddArrayToObject(o, "content") : NULL;
    bool ok = content != NULL;
    for (int32_t i = 0; ok && i < r->n_lp; i++) {
        const cria_sched_logprobs *e = &r->lp[i];
        cJSON *item = cJSON_CreateObject();
        if (!item || !cJSON_AddItemToArray(content, item)) {
            cJSON_Delete(item);
            return false;
        }
        cJSON *tops = NULL;
        ok = add_chat_token(item, r, e->token, e->logprob) && (tops = cJSON_AddArrayToObject(item, "top_logprobs"));
        for (int32_t k = 0; ok && k < e->n_top; k++) {
            cJSON *alt = cJSON_CreateObject();
            if (!alt || !cJSON_AddItemToArray(tops, alt)) {
                cJSON_Delete(alt);
                return false;
            }
            ok = add_chat_token(alt, r, e->top[k].token, e->top[k].logprob);
        }
    }
    return ok;
}

/* choices[0].logprobs: null unless asked for. */
static bool add_logprobs(cJSON *choice, const cria_api_result *r)
{
    if (!r->want_lp)
        return cJSON_AddNullToObject(choice, "logprobs") != NULL;
    return r->chat ? add_chat_logprobs(choice, r) : add_completion_logprobs(choice, r);
}

static bool add_finish(cJSON *choice, const char *finish)
{
    return finish ? cJSON_AddStringToObject(choice, "finish_reason", finish) != NULL
                  : cJSON_AddNullToObject(choice, "finish_reason") != NULL;
}

char *cria_api_response_json(const cria_api_result *r)
{
    cJSON *choice;
    cJSON *root = envelope(r, r->chat ? "chat.completion" : "text_completion", &choice);
    char *text = cria_api_utf8_clean(r->text, r->len);
    char *s = NULL;
    bool ok = root && text;
    if (ok && r->chat) {
        cJSON *m = cJSON_AddObjectToObject(choice, "message");
        ok = m && cJSON_AddStringToObject(m, "role", "assistant") && cJSON_AddStringToObject(m, "content", text);
    } else if (ok) {
        ok = cJSON_AddStringToObject(choice, "text", text) != NULL;
    }
    if (ok && add_logprobs(choice, r) && add_finish(choice, r->finish) && add_usage(root, r))
        s = cJSON_PrintUnformatted(root);
    free(text);
    cJSON_Delete(root);
    return s;
}

char *cria_api_chunk_sse(const cria_api_result *r, bool first, size_t *n)
{
    cJSON *choice;
    cJSON *root = envelope(r, r->chat ? "chat.completion.chunk" : "text_completion", &choice);
    char *text = cria_api_utf8_clean(r->text, r->len);
    char *json = NULL, *sse = NULL;
    bool ok = root && text;
    if (ok && r->chat) {
        cJSON *d = cJSON_AddObjectToObject(choice, "delta");
        ok = d && (!first || cJSON_AddStringToObject(d, "role", "assistant")) &&
             (!r->len || cJSON_AddStringToObject(d, "content", text));
    } else if (ok) {
        ok = cJSON_AddStringToObject(choice, "text", text) != NULL;
    }
    ok = ok && add_logprobs(choice, r) && add_finish(choice, r->finish) && (!r->finish || add_usage(root, r));
    if (ok)
        json = cJSON_PrintUnformatted(root);
    if (json) {
        const size_t jn = strlen(json);
        sse = malloc(jn + 9);
        if (sse) {
            memcpy(sse, "data: ", 6);
            memcpy(sse + 6, json, jn);
            memcpy(sse + 6 + jn, "\n\n", 3);
            *n = jn + 8;
        }
    }
    free(json);
    free(text);
    cJSON_Delete(root);
    return sse;
}
