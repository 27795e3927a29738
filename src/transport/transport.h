/* The transport: gRPC calls over HTTP/2 (nghttp2), on libuv event-loop
 * threads, over TCP, Unix sockets or TLS (OpenSSL). The layer above (the
 * Flight client and server in src/rpc) sees only this file: calls that carry
 * length-prefixed gRPC messages, metadata and a final status. It knows
 * nothing of Flight or Arrow, so another transport (shared memory, say) can
 * stand behind the same interface.
 *
 * Threads: each channel and each server runs one loop thread (libuv, nghttp2,
 * OpenSSL all live there). Every function here except where noted is called
 * from user threads (client code, server handlers) and may block; none may
 * be called on a loop thread. Server handlers run on a worker pool, never on
 * a loop thread. Callbacks the transport makes (cf_out_msg.done) run on a
 * loop thread and must not block. */
#ifndef CF_TRANSPORT_H
#define CF_TRANSPORT_H

#include "base/base.h"

/* ---- Addresses ----------------------------------------------------------- */

typedef enum cf_scheme {
  CF_SCHEME_TCP = 0,  /* grpc://, grpc+tcp:// */
  CF_SCHEME_TLS = 1,  /* grpc+tls:// */
  CF_SCHEME_UNIX = 2, /* grpc+unix:// */
} cf_scheme;

typedef struct cf_address {
  cf_scheme scheme;
  char host[256]; /* TCP/TLS: host name or IP literal (IPv6 without brackets) */
  int port;       /* TCP/TLS; 0 on a server means "pick a free port" */
  char path[108]; /* Unix: socket path */
} cf_address;

/* Parses "grpc://host:port", "grpc+tcp://host:port", "grpc+tls://host:port",
 * "grpc+unix:///path/to/socket" (also "grpc+unix://localhost/path",
 * "unix:/path", "unix:///path"). IPv6 hosts in brackets; a port is required;
 * nothing may follow it but "/". CFLIGHT_INVALID_ARGUMENT with the reason
 * otherwise. */
int cf_address_parse(const char *uri, cf_address *out, cflight_error *err);

/* ---- Metadata (headers and trailers) --------------------------------------
 * Keys are lower-case (cf_metadata_add lower-cases them). Values of keys
 * ending in "-bin" are binary and travel base64-encoded (sent unpadded,
 * accepted padded or not, comma-joined values split); here they are always
 * the raw bytes. Other values must be printable ASCII. Keys the transport
 * owns (pseudo-headers, content-type, te, grpc-timeout, grpc-encoding,
 * grpc-accept-encoding, grpc-status, grpc-message, grpc-status-details-bin)
 * are refused in outgoing metadata and never appear in received metadata.
 * Received values are NUL-terminated after value_len for convenience. */

typedef struct cf_header {
  char *key;
  uint8_t *value;
  size_t value_len;
} cf_header;

typedef struct cf_metadata {
  cf_header *items;
  size_t count;
  size_t cap;
} cf_metadata;

int cf_metadata_add(cf_metadata *md, const char *key, const void *value, size_t value_len,
                    cflight_error *err);
/* The first value of key, or NULL. */
const cf_header *cf_metadata_find(const cf_metadata *md, const char *key);
int cf_metadata_copy(const cf_metadata *src, cf_metadata *dst, cflight_error *err);
void cf_metadata_reset(cf_metadata *md);

/* ---- Messages --------------------------------------------------------------
 * A received gRPC message (the bytes after the 5-byte prefix) as slices of
 * the transport's read buffers, in order: no copy is made on the way in. A
 * message that lies inside one read buffer and one DATA frame is one slice
 * (adjacent pieces coalesce). Exceptions: a message of at most 512 bytes is
 * copied into a buffer of its own, so that keeping it does not pin a large
 * read buffer; a message of 64 KiB and more is received into a buffer of
 * its own, as one slice that ends at a 64-byte-aligned address (so that a
 * trailing field whose length is a multiple of 8, such as FlightData's
 * data_body, starts 8-byte aligned), its bytes read by the kernel (or TLS)
 * straight into place whenever the HTTP/2 framing allows and copied there
 * once otherwise. The slices may be used from any thread. */

typedef struct cf_slice {
  cflight_buffer *buf; /* a reference owned by the message */
  const uint8_t *data; /* inside buf */
  size_t len;
} cf_slice;

typedef struct cf_msg {
  cf_slice *slices;
  size_t n_slices;
  size_t len; /* sum of the slice lengths */
} cf_msg;

void cf_msg_reset(cf_msg *m);
/* The message as one contiguous buffer: a reference to the only slice's
 * buffer (sliced) when there is one, otherwise a copy. */
cflight_buffer *cf_msg_flatten(const cf_msg *m, cflight_error *err);

/* An outgoing message: pieces sent with writev, after a 5-byte gRPC prefix
 * that the transport writes (never compressed). cf_call_send copies the
 * pieces array itself; the bytes it points to must stay valid until done(ctx)
 * is called: on a loop thread once the bytes are written to the socket (or
 * the stream or connection is gone), or on the calling thread when
 * cf_call_send fails at once. done is called exactly once and must not
 * block; it may be NULL. */
typedef struct cf_out_msg {
  const cflight_ipc_piece *pieces;
  size_t n_pieces;
  void (*done)(void *ctx);
  void *ctx;
} cf_out_msg;

/* What the receive path did with large messages since the process
 * started, all connections together (for tests and benchmarks). */
typedef struct cf_recv_stats {
  uint64_t large_msgs;   /* messages received into a buffer of their own */
  uint64_t direct_bytes; /* their bytes read straight into place */
  uint64_t copied_bytes; /* their bytes copied into place from a read buffer */
} cf_recv_stats;

void cf_recv_stats_get(cf_recv_stats *out);

/* ---- Status ----------------------------------------------------------------- */

/* A call's final status: code (gRPC 0..16), message (grpc-message,
 * percent-decoded), details (grpc-status-details-bin, as error.extra_info) in
 * an error struct, and the trailers (without those three). */
typedef struct cf_status {
  cflight_error error;
  cf_metadata trailers;
} cf_status;

void cf_status_reset(cf_status *st);

/* ---- TLS settings ----------------------------------------------------------- */

typedef struct cf_tls_client_config {
  char *root_certs_pem;      /* NULL: the system trust store */
  char *cert_chain_pem;      /* mutual TLS: client certificate chain */
  char *private_key_pem;     /* mutual TLS: client key */
  char *override_hostname;   /* name to verify and send as SNI instead of the host
                                (grpc.ssl_target_name_override) */
  bool disable_verification; /* insecure: accept any server certificate */
} cf_tls_client_config;

typedef struct cf_tls_cert_pair {
  char *cert_chain_pem;
  char *private_key_pem;
} cf_tls_cert_pair;

typedef struct cf_tls_server_config {
  cf_tls_cert_pair *pairs; /* the first is the default; others chosen by SNI */
  size_t n_pairs;
  bool verify_client;          /* require and verify a client certificate */
  char *client_root_certs_pem; /* roots for client certificates; NULL: system store */
} cf_tls_server_config;

/* ---- Options ------------------------------------------------------------------ */

typedef struct cf_transport_options {
  int64_t max_recv_message_size; /* -1: no limit (default) */
  int64_t max_send_message_size; /* -1: no limit (default) */
  uint32_t max_frame_size;       /* HTTP/2 SETTINGS_MAX_FRAME_SIZE we accept; default 16 MiB - 1 */
  uint32_t stream_window;        /* per-stream flow-control window; default 32 MiB */
  uint32_t connection_window;    /* default 128 MiB */
  int64_t keepalive_time_ms;     /* 0: no keepalive pings */
  int64_t keepalive_timeout_ms;  /* default 20 s */
  bool keepalive_permit_without_calls; /* client: ping also when no call is open */
  int64_t connect_timeout_ms;          /* client; default 20 s (connect + TLS handshake) */
  int worker_threads_max;              /* server: most handler threads at once; default 1024 */
  uint32_t max_concurrent_streams;     /* server: SETTINGS_MAX_CONCURRENT_STREAMS; default 1024 */
  int64_t max_metadata_size;           /* bytes of headers (or trailers) we accept; default 1 MiB */
  int64_t send_queue_bytes; /* cf_call_send blocks above this many queued bytes (16 MiB) */
  int send_queue_messages;  /* ... or this many queued messages (64) */
  size_t read_buffer_max;   /* largest read buffer, default 16 MiB */
  /* Received bytes a connection may hold that its calls' readers have not
   * taken, beyond which the connection window stops reopening (default 1
   * GiB; 0: no limit). Bounds what one peer can make us buffer through many
   * streams; a reader that waits on one stream while more than this sits
   * unread in others on the same connection would wait forever. */
  int64_t max_connection_buffer;
  char *user_agent;                /* client: prepended to the transport's user-agent */
  char *authority;                 /* client: :authority instead of host:port */
  cf_tls_client_config tls_client; /* grpc+tls client */
  cf_tls_server_config tls_server; /* grpc+tls server */
} cf_transport_options;

void cf_transport_options_init(cf_transport_options *o);
/* Sets a generic option by name: the transport's own names (the field names
 * above, plus tls_root_certs, tls_cert_chain, tls_private_key,
 * tls_override_hostname, tls_disable_verification, tls_verify_client,
 * tls_client_root_certs) and the gRPC channel-argument names that mean the
 * same: grpc.max_receive_message_length, grpc.max_send_message_length,
 * grpc.http2.max_frame_size, grpc.http2.lookahead_bytes (stream_window),
 * grpc.keepalive_time_ms (INT_MAX = off), grpc.keepalive_timeout_ms,
 * grpc.keepalive_permit_without_calls, grpc.max_concurrent_streams,
 * grpc.max_metadata_size, grpc.primary_user_agent, grpc.default_authority,
 * grpc.ssl_target_name_override. CFLIGHT_INVALID_ARGUMENT for an unknown
 * name or a bad value. */
int cf_transport_options_set(cf_transport_options *o, const char *name, const char *value,
                             cflight_error *err);
int cf_transport_options_copy(const cf_transport_options *src, cf_transport_options *dst,
                              cflight_error *err);
void cf_transport_options_reset(cf_transport_options *o);

/* ---- Calls (both sides) ----------------------------------------------------------- */

typedef struct cf_call cf_call;

/* Sends one message. Blocks while the call already has send_queue_messages
 * or send_queue_bytes queued and not yet written (backpressure; a single
 * message always fits), until the queue is half empty. out->done is called
 * in every case, also on failure. end_stream half-closes after it on the
 * client; on the server it says that cf_call_respond comes next (a unary
 * response): the message then waits for the status, so that response
 * headers, message and trailers leave in one write. Fails with the
 * call's status once it ended (CANCELLED, DEADLINE_EXCEEDED, the server's
 * error...); FAILED_PRECONDITION after the send side was closed (or, on the
 * server, after cf_call_respond); RESOURCE_EXHAUSTED for a message above 4
 * GiB - 1 (the call goes on) or above max_send_message_size (the call is
 * cancelled with that status, as gRPC does). */
int cf_call_send(cf_call *call, const cf_out_msg *out, bool end_stream, cflight_error *err);

/* Half-closes the sending side (client: no more requests; a no-op on the
 * server and on a call that already ended). */
int cf_call_close_send(cf_call *call, cflight_error *err);

/* Receives the next message. Returns CFLIGHT_OK with *more = true and *out
 * filled (overwritten: the caller owns it and resets it), or CFLIGHT_OK with
 * *more = false at the end of the peer's messages, or an error (the call's
 * status on the client side: the server's error after its messages,
 * DEADLINE_EXCEEDED, CANCELLED, UNAVAILABLE when the connection dropped, at
 * once; on the server: CANCELLED when the client reset the stream or went
 * away, DEADLINE_EXCEEDED, or the error the transport answered the client
 * with, e.g. UNIMPLEMENTED for a compressed message). Receiving a message
 * returns its bytes to the stream's flow-control window (the connection
 * window is returned as bytes arrive, so that one slow stream cannot stall
 * the others); a message larger than a quarter of the window is returned as
 * it arrives while nothing else waits for the reader. */
int cf_call_recv(cf_call *call, cf_msg *out, bool *more, cflight_error *err);

/* Cancels the call (RST_STREAM CANCEL): both sides' pending and later
 * operations fail with CFLIGHT_CANCELLED. Callable from any thread, also
 * from loop threads (e.g. in a done callback); idempotent. */
void cf_call_cancel(cf_call *call);
/* True once the call was cancelled (by either side), its deadline passed, or
 * (server) the client went away or the transport ended it with an error. */
bool cf_call_is_cancelled(const cf_call *call);

/* ---- Client side ----------------------------------------------------------------- */

typedef struct cf_channel cf_channel;

/* Connects lazily: the connection is made by the first call (and remade
 * after it drops or after a GOAWAY, while calls in flight finish on the old
 * one). Calls fail fast: a call started while the connection cannot be made
 * fails with UNAVAILABLE (address and errno text in the message). The
 * options are copied. */
int cf_channel_new(const cf_address *addr, const cf_transport_options *opts, cf_channel **out,
                   cflight_error *err);
/* Connects if needed and blocks until connected: TCP (or Unix), TLS, and the
 * server's HTTP/2 SETTINGS received (or deadline_ns, a cf_now_ns() time,
 * passes: then DEADLINE_EXCEEDED; 0 waits for the attempt to end; a refused
 * connection is UNAVAILABLE). */
int cf_channel_wait_ready(cf_channel *ch, int64_t deadline_ns, cflight_error *err);
/* Cancels every call still open and closes the connection. Calls the user
 * still holds stay valid (their operations fail with CANCELLED) and must
 * still be freed with cf_call_free. */
void cf_channel_free(cf_channel *ch);

/* Starts a call: sends the request headers (path like
 * "/arrow.flight.protocol.FlightService/DoGet", the extra headers, and
 * grpc-timeout when deadline_ns > 0, plus a local timer: at the deadline the
 * call fails with DEADLINE_EXCEEDED and the stream is reset with CANCEL).
 * Does not block: connecting happens on the loop thread, and errors show in
 * the call's status. A channel carries any number of concurrent calls from
 * any number of threads. INVALID_ARGUMENT for bad or reserved metadata. */
int cf_channel_start_call(cf_channel *ch, const char *path, const cf_metadata *headers,
                          int64_t deadline_ns, cf_call **out, cflight_error *err);

/* Blocks until the server's initial headers (or a trailers-only response)
 * arrived; *out points into the call and lives as long as it. A
 * trailers-only response gives CFLIGHT_OK and empty headers (its metadata
 * are the trailers); a call that ended without any response (cancelled,
 * deadline, connection failure) gives its status as the error. */
int cf_call_response_headers(cf_call *call, const cf_metadata **out, cflight_error *err);

/* Blocks until the call ends and gives its status and trailers (client side;
 * out may be NULL). Messages not yet received are dropped (their window is
 * returned), so that a call whose reader stopped early can still end.
 * Returns the status code. */
int cf_call_finish(cf_call *call, cf_status *out);

/* Frees the call; cancels it first if it has not ended. */
void cf_call_free(cf_call *call);

/* ---- Server side ----------------------------------------------------------------- */

typedef struct cf_server cf_server;

/* The incoming call, on a worker thread. The handler owns the call: it must
 * end it with cf_call_respond and then cf_call_free (freeing it without a
 * response sends UNKNOWN). Workers are made on demand up to
 * worker_threads_max and reused, so a blocked handler never holds up
 * another call until that many are busy. Requests that are not gRPC never
 * reach the handler: a non-POST gets HTTP 405, a content-type other than
 * application/grpc[+...] HTTP 415. */
typedef void (*cf_call_handler)(void *ctx, cf_call *call);

int cf_server_new(const cf_transport_options *opts, cf_call_handler handler, void *ctx,
                  cf_server **out, cflight_error *err);
/* Listens on addr (several listens per server are allowed); a host name is
 * bound on every address it resolves to (e.g. ::1 and 127.0.0.1 for
 * localhost, on the same port). *bound_port gets the port actually bound
 * (for port 0). Starts serving at once. A grpc+tls address needs
 * opts->tls_server.pairs. */
int cf_server_listen(cf_server *srv, const cf_address *addr, int *bound_port, cflight_error *err);
/* Graceful shutdown: stop accepting, send GOAWAY (a first one with the
 * largest stream id, the final one a ping later), let calls in flight finish
 * until deadline_ns (0: wait for all), then cancel the rest (their handlers
 * see CANCELLED) and close the connections. Does not wait. */
void cf_server_shutdown(cf_server *srv, int64_t deadline_ns);
/* Blocks until the server has shut down: cf_server_shutdown was called,
 * every connection is closed and every handler has freed its call. */
void cf_server_wait(cf_server *srv);
/* Shuts down at once if that was not asked for, waits, frees. */
void cf_server_free(cf_server *srv);

/* What a server handler knows of its call. */
const char *cf_call_method(const cf_call *call); /* the :path */
/* The request metadata (user-agent included; reserved keys excluded). */
const cf_metadata *cf_call_request_headers(const cf_call *call);
int64_t cf_call_deadline(const cf_call *call); /* cf_now_ns() time, 0 = none */
const char *cf_call_peer(
    const cf_call *call); /* "ipv4:127.0.0.1:5000", "ipv6:[::1]:5000", "unix:/path" */
/* TLS peer certificate (PEM) and its subject (RFC 2253 text); NULL without one. */
const char *cf_call_peer_cert_pem(const cf_call *call);
const char *cf_call_peer_cert_subject(const cf_call *call);

/* Sends the response headers now (otherwise they go with the first message
 * or become a trailers-only response). Adds content-type etc. itself. Once,
 * before any message; FAILED_PRECONDITION otherwise. */
int cf_call_send_headers(cf_call *call, const cf_metadata *headers, cflight_error *err);
/* Ends the call with a status (error->code 0 = OK; codes above 16 travel as
 * cflight_code_to_grpc says; message and extra_info become grpc-message and
 * grpc-status-details-bin) and trailers, after the messages already queued.
 * Does not block. When the call had already ended (cancelled, deadline,
 * client gone) nothing is sent and the call's end code is returned;
 * FAILED_PRECONDITION on a second call. */
int cf_call_respond(cf_call *call, const cflight_error *status, const cf_metadata *trailers,
                    cflight_error *err);

#endif /* CF_TRANSPORT_H */
