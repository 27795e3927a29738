/* The gold IPC streams of the Arrow integration suite (every type,
 * dictionaries, compression) through DoPut, DoGet and DoExchange: what
 * comes back equals what was read from the file. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_test_util.h"

static ts_server *S;
static cflight_client *C;
static int files_done;

static const char *const dirs[] = {
    "arrow-ipc-stream/integration/cpp-21.0.0",
    "arrow-ipc-stream/integration/4.0.0-shareddict",
    "arrow-ipc-stream/integration/2.0.0-compression",
};

static bool schema_same(const struct ArrowSchema *a, const struct ArrowSchema *b, char *why,
                        size_t cap) {
  if (strcmp(a->format, b->format) != 0) {
    snprintf(why, cap, "format %s vs %s", a->format, b->format);
    return false;
  }
  if (strcmp(a->name ? a->name : "", b->name ? b->name : "") != 0) {
    snprintf(why, cap, "name %s vs %s", a->name, b->name);
    return false;
  }
  size_t ma = cf_metadata_size(a->metadata), mb = cf_metadata_size(b->metadata);
  if (ma != mb || (ma > 0 && memcmp(a->metadata, b->metadata, ma) != 0)) {
    snprintf(why, cap, "metadata of '%s'", a->name ? a->name : "");
    return false;
  }
  if ((a->flags & ARROW_FLAG_NULLABLE) != (b->flags & ARROW_FLAG_NULLABLE) ||
      a->n_children != b->n_children || (a->dictionary == NULL) != (b->dictionary == NULL)) {
    snprintf(why, cap, "shape of '%s'", a->name ? a->name : "");
    return false;
  }
  for (int64_t i = 0; i < a->n_children; i++)
    if (!schema_same(a->children[i], b->children[i], why, cap)) return false;
  return a->dictionary == NULL || schema_same(a->dictionary, b->dictionary, why, cap);
}

static void check_same(const char *what, const struct ArrowSchema *schema,
                       const struct ArrowArray *expect, int n, const struct ArrowSchema *got_schema,
                       const struct ArrowArray *got, int m) {
  char why[256] = "";
  CHECK_MSG(schema_same(schema, got_schema, why, sizeof(why)), "%s: schema: %s", what, why);
  CHECK_MSG(n == m, "%s: %d batches, got %d", what, n, m);
  for (int i = 0; i < n && i < m; i++) {
    cflight_error err = {0};
    int rc = cflight_array_equal(schema, &expect[i], &got[i], &err);
    CHECK_MSG(rc == CFLIGHT_OK, "%s: batch %d: %s", what, i, err.message);
  }
}

static void one_file(const char *path, const char *name) {
  cflight_error err = {0};
  struct ArrowArrayStream st;
  cflight_ipc_format fmt;
  int rc = cflight_ipc_open_path(path, NULL, &st, &fmt, &err);
  CHECK_MSG(rc == CFLIGHT_OK, "%s: %s", name, err.message);
  if (rc != CFLIGHT_OK) return;
  struct ArrowSchema schema;
  struct ArrowArray *batches = NULL;
  int n = tb_collect(&st, &schema, &batches);
  st.release(&st);
  CHECK_MSG(n >= 0, "%s: reading the file", name);
  if (n < 0) return;

  /* DoPut */
  cflight_descriptor *d = td_path(name);
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *mr = NULL;
  rc = cflight_client_do_put(C, d, &schema, NULL, &w, &mr, &err);
  CHECK_MSG(rc == CFLIGHT_OK, "%s: DoPut: %s", name, err.message);
  for (int i = 0; rc == CFLIGHT_OK && i < n; i++) {
    rc = cflight_stream_writer_write(w, &batches[i], NULL, 0, &err);
    CHECK_MSG(rc == CFLIGHT_OK, "%s: write %d: %s", name, i, err.message);
  }
  if (rc == CFLIGHT_OK) {
    rc = cflight_stream_writer_close(w, &err);
    CHECK_MSG(rc == CFLIGHT_OK, "%s: close: %s", name, err.message);
  }
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(mr);
  cflight_descriptor_free(d);

  /* DoGet */
  cflight_ticket *t = tt(name);
  cflight_stream_reader *r = NULL;
  if (rc == CFLIGHT_OK) rc = cflight_client_do_get(C, t, NULL, &r, &err);
  struct ArrowArrayStream got;
  if (rc == CFLIGHT_OK) rc = cflight_stream_reader_read_all(r, &got, &err);
  CHECK_MSG(rc == CFLIGHT_OK, "%s: DoGet: %s", name, err.message);
  cflight_stream_reader_free(r);
  cflight_ticket_free(t);
  if (rc == CFLIGHT_OK) {
    struct ArrowSchema gs;
    struct ArrowArray *gb = NULL;
    int m = tb_collect(&got, &gs, &gb);
    got.release(&got);
    char what[300];
    snprintf(what, sizeof(what), "%s (DoGet)", name);
    check_same(what, &schema, batches, n, &gs, gb, m);
    tb_release(gb, m > 0 ? (size_t)m : 0);
    cf_schema_release(&gs);
  }

  /* DoExchange, compressed on the way out. */
  cflight_ipc_options *ipc = cflight_ipc_options_new();
  cflight_ipc_options_set_compression(ipc, CFLIGHT_COMPRESSION_LZ4_FRAME, 0, NULL);
  cflight_call_options *co = cflight_call_options_new();
  cflight_call_options_set_ipc_options(co, ipc, NULL);
  cflight_ipc_options_free(ipc);
  d = td_cmd("echo");
  rc = cflight_client_do_exchange(C, d, co, &w, &r, &err);
  CHECK_MSG(rc == CFLIGHT_OK, "%s: DoExchange: %s", name, err.message);
  if (rc == CFLIGHT_OK) rc = cflight_stream_writer_begin(w, &schema, &err);
  struct ArrowArray *echoed = calloc((size_t)n + 1, sizeof(*echoed));
  int m = 0;
  for (int i = 0; rc == CFLIGHT_OK && i < n; i++) {
    rc = cflight_stream_writer_write(w, &batches[i], NULL, 0, &err);
    cflight_chunk ch;
    bool end = false;
    if (rc == CFLIGHT_OK) rc = cflight_stream_reader_next(r, &ch, &end, &err);
    if (rc == CFLIGHT_OK && !end) cf_array_move(&ch.data, &echoed[m++]);
    if (rc == CFLIGHT_OK) cflight_chunk_release(&ch);
  }
  if (rc == CFLIGHT_OK) rc = cflight_stream_writer_done_writing(w, &err);
  cflight_chunk ch;
  bool end = false;
  if (rc == CFLIGHT_OK) rc = cflight_stream_reader_next(r, &ch, &end, &err);
  CHECK_MSG(rc == CFLIGHT_OK && end, "%s: DoExchange: %s", name, err.message);
  if (rc == CFLIGHT_OK) rc = cflight_stream_writer_close(w, &err);
  CHECK_MSG(rc == CFLIGHT_OK, "%s: DoExchange close: %s", name, err.message);
  if (n > 0) {
    struct ArrowSchema es;
    rc = cflight_stream_reader_schema(r, &es, &err);
    CHECK_MSG(rc == CFLIGHT_OK, "%s: DoExchange schema: %s", name, err.message);
    if (rc == CFLIGHT_OK) {
      char what[300];
      snprintf(what, sizeof(what), "%s (DoExchange)", name);
      check_same(what, &schema, batches, n, &es, echoed, m);
      cf_schema_release(&es);
    }
  }
  tb_release(echoed, (size_t)m);
  cflight_stream_writer_free(w);
  cflight_stream_reader_free(r);
  cflight_descriptor_free(d);
  cflight_call_options_free(co);

  tb_release(batches, (size_t)n);
  cf_schema_release(&schema);
  files_done++;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_gold_files(void) {
  for (size_t k = 0; k < CF_ARRAY_SIZE(dirs); k++) {
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", cft_data_path(dirs[k]));
    DIR *dp = opendir(dir);
    CHECK_MSG(dp != NULL, "cannot open %s", dir);
    if (dp == NULL) continue;
    char *names[256];
    size_t n = 0;
    for (struct dirent *e; (e = readdir(dp)) != NULL && n < CF_ARRAY_SIZE(names);) {
      size_t len = strlen(e->d_name);
      if (len > 7 && strcmp(e->d_name + len - 7, ".stream") == 0) names[n++] = strdup(e->d_name);
    }
    closedir(dp);
    qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
      char path[8192];
      snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
      fprintf(stderr, "  %s/%s\n", dirs[k] + 29, names[i]);
      one_file(path, names[i]);
      free(names[i]);
    }
  }
  CHECK(files_done > 30);
}

int main(void) {
  S = ts_start("grpc://127.0.0.1:0", NULL, NULL);
  C = ts_client(S, NULL);
  RUN_TEST(test_gold_files);
  cflight_client_close(C);
  ts_stop(S);
  return cft_finish();
}
