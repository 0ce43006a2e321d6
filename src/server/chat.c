/*
 * Chat templates (chat.h): detection by marker strings and one renderer per
 * family, following llama.cpp's built-in formats (llm_chat_apply_template).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "server/chat.h"

static const char *const names[CRIA_CHAT_COUNT] = {
    [CRIA_CHAT_CHATML] = "chatml", [CRIA_CHAT_LLAMA2] = "llama2", [CRIA_CHAT_LLAMA3] = "llama3",
    [CRIA_CHAT_ZEPHYR] = "zephyr", [CRIA_CHAT_GEMMA] = "gemma",
};

const char *cria_chat_template_name(cria_chat_template t)
{
    return (unsigned)t < CRIA_CHAT_COUNT ? names[t] : "unknown";
}

bool cria_chat_template_from_name(const char *name, cria_chat_template *out)
{
    static const struct {
        const char *alias;
        cria_chat_template t;
    } aliases[] = {{"llama-2", CRIA_CHAT_LLAMA2}, {"llama-3", CRIA_CHAT_LLAMA3}};
    for (int i = 0; i < CRIA_CHAT_COUNT; i++) {
        if (!strcmp(name, names[i])) {
            *out = (cria_chat_template)i;
            return true;
        }
    }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (!strcmp(name, aliases[i].alias)) {
            *out = aliases[i].t;
            return true;
        }
    }
    return false;
}

static bool contains(const char *s, size_t len, const char *needle)
{
    return memmem(s, len, needle, strlen(needle)) != NULL;
}

bool cria_chat_template_detect(const char *jinja, size_t len, cria_chat_template *out)
{
    /* Most specific markers first: a Llama 3 template never has [INST], a Mistral one has no <|im_start|>. */
    static const struct {
        const char *marker;
        cria_chat_template t;
    } markers[] = {
        {"<|start_header_id|>", CRIA_CHAT_LLAMA3},
        {"<|im_start|>", CRIA_CHAT_CHATML},
        {"<start_of_turn>", CRIA_CHAT_GEMMA},
        {"[INST]", CRIA_CHAT_LLAMA2},
        {"<|user|>", CRIA_CHAT_ZEPHYR},
    };
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++) {
        if (contains(jinja, len, markers[i].marker)) {
            *out = markers[i].t;
            return true;
        }
    }
    return false;
}

bool cria_chat_template_from_file(const char *path, cria_chat_template *out, bool *had_template)
{
    *had_template = false;
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    const bool is_gguf = fread(magic, 1, 4, f) == 4 && !memcmp(magic, "GGUF", 4);
    fclose(f);
    cria_gguf *g = NULL;
    if (!is_gguf || cria_gguf_open(path, &g, NULL) != CRIA_OK)
        return false;
    cria_gguf_str s;
    bool found = false;
    if (cria_gguf_get_str(g, "tokenizer.chat_template", &s, NULL)) {
        *had_template = true;
        found = cria_chat_template_detect(s.ptr, (size_t)s.len, out);
    }
    cria_gguf_close(g);
    return found;
}

/* ---- rendering ------------------------------------------------------------------------ */

typedef struct chat_buf {
    char *p;
    size_t len, cap;
    bool oom;
} chat_buf;

static void put_n(chat_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put(chat_buf *b, const char *s)
{
    put_n(b, s, strlen(s));
}

/* s without leading and trailing white space, as llama.cpp trims message contents for some families. */
static void put_trimmed(chat_buf *b, const char *s)
{
    size_t n = strlen(s);
    while (n && strchr(" \t\r\n", s[n - 1]))
        n--;
    while (n && strchr(" \t\r\n", *s)) {
        s++;
        n--;
    }
    put_n(b, s, n);
}

static bool is_role(const cria_chat_msg *m, const char *role)
{
    return !strcmp(m->role, role);
}

static void render_llama2(chat_buf *b, const cria_chat_msg *msgs, size_t n)
{
    bool in_turn = false, first = true;
    for (size_t i = 0; i < n; i++) {
        const cria_chat_msg *m = &msgs[i];
        if (!in_turn && !is_role(m, "assistant")) {
            put(b, first ? "[INST] " : "<s>[INST] ");
            in_turn = true;
            first = false;
        }
        if (is_role(m, "system")) {
            put(b, "<<SYS>>\n");
            put_trimmed(b, m->content);
            put(b, "\n<</SYS>>\n\n");
        } else if (is_role(m, "assistant")) {
            put(b, " ");
            put_trimmed(b, m->content);
            put(b, "</s>");
            in_turn = false;
        } else {
            put_trimmed(b, m->content);
            put(b, " [/INST]");
        }
    }
}

static void render_gemma(chat_buf *b, const cria_chat_msg *msgs, size_t n, bool add_assistant)
{
    const char *system = NULL; /* gemma has no system role: it goes before the next user message */
    for (size_t i = 0; i < n; i++) {
        const cria_chat_msg *m = &msgs[i];
        if (is_role(m, "system")) {
            system = m->content;
            continue;
        }
        put(b, "<start_of_turn>");
        put(b, is_role(m, "assistant") ? "model" : m->role);
        put(b, "\n");
        if (system && is_role(m, "user")) {
            put_trimmed(b, system);
            put(b, "\n\n");
            system = NULL;
        }
        put_trimmed(b, m->content);
        put(b, "<end_of_turn>\n");
    }
    if (add_assistant)
        put(b, "<start_of_turn>model\n");
}

char *cria_chat_render(cria_chat_template t, const cria_chat_msg *msgs, size_t n, bool add_assistant, size_t *len)
{
    chat_buf b = {0};
    put(&b, "");
    switch (t) {
    case CRIA_CHAT_LLAMA2:
        render_llama2(&b, msgs, n);
        break;
    case CRIA_CHAT_GEMMA:
        render_gemma(&b, msgs, n, add_assistant);
        break;
    case CRIA_CHAT_LLAMA3:
        for (size_t i = 0; i < n; i++) {
            put(&b, "<|start_header_id|>");
            put(&b, msgs[i].role);
            put(&b, "<|end_header_id|>\n\n");
            put_trimmed(&b, msgs[i].content);
            put(&b, "<|eot_id|>");
        }
        if (add_assistant)
            put(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case CRIA_CHAT_ZEPHYR:
        for (size_t i = 0; i < n; i++) {
            put(&b, "<|");
            put(&b, msgs[i].role);
            put(&b, "|>\n");
            put(&b, msgs[i].content);
            put(&b, "</s>\n");
        }
        if (add_assistant)
            put(&b, "<|assistant|>\n");
        break;
    case CRIA_CHAT_CHATML:
    case CRIA_CHAT_COUNT:
    default:
        for (size_t i = 0; i < n; i++) {
            put(&b, "<|im_start|>");
            put(&b, msgs[i].role);
            put(&b, "\n");
            put(&b, msgs[i].content);
            put(&b, "<|im_end|>\n");
        }
        if (add_assistant)
            put(&b, "<|im_start|>assistant\n");
        break;
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
