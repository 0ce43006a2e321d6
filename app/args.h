/* Command-line parsing helpers shared by the subcommands: strict numbers, clear errors. */
#ifndef CRIA_APP_ARGS_H
#define CRIA_APP_ARGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cria.h"

/*
 * Each parser reads argv[*i + 1] as the value of option argv[*i], advances *i
 * and returns true; on a missing or malformed value it prints one error line
 * to stderr and returns false.
 */
bool cria_arg_str(int argc, char **argv, int *i, const char **out);
bool cria_arg_i32(int argc, char **argv, int *i, int32_t lo, int32_t hi, int32_t *out);
bool cria_arg_i64(int argc, char **argv, int *i, int64_t lo, int64_t hi, int64_t *out);
bool cria_arg_f32(int argc, char **argv, int *i, float lo, float hi, float *out);

/*
 * llama-cli's thread placement options (-C/--cpu-mask, -Cr/--cpu-range,
 * --cpu-strict, --prio, --numa) into cpu. Returns false when argv[*i] is none
 * of them (*ok untouched); else *ok says whether its value parsed.
 */
bool cria_cpu_arg(int argc, char **argv, int *i, cria_cpu_params *cpu, bool *ok);

/* Their help lines, for the subcommands that take them. */
void cria_cpu_usage(FILE *f);

/* Prints "error: " and the message to stderr. */
void cria_app_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
