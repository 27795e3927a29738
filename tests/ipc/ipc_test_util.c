/* IPC test helpers: array and schema builders, in-memory IPC, round trips. */
#include "ipc_test_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ipc/ipc.h"

static void *must(void *p) {
  if (p == NULL) {
    fprintf(stderr, "test: out of memory\n");
    abort();
  }
  return p;
}

static void must_ok(int rc, cflight_error *err) {
  if (rc != CFLIGHT_OK) {
    fprintf(stderr, "test: builder failed: %s\n", err->message);
    abort();
  }
}

static uint64_t next_rand(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static bool is_null(int64_t i, int null_every) {
  return null_every > 0 && i % null_every == null_every - 1;
}

/* ---- Schemas ------------------------------------------------------------------ */

static struct ArrowSchema *field_v(const char *format, const char *name, bool nullable,
                                   va_list ap) {
  struct ArrowSchema *kids[64];
  int n = 0;
  struct ArrowSchema *k;
  while ((k = va_arg(ap, struct ArrowSchema *)) != NULL)
    kids[n++] = k;
  cflight_error err = {0};
  struct ArrowSchema *s = must(calloc(1, sizeof(*s)));
  must_ok(cf_schema_init(s, format, name, n, &err), &err);
  if (!nullable) s->flags &= ~ARROW_FLAG_NULLABLE;
  for (int i = 0; i < n; i++) {
    cf_schema_move(kids[i], s->children[i]);
    free(kids[i]);
  }
  return s;
}

struct ArrowSchema *tu_field(const char *format, const char *name, ...) {
  va_list ap;
  va_start(ap, name);
  struct ArrowSchema *s = field_v(format, name, true, ap);
  va_end(ap);
  return s;
}

struct ArrowSchema *tu_field_nn(const char *format, const char *name, ...) {
  va_list ap;
  va_start(ap, name);
  struct ArrowSchema *s = field_v(format, name, false, ap);
  va_end(ap);
  return s;
}

struct ArrowSchema *tu_dict_field(const char *index_format, const char *name,
                                  struct ArrowSchema *value, bool ordered) {
  struct ArrowSchema *s = tu_field(index_format, name, NULL);
  cflight_error err = {0};
  struct ArrowSchema *d = must(cf_schema_alloc_dictionary(s, &err));
  cf_schema_move(value, d);
  free(value);
  if (ordered) s->flags |= ARROW_FLAG_DICTIONARY_ORDERED;
  return s;
}

void tu_set_metadata(struct ArrowSchema *s, const char *k1, const char *v1, const char *k2,
                     const char *v2) {
  cf_kv kv[2] = {{k1, (int32_t)strlen(k1), v1, (int32_t)strlen(v1)}, {0}};
  int n = 1;
  if (k2 != NULL) {
    kv[1] = (cf_kv){k2, (int32_t)strlen(k2), v2, (int32_t)strlen(v2)};
    n = 2;
  }
  char *blob;
  cflight_error err = {0};
  must_ok(cf_metadata_build(kv, n, &blob, &err), &err);
  must_ok(cf_schema_set_metadata(s, blob, &err), &err);
  free(blob);
}

void tu_schema_free(struct ArrowSchema *s) {
  if (s == NULL) return;
  cf_schema_release(s);
  free(s);
}

/* ---- Arrays ---------------------------------------------------------------------- */

static struct ArrowArray *new_array(int64_t n_buffers, int64_t n_children) {
  cflight_error err = {0};
  struct ArrowArray *a = must(calloc(1, sizeof(*a)));
  must_ok(cf_array_init(a, n_buffers, n_children, &err), &err);
  return a;
}

static void *alloc_buffer(struct ArrowArray *a, int64_t i, size_t size) {
  cflight_error err = {0};
  return must(cf_array_alloc_buffer(a, i, size, &err));
}

/* Validity for n slots; sets null_count. */
static void set_validity(struct ArrowArray *a, int64_t n, int null_every) {
  int64_t nulls = 0;
  if (null_every <= 0) {
    a->null_count = 0;
    return;
  }
  uint8_t *bits = alloc_buffer(a, 0, (size_t)(n / 8 + 1));
  for (int64_t i = 0; i < n; i++) {
    if (is_null(i, null_every))
      nulls++;
    else
      bits[i / 8] |= (uint8_t)(1 << (i % 8));
  }
  a->null_count = nulls;
}

static void move_child(struct ArrowArray *parent, int64_t i, struct ArrowArray *child) {
  cf_array_move(child, parent->children[i]);
  free(child);
}

struct ArrowArray *tu_heap(struct ArrowArray *src) {
  struct ArrowArray *a = must(calloc(1, sizeof(*a)));
  cf_array_move(src, a);
  return a;
}

void tu_array_free(struct ArrowArray *a) {
  if (a == NULL) return;
  cf_array_release(a);
  free(a);
}

struct ArrowArray *tu_null(int64_t n) {
  struct ArrowArray *a = new_array(0, 0);
  a->length = n;
  a->null_count = n;
  return a;
}

struct ArrowArray *tu_prim(int64_t n, int width, uint64_t seed, int null_every) {
  struct ArrowArray *a = new_array(2, 0);
  a->length = n;
  set_validity(a, n, null_every);
  uint8_t *v = alloc_buffer(a, 1, (size_t)(n * width + 8));
  uint64_t s = seed * 2654435761u + 1;
  for (int64_t i = 0; i < n * width; i++)
    v[i] = (uint8_t)next_rand(&s);
  return a;
}

struct ArrowArray *tu_prim_values(int64_t n, int width, const void *values, int null_every) {
  struct ArrowArray *a = new_array(2, 0);
  a->length = n;
  set_validity(a, n, null_every);
  uint8_t *v = alloc_buffer(a, 1, (size_t)(n * width + 8));
  if (n > 0) memcpy(v, values, (size_t)(n * width));
  return a;
}

struct ArrowArray *tu_bool(int64_t n, uint64_t seed, int null_every) {
  struct ArrowArray *a = new_array(2, 0);
  a->length = n;
  set_validity(a, n, null_every);
  uint8_t *v = alloc_buffer(a, 1, (size_t)(n / 8 + 1));
  uint64_t s = seed * 2654435761u + 1;
  for (int64_t i = 0; i < n; i++)
    if (next_rand(&s) & 1) v[i / 8] |= (uint8_t)(1 << (i % 8));
  return a;
}

struct ArrowArray *tu_binary(int64_t n, bool large, uint64_t seed, int null_every) {
  struct ArrowArray *a = new_array(3, 0);
  a->length = n;
  set_validity(a, n, null_every);
  int w = large ? 8 : 4;
  uint8_t *offs = alloc_buffer(a, 1, (size_t)((n + 1) * w));
  uint64_t s = seed * 2654435761u + 1;
  int64_t total = 0;
  for (int64_t i = 0; i < n; i++)
    total += is_null(i, null_every) ? 0 : (int64_t)(next_rand(&s) % 20);
  uint8_t *data = alloc_buffer(a, 2, (size_t)total + 1);
  s = seed * 2654435761u + 1;
  int64_t pos = 0;
  for (int64_t i = 0; i < n; i++) {
    if (large)
      ((int64_t *)offs)[i] = pos;
    else
      ((int32_t *)offs)[i] = (int32_t)pos;
    int64_t len = is_null(i, null_every) ? 0 : (int64_t)(next_rand(&s) % 20);
    for (int64_t j = 0; j < len; j++)
      data[pos + j] = (uint8_t)('a' + (i + j) % 26);
    pos += len;
  }
  if (large)
    ((int64_t *)offs)[n] = pos;
  else
    ((int32_t *)offs)[n] = (int32_t)pos;
  return a;
}

struct ArrowArray *tu_strings(int64_t n, const char *const *values, int null_every) {
  struct ArrowArray *a = new_array(3, 0);
  a->length = n;
  set_validity(a, n, null_every);
  int32_t *offs = alloc_buffer(a, 1, (size_t)((n + 1) * 4));
  size_t total = 0;
  for (int64_t i = 0; i < n; i++)
    total += strlen(values[i]);
  char *data = alloc_buffer(a, 2, total + 1);
  int32_t pos = 0;
  for (int64_t i = 0; i < n; i++) {
    offs[i] = pos;
    memcpy(data + pos, values[i], strlen(values[i]));
    pos += (int32_t)strlen(values[i]);
  }
  offs[n] = pos;
  return a;
}

struct ArrowArray *tu_view(int64_t n, uint64_t seed, int null_every) {
  /* Two data buffers; values longer than 12 bytes live in buffer i % 2. */
  struct ArrowArray *a = new_array(5, 0);
  a->length = n;
  set_validity(a, n, null_every);
  uint8_t *views = alloc_buffer(a, 1, (size_t)(n * 16 + 16));
  uint8_t *bufs[2];
  int32_t used[2] = {0, 0};
  bufs[0] = alloc_buffer(a, 2, (size_t)(n * 30 + 1));
  bufs[1] = alloc_buffer(a, 3, (size_t)(n * 30 + 1));
  int64_t *sizes = alloc_buffer(a, 4, 16);
  uint64_t s = seed * 2654435761u + 1;
  for (int64_t i = 0; i < n; i++) {
    int32_t len = is_null(i, null_every) ? 0 : (int32_t)(next_rand(&s) % 30);
    uint8_t *v = views + i * 16;
    char tmp[32];
    for (int32_t j = 0; j < len; j++)
      tmp[j] = (char)('A' + (i * 7 + j) % 26);
    memcpy(v, &len, 4);
    if (len <= 12) {
      memcpy(v + 4, tmp, (size_t)len);
    } else {
      int32_t b = (int32_t)(i % 2);
      memcpy(v + 4, tmp, 4);
      memcpy(v + 8, &b, 4);
      memcpy(v + 12, &used[b], 4);
      memcpy(bufs[b] + used[b], tmp, (size_t)len);
      used[b] += len;
    }
  }
  sizes[0] = used[0];
  sizes[1] = used[1];
  return a;
}

int64_t tu_list_child_len(int64_t n) {
  int64_t total = 0;
  for (int64_t i = 0; i < n; i++)
    total += i % 4;
  return total;
}

struct ArrowArray *tu_list(int64_t n, int width, struct ArrowArray *child, int null_every) {
  struct ArrowArray *a = new_array(2, 1);
  a->length = n;
  set_validity(a, n, null_every);
  uint8_t *offs = alloc_buffer(a, 1, (size_t)((n + 1) * width));
  int64_t pos = 0;
  for (int64_t i = 0; i <= n; i++) {
    if (width == 4)
      ((int32_t *)offs)[i] = (int32_t)pos;
    else
      ((int64_t *)offs)[i] = pos;
    pos += i % 4;
  }
  move_child(a, 0, child);
  return a;
}

struct ArrowArray *tu_list_view(int64_t n, int width, struct ArrowArray *child, int null_every) {
  struct ArrowArray *a = new_array(3, 1);
  a->length = n;
  set_validity(a, n, null_every);
  uint8_t *offs = alloc_buffer(a, 1, (size_t)(n * width + 8));
  uint8_t *sizes = alloc_buffer(a, 2, (size_t)(n * width + 8));
  int64_t clen = child->length;
  for (int64_t i = 0; i < n; i++) {
    /* Out of order and overlapping, as list views allow. */
    int64_t size = clen > 0 ? i % 3 : 0;
    if (size > clen) size = clen;
    int64_t off = clen > 0 ? (i * 7) % (clen - size + 1) : 0;
    if (width == 4) {
      ((int32_t *)offs)[i] = (int32_t)off;
      ((int32_t *)sizes)[i] = (int32_t)size;
    } else {
      ((int64_t *)offs)[i] = off;
      ((int64_t *)sizes)[i] = size;
    }
  }
  move_child(a, 0, child);
  return a;
}

struct ArrowArray *tu_fsl(int64_t n, int32_t size, struct ArrowArray *child, int null_every) {
  struct ArrowArray *a = new_array(1, 1);
  a->length = n;
  set_validity(a, n, null_every);
  move_child(a, 0, child);
  (void)size;
  return a;
}

struct ArrowArray *tu_struct(int64_t n, int null_every, ...) {
  struct ArrowArray *kids[64];
  int nk = 0;
  va_list ap;
  va_start(ap, null_every);
  struct ArrowArray *k;
  while ((k = va_arg(ap, struct ArrowArray *)) != NULL)
    kids[nk++] = k;
  va_end(ap);
  struct ArrowArray *a = new_array(1, nk);
  a->length = n;
  set_validity(a, n, null_every);
  for (int i = 0; i < nk; i++)
    move_child(a, i, kids[i]);
  return a;
}

struct ArrowArray *tu_union(int64_t n, bool dense, const int8_t *codes, int n_codes, ...) {
  struct ArrowArray *kids[64];
  va_list ap;
  va_start(ap, n_codes);
  for (int i = 0; i < n_codes; i++)
    kids[i] = va_arg(ap, struct ArrowArray *);
  va_end(ap);
  struct ArrowArray *a = new_array(dense ? 2 : 1, n_codes);
  a->length = n;
  a->null_count = 0;
  int8_t *types = alloc_buffer(a, 0, (size_t)n + 1);
  int32_t *offs = dense ? alloc_buffer(a, 1, (size_t)(n * 4 + 4)) : NULL;
  int64_t used[64] = {0};
  for (int64_t i = 0; i < n; i++) {
    int k = (int)((i * 5 + i / 3) % n_codes);
    if (dense && used[k] >= kids[k]->length) k = 0;
    types[i] = codes[k];
    if (dense) offs[i] = (int32_t)(used[k]++ % (kids[k]->length > 0 ? kids[k]->length : 1));
  }
  for (int i = 0; i < n_codes; i++)
    move_child(a, i, kids[i]);
  return a;
}

int64_t tu_ree_runs(int64_t n) {
  int64_t runs = 0, pos = 0;
  while (pos < n) {
    pos += 1 + runs % 3;
    runs++;
  }
  return runs;
}

struct ArrowArray *tu_ree(int64_t n, int width, struct ArrowArray *values) {
  int64_t runs = tu_ree_runs(n);
  struct ArrowArray *a = new_array(0, 2);
  a->length = n;
  a->null_count = 0;
  struct ArrowArray *re = new_array(2, 0);
  re->length = runs;
  re->null_count = 0;
  uint8_t *p = alloc_buffer(re, 1, (size_t)(runs * width + 8));
  int64_t pos = 0;
  for (int64_t j = 0; j < runs; j++) {
    pos += 1 + j % 3;
    int64_t v = pos < n ? pos : n;
    if (width == 2)
      ((int16_t *)p)[j] = (int16_t)v;
    else if (width == 4)
      ((int32_t *)p)[j] = (int32_t)v;
    else
      ((int64_t *)p)[j] = v;
  }
  move_child(a, 0, re);
  move_child(a, 1, values);
  return a;
}

struct ArrowArray *tu_dict(int64_t n, int width, struct ArrowArray *dict, uint64_t seed,
                           int null_every) {
  struct ArrowArray *a = new_array(2, 0);
  a->length = n;
  set_validity(a, n, null_every);
  uint8_t *p = alloc_buffer(a, 1, (size_t)(n * width + 8));
  uint64_t s = seed * 2654435761u + 1;
  int64_t dl = dict->length > 0 ? dict->length : 1;
  for (int64_t i = 0; i < n; i++) {
    int64_t v = (int64_t)(next_rand(&s) % (uint64_t)dl);
    memcpy(p + i * width, &v, (size_t)width); /* little-endian */
  }
  cflight_error err = {0};
  struct ArrowArray *d = must(cf_array_alloc_dictionary(a, &err));
  cf_array_move(dict, d);
  free(dict);
  return a;
}

void tu_release_all(struct ArrowArray *a, int n) {
  for (int i = 0; i < n; i++)
    cf_array_release(&a[i]);
}

/* ---- IPC in memory ------------------------------------------------------------------ */

static int append_sink(void *ctx, const cflight_ipc_piece *pieces, size_t n, cflight_error *err) {
  cf_bytes *b = ctx;
  for (size_t i = 0; i < n; i++)
    CF_RETURN_NOT_OK(cf_bytes_append(b, pieces[i].data, pieces[i].size, err));
  return CFLIGHT_OK;
}

cflight_buffer *tu_write(const struct ArrowSchema *schema, struct ArrowArray *const *batches, int n,
                         cflight_ipc_format format, const cflight_ipc_options *opts,
                         cflight_error *err) {
  cf_bytes bytes = {0};
  cflight_ipc_writer *w = NULL;
  int rc = cflight_ipc_writer_open_callback(append_sink, &bytes, format, schema, opts, &w, err);
  for (int i = 0; i < n && rc == CFLIGHT_OK; i++)
    rc = cflight_ipc_writer_write(w, batches[i], err);
  if (rc == CFLIGHT_OK) rc = cflight_ipc_writer_close(w, err);
  cflight_ipc_writer_free(w);
  if (rc != CFLIGHT_OK) {
    cf_bytes_reset(&bytes);
    return NULL;
  }
  /* Copy into an aligned buffer, as a reader would see a file or a socket buffer. */
  cflight_buffer *out = cflight_buffer_copy(bytes.data, bytes.len);
  cf_bytes_reset(&bytes);
  return out;
}

int tu_read(cflight_buffer *data, cflight_ipc_format format, const cflight_ipc_options *opts,
            struct ArrowSchema *schema, struct ArrowArray *out, int max, cflight_error *err) {
  struct ArrowArrayStream st;
  int rc;
  memset(schema, 0, sizeof(*schema));
  if (format == CFLIGHT_IPC_FORMAT_FILE) {
    cflight_ipc_file_reader *r;
    rc = cflight_ipc_file_reader_open_buffer(data, opts, &r, err);
    if (rc != CFLIGHT_OK) return -1;
    rc = cflight_ipc_file_reader_to_stream(r, &st, err);
  } else {
    rc = cflight_ipc_stream_open_buffer(data, opts, &st, err);
  }
  if (rc != CFLIGHT_OK) return -1;
  int n = 0;
  if (st.get_schema(&st, schema) != 0) {
    cflight_error_set(err, CFLIGHT_INVALID_DATA, "get_schema: %s", st.get_last_error(&st));
    st.release(&st);
    return -1;
  }
  for (;;) {
    struct ArrowArray a;
    if (st.get_next(&st, &a) != 0) {
      cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s", st.get_last_error(&st));
      tu_release_all(out, n);
      cf_schema_release(schema);
      st.release(&st);
      return -1;
    }
    if (a.release == NULL) break;
    if (n < max)
      cf_array_move(&a, &out[n++]);
    else
      cf_array_release(&a);
  }
  st.release(&st);
  return n;
}

static void roundtrip(const char *what, const struct ArrowSchema *schema,
                      struct ArrowArray *const *batches, int n, int n_formats) {
  static const struct {
    cflight_compression codec;
    bool legacy;
  } configs[] = {{CFLIGHT_COMPRESSION_NONE, false},
                 {CFLIGHT_COMPRESSION_LZ4_FRAME, false},
                 {CFLIGHT_COMPRESSION_ZSTD, false},
                 {CFLIGHT_COMPRESSION_NONE, true}};
  for (size_t c = 0; c < CF_ARRAY_SIZE(configs); c++) {
    for (int format = 0; format < n_formats; format++) {
      cflight_error err = {0};
      cflight_ipc_options *wo = cflight_ipc_options_new();
      cflight_ipc_options *ro = cflight_ipc_options_new();
      cflight_ipc_options_set_compression(wo, configs[c].codec, 0, &err);
      cflight_ipc_options_set_legacy_framing(wo, configs[c].legacy);
      cflight_ipc_options_set_validate_full(ro, true);
      cflight_buffer *data = tu_write(schema, batches, n, (cflight_ipc_format)format, wo, &err);
      CHECK_MSG(data != NULL, "%s: write (format %d, codec %d, legacy %d): %s", what, format,
                (int)configs[c].codec, configs[c].legacy, err.message);
      struct ArrowArray got[16];
      struct ArrowSchema got_schema;
      int m = data ? tu_read(data, (cflight_ipc_format)format, ro, &got_schema, got, 16, &err) : -1;
      CHECK_MSG(m == n, "%s: read (format %d, codec %d, legacy %d): %d batches of %d: %s", what,
                format, (int)configs[c].codec, configs[c].legacy, m, n, err.message);
      if (m >= 0) {
        cflight_error why = {0};
        CHECK_MSG(cf_schema_equal(schema, &got_schema, &why) == CFLIGHT_OK,
                  "%s: schema differs: %s", what, why.message);
        for (int i = 0; i < m && i < n; i++) {
          int rc = cflight_array_equal(schema, batches[i], &got[i], &err);
          CHECK_MSG(rc == CFLIGHT_OK, "%s: batch %d (format %d, codec %d, legacy %d): %s", what, i,
                    format, (int)configs[c].codec, configs[c].legacy, err.message);
        }
        tu_release_all(got, m);
        cf_schema_release(&got_schema);
      }
      cflight_buffer_unref(data);
      cflight_ipc_options_free(wo);
      cflight_ipc_options_free(ro);
    }
  }
}

void tu_roundtrip(const char *what, const struct ArrowSchema *schema,
                  struct ArrowArray *const *batches, int n) {
  roundtrip(what, schema, batches, n, 2);
}

void tu_roundtrip_stream(const char *what, const struct ArrowSchema *schema,
                         struct ArrowArray *const *batches, int n) {
  roundtrip(what, schema, batches, n, 1);
}
