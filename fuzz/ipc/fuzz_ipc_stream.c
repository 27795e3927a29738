/* libFuzzer target: the stream reader over arbitrary bytes, and the
 * decoder's schema and body-length entry points. */
#include "fuzz_ipc_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cflight_error err = {0};
  cflight_ipc_options *o = fuzz_options();
  cflight_buffer *buf = cflight_buffer_copy(data, size);
  struct ArrowArrayStream st;
  if (buf != NULL && cflight_ipc_stream_open_buffer(buf, o, &st, &err) == CFLIGHT_OK) {
    struct ArrowSchema schema;
    if (st.get_schema(&st, &schema) == 0) {
      cflight_ipc_encoder *enc;
      cflight_ipc_decoder *dec;
      fuzz_codec_open(&schema, &enc, &dec);
      for (;;) {
        struct ArrowArray batch;
        if (st.get_next(&st, &batch) != 0 || batch.release == NULL) break;
        fuzz_check_batch(&schema, &batch, enc, dec);
        batch.release(&batch);
      }
      cflight_ipc_encoder_free(enc);
      cflight_ipc_decoder_free(dec);
      schema.release(&schema);
    }
    st.release(&st);
  }
  /* The same bytes as a schema, and as message metadata. */
  struct ArrowSchema s;
  if (cflight_ipc_schema_deserialize(data, size, &s, &err) == CFLIGHT_OK) s.release(&s);
  int64_t body_length;
  cflight_ipc_message_body_length(data, size, &body_length, &err);
  cflight_buffer_unref(buf);
  cflight_ipc_options_free(o);
  return 0;
}
