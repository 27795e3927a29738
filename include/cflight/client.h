/* The Flight client: pyarrow.flight.FlightClient's calls, in C.
 *
 * One client is one connection (made lazily, remade after a drop) that any
 * number of threads may use at once; each call is independent. Streams of
 * record batches are read and written through cflight_stream_reader and
 * cflight_stream_writer, which the server side uses too.
 * Include <cflight.h>, not this file. */
#ifndef CFLIGHT_CLIENT_H
#define CFLIGHT_CLIENT_H

#include "cflight/abi.h"
#include "cflight/common.h"
#include "cflight/flight.h"
#include "cflight/ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cflight_descriptor cflight_descriptor;
typedef struct cflight_ticket cflight_ticket;
typedef struct cflight_flight_info cflight_flight_info;
typedef struct cflight_poll_info cflight_poll_info;
typedef struct cflight_action cflight_action;
typedef struct cflight_action_type cflight_action_type;
typedef struct cflight_result cflight_result;

/* Frees memory that cflight allocated and handed to the caller as a plain
 * pointer (strings such as the header pair of authenticate_basic_token). */
CFLIGHT_API void cflight_free(void *p);

/* ---- Record batch streams (both sides) --------------------------------------- */

/* One element of a Flight data stream: a record batch, app_metadata, or both. */
typedef struct cflight_chunk {
  struct ArrowArray data;       /* released (release == NULL) when the chunk has no batch */
  cflight_buffer *app_metadata; /* NULL when the chunk has none; owned by the chunk */
} cflight_chunk;

/* Releases the batch and drops the metadata reference. */
CFLIGHT_API void cflight_chunk_release(cflight_chunk *chunk);

/* Reads a stream of FlightData: the client's DoGet and DoExchange, the
 * server's DoPut and DoExchange. Batches point into the received bytes. */
typedef struct cflight_stream_reader cflight_stream_reader;

/* A copy of the stream's schema; blocks until it arrives. A stream that
 * ended without one gives CFLIGHT_INVALID_DATA ("stream has no schema"); a
 * DoExchange whose peer sends only metadata gives CFLIGHT_FAILED_PRECONDITION. */
CFLIGHT_API int cflight_stream_reader_schema(cflight_stream_reader *r, struct ArrowSchema *out,
                                             cflight_error *err);

/* The dictionary ids of the stream's dictionary-encoded fields, in the
 * order cflight_ipc_options_set_dictionary_ids takes them (pre-order), so
 * that a server re-serving the stream can keep dictionaries that fields
 * share shared: writes up to cap of them to ids and returns their number
 * (call with cap 0 to learn it). Reads until the schema has come, as
 * cflight_stream_reader_schema does; -1 when the stream has none (it
 * failed or ended without one: cflight_stream_reader_schema says why) or
 * for bad arguments. */
CFLIGHT_API int64_t cflight_stream_reader_dictionary_ids(cflight_stream_reader *r, int64_t *ids,
                                                         int64_t cap);

/* The next chunk (caller owns it). At the end of the stream returns
 * CFLIGHT_OK with *out empty (no batch, no metadata) and *end = true. A
 * failed call returns its status (the peer's error, DEADLINE_EXCEEDED,
 * CANCELLED, UNAVAILABLE, ...). */
CFLIGHT_API int cflight_stream_reader_next(cflight_stream_reader *r, cflight_chunk *out, bool *end,
                                           cflight_error *err);

/* Reads the rest of the stream into memory and returns it as an
 * ArrowArrayStream (app_metadata is dropped). */
CFLIGHT_API int cflight_stream_reader_read_all(cflight_stream_reader *r,
                                               struct ArrowArrayStream *out, cflight_error *err);

/* The stream's batches as an ArrowArrayStream read lazily; the ArrowArrayStream
 * takes over the reader (do not free it afterwards). */
CFLIGHT_API int cflight_stream_reader_to_stream(cflight_stream_reader *r,
                                                struct ArrowArrayStream *out, cflight_error *err);

/* Cancels the call: pending and later reads fail with CFLIGHT_CANCELLED and
 * the peer sees the call cancelled. Callable from any thread. */
CFLIGHT_API void cflight_stream_reader_cancel(cflight_stream_reader *r);

/* Frees the reader; cancels the call if it has not ended (a DoExchange's
 * once its writer is freed too). */
CFLIGHT_API void cflight_stream_reader_free(cflight_stream_reader *r);

/* Writes a stream of FlightData: the client's DoPut and DoExchange, the
 * server's DoExchange. Batches are borrowed: a write returns once the
 * batch's bytes were handed to the connection, and the caller may then
 * reuse or release it. Writes block while the peer is slow (backpressure). */
typedef struct cflight_stream_writer cflight_stream_writer;

/* Sends the schema. DoPut's writer has begun already (with do_put's schema);
 * DoExchange's must begin before its first batch (metadata may come before). */
CFLIGHT_API int cflight_stream_writer_begin(cflight_stream_writer *w,
                                            const struct ArrowSchema *schema, cflight_error *err);

/* Replaces the IPC write options of the stream (compression, dictionary
 * ids, ...; copied; NULL: the defaults) before it begins: for a DoExchange
 * writer, e.g. a server handler's, that should write differently from the
 * server's default. CFLIGHT_FAILED_PRECONDITION once the stream has begun
 * (DoPut's writer begins in do_put: give its options in the call options). */
CFLIGHT_API int cflight_stream_writer_set_ipc_options(cflight_stream_writer *w,
                                                      const cflight_ipc_options *ipc,
                                                      cflight_error *err);

/* Writes a batch (a struct array of the schema's type), with app_metadata
 * when app_metadata_size > 0. On the client, an encoded batch larger than
 * the write_size_limit_bytes option fails with CFLIGHT_WRITE_SIZE_EXCEEDED
 * (err->size_limit, err->actual_size) and the stream stays usable. */
CFLIGHT_API int cflight_stream_writer_write(cflight_stream_writer *w,
                                            const struct ArrowArray *batch,
                                            const void *app_metadata, size_t app_metadata_size,
                                            cflight_error *err);

/* Writes a batch that the writer takes over (moved: *batch is left
 * released), with app_metadata (a reference, moved in; NULL: none). Unlike
 * cflight_stream_writer_write, returns as soon as the batch's messages are
 * queued on the connection, without waiting for their bytes to be written,
 * so that consecutive writes overlap with the sending (the batch is
 * released once its bytes are written; its buffers must not change until
 * then); it blocks only while the call's send queue is full. Otherwise as
 * cflight_stream_writer_write (size limit included). The batch and
 * app_metadata are released on failure too. */
CFLIGHT_API int cflight_stream_writer_write_move(cflight_stream_writer *w, struct ArrowArray *batch,
                                                 cflight_buffer *app_metadata, cflight_error *err);

/* Writes app_metadata alone. */
CFLIGHT_API int cflight_stream_writer_write_metadata(cflight_stream_writer *w, const void *data,
                                                     size_t size, cflight_error *err);

/* Says that nothing more will be written, while reading may go on. */
CFLIGHT_API int cflight_stream_writer_done_writing(cflight_stream_writer *w, cflight_error *err);

/* Client: finishes writing (if not done), waits for the server to end the
 * call and returns the call's status; PutResults not read by then are
 * dropped, so read them (cflight_metadata_reader_read) first if they
 * matter. Server: finishes writing. */
CFLIGHT_API int cflight_stream_writer_close(cflight_stream_writer *w, cflight_error *err);

/* Frees the writer; a client call not closed is cancelled. */
CFLIGHT_API void cflight_stream_writer_free(cflight_stream_writer *w);

/* The PutResult messages of a DoPut, as the client reads them. */
typedef struct cflight_metadata_reader cflight_metadata_reader;

/* The next PutResult's app_metadata (caller owns *out), or *out = NULL at the
 * end. Errors are the call's status. */
CFLIGHT_API int cflight_metadata_reader_read(cflight_metadata_reader *r, cflight_buffer **out,
                                             cflight_error *err);
/* Frees the reader. The DoPut goes on: its writer ends it. PutResults not
 * read when the writer closes are dropped. */
CFLIGHT_API void cflight_metadata_reader_free(cflight_metadata_reader *r);

/* ---- Call options ------------------------------------------------------------- */

typedef struct cflight_call_options cflight_call_options;

CFLIGHT_API cflight_call_options *cflight_call_options_new(void);
CFLIGHT_API void cflight_call_options_free(cflight_call_options *o);

/* Fails the call with CFLIGHT_DEADLINE_EXCEEDED after `seconds` (<= 0: none). */
CFLIGHT_API void cflight_call_options_set_timeout(cflight_call_options *o, double seconds);

/* Adds a request header. Keys are lower-cased; keys ending in "-bin" carry
 * binary values (use add_header_bin), others must be printable ASCII. */
CFLIGHT_API int cflight_call_options_add_header(cflight_call_options *o, const char *key,
                                                const char *value, cflight_error *err);
CFLIGHT_API int cflight_call_options_add_header_bin(cflight_call_options *o, const char *key,
                                                    const void *value, size_t size,
                                                    cflight_error *err);

/* IPC options for the call's streams: compression for what it writes,
 * validation for what it reads (copied). */
CFLIGHT_API int cflight_call_options_set_ipc_options(cflight_call_options *o,
                                                     const cflight_ipc_options *ipc,
                                                     cflight_error *err);

/* ---- Client options ----------------------------------------------------------- */

typedef struct cflight_client_options cflight_client_options;

CFLIGHT_API cflight_client_options *cflight_client_options_new(void);
CFLIGHT_API void cflight_client_options_free(cflight_client_options *o);

/* TLS (grpc+tls:// locations). PEM text is copied. Without root
 * certificates the system trust store is used. */
CFLIGHT_API int cflight_client_options_set_tls_root_certs(cflight_client_options *o,
                                                          const char *pem, cflight_error *err);
/* Mutual TLS: the client's certificate chain and private key. */
CFLIGHT_API int cflight_client_options_set_tls_client_cert(cflight_client_options *o,
                                                           const char *cert_chain_pem,
                                                           const char *private_key_pem,
                                                           cflight_error *err);
/* Verify the server as (and send SNI for) this name instead of the host. */
CFLIGHT_API int cflight_client_options_set_tls_override_hostname(cflight_client_options *o,
                                                                 const char *hostname,
                                                                 cflight_error *err);
/* Insecure: accept any server certificate. For tests and trusted networks only. */
CFLIGHT_API void cflight_client_options_set_disable_server_verification(cflight_client_options *o,
                                                                        bool disable);

/* Refuse to write any single batch whose encoded size exceeds `bytes`
 * (0: no limit, the default). */
CFLIGHT_API void cflight_client_options_set_write_size_limit(cflight_client_options *o,
                                                             int64_t bytes);

/* A transport option by name, as pyarrow's generic_options: cflight's names
 * and the common gRPC channel arguments where they mean the same
 * ("grpc.max_receive_message_length", "grpc.keepalive_time_ms", ...).
 * CFLIGHT_INVALID_ARGUMENT for an unknown name or a bad value. */
CFLIGHT_API int cflight_client_options_set_generic(cflight_client_options *o, const char *name,
                                                   const char *value, cflight_error *err);

/* ---- Client authentication and middleware (see also server.h) ---------------- */

/* A client-side handshake authenticator, as pyarrow's ClientAuthHandler. */
typedef struct cflight_client_auth_handler cflight_client_auth_handler;

/* The handshake's message exchange, handed to an authenticate callback. */
typedef struct cflight_auth_stream cflight_auth_stream;

/* Sends one handshake payload. */
CFLIGHT_API int cflight_auth_stream_write(cflight_auth_stream *s, const void *data, size_t size,
                                          cflight_error *err);
/* Reads the next handshake payload (caller owns *out), *out = NULL at the end. */
CFLIGHT_API int cflight_auth_stream_read(cflight_auth_stream *s, cflight_buffer **out,
                                         cflight_error *err);

typedef struct cflight_client_auth_callbacks {
  /* Runs the handshake through `stream`. */
  int (*authenticate)(void *ctx, cflight_auth_stream *stream, cflight_error *err);
  /* The token to send (as the auth-token-bin header) on every later call;
   * *token is a cflight_buffer owned by the caller, or NULL for none. */
  int (*get_token)(void *ctx, cflight_buffer **token, cflight_error *err);
  /* Frees ctx when the handler is freed (may be NULL). */
  void (*free_ctx)(void *ctx);
} cflight_client_auth_callbacks;

/* A handler from callbacks (copied) and ctx (owned: freed by free_ctx). */
CFLIGHT_API cflight_client_auth_handler *cflight_client_auth_handler_new(
    const cflight_client_auth_callbacks *callbacks, void *ctx);
/* The ready-made handler for BasicAuth username/password handshakes. */
CFLIGHT_API cflight_client_auth_handler *cflight_client_auth_handler_new_basic(
    const char *username, const char *password);
CFLIGHT_API void cflight_client_auth_handler_free(cflight_client_auth_handler *h);

/* Client middleware, as pyarrow's ClientMiddlewareFactory / ClientMiddleware. */
typedef struct cflight_client_middleware_factory cflight_client_middleware_factory;
/* What a middleware instance sees of its call. */
typedef struct cflight_call_info cflight_call_info;
/* The Flight method ("DoGet", "ListFlights", ...). */
CFLIGHT_API const char *cflight_call_info_method(const cflight_call_info *info);

/* Headers handed to and by middleware: an ordered list of key/value pairs. */
typedef struct cflight_headers cflight_headers;
CFLIGHT_API size_t cflight_headers_count(const cflight_headers *h);
/* Pair i; the value's size in *size (binary for "-bin" keys). */
CFLIGHT_API const char *cflight_headers_key(const cflight_headers *h, size_t i);
CFLIGHT_API const uint8_t *cflight_headers_value(const cflight_headers *h, size_t i, size_t *size);
/* The first value of key (case-insensitive), or NULL. */
CFLIGHT_API const uint8_t *cflight_headers_get(const cflight_headers *h, const char *key,
                                               size_t *size);
CFLIGHT_API int cflight_headers_add(cflight_headers *h, const char *key, const void *value,
                                    size_t size, cflight_error *err);

typedef struct cflight_client_middleware_callbacks {
  /* Called at the start of every call; sets *instance (NULL: no middleware
   * for this call). Returning an error fails the call with it. */
  int (*start_call)(void *factory_ctx, const cflight_call_info *info, void **instance,
                    cflight_error *err);
  /* Adds outgoing headers. */
  void (*sending_headers)(void *instance, cflight_headers *outgoing);
  /* Sees the server's response headers. */
  void (*received_headers)(void *instance, const cflight_headers *incoming);
  /* The call ended with `status` (code CFLIGHT_OK on success); frees instance. */
  void (*call_completed)(void *instance, const cflight_error *status);
  void (*free_factory_ctx)(void *factory_ctx);
} cflight_client_middleware_callbacks;

CFLIGHT_API cflight_client_middleware_factory *cflight_client_middleware_factory_new(
    const cflight_client_middleware_callbacks *callbacks, void *factory_ctx);
/* The built-in cookie middleware: keeps cookies from set-cookie responses
 * (honouring Max-Age/Expires, capped at 400 days) and sends them back on
 * later calls; at most 64 cookies of at most 4 KiB each. */
CFLIGHT_API cflight_client_middleware_factory *cflight_client_cookie_middleware_new(void);
CFLIGHT_API void cflight_client_middleware_factory_free(cflight_client_middleware_factory *f);

/* Adds a middleware factory to the client; the options take it over. */
CFLIGHT_API int cflight_client_options_add_middleware(cflight_client_options *o,
                                                      cflight_client_middleware_factory *f,
                                                      cflight_error *err);

/* ---- The client ---------------------------------------------------------------- */

typedef struct cflight_client cflight_client;

/* A client for `location` ("grpc://host:port", "grpc+tls://...",
 * "grpc+unix:///path"). Connects lazily: a server that is down shows as
 * CFLIGHT_UNAVAILABLE on the first call (or use wait_for_available).
 * opts may be NULL (copied). */
CFLIGHT_API int cflight_client_connect(const char *location, const cflight_client_options *opts,
                                       cflight_client **out, cflight_error *err);

/* Blocks until the server answers or `timeout_seconds` pass (then
 * CFLIGHT_DEADLINE_EXCEEDED, or CFLIGHT_UNAVAILABLE with the last reason). */
CFLIGHT_API int cflight_client_wait_for_available(cflight_client *c, double timeout_seconds,
                                                  cflight_error *err);

/* Cancels calls in flight and frees the client. Readers and writers of its
 * calls must be freed before. */
CFLIGHT_API void cflight_client_close(cflight_client *c);

/* Handshake authentication: runs the handler's handshake; later calls carry
 * its token. The client keeps the handler (do not free it before the client). */
CFLIGHT_API int cflight_client_authenticate(cflight_client *c, cflight_client_auth_handler *h,
                                            const cflight_call_options *opts, cflight_error *err);

/* HTTP basic authentication on a Handshake call, as pyarrow's
 * authenticate_basic_token: returns the "authorization" header pair the
 * server issued ("Bearer <token>", taken from the response headers or
 * trailers), to add to later calls' options. When the server accepts the
 * call without issuing a token, both are "" (as Arrow does). *key and
 * *value are freed with cflight_free. A refusal is the server's status
 * (CFLIGHT_UNAUTHENTICATED). */
CFLIGHT_API int cflight_client_authenticate_basic_token(cflight_client *c, const char *username,
                                                        const char *password,
                                                        const cflight_call_options *opts,
                                                        char **key, char **value,
                                                        cflight_error *err);

/* Iterates over the FlightInfos of ListFlights. For this call, DoAction
 * and ListActions, the server's errors come from the iterator's next. */
typedef struct cflight_info_iter cflight_info_iter;
/* Next info (caller owns it) or *out = NULL at the end. */
CFLIGHT_API int cflight_info_iter_next(cflight_info_iter *it, cflight_flight_info **out,
                                       cflight_error *err);
CFLIGHT_API void cflight_info_iter_free(cflight_info_iter *it);

/* ListFlights; criteria may be NULL (all flights). */
CFLIGHT_API int cflight_client_list_flights(cflight_client *c, const void *criteria,
                                            size_t criteria_size, const cflight_call_options *opts,
                                            cflight_info_iter **out, cflight_error *err);

CFLIGHT_API int cflight_client_get_flight_info(cflight_client *c, const cflight_descriptor *d,
                                               const cflight_call_options *opts,
                                               cflight_flight_info **out, cflight_error *err);

CFLIGHT_API int cflight_client_poll_flight_info(cflight_client *c, const cflight_descriptor *d,
                                                const cflight_call_options *opts,
                                                cflight_poll_info **out, cflight_error *err);

/* GetSchema: the schema of the flight, decoded. */
CFLIGHT_API int cflight_client_get_schema(cflight_client *c, const cflight_descriptor *d,
                                          const cflight_call_options *opts, struct ArrowSchema *out,
                                          cflight_error *err);

/* DoGet: a reader of the ticket's stream. As Arrow does, waits for the
 * stream's schema before returning, so that a call the server refuses or
 * fails before its first batch returns the server's error here. */
CFLIGHT_API int cflight_client_do_get(cflight_client *c, const cflight_ticket *t,
                                      const cflight_call_options *opts, cflight_stream_reader **out,
                                      cflight_error *err);

/* DoPut: sends the descriptor and the schema at once; returns the writer
 * for batches and the reader of the server's PutResult metadata (both owned
 * by the caller; free both). The server's verdict comes from the writer's
 * close (or a failing write) and the metadata reader, also when the server
 * refuses the call at once. */
CFLIGHT_API int cflight_client_do_put(cflight_client *c, const cflight_descriptor *d,
                                      const struct ArrowSchema *schema,
                                      const cflight_call_options *opts,
                                      cflight_stream_writer **writer,
                                      cflight_metadata_reader **reader, cflight_error *err);

/* DoExchange: a writer (begin it with a schema before writing batches) and a
 * reader of what the server sends back. The descriptor is sent at once (in
 * a FlightData of its own), so the server's handler starts before the
 * client writes anything. Errors of the call come from the reader and the
 * writer. */
CFLIGHT_API int cflight_client_do_exchange(cflight_client *c, const cflight_descriptor *d,
                                           const cflight_call_options *opts,
                                           cflight_stream_writer **writer,
                                           cflight_stream_reader **reader, cflight_error *err);

/* Iterates over the Results of DoAction. */
typedef struct cflight_result_iter cflight_result_iter;
CFLIGHT_API int cflight_result_iter_next(cflight_result_iter *it, cflight_result **out,
                                         cflight_error *err);
CFLIGHT_API void cflight_result_iter_free(cflight_result_iter *it);

CFLIGHT_API int cflight_client_do_action(cflight_client *c, const cflight_action *action,
                                         const cflight_call_options *opts,
                                         cflight_result_iter **out, cflight_error *err);

/* Iterates over the ActionTypes of ListActions. */
typedef struct cflight_action_type_iter cflight_action_type_iter;
CFLIGHT_API int cflight_action_type_iter_next(cflight_action_type_iter *it,
                                              cflight_action_type **out, cflight_error *err);
CFLIGHT_API void cflight_action_type_iter_free(cflight_action_type_iter *it);

CFLIGHT_API int cflight_client_list_actions(cflight_client *c, const cflight_call_options *opts,
                                            cflight_action_type_iter **out, cflight_error *err);

/* ---- The Flight specification's actions ----------------------------------------------
 * Each is a DoAction of the action type of the same name (CFLIGHT_ACTION_...)
 * whose body is the request's encoding and whose first Result carries the
 * response (the rest of the stream is read and dropped). The caller owns
 * *out. A response that does not parse is CFLIGHT_INVALID_DATA; a server
 * that sends no Result gives CFLIGHT_INTERNAL. */

/* CancelFlightInfo: asks the server to cancel the query behind a FlightInfo. */
CFLIGHT_API int cflight_client_cancel_flight_info(cflight_client *c,
                                                  const cflight_cancel_flight_info_request *req,
                                                  const cflight_call_options *opts,
                                                  cflight_cancel_flight_info_result **out,
                                                  cflight_error *err);

/* RenewFlightEndpoint: the endpoint with a later expiration time. */
CFLIGHT_API int cflight_client_renew_flight_endpoint(
    cflight_client *c, const cflight_renew_flight_endpoint_request *req,
    const cflight_call_options *opts, cflight_endpoint **out, cflight_error *err);

/* SetSessionOptions: the options that could not be set, and why. */
CFLIGHT_API int cflight_client_set_session_options(cflight_client *c,
                                                   const cflight_set_session_options_request *req,
                                                   const cflight_call_options *opts,
                                                   cflight_set_session_options_result **out,
                                                   cflight_error *err);

/* GetSessionOptions (req may be NULL: the empty request). */
CFLIGHT_API int cflight_client_get_session_options(cflight_client *c,
                                                   const cflight_get_session_options_request *req,
                                                   const cflight_call_options *opts,
                                                   cflight_get_session_options_result **out,
                                                   cflight_error *err);

/* CloseSession (req may be NULL: the empty request). */
CFLIGHT_API int cflight_client_close_session(cflight_client *c,
                                             const cflight_close_session_request *req,
                                             const cflight_call_options *opts,
                                             cflight_close_session_result **out,
                                             cflight_error *err);

#ifdef __cplusplus
}
#endif

#endif /* CFLIGHT_CLIENT_H */
