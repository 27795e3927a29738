/* Gold files written by Arrow C++: every case's .stream and .arrow_file
 * decode to equal schemas and batches, pass full validation, and survive
 * re-encoding (stream and file; uncompressed, LZ4 and ZSTD). */
#include <dirent.h>
#include <stdlib.h>

#include "ipc/ipc.h"
#include "ipc_test_util.h"

#define MAX_BATCHES 64

static cflight_buffer *load(const char *path) {
  size_t size = 0;
  uint8_t *bytes = cft_read_file(path, &size);
  if (bytes == NULL) return NULL;
  /* An aligned copy, as a memory map would be. */
  cflight_buffer *b = cflight_buffer_copy(bytes, size);
  free(bytes);
  return b;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The dictionary ids the schema of a stream gives its fields. */
static int64_t stream_dict_ids(cflight_buffer *bytes, int64_t *ids, int64_t cap) {
  cflight_error err = {0};
  cflight_ipc_decoder *dec;
  if (cflight_ipc_decoder_new(NULL, &dec, &err) != CFLIGHT_OK) return -1;
  cf_frame fr;
  const uint8_t *p = cflight_buffer_data(bytes);
  int64_t n = -1;
  if (cf_frame_read(p, cflight_buffer_size(bytes), &fr, &err) == CFLIGHT_OK && !fr.eos) {
    cflight_ipc_message_type type;
    struct ArrowArray out;
    if (cflight_ipc_decoder_decode(dec, fr.meta, fr.meta_size, NULL, &type, &out, &err) ==
        CFLIGHT_OK)
      n = cflight_ipc_decoder_dictionary_ids(dec, ids, cap);
  }
  CHECK_MSG(n >= 0, "no schema: %s", err.message);
  cflight_ipc_decoder_free(dec);
  return n;
}

/* Re-encodes with the original dictionary ids: they, and the sharing of
 * one dictionary by several fields, survive. */
static void check_ids_kept(const char *name, cflight_buffer *original,
                           const struct ArrowSchema *schema, struct ArrowArray *batches, int n) {
  int64_t ids[64], again[64];
  int64_t n_ids = stream_dict_ids(original, ids, 64);
  if (n_ids <= 0) return;
  cflight_error err = {0};
  cflight_ipc_options *o = cflight_ipc_options_new();
  CHECK_OK(cflight_ipc_options_set_dictionary_ids(o, ids, n_ids, &err), &err);
  struct ArrowArray *ptrs[MAX_BATCHES];
  for (int i = 0; i < n; i++)
    ptrs[i] = &batches[i];
  cflight_buffer *bytes = tu_write(schema, ptrs, n, CFLIGHT_IPC_FORMAT_STREAM, o, &err);
  CHECK_MSG(bytes != NULL, "%s: write with ids: %s", name, err.message);
  if (bytes != NULL) {
    CHECK_EQ_INT(stream_dict_ids(bytes, again, 64), n_ids);
    for (int64_t i = 0; i < n_ids; i++)
      CHECK_EQ_INT(again[i], ids[i]);
    struct ArrowArray got[MAX_BATCHES];
    struct ArrowSchema got_schema;
    int m = tu_read(bytes, CFLIGHT_IPC_FORMAT_STREAM, NULL, &got_schema, got, MAX_BATCHES, &err);
    CHECK_MSG(m == n, "%s: read with ids: %s", name, err.message);
    for (int i = 0; i < m && i < n; i++)
      CHECK_OK(cflight_array_equal(schema, &batches[i], &got[i], &err), &err);
    if (m >= 0) {
      tu_release_all(got, m);
      cf_schema_release(&got_schema);
    }
    cflight_buffer_unref(bytes);
  }
  cflight_ipc_options_free(o);
}

static int64_t rows_seen;
static int batches_seen;

static void check_case(const char *dir, const char *name) {
  char path[8192];
  cflight_error err = {0};
  cflight_ipc_options *opts = cflight_ipc_options_new();
  cflight_ipc_options_set_validate_full(opts, true);

  snprintf(path, sizeof(path), "%s/%s.stream", dir, name);
  cflight_buffer *stream_bytes = load(path);
  snprintf(path, sizeof(path), "%s/%s.arrow_file", dir, name);
  cflight_buffer *file_bytes = load(path);
  CHECK_MSG(stream_bytes && file_bytes, "%s: cannot read the files", name);
  if (!stream_bytes || !file_bytes) goto out;

  struct ArrowArray s_batches[MAX_BATCHES], f_batches[MAX_BATCHES];
  struct ArrowSchema s_schema, f_schema;
  int ns = tu_read(stream_bytes, CFLIGHT_IPC_FORMAT_STREAM, opts, &s_schema, s_batches, MAX_BATCHES,
                   &err);
  CHECK_MSG(ns >= 0, "%s.stream: %s", name, err.message);
  int nf =
      tu_read(file_bytes, CFLIGHT_IPC_FORMAT_FILE, opts, &f_schema, f_batches, MAX_BATCHES, &err);
  CHECK_MSG(nf >= 0, "%s.arrow_file: %s", name, err.message);
  if (ns >= 0 && nf >= 0) {
    cflight_error why = {0};
    CHECK_MSG(ns == nf, "%s: %d stream batches, %d file batches", name, ns, nf);
    /* Arrow C++'s stream writer gives map entries their canonical names
     * ("entries", "key", "value") while its file keeps the originals;
     * cf_schema_equal does not count those names, as Arrow does not. */
    CHECK_MSG(cf_schema_equal(&s_schema, &f_schema, &why) == CFLIGHT_OK,
              "%s: stream and file schemas differ: %s", name, why.message);
    for (int i = 0; i < ns && i < nf; i++) {
      rows_seen += s_batches[i].length;
      batches_seen++;
      int rc = cflight_array_equal(&s_schema, &s_batches[i], &f_batches[i], &err);
      CHECK_MSG(rc == CFLIGHT_OK, "%s: batch %d: stream != file: %s", name, i, err.message);
      rc = cflight_array_validate(&s_schema, &s_batches[i], true, &err);
      CHECK_MSG(rc == CFLIGHT_OK, "%s: batch %d: %s", name, i, err.message);
    }
    /* Random access to the file's batches, last first. */
    cflight_ipc_file_reader *r = NULL;
    CHECK_OK(cflight_ipc_file_reader_open_buffer(file_bytes, opts, &r, &err), &err);
    if (r != NULL) {
      CHECK_EQ_INT(cflight_ipc_file_reader_num_batches(r), nf);
      for (int64_t i = cflight_ipc_file_reader_num_batches(r) - 1; i >= 0; i--) {
        struct ArrowArray a;
        CHECK_OK(cflight_ipc_file_reader_read(r, i, &a, &err), &err);
        if (a.release != NULL && i < ns) {
          CHECK_OK(cflight_array_equal(&s_schema, &s_batches[i], &a, &err), &err);
        }
        cf_array_release(&a);
      }
      cflight_ipc_file_reader_free(r);
    }
    /* Re-encode the stream's batches in every configuration. */
    struct ArrowArray *ptrs[MAX_BATCHES];
    for (int i = 0; i < ns; i++)
      ptrs[i] = &s_batches[i];
    tu_roundtrip(name, &s_schema, ptrs, ns);
    check_ids_kept(name, stream_bytes, &s_schema, s_batches, ns);
  }
  if (ns >= 0) {
    tu_release_all(s_batches, ns);
    cf_schema_release(&s_schema);
  }
  if (nf >= 0) {
    tu_release_all(f_batches, nf);
    cf_schema_release(&f_schema);
  }
out:
  cflight_buffer_unref(stream_bytes);
  cflight_buffer_unref(file_bytes);
  cflight_ipc_options_free(opts);
}

static void check_folder(const char *rel) {
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s", cft_data_path(rel));
  DIR *d = opendir(dir);
  CHECK_MSG(d != NULL, "cannot open %s", dir);
  if (d == NULL) return;
  char *names[256];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < 256) {
    size_t len = strlen(e->d_name);
    if (len > 7 && strcmp(e->d_name + len - 7, ".stream") == 0)
      names[n++] = cf_strndup(e->d_name, len - 7);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof(char *), cmp_names);
  CHECK_MSG(n > 0, "no .stream files in %s", dir);
  for (int i = 0; i < n; i++) {
    int before = cft_failures;
    rows_seen = 0;
    batches_seen = 0;
    check_case(dir, names[i]);
    fprintf(stderr, "  %s %s (%d batches, %lld rows)\n", cft_failures == before ? "ok  " : "FAIL",
            names[i], batches_seen, (long long)rows_seen);
    free(names[i]);
  }
}

static void test_gold_cpp_21(void) {
  check_folder("arrow-ipc-stream/integration/cpp-21.0.0");
}

static void test_gold_compression(void) {
  check_folder("arrow-ipc-stream/integration/2.0.0-compression");
}

static void test_gold_shared_dict(void) {
  check_folder("arrow-ipc-stream/integration/4.0.0-shareddict");
}

int main(void) {
  RUN_TEST(test_gold_cpp_21);
  RUN_TEST(test_gold_compression);
  RUN_TEST(test_gold_shared_dict);
  return cft_finish();
}
