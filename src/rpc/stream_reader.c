/* Reading a stream of FlightData, either side: each message is decoded
 * from the transport's slices (the body stays where it was received) and
 * handed to the IPC decoder, whose arrays point into that body. */
#include <stdio.h>

#include "rpc/rpc.h"

struct cflight_stream_reader {
  cf_call *call;
  cf_ccall *cc;               /* client side */
  cflight_call_context *sctx; /* server side */
  cf_stream_kind kind;
  cflight_ipc_decoder *dec;
  bool have_schema;
  bool has_first;
  cf_flight_data first;
  /* Chunks read ahead while looking for the schema. */
  cflight_chunk *q;
  size_t q_head, q_len, q_cap;
  size_t q_bytes; /* app_metadata bytes queued: bounded, against a hostile peer */
  bool ended;
  bool failed;
  cflight_error error; /* sticky once failed */
  atomic_bool cancelled;
};

void cflight_chunk_release(cflight_chunk *chunk) {
  if (chunk == NULL) return;
  cf_array_release(&chunk->data);
  cflight_buffer_unref(chunk->app_metadata);
  chunk->app_metadata = NULL;
}

int cf_stream_reader_new(cf_call *call, cf_ccall *cc, cflight_call_context *sctx,
                         cf_stream_kind kind, const cflight_ipc_options *ipc, cf_flight_data *first,
                         cflight_stream_reader **out, cflight_error *err) {
  *out = NULL;
  cflight_stream_reader *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    if (first != NULL) cf_flight_data_reset(first);
    return CF_NOMEM(err, "stream reader");
  }
  int rc = cflight_ipc_decoder_new(ipc, &r->dec, err);
  if (rc != CFLIGHT_OK) {
    if (first != NULL) cf_flight_data_reset(first);
    free(r);
    return rc;
  }
  r->call = call;
  r->cc = cc != NULL ? cf_ccall_ref(cc) : NULL;
  r->sctx = sctx;
  r->kind = kind;
  atomic_init(&r->cancelled, false);
  if (first != NULL) {
    r->first = *first;
    memset(first, 0, sizeof(*first));
    r->has_first = true;
  }
  *out = r;
  return CFLIGHT_OK;
}

/* Records a failure; later reads return it. On the client, a receive error
 * is the call's status; a message we cannot decode ends the call. */
static int fail(cflight_stream_reader *r, int rc, cflight_error *e, bool from_peer,
                cflight_error *err) {
  r->failed = true;
  if (e->code == CFLIGHT_OK) cflight_error_set(e, rc, "stream failed");
  cflight_error_move(&r->error, e);
  if (r->cc != NULL) {
    if (!from_peer) cf_call_cancel(r->call);
    cf_ccall_failed(r->cc, rc, &r->error);
  }
  return cf_error_copy(err, &r->error);
}

/* The next message: *end at the end of the peer's messages. */
static int read_msg(cflight_stream_reader *r, cf_flight_data *fd, bool *end, bool *from_peer,
                    cflight_error *e) {
  *end = false;
  *from_peer = true;
  memset(fd, 0, sizeof(*fd));
  if (r->has_first) {
    *fd = r->first;
    memset(&r->first, 0, sizeof(r->first));
    r->has_first = false;
    return CFLIGHT_OK;
  }
  if (atomic_load(&r->cancelled))
    return cflight_error_set(e, CFLIGHT_CANCELLED, "the stream reader was cancelled");
  cf_msg msg;
  bool more = false;
  CF_RETURN_NOT_OK(cf_call_recv(r->call, &msg, &more, e));
  if (!more) {
    *end = true;
    return CFLIGHT_OK;
  }
  int rc = cf_flight_data_decode(&msg, fd, e);
  cf_msg_reset(&msg);
  *from_peer = rc == CFLIGHT_OK;
  return rc;
}

/* Feeds a message to the decoder: a chunk comes out when it carried a
 * record batch or app_metadata. */
static int process(cflight_stream_reader *r, cf_flight_data *fd, cflight_chunk *chunk,
                   bool *produced, cflight_error *e) {
  memset(chunk, 0, sizeof(*chunk));
  *produced = false;
  int rc = CFLIGHT_OK;
  if (fd->data_header != NULL) {
    cflight_ipc_message_type type = CFLIGHT_IPC_NONE;
    rc = cflight_ipc_decoder_decode(r->dec, cflight_buffer_data(fd->data_header),
                                    cflight_buffer_size(fd->data_header), fd->data_body, &type,
                                    &chunk->data, e);
    if (rc == CFLIGHT_OK && type == CFLIGHT_IPC_SCHEMA) r->have_schema = true;
  }
  if (rc == CFLIGHT_OK && fd->app_metadata != NULL) {
    chunk->app_metadata = fd->app_metadata;
    fd->app_metadata = NULL;
  }
  cf_flight_data_reset(fd);
  if (rc != CFLIGHT_OK) {
    cflight_chunk_release(chunk);
    return rc;
  }
  *produced = chunk->data.release != NULL || chunk->app_metadata != NULL;
  return CFLIGHT_OK;
}

static void reached_end(cflight_stream_reader *r) {
  r->ended = true;
  if (r->cc != NULL) {
    cflight_error ok = {0};
    cf_ccall_complete(r->cc, &ok);
  }
}

/* What the reader keeps while it looks for the schema. */
#define QUEUE_MAX_BYTES ((size_t)256 << 20)
#define QUEUE_MAX_CHUNKS ((size_t)1 << 16)

static int queue_push(cflight_stream_reader *r, cflight_chunk *c, cflight_error *err) {
  size_t md = cflight_buffer_size(c->app_metadata);
  if (r->q_len - r->q_head >= QUEUE_MAX_CHUNKS || r->q_bytes + md > QUEUE_MAX_BYTES) {
    cflight_chunk_release(c);
    return cflight_error_set(err, CFLIGHT_INVALID_DATA,
                             "the peer sent more than %zu messages or %zu MiB of app_metadata "
                             "before the stream's schema",
                             QUEUE_MAX_CHUNKS, QUEUE_MAX_BYTES >> 20);
  }
  r->q_bytes += md;
  if (r->q_len == r->q_cap) {
    size_t cap = r->q_cap ? r->q_cap * 2 : 4;
    cflight_chunk *q = realloc(r->q, cap * sizeof(*q));
    if (q == NULL) {
      cflight_chunk_release(c);
      return CF_NOMEM(err, "stream reader queue");
    }
    r->q = q;
    r->q_cap = cap;
  }
  r->q[r->q_len++] = *c;
  memset(c, 0, sizeof(*c));
  return CFLIGHT_OK;
}

/* Reads until the schema has come (keeping what came before it). */
static int ensure_schema(cflight_stream_reader *r, cflight_error *err) {
  if (r->failed) return cf_error_copy(err, &r->error);
  while (!r->have_schema) {
    if (r->ended) {
      if (r->kind == CF_STREAM_DO_EXCHANGE) {
        return cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION,
                                 "the peer sent no schema on this DoExchange (only metadata, or "
                                 "nothing)");
      }
      return cflight_error_set(err, CFLIGHT_INVALID_DATA, "stream has no schema");
    }
    cflight_error e = {0};
    cf_flight_data fd;
    bool end = false, from_peer = true;
    int rc = read_msg(r, &fd, &end, &from_peer, &e);
    if (rc != CFLIGHT_OK) return fail(r, rc, &e, from_peer, err);
    if (end) {
      reached_end(r);
      continue;
    }
    if (r->cc != NULL) cf_ccall_headers(r->cc);
    cflight_chunk c;
    bool produced = false;
    rc = process(r, &fd, &c, &produced, &e);
    if (rc != CFLIGHT_OK) return fail(r, rc, &e, false, err);
    if (produced) {
      rc = queue_push(r, &c, &e);
      if (rc != CFLIGHT_OK) return fail(r, rc, &e, false, err);
    }
  }
  return CFLIGHT_OK;
}

int cf_stream_reader_start(cflight_stream_reader *r, cflight_error *err) {
  return ensure_schema(r, err);
}

int cflight_stream_reader_schema(cflight_stream_reader *r, struct ArrowSchema *out,
                                 cflight_error *err) {
  if (r == NULL || out == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "stream reader: NULL argument");
  memset(out, 0, sizeof(*out));
  CF_RETURN_NOT_OK(ensure_schema(r, err));
  return cflight_ipc_decoder_schema(r->dec, out, err);
}

int64_t cflight_stream_reader_dictionary_ids(cflight_stream_reader *r, int64_t *ids, int64_t cap) {
  if (r == NULL || (ids == NULL && cap > 0) || cap < 0) return -1;
  if (ensure_schema(r, NULL) != CFLIGHT_OK) return -1;
  return cflight_ipc_decoder_dictionary_ids(r->dec, ids, cap);
}

int cflight_stream_reader_next(cflight_stream_reader *r, cflight_chunk *out, bool *end,
                               cflight_error *err) {
  if (r == NULL || out == NULL || end == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "stream reader: NULL argument");
  memset(out, 0, sizeof(*out));
  *end = false;
  if (r->q_head < r->q_len) {
    *out = r->q[r->q_head++];
    r->q_bytes -= cflight_buffer_size(out->app_metadata);
    if (r->q_head == r->q_len) r->q_head = r->q_len = 0;
    return CFLIGHT_OK;
  }
  if (r->failed) return cf_error_copy(err, &r->error);
  for (;;) {
    if (r->ended) {
      *end = true;
      return CFLIGHT_OK;
    }
    cflight_error e = {0};
    cf_flight_data fd;
    bool stream_end = false, from_peer = true;
    int rc = read_msg(r, &fd, &stream_end, &from_peer, &e);
    if (rc != CFLIGHT_OK) return fail(r, rc, &e, from_peer, err);
    if (stream_end) {
      reached_end(r);
      continue;
    }
    if (r->cc != NULL) cf_ccall_headers(r->cc);
    bool produced = false;
    rc = process(r, &fd, out, &produced, &e);
    if (rc != CFLIGHT_OK) return fail(r, rc, &e, false, err);
    if (produced) return CFLIGHT_OK;
  }
}

/* ---- Whole streams --------------------------------------------------------------------------- */

typedef struct batch_list {
  struct ArrowArray *items;
  size_t n, cap, next;
} batch_list;

static void batch_list_free(void *ctx) {
  batch_list *l = ctx;
  if (l == NULL) return;
  for (size_t i = l->next; i < l->n; i++)
    cf_array_release(&l->items[i]);
  free(l->items);
  free(l);
}

static int batch_list_next(void *ctx, struct ArrowArray *out, cflight_error *err) {
  batch_list *l = ctx;
  CF_UNUSED(err);
  memset(out, 0, sizeof(*out));
  if (l->next < l->n) cf_array_move(&l->items[l->next++], out);
  return CFLIGHT_OK;
}

int cflight_stream_reader_read_all(cflight_stream_reader *r, struct ArrowArrayStream *out,
                                   cflight_error *err) {
  if (r == NULL || out == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "stream reader: NULL argument");
  memset(out, 0, sizeof(*out));
  struct ArrowSchema schema;
  CF_RETURN_NOT_OK(cflight_stream_reader_schema(r, &schema, err));
  batch_list *l = calloc(1, sizeof(*l));
  if (l == NULL) {
    cf_schema_release(&schema);
    return CF_NOMEM(err, "batches");
  }
  int rc = CFLIGHT_OK;
  for (;;) {
    cflight_chunk c;
    bool end = false;
    rc = cflight_stream_reader_next(r, &c, &end, err);
    if (rc != CFLIGHT_OK || end) break;
    cflight_buffer_unref(c.app_metadata);
    if (c.data.release == NULL) continue;
    if (l->n == l->cap) {
      size_t cap = l->cap ? l->cap * 2 : 16;
      struct ArrowArray *items = realloc(l->items, cap * sizeof(*items));
      if (items == NULL) {
        cf_array_release(&c.data);
        rc = CF_NOMEM(err, "batches");
        break;
      }
      l->items = items;
      l->cap = cap;
    }
    cf_array_move(&c.data, &l->items[l->n++]);
  }
  if (rc != CFLIGHT_OK) {
    cf_schema_release(&schema);
    batch_list_free(l);
    return rc;
  }
  cf_stream_source src = {batch_list_next, batch_list_free, l};
  return cf_stream_init(out, &schema, src, err);
}

static int lazy_next(void *ctx, struct ArrowArray *out, cflight_error *err) {
  cflight_stream_reader *r = ctx;
  memset(out, 0, sizeof(*out));
  for (;;) {
    cflight_chunk c;
    bool end = false;
    CF_RETURN_NOT_OK(cflight_stream_reader_next(r, &c, &end, err));
    if (end) return CFLIGHT_OK;
    cflight_buffer_unref(c.app_metadata);
    if (c.data.release != NULL) {
      cf_array_move(&c.data, out);
      return CFLIGHT_OK;
    }
  }
}

static void lazy_free(void *ctx) {
  cflight_stream_reader_free(ctx);
}

int cflight_stream_reader_to_stream(cflight_stream_reader *r, struct ArrowArrayStream *out,
                                    cflight_error *err) {
  if (r == NULL || out == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "stream reader: NULL argument");
  memset(out, 0, sizeof(*out));
  struct ArrowSchema schema;
  int rc = cflight_stream_reader_schema(r, &schema, err);
  if (rc != CFLIGHT_OK) {
    /* The stream takes the reader over in every case. */
    cflight_stream_reader_free(r);
    return rc;
  }
  cf_stream_source src = {lazy_next, lazy_free, r};
  return cf_stream_init(out, &schema, src, err);
}

void cflight_stream_reader_cancel(cflight_stream_reader *r) {
  if (r == NULL) return;
  atomic_store(&r->cancelled, true);
  cf_call_cancel(r->call);
}

void cflight_stream_reader_free(cflight_stream_reader *r) {
  if (r == NULL) return;
  for (size_t i = r->q_head; i < r->q_len; i++)
    cflight_chunk_release(&r->q[i]);
  free(r->q);
  if (r->has_first) cf_flight_data_reset(&r->first);
  cflight_ipc_decoder_free(r->dec);
  cflight_error_reset(&r->error);
  cf_ccall_unref(r->cc);
  free(r);
}
