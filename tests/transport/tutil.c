#include "tutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"

atomic_int tsrv_wait_result = -1;
atomic_int tsrv_wait_started = 0;
atomic_int tsrv_wait_cancelled = 0;
atomic_int tsrv_handlers_done = 0;
atomic_int tflood_sent, tflood_written, tflood_max_queued;

int64_t tdeadline_ms(int64_t ms) {
  return cf_now_ns() + ms * 1000000;
}

static void free_ctx(void *ctx) {
  cflight_buffer_unref(ctx);
}

int tsend_copy(cf_call *call, const void *data, size_t len, bool end, cflight_error *err) {
  cflight_buffer *b = cflight_buffer_copy(data, len);
  cflight_ipc_piece piece = {cflight_buffer_data(b), len};
  cf_out_msg m = {&piece, len > 0 ? 1 : 0, free_ctx, b};
  return cf_call_send(call, &m, end, err);
}

static void send_buffer(cf_call *call, cflight_buffer *b, cflight_error *err) {
  cflight_ipc_piece piece = {cflight_buffer_data(b), cflight_buffer_size(b)};
  cf_out_msg m = {&piece, 1, free_ctx, b};
  cf_call_send(call, &m, false, err);
}

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void respond(cf_call *call, int code, const char *msg, const cf_metadata *trailers) {
  cflight_error st = {0};
  if (code != 0) cflight_error_set(&st, code, "%s", msg);
  cflight_error err = {0};
  cf_call_respond(call, &st, trailers, &err);
  cflight_error_reset(&st);
}

static void handle_unary(cf_call *call) {
  cflight_error err = {0};
  cf_msg m;
  bool more;
  if (cf_call_recv(call, &m, &more, &err) != CFLIGHT_OK || !more) {
    respond(call, CFLIGHT_INVALID_ARGUMENT, "expected one request", NULL);
    return;
  }
  const cf_metadata *rh = cf_call_request_headers(call);
  cf_metadata hdrs = {0}, trailers = {0};
  for (size_t i = 0; i < rh->count; i++) {
    if (strncmp(rh->items[i].key, "x-echo", 6) != 0) continue;
    cf_metadata_add(&hdrs, rh->items[i].key, rh->items[i].value, rh->items[i].value_len, NULL);
    char key[300];
    snprintf(key, sizeof(key), "x-trailer-%s", rh->items[i].key + 2);
    cf_metadata_add(&trailers, key, rh->items[i].value, rh->items[i].value_len, NULL);
  }
  if (hdrs.count > 0) cf_call_send_headers(call, &hdrs, &err);
  const cf_header *hs = cf_metadata_find(rh, "x-reply-status");
  int code = hs != NULL ? atoi((const char *)hs->value) : 0;
  if (code == 0) {
    cflight_buffer *b = cf_msg_flatten(&m, &err);
    send_buffer(call, b, &err);
  }
  cf_msg_reset(&m);
  cflight_error st = {0};
  if (code != 0) {
    const cf_header *hm = cf_metadata_find(rh, "x-reply-message-bin");
    cflight_error_set(&st, code, "%.*s", hm ? (int)hm->value_len : 0,
                      hm ? (const char *)hm->value : "");
    const cf_header *hd = cf_metadata_find(rh, "x-reply-details-bin");
    if (hd != NULL) cflight_error_set_extra_info(&st, hd->value, hd->value_len);
  }
  cf_call_respond(call, &st, &trailers, &err);
  cflight_error_reset(&st);
  cf_metadata_reset(&hdrs);
  cf_metadata_reset(&trailers);
}

static void handle_server_stream(cf_call *call) {
  cflight_error err = {0};
  cf_msg m;
  bool more;
  if (cf_call_recv(call, &m, &more, &err) != CFLIGHT_OK || !more) {
    respond(call, CFLIGHT_INVALID_ARGUMENT, "expected one request", NULL);
    return;
  }
  cflight_buffer *req = cf_msg_flatten(&m, &err);
  cf_msg_reset(&m);
  uint32_t count = 0, size = 0;
  if (cflight_buffer_size(req) >= 8) {
    count = rd32(cflight_buffer_data(req));
    size = rd32(cflight_buffer_data(req) + 4);
  }
  cflight_buffer_unref(req);
  for (uint32_t k = 0; k < count; k++) {
    cflight_buffer *b = cflight_buffer_new(size);
    uint8_t *p = cflight_buffer_mutable_data(b);
    for (uint32_t i = 0; i < size; i++)
      p[i] = (uint8_t)(i + k);
    cflight_ipc_piece piece = {p, size};
    cf_out_msg om = {&piece, 1, free_ctx, b};
    if (cf_call_send(call, &om, false, &err) != CFLIGHT_OK) return;
  }
  respond(call, 0, "", NULL);
}

static void handle_client_stream(cf_call *call) {
  cflight_error err = {0};
  uint64_t total = 0, n = 0;
  for (;;) {
    cf_msg m;
    bool more;
    if (cf_call_recv(call, &m, &more, &err) != CFLIGHT_OK) return;
    if (!more) break;
    total += m.len;
    n++;
    cf_msg_reset(&m);
  }
  uint64_t out[2] = {total, n};
  tsend_copy(call, out, sizeof(out), false, &err);
  respond(call, 0, "", NULL);
}

static void handle_bidi(cf_call *call) {
  cflight_error err = {0};
  for (;;) {
    cf_msg m;
    bool more;
    if (cf_call_recv(call, &m, &more, &err) != CFLIGHT_OK) return;
    if (!more) break;
    cflight_buffer *b = cf_msg_flatten(&m, &err);
    cf_msg_reset(&m);
    send_buffer(call, b, &err);
  }
  respond(call, 0, "", NULL);
}

static void handle_wait(cf_call *call) {
  atomic_fetch_add(&tsrv_wait_started, 1);
  cflight_error err = {0};
  for (;;) {
    cf_msg m;
    bool more;
    int rc = cf_call_recv(call, &m, &more, &err);
    if (rc != CFLIGHT_OK) {
      atomic_store(&tsrv_wait_cancelled, cf_call_is_cancelled(call) ? 1 : 0);
      atomic_store(&tsrv_wait_result, rc);
      return;
    }
    if (more) {
      cf_msg_reset(&m);
      continue;
    }
    /* The client half-closed: keep waiting for the end of the call. */
    while (!cf_call_is_cancelled(call))
      usleep(2000);
    atomic_store(&tsrv_wait_cancelled, 1);
    atomic_store(&tsrv_wait_result, CFLIGHT_CANCELLED);
    return;
  }
}

static uint8_t zeros_1m[1 << 20];

static void handle_huge(cf_call *call) {
  cflight_error err = {0};
  cf_msg m;
  bool more;
  if (cf_call_recv(call, &m, &more, &err) != CFLIGHT_OK || !more) return;
  uint64_t size = 0;
  cflight_buffer *req = cf_msg_flatten(&m, &err);
  cf_msg_reset(&m);
  if (cflight_buffer_size(req) >= 8) memcpy(&size, cflight_buffer_data(req), 8);
  cflight_buffer_unref(req);
  size_t n = (size_t)((size + sizeof(zeros_1m) - 1) / sizeof(zeros_1m));
  cflight_ipc_piece *pieces = calloc(n ? n : 1, sizeof(*pieces));
  uint64_t left = size;
  for (size_t i = 0; i < n; i++) {
    pieces[i].data = zeros_1m;
    pieces[i].size = left < sizeof(zeros_1m) ? (size_t)left : sizeof(zeros_1m);
    left -= pieces[i].size;
  }
  cf_out_msg om = {pieces, n, free, pieces};
  if (cf_call_send(call, &om, false, &err) != CFLIGHT_OK) return;
  respond(call, 0, "", NULL);
}

static void handle_slow_reader(cf_call *call) {
  cflight_error err = {0};
  uint64_t n = 0;
  for (;;) {
    cf_msg m;
    bool more;
    if (cf_call_recv(call, &m, &more, &err) != CFLIGHT_OK) return;
    if (!more) break;
    n++;
    cf_msg_reset(&m);
    usleep(20000);
  }
  tsend_copy(call, &n, sizeof(n), false, &err);
  respond(call, 0, "", NULL);
}

static void handle_server_cancel(cf_call *call) {
  cflight_error err = {0};
  cf_msg m;
  bool more;
  if (cf_call_recv(call, &m, &more, &err) == CFLIGHT_OK && more) cf_msg_reset(&m);
  cf_call_cancel(call);
  /* Operations after the handler's own cancel fail. */
  if (tsend_copy(call, "x", 1, false, &err) != CFLIGHT_CANCELLED)
    atomic_store(&tsrv_wait_result, 99);
}

static void handle_peer(cf_call *call) {
  cflight_error err = {0};
  cf_msg m;
  bool more;
  if (cf_call_recv(call, &m, &more, &err) == CFLIGHT_OK && more) cf_msg_reset(&m);
  char out[2048];
  const char *subject = cf_call_peer_cert_subject(call);
  int n = snprintf(out, sizeof(out), "%s|%s|%s", cf_call_peer(call), subject ? subject : "-",
                   cf_call_peer_cert_pem(call) ? "pem" : "-");
  tsend_copy(call, out, (size_t)n, false, &err);
  respond(call, 0, "", NULL);
}

static void flood_done(void *ctx) {
  (void)ctx;
  atomic_fetch_add(&tflood_written, 1);
}

static uint8_t flood_data[4 << 20];

static void handle_flood(cf_call *call) {
  cflight_error err = {0};
  cf_msg m;
  bool more;
  if (cf_call_recv(call, &m, &more, &err) != CFLIGHT_OK || !more) return;
  cflight_buffer *req = cf_msg_flatten(&m, &err);
  cf_msg_reset(&m);
  uint32_t count = rd32(cflight_buffer_data(req)), size = rd32(cflight_buffer_data(req) + 4);
  cflight_buffer_unref(req);
  if (size > sizeof(flood_data)) size = sizeof(flood_data);
  for (uint32_t k = 0; k < count; k++) {
    cflight_ipc_piece piece = {flood_data, size};
    cf_out_msg om = {&piece, 1, flood_done, NULL};
    if (cf_call_send(call, &om, false, &err) != CFLIGHT_OK) return;
    int sent = atomic_fetch_add(&tflood_sent, 1) + 1;
    int queued = sent - atomic_load(&tflood_written);
    if (queued > atomic_load(&tflood_max_queued)) atomic_store(&tflood_max_queued, queued);
  }
  respond(call, 0, "", NULL);
}

static void handle_wait_result(cf_call *call) {
  cflight_error err = {0};
  cf_msg m;
  bool more;
  bool reset = false;
  if (cf_call_recv(call, &m, &more, &err) == CFLIGHT_OK && more) {
    reset = m.len == 5 && memcmp(m.slices[0].data, "reset", 5) == 0;
    cf_msg_reset(&m);
  }
  if (reset) atomic_store(&tsrv_wait_result, -1);
  char out[32];
  int n = snprintf(out, sizeof(out), "%d", atomic_load(&tsrv_wait_result));
  tsend_copy(call, out, (size_t)n, false, &err);
  respond(call, 0, "", NULL);
}

void tsrv_handler(void *ctx, cf_call *call) {
  (void)ctx;
  const char *m = cf_call_method(call);
  if (strcmp(m, "/test.Echo/Unary") == 0) {
    handle_unary(call);
  } else if (strcmp(m, "/test.Echo/ServerStream") == 0) {
    handle_server_stream(call);
  } else if (strcmp(m, "/test.Echo/ClientStream") == 0) {
    handle_client_stream(call);
  } else if (strcmp(m, "/test.Echo/Bidi") == 0) {
    handle_bidi(call);
  } else if (strcmp(m, "/test.Echo/Wait") == 0) {
    handle_wait(call);
  } else if (strcmp(m, "/test.Echo/Huge") == 0) {
    handle_huge(call);
  } else if (strcmp(m, "/test.Echo/WaitResult") == 0) {
    handle_wait_result(call);
  } else if (strcmp(m, "/test.Echo/Flood") == 0) {
    handle_flood(call);
  } else if (strcmp(m, "/test.Echo/Peer") == 0) {
    handle_peer(call);
  } else if (strcmp(m, "/test.Echo/ServerCancel") == 0) {
    handle_server_cancel(call);
  } else if (strcmp(m, "/test.Echo/SlowReader") == 0) {
    handle_slow_reader(call);
  } else {
    respond(call, CFLIGHT_UNIMPLEMENTED, "unknown method", NULL);
  }
  cf_call_free(call);
  atomic_fetch_add(&tsrv_handlers_done, 1);
}

bool tsrv_start(tsrv *t, const char *location, const cf_transport_options *opts) {
  memset(t, 0, sizeof(*t));
  cflight_error err = {0};
  cf_address addr;
  if (cf_address_parse(location, &addr, &err) != CFLIGHT_OK) {
    fprintf(stderr, "parse %s: %s\n", location, err.message);
    return false;
  }
  if (cf_server_new(opts, tsrv_handler, NULL, &t->srv, &err) != CFLIGHT_OK) {
    fprintf(stderr, "server: %s\n", err.message);
    return false;
  }
  if (cf_server_listen(t->srv, &addr, &t->port, &err) != CFLIGHT_OK) {
    fprintf(stderr, "listen %s: %s\n", location, err.message);
    cf_server_free(t->srv);
    t->srv = NULL;
    return false;
  }
  if (addr.scheme == CF_SCHEME_UNIX) {
    snprintf(t->uri, sizeof(t->uri), "%s", location);
  } else {
    const char *scheme = addr.scheme == CF_SCHEME_TLS ? "grpc+tls" : "grpc";
    bool v6 = strchr(addr.host, ':') != NULL;
    snprintf(t->uri, sizeof(t->uri), v6 ? "%s://[%s]:%d" : "%s://%s:%d", scheme, addr.host,
             t->port);
  }
  return true;
}

void tsrv_stop(tsrv *t) {
  if (t->srv == NULL) return;
  cf_server_shutdown(t->srv, tdeadline_ms(2000));
  cf_server_wait(t->srv);
  cf_server_free(t->srv);
  t->srv = NULL;
}

cf_channel *tchannel(const char *uri, const cf_transport_options *opts) {
  cflight_error err = {0};
  cf_address addr;
  if (cf_address_parse(uri, &addr, &err) != CFLIGHT_OK) {
    fprintf(stderr, "parse %s: %s\n", uri, err.message);
    return NULL;
  }
  cf_channel *ch = NULL;
  if (cf_channel_new(&addr, opts, &ch, &err) != CFLIGHT_OK) {
    fprintf(stderr, "channel %s: %s\n", uri, err.message);
    return NULL;
  }
  return ch;
}

int tcall_unary(cf_channel *ch, const char *method, const cf_metadata *md, const void *req,
                size_t req_len, int64_t deadline_ns, cflight_buffer **reply, cf_status *st) {
  cflight_error err = {0};
  if (reply != NULL) *reply = NULL;
  cf_call *call = NULL;
  int rc = cf_channel_start_call(ch, method, md, deadline_ns, &call, &err);
  if (rc != CFLIGHT_OK) {
    if (st != NULL) cflight_error_move(&st->error, &err);
    return rc;
  }
  tsend_copy(call, req, req_len, true, &err);
  cflight_error_reset(&err);
  cf_msg m;
  bool more = false;
  if (cf_call_recv(call, &m, &more, &err) == CFLIGHT_OK && more) {
    if (reply != NULL) *reply = cf_msg_flatten(&m, &err);
    cf_msg_reset(&m);
  }
  cflight_error_reset(&err);
  cf_status local = {0};
  rc = cf_call_finish(call, st != NULL ? st : &local);
  cf_status_reset(&local);
  cf_call_free(call);
  return rc;
}

char *tpem(const char *name) {
  char rel[256];
  snprintf(rel, sizeof(rel), "flight/%s", name);
  size_t size = 0;
  uint8_t *data = cft_read_file(cft_data_path(rel), &size);
  if (data == NULL) return NULL;
  char *s = malloc(size + 1);
  memcpy(s, data, size);
  s[size] = '\0';
  free(data);
  return s;
}
