/* Command-line flags and stream copying for the IPC integration programs. */
#include "common.h"

#include <errno.h>
#include <strings.h>
#include <unistd.h>

static const flag_def *find_flag(const flag_def *defs, size_t n, const char *name, size_t len) {
  for (size_t i = 0; i < n; i++)
    if (strlen(defs[i].name) == len && strncmp(defs[i].name, name, len) == 0) return &defs[i];
  return NULL;
}

static bool parse_bool(const char *s, bool *out) {
  if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcasecmp(s, "yes") == 0 ||
      strcasecmp(s, "t") == 0 || strcasecmp(s, "y") == 0) {
    *out = true;
    return true;
  }
  if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0 || strcasecmp(s, "no") == 0 ||
      strcasecmp(s, "f") == 0 || strcasecmp(s, "n") == 0) {
    *out = false;
    return true;
  }
  return false;
}

int flags_parse(const char *prog, int argc, char **argv, const flag_def *defs, size_t n_defs,
                const char **positional, int max_positional, int *n_positional, bool *help) {
  *n_positional = 0;
  *help = false;
  bool only_positional = false;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (only_positional || arg[0] != '-' || arg[1] == '\0') {
      if (*n_positional >= max_positional) {
        fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", prog, arg);
        return 2;
      }
      positional[(*n_positional)++] = arg;
      continue;
    }
    if (strcmp(arg, "--") == 0) {
      only_positional = true;
      continue;
    }
    const char *name = arg + (arg[1] == '-' ? 2 : 1);
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    if ((len == 4 && strncmp(name, "help", 4) == 0) || (len == 1 && name[0] == 'h')) {
      *help = true;
      continue;
    }
    const flag_def *def = find_flag(defs, n_defs, name, len);
    bool negated = false;
    if (def == NULL && len > 2 && strncmp(name, "no", 2) == 0 && eq == NULL) {
      def = find_flag(defs, n_defs, name + 2, len - 2);
      negated = def != NULL && def->kind == FLAG_BOOL;
      if (!negated) def = NULL;
    }
    if (def == NULL) {
      fprintf(stderr, "%s: unknown flag '%s' (see --help)\n", prog, arg);
      return 2;
    }
    if (def->kind == FLAG_BOOL) {
      bool v = !negated;
      if (eq != NULL && !parse_bool(eq + 1, &v)) {
        fprintf(stderr, "%s: flag -%s takes true or false, not '%s'\n", prog, def->name, eq + 1);
        return 2;
      }
      *def->bool_value = v;
      continue;
    }
    if (eq != NULL) {
      *def->string_value = eq + 1;
    } else if (i + 1 < argc) {
      *def->string_value = argv[++i];
    } else {
      fprintf(stderr, "%s: flag -%s needs a value (-%s=VALUE or -%s VALUE)\n", prog, def->name,
              def->name, def->name);
      return 2;
    }
  }
  return 0;
}

void flags_usage(FILE *out, const flag_def *defs, size_t n_defs) {
  for (size_t i = 0; i < n_defs; i++) {
    if (defs[i].help == NULL) continue;
    fprintf(out, "  --%-22s %s\n", defs[i].name, defs[i].help);
  }
}

int stream_failure(struct ArrowArrayStream *st, int errno_code, const char *label,
                   cflight_error *err) {
  const char *msg = st->get_last_error != NULL ? st->get_last_error(st) : NULL;
  return cflight_error_set(err, CFLIGHT_INVALID_DATA, "cannot read %s: %s", label,
                           msg != NULL ? msg : strerror(errno_code));
}

int copy_batches(struct ArrowArrayStream *in, cflight_ipc_writer *out, const char *in_label,
                 int64_t *n_batches, cflight_error *err) {
  *n_batches = 0;
  for (;;) {
    struct ArrowArray batch;
    memset(&batch, 0, sizeof(batch));
    int e = in->get_next(in, &batch);
    if (e != 0) return stream_failure(in, e, in_label, err);
    if (batch.release == NULL) return CFLIGHT_OK;
    int rc = cflight_ipc_writer_write(out, &batch, err);
    cf_array_release(&batch);
    CF_RETURN_NOT_OK(rc);
    (*n_batches)++;
  }
}

int read_all_fd(int fd, const char *label, cflight_buffer **out, cflight_error *err) {
  cf_bytes bytes = {0};
  for (;;) {
    CF_RETURN_NOT_OK(cf_bytes_reserve(&bytes, 1 << 16, err));
    ssize_t n = read(fd, bytes.data + bytes.len, 1 << 16);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      cf_bytes_reset(&bytes);
      return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot read %s: %s", label, strerror(errno));
    }
    if (n == 0) break;
    bytes.len += (size_t)n;
  }
  *out = cf_bytes_finish(&bytes);
  if (*out == NULL) return CF_NOMEM(err, "input");
  return CFLIGHT_OK;
}

bool parse_compression(const char *s, cflight_compression *out) {
  if (strcasecmp(s, "none") == 0 || strcasecmp(s, "uncompressed") == 0) {
    *out = CFLIGHT_COMPRESSION_NONE;
  } else if (strcasecmp(s, "lz4") == 0 || strcasecmp(s, "lz4_frame") == 0) {
    *out = CFLIGHT_COMPRESSION_LZ4_FRAME;
  } else if (strcasecmp(s, "zstd") == 0) {
    *out = CFLIGHT_COMPRESSION_ZSTD;
  } else {
    return false;
  }
  return true;
}
