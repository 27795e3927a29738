/* Internal structures of the transport, shared by its source files.
 *
 * Threads and locks. Every channel and every server owns one cf_loop: a libuv
 * loop run by one thread, plus one mutex (loop->mu). The loop thread alone
 * touches libuv handles, nghttp2 sessions and OpenSSL objects. User threads
 * (client code, server handlers) talk to it through the mutex: they change a
 * call's shared fields, put the call on the loop's pending list and wake the
 * loop with uv_async_send; they wait on the call's condition variable. Lock
 * hold times are a few field updates; nothing blocking or calling out (no
 * nghttp2, no done callbacks) happens under loop->mu. Fields below are
 * marked [mu] (guarded by loop->mu), [loop] (loop thread only) or [const]
 * (set before the object is shared). */
#ifndef CF_TRANSPORT_INTERNAL_H
#define CF_TRANSPORT_INTERNAL_H

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "transport/transport.h"

#define CF_USER_AGENT "grpc-c-cflight/" CFLIGHT_TRANSPORT_VERSION
#define CFLIGHT_TRANSPORT_VERSION "0.1.0"

typedef struct cf_loop cf_loop;
typedef struct cf_conn cf_conn;
typedef struct cf_out_entry cf_out_entry;
typedef struct cf_wbatch cf_wbatch;

/* ---- grpc.c: wire helpers -------------------------------------------------- */

/* Writes a grpc-timeout value ("123m") for a duration; at most 8 digits. */
void cf_grpc_timeout_encode(int64_t ns, char out[16]);
/* Parses a grpc-timeout value into nanoseconds (saturating). false if malformed. */
bool cf_grpc_timeout_decode(const char *s, size_t len, int64_t *ns);
/* Percent-encodes a grpc-message. */
int cf_percent_encode(const char *s, size_t len, cf_bytes *out, cflight_error *err);
/* Decodes a grpc-message; malformed escapes are kept as they are. */
int cf_percent_decode(const uint8_t *s, size_t len, cf_bytes *out, cflight_error *err);
/* Base64 (standard alphabet), unpadded on output; accepts padded and unpadded. */
int cf_base64_encode(const uint8_t *data, size_t len, cf_bytes *out, cflight_error *err);
bool cf_base64_decode(const uint8_t *s, size_t len, cf_bytes *out);
/* The gRPC status for an HTTP status when a response lacks grpc-status. */
int cf_http_status_to_grpc(int http_status);
/* The gRPC status for an RST_STREAM error code. */
int cf_rst_code_to_grpc(uint32_t error_code);
/* true for "application/grpc" and "application/grpc+..." / ";..." */
bool cf_is_grpc_content_type(const uint8_t *v, size_t len);
/* Metadata keys that the transport sets or consumes itself. */
bool cf_is_reserved_header(const char *key);
/* Checks an outgoing metadata entry: key [0-9a-z-_.], printable value unless -bin. */
int cf_header_check(const cf_header *h, cflight_error *err);
bool cf_header_is_bin(const char *key, size_t len);
/* Adds a received header (name, raw value) to md: -bin values are base64-decoded
 * (comma-separated values become several entries). false if malformed. */
bool cf_metadata_add_wire(cf_metadata *md, const uint8_t *name, size_t namelen,
                          const uint8_t *value, size_t valuelen);

/* ---- options.c ---------------------------------------------------------------- */

/* Defaults that are not in cf_transport_options_init's comments. */
#define CF_DEFAULT_STREAM_WINDOW (32u << 20)
#define CF_DEFAULT_CONNECTION_WINDOW (128u << 20)
#define CF_DEFAULT_MAX_FRAME_SIZE ((16u << 20) - 1)
#define CF_DEFAULT_SEND_QUEUE_BYTES ((int64_t)16 << 20)
#define CF_DEFAULT_SEND_QUEUE_MESSAGES 64

/* ---- loop.c ------------------------------------------------------------------- */

typedef void (*cf_task_fn)(void *arg);

typedef struct cf_task {
  struct cf_task *next;
  cf_task_fn fn;
  void *arg;
  bool done; /* [mu] set when fn has run (sync tasks) */
  bool heap; /* freed by the loop after running (async tasks) */
} cf_task;

struct cf_loop {
  atomic_int refs; /* the owner, plus one per call that points here */
  uv_loop_t uv;
  uv_async_t wake;
  uv_check_t check;  /* after each iteration's I/O: wakes the readers in sig_head */
  cf_call *sig_head; /* [loop] calls whose users have news (messages, headers, status) */
  bool check_closed; /* [loop] the check handle is closing: signal at once */
  pthread_t thread;
  bool thread_started; /* [const] */
  pthread_mutex_t mu;
  pthread_cond_t cv; /* sync tasks, and waits on the owner (wait_ready, server wait) */
  cf_task *tasks_head, *tasks_tail;     /* [mu] */
  cf_call *pending_head, *pending_tail; /* [mu] calls with work for the loop */
  bool stopping;                        /* [mu] no more tasks accepted */
  bool stopped;                         /* [mu] the loop thread has returned */
  bool wake_closed;                     /* [mu] the async handle is closing: no more wakes */
  /* [const] processes a call taken from the pending list (client or server). */
  void (*process_call)(cf_call *call);
};

int cf_loop_start(cf_loop *loop, void (*process_call)(cf_call *), cflight_error *err);
/* Runs fn(arg) on the loop thread and waits for it. CFLIGHT_CANCELLED if the
 * loop has stopped. Must not be called on the loop thread. */
int cf_loop_run_sync(cf_loop *loop, cf_task_fn fn, void *arg, cflight_error *err);
/* Queues fn(arg) to run on the loop thread; false if the loop has stopped. */
bool cf_loop_post(cf_loop *loop, cf_task_fn fn, void *arg);
/* Puts call on the pending list with flags (caller holds loop->mu); returns
 * true if the loop must be woken (call uv_async_send after unlocking). */
bool cf_loop_mark_locked(cf_loop *loop, cf_call *call, unsigned flags);
void cf_loop_wake(cf_loop *loop);
/* Stops the loop: runs stop_fn on the loop thread (which must close every
 * handle it owns), waits for the thread to end. */
void cf_loop_stop(cf_loop *loop, cf_task_fn stop_fn, void *arg);
/* Closes the wake-up handle (loop thread, from the stop task). */
void cf_loop_close_wake(cf_loop *loop);
void cf_loop_ref(cf_loop *loop);
/* Drops a reference; the last one frees the loop (after it stopped). */
void cf_loop_unref(cf_loop *loop);
bool cf_on_loop_thread(const cf_loop *loop);
/* Wakes the call's user thread (loop thread only): at once for the first
 * news of the call in this loop iteration, then once more at its end if
 * more came. The state the user waits on must already be set under
 * loop->mu. */
void cf_loop_signal_later(cf_loop *loop, cf_call *call);

/* Read buffers and large messages' buffers (64-byte aligned): those of 64
 * KiB and up are recycled through a small process-wide pool so that the
 * page faults of fresh memory are paid once. The buffer may be larger than
 * asked (its size is rounded up to a size class). */
cflight_buffer *cf_rbuf_new(size_t size);

/* Process-wide counters of the receive path (atomic). */
void cf_recv_stats_add(uint64_t large_msgs, uint64_t direct_bytes, uint64_t copied_bytes);

/* ---- calls ------------------------------------------------------------------------ */

/* Received messages of at least this many bytes get a buffer of their own
 * (see cf_call.dmsg). */
#define CF_LARGE_MSG_MIN ((uint32_t)64 << 10)
/* A connection reserves at most this much for the large messages under
 * way on its streams (one of any size fits): beyond, they are received as
 * slices of the read buffers. It is address space more than memory: pages
 * are touched as bytes arrive, as many as the windows let in. */
#define CF_LARGE_RESERVE_MAX ((uint64_t)4 << 30)

/* An outgoing message queued on a call. */
struct cf_out_entry {
  cf_out_entry *next;
  cf_call *call; /* holds a reference */
  cflight_ipc_piece *pieces;
  size_t n_pieces;
  void (*done)(void *ctx);
  void *ctx;
  uint8_t prefix[5];
  uint64_t total;   /* 5 + payload */
  uint64_t handed;  /* [loop] bytes given to write batches */
  size_t piece_idx; /* [loop] cursor: piece and offset of byte `handed` */
  size_t piece_off;
  int inflight;   /* [loop] write batches referencing this entry not yet completed */
  bool abandoned; /* [loop] the stream went away before all bytes were handed out */
  bool in_list;   /* [loop] still on the call's send list */
  cflight_ipc_piece inline_pieces[2];
};

/* A received message waiting for the user. */
typedef struct cf_recv_msg {
  struct cf_recv_msg *next;
  cf_msg msg;
  uint64_t unconsumed; /* stream-window bytes to return when the user takes it */
  uint64_t wire;       /* its bytes on the wire (5 + length) */
} cf_recv_msg;

/* Flags in cf_call.pending: what the loop has to look at. */
enum {
  CALL_P_SEND = 1u << 0,     /* new entries, or the send side was closed */
  CALL_P_CANCEL = 1u << 1,   /* user cancelled */
  CALL_P_CONSUME = 1u << 2,  /* user took messages: return window */
  CALL_P_HEADERS = 1u << 3,  /* server: send response headers */
  CALL_P_RESPOND = 1u << 4,  /* server: status and trailers */
  CALL_P_START = 1u << 5,    /* client: new call */
  CALL_P_RELEASED = 1u << 6, /* user freed the call */
};

struct cf_call {
  atomic_int refs;
  cf_loop *loop; /* [const] holds a loop reference */
  bool is_server;
  pthread_cond_t cv; /* the user thread waits here */

  /* [const] after start / dispatch */
  char *path;
  int64_t deadline_ns;
  cf_metadata req_headers;          /* client: to send; server: received */
  cf_channel *channel;              /* client */
  const cf_transport_options *opts; /* [loop] only: the owner's options */
  int64_t max_send;                 /* copies for user threads */
  int64_t q_bytes, q_msgs;
  uint64_t consume_batch; /* window returned in batches of this many bytes */
  cf_server *server;      /* server */
  struct cf_peer_info *peer;
  atomic_bool cancelled_flag; /* cf_call_is_cancelled */

  /* [mu] shared with user threads */
  unsigned pending;
  bool in_pending;
  cf_call *pending_next;
  cf_call *sig_next;               /* [loop] in loop->sig_head */
  bool sig_queued;                 /* [loop] */
  bool sig_more;                   /* [loop] more news since its user was woken */
  uint64_t unsignaled_bytes;       /* [loop] of messages queued since the reader was last woken */
  cf_out_entry *in_head, *in_tail; /* queued by the user, not yet taken by the loop */
  int64_t queued_bytes;            /* entries not yet written (backpressure) */
  int64_t queued_msgs;
  int send_waiters; /* threads blocked in cf_call_send (backpressure) */
  bool send_closed; /* the user closed the send side */
  cf_recv_msg *rq_head, *rq_tail;
  bool recv_eof;         /* peer ended its messages */
  uint64_t consume_req;  /* bytes to return to the stream window */
  uint64_t consume_msgs; /* messages the user took since the loop last looked */
  uint64_t consume_held; /* their bytes on the wire */
  bool status_from_peer; /* client: the status came from the server's trailers */
  bool resp_headers_received;
  bool ended;              /* the call is over; status final */
  cflight_error end_error; /* server: why the call ended, for handler operations */
  cf_status status;        /* client: final status */
  bool headers_ready;      /* client: response headers arrived (or the call ended) */
  cf_metadata resp_headers;
  bool user_released;
  bool responded;            /* server: cf_call_respond was called */
  cf_metadata *hdrs_to_send; /* server: from cf_call_send_headers */
  cflight_error resp_status; /* server: from cf_call_respond */
  cf_metadata resp_trailers;
  bool dispatched;     /* server: handed to a worker (counts in active calls) */
  bool hdrs_requested; /* server: cf_call_send_headers was called */

  /* [loop] */
  cf_conn *conn;
  int32_t stream_id;
  cf_call *conn_next, *conn_prev;
  cf_call *wait_next;              /* client: waiting for a connection */
  cf_out_entry *sq_head, *sq_tail; /* the loop's send list */
  bool local_close_taken;          /* client: close_send seen; server: respond seen */
  bool submitted;                  /* HEADERS submitted (client request / server response) */
  bool deferred;                   /* the data provider returned DEFERRED */
  bool local_done;                 /* our END_STREAM (or trailers) submitted */
  bool loop_ended;                 /* loop-side view of `ended` */
  bool loop_released;              /* the loop dropped its reference */
  bool stream_closed;
  bool remote_closed;
  cflight_error force_status; /* server: status the transport imposes */
  bool force_end;
  /* message assembly */
  uint8_t pfx[5];
  unsigned pfx_have;
  uint32_t msg_len;
  uint64_t msg_have;
  bool msg_started;
  cf_msg asm_msg;
  size_t asm_cap;
  uint64_t asm_unconsumed;
  uint64_t asm_held;
  uint64_t owed_msgs;         /* complete messages the user has not taken */
  uint64_t stream_unconsumed; /* received bytes not yet returned to the stream window */
  uint64_t held;              /* received bytes the user has not taken (in conn->held) */
  /* A large message (CF_LARGE_MSG_MIN and up) is received into a buffer of
   * its own, asm_msg's only slice, placed so that the message ends 64-byte
   * aligned; the connection reads its bytes straight into place when it
   * can (see conn.c). */
  uint8_t *dmsg;      /* where the message's first byte goes; NULL: none under way */
  uint64_t dreserved; /* the message's size, counted in conn->dreserved until complete */
  bool large;         /* a recent message was large: expect another (see conn.c) */
  unsigned small_run; /* small messages since the last large one */
  /* headers being received */
  cf_metadata hdr_block;
  size_t hdr_block_size;
  int http_status;
  bool hdr_bad;
  char *req_method, *req_content_type, *req_encoding, *req_timeout, *req_path;
  char *resp_content_type, *resp_encoding;
  bool got_headers; /* client: the first HEADERS block arrived */
  uv_timer_t timer;
  bool timer_init;
};

/* Shared peer description of a connection (its calls may outlive it). */
typedef struct cf_peer_info {
  atomic_int refs;
  char peer[160];
  char *cert_pem;
  char *cert_subject;
} cf_peer_info;

cf_peer_info *cf_peer_info_new(void);
void cf_peer_info_unref(cf_peer_info *p);

cf_call *cf_call_alloc(cf_loop *loop, bool is_server);
void cf_call_ref(cf_call *call);
void cf_call_unref(cf_call *call);

/* [loop] side of calls (call.c) */
void cf_call_loop_abandon_sends(cf_call *call);
void cf_call_loop_release(cf_call *call);
/* Where the next bytes of the call's large message go and how many are
 * still to come; NULL when no large message is under way. */
uint8_t *cf_call_loop_direct_dest(const cf_call *call, uint64_t *left);
/* Forgets the call's large-message state (the call leaves its connection). */
void cf_call_loop_drop_large(cf_call *call);
int cf_call_loop_data_chunk(cf_call *call, cflight_buffer *buf, const uint8_t *data, size_t len);
int cf_call_loop_end_of_messages(cf_call *call);
void cf_call_loop_consume(cf_call *call, uint64_t bytes, uint64_t msgs, uint64_t held);
void cf_call_loop_append_sends(cf_call *call, cf_out_entry *list);
void cf_client_call_end(cf_call *call, int code, const char *msg);
void cf_server_call_end(cf_call *call, int code, const char *msg);
void cf_call_start_timer(cf_call *call, void (*cb)(uv_timer_t *));
void cf_entry_finish(cf_out_entry *e);
void cf_call_signal_locked(cf_call *call);
/* nghttp2 data provider for a call's stream */
nghttp2_data_provider cf_call_data_provider(cf_call *call);
/* Building header lists for nghttp2. */
typedef struct cf_nvbuf {
  nghttp2_nv *nv;
  size_t n, cap;
  void **owned; /* strings allocated for the list, freed by cf_nv_reset */
  size_t n_owned, cap_owned;
} cf_nvbuf;
/* Adds a header whose name and value stay valid until the list is submitted. */
int cf_nv_add(cf_nvbuf *b, const char *name, const void *value, size_t value_len,
              cflight_error *err);
/* Adds user metadata (-bin values base64-encoded). */
int cf_nv_add_metadata(cf_nvbuf *b, const cf_metadata *md, cflight_error *err);
/* Adds grpc-status, grpc-message and grpc-status-details-bin. */
int cf_nv_add_status(cf_nvbuf *b, const cflight_error *status, cflight_error *err);
void cf_nv_reset(cf_nvbuf *b);

/* Client and server hooks into the connection code. */
void cf_client_process_call(cf_call *call);
void cf_server_process_call(cf_call *call);

/* ---- conn.c ------------------------------------------------------------------ */

enum cf_conn_state {
  CONN_RESOLVING,
  CONN_CONNECTING,
  CONN_HANDSHAKING, /* TLS */
  CONN_OPEN,        /* HTTP/2 session running */
  CONN_CLOSING,
};

struct cf_wbatch {
  uv_write_t req;
  cf_conn *conn;
  cf_bytes small; /* copied bytes: frame headers, prefixes, small frames */
  struct cf_wseg {
    const uint8_t *ptr; /* NULL: in small at off */
    size_t off;
    size_t len;
  } * segs;
  size_t n_segs, cap_segs;
  cf_out_entry **touched;
  size_t n_touched, cap_touched;
  uv_buf_t *bufs;
  uint8_t *cipher; /* TLS: encrypted bytes */
  size_t bytes;
  bool failed;
};

struct cf_conn {
  cf_loop *loop;
  bool is_server;
  bool is_pipe;
  bool use_tls;
  cf_channel *channel; /* client: owner */
  cf_server *server;   /* server: owner */
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
  bool handle_init;
  int handles_open; /* uv handles whose close callback is pending or not yet closed */
  enum cf_conn_state state;
  nghttp2_session *session;
  const cf_transport_options *opts;
  cf_peer_info *peer;
  char desc[300]; /* "127.0.0.1:5000", for messages */

  /* TLS */
  SSL *ssl;
  BIO *rbio, *wbio;
  bool tls_done;
  uint8_t *tls_in; /* ciphertext as read from the socket */
  size_t tls_in_cap;
  size_t tls_in_kept;    /* bytes at its start OpenSSL has not read yet */
  const uint8_t *tls_rd; /* what OpenSSL reads next (our read BIO) */
  size_t tls_rd_len;
  cf_bytes tls_out; /* records OpenSSL wrote (our write BIO), not yet sent */

  /* read side */
  cflight_buffer *rbuf;
  uint8_t *rbuf_base;
  size_t rbuf_used, rbuf_cap, rbuf_target;
  unsigned rbuf_reads;
  uint64_t conn_withheld; /* connection-window bytes not yet returned */
  uint64_t held;          /* received bytes the calls' users have not taken */
  cf_call *last_call;     /* the call the last DATA chunk was for */
  uint64_t msg_guess;     /* bytes the next message will likely need (the last one\'s) */
  /* HTTP/2 frame boundaries in the bytes given to nghttp2, tracked so that
   * the bytes of a large message can be read straight into its buffer. */
  uint32_t preface_left;        /* server: bytes of the client's connection preface to come */
  uint8_t fhdr[9];              /* the frame header being read */
  unsigned fhdr_have;           /* ... its bytes seen so far */
  uint32_t frame_left;          /* payload bytes of the current frame still to come */
  uint8_t frame_type;           /* of the current frame */
  uint8_t frame_flags;          /* of the current frame */
  int32_t frame_stream;         /* of the current frame */
  unsigned n_large;             /* calls whose `large` is set */
  uint64_t dreserved;           /* sizes of the large messages being received */
  uint8_t *directed;            /* the destination of the read in progress, when directed */
  cflight_buffer *directed_buf; /* a reference to its buffer during the read */
  bool feed_directed;           /* the bytes nghttp2 is given were read that way */
  bool got_bytes;
  bool first_bytes_tls; /* the first bytes from the peer looked like TLS */
  bool settings_received;
  bool in_recv;

  /* write side */
  cf_wbatch *batch; /* being built during nghttp2_session_send */
  size_t inflight_bytes;
  int inflight_batches;
  bool flushing;

  /* calls (streams) */
  cf_call *calls_head;
  size_t n_calls;

  bool goaway_received;
  bool goaway_sent;     /* final GOAWAY */
  bool shutdown_notice; /* server: first GOAWAY sent, waiting for the ping ack */
  int32_t goaway_last_stream;
  int64_t shutdown_at;
  bool closing;
  cflight_error close_error;

  /* timers */
  uv_timer_t timer; /* connect/handshake timeout, then keepalive */
  bool timer_init;
  uv_timer_t ka_timeout;
  bool ka_timeout_init;
  bool ping_outstanding;

  /* client connect */
  uv_getaddrinfo_t gai;
  bool gai_active;
  struct addrinfo *ai, *ai_next;
  uv_connect_t connect_req;
  char last_connect_error[256];
  char attempt[80]; /* the address being tried */
  bool connect_active;

  cf_conn *next, *prev; /* in the owner's list */
};

cf_conn *cf_conn_new(cf_loop *loop, bool is_server, const cf_transport_options *opts);
/* Sets up the nghttp2 session (and TLS state when ssl != NULL) on an open
 * socket, and starts reading. */
int cf_conn_start(cf_conn *conn, SSL *ssl, cflight_error *err);
/* Writes whatever nghttp2 has to send, unless too much is in flight. */
void cf_conn_flush(cf_conn *conn);
/* Closes the connection: fails every call on it with err, closes handles;
 * the owner's on_conn_closed runs when the last handle closed. */
void cf_conn_close(cf_conn *conn, int code, const char *fmt, ...) CFLIGHT_PRINTF(3, 4);
void cf_conn_add_call(cf_conn *conn, cf_call *call);
void cf_conn_remove_call(cf_conn *conn, cf_call *call);
/* Returns withheld connection window when the connection's untaken bytes allow. */
void cf_conn_return_window(cf_conn *conn);
extern const uint8_t cf_shutdown_ping_opaque[8];
void cf_conn_start_keepalive(cf_conn *conn);
uv_timer_t *cf_conn_timer(cf_conn *conn);
void cf_conn_close_handle_cb(uv_handle_t *h);
void cf_conn_unref_handle(cf_conn *conn);
/* Installs the TLS session on an accepted/connected socket. */
int cf_conn_tls_begin(cf_conn *conn, SSL *ssl, cflight_error *err);
void cf_conn_read_start(cf_conn *conn);

/* Owner callbacks (client.c / server.c), on the loop thread. */
void cf_client_conn_ready(cf_conn *conn);    /* transport (and TLS) up, session made */
void cf_client_conn_settings(cf_conn *conn); /* the server's SETTINGS arrived */
void cf_client_conn_goaway(cf_conn *conn);
void cf_client_conn_closed(cf_conn *conn); /* before the calls are failed */
void cf_client_conn_freed(cf_conn *conn);
void cf_server_conn_freed(cf_conn *conn);

/* nghttp2 callbacks that differ by side. */
int cf_client_on_headers_done(cf_conn *conn, cf_call *call, const nghttp2_frame *frame);
void cf_client_on_stream_close(cf_conn *conn, cf_call *call, uint32_t error_code);
void cf_client_on_not_sent(cf_conn *conn, cf_call *call, const nghttp2_frame *frame, int lib_err);
int cf_server_on_begin_headers(cf_conn *conn, const nghttp2_frame *frame);
int cf_server_on_headers_done(cf_conn *conn, cf_call *call, const nghttp2_frame *frame);
void cf_server_on_stream_close(cf_conn *conn, cf_call *call, uint32_t error_code);
void cf_server_after_final_frame(cf_conn *conn, cf_call *call);
void cf_server_on_ping_ack(cf_conn *conn);
/* Ends a call because of a protocol problem found while receiving. */
void cf_call_loop_fail(cf_call *call, int code, const char *fmt, ...) CFLIGHT_PRINTF(3, 4);
/* Server: the data provider reached the end and the call responded. */
int cf_server_submit_trailers(cf_call *call);

/* ---- tls.c ------------------------------------------------------------------- */

int cf_tls_client_ctx_new(const cf_tls_client_config *cfg, SSL_CTX **out, cflight_error *err);
int cf_tls_server_ctx_new(const cf_tls_server_config *cfg, SSL_CTX ***out, size_t *n_out,
                          cflight_error *err);
void cf_tls_server_ctx_free(SSL_CTX **ctxs, size_t n);
/* A client SSL for one connection: SNI and hostname verification against name. */
int cf_tls_client_ssl_new(SSL_CTX *ctx, const cf_tls_client_config *cfg, const char *host,
                          SSL **out, cflight_error *err);
int cf_tls_server_ssl_new(SSL_CTX *ctx, SSL **out, cflight_error *err);
/* Describes the last TLS failure: OpenSSL's error queue and the verify result. */
void cf_tls_describe_error(SSL *ssl, int ssl_err, char *out, size_t out_len);
/* After the handshake: ALPN must be h2. Fills the peer certificate (server side). */
int cf_tls_check_established(SSL *ssl, cf_peer_info *peer, bool is_server, cflight_error *err);

/* ---- address.c ------------------------------------------------------------ */

/* "ipv4:1.2.3.4:5", "ipv6:[::1]:5" */
void cf_sockaddr_peer_string(const struct sockaddr *sa, char *out, size_t out_len);
/* "1.2.3.4:5", "[::1]:5" */
void cf_sockaddr_string(const struct sockaddr *sa, char *out, size_t out_len);
bool cf_host_is_ip_literal(const char *host);

/* ---- client / server objects (client.c, server.c) ----------------------------- */

struct cf_channel {
  cf_loop *loop;
  cf_address addr;
  cf_transport_options opts;
  SSL_CTX *ssl_ctx;
  char authority[300];
  char target[300];   /* for messages: "localhost:5000" or "unix:/path" */
  char sni_host[256]; /* name to verify (host or override) */
  char user_agent[512];
  /* [loop] */
  cf_conn *conn;  /* current connection (connecting or open), or NULL */
  cf_conn *conns; /* every live connection, draining ones included */
  cf_call *wait_head, *wait_tail;
  cf_call *calls; /* every call the loop holds, for channel free */
  bool closing;
  /* [mu] */
  bool ready;
  uint64_t attempts_done;
  cflight_error last_error;
  bool freed;
};

struct cf_listener {
  struct cf_listener *next;
  cf_server *srv;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
  bool is_pipe;
  bool use_tls;
  bool closing;
  char path[108];
};

typedef struct cf_work {
  struct cf_work *next;
  cf_call *call;
} cf_work;

struct cf_server {
  cf_loop *loop;
  cf_transport_options opts;
  cf_call_handler handler;
  void *handler_ctx;
  SSL_CTX **ssl_ctxs;
  size_t n_ssl_ctxs;
  /* [loop] */
  struct cf_listener *listeners;
  cf_conn *conns;
  bool shutting_down;
  uv_timer_t shutdown_timer;
  bool shutdown_timer_init;
  bool shutdown_timer_closed;
  int64_t shutdown_deadline;
  /* [mu] */
  size_t active_calls; /* dispatched and not yet freed by the handler */
  size_t n_conns;
  size_t n_listeners;
  bool shutdown_requested;
  bool loop_idle; /* no connections and no listeners after shutdown */
  /* worker pool, under pool_mu */
  pthread_mutex_t pool_mu;
  pthread_cond_t pool_cv;
  cf_work *work_head, *work_tail;
  pthread_t *threads;
  size_t n_threads, cap_threads, n_idle, n_queued;
  bool pool_stop;
};

#endif /* CF_TRANSPORT_INTERNAL_H */
