/* TLS with OpenSSL 3: contexts for clients and servers, per-connection SSL
 * objects (driven through memory BIOs by conn.c), verification settings,
 * ALPN "h2", SNI, and error descriptions. */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>

#include "transport/internal.h"

static const unsigned char alpn_h2[] = {2, 'h', '2'};

static void ssl_errors(char *out, size_t out_len) {
  out[0] = '\0';
  size_t used = 0;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char one[256];
    ERR_error_string_n(e, one, sizeof(one));
    /* Keep the reason part ("...:reason"), which is what a user can act on. */
    const char *reason = ERR_reason_error_string(e);
    int n = snprintf(out + used, out_len - used, "%s%s", used ? "; " : "",
                     reason != NULL ? reason : one);
    if (n < 0 || (size_t)n >= out_len - used) break;
    used += (size_t)n;
  }
}

static int tls_fail(cflight_error *err, const char *what) {
  char detail[512];
  ssl_errors(detail, sizeof(detail));
  return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "%s%s%s", what, detail[0] ? ": " : "",
                           detail);
}

static int load_chain(SSL_CTX *ctx, const char *pem, const char *key_pem, cflight_error *err) {
  BIO *bio = BIO_new_mem_buf(pem, -1);
  if (bio == NULL) return CF_NOMEM(err, "TLS certificate");
  X509 *leaf = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
  if (leaf == NULL) {
    BIO_free(bio);
    return tls_fail(err, "cannot read the TLS certificate chain (PEM)");
  }
  if (SSL_CTX_use_certificate(ctx, leaf) != 1) {
    X509_free(leaf);
    BIO_free(bio);
    return tls_fail(err, "cannot use the TLS certificate");
  }
  X509_free(leaf);
  X509 *extra;
  while ((extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      BIO_free(bio);
      return tls_fail(err, "cannot add a certificate to the TLS chain");
    }
  }
  ERR_clear_error(); /* the end of the PEM text */
  BIO_free(bio);
  if (key_pem == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "a TLS certificate needs its private key");
  bio = BIO_new_mem_buf(key_pem, -1);
  if (bio == NULL) return CF_NOMEM(err, "TLS key");
  EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  BIO_free(bio);
  if (key == NULL) return tls_fail(err, "cannot read the TLS private key (PEM)");
  int ok = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (ok != 1) return tls_fail(err, "cannot use the TLS private key");
  if (SSL_CTX_check_private_key(ctx) != 1)
    return tls_fail(err, "the TLS private key does not match the certificate");
  return CFLIGHT_OK;
}

/* Adds PEM certificates to the context's trust store (and, for servers that
 * verify clients, to the CA list sent in CertificateRequest). */
static int load_roots(SSL_CTX *ctx, const char *pem, bool client_ca_list, cflight_error *err) {
  BIO *bio = BIO_new_mem_buf(pem, -1);
  if (bio == NULL) return CF_NOMEM(err, "TLS roots");
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  int n = 0;
  X509 *x;
  while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    X509_STORE_add_cert(store, x);
    if (client_ca_list) SSL_CTX_add_client_CA(ctx, x);
    X509_free(x);
    n++;
  }
  ERR_clear_error();
  BIO_free(bio);
  if (n == 0)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "no certificate found in the TLS root certificates (PEM)");
  return CFLIGHT_OK;
}

static SSL_CTX *ctx_new(const SSL_METHOD *method) {
  SSL_CTX *ctx = SSL_CTX_new(method);
  if (ctx == NULL) return NULL;
  /* HTTP/2 over TLS: TLS 1.2 or later, no compression, no renegotiation
   * (RFC 9113 9.2). */
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  /* TLS 1.2 suites limited to ephemeral key exchange with AEAD ciphers: RFC
   * 9113 9.2.2 blocks the rest for HTTP/2. (TLS 1.3 suites are all AEAD.) */
  if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20") != 1) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

int cf_tls_client_ctx_new(const cf_tls_client_config *cfg, SSL_CTX **out, cflight_error *err) {
  SSL_CTX *ctx = ctx_new(TLS_client_method());
  if (ctx == NULL) return tls_fail(err, "cannot create a TLS context");
  int rc = CFLIGHT_OK;
  if (SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof(alpn_h2)) != 0)
    rc = tls_fail(err, "cannot set ALPN");
  if (rc == CFLIGHT_OK) {
    if (cfg->disable_verification) {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    } else {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
      if (cfg->root_certs_pem != NULL) {
        rc = load_roots(ctx, cfg->root_certs_pem, false, err);
      } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        rc = tls_fail(err, "cannot load the system's trusted certificates");
      }
    }
  }
  if (rc == CFLIGHT_OK && cfg->cert_chain_pem != NULL)
    rc = load_chain(ctx, cfg->cert_chain_pem, cfg->private_key_pem, err);
  if (rc != CFLIGHT_OK) {
    SSL_CTX_free(ctx);
    return rc;
  }
  *out = ctx;
  return CFLIGHT_OK;
}

int cf_tls_client_ssl_new(SSL_CTX *ctx, const cf_tls_client_config *cfg, const char *host,
                          SSL **out, cflight_error *err) {
  SSL *ssl = SSL_new(ctx);
  if (ssl == NULL) return tls_fail(err, "cannot create a TLS session");
  const char *name = cfg->override_hostname != NULL ? cfg->override_hostname : host;
  bool ip = cf_host_is_ip_literal(name);
  /* RFC 6066: SNI carries host names only, never IP literals. */
  if (!ip && SSL_set_tlsext_host_name(ssl, name) != 1) {
    SSL_free(ssl);
    return tls_fail(err, "cannot set the TLS server name");
  }
  if (!cfg->disable_verification) {
    /* Checked during the handshake with X509_check_host semantics: subject
     * alternative names, or the subject CN when there is no DNS name. */
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name)
                : X509_VERIFY_PARAM_set1_host(param, name, 0);
    if (ok != 1) {
      SSL_free(ssl);
      return tls_fail(err, "cannot set the name to verify");
    }
  }
  SSL_set_connect_state(ssl);
  *out = ssl;
  return CFLIGHT_OK;
}

/* Server: choose "h2" from the client's ALPN list; refuse without it. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
  CF_UNUSED(ssl);
  CF_UNUSED(arg);
  for (unsigned int i = 0; i < inlen;) {
    unsigned int n = in[i];
    if (i + 1 + n > inlen) break;
    if (n == 2 && in[i + 1] == 'h' && in[i + 2] == '2') {
      *out = in + i + 1;
      *outlen = 2;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

typedef struct sni_ctx_list {
  SSL_CTX **ctxs;
  size_t n;
} sni_ctx_list;

static int sni_index = -1;
static pthread_once_t sni_once = PTHREAD_ONCE_INIT;

static void sni_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
  CF_UNUSED(parent);
  CF_UNUSED(ad);
  CF_UNUSED(idx);
  CF_UNUSED(argl);
  CF_UNUSED(argp);
  free(ptr);
}

static void sni_index_init(void) {
  sni_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, sni_free);
}

/* Server: pick the certificate whose names match the SNI host name. */
static int servername_cb(SSL *ssl, int *alert, void *arg) {
  CF_UNUSED(alert);
  CF_UNUSED(arg);
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == NULL) return SSL_TLSEXT_ERR_OK;
  sni_ctx_list *list = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), sni_index);
  if (list == NULL) return SSL_TLSEXT_ERR_OK;
  for (size_t i = 0; i < list->n; i++) {
    X509 *leaf = SSL_CTX_get0_certificate(list->ctxs[i]);
    if (leaf != NULL && X509_check_host(leaf, name, 0, 0, NULL) == 1) {
      if (SSL_get_SSL_CTX(ssl) != list->ctxs[i]) SSL_set_SSL_CTX(ssl, list->ctxs[i]);
      break;
    }
  }
  return SSL_TLSEXT_ERR_OK;
}

int cf_tls_server_ctx_new(const cf_tls_server_config *cfg, SSL_CTX ***out, size_t *n_out,
                          cflight_error *err) {
  if (cfg->n_pairs == 0)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "a grpc+tls server needs a certificate and key "
                             "(tls_server.pairs)");
  pthread_once(&sni_once, sni_index_init);
  SSL_CTX **ctxs = cf_calloc(cfg->n_pairs, sizeof(*ctxs));
  if (ctxs == NULL) return CF_NOMEM(err, "TLS contexts");
  int rc = CFLIGHT_OK;
  for (size_t i = 0; i < cfg->n_pairs && rc == CFLIGHT_OK; i++) {
    SSL_CTX *ctx = ctx_new(TLS_server_method());
    if (ctx == NULL) {
      rc = tls_fail(err, "cannot create a TLS context");
      break;
    }
    ctxs[i] = ctx;
    if (cfg->pairs[i].cert_chain_pem == NULL) {
      rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "TLS certificate %zu has no certificate chain", i);
      break;
    }
    rc = load_chain(ctx, cfg->pairs[i].cert_chain_pem, cfg->pairs[i].private_key_pem, err);
    if (rc != CFLIGHT_OK) break;
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"cflight", 7);
    if (cfg->verify_client) {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
      if (cfg->client_root_certs_pem != NULL) {
        rc = load_roots(ctx, cfg->client_root_certs_pem, true, err);
      } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        rc = tls_fail(err, "cannot load the system's trusted certificates");
      }
    } else {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
  }
  if (rc == CFLIGHT_OK && cfg->n_pairs > 1) {
    for (size_t i = 0; i < cfg->n_pairs && rc == CFLIGHT_OK; i++) {
      sni_ctx_list *list = cf_calloc(1, sizeof(*list));
      if (list == NULL) {
        rc = CF_NOMEM(err, "TLS contexts");
        break;
      }
      list->ctxs = ctxs;
      list->n = cfg->n_pairs;
      SSL_CTX_set_ex_data(ctxs[i], sni_index, list);
      SSL_CTX_set_tlsext_servername_callback(ctxs[i], servername_cb);
    }
  }
  if (rc != CFLIGHT_OK) {
    cf_tls_server_ctx_free(ctxs, cfg->n_pairs);
    return rc;
  }
  *out = ctxs;
  *n_out = cfg->n_pairs;
  return CFLIGHT_OK;
}

void cf_tls_server_ctx_free(SSL_CTX **ctxs, size_t n) {
  if (ctxs == NULL) return;
  for (size_t i = 0; i < n; i++)
    SSL_CTX_free(ctxs[i]);
  free(ctxs);
}

int cf_tls_server_ssl_new(SSL_CTX *ctx, SSL **out, cflight_error *err) {
  SSL *ssl = SSL_new(ctx);
  if (ssl == NULL) return tls_fail(err, "cannot create a TLS session");
  SSL_set_accept_state(ssl);
  *out = ssl;
  return CFLIGHT_OK;
}

void cf_tls_describe_error(SSL *ssl, int ssl_err, char *out, size_t out_len) {
  char detail[512];
  ssl_errors(detail, sizeof(detail));
  long vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (vr != X509_V_OK) {
    /* OpenSSL's own error text only repeats "certificate verify failed". */
    snprintf(out, out_len, "certificate verify failed: %s", X509_verify_cert_error_string(vr));
  } else if (detail[0]) {
    snprintf(out, out_len, "%s", detail);
  } else if (ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN) {
    snprintf(out, out_len, "connection closed during the handshake");
  } else {
    snprintf(out, out_len, "TLS error %d", ssl_err);
  }
}

int cf_tls_check_established(SSL *ssl, cf_peer_info *peer, bool is_server, cflight_error *err) {
  const unsigned char *proto = NULL;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &proto, &len);
  if (len != 2 || memcmp(proto, "h2", 2) != 0)
    return cflight_error_set(err, CFLIGHT_UNAVAILABLE,
                             "the %s did not negotiate HTTP/2 over TLS (ALPN \"h2\")",
                             is_server ? "client" : "server");
  if (!is_server || peer == NULL) return CFLIGHT_OK;
  X509 *cert = SSL_get1_peer_certificate(ssl);
  if (cert == NULL) return CFLIGHT_OK;
  BIO *bio = BIO_new(BIO_s_mem());
  if (bio != NULL && PEM_write_bio_X509(bio, cert) == 1) {
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n > 0) peer->cert_pem = cf_strndup(data, (size_t)n);
  }
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  if (bio != NULL &&
      X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n >= 0) peer->cert_subject = cf_strndup(data != NULL ? data : "", (size_t)n);
  }
  BIO_free(bio);
  X509_free(cert);
  return CFLIGHT_OK;
}
