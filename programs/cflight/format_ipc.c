/* Arrow IPC output (file or stream format) through the IPC writer, which
 * takes the batches' buffers as they are (no rendering, no copy). */
#include "format.h"

typedef struct ipc_state {
  out_base *base;
  cflight_ipc_writer *writer;
} ipc_state;

static int ipc_sink(void *ctx, const cflight_ipc_piece *pieces, size_t n_pieces,
                    cflight_error *err) {
  FILE *fp = ctx;
  for (size_t i = 0; i < n_pieces; i++) {
    if (pieces[i].size > 0 && fwrite(pieces[i].data, 1, pieces[i].size, fp) != pieces[i].size) {
      return out_fp_check(fp, err);
    }
  }
  return CFLIGHT_OK;
}

static int ipc_begin(void *state, cflight_error *err) {
  ipc_state *st = state;
  cflight_ipc_format f =
      st->base->opts->format == OUT_ARROW ? CFLIGHT_IPC_FORMAT_FILE : CFLIGHT_IPC_FORMAT_STREAM;
  return cflight_ipc_writer_open_callback(ipc_sink, st->base->fp, f, st->base->schema, NULL,
                                          &st->writer, err);
}

static int ipc_write(void *state, const struct ArrowArray *batch, int64_t n, cflight_error *err) {
  ipc_state *st = state;
  if (n == batch->length) return cflight_ipc_writer_write(st->writer, batch, err);
  /* The first n rows: a shallow view of the batch (the encoder honours a
   * struct's offset and length), borrowed for the call only. */
  struct ArrowArray view = *batch;
  view.length = n;
  if (view.null_count != 0) view.null_count = -1;
  return cflight_ipc_writer_write(st->writer, &view, err);
}

static int ipc_end(void *state, int64_t total_rows, bool limited, cflight_error *err) {
  CF_UNUSED(total_rows);
  CF_UNUSED(limited);
  ipc_state *st = state;
  return cflight_ipc_writer_close(st->writer, err);
}

static void ipc_free(void *state) {
  ipc_state *st = state;
  cflight_ipc_writer_free(st->writer);
  free(st);
}

static const out_impl ipc_impl = {ipc_begin, ipc_write, ipc_end, ipc_free};

int out_ipc_new(out_base *base, void **state, const out_impl **impl, cflight_error *err) {
  ipc_state *st = cf_calloc(1, sizeof(*st));
  if (st == NULL) return CF_NOMEM(err, "Arrow output");
  st->base = base;
  *state = st;
  *impl = &ipc_impl;
  return CFLIGHT_OK;
}
