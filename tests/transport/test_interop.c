/* Interop with gRPC core's HTTP/2 through Debian's python3-grpcio: a Python
 * client against our server, and our client against a Python server
 * (tests/peers/python). Skipped (exit 77) when grpc is not importable. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "tutil.h"

#define PYTHON "/usr/bin/python3"

static char peers_dir[1024];
static char certs_dir[1024];
static char *ca, *cert0, *key0, *cert1, *key1;

static int run(char *const argv[]) {
  pid_t pid = fork();
  if (pid == 0) {
    execv(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static bool grpc_available(void) {
  char *argv[] = {PYTHON, "-c", "import grpc", NULL};
  return run(argv) == 0;
}

/* ---- Python client -> our server ----------------------------------------------------- */

static void test_python_client(void) {
  cf_transport_options plain, tls, mtls;
  cf_transport_options_init(&plain);
  cf_transport_options_init(&tls);
  cf_transport_options_init(&mtls);
  cf_tls_cert_pair pair = {cert0, key0};
  tls.tls_server.pairs = &pair;
  tls.tls_server.n_pairs = 1;
  mtls.tls_server = tls.tls_server;
  mtls.tls_server.verify_client = true;
  mtls.tls_server.client_root_certs_pem = ca;
  tsrv a, b, c;
  CHECK(tsrv_start(&a, "grpc://127.0.0.1:0", &plain));
  CHECK(tsrv_start(&b, "grpc+tls://localhost:0", &tls));
  CHECK(tsrv_start(&c, "grpc+tls://localhost:0", &mtls));
  char script[1200], p1[16], p2[16], p3[16];
  snprintf(script, sizeof(script), "%s/grpc_peer_client.py", peers_dir);
  snprintf(p1, sizeof(p1), "%d", a.port);
  snprintf(p2, sizeof(p2), "%d", b.port);
  snprintf(p3, sizeof(p3), "%d", c.port);
  char *argv[] = {PYTHON, script, p1, p2, p3, certs_dir, NULL};
  int rc = run(argv);
  CHECK_EQ_INT(rc, 0);
  tsrv_stop(&a);
  tsrv_stop(&b);
  tsrv_stop(&c);
}

/* ---- our client -> Python server ------------------------------------------------------ */

static pid_t py_pid;
static int py_stdin = -1;
static int port_plain, port_tls, port_mtls;

static bool start_python_server(void) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) return false;
  char script[1200];
  snprintf(script, sizeof(script), "%s/grpc_peer_server.py", peers_dir);
  py_pid = fork();
  if (py_pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[1]);
    close(out[0]);
    char *argv[] = {PYTHON, script, certs_dir, NULL};
    execv(argv[0], argv);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  py_stdin = in[1];
  FILE *f = fdopen(out[0], "r");
  char line[256] = "";
  bool ok = fgets(line, sizeof(line), f) != NULL &&
            sscanf(line, "PORTS %d %d %d", &port_plain, &port_tls, &port_mtls) == 3;
  fclose(f);
  if (!ok) fprintf(stderr, "python server did not start: '%s'\n", line);
  return ok;
}

static void stop_python_server(void) {
  if (py_stdin >= 0) close(py_stdin);
  py_stdin = -1;
  int status;
  for (int i = 0; i < 500; i++) {
    if (waitpid(py_pid, &status, WNOHANG) == py_pid) return;
    usleep(10000);
  }
  kill(py_pid, SIGKILL);
  waitpid(py_pid, &status, 0);
}

static cf_channel *py_channel(const char *scheme, int port, const cf_transport_options *o) {
  char uri[100];
  snprintf(uri, sizeof(uri), "%s://%s:%d", scheme,
           strcmp(scheme, "grpc") == 0 ? "127.0.0.1" : "localhost", port);
  return tchannel(uri, o);
}

static void test_kinds_against_python(void) {
  cf_channel *ch = py_channel("grpc", port_plain, NULL);
  cflight_buffer *reply = NULL;
  cf_status st = {0};
  CHECK_EQ_INT(
      tcall_unary(ch, "/test.Echo/Unary", NULL, "hello", 5, tdeadline_ms(10000), &reply, &st),
      CFLIGHT_OK);
  CHECK(reply != NULL && cflight_buffer_size(reply) == 5);
  cflight_buffer_unref(reply);
  cf_status_reset(&st);
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "", 0, 0, &reply, &st), CFLIGHT_OK);
  CHECK(reply != NULL && cflight_buffer_size(reply) == 0);
  cflight_buffer_unref(reply);
  cf_status_reset(&st);
  size_t size = 64u << 20;
  uint8_t *big = malloc(size);
  for (size_t i = 0; i < size; i++)
    big[i] = (uint8_t)(i * 13);
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, big, size, 0, &reply, &st), CFLIGHT_OK);
  CHECK(reply != NULL && cflight_buffer_size(reply) == size &&
        memcmp(cflight_buffer_data(reply), big, size) == 0);
  cflight_buffer_unref(reply);
  cf_status_reset(&st);
  free(big);

  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/ServerStream", NULL, 0, &call, &err), &err);
  uint32_t req[2] = {50, 1000};
  CHECK_OK(tsend_copy(call, req, sizeof(req), true, &err), &err);
  int n = 0;
  bool content_ok = true;
  for (;;) {
    cf_msg m;
    bool more;
    if (cf_call_recv(call, &m, &more, &err) != CFLIGHT_OK || !more) break;
    cflight_buffer *b = cf_msg_flatten(&m, &err);
    for (size_t i = 0; i < 1000 && cflight_buffer_size(b) == 1000; i++)
      if (cflight_buffer_data(b)[i] != (uint8_t)(i + (size_t)n)) content_ok = false;
    if (cflight_buffer_size(b) != 1000) content_ok = false;
    cflight_buffer_unref(b);
    cf_msg_reset(&m);
    n++;
  }
  CHECK_EQ_INT(n, 50);
  CHECK(content_ok);
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_OK);
  cf_call_free(call);

  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/ClientStream", NULL, 0, &call, &err), &err);
  uint64_t total = 0;
  static uint8_t chunk[100000];
  for (int i = 0; i < 30; i++) {
    CHECK_OK(tsend_copy(call, chunk, (size_t)i * 3000, false, &err), &err);
    total += (uint64_t)i * 3000;
  }
  CHECK_OK(cf_call_close_send(call, &err), &err);
  cf_msg m;
  bool more = false;
  CHECK_OK(cf_call_recv(call, &m, &more, &err), &err);
  if (more) {
    cflight_buffer *b = cf_msg_flatten(&m, &err);
    uint64_t out[2] = {0, 0};
    if (cflight_buffer_size(b) == 16) memcpy(out, cflight_buffer_data(b), 16);
    CHECK_EQ_INT(out[0], total);
    CHECK_EQ_INT(out[1], 30);
    cflight_buffer_unref(b);
    cf_msg_reset(&m);
  }
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_OK);
  cf_call_free(call);

  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Bidi", NULL, 0, &call, &err), &err);
  for (int i = 0; i < 10; i++) {
    char msg[32];
    int len = snprintf(msg, sizeof(msg), "bidi %d", i);
    CHECK_OK(tsend_copy(call, msg, (size_t)len, false, &err), &err);
    more = false;
    CHECK_OK(cf_call_recv(call, &m, &more, &err), &err);
    CHECK(more && m.len == (size_t)len);
    if (more) cf_msg_reset(&m);
  }
  CHECK_OK(cf_call_close_send(call, &err), &err);
  CHECK_OK(cf_call_recv(call, &m, &more, &err), &err);
  CHECK(!more);
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_OK);
  cf_call_free(call);
  cf_channel_free(ch);
}

static void test_status_against_python(void) {
  cf_channel *ch = py_channel("grpc", port_plain, NULL);
  const char *msg = "d\xc3\xa9j\xc3\xa0 vu: 100% \xe2\x9c\x93 \"quoted\"";
  const uint8_t details[] = {0, 1, 0xff, ',', '='};
  const uint8_t bin[] = {0, 0xff, ',', ' ', 10};
  cf_metadata md = {0};
  cf_metadata_add(&md, "x-reply-status", "10", 2, NULL);
  cf_metadata_add(&md, "x-reply-message-bin", msg, strlen(msg), NULL);
  cf_metadata_add(&md, "x-reply-details-bin", details, sizeof(details), NULL);
  cf_metadata_add(&md, "x-echo-text", "plain", 5, NULL);
  cf_metadata_add(&md, "x-echo-data-bin", bin, sizeof(bin), NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Unary", &md, 0, &call, &err), &err);
  CHECK_OK(tsend_copy(call, "x", 1, true, &err), &err);
  const cf_metadata *hdrs = NULL;
  CHECK_OK(cf_call_response_headers(call, &hdrs, &err), &err);
  if (hdrs != NULL) {
    const cf_header *h = cf_metadata_find(hdrs, "x-echo-data-bin");
    CHECK(h != NULL && h->value_len == sizeof(bin) && memcmp(h->value, bin, sizeof(bin)) == 0);
    h = cf_metadata_find(hdrs, "x-echo-text");
    CHECK(h != NULL && h->value_len == 5);
  }
  cf_status st = {0};
  CHECK_EQ_INT(cf_call_finish(call, &st), CFLIGHT_ABORTED);
  CHECK_EQ_STR(st.error.message, msg);
  CHECK(st.error.extra_info != NULL &&
        cflight_buffer_size(st.error.extra_info) == sizeof(details) &&
        memcmp(cflight_buffer_data(st.error.extra_info), details, sizeof(details)) == 0);
  const cf_header *t = cf_metadata_find(&st.trailers, "x-trailer-echo-data-bin");
  CHECK(t != NULL && t->value_len == sizeof(bin) && memcmp(t->value, bin, sizeof(bin)) == 0);
  cf_status_reset(&st);
  cf_call_free(call);
  cf_metadata_reset(&md);
  /* Unknown method: gRPC core answers UNIMPLEMENTED. */
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Missing", NULL, "x", 1, 0, NULL, &st),
               CFLIGHT_UNIMPLEMENTED);
  cf_status_reset(&st);
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/ServerCancel", NULL, "x", 1, 0, NULL, &st),
               CFLIGHT_CANCELLED);
  cf_status_reset(&st);
  /* The server is asked to gzip its reply although we accept identity only
   * (grpc-accept-encoding); gRPC core compresses anyway, and we refuse the
   * message clearly rather than misread it. */
  cflight_buffer *reply = NULL;
  int rc = tcall_unary(ch, "/test.Echo/Compressed", NULL, "abc", 3, 0, &reply, &st);
  if (rc == CFLIGHT_OK) {
    CHECK(reply != NULL && cflight_buffer_size(reply) == 300);
  } else {
    CHECK_EQ_INT(rc, CFLIGHT_INTERNAL);
    CHECK_MSG(strstr(st.error.message, "gzip") != NULL, "%s", st.error.message);
  }
  fprintf(stderr, "  gzip reply: %s\n", rc == CFLIGHT_OK ? "not compressed" : st.error.message);
  cflight_buffer_unref(reply);
  cf_status_reset(&st);
  cf_channel_free(ch);
}

static void test_deadline_cancel_against_python(void) {
  cf_channel *ch = py_channel("grpc", port_plain, NULL);
  cf_status st = {0};
  /* Our deadline travels as grpc-timeout. */
  cflight_buffer *reply = NULL;
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Deadline", NULL, "", 0, tdeadline_ms(5000), &reply, &st),
               CFLIGHT_OK);
  if (reply != NULL) {
    double remaining = atof((const char *)cflight_buffer_data(reply));
    CHECK_MSG(remaining > 0 && remaining <= 5.0, "time remaining %.3f", remaining);
  }
  cflight_buffer_unref(reply);
  cf_status_reset(&st);
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Wait", NULL, "", 0, tdeadline_ms(300), NULL, &st),
               CFLIGHT_DEADLINE_EXCEEDED);
  cf_status_reset(&st);
  /* Cancellation reaches the Python handler. */
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Wait", NULL, 0, &call, &err), &err);
  CHECK_OK(tsend_copy(call, "", 0, true, &err), &err);
  usleep(200000);
  cf_call_cancel(call);
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_CANCELLED);
  cf_call_free(call);
  bool seen = false;
  for (int i = 0; i < 200 && !seen; i++) {
    CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/LastCancel", NULL, "", 0, 0, &reply, &st), CFLIGHT_OK);
    seen = reply != NULL && cflight_buffer_size(reply) == 9 &&
           memcmp(cflight_buffer_data(reply), "cancelled", 9) == 0;
    cflight_buffer_unref(reply);
    cf_status_reset(&st);
    if (!seen) usleep(10000);
  }
  CHECK(seen);
  cf_channel_free(ch);
}

static void test_tls_against_python(void) {
  cf_transport_options o;
  cf_transport_options_init(&o);
  o.tls_client.root_certs_pem = ca;
  cf_channel *ch = py_channel("grpc+tls", port_tls, &o);
  cflight_buffer *reply = NULL;
  cf_status st = {0};
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "tls", 3, 0, &reply, &st), CFLIGHT_OK);
  CHECK(reply != NULL && cflight_buffer_size(reply) == 3);
  cflight_buffer_unref(reply);
  cf_status_reset(&st);
  size_t size = 16u << 20;
  uint8_t *big = calloc(1, size);
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, big, size, 0, &reply, &st), CFLIGHT_OK);
  CHECK(reply != NULL && cflight_buffer_size(reply) == size);
  cflight_buffer_unref(reply);
  cf_status_reset(&st);
  free(big);
  cf_channel_free(ch);
  /* Mutual TLS. */
  o.tls_client.cert_chain_pem = cert1;
  o.tls_client.private_key_pem = key1;
  ch = py_channel("grpc+tls", port_mtls, &o);
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Peer", NULL, "", 0, 0, &reply, &st), CFLIGHT_OK);
  CHECK(reply != NULL && cflight_buffer_size(reply) > 10 &&
        memcmp(cflight_buffer_data(reply) + cflight_buffer_size(reply) - 10, "|localhost", 10) ==
            0);
  cflight_buffer_unref(reply);
  cf_status_reset(&st);
  cf_channel_free(ch);
  /* Without our certificate, gRPC core refuses. */
  o.tls_client.cert_chain_pem = NULL;
  o.tls_client.private_key_pem = NULL;
  ch = py_channel("grpc+tls", port_mtls, &o);
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "x", 1, tdeadline_ms(10000), NULL, &st),
               CFLIGHT_UNAVAILABLE);
  fprintf(stderr, "  mTLS without a certificate: %s\n", st.error.message);
  cf_status_reset(&st);
  cf_channel_free(ch);
  /* Plaintext to the TLS port fails fast. */
  ch = py_channel("grpc", port_tls, NULL);
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, "x", 1, tdeadline_ms(10000), NULL, &st),
               CFLIGHT_UNAVAILABLE);
  fprintf(stderr, "  plaintext to a TLS port: %s\n", st.error.message);
  cf_status_reset(&st);
  cf_channel_free(ch);
}

/* ---- Large messages with gRPC core's framing ---------------------------------------------- */

static cf_recv_stats stats_since(cf_recv_stats a) {
  cf_recv_stats b;
  cf_recv_stats_get(&b);
  return (cf_recv_stats){b.large_msgs - a.large_msgs, b.direct_bytes - a.direct_bytes,
                         b.copied_bytes - a.copied_bytes};
}

/* Large echoes from gRPC core (its own frame sizes) arrive as one slice
 * ending 64-byte aligned, every byte placed once, mostly read into place. */
static void test_large_from_python(void) {
  cf_channel *ch = py_channel("grpc", port_plain, NULL);
  cflight_error err = {0};
  cf_call *call = NULL;
  CHECK_OK(cf_channel_start_call(ch, "/test.Echo/Bidi", NULL, 0, &call, &err), &err);
  static const size_t sizes[] = {65535, 65536, 65537, 100000, (1u << 20) + 3, 4u << 20};
  cf_recv_stats before;
  cf_recv_stats_get(&before);
  uint64_t large = 0, n_large = 0;
  bool ok = true;
  for (size_t g = 0; g < CF_ARRAY_SIZE(sizes); g++) {
    size_t size = sizes[g];
    uint8_t *data = malloc(size);
    for (int k = 0; k < 3; k++) {
      for (size_t i = 0; i < size; i++)
        data[i] = (uint8_t)(i * 11 + (size_t)k);
      CHECK_OK(tsend_copy(call, data, size, false, &err), &err);
      cf_msg m;
      bool more = false;
      CHECK_OK(cf_call_recv(call, &m, &more, &err), &err);
      if (!more) {
        ok = false;
        break;
      }
      size_t i = 0;
      for (size_t s = 0; s < m.n_slices; s++)
        for (size_t j = 0; j < m.slices[s].len; j++, i++)
          if (i >= size || m.slices[s].data[j] != data[i]) ok = false;
      if (i != size) ok = false;
      if (size >= 65536) {
        large += size;
        n_large++;
        if (m.n_slices != 1 || ((uintptr_t)(m.slices[0].data + m.len) & 63) != 0) ok = false;
      }
      cf_msg_reset(&m);
    }
    free(data);
  }
  CHECK_OK(cf_call_close_send(call, &err), &err);
  CHECK_EQ_INT(cf_call_finish(call, NULL), CFLIGHT_OK);
  cf_call_free(call);
  cf_recv_stats d = stats_since(before);
  CHECK(ok);
  CHECK_EQ_INT(d.large_msgs, n_large);
  CHECK_EQ_INT(d.direct_bytes + d.copied_bytes, large);
  CHECK_MSG(d.direct_bytes >= large / 2, "only %llu of %llu bytes read into place",
            (unsigned long long)d.direct_bytes, (unsigned long long)large);
  fprintf(stderr, "  from gRPC core: %llu bytes read into place, %llu copied\n",
          (unsigned long long)d.direct_bytes, (unsigned long long)d.copied_bytes);
  cf_channel_free(ch);
}

/* Large requests from gRPC core's client to our server. */
static void test_large_to_us_from_python(void) {
  tsrv t;
  CHECK(tsrv_start(&t, "grpc://127.0.0.1:0", NULL));
  static const char script[] =
      "import grpc, sys\n"
      "opts = [('grpc.max_receive_message_length', -1), ('grpc.max_send_message_length', -1)]\n"
      "ch = grpc.insecure_channel('127.0.0.1:' + sys.argv[1], options=opts)\n"
      "f = ch.stream_stream('/test.Echo/Bidi')\n"
      "sizes = [65536, 100000, (1 << 20) + 3, 4 << 20]\n"
      "reqs = [bytes([(i * 7 + k) & 255 for i in range(256)]) * (s // 256) + b'x' * (s % 256)\n"
      "        for s in sizes for k in range(3)]\n"
      "got = list(f(iter(reqs), timeout=60))\n"
      "assert got == reqs, 'echo differs'\n";
  char port[16];
  snprintf(port, sizeof(port), "%d", t.port);
  char *argv[] = {PYTHON, "-c", (char *)script, port, NULL};
  cf_recv_stats before;
  cf_recv_stats_get(&before);
  CHECK_EQ_INT(run(argv), 0);
  cf_recv_stats d = stats_since(before);
  uint64_t large = 3ull * (65536 + 100000 + (1u << 20) + 3 + (4u << 20));
  /* Our server received each request once (the echoes went to Python). */
  CHECK_EQ_INT(d.large_msgs, 12);
  CHECK_EQ_INT(d.direct_bytes + d.copied_bytes, large);
  fprintf(stderr, "  gRPC core's client to us: %llu bytes read into place, %llu copied\n",
          (unsigned long long)d.direct_bytes, (unsigned long long)d.copied_bytes);
  tsrv_stop(&t);
}

int main(void) {
  if (access(PYTHON, X_OK) != 0 || !grpc_available()) {
    fprintf(stderr, "%s cannot import grpc (install python3-grpcio): skipped\n", PYTHON);
    return 77;
  }
  const char *src = getenv("CFLIGHT_SOURCE_DIR");
  snprintf(peers_dir, sizeof(peers_dir), "%s/tests/peers/python", src ? src : ".");
  snprintf(certs_dir, sizeof(certs_dir), "%s", cft_data_path("flight"));
  ca = tpem("root-ca.pem");
  cert0 = tpem("cert0.pem");
  key0 = tpem("cert0.key");
  cert1 = tpem("cert1.pem");
  key1 = tpem("cert1.key");
  if (ca == NULL || cert0 == NULL || key0 == NULL || cert1 == NULL || key1 == NULL) {
    fprintf(stderr, "test certificates not found under %s\n", certs_dir);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  RUN_TEST(test_python_client);
  RUN_TEST(test_large_to_us_from_python);
  if (start_python_server()) {
    RUN_TEST(test_large_from_python);
    RUN_TEST(test_kinds_against_python);
    RUN_TEST(test_status_against_python);
    RUN_TEST(test_deadline_cancel_against_python);
    RUN_TEST(test_tls_against_python);
    stop_python_server();
  } else {
    cft_fail(__FILE__, __LINE__, "the Python server did not start");
  }
  free(ca);
  free(cert0);
  free(key0);
  free(cert1);
  free(key1);
  return cft_finish();
}
