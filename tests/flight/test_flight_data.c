/* FlightData framing: the hand-written encoder against protobuf-c's packing,
 * the slice decoder against protobuf-c's unpacking at every split, the
 * zero-copy alignment rule, unknown and repeated fields, hostile input;
 * PutResult framing and the any-message helpers. */
#include <stdlib.h>

#include "flight/flight_data.h"
#include "flight/flight_pb.h"
#include "harness.h"

static cflight_error err;

typedef Arrow__Flight__Protocol__FlightData pb_flight_data;

/* ---- Helpers ------------------------------------------------------------------------- */

static uint8_t *pattern(size_t n, unsigned seed) {
  uint8_t *p = malloc(n + 1);
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
  return p;
}

/* A message made of the bytes data[0..n) cut at cuts[0..n_cuts) (sorted),
 * each slice placed `shift` bytes into its own 64-byte-aligned buffer. */
static void make_msg(const uint8_t *data, size_t n, const size_t *cuts, size_t n_cuts, size_t shift,
                     cf_msg *out) {
  out->slices = calloc(n_cuts + 1, sizeof(cf_slice));
  out->n_slices = 0;
  out->len = n;
  size_t start = 0;
  for (size_t i = 0; i <= n_cuts; i++) {
    size_t end = i < n_cuts ? cuts[i] : n;
    cflight_buffer *buf = cflight_buffer_new(end - start + shift);
    memset(cflight_buffer_mutable_data(buf), 0xEE, shift);
    if (end > start) memcpy(cflight_buffer_mutable_data(buf) + shift, data + start, end - start);
    out->slices[out->n_slices++] = (cf_slice){buf, cflight_buffer_data(buf) + shift, end - start};
    start = end;
  }
}

static void free_msg(cf_msg *m) {
  for (size_t i = 0; i < m->n_slices; i++)
    cflight_buffer_unref(m->slices[i].buf);
  free(m->slices);
  memset(m, 0, sizeof(*m));
}

static uint8_t *concat(const cf_out_msg *out, size_t *n) {
  size_t total = 0;
  for (size_t i = 0; i < out->n_pieces; i++)
    total += out->pieces[i].size;
  uint8_t *p = malloc(total + 1);
  size_t at = 0;
  for (size_t i = 0; i < out->n_pieces; i++) {
    if (out->pieces[i].size > 0) memcpy(p + at, out->pieces[i].data, out->pieces[i].size);
    at += out->pieces[i].size;
  }
  *n = total;
  return p;
}

static bool buf_is(const cflight_buffer *b, const void *want, size_t n) {
  if (n == 0) return b == NULL;
  return b != NULL && cflight_buffer_size(b) == n && memcmp(cflight_buffer_data(b), want, n) == 0;
}

static bool inside(const cflight_buffer *b, const cf_msg *m) {
  const uint8_t *p = cflight_buffer_data(b);
  for (size_t i = 0; i < m->n_slices; i++) {
    const uint8_t *base = cflight_buffer_data(m->slices[i].buf);
    if (p >= base && p < base + cflight_buffer_size(m->slices[i].buf)) return true;
  }
  return false;
}

/* The fields of a FlightData message, as a test expects them. */
typedef struct fields {
  const cflight_descriptor *desc;
  const uint8_t *header;
  size_t header_n;
  const uint8_t *app;
  size_t app_n;
  const uint8_t *body;
  size_t body_n;
} fields;

/* protobuf-c's packing of the same fields. */
static uint8_t *pack_reference(const fields *f, size_t *n) {
  pb_flight_data fd = ARROW__FLIGHT__PROTOCOL__FLIGHT_DATA__INIT;
  fd.flight_descriptor = (pb_descriptor *)f->desc;
  fd.data_header = (ProtobufCBinaryData){f->header_n, (uint8_t *)f->header};
  fd.app_metadata = (ProtobufCBinaryData){f->app_n, (uint8_t *)f->app};
  fd.data_body = (ProtobufCBinaryData){f->body_n, (uint8_t *)f->body};
  *n = protobuf_c_message_get_packed_size(&fd.base);
  uint8_t *p = malloc(*n + 1);
  protobuf_c_message_pack(&fd.base, p);
  return p;
}

static void check_decoded(const cf_flight_data *fd, const fields *f, const char *what) {
  CHECK_MSG(cflight_descriptor_equals(fd->descriptor, f->desc), "%s: descriptor", what);
  CHECK_MSG(buf_is(fd->data_header, f->header, f->header_n), "%s: data_header", what);
  CHECK_MSG(buf_is(fd->app_metadata, f->app, f->app_n), "%s: app_metadata", what);
  CHECK_MSG(buf_is(fd->data_body, f->body, f->body_n), "%s: data_body", what);
}

/* Descriptors compared on all but `type`, which protobuf-c 1.4 merges
 * wrongly when a message repeats the field (see the repeated-fields test). */
static bool same_descriptor_but_type(const cflight_descriptor *ours, const pb_descriptor *ref) {
  if (ours == NULL || ref == NULL) return (const void *)ours == (const void *)ref;
  pb_descriptor copy = *ref;
  copy.type = ((const pb_descriptor *)ours)->type;
  return cf_pb_equal((const ProtobufCMessage *)ours, &copy.base);
}

static int released;

static void count_release(void *ctx) {
  released += ctx == (void *)&released;
}

/* Encodes f with body cut into n_body pieces. */
static int encode_fields(const fields *f, size_t n_body, cf_out_msg *out) {
  cflight_ipc_piece pieces[8];
  size_t at = 0;
  for (size_t i = 0; i < n_body; i++) {
    size_t len = i + 1 < n_body ? f->body_n / n_body : f->body_n - at;
    pieces[i] = (cflight_ipc_piece){f->body + at, len};
    at += len;
  }
  cflight_buffer *app = f->app_n > 0 ? cflight_buffer_copy(f->app, f->app_n) : NULL;
  return cf_flight_data_encode_pieces(f->desc, (cflight_ipc_piece){f->header, f->header_n}, pieces,
                                      n_body, app, count_release, &released, out, &err);
}

/* ---- Encoding --------------------------------------------------------------------------- */

static void test_encode_matches_protobuf_c(void) {
  const char *parts[] = {"some", "path"};
  cflight_descriptor *path = NULL, *empty = NULL;
  CHECK_OK(cflight_descriptor_new_path(parts, 2, &path, &err), &err);
  CHECK_OK(cflight_descriptor_deserialize("", 0, &empty, &err), &err);
  const cflight_descriptor *descs[] = {NULL, path, empty};
  const size_t header_sizes[] = {0, 5, 200};
  const size_t app_sizes[] = {0, 3, 300};
  const size_t body_sizes[] = {0, 1, 127, 128, 100000};
  uint8_t *header = pattern(200, 1), *app = pattern(300, 2), *body = pattern(100000, 3);
  for (size_t d = 0; d < 3; d++) {
    for (size_t h = 0; h < 3; h++) {
      for (size_t a = 0; a < 3; a++) {
        for (size_t b = 0; b < 5; b++) {
          fields f = {descs[d], header, header_sizes[h], app, app_sizes[a], body, body_sizes[b]};
          for (size_t n_body = 0; n_body <= 4; n_body += 2) {
            if (n_body == 0 && f.body_n > 0) continue;
            cf_out_msg out;
            released = 0;
            CHECK_OK(encode_fields(&f, n_body, &out), &err);
            size_t ours_n, ref_n;
            uint8_t *ours = concat(&out, &ours_n);
            uint8_t *ref = pack_reference(&f, &ref_n);
            CHECK_MSG(ours_n == ref_n && memcmp(ours, ref, ref_n) == 0,
                      "encoding differs from protobuf-c (desc %zu header %zu app %zu body %zu)", d,
                      f.header_n, f.app_n, f.body_n);
            /* The body is referenced, not copied: its pieces are the caller's. */
            if (f.body_n > 0) {
              bool found = false;
              for (size_t i = 0; i < out.n_pieces; i++)
                found |= out.pieces[i].data == body;
              CHECK_MSG(found, "body piece not passed through");
            }
            /* No empty pieces. */
            for (size_t i = 0; i < out.n_pieces; i++)
              CHECK(out.pieces[i].size > 0);
            /* Our decoder reads protobuf-c's bytes, protobuf-c reads ours. */
            cf_msg m;
            make_msg(ref, ref_n, NULL, 0, 0, &m);
            cf_flight_data fd;
            CHECK_OK(cf_flight_data_decode(&m, &fd, &err), &err);
            check_decoded(&fd, &f, "decode of protobuf-c's bytes");
            cf_flight_data_reset(&fd);
            free_msg(&m);
            pb_flight_data *un = (pb_flight_data *)protobuf_c_message_unpack(
                &arrow__flight__protocol__flight_data__descriptor, NULL, ours_n, ours);
            CHECK(un != NULL);
            if (un != NULL) {
              CHECK(cf_pb_equal((const ProtobufCMessage *)un->flight_descriptor,
                                (const ProtobufCMessage *)f.desc));
              CHECK(un->data_body.len == f.body_n);
              protobuf_c_message_free_unpacked(&un->base, NULL);
            }
            CHECK_EQ_INT(released, 0);
            out.done(out.ctx);
            CHECK_EQ_INT(released, 1);
            free(ours);
            free(ref);
          }
        }
      }
    }
  }
  free(header);
  free(app);
  free(body);
  cflight_descriptor_free(path);
  cflight_descriptor_free(empty);
}

static int app_freed;

static void count_free(void *ctx, void *data) {
  app_freed++;
}

static void test_encode_errors(void) {
  /* Everything moved in is released on failure too. */
  released = 0;
  app_freed = 0;
  cflight_buffer *app = cflight_buffer_wrap("m", 1, count_free, NULL);
  CHECK_EQ_INT(cf_flight_data_encode_pieces(NULL, (cflight_ipc_piece){NULL, 0}, NULL, 0, app,
                                            count_release, &released, NULL, &err),
               CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(released, 1);
  CHECK_EQ_INT(app_freed, 1);
  /* Over gRPC's 4 GiB message limit (the pieces are never read). */
  cflight_ipc_piece huge[3] = {{"x", (size_t)1 << 31}, {"x", (size_t)1 << 31}, {"x", 1}};
  cf_out_msg out;
  app = cflight_buffer_wrap("m", 1, count_free, NULL);
  CHECK_EQ_INT(cf_flight_data_encode_pieces(NULL, (cflight_ipc_piece){NULL, 0}, huge, 3, app,
                                            count_release, &released, &out, &err),
               CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(released, 2);
  CHECK_EQ_INT(app_freed, 2);
  /* An empty FlightData is an empty message. */
  CHECK_OK(cf_flight_data_encode_pieces(NULL, (cflight_ipc_piece){NULL, 0}, NULL, 0, NULL, NULL,
                                        NULL, &out, &err),
           &err);
  CHECK_EQ_INT(out.n_pieces, 0);
  out.done(out.ctx);
}

/* ---- Decoding ---------------------------------------------------------------------------- */

static fields sample_fields(cflight_descriptor **desc, uint8_t **header, uint8_t **app,
                            uint8_t **body, size_t body_n) {
  const char *parts[] = {"x"};
  CHECK_OK(cflight_descriptor_new_path(parts, 1, desc, &err), &err);
  *header = pattern(24, 4);
  *app = pattern(5, 5);
  *body = pattern(body_n, 6);
  return (fields){*desc, *header, 24, *app, 5, *body, body_n};
}

static void test_decode_every_split(void) {
  cflight_descriptor *desc;
  uint8_t *header, *app, *body;
  fields f = sample_fields(&desc, &header, &app, &body, 40);
  size_t n;
  uint8_t *bytes = pack_reference(&f, &n);
  /* Every two-slice and every three-slice split, and one byte per slice. */
  for (size_t i = 0; i <= n; i++) {
    for (size_t j = i; j <= n; j++) {
      size_t cuts[2] = {i, j};
      cf_msg m;
      make_msg(bytes, n, cuts, i == j ? 1 : 2, 3, &m);
      cf_flight_data fd;
      int rc = cf_flight_data_decode(&m, &fd, &err);
      CHECK_MSG(rc == CFLIGHT_OK, "split at %zu, %zu: %s", i, j, err.message);
      check_decoded(&fd, &f, "split");
      cf_flight_data_reset(&fd);
      free_msg(&m);
    }
  }
  size_t *cuts = malloc(n * sizeof(size_t));
  for (size_t i = 0; i < n; i++)
    cuts[i] = i;
  cf_msg m;
  make_msg(bytes, n, cuts, n, 1, &m);
  cf_flight_data fd;
  CHECK_OK(cf_flight_data_decode(&m, &fd, &err), &err);
  check_decoded(&fd, &f, "one byte per slice");
  cf_flight_data_reset(&fd);
  free_msg(&m);
  free(cuts);
  free(bytes);
  free(header);
  free(app);
  free(body);
  cflight_descriptor_free(desc);
}

static void test_decode_random_splits(void) {
  cflight_descriptor *desc;
  uint8_t *header, *app, *body;
  fields f = sample_fields(&desc, &header, &app, &body, 1 << 20);
  size_t n;
  uint8_t *bytes = pack_reference(&f, &n);
  srand(1234);
  size_t cuts[512];
  for (int it = 0; it < 12; it++) {
    size_t n_cuts = 0, at = 0;
    size_t max_step = it % 2 == 0 ? 70000 : 300;
    while (n_cuts < 512) {
      at += 1 + (size_t)rand() % max_step;
      if (at >= n) break;
      cuts[n_cuts++] = at;
    }
    cf_msg m;
    make_msg(bytes, n, cuts, n_cuts, (size_t)it % 8, &m);
    cf_flight_data fd;
    CHECK_OK(cf_flight_data_decode(&m, &fd, &err), &err);
    check_decoded(&fd, &f, "random split");
    if (fd.data_body != NULL) {
      /* Cut somewhere inside, so copied, into an aligned buffer. */
      CHECK(!inside(fd.data_body, &m) || n_cuts == 0);
      CHECK(((uintptr_t)cflight_buffer_data(fd.data_body) & 63) == 0 || inside(fd.data_body, &m));
    }
    cf_flight_data_reset(&fd);
    free_msg(&m);
  }
  free(bytes);
  free(header);
  free(app);
  free(body);
  cflight_descriptor_free(desc);
}

static void test_alignment(void) {
  cflight_descriptor *desc;
  uint8_t *header, *app, *body;
  fields f = sample_fields(&desc, &header, &app, &body, 64);
  size_t n;
  uint8_t *bytes = pack_reference(&f, &n);
  size_t off = n - 64; /* the body comes last */
  /* Place the message so that the body is 8-byte aligned: zero copy. */
  size_t shift = (8 - off % 8) % 8;
  cf_msg m;
  make_msg(bytes, n, NULL, 0, shift, &m);
  CHECK((((uintptr_t)m.slices[0].data + off) & 7) == 0);
  cf_flight_data fd;
  CHECK_OK(cf_flight_data_decode(&m, &fd, &err), &err);
  check_decoded(&fd, &f, "aligned");
  CHECK(cflight_buffer_data(fd.data_body) == m.slices[0].data + off);
  /* The slice keeps the transport's buffer alive after the message is gone. */
  free_msg(&m);
  CHECK(memcmp(cflight_buffer_data(fd.data_body), body, 64) == 0);
  cf_flight_data_reset(&fd);

  /* One byte off: copied, 64-byte aligned. */
  make_msg(bytes, n, NULL, 0, shift + 1, &m);
  CHECK_OK(cf_flight_data_decode(&m, &fd, &err), &err);
  check_decoded(&fd, &f, "unaligned");
  CHECK(!inside(fd.data_body, &m));
  CHECK(((uintptr_t)cflight_buffer_data(fd.data_body) & 63) == 0);
  cf_flight_data_reset(&fd);
  free_msg(&m);

  /* Aligned but split across two slices: copied. */
  size_t cut = off + 10;
  make_msg(bytes, n, &cut, 1, shift, &m);
  CHECK_OK(cf_flight_data_decode(&m, &fd, &err), &err);
  check_decoded(&fd, &f, "split body");
  CHECK(!inside(fd.data_body, &m));
  cf_flight_data_reset(&fd);
  free_msg(&m);

  /* The body alone in its own aligned slice (as after a frame boundary). */
  cut = off;
  make_msg(bytes, n, &cut, 1, 0, &m);
  CHECK_OK(cf_flight_data_decode(&m, &fd, &err), &err);
  CHECK(cflight_buffer_data(fd.data_body) == m.slices[1].data);
  /* data_header follows the same rule: zero copy exactly when aligned. */
  const uint8_t *hdr_at = memmem(bytes, n, header, 24);
  bool hdr_aligned = (((uintptr_t)m.slices[0].data + (size_t)(hdr_at - bytes)) & 7) == 0;
  CHECK(inside(fd.data_header, &m) == hdr_aligned);
  CHECK(buf_is(fd.data_header, header, 24));
  cf_flight_data_reset(&fd);
  free_msg(&m);

  free(bytes);
  free(header);
  free(app);
  free(body);
  cflight_descriptor_free(desc);
}

static int decode_bytes(const uint8_t *bytes, size_t n, cf_flight_data *fd) {
  cf_msg m;
  make_msg(bytes, n, NULL, 0, 0, &m);
  int rc = cf_flight_data_decode(&m, fd, &err);
  free_msg(&m);
  return rc;
}

static void test_unknown_and_repeated_fields(void) {
  /* Unknown fields of every wire type around the known ones, in reverse order. */
  static const uint8_t mixed[] = {
      0x28, 0x96, 0x01,                            /* field 5 varint 150 */
      0xc2, 0x3e, 0x02, 'B',  'B',                 /* data_body = "BB" */
      0x31, 1,    2,    3,    4,    5,    6, 7, 8, /* field 6 fixed64 */
      0x1a, 0x01, 'A',                             /* app_metadata = "A" */
      0x3d, 1,    2,    3,    4,                   /* field 7 fixed32 */
      0xba, 0x3e, 0x03, 'z',  'z',  'z',           /* field 999 bytes */
      0x12, 0x02, 'H',  'H',                       /* data_header = "HH" */
      0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01,          /* field 2^29 - 1 varint */
      0x0a, 0x02, 0x08, 0x02,                      /* descriptor {type = CMD} */
  };
  cf_flight_data fd;
  CHECK_OK(decode_bytes(mixed, sizeof(mixed), &fd), &err);
  CHECK(buf_is(fd.data_body, "BB", 2));
  CHECK(buf_is(fd.app_metadata, "A", 1));
  CHECK(buf_is(fd.data_header, "HH", 2));
  CHECK_EQ_INT(cflight_descriptor_get_type(fd.descriptor), CFLIGHT_DESCRIPTOR_CMD);
  cf_flight_data_reset(&fd);

  /* Repeated bytes fields: the last wins, also an empty one. Repeated
   * descriptors merge, exactly as protobuf-c does. */
  static const uint8_t repeated[] = {
      0x12, 0x01, '1',  0x12, 0x01, '2',       /* data_header twice */
      0x1a, 0x01, 'a',  0x1a, 0x00,            /* app_metadata, then empty */
      0x0a, 0x05, 0x08, 0x01, 0x1a, 0x01, 'p', /* descriptor {PATH, ["p"]} */
      0x0a, 0x03, 0x1a, 0x01, 'q',             /* descriptor {["q"]} */
      0x0a, 0x03, 0x12, 0x01, 'c',             /* descriptor {cmd = "c"} */
  };
  CHECK_OK(decode_bytes(repeated, sizeof(repeated), &fd), &err);
  CHECK(buf_is(fd.data_header, "2", 1));
  CHECK(fd.app_metadata == NULL);
  /* Protobuf's merge: a later scalar overrides only when set, repeated
   * fields append. (protobuf-c 1.4 resets `type` to 0 here, against that
   * rule, so it serves as the reference for everything but `type`.) */
  CHECK_EQ_INT(cflight_descriptor_get_type(fd.descriptor), CFLIGHT_DESCRIPTOR_PATH);
  CHECK_EQ_INT(cflight_descriptor_path_count(fd.descriptor), 2);
  CHECK_EQ_STR(cflight_descriptor_path_part(fd.descriptor, 0), "p");
  CHECK_EQ_STR(cflight_descriptor_path_part(fd.descriptor, 1), "q");
  size_t cmd_n;
  CHECK(cflight_descriptor_command(fd.descriptor, &cmd_n) != NULL && cmd_n == 1);
  pb_flight_data *ref = (pb_flight_data *)protobuf_c_message_unpack(
      &arrow__flight__protocol__flight_data__descriptor, NULL, sizeof(repeated), repeated);
  CHECK(ref != NULL);
  CHECK(same_descriptor_but_type(fd.descriptor, ref->flight_descriptor));
  CHECK(ref->app_metadata.len == 0);
  protobuf_c_message_free_unpacked(&ref->base, NULL);
  cf_flight_data_reset(&fd);

  /* Overlong varints (up to 10 bytes) are still varints. */
  static const uint8_t overlong[] = {0x92, 0x80, 0x80, 0x00, /* key 2 in 4 bytes */
                                     0x81, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80, 0x80, 0x80, 0x00, 'x'};
  CHECK_OK(decode_bytes(overlong, sizeof(overlong), &fd), &err);
  CHECK(buf_is(fd.data_header, "x", 1));
  cf_flight_data_reset(&fd);

  /* Nothing at all: an empty message. */
  CHECK_OK(decode_bytes(NULL, 0, &fd), &err);
  CHECK(fd.descriptor == NULL && fd.data_header == NULL && fd.app_metadata == NULL &&
        fd.data_body == NULL);
  cf_msg none = {NULL, 0, 0};
  CHECK_OK(cf_flight_data_decode(&none, &fd, &err), &err);
}

#define CHECK_BAD(...)                                                                     \
  do {                                                                                     \
    static const uint8_t bad_[] = {__VA_ARGS__};                                           \
    cf_flight_data fd_;                                                                    \
    int rc_ = decode_bytes(bad_, sizeof(bad_), &fd_);                                      \
    CHECK_MSG(rc_ == CFLIGHT_INVALID_DATA, "accepted bad FlightData (%s) at line %d",      \
              cflight_code_name(rc_), __LINE__);                                           \
    CHECK(fd_.descriptor == NULL && fd_.data_header == NULL && fd_.app_metadata == NULL && \
          fd_.data_body == NULL);                                                          \
    CHECK(strstr(err.message, "FlightData") != NULL);                                      \
  } while (0)

static void test_hostile(void) {
  /* Lengths beyond the message, up to 2^64 - 1. */
  CHECK_BAD(0xc2, 0x3e, 0x05, 'a');
  CHECK_BAD(0xc2, 0x3e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'a');
  CHECK_BAD(0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a');
  CHECK_BAD(0x38, 0x01, 0xba, 0x3e, 0x80, 0x80, 0x80, 0x80, 0x10); /* unknown field, 2^32 */
  /* A varint over 64 bits, over 10 bytes, truncated. */
  CHECK_BAD(0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02);
  CHECK_BAD(0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
  CHECK_BAD(0x12, 0x80);
  CHECK_BAD(0xc2);
  CHECK_BAD(0x28, 0x80, 0x80);
  /* A key beyond 32 bits, field number 0. */
  CHECK_BAD(0x82, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00);
  CHECK_BAD(0x02, 0x00);
  CHECK_BAD(0x00);
  /* Groups and wire types 6 and 7. */
  CHECK_BAD(0x2b, 0x2c);
  CHECK_BAD(0x2c);
  CHECK_BAD(0x2e, 0x00);
  CHECK_BAD(0x2f, 0x00);
  /* Known fields with another wire type. */
  CHECK_BAD(0x10, 0x01);
  CHECK_BAD(0x08, 0x01);
  CHECK_BAD(0x1d, 1, 2, 3, 4);
  CHECK_BAD(0xc1, 0x3e, 1, 2, 3, 4, 5, 6, 7, 8);
  /* Fixed-size unknown fields cut short. */
  CHECK_BAD(0x31, 1, 2, 3);
  CHECK_BAD(0x3d, 1);
  /* A bad descriptor inside. */
  CHECK_BAD(0x0a, 0x02, 0x08, 0x07);
  CHECK_BAD(0x0a, 0x02, 0x1a, 0x05);
  CHECK_BAD(0x0a, 0x03, 0x1a, 0x01, 0xff);

  /* Every truncation of a real message: our verdict is protobuf-c's. */
  cflight_descriptor *desc;
  uint8_t *header, *app, *body;
  fields f = sample_fields(&desc, &header, &app, &body, 300);
  size_t n;
  uint8_t *bytes = pack_reference(&f, &n);
  for (size_t k = 0; k < n; k++) {
    cf_flight_data fd;
    int rc = decode_bytes(bytes, k, &fd);
    ProtobufCMessage *ref = protobuf_c_message_unpack(
        &arrow__flight__protocol__flight_data__descriptor, NULL, k, bytes);
    CHECK_MSG((rc == CFLIGHT_OK) == (ref != NULL), "verdicts differ at truncation %zu", k);
    CHECK(rc == CFLIGHT_OK || rc == CFLIGHT_INVALID_DATA);
    protobuf_c_message_free_unpacked(ref, NULL);
    cf_flight_data_reset(&fd);
  }

  /* Random bytes, randomly sliced: no crash, a clean verdict. Where the
   * input uses only what both decoders support, the verdicts agree. */
  srand(99);
  uint8_t buf[96];
  for (int it = 0; it < 20000; it++) {
    size_t len = (size_t)rand() % sizeof(buf);
    for (size_t k = 0; k < len; k++)
      buf[k] = (uint8_t)(it % 3 == 0 ? "\x0a\x12\x1a\xc2\x3e\x02\x01\x00\x80"[rand() % 9] : rand());
    size_t cuts[3];
    size_t n_cuts = len > 0 ? (size_t)rand() % 4 : 0;
    for (size_t c = 0; c < n_cuts; c++)
      cuts[c] = (size_t)rand() % (len + 1);
    for (size_t a = 0; a < n_cuts; a++)
      for (size_t b = a + 1; b < n_cuts; b++)
        if (cuts[b] < cuts[a]) {
          size_t t = cuts[a];
          cuts[a] = cuts[b];
          cuts[b] = t;
        }
    cf_msg m;
    make_msg(buf, len, cuts, n_cuts, (size_t)rand() % 8, &m);
    cf_flight_data fd;
    int rc = cf_flight_data_decode(&m, &fd, &err);
    CHECK(rc == CFLIGHT_OK || rc == CFLIGHT_INVALID_DATA);
    if (rc == CFLIGHT_OK) {
      /* Whatever we accept, protobuf-c accepts with the same fields. */
      pb_flight_data *ref = (pb_flight_data *)protobuf_c_message_unpack(
          &arrow__flight__protocol__flight_data__descriptor, NULL, len, buf);
      if (ref != NULL) {
        CHECK(same_descriptor_but_type(fd.descriptor, ref->flight_descriptor));
        CHECK(buf_is(fd.data_header, ref->data_header.data, ref->data_header.len));
        CHECK(buf_is(fd.app_metadata, ref->app_metadata.data, ref->app_metadata.len));
        CHECK(buf_is(fd.data_body, ref->data_body.data, ref->data_body.len));
        protobuf_c_message_free_unpacked(&ref->base, NULL);
      }
    }
    cf_flight_data_reset(&fd);
    free_msg(&m);
  }
  free(bytes);
  free(header);
  free(app);
  free(body);
  cflight_descriptor_free(desc);
}

/* ---- PutResult and any message -------------------------------------------------------------- */

static void test_put_result(void) {
  for (size_t n = 0; n < 300; n += 149) {
    uint8_t *md = pattern(n, 9);
    cf_out_msg out;
    CHECK_OK(cf_put_result_encode(n > 0 ? cflight_buffer_copy(md, n) : NULL, &out, &err), &err);
    size_t len;
    uint8_t *bytes = concat(&out, &len);
    Arrow__Flight__Protocol__PutResult ref = ARROW__FLIGHT__PROTOCOL__PUT_RESULT__INIT;
    ref.app_metadata = (ProtobufCBinaryData){n, md};
    size_t ref_n = protobuf_c_message_get_packed_size(&ref.base);
    uint8_t *ref_bytes = malloc(ref_n + 1);
    protobuf_c_message_pack(&ref.base, ref_bytes);
    CHECK(len == ref_n && memcmp(bytes, ref_bytes, len) == 0);
    out.done(out.ctx);
    for (size_t cut = 0; cut <= len; cut++) {
      cf_msg m;
      make_msg(bytes, len, &cut, 1, 0, &m);
      cflight_buffer *got = NULL;
      CHECK_OK(cf_put_result_decode(&m, &got, &err), &err);
      CHECK(buf_is(got, md, n));
      cflight_buffer_unref(got);
      free_msg(&m);
    }
    free(ref_bytes);
    free(bytes);
    free(md);
  }
  static const uint8_t bad[] = {0x0a, 0x05, 'x'};
  cf_msg m;
  make_msg(bad, sizeof(bad), NULL, 0, 0, &m);
  cflight_buffer *got = (cflight_buffer *)1;
  CHECK_EQ_INT(cf_put_result_decode(&m, &got, &err), CFLIGHT_INVALID_DATA);
  CHECK(got == NULL);
  free_msg(&m);
}

static void test_any_message(void) {
  cflight_ticket *t = NULL;
  CHECK_OK(cflight_ticket_new("ticket-bytes", 12, &t, &err), &err);
  cf_out_msg out;
  CHECK_OK(cf_flight_msg_encode(t, &out, &err), &err);
  size_t n;
  uint8_t *bytes = concat(&out, &n);
  out.done(out.ctx);
  for (size_t cut = 0; cut <= n; cut++) {
    cf_msg m;
    make_msg(bytes, n, &cut, 1, 0, &m);
    void *back = NULL;
    CHECK_OK(cf_flight_msg_decode(&arrow__flight__protocol__ticket__descriptor, &m, &back, &err),
             &err);
    CHECK(cflight_ticket_equals(t, back));
    cflight_ticket_free(back);
    free_msg(&m);
  }
  /* A single slice is gathered without a copy. */
  cf_msg m;
  make_msg(bytes, n, NULL, 0, 0, &m);
  cflight_buffer *g = NULL;
  CHECK_OK(cf_msg_gather(&m, &g, &err), &err);
  CHECK(cflight_buffer_data(g) == m.slices[0].data);
  cflight_buffer_unref(g);
  free_msg(&m);
  void *back = (void *)1;
  static const uint8_t bad[] = {0x0a, 0x09};
  make_msg(bad, 2, NULL, 0, 0, &m);
  CHECK_EQ_INT(cf_flight_msg_decode(&arrow__flight__protocol__ticket__descriptor, &m, &back, &err),
               CFLIGHT_INVALID_DATA);
  CHECK(back == NULL);
  free_msg(&m);
  /* An empty message object is an empty outgoing message. */
  cflight_close_session_request *empty = NULL;
  CHECK_OK(cflight_close_session_request_new(&empty, &err), &err);
  CHECK_OK(cf_flight_msg_encode(empty, &out, &err), &err);
  CHECK_EQ_INT(out.n_pieces, 0);
  out.done(out.ctx);
  cflight_close_session_request_free(empty);
  free(bytes);
  cflight_ticket_free(t);
}

int main(void) {
  RUN_TEST(test_encode_matches_protobuf_c);
  RUN_TEST(test_encode_errors);
  RUN_TEST(test_decode_every_split);
  RUN_TEST(test_decode_random_splits);
  RUN_TEST(test_alignment);
  RUN_TEST(test_unknown_and_repeated_fields);
  RUN_TEST(test_hostile);
  RUN_TEST(test_put_result);
  RUN_TEST(test_any_message);
  return cft_finish();
}
