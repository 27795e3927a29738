/* The Flight types of include/cflight/flight.h are protobuf-c messages: a
 * cflight_ticket * points at an Arrow__Flight__Protocol__Ticket, and so on,
 * so that serializing is protobuf-c's pack and every nested object an
 * accessor returns is simply the nested message. Every message tree, whether
 * protobuf-c unpacked it or we built it, is allocated with malloc in the
 * layout protobuf-c uses, so protobuf_c_message_free_unpacked frees either.
 *
 * This header holds the generic machinery (serialize, deserialize with our
 * checks, copy, equality, setters for fields) and the location URI parser
 * that validation needs. */
#ifndef CF_FLIGHT_PB_H
#define CF_FLIGHT_PB_H

#include "base/base.h"
#include "flight.pb-c.h"

/* Short names for the generated types used throughout src/flight. */
typedef Arrow__Flight__Protocol__FlightDescriptor pb_descriptor;
typedef Arrow__Flight__Protocol__Ticket pb_ticket;
typedef Arrow__Flight__Protocol__Location pb_location;
typedef Arrow__Flight__Protocol__FlightEndpoint pb_endpoint;
typedef Arrow__Flight__Protocol__FlightInfo pb_flight_info;
typedef Arrow__Flight__Protocol__PollInfo pb_poll_info;
typedef Google__Protobuf__Timestamp pb_timestamp;
typedef Arrow__Flight__Protocol__SessionOptionValue pb_option_value;

/* A new message of type desc, initialised to its defaults (malloc'd). */
int cf_pb_new(const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out, cflight_error *err);

/* Frees a message tree (NULL-safe). */
void cf_pb_free(ProtobufCMessage *m);

/* m's encoding in a new buffer. */
int cf_pb_serialize(const ProtobufCMessage *m, cflight_buffer **out, cflight_error *err);

/* Unpacks bytes as a message of type desc and applies our checks (see
 * cf_pb_check). CFLIGHT_INVALID_DATA naming the type on malformed input. */
int cf_pb_deserialize(const ProtobufCMessageDescriptor *desc, const void *data, size_t size,
                      ProtobufCMessage **out, cflight_error *err);

/* A deep copy of m. */
int cf_pb_copy(const ProtobufCMessage *m, ProtobufCMessage **out, cflight_error *err);

/* Field-by-field equality of two messages of the same type; unknown fields
 * are ignored. Two NULLs are equal. */
bool cf_pb_equal(const ProtobufCMessage *a, const ProtobufCMessage *b);

/* Walks a message tree: every string must be UTF-8, and each Flight type's
 * own rules hold (descriptor type, timestamp nanos, location URIs, progress
 * range); maps are sorted by key with duplicates dropped (the last one
 * wins) and missing map values filled in. `code` is the error code to use
 * (CFLIGHT_INVALID_DATA for a peer's bytes). */
int cf_pb_check(ProtobufCMessage *m, int code, cflight_error *err);

/* Field setters that keep the malloc ownership rule. */
int cf_pb_set_bytes(ProtobufCBinaryData *field, const void *data, size_t size, cflight_error *err);
int cf_pb_set_string(char **field, const char *s, cflight_error *err);
/* Replaces *field (a nested message pointer) with a copy of m (NULL clears it). */
int cf_pb_set_message(ProtobufCMessage **field, const ProtobufCMessage *m, cflight_error *err);
/* Appends a copy of m to a repeated message field (*n elements at *array). */
int cf_pb_append_message(size_t *n, void *array, const ProtobufCMessage *m, cflight_error *err);

/* The bytes of a bytes field, NULL with size 0 when empty. */
static inline const uint8_t *cf_pb_bytes(const ProtobufCBinaryData *b, size_t *size) {
  if (size != NULL) *size = b->len;
  return b->len > 0 ? b->data : NULL;
}

bool cf_utf8_valid(const char *s, size_t n);

/* Defines the five functions every public message type has (serialize,
 * deserialize, copy, equals, free) for type T, a protobuf-c message of
 * descriptor DESC. */
#define CF_PB_COMMON(T, DESC)                                                       \
  int T##_serialize(const T *x, cflight_buffer **out, cflight_error *err) {         \
    return cf_pb_serialize((const ProtobufCMessage *)x, out, err);                  \
  }                                                                                 \
  int T##_deserialize(const void *data, size_t size, T **out, cflight_error *err) { \
    ProtobufCMessage *m = NULL;                                                     \
    int rc = cf_pb_deserialize(&DESC, data, size, out != NULL ? &m : NULL, err);    \
    if (out != NULL) *out = (T *)m;                                                 \
    return rc;                                                                      \
  }                                                                                 \
  int T##_copy(const T *x, T **out, cflight_error *err) {                           \
    ProtobufCMessage *m = NULL;                                                     \
    int rc = cf_pb_copy((const ProtobufCMessage *)x, out != NULL ? &m : NULL, err); \
    if (out != NULL) *out = (T *)m;                                                 \
    return rc;                                                                      \
  }                                                                                 \
  bool T##_equals(const T *a, const T *b) {                                         \
    return cf_pb_equal((const ProtobufCMessage *)a, (const ProtobufCMessage *)b);   \
  }                                                                                 \
  void T##_free(T *x) {                                                             \
    cf_pb_free((ProtobufCMessage *)x);                                              \
  }

/* ---- Location URIs ------------------------------------------------------------- */

typedef struct cf_uri {
  cflight_scheme scheme;
  const char *host; /* inside the URI; without brackets for IPv6 */
  size_t host_len;
  int port;         /* -1 when absent */
  const char *path; /* inside the URI, not yet percent-decoded */
  size_t path_len;
} cf_uri;

/* Parses and checks a location URI; errors use `code`. */
int cf_uri_parse(const char *uri, cf_uri *out, int code, cflight_error *err);

/* Checks a timestamp's nanos; errors use `code`. */
int cf_timestamp_check(const pb_timestamp *ts, int code, cflight_error *err);

#endif /* CF_FLIGHT_PB_H */
