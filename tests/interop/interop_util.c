/* Shared code of the interop drivers: see interop_util.h. */
#include "interop_util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const it_datasets[] = {
    "generated_binary",
    "generated_binary_no_batches",
    "generated_binary_view",
    "generated_binary_zerolength",
    "generated_custom_metadata",
    "generated_datetime",
    "generated_decimal",
    "generated_decimal256",
    "generated_decimal32",
    "generated_decimal64",
    "generated_dictionary",
    "generated_dictionary_unsigned",
    "generated_duplicate_fieldnames",
    "generated_duration",
    "generated_extension",
    "generated_interval",
    "generated_interval_mdn",
    "generated_large_binary",
    "generated_map",
    "generated_map_non_canonical",
    "generated_nested",
    "generated_nested_dictionary",
    "generated_nested_large_offsets",
    "generated_null",
    "generated_null_trivial",
    "generated_primitive",
    "generated_primitive_no_batches",
    "generated_primitive_zerolength",
    "generated_recursive_nested",
    "generated_union",
};
const size_t it_n_datasets = sizeof(it_datasets) / sizeof(it_datasets[0]);

const char *const it_locations[2] = {"arrow-flight-reuse-connection://?",
                                     "grpc+tls://flight.example.com:8443"};

/* google.rpc.Status{code 9, message "details ✓", details [Any{type_url
 * "type.googleapis.com/cflight.interop.Detail", value 00 01 FE FF}]}. */
const uint8_t it_details[] = {
    0x08, 0x09, 0x12, 0x0b, 'd', 'e', 't', 'a', 'i', 'l', 's',  ' ',  0xe2, 0x9c, 0x93, 0x1a, 0x32,
    0x0a, 0x2a, 't',  'y',  'p', 'e', '.', 'g', 'o', 'o', 'g',  'l',  'e',  'a',  'p',  'i',  's',
    '.',  'c',  'o',  'm',  '/', 'c', 'f', 'l', 'i', 'g', 'h',  't',  '.',  'i',  'n',  't',  'e',
    'r',  'o',  'p',  '.',  'D', 'e', 't', 'a', 'i', 'l', 0x12, 0x04, 0x00, 0x01, 0xfe, 0xff};
const size_t it_details_size = sizeof(it_details);

const char *const it_actions[][2] = {
    {"echo", "Returns the body \xe2\x80\x94 unchanged \xe2\x80\x94 as one result"},
    {"count", "N results, \"0\" to \"N-1\""},
    {"fail", "Fails with the status CODE:MESSAGE"},
    {"fail-details", "Fails with FAILED_PRECONDITION and status details"},
    {"fail-after", "N results, then the status CODE:MESSAGE"},
    {"headers", "The request headers, as KEY=VALUE results"},
    {"sleep", "Sleeps for the body's milliseconds"},
    {"deadline", "Milliseconds left before the call's deadline"},
    {"probe", "How the last sleep or endless call ended"},
    {"CancelFlightInfo", "Cancels a flight"},
    {"RenewFlightEndpoint", "Renews an endpoint for an hour"},
    {"SetSessionOptions", "Sets session options"},
    {"GetSessionOptions", "Gets session options"},
    {"CloseSession", "Closes the session"},
};
const size_t it_n_actions = sizeof(it_actions) / sizeof(it_actions[0]);

/* ---- Command lines ------------------------------------------------------------------------ */

static const char *run_only; /* --only, for it_run */

static void usage(const char *prog, const char *why) {
  fprintf(stderr,
          "%s: %s\nusage: %s [--port N] [--host H] [--gold DIR] [--only SUBSTRING] [--peer NAME] "
          "[--exit-on-eof] [--security] [--certs DIR] [--ports \"NAME=PORT ...\"]\n",
          prog, why, prog);
  exit(2);
}

void it_parse_args(int argc, char **argv, it_args *out) {
  static char gold[4096], certs[4096];
  memset(out, 0, sizeof(*out));
  out->host = "127.0.0.1";
  const char *data = getenv("CFLIGHT_TEST_DATA");
  if (data == NULL) data = "../shared/arrow-testing/data";
  snprintf(gold, sizeof(gold), "%s/arrow-ipc-stream/integration/cpp-21.0.0", data);
  snprintf(certs, sizeof(certs), "%s/flight", data);
  out->gold = gold;
  out->certs = certs;
  out->ports = "";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--exit-on-eof") == 0) {
      out->exit_on_eof = true;
      continue;
    }
    if (strcmp(a, "--security") == 0) {
      out->security = true;
      continue;
    }
    if (i + 1 >= argc) usage(argv[0], "an option lacks its value");
    const char *v = argv[++i];
    if (strcmp(a, "--port") == 0)
      out->port = atoi(v);
    else if (strcmp(a, "--host") == 0)
      out->host = v;
    else if (strcmp(a, "--gold") == 0)
      out->gold = v;
    else if (strcmp(a, "--only") == 0)
      out->only = v;
    else if (strcmp(a, "--peer") == 0)
      out->peer = v;
    else if (strcmp(a, "--certs") == 0)
      out->certs = v;
    else if (strcmp(a, "--ports") == 0)
      out->ports = v;
    else
      usage(argv[0], "unknown option");
  }
  run_only = out->only;
}

int it_named_port(const it_args *args, const char *name) {
  size_t n = strlen(name);
  for (const char *p = args->ports; *p != '\0';) {
    while (*p == ' ')
      p++;
    const char *end = strchr(p, ' ');
    if (end == NULL) end = p + strlen(p);
    if ((size_t)(end - p) > n && strncmp(p, name, n) == 0 && p[n] == '=') return atoi(p + n + 1);
    p = end;
  }
  return 0;
}

/* ---- The security configuration ------------------------------------------------------ */

const char *const it_security_ports[] = {"tls", "mtls", "mtls_wrong_ca", "bearer", "handshake"};
const size_t it_n_security_ports = sizeof(it_security_ports) / sizeof(it_security_ports[0]);

char *it_read_pem(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  long n = -1;
  if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
    text = malloc((size_t)n + 1);
  if (text != NULL && fread(text, 1, (size_t)n, f) == (size_t)n) {
    text[n] = '\0';
  } else {
    fprintf(stderr, "cannot read %s\n", path);
    free(text);
    text = NULL;
  }
  if (f != NULL) fclose(f);
  return text;
}

const char *it_own_certs(void) {
  return IT_SOURCE_DIR "/certs";
}

/* ---- Checks ------------------------------------------------------------------------------ */

static int n_passed, n_failed;
static const char *current = "";
static char current_arg[200];
static bool current_failed;

void it_fail(const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  printf("FAIL %s%s%s: %s\n", current, current_arg[0] ? " " : "", current_arg, msg);
  fflush(stdout);
  current_failed = true;
}

bool it_ok(int rc, cflight_error *err, const char *what) {
  if (rc == CFLIGHT_OK) return true;
  it_fail("%s: %s: %s", what, cflight_code_name(rc), err->message);
  cflight_error_reset(err);
  return false;
}

void it_expect_status(const char *what, int rc, cflight_error *err, int code, const char *message) {
  if (rc != code) {
    it_fail("%s: %s expected, got %s: %s", what, cflight_code_name(code), cflight_code_name(rc),
            rc ? err->message : "");
  } else if (message != NULL && strcmp(err->message, message) != 0) {
    it_fail("%s: message \"%s\" expected, got \"%s\"", what, it_show(message, strlen(message)),
            it_show(err->message, strlen(err->message)));
  }
  cflight_error_reset(err);
}

void it_run(const char *name, const char *arg, void (*fn)(const char *)) {
  char full[300];
  snprintf(full, sizeof(full), "%s%s%s", name, arg ? " " : "", arg ? arg : "");
  if (run_only != NULL && strstr(full, run_only) == NULL) return;
  current = name;
  snprintf(current_arg, sizeof(current_arg), "%s", arg ? arg : "");
  current_failed = false;
  fn(arg);
  if (current_failed)
    n_failed++;
  else
    n_passed++;
}

int it_summary(const char *peer) {
  printf("%d checks passed, %d failed (peer: %s)\n", n_passed, n_failed, peer ? peer : "?");
  return n_failed == 0 && n_passed > 0 ? 0 : 1;
}

/* ---- Gold datasets ---------------------------------------------------------------------- */

void it_gold_path(const char *dir, const char *name, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s.stream", dir, name);
}

void it_gold_free(it_gold *g) {
  if (g->schema.release != NULL) g->schema.release(&g->schema);
  for (size_t i = 0; i < g->n_batches; i++)
    if (g->batches[i].release != NULL) g->batches[i].release(&g->batches[i]);
  free(g->batches);
  memset(g, 0, sizeof(*g));
}

int it_gold_load(const char *dir, const char *name, it_gold *out, cflight_error *err) {
  memset(out, 0, sizeof(*out));
  char path[4096];
  it_gold_path(dir, name, path, sizeof(path));
  struct ArrowArrayStream s;
  cflight_ipc_format format;
  int rc = cflight_ipc_open_path(path, NULL, &s, &format, err);
  if (rc != CFLIGHT_OK) return rc;
  rc = s.get_schema(&s, &out->schema);
  size_t cap = 0;
  while (rc == 0) {
    struct ArrowArray a;
    rc = s.get_next(&s, &a);
    if (rc != 0 || a.release == NULL) break;
    if (out->n_batches == cap) {
      cap = cap ? 2 * cap : 4;
      struct ArrowArray *b = realloc(out->batches, cap * sizeof(*b));
      if (b == NULL) {
        a.release(&a);
        rc = CFLIGHT_NO_MEMORY;
        break;
      }
      out->batches = b;
    }
    out->rows += a.length;
    out->batches[out->n_batches++] = a;
  }
  if (rc != 0) {
    const char *e = s.get_last_error(&s);
    cflight_error_set(err, CFLIGHT_INVALID_DATA, "%s: %s", path, e ? e : "read failed");
    rc = CFLIGHT_INVALID_DATA;
  }
  s.release(&s);
  if (rc != 0) it_gold_free(out);
  return rc;
}

/* ---- Comparisons -------------------------------------------------------------------------- */

static bool differ(char *why, size_t cap, const char *path, const char *fmt, ...)
    CFLIGHT_PRINTF(4, 5);

static bool differ(char *why, size_t cap, const char *path, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  snprintf(why, cap, "%s: %s", path[0] ? path : "schema", what);
  return false;
}

typedef struct kv {
  const char *k, *v;
  int32_t kn, vn;
} kv;

static int kv_cmp(const void *a, const void *b) {
  const kv *x = a, *y = b;
  int32_t n = x->kn < y->kn ? x->kn : y->kn;
  int c = memcmp(x->k, y->k, (size_t)n);
  if (c != 0 || x->kn != y->kn) return c != 0 ? c : (x->kn < y->kn ? -1 : 1);
  n = x->vn < y->vn ? x->vn : y->vn;
  c = memcmp(x->v, y->v, (size_t)n);
  if (c != 0 || x->vn != y->vn) return c != 0 ? c : (x->vn < y->vn ? -1 : 1);
  return 0;
}

/* The pairs of C Data Interface metadata, sorted; NULL metadata is empty. */
static kv *metadata_pairs(const char *md, int32_t *n) {
  *n = 0;
  if (md == NULL) return NULL;
  int32_t count;
  memcpy(&count, md, 4);
  const char *p = md + 4;
  kv *out = calloc(count > 0 ? (size_t)count : 1, sizeof(kv));
  if (out == NULL) return NULL;
  for (int32_t i = 0; i < count; i++) {
    memcpy(&out[i].kn, p, 4);
    out[i].k = p + 4;
    p += 4 + out[i].kn;
    memcpy(&out[i].vn, p, 4);
    out[i].v = p + 4;
    p += 4 + out[i].vn;
  }
  qsort(out, (size_t)count, sizeof(kv), kv_cmp);
  *n = count;
  return out;
}

static bool schema_equal(const struct ArrowSchema *a, const struct ArrowSchema *b, char *path,
                         size_t path_len, bool ignore_names, char *why, size_t cap) {
  const char *an = a->name ? a->name : "", *bn = b->name ? b->name : "";
  size_t len = strlen(path);
  snprintf(path + len, path_len - len, "%s%s", len ? "." : "", an[0] ? an : "\"\"");
  if (!ignore_names && strcmp(an, bn) != 0)
    return differ(why, cap, path, "name \"%s\" expected, got \"%s\"", an, bn);
  if (strcmp(a->format, b->format) != 0)
    return differ(why, cap, path, "format \"%s\" expected, got \"%s\"", a->format, b->format);
  if (a->flags != b->flags)
    return differ(why, cap, path, "flags %lld expected, got %lld", (long long)a->flags,
                  (long long)b->flags);
  int32_t na, nb;
  kv *ma = metadata_pairs(a->metadata, &na), *mb = metadata_pairs(b->metadata, &nb);
  bool same = na == nb;
  for (int32_t i = 0; same && i < na; i++)
    same = kv_cmp(&ma[i], &mb[i]) == 0;
  if (!same) {
    free(ma);
    free(mb);
    return differ(why, cap, path, "metadata of %d pairs expected, got %d different ones", na, nb);
  }
  free(ma);
  free(mb);
  if (a->n_children != b->n_children)
    return differ(why, cap, path, "%lld children expected, got %lld", (long long)a->n_children,
                  (long long)b->n_children);
  bool map = strcmp(a->format, "+m") == 0;
  for (int64_t i = 0; i < a->n_children; i++) {
    if (!schema_equal(a->children[i], b->children[i], path, path_len, ignore_names || map, why,
                      cap))
      return false;
    path[len] = '\0';
    snprintf(path + len, path_len - len, "%s%s", len ? "." : "", an[0] ? an : "\"\"");
  }
  if ((a->dictionary == NULL) != (b->dictionary == NULL))
    return differ(why, cap, path, "a dictionary %s", a->dictionary ? "expected" : "not expected");
  if (a->dictionary != NULL) {
    size_t l2 = strlen(path);
    snprintf(path + l2, path_len - l2, "<dictionary>");
    if (!schema_equal(a->dictionary, b->dictionary, path, path_len, true, why, cap)) return false;
  }
  return true;
}

bool it_schema_equal(const struct ArrowSchema *want, const struct ArrowSchema *got, char *why,
                     size_t cap) {
  char path[2048] = "";
  if (got == NULL || got->release == NULL) return differ(why, cap, path, "no schema");
  return schema_equal(want, got, path, sizeof(path), false, why, cap);
}

bool it_buffer_is(const cflight_buffer *b, const void *text, size_t len) {
  size_t n = b != NULL ? cflight_buffer_size(b) : 0;
  if (n != len) return false;
  return len == 0 || memcmp(cflight_buffer_data(b), text, len) == 0;
}

const char *it_show(const void *data, size_t len) {
  static _Thread_local char bufs[4][1024];
  static _Thread_local int which;
  char *out = bufs[which++ & 3];
  size_t o = 0;
  const uint8_t *p = data;
  if (data == NULL) return "(none)";
  for (size_t i = 0; i < len && o + 8 < sizeof(bufs[0]); i++) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
      out[o++] = (char)p[i];
    else
      o += (size_t)snprintf(out + o, sizeof(bufs[0]) - o, "\\x%02x", p[i]);
  }
  if (o + 8 >= sizeof(bufs[0])) o += (size_t)snprintf(out + o, sizeof(bufs[0]) - o, "...");
  out[o] = '\0';
  return out;
}

/* ---- int64 batches ------------------------------------------------------------------------ */

static void schema_release(struct ArrowSchema *s) {
  for (int64_t i = 0; i < s->n_children; i++) {
    if (s->children[i]->release != NULL) s->children[i]->release(s->children[i]);
    free(s->children[i]);
  }
  free(s->children);
  free((void *)s->name);
  s->release = NULL;
}

void it_int64_schema(const char *name, struct ArrowSchema *out) {
  struct ArrowSchema *child = calloc(1, sizeof(*child));
  struct ArrowSchema **children = calloc(1, sizeof(*children));
  if (child == NULL || children == NULL) abort();
  *child = (struct ArrowSchema){.format = "l", .name = strdup(name), .release = schema_release};
  children[0] = child;
  *out = (struct ArrowSchema){.format = "+s",
                              .name = strdup(""),
                              .n_children = 1,
                              .children = children,
                              .release = schema_release};
}

typedef struct batch_mem {
  struct ArrowArray child;
  struct ArrowArray *children[1];
  const void *buffers[2];
  const void *struct_buffers[1];
  int64_t values[];
} batch_mem;

static void child_release(struct ArrowArray *a) {
  a->release = NULL;
}

static void batch_release(struct ArrowArray *a) {
  batch_mem *m = a->private_data;
  if (m->child.release != NULL) m->child.release(&m->child);
  free(m);
  a->release = NULL;
}

bool it_int64_batch(int64_t rows, int64_t first, struct ArrowArray *out) {
  batch_mem *m = malloc(sizeof(*m) + (size_t)rows * sizeof(int64_t));
  if (m == NULL) return false;
  for (int64_t i = 0; i < rows; i++)
    m->values[i] = first + i;
  m->buffers[0] = NULL;
  m->buffers[1] = m->values;
  m->struct_buffers[0] = NULL;
  m->child = (struct ArrowArray){.length = rows,
                                 .n_buffers = 2,
                                 .buffers = m->buffers,
                                 .release = child_release,
                                 .private_data = m};
  m->children[0] = &m->child;
  *out = (struct ArrowArray){.length = rows,
                             .n_buffers = 1,
                             .n_children = 1,
                             .buffers = m->struct_buffers,
                             .children = m->children,
                             .release = batch_release,
                             .private_data = m};
  return true;
}

const int64_t *it_int64_values(const struct ArrowArray *batch) {
  if (batch == NULL || batch->n_children < 1 || batch->children[0]->n_buffers < 2) return NULL;
  const struct ArrowArray *c = batch->children[0];
  const int64_t *v = c->buffers[1];
  return v != NULL ? v + c->offset + batch->offset : NULL;
}

int64_t it_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void it_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- Response headers, seen through a client middleware ------------------------------------ */

#define REC_MAX 32

typedef struct recorder {
  pthread_mutex_t mu;
  size_t n;
  char keys[REC_MAX][64];
  uint8_t values[REC_MAX][64];
  size_t sizes[REC_MAX];
} recorder;

static recorder received = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int rec_start(void *factory_ctx, const cflight_call_info *info, void **instance,
                     cflight_error *err) {
  (void)info;
  (void)err;
  recorder *r = factory_ctx;
  pthread_mutex_lock(&r->mu);
  r->n = 0;
  pthread_mutex_unlock(&r->mu);
  *instance = r;
  return CFLIGHT_OK;
}

static void rec_received(void *instance, const cflight_headers *h) {
  recorder *r = instance;
  pthread_mutex_lock(&r->mu);
  for (size_t i = 0; i < cflight_headers_count(h) && r->n < REC_MAX; i++) {
    const char *k = cflight_headers_key(h, i);
    if (strncmp(k, "x-", 2) != 0) continue;
    size_t n = 0;
    const uint8_t *v = cflight_headers_value(h, i, &n);
    snprintf(r->keys[r->n], sizeof(r->keys[0]), "%s", k);
    r->sizes[r->n] = n < sizeof(r->values[0]) ? n : sizeof(r->values[0]);
    if (r->sizes[r->n] > 0) memcpy(r->values[r->n], v, r->sizes[r->n]);
    r->n++;
  }
  pthread_mutex_unlock(&r->mu);
}

cflight_client_middleware_factory *it_header_recorder_new(void) {
  cflight_client_middleware_callbacks cb = {.start_call = rec_start,
                                            .received_headers = rec_received};
  return cflight_client_middleware_factory_new(&cb, &received);
}

bool it_received_header(const char *key, const void *value, size_t size) {
  bool found = false;
  pthread_mutex_lock(&received.mu);
  for (size_t i = 0; i < received.n; i++)
    if (strcmp(received.keys[i], key) == 0 && received.sizes[i] == size &&
        memcmp(received.values[i], value, size) == 0)
      found = true;
  pthread_mutex_unlock(&received.mu);
  return found;
}
