/* Pieces of the transport that need no network: locations, grpc-timeout,
 * percent-encoding, base64 for -bin metadata, status mappings, options,
 * metadata and messages. */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "transport/internal.h"

static void test_address_parse(void) {
  cf_address a;
  cflight_error err = {0};
  CHECK_OK(cf_address_parse("grpc://localhost:5000", &a, &err), &err);
  CHECK(a.scheme == CF_SCHEME_TCP && a.port == 5000);
  CHECK_EQ_STR(a.host, "localhost");
  CHECK_OK(cf_address_parse("grpc+tcp://10.0.0.1:0", &a, &err), &err);
  CHECK(a.scheme == CF_SCHEME_TCP && a.port == 0);
  CHECK_OK(cf_address_parse("grpc+tls://[::1]:443/", &a, &err), &err);
  CHECK(a.scheme == CF_SCHEME_TLS && a.port == 443);
  CHECK_EQ_STR(a.host, "::1");
  CHECK_OK(cf_address_parse("grpc+unix:///tmp/x.sock", &a, &err), &err);
  CHECK(a.scheme == CF_SCHEME_UNIX);
  CHECK_EQ_STR(a.path, "/tmp/x.sock");
  CHECK_OK(cf_address_parse("unix:/tmp/y.sock", &a, &err), &err);
  CHECK_EQ_STR(a.path, "/tmp/y.sock");
  CHECK_OK(cf_address_parse("grpc+unix://localhost/tmp/z", &a, &err), &err);
  CHECK_EQ_STR(a.path, "/tmp/z");
  const char *bad[] = {"http://x:1",
                       "grpc://x",
                       "grpc://:5",
                       "grpc://x:70000",
                       "grpc://::1:5",
                       "grpc://[::1:5",
                       "grpc://x:5/a",
                       "grpc+unix://",
                       "grpc+unix://rel",
                       "grpc://x:-1",
                       "",
                       "grpc://x:5x"};
  for (size_t i = 0; i < CF_ARRAY_SIZE(bad); i++) {
    int rc = cf_address_parse(bad[i], &a, &err);
    CHECK_MSG(rc == CFLIGHT_INVALID_ARGUMENT, "'%s' parsed", bad[i]);
  }
  char longpath[200] = "grpc+unix:///";
  memset(longpath + 13, 'a', 150);
  longpath[163] = '\0';
  CHECK_EQ_INT(cf_address_parse(longpath, &a, &err), CFLIGHT_INVALID_ARGUMENT);
}

static void test_timeout(void) {
  char s[16];
  cf_grpc_timeout_encode(1, s);
  CHECK_EQ_STR(s, "1n");
  cf_grpc_timeout_encode(99999999, s);
  CHECK_EQ_STR(s, "99999999n");
  cf_grpc_timeout_encode(100000000, s);
  CHECK_EQ_STR(s, "100000u");
  cf_grpc_timeout_encode(1500000001, s); /* rounds up, never down */
  CHECK_EQ_STR(s, "1500001u");
  cf_grpc_timeout_encode(3600LL * 1000000000 * 24 * 365, s);
  CHECK_EQ_STR(s, "31536000S");
  cf_grpc_timeout_encode(0, s);
  CHECK_EQ_STR(s, "1n");
  int64_t ns = 0;
  CHECK(cf_grpc_timeout_decode("100m", 4, &ns) && ns == 100000000);
  CHECK(cf_grpc_timeout_decode("2H", 2, &ns) && ns == 7200LL * 1000000000);
  CHECK(cf_grpc_timeout_decode("5M", 2, &ns) && ns == 300LL * 1000000000);
  CHECK(cf_grpc_timeout_decode("7S", 2, &ns) && ns == 7000000000LL);
  CHECK(cf_grpc_timeout_decode("7u", 2, &ns) && ns == 7000);
  CHECK(cf_grpc_timeout_decode("99999999H", 9, &ns) && ns > 0);
  CHECK(!cf_grpc_timeout_decode("100", 3, &ns));
  CHECK(!cf_grpc_timeout_decode("m", 1, &ns));
  CHECK(!cf_grpc_timeout_decode("123456789m", 10, &ns)); /* 9 digits */
  CHECK(!cf_grpc_timeout_decode("1x", 2, &ns));
  CHECK(!cf_grpc_timeout_decode("-1S", 3, &ns));
}

static void test_percent(void) {
  const char *in = "a%b \xc3\xa9\n~";
  cf_bytes out = {0};
  CHECK_OK(cf_percent_encode(in, strlen(in), &out, NULL), &(cflight_error){0});
  CHECK(out.len == strlen("a%25b %C3%A9%0A~") &&
        memcmp(out.data, "a%25b %C3%A9%0A~", out.len) == 0);
  cf_bytes dec = {0};
  cf_percent_decode(out.data, out.len, &dec, NULL);
  CHECK(dec.len == strlen(in) && memcmp(dec.data, in, dec.len) == 0);
  cf_bytes_reset(&dec);
  /* Malformed escapes stay as they are. */
  cf_percent_decode((const uint8_t *)"100%% %4 %zz %", 14, &dec, NULL);
  CHECK(dec.len == 14 && memcmp(dec.data, "100%% %4 %zz %", 14) == 0);
  cf_bytes_reset(&dec);
  cf_bytes_reset(&out);
}

static void test_base64(void) {
  const uint8_t data[] = {0, 1, 2, 0xfb, 0xff};
  for (size_t n = 0; n <= sizeof(data); n++) {
    cf_bytes enc = {0}, dec = {0};
    cf_base64_encode(data, n, &enc, NULL);
    for (size_t i = 0; i < enc.len; i++)
      CHECK(enc.data[i] != '=');
    CHECK(cf_base64_decode(enc.data, enc.len, &dec));
    CHECK(dec.len == n && (n == 0 || memcmp(dec.data, data, n) == 0));
    cf_bytes_reset(&enc);
    cf_bytes_reset(&dec);
  }
  cf_bytes dec = {0};
  CHECK(cf_base64_decode((const uint8_t *)"AAEC+/8=", 8, &dec)); /* padded */
  CHECK(dec.len == 5 && dec.data[3] == 0xfb);
  cf_bytes_reset(&dec);
  CHECK(cf_base64_decode((const uint8_t *)"AAEC-_8", 7, &dec)); /* URL-safe, unpadded */
  CHECK(dec.len == 5 && dec.data[4] == 0xff);
  cf_bytes_reset(&dec);
  CHECK(!cf_base64_decode((const uint8_t *)"A", 1, &dec));
  cf_bytes_reset(&dec);
  CHECK(!cf_base64_decode((const uint8_t *)"AA*A", 4, &dec));
  cf_bytes_reset(&dec);
  CHECK(!cf_base64_decode((const uint8_t *)"AA=A", 4, &dec));
  cf_bytes_reset(&dec);
  /* Several values of one -bin key joined by commas. */
  cf_metadata md = {0};
  CHECK(cf_metadata_add_wire(&md, (const uint8_t *)"k-bin", 5, (const uint8_t *)"AAE,AgM=", 8));
  CHECK_EQ_INT(md.count, 2);
  CHECK(md.items[0].value_len == 2 && md.items[1].value_len == 2 && md.items[1].value[1] == 3);
  CHECK(!cf_metadata_add_wire(&md, (const uint8_t *)"k-bin", 5, (const uint8_t *)"!!", 2));
  cf_metadata_reset(&md);
}

static void test_mappings(void) {
  CHECK_EQ_INT(cf_http_status_to_grpc(400), CFLIGHT_INTERNAL);
  CHECK_EQ_INT(cf_http_status_to_grpc(401), CFLIGHT_UNAUTHENTICATED);
  CHECK_EQ_INT(cf_http_status_to_grpc(403), CFLIGHT_PERMISSION_DENIED);
  CHECK_EQ_INT(cf_http_status_to_grpc(404), CFLIGHT_UNIMPLEMENTED);
  CHECK_EQ_INT(cf_http_status_to_grpc(429), CFLIGHT_UNAVAILABLE);
  CHECK_EQ_INT(cf_http_status_to_grpc(502), CFLIGHT_UNAVAILABLE);
  CHECK_EQ_INT(cf_http_status_to_grpc(503), CFLIGHT_UNAVAILABLE);
  CHECK_EQ_INT(cf_http_status_to_grpc(504), CFLIGHT_UNAVAILABLE);
  CHECK_EQ_INT(cf_http_status_to_grpc(500), CFLIGHT_UNKNOWN);
  CHECK_EQ_INT(cf_rst_code_to_grpc(NGHTTP2_NO_ERROR), CFLIGHT_INTERNAL);
  CHECK_EQ_INT(cf_rst_code_to_grpc(NGHTTP2_PROTOCOL_ERROR), CFLIGHT_INTERNAL);
  CHECK_EQ_INT(cf_rst_code_to_grpc(NGHTTP2_REFUSED_STREAM), CFLIGHT_UNAVAILABLE);
  CHECK_EQ_INT(cf_rst_code_to_grpc(NGHTTP2_CANCEL), CFLIGHT_CANCELLED);
  CHECK_EQ_INT(cf_rst_code_to_grpc(NGHTTP2_ENHANCE_YOUR_CALM), CFLIGHT_RESOURCE_EXHAUSTED);
  CHECK_EQ_INT(cf_rst_code_to_grpc(NGHTTP2_INADEQUATE_SECURITY), CFLIGHT_PERMISSION_DENIED);
  CHECK(cf_is_grpc_content_type((const uint8_t *)"application/grpc", 16));
  CHECK(cf_is_grpc_content_type((const uint8_t *)"application/grpc+proto", 22));
  CHECK(cf_is_grpc_content_type((const uint8_t *)"application/grpc;charset=x", 26));
  CHECK(!cf_is_grpc_content_type((const uint8_t *)"application/grpcx", 17));
  CHECK(!cf_is_grpc_content_type((const uint8_t *)"application/json", 16));
}

static void test_options(void) {
  cf_transport_options o;
  cf_transport_options_init(&o);
  cflight_error err = {0};
  CHECK(o.max_recv_message_size == -1 && o.max_frame_size == (1u << 24) - 1);
  CHECK_OK(cf_transport_options_set(&o, "grpc.max_receive_message_length", "1024", &err), &err);
  CHECK_EQ_INT(o.max_recv_message_size, 1024);
  CHECK_OK(cf_transport_options_set(&o, "max_send_message_size", "-1", &err), &err);
  CHECK_OK(cf_transport_options_set(&o, "grpc.keepalive_time_ms", "2147483647", &err), &err);
  CHECK_EQ_INT(o.keepalive_time_ms, 0);
  CHECK_OK(cf_transport_options_set(&o, "grpc.keepalive_time_ms", "5000", &err), &err);
  CHECK_EQ_INT(o.keepalive_time_ms, 5000);
  CHECK_OK(cf_transport_options_set(&o, "grpc.ssl_target_name_override", "foo", &err), &err);
  CHECK_EQ_STR(o.tls_client.override_hostname, "foo");
  CHECK_OK(cf_transport_options_set(&o, "tls_disable_verification", "true", &err), &err);
  CHECK(o.tls_client.disable_verification);
  CHECK_OK(cf_transport_options_set(&o, "grpc.http2.max_frame_size", "16384", &err), &err);
  CHECK_EQ_INT(cf_transport_options_set(&o, "grpc.http2.max_frame_size", "100", &err),
               CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cf_transport_options_set(&o, "nope", "1", &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cf_transport_options_set(&o, "stream_window", "12abc", &err),
               CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cf_transport_options_set(&o, "tls_verify_client", "maybe", &err),
               CFLIGHT_INVALID_ARGUMENT);
  cf_tls_cert_pair pair = {"cert", "key"};
  o.tls_server.pairs = &pair;
  o.tls_server.n_pairs = 1;
  cf_transport_options copy;
  CHECK_OK(cf_transport_options_copy(&o, &copy, &err), &err);
  o.tls_server.pairs = NULL;
  o.tls_server.n_pairs = 0;
  CHECK_EQ_STR(copy.tls_client.override_hostname, "foo");
  CHECK(copy.tls_server.n_pairs == 1 &&
        strcmp(copy.tls_server.pairs[0].private_key_pem, "key") == 0);
  CHECK_EQ_INT(copy.max_recv_message_size, 1024);
  cf_transport_options_reset(&copy);
  cf_transport_options_reset(&o);
  CHECK(o.tls_client.override_hostname == NULL);
}

static void test_metadata_and_msg(void) {
  cf_metadata md = {0};
  cflight_error err = {0};
  CHECK_OK(cf_metadata_add(&md, "X-Mixed-Case", "v", 1, &err), &err);
  CHECK_EQ_STR(md.items[0].key, "x-mixed-case");
  CHECK(cf_metadata_find(&md, "x-mixed-case") != NULL);
  CHECK(cf_metadata_find(&md, "missing") == NULL);
  cf_header h = {"ok-key.1_x", (uint8_t *)"text", 4};
  CHECK_OK(cf_header_check(&h, &err), &err);
  h.key = "bad key";
  CHECK_EQ_INT(cf_header_check(&h, &err), CFLIGHT_INVALID_ARGUMENT);
  h.key = "te";
  CHECK_EQ_INT(cf_header_check(&h, &err), CFLIGHT_INVALID_ARGUMENT);
  h.key = "x-bin";
  h.value = (uint8_t *)"\x01\x02";
  h.value_len = 2;
  CHECK_OK(cf_header_check(&h, &err), &err);
  h.key = "x-text";
  CHECK_EQ_INT(cf_header_check(&h, &err), CFLIGHT_INVALID_ARGUMENT);
  cf_metadata_reset(&md);

  /* A message of two slices flattens into a copy; one slice into a view. */
  cflight_buffer *b = cflight_buffer_copy("hello world", 11);
  cf_slice slices[2] = {{cflight_buffer_ref(b), cflight_buffer_data(b), 5},
                        {cflight_buffer_ref(b), cflight_buffer_data(b) + 5, 6}};
  cf_msg m = {NULL, 2, 11};
  m.slices = malloc(sizeof(slices));
  memcpy(m.slices, slices, sizeof(slices));
  cflight_buffer *flat = cf_msg_flatten(&m, &err);
  CHECK(flat != NULL && cflight_buffer_size(flat) == 11 &&
        memcmp(cflight_buffer_data(flat), "hello world", 11) == 0);
  cflight_buffer_unref(flat);
  cf_msg_reset(&m);
  cf_slice one = {cflight_buffer_ref(b), cflight_buffer_data(b) + 6, 5};
  m.slices = malloc(sizeof(one));
  m.slices[0] = one;
  m.n_slices = 1;
  m.len = 5;
  flat = cf_msg_flatten(&m, &err);
  CHECK(flat != NULL && cflight_buffer_data(flat) == cflight_buffer_data(b) + 6);
  cflight_buffer_unref(flat);
  cf_msg_reset(&m);
  cflight_buffer_unref(b);
}

int main(void) {
  RUN_TEST(test_address_parse);
  RUN_TEST(test_timeout);
  RUN_TEST(test_percent);
  RUN_TEST(test_base64);
  RUN_TEST(test_mappings);
  RUN_TEST(test_options);
  RUN_TEST(test_metadata_and_msg);
  return cft_finish();
}
