/* The progress bar (see progress.h). */
#include "progress.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_NS (200 * 1000 * 1000) /* five times a second */

struct progress {
  char *label;
  atomic_llong rows, bytes, total_rows, total_bytes;
  int64_t start_ns;
  pthread_t thread;
  pthread_mutex_t lock; /* guards stop, with cond */
  pthread_cond_t cond;
  bool stop;
};

bool progress_mode_parse(const char *s, progress_mode *out) {
  if (strcmp(s, "auto") == 0) {
    *out = PROGRESS_AUTO;
  } else if (strcmp(s, "always") == 0 || strcmp(s, "on") == 0) {
    *out = PROGRESS_ALWAYS;
  } else if (strcmp(s, "never") == 0 || strcmp(s, "off") == 0) {
    *out = PROGRESS_NEVER;
  } else {
    return false;
  }
  return true;
}

static int terminal_width(void) {
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

void progress_render(sbuf *out, const char *label, int64_t rows, int64_t bytes, int64_t total_rows,
                     int64_t total_bytes, double seconds, int width) {
  char rbuf[32], bbuf[32], ratebuf[32], tbuf[32];
  double frac = -1;
  if (total_rows > 0) {
    frac = (double)rows / (double)total_rows;
  } else if (total_bytes > 0) {
    frac = (double)bytes / (double)total_bytes;
  }
  if (frac > 1) frac = 1;
  double rate = seconds > 0.05 ? (double)bytes / seconds : 0;
  sbuf tail;
  sb_init(&tail);
  if (frac >= 0) sb_printf(&tail, " %3d%%", (int)(frac * 100));
  sb_printf(&tail, "  %s rows  %s  %s/s  %s", fmt_count(rows, rbuf, sizeof(rbuf)),
            fmt_bytes((double)bytes, bbuf, sizeof(bbuf)), fmt_bytes(rate, ratebuf, sizeof(ratebuf)),
            fmt_seconds(seconds, tbuf, sizeof(tbuf)));
  int label_w = (int)strlen(label);
  if (label_w > 30) label_w = 30;
  sb_printf(out, "%.*s", label_w, label);
  int room = width - 1 - label_w - (int)tail.len - 4;
  if (frac >= 0 && room >= 10) {
    int bar = room > 40 ? 40 : room;
    int filled = (int)(frac * bar);
    sb_puts(out, "  [");
    for (int k = 0; k < bar; k++) {
      sb_putc(out, k < filled ? '=' : (k == filled && frac < 1) ? '>' : ' ');
    }
    sb_putc(out, ']');
  }
  sb_puts(out, sb_str(&tail));
  sb_free(&tail);
  if (width > 1 && out->len > (size_t)(width - 1)) {
    out->len = (size_t)(width - 1);
    out->data[out->len] = '\0';
  }
}

static void draw(progress *p) {
  sbuf line;
  sb_init(&line);
  double secs = (double)(cf_now_ns() - p->start_ns) / 1e9;
  progress_render(&line, p->label, atomic_load(&p->rows), atomic_load(&p->bytes),
                  atomic_load(&p->total_rows), atomic_load(&p->total_bytes), secs,
                  terminal_width());
  /* \r and "erase to end of line": the bar redraws in place. */
  fprintf(stderr, "\r%s\033[K", sb_str(&line));
  fflush(stderr);
  sb_free(&line);
}

static void *ticker(void *arg) {
  progress *p = arg;
  pthread_mutex_lock(&p->lock);
  while (!p->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += REDRAW_NS;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&p->cond, &p->lock, &ts);
    if (!p->stop) draw(p);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

progress *progress_start(progress_mode mode, const char *label, int64_t total_rows,
                         int64_t total_bytes) {
  if (mode == PROGRESS_NEVER || (mode == PROGRESS_AUTO && !isatty(STDERR_FILENO))) return NULL;
  progress *p = cf_calloc(1, sizeof(*p));
  if (p == NULL) return NULL;
  p->label = strdup(label != NULL ? label : "");
  atomic_init(&p->rows, 0);
  atomic_init(&p->bytes, 0);
  atomic_init(&p->total_rows, total_rows);
  atomic_init(&p->total_bytes, total_bytes);
  p->start_ns = cf_now_ns();
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->cond, NULL);
  if (p->label == NULL || pthread_create(&p->thread, NULL, ticker, p) != 0) {
    free(p->label);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
    return NULL;
  }
  return p;
}

void progress_add(progress *p, int64_t rows, int64_t bytes) {
  if (p == NULL) return;
  atomic_fetch_add(&p->rows, rows);
  atomic_fetch_add(&p->bytes, bytes);
}

void progress_set_bytes(progress *p, int64_t bytes) {
  if (p != NULL) atomic_store(&p->bytes, bytes);
}

void progress_set_totals(progress *p, int64_t total_rows, int64_t total_bytes) {
  if (p == NULL) return;
  atomic_store(&p->total_rows, total_rows);
  atomic_store(&p->total_bytes, total_bytes);
}

void progress_finish(progress *p) {
  if (p == NULL) return;
  pthread_mutex_lock(&p->lock);
  p->stop = true;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->lock);
  pthread_join(p->thread, NULL);
  fputs("\r\033[K", stderr);
  fflush(stderr);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->cond);
  free(p->label);
  free(p);
}
