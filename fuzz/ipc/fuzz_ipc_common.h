/* Shared by the IPC fuzz targets: reading options, and a check that every
 * batch a reader accepts is valid, equal to itself, and survives being
 * encoded and decoded again unchanged. A failed check is a bug: abort. */
#ifndef CFLIGHT_FUZZ_IPC_COMMON_H
#define CFLIGHT_FUZZ_IPC_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "ipc/ipc.h"

static cflight_ipc_options *fuzz_options(void) {
  cflight_ipc_options *o = cflight_ipc_options_new();
  cflight_ipc_options_set_validate_full(o, true);
  /* libFuzzer reports any single allocation above its malloc limit. */
  cflight_ipc_options_set_max_message_size(o, (int64_t)64 << 20);
  return o;
}

static void fuzz_fail(const char *what, const cflight_error *err) {
  fprintf(stderr, "fuzz check failed: %s: %s\n", what, err->message);
  abort();
}

/* Checks an accepted batch: validation, self-equality, and a round trip
 * through the encoder (the encoder keeps dictionary state in enc). */
static void fuzz_check_batch(const struct ArrowSchema *schema, const struct ArrowArray *batch,
                             cflight_ipc_encoder *enc, cflight_ipc_decoder *dec) {
  cflight_error err = {0};
  if (cflight_array_validate(schema, batch, true, &err) != CFLIGHT_OK)
    fuzz_fail("accepted batch fails validation", &err);
  if (cflight_array_equal(schema, batch, batch, &err) != CFLIGHT_OK)
    fuzz_fail("batch differs from itself", &err);
  if (cflight_ipc_encoder_write_batch(enc, batch, &err) != CFLIGHT_OK)
    fuzz_fail("cannot re-encode an accepted batch", &err);
  cflight_ipc_payload *p;
  while ((p = cflight_ipc_encoder_next(enc)) != NULL) {
    cf_bytes body = {0};
    const cflight_ipc_piece *pieces;
    size_t n = cflight_ipc_payload_body(p, &pieces);
    for (size_t i = 0; i < n; i++)
      if (cf_bytes_append(&body, pieces[i].data, pieces[i].size, &err) != CFLIGHT_OK)
        fuzz_fail("out of memory", &err);
    cflight_buffer *b = cflight_buffer_copy(body.data, body.len);
    cf_bytes_reset(&body);
    cflight_ipc_piece meta = cflight_ipc_payload_metadata(p);
    cflight_ipc_message_type type;
    struct ArrowArray out;
    if (cflight_ipc_decoder_decode(dec, meta.data, meta.size, b, &type, &out, &err) != CFLIGHT_OK)
      fuzz_fail("cannot decode a re-encoded message", &err);
    if (type == CFLIGHT_IPC_RECORD_BATCH) {
      if (cflight_array_equal(schema, batch, &out, &err) != CFLIGHT_OK)
        fuzz_fail("re-encoded batch differs", &err);
      out.release(&out);
    }
    cflight_buffer_unref(b);
    cflight_ipc_payload_free(p);
  }
}

/* An encoder and decoder pair for re-encoding batches of schema. */
static int fuzz_codec_open(const struct ArrowSchema *schema, cflight_ipc_encoder **enc,
                           cflight_ipc_decoder **dec) {
  cflight_error err = {0};
  if (cflight_ipc_encoder_new(schema, NULL, enc, &err) != CFLIGHT_OK) {
    /* A decoded schema must be writable. */
    fuzz_fail("cannot encode a decoded schema", &err);
  }
  cflight_ipc_options *o = fuzz_options();
  cflight_ipc_decoder_new(o, dec, &err);
  cflight_ipc_options_free(o);
  cflight_ipc_payload *p;
  if (cflight_ipc_encoder_schema(*enc, &p, &err) != CFLIGHT_OK) fuzz_fail("schema", &err);
  cflight_ipc_piece meta = cflight_ipc_payload_metadata(p);
  cflight_ipc_message_type type;
  struct ArrowArray out;
  if (cflight_ipc_decoder_decode(*dec, meta.data, meta.size, NULL, &type, &out, &err) != CFLIGHT_OK)
    fuzz_fail("cannot decode a re-encoded schema", &err);
  struct ArrowSchema again;
  if (cflight_ipc_decoder_schema(*dec, &again, &err) != CFLIGHT_OK) fuzz_fail("schema", &err);
  cflight_error why = {0};
  if (cf_schema_equal(schema, &again, &why) != CFLIGHT_OK) {
    fprintf(stderr, "fuzz check failed: schema changes through a round trip: %s\n", why.message);
    abort();
  }
  again.release(&again);
  cflight_ipc_payload_free(p);
  return 0;
}

#endif
