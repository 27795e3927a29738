/* Calls, both sides: the user-thread operations (send with backpressure,
 * receive, cancel, free), and the loop-side pieces they share: assembling
 * received messages from DATA chunks as slices of the read buffers (a large
 * message in a buffer of its own, aligned at its end), returning
 * flow-control window when the user takes a message, finishing sent
 * messages, timers and reference counting. */
#include <stdarg.h>
#include <stdio.h>

#include "transport/internal.h"

/* Received messages up to this size are copied out of the read buffer, so
 * that a kept small message does not pin a large buffer. */
#define SMALL_MSG_COPY 512
/* Received bytes after which a reader is woken without waiting for the end
 * of the loop iteration: about half of a core's L2 cache. */
#define READER_SIGNAL_BYTES ((uint64_t)512 << 10)
/* A stream that received a large message expects another (its reads stop
 * at message boundaries) until this many small ones came in a row. */
#define LARGE_MODE_SMALL_RUN 8

cf_call *cf_call_alloc(cf_loop *loop, bool is_server) {
  cf_call *call = cf_calloc(1, sizeof(*call));
  if (call == NULL) return NULL;
  atomic_init(&call->refs, 1);
  atomic_init(&call->cancelled_flag, false);
  call->loop = loop;
  call->is_server = is_server;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&call->cv, &ca);
  pthread_condattr_destroy(&ca);
  cf_loop_ref(loop);
  return call;
}

void cf_call_ref(cf_call *call) {
  atomic_fetch_add_explicit(&call->refs, 1, memory_order_relaxed);
}

static void call_destroy(cf_call *call) {
  while (call->rq_head != NULL) {
    cf_recv_msg *rm = call->rq_head;
    call->rq_head = rm->next;
    cf_msg_reset(&rm->msg);
    free(rm);
  }
  cf_msg_reset(&call->asm_msg);
  free(call->path);
  cf_metadata_reset(&call->req_headers);
  cf_metadata_reset(&call->resp_headers);
  cf_metadata_reset(&call->hdr_block);
  cf_metadata_reset(&call->resp_trailers);
  if (call->hdrs_to_send != NULL) {
    cf_metadata_reset(call->hdrs_to_send);
    free(call->hdrs_to_send);
  }
  cf_status_reset(&call->status);
  cflight_error_reset(&call->end_error);
  cflight_error_reset(&call->resp_status);
  cflight_error_reset(&call->force_status);
  free(call->req_method);
  free(call->req_content_type);
  free(call->req_encoding);
  free(call->req_timeout);
  free(call->req_path);
  free(call->resp_content_type);
  free(call->resp_encoding);
  cf_peer_info_unref(call->peer);
  pthread_cond_destroy(&call->cv);
  cf_loop *loop = call->loop;
  free(call);
  cf_loop_unref(loop);
}

void cf_call_unref(cf_call *call) {
  if (call == NULL) return;
  if (atomic_fetch_sub_explicit(&call->refs, 1, memory_order_acq_rel) == 1) call_destroy(call);
}

void cf_call_signal_locked(cf_call *call) {
  pthread_cond_broadcast(&call->cv);
}

/* ---- outgoing messages ----------------------------------------------------------------- */

static void entry_free(cf_out_entry *e) {
  if (e->pieces != e->inline_pieces) free(e->pieces);
  free(e);
}

void cf_entry_finish(cf_out_entry *e) {
  cf_call *call = e->call;
  pthread_mutex_lock(&call->loop->mu);
  call->queued_bytes -= (int64_t)e->total;
  call->queued_msgs--;
  /* Wake a blocked sender at half the limits, not at every message, so that
   * it queues several messages per wake-up. */
  if (call->send_waiters > 0 &&
      (call->queued_msgs == 0 ||
       (call->queued_bytes * 2 <= call->q_bytes && call->queued_msgs * 2 <= call->q_msgs)))
    cf_call_signal_locked(call);
  pthread_mutex_unlock(&call->loop->mu);
  if (e->done != NULL) e->done(e->ctx);
  entry_free(e);
  cf_call_unref(call);
}

void cf_call_loop_append_sends(cf_call *call, cf_out_entry *list) {
  while (list != NULL) {
    cf_out_entry *e = list;
    list = e->next;
    e->next = NULL;
    if (call->loop_ended || call->loop_released) {
      e->abandoned = true;
      cf_entry_finish(e);
      continue;
    }
    e->in_list = true;
    if (call->sq_tail != NULL) {
      call->sq_tail->next = e;
    } else {
      call->sq_head = e;
    }
    call->sq_tail = e;
  }
}

void cf_call_loop_abandon_sends(cf_call *call) {
  cf_out_entry *e = call->sq_head;
  call->sq_head = call->sq_tail = NULL;
  while (e != NULL) {
    cf_out_entry *next = e->next;
    e->next = NULL;
    e->in_list = false;
    e->abandoned = true;
    /* Entries whose bytes are in a write still in flight finish with it. */
    if (e->inflight == 0) cf_entry_finish(e);
    e = next;
  }
}

/* ---- loop side: lifetime ----------------------------------------------------------------- */

static void on_timer_closed(uv_handle_t *h) {
  cf_call_unref(h->data);
}

void cf_call_loop_release(cf_call *call) {
  if (call->loop_released) return;
  call->loop_released = true;
  call->loop_ended = true;
  cf_call_loop_abandon_sends(call);
  if (call->timer_init) {
    uv_timer_stop(&call->timer);
    uv_close((uv_handle_t *)&call->timer, on_timer_closed);
  } else {
    cf_call_unref(call);
  }
}

void cf_call_start_timer(cf_call *call, void (*cb)(uv_timer_t *)) {
  if (call->deadline_ns <= 0) return;
  if (!call->timer_init) {
    uv_timer_init(&call->loop->uv, &call->timer);
    call->timer.data = call;
    call->timer_init = true;
  }
  int64_t left = call->deadline_ns - cf_now_ns();
  uint64_t ms = left <= 0 ? 0 : (uint64_t)((left + 999999) / 1000000);
  uv_timer_start(&call->timer, cb, ms, 0);
}

void cf_call_loop_fail(cf_call *call, int code, const char *fmt, ...) {
  char msg[CFLIGHT_ERROR_MESSAGE_SIZE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (call->is_server) {
    cf_server_call_end(call, code, msg);
  } else {
    cf_client_call_end(call, code, msg);
  }
}

/* ---- loop side: receiving ------------------------------------------------------------------ */

static bool asm_add(cf_call *call, cflight_buffer *buf, const uint8_t *data, size_t len) {
  cf_msg *m = &call->asm_msg;
  if (buf == NULL) return false; /* read into a message buffer, but none is under way */
  if (m->n_slices > 0) {
    cf_slice *last = &m->slices[m->n_slices - 1];
    if (last->buf == buf && last->data + last->len == data) {
      last->len += len;
      m->len += len;
      return true;
    }
  }
  if (m->n_slices == call->asm_cap) {
    size_t cap = call->asm_cap ? call->asm_cap * 2 : 2;
    cf_slice *s = cf_realloc(m->slices, cap * sizeof(*s));
    if (s == NULL) return false;
    m->slices = s;
    call->asm_cap = cap;
  }
  m->slices[m->n_slices++] = (cf_slice){cflight_buffer_ref(buf), data, len};
  m->len += len;
  return true;
}

/* Returns n bytes of the call's received data to its stream window (and,
 * through the connection's accounting, maybe the connection window). */
static void consume_stream(cf_call *call, uint64_t n) {
  cf_conn *conn = call->conn;
  if (conn == NULL || conn->session == NULL || conn->closing || n == 0) return;
  if (n > call->stream_unconsumed) n = call->stream_unconsumed;
  call->stream_unconsumed -= n;
  if (!call->stream_closed) nghttp2_session_consume_stream(conn->session, call->stream_id, n);
}

static void maybe_consume_eagerly(cf_call *call) {
  cf_conn *conn = call->conn;
  if (conn == NULL || conn->session == NULL || call->stream_closed) return;
  /* A message that cannot fit in the stream window would never complete if
   * its bytes waited for the user: return them as they arrive, but only
   * while the user has nothing else queued, so memory stays bounded by the
   * window plus that one message. */
  if (call->msg_started && (uint64_t)call->msg_len + 5 > conn->opts->stream_window / 4 &&
      call->owed_msgs == 0 && call->asm_unconsumed > 0) {
    consume_stream(call, call->asm_unconsumed);
    /* Nor do those bytes count against the connection's buffer limit: a
     * message larger than the limit must still be able to arrive. */
    uint64_t n = call->asm_unconsumed <= call->held ? call->asm_unconsumed : call->held;
    call->held -= n;
    conn->held -= n;
    call->asm_held -= n <= call->asm_held ? n : call->asm_held;
    call->asm_unconsumed = 0;
  }
}

/* ---- loop side: large messages ------------------------------------------------------------ */

static void set_large(cf_call *call, bool large) {
  if (call->large == large) return;
  call->large = large;
  if (call->conn != NULL) {
    if (large) {
      call->conn->n_large++;
    } else {
      call->conn->n_large--;
    }
  }
}

/* The message being received no longer holds a reservation. */
static void unreserve(cf_call *call) {
  if (call->dreserved > 0 && call->conn != NULL) call->conn->dreserved -= call->dreserved;
  call->dreserved = 0;
}

/* Gives the large message that starts (call->msg_len bytes) a buffer of
 * its own, placed so that the message ends 64-byte aligned; it becomes
 * asm_msg's only slice. false when the connection's reservation is used up
 * or memory is short: the message then arrives as read-buffer slices. */
static bool start_large(cf_call *call) {
  cf_conn *conn = call->conn;
  uint64_t len = call->msg_len;
  if (conn == NULL || conn->dreserved + len > CF_LARGE_RESERVE_MAX || call->asm_msg.n_slices != 0)
    return false;
  size_t pad = (size_t)((64 - len % 64) % 64);
  cflight_buffer *b = cf_rbuf_new((size_t)len + pad);
  if (b == NULL) return false;
  cf_slice *s = cf_malloc(sizeof(cf_slice));
  if (s == NULL) {
    cflight_buffer_unref(b);
    return false;
  }
  uint8_t *dst = cflight_buffer_mutable_data(b) + pad;
  *s = (cf_slice){b, dst, 0};
  free(call->asm_msg.slices);
  call->asm_msg.slices = s;
  call->asm_msg.n_slices = 1;
  call->asm_msg.len = 0;
  call->asm_cap = 1;
  call->dmsg = dst;
  call->dreserved = len;
  conn->dreserved += len;
  cf_recv_stats_add(1, 0, 0);
  return true;
}

uint8_t *cf_call_loop_direct_dest(const cf_call *call, uint64_t *left) {
  *left = 0;
  if (call->dmsg == NULL || call->loop_ended || !call->msg_started) return NULL;
  *left = call->msg_len - call->msg_have;
  return call->dmsg + call->msg_have;
}

void cf_call_loop_drop_large(cf_call *call) {
  unreserve(call);
  set_large(call, false);
  call->dmsg = NULL; /* its buffer stays in asm_msg, freed with the call */
}

/* Adds k bytes of the large message under way: already in place when the
 * connection read them there, else copied (once) from the read buffer. */
static bool large_add(cf_call *call, cflight_buffer *buf, const uint8_t *data, size_t k) {
  uint8_t *dst = call->dmsg + call->msg_have;
  if (data == dst) {
    cf_recv_stats_add(0, k, 0);
  } else {
    /* buf NULL: the bytes were read straight into a message buffer, but
     * not where this message's next bytes belong (cannot happen). */
    if (buf == NULL) return false;
    memcpy(dst, data, k);
    cf_recv_stats_add(0, 0, k);
  }
  call->asm_msg.slices[0].len += k;
  call->asm_msg.len += k;
  return true;
}

static bool complete_message(cf_call *call) {
  cf_recv_msg *rm = cf_calloc(1, sizeof(*rm));
  if (rm == NULL) return false;
  rm->msg = call->asm_msg;
  memset(&call->asm_msg, 0, sizeof(call->asm_msg));
  call->asm_cap = 0;
  rm->unconsumed = call->asm_unconsumed;
  rm->wire = call->asm_held;
  call->asm_held = 0;
  /* Room a message like this one needs in a read buffer, frame header too
   * (a large one needs none: it has a buffer of its own). */
  if (call->dmsg != NULL) {
    call->dmsg = NULL;
    unreserve(call);
  } else if (call->conn != NULL) {
    call->conn->msg_guess = (uint64_t)call->msg_len + 5 + 9;
  }
  call->asm_unconsumed = 0;
  call->msg_started = false;
  call->pfx_have = 0;
  if (rm->msg.len <= SMALL_MSG_COPY && rm->msg.n_slices > 0) {
    cflight_buffer *b = cflight_buffer_new(rm->msg.len);
    if (b != NULL) {
      uint8_t *p = cflight_buffer_mutable_data(b);
      size_t len = rm->msg.len;
      for (size_t i = 0; i < rm->msg.n_slices; i++) {
        memcpy(p, rm->msg.slices[i].data, rm->msg.slices[i].len);
        p += rm->msg.slices[i].len;
      }
      cf_msg_reset(&rm->msg);
      rm->msg.slices = cf_malloc(sizeof(cf_slice));
      if (rm->msg.slices == NULL) {
        cflight_buffer_unref(b);
        free(rm);
        return false;
      }
      rm->msg.slices[0] = (cf_slice){b, cflight_buffer_data(b), len};
      rm->msg.n_slices = 1;
      rm->msg.len = len;
    }
  }
  call->owed_msgs++;
  pthread_mutex_lock(&call->loop->mu);
  if (call->rq_tail != NULL) {
    call->rq_tail->next = rm;
  } else {
    call->rq_head = rm;
  }
  call->rq_tail = rm;
  /* The reader is woken at most twice per loop iteration (see
   * cf_loop_signal_later), and also whenever the messages it has not been
   * told about reach READER_SIGNAL_BYTES, so that it releases them (and
   * their buffers come back to the pool) while they are still in cache. */
  call->unsignaled_bytes += rm->msg.len;
  bool now = call->unsignaled_bytes >= READER_SIGNAL_BYTES;
  if (now) {
    call->unsignaled_bytes = 0;
    cf_call_signal_locked(call);
  }
  pthread_mutex_unlock(&call->loop->mu);
  if (!now) cf_loop_signal_later(call->loop, call);
  return true;
}

int cf_call_loop_data_chunk(cf_call *call, cflight_buffer *buf, const uint8_t *data, size_t len) {
  while (len > 0 && !call->loop_ended) {
    if (!call->msg_started) {
      size_t k = 5 - call->pfx_have;
      if (k > len) k = len;
      memcpy(call->pfx + call->pfx_have, data, k);
      call->pfx_have += (unsigned)k;
      call->asm_unconsumed += k;
      call->asm_held += k;
      data += k;
      len -= k;
      if (call->pfx_have < 5) break;
      uint8_t flags = call->pfx[0];
      uint32_t mlen = (uint32_t)call->pfx[1] << 24 | (uint32_t)call->pfx[2] << 16 |
                      (uint32_t)call->pfx[3] << 8 | call->pfx[4];
      if (flags > 1) {
        cf_call_loop_fail(call, CFLIGHT_INTERNAL, "invalid gRPC message flags 0x%02x from the peer",
                          flags);
        return -1;
      }
      if (flags == 1) {
        const char *enc = call->is_server ? call->req_encoding : call->resp_encoding;
        if (enc == NULL || strcmp(enc, "identity") == 0) {
          cf_call_loop_fail(call, CFLIGHT_INTERNAL,
                            "the peer sent a compressed message without grpc-encoding");
        } else if (call->is_server) {
          cf_call_loop_fail(call, CFLIGHT_UNIMPLEMENTED,
                            "message compressed with '%s', which this server does not "
                            "support (grpc-accept-encoding: identity)",
                            enc);
        } else {
          cf_call_loop_fail(call, CFLIGHT_INTERNAL,
                            "the server sent a message compressed with '%s', which this "
                            "client does not support",
                            enc);
        }
        return -1;
      }
      int64_t max = call->opts->max_recv_message_size;
      if (max >= 0 && (int64_t)mlen > max) {
        cf_call_loop_fail(call, CFLIGHT_RESOURCE_EXHAUSTED,
                          "received message larger than max (%u vs. %lld)", mlen, (long long)max);
        return -1;
      }
      call->msg_started = true;
      call->msg_len = mlen;
      call->msg_have = 0;
      if (mlen >= CF_LARGE_MSG_MIN && start_large(call)) {
        call->small_run = 0;
        set_large(call, true);
      } else if (++call->small_run >= LARGE_MODE_SMALL_RUN) {
        /* Small messages in between large ones (dictionary batches, say)
         * keep the stream in large mode; a run of them ends it. */
        set_large(call, false);
      }
    }
    size_t k =
        call->msg_len - call->msg_have < len ? (size_t)(call->msg_len - call->msg_have) : len;
    if (k > 0) {
      if (call->dmsg != NULL ? !large_add(call, buf, data, k) : !asm_add(call, buf, data, k)) {
        cf_call_loop_fail(call, buf == NULL ? CFLIGHT_INTERNAL : CFLIGHT_NO_MEMORY,
                          buf == NULL ? "received bytes landed outside the message under way"
                                      : "out of memory receiving a message");
        return -1;
      }
      call->msg_have += k;
      call->asm_unconsumed += k;
      call->asm_held += k;
      data += k;
      len -= k;
    }
    if (call->msg_have == call->msg_len && !complete_message(call)) {
      cf_call_loop_fail(call, CFLIGHT_NO_MEMORY, "out of memory receiving a message");
      return -1;
    }
  }
  maybe_consume_eagerly(call);
  return 0;
}

int cf_call_loop_end_of_messages(cf_call *call) {
  call->remote_closed = true;
  if (call->pfx_have > 0 || call->msg_started) {
    cf_call_loop_fail(call, CFLIGHT_INTERNAL,
                      "the peer ended the stream in the middle of a message");
    return -1;
  }
  if (!call->is_server) {
    cf_call_loop_fail(call, CFLIGHT_INTERNAL,
                      "the server ended the stream without a status (no trailers)");
    return -1;
  }
  pthread_mutex_lock(&call->loop->mu);
  call->recv_eof = true;
  cf_call_signal_locked(call);
  pthread_mutex_unlock(&call->loop->mu);
  return 0;
}

void cf_call_loop_consume(cf_call *call, uint64_t bytes, uint64_t msgs, uint64_t held) {
  call->owed_msgs -= msgs < call->owed_msgs ? msgs : call->owed_msgs;
  cf_conn *conn = call->conn;
  if (conn == NULL || conn->session == NULL || conn->closing) return;
  /* The taken bytes leave the connection's account (eagerly returned stream
   * window does not: those bytes were still held in the partial message). */
  if (held > call->held) held = call->held;
  call->held -= held;
  conn->held -= held;
  if (!call->stream_closed) {
    consume_stream(call, bytes);
    maybe_consume_eagerly(call);
  }
  cf_conn_return_window(conn);
}

/* ---- user side ------------------------------------------------------------------------------ */

static void copy_error(cflight_error *dst, const cflight_error *src) {
  if (dst == NULL) return;
  cflight_error_set(dst, src->code, "%s", src->message);
  if (src->extra_info != NULL)
    cflight_error_set_extra_info(dst, cflight_buffer_data(src->extra_info),
                                 cflight_buffer_size(src->extra_info));
}

/* Whether operations on the call must fail now, and with what. [mu] */
static bool call_over_locked(cf_call *call, cflight_error *err, int *code) {
  if (!call->ended) return false;
  if (call->is_server) {
    copy_error(err, &call->end_error);
    *code = call->end_error.code;
  } else if (call->status.error.code != CFLIGHT_OK) {
    copy_error(err, &call->status.error);
    *code = call->status.error.code;
  } else {
    *code = cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION,
                              "the call has already ended (the server sent its status)");
  }
  return true;
}

/* Ends the call from a user thread: the loop resets the stream. */
static void call_end_user(cf_call *call, int code, const char *msg) {
  cf_loop *loop = call->loop;
  pthread_mutex_lock(&loop->mu);
  bool wake = false;
  if (!call->ended) {
    call->ended = true;
    call->headers_ready = true;
    atomic_store(&call->cancelled_flag, true);
    if (call->is_server) {
      cflight_error_set(&call->end_error, code, "%s", msg);
    } else {
      cflight_error_set(&call->status.error, code, "%s", msg);
    }
    cf_call_signal_locked(call);
    wake = cf_loop_mark_locked(loop, call, CALL_P_CANCEL);
  }
  pthread_mutex_unlock(&loop->mu);
  if (wake) cf_loop_wake(loop);
}

int cf_call_send(cf_call *call, const cf_out_msg *out, bool end_stream, cflight_error *err) {
  uint64_t payload = 0;
  for (size_t i = 0; i < out->n_pieces; i++)
    payload += out->pieces[i].size;
  int rc = CFLIGHT_OK;
  if (payload > UINT32_MAX) {
    rc = cflight_error_set(err, CFLIGHT_RESOURCE_EXHAUSTED,
                           "message of %llu bytes exceeds gRPC's limit of 4 GiB - 1",
                           (unsigned long long)payload);
  } else if (call->max_send >= 0 && (int64_t)payload > call->max_send) {
    rc = cflight_error_set(err, CFLIGHT_RESOURCE_EXHAUSTED,
                           "sent message larger than max (%llu vs. %lld)",
                           (unsigned long long)payload, (long long)call->max_send);
    call_end_user(call, rc, err != NULL ? err->message : "sent message larger than max");
  }
  cf_out_entry *e = rc == CFLIGHT_OK ? cf_calloc(1, sizeof(*e)) : NULL;
  if (rc == CFLIGHT_OK && e == NULL) rc = CF_NOMEM(err, "message queue");
  if (e != NULL) {
    e->pieces = out->n_pieces <= CF_ARRAY_SIZE(e->inline_pieces)
                    ? e->inline_pieces
                    : cf_malloc(out->n_pieces * sizeof(cflight_ipc_piece));
    if (e->pieces == NULL) {
      free(e);
      e = NULL;
      rc = CF_NOMEM(err, "message queue");
    }
  }
  if (rc != CFLIGHT_OK) {
    if (out->done != NULL) out->done(out->ctx);
    return rc;
  }
  if (out->n_pieces > 0) memcpy(e->pieces, out->pieces, out->n_pieces * sizeof(cflight_ipc_piece));
  e->n_pieces = out->n_pieces;
  e->done = out->done;
  e->ctx = out->ctx;
  e->total = payload + 5;
  e->prefix[0] = 0; /* never compressed */
  e->prefix[1] = (uint8_t)(payload >> 24);
  e->prefix[2] = (uint8_t)(payload >> 16);
  e->prefix[3] = (uint8_t)(payload >> 8);
  e->prefix[4] = (uint8_t)payload;
  e->call = call;

  cf_loop *loop = call->loop;
  int64_t max_bytes = call->q_bytes;
  int64_t max_msgs = call->q_msgs;
  pthread_mutex_lock(&loop->mu);
  for (;;) {
    if (call_over_locked(call, err, &rc)) break;
    if (loop->stopped) {
      rc = cflight_error_set(err, CFLIGHT_CANCELLED, "the channel or server was closed");
      break;
    }
    if (call->is_server ? call->responded : call->send_closed) {
      rc = cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION,
                             call->is_server ? "the call has already been responded to"
                                             : "the sending side of the call is closed");
      break;
    }
    /* Backpressure: wait while the queue is full (a single message always fits). */
    if (call->queued_msgs == 0 || (call->queued_bytes < max_bytes && call->queued_msgs < max_msgs))
      break;
    call->send_waiters++;
    pthread_cond_wait(&call->cv, &loop->mu);
    call->send_waiters--;
  }
  if (rc != CFLIGHT_OK) {
    pthread_mutex_unlock(&loop->mu);
    if (e->done != NULL) e->done(e->ctx);
    entry_free(e);
    return rc;
  }
  cf_call_ref(call); /* held by the entry */
  if (call->in_tail != NULL) {
    call->in_tail->next = e;
  } else {
    call->in_head = e;
  }
  call->in_tail = e;
  call->queued_bytes += (int64_t)e->total;
  call->queued_msgs++;
  if (end_stream && !call->is_server) call->send_closed = true;
  /* A server's last message waits for the status (cf_call_respond wakes
   * the loop), so that both leave in one write. */
  bool wake = !(end_stream && call->is_server) && cf_loop_mark_locked(loop, call, CALL_P_SEND);
  pthread_mutex_unlock(&loop->mu);
  if (wake) cf_loop_wake(loop);
  return CFLIGHT_OK;
}

int cf_call_close_send(cf_call *call, cflight_error *err) {
  if (call->is_server) return CFLIGHT_OK; /* the server ends with cf_call_respond */
  cf_loop *loop = call->loop;
  CF_UNUSED(err);
  int rc = CFLIGHT_OK;
  pthread_mutex_lock(&loop->mu);
  bool wake = false;
  if (!call->send_closed && !call_over_locked(call, NULL, &rc)) {
    call->send_closed = true;
    wake = cf_loop_mark_locked(loop, call, CALL_P_SEND);
  }
  pthread_mutex_unlock(&loop->mu);
  if (wake) cf_loop_wake(loop);
  /* Closing a call that already ended is not an error for the caller. */
  return CFLIGHT_OK;
}

int cf_call_recv(cf_call *call, cf_msg *out, bool *more, cflight_error *err) {
  cf_loop *loop = call->loop;
  int rc = CFLIGHT_OK;
  cf_recv_msg *rm = NULL;
  *more = false;
  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&loop->mu);
  for (;;) {
    if (call->is_server) {
      if (call->ended) {
        copy_error(err, &call->end_error);
        rc = call->end_error.code;
        break;
      }
      if (call->rq_head != NULL) {
        rm = call->rq_head;
        break;
      }
      if (call->recv_eof) break;
    } else {
      /* A status the server sent comes after its messages; a local end
       * (cancel, deadline, lost connection) comes at once. */
      if (call->ended && (!call->status_from_peer || call->rq_head == NULL)) {
        if (call->status.error.code != CFLIGHT_OK) {
          copy_error(err, &call->status.error);
          rc = call->status.error.code;
        }
        break;
      }
      if (call->rq_head != NULL) {
        rm = call->rq_head;
        break;
      }
    }
    if (loop->stopped) {
      rc = cflight_error_set(err, CFLIGHT_CANCELLED, "the channel or server was closed");
      break;
    }
    /* About to block: window still owed to the peer must go out first. */
    if ((call->consume_req > 0 || call->consume_msgs > 0) &&
        cf_loop_mark_locked(loop, call, CALL_P_CONSUME))
      cf_loop_wake(loop);
    pthread_cond_wait(&call->cv, &loop->mu);
  }
  bool wake = false;
  if (rm != NULL) {
    call->rq_head = rm->next;
    if (call->rq_head == NULL) call->rq_tail = NULL;
    call->consume_req += rm->unconsumed;
    call->consume_msgs++;
    call->consume_held += rm->wire;
    /* Window returns in batches (an eighth of the window), or as soon as
     * the reader is about to block (above), or with the next thing the
     * loop does for the call: what is owed meanwhile is too little to stall
     * the sender, and a call that takes one small message (a unary call)
     * does not wake the loop just for it. */
    if (call->consume_req >= call->consume_batch)
      wake = cf_loop_mark_locked(loop, call, CALL_P_CONSUME);
  }
  pthread_mutex_unlock(&loop->mu);
  if (wake) cf_loop_wake(loop);
  if (rm != NULL) {
    *out = rm->msg;
    *more = true;
    free(rm);
  }
  return rc;
}

void cf_call_cancel(cf_call *call) {
  if (call == NULL) return;
  call_end_user(call, CFLIGHT_CANCELLED,
                call->is_server ? "cancelled by the server" : "cancelled by the client");
}

bool cf_call_is_cancelled(const cf_call *call) {
  return atomic_load(&call->cancelled_flag);
}

void cf_call_free(cf_call *call) {
  if (call == NULL) return;
  cf_loop *loop = call->loop;
  pthread_mutex_lock(&loop->mu);
  call->user_released = true;
  unsigned flags = CALL_P_RELEASED;
  if (call->is_server) {
    if (!call->responded && !call->ended) {
      call->responded = true;
      cflight_error_set(&call->resp_status, CFLIGHT_UNKNOWN,
                        "the server handler ended without a status");
      flags |= CALL_P_RESPOND;
    }
    if (call->dispatched) {
      call->dispatched = false;
      call->server->active_calls--;
      pthread_cond_broadcast(&loop->cv);
    }
  } else if (!call->ended) {
    call->ended = true;
    call->headers_ready = true;
    cflight_error_set(&call->status.error, CFLIGHT_CANCELLED, "the call was freed before it ended");
    flags |= CALL_P_CANCEL;
  }
  bool wake = cf_loop_mark_locked(loop, call, flags);
  pthread_mutex_unlock(&loop->mu);
  if (wake) cf_loop_wake(loop);
  cf_call_unref(call);
}
