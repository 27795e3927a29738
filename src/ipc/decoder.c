/* The public decoder (message by message, as Flight delivers them) and
 * schemas as bytes. */
#include "ipc/encode.h"

struct cflight_ipc_decoder {
  cf_reader_state st;
};

int cflight_ipc_decoder_new(const cflight_ipc_options *opts, cflight_ipc_decoder **out,
                            cflight_error *err) {
  *out = calloc(1, sizeof(cflight_ipc_decoder));
  if (*out == NULL) return CF_NOMEM(err, "decoder");
  cf_reader_state_init(&(*out)->st, opts);
  return CFLIGHT_OK;
}

void cflight_ipc_decoder_free(cflight_ipc_decoder *dec) {
  if (dec == NULL) return;
  cf_reader_state_free(&dec->st);
  free(dec);
}

int cflight_ipc_decoder_decode(cflight_ipc_decoder *dec, const void *metadata, size_t metadata_size,
                               cflight_buffer *body, cflight_ipc_message_type *out_type,
                               struct ArrowArray *out_batch, cflight_error *err) {
  cf_ipc_msg msg;
  *out_type = CFLIGHT_IPC_NONE;
  memset(out_batch, 0, sizeof(*out_batch));
  if (dec == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "decoder is NULL");
  CF_RETURN_NOT_OK(cf_ipc_msg_parse(&msg, metadata, metadata_size, err));
  return cf_reader_state_message(&dec->st, &msg, body, out_type, out_batch, err);
}

int cflight_ipc_decoder_schema(const cflight_ipc_decoder *dec, struct ArrowSchema *out,
                               cflight_error *err) {
  memset(out, 0, sizeof(*out));
  if (dec == NULL || !dec->st.have_schema) {
    return cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION,
                             "decoder: no schema has been decoded yet");
  }
  return cf_schema_copy(&dec->st.plan.schema, out, err);
}

int64_t cflight_ipc_decoder_dictionary_ids(const cflight_ipc_decoder *dec, int64_t *ids,
                                           int64_t cap) {
  if (dec == NULL || !dec->st.have_schema) return -1;
  return cf_plan_dict_ids(&dec->st.plan, ids, ids != NULL ? cap : 0);
}

int cflight_ipc_schema_serialize(const struct ArrowSchema *schema, cflight_buffer **out,
                                 cflight_error *err) {
  cf_plan plan;
  cf_fbb b;
  *out = NULL;
  if (schema == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "schema serialize: NULL schema");
  CF_RETURN_NOT_OK(cf_plan_init(&plan, schema, NULL, 0, err));
  cf_fbb_init(&b);
  int rc = cf_schema_message(&b, &plan, err);
  if (rc == CFLIGHT_OK) {
    uint8_t prefix[8];
    size_t prefix_size;
    size_t pad = cf_frame_prefix(cf_fbb_size(&b), false, prefix, &prefix_size);
    size_t total = prefix_size + cf_fbb_size(&b) + pad;
    cflight_buffer *buf = cflight_buffer_new(total);
    if (buf == NULL) {
      rc = CF_NOMEM(err, "serialized schema");
    } else {
      uint8_t *p = cflight_buffer_mutable_data(buf);
      memcpy(p, prefix, prefix_size);
      memcpy(p + prefix_size, cf_fbb_data(&b), cf_fbb_size(&b));
      memset(p + prefix_size + cf_fbb_size(&b), 0, pad);
      *out = buf;
    }
  }
  cf_fbb_reset(&b);
  cf_plan_free(&plan);
  return rc;
}

static int schema_from_message(const void *data, size_t size, struct ArrowSchema *out,
                               cflight_error *err) {
  cf_ipc_msg msg;
  cf_reader_state st;
  CF_RETURN_NOT_OK(cf_ipc_msg_parse(&msg, data, size, err));
  if (msg.type != CF_MSG_SCHEMA) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "schema deserialize: the message is not a schema (type %d)", msg.type);
  }
  cf_reader_state_init(&st, NULL);
  int rc = cf_reader_state_set_schema(&st, &msg.header, msg.version, err);
  if (rc == CFLIGHT_OK) rc = cf_schema_copy(&st.plan.schema, out, err);
  cf_reader_state_free(&st);
  return rc;
}

int cflight_ipc_schema_deserialize(const void *data, size_t size, struct ArrowSchema *out,
                                   cflight_error *err) {
  memset(out, 0, sizeof(*out));
  if (data == NULL || size == 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA, "schema deserialize: empty input");
  }
  const uint8_t *p = data;
  if (size >= 8 && cf_load_u32(p) == 0xFFFFFFFFu) {
    cf_frame fr;
    CF_RETURN_NOT_OK(cf_frame_read(p, size, &fr, err));
    if (fr.eos) {
      return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                               "schema deserialize: an end-of-stream marker, not a schema");
    }
    return schema_from_message(fr.meta, fr.meta_size, out, err);
  }
  /* Either the pre-1.0 framing (int32 length, message) or a bare message:
   * try the framing when its length fits, then the bare form. */
  if (size >= 8) {
    int32_t len = cf_load_i32(p);
    if (len > 0 && (size_t)len <= size - 4 &&
        schema_from_message(p + 4, (size_t)len, out, NULL) == CFLIGHT_OK)
      return CFLIGHT_OK;
  }
  return schema_from_message(p, size, out, err);
}
