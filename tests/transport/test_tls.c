/* grpc+tls: verification against given roots (CN fallback for the test
 * certificates, which have no subjectAltName), wrong CA, host name checks,
 * disabled verification, mutual TLS, SNI certificate choice, and plaintext /
 * TLS mismatches failing fast. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "tutil.h"

static char *ca, *cert0, *key0, *cert1, *key1;

static int unary(const char *uri, const cf_transport_options *o, cf_status *st, char *reply,
                 size_t reply_len) {
  cf_channel *ch = tchannel(uri, o);
  if (ch == NULL) return -1;
  cflight_buffer *b = NULL;
  int rc = tcall_unary(ch, "/test.Echo/Peer", NULL, "x", 1, tdeadline_ms(10000), &b, st);
  if (reply != NULL) {
    reply[0] = '\0';
    if (b != NULL)
      snprintf(reply, reply_len, "%.*s", (int)cflight_buffer_size(b),
               (const char *)cflight_buffer_data(b));
  }
  cflight_buffer_unref(b);
  cf_channel_free(ch);
  return rc;
}

static void server_opts(cf_transport_options *o, bool verify_client) {
  cf_transport_options_init(o);
  static cf_tls_cert_pair pair;
  pair.cert_chain_pem = cert0;
  pair.private_key_pem = key0;
  o->tls_server.pairs = &pair;
  o->tls_server.n_pairs = 1;
  o->tls_server.verify_client = verify_client;
  o->tls_server.client_root_certs_pem = verify_client ? ca : NULL;
}

static void test_tls_verified(void) {
  cf_transport_options so;
  server_opts(&so, false);
  tsrv t;
  CHECK(tsrv_start(&t, "grpc+tls://localhost:0", &so));
  cf_transport_options o;
  cf_transport_options_init(&o);
  o.tls_client.root_certs_pem = ca;
  cf_status st = {0};
  char reply[2048];
  /* localhost matches the certificate's CN. */
  CHECK_EQ_INT(unary(t.uri, &o, &st, reply, sizeof(reply)), CFLIGHT_OK);
  CHECK_MSG(strstr(reply, "|-|-") != NULL, "%s", reply); /* no client certificate */
  cf_status_reset(&st);
  /* By IP address the name does not match... */
  char uri[100];
  snprintf(uri, sizeof(uri), "grpc+tls://127.0.0.1:%d", t.port);
  CHECK_EQ_INT(unary(uri, &o, &st, NULL, 0), CFLIGHT_UNAVAILABLE);
  CHECK_MSG(strstr(st.error.message, "certificate verify failed") != NULL, "%s", st.error.message);
  cf_status_reset(&st);
  /* ... unless the name to check is overridden. */
  o.tls_client.override_hostname = "localhost";
  CHECK_EQ_INT(unary(uri, &o, &st, NULL, 0), CFLIGHT_OK);
  cf_status_reset(&st);
  o.tls_client.override_hostname = "not-localhost";
  CHECK_EQ_INT(unary(uri, &o, &st, NULL, 0), CFLIGHT_UNAVAILABLE);
  cf_status_reset(&st);
  o.tls_client.override_hostname = NULL;
  /* A wrong CA (a leaf certificate, not the issuer) is refused. */
  o.tls_client.root_certs_pem = cert1;
  CHECK_EQ_INT(unary(t.uri, &o, &st, NULL, 0), CFLIGHT_UNAVAILABLE);
  CHECK_MSG(strstr(st.error.message, "certificate verify failed") != NULL, "%s", st.error.message);
  cf_status_reset(&st);
  /* The system store does not know the test CA. */
  o.tls_client.root_certs_pem = NULL;
  CHECK_EQ_INT(unary(t.uri, &o, &st, NULL, 0), CFLIGHT_UNAVAILABLE);
  cf_status_reset(&st);
  /* Verification disabled: anything goes. */
  o.tls_client.disable_verification = true;
  CHECK_EQ_INT(unary(uri, &o, &st, NULL, 0), CFLIGHT_OK);
  cf_status_reset(&st);
  tsrv_stop(&t);
}

static void test_mutual_tls(void) {
  cf_transport_options so;
  server_opts(&so, true);
  tsrv t;
  CHECK(tsrv_start(&t, "grpc+tls://localhost:0", &so));
  cf_transport_options o;
  cf_transport_options_init(&o);
  o.tls_client.root_certs_pem = ca;
  o.tls_client.cert_chain_pem = cert1;
  o.tls_client.private_key_pem = key1;
  cf_status st = {0};
  char reply[2048];
  CHECK_EQ_INT(unary(t.uri, &o, &st, reply, sizeof(reply)), CFLIGHT_OK);
  CHECK_MSG(strstr(reply, "CN=localhost") != NULL && strstr(reply, "|pem") != NULL, "%s", reply);
  cf_status_reset(&st);
  /* Without a client certificate the server refuses. */
  o.tls_client.cert_chain_pem = NULL;
  o.tls_client.private_key_pem = NULL;
  CHECK_EQ_INT(unary(t.uri, &o, &st, NULL, 0), CFLIGHT_UNAVAILABLE);
  fprintf(stderr, "  no client certificate: %s\n", st.error.message);
  cf_status_reset(&st);
  tsrv_stop(&t);
}

/* A self-signed certificate for `name`, made here (EC P-256). */
static void make_cert(const char *name, char **cert_pem, char **key_pem) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600 * 24);
  X509_set_pubkey(x, key);
  X509_NAME *n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1, 0);
  X509_set_issuer_name(x, n);
  X509_sign(x, key, EVP_sha256());
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char *data;
  long len = BIO_get_mem_data(b, &data);
  *cert_pem = strndup(data, (size_t)len);
  BIO_free(b);
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
  len = BIO_get_mem_data(b, &data);
  *key_pem = strndup(data, (size_t)len);
  BIO_free(b);
  X509_free(x);
  EVP_PKEY_free(key);
}

static void test_sni(void) {
  char *other_cert, *other_key;
  make_cert("other.test", &other_cert, &other_key);
  cf_tls_cert_pair pairs[2] = {{cert0, key0}, {other_cert, other_key}};
  cf_transport_options so;
  cf_transport_options_init(&so);
  so.tls_server.pairs = pairs;
  so.tls_server.n_pairs = 2;
  tsrv t;
  CHECK(tsrv_start(&t, "grpc+tls://127.0.0.1:0", &so));
  cf_transport_options o;
  cf_transport_options_init(&o);
  cf_status st = {0};
  /* Asking for other.test gets the second certificate... */
  o.tls_client.root_certs_pem = other_cert;
  o.tls_client.override_hostname = "other.test";
  CHECK_EQ_INT(unary(t.uri, &o, &st, NULL, 0), CFLIGHT_OK);
  cf_status_reset(&st);
  /* ... and localhost the first (the default). */
  o.tls_client.root_certs_pem = ca;
  o.tls_client.override_hostname = "localhost";
  CHECK_EQ_INT(unary(t.uri, &o, &st, NULL, 0), CFLIGHT_OK);
  cf_status_reset(&st);
  tsrv_stop(&t);
  free(other_cert);
  free(other_key);
}

static void test_mismatch_fails_fast(void) {
  cf_transport_options so;
  server_opts(&so, false);
  tsrv tls_srv, plain_srv;
  CHECK(tsrv_start(&tls_srv, "grpc+tls://127.0.0.1:0", &so));
  CHECK(tsrv_start(&plain_srv, "grpc://127.0.0.1:0", NULL));
  cf_status st = {0};
  char uri[100];
  /* A plaintext client to the TLS server. */
  snprintf(uri, sizeof(uri), "grpc://127.0.0.1:%d", tls_srv.port);
  int64_t t0 = cf_now_ns();
  CHECK_EQ_INT(unary(uri, NULL, &st, NULL, 0), CFLIGHT_UNAVAILABLE);
  CHECK_MSG(strstr(st.error.message, "TLS") != NULL, "%s", st.error.message);
  fprintf(stderr, "  plaintext to TLS (%.0f ms): %s\n", (double)(cf_now_ns() - t0) / 1e6,
          st.error.message);
  cf_status_reset(&st);
  /* A TLS client to the plaintext server. */
  cf_transport_options o;
  cf_transport_options_init(&o);
  o.tls_client.disable_verification = true;
  snprintf(uri, sizeof(uri), "grpc+tls://127.0.0.1:%d", plain_srv.port);
  t0 = cf_now_ns();
  CHECK_EQ_INT(unary(uri, &o, &st, NULL, 0), CFLIGHT_UNAVAILABLE);
  CHECK_MSG(strstr(st.error.message, "TLS") != NULL, "%s", st.error.message);
  fprintf(stderr, "  TLS to plaintext (%.0f ms): %s\n", (double)(cf_now_ns() - t0) / 1e6,
          st.error.message);
  cf_status_reset(&st);
  /* Both servers still serve their own kind. */
  CHECK_EQ_INT(unary(plain_srv.uri, NULL, &st, NULL, 0), CFLIGHT_OK);
  cf_status_reset(&st);
  tsrv_stop(&tls_srv);
  tsrv_stop(&plain_srv);
}

static void test_large_over_tls(void) {
  cf_transport_options so;
  server_opts(&so, false);
  tsrv t;
  CHECK(tsrv_start(&t, "grpc+tls://localhost:0", &so));
  cf_transport_options o;
  cf_transport_options_init(&o);
  o.tls_client.root_certs_pem = ca;
  cf_channel *ch = tchannel(t.uri, &o);
  size_t size = 8u << 20;
  uint8_t *buf = malloc(size);
  for (size_t i = 0; i < size; i++)
    buf[i] = (uint8_t)(i * 31);
  cflight_buffer *reply = NULL;
  cf_status st = {0};
  CHECK_EQ_INT(tcall_unary(ch, "/test.Echo/Unary", NULL, buf, size, 0, &reply, &st), CFLIGHT_OK);
  CHECK(reply != NULL && cflight_buffer_size(reply) == size &&
        memcmp(cflight_buffer_data(reply), buf, size) == 0);
  cflight_buffer_unref(reply);
  cf_status_reset(&st);
  free(buf);
  cf_channel_free(ch);
  tsrv_stop(&t);
}

int main(void) {
  ca = tpem("root-ca.pem");
  cert0 = tpem("cert0.pem");
  key0 = tpem("cert0.key");
  cert1 = tpem("cert1.pem");
  key1 = tpem("cert1.key");
  if (ca == NULL || cert0 == NULL || key0 == NULL || cert1 == NULL || key1 == NULL) {
    fprintf(stderr, "test certificates not found under %s\n", cft_data_path("flight"));
    return 1;
  }
  RUN_TEST(test_tls_verified);
  RUN_TEST(test_mutual_tls);
  RUN_TEST(test_sni);
  RUN_TEST(test_mismatch_fails_fast);
  RUN_TEST(test_large_over_tls);
  free(ca);
  free(cert0);
  free(key0);
  free(cert1);
  free(key1);
  return cft_finish();
}
