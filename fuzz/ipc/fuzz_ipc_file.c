/* libFuzzer target: the file reader over arbitrary bytes, batches read in
 * reverse (random access) and then as a stream. */
#include "fuzz_ipc_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cflight_error err = {0};
  cflight_ipc_options *o = fuzz_options();
  cflight_buffer *buf = cflight_buffer_copy(data, size);
  cflight_ipc_file_reader *r;
  if (buf != NULL && cflight_ipc_file_reader_open_buffer(buf, o, &r, &err) == CFLIGHT_OK) {
    struct ArrowSchema schema;
    if (cflight_ipc_file_reader_schema(r, &schema, &err) == CFLIGHT_OK) {
      cflight_ipc_encoder *enc;
      cflight_ipc_decoder *dec;
      fuzz_codec_open(&schema, &enc, &dec);
      for (int64_t i = cflight_ipc_file_reader_num_batches(r) - 1; i >= 0; i--) {
        struct ArrowArray batch;
        if (cflight_ipc_file_reader_read(r, i, &batch, &err) != CFLIGHT_OK) continue;
        fuzz_check_batch(&schema, &batch, enc, dec);
        batch.release(&batch);
      }
      cflight_ipc_encoder_free(enc);
      cflight_ipc_decoder_free(dec);
      schema.release(&schema);
    }
    struct ArrowArrayStream st;
    if (cflight_ipc_file_reader_to_stream(r, &st, &err) == CFLIGHT_OK) {
      for (;;) {
        struct ArrowArray batch;
        if (st.get_next(&st, &batch) != 0 || batch.release == NULL) break;
        batch.release(&batch);
      }
      st.release(&st);
    }
  }
  cflight_buffer_unref(buf);
  cflight_ipc_options_free(o);
  return 0;
}
