/* The Flight server: options, listening, the call context, and the
 * dispatch of each incoming call (middleware, authentication, the method's
 * handler, the status) on the transport's worker threads. Also DoGet's
 * data path: batches pulled from the handler's stream are moved into the
 * IPC payloads, so that several messages can be queued on the transport
 * (pipelining) without waiting for each one; the transport's send queue
 * limit is the backpressure that bounds memory. */
#include <errno.h>
#include <stdio.h>

#include "rpc/rpc.h"

/* ---- Server options -------------------------------------------------------------------------- */

typedef struct mw_entry {
  char *key;
  cflight_server_middleware_factory *f;
} mw_entry;

struct cflight_server_options {
  cf_transport_options t;
  cflight_server_auth_handler *auth;
  mw_entry *mw;
  size_t n_mw;
  int max_threads;
  cflight_ipc_options *ipc; /* NULL: the defaults */
};

cflight_server_options *cflight_server_options_new(void) {
  cflight_server_options *o = calloc(1, sizeof(*o));
  if (o == NULL) return NULL;
  cf_transport_options_init(&o->t);
  o->max_threads = 256;
  return o;
}

static void mw_entries_free(mw_entry *mw, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(mw[i].key);
    cflight_server_middleware_factory_free(mw[i].f);
  }
  free(mw);
}

void cflight_server_options_free(cflight_server_options *o) {
  if (o == NULL) return;
  cf_transport_options_reset(&o->t);
  cflight_server_auth_handler_free(o->auth);
  mw_entries_free(o->mw, o->n_mw);
  cflight_ipc_options_free(o->ipc);
  free(o);
}

int cflight_server_options_add_tls_certificate(cflight_server_options *o,
                                               const char *cert_chain_pem,
                                               const char *private_key_pem, cflight_error *err) {
  if (o == NULL || cert_chain_pem == NULL || private_key_pem == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "server options: NULL argument");
  cf_tls_server_config *c = &o->t.tls_server;
  cf_tls_cert_pair *pairs = realloc(c->pairs, (c->n_pairs + 1) * sizeof(*pairs));
  if (pairs == NULL) return CF_NOMEM(err, "certificates");
  c->pairs = pairs;
  cf_tls_cert_pair *p = &pairs[c->n_pairs];
  p->cert_chain_pem = cf_strdup(cert_chain_pem);
  p->private_key_pem = cf_strdup(private_key_pem);
  if (p->cert_chain_pem == NULL || p->private_key_pem == NULL) {
    free(p->cert_chain_pem);
    free(p->private_key_pem);
    return CF_NOMEM(err, "certificates");
  }
  c->n_pairs++;
  return CFLIGHT_OK;
}

int cflight_server_options_set_verify_client(cflight_server_options *o, bool verify,
                                             const char *root_certs_pem, cflight_error *err) {
  if (o == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "server options: NULL");
  if (verify && (root_certs_pem == NULL || root_certs_pem[0] == '\0'))
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "server options: verifying clients needs root certificates");
  char *copy = NULL;
  if (root_certs_pem != NULL && root_certs_pem[0] != '\0') {
    copy = cf_strdup(root_certs_pem);
    if (copy == NULL) return CF_NOMEM(err, "root certificates");
  }
  free(o->t.tls_server.client_root_certs_pem);
  o->t.tls_server.client_root_certs_pem = copy;
  o->t.tls_server.verify_client = verify;
  return CFLIGHT_OK;
}

void cflight_server_options_set_auth_handler(cflight_server_options *o,
                                             cflight_server_auth_handler *h) {
  if (o == NULL) {
    cflight_server_auth_handler_free(h);
    return;
  }
  cflight_server_auth_handler_free(o->auth);
  o->auth = h;
}

int cflight_server_options_add_middleware(cflight_server_options *o, const char *key,
                                          cflight_server_middleware_factory *f,
                                          cflight_error *err) {
  if (o == NULL || key == NULL || f == NULL) {
    cflight_server_middleware_factory_free(f);
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "server options: NULL middleware");
  }
  mw_entry *mw = realloc(o->mw, (o->n_mw + 1) * sizeof(*mw));
  char *k = cf_strdup(key);
  if (mw != NULL) o->mw = mw;
  if (mw == NULL || k == NULL) {
    free(k);
    cflight_server_middleware_factory_free(f);
    return CF_NOMEM(err, "middleware list");
  }
  o->mw[o->n_mw++] = (mw_entry){k, f};
  return CFLIGHT_OK;
}

void cflight_server_options_set_max_threads(cflight_server_options *o, int n) {
  if (o != NULL && n > 0) o->max_threads = n;
}

int cflight_server_options_set_ipc_options(cflight_server_options *o,
                                           const cflight_ipc_options *ipc, cflight_error *err) {
  if (o == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "server options: NULL");
  cflight_ipc_options *copy = NULL;
  if (ipc != NULL) {
    copy = cflight_ipc_options_copy(ipc);
    if (copy == NULL) return CF_NOMEM(err, "IPC options");
  }
  cflight_ipc_options_free(o->ipc);
  o->ipc = copy;
  return CFLIGHT_OK;
}

int cflight_server_options_set_generic(cflight_server_options *o, const char *name,
                                       const char *value, cflight_error *err) {
  if (o == NULL || name == NULL || value == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "server options: NULL argument");
  return cf_transport_options_set(&o->t, name, value, err);
}

/* ---- The server ------------------------------------------------------------------------------ */

struct cflight_server {
  cf_server *srv;
  cflight_server_handlers h;
  void *user;
  cflight_server_auth_handler *auth;
  mw_entry *mw;
  size_t n_mw;
  cflight_ipc_options *ipc; /* [const] IPC write options of its streams; NULL: defaults */
  pthread_mutex_t mu;       /* guards the listener list */
  char **locations;
  size_t n_locations;
  int port;
};

static _Thread_local bool in_handler = false;

bool cf_in_server_handler(void) {
  return in_handler;
}

static void on_call(void *ctx, cf_call *call);

int cflight_server_add_location(cflight_server *s, const char *location, cflight_error *err) {
  if (s == NULL || location == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "server: NULL location");
  cf_address addr;
  CF_RETURN_NOT_OK(cf_address_parse(location, &addr, err));
  int port = 0;
  CF_RETURN_NOT_OK(cf_server_listen(s->srv, &addr, &port, err));
  char uri[512];
  const char *sep = strstr(location, "://");
  int scheme_len = sep != NULL ? (int)(sep - location) : 0;
  if (addr.scheme == CF_SCHEME_UNIX) {
    snprintf(uri, sizeof(uri), "grpc+unix://%s", addr.path);
  } else {
    bool v6 = strchr(addr.host, ':') != NULL;
    snprintf(uri, sizeof(uri), v6 ? "%.*s://[%s]:%d" : "%.*s://%s:%d", scheme_len, location,
             addr.host, port);
  }
  char *copy = cf_strdup(uri);
  pthread_mutex_lock(&s->mu);
  char **locs = copy != NULL ? realloc(s->locations, (s->n_locations + 1) * sizeof(*locs)) : NULL;
  if (locs != NULL) {
    s->locations = locs;
    s->locations[s->n_locations++] = copy;
    if (s->port == 0 && addr.scheme != CF_SCHEME_UNIX) s->port = port;
  }
  pthread_mutex_unlock(&s->mu);
  if (locs == NULL) {
    free(copy);
    return CF_NOMEM(err, "location");
  }
  return CFLIGHT_OK;
}

int cflight_server_new(const char *location, const cflight_server_handlers *handlers,
                       size_t handlers_size, void *user, const cflight_server_options *opts,
                       cflight_server **out, cflight_error *err) {
  if (out == NULL || location == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "server: NULL location or output");
  *out = NULL;
  cflight_server *s = calloc(1, sizeof(*s));
  if (s == NULL) return CF_NOMEM(err, "server");
  pthread_mutex_init(&s->mu, NULL);
  if (handlers != NULL) {
    memcpy(&s->h, handlers,
           handlers_size < sizeof(s->h) ? handlers_size : sizeof(cflight_server_handlers));
  }
  s->user = user;
  int rc = CFLIGHT_OK;
  cf_transport_options t;
  if (opts != NULL) {
    rc = cf_transport_options_copy(&opts->t, &t, err);
    if (rc == CFLIGHT_OK) t.worker_threads_max = opts->max_threads;
    if (opts->auth != NULL) s->auth = cf_server_auth_ref(opts->auth);
    if (opts->ipc != NULL) {
      s->ipc = cflight_ipc_options_copy(opts->ipc);
      if (s->ipc == NULL && rc == CFLIGHT_OK) rc = CF_NOMEM(err, "server");
    }
    if (opts->n_mw > 0) {
      s->mw = calloc(opts->n_mw, sizeof(*s->mw));
      if (s->mw == NULL && rc == CFLIGHT_OK) rc = CF_NOMEM(err, "server");
      for (size_t i = 0; s->mw != NULL && i < opts->n_mw; i++) {
        s->mw[i].key = cf_strdup(opts->mw[i].key);
        s->mw[i].f = cf_server_mw_ref(opts->mw[i].f);
        s->n_mw++;
        if (s->mw[i].key == NULL && rc == CFLIGHT_OK) rc = CF_NOMEM(err, "server");
      }
    }
  } else {
    cf_transport_options_init(&t);
    t.worker_threads_max = 256;
  }
  if (rc == CFLIGHT_OK) {
    rc = cf_server_new(&t, on_call, s, &s->srv, err);
    cf_transport_options_reset(&t);
  }
  if (rc == CFLIGHT_OK) rc = cflight_server_add_location(s, location, err);
  if (rc != CFLIGHT_OK) {
    cflight_server_free(s);
    return rc;
  }
  *out = s;
  return CFLIGHT_OK;
}

int cflight_server_port(const cflight_server *s) {
  if (s == NULL) return 0;
  pthread_mutex_lock((pthread_mutex_t *)&s->mu);
  int port = s->port;
  pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
  return port;
}

const char *cflight_server_location(const cflight_server *s, size_t i) {
  if (s == NULL) return NULL;
  pthread_mutex_lock((pthread_mutex_t *)&s->mu);
  const char *loc = i < s->n_locations ? s->locations[i] : NULL;
  pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
  return loc;
}

void cflight_server_wait(cflight_server *s) {
  if (s != NULL && s->srv != NULL) cf_server_wait(s->srv);
}

void cflight_server_shutdown(cflight_server *s, double grace_seconds) {
  if (s == NULL || s->srv == NULL) return;
  int64_t deadline = 0; /* 0: calls in flight take as long as they take */
  if (grace_seconds >= 0) deadline = cf_now_ns() + (int64_t)(grace_seconds * 1e9) + 1;
  cf_server_shutdown(s->srv, deadline);
  /* A handler waiting for the end of all calls would wait for itself. */
  if (!in_handler) cf_server_wait(s->srv);
}

void cflight_server_free(cflight_server *s) {
  if (s == NULL) return;
  if (s->srv != NULL) cf_server_free(s->srv);
  cflight_server_auth_handler_free(s->auth);
  mw_entries_free(s->mw, s->n_mw);
  cflight_ipc_options_free(s->ipc);
  for (size_t i = 0; i < s->n_locations; i++)
    free(s->locations[i]);
  free(s->locations);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

/* ---- The call context ------------------------------------------------------------------------ */

const char *cflight_call_context_peer(const cflight_call_context *ctx) {
  return ctx != NULL ? cf_call_peer(ctx->call) : "";
}

const char *cflight_call_context_peer_identity(const cflight_call_context *ctx) {
  return ctx != NULL && ctx->identity != NULL ? ctx->identity : "";
}

const char *cflight_call_context_method(const cflight_call_context *ctx) {
  return ctx != NULL ? cf_method_name(ctx->method) : "";
}

const cflight_headers *cflight_call_context_headers(const cflight_call_context *ctx) {
  return ctx != NULL ? cf_headers_view(cf_call_request_headers(ctx->call)) : NULL;
}

bool cflight_call_context_is_cancelled(const cflight_call_context *ctx) {
  if (ctx == NULL) return false;
  if (cf_call_is_cancelled(ctx->call)) return true;
  int64_t deadline = cf_call_deadline(ctx->call);
  return deadline > 0 && cf_now_ns() >= deadline;
}

double cflight_call_context_time_remaining(const cflight_call_context *ctx) {
  int64_t deadline = ctx != NULL ? cf_call_deadline(ctx->call) : 0;
  if (deadline <= 0) return -1.0;
  int64_t left = deadline - cf_now_ns();
  return left > 0 ? (double)left / 1e9 : 0.0;
}

int cflight_call_context_add_header(cflight_call_context *ctx, const char *key, const void *value,
                                    size_t size, cflight_error *err) {
  if (ctx == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "call context: NULL");
  pthread_mutex_lock(&ctx->mu);
  int rc;
  if (ctx->headers_sent) {
    rc = cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION,
                           "call context: the response headers were already sent (add headers "
                           "before the first response message)");
  } else {
    rc = cf_headers_add_checked(&ctx->out_headers, key, value, size, err);
  }
  pthread_mutex_unlock(&ctx->mu);
  return rc;
}

int cflight_call_context_add_trailer(cflight_call_context *ctx, const char *key, const void *value,
                                     size_t size, cflight_error *err) {
  if (ctx == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "call context: NULL");
  pthread_mutex_lock(&ctx->mu);
  int rc = cf_headers_add_checked(&ctx->out_trailers, key, value, size, err);
  pthread_mutex_unlock(&ctx->mu);
  return rc;
}

void *cflight_call_context_middleware(const cflight_call_context *ctx, const char *key) {
  if (ctx == NULL || key == NULL) return NULL;
  for (size_t i = 0; i < ctx->n_mw; i++)
    if (strcmp(ctx->mw[i].key, key) == 0) return ctx->mw[i].inst;
  return NULL;
}

int cf_sctx_flush_headers(cflight_call_context *ctx, cflight_error *err) {
  pthread_mutex_lock(&ctx->mu);
  if (ctx->headers_sent) {
    pthread_mutex_unlock(&ctx->mu);
    return CFLIGHT_OK;
  }
  ctx->headers_sent = true;
  for (size_t i = 0; i < ctx->n_mw; i++) {
    cf_mw_slot *m = &ctx->mw[i];
    if (m->inst != NULL && m->f->cb.sending_headers != NULL)
      m->f->cb.sending_headers(m->inst, (cflight_headers *)&ctx->out_headers);
  }
  cf_metadata md = ctx->out_headers;
  memset(&ctx->out_headers, 0, sizeof(ctx->out_headers));
  pthread_mutex_unlock(&ctx->mu);
  int rc = md.count > 0 ? cf_call_send_headers(ctx->call, &md, err) : CFLIGHT_OK;
  cf_metadata_reset(&md);
  return rc;
}

int cf_rpc_send(cf_call *call, cflight_call_context *sctx, const cf_out_msg *out, bool end,
                cflight_error *err) {
  if (sctx != NULL) {
    int rc = cf_sctx_flush_headers(sctx, err);
    if (rc != CFLIGHT_OK) {
      if (out->done != NULL) out->done(out->ctx);
      return rc;
    }
  }
  return cf_call_send(call, out, end, err);
}

/* ---- Writers handed to handlers -------------------------------------------------------------- */

static int send_pb(cf_call *call, cflight_call_context *ctx, const void *msg, cflight_error *err) {
  cf_out_msg om;
  CF_RETURN_NOT_OK(cf_flight_msg_encode(msg, &om, err));
  return cf_rpc_send(call, ctx, &om, false, err);
}

/* The one response of a unary method: the status follows at once, and
 * the transport sends both together. */
static int send_pb_last(cf_call *call, cflight_call_context *ctx, const void *msg,
                        cflight_error *err) {
  cf_out_msg om;
  CF_RETURN_NOT_OK(cf_flight_msg_encode(msg, &om, err));
  return cf_rpc_send(call, ctx, &om, true, err);
}

int cflight_result_writer_write_info(cflight_result_writer *w, const cflight_flight_info *info,
                                     cflight_error *err) {
  if (w == NULL || info == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "result writer: NULL argument");
  return send_pb(w->call, w->ctx, info, err);
}

int cflight_result_writer_write_result(cflight_result_writer *w, const void *body, size_t size,
                                       cflight_error *err) {
  if (w == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "result writer: NULL");
  cflight_result *r = NULL;
  CF_RETURN_NOT_OK(cflight_result_new(body, size, &r, err));
  int rc = send_pb(w->call, w->ctx, r, err);
  cflight_result_free(r);
  return rc;
}

int cflight_result_writer_write_action_type(cflight_result_writer *w, const char *type,
                                            const char *description, cflight_error *err) {
  if (w == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "result writer: NULL");
  cflight_action_type *t = NULL;
  CF_RETURN_NOT_OK(cflight_action_type_new(type, description, &t, err));
  int rc = send_pb(w->call, w->ctx, t, err);
  cflight_action_type_free(t);
  return rc;
}

int cflight_metadata_writer_write(cflight_metadata_writer *w, const void *data, size_t size,
                                  cflight_error *err) {
  if (w == NULL || (data == NULL && size > 0))
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "metadata writer: NULL argument");
  cflight_buffer *b = cflight_buffer_copy(data, size);
  if (b == NULL) return CF_NOMEM(err, "PutResult");
  cf_out_msg om;
  CF_RETURN_NOT_OK(cf_put_result_encode(b, &om, err));
  return cf_rpc_send(w->call, w->ctx, &om, false, err);
}

/* ---- Data streams (DoGet) -------------------------------------------------------------------- */

struct cflight_data_stream {
  bool generator;
  struct ArrowArrayStream stream;
  struct ArrowSchema schema;
  cflight_chunk_fn next;
  void (*free_ctx)(void *ctx);
  void *ctx;
  cflight_ipc_options *ipc; /* NULL: the server's */
};

cflight_data_stream *cflight_data_stream_new(struct ArrowArrayStream *stream) {
  if (stream == NULL || stream->release == NULL) return NULL;
  cflight_data_stream *ds = calloc(1, sizeof(*ds));
  if (ds == NULL) return NULL;
  ds->stream = *stream;
  stream->release = NULL;
  return ds;
}

cflight_data_stream *cflight_data_stream_new_generator(const struct ArrowSchema *schema,
                                                       cflight_chunk_fn next,
                                                       void (*free_ctx)(void *ctx), void *ctx) {
  if (schema == NULL || next == NULL) return NULL;
  cflight_data_stream *ds = calloc(1, sizeof(*ds));
  if (ds == NULL) return NULL;
  if (cf_schema_copy(schema, &ds->schema, NULL) != CFLIGHT_OK) {
    free(ds);
    return NULL;
  }
  ds->generator = true;
  ds->next = next;
  ds->free_ctx = free_ctx;
  ds->ctx = ctx;
  return ds;
}

int cflight_data_stream_set_ipc_options(cflight_data_stream *ds, const cflight_ipc_options *ipc,
                                        cflight_error *err) {
  if (ds == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "data stream: NULL");
  cflight_ipc_options *copy = NULL;
  if (ipc != NULL) {
    copy = cflight_ipc_options_copy(ipc);
    if (copy == NULL) return CF_NOMEM(err, "IPC options");
  }
  cflight_ipc_options_free(ds->ipc);
  ds->ipc = copy;
  return CFLIGHT_OK;
}

void cflight_data_stream_free(cflight_data_stream *ds) {
  if (ds == NULL) return;
  cflight_ipc_options_free(ds->ipc);
  if (ds->generator) {
    cf_schema_release(&ds->schema);
    if (ds->free_ctx != NULL) ds->free_ctx(ds->ctx);
  } else if (ds->stream.release != NULL) {
    ds->stream.release(&ds->stream);
  }
  free(ds);
}

static int errno_to_code(int e) {
  switch (e) {
    case ENOMEM:
      return CFLIGHT_NO_MEMORY;
    case EINVAL:
      return CFLIGHT_INVALID_ARGUMENT;
    case ECANCELED:
      return CFLIGHT_CANCELLED;
    case ENOENT:
      return CFLIGHT_NOT_FOUND;
    default:
      return CFLIGHT_UNKNOWN;
  }
}

static int stream_error(struct ArrowArrayStream *st, int e, const char *what, cflight_error *err) {
  const char *msg = st->get_last_error != NULL ? st->get_last_error(st) : NULL;
  return cflight_error_set(err, errno_to_code(e), "DoGet: the data stream failed %s: %s", what,
                           msg != NULL ? msg : strerror(e));
}

static int ds_schema(cflight_data_stream *ds, struct ArrowSchema *out, cflight_error *err) {
  if (ds->generator) return cf_schema_copy(&ds->schema, out, err);
  memset(out, 0, sizeof(*out));
  int e = ds->stream.get_schema(&ds->stream, out);
  if (e != 0) return stream_error(&ds->stream, e, "giving its schema", err);
  return CFLIGHT_OK;
}

static int ds_next(cflight_data_stream *ds, cflight_chunk *out, cflight_error *err) {
  memset(out, 0, sizeof(*out));
  if (ds->generator) {
    int rc = ds->next(ds->ctx, out, err);
    if (rc != CFLIGHT_OK) {
      cflight_chunk_release(out);
      if (err != NULL && err->code == CFLIGHT_OK)
        cflight_error_set(err, rc, "DoGet: the data generator failed");
    }
    return rc;
  }
  int e = ds->stream.get_next(&ds->stream, &out->data);
  if (e != 0) {
    memset(&out->data, 0, sizeof(out->data));
    return stream_error(&ds->stream, e, "giving a batch", err);
  }
  return CFLIGHT_OK;
}

/* Encodes and queues one chunk (taken over), without waiting for its bytes
 * to be written: the batch moves into the messages (pipelining). */
static int send_chunk(cflight_call_context *ctx, cflight_ipc_encoder *enc, cflight_chunk *chunk,
                      cflight_error *err) {
  cflight_buffer *md = chunk->app_metadata;
  chunk->app_metadata = NULL;
  if (chunk->data.release == NULL) {
    cf_out_msg om;
    CF_RETURN_NOT_OK(cf_flight_data_encode_pieces(NULL, (cflight_ipc_piece){NULL, 0}, NULL, 0, md,
                                                  NULL, NULL, &om, err));
    return cf_rpc_send(ctx->call, ctx, &om, false, err);
  }
  return cf_rpc_send_batch(ctx->call, ctx, enc, &chunk->data, md, 0, NULL, NULL, err);
}

int cf_serve_data_stream(cflight_call_context *ctx, cflight_data_stream *ds, cflight_error *err) {
  struct ArrowSchema schema;
  int rc = ds_schema(ds, &schema, err);
  cflight_ipc_encoder *enc = NULL;
  if (rc == CFLIGHT_OK) {
    const cflight_ipc_options *ipc = ds->ipc != NULL ? ds->ipc : ctx->server->ipc;
    rc = cflight_ipc_encoder_new(&schema, ipc, &enc, err);
    cf_schema_release(&schema);
  }
  cflight_ipc_payload *sp = NULL;
  if (rc == CFLIGHT_OK) rc = cflight_ipc_encoder_schema(enc, &sp, err);
  if (rc == CFLIGHT_OK) {
    cf_out_msg om;
    rc = cf_flight_data_encode(NULL, sp, NULL, &om, err);
    if (rc == CFLIGHT_OK) rc = cf_rpc_send(ctx->call, ctx, &om, false, err);
  }
  while (rc == CFLIGHT_OK) {
    if (cf_call_is_cancelled(ctx->call)) {
      rc = cflight_error_set(err, CFLIGHT_CANCELLED, "DoGet: the call was cancelled");
      break;
    }
    cflight_chunk chunk;
    rc = ds_next(ds, &chunk, err);
    if (rc != CFLIGHT_OK) break;
    if (chunk.data.release == NULL && chunk.app_metadata == NULL) break;
    rc = send_chunk(ctx, enc, &chunk, err);
  }
  cflight_ipc_encoder_free(enc);
  cflight_data_stream_free(ds);
  return rc;
}

/* ---- Dispatch -------------------------------------------------------------------------------- */

static int unimplemented(cflight_call_context *ctx, cflight_error *err) {
  return cflight_error_set(err, CFLIGHT_UNIMPLEMENTED, "%s is not implemented by this server",
                           cf_method_name(ctx->method));
}

/* Receives the one request message of a call as type desc. */
static int recv_request(cflight_call_context *ctx, const ProtobufCMessageDescriptor *desc,
                        void **out, cflight_error *err) {
  *out = NULL;
  cf_msg msg;
  bool more = false;
  CF_RETURN_NOT_OK(cf_call_recv(ctx->call, &msg, &more, err));
  if (!more)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "%s: the client sent no request",
                             cf_method_name(ctx->method));
  int rc = cf_flight_msg_decode(desc, &msg, out, err);
  cf_msg_reset(&msg);
  return rc;
}

/* Receives the first FlightData of DoPut / DoExchange and takes its descriptor out. */
static int recv_first_data(cflight_call_context *ctx, cf_flight_data *fd, cflight_descriptor **d,
                           cflight_error *err) {
  memset(fd, 0, sizeof(*fd));
  cf_msg msg;
  bool more = false;
  CF_RETURN_NOT_OK(cf_call_recv(ctx->call, &msg, &more, err));
  if (!more)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "%s: the client sent no message (the first must carry the flight "
                             "descriptor)",
                             cf_method_name(ctx->method));
  int rc = cf_flight_data_decode(&msg, fd, err);
  cf_msg_reset(&msg);
  if (rc != CFLIGHT_OK) return rc;
  if (fd->descriptor == NULL) {
    cf_flight_data_reset(fd);
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "%s: the first message must carry the flight descriptor",
                             cf_method_name(ctx->method));
  }
  *d = fd->descriptor;
  fd->descriptor = NULL;
  return CFLIGHT_OK;
}

static int handle(cflight_server *s, cflight_call_context *ctx, cflight_error *err) {
  const cflight_server_handlers *h = &s->h;
  int rc = CFLIGHT_OK;
  void *req = NULL;
  switch (ctx->method) {
    case CF_M_HANDSHAKE: {
      cflight_auth_stream stream = {ctx->call, ctx, false};
      if (s->auth != NULL) return cf_server_auth_handshake(s->auth, ctx, &stream, err);
      if (h->handshake == NULL)
        return cflight_error_set(err, CFLIGHT_UNIMPLEMENTED,
                                 "this server has no authentication handler and no Handshake");
      return h->handshake(s->user, ctx, &stream, err);
    }
    case CF_M_LIST_FLIGHTS: {
      if (h->list_flights == NULL) return unimplemented(ctx, err);
      CF_RETURN_NOT_OK(
          recv_request(ctx, &arrow__flight__protocol__criteria__descriptor, &req, err));
      size_t size = 0;
      const uint8_t *expr = cflight_criteria_expression(req, &size);
      cflight_result_writer w = {ctx->call, ctx};
      rc = h->list_flights(s->user, ctx, expr, size, &w, err);
      cflight_criteria_free(req);
      return rc;
    }
    case CF_M_GET_FLIGHT_INFO:
    case CF_M_POLL_FLIGHT_INFO: {
      bool poll = ctx->method == CF_M_POLL_FLIGHT_INFO;
      if (poll ? h->poll_flight_info == NULL : h->get_flight_info == NULL)
        return unimplemented(ctx, err);
      CF_RETURN_NOT_OK(
          recv_request(ctx, &arrow__flight__protocol__flight_descriptor__descriptor, &req, err));
      void *resp = NULL;
      rc = poll ? h->poll_flight_info(s->user, ctx, req, (cflight_poll_info **)&resp, err)
                : h->get_flight_info(s->user, ctx, req, (cflight_flight_info **)&resp, err);
      if (rc == CFLIGHT_OK && resp == NULL)
        rc = cflight_error_set(err, CFLIGHT_INTERNAL, "%s: the handler returned nothing",
                               cf_method_name(ctx->method));
      if (rc == CFLIGHT_OK) rc = send_pb_last(ctx->call, ctx, resp, err);
      cf_pb_free(resp);
      cflight_descriptor_free(req);
      return rc;
    }
    case CF_M_GET_SCHEMA: {
      if (h->get_schema == NULL) return unimplemented(ctx, err);
      CF_RETURN_NOT_OK(
          recv_request(ctx, &arrow__flight__protocol__flight_descriptor__descriptor, &req, err));
      struct ArrowSchema schema = {0};
      rc = h->get_schema(s->user, ctx, req, &schema, err);
      cflight_schema_result *sr = NULL;
      if (rc == CFLIGHT_OK && schema.release == NULL)
        rc = cflight_error_set(err, CFLIGHT_INTERNAL, "GetSchema: the handler returned no schema");
      if (rc == CFLIGHT_OK) rc = cflight_schema_result_new_from_schema(&schema, &sr, err);
      if (rc == CFLIGHT_OK) rc = send_pb_last(ctx->call, ctx, sr, err);
      cflight_schema_result_free(sr);
      cf_schema_release(&schema);
      cflight_descriptor_free(req);
      return rc;
    }
    case CF_M_DO_GET: {
      if (h->do_get == NULL) return unimplemented(ctx, err);
      CF_RETURN_NOT_OK(recv_request(ctx, &arrow__flight__protocol__ticket__descriptor, &req, err));
      cflight_data_stream *ds = NULL;
      rc = h->do_get(s->user, ctx, req, &ds, err);
      cflight_ticket_free(req);
      if (rc != CFLIGHT_OK) {
        cflight_data_stream_free(ds);
        return rc;
      }
      if (ds == NULL)
        return cflight_error_set(err, CFLIGHT_INTERNAL, "DoGet: the handler returned no stream");
      return cf_serve_data_stream(ctx, ds, err);
    }
    case CF_M_DO_PUT:
    case CF_M_DO_EXCHANGE: {
      bool put = ctx->method == CF_M_DO_PUT;
      if (put ? h->do_put == NULL : h->do_exchange == NULL) return unimplemented(ctx, err);
      cf_flight_data fd;
      cflight_descriptor *d = NULL;
      CF_RETURN_NOT_OK(recv_first_data(ctx, &fd, &d, err));
      cflight_stream_reader *r = NULL;
      cflight_stream_writer *w = NULL;
      rc = cf_stream_reader_new(ctx->call, NULL, ctx,
                                put ? CF_STREAM_DO_PUT : CF_STREAM_DO_EXCHANGE, NULL, &fd, &r, err);
      if (rc == CFLIGHT_OK && !put)
        rc = cf_stream_writer_new(ctx->call, NULL, ctx, NULL, s->ipc, 0, &w, err);
      if (rc == CFLIGHT_OK) {
        cflight_metadata_writer mw = {ctx->call, ctx};
        rc = put ? h->do_put(s->user, ctx, d, r, &mw, err)
                 : h->do_exchange(s->user, ctx, d, r, w, err);
      }
      cflight_stream_writer_free(w);
      cflight_stream_reader_free(r);
      cflight_descriptor_free(d);
      return rc;
    }
    case CF_M_DO_ACTION: {
      if (h->do_action == NULL) return unimplemented(ctx, err);
      CF_RETURN_NOT_OK(recv_request(ctx, &arrow__flight__protocol__action__descriptor, &req, err));
      cflight_result_writer w = {ctx->call, ctx};
      rc = h->do_action(s->user, ctx, req, &w, err);
      cflight_action_free(req);
      return rc;
    }
    case CF_M_LIST_ACTIONS: {
      if (h->list_actions == NULL) return unimplemented(ctx, err);
      CF_RETURN_NOT_OK(recv_request(ctx, &arrow__flight__protocol__empty__descriptor, &req, err));
      cf_pb_free(req);
      cflight_result_writer w = {ctx->call, ctx};
      return h->list_actions(s->user, ctx, &w, err);
    }
    default:
      return cflight_error_set(err, CFLIGHT_UNIMPLEMENTED, "unknown method");
  }
}

/* Starts the server middleware; a refusal becomes the call's status. */
static int start_middleware(cflight_server *s, cflight_call_context *ctx, cflight_error *err) {
  if (s->n_mw == 0) return CFLIGHT_OK;
  ctx->mw = calloc(s->n_mw, sizeof(*ctx->mw));
  if (ctx->mw == NULL) return CF_NOMEM(err, "middleware");
  const cflight_headers *in = cf_headers_view(cf_call_request_headers(ctx->call));
  for (size_t i = 0; i < s->n_mw; i++) {
    cflight_server_middleware_factory *f = s->mw[i].f;
    void *inst = NULL;
    if (f->cb.start_call != NULL) {
      int rc = f->cb.start_call(f->ctx, &ctx->info, in, &inst, err);
      if (rc != CFLIGHT_OK) {
        if (err != NULL && err->code == CFLIGHT_OK)
          cflight_error_set(err, rc, "server middleware '%s' refused the call", s->mw[i].key);
        return rc;
      }
    }
    ctx->mw[i] = (cf_mw_slot){s->mw[i].key, f, inst};
    ctx->n_mw = i + 1;
  }
  return CFLIGHT_OK;
}

static void on_call(void *arg, cf_call *call) {
  cflight_server *s = arg;
  in_handler = true;
  cflight_call_context ctx = {0};
  ctx.server = s;
  ctx.call = call;
  ctx.info.peer = cf_call_peer(call);
  pthread_mutex_init(&ctx.mu, NULL);
  cflight_error st = {0};
  int m = cf_method_from_path(cf_call_method(call));
  int rc;
  if (m < 0) {
    rc = cflight_error_set(&st, CFLIGHT_UNIMPLEMENTED, "unknown method '%s'", cf_call_method(call));
  } else {
    ctx.method = (cf_method)m;
    ctx.info.method = (cf_method)m;
    rc = start_middleware(s, &ctx, &st);
    if (rc == CFLIGHT_OK && s->auth != NULL && ctx.method != CF_M_HANDSHAKE)
      rc = cf_server_auth_check(s->auth, cf_call_request_headers(call), &ctx.identity, &st);
    if (rc == CFLIGHT_OK && ctx.identity == NULL && s->auth == NULL) {
      const char *subject = cf_call_peer_cert_subject(call);
      if (subject != NULL) ctx.identity = cf_strdup(subject);
    }
    if (rc == CFLIGHT_OK) rc = handle(s, &ctx, &st);
  }
  if (rc == CFLIGHT_OK) {
    cflight_error_reset(&st);
  } else if (st.code == CFLIGHT_OK) {
    cflight_error_set(&st, rc, "%s failed", cf_method_name(ctx.method));
  }
  /* What the client will see. */
  st.code = cflight_code_to_grpc(st.code);
  cflight_error e = {0};
  cf_sctx_flush_headers(&ctx, &e);
  cflight_error_reset(&e);
  pthread_mutex_lock(&ctx.mu);
  cf_metadata trailers = ctx.out_trailers;
  memset(&ctx.out_trailers, 0, sizeof(ctx.out_trailers));
  pthread_mutex_unlock(&ctx.mu);
  cf_call_respond(call, &st, &trailers, &e);
  cflight_error_reset(&e);
  cf_metadata_reset(&trailers);
  for (size_t i = ctx.n_mw; i-- > 0;) {
    cf_mw_slot *slot = &ctx.mw[i];
    if (slot->inst != NULL && slot->f->cb.call_completed != NULL)
      slot->f->cb.call_completed(slot->inst, &st);
  }
  free(ctx.mw);
  free(ctx.identity);
  cf_metadata_reset(&ctx.out_headers);
  pthread_mutex_destroy(&ctx.mu);
  cflight_error_reset(&st);
  cf_call_free(call);
  in_handler = false;
}
