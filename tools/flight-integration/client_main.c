/* cflight-integration-client: the client side of Arrow's Flight integration
 * tests, with the command line of Arrow C++'s flight-test-integration-client:
 *
 *   cflight-integration-client -host localhost -port=PORT -path FILE.json
 *   cflight-integration-client -host localhost -port=PORT -scenario NAME
 *
 * Runs the data round trip (-path: an integration JSON file, plain or
 * gzip-compressed) or a named scenario against the server at HOST:PORT.
 * Exit status: 0 when every check passed; 1 with a message on stderr saying
 * what differed or failed; 2 for a bad command line. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "common.h" /* tools/ipc-integration: flags_parse */
#include "fi.h"

#define PROG "cflight-integration-client"

static void usage(FILE *out, const flag_def *defs, size_t n_defs) {
  fprintf(out, "usage: " PROG
               " -host HOST -port=PORT (-path FILE.json | -scenario NAME)\n"
               "Runs the client side of one of Arrow's Flight integration tests against the\n"
               "server at HOST:PORT.\n\n");
  flags_usage(out, defs, n_defs);
  fprintf(out, "\nscenarios:\n");
  for (size_t i = 0; i < fi_n_scenarios; i++)
    fprintf(out, "  %-38s %s\n", fi_scenarios[i]->name, fi_scenarios[i]->summary);
}

int main(int argc, char **argv) {
  const char *host = "localhost", *port_s = "31337", *path = "", *scenario_name = "";
  bool verbose = false;
  const flag_def defs[] = {
      {"host", FLAG_STRING, "HOST: the server's host (default localhost)", NULL, &host},
      {"port", FLAG_STRING, "PORT: the server's port", NULL, &port_s},
      {"path", FLAG_STRING, "FILE: the integration JSON to send and read back (no -scenario)", NULL,
       &path},
      {"scenario", FLAG_STRING, "NAME: the scenario to run (default: the data round trip)", NULL,
       &scenario_name},
      {"verbose", FLAG_BOOL, "print progress", &verbose, NULL},
  };
  const char *positional[1];
  int n_positional = 0;
  bool help = false;
  int rc =
      flags_parse(PROG, argc, argv, defs, CF_ARRAY_SIZE(defs), positional, 0, &n_positional, &help);
  if (rc != 0 || help) {
    usage(help && rc == 0 ? stdout : stderr, defs, CF_ARRAY_SIZE(defs));
    return help && rc == 0 ? 0 : 2;
  }
  char *end = NULL;
  errno = 0;
  long port = strtol(port_s, &end, 10);
  if (errno != 0 || end == port_s || *end != '\0' || port < 1 || port > 65535) {
    fprintf(stderr, PROG ": -port must be a number from 1 to 65535, not '%s'\n", port_s);
    return 2;
  }
  const fi_scenario *scenario = fi_scenario_find(scenario_name);
  if (scenario == NULL) {
    fprintf(stderr, PROG ": unknown scenario '%s' (see --help for the list)\n", scenario_name);
    return 2;
  }
  if (scenario == &fi_scenario_default && path[0] == '\0') {
    fprintf(stderr, PROG ": give -path FILE.json (the data round trip) or -scenario NAME\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);

  fi_client_args args = {host, (int)port, path, verbose};
  cflight_error err = {0};
  rc = scenario->run_client(&args, &err);
  if (rc != CFLIGHT_OK) {
    if (scenario == &fi_scenario_default) {
      fprintf(stderr, PROG ": %s against %s:%ld failed: %s\n", path, host, port, err.message);
    } else {
      fprintf(stderr, PROG ": scenario %s against %s:%ld failed: %s\n", scenario_name, host, port,
              err.message);
    }
    cflight_error_reset(&err);
    return 1;
  }
  if (verbose) printf("%s: OK\n", scenario == &fi_scenario_default ? path : scenario_name);
  return 0;
}
