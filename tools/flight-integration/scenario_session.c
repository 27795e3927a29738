/* session_options: SetSessionOptions, GetSessionOptions and CloseSession
 * (DoAction with the specification's action types and messages), in a
 * server session kept with the "arrow_flight_session_id" cookie.
 *
 * Server: a call without the cookie that needs a session gets a new one and
 * the response header "set-cookie: arrow_flight_session_id=ID"; a cookie
 * naming no session is INVALID_ARGUMENT. SetSessionOptions sets each option
 * except: the name "lol_invalid" (error INVALID_NAME) and the string value
 * "lol_invalid" (error INVALID_VALUE); an option without a value is removed.
 * GetSessionOptions answers the session's options. CloseSession forgets the
 * session, answers CLOSED and expires the cookie (Max-Age=0).
 *
 * Client (with the cookie middleware), in order:
 *   1. GetSessionOptions: no options;
 *   2. SetSessionOptions foolong=123 (int64), bardouble=456.0 (double),
 *      lol_invalid="this won't get set", key_with_invalid_value="lol_invalid",
 *      big_ol_string_list=["a", "b", "sea", "dee", " ", "  ", "geee",
 *      "(づ｡◕‿‿◕｡)づ"]: exactly the errors lol_invalid INVALID_NAME and
 *      key_with_invalid_value INVALID_VALUE;
 *   3. GetSessionOptions: exactly foolong, bardouble, big_ol_string_list;
 *   4. SetSessionOptions foolong=(no value), big_ol_string_list=
 *      "a,b,sea,dee, ,  ,geee,(づ｡◕‿‿◕｡)づ" (a string now): no errors;
 *   5. GetSessionOptions: exactly bardouble and the new big_ol_string_list;
 *   6. CloseSession: CLOSED.
 * (Steps 1-3 and 5-6 are the Go client's; 4-5 as the Java client updates.) */
#include <pthread.h>
#include <strings.h>
#include <sys/random.h>

#include "fi.h"

#define COOKIE_NAME "arrow_flight_session_id"
#define SMILE                                                                              \
  "(\xe3\x81\xa5\xef\xbd\xa1\xe2\x97\x95\xe2\x80\xbf\xe2\x80\xbf\xe2\x97\x95\xef\xbd\xa1)" \
  "\xe3\x81\xa5"

/* ---- Server ---------------------------------------------------------------------------------- */

typedef struct option {
  char *name;
  cflight_session_option_value *value;
} option;

typedef struct session {
  char id[33];
  option *opts;
  size_t n_opts;
  struct session *next;
} session;

typedef struct session_server {
  pthread_mutex_t mu; /* guards the sessions and their options */
  session *sessions;
} session_server;

static void session_free(session *s) {
  for (size_t i = 0; i < s->n_opts; i++) {
    free(s->opts[i].name);
    cflight_session_option_value_free(s->opts[i].value);
  }
  free(s->opts);
  free(s);
}

static void session_server_free(void *user) {
  session_server *srv = user;
  while (srv->sessions != NULL) {
    session *s = srv->sessions;
    srv->sessions = s->next;
    session_free(s);
  }
  pthread_mutex_destroy(&srv->mu);
  free(srv);
}

static void session_erase(session *s, const char *name) {
  for (size_t i = 0; i < s->n_opts; i++) {
    if (strcmp(s->opts[i].name, name) != 0) continue;
    free(s->opts[i].name);
    cflight_session_option_value_free(s->opts[i].value);
    s->opts[i] = s->opts[--s->n_opts];
    return;
  }
}

static int session_set(session *s, const char *name, const cflight_session_option_value *v,
                       cflight_error *err) {
  cflight_session_option_value *copy = NULL;
  CF_RETURN_NOT_OK(cflight_session_option_value_copy(v, &copy, err));
  for (size_t i = 0; i < s->n_opts; i++) {
    if (strcmp(s->opts[i].name, name) == 0) {
      cflight_session_option_value_free(s->opts[i].value);
      s->opts[i].value = copy;
      return CFLIGHT_OK;
    }
  }
  option *grown = realloc(s->opts, (s->n_opts + 1) * sizeof(*grown));
  char *n = cf_strdup(name);
  if (grown != NULL) s->opts = grown;
  if (grown == NULL || n == NULL) {
    free(n);
    cflight_session_option_value_free(copy);
    return CF_NOMEM(err, "session option");
  }
  s->opts[s->n_opts++] = (option){n, copy};
  return CFLIGHT_OK;
}

/* The value of cookie `name` in the request's cookie headers, copied to
 * buf; false when there is none. */
static bool request_cookie(cflight_call_context *ctx, const char *name, char *buf, size_t cap) {
  const cflight_headers *h = cflight_call_context_headers(ctx);
  size_t name_len = strlen(name);
  for (size_t i = 0; i < cflight_headers_count(h); i++) {
    if (strcasecmp(cflight_headers_key(h, i), "cookie") != 0) continue;
    size_t size = 0;
    const char *v = (const char *)cflight_headers_value(h, i, &size);
    size_t pos = 0;
    while (pos < size) {
      while (pos < size && (v[pos] == ' ' || v[pos] == ';'))
        pos++;
      size_t start = pos;
      while (pos < size && v[pos] != ';')
        pos++;
      const char *pair = v + start;
      size_t len = pos - start;
      if (len > name_len && memcmp(pair, name, name_len) == 0 && pair[name_len] == '=') {
        size_t vlen = len - name_len - 1;
        if (vlen >= cap) return false;
        memcpy(buf, pair + name_len + 1, vlen);
        buf[vlen] = '\0';
        return true;
      }
    }
  }
  return false;
}

/* The call's session, made (and announced with set-cookie) when the client
 * has none and create is true; call with mu held. *out is NULL when there is
 * none and create is false. */
static int find_session_locked(session_server *srv, cflight_call_context *ctx, bool create,
                               session **out, cflight_error *err) {
  *out = NULL;
  char id[128];
  if (request_cookie(ctx, COOKIE_NAME, id, sizeof(id))) {
    for (session *s = srv->sessions; s != NULL; s = s->next) {
      if (strcmp(s->id, id) == 0) {
        *out = s;
        return CFLIGHT_OK;
      }
    }
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "Invalid or expired " COOKIE_NAME " cookie");
  }
  if (!create) return CFLIGHT_OK;
  session *s = calloc(1, sizeof(*s));
  if (s == NULL) return CF_NOMEM(err, "session");
  uint8_t raw[16];
  if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
    free(s);
    return cflight_error_set(err, CFLIGHT_INTERNAL, "no random bytes for a session id");
  }
  for (size_t i = 0; i < sizeof(raw); i++)
    snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
  char cookie[sizeof(COOKIE_NAME) + 40];
  snprintf(cookie, sizeof(cookie), COOKIE_NAME "=%s", s->id);
  int rc = cflight_call_context_add_header(ctx, "set-cookie", cookie, strlen(cookie), err);
  if (rc != CFLIGHT_OK) {
    free(s);
    return rc;
  }
  s->next = srv->sessions;
  srv->sessions = s;
  *out = s;
  return CFLIGHT_OK;
}

static int set_options(session_server *srv, cflight_call_context *ctx, const cflight_action *action,
                       cflight_result_writer *out, cflight_error *err) {
  cflight_set_session_options_request *req = NULL;
  CF_RETURN_NOT_OK(cflight_action_decode_set_session_options_request(action, &req, err));
  cflight_set_session_options_result *result = NULL;
  int rc = cflight_set_session_options_result_new(&result, err);
  pthread_mutex_lock(&srv->mu);
  session *s = NULL;
  if (rc == CFLIGHT_OK) rc = find_session_locked(srv, ctx, true, &s, err);
  for (size_t i = 0; rc == CFLIGHT_OK && i < cflight_set_session_options_request_count(req); i++) {
    const char *name = cflight_set_session_options_request_name(req, i);
    const cflight_session_option_value *v = cflight_set_session_options_request_value(req, i);
    cflight_session_option_type type = cflight_session_option_value_get_type(v);
    if (strcmp(name, "lol_invalid") == 0) {
      rc = cflight_set_session_options_result_set_error(
          result, name, CFLIGHT_SET_SESSION_OPTION_ERROR_INVALID_NAME, err);
    } else if (type == CFLIGHT_SESSION_OPTION_STRING &&
               strcmp(cflight_session_option_value_string(v), "lol_invalid") == 0) {
      rc = cflight_set_session_options_result_set_error(
          result, name, CFLIGHT_SET_SESSION_OPTION_ERROR_INVALID_VALUE, err);
    } else if (type == CFLIGHT_SESSION_OPTION_UNSET) {
      session_erase(s, name);
    } else {
      rc = session_set(s, name, v, err);
    }
  }
  pthread_mutex_unlock(&srv->mu);
  if (rc == CFLIGHT_OK)
    rc = cflight_result_writer_write_set_session_options_result(out, result, err);
  cflight_set_session_options_result_free(result);
  cflight_set_session_options_request_free(req);
  return rc;
}

static int get_options(session_server *srv, cflight_call_context *ctx, const cflight_action *action,
                       cflight_result_writer *out, cflight_error *err) {
  cflight_get_session_options_request *req = NULL;
  CF_RETURN_NOT_OK(cflight_action_decode_get_session_options_request(action, &req, err));
  cflight_get_session_options_result *result = NULL;
  int rc = cflight_get_session_options_result_new(&result, err);
  pthread_mutex_lock(&srv->mu);
  session *s = NULL;
  if (rc == CFLIGHT_OK) rc = find_session_locked(srv, ctx, true, &s, err);
  for (size_t i = 0; rc == CFLIGHT_OK && i < s->n_opts; i++)
    rc = cflight_get_session_options_result_set(result, s->opts[i].name, s->opts[i].value, err);
  pthread_mutex_unlock(&srv->mu);
  if (rc == CFLIGHT_OK)
    rc = cflight_result_writer_write_get_session_options_result(out, result, err);
  cflight_get_session_options_result_free(result);
  cflight_get_session_options_request_free(req);
  return rc;
}

static int close_session(session_server *srv, cflight_call_context *ctx,
                         const cflight_action *action, cflight_result_writer *out,
                         cflight_error *err) {
  cflight_close_session_request *req = NULL;
  CF_RETURN_NOT_OK(cflight_action_decode_close_session_request(action, &req, err));
  cflight_close_session_request_free(req);
  pthread_mutex_lock(&srv->mu);
  session *s = NULL;
  int rc = find_session_locked(srv, ctx, false, &s, err);
  if (rc == CFLIGHT_OK && s == NULL)
    rc = cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                           "CloseSession: no session to close (no " COOKIE_NAME " cookie)");
  if (rc == CFLIGHT_OK) {
    char cookie[sizeof(COOKIE_NAME) + 64];
    snprintf(cookie, sizeof(cookie), COOKIE_NAME "=%s; Max-Age=0", s->id);
    rc = cflight_call_context_add_header(ctx, "set-cookie", cookie, strlen(cookie), err);
  }
  if (rc == CFLIGHT_OK) {
    session **link = &srv->sessions;
    while (*link != s)
      link = &(*link)->next;
    *link = s->next;
    session_free(s);
  }
  pthread_mutex_unlock(&srv->mu);
  cflight_close_session_result *result = NULL;
  if (rc == CFLIGHT_OK)
    rc = cflight_close_session_result_new(CFLIGHT_CLOSE_SESSION_STATUS_CLOSED, &result, err);
  if (rc == CFLIGHT_OK) rc = cflight_result_writer_write_close_session_result(out, result, err);
  cflight_close_session_result_free(result);
  return rc;
}

static int session_do_action(void *user, cflight_call_context *ctx, const cflight_action *action,
                             cflight_result_writer *out, cflight_error *err) {
  session_server *srv = user;
  const char *type = cflight_action_get_type(action);
  if (strcmp(type, CFLIGHT_ACTION_SET_SESSION_OPTIONS) == 0)
    return set_options(srv, ctx, action, out, err);
  if (strcmp(type, CFLIGHT_ACTION_GET_SESSION_OPTIONS) == 0)
    return get_options(srv, ctx, action, out, err);
  if (strcmp(type, CFLIGHT_ACTION_CLOSE_SESSION) == 0)
    return close_session(srv, ctx, action, out, err);
  return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "Unknown action: %s", type);
}

static int session_make_server(fi_server_setup *setup, cflight_error *err) {
  session_server *srv = calloc(1, sizeof(*srv));
  if (srv == NULL) return CF_NOMEM(err, "server");
  pthread_mutex_init(&srv->mu, NULL);
  setup->handlers.do_action = session_do_action;
  setup->user = srv;
  setup->free_user = session_server_free;
  return CFLIGHT_OK;
}

/* ---- Client ---------------------------------------------------------------------------------- */

static const char *const string_list[] = {"a", "b", "sea", "dee", " ", "  ", "geee", SMILE};
#define JOINED_LIST "a,b,sea,dee, ,  ,geee," SMILE

/* An expected option: its name and value (NULL when none was made). */
typedef struct expected {
  const char *name;
  cflight_session_option_value *value;
} expected;

static void expected_free(expected *e, size_t n) {
  for (size_t i = 0; i < n; i++)
    cflight_session_option_value_free(e[i].value);
}

static const char *type_name(cflight_session_option_type t) {
  switch (t) {
    case CFLIGHT_SESSION_OPTION_UNSET:
      return "no value";
    case CFLIGHT_SESSION_OPTION_STRING:
      return "string";
    case CFLIGHT_SESSION_OPTION_BOOL:
      return "bool";
    case CFLIGHT_SESSION_OPTION_INT64:
      return "int64";
    case CFLIGHT_SESSION_OPTION_DOUBLE:
      return "double";
    case CFLIGHT_SESSION_OPTION_STRING_LIST:
      return "string list";
  }
  return "unknown";
}

/* The GetSessionOptions result must hold exactly want[0..n). */
static int check_options(const char *step, const cflight_get_session_options_result *got,
                         const expected *want, size_t n, cflight_error *err) {
  size_t n_got = cflight_get_session_options_result_count(got);
  char names[512] = "";
  size_t o = 0;
  for (size_t i = 0; i < n_got && o < sizeof(names); i++)
    o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", i ? ", " : "",
                          cflight_get_session_options_result_name(got, i));
  if (n_got != n)
    return fi_fail(err, "%s: expected %zu options, got %zu [%s]", step, n, n_got, names);
  for (size_t i = 0; i < n; i++) {
    const cflight_session_option_value *v =
        cflight_get_session_options_result_find(got, want[i].name);
    if (v == NULL)
      return fi_fail(err, "%s: the option %s is missing (got [%s])", step, want[i].name, names);
    if (!cflight_session_option_value_equals(v, want[i].value))
      return fi_fail(err, "%s: the option %s differs (a %s, expected a %s)", step, want[i].name,
                     type_name(cflight_session_option_value_get_type(v)),
                     type_name(cflight_session_option_value_get_type(want[i].value)));
  }
  return CFLIGHT_OK;
}

static int get_and_check(cflight_client *c, const char *step, const expected *want, size_t n,
                         cflight_error *err) {
  cflight_get_session_options_result *got = NULL;
  int rc = cflight_client_get_session_options(c, NULL, NULL, &got, err);
  if (rc != CFLIGHT_OK) return fi_wrap(err, rc, "%s: GetSessionOptions", step);
  rc = check_options(step, got, want, n, err);
  cflight_get_session_options_result_free(got);
  return rc;
}

/* SetSessionOptions of opts[0..n); the result's errors must be exactly
 * the names errs_names[0..n_errs) with errors errs[0..n_errs). */
static int set_and_check(cflight_client *c, const char *step, const expected *opts, size_t n,
                         const char *const *err_names, const cflight_set_session_option_error *errs,
                         size_t n_errs, cflight_error *err) {
  cflight_set_session_options_request *req = NULL;
  cflight_set_session_options_result *result = NULL;
  int rc = cflight_set_session_options_request_new(&req, err);
  for (size_t i = 0; i < n && rc == CFLIGHT_OK; i++)
    rc = cflight_set_session_options_request_set(req, opts[i].name, opts[i].value, err);
  if (rc == CFLIGHT_OK) {
    rc = cflight_client_set_session_options(c, req, NULL, &result, err);
    if (rc != CFLIGHT_OK) rc = fi_wrap(err, rc, "%s: SetSessionOptions", step);
  }
  if (rc == CFLIGHT_OK && cflight_set_session_options_result_count(result) != n_errs)
    rc = fi_fail(err, "%s: expected %zu errors, got %zu", step, n_errs,
                 cflight_set_session_options_result_count(result));
  for (size_t i = 0; i < n_errs && rc == CFLIGHT_OK; i++) {
    cflight_set_session_option_error e;
    if (!cflight_set_session_options_result_find(result, err_names[i], &e)) {
      rc = fi_fail(err, "%s: expected an error for %s, got none", step, err_names[i]);
    } else if (e != errs[i]) {
      rc = fi_fail(err, "%s: the error for %s is %d, expected %d", step, err_names[i], (int)e,
                   (int)errs[i]);
    }
  }
  cflight_set_session_options_result_free(result);
  cflight_set_session_options_request_free(req);
  return rc;
}

static int session_steps(cflight_client *c, cflight_error *err) {
  expected all[5] = {{"foolong", NULL},
                     {"bardouble", NULL},
                     {"lol_invalid", NULL},
                     {"key_with_invalid_value", NULL},
                     {"big_ol_string_list", NULL}};
  expected update[2] = {{"foolong", NULL}, {"big_ol_string_list", NULL}};
  int rc = cflight_session_option_value_new_int64(123, &all[0].value, err);
  if (rc == CFLIGHT_OK) rc = cflight_session_option_value_new_double(456.0, &all[1].value, err);
  if (rc == CFLIGHT_OK)
    rc = cflight_session_option_value_new_string("this won't get set", &all[2].value, err);
  if (rc == CFLIGHT_OK)
    rc = cflight_session_option_value_new_string("lol_invalid", &all[3].value, err);
  if (rc == CFLIGHT_OK)
    rc = cflight_session_option_value_new_string_list(string_list, CF_ARRAY_SIZE(string_list),
                                                      &all[4].value, err);
  if (rc == CFLIGHT_OK) rc = cflight_session_option_value_new_unset(&update[0].value, err);
  if (rc == CFLIGHT_OK)
    rc = cflight_session_option_value_new_string(JOINED_LIST, &update[1].value, err);

  /* 1. A new session has no options. */
  if (rc == CFLIGHT_OK) rc = get_and_check(c, "1. the new session", NULL, 0, err);
  /* 2. Set all five: two are refused. */
  if (rc == CFLIGHT_OK) {
    static const char *const names[2] = {"lol_invalid", "key_with_invalid_value"};
    static const cflight_set_session_option_error errs[2] = {
        CFLIGHT_SET_SESSION_OPTION_ERROR_INVALID_NAME,
        CFLIGHT_SET_SESSION_OPTION_ERROR_INVALID_VALUE};
    rc = set_and_check(c, "2. setting five options", all, 5, names, errs, 2, err);
  }
  /* 3. The three others were set. */
  if (rc == CFLIGHT_OK) {
    expected want[3] = {all[0], all[1], all[4]};
    rc = get_and_check(c, "3. after setting", want, 3, err);
  }
  /* 4. Remove one, replace another (with a value of another type). */
  if (rc == CFLIGHT_OK)
    rc = set_and_check(c, "4. removing foolong, replacing big_ol_string_list", update, 2, NULL,
                       NULL, 0, err);
  /* 5. */
  if (rc == CFLIGHT_OK) {
    expected want[2] = {all[1], update[1]};
    rc = get_and_check(c, "5. after the update", want, 2, err);
  }
  /* 6. Close. */
  if (rc == CFLIGHT_OK) {
    cflight_close_session_result *result = NULL;
    rc = cflight_client_close_session(c, NULL, NULL, &result, err);
    if (rc != CFLIGHT_OK) {
      rc = fi_wrap(err, rc, "6. CloseSession");
    } else if (cflight_close_session_result_status(result) != CFLIGHT_CLOSE_SESSION_STATUS_CLOSED) {
      rc = fi_fail(err, "6. CloseSession: expected the status CLOSED, got %d",
                   (int)cflight_close_session_result_status(result));
    }
    cflight_close_session_result_free(result);
  }
  expected_free(all, 5);
  expected_free(update, 2);
  return rc;
}

static int session_run_client(const fi_client_args *args, cflight_error *err) {
  cflight_client_options *opts = cflight_client_options_new();
  cflight_client_middleware_factory *cookies = cflight_client_cookie_middleware_new();
  int rc = opts != NULL && cookies != NULL ? CFLIGHT_OK : CF_NOMEM(err, "options");
  if (rc == CFLIGHT_OK) {
    rc = cflight_client_options_add_middleware(opts, cookies, err);
    cookies = NULL; /* the options took it */
  }
  cflight_client *c = NULL;
  if (rc == CFLIGHT_OK) rc = fi_connect(args, opts, &c, err);
  if (rc == CFLIGHT_OK) rc = session_steps(c, err);
  if (c != NULL) cflight_client_close(c);
  cflight_client_middleware_factory_free(cookies);
  cflight_client_options_free(opts);
  return rc;
}

const fi_scenario fi_scenario_session_options = {"session_options",
                                                 "Ensure Flight SQL Sessions work as expected.",
                                                 session_make_server, session_run_client};
