/* One HTTP/2 connection (client or server side): the nghttp2 session, the
 * socket read path into large refcounted buffers (and, for the body of a
 * large message, straight into that message's own buffer: see read_plan),
 * the zero-copy write path (frame headers and message pieces gathered into
 * one writev), TLS through BIOs of our own, keepalive pings, and closing.
 * Loop thread only. */
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>

#include "transport/internal.h"

/* Stop asking nghttp2 for frames while this many bytes wait in libuv. */
#define WRITE_HIGH_WATER ((size_t)16 << 20)
/* End one nghttp2_session_send (one writev) after this many bytes. */
#define BATCH_MAX ((size_t)8 << 20)
/* Message pieces smaller than this are copied next to the frame header. */
#define COPY_MAX 1024
/* A read buffer with less room than this is replaced by a new one. */
#define RBUF_MIN_SPACE ((size_t)16 << 10)
#define RBUF_INITIAL ((size_t)64 << 10)
#define TLS_IN_SIZE ((size_t)256 << 10)
/* Opaque data of our keepalive pings; the server's shutdown ping differs. */
static const uint8_t ka_opaque[8] = {'c', 'f', 'k', 'e', 'e', 'p', 'a', 'l'};
const uint8_t cf_shutdown_ping_opaque[8] = {'c', 'f', 's', 'h', 'u', 't', 'd', 'n'};

static void conn_free(cf_conn *conn);
static void tls_pump(cf_conn *conn);
static void tls_write_out(cf_conn *conn);
static int session_init(cf_conn *conn, cflight_error *err);

cf_conn *cf_conn_new(cf_loop *loop, bool is_server, const cf_transport_options *opts) {
  cf_conn *conn = cf_calloc(1, sizeof(*conn));
  if (conn == NULL) return NULL;
  conn->loop = loop;
  conn->is_server = is_server;
  conn->opts = opts;
  conn->rbuf_target = RBUF_INITIAL;
  conn->peer = cf_peer_info_new();
  if (conn->peer == NULL) {
    free(conn);
    return NULL;
  }
  return conn;
}

/* ---- write batches ---------------------------------------------------------------- */

static cf_wbatch *batch_new(cf_conn *conn) {
  cf_wbatch *b = cf_calloc(1, sizeof(*b));
  if (b == NULL) return NULL;
  b->conn = conn;
  b->req.data = b;
  return b;
}

static void batch_free(cf_wbatch *b) {
  cf_bytes_reset(&b->small);
  free(b->segs);
  free(b->touched);
  free(b->bufs);
  free(b->cipher);
  free(b);
}

static bool batch_seg(cf_wbatch *b, const uint8_t *ptr, size_t off, size_t len) {
  if (len == 0) return true;
  b->bytes += len;
  if (b->n_segs > 0) {
    struct cf_wseg *last = &b->segs[b->n_segs - 1];
    if (ptr == NULL && last->ptr == NULL && last->off + last->len == off) {
      last->len += len;
      return true;
    }
    if (ptr != NULL && last->ptr != NULL && last->ptr + last->len == ptr) {
      last->len += len;
      return true;
    }
  }
  if (b->n_segs == b->cap_segs) {
    size_t cap = b->cap_segs ? b->cap_segs * 2 : 16;
    struct cf_wseg *s = cf_realloc(b->segs, cap * sizeof(*s));
    if (s == NULL) return false;
    b->segs = s;
    b->cap_segs = cap;
  }
  b->segs[b->n_segs++] = (struct cf_wseg){ptr, off, len};
  return true;
}

static bool batch_copy(cf_wbatch *b, const void *data, size_t len) {
  size_t off = b->small.len;
  if (cf_bytes_append(&b->small, data, len, NULL) != CFLIGHT_OK) return false;
  return batch_seg(b, NULL, off, len);
}

static bool batch_ref(cf_wbatch *b, const void *data, size_t len) {
  if (len < COPY_MAX) return batch_copy(b, data, len);
  return batch_seg(b, data, 0, len);
}

static bool batch_touch(cf_wbatch *b, cf_out_entry *e) {
  if (b->n_touched > 0 && b->touched[b->n_touched - 1] == e) return true;
  if (b->n_touched == b->cap_touched) {
    size_t cap = b->cap_touched ? b->cap_touched * 2 : 8;
    cf_out_entry **t = cf_realloc(b->touched, cap * sizeof(*t));
    if (t == NULL) return false;
    b->touched = t;
    b->cap_touched = cap;
  }
  b->touched[b->n_touched++] = e;
  e->inflight++;
  return true;
}

/* The batch's bytes are on the wire (or the connection is gone): finish the
 * messages whose last byte was in it. */
static void batch_complete(cf_wbatch *b) {
  for (size_t i = 0; i < b->n_touched; i++) {
    cf_out_entry *e = b->touched[i];
    if (--e->inflight == 0 && !e->in_list) cf_entry_finish(e);
  }
  b->n_touched = 0;
}

static void on_write(uv_write_t *req, int status) {
  cf_wbatch *b = req->data;
  cf_conn *conn = b->conn;
  conn->inflight_bytes -= b->bytes;
  conn->inflight_batches--;
  batch_complete(b);
  batch_free(b);
  if (status < 0 && !conn->closing) {
    cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "writing to %s failed: %s", conn->desc,
                  uv_strerror(status));
    return;
  }
  if (!conn->closing) cf_conn_flush(conn);
}

static void write_batch(cf_conn *conn, cf_wbatch *b, uv_buf_t *bufs, unsigned n) {
  conn->inflight_bytes += b->bytes;
  conn->inflight_batches++;
  int rc = uv_write(&b->req, (uv_stream_t *)&conn->h, bufs, n, on_write);
  if (rc != 0) {
    conn->inflight_bytes -= b->bytes;
    conn->inflight_batches--;
    batch_complete(b);
    batch_free(b);
    cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "writing to %s failed: %s", conn->desc,
                  uv_strerror(rc));
  }
}

/* Encrypts the batch's bytes into one buffer; small segments are gathered
 * first so that frame headers do not become TLS records of their own. */
static bool tls_encrypt_batch(cf_conn *conn, cf_wbatch *b) {
  uint8_t stage[16384];
  size_t staged = 0;
  /* Room for the records (at most 16 KiB of plaintext each, plus a header,
   * a tag and padding), so that the output buffer does not grow while
   * OpenSSL writes into it. */
  size_t room = b->bytes + (b->bytes / 16384 + 2) * 64;
  if (cf_bytes_reserve(&conn->tls_out, room, NULL) != CFLIGHT_OK) return false;
  for (size_t i = 0; i < b->n_segs; i++) {
    const uint8_t *p = b->segs[i].ptr != NULL ? b->segs[i].ptr : b->small.data + b->segs[i].off;
    size_t len = b->segs[i].len;
    while (len > 0) {
      if (len < 4096 || staged > 0) {
        size_t k = sizeof(stage) - staged < len ? sizeof(stage) - staged : len;
        memcpy(stage + staged, p, k);
        staged += k;
        p += k;
        len -= k;
        if (staged == sizeof(stage)) {
          if (SSL_write(conn->ssl, stage, (int)staged) <= 0) return false;
          staged = 0;
        }
        continue;
      }
      size_t k = len > (1u << 30) ? (1u << 30) : len;
      if (SSL_write(conn->ssl, p, (int)k) <= 0) return false;
      p += k;
      len -= k;
    }
  }
  if (staged > 0 && SSL_write(conn->ssl, stage, (int)staged) <= 0) return false;
  return true;
}

static void submit_batch(cf_conn *conn, cf_wbatch *b) {
  if (conn->use_tls) {
    if (!tls_encrypt_batch(conn, b)) {
      batch_complete(b);
      batch_free(b);
      char detail[512];
      cf_tls_describe_error(conn->ssl, SSL_ERROR_SSL, detail, sizeof(detail));
      cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "TLS error on %s: %s", conn->desc, detail);
      return;
    }
    /* The batch takes the ciphertext over (with anything OpenSSL wrote
     * before it, which goes first). */
    b->cipher = conn->tls_out.data;
    b->bytes = conn->tls_out.len;
    memset(&conn->tls_out, 0, sizeof(conn->tls_out));
    uv_buf_t buf = uv_buf_init((char *)b->cipher, (unsigned)b->bytes);
    write_batch(conn, b, &buf, 1);
    return;
  }
  b->bufs = cf_malloc(b->n_segs * sizeof(uv_buf_t));
  if (b->bufs == NULL) {
    batch_complete(b);
    batch_free(b);
    cf_conn_close(conn, CFLIGHT_NO_MEMORY, "out of memory writing to %s", conn->desc);
    return;
  }
  for (size_t i = 0; i < b->n_segs; i++) {
    const uint8_t *p = b->segs[i].ptr != NULL ? b->segs[i].ptr : b->small.data + b->segs[i].off;
    b->bufs[i] = uv_buf_init((char *)p, (unsigned)b->segs[i].len);
  }
  write_batch(conn, b, b->bufs, (unsigned)b->n_segs);
}

/* Sends the TLS bytes OpenSSL produced on its own (handshake, alerts, tickets). */
static void tls_write_out(cf_conn *conn) {
  if (conn->wbio == NULL || conn->closing || conn->tls_out.len == 0) return;
  cf_wbatch *b = batch_new(conn);
  if (b == NULL) {
    cf_conn_close(conn, CFLIGHT_NO_MEMORY, "out of memory writing to %s", conn->desc);
    return;
  }
  b->cipher = conn->tls_out.data;
  b->bytes = conn->tls_out.len;
  memset(&conn->tls_out, 0, sizeof(conn->tls_out));
  uv_buf_t buf = uv_buf_init((char *)b->cipher, (unsigned)b->bytes);
  write_batch(conn, b, &buf, 1);
}

static void maybe_close_idle(cf_conn *conn) {
  if (conn->closing || conn->session == NULL || conn->inflight_batches > 0) return;
  if (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session))
    cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "connection to %s closed after GOAWAY", conn->desc);
}

void cf_conn_flush(cf_conn *conn) {
  if (conn->closing || conn->session == NULL || conn->flushing || conn->in_recv) return;
  conn->flushing = true;
  while (conn->inflight_bytes < WRITE_HIGH_WATER && !conn->closing) {
    if (!nghttp2_session_want_write(conn->session)) break;
    cf_wbatch *b = batch_new(conn);
    if (b == NULL) {
      conn->flushing = false;
      cf_conn_close(conn, CFLIGHT_NO_MEMORY, "out of memory writing to %s", conn->desc);
      return;
    }
    conn->batch = b;
    int rv = nghttp2_session_send(conn->session);
    conn->batch = NULL;
    if (rv != 0) {
      batch_complete(b);
      batch_free(b);
      conn->flushing = false;
      cf_conn_close(conn, CFLIGHT_INTERNAL, "HTTP/2 error sending to %s: %s", conn->desc,
                    nghttp2_strerror(rv));
      return;
    }
    if (b->bytes == 0) {
      batch_complete(b);
      batch_free(b);
      break;
    }
    submit_batch(conn, b);
  }
  conn->flushing = false;
  maybe_close_idle(conn);
}

/* ---- nghttp2 callbacks: sending ------------------------------------------------------ */

static ssize_t send_cb(nghttp2_session *session, const uint8_t *data, size_t length, int flags,
                       void *user_data) {
  CF_UNUSED(session);
  CF_UNUSED(flags);
  cf_conn *conn = user_data;
  if (conn->batch == NULL || !batch_copy(conn->batch, data, length))
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  return (ssize_t)length;
}

static ssize_t read_length_cb(nghttp2_session *session, uint8_t frame_type, int32_t stream_id,
                              int32_t session_window, int32_t stream_window,
                              uint32_t remote_max_frame_size, void *user_data) {
  CF_UNUSED(session);
  CF_UNUSED(frame_type);
  CF_UNUSED(stream_id);
  CF_UNUSED(session_window);
  CF_UNUSED(stream_window);
  CF_UNUSED(user_data);
  /* As large as the peer accepts; nghttp2 caps it by the flow-control windows. */
  return (ssize_t)remote_max_frame_size;
}

/* The data provider: how many of the call's queued bytes go into the next
 * DATA frame. The bytes themselves are written by send_data_cb, without a copy. */
static ssize_t data_read_cb(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                            size_t length, uint32_t *data_flags, nghttp2_data_source *source,
                            void *user_data) {
  CF_UNUSED(session);
  CF_UNUSED(stream_id);
  CF_UNUSED(buf);
  CF_UNUSED(user_data);
  cf_call *call = source->ptr;
  uint64_t avail = 0, whole = 0;
  for (cf_out_entry *e = call->sq_head; e != NULL && avail <= length; e = e->next) {
    avail += e->total - e->handed;
    if (avail <= length) whole = avail;
  }
  bool all = avail <= length; /* everything queued fits in this frame */
  size_t n = avail < length ? (size_t)avail : length;
  /* End the frame at a message boundary when one fits: the receiver then
   * gets each message contiguous, without a frame header inside it. */
  if (!all && whole > 0) n = (size_t)whole;
  if (n > 0) *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (all && call->local_close_taken && !call->local_done) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (call->is_server) {
      *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      if (cf_server_submit_trailers(call) != 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    call->local_done = true;
    call->deferred = false;
    return (ssize_t)n;
  }
  if (n == 0) {
    call->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  call->deferred = false;
  return (ssize_t)n;
}

nghttp2_data_provider cf_call_data_provider(cf_call *call) {
  nghttp2_data_provider dp;
  dp.source.ptr = call;
  dp.read_callback = data_read_cb;
  return dp;
}

static int send_data_cb(nghttp2_session *session, nghttp2_frame *frame, const uint8_t *framehd,
                        size_t length, nghttp2_data_source *source, void *user_data) {
  CF_UNUSED(session);
  cf_conn *conn = user_data;
  cf_call *call = source->ptr;
  cf_wbatch *b = conn->batch;
  if (b == NULL || !batch_copy(b, framehd, 9)) return NGHTTP2_ERR_CALLBACK_FAILURE;
  if (frame->data.padlen > 0) {
    uint8_t pad = (uint8_t)(frame->data.padlen - 1);
    if (!batch_copy(b, &pad, 1)) return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  size_t left = length;
  while (left > 0) {
    cf_out_entry *e = call->sq_head;
    if (e == NULL) return NGHTTP2_ERR_CALLBACK_FAILURE; /* cannot happen: read_cb counted */
    if (!batch_touch(b, e)) return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (e->handed < 5) {
      size_t k = 5 - (size_t)e->handed;
      if (k > left) k = left;
      if (!batch_copy(b, e->prefix + e->handed, k)) return NGHTTP2_ERR_CALLBACK_FAILURE;
      e->handed += k;
      left -= k;
    }
    while (left > 0 && e->piece_idx < e->n_pieces) {
      const cflight_ipc_piece *p = &e->pieces[e->piece_idx];
      size_t avail = p->size - e->piece_off;
      size_t k = avail < left ? avail : left;
      if (k > 0 && !batch_ref(b, (const uint8_t *)p->data + e->piece_off, k))
        return NGHTTP2_ERR_CALLBACK_FAILURE;
      e->piece_off += k;
      e->handed += k;
      left -= k;
      if (e->piece_off == p->size) {
        e->piece_idx++;
        e->piece_off = 0;
      }
    }
    if (e->handed == e->total) {
      call->sq_head = e->next;
      if (call->sq_head == NULL) call->sq_tail = NULL;
      e->next = NULL;
      e->in_list = false; /* finished when the batch completes */
    }
  }
  if (frame->data.padlen > 1) {
    uint8_t zeros[256] = {0};
    if (!batch_copy(b, zeros, frame->data.padlen - 1)) return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  /* Let this writev go out before packing more. */
  if (b->bytes >= BATCH_MAX) return NGHTTP2_ERR_PAUSE;
  return 0;
}

/* ---- nghttp2 callbacks: receiving -------------------------------------------------- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data) {
  cf_conn *conn = user_data;
  if (conn->closing) return NGHTTP2_ERR_CALLBACK_FAILURE;
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  if (conn->is_server && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
    return cf_server_on_begin_headers(conn, frame);
  cf_call *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (call != NULL) {
    cf_metadata_reset(&call->hdr_block);
    call->hdr_block_size = 0;
    call->hdr_bad = false;
  }
  return 0;
}

static void set_str(char **field, const uint8_t *v, size_t len) {
  free(*field);
  *field = cf_strndup((const char *)v, len);
}

static bool name_is(const uint8_t *name, size_t len, const char *s) {
  return len == strlen(s) && memcmp(name, s, len) == 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data) {
  CF_UNUSED(flags);
  cf_conn *conn = user_data;
  if (conn->closing) return NGHTTP2_ERR_CALLBACK_FAILURE;
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  cf_call *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (call == NULL || call->hdr_bad) return 0;
  /* RFC 9113 6.5.2: 32 bytes of overhead per field. */
  call->hdr_block_size += namelen + valuelen + 32;
  if ((int64_t)call->hdr_block_size > conn->opts->max_metadata_size) {
    call->hdr_bad = true;
    return 0;
  }
  if (namelen > 0 && name[0] == ':') {
    if (name_is(name, namelen, ":status")) {
      int st = 0;
      for (size_t i = 0; i < valuelen && i < 4; i++)
        st = value[i] >= '0' && value[i] <= '9' ? st * 10 + (value[i] - '0') : -1000;
      call->http_status = st;
    } else if (name_is(name, namelen, ":method")) {
      set_str(&call->req_method, value, valuelen);
    } else if (name_is(name, namelen, ":path")) {
      set_str(&call->req_path, value, valuelen);
    }
    return 0;
  }
  if (name_is(name, namelen, "content-type")) {
    set_str(conn->is_server ? &call->req_content_type : &call->resp_content_type, value, valuelen);
    return 0;
  }
  if (name_is(name, namelen, "grpc-encoding")) {
    set_str(conn->is_server ? &call->req_encoding : &call->resp_encoding, value, valuelen);
    return 0;
  }
  if (name_is(name, namelen, "grpc-timeout")) {
    if (conn->is_server) set_str(&call->req_timeout, value, valuelen);
    return 0;
  }
  if (name_is(name, namelen, "te") || name_is(name, namelen, "grpc-accept-encoding")) return 0;
  if (!cf_metadata_add_wire(&call->hdr_block, name, namelen, value, valuelen)) {
    /* A -bin value that is not base64: drop it rather than fail the call. */
    return 0;
  }
  return 0;
}

static int on_data_chunk_recv(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                              const uint8_t *data, size_t len, void *user_data) {
  CF_UNUSED(flags);
  cf_conn *conn = user_data;
  if (conn->closing) return NGHTTP2_ERR_CALLBACK_FAILURE;
  /* Each stream's window is returned when its user takes the messages
   * (call.c). The connection window is returned as bytes arrive, so that
   * one slow reader cannot stall the other streams (as gRPC does), but only
   * while the connection holds at most max_connection_buffer untaken bytes:
   * that bounds the memory one peer can fill through many streams. */
  conn->conn_withheld += len;
  cf_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
  if (call == NULL || call->loop_ended) {
    nghttp2_session_consume_stream(session, stream_id, len);
    return 0;
  }
  call->stream_unconsumed += len;
  call->held += len;
  conn->held += len;
  conn->last_call = call;
  /* Bytes of a directed read are already where the call's large message
   * wants them (the call checks); others are in the read buffer. */
  cflight_buffer *buf = NULL;
  if (!conn->feed_directed) {
    if (data < conn->rbuf_base || data + len > conn->rbuf_base + conn->rbuf_cap)
      return NGHTTP2_ERR_CALLBACK_FAILURE; /* not in our read buffer: cannot happen */
    buf = conn->rbuf;
  }
  cf_call_loop_data_chunk(call, buf, data, len);
  return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data) {
  cf_conn *conn = user_data;
  if (conn->closing) return NGHTTP2_ERR_CALLBACK_FAILURE;
  cf_call *call = NULL;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
      if (call == NULL) return 0;
      if (conn->is_server) return cf_server_on_headers_done(conn, call, frame);
      return cf_client_on_headers_done(conn, call, frame);
    case NGHTTP2_DATA:
      if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
      call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
      if (call != NULL && !call->loop_ended) cf_call_loop_end_of_messages(call);
      return 0;
    case NGHTTP2_SETTINGS:
      if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) && !conn->settings_received) {
        conn->settings_received = true;
        if (!conn->is_server) cf_client_conn_settings(conn);
      }
      return 0;
    case NGHTTP2_PING:
      if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) return 0;
      if (memcmp(frame->ping.opaque_data, cf_shutdown_ping_opaque, 8) == 0) {
        if (conn->is_server) cf_server_on_ping_ack(conn);
      } else {
        conn->ping_outstanding = false;
        if (conn->ka_timeout_init) uv_timer_stop(&conn->ka_timeout);
      }
      return 0;
    case NGHTTP2_GOAWAY:
      conn->goaway_received = true;
      conn->goaway_last_stream = frame->goaway.last_stream_id;
      if (!conn->is_server) cf_client_conn_goaway(conn);
      return 0;
    default:
      return 0;
  }
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data) {
  cf_conn *conn = user_data;
  if (conn->closing) return 0;
  cf_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
  if (call == NULL) return 0;
  nghttp2_session_set_stream_user_data(session, stream_id, NULL);
  call->stream_closed = true;
  if (conn->is_server) {
    cf_server_on_stream_close(conn, call, error_code);
  } else {
    cf_client_on_stream_close(conn, call, error_code);
  }
  return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data) {
  cf_conn *conn = user_data;
  if (conn->closing || !conn->is_server) return 0;
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    cf_call *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (call != NULL) cf_server_after_final_frame(conn, call);
  }
  return 0;
}

static int on_frame_not_send(nghttp2_session *session, const nghttp2_frame *frame, int lib_error,
                             void *user_data) {
  cf_conn *conn = user_data;
  if (conn->closing || conn->is_server || frame->hd.type != NGHTTP2_HEADERS) return 0;
  cf_call *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (call != NULL) cf_client_on_not_sent(conn, call, frame, lib_error);
  return 0;
}

/* ---- session --------------------------------------------------------------------------- */

static int session_init(cf_conn *conn, cflight_error *err) {
  nghttp2_session_callbacks *cbs;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return CF_NOMEM(err, "HTTP/2 session");
  nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
  nghttp2_session_callbacks_set_send_data_callback(cbs, send_data_cb);
  nghttp2_session_callbacks_set_data_source_read_length_callback(cbs, read_length_cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, on_frame_not_send);
  nghttp2_option *opt;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cbs);
    return CF_NOMEM(err, "HTTP/2 session");
  }
  /* Flow control is ours: windows reopen when the user takes messages. */
  nghttp2_option_set_no_auto_window_update(opt, 1);
  size_t hdr_max = (size_t)conn->opts->max_metadata_size + 65536;
  nghttp2_option_set_max_send_header_block_length(opt, hdr_max);
  int rv = conn->is_server ? nghttp2_session_server_new2(&conn->session, cbs, conn, opt)
                           : nghttp2_session_client_new2(&conn->session, cbs, conn, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) return CF_NOMEM(err, "HTTP/2 session");
  nghttp2_settings_entry iv[5];
  size_t n = 0;
  iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_FRAME_SIZE, conn->opts->max_frame_size};
  iv[n++] =
      (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, conn->opts->stream_window};
  iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
                                     (uint32_t)conn->opts->max_metadata_size};
  if (conn->is_server) {
    iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
                                       conn->opts->max_concurrent_streams};
  } else {
    iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
  }
  rv = nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, iv, n);
  if (rv == 0 && conn->opts->connection_window > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE)
    rv = nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0,
                                               (int32_t)conn->opts->connection_window);
  if (rv != 0)
    return cflight_error_set(err, CFLIGHT_INTERNAL, "HTTP/2 settings: %s", nghttp2_strerror(rv));
  /* A server's first bytes from the client are the connection preface. */
  conn->preface_left = conn->is_server ? NGHTTP2_CLIENT_MAGIC_LEN : 0;
  conn->state = CONN_OPEN;
  return CFLIGHT_OK;
}

/* ---- reading ----------------------------------------------------------------------------- */

/* Follows the HTTP/2 frame boundaries in the bytes given to nghttp2 (which
 * parses the same bytes), so that a read can be aimed at the payload of
 * one DATA frame. */
static void frames_advance(cf_conn *conn, const uint8_t *p, size_t n) {
  while (n > 0) {
    if (conn->preface_left > 0) {
      size_t k = n < conn->preface_left ? n : conn->preface_left;
      conn->preface_left -= (uint32_t)k;
      p += k;
      n -= k;
      continue;
    }
    if (conn->frame_left > 0) {
      size_t k = n < conn->frame_left ? n : conn->frame_left;
      conn->frame_left -= (uint32_t)k;
      p += k;
      n -= k;
      continue;
    }
    size_t k = 9 - conn->fhdr_have;
    if (k > n) k = n;
    memcpy(conn->fhdr + conn->fhdr_have, p, k);
    conn->fhdr_have += (unsigned)k;
    p += k;
    n -= k;
    if (conn->fhdr_have < 9) continue;
    const uint8_t *h = conn->fhdr;
    conn->frame_left = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
    conn->frame_type = h[3];
    conn->frame_flags = h[4];
    conn->frame_stream = (int32_t)((uint32_t)(h[5] & 0x7f) << 24 | (uint32_t)h[6] << 16 |
                                   (uint32_t)h[7] << 8 | h[8]);
    conn->fhdr_have = 0;
  }
}

/* Where the next read should go. While some call on the connection
 * receives large messages, reads stop at each frame header, at the end of
 * each frame, and at the message boundaries of such a call, so
 * that the body of a large message inside a DATA frame can be read
 * straight into its buffer: then returns the destination, with *max the
 * bytes that belong there (what is left of the frame and of the message)
 * and *dbuf its buffer. Otherwise returns NULL, with *max the most the read
 * may take into the read buffer (SIZE_MAX: no limit from the framing).
 * Padded frames and anything else unexpected go through the read buffer
 * and are copied into place once. */
static uint8_t *read_plan(cf_conn *conn, size_t *max, cflight_buffer **dbuf) {
  *max = SIZE_MAX;
  *dbuf = NULL;
  if (conn->n_large == 0 || conn->session == NULL || conn->closing || conn->preface_left > 0)
    return NULL;
  if (conn->frame_left == 0) {
    *max = 9 - conn->fhdr_have;
    return NULL;
  }
  *max = conn->frame_left;
  if (conn->frame_type != NGHTTP2_DATA || (conn->frame_flags & NGHTTP2_FLAG_PADDED)) return NULL;
  cf_call *call = nghttp2_session_get_stream_user_data(conn->session, conn->frame_stream);
  if (call == NULL || call->loop_ended || call->conn != conn) return NULL;
  uint64_t left = 0;
  uint8_t *dst = cf_call_loop_direct_dest(call, &left);
  if (dst != NULL && left > 0) {
    if (left < *max) *max = (size_t)left;
    *dbuf = call->asm_msg.slices[0].buf;
    return dst;
  }
  if (call->large) {
    /* Stop at the end of the prefix, or of the small message under way, so
     * that a large message that follows can be read into place. */
    uint64_t until = !call->msg_started ? 5 - call->pfx_have : call->msg_len - call->msg_have;
    if (until > 0 && until < *max) *max = (size_t)until;
  }
  return NULL;
}

static size_t pow2_at_least(size_t n) {
  size_t p = RBUF_INITIAL;
  while (p < n)
    p *= 2;
  return p;
}

/* Makes room for the next read. A message being received whose rest will
 * not fit in the current buffer is moved (what has arrived of it, up to a
 * quarter of the largest buffer) to the start of a new one, so that it
 * arrives as one slice: the layer above then never has to copy it whole. */
static bool rbuf_ensure(cf_conn *conn, size_t min_space) {
  size_t space = conn->rbuf != NULL ? conn->rbuf_cap - conn->rbuf_used : 0;
  size_t max = conn->opts->read_buffer_max;
  cf_call *c = conn->last_call;
  cf_slice *carry = NULL;
  uint64_t need = 0;
  if (conn->rbuf != NULL && c != NULL && !c->loop_ended && c->msg_started &&
      c->asm_msg.n_slices == 1 && c->asm_msg.slices[0].buf == conn->rbuf) {
    need = c->msg_len - c->msg_have;
    size_t partial = c->asm_msg.slices[0].len;
    if (need > space && partial <= max / 4 && partial + need + min_space <= max)
      carry = &c->asm_msg.slices[0];
  }
  /* No message under way and the next one (guessed from the last) will not
   * fit: start it in a new buffer rather than split it. */
  bool fresh = carry == NULL && conn->rbuf != NULL && space < conn->msg_guess &&
               conn->msg_guess + min_space <= max &&
               (c == NULL || c->loop_ended || (!c->msg_started && c->pfx_have == 0));
  if (carry == NULL && !fresh && conn->rbuf != NULL && space >= min_space) return true;
  size_t size = conn->rbuf_target;
  /* A buffer that took many small reads: the traffic is small, shrink. */
  if (conn->rbuf != NULL && conn->rbuf_reads > 64 && size > RBUF_INITIAL) size /= 2;
  if (size < min_space) size = min_space;
  conn->rbuf_target = size;
  if (carry != NULL && size < carry->len + need + min_space)
    size = pow2_at_least((size_t)(carry->len + need + min_space));
  if (fresh && size < conn->msg_guess + min_space)
    size = pow2_at_least((size_t)conn->msg_guess + min_space);
  if (size > max && max >= min_space) size = max;
  cflight_buffer *nb = cf_rbuf_new(size);
  if (nb == NULL) return false;
  uint8_t *base = cflight_buffer_mutable_data(nb);
  conn->rbuf_used = 0;
  if (carry != NULL) {
    memcpy(base, carry->data, carry->len);
    cflight_buffer_unref(carry->buf);
    carry->buf = cflight_buffer_ref(nb);
    carry->data = base;
    conn->rbuf_used = carry->len;
  }
  cflight_buffer_unref(conn->rbuf);
  conn->rbuf = nb;
  conn->rbuf_base = base;
  conn->rbuf_cap = cflight_buffer_size(nb);
  conn->rbuf_reads = 0;
  return true;
}

/* How much the next read may put in the current buffer: when the message
 * under way ends close to the end of the buffer, read only up to its end,
 * so that the next message starts in a new buffer instead of being split
 * (or moved) at the boundary. */
static size_t rbuf_read_limit(cf_conn *conn) {
  size_t space = conn->rbuf_cap - conn->rbuf_used;
  cf_call *c = conn->last_call;
  if (c != NULL && !c->loop_ended && c->msg_started && c->dmsg == NULL) {
    uint64_t need = c->msg_len - c->msg_have;
    if (need > 0 && need < space && space - need < conn->msg_guess) return (size_t)need;
  }
  return space;
}

/* A read filled all the room offered: the socket has more; grow. */
static void rbuf_note_read(cf_conn *conn, size_t offered, size_t got) {
  conn->rbuf_reads++;
  size_t max = conn->opts->read_buffer_max;
  if (got == offered && offered >= conn->rbuf_target / 4 && conn->rbuf_target < max) {
    conn->rbuf_target *= 2;
    if (conn->rbuf_target > max) conn->rbuf_target = max;
  }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  CF_UNUSED(suggested);
  cf_conn *conn = h->data;
  if (conn->use_tls) {
    if (conn->tls_in == NULL) {
      conn->tls_in = cf_malloc(TLS_IN_SIZE);
      conn->tls_in_cap = conn->tls_in != NULL ? TLS_IN_SIZE : 0;
    }
    /* After what OpenSSL left unread last time (normally nothing). */
    *buf = uv_buf_init((char *)conn->tls_in + conn->tls_in_kept,
                       (unsigned)(conn->tls_in_cap - conn->tls_in_kept));
    return;
  }
  size_t cap = 0;
  cflight_buffer *dbuf = NULL;
  uint8_t *dst = read_plan(conn, &cap, &dbuf);
  if (cap > UINT32_MAX) cap = UINT32_MAX;
  if (dst != NULL) {
    /* The kernel copies the message's bytes straight into place. */
    conn->directed = dst;
    conn->directed_buf = cflight_buffer_ref(dbuf);
    *buf = uv_buf_init((char *)dst, (unsigned)cap);
    return;
  }
  if (!rbuf_ensure(conn, RBUF_MIN_SPACE)) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  size_t space = rbuf_read_limit(conn);
  if (space > cap) space = cap;
  *buf = uv_buf_init((char *)conn->rbuf_base + conn->rbuf_used, (unsigned)space);
}

/* Gives received bytes to nghttp2. directed: they were read straight into
 * a large message's buffer. */
static void feed(cf_conn *conn, const uint8_t *data, size_t len, bool directed) {
  if (conn->closing || conn->session == NULL) return;
  frames_advance(conn, data, len);
  conn->in_recv = true;
  conn->feed_directed = directed;
  ssize_t rv = nghttp2_session_mem_recv(conn->session, data, len);
  conn->feed_directed = false;
  conn->in_recv = false;
  if (conn->closing) return;
  if (rv < 0) {
    if (!conn->is_server && conn->first_bytes_tls) {
      cf_conn_close(conn, CFLIGHT_UNAVAILABLE,
                    "the server at %s answered with TLS: use a grpc+tls:// location", conn->desc);
    } else if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
      cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "%s is not speaking HTTP/2 (gRPC)%s", conn->desc,
                    conn->first_bytes_tls ? "; it speaks TLS, and this listener does not" : "");
    } else {
      cf_conn_close(conn, CFLIGHT_INTERNAL, "HTTP/2 protocol error from %s: %s", conn->desc,
                    nghttp2_strerror((int)rv));
    }
    return;
  }
  cf_conn_return_window(conn);
}

static void on_eof_or_error(cf_conn *conn, ssize_t nread) {
  if (nread == UV_EOF) {
    if (!conn->settings_received && !conn->is_server) {
      if (conn->use_tls && !conn->tls_done) {
        cf_conn_close(conn, CFLIGHT_UNAVAILABLE,
                      "TLS handshake with %s failed: the server closed the connection (is "
                      "the server speaking TLS?)",
                      conn->desc);
      } else if (conn->use_tls) {
        cf_conn_close(conn, CFLIGHT_UNAVAILABLE,
                      "the server at %s closed the TLS connection before HTTP/2 started (does "
                      "it require a client certificate, or refuse ours?)",
                      conn->desc);
      } else {
        cf_conn_close(conn, CFLIGHT_UNAVAILABLE,
                      "connection to %s closed before the server's HTTP/2 settings arrived "
                      "(is the server speaking TLS? then use grpc+tls://)",
                      conn->desc);
      }
    } else {
      cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "connection to %s closed by the peer", conn->desc);
    }
  } else {
    cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "connection to %s lost: %s", conn->desc,
                  uv_strerror((int)nread));
  }
}

static void read_cb_inner(cf_conn *conn, ssize_t nread, const uv_buf_t *buf, bool directed);

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  cf_conn *conn = stream->data;
  /* The reference on a directed read's buffer is held while its bytes are
   * fed: the call may end, and drop the buffer, while nghttp2 has them. */
  bool directed = conn->directed != NULL && (uint8_t *)buf->base == conn->directed;
  cflight_buffer *dbuf = conn->directed_buf;
  conn->directed = NULL;
  conn->directed_buf = NULL;
  read_cb_inner(conn, nread, buf, directed);
  cflight_buffer_unref(dbuf);
}

static void read_cb_inner(cf_conn *conn, ssize_t nread, const uv_buf_t *buf, bool directed) {
  if (conn->closing) return;
  if (nread == UV_ENOBUFS) {
    cf_conn_close(conn, CFLIGHT_NO_MEMORY, "out of memory reading from %s", conn->desc);
    return;
  }
  if (nread < 0) {
    on_eof_or_error(conn, nread);
    return;
  }
  if (nread == 0) return;
  const uint8_t *p = (const uint8_t *)buf->base;
  if (!conn->got_bytes) {
    conn->got_bytes = true;
    /* A TLS record starts with content type 0x14..0x17 and version 0x03. */
    conn->first_bytes_tls = nread >= 2 && p[0] >= 0x14 && p[0] <= 0x17 && p[1] == 0x03;
  }
  if (conn->use_tls) {
    rbuf_note_read(conn, conn->tls_in_cap, (size_t)nread);
    /* OpenSSL reads the ciphertext from where the socket put it. */
    conn->tls_rd = conn->tls_in;
    conn->tls_rd_len = conn->tls_in_kept + (size_t)nread;
    conn->tls_in_kept = 0;
    tls_pump(conn);
    if (!conn->closing && conn->tls_rd_len > 0) {
      memmove(conn->tls_in, conn->tls_rd, conn->tls_rd_len);
      conn->tls_in_kept = conn->tls_rd_len;
    }
    conn->tls_rd = NULL;
    conn->tls_rd_len = 0;
  } else if (directed) {
    feed(conn, p, (size_t)nread, true);
  } else {
    size_t offered = conn->rbuf_cap - conn->rbuf_used;
    conn->rbuf_used += (size_t)nread;
    rbuf_note_read(conn, offered, (size_t)nread);
    feed(conn, p, (size_t)nread, false);
  }
  if (!conn->closing) cf_conn_flush(conn);
}

static void tls_fail_handshake(cf_conn *conn, int ssl_err) {
  char detail[512];
  cf_tls_describe_error(conn->ssl, ssl_err, detail, sizeof(detail));
  bool peer_plain = conn->got_bytes && !conn->first_bytes_tls;
  cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "TLS handshake with %s failed: %s%s", conn->desc, detail,
                peer_plain ? " (the peer is not speaking TLS: is it a plaintext grpc:// "
                             "endpoint?)"
                           : "");
}

static void tls_pump(cf_conn *conn) {
  if (!conn->tls_done) {
    ERR_clear_error();
    int r = SSL_do_handshake(conn->ssl);
    if (r != 1) {
      int e = SSL_get_error(conn->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        tls_write_out(conn);
        return;
      }
      tls_write_out(conn); /* the alert, if any */
      tls_fail_handshake(conn, e);
      return;
    }
    conn->tls_done = true;
    cflight_error err = {0};
    if (cf_tls_check_established(conn->ssl, conn->peer, conn->is_server, &err) != CFLIGHT_OK ||
        session_init(conn, &err) != CFLIGHT_OK) {
      cf_conn_close(conn, err.code, "%s: %s", conn->desc, err.message);
      return;
    }
    tls_write_out(conn);
    if (conn->timer_init) uv_timer_stop(&conn->timer);
    if (!conn->is_server) cf_client_conn_ready(conn);
    cf_conn_start_keepalive(conn);
    if (conn->closing) return;
  }
  for (;;) {
    /* The destination and limit are computed once per feed: the state they
     * depend on changes only when what is read here is fed to nghttp2. */
    size_t limit = 0;
    cflight_buffer *dbuf = NULL;
    uint8_t *dst = read_plan(conn, &limit, &dbuf);
    bool directed = dst != NULL;
    if (directed) {
      /* Decrypted straight into the large message's buffer. */
      cflight_buffer_ref(dbuf);
    } else {
      if (!rbuf_ensure(conn, RBUF_MIN_SPACE)) {
        cf_conn_close(conn, CFLIGHT_NO_MEMORY, "out of memory reading from %s", conn->desc);
        return;
      }
      dst = conn->rbuf_base + conn->rbuf_used;
      size_t space = rbuf_read_limit(conn);
      if (space < limit) limit = space;
    }
    size_t got = 0;
    int last = 0;
    ERR_clear_error();
    while (got < limit) {
      size_t space = limit - got;
      if (space > INT32_MAX) space = INT32_MAX;
      last = SSL_read(conn->ssl, dst + got, (int)space);
      if (last <= 0) break;
      got += (size_t)last;
    }
    if (!directed) conn->rbuf_used += got;
    if (got > 0) feed(conn, dst, got, directed);
    cflight_buffer_unref(dbuf);
    if (conn->closing) return;
    if (last > 0) continue; /* the buffer filled up: more may be waiting */
    int e = SSL_get_error(conn->ssl, last);
    if (e == SSL_ERROR_WANT_READ) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "connection to %s closed by the peer", conn->desc);
      return;
    }
    char detail[512];
    cf_tls_describe_error(conn->ssl, e, detail, sizeof(detail));
    cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "TLS error on the connection to %s: %s", conn->desc,
                  detail);
    return;
  }
  tls_write_out(conn);
}

void cf_conn_read_start(cf_conn *conn) {
  conn->h.tcp.data = conn;
  int rc = uv_read_start((uv_stream_t *)&conn->h, alloc_cb, read_cb);
  if (rc != 0)
    cf_conn_close(conn, CFLIGHT_UNAVAILABLE, "cannot read from %s: %s", conn->desc,
                  uv_strerror(rc));
}

/* ---- TLS through our own BIOs --------------------------------------------------------------
 * OpenSSL reads the ciphertext straight from the bytes a socket read gave
 * (tls_rd) and writes its records straight into the connection's output
 * buffer (tls_out), which a write batch then takes over: no memory BIO in
 * between, with its copies in and out and its zeroing as it grows. */

static BIO_METHOD *bio_in_method, *bio_out_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static int bio_in_read(BIO *b, char *out, int len) {
  cf_conn *conn = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (conn == NULL || conn->tls_rd_len == 0 || len <= 0) {
    /* Nothing yet: "try again", not the end of the stream. */
    BIO_set_retry_read(b);
    return -1;
  }
  size_t n = conn->tls_rd_len < (size_t)len ? conn->tls_rd_len : (size_t)len;
  memcpy(out, conn->tls_rd, n);
  conn->tls_rd += n;
  conn->tls_rd_len -= n;
  return (int)n;
}

static int bio_out_write(BIO *b, const char *in, int len) {
  cf_conn *conn = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (conn == NULL || len < 0 ||
      cf_bytes_append(&conn->tls_out, in, (size_t)len, NULL) != CFLIGHT_OK)
    return -1;
  return len;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  CF_UNUSED(num);
  CF_UNUSED(ptr);
  cf_conn *conn = BIO_get_data(b);
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_PENDING:
      return conn != NULL && b == conn->rbio ? (long)conn->tls_rd_len : 0;
    default:
      return 0;
  }
}

static void bio_methods_init(void) {
  bio_in_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cflight-in");
  bio_out_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cflight-out");
  if (bio_in_method != NULL) {
    BIO_meth_set_create(bio_in_method, bio_create);
    BIO_meth_set_read(bio_in_method, bio_in_read);
    BIO_meth_set_ctrl(bio_in_method, bio_ctrl);
  }
  if (bio_out_method != NULL) {
    BIO_meth_set_create(bio_out_method, bio_create);
    BIO_meth_set_write(bio_out_method, bio_out_write);
    BIO_meth_set_ctrl(bio_out_method, bio_ctrl);
  }
}

int cf_conn_tls_begin(cf_conn *conn, SSL *ssl, cflight_error *err) {
  conn->use_tls = true;
  conn->ssl = ssl;
  pthread_once(&bio_once, bio_methods_init);
  conn->rbio = bio_in_method != NULL ? BIO_new(bio_in_method) : NULL;
  conn->wbio = bio_out_method != NULL ? BIO_new(bio_out_method) : NULL;
  if (conn->rbio == NULL || conn->wbio == NULL) {
    BIO_free(conn->rbio);
    BIO_free(conn->wbio);
    conn->rbio = conn->wbio = NULL;
    return CF_NOMEM(err, "TLS buffers");
  }
  BIO_set_data(conn->rbio, conn);
  BIO_set_data(conn->wbio, conn);
  SSL_set_bio(ssl, conn->rbio, conn->wbio);
  conn->state = CONN_HANDSHAKING;
  cf_conn_read_start(conn);
  if (!conn->closing) tls_pump(conn);
  return CFLIGHT_OK;
}

int cf_conn_start(cf_conn *conn, SSL *ssl, cflight_error *err) {
  if (ssl != NULL) return cf_conn_tls_begin(conn, ssl, err);
  CF_RETURN_NOT_OK(session_init(conn, err));
  cf_conn_read_start(conn);
  if (conn->closing) return CFLIGHT_OK;
  if (conn->timer_init) uv_timer_stop(&conn->timer);
  if (!conn->is_server) cf_client_conn_ready(conn);
  cf_conn_start_keepalive(conn);
  cf_conn_flush(conn);
  return CFLIGHT_OK;
}

/* ---- keepalive ------------------------------------------------------------------------- */

static void on_ka_timeout(uv_timer_t *t) {
  cf_conn *conn = t->data;
  if (conn->closing || !conn->ping_outstanding) return;
  cf_conn_close(conn, CFLIGHT_UNAVAILABLE,
                "keepalive ping to %s not answered within %lld ms: connection dropped", conn->desc,
                (long long)conn->opts->keepalive_timeout_ms);
}

static void on_ka_timer(uv_timer_t *t) {
  cf_conn *conn = t->data;
  if (conn->closing || conn->session == NULL || conn->ping_outstanding) return;
  if (!conn->is_server && conn->n_calls == 0 && !conn->opts->keepalive_permit_without_calls) return;
  if (nghttp2_submit_ping(conn->session, NGHTTP2_FLAG_NONE, ka_opaque) != 0) return;
  conn->ping_outstanding = true;
  if (!conn->ka_timeout_init) {
    uv_timer_init(&conn->loop->uv, &conn->ka_timeout);
    conn->ka_timeout.data = conn;
    conn->ka_timeout_init = true;
    conn->handles_open++;
  }
  uv_timer_start(&conn->ka_timeout, on_ka_timeout, (uint64_t)conn->opts->keepalive_timeout_ms, 0);
  cf_conn_flush(conn);
}

uv_timer_t *cf_conn_timer(cf_conn *conn) {
  if (!conn->timer_init) {
    uv_timer_init(&conn->loop->uv, &conn->timer);
    conn->timer.data = conn;
    conn->timer_init = true;
    conn->handles_open++;
  }
  return &conn->timer;
}

void cf_conn_start_keepalive(cf_conn *conn) {
  if (conn->closing || conn->opts->keepalive_time_ms <= 0) return;
  uint64_t ms = (uint64_t)conn->opts->keepalive_time_ms;
  uv_timer_start(cf_conn_timer(conn), on_ka_timer, ms, ms);
}

/* ---- calls on the connection ---------------------------------------------------------- */

void cf_conn_add_call(cf_conn *conn, cf_call *call) {
  call->conn = conn;
  call->conn_prev = NULL;
  call->conn_next = conn->calls_head;
  if (conn->calls_head != NULL) conn->calls_head->conn_prev = call;
  conn->calls_head = call;
  conn->n_calls++;
}

void cf_conn_return_window(cf_conn *conn) {
  if (conn->in_recv || conn->closing || conn->session == NULL || conn->conn_withheld == 0) return;
  int64_t max = conn->opts->max_connection_buffer;
  if (max > 0 && conn->held > (uint64_t)max) return;
  nghttp2_session_consume_connection(conn->session, (size_t)conn->conn_withheld);
  conn->conn_withheld = 0;
}

void cf_conn_remove_call(cf_conn *conn, cf_call *call) {
  if (call->conn != conn) return;
  if (conn->last_call == call) conn->last_call = NULL;
  cf_call_loop_drop_large(call);
  /* What the call still holds no longer counts against the connection. */
  conn->held -= call->held;
  call->held = 0;
  cf_conn_return_window(conn);
  if (call->conn_prev != NULL) {
    call->conn_prev->conn_next = call->conn_next;
  } else {
    conn->calls_head = call->conn_next;
  }
  if (call->conn_next != NULL) call->conn_next->conn_prev = call->conn_prev;
  call->conn_next = call->conn_prev = NULL;
  call->conn = NULL;
  conn->n_calls--;
}

/* ---- closing ------------------------------------------------------------------------------ */

void cf_conn_close_handle_cb(uv_handle_t *h) {
  cf_conn_unref_handle(h->data);
}

void cf_conn_unref_handle(cf_conn *conn) {
  if (--conn->handles_open == 0 && conn->closing) conn_free(conn);
}

void cf_conn_close(cf_conn *conn, int code, const char *fmt, ...) {
  if (conn->closing) return;
  conn->closing = true;
  conn->state = CONN_CLOSING;
  va_list ap;
  va_start(ap, fmt);
  cflight_error_setv(&conn->close_error, code, fmt, ap);
  va_end(ap);
  if (conn->is_server) {
    /* The owner forgets the connection when it is freed. */
  } else {
    cf_client_conn_closed(conn);
  }
  /* Every call on the connection ends. */
  while (conn->calls_head != NULL) {
    cf_call *call = conn->calls_head;
    cf_conn_remove_call(conn, call);
    if (conn->session != NULL && call->stream_id > 0)
      nghttp2_session_set_stream_user_data(conn->session, call->stream_id, NULL);
    /* A server handler sees its client go away as a cancellation. */
    cf_call_loop_fail(call, conn->is_server ? CFLIGHT_CANCELLED : conn->close_error.code, "%s",
                      conn->close_error.message);
    cf_call_loop_release(call);
  }
  conn->handles_open++; /* held until every handle below is closing */
  if (conn->handle_init && !uv_is_closing((uv_handle_t *)&conn->h))
    uv_close((uv_handle_t *)&conn->h, cf_conn_close_handle_cb);
  if (conn->timer_init) uv_close((uv_handle_t *)&conn->timer, cf_conn_close_handle_cb);
  if (conn->ka_timeout_init) uv_close((uv_handle_t *)&conn->ka_timeout, cf_conn_close_handle_cb);
  if (conn->gai_active) uv_cancel((uv_req_t *)&conn->gai);
  cf_conn_unref_handle(conn);
}

static void conn_free(cf_conn *conn) {
  if (conn->session != NULL) nghttp2_session_del(conn->session);
  if (conn->ssl != NULL) SSL_free(conn->ssl); /* frees the BIOs too */
  free(conn->tls_in);
  cf_bytes_reset(&conn->tls_out);
  cflight_buffer_unref(conn->rbuf);
  cflight_buffer_unref(conn->directed_buf);
  if (conn->ai != NULL) uv_freeaddrinfo(conn->ai);
  cf_peer_info_unref(conn->peer);
  if (conn->is_server) {
    cf_server_conn_freed(conn);
  } else {
    cf_client_conn_freed(conn);
  }
  cflight_error_reset(&conn->close_error);
  free(conn);
}

/* ---- peer info --------------------------------------------------------------------------- */

cf_peer_info *cf_peer_info_new(void) {
  cf_peer_info *p = cf_calloc(1, sizeof(*p));
  if (p != NULL) atomic_init(&p->refs, 1);
  return p;
}

void cf_peer_info_unref(cf_peer_info *p) {
  if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1) return;
  free(p->cert_pem);
  free(p->cert_subject);
  free(p);
}
