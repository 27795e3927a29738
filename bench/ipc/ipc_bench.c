/* cflight-ipc-bench: throughput of the Arrow IPC codec on large batches of
 * int64 and utf8 columns: encoding to payloads, decoding messages, and
 * writing then reading a whole stream in memory. Then the decode time of a
 * single batch as its row count grows 1M -> 100M with the same columns,
 * which stays flat because decoding points into the bytes instead of
 * copying them.
 *
 *   cflight-ipc-bench [--size-mb N] [--int-cols N] [--str-cols N]
 *                     [--batch-rows N] [--codec none|lz4|zstd]
 *                     [--max-rows N] [--runs N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/arrow.h"
#include "base/base.h"

static int64_t size_mb = 1024;
static int int_cols = 2, str_cols = 2;
static int64_t batch_rows = 1 << 20;
static int64_t max_rows = 100000000;
static int runs = 3;
static cflight_compression codec = CFLIGHT_COMPRESSION_NONE;

static void die(const char *what, const cflight_error *err) {
  fprintf(stderr, "cflight-ipc-bench: %s: %s\n", what, err != NULL ? err->message : "failed");
  exit(1);
}

static double seconds(int64_t ns) {
  return (double)ns / 1e9;
}

/* ---- Data ------------------------------------------------------------------------ */

static void build_schema(struct ArrowSchema *s, int ni, int ns) {
  cflight_error err = {0};
  if (cf_schema_init(s, "+s", "", ni + ns, &err) != CFLIGHT_OK) die("schema", &err);
  s->flags = 0;
  for (int i = 0; i < ni + ns; i++) {
    char name[32];
    snprintf(name, sizeof(name), i < ni ? "i%d" : "s%d", i);
    if (cf_schema_init(s->children[i], i < ni ? "l" : "u", name, 0, &err) != CFLIGHT_OK)
      die("schema", &err);
  }
}

/* A batch of rows: int64 columns, and utf8 columns of strings of 0..max_len
 * bytes (max_len 31 averages 15.5). Returns the bytes its buffers hold. */
static int64_t build_batch(struct ArrowArray *b, int ni, int ns, int64_t rows, int max_len) {
  cflight_error err = {0};
  int64_t bytes = 0;
  if (cf_array_init(b, 1, ni + ns, &err) != CFLIGHT_OK) die("batch", &err);
  b->length = rows;
  uint64_t seed = 88172645463325252ull;
  for (int c = 0; c < ni + ns; c++) {
    struct ArrowArray *a = b->children[c];
    if (c < ni) {
      if (cf_array_init(a, 2, 0, &err) != CFLIGHT_OK) die("column", &err);
      a->length = rows;
      int64_t *v = cf_array_alloc_buffer(a, 1, (size_t)rows * 8, &err);
      if (v == NULL) die("column", &err);
      for (int64_t i = 0; i < rows; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        v[i] = (int64_t)(seed >> 20);
      }
      bytes += rows * 8;
    } else {
      if (cf_array_init(a, 3, 0, &err) != CFLIGHT_OK) die("column", &err);
      a->length = rows;
      int32_t *offs = cf_array_alloc_buffer(a, 1, (size_t)(rows + 1) * 4, &err);
      if (offs == NULL) die("column", &err);
      int64_t total = 0;
      for (int64_t i = 0; i < rows; i++) {
        offs[i] = (int32_t)total;
        total +=
            max_len == 0 ? 0 : (int64_t)((uint64_t)(i * 2654435761u) % (uint64_t)(max_len + 1));
      }
      if (total > INT32_MAX) {
        fprintf(stderr, "cflight-ipc-bench: too many rows for utf8 offsets\n");
        exit(1);
      }
      offs[rows] = (int32_t)total;
      char *data = cf_array_alloc_buffer(a, 2, (size_t)total + 1, &err);
      if (data == NULL) die("column", &err);
      for (int64_t i = 0; i < total; i++)
        data[i] = (char)('a' + i % 26);
      bytes += (rows + 1) * 4 + total;
    }
  }
  return bytes;
}

/* ---- Encoding / decoding helpers ---------------------------------------------------- */

/* One encoded record batch as contiguous bytes: metadata and body. */
typedef struct message {
  uint8_t *meta;
  size_t meta_size;
  cflight_buffer *body;
} message;

static void encode_one(const struct ArrowSchema *schema, const struct ArrowArray *batch,
                       const cflight_ipc_options *opts, message *schema_msg, message *out) {
  cflight_error err = {0};
  cflight_ipc_encoder *enc;
  cflight_ipc_payload *p;
  if (cflight_ipc_encoder_new(schema, opts, &enc, &err) != CFLIGHT_OK) die("encoder", &err);
  if (cflight_ipc_encoder_schema(enc, &p, &err) != CFLIGHT_OK) die("schema", &err);
  cflight_ipc_piece m = cflight_ipc_payload_metadata(p);
  schema_msg->meta = malloc(m.size);
  memcpy(schema_msg->meta, m.data, m.size);
  schema_msg->meta_size = m.size;
  schema_msg->body = NULL;
  cflight_ipc_payload_free(p);
  if (cflight_ipc_encoder_write_batch(enc, batch, &err) != CFLIGHT_OK) die("encode", &err);
  p = cflight_ipc_encoder_next(enc);
  m = cflight_ipc_payload_metadata(p);
  out->meta = malloc(m.size);
  memcpy(out->meta, m.data, m.size);
  out->meta_size = m.size;
  const cflight_ipc_piece *pieces;
  size_t n = cflight_ipc_payload_body(p, &pieces);
  out->body = cflight_buffer_new((size_t)cflight_ipc_payload_body_length(p));
  if (out->body == NULL) die("body", NULL);
  uint8_t *dst = cflight_buffer_mutable_data(out->body);
  for (size_t i = 0; i < n; i++) {
    memcpy(dst, pieces[i].data, pieces[i].size);
    dst += pieces[i].size;
  }
  cflight_ipc_payload_free(p);
  cflight_ipc_encoder_free(enc);
}

static void message_free(message *m) {
  free(m->meta);
  cflight_buffer_unref(m->body);
}

static cflight_ipc_decoder *decoder_with_schema(const message *schema_msg,
                                                const cflight_ipc_options *opts) {
  cflight_error err = {0};
  cflight_ipc_decoder *dec;
  cflight_ipc_message_type type;
  struct ArrowArray out;
  if (cflight_ipc_decoder_new(opts, &dec, &err) != CFLIGHT_OK) die("decoder", &err);
  if (cflight_ipc_decoder_decode(dec, schema_msg->meta, schema_msg->meta_size, NULL, &type, &out,
                                 &err) != CFLIGHT_OK)
    die("decode schema", &err);
  return dec;
}

/* Best of `runs`: ns to decode `msg` n times. */
static int64_t time_decode(const message *schema_msg, const message *msg, int64_t n) {
  int64_t best = INT64_MAX;
  cflight_ipc_decoder *dec = decoder_with_schema(schema_msg, NULL);
  for (int r = 0; r < runs; r++) {
    cflight_error err = {0};
    int64_t t0 = cf_now_ns();
    for (int64_t i = 0; i < n; i++) {
      cflight_ipc_message_type type;
      struct ArrowArray out;
      if (cflight_ipc_decoder_decode(dec, msg->meta, msg->meta_size, msg->body, &type, &out,
                                     &err) != CFLIGHT_OK)
        die("decode", &err);
      out.release(&out);
    }
    int64_t t = cf_now_ns() - t0;
    if (t < best) best = t;
  }
  cflight_ipc_decoder_free(dec);
  return best;
}

/* ---- Stream in memory --------------------------------------------------------------- */

typedef struct mem_sink {
  uint8_t *data;
  size_t len, cap;
} mem_sink;

static int sink_write(void *ctx, const cflight_ipc_piece *pieces, size_t n, cflight_error *err) {
  mem_sink *s = ctx;
  for (size_t i = 0; i < n; i++) {
    if (s->len + pieces[i].size > s->cap)
      return cflight_error_set(err, CFLIGHT_NO_MEMORY, "benchmark sink is full");
    memcpy(s->data + s->len, pieces[i].data, pieces[i].size);
    s->len += pieces[i].size;
  }
  return CFLIGHT_OK;
}

static int64_t n_batches;

static void print_row(const char *phase, double bytes, int64_t ns) {
  printf("  %-32s %8.2f GB %10.4f s %12.2f us %12.2f GB/s\n", phase, bytes / 1e9, seconds(ns),
         (double)ns / 1e3 / (double)n_batches, bytes / 1e9 / seconds(ns));
}

static void usage(void) {
  fprintf(stderr,
          "usage: cflight-ipc-bench [--size-mb N] [--int-cols N] [--str-cols N] [--batch-rows N]\n"
          "                         [--codec none|lz4|zstd] [--max-rows N] [--runs N]\n");
  exit(2);
}

int main(int argc, char **argv) {
  /* Options come in pairs: --name value. */
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (v == NULL) usage();
    if (strcmp(a, "--size-mb") == 0)
      size_mb = atoll(v);
    else if (strcmp(a, "--int-cols") == 0)
      int_cols = atoi(v);
    else if (strcmp(a, "--str-cols") == 0)
      str_cols = atoi(v);
    else if (strcmp(a, "--batch-rows") == 0)
      batch_rows = atoll(v);
    else if (strcmp(a, "--max-rows") == 0)
      max_rows = atoll(v);
    else if (strcmp(a, "--runs") == 0)
      runs = atoi(v);
    else if (strcmp(a, "--codec") == 0)
      codec = strcmp(v, "lz4") == 0    ? CFLIGHT_COMPRESSION_LZ4_FRAME
              : strcmp(v, "zstd") == 0 ? CFLIGHT_COMPRESSION_ZSTD
                                       : CFLIGHT_COMPRESSION_NONE;
    else
      usage();
  }
  if (size_mb <= 0 || int_cols < 0 || str_cols < 0 || int_cols + str_cols == 0 || batch_rows <= 0 ||
      runs <= 0)
    usage();

  cflight_error err = {0};
  cflight_ipc_options *opts = cflight_ipc_options_new();
  if (cflight_ipc_options_set_compression(opts, codec, 0, &err) != CFLIGHT_OK) die("options", &err);
  struct ArrowSchema schema;
  struct ArrowArray batch;
  build_schema(&schema, int_cols, str_cols);
  int64_t batch_bytes = build_batch(&batch, int_cols, str_cols, batch_rows, 31);
  n_batches = ((size_mb << 20) + batch_bytes - 1) / batch_bytes;
  double total = (double)batch_bytes * (double)n_batches;
  const char *codec_name = codec == CFLIGHT_COMPRESSION_LZ4_FRAME ? "lz4"
                           : codec == CFLIGHT_COMPRESSION_ZSTD    ? "zstd"
                                                                  : "none";
  printf(
      "cflight-ipc-bench: %d int64 + %d utf8 columns, %lld rows per batch (%.1f MB), "
      "%lld batches (%.2f GB), compression %s, best of %d runs\n\n",
      int_cols, str_cols, (long long)batch_rows, (double)batch_bytes / 1e6, (long long)n_batches,
      total / 1e9, codec_name, runs);
  printf("  %-32s %11s %12s %15s %17s\n", "phase", "data", "time", "per batch", "throughput");

  /* Encode: batches to payloads (the body pieces point at the columns). */
  int64_t best = INT64_MAX;
  cflight_ipc_encoder *enc;
  if (cflight_ipc_encoder_new(&schema, opts, &enc, &err) != CFLIGHT_OK) die("encoder", &err);
  for (int r = 0; r < runs; r++) {
    int64_t t0 = cf_now_ns();
    for (int64_t i = 0; i < n_batches; i++) {
      if (cflight_ipc_encoder_write_batch(enc, &batch, &err) != CFLIGHT_OK) die("encode", &err);
      cflight_ipc_payload *p;
      while ((p = cflight_ipc_encoder_next(enc)) != NULL)
        cflight_ipc_payload_free(p);
    }
    int64_t t = cf_now_ns() - t0;
    if (t < best) best = t;
  }
  cflight_ipc_encoder_free(enc);
  print_row("encode (batch -> payload)", total, best);

  /* Decode: the same message n times (buffers point into its body). */
  message schema_msg, msg;
  encode_one(&schema, &batch, opts, &schema_msg, &msg);
  print_row("decode (message -> batch)", total, time_decode(&schema_msg, &msg, n_batches));

  /* A whole stream written to memory, then read back. */
  mem_sink sink = {0};
  sink.cap = (size_t)(total * 1.1) + (64u << 20);
  sink.data = malloc(sink.cap);
  if (sink.data == NULL) die("stream buffer", NULL);
  /* Fault the pages in before timing (non-zero: malloc + memset(0) may
   * become calloc, which leaves them unmapped). */
  memset(sink.data, 0xA5, sink.cap);
  int64_t best_w = INT64_MAX, best_r = INT64_MAX;
  for (int r = 0; r < runs; r++) {
    sink.len = 0;
    int64_t t0 = cf_now_ns();
    cflight_ipc_writer *w;
    if (cflight_ipc_writer_open_callback(sink_write, &sink, CFLIGHT_IPC_FORMAT_STREAM, &schema,
                                         opts, &w, &err) != CFLIGHT_OK)
      die("writer", &err);
    for (int64_t i = 0; i < n_batches; i++)
      if (cflight_ipc_writer_write(w, &batch, &err) != CFLIGHT_OK) die("write", &err);
    if (cflight_ipc_writer_close(w, &err) != CFLIGHT_OK) die("close", &err);
    cflight_ipc_writer_free(w);
    int64_t t1 = cf_now_ns();
    cflight_buffer *bytes = cflight_buffer_wrap(sink.data, sink.len, NULL, NULL);
    struct ArrowArrayStream st;
    if (cflight_ipc_stream_open_buffer(bytes, NULL, &st, &err) != CFLIGHT_OK) die("read", &err);
    int64_t got = 0;
    for (;;) {
      struct ArrowArray out;
      if (st.get_next(&st, &out) != 0) {
        fprintf(stderr, "cflight-ipc-bench: read: %s\n", st.get_last_error(&st));
        exit(1);
      }
      if (out.release == NULL) break;
      got++;
      out.release(&out);
    }
    st.release(&st);
    cflight_buffer_unref(bytes);
    int64_t t2 = cf_now_ns();
    if (got != n_batches) die("read: wrong batch count", NULL);
    if (t1 - t0 < best_w) best_w = t1 - t0;
    if (t2 - t1 < best_r) best_r = t2 - t1;
  }
  print_row("stream write (to memory)", total, best_w);
  print_row("stream read (from memory)", total, best_r);
  print_row("stream write + read", total, best_w + best_r);
  /* What copying the stream's bytes costs on this machine, for scale. */
  uint8_t *copy = malloc(sink.len);
  if (copy == NULL) die("copy buffer", NULL);
  memset(copy, 0x5A, sink.len);
  int64_t best_c = INT64_MAX;
  for (int r = 0; r < runs; r++) {
    int64_t t0 = cf_now_ns();
    memcpy(copy, sink.data, sink.len);
    int64_t t = cf_now_ns() - t0;
    if (t < best_c) best_c = t;
  }
  free(copy);
  print_row("memcpy of the stream (reference)", (double)sink.len, best_c);
  printf("  (stream bytes: %.2f GB)\n", (double)sink.len / 1e9);
  free(sink.data);
  message_free(&schema_msg);
  message_free(&msg);
  cf_array_release(&batch);
  cf_schema_release(&schema);

  /* Decode time against row count, same two columns: flat when zero-copy. */
  printf("\n  decode time of one batch (1 int64 + 1 utf8 column, 4-byte strings) vs rows:\n");
  printf("  %14s %14s %16s %14s\n", "rows", "batch bytes", "decode time", "throughput");
  build_schema(&schema, 1, 1);
  for (int64_t rows = 1000000; rows <= max_rows; rows *= 10) {
    int64_t bytes = build_batch(&batch, 1, 1, rows, 8);
    encode_one(&schema, &batch, NULL, &schema_msg, &msg);
    cf_array_release(&batch); /* the message is what gets decoded */
    int64_t reps = 2000;
    int64_t t = time_decode(&schema_msg, &msg, reps);
    double per = (double)t / (double)reps;
    printf("  %14lld %11.1f MB %13.2f us %11.0f GB/s\n", (long long)rows, (double)bytes / 1e6,
           per / 1e3, (double)bytes / per);
    message_free(&schema_msg);
    message_free(&msg);
  }
  cf_schema_release(&schema);
  cflight_ipc_options_free(opts);
  return 0;
}
