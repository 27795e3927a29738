/* cflight-integration-server: the server side of Arrow's Flight integration
 * tests, with the command line of Arrow C++'s flight-test-integration-server:
 *
 *   cflight-integration-server -port=0 [-scenario NAME]
 *
 * Listens on localhost (127.0.0.1 and, where there is one, ::1) at PORT (0:
 * a free port), prints "Server listening on localhost:PORT" as the first
 * line of stdout, and serves until SIGTERM or SIGINT, which end it cleanly
 * (exit status 0). Flags take the forms -flag=value, -flag value,
 * --flag=value and --flag value. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include "common.h" /* tools/ipc-integration: flags_parse */
#include "fi.h"

#define PROG "cflight-integration-server"

static void usage(FILE *out, const flag_def *defs, size_t n_defs) {
  fprintf(out, "usage: " PROG
               " -port=PORT [-scenario NAME]\n"
               "Serves one scenario of Arrow's Flight integration tests (none: the data\n"
               "round trip) on localhost until SIGTERM or SIGINT.\n\n");
  flags_usage(out, defs, n_defs);
  fprintf(out, "\nscenarios:\n");
  for (size_t i = 0; i < fi_n_scenarios; i++)
    fprintf(out, "  %-38s %s\n", fi_scenarios[i]->name, fi_scenarios[i]->summary);
}

static bool parse_port(const char *s, int *out) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535) return false;
  *out = (int)v;
  return true;
}

int main(int argc, char **argv) {
  const char *port_s = "31337", *scenario_name = "";
  const flag_def defs[] = {
      {"port", FLAG_STRING, "PORT: the port to listen on (0: any free port)", NULL, &port_s},
      {"scenario", FLAG_STRING, "NAME: the scenario to serve (default: the data round trip)", NULL,
       &scenario_name},
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
  int port;
  if (!parse_port(port_s, &port)) {
    fprintf(stderr, PROG ": -port must be a number from 0 to 65535, not '%s'\n", port_s);
    return 2;
  }
  const fi_scenario *scenario = fi_scenario_find(scenario_name);
  if (scenario == NULL) {
    fprintf(stderr, PROG ": unknown scenario '%s' (see --help for the list)\n", scenario_name);
    return 2;
  }

  /* SIGTERM and SIGINT stop the server, taken by sigwait below: reset them
   * (a shell starts background jobs with SIGINT ignored) and block them
   * before the server starts its threads, which inherit the mask. A peer
   * that goes away must not kill the server through SIGPIPE. */
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  cflight_error err = {0};
  fi_server_setup setup;
  memset(&setup, 0, sizeof(setup));
  setup.options = cflight_server_options_new();
  if (setup.options == NULL) {
    fprintf(stderr, PROG ": out of memory\n");
    return 1;
  }
  cflight_server *server = NULL;
  char location[64];
  snprintf(location, sizeof(location), "grpc+tcp://127.0.0.1:%d", port);
  rc = scenario->make_server(&setup, &err);
  if (rc == CFLIGHT_OK)
    rc = cflight_server_new(location, &setup.handlers, sizeof(setup.handlers), setup.user,
                            setup.options, &server, &err);
  cflight_server_options_free(setup.options);
  if (rc != CFLIGHT_OK) {
    fprintf(stderr, PROG ": cannot serve %s on %s: %s\n",
            scenario_name[0] ? scenario_name : "the data round trip", location, err.message);
    if (setup.free_user != NULL && setup.user != NULL) setup.free_user(setup.user);
    cflight_error_reset(&err);
    return 1;
  }
  /* Clients resolve "localhost" to 127.0.0.1, ::1 or both: listen on ::1 at
   * the same port too, where the host has IPv6 (a failure there is no
   * reason to stop: 127.0.0.1 serves). */
  snprintf(location, sizeof(location), "grpc+tcp://[::1]:%d", cflight_server_port(server));
  if (cflight_server_add_location(server, location, &err) != CFLIGHT_OK) cflight_error_reset(&err);
  if (setup.started != NULL) setup.started(setup.user, server);

  printf("Server listening on localhost:%d\n", cflight_server_port(server));
  fflush(stdout);

  int sig = 0;
  while (sigwait(&stop, &sig) != 0) {
  }
  cflight_server_shutdown(server, 1.0);
  cflight_server_free(server);
  if (setup.free_user != NULL && setup.user != NULL) setup.free_user(setup.user);
  return 0;
}
