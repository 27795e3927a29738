/* The loop thread of a channel or server: a libuv loop, a task queue and a
 * list of calls with work pending, both fed by user threads under loop->mu
 * and drained when uv_async wakes the loop. Also the pool of read buffers. */
#include <signal.h>
#include <stdio.h>

#include "transport/internal.h"

static void on_wake(uv_async_t *a) {
  cf_loop *loop = a->data;
  pthread_mutex_lock(&loop->mu);
  cf_task *tasks = loop->tasks_head;
  loop->tasks_head = loop->tasks_tail = NULL;
  cf_call *calls = loop->pending_head;
  loop->pending_head = loop->pending_tail = NULL;
  pthread_mutex_unlock(&loop->mu);

  /* A call stays marked in_pending (so user threads do not relink it) until
   * process_call takes its flags under the lock and clears the mark. */
  while (calls != NULL) {
    cf_call *next = calls->pending_next;
    calls->pending_next = NULL;
    loop->process_call(calls);
    cf_call_unref(calls); /* the pending list's reference */
    calls = next;
  }
  while (tasks != NULL) {
    cf_task *next = tasks->next;
    bool heap = tasks->heap;
    tasks->fn(tasks->arg);
    if (heap) {
      free(tasks);
    } else {
      pthread_mutex_lock(&loop->mu);
      tasks->done = true;
      pthread_cond_broadcast(&loop->cv);
      pthread_mutex_unlock(&loop->mu);
    }
    tasks = next;
  }
}

/* The loop whose thread this is, if any. */
static _Thread_local const cf_loop *current_loop;

static void *loop_main(void *arg) {
  cf_loop *loop = arg;
  current_loop = loop;
  uv_run(&loop->uv, UV_RUN_DEFAULT);
  pthread_mutex_lock(&loop->mu);
  loop->stopped = true;
  cf_call *calls = loop->pending_head;
  loop->pending_head = loop->pending_tail = NULL;
  cf_task *tasks = loop->tasks_head;
  loop->tasks_head = loop->tasks_tail = NULL;
  for (cf_call *c = calls; c != NULL; c = c->pending_next)
    c->in_pending = false;
  /* Sync tasks that never ran: their waiters see `stopped`. */
  pthread_cond_broadcast(&loop->cv);
  pthread_mutex_unlock(&loop->mu);
  while (tasks != NULL) {
    cf_task *next = tasks->next;
    if (tasks->heap) free(tasks);
    tasks = next;
  }
  while (calls != NULL) {
    cf_call *next = calls->pending_next;
    cf_call_unref(calls);
    calls = next;
  }
  return NULL;
}

int cf_loop_start(cf_loop *loop, void (*process_call)(cf_call *), cflight_error *err) {
  atomic_init(&loop->refs, 1);
  loop->process_call = process_call;
  pthread_mutex_init(&loop->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&loop->cv, &ca);
  pthread_condattr_destroy(&ca);
  int rc = uv_loop_init(&loop->uv);
  if (rc != 0)
    return cflight_error_set(err, CFLIGHT_INTERNAL, "uv_loop_init failed: %s", uv_strerror(rc));
  uv_async_init(&loop->uv, &loop->wake, on_wake);
  loop->wake.data = loop;
  /* The loop thread does all the socket writes: with SIGPIPE blocked there,
   * a write to a closed peer fails with EPIPE instead of killing the
   * process, without touching the application's signal handlers. */
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  rc = pthread_create(&loop->thread, NULL, loop_main, loop);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    uv_close((uv_handle_t *)&loop->wake, NULL);
    uv_run(&loop->uv, UV_RUN_DEFAULT);
    uv_loop_close(&loop->uv);
    return cflight_error_set(err, CFLIGHT_INTERNAL, "cannot start the loop thread: %s",
                             strerror(rc));
  }
  loop->thread_started = true;
  return CFLIGHT_OK;
}

bool cf_on_loop_thread(const cf_loop *loop) {
  return current_loop == loop;
}

void cf_loop_wake(cf_loop *loop) {
  uv_async_send(&loop->wake);
}

static bool push_task_locked(cf_loop *loop, cf_task *t) {
  if (loop->stopping || loop->stopped || loop->wake_closed) return false;
  t->next = NULL;
  if (loop->tasks_tail != NULL) {
    loop->tasks_tail->next = t;
  } else {
    loop->tasks_head = t;
  }
  loop->tasks_tail = t;
  return true;
}

int cf_loop_run_sync(cf_loop *loop, cf_task_fn fn, void *arg, cflight_error *err) {
  if (cf_on_loop_thread(loop))
    return cflight_error_set(err, CFLIGHT_INTERNAL,
                             "a blocking transport function was called on its own loop thread "
                             "(from a done callback?)");
  cf_task t = {.fn = fn, .arg = arg};
  pthread_mutex_lock(&loop->mu);
  if (!push_task_locked(loop, &t)) {
    pthread_mutex_unlock(&loop->mu);
    return cflight_error_set(err, CFLIGHT_CANCELLED, "the transport is shutting down");
  }
  cf_loop_wake(loop);
  while (!t.done && !loop->stopped)
    pthread_cond_wait(&loop->cv, &loop->mu);
  bool done = t.done;
  pthread_mutex_unlock(&loop->mu);
  if (!done) return cflight_error_set(err, CFLIGHT_CANCELLED, "the transport is shutting down");
  return CFLIGHT_OK;
}

bool cf_loop_post(cf_loop *loop, cf_task_fn fn, void *arg) {
  cf_task *t = cf_calloc(1, sizeof(*t));
  if (t == NULL) return false;
  t->fn = fn;
  t->arg = arg;
  t->heap = true;
  pthread_mutex_lock(&loop->mu);
  bool ok = push_task_locked(loop, t);
  pthread_mutex_unlock(&loop->mu);
  if (!ok) {
    free(t);
    return false;
  }
  cf_loop_wake(loop);
  return true;
}

bool cf_loop_mark_locked(cf_loop *loop, cf_call *call, unsigned flags) {
  call->pending |= flags;
  if (call->in_pending || loop->stopped || loop->wake_closed) return false;
  call->in_pending = true;
  cf_call_ref(call);
  call->pending_next = NULL;
  if (loop->pending_tail != NULL) {
    loop->pending_tail->pending_next = call;
  } else {
    loop->pending_head = call;
  }
  loop->pending_tail = call;
  return true;
}

void cf_loop_stop(cf_loop *loop, cf_task_fn stop_fn, void *arg) {
  if (!loop->thread_started) return;
  cf_task t = {.fn = stop_fn, .arg = arg};
  pthread_mutex_lock(&loop->mu);
  bool pushed = push_task_locked(loop, &t);
  loop->stopping = true;
  pthread_mutex_unlock(&loop->mu);
  if (pushed) cf_loop_wake(loop);
  pthread_join(loop->thread, NULL);
  loop->thread_started = false;
}

void cf_loop_close_wake(cf_loop *loop) {
  pthread_mutex_lock(&loop->mu);
  loop->wake_closed = true;
  pthread_mutex_unlock(&loop->mu);
  uv_close((uv_handle_t *)&loop->wake, NULL);
}

void cf_loop_ref(cf_loop *loop) {
  atomic_fetch_add(&loop->refs, 1);
}

void cf_loop_unref(cf_loop *loop) {
  if (loop == NULL || atomic_fetch_sub(&loop->refs, 1) != 1) return;
  uv_loop_close(&loop->uv);
  pthread_mutex_destroy(&loop->mu);
  pthread_cond_destroy(&loop->cv);
  free(loop);
}

/* ---- read buffer pool ------------------------------------------------------------ */

/* Buffers of 1 MiB and more are kept for reuse, up to this many bytes. */
#define POOL_MIN_SIZE ((size_t)1 << 20)
#define POOL_MAX_BYTES ((size_t)64 << 20)

typedef struct pool_block {
  struct pool_block *next;
  size_t size;
} pool_block;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pool_block *pool_head;
static size_t pool_bytes;

static void pool_put(void *ctx, void *data) {
  size_t size = (size_t)(uintptr_t)ctx;
  pthread_mutex_lock(&pool_mu);
  if (pool_bytes + size <= POOL_MAX_BYTES) {
    pool_block *b = data;
    b->size = size;
    b->next = pool_head;
    pool_head = b;
    pool_bytes += size;
    data = NULL;
  }
  pthread_mutex_unlock(&pool_mu);
  if (data != NULL) cf_aligned_free(data);
}

cflight_buffer *cf_rbuf_new(size_t size) {
  if (size < POOL_MIN_SIZE) return cflight_buffer_new(size);
  void *mem = NULL;
  pthread_mutex_lock(&pool_mu);
  for (pool_block **p = &pool_head; *p != NULL; p = &(*p)->next) {
    if ((*p)->size == size) {
      mem = *p;
      *p = (*p)->next;
      pool_bytes -= size;
      break;
    }
  }
  pthread_mutex_unlock(&pool_mu);
  if (mem == NULL) mem = cf_aligned_alloc(size);
  if (mem == NULL) return NULL;
  cflight_buffer *buf = cflight_buffer_wrap(mem, size, pool_put, (void *)(uintptr_t)size);
  if (buf == NULL) cf_aligned_free(mem);
  return buf;
}
