/* expiration_time:do_get, expiration_time:list_actions,
 * expiration_time:cancel_flight_info, expiration_time:renew_flight_endpoint:
 * FlightEndpoint.expiration_time and the CancelFlightInfo and
 * RenewFlightEndpoint actions. The four share one server.
 *
 * Server: GetFlightInfo (any descriptor) forgets earlier endpoints and
 * answers the schema {number: uint32, not nullable} and three endpoints
 * without locations, whose tickets start with their index:
 *   "0: No expiration time"  no expiration time: can be read once;
 *   "1: 5 seconds"           expires 5 s from now: can be read until then;
 *   "2: 6 seconds"           expires 6 s from now.
 * DoGet of endpoint i answers one batch [i], or NOT_FOUND once it was
 * cancelled, has expired, or (without expiration time) was read already.
 * DoAction:
 *   CancelFlightInfo     cancels every endpoint of the request's FlightInfo:
 *                        CANCELLED, or NOT_CANCELLABLE when one was cancelled
 *                        already or is unknown;
 *   RenewFlightEndpoint  answers the endpoint with ": renewed (+ 10 seconds)"
 *                        appended to its ticket and an expiration time 10 s
 *                        from now (which now applies to DoGet);
 *                        INVALID_ARGUMENT when it was cancelled;
 *   anything else        INVALID_ARGUMENT.
 * ListActions: CancelFlightInfo and RenewFlightEndpoint. */
#include <pthread.h>

#include "fi.h"

#define N_ENDPOINTS 3

/* ---- Server ---------------------------------------------------------------------------------- */

typedef struct endpoint_status {
  bool has_expiration;
  cflight_timestamp expiration;
  uint32_t num_gets;
  bool cancelled;
} endpoint_status;

typedef struct expiration_server {
  pthread_mutex_t mu; /* guards statuses and n */
  endpoint_status statuses[N_ENDPOINTS];
  size_t n;
} expiration_server;

static void expiration_server_free(void *user) {
  expiration_server *s = user;
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static cflight_timestamp seconds_from_now(int64_t seconds) {
  cflight_timestamp ts = cflight_timestamp_now();
  ts.seconds += seconds;
  return ts;
}

static int timestamp_cmp(const cflight_timestamp *a, const cflight_timestamp *b) {
  if (a->seconds != b->seconds) return a->seconds < b->seconds ? -1 : 1;
  if (a->nanos != b->nanos) return a->nanos < b->nanos ? -1 : 1;
  return 0;
}

/* The index a ticket starts with ("1: 5 seconds" -> 1); call with mu held. */
static int ticket_index_locked(expiration_server *s, const uint8_t *ticket, size_t size,
                               size_t *out, cflight_error *err) {
  char text[300];
  fi_bytes_text(ticket, size, text, sizeof(text));
  size_t i = 0;
  uint64_t v = 0;
  while (i < size && ticket[i] != ':') {
    if (ticket[i] < '0' || ticket[i] > '9' || v > UINT32_MAX / 10)
      return cflight_error_set(err, CFLIGHT_NOT_FOUND, "Invalid flight: no index: %s", text);
    v = v * 10 + (uint64_t)(ticket[i] - '0');
    i++;
  }
  if (i == 0)
    return cflight_error_set(err, CFLIGHT_NOT_FOUND, "Invalid flight: no index: %s", text);
  if (v >= s->n)
    return cflight_error_set(err, CFLIGHT_NOT_FOUND, "Invalid flight: out of index: %s", text);
  *out = (size_t)v;
  return CFLIGHT_OK;
}

static int expiration_get_flight_info(void *user, cflight_call_context *ctx,
                                      const cflight_descriptor *d, cflight_flight_info **out,
                                      cflight_error *err) {
  expiration_server *s = user;
  static const char *const tickets[N_ENDPOINTS] = {"0: No expiration time", "1: 5 seconds",
                                                   "2: 6 seconds"};
  static const int64_t expires_in[N_ENDPOINTS] = {0, 5, 6};
  cflight_endpoint *eps[N_ENDPOINTS] = {NULL, NULL, NULL};
  struct ArrowSchema schema = {0};
  int rc = fi_int_schema("number", "I", &schema, err);
  pthread_mutex_lock(&s->mu);
  s->n = 0;
  for (size_t i = 0; i < N_ENDPOINTS && rc == CFLIGHT_OK; i++) {
    endpoint_status st = {0};
    rc = fi_endpoint(tickets[i], NULL, &eps[i], err);
    if (rc == CFLIGHT_OK && expires_in[i] > 0) {
      st.has_expiration = true;
      st.expiration = seconds_from_now(expires_in[i]);
      rc = cflight_endpoint_set_expiration_time(eps[i], &st.expiration, err);
    }
    s->statuses[s->n++] = st;
  }
  pthread_mutex_unlock(&s->mu);
  if (rc == CFLIGHT_OK) rc = fi_flight_info(&schema, d, eps, N_ENDPOINTS, out, err);
  for (size_t i = 0; i < N_ENDPOINTS; i++)
    cflight_endpoint_free(eps[i]);
  if (schema.release != NULL) cf_schema_release(&schema);
  return rc;
}

static int expiration_do_get(void *user, cflight_call_context *ctx, const cflight_ticket *t,
                             cflight_data_stream **out, cflight_error *err) {
  expiration_server *s = user;
  size_t size = 0;
  const uint8_t *ticket = cflight_ticket_data(t, &size);
  char text[300];
  fi_bytes_text(ticket, size, text, sizeof(text));
  size_t index = 0;
  pthread_mutex_lock(&s->mu);
  int rc = ticket_index_locked(s, ticket, size, &index, err);
  if (rc == CFLIGHT_OK) {
    endpoint_status *st = &s->statuses[index];
    cflight_timestamp now = cflight_timestamp_now();
    if (st->cancelled) {
      rc = cflight_error_set(err, CFLIGHT_NOT_FOUND, "Invalid flight: canceled: %s", text);
    } else if (st->has_expiration && timestamp_cmp(&st->expiration, &now) < 0) {
      rc = cflight_error_set(err, CFLIGHT_NOT_FOUND, "Invalid flight: expired: %s", text);
    } else if (!st->has_expiration && st->num_gets > 0) {
      rc = cflight_error_set(err, CFLIGHT_NOT_FOUND,
                             "Invalid flight: can't read multiple times: %s", text);
    } else {
      st->num_gets++;
    }
  }
  pthread_mutex_unlock(&s->mu);
  if (rc != CFLIGHT_OK) return rc;
  int64_t value = (int64_t)index;
  return fi_int_stream("number", "I", &value, 1, out, err);
}

static int cancel_flight_info(expiration_server *s, const cflight_action *action,
                              cflight_result_writer *out, cflight_error *err) {
  cflight_cancel_flight_info_request *req = NULL;
  CF_RETURN_NOT_OK(cflight_action_decode_cancel_flight_info_request(action, &req, err));
  const cflight_flight_info *info = cflight_cancel_flight_info_request_info(req);
  int rc = CFLIGHT_OK;
  cflight_cancel_status status = CFLIGHT_CANCEL_STATUS_UNSPECIFIED;
  if (info == NULL) {
    rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "CancelFlightInfo: no FlightInfo");
  } else {
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < cflight_flight_info_endpoint_count(info); i++) {
      const cflight_ticket *t = cflight_endpoint_ticket(cflight_flight_info_endpoint(info, i));
      size_t size = 0;
      const uint8_t *ticket = t != NULL ? cflight_ticket_data(t, &size) : NULL;
      size_t index = 0;
      cflight_error ignored = {0};
      if (ticket_index_locked(s, ticket, size, &index, &ignored) != CFLIGHT_OK ||
          s->statuses[index].cancelled) {
        status = CFLIGHT_CANCEL_STATUS_NOT_CANCELLABLE;
      } else {
        s->statuses[index].cancelled = true;
        if (status == CFLIGHT_CANCEL_STATUS_UNSPECIFIED) status = CFLIGHT_CANCEL_STATUS_CANCELLED;
      }
    }
    pthread_mutex_unlock(&s->mu);
  }
  cflight_cancel_flight_info_result *result = NULL;
  if (rc == CFLIGHT_OK) rc = cflight_cancel_flight_info_result_new(status, &result, err);
  if (rc == CFLIGHT_OK)
    rc = cflight_result_writer_write_cancel_flight_info_result(out, result, err);
  cflight_cancel_flight_info_result_free(result);
  cflight_cancel_flight_info_request_free(req);
  return rc;
}

static int renew_flight_endpoint(expiration_server *s, const cflight_action *action,
                                 cflight_result_writer *out, cflight_error *err) {
  cflight_renew_flight_endpoint_request *req = NULL;
  CF_RETURN_NOT_OK(cflight_action_decode_renew_flight_endpoint_request(action, &req, err));
  const cflight_endpoint *ep = cflight_renew_flight_endpoint_request_endpoint(req);
  const cflight_ticket *t = ep != NULL ? cflight_endpoint_ticket(ep) : NULL;
  size_t size = 0;
  const uint8_t *ticket = t != NULL ? cflight_ticket_data(t, &size) : NULL;
  cflight_endpoint *renewed = NULL;
  cflight_ticket *new_ticket = NULL;
  char *bytes = NULL;
  int rc = CFLIGHT_OK;
  if (ep == NULL)
    rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "RenewFlightEndpoint: no endpoint");
  cflight_timestamp expiration = seconds_from_now(10);
  if (rc == CFLIGHT_OK) {
    pthread_mutex_lock(&s->mu);
    size_t index = 0;
    rc = ticket_index_locked(s, ticket, size, &index, err);
    if (rc == CFLIGHT_OK && s->statuses[index].cancelled) {
      char text[300];
      fi_bytes_text(ticket, size, text, sizeof(text));
      rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "Invalid flight: canceled: %s", text);
    } else if (rc == CFLIGHT_OK) {
      s->statuses[index].has_expiration = true;
      s->statuses[index].expiration = expiration;
    }
    pthread_mutex_unlock(&s->mu);
  }
  static const char suffix[] = ": renewed (+ 10 seconds)";
  if (rc == CFLIGHT_OK) {
    bytes = malloc(size + sizeof(suffix));
    if (bytes == NULL) rc = CF_NOMEM(err, "ticket");
  }
  if (rc == CFLIGHT_OK) {
    if (size > 0) memcpy(bytes, ticket, size);
    memcpy(bytes + size, suffix, sizeof(suffix));
    rc = cflight_ticket_new(bytes, size + sizeof(suffix) - 1, &new_ticket, err);
  }
  if (rc == CFLIGHT_OK) rc = cflight_endpoint_copy(ep, &renewed, err);
  if (rc == CFLIGHT_OK) rc = cflight_endpoint_set_ticket(renewed, new_ticket, err);
  if (rc == CFLIGHT_OK) rc = cflight_endpoint_set_expiration_time(renewed, &expiration, err);
  if (rc == CFLIGHT_OK) rc = cflight_result_writer_write_endpoint(out, renewed, err);
  cflight_endpoint_free(renewed);
  cflight_ticket_free(new_ticket);
  free(bytes);
  cflight_renew_flight_endpoint_request_free(req);
  return rc;
}

static int expiration_do_action(void *user, cflight_call_context *ctx, const cflight_action *action,
                                cflight_result_writer *out, cflight_error *err) {
  expiration_server *s = user;
  const char *type = cflight_action_get_type(action);
  if (strcmp(type, CFLIGHT_ACTION_CANCEL_FLIGHT_INFO) == 0)
    return cancel_flight_info(s, action, out, err);
  if (strcmp(type, CFLIGHT_ACTION_RENEW_FLIGHT_ENDPOINT) == 0)
    return renew_flight_endpoint(s, action, out, err);
  return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "Unknown action: %s", type);
}

static int expiration_list_actions(void *user, cflight_call_context *ctx,
                                   cflight_result_writer *out, cflight_error *err) {
  CF_RETURN_NOT_OK(
      cflight_result_writer_write_action_type(out, CFLIGHT_ACTION_CANCEL_FLIGHT_INFO,
                                              "Cancel the query behind a FlightInfo.\n"
                                              "Request Message: CancelFlightInfoRequest\n"
                                              "Response Message: CancelFlightInfoResult",
                                              err));
  return cflight_result_writer_write_action_type(out, CFLIGHT_ACTION_RENEW_FLIGHT_ENDPOINT,
                                                 "Extend the expiration time of a FlightEndpoint.\n"
                                                 "Request Message: RenewFlightEndpointRequest\n"
                                                 "Response Message: the renewed FlightEndpoint",
                                                 err);
}

static int expiration_make_server(fi_server_setup *setup, cflight_error *err) {
  expiration_server *s = calloc(1, sizeof(*s));
  if (s == NULL) return CF_NOMEM(err, "server");
  pthread_mutex_init(&s->mu, NULL);
  setup->handlers.get_flight_info = expiration_get_flight_info;
  setup->handlers.do_get = expiration_do_get;
  setup->handlers.do_action = expiration_do_action;
  setup->handlers.list_actions = expiration_list_actions;
  setup->user = s;
  setup->free_user = expiration_server_free;
  return CFLIGHT_OK;
}

/* ---- Clients --------------------------------------------------------------------------------- */

static int get_info(cflight_client *c, const char *cmd, cflight_flight_info **out,
                    cflight_error *err) {
  cflight_descriptor *d = NULL;
  CF_RETURN_NOT_OK(fi_command(cmd, &d, err));
  int rc = cflight_client_get_flight_info(c, d, NULL, out, err);
  if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "GetFlightInfo(CMD \"%s\")", cmd);
  cflight_descriptor_free(d);
  return rc;
}

/* DoGet of an endpoint's ticket (an empty one when it has none). */
static int do_get_endpoint(cflight_client *c, const cflight_endpoint *ep,
                           cflight_stream_reader **out, cflight_error *err) {
  const cflight_ticket *t = cflight_endpoint_ticket(ep);
  cflight_ticket *empty = NULL;
  if (t == NULL) CF_RETURN_NOT_OK(cflight_ticket_new(NULL, 0, &empty, err));
  int rc = cflight_client_do_get(c, t != NULL ? t : empty, NULL, out, err);
  cflight_ticket_free(empty);
  return rc;
}

/* The client can read endpoints that have not expired; the one without an
 * expiration time once. */
static int do_get_run_client(const fi_client_args *args, cflight_error *err) {
  cflight_client *c = NULL;
  CF_RETURN_NOT_OK(fi_connect(args, NULL, &c, err));
  cflight_flight_info *info = NULL;
  int64_t *values = NULL;
  size_t n = 0;
  int rc = get_info(c, "expiration_time", &info, err);
  size_t n_eps = rc == CFLIGHT_OK ? cflight_flight_info_endpoint_count(info) : 0;
  for (size_t e = 0; e < n_eps && rc == CFLIGHT_OK; e++) {
    const cflight_endpoint *ep = cflight_flight_info_endpoint(info, e);
    cflight_timestamp ts;
    bool has = cflight_endpoint_expiration_time(ep, &ts);
    if (e == 0 && has) {
      rc = fi_fail(err, "endpoints[0] must not have an expiration time");
      break;
    }
    if (e > 0 && !has) {
      rc = fi_fail(err, "endpoints[%zu] must have an expiration time", e);
      break;
    }
    if (cflight_endpoint_location_count(ep) != 0) {
      rc = fi_fail(err, "endpoints[%zu]: expected no locations (to use the original service)", e);
      break;
    }
    cflight_stream_reader *r = NULL;
    rc = do_get_endpoint(c, ep, &r, err);
    if (rc != CFLIGHT_OK) {
      rc = fi_wrap(err, rc, "DoGet of endpoints[%zu]", e);
      break;
    }
    char what[48];
    snprintf(what, sizeof(what), "DoGet of endpoints[%zu]", e);
    rc = fi_read_int_column(r, what, "number", "I", &values, &n, err);
    cflight_stream_reader_free(r);
  }
  if (rc == CFLIGHT_OK) {
    static const int64_t want[3] = {0, 1, 2};
    rc = fi_check_ints("the data read from the endpoints", values, n, want, 3, err);
  }
  free(values);
  cflight_flight_info_free(info);
  cflight_client_close(c);
  return rc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ListActions names the specification's two actions. */
static int list_actions_run_client(const fi_client_args *args, cflight_error *err) {
  cflight_client *c = NULL;
  CF_RETURN_NOT_OK(fi_connect(args, NULL, &c, err));
  cflight_action_type_iter *it = NULL;
  char *types[16];
  size_t n = 0;
  bool too_many = false;
  int rc = cflight_client_list_actions(c, NULL, &it, err);
  while (rc == CFLIGHT_OK) {
    cflight_action_type *t = NULL;
    rc = cflight_action_type_iter_next(it, &t, err);
    if (rc != CFLIGHT_OK || t == NULL) break;
    if (n < CF_ARRAY_SIZE(types)) {
      types[n] = cf_strdup(cflight_action_type_get_type(t));
      if (types[n] == NULL) rc = CF_NOMEM(err, "action type");
      n += types[n] != NULL;
    } else {
      too_many = true;
    }
    cflight_action_type_free(t);
  }
  if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "ListActions");
  if (rc == CFLIGHT_OK) {
    qsort(types, n, sizeof(types[0]), cmp_str);
    char got[512] = "";
    size_t o = 0;
    for (size_t i = 0; i < n && o < sizeof(got); i++)
      o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s", i ? ", " : "", types[i]);
    if (too_many || n != 2 || strcmp(types[0], CFLIGHT_ACTION_CANCEL_FLIGHT_INFO) != 0 ||
        strcmp(types[1], CFLIGHT_ACTION_RENEW_FLIGHT_ENDPOINT) != 0)
      rc = fi_fail(err,
                   "invalid ListActions response: expected [CancelFlightInfo, "
                   "RenewFlightEndpoint], got [%s%s]",
                   got, too_many ? ", ..." : "");
  }
  for (size_t i = 0; i < n; i++)
    free(types[i]);
  cflight_action_type_iter_free(it);
  cflight_client_close(c);
  return rc;
}

/* After CancelFlightInfo, none of the FlightInfo's endpoints can be read. */
static int cancel_run_client(const fi_client_args *args, cflight_error *err) {
  cflight_client *c = NULL;
  CF_RETURN_NOT_OK(fi_connect(args, NULL, &c, err));
  cflight_flight_info *info = NULL;
  cflight_cancel_flight_info_request *req = NULL;
  cflight_cancel_flight_info_result *result = NULL;
  int rc = get_info(c, "expiration", &info, err);
  if (rc == CFLIGHT_OK) rc = cflight_cancel_flight_info_request_new(info, &req, err);
  if (rc == CFLIGHT_OK) {
    rc = cflight_client_cancel_flight_info(c, req, NULL, &result, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "CancelFlightInfo");
  }
  if (rc == CFLIGHT_OK &&
      cflight_cancel_flight_info_result_status(result) != CFLIGHT_CANCEL_STATUS_CANCELLED)
    rc = fi_fail(err, "CancelFlightInfo must return CANCEL_STATUS_CANCELLED, got status %d",
                 (int)cflight_cancel_flight_info_result_status(result));
  size_t n_eps = rc == CFLIGHT_OK ? cflight_flight_info_endpoint_count(info) : 0;
  for (size_t e = 0; e < n_eps && rc == CFLIGHT_OK; e++) {
    cflight_stream_reader *r = NULL;
    cflight_error call = {0};
    int st = do_get_endpoint(c, cflight_flight_info_endpoint(info, e), &r, &call);
    /* The refusal may come with the first message or later in the stream. */
    while (st == CFLIGHT_OK) {
      cflight_chunk chunk;
      bool end = false;
      st = cflight_stream_reader_next(r, &chunk, &end, &call);
      if (st == CFLIGHT_OK) cflight_chunk_release(&chunk);
      if (st == CFLIGHT_OK && end) break;
    }
    if (st == CFLIGHT_OK)
      rc = fi_fail(err, "DoGet of endpoints[%zu] after CancelFlightInfo must fail", e);
    else if (args->verbose)
      printf("DoGet of endpoints[%zu] after CancelFlightInfo: %s: %s\n", e, cflight_code_name(st),
             call.message);
    cflight_error_reset(&call);
    cflight_stream_reader_free(r);
  }
  cflight_cancel_flight_info_result_free(result);
  cflight_cancel_flight_info_request_free(req);
  cflight_flight_info_free(info);
  cflight_client_close(c);
  return rc;
}

/* RenewFlightEndpoint moves every expiring endpoint's expiration time later. */
static int renew_run_client(const fi_client_args *args, cflight_error *err) {
  cflight_client *c = NULL;
  CF_RETURN_NOT_OK(fi_connect(args, NULL, &c, err));
  cflight_flight_info *info = NULL;
  int rc = get_info(c, "expiration", &info, err);
  size_t n_eps = rc == CFLIGHT_OK ? cflight_flight_info_endpoint_count(info) : 0;
  for (size_t e = 0; e < n_eps && rc == CFLIGHT_OK; e++) {
    const cflight_endpoint *ep = cflight_flight_info_endpoint(info, e);
    cflight_timestamp before, after;
    if (!cflight_endpoint_expiration_time(ep, &before)) continue;
    cflight_renew_flight_endpoint_request *req = NULL;
    cflight_endpoint *renewed = NULL;
    rc = cflight_renew_flight_endpoint_request_new(ep, &req, err);
    if (rc == CFLIGHT_OK) {
      rc = cflight_client_renew_flight_endpoint(c, req, NULL, &renewed, err);
      if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "RenewFlightEndpoint of endpoints[%zu]", e);
    }
    if (rc == CFLIGHT_OK && !cflight_endpoint_expiration_time(renewed, &after))
      rc = fi_fail(err, "the renewed endpoints[%zu] must have an expiration time", e);
    if (rc == CFLIGHT_OK && timestamp_cmp(&after, &before) <= 0)
      rc = fi_fail(err,
                   "the renewed endpoints[%zu] must expire later: originally %lld.%09d, "
                   "renewed %lld.%09d",
                   e, (long long)before.seconds, before.nanos, (long long)after.seconds,
                   after.nanos);
    cflight_endpoint_free(renewed);
    cflight_renew_flight_endpoint_request_free(req);
  }
  cflight_flight_info_free(info);
  cflight_client_close(c);
  return rc;
}

const fi_scenario fi_scenario_expiration_do_get = {
    "expiration_time:do_get",
    "Ensure FlightEndpoint.expiration_time with DoGet is working as expected.",
    expiration_make_server, do_get_run_client};

const fi_scenario fi_scenario_expiration_list_actions = {
    "expiration_time:list_actions",
    "Ensure FlightEndpoint.expiration_time related pre-defined actions are listed.",
    expiration_make_server, list_actions_run_client};

const fi_scenario fi_scenario_expiration_cancel_flight_info = {
    "expiration_time:cancel_flight_info",
    "Ensure FlightEndpoint.expiration_time and CancelFlightInfo work as expected.",
    expiration_make_server, cancel_run_client};

const fi_scenario fi_scenario_expiration_renew_flight_endpoint = {
    "expiration_time:renew_flight_endpoint",
    "Ensure FlightEndpoint.expiration_time and RenewFlightEndpoint work as expected.",
    expiration_make_server, renew_run_client};
