/*
 * Chat templates: a conversation (role, content pairs) rendered as the one
 * prompt string a model was trained on. cria does not run Jinja: it detects
 * the family of a GGUF's tokenizer.chat_template by its marker strings and
 * renders that family's fixed format, as llama.cpp's built-in templates do.
 */
#ifndef CRIA_SERVER_CHAT_H
#define CRIA_SERVER_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "cria.h"

typedef enum cria_chat_template {
    CRIA_CHAT_CHATML,  /* <|im_start|>role\n...<|im_end|> */
    CRIA_CHAT_LLAMA2,  /* [INST] <<SYS>> ... <</SYS>> ... [/INST] */
    CRIA_CHAT_LLAMA3,  /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    CRIA_CHAT_ZEPHYR,  /* <|user|>\n...</s> */
    CRIA_CHAT_GEMMA,   /* <start_of_turn>user\n...<end_of_turn> (assistant is "model") */
    CRIA_CHAT_COUNT,
} cria_chat_template;

typedef struct cria_chat_msg {
    const char *role;    /* "system", "user", "assistant" (others are rendered as given) */
    const char *content; /* NUL-terminated */
} cria_chat_msg;

/* "chatml", "llama2", "llama3", "zephyr", "gemma". */
const char *cria_chat_template_name(cria_chat_template t);

/* The template called name (also "llama-2", "llama-3"); false for an unknown name. */
bool cria_chat_template_from_name(const char *name, cria_chat_template *out);

/* The family of a Jinja template text by its markers; false when none matches. */
bool cria_chat_template_detect(const char *jinja, size_t len, cria_chat_template *out);

/*
 * The family of the tokenizer.chat_template of the GGUF file at path. Returns
 * false (leaving *out) when the file is not a GGUF, has no template, or its
 * template matches no family; *had_template says whether one was there.
 */
bool cria_chat_template_from_file(const char *path, cria_chat_template *out, bool *had_template);

/*
 * Renders msgs as template t and, with add_assistant, opens the assistant's
 * turn. No BOS: the tokenizer adds it. Returns a malloc'd NUL-terminated
 * string (its length in *len), or NULL when out of memory.
 */
char *cria_chat_render(cria_chat_template t, const cria_chat_msg *msgs, size_t n, bool add_assistant, size_t *len);

#endif
