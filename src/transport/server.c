/* The server side: listeners, accepted connections, incoming calls handed
 * to a pool of worker threads, responses (headers, messages, trailers or a
 * trailers-only response), server-side deadlines, and graceful shutdown
 * (GOAWAY twice, in-flight calls finish, then close). */
#include <netdb.h>
#include <stdio.h>

#include "transport/internal.h"

/* ---- worker pool --------------------------------------------------------------------------- */

static void *worker_main(void *arg) {
  cf_server *srv = arg;
  pthread_mutex_lock(&srv->pool_mu);
  for (;;) {
    while (srv->work_head == NULL && !srv->pool_stop) {
      srv->n_idle++;
      pthread_cond_wait(&srv->pool_cv, &srv->pool_mu);
      srv->n_idle--;
    }
    if (srv->work_head == NULL) break;
    cf_work *w = srv->work_head;
    srv->work_head = w->next;
    if (srv->work_head == NULL) srv->work_tail = NULL;
    srv->n_queued--;
    pthread_mutex_unlock(&srv->pool_mu);
    srv->handler(srv->handler_ctx, w->call);
    free(w);
    pthread_mutex_lock(&srv->pool_mu);
  }
  pthread_mutex_unlock(&srv->pool_mu);
  return NULL;
}

/* Hands the call to a worker; threads are made on demand up to the maximum,
 * so a handler blocked on a slow stream never holds up another call. */
static bool dispatch(cf_server *srv, cf_call *call) {
  cf_work *w = cf_calloc(1, sizeof(*w));
  if (w == NULL) return false;
  w->call = call;
  pthread_mutex_lock(&srv->pool_mu);
  if (srv->work_tail != NULL) {
    srv->work_tail->next = w;
  } else {
    srv->work_head = w;
  }
  srv->work_tail = w;
  srv->n_queued++;
  if (srv->n_idle < srv->n_queued && srv->n_threads < (size_t)srv->opts.worker_threads_max) {
    if (srv->n_threads == srv->cap_threads) {
      size_t cap = srv->cap_threads ? srv->cap_threads * 2 : 16;
      pthread_t *t = cf_realloc(srv->threads, cap * sizeof(*t));
      if (t != NULL) {
        srv->threads = t;
        srv->cap_threads = cap;
      }
    }
    if (srv->n_threads < srv->cap_threads &&
        pthread_create(&srv->threads[srv->n_threads], NULL, worker_main, srv) == 0)
      srv->n_threads++;
  }
  bool ok = srv->n_threads > 0;
  if (!ok) {
    /* Not a single worker: take the call back. */
    srv->work_head = srv->work_tail = NULL;
    srv->n_queued = 0;
    free(w);
  }
  pthread_cond_signal(&srv->pool_cv);
  pthread_mutex_unlock(&srv->pool_mu);
  return ok;
}

/* ---- responses ------------------------------------------------------------------------------ */

static int add_response_base(cf_nvbuf *nv, cflight_error *err) {
  CF_RETURN_NOT_OK(cf_nv_add(nv, ":status", "200", 3, err));
  CF_RETURN_NOT_OK(cf_nv_add(nv, "content-type", "application/grpc", 16, err));
  return cf_nv_add(nv, "grpc-accept-encoding", "identity", 8, err);
}

static void submit_response_headers(cf_call *call, const cf_metadata *md) {
  cf_conn *conn = call->conn;
  cflight_error err = {0};
  cf_nvbuf nv = {0};
  int rc = add_response_base(&nv, &err);
  if (rc == CFLIGHT_OK) rc = cf_nv_add_metadata(&nv, md, &err);
  if (rc == CFLIGHT_OK) {
    nghttp2_data_provider dp = cf_call_data_provider(call);
    rc = nghttp2_submit_response(conn->session, call->stream_id, nv.nv, nv.n, &dp);
  }
  cf_nv_reset(&nv);
  call->submitted = true;
  if (rc != 0)
    nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
                              NGHTTP2_INTERNAL_ERROR);
}

static void submit_trailers_only(cf_call *call, const cflight_error *st,
                                 const cf_metadata *trailers) {
  cf_conn *conn = call->conn;
  cflight_error err = {0};
  cf_nvbuf nv = {0};
  int rc = add_response_base(&nv, &err);
  if (rc == CFLIGHT_OK) rc = cf_nv_add_status(&nv, st, &err);
  if (rc == CFLIGHT_OK) rc = cf_nv_add_metadata(&nv, trailers, &err);
  if (rc == CFLIGHT_OK)
    rc = nghttp2_submit_response(conn->session, call->stream_id, nv.nv, nv.n, NULL);
  cf_nv_reset(&nv);
  call->submitted = true;
  call->local_done = true;
  call->loop_ended = true;
  if (call->timer_init) uv_timer_stop(&call->timer);
  if (rc != 0)
    nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
                              NGHTTP2_INTERNAL_ERROR);
}

int cf_server_submit_trailers(cf_call *call) {
  cf_conn *conn = call->conn;
  if (conn == NULL) return -1;
  const cflight_error *st = call->force_end ? &call->force_status : &call->resp_status;
  const cf_metadata *trailers = call->force_end ? NULL : &call->resp_trailers;
  cflight_error err = {0};
  cf_nvbuf nv = {0};
  int rc = cf_nv_add_status(&nv, st, &err);
  if (rc == CFLIGHT_OK) rc = cf_nv_add_metadata(&nv, trailers, &err);
  if (rc == CFLIGHT_OK) rc = nghttp2_submit_trailer(conn->session, call->stream_id, nv.nv, nv.n);
  cf_nv_reset(&nv);
  call->loop_ended = true;
  if (call->timer_init) uv_timer_stop(&call->timer);
  return rc;
}

/* A plain HTTP answer to a request that is not gRPC. */
static void respond_http(cf_conn *conn, cf_call *call, const char *status) {
  nghttp2_nv nv[2] = {
      {(uint8_t *)":status", (uint8_t *)status, 7, strlen(status), NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"content-type", (uint8_t *)"text/plain", 12, 10, NGHTTP2_NV_FLAG_NONE}};
  nghttp2_submit_response(conn->session, call->stream_id, nv, 2, NULL);
  call->submitted = true;
  call->local_done = true;
  call->loop_ended = true;
}

/* Ends a call from the loop (deadline, bad input, lost connection): the
 * handler's operations fail with code; the client gets the status. */
void cf_server_call_end(cf_call *call, int code, const char *msg) {
  pthread_mutex_lock(&call->loop->mu);
  if (!call->ended) {
    call->ended = true;
    cflight_error_set(&call->end_error, code, "%s", msg);
    atomic_store(&call->cancelled_flag, true);
    cf_call_signal_locked(call);
  }
  pthread_mutex_unlock(&call->loop->mu);
  if (call->loop_ended) return;
  cf_conn *conn = call->conn;
  if (call->timer_init) uv_timer_stop(&call->timer);
  if (conn == NULL || conn->closing || call->stream_closed) {
    call->loop_ended = true;
    cf_call_loop_abandon_sends(call);
    return;
  }
  if (!call->submitted) {
    cf_call_loop_abandon_sends(call);
    cflight_error st = {0};
    cflight_error_set(&st, code, "%s", msg);
    submit_trailers_only(call, &st, NULL);
    cflight_error_reset(&st);
    return;
  }
  if (call->local_done) {
    call->loop_ended = true;
    return;
  }
  if (call->sq_head != NULL && call->sq_head->handed > 0) {
    /* A message is half sent: only a reset can end the stream now. */
    call->loop_ended = true;
    cf_call_loop_abandon_sends(call);
    nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
    return;
  }
  cf_call_loop_abandon_sends(call);
  cflight_error_set(&call->force_status, code, "%s", msg);
  call->force_end = true;
  call->local_close_taken = true;
  if (call->deferred) {
    call->deferred = false;
    nghttp2_session_resume_data(conn->session, call->stream_id);
  }
}

/* ---- incoming streams
 * ---------------------------------------------------------------------------- */

int cf_server_on_begin_headers(cf_conn *conn, const nghttp2_frame *frame) {
  cf_server *srv = conn->server;
  cf_call *call = cf_call_alloc(conn->loop, true);
  if (call == NULL) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  call->server = srv;
  call->opts = &srv->opts;
  call->max_send = srv->opts.max_send_message_size;
  call->q_bytes = srv->opts.send_queue_bytes;
  call->q_msgs = srv->opts.send_queue_messages;
  call->consume_batch = srv->opts.stream_window / 8;
  call->peer = conn->peer;
  atomic_fetch_add(&conn->peer->refs, 1);
  call->stream_id = frame->hd.stream_id;
  nghttp2_session_set_stream_user_data(conn->session, frame->hd.stream_id, call);
  cf_conn_add_call(conn, call); /* the allocation's reference is the loop's */
  return 0;
}

static void on_server_deadline(uv_timer_t *t) {
  cf_call *call = t->data;
  if (call->loop_ended) return;
  cf_conn *conn = call->conn;
  cf_server_call_end(call, CFLIGHT_DEADLINE_EXCEEDED, "Deadline Exceeded");
  if (conn != NULL) cf_conn_flush(conn);
}

int cf_server_on_headers_done(cf_conn *conn, cf_call *call, const nghttp2_frame *frame) {
  bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    /* Trailers from the client end its messages. */
    if (end && !call->loop_ended) cf_call_loop_end_of_messages(call);
    cf_metadata_reset(&call->hdr_block);
    return 0;
  }
  cf_server *srv = conn->server;
  if (call->req_method == NULL || strcmp(call->req_method, "POST") != 0) {
    respond_http(conn, call, "405");
    return 0;
  }
  const char *ct = call->req_content_type;
  if (ct == NULL || !cf_is_grpc_content_type((const uint8_t *)ct, strlen(ct))) {
    respond_http(conn, call, "415");
    return 0;
  }
  call->path = call->req_path;
  call->req_path = NULL;
  if (call->path == NULL) call->path = cf_strdup("");
  call->req_headers = call->hdr_block;
  memset(&call->hdr_block, 0, sizeof(call->hdr_block));
  if (call->hdr_bad) {
    cf_server_call_end(call, CFLIGHT_RESOURCE_EXHAUSTED,
                       "request metadata larger than the server's max_metadata_size");
    return 0;
  }
  int64_t timeout_ns = 0;
  if (call->req_timeout != NULL &&
      cf_grpc_timeout_decode(call->req_timeout, strlen(call->req_timeout), &timeout_ns)) {
    call->deadline_ns = cf_now_ns() + timeout_ns;
    cf_call_start_timer(call, on_server_deadline);
  }
  if (end) {
    call->remote_closed = true;
    call->recv_eof = true; /* not shared yet: no worker has the call */
  }
  pthread_mutex_lock(&conn->loop->mu);
  srv->active_calls++;
  call->dispatched = true;
  pthread_mutex_unlock(&conn->loop->mu);
  cf_call_ref(call); /* the handler's */
  if (!dispatch(srv, call)) {
    pthread_mutex_lock(&conn->loop->mu);
    srv->active_calls--;
    call->dispatched = false;
    pthread_cond_broadcast(&conn->loop->cv);
    pthread_mutex_unlock(&conn->loop->mu);
    cf_call_unref(call);
    cf_server_call_end(call, CFLIGHT_RESOURCE_EXHAUSTED, "the server cannot start a handler");
  }
  return 0;
}

void cf_server_after_final_frame(cf_conn *conn, cf_call *call) {
  /* RFC 9113 8.1: a complete response may come before the whole request;
   * tell the client to stop sending with RST_STREAM(NO_ERROR). */
  if (!call->stream_closed &&
      !nghttp2_session_get_stream_remote_close(conn->session, call->stream_id))
    nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_NO_ERROR);
}

void cf_server_on_stream_close(cf_conn *conn, cf_call *call, uint32_t error_code) {
  cf_conn_remove_call(conn, call);
  if (!call->local_done || error_code != NGHTTP2_NO_ERROR) {
    char msg[200];
    if (error_code == NGHTTP2_CANCEL || error_code == NGHTTP2_NO_ERROR) {
      snprintf(msg, sizeof(msg), "the client cancelled the call");
    } else {
      snprintf(msg, sizeof(msg), "stream reset by the client: %s (HTTP/2 error 0x%x)",
               nghttp2_http2_strerror(error_code), error_code);
    }
    pthread_mutex_lock(&call->loop->mu);
    if (!call->ended && !(call->responded && call->local_done)) {
      call->ended = true;
      cflight_error_set(&call->end_error, CFLIGHT_CANCELLED, "%s", msg);
      atomic_store(&call->cancelled_flag, true);
      cf_call_signal_locked(call);
    }
    pthread_mutex_unlock(&call->loop->mu);
  }
  call->loop_ended = true;
  if (call->timer_init) uv_timer_stop(&call->timer);
  cf_call_loop_release(call);
}

void cf_server_process_call(cf_call *call) {
  cf_loop *loop = call->loop;
  pthread_mutex_lock(&loop->mu);
  unsigned flags = call->pending;
  call->pending = 0;
  call->in_pending = false;
  cf_out_entry *list = call->in_head;
  call->in_head = call->in_tail = NULL;
  cf_metadata *hdrs = call->hdrs_to_send;
  call->hdrs_to_send = NULL;
  bool respond = call->responded;
  uint64_t bytes = call->consume_req, msgs = call->consume_msgs, held = call->consume_held;
  call->consume_req = call->consume_msgs = call->consume_held = 0;
  bool ended = call->ended;
  pthread_mutex_unlock(&loop->mu);

  cf_call_loop_append_sends(call, list);
  cf_conn *conn = call->conn;
  if (!call->loop_released && conn != NULL && !conn->closing && !call->stream_closed) {
    if (ended && !call->loop_ended) {
      /* The handler cancelled. */
      call->loop_ended = true;
      cf_call_loop_abandon_sends(call);
      if (call->timer_init) uv_timer_stop(&call->timer);
      nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
    } else if (!call->loop_ended) {
      if (respond && !call->submitted && hdrs == NULL && call->sq_head == NULL) {
        submit_trailers_only(call, &call->resp_status, &call->resp_trailers);
      } else {
        if (!call->submitted && (hdrs != NULL || call->sq_head != NULL || respond))
          submit_response_headers(call, hdrs);
        if (respond) call->local_close_taken = true;
        if (call->submitted && call->deferred && (list != NULL || respond)) {
          call->deferred = false;
          nghttp2_session_resume_data(conn->session, call->stream_id);
        }
      }
    }
    if (bytes > 0 || msgs > 0) cf_call_loop_consume(call, bytes, msgs, held);
  }
  if (hdrs != NULL) {
    cf_metadata_reset(hdrs);
    free(hdrs);
  }
  CF_UNUSED(flags);
  if (conn != NULL) cf_conn_flush(conn);
}

/* ---- graceful shutdown --------------------------------------------------------------------------
 */

static void send_final_goaway(cf_conn *conn) {
  if (conn->goaway_sent || conn->closing || conn->session == NULL) return;
  conn->goaway_sent = true;
  nghttp2_submit_goaway(conn->session, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(conn->session), NGHTTP2_NO_ERROR,
                        NULL, 0);
}

void cf_server_on_ping_ack(cf_conn *conn) {
  /* One round trip after the shutdown notice: every stream the client
   * started before seeing it has arrived; the final GOAWAY names the last. */
  if (conn->shutdown_notice) send_final_goaway(conn);
}

static void shutdown_check(cf_server *srv) {
  if (!srv->shutting_down || srv->conns != NULL || srv->listeners != NULL) return;
  if (srv->shutdown_timer_init && !srv->shutdown_timer_closed) uv_timer_stop(&srv->shutdown_timer);
  pthread_mutex_lock(&srv->loop->mu);
  srv->loop_idle = true;
  pthread_cond_broadcast(&srv->loop->cv);
  pthread_mutex_unlock(&srv->loop->mu);
}

static void conn_begin_shutdown(cf_conn *conn) {
  if (conn->closing) return;
  if (conn->session == NULL) {
    cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "the server is shutting down");
    return;
  }
  if (conn->shutdown_notice) return;
  conn->shutdown_notice = true;
  conn->shutdown_at = cf_now_ns();
  nghttp2_submit_shutdown_notice(conn->session);
  nghttp2_submit_ping(conn->session, NGHTTP2_FLAG_NONE, cf_shutdown_ping_opaque);
  cf_conn_flush(conn);
}

static void shutdown_tick(uv_timer_t *t) {
  cf_server *srv = t->data;
  int64_t now = cf_now_ns();
  bool force = srv->shutdown_deadline > 0 && now >= srv->shutdown_deadline;
  for (cf_conn *c = srv->conns; c != NULL;) {
    cf_conn *next = c->next;
    if (force) {
      cf_conn_close(c, CFLIGHT_CANCELLED, "the server is shutting down");
    } else if (c->shutdown_notice && !c->goaway_sent && now - c->shutdown_at > 1000000000LL) {
      /* No ping answer within a second: send the final GOAWAY anyway. */
      send_final_goaway(c);
      cf_conn_flush(c);
    }
    c = next;
  }
  shutdown_check(srv);
}

static void on_listener_closed(uv_handle_t *h) {
  struct cf_listener *l = h->data;
  cf_server *srv = l->srv;
  struct cf_listener **p = &srv->listeners;
  while (*p != NULL && *p != l)
    p = &(*p)->next;
  if (*p == l) *p = l->next;
  free(l);
  pthread_mutex_lock(&srv->loop->mu);
  srv->n_listeners--;
  pthread_mutex_unlock(&srv->loop->mu);
  shutdown_check(srv);
}

typedef struct shutdown_req {
  cf_server *srv;
  int64_t deadline_ns;
} shutdown_req;

static void task_shutdown(void *arg) {
  shutdown_req *req = arg;
  cf_server *srv = req->srv;
  srv->shutting_down = true;
  srv->shutdown_deadline = req->deadline_ns;
  for (struct cf_listener *l = srv->listeners; l != NULL; l = l->next) {
    if (!l->closing) {
      l->closing = true;
      uv_close((uv_handle_t *)&l->h, on_listener_closed);
    }
  }
  for (cf_conn *c = srv->conns; c != NULL;) {
    cf_conn *next = c->next;
    conn_begin_shutdown(c);
    c = next;
  }
  if (!srv->shutdown_timer_init) {
    uv_timer_init(&srv->loop->uv, &srv->shutdown_timer);
    srv->shutdown_timer.data = srv;
    srv->shutdown_timer_init = true;
  }
  uv_timer_start(&srv->shutdown_timer, shutdown_tick, 0, 50);
  shutdown_check(srv);
}

void cf_server_conn_freed(cf_conn *conn) {
  cf_server *srv = conn->server;
  if (conn->prev != NULL) {
    conn->prev->next = conn->next;
  } else if (srv->conns == conn) {
    srv->conns = conn->next;
  }
  if (conn->next != NULL) conn->next->prev = conn->prev;
  pthread_mutex_lock(&srv->loop->mu);
  srv->n_conns--;
  pthread_mutex_unlock(&srv->loop->mu);
  shutdown_check(srv);
}

/* ---- accepting
 * -------------------------------------------------------------------------------------- */

static void on_handshake_timeout(uv_timer_t *t) {
  cf_conn *conn = t->data;
  if (conn->closing || conn->state == CONN_OPEN) return;
  cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "TLS handshake with %s timed out", conn->desc);
}

static void on_connection(uv_stream_t *server, int status) {
  struct cf_listener *l = server->data;
  cf_server *srv = l->srv;
  if (status < 0 || srv->shutting_down) return;
  cf_conn *conn = cf_conn_new(srv->loop, true, &srv->opts);
  if (conn == NULL) return;
  conn->server = srv;
  conn->is_pipe = l->is_pipe;
  if (l->is_pipe) {
    uv_pipe_init(&srv->loop->uv, &conn->h.pipe, 0);
  } else {
    uv_tcp_init(&srv->loop->uv, &conn->h.tcp);
  }
  conn->h.tcp.data = conn;
  conn->handle_init = true;
  conn->handles_open++;
  conn->next = srv->conns;
  if (srv->conns != NULL) srv->conns->prev = conn;
  srv->conns = conn;
  pthread_mutex_lock(&srv->loop->mu);
  srv->n_conns++;
  pthread_mutex_unlock(&srv->loop->mu);
  int rc = uv_accept(server, (uv_stream_t *)&conn->h);
  if (rc != 0) {
    cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "accept failed: %s", uv_strerror(rc));
    return;
  }
  if (l->is_pipe) {
    snprintf(conn->peer->peer, sizeof(conn->peer->peer), "unix:%s", l->path);
    snprintf(conn->desc, sizeof(conn->desc), "a client on unix:%s", l->path);
  } else {
    uv_tcp_nodelay(&conn->h.tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&conn->h.tcp, (struct sockaddr *)&ss, &len) == 0) {
      cf_sockaddr_peer_string((struct sockaddr *)&ss, conn->peer->peer, sizeof(conn->peer->peer));
      cf_sockaddr_string((struct sockaddr *)&ss, conn->desc, sizeof(conn->desc));
    }
  }
  SSL *ssl = NULL;
  cflight_error err = {0};
  if (l->use_tls) {
    uv_timer_start(cf_conn_timer(conn), on_handshake_timeout,
                   (uint64_t)srv->opts.connect_timeout_ms, 0);
    if (cf_tls_server_ssl_new(srv->ssl_ctxs[0], &ssl, &err) != CFLIGHT_OK) {
      cf_conn_close(conn, CFLIGHT_INTERNAL, "%s", err.message);
      return;
    }
  }
  if (cf_conn_start(conn, ssl, &err) != CFLIGHT_OK) {
    if (ssl != NULL && conn->ssl == NULL) SSL_free(ssl);
    cf_conn_close(conn, err.code, "%s", err.message);
  }
}

typedef struct listen_req {
  cf_server *srv;
  const cf_address *addr;
  struct addrinfo *ai;
  int port;
  int rc;
  cflight_error err;
} listen_req;

static void free_listener_cb(uv_handle_t *h) {
  free(h->data);
}

static void task_listen(void *arg) {
  listen_req *req = arg;
  cf_server *srv = req->srv;
  if (srv->shutting_down) {
    req->rc = cflight_error_set(&req->err, CFLIGHT_CANCELLED, "the server is shutting down");
    return;
  }
  if (req->addr->scheme == CF_SCHEME_UNIX) {
    struct cf_listener *l = cf_calloc(1, sizeof(*l));
    if (l == NULL) {
      req->rc = CF_NOMEM(&req->err, "listener");
      return;
    }
    l->srv = srv;
    l->is_pipe = true;
    snprintf(l->path, sizeof(l->path), "%s", req->addr->path);
    uv_pipe_init(&srv->loop->uv, &l->h.pipe, 0);
    l->h.pipe.data = l;
    int rc = uv_pipe_bind(&l->h.pipe, req->addr->path);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&l->h.pipe, 1024, on_connection);
    if (rc != 0) {
      req->rc = cflight_error_set(&req->err, CFLIGHT_UNAVAILABLE, "cannot listen on unix:%s: %s",
                                  req->addr->path, uv_strerror(rc));
      uv_close((uv_handle_t *)&l->h, free_listener_cb);
      return;
    }
    l->next = srv->listeners;
    srv->listeners = l;
    pthread_mutex_lock(&srv->loop->mu);
    srv->n_listeners++;
    pthread_mutex_unlock(&srv->loop->mu);
    return;
  }
  int port = req->addr->port;
  int bound = 0;
  char errors[600] = "";
  for (struct addrinfo *ai = req->ai; ai != NULL; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (ss.ss_family == AF_INET) {
      ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    } else {
      ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    }
    struct cf_listener *l = cf_calloc(1, sizeof(*l));
    if (l == NULL) break;
    l->srv = srv;
    l->use_tls = req->addr->scheme == CF_SCHEME_TLS;
    uv_tcp_init(&srv->loop->uv, &l->h.tcp);
    l->h.tcp.data = l;
    int rc = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&l->h.tcp, 1024, on_connection);
    char where[80];
    cf_sockaddr_string((struct sockaddr *)&ss, where, sizeof(where));
    if (rc != 0) {
      size_t used = strlen(errors);
      snprintf(errors + used, sizeof(errors) - used, "%s%s: %s", used ? "; " : "", where,
               uv_strerror(rc));
      uv_close((uv_handle_t *)&l->h, free_listener_cb);
      continue;
    }
    if (port == 0) {
      struct sockaddr_storage name;
      int len = sizeof(name);
      if (uv_tcp_getsockname(&l->h.tcp, (struct sockaddr *)&name, &len) == 0)
        port = ntohs(name.ss_family == AF_INET ? ((struct sockaddr_in *)&name)->sin_port
                                               : ((struct sockaddr_in6 *)&name)->sin6_port);
    }
    l->next = srv->listeners;
    srv->listeners = l;
    bound++;
    pthread_mutex_lock(&srv->loop->mu);
    srv->n_listeners++;
    pthread_mutex_unlock(&srv->loop->mu);
  }
  if (bound == 0) {
    req->rc = cflight_error_set(&req->err, CFLIGHT_UNAVAILABLE, "cannot listen on %s:%d: %s",
                                req->addr->host, req->addr->port,
                                errors[0] ? errors : "no usable address");
    return;
  }
  req->port = port;
}

/* ---- public functions
 * ---------------------------------------------------------------------------- */

int cf_server_new(const cf_transport_options *opts, cf_call_handler handler, void *ctx,
                  cf_server **out, cflight_error *err) {
  *out = NULL;
  if (handler == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "a server needs a call handler");
  cf_server *srv = cf_calloc(1, sizeof(*srv));
  if (srv == NULL) return CF_NOMEM(err, "server");
  int rc = CFLIGHT_OK;
  if (opts != NULL) {
    rc = cf_transport_options_copy(opts, &srv->opts, err);
  } else {
    cf_transport_options_init(&srv->opts);
  }
  if (rc != CFLIGHT_OK) {
    free(srv);
    return rc;
  }
  srv->handler = handler;
  srv->handler_ctx = ctx;
  pthread_mutex_init(&srv->pool_mu, NULL);
  pthread_cond_init(&srv->pool_cv, NULL);
  if (srv->opts.tls_server.n_pairs > 0)
    rc = cf_tls_server_ctx_new(&srv->opts.tls_server, &srv->ssl_ctxs, &srv->n_ssl_ctxs, err);
  if (rc == CFLIGHT_OK) {
    srv->loop = cf_calloc(1, sizeof(*srv->loop));
    if (srv->loop == NULL) rc = CF_NOMEM(err, "server");
  }
  if (rc == CFLIGHT_OK) {
    rc = cf_loop_start(srv->loop, cf_server_process_call, err);
    if (rc != CFLIGHT_OK) {
      free(srv->loop);
      srv->loop = NULL;
    }
  }
  if (rc != CFLIGHT_OK) {
    cf_tls_server_ctx_free(srv->ssl_ctxs, srv->n_ssl_ctxs);
    cf_transport_options_reset(&srv->opts);
    pthread_mutex_destroy(&srv->pool_mu);
    pthread_cond_destroy(&srv->pool_cv);
    free(srv);
    return rc;
  }
  *out = srv;
  return CFLIGHT_OK;
}

int cf_server_listen(cf_server *srv, const cf_address *addr, int *bound_port, cflight_error *err) {
  if (bound_port != NULL) *bound_port = 0;
  if (addr->scheme == CF_SCHEME_TLS && srv->ssl_ctxs == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "a grpc+tls listener needs a certificate and key "
                             "(tls_server.pairs in the server options)");
  listen_req req = {.srv = srv, .addr = addr};
  if (addr->scheme != CF_SCHEME_UNIX) {
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof(port), "%d", addr->port);
    int g = getaddrinfo(addr->host, port, &hints, &req.ai);
    if (g != 0)
      return cflight_error_set(err, CFLIGHT_UNAVAILABLE, "cannot resolve '%s': %s", addr->host,
                               gai_strerror(g));
  }
  int rc = cf_loop_run_sync(srv->loop, task_listen, &req, err);
  if (req.ai != NULL) freeaddrinfo(req.ai);
  if (rc != CFLIGHT_OK) return rc;
  if (req.rc != CFLIGHT_OK) {
    cflight_error_move(err, &req.err);
    return req.rc;
  }
  if (bound_port != NULL) *bound_port = req.port;
  return CFLIGHT_OK;
}

void cf_server_shutdown(cf_server *srv, int64_t deadline_ns) {
  pthread_mutex_lock(&srv->loop->mu);
  bool already = srv->shutdown_requested;
  srv->shutdown_requested = true;
  pthread_mutex_unlock(&srv->loop->mu);
  shutdown_req req = {srv, deadline_ns};
  if (!already) {
    cf_loop_run_sync(srv->loop, task_shutdown, &req, NULL);
  } else if (deadline_ns > 0) {
    /* A second call may bring the deadline forward. */
    cf_loop_run_sync(srv->loop, task_shutdown, &req, NULL);
  }
}

void cf_server_wait(cf_server *srv) {
  cf_loop *loop = srv->loop;
  pthread_mutex_lock(&loop->mu);
  while (!(srv->shutdown_requested && srv->loop_idle && srv->active_calls == 0) && !loop->stopped)
    pthread_cond_wait(&loop->cv, &loop->mu);
  pthread_mutex_unlock(&loop->mu);
}

static void task_server_stop(void *arg) {
  cf_server *srv = arg;
  if (srv->shutdown_timer_init) {
    srv->shutdown_timer_closed = true;
    uv_close((uv_handle_t *)&srv->shutdown_timer, NULL);
  }
  for (cf_conn *c = srv->conns; c != NULL;) {
    cf_conn *next = c->next;
    cf_conn_close(c, CFLIGHT_CANCELLED, "the server was stopped");
    c = next;
  }
  for (struct cf_listener *l = srv->listeners; l != NULL; l = l->next) {
    if (!l->closing) {
      l->closing = true;
      uv_close((uv_handle_t *)&l->h, on_listener_closed);
    }
  }
  cf_loop_close_wake(srv->loop);
}

void cf_server_free(cf_server *srv) {
  if (srv == NULL) return;
  pthread_mutex_lock(&srv->loop->mu);
  bool requested = srv->shutdown_requested;
  pthread_mutex_unlock(&srv->loop->mu);
  if (!requested) cf_server_shutdown(srv, cf_now_ns());
  cf_server_wait(srv);
  pthread_mutex_lock(&srv->pool_mu);
  srv->pool_stop = true;
  pthread_cond_broadcast(&srv->pool_cv);
  pthread_mutex_unlock(&srv->pool_mu);
  for (size_t i = 0; i < srv->n_threads; i++)
    pthread_join(srv->threads[i], NULL);
  cf_loop_stop(srv->loop, task_server_stop, srv);
  while (srv->work_head != NULL) {
    cf_work *w = srv->work_head;
    srv->work_head = w->next;
    cf_call_unref(w->call);
    free(w);
  }
  free(srv->threads);
  cf_tls_server_ctx_free(srv->ssl_ctxs, srv->n_ssl_ctxs);
  cf_transport_options_reset(&srv->opts);
  pthread_mutex_destroy(&srv->pool_mu);
  pthread_cond_destroy(&srv->pool_cv);
  cf_loop_unref(srv->loop);
  free(srv);
}

/* ---- what a handler sees
 * ------------------------------------------------------------------------- */

const char *cf_call_method(const cf_call *call) {
  return call->path != NULL ? call->path : "";
}

const cf_metadata *cf_call_request_headers(const cf_call *call) {
  return &call->req_headers;
}

int64_t cf_call_deadline(const cf_call *call) {
  return call->deadline_ns;
}

const char *cf_call_peer(const cf_call *call) {
  return call->peer != NULL ? call->peer->peer : "";
}

const char *cf_call_peer_cert_pem(const cf_call *call) {
  return call->peer != NULL ? call->peer->cert_pem : NULL;
}

const char *cf_call_peer_cert_subject(const cf_call *call) {
  return call->peer != NULL ? call->peer->cert_subject : NULL;
}

int cf_call_send_headers(cf_call *call, const cf_metadata *headers, cflight_error *err) {
  if (!call->is_server)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "only a server sends response headers");
  if (headers != NULL) {
    for (size_t i = 0; i < headers->count; i++)
      CF_RETURN_NOT_OK(cf_header_check(&headers->items[i], err));
  }
  cf_metadata *copy = cf_calloc(1, sizeof(*copy));
  if (copy == NULL) return CF_NOMEM(err, "headers");
  int rc = cf_metadata_copy(headers, copy, err);
  if (rc != CFLIGHT_OK) {
    cf_metadata_reset(copy);
    free(copy);
    return rc;
  }
  cf_loop *loop = call->loop;
  pthread_mutex_lock(&loop->mu);
  bool wake = false;
  if (call->ended) {
    rc = cflight_error_set(err, call->end_error.code, "%s", call->end_error.message);
  } else if (call->responded || call->hdrs_requested || call->queued_msgs > 0 ||
             call->in_head != NULL) {
    rc = cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION,
                           "response headers must be sent once, before any message");
  } else {
    call->hdrs_requested = true;
    call->hdrs_to_send = copy;
    copy = NULL;
    wake = cf_loop_mark_locked(loop, call, CALL_P_HEADERS);
  }
  pthread_mutex_unlock(&loop->mu);
  if (wake) cf_loop_wake(loop);
  if (copy != NULL) {
    cf_metadata_reset(copy);
    free(copy);
  }
  return rc;
}

int cf_call_respond(cf_call *call, const cflight_error *status, const cf_metadata *trailers,
                    cflight_error *err) {
  if (!call->is_server)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "only a server responds");
  if (trailers != NULL) {
    for (size_t i = 0; i < trailers->count; i++)
      CF_RETURN_NOT_OK(cf_header_check(&trailers->items[i], err));
  }
  cf_metadata copy = {0};
  int rc = cf_metadata_copy(trailers, &copy, err);
  if (rc != CFLIGHT_OK) {
    cf_metadata_reset(&copy);
    return rc;
  }
  cf_loop *loop = call->loop;
  pthread_mutex_lock(&loop->mu);
  bool wake = false;
  if (call->responded) {
    rc = cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION, "the call was already responded to");
  } else if (call->ended) {
    rc = cflight_error_set(err, call->end_error.code, "%s", call->end_error.message);
  } else {
    call->responded = true;
    int code = status != NULL ? status->code : CFLIGHT_OK;
    cflight_error_set(&call->resp_status, code, "%s", status != NULL ? status->message : "");
    if (status != NULL && status->extra_info != NULL)
      cflight_error_set_extra_info(&call->resp_status, cflight_buffer_data(status->extra_info),
                                   cflight_buffer_size(status->extra_info));
    call->resp_trailers = copy;
    memset(&copy, 0, sizeof(copy));
    wake = cf_loop_mark_locked(loop, call, CALL_P_RESPOND);
  }
  pthread_mutex_unlock(&loop->mu);
  if (wake) cf_loop_wake(loop);
  cf_metadata_reset(&copy);
  return rc;
}
