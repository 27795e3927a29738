/* The record batch encoder's working state: field nodes, buffer
 * descriptions and body pieces collected while walking an array, turned
 * into a payload at the end. Reused from batch to batch. */
#ifndef CF_IPC_ENCODE_H
#define CF_IPC_ENCODE_H

#include "ipc/ipc.h"

typedef struct cf_enc_node {
  int64_t length;
  int64_t null_count;
} cf_enc_node;

typedef struct cf_enc_buf {
  int64_t offset;
  int64_t length;
} cf_enc_buf;

typedef struct cf_enc {
  cf_compressor *comp; /* borrowed; NULL: no compression */
  cf_enc_node *nodes;
  size_t n_nodes, cap_nodes;
  cf_enc_buf *bufs;
  size_t n_bufs, cap_bufs;
  int64_t *variadic;
  size_t n_variadic, cap_variadic;
  cflight_ipc_piece *pieces;
  size_t n_pieces, cap_pieces;
  cflight_buffer **owned; /* new buffers (re-packed, rebased, compressed) */
  size_t n_owned, cap_owned;
  int64_t body_length;
} cf_enc;

void cf_enc_init(cf_enc *e, cf_compressor *comp);
/* Forgets the collected state (and drops owned buffers not yet handed over). */
void cf_enc_reset(cf_enc *e);
void cf_enc_free(cf_enc *e);

/* Walks the columns of a batch (a struct array of root's children). */
int cf_enc_columns(cf_enc *e, const cf_field *root, const struct ArrowArray *batch,
                   cflight_error *err);
/* Walks rows [start, start + len) of one array (start relative to its offset). */
int cf_enc_array(cf_enc *e, const cf_field *f, const struct ArrowArray *a, int64_t start,
                 int64_t len, cflight_error *err);

/* Builds the Message and hands the collected pieces and buffers to a new payload. */
int cf_enc_finish_record_batch(cf_enc *e, int64_t length, bool has_views, cflight_ipc_payload **out,
                               cflight_error *err);
int cf_enc_finish_dictionary_batch(cf_enc *e, int64_t id, int64_t length, bool is_delta,
                                   bool has_views, cflight_ipc_payload **out, cflight_error *err);

/* A payload of a finished flatbuffer (taken over from meta) and, if e is
 * not NULL, its body. */
int cf_payload_new(cflight_ipc_message_type type, cf_fbb *meta, cf_enc *e,
                   cflight_ipc_payload **out, cflight_error *err);

#endif /* CF_IPC_ENCODE_H */
