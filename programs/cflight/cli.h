/* The cflight commands (one function per subcommand) and what they share. */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include "args.h"
#include "util.h"

/* Each command takes the arguments after its name and returns an exit code. */
int cmd_serve(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_schema(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_actions(int argc, char **argv);
int cmd_action(int argc, char **argv);
int cmd_exchange(int argc, char **argv);

/* "table"/"csv"/... names accepted by --format, for help texts. */
#define CLI_EXIT_CODES                                                          \
  "Exit status: 0 success; 1 failure (the server refused or failed the call,\n" \
  "the data or a file was bad, the connection failed); 2 usage error.\n"

/* Runs args_parse and turns its result into an exit code when it stops:
 * returns -1 to go on, or the code to exit with (0 after printing help). */
int cli_parse(const char *command, const arg_spec *const *groups, const char *const *titles,
              size_t n_groups, int argc, char **argv, arg_fn fn, void *ctx, const char *usage,
              const char *description, const char *footer);

#endif /* CLI_CLI_H */
