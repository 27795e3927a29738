/* cflight: a ready Arrow Flight server over a data directory, and a client
 * for any Flight server, used from a terminal as psql or curl are.
 * This file dispatches the subcommands and prints the overall help. */
#include <locale.h>
#include <signal.h>

#include "cli.h"

typedef struct command_entry {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *summary;
} command_entry;

static const command_entry commands[] = {
    {"serve", cmd_serve, "run a Flight server over a data directory of Arrow files"},
    {"list", cmd_list, "list the flights of a server (ListFlights)"},
    {"info", cmd_info, "show a flight's FlightInfo (GetFlightInfo)"},
    {"schema", cmd_schema, "show a flight's schema (GetSchema)"},
    {"get", cmd_get, "download a flight as a table, CSV, JSON or Arrow (DoGet)"},
    {"put", cmd_put, "upload an Arrow or CSV file (DoPut)"},
    {"actions", cmd_actions, "list a server's actions (ListActions)"},
    {"action", cmd_action, "run an action (DoAction)"},
    {"exchange", cmd_exchange, "send a file and check what comes back (DoExchange)"},
};

static void print_help(FILE *out) {
  fprintf(out,
          "Usage: cflight COMMAND [ARGUMENTS]\n"
          "\n"
          "An Apache Arrow Flight server over a data directory (cflight serve), and a\n"
          "client for any Flight server.\n"
          "\n"
          "Commands:\n");
  for (size_t i = 0; i < CF_ARRAY_SIZE(commands); i++) {
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  }
  fprintf(out,
          "  %-10s %s\n"
          "\n"
          "Run 'cflight COMMAND --help' for a command's options.\n"
          "\n"
          "Examples:\n"
          "  cflight serve --data ./data              # serve on grpc://127.0.0.1:8815\n"
          "  cflight put localhost:8815 sales/2024 sales.csv\n"
          "  cflight list localhost:8815\n"
          "  cflight get localhost:8815 sales/2024 --limit 10\n"
          "  cflight get localhost:8815 sales/2024 --format arrow -o sales.arrow\n"
          "  cflight action localhost:8815 stats\n"
          "\n"
          "Server addresses: grpc://HOST:PORT (or just HOST:PORT), grpc+tls://HOST:PORT,\n"
          "grpc+unix:///PATH.\n"
          "\n" CLI_EXIT_CODES,
          "help", "show help for a command");
}

int cli_parse(const char *command, const arg_spec *const *groups, const char *const *titles,
              size_t n_groups, int argc, char **argv, arg_fn fn, void *ctx, const char *usage,
              const char *description, const char *footer) {
  int rc = args_parse(command, groups, n_groups, argc, argv, fn, ctx);
  if (rc == 1) {
    args_print_help(stdout, usage, description, groups, titles, n_groups, footer);
    return CLI_EXIT_OK;
  }
  if (rc == 2) return CLI_EXIT_USAGE;
  return -1;
}

static const command_entry *find_command(const char *name) {
  for (size_t i = 0; i < CF_ARRAY_SIZE(commands); i++) {
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  }
  return NULL;
}

int main(int argc, char **argv) {
  /* The terminal's character set, for the table's widths and symbols; numbers
   * stay in the C locale. */
  setlocale(LC_CTYPE, "");
  if (argc < 2) {
    print_help(stderr);
    return CLI_EXIT_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
    print_help(stdout);
    return CLI_EXIT_OK;
  }
  if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
    printf("cflight %s\n", cflight_version());
    return CLI_EXIT_OK;
  }
  if (strcmp(name, "help") == 0) {
    if (argc < 3) {
      print_help(stdout);
      return CLI_EXIT_OK;
    }
    const command_entry *c = find_command(argv[2]);
    if (c == NULL) {
      cli_errorf("no command '%s' (see 'cflight --help')", argv[2]);
      return CLI_EXIT_USAGE;
    }
    char *help_argv[] = {"--help"};
    return c->fn(1, help_argv);
  }
  const command_entry *c = find_command(name);
  if (c == NULL) {
    cli_errorf(
        "no command '%s'. Commands: serve, list, info, schema, get, put, actions, action, "
        "exchange (see 'cflight --help')",
        name);
    return CLI_EXIT_USAGE;
  }
  /* A closed pipe (cflight get ... | head) ends the program quietly, as
   * for other Unix tools; the library's sockets do not raise SIGPIPE. */
  signal(SIGPIPE, SIG_DFL);
  return c->fn(argc - 2, argv + 2);
}
