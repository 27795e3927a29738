/* What the cflight end-to-end tests (test_cli_e2e.py) cannot do with the
 * cflight program itself:
 *
 *   cli_test_helper cmp A B             Arrow files (either format) hold the same
 *                                       schema and rows, whatever the batch sizes
 *   cli_test_helper gen FILE ROWS       write an Arrow IPC file of ROWS rows (int64,
 *                                       string) in batches of 10,000
 *   cli_test_helper bad-put URI PATH KIND
 *                                       DoPut a good batch, then a malformed one
 *                                       (KIND: offsets, dict); prints the server's
 *                                       error, exit 0 when it refused with
 *                                       INVALID_ARGUMENT
 *   cli_test_helper hang-put URI PATH   DoPut a batch, print "sent", then wait (the
 *                                       test kills this process or the server)
 *   cli_test_helper endpoints-server URI_OF_CFLIGHT_SERVE
 *                                       a Flight server whose FlightInfo has four
 *                                       endpoints (unordered): at an unreachable
 *                                       location then the cflight server, at the
 *                                       cflight server, at this server (no location)
 *                                       and at arrow-flight-reuse-connection://?;
 *                                       prints "listening on URI", serves until
 *                                       stdin closes
 * Exit status: 0 as expected, 1 otherwise, 2 usage. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "arrow/arrow.h"
#include "integration.h"

static int fail(const char *what, const cflight_error *err) {
  fprintf(stderr, "cli_test_helper: %s: %s: %s\n", what, cflight_code_name(err->code),
          err->message);
  return 1;
}

/* ---- cmp ------------------------------------------------------------------------------------ */

typedef struct batches {
  struct ArrowSchema schema;
  struct ArrowArray *items;
  int64_t n;
} batches;

static int read_all(const char *path, batches *out, cflight_error *err) {
  memset(out, 0, sizeof(*out));
  cflight_ipc_options *o = cflight_ipc_options_new();
  cflight_ipc_options_set_validate_full(o, true);
  struct ArrowArrayStream s;
  cflight_ipc_format f;
  int rc = cflight_ipc_open_path(path, o, &s, &f, err);
  cflight_ipc_options_free(o);
  if (rc != CFLIGHT_OK) return rc;
  if (s.get_schema(&s, &out->schema) != 0) {
    rc = cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s: no schema", path);
  }
  while (rc == CFLIGHT_OK) {
    struct ArrowArray b = {0};
    if (s.get_next(&s, &b) != 0) {
      rc = cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s: %s", path, s.get_last_error(&s));
      break;
    }
    if (b.release == NULL) break;
    out->items = realloc(out->items, (size_t)(out->n + 1) * sizeof(b));
    out->items[out->n++] = b;
  }
  s.release(&s);
  return rc;
}

static void free_all(batches *b) {
  for (int64_t i = 0; i < b->n; i++)
    cf_array_release(&b->items[i]);
  free(b->items);
  cf_schema_release(&b->schema);
}

static int cmd_cmp(const char *a_path, const char *b_path) {
  cflight_error err = {0};
  batches a, b;
  if (read_all(a_path, &a, &err) != CFLIGHT_OK) return fail(a_path, &err);
  if (read_all(b_path, &b, &err) != CFLIGHT_OK) return fail(b_path, &err);
  int rc = cf_schema_equal(&a.schema, &b.schema, &err);
  /* Walk both lists of batches at once, comparing the overlapping ranges
   * as views, so that batch boundaries do not matter. */
  int64_t ia = 0, ib = 0, oa = 0, ob = 0, rows = 0;
  while (rc == CFLIGHT_OK) {
    while (ia < a.n && oa == a.items[ia].length)
      ia++, oa = 0;
    while (ib < b.n && ob == b.items[ib].length)
      ib++, ob = 0;
    if (ia == a.n || ib == b.n) {
      if (ia != a.n || ib != b.n) {
        rc = cflight_error_set(&err, CFLIGHT_INVALID_DATA, "%s has more rows than %s (after %lld)",
                               ia != a.n ? a_path : b_path, ia != a.n ? b_path : a_path,
                               (long long)rows);
      }
      break;
    }
    int64_t n = a.items[ia].length - oa;
    if (b.items[ib].length - ob < n) n = b.items[ib].length - ob;
    struct ArrowArray va = a.items[ia], vb = b.items[ib];
    va.offset += oa;
    va.length = n;
    vb.offset += ob;
    vb.length = n;
    rc = cflight_array_equal(&a.schema, &va, &vb, &err);
    if (rc != CFLIGHT_OK) {
      char msg[CFLIGHT_ERROR_MESSAGE_SIZE];
      snprintf(msg, sizeof(msg), "%s", err.message);
      cflight_error_set(&err, rc, "rows %lld..%lld differ: %s", (long long)rows,
                        (long long)(rows + n), msg);
    }
    oa += n;
    ob += n;
    rows += n;
  }
  free_all(&a);
  free_all(&b);
  if (rc != CFLIGHT_OK) return fail("cmp", &err);
  printf("equal: %lld rows\n", (long long)rows);
  return 0;
}

/* ---- gen ------------------------------------------------------------------------------------- */

static int make_schema(struct ArrowSchema *s, cflight_error *err) {
  CF_RETURN_NOT_OK(cf_schema_init(s, "+s", "", 2, err));
  CF_RETURN_NOT_OK(cf_schema_init(s->children[0], "l", "n", 0, err));
  return cf_schema_init(s->children[1], "u", "text", 0, err);
}

/* Rows [start, start + n): n, and "row <n>". */
static int make_batch(int64_t start, int64_t n, struct ArrowArray *out, cflight_error *err) {
  CF_RETURN_NOT_OK(cf_array_init(out, 1, 2, err));
  out->length = n;
  out->null_count = 0;
  struct ArrowArray *c0 = out->children[0], *c1 = out->children[1];
  CF_RETURN_NOT_OK(cf_array_init(c0, 2, 0, err));
  CF_RETURN_NOT_OK(cf_array_init(c1, 3, 0, err));
  c0->length = c1->length = n;
  c0->null_count = c1->null_count = 0;
  int64_t *v = cf_array_alloc_buffer(c0, 1, (size_t)n * 8, err);
  int32_t *offs = cf_array_alloc_buffer(c1, 1, (size_t)(n + 1) * 4, err);
  char *data = cf_array_alloc_buffer(c1, 2, (size_t)n * 24 + 1, err);
  if (v == NULL || offs == NULL || data == NULL) return CFLIGHT_NO_MEMORY;
  offs[0] = 0;
  for (int64_t i = 0; i < n; i++) {
    v[i] = start + i;
    int len = sprintf(data + offs[i], "row %lld", (long long)(start + i));
    offs[i + 1] = offs[i] + len;
  }
  return CFLIGHT_OK;
}

static int cmd_gen(const char *path, int64_t rows) {
  cflight_error err = {0};
  struct ArrowSchema s;
  if (make_schema(&s, &err) != CFLIGHT_OK) return fail("gen", &err);
  cflight_ipc_writer *w = NULL;
  int rc = cflight_ipc_writer_open_path(path, CFLIGHT_IPC_FORMAT_FILE, &s, NULL, &w, &err);
  for (int64_t start = 0; rc == CFLIGHT_OK && start < rows; start += 10000) {
    struct ArrowArray b;
    rc = make_batch(start, rows - start < 10000 ? rows - start : 10000, &b, &err);
    if (rc == CFLIGHT_OK) rc = cflight_ipc_writer_write(w, &b, &err);
    cf_array_release(&b);
  }
  if (rc == CFLIGHT_OK) rc = cflight_ipc_writer_close(w, &err);
  cflight_ipc_writer_free(w);
  cf_schema_release(&s);
  return rc == CFLIGHT_OK ? 0 : fail("gen", &err);
}

/* ---- bad-put and hang-put ------------------------------------------------------------------- */

static int descriptor(const char *path, cflight_descriptor **d, cflight_error *err) {
  const char *parts[1] = {path};
  return cflight_descriptor_new_path(parts, 1, d, err);
}

/* A string array whose offsets go backwards: it encodes (the encoder uses
 * the first and last offsets), but is not valid Arrow. */
static int bad_offsets(struct ArrowSchema *s, struct ArrowArray *b, cflight_error *err) {
  CF_RETURN_NOT_OK(cf_schema_init(s, "+s", "", 1, err));
  CF_RETURN_NOT_OK(cf_schema_init(s->children[0], "u", "s", 0, err));
  CF_RETURN_NOT_OK(cf_array_init(b, 1, 1, err));
  b->length = 3;
  b->null_count = 0;
  struct ArrowArray *c = b->children[0];
  CF_RETURN_NOT_OK(cf_array_init(c, 3, 0, err));
  c->length = 3;
  c->null_count = 0;
  int32_t *o = cf_array_alloc_buffer(c, 1, 16, err);
  char *d = cf_array_alloc_buffer(c, 2, 8, err);
  if (o == NULL || d == NULL) return CFLIGHT_NO_MEMORY;
  o[0] = 0;
  o[1] = 5;
  o[2] = 2;
  o[3] = 6;
  memcpy(d, "abcdef", 6);
  return CFLIGHT_OK;
}

/* A dictionary-encoded column with an index past its dictionary. */
static int bad_dict(struct ArrowSchema *s, struct ArrowArray *b, cflight_error *err) {
  CF_RETURN_NOT_OK(cf_schema_init(s, "+s", "", 1, err));
  CF_RETURN_NOT_OK(cf_schema_init(s->children[0], "c", "d", 0, err));
  struct ArrowSchema *ds = cf_schema_alloc_dictionary(s->children[0], err);
  if (ds == NULL) return CFLIGHT_NO_MEMORY;
  CF_RETURN_NOT_OK(cf_schema_init(ds, "u", NULL, 0, err));
  CF_RETURN_NOT_OK(cf_array_init(b, 1, 1, err));
  b->length = 2;
  b->null_count = 0;
  struct ArrowArray *c = b->children[0];
  CF_RETURN_NOT_OK(cf_array_init(c, 2, 0, err));
  c->length = 2;
  c->null_count = 0;
  int8_t *idx = cf_array_alloc_buffer(c, 1, 2, err);
  if (idx == NULL) return CFLIGHT_NO_MEMORY;
  idx[0] = 0;
  idx[1] = 7;
  struct ArrowArray *dict = cf_array_alloc_dictionary(c, err);
  if (dict == NULL) return CFLIGHT_NO_MEMORY;
  CF_RETURN_NOT_OK(cf_array_init(dict, 3, 0, err));
  dict->length = 2;
  dict->null_count = 0;
  int32_t *o = cf_array_alloc_buffer(dict, 1, 12, err);
  char *d = cf_array_alloc_buffer(dict, 2, 2, err);
  if (o == NULL || d == NULL) return CFLIGHT_NO_MEMORY;
  o[0] = 0;
  o[1] = 1;
  o[2] = 2;
  memcpy(d, "xy", 2);
  return CFLIGHT_OK;
}

static int cmd_bad_put(const char *uri, const char *path, const char *kind) {
  cflight_error err = {0};
  struct ArrowSchema s = {0};
  struct ArrowArray bad = {0};
  int rc;
  if (strcmp(kind, "offsets") == 0) {
    rc = bad_offsets(&s, &bad, &err);
  } else if (strcmp(kind, "dict") == 0) {
    rc = bad_dict(&s, &bad, &err);
  } else {
    fprintf(stderr, "cli_test_helper: unknown kind %s\n", kind);
    return 2;
  }
  if (rc != CFLIGHT_OK) return fail("building the bad batch", &err);
  cflight_client *c = NULL;
  cflight_descriptor *d = NULL;
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *r = NULL;
  rc = cflight_client_connect(uri, NULL, &c, &err);
  if (rc == CFLIGHT_OK) rc = descriptor(path, &d, &err);
  if (rc == CFLIGHT_OK) rc = cflight_client_do_put(c, d, &s, NULL, &w, &r, &err);
  if (rc == CFLIGHT_OK) rc = cflight_stream_writer_write(w, &bad, NULL, 0, &err);
  if (w != NULL) {
    cflight_error cerr = {0};
    int closed = cflight_stream_writer_close(w, &cerr);
    if (closed != CFLIGHT_OK) {
      rc = closed;
      cflight_error_move(&err, &cerr);
    }
  }
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(r);
  cflight_descriptor_free(d);
  cflight_client_close(c);
  cf_array_release(&bad);
  cf_schema_release(&s);
  if (rc == CFLIGHT_OK) {
    fprintf(stderr, "cli_test_helper: the server accepted a malformed batch\n");
    return 1;
  }
  printf("%s: %s\n", cflight_code_name(rc), err.message);
  return rc == CFLIGHT_INVALID_ARGUMENT ? 0 : 1;
}

static int cmd_hang_put(const char *uri, const char *path) {
  cflight_error err = {0};
  struct ArrowSchema s;
  struct ArrowArray b;
  cflight_client *c = NULL;
  cflight_descriptor *d = NULL;
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *r = NULL;
  int rc = make_schema(&s, &err);
  if (rc == CFLIGHT_OK) rc = make_batch(0, 1000, &b, &err);
  if (rc == CFLIGHT_OK) rc = cflight_client_connect(uri, NULL, &c, &err);
  if (rc == CFLIGHT_OK) rc = descriptor(path, &d, &err);
  if (rc == CFLIGHT_OK) rc = cflight_client_do_put(c, d, &s, NULL, &w, &r, &err);
  if (rc == CFLIGHT_OK) rc = cflight_stream_writer_write(w, &b, NULL, 0, &err);
  /* Wait for the acknowledgement: the batch reached the server. */
  cflight_buffer *ack = NULL;
  if (rc == CFLIGHT_OK) rc = cflight_metadata_reader_read(r, &ack, &err);
  cflight_buffer_unref(ack);
  if (rc != CFLIGHT_OK) return fail("hang-put", &err);
  printf("sent\n");
  fflush(stdout);
  char line[16];
  while (fgets(line, sizeof(line), stdin) != NULL) {
  }
  /* stdin closed: leave without finishing (the call is cancelled). */
  _exit(0);
}

/* ---- endpoints-server ------------------------------------------------------------------------ */

typedef struct ep_server {
  const char *backend; /* a cflight serve URI holding datasets "a" and "b" */
} ep_server;

static int ep_info(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                   cflight_flight_info **out, cflight_error *err) {
  (void)ctx;
  (void)d;
  ep_server *s = user;
  struct ArrowSchema schema;
  CF_RETURN_NOT_OK(make_schema(&schema, err));
  cflight_flight_info *info = NULL;
  int rc = cflight_flight_info_new(&info, err);
  if (rc == CFLIGHT_OK) rc = cflight_flight_info_set_schema(info, &schema, err);
  cf_schema_release(&schema);
  const char *tickets[] = {"a", "b", "self", "self2"};
  for (int i = 0; rc == CFLIGHT_OK && i < 4; i++) {
    cflight_ticket *t = NULL;
    cflight_location *locs[2] = {NULL, NULL};
    size_t n = 0;
    rc = cflight_ticket_new(tickets[i], strlen(tickets[i]), &t, err);
    if (rc == CFLIGHT_OK && i == 0)
      rc = cflight_location_parse("grpc://127.0.0.1:1", &locs[n++], err);
    if (rc == CFLIGHT_OK && i <= 1) rc = cflight_location_parse(s->backend, &locs[n++], err);
    if (rc == CFLIGHT_OK && i == 3) rc = cflight_location_new_reuse_connection(&locs[n++], err);
    cflight_endpoint *e = NULL;
    if (rc == CFLIGHT_OK)
      rc = cflight_endpoint_new(t, (const cflight_location *const *)locs, n, &e, err);
    if (rc == CFLIGHT_OK) rc = cflight_flight_info_add_endpoint(info, e, err);
    cflight_endpoint_free(e);
    for (size_t k = 0; k < n; k++)
      cflight_location_free(locs[k]);
    cflight_ticket_free(t);
  }
  cflight_flight_info_set_ordered(info, false);
  if (rc != CFLIGHT_OK) {
    cflight_flight_info_free(info);
    return rc;
  }
  *out = info;
  return CFLIGHT_OK;
}

typedef struct gen_state {
  int64_t start;
  bool done;
} gen_state;

static int gen_next(void *ctx, cflight_chunk *out, cflight_error *err) {
  gen_state *g = ctx;
  memset(out, 0, sizeof(*out));
  if (g->done) return CFLIGHT_OK;
  g->done = true;
  return make_batch(g->start, 5, &out->data, err);
}

static int ep_get(void *user, cflight_call_context *ctx, const cflight_ticket *t,
                  cflight_data_stream **out, cflight_error *err) {
  (void)user;
  (void)ctx;
  size_t n;
  const uint8_t *p = cflight_ticket_data(t, &n);
  gen_state *g = calloc(1, sizeof(*g));
  if (g == NULL) return CFLIGHT_NO_MEMORY;
  g->start = n == 4 && memcmp(p, "self", 4) == 0 ? 1000 : 2000;
  struct ArrowSchema schema;
  CF_RETURN_NOT_OK(make_schema(&schema, err));
  *out = cflight_data_stream_new_generator(&schema, gen_next, free, g);
  cf_schema_release(&schema);
  return *out != NULL ? CFLIGHT_OK : CFLIGHT_NO_MEMORY;
}

static int cmd_endpoints_server(const char *backend) {
  ep_server s = {backend};
  cflight_server_handlers h = {0};
  h.get_flight_info = ep_info;
  h.do_get = ep_get;
  cflight_error err = {0};
  cflight_server *srv = NULL;
  if (cflight_server_new("grpc://127.0.0.1:0", &h, sizeof(h), &s, NULL, &srv, &err) != CFLIGHT_OK) {
    return fail("endpoints-server", &err);
  }
  printf("listening on %s\n", cflight_server_location(srv, 0));
  fflush(stdout);
  char line[16];
  while (fgets(line, sizeof(line), stdin) != NULL) {
  }
  cflight_server_free(srv);
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc == 4 && strcmp(argv[1], "cmp") == 0) return cmd_cmp(argv[2], argv[3]);
  if (argc == 4 && strcmp(argv[1], "gen") == 0) return cmd_gen(argv[2], atoll(argv[3]));
  if (argc == 5 && strcmp(argv[1], "bad-put") == 0) return cmd_bad_put(argv[2], argv[3], argv[4]);
  if (argc == 4 && strcmp(argv[1], "hang-put") == 0) return cmd_hang_put(argv[2], argv[3]);
  if (argc == 3 && strcmp(argv[1], "endpoints-server") == 0) return cmd_endpoints_server(argv[2]);
  fprintf(stderr, "usage: see the top of tests/cli/cli_test_helper.c\n");
  return 2;
}
