/* FlightData from an IPC payload. Apart from flight_data.c so that the
 * framing itself does not depend on the IPC codec. */
#include "flight/flight_data.h"

static void payload_release(void *ctx) {
  cflight_ipc_payload_free(ctx);
}

int cf_flight_data_encode(const cflight_descriptor *descriptor, cflight_ipc_payload *payload,
                          cflight_buffer *app_metadata, cf_out_msg *out, cflight_error *err) {
  cflight_ipc_piece header = {NULL, 0};
  const cflight_ipc_piece *body = NULL;
  size_t n_body = 0;
  if (payload != NULL) {
    header = cflight_ipc_payload_metadata(payload);
    n_body = cflight_ipc_payload_body(payload, &body);
    uint64_t sum = 0;
    for (size_t i = 0; i < n_body; i++)
      sum += body[i].size;
    int64_t announced = cflight_ipc_payload_body_length(payload);
    if (announced < 0 || sum != (uint64_t)announced) {
      cflight_ipc_payload_free(payload);
      cflight_buffer_unref(app_metadata);
      return cflight_error_set(err, CFLIGHT_INTERNAL,
                               "IPC payload body pieces add up to %llu bytes, not the %lld "
                               "its length says",
                               (unsigned long long)sum, (long long)announced);
    }
  }
  return cf_flight_data_encode_pieces(descriptor, header, body, n_body, app_metadata,
                                      payload != NULL ? payload_release : NULL, payload, out, err);
}
