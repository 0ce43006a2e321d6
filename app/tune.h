/* Tuning files in the subcommands: cria tune writes them (app/tune.c); run, bench, batch and serve read them. */
#ifndef CRIA_APP_TUNE_H
#define CRIA_APP_TUNE_H

#include <stdbool.h>

#include "bench/tunefile.h"
#include "cria.h"

/*
 * Looks up the tuning file for model on this CPU (src/bench/tunefile.h).
 * When one is found, fills *t, prints one line on stderr naming it (unless
 * quiet) and returns true. A file that is there but unusable (corrupt, or
 * made for another CPU or shape) gets a one-line warning (unless quiet) and
 * is ignored.
 */
bool cria_app_tune_load(const cria_model *model, bool quiet, cria_tuning *t);

#endif
