/* Flight types: descriptors, tickets, locations, endpoints, FlightInfo,
 * PollInfo, actions, handshake and authentication messages, and session
 * options: the messages of the Flight protocol as opaque objects.
 * Include <cflight.h>, not this file.
 *
 * Conventions, for every type in this file:
 * - Objects are made by a constructor (..._new..., ..._parse) and freed with
 *   ..._free (NULL-safe). Objects are immutable except through the setters
 *   listed with them; a const object may be read from several threads.
 * - Accessors return values owned by the object (strings, bytes, nested
 *   objects): valid until the object is changed or freed. Bytes come back
 *   as a pointer plus a size (`size_t *size`), NULL with size 0 when empty.
 *   Lists are read with ..._count and an index accessor (NULL when the index
 *   is out of range).
 * - Constructors and setters copy what they are given (strings, bytes,
 *   nested objects); the caller keeps its own.
 * - A field named `type` is read with ..._get_type, since ..._type would
 *   clash with a type name.
 * - Every message type T has the same five functions, declared with it:
 *     cflight_T_serialize(const cflight_T *x, cflight_buffer **out, err):
 *       x's protobuf encoding in a new buffer; the caller owns the reference.
 *     cflight_T_deserialize(const void *data, size_t size, cflight_T **out, err):
 *       parses protobuf bytes. Safe on any bytes: malformed ones give
 *       CFLIGHT_INVALID_DATA with the reason, and *out is left NULL.
 *     cflight_T_copy(const cflight_T *x, cflight_T **out, err): a deep copy.
 *     cflight_T_equals(const cflight_T *a, const cflight_T *b): true when
 *       both hold the same fields (two NULLs are equal, NULL and an object
 *       are not).
 *     cflight_T_free(cflight_T *x).
 *   They fail with CFLIGHT_INVALID_ARGUMENT for a NULL object and
 *   CFLIGHT_NO_MEMORY when out of memory.
 * - Strings are UTF-8 (protobuf requires it): setters refuse other bytes with
 *   CFLIGHT_INVALID_ARGUMENT, and deserialize with CFLIGHT_INVALID_DATA. */
#ifndef CFLIGHT_FLIGHT_H
#define CFLIGHT_FLIGHT_H

#include "cflight/abi.h"
#include "cflight/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cflight_descriptor cflight_descriptor;
typedef struct cflight_ticket cflight_ticket;
typedef struct cflight_location cflight_location;
typedef struct cflight_endpoint cflight_endpoint;
typedef struct cflight_flight_info cflight_flight_info;
typedef struct cflight_poll_info cflight_poll_info;
typedef struct cflight_criteria cflight_criteria;
typedef struct cflight_action cflight_action;
typedef struct cflight_action_type cflight_action_type;
typedef struct cflight_result cflight_result;
typedef struct cflight_schema_result cflight_schema_result;
typedef struct cflight_put_result cflight_put_result;
typedef struct cflight_basic_auth cflight_basic_auth;
typedef struct cflight_handshake_request cflight_handshake_request;
typedef struct cflight_handshake_response cflight_handshake_response;
typedef struct cflight_cancel_flight_info_request cflight_cancel_flight_info_request;
typedef struct cflight_cancel_flight_info_result cflight_cancel_flight_info_result;
typedef struct cflight_renew_flight_endpoint_request cflight_renew_flight_endpoint_request;
typedef struct cflight_session_option_value cflight_session_option_value;
typedef struct cflight_set_session_options_request cflight_set_session_options_request;
typedef struct cflight_set_session_options_result cflight_set_session_options_result;
typedef struct cflight_get_session_options_request cflight_get_session_options_request;
typedef struct cflight_get_session_options_result cflight_get_session_options_result;
typedef struct cflight_close_session_request cflight_close_session_request;
typedef struct cflight_close_session_result cflight_close_session_result;

/* The names of the actions that the Flight specification defines; their
 * bodies and results are the messages of the same names below. */
#define CFLIGHT_ACTION_CANCEL_FLIGHT_INFO "CancelFlightInfo"
#define CFLIGHT_ACTION_RENEW_FLIGHT_ENDPOINT "RenewFlightEndpoint"
#define CFLIGHT_ACTION_SET_SESSION_OPTIONS "SetSessionOptions"
#define CFLIGHT_ACTION_GET_SESSION_OPTIONS "GetSessionOptions"
#define CFLIGHT_ACTION_CLOSE_SESSION "CloseSession"

/* ---- Timestamps ----------------------------------------------------------------
 * google.protobuf.Timestamp: seconds since the Unix epoch and the
 * nanoseconds after them (0 .. 999,999,999). */

typedef struct cflight_timestamp {
  int64_t seconds;
  int32_t nanos;
} cflight_timestamp;

/* The timestamp `ns` nanoseconds after the Unix epoch (before it when negative). */
CFLIGHT_API cflight_timestamp cflight_timestamp_from_ns(int64_t ns);

/* Nanoseconds since the Unix epoch into *out. CFLIGHT_INVALID_ARGUMENT when
 * nanos is out of range or the time does not fit an int64 of nanoseconds
 * (before 1677 or after 2262). */
CFLIGHT_API int cflight_timestamp_to_ns(const cflight_timestamp *ts, int64_t *out,
                                        cflight_error *err);

/* The current wall-clock time (CLOCK_REALTIME). */
CFLIGHT_API cflight_timestamp cflight_timestamp_now(void);

/* ---- FlightDescriptor ----------------------------------------------------------- */

typedef enum cflight_descriptor_type {
  CFLIGHT_DESCRIPTOR_UNKNOWN = 0, /* only ever seen in a peer's message */
  CFLIGHT_DESCRIPTOR_PATH = 1,
  CFLIGHT_DESCRIPTOR_CMD = 2,
} cflight_descriptor_type;

/* A PATH descriptor of n_parts strings (each copied; n_parts may be 0).
 * CFLIGHT_INVALID_ARGUMENT for a NULL part or one that is not UTF-8. */
CFLIGHT_API int cflight_descriptor_new_path(const char *const *parts, size_t n_parts,
                                            cflight_descriptor **out, cflight_error *err);

/* A CMD descriptor holding a copy of cmd[0..size) (cmd may be NULL when size is 0). */
CFLIGHT_API int cflight_descriptor_new_command(const void *cmd, size_t size,
                                               cflight_descriptor **out, cflight_error *err);

/* PATH or CMD (UNKNOWN only for a deserialized descriptor that said so). */
CFLIGHT_API cflight_descriptor_type cflight_descriptor_get_type(const cflight_descriptor *d);

/* The number of path parts, and part i (owned by d). */
CFLIGHT_API size_t cflight_descriptor_path_count(const cflight_descriptor *d);
CFLIGHT_API const char *cflight_descriptor_path_part(const cflight_descriptor *d, size_t i);

/* The command bytes (owned by d); NULL with *size 0 when there are none. */
CFLIGHT_API const uint8_t *cflight_descriptor_command(const cflight_descriptor *d, size_t *size);

/* The five common functions (see the top of this file). Deserialize also
 * refuses a type other than UNKNOWN, PATH and CMD. */
CFLIGHT_API int cflight_descriptor_serialize(const cflight_descriptor *d, cflight_buffer **out,
                                             cflight_error *err);
CFLIGHT_API int cflight_descriptor_deserialize(const void *data, size_t size,
                                               cflight_descriptor **out, cflight_error *err);
CFLIGHT_API int cflight_descriptor_copy(const cflight_descriptor *d, cflight_descriptor **out,
                                        cflight_error *err);
CFLIGHT_API bool cflight_descriptor_equals(const cflight_descriptor *a,
                                           const cflight_descriptor *b);
CFLIGHT_API void cflight_descriptor_free(cflight_descriptor *d);

/* ---- Ticket ------------------------------------------------------------------------ */

/* A ticket holding a copy of data[0..size). */
CFLIGHT_API int cflight_ticket_new(const void *data, size_t size, cflight_ticket **out,
                                   cflight_error *err);

/* The ticket's bytes (owned by t). */
CFLIGHT_API const uint8_t *cflight_ticket_data(const cflight_ticket *t, size_t *size);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_ticket_serialize(const cflight_ticket *t, cflight_buffer **out,
                                         cflight_error *err);
CFLIGHT_API int cflight_ticket_deserialize(const void *data, size_t size, cflight_ticket **out,
                                           cflight_error *err);
CFLIGHT_API int cflight_ticket_copy(const cflight_ticket *t, cflight_ticket **out,
                                    cflight_error *err);
CFLIGHT_API bool cflight_ticket_equals(const cflight_ticket *a, const cflight_ticket *b);
CFLIGHT_API void cflight_ticket_free(cflight_ticket *t);

/* ---- Location ------------------------------------------------------------------------
 * A URI naming where a ticket can be redeemed. grpc://host:port and
 * grpc+tcp://host:port (plain TCP), grpc+tls://host:port (TLS),
 * grpc+unix:///path/to/socket (a Unix socket; grpc+unix:relative/path too),
 * http(s):// (accepted and passed through: cflight does not connect there),
 * and arrow-flight-reuse-connection://? (the ticket can be redeemed on the
 * connection that returned it). Other schemes parse as CFLIGHT_SCHEME_OTHER.
 * IPv6 hosts are written in brackets: grpc://[::1]:5005. */

#define CFLIGHT_LOCATION_REUSE_CONNECTION_URI "arrow-flight-reuse-connection://?"

typedef enum cflight_scheme {
  CFLIGHT_SCHEME_OTHER = 0,
  CFLIGHT_SCHEME_GRPC_TCP = 1, /* grpc://, grpc+tcp:// */
  CFLIGHT_SCHEME_GRPC_TLS = 2, /* grpc+tls:// */
  CFLIGHT_SCHEME_GRPC_UNIX = 3,
  CFLIGHT_SCHEME_HTTP = 4,
  CFLIGHT_SCHEME_HTTPS = 5,
  CFLIGHT_SCHEME_REUSE_CONNECTION = 6,
} cflight_scheme;

/* Parses and checks a URI (a copy is kept, exactly as given).
 * CFLIGHT_INVALID_ARGUMENT with the reason when it is not a URI (no scheme,
 * spaces or control characters, a bad port or IPv6 literal), or when a grpc
 * scheme lacks what it needs (a host; a socket path for grpc+unix). */
CFLIGHT_API int cflight_location_parse(const char *uri, cflight_location **out, cflight_error *err);

/* grpc+tcp://host:port, and grpc+tls://host:port. host is a name or an IP
 * literal (IPv6 without brackets: they are added); port 0 .. 65535.
 * CFLIGHT_INVALID_ARGUMENT for an empty or malformed host or a bad port. */
CFLIGHT_API int cflight_location_new_tcp(const char *host, int port, cflight_location **out,
                                         cflight_error *err);
CFLIGHT_API int cflight_location_new_tls(const char *host, int port, cflight_location **out,
                                         cflight_error *err);

/* grpc+unix:// for a socket path (percent-encoding characters that a URI
 * cannot hold). CFLIGHT_INVALID_ARGUMENT for an empty path. */
CFLIGHT_API int cflight_location_new_unix(const char *path, cflight_location **out,
                                          cflight_error *err);

/* The well-known arrow-flight-reuse-connection://? location. */
CFLIGHT_API int cflight_location_new_reuse_connection(cflight_location **out, cflight_error *err);

/* The URI (owned by loc). */
CFLIGHT_API const char *cflight_location_uri(const cflight_location *loc);

/* Which of the known schemes the URI has (compared case-insensitively). */
CFLIGHT_API cflight_scheme cflight_location_scheme(const cflight_location *loc);

/* Writes the host (IPv6 without brackets) to buf like snprintf: at most cap
 * bytes including the terminating NUL, and returns the host's full length;
 * 0 (and "") when the URI has no host. buf may be NULL when cap is 0. */
CFLIGHT_API size_t cflight_location_host(const cflight_location *loc, char *buf, size_t cap);

/* The port, or -1 when the URI gives none. */
CFLIGHT_API int cflight_location_port(const cflight_location *loc);

/* Writes the path (percent-decoded; for grpc+unix, the socket path) to buf
 * like snprintf, and returns its full length (0 when it is empty). */
CFLIGHT_API size_t cflight_location_path(const cflight_location *loc, char *buf, size_t cap);

/* The five common functions (see the top of this file). Two locations are
 * equal when their URIs are the same bytes. Deserialize checks the URI as
 * cflight_location_parse does, but with CFLIGHT_INVALID_DATA. */
CFLIGHT_API int cflight_location_serialize(const cflight_location *loc, cflight_buffer **out,
                                           cflight_error *err);
CFLIGHT_API int cflight_location_deserialize(const void *data, size_t size, cflight_location **out,
                                             cflight_error *err);
CFLIGHT_API int cflight_location_copy(const cflight_location *loc, cflight_location **out,
                                      cflight_error *err);
CFLIGHT_API bool cflight_location_equals(const cflight_location *a, const cflight_location *b);
CFLIGHT_API void cflight_location_free(cflight_location *loc);

/* ---- FlightEndpoint ------------------------------------------------------------------- */

/* An endpoint: a copy of ticket (may be NULL: no ticket) and of the n
 * locations (none: redeem the ticket where it came from). No expiration
 * time, no app_metadata. */
CFLIGHT_API int cflight_endpoint_new(const cflight_ticket *ticket,
                                     const cflight_location *const *locations, size_t n_locations,
                                     cflight_endpoint **out, cflight_error *err);

/* The ticket (owned by e), or NULL when there is none. */
CFLIGHT_API const cflight_ticket *cflight_endpoint_ticket(const cflight_endpoint *e);

/* The number of locations, and location i (owned by e). */
CFLIGHT_API size_t cflight_endpoint_location_count(const cflight_endpoint *e);
CFLIGHT_API const cflight_location *cflight_endpoint_location(const cflight_endpoint *e, size_t i);

/* Appends a copy of loc to the locations. */
CFLIGHT_API int cflight_endpoint_add_location(cflight_endpoint *e, const cflight_location *loc,
                                              cflight_error *err);

/* Replaces the ticket with a copy of t (NULL removes it). */
CFLIGHT_API int cflight_endpoint_set_ticket(cflight_endpoint *e, const cflight_ticket *t,
                                            cflight_error *err);

/* The expiration time into *out; false (and *out untouched) when it is unset. */
CFLIGHT_API bool cflight_endpoint_expiration_time(const cflight_endpoint *e,
                                                  cflight_timestamp *out);

/* Sets the expiration time, or unsets it when ts is NULL.
 * CFLIGHT_INVALID_ARGUMENT when ts->nanos is outside 0 .. 999,999,999. */
CFLIGHT_API int cflight_endpoint_set_expiration_time(cflight_endpoint *e,
                                                     const cflight_timestamp *ts,
                                                     cflight_error *err);

/* app_metadata (owned by e), and a setter that copies data[0..size). */
CFLIGHT_API const uint8_t *cflight_endpoint_app_metadata(const cflight_endpoint *e, size_t *size);
CFLIGHT_API int cflight_endpoint_set_app_metadata(cflight_endpoint *e, const void *data,
                                                  size_t size, cflight_error *err);

/* The five common functions (see the top of this file). Deserialize checks
 * each location's URI and the expiration time's nanos. */
CFLIGHT_API int cflight_endpoint_serialize(const cflight_endpoint *e, cflight_buffer **out,
                                           cflight_error *err);
CFLIGHT_API int cflight_endpoint_deserialize(const void *data, size_t size, cflight_endpoint **out,
                                             cflight_error *err);
CFLIGHT_API int cflight_endpoint_copy(const cflight_endpoint *e, cflight_endpoint **out,
                                      cflight_error *err);
CFLIGHT_API bool cflight_endpoint_equals(const cflight_endpoint *a, const cflight_endpoint *b);
CFLIGHT_API void cflight_endpoint_free(cflight_endpoint *e);

/* ---- FlightInfo --------------------------------------------------------------------------- */

/* An empty FlightInfo: no schema, no descriptor, no endpoints,
 * total_records and total_bytes -1 (unknown), not ordered. */
CFLIGHT_API int cflight_flight_info_new(cflight_flight_info **out, cflight_error *err);

/* A FlightInfo for data a server holds as batches: the schema (its IPC
 * bytes, via cflight_ipc_schema_serialize), a copy of descriptor (may be
 * NULL), total_records = the sum of the batches' lengths, total_bytes = the
 * sum of the sizes of the batches' buffers (children and dictionaries
 * included; for each buffer, the bytes it must hold for the array's offset
 * and length), and one endpoint with a copy of ticket (may be NULL) and of
 * the n_locations locations. The batches (each a struct array of schema's
 * type) are borrowed. CFLIGHT_INVALID_ARGUMENT for a schema or batch that
 * does not fit together. */
CFLIGHT_API int cflight_flight_info_new_for_batches(const cflight_descriptor *descriptor,
                                                    const struct ArrowSchema *schema,
                                                    const struct ArrowArray *batches,
                                                    size_t n_batches, const cflight_ticket *ticket,
                                                    const cflight_location *const *locations,
                                                    size_t n_locations, cflight_flight_info **out,
                                                    cflight_error *err);

/* The same for the batches of a stream, which is read to its end (each
 * batch is released once counted; the stream itself stays the caller's, to
 * release). A stream error is returned with its message. */
CFLIGHT_API int cflight_flight_info_new_for_stream(const cflight_descriptor *descriptor,
                                                   struct ArrowArrayStream *stream,
                                                   const cflight_ticket *ticket,
                                                   const cflight_location *const *locations,
                                                   size_t n_locations, cflight_flight_info **out,
                                                   cflight_error *err);

/* The schema as its IPC bytes (an encapsulated Schema message; owned by
 * info), NULL with *size 0 when there is none; and a setter copying them as
 * they are (not checked: they travel as opaque bytes). */
CFLIGHT_API const uint8_t *cflight_flight_info_schema_bytes(const cflight_flight_info *info,
                                                            size_t *size);
CFLIGHT_API int cflight_flight_info_set_schema_bytes(cflight_flight_info *info, const void *data,
                                                     size_t size, cflight_error *err);

/* Decodes the schema into *out (the caller releases it), with
 * cflight_ipc_schema_deserialize. CFLIGHT_INVALID_DATA when the bytes are
 * empty or malformed. */
CFLIGHT_API int cflight_flight_info_schema(const cflight_flight_info *info, struct ArrowSchema *out,
                                           cflight_error *err);

/* Encodes schema (borrowed) with cflight_ipc_schema_serialize and stores
 * the bytes. CFLIGHT_INVALID_ARGUMENT for a schema that cannot be encoded. */
CFLIGHT_API int cflight_flight_info_set_schema(cflight_flight_info *info,
                                               const struct ArrowSchema *schema,
                                               cflight_error *err);

/* The descriptor (owned by info), or NULL; the setter copies d (NULL removes it). */
CFLIGHT_API const cflight_descriptor *cflight_flight_info_descriptor(
    const cflight_flight_info *info);
CFLIGHT_API int cflight_flight_info_set_descriptor(cflight_flight_info *info,
                                                   const cflight_descriptor *d, cflight_error *err);

/* The number of endpoints, endpoint i (owned by info), and an appender that copies e. */
CFLIGHT_API size_t cflight_flight_info_endpoint_count(const cflight_flight_info *info);
CFLIGHT_API const cflight_endpoint *cflight_flight_info_endpoint(const cflight_flight_info *info,
                                                                 size_t i);
CFLIGHT_API int cflight_flight_info_add_endpoint(cflight_flight_info *info,
                                                 const cflight_endpoint *e, cflight_error *err);

/* Row and byte counts of the whole flight; -1 means unknown. */
CFLIGHT_API int64_t cflight_flight_info_total_records(const cflight_flight_info *info);
CFLIGHT_API int64_t cflight_flight_info_total_bytes(const cflight_flight_info *info);
CFLIGHT_API void cflight_flight_info_set_total_records(cflight_flight_info *info, int64_t n);
CFLIGHT_API void cflight_flight_info_set_total_bytes(cflight_flight_info *info, int64_t n);

/* Whether the data is ordered across endpoints (read them in order). */
CFLIGHT_API bool cflight_flight_info_ordered(const cflight_flight_info *info);
CFLIGHT_API void cflight_flight_info_set_ordered(cflight_flight_info *info, bool ordered);

/* app_metadata (owned by info), and a setter that copies data[0..size). */
CFLIGHT_API const uint8_t *cflight_flight_info_app_metadata(const cflight_flight_info *info,
                                                            size_t *size);
CFLIGHT_API int cflight_flight_info_set_app_metadata(cflight_flight_info *info, const void *data,
                                                     size_t size, cflight_error *err);

/* The five common functions (see the top of this file). Deserialize checks
 * the descriptor and endpoints as their own deserializers do; the schema
 * bytes are decoded only by cflight_flight_info_schema. */
CFLIGHT_API int cflight_flight_info_serialize(const cflight_flight_info *info, cflight_buffer **out,
                                              cflight_error *err);
CFLIGHT_API int cflight_flight_info_deserialize(const void *data, size_t size,
                                                cflight_flight_info **out, cflight_error *err);
CFLIGHT_API int cflight_flight_info_copy(const cflight_flight_info *info, cflight_flight_info **out,
                                         cflight_error *err);
CFLIGHT_API bool cflight_flight_info_equals(const cflight_flight_info *a,
                                            const cflight_flight_info *b);
CFLIGHT_API void cflight_flight_info_free(cflight_flight_info *info);

/* ---- PollInfo ------------------------------------------------------------------------------ */

/* An empty PollInfo: no info, no descriptor (the query is complete),
 * progress unknown, no expiration time. */
CFLIGHT_API int cflight_poll_info_new(cflight_poll_info **out, cflight_error *err);

/* The results so far (owned by p), or NULL; the setter copies info (NULL removes it). */
CFLIGHT_API const cflight_flight_info *cflight_poll_info_info(const cflight_poll_info *p);
CFLIGHT_API int cflight_poll_info_set_info(cflight_poll_info *p, const cflight_flight_info *info,
                                           cflight_error *err);

/* The descriptor to poll again with (owned by p), or NULL when the query is
 * complete; the setter copies d (NULL removes it). */
CFLIGHT_API const cflight_descriptor *cflight_poll_info_descriptor(const cflight_poll_info *p);
CFLIGHT_API int cflight_poll_info_set_descriptor(cflight_poll_info *p, const cflight_descriptor *d,
                                                 cflight_error *err);

/* The progress (0 .. 1) into *out; false (and *out untouched) when unknown. */
CFLIGHT_API bool cflight_poll_info_progress(const cflight_poll_info *p, double *out);

/* Sets the progress; CFLIGHT_INVALID_ARGUMENT unless 0 <= progress <= 1. */
CFLIGHT_API int cflight_poll_info_set_progress(cflight_poll_info *p, double progress,
                                               cflight_error *err);

/* Makes the progress unknown again. */
CFLIGHT_API void cflight_poll_info_clear_progress(cflight_poll_info *p);

/* The expiration time, as for endpoints. */
CFLIGHT_API bool cflight_poll_info_expiration_time(const cflight_poll_info *p,
                                                   cflight_timestamp *out);
CFLIGHT_API int cflight_poll_info_set_expiration_time(cflight_poll_info *p,
                                                      const cflight_timestamp *ts,
                                                      cflight_error *err);

/* The five common functions (see the top of this file). Deserialize also
 * refuses a progress outside 0 .. 1. */
CFLIGHT_API int cflight_poll_info_serialize(const cflight_poll_info *p, cflight_buffer **out,
                                            cflight_error *err);
CFLIGHT_API int cflight_poll_info_deserialize(const void *data, size_t size,
                                              cflight_poll_info **out, cflight_error *err);
CFLIGHT_API int cflight_poll_info_copy(const cflight_poll_info *p, cflight_poll_info **out,
                                       cflight_error *err);
CFLIGHT_API bool cflight_poll_info_equals(const cflight_poll_info *a, const cflight_poll_info *b);
CFLIGHT_API void cflight_poll_info_free(cflight_poll_info *p);

/* ---- Criteria ------------------------------------------------------------------------------ */

/* Criteria for ListFlights holding a copy of expression[0..size) (may be empty: all flights). */
CFLIGHT_API int cflight_criteria_new(const void *expression, size_t size, cflight_criteria **out,
                                     cflight_error *err);
CFLIGHT_API const uint8_t *cflight_criteria_expression(const cflight_criteria *c, size_t *size);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_criteria_serialize(const cflight_criteria *c, cflight_buffer **out,
                                           cflight_error *err);
CFLIGHT_API int cflight_criteria_deserialize(const void *data, size_t size, cflight_criteria **out,
                                             cflight_error *err);
CFLIGHT_API int cflight_criteria_copy(const cflight_criteria *c, cflight_criteria **out,
                                      cflight_error *err);
CFLIGHT_API bool cflight_criteria_equals(const cflight_criteria *a, const cflight_criteria *b);
CFLIGHT_API void cflight_criteria_free(cflight_criteria *c);

/* ---- Action ---------------------------------------------------------------------------------- */

/* An action: a copy of type (a UTF-8 name, e.g. CFLIGHT_ACTION_CLOSE_SESSION)
 * and of body[0..size). CFLIGHT_INVALID_ARGUMENT for a NULL or non-UTF-8 type. */
CFLIGHT_API int cflight_action_new(const char *type, const void *body, size_t size,
                                   cflight_action **out, cflight_error *err);
CFLIGHT_API const char *cflight_action_get_type(const cflight_action *a);
CFLIGHT_API const uint8_t *cflight_action_body(const cflight_action *a, size_t *size);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_action_serialize(const cflight_action *a, cflight_buffer **out,
                                         cflight_error *err);
CFLIGHT_API int cflight_action_deserialize(const void *data, size_t size, cflight_action **out,
                                           cflight_error *err);
CFLIGHT_API int cflight_action_copy(const cflight_action *a, cflight_action **out,
                                    cflight_error *err);
CFLIGHT_API bool cflight_action_equals(const cflight_action *a, const cflight_action *b);
CFLIGHT_API void cflight_action_free(cflight_action *a);

/* ---- ActionType --------------------------------------------------------------------------------
 */

/* An action type as ListActions reports it: copies of type and description
 * (description may be NULL: empty). CFLIGHT_INVALID_ARGUMENT for a NULL
 * type or non-UTF-8 strings. */
CFLIGHT_API int cflight_action_type_new(const char *type, const char *description,
                                        cflight_action_type **out, cflight_error *err);
CFLIGHT_API const char *cflight_action_type_get_type(const cflight_action_type *t);
CFLIGHT_API const char *cflight_action_type_description(const cflight_action_type *t);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_action_type_serialize(const cflight_action_type *t, cflight_buffer **out,
                                              cflight_error *err);
CFLIGHT_API int cflight_action_type_deserialize(const void *data, size_t size,
                                                cflight_action_type **out, cflight_error *err);
CFLIGHT_API int cflight_action_type_copy(const cflight_action_type *t, cflight_action_type **out,
                                         cflight_error *err);
CFLIGHT_API bool cflight_action_type_equals(const cflight_action_type *a,
                                            const cflight_action_type *b);
CFLIGHT_API void cflight_action_type_free(cflight_action_type *t);

/* ---- Result
 * --------------------------------------------------------------------------------------- */

/* One DoAction response holding a copy of body[0..size). */
CFLIGHT_API int cflight_result_new(const void *body, size_t size, cflight_result **out,
                                   cflight_error *err);
CFLIGHT_API const uint8_t *cflight_result_body(const cflight_result *r, size_t *size);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_result_serialize(const cflight_result *r, cflight_buffer **out,
                                         cflight_error *err);
CFLIGHT_API int cflight_result_deserialize(const void *data, size_t size, cflight_result **out,
                                           cflight_error *err);
CFLIGHT_API int cflight_result_copy(const cflight_result *r, cflight_result **out,
                                    cflight_error *err);
CFLIGHT_API bool cflight_result_equals(const cflight_result *a, const cflight_result *b);
CFLIGHT_API void cflight_result_free(cflight_result *r);

/* ---- SchemaResult
 * ----------------------------------------------------------------------------------- */

/* A GetSchema response holding a copy of a schema's IPC bytes (not checked). */
CFLIGHT_API int cflight_schema_result_new(const void *schema_bytes, size_t size,
                                          cflight_schema_result **out, cflight_error *err);

/* A GetSchema response for schema (borrowed), encoded with
 * cflight_ipc_schema_serialize. CFLIGHT_INVALID_ARGUMENT when it cannot be. */
CFLIGHT_API int cflight_schema_result_new_from_schema(const struct ArrowSchema *schema,
                                                      cflight_schema_result **out,
                                                      cflight_error *err);

/* The schema's IPC bytes (owned by r). */
CFLIGHT_API const uint8_t *cflight_schema_result_schema_bytes(const cflight_schema_result *r,
                                                              size_t *size);

/* Decodes the schema into *out (the caller releases it). CFLIGHT_INVALID_DATA
 * when the bytes are empty or malformed. */
CFLIGHT_API int cflight_schema_result_schema(const cflight_schema_result *r,
                                             struct ArrowSchema *out, cflight_error *err);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_schema_result_serialize(const cflight_schema_result *r,
                                                cflight_buffer **out, cflight_error *err);
CFLIGHT_API int cflight_schema_result_deserialize(const void *data, size_t size,
                                                  cflight_schema_result **out, cflight_error *err);
CFLIGHT_API int cflight_schema_result_copy(const cflight_schema_result *r,
                                           cflight_schema_result **out, cflight_error *err);
CFLIGHT_API bool cflight_schema_result_equals(const cflight_schema_result *a,
                                              const cflight_schema_result *b);
CFLIGHT_API void cflight_schema_result_free(cflight_schema_result *r);

/* ---- PutResult
 * ----------------------------------------------------------------------------------------- */

/* One DoPut response holding a copy of app_metadata[0..size). */
CFLIGHT_API int cflight_put_result_new(const void *app_metadata, size_t size,
                                       cflight_put_result **out, cflight_error *err);
CFLIGHT_API const uint8_t *cflight_put_result_app_metadata(const cflight_put_result *r,
                                                           size_t *size);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_put_result_serialize(const cflight_put_result *r, cflight_buffer **out,
                                             cflight_error *err);
CFLIGHT_API int cflight_put_result_deserialize(const void *data, size_t size,
                                               cflight_put_result **out, cflight_error *err);
CFLIGHT_API int cflight_put_result_copy(const cflight_put_result *r, cflight_put_result **out,
                                        cflight_error *err);
CFLIGHT_API bool cflight_put_result_equals(const cflight_put_result *a,
                                           const cflight_put_result *b);
CFLIGHT_API void cflight_put_result_free(cflight_put_result *r);

/* ---- BasicAuth
 * ---------------------------------------------------------------------------------------- */

/* Copies of username and password (NULL means empty). CFLIGHT_INVALID_ARGUMENT
 * when either is not UTF-8. */
CFLIGHT_API int cflight_basic_auth_new(const char *username, const char *password,
                                       cflight_basic_auth **out, cflight_error *err);
CFLIGHT_API const char *cflight_basic_auth_username(const cflight_basic_auth *a);
CFLIGHT_API const char *cflight_basic_auth_password(const cflight_basic_auth *a);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_basic_auth_serialize(const cflight_basic_auth *a, cflight_buffer **out,
                                             cflight_error *err);
CFLIGHT_API int cflight_basic_auth_deserialize(const void *data, size_t size,
                                               cflight_basic_auth **out, cflight_error *err);
CFLIGHT_API int cflight_basic_auth_copy(const cflight_basic_auth *a, cflight_basic_auth **out,
                                        cflight_error *err);
CFLIGHT_API bool cflight_basic_auth_equals(const cflight_basic_auth *a,
                                           const cflight_basic_auth *b);
CFLIGHT_API void cflight_basic_auth_free(cflight_basic_auth *a);

/* ---- HandshakeRequest / HandshakeResponse
 * ------------------------------------------------------------ */

/* A handshake message: a protocol version and a copy of payload[0..size)
 * (the authentication scheme's bytes). */
CFLIGHT_API int cflight_handshake_request_new(uint64_t protocol_version, const void *payload,
                                              size_t size, cflight_handshake_request **out,
                                              cflight_error *err);
CFLIGHT_API uint64_t cflight_handshake_request_protocol_version(const cflight_handshake_request *h);
CFLIGHT_API const uint8_t *cflight_handshake_request_payload(const cflight_handshake_request *h,
                                                             size_t *size);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_handshake_request_serialize(const cflight_handshake_request *h,
                                                    cflight_buffer **out, cflight_error *err);
CFLIGHT_API int cflight_handshake_request_deserialize(const void *data, size_t size,
                                                      cflight_handshake_request **out,
                                                      cflight_error *err);
CFLIGHT_API int cflight_handshake_request_copy(const cflight_handshake_request *h,
                                               cflight_handshake_request **out, cflight_error *err);
CFLIGHT_API bool cflight_handshake_request_equals(const cflight_handshake_request *a,
                                                  const cflight_handshake_request *b);
CFLIGHT_API void cflight_handshake_request_free(cflight_handshake_request *h);

/* The same for the server's side of the handshake. */
CFLIGHT_API int cflight_handshake_response_new(uint64_t protocol_version, const void *payload,
                                               size_t size, cflight_handshake_response **out,
                                               cflight_error *err);
CFLIGHT_API uint64_t
cflight_handshake_response_protocol_version(const cflight_handshake_response *h);
CFLIGHT_API const uint8_t *cflight_handshake_response_payload(const cflight_handshake_response *h,
                                                              size_t *size);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_handshake_response_serialize(const cflight_handshake_response *h,
                                                     cflight_buffer **out, cflight_error *err);
CFLIGHT_API int cflight_handshake_response_deserialize(const void *data, size_t size,
                                                       cflight_handshake_response **out,
                                                       cflight_error *err);
CFLIGHT_API int cflight_handshake_response_copy(const cflight_handshake_response *h,
                                                cflight_handshake_response **out,
                                                cflight_error *err);
CFLIGHT_API bool cflight_handshake_response_equals(const cflight_handshake_response *a,
                                                   const cflight_handshake_response *b);
CFLIGHT_API void cflight_handshake_response_free(cflight_handshake_response *h);

/* ---- CancelFlightInfo
 * ----------------------------------------------------------------------------------- */

/* The result of a cancellation. A peer may send a value this version does
 * not know; it is kept as is. */
typedef enum cflight_cancel_status {
  CFLIGHT_CANCEL_STATUS_UNSPECIFIED = 0,     /* not known; the client may retry */
  CFLIGHT_CANCEL_STATUS_CANCELLED = 1,       /* done */
  CFLIGHT_CANCEL_STATUS_CANCELLING = 2,      /* under way; the client may retry */
  CFLIGHT_CANCEL_STATUS_NOT_CANCELLABLE = 3, /* the client should not retry */
} cflight_cancel_status;

/* The body of the CancelFlightInfo action: a copy of info (required). */
CFLIGHT_API int cflight_cancel_flight_info_request_new(const cflight_flight_info *info,
                                                       cflight_cancel_flight_info_request **out,
                                                       cflight_error *err);
/* The FlightInfo to cancel (owned by r); NULL only if a peer sent none. */
CFLIGHT_API const cflight_flight_info *cflight_cancel_flight_info_request_info(
    const cflight_cancel_flight_info_request *r);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_cancel_flight_info_request_serialize(
    const cflight_cancel_flight_info_request *r, cflight_buffer **out, cflight_error *err);
CFLIGHT_API int cflight_cancel_flight_info_request_deserialize(
    const void *data, size_t size, cflight_cancel_flight_info_request **out, cflight_error *err);
CFLIGHT_API int cflight_cancel_flight_info_request_copy(const cflight_cancel_flight_info_request *r,
                                                        cflight_cancel_flight_info_request **out,
                                                        cflight_error *err);
CFLIGHT_API bool cflight_cancel_flight_info_request_equals(
    const cflight_cancel_flight_info_request *a, const cflight_cancel_flight_info_request *b);
CFLIGHT_API void cflight_cancel_flight_info_request_free(cflight_cancel_flight_info_request *r);

/* The CancelFlightInfo action's result. */
CFLIGHT_API int cflight_cancel_flight_info_result_new(cflight_cancel_status status,
                                                      cflight_cancel_flight_info_result **out,
                                                      cflight_error *err);
CFLIGHT_API cflight_cancel_status
cflight_cancel_flight_info_result_status(const cflight_cancel_flight_info_result *r);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_cancel_flight_info_result_serialize(
    const cflight_cancel_flight_info_result *r, cflight_buffer **out, cflight_error *err);
CFLIGHT_API int cflight_cancel_flight_info_result_deserialize(
    const void *data, size_t size, cflight_cancel_flight_info_result **out, cflight_error *err);
CFLIGHT_API int cflight_cancel_flight_info_result_copy(const cflight_cancel_flight_info_result *r,
                                                       cflight_cancel_flight_info_result **out,
                                                       cflight_error *err);
CFLIGHT_API bool cflight_cancel_flight_info_result_equals(
    const cflight_cancel_flight_info_result *a, const cflight_cancel_flight_info_result *b);
CFLIGHT_API void cflight_cancel_flight_info_result_free(cflight_cancel_flight_info_result *r);

/* ---- RenewFlightEndpoint
 * ------------------------------------------------------------------------------ */

/* The body of the RenewFlightEndpoint action: a copy of endpoint (required).
 * The action's result is the renewed FlightEndpoint itself. */
CFLIGHT_API int cflight_renew_flight_endpoint_request_new(
    const cflight_endpoint *endpoint, cflight_renew_flight_endpoint_request **out,
    cflight_error *err);
/* The endpoint to renew (owned by r); NULL only if a peer sent none. */
CFLIGHT_API const cflight_endpoint *cflight_renew_flight_endpoint_request_endpoint(
    const cflight_renew_flight_endpoint_request *r);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_renew_flight_endpoint_request_serialize(
    const cflight_renew_flight_endpoint_request *r, cflight_buffer **out, cflight_error *err);
CFLIGHT_API int cflight_renew_flight_endpoint_request_deserialize(
    const void *data, size_t size, cflight_renew_flight_endpoint_request **out, cflight_error *err);
CFLIGHT_API int cflight_renew_flight_endpoint_request_copy(
    const cflight_renew_flight_endpoint_request *r, cflight_renew_flight_endpoint_request **out,
    cflight_error *err);
CFLIGHT_API bool cflight_renew_flight_endpoint_request_equals(
    const cflight_renew_flight_endpoint_request *a, const cflight_renew_flight_endpoint_request *b);
CFLIGHT_API void cflight_renew_flight_endpoint_request_free(
    cflight_renew_flight_endpoint_request *r);

/* ---- Session options
 * ---------------------------------------------------------------------------------- Options of a
 * server-side session, set and read with the actions CFLIGHT_ACTION_SET_SESSION_OPTIONS, _GET_ and
 * CFLIGHT_ACTION_CLOSE_SESSION. Requests and results hold name -> value maps, kept sorted by name,
 * one entry per name (a later entry for a name replaces an earlier one, when setting and when
 * deserializing). */

typedef enum cflight_session_option_type {
  CFLIGHT_SESSION_OPTION_UNSET = 0, /* no value: setting it unsets the option */
  CFLIGHT_SESSION_OPTION_STRING = 1,
  CFLIGHT_SESSION_OPTION_BOOL = 2,
  CFLIGHT_SESSION_OPTION_INT64 = 3,
  CFLIGHT_SESSION_OPTION_DOUBLE = 4,
  CFLIGHT_SESSION_OPTION_STRING_LIST = 5,
} cflight_session_option_type;

/* Values of each type. Strings are copied and must be UTF-8 (otherwise
 * CFLIGHT_INVALID_ARGUMENT); the list has n strings (n may be 0). */
CFLIGHT_API int cflight_session_option_value_new_unset(cflight_session_option_value **out,
                                                       cflight_error *err);
CFLIGHT_API int cflight_session_option_value_new_string(const char *value,
                                                        cflight_session_option_value **out,
                                                        cflight_error *err);
CFLIGHT_API int cflight_session_option_value_new_bool(bool value,
                                                      cflight_session_option_value **out,
                                                      cflight_error *err);
CFLIGHT_API int cflight_session_option_value_new_int64(int64_t value,
                                                       cflight_session_option_value **out,
                                                       cflight_error *err);
CFLIGHT_API int cflight_session_option_value_new_double(double value,
                                                        cflight_session_option_value **out,
                                                        cflight_error *err);
CFLIGHT_API int cflight_session_option_value_new_string_list(const char *const *values, size_t n,
                                                             cflight_session_option_value **out,
                                                             cflight_error *err);

/* Which member the value holds. */
CFLIGHT_API cflight_session_option_type
cflight_session_option_value_get_type(const cflight_session_option_value *v);

/* The held value; each returns a zero value (NULL, false, 0, 0.0, 0 items)
 * when v holds another type. Strings are owned by v. */
CFLIGHT_API const char *cflight_session_option_value_string(const cflight_session_option_value *v);
CFLIGHT_API bool cflight_session_option_value_bool(const cflight_session_option_value *v);
CFLIGHT_API int64_t cflight_session_option_value_int64(const cflight_session_option_value *v);
CFLIGHT_API double cflight_session_option_value_double(const cflight_session_option_value *v);
CFLIGHT_API size_t
cflight_session_option_value_string_list_count(const cflight_session_option_value *v);
CFLIGHT_API const char *cflight_session_option_value_string_list_item(
    const cflight_session_option_value *v, size_t i);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_session_option_value_serialize(const cflight_session_option_value *v,
                                                       cflight_buffer **out, cflight_error *err);
CFLIGHT_API int cflight_session_option_value_deserialize(const void *data, size_t size,
                                                         cflight_session_option_value **out,
                                                         cflight_error *err);
CFLIGHT_API int cflight_session_option_value_copy(const cflight_session_option_value *v,
                                                  cflight_session_option_value **out,
                                                  cflight_error *err);
CFLIGHT_API bool cflight_session_option_value_equals(const cflight_session_option_value *a,
                                                     const cflight_session_option_value *b);
CFLIGHT_API void cflight_session_option_value_free(cflight_session_option_value *v);

/* SetSessionOptionsRequest: an empty request, and a setter adding (or
 * replacing) option `name` with a copy of value. CFLIGHT_INVALID_ARGUMENT
 * for a NULL or non-UTF-8 name or a NULL value. */
CFLIGHT_API int cflight_set_session_options_request_new(cflight_set_session_options_request **out,
                                                        cflight_error *err);
CFLIGHT_API int cflight_set_session_options_request_set(cflight_set_session_options_request *r,
                                                        const char *name,
                                                        const cflight_session_option_value *value,
                                                        cflight_error *err);
/* The number of options, the name and value of option i (in name order;
 * owned by r), and the value of `name` (NULL when absent). */
CFLIGHT_API size_t
cflight_set_session_options_request_count(const cflight_set_session_options_request *r);
CFLIGHT_API const char *cflight_set_session_options_request_name(
    const cflight_set_session_options_request *r, size_t i);
CFLIGHT_API const cflight_session_option_value *cflight_set_session_options_request_value(
    const cflight_set_session_options_request *r, size_t i);
CFLIGHT_API const cflight_session_option_value *cflight_set_session_options_request_find(
    const cflight_set_session_options_request *r, const char *name);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_set_session_options_request_serialize(
    const cflight_set_session_options_request *r, cflight_buffer **out, cflight_error *err);
CFLIGHT_API int cflight_set_session_options_request_deserialize(
    const void *data, size_t size, cflight_set_session_options_request **out, cflight_error *err);
CFLIGHT_API int cflight_set_session_options_request_copy(
    const cflight_set_session_options_request *r, cflight_set_session_options_request **out,
    cflight_error *err);
CFLIGHT_API bool cflight_set_session_options_request_equals(
    const cflight_set_session_options_request *a, const cflight_set_session_options_request *b);
CFLIGHT_API void cflight_set_session_options_request_free(cflight_set_session_options_request *r);

/* Why an option could not be set. A peer may send a value this version does
 * not know; it is kept as is. */
typedef enum cflight_set_session_option_error {
  CFLIGHT_SET_SESSION_OPTION_ERROR_UNSPECIFIED = 0,
  CFLIGHT_SET_SESSION_OPTION_ERROR_INVALID_NAME = 1,
  CFLIGHT_SET_SESSION_OPTION_ERROR_INVALID_VALUE = 2,
  CFLIGHT_SET_SESSION_OPTION_ERROR_ERROR = 3,
} cflight_set_session_option_error;

/* SetSessionOptionsResult: the options that could not be set, and why.
 * An empty result, and a setter adding (or replacing) the error of `name`. */
CFLIGHT_API int cflight_set_session_options_result_new(cflight_set_session_options_result **out,
                                                       cflight_error *err);
CFLIGHT_API int cflight_set_session_options_result_set_error(cflight_set_session_options_result *r,
                                                             const char *name,
                                                             cflight_set_session_option_error error,
                                                             cflight_error *err);
/* The number of errors, the name and error of entry i (in name order), and
 * the error of `name` (false when it has none). */
CFLIGHT_API size_t
cflight_set_session_options_result_count(const cflight_set_session_options_result *r);
CFLIGHT_API const char *cflight_set_session_options_result_name(
    const cflight_set_session_options_result *r, size_t i);
CFLIGHT_API cflight_set_session_option_error
cflight_set_session_options_result_error(const cflight_set_session_options_result *r, size_t i);
CFLIGHT_API bool cflight_set_session_options_result_find(
    const cflight_set_session_options_result *r, const char *name,
    cflight_set_session_option_error *out);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_set_session_options_result_serialize(
    const cflight_set_session_options_result *r, cflight_buffer **out, cflight_error *err);
CFLIGHT_API int cflight_set_session_options_result_deserialize(
    const void *data, size_t size, cflight_set_session_options_result **out, cflight_error *err);
CFLIGHT_API int cflight_set_session_options_result_copy(const cflight_set_session_options_result *r,
                                                        cflight_set_session_options_result **out,
                                                        cflight_error *err);
CFLIGHT_API bool cflight_set_session_options_result_equals(
    const cflight_set_session_options_result *a, const cflight_set_session_options_result *b);
CFLIGHT_API void cflight_set_session_options_result_free(cflight_set_session_options_result *r);

/* GetSessionOptionsRequest: an empty message. */
CFLIGHT_API int cflight_get_session_options_request_new(cflight_get_session_options_request **out,
                                                        cflight_error *err);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_get_session_options_request_serialize(
    const cflight_get_session_options_request *r, cflight_buffer **out, cflight_error *err);
CFLIGHT_API int cflight_get_session_options_request_deserialize(
    const void *data, size_t size, cflight_get_session_options_request **out, cflight_error *err);
CFLIGHT_API int cflight_get_session_options_request_copy(
    const cflight_get_session_options_request *r, cflight_get_session_options_request **out,
    cflight_error *err);
CFLIGHT_API bool cflight_get_session_options_request_equals(
    const cflight_get_session_options_request *a, const cflight_get_session_options_request *b);
CFLIGHT_API void cflight_get_session_options_request_free(cflight_get_session_options_request *r);

/* GetSessionOptionsResult: the session's options, with the same functions
 * as SetSessionOptionsRequest. */
CFLIGHT_API int cflight_get_session_options_result_new(cflight_get_session_options_result **out,
                                                       cflight_error *err);
CFLIGHT_API int cflight_get_session_options_result_set(cflight_get_session_options_result *r,
                                                       const char *name,
                                                       const cflight_session_option_value *value,
                                                       cflight_error *err);
CFLIGHT_API size_t
cflight_get_session_options_result_count(const cflight_get_session_options_result *r);
CFLIGHT_API const char *cflight_get_session_options_result_name(
    const cflight_get_session_options_result *r, size_t i);
CFLIGHT_API const cflight_session_option_value *cflight_get_session_options_result_value(
    const cflight_get_session_options_result *r, size_t i);
CFLIGHT_API const cflight_session_option_value *cflight_get_session_options_result_find(
    const cflight_get_session_options_result *r, const char *name);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_get_session_options_result_serialize(
    const cflight_get_session_options_result *r, cflight_buffer **out, cflight_error *err);
CFLIGHT_API int cflight_get_session_options_result_deserialize(
    const void *data, size_t size, cflight_get_session_options_result **out, cflight_error *err);
CFLIGHT_API int cflight_get_session_options_result_copy(const cflight_get_session_options_result *r,
                                                        cflight_get_session_options_result **out,
                                                        cflight_error *err);
CFLIGHT_API bool cflight_get_session_options_result_equals(
    const cflight_get_session_options_result *a, const cflight_get_session_options_result *b);
CFLIGHT_API void cflight_get_session_options_result_free(cflight_get_session_options_result *r);

/* CloseSessionRequest: an empty message. */
CFLIGHT_API int cflight_close_session_request_new(cflight_close_session_request **out,
                                                  cflight_error *err);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_close_session_request_serialize(const cflight_close_session_request *r,
                                                        cflight_buffer **out, cflight_error *err);
CFLIGHT_API int cflight_close_session_request_deserialize(const void *data, size_t size,
                                                          cflight_close_session_request **out,
                                                          cflight_error *err);
CFLIGHT_API int cflight_close_session_request_copy(const cflight_close_session_request *r,
                                                   cflight_close_session_request **out,
                                                   cflight_error *err);
CFLIGHT_API bool cflight_close_session_request_equals(const cflight_close_session_request *a,
                                                      const cflight_close_session_request *b);
CFLIGHT_API void cflight_close_session_request_free(cflight_close_session_request *r);

/* How closing a session went. A peer may send a value this version does
 * not know; it is kept as is. */
typedef enum cflight_close_session_status {
  CFLIGHT_CLOSE_SESSION_STATUS_UNSPECIFIED = 0,
  CFLIGHT_CLOSE_SESSION_STATUS_CLOSED = 1,
  CFLIGHT_CLOSE_SESSION_STATUS_CLOSING = 2,       /* under way; the client may retry */
  CFLIGHT_CLOSE_SESSION_STATUS_NOT_CLOSEABLE = 3, /* the client should not retry */
} cflight_close_session_status;

/* CloseSessionResult: a status. */
CFLIGHT_API int cflight_close_session_result_new(cflight_close_session_status status,
                                                 cflight_close_session_result **out,
                                                 cflight_error *err);
CFLIGHT_API cflight_close_session_status
cflight_close_session_result_status(const cflight_close_session_result *r);

/* The five common functions (see the top of this file). */
CFLIGHT_API int cflight_close_session_result_serialize(const cflight_close_session_result *r,
                                                       cflight_buffer **out, cflight_error *err);
CFLIGHT_API int cflight_close_session_result_deserialize(const void *data, size_t size,
                                                         cflight_close_session_result **out,
                                                         cflight_error *err);
CFLIGHT_API int cflight_close_session_result_copy(const cflight_close_session_result *r,
                                                  cflight_close_session_result **out,
                                                  cflight_error *err);
CFLIGHT_API bool cflight_close_session_result_equals(const cflight_close_session_result *a,
                                                     const cflight_close_session_result *b);
CFLIGHT_API void cflight_close_session_result_free(cflight_close_session_result *r);

#ifdef __cplusplus
}
#endif

#endif /* CFLIGHT_FLIGHT_H */
