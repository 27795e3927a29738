/* location:reuse_connection: the arrow-flight-reuse-connection://? location.
 *
 * Server: GetFlightInfo (any descriptor) answers an empty schema and one
 * endpoint, ticket "reuse", whose one location is
 * arrow-flight-reuse-connection://? (redeem the ticket on the connection
 * that returned it).
 *
 * Client: GetFlightInfo of CMD "reuse" must answer exactly one endpoint with
 * exactly that one location, the URI unchanged. */
#include "fi.h"

static int reuse_get_flight_info(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                                 cflight_flight_info **out, cflight_error *err) {
  cflight_endpoint *ep = NULL;
  CF_RETURN_NOT_OK(fi_endpoint("reuse", CFLIGHT_LOCATION_REUSE_CONNECTION_URI, &ep, err));
  int rc = fi_flight_info(NULL, d, &ep, 1, out, err);
  cflight_endpoint_free(ep);
  return rc;
}

static int reuse_make_server(fi_server_setup *setup, cflight_error *err) {
  setup->handlers.get_flight_info = reuse_get_flight_info;
  return CFLIGHT_OK;
}

static int reuse_run_client(const fi_client_args *args, cflight_error *err) {
  cflight_client *c = NULL;
  CF_RETURN_NOT_OK(fi_connect(args, NULL, &c, err));
  cflight_descriptor *d = NULL;
  cflight_flight_info *info = NULL;
  int rc = fi_command("reuse", &d, err);
  if (rc == CFLIGHT_OK) {
    rc = cflight_client_get_flight_info(c, d, NULL, &info, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "GetFlightInfo(CMD \"reuse\")");
  }
  if (rc == CFLIGHT_OK && cflight_flight_info_endpoint_count(info) != 1)
    rc = fi_fail(err, "expected 1 endpoint, got %zu", cflight_flight_info_endpoint_count(info));
  const cflight_endpoint *ep = rc == CFLIGHT_OK ? cflight_flight_info_endpoint(info, 0) : NULL;
  if (rc == CFLIGHT_OK && cflight_endpoint_location_count(ep) != 1)
    rc = fi_fail(err, "expected 1 location, got %zu", cflight_endpoint_location_count(ep));
  if (rc == CFLIGHT_OK) {
    const char *uri = cflight_location_uri(cflight_endpoint_location(ep, 0));
    if (strcmp(uri, CFLIGHT_LOCATION_REUSE_CONNECTION_URI) != 0)
      rc = fi_fail(err, "expected the location %s, got %s", CFLIGHT_LOCATION_REUSE_CONNECTION_URI,
                   uri);
  }
  cflight_flight_info_free(info);
  cflight_descriptor_free(d);
  cflight_client_close(c);
  return rc;
}

const fi_scenario fi_scenario_location_reuse_connection = {
    "location:reuse_connection", "Ensure arrow-flight-reuse-connection is accepted.",
    reuse_make_server, reuse_run_client};
