/* A cflight server implementing the test service of tests/interop/README.md,
 * for the Node and Python peers' clients to check. Public API only.
 *
 *   flight_test_server [--port N] [--host H] [--gold DIR] [--exit-on-eof]
 *                      [--security [--certs DIR]]
 *
 * Prints its port on stdout first thing, then serves until SIGTERM/SIGINT,
 * or with --exit-on-eof until stdin closes. With --security it serves the
 * security configuration of the README (TLS, mutual TLS, header and
 * handshake authentication, middleware) and prints its ports as
 * "PORT NAME=PORT ...". */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cflight.h"
#include "interop_util.h"

/* ---- State ------------------------------------------------------------------------------ */

typedef struct dataset {
  const char *name;
  struct ArrowSchema schema;
  cflight_buffer *schema_bytes;
  int64_t rows;
} dataset;

/* One record batch or metadata-only message of an upload, in order. */
typedef struct item {
  bool is_batch;
  cflight_buffer *app_metadata; /* may be NULL */
} item;

/* An upload: its batches as an IPC stream, and the messages' order.
 * Immutable once stored; shared by reference count. */
typedef struct upload {
  atomic_int refs;
  char *name;
  cflight_buffer *ipc;
  cflight_buffer *schema_bytes;
  item *items;
  size_t n_items;
  int64_t rows;
} upload;

typedef struct state {
  it_args args;
  dataset *datasets;
  size_t n_datasets;
  pthread_mutex_t mu; /* guards what follows */
  pthread_cond_t cv;  /* probes set */
  upload **uploads;
  size_t n_uploads;
  char probe_sleep[16], probe_endless[16]; /* "" when unset */
  cflight_get_session_options_result *session;
} state;

static void upload_unref(upload *u) {
  if (u == NULL || atomic_fetch_sub(&u->refs, 1) != 1) return;
  for (size_t i = 0; i < u->n_items; i++)
    cflight_buffer_unref(u->items[i].app_metadata);
  free(u->items);
  cflight_buffer_unref(u->ipc);
  cflight_buffer_unref(u->schema_bytes);
  free(u->name);
  free(u);
}

static upload *find_upload(state *s, const char *name) {
  upload *found = NULL;
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->n_uploads; i++) {
    if (strcmp(s->uploads[i]->name, name) == 0) {
      found = s->uploads[i];
      atomic_fetch_add(&found->refs, 1);
    }
  }
  pthread_mutex_unlock(&s->mu);
  return found;
}

static int store_upload(state *s, upload *u, cflight_error *err) {
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->n_uploads; i++) {
    if (strcmp(s->uploads[i]->name, u->name) == 0) {
      upload_unref(s->uploads[i]);
      s->uploads[i] = u;
      pthread_mutex_unlock(&s->mu);
      return CFLIGHT_OK;
    }
  }
  upload **grown = realloc(s->uploads, (s->n_uploads + 1) * sizeof(*grown));
  if (grown == NULL) {
    pthread_mutex_unlock(&s->mu);
    upload_unref(u);
    return cflight_error_set(err, CFLIGHT_NO_MEMORY, "storing the upload");
  }
  s->uploads = grown;
  s->uploads[s->n_uploads++] = u;
  pthread_mutex_unlock(&s->mu);
  return CFLIGHT_OK;
}

static void set_probe(state *s, char *probe, const char *value) {
  pthread_mutex_lock(&s->mu);
  snprintf(probe, 16, "%s", value);
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static const dataset *find_dataset(state *s, const char *name) {
  for (size_t i = 0; i < s->n_datasets; i++)
    if (strcmp(s->datasets[i].name, name) == 0) return &s->datasets[i];
  return NULL;
}

/* ---- Every call: x-echo-* request headers come back as headers and trailers -------- */

static void echo_headers(cflight_call_context *ctx) {
  const cflight_headers *h = cflight_call_context_headers(ctx);
  for (size_t i = 0; h != NULL && i < cflight_headers_count(h); i++) {
    const char *key = cflight_headers_key(h, i);
    if (strncmp(key, "x-echo-", 7) != 0) continue;
    size_t size = 0;
    const uint8_t *value = cflight_headers_value(h, i, &size);
    char trailer[300];
    snprintf(trailer, sizeof(trailer), "x-trailer-%s", key + 7);
    cflight_error e = {0};
    if (cflight_call_context_add_header(ctx, key, value, size, &e) != CFLIGHT_OK ||
        cflight_call_context_add_trailer(ctx, trailer, value, size, &e) != CFLIGHT_OK)
      fprintf(stderr, "flight_test_server: echoing %s: %s\n", key, e.message);
    cflight_error_reset(&e);
  }
}

/* "deadline" when the call's deadline has (about) passed, else "cancelled".
 * A client whose deadline passes resets the stream (RST_STREAM CANCEL), and
 * that can reach the server a little before its own deadline does. */
static const char *ended_by(const cflight_call_context *ctx) {
  double left = cflight_call_context_time_remaining(ctx);
  return left >= 0.0 && left <= 0.1 ? "deadline" : "cancelled";
}

static cflight_buffer *text(const char *fmt, ...) CFLIGHT_PRINTF(1, 2);

static cflight_buffer *text(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return cflight_buffer_copy(buf, strlen(buf));
}

/* ---- Flights ------------------------------------------------------------------------------ */

static int gold_info(const dataset *d, cflight_flight_info **out, cflight_error *err) {
  char buf[300];
  cflight_flight_info *info = NULL;
  cflight_descriptor *desc = NULL;
  cflight_ticket *ticket = NULL;
  cflight_location *locs[2] = {NULL, NULL};
  cflight_endpoint *e = NULL;
  const char *path[2] = {"gold", d->name};
  int rc = cflight_flight_info_new(&info, err);
  if (rc == CFLIGHT_OK)
    rc = cflight_flight_info_set_schema_bytes(info, cflight_buffer_data(d->schema_bytes),
                                              cflight_buffer_size(d->schema_bytes), err);
  if (rc == CFLIGHT_OK) rc = cflight_descriptor_new_path(path, 2, &desc, err);
  if (rc == CFLIGHT_OK) rc = cflight_flight_info_set_descriptor(info, desc, err);
  snprintf(buf, sizeof(buf), "gold/%s", d->name);
  if (rc == CFLIGHT_OK) rc = cflight_ticket_new(buf, strlen(buf), &ticket, err);
  for (int i = 0; i < 2 && rc == CFLIGHT_OK; i++)
    rc = cflight_location_parse(it_locations[i], &locs[i], err);
  if (rc == CFLIGHT_OK)
    rc = cflight_endpoint_new(ticket, (const cflight_location *const *)locs, 2, &e, err);
  cflight_timestamp ts = {IT_EXPIRATION_SECONDS, IT_EXPIRATION_NANOS};
  if (rc == CFLIGHT_OK) rc = cflight_endpoint_set_expiration_time(e, &ts, err);
  snprintf(buf, sizeof(buf), "endpoint:%s", d->name);
  if (rc == CFLIGHT_OK) rc = cflight_endpoint_set_app_metadata(e, buf, strlen(buf), err);
  if (rc == CFLIGHT_OK) rc = cflight_flight_info_add_endpoint(info, e, err);
  snprintf(buf, sizeof(buf), "info:%s", d->name);
  if (rc == CFLIGHT_OK) rc = cflight_flight_info_set_app_metadata(info, buf, strlen(buf), err);
  if (rc == CFLIGHT_OK) {
    cflight_flight_info_set_total_records(info, d->rows);
    cflight_flight_info_set_total_bytes(info, -1);
    cflight_flight_info_set_ordered(info, true);
  }
  cflight_descriptor_free(desc);
  cflight_ticket_free(ticket);
  cflight_location_free(locs[0]);
  cflight_location_free(locs[1]);
  cflight_endpoint_free(e);
  if (rc != CFLIGHT_OK) {
    cflight_flight_info_free(info);
    info = NULL;
  }
  *out = info;
  return rc;
}

static int upload_info(const upload *u, cflight_flight_info **out, cflight_error *err) {
  char buf[300];
  cflight_flight_info *info = NULL;
  cflight_descriptor *desc = NULL;
  cflight_ticket *ticket = NULL;
  cflight_endpoint *e = NULL;
  const char *path[2] = {"uploads", u->name};
  int rc = cflight_flight_info_new(&info, err);
  if (rc == CFLIGHT_OK)
    rc = cflight_flight_info_set_schema_bytes(info, cflight_buffer_data(u->schema_bytes),
                                              cflight_buffer_size(u->schema_bytes), err);
  if (rc == CFLIGHT_OK) rc = cflight_descriptor_new_path(path, 2, &desc, err);
  if (rc == CFLIGHT_OK) rc = cflight_flight_info_set_descriptor(info, desc, err);
  snprintf(buf, sizeof(buf), "uploads/%s", u->name);
  if (rc == CFLIGHT_OK) rc = cflight_ticket_new(buf, strlen(buf), &ticket, err);
  if (rc == CFLIGHT_OK) rc = cflight_endpoint_new(ticket, NULL, 0, &e, err);
  if (rc == CFLIGHT_OK) rc = cflight_flight_info_add_endpoint(info, e, err);
  if (rc == CFLIGHT_OK) {
    cflight_flight_info_set_total_records(info, u->rows);
    cflight_flight_info_set_total_bytes(info, -1);
    cflight_flight_info_set_ordered(info, true);
  }
  cflight_descriptor_free(desc);
  cflight_ticket_free(ticket);
  cflight_endpoint_free(e);
  if (rc != CFLIGHT_OK) {
    cflight_flight_info_free(info);
    info = NULL;
  }
  *out = info;
  return rc;
}

static int find_flight(state *s, const cflight_descriptor *d, cflight_flight_info **out,
                       cflight_error *err) {
  *out = NULL;
  if (d != NULL && cflight_descriptor_get_type(d) == CFLIGHT_DESCRIPTOR_PATH &&
      cflight_descriptor_path_count(d) == 2) {
    const char *kind = cflight_descriptor_path_part(d, 0);
    const char *name = cflight_descriptor_path_part(d, 1);
    if (strcmp(kind, "gold") == 0) {
      const dataset *ds = find_dataset(s, name);
      if (ds != NULL) return gold_info(ds, out, err);
    } else if (strcmp(kind, "uploads") == 0) {
      upload *u = find_upload(s, name);
      if (u != NULL) {
        int rc = upload_info(u, out, err);
        upload_unref(u);
        return rc;
      }
    }
  }
  return cflight_error_set(err, CFLIGHT_NOT_FOUND, "unknown flight");
}

static int h_list_flights(void *user, cflight_call_context *ctx, const void *criteria,
                          size_t criteria_size, cflight_result_writer *out, cflight_error *err) {
  state *s = user;
  echo_headers(ctx);
  for (size_t i = 0; i < s->n_datasets; i++) {
    char ticket[300];
    snprintf(ticket, sizeof(ticket), "gold/%s", s->datasets[i].name);
    if (criteria_size > strlen(ticket) ||
        (criteria_size > 0 && memcmp(ticket, criteria, criteria_size) != 0))
      continue;
    cflight_flight_info *info = NULL;
    int rc = gold_info(&s->datasets[i], &info, err);
    if (rc == CFLIGHT_OK) rc = cflight_result_writer_write_info(out, info, err);
    cflight_flight_info_free(info);
    if (rc != CFLIGHT_OK) return rc;
  }
  return CFLIGHT_OK;
}

static int h_get_flight_info(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                             cflight_flight_info **out, cflight_error *err) {
  echo_headers(ctx);
  return find_flight(user, d, out, err);
}

static int h_get_schema(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                        struct ArrowSchema *out, cflight_error *err) {
  echo_headers(ctx);
  cflight_flight_info *info = NULL;
  int rc = find_flight(user, d, &info, err);
  if (rc == CFLIGHT_OK) rc = cflight_flight_info_schema(info, out, err);
  cflight_flight_info_free(info);
  return rc;
}

static int h_poll_flight_info(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                              cflight_poll_info **out, cflight_error *err) {
  state *s = user;
  echo_headers(ctx);
  *out = NULL;
  size_t n = 0;
  const uint8_t *cmd = cflight_descriptor_get_type(d) == CFLIGHT_DESCRIPTOR_CMD
                           ? cflight_descriptor_command(d, &n)
                           : NULL;
  char name[300];
  bool done = false;
  if (cmd == NULL || n < 5 || n >= sizeof(name) || memcmp(cmd, "poll:", 5) != 0)
    return cflight_error_set(err, CFLIGHT_NOT_FOUND, "unknown query");
  memcpy(name, cmd + 5, n - 5);
  name[n - 5] = '\0';
  size_t len = strlen(name);
  if (len != n - 5) return cflight_error_set(err, CFLIGHT_NOT_FOUND, "unknown query");
  if (len > 5 && strcmp(name + len - 5, ":done") == 0) {
    done = true;
    name[len - 5] = '\0';
  }
  const dataset *ds = find_dataset(s, name);
  if (ds == NULL) return cflight_error_set(err, CFLIGHT_NOT_FOUND, "unknown query");
  cflight_poll_info *p = NULL;
  cflight_flight_info *info = NULL;
  cflight_descriptor *next = NULL, *self = NULL;
  int rc = cflight_poll_info_new(&p, err);
  if (done) {
    if (rc == CFLIGHT_OK) rc = gold_info(ds, &info, err);
    if (rc == CFLIGHT_OK) rc = cflight_poll_info_set_info(p, info, err);
    if (rc == CFLIGHT_OK) rc = cflight_poll_info_set_progress(p, 1.0, err);
  } else {
    char more[320];
    snprintf(more, sizeof(more), "poll:%s:done", name);
    if (rc == CFLIGHT_OK) rc = cflight_flight_info_new(&info, err);
    if (rc == CFLIGHT_OK)
      rc = cflight_flight_info_set_schema_bytes(info, cflight_buffer_data(ds->schema_bytes),
                                                cflight_buffer_size(ds->schema_bytes), err);
    if (rc == CFLIGHT_OK) rc = cflight_descriptor_new_command(cmd, n, &self, err);
    if (rc == CFLIGHT_OK) rc = cflight_flight_info_set_descriptor(info, self, err);
    if (rc == CFLIGHT_OK) rc = cflight_flight_info_set_app_metadata(info, "pending", 7, err);
    if (rc == CFLIGHT_OK) rc = cflight_poll_info_set_info(p, info, err);
    if (rc == CFLIGHT_OK) rc = cflight_descriptor_new_command(more, strlen(more), &next, err);
    if (rc == CFLIGHT_OK) rc = cflight_poll_info_set_descriptor(p, next, err);
    if (rc == CFLIGHT_OK) rc = cflight_poll_info_set_progress(p, 0.5, err);
    cflight_timestamp ts = {IT_EXPIRATION_SECONDS, IT_EXPIRATION_NANOS};
    if (rc == CFLIGHT_OK) rc = cflight_poll_info_set_expiration_time(p, &ts, err);
  }
  cflight_flight_info_free(info);
  cflight_descriptor_free(next);
  cflight_descriptor_free(self);
  if (rc != CFLIGHT_OK) {
    cflight_poll_info_free(p);
    return rc;
  }
  *out = p;
  return CFLIGHT_OK;
}

/* ---- DoGet ---------------------------------------------------------------------------------- */

/* A gold dataset or an upload, read from its IPC stream; record batch k of
 * a dataset gets app_metadata "NAME:k", an upload's items keep theirs. */
typedef struct replay {
  struct ArrowArrayStream stream;
  char name[256];
  int64_t k;
  upload *up; /* NULL for a gold dataset */
} replay;

static void replay_free(void *p) {
  replay *r = p;
  if (r->stream.release != NULL) r->stream.release(&r->stream);
  upload_unref(r->up);
  free(r);
}

static int replay_next(void *p, cflight_chunk *out, cflight_error *err) {
  replay *r = p;
  memset(out, 0, sizeof(*out));
  bool want_batch = true;
  if (r->up != NULL) {
    if ((size_t)r->k >= r->up->n_items) return CFLIGHT_OK;
    const item *it = &r->up->items[r->k++];
    out->app_metadata = cflight_buffer_ref(it->app_metadata);
    want_batch = it->is_batch;
  }
  if (!want_batch) return CFLIGHT_OK;
  if (r->stream.get_next(&r->stream, &out->data) != 0) {
    const char *e = r->stream.get_last_error(&r->stream);
    cflight_chunk_release(out);
    return cflight_error_set(err, CFLIGHT_INTERNAL, "reading %s: %s", r->name, e ? e : "failed");
  }
  if (out->data.release == NULL) {
    cflight_chunk_release(out);
    if (r->up != NULL)
      return cflight_error_set(err, CFLIGHT_INTERNAL, "upload %s lost a batch", r->name);
    return CFLIGHT_OK;
  }
  if (r->up == NULL) {
    out->app_metadata = text("%s:%lld", r->name, (long long)r->k++);
    if (out->app_metadata == NULL) {
      cflight_chunk_release(out);
      return cflight_error_set(err, CFLIGHT_NO_MEMORY, "app_metadata");
    }
  }
  return CFLIGHT_OK;
}

/* The int64 streams: `large`, `endless` and `server-cancel`. */
typedef struct int64_gen {
  state *s;
  cflight_call_context *ctx; /* lives while the stream is served */
  int kind;                  /* 0 large, 1 endless, 2 server-cancel */
  int64_t k;
  bool completed;
} int64_gen;

static void int64_gen_free(void *p) {
  int64_gen *g = p;
  if (g->kind == 1)
    set_probe(g->s, g->s->probe_endless, g->completed ? "completed" : ended_by(g->ctx));
  free(g);
}

static int int64_gen_next(void *p, cflight_chunk *out, cflight_error *err) {
  int64_gen *g = p;
  memset(out, 0, sizeof(*out));
  if (g->kind == 0) {
    if (g->k++ > 0) return CFLIGHT_OK;
    if (!it_int64_batch(IT_LARGE_ROWS, 0, &out->data))
      return cflight_error_set(err, CFLIGHT_NO_MEMORY, "the large batch");
    out->app_metadata = cflight_buffer_copy("large", 5);
    return CFLIGHT_OK;
  }
  if (g->kind == 2 && g->k == 2)
    return cflight_error_set(err, CFLIGHT_CANCELLED, "cancelled by the server");
  if (g->k == IT_ENDLESS_BATCHES) {
    g->completed = true;
    return CFLIGHT_OK;
  }
  if (g->k > 0) it_sleep_ms(10);
  if (cflight_call_context_is_cancelled(g->ctx))
    return cflight_error_set(err, CFLIGHT_CANCELLED, "the client went away");
  if (!it_int64_batch(IT_ENDLESS_ROWS, g->k * IT_ENDLESS_ROWS, &out->data))
    return cflight_error_set(err, CFLIGHT_NO_MEMORY, "a batch");
  out->app_metadata = text("endless:%lld", (long long)g->k++);
  return CFLIGHT_OK;
}

static int h_do_get(void *user, cflight_call_context *ctx, const cflight_ticket *t,
                    cflight_data_stream **out, cflight_error *err) {
  state *s = user;
  echo_headers(ctx);
  size_t n = 0;
  const uint8_t *data = cflight_ticket_data(t, &n);
  char ticket[300];
  if (n >= sizeof(ticket) || (n > 0 && memchr(data, 0, n) != NULL))
    return cflight_error_set(err, CFLIGHT_NOT_FOUND, "unknown ticket");
  if (n > 0) memcpy(ticket, data, n);
  ticket[n] = '\0';

  int kind = strcmp(ticket, "large") == 0           ? 0
             : strcmp(ticket, "endless") == 0       ? 1
             : strcmp(ticket, "server-cancel") == 0 ? 2
                                                    : -1;
  if (kind >= 0) {
    int64_gen *g = calloc(1, sizeof(*g));
    if (g == NULL) return cflight_error_set(err, CFLIGHT_NO_MEMORY, "DoGet");
    g->s = s;
    g->ctx = ctx;
    g->kind = kind;
    struct ArrowSchema schema;
    it_int64_schema(kind == 0 ? "data" : "n", &schema);
    *out = cflight_data_stream_new_generator(&schema, int64_gen_next, int64_gen_free, g);
    schema.release(&schema);
    return *out != NULL ? CFLIGHT_OK : cflight_error_set(err, CFLIGHT_NO_MEMORY, "DoGet");
  }

  replay *r = calloc(1, sizeof(*r));
  if (r == NULL) return cflight_error_set(err, CFLIGHT_NO_MEMORY, "DoGet");
  int rc = CFLIGHT_OK;
  const struct ArrowSchema *schema = NULL;
  struct ArrowSchema upload_schema = {0};
  if (strncmp(ticket, "gold/", 5) == 0 && find_dataset(s, ticket + 5) != NULL) {
    const dataset *ds = find_dataset(s, ticket + 5);
    char path[4096];
    snprintf(r->name, sizeof(r->name), "%s", ds->name);
    it_gold_path(s->args.gold, ds->name, path, sizeof(path));
    cflight_ipc_format format;
    rc = cflight_ipc_open_path(path, NULL, &r->stream, &format, err);
    schema = &ds->schema;
  } else if (strncmp(ticket, "uploads/", 8) == 0 && (r->up = find_upload(s, ticket + 8)) != NULL) {
    snprintf(r->name, sizeof(r->name), "%s", r->up->name);
    rc = cflight_ipc_stream_open_buffer(r->up->ipc, NULL, &r->stream, err);
    if (rc == CFLIGHT_OK && r->stream.get_schema(&r->stream, &upload_schema) != 0)
      rc = cflight_error_set(err, CFLIGHT_INTERNAL, "the upload's schema");
    schema = &upload_schema;
  } else {
    rc = cflight_error_set(err, CFLIGHT_NOT_FOUND, "unknown ticket");
  }
  if (rc == CFLIGHT_OK) {
    *out = cflight_data_stream_new_generator(schema, replay_next, replay_free, r);
    if (*out == NULL) rc = cflight_error_set(err, CFLIGHT_NO_MEMORY, "DoGet");
  } else {
    replay_free(r);
  }
  if (upload_schema.release != NULL) upload_schema.release(&upload_schema);
  return rc;
}

/* ---- DoPut ---------------------------------------------------------------------------------- */

typedef struct sink {
  uint8_t *data;
  size_t len, cap;
} sink;

static int sink_write(void *p, const cflight_ipc_piece *pieces, size_t n, cflight_error *err) {
  sink *k = p;
  for (size_t i = 0; i < n; i++) {
    if (k->len + pieces[i].size > k->cap) {
      size_t cap = k->cap ? k->cap : 4096;
      while (cap < k->len + pieces[i].size)
        cap *= 2;
      uint8_t *d = realloc(k->data, cap);
      if (d == NULL) return cflight_error_set(err, CFLIGHT_NO_MEMORY, "upload buffer");
      k->data = d;
      k->cap = cap;
    }
    if (pieces[i].size > 0) memcpy(k->data + k->len, pieces[i].data, pieces[i].size);
    k->len += pieces[i].size;
  }
  return CFLIGHT_OK;
}

static int h_do_put(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                    cflight_stream_reader *reader, cflight_metadata_writer *writer,
                    cflight_error *err) {
  state *s = user;
  echo_headers(ctx);
  if (d == NULL || cflight_descriptor_get_type(d) != CFLIGHT_DESCRIPTOR_PATH ||
      cflight_descriptor_path_count(d) != 2 ||
      strcmp(cflight_descriptor_path_part(d, 0), "uploads") != 0)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "DoPut wants the descriptor PATH [\"uploads\", X]");
  upload *u = calloc(1, sizeof(*u));
  if (u == NULL) return cflight_error_set(err, CFLIGHT_NO_MEMORY, "DoPut");
  atomic_init(&u->refs, 1);
  u->name = strdup(cflight_descriptor_path_part(d, 1));
  struct ArrowSchema schema = {0};
  sink buf = {0};
  cflight_ipc_writer *w = NULL;
  size_t cap = 0;
  int rc = u->name != NULL ? CFLIGHT_OK : cflight_error_set(err, CFLIGHT_NO_MEMORY, "DoPut");
  if (rc == CFLIGHT_OK) rc = cflight_stream_reader_schema(reader, &schema, err);
  if (rc == CFLIGHT_OK) rc = cflight_ipc_schema_serialize(&schema, &u->schema_bytes, err);
  if (rc == CFLIGHT_OK)
    rc = cflight_ipc_writer_open_callback(sink_write, &buf, CFLIGHT_IPC_FORMAT_STREAM, &schema,
                                          NULL, &w, err);
  for (int64_t k = 0; rc == CFLIGHT_OK; k++) {
    cflight_chunk c;
    bool end = false;
    rc = cflight_stream_reader_next(reader, &c, &end, err);
    if (rc != CFLIGHT_OK || end) break;
    size_t mn = c.app_metadata ? cflight_buffer_size(c.app_metadata) : 0;
    char prefix[40];
    int pn = snprintf(prefix, sizeof(prefix), "ack:%lld:", (long long)k);
    uint8_t *ack = malloc((size_t)pn + mn + 1);
    if (ack == NULL) rc = cflight_error_set(err, CFLIGHT_NO_MEMORY, "ack");
    if (rc == CFLIGHT_OK) {
      memcpy(ack, prefix, (size_t)pn);
      if (mn > 0) memcpy(ack + pn, cflight_buffer_data(c.app_metadata), mn);
      rc = cflight_metadata_writer_write(writer, ack, (size_t)pn + mn, err);
    }
    free(ack);
    if (rc == CFLIGHT_OK && c.data.release != NULL) {
      rc = cflight_ipc_writer_write(w, &c.data, err);
      u->rows += c.data.length;
    }
    if (rc == CFLIGHT_OK && u->n_items == cap) {
      cap = cap ? 2 * cap : 8;
      item *items = realloc(u->items, cap * sizeof(*items));
      if (items == NULL)
        rc = cflight_error_set(err, CFLIGHT_NO_MEMORY, "upload items");
      else
        u->items = items;
    }
    if (rc == CFLIGHT_OK) {
      u->items[u->n_items].is_batch = c.data.release != NULL;
      u->items[u->n_items++].app_metadata = cflight_buffer_ref(c.app_metadata);
    }
    cflight_chunk_release(&c);
  }
  if (rc == CFLIGHT_OK) rc = cflight_ipc_writer_close(w, err);
  cflight_ipc_writer_free(w);
  if (schema.release != NULL) schema.release(&schema);
  if (rc == CFLIGHT_OK) {
    u->ipc = cflight_buffer_copy(buf.data, buf.len);
    if (u->ipc == NULL) rc = cflight_error_set(err, CFLIGHT_NO_MEMORY, "upload");
  }
  free(buf.data);
  if (rc != CFLIGHT_OK) {
    upload_unref(u);
    return rc;
  }
  return store_upload(s, u, err);
}

/* ---- DoExchange ----------------------------------------------------------------------------- */

static int h_do_exchange(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                         cflight_stream_reader *reader, cflight_stream_writer *writer,
                         cflight_error *err) {
  echo_headers(ctx);
  size_t n = 0;
  const uint8_t *cmd = d != NULL && cflight_descriptor_get_type(d) == CFLIGHT_DESCRIPTOR_CMD
                           ? cflight_descriptor_command(d, &n)
                           : NULL;
  if (cmd == NULL || n != 4 || memcmp(cmd, "echo", 4) != 0)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "unknown exchange command");
  bool begun = false;
  int rc = CFLIGHT_OK;
  while (rc == CFLIGHT_OK) {
    cflight_chunk c;
    bool end = false;
    rc = cflight_stream_reader_next(reader, &c, &end, err);
    if (rc != CFLIGHT_OK || end) break;
    const void *md = c.app_metadata ? cflight_buffer_data(c.app_metadata) : NULL;
    size_t mn = c.app_metadata ? cflight_buffer_size(c.app_metadata) : 0;
    if (c.data.release != NULL) {
      /* The schema is sent with the first batch: asking for it earlier
       * would wait for it, and a client may want its metadata echoed first. */
      if (!begun) {
        struct ArrowSchema schema;
        rc = cflight_stream_reader_schema(reader, &schema, err);
        if (rc == CFLIGHT_OK) {
          rc = cflight_stream_writer_begin(writer, &schema, err);
          schema.release(&schema);
        }
        begun = true;
      }
      if (rc == CFLIGHT_OK) rc = cflight_stream_writer_write(writer, &c.data, md, mn, err);
    } else {
      rc = cflight_stream_writer_write_metadata(writer, md, mn, err);
    }
    cflight_chunk_release(&c);
  }
  return rc;
}

/* ---- DoAction ------------------------------------------------------------------------------- */

static int write_text(cflight_result_writer *out, const char *s, cflight_error *err) {
  return cflight_result_writer_write_result(out, s, strlen(s), err);
}

/* "CODE:MESSAGE" -> the error. */
static int failure(const char *body, size_t n, cflight_error *err) {
  char buf[4096];
  if (n >= sizeof(buf)) n = sizeof(buf) - 1;
  if (n > 0) memcpy(buf, body, n);
  buf[n] = '\0';
  char *colon = strchr(buf, ':');
  int code = atoi(buf);
  if (colon == NULL || code <= 0 || code > 16)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "a bad CODE:MESSAGE");
  return cflight_error_set(err, code, "%s", colon + 1);
}

/* "KEY=VALUE" (the value's bytes as they are). */
static cflight_buffer *header_line(const char *key, const uint8_t *v, size_t vn) {
  size_t kn = strlen(key);
  cflight_buffer *b = cflight_buffer_new(kn + 1 + vn);
  if (b == NULL) return NULL;
  uint8_t *p = cflight_buffer_mutable_data(b);
  memcpy(p, key, kn);
  p[kn] = '=';
  if (vn > 0) memcpy(p + kn + 1, v, vn);
  return b;
}

/* Writes lines[0..m) as Results, sorted bytewise (a few lines: insertion
 * sort). Sorts lines in place; does not free them. */
static int write_sorted(cflight_buffer **lines, size_t m, cflight_result_writer *out,
                        cflight_error *err) {
  for (size_t i = 1; i < m; i++) {
    for (size_t j = i; j > 0; j--) {
      const cflight_buffer *a = lines[j - 1], *b = lines[j];
      size_t an = cflight_buffer_size(a), bn = cflight_buffer_size(b);
      int c = memcmp(cflight_buffer_data(a), cflight_buffer_data(b), an < bn ? an : bn);
      if (c < 0 || (c == 0 && an <= bn)) break;
      cflight_buffer *t = lines[j - 1];
      lines[j - 1] = lines[j];
      lines[j] = t;
    }
  }
  for (size_t i = 0; i < m; i++)
    IT_TRY(cflight_result_writer_write_result(out, cflight_buffer_data(lines[i]),
                                              cflight_buffer_size(lines[i]), err));
  return CFLIGHT_OK;
}

static int action_headers(cflight_call_context *ctx, cflight_result_writer *out,
                          cflight_error *err) {
  const cflight_headers *h = cflight_call_context_headers(ctx);
  size_t n = cflight_headers_count(h), m = 0;
  cflight_buffer **lines = calloc(n ? n : 1, sizeof(*lines));
  if (lines == NULL) return cflight_error_set(err, CFLIGHT_NO_MEMORY, "headers");
  for (size_t i = 0; i < n; i++) {
    const char *key = cflight_headers_key(h, i);
    if (strncmp(key, "x-", 2) != 0 && strcmp(key, "authorization") != 0 &&
        strcmp(key, "auth-token-bin") != 0)
      continue;
    size_t vn = 0;
    const uint8_t *v = cflight_headers_value(h, i, &vn);
    cflight_buffer *b = header_line(key, v, vn);
    if (b != NULL) lines[m++] = b;
  }
  int rc = write_sorted(lines, m, out, err);
  for (size_t i = 0; i < m; i++)
    cflight_buffer_unref(lines[i]);
  free(lines);
  return rc;
}

static int action_sleep(state *s, cflight_call_context *ctx, long ms, cflight_result_writer *out,
                        cflight_error *err) {
  int64_t end = it_now_ms() + ms;
  while (it_now_ms() < end && !cflight_call_context_is_cancelled(ctx))
    it_sleep_ms(5);
  if (cflight_call_context_is_cancelled(ctx)) {
    const char *how = ended_by(ctx);
    set_probe(s, s->probe_sleep, how);
    /* As a gRPC server answers when the deadline passes: a loaded client
     * may read this status before its own deadline timer fires. */
    if (strcmp(how, "deadline") == 0)
      return cflight_error_set(err, CFLIGHT_DEADLINE_EXCEEDED, "the sleep passed the deadline");
    return cflight_error_set(err, CFLIGHT_CANCELLED, "the sleep was cut short");
  }
  set_probe(s, s->probe_sleep, "completed");
  return write_text(out, "slept", err);
}

static int action_probe(state *s, const char *name, cflight_result_writer *out,
                        cflight_error *err) {
  char *probe = strcmp(name, "sleep") == 0     ? s->probe_sleep
                : strcmp(name, "endless") == 0 ? s->probe_endless
                                               : NULL;
  char value[16] = "unset";
  if (probe != NULL) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&s->mu);
    while (probe[0] == '\0' && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0) {
    }
    if (probe[0] != '\0') {
      snprintf(value, sizeof(value), "%s", probe);
      probe[0] = '\0';
    }
    pthread_mutex_unlock(&s->mu);
  }
  return write_text(out, value, err);
}

static int action_session(state *s, const cflight_action *a, const char *type,
                          cflight_result_writer *out, cflight_error *err) {
  int rc = CFLIGHT_OK;
  if (strcmp(type, CFLIGHT_ACTION_SET_SESSION_OPTIONS) == 0) {
    cflight_set_session_options_request *req = NULL;
    cflight_set_session_options_result *res = NULL;
    rc = cflight_action_decode_set_session_options_request(a, &req, err);
    if (rc == CFLIGHT_OK) rc = cflight_set_session_options_result_new(&res, err);
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; rc == CFLIGHT_OK && i < cflight_set_session_options_request_count(req);
         i++) {
      const char *name = cflight_set_session_options_request_name(req, i);
      const cflight_session_option_value *v = cflight_set_session_options_request_value(req, i);
      if (strncmp(name, "bad", 3) == 0) {
        rc = cflight_set_session_options_result_set_error(
            res, name, CFLIGHT_SET_SESSION_OPTION_ERROR_INVALID_NAME, err);
      } else if (cflight_session_option_value_get_type(v) == CFLIGHT_SESSION_OPTION_UNSET) {
        /* No remove: rebuild without it. */
        cflight_get_session_options_result *kept = NULL;
        rc = cflight_get_session_options_result_new(&kept, err);
        for (size_t j = 0;
             rc == CFLIGHT_OK && j < cflight_get_session_options_result_count(s->session); j++) {
          const char *n = cflight_get_session_options_result_name(s->session, j);
          if (strcmp(n, name) != 0)
            rc = cflight_get_session_options_result_set(
                kept, n, cflight_get_session_options_result_value(s->session, j), err);
        }
        if (rc == CFLIGHT_OK) {
          cflight_get_session_options_result_free(s->session);
          s->session = kept;
        } else {
          cflight_get_session_options_result_free(kept);
        }
      } else {
        rc = cflight_get_session_options_result_set(s->session, name, v, err);
      }
    }
    pthread_mutex_unlock(&s->mu);
    if (rc == CFLIGHT_OK)
      rc = cflight_result_writer_write_set_session_options_result(out, res, err);
    cflight_set_session_options_request_free(req);
    cflight_set_session_options_result_free(res);
  } else if (strcmp(type, CFLIGHT_ACTION_GET_SESSION_OPTIONS) == 0) {
    cflight_get_session_options_request *req = NULL;
    rc = cflight_action_decode_get_session_options_request(a, &req, err);
    cflight_get_session_options_request_free(req);
    pthread_mutex_lock(&s->mu);
    if (rc == CFLIGHT_OK)
      rc = cflight_result_writer_write_get_session_options_result(out, s->session, err);
    pthread_mutex_unlock(&s->mu);
  } else {
    cflight_close_session_request *req = NULL;
    cflight_close_session_result *res = NULL;
    rc = cflight_action_decode_close_session_request(a, &req, err);
    cflight_close_session_request_free(req);
    pthread_mutex_lock(&s->mu);
    cflight_get_session_options_result *empty = NULL;
    if (rc == CFLIGHT_OK) rc = cflight_get_session_options_result_new(&empty, err);
    if (rc == CFLIGHT_OK) {
      cflight_get_session_options_result_free(s->session);
      s->session = empty;
    }
    pthread_mutex_unlock(&s->mu);
    if (rc == CFLIGHT_OK)
      rc = cflight_close_session_result_new(CFLIGHT_CLOSE_SESSION_STATUS_CLOSED, &res, err);
    if (rc == CFLIGHT_OK) rc = cflight_result_writer_write_close_session_result(out, res, err);
    cflight_close_session_result_free(res);
  }
  return rc;
}

/* ---- Security mode: the middleware and the actions ------------------------------------------ */

#define MW_KEY "interop"
#define MW_MAX_SEEN 16

/* What the middleware saw of one call. */
typedef struct mw_call {
  const char *method;
  cflight_buffer *seen[MW_MAX_SEEN]; /* "KEY=VALUE" of the x-mw-* request headers */
  size_t n_seen;
  cflight_buffer *reply; /* x-mw-data-bin's value, sent back as x-mw-reply-bin */
} mw_call;

static int mw_start(void *factory_ctx, const cflight_call_info *info,
                    const cflight_headers *incoming, void **instance, cflight_error *err) {
  (void)factory_ctx;
  mw_call *m = calloc(1, sizeof(*m));
  if (m == NULL) return cflight_error_set(err, CFLIGHT_NO_MEMORY, "middleware");
  m->method = cflight_call_info_method(info);
  for (size_t i = 0; i < cflight_headers_count(incoming); i++) {
    const char *key = cflight_headers_key(incoming, i);
    if (strncmp(key, "x-mw-", 5) != 0) continue;
    size_t n = 0;
    const uint8_t *v = cflight_headers_value(incoming, i, &n);
    if (m->n_seen < MW_MAX_SEEN) {
      cflight_buffer *line = header_line(key, v, n);
      if (line != NULL) m->seen[m->n_seen++] = line;
    }
    if (strcmp(key, "x-mw-data-bin") == 0 && m->reply == NULL) m->reply = cflight_buffer_copy(v, n);
  }
  *instance = m;
  return CFLIGHT_OK;
}

static void mw_sending(void *instance, cflight_headers *outgoing) {
  mw_call *m = instance;
  cflight_headers_add(outgoing, "x-mw-method", m->method, strlen(m->method), NULL);
  if (m->reply != NULL)
    cflight_headers_add(outgoing, "x-mw-reply-bin", cflight_buffer_data(m->reply),
                        cflight_buffer_size(m->reply), NULL);
}

static void mw_completed(void *instance, const cflight_error *status) {
  (void)status;
  mw_call *m = instance;
  for (size_t i = 0; i < m->n_seen; i++)
    cflight_buffer_unref(m->seen[i]);
  cflight_buffer_unref(m->reply);
  free(m);
}

/* The security mode's actions; false when `type` is none of them. */
static bool security_action(cflight_call_context *ctx, const char *type, const uint8_t *body,
                            size_t n, cflight_result_writer *out, int *rc, cflight_error *err) {
  if (strcmp(type, "identity") == 0) {
    *rc = write_text(out, cflight_call_context_peer_identity(ctx), err);
  } else if (strcmp(type, "middleware") == 0) {
    mw_call *m = cflight_call_context_middleware(ctx, MW_KEY);
    *rc = m != NULL ? write_sorted(m->seen, m->n_seen, out, err)
                    : cflight_error_set(err, CFLIGHT_INTERNAL, "no middleware on this call");
  } else if (strcmp(type, "set-cookie") == 0) {
    *rc = cflight_call_context_add_header(ctx, "set-cookie", body, n, err);
    if (*rc == CFLIGHT_OK) *rc = write_text(out, "set", err);
  } else if (strcmp(type, "cookies") == 0) {
    const cflight_headers *h = cflight_call_context_headers(ctx);
    char all[4096] = "";
    size_t used = 0;
    for (size_t i = 0; i < cflight_headers_count(h); i++) {
      if (strcmp(cflight_headers_key(h, i), "cookie") != 0) continue;
      size_t vn = 0;
      const uint8_t *v = cflight_headers_value(h, i, &vn);
      int w = snprintf(all + used, sizeof(all) - used, "%s%.*s", used ? "; " : "", (int)vn,
                       (const char *)v);
      if (w > 0) used = used + (size_t)w < sizeof(all) ? used + (size_t)w : sizeof(all) - 1;
    }
    *rc = write_text(out, all, err);
  } else {
    return false;
  }
  return true;
}

static int h_do_action(void *user, cflight_call_context *ctx, const cflight_action *a,
                       cflight_result_writer *out, cflight_error *err) {
  state *s = user;
  echo_headers(ctx);
  const char *type = cflight_action_get_type(a);
  size_t n = 0;
  const uint8_t *body = cflight_action_body(a, &n);
  char text_body[64] = "";
  if (n < sizeof(text_body) && n > 0) {
    memcpy(text_body, body, n);
    text_body[n] = '\0';
  }
  int rc = CFLIGHT_OK;
  if (s->args.security && security_action(ctx, type, body, n, out, &rc, err)) return rc;
  if (strcmp(type, "echo") == 0) return cflight_result_writer_write_result(out, body, n, err);
  if (strcmp(type, "count") == 0 || strcmp(type, "fail-after") == 0) {
    long count = atol(text_body);
    if (strcmp(type, "fail-after") == 0) {
      const char *colon = memchr(body, ':', n);
      if (colon == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "bad body");
      char head[32] = "";
      size_t hn = (size_t)(colon - (const char *)body);
      if (hn < sizeof(head)) memcpy(head, body, hn);
      count = atol(head);
    }
    for (long i = 0; i < count; i++) {
      char num[32];
      snprintf(num, sizeof(num), "%ld", i);
      IT_TRY(write_text(out, num, err));
    }
    if (strcmp(type, "count") == 0) return CFLIGHT_OK;
    const char *colon = memchr(body, ':', n);
    size_t off = (size_t)(colon - (const char *)body) + 1;
    return failure((const char *)body + off, n - off, err);
  }
  if (strcmp(type, "fail") == 0) return failure((const char *)body, n, err);
  if (strcmp(type, "fail-details") == 0) {
    cflight_error_set_extra_info(err, it_details, it_details_size);
    return cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION, IT_DETAILS_MESSAGE);
  }
  if (strcmp(type, "headers") == 0) return action_headers(ctx, out, err);
  if (strcmp(type, "sleep") == 0) return action_sleep(s, ctx, atol(text_body), out, err);
  if (strcmp(type, "deadline") == 0) {
    double left = cflight_call_context_time_remaining(ctx);
    char ms[32] = "none";
    if (left >= 0) snprintf(ms, sizeof(ms), "%lld", (long long)(left * 1000.0));
    return write_text(out, ms, err);
  }
  if (strcmp(type, "probe") == 0) return action_probe(s, text_body, out, err);
  if (strcmp(type, CFLIGHT_ACTION_CANCEL_FLIGHT_INFO) == 0) {
    cflight_cancel_flight_info_request *req = NULL;
    cflight_cancel_flight_info_result *res = NULL;
    rc = cflight_action_decode_cancel_flight_info_request(a, &req, err);
    if (rc == CFLIGHT_OK) {
      const cflight_flight_info *info = cflight_cancel_flight_info_request_info(req);
      const cflight_endpoint *e = info != NULL && cflight_flight_info_endpoint_count(info) > 0
                                      ? cflight_flight_info_endpoint(info, 0)
                                      : NULL;
      size_t tn = 0;
      const uint8_t *t = e && cflight_endpoint_ticket(e)
                             ? cflight_ticket_data(cflight_endpoint_ticket(e), &tn)
                             : NULL;
      bool ok = t != NULL && tn >= 5 && memcmp(t, "gold/", 5) == 0;
      rc = cflight_cancel_flight_info_result_new(
          ok ? CFLIGHT_CANCEL_STATUS_CANCELLED : CFLIGHT_CANCEL_STATUS_NOT_CANCELLABLE, &res, err);
    }
    if (rc == CFLIGHT_OK) rc = cflight_result_writer_write_cancel_flight_info_result(out, res, err);
    cflight_cancel_flight_info_request_free(req);
    cflight_cancel_flight_info_result_free(res);
    return rc;
  }
  if (strcmp(type, CFLIGHT_ACTION_RENEW_FLIGHT_ENDPOINT) == 0) {
    cflight_renew_flight_endpoint_request *req = NULL;
    cflight_endpoint *e = NULL;
    rc = cflight_action_decode_renew_flight_endpoint_request(a, &req, err);
    const cflight_endpoint *given =
        rc == CFLIGHT_OK ? cflight_renew_flight_endpoint_request_endpoint(req) : NULL;
    if (rc == CFLIGHT_OK && given == NULL)
      rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "no endpoint to renew");
    if (rc == CFLIGHT_OK) rc = cflight_endpoint_copy(given, &e, err);
    cflight_timestamp ts = {IT_RENEWED_SECONDS, 0};
    if (rc == CFLIGHT_OK) rc = cflight_endpoint_set_expiration_time(e, &ts, err);
    if (rc == CFLIGHT_OK) rc = cflight_result_writer_write_endpoint(out, e, err);
    cflight_endpoint_free(e);
    cflight_renew_flight_endpoint_request_free(req);
    return rc;
  }
  if (strcmp(type, CFLIGHT_ACTION_SET_SESSION_OPTIONS) == 0 ||
      strcmp(type, CFLIGHT_ACTION_GET_SESSION_OPTIONS) == 0 ||
      strcmp(type, CFLIGHT_ACTION_CLOSE_SESSION) == 0)
    return action_session(s, a, type, out, err);
  return cflight_error_set(err, CFLIGHT_UNIMPLEMENTED, "unknown action: %s", type);
}

static int h_list_actions(void *user, cflight_call_context *ctx, cflight_result_writer *out,
                          cflight_error *err) {
  echo_headers(ctx);
  for (size_t i = 0; i < it_n_actions; i++)
    IT_TRY(cflight_result_writer_write_action_type(out, it_actions[i][0], it_actions[i][1], err));
  return CFLIGHT_OK;
}

/* ---- Handshake ------------------------------------------------------------------------------ */

static int h_handshake(void *user, cflight_call_context *ctx, cflight_auth_stream *stream,
                       cflight_error *err) {
  echo_headers(ctx);
  for (;;) {
    cflight_buffer *in = NULL;
    IT_TRY(cflight_auth_stream_read(stream, &in, err));
    if (in == NULL) return CFLIGHT_OK;
    size_t n = cflight_buffer_size(in);
    if (n == 3 && memcmp(cflight_buffer_data(in), "bad", 3) == 0) {
      cflight_buffer_unref(in);
      return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED, "bad handshake payload");
    }
    uint8_t *reply = malloc(n + 3);
    int rc = reply != NULL ? CFLIGHT_OK : cflight_error_set(err, CFLIGHT_NO_MEMORY, "handshake");
    if (rc == CFLIGHT_OK) {
      memcpy(reply, "hs:", 3);
      if (n > 0) memcpy(reply + 3, cflight_buffer_data(in), n);
      rc = cflight_auth_stream_write(stream, reply, n + 3, err);
    }
    free(reply);
    cflight_buffer_unref(in);
    if (rc != CFLIGHT_OK) return rc;
  }
}

/* ---- Security mode: the servers ------------------------------------------------------------- */

static bool check_password(void *ctx, const char *user, const char *password) {
  (void)ctx;
  return strcmp(user, IT_USER) == 0 && strcmp(password, IT_PASSWORD) == 0;
}

/* The plaintext server, then one per it_security_ports entry, each with the
 * interop middleware and an access log on stderr; prints the ports. */
static int start_security(state *s, const cflight_server_handlers *h, cflight_server **out,
                          size_t *n, cflight_error *err) {
  const char *certs = s->args.certs;
  char *ca = it_read_pem(certs, "root-ca.pem"), *cert = it_read_pem(certs, "cert0.pem"),
       *key = it_read_pem(certs, "cert0.key"),
       *untrusted = it_read_pem(it_own_certs(), IT_UNTRUSTED_CA);
  int rc = ca && cert && key && untrusted
               ? CFLIGHT_OK
               : cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot read the certificates");
  cflight_server_middleware_callbacks mw = {mw_start, mw_sending, mw_completed, NULL};
  for (size_t i = 0; i <= it_n_security_ports && rc == CFLIGHT_OK; i++) {
    const char *name = i == 0 ? "" : it_security_ports[i - 1];
    bool tls = strcmp(name, "tls") == 0 || strncmp(name, "mtls", 4) == 0;
    cflight_server_options *o = cflight_server_options_new();
    rc = cflight_server_options_add_middleware(
        o, MW_KEY, cflight_server_middleware_factory_new(&mw, NULL), err);
    if (rc == CFLIGHT_OK)
      rc = cflight_server_options_add_middleware(o, "log",
                                                 cflight_server_log_middleware_new(stderr), err);
    if (rc == CFLIGHT_OK && tls) rc = cflight_server_options_add_tls_certificate(o, cert, key, err);
    if (rc == CFLIGHT_OK && strcmp(name, "mtls") == 0)
      rc = cflight_server_options_set_verify_client(o, true, ca, err);
    if (rc == CFLIGHT_OK && strcmp(name, "mtls_wrong_ca") == 0)
      rc = cflight_server_options_set_verify_client(o, true, untrusted, err);
    if (strcmp(name, "bearer") == 0)
      cflight_server_options_set_auth_handler(
          o, cflight_server_auth_handler_new_bearer(check_password, NULL));
    if (strcmp(name, "handshake") == 0)
      cflight_server_options_set_auth_handler(
          o, cflight_server_auth_handler_new_basic(check_password, NULL));
    char location[300];
    snprintf(location, sizeof(location), "grpc%s://%s:%d", tls ? "+tls" : "", s->args.host,
             i == 0 ? s->args.port : 0);
    if (rc == CFLIGHT_OK) rc = cflight_server_new(location, h, sizeof(*h), s, o, &out[i], err);
    if (rc == CFLIGHT_OK) *n = i + 1;
    cflight_server_options_free(o);
  }
  free(ca);
  free(cert);
  free(key);
  free(untrusted);
  if (rc != CFLIGHT_OK) return rc;
  printf("%d", cflight_server_port(out[0]));
  for (size_t i = 1; i < *n; i++)
    printf(" %s=%d", it_security_ports[i - 1], cflight_server_port(out[i]));
  printf("\n");
  fflush(stdout);
  return CFLIGHT_OK;
}

/* ---- Main ----------------------------------------------------------------------------------- */

static void *watch_stdin(void *arg) {
  (void)arg;
  char buf[256];
  while (read(0, buf, sizeof(buf)) > 0) {
  }
  kill(getpid(), SIGTERM);
  return NULL;
}

int main(int argc, char **argv) {
  static state s;
  it_parse_args(argc, argv, &s.args);
  pthread_mutex_init(&s.mu, NULL);
  pthread_cond_init(&s.cv, NULL);
  cflight_error err = {0};
  if (cflight_get_session_options_result_new(&s.session, &err) != CFLIGHT_OK) return 1;

  s.datasets = calloc(it_n_datasets, sizeof(*s.datasets));
  for (size_t i = 0; i < it_n_datasets; i++) {
    dataset *d = &s.datasets[s.n_datasets++];
    it_gold g;
    d->name = it_datasets[i];
    if (it_gold_load(s.args.gold, d->name, &g, &err) != CFLIGHT_OK ||
        cflight_ipc_schema_serialize(&g.schema, &d->schema_bytes, &err) != CFLIGHT_OK) {
      fprintf(stderr, "flight_test_server: %s: %s\n", d->name, err.message);
      return 1;
    }
    d->rows = g.rows;
    d->schema = g.schema;
    g.schema.release = NULL;
    it_gold_free(&g);
  }

  /* Signals are taken by sigwait below: block them before any thread starts. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);

  cflight_server_handlers h = {
      .list_flights = h_list_flights,
      .get_flight_info = h_get_flight_info,
      .poll_flight_info = h_poll_flight_info,
      .get_schema = h_get_schema,
      .do_get = h_do_get,
      .do_put = h_do_put,
      .do_exchange = h_do_exchange,
      .list_actions = h_list_actions,
      .do_action = h_do_action,
      .handshake = h_handshake,
  };
  cflight_server *servers[8] = {NULL};
  size_t n_servers = 0;
  if (s.args.security) {
    if (start_security(&s, &h, servers, &n_servers, &err) != CFLIGHT_OK) {
      fprintf(stderr, "flight_test_server: cannot serve: %s\n", err.message);
      for (size_t i = 0; i < n_servers; i++)
        cflight_server_free(servers[i]);
      return 1;
    }
  } else {
    char location[300];
    snprintf(location, sizeof(location), "grpc://%s:%d", s.args.host, s.args.port);
    if (cflight_server_new(location, &h, sizeof(h), &s, NULL, &servers[0], &err) != CFLIGHT_OK) {
      fprintf(stderr, "flight_test_server: cannot serve %s: %s\n", location, err.message);
      return 1;
    }
    n_servers = 1;
    printf("%d\n", cflight_server_port(servers[0]));
    fflush(stdout);
  }

  pthread_t watcher;
  if (s.args.exit_on_eof) {
    pthread_create(&watcher, NULL, watch_stdin, NULL);
    pthread_detach(watcher);
  }
  int sig = 0;
  sigwait(&sigs, &sig);
  for (size_t i = 0; i < n_servers; i++)
    cflight_server_shutdown(servers[i], 1.0);
  for (size_t i = 0; i < n_servers; i++)
    cflight_server_free(servers[i]);

  for (size_t i = 0; i < s.n_datasets; i++) {
    s.datasets[i].schema.release(&s.datasets[i].schema);
    cflight_buffer_unref(s.datasets[i].schema_bytes);
  }
  free(s.datasets);
  for (size_t i = 0; i < s.n_uploads; i++)
    upload_unref(s.uploads[i]);
  free(s.uploads);
  cflight_get_session_options_result_free(s.session);
  return 0;
}
