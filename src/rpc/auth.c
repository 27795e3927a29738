/* Authentication, both ways Flight has it:
 * - the Handshake RPC carrying HandshakeRequest/Response payloads between
 *   a client and a server auth handler (pyarrow's ClientAuthHandler /
 *   ServerAuthHandler); the client then sends the token it got in the
 *   "auth-token-bin" header of every call, and the server's is_valid turns
 *   it into the peer identity;
 * - header authentication: a Handshake carrying "authorization: Basic
 *   <base64 user:password>" answered with "authorization: Bearer <token>"
 *   in the response headers, the bearer token then sent on every call.
 * Credentials and tokens never go into error messages. */
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <strings.h>

#include "rpc/rpc.h"

/* ---- base64 ---------------------------------------------------------------------------------- */

char *cf_base64_encode_str(const void *data, size_t size) {
  if (size > (SIZE_MAX / 4) * 3 - 3 || size > INT32_MAX) return NULL;
  char *out = malloc((size + 2) / 3 * 4 + 1);
  if (out == NULL) return NULL;
  EVP_EncodeBlock((unsigned char *)out, data, (int)size);
  return out;
}

bool cf_base64_decode_str(const char *s, size_t len, uint8_t **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (len % 4 != 0 || len > INT32_MAX) return false;
  uint8_t *buf = malloc(len / 4 * 3 + 1);
  if (buf == NULL) return false;
  int n = len > 0 ? EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len) : 0;
  if (n < 0) {
    free(buf);
    return false;
  }
  /* EVP_DecodeBlock counts the bytes that padding stands for. */
  if (len >= 1 && s[len - 1] == '=') n--;
  if (len >= 2 && s[len - 2] == '=') n--;
  buf[n] = '\0';
  *out = buf;
  *out_len = (size_t)n;
  return true;
}

/* ---- The handshake stream -------------------------------------------------------------------- */

int cflight_auth_stream_write(cflight_auth_stream *s, const void *data, size_t size,
                              cflight_error *err) {
  if (s == NULL || (data == NULL && size > 0))
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "auth stream: NULL argument");
  cf_out_msg om;
  int rc;
  if (s->sctx != NULL) {
    cflight_handshake_response *m = NULL;
    CF_RETURN_NOT_OK(cflight_handshake_response_new(0, data, size, &m, err));
    rc = cf_flight_msg_encode(m, &om, err);
    cflight_handshake_response_free(m);
  } else {
    cflight_handshake_request *m = NULL;
    CF_RETURN_NOT_OK(cflight_handshake_request_new(0, data, size, &m, err));
    rc = cf_flight_msg_encode(m, &om, err);
    cflight_handshake_request_free(m);
  }
  if (rc != CFLIGHT_OK) return rc;
  return cf_rpc_send(s->call, s->sctx, &om, false, err);
}

int cflight_auth_stream_read(cflight_auth_stream *s, cflight_buffer **out, cflight_error *err) {
  if (s == NULL || out == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "auth stream: NULL argument");
  *out = NULL;
  if (s->ended) return CFLIGHT_OK;
  cf_msg msg;
  bool more = false;
  CF_RETURN_NOT_OK(cf_call_recv(s->call, &msg, &more, err));
  if (!more) {
    s->ended = true;
    return CFLIGHT_OK;
  }
  const ProtobufCMessageDescriptor *desc =
      s->sctx != NULL ? &arrow__flight__protocol__handshake_request__descriptor
                      : &arrow__flight__protocol__handshake_response__descriptor;
  void *m = NULL;
  int rc = cf_flight_msg_decode(desc, &msg, &m, err);
  cf_msg_reset(&msg);
  if (rc != CFLIGHT_OK) return rc;
  size_t size = 0;
  const uint8_t *payload = s->sctx != NULL ? cflight_handshake_request_payload(m, &size)
                                           : cflight_handshake_response_payload(m, &size);
  *out = cflight_buffer_copy(payload, size);
  cf_pb_free(m);
  return *out != NULL ? CFLIGHT_OK : CF_NOMEM(err, "handshake payload");
}

/* ---- Client handlers ------------------------------------------------------------------------- */

cflight_client_auth_handler *cflight_client_auth_handler_new(
    const cflight_client_auth_callbacks *callbacks, void *ctx) {
  if (callbacks == NULL || callbacks->authenticate == NULL) return NULL;
  cflight_client_auth_handler *h = calloc(1, sizeof(*h));
  if (h == NULL) return NULL;
  h->cb = *callbacks;
  h->ctx = ctx;
  return h;
}

void cflight_client_auth_handler_free(cflight_client_auth_handler *h) {
  if (h == NULL) return;
  if (h->cb.free_ctx != NULL) h->cb.free_ctx(h->ctx);
  free(h);
}

typedef struct basic_client {
  char *username;
  char *password;
  pthread_mutex_t mu; /* guards token */
  cflight_buffer *token;
} basic_client;

static int basic_client_authenticate(void *ctx, cflight_auth_stream *stream, cflight_error *err) {
  basic_client *b = ctx;
  cflight_basic_auth *ba = NULL;
  CF_RETURN_NOT_OK(cflight_basic_auth_new(b->username, b->password, &ba, err));
  cflight_buffer *bytes = NULL;
  int rc = cflight_basic_auth_serialize(ba, &bytes, err);
  cflight_basic_auth_free(ba);
  if (rc == CFLIGHT_OK)
    rc = cflight_auth_stream_write(stream, cflight_buffer_data(bytes), cflight_buffer_size(bytes),
                                   err);
  cflight_buffer_unref(bytes);
  cflight_buffer *token = NULL;
  if (rc == CFLIGHT_OK) rc = cflight_auth_stream_read(stream, &token, err);
  if (rc == CFLIGHT_OK && token == NULL)
    rc = cflight_error_set(err, CFLIGHT_UNAUTHENTICATED, "the server sent no token back");
  if (rc != CFLIGHT_OK) return rc;
  pthread_mutex_lock(&b->mu);
  cflight_buffer_unref(b->token);
  b->token = token;
  pthread_mutex_unlock(&b->mu);
  return CFLIGHT_OK;
}

static int basic_client_get_token(void *ctx, cflight_buffer **token, cflight_error *err) {
  basic_client *b = ctx;
  CF_UNUSED(err);
  pthread_mutex_lock(&b->mu);
  *token = cflight_buffer_ref(b->token);
  pthread_mutex_unlock(&b->mu);
  return CFLIGHT_OK;
}

static void wipe_free(char *s) {
  if (s == NULL) return;
  OPENSSL_cleanse(s, strlen(s));
  free(s);
}

static void basic_client_free(void *ctx) {
  basic_client *b = ctx;
  wipe_free(b->username);
  wipe_free(b->password);
  cflight_buffer_unref(b->token);
  pthread_mutex_destroy(&b->mu);
  free(b);
}

cflight_client_auth_handler *cflight_client_auth_handler_new_basic(const char *username,
                                                                   const char *password) {
  basic_client *b = calloc(1, sizeof(*b));
  if (b == NULL) return NULL;
  pthread_mutex_init(&b->mu, NULL);
  b->username = cf_strdup(username != NULL ? username : "");
  b->password = cf_strdup(password != NULL ? password : "");
  cflight_client_auth_callbacks cb = {basic_client_authenticate, basic_client_get_token,
                                      basic_client_free};
  cflight_client_auth_handler *h =
      b->username != NULL && b->password != NULL ? cflight_client_auth_handler_new(&cb, b) : NULL;
  if (h == NULL) basic_client_free(b);
  return h;
}

/* ---- Client calls ---------------------------------------------------------------------------- */

int cflight_client_authenticate(cflight_client *c, cflight_client_auth_handler *h,
                                const cflight_call_options *opts, cflight_error *err) {
  if (c == NULL || h == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "authenticate: NULL argument");
  cf_ccall *cc;
  CF_RETURN_NOT_OK(cf_ccall_start(c, CF_M_HANDSHAKE, opts, &cc, err));
  cflight_auth_stream stream = {cc->call, NULL, false};
  cflight_error e = {0};
  int rc = h->cb.authenticate(h->ctx, &stream, &e);
  if (rc == CFLIGHT_OK) {
    rc = cf_call_close_send(cc->call, &e);
  } else {
    if (e.code == CFLIGHT_OK) cflight_error_set(&e, rc, "the authentication handler failed");
    cf_call_cancel(cc->call);
  }
  cf_status st = {0};
  int frc = cf_ccall_finish(cc, &st);
  /* The server's refusal says more than our handler's failure to read on. */
  if (frc != CFLIGHT_OK && (rc == CFLIGHT_OK || frc != CFLIGHT_CANCELLED))
    rc = cf_error_copy(&e, &st.error);
  cf_status_reset(&st);
  cf_ccall_unref(cc);
  if (rc != CFLIGHT_OK) {
    cf_error_copy(err, &e);
    cflight_error_reset(&e);
    return rc;
  }
  pthread_mutex_lock(&c->mu);
  c->auth = h;
  pthread_mutex_unlock(&c->mu);
  return CFLIGHT_OK;
}

static bool is_bearer(const uint8_t *v, size_t n) {
  return n > 7 && strncasecmp((const char *)v, "bearer ", 7) == 0;
}

/* The bearer "authorization" value in md, or NULL. */
static const cf_header *find_bearer(const cf_metadata *md) {
  if (md == NULL) return NULL;
  for (size_t i = 0; i < md->count; i++) {
    const cf_header *h = &md->items[i];
    if (strcmp(h->key, CF_AUTHORIZATION_HEADER) == 0 && is_bearer(h->value, h->value_len)) return h;
  }
  return NULL;
}

int cflight_client_authenticate_basic_token(cflight_client *c, const char *username,
                                            const char *password, const cflight_call_options *opts,
                                            char **key, char **value, cflight_error *err) {
  if (c == NULL || key == NULL || value == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "authenticate: NULL argument");
  *key = *value = NULL;
  if (username == NULL) username = "";
  if (password == NULL) password = "";
  size_t ul = strlen(username), pl = strlen(password);
  char *creds = malloc(ul + pl + 2);
  if (creds == NULL) return CF_NOMEM(err, "credentials");
  memcpy(creds, username, ul);
  creds[ul] = ':';
  memcpy(creds + ul + 1, password, pl + 1);
  char *b64 = cf_base64_encode_str(creds, ul + 1 + pl);
  OPENSSL_cleanse(creds, ul + 1 + pl);
  free(creds);
  char *basic = b64 != NULL ? malloc(strlen(b64) + 7) : NULL;
  if (basic != NULL) {
    memcpy(basic, "Basic ", 6);
    memcpy(basic + 6, b64, strlen(b64) + 1);
  }
  if (b64 != NULL) wipe_free(b64);
  if (basic == NULL) return CF_NOMEM(err, "credentials");
  cflight_call_options o = {0};
  int rc = CFLIGHT_OK;
  if (opts != NULL) {
    o.timeout = opts->timeout;
    o.ipc = opts->ipc; /* borrowed: not freed below */
    rc = cf_metadata_copy(&opts->headers, &o.headers, err);
  }
  if (rc == CFLIGHT_OK)
    rc = cf_metadata_add(&o.headers, CF_AUTHORIZATION_HEADER, basic, strlen(basic), err);
  wipe_free(basic);
  cf_ccall *cc = NULL;
  if (rc == CFLIGHT_OK) rc = cf_ccall_start(c, CF_M_HANDSHAKE, &o, &cc, err);
  for (size_t i = 0; i < o.headers.count; i++)
    OPENSSL_cleanse(o.headers.items[i].value, o.headers.items[i].value_len);
  cf_metadata_reset(&o.headers);
  if (rc != CFLIGHT_OK) return rc;
  cflight_error e = {0};
  /* Nothing to say: the credentials are in the headers. */
  rc = cf_call_close_send(cc->call, &e);
  cf_status st = {0};
  rc = cf_ccall_finish(cc, &st);
  if (rc != CFLIGHT_OK) {
    cf_error_copy(err, &st.error);
    cf_status_reset(&st);
    cf_ccall_unref(cc);
    cflight_error_reset(&e);
    return rc;
  }
  /* The token may come as a header or, in a trailers-only answer, as a trailer. */
  const cf_metadata *hdrs = NULL;
  cf_call_response_headers(cc->call, &hdrs, NULL);
  const cf_header *h = find_bearer(hdrs);
  if (h == NULL) h = find_bearer(&st.trailers);
  if (h != NULL) {
    *key = cf_strdup(CF_AUTHORIZATION_HEADER);
    *value = cf_strndup((const char *)h->value, h->value_len);
  } else {
    /* Accepted without a token, as Arrow does: an empty pair. */
    *key = cf_strdup("");
    *value = cf_strdup("");
  }
  cf_status_reset(&st);
  cf_ccall_unref(cc);
  cflight_error_reset(&e);
  if (*key == NULL || *value == NULL) {
    free(*key);
    free(*value);
    *key = *value = NULL;
    return CF_NOMEM(err, "token");
  }
  return CFLIGHT_OK;
}

/* ---- Tokens (server) ------------------------------------------------------------------------ */

/* Tokens are signed rather than stored: a token is
 * base64(nonce || identity || HMAC-SHA256(key, nonce || identity)) with a
 * random 16-byte nonce and a random 32-byte key per handler. Checking one
 * is a MAC and a constant-time comparison, so every Handshake (a client
 * may log in as often as it likes) costs no memory and later calls no
 * scan; a token is valid as long as the handler that issued it, as when
 * they were kept in a table. */
#define TOKEN_NONCE 16
#define TOKEN_MAC 32
/* Users with longer names are refused (a token must fit in a header). */
#define TOKEN_MAX_IDENTITY 4096
/* Longer tokens are not ours: refused before decoding. */
#define TOKEN_MAX_ENCODED ((TOKEN_NONCE + TOKEN_MAX_IDENTITY + TOKEN_MAC + 2) / 3 * 4)

struct cf_token_store {
  uint8_t key[32]; /* [const] */
};

static cf_token_store *token_store_new(void) {
  cf_token_store *t = calloc(1, sizeof(*t));
  if (t != NULL && RAND_bytes(t->key, sizeof(t->key)) != 1) {
    free(t);
    t = NULL;
  }
  return t;
}

static void token_store_free(cf_token_store *t) {
  if (t == NULL) return;
  OPENSSL_cleanse(t->key, sizeof(t->key));
  free(t);
}

static bool token_mac(const cf_token_store *t, const uint8_t *msg, size_t n,
                      uint8_t mac[TOKEN_MAC]) {
  unsigned int len = TOKEN_MAC;
  return HMAC(EVP_sha256(), t->key, sizeof(t->key), msg, n, mac, &len) != NULL && len == TOKEN_MAC;
}

/* A new token for identity (malloc'd), or NULL. */
static char *token_issue(cf_token_store *t, const char *identity) {
  size_t idn = strlen(identity);
  if (idn > TOKEN_MAX_IDENTITY) return NULL;
  size_t n = TOKEN_NONCE + idn + TOKEN_MAC;
  uint8_t *raw = malloc(n);
  if (raw == NULL) return NULL;
  memcpy(raw + TOKEN_NONCE, identity, idn);
  char *token = NULL;
  if (RAND_bytes(raw, TOKEN_NONCE) == 1 &&
      token_mac(t, raw, TOKEN_NONCE + idn, raw + n - TOKEN_MAC))
    token = cf_base64_encode_str(raw, n);
  OPENSSL_cleanse(raw, n);
  free(raw);
  return token;
}

/* The identity of token (malloc'd), or NULL when the token is not one of
 * this handler's. */
static char *token_lookup(cf_token_store *t, const uint8_t *token, size_t n) {
  if (n == 0 || n > TOKEN_MAX_ENCODED) return NULL;
  uint8_t *raw = NULL;
  size_t rn = 0;
  if (!cf_base64_decode_str((const char *)token, n, &raw, &rn)) return NULL;
  char *id = NULL;
  uint8_t mac[TOKEN_MAC];
  /* Exactly as issued: base64 has other spellings of the same bytes (the
   * unused low bits of the last character, surrounding white space). */
  char *canonical = rn >= TOKEN_NONCE + TOKEN_MAC ? cf_base64_encode_str(raw, rn) : NULL;
  bool as_issued = canonical != NULL && strlen(canonical) == n && memcmp(canonical, token, n) == 0;
  if (canonical != NULL) wipe_free(canonical);
  if (as_issued && token_mac(t, raw, rn - TOKEN_MAC, mac) &&
      CRYPTO_memcmp(mac, raw + rn - TOKEN_MAC, TOKEN_MAC) == 0) {
    const uint8_t *who = raw + TOKEN_NONCE;
    size_t wn = rn - TOKEN_NONCE - TOKEN_MAC;
    /* Signed by us, so no NUL inside; checked all the same. */
    if (memchr(who, '\0', wn) == NULL) id = cf_strndup((const char *)who, wn);
  }
  OPENSSL_cleanse(mac, sizeof(mac));
  OPENSSL_cleanse(raw, rn);
  free(raw);
  return id;
}

/* ---- Server handlers ------------------------------------------------------------------------- */

cflight_server_auth_handler *cflight_server_auth_handler_new(
    const cflight_server_auth_callbacks *callbacks, void *ctx) {
  if (callbacks == NULL || callbacks->authenticate == NULL || callbacks->is_valid == NULL)
    return NULL;
  cflight_server_auth_handler *h = calloc(1, sizeof(*h));
  if (h == NULL) return NULL;
  atomic_init(&h->refs, 1);
  h->cb = *callbacks;
  h->ctx = ctx;
  return h;
}

cflight_server_auth_handler *cf_server_auth_ref(cflight_server_auth_handler *h) {
  atomic_fetch_add(&h->refs, 1);
  return h;
}

void cflight_server_auth_handler_free(cflight_server_auth_handler *h) {
  if (h == NULL || atomic_fetch_sub(&h->refs, 1) != 1) return;
  if (h->cb.free_ctx != NULL) h->cb.free_ctx(h->ctx);
  token_store_free(h->tokens);
  free(h);
}

typedef struct basic_server {
  cflight_password_check_fn check;
  void *check_ctx;
  cf_token_store *tokens;
} basic_server;

static int basic_server_authenticate(void *ctx, cflight_auth_stream *stream, cflight_error *err) {
  basic_server *b = ctx;
  cflight_buffer *payload = NULL;
  CF_RETURN_NOT_OK(cflight_auth_stream_read(stream, &payload, err));
  if (payload == NULL)
    return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED,
                             "Handshake: the client sent no credentials");
  cflight_basic_auth *ba = NULL;
  int rc = cflight_basic_auth_deserialize(cflight_buffer_data(payload),
                                          cflight_buffer_size(payload), &ba, NULL);
  cflight_buffer_unref(payload);
  if (rc != CFLIGHT_OK)
    return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED,
                             "Handshake: the credentials are not a BasicAuth message");
  const char *user = cflight_basic_auth_username(ba);
  bool ok = strlen(user) <= TOKEN_MAX_IDENTITY &&
            b->check(b->check_ctx, user, cflight_basic_auth_password(ba));
  char *token = ok ? token_issue(b->tokens, user) : NULL;
  cflight_basic_auth_free(ba);
  if (!ok) return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED, "invalid username or password");
  if (token == NULL) return CF_NOMEM(err, "token");
  rc = cflight_auth_stream_write(stream, token, strlen(token), err);
  wipe_free(token);
  return rc;
}

static int basic_server_is_valid(void *ctx, const uint8_t *token, size_t token_size,
                                 char **identity, cflight_error *err) {
  basic_server *b = ctx;
  if (token == NULL)
    return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED,
                             "no authentication token (auth-token-bin): authenticate first");
  *identity = token_lookup(b->tokens, token, token_size);
  if (*identity == NULL)
    return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED, "invalid authentication token");
  return CFLIGHT_OK;
}

static void basic_server_free(void *ctx) {
  basic_server *b = ctx;
  token_store_free(b->tokens);
  free(b);
}

cflight_server_auth_handler *cflight_server_auth_handler_new_basic(cflight_password_check_fn check,
                                                                   void *ctx) {
  if (check == NULL) return NULL;
  basic_server *b = calloc(1, sizeof(*b));
  if (b == NULL) return NULL;
  b->check = check;
  b->check_ctx = ctx;
  b->tokens = token_store_new();
  cflight_server_auth_callbacks cb = {basic_server_authenticate, basic_server_is_valid,
                                      basic_server_free};
  cflight_server_auth_handler *h =
      b->tokens != NULL ? cflight_server_auth_handler_new(&cb, b) : NULL;
  if (h == NULL) basic_server_free(b);
  return h;
}

cflight_server_auth_handler *cflight_server_auth_handler_new_bearer(cflight_password_check_fn check,
                                                                    void *ctx) {
  if (check == NULL) return NULL;
  cflight_server_auth_handler *h = calloc(1, sizeof(*h));
  if (h == NULL) return NULL;
  atomic_init(&h->refs, 1);
  h->bearer = true;
  h->check = check;
  h->check_ctx = ctx;
  h->tokens = token_store_new();
  if (h->tokens == NULL) {
    free(h);
    return NULL;
  }
  return h;
}

int cf_server_auth_check(cflight_server_auth_handler *h, const cf_metadata *headers,
                         char **identity, cflight_error *err) {
  *identity = NULL;
  if (h->bearer) {
    const cf_header *b = find_bearer(headers);
    if (b == NULL)
      return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED,
                               "no bearer token: send \"authorization: Bearer <token>\" (the "
                               "token comes from a Handshake with Basic credentials)");
    /* "Bearer " and any spaces after it. */
    size_t off = 7;
    while (off < b->value_len && b->value[off] == ' ')
      off++;
    *identity = token_lookup(h->tokens, b->value + off, b->value_len - off);
    if (*identity == NULL)
      return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED, "invalid bearer token");
    return CFLIGHT_OK;
  }
  const cf_header *t = cf_metadata_find(headers, CF_AUTH_TOKEN_HEADER);
  cflight_error e = {0};
  int rc =
      h->cb.is_valid(h->ctx, t != NULL ? (t->value != NULL ? t->value : (const uint8_t *)"") : NULL,
                     t != NULL ? t->value_len : 0, identity, &e);
  if (rc != CFLIGHT_OK) {
    free(*identity);
    *identity = NULL;
    if (e.code == CFLIGHT_OK) cflight_error_set(&e, rc, "invalid authentication token");
    cf_error_copy(err, &e);
    cflight_error_reset(&e);
    return rc;
  }
  cflight_error_reset(&e);
  if (*identity == NULL) *identity = cf_strdup("");
  return *identity != NULL ? CFLIGHT_OK : CF_NOMEM(err, "identity");
}

/* Reads what the client sends until it half-closes. */
static int drain(cflight_auth_stream *stream, cflight_error *err) {
  for (;;) {
    cf_msg msg;
    bool more = false;
    CF_RETURN_NOT_OK(cf_call_recv(stream->call, &msg, &more, err));
    if (!more) return CFLIGHT_OK;
    cf_msg_reset(&msg);
  }
}

static int bearer_handshake(cflight_server_auth_handler *h, cflight_call_context *ctx,
                            cflight_auth_stream *stream, cflight_error *err) {
  const cf_metadata *md = cf_call_request_headers(ctx->call);
  const cf_header *basic = NULL;
  for (size_t i = 0; i < md->count; i++) {
    const cf_header *x = &md->items[i];
    if (strcmp(x->key, CF_AUTHORIZATION_HEADER) == 0 && x->value_len > 6 &&
        strncasecmp((const char *)x->value, "basic ", 6) == 0)
      basic = x;
  }
  if (basic == NULL) {
    /* A client that already holds a token may handshake again with it. */
    char *id = NULL;
    int rc = cf_server_auth_check(h, md, &id, err);
    if (rc != CFLIGHT_OK) {
      return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED,
                               "Handshake: send \"authorization: Basic <base64 "
                               "username:password>\"");
    }
    free(ctx->identity);
    ctx->identity = id;
    return drain(stream, err);
  }
  size_t off = 6;
  while (off < basic->value_len && basic->value[off] == ' ')
    off++;
  uint8_t *creds = NULL;
  size_t n = 0;
  if (!cf_base64_decode_str((const char *)basic->value + off, basic->value_len - off, &creds, &n))
    return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED,
                             "Handshake: the Basic credentials are not valid base64");
  char *colon = memchr(creds, ':', n);
  if (colon == NULL || memchr(creds, '\0', n) != NULL) {
    OPENSSL_cleanse(creds, n);
    free(creds);
    return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED,
                             "Handshake: the Basic credentials are not \"username:password\"");
  }
  *colon = '\0';
  const char *user = (const char *)creds;
  bool ok = strlen(user) <= TOKEN_MAX_IDENTITY && h->check(h->check_ctx, user, colon + 1);
  char *token = ok ? token_issue(h->tokens, user) : NULL;
  char *id = ok ? cf_strdup(user) : NULL;
  OPENSSL_cleanse(creds, n);
  free(creds);
  if (!ok) return cflight_error_set(err, CFLIGHT_UNAUTHENTICATED, "invalid username or password");
  if (token == NULL || id == NULL) {
    wipe_free(token);
    free(id);
    return CF_NOMEM(err, "token");
  }
  free(ctx->identity);
  ctx->identity = id;
  size_t tl = strlen(token);
  char *value = malloc(tl + 8);
  int rc = value != NULL ? CFLIGHT_OK : CF_NOMEM(err, "token");
  if (rc == CFLIGHT_OK) {
    memcpy(value, "Bearer ", 7);
    memcpy(value + 7, token, tl + 1);
    rc = cflight_call_context_add_header(ctx, CF_AUTHORIZATION_HEADER, value, tl + 7, err);
  }
  if (value != NULL) wipe_free(value);
  wipe_free(token);
  /* The token goes out at once: some clients read the headers before
   * they finish sending. */
  if (rc == CFLIGHT_OK) rc = cf_sctx_flush_headers(ctx, err);
  if (rc == CFLIGHT_OK) rc = drain(stream, err);
  return rc;
}

int cf_server_auth_handshake(cflight_server_auth_handler *h, cflight_call_context *ctx,
                             cflight_auth_stream *stream, cflight_error *err) {
  if (h->bearer) return bearer_handshake(h, ctx, stream, err);
  cflight_error e = {0};
  int rc = h->cb.authenticate(h->ctx, stream, &e);
  if (rc != CFLIGHT_OK && e.code == CFLIGHT_OK)
    cflight_error_set(&e, CFLIGHT_UNAUTHENTICATED, "authentication failed");
  if (rc != CFLIGHT_OK) cf_error_copy(err, &e);
  cflight_error_reset(&e);
  return rc;
}
