/* Data streams: large batches arrive without a copy of their bodies (the
 * transport places a large FlightData so that data_body is aligned), the
 * server's IPC write options (DoGet streams and DoExchange writers, with
 * per-stream overrides), the dictionary ids of a received stream (re-served
 * with shared dictionaries kept shared), and writes that move the batch in
 * (pipelined DoPut). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flight/flight_data.h"
#include "rpc_test_util.h"
#include "transport/transport.h"

static ts_server *S;

/* ---- Batches of one int64 column ------------------------------------------------------ */

static void int_schema(struct ArrowSchema *out) {
  cflight_error err = {0};
  CHECK_OK(cf_schema_init(out, "+s", "", 1, &err), &err);
  CHECK_OK(cf_schema_init(out->children[0], "l", "x", 0, &err), &err);
  out->flags = 0;
  out->children[0]->flags = 0;
}

/* x[i] = fill < 0 ? i * 3 + k : fill */
static void int_batch(int64_t n, int64_t k, int64_t fill, struct ArrowArray *out) {
  cflight_error err = {0};
  CHECK_OK(cf_array_init(out, 1, 1, &err), &err);
  out->length = n;
  struct ArrowArray *x = out->children[0];
  CHECK_OK(cf_array_init(x, 2, 0, &err), &err);
  x->length = n;
  int64_t *v = cf_array_alloc_buffer(x, 1, (size_t)(n > 0 ? n : 1) * 8, &err);
  for (int64_t i = 0; v != NULL && i < n; i++)
    v[i] = fill < 0 ? i * 3 + k : fill;
}

static bool int_batch_ok(const struct ArrowArray *b, int64_t n, int64_t k, int64_t fill) {
  if (b->length != n || b->n_children != 1) return false;
  const struct ArrowArray *x = b->children[0];
  const int64_t *v = (const int64_t *)x->buffers[1] + x->offset;
  if (n > 0 && ((uintptr_t)v & 7) != 0) return false;
  for (int64_t i = 0; i < n; i++)
    if (v[i] != (fill < 0 ? i * 3 + k : fill)) return false;
  return true;
}

/* ---- Two dictionary-encoded columns that may share a dictionary ---------------------------- */

static void dict_schema2(struct ArrowSchema *out) {
  cflight_error err = {0};
  CHECK_OK(cf_schema_init(out, "+s", "", 2, &err), &err);
  out->flags = 0;
  static const char *names[2] = {"a", "b"};
  for (int c = 0; c < 2; c++) {
    CHECK_OK(cf_schema_init(out->children[c], "i", names[c], 0, &err), &err);
    struct ArrowSchema *d = cf_schema_alloc_dictionary(out->children[c], &err);
    CHECK(d != NULL);
    if (d != NULL) CHECK_OK(cf_schema_init(d, "u", "", 0, &err), &err);
  }
}

/* Both columns over the same words "w0".."w<dict_len-1>". */
static void dict_batch2(int64_t n, int64_t dict_len, struct ArrowArray *out) {
  cflight_error err = {0};
  CHECK_OK(cf_array_init(out, 1, 2, &err), &err);
  out->length = n;
  for (int c = 0; c < 2; c++) {
    struct ArrowArray *col = out->children[c];
    CHECK_OK(cf_array_init(col, 2, 0, &err), &err);
    col->length = n;
    int32_t *idx = cf_array_alloc_buffer(col, 1, (size_t)(n > 0 ? n : 1) * 4, &err);
    for (int64_t i = 0; idx != NULL && i < n; i++)
      idx[i] = (int32_t)((i * (3 + c)) % dict_len);
    struct ArrowArray *d = cf_array_alloc_dictionary(col, &err);
    CHECK_OK(cf_array_init(d, 3, 0, &err), &err);
    d->length = dict_len;
    int32_t *off = cf_array_alloc_buffer(d, 1, (size_t)(dict_len + 1) * 4, &err);
    char *data = cf_array_alloc_buffer(d, 2, (size_t)dict_len * 24 + 1, &err);
    int32_t pos = 0;
    for (int64_t i = 0; off != NULL && data != NULL && i < dict_len; i++) {
      off[i] = pos;
      pos += sprintf(data + pos, "w%" PRId64, i);
    }
    if (off != NULL) off[dict_len] = pos;
  }
}

/* ---- The server ------------------------------------------------------------------------------ */

/* What the DoPut handler saw of the last "store-dict" upload. */
static int64_t g_ids[8];
static int64_t g_n_ids = -2, g_n_ids_cap0 = -2;
static struct ArrowArray g_dict_batches[4];
static size_t g_n_dict_batches;

typedef struct gen {
  struct ArrowSchema schema;
  struct ArrowArray *items;
  size_t n, next;
} gen;

static int gen_next(void *ctx, cflight_chunk *out, cflight_error *err) {
  (void)err;
  gen *g = ctx;
  memset(out, 0, sizeof(*out));
  if (g->next < g->n) cf_array_move(&g->items[g->next++], &out->data);
  return CFLIGHT_OK;
}

static void gen_free(void *ctx) {
  gen *g = ctx;
  for (size_t i = g->next; i < g->n; i++)
    cf_array_release(&g->items[i]);
  free(g->items);
  cf_schema_release(&g->schema);
  free(g);
}

/* A data stream of batches (moved in). */
static cflight_data_stream *stream_of(struct ArrowSchema *schema, struct ArrowArray *items,
                                      size_t n) {
  gen *g = calloc(1, sizeof(*g));
  cf_schema_move(schema, &g->schema);
  g->items = calloc(n ? n : 1, sizeof(*g->items));
  for (size_t i = 0; i < n; i++)
    cf_array_move(&items[i], &g->items[i]);
  g->n = n;
  return cflight_data_stream_new_generator(&g->schema, gen_next, gen_free, g);
}

static int h_do_get(void *user, cflight_call_context *ctx, const cflight_ticket *t,
                    cflight_data_stream **out, cflight_error *err) {
  (void)user;
  (void)ctx;
  size_t size = 0;
  const uint8_t *data = cflight_ticket_data(t, &size);
  char s[128];
  snprintf(s, sizeof(s), "%.*s", (int)size, (const char *)data);
  long long rows = 0, count = 0;
  struct ArrowSchema schema;
  if (sscanf(s, "rows %lld %lld", &rows, &count) == 2) {
    int_schema(&schema);
    struct ArrowArray *items = calloc((size_t)count, sizeof(*items));
    for (long long k = 0; k < count; k++)
      int_batch(rows, k, -1, &items[k]);
    *out = stream_of(&schema, items, (size_t)count);
    free(items);
    return CFLIGHT_OK;
  }
  bool plain = sscanf(s, "zeros-plain %lld", &rows) == 1;
  if (plain || sscanf(s, "zeros %lld", &rows) == 1) {
    int_schema(&schema);
    struct ArrowArray b;
    int_batch(rows, 0, 0, &b);
    *out = stream_of(&schema, &b, 1);
    if (plain) {
      /* This stream only: no compression, whatever the server's default. */
      cflight_ipc_options *ipc = cflight_ipc_options_new();
      int rc = cflight_data_stream_set_ipc_options(*out, ipc, err);
      cflight_ipc_options_free(ipc);
      return rc;
    }
    return CFLIGHT_OK;
  }
  bool shared = strcmp(s, "dict-shared") == 0;
  if (shared || strcmp(s, "dict-default") == 0) {
    dict_schema2(&schema);
    struct ArrowArray items[4];
    for (size_t i = 0; i < g_n_dict_batches; i++)
      dict_batch2(g_dict_batches[i].length, 5, &items[i]);
    *out = stream_of(&schema, items, g_n_dict_batches);
    if (shared) {
      /* Re-served with the ids the upload had: shared dictionaries stay shared. */
      cflight_ipc_options *ipc = cflight_ipc_options_new();
      int rc = cflight_ipc_options_set_dictionary_ids(ipc, g_ids, g_n_ids, err);
      if (rc == CFLIGHT_OK) rc = cflight_data_stream_set_ipc_options(*out, ipc, err);
      cflight_ipc_options_free(ipc);
      return rc;
    }
    return CFLIGHT_OK;
  }
  return cflight_error_set(err, CFLIGHT_NOT_FOUND, "no such ticket '%s'", s);
}

static const char *path0(const cflight_descriptor *d) {
  return cflight_descriptor_path_count(d) > 0 ? cflight_descriptor_path_part(d, 0) : "";
}

static int h_do_put(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                    cflight_stream_reader *reader, cflight_metadata_writer *writer,
                    cflight_error *err) {
  (void)user;
  (void)ctx;
  const char *name = path0(d);
  bool dict = strcmp(name, "store-dict") == 0;
  if (dict) {
    g_n_ids_cap0 = cflight_stream_reader_dictionary_ids(reader, NULL, 0);
    g_n_ids = cflight_stream_reader_dictionary_ids(reader, g_ids, 8);
    for (size_t i = 0; i < g_n_dict_batches; i++)
      cf_array_release(&g_dict_batches[i]);
    g_n_dict_batches = 0;
  }
  int64_t rows = 0, batches = 0;
  bool aligned = true;
  for (;;) {
    cflight_chunk c;
    bool end = false;
    CF_RETURN_NOT_OK(cflight_stream_reader_next(reader, &c, &end, err));
    if (end) break;
    if (c.data.release != NULL) {
      rows += c.data.length;
      batches++;
      for (int64_t i = 0; i < c.data.n_children; i++) {
        const struct ArrowArray *col = c.data.children[i];
        if (col->n_buffers > 1 && ((uintptr_t)col->buffers[1] & 7) != 0) aligned = false;
      }
      if (dict && g_n_dict_batches < 4) {
        cf_array_move(&c.data, &g_dict_batches[g_n_dict_batches++]);
      }
    }
    cflight_chunk_release(&c);
  }
  char ack[128];
  int n = snprintf(ack, sizeof(ack), "rows=%" PRId64 " batches=%" PRId64 " aligned=%d", rows,
                   batches, aligned ? 1 : 0);
  return cflight_metadata_writer_write(writer, ack, (size_t)n, err);
}

static int h_do_exchange(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                         cflight_stream_reader *reader, cflight_stream_writer *writer,
                         cflight_error *err) {
  (void)user;
  (void)ctx;
  (void)reader;
  size_t size = 0;
  const uint8_t *cmd = cflight_descriptor_command(d, &size);
  bool plain = cmd != NULL && size == 11 && memcmp(cmd, "zeros-plain", 11) == 0;
  if (plain) {
    cflight_ipc_options *ipc = cflight_ipc_options_new();
    int rc = cflight_stream_writer_set_ipc_options(writer, ipc, err);
    cflight_ipc_options_free(ipc);
    CF_RETURN_NOT_OK(rc);
  }
  struct ArrowSchema schema;
  int_schema(&schema);
  int rc = cflight_stream_writer_begin(writer, &schema, err);
  cf_schema_release(&schema);
  CF_RETURN_NOT_OK(rc);
  /* Too late once begun. */
  cflight_error e = {0};
  if (cflight_stream_writer_set_ipc_options(writer, NULL, &e) != CFLIGHT_FAILED_PRECONDITION)
    return cflight_error_set(err, CFLIGHT_INTERNAL, "set_ipc_options after begin worked");
  struct ArrowArray b;
  int_batch(1 << 20, 0, 0, &b);
  /* The writer's moving write, on the server side. */
  return cflight_stream_writer_write_move(writer, &b, cflight_buffer_copy("z", 1), err);
}

/* ---- Tests ----------------------------------------------------------------------------------- */

static uint64_t large_received(void) {
  cf_recv_stats s;
  cf_recv_stats_get(&s);
  return s.large_msgs;
}

/* Batches of sizes around the transport's 64 KiB threshold and far above:
 * values intact and aligned, and no data_body copied (only small fields
 * such as data_header may be, when their place happens to be unaligned). */
static void test_large_batches_uncopied(void) {
  cflight_client *c = ts_client(S, NULL);
  cflight_error err = {0};
  static const int64_t rows[] = {7000, 8150, 8160, 8170, 8180, 8192, 8200, 20000, 131072, 1 << 20};
  for (size_t i = 0; i < CF_ARRAY_SIZE(rows); i++) {
    char t[64];
    int count = rows[i] > 200000 ? 3 : 6;
    snprintf(t, sizeof(t), "rows %" PRId64 " %d", rows[i], count);
    cflight_ticket *tk = tt(t);
    uint64_t copied0 = cf_flight_data_copied_bytes();
    cflight_stream_reader *r = NULL;
    CHECK_OK(cflight_client_do_get(c, tk, NULL, &r, &err), &err);
    int got = 0;
    for (;;) {
      cflight_chunk ch;
      bool end = false;
      CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
      if (end || ch.data.release == NULL) break;
      CHECK_MSG(int_batch_ok(&ch.data, rows[i], got, -1), "rows %" PRId64 " batch %d", rows[i],
                got);
      got++;
      cflight_chunk_release(&ch);
    }
    CHECK_EQ_INT(got, count);
    cflight_stream_reader_free(r);
    cflight_ticket_free(tk);
    uint64_t copied = cf_flight_data_copied_bytes() - copied0;
    /* A message of 64 KiB and more: its body is never copied. */
    if (rows[i] * 8 >= 65536)
      CHECK_MSG(copied <= (uint64_t)(count + 1) * 512, "rows %" PRId64 ": %llu bytes copied",
                rows[i], (unsigned long long)copied);
  }
  /* DoPut: the server's reader, moved writes and borrowed ones. */
  for (int move = 0; move < 2; move++) {
    struct ArrowSchema schema;
    int_schema(&schema);
    cflight_descriptor *d = td_path("count");
    cflight_stream_writer *w = NULL;
    cflight_metadata_reader *mr = NULL;
    uint64_t copied0 = cf_flight_data_copied_bytes();
    CHECK_OK(cflight_client_do_put(c, d, &schema, NULL, &w, &mr, &err), &err);
    for (int k = 0; k < 5; k++) {
      struct ArrowArray b;
      int_batch(100000 + k, k, -1, &b);
      if (move) {
        CHECK_OK(cflight_stream_writer_write_move(w, &b, NULL, &err), &err);
        CHECK(b.release == NULL);
      } else {
        CHECK_OK(cflight_stream_writer_write(w, &b, NULL, 0, &err), &err);
        cf_array_release(&b);
      }
    }
    CHECK_OK(cflight_stream_writer_done_writing(w, &err), &err);
    cflight_buffer *ack = NULL;
    CHECK_OK(cflight_metadata_reader_read(mr, &ack, &err), &err);
    const char *expect = "rows=500010 batches=5 aligned=1";
    CHECK(ack != NULL && cflight_buffer_size(ack) == strlen(expect) &&
          memcmp(cflight_buffer_data(ack), expect, strlen(expect)) == 0);
    cflight_buffer_unref(ack);
    CHECK_OK(cflight_stream_writer_close(w, &err), &err);
    cflight_stream_writer_free(w);
    cflight_metadata_reader_free(mr);
    cflight_descriptor_free(d);
    cf_schema_release(&schema);
    CHECK(cf_flight_data_copied_bytes() - copied0 <= 6 * 512);
  }
  cflight_client_close(c);
}

/* The server's IPC options compress DoGet streams and DoExchange writers;
 * a stream or writer can override them. A compressed 8 MiB batch of zeros
 * is a small message; an uncompressed one a large message. */
static void test_server_ipc_options(void) {
  cflight_server_options *so = cflight_server_options_new();
  cflight_ipc_options *ipc = cflight_ipc_options_new();
  cflight_error err = {0};
  CHECK_OK(cflight_ipc_options_set_compression(ipc, CFLIGHT_COMPRESSION_ZSTD, 0, &err), &err);
  CHECK_OK(cflight_server_options_set_ipc_options(so, ipc, &err), &err);
  cflight_ipc_options_free(ipc);
  cflight_server_handlers h = {
      .do_get = h_do_get, .do_put = h_do_put, .do_exchange = h_do_exchange};
  ts_server *t = ts_start("grpc://127.0.0.1:0", so, &h);
  cflight_server_options_free(so);
  cflight_client *c = ts_client(t, NULL);
  const char *tickets[2] = {"zeros 1048576", "zeros-plain 1048576"};
  for (int plain = 0; plain < 2; plain++) {
    uint64_t large0 = large_received();
    cflight_ticket *tk = tt(tickets[plain]);
    cflight_stream_reader *r = NULL;
    CHECK_OK(cflight_client_do_get(c, tk, NULL, &r, &err), &err);
    cflight_chunk ch;
    bool end = false;
    CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
    CHECK(!end && int_batch_ok(&ch.data, 1 << 20, 0, 0));
    cflight_chunk_release(&ch);
    CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
    CHECK(end);
    cflight_stream_reader_free(r);
    cflight_ticket_free(tk);
    CHECK_EQ_INT(large_received() - large0, plain ? 1 : 0);
  }
  const char *cmds[2] = {"zeros", "zeros-plain"};
  for (int plain = 0; plain < 2; plain++) {
    uint64_t large0 = large_received();
    cflight_descriptor *d = td_cmd(cmds[plain]);
    cflight_stream_writer *w = NULL;
    cflight_stream_reader *r = NULL;
    CHECK_OK(cflight_client_do_exchange(c, d, NULL, &w, &r, &err), &err);
    CHECK_OK(cflight_stream_writer_done_writing(w, &err), &err);
    cflight_chunk ch;
    bool end = false;
    CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
    CHECK(!end && int_batch_ok(&ch.data, 1 << 20, 0, 0));
    CHECK(ch.app_metadata != NULL && cflight_buffer_size(ch.app_metadata) == 1);
    cflight_chunk_release(&ch);
    CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
    CHECK(end);
    CHECK_OK(cflight_stream_writer_close(w, &err), &err);
    cflight_stream_writer_free(w);
    cflight_stream_reader_free(r);
    cflight_descriptor_free(d);
    CHECK_EQ_INT(large_received() - large0, plain ? 1 : 0);
  }
  /* NULL restores the defaults; a NULL object is refused. */
  cflight_server_options *o2 = cflight_server_options_new();
  CHECK_OK(cflight_server_options_set_ipc_options(o2, NULL, &err), &err);
  cflight_server_options_free(o2);
  CHECK_EQ_INT(cflight_server_options_set_ipc_options(NULL, NULL, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_data_stream_set_ipc_options(NULL, NULL, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_stream_writer_set_ipc_options(NULL, NULL, &err), CFLIGHT_INVALID_ARGUMENT);
  cflight_client_close(c);
  ts_stop(t);
}

/* A server learns the dictionary ids of an upload (two columns sharing one
 * dictionary) and re-serves the data with them. */
static void test_dictionary_ids(void) {
  cflight_server_handlers h = {.do_get = h_do_get, .do_put = h_do_put};
  ts_server *t = ts_start("grpc://127.0.0.1:0", NULL, &h);
  cflight_client *c = ts_client(t, NULL);
  cflight_error err = {0};
  struct ArrowSchema schema;
  dict_schema2(&schema);
  cflight_ipc_options *ipc = cflight_ipc_options_new();
  int64_t shared[2] = {7, 7};
  CHECK_OK(cflight_ipc_options_set_dictionary_ids(ipc, shared, 2, &err), &err);
  cflight_call_options *co = cflight_call_options_new();
  CHECK_OK(cflight_call_options_set_ipc_options(co, ipc, &err), &err);
  cflight_ipc_options_free(ipc);
  cflight_descriptor *d = td_path("store-dict");
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *mr = NULL;
  CHECK_OK(cflight_client_do_put(c, d, &schema, co, &w, &mr, &err), &err);
  struct ArrowArray sent[3];
  for (int i = 0; i < 3; i++) {
    dict_batch2(10 + i, 5, &sent[i]);
    CHECK_OK(cflight_stream_writer_write(w, &sent[i], NULL, 0, &err), &err);
  }
  CHECK_OK(cflight_stream_writer_close(w, &err), &err);
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(mr);
  cflight_descriptor_free(d);
  cflight_call_options_free(co);
  CHECK_EQ_INT(g_n_ids_cap0, 2);
  CHECK_EQ_INT(g_n_ids, 2);
  CHECK_EQ_INT(g_ids[0], 7);
  CHECK_EQ_INT(g_ids[1], 7);
  for (int shared_ids = 0; shared_ids < 2; shared_ids++) {
    cflight_ticket *tk = tt(shared_ids ? "dict-shared" : "dict-default");
    cflight_stream_reader *r = NULL;
    CHECK_OK(cflight_client_do_get(c, tk, NULL, &r, &err), &err);
    int64_t ids[4] = {-1, -1, -1, -1};
    CHECK_EQ_INT(cflight_stream_reader_dictionary_ids(r, ids, 4), 2);
    CHECK_EQ_INT(ids[0], shared_ids ? 7 : 0);
    CHECK_EQ_INT(ids[1], shared_ids ? 7 : 1);
    /* cap smaller than the count: writes what fits, returns the count. */
    int64_t one = -1;
    CHECK_EQ_INT(cflight_stream_reader_dictionary_ids(r, &one, 1), 2);
    CHECK_EQ_INT(one, shared_ids ? 7 : 0);
    for (int i = 0; i < 3; i++) {
      cflight_chunk ch;
      bool end = false;
      CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
      CHECK(ch.data.release != NULL);
      if (ch.data.release != NULL)
        CHECK_OK(cflight_array_equal(&schema, &sent[i], &ch.data, &err), &err);
      cflight_chunk_release(&ch);
    }
    cflight_stream_reader_free(r);
    cflight_ticket_free(tk);
  }
  CHECK_EQ_INT(cflight_stream_reader_dictionary_ids(NULL, NULL, 0), -1);
  /* A stream that fails before its schema has no ids. */
  cflight_ticket *tk = tt("nothing");
  cflight_stream_reader *r = NULL;
  CHECK_EQ_INT(cflight_client_do_get(c, tk, NULL, &r, &err), CFLIGHT_NOT_FOUND);
  cflight_stream_reader_free(r);
  cflight_ticket_free(tk);
  for (int i = 0; i < 3; i++)
    cf_array_release(&sent[i]);
  for (size_t i = 0; i < g_n_dict_batches; i++)
    cf_array_release(&g_dict_batches[i]);
  g_n_dict_batches = 0;
  cf_schema_release(&schema);
  cflight_client_close(c);
  ts_stop(t);
}

static bool buf_is(const cflight_buffer *b, const char *s) {
  return b != NULL && cflight_buffer_size(b) == strlen(s) &&
         memcmp(cflight_buffer_data(b), s, strlen(s)) == 0;
}

/* cflight_stream_writer_write_move: the batch and metadata are taken over
 * in every case; the data arrives as written; refusals leave the stream
 * usable. */
static void test_write_move(void) {
  cflight_client_options *o = cflight_client_options_new();
  cflight_client_options_set_write_size_limit(o, 100000);
  cflight_client *c = ts_client(S, o);
  cflight_client_options_free(o);
  cflight_error err = {0};
  struct ArrowSchema schema;
  tb_schema(&schema);
  cflight_descriptor *d = td_path("moved");
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *mr = NULL;
  CHECK_OK(cflight_client_do_put(c, d, &schema, NULL, &w, &mr, &err), &err);
  struct ArrowArray expect[3], b;
  for (int i = 0; i < 3; i++) {
    tb_batch(i * 100, 100 + i, &expect[i]);
    tb_batch(i * 100, 100 + i, &b);
    char md[8];
    snprintf(md, sizeof(md), "m%d", i);
    CHECK_OK(cflight_stream_writer_write_move(w, &b, cflight_buffer_copy(md, strlen(md)), &err),
             &err);
    CHECK(b.release == NULL);
    if (i == 1) {
      /* Over the write size limit: refused, released, the stream goes on. */
      tb_batch(0, 20000, &b);
      CHECK_EQ_INT(cflight_stream_writer_write_move(w, &b, cflight_buffer_copy("x", 1), &err),
                   CFLIGHT_WRITE_SIZE_EXCEEDED);
      CHECK(b.release == NULL);
      CHECK_EQ_INT(err.size_limit, 100000);
      CHECK(err.actual_size > 100000);
    }
  }
  for (int i = 0; i < 3; i++) {
    cflight_buffer *ack = NULL;
    CHECK_OK(cflight_metadata_reader_read(mr, &ack, &err), &err);
    char want[8];
    snprintf(want, sizeof(want), "ack%d", i);
    CHECK(buf_is(ack, want));
    cflight_buffer_unref(ack);
  }
  CHECK_OK(cflight_stream_writer_close(w, &err), &err);
  /* After close: refused, and still taken over. */
  tb_batch(0, 3, &b);
  CHECK_EQ_INT(cflight_stream_writer_write_move(w, &b, NULL, &err), CFLIGHT_FAILED_PRECONDITION);
  CHECK(b.release == NULL);
  CHECK_EQ_INT(cflight_stream_writer_write_move(w, NULL, NULL, &err), CFLIGHT_INVALID_ARGUMENT);
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(mr);
  cflight_descriptor_free(d);
  struct ArrowSchema gs;
  struct ArrowArray *got = NULL;
  size_t n = 0;
  CHECK(ts_get_flight(S, "moved", &gs, &got, &n));
  CHECK_EQ_INT(n, 3);
  for (size_t i = 0; i < n && i < 3; i++)
    CHECK_OK(cflight_array_equal(&schema, &expect[i], &got[i], &err), &err);
  tb_release(got, n);
  cf_schema_release(&gs);
  /* A DoExchange writer that has not begun refuses (and releases). */
  cflight_descriptor *ed = td_cmd("echo");
  cflight_stream_reader *r = NULL;
  CHECK_OK(cflight_client_do_exchange(c, ed, NULL, &w, &r, &err), &err);
  tb_batch(0, 3, &b);
  CHECK_EQ_INT(cflight_stream_writer_write_move(w, &b, NULL, &err), CFLIGHT_FAILED_PRECONDITION);
  CHECK(b.release == NULL);
  /* ... and echoes moved batches once begun. */
  CHECK_OK(cflight_stream_writer_begin(w, &schema, &err), &err);
  for (int i = 0; i < 3; i++) {
    tb_batch(i * 100, 100 + i, &b);
    CHECK_OK(cflight_stream_writer_write_move(w, &b, NULL, &err), &err);
  }
  CHECK_OK(cflight_stream_writer_done_writing(w, &err), &err);
  for (int i = 0; i < 3; i++) {
    cflight_chunk ch;
    bool end = false;
    CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
    CHECK(ch.data.release != NULL);
    if (ch.data.release != NULL)
      CHECK_OK(cflight_array_equal(&schema, &expect[i], &ch.data, &err), &err);
    cflight_chunk_release(&ch);
  }
  CHECK_OK(cflight_stream_writer_close(w, &err), &err);
  cflight_stream_writer_free(w);
  cflight_stream_reader_free(r);
  cflight_descriptor_free(ed);
  for (int i = 0; i < 3; i++)
    cf_array_release(&expect[i]);
  cf_schema_release(&schema);
  cflight_client_close(c);
}

int main(void) {
  S = ts_start("grpc://127.0.0.1:0", NULL, NULL);
  RUN_TEST(test_write_move);
  ts_stop(S);
  cflight_server_handlers mine = {.do_get = h_do_get, .do_put = h_do_put};
  S = ts_start("grpc://127.0.0.1:0", NULL, &mine);
  RUN_TEST(test_large_batches_uncopied);
  ts_stop(S);
  RUN_TEST(test_server_ipc_options);
  RUN_TEST(test_dictionary_ids);
  return cft_finish();
}
