/* Middleware: headers both ways (text and binary), trailers, a server
 * middleware that refuses calls, the final status seen on both sides, the
 * lookup of a middleware instance from a handler, the cookie middleware (and
 * what a server cannot make it do) and the access log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_test_util.h"

/* ---- A server middleware that records and shapes calls --------------------------------------- */

typedef struct srv_rec {
  pthread_mutex_t mu;
  char last_method[32];
  char last_cookie[2048];
  char last_x_client[64];
  int completed;
  int last_status;
} srv_rec;

static srv_rec SR = {.mu = PTHREAD_MUTEX_INITIALIZER};

typedef struct srv_inst {
  char set_cookie[8192];
} srv_inst;

static void hdr_copy(const cflight_headers *h, const char *key, char *out, size_t cap) {
  size_t n = 0;
  const uint8_t *v = cflight_headers_get(h, key, &n);
  snprintf(out, cap, "%.*s", v != NULL ? (int)n : 0, v != NULL ? (const char *)v : "");
}

static int srv_start(void *fctx, const cflight_call_info *info, const cflight_headers *in,
                     void **instance, cflight_error *err) {
  (void)fctx;
  size_t n = 0;
  const uint8_t *rej = cflight_headers_get(in, "x-reject", &n);
  if (rej != NULL) {
    cflight_error_set(err, CFLIGHT_PERMISSION_DENIED, "rejected by middleware");
    cflight_error_set_extra_info(err, "why", 3);
    return CFLIGHT_PERMISSION_DENIED;
  }
  pthread_mutex_lock(&SR.mu);
  snprintf(SR.last_method, sizeof(SR.last_method), "%s", cflight_call_info_method(info));
  hdr_copy(in, "cookie", SR.last_cookie, sizeof(SR.last_cookie));
  hdr_copy(in, "x-client", SR.last_x_client, sizeof(SR.last_x_client));
  pthread_mutex_unlock(&SR.mu);
  srv_inst *s = calloc(1, sizeof(*s));
  hdr_copy(in, "x-set-cookie", s->set_cookie, sizeof(s->set_cookie));
  *instance = s;
  return CFLIGHT_OK;
}

static void srv_sending(void *instance, cflight_headers *out) {
  srv_inst *s = instance;
  cflight_headers_add(out, "x-server-mw", "1", 1, NULL);
  if (s->set_cookie[0] != '\0')
    cflight_headers_add(out, "set-cookie", s->set_cookie, strlen(s->set_cookie), NULL);
}

static void srv_completed(void *instance, const cflight_error *status) {
  pthread_mutex_lock(&SR.mu);
  SR.completed++;
  SR.last_status = status->code;
  pthread_mutex_unlock(&SR.mu);
  free(instance);
}

/* ---- A client middleware that records calls -------------------------------------------------- */

typedef struct cli_rec {
  pthread_mutex_t mu;
  int started, completed;
  char method[32];
  char resp[512]; /* "k=v;" pairs of the response headers starting with x- */
  int status;
  char status_msg[CFLIGHT_ERROR_MESSAGE_SIZE];
} cli_rec;

static cli_rec CR = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int cli_start(void *fctx, const cflight_call_info *info, void **instance,
                     cflight_error *err) {
  (void)err;
  pthread_mutex_lock(&CR.mu);
  CR.started++;
  snprintf(CR.method, sizeof(CR.method), "%s", cflight_call_info_method(info));
  CR.resp[0] = '\0';
  pthread_mutex_unlock(&CR.mu);
  (void)fctx;
  *instance = &CR;
  return CFLIGHT_OK;
}

static void cli_sending(void *instance, cflight_headers *out) {
  (void)instance;
  cflight_headers_add(out, "x-client", "mw", 2, NULL);
  cflight_headers_add(out, "x-blob-bin", "\x00\x01\xfe", 3, NULL);
}

static void cli_received(void *instance, const cflight_headers *in) {
  (void)instance;
  pthread_mutex_lock(&CR.mu);
  for (size_t i = 0; i < cflight_headers_count(in); i++) {
    const char *k = cflight_headers_key(in, i);
    if (strncmp(k, "x-", 2) != 0) continue;
    size_t n = 0;
    const uint8_t *v = cflight_headers_value(in, i, &n);
    char item[128];
    if (strcmp(k, "x-blob-bin") == 0) {
      snprintf(item, sizeof(item), "%s=%s;", k,
               n == 3 && memcmp(v, "\x00\x01\xfe", 3) == 0 ? "ok" : "bad");
    } else {
      snprintf(item, sizeof(item), "%s=%.*s;", k, (int)n, (const char *)v);
    }
    strncat(CR.resp, item, sizeof(CR.resp) - strlen(CR.resp) - 1);
  }
  pthread_mutex_unlock(&CR.mu);
}

static void cli_completed(void *instance, const cflight_error *status) {
  (void)instance;
  pthread_mutex_lock(&CR.mu);
  CR.completed++;
  CR.status = status->code;
  snprintf(CR.status_msg, sizeof(CR.status_msg), "%s", status->message);
  pthread_mutex_unlock(&CR.mu);
}

static ts_server *S;
static cflight_client *C;

static bool resp_has(const char *item) {
  pthread_mutex_lock(&CR.mu);
  bool yes = strstr(CR.resp, item) != NULL;
  pthread_mutex_unlock(&CR.mu);
  return yes;
}

static void drain_get(cflight_client *c, const char *ticket, const cflight_call_options *o,
                      int expect) {
  cflight_error err = {0};
  cflight_ticket *t = tt(ticket);
  cflight_stream_reader *r = NULL;
  /* A refused or failed call fails in do_get (it waits for the schema). */
  int rc = cflight_client_do_get(c, t, o, &r, &err);
  while (rc == CFLIGHT_OK) {
    cflight_chunk ch;
    bool end = false;
    rc = cflight_stream_reader_next(r, &ch, &end, &err);
    if (rc != CFLIGHT_OK || end) break;
    cflight_chunk_release(&ch);
  }
  CHECK_EQ_INT(rc, expect);
  cflight_stream_reader_free(r);
  cflight_ticket_free(t);
  cflight_error_reset(&err);
}

static void test_headers_both_ways(void) {
  int started = CR.started, completed = CR.completed;
  drain_get(C, "echo-headers", NULL, CFLIGHT_OK);
  CHECK_EQ_INT(CR.started, started + 1);
  CHECK_EQ_INT(CR.completed, completed + 1);
  CHECK_EQ_STR(CR.method, "DoGet");
  CHECK_EQ_INT(CR.status, CFLIGHT_OK);
  /* The server saw our header and echoed both ours; its middleware added one. */
  CHECK_EQ_STR(SR.last_x_client, "mw");
  CHECK_EQ_STR(SR.last_method, "DoGet");
  CHECK_MSG(resp_has("x-client=mw;"), "%s", CR.resp);
  CHECK_MSG(resp_has("x-blob-bin=ok;"), "%s", CR.resp);
  CHECK_MSG(resp_has("x-server-mw=1;"), "%s", CR.resp);
  /* Handler headers, and call options headers. */
  cflight_call_options *o = cflight_call_options_new();
  cflight_error err = {0};
  CHECK_OK(cflight_call_options_add_header(o, "x-opt", "yes", &err), &err);
  drain_get(C, "echo-headers", o, CFLIGHT_OK);
  CHECK_MSG(resp_has("x-opt=yes;"), "%s", CR.resp);
  cflight_call_options_free(o);
  drain_get(C, "headers", NULL, CFLIGHT_OK);
  CHECK_MSG(resp_has("x-hdr=h;"), "%s", CR.resp);
}

/* Trailers of a trailers-only answer (no response headers: a server without
 * header-adding middleware) reach the client middleware, as in Arrow. */
static void test_trailers(void) {
  ts_server *t = ts_start("grpc://127.0.0.1:0", NULL, NULL);
  cflight_client_middleware_callbacks ccb = {cli_start, cli_sending, cli_received, cli_completed,
                                             NULL};
  cflight_client_options *co = cflight_client_options_new();
  cflight_error err = {0};
  CHECK_OK(cflight_client_options_add_middleware(
               co, cflight_client_middleware_factory_new(&ccb, NULL), &err),
           &err);
  cflight_client *c = ts_client(t, co);
  cflight_client_options_free(co);
  for (int fail = 0; fail < 2; fail++) {
    cflight_action *a = NULL;
    cflight_action_new("trailer", fail ? "x" : NULL, fail ? 1 : 0, &a, NULL);
    cflight_result_iter *it = NULL;
    CHECK_OK(cflight_client_do_action(c, a, NULL, &it, &err), &err);
    cflight_result *res = NULL;
    CHECK_EQ_INT(cflight_result_iter_next(it, &res, &err), fail ? CFLIGHT_ABORTED : CFLIGHT_OK);
    CHECK(res == NULL);
    cflight_result_iter_free(it);
    cflight_action_free(a);
    CHECK_EQ_INT(CR.status, fail ? CFLIGHT_ABORTED : CFLIGHT_OK);
    CHECK_MSG(resp_has("x-trl=t;"), "%s", CR.resp);
  }
  cflight_client_close(c);
  ts_stop(t);
  cflight_error_reset(&err);
}

static void test_status_and_rejection(void) {
  cflight_error err = {0};
  /* The final status, both sides. */
  drain_get(C, "error:5", NULL, CFLIGHT_NOT_FOUND);
  CHECK_EQ_INT(CR.status, CFLIGHT_NOT_FOUND);
  CHECK(strstr(CR.status_msg, "boom 5") != NULL);
  CHECK_EQ_INT(SR.last_status, CFLIGHT_NOT_FOUND);
  cflight_descriptor *d = td_path("ints");
  cflight_flight_info *info = NULL;
  CHECK_OK(cflight_client_get_flight_info(C, d, NULL, &info, &err), &err);
  cflight_flight_info_free(info);
  CHECK_EQ_STR(CR.method, "GetFlightInfo");
  CHECK_EQ_INT(CR.status, CFLIGHT_OK);
  CHECK_EQ_INT(SR.last_status, CFLIGHT_OK);
  /* A refused call: the handler never runs, the client gets the refusal. */
  int completed = SR.completed;
  cflight_call_options *o = cflight_call_options_new();
  CHECK_OK(cflight_call_options_add_header(o, "x-reject", "1", &err), &err);
  CHECK_EQ_INT(cflight_client_get_flight_info(C, d, o, &info, &err), CFLIGHT_PERMISSION_DENIED);
  CHECK_EQ_STR(err.message, "rejected by middleware");
  CHECK(err.extra_info != NULL && cflight_buffer_size(err.extra_info) == 3);
  CHECK_EQ_INT(CR.status, CFLIGHT_PERMISSION_DENIED);
  /* No instance was made, so no completion on the server side. */
  CHECK_EQ_INT(SR.completed, completed);
  drain_get(C, "ints", o, CFLIGHT_PERMISSION_DENIED);
  cflight_call_options_free(o);
  cflight_descriptor_free(d);
  /* A handler finds its middleware instance by key. */
  cflight_action *a = NULL;
  cflight_action_new("mw", NULL, 0, &a, NULL);
  cflight_result_iter *it = NULL;
  CHECK_OK(cflight_client_do_action(C, a, NULL, &it, &err), &err);
  cflight_result *res = NULL;
  CHECK_OK(cflight_result_iter_next(it, &res, &err), &err);
  size_t n = 0;
  const uint8_t *b = res != NULL ? cflight_result_body(res, &n) : NULL;
  CHECK(n == 5 && memcmp(b, "found", 5) == 0);
  cflight_result_free(res);
  cflight_result_iter_free(it);
  cflight_action_free(a);
  cflight_error_reset(&err);
}

/* A client refusing a call in start_call. */
static int refuse_start(void *fctx, const cflight_call_info *info, void **instance,
                        cflight_error *err) {
  (void)fctx;
  *instance = NULL;
  if (strcmp(cflight_call_info_method(info), "DoAction") == 0)
    return cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION, "not from this client");
  return CFLIGHT_OK;
}

static void test_client_refusal(void) {
  cflight_client_middleware_callbacks cb = {refuse_start, NULL, NULL, NULL, NULL};
  cflight_client_options *co = cflight_client_options_new();
  cflight_error err = {0};
  CHECK_OK(cflight_client_options_add_middleware(
               co, cflight_client_middleware_factory_new(&cb, NULL), &err),
           &err);
  cflight_client *c = ts_client(S, co);
  cflight_client_options_free(co);
  cflight_action *a = NULL;
  cflight_action_new("echo", NULL, 0, &a, NULL);
  cflight_result_iter *it = NULL;
  CHECK_EQ_INT(cflight_client_do_action(c, a, NULL, &it, &err), CFLIGHT_FAILED_PRECONDITION);
  CHECK(it == NULL);
  cflight_action_free(a);
  drain_get(c, "ints", NULL, CFLIGHT_OK);
  cflight_client_close(c);
}

/* The cookie header's pairs, sorted, joined by ",". */
static void sorted_cookies(const char *header, char *out, size_t cap) {
  char copy[2048];
  snprintf(copy, sizeof(copy), "%s", header);
  char *items[16];
  int n = 0;
  for (char *save = NULL, *tok = strtok_r(copy, ";", &save); tok != NULL && n < 16;
       tok = strtok_r(NULL, ";", &save)) {
    while (*tok == ' ')
      tok++;
    items[n++] = tok;
  }
  for (int i = 1; i < n; i++)
    for (int k = i; k > 0 && strcmp(items[k - 1], items[k]) > 0; k--) {
      char *x = items[k];
      items[k] = items[k - 1];
      items[k - 1] = x;
    }
  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    if (i > 0) strncat(out, ",", cap - strlen(out) - 1);
    strncat(out, items[i], cap - strlen(out) - 1);
  }
}

/* One call that sets `set` (may be NULL) and returns the cookies the server got. */
static void cookie_call(cflight_client *c, const char *set, char *got, size_t cap) {
  cflight_call_options *o = cflight_call_options_new();
  if (set != NULL) cflight_call_options_add_header(o, "x-set-cookie", set, NULL);
  drain_get(c, "ints", o, CFLIGHT_OK);
  cflight_call_options_free(o);
  pthread_mutex_lock(&SR.mu);
  sorted_cookies(SR.last_cookie, got, cap);
  pthread_mutex_unlock(&SR.mu);
}

static void test_cookies(void) {
  cflight_client_options *co = cflight_client_options_new();
  cflight_error err = {0};
  CHECK_OK(cflight_client_options_add_middleware(co, cflight_client_cookie_middleware_new(), &err),
           &err);
  cflight_client *c = ts_client(S, co);
  cflight_client_options_free(co);
  char got[256];
  cookie_call(c, "a=1", got, sizeof(got));
  CHECK_EQ_STR(got, ""); /* set by this call's answer: sent from the next one */
  cookie_call(c, "b=2; Max-Age=100; Path=/", got, sizeof(got));
  CHECK_EQ_STR(got, "a=1");
  cookie_call(c, "c=\"quoted\"; HttpOnly", got, sizeof(got));
  CHECK_EQ_STR(got, "a=1,b=2");
  cookie_call(c, "a=; Max-Age=0", got, sizeof(got));
  CHECK_EQ_STR(got, "a=1,b=2,c=quoted");
  cookie_call(c, "d=4; Expires=Wed, 21 Oct 2015 07:28:00 GMT", got, sizeof(got));
  CHECK_EQ_STR(got, "b=2,c=quoted");
  cookie_call(c, "e=5; Expires=Fri, 01 Jan 2100 00:00:00 GMT", got, sizeof(got));
  CHECK_EQ_STR(got, "b=2,c=quoted");
  cookie_call(c, "B=22", got, sizeof(got)); /* names are case-insensitive: replaces b */
  CHECK_EQ_STR(got, "b=2,c=quoted,e=5");
  cookie_call(c, NULL, got, sizeof(got));
  CHECK_EQ_STR(got, "B=22,c=quoted,e=5");
  cflight_client_close(c);
}

/* What a server cannot do to the cookie jar: overflow an expiry, grow it
 * without bound, or store a cookie larger than RFC 6265 asks a client to. */
static void test_cookie_limits(void) {
  cflight_client_options *co = cflight_client_options_new();
  cflight_error err = {0};
  CHECK_OK(cflight_client_options_add_middleware(co, cflight_client_cookie_middleware_new(), &err),
           &err);
  cflight_client *c = ts_client(S, co);
  cflight_client_options_free(co);
  char got[2048];
  /* Extreme Max-Age values: kept (capped) or deleted, never an overflow
   * (UBSan reports one in now + Max-Age). */
  cookie_call(c, "a=1; Max-Age=9223372036854775807", got, sizeof(got));
  cookie_call(c, "b=2; Max-Age=99999999999999999999999", got, sizeof(got));
  cookie_call(c, "c=3; Max-Age=-9223372036854775808", got, sizeof(got));
  cookie_call(c, "d=4; Expires=Fri, 31 Dec 9999 23:59:59 GMT", got, sizeof(got));
  cookie_call(c, NULL, got, sizeof(got));
  CHECK_EQ_STR(got, "a=1,b=2,d=4");
  /* Too large a cookie is ignored. */
  static char big[5000];
  memset(big, 'x', sizeof(big) - 1);
  memcpy(big, "big=", 4);
  cookie_call(c, big, got, sizeof(got));
  cookie_call(c, NULL, got, sizeof(got));
  CHECK_EQ_STR(got, "a=1,b=2,d=4");
  /* At most 64 cookies, whatever the server sends; existing ones can still
   * be replaced or deleted. */
  for (int i = 0; i < 70; i++) {
    char set[32];
    snprintf(set, sizeof(set), "k%02d=%d", i, i);
    cookie_call(c, set, got, sizeof(got));
  }
  cookie_call(c, "a=; Max-Age=0", got, sizeof(got));
  pthread_mutex_lock(&SR.mu);
  size_t n = 0;
  for (const char *p = SR.last_cookie; *p != '\0'; p++)
    n += *p == '=';
  bool has_a = strstr(SR.last_cookie, "a=1") != NULL;
  pthread_mutex_unlock(&SR.mu);
  CHECK_EQ_INT((int)n, 64);
  CHECK(has_a);
  cookie_call(c, NULL, got, sizeof(got));
  pthread_mutex_lock(&SR.mu);
  n = 0;
  for (const char *p = SR.last_cookie; *p != '\0'; p++)
    n += *p == '=';
  has_a = strstr(SR.last_cookie, "a=1") != NULL;
  pthread_mutex_unlock(&SR.mu);
  CHECK_EQ_INT((int)n, 63);
  CHECK(!has_a);
  cflight_client_close(c);
}

static void test_log_middleware(void) {
  char path[512];
  snprintf(path, sizeof(path), "%s/access.log", cft_tmpdir());
  FILE *f = fopen(path, "w+");
  CHECK(f != NULL);
  if (f == NULL) return;
  cflight_server_options *so = cflight_server_options_new();
  cflight_error err = {0};
  CHECK_OK(
      cflight_server_options_add_middleware(so, "log", cflight_server_log_middleware_new(f), &err),
      &err);
  ts_server *t = ts_start("grpc://127.0.0.1:0", so, NULL);
  cflight_server_options_free(so);
  cflight_client *c = ts_client(t, NULL);
  drain_get(c, "ints", NULL, CFLIGHT_OK);
  cflight_descriptor *d = td_path("nope");
  cflight_flight_info *info = NULL;
  CHECK_EQ_INT(cflight_client_get_flight_info(c, d, NULL, &info, &err), CFLIGHT_NOT_FOUND);
  cflight_descriptor_free(d);
  cflight_client_close(c);
  ts_stop(t);
  fflush(f);
  rewind(f);
  char line[512];
  int lines = 0;
  bool get = false, nf = false;
  while (fgets(line, sizeof(line), f) != NULL) {
    lines++;
    if (strstr(line, "DoGet ipv4:127.0.0.1:") != NULL && strstr(line, " OK ") != NULL) get = true;
    if (strstr(line, "GetFlightInfo") != NULL && strstr(line, "NOT_FOUND") != NULL) nf = true;
  }
  fclose(f);
  CHECK_EQ_INT(lines, 2);
  CHECK(get && nf);
}

int main(void) {
  cflight_error err = {0};
  cflight_server_middleware_callbacks scb = {srv_start, srv_sending, srv_completed, NULL};
  cflight_server_options *so = cflight_server_options_new();
  CHECK_OK(cflight_server_options_add_middleware(
               so, "test", cflight_server_middleware_factory_new(&scb, NULL), &err),
           &err);
  S = ts_start("grpc://127.0.0.1:0", so, NULL);
  cflight_server_options_free(so);
  cflight_client_middleware_callbacks ccb = {cli_start, cli_sending, cli_received, cli_completed,
                                             NULL};
  cflight_client_options *co = cflight_client_options_new();
  CHECK_OK(cflight_client_options_add_middleware(
               co, cflight_client_middleware_factory_new(&ccb, NULL), &err),
           &err);
  C = ts_client(S, co);
  cflight_client_options_free(co);
  RUN_TEST(test_headers_both_ways);
  RUN_TEST(test_trailers);
  RUN_TEST(test_status_and_rejection);
  RUN_TEST(test_client_refusal);
  RUN_TEST(test_cookies);
  RUN_TEST(test_cookie_limits);
  RUN_TEST(test_log_middleware);
  cflight_client_close(C);
  ts_stop(S);
  return cft_finish();
}
