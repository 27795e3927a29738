/* The Flight types' links to Arrow data: schemas as ArrowSchema through the
 * IPC layer, and FlightInfo built from batches. Kept apart from the
 * protobuf-only types so that those do not depend on the IPC codec. */
#include "arrow/arrow.h"
#include "flight/flight_pb.h"

/* ---- Schemas ------------------------------------------------------------------------------- */

static int schema_from_bytes(const ProtobufCBinaryData *bytes, const char *what,
                             struct ArrowSchema *out, cflight_error *err) {
  if (out == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "%s: NULL output schema", what);
  }
  if (bytes->len == 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s has no schema bytes", what);
  }
  return cflight_ipc_schema_deserialize(bytes->data, bytes->len, out, err);
}

static int schema_to_bytes(const struct ArrowSchema *schema, ProtobufCBinaryData *field,
                           cflight_error *err) {
  if (schema == NULL || schema->release == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL or released schema");
  }
  cflight_buffer *buf = NULL;
  CF_RETURN_NOT_OK(cflight_ipc_schema_serialize(schema, &buf, err));
  int rc = cf_pb_set_bytes(field, cflight_buffer_data(buf), cflight_buffer_size(buf), err);
  cflight_buffer_unref(buf);
  return rc;
}

int cflight_flight_info_schema(const cflight_flight_info *info, struct ArrowSchema *out,
                               cflight_error *err) {
  if (info == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL FlightInfo");
  return schema_from_bytes(&((const pb_flight_info *)info)->schema, "FlightInfo", out, err);
}

int cflight_flight_info_set_schema(cflight_flight_info *info, const struct ArrowSchema *schema,
                                   cflight_error *err) {
  if (info == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL FlightInfo");
  return schema_to_bytes(schema, &((pb_flight_info *)info)->schema, err);
}

typedef Arrow__Flight__Protocol__SchemaResult pb_schema_result;

int cflight_schema_result_new_from_schema(const struct ArrowSchema *schema,
                                          cflight_schema_result **out, cflight_error *err) {
  if (out == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL output");
  *out = NULL;
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(cf_pb_new(&arrow__flight__protocol__schema_result__descriptor, &m, err));
  int rc = schema_to_bytes(schema, &((pb_schema_result *)m)->schema, err);
  if (rc != CFLIGHT_OK) {
    cf_pb_free(m);
    return rc;
  }
  *out = (cflight_schema_result *)m;
  return CFLIGHT_OK;
}

int cflight_schema_result_schema(const cflight_schema_result *r, struct ArrowSchema *out,
                                 cflight_error *err) {
  if (r == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL SchemaResult");
  return schema_from_bytes(&((const pb_schema_result *)r)->schema, "SchemaResult", out, err);
}

/* ---- FlightInfo for batches ------------------------------------------------------------------ */

typedef struct info_totals {
  int64_t records;
  int64_t bytes;
} info_totals;

static int add_batch(const struct ArrowSchema *schema, const struct ArrowArray *batch,
                     info_totals *totals, cflight_error *err) {
  if (batch == NULL || batch->release == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL or released batch");
  }
  if (cf_add_overflow_i64(totals->records, batch->length, &totals->records)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "record count overflows");
  }
  return cf_array_nbytes(schema, batch, &totals->bytes, err);
}

static int info_finish(const cflight_descriptor *descriptor, const struct ArrowSchema *schema,
                       const info_totals *totals, const cflight_ticket *ticket,
                       const cflight_location *const *locations, size_t n_locations,
                       cflight_flight_info **out, cflight_error *err) {
  cflight_flight_info *info = NULL;
  cflight_endpoint *ep = NULL;
  int rc = cflight_flight_info_new(&info, err);
  if (rc == CFLIGHT_OK) rc = cflight_flight_info_set_schema(info, schema, err);
  if (rc == CFLIGHT_OK && descriptor != NULL) {
    rc = cflight_flight_info_set_descriptor(info, descriptor, err);
  }
  if (rc == CFLIGHT_OK) rc = cflight_endpoint_new(ticket, locations, n_locations, &ep, err);
  if (rc == CFLIGHT_OK) rc = cflight_flight_info_add_endpoint(info, ep, err);
  cflight_endpoint_free(ep);
  if (rc != CFLIGHT_OK) {
    cflight_flight_info_free(info);
    return rc;
  }
  cflight_flight_info_set_total_records(info, totals->records);
  cflight_flight_info_set_total_bytes(info, totals->bytes);
  *out = info;
  return CFLIGHT_OK;
}

int cflight_flight_info_new_for_batches(const cflight_descriptor *descriptor,
                                        const struct ArrowSchema *schema,
                                        const struct ArrowArray *batches, size_t n_batches,
                                        const cflight_ticket *ticket,
                                        const cflight_location *const *locations,
                                        size_t n_locations, cflight_flight_info **out,
                                        cflight_error *err) {
  if (out == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL output");
  *out = NULL;
  if (schema == NULL || schema->release == NULL || (n_batches > 0 && batches == NULL)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL schema or batches");
  }
  info_totals totals = {0, 0};
  for (size_t i = 0; i < n_batches; i++) {
    CF_RETURN_NOT_OK(add_batch(schema, &batches[i], &totals, err));
  }
  return info_finish(descriptor, schema, &totals, ticket, locations, n_locations, out, err);
}

static int stream_error(struct ArrowArrayStream *stream, int errno_code, cflight_error *err) {
  const char *msg = stream->get_last_error != NULL ? stream->get_last_error(stream) : NULL;
  return cflight_error_set(err, CFLIGHT_IO_ERROR, "reading the stream failed (errno %d): %s",
                           errno_code, msg != NULL ? msg : "no message");
}

int cflight_flight_info_new_for_stream(const cflight_descriptor *descriptor,
                                       struct ArrowArrayStream *stream,
                                       const cflight_ticket *ticket,
                                       const cflight_location *const *locations, size_t n_locations,
                                       cflight_flight_info **out, cflight_error *err) {
  if (out == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL output");
  *out = NULL;
  if (stream == NULL || stream->release == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL or released stream");
  }
  struct ArrowSchema schema = {0};
  int e = stream->get_schema(stream, &schema);
  if (e != 0) return stream_error(stream, e, err);
  info_totals totals = {0, 0};
  int rc = CFLIGHT_OK;
  for (;;) {
    struct ArrowArray batch = {0};
    e = stream->get_next(stream, &batch);
    if (e != 0) {
      rc = stream_error(stream, e, err);
      break;
    }
    if (batch.release == NULL) break;
    rc = add_batch(&schema, &batch, &totals, err);
    batch.release(&batch);
    if (rc != CFLIGHT_OK) break;
  }
  if (rc == CFLIGHT_OK) {
    rc = info_finish(descriptor, &schema, &totals, ticket, locations, n_locations, out, err);
  }
  if (schema.release != NULL) schema.release(&schema);
  return rc;
}
