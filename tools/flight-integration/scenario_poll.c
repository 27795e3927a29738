/* poll_flight_info: PollFlightInfo of a long-running query.
 *
 * Server: PollFlightInfo answers a FlightInfo (schema {number: uint32, not
 * nullable}, the request's descriptor, one endpoint "long-running query"
 * without locations). For CMD "poll" the query is done: no descriptor to
 * poll again, progress 1.0, no expiration time. For anything else it is
 * under way: descriptor CMD "poll", progress 0.1, expiration time 10 s from
 * now.
 *
 * Client: PollFlightInfo of CMD "heavy query" must answer a descriptor, a
 * progress in [0, 1] and an expiration time; polling again with that
 * descriptor must answer no descriptor, progress 1.0 and no expiration
 * time. */
#include <math.h>

#include "fi.h"

static int poll_poll_flight_info(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                                 cflight_poll_info **out, cflight_error *err) {
  struct ArrowSchema schema = {0};
  cflight_endpoint *ep = NULL;
  cflight_flight_info *info = NULL;
  cflight_descriptor *again = NULL;
  cflight_poll_info *p = NULL;
  bool done = fi_is_command(d, "poll");
  int rc = fi_int_schema("number", "I", &schema, err);
  if (rc == CFLIGHT_OK) rc = fi_endpoint("long-running query", NULL, &ep, err);
  if (rc == CFLIGHT_OK) rc = fi_flight_info(&schema, d, &ep, 1, &info, err);
  if (rc == CFLIGHT_OK) rc = cflight_poll_info_new(&p, err);
  if (rc == CFLIGHT_OK) rc = cflight_poll_info_set_info(p, info, err);
  if (rc == CFLIGHT_OK) rc = cflight_poll_info_set_progress(p, done ? 1.0 : 0.1, err);
  if (rc == CFLIGHT_OK && !done) {
    cflight_timestamp expires = cflight_timestamp_now();
    expires.seconds += 10;
    rc = fi_command("poll", &again, err);
    if (rc == CFLIGHT_OK) rc = cflight_poll_info_set_descriptor(p, again, err);
    if (rc == CFLIGHT_OK) rc = cflight_poll_info_set_expiration_time(p, &expires, err);
  }
  if (rc == CFLIGHT_OK) {
    *out = p;
    p = NULL;
  }
  cflight_poll_info_free(p);
  cflight_descriptor_free(again);
  cflight_flight_info_free(info);
  cflight_endpoint_free(ep);
  if (schema.release != NULL) cf_schema_release(&schema);
  return rc;
}

static int poll_make_server(fi_server_setup *setup, cflight_error *err) {
  setup->handlers.poll_flight_info = poll_poll_flight_info;
  return CFLIGHT_OK;
}

static int poll_run_client(const fi_client_args *args, cflight_error *err) {
  cflight_client *c = NULL;
  CF_RETURN_NOT_OK(fi_connect(args, NULL, &c, err));
  cflight_descriptor *d = NULL;
  cflight_poll_info *first = NULL, *second = NULL;
  double progress = -1;
  cflight_timestamp ts;
  int rc = fi_command("heavy query", &d, err);
  if (rc == CFLIGHT_OK) {
    rc = cflight_client_poll_flight_info(c, d, NULL, &first, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "PollFlightInfo(CMD \"heavy query\")");
  }
  if (rc == CFLIGHT_OK && cflight_poll_info_descriptor(first) == NULL)
    rc = fi_fail(err, "the first PollInfo has no descriptor to poll again with");
  if (rc == CFLIGHT_OK && !cflight_poll_info_progress(first, &progress))
    rc = fi_fail(err, "the first PollInfo has no progress");
  if (rc == CFLIGHT_OK && !(progress >= 0.0 && progress <= 1.0))
    rc = fi_fail(err, "the first PollInfo has an invalid progress: %g", progress);
  if (rc == CFLIGHT_OK && !cflight_poll_info_expiration_time(first, &ts))
    rc = fi_fail(err, "the first PollInfo has no expiration time");
  if (rc == CFLIGHT_OK) {
    rc =
        cflight_client_poll_flight_info(c, cflight_poll_info_descriptor(first), NULL, &second, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "PollFlightInfo with the descriptor it returned");
  }
  if (rc == CFLIGHT_OK && cflight_poll_info_descriptor(second) != NULL)
    rc = fi_fail(err,
                 "polled again but the query is not finished (the PollInfo has a "
                 "descriptor)");
  if (rc == CFLIGHT_OK && !cflight_poll_info_progress(second, &progress))
    rc = fi_fail(err, "the finished query's PollInfo has no progress");
  if (rc == CFLIGHT_OK && fabs(progress - 1.0) > 1e-5)
    rc = fi_fail(err, "the finished query's progress is %g, not 1.0", progress);
  if (rc == CFLIGHT_OK && cflight_poll_info_expiration_time(second, &ts))
    rc = fi_fail(err, "the finished query's PollInfo must not have an expiration time");
  cflight_poll_info_free(second);
  cflight_poll_info_free(first);
  cflight_descriptor_free(d);
  cflight_client_close(c);
  return rc;
}

const fi_scenario fi_scenario_poll_flight_info = {
    "poll_flight_info", "Ensure PollFlightInfo is supported.", poll_make_server, poll_run_client};
