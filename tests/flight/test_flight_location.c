/* Locations: parsing valid and invalid URIs, IPv6, Unix sockets, the
 * reuse-connection location, building grpc URIs, comparing. */
#include "harness.h"

static cflight_error err;

typedef struct good_uri {
  const char *uri;
  cflight_scheme scheme;
  const char *host;
  int port;
  const char *path;
} good_uri;

static void test_parse_valid(void) {
  static const good_uri cases[] = {
      {"grpc://localhost:5005", CFLIGHT_SCHEME_GRPC_TCP, "localhost", 5005, ""},
      {"grpc+tcp://127.0.0.1:0", CFLIGHT_SCHEME_GRPC_TCP, "127.0.0.1", 0, ""},
      {"GRPC+TCP://Example.COM:65535/", CFLIGHT_SCHEME_GRPC_TCP, "Example.COM", 65535, "/"},
      {"grpc+tls://flight.example.org:443", CFLIGHT_SCHEME_GRPC_TLS, "flight.example.org", 443, ""},
      {"grpc+tls://host", CFLIGHT_SCHEME_GRPC_TLS, "host", -1, ""},
      {"grpc://host:", CFLIGHT_SCHEME_GRPC_TCP, "host", -1, ""},
      {"grpc://[::1]:5005", CFLIGHT_SCHEME_GRPC_TCP, "::1", 5005, ""},
      {"grpc+tcp://[2001:db8::8a2e:370:7334]:1", CFLIGHT_SCHEME_GRPC_TCP, "2001:db8::8a2e:370:7334",
       1, ""},
      {"grpc://[::ffff:192.0.2.1]", CFLIGHT_SCHEME_GRPC_TCP, "::ffff:192.0.2.1", -1, ""},
      {"grpc://[fe80::1%25eth0]:80", CFLIGHT_SCHEME_GRPC_TCP, "fe80::1%25eth0", 80, ""},
      {"grpc://user@host:1", CFLIGHT_SCHEME_GRPC_TCP, "host", 1, ""},
      {"grpc+unix:///tmp/flight.sock", CFLIGHT_SCHEME_GRPC_UNIX, "", -1, "/tmp/flight.sock"},
      {"grpc+unix:relative/sock", CFLIGHT_SCHEME_GRPC_UNIX, "", -1, "relative/sock"},
      {"grpc+unix:///tmp/with%20space", CFLIGHT_SCHEME_GRPC_UNIX, "", -1, "/tmp/with space"},
      {"http://example.com/data?x=1#f", CFLIGHT_SCHEME_HTTP, "example.com", -1, "/data"},
      {"https://example.com:8443/a/b", CFLIGHT_SCHEME_HTTPS, "example.com", 8443, "/a/b"},
      {"arrow-flight-reuse-connection://?", CFLIGHT_SCHEME_REUSE_CONNECTION, "", -1, ""},
      {"s3://bucket/key", CFLIGHT_SCHEME_OTHER, "bucket", -1, "/key"},
      {"mailto:someone@example.com", CFLIGHT_SCHEME_OTHER, "", -1, "someone@example.com"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const good_uri *c = &cases[i];
    cflight_location *loc = NULL;
    int rc = cflight_location_parse(c->uri, &loc, &err);
    CHECK_MSG(rc == CFLIGHT_OK, "refused '%s': %s", c->uri, err.message);
    if (rc != CFLIGHT_OK) continue;
    CHECK_EQ_STR(cflight_location_uri(loc), c->uri);
    CHECK_MSG(cflight_location_scheme(loc) == c->scheme, "scheme of '%s'", c->uri);
    char buf[128];
    size_t n = cflight_location_host(loc, buf, sizeof(buf));
    CHECK_EQ_STR(buf, c->host);
    CHECK_EQ_INT(n, strlen(c->host));
    CHECK_EQ_INT(cflight_location_port(loc), c->port);
    n = cflight_location_path(loc, buf, sizeof(buf));
    CHECK_EQ_STR(buf, c->path);
    CHECK_EQ_INT(n, strlen(c->path));
    /* Round trip through the protobuf encoding. */
    cflight_buffer *bytes = NULL;
    cflight_location *back = NULL;
    CHECK_OK(cflight_location_serialize(loc, &bytes, &err), &err);
    CHECK_OK(cflight_location_deserialize(cflight_buffer_data(bytes), cflight_buffer_size(bytes),
                                          &back, &err),
             &err);
    CHECK(cflight_location_equals(loc, back));
    cflight_buffer_unref(bytes);
    cflight_location_free(back);
    cflight_location_free(loc);
  }
  /* Non-ASCII bytes in a host name are not a URI host. */
  cflight_location *loc = NULL;
  CHECK_EQ_INT(cflight_location_parse("grpc://h\xc3\xa9:1", &loc, &err), CFLIGHT_INVALID_ARGUMENT);
}

static void test_parse_invalid(void) {
  static const char *bad[] = {
      "",
      "no-scheme",
      "://host:1",
      "1grpc://host:1",
      "grpc://", /* no host */
      "grpc://:5005",
      "grpc+tls://:1",
      "grpc://host:port",
      "grpc://host:65536",
      "grpc://host:99999999999999999999",
      "grpc://host:-1",
      "grpc://[::1", /* unclosed bracket */
      "grpc://[::1]x:5",
      "grpc://[not-ipv6]:1",
      "grpc://[1::2::3]:1",
      "grpc://[fe80::1%]:1",
      "grpc://ho st:1",
      "grpc://host:1 ",
      "grpc://host\t:1",
      "grpc://host\n",
      "grpc://a<b:1",
      "grpc+unix://", /* no path */
      "grpc+unix:",
      "grpc+unix://host/tmp/s", /* a host */
      "grpc+unix://:5/tmp/s",
      "http://",
      "https:///path",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cflight_location *loc = (cflight_location *)1;
    int rc = cflight_location_parse(bad[i], &loc, &err);
    CHECK_MSG(rc == CFLIGHT_INVALID_ARGUMENT, "accepted '%s'", bad[i]);
    CHECK(loc == NULL);
    CHECK(err.message[0] != '\0');
  }
  /* "localhost:5005" has the scheme "localhost": a URI of another kind. */
  cflight_location *loc = NULL;
  CHECK_OK(cflight_location_parse("localhost:5005", &loc, &err), &err);
  CHECK_EQ_INT(cflight_location_scheme(loc), CFLIGHT_SCHEME_OTHER);
  cflight_location_free(loc);
  CHECK_EQ_INT(cflight_location_parse(NULL, &loc, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_location_parse("grpc://h:1", NULL, &err), CFLIGHT_INVALID_ARGUMENT);
}

static void test_build(void) {
  cflight_location *loc = NULL;
  char buf[256];
  CHECK_OK(cflight_location_new_tcp("localhost", 31337, &loc, &err), &err);
  CHECK_EQ_STR(cflight_location_uri(loc), "grpc+tcp://localhost:31337");
  CHECK_EQ_INT(cflight_location_scheme(loc), CFLIGHT_SCHEME_GRPC_TCP);
  cflight_location_free(loc);

  CHECK_OK(cflight_location_new_tcp("::1", 80, &loc, &err), &err);
  CHECK_EQ_STR(cflight_location_uri(loc), "grpc+tcp://[::1]:80");
  cflight_location_host(loc, buf, sizeof(buf));
  CHECK_EQ_STR(buf, "::1");
  CHECK_EQ_INT(cflight_location_port(loc), 80);
  cflight_location_free(loc);

  CHECK_OK(cflight_location_new_tls("example.com", 443, &loc, &err), &err);
  CHECK_EQ_STR(cflight_location_uri(loc), "grpc+tls://example.com:443");
  CHECK_EQ_INT(cflight_location_scheme(loc), CFLIGHT_SCHEME_GRPC_TLS);
  cflight_location_free(loc);

  CHECK_OK(cflight_location_new_unix("/tmp/a b?#%.sock", &loc, &err), &err);
  CHECK_EQ_STR(cflight_location_uri(loc), "grpc+unix:///tmp/a%20b%3F%23%25.sock");
  CHECK_EQ_INT(cflight_location_scheme(loc), CFLIGHT_SCHEME_GRPC_UNIX);
  size_t n = cflight_location_path(loc, buf, sizeof(buf));
  CHECK_EQ_STR(buf, "/tmp/a b?#%.sock");
  CHECK_EQ_INT(n, 16);
  /* snprintf-like truncation. */
  char small[5];
  CHECK_EQ_INT(cflight_location_path(loc, small, sizeof(small)), 16);
  CHECK_EQ_STR(small, "/tmp");
  CHECK_EQ_INT(cflight_location_path(loc, NULL, 0), 16);
  cflight_location_free(loc);

  CHECK_OK(cflight_location_new_unix("rel.sock", &loc, &err), &err);
  CHECK_EQ_STR(cflight_location_uri(loc), "grpc+unix:rel.sock");
  cflight_location_path(loc, buf, sizeof(buf));
  CHECK_EQ_STR(buf, "rel.sock");
  cflight_location_free(loc);

  CHECK_OK(cflight_location_new_unix("/tmp/\xc3\xa9\xff", &loc, &err), &err);
  CHECK_EQ_STR(cflight_location_uri(loc), "grpc+unix:///tmp/%C3%A9%FF");
  cflight_location_path(loc, buf, sizeof(buf));
  CHECK_EQ_STR(buf, "/tmp/\xc3\xa9\xff");
  cflight_location_free(loc);

  CHECK_OK(cflight_location_new_reuse_connection(&loc, &err), &err);
  CHECK_EQ_STR(cflight_location_uri(loc), CFLIGHT_LOCATION_REUSE_CONNECTION_URI);
  CHECK_EQ_INT(cflight_location_scheme(loc), CFLIGHT_SCHEME_REUSE_CONNECTION);
  CHECK_EQ_INT(cflight_location_host(loc, buf, sizeof(buf)), 0);
  CHECK_EQ_STR(buf, "");
  cflight_location_free(loc);

  CHECK_EQ_INT(cflight_location_new_tcp("", 1, &loc, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_location_new_tcp(NULL, 1, &loc, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_location_new_tcp("h", -1, &loc, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_location_new_tcp("h", 65536, &loc, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_location_new_tcp("a b", 1, &loc, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_location_new_tcp("1::2::3", 1, &loc, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_location_new_tls("h/x", 1, &loc, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_location_new_unix("", &loc, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_location_new_unix(NULL, &loc, &err), CFLIGHT_INVALID_ARGUMENT);
}

static void test_compare(void) {
  cflight_location *a = NULL, *b = NULL, *c = NULL, *d = NULL;
  CHECK_OK(cflight_location_parse("grpc+tcp://localhost:1", &a, &err), &err);
  CHECK_OK(cflight_location_new_tcp("localhost", 1, &b, &err), &err);
  CHECK_OK(cflight_location_parse("grpc://localhost:1", &c, &err), &err);
  CHECK(cflight_location_equals(a, b));
  /* The same endpoint spelled differently is a different URI. */
  CHECK(!cflight_location_equals(a, c));
  CHECK_OK(cflight_location_copy(c, &d, &err), &err);
  CHECK(cflight_location_equals(c, d));
  CHECK(!cflight_location_equals(a, NULL));
  CHECK(cflight_location_equals(NULL, NULL));
  cflight_location_free(a);
  cflight_location_free(b);
  cflight_location_free(c);
  cflight_location_free(d);
}

static void test_deserialize(void) {
  /* Location { uri = 1 }. */
  static const uint8_t good[] = {0x0a, 0x0a, 'g', 'r', 'p', 'c', ':', '/', '/', 'h', ':', '1'};
  cflight_location *loc = NULL;
  CHECK_OK(cflight_location_deserialize(good, sizeof(good), &loc, &err), &err);
  CHECK_EQ_STR(cflight_location_uri(loc), "grpc://h:1");
  cflight_location_free(loc);
  /* A peer's URI is checked like a parsed one. */
  static const uint8_t no_scheme[] = {0x0a, 0x03, 'a', 'b', 'c'};
  CHECK_EQ_INT(cflight_location_deserialize(no_scheme, sizeof(no_scheme), &loc, &err),
               CFLIGHT_INVALID_DATA);
  static const uint8_t empty[] = {0};
  CHECK_EQ_INT(cflight_location_deserialize(empty, 0, &loc, &err), CFLIGHT_INVALID_DATA);
  static const uint8_t bad_utf8[] = {0x0a, 0x05, 's', ':', '/', 0xc3, 0x28};
  CHECK_EQ_INT(cflight_location_deserialize(bad_utf8, sizeof(bad_utf8), &loc, &err),
               CFLIGHT_INVALID_DATA);
  static const uint8_t control[] = {0x0a, 0x05, 's', ':', '/', 0x01, 'x'};
  CHECK_EQ_INT(cflight_location_deserialize(control, sizeof(control), &loc, &err),
               CFLIGHT_INVALID_DATA);
}

int main(void) {
  RUN_TEST(test_parse_valid);
  RUN_TEST(test_parse_invalid);
  RUN_TEST(test_build);
  RUN_TEST(test_compare);
  RUN_TEST(test_deserialize);
  return cft_finish();
}
