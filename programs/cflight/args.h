/* Command-line parsing for cflight's subcommands: a table of options per
 * command (long names, optional one-letter aliases, with or without a
 * value), from which both the parser and the --help text are made.
 *
 * Accepted forms: --name VALUE, --name=VALUE, -x VALUE, -xVALUE, and flags
 * --name / -x. "--" ends the options; "-" alone is a positional argument
 * (standard input or output). Options and positional arguments may mix. */
#ifndef CLI_ARGS_H
#define CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct arg_spec {
  const char *name;    /* long name without the dashes; NULL ends a table */
  char short_name;     /* 0: none */
  const char *metavar; /* NULL: a flag without a value */
  int id;              /* handed to the callback */
  const char *help;    /* one line (may contain '\n' for more) */
} arg_spec;

/* Called for each option (value NULL for flags) and positional argument
 * (spec NULL). Returns 0, or non-zero to stop with a usage error, after
 * writing the reason into msg (at most msg_cap bytes). */
typedef int (*arg_fn)(void *ctx, const arg_spec *spec, const char *value, char *msg,
                      size_t msg_cap);

/* Parses argv[0..argc) (argv[0] is the first argument, not the program)
 * against the option tables groups[0..n_groups). Returns 0; or 1 when
 * --help / -h was given (the caller prints help); or 2 after printing a
 * usage error ("cflight CMD: unknown option --x (did you mean --y?)") to
 * stderr. */
int args_parse(const char *command, const arg_spec *const *groups, size_t n_groups, int argc,
               char **argv, arg_fn fn, void *ctx);

/* Prints the help text: "Usage: " usage, the description, each group under
 * its title (titles[i], may be NULL), and the footer. */
/* Positional arguments, collected by an argument callback. */
#define ARGS_MAX_POSITIONAL 8
typedef struct args_positional {
  const char *values[ARGS_MAX_POSITIONAL];
  int count;
} args_positional;

/* Adds value; returns 1 with a message in msg when there are too many. */
int args_add_positional(args_positional *p, int max, const char *value, char *msg, size_t cap);

void args_print_help(FILE *out, const char *usage, const char *description,
                     const arg_spec *const *groups, const char *const *titles, size_t n_groups,
                     const char *footer);

#endif /* CLI_ARGS_H */
