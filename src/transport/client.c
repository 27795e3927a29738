/* The client side: channels (one HTTP/2 connection at a time, made lazily,
 * remade after it drops or the server sends GOAWAY), calls started on them,
 * connecting (name resolution, TCP or Unix socket, TLS), deadlines, and the
 * client's reading of response headers and trailers. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>

#include "transport/internal.h"

static void channel_connect(cf_channel *ch);

/* ---- waiting list (calls waiting for a connection) -------------------------------------- */

static void wait_push(cf_channel *ch, cf_call *call, bool front) {
  call->wait_next = NULL;
  if (front) {
    call->wait_next = ch->wait_head;
    ch->wait_head = call;
    if (ch->wait_tail == NULL) ch->wait_tail = call;
    return;
  }
  if (ch->wait_tail != NULL) {
    ch->wait_tail->wait_next = call;
  } else {
    ch->wait_head = call;
  }
  ch->wait_tail = call;
}

static bool wait_remove(cf_channel *ch, cf_call *call) {
  cf_call *prev = NULL;
  for (cf_call *c = ch->wait_head; c != NULL; prev = c, c = c->wait_next) {
    if (c != call) continue;
    if (prev != NULL) {
      prev->wait_next = c->wait_next;
    } else {
      ch->wait_head = c->wait_next;
    }
    if (ch->wait_tail == c) ch->wait_tail = prev;
    c->wait_next = NULL;
    return true;
  }
  return false;
}

static void fail_waiting(cf_channel *ch, int code, const char *msg) {
  while (ch->wait_head != NULL) {
    cf_call *call = ch->wait_head;
    ch->wait_head = call->wait_next;
    if (ch->wait_head == NULL) ch->wait_tail = NULL;
    call->wait_next = NULL;
    cf_client_call_end(call, code, msg);
    cf_call_loop_release(call);
  }
}

/* ---- ending calls (loop side) -----------------------------------------------------------------
 */

void cf_client_call_end(cf_call *call, int code, const char *msg) {
  pthread_mutex_lock(&call->loop->mu);
  if (!call->ended) {
    call->ended = true;
    call->headers_ready = true;
    cflight_error_set(&call->status.error, code, "%s", msg);
  }
  pthread_mutex_unlock(&call->loop->mu);
  cf_loop_signal_later(call->loop, call);
  if (call->loop_ended) return;
  call->loop_ended = true;
  if (call->timer_init) uv_timer_stop(&call->timer);
  cf_call_loop_abandon_sends(call);
  cf_conn *conn = call->conn;
  if (call->submitted) {
    /* The stream closes (and the call is released) when nghttp2 is done with it. */
    if (conn != NULL && !conn->closing && !call->stream_closed)
      nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
  } else {
    wait_remove(call->channel, call);
    cf_call_loop_release(call);
  }
}

static void end_with_trailers(cf_call *call) {
  cf_metadata trailers = {0};
  cflight_error st = {0};
  const cf_header *gs = cf_metadata_find(&call->hdr_block, "grpc-status");
  if (gs == NULL) {
    cflight_error_set(&st, CFLIGHT_UNKNOWN, "the server sent no grpc-status");
  } else {
    int code = 0;
    bool ok = gs->value_len > 0 && gs->value_len <= 3;
    for (size_t i = 0; ok && i < gs->value_len; i++) {
      if (gs->value[i] < '0' || gs->value[i] > '9') ok = false;
      code = code * 10 + (gs->value[i] - '0');
    }
    st.code = ok && code <= 16 ? code : CFLIGHT_UNKNOWN;
  }
  for (size_t i = 0; i < call->hdr_block.count; i++) {
    const cf_header *h = &call->hdr_block.items[i];
    if (strcmp(h->key, "grpc-status") == 0) continue;
    if (strcmp(h->key, "grpc-message") == 0) {
      cf_bytes dec = {0};
      if (cf_percent_decode(h->value, h->value_len, &dec, NULL) == CFLIGHT_OK)
        cflight_error_set(&st, st.code, "%.*s", (int)dec.len, (const char *)dec.data);
      cf_bytes_reset(&dec);
      continue;
    }
    if (strcmp(h->key, "grpc-status-details-bin") == 0) {
      cflight_error_set_extra_info(&st, h->value, h->value_len);
      continue;
    }
    cf_metadata_add(&trailers, h->key, h->value, h->value_len, NULL);
  }
  if (st.code != CFLIGHT_OK && st.message[0] == '\0')
    cflight_error_set(&st, st.code, "%s", cflight_code_name(st.code));
  cf_metadata_reset(&call->hdr_block);

  if (st.code == CFLIGHT_DEADLINE_EXCEEDED || st.code == CFLIGHT_CANCELLED)
    atomic_store(&call->cancelled_flag, true);
  pthread_mutex_lock(&call->loop->mu);
  if (!call->ended) {
    call->ended = true;
    call->status_from_peer = true;
    call->headers_ready = true;
    cflight_error_move(&call->status.error, &st);
    call->status.trailers = trailers;
    memset(&trailers, 0, sizeof(trailers));
  }
  pthread_mutex_unlock(&call->loop->mu);
  cf_loop_signal_later(call->loop, call);
  cflight_error_reset(&st);
  cf_metadata_reset(&trailers);
  call->loop_ended = true;
  if (call->timer_init) uv_timer_stop(&call->timer);
  cf_call_loop_abandon_sends(call);
  cf_conn *conn = call->conn;
  /* The server is done: if we were still sending, stop. */
  if (conn != NULL && !conn->closing && !call->stream_closed && !call->local_done)
    nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_NO_ERROR);
}

/* ---- nghttp2 hooks ------------------------------------------------------------------------------
 */

int cf_client_on_headers_done(cf_conn *conn, cf_call *call, const nghttp2_frame *frame) {
  CF_UNUSED(conn);
  if (call->loop_ended) return 0;
  bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (end) call->remote_closed = true;
  char msg[600];
  if (call->hdr_bad) {
    cf_client_call_end(call, CFLIGHT_RESOURCE_EXHAUSTED,
                       "the server's metadata is larger than max_metadata_size");
    return 0;
  }
  if (!call->got_headers) {
    call->got_headers = true;
    bool has_status = cf_metadata_find(&call->hdr_block, "grpc-status") != NULL;
    if (call->http_status != 200 && !(end && has_status)) {
      snprintf(msg, sizeof(msg), "HTTP status %d from %s (is it a gRPC server?)", call->http_status,
               call->channel->target);
      cf_client_call_end(call, cf_http_status_to_grpc(call->http_status), msg);
      return 0;
    }
    if (!(end && has_status)) {
      const char *ct = call->resp_content_type;
      if (ct == NULL || !cf_is_grpc_content_type((const uint8_t *)ct, strlen(ct))) {
        snprintf(msg, sizeof(msg), "unexpected content-type '%s' from %s (is it a gRPC server?)",
                 ct != NULL ? ct : "", call->channel->target);
        cf_client_call_end(call, CFLIGHT_UNKNOWN, msg);
        return 0;
      }
    }
    if (!end) {
      pthread_mutex_lock(&call->loop->mu);
      cf_metadata_reset(&call->resp_headers);
      call->resp_headers = call->hdr_block;
      memset(&call->hdr_block, 0, sizeof(call->hdr_block));
      call->resp_headers_received = true;
      call->headers_ready = true;
      pthread_mutex_unlock(&call->loop->mu);
      cf_loop_signal_later(call->loop, call);
      return 0;
    }
  } else if (!end) {
    return 0;
  }
  if (call->pfx_have > 0 || call->msg_started) {
    cf_client_call_end(call, CFLIGHT_INTERNAL,
                       "the server ended the stream in the middle of a message");
    return 0;
  }
  end_with_trailers(call);
  return 0;
}

void cf_client_on_stream_close(cf_conn *conn, cf_call *call, uint32_t error_code) {
  cf_conn_remove_call(conn, call);
  if (!call->loop_ended) {
    char msg[600];
    if (error_code == NGHTTP2_NO_ERROR) {
      snprintf(msg, sizeof(msg), "the server closed the stream without a status");
    } else if (error_code == NGHTTP2_REFUSED_STREAM) {
      snprintf(msg, sizeof(msg),
               "the server at %s refused the stream (it is going away or overloaded)", conn->desc);
    } else {
      snprintf(msg, sizeof(msg), "stream reset by the server: %s (HTTP/2 error 0x%x)",
               nghttp2_http2_strerror(error_code), error_code);
    }
    if (error_code == NGHTTP2_CANCEL) atomic_store(&call->cancelled_flag, true);
    cf_client_call_end(call, cf_rst_code_to_grpc(error_code), msg);
  }
  cf_call_loop_release(call);
}

void cf_client_on_not_sent(cf_conn *conn, cf_call *call, const nghttp2_frame *frame, int lib_err) {
  cf_channel *ch = conn->channel;
  if (lib_err != NGHTTP2_ERR_START_STREAM_NOT_ALLOWED || call->loop_ended || ch->closing) return;
  /* The request never left: the connection is going away (GOAWAY). Start
   * it again on a fresh connection. */
  nghttp2_session_set_stream_user_data(conn->session, frame->hd.stream_id, NULL);
  cf_conn_remove_call(conn, call);
  call->submitted = false;
  call->stream_id = 0;
  call->deferred = false;
  call->local_done = false;
  if (ch->conn == conn) ch->conn = NULL;
  wait_push(ch, call, false);
  channel_connect(ch);
}

/* ---- submitting requests -------------------------------------------------------------------- */

static void submit_call(cf_conn *conn, cf_call *call) {
  cf_channel *ch = call->channel;
  cflight_error err = {0};
  cf_nvbuf nv = {0};
  int rc = CFLIGHT_OK;
  char timeout[16];
  bool tls = ch->addr.scheme == CF_SCHEME_TLS;
  if (rc == CFLIGHT_OK) rc = cf_nv_add(&nv, ":method", "POST", 4, &err);
  if (rc == CFLIGHT_OK) rc = cf_nv_add(&nv, ":scheme", tls ? "https" : "http", tls ? 5 : 4, &err);
  if (rc == CFLIGHT_OK) rc = cf_nv_add(&nv, ":path", call->path, strlen(call->path), &err);
  if (rc == CFLIGHT_OK)
    rc = cf_nv_add(&nv, ":authority", ch->authority, strlen(ch->authority), &err);
  if (rc == CFLIGHT_OK) rc = cf_nv_add(&nv, "te", "trailers", 8, &err);
  if (rc == CFLIGHT_OK) rc = cf_nv_add(&nv, "content-type", "application/grpc", 16, &err);
  if (rc == CFLIGHT_OK)
    rc = cf_nv_add(&nv, "user-agent", ch->user_agent, strlen(ch->user_agent), &err);
  if (rc == CFLIGHT_OK) rc = cf_nv_add(&nv, "grpc-accept-encoding", "identity", 8, &err);
  if (rc == CFLIGHT_OK && call->deadline_ns > 0) {
    cf_grpc_timeout_encode(call->deadline_ns - cf_now_ns(), timeout);
    rc = cf_nv_add(&nv, "grpc-timeout", timeout, strlen(timeout), &err);
  }
  if (rc == CFLIGHT_OK) rc = cf_nv_add_metadata(&nv, &call->req_headers, &err);
  if (rc != CFLIGHT_OK) {
    cf_nv_reset(&nv);
    cf_client_call_end(call, rc, err.message);
    return;
  }
  nghttp2_data_provider dp = cf_call_data_provider(call);
  int32_t sid = nghttp2_submit_request(conn->session, NULL, nv.nv, nv.n, &dp, call);
  cf_nv_reset(&nv);
  if (sid == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE) {
    /* Stream ids ran out: this connection drains, a new one takes over. */
    if (ch->conn == conn) ch->conn = NULL;
    wait_push(ch, call, true);
    channel_connect(ch);
    return;
  }
  if (sid < 0) {
    char msg[200];
    snprintf(msg, sizeof(msg), "cannot start the call: %s", nghttp2_strerror(sid));
    cf_client_call_end(call, CFLIGHT_INTERNAL, msg);
    return;
  }
  call->stream_id = sid;
  call->submitted = true;
  cf_conn_add_call(conn, call);
}

static void drain_waiting(cf_channel *ch) {
  cf_conn *conn = ch->conn;
  while (ch->wait_head != NULL && ch->conn == conn && conn != NULL && conn->state == CONN_OPEN &&
         !conn->closing) {
    cf_call *call = ch->wait_head;
    ch->wait_head = call->wait_next;
    if (ch->wait_head == NULL) ch->wait_tail = NULL;
    call->wait_next = NULL;
    submit_call(conn, call);
  }
}

static void on_client_deadline(uv_timer_t *t) {
  cf_call *call = t->data;
  if (call->loop_ended) return;
  cf_conn *conn = call->conn;
  atomic_store(&call->cancelled_flag, true);
  cf_client_call_end(call, CFLIGHT_DEADLINE_EXCEEDED, "Deadline Exceeded");
  if (conn != NULL) cf_conn_flush(conn);
}

static void client_start(cf_call *call) {
  cf_channel *ch = call->channel;
  cf_call_ref(call); /* the loop's reference, dropped by cf_call_loop_release */
  if (ch->closing) {
    cf_client_call_end(call, CFLIGHT_CANCELLED, "the channel was closed");
    return;
  }
  if (call->deadline_ns > 0) {
    if (call->deadline_ns <= cf_now_ns()) {
      atomic_store(&call->cancelled_flag, true);
      cf_client_call_end(call, CFLIGHT_DEADLINE_EXCEEDED, "Deadline Exceeded");
      return;
    }
    cf_call_start_timer(call, on_client_deadline);
  }
  wait_push(ch, call, false);
  if (ch->conn == NULL) {
    channel_connect(ch);
  } else {
    drain_waiting(ch);
  }
}

void cf_client_process_call(cf_call *call) {
  cf_loop *loop = call->loop;
  pthread_mutex_lock(&loop->mu);
  unsigned flags = call->pending;
  call->pending = 0;
  call->in_pending = false;
  cf_out_entry *list = call->in_head;
  call->in_head = call->in_tail = NULL;
  bool close = call->send_closed;
  uint64_t bytes = call->consume_req, msgs = call->consume_msgs, held = call->consume_held;
  call->consume_req = call->consume_msgs = call->consume_held = 0;
  bool ended = call->ended;
  pthread_mutex_unlock(&loop->mu);

  if (flags & CALL_P_START) client_start(call);
  cf_call_loop_append_sends(call, list);
  if (call->loop_released) return;
  if (close) call->local_close_taken = true;
  cf_conn *conn = call->conn;
  if (ended && !call->loop_ended) {
    cf_client_call_end(call, CFLIGHT_CANCELLED, "cancelled");
  } else if (call->submitted && call->deferred && !call->stream_closed && conn != NULL &&
             !conn->closing && (list != NULL || close)) {
    call->deferred = false;
    nghttp2_session_resume_data(conn->session, call->stream_id);
  }
  if (bytes > 0 || msgs > 0) cf_call_loop_consume(call, bytes, msgs, held);
  if (conn != NULL) cf_conn_flush(conn);
}

/* ---- connecting -------------------------------------------------------------------------------
 */

static void connect_next(cf_conn *conn);

static void on_connect_timeout(uv_timer_t *t) {
  cf_conn *conn = t->data;
  if (conn->closing || conn->state == CONN_OPEN) return;
  cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "connecting to %s timed out after %lld ms%s", conn->desc,
                (long long)conn->opts->connect_timeout_ms,
                conn->state == CONN_HANDSHAKING ? " (in the TLS handshake)" : "");
}

static void note_connect_error(cf_conn *conn, const char *where, const char *what) {
  size_t used = strlen(conn->last_connect_error);
  snprintf(conn->last_connect_error + used, sizeof(conn->last_connect_error) - used, "%s%s%s%s",
           used ? "; " : "", where, where[0] ? ": " : "", what);
}

static void on_attempt_closed(uv_handle_t *h) {
  cf_conn *conn = h->data;
  bool closing = conn->closing;
  cf_conn_unref_handle(conn);
  if (!closing) connect_next(conn);
}

static void on_connected(uv_connect_t *req, int status) {
  cf_conn *conn = req->handle->data;
  conn->connect_active = false;
  if (conn->closing) return;
  cf_channel *ch = conn->channel;
  if (status < 0) {
    /* With several addresses, the message lists each one's failure. */
    note_connect_error(conn, conn->is_pipe || conn->ai == NULL ? "" : conn->attempt,
                       uv_strerror(status));
    if (conn->is_pipe || conn->ai_next == NULL) {
      cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "failed to connect to %s: %s", conn->desc,
                    conn->last_connect_error);
      return;
    }
    conn->handle_init = false;
    uv_close((uv_handle_t *)&conn->h, on_attempt_closed);
    return;
  }
  if (!conn->is_pipe) {
    uv_tcp_nodelay(&conn->h.tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&conn->h.tcp, (struct sockaddr *)&ss, &len) == 0)
      cf_sockaddr_peer_string((struct sockaddr *)&ss, conn->peer->peer, sizeof(conn->peer->peer));
  } else {
    snprintf(conn->peer->peer, sizeof(conn->peer->peer), "unix:%s", ch->addr.path);
  }
  SSL *ssl = NULL;
  cflight_error err = {0};
  if (ch->addr.scheme == CF_SCHEME_TLS &&
      cf_tls_client_ssl_new(ch->ssl_ctx, &ch->opts.tls_client, ch->sni_host, &ssl, &err) !=
          CFLIGHT_OK) {
    cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "%s", err.message);
    return;
  }
  if (cf_conn_start(conn, ssl, &err) != CFLIGHT_OK) {
    if (ssl != NULL && conn->ssl == NULL) SSL_free(ssl);
    cf_conn_close(conn, err.code, "%s: %s", conn->desc, err.message);
  }
}

static void start_tcp_connect(cf_conn *conn, const struct sockaddr *sa) {
  uv_tcp_init(&conn->loop->uv, &conn->h.tcp);
  conn->h.tcp.data = conn;
  conn->handle_init = true;
  conn->handles_open++;
  conn->state = CONN_CONNECTING;
  cf_sockaddr_string(sa, conn->attempt, sizeof(conn->attempt));
  int rc = uv_tcp_connect(&conn->connect_req, &conn->h.tcp, sa, on_connected);
  if (rc != 0) {
    note_connect_error(conn, conn->attempt, uv_strerror(rc));
    if (conn->ai_next == NULL) {
      cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "failed to connect to %s: %s", conn->desc,
                    conn->last_connect_error);
      return;
    }
    conn->handle_init = false;
    uv_close((uv_handle_t *)&conn->h, on_attempt_closed);
    return;
  }
  conn->connect_active = true;
}

static void connect_next(cf_conn *conn) {
  while (conn->ai_next != NULL && conn->ai_next->ai_family != AF_INET &&
         conn->ai_next->ai_family != AF_INET6)
    conn->ai_next = conn->ai_next->ai_next;
  if (conn->ai_next == NULL) {
    cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "failed to connect to %s: %s", conn->desc,
                  conn->last_connect_error[0] ? conn->last_connect_error : "no address");
    return;
  }
  struct addrinfo *ai = conn->ai_next;
  conn->ai_next = ai->ai_next;
  start_tcp_connect(conn, ai->ai_addr);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  cf_conn *conn = req->data;
  conn->gai_active = false;
  if (conn->closing) {
    if (res != NULL) uv_freeaddrinfo(res);
    cf_conn_unref_handle(conn);
    return;
  }
  cf_conn_unref_handle(conn); /* not closing: the connection stays */
  if (status < 0) {
    cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "failed to connect to %s: cannot resolve '%s': %s",
                  conn->desc, conn->channel->addr.host, uv_strerror(status));
    return;
  }
  conn->ai = res;
  conn->ai_next = res;
  connect_next(conn);
}

static void channel_connect(cf_channel *ch) {
  if (ch->conn != NULL || ch->closing) return;
  cf_conn *conn = cf_conn_new(ch->loop, false, &ch->opts);
  if (conn == NULL) {
    fail_waiting(ch, CFLIGHT_NO_MEMORY, "out of memory connecting");
    return;
  }
  conn->channel = ch;
  snprintf(conn->desc, sizeof(conn->desc), "%s", ch->target);
  conn->next = ch->conns;
  if (ch->conns != NULL) ch->conns->prev = conn;
  ch->conns = conn;
  ch->conn = conn;
  conn->state = CONN_RESOLVING;
  conn->handles_open++; /* held while this function runs */
  uv_timer_start(cf_conn_timer(conn), on_connect_timeout, (uint64_t)ch->opts.connect_timeout_ms, 0);
  if (ch->addr.scheme == CF_SCHEME_UNIX) {
    conn->is_pipe = true;
    uv_pipe_init(&conn->loop->uv, &conn->h.pipe, 0);
    conn->h.pipe.data = conn;
    conn->handle_init = true;
    conn->handles_open++;
    conn->state = CONN_CONNECTING;
    conn->connect_active = true;
    uv_pipe_connect(&conn->connect_req, &conn->h.pipe, ch->addr.path, on_connected);
  } else {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (uv_ip4_addr(ch->addr.host, ch->addr.port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(ch->addr.host, ch->addr.port, (struct sockaddr_in6 *)&ss) == 0) {
      start_tcp_connect(conn, (struct sockaddr *)&ss);
    } else {
      char port[16];
      snprintf(port, sizeof(port), "%d", ch->addr.port);
      struct addrinfo hints;
      memset(&hints, 0, sizeof(hints));
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      conn->gai.data = conn;
      conn->gai_active = true;
      conn->handles_open++;
      int rc = uv_getaddrinfo(&ch->loop->uv, &conn->gai, on_resolved, ch->addr.host, port, &hints);
      if (rc != 0) {
        conn->gai_active = false;
        conn->handles_open--;
        cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "failed to connect to %s: cannot resolve: %s",
                      conn->desc, uv_strerror(rc));
      }
    }
  }
  cf_conn_unref_handle(conn);
}

/* ---- connection events ------------------------------------------------------------------------
 */

void cf_client_conn_ready(cf_conn *conn) {
  cf_channel *ch = conn->channel;
  if (ch->conn == conn) drain_waiting(ch);
}

void cf_client_conn_settings(cf_conn *conn) {
  cf_channel *ch = conn->channel;
  pthread_mutex_lock(&ch->loop->mu);
  if (ch->conn == conn) ch->ready = true;
  ch->attempts_done++;
  pthread_cond_broadcast(&ch->loop->cv);
  pthread_mutex_unlock(&ch->loop->mu);
}

void cf_client_conn_goaway(cf_conn *conn) {
  cf_channel *ch = conn->channel;
  if (ch->conn != conn) return;
  /* Calls in flight finish here; new ones go to a new connection. */
  ch->conn = NULL;
  pthread_mutex_lock(&ch->loop->mu);
  ch->ready = false;
  pthread_mutex_unlock(&ch->loop->mu);
}

void cf_client_conn_closed(cf_conn *conn) {
  cf_channel *ch = conn->channel;
  if (ch->conn != conn) return;
  ch->conn = NULL;
  pthread_mutex_lock(&ch->loop->mu);
  ch->ready = false;
  ch->attempts_done++;
  cflight_error_set(&ch->last_error, conn->close_error.code, "%s", conn->close_error.message);
  pthread_cond_broadcast(&ch->loop->cv);
  pthread_mutex_unlock(&ch->loop->mu);
  /* Calls that waited for this connection fail (gRPC's fail-fast). */
  fail_waiting(ch, conn->close_error.code, conn->close_error.message);
}

void cf_client_conn_freed(cf_conn *conn) {
  cf_channel *ch = conn->channel;
  if (conn->prev != NULL) {
    conn->prev->next = conn->next;
  } else if (ch->conns == conn) {
    ch->conns = conn->next;
  }
  if (conn->next != NULL) conn->next->prev = conn->prev;
}

/* ---- public functions -------------------------------------------------------------------------
 */

int cf_channel_new(const cf_address *addr, const cf_transport_options *opts, cf_channel **out,
                   cflight_error *err) {
  *out = NULL;
  cf_channel *ch = cf_calloc(1, sizeof(*ch));
  if (ch == NULL) return CF_NOMEM(err, "channel");
  ch->addr = *addr;
  int rc;
  if (opts != NULL) {
    rc = cf_transport_options_copy(opts, &ch->opts, err);
    if (rc != CFLIGHT_OK) {
      free(ch);
      return rc;
    }
  } else {
    cf_transport_options_init(&ch->opts);
  }
  bool v6 = strchr(addr->host, ':') != NULL;
  if (addr->scheme == CF_SCHEME_UNIX) {
    snprintf(ch->target, sizeof(ch->target), "unix:%s", addr->path);
    snprintf(ch->authority, sizeof(ch->authority), "localhost");
  } else {
    snprintf(ch->target, sizeof(ch->target), v6 ? "[%s]:%d" : "%s:%d", addr->host, addr->port);
    snprintf(ch->authority, sizeof(ch->authority), "%s", ch->target);
  }
  if (ch->opts.authority != NULL)
    snprintf(ch->authority, sizeof(ch->authority), "%s", ch->opts.authority);
  snprintf(ch->sni_host, sizeof(ch->sni_host), "%s", addr->host);
  if (ch->opts.user_agent != NULL) {
    snprintf(ch->user_agent, sizeof(ch->user_agent), "%s %s", ch->opts.user_agent, CF_USER_AGENT);
  } else {
    snprintf(ch->user_agent, sizeof(ch->user_agent), "%s", CF_USER_AGENT);
  }
  rc = CFLIGHT_OK;
  if (addr->scheme == CF_SCHEME_TLS)
    rc = cf_tls_client_ctx_new(&ch->opts.tls_client, &ch->ssl_ctx, err);
  if (rc == CFLIGHT_OK) {
    ch->loop = cf_calloc(1, sizeof(*ch->loop));
    if (ch->loop == NULL) rc = CF_NOMEM(err, "channel");
  }
  if (rc == CFLIGHT_OK) {
    rc = cf_loop_start(ch->loop, cf_client_process_call, err);
    if (rc != CFLIGHT_OK) {
      free(ch->loop);
      ch->loop = NULL;
    }
  }
  if (rc != CFLIGHT_OK) {
    if (ch->ssl_ctx != NULL) SSL_CTX_free(ch->ssl_ctx);
    cf_transport_options_reset(&ch->opts);
    free(ch);
    return rc;
  }
  *out = ch;
  return CFLIGHT_OK;
}

static void task_connect(void *arg) {
  cf_channel *ch = arg;
  if (ch->conn == NULL) {
    channel_connect(ch);
  } else if (ch->conn->settings_received) {
    pthread_mutex_lock(&ch->loop->mu);
    ch->ready = true;
    ch->attempts_done++;
    pthread_cond_broadcast(&ch->loop->cv);
    pthread_mutex_unlock(&ch->loop->mu);
  }
}

int cf_channel_wait_ready(cf_channel *ch, int64_t deadline_ns, cflight_error *err) {
  cf_loop *loop = ch->loop;
  pthread_mutex_lock(&loop->mu);
  if (ch->ready) {
    pthread_mutex_unlock(&loop->mu);
    return CFLIGHT_OK;
  }
  uint64_t start = ch->attempts_done;
  pthread_mutex_unlock(&loop->mu);
  if (!cf_loop_post(loop, task_connect, ch))
    return cflight_error_set(err, CFLIGHT_CANCELLED, "the channel was closed");
  struct timespec ts = {0};
  if (deadline_ns > 0) {
    ts.tv_sec = deadline_ns / 1000000000;
    ts.tv_nsec = deadline_ns % 1000000000;
  }
  int rc = CFLIGHT_OK;
  pthread_mutex_lock(&loop->mu);
  while (!ch->ready && ch->attempts_done == start && !loop->stopped) {
    if (deadline_ns > 0) {
      if (pthread_cond_timedwait(&loop->cv, &loop->mu, &ts) != 0 && cf_now_ns() >= deadline_ns) {
        rc = cflight_error_set(err, CFLIGHT_DEADLINE_EXCEEDED,
                               "deadline passed before the connection to %s was ready", ch->target);
        break;
      }
    } else {
      pthread_cond_wait(&loop->cv, &loop->mu);
    }
  }
  if (rc == CFLIGHT_OK && !ch->ready) {
    rc = ch->last_error.code != CFLIGHT_OK ? ch->last_error.code : CFLIGHT_UNAVAILABLE;
    cflight_error_set(err, rc, "%s",
                      ch->last_error.message[0] ? ch->last_error.message : "not connected");
  }
  pthread_mutex_unlock(&loop->mu);
  return rc;
}

static void task_channel_stop(void *arg) {
  cf_channel *ch = arg;
  ch->closing = true;
  fail_waiting(ch, CFLIGHT_CANCELLED, "the channel was closed");
  for (cf_conn *c = ch->conns; c != NULL;) {
    cf_conn *next = c->next;
    cf_conn_close(c, CFLIGHT_CANCELLED, "the channel was closed");
    c = next;
  }
  cf_loop_close_wake(ch->loop);
}

void cf_channel_free(cf_channel *ch) {
  if (ch == NULL) return;
  pthread_mutex_lock(&ch->loop->mu);
  ch->freed = true;
  pthread_mutex_unlock(&ch->loop->mu);
  cf_loop_stop(ch->loop, task_channel_stop, ch);
  if (ch->ssl_ctx != NULL) SSL_CTX_free(ch->ssl_ctx);
  cf_transport_options_reset(&ch->opts);
  cflight_error_reset(&ch->last_error);
  cf_loop_unref(ch->loop);
  free(ch);
}

int cf_channel_start_call(cf_channel *ch, const char *path, const cf_metadata *headers,
                          int64_t deadline_ns, cf_call **out, cflight_error *err) {
  *out = NULL;
  if (path == NULL || path[0] != '/')
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "call path must start with '/' (\"/package.Service/Method\")");
  if (headers != NULL) {
    for (size_t i = 0; i < headers->count; i++)
      CF_RETURN_NOT_OK(cf_header_check(&headers->items[i], err));
  }
  cf_call *call = cf_call_alloc(ch->loop, false);
  if (call == NULL) return CF_NOMEM(err, "call");
  call->channel = ch;
  call->opts = &ch->opts;
  call->max_send = ch->opts.max_send_message_size;
  call->q_bytes = ch->opts.send_queue_bytes;
  call->q_msgs = ch->opts.send_queue_messages;
  call->consume_batch = ch->opts.stream_window / 8;
  call->deadline_ns = deadline_ns;
  call->path = cf_strdup(path);
  int rc = call->path != NULL ? cf_metadata_copy(headers, &call->req_headers, err)
                              : CF_NOMEM(err, "call");
  if (rc != CFLIGHT_OK) {
    cf_call_unref(call);
    return rc;
  }
  cf_loop *loop = ch->loop;
  pthread_mutex_lock(&loop->mu);
  if (ch->freed || loop->stopping || loop->stopped) {
    pthread_mutex_unlock(&loop->mu);
    cf_call_unref(call);
    return cflight_error_set(err, CFLIGHT_CANCELLED, "the channel was closed");
  }
  bool wake = cf_loop_mark_locked(loop, call, CALL_P_START);
  pthread_mutex_unlock(&loop->mu);
  if (wake) cf_loop_wake(loop);
  *out = call;
  return CFLIGHT_OK;
}

int cf_call_response_headers(cf_call *call, const cf_metadata **out, cflight_error *err) {
  cf_loop *loop = call->loop;
  int rc = CFLIGHT_OK;
  pthread_mutex_lock(&loop->mu);
  while (!call->headers_ready && !loop->stopped)
    pthread_cond_wait(&call->cv, &loop->mu);
  if (call->resp_headers_received || (call->ended && call->status_from_peer)) {
    /* A trailers-only response has no headers: its metadata are trailers. */
    *out = &call->resp_headers;
  } else {
    *out = NULL;
    rc = call->status.error.code != CFLIGHT_OK ? call->status.error.code : CFLIGHT_CANCELLED;
    cflight_error_set(err, rc, "%s", call->status.error.message);
  }
  pthread_mutex_unlock(&loop->mu);
  return rc;
}

int cf_call_finish(cf_call *call, cf_status *out) {
  cf_loop *loop = call->loop;
  pthread_mutex_lock(&loop->mu);
  for (;;) {
    /* Messages nobody will read are dropped, returning their window. */
    cf_recv_msg *drop = call->rq_head;
    call->rq_head = call->rq_tail = NULL;
    bool wake = false;
    for (cf_recv_msg *m = drop; m != NULL; m = m->next) {
      call->consume_req += m->unconsumed;
      call->consume_msgs++;
      call->consume_held += m->wire;
    }
    if (drop != NULL) wake = cf_loop_mark_locked(loop, call, CALL_P_CONSUME);
    if (drop != NULL) {
      pthread_mutex_unlock(&loop->mu);
      if (wake) cf_loop_wake(loop);
      while (drop != NULL) {
        cf_recv_msg *next = drop->next;
        cf_msg_reset(&drop->msg);
        free(drop);
        drop = next;
      }
      pthread_mutex_lock(&loop->mu);
      continue;
    }
    if (call->ended || loop->stopped) break;
    pthread_cond_wait(&call->cv, &loop->mu);
  }
  int code;
  if (!call->ended) {
    code = CFLIGHT_CANCELLED;
    if (out != NULL) cflight_error_set(&out->error, code, "the channel was closed");
  } else {
    code = call->status.error.code;
    if (out != NULL) {
      cflight_error_set(&out->error, code, "%s", call->status.error.message);
      if (call->status.error.extra_info != NULL)
        cflight_error_set_extra_info(&out->error,
                                     cflight_buffer_data(call->status.error.extra_info),
                                     cflight_buffer_size(call->status.error.extra_info));
      cf_metadata_copy(&call->status.trailers, &out->trailers, NULL);
    }
  }
  pthread_mutex_unlock(&loop->mu);
  return code;
}
