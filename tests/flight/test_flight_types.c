/* The Flight message types: construction, accessors, copy, equality,
 * serialize/deserialize round trips, the encodings of the Flight
 * specification's field numbers, and hostile bytes. */
#include <math.h>
#include <stdlib.h>

#include "flight/flight_pb.h"
#include "harness.h"

static cflight_error err;

/* Takes the size by pointer: it is read after the accessor filling it ran. */
static bool bytes_eq(const uint8_t *p, const size_t *n, const void *want, size_t want_n) {
  return *n == want_n && (*n == 0 || memcmp(p, want, *n) == 0);
}

/* Serializes through the public function and checks the exact bytes. */
#define CHECK_ENCODING(T, obj, ...)                                           \
  do {                                                                        \
    static const uint8_t want_[] = {__VA_ARGS__};                             \
    cflight_buffer *buf_ = NULL;                                              \
    CHECK_OK(T##_serialize((obj), &buf_, &err), &err);                        \
    size_t n_ = cflight_buffer_size(buf_);                                    \
    CHECK_MSG(bytes_eq(cflight_buffer_data(buf_), &n_, want_, sizeof(want_)), \
              "%s encoding differs from the expected bytes", #T);             \
    cflight_buffer_unref(buf_);                                               \
  } while (0)

/* The encoding of an object with no fields set: no bytes at all. */
#define CHECK_EMPTY_ENCODING(T, obj)                   \
  do {                                                 \
    cflight_buffer *buf_ = NULL;                       \
    CHECK_OK(T##_serialize((obj), &buf_, &err), &err); \
    CHECK_EQ_INT(cflight_buffer_size(buf_), 0);        \
    cflight_buffer_unref(buf_);                        \
  } while (0)

/* A serialize -> deserialize round trip gives an equal object, and copy
 * gives an equal object; then every truncation of the encoding and a few
 * thousand corruptions of it either decode or fail cleanly with
 * CFLIGHT_INVALID_DATA. */
#define CHECK_ROUND_TRIP(T, obj)                                                                  \
  do {                                                                                            \
    cflight_buffer *buf_ = NULL;                                                                  \
    T *back_ = NULL, *copy_ = NULL;                                                               \
    CHECK_OK(T##_serialize((obj), &buf_, &err), &err);                                            \
    CHECK_OK(T##_deserialize(cflight_buffer_data(buf_), cflight_buffer_size(buf_), &back_, &err), \
             &err);                                                                               \
    CHECK(T##_equals((obj), back_));                                                              \
    CHECK(T##_equals(back_, (obj)));                                                              \
    CHECK_OK(T##_copy((obj), &copy_, &err), &err);                                                \
    CHECK(T##_equals((obj), copy_));                                                              \
    CHECK(!T##_equals((obj), NULL));                                                              \
    CHECK(T##_equals(NULL, NULL));                                                                \
    T##_free(back_);                                                                              \
    T##_free(copy_);                                                                              \
    size_t n_ = cflight_buffer_size(buf_);                                                        \
    uint8_t *bytes_ = malloc(n_ + 1);                                                             \
    memcpy(bytes_, cflight_buffer_data(buf_), n_);                                                \
    for (size_t k_ = 0; k_ < n_; k_++) {                                                          \
      T *t_ = NULL;                                                                               \
      int rc_ = T##_deserialize(bytes_, k_, &t_, &err);                                           \
      CHECK(rc_ == CFLIGHT_OK || rc_ == CFLIGHT_INVALID_DATA);                                    \
      CHECK((rc_ == CFLIGHT_OK) == (t_ != NULL));                                                 \
      T##_free(t_);                                                                               \
    }                                                                                             \
    srand(7);                                                                                     \
    for (int it_ = 0; it_ < 2000 && n_ > 0; it_++) {                                              \
      uint8_t *mut_ = malloc(n_);                                                                 \
      memcpy(mut_, bytes_, n_);                                                                   \
      for (int f_ = 0; f_ < 1 + it_ % 4; f_++)                                                    \
        mut_[(size_t)rand() % n_] = (uint8_t)rand();                                              \
      T *t_ = NULL;                                                                               \
      int rc_ = T##_deserialize(mut_, n_, &t_, &err);                                             \
      CHECK(rc_ == CFLIGHT_OK || rc_ == CFLIGHT_INVALID_DATA);                                    \
      if (rc_ == CFLIGHT_OK) {                                                                    \
        /* Whatever was accepted re-serializes and compares equal to itself. */                   \
        T *again_ = NULL;                                                                         \
        cflight_buffer *b2_ = NULL;                                                               \
        CHECK_OK(T##_serialize(t_, &b2_, &err), &err);                                            \
        CHECK_OK(                                                                                 \
            T##_deserialize(cflight_buffer_data(b2_), cflight_buffer_size(b2_), &again_, &err),   \
            &err);                                                                                \
        CHECK(T##_equals(t_, again_));                                                            \
        T##_free(again_);                                                                         \
        cflight_buffer_unref(b2_);                                                                \
      }                                                                                           \
      T##_free(t_);                                                                               \
      free(mut_);                                                                                 \
    }                                                                                             \
    free(bytes_);                                                                                 \
    cflight_buffer_unref(buf_);                                                                   \
  } while (0)

/* Bytes that must be refused with CFLIGHT_INVALID_DATA. */
#define CHECK_REFUSED(T, ...)                                                \
  do {                                                                       \
    static const uint8_t bad_[] = {__VA_ARGS__};                             \
    T *t_ = (T *)1;                                                          \
    int rc_ = T##_deserialize(bad_, sizeof(bad_), &t_, &err);                \
    CHECK_MSG(rc_ == CFLIGHT_INVALID_DATA, "%s accepted bad bytes (%s)", #T, \
              cflight_code_name(rc_));                                       \
    CHECK(t_ == NULL);                                                       \
    CHECK(err.message[0] != '\0');                                           \
  } while (0)

static void test_timestamps(void) {
  cflight_timestamp t = cflight_timestamp_from_ns(1500000000);
  CHECK_EQ_INT(t.seconds, 1);
  CHECK_EQ_INT(t.nanos, 500000000);
  t = cflight_timestamp_from_ns(-1);
  CHECK_EQ_INT(t.seconds, -1);
  CHECK_EQ_INT(t.nanos, 999999999);
  int64_t ns = 0;
  CHECK_OK(cflight_timestamp_to_ns(&t, &ns, &err), &err);
  CHECK_EQ_INT(ns, -1);
  cflight_timestamp big = {INT64_MAX / 1000000000 + 1, 0};
  CHECK_EQ_INT(cflight_timestamp_to_ns(&big, &ns, &err), CFLIGHT_INVALID_ARGUMENT);
  cflight_timestamp bad = {1, 1000000000};
  CHECK_EQ_INT(cflight_timestamp_to_ns(&bad, &ns, &err), CFLIGHT_INVALID_ARGUMENT);
  cflight_timestamp now = cflight_timestamp_now();
  CHECK(now.seconds > 1600000000);
  CHECK(now.nanos >= 0 && now.nanos < 1000000000);
}

static void test_descriptor(void) {
  const char *parts[] = {"a", "b"};
  cflight_descriptor *d = NULL, *c = NULL;
  CHECK_OK(cflight_descriptor_new_path(parts, 2, &d, &err), &err);
  CHECK_EQ_INT(cflight_descriptor_get_type(d), CFLIGHT_DESCRIPTOR_PATH);
  CHECK_EQ_INT(cflight_descriptor_path_count(d), 2);
  CHECK_EQ_STR(cflight_descriptor_path_part(d, 0), "a");
  CHECK_EQ_STR(cflight_descriptor_path_part(d, 1), "b");
  CHECK(cflight_descriptor_path_part(d, 2) == NULL);
  size_t n = 99;
  CHECK(cflight_descriptor_command(d, &n) == NULL && n == 0);
  /* type = 1 (PATH), path = 3 repeated. */
  CHECK_ENCODING(cflight_descriptor, d, 0x08, 0x01, 0x1a, 0x01, 'a', 0x1a, 0x01, 'b');
  CHECK_ROUND_TRIP(cflight_descriptor, d);

  CHECK_OK(cflight_descriptor_new_command("SELECT 1", 8, &c, &err), &err);
  CHECK_EQ_INT(cflight_descriptor_get_type(c), CFLIGHT_DESCRIPTOR_CMD);
  const uint8_t *cmd = cflight_descriptor_command(c, &n);
  CHECK(bytes_eq(cmd, &n, "SELECT 1", 8));
  CHECK_EQ_INT(cflight_descriptor_path_count(c), 0);
  CHECK(!cflight_descriptor_equals(d, c));
  /* type = 2 (CMD), cmd = 2. */
  CHECK_ENCODING(cflight_descriptor, c, 0x08, 0x02, 0x12, 0x08, 'S', 'E', 'L', 'E', 'C', 'T', ' ',
                 '1');
  CHECK_ROUND_TRIP(cflight_descriptor, c);
  cflight_descriptor_free(c);

  /* Equality looks at every part. */
  const char *other[] = {"a", "c"};
  CHECK_OK(cflight_descriptor_new_path(other, 2, &c, &err), &err);
  CHECK(!cflight_descriptor_equals(d, c));
  cflight_descriptor_free(c);
  CHECK_OK(cflight_descriptor_new_path(parts, 1, &c, &err), &err);
  CHECK(!cflight_descriptor_equals(d, c));
  cflight_descriptor_free(c);
  CHECK_OK(cflight_descriptor_new_path(NULL, 0, &c, &err), &err);
  CHECK_EQ_INT(cflight_descriptor_path_count(c), 0);
  CHECK_ROUND_TRIP(cflight_descriptor, c);
  cflight_descriptor_free(c);
  CHECK_OK(cflight_descriptor_new_command(NULL, 0, &c, &err), &err);
  CHECK_ROUND_TRIP(cflight_descriptor, c);
  cflight_descriptor_free(c);

  /* Arguments. */
  const char *with_null[] = {"a", NULL};
  c = (cflight_descriptor *)1;
  CHECK_EQ_INT(cflight_descriptor_new_path(with_null, 2, &c, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK(c == NULL);
  const char *not_utf8[] = {"\xff\xfe"};
  CHECK_EQ_INT(cflight_descriptor_new_path(not_utf8, 1, &c, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_descriptor_new_command(NULL, 3, &c, &err), CFLIGHT_INVALID_ARGUMENT);
  cflight_buffer *buf = (cflight_buffer *)1;
  CHECK_EQ_INT(cflight_descriptor_serialize(NULL, &buf, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK(buf == NULL);
  CHECK_EQ_INT(cflight_descriptor_copy(NULL, &c, &err), CFLIGHT_INVALID_ARGUMENT);

  /* An empty message is an UNKNOWN descriptor; other types are refused. */
  CHECK_OK(cflight_descriptor_deserialize("", 0, &c, &err), &err);
  CHECK_EQ_INT(cflight_descriptor_get_type(c), CFLIGHT_DESCRIPTOR_UNKNOWN);
  cflight_descriptor_free(c);
  CHECK_REFUSED(cflight_descriptor, 0x08, 0x03);
  CHECK_REFUSED(cflight_descriptor, 0x1a, 0x02, 0xc3, 0x28); /* path not UTF-8 */
  CHECK_REFUSED(cflight_descriptor, 0x1a, 0x05, 'a');        /* length beyond the end */
  CHECK_REFUSED(cflight_descriptor, 0x08);                   /* truncated */
  CHECK_REFUSED(cflight_descriptor, 0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0x01);
  CHECK_REFUSED(cflight_descriptor, 0x10, 0x01); /* cmd as a varint */
  CHECK_REFUSED(cflight_descriptor, 0x00, 0x01); /* field number 0 */
  CHECK_REFUSED(cflight_descriptor, 0x0f);       /* wire type 7 */
  cflight_descriptor_free(d);
}

static void test_ticket(void) {
  cflight_ticket *t = NULL, *u = NULL;
  CHECK_OK(cflight_ticket_new("tk", 2, &t, &err), &err);
  size_t n;
  CHECK(bytes_eq(cflight_ticket_data(t, &n), &n, "tk", 2));
  CHECK_ENCODING(cflight_ticket, t, 0x0a, 0x02, 't', 'k');
  CHECK_ROUND_TRIP(cflight_ticket, t);
  CHECK_OK(cflight_ticket_new("tK", 2, &u, &err), &err);
  CHECK(!cflight_ticket_equals(t, u));
  cflight_ticket_free(u);
  /* Binary bytes, including zeros. */
  CHECK_OK(cflight_ticket_new("\0\1\0", 3, &u, &err), &err);
  CHECK(bytes_eq(cflight_ticket_data(u, &n), &n, "\0\1\0", 3));
  CHECK_ROUND_TRIP(cflight_ticket, u);
  cflight_ticket_free(u);
  CHECK_OK(cflight_ticket_new(NULL, 0, &u, &err), &err);
  CHECK(cflight_ticket_data(u, &n) == NULL && n == 0);
  CHECK_EMPTY_ENCODING(cflight_ticket, u);
  cflight_ticket_free(u);
  /* Unknown fields are kept and ignored. */
  static const uint8_t with_unknown[] = {0x0a, 0x01, 'x', 0x28, 0x05, 0x35, 1, 2, 3, 4};
  CHECK_OK(cflight_ticket_deserialize(with_unknown, sizeof(with_unknown), &u, &err), &err);
  CHECK(bytes_eq(cflight_ticket_data(u, &n), &n, "x", 1));
  cflight_ticket_free(u);
  /* The last occurrence of a bytes field wins. */
  static const uint8_t twice[] = {0x0a, 0x01, 'x', 0x0a, 0x01, 'y'};
  CHECK_OK(cflight_ticket_deserialize(twice, sizeof(twice), &u, &err), &err);
  CHECK(bytes_eq(cflight_ticket_data(u, &n), &n, "y", 1));
  cflight_ticket_free(u);
  CHECK_REFUSED(cflight_ticket, 0x0b);
  CHECK_REFUSED(cflight_ticket, 0x0a, 0x80);
  cflight_ticket_free(t);
}

static cflight_location *loc(const char *uri) {
  cflight_location *l = NULL;
  CHECK_OK(cflight_location_parse(uri, &l, &err), &err);
  return l;
}

static cflight_endpoint *make_endpoint(void) {
  cflight_ticket *t = NULL;
  CHECK_OK(cflight_ticket_new("T", 1, &t, &err), &err);
  cflight_location *locs[2] = {loc("grpc://a:1"), loc("grpc+tls://b:2")};
  cflight_endpoint *e = NULL;
  CHECK_OK(cflight_endpoint_new(t, (const cflight_location *const *)locs, 2, &e, &err), &err);
  cflight_ticket_free(t);
  cflight_location_free(locs[0]);
  cflight_location_free(locs[1]);
  return e;
}

static void test_endpoint(void) {
  cflight_endpoint *e = make_endpoint();
  size_t n;
  CHECK(bytes_eq(cflight_ticket_data(cflight_endpoint_ticket(e), &n), &n, "T", 1));
  CHECK_EQ_INT(cflight_endpoint_location_count(e), 2);
  CHECK_EQ_STR(cflight_location_uri(cflight_endpoint_location(e, 1)), "grpc+tls://b:2");
  CHECK(cflight_endpoint_location(e, 2) == NULL);
  cflight_timestamp ts = {0, 0};
  CHECK(!cflight_endpoint_expiration_time(e, &ts));
  CHECK(cflight_endpoint_app_metadata(e, &n) == NULL && n == 0);
  /* ticket = 1, location = 2 (repeated Location{uri = 1}). */
  CHECK_ENCODING(cflight_endpoint, e, 0x0a, 0x03, 0x0a, 0x01, 'T', 0x12, 0x0c, 0x0a, 0x0a, 'g', 'r',
                 'p', 'c', ':', '/', '/', 'a', ':', '1', 0x12, 0x10, 0x0a, 0x0e, 'g', 'r', 'p', 'c',
                 '+', 't', 'l', 's', ':', '/', '/', 'b', ':', '2');
  CHECK_ROUND_TRIP(cflight_endpoint, e);

  cflight_endpoint *f = NULL;
  CHECK_OK(cflight_endpoint_copy(e, &f, &err), &err);
  cflight_timestamp when = {1700000000, 5};
  CHECK_OK(cflight_endpoint_set_expiration_time(f, &when, &err), &err);
  CHECK(!cflight_endpoint_equals(e, f));
  CHECK(cflight_endpoint_expiration_time(f, &ts));
  CHECK_EQ_INT(ts.seconds, 1700000000);
  CHECK_EQ_INT(ts.nanos, 5);
  cflight_timestamp bad = {0, -1};
  CHECK_EQ_INT(cflight_endpoint_set_expiration_time(f, &bad, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_OK(cflight_endpoint_set_app_metadata(f, "md", 2, &err), &err);
  CHECK(bytes_eq(cflight_endpoint_app_metadata(f, &n), &n, "md", 2));
  CHECK_ROUND_TRIP(cflight_endpoint, f);
  /* Timestamp: expiration_time = 3 {seconds = 1, nanos = 2}; app_metadata = 4. */
  cflight_endpoint *g = NULL;
  CHECK_OK(cflight_endpoint_new(NULL, NULL, 0, &g, &err), &err);
  cflight_timestamp small = {1, 2};
  CHECK_OK(cflight_endpoint_set_expiration_time(g, &small, &err), &err);
  CHECK_OK(cflight_endpoint_set_app_metadata(g, "m", 1, &err), &err);
  CHECK_ENCODING(cflight_endpoint, g, 0x1a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x22, 0x01, 'm');
  /* Unset it again; add a location; replace the ticket. */
  CHECK_OK(cflight_endpoint_set_expiration_time(g, NULL, &err), &err);
  CHECK(!cflight_endpoint_expiration_time(g, NULL));
  cflight_location *l = loc("grpc+unix:///tmp/s");
  CHECK_OK(cflight_endpoint_add_location(g, l, &err), &err);
  cflight_location_free(l);
  CHECK_EQ_INT(cflight_endpoint_location_count(g), 1);
  CHECK_OK(cflight_endpoint_set_ticket(g, cflight_endpoint_ticket(e), &err), &err);
  CHECK(cflight_ticket_equals(cflight_endpoint_ticket(g), cflight_endpoint_ticket(e)));
  CHECK_OK(cflight_endpoint_set_ticket(g, NULL, &err), &err);
  CHECK(cflight_endpoint_ticket(g) == NULL);
  CHECK_ROUND_TRIP(cflight_endpoint, g);
  cflight_endpoint_free(g);

  /* A peer's bad location URI, bad nanos. */
  CHECK_REFUSED(cflight_endpoint, 0x12, 0x05, 0x0a, 0x03, 'x', 'y', 'z');
  CHECK_REFUSED(cflight_endpoint, 0x1a, 0x06, 0x10, 0xff, 0xff, 0xff, 0xff, 0x0f);
  CHECK_REFUSED(cflight_endpoint, 0x12, 0x00); /* Location without a URI */
  cflight_endpoint_free(f);
  cflight_endpoint_free(e);
}

static cflight_flight_info *make_info(void) {
  cflight_flight_info *info = NULL;
  CHECK_OK(cflight_flight_info_new(&info, &err), &err);
  const char *parts[] = {"p"};
  cflight_descriptor *d = NULL;
  CHECK_OK(cflight_descriptor_new_path(parts, 1, &d, &err), &err);
  CHECK_OK(cflight_flight_info_set_descriptor(info, d, &err), &err);
  cflight_descriptor_free(d);
  cflight_endpoint *e = make_endpoint();
  CHECK_OK(cflight_flight_info_add_endpoint(info, e, &err), &err);
  CHECK_OK(cflight_flight_info_add_endpoint(info, e, &err), &err);
  cflight_endpoint_free(e);
  CHECK_OK(cflight_flight_info_set_schema_bytes(info, "\xff\xff\xff\xff\0\0\0\0", 8, &err), &err);
  cflight_flight_info_set_total_records(info, 10);
  cflight_flight_info_set_total_bytes(info, 1000);
  cflight_flight_info_set_ordered(info, true);
  CHECK_OK(cflight_flight_info_set_app_metadata(info, "app", 3, &err), &err);
  return info;
}

static void test_flight_info(void) {
  cflight_flight_info *info = NULL;
  CHECK_OK(cflight_flight_info_new(&info, &err), &err);
  CHECK_EQ_INT(cflight_flight_info_total_records(info), -1);
  CHECK_EQ_INT(cflight_flight_info_total_bytes(info), -1);
  CHECK(!cflight_flight_info_ordered(info));
  CHECK(cflight_flight_info_descriptor(info) == NULL);
  CHECK_EQ_INT(cflight_flight_info_endpoint_count(info), 0);
  /* total_records = 4 and total_bytes = 5 as -1 (ten-byte varints). */
  CHECK_ENCODING(cflight_flight_info, info, 0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                 0xff, 0x01, 0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
  CHECK_ROUND_TRIP(cflight_flight_info, info);
  cflight_flight_info_free(info);

  info = make_info();
  size_t n;
  CHECK(bytes_eq(cflight_flight_info_schema_bytes(info, &n), &n, "\xff\xff\xff\xff\0\0\0\0", 8));
  CHECK_EQ_STR(cflight_descriptor_path_part(cflight_flight_info_descriptor(info), 0), "p");
  CHECK_EQ_INT(cflight_flight_info_endpoint_count(info), 2);
  CHECK(cflight_endpoint_equals(cflight_flight_info_endpoint(info, 0),
                                cflight_flight_info_endpoint(info, 1)));
  CHECK(cflight_flight_info_endpoint(info, 2) == NULL);
  CHECK_EQ_INT(cflight_flight_info_total_records(info), 10);
  CHECK_EQ_INT(cflight_flight_info_total_bytes(info), 1000);
  CHECK(cflight_flight_info_ordered(info));
  CHECK(bytes_eq(cflight_flight_info_app_metadata(info, &n), &n, "app", 3));
  CHECK_ROUND_TRIP(cflight_flight_info, info);

  cflight_flight_info *other = NULL;
  CHECK_OK(cflight_flight_info_copy(info, &other, &err), &err);
  cflight_flight_info_set_ordered(other, false);
  CHECK(!cflight_flight_info_equals(info, other));
  cflight_flight_info_set_ordered(other, true);
  CHECK(cflight_flight_info_equals(info, other));
  CHECK_OK(cflight_flight_info_set_descriptor(other, NULL, &err), &err);
  CHECK(!cflight_flight_info_equals(info, other));
  cflight_flight_info_free(other);

  /* Field numbers: ordered = 6, app_metadata = 7, schema = 1. */
  CHECK_OK(cflight_flight_info_new(&other, &err), &err);
  cflight_flight_info_set_total_records(other, 0);
  cflight_flight_info_set_total_bytes(other, 0);
  cflight_flight_info_set_ordered(other, true);
  CHECK_OK(cflight_flight_info_set_app_metadata(other, "z", 1, &err), &err);
  CHECK_OK(cflight_flight_info_set_schema_bytes(other, "s", 1, &err), &err);
  CHECK_ENCODING(cflight_flight_info, other, 0x0a, 0x01, 's', 0x30, 0x01, 0x3a, 0x01, 'z');
  cflight_flight_info_free(other);

  /* A bad descriptor type or location deep inside is refused. */
  CHECK_REFUSED(cflight_flight_info, 0x12, 0x02, 0x08, 0x09);
  CHECK_REFUSED(cflight_flight_info, 0x1a, 0x06, 0x12, 0x04, 0x0a, 0x02, 'x', 'y');
  cflight_flight_info_free(info);
}

static void test_poll_info(void) {
  cflight_poll_info *p = NULL;
  CHECK_OK(cflight_poll_info_new(&p, &err), &err);
  double progress = -5;
  CHECK(!cflight_poll_info_progress(p, &progress));
  CHECK(cflight_poll_info_info(p) == NULL && cflight_poll_info_descriptor(p) == NULL);
  CHECK_EMPTY_ENCODING(cflight_poll_info, p);
  CHECK_ROUND_TRIP(cflight_poll_info, p);

  /* progress = 3 (double) is sent even when 0: it is present. */
  CHECK_OK(cflight_poll_info_set_progress(p, 0.0, &err), &err);
  CHECK_ENCODING(cflight_poll_info, p, 0x19, 0, 0, 0, 0, 0, 0, 0, 0);
  CHECK(cflight_poll_info_progress(p, &progress) && progress == 0.0);
  CHECK_ROUND_TRIP(cflight_poll_info, p);
  cflight_poll_info *q = NULL;
  CHECK_OK(cflight_poll_info_new(&q, &err), &err);
  CHECK(!cflight_poll_info_equals(p, q));
  cflight_poll_info_clear_progress(p);
  CHECK(cflight_poll_info_equals(p, q));
  CHECK_EQ_INT(cflight_poll_info_set_progress(p, 1.5, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_poll_info_set_progress(p, NAN, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_OK(cflight_poll_info_set_progress(p, 0.25, &err), &err);

  cflight_flight_info *info = make_info();
  CHECK_OK(cflight_poll_info_set_info(p, info, &err), &err);
  CHECK(cflight_flight_info_equals(cflight_poll_info_info(p), info));
  CHECK_OK(cflight_poll_info_set_descriptor(p, cflight_flight_info_descriptor(info), &err), &err);
  CHECK(cflight_descriptor_equals(cflight_poll_info_descriptor(p),
                                  cflight_flight_info_descriptor(info)));
  cflight_timestamp when = {100, 200}, got;
  CHECK_OK(cflight_poll_info_set_expiration_time(p, &when, &err), &err);
  CHECK(cflight_poll_info_expiration_time(p, &got) && got.seconds == 100 && got.nanos == 200);
  CHECK_ROUND_TRIP(cflight_poll_info, p);
  cflight_flight_info_free(info);

  /* Field numbers: flight_descriptor = 2, expiration_time = 4. */
  cflight_poll_info_free(q);
  CHECK_OK(cflight_poll_info_new(&q, &err), &err);
  cflight_descriptor *d = NULL;
  CHECK_OK(cflight_descriptor_new_command("c", 1, &d, &err), &err);
  CHECK_OK(cflight_poll_info_set_descriptor(q, d, &err), &err);
  cflight_descriptor_free(d);
  cflight_timestamp one = {1, 0};
  CHECK_OK(cflight_poll_info_set_expiration_time(q, &one, &err), &err);
  CHECK_ENCODING(cflight_poll_info, q, 0x12, 0x05, 0x08, 0x02, 0x12, 0x01, 'c', 0x22, 0x02, 0x08,
                 0x01);

  /* Progress out of range from a peer. */
  CHECK_REFUSED(cflight_poll_info, 0x19, 0, 0, 0, 0, 0, 0, 0, 0x40);    /* 2.0 */
  CHECK_REFUSED(cflight_poll_info, 0x19, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f); /* NaN */
  cflight_poll_info_free(q);
  cflight_poll_info_free(p);
}

static void test_simple_messages(void) {
  size_t n;
  cflight_criteria *c = NULL;
  CHECK_OK(cflight_criteria_new("ex", 2, &c, &err), &err);
  CHECK(bytes_eq(cflight_criteria_expression(c, &n), &n, "ex", 2));
  CHECK_ENCODING(cflight_criteria, c, 0x0a, 0x02, 'e', 'x');
  CHECK_ROUND_TRIP(cflight_criteria, c);
  cflight_criteria_free(c);

  cflight_action *a = NULL;
  CHECK_OK(cflight_action_new("go", "b", 1, &a, &err), &err);
  CHECK_EQ_STR(cflight_action_get_type(a), "go");
  CHECK(bytes_eq(cflight_action_body(a, &n), &n, "b", 1));
  CHECK_ENCODING(cflight_action, a, 0x0a, 0x02, 'g', 'o', 0x12, 0x01, 'b');
  CHECK_ROUND_TRIP(cflight_action, a);
  cflight_action *a2 = NULL;
  CHECK_OK(cflight_action_new("go", "c", 1, &a2, &err), &err);
  CHECK(!cflight_action_equals(a, a2));
  cflight_action_free(a2);
  CHECK_EQ_INT(cflight_action_new(NULL, NULL, 0, &a2, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_action_new("\xc0\x80", NULL, 0, &a2, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_REFUSED(cflight_action, 0x0a, 0x01, 0xff);
  cflight_action_free(a);

  cflight_action_type *t = NULL;
  CHECK_OK(cflight_action_type_new("go", "Goes.", &t, &err), &err);
  CHECK_EQ_STR(cflight_action_type_get_type(t), "go");
  CHECK_EQ_STR(cflight_action_type_description(t), "Goes.");
  CHECK_ENCODING(cflight_action_type, t, 0x0a, 0x02, 'g', 'o', 0x12, 0x05, 'G', 'o', 'e', 's', '.');
  CHECK_ROUND_TRIP(cflight_action_type, t);
  cflight_action_type_free(t);
  CHECK_OK(cflight_action_type_new("x", NULL, &t, &err), &err);
  CHECK_EQ_STR(cflight_action_type_description(t), "");
  cflight_action_type_free(t);

  cflight_result *r = NULL;
  CHECK_OK(cflight_result_new("res", 3, &r, &err), &err);
  CHECK(bytes_eq(cflight_result_body(r, &n), &n, "res", 3));
  CHECK_ENCODING(cflight_result, r, 0x0a, 0x03, 'r', 'e', 's');
  CHECK_ROUND_TRIP(cflight_result, r);
  cflight_result_free(r);

  cflight_schema_result *s = NULL;
  CHECK_OK(cflight_schema_result_new("sch", 3, &s, &err), &err);
  CHECK(bytes_eq(cflight_schema_result_schema_bytes(s, &n), &n, "sch", 3));
  CHECK_ENCODING(cflight_schema_result, s, 0x0a, 0x03, 's', 'c', 'h');
  CHECK_ROUND_TRIP(cflight_schema_result, s);
  cflight_schema_result_free(s);

  cflight_put_result *p = NULL;
  CHECK_OK(cflight_put_result_new("pm", 2, &p, &err), &err);
  CHECK(bytes_eq(cflight_put_result_app_metadata(p, &n), &n, "pm", 2));
  CHECK_ENCODING(cflight_put_result, p, 0x0a, 0x02, 'p', 'm');
  CHECK_ROUND_TRIP(cflight_put_result, p);
  cflight_put_result_free(p);

  cflight_basic_auth *b = NULL;
  CHECK_OK(cflight_basic_auth_new("user", "pw", &b, &err), &err);
  CHECK_EQ_STR(cflight_basic_auth_username(b), "user");
  CHECK_EQ_STR(cflight_basic_auth_password(b), "pw");
  /* username = 2, password = 3. */
  CHECK_ENCODING(cflight_basic_auth, b, 0x12, 0x04, 'u', 's', 'e', 'r', 0x1a, 0x02, 'p', 'w');
  CHECK_ROUND_TRIP(cflight_basic_auth, b);
  cflight_basic_auth_free(b);
  CHECK_OK(cflight_basic_auth_new(NULL, NULL, &b, &err), &err);
  CHECK_EQ_STR(cflight_basic_auth_username(b), "");
  cflight_basic_auth_free(b);

  cflight_handshake_request *hq = NULL;
  CHECK_OK(cflight_handshake_request_new(300, "pl", 2, &hq, &err), &err);
  CHECK_EQ_INT(cflight_handshake_request_protocol_version(hq), 300);
  CHECK(bytes_eq(cflight_handshake_request_payload(hq, &n), &n, "pl", 2));
  CHECK_ENCODING(cflight_handshake_request, hq, 0x08, 0xac, 0x02, 0x12, 0x02, 'p', 'l');
  CHECK_ROUND_TRIP(cflight_handshake_request, hq);
  cflight_handshake_request_free(hq);
  cflight_handshake_response *hs = NULL;
  CHECK_OK(cflight_handshake_response_new(UINT64_MAX, NULL, 0, &hs, &err), &err);
  CHECK(cflight_handshake_response_protocol_version(hs) == UINT64_MAX);
  CHECK(cflight_handshake_response_payload(hs, &n) == NULL && n == 0);
  CHECK_ROUND_TRIP(cflight_handshake_response, hs);
  cflight_handshake_response_free(hs);
}

static void test_cancel_renew(void) {
  cflight_flight_info *info = make_info();
  cflight_cancel_flight_info_request *cr = NULL;
  CHECK_OK(cflight_cancel_flight_info_request_new(info, &cr, &err), &err);
  CHECK(cflight_flight_info_equals(cflight_cancel_flight_info_request_info(cr), info));
  CHECK_ROUND_TRIP(cflight_cancel_flight_info_request, cr);
  cflight_cancel_flight_info_request_free(cr);
  CHECK_EQ_INT(cflight_cancel_flight_info_request_new(NULL, &cr, &err), CFLIGHT_INVALID_ARGUMENT);
  cflight_flight_info_free(info);

  cflight_cancel_flight_info_result *res = NULL;
  CHECK_OK(cflight_cancel_flight_info_result_new(CFLIGHT_CANCEL_STATUS_CANCELLING, &res, &err),
           &err);
  CHECK_EQ_INT(cflight_cancel_flight_info_result_status(res), CFLIGHT_CANCEL_STATUS_CANCELLING);
  CHECK_ENCODING(cflight_cancel_flight_info_result, res, 0x08, 0x02);
  CHECK_ROUND_TRIP(cflight_cancel_flight_info_result, res);
  cflight_cancel_flight_info_result_free(res);
  /* A status this version does not know is kept. */
  static const uint8_t future[] = {0x08, 0x09};
  CHECK_OK(cflight_cancel_flight_info_result_deserialize(future, 2, &res, &err), &err);
  CHECK_EQ_INT(cflight_cancel_flight_info_result_status(res), 9);
  cflight_cancel_flight_info_result_free(res);

  cflight_endpoint *e = make_endpoint();
  cflight_renew_flight_endpoint_request *rr = NULL;
  CHECK_OK(cflight_renew_flight_endpoint_request_new(e, &rr, &err), &err);
  CHECK(cflight_endpoint_equals(cflight_renew_flight_endpoint_request_endpoint(rr), e));
  CHECK_ROUND_TRIP(cflight_renew_flight_endpoint_request, rr);
  cflight_renew_flight_endpoint_request_free(rr);
  cflight_endpoint_free(e);
}

static void test_session_values(void) {
  cflight_session_option_value *v = NULL;
  CHECK_OK(cflight_session_option_value_new_unset(&v, &err), &err);
  CHECK_EQ_INT(cflight_session_option_value_get_type(v), CFLIGHT_SESSION_OPTION_UNSET);
  CHECK_EMPTY_ENCODING(cflight_session_option_value, v);
  CHECK_ROUND_TRIP(cflight_session_option_value, v);
  cflight_session_option_value_free(v);

  CHECK_OK(cflight_session_option_value_new_string("s", &v, &err), &err);
  CHECK_EQ_STR(cflight_session_option_value_string(v), "s");
  CHECK(cflight_session_option_value_int64(v) == 0);
  CHECK_ENCODING(cflight_session_option_value, v, 0x0a, 0x01, 's');
  CHECK_ROUND_TRIP(cflight_session_option_value, v);
  cflight_session_option_value_free(v);

  /* A oneof member is sent even with its default value. */
  CHECK_OK(cflight_session_option_value_new_string("", &v, &err), &err);
  CHECK_ENCODING(cflight_session_option_value, v, 0x0a, 0x00);
  CHECK_ROUND_TRIP(cflight_session_option_value, v);
  cflight_session_option_value_free(v);
  CHECK_OK(cflight_session_option_value_new_bool(false, &v, &err), &err);
  CHECK_EQ_INT(cflight_session_option_value_get_type(v), CFLIGHT_SESSION_OPTION_BOOL);
  CHECK_ENCODING(cflight_session_option_value, v, 0x10, 0x00);
  CHECK_ROUND_TRIP(cflight_session_option_value, v);
  cflight_session_option_value_free(v);
  CHECK_OK(cflight_session_option_value_new_bool(true, &v, &err), &err);
  CHECK(cflight_session_option_value_bool(v));
  cflight_session_option_value_free(v);

  /* int64 is sfixed64 (field 3), double is field 4. */
  CHECK_OK(cflight_session_option_value_new_int64(-2, &v, &err), &err);
  CHECK_EQ_INT(cflight_session_option_value_int64(v), -2);
  CHECK_ENCODING(cflight_session_option_value, v, 0x19, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                 0xff);
  CHECK_ROUND_TRIP(cflight_session_option_value, v);
  cflight_session_option_value_free(v);
  CHECK_OK(cflight_session_option_value_new_double(1.0, &v, &err), &err);
  CHECK(cflight_session_option_value_double(v) == 1.0);
  CHECK_ENCODING(cflight_session_option_value, v, 0x21, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f);
  CHECK_ROUND_TRIP(cflight_session_option_value, v);
  cflight_session_option_value_free(v);

  const char *items[] = {"x", "yz"};
  CHECK_OK(cflight_session_option_value_new_string_list(items, 2, &v, &err), &err);
  CHECK_EQ_INT(cflight_session_option_value_get_type(v), CFLIGHT_SESSION_OPTION_STRING_LIST);
  CHECK_EQ_INT(cflight_session_option_value_string_list_count(v), 2);
  CHECK_EQ_STR(cflight_session_option_value_string_list_item(v, 1), "yz");
  CHECK(cflight_session_option_value_string_list_item(v, 2) == NULL);
  CHECK(cflight_session_option_value_string(v) == NULL);
  CHECK_ENCODING(cflight_session_option_value, v, 0x2a, 0x07, 0x0a, 0x01, 'x', 0x0a, 0x02, 'y',
                 'z');
  CHECK_ROUND_TRIP(cflight_session_option_value, v);
  cflight_session_option_value *w = NULL;
  CHECK_OK(cflight_session_option_value_new_string_list(items, 1, &w, &err), &err);
  CHECK(!cflight_session_option_value_equals(v, w));
  cflight_session_option_value_free(w);
  CHECK_OK(cflight_session_option_value_new_string_list(NULL, 0, &w, &err), &err);
  CHECK_EQ_INT(cflight_session_option_value_get_type(w), CFLIGHT_SESSION_OPTION_STRING_LIST);
  CHECK_ENCODING(cflight_session_option_value, w, 0x2a, 0x00);
  CHECK_ROUND_TRIP(cflight_session_option_value, w);
  cflight_session_option_value_free(w);
  const char *bad_items[] = {"ok", NULL};
  CHECK_EQ_INT(cflight_session_option_value_new_string_list(bad_items, 2, &w, &err),
               CFLIGHT_INVALID_ARGUMENT);
  const char *bad_utf8[] = {"ok", "\xed\xa0\x80"}; /* a UTF-16 surrogate */
  CHECK_EQ_INT(cflight_session_option_value_new_string_list(bad_utf8, 2, &w, &err),
               CFLIGHT_INVALID_ARGUMENT);
  cflight_session_option_value_free(v);

  /* The last oneof member on the wire wins. */
  static const uint8_t both[] = {0x0a, 0x01, 's', 0x10, 0x01};
  CHECK_OK(cflight_session_option_value_deserialize(both, sizeof(both), &v, &err), &err);
  CHECK_EQ_INT(cflight_session_option_value_get_type(v), CFLIGHT_SESSION_OPTION_BOOL);
  cflight_session_option_value_free(v);
  CHECK_REFUSED(cflight_session_option_value, 0x2a, 0x03, 0x0a, 0x01, 0x80);
}

static void test_session_maps(void) {
  cflight_set_session_options_request *req = NULL;
  CHECK_OK(cflight_set_session_options_request_new(&req, &err), &err);
  cflight_session_option_value *s = NULL, *i = NULL;
  CHECK_OK(cflight_session_option_value_new_string("v", &s, &err), &err);
  CHECK_OK(cflight_session_option_value_new_int64(7, &i, &err), &err);
  CHECK_OK(cflight_set_session_options_request_set(req, "b", s, &err), &err);
  CHECK_OK(cflight_set_session_options_request_set(req, "a", i, &err), &err);
  CHECK_OK(cflight_set_session_options_request_set(req, "c", i, &err), &err);
  CHECK_OK(cflight_set_session_options_request_set(req, "c", s, &err), &err); /* replaces */
  CHECK_EQ_INT(cflight_set_session_options_request_count(req), 3);
  CHECK_EQ_STR(cflight_set_session_options_request_name(req, 0), "a");
  CHECK_EQ_STR(cflight_set_session_options_request_name(req, 1), "b");
  CHECK_EQ_STR(cflight_set_session_options_request_name(req, 2), "c");
  CHECK(cflight_set_session_options_request_name(req, 3) == NULL);
  CHECK(cflight_session_option_value_equals(cflight_set_session_options_request_value(req, 0), i));
  CHECK(cflight_session_option_value_equals(cflight_set_session_options_request_find(req, "c"), s));
  CHECK(cflight_set_session_options_request_find(req, "zz") == NULL);
  CHECK_ROUND_TRIP(cflight_set_session_options_request, req);
  CHECK_EQ_INT(cflight_set_session_options_request_set(req, NULL, s, &err),
               CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_set_session_options_request_set(req, "x", NULL, &err),
               CFLIGHT_INVALID_ARGUMENT);

  /* map<string, SessionOptionValue> session_options = 1: entries {key = 1, value = 2}. */
  cflight_set_session_options_request *one = NULL;
  CHECK_OK(cflight_set_session_options_request_new(&one, &err), &err);
  CHECK_OK(cflight_set_session_options_request_set(one, "k", s, &err), &err);
  CHECK_ENCODING(cflight_set_session_options_request, one, 0x0a, 0x08, 0x0a, 0x01, 'k', 0x12, 0x03,
                 0x0a, 0x01, 'v');
  cflight_set_session_options_request_free(one);

  /* A peer's map: unsorted, a duplicate key (the last wins), a missing value. */
  static const uint8_t peer[] = {
      0x0a, 0x08, 0x0a, 0x01, 'z', 0x12, 0x03, 0x0a, 0x01, 'v', /* z = "v" */
      0x0a, 0x03, 0x0a, 0x01, 'm',                              /* m = (unset) */
      0x0a, 0x07, 0x0a, 0x01, 'z', 0x12, 0x02, 0x10, 0x01,      /* z = true */
  };
  CHECK_OK(cflight_set_session_options_request_deserialize(peer, sizeof(peer), &one, &err), &err);
  CHECK_EQ_INT(cflight_set_session_options_request_count(one), 2);
  CHECK_EQ_STR(cflight_set_session_options_request_name(one, 0), "m");
  CHECK_EQ_INT(
      cflight_session_option_value_get_type(cflight_set_session_options_request_value(one, 0)),
      CFLIGHT_SESSION_OPTION_UNSET);
  CHECK(cflight_session_option_value_bool(cflight_set_session_options_request_find(one, "z")));
  CHECK_ROUND_TRIP(cflight_set_session_options_request, one);
  /* The same map sent in another order is equal. */
  static const uint8_t reordered[] = {
      0x0a, 0x07, 0x0a, 0x01, 'z', 0x12, 0x02, 0x10, 0x01, /* z = true */
      0x0a, 0x05, 0x0a, 0x01, 'm', 0x12, 0x00,             /* m = (unset) */
  };
  cflight_set_session_options_request *two = NULL;
  CHECK_OK(
      cflight_set_session_options_request_deserialize(reordered, sizeof(reordered), &two, &err),
      &err);
  CHECK(cflight_set_session_options_request_equals(one, two));
  cflight_set_session_options_request_free(two);
  cflight_set_session_options_request_free(one);
  cflight_set_session_options_request_free(req);

  cflight_get_session_options_result *gr = NULL;
  CHECK_OK(cflight_get_session_options_result_new(&gr, &err), &err);
  CHECK_OK(cflight_get_session_options_result_set(gr, "opt", s, &err), &err);
  CHECK_EQ_INT(cflight_get_session_options_result_count(gr), 1);
  CHECK_EQ_STR(cflight_get_session_options_result_name(gr, 0), "opt");
  CHECK(cflight_session_option_value_equals(cflight_get_session_options_result_value(gr, 0), s));
  CHECK(cflight_get_session_options_result_find(gr, "opt") != NULL);
  CHECK_ROUND_TRIP(cflight_get_session_options_result, gr);
  cflight_get_session_options_result_free(gr);

  cflight_set_session_options_result *sr = NULL;
  CHECK_OK(cflight_set_session_options_result_new(&sr, &err), &err);
  CHECK_OK(cflight_set_session_options_result_set_error(
               sr, "y", CFLIGHT_SET_SESSION_OPTION_ERROR_INVALID_VALUE, &err),
           &err);
  CHECK_OK(cflight_set_session_options_result_set_error(
               sr, "x", CFLIGHT_SET_SESSION_OPTION_ERROR_INVALID_NAME, &err),
           &err);
  CHECK_EQ_INT(cflight_set_session_options_result_count(sr), 2);
  CHECK_EQ_STR(cflight_set_session_options_result_name(sr, 0), "x");
  CHECK_EQ_INT(cflight_set_session_options_result_error(sr, 1),
               CFLIGHT_SET_SESSION_OPTION_ERROR_INVALID_VALUE);
  cflight_set_session_option_error e = CFLIGHT_SET_SESSION_OPTION_ERROR_UNSPECIFIED;
  CHECK(cflight_set_session_options_result_find(sr, "x", &e));
  CHECK_EQ_INT(e, CFLIGHT_SET_SESSION_OPTION_ERROR_INVALID_NAME);
  CHECK(!cflight_set_session_options_result_find(sr, "w", &e));
  CHECK_ROUND_TRIP(cflight_set_session_options_result, sr);
  cflight_set_session_options_result_free(sr);
  /* errors = 1: {key = 1, value = 2: Error {value = 1}}. */
  CHECK_OK(cflight_set_session_options_result_new(&sr, &err), &err);
  CHECK_OK(cflight_set_session_options_result_set_error(
               sr, "q", CFLIGHT_SET_SESSION_OPTION_ERROR_ERROR, &err),
           &err);
  CHECK_ENCODING(cflight_set_session_options_result, sr, 0x0a, 0x07, 0x0a, 0x01, 'q', 0x12, 0x02,
                 0x08, 0x03);
  cflight_set_session_options_result_free(sr);

  cflight_get_session_options_request *gq = NULL;
  CHECK_OK(cflight_get_session_options_request_new(&gq, &err), &err);
  CHECK_EMPTY_ENCODING(cflight_get_session_options_request, gq);
  CHECK_ROUND_TRIP(cflight_get_session_options_request, gq);
  cflight_get_session_options_request_free(gq);
  cflight_close_session_request *cq = NULL;
  CHECK_OK(cflight_close_session_request_new(&cq, &err), &err);
  CHECK_ROUND_TRIP(cflight_close_session_request, cq);
  cflight_close_session_request_free(cq);
  cflight_close_session_result *cr = NULL;
  CHECK_OK(cflight_close_session_result_new(CFLIGHT_CLOSE_SESSION_STATUS_NOT_CLOSEABLE, &cr, &err),
           &err);
  CHECK_EQ_INT(cflight_close_session_result_status(cr), CFLIGHT_CLOSE_SESSION_STATUS_NOT_CLOSEABLE);
  CHECK_ENCODING(cflight_close_session_result, cr, 0x08, 0x03);
  CHECK_ROUND_TRIP(cflight_close_session_result, cr);
  cflight_close_session_result_free(cr);

  cflight_session_option_value_free(s);
  cflight_session_option_value_free(i);
}

static void test_utf8(void) {
  CHECK(cf_utf8_valid("", 0));
  CHECK(cf_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
  CHECK(!cf_utf8_valid("\x80", 1));
  CHECK(!cf_utf8_valid("\xc3", 1));             /* truncated */
  CHECK(!cf_utf8_valid("\xc0\xaf", 2));         /* overlong */
  CHECK(!cf_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
  CHECK(!cf_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
  CHECK(!cf_utf8_valid("\xf4\x90\x80\x80", 4)); /* beyond U+10FFFF */
  CHECK(!cf_utf8_valid("\xf8\x88\x80\x80\x80", 5));
}

/* Random bytes as every type: no crash, a clean verdict. */
static void test_garbage(void) {
  srand(42);
  uint8_t buf[64];
  for (int it = 0; it < 3000; it++) {
    size_t n = (size_t)rand() % sizeof(buf);
    for (size_t k = 0; k < n; k++)
      buf[k] = (uint8_t)rand();
    cflight_flight_info *fi = NULL;
    int rc = cflight_flight_info_deserialize(buf, n, &fi, &err);
    CHECK(rc == CFLIGHT_OK || rc == CFLIGHT_INVALID_DATA);
    cflight_flight_info_free(fi);
    cflight_poll_info *pi = NULL;
    rc = cflight_poll_info_deserialize(buf, n, &pi, &err);
    CHECK(rc == CFLIGHT_OK || rc == CFLIGHT_INVALID_DATA);
    cflight_poll_info_free(pi);
    cflight_set_session_options_request *sr = NULL;
    rc = cflight_set_session_options_request_deserialize(buf, n, &sr, &err);
    CHECK(rc == CFLIGHT_OK || rc == CFLIGHT_INVALID_DATA);
    cflight_set_session_options_request_free(sr);
    cflight_set_session_options_result *se = NULL;
    rc = cflight_set_session_options_result_deserialize(buf, n, &se, &err);
    CHECK(rc == CFLIGHT_OK || rc == CFLIGHT_INVALID_DATA);
    cflight_set_session_options_result_free(se);
  }
  cflight_ticket *t = NULL;
  CHECK_EQ_INT(cflight_ticket_deserialize(NULL, 5, &t, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_OK(cflight_ticket_deserialize(NULL, 0, &t, &err), &err);
  cflight_ticket_free(t);
}

int main(void) {
  RUN_TEST(test_timestamps);
  RUN_TEST(test_descriptor);
  RUN_TEST(test_ticket);
  RUN_TEST(test_endpoint);
  RUN_TEST(test_flight_info);
  RUN_TEST(test_poll_info);
  RUN_TEST(test_simple_messages);
  RUN_TEST(test_cancel_renew);
  RUN_TEST(test_session_values);
  RUN_TEST(test_session_maps);
  RUN_TEST(test_utf8);
  RUN_TEST(test_garbage);
  return cft_finish();
}
