/* Transport options: defaults, setting by name (our names and the gRPC
 * channel-argument names that mean the same), copy and reset. */
#include <errno.h>
#include <stdio.h>

#include "transport/internal.h"

void cf_transport_options_init(cf_transport_options *o) {
  memset(o, 0, sizeof(*o));
  o->max_recv_message_size = -1;
  o->max_send_message_size = -1;
  o->max_frame_size = CF_DEFAULT_MAX_FRAME_SIZE;
  o->stream_window = CF_DEFAULT_STREAM_WINDOW;
  o->connection_window = CF_DEFAULT_CONNECTION_WINDOW;
  o->keepalive_time_ms = 0;
  o->keepalive_timeout_ms = 20000;
  o->connect_timeout_ms = 20000;
  o->worker_threads_max = 1024;
  o->max_concurrent_streams = 1024;
  o->max_metadata_size = 1 << 20;
  o->send_queue_bytes = CF_DEFAULT_SEND_QUEUE_BYTES;
  o->send_queue_messages = CF_DEFAULT_SEND_QUEUE_MESSAGES;
  o->read_buffer_max = 16u << 20;
  o->max_connection_buffer = (int64_t)1 << 30;
}

static int parse_int(const char *name, const char *value, int64_t lo, int64_t hi, int64_t *out,
                     cflight_error *err) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(value, &end, 10);
  if (value[0] == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "option %s: '%s' is not an integer in [%lld, %lld]", name, value,
                             (long long)lo, (long long)hi);
  *out = v;
  return CFLIGHT_OK;
}

static int parse_bool(const char *name, const char *value, bool *out, cflight_error *err) {
  if (strcmp(value, "1") == 0 || strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 ||
      strcmp(value, "on") == 0) {
    *out = true;
  } else if (strcmp(value, "0") == 0 || strcmp(value, "false") == 0 || strcmp(value, "no") == 0 ||
             strcmp(value, "off") == 0) {
    *out = false;
  } else {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "option %s: '%s' is not a boolean (true/false)", name, value);
  }
  return CFLIGHT_OK;
}

static int set_str(char **field, const char *value, cflight_error *err) {
  char *copy = NULL;
  if (value != NULL && value[0] != '\0') {
    copy = cf_strdup(value);
    if (copy == NULL) return CF_NOMEM(err, "option value");
  }
  free(*field);
  *field = copy;
  return CFLIGHT_OK;
}

static bool is(const char *name, const char *a, const char *b) {
  return strcmp(name, a) == 0 || (b != NULL && strcmp(name, b) == 0);
}

int cf_transport_options_set(cf_transport_options *o, const char *name, const char *value,
                             cflight_error *err) {
  if (name == NULL || value == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "option name or value is NULL");
  int64_t v = 0;
  if (is(name, "max_recv_message_size", "grpc.max_receive_message_length")) {
    CF_RETURN_NOT_OK(parse_int(name, value, -1, INT64_MAX, &v, err));
    o->max_recv_message_size = v;
  } else if (is(name, "max_send_message_size", "grpc.max_send_message_length")) {
    CF_RETURN_NOT_OK(parse_int(name, value, -1, INT64_MAX, &v, err));
    o->max_send_message_size = v;
  } else if (is(name, "max_frame_size", "grpc.http2.max_frame_size")) {
    /* RFC 9113 6.5.2: between 2^14 and 2^24-1. */
    CF_RETURN_NOT_OK(parse_int(name, value, 16384, (1 << 24) - 1, &v, err));
    o->max_frame_size = (uint32_t)v;
  } else if (is(name, "stream_window", "grpc.http2.lookahead_bytes")) {
    CF_RETURN_NOT_OK(parse_int(name, value, 65535, INT32_MAX, &v, err));
    o->stream_window = (uint32_t)v;
  } else if (is(name, "connection_window", NULL)) {
    CF_RETURN_NOT_OK(parse_int(name, value, 65535, INT32_MAX, &v, err));
    o->connection_window = (uint32_t)v;
  } else if (is(name, "keepalive_time_ms", "grpc.keepalive_time_ms")) {
    /* gRPC uses INT_MAX to mean "off". */
    CF_RETURN_NOT_OK(parse_int(name, value, 0, INT64_MAX, &v, err));
    o->keepalive_time_ms = v >= INT32_MAX ? 0 : v;
  } else if (is(name, "keepalive_timeout_ms", "grpc.keepalive_timeout_ms")) {
    CF_RETURN_NOT_OK(parse_int(name, value, 1, INT64_MAX, &v, err));
    o->keepalive_timeout_ms = v;
  } else if (is(name, "keepalive_permit_without_calls", "grpc.keepalive_permit_without_calls")) {
    CF_RETURN_NOT_OK(parse_bool(name, value, &o->keepalive_permit_without_calls, err));
  } else if (is(name, "connect_timeout_ms", NULL)) {
    CF_RETURN_NOT_OK(parse_int(name, value, 1, INT64_MAX, &v, err));
    o->connect_timeout_ms = v;
  } else if (is(name, "worker_threads_max", NULL)) {
    CF_RETURN_NOT_OK(parse_int(name, value, 1, 1 << 20, &v, err));
    o->worker_threads_max = (int)v;
  } else if (is(name, "max_concurrent_streams", "grpc.max_concurrent_streams")) {
    CF_RETURN_NOT_OK(parse_int(name, value, 1, INT32_MAX, &v, err));
    o->max_concurrent_streams = (uint32_t)v;
  } else if (is(name, "max_metadata_size", "grpc.max_metadata_size")) {
    CF_RETURN_NOT_OK(parse_int(name, value, 1024, INT32_MAX, &v, err));
    o->max_metadata_size = v;
  } else if (is(name, "send_queue_bytes", NULL)) {
    CF_RETURN_NOT_OK(parse_int(name, value, 1, INT64_MAX, &v, err));
    o->send_queue_bytes = v;
  } else if (is(name, "send_queue_messages", NULL)) {
    CF_RETURN_NOT_OK(parse_int(name, value, 1, 1 << 20, &v, err));
    o->send_queue_messages = (int)v;
  } else if (is(name, "read_buffer_max", NULL)) {
    CF_RETURN_NOT_OK(parse_int(name, value, 65536, 1 << 30, &v, err));
    o->read_buffer_max = (size_t)v;
  } else if (is(name, "max_connection_buffer", NULL)) {
    CF_RETURN_NOT_OK(parse_int(name, value, 0, INT64_MAX, &v, err));
    o->max_connection_buffer = v;
  } else if (is(name, "user_agent", "grpc.primary_user_agent")) {
    CF_RETURN_NOT_OK(set_str(&o->user_agent, value, err));
  } else if (is(name, "authority", "grpc.default_authority")) {
    CF_RETURN_NOT_OK(set_str(&o->authority, value, err));
  } else if (is(name, "tls_override_hostname", "grpc.ssl_target_name_override")) {
    CF_RETURN_NOT_OK(set_str(&o->tls_client.override_hostname, value, err));
  } else if (is(name, "tls_root_certs", NULL)) {
    CF_RETURN_NOT_OK(set_str(&o->tls_client.root_certs_pem, value, err));
  } else if (is(name, "tls_cert_chain", NULL)) {
    CF_RETURN_NOT_OK(set_str(&o->tls_client.cert_chain_pem, value, err));
  } else if (is(name, "tls_private_key", NULL)) {
    CF_RETURN_NOT_OK(set_str(&o->tls_client.private_key_pem, value, err));
  } else if (is(name, "tls_disable_verification", NULL)) {
    CF_RETURN_NOT_OK(parse_bool(name, value, &o->tls_client.disable_verification, err));
  } else if (is(name, "tls_verify_client", NULL)) {
    CF_RETURN_NOT_OK(parse_bool(name, value, &o->tls_server.verify_client, err));
  } else if (is(name, "tls_client_root_certs", NULL)) {
    CF_RETURN_NOT_OK(set_str(&o->tls_server.client_root_certs_pem, value, err));
  } else {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "unknown transport option '%s'", name);
  }
  return CFLIGHT_OK;
}

static int dup_str(char **dst, const char *src, cflight_error *err) {
  *dst = NULL;
  if (src == NULL) return CFLIGHT_OK;
  *dst = cf_strdup(src);
  return *dst != NULL ? CFLIGHT_OK : CF_NOMEM(err, "options");
}

int cf_transport_options_copy(const cf_transport_options *src, cf_transport_options *dst,
                              cflight_error *err) {
  *dst = *src;
  /* Detach every pointer first so that a failure part-way resets cleanly. */
  dst->user_agent = dst->authority = NULL;
  memset(&dst->tls_client, 0, sizeof(dst->tls_client));
  memset(&dst->tls_server, 0, sizeof(dst->tls_server));
  dst->tls_client.disable_verification = src->tls_client.disable_verification;
  dst->tls_server.verify_client = src->tls_server.verify_client;
  int rc = CFLIGHT_OK;
  if (rc == CFLIGHT_OK) rc = dup_str(&dst->user_agent, src->user_agent, err);
  if (rc == CFLIGHT_OK) rc = dup_str(&dst->authority, src->authority, err);
  const cf_tls_client_config *sc = &src->tls_client;
  cf_tls_client_config *dc = &dst->tls_client;
  if (rc == CFLIGHT_OK) rc = dup_str(&dc->root_certs_pem, sc->root_certs_pem, err);
  if (rc == CFLIGHT_OK) rc = dup_str(&dc->cert_chain_pem, sc->cert_chain_pem, err);
  if (rc == CFLIGHT_OK) rc = dup_str(&dc->private_key_pem, sc->private_key_pem, err);
  if (rc == CFLIGHT_OK) rc = dup_str(&dc->override_hostname, sc->override_hostname, err);
  const cf_tls_server_config *ss = &src->tls_server;
  cf_tls_server_config *ds = &dst->tls_server;
  if (rc == CFLIGHT_OK) rc = dup_str(&ds->client_root_certs_pem, ss->client_root_certs_pem, err);
  if (rc == CFLIGHT_OK && ss->n_pairs > 0) {
    ds->pairs = cf_calloc(ss->n_pairs, sizeof(*ds->pairs));
    if (ds->pairs == NULL) {
      rc = CF_NOMEM(err, "options");
    } else {
      ds->n_pairs = ss->n_pairs;
      for (size_t i = 0; i < ss->n_pairs && rc == CFLIGHT_OK; i++) {
        rc = dup_str(&ds->pairs[i].cert_chain_pem, ss->pairs[i].cert_chain_pem, err);
        if (rc == CFLIGHT_OK)
          rc = dup_str(&ds->pairs[i].private_key_pem, ss->pairs[i].private_key_pem, err);
      }
    }
  }
  if (rc != CFLIGHT_OK) cf_transport_options_reset(dst);
  return rc;
}

void cf_transport_options_reset(cf_transport_options *o) {
  if (o == NULL) return;
  free(o->user_agent);
  free(o->authority);
  free(o->tls_client.root_certs_pem);
  free(o->tls_client.cert_chain_pem);
  free(o->tls_client.private_key_pem);
  free(o->tls_client.override_hostname);
  for (size_t i = 0; i < o->tls_server.n_pairs; i++) {
    free(o->tls_server.pairs[i].cert_chain_pem);
    free(o->tls_server.pairs[i].private_key_pem);
  }
  free(o->tls_server.pairs);
  free(o->tls_server.client_root_certs_pem);
  cf_transport_options_init(o);
}
