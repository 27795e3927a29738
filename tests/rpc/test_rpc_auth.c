/* Authentication: BasicAuth handshakes (auth-token-bin), bearer tokens
 * from a Basic header handshake, custom handlers, wrong credentials, calls
 * of every kind without or with a bad token, and the identity a mutual-TLS
 * client certificate gives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_test_util.h"

static bool check_password(void *ctx, const char *user, const char *password) {
  (void)ctx;
  return strcmp(user, "alice") == 0 && strcmp(password, "s3cret") == 0;
}

static cflight_server_options *opts_with(cflight_server_auth_handler *h) {
  cflight_server_options *o = cflight_server_options_new();
  cflight_server_options_set_auth_handler(o, h);
  return o;
}

/* The identity the server saw for a call ("peer" action). */
static char *peer_identity(cflight_client *c, const cflight_call_options *o, int *rc,
                           cflight_error *err) {
  cflight_action *a = NULL;
  cflight_action_new("peer", NULL, 0, &a, NULL);
  cflight_result_iter *it = NULL;
  char *out = NULL;
  *rc = cflight_client_do_action(c, a, o, &it, err);
  cflight_result *res = NULL;
  if (*rc == CFLIGHT_OK) *rc = cflight_result_iter_next(it, &res, err);
  if (res != NULL) {
    size_t n = 0;
    const uint8_t *b = cflight_result_body(res, &n);
    out = calloc(1, n + 1);
    if (n > 0) memcpy(out, b, n);
  }
  cflight_result_free(res);
  cflight_result_iter_free(it);
  cflight_action_free(a);
  return out;
}

/* Every RPC kind must fail with UNAUTHENTICATED (and no handler may run). */
static void check_every_rpc_refused(ts_server *t, cflight_client *c, const cflight_call_options *o,
                                    const char *what) {
  cflight_error err = {0};
  cflight_descriptor *d = td_path("ints");
  cflight_flight_info *info = NULL;
  CHECK_MSG(cflight_client_get_flight_info(c, d, o, &info, &err) == CFLIGHT_UNAUTHENTICATED,
            "%s: GetFlightInfo: %s", what, err.message);
  cflight_poll_info *p = NULL;
  CHECK_MSG(cflight_client_poll_flight_info(c, d, o, &p, &err) == CFLIGHT_UNAUTHENTICATED,
            "%s: PollFlightInfo", what);
  struct ArrowSchema schema;
  CHECK_MSG(cflight_client_get_schema(c, d, o, &schema, &err) == CFLIGHT_UNAUTHENTICATED,
            "%s: GetSchema", what);
  cflight_info_iter *it = NULL;
  CHECK_OK(cflight_client_list_flights(c, NULL, 0, o, &it, &err), &err);
  CHECK_MSG(cflight_info_iter_next(it, &info, &err) == CFLIGHT_UNAUTHENTICATED, "%s: ListFlights",
            what);
  cflight_info_iter_free(it);
  cflight_ticket *tk = tt("ints");
  cflight_stream_reader *r = NULL;
  CHECK_MSG(cflight_client_do_get(c, tk, o, &r, &err) == CFLIGHT_UNAUTHENTICATED, "%s: DoGet",
            what);
  cflight_ticket_free(tk);
  tb_schema(&schema);
  cflight_descriptor *pd = td_path("unauthorized-put");
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *mr = NULL;
  /* The refusal comes from close (or a write), whenever the server sent it. */
  CHECK_OK(cflight_client_do_put(c, pd, &schema, o, &w, &mr, &err), &err);
  struct ArrowArray b;
  tb_batch(0, 5, &b);
  int rc = cflight_stream_writer_write(w, &b, NULL, 0, &err);
  CHECK(rc == CFLIGHT_OK || rc == CFLIGHT_UNAUTHENTICATED);
  cf_array_release(&b);
  CHECK_MSG(cflight_stream_writer_close(w, &err) == CFLIGHT_UNAUTHENTICATED, "%s: DoPut: %s", what,
            err.message);
  cflight_buffer *m = NULL;
  CHECK(cflight_metadata_reader_read(mr, &m, &err) == CFLIGHT_UNAUTHENTICATED);
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(mr);
  cflight_descriptor_free(pd);
  struct ArrowArray *got = NULL;
  size_t n = 0;
  struct ArrowSchema gs;
  CHECK_MSG(!ts_get_flight(t, "unauthorized-put", &gs, &got, &n), "%s: DoPut stored data", what);
  cflight_descriptor *xd = td_cmd("echo");
  CHECK_OK(cflight_client_do_exchange(c, xd, o, &w, &r, &err), &err);
  cflight_chunk ch;
  bool end = false;
  CHECK_MSG(cflight_stream_reader_next(r, &ch, &end, &err) == CFLIGHT_UNAUTHENTICATED,
            "%s: DoExchange", what);
  cflight_stream_writer_free(w);
  cflight_stream_reader_free(r);
  cflight_descriptor_free(xd);
  cf_schema_release(&schema);
  int arc = 0;
  char *id = peer_identity(c, o, &arc, &err);
  CHECK_MSG(arc == CFLIGHT_UNAUTHENTICATED && id == NULL, "%s: DoAction", what);
  free(id);
  cflight_action_type_iter *ti = NULL;
  CHECK_OK(cflight_client_list_actions(c, o, &ti, &err), &err);
  cflight_action_type *at = NULL;
  CHECK_MSG(cflight_action_type_iter_next(ti, &at, &err) == CFLIGHT_UNAUTHENTICATED,
            "%s: ListActions", what);
  cflight_action_type_iter_free(ti);
  cflight_descriptor_free(d);
  cflight_error_reset(&err);
}

static void test_basic_handshake(void) {
  cflight_server_options *so =
      opts_with(cflight_server_auth_handler_new_basic(check_password, NULL));
  ts_server *t = ts_start("grpc://127.0.0.1:0", so, NULL);
  cflight_server_options_free(so);
  cflight_error err = {0};

  /* No token at all. */
  cflight_client *c = ts_client(t, NULL);
  check_every_rpc_refused(t, c, NULL, "no token");
  /* Wrong password: refused, and the password is not repeated. */
  cflight_client_auth_handler *bad = cflight_client_auth_handler_new_basic("alice", "guess");
  CHECK_EQ_INT(cflight_client_authenticate(c, bad, NULL, &err), CFLIGHT_UNAUTHENTICATED);
  CHECK(strstr(err.message, "guess") == NULL);
  check_every_rpc_refused(t, c, NULL, "after a failed handshake");
  /* The right one. */
  cflight_client_auth_handler *good = cflight_client_auth_handler_new_basic("alice", "s3cret");
  CHECK_OK(cflight_client_authenticate(c, good, NULL, &err), &err);
  int rc = 0;
  char *id = peer_identity(c, NULL, &rc, &err);
  CHECK_EQ_INT(rc, CFLIGHT_OK);
  CHECK_EQ_STR(id, "alice");
  free(id);
  cflight_descriptor *d = td_path("ints");
  cflight_flight_info *info = NULL;
  CHECK_OK(cflight_client_get_flight_info(c, d, NULL, &info, &err), &err);
  cflight_flight_info_free(info);
  cflight_ticket *tk = tt("ints");
  cflight_stream_reader *r = NULL;
  struct ArrowArrayStream st;
  CHECK_OK(cflight_client_do_get(c, tk, NULL, &r, &err), &err);
  CHECK_OK(cflight_stream_reader_read_all(r, &st, &err), &err);
  st.release(&st);
  cflight_stream_reader_free(r);
  cflight_ticket_free(tk);
  cflight_descriptor_free(d);
  cflight_client_close(c);
  cflight_client_auth_handler_free(bad);
  cflight_client_auth_handler_free(good);
  ts_stop(t);
}

/* A client handler that sends a fixed (bad) token without a handshake. */
static int fake_auth(void *ctx, cflight_auth_stream *s, cflight_error *err) {
  (void)ctx;
  (void)s;
  (void)err;
  return CFLIGHT_OK;
}

static int fake_token(void *ctx, cflight_buffer **token, cflight_error *err) {
  (void)ctx;
  (void)err;
  *token = cflight_buffer_copy("forged", 6);
  return CFLIGHT_OK;
}

/* A multi-step custom handshake: hello -> challenge -> response -> token. */
static int srv_auth(void *ctx, cflight_auth_stream *s, cflight_error *err) {
  (void)ctx;
  cflight_buffer *m = NULL;
  CF_RETURN_NOT_OK(cflight_auth_stream_read(s, &m, err));
  bool ok =
      m != NULL && cflight_buffer_size(m) == 5 && memcmp(cflight_buffer_data(m), "hello", 5) == 0;
  cflight_buffer_unref(m);
  if (!ok) return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED, "expected hello");
  CF_RETURN_NOT_OK(cflight_auth_stream_write(s, "challenge", 9, err));
  CF_RETURN_NOT_OK(cflight_auth_stream_read(s, &m, err));
  ok = m != NULL && cflight_buffer_size(m) == 8 &&
       memcmp(cflight_buffer_data(m), "response", 8) == 0;
  cflight_buffer_unref(m);
  if (!ok) return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED, "bad response");
  return cflight_auth_stream_write(s, "\x01tok\xff", 5, err);
}

static int srv_valid(void *ctx, const uint8_t *token, size_t n, char **identity,
                     cflight_error *err) {
  (void)ctx;
  if (token == NULL || n != 5 || memcmp(token, "\x01tok\xff", 5) != 0)
    return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED, "who are you?");
  *identity = strdup("custom-user");
  return CFLIGHT_OK;
}

typedef struct cli_state {
  cflight_buffer *token;
  int freed;
} cli_state;

static int cli_auth(void *ctx, cflight_auth_stream *s, cflight_error *err) {
  cli_state *st = ctx;
  CF_RETURN_NOT_OK(cflight_auth_stream_write(s, "hello", 5, err));
  cflight_buffer *m = NULL;
  CF_RETURN_NOT_OK(cflight_auth_stream_read(s, &m, err));
  cflight_buffer_unref(m);
  CF_RETURN_NOT_OK(cflight_auth_stream_write(s, "response", 8, err));
  CF_RETURN_NOT_OK(cflight_auth_stream_read(s, &st->token, err));
  /* The server has finished: the stream ends. */
  CF_RETURN_NOT_OK(cflight_auth_stream_read(s, &m, err));
  if (m != NULL) {
    cflight_buffer_unref(m);
    return cflight_error_set(err, CFLIGHT_INTERNAL, "more than expected");
  }
  return CFLIGHT_OK;
}

static int cli_token(void *ctx, cflight_buffer **token, cflight_error *err) {
  (void)err;
  *token = cflight_buffer_ref(((cli_state *)ctx)->token);
  return CFLIGHT_OK;
}

static void cli_free(void *ctx) {
  cli_state *st = ctx;
  cflight_buffer_unref(st->token);
  st->token = NULL;
  st->freed++;
}

static void test_custom_handlers(void) {
  cflight_server_auth_callbacks scb = {srv_auth, srv_valid, NULL};
  cflight_server_options *so = opts_with(cflight_server_auth_handler_new(&scb, NULL));
  ts_server *t = ts_start("grpc://127.0.0.1:0", so, NULL);
  cflight_server_options_free(so);
  cflight_error err = {0};
  cflight_client *c = ts_client(t, NULL);
  /* A handshake that does not follow the server's protocol fails. */
  cflight_client_auth_callbacks fcb = {fake_auth, fake_token, NULL};
  cflight_client_auth_handler *fake = cflight_client_auth_handler_new(&fcb, NULL);
  CHECK_EQ_INT(cflight_client_authenticate(c, fake, NULL, &err), CFLIGHT_UNAUTHENTICATED);
  CHECK(strstr(err.message, "expected hello") != NULL);
  cli_state st = {0};
  cflight_client_auth_callbacks ccb = {cli_auth, cli_token, cli_free};
  cflight_client_auth_handler *h = cflight_client_auth_handler_new(&ccb, &st);
  CHECK_OK(cflight_client_authenticate(c, h, NULL, &err), &err);
  int rc = 0;
  char *id = peer_identity(c, NULL, &rc, &err);
  CHECK_EQ_INT(rc, CFLIGHT_OK);
  CHECK_EQ_STR(id, "custom-user");
  free(id);
  cflight_client_close(c);
  cflight_client_auth_handler_free(h);
  CHECK_EQ_INT(st.freed, 1);
  cflight_client_auth_handler_free(fake);
  ts_stop(t);
}

static int accept_all(void *ctx, cflight_auth_stream *s, cflight_error *err) {
  (void)ctx;
  (void)s;
  (void)err;
  return CFLIGHT_OK;
}

static void test_forged_token(void) {
  /* A server whose handshake accepts anyone but checks tokens. */
  cflight_server_auth_callbacks scb = {accept_all, srv_valid, NULL};
  cflight_server_options *so = opts_with(cflight_server_auth_handler_new(&scb, NULL));
  ts_server *t = ts_start("grpc://127.0.0.1:0", so, NULL);
  cflight_server_options_free(so);
  cflight_client *c = ts_client(t, NULL);
  cflight_error err = {0};
  cflight_client_auth_callbacks fcb = {fake_auth, fake_token, NULL};
  cflight_client_auth_handler *fake = cflight_client_auth_handler_new(&fcb, NULL);
  CHECK_OK(cflight_client_authenticate(c, fake, NULL, &err), &err);
  check_every_rpc_refused(t, c, NULL, "forged token");
  cflight_client_close(c);
  cflight_client_auth_handler_free(fake);
  ts_stop(t);
}

static void test_bearer(void) {
  cflight_server_options *so =
      opts_with(cflight_server_auth_handler_new_bearer(check_password, NULL));
  ts_server *t = ts_start("grpc://127.0.0.1:0", so, NULL);
  cflight_server_options_free(so);
  cflight_error err = {0};
  cflight_client *c = ts_client(t, NULL);
  check_every_rpc_refused(t, c, NULL, "no bearer token");
  char *key = NULL, *value = NULL;
  CHECK_EQ_INT(
      cflight_client_authenticate_basic_token(c, "alice", "nope", NULL, &key, &value, &err),
      CFLIGHT_UNAUTHENTICATED);
  CHECK(key == NULL && value == NULL);
  CHECK(strstr(err.message, "nope") == NULL);
  CHECK_OK(cflight_client_authenticate_basic_token(c, "alice", "s3cret", NULL, &key, &value, &err),
           &err);
  CHECK_EQ_STR(key, "authorization");
  CHECK(value != NULL && strncmp(value, "Bearer ", 7) == 0 && strlen(value) > 10);
  cflight_call_options *o = cflight_call_options_new();
  CHECK_OK(cflight_call_options_add_header(o, key, value, &err), &err);
  int rc = 0;
  char *id = peer_identity(c, o, &rc, &err);
  CHECK_EQ_INT(rc, CFLIGHT_OK);
  CHECK_EQ_STR(id, "alice");
  free(id);
  /* Streams too. */
  cflight_ticket *tk = tt("ints");
  cflight_stream_reader *r = NULL;
  struct ArrowArrayStream st;
  CHECK_OK(cflight_client_do_get(c, tk, o, &r, &err), &err);
  CHECK_OK(cflight_stream_reader_read_all(r, &st, &err), &err);
  st.release(&st);
  cflight_stream_reader_free(r);
  cflight_ticket_free(tk);
  struct ArrowSchema schema;
  tb_schema(&schema);
  cflight_descriptor *d = td_path("bearer-put");
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *mr = NULL;
  CHECK_OK(cflight_client_do_put(c, d, &schema, o, &w, &mr, &err), &err);
  CHECK_OK(cflight_stream_writer_close(w, &err), &err);
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(mr);
  cflight_descriptor_free(d);
  cf_schema_release(&schema);
  /* Two logins give two tokens, both valid. */
  char *key2 = NULL, *value2 = NULL;
  CHECK_OK(
      cflight_client_authenticate_basic_token(c, "alice", "s3cret", NULL, &key2, &value2, &err),
      &err);
  CHECK(value2 != NULL && strcmp(value, value2) != 0);
  cflight_free(key2);
  cflight_free(value2);
  /* A tampered token is refused on every call. */
  cflight_call_options *bad = cflight_call_options_new();
  CHECK_OK(cflight_call_options_add_header(bad, "authorization", "Bearer not-a-token", &err), &err);
  check_every_rpc_refused(t, c, bad, "bad bearer token");
  cflight_call_options_free(bad);
  cflight_call_options_free(o);
  cflight_free(key);
  cflight_free(value);
  cflight_client_close(c);
  ts_stop(t);
}

static bool check_any_user(void *ctx, const char *user, const char *password) {
  (void)ctx;
  (void)user;
  return strcmp(password, "pw") == 0;
}

/* The identity of a bearer call with `value` as its authorization header. */
static char *bearer_identity(cflight_client *c, const char *value, int *rc, cflight_error *err) {
  cflight_call_options *o = cflight_call_options_new();
  cflight_call_options_add_header(o, "authorization", value, NULL);
  char *id = peer_identity(c, o, rc, err);
  cflight_call_options_free(o);
  return id;
}

/* Tokens are only good where they were issued, exactly as issued, and
 * carry any user name. */
static void test_token_scope(void) {
  cflight_server_options *so =
      opts_with(cflight_server_auth_handler_new_bearer(check_any_user, NULL));
  ts_server *a = ts_start("grpc://127.0.0.1:0", so, NULL);
  ts_server *b = ts_start("grpc://127.0.0.1:0", so, NULL); /* the same options: a shared handler */
  cflight_server_options_free(so);
  so = opts_with(cflight_server_auth_handler_new_bearer(check_any_user, NULL));
  ts_server *other = ts_start("grpc://127.0.0.1:0", so, NULL);
  cflight_server_options_free(so);
  cflight_client *ca = ts_client(a, NULL), *cb = ts_client(b, NULL), *co = ts_client(other, NULL);
  cflight_error err = {0};
  char long_user[301];
  memset(long_user, 'u', 300);
  long_user[300] = '\0';
  const char *users[] = {"alice", long_user, "caf\xc3\xa9 \xe2\x9c\x93"};
  for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
    char *key = NULL, *value = NULL;
    CHECK_OK(cflight_client_authenticate_basic_token(ca, users[i], "pw", NULL, &key, &value, &err),
             &err);
    if (value == NULL) continue;
    CHECK(strstr(value, users[i]) == NULL); /* not in clear */
    int rc = 0;
    char *id = bearer_identity(ca, value, &rc, &err);
    CHECK_EQ_INT(rc, CFLIGHT_OK);
    CHECK(id != NULL && strcmp(id, users[i]) == 0);
    free(id);
    id = bearer_identity(cb, value, &rc, &err);
    CHECK_EQ_INT(rc, CFLIGHT_OK); /* the handler is shared */
    free(id);
    id = bearer_identity(co, value, &rc, &err);
    CHECK_EQ_INT(rc, CFLIGHT_UNAUTHENTICATED); /* another handler's key */
    CHECK(strstr(err.message, value + 7) == NULL);
    free(id);
    cflight_error_reset(&err);
    /* Any character changed, even by its lowest bit (the last one before
     * the padding has unused bits): refused. */
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *bad = strdup(value);
    for (size_t k = 7; k < strlen(bad); k++) {
      char was = bad[k];
      const char *at = strchr(b64, was);
      bad[k] = was == '=' || at == NULL ? 'A' : b64[(at - b64) ^ 1];
      id = bearer_identity(ca, bad, &rc, &err);
      CHECK_MSG(rc == CFLIGHT_UNAUTHENTICATED, "token changed at %zu: %s", k,
                cflight_code_name(rc));
      free(id);
      cflight_error_reset(&err);
      bad[k] = was;
    }
    /* Cut short or lengthened: refused. */
    bad[strlen(bad) - 4] = '\0';
    id = bearer_identity(ca, bad, &rc, &err);
    CHECK_EQ_INT(rc, CFLIGHT_UNAUTHENTICATED);
    free(id);
    free(bad);
    cflight_error_reset(&err);
    char longer[2048];
    snprintf(longer, sizeof(longer), "%sAAAA", value);
    id = bearer_identity(ca, longer, &rc, &err);
    CHECK_EQ_INT(rc, CFLIGHT_UNAUTHENTICATED);
    free(id);
    cflight_error_reset(&err);
    cflight_free(key);
    cflight_free(value);
  }
  cflight_client_close(ca);
  cflight_client_close(cb);
  cflight_client_close(co);
  ts_stop(a);
  ts_stop(b);
  ts_stop(other);
}

static char *read_pem(const char *name) {
  char rel[256];
  snprintf(rel, sizeof(rel), "flight/%s", name);
  size_t n = 0;
  uint8_t *d = cft_read_file(cft_data_path(rel), &n);
  if (d == NULL) return NULL;
  char *s = realloc(d, n + 1);
  s[n] = '\0';
  return s;
}

static void test_mtls_identity(void) {
  char *ca = read_pem("root-ca.pem"), *cert0 = read_pem("cert0.pem"), *key0 = read_pem("cert0.key"),
       *cert1 = read_pem("cert1.pem"), *key1 = read_pem("cert1.key");
  CHECK(ca && cert0 && key0 && cert1 && key1);
  if (!(ca && cert0 && key0 && cert1 && key1)) goto done;
  cflight_error err = {0};
  cflight_server_options *so = cflight_server_options_new();
  CHECK_OK(cflight_server_options_add_tls_certificate(so, cert0, key0, &err), &err);
  CHECK_OK(cflight_server_options_set_verify_client(so, true, ca, &err), &err);
  ts_server *t = ts_start("grpc+tls://127.0.0.1:0", so, NULL);
  cflight_server_options_free(so);
  CHECK(strncmp(t->uri, "grpc+tls://", 11) == 0);
  char uri[128];
  snprintf(uri, sizeof(uri), "grpc+tls://localhost:%d", cflight_server_port(t->srv));
  cflight_client_options *co = cflight_client_options_new();
  CHECK_OK(cflight_client_options_set_tls_root_certs(co, ca, &err), &err);
  CHECK_OK(cflight_client_options_set_tls_client_cert(co, cert1, key1, &err), &err);
  cflight_client *c = NULL;
  CHECK_OK(cflight_client_connect(uri, co, &c, &err), &err);
  int rc = 0;
  char *id = peer_identity(c, NULL, &rc, &err);
  CHECK_MSG(rc == CFLIGHT_OK, "%s", err.message);
  CHECK_MSG(id != NULL && strstr(id, "CN=localhost") != NULL, "identity: %s", id ? id : "");
  free(id);
  cflight_client_close(c);
  /* Without a client certificate there is no connection. */
  cflight_client_options_free(co);
  co = cflight_client_options_new();
  CHECK_OK(cflight_client_options_set_tls_root_certs(co, ca, &err), &err);
  CHECK_OK(cflight_client_connect(uri, co, &c, &err), &err);
  id = peer_identity(c, NULL, &rc, &err);
  CHECK(rc != CFLIGHT_OK);
  free(id);
  cflight_client_close(c);
  cflight_client_options_free(co);
  ts_stop(t);
done:
  free(ca);
  free(cert0);
  free(key0);
  free(cert1);
  free(key1);
}

int main(void) {
  RUN_TEST(test_basic_handshake);
  RUN_TEST(test_custom_handlers);
  RUN_TEST(test_forged_token);
  RUN_TEST(test_bearer);
  RUN_TEST(test_token_scope);
  RUN_TEST(test_mtls_identity);
  return cft_finish();
}
