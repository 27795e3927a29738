/* Our client against our server: the four call kinds, message sizes,
 * statuses, metadata, Unix sockets, concurrency. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "tutil.h"

static tsrv S;

static void test_unary(void) {
  cf_channel *ch = tchannel(S.uri, NULL);
  CHECK(ch != NULL);
  cflight_buffer *reply = NULL;
  cf_status st = {0};
  int rc = tcall_unary(ch, "/test.Echo/Unary", NULL, "hello", 5, 0, &reply, &st);
  CHECK_EQ_INT(rc, CFLIGHT_OK);
  CHECK(reply != NULL && cflight_buffer_size(reply) == 5 &&
        memcmp(cflight_buffer_data(reply), "hello", 5) == 0);
  cflight_buffer_unref(reply);
  cf_status_reset(&st);
  /* An empty message both ways. */
  rc = tcall_unary(ch, "/test.Echo/Unary", NULL, "", 0, tdeadline_ms(10000), &reply, &st);
  CHECK_EQ_INT(rc, CFLIGHT_OK);
  CHECK(reply != NULL && cflight_buffer_size(reply) == 0);
  cflight_buffer_unref(reply);
  cf_status_reset(&st);
  /* Unknown method: the handler answers UNIMPLEMENTED (trailers-only). */
  rc = tcall_unary(ch, "/test.Echo/Nope", NULL, "x", 1, 0, &reply, &st);
  CHECK_EQ_INT(rc, CFLIGHT_UNIMPLEMENTED);
  CHECK(reply == NULL);
  CHECK_EQ_STR(st.error.message, "unknown method");
  cf_status_reset(&st);
  cf_channel_free(ch);
}

static void test_wait_ready(void) {
  cf_channel *ch = tchannel(S.uri, NULL);
  cflight_error err = {0};
  CHECK_OK(cf_channel_wait_ready(ch, tdeadline_ms(5000), &err), &err);
  cf_channel_free(ch);
  /* Nothing listens on port 1. */
  ch = tchannel("grpc://127.0.0.1:1", NULL);
  int rc = cf_channel_wait_ready(ch, tdeadline_ms(5000), &err);
  CHECK_EQ_INT(rc, CFLIGHT_UNAVAILABLE);
  CHECK_MSG(strstr(err.message, "127.0.0.1:1") != NULL && strstr(err.message, "refused") != NULL,
            "message: %s", err.message);
  cf_status st = {0};
  rc = tcall_unary(ch, "/test.Echo/Unary", NULL, "x", 1, 0, NULL, &st);
  CHECK_EQ_INT(rc, CFLIGHT_UNAVAILABLE);
  CHECK_MSG(strstr(st.error.message, "connection refused") != NULL, "message: %s",
            st.error.message);
  cf_status_reset(&st);
  cf_channel_free(ch);
  /* A name with several addresses: every attempt is reported. */
  ch = tchannel("grpc://localhost:1", NULL);
  rc = tcall_unary(ch, "/test.Echo/Unary", NULL, "x", 1, 0, NULL, &st);
  CHECK_EQ_INT(rc, CFLIGHT_UNAVAILABLE);
  CHECK_MSG(strstr(st.error.message, "localhost:1") != NULL, "message: %s", st.error.message);
  fprintf(stderr, "  %s\n", st.error.message);
  cf_status_reset(&st);
  cf_channel_free(ch);
}

static void test_server_stream(void) {
  cf_channel *ch = tchannel(S.uri, NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/ServerStream", NULL, 0, &call, &err), &err);
  uint32_t req[2] = {100, 100000};
  CHECK_OK(tsend_copy(call, req, sizeof(req), true, &err), &err);
  int n = 0;
  bool ok = true;
  for (;;) {
    cf_msg m;
    bool more;
    int rc = cf_call_recv(call, &m, &more, &err);
    CHECK_OK(rc, &err);
    if (rc != CFLIGHT_OK || !more) break;
    if (m.len != 100000) ok = false;
    size_t off = 0;
    for (size_t s = 0; s < m.n_slices && ok; s++) {
      for (size_t i = 0; i < m.slices[s].len; i++, off++) {
        if (m.slices[s].data[i] != (uint8_t)(off + (size_t)n)) {
          ok = false;
          break;
        }
      }
    }
    cf_msg_reset(&m);
    n++;
  }
  CHECK(ok);
  CHECK_EQ_INT(n, 100);
  cf_status st = {0};
  CHECK_EQ_INT(cf_call_finish(call, &st), CFLIGHT_OK);
  cf_status_reset(&st);
  cf_call_free(call);
  cf_channel_free(ch);
}

static void test_client_stream(void) {
  cf_channel *ch = tchannel(S.uri, NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/ClientStream", NULL, 0, &call, &err), &err);
  uint8_t *buf = calloc(1, 300000);
  uint64_t total = 0;
  for (int i = 0; i < 50; i++) {
    size_t len = (size_t)(i * 6007) % 300000;
    CHECK_OK(tsend_copy(call, buf, len, false, &err), &err);
    total += len;
  }
  CHECK_OK(tsend_copy(call, buf, 0, false, &err), &err); /* an empty message too */
  CHECK_OK(cf_call_close_send(call, &err), &err);
  free(buf);
  cf_msg m;
  bool more = false;
  CHECK_OK(cf_call_recv(call, &m, &more, &err), &err);
  CHECK(more && m.len == 16);
  if (more && m.len == 16) {
    cflight_buffer *b = cf_msg_flatten(&m, &err);
    uint64_t out[2];
    memcpy(out, cflight_buffer_data(b), 16);
    CHECK_EQ_INT(out[0], total);
    CHECK_EQ_INT(out[1], 51);
    cflight_buffer_unref(b);
  }
  if (more) cf_msg_reset(&m);
  CHECK_OK(cf_call_recv(call, &m, &more, &err), &err);
  CHECK(!more);
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_OK);
  cf_call_free(call);
  cf_channel_free(ch);
}

static void test_bidi(void) {
  cf_channel *ch = tchannel(S.uri, NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Bidi", NULL, 0, &call, &err), &err);
  const cf_metadata *hdrs = NULL;
  for (int i = 0; i < 20; i++) {
    char msg[64];
    int len = snprintf(msg, sizeof(msg), "ping %d", i);
    CHECK_OK(tsend_copy(call, msg, (size_t)len, false, &err), &err);
    if (i == 0) CHECK_OK(cf_call_response_headers(call, &hdrs, &err), &err);
    cf_msg m;
    bool more = false;
    CHECK_OK(cf_call_recv(call, &m, &more, &err), &err);
    CHECK(more && m.len == (size_t)len && m.n_slices == 1 &&
          memcmp(m.slices[0].data, msg, (size_t)len) == 0);
    if (more) cf_msg_reset(&m);
  }
  CHECK(hdrs != NULL);
  CHECK_OK(cf_call_close_send(call, &err), &err);
  cf_msg m;
  bool more = true;
  CHECK_OK(cf_call_recv(call, &m, &more, &err), &err);
  CHECK(!more);
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_OK);
  cf_call_free(call);
  cf_channel_free(ch);
}

/* Messages of many sizes both ways, checked byte for byte: read buffers
 * are switched, grown and carried over under them. */
static void test_bidi_sizes(void) {
  cf_channel *ch = tchannel(S.uri, NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Bidi", NULL, 0, &call, &err), &err);
  uint32_t seed = 12345;
  bool ok = true;
  for (int i = 0; i < 60 && ok; i++) {
    seed = seed * 1103515245 + 12345;
    size_t len = (seed >> 8) % (i % 3 == 0 ? 6000000 : 70000);
    uint8_t *buf = malloc(len + 1);
    for (size_t k = 0; k < len; k++)
      buf[k] = (uint8_t)(k * 7 + (size_t)i);
    CHECK_OK(tsend_copy(call, buf, len, false, &err), &err);
    cf_msg m;
    bool more = false;
    CHECK_OK(cf_call_recv(call, &m, &more, &err), &err);
    if (!more || m.len != len) {
      ok = false;
    } else {
      size_t off = 0;
      for (size_t sl = 0; sl < m.n_slices; sl++) {
        if (memcmp(m.slices[sl].data, buf + off, m.slices[sl].len) != 0) ok = false;
        off += m.slices[sl].len;
      }
    }
    if (more) cf_msg_reset(&m);
    free(buf);
  }
  CHECK(ok);
  CHECK_OK(cf_call_close_send(call, &err), &err);
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_OK);
  cf_call_free(call);
  cf_channel_free(ch);
}

static void test_large_messages(void) {
  cf_channel *ch = tchannel(S.uri, NULL);
  size_t size = 64u << 20;
  uint8_t *buf = malloc(size);
  for (size_t i = 0; i < size; i++)
    buf[i] = (uint8_t)(i * 7 + 3);
  cflight_buffer *reply = NULL;
  cf_status st = {0};
  int rc = tcall_unary(ch, "/test.Echo/Unary", NULL, buf, size, 0, &reply, &st);
  CHECK_EQ_INT(rc, CFLIGHT_OK);
  CHECK(reply != NULL && cflight_buffer_size(reply) == size &&
        memcmp(cflight_buffer_data(reply), buf, size) == 0);
  cflight_buffer_unref(reply);
  cf_status_reset(&st);
  free(buf);
  cf_channel_free(ch);
}

static void test_status_and_metadata(void) {
  cf_channel *ch = tchannel(S.uri, NULL);
  const char *msg = "d\xc3\xa9j\xc3\xa0 vu: 100% \xe2\x9c\x93 \"quoted\"\nline";
  const uint8_t details[] = {0, 1, 2, 0xff, 0xfe, ',', '='};
  const uint8_t bin[] = {0, 0xff, ',', ' ', 10, 13};
  cf_metadata md = {0};
  cf_metadata_add(&md, "x-reply-status", "9", 1, NULL);
  cf_metadata_add(&md, "x-reply-message-bin", msg, strlen(msg), NULL);
  cf_metadata_add(&md, "x-reply-details-bin", details, sizeof(details), NULL);
  cf_metadata_add(&md, "x-echo-text", "plain value", 11, NULL);
  cf_metadata_add(&md, "x-echo-data-bin", bin, sizeof(bin), NULL);
  cf_metadata_add(&md, "x-echo-empty-bin", "", 0, NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Unary", &md, 0, &call, &err), &err);
  CHECK_OK(tsend_copy(call, "x", 1, true, &err), &err);
  const cf_metadata *hdrs = NULL;
  CHECK_OK(cf_call_response_headers(call, &hdrs, &err), &err);
  if (hdrs != NULL) {
    const cf_header *h = cf_metadata_find(hdrs, "x-echo-text");
    CHECK(h != NULL && h->value_len == 11 && memcmp(h->value, "plain value", 11) == 0);
    h = cf_metadata_find(hdrs, "x-echo-data-bin");
    CHECK(h != NULL && h->value_len == sizeof(bin) && memcmp(h->value, bin, sizeof(bin)) == 0);
    h = cf_metadata_find(hdrs, "x-echo-empty-bin");
    CHECK(h != NULL && h->value_len == 0);
    CHECK(cf_metadata_find(hdrs, "content-type") == NULL);
  }
  cf_msg m;
  bool more = false;
  int rc = cf_call_recv(call, &m, &more, &err);
  CHECK_EQ_INT(rc, CFLIGHT_FAILED_PRECONDITION);
  CHECK_EQ_STR(err.message, msg);
  CHECK(err.extra_info != NULL && cflight_buffer_size(err.extra_info) == sizeof(details) &&
        memcmp(cflight_buffer_data(err.extra_info), details, sizeof(details)) == 0);
  cflight_error_reset(&err);
  cf_status st = {0};
  CHECK_EQ_INT(cf_call_finish(call, &st), CFLIGHT_FAILED_PRECONDITION);
  CHECK_EQ_STR(st.error.message, msg);
  CHECK(st.error.extra_info != NULL);
  const cf_header *t = cf_metadata_find(&st.trailers, "x-trailer-echo-data-bin");
  CHECK(t != NULL && t->value_len == sizeof(bin) && memcmp(t->value, bin, sizeof(bin)) == 0);
  t = cf_metadata_find(&st.trailers, "x-trailer-echo-text");
  CHECK(t != NULL && t->value_len == 11);
  CHECK(cf_metadata_find(&st.trailers, "grpc-status") == NULL);
  cf_status_reset(&st);
  cf_call_free(call);

  /* Every gRPC code travels; codes above 16 travel as their gRPC equivalent. */
  for (int code = 1; code <= 16; code++) {
    cf_metadata md2 = {0};
    char c[8];
    snprintf(c, sizeof(c), "%d", code);
    cf_metadata_add(&md2, "x-reply-status", c, strlen(c), NULL);
    rc = tcall_unary(ch, "/test.Echo/Unary", &md2, "x", 1, 0, NULL, &st);
    CHECK_EQ_INT(rc, code);
    cf_status_reset(&st);
    cf_metadata_reset(&md2);
  }
  /* Bad metadata is refused before anything is sent. */
  cf_metadata bad = {0};
  cf_metadata_add(&bad, "x-text", "caf\xc3\xa9", 5, NULL);
  CHECK_EQ_INT(cf_channel_start_call(ch, "/test.Echo/Unary", &bad, 0, &call, &err),
               CFLIGHT_INVALID_ARGUMENT);
  cf_metadata_reset(&bad);
  cf_metadata_add(&bad, "grpc-status", "0", 1, NULL);
  CHECK_EQ_INT(cf_channel_start_call(ch, "/test.Echo/Unary", &bad, 0, &call, &err),
               CFLIGHT_INVALID_ARGUMENT);
  cf_metadata_reset(&bad);
  cf_metadata_reset(&md);
  cf_channel_free(ch);
}

typedef struct thread_arg {
  cf_channel *ch;
  int calls;
  int failures;
  int id;
} thread_arg;

static void *unary_thread(void *p) {
  thread_arg *a = p;
  for (int i = 0; i < a->calls; i++) {
    char msg[64];
    int len = snprintf(msg, sizeof(msg), "thread %d call %d", a->id, i);
    cflight_buffer *reply = NULL;
    cf_status st = {0};
    int rc = tcall_unary(a->ch, "/test.Echo/Unary", NULL, msg, (size_t)len, tdeadline_ms(30000),
                         &reply, &st);
    if (rc != CFLIGHT_OK || reply == NULL || cflight_buffer_size(reply) != (size_t)len ||
        memcmp(cflight_buffer_data(reply), msg, (size_t)len) != 0) {
      if (a->failures++ == 0) fprintf(stderr, "call failed: %d %s\n", rc, st.error.message);
    }
    cflight_buffer_unref(reply);
    cf_status_reset(&st);
  }
  return NULL;
}

static void test_many_threads_one_channel(void) {
  cf_channel *ch = tchannel(S.uri, NULL);
  enum { T = 8 };
  pthread_t th[T];
  thread_arg args[T];
  for (int i = 0; i < T; i++) {
    args[i] = (thread_arg){ch, 200, 0, i};
    pthread_create(&th[i], NULL, unary_thread, &args[i]);
  }
  int failures = 0;
  for (int i = 0; i < T; i++) {
    pthread_join(th[i], NULL);
    failures += args[i].failures;
  }
  CHECK_EQ_INT(failures, 0);
  cf_channel_free(ch);
}

static void test_many_channels(void) {
  enum { N = 24 };
  cf_channel *chs[N];
  pthread_t th[N];
  thread_arg args[N];
  for (int i = 0; i < N; i++) {
    chs[i] = tchannel(S.uri, NULL);
    args[i] = (thread_arg){chs[i], 10, 0, i};
    pthread_create(&th[i], NULL, unary_thread, &args[i]);
  }
  int failures = 0;
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    failures += args[i].failures;
    cf_channel_free(chs[i]);
  }
  CHECK_EQ_INT(failures, 0);
}

static void test_unix_socket(void) {
  char uri[300];
  snprintf(uri, sizeof(uri), "grpc+unix://%s/sock", cft_tmpdir());
  tsrv u;
  CHECK(tsrv_start(&u, uri, NULL));
  cf_channel *ch = tchannel(uri, NULL);
  cflight_buffer *reply = NULL;
  cf_status st = {0};
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "unix", 4, 0, &reply, &st), CFLIGHT_OK);
  CHECK(reply != NULL && cflight_buffer_size(reply) == 4);
  cflight_buffer_unref(reply);
  cf_status_reset(&st);
  cf_channel_free(ch);
  tsrv_stop(&u);
}

static void test_ipv6_and_names(void) {
  tsrv v6;
  if (!tsrv_start(&v6, "grpc://[::1]:0", NULL)) {
    fprintf(stderr, "  (no IPv6 loopback: skipped)\n");
    return;
  }
  cf_channel *ch = tchannel(v6.uri, NULL);
  cf_status st = {0};
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "v6", 2, 0, NULL, &st), CFLIGHT_OK);
  cf_status_reset(&st);
  cf_channel_free(ch);
  tsrv_stop(&v6);
  /* A host name, resolved on both sides. */
  tsrv named;
  CHECK(tsrv_start(&named, "grpc://localhost:0", NULL));
  ch = tchannel(named.uri, NULL);
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "name", 4, 0, NULL, &st), CFLIGHT_OK);
  cf_status_reset(&st);
  cf_channel_free(ch);
  tsrv_stop(&named);
}

int main(void) {
  if (!tsrv_start(&S, "grpc://127.0.0.1:0", NULL)) return 1;
  RUN_TEST(test_unary);
  RUN_TEST(test_wait_ready);
  RUN_TEST(test_server_stream);
  RUN_TEST(test_client_stream);
  RUN_TEST(test_bidi);
  RUN_TEST(test_bidi_sizes);
  RUN_TEST(test_large_messages);
  RUN_TEST(test_status_and_metadata);
  RUN_TEST(test_many_threads_one_channel);
  RUN_TEST(test_many_channels);
  RUN_TEST(test_unix_socket);
  RUN_TEST(test_ipv6_and_names);
  tsrv_stop(&S);
  return cft_finish();
}
