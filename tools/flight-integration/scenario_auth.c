/* auth:basic_proto: handshake authentication with the BasicAuth message.
 *
 * Server: a handshake handler that takes a BasicAuth protobuf (username
 * "arrow", password "flight") and answers a token; every other call must
 * carry that token (auth-token-bin), else UNAUTHENTICATED. DoAction (any
 * action) answers one Result whose body is the caller's identity, the
 * authenticated username.
 *
 * Client: a DoAction without authenticating must fail with UNAUTHENTICATED;
 * then the BasicAuth handshake; then the same DoAction must answer exactly
 * one Result, "arrow". */
#include "fi.h"

#define AUTH_USERNAME "arrow"
#define AUTH_PASSWORD "flight"

static bool check_password(void *ctx, const char *username, const char *password) {
  return strcmp(username, AUTH_USERNAME) == 0 && strcmp(password, AUTH_PASSWORD) == 0;
}

static int auth_do_action(void *user, cflight_call_context *ctx, const cflight_action *action,
                          cflight_result_writer *out, cflight_error *err) {
  const char *identity = cflight_call_context_peer_identity(ctx);
  return cflight_result_writer_write_result(out, identity, strlen(identity), err);
}

static int auth_make_server(fi_server_setup *setup, cflight_error *err) {
  cflight_server_auth_handler *h = cflight_server_auth_handler_new_basic(check_password, NULL);
  if (h == NULL) return CF_NOMEM(err, "auth handler");
  cflight_server_options_set_auth_handler(setup->options, h);
  setup->handlers.do_action = auth_do_action;
  return CFLIGHT_OK;
}

/* DoAction of an empty action; the results' bodies must be exactly want[0..n). */
static int check_action_results(cflight_client *c, const char *const *want, size_t n,
                                cflight_error *err) {
  cflight_action *action = NULL;
  CF_RETURN_NOT_OK(cflight_action_new("", NULL, 0, &action, err));
  cflight_result_iter *it = NULL;
  int rc = cflight_client_do_action(c, action, NULL, &it, err);
  if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "DoAction after authenticating");
  for (size_t i = 0; rc == CFLIGHT_OK && i <= n; i++) {
    cflight_result *r = NULL;
    rc = cflight_result_iter_next(it, &r, err);
    if (rc != CFLIGHT_OK) {
      rc = fi_wrap(err, rc, "DoAction after authenticating: reading result %zu", i);
      break;
    }
    if (i == n) {
      if (r != NULL) rc = fi_fail(err, "DoAction: the result stream had too many entries");
    } else if (r == NULL) {
      rc =
          fi_fail(err, "DoAction: the result stream ended early (%zu results, expected %zu)", i, n);
    } else {
      size_t size = 0;
      const uint8_t *body = cflight_result_body(r, &size);
      if (!fi_bytes_eq(body, size, want[i])) {
        char got[300];
        fi_bytes_text(body, size, got, sizeof(got));
        rc = fi_fail(err, "DoAction: got the wrong result: expected '%s', got '%s'", want[i], got);
      }
    }
    cflight_result_free(r);
  }
  cflight_result_iter_free(it);
  cflight_action_free(action);
  return rc;
}

static int auth_run_client(const fi_client_args *args, cflight_error *err) {
  cflight_client *c = NULL;
  CF_RETURN_NOT_OK(fi_connect(args, NULL, &c, err));
  cflight_client_auth_handler *h = NULL;

  /* Unauthenticated: the server must refuse. */
  cflight_action *action = NULL;
  cflight_result_iter *it = NULL;
  int rc = cflight_action_new("", NULL, 0, &action, err);
  if (rc == CFLIGHT_OK) {
    cflight_error call = {0};
    int st = cflight_client_do_action(c, action, NULL, &it, &call);
    cflight_result *r = NULL;
    if (st == CFLIGHT_OK) st = cflight_result_iter_next(it, &r, &call);
    cflight_result_free(r);
    cflight_result_iter_free(it);
    if (st != CFLIGHT_UNAUTHENTICATED) {
      rc = fi_fail(err, "DoAction without authenticating: expected UNAUTHENTICATED, got %s%s%s",
                   cflight_code_name(st), st != CFLIGHT_OK ? ": " : "",
                   st != CFLIGHT_OK ? call.message : "");
    }
    cflight_error_reset(&call);
  }
  cflight_action_free(action);

  /* Authenticated: the server must know who we are. */
  if (rc == CFLIGHT_OK) {
    h = cflight_client_auth_handler_new_basic(AUTH_USERNAME, AUTH_PASSWORD);
    rc = h != NULL ? cflight_client_authenticate(c, h, NULL, err) : CF_NOMEM(err, "auth handler");
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "Handshake with BasicAuth");
  }
  if (rc == CFLIGHT_OK) {
    const char *want[1] = {AUTH_USERNAME};
    rc = check_action_results(c, want, 1, err);
  }
  cflight_client_close(c);
  cflight_client_auth_handler_free(h);
  return rc;
}

const fi_scenario fi_scenario_auth_basic_proto = {"auth:basic_proto",
                                                  "Authenticate using the BasicAuth protobuf.",
                                                  auth_make_server, auth_run_client};
