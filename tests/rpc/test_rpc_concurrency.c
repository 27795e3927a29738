/* Many threads on one client, many clients on one server, deadlines,
 * cancellation from either side, a connection that drops in the middle of
 * a stream, and shutting the server down with calls in flight. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc_test_util.h"

static ts_server *S;

/* Waits (up to 10 s) for *v to reach at least want: the server side of a
 * cancellation is seen a moment after the client's. */
static bool wait_for(atomic_int *v, int want) {
  for (int i = 0; i < 1000 && atomic_load(v) < want; i++)
    ts_sleep_ms(10);
  return atomic_load(v) >= want;
}

/* ---- Many threads, one client ---------------------------------------------------------------- */

typedef struct worker {
  cflight_client *c;
  int id;
  int failures;
} worker;

static void *work(void *arg) {
  worker *wk = arg;
  cflight_error err = {0};
  for (int i = 0; i < 20; i++) {
    int rc;
    switch ((wk->id + i) % 5) {
      case 0: {
        cflight_descriptor *d = td_path("ints");
        cflight_flight_info *info = NULL;
        rc = cflight_client_get_flight_info(wk->c, d, NULL, &info, &err);
        if (rc == CFLIGHT_OK && cflight_flight_info_total_records(info) != 151) rc = -1;
        cflight_flight_info_free(info);
        cflight_descriptor_free(d);
        break;
      }
      case 1: {
        cflight_ticket *t = tt("ints");
        cflight_stream_reader *r = NULL;
        rc = cflight_client_do_get(wk->c, t, NULL, &r, &err);
        struct ArrowArrayStream st;
        if (rc == CFLIGHT_OK) rc = cflight_stream_reader_read_all(r, &st, &err);
        if (rc == CFLIGHT_OK) {
          struct ArrowSchema s;
          struct ArrowArray *b = NULL;
          int n = tb_collect(&st, &s, &b);
          if (n != 3) rc = -1;
          tb_release(b, n > 0 ? (size_t)n : 0);
          if (n >= 0) cf_schema_release(&s);
          st.release(&st);
        }
        cflight_stream_reader_free(r);
        cflight_ticket_free(t);
        break;
      }
      case 2: {
        char name[64];
        snprintf(name, sizeof(name), "w%d-%d", wk->id, i);
        cflight_descriptor *d = td_path(name);
        struct ArrowSchema schema;
        tb_schema(&schema);
        cflight_stream_writer *w = NULL;
        cflight_metadata_reader *mr = NULL;
        rc = cflight_client_do_put(wk->c, d, &schema, NULL, &w, &mr, &err);
        for (int k = 0; rc == CFLIGHT_OK && k < 3; k++) {
          struct ArrowArray b;
          tb_batch(k * 100, 100, &b);
          rc = cflight_stream_writer_write(w, &b, NULL, 0, &err);
          cf_array_release(&b);
        }
        if (rc == CFLIGHT_OK) rc = cflight_stream_writer_close(w, &err);
        cflight_stream_writer_free(w);
        cflight_metadata_reader_free(mr);
        cf_schema_release(&schema);
        cflight_descriptor_free(d);
        break;
      }
      case 3: {
        cflight_descriptor *d = td_cmd("sum");
        cflight_stream_writer *w = NULL;
        cflight_stream_reader *r = NULL;
        rc = cflight_client_do_exchange(wk->c, d, NULL, &w, &r, &err);
        struct ArrowSchema schema;
        tb_schema(&schema);
        if (rc == CFLIGHT_OK) rc = cflight_stream_writer_begin(w, &schema, &err);
        struct ArrowArray b;
        tb_batch(1, 3, &b);
        if (rc == CFLIGHT_OK) rc = cflight_stream_writer_write(w, &b, NULL, 0, &err);
        cf_array_release(&b);
        cflight_chunk ch;
        bool end = false;
        if (rc == CFLIGHT_OK) rc = cflight_stream_reader_next(r, &ch, &end, &err);
        if (rc == CFLIGHT_OK) {
          if (ch.app_metadata == NULL || cflight_buffer_size(ch.app_metadata) != 1 ||
              cflight_buffer_data(ch.app_metadata)[0] != '6')
            rc = -1;
          cflight_chunk_release(&ch);
        }
        if (rc == CFLIGHT_OK) rc = cflight_stream_writer_close(w, &err);
        cflight_stream_writer_free(w);
        cflight_stream_reader_free(r);
        cf_schema_release(&schema);
        cflight_descriptor_free(d);
        break;
      }
      default: {
        cflight_action *a = NULL;
        cflight_action_new("echo", "x", 1, &a, NULL);
        cflight_result_iter *it = NULL;
        rc = cflight_client_do_action(wk->c, a, NULL, &it, &err);
        cflight_result *res = NULL;
        if (rc == CFLIGHT_OK) rc = cflight_result_iter_next(it, &res, &err);
        if (rc == CFLIGHT_OK && res == NULL) rc = -1;
        cflight_result_free(res);
        cflight_result_iter_free(it);
        cflight_action_free(a);
        break;
      }
    }
    if (rc != CFLIGHT_OK) {
      fprintf(stderr, "worker %d call %d: %d %s\n", wk->id, i, rc, err.message);
      wk->failures++;
    }
  }
  cflight_error_reset(&err);
  return NULL;
}

static void test_threads_one_client(void) {
  cflight_client *c = ts_client(S, NULL);
  enum { N = 8 };
  pthread_t th[N];
  worker wk[N];
  for (int i = 0; i < N; i++) {
    wk[i] = (worker){c, i, 0};
    pthread_create(&th[i], NULL, work, &wk[i]);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    CHECK_EQ_INT(wk[i].failures, 0);
  }
  cflight_client_close(c);
}

static void *client_work(void *arg) {
  worker *wk = arg;
  wk->c = ts_client(S, NULL);
  work(wk);
  cflight_client_close(wk->c);
  return NULL;
}

static void test_many_clients(void) {
  enum { N = 12 };
  pthread_t th[N];
  worker wk[N];
  for (int i = 0; i < N; i++) {
    wk[i] = (worker){NULL, i, 0};
    pthread_create(&th[i], NULL, client_work, &wk[i]);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    CHECK_EQ_INT(wk[i].failures, 0);
  }
}

/* ---- Deadlines and cancellation -------------------------------------------------------------- */

static void test_timeouts(void) {
  cflight_client *c = ts_client(S, NULL);
  cflight_error err = {0};
  cflight_call_options *o = cflight_call_options_new();
  cflight_call_options_set_timeout(o, 0.2);
  /* A stream that outlives its deadline. */
  int seen = atomic_load(&S->cancel_seen);
  cflight_ticket *t = tt("slow");
  cflight_stream_reader *r = NULL;
  CHECK_OK(cflight_client_do_get(c, t, o, &r, &err), &err);
  int rc;
  for (;;) {
    cflight_chunk ch;
    bool end = false;
    rc = cflight_stream_reader_next(r, &ch, &end, &err);
    if (rc != CFLIGHT_OK || end) break;
    cflight_chunk_release(&ch);
  }
  CHECK_EQ_INT(rc, CFLIGHT_DEADLINE_EXCEEDED);
  cflight_stream_reader_free(r);
  cflight_ticket_free(t);
  CHECK(wait_for(&S->cancel_seen, seen + 1));
  /* A unary-like call whose handler takes too long; the handler sees it. */
  seen = atomic_load(&S->cancel_seen);
  cflight_action *a = NULL;
  cflight_action_new("sleep", NULL, 0, &a, NULL);
  cflight_result_iter *it = NULL;
  CHECK_OK(cflight_client_do_action(c, a, o, &it, &err), &err);
  cflight_result *res = NULL;
  CHECK_EQ_INT(cflight_result_iter_next(it, &res, &err), CFLIGHT_DEADLINE_EXCEEDED);
  cflight_result_iter_free(it);
  cflight_action_free(a);
  CHECK(wait_for(&S->cancel_seen, seen + 1));
  /* A generous deadline does not get in the way. */
  cflight_call_options_set_timeout(o, 30);
  cflight_descriptor *d = td_path("ints");
  cflight_flight_info *info = NULL;
  CHECK_OK(cflight_client_get_flight_info(c, d, o, &info, &err), &err);
  cflight_flight_info_free(info);
  cflight_descriptor_free(d);
  cflight_call_options_free(o);
  cflight_error_reset(&err);
  cflight_client_close(c);
}

typedef struct canceller {
  cflight_stream_reader *r;
  atomic_int *started;
  int want;
} canceller;

static void *cancel_later(void *arg) {
  canceller *k = arg;
  wait_for(k->started, k->want);
  ts_sleep_ms(50);
  cflight_stream_reader_cancel(k->r);
  return NULL;
}

static void test_client_cancel(void) {
  cflight_client *c = ts_client(S, NULL);
  cflight_error err = {0};
  /* Cancel between reads. */
  int seen = atomic_load(&S->cancel_seen);
  cflight_ticket *t = tt("slow");
  cflight_stream_reader *r = NULL;
  CHECK_OK(cflight_client_do_get(c, t, NULL, &r, &err), &err);
  cflight_chunk ch;
  bool end = false;
  for (int i = 0; i < 2; i++) {
    CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
    cflight_chunk_release(&ch);
  }
  cflight_stream_reader_cancel(r);
  CHECK_EQ_INT(cflight_stream_reader_next(r, &ch, &end, &err), CFLIGHT_CANCELLED);
  cflight_stream_reader_free(r);
  CHECK(wait_for(&S->cancel_seen, seen + 1));
  /* Cancel from another thread while a read blocks. */
  seen = atomic_load(&S->cancel_seen);
  int started = atomic_load(&S->slow_started);
  CHECK_OK(cflight_client_do_get(c, t, NULL, &r, &err), &err);
  canceller k = {r, &S->slow_started, started + 1};
  pthread_t th;
  pthread_create(&th, NULL, cancel_later, &k);
  int rc;
  for (;;) {
    rc = cflight_stream_reader_next(r, &ch, &end, &err);
    if (rc != CFLIGHT_OK || end) break;
    cflight_chunk_release(&ch);
  }
  pthread_join(th, NULL);
  CHECK_EQ_INT(rc, CFLIGHT_CANCELLED);
  cflight_stream_reader_free(r);
  CHECK(wait_for(&S->cancel_seen, seen + 1));
  /* Freeing a reader mid-stream cancels the call. */
  seen = atomic_load(&S->cancel_seen);
  CHECK_OK(cflight_client_do_get(c, t, NULL, &r, &err), &err);
  CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
  cflight_chunk_release(&ch);
  cflight_stream_reader_free(r);
  CHECK(wait_for(&S->cancel_seen, seen + 1));
  cflight_ticket_free(t);
  /* The server cancelling: its status comes back. */
  t = tt("error:1");
  CHECK_EQ_INT(cflight_client_do_get(c, t, NULL, &r, &err), CFLIGHT_CANCELLED);
  cflight_ticket_free(t);
  cflight_error_reset(&err);
  cflight_client_close(c);
}

/* ---- A TCP proxy whose connections we can cut ------------------------------------------------ */

typedef struct proxy {
  int listen_fd;
  int port;
  int target_port;
  pthread_t thread;
  pthread_mutex_t mu;
  int fds[64];
  int n_fds;
  bool stop;
} proxy;

typedef struct pipe_pair {
  proxy *p;
  int a, b;
} pipe_pair;

static void *pump(void *arg) {
  pipe_pair *pp = arg;
  char buf[65536];
  for (;;) {
    struct pollfd pf[2] = {{pp->a, POLLIN, 0}, {pp->b, POLLIN, 0}};
    if (poll(pf, 2, 100) < 0) break;
    pthread_mutex_lock(&pp->p->mu);
    bool stop = pp->p->stop;
    pthread_mutex_unlock(&pp->p->mu);
    if (stop) break;
    bool done = false;
    for (int i = 0; i < 2 && !done; i++) {
      if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int from = i == 0 ? pp->a : pp->b, to = i == 0 ? pp->b : pp->a;
      ssize_t n = read(from, buf, sizeof(buf));
      if (n <= 0) {
        done = true;
        break;
      }
      for (ssize_t off = 0; off < n;) {
        ssize_t k = write(to, buf + off, (size_t)(n - off));
        if (k <= 0) {
          done = true;
          break;
        }
        off += k;
      }
    }
    if (done) break;
  }
  shutdown(pp->a, SHUT_RDWR);
  shutdown(pp->b, SHUT_RDWR);
  free(pp);
  return NULL;
}

static void *accept_loop(void *arg) {
  proxy *p = arg;
  for (;;) {
    int fd = accept(p->listen_fd, NULL, NULL);
    if (fd < 0) break;
    int up = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)p->target_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(up, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
      close(fd);
      close(up);
      continue;
    }
    pthread_mutex_lock(&p->mu);
    if (p->n_fds + 2 <= 64) {
      p->fds[p->n_fds++] = fd;
      p->fds[p->n_fds++] = up;
    }
    pthread_mutex_unlock(&p->mu);
    pipe_pair *pp = malloc(sizeof(*pp));
    *pp = (pipe_pair){p, fd, up};
    pthread_t th;
    pthread_create(&th, NULL, pump, pp);
    pthread_detach(th);
  }
  return NULL;
}

static proxy *proxy_start(int target_port) {
  proxy *p = calloc(1, sizeof(*p));
  pthread_mutex_init(&p->mu, NULL);
  p->target_port = target_port;
  p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
  CHECK(listen(p->listen_fd, 16) == 0);
  socklen_t len = sizeof(sa);
  getsockname(p->listen_fd, (struct sockaddr *)&sa, &len);
  p->port = ntohs(sa.sin_port);
  pthread_create(&p->thread, NULL, accept_loop, p);
  return p;
}

/* Cuts every connection at once, as a network failure would. */
static void proxy_cut(proxy *p) {
  pthread_mutex_lock(&p->mu);
  p->stop = true;
  for (int i = 0; i < p->n_fds; i++)
    shutdown(p->fds[i], SHUT_RDWR);
  pthread_mutex_unlock(&p->mu);
}

static void proxy_free(proxy *p) {
  proxy_cut(p);
  shutdown(p->listen_fd, SHUT_RDWR);
  close(p->listen_fd);
  pthread_join(p->thread, NULL);
  ts_sleep_ms(200); /* let the pumps see the stop flag */
  for (int i = 0; i < p->n_fds; i++)
    close(p->fds[i]);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

static void test_disconnect(void) {
  proxy *p = proxy_start(cflight_server_port(S->srv));
  char uri[64];
  snprintf(uri, sizeof(uri), "grpc://127.0.0.1:%d", p->port);
  cflight_client *c = NULL;
  cflight_error err = {0};
  CHECK_OK(cflight_client_connect(uri, NULL, &c, &err), &err);
  /* Reading: the connection drops after a few batches. */
  int seen = atomic_load(&S->cancel_seen);
  cflight_ticket *t = tt("slow");
  cflight_stream_reader *r = NULL;
  CHECK_OK(cflight_client_do_get(c, t, NULL, &r, &err), &err);
  cflight_chunk ch;
  bool end = false;
  for (int i = 0; i < 3; i++) {
    CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
    cflight_chunk_release(&ch);
  }
  /* Writing at the same time, on the same connection. */
  struct ArrowSchema schema;
  tb_schema(&schema);
  cflight_descriptor *d = td_path("cut");
  cflight_stream_writer *w = NULL;
  cflight_metadata_reader *mr = NULL;
  CHECK_OK(cflight_client_do_put(c, d, &schema, NULL, &w, &mr, &err), &err);
  struct ArrowArray b;
  tb_batch(0, 10, &b);
  CHECK_OK(cflight_stream_writer_write(w, &b, NULL, 0, &err), &err);
  proxy_cut(p);
  int rc;
  for (;;) {
    rc = cflight_stream_reader_next(r, &ch, &end, &err);
    if (rc != CFLIGHT_OK || end) break;
    cflight_chunk_release(&ch);
  }
  CHECK_MSG(rc == CFLIGHT_UNAVAILABLE, "reader: %s %s", cflight_code_name(rc), err.message);
  for (int i = 0; i < 1000; i++) {
    rc = cflight_stream_writer_write(w, &b, NULL, 0, &err);
    if (rc != CFLIGHT_OK) break;
  }
  CHECK(rc != CFLIGHT_OK);
  rc = cflight_stream_writer_close(w, &err);
  CHECK_MSG(rc == CFLIGHT_UNAVAILABLE, "writer: %s %s", cflight_code_name(rc), err.message);
  cf_array_release(&b);
  cflight_stream_writer_free(w);
  cflight_metadata_reader_free(mr);
  cflight_stream_reader_free(r);
  cflight_descriptor_free(d);
  cf_schema_release(&schema);
  cflight_ticket_free(t);
  /* The server saw its stream end, and keeps serving. */
  CHECK(wait_for(&S->cancel_seen, seen + 1));
  cflight_client *direct = ts_client(S, NULL);
  d = td_path("ints");
  cflight_flight_info *info = NULL;
  CHECK_OK(cflight_client_get_flight_info(direct, d, NULL, &info, &err), &err);
  cflight_flight_info_free(info);
  /* The first client connects again once the network is back. */
  proxy_free(p);
  cflight_client_close(direct);
  cflight_client_close(c);
  cflight_descriptor_free(d);
  cflight_error_reset(&err);
}

static void test_shutdown_in_flight(void) {
  ts_server *t = ts_start("grpc://127.0.0.1:0", NULL, NULL);
  cflight_client *c = ts_client(t, NULL);
  cflight_error err = {0};
  cflight_ticket *tk = tt("slow");
  cflight_stream_reader *r = NULL;
  CHECK_OK(cflight_client_do_get(c, tk, NULL, &r, &err), &err);
  cflight_chunk ch;
  bool end = false;
  CHECK_OK(cflight_stream_reader_next(r, &ch, &end, &err), &err);
  cflight_chunk_release(&ch);
  /* The slow stream would take 30 s: the grace period cuts it short. */
  cflight_server_shutdown(t->srv, 0.2);
  int rc;
  for (;;) {
    rc = cflight_stream_reader_next(r, &ch, &end, &err);
    if (rc != CFLIGHT_OK || end) break;
    cflight_chunk_release(&ch);
  }
  CHECK(rc != CFLIGHT_OK);
  cflight_stream_reader_free(r);
  cflight_ticket_free(tk);
  /* New calls fail cleanly. */
  cflight_descriptor *d = td_path("ints");
  cflight_flight_info *info = NULL;
  CHECK(cflight_client_get_flight_info(c, d, NULL, &info, &err) != CFLIGHT_OK);
  cflight_descriptor_free(d);
  cflight_server_wait(t->srv);
  cflight_client_close(c);
  ts_stop(t);
  cflight_error_reset(&err);
}

static void test_shutdown_from_handler(void) {
  ts_server *t = ts_start("grpc://127.0.0.1:0", NULL, NULL);
  cflight_client *c = ts_client(t, NULL);
  cflight_error err = {0};
  cflight_action *a = NULL;
  cflight_action_new("shutdown", NULL, 0, &a, NULL);
  cflight_result_iter *it = NULL;
  CHECK_OK(cflight_client_do_action(c, a, NULL, &it, &err), &err);
  cflight_result *res = NULL;
  CHECK_OK(cflight_result_iter_next(it, &res, &err), &err);
  CHECK(res != NULL);
  cflight_result_free(res);
  CHECK_OK(cflight_result_iter_next(it, &res, &err), &err);
  CHECK(res == NULL);
  cflight_result_iter_free(it);
  cflight_action_free(a);
  cflight_server_wait(t->srv);
  cflight_client_close(c);
  ts_stop(t);
}

int main(void) {
  S = ts_start("grpc://127.0.0.1:0", NULL, NULL);
  RUN_TEST(test_threads_one_client);
  RUN_TEST(test_many_clients);
  RUN_TEST(test_timeouts);
  RUN_TEST(test_client_cancel);
  RUN_TEST(test_disconnect);
  RUN_TEST(test_shutdown_in_flight);
  RUN_TEST(test_shutdown_from_handler);
  ts_stop(S);
  return cft_finish();
}
