/* ordered: FlightInfo.ordered, and reading endpoints front to back.
 *
 * Server: GetFlightInfo answers the schema {number: int32, not nullable} and
 * three endpoints without locations; for CMD "ordered" their tickets are
 * "1", "2", "3" and ordered is set, for anything else "1", "3", "2" and it
 * is not. DoGet of "1", "2", "3" answers one batch [1, 2, 3], [10, 20, 30],
 * [100, 200, 300]; another ticket is NOT_FOUND.
 *
 * Client: GetFlightInfo of CMD "ordered" must be ordered, with endpoints
 * that have no locations (the data is on this server); reading them in
 * order on this connection must give 1, 2, 3, 10, 20, 30, 100, 200, 300. */
#include "fi.h"

static int ordered_get_flight_info(void *user, cflight_call_context *ctx,
                                   const cflight_descriptor *d, cflight_flight_info **out,
                                   cflight_error *err) {
  bool ordered = fi_is_command(d, "ordered");
  const char *tickets[3] = {"1", ordered ? "2" : "3", ordered ? "3" : "2"};
  cflight_endpoint *eps[3] = {NULL, NULL, NULL};
  struct ArrowSchema schema = {0};
  int rc = fi_int_schema("number", "i", &schema, err);
  for (int i = 0; i < 3 && rc == CFLIGHT_OK; i++)
    rc = fi_endpoint(tickets[i], NULL, &eps[i], err);
  if (rc == CFLIGHT_OK) rc = fi_flight_info(&schema, d, eps, 3, out, err);
  if (rc == CFLIGHT_OK) cflight_flight_info_set_ordered(*out, ordered);
  for (int i = 0; i < 3; i++)
    cflight_endpoint_free(eps[i]);
  if (schema.release != NULL) cf_schema_release(&schema);
  return rc;
}

static int ordered_do_get(void *user, cflight_call_context *ctx, const cflight_ticket *t,
                          cflight_data_stream **out, cflight_error *err) {
  static const int64_t one[3] = {1, 2, 3}, two[3] = {10, 20, 30}, three[3] = {100, 200, 300};
  size_t size = 0;
  const uint8_t *ticket = cflight_ticket_data(t, &size);
  const int64_t *values = fi_bytes_eq(ticket, size, "1")   ? one
                          : fi_bytes_eq(ticket, size, "2") ? two
                          : fi_bytes_eq(ticket, size, "3") ? three
                                                           : NULL;
  if (values == NULL) {
    char text[300];
    fi_bytes_text(ticket, size, text, sizeof(text));
    return cflight_error_set(err, CFLIGHT_NOT_FOUND, "Could not find flight: %s", text);
  }
  return fi_int_stream("number", "i", values, 3, out, err);
}

static int ordered_make_server(fi_server_setup *setup, cflight_error *err) {
  setup->handlers.get_flight_info = ordered_get_flight_info;
  setup->handlers.do_get = ordered_do_get;
  return CFLIGHT_OK;
}

static int ordered_run_client(const fi_client_args *args, cflight_error *err) {
  cflight_client *c = NULL;
  CF_RETURN_NOT_OK(fi_connect(args, NULL, &c, err));
  cflight_descriptor *d = NULL;
  cflight_flight_info *info = NULL;
  int64_t *values = NULL;
  size_t n = 0;
  int rc = fi_command("ordered", &d, err);
  if (rc == CFLIGHT_OK) {
    rc = cflight_client_get_flight_info(c, d, NULL, &info, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "GetFlightInfo(CMD \"ordered\")");
  }
  if (rc == CFLIGHT_OK && !cflight_flight_info_ordered(info))
    rc = fi_fail(err, "the server must return FlightInfo.ordered = true");
  size_t n_eps = rc == CFLIGHT_OK ? cflight_flight_info_endpoint_count(info) : 0;
  for (size_t e = 0; e < n_eps && rc == CFLIGHT_OK; e++) {
    const cflight_endpoint *ep = cflight_flight_info_endpoint(info, e);
    if (cflight_endpoint_location_count(ep) != 0) {
      rc = fi_fail(err,
                   "endpoint %zu: expected no locations (to use the original service), got %s%s", e,
                   cflight_location_uri(cflight_endpoint_location(ep, 0)),
                   cflight_endpoint_location_count(ep) > 1 ? " and more" : "");
      break;
    }
    const cflight_ticket *t = cflight_endpoint_ticket(ep);
    cflight_ticket *empty = NULL;
    if (t == NULL) rc = cflight_ticket_new(NULL, 0, &empty, err);
    cflight_stream_reader *r = NULL;
    if (rc == CFLIGHT_OK) {
      rc = cflight_client_do_get(c, t != NULL ? t : empty, NULL, &r, err);
      if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "DoGet of endpoint %zu", e);
    }
    if (rc == CFLIGHT_OK) {
      char what[48];
      snprintf(what, sizeof(what), "DoGet of endpoint %zu", e);
      rc = fi_read_int_column(r, what, "number", "i", &values, &n, err);
    }
    cflight_stream_reader_free(r);
    cflight_ticket_free(empty);
  }
  if (rc == CFLIGHT_OK) {
    static const int64_t want[9] = {1, 2, 3, 10, 20, 30, 100, 200, 300};
    rc = fi_check_ints("the data read from the endpoints in order", values, n, want, 9, err);
  }
  free(values);
  cflight_flight_info_free(info);
  cflight_descriptor_free(d);
  cflight_client_close(c);
  return rc;
}

const fi_scenario fi_scenario_ordered = {"ordered", "Ensure FlightInfo.ordered is supported.",
                                         ordered_make_server, ordered_run_client};
