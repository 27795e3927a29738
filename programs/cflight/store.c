/* The data directory (see store.h). Every file operation is relative to a
 * descriptor of the directory (openat, renameat, ...), so that names are
 * resolved inside it whatever the working directory. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PARTS 32
#define MAX_PART_LEN 200
#define CACHE_BUCKETS 1024

typedef struct cache_entry {
  char *name;
  dev_t dev;
  ino_t ino;
  off_t size;
  int64_t mtime_ns;
  int64_t rows, bytes;
  cflight_buffer *schema;
  struct cache_entry *next;
} cache_entry;

struct store_upload {
  store *s;
  char name[STORE_MAX_NAME];
  char tmp[STORE_MAX_NAME + 64]; /* relative to the root */
  int fd;
  bool removed; /* store_abort_all removed the file */
  struct store_upload *prev, *next;
};

struct store {
  char *dir;
  int root; /* O_DIRECTORY descriptor */
  int lock_fd;
  bool read_only;
  atomic_long seq;
  pthread_mutex_t lock; /* guards cache and uploads */
  cache_entry *cache[CACHE_BUCKETS];
  store_upload *uploads;
};

static void upload_unlink_and_free(store_upload *u, bool remove_file);

/* ---- Names ----------------------------------------------------------------------------- */

static int check_part(const char *p, size_t len, size_t index, cflight_error *err) {
  if (len == 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             index == 0 ? "empty dataset path: name a dataset, e.g. sales/2024"
                                        : "dataset path part %zu is empty",
                             index + 1);
  }
  if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "dataset path part '%.*s' is not allowed ('.' and '..' would leave "
                             "the dataset's place)",
                             (int)len, p);
  }
  if (p[0] == '/' && index == 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "absolute dataset paths are not allowed: name datasets relative to "
                             "the data directory (e.g. sales/2024)");
  }
  if (p[0] == '.') {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "dataset path part '%.*s' starts with '.' (hidden names are reserved)",
                             (int)(len > 64 ? 64 : len), p);
  }
  if (len > MAX_PART_LEN) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "dataset path part %zu is %zu bytes long (at most %d)", index + 1, len,
                             MAX_PART_LEN);
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '/') {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "dataset path part '%.*s' contains '/': send each part separately "
                               "(path [\"a\", \"b\"] for a/b)",
                               (int)(len > 64 ? 64 : len), p);
    }
    if (c < 0x20 || c == 0x7F) {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "dataset path part %zu contains a control character", index + 1);
    }
  }
  if (!utf8_valid((const uint8_t *)p, len)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "dataset path part %zu is not UTF-8",
                             index + 1);
  }
  return CFLIGHT_OK;
}

int store_name_from_parts(const char *const *parts, size_t n_parts, char *name,
                          cflight_error *err) {
  if (n_parts == 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "empty dataset path: name a dataset, e.g. sales/2024");
  }
  if (n_parts > MAX_PARTS) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "dataset path has %zu parts (at most %d)", n_parts, MAX_PARTS);
  }
  size_t o = 0;
  for (size_t i = 0; i < n_parts; i++) {
    size_t len = parts[i] != NULL ? strlen(parts[i]) : 0;
    CF_RETURN_NOT_OK(check_part(parts[i] != NULL ? parts[i] : "", len, i, err));
    if (o + len + 2 > STORE_MAX_NAME - 8) {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "dataset path is too long");
    }
    if (i > 0) name[o++] = '/';
    memcpy(name + o, parts[i], len);
    o += len;
  }
  name[o] = '\0';
  return CFLIGHT_OK;
}

int store_name_from_text(const char *text, size_t len, char *name, cflight_error *err) {
  if (len == 0) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "empty dataset path: name a dataset, e.g. sales/2024");
  }
  if (text[0] == '/') {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "absolute dataset paths are not allowed: name datasets relative to "
                             "the data directory (e.g. sales/2024)");
  }
  if (len > STORE_MAX_NAME - 8 || memchr(text, '\0', len) != NULL) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "bad or too long dataset path");
  }
  size_t o = 0, start = 0, index = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && text[i] != '/') continue;
    CF_RETURN_NOT_OK(check_part(text + start, i - start, index, err));
    if (++index > MAX_PARTS) {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "dataset path has more than %d parts",
                               MAX_PARTS);
    }
    if (o > 0) name[o++] = '/';
    memcpy(name + o, text + start, i - start);
    o += i - start;
    start = i + 1;
  }
  name[o] = '\0';
  return CFLIGHT_OK;
}

static void file_of(const char *name, char *file) {
  snprintf(file, STORE_MAX_NAME + 8, "%s.arrow", name);
}

/* ---- Opening --------------------------------------------------------------------- */

static int mkdirs_at(int root, const char *rel, cflight_error *err) {
  char path[STORE_MAX_NAME + 8];
  snprintf(path, sizeof(path), "%s", rel);
  for (char *p = path;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (path[0] != '\0' && mkdirat(root, path, 0755) != 0 && errno != EEXIST) {
        return cflight_error_set(
            err, errno == EACCES || errno == EROFS ? CFLIGHT_PERMISSION_DENIED : CFLIGHT_IO_ERROR,
            "cannot create directory %s: %s", path, strerror(errno));
      }
      *p = c;
      if (c == '\0') break;
    }
  }
  return CFLIGHT_OK;
}

static int mkdir_p(const char *dir, cflight_error *err) {
  char path[PATH_MAX];
  if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "data directory path too long");
  }
  for (char *p = path + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        return cflight_error_set(err, CFLIGHT_IO_ERROR,
                                 "cannot create the data directory %s: %s (pass --data DIR for "
                                 "another directory)",
                                 path, strerror(errno));
      }
      *p = c;
      if (c == '\0') break;
    }
  }
  return CFLIGHT_OK;
}

/* Removes leftover temporary files under dirfd (recursively); closes dirfd. */
static int remove_leftovers(int dirfd, int depth) {
  DIR *d = fdopendir(dirfd);
  if (d == NULL) {
    close(dirfd);
    return 0;
  }
  int removed = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (strncmp(e->d_name, STORE_TMP_PREFIX, strlen(STORE_TMP_PREFIX)) == 0) {
      if (unlinkat(dirfd, e->d_name, 0) == 0) removed++;
      continue;
    }
    if (e->d_name[0] == '.' || depth >= MAX_PARTS) continue;
    struct stat st;
    if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      if (sub >= 0) removed += remove_leftovers(sub, depth + 1);
    }
  }
  closedir(d);
  return removed;
}

int store_open(const char *dir, bool read_only, store **out, int *removed, cflight_error *err) {
  *out = NULL;
  if (removed != NULL) *removed = 0;
  char abs[PATH_MAX];
  if (dir[0] == '/') {
    snprintf(abs, sizeof(abs), "%s", dir);
  } else {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
      return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot find the working directory: %s",
                               strerror(errno));
    }
    if (snprintf(abs, sizeof(abs), "%s/%s", cwd, dir) >= (int)sizeof(abs)) {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "data directory path too long");
    }
  }
  size_t len = strlen(abs);
  while (len > 1 && abs[len - 1] == '/')
    abs[--len] = '\0';
  /* Tidy "./x" into "x" so that messages show a clean path. */
  for (char *p; (p = strstr(abs, "/./")) != NULL;)
    memmove(p, p + 2, strlen(p + 2) + 1);
  if (len >= 2 && strcmp(abs + strlen(abs) - 2, "/.") == 0) abs[strlen(abs) - 2] = '\0';

  struct stat st;
  if (stat(abs, &st) != 0) {
    if (errno != ENOENT || read_only) {
      return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot use the data directory %s: %s", abs,
                               strerror(errno));
    }
    CF_RETURN_NOT_OK(mkdir_p(abs, err));
  } else if (!S_ISDIR(st.st_mode)) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "the data directory %s is not a directory (pass --data DIR)", abs);
  }
  store *s = cf_calloc(1, sizeof(*s));
  if (s == NULL) return CF_NOMEM(err, "the store");
  s->lock_fd = -1;
  s->read_only = read_only;
  pthread_mutex_init(&s->lock, NULL);
  atomic_init(&s->seq, 0);
  s->dir = strdup(abs);
  s->root = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int rc = CFLIGHT_OK;
  if (s->dir == NULL) {
    rc = CF_NOMEM(err, "the store");
  } else if (s->root < 0) {
    rc = cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot open the data directory %s: %s", abs,
                           strerror(errno));
  } else if (!read_only) {
    /* Creating the lock file also proves that the directory is writable. */
    s->lock_fd = openat(s->root, STORE_LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0) {
      rc = cflight_error_set(err, CFLIGHT_PERMISSION_DENIED,
                             "the data directory %s is not writable: %s. Pass --data DIR for a "
                             "writable directory, or --read-only to serve it without uploads",
                             abs, strerror(errno));
    } else if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
      char pid[32] = "";
      ssize_t n = pread(s->lock_fd, pid, sizeof(pid) - 1, 0);
      if (n > 0) {
        pid[n] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
      }
      rc = cflight_error_set(err, CFLIGHT_FAILED_PRECONDITION,
                             "the data directory %s is in use by another cflight serve%s%s%s. "
                             "Stop it, or pass --data DIR",
                             abs, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
    } else {
      char pid[32];
      int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
      if (ftruncate(s->lock_fd, 0) != 0 || pwrite(s->lock_fd, pid, (size_t)n, 0) != n) {
        rc = cflight_error_set(err, CFLIGHT_PERMISSION_DENIED,
                               "the data directory %s is not writable: %s. Pass --data DIR for a "
                               "writable directory, or --read-only",
                               abs, strerror(errno));
      }
    }
    if (rc == CFLIGHT_OK) {
      int dup_fd = openat(s->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      int n = dup_fd >= 0 ? remove_leftovers(dup_fd, 0) : 0;
      if (removed != NULL) *removed = n;
    }
  }
  if (rc != CFLIGHT_OK) {
    store_close(s);
    return rc;
  }
  *out = s;
  return CFLIGHT_OK;
}

void store_close(store *s) {
  if (s == NULL) return;
  /* Uploads still open have no one left to finish them. */
  store_abort_all(s);
  while (s->uploads != NULL)
    upload_unlink_and_free(s->uploads, false);
  for (size_t b = 0; b < CACHE_BUCKETS; b++) {
    for (cache_entry *e = s->cache[b], *next; e != NULL; e = next) {
      next = e->next;
      free(e->name);
      cflight_buffer_unref(e->schema);
      free(e);
    }
  }
  if (s->lock_fd >= 0) close(s->lock_fd); /* releases the lock */
  if (s->root >= 0) close(s->root);
  pthread_mutex_destroy(&s->lock);
  free(s->dir);
  free(s);
}

const char *store_dir(const store *s) {
  return s->dir;
}

bool store_read_only(const store *s) {
  return s->read_only;
}

/* ---- The stats cache ------------------------------------------------------------------ */

static size_t bucket_of(const char *name) {
  uint64_t h = 1469598103934665603ULL;
  for (const char *p = name; *p; p++)
    h = (h ^ (uint8_t)*p) * 1099511628211ULL;
  return (size_t)(h % CACHE_BUCKETS);
}

static int64_t mtime_ns(const struct stat *st) {
  return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static void cache_forget(store *s, const char *name) {
  pthread_mutex_lock(&s->lock);
  cache_entry **pp = &s->cache[bucket_of(name)];
  while (*pp != NULL) {
    cache_entry *e = *pp;
    if (strcmp(e->name, name) == 0) {
      *pp = e->next;
      free(e->name);
      cflight_buffer_unref(e->schema);
      free(e);
    } else {
      pp = &e->next;
    }
  }
  pthread_mutex_unlock(&s->lock);
}

static bool cache_lookup(store *s, const char *name, const struct stat *st, ds_info *out) {
  bool hit = false;
  pthread_mutex_lock(&s->lock);
  for (cache_entry *e = s->cache[bucket_of(name)]; e != NULL; e = e->next) {
    if (strcmp(e->name, name) == 0 && e->dev == st->st_dev && e->ino == st->st_ino &&
        e->size == st->st_size && e->mtime_ns == mtime_ns(st)) {
      out->rows = e->rows;
      out->bytes = e->bytes;
      out->schema = cflight_buffer_ref(e->schema);
      hit = true;
      break;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return hit;
}

static void cache_store(store *s, const char *name, const struct stat *st, const ds_info *info) {
  cache_forget(s, name);
  cache_entry *e = cf_calloc(1, sizeof(*e));
  if (e == NULL) return;
  e->name = strdup(name);
  if (e->name == NULL) {
    free(e);
    return;
  }
  e->dev = st->st_dev;
  e->ino = st->st_ino;
  e->size = st->st_size;
  e->mtime_ns = mtime_ns(st);
  e->rows = info->rows;
  e->bytes = info->bytes;
  e->schema = cflight_buffer_ref(info->schema);
  pthread_mutex_lock(&s->lock);
  size_t b = bucket_of(name);
  e->next = s->cache[b];
  s->cache[b] = e;
  pthread_mutex_unlock(&s->lock);
}

/* ---- Reading ----------------------------------------------------------------------- */

void ds_info_reset(ds_info *info) {
  cflight_buffer_unref(info->schema);
  memset(info, 0, sizeof(*info));
}

static int stat_file(store *s, const char *name, struct stat *st, cflight_error *err) {
  char file[STORE_MAX_NAME + 8];
  file_of(name, file);
  if (fstatat(s->root, file, st, 0) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return cflight_error_set(err, CFLIGHT_NOT_FOUND,
                               "no dataset '%s' (`cflight list` shows the datasets)", name);
    }
    return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot read dataset '%s': %s", name,
                             strerror(errno));
  }
  if (!S_ISREG(st->st_mode)) {
    return cflight_error_set(err, CFLIGHT_NOT_FOUND, "no dataset '%s' (not a regular file)", name);
  }
  return CFLIGHT_OK;
}

static void full_path(const store *s, const char *name, char *path, size_t cap) {
  snprintf(path, cap, "%s/%s.arrow", s->dir, name);
}

static int compute_info(store *s, const char *name, ds_info *out, cflight_error *err) {
  char path[PATH_MAX + STORE_MAX_NAME];
  full_path(s, name, path, sizeof(path));
  struct ArrowArrayStream stream = {0};
  cflight_ipc_format format;
  int rc = cflight_ipc_open_path(path, NULL, &stream, &format, err);
  cflight_flight_info *info = NULL;
  if (rc == CFLIGHT_OK)
    rc = cflight_flight_info_new_for_stream(NULL, &stream, NULL, NULL, 0, &info, err);
  if (stream.release != NULL) stream.release(&stream);
  if (rc == CFLIGHT_OK) {
    size_t n;
    const uint8_t *bytes = cflight_flight_info_schema_bytes(info, &n);
    out->schema = cflight_buffer_copy(bytes, n);
    out->rows = cflight_flight_info_total_records(info);
    out->bytes = cflight_flight_info_total_bytes(info);
    if (out->schema == NULL) rc = CF_NOMEM(err, "a schema");
  }
  cflight_flight_info_free(info);
  if (rc != CFLIGHT_OK && rc != CFLIGHT_NO_MEMORY) {
    char msg[CFLIGHT_ERROR_MESSAGE_SIZE];
    snprintf(msg, sizeof(msg), "%s", err != NULL ? err->message : "");
    rc = cflight_error_set(err, CFLIGHT_INVALID_DATA,
                           "dataset '%s' is not a readable Arrow IPC file: %s", name, msg);
  }
  return rc;
}

int store_stat(store *s, const char *name, ds_info *out, cflight_error *err) {
  memset(out, 0, sizeof(*out));
  snprintf(out->name, sizeof(out->name), "%s", name);
  /* A file replaced while it was read is read again (a few times at most). */
  for (int attempt = 0;; attempt++) {
    struct stat before, after;
    CF_RETURN_NOT_OK(stat_file(s, name, &before, err));
    out->file_size = before.st_size;
    out->mtime_ns = mtime_ns(&before);
    if (cache_lookup(s, name, &before, out)) return CFLIGHT_OK;
    int rc = compute_info(s, name, out, err);
    if (rc != CFLIGHT_OK) {
      ds_info_reset(out);
      return rc;
    }
    if (stat_file(s, name, &after, NULL) == CFLIGHT_OK && after.st_ino == before.st_ino &&
        after.st_size == before.st_size && mtime_ns(&after) == mtime_ns(&before)) {
      cache_store(s, name, &before, out);
      return CFLIGHT_OK;
    }
    if (attempt == 3) return CFLIGHT_OK; /* busy file: report what was read */
    cflight_buffer_unref(out->schema);
    out->schema = NULL;
  }
}

typedef struct name_list {
  char **names;
  size_t n, cap;
} name_list;

static int list_add(name_list *l, const char *name, cflight_error *err) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    char **p = cf_realloc(l->names, cap * sizeof(char *));
    if (p == NULL) return CF_NOMEM(err, "dataset names");
    l->names = p;
    l->cap = cap;
  }
  l->names[l->n] = strdup(name);
  if (l->names[l->n] == NULL) return CF_NOMEM(err, "dataset names");
  l->n++;
  return CFLIGHT_OK;
}

/* Walks dirfd (relative name rel, "" at the root) for *.arrow files; closes dirfd. */
static int walk(int dirfd, const char *rel, const char *prefix, int depth, name_list *l,
                cflight_error *err) {
  DIR *d = fdopendir(dirfd);
  if (d == NULL) {
    close(dirfd);
    return CFLIGHT_OK; /* unreadable subdirectory: nothing listed from it */
  }
  int rc = CFLIGHT_OK;
  struct dirent *e;
  size_t plen = prefix != NULL ? strlen(prefix) : 0;
  while (rc == CFLIGHT_OK && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue; /* ".", "..", and the store's hidden files */
    char name[STORE_MAX_NAME * 2];
    int n = snprintf(name, sizeof(name), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
    if (n <= 0 || (size_t)n >= STORE_MAX_NAME) continue;
    struct stat st;
    if (fstatat(dirfd, e->d_name, &st, 0) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (depth + 1 >= MAX_PARTS) continue;
      /* Descend only where names can still start with the prefix. */
      size_t cmp = (size_t)n + 1 < plen ? (size_t)n + 1 : plen;
      name[n] = '/';
      bool may_match = strncmp(name, prefix != NULL ? prefix : "", cmp) == 0;
      name[n] = '\0';
      if (!may_match) continue;
      int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (sub >= 0) rc = walk(sub, name, prefix, depth + 1, l, err);
    } else if (S_ISREG(st.st_mode) && n > 6 && strcmp(name + n - 6, ".arrow") == 0) {
      name[n - 6] = '\0';
      if (plen == 0 || strncmp(name, prefix, plen) == 0) rc = list_add(l, name, err);
    }
  }
  closedir(d);
  return rc;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_list(store *s, const char *prefix, char ***names, size_t *n, cflight_error *err) {
  *names = NULL;
  *n = 0;
  name_list l = {0};
  int dirfd = openat(s->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) {
    return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot read the data directory: %s",
                             strerror(errno));
  }
  /* A leading '/' in a prefix means the same as none. */
  while (prefix != NULL && prefix[0] == '/')
    prefix++;
  int rc = walk(dirfd, "", prefix, 0, &l, err);
  if (rc != CFLIGHT_OK) {
    store_names_free(l.names, l.n);
    return rc;
  }
  if (l.n > 1) qsort(l.names, l.n, sizeof(char *), cmp_names);
  *names = l.names;
  *n = l.n;
  return CFLIGHT_OK;
}

void store_names_free(char **names, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

int store_open_stream(store *s, const char *name, struct ArrowArrayStream *out,
                      cflight_error *err) {
  struct stat st;
  CF_RETURN_NOT_OK(stat_file(s, name, &st, err));
  char path[PATH_MAX + STORE_MAX_NAME];
  full_path(s, name, path, sizeof(path));
  cflight_ipc_options *opts = cflight_ipc_options_new();
  if (opts == NULL) return CF_NOMEM(err, "IPC options");
  /* The file may have been put there by anyone: check every offset and
   * index before the batches are encoded for the wire. */
  cflight_ipc_options_set_validate_full(opts, true);
  cflight_ipc_format format;
  int rc = cflight_ipc_open_path(path, opts, out, &format, err);
  cflight_ipc_options_free(opts);
  if (rc != CFLIGHT_OK) {
    if (rc == CFLIGHT_IO_ERROR && access(path, F_OK) != 0) {
      return cflight_error_set(err, CFLIGHT_NOT_FOUND, "no dataset '%s'", name);
    }
    return err_prefix(err, "dataset '%s' is not a readable Arrow IPC file", name);
  }
  return CFLIGHT_OK;
}

/* ---- Writing ----------------------------------------------------------------------------- */

static int fsync_dir_of(store *s, const char *rel) {
  char dir[STORE_MAX_NAME + 64];
  snprintf(dir, sizeof(dir), "%s", rel);
  char *slash = strrchr(dir, '/');
  int fd;
  if (slash == NULL) {
    fd = openat(s->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } else {
    *slash = '\0';
    fd = openat(s->root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

/* Removes the now-empty directories above a dataset that went away. */
static void prune_dirs(store *s, const char *name) {
  char dir[STORE_MAX_NAME];
  snprintf(dir, sizeof(dir), "%s", name);
  char *slash;
  while ((slash = strrchr(dir, '/')) != NULL) {
    *slash = '\0';
    if (unlinkat(s->root, dir, AT_REMOVEDIR) != 0) break;
  }
}

static int read_only_error(const char *what, cflight_error *err) {
  return cflight_error_set(err, CFLIGHT_PERMISSION_DENIED,
                           "this server is read-only (started with --read-only): %s is disabled",
                           what);
}

int store_upload_begin(store *s, const char *name, store_upload **out, cflight_error *err) {
  *out = NULL;
  if (s->read_only) return read_only_error("uploading (DoPut)", err);
  store_upload *u = cf_calloc(1, sizeof(*u));
  if (u == NULL) return CF_NOMEM(err, "an upload");
  u->s = s;
  u->fd = -1;
  snprintf(u->name, sizeof(u->name), "%s", name);
  const char *slash = strrchr(name, '/');
  int rc = CFLIGHT_OK;
  if (slash != NULL) {
    char parent[STORE_MAX_NAME];
    snprintf(parent, sizeof(parent), "%.*s", (int)(slash - name), name);
    rc = mkdirs_at(s->root, parent, err);
  }
  if (rc == CFLIGHT_OK) {
    long seq = atomic_fetch_add(&s->seq, 1);
    const char *base = slash != NULL ? slash + 1 : name;
    snprintf(u->tmp, sizeof(u->tmp), "%.*s%s%s-%ld-%ld.arrow",
             slash != NULL ? (int)(slash - name + 1) : 0, name, STORE_TMP_PREFIX, base,
             (long)getpid(), seq);
    u->fd = openat(s->root, u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (u->fd < 0) {
      rc = cflight_error_set(
          err, errno == EACCES || errno == EROFS ? CFLIGHT_PERMISSION_DENIED : CFLIGHT_IO_ERROR,
          "cannot create a file for dataset '%s': %s", name, strerror(errno));
    }
  }
  if (rc != CFLIGHT_OK) {
    free(u);
    return rc;
  }
  pthread_mutex_lock(&s->lock);
  u->next = s->uploads;
  if (s->uploads != NULL) s->uploads->prev = u;
  s->uploads = u;
  pthread_mutex_unlock(&s->lock);
  *out = u;
  return CFLIGHT_OK;
}

int store_upload_fd(const store_upload *u) {
  return u->fd;
}

static void upload_unlink_and_free(store_upload *u, bool remove_file) {
  store *s = u->s;
  pthread_mutex_lock(&s->lock);
  if (u->prev != NULL) {
    u->prev->next = u->next;
  } else {
    s->uploads = u->next;
  }
  if (u->next != NULL) u->next->prev = u->prev;
  bool removed = u->removed;
  pthread_mutex_unlock(&s->lock);
  if (u->fd >= 0) close(u->fd);
  if (remove_file && !removed) unlinkat(s->root, u->tmp, 0);
  free(u);
}

int store_upload_commit(store_upload *u, cflight_error *err) {
  store *s = u->s;
  char file[STORE_MAX_NAME + 8];
  file_of(u->name, file);
  int rc = CFLIGHT_OK;
  if (fsync(u->fd) != 0) {
    rc = cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot sync dataset '%s' to disk: %s", u->name,
                           strerror(errno));
  }
  pthread_mutex_lock(&s->lock);
  bool removed = u->removed;
  pthread_mutex_unlock(&s->lock);
  if (rc == CFLIGHT_OK && removed) {
    rc = cflight_error_set(err, CFLIGHT_CANCELLED, "the server is stopping");
  }
  if (rc == CFLIGHT_OK && renameat(s->root, u->tmp, s->root, file) != 0) {
    rc = cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot store dataset '%s': %s", u->name,
                           strerror(errno));
  }
  if (rc != CFLIGHT_OK) {
    upload_unlink_and_free(u, true);
    return rc;
  }
  /* The rename is durable once the directory entry is. */
  if (fsync_dir_of(s, file) != 0) {
    rc = cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot sync the directory of dataset '%s': %s",
                           u->name, strerror(errno));
  }
  cache_forget(s, u->name);
  upload_unlink_and_free(u, false);
  return rc;
}

void store_upload_abort(store_upload *u) {
  if (u != NULL) upload_unlink_and_free(u, true);
}

void store_abort_all(store *s) {
  pthread_mutex_lock(&s->lock);
  for (store_upload *u = s->uploads; u != NULL; u = u->next) {
    if (!u->removed) unlinkat(s->root, u->tmp, 0);
    u->removed = true;
  }
  pthread_mutex_unlock(&s->lock);
}

int store_drop(store *s, const char *name, cflight_error *err) {
  if (s->read_only) return read_only_error("drop", err);
  struct stat st;
  CF_RETURN_NOT_OK(stat_file(s, name, &st, err));
  char file[STORE_MAX_NAME + 8];
  file_of(name, file);
  if (unlinkat(s->root, file, 0) != 0) {
    if (errno == ENOENT) return cflight_error_set(err, CFLIGHT_NOT_FOUND, "no dataset '%s'", name);
    return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot drop dataset '%s': %s", name,
                             strerror(errno));
  }
  fsync_dir_of(s, file);
  cache_forget(s, name);
  prune_dirs(s, name);
  return CFLIGHT_OK;
}

int store_rename(store *s, const char *from, const char *to, bool replace, cflight_error *err) {
  if (s->read_only) return read_only_error("rename", err);
  struct stat st;
  CF_RETURN_NOT_OK(stat_file(s, from, &st, err));
  if (strcmp(from, to) == 0) return CFLIGHT_OK;
  const char *slash = strrchr(to, '/');
  if (slash != NULL) {
    char parent[STORE_MAX_NAME];
    snprintf(parent, sizeof(parent), "%.*s", (int)(slash - to), to);
    CF_RETURN_NOT_OK(mkdirs_at(s->root, parent, err));
  }
  char ffrom[STORE_MAX_NAME + 8], fto[STORE_MAX_NAME + 8];
  file_of(from, ffrom);
  file_of(to, fto);
  int r;
  if (replace) {
    r = renameat(s->root, ffrom, s->root, fto);
  } else {
    r = renameat2(s->root, ffrom, s->root, fto, RENAME_NOREPLACE);
    if (r != 0 && (errno == EINVAL || errno == ENOSYS)) {
      /* A file system without RENAME_NOREPLACE: link (fails if the target
       * exists), then remove the old name. */
      r = linkat(s->root, ffrom, s->root, fto, 0);
      if (r == 0) unlinkat(s->root, ffrom, 0);
    }
  }
  if (r != 0) {
    if (errno == EEXIST) {
      return cflight_error_set(err, CFLIGHT_ALREADY_EXISTS,
                               "dataset '%s' exists already; drop it first, or rename with "
                               "{\"from\": \"%s\", \"to\": \"%s\", \"replace\": true}",
                               to, from, to);
    }
    return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot rename dataset '%s' to '%s': %s", from,
                             to, strerror(errno));
  }
  fsync_dir_of(s, fto);
  fsync_dir_of(s, ffrom);
  cache_forget(s, from);
  cache_forget(s, to);
  prune_dirs(s, from);
  return CFLIGHT_OK;
}
