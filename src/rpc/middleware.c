/* Middleware factories, and the two built-ins: the client's cookie jar
 * (set-cookie in, cookie out) and the server's access log. */
#include <stdio.h>
#include <strings.h>
#include <time.h>

#include "rpc/rpc.h"

/* ---- Factories ------------------------------------------------------------------------------- */

cflight_client_middleware_factory *cflight_client_middleware_factory_new(
    const cflight_client_middleware_callbacks *callbacks, void *factory_ctx) {
  if (callbacks == NULL) return NULL;
  cflight_client_middleware_factory *f = calloc(1, sizeof(*f));
  if (f == NULL) return NULL;
  atomic_init(&f->refs, 1);
  f->cb = *callbacks;
  f->ctx = factory_ctx;
  return f;
}

cflight_client_middleware_factory *cf_client_mw_ref(cflight_client_middleware_factory *f) {
  atomic_fetch_add(&f->refs, 1);
  return f;
}

void cflight_client_middleware_factory_free(cflight_client_middleware_factory *f) {
  if (f == NULL || atomic_fetch_sub(&f->refs, 1) != 1) return;
  if (f->cb.free_factory_ctx != NULL) f->cb.free_factory_ctx(f->ctx);
  free(f);
}

cflight_server_middleware_factory *cflight_server_middleware_factory_new(
    const cflight_server_middleware_callbacks *callbacks, void *factory_ctx) {
  if (callbacks == NULL) return NULL;
  cflight_server_middleware_factory *f = calloc(1, sizeof(*f));
  if (f == NULL) return NULL;
  atomic_init(&f->refs, 1);
  f->cb = *callbacks;
  f->ctx = factory_ctx;
  return f;
}

cflight_server_middleware_factory *cf_server_mw_ref(cflight_server_middleware_factory *f) {
  atomic_fetch_add(&f->refs, 1);
  return f;
}

void cflight_server_middleware_factory_free(cflight_server_middleware_factory *f) {
  if (f == NULL || atomic_fetch_sub(&f->refs, 1) != 1) return;
  if (f->cb.free_factory_ctx != NULL) f->cb.free_factory_ctx(f->ctx);
  free(f);
}

/* ---- Client cookies -------------------------------------------------------------------------- */

/* What a server can make the jar hold (RFC 6265 6.1 asks for at least 50
 * cookies of 4096 bytes each): a set-cookie beyond that is ignored, so that
 * no server grows a client's memory, or the cookie header of its calls,
 * without bound. */
#define COOKIE_JAR_MAX 64
#define COOKIE_MAX_SIZE 4096
/* The longest a cookie lives (RFC 6265bis caps lifetimes at 400 days);
 * also keeps now + Max-Age from overflowing. */
#define COOKIE_MAX_LIFETIME_S (400LL * 24 * 3600)

typedef struct cookie {
  char *name;
  char *value;
  bool has_expiry;
  time_t expires; /* wall clock, seconds */
} cookie;

typedef struct cookie_jar {
  pthread_mutex_t mu; /* guards the cookies: calls run on many threads */
  cookie *items;
  size_t n, cap;
} cookie_jar;

static void cookie_free(cookie *c) {
  free(c->name);
  free(c->value);
}

static void jar_remove(cookie_jar *j, size_t i) {
  cookie_free(&j->items[i]);
  j->items[i] = j->items[--j->n];
}

static void jar_expire(cookie_jar *j, time_t now) {
  for (size_t i = 0; i < j->n;) {
    if (j->items[i].has_expiry && j->items[i].expires <= now) {
      jar_remove(j, i);
    } else {
      i++;
    }
  }
}

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  return p;
}

static const char *trim_end(const char *start, const char *p) {
  while (p > start && (p[-1] == ' ' || p[-1] == '\t'))
    p--;
  return p;
}

/* An HTTP date (RFC 1123, RFC 850 or asctime form) to seconds. */
static bool parse_http_date(const char *s, time_t *out) {
  static const char *const formats[] = {"%a, %d %b %Y %H:%M:%S", "%a, %d-%b-%Y %H:%M:%S",
                                        "%A, %d-%b-%y %H:%M:%S", "%a %b %d %H:%M:%S %Y"};
  for (size_t i = 0; i < CF_ARRAY_SIZE(formats); i++) {
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (strptime(s, formats[i], &tm) != NULL) {
      *out = timegm(&tm);
      return true;
    }
  }
  return false;
}

/* Parses one set-cookie value and updates the jar. [mu] */
static void jar_set_cookie(cookie_jar *j, const char *v, size_t n, time_t now) {
  if (n > COOKIE_MAX_SIZE) return;
  const char *end = v + n;
  const char *semi = memchr(v, ';', n);
  const char *pair_end = semi != NULL ? semi : end;
  const char *eq = memchr(v, '=', (size_t)(pair_end - v));
  if (eq == NULL) return;
  const char *ns = skip_ws(v, eq), *ne = trim_end(ns, eq);
  const char *vs = skip_ws(eq + 1, pair_end), *ve = trim_end(vs, pair_end);
  if (ne == ns) return;
  if (ve - vs >= 2 && vs[0] == '"' && ve[-1] == '"') {
    vs++;
    ve--;
  }
  bool has_max_age = false, has_expires = false;
  long long max_age = 0;
  time_t expires = 0;
  for (const char *p = semi; p != NULL && p < end;) {
    const char *a = p + 1;
    const char *next = memchr(a, ';', (size_t)(end - a));
    const char *ae = next != NULL ? next : end;
    const char *aeq = memchr(a, '=', (size_t)(ae - a));
    const char *ks = skip_ws(a, aeq != NULL ? aeq : ae);
    const char *ke = trim_end(ks, aeq != NULL ? aeq : ae);
    char val[128] = "";
    if (aeq != NULL) {
      const char *s = skip_ws(aeq + 1, ae), *e = trim_end(s, ae);
      snprintf(val, sizeof(val), "%.*s", (int)(e - s), s);
    }
    size_t kl = (size_t)(ke - ks);
    if (kl == 7 && strncasecmp(ks, "max-age", 7) == 0) {
      char *stop = NULL;
      long long x = strtoll(val, &stop, 10);
      if (val[0] != '\0' && stop != NULL && *stop == '\0') {
        has_max_age = true;
        max_age = x;
      }
    } else if (kl == 7 && strncasecmp(ks, "expires", 7) == 0) {
      has_expires = parse_http_date(val, &expires);
    }
    p = next;
  }
  cookie c = {0};
  /* Max-Age wins over Expires (RFC 6265 5.3). */
  if (has_max_age) {
    c.has_expiry = true;
    c.expires =
        max_age <= 0
            ? 0
            : now + (time_t)(max_age < COOKIE_MAX_LIFETIME_S ? max_age : COOKIE_MAX_LIFETIME_S);
  } else if (has_expires) {
    c.has_expiry = true;
    c.expires = expires - now > (time_t)COOKIE_MAX_LIFETIME_S ? now + (time_t)COOKIE_MAX_LIFETIME_S
                                                              : expires;
  }
  for (size_t i = 0; i < j->n; i++) {
    if (strlen(j->items[i].name) == (size_t)(ne - ns) &&
        strncasecmp(j->items[i].name, ns, (size_t)(ne - ns)) == 0) {
      jar_remove(j, i);
      break;
    }
  }
  if (c.has_expiry && c.expires <= now) return; /* a deletion */
  if (j->n == COOKIE_JAR_MAX) return;
  c.name = cf_strndup(ns, (size_t)(ne - ns));
  c.value = cf_strndup(vs, (size_t)(ve - vs));
  if (c.name == NULL || c.value == NULL || (j->n == j->cap && j->cap > SIZE_MAX / 2)) {
    cookie_free(&c);
    return;
  }
  if (j->n == j->cap) {
    size_t cap = j->cap ? j->cap * 2 : 8;
    cookie *items = realloc(j->items, cap * sizeof(*items));
    if (items == NULL) {
      cookie_free(&c);
      return;
    }
    j->items = items;
    j->cap = cap;
  }
  j->items[j->n++] = c;
}

static int cookie_start(void *factory_ctx, const cflight_call_info *info, void **instance,
                        cflight_error *err) {
  CF_UNUSED(info);
  CF_UNUSED(err);
  *instance = factory_ctx; /* the jar itself: no state per call */
  return CFLIGHT_OK;
}

static void cookie_sending(void *instance, cflight_headers *outgoing) {
  cookie_jar *j = instance;
  cf_bytes b = {0};
  pthread_mutex_lock(&j->mu);
  jar_expire(j, time(NULL));
  for (size_t i = 0; i < j->n; i++) {
    if (b.len > 0) cf_bytes_append(&b, "; ", 2, NULL);
    cf_bytes_append(&b, j->items[i].name, strlen(j->items[i].name), NULL);
    cf_bytes_append(&b, "=", 1, NULL);
    cf_bytes_append(&b, j->items[i].value, strlen(j->items[i].value), NULL);
  }
  pthread_mutex_unlock(&j->mu);
  if (b.len > 0) cflight_headers_add(outgoing, "cookie", b.data, b.len, NULL);
  cf_bytes_reset(&b);
}

static void cookie_received(void *instance, const cflight_headers *incoming) {
  cookie_jar *j = instance;
  time_t now = time(NULL);
  pthread_mutex_lock(&j->mu);
  jar_expire(j, now); /* expired cookies leave room for new ones */
  for (size_t i = 0; i < cflight_headers_count(incoming); i++) {
    if (strcasecmp(cflight_headers_key(incoming, i), "set-cookie") != 0) continue;
    size_t n = 0;
    const uint8_t *v = cflight_headers_value(incoming, i, &n);
    jar_set_cookie(j, (const char *)v, n, now);
  }
  pthread_mutex_unlock(&j->mu);
}

static void cookie_completed(void *instance, const cflight_error *status) {
  CF_UNUSED(instance);
  CF_UNUSED(status);
}

static void cookie_jar_free(void *ctx) {
  cookie_jar *j = ctx;
  for (size_t i = 0; i < j->n; i++)
    cookie_free(&j->items[i]);
  free(j->items);
  pthread_mutex_destroy(&j->mu);
  free(j);
}

cflight_client_middleware_factory *cflight_client_cookie_middleware_new(void) {
  cookie_jar *j = calloc(1, sizeof(*j));
  if (j == NULL) return NULL;
  pthread_mutex_init(&j->mu, NULL);
  cflight_client_middleware_callbacks cb = {cookie_start, cookie_sending, cookie_received,
                                            cookie_completed, cookie_jar_free};
  cflight_client_middleware_factory *f = cflight_client_middleware_factory_new(&cb, j);
  if (f == NULL) cookie_jar_free(j);
  return f;
}

/* ---- Server access log ----------------------------------------------------------------------- */

typedef struct log_call {
  FILE *out;
  cf_method method;
  char peer[128];
  int64_t start_ns;
} log_call;

static int log_start(void *factory_ctx, const cflight_call_info *info,
                     const cflight_headers *incoming, void **instance, cflight_error *err) {
  CF_UNUSED(incoming);
  log_call *l = malloc(sizeof(*l));
  if (l == NULL) return CF_NOMEM(err, "log entry");
  l->out = factory_ctx != NULL ? factory_ctx : stderr;
  l->method = info->method;
  snprintf(l->peer, sizeof(l->peer), "%s", info->peer != NULL ? info->peer : "");
  l->start_ns = cf_now_ns();
  *instance = l;
  return CFLIGHT_OK;
}

static void log_completed(void *instance, const cflight_error *status) {
  log_call *l = instance;
  double ms = (double)(cf_now_ns() - l->start_ns) / 1e6;
  /* One fprintf per line: stdio locks the stream, so lines from
   * concurrent calls do not interleave. */
  fprintf(l->out, "cflight: %s %s %s %.3f ms\n", cf_method_name(l->method), l->peer,
          cflight_code_name(status != NULL ? status->code : CFLIGHT_OK), ms);
  fflush(l->out);
  free(l);
}

cflight_server_middleware_factory *cflight_server_log_middleware_new(void *out) {
  cflight_server_middleware_callbacks cb = {log_start, NULL, log_completed, NULL};
  return cflight_server_middleware_factory_new(&cb, out);
}
