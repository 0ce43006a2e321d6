/*
 * cria tokenize: text in, token ids out, as llama-tokenize prints them: one
 * line per token "    id -> 'piece'", or with --ids one line "[id, id, ...]".
 *
 * A GGUF file is read for its vocabulary only (no weights are mapped or
 * checked), so it works for any architecture and for vocab-only files such
 * as the GGUFs in ../shared/vocab. A llama2.c checkpoint is loaded as a model with
 * its --vocab tokenizer.bin; --vocab alone reads just the tokenizer.bin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "base/error.h"
#include "commands.h"
#include "cria.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "tokenizer/vocab.h"

typedef struct tok_opts {
    const char *model, *vocab, *prompt, *file;
    bool ids, no_bos, special, show_count;
} tok_opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: cria tokenize -m MODEL (-p TEXT | -f FILE) [options]\n"
               "\n"
               "  -m, --model FILE    GGUF file (its vocabulary alone is read) or llama2.c checkpoint\n"
               "      --vocab FILE    tokenizer.bin for a llama2.c checkpoint (alone: tokenize with it)\n"
               "  -p, --prompt TEXT   text to tokenize\n"
               "  -f, --file FILE     read the text from FILE\n"
               "      --ids           print only the ids, as [id, id, ...]\n"
               "      --no-bos        never add BOS (or EOS), even when the vocabulary asks for it\n"
               "      --special       parse special tokens in the text (<|endoftext|>, <|im_start|>, <s>)\n"
               "      --show-count    print the number of tokens at the end\n"
               "  -h, --help          this help\n");
}

/* 1 on success, 0 on a bad command line (reported), -1 for help. */
static int parse(int argc, char **argv, tok_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return -1;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            ok = cria_arg_str(argc, argv, &i, &o->model);
        else if (!strcmp(a, "--vocab"))
            ok = cria_arg_str(argc, argv, &i, &o->vocab);
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt"))
            ok = cria_arg_str(argc, argv, &i, &o->prompt);
        else if (!strcmp(a, "-f") || !strcmp(a, "--file"))
            ok = cria_arg_str(argc, argv, &i, &o->file);
        else if (!strcmp(a, "--ids"))
            o->ids = true;
        else if (!strcmp(a, "--no-bos"))
            o->no_bos = true;
        else if (!strcmp(a, "--special"))
            o->special = true;
        else if (!strcmp(a, "--show-count"))
            o->show_count = true;
        else {
            cria_app_error("unknown option '%s' (cria tokenize -h)", a);
            return 0;
        }
        if (!ok)
            return 0;
    }
    if (!o->model && !o->vocab) {
        cria_app_error("no model: give -m MODEL (cria tokenize -h)");
        return 0;
    }
    if (!o->prompt == !o->file) {
        cria_app_error("give the text with exactly one of -p TEXT or -f FILE");
        return 0;
    }
    return 1;
}

static bool is_gguf(const char *path)
{
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    return got == 4 && !memcmp(magic, "GGUF", 4);
}

/* Reads a whole file into a malloc'd buffer; NULL (reported) on failure. */
static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cria_app_error("%s: cannot open", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            break;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    bool bad = ferror(f) != 0;
    fclose(f);
    if (!buf || bad) {
        free(buf);
        cria_app_error("%s: cannot read", path);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Prints token t as llama-tokenize does; control and unknown tokens show their stored text. */
static void print_token(const cria_vocab *v, cria_token t)
{
    cria_token_type ty = cria_vocab_token_type(v, t);
    printf("%6d -> '", t);
    if (ty == CRIA_TOKEN_CONTROL || ty == CRIA_TOKEN_UNKNOWN) {
        fputs(cria_vocab_piece_raw(v, t), stdout);
    } else {
        char small[256];
        int32_t n = cria_vocab_token_to_piece(v, t, small, sizeof small);
        char *buf = small;
        if (n < 0 && (buf = malloc((size_t)-n)) != NULL)
            n = cria_vocab_token_to_piece(v, t, buf, -n);
        if (n > 0)
            fwrite(buf, 1, (size_t)n, stdout);
        if (buf != small)
            free(buf);
    }
    fputs("'\n", stdout);
}

int cria_cmd_tokenize(int argc, char **argv)
{
    tok_opts o;
    int p = parse(argc, argv, &o);
    if (p <= 0) {
        usage(p < 0 ? stdout : stderr);
        return p < 0 ? 0 : 1;
    }
    int rc = 1;
    cria_error err;
    memset(&err, 0, sizeof err);
    cria_model *model = NULL;
    cria_gguf *g = NULL;
    cria_vocab *own = NULL; /* a vocabulary read on its own */
    const cria_vocab *v = NULL;
    char *file_text = NULL;
    cria_token *ids = NULL;
    cria_status st;
    if (o.model && is_gguf(o.model)) {
        st = cria_gguf_open(o.model, &g, &err);
        if (st == CRIA_OK)
            st = cria_vocab_load_gguf(g, &own, &err);
        v = own;
    } else if (o.model) {
        cria_model_params mp = cria_model_default_params();
        mp.vocab_path = o.vocab;
        mp.no_repack = 1; /* nothing is computed */
        st = cria_model_load(o.model, &mp, &model, &err);
        v = model ? cria_model_vocab(model) : NULL;
        if (st == CRIA_OK && !v)
            st = cria_err_set(&err, CRIA_ERR_ARG, "%s: no vocabulary (give the tokenizer.bin with --vocab)", o.model);
    } else {
        st = cria_vocab_load_llama2c(o.vocab, 0, &own, &err);
        v = own;
    }
    if (st != CRIA_OK) {
        cria_app_error("%s", err.msg);
        goto done;
    }

    const char *text = o.prompt;
    size_t len = o.prompt ? strlen(o.prompt) : 0;
    if (o.file && !(text = file_text = read_text(o.file, &len)))
        goto done;
    bool add = !o.no_bos;
    int32_t n = cria_vocab_tokenize_ex(v, text, len, NULL, 0, add, o.special);
    if (n < 0 && n != INT32_MIN) {
        ids = malloc((size_t)-n * sizeof *ids);
        if (!ids) {
            cria_app_error("out of memory for %d tokens", -n);
            goto done;
        }
        n = cria_vocab_tokenize_ex(v, text, len, ids, -n, add, o.special);
    }
    if (n < 0) {
        cria_app_error("cannot tokenize the text");
        goto done;
    }
    if (o.ids) {
        putchar('[');
        for (int32_t i = 0; i < n; i++)
            printf("%s%d", i ? ", " : "", ids[i]);
        puts("]");
    } else {
        for (int32_t i = 0; i < n; i++)
            print_token(v, ids[i]);
    }
    if (o.show_count)
        printf("Total number of tokens: %d\n", n);
    rc = fflush(stdout) == 0 ? 0 : 1;
done:
    free(ids);
    free(file_text);
    cria_vocab_free(own);
    cria_gguf_close(g);
    cria_model_free(model);
    return rc;
}
