/* The Flight client: options, connection, the client call (cf_ccall) with
 * its middleware, and every RPC except authentication (auth.c) and the
 * typed actions (actions.c). */
#include <stdio.h>
#include <time.h>

#include "rpc/rpc.h"

void cflight_free(void *p) {
  free(p);
}

/* ---- Client options -------------------------------------------------------------------------- */

cflight_client_options *cflight_client_options_new(void) {
  cflight_client_options *o = calloc(1, sizeof(*o));
  if (o != NULL) cf_transport_options_init(&o->t);
  return o;
}

void cflight_client_options_free(cflight_client_options *o) {
  if (o == NULL) return;
  cf_transport_options_reset(&o->t);
  for (size_t i = 0; i < o->n_mw; i++)
    cflight_client_middleware_factory_free(o->mw[i]);
  free(o->mw);
  free(o);
}

static int set_pem(char **field, const char *pem, const char *what, cflight_error *err) {
  if (pem == NULL || pem[0] == '\0')
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "client options: empty %s", what);
  char *copy = cf_strdup(pem);
  if (copy == NULL) return CF_NOMEM(err, what);
  free(*field);
  *field = copy;
  return CFLIGHT_OK;
}

int cflight_client_options_set_tls_root_certs(cflight_client_options *o, const char *pem,
                                              cflight_error *err) {
  if (o == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "client options: NULL");
  return set_pem(&o->t.tls_client.root_certs_pem, pem, "root certificates", err);
}

int cflight_client_options_set_tls_client_cert(cflight_client_options *o,
                                               const char *cert_chain_pem,
                                               const char *private_key_pem, cflight_error *err) {
  if (o == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "client options: NULL");
  CF_RETURN_NOT_OK(
      set_pem(&o->t.tls_client.cert_chain_pem, cert_chain_pem, "certificate chain", err));
  return set_pem(&o->t.tls_client.private_key_pem, private_key_pem, "private key", err);
}

int cflight_client_options_set_tls_override_hostname(cflight_client_options *o,
                                                     const char *hostname, cflight_error *err) {
  if (o == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "client options: NULL");
  return set_pem(&o->t.tls_client.override_hostname, hostname, "override hostname", err);
}

void cflight_client_options_set_disable_server_verification(cflight_client_options *o,
                                                            bool disable) {
  if (o != NULL) o->t.tls_client.disable_verification = disable;
}

void cflight_client_options_set_write_size_limit(cflight_client_options *o, int64_t bytes) {
  if (o != NULL) o->write_size_limit = bytes > 0 ? bytes : 0;
}

int cflight_client_options_set_generic(cflight_client_options *o, const char *name,
                                       const char *value, cflight_error *err) {
  if (o == NULL || name == NULL || value == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "client options: NULL argument");
  return cf_transport_options_set(&o->t, name, value, err);
}

int cflight_client_options_add_middleware(cflight_client_options *o,
                                          cflight_client_middleware_factory *f,
                                          cflight_error *err) {
  if (o == NULL || f == NULL) {
    cflight_client_middleware_factory_free(f);
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "client options: NULL middleware");
  }
  cflight_client_middleware_factory **mw = realloc(o->mw, (o->n_mw + 1) * sizeof(*mw));
  if (mw == NULL) {
    cflight_client_middleware_factory_free(f);
    return CF_NOMEM(err, "middleware list");
  }
  o->mw = mw;
  o->mw[o->n_mw++] = f;
  return CFLIGHT_OK;
}

/* ---- The client ------------------------------------------------------------------------------ */

int cflight_client_connect(const char *location, const cflight_client_options *opts,
                           cflight_client **out, cflight_error *err) {
  if (out == NULL || location == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "connect: NULL location or output");
  *out = NULL;
  cf_address addr;
  CF_RETURN_NOT_OK(cf_address_parse(location, &addr, err));
  cflight_client *c = calloc(1, sizeof(*c));
  if (c == NULL) return CF_NOMEM(err, "client");
  pthread_mutex_init(&c->mu, NULL);
  int rc = CFLIGHT_OK;
  c->location = cf_strdup(location);
  if (c->location == NULL) rc = CF_NOMEM(err, "client");
  if (rc == CFLIGHT_OK && opts != NULL && opts->n_mw > 0) {
    c->mw = calloc(opts->n_mw, sizeof(*c->mw));
    if (c->mw == NULL) rc = CF_NOMEM(err, "client");
    for (size_t i = 0; rc == CFLIGHT_OK && i < opts->n_mw; i++)
      c->mw[c->n_mw++] = cf_client_mw_ref(opts->mw[i]);
  }
  if (rc == CFLIGHT_OK) {
    c->write_size_limit = opts != NULL ? opts->write_size_limit : 0;
    rc = cf_channel_new(&addr, opts != NULL ? &opts->t : NULL, &c->ch, err);
  }
  if (rc != CFLIGHT_OK) {
    cflight_client_close(c);
    return rc;
  }
  *out = c;
  return CFLIGHT_OK;
}

int cflight_client_wait_for_available(cflight_client *c, double timeout_seconds,
                                      cflight_error *err) {
  if (c == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "client: NULL");
  int64_t deadline = cf_now_ns() + (int64_t)(timeout_seconds > 0 ? timeout_seconds * 1e9 : 0);
  cflight_error last = {0};
  int64_t backoff_ms = 20;
  for (;;) {
    cflight_error e = {0};
    int rc = cf_channel_wait_ready(c->ch, deadline, &e);
    if (rc == CFLIGHT_OK) {
      cflight_error_reset(&last);
      return CFLIGHT_OK;
    }
    if (rc != CFLIGHT_UNAVAILABLE && rc != CFLIGHT_DEADLINE_EXCEEDED) {
      cf_error_copy(err, &e);
      cflight_error_reset(&last);
      return rc;
    }
    if (rc == CFLIGHT_UNAVAILABLE) cflight_error_move(&last, &e);
    cflight_error_reset(&e);
    int64_t now = cf_now_ns();
    if (now >= deadline) {
      if (last.code != CFLIGHT_OK) {
        rc = cflight_error_set(err, CFLIGHT_UNAVAILABLE, "%s", last.message);
      } else {
        rc = cflight_error_set(err, CFLIGHT_DEADLINE_EXCEEDED,
                               "the server at %s did not answer within %.3f s", c->location,
                               timeout_seconds);
      }
      cflight_error_reset(&last);
      return rc;
    }
    /* A refused connection fails at once: try again until the deadline. */
    int64_t left_ms = (deadline - now) / 1000000;
    int64_t sleep_ms = backoff_ms < left_ms ? backoff_ms : left_ms;
    if (sleep_ms > 0) {
      struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000};
      nanosleep(&ts, NULL);
    }
    if (backoff_ms < 500) backoff_ms *= 2;
  }
}

void cflight_client_close(cflight_client *c) {
  if (c == NULL) return;
  cf_channel_free(c->ch);
  for (size_t i = 0; i < c->n_mw; i++)
    cflight_client_middleware_factory_free(c->mw[i]);
  free(c->mw);
  free(c->location);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

/* ---- Client calls ---------------------------------------------------------------------------- */

static void ccall_destroy(cf_ccall *cc) {
  cf_call_free(cc->call);
  cflight_ipc_options_free(cc->ipc);
  free(cc->mw_inst);
  pthread_mutex_destroy(&cc->mu);
  free(cc);
}

/* Ends the middleware instances started so far with status. [mu or not shared] */
static void complete_locked(cf_ccall *cc, const cflight_error *status) {
  if (cc->completed) return;
  cc->completed = true;
  for (size_t i = cc->n_mw; i-- > 0;) {
    cflight_client_middleware_factory *f = cc->client->mw[i];
    if (cc->mw_inst[i] != NULL && f->cb.call_completed != NULL)
      f->cb.call_completed(cc->mw_inst[i], status);
    cc->mw_inst[i] = NULL;
  }
}

static int add_token(cflight_client *c, cf_metadata *md, cflight_error *err) {
  pthread_mutex_lock(&c->mu);
  cflight_client_auth_handler *h = c->auth;
  pthread_mutex_unlock(&c->mu);
  if (h == NULL || h->cb.get_token == NULL) return CFLIGHT_OK;
  cflight_buffer *token = NULL;
  int rc = h->cb.get_token(h->ctx, &token, err);
  if (rc == CFLIGHT_OK && token != NULL)
    rc = cf_metadata_add(md, CF_AUTH_TOKEN_HEADER, cflight_buffer_data(token),
                         cflight_buffer_size(token), err);
  cflight_buffer_unref(token);
  return rc;
}

int cf_ccall_start(cflight_client *c, cf_method m, const cflight_call_options *opts, cf_ccall **out,
                   cflight_error *err) {
  *out = NULL;
  if (c == NULL) return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "client: NULL");
  cf_ccall *cc = calloc(1, sizeof(*cc));
  if (cc == NULL) return CF_NOMEM(err, "call");
  atomic_init(&cc->refs, 1);
  cc->client = c;
  cc->method = m;
  cc->info.method = m;
  pthread_mutex_init(&cc->mu, NULL);
  if (opts != NULL && opts->ipc != NULL) cc->ipc = cflight_ipc_options_copy(opts->ipc);
  if (c->n_mw > 0) cc->mw_inst = calloc(c->n_mw, sizeof(void *));
  if ((c->n_mw > 0 && cc->mw_inst == NULL) ||
      (opts != NULL && opts->ipc != NULL && cc->ipc == NULL)) {
    cflight_ipc_options_free(cc->ipc);
    free(cc->mw_inst);
    pthread_mutex_destroy(&cc->mu);
    free(cc);
    return CF_NOMEM(err, "call");
  }
  cflight_error e = {0};
  cf_metadata hdrs = {0};
  int rc = opts != NULL ? cf_metadata_copy(&opts->headers, &hdrs, &e) : CFLIGHT_OK;
  /* The Handshake is what makes a token: it never carries one. */
  if (rc == CFLIGHT_OK && m != CF_M_HANDSHAKE) rc = add_token(c, &hdrs, &e);
  for (size_t i = 0; rc == CFLIGHT_OK && i < c->n_mw; i++) {
    cflight_client_middleware_factory *f = c->mw[i];
    void *inst = NULL;
    if (f->cb.start_call != NULL) rc = f->cb.start_call(f->ctx, &cc->info, &inst, &e);
    if (rc != CFLIGHT_OK) {
      if (e.code == CFLIGHT_OK) cflight_error_set(&e, rc, "client middleware refused the call");
      break;
    }
    cc->mw_inst[i] = inst;
    cc->n_mw = i + 1;
    if (inst != NULL && f->cb.sending_headers != NULL)
      f->cb.sending_headers(inst, (cflight_headers *)&hdrs);
  }
  int64_t deadline = 0;
  if (opts != NULL && opts->timeout > 0) deadline = cf_now_ns() + (int64_t)(opts->timeout * 1e9);
  if (rc == CFLIGHT_OK)
    rc = cf_channel_start_call(c->ch, cf_method_path(m), &hdrs, deadline, &cc->call, &e);
  cf_metadata_reset(&hdrs);
  if (rc != CFLIGHT_OK) {
    cc->headers_seen = true;
    complete_locked(cc, &e);
    cf_error_copy(err, &e);
    cflight_error_reset(&e);
    ccall_destroy(cc);
    return rc;
  }
  *out = cc;
  return CFLIGHT_OK;
}

cf_ccall *cf_ccall_ref(cf_ccall *cc) {
  atomic_fetch_add(&cc->refs, 1);
  return cc;
}

static bool wants_headers(const cf_ccall *cc) {
  for (size_t i = 0; i < cc->n_mw; i++)
    if (cc->mw_inst[i] != NULL && cc->client->mw[i]->cb.received_headers != NULL) return true;
  return false;
}

static void deliver_headers(cf_ccall *cc, const cf_metadata *md) {
  for (size_t i = 0; i < cc->n_mw; i++) {
    cflight_client_middleware_factory *f = cc->client->mw[i];
    if (cc->mw_inst[i] != NULL && f->cb.received_headers != NULL)
      f->cb.received_headers(cc->mw_inst[i], cf_headers_view(md));
  }
}

void cf_ccall_headers(cf_ccall *cc) {
  pthread_mutex_lock(&cc->mu);
  if (!cc->headers_seen) {
    cc->headers_seen = true;
    const cf_metadata *md = NULL;
    if (wants_headers(cc) && cf_call_response_headers(cc->call, &md, NULL) == CFLIGHT_OK &&
        md != NULL)
      deliver_headers(cc, md);
  }
  pthread_mutex_unlock(&cc->mu);
}

void cf_ccall_complete(cf_ccall *cc, const cflight_error *status) {
  pthread_mutex_lock(&cc->mu);
  if (!cc->completed) {
    if (!cc->headers_seen) {
      /* The call has ended. Without response headers (a trailers-only
       * answer) the middleware sees the trailers instead, as in Arrow. */
      cc->headers_seen = true;
      if (wants_headers(cc)) {
        const cf_metadata *md = NULL;
        cf_status st = {0};
        if (cf_call_response_headers(cc->call, &md, NULL) != CFLIGHT_OK || md == NULL ||
            md->count == 0) {
          cf_call_finish(cc->call, &st);
          md = &st.trailers;
        }
        deliver_headers(cc, md);
        cf_status_reset(&st);
      }
    }
    complete_locked(cc, status);
  }
  pthread_mutex_unlock(&cc->mu);
}

int cf_ccall_finish(cf_ccall *cc, cf_status *st) {
  int rc = cf_call_finish(cc->call, st);
  cf_ccall_complete(cc, &st->error);
  return rc;
}

int cf_ccall_failed(cf_ccall *cc, int rc, const cflight_error *e) {
  /* A receive error on the client is the call's status. */
  cf_ccall_complete(cc, e);
  return rc;
}

void cf_ccall_unref(cf_ccall *cc) {
  if (cc == NULL || atomic_fetch_sub(&cc->refs, 1) != 1) return;
  pthread_mutex_lock(&cc->mu);
  bool done = cc->completed;
  pthread_mutex_unlock(&cc->mu);
  if (!done) {
    cf_call_cancel(cc->call);
    cf_status st = {0};
    cf_ccall_finish(cc, &st);
    cf_status_reset(&st);
  }
  ccall_destroy(cc);
}

/* ---- Unary calls ----------------------------------------------------------------------------- */

/* Sends req (a Flight message object) on a call of method m and decodes the
 * one response as resp_desc into *resp. */
static int unary_call(cflight_client *c, cf_method m, const cflight_call_options *opts,
                      const void *req, const ProtobufCMessageDescriptor *resp_desc, void **resp,
                      cflight_error *err) {
  *resp = NULL;
  cf_ccall *cc;
  CF_RETURN_NOT_OK(cf_ccall_start(c, m, opts, &cc, err));
  cflight_error e = {0};
  cf_out_msg om;
  bool sent = false, more = false;
  int rc = cf_flight_msg_encode(req, &om, &e);
  if (rc == CFLIGHT_OK) {
    rc = cf_call_send(cc->call, &om, true, &e);
    sent = rc == CFLIGHT_OK;
  }
  if (!sent) cf_call_cancel(cc->call);
  cf_msg msg;
  if (rc == CFLIGHT_OK) rc = cf_call_recv(cc->call, &msg, &more, &e);
  if (rc == CFLIGHT_OK && more) {
    rc = cf_flight_msg_decode(resp_desc, &msg, resp, &e);
    cf_msg_reset(&msg);
    if (rc != CFLIGHT_OK) cf_call_cancel(cc->call);
  }
  cf_status st = {0};
  int frc = cf_ccall_finish(cc, &st);
  /* The call's status explains a failure best, unless the failure is ours
   * (then the status is only our own cancellation). */
  if (frc != CFLIGHT_OK && (rc == CFLIGHT_OK || rc == frc || (!sent && frc != CFLIGHT_CANCELLED))) {
    rc = cf_error_copy(&e, &st.error);
  } else if (rc == CFLIGHT_OK && !more) {
    rc = cflight_error_set(&e, CFLIGHT_INTERNAL, "%s: the server sent no response message",
                           cf_method_name(m));
  }
  cf_status_reset(&st);
  if (rc != CFLIGHT_OK) {
    cf_pb_free(*resp);
    *resp = NULL;
    cf_error_copy(err, &e);
  }
  cflight_error_reset(&e);
  cf_ccall_unref(cc);
  return rc;
}

int cflight_client_get_flight_info(cflight_client *c, const cflight_descriptor *d,
                                   const cflight_call_options *opts, cflight_flight_info **out,
                                   cflight_error *err) {
  if (out == NULL || d == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "GetFlightInfo: NULL argument");
  return unary_call(c, CF_M_GET_FLIGHT_INFO, opts, d,
                    &arrow__flight__protocol__flight_info__descriptor, (void **)out, err);
}

int cflight_client_poll_flight_info(cflight_client *c, const cflight_descriptor *d,
                                    const cflight_call_options *opts, cflight_poll_info **out,
                                    cflight_error *err) {
  if (out == NULL || d == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "PollFlightInfo: NULL argument");
  return unary_call(c, CF_M_POLL_FLIGHT_INFO, opts, d,
                    &arrow__flight__protocol__poll_info__descriptor, (void **)out, err);
}

int cflight_client_get_schema(cflight_client *c, const cflight_descriptor *d,
                              const cflight_call_options *opts, struct ArrowSchema *out,
                              cflight_error *err) {
  if (out == NULL || d == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "GetSchema: NULL argument");
  memset(out, 0, sizeof(*out));
  cflight_schema_result *sr = NULL;
  CF_RETURN_NOT_OK(unary_call(c, CF_M_GET_SCHEMA, opts, d,
                              &arrow__flight__protocol__schema_result__descriptor, (void **)&sr,
                              err));
  int rc = cflight_schema_result_schema(sr, out, err);
  cflight_schema_result_free(sr);
  return rc;
}

/* ---- Result streams -------------------------------------------------------------------------- */

/* The iterator behind ListFlights, DoAction and ListActions. */
typedef struct msg_iter {
  cf_ccall *cc;
  const ProtobufCMessageDescriptor *desc;
  bool done;
  cflight_error error; /* sticky */
} msg_iter;

struct cflight_info_iter {
  msg_iter it;
};
struct cflight_result_iter {
  msg_iter it;
};
struct cflight_action_type_iter {
  msg_iter it;
};

/* Starts a server-streaming call with one request and fills it. */
static int stream_call(cflight_client *c, cf_method m, const cflight_call_options *opts,
                       const void *req, const ProtobufCMessageDescriptor *desc, msg_iter *it,
                       cflight_error *err) {
  memset(it, 0, sizeof(*it));
  it->desc = desc;
  CF_RETURN_NOT_OK(cf_ccall_start(c, m, opts, &it->cc, err));
  cf_out_msg om;
  int rc = cf_flight_msg_encode(req, &om, err);
  if (rc != CFLIGHT_OK) {
    cf_ccall_unref(it->cc);
    it->cc = NULL;
    return rc;
  }
  if (cf_call_send(it->cc->call, &om, true, &it->error) != CFLIGHT_OK) {
    /* The call is over (the server refused it, say): next() reports why. */
    it->done = true;
    cf_call_cancel(it->cc->call);
    cf_ccall_complete(it->cc, &it->error);
  }
  return CFLIGHT_OK;
}

static int iter_next(msg_iter *it, void **out, cflight_error *err) {
  *out = NULL;
  if (it->error.code != CFLIGHT_OK) return cf_error_copy(err, &it->error);
  if (it->done) return CFLIGHT_OK;
  cf_msg msg;
  bool more = false;
  int rc = cf_call_recv(it->cc->call, &msg, &more, &it->error);
  if (rc != CFLIGHT_OK) {
    it->done = true;
    cf_ccall_failed(it->cc, rc, &it->error);
    return cf_error_copy(err, &it->error);
  }
  if (!more) {
    it->done = true;
    cf_ccall_complete(it->cc, &it->error);
    return CFLIGHT_OK;
  }
  cf_ccall_headers(it->cc);
  rc = cf_flight_msg_decode(it->desc, &msg, out, &it->error);
  cf_msg_reset(&msg);
  if (rc != CFLIGHT_OK) {
    /* A malformed response ends the call: there is no telling what follows. */
    it->done = true;
    cf_call_cancel(it->cc->call);
    cf_ccall_complete(it->cc, &it->error);
    return cf_error_copy(err, &it->error);
  }
  return CFLIGHT_OK;
}

static void iter_reset(msg_iter *it) {
  cf_ccall_unref(it->cc);
  cflight_error_reset(&it->error);
}

/* Allocates an iterator struct of `size` bytes whose first member is a
 * msg_iter and starts its call; *out is NULL on failure. */
static int iter_open(cflight_client *c, cf_method m, const cflight_call_options *opts,
                     const void *req, const ProtobufCMessageDescriptor *desc, size_t size,
                     void **out, cflight_error *err) {
  msg_iter *it = calloc(1, size);
  if (it == NULL) return CF_NOMEM(err, "iterator");
  int rc = stream_call(c, m, opts, req, desc, it, err);
  if (rc != CFLIGHT_OK) {
    free(it);
    return rc;
  }
  *out = it;
  return CFLIGHT_OK;
}

static void iter_free(msg_iter *it) {
  if (it == NULL) return;
  iter_reset(it);
  free(it);
}

int cflight_client_list_flights(cflight_client *c, const void *criteria, size_t criteria_size,
                                const cflight_call_options *opts, cflight_info_iter **out,
                                cflight_error *err) {
  if (out == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "ListFlights: NULL output");
  *out = NULL;
  cflight_criteria *cr = NULL;
  CF_RETURN_NOT_OK(cflight_criteria_new(criteria, criteria != NULL ? criteria_size : 0, &cr, err));
  int rc =
      iter_open(c, CF_M_LIST_FLIGHTS, opts, cr, &arrow__flight__protocol__flight_info__descriptor,
                sizeof(**out), (void **)out, err);
  cflight_criteria_free(cr);
  return rc;
}

int cflight_info_iter_next(cflight_info_iter *it, cflight_flight_info **out, cflight_error *err) {
  if (it == NULL || out == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "iterator: NULL argument");
  return iter_next(&it->it, (void **)out, err);
}

void cflight_info_iter_free(cflight_info_iter *it) {
  iter_free(it != NULL ? &it->it : NULL);
}

int cflight_client_do_action(cflight_client *c, const cflight_action *action,
                             const cflight_call_options *opts, cflight_result_iter **out,
                             cflight_error *err) {
  if (out == NULL || action == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "DoAction: NULL argument");
  *out = NULL;
  return iter_open(c, CF_M_DO_ACTION, opts, action, &arrow__flight__protocol__result__descriptor,
                   sizeof(**out), (void **)out, err);
}

int cflight_result_iter_next(cflight_result_iter *it, cflight_result **out, cflight_error *err) {
  if (it == NULL || out == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "iterator: NULL argument");
  return iter_next(&it->it, (void **)out, err);
}

void cflight_result_iter_free(cflight_result_iter *it) {
  iter_free(it != NULL ? &it->it : NULL);
}

int cflight_client_list_actions(cflight_client *c, const cflight_call_options *opts,
                                cflight_action_type_iter **out, cflight_error *err) {
  if (out == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "ListActions: NULL output");
  *out = NULL;
  ProtobufCMessage *empty = NULL;
  int rc = cf_pb_new(&arrow__flight__protocol__empty__descriptor, &empty, err);
  if (rc == CFLIGHT_OK)
    rc = iter_open(c, CF_M_LIST_ACTIONS, opts, empty,
                   &arrow__flight__protocol__action_type__descriptor, sizeof(**out), (void **)out,
                   err);
  cf_pb_free(empty);
  return rc;
}

int cflight_action_type_iter_next(cflight_action_type_iter *it, cflight_action_type **out,
                                  cflight_error *err) {
  if (it == NULL || out == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "iterator: NULL argument");
  return iter_next(&it->it, (void **)out, err);
}

void cflight_action_type_iter_free(cflight_action_type_iter *it) {
  iter_free(it != NULL ? &it->it : NULL);
}

/* ---- Data streams ---------------------------------------------------------------------------- */

int cflight_client_do_get(cflight_client *c, const cflight_ticket *t,
                          const cflight_call_options *opts, cflight_stream_reader **out,
                          cflight_error *err) {
  if (out == NULL || t == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "DoGet: NULL argument");
  *out = NULL;
  cf_ccall *cc;
  CF_RETURN_NOT_OK(cf_ccall_start(c, CF_M_DO_GET, opts, &cc, err));
  cf_out_msg om;
  cflight_error e = {0};
  int rc = cf_flight_msg_encode(t, &om, &e);
  if (rc == CFLIGHT_OK) rc = cf_call_send(cc->call, &om, true, &e);
  if (rc != CFLIGHT_OK) {
    cf_call_cancel(cc->call);
    cf_status st = {0};
    if (cf_ccall_finish(cc, &st) != CFLIGHT_OK) cf_error_copy(&e, &st.error);
    cf_status_reset(&st);
  } else {
    /* The reader takes its own reference. */
    rc = cf_stream_reader_new(cc->call, cc, NULL, CF_STREAM_DO_GET, cc->ipc, NULL, out, &e);
    /* The schema is read before returning, as Arrow does: a refused or
     * failed call fails here. */
    if (rc == CFLIGHT_OK) rc = cf_stream_reader_start(*out, &e);
    if (rc != CFLIGHT_OK) {
      cflight_stream_reader_free(*out);
      *out = NULL;
    }
  }
  if (rc != CFLIGHT_OK) cf_error_copy(err, &e);
  cflight_error_reset(&e);
  cf_ccall_unref(cc);
  return rc;
}

int cflight_client_do_put(cflight_client *c, const cflight_descriptor *d,
                          const struct ArrowSchema *schema, const cflight_call_options *opts,
                          cflight_stream_writer **writer, cflight_metadata_reader **reader,
                          cflight_error *err) {
  if (writer == NULL || reader == NULL || d == NULL || schema == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "DoPut: NULL argument");
  *writer = NULL;
  *reader = NULL;
  cf_ccall *cc;
  CF_RETURN_NOT_OK(cf_ccall_start(c, CF_M_DO_PUT, opts, &cc, err));
  int rc = cf_stream_writer_new(cc->call, cc, NULL, d, cc->ipc, c->write_size_limit, writer, err);
  if (rc == CFLIGHT_OK) rc = cf_metadata_reader_new(cc, reader, err);
  if (rc == CFLIGHT_OK) {
    cflight_error e = {0};
    rc = cflight_stream_writer_begin(*writer, schema, &e);
    if (rc != CFLIGHT_OK && cf_stream_writer_failed(*writer)) {
      /* The server ended the call already (it refused it, say): the
       * writer and the reader report its status, as for any later write. */
      cf_call_cancel(cc->call);
      rc = CFLIGHT_OK;
    }
    if (rc != CFLIGHT_OK) cf_error_copy(err, &e);
    cflight_error_reset(&e);
  }
  if (rc != CFLIGHT_OK) {
    cf_call_cancel(cc->call);
    cflight_stream_writer_free(*writer);
    cflight_metadata_reader_free(*reader);
    *writer = NULL;
    *reader = NULL;
  }
  cf_ccall_unref(cc);
  return rc;
}

int cflight_client_do_exchange(cflight_client *c, const cflight_descriptor *d,
                               const cflight_call_options *opts, cflight_stream_writer **writer,
                               cflight_stream_reader **reader, cflight_error *err) {
  if (writer == NULL || reader == NULL || d == NULL)
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "DoExchange: NULL argument");
  *writer = NULL;
  *reader = NULL;
  cf_ccall *cc;
  CF_RETURN_NOT_OK(cf_ccall_start(c, CF_M_DO_EXCHANGE, opts, &cc, err));
  int rc = cf_stream_writer_new(cc->call, cc, NULL, d, cc->ipc, c->write_size_limit, writer, err);
  if (rc == CFLIGHT_OK)
    rc =
        cf_stream_reader_new(cc->call, cc, NULL, CF_STREAM_DO_EXCHANGE, cc->ipc, NULL, reader, err);
  /* The descriptor goes at once, so that the server's handler starts even
   * before the client writes anything. */
  if (rc == CFLIGHT_OK) {
    cflight_error e = {0};
    rc = cf_stream_writer_send_descriptor(*writer, &e);
    if (rc != CFLIGHT_OK && cf_stream_writer_failed(*writer)) {
      /* Over already: the reader and the writer report the call's status. */
      cf_call_cancel(cc->call);
      rc = CFLIGHT_OK;
    }
    if (rc != CFLIGHT_OK) cf_error_copy(err, &e);
    cflight_error_reset(&e);
  }
  if (rc != CFLIGHT_OK) {
    cf_call_cancel(cc->call);
    cflight_stream_writer_free(*writer);
    cflight_stream_reader_free(*reader);
    *writer = NULL;
    *reader = NULL;
  }
  cf_ccall_unref(cc);
  return rc;
}
