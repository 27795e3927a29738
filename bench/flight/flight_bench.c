/* cflight-bench: throughput and latency of Flight over our client and
 * server, modelled on Arrow C++'s arrow-flight-benchmark and its perf
 * server. A run plans the streams with GetFlightInfo (a command
 * descriptor), then reads them with DoGet or writes them with DoPut from a
 * pool of client threads; the data is four int64 columns, as in Arrow's
 * perf server. Next to it, in the same run: raw loopback TCP (the ceiling),
 * GetFlightInfo latency, and the peak RSS of client and server.
 *
 * The server runs in a process of its own (this program, re-executed with
 * --serve), so that client and server memory are measured apart; --server
 * URI benchmarks a server started elsewhere with `cflight-bench --serve`.
 *
 *   cflight-bench [--server URI] [--records-per-stream N | --stream-size SIZE]
 *                 [--records-per-batch N] [--streams N] [--threads N] [--runs N]
 *                 [--tests get,put,latency,raw] [--latency-calls N]
 *                 [--compression lz4|zstd[:LEVEL]] [--tls] [--cert-file F]
 *                 [--key-file F] [--unix] [--opt name=value]... [--verify]
 *                 [--raw-size SIZE] [--quiet]
 *   cflight-bench --serve URI [--compression ...] [--cert-file F --key-file F]
 *                 [--opt name=value]...
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arrow/arrow.h"
#include "base/base.h"
#include "bench_common.h"

#define N_COLUMNS 4
#define BYTES_PER_RECORD (N_COLUMNS * 8)
/* Raw TCP's shape: of those tried (128 KiB to 4 MiB writes, 128 KiB to 16
 * MiB reads) the fastest on loopback, so that the ceiling is not low. */
#define RAW_WRITE ((size_t)1 << 20)
#define RAW_READ ((size_t)128 << 10)

/* ---- Options ------------------------------------------------------------------------ */

typedef struct opt_kv {
  char *name, *value;
} opt_kv;

static struct {
  const char *server;
  const char *serve;
  bool exit_on_eof;
  int64_t records_per_stream;
  int64_t records_per_batch;
  int streams;
  int threads;
  int runs;
  bool test_get, test_put, test_latency, test_raw;
  int latency_calls;
  const char *compression;
  bool tls, unix_socket;
  const char *cert_file, *key_file;
  opt_kv *opts;
  int n_opts;
  bool verify;
  uint64_t raw_size;
  bool quiet;
  bool borrowed_writes;
} O = {
    .records_per_stream = 10000000,
    .records_per_batch = 4096,
    .streams = 1,
    .threads = 0,
    .runs = 3,
    .test_get = true,
    .test_put = true,
    .test_latency = true,
    .test_raw = true,
    .latency_calls = 10000,
};

static void die(const char *fmt, ...) CFLIGHT_PRINTF(1, 2) __attribute__((noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "cflight-bench: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void die_err(const char *what, const cflight_error *err) __attribute__((noreturn));
static void die_err(const char *what, const cflight_error *err) {
  die("%s: %s (%s)", what, err->message, cflight_code_name(err->code));
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: cflight-bench [options]          benchmark a spawned (or --server) perf server\n"
          "       cflight-bench --serve URI [...]  run the perf server\n"
          "\n"
          "  --server URI              benchmark a running `cflight-bench --serve` server\n"
          "  --records-per-stream N    records per stream (default 10000000; 32 bytes each)\n"
          "  --stream-size SIZE        bytes per stream instead (e.g. 10GiB, 512MB)\n"
          "  --records-per-batch N     records per batch (default 4096 = 128 KiB)\n"
          "  --streams N               streams (endpoints) per run (default 1)\n"
          "  --threads N               client threads, each with its own connection\n"
          "                            (default: one per stream)\n"
          "  --runs N                  runs of each test; best and median are reported (3)\n"
          "  --tests LIST              of get,put,latency,raw (default all)\n"
          "  --latency-calls N         GetFlightInfo calls for the latency test (10000)\n"
          "  --compression C[:LEVEL]   lz4 or zstd bodies (DoGet: the server's; DoPut: ours)\n"
          "  --tls                     grpc+tls (spawned server: --cert-file/--key-file,\n"
          "                            default the test certificate cert0 of CFLIGHT_TEST_DATA)\n"
          "  --unix                    grpc+unix (spawned server only)\n"
          "  --opt NAME=VALUE          transport option for client and server (repeatable)\n"
          "  --verify                  compare every received value with what was sent\n"
          "  --borrowed-writes         DoPut with cflight_stream_writer_write (waits until each\n"
          "                            batch is written) instead of _write_move (pipelined)\n"
          "  --raw-size SIZE           bytes per raw TCP run (default: a run's data, 1..8 GiB)\n"
          "  --quiet                   no progress line\n");
}

static uint64_t parse_size(const char *s) {
  char *end = NULL;
  double v = strtod(s, &end);
  if (end == s || v < 0) die("bad size '%s'", s);
  double mul = 1;
  if (*end != '\0') {
    const char *u = end;
    if (strcasecmp(u, "k") == 0 || strcasecmp(u, "kib") == 0)
      mul = 1024.0;
    else if (strcasecmp(u, "m") == 0 || strcasecmp(u, "mib") == 0)
      mul = 1024.0 * 1024;
    else if (strcasecmp(u, "g") == 0 || strcasecmp(u, "gib") == 0)
      mul = 1024.0 * 1024 * 1024;
    else if (strcasecmp(u, "kb") == 0)
      mul = 1e3;
    else if (strcasecmp(u, "mb") == 0)
      mul = 1e6;
    else if (strcasecmp(u, "gb") == 0)
      mul = 1e9;
    else if (strcasecmp(u, "b") != 0)
      die("bad size unit in '%s' (use B, KiB, MiB, GiB, KB, MB, GB)", s);
  }
  return (uint64_t)(v * mul);
}

static int64_t parse_int(const char *s, const char *what, int64_t min) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || *end != '\0' || errno != 0 || v < min) die("bad %s '%s'", what, s);
  return v;
}

static void parse_tests(const char *list) {
  O.test_get = O.test_put = O.test_latency = O.test_raw = false;
  char *copy = strdup(list), *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
    if (strcmp(t, "get") == 0)
      O.test_get = true;
    else if (strcmp(t, "put") == 0)
      O.test_put = true;
    else if (strcmp(t, "latency") == 0)
      O.test_latency = true;
    else if (strcmp(t, "raw") == 0)
      O.test_raw = true;
    else
      die("unknown test '%s' (get, put, latency, raw)", t);
  }
  free(copy);
}

static void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDS_VALUE()                          \
  do {                                         \
    if (v == NULL) die("%s needs a value", a); \
    i++;                                       \
  } while (0)
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if (strcmp(a, "--server") == 0) {
      NEEDS_VALUE();
      O.server = v;
    } else if (strcmp(a, "--serve") == 0) {
      NEEDS_VALUE();
      O.serve = v;
    } else if (strcmp(a, "--exit-on-eof") == 0) {
      O.exit_on_eof = true;
    } else if (strcmp(a, "--records-per-stream") == 0) {
      NEEDS_VALUE();
      O.records_per_stream = parse_int(v, "record count", 1);
    } else if (strcmp(a, "--stream-size") == 0) {
      NEEDS_VALUE();
      O.records_per_stream = (int64_t)(parse_size(v) / BYTES_PER_RECORD);
      if (O.records_per_stream < 1) die("stream size '%s' is below one record", v);
    } else if (strcmp(a, "--records-per-batch") == 0) {
      NEEDS_VALUE();
      O.records_per_batch = parse_int(v, "batch size", 1);
    } else if (strcmp(a, "--streams") == 0) {
      NEEDS_VALUE();
      O.streams = (int)parse_int(v, "stream count", 1);
    } else if (strcmp(a, "--threads") == 0) {
      NEEDS_VALUE();
      O.threads = (int)parse_int(v, "thread count", 1);
    } else if (strcmp(a, "--runs") == 0) {
      NEEDS_VALUE();
      O.runs = (int)parse_int(v, "run count", 1);
    } else if (strcmp(a, "--tests") == 0) {
      NEEDS_VALUE();
      parse_tests(v);
    } else if (strcmp(a, "--latency-calls") == 0) {
      NEEDS_VALUE();
      O.latency_calls = (int)parse_int(v, "call count", 1);
    } else if (strcmp(a, "--compression") == 0) {
      NEEDS_VALUE();
      O.compression = v;
    } else if (strcmp(a, "--tls") == 0) {
      O.tls = true;
    } else if (strcmp(a, "--unix") == 0) {
      O.unix_socket = true;
    } else if (strcmp(a, "--cert-file") == 0) {
      NEEDS_VALUE();
      O.cert_file = v;
    } else if (strcmp(a, "--key-file") == 0) {
      NEEDS_VALUE();
      O.key_file = v;
    } else if (strcmp(a, "--opt") == 0) {
      NEEDS_VALUE();
      const char *eq = strchr(v, '=');
      if (eq == NULL) die("--opt takes NAME=VALUE, not '%s'", v);
      O.opts = realloc(O.opts, (size_t)(O.n_opts + 1) * sizeof(*O.opts));
      if (O.opts == NULL) die("out of memory");
      O.opts[O.n_opts].name = strndup(v, (size_t)(eq - v));
      O.opts[O.n_opts].value = strdup(eq + 1);
      O.n_opts++;
    } else if (strcmp(a, "--verify") == 0) {
      O.verify = true;
    } else if (strcmp(a, "--raw-size") == 0) {
      NEEDS_VALUE();
      O.raw_size = parse_size(v);
    } else if (strcmp(a, "--quiet") == 0) {
      O.quiet = true;
    } else if (strcmp(a, "--borrowed-writes") == 0) {
      O.borrowed_writes = true;
    } else {
      usage(stderr);
      die("unknown option '%s'", a);
    }
#undef NEEDS_VALUE
  }
  if (O.records_per_batch > INT32_MAX / BYTES_PER_RECORD)
    die("--records-per-batch above %d", INT32_MAX / BYTES_PER_RECORD);
  if (O.threads == 0) O.threads = O.streams;
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) die("cannot open %s: %s", path, strerror(errno));
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  if (s == NULL || fread(s, 1, (size_t)n, f) != (size_t)n) die("cannot read %s", path);
  s[n] = '\0';
  fclose(f);
  return s;
}

static cflight_ipc_options *make_ipc_options(void) {
  if (O.compression == NULL) return NULL;
  cflight_ipc_options *ipc = cflight_ipc_options_new();
  char name[16] = {0};
  int level = 0;
  const char *colon = strchr(O.compression, ':');
  size_t n = colon != NULL ? (size_t)(colon - O.compression) : strlen(O.compression);
  if (n >= sizeof(name)) die("unknown compression '%s'", O.compression);
  memcpy(name, O.compression, n);
  if (colon != NULL) level = (int)parse_int(colon + 1, "compression level", -100);
  cflight_compression codec;
  if (strcmp(name, "lz4") == 0)
    codec = CFLIGHT_COMPRESSION_LZ4_FRAME;
  else if (strcmp(name, "zstd") == 0)
    codec = CFLIGHT_COMPRESSION_ZSTD;
  else
    die("unknown compression '%s' (lz4, zstd)", name);
  cflight_error err = {0};
  if (cflight_ipc_options_set_compression(ipc, codec, level, &err) != CFLIGHT_OK)
    die_err("compression", &err);
  return ipc;
}

/* ---- Data: four int64 columns -------------------------------------------------------- */

static uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* The value buffers of one batch of `rows` records: the same on both sides,
 * so that --verify can compare. Made once per stream; every batch of the
 * stream points at them (as Arrow's perf server reuses its batch). */
typedef struct columns {
  int64_t rows;
  cflight_buffer *col[N_COLUMNS];
} columns;

static void columns_make(columns *c, int64_t rows) {
  c->rows = rows;
  for (int k = 0; k < N_COLUMNS; k++) {
    c->col[k] = cflight_buffer_new((size_t)rows * 8);
    if (c->col[k] == NULL) die("out of memory making a batch of %" PRId64 " records", rows);
    int64_t *v = (int64_t *)cflight_buffer_mutable_data(c->col[k]);
    for (int64_t i = 0; i < rows; i++)
      v[i] = (int64_t)mix64((uint64_t)k << 40 | (uint64_t)i);
  }
}

static void columns_free(columns *c) {
  for (int k = 0; k < N_COLUMNS; k++)
    cflight_buffer_unref(c->col[k]);
}

static void make_schema(struct ArrowSchema *out) {
  cflight_error err = {0};
  if (cf_schema_init(out, "+s", "", N_COLUMNS, &err) != CFLIGHT_OK) die_err("schema", &err);
  out->flags = 0;
  static const char *names[N_COLUMNS] = {"a", "b", "c", "d"};
  for (int k = 0; k < N_COLUMNS; k++) {
    if (cf_schema_init(out->children[k], "l", names[k], 0, &err) != CFLIGHT_OK)
      die_err("schema", &err);
    out->children[k]->flags = 0;
  }
}

/* A batch of the first `rows` records of c (its buffers referenced). */
static int make_batch(const columns *c, int64_t rows, struct ArrowArray *out, cflight_error *err) {
  CF_RETURN_NOT_OK(cf_array_init(out, 1, N_COLUMNS, err));
  out->length = rows;
  for (int k = 0; k < N_COLUMNS; k++) {
    struct ArrowArray *a = out->children[k];
    int rc = cf_array_init(a, 2, 0, err);
    if (rc != CFLIGHT_OK) {
      cf_array_release(out);
      return rc;
    }
    a->length = rows;
    cf_array_set_buffer(a, 1, cflight_buffer_ref(c->col[k]), cflight_buffer_data(c->col[k]));
  }
  return CFLIGHT_OK;
}

/* Checks a received batch against the expected columns (values only; one
 * memcmp per column). */
static bool batch_matches(const columns *c, const struct ArrowArray *b) {
  if (b->n_children != N_COLUMNS || b->length > c->rows) return false;
  for (int k = 0; k < N_COLUMNS; k++) {
    const struct ArrowArray *a = b->children[k];
    if (a->n_buffers != 2 || a->length != b->length || a->null_count > 0) return false;
    const int64_t *v = (const int64_t *)a->buffers[1] + a->offset;
    if (b->length > 0 && memcmp(v, cflight_buffer_data(c->col[k]), (size_t)b->length * 8) != 0)
      return false;
  }
  return true;
}

/* ---- Tickets and commands ---------------------------------------------------------------- */

/* "perf records=N batch=M streams=S": the plan; "stream i records=N batch=M". */
typedef struct plan {
  int64_t records, batch;
  int streams;
  int index;
  bool verify;
} plan;

static bool parse_plan(const uint8_t *data, size_t size, plan *p) {
  char text[256];
  if (size >= sizeof(text)) return false;
  memcpy(text, data, size);
  text[size] = '\0';
  memset(p, 0, sizeof(*p));
  long long records = 0, batch = 0;
  int streams = 0, index = 0, verify = 0;
  if (sscanf(text, "perf records=%lld batch=%lld streams=%d verify=%d", &records, &batch, &streams,
             &verify) == 4) {
    index = -1;
  } else if (sscanf(text, "stream %d records=%lld batch=%lld verify=%d", &index, &records, &batch,
                    &verify) == 4) {
    streams = 1;
  } else {
    return false;
  }
  if (records < 0 || batch < 1 || batch > INT32_MAX / BYTES_PER_RECORD || streams < 1 ||
      streams > 100000)
    return false;
  *p = (plan){records, batch, streams, index, verify != 0};
  return true;
}

/* ---- The perf server ----------------------------------------------------------------------- */

static cflight_server *g_server;

/* A "Key: N kB" line of /proc/self/status, or -1. */
static int64_t proc_status_kib(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL) return -1;
  char line[256];
  int64_t v = -1;
  size_t klen = strlen(key);
  while (fgets(line, sizeof(line), f) != NULL) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
      v = strtoll(line + klen + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return v;
}

/* Resets the peak RSS (VmHWM) to the current RSS: Linux's clear_refs "5". */
static bool reset_peak_rss(void) {
  int fd = open("/proc/self/clear_refs", O_WRONLY);
  if (fd < 0) return false;
  bool ok = write(fd, "5", 1) == 1;
  close(fd);
  return ok;
}

static int srv_get_flight_info(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                               cflight_flight_info **out, cflight_error *err) {
  (void)user;
  (void)ctx;
  size_t size = 0;
  const uint8_t *cmd = cflight_descriptor_command(d, &size);
  plan p;
  if (cmd == NULL || !parse_plan(cmd, size, &p) || p.index != -1)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "perf server: expected a command 'perf records=N batch=M streams=S "
                             "verify=V'");
  cflight_flight_info *info = NULL;
  CF_RETURN_NOT_OK(cflight_flight_info_new(&info, err));
  struct ArrowSchema schema;
  make_schema(&schema);
  int rc = cflight_flight_info_set_schema(info, &schema, err);
  cf_schema_release(&schema);
  if (rc == CFLIGHT_OK) rc = cflight_flight_info_set_descriptor(info, d, err);
  for (int i = 0; rc == CFLIGHT_OK && i < p.streams; i++) {
    char t[128];
    int n = snprintf(t, sizeof(t), "stream %d records=%lld batch=%lld verify=%d", i,
                     (long long)p.records, (long long)p.batch, p.verify ? 1 : 0);
    cflight_ticket *tk = NULL;
    cflight_endpoint *ep = NULL;
    rc = cflight_ticket_new(t, (size_t)n, &tk, err);
    if (rc == CFLIGHT_OK) rc = cflight_endpoint_new(tk, NULL, 0, &ep, err);
    if (rc == CFLIGHT_OK) rc = cflight_flight_info_add_endpoint(info, ep, err);
    cflight_endpoint_free(ep);
    cflight_ticket_free(tk);
  }
  cflight_flight_info_set_total_records(info, p.records * p.streams);
  cflight_flight_info_set_total_bytes(info, p.records * p.streams * BYTES_PER_RECORD);
  if (rc != CFLIGHT_OK) {
    cflight_flight_info_free(info);
    return rc;
  }
  *out = info;
  return CFLIGHT_OK;
}

typedef struct get_state {
  columns cols;
  int64_t left;
} get_state;

static int get_next(void *ctx, cflight_chunk *out, cflight_error *err) {
  get_state *g = ctx;
  memset(out, 0, sizeof(*out));
  if (g->left == 0) return CFLIGHT_OK;
  int64_t rows = g->left < g->cols.rows ? g->left : g->cols.rows;
  CF_RETURN_NOT_OK(make_batch(&g->cols, rows, &out->data, err));
  g->left -= rows;
  return CFLIGHT_OK;
}

static void get_free(void *ctx) {
  get_state *g = ctx;
  columns_free(&g->cols);
  free(g);
}

static int srv_do_get(void *user, cflight_call_context *ctx, const cflight_ticket *t,
                      cflight_data_stream **out, cflight_error *err) {
  (void)user;
  (void)ctx;
  size_t size = 0;
  const uint8_t *data = cflight_ticket_data(t, &size);
  plan p;
  if (!parse_plan(data, size, &p) || p.index < 0)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "perf server: bad ticket");
  get_state *g = calloc(1, sizeof(*g));
  if (g == NULL) return CF_NOMEM(err, "stream");
  columns_make(&g->cols, p.batch);
  g->left = p.records;
  struct ArrowSchema schema;
  make_schema(&schema);
  *out = cflight_data_stream_new_generator(&schema, get_next, get_free, g);
  cf_schema_release(&schema);
  if (*out == NULL) {
    get_free(g);
    return CF_NOMEM(err, "stream");
  }
  return CFLIGHT_OK;
}

static int srv_do_put(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                      cflight_stream_reader *reader, cflight_metadata_writer *writer,
                      cflight_error *err) {
  (void)user;
  (void)ctx;
  size_t size = 0;
  const uint8_t *cmd = cflight_descriptor_command(d, &size);
  plan p;
  if (cmd == NULL || !parse_plan(cmd, size, &p) || p.index < 0)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "perf server: bad DoPut descriptor");
  columns cols = {0};
  if (p.verify) columns_make(&cols, p.batch);
  int64_t rows = 0, batches = 0;
  int rc = CFLIGHT_OK;
  for (;;) {
    cflight_chunk c;
    bool end = false;
    rc = cflight_stream_reader_next(reader, &c, &end, err);
    if (rc != CFLIGHT_OK || end) break;
    if (c.data.release != NULL) {
      if (p.verify && !batch_matches(&cols, &c.data))
        rc =
            cflight_error_set(err, CFLIGHT_INVALID_DATA,
                              "perf server: batch %" PRId64 " differs from what was sent", batches);
      rows += c.data.length;
      batches++;
    }
    cflight_chunk_release(&c);
    if (rc != CFLIGHT_OK) break;
  }
  if (p.verify) columns_free(&cols);
  if (rc != CFLIGHT_OK) return rc;
  char msg[64];
  int n = snprintf(msg, sizeof(msg), "rows=%" PRId64, rows);
  return cflight_metadata_writer_write(writer, msg, (size_t)n, err);
}

static int srv_do_action(void *user, cflight_call_context *ctx, const cflight_action *action,
                         cflight_result_writer *out, cflight_error *err) {
  (void)user;
  (void)ctx;
  const char *type = cflight_action_get_type(action);
  char msg[128];
  int n = 0;
  if (strcmp(type, "ping") == 0) {
    n = snprintf(msg, sizeof(msg), "pong");
  } else if (strcmp(type, "reset-rss") == 0) {
    n = snprintf(msg, sizeof(msg), "%d", reset_peak_rss() ? 1 : 0);
  } else if (strcmp(type, "rss") == 0) {
    n = snprintf(msg, sizeof(msg), "%" PRId64 " %" PRId64, proc_status_kib("VmHWM"),
                 proc_status_kib("VmRSS"));
  } else {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "perf server: unknown action '%s'",
                             type);
  }
  return cflight_result_writer_write_result(out, msg, (size_t)n, err);
}

static void *eof_watch(void *arg) {
  (void)arg;
  char buf[256];
  while (read(0, buf, sizeof(buf)) > 0) {
  }
  kill(getpid(), SIGTERM); /* the parent is gone: stop */
  return NULL;
}

static int run_server(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread made from here on too */
  cflight_error err = {0};
  cflight_server_options *so = cflight_server_options_new();
  for (int i = 0; i < O.n_opts; i++)
    if (cflight_server_options_set_generic(so, O.opts[i].name, O.opts[i].value, &err) != CFLIGHT_OK)
      die_err("server option", &err);
  cflight_ipc_options *ipc = make_ipc_options();
  if (ipc != NULL && cflight_server_options_set_ipc_options(so, ipc, &err) != CFLIGHT_OK)
    die_err("server IPC options", &err);
  cflight_ipc_options_free(ipc);
  if (strncmp(O.serve, "grpc+tls:", 9) == 0) {
    if (O.cert_file == NULL || O.key_file == NULL)
      die("a grpc+tls server needs --cert-file and --key-file");
    char *cert = read_file(O.cert_file), *key = read_file(O.key_file);
    if (cflight_server_options_add_tls_certificate(so, cert, key, &err) != CFLIGHT_OK)
      die_err("TLS certificate", &err);
    free(cert);
    free(key);
  }
  cflight_server_handlers h = {
      .get_flight_info = srv_get_flight_info,
      .do_get = srv_do_get,
      .do_put = srv_do_put,
      .do_action = srv_do_action,
  };
  if (cflight_server_new(O.serve, &h, sizeof(h), NULL, so, &g_server, &err) != CFLIGHT_OK)
    die_err("server", &err);
  cflight_server_options_free(so);
  printf("listening on %s\n", cflight_server_location(g_server, 0));
  fflush(stdout);
  pthread_t watcher;
  if (O.exit_on_eof) pthread_create(&watcher, NULL, eof_watch, NULL);
  int sig = 0;
  sigwait(&set, &sig);
  cflight_server_shutdown(g_server, 1.0);
  cflight_server_free(g_server);
  return 0;
}

/* ---- The client side ------------------------------------------------------------------------- */

static char g_location[1024];
static cflight_client_options *g_copts;
static cflight_descriptor *g_plan_desc;

static cflight_client *connect_client(void) {
  cflight_client *c = NULL;
  cflight_error err = {0};
  if (cflight_client_connect(g_location, g_copts, &c, &err) != CFLIGHT_OK) die_err("connect", &err);
  if (cflight_client_wait_for_available(c, 20, &err) != CFLIGHT_OK) die_err(g_location, &err);
  return c;
}

static char *do_action(cflight_client *c, const char *type) {
  cflight_error err = {0};
  cflight_action *a = NULL;
  cflight_result_iter *it = NULL;
  if (cflight_action_new(type, NULL, 0, &a, &err) != CFLIGHT_OK ||
      cflight_client_do_action(c, a, NULL, &it, &err) != CFLIGHT_OK)
    die_err(type, &err);
  cflight_result *r = NULL;
  if (cflight_result_iter_next(it, &r, &err) != CFLIGHT_OK) die_err(type, &err);
  char *text = NULL;
  if (r != NULL) {
    size_t size = 0;
    const uint8_t *body = cflight_result_body(r, &size);
    text = strndup((const char *)body, size);
    cflight_result_free(r);
  }
  cflight_result_iter_free(it);
  cflight_action_free(a);
  return text;
}

/* Peak RSS in KiB of this process and of the server, since the last reset. */
typedef struct rss_pair {
  int64_t client, server;
} rss_pair;

static void rss_reset(cflight_client *c) {
  reset_peak_rss();
  free(do_action(c, "reset-rss"));
}

static rss_pair rss_read(cflight_client *c) {
  rss_pair p = {proc_status_kib("VmHWM"), -1};
  char *s = do_action(c, "rss");
  if (s != NULL) p.server = strtoll(s, NULL, 10);
  free(s);
  return p;
}

typedef struct job {
  bool put;
  cflight_flight_info *info;
  atomic_int next_endpoint;
  atomic_int_fast64_t records; /* progress, and the total at the end */
  atomic_int ready;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool go;
  atomic_int done;
  atomic_bool failed;
  char error[1400];
} job;

static void job_fail(job *j, const char *what, const cflight_error *err) {
  pthread_mutex_lock(&j->mu);
  if (!atomic_load(&j->failed))
    snprintf(j->error, sizeof(j->error), "%s: %s (%s)", what, err->message,
             cflight_code_name(err->code));
  atomic_store(&j->failed, true);
  pthread_mutex_unlock(&j->mu);
}

static int run_get(job *j, cflight_client *c, const cflight_ticket *tk, const plan *p) {
  cflight_error err = {0};
  cflight_stream_reader *r = NULL;
  columns cols = {0};
  if (O.verify) columns_make(&cols, p->batch);
  int rc = cflight_client_do_get(c, tk, NULL, &r, &err);
  int64_t rows = 0, batches = 0;
  while (rc == CFLIGHT_OK) {
    cflight_chunk ch;
    bool end = false;
    rc = cflight_stream_reader_next(r, &ch, &end, &err);
    if (rc != CFLIGHT_OK || end) break;
    if (ch.data.release != NULL) {
      if (O.verify && !batch_matches(&cols, &ch.data))
        rc = cflight_error_set(&err, CFLIGHT_INVALID_DATA,
                               "batch %" PRId64 " differs from what the server sent", batches);
      rows += ch.data.length;
      batches++;
      atomic_fetch_add(&j->records, ch.data.length);
    }
    cflight_chunk_release(&ch);
  }
  if (rc == CFLIGHT_OK && rows != p->records)
    rc = cflight_error_set(&err, CFLIGHT_INVALID_DATA,
                           "DoGet: %" PRId64 " records received, %" PRId64 " expected", rows,
                           p->records);
  if (rc != CFLIGHT_OK) job_fail(j, "DoGet", &err);
  cflight_stream_reader_free(r);
  if (O.verify) columns_free(&cols);
  return rc;
}

static int run_put(job *j, cflight_client *c, const plan *p, const columns *cols,
                   const cflight_call_options *copts) {
  cflight_error err = {0};
  char cmd[128];
  int n = snprintf(cmd, sizeof(cmd), "stream %d records=%lld batch=%lld verify=%d", p->index,
                   (long long)p->records, (long long)p->batch, O.verify ? 1 : 0);
  cflight_descriptor *d = NULL;
  if (cflight_descriptor_new_command(cmd, (size_t)n, &d, &err) != CFLIGHT_OK)
    die_err("descriptor", &err);
  struct ArrowSchema schema;
  make_schema(&schema);
  struct ArrowArray full = {0}, last = {0};
  int64_t tail = p->records % p->batch;
  if (make_batch(cols, p->batch, &full, &err) != CFLIGHT_OK ||
      (tail > 0 && make_batch(cols, tail, &last, &err) != CFLIGHT_OK))
    die_err("batch", &err);
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *mr = NULL;
  int rc = cflight_client_do_put(c, d, &schema, copts, &w, &mr, &err);
  int64_t sent = 0;
  while (rc == CFLIGHT_OK && sent < p->records) {
    int64_t rows = p->records - sent >= p->batch ? p->batch : tail;
    if (O.borrowed_writes) {
      /* The same batch every time: each write waits until it was written. */
      rc = cflight_stream_writer_write(w, rows == p->batch ? &full : &last, NULL, 0, &err);
    } else {
      /* A batch of its own (pointing at the same buffers) that the writer
       * takes over: writes overlap with the sending. */
      struct ArrowArray b;
      rc = make_batch(cols, rows, &b, &err);
      if (rc == CFLIGHT_OK) rc = cflight_stream_writer_write_move(w, &b, NULL, &err);
    }
    if (rc == CFLIGHT_OK) {
      sent += rows;
      atomic_fetch_add(&j->records, rows);
    }
  }
  if (rc == CFLIGHT_OK) rc = cflight_stream_writer_done_writing(w, &err);
  cflight_buffer *ack = NULL;
  if (rc == CFLIGHT_OK) rc = cflight_metadata_reader_read(mr, &ack, &err);
  if (rc == CFLIGHT_OK) {
    char expect[64];
    int k = snprintf(expect, sizeof(expect), "rows=%" PRId64, p->records);
    if (ack == NULL || cflight_buffer_size(ack) != (size_t)k ||
        memcmp(cflight_buffer_data(ack), expect, (size_t)k) != 0)
      rc = cflight_error_set(&err, CFLIGHT_INVALID_DATA,
                             "DoPut: the server did not acknowledge %" PRId64 " records",
                             p->records);
  }
  cflight_buffer_unref(ack);
  if (w != NULL) {
    cflight_error e2 = {0};
    int rc2 = cflight_stream_writer_close(w, &e2);
    if (rc == CFLIGHT_OK && rc2 != CFLIGHT_OK) {
      rc = rc2;
      cflight_error_move(&err, &e2);
    }
    cflight_error_reset(&e2);
  }
  if (rc != CFLIGHT_OK) job_fail(j, "DoPut", &err);
  cflight_metadata_reader_free(mr);
  cflight_stream_writer_free(w);
  cf_array_release(&full);
  cf_array_release(&last);
  cf_schema_release(&schema);
  cflight_descriptor_free(d);
  return rc;
}

static void *worker(void *arg) {
  job *j = arg;
  cflight_client *c = connect_client();
  cflight_call_options *copts = NULL;
  columns cols = {0};
  if (j->put) {
    copts = cflight_call_options_new();
    cflight_ipc_options *ipc = make_ipc_options();
    cflight_error err = {0};
    if (ipc != NULL && cflight_call_options_set_ipc_options(copts, ipc, &err) != CFLIGHT_OK)
      die_err("IPC options", &err);
    cflight_ipc_options_free(ipc);
    columns_make(&cols, O.records_per_batch);
  }
  pthread_mutex_lock(&j->mu);
  atomic_fetch_add(&j->ready, 1);
  pthread_cond_broadcast(&j->cv);
  while (!j->go)
    pthread_cond_wait(&j->cv, &j->mu);
  pthread_mutex_unlock(&j->mu);
  size_t n_ep = cflight_flight_info_endpoint_count(j->info);
  for (;;) {
    if (atomic_load(&j->failed)) break;
    int i = atomic_fetch_add(&j->next_endpoint, 1);
    if ((size_t)i >= n_ep) break;
    const cflight_ticket *tk =
        cflight_endpoint_ticket(cflight_flight_info_endpoint(j->info, (size_t)i));
    size_t size = 0;
    const uint8_t *data = cflight_ticket_data(tk, &size);
    plan p;
    if (!parse_plan(data, size, &p)) {
      cflight_error e = {0};
      cflight_error_set(&e, CFLIGHT_INVALID_DATA, "the server's ticket is not a perf ticket");
      job_fail(j, "plan", &e);
      break;
    }
    if (j->put ? run_put(j, c, &p, &cols, copts) : run_get(j, c, tk, &p)) break;
  }
  if (j->put) columns_free(&cols);
  cflight_call_options_free(copts);
  cflight_client_close(c);
  atomic_fetch_add(&j->done, 1);
  return NULL;
}

static bool show_progress(void) {
  return !O.quiet && isatty(2);
}

static void progress(const char *what, int run, int64_t done_bytes, int64_t total_bytes,
                     int64_t t0) {
  double s = cfb_seconds(cf_now_ns() - t0);
  fprintf(stderr, "\r\033[K  %-6s run %d/%d  %8.2f / %.2f GiB  %6.2f GB/s", what, run + 1, O.runs,
          (double)done_bytes / (1 << 30), (double)total_bytes / (1 << 30),
          s > 0 ? (double)done_bytes / s / 1e9 : 0.0);
  fflush(stderr);
}

static void progress_clear(void) {
  if (show_progress()) fprintf(stderr, "\r\033[K");
}

static cflight_flight_info *get_plan(cflight_client *c) {
  cflight_flight_info *info = NULL;
  cflight_error err = {0};
  if (cflight_client_get_flight_info(c, g_plan_desc, NULL, &info, &err) != CFLIGHT_OK)
    die_err("GetFlightInfo", &err);
  return info;
}

/* One DoGet or DoPut run over every stream of the plan: GB/s of data
 * (records x 32 bytes), from the first call to the end of the last stream. */
static double run_streams(cflight_client *c, bool put, int run) {
  job j = {.put = put};
  j.info = get_plan(c);
  pthread_mutex_init(&j.mu, NULL);
  pthread_cond_init(&j.cv, NULL);
  int n = O.threads;
  pthread_t *th = calloc((size_t)n, sizeof(*th));
  for (int i = 0; i < n; i++)
    pthread_create(&th[i], NULL, worker, &j);
  pthread_mutex_lock(&j.mu);
  while (atomic_load(&j.ready) < n)
    pthread_cond_wait(&j.cv, &j.mu);
  int64_t t0 = cf_now_ns();
  j.go = true;
  pthread_cond_broadcast(&j.cv);
  pthread_mutex_unlock(&j.mu);
  int64_t total = O.records_per_stream * O.streams * BYTES_PER_RECORD;
  while (atomic_load(&j.done) < n) {
    usleep(20000);
    static int64_t last_shown;
    if (show_progress() && cf_now_ns() - last_shown > 200000000) {
      last_shown = cf_now_ns();
      progress(put ? "DoPut" : "DoGet", run, atomic_load(&j.records) * BYTES_PER_RECORD, total, t0);
    }
  }
  for (int i = 0; i < n; i++)
    pthread_join(th[i], NULL);
  int64_t t1 = cf_now_ns();
  progress_clear();
  free(th);
  if (atomic_load(&j.failed)) die("%s", j.error);
  int64_t records = atomic_load(&j.records);
  if (records != cflight_flight_info_total_records(j.info))
    die("%s: %" PRId64 " records, the plan said %" PRId64, put ? "DoPut" : "DoGet", records,
        cflight_flight_info_total_records(j.info));
  cflight_flight_info_free(j.info);
  pthread_mutex_destroy(&j.mu);
  pthread_cond_destroy(&j.cv);
  return (double)(records * BYTES_PER_RECORD) / cfb_seconds(t1 - t0) / 1e9;
}

/* ---- Spawning the server -----------------------------------------------------------------------
 */

static pid_t g_child = -1;
static int g_child_stdin = -1;

static const char *test_data_file(const char *name, char *buf, size_t cap) {
  const char *dir = getenv("CFLIGHT_TEST_DATA");
  snprintf(buf, cap, "%s/flight/%s", dir != NULL ? dir : "../shared/arrow-testing/data", name);
  return buf;
}

static void spawn_server(void) {
  char loc[256];
  if (O.unix_socket) {
    snprintf(loc, sizeof(loc), "grpc+unix:///tmp/cflight-bench-%d.sock", (int)getpid());
    unlink(loc + strlen("grpc+unix://"));
  } else {
    snprintf(loc, sizeof(loc), "%s://127.0.0.1:0", O.tls ? "grpc+tls" : "grpc");
  }
  char cert[1024], key[1024];
  if (O.tls) {
    if (O.cert_file == NULL) O.cert_file = test_data_file("cert0.pem", cert, sizeof(cert));
    if (O.key_file == NULL) O.key_file = test_data_file("cert0.key", key, sizeof(key));
  }
  const char *args[64 + 2 * 64];
  int n = 0;
  args[n++] = "cflight-bench";
  args[n++] = "--serve";
  args[n++] = loc;
  args[n++] = "--exit-on-eof";
  if (O.compression != NULL) {
    args[n++] = "--compression";
    args[n++] = O.compression;
  }
  if (O.tls) {
    args[n++] = "--cert-file";
    args[n++] = O.cert_file;
    args[n++] = "--key-file";
    args[n++] = O.key_file;
  }
  char *optargs[64];
  for (int i = 0; i < O.n_opts && i < 64; i++) {
    size_t len = strlen(O.opts[i].name) + strlen(O.opts[i].value) + 2;
    optargs[i] = malloc(len);
    snprintf(optargs[i], len, "%s=%s", O.opts[i].name, O.opts[i].value);
    args[n++] = "--opt";
    args[n++] = optargs[i];
  }
  args[n] = NULL;
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) die("pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    execv("/proc/self/exe", (char *const *)args);
    fprintf(stderr, "cflight-bench: cannot run the server: %s\n", strerror(errno));
    _exit(127);
  }
  for (int i = 0; i < O.n_opts && i < 64; i++)
    free(optargs[i]);
  close(in[0]);
  close(out[1]);
  fcntl(in[1], F_SETFD, FD_CLOEXEC);
  g_child = pid;
  g_child_stdin = in[1];
  FILE *f = fdopen(out[0], "r");
  char line[600];
  if (f == NULL || fgets(line, sizeof(line), f) == NULL || strncmp(line, "listening on ", 13) != 0)
    die("the spawned server did not start");
  fclose(f);
  line[strcspn(line, "\r\n")] = '\0';
  const char *uri = line + 13;
  /* The server reports the address it bound; connect to the loopback. */
  if (strncmp(uri, "grpc+unix://", 12) == 0) {
    snprintf(g_location, sizeof(g_location), "%s", uri);
  } else {
    const char *colon = strrchr(uri, ':');
    snprintf(g_location, sizeof(g_location), "%s://localhost%s", O.tls ? "grpc+tls" : "grpc",
             colon != NULL ? colon : ":0");
  }
}

static void stop_server(void) {
  if (g_child <= 0) return;
  close(g_child_stdin);
  int status = 0;
  waitpid(g_child, &status, 0);
  if (O.unix_socket) unlink(g_location + strlen("grpc+unix://"));
  g_child = -1;
}

/* ---- Output ------------------------------------------------------------------------------------
 */

/* One row of the throughput table: best and median of the runs, their
 * ratios to raw TCP's best and median (raw NULL: none), the runs. */
static void print_rate_row(const char *name, const double *v, int n, const double *raw) {
  double copy[256];
  int m = n < 256 ? n : 256;
  memcpy(copy, v, (size_t)m * sizeof(double));
  double best = cfb_max(v, (size_t)m), median = cfb_median(copy, (size_t)m);
  printf("  %-18s %6.2f GB/s %6.2f GB/s", name, best, median);
  if (raw != NULL && raw[0] > 0 && raw[1] > 0)
    printf("   %7.1f%% %7.1f%%", 100.0 * best / raw[1], 100.0 * median / raw[0]);
  else
    printf("   %8s %8s", "", "");
  printf("   ");
  for (int i = 0; i < m; i++)
    printf("%s%.2f", i ? " " : "", v[i]);
  printf("\n");
}

static void print_mib(int64_t kib) {
  if (kib < 0)
    printf(" %11s", "n/a");
  else
    printf(" %7.1f MiB", (double)kib / 1024);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  parse_args(argc, argv);
  if (O.serve != NULL) return run_server();
  if (O.unix_socket && O.server != NULL)
    die("--unix is for a spawned server; give --server a grpc+unix:// URI");

  cflight_error err = {0};
  g_copts = cflight_client_options_new();
  for (int i = 0; i < O.n_opts; i++)
    if (cflight_client_options_set_generic(g_copts, O.opts[i].name, O.opts[i].value, &err) !=
        CFLIGHT_OK)
      die_err("client option", &err);
  if (O.server != NULL) {
    snprintf(g_location, sizeof(g_location), "%s", O.server);
  } else {
    spawn_server();
  }
  if (strncmp(g_location, "grpc+tls:", 9) == 0)
    cflight_client_options_set_disable_server_verification(g_copts, true);
  char cmd[160];
  int cn = snprintf(cmd, sizeof(cmd), "perf records=%lld batch=%lld streams=%d verify=%d",
                    (long long)O.records_per_stream, (long long)O.records_per_batch, O.streams,
                    O.verify ? 1 : 0);
  if (cflight_descriptor_new_command(cmd, (size_t)cn, &g_plan_desc, &err) != CFLIGHT_OK)
    die_err("descriptor", &err);
  cflight_client *ctl = connect_client();
  free(do_action(ctl, "ping"));

  int64_t stream_bytes = O.records_per_stream * BYTES_PER_RECORD;
  int64_t batch_bytes = O.records_per_batch * BYTES_PER_RECORD;
  printf("cflight-bench: %d stream%s x %" PRId64 " records (%.1f MB), %" PRId64
         " records per batch (%.1f KiB), %d client thread%s, %d run%s\n",
         O.streams, O.streams == 1 ? "" : "s", O.records_per_stream, (double)stream_bytes / 1e6,
         O.records_per_batch, (double)batch_bytes / 1024, O.threads, O.threads == 1 ? "" : "s",
         O.runs, O.runs == 1 ? "" : "s");
  printf("server:        %s (%s)%s%s\n", g_location,
         g_child > 0 ? "spawned: a separate process" : "given with --server",
         O.compression != NULL ? ", compression " : "", O.compression != NULL ? O.compression : "");
  printf("data:          %d int64 columns (%d bytes per record); GB/s = 1e9 bytes of data/s\n",
         N_COLUMNS, BYTES_PER_RECORD);
  if (O.test_put)
    printf("DoPut writes:  %s\n", O.borrowed_writes
                                      ? "cflight_stream_writer_write (each waits until written)"
                                      : "cflight_stream_writer_write_move (pipelined)");
  fflush(stdout);

  uint64_t raw_bytes = O.raw_size;
  if (raw_bytes == 0) {
    raw_bytes = (uint64_t)stream_bytes * (uint64_t)O.streams;
    if (raw_bytes < (1ull << 30)) raw_bytes = 1ull << 30;
    if (raw_bytes > (8ull << 30)) raw_bytes = 8ull << 30;
  }
  int runs = O.runs > 256 ? 256 : O.runs;
  double raw[256], fill[256], get[256], put[256];
  rss_pair get_rss = {-1, -1}, put_rss = {-1, -1};
  bool rss_reset_ok = reset_peak_rss();
  for (int r = 0; r < runs; r++) {
    if (O.test_raw) {
      if (show_progress()) fprintf(stderr, "\r\033[K  raw TCP run %d/%d", r + 1, runs);
      raw[r] = cfb_raw_tcp(raw_bytes, RAW_WRITE, RAW_READ, false);
      fill[r] = cfb_raw_tcp(raw_bytes, RAW_WRITE, RAW_READ, true);
      progress_clear();
    }
    if (O.test_get) {
      rss_reset(ctl);
      get[r] = run_streams(ctl, false, r);
      rss_pair p = rss_read(ctl);
      if (p.client > get_rss.client) get_rss.client = p.client;
      if (p.server > get_rss.server) get_rss.server = p.server;
    }
    if (O.test_put) {
      rss_reset(ctl);
      put[r] = run_streams(ctl, true, r);
      rss_pair p = rss_read(ctl);
      if (p.client > put_rss.client) put_rss.client = p.client;
      if (p.server > put_rss.server) put_rss.server = p.server;
    }
  }

  printf("\n  %-18s %11s %11s   %8s %8s   %s\n", "throughput", "best", "median", "of raw", "of raw",
         "runs (GB/s)");
  double raw_mb[2] = {0, 0};
  if (O.test_raw) {
    double tmp[256];
    memcpy(tmp, raw, (size_t)runs * sizeof(double));
    raw_mb[0] = cfb_median(tmp, (size_t)runs);
    raw_mb[1] = cfb_max(raw, (size_t)runs);
    print_rate_row("raw loopback TCP", raw, runs, NULL);
    print_rate_row("raw TCP, filling", fill, runs, NULL);
  }
  if (O.test_get) print_rate_row("DoGet", get, runs, O.test_raw ? raw_mb : NULL);
  if (O.test_put) print_rate_row("DoPut", put, runs, O.test_raw ? raw_mb : NULL);
  if (O.test_raw && (O.test_get || O.test_put))
    printf(
        "  (\"of raw\": best of best raw TCP, median of median raw TCP. Raw TCP: one stream\n"
        "   of 1 MiB writes and 128 KiB reads into one reused buffer, as iperf does;\n"
        "   \"filling\": the reads fill a 16 MiB buffer front to back, as a receiver that\n"
        "   keeps the bytes must)\n");

  if (O.test_latency) {
    int n = O.latency_calls;
    int64_t *lat = malloc(sizeof(int64_t) * (size_t)n);
    int64_t t0 = cf_now_ns(), sum = 0;
    int64_t last_shown = 0;
    for (int i = 0; i < n; i++) {
      int64_t s = cf_now_ns();
      cflight_flight_info *info = NULL;
      if (cflight_client_get_flight_info(ctl, g_plan_desc, NULL, &info, &err) != CFLIGHT_OK)
        die_err("GetFlightInfo", &err);
      cflight_flight_info_free(info);
      lat[i] = cf_now_ns() - s;
      sum += lat[i];
      if (show_progress() && lat[i] + s - last_shown > 200000000) {
        last_shown = lat[i] + s;
        fprintf(stderr, "\r\033[K  GetFlightInfo %d/%d", i + 1, n);
      }
    }
    int64_t t1 = cf_now_ns();
    progress_clear();
    int64_t p50 = cfb_quantile_i64(lat, (size_t)n, 0.5);
    int64_t p99 = cfb_quantile_i64(lat, (size_t)n, 0.99);
    int64_t mx = lat[n - 1];
    printf("\n  %-18s %11s %11s %11s %11s\n", "latency", "p50", "p99", "mean", "max");
    printf("  %-18s %8.1f us %8.1f us %8.1f us %8.1f us   (%d sequential calls, %.0f/s)\n",
           "GetFlightInfo", (double)p50 / 1e3, (double)p99 / 1e3, (double)sum / n / 1e3,
           (double)mx / 1e3, n, (double)n / cfb_seconds(t1 - t0));
    free(lat);
  }

  if (O.test_get || O.test_put) {
    printf("\n  %-18s %11s %11s\n", "peak RSS", "client", "server");
    if (O.test_get) {
      printf("  %-18s", "DoGet");
      print_mib(get_rss.client);
      print_mib(get_rss.server);
      printf("\n");
    }
    if (O.test_put) {
      printf("  %-18s", "DoPut");
      print_mib(put_rss.client);
      print_mib(put_rss.server);
      printf("\n");
    }
    printf("  (%s)\n", rss_reset_ok ? "VmHWM of each process, reset before each run; the largest "
                                      "of the runs"
                                    : "VmHWM since each process started: clear_refs is not "
                                      "writable here");
  }

  cflight_client_close(ctl);
  cflight_descriptor_free(g_plan_desc);
  cflight_client_options_free(g_copts);
  stop_server();
  for (int i = 0; i < O.n_opts; i++) {
    free(O.opts[i].name);
    free(O.opts[i].value);
  }
  free(O.opts);
  return 0;
}
