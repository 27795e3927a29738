/* The Flight server: pyarrow.flight.FlightServerBase, in C. A server is a
 * table of handler callbacks plus user data; handlers left NULL answer
 * CFLIGHT_UNIMPLEMENTED. Handlers run on worker threads, several at once,
 * and report failure by returning a code with err filled (the message and
 * err->extra_info reach the client).
 * Include <cflight.h>, not this file. */
#ifndef CFLIGHT_SERVER_H
#define CFLIGHT_SERVER_H

#include "cflight/abi.h"
#include "cflight/client.h"
#include "cflight/common.h"
#include "cflight/flight.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The call context ---------------------------------------------------------- */

typedef struct cflight_call_context cflight_call_context;

/* The client's address: "ipv4:127.0.0.1:50000", "ipv6:[::1]:50000", "unix:/path". */
CFLIGHT_API const char *cflight_call_context_peer(const cflight_call_context *ctx);
/* Who the client is: what the auth handler's token check returned, else the
 * subject of the mutual-TLS client certificate, else "". */
CFLIGHT_API const char *cflight_call_context_peer_identity(const cflight_call_context *ctx);
/* The Flight method: "DoGet", "ListFlights", ... */
CFLIGHT_API const char *cflight_call_context_method(const cflight_call_context *ctx);
/* The request headers. */
CFLIGHT_API const cflight_headers *cflight_call_context_headers(const cflight_call_context *ctx);
/* Whether the client cancelled the call, disconnected, or its deadline passed. */
CFLIGHT_API bool cflight_call_context_is_cancelled(const cflight_call_context *ctx);
/* Seconds until the call's deadline, or a negative number when it has none. */
CFLIGHT_API double cflight_call_context_time_remaining(const cflight_call_context *ctx);
/* Adds a response header (before the first response message) or trailer. */
CFLIGHT_API int cflight_call_context_add_header(cflight_call_context *ctx, const char *key,
                                                const void *value, size_t size, cflight_error *err);
CFLIGHT_API int cflight_call_context_add_trailer(cflight_call_context *ctx, const char *key,
                                                 const void *value, size_t size,
                                                 cflight_error *err);
/* The instance that the server middleware registered under `key` made for
 * this call, or NULL. */
CFLIGHT_API void *cflight_call_context_middleware(const cflight_call_context *ctx, const char *key);

/* ---- What handlers write to ------------------------------------------------------ */

/* The server side of a stream of protobuf results: ListFlights' FlightInfos,
 * DoAction's Results, ListActions' ActionTypes. */
typedef struct cflight_result_writer cflight_result_writer;
CFLIGHT_API int cflight_result_writer_write_info(cflight_result_writer *w,
                                                 const cflight_flight_info *info,
                                                 cflight_error *err);
CFLIGHT_API int cflight_result_writer_write_result(cflight_result_writer *w, const void *body,
                                                   size_t size, cflight_error *err);
CFLIGHT_API int cflight_result_writer_write_action_type(cflight_result_writer *w, const char *type,
                                                        const char *description,
                                                        cflight_error *err);

/* The results of the Flight specification's actions (see client.h), each
 * written as one Result whose body is the message's encoding. */
CFLIGHT_API int cflight_result_writer_write_cancel_flight_info_result(
    cflight_result_writer *w, const cflight_cancel_flight_info_result *r, cflight_error *err);
/* RenewFlightEndpoint's result: the renewed endpoint. */
CFLIGHT_API int cflight_result_writer_write_endpoint(cflight_result_writer *w,
                                                     const cflight_endpoint *e, cflight_error *err);
CFLIGHT_API int cflight_result_writer_write_set_session_options_result(
    cflight_result_writer *w, const cflight_set_session_options_result *r, cflight_error *err);
CFLIGHT_API int cflight_result_writer_write_get_session_options_result(
    cflight_result_writer *w, const cflight_get_session_options_result *r, cflight_error *err);
CFLIGHT_API int cflight_result_writer_write_close_session_result(
    cflight_result_writer *w, const cflight_close_session_result *r, cflight_error *err);

/* The request of a well-known action, decoded from its body (the caller
 * owns *out). CFLIGHT_INVALID_ARGUMENT when the action has another type,
 * CFLIGHT_INVALID_DATA when the body does not parse. */
CFLIGHT_API int cflight_action_decode_cancel_flight_info_request(
    const cflight_action *action, cflight_cancel_flight_info_request **out, cflight_error *err);
CFLIGHT_API int cflight_action_decode_renew_flight_endpoint_request(
    const cflight_action *action, cflight_renew_flight_endpoint_request **out, cflight_error *err);
CFLIGHT_API int cflight_action_decode_set_session_options_request(
    const cflight_action *action, cflight_set_session_options_request **out, cflight_error *err);
CFLIGHT_API int cflight_action_decode_get_session_options_request(
    const cflight_action *action, cflight_get_session_options_request **out, cflight_error *err);
CFLIGHT_API int cflight_action_decode_close_session_request(const cflight_action *action,
                                                            cflight_close_session_request **out,
                                                            cflight_error *err);

/* DoPut's PutResult messages. */
typedef struct cflight_metadata_writer cflight_metadata_writer;
CFLIGHT_API int cflight_metadata_writer_write(cflight_metadata_writer *w, const void *data,
                                              size_t size, cflight_error *err);

/* What a DoGet handler returns: the data to stream back. */
typedef struct cflight_data_stream cflight_data_stream;

/* A data stream from an ArrowArrayStream (taken over: moved). */
CFLIGHT_API cflight_data_stream *cflight_data_stream_new(struct ArrowArrayStream *stream);

/* A data stream from a generator: next(ctx, out, err) fills the next chunk
 * (a batch and/or app_metadata; leave both empty at the end). schema is
 * copied; free_ctx(ctx) runs when the stream is done (may be NULL). */
typedef int (*cflight_chunk_fn)(void *ctx, cflight_chunk *out, cflight_error *err);
CFLIGHT_API cflight_data_stream *cflight_data_stream_new_generator(const struct ArrowSchema *schema,
                                                                   cflight_chunk_fn next,
                                                                   void (*free_ctx)(void *ctx),
                                                                   void *ctx);
/* IPC write options (compression, dictionary ids, ...) for this stream
 * alone, instead of the server's (cflight_server_options_set_ipc_options);
 * copied; NULL: the server's again. */
CFLIGHT_API int cflight_data_stream_set_ipc_options(cflight_data_stream *s,
                                                    const cflight_ipc_options *ipc,
                                                    cflight_error *err);
/* For a DoGet handler that fails after making a stream. */
CFLIGHT_API void cflight_data_stream_free(cflight_data_stream *s);

/* The server side of a Handshake, for a handshake handler. */
typedef struct cflight_auth_stream cflight_auth_stream;

/* ---- The handler table ------------------------------------------------------------ */

typedef struct cflight_server_handlers {
  int (*list_flights)(void *user, cflight_call_context *ctx, const void *criteria,
                      size_t criteria_size, cflight_result_writer *out, cflight_error *err);
  /* Sets *out (the server takes it). */
  int (*get_flight_info)(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                         cflight_flight_info **out, cflight_error *err);
  int (*poll_flight_info)(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                          cflight_poll_info **out, cflight_error *err);
  /* Fills *out (the server takes it). */
  int (*get_schema)(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                    struct ArrowSchema *out, cflight_error *err);
  /* Sets *out (the server takes it and streams it). */
  int (*do_get)(void *user, cflight_call_context *ctx, const cflight_ticket *t,
                cflight_data_stream **out, cflight_error *err);
  /* Reads the client's batches from `reader`; may acknowledge through `writer`. */
  int (*do_put)(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                cflight_stream_reader *reader, cflight_metadata_writer *writer, cflight_error *err);
  int (*do_exchange)(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                     cflight_stream_reader *reader, cflight_stream_writer *writer,
                     cflight_error *err);
  int (*list_actions)(void *user, cflight_call_context *ctx, cflight_result_writer *out,
                      cflight_error *err);
  int (*do_action)(void *user, cflight_call_context *ctx, const cflight_action *action,
                   cflight_result_writer *out, cflight_error *err);
  /* A custom Handshake; used when no auth handler is set. */
  int (*handshake)(void *user, cflight_call_context *ctx, cflight_auth_stream *stream,
                   cflight_error *err);
} cflight_server_handlers;

/* ---- Server authentication and middleware ----------------------------------------- */

/* A server-side authenticator, as pyarrow's ServerAuthHandler. */
typedef struct cflight_server_auth_handler cflight_server_auth_handler;

typedef struct cflight_server_auth_callbacks {
  /* Runs the Handshake through `stream`, writing the token to the client. */
  int (*authenticate)(void *ctx, cflight_auth_stream *stream, cflight_error *err);
  /* Checks the token of a later call (NULL when the client sent none) and
   * sets *identity (malloc'd, freed by the server) or fails with
   * CFLIGHT_UNAUTHENTICATED. */
  int (*is_valid)(void *ctx, const uint8_t *token, size_t token_size, char **identity,
                  cflight_error *err);
  void (*free_ctx)(void *ctx);
} cflight_server_auth_callbacks;

CFLIGHT_API cflight_server_auth_handler *cflight_server_auth_handler_new(
    const cflight_server_auth_callbacks *callbacks, void *ctx);

/* Ready-made: BasicAuth handshakes checked by check(ctx, user, password),
 * which returns true to accept. Tokens carry the identity signed with
 * HMAC-SHA256 under a random key of this handler: nothing is stored per
 * login, and tokens stay valid for the handler's life. */
typedef bool (*cflight_password_check_fn)(void *ctx, const char *username, const char *password);
CFLIGHT_API cflight_server_auth_handler *cflight_server_auth_handler_new_basic(
    cflight_password_check_fn check, void *ctx);

/* Ready-made header authentication, as Arrow's basic/bearer token scheme:
 * a Handshake carrying "authorization: Basic <base64 user:password>" is
 * checked with check() and answered with "authorization: Bearer <token>";
 * every later call must carry that bearer token. */
CFLIGHT_API cflight_server_auth_handler *cflight_server_auth_handler_new_bearer(
    cflight_password_check_fn check, void *ctx);

CFLIGHT_API void cflight_server_auth_handler_free(cflight_server_auth_handler *h);

typedef struct cflight_server_middleware_factory cflight_server_middleware_factory;

typedef struct cflight_server_middleware_callbacks {
  /* Called before the handler with the request headers; sets *instance (NULL:
   * none for this call), or returns an error to reject the call with it. */
  int (*start_call)(void *factory_ctx, const cflight_call_info *info,
                    const cflight_headers *incoming, void **instance, cflight_error *err);
  /* Adds response headers. */
  void (*sending_headers)(void *instance, cflight_headers *outgoing);
  /* The call ended with `status`; frees instance. */
  void (*call_completed)(void *instance, const cflight_error *status);
  void (*free_factory_ctx)(void *factory_ctx);
} cflight_server_middleware_callbacks;

CFLIGHT_API cflight_server_middleware_factory *cflight_server_middleware_factory_new(
    const cflight_server_middleware_callbacks *callbacks, void *factory_ctx);
/* The built-in access log: one line per call (method, peer, status,
 * duration) to `out` (a FILE *; NULL means stderr). */
CFLIGHT_API cflight_server_middleware_factory *cflight_server_log_middleware_new(void *out);
CFLIGHT_API void cflight_server_middleware_factory_free(cflight_server_middleware_factory *f);

/* ---- Server options ----------------------------------------------------------------- */

typedef struct cflight_server_options cflight_server_options;

CFLIGHT_API cflight_server_options *cflight_server_options_new(void);
CFLIGHT_API void cflight_server_options_free(cflight_server_options *o);

/* TLS for grpc+tls:// locations: a certificate chain and key (PEM, copied).
 * Add several to choose by SNI; the first is the default. */
CFLIGHT_API int cflight_server_options_add_tls_certificate(cflight_server_options *o,
                                                           const char *cert_chain_pem,
                                                           const char *private_key_pem,
                                                           cflight_error *err);
/* Mutual TLS: require a client certificate signed by one of root_certs_pem. */
CFLIGHT_API int cflight_server_options_set_verify_client(cflight_server_options *o, bool verify,
                                                         const char *root_certs_pem,
                                                         cflight_error *err);
/* The auth handler (the options take it over). */
CFLIGHT_API void cflight_server_options_set_auth_handler(cflight_server_options *o,
                                                         cflight_server_auth_handler *h);
/* Adds middleware under `key` (the options take the factory over). */
CFLIGHT_API int cflight_server_options_add_middleware(cflight_server_options *o, const char *key,
                                                      cflight_server_middleware_factory *f,
                                                      cflight_error *err);
/* Most handler threads at once (default 256). */
CFLIGHT_API void cflight_server_options_set_max_threads(cflight_server_options *o, int n);
/* IPC write options (compression, dictionary ids, ...; copied; NULL: the
 * defaults) for every stream the server writes: DoGet data streams and
 * the DoExchange writers handed to handlers. A handler overrides them for
 * one stream with cflight_data_stream_set_ipc_options or
 * cflight_stream_writer_set_ipc_options. */
CFLIGHT_API int cflight_server_options_set_ipc_options(cflight_server_options *o,
                                                       const cflight_ipc_options *ipc,
                                                       cflight_error *err);
/* A transport option by name (see cflight_client_options_set_generic). */
CFLIGHT_API int cflight_server_options_set_generic(cflight_server_options *o, const char *name,
                                                   const char *value, cflight_error *err);

/* ---- The server ----------------------------------------------------------------------- */

typedef struct cflight_server cflight_server;

/* Creates a server and starts listening on `location` (port 0 picks a free
 * port). handlers is copied (handlers_size = sizeof(cflight_server_handlers),
 * so that later versions can add handlers); user is passed to every handler.
 * opts may be NULL (copied). Calls are served from now on. */
CFLIGHT_API int cflight_server_new(const char *location, const cflight_server_handlers *handlers,
                                   size_t handlers_size, void *user,
                                   const cflight_server_options *opts, cflight_server **out,
                                   cflight_error *err);
/* Listens on one more location. */
CFLIGHT_API int cflight_server_add_location(cflight_server *s, const char *location,
                                            cflight_error *err);
/* The port of the first TCP location (the chosen one for port 0). */
CFLIGHT_API int cflight_server_port(const cflight_server *s);
/* The location URI of listener i ("grpc://127.0.0.1:5000"), owned by the server. */
CFLIGHT_API const char *cflight_server_location(const cflight_server *s, size_t i);

/* Blocks until the server is shut down. */
CFLIGHT_API void cflight_server_wait(cflight_server *s);
/* Stops accepting calls; calls in flight may finish for up to
 * grace_seconds (< 0: as long as they take), then are cancelled. Returns
 * when all are done. Callable from any thread; from a handler it only
 * starts the shutdown and returns at once. */
CFLIGHT_API void cflight_server_shutdown(cflight_server *s, double grace_seconds);
/* Shuts down (if needed) and frees the server. */
CFLIGHT_API void cflight_server_free(cflight_server *s);

#ifdef __cplusplus
}
#endif

#endif /* CFLIGHT_SERVER_H */
