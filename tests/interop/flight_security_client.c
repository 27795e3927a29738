/* cflight's client against a peer's security server (tests/interop/README.md,
 * "Security"): TLS with the test CA and refusals of a wrong CA, a wrong host
 * name, a plaintext client; mutual TLS with and without a client
 * certificate; HTTP basic authentication for a bearer token
 * (cflight_client_authenticate_basic_token) and the BasicAuth handshake
 * (cflight_client_authenticate) with every RPC kind, with and without
 * credentials; middleware-visible metadata and cookies. Public API only.
 *
 *   flight_security_client --port N --ports "NAME=PORT ..." [--host H] [--certs DIR]
 *                          [--gold DIR] [--only SUBSTRING] [--peer NAME]
 *
 * Prints one line per failed check; exit status 0 when all passed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cflight.h"
#include "interop_util.h"

static it_args args;
static char *root_ca, *cert1, *key1, *untrusted_ca;
static it_gold primitive; /* the dataset the data calls use */
/* The valid token of the running check: no error message may show it. */
static char token_seen[512];

/* ---- Clients ------------------------------------------------------------------------------ */

typedef struct conn_opts {
  bool tls;
  const char *host;     /* default "localhost" with TLS (the certificate's name), else --host */
  const char *root;     /* trusted CAs (PEM), NULL: the system's */
  const char *cert;     /* client certificate and key (PEM) */
  const char *key;      /* the key of cert */
  const char *override; /* the name to verify instead of the host */
  bool insecure;        /* no server verification */
  bool record;          /* the recorder middleware */
  bool cookies;         /* the cookie middleware */
} conn_opts;

/* A client for the named port (NULL: the plaintext one), or NULL after a
 * failure. */
static cflight_client *client_for(const char *port_name, const conn_opts *co) {
  cflight_error err = {0};
  int port = port_name != NULL ? it_named_port(&args, port_name) : args.port;
  if (port == 0) {
    it_fail("the server has no port named %s", port_name);
    return NULL;
  }
  const char *host = co->host != NULL ? co->host : co->tls ? "localhost" : args.host;
  char uri[300];
  snprintf(uri, sizeof(uri), "grpc%s://%s:%d", co->tls ? "+tls" : "", host, port);
  cflight_client_options *o = cflight_client_options_new();
  bool ok = true;
  if (co->root != NULL) ok = IT_OK(cflight_client_options_set_tls_root_certs(o, co->root, &err));
  if (ok && co->cert != NULL)
    ok = IT_OK(cflight_client_options_set_tls_client_cert(o, co->cert, co->key, &err));
  if (ok && co->override != NULL)
    ok = IT_OK(cflight_client_options_set_tls_override_hostname(o, co->override, &err));
  cflight_client_options_set_disable_server_verification(o, co->insecure);
  if (ok && co->record)
    ok = IT_OK(cflight_client_options_add_middleware(o, it_header_recorder_new(), &err));
  if (ok && co->cookies)
    ok = IT_OK(
        cflight_client_options_add_middleware(o, cflight_client_cookie_middleware_new(), &err));
  cflight_client *c = NULL;
  if (ok) ok = IT_OK(cflight_client_connect(uri, o, &c, &err));
  cflight_client_options_free(o);
  return ok ? c : NULL;
}

/* Runs an action; its Results' bodies go to bodies[] (up to cap, each
 * NUL-terminated, truncated to 255 bytes; sizes[] has their sizes) and
 * their count to *n. */
static int action(cflight_client *c, const cflight_call_options *o, const char *type,
                  const void *body, size_t size, char bodies[][256], size_t sizes[], size_t cap,
                  size_t *n, cflight_error *err) {
  *n = 0;
  cflight_action *a = NULL;
  cflight_result_iter *it = NULL;
  int rc = cflight_action_new(type, body, size, &a, err);
  if (rc == CFLIGHT_OK) rc = cflight_client_do_action(c, a, o, &it, err);
  while (rc == CFLIGHT_OK) {
    cflight_result *r = NULL;
    rc = cflight_result_iter_next(it, &r, err);
    if (rc != CFLIGHT_OK || r == NULL) break;
    size_t bn = 0;
    const uint8_t *b = cflight_result_body(r, &bn);
    if (*n < cap) {
      if (bn > 255) bn = 255;
      if (bn > 0) memcpy(bodies[*n], b, bn);
      bodies[*n][bn] = '\0';
      if (sizes != NULL) sizes[*n] = bn;
    }
    (*n)++;
    cflight_result_free(r);
  }
  cflight_result_iter_free(it);
  cflight_action_free(a);
  return rc;
}

/* The "identity" action's answer into out, or false after a failure. */
static bool identity(cflight_client *c, const cflight_call_options *o, char out[256]) {
  cflight_error err = {0};
  char bodies[2][256];
  size_t n = 0;
  if (!IT_OK(action(c, o, "identity", NULL, 0, bodies, NULL, 2, &n, &err))) return false;
  if (n != 1) {
    it_fail("identity: %zu results", n);
    return false;
  }
  memcpy(out, bodies[0], 256);
  return true;
}

/* Checks that a call ended with `want`; a refusal's message must not show
 * the password or the token. */
static void expect_code(const char *what, const char *method, int rc, cflight_error *err,
                        int want) {
  if (rc != want) {
    it_fail("%s: %s: %s expected, got %s: %s", what, method, cflight_code_name(want),
            cflight_code_name(rc), rc ? err->message : "");
  } else if (rc != CFLIGHT_OK) {
    IT_EXPECT(strstr(err->message, IT_SECRET) == NULL, "%s: %s: the message shows the password",
              what, method);
    IT_EXPECT(token_seen[0] == '\0' || strstr(err->message, token_seen) == NULL,
              "%s: %s: the message shows the token", what, method);
  }
  cflight_error_reset(err);
}

static cflight_descriptor *path2(const char *a, const char *b) {
  const char *parts[2] = {a, b};
  cflight_descriptor *d = NULL;
  cflight_descriptor_new_path(parts, 2, &d, NULL);
  return d;
}

/* Every RPC kind but Handshake: each must end with `want`; when that is
 * CFLIGHT_OK, the answers are checked too. DoPut uploads to ["uploads",
 * upload]. */
static void every_rpc(cflight_client *c, const cflight_call_options *o, int want, const char *what,
                      const char *upload) {
  cflight_error err = {0};
  const char *prefix = "gold/generated_primitive"; /* 3 flights */
  cflight_info_iter *it = NULL;
  int rc = cflight_client_list_flights(c, prefix, strlen(prefix), o, &it, &err);
  size_t n = 0;
  while (rc == CFLIGHT_OK) {
    cflight_flight_info *info = NULL;
    rc = cflight_info_iter_next(it, &info, &err);
    if (info == NULL) break;
    n++;
    cflight_flight_info_free(info);
  }
  cflight_info_iter_free(it);
  expect_code(what, "ListFlights", rc, &err, want);
  if (rc == CFLIGHT_OK) IT_EXPECT(n == 3, "%s: ListFlights: %zu flights, not 3", what, n);

  cflight_descriptor *d = path2("gold", "generated_primitive");
  cflight_flight_info *info = NULL;
  rc = cflight_client_get_flight_info(c, d, o, &info, &err);
  expect_code(what, "GetFlightInfo", rc, &err, want);
  if (rc == CFLIGHT_OK)
    IT_EXPECT(cflight_flight_info_total_records(info) == primitive.rows,
              "%s: GetFlightInfo: total_records %lld", what,
              (long long)cflight_flight_info_total_records(info));
  cflight_flight_info_free(info);
  struct ArrowSchema schema = {0};
  rc = cflight_client_get_schema(c, d, o, &schema, &err);
  expect_code(what, "GetSchema", rc, &err, want);
  char why[512];
  if (rc == CFLIGHT_OK)
    IT_EXPECT(it_schema_equal(&primitive.schema, &schema, why, sizeof(why)), "%s: GetSchema: %s",
              what, why);
  if (schema.release != NULL) schema.release(&schema);
  cflight_descriptor_free(d);

  cflight_ticket *t = NULL;
  cflight_ticket_new("gold/generated_primitive", 24, &t, NULL);
  cflight_stream_reader *r = NULL;
  rc = cflight_client_do_get(c, t, o, &r, &err);
  int64_t rows = 0;
  while (rc == CFLIGHT_OK) {
    cflight_chunk ch;
    bool end = false;
    rc = cflight_stream_reader_next(r, &ch, &end, &err);
    if (rc != CFLIGHT_OK || end) break;
    if (ch.data.release != NULL) rows += ch.data.length;
    cflight_chunk_release(&ch);
  }
  cflight_stream_reader_free(r);
  cflight_ticket_free(t);
  expect_code(what, "DoGet", rc, &err, want);
  if (rc == CFLIGHT_OK)
    IT_EXPECT(rows == primitive.rows, "%s: DoGet: %lld rows, not %lld", what, (long long)rows,
              (long long)primitive.rows);

  /* DoPut: the refusal comes from a write or from close, whenever it came. */
  it_int64_schema("n", &schema);
  d = path2("uploads", upload);
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *mr = NULL;
  rc = cflight_client_do_put(c, d, &schema, o, &w, &mr, &err);
  struct ArrowArray batch;
  if (rc == CFLIGHT_OK && it_int64_batch(10, 0, &batch)) {
    rc = cflight_stream_writer_write(w, &batch, "m0", 2, &err);
    batch.release(&batch);
  }
  cflight_buffer *ack = NULL;
  /* The ack comes before the end (PutResults not read at close are dropped). */
  if (rc == CFLIGHT_OK) rc = cflight_metadata_reader_read(mr, &ack, &err);
  if (rc == CFLIGHT_OK) rc = cflight_stream_writer_close(w, &err);
  expect_code(what, "DoPut", rc, &err, want);
  if (rc == CFLIGHT_OK)
    IT_EXPECT(ack != NULL && it_buffer_is(ack, "ack:0:m0", 8), "%s: DoPut: ack %s", what,
              ack ? it_show(cflight_buffer_data(ack), cflight_buffer_size(ack)) : "(none)");
  cflight_buffer_unref(ack);
  cflight_metadata_reader_free(mr);
  cflight_stream_writer_free(w);
  cflight_descriptor_free(d);
  schema.release(&schema);

  cflight_descriptor_new_command("echo", 4, &d, NULL);
  r = NULL;
  w = NULL;
  rc = cflight_client_do_exchange(c, d, o, &w, &r, &err);
  if (rc == CFLIGHT_OK) rc = cflight_stream_writer_write_metadata(w, "ping", 4, &err);
  cflight_chunk ch = {0};
  bool end = false;
  if (rc == CFLIGHT_OK) rc = cflight_stream_reader_next(r, &ch, &end, &err);
  if (rc == CFLIGHT_OK)
    IT_EXPECT(!end && ch.app_metadata != NULL && it_buffer_is(ch.app_metadata, "ping", 4),
              "%s: DoExchange: the metadata did not come back", what);
  cflight_chunk_release(&ch);
  if (rc == CFLIGHT_OK) rc = cflight_stream_writer_close(w, &err);
  if (rc == CFLIGHT_OK) rc = cflight_stream_reader_next(r, &ch, &end, &err);
  if (rc == CFLIGHT_OK) IT_EXPECT(end, "%s: DoExchange: more than the echo", what);
  cflight_chunk_release(&ch);
  cflight_stream_writer_free(w);
  cflight_stream_reader_free(r);
  cflight_descriptor_free(d);
  expect_code(what, "DoExchange", rc, &err, want);

  char bodies[2][256];
  rc = action(c, o, "echo", "hi", 2, bodies, NULL, 2, &n, &err);
  expect_code(what, "DoAction", rc, &err, want);
  if (rc == CFLIGHT_OK)
    IT_EXPECT(n == 1 && strcmp(bodies[0], "hi") == 0, "%s: DoAction echo", what);

  cflight_action_type_iter *ti = NULL;
  rc = cflight_client_list_actions(c, o, &ti, &err);
  n = 0;
  while (rc == CFLIGHT_OK) {
    cflight_action_type *at = NULL;
    rc = cflight_action_type_iter_next(ti, &at, &err);
    if (at == NULL) break;
    n++;
    cflight_action_type_free(at);
  }
  cflight_action_type_iter_free(ti);
  expect_code(what, "ListActions", rc, &err, want);
  if (rc == CFLIGHT_OK)
    IT_EXPECT(n == it_n_actions, "%s: ListActions: %zu actions, not %zu", what, n, it_n_actions);
}

/* Whether the upload named `upload` exists, as an authorized client sees it. */
static void expect_no_upload(cflight_client *c, const cflight_call_options *o, const char *upload) {
  cflight_error err = {0};
  cflight_descriptor *d = path2("uploads", upload);
  cflight_flight_info *info = NULL;
  int rc = cflight_client_get_flight_info(c, d, o, &info, &err);
  if (rc == CFLIGHT_OK)
    it_fail("an unauthenticated DoPut stored uploads/%s", upload);
  else
    it_expect_status("GetFlightInfo of the refused upload", rc, &err, CFLIGHT_NOT_FOUND, NULL);
  cflight_flight_info_free(info);
  cflight_descriptor_free(d);
}

/* Expects a client that cannot connect: the first call fails with a message
 * containing `want_message` (NULL: any), as code UNAVAILABLE unless
 * any_code. */
static void expect_refused(const char *what, cflight_client *c, const char *want_message,
                           bool any_code) {
  if (c == NULL) return;
  cflight_error err = {0};
  char bodies[2][256];
  size_t n = 0;
  int rc = action(c, NULL, "echo", "x", 1, bodies, NULL, 2, &n, &err);
  if (rc == CFLIGHT_OK) {
    it_fail("%s: the call succeeded", what);
  } else {
    printf("  %s: %s: %s\n", what, cflight_code_name(rc), err.message);
    IT_EXPECT(any_code || rc == CFLIGHT_UNAVAILABLE, "%s: UNAVAILABLE expected, got %s", what,
              cflight_code_name(rc));
    IT_EXPECT(want_message == NULL || strstr(err.message, want_message) != NULL,
              "%s: the message does not say \"%s\": %s", what, want_message, err.message);
  }
  cflight_error_reset(&err);
  cflight_client_close(c);
}

/* ---- TLS ---------------------------------------------------------------------------------- */

static void t_tls(const char *unused) {
  (void)unused;
  cflight_client *c = client_for("tls", &(conn_opts){.tls = true, .root = root_ca});
  if (c == NULL) return;
  every_rpc(c, NULL, CFLIGHT_OK, "TLS", "tls");
  char id[256];
  if (identity(c, NULL, id)) IT_EXPECT(id[0] == '\0', "identity without a certificate: %s", id);
  cflight_client_close(c);
}

static void t_tls_wrong_ca(const char *unused) {
  (void)unused;
  expect_refused("untrusted CA", client_for("tls", &(conn_opts){.tls = true, .root = untrusted_ca}),
                 "certificate verify failed", false);
  /* The test CA is not in the system's store. */
  expect_refused("system trust store", client_for("tls", &(conn_opts){.tls = true}),
                 "certificate verify failed", false);
  /* Server verification off (tests only): the same server is reachable. */
  cflight_client *c =
      client_for("tls", &(conn_opts){.tls = true, .root = untrusted_ca, .insecure = true});
  char id[256];
  if (c != NULL) identity(c, NULL, id);
  cflight_client_close(c);
}

static void t_tls_host_name(const char *unused) {
  (void)unused;
  /* The certificate names "localhost" (subject CN, no subjectAltName). */
  expect_refused("IP address not in the certificate",
                 client_for("tls", &(conn_opts){.tls = true, .host = "127.0.0.1", .root = root_ca}),
                 "certificate verify failed", false);
  expect_refused(
      "other host name",
      client_for("tls",
                 &(conn_opts){.tls = true, .root = root_ca, .override = "flight.example.com"}),
      "certificate verify failed", false);
  cflight_client *c = client_for(
      "tls",
      &(conn_opts){.tls = true, .host = "127.0.0.1", .root = root_ca, .override = "localhost"});
  char id[256];
  if (c != NULL) identity(c, NULL, id);
  cflight_client_close(c);
}

static void t_tls_plaintext(const char *unused) {
  (void)unused;
  /* gRPC without TLS to a TLS port: no answer the client can take. */
  expect_refused("plaintext client", client_for("tls", &(conn_opts){.tls = false}), NULL, true);
}

/* ---- Mutual TLS ----------------------------------------------------------------------------- */

static void t_mtls(const char *unused) {
  (void)unused;
  cflight_client *c =
      client_for("mtls", &(conn_opts){.tls = true, .root = root_ca, .cert = cert1, .key = key1});
  if (c == NULL) return;
  char id[256];
  if (identity(c, NULL, id))
    IT_EXPECT(strcmp(id, IT_CLIENT_SUBJECT) == 0, "identity \"%s\", not \"%s\"", id,
              IT_CLIENT_SUBJECT);
  every_rpc(c, NULL, CFLIGHT_OK, "mTLS", "mtls");
  cflight_client_close(c);
}

static void t_mtls_refused(const char *unused) {
  (void)unused;
  /* TLS 1.3 clients learn of the refusal after their handshake: any code. */
  expect_refused("no client certificate",
                 client_for("mtls", &(conn_opts){.tls = true, .root = root_ca}), NULL, true);
  expect_refused("client certificate of an untrusted CA",
                 client_for("mtls_wrong_ca",
                            &(conn_opts){.tls = true, .root = root_ca, .cert = cert1, .key = key1}),
                 NULL, true);
}

/* ---- Header authentication: Basic, then Bearer ------------------------------------------ */

static void t_bearer(const char *unused) {
  (void)unused;
  cflight_error err = {0};
  cflight_client *c = client_for("bearer", &(conn_opts){0});
  if (c == NULL) return;
  char *key = NULL, *value = NULL;
  if (!IT_OK(cflight_client_authenticate_basic_token(c, IT_USER, IT_PASSWORD, NULL, &key, &value,
                                                     &err))) {
    cflight_client_close(c);
    return;
  }
  IT_EXPECT(strcmp(key, "authorization") == 0, "header key \"%s\"", key);
  IT_EXPECT(strncmp(value, "Bearer ", 7) == 0 && strlen(value) >= 7 + 16,
            "header value \"%s\": not a bearer token of 16 characters or more", value);
  snprintf(token_seen, sizeof(token_seen), "%s", strlen(value) > 7 ? value + 7 : "?");
  cflight_call_options *o = cflight_call_options_new();
  if (IT_OK(cflight_call_options_add_header(o, key, value, &err))) {
    every_rpc(c, o, CFLIGHT_OK, "with the token", "bearer");
    char id[256];
    if (identity(c, o, id)) IT_EXPECT(strcmp(id, IT_USER) == 0, "identity \"%s\"", id);

    /* Without a token, or with a wrong one: refused before any handler runs. */
    every_rpc(c, NULL, CFLIGHT_UNAUTHENTICATED, "no token", "bearer-refused");
    expect_no_upload(c, o, "bearer-refused");
    cflight_call_options *bad = cflight_call_options_new();
    char wrong[600];
    snprintf(wrong, sizeof(wrong), "%sx", value);
    if (IT_OK(cflight_call_options_add_header(bad, "authorization", wrong, &err)))
      every_rpc(c, bad, CFLIGHT_UNAUTHENTICATED, "altered token", "bearer-refused");
    cflight_call_options_free(bad);
    bad = cflight_call_options_new();
    if (IT_OK(cflight_call_options_add_header(bad, "authorization", "Bearer not-a-token", &err)))
      every_rpc(c, bad, CFLIGHT_UNAUTHENTICATED, "made-up token", "bearer-refused");
    cflight_call_options_free(bad);
    expect_no_upload(c, o, "bearer-refused");
  }
  cflight_call_options_free(o);
  cflight_free(key);
  cflight_free(value);
  token_seen[0] = '\0';
  cflight_client_close(c);
}

static void t_bearer_refused(const char *unused) {
  (void)unused;
  cflight_error err = {0};
  cflight_client *c = client_for("bearer", &(conn_opts){0});
  if (c == NULL) return;
  const char *creds[][2] = {{IT_USER, IT_WRONG_PASSWORD}, {"nobody", IT_PASSWORD}, {IT_USER, ""}};
  for (size_t i = 0; i < sizeof(creds) / sizeof(creds[0]); i++) {
    char *key = NULL, *value = NULL;
    int rc = cflight_client_authenticate_basic_token(c, creds[i][0], creds[i][1], NULL, &key,
                                                     &value, &err);
    char what[64];
    snprintf(what, sizeof(what), "credentials %zu", i);
    expect_code(what, "Handshake", rc, &err, CFLIGHT_UNAUTHENTICATED);
    IT_EXPECT(key == NULL && value == NULL, "%s: a header pair came back", what);
    cflight_free(key);
    cflight_free(value);
  }
  cflight_client_close(c);
}

/* ---- The BasicAuth handshake (auth-token-bin) -------------------------------------------- */

/* A client handler that logs in for real, then sends an altered token. */
typedef struct forger {
  cflight_buffer *token;
} forger;

static int forger_authenticate(void *ctx, cflight_auth_stream *s, cflight_error *err) {
  forger *f = ctx;
  cflight_basic_auth *ba = NULL;
  cflight_buffer *bytes = NULL;
  IT_TRY(cflight_basic_auth_new(IT_USER, IT_PASSWORD, &ba, err));
  int rc = cflight_basic_auth_serialize(ba, &bytes, err);
  cflight_basic_auth_free(ba);
  if (rc == CFLIGHT_OK)
    rc = cflight_auth_stream_write(s, cflight_buffer_data(bytes), cflight_buffer_size(bytes), err);
  cflight_buffer_unref(bytes);
  if (rc == CFLIGHT_OK) rc = cflight_auth_stream_read(s, &f->token, err);
  if (rc == CFLIGHT_OK && f->token == NULL)
    rc = cflight_error_set(err, CFLIGHT_UNAUTHENTICATED, "no token");
  return rc;
}

static int forger_token(void *ctx, cflight_buffer **token, cflight_error *err) {
  forger *f = ctx;
  size_t n = cflight_buffer_size(f->token);
  *token = cflight_buffer_new(n);
  if (*token == NULL) return cflight_error_set(err, CFLIGHT_NO_MEMORY, "token");
  uint8_t *p = cflight_buffer_mutable_data(*token);
  memcpy(p, cflight_buffer_data(f->token), n);
  if (n > 0) p[n / 2] ^= 0x01;
  return CFLIGHT_OK;
}

static void forger_free(void *ctx) {
  forger *f = ctx;
  cflight_buffer_unref(f->token);
  free(f);
}

static void t_handshake(const char *unused) {
  (void)unused;
  cflight_error err = {0};
  cflight_client *c = client_for("handshake", &(conn_opts){0});
  cflight_client *anon = client_for("handshake", &(conn_opts){0});
  cflight_client_auth_handler *h = cflight_client_auth_handler_new_basic(IT_USER, IT_PASSWORD);
  if (c != NULL && anon != NULL && IT_OK(cflight_client_authenticate(c, h, NULL, &err))) {
    /* The token rides in auth-token-bin: the headers action shows it. */
    char bodies[8][256];
    size_t sizes[8], n = 0;
    if (IT_OK(action(c, NULL, "headers", NULL, 0, bodies, sizes, 8, &n, &err))) {
      bool found = false;
      for (size_t i = 0; i < n && i < 8; i++) {
        if (strncmp(bodies[i], "auth-token-bin=", 15) == 0 && sizes[i] > 15) {
          found = true;
          snprintf(token_seen, sizeof(token_seen), "%.*s", (int)(sizes[i] - 15), bodies[i] + 15);
        }
      }
      IT_EXPECT(found, "no auth-token-bin header on the calls after the handshake");
    }
    every_rpc(c, NULL, CFLIGHT_OK, "with the token", "handshake");
    char id[256];
    if (identity(c, NULL, id)) IT_EXPECT(strcmp(id, IT_USER) == 0, "identity \"%s\"", id);
    every_rpc(anon, NULL, CFLIGHT_UNAUTHENTICATED, "no token", "handshake-refused");
    expect_no_upload(c, NULL, "handshake-refused");
  }
  token_seen[0] = '\0';
  cflight_client_close(anon);
  cflight_client_close(c);
  cflight_client_auth_handler_free(h);
}

static void t_handshake_refused(const char *unused) {
  (void)unused;
  cflight_error err = {0};
  cflight_client *c = client_for("handshake", &(conn_opts){0});
  if (c == NULL) return;
  cflight_client_auth_handler *h =
      cflight_client_auth_handler_new_basic(IT_USER, IT_WRONG_PASSWORD);
  expect_code("wrong password", "Handshake", cflight_client_authenticate(c, h, NULL, &err), &err,
              CFLIGHT_UNAUTHENTICATED);
  cflight_client_close(c);
  cflight_client_auth_handler_free(h);

  c = client_for("handshake", &(conn_opts){0});
  if (c == NULL) return;
  forger *f = calloc(1, sizeof(*f));
  cflight_client_auth_callbacks cb = {forger_authenticate, forger_token, forger_free};
  h = cflight_client_auth_handler_new(&cb, f);
  if (IT_OK(cflight_client_authenticate(c, h, NULL, &err)))
    every_rpc(c, NULL, CFLIGHT_UNAUTHENTICATED, "altered token", "handshake-refused");
  cflight_client_close(c);
  cflight_client_auth_handler_free(h);
}

/* ---- Middleware and cookies ------------------------------------------------------------ */

static void t_middleware(const char *unused) {
  (void)unused;
  cflight_error err = {0};
  cflight_client *c = client_for(NULL, &(conn_opts){.record = true});
  if (c == NULL) return;
  static const uint8_t data[] = {0x00, 0xff, 0x10, 'm', 0x80};
  cflight_call_options *o = cflight_call_options_new();
  char bodies[8][256];
  size_t sizes[8], n = 0;
  if (IT_OK(cflight_call_options_add_header(o, "x-mw-text", "hello, middleware", &err)) &&
      IT_OK(cflight_call_options_add_header_bin(o, "x-mw-data-bin", data, sizeof(data), &err)) &&
      IT_OK(action(c, o, "middleware", NULL, 0, bodies, sizes, 8, &n, &err))) {
    /* What the server's middleware saw of the request headers. */
    uint8_t want0[64];
    memcpy(want0, "x-mw-data-bin=", 14);
    memcpy(want0 + 14, data, sizeof(data));
    IT_EXPECT(n == 2 && sizes[0] == 14 + sizeof(data) && memcmp(bodies[0], want0, sizes[0]) == 0 &&
                  strcmp(bodies[1], "x-mw-text=hello, middleware") == 0,
              "the server's middleware saw %zu headers: %s, %s", n,
              n > 0 ? it_show(bodies[0], sizes[0]) : "-", n > 1 ? bodies[1] : "-");
    /* What the server's middleware added, as our middleware sees it. */
    IT_EXPECT(it_received_header("x-mw-method", "DoAction", 8), "no x-mw-method: DoAction");
    IT_EXPECT(it_received_header("x-mw-reply-bin", data, sizeof(data)), "no x-mw-reply-bin");
  }
  /* Other methods, and a call that fails before any response. */
  cflight_action_type_iter *ti = NULL;
  cflight_action_type *at = NULL;
  if (IT_OK(cflight_client_list_actions(c, NULL, &ti, &err)))
    while (IT_OK(cflight_action_type_iter_next(ti, &at, &err)) && at != NULL)
      cflight_action_type_free(at);
  cflight_action_type_iter_free(ti);
  IT_EXPECT(it_received_header("x-mw-method", "ListActions", 11), "no x-mw-method: ListActions");
  cflight_ticket *t = NULL;
  cflight_ticket_new("no-such-ticket", 14, &t, NULL);
  cflight_stream_reader *r = NULL;
  it_expect_status("DoGet unknown", cflight_client_do_get(c, t, o, &r, &err), &err,
                   CFLIGHT_NOT_FOUND, NULL);
  IT_EXPECT(it_received_header("x-mw-method", "DoGet", 5), "a failed call: no x-mw-method: DoGet");
  IT_EXPECT(it_received_header("x-mw-reply-bin", data, sizeof(data)),
            "a failed call: no x-mw-reply-bin");
  cflight_stream_reader_free(r);
  cflight_ticket_free(t);
  cflight_call_options_free(o);
  cflight_client_close(c);
  /* A call refused for want of a token still carries the middleware's headers. */
  c = client_for("bearer", &(conn_opts){.record = true});
  if (c == NULL) return;
  it_expect_status("DoAction without a token",
                   action(c, NULL, "echo", "x", 1, bodies, NULL, 8, &n, &err), &err,
                   CFLIGHT_UNAUTHENTICATED, NULL);
  IT_EXPECT(it_received_header("x-mw-method", "DoAction", 8),
            "a refused call: no x-mw-method: DoAction");
  cflight_client_close(c);
}

/* The "cookies" action's answer as a sorted, comparable list. */
static void expect_cookies(cflight_client *c, const char *const *want, size_t n_want) {
  cflight_error err = {0};
  char bodies[2][256];
  size_t n = 0;
  if (!IT_OK(action(c, NULL, "cookies", NULL, 0, bodies, NULL, 2, &n, &err))) return;
  if (n != 1) {
    it_fail("cookies: %zu results", n);
    return;
  }
  /* "a=1; b=2" in any order. */
  size_t found = 0, parts = 0;
  char *save = NULL;
  for (char *p = strtok_r(bodies[0], ";", &save); p != NULL; p = strtok_r(NULL, ";", &save)) {
    while (*p == ' ')
      p++;
    if (*p == '\0') continue;
    parts++;
    for (size_t i = 0; i < n_want; i++)
      if (strcmp(p, want[i]) == 0) found++;
  }
  IT_EXPECT(found == n_want && parts == n_want, "the server got the cookies \"%s\"", bodies[0]);
}

static void set_cookie(cflight_client *c, const char *cookie) {
  cflight_error err = {0};
  char bodies[2][256];
  size_t n = 0;
  IT_OK(action(c, NULL, "set-cookie", cookie, strlen(cookie), bodies, NULL, 2, &n, &err));
}

static void t_cookies(const char *unused) {
  (void)unused;
  cflight_client *c = client_for(NULL, &(conn_opts){.cookies = true});
  if (c == NULL) return;
  expect_cookies(c, NULL, 0);
  set_cookie(c, "session=abc123; Max-Age=3600; Path=/; HttpOnly");
  expect_cookies(c, (const char *[]){"session=abc123"}, 1);
  set_cookie(c, "theme=\"dark\"; Expires=Wed, 01 Jan 2098 00:00:00 GMT");
  expect_cookies(c, (const char *[]){"session=abc123", "theme=dark"}, 2);
  set_cookie(c, "session=; Max-Age=0");
  expect_cookies(c, (const char *[]){"theme=dark"}, 1);
  set_cookie(c, "theme=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
  expect_cookies(c, NULL, 0);
  cflight_client_close(c);
}

int main(int argc, char **argv) {
  it_parse_args(argc, argv, &args);
  cflight_error err = {0};
  root_ca = it_read_pem(args.certs, "root-ca.pem");
  cert1 = it_read_pem(args.certs, "cert1.pem");
  key1 = it_read_pem(args.certs, "cert1.key");
  untrusted_ca = it_read_pem(it_own_certs(), IT_UNTRUSTED_CA);
  if (root_ca == NULL || cert1 == NULL || key1 == NULL || untrusted_ca == NULL) return 1;
  if (it_gold_load(args.gold, "generated_primitive", &primitive, &err) != CFLIGHT_OK) {
    fprintf(stderr, "flight_security_client: %s\n", err.message);
    return 1;
  }
  it_run("TLS", NULL, t_tls);
  it_run("TLS wrong CA", NULL, t_tls_wrong_ca);
  it_run("TLS host name", NULL, t_tls_host_name);
  it_run("TLS plaintext client", NULL, t_tls_plaintext);
  it_run("mTLS", NULL, t_mtls);
  it_run("mTLS refused", NULL, t_mtls_refused);
  it_run("Bearer", NULL, t_bearer);
  it_run("Bearer refused", NULL, t_bearer_refused);
  it_run("Handshake auth", NULL, t_handshake);
  it_run("Handshake auth refused", NULL, t_handshake_refused);
  it_run("Middleware", NULL, t_middleware);
  it_run("Cookies", NULL, t_cookies);
  it_gold_free(&primitive);
  free(root_ca);
  free(cert1);
  free(key1);
  free(untrusted_ca);
  return it_summary(args.peer);
}
