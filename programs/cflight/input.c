/* Input files for put and exchange (see input.h). */
#include "input.h"

#include <errno.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static int stream_error(struct ArrowArrayStream *s, int e, const char *path, cflight_error *err) {
  const char *msg = s->get_last_error != NULL ? s->get_last_error(s) : NULL;
  return cflight_error_set(err, CFLIGHT_INVALID_DATA, "cannot read %s: %s", path,
                           msg != NULL ? msg : strerror(e));
}

/* Whether the first bytes of a file look like text (for a better message). */
static bool looks_like_text(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (fp == NULL) return false;
  unsigned char buf[512];
  size_t n = fread(buf, 1, sizeof(buf), fp);
  fclose(fp);
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++) {
    if (buf[i] == 0) return false;
  }
  return true;
}

int input_open(const char *path, const char *format, const csv_import_options *csv_opts, input *out,
               cflight_error *err) {
  memset(out, 0, sizeof(*out));
  snprintf(out->path, sizeof(out->path), "%s", strcmp(path, "-") == 0 ? "standard input" : path);
  out->size = -1;
  bool is_stdin = strcmp(path, "-") == 0;
  bool csv = false, tsv = false;
  if (format != NULL && strcmp(format, "auto") != 0) {
    if (strcasecmp(format, "csv") == 0) {
      csv = true;
    } else if (strcasecmp(format, "tsv") == 0) {
      csv = tsv = true;
    } else if (strcasecmp(format, "arrow") != 0 && strcasecmp(format, "arrows") != 0 &&
               strcasecmp(format, "ipc") != 0) {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "unknown input format '%s' (use csv, tsv or arrow)", format);
    }
  } else if (!is_stdin) {
    csv = ends_with_ci(path, ".csv") || ends_with_ci(path, ".tsv") || ends_with_ci(path, ".txt");
    tsv = ends_with_ci(path, ".tsv");
  }
  if (!is_stdin) {
    struct stat st;
    if (stat(path, &st) != 0) {
      return cflight_error_set(err, CFLIGHT_IO_ERROR, "cannot read %s: %s", path, strerror(errno));
    }
    if (S_ISREG(st.st_mode)) out->size = st.st_size;
  }
  int rc;
  if (csv) {
    csv_import_options o = *csv_opts;
    if (tsv && o.delimiter == ',') o.delimiter = '\t';
    rc = csv_reader_open(path, &o, &out->csv, err);
    if (rc == CFLIGHT_OK) rc = csv_reader_to_stream(out->csv, &out->stream, err);
    out->what = "CSV";
  } else {
    cflight_ipc_options *ipc = cflight_ipc_options_new();
    if (ipc == NULL) return CF_NOMEM(err, "IPC options");
    /* The batches are encoded for the wire, which follows their offsets. */
    cflight_ipc_options_set_validate_full(ipc, true);
    cflight_ipc_format fmt = CFLIGHT_IPC_FORMAT_STREAM;
    if (is_stdin) {
      rc = cflight_ipc_stream_open_fd(STDIN_FILENO, ipc, &out->stream, err);
    } else {
      rc = cflight_ipc_open_path(path, ipc, &out->stream, &fmt, err);
      if (rc != CFLIGHT_OK && looks_like_text(path)) {
        err_prefix(err, "%s is not Arrow IPC data (for CSV, pass --format csv or name it .csv)",
                   path);
        cflight_ipc_options_free(ipc);
        return rc;
      }
    }
    cflight_ipc_options_free(ipc);
    if (rc != CFLIGHT_OK) return err_prefix(err, "cannot read %s", out->path);
    out->what = fmt == CFLIGHT_IPC_FORMAT_FILE ? "Arrow IPC file" : "Arrow IPC stream";
  }
  if (rc != CFLIGHT_OK) return rc;
  int e = out->stream.get_schema(&out->stream, &out->schema);
  if (e != 0) {
    rc = stream_error(&out->stream, e, out->path, err);
    input_close(out);
    return rc;
  }
  return CFLIGHT_OK;
}

int input_next(input *in, struct ArrowArray *out, cflight_error *err) {
  memset(out, 0, sizeof(*out));
  int e = in->stream.get_next(&in->stream, out);
  if (e != 0) return stream_error(&in->stream, e, in->path, err);
  return CFLIGHT_OK;
}

int64_t input_position(const input *in) {
  return in->csv != NULL ? csv_reader_position(in->csv) : -1;
}

int64_t input_count_rows(const input *in) {
  if (in->csv != NULL || in->size < 0) return -1;
  struct ArrowArrayStream s;
  cflight_ipc_format fmt;
  if (cflight_ipc_open_path(in->path, NULL, &s, &fmt, NULL) != CFLIGHT_OK) return -1;
  int64_t rows = 0;
  for (;;) {
    struct ArrowArray b = {0};
    if (s.get_next(&s, &b) != 0) {
      rows = -1;
      break;
    }
    if (b.release == NULL) break;
    rows += b.length;
    b.release(&b);
  }
  s.release(&s);
  return rows;
}

void input_close(input *in) {
  if (in->stream.release != NULL) in->stream.release(&in->stream);
  cf_schema_release(&in->schema);
  in->csv = NULL;
}
