/* Client connections for the cflight commands: the connection options
 * (TLS, authentication, headers, timeouts) every client command accepts,
 * connecting and logging in, and error messages that say what to try. */
#ifndef CLI_CONN_H
#define CLI_CONN_H

#include "args.h"
#include "util.h"

#define CONN_MAX_HEADERS 64

typedef struct conn_opts {
  const char *tls_ca, *tls_cert, *tls_key, *tls_override_hostname;
  bool insecure;
  const char *user, *password;
  bool handshake; /* BasicAuth handshake instead of the basic-token header scheme */
  const char *token;
  const char *headers[CONN_MAX_HEADERS]; /* "key=value" */
  int n_headers;
  double timeout;                        /* seconds per call; 0: none */
  const char *options[CONN_MAX_HEADERS]; /* transport options, "name=value" */
  int n_options;
} conn_opts;

/* The connection options' table (ids from CONN_OPT_BASE up). */
#define CONN_OPT_BASE 1000
extern const arg_spec conn_specs[];

/* Applies one of conn_specs; returns 0, or 1 with msg filled. */
int conn_opts_apply(conn_opts *o, const arg_spec *spec, const char *value, char *msg, size_t cap);

/* "localhost:8815" -> "grpc://localhost:8815" (a URI with a scheme stays
 * as it is). Writes into buf. */
const char *conn_normalize_uri(const char *uri, char *buf, size_t cap);

typedef struct conn conn;

/* Connects to uri and logs in as the options say. The password comes from
 * --password, else $CFLIGHT_PASSWORD, else a prompt on the terminal. */
int conn_open(const conn_opts *o, const char *uri, conn **out, cflight_error *err);
void conn_close(conn *c);

cflight_client *conn_client(conn *c);
/* The options for every call: headers, the login's token, the timeout, and
 * full validation of received data. */
const cflight_call_options *conn_call_options(conn *c);
const char *conn_uri(const conn *c);
const conn_opts *conn_options(const conn *c);

/* Prints "cflight: <what>: <reason>. <hint>" for a failed call (hints for
 * refused connections, authentication, TLS, timeouts) and returns
 * CLI_EXIT_FAILURE. */
int conn_report(const char *uri, const char *what, const cflight_error *err, const conn_opts *o);

/* A descriptor from the command line: a path "a/b" (split at '/'), or
 * the bytes of --cmd. */
int conn_descriptor(const char *path, const char *cmd, cflight_descriptor **out,
                    cflight_error *err);
/* How a descriptor reads: "path a/b" or "cmd '...'" (into buf). */
const char *conn_describe_descriptor(const cflight_descriptor *d, char *buf, size_t cap);

#endif /* CLI_CONN_H */
