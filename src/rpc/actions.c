/* The actions the Flight specification defines (CancelFlightInfo,
 * RenewFlightEndpoint, the session options): each is a DoAction whose
 * body is the request message and whose one Result carries the response
 * message. Client calls, and the server's helpers to decode the requests
 * and encode the results. */
#include <stdio.h>

#include "rpc/rpc.h"

/* ---- Client ---------------------------------------------------------------------------------- */

/* DoAction(type, req's bytes); decodes the first Result's body as
 * resp_desc and reads the rest of the stream. req may be NULL for an empty
 * request of req_desc. */
static int typed_action(cflight_client *c, const char *type, const void *req,
                        const ProtobufCMessageDescriptor *req_desc,
                        const cflight_call_options *opts,
                        const ProtobufCMessageDescriptor *resp_desc, void **out,
                        cflight_error *err) {
  if (out == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "%s: NULL output", type);
  *out = NULL;
  ProtobufCMessage *empty = NULL;
  if (req == NULL) {
    CF_RETURN_NOT_OK(cf_pb_new(req_desc, &empty, err));
    req = empty;
  }
  cflight_buffer *body = NULL;
  int rc = cf_pb_serialize(req, &body, err);
  cf_pb_free(empty);
  cflight_action *action = NULL;
  if (rc == CFLIGHT_OK)
    rc = cflight_action_new(type, cflight_buffer_data(body), cflight_buffer_size(body), &action,
                            err);
  cflight_buffer_unref(body);
  cflight_result_iter *it = NULL;
  if (rc == CFLIGHT_OK) rc = cflight_client_do_action(c, action, opts, &it, err);
  cflight_action_free(action);
  if (rc != CFLIGHT_OK) return rc;
  cflight_result *r = NULL;
  rc = cflight_result_iter_next(it, &r, err);
  if (rc == CFLIGHT_OK && r == NULL)
    rc = cflight_error_set(err, CFLIGHT_INTERNAL, "%s: the server sent no result", type);
  if (rc == CFLIGHT_OK) {
    size_t size = 0;
    const uint8_t *data = cflight_result_body(r, &size);
    ProtobufCMessage *m = NULL;
    rc = cf_pb_deserialize(resp_desc, data, size, &m, err);
    *out = m;
  }
  cflight_result_free(r);
  /* Read to the end, so that the call's status is seen. */
  while (rc == CFLIGHT_OK) {
    cflight_result *extra = NULL;
    rc = cflight_result_iter_next(it, &extra, err);
    if (extra == NULL) break;
    cflight_result_free(extra);
  }
  cflight_result_iter_free(it);
  if (rc != CFLIGHT_OK) {
    cf_pb_free(*out);
    *out = NULL;
  }
  return rc;
}

int cflight_client_cancel_flight_info(cflight_client *c,
                                      const cflight_cancel_flight_info_request *req,
                                      const cflight_call_options *opts,
                                      cflight_cancel_flight_info_result **out, cflight_error *err) {
  if (req == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "CancelFlightInfo: NULL request");
  return typed_action(c, CFLIGHT_ACTION_CANCEL_FLIGHT_INFO, req, NULL, opts,
                      &arrow__flight__protocol__cancel_flight_info_result__descriptor, (void **)out,
                      err);
}

int cflight_client_renew_flight_endpoint(cflight_client *c,
                                         const cflight_renew_flight_endpoint_request *req,
                                         const cflight_call_options *opts, cflight_endpoint **out,
                                         cflight_error *err) {
  if (req == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "RenewFlightEndpoint: NULL request");
  return typed_action(c, CFLIGHT_ACTION_RENEW_FLIGHT_ENDPOINT, req, NULL, opts,
                      &arrow__flight__protocol__flight_endpoint__descriptor, (void **)out, err);
}

int cflight_client_set_session_options(cflight_client *c,
                                       const cflight_set_session_options_request *req,
                                       const cflight_call_options *opts,
                                       cflight_set_session_options_result **out,
                                       cflight_error *err) {
  if (req == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "SetSessionOptions: NULL request");
  return typed_action(c, CFLIGHT_ACTION_SET_SESSION_OPTIONS, req, NULL, opts,
                      &arrow__flight__protocol__set_session_options_result__descriptor,
                      (void **)out, err);
}

int cflight_client_get_session_options(cflight_client *c,
                                       const cflight_get_session_options_request *req,
                                       const cflight_call_options *opts,
                                       cflight_get_session_options_result **out,
                                       cflight_error *err) {
  return typed_action(c, CFLIGHT_ACTION_GET_SESSION_OPTIONS, req,
                      &arrow__flight__protocol__get_session_options_request__descriptor, opts,
                      &arrow__flight__protocol__get_session_options_result__descriptor,
                      (void **)out, err);
}

int cflight_client_close_session(cflight_client *c, const cflight_close_session_request *req,
                                 const cflight_call_options *opts,
                                 cflight_close_session_result **out, cflight_error *err) {
  return typed_action(c, CFLIGHT_ACTION_CLOSE_SESSION, req,
                      &arrow__flight__protocol__close_session_request__descriptor, opts,
                      &arrow__flight__protocol__close_session_result__descriptor, (void **)out,
                      err);
}

/* ---- Server ---------------------------------------------------------------------------------- */

static int decode_body(const cflight_action *action, const char *type,
                       const ProtobufCMessageDescriptor *desc, void **out, cflight_error *err) {
  if (out == NULL || action == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "%s: NULL argument", type);
  *out = NULL;
  const char *t = cflight_action_get_type(action);
  if (t == NULL || strcmp(t, type) != 0)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "the action is '%s', not %s",
                             t != NULL ? t : "", type);
  size_t size = 0;
  const uint8_t *body = cflight_action_body(action, &size);
  ProtobufCMessage *m = NULL;
  int rc = cf_pb_deserialize(desc, body, size, &m, err);
  *out = m;
  return rc;
}

int cflight_action_decode_cancel_flight_info_request(const cflight_action *action,
                                                     cflight_cancel_flight_info_request **out,
                                                     cflight_error *err) {
  return decode_body(action, CFLIGHT_ACTION_CANCEL_FLIGHT_INFO,
                     &arrow__flight__protocol__cancel_flight_info_request__descriptor, (void **)out,
                     err);
}

int cflight_action_decode_renew_flight_endpoint_request(const cflight_action *action,
                                                        cflight_renew_flight_endpoint_request **out,
                                                        cflight_error *err) {
  return decode_body(action, CFLIGHT_ACTION_RENEW_FLIGHT_ENDPOINT,
                     &arrow__flight__protocol__renew_flight_endpoint_request__descriptor,
                     (void **)out, err);
}

int cflight_action_decode_set_session_options_request(const cflight_action *action,
                                                      cflight_set_session_options_request **out,
                                                      cflight_error *err) {
  return decode_body(action, CFLIGHT_ACTION_SET_SESSION_OPTIONS,
                     &arrow__flight__protocol__set_session_options_request__descriptor,
                     (void **)out, err);
}

int cflight_action_decode_get_session_options_request(const cflight_action *action,
                                                      cflight_get_session_options_request **out,
                                                      cflight_error *err) {
  return decode_body(action, CFLIGHT_ACTION_GET_SESSION_OPTIONS,
                     &arrow__flight__protocol__get_session_options_request__descriptor,
                     (void **)out, err);
}

int cflight_action_decode_close_session_request(const cflight_action *action,
                                                cflight_close_session_request **out,
                                                cflight_error *err) {
  return decode_body(action, CFLIGHT_ACTION_CLOSE_SESSION,
                     &arrow__flight__protocol__close_session_request__descriptor, (void **)out,
                     err);
}

/* Writes msg's encoding as one Result. */
static int write_message(cflight_result_writer *w, const void *msg, cflight_error *err) {
  if (w == NULL || msg == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "result writer: NULL argument");
  cflight_buffer *b = NULL;
  CF_RETURN_NOT_OK(cf_pb_serialize(msg, &b, err));
  int rc =
      cflight_result_writer_write_result(w, cflight_buffer_data(b), cflight_buffer_size(b), err);
  cflight_buffer_unref(b);
  return rc;
}

int cflight_result_writer_write_cancel_flight_info_result(
    cflight_result_writer *w, const cflight_cancel_flight_info_result *r, cflight_error *err) {
  return write_message(w, r, err);
}

int cflight_result_writer_write_endpoint(cflight_result_writer *w, const cflight_endpoint *e,
                                         cflight_error *err) {
  return write_message(w, e, err);
}

int cflight_result_writer_write_set_session_options_result(
    cflight_result_writer *w, const cflight_set_session_options_result *r, cflight_error *err) {
  return write_message(w, r, err);
}

int cflight_result_writer_write_get_session_options_result(
    cflight_result_writer *w, const cflight_get_session_options_result *r, cflight_error *err) {
  return write_message(w, r, err);
}

int cflight_result_writer_write_close_session_result(cflight_result_writer *w,
                                                     const cflight_close_session_result *r,
                                                     cflight_error *err) {
  return write_message(w, r, err);
}
