/* Helpers shared by the test programs (cmocka). */
#ifndef CRIA_TESTS_UTIL_H
#define CRIA_TESTS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Path of a file under the shared data folder ($CRIA_SHARED, default
 * ../shared from the project root), e.g. "models/tok512.bin". Returns a static
 * buffer per call slot (up to 8 live at once).
 */
const char *test_shared(const char *rel);

/* True when the shared file exists; tests that need it call skip() otherwise. */
bool test_have(const char *rel);

/* Reads a whole file into a malloc'd buffer (NUL-terminated); *size gets its length. NULL on failure. */
char *test_read_file(const char *path, size_t *size);

/* Writes size bytes to path; false on failure. */
bool test_write_file(const char *path, const void *data, size_t size);

/* A fresh path under the test temp folder ($TMPDIR or /tmp), unique per call in this process. */
const char *test_tmp_path(const char *suffix);

/*
 * Runs the cria binary ($CRIA_BIN, default build/cria) with a shell command
 * line of arguments; captures stdout and stderr into malloc'd strings (either
 * pointer may be NULL to discard). Returns the exit status (-1 if it did not
 * exit normally).
 */
int test_run_cria(const char *args, char **out, char **err);

/* Normalised mean squared error sum((a-b)^2) / sum(a^2). */
double test_nmse(const float *ref, const float *got, size_t n);

/* Fails the running cmocka test when two bit patterns differ, naming what and index i. */
void test_check_bits(uint32_t got, uint32_t want, const char *what, long i);

/* Fails the running cmocka test, printing hay, unless hay holds needle. */
void test_assert_contains(const char *hay, const char *needle);

/* A xorshift32 step of *s (not 0), and a float in [-1, 1) from it: fixed test signals. */
uint32_t test_rng_next(uint32_t *s);
float test_rng_float(uint32_t *s);

/* Skips the running cmocka test (saying why) when the shared file rel is missing. */
#define SKIP_WITHOUT(rel)                                        \
    do {                                                         \
        if (!test_have(rel)) {                                   \
            print_message("skipped: no %s\n", test_shared(rel)); \
            skip();                                              \
        }                                                        \
    } while (0)

#endif
