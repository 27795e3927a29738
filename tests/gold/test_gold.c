/* The gold integration files through the IPC API. For every case:
 *  - NAME.stream and NAME.arrow_file decode to exactly the JSON's schema and
 *    batches (cflight_array_equal, after full validation);
 *  - what our writer makes of the JSON (stream and file; uncompressed, LZ4,
 *    ZSTD) decodes back to the JSON's data;
 *  - JSON -> arrays -> JSON -> arrays gives equal arrays;
 *  - arrays decoded from the gold stream, written as JSON, read back equal;
 *  - sliced batches (offset != 0) survive JSON and IPC.
 * Each failure names the case and the step, so that a failing case can be
 * routed to the layer at fault. */
#include "gold_cases.h"
#include "integration.h"

static cflight_ipc_options *full_validation(void) {
  cflight_ipc_options *o = cflight_ipc_options_new();
  if (o != NULL) cflight_ipc_options_set_validate_full(o, true);
  return o;
}

static int sink(void *ctx, const cflight_ipc_piece *pieces, size_t n, cflight_error *err) {
  cf_bytes *out = ctx;
  for (size_t i = 0; i < n; i++)
    CF_RETURN_NOT_OK(cf_bytes_append(out, pieces[i].data, pieces[i].size, err));
  return CFLIGHT_OK;
}

/* Encodes every batch of json with our IPC writer into memory. */
static int encode(cf_json_file *json, cflight_ipc_format format, cflight_compression codec,
                  cflight_buffer **out, cflight_error *err) {
  cf_bytes bytes = {0};
  cflight_ipc_options *opts = cflight_ipc_options_new();
  cflight_ipc_writer *w = NULL;
  int rc = cflight_ipc_options_set_compression(opts, codec, 0, err);
  int64_t ids[64];
  int64_t n_ids = cf_json_file_dictionary_ids(json, ids, 64);
  if (rc == CFLIGHT_OK && n_ids > 0 && n_ids <= 64 && (codec != CFLIGHT_COMPRESSION_NONE)) {
    /* With the JSON's ids (shared dictionaries stay shared); the uncompressed
     * runs keep the default, one dictionary per field. */
    rc = cflight_ipc_options_set_dictionary_ids(opts, ids, n_ids, err);
  }
  if (rc == CFLIGHT_OK) {
    rc = cflight_ipc_writer_open_callback(sink, &bytes, format, cf_json_file_schema(json), opts, &w,
                                          err);
  }
  for (int64_t i = 0; rc == CFLIGHT_OK && i < cf_json_file_num_batches(json); i++) {
    struct ArrowArray b;
    rc = cf_json_file_batch(json, i, &b, err);
    if (rc == CFLIGHT_OK) rc = cflight_ipc_writer_write(w, &b, err);
    cf_array_release(&b);
  }
  if (rc == CFLIGHT_OK) rc = cflight_ipc_writer_close(w, err);
  cflight_ipc_writer_free(w);
  cflight_ipc_options_free(opts);
  *out = NULL;
  if (rc == CFLIGHT_OK && (*out = cf_bytes_finish(&bytes)) == NULL) rc = CF_NOMEM(err, "output");
  cf_bytes_reset(&bytes);
  return rc;
}

/* Decodes bytes of either format as a stream. */
static int decode(cflight_buffer *data, cflight_ipc_format format, cflight_ipc_options *opts,
                  struct ArrowArrayStream *out, cflight_error *err) {
  if (format == CFLIGHT_IPC_FORMAT_STREAM)
    return cflight_ipc_stream_open_buffer(data, opts, out, err);
  cflight_ipc_file_reader *r;
  CF_RETURN_NOT_OK(cflight_ipc_file_reader_open_buffer(data, opts, &r, err));
  return cflight_ipc_file_reader_to_stream(r, out, err);
}

static char *json_text(const struct ArrowSchema *schema, struct ArrowArrayStream *st,
                       cflight_error *err) {
  cf_json_writer *w;
  char *text = NULL;
  size_t size;
  if (cf_json_writer_new(schema, &w, err) != CFLIGHT_OK) return NULL;
  for (;;) {
    struct ArrowArray b;
    memset(&b, 0, sizeof(b));
    if (st->get_next(st, &b) != 0) {
      cflight_error_set(err, CFLIGHT_INVALID_DATA, "get_next: %s", st->get_last_error(st));
      goto out;
    }
    if (b.release == NULL) break;
    int rc = cf_json_writer_write(w, &b, err);
    cf_array_release(&b);
    if (rc != CFLIGHT_OK) goto out;
  }
  cf_json_writer_finish(w, &text, &size, err);
out:
  cf_json_writer_free(w);
  return text;
}

static gold_case *cases;
static size_t n_cases;
static cf_json_file **jsons;

/* ---- Gold bytes decode to the JSON ------------------------------------------------------- */

static void test_gold_stream_decodes(void) {
  for (size_t i = 0; i < n_cases; i++) {
    if (jsons[i] == NULL) continue;
    cflight_error err = {0};
    cflight_ipc_options *opts = full_validation();
    struct ArrowArrayStream st;
    cflight_ipc_format format;
    const char *path = gold_path(&cases[i], ".stream");
    int rc = cflight_ipc_open_path(path, opts, &st, &format, &err);
    if (rc == CFLIGHT_OK) {
      CHECK_EQ_INT(format, CFLIGHT_IPC_FORMAT_STREAM);
      rc = cf_integration_compare_stream(jsons[i], &st, "the gold stream", NULL, &err);
      st.release(&st);
    }
    CHECK_MSG(rc == CFLIGHT_OK, "%s/%s.stream: %s", cases[i].folder, cases[i].name, err.message);
    cflight_ipc_options_free(opts);
  }
}

static void test_gold_file_decodes(void) {
  for (size_t i = 0; i < n_cases; i++) {
    if (jsons[i] == NULL) continue;
    cflight_error err = {0};
    cflight_ipc_options *opts = full_validation();
    cflight_ipc_file_reader *r = NULL;
    const char *path = gold_path(&cases[i], ".arrow_file");
    int rc = cflight_ipc_file_reader_open_path(path, opts, &r, &err);
    const struct ArrowSchema *schema = cf_json_file_schema(jsons[i]);
    if (rc == CFLIGHT_OK) {
      struct ArrowSchema s;
      rc = cflight_ipc_file_reader_schema(r, &s, &err);
      if (rc == CFLIGHT_OK) {
        rc = cf_schema_equal(schema, &s, &err);
        cf_schema_release(&s);
      }
    }
    if (rc == CFLIGHT_OK &&
        cflight_ipc_file_reader_num_batches(r) != cf_json_file_num_batches(jsons[i])) {
      rc = cflight_error_set(&err, CFLIGHT_INVALID_DATA, "%lld batches, the JSON has %lld",
                             (long long)cflight_ipc_file_reader_num_batches(r),
                             (long long)cf_json_file_num_batches(jsons[i]));
    }
    /* Random access, last batch first. */
    for (int64_t b = cf_json_file_num_batches(jsons[i]) - 1; rc == CFLIGHT_OK && b >= 0; b--) {
      struct ArrowArray got, want;
      rc = cflight_ipc_file_reader_read(r, b, &got, &err);
      if (rc != CFLIGHT_OK) break;
      rc = cflight_array_validate(schema, &got, true, &err);
      if (rc == CFLIGHT_OK) rc = cf_json_file_batch(jsons[i], b, &want, &err);
      if (rc == CFLIGHT_OK) {
        rc = cflight_array_equal(schema, &want, &got, &err);
        cf_array_release(&want);
      }
      cf_array_release(&got);
    }
    /* And in order, as a stream. */
    if (rc == CFLIGHT_OK) {
      struct ArrowArrayStream st;
      rc = cflight_ipc_file_reader_to_stream(r, &st, &err);
      r = NULL;
      if (rc == CFLIGHT_OK) {
        rc = cf_integration_compare_stream(jsons[i], &st, "the gold file", NULL, &err);
        st.release(&st);
      }
    }
    cflight_ipc_file_reader_free(r);
    CHECK_MSG(rc == CFLIGHT_OK, "%s/%s.arrow_file: %s", cases[i].folder, cases[i].name,
              err.message);
    cflight_ipc_options_free(opts);
  }
}

/* ---- Our writer's output decodes back to the JSON ------------------------------------------ */

static void test_written_decodes(void) {
  const cflight_compression codecs[] = {CFLIGHT_COMPRESSION_NONE, CFLIGHT_COMPRESSION_LZ4_FRAME,
                                        CFLIGHT_COMPRESSION_ZSTD};
  const char *codec_names[] = {"uncompressed", "lz4", "zstd"};
  for (size_t i = 0; i < n_cases; i++) {
    if (jsons[i] == NULL) continue;
    for (int f = 0; f < 2; f++) {
      cflight_ipc_format format = f ? CFLIGHT_IPC_FORMAT_FILE : CFLIGHT_IPC_FORMAT_STREAM;
      for (size_t c = 0; c < CF_ARRAY_SIZE(codecs); c++) {
        cflight_error err = {0};
        cflight_buffer *data = NULL;
        cflight_ipc_options *opts = full_validation();
        int rc = encode(jsons[i], format, codecs[c], &data, &err);
        if (rc == CFLIGHT_OK) {
          struct ArrowArrayStream st;
          rc = decode(data, format, opts, &st, &err);
          if (rc == CFLIGHT_OK) {
            rc = cf_integration_compare_stream(jsons[i], &st, "our output", NULL, &err);
            st.release(&st);
          }
        }
        CHECK_MSG(rc == CFLIGHT_OK, "%s/%s written as %s, %s: %s", cases[i].folder, cases[i].name,
                  f ? "file" : "stream", codec_names[c], err.message);
        cflight_buffer_unref(data);
        cflight_ipc_options_free(opts);
      }
    }
  }
}

/* ---- JSON round trips, compared as arrays ----------------------------------------------- */

static int compare_files(cf_json_file *a, cf_json_file *b, cflight_error *err) {
  CF_RETURN_NOT_OK(cf_schema_equal(cf_json_file_schema(a), cf_json_file_schema(b), err));
  if (cf_json_file_num_batches(a) != cf_json_file_num_batches(b)) {
    return cflight_error_set(err, CFLIGHT_INVALID_DATA, "%lld batches, then %lld",
                             (long long)cf_json_file_num_batches(a),
                             (long long)cf_json_file_num_batches(b));
  }
  for (int64_t k = 0; k < cf_json_file_num_batches(a); k++) {
    struct ArrowArray x, y;
    CF_RETURN_NOT_OK(cf_json_file_batch(a, k, &x, err));
    int rc = cf_json_file_batch(b, k, &y, err);
    if (rc == CFLIGHT_OK) {
      rc = cflight_array_equal(cf_json_file_schema(a), &x, &y, err);
      cf_array_release(&y);
    }
    cf_array_release(&x);
    CF_RETURN_NOT_OK(rc);
  }
  return CFLIGHT_OK;
}

static void test_json_roundtrip(void) {
  for (size_t i = 0; i < n_cases; i++) {
    if (jsons[i] == NULL) continue;
    cflight_error err = {0};
    struct ArrowArrayStream st;
    cf_json_file *again = NULL;
    char *text = NULL;
    /* The stream view of a JSON file does not own it; give it a fresh copy. */
    cf_json_file *copy = NULL;
    int rc = cf_json_file_read(gold_path(&cases[i], ".json.gz"), &copy, &err);
    if (rc == CFLIGHT_OK) rc = cf_json_file_to_stream(copy, &st, &err);
    if (rc == CFLIGHT_OK) {
      text = json_text(cf_json_file_schema(jsons[i]), &st, &err);
      st.release(&st);
      if (text == NULL) rc = err.code ? err.code : CFLIGHT_INTERNAL;
    }
    if (rc == CFLIGHT_OK) rc = cf_json_file_parse(text, strlen(text), "our JSON", &again, &err);
    if (rc == CFLIGHT_OK) rc = compare_files(jsons[i], again, &err);
    CHECK_MSG(rc == CFLIGHT_OK, "%s/%s: JSON -> arrays -> JSON -> arrays: %s", cases[i].folder,
              cases[i].name, err.message);
    cf_json_file_free(again);
    free(text);
  }
}

/* Arrays as the IPC decoder makes them (pointing into the file), written as JSON. */
static void test_ipc_to_json(void) {
  for (size_t i = 0; i < n_cases; i++) {
    if (jsons[i] == NULL) continue;
    cflight_error err = {0};
    cflight_ipc_options *opts = full_validation();
    struct ArrowArrayStream st;
    cflight_ipc_format format;
    cf_json_file *again = NULL;
    char *text = NULL;
    int rc = cflight_ipc_open_path(gold_path(&cases[i], ".arrow_file"), opts, &st, &format, &err);
    if (rc == CFLIGHT_OK) {
      struct ArrowSchema s;
      if (st.get_schema(&st, &s) != 0) {
        rc =
            cflight_error_set(&err, CFLIGHT_INVALID_DATA, "get_schema: %s", st.get_last_error(&st));
      } else {
        text = json_text(&s, &st, &err);
        if (text == NULL) rc = err.code ? err.code : CFLIGHT_INTERNAL;
        cf_schema_release(&s);
      }
      st.release(&st);
    }
    if (rc == CFLIGHT_OK) rc = cf_json_file_parse(text, strlen(text), "our JSON", &again, &err);
    if (rc == CFLIGHT_OK) rc = compare_files(jsons[i], again, &err);
    CHECK_MSG(rc == CFLIGHT_OK, "%s/%s: gold file -> JSON: %s", cases[i].folder, cases[i].name,
              err.message);
    cf_json_file_free(again);
    free(text);
    cflight_ipc_options_free(opts);
  }
}

/* ---- Slices ------------------------------------------------------------------------------ */

/* Batches with offset != 0 (rows [1, n - 1) of each batch): the JSON writer
 * and the IPC writer both honour the offset. */
static void test_slices(void) {
  for (size_t i = 0; i < n_cases; i++) {
    cf_json_file *json = jsons[i];
    if (json == NULL) continue;
    const struct ArrowSchema *schema = cf_json_file_schema(json);
    for (int64_t k = 0; k < cf_json_file_num_batches(json); k++) {
      cflight_error err = {0};
      struct ArrowArray b;
      if (cf_json_file_batch(json, k, &b, &err) != CFLIGHT_OK) continue;
      if (b.length < 3) {
        cf_array_release(&b);
        continue;
      }
      b.offset += 1;
      b.length -= 2;
      /* JSON. */
      cf_json_writer *w = NULL;
      char *text = NULL;
      size_t size;
      cf_json_file *again = NULL;
      int rc = cf_json_writer_new(schema, &w, &err);
      if (rc == CFLIGHT_OK) rc = cf_json_writer_write(w, &b, &err);
      if (rc == CFLIGHT_OK) rc = cf_json_writer_finish(w, &text, &size, &err);
      cf_json_writer_free(w);
      if (rc == CFLIGHT_OK) rc = cf_json_file_parse(text, size, "sliced JSON", &again, &err);
      if (rc == CFLIGHT_OK) {
        struct ArrowArray back;
        rc = cf_json_file_batch(again, 0, &back, &err);
        if (rc == CFLIGHT_OK) {
          rc = cflight_array_equal(schema, &b, &back, &err);
          cf_array_release(&back);
        }
      }
      CHECK_MSG(rc == CFLIGHT_OK, "%s/%s batch %lld sliced, through JSON: %s", cases[i].folder,
                cases[i].name, (long long)k, err.message);
      free(text);
      cf_json_file_free(again);
      /* IPC stream. */
      cf_bytes bytes = {0};
      cflight_ipc_writer *iw = NULL;
      rc = cflight_ipc_writer_open_callback(sink, &bytes, CFLIGHT_IPC_FORMAT_STREAM, schema, NULL,
                                            &iw, &err);
      if (rc == CFLIGHT_OK) rc = cflight_ipc_writer_write(iw, &b, &err);
      if (rc == CFLIGHT_OK) rc = cflight_ipc_writer_close(iw, &err);
      cflight_ipc_writer_free(iw);
      cflight_buffer *data = rc == CFLIGHT_OK ? cf_bytes_finish(&bytes) : NULL;
      cf_bytes_reset(&bytes);
      if (rc == CFLIGHT_OK) {
        cflight_ipc_options *opts = full_validation();
        struct ArrowArrayStream st;
        rc = cflight_ipc_stream_open_buffer(data, opts, &st, &err);
        if (rc == CFLIGHT_OK) {
          struct ArrowArray back;
          memset(&back, 0, sizeof(back));
          if (st.get_next(&st, &back) != 0 || back.release == NULL) {
            rc = cflight_error_set(&err, CFLIGHT_INVALID_DATA, "no batch: %s",
                                   st.get_last_error(&st) ? st.get_last_error(&st) : "end");
          } else {
            rc = cflight_array_equal(schema, &b, &back, &err);
            cf_array_release(&back);
          }
          st.release(&st);
        }
        cflight_ipc_options_free(opts);
      }
      CHECK_MSG(rc == CFLIGHT_OK, "%s/%s batch %lld sliced, through IPC: %s", cases[i].folder,
                cases[i].name, (long long)k, err.message);
      cflight_buffer_unref(data);
      cf_array_release(&b);
    }
  }
}

int main(void) {
  cases = gold_cases(&n_cases);
  CHECK_MSG(n_cases >= 37, "%zu gold cases found, expected 37 or more", n_cases);
  jsons = calloc(n_cases ? n_cases : 1, sizeof(*jsons));
  for (size_t i = 0; i < n_cases; i++) {
    cflight_error err = {0};
    CHECK_OK(cf_json_file_read(gold_path(&cases[i], ".json.gz"), &jsons[i], &err), &err);
  }
  RUN_TEST(test_gold_stream_decodes);
  RUN_TEST(test_gold_file_decodes);
  RUN_TEST(test_written_decodes);
  RUN_TEST(test_json_roundtrip);
  RUN_TEST(test_ipc_to_json);
  RUN_TEST(test_slices);
  for (size_t i = 0; i < n_cases; i++)
    cf_json_file_free(jsons[i]);
  free(jsons);
  free(cases);
  return cft_finish();
}
