/* middleware: headers through client and server middleware, also on a call
 * that fails (where a gRPC server may send a trailers-only response, so that
 * the client must read the header from the trailers).
 *
 * Server: middleware that reads the request header "x-middleware" and sends
 * its value back in the response header "x-middleware". GetFlightInfo of
 * CMD "success" answers an empty schema and one endpoint (ticket "foo",
 * location grpc+tcp://localhost:10010, never read); any other descriptor
 * fails with UNKNOWN "Unknown".
 *
 * Client: middleware that sends "x-middleware: expected value" on every call
 * and records the "x-middleware" response header. GetFlightInfo of CMD ""
 * must fail and still bring the header back; GetFlightInfo of CMD "success"
 * must succeed and bring it back. */
#include <pthread.h>

#include "fi.h"

#define HEADER "x-middleware"
#define EXPECTED "expected value"

/* ---- Server ---------------------------------------------------------------------------------- */

static int server_start_call(void *factory_ctx, const cflight_call_info *info,
                             const cflight_headers *incoming, void **instance, cflight_error *err) {
  size_t size = 0;
  const uint8_t *v = cflight_headers_get(incoming, HEADER, &size);
  char *received = v != NULL ? cf_strndup((const char *)v, size) : cf_strdup("");
  if (received == NULL) return CF_NOMEM(err, "header");
  *instance = received;
  return CFLIGHT_OK;
}

static void server_sending_headers(void *instance, cflight_headers *outgoing) {
  const char *received = instance;
  cflight_headers_add(outgoing, HEADER, received, strlen(received), NULL);
}

static void server_call_completed(void *instance, const cflight_error *status) {
  free(instance);
}

static int mw_get_flight_info(void *user, cflight_call_context *ctx, const cflight_descriptor *d,
                              cflight_flight_info **out, cflight_error *err) {
  /* Fails at once: no response message, so the header must ride along with
   * the status. */
  if (!fi_is_command(d, "success")) return cflight_error_set(err, CFLIGHT_UNKNOWN, "Unknown");
  cflight_endpoint *ep = NULL;
  CF_RETURN_NOT_OK(fi_endpoint("foo", "grpc+tcp://localhost:10010", &ep, err));
  int rc = fi_flight_info(NULL, d, &ep, 1, out, err);
  cflight_endpoint_free(ep);
  return rc;
}

static int mw_make_server(fi_server_setup *setup, cflight_error *err) {
  cflight_server_middleware_callbacks cb = {server_start_call, server_sending_headers,
                                            server_call_completed, NULL};
  cflight_server_middleware_factory *f = cflight_server_middleware_factory_new(&cb, NULL);
  if (f == NULL) return CF_NOMEM(err, "middleware");
  CF_RETURN_NOT_OK(cflight_server_options_add_middleware(setup->options, "grpc_trailers", f, err));
  setup->handlers.get_flight_info = mw_get_flight_info;
  return CFLIGHT_OK;
}

/* ---- Client ---------------------------------------------------------------------------------- */

typedef struct received_header {
  pthread_mutex_t mu; /* guards value: middleware may run on the transport's thread */
  char *value;        /* the last "x-middleware" seen, or NULL */
} received_header;

static int client_start_call(void *factory_ctx, const cflight_call_info *info, void **instance,
                             cflight_error *err) {
  *instance = factory_ctx;
  return CFLIGHT_OK;
}

static void client_sending_headers(void *instance, cflight_headers *outgoing) {
  cflight_headers_add(outgoing, HEADER, EXPECTED, strlen(EXPECTED), NULL);
}

static void client_received_headers(void *instance, const cflight_headers *incoming) {
  received_header *rh = instance;
  size_t size = 0;
  const uint8_t *v = cflight_headers_get(incoming, HEADER, &size);
  if (v == NULL) return;
  char *copy = cf_strndup((const char *)v, size);
  pthread_mutex_lock(&rh->mu);
  free(rh->value);
  rh->value = copy;
  pthread_mutex_unlock(&rh->mu);
}

static void client_call_completed(void *instance, const cflight_error *status) {}

/* Takes the header received so far (NULL when none). */
static char *take_received(received_header *rh) {
  pthread_mutex_lock(&rh->mu);
  char *v = rh->value;
  rh->value = NULL;
  pthread_mutex_unlock(&rh->mu);
  return v;
}

/* Checks that the last call brought the header back. */
static int check_received(received_header *rh, const char *call, cflight_error *err) {
  char *v = take_received(rh);
  int rc = CFLIGHT_OK;
  if (v == NULL || strcmp(v, EXPECTED) != 0)
    rc = fi_fail(
        err, "%s: expected to receive the header '" HEADER ": " EXPECTED "', but instead got '%s'",
        call, v != NULL ? v : "");
  free(v);
  return rc;
}

static int mw_run_client(const fi_client_args *args, cflight_error *err) {
  received_header rh = {PTHREAD_MUTEX_INITIALIZER, NULL};
  cflight_client_middleware_callbacks cb = {client_start_call, client_sending_headers,
                                            client_received_headers, client_call_completed, NULL};
  cflight_client_options *opts = cflight_client_options_new();
  cflight_client_middleware_factory *f = cflight_client_middleware_factory_new(&cb, &rh);
  int rc = opts != NULL && f != NULL ? CFLIGHT_OK : CF_NOMEM(err, "options");
  if (rc == CFLIGHT_OK) {
    rc = cflight_client_options_add_middleware(opts, f, err);
    f = NULL; /* the options took it, on failure too */
  }
  cflight_client *c = NULL;
  if (rc == CFLIGHT_OK) rc = fi_connect(args, opts, &c, err);
  cflight_descriptor *d = NULL;
  cflight_flight_info *info = NULL;

  /* A failing call. */
  if (rc == CFLIGHT_OK) rc = fi_command("", &d, err);
  if (rc == CFLIGHT_OK) {
    free(take_received(&rh)); /* only this call's headers count */
    cflight_error call = {0};
    if (cflight_client_get_flight_info(c, d, NULL, &info, &call) == CFLIGHT_OK)
      rc = fi_fail(err, "GetFlightInfo(CMD \"\"): expected the call to fail");
    cflight_error_reset(&call);
    cflight_flight_info_free(info);
    info = NULL;
  }
  if (rc == CFLIGHT_OK) rc = check_received(&rh, "GetFlightInfo(CMD \"\"), a failing call", err);
  if (rc == CFLIGHT_OK && args->verbose) printf("Headers received successfully on failing call.\n");
  cflight_descriptor_free(d);
  d = NULL;

  /* A passing call. */
  if (rc == CFLIGHT_OK) rc = fi_command("success", &d, err);
  if (rc == CFLIGHT_OK) {
    free(take_received(&rh));
    rc = cflight_client_get_flight_info(c, d, NULL, &info, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "GetFlightInfo(CMD \"success\")");
  }
  if (rc == CFLIGHT_OK)
    rc = check_received(&rh, "GetFlightInfo(CMD \"success\"), a passing call", err);
  if (rc == CFLIGHT_OK && args->verbose) printf("Headers received successfully on passing call.\n");
  cflight_flight_info_free(info);
  cflight_descriptor_free(d);
  if (c != NULL) cflight_client_close(c);
  cflight_client_middleware_factory_free(f);
  cflight_client_options_free(opts);
  free(rh.value);
  pthread_mutex_destroy(&rh.mu);
  return rc;
}

const fi_scenario fi_scenario_middleware = {
    "middleware", "Ensure headers are propagated via middleware.", mw_make_server, mw_run_client};
