/* The Flight integration programs (cflight-integration-server and
 * cflight-integration-client): the scenarios of Arrow's cross-implementation
 * Flight integration tests, each with a server side and a client side.
 *
 * A scenario fills a server setup (handlers, user data, server options) and
 * runs a client against a server given by host and port. Both sides follow
 * the reference implementations (Arrow C++, Java, Go): the same descriptors,
 * tickets, action types, values and error codes. */
#ifndef CF_FLIGHT_INTEGRATION_H
#define CF_FLIGHT_INTEGRATION_H

#include <stdio.h>

#include "arrow/arrow.h"

/* ---- Scenarios ------------------------------------------------------------------------------- */

/* What a scenario's server side needs from the program and gives it. */
typedef struct fi_server_setup {
  cflight_server_handlers handlers; /* zeroed: unset handlers answer UNIMPLEMENTED */
  cflight_server_options *options;  /* made by the program; add auth, middleware */
  void *user;                       /* passed to every handler */
  void (*free_user)(void *user);    /* after the server is freed (may be NULL) */
  /* Called once the server listens, before any call: for servers that
   * return their own location (may be NULL). */
  void (*started)(void *user, cflight_server *server);
} fi_server_setup;

/* Where the client connects, and the default scenario's JSON file. */
typedef struct fi_client_args {
  const char *host;
  int port;
  const char *path; /* the default scenario only */
  bool verbose;
} fi_client_args;

typedef struct fi_scenario {
  const char *name;    /* as archery names it: "auth:basic_proto", ... */
  const char *summary; /* one line for --help */
  int (*make_server)(fi_server_setup *setup, cflight_error *err);
  /* Runs the client side; a failed check is an error saying what differed. */
  int (*run_client)(const fi_client_args *args, cflight_error *err);
} fi_scenario;

/* The default scenario (no -scenario): the data round trip through DoPut,
 * GetFlightInfo and DoGet. */
extern const fi_scenario fi_scenario_default;

/* The named scenarios, and the one called name (NULL when unknown). */
extern const fi_scenario *const fi_scenarios[];
extern const size_t fi_n_scenarios;
const fi_scenario *fi_scenario_find(const char *name);

/* Each scenario file defines one (or, for expiration_time, four). */
extern const fi_scenario fi_scenario_auth_basic_proto;
extern const fi_scenario fi_scenario_middleware;
extern const fi_scenario fi_scenario_ordered;
extern const fi_scenario fi_scenario_expiration_do_get;
extern const fi_scenario fi_scenario_expiration_list_actions;
extern const fi_scenario fi_scenario_expiration_cancel_flight_info;
extern const fi_scenario fi_scenario_expiration_renew_flight_endpoint;
extern const fi_scenario fi_scenario_location_reuse_connection;
extern const fi_scenario fi_scenario_session_options;
extern const fi_scenario fi_scenario_poll_flight_info;
extern const fi_scenario fi_scenario_app_metadata;
extern const fi_scenario fi_scenario_do_exchange_echo;

/* ---- Client helpers -------------------------------------------------------------------------- */

/* Connects to args' host and port (grpc+tcp) with opts (may be NULL) and
 * waits until the server answers (up to 10 s), so that a server still
 * starting is not a failure. The caller closes *out. */
int fi_connect(const fi_client_args *args, const cflight_client_options *opts, cflight_client **out,
               cflight_error *err);

/* Prefixes err's message with "what: " (keeping its code), for context. */
int fi_wrap(cflight_error *err, int code, const char *fmt, ...) CFLIGHT_PRINTF(3, 4);

/* A failed check: CFLIGHT_INVALID_DATA with the message. */
int fi_fail(cflight_error *err, const char *fmt, ...) CFLIGHT_PRINTF(2, 3);

/* A CMD descriptor holding the bytes of the string cmd. */
int fi_command(const char *cmd, cflight_descriptor **out, cflight_error *err);

/* Whether d is a CMD descriptor holding exactly the bytes of cmd. */
bool fi_is_command(const cflight_descriptor *d, const char *cmd);

/* Whether bytes[0..size) are exactly the string s. */
bool fi_bytes_eq(const uint8_t *bytes, size_t size, const char *s);

/* Bytes as printable text for messages: at most 64 bytes, others escaped. */
void fi_bytes_text(const uint8_t *bytes, size_t size, char *buf, size_t cap);

/* Reads a whole DoGet stream of one integer column and appends its values
 * to values (grown with realloc; *n counts them). The stream's schema must
 * be one field `name` of format `format` ("i" int32, "I" uint32) that is
 * not nullable; every value must be non-null. `what` names the stream in
 * messages. The reader stays the caller's. */
int fi_read_int_column(cflight_stream_reader *r, const char *what, const char *name,
                       const char *format, int64_t **values, size_t *n, cflight_error *err);

/* Checks values[0..n) against want[0..n_want). */
int fi_check_ints(const char *what, const int64_t *values, size_t n, const int64_t *want,
                  size_t n_want, cflight_error *err);

/* ---- Server helpers -------------------------------------------------------------------------- */

/* A schema of one integer field `name` of format `format` ("i", "I"), not nullable. */
int fi_int_schema(const char *name, const char *format, struct ArrowSchema *out,
                  cflight_error *err);

/* A batch of that schema holding values[0..n) (each cast to the format's width). */
int fi_int_batch(const char *format, const int64_t *values, int64_t n, struct ArrowArray *out,
                 cflight_error *err);

/* A data stream of one batch of one integer column, for DoGet. */
int fi_int_stream(const char *name, const char *format, const int64_t *values, int64_t n,
                  cflight_data_stream **out, cflight_error *err);

/* A FlightInfo of schema (may be NULL: an empty schema), a copy of
 * descriptor, the given endpoints (copied), and total_records and
 * total_bytes -1 (unknown). */
int fi_flight_info(const struct ArrowSchema *schema, const cflight_descriptor *descriptor,
                   cflight_endpoint *const *endpoints, size_t n_endpoints,
                   cflight_flight_info **out, cflight_error *err);

/* An endpoint whose ticket holds the bytes of the string ticket (NULL: no
 * ticket) and that has no locations, unless location is not NULL. */
int fi_endpoint(const char *ticket, const char *location, cflight_endpoint **out,
                cflight_error *err);

#endif
