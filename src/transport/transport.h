/* The transport: gRPC calls over HTTP/2 (nghttp2), on libuv event-loop
 * threads, over TCP, Unix sockets or TLS (OpenSSL). The layer above (the
 * Flight client and server in src/rpc) sees only this file: calls that carry
 * length-prefixed gRPC messages, metadata and a final status. It knows
 * nothing of Flight or Arrow, so another transport (shared memory, say) can
 * stand behind the same interface.
 *
 * Threads: each channel and each server runs its own loop thread(s). Every
 * function here except where noted is called from user threads (client code,
 * server handlers) and may block; none may be called on a loop thread.
 * Server handlers run on a worker pool, never on a loop thread. */
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
 * "grpc+unix:///path/to/socket" (also "unix:" forms). IPv6 hosts in
 * brackets. CFLIGHT_INVALID_ARGUMENT with the reason otherwise. */
int cf_address_parse(const char *uri, cf_address *out, cflight_error *err);

/* ---- Metadata (headers and trailers) --------------------------------------
 * Keys are lower-case. Values of keys ending in "-bin" are binary and travel
 * base64-encoded; here they are always the raw bytes. */

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
 * message that lies inside one read buffer is one slice. */

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
 * that the transport writes. done(ctx) is called (on a loop thread) once the
 * pieces are no longer needed: written, or the call failed. */
typedef struct cf_out_msg {
  const cflight_ipc_piece *pieces;
  size_t n_pieces;
  void (*done)(void *ctx);
  void *ctx;
} cf_out_msg;

/* ---- Status ----------------------------------------------------------------- */

/* A call's final status: code (gRPC 0..16), message, details
 * (grpc-status-details-bin) in an error struct, and the trailers. */
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
  char *override_hostname;   /* name to verify and send as SNI instead of the host */
  bool disable_verification; /* insecure: accept any server certificate */
} cf_tls_client_config;

typedef struct cf_tls_cert_pair {
  char *cert_chain_pem;
  char *private_key_pem;
} cf_tls_cert_pair;

typedef struct cf_tls_server_config {
  cf_tls_cert_pair *pairs; /* the first is the default; others chosen by SNI */
  size_t n_pairs;
  bool verify_client; /* require and verify a client certificate */
  char *client_root_certs_pem;
} cf_tls_server_config;

/* ---- Options ------------------------------------------------------------------ */

typedef struct cf_transport_options {
  int64_t max_recv_message_size; /* -1: no limit (default) */
  int64_t max_send_message_size; /* -1: no limit (default) */
  uint32_t max_frame_size;       /* HTTP/2 SETTINGS_MAX_FRAME_SIZE we accept; default 16 MiB - 1 */
  uint32_t stream_window;        /* per-stream flow-control window; default large (e.g. 32 MiB) */
  uint32_t connection_window;    /* default larger (e.g. 128 MiB) */
  int64_t keepalive_time_ms;     /* 0: no keepalive pings */
  int64_t keepalive_timeout_ms;
  int64_t connect_timeout_ms;      /* client; default 20 s */
  int worker_threads_max;          /* server: most handler threads at once */
  cf_tls_client_config tls_client; /* grpc+tls client */
  cf_tls_server_config tls_server; /* grpc+tls server */
} cf_transport_options;

void cf_transport_options_init(cf_transport_options *o);
/* Sets a generic option by name: the transport's own names and the common
 * gRPC channel-argument names where they mean the same
 * ("grpc.max_receive_message_length", "grpc.keepalive_time_ms", ...).
 * CFLIGHT_INVALID_ARGUMENT for an unknown name or a bad value. */
int cf_transport_options_set(cf_transport_options *o, const char *name, const char *value,
                             cflight_error *err);
int cf_transport_options_copy(const cf_transport_options *src, cf_transport_options *dst,
                              cflight_error *err);
void cf_transport_options_reset(cf_transport_options *o);

/* ---- Calls (both sides) ----------------------------------------------------------- */

typedef struct cf_call cf_call;

/* Sends one message. Blocks while the call already has a few messages or
 * more than a few MiB queued and not yet written (backpressure). out->done
 * is called in every case, also on failure. end_stream half-closes after it. */
int cf_call_send(cf_call *call, const cf_out_msg *out, bool end_stream, cflight_error *err);

/* Half-closes the sending side (client: no more requests). */
int cf_call_close_send(cf_call *call, cflight_error *err);

/* Receives the next message. Returns CFLIGHT_OK with *more = true and *out
 * filled, or CFLIGHT_OK with *more = false at the end of the peer's
 * messages, or an error (the call's status on the client side: the server's
 * error, DEADLINE_EXCEEDED, CANCELLED, UNAVAILABLE when the connection
 * dropped). Receiving a message returns its bytes to the flow-control window. */
int cf_call_recv(cf_call *call, cf_msg *out, bool *more, cflight_error *err);

/* Cancels the call (RST_STREAM CANCEL): both sides' pending and later
 * operations fail with CFLIGHT_CANCELLED. Callable from any thread, also
 * from loop threads; idempotent. */
void cf_call_cancel(cf_call *call);
bool cf_call_is_cancelled(const cf_call *call);

/* ---- Client side ----------------------------------------------------------------- */

typedef struct cf_channel cf_channel;

/* Connects lazily: the connection is made by the first call (and remade
 * after it drops). */
int cf_channel_new(const cf_address *addr, const cf_transport_options *opts, cf_channel **out,
                   cflight_error *err);
/* Blocks until connected (or deadline_ns, a cf_now_ns() time, passes: then
 * DEADLINE_EXCEEDED; a refused connection is UNAVAILABLE). */
int cf_channel_wait_ready(cf_channel *ch, int64_t deadline_ns, cflight_error *err);
/* Cancels every call still open and closes the connection. */
void cf_channel_free(cf_channel *ch);

/* Starts a call: sends the request headers (path like
 * "/arrow.flight.protocol.FlightService/DoGet", the extra headers, and
 * grpc-timeout when deadline_ns > 0). A channel carries any number of
 * concurrent calls from any number of threads. */
int cf_channel_start_call(cf_channel *ch, const char *path, const cf_metadata *headers,
                          int64_t deadline_ns, cf_call **out, cflight_error *err);

/* Blocks until the server's initial headers (or a trailers-only response)
 * arrived; *out points into the call and lives as long as it. */
int cf_call_response_headers(cf_call *call, const cf_metadata **out, cflight_error *err);

/* Blocks until the call ends and gives its status and trailers (client side). */
int cf_call_finish(cf_call *call, cf_status *out);

/* Frees the call; cancels it first if it has not ended. */
void cf_call_free(cf_call *call);

/* ---- Server side ----------------------------------------------------------------- */

typedef struct cf_server cf_server;

/* The incoming call, on a worker thread. The handler owns the call: it must
 * end it with cf_call_respond and then cf_call_free. */
typedef void (*cf_call_handler)(void *ctx, cf_call *call);

int cf_server_new(const cf_transport_options *opts, cf_call_handler handler, void *ctx,
                  cf_server **out, cflight_error *err);
/* Listens on addr (several listens per server are allowed); *bound_port gets
 * the port actually bound (for port 0). Starts serving at once. */
int cf_server_listen(cf_server *srv, const cf_address *addr, int *bound_port, cflight_error *err);
/* Graceful shutdown: stop accepting, send GOAWAY, let calls in flight finish
 * until deadline_ns (0: wait for all), then cancel the rest. */
void cf_server_shutdown(cf_server *srv, int64_t deadline_ns);
/* Blocks until the server has shut down. */
void cf_server_wait(cf_server *srv);
void cf_server_free(cf_server *srv);

/* What a server handler knows of its call. */
const char *cf_call_method(const cf_call *call); /* the :path */
const cf_metadata *cf_call_request_headers(const cf_call *call);
int64_t cf_call_deadline(const cf_call *call); /* cf_now_ns() time, 0 = none */
const char *cf_call_peer(
    const cf_call *call); /* "ipv4:127.0.0.1:5000", "ipv6:[::1]:5000", "unix:/path" */
/* TLS peer certificate (PEM) and its subject (RFC 2253 text); NULL without one. */
const char *cf_call_peer_cert_pem(const cf_call *call);
const char *cf_call_peer_cert_subject(const cf_call *call);

/* Sends the response headers now (otherwise they go with the first message
 * or become a trailers-only response). Adds content-type etc. itself. */
int cf_call_send_headers(cf_call *call, const cf_metadata *headers, cflight_error *err);
/* Ends the call with a status (error->code 0 = OK; message and extra_info
 * become grpc-message and grpc-status-details-bin) and trailers. */
int cf_call_respond(cf_call *call, const cflight_error *status, const cf_metadata *trailers,
                    cflight_error *err);

#endif /* CF_TRANSPORT_H */
