/* cflight's client against a peer server (Node on @grpc/grpc-js and
 * apache-arrow, or Python on grpcio) implementing the test service of
 * tests/interop/README.md: every RPC, with data compared value by value to
 * the gold files as cflight's IPC reader reads them. Public API only.
 *
 *   flight_test_client --port N [--host H] [--gold DIR] [--only SUBSTRING] [--peer NAME]
 *
 * Prints one line per failed check; exit status 0 when all passed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cflight.h"
#include "interop_util.h"

static it_args args;
static cflight_client *client;

/* ---- Helpers ------------------------------------------------------------------------------ */

static it_gold *golds;

static const it_gold *gold(const char *name) {
  for (size_t i = 0; i < it_n_datasets; i++)
    if (strcmp(it_datasets[i], name) == 0) return &golds[i];
  return NULL;
}

static cflight_descriptor *path2(const char *a, const char *b) {
  const char *parts[2] = {a, b};
  cflight_descriptor *d = NULL;
  cflight_descriptor_new_path(parts, 2, &d, NULL);
  return d;
}

static cflight_descriptor *command(const char *cmd) {
  cflight_descriptor *d = NULL;
  cflight_descriptor_new_command(cmd, strlen(cmd), &d, NULL);
  return d;
}

static cflight_ticket *ticket(const char *t) {
  cflight_ticket *x = NULL;
  cflight_ticket_new(t, strlen(t), &x, NULL);
  return x;
}

static bool bytes_are(const uint8_t *data, size_t size, const char *want) {
  return size == strlen(want) && (size == 0 || memcmp(data, want, size) == 0);
}

static void check_schema(const char *what, const it_gold *g, const struct ArrowSchema *got) {
  char why[1024];
  if (!it_schema_equal(&g->schema, got, why, sizeof(why))) it_fail("%s: %s", what, why);
}

static void check_schema_bytes(const char *what, const it_gold *g, const uint8_t *data,
                               size_t size) {
  cflight_error err = {0};
  struct ArrowSchema s = {0};
  if (size < 4 || memcmp(data, "\xff\xff\xff\xff", 4) != 0)
    it_fail("%s: the schema bytes do not start with the continuation marker", what);
  if (!IT_OK(cflight_ipc_schema_deserialize(data, size, &s, &err))) return;
  check_schema(what, g, &s);
  s.release(&s);
}

static void check_gold_info(const char *what, const char *name, const cflight_flight_info *info) {
  char buf[300];
  const it_gold *g = gold(name);
  size_t n = 0;
  const uint8_t *b = cflight_flight_info_schema_bytes(info, &n);
  check_schema_bytes(what, g, b, n);
  const cflight_descriptor *d = cflight_flight_info_descriptor(info);
  IT_EXPECT(d != NULL && cflight_descriptor_get_type(d) == CFLIGHT_DESCRIPTOR_PATH &&
                cflight_descriptor_path_count(d) == 2 &&
                strcmp(cflight_descriptor_path_part(d, 0), "gold") == 0 &&
                strcmp(cflight_descriptor_path_part(d, 1), name) == 0,
            "%s: the descriptor is not PATH [gold, %s]", what, name);
  IT_EXPECT(cflight_flight_info_endpoint_count(info) == 1, "%s: %zu endpoints", what,
            cflight_flight_info_endpoint_count(info));
  const cflight_endpoint *e = cflight_flight_info_endpoint(info, 0);
  if (e != NULL) {
    snprintf(buf, sizeof(buf), "gold/%s", name);
    const cflight_ticket *t = cflight_endpoint_ticket(e);
    const uint8_t *td = t ? cflight_ticket_data(t, &n) : NULL;
    IT_EXPECT(t != NULL && bytes_are(td, n, buf), "%s: ticket %s", what, it_show(td, n));
    IT_EXPECT(cflight_endpoint_location_count(e) == 2, "%s: %zu locations", what,
              cflight_endpoint_location_count(e));
    for (size_t i = 0; i < 2 && i < cflight_endpoint_location_count(e); i++) {
      const char *uri = cflight_location_uri(cflight_endpoint_location(e, i));
      IT_EXPECT(strcmp(uri, it_locations[i]) == 0, "%s: location %zu is %s", what, i, uri);
    }
    cflight_timestamp ts = {0, 0};
    IT_EXPECT(cflight_endpoint_expiration_time(e, &ts) && ts.seconds == IT_EXPIRATION_SECONDS &&
                  ts.nanos == IT_EXPIRATION_NANOS,
              "%s: expiration_time %lld.%09d", what, (long long)ts.seconds, ts.nanos);
    snprintf(buf, sizeof(buf), "endpoint:%s", name);
    b = cflight_endpoint_app_metadata(e, &n);
    IT_EXPECT(bytes_are(b, n, buf), "%s: endpoint app_metadata %s", what, it_show(b, n));
  }
  IT_EXPECT(cflight_flight_info_total_records(info) == g->rows, "%s: total_records %lld, not %lld",
            what, (long long)cflight_flight_info_total_records(info), (long long)g->rows);
  IT_EXPECT(cflight_flight_info_total_bytes(info) == -1, "%s: total_bytes %lld", what,
            (long long)cflight_flight_info_total_bytes(info));
  IT_EXPECT(cflight_flight_info_ordered(info), "%s: not ordered", what);
  snprintf(buf, sizeof(buf), "info:%s", name);
  b = cflight_flight_info_app_metadata(info, &n);
  IT_EXPECT(bytes_are(b, n, buf), "%s: app_metadata %s", what, it_show(b, n));
}

/* What a stream should hold: the gold batches in order, record batch k with
 * app_metadata batch_md(k), and metadata-only messages at the given
 * positions (position = the number of batches before it). */
typedef struct expected_stream {
  const char *name;
  const char *batch_md_fmt; /* "%s:%lld" with the name, or "...%lld" */
  const char *const *extra_md;
  const int64_t *extra_at;
  size_t n_extra;
} expected_stream;

static void batch_md(const expected_stream *x, int64_t k, char *buf, size_t cap) {
  snprintf(buf, cap, x->batch_md_fmt, x->name, (long long)k);
}

/* Reads a stream to its end and compares it; returns false when it failed. */
static bool check_stream(const char *what, cflight_stream_reader *r, const expected_stream *x) {
  cflight_error err = {0};
  const it_gold *g = gold(x->name);
  struct ArrowSchema schema;
  if (!IT_OK(cflight_stream_reader_schema(r, &schema, &err))) return false;
  check_schema(what, g, &schema);
  schema.release(&schema);
  size_t k = 0, extra = 0;
  for (;;) {
    cflight_chunk c;
    bool end = false;
    if (!IT_OK(cflight_stream_reader_next(r, &c, &end, &err))) return false;
    if (end) break;
    size_t mn = 0;
    const uint8_t *md = c.app_metadata ? cflight_buffer_data(c.app_metadata) : NULL;
    mn = c.app_metadata ? cflight_buffer_size(c.app_metadata) : 0;
    if (c.data.release == NULL) {
      if (extra < x->n_extra && x->extra_at[extra] == (int64_t)k) {
        IT_EXPECT(bytes_are(md, mn, x->extra_md[extra]), "%s: metadata %s, not %s", what,
                  it_show(md, mn), x->extra_md[extra]);
        extra++;
      } else {
        it_fail("%s: unexpected metadata-only message %s after batch %zu", what, it_show(md, mn),
                k);
      }
    } else if (k >= g->n_batches) {
      it_fail("%s: more than %zu batches", what, g->n_batches);
    } else {
      char want[300];
      batch_md(x, (int64_t)k, want, sizeof(want));
      IT_EXPECT(bytes_are(md, mn, want), "%s: batch %zu app_metadata %s, not %s", what, k,
                it_show(md, mn), want);
      if (cflight_array_equal(&g->schema, &g->batches[k], &c.data, &err) != CFLIGHT_OK)
        it_fail("%s: batch %zu: %s", what, k, err.message);
      cflight_error_reset(&err);
      k++;
    }
    cflight_chunk_release(&c);
  }
  IT_EXPECT(k == g->n_batches, "%s: %zu batches, not %zu", what, k, g->n_batches);
  IT_EXPECT(extra == x->n_extra, "%s: %zu of %zu metadata-only messages", what, extra, x->n_extra);
  return true;
}

static cflight_call_options *with_timeout(double seconds) {
  cflight_call_options *o = cflight_call_options_new();
  cflight_call_options_set_timeout(o, seconds);
  return o;
}

/* Runs an action; its Results' bodies go to bodies[] (up to cap, each
 * NUL-terminated, truncated to 255 bytes) and their count to *n. */
static int action(const char *type, const void *body, size_t size, const cflight_call_options *opts,
                  char bodies[][256], size_t cap, size_t *n, cflight_error *err) {
  *n = 0;
  cflight_action *a = NULL;
  cflight_result_iter *it = NULL;
  int rc = cflight_action_new(type, body, size, &a, err);
  if (rc == CFLIGHT_OK) rc = cflight_client_do_action(client, a, opts, &it, err);
  while (rc == CFLIGHT_OK) {
    cflight_result *r = NULL;
    rc = cflight_result_iter_next(it, &r, err);
    if (rc != CFLIGHT_OK || r == NULL) break;
    size_t bn = 0;
    const uint8_t *b = cflight_result_body(r, &bn);
    if (*n < cap) {
      if (bn > 255) bn = 255;
      if (bn > 0) memcpy(bodies[*n], b, bn);
      bodies[*n][bn] = '\0';
    }
    (*n)++;
    cflight_result_free(r);
  }
  cflight_result_iter_free(it);
  cflight_action_free(a);
  return rc;
}

static void expect_probe(const char *name, const char *want) {
  cflight_error err = {0};
  char out[4][256];
  size_t n = 0;
  if (!IT_OK(action("probe", name, strlen(name), NULL, out, 4, &n, &err))) return;
  IT_EXPECT(n == 1 && strcmp(out[0], want) == 0, "probe %s: \"%s\", not \"%s\"", name,
            n ? out[0] : "(nothing)", want);
}

/* ---- Checks --------------------------------------------------------------------------------- */

typedef struct hs_ctx {
  int failures;
  char why[256];
} hs_ctx;

static int hs_authenticate(void *p, cflight_auth_stream *stream, cflight_error *err) {
  hs_ctx *h = p;
  const char *payloads[] = {"alpha", "\xe9\x00\xff", ""};
  const size_t sizes[] = {5, 3, 0};
  for (size_t i = 0; i < 3; i++) {
    IT_TRY(cflight_auth_stream_write(stream, payloads[i], sizes[i], err));
    cflight_buffer *in = NULL;
    IT_TRY(cflight_auth_stream_read(stream, &in, err));
    uint8_t want[8];
    memcpy(want, "hs:", 3);
    memcpy(want + 3, payloads[i], sizes[i]);
    if (!it_buffer_is(in, want, 3 + sizes[i])) {
      h->failures++;
      snprintf(h->why, sizeof(h->why), "reply %zu: %s", i,
               in ? it_show(cflight_buffer_data(in), cflight_buffer_size(in)) : "none");
    }
    cflight_buffer_unref(in);
  }
  return CFLIGHT_OK;
}

static int hs_token(void *p, cflight_buffer **token, cflight_error *err) {
  *token = cflight_buffer_copy("interop-token", 13);
  return CFLIGHT_OK;
}

static int hs_bad(void *p, cflight_auth_stream *stream, cflight_error *err) {
  IT_TRY(cflight_auth_stream_write(stream, "bad", 3, err));
  cflight_buffer *in = NULL;
  IT_TRY(cflight_auth_stream_read(stream, &in, err));
  cflight_buffer_unref(in);
  return CFLIGHT_OK;
}

static void t_handshake(const char *unused) {
  cflight_error err = {0};
  hs_ctx h = {0};
  cflight_client_auth_callbacks cb = {.authenticate = hs_authenticate, .get_token = hs_token};
  cflight_client_auth_handler *handler = cflight_client_auth_handler_new(&cb, &h);
  cflight_client *c = NULL;
  char uri[300];
  snprintf(uri, sizeof(uri), "grpc://%s:%d", args.host, args.port);
  if (IT_OK(cflight_client_connect(uri, NULL, &c, &err)) &&
      IT_OK(cflight_client_authenticate(c, handler, NULL, &err))) {
    IT_EXPECT(h.failures == 0, "handshake: %s", h.why);
    /* Later calls carry the token as auth-token-bin. */
    cflight_action *a = NULL;
    cflight_result_iter *it = NULL;
    bool found = false;
    if (IT_OK(cflight_action_new("headers", NULL, 0, &a, &err)) &&
        IT_OK(cflight_client_do_action(c, a, NULL, &it, &err))) {
      for (;;) {
        cflight_result *r = NULL;
        if (!IT_OK(cflight_result_iter_next(it, &r, &err)) || r == NULL) break;
        size_t n = 0;
        const uint8_t *b = cflight_result_body(r, &n);
        if (bytes_are(b, n, "auth-token-bin=interop-token")) found = true;
        cflight_result_free(r);
      }
    }
    IT_EXPECT(found, "the server did not see auth-token-bin=interop-token after the handshake");
    cflight_result_iter_free(it);
    cflight_action_free(a);
  }
  cflight_client_close(c);
  cflight_client_auth_handler_free(handler);

  cflight_client_auth_callbacks bad = {.authenticate = hs_bad, .get_token = hs_token};
  handler = cflight_client_auth_handler_new(&bad, NULL);
  c = NULL;
  if (IT_OK(cflight_client_connect(uri, NULL, &c, &err))) {
    int rc = cflight_client_authenticate(c, handler, NULL, &err);
    it_expect_status("bad handshake", rc, &err, CFLIGHT_UNAUTHENTICATED, "bad handshake payload");
  }
  cflight_client_close(c);
  cflight_client_auth_handler_free(handler);
}

static void t_list_actions(const char *unused) {
  cflight_error err = {0};
  cflight_action_type_iter *it = NULL;
  size_t i = 0;
  if (!IT_OK(cflight_client_list_actions(client, NULL, &it, &err))) return;
  for (;; i++) {
    cflight_action_type *t = NULL;
    if (!IT_OK(cflight_action_type_iter_next(it, &t, &err)) || t == NULL) break;
    if (i < it_n_actions) {
      IT_EXPECT(strcmp(cflight_action_type_get_type(t), it_actions[i][0]) == 0 &&
                    strcmp(cflight_action_type_description(t), it_actions[i][1]) == 0,
                "action %zu: %s: %s", i, cflight_action_type_get_type(t),
                cflight_action_type_description(t));
    }
    cflight_action_type_free(t);
  }
  IT_EXPECT(i == it_n_actions, "%zu actions, not %zu", i, it_n_actions);
  cflight_action_type_iter_free(it);
}

static size_t list_flights(const char *criteria, const char ***names_out) {
  cflight_error err = {0};
  cflight_info_iter *it = NULL;
  static const char *names[64];
  size_t n = 0;
  *names_out = names;
  if (!IT_OK(cflight_client_list_flights(client, criteria, criteria ? strlen(criteria) : 0, NULL,
                                         &it, &err)))
    return 0;
  for (;;) {
    cflight_flight_info *info = NULL;
    if (!IT_OK(cflight_info_iter_next(it, &info, &err)) || info == NULL) break;
    const cflight_descriptor *d = cflight_flight_info_descriptor(info);
    const char *name =
        d && cflight_descriptor_path_count(d) == 2 ? cflight_descriptor_path_part(d, 1) : "?";
    const char *known = "?";
    for (size_t i = 0; i < it_n_datasets; i++)
      if (strcmp(it_datasets[i], name) == 0) known = it_datasets[i];
    if (criteria == NULL && strcmp(known, "?") != 0) check_gold_info(known, known, info);
    if (n < 64) names[n] = known;
    n++;
    cflight_flight_info_free(info);
  }
  cflight_info_iter_free(it);
  return n;
}

static void t_list_flights(const char *unused) {
  const char **names;
  size_t n = list_flights(NULL, &names);
  IT_EXPECT(n == it_n_datasets, "%zu flights, not %zu", n, it_n_datasets);
  for (size_t i = 0; i < n && i < it_n_datasets; i++)
    IT_EXPECT(strcmp(names[i], it_datasets[i]) == 0, "flight %zu is %s, not %s", i, names[i],
              it_datasets[i]);
  n = list_flights("gold/generated_primitive", &names);
  IT_EXPECT(n == 3 && strcmp(names[0], "generated_primitive") == 0 &&
                strcmp(names[1], "generated_primitive_no_batches") == 0 &&
                strcmp(names[2], "generated_primitive_zerolength") == 0,
            "criteria gold/generated_primitive: %zu flights", n);
  n = list_flights("nothing matches", &names);
  IT_EXPECT(n == 0, "criteria that match nothing: %zu flights", n);
}

static void t_get_flight_info(const char *name) {
  cflight_error err = {0};
  cflight_descriptor *d = path2("gold", name);
  cflight_flight_info *info = NULL;
  if (IT_OK(cflight_client_get_flight_info(client, d, NULL, &info, &err)))
    check_gold_info("GetFlightInfo", name, info);
  cflight_flight_info_free(info);
  struct ArrowSchema s;
  if (IT_OK(cflight_client_get_schema(client, d, NULL, &s, &err))) {
    check_schema("GetSchema", gold(name), &s);
    s.release(&s);
  }
  cflight_descriptor_free(d);
}

static void t_unknown_flight(const char *unused) {
  cflight_error err = {0};
  cflight_descriptor *d = path2("gold", "nope");
  cflight_flight_info *info = NULL;
  int rc = cflight_client_get_flight_info(client, d, NULL, &info, &err);
  it_expect_status("unknown path", rc, &err, CFLIGHT_NOT_FOUND, NULL);
  cflight_flight_info_free(info);
  struct ArrowSchema s = {0};
  rc = cflight_client_get_schema(client, d, NULL, &s, &err);
  it_expect_status("GetSchema of an unknown path", rc, &err, CFLIGHT_NOT_FOUND, NULL);
  if (s.release) s.release(&s);
  cflight_descriptor_free(d);
  d = command("gold/generated_null");
  info = NULL;
  rc = cflight_client_get_flight_info(client, d, NULL, &info, &err);
  it_expect_status("a command", rc, &err, CFLIGHT_NOT_FOUND, NULL);
  cflight_flight_info_free(info);
  cflight_descriptor_free(d);
}

static void t_poll(const char *unused) {
  cflight_error err = {0};
  const char *name = "generated_decimal";
  cflight_descriptor *d = command("poll:generated_decimal");
  cflight_poll_info *p = NULL;
  if (IT_OK(cflight_client_poll_flight_info(client, d, NULL, &p, &err))) {
    const cflight_flight_info *info = cflight_poll_info_info(p);
    IT_EXPECT(info != NULL, "first poll: no info");
    if (info != NULL) {
      size_t n = 0;
      const uint8_t *b = cflight_flight_info_schema_bytes(info, &n);
      check_schema_bytes("first poll", gold(name), b, n);
      IT_EXPECT(cflight_descriptor_equals(cflight_flight_info_descriptor(info), d),
                "first poll: the info's descriptor");
      IT_EXPECT(cflight_flight_info_endpoint_count(info) == 0 &&
                    cflight_flight_info_total_records(info) == -1 &&
                    cflight_flight_info_total_bytes(info) == -1 &&
                    !cflight_flight_info_ordered(info),
                "first poll: the info's endpoints and totals");
      b = cflight_flight_info_app_metadata(info, &n);
      IT_EXPECT(bytes_are(b, n, "pending"), "first poll: app_metadata %s", it_show(b, n));
    }
    cflight_descriptor *next = command("poll:generated_decimal:done");
    IT_EXPECT(cflight_descriptor_equals(cflight_poll_info_descriptor(p), next),
              "first poll: the next descriptor");
    double progress = -1;
    IT_EXPECT(cflight_poll_info_progress(p, &progress) && progress == 0.5,
              "first poll: progress %g", progress);
    cflight_timestamp ts = {0, 0};
    IT_EXPECT(cflight_poll_info_expiration_time(p, &ts) && ts.seconds == IT_EXPIRATION_SECONDS &&
                  ts.nanos == IT_EXPIRATION_NANOS,
              "first poll: expiration_time");
    cflight_poll_info *q = NULL;
    if (IT_OK(cflight_client_poll_flight_info(client, next, NULL, &q, &err))) {
      if (cflight_poll_info_info(q) != NULL)
        check_gold_info("second poll", name, cflight_poll_info_info(q));
      else
        it_fail("second poll: no info");
      IT_EXPECT(cflight_poll_info_descriptor(q) == NULL, "second poll: a descriptor");
      progress = -1;
      IT_EXPECT(cflight_poll_info_progress(q, &progress) && progress == 1.0,
                "second poll: progress %g", progress);
      IT_EXPECT(!cflight_poll_info_expiration_time(q, &ts), "second poll: an expiration_time");
    }
    cflight_poll_info_free(q);
    cflight_descriptor_free(next);
  }
  cflight_poll_info_free(p);
  cflight_descriptor_free(d);
  d = command("poll:nope");
  p = NULL;
  int rc = cflight_client_poll_flight_info(client, d, NULL, &p, &err);
  it_expect_status("unknown query", rc, &err, CFLIGHT_NOT_FOUND, NULL);
  cflight_poll_info_free(p);
  cflight_descriptor_free(d);
}

static void t_do_get(const char *name) {
  cflight_error err = {0};
  char t[300];
  snprintf(t, sizeof(t), "gold/%s", name);
  cflight_ticket *tk = ticket(t);
  cflight_stream_reader *r = NULL;
  expected_stream x = {.name = name, .batch_md_fmt = "%s:%lld"};
  if (IT_OK(cflight_client_do_get(client, tk, NULL, &r, &err))) check_stream("DoGet", r, &x);
  cflight_stream_reader_free(r);
  cflight_ticket_free(tk);
}

static void t_do_get_unknown(const char *unused) {
  const char *tickets[] = {"gold/nope", ""};
  for (size_t i = 0; i < 2; i++) {
    cflight_error err = {0};
    cflight_ticket *tk = ticket(tickets[i]);
    cflight_stream_reader *r = NULL;
    int rc = cflight_client_do_get(client, tk, NULL, &r, &err);
    if (rc == CFLIGHT_OK) {
      struct ArrowSchema s = {0};
      rc = cflight_stream_reader_schema(r, &s, &err);
      if (s.release) s.release(&s);
    }
    it_expect_status(tickets[i][0] ? tickets[i] : "the empty ticket", rc, &err, CFLIGHT_NOT_FOUND,
                     NULL);
    cflight_stream_reader_free(r);
    cflight_ticket_free(tk);
  }
}

static void t_do_get_large(const char *unused) {
  cflight_error err = {0};
  cflight_ticket *tk = ticket("large");
  cflight_stream_reader *r = NULL;
  cflight_call_options *o = with_timeout(60);
  if (IT_OK(cflight_client_do_get(client, tk, o, &r, &err))) {
    int64_t rows = 0, batches = 0;
    for (;;) {
      cflight_chunk c;
      bool end = false;
      if (!IT_OK(cflight_stream_reader_next(r, &c, &end, &err)) || end) break;
      if (c.data.release != NULL) {
        batches++;
        IT_EXPECT(it_buffer_is(c.app_metadata, "large", 5), "app_metadata");
        const int64_t *v = it_int64_values(&c.data);
        IT_EXPECT(v != NULL, "no values");
        for (int64_t i = 0; v != NULL && i < c.data.length; i++) {
          if (v[i] != rows + i) {
            it_fail("data[%lld] = %lld", (long long)(rows + i), (long long)v[i]);
            break;
          }
        }
        rows += c.data.length;
      }
      cflight_chunk_release(&c);
    }
    IT_EXPECT(batches == 1 && rows == IT_LARGE_ROWS, "%lld batches, %lld rows", (long long)batches,
              (long long)rows);
  }
  cflight_stream_reader_free(r);
  cflight_call_options_free(o);
  cflight_ticket_free(tk);
}

static void t_do_put(const char *name) {
  cflight_error err = {0};
  const it_gold *g = gold(name);
  cflight_descriptor *d = path2("uploads", name);
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *mr = NULL;
  char buf[300];
  /* What goes up: batch k with "up:NAME:k", "middle:NAME" after the first
   * batch, "tail:NAME" at the end. */
  char seq[64][300];
  size_t n_seq = 0;
  if (!IT_OK(cflight_client_do_put(client, d, &g->schema, NULL, &w, &mr, &err))) goto done;
  for (size_t k = 0; k < g->n_batches && n_seq < 60; k++) {
    snprintf(buf, sizeof(buf), "up:%s:%zu", name, k);
    if (!IT_OK(cflight_stream_writer_write(w, &g->batches[k], buf, strlen(buf), &err))) goto done;
    snprintf(seq[n_seq++], 300, "%s", buf);
    if (k == 0) {
      snprintf(buf, sizeof(buf), "middle:%s", name);
      if (!IT_OK(cflight_stream_writer_write_metadata(w, buf, strlen(buf), &err))) goto done;
      snprintf(seq[n_seq++], 300, "%s", buf);
    }
  }
  snprintf(buf, sizeof(buf), "tail:%s", name);
  if (!IT_OK(cflight_stream_writer_write_metadata(w, buf, strlen(buf), &err))) goto done;
  snprintf(seq[n_seq++], 300, "%s", buf);
  if (!IT_OK(cflight_stream_writer_done_writing(w, &err))) goto done;
  size_t acks = 0;
  for (;;) {
    cflight_buffer *b = NULL;
    if (!IT_OK(cflight_metadata_reader_read(mr, &b, &err)) || b == NULL) break;
    if (acks < n_seq) {
      char want[340];
      snprintf(want, sizeof(want), "ack:%zu:%.300s", acks, seq[acks]);
      IT_EXPECT(it_buffer_is(b, want, strlen(want)), "ack %zu: %s, not %s", acks,
                it_show(cflight_buffer_data(b), cflight_buffer_size(b)), want);
    }
    acks++;
    cflight_buffer_unref(b);
  }
  IT_EXPECT(acks == n_seq, "%zu acks, not %zu", acks, n_seq);
  if (!IT_OK(cflight_stream_writer_close(w, &err))) goto done;

  /* Back again. */
  snprintf(buf, sizeof(buf), "uploads/%s", name);
  cflight_ticket *tk = ticket(buf);
  cflight_stream_reader *r = NULL;
  const char *extra_md[2];
  int64_t extra_at[2];
  char middle[300], tail[300];
  snprintf(middle, sizeof(middle), "middle:%s", name);
  snprintf(tail, sizeof(tail), "tail:%s", name);
  size_t n_extra = 0;
  if (g->n_batches > 0) {
    extra_md[n_extra] = middle;
    extra_at[n_extra++] = 1;
  }
  extra_md[n_extra] = tail;
  extra_at[n_extra++] = (int64_t)g->n_batches;
  expected_stream x = {.name = name,
                       .batch_md_fmt = "up:%s:%lld",
                       .extra_md = extra_md,
                       .extra_at = extra_at,
                       .n_extra = n_extra};
  if (IT_OK(cflight_client_do_get(client, tk, NULL, &r, &err))) check_stream("DoGet", r, &x);
  cflight_stream_reader_free(r);
  cflight_ticket_free(tk);

  cflight_flight_info *info = NULL;
  if (IT_OK(cflight_client_get_flight_info(client, d, NULL, &info, &err))) {
    size_t n = 0;
    const uint8_t *b = cflight_flight_info_schema_bytes(info, &n);
    check_schema_bytes("upload info", g, b, n);
    IT_EXPECT(cflight_descriptor_equals(cflight_flight_info_descriptor(info), d),
              "upload info: descriptor");
    IT_EXPECT(cflight_flight_info_total_records(info) == g->rows, "upload info: total_records %lld",
              (long long)cflight_flight_info_total_records(info));
    const cflight_endpoint *e = cflight_flight_info_endpoint(info, 0);
    const cflight_ticket *et = e ? cflight_endpoint_ticket(e) : NULL;
    const uint8_t *td = et ? cflight_ticket_data(et, &n) : NULL;
    IT_EXPECT(cflight_flight_info_endpoint_count(info) == 1 && bytes_are(td, n, buf),
              "upload info: endpoint");
  }
  cflight_flight_info_free(info);
done:
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(mr);
  cflight_descriptor_free(d);
}

static void t_do_put_bad(const char *unused) {
  cflight_error err = {0};
  const it_gold *g = gold("generated_primitive");
  cflight_descriptor *d = command("x");
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *mr = NULL;
  int rc = cflight_client_do_put(client, d, &g->schema, NULL, &w, &mr, &err);
  if (rc == CFLIGHT_OK) {
    cflight_stream_writer_write(w, &g->batches[0], NULL, 0, NULL);
    rc = cflight_stream_writer_close(w, &err);
  }
  it_expect_status("DoPut to a command", rc, &err, CFLIGHT_INVALID_ARGUMENT, NULL);
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(mr);
  cflight_descriptor_free(d);
}

/* Reads chunks until one with a batch (want_batch) or metadata only. */
static bool next_echo(cflight_stream_reader *r, bool want_batch, cflight_chunk *out) {
  cflight_error err = {0};
  for (;;) {
    bool end = false;
    if (!IT_OK(cflight_stream_reader_next(r, out, &end, &err))) return false;
    if (end) {
      it_fail("the echo ended early");
      return false;
    }
    if ((out->data.release != NULL) == want_batch) return true;
    it_fail("an unexpected %s came back", want_batch ? "metadata-only message" : "batch");
    cflight_chunk_release(out);
  }
}

static void t_do_exchange(const char *name) {
  cflight_error err = {0};
  const it_gold *g = gold(name);
  cflight_descriptor *d = command("echo");
  cflight_stream_writer *w = NULL;
  cflight_stream_reader *r = NULL;
  char buf[300];
  if (!IT_OK(cflight_client_do_exchange(client, d, NULL, &w, &r, &err))) goto done;
  if (!IT_OK(cflight_stream_writer_begin(w, &g->schema, &err))) goto done;
  for (size_t k = 0; k < g->n_batches; k++) {
    snprintf(buf, sizeof(buf), "ex:%zu", k);
    if (!IT_OK(cflight_stream_writer_write(w, &g->batches[k], buf, strlen(buf), &err))) goto done;
    /* Its echo comes before the next batch goes. */
    cflight_chunk c;
    if (!next_echo(r, true, &c)) goto done;
    IT_EXPECT(it_buffer_is(c.app_metadata, buf, strlen(buf)), "batch %zu app_metadata", k);
    if (cflight_array_equal(&g->schema, &g->batches[k], &c.data, &err) != CFLIGHT_OK)
      it_fail("batch %zu: %s", k, err.message);
    cflight_error_reset(&err);
    cflight_chunk_release(&c);
  }
  if (!IT_OK(cflight_stream_writer_write_metadata(w, "the end", 7, &err))) goto done;
  cflight_chunk c;
  if (!next_echo(r, false, &c)) goto done;
  IT_EXPECT(it_buffer_is(c.app_metadata, "the end", 7), "the metadata came back wrong");
  cflight_chunk_release(&c);
  if (!IT_OK(cflight_stream_writer_done_writing(w, &err))) goto done;
  bool end = false;
  if (IT_OK(cflight_stream_reader_next(r, &c, &end, &err))) {
    IT_EXPECT(end, "more came back after the end");
    cflight_chunk_release(&c);
  }
  if (g->n_batches > 0) {
    struct ArrowSchema s;
    if (IT_OK(cflight_stream_reader_schema(r, &s, &err))) {
      check_schema("echoed schema", g, &s);
      s.release(&s);
    }
  }
  IT_OK(cflight_stream_writer_close(w, &err));
done:
  cflight_stream_writer_free(w);
  cflight_stream_reader_free(r);
  cflight_descriptor_free(d);
}

static void t_do_exchange_metadata(const char *unused) {
  cflight_error err = {0};
  cflight_descriptor *d = command("echo");
  cflight_stream_writer *w = NULL;
  cflight_stream_reader *r = NULL;
  const char *sent[] = {"one", "\x00\xff", "three \xe2\x9c\x93"};
  const size_t sizes[] = {3, 2, 9};
  if (!IT_OK(cflight_client_do_exchange(client, d, NULL, &w, &r, &err))) goto done;
  for (size_t i = 0; i < 3; i++)
    if (!IT_OK(cflight_stream_writer_write_metadata(w, sent[i], sizes[i], &err))) goto done;
  if (!IT_OK(cflight_stream_writer_done_writing(w, &err))) goto done;
  size_t i = 0;
  for (;; i++) {
    cflight_chunk c;
    bool end = false;
    if (!IT_OK(cflight_stream_reader_next(r, &c, &end, &err)) || end) break;
    IT_EXPECT(c.data.release == NULL, "message %zu came back with a batch", i);
    IT_EXPECT(i < 3 && it_buffer_is(c.app_metadata, sent[i], sizes[i]), "message %zu", i);
    cflight_chunk_release(&c);
  }
  IT_EXPECT(i == 3, "%zu messages came back, not 3", i);
  IT_OK(cflight_stream_writer_close(w, &err));
done:
  cflight_stream_writer_free(w);
  cflight_stream_reader_free(r);
  cflight_descriptor_free(d);
}

static void t_do_exchange_unknown(const char *unused) {
  cflight_error err = {0};
  cflight_descriptor *d = command("nope");
  cflight_stream_writer *w = NULL;
  cflight_stream_reader *r = NULL;
  int rc = cflight_client_do_exchange(client, d, NULL, &w, &r, &err);
  if (rc == CFLIGHT_OK) {
    cflight_stream_writer_write_metadata(w, "x", 1, NULL);
    rc = cflight_stream_writer_close(w, &err);
  }
  it_expect_status("unknown exchange", rc, &err, CFLIGHT_INVALID_ARGUMENT, NULL);
  cflight_stream_writer_free(w);
  cflight_stream_reader_free(r);
  cflight_descriptor_free(d);
}

#define MESSAGE "d\xc3\xa9j\xc3\xa0 vu: 100% s\xc3\xbbr \xe2\x9c\x93, 50%25 is not 50%"

static void t_actions(const char *unused) {
  cflight_error err = {0};
  char out[128][256];
  size_t n = 0;
  if (IT_OK(action("echo", "\x00\x01\xfe%25", 6, NULL, out, 4, &n, &err)))
    IT_EXPECT(n == 1 && memcmp(out[0], "\x00\x01\xfe%25", 6) == 0, "echo");
  if (IT_OK(action("echo", NULL, 0, NULL, out, 4, &n, &err)))
    IT_EXPECT(n == 1 && out[0][0] == '\0', "empty echo: %zu results", n);
  if (IT_OK(action("count", "100", 3, NULL, out, 128, &n, &err))) {
    IT_EXPECT(n == 100, "count: %zu results", n);
    for (size_t i = 0; i < n && i < 100; i++) {
      char want[16];
      snprintf(want, sizeof(want), "%zu", i);
      IT_EXPECT(strcmp(out[i], want) == 0, "count: result %zu is %s", i, out[i]);
    }
  }
  if (IT_OK(action("count", "0", 1, NULL, out, 4, &n, &err))) IT_EXPECT(n == 0, "count 0: %zu", n);
  int rc = action("no-such-action", NULL, 0, NULL, out, 4, &n, &err);
  it_expect_status("unknown action", rc, &err, CFLIGHT_UNIMPLEMENTED, NULL);
}

/* Whether s[0..n) is well-formed UTF-8. */
static bool utf8_valid(const char *s, size_t n) {
  const uint8_t *p = (const uint8_t *)s;
  for (size_t i = 0; i < n;) {
    size_t len = p[i] < 0x80         ? 1
                 : (p[i] >> 5) == 6  ? 2
                 : (p[i] >> 4) == 14 ? 3
                 : (p[i] >> 3) == 30 ? 4
                                     : 0;
    if (len == 0 || i + len > n) return false;
    for (size_t k = 1; k < len; k++)
      if ((p[i + k] & 0xc0) != 0x80) return false;
    i += len;
  }
  return true;
}

static void t_status(const char *unused) {
  cflight_error err = {0};
  char out[4][256];
  size_t n = 0;
  for (int code = 1; code <= 16; code++) {
    char body[300], what[64];
    snprintf(body, sizeof(body), "%d:%s", code, MESSAGE);
    snprintf(what, sizeof(what), "fail %s", cflight_code_name(code));
    int rc = action("fail", body, strlen(body), NULL, out, 4, &n, &err);
    it_expect_status(what, rc, &err, code, MESSAGE);
  }
  const char *messages[] = {"%", "%%41%zz", "line\nbreak\ttab", "\xe4\xb8\xad \xf0\x9f\x98\x80"};
  for (size_t i = 0; i < 4; i++) {
    char body[300];
    snprintf(body, sizeof(body), "9:%s", messages[i]);
    int rc = action("fail", body, strlen(body), NULL, out, 4, &n, &err);
    it_expect_status(it_show(messages[i], strlen(messages[i])), rc, &err,
                     CFLIGHT_FAILED_PRECONDITION, messages[i]);
  }
  /* An empty message: cflight reports the code's name instead. */
  int rc = action("fail", "5:", 2, NULL, out, 4, &n, &err);
  IT_EXPECT(
      rc == CFLIGHT_NOT_FOUND && (err.message[0] == '\0' || strcmp(err.message, "NOT_FOUND") == 0),
      "empty message: %s \"%s\"", cflight_code_name(rc), err.message);
  cflight_error_reset(&err);

  rc = action("fail-details", NULL, 0, NULL, out, 4, &n, &err);
  IT_EXPECT(rc == CFLIGHT_FAILED_PRECONDITION && strcmp(err.message, IT_DETAILS_MESSAGE) == 0,
            "fail-details: %s \"%s\"", cflight_code_name(rc), err.message);
  IT_EXPECT(it_buffer_is(err.extra_info, it_details, it_details_size),
            "fail-details: extra_info %s",
            err.extra_info
                ? it_show(cflight_buffer_data(err.extra_info), cflight_buffer_size(err.extra_info))
                : "(none)");
  cflight_error_reset(&err);

  rc = action("fail-after", "3:10:" MESSAGE, strlen("3:10:" MESSAGE), NULL, out, 4, &n, &err);
  IT_EXPECT(n == 3 && strcmp(out[0], "0") == 0 && strcmp(out[2], "2") == 0,
            "fail-after: %zu results first", n);
  it_expect_status("fail-after", rc, &err, CFLIGHT_ABORTED, MESSAGE);
}

static void t_long_status(const char *unused) {
  cflight_error err = {0};
  char out[4][256];
  size_t n = 0;
  /* A long message: cflight keeps CFLIGHT_ERROR_MESSAGE_SIZE - 1 bytes of it,
   * but what it keeps must still be UTF-8, and the message's start. */
  char *body = malloc(2 + 2000 + 1);
  if (body != NULL) {
    memcpy(body, "9:", 2);
    for (size_t i = 0; i < 1000; i++)
      memcpy(body + 2 + 2 * i, "\xc3\xa9", 2);
    body[2002] = '\0';
    int lrc = action("fail", body, 2002, NULL, out, 4, &n, &err);
    size_t got = strlen(err.message);
    IT_EXPECT(lrc == CFLIGHT_FAILED_PRECONDITION && got >= 300 && utf8_valid(err.message, got) &&
                  memcmp(err.message, body + 2, got) == 0,
              "a 2000-byte message (\"\xc3\xa9\" x 1000) came back as %zu bytes ending %s: not a "
              "UTF-8 prefix of it",
              got, it_show(err.message + (got > 8 ? got - 8 : 0), got > 8 ? 8 : got));
    cflight_error_reset(&err);
    free(body);
  }
}

static void t_headers(const char *unused) {
  cflight_error err = {0};
  char out[16][256];
  size_t n = 0;
  cflight_call_options *o = cflight_call_options_new();
  const uint8_t bin[] = {0x00, 0xff, 0x2c, 0x20, 0x0a};
  IT_OK(cflight_call_options_add_header(o, "x-text", "plain value", &err));
  IT_OK(cflight_call_options_add_header_bin(o, "x-data-bin", bin, sizeof(bin), &err));
  IT_OK(cflight_call_options_add_header(o, "authorization", "Bearer abc", &err));
  IT_OK(cflight_call_options_add_header(o, "other", "not listed", &err));
  if (IT_OK(action("headers", NULL, 0, o, out, 16, &n, &err))) {
    IT_EXPECT(n == 3, "%zu headers listed, not 3", n);
    IT_EXPECT(n > 0 && strcmp(out[0], "authorization=Bearer abc") == 0, "first: %s", out[0]);
    IT_EXPECT(n > 1 && memcmp(out[1], "x-data-bin=\x00\xff\x2c\x20\x0a", 16) == 0, "second: %s",
              it_show(out[1], 16));
    IT_EXPECT(n > 2 && strcmp(out[2], "x-text=plain value") == 0, "third: %s", out[2]);
  }
  cflight_call_options_free(o);

  /* Response headers: x-echo-* come back (trailers are not in the API). */
  o = cflight_call_options_new();
  IT_OK(cflight_call_options_add_header(o, "x-echo-text", "hello", &err));
  IT_OK(cflight_call_options_add_header_bin(o, "x-echo-data-bin", bin, sizeof(bin), &err));
  cflight_descriptor *d = path2("gold", "generated_null");
  cflight_flight_info *info = NULL;
  if (IT_OK(cflight_client_get_flight_info(client, d, o, &info, &err))) {
    IT_EXPECT(it_received_header("x-echo-text", "hello", 5), "GetFlightInfo: no x-echo-text back");
    IT_EXPECT(it_received_header("x-echo-data-bin", bin, sizeof(bin)),
              "GetFlightInfo: no x-echo-data-bin back");
  }
  cflight_flight_info_free(info);
  cflight_descriptor_free(d);
  if (IT_OK(action("count", "2", 1, o, out, 16, &n, &err))) {
    IT_EXPECT(it_received_header("x-echo-text", "hello", 5), "DoAction: no x-echo-text back");
    IT_EXPECT(it_received_header("x-echo-data-bin", bin, sizeof(bin)),
              "DoAction: no x-echo-data-bin back");
  }
  int rc = action("fail", "5:x", 3, o, out, 16, &n, &err);
  it_expect_status("fail", rc, &err, CFLIGHT_NOT_FOUND, "x");
  IT_EXPECT(it_received_header("x-echo-text", "hello", 5), "failed call: no x-echo-text back");
  cflight_call_options_free(o);
}

static void t_deadline(const char *unused) {
  cflight_error err = {0};
  char out[4][256];
  size_t n = 0;
  cflight_call_options *o = with_timeout(10);
  if (IT_OK(action("deadline", NULL, 0, o, out, 4, &n, &err))) {
    long ms = n == 1 ? atol(out[0]) : -1;
    /* A client may round grpc-timeout up when it sends it. */
    IT_EXPECT(ms > 0 && ms <= 11000, "the server sees %s ms left of 10000", n ? out[0] : "nothing");
  }
  cflight_call_options_free(o);
  if (IT_OK(action("deadline", NULL, 0, NULL, out, 4, &n, &err)))
    IT_EXPECT(n == 1 && strcmp(out[0], "none") == 0, "no deadline: %s", n ? out[0] : "nothing");

  if (IT_OK(action("sleep", "20", 2, NULL, out, 4, &n, &err)))
    IT_EXPECT(n == 1 && strcmp(out[0], "slept") == 0, "sleep: %s", n ? out[0] : "nothing");
  expect_probe("sleep", "completed");

  o = with_timeout(0.3);
  int64_t t0 = it_now_ms();
  int rc = action("sleep", "5000", 4, o, out, 4, &n, &err);
  it_expect_status("sleep past the deadline", rc, &err, CFLIGHT_DEADLINE_EXCEEDED, NULL);
  IT_EXPECT(it_now_ms() - t0 < 4000, "the deadline did not end the call early");
  cflight_call_options_free(o);
  expect_probe("sleep", "deadline");
}

static void t_stream_deadline(const char *unused) {
  cflight_error err = {0};
  cflight_ticket *tk = ticket("endless");
  cflight_stream_reader *r = NULL;
  cflight_call_options *o = with_timeout(0.5);
  int rc = cflight_client_do_get(client, tk, o, &r, &err);
  int64_t batches = 0;
  while (rc == CFLIGHT_OK) {
    cflight_chunk c;
    bool end = false;
    rc = cflight_stream_reader_next(r, &c, &end, &err);
    if (rc != CFLIGHT_OK) break;
    if (end) {
      it_fail("the endless stream ended");
      break;
    }
    if (c.data.release != NULL) batches++;
    cflight_chunk_release(&c);
  }
  it_expect_status("endless DoGet", rc, &err, CFLIGHT_DEADLINE_EXCEEDED, NULL);
  IT_EXPECT(batches >= 1, "no batch before the deadline");
  cflight_stream_reader_free(r);
  cflight_call_options_free(o);
  cflight_ticket_free(tk);
  expect_probe("endless", "deadline");
}

static void t_cancel(const char *unused) {
  cflight_error err = {0};
  cflight_ticket *tk = ticket("endless");
  cflight_stream_reader *r = NULL;
  if (IT_OK(cflight_client_do_get(client, tk, NULL, &r, &err))) {
    int64_t k = 0;
    while (k < 3) {
      cflight_chunk c;
      bool end = false;
      if (!IT_OK(cflight_stream_reader_next(r, &c, &end, &err)) || end) break;
      if (c.data.release != NULL) {
        char want[64];
        snprintf(want, sizeof(want), "endless:%lld", (long long)k);
        const int64_t *v = it_int64_values(&c.data);
        IT_EXPECT(c.data.length == IT_ENDLESS_ROWS && v != NULL && v[0] == k * IT_ENDLESS_ROWS &&
                      v[IT_ENDLESS_ROWS - 1] == k * IT_ENDLESS_ROWS + IT_ENDLESS_ROWS - 1,
                  "batch %lld values", (long long)k);
        IT_EXPECT(it_buffer_is(c.app_metadata, want, strlen(want)), "batch %lld app_metadata",
                  (long long)k);
        k++;
      }
      cflight_chunk_release(&c);
    }
    cflight_stream_reader_cancel(r);
    cflight_chunk c;
    bool end = false;
    int rc = cflight_stream_reader_next(r, &c, &end, &err);
    if (rc == CFLIGHT_OK) cflight_chunk_release(&c);
    it_expect_status("read after cancel", rc, &err, CFLIGHT_CANCELLED, NULL);
  }
  cflight_stream_reader_free(r);
  cflight_ticket_free(tk);
  expect_probe("endless", "cancelled");
}

static void t_server_cancel(const char *unused) {
  cflight_error err = {0};
  cflight_ticket *tk = ticket("server-cancel");
  cflight_stream_reader *r = NULL;
  int rc = cflight_client_do_get(client, tk, NULL, &r, &err);
  int64_t batches = 0;
  while (rc == CFLIGHT_OK) {
    cflight_chunk c;
    bool end = false;
    rc = cflight_stream_reader_next(r, &c, &end, &err);
    if (rc != CFLIGHT_OK) break;
    if (end) {
      it_fail("the stream ended OK");
      break;
    }
    if (c.data.release != NULL) batches++;
    cflight_chunk_release(&c);
  }
  it_expect_status("server-cancel", rc, &err, CFLIGHT_CANCELLED, "cancelled by the server");
  IT_EXPECT(batches == 2, "%lld batches before the cancel, not 2", (long long)batches);
  cflight_stream_reader_free(r);
  cflight_ticket_free(tk);
}

static void t_spec_actions(const char *unused) {
  cflight_error err = {0};
  cflight_descriptor *d = path2("gold", "generated_null");
  cflight_flight_info *info = NULL;
  cflight_cancel_flight_info_request *req = NULL;
  cflight_cancel_flight_info_result *res = NULL;
  if (IT_OK(cflight_client_get_flight_info(client, d, NULL, &info, &err)) &&
      IT_OK(cflight_cancel_flight_info_request_new(info, &req, &err)) &&
      IT_OK(cflight_client_cancel_flight_info(client, req, NULL, &res, &err)))
    IT_EXPECT(cflight_cancel_flight_info_result_status(res) == CFLIGHT_CANCEL_STATUS_CANCELLED,
              "CancelFlightInfo: status %d", cflight_cancel_flight_info_result_status(res));
  cflight_cancel_flight_info_result_free(res);
  cflight_cancel_flight_info_request_free(req);
  cflight_flight_info_free(info);
  cflight_descriptor_free(d);

  cflight_ticket *tk = ticket("gold/x");
  cflight_location *loc = NULL;
  cflight_endpoint *e = NULL, *renewed = NULL;
  cflight_renew_flight_endpoint_request *rr = NULL;
  if (IT_OK(cflight_location_parse(it_locations[1], &loc, &err)) &&
      IT_OK(cflight_endpoint_new(tk, (const cflight_location *const *)&loc, 1, &e, &err)) &&
      IT_OK(cflight_endpoint_set_app_metadata(e, "\x00m", 2, &err)) &&
      IT_OK(cflight_renew_flight_endpoint_request_new(e, &rr, &err)) &&
      IT_OK(cflight_client_renew_flight_endpoint(client, rr, NULL, &renewed, &err))) {
    cflight_timestamp ts = {0, 0};
    IT_EXPECT(cflight_endpoint_expiration_time(renewed, &ts) && ts.seconds == IT_RENEWED_SECONDS &&
                  ts.nanos == 0,
              "renewed expiration_time %lld.%09d", (long long)ts.seconds, ts.nanos);
    cflight_endpoint_set_expiration_time(renewed, NULL, NULL);
    IT_EXPECT(cflight_endpoint_equals(e, renewed), "the renewed endpoint differs");
  }
  cflight_endpoint_free(renewed);
  cflight_renew_flight_endpoint_request_free(rr);
  cflight_endpoint_free(e);
  cflight_location_free(loc);
  cflight_ticket_free(tk);
}

static void t_session(const char *unused) {
  cflight_error err = {0};
  cflight_set_session_options_request *req = NULL;
  cflight_set_session_options_result *res = NULL;
  cflight_session_option_value *v[6] = {0};
  const char *list[] = {"a", "", "\xe2\x9c\x93"};
  bool built = IT_OK(cflight_set_session_options_request_new(&req, &err)) &&
               IT_OK(cflight_session_option_value_new_string("caf\xc3\xa9", &v[0], &err)) &&
               IT_OK(cflight_session_option_value_new_bool(true, &v[1], &err)) &&
               IT_OK(cflight_session_option_value_new_int64(INT64_MIN, &v[2], &err)) &&
               IT_OK(cflight_session_option_value_new_double(0.25, &v[3], &err)) &&
               IT_OK(cflight_session_option_value_new_string_list(list, 3, &v[4], &err)) &&
               IT_OK(cflight_session_option_value_new_string("x", &v[5], &err));
  const char *names[] = {"text", "flag", "number", "ratio", "list", "bad_name"};
  for (size_t i = 0; built && i < 6; i++)
    built = IT_OK(cflight_set_session_options_request_set(req, names[i], v[i], &err));
  if (built && IT_OK(cflight_client_set_session_options(client, req, NULL, &res, &err))) {
    cflight_set_session_option_error e = CFLIGHT_SET_SESSION_OPTION_ERROR_UNSPECIFIED;
    IT_EXPECT(cflight_set_session_options_result_count(res) == 1 &&
                  cflight_set_session_options_result_find(res, "bad_name", &e) &&
                  e == CFLIGHT_SET_SESSION_OPTION_ERROR_INVALID_NAME,
              "SetSessionOptions: errors");
  }
  cflight_set_session_options_result_free(res);
  res = NULL;
  /* Unset "ratio". */
  cflight_set_session_options_request *unset = NULL;
  cflight_session_option_value *none = NULL;
  if (IT_OK(cflight_set_session_options_request_new(&unset, &err)) &&
      IT_OK(cflight_session_option_value_new_unset(&none, &err)) &&
      IT_OK(cflight_set_session_options_request_set(unset, "ratio", none, &err)))
    IT_OK(cflight_client_set_session_options(client, unset, NULL, &res, &err));
  cflight_set_session_options_result_free(res);
  cflight_set_session_options_request_free(unset);
  cflight_session_option_value_free(none);

  cflight_get_session_options_result *got = NULL;
  if (IT_OK(cflight_client_get_session_options(client, NULL, NULL, &got, &err))) {
    IT_EXPECT(cflight_get_session_options_result_count(got) == 4, "%zu options, not 4",
              cflight_get_session_options_result_count(got));
    const size_t kept[] = {0, 1, 2, 4};
    for (size_t i = 0; i < 4; i++) {
      const cflight_session_option_value *x =
          cflight_get_session_options_result_find(got, names[kept[i]]);
      IT_EXPECT(x != NULL && cflight_session_option_value_equals(x, v[kept[i]]), "option %s",
                names[kept[i]]);
    }
  }
  cflight_get_session_options_result_free(got);
  cflight_close_session_result *closed = NULL;
  if (IT_OK(cflight_client_close_session(client, NULL, NULL, &closed, &err)))
    IT_EXPECT(cflight_close_session_result_status(closed) == CFLIGHT_CLOSE_SESSION_STATUS_CLOSED,
              "CloseSession: status %d", cflight_close_session_result_status(closed));
  cflight_close_session_result_free(closed);
  got = NULL;
  if (IT_OK(cflight_client_get_session_options(client, NULL, NULL, &got, &err)))
    IT_EXPECT(cflight_get_session_options_result_count(got) == 0, "%zu options after closing",
              cflight_get_session_options_result_count(got));
  cflight_get_session_options_result_free(got);
  for (size_t i = 0; i < 6; i++)
    cflight_session_option_value_free(v[i]);
  cflight_set_session_options_request_free(req);
}

int main(int argc, char **argv) {
  it_parse_args(argc, argv, &args);
  cflight_error err = {0};
  golds = calloc(it_n_datasets, sizeof(*golds));
  for (size_t i = 0; i < it_n_datasets; i++) {
    if (it_gold_load(args.gold, it_datasets[i], &golds[i], &err) != CFLIGHT_OK) {
      fprintf(stderr, "flight_test_client: %s\n", err.message);
      return 1;
    }
  }
  cflight_client_options *o = cflight_client_options_new();
  cflight_client_options_set_generic(o, "grpc.max_receive_message_length", "-1", NULL);
  cflight_client_options_add_middleware(o, it_header_recorder_new(), NULL);
  char uri[300];
  snprintf(uri, sizeof(uri), "grpc://%s:%d", args.host, args.port);
  if (cflight_client_connect(uri, o, &client, &err) != CFLIGHT_OK ||
      cflight_client_wait_for_available(client, 30, &err) != CFLIGHT_OK) {
    printf("FAIL: cannot connect to %s: %s\n", uri, err.message);
    return 1;
  }
  cflight_client_options_free(o);

  it_run("Handshake", NULL, t_handshake);
  it_run("ListActions", NULL, t_list_actions);
  it_run("ListFlights", NULL, t_list_flights);
  for (size_t i = 0; i < it_n_datasets; i++)
    it_run("GetFlightInfo", it_datasets[i], t_get_flight_info);
  it_run("GetFlightInfo unknown", NULL, t_unknown_flight);
  it_run("PollFlightInfo", NULL, t_poll);
  for (size_t i = 0; i < it_n_datasets; i++)
    it_run("DoGet", it_datasets[i], t_do_get);
  it_run("DoGet unknown", NULL, t_do_get_unknown);
  it_run("DoGet large", NULL, t_do_get_large);
  for (size_t i = 0; i < it_n_datasets; i++)
    it_run("DoPut", it_datasets[i], t_do_put);
  it_run("DoPut bad descriptor", NULL, t_do_put_bad);
  const char *exchanged[] = {"generated_primitive",
                             "generated_dictionary",
                             "generated_nested_dictionary",
                             "generated_datetime",
                             "generated_decimal",
                             "generated_map",
                             "generated_union",
                             "generated_binary_view",
                             "generated_null_trivial",
                             "generated_primitive_no_batches"};
  for (size_t i = 0; i < sizeof(exchanged) / sizeof(exchanged[0]); i++)
    it_run("DoExchange echo", exchanged[i], t_do_exchange);
  it_run("DoExchange metadata only", NULL, t_do_exchange_metadata);
  it_run("DoExchange unknown", NULL, t_do_exchange_unknown);
  it_run("DoAction", NULL, t_actions);
  it_run("Status codes and details", NULL, t_status);
  it_run("Long status message", NULL, t_long_status);
  it_run("Headers", NULL, t_headers);
  it_run("Deadlines", NULL, t_deadline);
  it_run("Stream deadline", NULL, t_stream_deadline);
  it_run("Client cancels", NULL, t_cancel);
  it_run("Server cancels", NULL, t_server_cancel);
  it_run("CancelFlightInfo and RenewFlightEndpoint", NULL, t_spec_actions);
  it_run("Session options", NULL, t_session);

  cflight_client_close(client);
  for (size_t i = 0; i < it_n_datasets; i++)
    it_gold_free(&golds[i]);
  free(golds);
  return it_summary(args.peer);
}
