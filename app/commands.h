/* Subcommand entry points: each takes argv starting at its own name and returns the exit status. */
#ifndef CRIA_APP_COMMANDS_H
#define CRIA_APP_COMMANDS_H

int cria_cmd_run(int argc, char **argv);
int cria_cmd_batch(int argc, char **argv);
int cria_cmd_serve(int argc, char **argv);
int cria_cmd_bench(int argc, char **argv);
int cria_cmd_tune(int argc, char **argv);
int cria_cmd_info(int argc, char **argv);
int cria_cmd_synth(int argc, char **argv);
int cria_cmd_quantize(int argc, char **argv);
int cria_cmd_tokenize(int argc, char **argv);

#endif
