/* Authentication for cflight serve (see auth.h). */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define TOKEN_LIFETIME_S (24 * 3600)
#define TOKEN_PREFIX "cf1."

typedef struct user_entry {
  char *name;
  char *password;
} user_entry;

struct auth {
  user_entry *users;
  size_t n_users;
  char **tokens; /* static tokens */
  size_t n_tokens;
  uint8_t key[32]; /* signs issued tokens */
};

static void wipe(char *s) {
  if (s != NULL) OPENSSL_cleanse(s, strlen(s));
}

void auth_free(auth *a) {
  if (a == NULL) return;
  for (size_t i = 0; i < a->n_users; i++) {
    free(a->users[i].name);
    wipe(a->users[i].password);
    free(a->users[i].password);
  }
  for (size_t i = 0; i < a->n_tokens; i++) {
    wipe(a->tokens[i]);
    free(a->tokens[i]);
  }
  free(a->users);
  free(a->tokens);
  OPENSSL_cleanse(a->key, sizeof(a->key));
  free(a);
}

static void warn_if_readable(const char *path) {
  struct stat st;
  if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
    cli_warnf("%s can be read by other users (chmod 600 %s)", path, path);
  }
}

/* Calls line_fn for each line that is not empty or a comment. */
static int each_line(const char *path, const char *what,
                     int (*line_fn)(auth *, const char *, size_t, int, cflight_error *), auth *a,
                     cflight_error *err) {
  char *text = NULL;
  size_t size = 0;
  CF_RETURN_NOT_OK(read_text_file(path, what, 16 << 20, &text, &size, err));
  warn_if_readable(path);
  int rc = CFLIGHT_OK;
  int lineno = 0;
  for (char *p = text; rc == CFLIGHT_OK && p < text + size;) {
    char *nl = memchr(p, '\n', (size_t)(text + size - p));
    size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(text + size - p);
    lineno++;
    if (len > 0 && p[len - 1] == '\r') len--;
    if (len > 0 && p[0] != '#') rc = line_fn(a, p, len, lineno, err);
    p += len + 1;
    if (nl == NULL) break;
  }
  if (rc != CFLIGHT_OK) err_prefix(err, "%s", path);
  OPENSSL_cleanse(text, size);
  free(text);
  return rc;
}

static int add_user(auth *a, const char *line, size_t len, int lineno, cflight_error *err) {
  const char *colon = memchr(line, ':', len);
  if (colon == NULL || colon == line) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "line %d is not user:password", lineno);
  }
  user_entry *u = cf_realloc(a->users, (a->n_users + 1) * sizeof(user_entry));
  if (u == NULL) return CF_NOMEM(err, "users");
  a->users = u;
  user_entry *nu = &a->users[a->n_users];
  nu->name = cf_strndup(line, (size_t)(colon - line));
  nu->password = cf_strndup(colon + 1, len - (size_t)(colon - line) - 1);
  if (nu->name == NULL || nu->password == NULL) {
    free(nu->name);
    free(nu->password);
    return CF_NOMEM(err, "users");
  }
  a->n_users++;
  return CFLIGHT_OK;
}

static int add_token(auth *a, const char *line, size_t len, int lineno, cflight_error *err) {
  while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
    len--;
  if (len < 8) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "line %d: a token must have at least 8 characters", lineno);
  }
  char **t = cf_realloc(a->tokens, (a->n_tokens + 1) * sizeof(char *));
  if (t == NULL) return CF_NOMEM(err, "tokens");
  a->tokens = t;
  a->tokens[a->n_tokens] = cf_strndup(line, len);
  if (a->tokens[a->n_tokens] == NULL) return CF_NOMEM(err, "tokens");
  a->n_tokens++;
  return CFLIGHT_OK;
}

int auth_new(const char *passwords_file, const char *tokens_file, auth **out, cflight_error *err) {
  *out = NULL;
  auth *a = cf_calloc(1, sizeof(*a));
  if (a == NULL) return CF_NOMEM(err, "authentication");
  int rc = CFLIGHT_OK;
  if (RAND_bytes(a->key, sizeof(a->key)) != 1) {
    rc = cflight_error_set(err, CFLIGHT_INTERNAL, "no random bytes for the token key");
  }
  if (rc == CFLIGHT_OK && passwords_file != NULL) {
    rc = each_line(passwords_file, "password file (--auth-basic)", add_user, a, err);
    if (rc == CFLIGHT_OK && a->n_users == 0) {
      rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "%s: no users (write one user:password per line)", passwords_file);
    }
  }
  if (rc == CFLIGHT_OK && tokens_file != NULL) {
    rc = each_line(tokens_file, "token file (--auth-token)", add_token, a, err);
    if (rc == CFLIGHT_OK && a->n_tokens == 0) {
      rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "%s: no tokens (write one token per line)", tokens_file);
    }
  }
  if (rc != CFLIGHT_OK) {
    auth_free(a);
    return rc;
  }
  *out = a;
  return CFLIGHT_OK;
}

bool auth_enabled(const auth *a) {
  return a != NULL && (a->n_users > 0 || a->n_tokens > 0);
}

size_t auth_user_count(const auth *a) {
  return a != NULL ? a->n_users : 0;
}

/* Constant-time comparison of secrets of possibly different lengths. */
static bool secret_equal(const char *a, size_t na, const char *b, size_t nb) {
  unsigned char diff = na != nb;
  size_t n = na < nb ? na : nb;
  for (size_t i = 0; i < n; i++)
    diff |= (unsigned char)(a[i] ^ b[i]);
  return diff == 0;
}

static const char *check_password(auth *a, const char *name, const char *password, size_t plen) {
  const char *found = NULL;
  for (size_t i = 0; i < a->n_users; i++) {
    if (strcmp(a->users[i].name, name) == 0 &&
        secret_equal(a->users[i].password, strlen(a->users[i].password), password, plen)) {
      found = a->users[i].name;
    }
  }
  return found;
}

/* ---- Tokens: cf1.<expiry hex>.<user base64>.<hmac hex> ------------------------------------- */

static void token_mac(auth *a, const char *msg, size_t len, char hex[65]) {
  unsigned char mac[32];
  unsigned int mlen = sizeof(mac);
  HMAC(EVP_sha256(), a->key, sizeof(a->key), (const unsigned char *)msg, len, mac, &mlen);
  for (unsigned i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", mac[i]);
}

char *auth_issue_token(auth *a, const char *name) {
  sbuf b;
  sb_init(&b);
  sb_printf(&b, TOKEN_PREFIX "%llx.", (unsigned long long)time(NULL) + TOKEN_LIFETIME_S);
  sb_base64(&b, (const uint8_t *)name, strlen(name));
  char hex[65];
  token_mac(a, sb_str(&b), b.len, hex);
  sb_putc(&b, '.');
  sb_puts(&b, hex);
  return sb_take(&b);
}

bool auth_check_token(auth *a, const char *token, size_t len, char **user) {
  *user = NULL;
  for (size_t i = 0; i < a->n_tokens; i++) {
    if (secret_equal(a->tokens[i], strlen(a->tokens[i]), token, len)) {
      *user = strdup("(token)");
      return *user != NULL;
    }
  }
  if (len < 4 + 64 + 4 || len > 4096 || memcmp(token, TOKEN_PREFIX, 4) != 0) return false;
  const char *mac = token + len - 64;
  if (mac[-1] != '.') return false;
  char want[65];
  token_mac(a, token, (size_t)(mac - 1 - token), want);
  if (CRYPTO_memcmp(want, mac, 64) != 0) return false;
  /* Signed by us: the fields are ours. */
  char *end;
  unsigned long long expiry = strtoull(token + 4, &end, 16);
  if (*end != '.' || (long long)expiry < (long long)time(NULL)) return false;
  const char *b64 = end + 1;
  uint8_t *name;
  size_t nlen;
  if (!base64_decode(b64, (size_t)(mac - 1 - b64), &name, &nlen)) return false;
  *user = cf_strndup((const char *)name, nlen);
  free(name);
  return *user != NULL;
}

/* "Basic base64(user:password)" -> the user, if the password is right. */
static char *check_basic_header(auth *a, const uint8_t *v, size_t n) {
  if (n < 7 || strncasecmp((const char *)v, "Basic ", 6) != 0) return NULL;
  uint8_t *creds;
  size_t clen;
  if (!base64_decode((const char *)v + 6, n - 6, &creds, &clen)) return NULL;
  char *colon = memchr(creds, ':', clen);
  char *result = NULL;
  if (colon != NULL) {
    *colon = '\0';
    const char *pw = colon + 1;
    const char *name =
        check_password(a, (const char *)creds, pw, clen - (size_t)(colon + 1 - (char *)creds));
    if (name != NULL) result = strdup(name);
  }
  OPENSSL_cleanse(creds, clen);
  free(creds);
  return result;
}

/* ---- The middleware --------------------------------------------------------------------- */

static int mw_start(void *factory_ctx, const cflight_call_info *info,
                    const cflight_headers *incoming, void **instance, cflight_error *err) {
  auth *a = factory_ctx;
  *instance = NULL;
  if (strcmp(cflight_call_info_method(info), "Handshake") == 0) return CFLIGHT_OK;
  size_t n;
  char *who = NULL;
  const uint8_t *v = cflight_headers_get(incoming, "authorization", &n);
  if (v != NULL && n > 7 && strncasecmp((const char *)v, "Bearer ", 7) == 0) {
    auth_check_token(a, (const char *)v + 7, n - 7, &who);
  } else if (v != NULL) {
    who = check_basic_header(a, v, n);
  }
  if (who == NULL) {
    const uint8_t *t = cflight_headers_get(incoming, "auth-token-bin", &n);
    if (t != NULL) auth_check_token(a, (const char *)t, n, &who);
  }
  if (who == NULL) {
    return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED,
                             v != NULL ? "invalid or expired credentials: log in again"
                                       : "authentication required: log in (Handshake with "
                                         "BasicAuth, or 'authorization: Basic ...') or send a "
                                         "bearer token");
  }
  *instance = who;
  return CFLIGHT_OK;
}

static void mw_completed(void *instance, const cflight_error *status) {
  CF_UNUSED(status);
  free(instance);
}

cflight_server_middleware_factory *auth_middleware_new(auth *a) {
  cflight_server_middleware_callbacks cb = {0};
  cb.start_call = mw_start;
  cb.call_completed = mw_completed;
  return cflight_server_middleware_factory_new(&cb, a);
}

/* ---- The Handshake ---------------------------------------------------------------------- */

int auth_handshake(auth *a, cflight_call_context *ctx, cflight_auth_stream *stream,
                   cflight_error *err) {
  const cflight_headers *h = cflight_call_context_headers(ctx);
  size_t n;
  const uint8_t *v = cflight_headers_get(h, "authorization", &n);
  if (!auth_enabled(a)) {
    /* Nothing to check: accept whatever the client says. */
    for (;;) {
      cflight_buffer *b = NULL;
      if (cflight_auth_stream_read(stream, &b, NULL) != CFLIGHT_OK || b == NULL) break;
      cflight_buffer_unref(b);
    }
    return CFLIGHT_OK;
  }
  if (v != NULL) {
    /* The header scheme: Basic in, Bearer out. */
    char *who = check_basic_header(a, v, n);
    if (who == NULL) {
      return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED, "wrong user name or password");
    }
    char *token = auth_issue_token(a, who);
    free(who);
    if (token == NULL) return CF_NOMEM(err, "a token");
    sbuf hv;
    sb_init(&hv);
    sb_printf(&hv, "Bearer %s", token);
    free(token);
    int rc = hv.failed
                 ? CF_NOMEM(err, "a token")
                 : cflight_call_context_add_header(ctx, "authorization", hv.data, hv.len, err);
    sb_free(&hv);
    return rc;
  }
  /* The BasicAuth handshake: a BasicAuth message in, a token out. */
  cflight_buffer *payload = NULL;
  int rc = cflight_auth_stream_read(stream, &payload, err);
  if (rc != CFLIGHT_OK) return rc;
  if (payload == NULL) {
    return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED,
                             "the handshake carried no credentials (send a BasicAuth message)");
  }
  cflight_basic_auth *ba = NULL;
  rc = cflight_basic_auth_deserialize(cflight_buffer_data(payload), cflight_buffer_size(payload),
                                      &ba, err);
  cflight_buffer_unref(payload);
  if (rc != CFLIGHT_OK) {
    return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED,
                             "the handshake payload is not a BasicAuth message");
  }
  const char *pw = cflight_basic_auth_password(ba);
  const char *who = check_password(a, cflight_basic_auth_username(ba), pw, strlen(pw));
  char *token = who != NULL ? auth_issue_token(a, who) : NULL;
  cflight_basic_auth_free(ba);
  if (who == NULL) {
    return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED, "wrong user name or password");
  }
  if (token == NULL) return CF_NOMEM(err, "a token");
  rc = cflight_auth_stream_write(stream, token, strlen(token), err);
  free(token);
  return rc;
}
