/* FlightData framing by hand: the protobuf wire format of four fields,
 * written around the IPC payload's own bytes and read straight from the
 * transport's slices. See flight_data.h. */
#include "flight/flight_data.h"

#include <stdatomic.h>
#include <stdio.h>

#include "flight/flight_pb.h"

/* Bytes of received fields that had to be copied (see rd_bytes). */
static atomic_uint_fast64_t copied_field_bytes;

uint64_t cf_flight_data_copied_bytes(void) {
  return atomic_load(&copied_field_bytes);
}

/* Tags (field number << 3 | wire type 2), as their varint bytes. */
#define TAG_DESCRIPTOR 0x0A /* field 1 */
#define TAG_HEADER 0x12     /* field 2 */
#define TAG_APP 0x1A        /* field 3 */
#define TAG_BODY_0 0xC2     /* field 1000: (1000 << 3 | 2) = 8002 = 0xC2 0x3E */
#define TAG_BODY_1 0x3E

#define FIELD_DESCRIPTOR 1
#define FIELD_HEADER 2
#define FIELD_APP 3
#define FIELD_BODY 1000

#define WIRE_VARINT 0
#define WIRE_I64 1
#define WIRE_LEN 2
#define WIRE_I32 5

#define VARINT_MAX 10

/* gRPC frames a message with a 32-bit length. */
#define GRPC_MAX_MESSAGE ((uint64_t)UINT32_MAX)

static size_t put_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

static size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

/* ---- Encoding ----------------------------------------------------------------------- */

/* One allocation per encoded message: this struct, then the pieces, then
 * the header block that the pieces of tags and lengths point into. */
typedef struct encoded {
  void (*release)(void *ctx);
  void *release_ctx;
  cflight_buffer *app_metadata;
  size_t n_pieces;
  cflight_ipc_piece pieces[];
} encoded;

static void encoded_done(void *ctx) {
  encoded *e = ctx;
  if (e->release != NULL) e->release(e->release_ctx);
  cflight_buffer_unref(e->app_metadata);
  free(e);
}

int cf_flight_data_encode_pieces(const cflight_descriptor *descriptor, cflight_ipc_piece header,
                                 const cflight_ipc_piece *body, size_t n_body,
                                 cflight_buffer *app_metadata, void (*release)(void *ctx),
                                 void *release_ctx, cf_out_msg *out, cflight_error *err) {
  int rc = CFLIGHT_OK;
  encoded *e = NULL;
  const ProtobufCMessage *desc = (const ProtobufCMessage *)descriptor;
  size_t desc_size = desc != NULL ? protobuf_c_message_get_packed_size(desc) : 0;
  size_t app_size = cflight_buffer_size(app_metadata);
  uint64_t body_size = 0;
  if (out == NULL || (n_body > 0 && body == NULL) || (header.size > 0 && header.data == NULL)) {
    rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "FlightData: NULL pieces or output");
    goto fail;
  }
  for (size_t i = 0; i < n_body; i++)
    body_size += body[i].size;
  /* Each term is far below 2^64: sizes of memory that exists. */
  uint64_t total = (desc != NULL ? 1 + varint_size(desc_size) + desc_size : 0) +
                   (header.size > 0 ? 1 + varint_size(header.size) + header.size : 0) +
                   (app_size > 0 ? 1 + varint_size(app_size) + app_size : 0) +
                   (body_size > 0 ? 2 + varint_size(body_size) + body_size : 0);
  if (total > GRPC_MAX_MESSAGE) {
    rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                           "FlightData of %llu bytes exceeds gRPC's 4 GiB message limit",
                           (unsigned long long)total);
    goto fail;
  }
  size_t block_cap = (desc != NULL ? 1 + VARINT_MAX + desc_size : 0) + 3 * (2 + VARINT_MAX);
  size_t max_pieces = 3 + 2 + n_body;
  if (n_body > (SIZE_MAX - sizeof(encoded) - block_cap) / sizeof(cflight_ipc_piece) - 5) {
    rc = CF_NOMEM(err, "FlightData pieces");
    goto fail;
  }
  e = malloc(sizeof(encoded) + max_pieces * sizeof(cflight_ipc_piece) + block_cap);
  if (e == NULL) {
    rc = CF_NOMEM(err, "FlightData pieces");
    goto fail;
  }
  uint8_t *block = (uint8_t *)&e->pieces[max_pieces];
  size_t len = 0, seg = 0, np = 0;
  /* Ends the run of header-block bytes written so far as one piece. */
#define FLUSH_BLOCK()                                                \
  do {                                                               \
    if (len > seg) {                                                 \
      e->pieces[np++] = (cflight_ipc_piece){block + seg, len - seg}; \
      seg = len;                                                     \
    }                                                                \
  } while (0)

  if (desc != NULL) {
    /* A descriptor is written even when empty, as protobuf-c does for a
     * present message field. */
    block[len++] = TAG_DESCRIPTOR;
    len += put_varint(block + len, desc_size);
    len += protobuf_c_message_pack(desc, block + len);
  }
  if (header.size > 0) {
    block[len++] = TAG_HEADER;
    len += put_varint(block + len, header.size);
    FLUSH_BLOCK();
    e->pieces[np++] = header;
  }
  if (app_size > 0) {
    block[len++] = TAG_APP;
    len += put_varint(block + len, app_size);
    FLUSH_BLOCK();
    e->pieces[np++] = (cflight_ipc_piece){cflight_buffer_data(app_metadata), app_size};
  }
  if (body_size > 0) {
    block[len++] = TAG_BODY_0;
    block[len++] = TAG_BODY_1;
    len += put_varint(block + len, body_size);
    FLUSH_BLOCK();
    for (size_t i = 0; i < n_body; i++) {
      if (body[i].size > 0) e->pieces[np++] = body[i];
    }
  }
  FLUSH_BLOCK();
#undef FLUSH_BLOCK
  e->release = release;
  e->release_ctx = release_ctx;
  e->app_metadata = app_metadata;
  e->n_pieces = np;
  out->pieces = e->pieces;
  out->n_pieces = np;
  out->done = encoded_done;
  out->ctx = e;
  return CFLIGHT_OK;

fail:
  free(e);
  if (release != NULL) release(release_ctx);
  cflight_buffer_unref(app_metadata);
  return rc;
}

/* ---- Reading slices ------------------------------------------------------------------ */

typedef struct reader {
  const cf_slice *slices;
  size_t n_slices;
  size_t si;     /* current slice */
  size_t off;    /* offset in it */
  uint64_t left; /* bytes left in the message */
  uint64_t size; /* the message's size */
  const char *what;
} reader;

static void rd_init(reader *r, const cf_msg *msg, const char *what) {
  memset(r, 0, sizeof(*r));
  r->slices = msg->slices;
  r->n_slices = msg->slices != NULL ? msg->n_slices : 0;
  /* The slices are the truth; msg->len is only a summary of them. */
  for (size_t i = 0; i < r->n_slices; i++)
    r->left += r->slices[i].len;
  r->size = r->left;
  r->what = what;
}

static uint64_t rd_pos(const reader *r) {
  return r->size - r->left;
}

/* Steps over exhausted slices. Only called with left > 0, so a slice with
 * bytes remains. */
static void rd_norm(reader *r) {
  while (r->si < r->n_slices && r->off >= r->slices[r->si].len) {
    r->si++;
    r->off = 0;
  }
}

static int rd_truncated(const reader *r, const char *item, cflight_error *err) {
  return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                           "%s: message truncated in %s at byte %llu of %llu", r->what, item,
                           (unsigned long long)rd_pos(r), (unsigned long long)r->size);
}

static int rd_varint(reader *r, uint64_t *out, const char *item, cflight_error *err) {
  uint64_t start = rd_pos(r);
  uint64_t v = 0;
  for (int i = 0; i < VARINT_MAX; i++) {
    if (r->left == 0) return rd_truncated(r, item, err);
    rd_norm(r);
    uint8_t b = r->slices[r->si].data[r->off++];
    r->left--;
    if (i == VARINT_MAX - 1 && b > 1) {
      return cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s: %s at byte %llu overflows 64 bits",
                               r->what, item, (unsigned long long)start);
    }
    v |= (uint64_t)(b & 0x7F) << (7 * i);
    if ((b & 0x80) == 0) {
      *out = v;
      return CFLIGHT_OK;
    }
  }
  return cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s: %s at byte %llu is longer than %d bytes",
                           r->what, item, (unsigned long long)start, VARINT_MAX);
}

/* Skips n bytes (n <= left, checked by the caller). */
static void rd_skip(reader *r, uint64_t n) {
  r->left -= n;
  while (n > 0) {
    rd_norm(r);
    size_t avail = r->slices[r->si].len - r->off;
    size_t step = n < avail ? (size_t)n : avail;
    r->off += step;
    n -= step;
  }
}

/* Copies n bytes (n <= left) to dst. */
static void rd_copy(reader *r, uint8_t *dst, uint64_t n) {
  r->left -= n;
  while (n > 0) {
    rd_norm(r);
    size_t avail = r->slices[r->si].len - r->off;
    size_t step = n < avail ? (size_t)n : avail;
    memcpy(dst, r->slices[r->si].data + r->off, step);
    dst += step;
    r->off += step;
    n -= step;
  }
}

/* A bytes field of n bytes (n <= left) as a buffer: a slice of the
 * transport's buffer when the bytes are inside one slice and 8-byte
 * aligned, which is what the IPC decoder needs to read values in place;
 * otherwise one copy into an aligned buffer. NULL (no error) when n is 0. */
static int rd_bytes(reader *r, uint64_t n, cflight_buffer **out, cflight_error *err) {
  *out = NULL;
  if (n == 0) return CFLIGHT_OK;
  rd_norm(r);
  const cf_slice *s = &r->slices[r->si];
  const uint8_t *p = s->data + r->off;
  if (s->len - r->off >= n && ((uintptr_t)p & 7) == 0 && s->buf != NULL) {
    const uint8_t *base = cflight_buffer_data(s->buf);
    size_t bsize = cflight_buffer_size(s->buf);
    if (p >= base && (uint64_t)(p - base) + n <= bsize) {
      *out = cflight_buffer_slice(s->buf, (size_t)(p - base), (size_t)n);
      if (*out == NULL) return CF_NOMEM(err, "FlightData field slice");
      rd_skip(r, n);
      return CFLIGHT_OK;
    }
  }
  /* n <= left: the allocation is bounded by bytes actually received. */
  cflight_buffer *buf = cflight_buffer_new((size_t)n);
  if (buf == NULL) return CF_NOMEM(err, "FlightData field");
  rd_copy(r, cflight_buffer_mutable_data(buf), n);
  atomic_fetch_add_explicit(&copied_field_bytes, n, memory_order_relaxed);
  *out = buf;
  return CFLIGHT_OK;
}

/* Reads a field's key. */
static int rd_key(reader *r, uint32_t *field, unsigned *wire, cflight_error *err) {
  uint64_t start = rd_pos(r);
  uint64_t key;
  CF_RETURN_NOT_OK(rd_varint(r, &key, "a field key", err));
  if (key > UINT32_MAX || (key >> 3) == 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s: invalid field key %llu at byte %llu",
                             r->what, (unsigned long long)key, (unsigned long long)start);
  }
  *field = (uint32_t)(key >> 3);
  *wire = (unsigned)(key & 7);
  return CFLIGHT_OK;
}

/* Skips the value of a field the message does not know. */
static int rd_skip_value(reader *r, uint32_t field, unsigned wire, cflight_error *err) {
  uint64_t n;
  switch (wire) {
    case WIRE_VARINT:
      return rd_varint(r, &n, "a varint field", err);
    case WIRE_I64:
      n = 8;
      break;
    case WIRE_I32:
      n = 4;
      break;
    case WIRE_LEN:
      CF_RETURN_NOT_OK(rd_varint(r, &n, "a field length", err));
      break;
    default:
      /* 3 and 4 are the deprecated groups, which protobuf-c refuses too;
       * 6 and 7 do not exist. */
      return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                               "%s: field %u has unsupported wire type %u at byte %llu", r->what,
                               field, wire, (unsigned long long)rd_pos(r));
  }
  if (n > r->left) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "%s: field %u needs %llu bytes but %llu are left", r->what, field,
                             (unsigned long long)n, (unsigned long long)r->left);
  }
  rd_skip(r, n);
  return CFLIGHT_OK;
}

/* The length of a length-delimited field, checked against what is left. */
static int rd_len(reader *r, uint32_t field, unsigned wire, uint64_t *n, cflight_error *err) {
  if (wire != WIRE_LEN) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "%s: field %u has wire type %u, expected 2 (length-delimited)",
                             r->what, field, wire);
  }
  CF_RETURN_NOT_OK(rd_varint(r, n, "a field length", err));
  if (*n > r->left) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "%s: field %u claims %llu bytes but %llu are left", r->what, field,
                             (unsigned long long)*n, (unsigned long long)r->left);
  }
  return CFLIGHT_OK;
}

/* Replaces *slot with the next n bytes (the last occurrence wins). */
static int rd_replace(reader *r, uint64_t n, cflight_buffer **slot, cflight_error *err) {
  cflight_buffer *buf;
  CF_RETURN_NOT_OK(rd_bytes(r, n, &buf, err));
  cflight_buffer_unref(*slot);
  *slot = buf;
  return CFLIGHT_OK;
}

/* ---- Decoding FlightData --------------------------------------------------------------- */

void cf_flight_data_reset(cf_flight_data *fd) {
  if (fd == NULL) return;
  cflight_descriptor_free(fd->descriptor);
  cflight_buffer_unref(fd->data_header);
  cflight_buffer_unref(fd->app_metadata);
  cflight_buffer_unref(fd->data_body);
  memset(fd, 0, sizeof(*fd));
}

static int decode_fields(reader *r, cf_flight_data *out, cf_bytes *desc, bool *has_desc,
                         cflight_error *err) {
  while (r->left > 0) {
    uint32_t field;
    unsigned wire;
    uint64_t n;
    CF_RETURN_NOT_OK(rd_key(r, &field, &wire, err));
    switch (field) {
      case FIELD_DESCRIPTOR:
        CF_RETURN_NOT_OK(rd_len(r, field, wire, &n, err));
        /* Occurrences of a message field merge; parsing their
         * concatenation is exactly that merge. */
        if (n > 0) {
          CF_RETURN_NOT_OK(cf_bytes_reserve(desc, (size_t)n, err));
          rd_copy(r, desc->data + desc->len, n);
          desc->len += (size_t)n;
        }
        *has_desc = true;
        break;
      case FIELD_HEADER:
        CF_RETURN_NOT_OK(rd_len(r, field, wire, &n, err));
        CF_RETURN_NOT_OK(rd_replace(r, n, &out->data_header, err));
        break;
      case FIELD_APP:
        CF_RETURN_NOT_OK(rd_len(r, field, wire, &n, err));
        CF_RETURN_NOT_OK(rd_replace(r, n, &out->app_metadata, err));
        break;
      case FIELD_BODY:
        CF_RETURN_NOT_OK(rd_len(r, field, wire, &n, err));
        CF_RETURN_NOT_OK(rd_replace(r, n, &out->data_body, err));
        break;
      default:
        CF_RETURN_NOT_OK(rd_skip_value(r, field, wire, err));
        break;
    }
  }
  return CFLIGHT_OK;
}

int cf_flight_data_decode(const cf_msg *msg, cf_flight_data *out, cflight_error *err) {
  if (out == NULL || msg == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "FlightData: NULL message or output");
  }
  memset(out, 0, sizeof(*out));
  reader r;
  rd_init(&r, msg, "FlightData");
  cf_bytes desc = {0};
  bool has_desc = false;
  int rc = decode_fields(&r, out, &desc, &has_desc, err);
  if (rc == CFLIGHT_OK && has_desc) {
    rc = cflight_descriptor_deserialize(desc.data, desc.len, &out->descriptor, err);
    if (rc != CFLIGHT_OK && err != NULL) {
      char why[CFLIGHT_ERROR_MESSAGE_SIZE];
      snprintf(why, sizeof(why), "%s", err->message);
      cflight_error_set(err, rc, "FlightData: flight_descriptor: %s", why);
    }
  }
  cf_bytes_reset(&desc);
  if (rc != CFLIGHT_OK) cf_flight_data_reset(out);
  return rc;
}

/* ---- PutResult ---------------------------------------------------------------------------- */

#define PUT_RESULT_FIELD_APP 1

static void unref_ctx(void *ctx) {
  cflight_buffer_unref(ctx);
}

int cf_put_result_encode(cflight_buffer *app_metadata, cf_out_msg *out, cflight_error *err) {
  size_t n = cflight_buffer_size(app_metadata);
  if (out == NULL) {
    cflight_buffer_unref(app_metadata);
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "PutResult: NULL output");
  }
  if (n > GRPC_MAX_MESSAGE - 16) {
    cflight_buffer_unref(app_metadata);
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "PutResult of %zu bytes exceeds gRPC's 4 GiB message limit", n);
  }
  encoded *e = malloc(sizeof(encoded) + 2 * sizeof(cflight_ipc_piece) + 1 + VARINT_MAX);
  if (e == NULL) {
    cflight_buffer_unref(app_metadata);
    return CF_NOMEM(err, "PutResult");
  }
  uint8_t *block = (uint8_t *)&e->pieces[2];
  size_t np = 0;
  if (n > 0) {
    block[0] = (PUT_RESULT_FIELD_APP << 3) | WIRE_LEN;
    size_t len = 1 + put_varint(block + 1, n);
    e->pieces[np++] = (cflight_ipc_piece){block, len};
    e->pieces[np++] = (cflight_ipc_piece){cflight_buffer_data(app_metadata), n};
  }
  e->release = unref_ctx;
  e->release_ctx = app_metadata;
  e->app_metadata = NULL;
  e->n_pieces = np;
  *out = (cf_out_msg){e->pieces, np, encoded_done, e};
  return CFLIGHT_OK;
}

int cf_put_result_decode(const cf_msg *msg, cflight_buffer **out, cflight_error *err) {
  if (out == NULL || msg == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "PutResult: NULL message or output");
  }
  *out = NULL;
  reader r;
  rd_init(&r, msg, "PutResult");
  int rc = CFLIGHT_OK;
  while (rc == CFLIGHT_OK && r.left > 0) {
    uint32_t field;
    unsigned wire;
    uint64_t n;
    rc = rd_key(&r, &field, &wire, err);
    if (rc != CFLIGHT_OK) break;
    if (field == PUT_RESULT_FIELD_APP) {
      rc = rd_len(&r, field, wire, &n, err);
      if (rc == CFLIGHT_OK) rc = rd_replace(&r, n, out, err);
    } else {
      rc = rd_skip_value(&r, field, wire, err);
    }
  }
  if (rc != CFLIGHT_OK) {
    cflight_buffer_unref(*out);
    *out = NULL;
  }
  return rc;
}

/* ---- Any Flight message ---------------------------------------------------------------------- */

int cf_out_msg_from_buffer(cflight_buffer *buf, cf_out_msg *out, cflight_error *err) {
  if (out == NULL || buf == NULL) {
    cflight_buffer_unref(buf);
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL buffer or output");
  }
  encoded *e = malloc(sizeof(encoded) + sizeof(cflight_ipc_piece));
  if (e == NULL) {
    cflight_buffer_unref(buf);
    return CF_NOMEM(err, "outgoing message");
  }
  size_t n = cflight_buffer_size(buf);
  e->pieces[0] = (cflight_ipc_piece){cflight_buffer_data(buf), n};
  e->release = unref_ctx;
  e->release_ctx = buf;
  e->app_metadata = NULL;
  e->n_pieces = n > 0 ? 1 : 0;
  *out = (cf_out_msg){e->pieces, e->n_pieces, encoded_done, e};
  return CFLIGHT_OK;
}

int cf_flight_msg_encode(const void *msg, cf_out_msg *out, cflight_error *err) {
  cflight_buffer *buf;
  CF_RETURN_NOT_OK(cf_pb_serialize(msg, &buf, err));
  return cf_out_msg_from_buffer(buf, out, err);
}

int cf_msg_gather(const cf_msg *msg, cflight_buffer **out, cflight_error *err) {
  if (out == NULL || msg == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL message or output");
  }
  *out = NULL;
  reader r;
  rd_init(&r, msg, "message");
  if (r.left == 0) {
    *out = cflight_buffer_new(0);
    return *out != NULL ? CFLIGHT_OK : CF_NOMEM(err, "message");
  }
  rd_norm(&r);
  const cf_slice *s = &r.slices[r.si];
  if (s->len == r.left && s->buf != NULL) {
    const uint8_t *base = cflight_buffer_data(s->buf);
    if (s->data >= base && (size_t)(s->data - base) + s->len <= cflight_buffer_size(s->buf)) {
      *out = cflight_buffer_slice(s->buf, (size_t)(s->data - base), s->len);
      return *out != NULL ? CFLIGHT_OK : CF_NOMEM(err, "message");
    }
  }
  if (r.left > SIZE_MAX) return CF_NOMEM(err, "message");
  cflight_buffer *buf = cflight_buffer_new((size_t)r.left);
  if (buf == NULL) return CF_NOMEM(err, "message");
  rd_copy(&r, cflight_buffer_mutable_data(buf), r.left);
  *out = buf;
  return CFLIGHT_OK;
}

int cf_flight_msg_decode(const ProtobufCMessageDescriptor *desc, const cf_msg *msg, void **out,
                         cflight_error *err) {
  if (out == NULL || desc == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL type or output");
  }
  *out = NULL;
  cflight_buffer *buf;
  CF_RETURN_NOT_OK(cf_msg_gather(msg, &buf, err));
  ProtobufCMessage *m = NULL;
  int rc = cf_pb_deserialize(desc, cflight_buffer_data(buf), cflight_buffer_size(buf), &m, err);
  cflight_buffer_unref(buf);
  *out = m;
  return rc;
}
