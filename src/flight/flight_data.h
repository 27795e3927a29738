/* FlightData on the data path, framed by hand rather than through
 * protobuf-c: encoding writes only the protobuf tags and lengths and points
 * at the IPC payload's own bytes; decoding reads the fields straight out of
 * the transport's slices and keeps the body where it is whenever it can.
 * Plus the same for PutResult, and helpers that turn any Flight message
 * object into an outgoing message or back (for the rpc layer).
 *
 * FlightData's fields (the Flight specification's numbers):
 *   1 flight_descriptor (message)  2 data_header (bytes)
 *   3 app_metadata (bytes)         1000 data_body (bytes)
 * Encoding writes them in that order, as protobuf-c does, and omits empty
 * ones, as proto3 does. */
#ifndef CF_FLIGHT_DATA_H
#define CF_FLIGHT_DATA_H

#include <protobuf-c/protobuf-c.h>

#include "base/base.h"
#include "transport/transport.h"

/* ---- Encoding ------------------------------------------------------------------------ */

/* Encodes a FlightData message into *out. descriptor is borrowed (its
 * encoding is copied into the message's small header block; NULL: none).
 * payload (NULL: none) and app_metadata (a reference; NULL: none) are moved
 * in, whatever the result: on success out->done frees them once the
 * transport is done with the pieces, on failure they are freed before
 * returning. The pieces are the header block's parts (tags and lengths),
 * the payload's metadata bytes, the app_metadata bytes and the payload's
 * body pieces themselves: the body is not copied.
 * CFLIGHT_INVALID_ARGUMENT when the message would exceed gRPC's 4 GiB limit. */
int cf_flight_data_encode(const cflight_descriptor *descriptor, cflight_ipc_payload *payload,
                          cflight_buffer *app_metadata, cf_out_msg *out, cflight_error *err);

/* The same with the IPC message given as pieces: header (the flatbuffer
 * Message; empty: none) and body pieces (their sizes sum to the body
 * length), borrowed until release(release_ctx) is called, which happens
 * exactly once: from out->done, or before returning on failure. release
 * may be NULL. app_metadata is moved in as above. */
int cf_flight_data_encode_pieces(const cflight_descriptor *descriptor, cflight_ipc_piece header,
                                 const cflight_ipc_piece *body, size_t n_body,
                                 cflight_buffer *app_metadata, void (*release)(void *ctx),
                                 void *release_ctx, cf_out_msg *out, cflight_error *err);

/* ---- Decoding ------------------------------------------------------------------------ */

/* A decoded FlightData message. Each member is NULL when its field was
 * absent or empty; each is owned by the struct (free with
 * cf_flight_data_reset). */
typedef struct cf_flight_data {
  cflight_descriptor *descriptor;
  cflight_buffer *data_header;
  cflight_buffer *app_metadata;
  cflight_buffer *data_body;
} cf_flight_data;

/* Decodes a received FlightData message from its slices. Fields may come
 * in any order; for a bytes field the last occurrence wins, and repeated
 * descriptors are merged as protobuf merges messages; unknown fields are
 * skipped. A bytes field that lies inside one slice at an 8-byte-aligned
 * address is a zero-copy slice of that slice's buffer (a large message's
 * data_body always is: the transport places such a message so that it ends
 * 64-byte aligned, and every Flight implementation writes data_body last,
 * its length a multiple of 8); otherwise it is copied once into a new
 * 64-byte-aligned buffer. msg is borrowed.
 * CFLIGHT_INVALID_DATA with the reason for truncated input, a length beyond
 * the message, a varint over 10 bytes, field number 0, a group or unknown
 * wire type, or a known field with the wrong wire type; *out is then
 * empty. */
int cf_flight_data_decode(const cf_msg *msg, cf_flight_data *out, cflight_error *err);

/* Frees the members and zeroes *fd. */
void cf_flight_data_reset(cf_flight_data *fd);

/* Bytes of received fields (FlightData's and PutResult's) that could not be
 * sliced and were copied, since the process started (for tests: the
 * transport places a large message so that its data_body needs no copy). */
uint64_t cf_flight_data_copied_bytes(void);

/* ---- PutResult --------------------------------------------------------------------- */

/* A PutResult carrying app_metadata (moved in; NULL: empty). */
int cf_put_result_encode(cflight_buffer *app_metadata, cf_out_msg *out, cflight_error *err);

/* The app_metadata of a received PutResult (*out NULL when empty), zero-copy
 * under the same rule as FlightData's fields. */
int cf_put_result_decode(const cf_msg *msg, cflight_buffer **out, cflight_error *err);

/* ---- Any Flight message --------------------------------------------------------------- */

/* Makes an outgoing message of one piece from buf (a reference, moved in
 * also on failure); done drops it. */
int cf_out_msg_from_buffer(cflight_buffer *buf, cf_out_msg *out, cflight_error *err);

/* Serializes msg, any of the message objects of include/cflight/flight.h
 * (cflight_ticket, cflight_flight_info, ...), into an outgoing message. */
int cf_flight_msg_encode(const void *msg, cf_out_msg *out, cflight_error *err);

/* Deserializes a received message as the protobuf-c type desc (e.g.
 * &arrow__flight__protocol__ticket__descriptor for a cflight_ticket), with
 * the checks of the public deserializers. The caller frees *out with the
 * type's ..._free. Reads the single slice in place; gathers several. */
int cf_flight_msg_decode(const ProtobufCMessageDescriptor *desc, const cf_msg *msg, void **out,
                         cflight_error *err);

/* The message's bytes as one buffer: a slice of the only slice's buffer,
 * or a copy of several (an empty message gives an empty buffer). */
int cf_msg_gather(const cf_msg *msg, cflight_buffer **out, cflight_error *err);

#endif /* CF_FLIGHT_DATA_H */
