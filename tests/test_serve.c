/*
 * cria serve end to end: the binary ($CRIA_BIN, default build/cria) serves
 * stories260K on a loopback port it picks itself (--port 0, read back from
 * its "listening on" line), and curl drives it: health, models, a greedy
 * completion equal to cria run's, usage, stop strings, streaming framing,
 * chat (plain and streamed), log-probabilities (against a log-softmax of
 * cria run --dump-logits, and streamed against whole), tokenize/detokenize, API-key rejection, every
 * bad input (400, 404, 405, 413, 503), a client that disconnects mid-stream
 * (its slot is freed: /metrics), a bounded load test and a clean SIGTERM.
 * The chat template detection and rendering are checked in-process.
 * Every server is killed in the group teardown, also when a test fails.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "cria.h"
#include "server/api.h"
#include "server/chat.h"
#include "util.h"

#define CKPT "models/stories260K.bin"
#define TOK512 "models/tok512.bin"
#define KEY "sekrit"
#define PROMPT "Once upon a time"
#define N_GEN 32

/* A server process started by a test. */
typedef struct server {
    pid_t pid;
    int port;
    char log[512];
} server;

static server main_srv, small_srv, timeout_srv; /* small: one slot, a queue of one (503); timeout: --timeout 1 */

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts `cria serve` with extra args on a free loopback port; false when it did not come up in 10 s. */
static bool server_start(server *s, const char *args)
{
    const char *bin = getenv("CRIA_BIN") ? getenv("CRIA_BIN") : "build/cria";
    snprintf(s->log, sizeof s->log, "%s", test_tmp_path(".log"));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "exec %s serve -m %s --vocab %s --host 127.0.0.1 --port 0 -t 1 %s >/dev/null 2>%s", bin,
             test_shared(CKPT), test_shared(TOK512), args, s->log);
    s->pid = fork();
    if (s->pid < 0)
        return false;
    if (s->pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        sleep_ms(100);
        char *log = test_read_file(s->log, NULL);
        const char *at = log ? strstr(log, "listening on http://127.0.0.1:") : NULL;
        if (at)
            s->port = atoi(at + strlen("listening on http://127.0.0.1:"));
        free(log);
        if (s->port > 0)
            return true;
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            return false;
        }
    }
    return false;
}

/* Sends sig and waits up to 5 s; then SIGKILL. Returns the exit status (-1: killed or not ours). */
static int server_stop(server *s, int sig)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, sig);
    int st = 0;
    for (int i = 0; i < 100; i++) {
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        sleep_ms(50);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    s->pid = 0;
    return -1;
}

/* An HTTP exchange through curl. */
typedef struct reply {
    int status;
    char *body;
} reply;

/*
 * Runs curl against server s: method, path, an optional JSON body (from a
 * file, so no shell quoting), the API key unless key is NULL, and extra
 * curl options. The reply's status is 0 when curl failed to get one.
 */
static reply http(const server *s, const char *method, const char *path, const char *json, const char *key,
                  const char *extra)
{
    static atomic_uint n_body; /* test_tmp_path is not thread-safe: clients run on threads */
    char data[600] = "", auth[128] = "", cmd[2048], f[256] = "";
    if (json) {
        const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(f, sizeof f, "%s/cria-test-serve-%d-%u.json", dir, (int)getpid(), atomic_fetch_add(&n_body, 1));
        assert_true(test_write_file(f, json, strlen(json)));
        snprintf(data, sizeof data, "-H 'Content-Type: application/json' --data-binary @%s", f);
    }
    if (key)
        snprintf(auth, sizeof auth, "-H 'Authorization: Bearer %s'", key);
    snprintf(cmd, sizeof cmd, "curl -s -N --max-time 20 -X %s %s %s %s -w '\\n%%{http_code}' http://127.0.0.1:%d%s",
             method, auth, data, extra ? extra : "", s->port, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t k; (k = fread(buf + n, 1, cap - n - 1, p)) > 0;) {
        n += k;
        if (n + 1 == cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    pclose(p);
    if (f[0])
        unlink(f);
    reply r = {0, buf};
    char *nl = strrchr(buf, '\n');
    if (nl) {
        r.status = atoi(nl + 1);
        *nl = '\0';
    }
    return r;
}

static reply post(const server *s, const char *path, const char *json)
{
    return http(s, "POST", path, json, KEY, NULL);
}

/* Parses a reply body as JSON (the test fails if it is not). */
static cJSON *json_of(const reply *r)
{
    cJSON *j = cJSON_Parse(r->body);
    if (!j)
        fail_msg("not JSON (status %d): %s", r->status, r->body);
    return j;
}

static const cJSON *path_get(const cJSON *j, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, a);
    return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

/* The first choice of a response. */
static const cJSON *choice0(const cJSON *j)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
}

/* Checks an OpenAI-style error reply with this status (and code, when not NULL). */
static void expect_error(reply r, int status, const char *code)
{
    if (r.status != status)
        fail_msg("expected %d, got %d: %s", status, r.status, r.body);
    cJSON *j = json_of(&r);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    assert_true(cJSON_IsString(path_get(e, "message", NULL)));
    assert_true(cJSON_IsString(path_get(e, "type", NULL)));
    const cJSON *c = path_get(e, "code", NULL);
    assert_true(cJSON_IsString(c) || cJSON_IsNull(c));
    if (code)
        assert_string_equal(c->valuestring, code);
    cJSON_Delete(j);
    free(r.body);
}

static char ref_text[4096]; /* cria run's greedy continuation of PROMPT, N_GEN tokens */

static int setup(void **state)
{
    (void)state;
    if (!test_have(CKPT) || !test_have(TOK512))
        return 0;
    char args[512], *out = NULL;
    snprintf(args, sizeof args, "run -m %s --vocab %s -p '%s' -n %d --temp 0 -t 1 --log-disable", test_shared(CKPT),
             test_shared(TOK512), PROMPT, N_GEN);
    if (test_run_cria(args, &out, NULL) != 0 || !out || strncmp(out, PROMPT, strlen(PROMPT)))
        return -1;
    size_t n = strlen(out) - strlen(PROMPT);
    if (n > 0 && out[strlen(out) - 1] == '\n')
        n--; /* cria run ends with a newline */
    snprintf(ref_text, sizeof ref_text, "%.*s", (int)n, out + strlen(PROMPT));
    free(out);
    if (!server_start(&main_srv, "-np 4 -c 16384 --api-key " KEY " --max-body 64"))
        return -1;
    if (!server_start(&timeout_srv, "-np 1 -c 32768 --timeout 1 --log-disable"))
        return -1;
    return server_start(&small_srv, "-np 1 -c 2048 --max-queue 1 --log-disable") ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    server_stop(&main_srv, SIGKILL);
    server_stop(&small_srv, SIGKILL);
    server_stop(&timeout_srv, SIGKILL);
    unlink(main_srv.log);
    unlink(small_srv.log);
    unlink(timeout_srv.log);
    return 0;
}

#define NEED_SERVER()                                                                                              \
    do {                                                                                                           \
        if (main_srv.port <= 0)                                                                                    \
            skip();                                                                                                \
    } while (0)

static void test_health_models(void **state)
{
    (void)state;
    NEED_SERVER();
    reply r = http(&main_srv, "GET", "/health", NULL, NULL, NULL); /* no key needed */
    assert_int_equal(r.status, 200);
    cJSON *j = json_of(&r);
    assert_string_equal(path_get(j, "status", NULL)->valuestring, "ok");
    cJSON_Delete(j);
    free(r.body);
    r = http(&main_srv, "GET", "/v1/models", NULL, KEY, NULL);
    assert_int_equal(r.status, 200);
    j = json_of(&r);
    const cJSON *m = cJSON_GetArrayItem(path_get(j, "data", NULL), 0);
    assert_string_equal(path_get(m, "id", NULL)->valuestring, "stories260K.bin");
    assert_string_equal(path_get(m, "object", NULL)->valuestring, "model");
    assert_int_equal(path_get(m, "meta", "n_ctx_slot")->valueint, 4096);
    cJSON_Delete(j);
    free(r.body);
}

/* Number of tokens /tokenize gives for text with BOS. */
static int n_tokens(const char *text)
{
    char body[512];
    snprintf(body, sizeof body, "{\"content\": \"%s\", \"add_special\": true}", text);
    reply r = post(&main_srv, "/tokenize", body);
    assert_int_equal(r.status, 200);
    cJSON *j = json_of(&r);
    const int n = cJSON_GetArraySize(path_get(j, "tokens", NULL));
    cJSON_Delete(j);
    free(r.body);
    return n;
}

static void test_greedy_equals_run(void **state)
{
    (void)state;
    NEED_SERVER();
    reply r = post(&main_srv, "/v1/completions",
                   "{\"prompt\": \"" PROMPT "\", \"max_tokens\": 32, \"temperature\": 0, \"model\": \"x\"}");
    assert_int_equal(r.status, 200);
    cJSON *j = json_of(&r);
    assert_string_equal(path_get(j, "object", NULL)->valuestring, "text_completion");
    assert_string_equal(path_get(choice0(j), "text", NULL)->valuestring, ref_text);
    assert_string_equal(path_get(choice0(j), "finish_reason", NULL)->valuestring, "length");
    const int np = n_tokens(PROMPT);
    assert_int_equal(path_get(j, "usage", "prompt_tokens")->valueint, np);
    assert_int_equal(path_get(j, "usage", "completion_tokens")->valueint, N_GEN);
    assert_int_equal(path_get(j, "usage", "total_tokens")->valueint, np + N_GEN);
    assert_true(path_get(j, "timings", "prompt_ms")->valuedouble > 0);
    assert_true(path_get(j, "timings", "predicted_ms")->valuedouble > 0);
    assert_true(path_get(j, "timings", "predicted_per_second")->valuedouble > 0);
    cJSON_Delete(j);
    free(r.body);
}

static void test_seeded(void **state)
{
    (void)state;
    NEED_SERVER();
    const char *body = "{\"prompt\": \"Lily\", \"max_tokens\": 24, \"temperature\": 1.0, \"top_k\": 0, "
                       "\"top_p\": 1.0, \"min_p\": 0, \"seed\": 7, \"frequency_penalty\": 0.5, "
                       "\"presence_penalty\": 0.2}";
    char text[2][4096];
    for (int i = 0; i < 2; i++) {
        reply r = post(&main_srv, "/v1/completions", body);
        assert_int_equal(r.status, 200);
        cJSON *j = json_of(&r);
        snprintf(text[i], sizeof text[i], "%s", path_get(choice0(j), "text", NULL)->valuestring);
        cJSON_Delete(j);
        free(r.body);
    }
    assert_string_equal(text[0], text[1]); /* the same seed, the same text */
}

static void test_stop_string(void **state)
{
    (void)state;
    NEED_SERVER();
    const char *word = strstr(ref_text, "Lily") ? "Lily" : " ";
    char body[256];
    snprintf(body, sizeof body,
             "{\"prompt\": \"" PROMPT "\", \"max_tokens\": 32, \"temperature\": 0, \"stop\": [\"%s\"]}", word);
    reply r = post(&main_srv, "/v1/completions", body);
    assert_int_equal(r.status, 200);
    cJSON *j = json_of(&r);
    const size_t cut = (size_t)(strstr(ref_text, word) - ref_text);
    assert_int_equal(strlen(path_get(choice0(j), "text", NULL)->valuestring), cut);
    assert_memory_equal(path_get(choice0(j), "text", NULL)->valuestring, ref_text, cut);
    assert_string_equal(path_get(choice0(j), "finish_reason", NULL)->valuestring, "stop");
    assert_true(path_get(j, "usage", "completion_tokens")->valueint < N_GEN);
    cJSON_Delete(j);
    free(r.body);
}

/*
 * Splits an SSE body into its events: each "data: X\n\n"; checks the
 * framing, that the last is [DONE], and returns the JSON events (n_json of
 * them) in a cJSON array.
 */
static cJSON *sse_events(const char *body)
{
    cJSON *arr = cJSON_CreateArray();
    const char *p = body;
    bool done = false;
    while (*p) {
        assert_false(done); /* nothing after [DONE] */
        if (strncmp(p, "data: ", 6))
            fail_msg("bad SSE framing at: %.40s", p);
        p += 6;
        const char *end = strstr(p, "\n\n");
        assert_non_null(end);
        if (end - p == 6 && !strncmp(p, "[DONE]", 6)) {
            done = true;
        } else {
            cJSON *j = cJSON_ParseWithLength(p, (size_t)(end - p));
            if (!j)
                fail_msg("bad SSE JSON: %.*s", (int)(end - p), p);
            cJSON_AddItemToArray(arr, j);
        }
        p = end + 2;
    }
    assert_true(done);
    return arr;
}

static void test_stream(void **state)
{
    (void)state;
    NEED_SERVER();
    reply r = post(&main_srv, "/v1/completions",
                   "{\"prompt\": \"" PROMPT "\", \"max_tokens\": 32, \"temperature\": 0, \"stream\": true}");
    assert_int_equal(r.status, 200);
    cJSON *ev = sse_events(r.body);
    char text[4096] = "";
    const int n = cJSON_GetArraySize(ev);
    assert_true(n >= 2);
    for (int i = 0; i < n; i++) {
        const cJSON *c = choice0(cJSON_GetArrayItem(ev, i));
        strcat(text, path_get(c, "text", NULL)->valuestring);
        assert_true(i == n - 1 ? cJSON_IsString(path_get(c, "finish_reason", NULL))
                               : cJSON_IsNull(path_get(c, "finish_reason", NULL)));
    }
    assert_string_equal(text, ref_text);
    const cJSON *last = cJSON_GetArrayItem(ev, n - 1);
    assert_int_equal(path_get(last, "usage", "completion_tokens")->valueint, N_GEN);
    cJSON_Delete(ev);
    free(r.body);
}

static void test_chat(void **state)
{
    (void)state;
    NEED_SERVER();
    const char *msgs = "\"messages\": [{\"role\": \"system\", \"content\": \"Tell a story.\"}, "
                       "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"A cat\"}]}]";
    char body[512];
    snprintf(body, sizeof body, "{%s, \"max_tokens\": 12, \"temperature\": 0}", msgs);
    reply r = post(&main_srv, "/v1/chat/completions", body);
    assert_int_equal(r.status, 200);
    cJSON *j = json_of(&r);
    assert_string_equal(path_get(j, "object", NULL)->valuestring, "chat.completion");
    const cJSON *m = path_get(choice0(j), "message", NULL);
    assert_string_equal(path_get(m, "role", NULL)->valuestring, "assistant");
    char content[4096];
    snprintf(content, sizeof content, "%s", path_get(m, "content", NULL)->valuestring);
    assert_true(path_get(j, "usage", "prompt_tokens")->valueint > 10); /* the chatml wrapping is there */
    cJSON_Delete(j);
    free(r.body);

    snprintf(body, sizeof body, "{%s, \"max_tokens\": 12, \"temperature\": 0, \"stream\": true}", msgs);
    r = post(&main_srv, "/v1/chat/completions", body);
    assert_int_equal(r.status, 200);
    cJSON *ev = sse_events(r.body);
    char text[4096] = "";
    const int n = cJSON_GetArraySize(ev);
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(ev, i);
        assert_string_equal(path_get(e, "object", NULL)->valuestring, "chat.completion.chunk");
        const cJSON *d = path_get(choice0(e), "delta", NULL);
        assert_true(cJSON_IsObject(d));
        if (i == 0)
            assert_string_equal(path_get(d, "role", NULL)->valuestring, "assistant");
        if (cJSON_IsString(path_get(d, "content", NULL)))
            strcat(text, path_get(d, "content", NULL)->valuestring);
    }
    assert_string_equal(text, content); /* greedy: the same reply streamed */
    cJSON_Delete(ev);
    free(r.body);
}

/* The log-softmax of cria run's logits after PROMPT, sorted descending, in lsm[0, n_vocab); returns n_vocab. */
static int ref_logsoftmax(double *lsm, int cap)
{
    const char *f = test_tmp_path(".logits");
    char args[768];
    snprintf(args, sizeof args, "run -m %s --vocab %s -p '%s' -n 1 --temp 0 -t 1 --log-disable --dump-logits %s",
             test_shared(CKPT), test_shared(TOK512), PROMPT, f);
    assert_int_equal(test_run_cria(args, NULL, NULL), 0);
    size_t size = 0;
    char *raw = test_read_file(f, &size);
    unlink(f);
    assert_non_null(raw);
    const int n = (int)(size / sizeof(float));
    assert_true(n > 0 && n <= cap);
    double mx = -INFINITY, sum = 0.0;
    for (int i = 0; i < n; i++) {
        float x;
        memcpy(&x, raw + (size_t)i * sizeof x, sizeof x);
        lsm[i] = (double)x;
        mx = lsm[i] > mx ? lsm[i] : mx;
    }
    for (int i = 0; i < n; i++)
        sum += exp(lsm[i] - mx);
    for (int i = 0; i < n; i++)
        lsm[i] -= mx + log(sum);
    free(raw);
    for (int i = 1; i < n; i++) { /* insertion sort, descending: a few hundred entries */
        const double v = lsm[i];
        int j = i;
        for (; j > 0 && lsm[j - 1] < v; j--)
            lsm[j] = lsm[j - 1];
        lsm[j] = v;
    }
    return n;
}

static bool near(double got, double want)
{
    return fabs(got - want) <= 1e-3 * (1.0 + fabs(want));
}

/* Checks one generated token's logprob and its top alternatives (values in order, as given). */
static void check_entry(double lp, const double *top, int n_top, int want_top)
{
    assert_true(lp <= 0.0);
    assert_int_equal(n_top, want_top);
    double mass = 0.0;
    for (int k = 0; k < n_top; k++) {
        assert_true(top[k] <= 0.0);
        assert_true(k == 0 || top[k] <= top[k - 1]);
        mass += exp(top[k]);
    }
    assert_true(mass <= 1.0 + 1e-5);
    if (n_top > 0)
        assert_true(top[0] == lp); /* greedy: the chosen token is the most likely */
}

/* Appends the entries of a completions logprobs object to the arrays of acc (created by the caller). */
static void add_completion_lp(cJSON *acc, const cJSON *lp)
{
    static const char *const keys[4] = {"tokens", "token_logprobs", "top_logprobs", "text_offset"};
    const int n = cJSON_GetArraySize(path_get(lp, "tokens", NULL));
    for (int k = 0; k < 4; k++) {
        const cJSON *a = path_get(lp, keys[k], NULL);
        assert_true(cJSON_IsArray(a));
        assert_int_equal(cJSON_GetArraySize(a), n);
        const cJSON *x;
        cJSON_ArrayForEach(x, a)
            cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(acc, keys[k]), cJSON_Duplicate(x, true));
    }
}

static cJSON *empty_completion_lp(void)
{
    cJSON *acc = cJSON_CreateObject();
    cJSON_AddArrayToObject(acc, "tokens");
    cJSON_AddArrayToObject(acc, "token_logprobs");
    cJSON_AddArrayToObject(acc, "top_logprobs");
    cJSON_AddArrayToObject(acc, "text_offset");
    return acc;
}

/*
 * /v1/completions with logprobs: the first token's value and top 5 equal a
 * log-softmax of cria run's logits; every entry is well-formed; the tokens
 * spell the text at their offsets; streamed chunks carry entries adding up
 * to the whole response; n_probs does the same; absent, logprobs is null.
 */
static void test_logprobs(void **state)
{
    (void)state;
    NEED_SERVER();
    static double ref[4096];
    ref_logsoftmax(ref, 4096);
    reply r = post(&main_srv, "/v1/completions",
                   "{\"prompt\": \"" PROMPT "\", \"max_tokens\": 16, \"temperature\": 0, \"logprobs\": 5}");
    assert_int_equal(r.status, 200);
    cJSON *j = json_of(&r);
    free(r.body);
    const cJSON *lp = path_get(choice0(j), "logprobs", NULL);
    const char *text = path_get(choice0(j), "text", NULL)->valuestring;
    const int n = cJSON_GetArraySize(path_get(lp, "tokens", NULL));
    assert_int_equal(n, path_get(j, "usage", "completion_tokens")->valueint);
    assert_int_equal(n, 16);
    assert_memory_equal(text, ref_text, strlen(text)); /* the same greedy text */
    cJSON *whole = empty_completion_lp();
    add_completion_lp(whole, lp);
    for (int i = 0; i < n; i++) {
        const char *tok = cJSON_GetArrayItem(path_get(lp, "tokens", NULL), i)->valuestring;
        const double v = cJSON_GetArrayItem(path_get(lp, "token_logprobs", NULL), i)->valuedouble;
        const int off = cJSON_GetArrayItem(path_get(lp, "text_offset", NULL), i)->valueint;
        const cJSON *alts = cJSON_GetArrayItem(path_get(lp, "top_logprobs", NULL), i), *a;
        double top[8];
        int n_top = 0;
        cJSON_ArrayForEach(a, alts) {
            assert_true(n_top < 8 && cJSON_IsNumber(a));
            top[n_top++] = a->valuedouble;
        }
        check_entry(v, top, n_top, 5);
        assert_string_equal(alts->child->string, tok);
        /* this story's tokens are ASCII: each one's text is at its offset */
        assert_memory_equal(text + off, tok, strlen(tok));
        if (i == 0) {
            assert_int_equal(off, 0);
            if (!near(v, ref[0]))
                fail_msg("first token: logprob %.6f, cria run's logits give %.6f", v, ref[0]);
            for (int k = 0; k < 5; k++)
                assert_true(near(top[k], ref[k]));
        }
    }
    /* streamed (and through n_probs): the chunks' entries add up to the whole, each with its chunk's text */
    r = post(&main_srv, "/v1/completions",
             "{\"prompt\": \"" PROMPT "\", \"max_tokens\": 16, \"temperature\": 0, \"n_probs\": 5, \"stream\": true}");
    assert_int_equal(r.status, 200);
    cJSON *ev = sse_events(r.body);
    free(r.body);
    cJSON *parts = empty_completion_lp();
    size_t at = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, ev) {
        const cJSON *c = choice0(e);
        const cJSON *offs = path_get(path_get(c, "logprobs", NULL), "text_offset", NULL);
        const size_t len = strlen(path_get(c, "text", NULL)->valuestring);
        const cJSON *o;
        cJSON_ArrayForEach(o, offs) /* a chunk's tokens start at or before the end of the text sent so far */
            assert_true((size_t)o->valueint <= at + len);
        at += len;
        add_completion_lp(parts, path_get(c, "logprobs", NULL));
    }
    static const char *const keys[4] = {"tokens", "token_logprobs", "top_logprobs", "text_offset"};
    for (int k = 0; k < 4; k++) {
        const cJSON *x = path_get(parts, keys[k], NULL), *y = path_get(whole, keys[k], NULL);
        assert_int_equal(cJSON_GetArraySize(x), n);
        for (int i = 0; i < n; i++) {
            const cJSON *xi = cJSON_GetArrayItem(x, i), *yi = cJSON_GetArrayItem(y, i);
            if (k == 1)
                assert_true(near(xi->valuedouble, yi->valuedouble));
            else if (k != 2)
                assert_true(cJSON_Compare(xi, yi, true));
            else
                assert_int_equal(cJSON_GetArraySize(xi), cJSON_GetArraySize(yi));
        }
    }
    cJSON_Delete(parts);
    cJSON_Delete(ev);
    cJSON_Delete(whole);
    cJSON_Delete(j);

    /* not asked: null; logprobs 0: the chosen tokens only */
    r = post(&main_srv, "/v1/completions", "{\"prompt\": \"" PROMPT "\", \"max_tokens\": 4, \"temperature\": 0}");
    j = json_of(&r);
    assert_true(cJSON_IsNull(path_get(choice0(j), "logprobs", NULL)));
    cJSON_Delete(j);
    free(r.body);
    r = post(&main_srv, "/v1/completions",
             "{\"prompt\": \"" PROMPT "\", \"max_tokens\": 4, \"temperature\": 0, \"logprobs\": 0}");
    j = json_of(&r);
    lp = path_get(choice0(j), "logprobs", NULL);
    assert_int_equal(cJSON_GetArraySize(path_get(lp, "token_logprobs", NULL)), 4);
    assert_true(near(cJSON_GetArrayItem(path_get(lp, "token_logprobs", NULL), 0)->valuedouble, ref[0]));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(path_get(lp, "top_logprobs", NULL), 0)), 0);
    cJSON_Delete(j);
    free(r.body);
}

#define CHAT_LP_BODY(more)                                                                                         \
    "{\"messages\": [{\"role\": \"user\", \"content\": \"A dog\"}], \"max_tokens\": 10, "                              \
    "\"temperature\": 0, \"logprobs\": true, \"top_logprobs\": 3" more "}"

/* Chat: logprobs true with top_logprobs: content entries with bytes; streamed entries add up to the whole. */
static void test_chat_logprobs(void **state)
{
    (void)state;
    NEED_SERVER();
    reply r = post(&main_srv, "/v1/chat/completions", CHAT_LP_BODY(""));
    assert_int_equal(r.status, 200);
    cJSON *j = json_of(&r);
    free(r.body);
    const cJSON *content = path_get(path_get(choice0(j), "logprobs", NULL), "content", NULL);
    const int n = cJSON_GetArraySize(content);
    assert_int_equal(n, path_get(j, "usage", "completion_tokens")->valueint);
    char spelled[4096] = "";
    const cJSON *e;
    cJSON_ArrayForEach(e, content) {
        const char *tok = path_get(e, "token", NULL)->valuestring;
        const cJSON *bytes = path_get(e, "bytes", NULL), *x;
        char raw[256];
        int nb = 0;
        cJSON_ArrayForEach(x, bytes) {
            assert_true(nb < 255 && x->valueint >= 0 && x->valueint < 256);
            raw[nb++] = (char)x->valueint;
        }
        raw[nb] = '\0';
        assert_string_equal(raw, tok); /* ASCII tokens: bytes spell the token */
        strcat(spelled, tok);
        double top[8];
        int n_top = 0;
        cJSON_ArrayForEach(x, path_get(e, "top_logprobs", NULL)) {
            assert_true(n_top < 8 && cJSON_IsArray(path_get(x, "bytes", NULL)));
            top[n_top++] = path_get(x, "logprob", NULL)->valuedouble;
        }
        check_entry(path_get(e, "logprob", NULL)->valuedouble, top, n_top, 3);
        assert_string_equal(path_get(path_get(e, "top_logprobs", NULL)->child, "token", NULL)->valuestring, tok);
    }
    assert_string_equal(spelled, path_get(path_get(choice0(j), "message", NULL), "content", NULL)->valuestring);

    r = post(&main_srv, "/v1/chat/completions", CHAT_LP_BODY(", \"stream\": true"));
    assert_int_equal(r.status, 200);
    cJSON *ev = sse_events(r.body);
    free(r.body);
    int i = 0;
    const cJSON *chunk;
    cJSON_ArrayForEach(chunk, ev) {
        cJSON_ArrayForEach(e, path_get(path_get(choice0(chunk), "logprobs", NULL), "content", NULL)) {
            const cJSON *w = cJSON_GetArrayItem(content, i++);
            assert_non_null(w);
            assert_string_equal(path_get(e, "token", NULL)->valuestring, path_get(w, "token", NULL)->valuestring);
            assert_true(near(path_get(e, "logprob", NULL)->valuedouble, path_get(w, "logprob", NULL)->valuedouble));
            assert_int_equal(cJSON_GetArraySize(path_get(e, "top_logprobs", NULL)), 3);
        }
    }
    assert_int_equal(i, n);
    cJSON_Delete(ev);
    cJSON_Delete(j);

    r = post(&main_srv, "/v1/chat/completions",
             "{\"messages\": [{\"role\": \"user\", \"content\": \"A dog\"}], \"max_tokens\": 2}");
    j = json_of(&r);
    assert_true(cJSON_IsNull(path_get(choice0(j), "logprobs", NULL)));
    cJSON_Delete(j);
    free(r.body);
}

static void test_tokenize_detokenize(void **state)
{
    (void)state;
    NEED_SERVER();
    reply r = post(&main_srv, "/tokenize", "{\"content\": \"The cat sat.\"}");
    assert_int_equal(r.status, 200);
    cJSON *j = json_of(&r);
    char *toks = cJSON_PrintUnformatted(path_get(j, "tokens", NULL));
    char body[1024];
    snprintf(body, sizeof body, "{\"tokens\": %s}", toks);
    free(toks);
    cJSON_Delete(j);
    free(r.body);
    r = post(&main_srv, "/detokenize", body);
    assert_int_equal(r.status, 200);
    j = json_of(&r);
    assert_string_equal(path_get(j, "content", NULL)->valuestring, "The cat sat.");
    cJSON_Delete(j);
    free(r.body);
    expect_error(post(&main_srv, "/detokenize", "{\"tokens\": [1, 99999]}"), 400, NULL);
    expect_error(post(&main_srv, "/tokenize", "{\"text\": 1}"), 400, NULL);
}

static void test_api_key(void **state)
{
    (void)state;
    NEED_SERVER();
    const char *body = "{\"prompt\": \"Hi\", \"max_tokens\": 2}";
    expect_error(http(&main_srv, "POST", "/v1/completions", body, NULL, NULL), 401, "invalid_api_key");
    expect_error(http(&main_srv, "POST", "/v1/completions", body, "wrong", NULL), 401, "invalid_api_key");
    expect_error(http(&main_srv, "GET", "/v1/models", NULL, KEY "x", NULL), 401, "invalid_api_key");
    expect_error(http(&main_srv, "GET", "/metrics", NULL, NULL, NULL), 401, "invalid_api_key");
}

static void test_bad_input(void **state)
{
    (void)state;
    NEED_SERVER();
    const char *c = "/v1/completions";
    expect_error(post(&main_srv, c, "{\"prompt\": \"Hi\""), 400, NULL);             /* malformed */
    expect_error(post(&main_srv, c, "[1, 2]"), 400, NULL);                           /* not an object */
    expect_error(post(&main_srv, c, ""), 400, NULL);                                 /* empty */
    expect_error(post(&main_srv, c, "{\"max_tokens\": 4}"), 400, NULL);              /* missing prompt */
    expect_error(post(&main_srv, c, "{\"prompt\": 5}"), 400, NULL);                  /* wrong types */
    expect_error(post(&main_srv, c, "{\"prompt\": \"Hi\", \"temperature\": \"hot\"}"), 400, NULL);
    expect_error(post(&main_srv, c, "{\"prompt\": \"Hi\", \"stream\": \"yes\"}"), 400, NULL);
    expect_error(post(&main_srv, c, "{\"prompt\": \"Hi\", \"stop\": 3}"), 400, NULL);
    expect_error(post(&main_srv, c, "{\"prompt\": \"Hi\", \"top_p\": 2}"), 400, NULL);
    expect_error(post(&main_srv, c, "{\"prompt\": \"Hi\", \"max_tokens\": -5}"), 400, NULL);
    expect_error(post(&main_srv, c, "{\"prompt\": \"Hi\", \"max_tokens\": 0}"), 400, NULL);
    expect_error(post(&main_srv, c, "{\"prompt\": \"Hi\", \"max_tokens\": 2.5}"), 400, NULL);
    expect_error(post(&main_srv, c, "{\"prompt\": \"Hi\", \"max_tokens\": 1e12}"), 400, NULL);
    expect_error(post(&main_srv, c, "{\"prompt\": \"Hi\", \"max_tokens\": 50000}"), 400, "context_length_exceeded");
    expect_error(post(&main_srv, "/v1/chat/completions", "{\"messages\": \"hi\"}"), 400, NULL);
    expect_error(post(&main_srv, "/v1/chat/completions", "{\"messages\": []}"), 400, NULL);
    expect_error(post(&main_srv, "/v1/chat/completions", "{\"messages\": [{\"content\": \"x\"}]}"), 400, NULL);
    static const char *const bad_lp[] = {
        "{\"prompt\": \"Hi\", \"logprobs\": true}", "{\"prompt\": \"Hi\", \"logprobs\": 21}",
        "{\"prompt\": \"Hi\", \"logprobs\": -1}",   "{\"prompt\": \"Hi\", \"logprobs\": 2.5}",
        "{\"prompt\": \"Hi\", \"logprobs\": \"5\"}", "{\"prompt\": \"Hi\", \"n_probs\": 100}",
    };
    for (size_t i = 0; i < sizeof bad_lp / sizeof *bad_lp; i++)
        expect_error(post(&main_srv, c, bad_lp[i]), 400, NULL);
    static const char *const bad_chat_lp[] = {"\"logprobs\": 3", "\"top_logprobs\": 2",
                                              "\"logprobs\": false, \"top_logprobs\": 2",
                                              "\"logprobs\": true, \"top_logprobs\": 25",
                                              "\"logprobs\": true, \"top_logprobs\": \"all\""};
    for (size_t i = 0; i < sizeof bad_chat_lp / sizeof *bad_chat_lp; i++) {
        char b[256];
        snprintf(b, sizeof b, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], %s}", bad_chat_lp[i]);
        expect_error(post(&main_srv, "/v1/chat/completions", b), 400, NULL);
    }
    /* a prompt longer than a slot's 4096 tokens (several per word here), within the 64 KiB body limit */
    size_t cap = 64000, n = 0;
    char *big = malloc(cap);
    n += (size_t)snprintf(big, cap, "{\"prompt\": \"");
    while (n < 60000)
        n += (size_t)snprintf(big + n, cap - n, "the zebra jumped. ");
    snprintf(big + n, cap - n, "\", \"max_tokens\": 4}");
    expect_error(post(&main_srv, c, big), 400, "context_length_exceeded");
    /* a body over the 64 KiB limit: by Content-Length, and chunked */
    char *huge = malloc(100 * 1024 + 64);
    memset(huge, ' ', 100 * 1024);
    strcpy(huge + 100 * 1024, "{\"prompt\": \"Hi\"}");
    expect_error(post(&main_srv, c, huge), 413, "request_too_large");
    const char *f = test_tmp_path(".json");
    assert_true(test_write_file(f, huge, strlen(huge)));
    char extra[600];
    snprintf(extra, sizeof extra,
             "-H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' --data-binary @%s", f);
    expect_error(http(&main_srv, "POST", c, NULL, KEY, extra), 413, "request_too_large");
    unlink(f);
    free(huge);
    free(big);
    expect_error(http(&main_srv, "GET", "/v1/nothing", NULL, KEY, NULL), 404, "not_found");
    expect_error(http(&main_srv, "GET", c, NULL, KEY, NULL), 405, "method_not_allowed");
    expect_error(http(&main_srv, "DELETE", "/health", NULL, KEY, NULL), 405, "method_not_allowed");
    reply r = http(&main_srv, "GET", "/health", NULL, NULL, NULL); /* still serving */
    assert_int_equal(r.status, 200);
    free(r.body);
}

/* A metric's value from /metrics. */
static double metric(const server *s, const char *name)
{
    reply r = http(s, "GET", "/metrics", NULL, KEY, NULL);
    assert_int_equal(r.status, 200);
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *at = strstr(r.body, key);
    assert_non_null(at);
    const double v = atof(at + strlen(key));
    free(r.body);
    return v;
}

/* Waits up to 2 s until no slot is busy and `cancelled` requests were cancelled in all; false otherwise. */
static bool slots_freed(double cancelled)
{
    for (int i = 0; i < 40; i++) { /* a step is well under a millisecond: this is generous */
        if (metric(&main_srv, "cria_slots_busy") == 0 &&
            metric(&main_srv, "cria_requests_cancelled_total") == cancelled)
            return true;
        sleep_ms(50);
    }
    return false;
}

static void test_disconnect_frees_slot(void **state)
{
    (void)state;
    NEED_SERVER();
    const double cancelled = metric(&main_srv, "cria_requests_cancelled_total");
    /* a long stream (no end of text, 4000 tokens: seconds) cut by the client after 0.5 s */
    reply r = http(&main_srv, "POST", "/v1/completions",
                   "{\"prompt\": \"Once\", \"max_tokens\": 4000, \"ignore_eos\": true, \"stream\": true}", KEY,
                   "--max-time 0.5");
    assert_int_equal(r.status, 200); /* the headers came */
    assert_non_null(strstr(r.body, "data: {"));
    assert_null(strstr(r.body, "[DONE]"));
    free(r.body);
    assert_true(slots_freed(cancelled + 1));
    /* the same without streaming: the waiting connection thread sees the hang-up */
    r = http(&main_srv, "POST", "/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 4000, \"ignore_eos\": true}",
             KEY, "--max-time 0.5");
    assert_int_equal(r.status, 0); /* no reply in time */
    free(r.body);
    assert_true(slots_freed(cancelled + 2));
}

typedef struct client {
    const server *s;
    const char *body;
    int n;
    reply r;
} client;

static void *client_main(void *arg)
{
    client *c = arg;
    c->r = http(c->s, "POST", "/v1/completions", c->body, KEY, NULL);
    return NULL;
}

static void test_queue_full(void **state)
{
    (void)state;
    NEED_SERVER();
    /* one slot, a queue of one: a long request runs, a second waits, a third is refused */
    const char *slow = "{\"prompt\": \"Once\", \"max_tokens\": 2000, \"ignore_eos\": true}";
    client a = {.s = &small_srv, .body = slow}, b = a;
    pthread_t ta, tb;
    pthread_create(&ta, NULL, client_main, &a);
    sleep_ms(100);
    pthread_create(&tb, NULL, client_main, &b);
    sleep_ms(100);
    expect_error(http(&small_srv, "POST", "/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 2}", NULL, NULL),
                 503, "queue_full");
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.r.status, 200);
    assert_int_equal(b.r.status, 200);
    free(a.r.body);
    free(b.r.body);
}

static void test_timeout(void **state)
{
    (void)state;
    NEED_SERVER();
    /* 32000 tokens take many seconds (4000 took under one): --timeout 1 cancels the request and answers 504 */
    const int64_t t0 = cria_time_us();
    expect_error(http(&timeout_srv, "POST", "/v1/completions",
                      "{\"prompt\": \"Once\", \"max_tokens\": 32000, \"ignore_eos\": true}", NULL, NULL),
                 504, "timeout");
    assert_true(cria_time_us() - t0 < 3000000);
    reply r = http(&timeout_srv, "POST", "/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 4}", NULL, NULL);
    assert_int_equal(r.status, 200); /* the slot is free again */
    free(r.body);
}

#define N_CLIENTS 8
#define N_PER_CLIENT 4

typedef struct load_client {
    pthread_t t;
    int ok, bad;
    char first_bad[512];
} load_client;

static void *load_main(void *arg)
{
    load_client *c = arg;
    for (int i = 0; i < N_PER_CLIENT; i++) {
        reply r = http(&main_srv, "POST", "/v1/completions", NULL, KEY,
                       "-H 'Content-Type: application/json' -d '{\"prompt\": \"" PROMPT
                       "\", \"max_tokens\": 32, \"temperature\": 0}'");
        cJSON *j = r.status == 200 ? cJSON_Parse(r.body) : NULL;
        const cJSON *t = j ? path_get(choice0(j), "text", NULL) : NULL;
        if (cJSON_IsString(t) && !strcmp(t->valuestring, ref_text) &&
            path_get(j, "usage", "completion_tokens")->valueint == N_GEN) {
            c->ok++;
        } else {
            if (!c->bad++)
                snprintf(c->first_bad, sizeof c->first_bad, "%d %s", r.status, r.body);
        }
        cJSON_Delete(j);
        free(r.body);
    }
    return NULL;
}

static void test_load(void **state)
{
    (void)state;
    NEED_SERVER();
    load_client c[N_CLIENTS] = {0};
    const int64_t t0 = (int64_t)time(NULL);
    for (int i = 0; i < N_CLIENTS; i++)
        pthread_create(&c[i].t, NULL, load_main, &c[i]);
    int ok = 0;
    for (int i = 0; i < N_CLIENTS; i++) {
        pthread_join(c[i].t, NULL);
        ok += c[i].ok;
        if (c[i].bad)
            fail_msg("client %d: %d bad replies, first: %s", i, c[i].bad, c[i].first_bad);
    }
    assert_int_equal(ok, N_CLIENTS * N_PER_CLIENT); /* every reply complete and equal to cria run's */
    assert_true((int64_t)time(NULL) - t0 < 20);
    reply r = http(&main_srv, "GET", "/health", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    free(r.body);
    assert_true(metric(&main_srv, "cria_slots_busy") == 0);
}

static void *stream_main(void *arg)
{
    client *c = arg;
    c->r = http(c->s, "POST", "/v1/completions", c->body, KEY, NULL);
    return NULL;
}

static void test_sigterm(void **state)
{
    (void)state;
    NEED_SERVER();
    client a = {.s = &main_srv,
                .body = "{\"prompt\": \"Once\", \"max_tokens\": 4000, \"ignore_eos\": true, \"stream\": true}"};
    pthread_t t;
    pthread_create(&t, NULL, stream_main, &a);
    sleep_ms(150);
    const int64_t t0 = cria_time_us();
    assert_int_equal(server_stop(&main_srv, SIGTERM), 0); /* a clean exit */
    assert_true(cria_time_us() - t0 < 3000000);
    pthread_join(t, NULL);
    /* the stream in flight (seconds of work left) ended with an error event saying why */
    assert_int_equal(a.r.status, 200);
    if (!strstr(a.r.body, "data: {\"error\":"))
        fail_msg("stream ended as: ...%s", a.r.body + (strlen(a.r.body) > 300 ? strlen(a.r.body) - 300 : 0));
    assert_non_null(strstr(a.r.body, "shutting_down"));
    free(a.r.body);
}

/* Token names for test_logprob_shapes: a byte token's halves of a character, and two tokens named "A". */
static int32_t fake_piece(const void *user, cria_token t, char *buf, int32_t cap)
{
    (void)user;
    static const char *const names[] = {"A", "\xE2", "\x80", "A", " b"};
    const int32_t n = (int32_t)strlen(names[t]);
    if (n > cap)
        return -n;
    memcpy(buf, names[t], (size_t)n);
    return n;
}

/*
 * The logprobs JSON shapes in-process: completions name tokens that are not
 * whole UTF-8 as "bytes:\xNN" (distinct keys) and keep the first of two
 * alternatives of the same name; chat gives the raw bytes; null when not asked.
 */
static void test_logprob_shapes(void **state)
{
    (void)state;
    const cria_sched_logprobs lp[2] = {
        {.token = 1, .logprob = -0.5f, .text_offset = 0, .n_top = 4,
         .top = {{1, -0.5f}, {0, -1.0f}, {3, -1.5f}, {2, -2.0f}}},
        {.token = 4, .logprob = -0.25f, .text_offset = 3, .n_top = 0},
    };
    cria_api_result r = {.id = "cmpl-1", .model = "m", .text = "\xE2\x80\xA6 b", .len = 5, .finish = "length",
                         .n_prompt = 1, .n_gen = 2, .want_lp = true, .lp = lp, .n_lp = 2, .piece = fake_piece};
    char *s = cria_api_response_json(&r);
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    const cJSON *o = path_get(choice0(j), "logprobs", NULL);
    assert_string_equal(cJSON_GetArrayItem(path_get(o, "tokens", NULL), 0)->valuestring, "bytes:\\xe2");
    assert_string_equal(cJSON_GetArrayItem(path_get(o, "tokens", NULL), 1)->valuestring, " b");
    assert_true(cJSON_GetArrayItem(path_get(o, "token_logprobs", NULL), 1)->valuedouble == -0.25);
    assert_int_equal(cJSON_GetArrayItem(path_get(o, "text_offset", NULL), 1)->valueint, 3);
    const cJSON *top = cJSON_GetArrayItem(path_get(o, "top_logprobs", NULL), 0);
    assert_int_equal(cJSON_GetArraySize(top), 3);
    assert_true(path_get(top, "bytes:\\xe2", NULL)->valuedouble == -0.5);
    assert_true(path_get(top, "A", NULL)->valuedouble == -1.0); /* the likelier "A" */
    assert_true(path_get(top, "bytes:\\x80", NULL)->valuedouble == -2.0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(path_get(o, "top_logprobs", NULL), 1)), 0);
    cJSON_Delete(j);
    free(s);

    r.chat = true;
    s = cria_api_response_json(&r);
    j = cJSON_Parse(s);
    assert_non_null(j);
    const cJSON *c = path_get(path_get(choice0(j), "logprobs", NULL), "content", NULL);
    assert_int_equal(cJSON_GetArraySize(c), 2);
    const cJSON *e0 = cJSON_GetArrayItem(c, 0);
    assert_string_equal(path_get(e0, "token", NULL)->valuestring, "\xEF\xBF\xBD");
    assert_int_equal(cJSON_GetArraySize(path_get(e0, "bytes", NULL)), 1);
    assert_int_equal(path_get(e0, "bytes", NULL)->child->valueint, 0xE2);
    assert_int_equal(cJSON_GetArraySize(path_get(e0, "top_logprobs", NULL)), 4); /* a list: both "A"s */
    const cJSON *a3 = cJSON_GetArrayItem(path_get(e0, "top_logprobs", NULL), 3);
    assert_int_equal(path_get(a3, "bytes", NULL)->child->valueint, 0x80);
    assert_true(path_get(a3, "logprob", NULL)->valuedouble == -2.0);
    cJSON_Delete(j);
    free(s);

    size_t n = 0;
    s = cria_api_chunk_sse(&r, true, &n); /* a chunk carries the same shape */
    assert_true(n > 8 && !strncmp(s, "data: ", 6));
    j = cJSON_ParseWithLength(s + 6, n - 8);
    assert_non_null(j);
    assert_int_equal(cJSON_GetArraySize(path_get(path_get(choice0(j), "logprobs", NULL), "content", NULL)), 2);
    cJSON_Delete(j);
    free(s);

    r.want_lp = false;
    for (int chat = 0; chat < 2; chat++) {
        r.chat = chat;
        s = cria_api_response_json(&r);
        j = cJSON_Parse(s);
        assert_true(cJSON_IsNull(path_get(choice0(j), "logprobs", NULL)));
        cJSON_Delete(j);
        free(s);
    }
}

static void test_chat_templates(void **state)
{
    (void)state;
    static const struct {
        const char *jinja;
        cria_chat_template t;
    } cases[] = {
        {"{% for m in messages %}<|im_start|>{{ m.role }}", CRIA_CHAT_CHATML},
        {"{{ bos_token }}[INST] {{ m.content }} [/INST]", CRIA_CHAT_LLAMA2},
        {"<|start_header_id|>' + message['role'] + '<|end_header_id|>", CRIA_CHAT_LLAMA3},
        {"<|user|>\n{{ message['content'] }}</s>", CRIA_CHAT_ZEPHYR},
        {"<start_of_turn>user\n", CRIA_CHAT_GEMMA},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cria_chat_template t = CRIA_CHAT_COUNT;
        assert_true(cria_chat_template_detect(cases[i].jinja, strlen(cases[i].jinja), &t));
        assert_int_equal(t, cases[i].t);
        cria_chat_template u;
        assert_true(cria_chat_template_from_name(cria_chat_template_name(t), &u));
        assert_int_equal(u, t);
    }
    cria_chat_template t;
    assert_false(cria_chat_template_detect("{{ messages }}", 14, &t));
    assert_false(cria_chat_template_from_name("vicuna", &t));
    bool had = true;
    assert_false(cria_chat_template_from_file(test_shared(CKPT), &t, &had)); /* not a GGUF */
    assert_false(had);
    if (test_have("models/stories260K-f32.gguf")) { /* a GGUF without tokenizer.chat_template */
        assert_false(cria_chat_template_from_file(test_shared("models/stories260K-f32.gguf"), &t, &had));
        assert_false(had);
    }

    const cria_chat_msg msgs[] = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye"}};
    static const char *const want[CRIA_CHAT_COUNT] = {
        [CRIA_CHAT_CHATML] = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                             "<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
                             "<|im_start|>assistant\n",
        [CRIA_CHAT_LLAMA2] = "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello</s><s>[INST] Bye [/INST]",
        [CRIA_CHAT_LLAMA3] = "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                             "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                             "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>"
                             "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
                             "<|start_header_id|>assistant<|end_header_id|>\n\n",
        [CRIA_CHAT_ZEPHYR] = "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello</s>\n"
                             "<|user|>\nBye</s>\n<|assistant|>\n",
        [CRIA_CHAT_GEMMA] = "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
                            "<start_of_turn>model\nHello<end_of_turn>\n"
                            "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n",
    };
    for (int i = 0; i < CRIA_CHAT_COUNT; i++) {
        size_t len = 0;
        char *s = cria_chat_render((cria_chat_template)i, msgs, 4, true, &len);
        assert_non_null(s);
        assert_string_equal(s, want[i]);
        assert_int_equal(len, strlen(want[i]));
        free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_templates),
        cmocka_unit_test(test_logprob_shapes),
        cmocka_unit_test(test_health_models),
        cmocka_unit_test(test_greedy_equals_run),
        cmocka_unit_test(test_seeded),
        cmocka_unit_test(test_stop_string),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_chat),
        cmocka_unit_test(test_logprobs),
        cmocka_unit_test(test_chat_logprobs),
        cmocka_unit_test(test_tokenize_detokenize),
        cmocka_unit_test(test_api_key),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_disconnect_frees_slot),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_sigterm), /* last: stops the main server */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
