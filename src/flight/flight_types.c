/* The Flight message types of include/cflight/flight.h other than locations
 * and session options: constructors, accessors and setters over the
 * protobuf-c messages (see flight_pb.h for why the objects are those). */
#include <time.h>

#include "flight/flight_pb.h"

#define PB(x) ((ProtobufCMessage *)(x))
#define CPB(x) ((const ProtobufCMessage *)(x))

static int null_output(cflight_error *err) {
  return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL output pointer");
}

/* Allocates a message of descriptor desc into *out (typed by the caller). */
static int new_message(const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
                       cflight_error *err) {
  if (out == NULL) return null_output(err);
  *out = NULL;
  return cf_pb_new(desc, out, err);
}

/* Finishes a constructor: on failure frees the half-built message. */
static int finish(int rc, ProtobufCMessage *m, void **out) {
  if (rc != CFLIGHT_OK) {
    cf_pb_free(m);
    *out = NULL;
    return rc;
  }
  *out = m;
  return CFLIGHT_OK;
}

#define FINISH(rc, m, out) finish((rc), PB(m), (void **)(out))

/* ---- Timestamps ------------------------------------------------------------------------- */

cflight_timestamp cflight_timestamp_from_ns(int64_t ns) {
  int64_t s = ns / 1000000000, r = ns % 1000000000;
  if (r < 0) s -= 1, r += 1000000000;
  return (cflight_timestamp){s, (int32_t)r};
}

int cflight_timestamp_to_ns(const cflight_timestamp *ts, int64_t *out, cflight_error *err) {
  if (ts == NULL || out == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL timestamp or output");
  }
  if (ts->nanos < 0 || ts->nanos > 999999999) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "timestamp nanos %d outside 0 .. 999999999", (int)ts->nanos);
  }
  int64_t ns;
  if (cf_mul_overflow_i64(ts->seconds, 1000000000, &ns) ||
      cf_add_overflow_i64(ns, ts->nanos, &ns)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "timestamp %lld s does not fit in int64 nanoseconds",
                             (long long)ts->seconds);
  }
  *out = ns;
  return CFLIGHT_OK;
}

cflight_timestamp cflight_timestamp_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (cflight_timestamp){(int64_t)t.tv_sec, (int32_t)t.tv_nsec};
}

static bool timestamp_get(const pb_timestamp *pb, cflight_timestamp *out) {
  if (pb == NULL) return false;
  if (out != NULL) *out = (cflight_timestamp){pb->seconds, pb->nanos};
  return true;
}

static int timestamp_set(pb_timestamp **field, const cflight_timestamp *ts, cflight_error *err) {
  if (ts == NULL) {
    cf_pb_free(PB(*field));
    *field = NULL;
    return CFLIGHT_OK;
  }
  pb_timestamp probe = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  probe.seconds = ts->seconds;
  probe.nanos = ts->nanos;
  CF_RETURN_NOT_OK(cf_timestamp_check(&probe, CFLIGHT_INVALID_ARGUMENT, err));
  if (*field == NULL) {
    ProtobufCMessage *m;
    CF_RETURN_NOT_OK(cf_pb_new(&google__protobuf__timestamp__descriptor, &m, err));
    *field = (pb_timestamp *)m;
  }
  (*field)->seconds = ts->seconds;
  (*field)->nanos = ts->nanos;
  return CFLIGHT_OK;
}

/* ---- FlightDescriptor --------------------------------------------------------------------- */

#define DESC(x) ((const pb_descriptor *)(x))

int cflight_descriptor_new_path(const char *const *parts, size_t n_parts, cflight_descriptor **out,
                                cflight_error *err) {
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(new_message(&arrow__flight__protocol__flight_descriptor__descriptor, &m, err));
  pb_descriptor *d = (pb_descriptor *)m;
  d->type = ARROW__FLIGHT__PROTOCOL__FLIGHT_DESCRIPTOR__DESCRIPTOR_TYPE__PATH;
  int rc = CFLIGHT_OK;
  if (n_parts > 0 && parts == NULL) {
    rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "descriptor: NULL path parts");
  } else if (n_parts > 0) {
    d->path = cf_calloc(n_parts, sizeof(char *));
    if (d->path == NULL) rc = CF_NOMEM(err, "descriptor path");
  }
  for (size_t i = 0; rc == CFLIGHT_OK && i < n_parts; i++) {
    if (parts[i] == NULL) {
      rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "descriptor: path part %zu is NULL", i);
      break;
    }
    /* protobuf-c frees every element of a repeated string: each must be
     * malloc'd before it is counted. */
    char *s = NULL;
    rc = cf_pb_set_string(&s, parts[i], err);
    if (rc == CFLIGHT_OK) d->path[d->n_path++] = s;
  }
  return FINISH(rc, m, out);
}

int cflight_descriptor_new_command(const void *cmd, size_t size, cflight_descriptor **out,
                                   cflight_error *err) {
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(new_message(&arrow__flight__protocol__flight_descriptor__descriptor, &m, err));
  pb_descriptor *d = (pb_descriptor *)m;
  d->type = ARROW__FLIGHT__PROTOCOL__FLIGHT_DESCRIPTOR__DESCRIPTOR_TYPE__CMD;
  return FINISH(cf_pb_set_bytes(&d->cmd, cmd, size, err), m, out);
}

cflight_descriptor_type cflight_descriptor_get_type(const cflight_descriptor *d) {
  return d != NULL ? (cflight_descriptor_type)DESC(d)->type : CFLIGHT_DESCRIPTOR_UNKNOWN;
}

size_t cflight_descriptor_path_count(const cflight_descriptor *d) {
  return d != NULL ? DESC(d)->n_path : 0;
}

const char *cflight_descriptor_path_part(const cflight_descriptor *d, size_t i) {
  return d != NULL && i < DESC(d)->n_path ? DESC(d)->path[i] : NULL;
}

const uint8_t *cflight_descriptor_command(const cflight_descriptor *d, size_t *size) {
  if (d == NULL) {
    if (size != NULL) *size = 0;
    return NULL;
  }
  return cf_pb_bytes(&DESC(d)->cmd, size);
}

CF_PB_COMMON(cflight_descriptor, arrow__flight__protocol__flight_descriptor__descriptor)

/* ---- Ticket ----------------------------------------------------------------------------- */

int cflight_ticket_new(const void *data, size_t size, cflight_ticket **out, cflight_error *err) {
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(new_message(&arrow__flight__protocol__ticket__descriptor, &m, err));
  return FINISH(cf_pb_set_bytes(&((pb_ticket *)m)->ticket, data, size, err), m, out);
}

const uint8_t *cflight_ticket_data(const cflight_ticket *t, size_t *size) {
  if (t == NULL) {
    if (size != NULL) *size = 0;
    return NULL;
  }
  return cf_pb_bytes(&((const pb_ticket *)t)->ticket, size);
}

CF_PB_COMMON(cflight_ticket, arrow__flight__protocol__ticket__descriptor)

/* ---- FlightEndpoint ------------------------------------------------------------------------ */

#define EP(x) ((pb_endpoint *)(x))
#define CEP(x) ((const pb_endpoint *)(x))

int cflight_endpoint_new(const cflight_ticket *ticket, const cflight_location *const *locations,
                         size_t n_locations, cflight_endpoint **out, cflight_error *err) {
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(new_message(&arrow__flight__protocol__flight_endpoint__descriptor, &m, err));
  pb_endpoint *e = (pb_endpoint *)m;
  int rc = cf_pb_set_message((ProtobufCMessage **)&e->ticket, CPB(ticket), err);
  if (rc == CFLIGHT_OK && n_locations > 0 && locations == NULL) {
    rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "endpoint: NULL locations");
  }
  for (size_t i = 0; rc == CFLIGHT_OK && i < n_locations; i++) {
    rc = cf_pb_append_message(&e->n_location, &e->location, CPB(locations[i]), err);
  }
  return FINISH(rc, m, out);
}

const cflight_ticket *cflight_endpoint_ticket(const cflight_endpoint *e) {
  return e != NULL ? (const cflight_ticket *)CEP(e)->ticket : NULL;
}

size_t cflight_endpoint_location_count(const cflight_endpoint *e) {
  return e != NULL ? CEP(e)->n_location : 0;
}

const cflight_location *cflight_endpoint_location(const cflight_endpoint *e, size_t i) {
  return e != NULL && i < CEP(e)->n_location ? (const cflight_location *)CEP(e)->location[i] : NULL;
}

int cflight_endpoint_add_location(cflight_endpoint *e, const cflight_location *loc,
                                  cflight_error *err) {
  if (e == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL endpoint");
  return cf_pb_append_message(&EP(e)->n_location, &EP(e)->location, CPB(loc), err);
}

int cflight_endpoint_set_ticket(cflight_endpoint *e, const cflight_ticket *t, cflight_error *err) {
  if (e == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL endpoint");
  return cf_pb_set_message((ProtobufCMessage **)&EP(e)->ticket, CPB(t), err);
}

bool cflight_endpoint_expiration_time(const cflight_endpoint *e, cflight_timestamp *out) {
  return e != NULL && timestamp_get(CEP(e)->expiration_time, out);
}

int cflight_endpoint_set_expiration_time(cflight_endpoint *e, const cflight_timestamp *ts,
                                         cflight_error *err) {
  if (e == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL endpoint");
  return timestamp_set(&EP(e)->expiration_time, ts, err);
}

const uint8_t *cflight_endpoint_app_metadata(const cflight_endpoint *e, size_t *size) {
  if (e == NULL) {
    if (size != NULL) *size = 0;
    return NULL;
  }
  return cf_pb_bytes(&CEP(e)->app_metadata, size);
}

int cflight_endpoint_set_app_metadata(cflight_endpoint *e, const void *data, size_t size,
                                      cflight_error *err) {
  if (e == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL endpoint");
  return cf_pb_set_bytes(&EP(e)->app_metadata, data, size, err);
}

CF_PB_COMMON(cflight_endpoint, arrow__flight__protocol__flight_endpoint__descriptor)

/* ---- FlightInfo ------------------------------------------------------------------------------ */

#define INFO(x) ((pb_flight_info *)(x))
#define CINFO(x) ((const pb_flight_info *)(x))

int cflight_flight_info_new(cflight_flight_info **out, cflight_error *err) {
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(new_message(&arrow__flight__protocol__flight_info__descriptor, &m, err));
  INFO(m)->total_records = -1;
  INFO(m)->total_bytes = -1;
  *out = (cflight_flight_info *)m;
  return CFLIGHT_OK;
}

const uint8_t *cflight_flight_info_schema_bytes(const cflight_flight_info *info, size_t *size) {
  if (info == NULL) {
    if (size != NULL) *size = 0;
    return NULL;
  }
  return cf_pb_bytes(&CINFO(info)->schema, size);
}

int cflight_flight_info_set_schema_bytes(cflight_flight_info *info, const void *data, size_t size,
                                         cflight_error *err) {
  if (info == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL FlightInfo");
  return cf_pb_set_bytes(&INFO(info)->schema, data, size, err);
}

const cflight_descriptor *cflight_flight_info_descriptor(const cflight_flight_info *info) {
  return info != NULL ? (const cflight_descriptor *)CINFO(info)->flight_descriptor : NULL;
}

int cflight_flight_info_set_descriptor(cflight_flight_info *info, const cflight_descriptor *d,
                                       cflight_error *err) {
  if (info == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL FlightInfo");
  return cf_pb_set_message((ProtobufCMessage **)&INFO(info)->flight_descriptor, CPB(d), err);
}

size_t cflight_flight_info_endpoint_count(const cflight_flight_info *info) {
  return info != NULL ? CINFO(info)->n_endpoint : 0;
}

const cflight_endpoint *cflight_flight_info_endpoint(const cflight_flight_info *info, size_t i) {
  return info != NULL && i < CINFO(info)->n_endpoint
             ? (const cflight_endpoint *)CINFO(info)->endpoint[i]
             : NULL;
}

int cflight_flight_info_add_endpoint(cflight_flight_info *info, const cflight_endpoint *e,
                                     cflight_error *err) {
  if (info == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL FlightInfo");
  return cf_pb_append_message(&INFO(info)->n_endpoint, &INFO(info)->endpoint, CPB(e), err);
}

int64_t cflight_flight_info_total_records(const cflight_flight_info *info) {
  return info != NULL ? CINFO(info)->total_records : -1;
}

int64_t cflight_flight_info_total_bytes(const cflight_flight_info *info) {
  return info != NULL ? CINFO(info)->total_bytes : -1;
}

void cflight_flight_info_set_total_records(cflight_flight_info *info, int64_t n) {
  if (info != NULL) INFO(info)->total_records = n;
}

void cflight_flight_info_set_total_bytes(cflight_flight_info *info, int64_t n) {
  if (info != NULL) INFO(info)->total_bytes = n;
}

bool cflight_flight_info_ordered(const cflight_flight_info *info) {
  return info != NULL && CINFO(info)->ordered;
}

void cflight_flight_info_set_ordered(cflight_flight_info *info, bool ordered) {
  if (info != NULL) INFO(info)->ordered = ordered;
}

const uint8_t *cflight_flight_info_app_metadata(const cflight_flight_info *info, size_t *size) {
  if (info == NULL) {
    if (size != NULL) *size = 0;
    return NULL;
  }
  return cf_pb_bytes(&CINFO(info)->app_metadata, size);
}

int cflight_flight_info_set_app_metadata(cflight_flight_info *info, const void *data, size_t size,
                                         cflight_error *err) {
  if (info == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL FlightInfo");
  return cf_pb_set_bytes(&INFO(info)->app_metadata, data, size, err);
}

CF_PB_COMMON(cflight_flight_info, arrow__flight__protocol__flight_info__descriptor)

/* ---- PollInfo -------------------------------------------------------------------------------- */

#define POLL(x) ((pb_poll_info *)(x))
#define CPOLL(x) ((const pb_poll_info *)(x))

int cflight_poll_info_new(cflight_poll_info **out, cflight_error *err) {
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(new_message(&arrow__flight__protocol__poll_info__descriptor, &m, err));
  *out = (cflight_poll_info *)m;
  return CFLIGHT_OK;
}

const cflight_flight_info *cflight_poll_info_info(const cflight_poll_info *p) {
  return p != NULL ? (const cflight_flight_info *)CPOLL(p)->info : NULL;
}

int cflight_poll_info_set_info(cflight_poll_info *p, const cflight_flight_info *info,
                               cflight_error *err) {
  if (p == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL PollInfo");
  return cf_pb_set_message((ProtobufCMessage **)&POLL(p)->info, CPB(info), err);
}

const cflight_descriptor *cflight_poll_info_descriptor(const cflight_poll_info *p) {
  return p != NULL ? (const cflight_descriptor *)CPOLL(p)->flight_descriptor : NULL;
}

int cflight_poll_info_set_descriptor(cflight_poll_info *p, const cflight_descriptor *d,
                                     cflight_error *err) {
  if (p == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL PollInfo");
  return cf_pb_set_message((ProtobufCMessage **)&POLL(p)->flight_descriptor, CPB(d), err);
}

bool cflight_poll_info_progress(const cflight_poll_info *p, double *out) {
  if (p == NULL || CPOLL(p)->progress_known_case !=
                       ARROW__FLIGHT__PROTOCOL__POLL_INFO__PROGRESS_KNOWN_PROGRESS) {
    return false;
  }
  if (out != NULL) *out = CPOLL(p)->progress;
  return true;
}

int cflight_poll_info_set_progress(cflight_poll_info *p, double progress, cflight_error *err) {
  if (p == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL PollInfo");
  if (!(progress >= 0.0 && progress <= 1.0)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "PollInfo progress %g outside 0 .. 1",
                             progress);
  }
  POLL(p)->progress_known_case = ARROW__FLIGHT__PROTOCOL__POLL_INFO__PROGRESS_KNOWN_PROGRESS;
  POLL(p)->progress = progress;
  return CFLIGHT_OK;
}

void cflight_poll_info_clear_progress(cflight_poll_info *p) {
  if (p == NULL) return;
  POLL(p)->progress_known_case = ARROW__FLIGHT__PROTOCOL__POLL_INFO__PROGRESS_KNOWN__NOT_SET;
  POLL(p)->progress = 0;
}

bool cflight_poll_info_expiration_time(const cflight_poll_info *p, cflight_timestamp *out) {
  return p != NULL && timestamp_get(CPOLL(p)->expiration_time, out);
}

int cflight_poll_info_set_expiration_time(cflight_poll_info *p, const cflight_timestamp *ts,
                                          cflight_error *err) {
  if (p == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "NULL PollInfo");
  return timestamp_set(&POLL(p)->expiration_time, ts, err);
}

CF_PB_COMMON(cflight_poll_info, arrow__flight__protocol__poll_info__descriptor)

/* ---- Messages of one bytes field ---------------------------------------------------------------
 */

/* Constructor and accessor of a message whose content is one bytes field. */
#define ONE_BYTES_FIELD(T, PBT, DESC, FIELD, ACCESSOR)                           \
  int T##_new(const void *data, size_t size, T **out, cflight_error *err) {      \
    ProtobufCMessage *m;                                                         \
    CF_RETURN_NOT_OK(new_message(&DESC, &m, err));                               \
    return FINISH(cf_pb_set_bytes(&((PBT *)m)->FIELD, data, size, err), m, out); \
  }                                                                              \
  const uint8_t *ACCESSOR(const T *x, size_t *size) {                            \
    if (x == NULL) {                                                             \
      if (size != NULL) *size = 0;                                               \
      return NULL;                                                               \
    }                                                                            \
    return cf_pb_bytes(&((const PBT *)x)->FIELD, size);                          \
  }                                                                              \
  CF_PB_COMMON(T, DESC)

ONE_BYTES_FIELD(cflight_criteria, Arrow__Flight__Protocol__Criteria,
                arrow__flight__protocol__criteria__descriptor, expression,
                cflight_criteria_expression)
ONE_BYTES_FIELD(cflight_result, Arrow__Flight__Protocol__Result,
                arrow__flight__protocol__result__descriptor, body, cflight_result_body)
ONE_BYTES_FIELD(cflight_schema_result, Arrow__Flight__Protocol__SchemaResult,
                arrow__flight__protocol__schema_result__descriptor, schema,
                cflight_schema_result_schema_bytes)
ONE_BYTES_FIELD(cflight_put_result, Arrow__Flight__Protocol__PutResult,
                arrow__flight__protocol__put_result__descriptor, app_metadata,
                cflight_put_result_app_metadata)

/* ---- Action, ActionType, BasicAuth
 * ---------------------------------------------------------------- */

typedef Arrow__Flight__Protocol__Action pb_action;
typedef Arrow__Flight__Protocol__ActionType pb_action_type;
typedef Arrow__Flight__Protocol__BasicAuth pb_basic_auth;

int cflight_action_new(const char *type, const void *body, size_t size, cflight_action **out,
                       cflight_error *err) {
  if (type == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "action: NULL type");
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(new_message(&arrow__flight__protocol__action__descriptor, &m, err));
  pb_action *a = (pb_action *)m;
  int rc = cf_pb_set_string(&a->type, type, err);
  if (rc == CFLIGHT_OK) rc = cf_pb_set_bytes(&a->body, body, size, err);
  return FINISH(rc, m, out);
}

const char *cflight_action_get_type(const cflight_action *a) {
  return a != NULL ? ((const pb_action *)a)->type : NULL;
}

const uint8_t *cflight_action_body(const cflight_action *a, size_t *size) {
  if (a == NULL) {
    if (size != NULL) *size = 0;
    return NULL;
  }
  return cf_pb_bytes(&((const pb_action *)a)->body, size);
}

CF_PB_COMMON(cflight_action, arrow__flight__protocol__action__descriptor)

int cflight_action_type_new(const char *type, const char *description, cflight_action_type **out,
                            cflight_error *err) {
  if (type == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "action type: NULL type");
  }
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(new_message(&arrow__flight__protocol__action_type__descriptor, &m, err));
  pb_action_type *t = (pb_action_type *)m;
  int rc = cf_pb_set_string(&t->type, type, err);
  if (rc == CFLIGHT_OK) rc = cf_pb_set_string(&t->description, description, err);
  return FINISH(rc, m, out);
}

const char *cflight_action_type_get_type(const cflight_action_type *t) {
  return t != NULL ? ((const pb_action_type *)t)->type : NULL;
}

const char *cflight_action_type_description(const cflight_action_type *t) {
  return t != NULL ? ((const pb_action_type *)t)->description : NULL;
}

CF_PB_COMMON(cflight_action_type, arrow__flight__protocol__action_type__descriptor)

int cflight_basic_auth_new(const char *username, const char *password, cflight_basic_auth **out,
                           cflight_error *err) {
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(new_message(&arrow__flight__protocol__basic_auth__descriptor, &m, err));
  pb_basic_auth *a = (pb_basic_auth *)m;
  int rc = cf_pb_set_string(&a->username, username, err);
  if (rc == CFLIGHT_OK) rc = cf_pb_set_string(&a->password, password, err);
  return FINISH(rc, m, out);
}

const char *cflight_basic_auth_username(const cflight_basic_auth *a) {
  return a != NULL ? ((const pb_basic_auth *)a)->username : NULL;
}

const char *cflight_basic_auth_password(const cflight_basic_auth *a) {
  return a != NULL ? ((const pb_basic_auth *)a)->password : NULL;
}

CF_PB_COMMON(cflight_basic_auth, arrow__flight__protocol__basic_auth__descriptor)

/* ---- Handshake
 * ------------------------------------------------------------------------------------ */

#define HANDSHAKE(T, PBT, DESC)                                                       \
  int T##_new(uint64_t protocol_version, const void *payload, size_t size, T **out,   \
              cflight_error *err) {                                                   \
    ProtobufCMessage *m;                                                              \
    CF_RETURN_NOT_OK(new_message(&DESC, &m, err));                                    \
    ((PBT *)m)->protocol_version = protocol_version;                                  \
    return FINISH(cf_pb_set_bytes(&((PBT *)m)->payload, payload, size, err), m, out); \
  }                                                                                   \
  uint64_t T##_protocol_version(const T *h) {                                         \
    return h != NULL ? ((const PBT *)h)->protocol_version : 0;                        \
  }                                                                                   \
  const uint8_t *T##_payload(const T *h, size_t *size) {                              \
    if (h == NULL) {                                                                  \
      if (size != NULL) *size = 0;                                                    \
      return NULL;                                                                    \
    }                                                                                 \
    return cf_pb_bytes(&((const PBT *)h)->payload, size);                             \
  }                                                                                   \
  CF_PB_COMMON(T, DESC)

HANDSHAKE(cflight_handshake_request, Arrow__Flight__Protocol__HandshakeRequest,
          arrow__flight__protocol__handshake_request__descriptor)
HANDSHAKE(cflight_handshake_response, Arrow__Flight__Protocol__HandshakeResponse,
          arrow__flight__protocol__handshake_response__descriptor)

/* ---- CancelFlightInfo, RenewFlightEndpoint
 * ------------------------------------------------------------ */

typedef Arrow__Flight__Protocol__CancelFlightInfoRequest pb_cancel_request;
typedef Arrow__Flight__Protocol__CancelFlightInfoResult pb_cancel_result;
typedef Arrow__Flight__Protocol__RenewFlightEndpointRequest pb_renew_request;

int cflight_cancel_flight_info_request_new(const cflight_flight_info *info,
                                           cflight_cancel_flight_info_request **out,
                                           cflight_error *err) {
  if (info == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "CancelFlightInfo: NULL FlightInfo");
  }
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(
      new_message(&arrow__flight__protocol__cancel_flight_info_request__descriptor, &m, err));
  int rc = cf_pb_set_message((ProtobufCMessage **)&((pb_cancel_request *)m)->info, CPB(info), err);
  return FINISH(rc, m, out);
}

const cflight_flight_info *cflight_cancel_flight_info_request_info(
    const cflight_cancel_flight_info_request *r) {
  return r != NULL ? (const cflight_flight_info *)((const pb_cancel_request *)r)->info : NULL;
}

CF_PB_COMMON(cflight_cancel_flight_info_request,
             arrow__flight__protocol__cancel_flight_info_request__descriptor)

int cflight_cancel_flight_info_result_new(cflight_cancel_status status,
                                          cflight_cancel_flight_info_result **out,
                                          cflight_error *err) {
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(
      new_message(&arrow__flight__protocol__cancel_flight_info_result__descriptor, &m, err));
  ((pb_cancel_result *)m)->status = (Arrow__Flight__Protocol__CancelStatus)status;
  *out = (cflight_cancel_flight_info_result *)m;
  return CFLIGHT_OK;
}

cflight_cancel_status cflight_cancel_flight_info_result_status(
    const cflight_cancel_flight_info_result *r) {
  return r != NULL ? (cflight_cancel_status)((const pb_cancel_result *)r)->status
                   : CFLIGHT_CANCEL_STATUS_UNSPECIFIED;
}

CF_PB_COMMON(cflight_cancel_flight_info_result,
             arrow__flight__protocol__cancel_flight_info_result__descriptor)

int cflight_renew_flight_endpoint_request_new(const cflight_endpoint *endpoint,
                                              cflight_renew_flight_endpoint_request **out,
                                              cflight_error *err) {
  if (endpoint == NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "RenewFlightEndpoint: NULL endpoint");
  }
  ProtobufCMessage *m;
  CF_RETURN_NOT_OK(
      new_message(&arrow__flight__protocol__renew_flight_endpoint_request__descriptor, &m, err));
  int rc = cf_pb_set_message((ProtobufCMessage **)&((pb_renew_request *)m)->endpoint, CPB(endpoint),
                             err);
  return FINISH(rc, m, out);
}

const cflight_endpoint *cflight_renew_flight_endpoint_request_endpoint(
    const cflight_renew_flight_endpoint_request *r) {
  return r != NULL ? (const cflight_endpoint *)((const pb_renew_request *)r)->endpoint : NULL;
}

CF_PB_COMMON(cflight_renew_flight_endpoint_request,
             arrow__flight__protocol__renew_flight_endpoint_request__descriptor)
