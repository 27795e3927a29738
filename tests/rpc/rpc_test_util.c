#include "rpc_test_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ts_flight {
  char *name;
  struct ArrowSchema schema;
  cf_shared_array **batches;
  size_t n;
};

#define DIE_IF(cond)                                                     \
  do {                                                                   \
    if (cond) {                                                          \
      fprintf(stderr, "%s:%d: test setup failed\n", __FILE__, __LINE__); \
      abort();                                                           \
    }                                                                    \
  } while (0)

void ts_sleep_ms(int ms) {
  struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* ---- Builders -------------------------------------------------------------------------------- */

void tb_schema(struct ArrowSchema *out) {
  DIE_IF(cf_schema_init(out, "+s", "", 2, NULL) != CFLIGHT_OK);
  DIE_IF(cf_schema_init(out->children[0], "l", "x", 0, NULL) != CFLIGHT_OK);
  DIE_IF(cf_schema_init(out->children[1], "u", "s", 0, NULL) != CFLIGHT_OK);
  out->flags = 0;
}

void tb_batch(int64_t start, int64_t n, struct ArrowArray *out) {
  DIE_IF(cf_array_init(out, 1, 2, NULL) != CFLIGHT_OK);
  out->length = n;
  struct ArrowArray *x = out->children[0], *s = out->children[1];
  DIE_IF(cf_array_init(x, 2, 0, NULL) != CFLIGHT_OK);
  x->length = n;
  int64_t *xv = cf_array_alloc_buffer(x, 1, (size_t)(n > 0 ? n : 1) * 8, NULL);
  DIE_IF(xv == NULL);
  for (int64_t i = 0; i < n; i++)
    xv[i] = start + i;
  DIE_IF(cf_array_init(s, 3, 0, NULL) != CFLIGHT_OK);
  s->length = n;
  int32_t *off = cf_array_alloc_buffer(s, 1, (size_t)(n + 1) * 4, NULL);
  DIE_IF(off == NULL);
  char *data = cf_array_alloc_buffer(s, 2, (size_t)(n > 0 ? n : 1) * 24, NULL);
  DIE_IF(data == NULL);
  int32_t pos = 0;
  for (int64_t i = 0; i < n; i++) {
    off[i] = pos;
    pos += sprintf(data + pos, "v%" PRId64, start + i);
  }
  off[n] = pos;
}

void tb_dict_schema(struct ArrowSchema *out) {
  DIE_IF(cf_schema_init(out, "+s", "", 1, NULL) != CFLIGHT_OK);
  out->flags = 0;
  DIE_IF(cf_schema_init(out->children[0], "i", "d", 0, NULL) != CFLIGHT_OK);
  struct ArrowSchema *d = cf_schema_alloc_dictionary(out->children[0], NULL);
  DIE_IF(d == NULL);
  DIE_IF(cf_schema_init(d, "u", "", 0, NULL) != CFLIGHT_OK);
}

void tb_dict_batch(int64_t n, int64_t dict_len, struct ArrowArray *out) {
  DIE_IF(cf_array_init(out, 1, 1, NULL) != CFLIGHT_OK);
  out->length = n;
  struct ArrowArray *c = out->children[0];
  DIE_IF(cf_array_init(c, 2, 0, NULL) != CFLIGHT_OK);
  c->length = n;
  int32_t *idx = cf_array_alloc_buffer(c, 1, (size_t)(n > 0 ? n : 1) * 4, NULL);
  DIE_IF(idx == NULL);
  for (int64_t i = 0; i < n; i++)
    idx[i] = (int32_t)((i * 7) % dict_len);
  struct ArrowArray *d = cf_array_alloc_dictionary(c, NULL);
  DIE_IF(d == NULL);
  DIE_IF(cf_array_init(d, 3, 0, NULL) != CFLIGHT_OK);
  d->length = dict_len;
  int32_t *off = cf_array_alloc_buffer(d, 1, (size_t)(dict_len + 1) * 4, NULL);
  char *data = cf_array_alloc_buffer(d, 2, (size_t)dict_len * 24 + 1, NULL);
  DIE_IF(off == NULL || data == NULL);
  int32_t pos = 0;
  for (int64_t i = 0; i < dict_len; i++) {
    off[i] = pos;
    pos += sprintf(data + pos, "w%" PRId64, i);
  }
  off[dict_len] = pos;
}

typedef struct list_src {
  struct ArrowArray *items;
  size_t n, next;
} list_src;

static int list_next(void *ctx, struct ArrowArray *out, cflight_error *err) {
  list_src *l = ctx;
  (void)err;
  memset(out, 0, sizeof(*out));
  if (l->next < l->n) cf_array_move(&l->items[l->next++], out);
  return CFLIGHT_OK;
}

static void list_free(void *ctx) {
  list_src *l = ctx;
  for (size_t i = l->next; i < l->n; i++)
    cf_array_release(&l->items[i]);
  free(l->items);
  free(l);
}

void tb_stream(struct ArrowSchema *schema, struct ArrowArray *batches, size_t n,
               struct ArrowArrayStream *out) {
  list_src *l = calloc(1, sizeof(*l));
  DIE_IF(l == NULL);
  l->items = calloc(n ? n : 1, sizeof(*l->items));
  DIE_IF(l->items == NULL);
  for (size_t i = 0; i < n; i++)
    cf_array_move(&batches[i], &l->items[i]);
  l->n = n;
  cf_stream_source src = {list_next, list_free, l};
  DIE_IF(cf_stream_init(out, schema, src, NULL) != CFLIGHT_OK);
}

int tb_collect(struct ArrowArrayStream *s, struct ArrowSchema *schema, struct ArrowArray **out) {
  *out = NULL;
  memset(schema, 0, sizeof(*schema));
  if (s->get_schema(s, schema) != 0) return -1;
  size_t n = 0, cap = 0;
  struct ArrowArray *items = NULL;
  for (;;) {
    struct ArrowArray a;
    if (s->get_next(s, &a) != 0) {
      fprintf(stderr, "stream error: %s\n", s->get_last_error(s));
      tb_release(items, n);
      cf_schema_release(schema);
      return -1;
    }
    if (a.release == NULL) break;
    if (n == cap) {
      cap = cap ? cap * 2 : 8;
      items = realloc(items, cap * sizeof(*items));
      DIE_IF(items == NULL);
    }
    items[n++] = a;
  }
  *out = items;
  return (int)n;
}

void tb_release(struct ArrowArray *batches, size_t n) {
  for (size_t i = 0; i < n; i++)
    cf_array_release(&batches[i]);
  free(batches);
}

cflight_descriptor *td_path(const char *name) {
  cflight_descriptor *d = NULL;
  DIE_IF(cflight_descriptor_new_path(&name, 1, &d, NULL) != CFLIGHT_OK);
  return d;
}

cflight_descriptor *td_cmd(const char *cmd) {
  cflight_descriptor *d = NULL;
  DIE_IF(cflight_descriptor_new_command(cmd, strlen(cmd), &d, NULL) != CFLIGHT_OK);
  return d;
}

cflight_ticket *tt(const char *s) {
  cflight_ticket *t = NULL;
  DIE_IF(cflight_ticket_new(s, strlen(s), &t, NULL) != CFLIGHT_OK);
  return t;
}

/* ---- Flights --------------------------------------------------------------------------------- */

static void flight_clear(ts_flight *f) {
  free(f->name);
  cf_schema_release(&f->schema);
  for (size_t i = 0; i < f->n; i++)
    cf_shared_array_unref(f->batches[i]);
  free(f->batches);
  memset(f, 0, sizeof(*f));
}

/* Stores schema and batches (moved in) under name. */
static void store(ts_server *t, const char *name, struct ArrowSchema *schema,
                  struct ArrowArray *batches, size_t n) {
  ts_flight f = {0};
  f.name = strdup(name);
  cf_schema_move(schema, &f.schema);
  f.batches = calloc(n ? n : 1, sizeof(*f.batches));
  DIE_IF(f.name == NULL || f.batches == NULL);
  for (size_t i = 0; i < n; i++) {
    f.batches[i] = cf_shared_array_new(&batches[i]);
    DIE_IF(f.batches[i] == NULL);
  }
  f.n = n;
  pthread_mutex_lock(&t->mu);
  size_t at = t->n_flights;
  for (size_t i = 0; i < t->n_flights; i++) {
    if (strcmp(t->flights[i].name, name) == 0) {
      flight_clear(&t->flights[i]);
      at = i;
      break;
    }
  }
  if (at == t->n_flights) {
    t->flights = realloc(t->flights, (t->n_flights + 1) * sizeof(*t->flights));
    DIE_IF(t->flights == NULL);
    t->n_flights++;
  }
  t->flights[at] = f;
  pthread_mutex_unlock(&t->mu);
}

void ts_add_flight(ts_server *t, const char *name, struct ArrowArrayStream *stream) {
  struct ArrowSchema schema;
  struct ArrowArray *batches = NULL;
  int n = tb_collect(stream, &schema, &batches);
  stream->release(stream);
  DIE_IF(n < 0);
  store(t, name, &schema, batches, (size_t)n);
  free(batches);
}

bool ts_get_flight(ts_server *t, const char *name, struct ArrowSchema *schema,
                   struct ArrowArray **batches, size_t *n) {
  bool found = false;
  pthread_mutex_lock(&t->mu);
  for (size_t i = 0; i < t->n_flights && !found; i++) {
    ts_flight *f = &t->flights[i];
    if (strcmp(f->name, name) != 0) continue;
    found = true;
    DIE_IF(cf_schema_copy(&f->schema, schema, NULL) != CFLIGHT_OK);
    *batches = calloc(f->n ? f->n : 1, sizeof(**batches));
    DIE_IF(*batches == NULL);
    for (size_t k = 0; k < f->n; k++)
      DIE_IF(cf_shared_array_export(f->batches[k], cf_shared_array_get(f->batches[k]),
                                    &(*batches)[k], NULL) != CFLIGHT_OK);
    *n = f->n;
  }
  pthread_mutex_unlock(&t->mu);
  return found;
}

/* ---- Handlers -------------------------------------------------------------------------------- */

static int fail_with(const char *spec, cflight_error *err) {
  int code = atoi(spec);
  cflight_error_set(err, code, "boom %d", code);
  cflight_error_set_extra_info(err, "details", 7);
  return code;
}

static int make_info(ts_server *t, const char *name, cflight_flight_info **out,
                     cflight_error *err) {
  struct ArrowSchema schema;
  struct ArrowArray *batches = NULL;
  size_t n = 0;
  if (!ts_get_flight(t, name, &schema, &batches, &n))
    return cflight_error_set(err, CFLIGHT_NOT_FOUND, "no flight '%s'", name);
  cflight_descriptor *d = td_path(name);
  cflight_ticket *tk = tt(name);
  cflight_location *loc = NULL;
  int rc = cflight_location_parse(t->uri, &loc, err);
  const cflight_location *locs[1] = {loc};
  if (rc == CFLIGHT_OK)
    rc = cflight_flight_info_new_for_batches(d, &schema, batches, n, tk, locs, 1, out, err);
  cflight_location_free(loc);
  cflight_ticket_free(tk);
  cflight_descriptor_free(d);
  cf_schema_release(&schema);
  tb_release(batches, n);
  return rc;
}

static int h_list_flights(void *user, cflight_call_context *ctx, const void *criteria, size_t size,
                          cflight_result_writer *out, cflight_error *err) {
  ts_server *t = user;
  (void)ctx;
  if (size == 5 && memcmp(criteria, "empty", 5) == 0) return CFLIGHT_OK;
  pthread_mutex_lock(&t->mu);
  size_t n = t->n_flights;
  char **names = calloc(n ? n : 1, sizeof(*names));
  for (size_t i = 0; i < n; i++)
    names[i] = strdup(t->flights[i].name);
  pthread_mutex_unlock(&t->mu);
  /* Name order. */
  for (size_t i = 1; i < n; i++)
    for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
      char *x = names[k];
      names[k] = names[k - 1];
      names[k - 1] = x;
    }
  int rc = CFLIGHT_OK;
  for (size_t i = 0; i < n; i++) {
    cflight_flight_info *info = NULL;
    if (rc == CFLIGHT_OK) rc = make_info(t, names[i], &info, err);
    if (rc == CFLIGHT_OK) rc = cflight_result_writer_write_info(out, info, err);
    cflight_flight_info_free(info);
    free(names[i]);
  }
  free(names);
  return rc;
}

static const char *path0(const cflight_descriptor *d) {
  if (cflight_descriptor_get_type(d) == CFLIGHT_DESCRIPTOR_PATH &&
      cflight_descriptor_path_count(d) > 0)
    return cflight_descriptor_path_part(d, 0);
  return NULL;
}

/* The command as a NUL-terminated string in buf. */
static const char *cmd_str(const cflight_descriptor *d, char *buf, size_t cap) {
  size_t n = 0;
  const uint8_t *c = cflight_descriptor_command(d, &n);
  snprintf(buf, cap, "%.*s", (int)n, c != NULL ? (const char *)c : "");
  return buf;
}

static int h_get_flight_info(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                             cflight_flight_info **out, cflight_error *err) {
  (void)ctx;
  char buf[256];
  const char *name = path0(d);
  if (name == NULL) {
    const char *cmd = cmd_str(d, buf, sizeof(buf));
    if (strncmp(cmd, "error:", 6) == 0) return fail_with(cmd + 6, err);
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "unknown command");
  }
  return make_info(user, name, out, err);
}

static int h_poll_flight_info(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                              cflight_poll_info **out, cflight_error *err) {
  cflight_flight_info *info = NULL;
  int rc = h_get_flight_info(user, ctx, d, &info, err);
  if (rc == CFLIGHT_OK) rc = cflight_poll_info_new(out, err);
  if (rc == CFLIGHT_OK) rc = cflight_poll_info_set_info(*out, info, err);
  if (rc == CFLIGHT_OK) rc = cflight_poll_info_set_progress(*out, 1.0, err);
  cflight_flight_info_free(info);
  return rc;
}

static int h_get_schema(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                        struct ArrowSchema *out, cflight_error *err) {
  (void)ctx;
  const char *name = path0(d);
  struct ArrowArray *batches = NULL;
  size_t n = 0;
  if (name == NULL || !ts_get_flight(user, name, out, &batches, &n))
    return cflight_error_set(err, CFLIGHT_NOT_FOUND, "no such flight");
  tb_release(batches, n);
  return CFLIGHT_OK;
}

/* The generator behind most DoGets. */
typedef struct gen {
  ts_server *t;
  cflight_call_context *ctx;
  struct ArrowArray *batches;
  size_t n, next;
  int mode; /* 0 plain, 1 meta, 2 slow, 3 error-late */
  int step;
  int64_t start_ns;
} gen;

static void gen_free(void *ctx) {
  gen *g = ctx;
  /* The stream ends early when the call is cancelled: the handler sees it. */
  if (g->mode == 2 && cflight_call_context_is_cancelled(g->ctx))
    atomic_fetch_add(&g->t->cancel_seen, 1);
  for (size_t i = g->next; i < g->n; i++)
    cf_array_release(&g->batches[i]);
  free(g->batches);
  free(g);
}

static int gen_next(void *ctx, cflight_chunk *out, cflight_error *err) {
  gen *g = ctx;
  memset(out, 0, sizeof(*out));
  if (g->mode == 1) {
    /* "a", batch 0, "b" */
    int s = g->step++;
    if (s == 0 || s == 2) out->app_metadata = cflight_buffer_copy(s == 0 ? "a" : "b", 1);
    if (s == 1 && g->next < g->n) cf_array_move(&g->batches[g->next++], &out->data);
    return CFLIGHT_OK;
  }
  if (g->mode == 2) {
    if (g->step++ == 0) atomic_fetch_add(&g->t->slow_started, 1);
    if (cf_now_ns() - g->start_ns > 30 * (int64_t)1000000000) return CFLIGHT_OK;
    ts_sleep_ms(10);
    struct ArrowArray b;
    tb_batch(g->step, 10, &b);
    cf_array_move(&b, &out->data);
    return CFLIGHT_OK;
  }
  if (g->mode == 3 && g->next == 1) return cflight_error_set(err, CFLIGHT_INTERNAL, "late failure");
  if (g->next < g->n) {
    char md[32];
    int len = snprintf(md, sizeof(md), "m%zu", g->next);
    out->app_metadata = cflight_buffer_copy(md, (size_t)len);
    cf_array_move(&g->batches[g->next++], &out->data);
  }
  return CFLIGHT_OK;
}

static int h_do_get(void *user, cflight_call_context *ctx, const cflight_ticket *tk,
                    cflight_data_stream **out, cflight_error *err) {
  ts_server *t = user;
  size_t size = 0;
  const uint8_t *data = cflight_ticket_data(tk, &size);
  char name[256];
  snprintf(name, sizeof(name), "%.*s", (int)size, data != NULL ? (const char *)data : "");
  if (strncmp(name, "error:", 6) == 0) return fail_with(name + 6, err);
  gen *g = calloc(1, sizeof(*g));
  g->t = t;
  g->ctx = ctx;
  g->start_ns = cf_now_ns();
  const char *flight = name;
  if (strcmp(name, "meta") == 0) {
    g->mode = 1;
    flight = "ints";
  } else if (strcmp(name, "slow") == 0) {
    g->mode = 2;
    flight = "ints";
  } else if (strcmp(name, "error-late") == 0) {
    g->mode = 3;
    flight = "ints";
  } else if (strcmp(name, "headers") == 0) {
    flight = "ints";
    cflight_call_context_add_header(ctx, "x-hdr", "h", 1, err);
    cflight_call_context_add_trailer(ctx, "x-trl", "t", 1, err);
  } else if (strcmp(name, "echo-headers") == 0) {
    flight = "ints";
    const cflight_headers *h = cflight_call_context_headers(ctx);
    for (size_t i = 0; i < cflight_headers_count(h); i++) {
      const char *k = cflight_headers_key(h, i);
      if (strncmp(k, "x-", 2) != 0) continue;
      size_t vn = 0;
      const uint8_t *v = cflight_headers_value(h, i, &vn);
      cflight_call_context_add_header(ctx, k, v, vn, err);
    }
  }
  struct ArrowSchema schema;
  bool as_stream = strncmp(flight, "stream:", 7) == 0;
  if (as_stream) flight += 7;
  if (!ts_get_flight(t, flight, &schema, &g->batches, &g->n)) {
    gen_free(g);
    return cflight_error_set(err, CFLIGHT_NOT_FOUND, "no flight '%s'", flight);
  }
  if (as_stream) {
    /* Through the ArrowArrayStream path rather than the generator. */
    struct ArrowArrayStream st;
    tb_stream(&schema, g->batches, g->n, &st);
    g->n = 0;
    g->mode = 0;
    gen_free(g);
    *out = cflight_data_stream_new(&st);
    return CFLIGHT_OK;
  }
  *out = cflight_data_stream_new_generator(&schema, gen_next, gen_free, g);
  cf_schema_release(&schema);
  return *out != NULL ? CFLIGHT_OK : cflight_error_set(err, CFLIGHT_NO_MEMORY, "stream");
}

static int h_do_put(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                    cflight_stream_reader *reader, cflight_metadata_writer *writer,
                    cflight_error *err) {
  ts_server *t = user;
  (void)ctx;
  const char *name = path0(d);
  if (name == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "need a path");
  struct ArrowSchema schema;
  CF_RETURN_NOT_OK(cflight_stream_reader_schema(reader, &schema, err));
  struct ArrowArray *items = NULL;
  size_t n = 0, cap = 0;
  int rc = CFLIGHT_OK;
  for (;;) {
    cflight_chunk c;
    bool end = false;
    rc = cflight_stream_reader_next(reader, &c, &end, err);
    if (rc != CFLIGHT_OK || end) break;
    char ack[300];
    int len;
    if (c.data.release != NULL) {
      len = snprintf(ack, sizeof(ack), "ack%zu", n);
      if (n == cap) {
        cap = cap ? cap * 2 : 8;
        items = realloc(items, cap * sizeof(*items));
      }
      cf_array_move(&c.data, &items[n++]);
    } else {
      len = snprintf(ack, sizeof(ack), "got:%.*s", (int)cflight_buffer_size(c.app_metadata),
                     (const char *)cflight_buffer_data(c.app_metadata));
    }
    cflight_chunk_release(&c);
    rc = cflight_metadata_writer_write(writer, ack, (size_t)len, err);
    if (rc != CFLIGHT_OK) break;
  }
  if (rc == CFLIGHT_OK) {
    store(t, name, &schema, items, n);
    free(items);
  } else {
    cf_schema_release(&schema);
    tb_release(items, n);
  }
  return rc;
}

static int h_do_exchange(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                         cflight_stream_reader *reader, cflight_stream_writer *writer,
                         cflight_error *err) {
  ts_server *t = user;
  (void)ctx;
  char buf[256];
  const char *cmd = cmd_str(d, buf, sizeof(buf));
  if (strncmp(cmd, "get:", 4) == 0) {
    struct ArrowSchema schema;
    struct ArrowArray *batches = NULL;
    size_t n = 0;
    if (!ts_get_flight(t, cmd + 4, &schema, &batches, &n))
      return cflight_error_set(err, CFLIGHT_NOT_FOUND, "no flight");
    int rc = cflight_stream_writer_begin(writer, &schema, err);
    for (size_t i = 0; i < n && rc == CFLIGHT_OK; i++)
      rc = cflight_stream_writer_write(writer, &batches[i], NULL, 0, err);
    cf_schema_release(&schema);
    tb_release(batches, n);
    return rc;
  }
  bool echo = strcmp(cmd, "echo") == 0, sum = strcmp(cmd, "sum") == 0;
  if (!echo && !sum) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "unknown command");
  bool begun = false;
  int64_t total = 0;
  for (;;) {
    cflight_chunk c;
    bool end = false;
    CF_RETURN_NOT_OK(cflight_stream_reader_next(reader, &c, &end, err));
    if (end) break;
    int rc = CFLIGHT_OK;
    if (echo) {
      if (c.data.release != NULL && !begun) {
        struct ArrowSchema schema;
        rc = cflight_stream_reader_schema(reader, &schema, err);
        if (rc == CFLIGHT_OK) rc = cflight_stream_writer_begin(writer, &schema, err);
        cf_schema_release(&schema);
        begun = true;
      }
      const void *md = c.app_metadata ? cflight_buffer_data(c.app_metadata) : NULL;
      size_t mn = cflight_buffer_size(c.app_metadata);
      if (rc == CFLIGHT_OK && c.data.release != NULL) {
        rc = cflight_stream_writer_write(writer, &c.data, md, mn, err);
      } else if (rc == CFLIGHT_OK) {
        rc = cflight_stream_writer_write_metadata(writer, md, mn, err);
      }
    } else if (c.data.release != NULL) {
      const int64_t *x = c.data.children[0]->buffers[1];
      for (int64_t i = 0; i < c.data.length; i++)
        total += x[c.data.children[0]->offset + i];
      char s[32];
      int len = snprintf(s, sizeof(s), "%" PRId64, total);
      rc = cflight_stream_writer_write_metadata(writer, s, (size_t)len, err);
    }
    cflight_chunk_release(&c);
    if (rc != CFLIGHT_OK) return rc;
  }
  return CFLIGHT_OK;
}

static int h_do_action(void *user, cflight_call_context *ctx, const cflight_action *a,
                       cflight_result_writer *out, cflight_error *err) {
  ts_server *t = user;
  const char *type = cflight_action_get_type(a);
  size_t size = 0;
  const uint8_t *body = cflight_action_body(a, &size);
  if (strcmp(type, "echo") == 0) return cflight_result_writer_write_result(out, body, size, err);
  if (strcmp(type, "error") == 0) {
    cflight_error_set(err, CFLIGHT_UNAUTHORIZED, "not for you");
    cflight_error_set_extra_info(err, "\x00\x01\x02", 3);
    return CFLIGHT_UNAUTHORIZED;
  }
  if (strcmp(type, "peer") == 0) {
    const char *id = cflight_call_context_peer_identity(ctx);
    return cflight_result_writer_write_result(out, id, strlen(id), err);
  }
  if (strcmp(type, "remaining") == 0) {
    char buf[64];
    int len = snprintf(buf, sizeof(buf), "%.3f %s %s", cflight_call_context_time_remaining(ctx),
                       cflight_call_context_method(ctx),
                       cflight_call_context_is_cancelled(ctx) ? "cancelled" : "live");
    return cflight_result_writer_write_result(out, buf, (size_t)len, err);
  }
  if (strcmp(type, "shutdown") == 0) {
    /* From a handler this only starts the shutdown. */
    cflight_server_shutdown(t->srv, 5);
    return cflight_result_writer_write_result(out, "bye", 3, err);
  }
  if (strcmp(type, "mw") == 0) {
    const char *found = cflight_call_context_middleware(ctx, "test") != NULL ? "found" : "missing";
    return cflight_result_writer_write_result(out, found, strlen(found), err);
  }
  if (strcmp(type, "trailer") == 0) {
    CF_RETURN_NOT_OK(cflight_call_context_add_trailer(ctx, "x-trl", "t", 1, err));
    if (size > 0) return cflight_error_set(err, CFLIGHT_ABORTED, "failed with a trailer");
    return CFLIGHT_OK;
  }
  if (strcmp(type, "sleep") == 0) {
    for (int i = 0; i < 500; i++) {
      if (cflight_call_context_is_cancelled(ctx)) {
        atomic_fetch_add(&t->cancel_seen, 1);
        return cflight_error_set(err, CFLIGHT_CANCELLED, "cancelled");
      }
      ts_sleep_ms(10);
    }
    return CFLIGHT_OK;
  }
  if (strcmp(type, CFLIGHT_ACTION_CANCEL_FLIGHT_INFO) == 0) {
    cflight_cancel_flight_info_request *req = NULL;
    CF_RETURN_NOT_OK(cflight_action_decode_cancel_flight_info_request(a, &req, err));
    bool has_info = cflight_cancel_flight_info_request_info(req) != NULL;
    cflight_cancel_flight_info_request_free(req);
    if (!has_info) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "no info");
    cflight_cancel_flight_info_result *r = NULL;
    CF_RETURN_NOT_OK(
        cflight_cancel_flight_info_result_new(CFLIGHT_CANCEL_STATUS_CANCELLED, &r, err));
    int rc = cflight_result_writer_write_cancel_flight_info_result(out, r, err);
    cflight_cancel_flight_info_result_free(r);
    return rc;
  }
  if (strcmp(type, CFLIGHT_ACTION_RENEW_FLIGHT_ENDPOINT) == 0) {
    cflight_renew_flight_endpoint_request *req = NULL;
    CF_RETURN_NOT_OK(cflight_action_decode_renew_flight_endpoint_request(a, &req, err));
    cflight_endpoint *e = NULL;
    int rc = cflight_endpoint_copy(cflight_renew_flight_endpoint_request_endpoint(req), &e, err);
    cflight_renew_flight_endpoint_request_free(req);
    cflight_timestamp ts = {1000, 0};
    if (rc == CFLIGHT_OK) rc = cflight_endpoint_set_expiration_time(e, &ts, err);
    if (rc == CFLIGHT_OK) rc = cflight_result_writer_write_endpoint(out, e, err);
    cflight_endpoint_free(e);
    return rc;
  }
  if (strcmp(type, CFLIGHT_ACTION_SET_SESSION_OPTIONS) == 0) {
    cflight_set_session_options_request *req = NULL;
    CF_RETURN_NOT_OK(cflight_action_decode_set_session_options_request(a, &req, err));
    cflight_set_session_options_result *r = NULL;
    int rc = cflight_set_session_options_result_new(&r, err);
    pthread_mutex_lock(&t->mu);
    if (t->session == NULL) cflight_get_session_options_result_new(&t->session, NULL);
    for (size_t i = 0; rc == CFLIGHT_OK && i < cflight_set_session_options_request_count(req);
         i++) {
      const char *name = cflight_set_session_options_request_name(req, i);
      if (strcmp(name, "bad") == 0) {
        rc = cflight_set_session_options_result_set_error(
            r, name, CFLIGHT_SET_SESSION_OPTION_ERROR_INVALID_NAME, err);
        continue;
      }
      rc = cflight_get_session_options_result_set(
          t->session, name, cflight_set_session_options_request_value(req, i), err);
    }
    pthread_mutex_unlock(&t->mu);
    if (rc == CFLIGHT_OK) rc = cflight_result_writer_write_set_session_options_result(out, r, err);
    cflight_set_session_options_result_free(r);
    cflight_set_session_options_request_free(req);
    return rc;
  }
  if (strcmp(type, CFLIGHT_ACTION_GET_SESSION_OPTIONS) == 0) {
    cflight_get_session_options_request *req = NULL;
    CF_RETURN_NOT_OK(cflight_action_decode_get_session_options_request(a, &req, err));
    cflight_get_session_options_request_free(req);
    pthread_mutex_lock(&t->mu);
    int rc = CFLIGHT_OK;
    if (t->session == NULL) rc = cflight_get_session_options_result_new(&t->session, err);
    if (rc == CFLIGHT_OK)
      rc = cflight_result_writer_write_get_session_options_result(out, t->session, err);
    pthread_mutex_unlock(&t->mu);
    return rc;
  }
  if (strcmp(type, CFLIGHT_ACTION_CLOSE_SESSION) == 0) {
    cflight_close_session_request *req = NULL;
    CF_RETURN_NOT_OK(cflight_action_decode_close_session_request(a, &req, err));
    cflight_close_session_request_free(req);
    pthread_mutex_lock(&t->mu);
    cflight_get_session_options_result_free(t->session);
    t->session = NULL;
    pthread_mutex_unlock(&t->mu);
    cflight_close_session_result *r = NULL;
    CF_RETURN_NOT_OK(
        cflight_close_session_result_new(CFLIGHT_CLOSE_SESSION_STATUS_CLOSED, &r, err));
    int rc = cflight_result_writer_write_close_session_result(out, r, err);
    cflight_close_session_result_free(r);
    return rc;
  }
  return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "unknown action '%s'", type);
}

static int h_list_actions(void *user, cflight_call_context *ctx, cflight_result_writer *out,
                          cflight_error *err) {
  (void)user;
  (void)ctx;
  CF_RETURN_NOT_OK(cflight_result_writer_write_action_type(out, "echo", "echoes the body", err));
  return cflight_result_writer_write_action_type(out, "error", "fails", err);
}

ts_server *ts_start(const char *location, const cflight_server_options *opts,
                    const cflight_server_handlers *handlers) {
  ts_server *t = calloc(1, sizeof(*t));
  DIE_IF(t == NULL);
  pthread_mutex_init(&t->mu, NULL);
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
  };
  cflight_error err = {0};
  int rc = cflight_server_new(location, handlers != NULL ? handlers : &h, sizeof(h), t, opts,
                              &t->srv, &err);
  if (rc != CFLIGHT_OK) {
    fprintf(stderr, "server: %s\n", err.message);
    abort();
  }
  snprintf(t->uri, sizeof(t->uri), "%s", cflight_server_location(t->srv, 0));
  /* A small flight every test can read. */
  struct ArrowSchema schema;
  struct ArrowArray b[3];
  tb_schema(&schema);
  tb_batch(0, 100, &b[0]);
  tb_batch(100, 50, &b[1]);
  tb_batch(150, 1, &b[2]);
  store(t, "ints", &schema, b, 3);
  return t;
}

void ts_stop(ts_server *t) {
  if (t == NULL) return;
  cflight_server_free(t->srv);
  for (size_t i = 0; i < t->n_flights; i++)
    flight_clear(&t->flights[i]);
  free(t->flights);
  cflight_get_session_options_result_free(t->session);
  pthread_mutex_destroy(&t->mu);
  free(t);
}

cflight_client *ts_client(ts_server *t, const cflight_client_options *opts) {
  cflight_client *c = NULL;
  cflight_error err = {0};
  int rc = cflight_client_connect(t->uri, opts, &c, &err);
  if (rc != CFLIGHT_OK) {
    fprintf(stderr, "connect: %s\n", err.message);
    abort();
  }
  return c;
}
