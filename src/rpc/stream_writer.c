/* Writing a stream of FlightData, either side. A batch is encoded into IPC
 * payloads whose body pieces point at the batch's own buffers; each payload
 * is framed as a FlightData around those pieces and handed to the
 * transport. The batch is borrowed, so a write waits until the transport
 * is done with every piece (the out-messages' done callbacks) before it
 * returns. Also: the client's PutResult reader. */
#include <stdio.h>

#include "rpc/rpc.h"

struct cflight_stream_writer {
  cf_call *call;
  cf_ccall *cc;                   /* client side */
  cflight_call_context *sctx;     /* server side */
  cflight_descriptor *descriptor; /* still to send, with the first message */
  cflight_ipc_options *ipc;
  int64_t size_limit;
  cflight_ipc_encoder *enc;
  struct ArrowSchema schema; /* to make a fresh encoder after a refused batch */
  bool begun;
  bool done_writing;
  bool closed;
  cflight_error failed; /* a send failed: the call is over (or cancelled) */
  int close_rc;
  cflight_error close_error;
};

int cf_stream_writer_new(cf_call *call, cf_ccall *cc, cflight_call_context *sctx,
                         const cflight_descriptor *descriptor, const cflight_ipc_options *ipc,
                         int64_t size_limit, cflight_stream_writer **out, cflight_error *err) {
  *out = NULL;
  cflight_stream_writer *w = calloc(1, sizeof(*w));
  if (w == NULL) return CF_NOMEM(err, "stream writer");
  if (descriptor != NULL) {
    int rc = cflight_descriptor_copy(descriptor, &w->descriptor, err);
    if (rc != CFLIGHT_OK) {
      free(w);
      return rc;
    }
  }
  w->ipc = cflight_ipc_options_copy(ipc);
  if (w->ipc == NULL) {
    cflight_descriptor_free(w->descriptor);
    free(w);
    return CF_NOMEM(err, "stream writer");
  }
  w->call = call;
  w->cc = cc != NULL ? cf_ccall_ref(cc) : NULL;
  w->sctx = sctx;
  w->size_limit = size_limit;
  *out = w;
  return CFLIGHT_OK;
}

/* ---- Waiting for the transport -------------------------------------------------------------- */

typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int pending;
} waiter;

typedef struct msg_ctx {
  cflight_ipc_payload *payload;
  waiter *w;
} msg_ctx;

static void msg_release(void *ctx) {
  msg_ctx *m = ctx;
  waiter *w = m->w;
  cflight_ipc_payload_free(m->payload);
  free(m);
  if (w != NULL) {
    pthread_mutex_lock(&w->mu);
    if (--w->pending == 0) pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
  }
}

static void waiter_wait(waiter *w) {
  pthread_mutex_lock(&w->mu);
  while (w->pending > 0)
    pthread_cond_wait(&w->cv, &w->mu);
  pthread_mutex_unlock(&w->mu);
}

/* Frames payload (moved in; NULL: none) and app_metadata (a reference,
 * moved in; NULL: none) as one FlightData and sends it. With a waiter,
 * counts the message as pending until the transport is done with it. */
static int send_message(cflight_stream_writer *w, cflight_ipc_payload *payload,
                        cflight_buffer *app_metadata, waiter *wt, cflight_error *err) {
  msg_ctx *m = malloc(sizeof(*m));
  if (m == NULL) {
    cflight_ipc_payload_free(payload);
    cflight_buffer_unref(app_metadata);
    return CF_NOMEM(err, "FlightData");
  }
  m->payload = payload;
  m->w = wt;
  if (wt != NULL) {
    pthread_mutex_lock(&wt->mu);
    wt->pending++;
    pthread_mutex_unlock(&wt->mu);
  }
  cflight_ipc_piece header = {NULL, 0};
  const cflight_ipc_piece *body = NULL;
  size_t n_body = 0;
  if (payload != NULL) {
    header = cflight_ipc_payload_metadata(payload);
    n_body = cflight_ipc_payload_body(payload, &body);
  }
  cf_out_msg om;
  int rc = cf_flight_data_encode_pieces(w->descriptor, header, body, n_body, app_metadata,
                                        msg_release, m, &om, err);
  if (rc != CFLIGHT_OK) return rc;
  /* The descriptor's bytes were copied into the message: it has gone. */
  cflight_descriptor_free(w->descriptor);
  w->descriptor = NULL;
  cflight_error e = {0};
  rc = cf_rpc_send(w->call, w->sctx, &om, false, &e);
  if (rc != CFLIGHT_OK) {
    /* Sending fails once the call is over; later writes fail the same way. */
    cf_error_copy(&w->failed, &e);
    cf_error_copy(err, &e);
  }
  cflight_error_reset(&e);
  return rc;
}

bool cf_stream_writer_failed(const cflight_stream_writer *w) {
  return w->failed.code != CFLIGHT_OK;
}

int cf_stream_writer_send_descriptor(cflight_stream_writer *w, cflight_error *err) {
  if (w->descriptor == NULL) return CFLIGHT_OK;
  return send_message(w, NULL, NULL, NULL, err);
}

static int check_open(cflight_stream_writer *w, cflight_error *err) {
  if (w->failed.code != CFLIGHT_OK) return cf_error_copy(err, &w->failed);
  if (w->closed || w->done_writing)
    return cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION,
                             "stream writer: writing is already done");
  return CFLIGHT_OK;
}

int cflight_stream_writer_set_ipc_options(cflight_stream_writer *w, const cflight_ipc_options *ipc,
                                          cflight_error *err) {
  if (w == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "stream writer: NULL");
  if (w->begun)
    return cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION,
                             "stream writer: IPC options must be set before the stream begins");
  cflight_ipc_options *copy = cflight_ipc_options_copy(ipc);
  if (copy == NULL) return CF_NOMEM(err, "IPC options");
  cflight_ipc_options_free(w->ipc);
  w->ipc = copy;
  return CFLIGHT_OK;
}

int cflight_stream_writer_begin(cflight_stream_writer *w, const struct ArrowSchema *schema,
                                cflight_error *err) {
  if (w == NULL || schema == NULL || schema->release == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "stream writer: NULL argument");
  CF_RETURN_NOT_OK(check_open(w, err));
  if (w->begun)
    return cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION,
                             "stream writer: already begun (DoPut's writer begins with do_put)");
  CF_RETURN_NOT_OK(cf_schema_copy(schema, &w->schema, err));
  int rc = cflight_ipc_encoder_new(&w->schema, w->ipc, &w->enc, err);
  cflight_ipc_payload *p = NULL;
  if (rc == CFLIGHT_OK) rc = cflight_ipc_encoder_schema(w->enc, &p, err);
  /* The schema payload owns its bytes: no need to wait for the transport. */
  if (rc == CFLIGHT_OK) rc = send_message(w, p, NULL, NULL, err);
  if (rc != CFLIGHT_OK && w->failed.code != CFLIGHT_OK) {
    w->begun = true; /* the schema went as far as it could: the call is over */
    return rc;
  }
  if (rc != CFLIGHT_OK) {
    cflight_ipc_encoder_free(w->enc);
    w->enc = NULL;
    cf_schema_release(&w->schema);
    return rc;
  }
  w->begun = true;
  return CFLIGHT_OK;
}

static size_t payload_size(const cflight_ipc_payload *p) {
  return cflight_ipc_payload_metadata(p).size + (size_t)cflight_ipc_payload_body_length(p);
}

/* ---- Batches moved into their messages ------------------------------------------------------ */

/* The messages of one batch share this: the last one to be done frees the
 * payloads, the record batch's holding the batch itself. */
typedef struct payload_group {
  atomic_int refs;
  size_t n;
  cflight_ipc_payload *p[];
} payload_group;

static void group_release(void *ctx) {
  payload_group *g = ctx;
  if (atomic_fetch_sub(&g->refs, 1) != 1) return;
  for (size_t i = 0; i < g->n; i++)
    cflight_ipc_payload_free(g->p[i]);
  free(g);
}

static int check_size_limit(cflight_ipc_payload *const *ps, size_t n, int64_t size_limit,
                            cflight_error *err) {
  if (size_limit <= 0) return CFLIGHT_OK;
  for (size_t i = 0; i < n; i++) {
    size_t size = payload_size(ps[i]);
    if ((int64_t)size > size_limit) {
      int rc = cflight_error_set(err, CFLIGHT_WRITE_SIZE_EXCEEDED,
                                 "stream writer: an IPC message of %zu bytes exceeds the write "
                                 "size limit of %lld bytes",
                                 size, (long long)size_limit);
      if (err != NULL) {
        err->size_limit = size_limit;
        err->actual_size = (int64_t)size;
      }
      return rc;
    }
  }
  return CFLIGHT_OK;
}

int cf_rpc_send_batch(cf_call *call, cflight_call_context *sctx, cflight_ipc_encoder *enc,
                      struct ArrowArray *batch, cflight_buffer *md, int64_t size_limit,
                      bool *enc_stale, bool *send_failed, cflight_error *err) {
  if (enc_stale != NULL) *enc_stale = false;
  if (send_failed != NULL) *send_failed = false;
  int rc = cflight_ipc_encoder_write_batch(enc, batch, err);
  if (rc != CFLIGHT_OK) {
    cf_array_release(batch);
    cflight_buffer_unref(md);
    return rc;
  }
  size_t n = 0, cap = 4;
  payload_group *g = malloc(sizeof(*g) + cap * sizeof(g->p[0]));
  for (cflight_ipc_payload *p; (p = cflight_ipc_encoder_next(enc)) != NULL;) {
    if (g != NULL && n == cap) {
      payload_group *bigger = realloc(g, sizeof(*g) + cap * 2 * sizeof(g->p[0]));
      if (bigger == NULL) {
        for (size_t i = 0; i < n; i++)
          cflight_ipc_payload_free(g->p[i]);
        free(g);
        g = NULL;
      } else {
        g = bigger;
        cap *= 2;
      }
    }
    if (g == NULL) {
      cflight_ipc_payload_free(p);
      continue;
    }
    g->p[n++] = p;
  }
  if (g != NULL && n > 0) rc = check_size_limit(g->p, n, size_limit, err);
  if (g == NULL || n == 0 || rc != CFLIGHT_OK) {
    if (g != NULL) {
      for (size_t i = 0; i < n; i++)
        cflight_ipc_payload_free(g->p[i]);
      free(g);
    }
    cf_array_release(batch);
    cflight_buffer_unref(md);
    if (enc_stale != NULL) *enc_stale = true;
    if (rc != CFLIGHT_OK) return rc;
    return g == NULL ? CF_NOMEM(err, "payloads")
                     : cflight_error_set(err, CFLIGHT_INTERNAL, "no payload for a batch");
  }
  g->n = n;
  atomic_init(&g->refs, (int)n);
  /* The record batch comes last; it keeps the batch (dictionaries too)
   * alive for every message of the group. */
  cflight_ipc_payload_hold(g->p[n - 1], batch);
  size_t i = 0;
  for (; i < n && rc == CFLIGHT_OK; i++) {
    const cflight_ipc_piece *body = NULL;
    size_t n_body = cflight_ipc_payload_body(g->p[i], &body);
    cf_out_msg om;
    cflight_buffer *m = i == n - 1 ? md : NULL;
    if (i == n - 1) md = NULL;
    rc = cf_flight_data_encode_pieces(NULL, cflight_ipc_payload_metadata(g->p[i]), body, n_body, m,
                                      group_release, g, &om, err);
    if (rc == CFLIGHT_OK) {
      rc = cf_rpc_send(call, sctx, &om, false, err);
      if (rc != CFLIGHT_OK && send_failed != NULL) *send_failed = true;
    }
  }
  cflight_buffer_unref(md);
  for (; i < n; i++)
    group_release(g);
  return rc;
}

/* A fresh encoder after a refused batch: nothing of it was sent, but the
 * encoder believes its dictionaries were; the fresh one sends them in full
 * next time, which the reader takes as replacements. */
static void renew_encoder(cflight_stream_writer *w) {
  cflight_ipc_encoder *fresh = NULL;
  cflight_error e = {0};
  if (cflight_ipc_encoder_new(&w->schema, w->ipc, &fresh, &e) == CFLIGHT_OK) {
    cflight_ipc_encoder_free(w->enc);
    w->enc = fresh;
  }
  cflight_error_reset(&e);
}

int cflight_stream_writer_write_move(cflight_stream_writer *w, struct ArrowArray *batch,
                                     cflight_buffer *app_metadata, cflight_error *err) {
  int rc = CFLIGHT_OK;
  if (w == NULL || batch == NULL || batch->release == NULL) {
    rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "stream writer: NULL argument");
  } else if ((rc = check_open(w, err)) != CFLIGHT_OK) {
  } else if (!w->begun) {
    rc = cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION,
                           "stream writer: begin the stream with a schema before writing "
                           "batches");
  }
  if (rc != CFLIGHT_OK) {
    if (batch != NULL) cf_array_release(batch);
    cflight_buffer_unref(app_metadata);
    return rc;
  }
  bool stale = false, send_failed = false;
  cflight_error e = {0};
  rc = cf_rpc_send_batch(w->call, w->sctx, w->enc, batch, app_metadata, w->size_limit, &stale,
                         &send_failed, &e);
  if (stale) renew_encoder(w);
  /* A send fails once the call is over; later writes fail the same way. */
  if (send_failed) cf_error_copy(&w->failed, &e);
  if (rc != CFLIGHT_OK) {
    cf_error_copy(err, &e);
    if (err != NULL && rc == CFLIGHT_WRITE_SIZE_EXCEEDED) {
      err->size_limit = e.size_limit;
      err->actual_size = e.actual_size;
    }
  }
  cflight_error_reset(&e);
  return rc;
}

int cflight_stream_writer_write(cflight_stream_writer *w, const struct ArrowArray *batch,
                                const void *app_metadata, size_t app_metadata_size,
                                cflight_error *err) {
  if (w == NULL || batch == NULL || batch->release == NULL ||
      (app_metadata == NULL && app_metadata_size > 0))
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "stream writer: NULL argument");
  CF_RETURN_NOT_OK(check_open(w, err));
  if (!w->begun)
    return cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION,
                             "stream writer: begin the stream with a schema before writing "
                             "batches");
  CF_RETURN_NOT_OK(cflight_ipc_encoder_write_batch(w->enc, batch, err));
  cflight_ipc_payload *small[8];
  cflight_ipc_payload **ps = small;
  size_t n = 0, cap = CF_ARRAY_SIZE(small);
  int rc = CFLIGHT_OK;
  for (cflight_ipc_payload *p; (p = cflight_ipc_encoder_next(w->enc)) != NULL;) {
    if (n == cap) {
      cflight_ipc_payload **bigger = malloc(cap * 2 * sizeof(*bigger));
      if (bigger == NULL) {
        cflight_ipc_payload_free(p);
        rc = CF_NOMEM(err, "payload list");
        continue;
      }
      memcpy(bigger, ps, n * sizeof(*ps));
      if (ps != small) free(ps);
      ps = bigger;
      cap *= 2;
    }
    ps[n++] = p;
  }
  if (rc == CFLIGHT_OK) rc = check_size_limit(ps, n, w->size_limit, err);
  if (rc != CFLIGHT_OK) {
    for (size_t i = 0; i < n; i++)
      cflight_ipc_payload_free(ps[i]);
    if (ps != small) free(ps);
    renew_encoder(w);
    return rc;
  }
  waiter wt = {.pending = 0};
  pthread_mutex_init(&wt.mu, NULL);
  pthread_cond_init(&wt.cv, NULL);
  size_t i = 0;
  for (; i < n && rc == CFLIGHT_OK; i++) {
    /* The batch is borrowed and we wait: its metadata can be too. */
    cflight_buffer *md = NULL;
    if (i == n - 1 && app_metadata_size > 0) {
      md = cflight_buffer_wrap(app_metadata, app_metadata_size, NULL, NULL);
      if (md == NULL) {
        cflight_ipc_payload_free(ps[i]);
        rc = CF_NOMEM(err, "app_metadata");
        continue;
      }
    }
    rc = send_message(w, ps[i], md, &wt, err);
  }
  for (; i < n; i++)
    cflight_ipc_payload_free(ps[i]);
  waiter_wait(&wt);
  pthread_cond_destroy(&wt.cv);
  pthread_mutex_destroy(&wt.mu);
  if (ps != small) free(ps);
  return rc;
}

int cflight_stream_writer_write_metadata(cflight_stream_writer *w, const void *data, size_t size,
                                         cflight_error *err) {
  if (w == NULL || (data == NULL && size > 0))
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "stream writer: NULL argument");
  CF_RETURN_NOT_OK(check_open(w, err));
  /* Small and not worth a wait: copied. */
  cflight_buffer *md = cflight_buffer_copy(data, size);
  if (md == NULL) return CF_NOMEM(err, "app_metadata");
  return send_message(w, NULL, md, NULL, err);
}

int cflight_stream_writer_done_writing(cflight_stream_writer *w, cflight_error *err) {
  if (w == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "stream writer: NULL");
  if (w->done_writing) return CFLIGHT_OK;
  w->done_writing = true;
  if (w->cc == NULL) return CFLIGHT_OK; /* the server's stream ends with its status */
  CF_RETURN_NOT_OK(cf_stream_writer_send_descriptor(w, err));
  return cf_call_close_send(w->call, err);
}

int cflight_stream_writer_close(cflight_stream_writer *w, cflight_error *err) {
  if (w == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "stream writer: NULL");
  if (w->closed) return w->close_rc != CFLIGHT_OK ? cf_error_copy(err, &w->close_error) : 0;
  cflight_error e = {0};
  int rc = cflight_stream_writer_done_writing(w, &e);
  if (w->cc != NULL) {
    /* The call's status is the answer, whatever happened to our writes. */
    cf_status st = {0};
    rc = cf_ccall_finish(w->cc, &st);
    cf_error_copy(&e, &st.error);
    cf_status_reset(&st);
  }
  w->closed = true;
  w->close_rc = rc;
  cflight_error_move(&w->close_error, &e);
  return rc != CFLIGHT_OK ? cf_error_copy(err, &w->close_error) : CFLIGHT_OK;
}

void cflight_stream_writer_free(cflight_stream_writer *w) {
  if (w == NULL) return;
  if (w->cc != NULL && !w->closed) cf_call_cancel(w->call);
  cf_ccall_unref(w->cc);
  cflight_ipc_encoder_free(w->enc);
  cf_schema_release(&w->schema);
  cflight_descriptor_free(w->descriptor);
  cflight_ipc_options_free(w->ipc);
  cflight_error_reset(&w->close_error);
  cflight_error_reset(&w->failed);
  free(w);
}

/* ---- DoPut's PutResults, client side --------------------------------------------------------- */

struct cflight_metadata_reader {
  cf_ccall *cc;
  bool ended;
  cflight_error error; /* sticky */
};

int cf_metadata_reader_new(cf_ccall *cc, cflight_metadata_reader **out, cflight_error *err) {
  *out = calloc(1, sizeof(**out));
  if (*out == NULL) return CF_NOMEM(err, "metadata reader");
  (*out)->cc = cf_ccall_ref(cc);
  return CFLIGHT_OK;
}

int cflight_metadata_reader_read(cflight_metadata_reader *r, cflight_buffer **out,
                                 cflight_error *err) {
  if (r == NULL || out == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "metadata reader: NULL argument");
  *out = NULL;
  if (r->error.code != CFLIGHT_OK) return cf_error_copy(err, &r->error);
  if (r->ended) return CFLIGHT_OK;
  cf_msg msg;
  bool more = false;
  int rc = cf_call_recv(r->cc->call, &msg, &more, &r->error);
  if (rc != CFLIGHT_OK) {
    cf_ccall_failed(r->cc, rc, &r->error);
    return cf_error_copy(err, &r->error);
  }
  if (!more) {
    r->ended = true;
    cf_ccall_complete(r->cc, &r->error);
    return CFLIGHT_OK;
  }
  cf_ccall_headers(r->cc);
  rc = cf_put_result_decode(&msg, out, &r->error);
  cf_msg_reset(&msg);
  if (rc != CFLIGHT_OK) return cf_error_copy(err, &r->error);
  if (*out == NULL) {
    /* An empty PutResult is an empty buffer: NULL means the end. */
    *out = cflight_buffer_new(0);
    if (*out == NULL) return CF_NOMEM(err, "PutResult");
  }
  return CFLIGHT_OK;
}

void cflight_metadata_reader_free(cflight_metadata_reader *r) {
  if (r == NULL) return;
  /* Dropping the PutResults does not end the DoPut: the writer does. */
  cf_ccall_unref(r->cc);
  cflight_error_reset(&r->error);
  free(r);
}
