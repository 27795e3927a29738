/* app_metadata_flight_info_endpoint: app_metadata in FlightInfo and
 * FlightEndpoint.
 *
 * Server: GetFlightInfo of a CMD descriptor answers the schema {number:
 * uint32, not nullable} and one endpoint (empty ticket, no locations), the
 * FlightInfo's and the endpoint's app_metadata both the command's bytes;
 * another descriptor is INVALID_ARGUMENT.
 *
 * Client: GetFlightInfo of CMD "foobar" must answer app_metadata "foobar"
 * and exactly one endpoint, whose app_metadata is "foobar". */
#include "fi.h"

static int am_get_flight_info(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                              cflight_flight_info **out, cflight_error *err) {
  if (cflight_descriptor_get_type(d) != CFLIGHT_DESCRIPTOR_CMD)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "request descriptor should be of type CMD");
  size_t size = 0;
  const uint8_t *cmd = cflight_descriptor_command(d, &size);
  struct ArrowSchema schema = {0};
  cflight_endpoint *ep = NULL;
  int rc = fi_int_schema("number", "I", &schema, err);
  if (rc == CFLIGHT_OK) rc = fi_endpoint("", NULL, &ep, err);
  if (rc == CFLIGHT_OK) rc = cflight_endpoint_set_app_metadata(ep, cmd, size, err);
  if (rc == CFLIGHT_OK) rc = fi_flight_info(&schema, d, &ep, 1, out, err);
  if (rc == CFLIGHT_OK) {
    rc = cflight_flight_info_set_app_metadata(*out, cmd, size, err);
    if (rc != CFLIGHT_OK) {
      cflight_flight_info_free(*out);
      *out = NULL;
    }
  }
  cflight_endpoint_free(ep);
  if (schema.release != NULL) cf_schema_release(&schema);
  return rc;
}

static int am_make_server(fi_server_setup *setup, cflight_error *err) {
  setup->handlers.get_flight_info = am_get_flight_info;
  return CFLIGHT_OK;
}

static int am_run_client(const fi_client_args *args, cflight_error *err) {
  cflight_client *c = NULL;
  CF_RETURN_NOT_OK(fi_connect(args, NULL, &c, err));
  cflight_descriptor *d = NULL;
  cflight_flight_info *info = NULL;
  int rc = fi_command("foobar", &d, err);
  if (rc == CFLIGHT_OK) {
    rc = cflight_client_get_flight_info(c, d, NULL, &info, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "GetFlightInfo(CMD \"foobar\")");
  }
  char got[300];
  size_t size = 0;
  const uint8_t *md = rc == CFLIGHT_OK ? cflight_flight_info_app_metadata(info, &size) : NULL;
  if (rc == CFLIGHT_OK && !fi_bytes_eq(md, size, "foobar")) {
    fi_bytes_text(md, size, got, sizeof(got));
    rc = fi_fail(err, "FlightInfo.app_metadata should be 'foobar', got '%s'", got);
  }
  if (rc == CFLIGHT_OK && cflight_flight_info_endpoint_count(info) != 1)
    rc = fi_fail(err, "expected exactly one FlightEndpoint, got %zu",
                 cflight_flight_info_endpoint_count(info));
  if (rc == CFLIGHT_OK) {
    md = cflight_endpoint_app_metadata(cflight_flight_info_endpoint(info, 0), &size);
    if (!fi_bytes_eq(md, size, "foobar")) {
      fi_bytes_text(md, size, got, sizeof(got));
      rc = fi_fail(err, "FlightEndpoint.app_metadata should be 'foobar', got '%s'", got);
    }
  }
  cflight_flight_info_free(info);
  cflight_descriptor_free(d);
  cflight_client_close(c);
  return rc;
}

const fi_scenario fi_scenario_app_metadata = {"app_metadata_flight_info_endpoint",
                                              "Ensure support FlightInfo and Endpoint app_metadata",
                                              am_make_server, am_run_client};
