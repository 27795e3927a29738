/* The Flight types' links to the IPC layer: schemas as ArrowSchema in
 * FlightInfo and SchemaResult, FlightInfo for batches and streams, and
 * FlightData framing of real IPC payloads, decoded back into a batch. */
#include "arrow/arrow.h"
#include "flight/flight_data.h"
#include "flight/flight_pb.h"
#include "harness.h"

static cflight_error err;

/* struct<a: int64, s: utf8> */
static void make_schema(struct ArrowSchema *s) {
  CHECK_OK(cf_schema_init(s, "+s", "", 2, &err), &err);
  CHECK_OK(cf_schema_init(s->children[0], "l", "a", 0, &err), &err);
  CHECK_OK(cf_schema_init(s->children[1], "u", "s", 0, &err), &err);
}

/* Rows k .. k+2: a = k*10 + i, s = "x", "yy", "zzz". */
static void make_batch(struct ArrowArray *b, int64_t k) {
  CHECK_OK(cf_array_init(b, 1, 2, &err), &err);
  b->length = 3;
  struct ArrowArray *a = b->children[0], *s = b->children[1];
  CHECK_OK(cf_array_init(a, 2, 0, &err), &err);
  a->length = 3;
  int64_t *v = cf_array_alloc_buffer(a, 1, 3 * sizeof(int64_t), &err);
  for (int i = 0; i < 3; i++)
    v[i] = k * 10 + i;
  CHECK_OK(cf_array_init(s, 3, 0, &err), &err);
  s->length = 3;
  int32_t *off = cf_array_alloc_buffer(s, 1, 4 * sizeof(int32_t), &err);
  off[0] = 0, off[1] = 1, off[2] = 3, off[3] = 6;
  char *data = cf_array_alloc_buffer(s, 2, 6, &err);
  memcpy(data, "xyyzzz", 6);
}

/* int64 values 24 + utf8 offsets 16 + utf8 data 6 (no validity bitmaps). */
#define BATCH_BYTES 46

static void test_schema_helpers(void) {
  struct ArrowSchema schema, back;
  make_schema(&schema);
  cflight_flight_info *info = NULL;
  CHECK_OK(cflight_flight_info_new(&info, &err), &err);
  /* No schema bytes yet. */
  CHECK_EQ_INT(cflight_flight_info_schema(info, &back, &err), CFLIGHT_INVALID_DATA);
  CHECK_OK(cflight_flight_info_set_schema(info, &schema, &err), &err);
  size_t n;
  const uint8_t *bytes = cflight_flight_info_schema_bytes(info, &n);
  CHECK(bytes != NULL && n > 8);
  /* The encapsulated form: continuation marker first. */
  CHECK(bytes != NULL && memcmp(bytes, "\xff\xff\xff\xff", 4) == 0);
  CHECK_OK(cflight_flight_info_schema(info, &back, &err), &err);
  CHECK_EQ_INT(back.n_children, 2);
  if (back.n_children == 2) {
    CHECK_EQ_STR(back.children[0]->name, "a");
    CHECK_EQ_STR(back.children[0]->format, "l");
    CHECK_EQ_STR(back.children[1]->format, "u");
  }
  cf_schema_release(&back);
  /* The bytes survive the protobuf round trip. */
  cflight_buffer *ser = NULL;
  cflight_flight_info *info2 = NULL;
  CHECK_OK(cflight_flight_info_serialize(info, &ser, &err), &err);
  CHECK_OK(cflight_flight_info_deserialize(cflight_buffer_data(ser), cflight_buffer_size(ser),
                                           &info2, &err),
           &err);
  CHECK_OK(cflight_flight_info_schema(info2, &back, &err), &err);
  CHECK_EQ_STR(back.children[1]->name, "s");
  cf_schema_release(&back);
  cflight_buffer_unref(ser);
  cflight_flight_info_free(info2);
  /* Bad schema bytes are the IPC layer's INVALID_DATA. */
  CHECK_OK(
      cflight_flight_info_set_schema_bytes(info, "\xff\xff\xff\xff\x08\0\0\0garbage!", 16, &err),
      &err);
  CHECK_EQ_INT(cflight_flight_info_schema(info, &back, &err), CFLIGHT_INVALID_DATA);
  cflight_flight_info_free(info);

  cflight_schema_result *sr = NULL;
  CHECK_OK(cflight_schema_result_new_from_schema(&schema, &sr, &err), &err);
  CHECK_OK(cflight_schema_result_schema(sr, &back, &err), &err);
  CHECK_EQ_INT(back.n_children, 2);
  cf_schema_release(&back);
  cflight_schema_result_free(sr);
  struct ArrowSchema released = {0};
  CHECK_EQ_INT(cflight_schema_result_new_from_schema(&released, &sr, &err),
               CFLIGHT_INVALID_ARGUMENT);
  cf_schema_release(&schema);
}

static void check_info_for_batches(const cflight_flight_info *info, int64_t rows, int64_t bytes,
                                   const cflight_descriptor *desc, const cflight_ticket *ticket,
                                   const cflight_location *loc) {
  CHECK_EQ_INT(cflight_flight_info_total_records(info), rows);
  CHECK_EQ_INT(cflight_flight_info_total_bytes(info), bytes);
  CHECK(cflight_descriptor_equals(cflight_flight_info_descriptor(info), desc));
  CHECK_EQ_INT(cflight_flight_info_endpoint_count(info), 1);
  const cflight_endpoint *ep = cflight_flight_info_endpoint(info, 0);
  CHECK(cflight_ticket_equals(cflight_endpoint_ticket(ep), ticket));
  CHECK_EQ_INT(cflight_endpoint_location_count(ep), 1);
  CHECK(cflight_location_equals(cflight_endpoint_location(ep, 0), loc));
  struct ArrowSchema back;
  CHECK_OK(cflight_flight_info_schema(info, &back, &err), &err);
  CHECK_EQ_INT(back.n_children, 2);
  cf_schema_release(&back);
}

typedef struct two_batches {
  int next;
} two_batches;

static int two_batches_next(void *ctx, struct ArrowArray *out, cflight_error *e) {
  two_batches *tb = ctx;
  if (tb->next < 2) make_batch(out, tb->next++);
  return CFLIGHT_OK;
}

static void test_info_for_batches(void) {
  struct ArrowSchema schema;
  make_schema(&schema);
  struct ArrowArray batches[2];
  make_batch(&batches[0], 0);
  make_batch(&batches[1], 1);
  const char *parts[] = {"t"};
  cflight_descriptor *desc = NULL;
  cflight_ticket *ticket = NULL;
  cflight_location *loc = NULL;
  CHECK_OK(cflight_descriptor_new_path(parts, 1, &desc, &err), &err);
  CHECK_OK(cflight_ticket_new("tk", 2, &ticket, &err), &err);
  CHECK_OK(cflight_location_new_tcp("localhost", 1234, &loc, &err), &err);
  const cflight_location *locs[] = {loc};

  cflight_flight_info *info = NULL;
  CHECK_OK(
      cflight_flight_info_new_for_batches(desc, &schema, batches, 2, ticket, locs, 1, &info, &err),
      &err);
  check_info_for_batches(info, 6, 2 * BATCH_BYTES, desc, ticket, loc);
  cflight_flight_info_free(info);

  /* A sliced batch counts what its offset and length reach. */
  batches[1].children[0]->offset = 1;
  batches[1].children[0]->length = 2;
  CHECK_OK(cflight_flight_info_new_for_batches(NULL, &schema, &batches[1], 1, NULL, NULL, 0, &info,
                                               &err),
           &err);
  CHECK_EQ_INT(cflight_flight_info_total_bytes(info), BATCH_BYTES);
  CHECK(cflight_flight_info_descriptor(info) == NULL);
  CHECK(cflight_endpoint_ticket(cflight_flight_info_endpoint(info, 0)) == NULL);
  cflight_flight_info_free(info);

  /* A batch that does not fit the schema. */
  struct ArrowSchema wrong;
  CHECK_OK(cf_schema_init(&wrong, "+s", "", 1, &err), &err);
  CHECK_OK(cf_schema_init(wrong.children[0], "l", "a", 0, &err), &err);
  CHECK_EQ_INT(
      cflight_flight_info_new_for_batches(NULL, &wrong, batches, 1, NULL, NULL, 0, &info, &err),
      CFLIGHT_INVALID_ARGUMENT);
  CHECK(info == NULL);
  cf_schema_release(&wrong);
  cf_array_release(&batches[0]);
  cf_array_release(&batches[1]);

  /* The same from a stream, which is read to its end. */
  struct ArrowArrayStream stream;
  struct ArrowSchema stream_schema;
  make_schema(&stream_schema);
  two_batches *tb = calloc(1, sizeof(*tb));
  CHECK_OK(
      cf_stream_init(&stream, &stream_schema, (cf_stream_source){two_batches_next, free, tb}, &err),
      &err);
  CHECK_OK(cflight_flight_info_new_for_stream(desc, &stream, ticket, locs, 1, &info, &err), &err);
  check_info_for_batches(info, 6, 2 * BATCH_BYTES, desc, ticket, loc);
  CHECK(stream.release != NULL);
  stream.release(&stream);
  cflight_flight_info_free(info);

  cf_schema_release(&schema);
  cflight_descriptor_free(desc);
  cflight_ticket_free(ticket);
  cflight_location_free(loc);
}

static uint8_t *concat(const cf_out_msg *out, size_t *n) {
  size_t total = 0;
  for (size_t i = 0; i < out->n_pieces; i++)
    total += out->pieces[i].size;
  uint8_t *p = malloc(total + 1);
  size_t at = 0;
  for (size_t i = 0; i < out->n_pieces; i++) {
    memcpy(p + at, out->pieces[i].data, out->pieces[i].size);
    at += out->pieces[i].size;
  }
  *n = total;
  return p;
}

/* The same FlightData through protobuf-c, from the payload's parts. */
static uint8_t *pack_payload(const cflight_descriptor *desc, const cflight_ipc_payload *p,
                             const char *app, size_t *n) {
  Arrow__Flight__Protocol__FlightData fd = ARROW__FLIGHT__PROTOCOL__FLIGHT_DATA__INIT;
  fd.flight_descriptor = (pb_descriptor *)desc;
  cflight_ipc_piece meta = cflight_ipc_payload_metadata(p);
  fd.data_header = (ProtobufCBinaryData){meta.size, (uint8_t *)meta.data};
  fd.app_metadata = (ProtobufCBinaryData){strlen(app), (uint8_t *)app};
  const cflight_ipc_piece *body;
  size_t n_body = cflight_ipc_payload_body(p, &body);
  size_t body_len = (size_t)cflight_ipc_payload_body_length(p), at = 0;
  uint8_t *flat = malloc(body_len + 1);
  for (size_t i = 0; i < n_body; i++) {
    memcpy(flat + at, body[i].data, body[i].size);
    at += body[i].size;
  }
  fd.data_body = (ProtobufCBinaryData){body_len, flat};
  *n = protobuf_c_message_get_packed_size(&fd.base);
  uint8_t *bytes = malloc(*n + 1);
  protobuf_c_message_pack(&fd.base, bytes);
  free(flat);
  return bytes;
}

static void test_payload_framing(void) {
  struct ArrowSchema schema;
  make_schema(&schema);
  struct ArrowArray batch;
  make_batch(&batch, 7);
  cflight_ipc_encoder *enc = NULL;
  cflight_ipc_decoder *dec = NULL;
  CHECK_OK(cflight_ipc_encoder_new(&schema, NULL, &enc, &err), &err);
  CHECK_OK(cflight_ipc_decoder_new(NULL, &dec, &err), &err);
  const char *parts[] = {"put", "here"};
  cflight_descriptor *desc = NULL;
  CHECK_OK(cflight_descriptor_new_path(parts, 2, &desc, &err), &err);

  cflight_ipc_payload *payloads[2] = {NULL, NULL};
  CHECK_OK(cflight_ipc_encoder_schema(enc, &payloads[0], &err), &err);
  CHECK_OK(cflight_ipc_encoder_write_batch(enc, &batch, &err), &err);
  payloads[1] = cflight_ipc_encoder_next(enc);
  CHECK(payloads[1] != NULL && cflight_ipc_encoder_next(enc) == NULL);
  for (int i = 0; i < 2 && payloads[1] != NULL; i++) {
    const cflight_descriptor *d = i == 0 ? desc : NULL;
    const char *app = i == 0 ? "" : "meta";
    size_t ref_n;
    uint8_t *ref = pack_payload(d, payloads[i], app, &ref_n);
    cf_out_msg out;
    cflight_buffer *app_buf = app[0] != '\0' ? cflight_buffer_copy(app, strlen(app)) : NULL;
    CHECK_OK(cf_flight_data_encode(d, payloads[i], app_buf, &out, &err), &err);
    size_t n;
    uint8_t *bytes = concat(&out, &n);
    CHECK_MSG(n == ref_n && memcmp(bytes, ref, n) == 0, "payload %d framed unlike protobuf-c", i);

    /* Back through the decoder into the IPC decoder: the same batch. */
    cflight_buffer *in = cflight_buffer_copy(bytes, n);
    cf_msg m = {&(cf_slice){in, cflight_buffer_data(in), n}, 1, n};
    cf_flight_data fd;
    CHECK_OK(cf_flight_data_decode(&m, &fd, &err), &err);
    CHECK(cflight_descriptor_equals(fd.descriptor, d));
    cflight_ipc_message_type type;
    struct ArrowArray got = {0};
    CHECK_OK(cflight_ipc_decoder_decode(dec, cflight_buffer_data(fd.data_header),
                                        cflight_buffer_size(fd.data_header), fd.data_body, &type,
                                        &got, &err),
             &err);
    if (i == 0) {
      CHECK_EQ_INT(type, CFLIGHT_IPC_SCHEMA);
      CHECK(fd.data_body == NULL && fd.app_metadata == NULL);
    } else {
      CHECK_EQ_INT(type, CFLIGHT_IPC_RECORD_BATCH);
      CHECK_OK(cflight_array_equal(&schema, &batch, &got, &err), &err);
      CHECK(fd.app_metadata != NULL && cflight_buffer_size(fd.app_metadata) == 4);
      cf_array_release(&got);
    }
    cf_flight_data_reset(&fd);
    cflight_buffer_unref(in);
    out.done(out.ctx); /* frees the payload */
    free(bytes);
    free(ref);
  }
  /* No payload, only app_metadata (DoExchange metadata-only messages). */
  cf_out_msg out;
  CHECK_OK(cf_flight_data_encode(NULL, NULL, cflight_buffer_copy("m", 1), &out, &err), &err);
  size_t n;
  uint8_t *bytes = concat(&out, &n);
  CHECK(n == 3 && memcmp(bytes, "\x1a\x01m", 3) == 0);
  free(bytes);
  out.done(out.ctx);

  cflight_descriptor_free(desc);
  cflight_ipc_encoder_free(enc);
  cflight_ipc_decoder_free(dec);
  cf_array_release(&batch);
  cf_schema_release(&schema);
}

int main(void) {
  RUN_TEST(test_schema_helpers);
  RUN_TEST(test_info_for_batches);
  RUN_TEST(test_payload_framing);
  return cft_finish();
}
