/* Calls that end early: deadlines on either side, cancellation from either
 * side, clients that vanish, server shutdown with calls in flight,
 * reconnection, and requests that are not (acceptable) gRPC. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "rawh2.h"
#include "tutil.h"

static tsrv S;

/* Waits (without asserting on time) until *v != -1 or 20 s pass. */
static int wait_result(atomic_int *v) {
  for (int i = 0; i < 2000 && atomic_load(v) == -1; i++)
    usleep(10000);
  return atomic_load(v);
}

static void wait_started(int n) {
  for (int i = 0; i < 2000 && atomic_load(&tsrv_wait_started) < n; i++)
    usleep(10000);
}

static void reset_wait(void) {
  atomic_store(&tsrv_wait_result, -1);
  atomic_store(&tsrv_wait_cancelled, 0);
}

static void test_client_deadline(void) {
  reset_wait();
  cf_channel *ch = tchannel(S.uri, NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  int64_t t0 = cf_now_ns();
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Wait", NULL, tdeadline_ms(300), &call, &err),
           &err);
  cf_msg m;
  bool more;
  int rc = cf_call_recv(call, &m, &more, &err);
  CHECK_EQ_INT(rc, CFLIGHT_DEADLINE_EXCEEDED);
  cf_status st = {0};
  CHECK_EQ_INT(cf_call_finish(call, &st), CFLIGHT_DEADLINE_EXCEEDED);
  CHECK(cf_call_is_cancelled(call));
  fprintf(stderr, "  deadline 300 ms: failed after %.0f ms\n", (double)(cf_now_ns() - t0) / 1e6);
  cf_status_reset(&st);
  cf_call_free(call);
  /* The server side sees the end too (its own timer or our RST_STREAM). */
  rc = wait_result(&tsrv_wait_result);
  CHECK(rc == CFLIGHT_DEADLINE_EXCEEDED || rc == CFLIGHT_CANCELLED);
  CHECK_EQ_INT(atomic_load(&tsrv_wait_cancelled), 1);
  /* A deadline already past fails at once. */
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Unary", NULL, cf_now_ns() - 1, &call, &err), &err);
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_DEADLINE_EXCEEDED);
  cf_call_free(call);
  /* The channel still works. */
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "x", 1, tdeadline_ms(10000), NULL, NULL),
               CFLIGHT_OK);
  cf_channel_free(ch);
}

static void test_server_deadline(void) {
  /* grpc-timeout without a client-side timer: only the server's fires. */
  reset_wait();
  char path[] = "/test.Echo/Wait";
  const char *h[] = {":method",      "POST",
                     ":scheme",      "http",
                     ":path",        path,
                     ":authority",   "x",
                     "content-type", "application/grpc",
                     "te",           "trailers",
                     "grpc-timeout", "200m"};
  uint8_t body[5] = {0, 0, 0, 0, 0};
  rawh2_result r;
  CHECK(rawh2_request(S.port, h, 7, body, sizeof(body), 5000, &r));
  CHECK_EQ_INT(r.http_status, 200);
  CHECK_EQ_INT(r.grpc_status, CFLIGHT_DEADLINE_EXCEEDED);
  CHECK_EQ_INT(wait_result(&tsrv_wait_result), CFLIGHT_DEADLINE_EXCEEDED);
  CHECK_EQ_INT(atomic_load(&tsrv_wait_cancelled), 1);
}

static void test_client_cancel(void) {
  reset_wait();
  int started = atomic_load(&tsrv_wait_started);
  cf_channel *ch = tchannel(S.uri, NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Wait", NULL, 0, &call, &err), &err);
  CHECK_OK(tsend_copy(call, "x", 1, false, &err), &err);
  wait_started(started + 1);
  cf_call_cancel(call);
  CHECK(cf_call_is_cancelled(call));
  cf_msg m;
  bool more;
  CHECK_EQ_INT(cf_call_recv(call, &m, &more, &err), CFLIGHT_CANCELLED);
  CHECK_EQ_INT(tsend_copy(call, "y", 1, false, &err), CFLIGHT_CANCELLED);
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_CANCELLED);
  cf_call_cancel(call); /* idempotent */
  cf_call_free(call);
  CHECK_EQ_INT(wait_result(&tsrv_wait_result), CFLIGHT_CANCELLED);
  CHECK_EQ_INT(atomic_load(&tsrv_wait_cancelled), 1);
  /* Freeing a call in flight cancels it too. */
  reset_wait();
  started = atomic_load(&tsrv_wait_started);
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Wait", NULL, 0, &call, &err), &err);
  CHECK_OK(tsend_copy(call, "x", 1, false, &err), &err);
  wait_started(started + 1);
  cf_call_free(call);
  CHECK_EQ_INT(wait_result(&tsrv_wait_result), CFLIGHT_CANCELLED);
  cf_channel_free(ch);
}

static void test_server_cancel(void) {
  reset_wait();
  cf_channel *ch = tchannel(S.uri, NULL);
  cf_status st = {0};
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/ServerCancel", NULL, "x", 1, 0, NULL, &st),
               CFLIGHT_CANCELLED);
  cf_status_reset(&st);
  CHECK(atomic_load(&tsrv_wait_result) != 99);
  cf_channel_free(ch);
}

static void test_client_disappears(void) {
  reset_wait();
  int started = atomic_load(&tsrv_wait_started);
  cf_channel *ch = tchannel(S.uri, NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Wait", NULL, 0, &call, &err), &err);
  for (int i = 0; i < 10; i++)
    CHECK_OK(tsend_copy(call, "data", 4, false, &err), &err);
  wait_started(started + 1);
  /* The whole connection goes away mid-stream. */
  cf_channel_free(ch);
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_CANCELLED);
  cf_call_free(call);
  CHECK_EQ_INT(wait_result(&tsrv_wait_result), CFLIGHT_CANCELLED);
  CHECK_EQ_INT(atomic_load(&tsrv_wait_cancelled), 1);
  /* The server keeps serving. */
  ch = tchannel(S.uri, NULL);
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "x", 1, 0, NULL, NULL), CFLIGHT_OK);
  cf_channel_free(ch);
}

typedef struct stream_arg {
  cf_channel *ch;
  int rc;
  uint64_t total;
} stream_arg;

/* A client stream that keeps sending for a while, across a graceful shutdown. */
static void *slow_client_stream(void *p) {
  stream_arg *a = p;
  cflight_error err = {0};
  cf_call *call = NULL;
  a->rc = cf_channel_start_call(a->ch, "/test.Echo/ClientStream", NULL, 0, &call, &err);
  if (a->rc != CFLIGHT_OK) return NULL;
  for (int i = 0; i < 30; i++) {
    tsend_copy(call, "0123456789", 10, false, &err);
    usleep(10000);
  }
  cf_call_close_send(call, &err);
  cf_msg m;
  bool more = false;
  if (cf_call_recv(call, &m, &more, &err) == CFLIGHT_OK && more) {
    cflight_buffer *b = cf_msg_flatten(&m, &err);
    memcpy(&a->total, cflight_buffer_data(b), 8);
    cflight_buffer_unref(b);
    cf_msg_reset(&m);
  }
  a->rc = cf_call_finish(call, NULL);
  cf_call_free(call);
  return NULL;
}

static void test_graceful_shutdown(void) {
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", NULL));
  cf_channel *ch = tchannel(t.uri, NULL);
  cflight_error err = {0};
  CHECK_OK(cf_channel_wait_ready(ch, tdeadline_ms(5000), &err), &err);
  stream_arg a = {ch, -1, 0};
  pthread_t th;
  pthread_create(&th, NULL, slow_client_stream, &a);
  usleep(50000);
  /* No deadline: the call in flight finishes; then the server is gone. */
  cf_server_shutdown(t.srv, 0);
  pthread_join(th, NULL);
  CHECK_EQ_INT(a.rc, CFLIGHT_OK);
  CHECK_EQ_INT(a.total, 300);
  cf_server_wait(t.srv);
  cf_server_free(t.srv);
  cf_status st = {0};
  int rc = tcall_unary(ch, "/test.Echo/Unary", NULL, "x", 1, 0, NULL, &st);
  CHECK_EQ_INT(rc, CFLIGHT_UNAVAILABLE);
  cf_status_reset(&st);
  cf_channel_free(ch);
}

static void test_shutdown_deadline(void) {
  reset_wait();
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", NULL));
  int started = atomic_load(&tsrv_wait_started);
  cf_channel *ch = tchannel(t.uri, NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Wait", NULL, 0, &call, &err), &err);
  CHECK_OK(tsend_copy(call, "x", 1, false, &err), &err);
  wait_started(started + 1);
  /* The Wait handler never ends by itself: the deadline cancels it. */
  cf_server_shutdown(t.srv, tdeadline_ms(200));
  cf_server_wait(t.srv);
  cf_server_free(t.srv);
  int rc = cf_call_finish(call, NULL);
  CHECK(rc == CFLIGHT_UNAVAILABLE || rc == CFLIGHT_CANCELLED);
  cf_call_free(call);
  CHECK_EQ_INT(atomic_load(&tsrv_wait_result), CFLIGHT_CANCELLED);
  cf_channel_free(ch);
}

static void test_reconnect(void) {
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", NULL));
  int port = t.port;
  cf_channel *ch = tchannel(t.uri, NULL);
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "1", 1, 0, NULL, NULL), CFLIGHT_OK);
  tsrv_stop(&t);
  /* The connection dropped: calls fail fast with UNAVAILABLE... */
  cf_status st = {0};
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "2", 1, 0, NULL, &st),
               CFLIGHT_UNAVAILABLE);
  cf_status_reset(&st);
  /* ... until a server is back on the same port. */
  char uri[100];
  snprintf(uri, sizeof(uri), "grpc://127.0.0.1:%d", port);
  CHECK(tsrv_start(&t, uri, NULL));
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "3", 1, 0, NULL, &st), CFLIGHT_OK);
  cf_status_reset(&st);
  cf_channel_free(ch);
  tsrv_stop(&t);
}

static void test_not_grpc(void) {
  rawh2_result r;
  const char *get[] = {":method",          "GET",        ":scheme", "http", ":path",
                       "/test.Echo/Unary", ":authority", "x"};
  CHECK(rawh2_request(S.port, get, 4, NULL, 0, 0, &r));
  CHECK_EQ_INT(r.http_status, 405);
  const char *json[] = {
      ":method",          "POST",       ":scheme", "http",         ":path",
      "/test.Echo/Unary", ":authority", "x",       "content-type", "application/json"};
  CHECK(rawh2_request(S.port, json, 5, "{}", 2, 0, &r));
  CHECK_EQ_INT(r.http_status, 415);
  CHECK_EQ_INT(r.grpc_status, -1);
  /* application/grpc+proto is gRPC too. */
  const char *proto[] = {":method",      "POST",
                         ":scheme",      "http",
                         ":path",        "/test.Echo/Unary",
                         ":authority",   "x",
                         "content-type", "application/grpc+proto",
                         "te",           "trailers"};
  uint8_t msg[8] = {0, 0, 0, 0, 3, 'a', 'b', 'c'};
  CHECK(rawh2_request(S.port, proto, 6, msg, sizeof(msg), 0, &r));
  CHECK_EQ_INT(r.http_status, 200);
  CHECK_EQ_INT(r.grpc_status, 0);
  CHECK_EQ_INT(r.body_len, 8);
  CHECK_MSG(strncmp(r.content_type, "application/grpc", 16) == 0, "%s", r.content_type);
}

static void test_compressed_refused(void) {
  const char *h[] = {":method",
                     "POST",
                     ":scheme",
                     "http",
                     ":path",
                     "/test.Echo/Unary",
                     ":authority",
                     "x",
                     "content-type",
                     "application/grpc",
                     "te",
                     "trailers",
                     "grpc-encoding",
                     "gzip"};
  uint8_t msg[8] = {1, 0, 0, 0, 3, 'a', 'b', 'c'}; /* "compressed" flag set */
  rawh2_result r;
  CHECK(rawh2_request(S.port, h, 7, msg, sizeof(msg), 0, &r));
  CHECK_EQ_INT(r.grpc_status, CFLIGHT_UNIMPLEMENTED);
  CHECK_MSG(strstr(r.grpc_message, "gzip") != NULL, "%s", r.grpc_message);
  CHECK_EQ_STR(r.accept_encoding, "identity");
  /* grpc-encoding without a compressed message is fine. */
  msg[0] = 0;
  CHECK(rawh2_request(S.port, h, 7, msg, sizeof(msg), 0, &r));
  CHECK_EQ_INT(r.grpc_status, 0);
  /* A compressed flag without grpc-encoding is a protocol error. */
  msg[0] = 1;
  CHECK(rawh2_request(S.port, h, 6, msg, sizeof(msg), 0, &r));
  CHECK_EQ_INT(r.grpc_status, CFLIGHT_INTERNAL);
  /* Reserved flag bits. */
  msg[0] = 0x80;
  CHECK(rawh2_request(S.port, h, 6, msg, sizeof(msg), 0, &r));
  CHECK_EQ_INT(r.grpc_status, CFLIGHT_INTERNAL);
}

static void test_message_limits(void) {
  cf_transport_options o;
  cf_transport_options_init(&o);
  cflight_error err = {0};
  CHECK_OK(cf_transport_options_set(&o, "grpc.max_receive_message_length", "1000", &err), &err);
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", &o));
  uint8_t big[2000] = {0};
  /* The server refuses a request above its limit. */
  cf_channel *ch = tchannel(t.uri, NULL);
  cf_status st = {0};
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, big, sizeof(big), 0, NULL, &st),
               CFLIGHT_RESOURCE_EXHAUSTED);
  cf_status_reset(&st);
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, big, 1000, 0, NULL, &st), CFLIGHT_OK);
  cf_status_reset(&st);
  cf_channel_free(ch);
  /* The client refuses a reply above its limit... */
  ch = tchannel(S.uri, &o);
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, big, sizeof(big), 0, NULL, &st),
               CFLIGHT_RESOURCE_EXHAUSTED);
  cf_status_reset(&st);
  cf_channel_free(ch);
  /* ... and sends nothing above its send limit. */
  cf_transport_options_init(&o);
  CHECK_OK(cf_transport_options_set(&o, "grpc.max_send_message_length", "100", &err), &err);
  ch = tchannel(S.uri, &o);
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Unary", NULL, 0, &call, &err), &err);
  CHECK_EQ_INT(tsend_copy(call, big, 101, true, &err), CFLIGHT_RESOURCE_EXHAUSTED);
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_RESOURCE_EXHAUSTED);
  cf_call_free(call);
  cf_channel_free(ch);
  tsrv_stop(&t);
  cf_transport_options_reset(&o);
}

/* GOAWAY: calls in flight finish on the old connection while new calls go to
 * a new one (here: a new server on the same port). */
static void test_goaway_failover(void) {
  tsrv old;
  CHECK(tsrv_start(&old, "grpc://127.0.0.1:0", NULL));
  cf_channel *ch = tchannel(old.uri, NULL);
  cflight_error err = {0};
  CHECK_OK(cf_channel_wait_ready(ch, tdeadline_ms(5000), &err), &err);
  stream_arg a = {ch, -1, 0};
  pthread_t th;
  pthread_create(&th, NULL, slow_client_stream, &a);
  usleep(50000);
  cf_server_shutdown(old.srv, 0); /* listeners close, GOAWAY goes out */
  usleep(100000);
  tsrv fresh;
  char uri[100];
  snprintf(uri, sizeof(uri), "grpc://127.0.0.1:%d", old.port);
  bool started = false;
  for (int i = 0; i < 100 && !started; i++) {
    started = tsrv_start(&fresh, uri, NULL);
    if (!started) usleep(20000); /* the old listener's close may still be under way */
  }
  CHECK(started);
  cf_status st = {0};
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "new", 3, tdeadline_ms(10000), NULL, &st),
               CFLIGHT_OK);
  cf_status_reset(&st);
  pthread_join(th, NULL);
  CHECK_EQ_INT(a.rc, CFLIGHT_OK);
  CHECK_EQ_INT(a.total, 300);
  cf_server_wait(old.srv);
  cf_server_free(old.srv);
  cf_channel_free(ch);
  tsrv_stop(&fresh);
}

/* A server that accepts and then says nothing: keepalive pings find out. */
static void test_keepalive_timeout(void) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  CHECK(bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(ls, 4) == 0);
  getsockname(ls, (struct sockaddr *)&sa, &len);
  char uri[100];
  snprintf(uri, sizeof(uri), "grpc://127.0.0.1:%d", ntohs(sa.sin_port));
  cf_transport_options o;
  cf_transport_options_init(&o);
  cflight_error err = {0};
  CHECK_OK(cf_transport_options_set(&o, "grpc.keepalive_time_ms", "100", &err), &err);
  CHECK_OK(cf_transport_options_set(&o, "grpc.keepalive_timeout_ms", "200", &err), &err);
  cf_channel *ch = tchannel(uri, &o);
  cf_status st = {0};
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "x", 1, 0, NULL, &st),
               CFLIGHT_UNAVAILABLE);
  CHECK_MSG(strstr(st.error.message, "keepalive") != NULL, "%s", st.error.message);
  cf_status_reset(&st);
  cf_channel_free(ch);
  close(ls);
  /* With a live server, keepalive pings are answered and calls go on (a
   * generous timeout: a loaded test machine may answer slowly). */
  CHECK_OK(cf_transport_options_set(&o, "grpc.keepalive_timeout_ms", "10000", &err), &err);
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", NULL));
  ch = tchannel(t.uri, &o);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "x", 1, 0, NULL, &st), CFLIGHT_OK);
    cf_status_reset(&st);
    usleep(150000);
  }
  cf_channel_free(ch);
  tsrv_stop(&t);
}

/* Handlers blocked in their calls never hold up other calls. */
static void test_blocked_handlers(void) {
  reset_wait();
  int started = atomic_load(&tsrv_wait_started);
  cf_channel *ch = tchannel(S.uri, NULL);
  cflight_error err = {0};
  enum { N = 40 };
  cf_call *calls[N];
  for (int i = 0; i < N; i++) {
    CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Wait", NULL, 0, &calls[i], &err), &err);
    CHECK_OK(tsend_copy(calls[i], "x", 1, false, &err), &err);
  }
  wait_started(started + N);
  CHECK_EQ_INT(atomic_load(&tsrv_wait_started), started + N);
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "x", 1, tdeadline_ms(10000), NULL, NULL),
               CFLIGHT_OK);
  for (int i = 0; i < N; i++)
    cf_call_free(calls[i]);
  cf_channel_free(ch);
}

/* A trailers-only response: no headers, the metadata come as trailers. */
static void test_trailers_only(void) {
  cf_channel *ch = tchannel(S.uri, NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  cf_metadata md = {0};
  cf_metadata_add(&md, "x-reply-status", "5", 1, NULL);
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Unary", &md, 0, &call, &err), &err);
  CHECK_OK(tsend_copy(call, "x", 1, true, &err), &err);
  const cf_metadata *hdrs = NULL;
  CHECK_OK(cf_call_response_headers(call, &hdrs, &err), &err);
  CHECK(hdrs != NULL && hdrs->count == 0);
  cf_status st = {0};
  CHECK_EQ_INT(cf_call_finish(call, &st), CFLIGHT_NOT_FOUND);
  cf_status_reset(&st);
  cf_call_free(call);
  cf_metadata_reset(&md);
  cf_channel_free(ch);
}

int main(void) {
  if (!tsrv_start(&S, "grpc://127.0.0.1:0", NULL)) return 1;
  RUN_TEST(test_client_deadline);
  RUN_TEST(test_server_deadline);
  RUN_TEST(test_client_cancel);
  RUN_TEST(test_server_cancel);
  RUN_TEST(test_client_disappears);
  RUN_TEST(test_graceful_shutdown);
  RUN_TEST(test_shutdown_deadline);
  RUN_TEST(test_reconnect);
  RUN_TEST(test_not_grpc);
  RUN_TEST(test_compressed_refused);
  RUN_TEST(test_message_limits);
  RUN_TEST(test_goaway_failover);
  RUN_TEST(test_keepalive_timeout);
  RUN_TEST(test_blocked_handlers);
  RUN_TEST(test_trailers_only);
  tsrv_stop(&S);
  return cft_finish();
}
