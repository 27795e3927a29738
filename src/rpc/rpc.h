/* The rpc layer's internals: the Flight client and server of
 * include/cflight/client.h and server.h, on the transport's calls.
 *
 * Shape of the layer:
 * - client.c: the client, its options and every client call; a client call
 *   is a cf_ccall (the transport call plus its middleware instances),
 *   shared by the readers and writers of a streaming call.
 * - server.c: the server, the call context and the per-method dispatch.
 * - stream_reader.c / stream_writer.c: FlightData streams, both sides.
 * - headers.c, call_options.c, auth.c, middleware.c, actions.c. */
#ifndef CF_RPC_H
#define CF_RPC_H

#include <pthread.h>
#include <stdatomic.h>

#include "arrow/arrow.h"
#include "flight/flight_data.h"
#include "flight/flight_pb.h"
#include "transport/transport.h"

/* ---- Methods --------------------------------------------------------------------------------- */

typedef enum cf_method {
  CF_M_HANDSHAKE = 0,
  CF_M_LIST_FLIGHTS,
  CF_M_GET_FLIGHT_INFO,
  CF_M_POLL_FLIGHT_INFO,
  CF_M_GET_SCHEMA,
  CF_M_DO_GET,
  CF_M_DO_PUT,
  CF_M_DO_EXCHANGE,
  CF_M_DO_ACTION,
  CF_M_LIST_ACTIONS,
  CF_M_COUNT
} cf_method;

/* "DoGet", ... */
const char *cf_method_name(cf_method m);
/* "/arrow.flight.protocol.FlightService/DoGet", ... */
const char *cf_method_path(cf_method m);
/* The method of a request path, or -1. */
int cf_method_from_path(const char *path);

/* ---- Errors ---------------------------------------------------------------------------------- */

/* Copies code, message and extra_info of src into dst (dst may be NULL;
 * its old extra_info is dropped). Returns src->code. */
int cf_error_copy(cflight_error *dst, const cflight_error *src);

/* ---- Headers --------------------------------------------------------------------------------- */

/* cflight_headers is a cf_metadata: a transport header list can be handed
 * to users as a const cflight_headers without a copy. */
struct cflight_headers {
  cf_metadata md;
};

static inline const cflight_headers *cf_headers_view(const cf_metadata *md) {
  return (const cflight_headers *)md;
}

/* Checks a header and adds it with its key lower-cased: keys are tokens
 * of lower-case letters, digits and "-_.", values of keys not ending in
 * "-bin" printable ASCII. */
int cf_headers_add_checked(cf_metadata *md, const char *key, const void *value, size_t size,
                           cflight_error *err);

/* ---- Call info and options ------------------------------------------------------------------- */

struct cflight_call_info {
  cf_method method;
  const char *peer; /* server side; NULL on the client */
};

struct cflight_call_options {
  double timeout;
  cf_metadata headers;
  cflight_ipc_options *ipc; /* NULL: the defaults */
};

/* ---- Middleware ------------------------------------------------------------------------------ */

struct cflight_client_middleware_factory {
  atomic_int refs;
  cflight_client_middleware_callbacks cb;
  void *ctx;
};

struct cflight_server_middleware_factory {
  atomic_int refs;
  cflight_server_middleware_callbacks cb;
  void *ctx;
};

cflight_client_middleware_factory *cf_client_mw_ref(cflight_client_middleware_factory *f);
cflight_server_middleware_factory *cf_server_mw_ref(cflight_server_middleware_factory *f);

/* ---- Authentication -------------------------------------------------------------------------- */

#define CF_AUTH_TOKEN_HEADER "auth-token-bin"
#define CF_AUTHORIZATION_HEADER "authorization"

struct cflight_client_auth_handler {
  cflight_client_auth_callbacks cb;
  void *ctx;
};

typedef struct cf_token_store cf_token_store;

struct cflight_server_auth_handler {
  atomic_int refs;
  bool bearer; /* header authentication (Basic then Bearer) instead of callbacks */
  cflight_server_auth_callbacks cb;
  void *ctx;
  /* bearer: */
  cflight_password_check_fn check;
  void *check_ctx;
  cf_token_store *tokens;
};

cflight_server_auth_handler *cf_server_auth_ref(cflight_server_auth_handler *h);

/* The handshake stream, either side. */
struct cflight_auth_stream {
  cf_call *call;
  cflight_call_context *sctx; /* server side; NULL on the client */
  bool ended;
};

/* Server: checks a call's credentials before its handler runs; sets
 * *identity (malloc'd) on success. */
int cf_server_auth_check(cflight_server_auth_handler *h, const cf_metadata *headers,
                         char **identity, cflight_error *err);
/* Server: serves a Handshake call with the handler. */
int cf_server_auth_handshake(cflight_server_auth_handler *h, cflight_call_context *ctx,
                             cflight_auth_stream *stream, cflight_error *err);

/* base64 (standard alphabet, padded). Encoding returns a malloc'd string. */
char *cf_base64_encode_str(const void *data, size_t size);
/* Decodes into a malloc'd buffer (*out, NUL-terminated for convenience);
 * false on malformed input. */
bool cf_base64_decode_str(const char *s, size_t len, uint8_t **out, size_t *out_len);

/* ---- The client ------------------------------------------------------------------------------ */

struct cflight_client_options {
  cf_transport_options t;
  int64_t write_size_limit;
  cflight_client_middleware_factory **mw;
  size_t n_mw;
};

struct cflight_client {
  cf_channel *ch;
  char *location;
  int64_t write_size_limit;
  cflight_client_middleware_factory **mw;
  size_t n_mw;
  pthread_mutex_t mu; /* guards auth */
  cflight_client_auth_handler *auth;
};

/* One client call: the transport call and the middleware instances of the
 * call, shared (refcounted) by the objects of a streaming call. */
typedef struct cf_ccall {
  atomic_int refs;
  cflight_client *client;
  cf_method method;
  cf_call *call;
  cflight_ipc_options *ipc; /* the call options' (NULL: defaults) */
  cflight_call_info info;
  pthread_mutex_t mu; /* guards the flags below and the middleware callbacks */
  bool headers_seen;
  bool completed;
  size_t n_mw;
  void **mw_inst;
} cf_ccall;

/* Starts a call of method m with the call options (may be NULL). */
int cf_ccall_start(cflight_client *c, cf_method m, const cflight_call_options *opts, cf_ccall **out,
                   cflight_error *err);
cf_ccall *cf_ccall_ref(cf_ccall *cc);
/* Drops a reference; the last one ends the call (cancelling it if needed)
 * and completes the middleware. */
void cf_ccall_unref(cf_ccall *cc);
/* Hands the response headers to the middleware (once), after a response
 * message came. */
void cf_ccall_headers(cf_ccall *cc);
/* Reports the final status to the middleware (once), after the call has
 * ended; response headers not handed over yet go first (the trailers when
 * the answer was trailers-only). */
void cf_ccall_complete(cf_ccall *cc, const cflight_error *status);
/* Waits for the end of the call: its status into *st (and trailers), and
 * completes the middleware. Returns the status code. */
int cf_ccall_finish(cf_ccall *cc, cf_status *st);
/* For a failure seen while reading or writing: completes the middleware
 * with it when it is the call's status (the call ended). Returns rc. */
int cf_ccall_failed(cf_ccall *cc, int rc, const cflight_error *e);

/* ---- Server call context --------------------------------------------------------------------- */

typedef struct cf_mw_slot {
  const char *key;
  cflight_server_middleware_factory *f;
  void *inst;
} cf_mw_slot;

struct cflight_call_context {
  cflight_server *server;
  cf_call *call;
  cf_method method;
  cflight_call_info info;
  char *identity;
  pthread_mutex_t mu; /* guards the response headers and trailers */
  cf_metadata out_headers;
  cf_metadata out_trailers;
  bool headers_sent;
  cf_mw_slot *mw;
  size_t n_mw;
};

/* Sends the response headers (the context's and the middleware's) if not
 * sent yet: before the first message, or before the status. */
int cf_sctx_flush_headers(cflight_call_context *ctx, cflight_error *err);

/* Sends a message on a call: on the server (sctx != NULL) the response
 * headers go first. out->done runs in every case. */
int cf_rpc_send(cf_call *call, cflight_call_context *sctx, const cf_out_msg *out, bool end,
                cflight_error *err);

/* ---- Data streams ---------------------------------------------------------------------------- */

typedef enum cf_stream_kind {
  CF_STREAM_DO_GET,      /* client reading a DoGet */
  CF_STREAM_DO_PUT,      /* client writing (descriptor first) / server reading */
  CF_STREAM_DO_EXCHANGE, /* either side, both ways */
} cf_stream_kind;

/* A reader on call; cc (client, a reference is taken) or sctx (server).
 * first (may be NULL) is a message already received (the server's first
 * DoPut / DoExchange message, its descriptor taken out), moved in. */
int cf_stream_reader_new(cf_call *call, cf_ccall *cc, cflight_call_context *sctx,
                         cf_stream_kind kind, const cflight_ipc_options *ipc, cf_flight_data *first,
                         cflight_stream_reader **out, cflight_error *err);

/* Reads until the schema has come (metadata before it is kept for next):
 * DoGet does this before it returns, as Arrow does, so that a refused call
 * fails there. */
int cf_stream_reader_start(cflight_stream_reader *r, cflight_error *err);

/* A writer on call. Client: cc (a reference is taken), descriptor (copied;
 * NULL: none) rides on the first message; size_limit > 0 refuses larger
 * payloads. Server: sctx. */
int cf_stream_writer_new(cf_call *call, cf_ccall *cc, cflight_call_context *sctx,
                         const cflight_descriptor *descriptor, const cflight_ipc_options *ipc,
                         int64_t size_limit, cflight_stream_writer **out, cflight_error *err);

/* Sends a FlightData carrying only the writer's descriptor (DoExchange
 * opens with it so that the server's handler can start). */
int cf_stream_writer_send_descriptor(cflight_stream_writer *w, cflight_error *err);

/* Whether a send on the writer failed: the call is over (its status is what
 * close and the readers report). */
bool cf_stream_writer_failed(const cflight_stream_writer *w);

/* Encodes batch (moved in) with enc and queues its messages (dictionary
 * batches, then the record batch, which carries app_metadata: a reference,
 * moved in, NULL: none) on call without waiting for them to be written:
 * the messages hold the batch until the transport is done with them. With
 * size_limit > 0, a payload above it fails the write with
 * CFLIGHT_WRITE_SIZE_EXCEEDED before anything is sent, and *enc_stale is
 * set (the encoder believes it sent dictionaries it did not: the caller
 * starts a fresh one); *send_failed is set when the transport refused a
 * message (the call is over). Both may be NULL. batch and app_metadata
 * are released on failure. */
int cf_rpc_send_batch(cf_call *call, cflight_call_context *sctx, cflight_ipc_encoder *enc,
                      struct ArrowArray *batch, cflight_buffer *app_metadata, int64_t size_limit,
                      bool *enc_stale, bool *send_failed, cflight_error *err);

/* Client DoPut's PutResult reader on cc (a reference is taken). */
int cf_metadata_reader_new(cf_ccall *cc, cflight_metadata_reader **out, cflight_error *err);

/* ---- Server-side writers --------------------------------------------------------------------- */

struct cflight_result_writer {
  cf_call *call;
  cflight_call_context *ctx;
};

struct cflight_metadata_writer {
  cf_call *call;
  cflight_call_context *ctx;
};

/* Streams a DoGet handler's data stream (taken over) on the call. */
int cf_serve_data_stream(cflight_call_context *ctx, cflight_data_stream *ds, cflight_error *err);

/* True on a server worker thread while it runs a handler. */
bool cf_in_server_handler(void);

#endif /* CF_RPC_H */
