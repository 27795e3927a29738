/* The reading state shared by the decoder, the stream reader and the file
 * reader: the schema, its plan, and the current dictionaries. */
#include "ipc/ipc.h"

void cf_reader_state_init(cf_reader_state *s, const cflight_ipc_options *opts) {
  memset(s, 0, sizeof(*s));
  s->opts = cf_ipc_options_copy(opts);
}

void cf_reader_state_free(cf_reader_state *s) {
  if (s->have_schema) {
    cf_dict_table_free(&s->dicts);
    cf_plan_free(&s->plan);
  }
  memset(s, 0, sizeof(*s));
}

int cf_reader_state_set_schema(cf_reader_state *s, const cf_fbt *schema_table, int version,
                               cflight_error *err) {
  cf_schema_info info;
  if (s->have_schema) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "stream: a second schema message (a stream has exactly one)");
  }
  CF_RETURN_NOT_OK(cf_schema_from_flatbuf(schema_table, &info, err));
  int rc = cf_plan_init(&s->plan, &info.schema, info.dict_ids, info.n_dict_ids, err);
  if (rc == CFLIGHT_INVALID_ARGUMENT) {
    rc = CFLIGHT_INVALID_DATA; /* the schema came from the bytes */
    if (err != NULL) err->code = rc;
  }
  cf_schema_info_free(&info);
  CF_RETURN_NOT_OK(rc);
  rc = cf_dict_table_init(&s->dicts, &s->plan, err);
  if (rc != CFLIGHT_OK) {
    cf_plan_free(&s->plan);
    return rc;
  }
  s->schema_version = version;
  s->have_schema = true;
  return CFLIGHT_OK;
}

int cf_reader_state_message(cf_reader_state *s, cf_ipc_msg *msg, cflight_buffer *body,
                            cflight_ipc_message_type *type, struct ArrowArray *out,
                            cflight_error *err) {
  *type = CFLIGHT_IPC_NONE;
  int64_t body_size = (int64_t)cflight_buffer_size(body);
  if (msg->body_length > body_size) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "message: the metadata announces a %lld-byte body, %lld bytes came",
                             (long long)msg->body_length, (long long)body_size);
  }
  if (msg->body_length > s->opts.max_message_size - (int64_t)msg->r.size) {
    return cflight_error_set(
        err, CFLIGHT_INVALID_DATA, "message: %lld bytes exceed the limit of %lld bytes",
        (long long)(msg->body_length + msg->r.size), (long long)s->opts.max_message_size);
  }
  if (msg->type == CF_MSG_SCHEMA) {
    CF_RETURN_NOT_OK(cf_reader_state_set_schema(s, &msg->header, msg->version, err));
    *type = CFLIGHT_IPC_SCHEMA;
    return CFLIGHT_OK;
  }
  if (!s->have_schema) {
    return cflight_error_set(
        err, CFLIGHT_INVALID_DATA, "stream: a %s message came before the schema",
        msg->type == CF_MSG_RECORD_BATCH ? "record batch" : "dictionary batch");
  }
  cf_decode_opts o = {
      .opts = &s->opts, .version = msg->version, .dicts = &s->dicts, .plan = &s->plan};
  if (msg->type == CF_MSG_DICTIONARY_BATCH) {
    bool is_delta, replaced;
    CF_RETURN_NOT_OK(cf_decode_dictionary_batch(&o, &msg->header, body, msg->body_length, &is_delta,
                                                &replaced, err));
    s->n_dictionary_batches++;
    if (replaced && s->is_file) {
      return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                               "file: a dictionary is replaced, which the file format does not "
                               "allow (only deltas)");
    }
    *type = CFLIGHT_IPC_DICTIONARY_BATCH;
    return CFLIGHT_OK;
  }
  CF_RETURN_NOT_OK(cf_decode_record_batch(&o, &msg->header, body, msg->body_length, out, err));
  *type = CFLIGHT_IPC_RECORD_BATCH;
  return CFLIGHT_OK;
}
