/* The loop thread of a channel or server: a libuv loop, a task queue and a
 * list of calls with work pending, both fed by user threads under loop->mu
 * and drained when uv_async wakes the loop; user threads woken once per
 * loop iteration. Also the pool of read buffers and the receive counters. */
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

/* A user thread is woken at the first news of its call in a loop
 * iteration (so that its wake-up overlaps with the rest of the iteration),
 * then once more at the end of the iteration if more news came: not at
 * every message, header block and status, which would make a reader that
 * keeps up sleep and wake once per message. */
static void signal_now(cf_loop *loop, cf_call *call) {
  pthread_mutex_lock(&loop->mu);
  cf_call_signal_locked(call);
  pthread_mutex_unlock(&loop->mu);
}

static void flush_signals(cf_loop *loop) {
  cf_call *c = loop->sig_head;
  loop->sig_head = NULL;
  while (c != NULL) {
    cf_call *next = c->sig_next;
    c->sig_next = NULL;
    c->sig_queued = false;
    c->unsignaled_bytes = 0;
    if (c->sig_more) signal_now(loop, c);
    c->sig_more = false;
    cf_call_unref(c);
    c = next;
  }
}

static void on_check(uv_check_t *h) {
  flush_signals(h->data);
}

void cf_loop_signal_later(cf_loop *loop, cf_call *call) {
  if (loop->check_closed) {
    /* The loop is stopping: no iteration end to wait for. */
    signal_now(loop, call);
    return;
  }
  if (call->sig_queued) {
    call->sig_more = true;
    return;
  }
  call->sig_queued = true;
  call->sig_more = false;
  cf_call_ref(call);
  call->sig_next = loop->sig_head;
  loop->sig_head = call;
  signal_now(loop, call);
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
  uv_check_init(&loop->uv, &loop->check);
  loop->check.data = loop;
  uv_check_start(&loop->check, on_check);
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
    uv_close((uv_handle_t *)&loop->check, NULL);
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
  flush_signals(loop);
  loop->check_closed = true;
  uv_close((uv_handle_t *)&loop->check, NULL);
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

/* Buffers of 64 KiB and more are kept for reuse, up to this many bytes.
 * Their sizes are rounded up to classes (eight per power of two), so that
 * messages of about the same size reuse each other's buffers. */
#define POOL_MIN_SIZE ((size_t)64 << 10)
#define POOL_MAX_BYTES ((size_t)64 << 20)

typedef struct pool_block {
  struct pool_block *next;
} pool_block;

/* Free buffers by size class: POOL_MIN_SIZE << k + j * (POOL_MIN_SIZE << k) / 8
 * is class 8k + j (the largest pooled class, POOL_MAX_BYTES, is class 80). */
#define POOL_CLASSES 96
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pool_block *pool_free[POOL_CLASSES];
static size_t pool_bytes;

/* The size class of a buffer of `size` bytes (64 KiB and up): rounded up to
 * an eighth of the power of two below it. */
static size_t size_class(size_t size) {
  size_t p = POOL_MIN_SIZE;
  while (p <= size / 2)
    p *= 2;
  size_t step = p / 8;
  if (size > SIZE_MAX - step) return size;
  return (size + step - 1) / step * step;
}

static int class_index(size_t class_size) {
  size_t p = POOL_MIN_SIZE;
  int k = 0;
  while (p <= class_size / 2) {
    p *= 2;
    k++;
  }
  return k * 8 + (int)((class_size - p) / (p / 8));
}

static void pool_put(void *ctx, void *data) {
  size_t size = (size_t)(uintptr_t)ctx;
  int i = class_index(size);
  pthread_mutex_lock(&pool_mu);
  if (i < POOL_CLASSES && pool_bytes + size <= POOL_MAX_BYTES) {
    pool_block *b = data;
    b->next = pool_free[i];
    pool_free[i] = b;
    pool_bytes += size;
    data = NULL;
  }
  pthread_mutex_unlock(&pool_mu);
  if (data != NULL) cf_aligned_free(data);
}

cflight_buffer *cf_rbuf_new(size_t size) {
  if (size < POOL_MIN_SIZE) return cflight_buffer_new(size);
  size = size_class(size);
  void *mem = NULL;
  if (size <= POOL_MAX_BYTES) {
    int i = class_index(size);
    pthread_mutex_lock(&pool_mu);
    if (i < POOL_CLASSES && pool_free[i] != NULL) {
      mem = pool_free[i];
      pool_free[i] = pool_free[i]->next;
      pool_bytes -= size;
    }
    pthread_mutex_unlock(&pool_mu);
  }
  if (mem == NULL) mem = cf_aligned_alloc(size);
  if (mem == NULL) return NULL;
  cflight_buffer *buf = cflight_buffer_wrap(mem, size, pool_put, (void *)(uintptr_t)size);
  if (buf == NULL) cf_aligned_free(mem);
  return buf;
}

/* ---- receive counters ------------------------------------------------------------ */

static atomic_uint_fast64_t stat_large_msgs, stat_direct_bytes, stat_copied_bytes;

void cf_recv_stats_add(uint64_t large_msgs, uint64_t direct_bytes, uint64_t copied_bytes) {
  if (large_msgs > 0) atomic_fetch_add_explicit(&stat_large_msgs, large_msgs, memory_order_relaxed);
  if (direct_bytes > 0)
    atomic_fetch_add_explicit(&stat_direct_bytes, direct_bytes, memory_order_relaxed);
  if (copied_bytes > 0)
    atomic_fetch_add_explicit(&stat_copied_bytes, copied_bytes, memory_order_relaxed);
}

void cf_recv_stats_get(cf_recv_stats *out) {
  out->large_msgs = atomic_load(&stat_large_msgs);
  out->direct_bytes = atomic_load(&stat_direct_bytes);
  out->copied_bytes = atomic_load(&stat_copied_bytes);
}
