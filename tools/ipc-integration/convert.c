/* cflight-stream-to-file and cflight-file-to-stream (one source, two
 * programs, like Arrow C++'s arrow-stream-to-file / arrow-file-to-stream):
 *
 *   cflight-stream-to-file [INPUT [OUTPUT]]    < stream > file
 *   cflight-file-to-stream [INPUT [OUTPUT]]    < file   > stream
 *
 * INPUT and OUTPUT default to standard input and output ("-" too). Either
 * program reads both formats (told apart by the ARROW1 magic), so only the
 * output format differs. Exit status: 0 success, 1 failure, 2 usage. */
#include <fcntl.h>
#include <unistd.h>

#include "common.h"

#ifndef CONVERT_TO_FILE
#error "define CONVERT_TO_FILE to 1 (stream to file) or 0 (file to stream)"
#endif

#if CONVERT_TO_FILE
#define PROG "cflight-stream-to-file"
#define OUT_FORMAT CFLIGHT_IPC_FORMAT_FILE
#define OUT_NAME "file"
#else
#define PROG "cflight-file-to-stream"
#define OUT_FORMAT CFLIGHT_IPC_FORMAT_STREAM
#define OUT_NAME "stream"
#endif

/* Opens the input as a stream of batches: a path (memory-mapped, either
 * format), or standard input (a stream is read as it arrives; anything else
 * is read whole, since the file format needs random access). */
static int open_input(const char *path, const cflight_ipc_options *opts,
                      struct ArrowArrayStream *out, cflight_error *err) {
  if (path != NULL) {
    cflight_ipc_format format;
    return cflight_ipc_open_path(path, opts, out, &format, err);
  }
#if CONVERT_TO_FILE
  return cflight_ipc_stream_open_fd(STDIN_FILENO, opts, out, err);
#else
  cflight_buffer *data;
  CF_RETURN_NOT_OK(read_all_fd(STDIN_FILENO, "standard input", &data, err));
  int rc;
  size_t n = cflight_buffer_size(data);
  if (n >= 6 && memcmp(cflight_buffer_data(data), "ARROW1", 6) == 0) {
    cflight_ipc_file_reader *r;
    rc = cflight_ipc_file_reader_open_buffer(data, opts, &r, err);
    if (rc == CFLIGHT_OK) rc = cflight_ipc_file_reader_to_stream(r, out, err);
  } else {
    rc = cflight_ipc_stream_open_buffer(data, opts, out, err);
  }
  cflight_buffer_unref(data);
  return rc;
#endif
}

int main(int argc, char **argv) {
  const char *positional[2] = {NULL, NULL};
  int n_positional;
  bool help;
  int rc = flags_parse(PROG, argc, argv, NULL, 0, positional, 2, &n_positional, &help);
  if (rc != 0 || help) {
    fprintf(help && rc == 0 ? stdout : stderr,
            "usage: " PROG
            " [INPUT [OUTPUT]]\n"
            "Rewrites Arrow IPC data (file or stream format) in the " OUT_NAME
            " format.\n"
            "INPUT and OUTPUT default to standard input and output (or give \"-\").\n");
    return help && rc == 0 ? 0 : 2;
  }
  const char *in_path = n_positional > 0 && strcmp(positional[0], "-") != 0 ? positional[0] : NULL;
  const char *out_path = n_positional > 1 && strcmp(positional[1], "-") != 0 ? positional[1] : NULL;
  if (out_path == NULL && isatty(STDOUT_FILENO)) {
    fprintf(stderr, PROG
            ": not writing binary Arrow data to a terminal: redirect the output "
            "(> out.arrow) or give an OUTPUT path\n");
    return 2;
  }
  if (in_path == NULL && isatty(STDIN_FILENO)) {
    fprintf(stderr, PROG ": no input: give an INPUT path or pipe Arrow IPC data in (see --help)\n");
    return 2;
  }
  char in_label[4200];
  snprintf(in_label, sizeof(in_label), "%s", in_path ? in_path : "standard input");
  const char *out_label = out_path ? out_path : "standard output";

  cflight_error err = {0};
  cflight_ipc_options *opts = cflight_ipc_options_new();
  if (opts == NULL) {
    fprintf(stderr, PROG ": out of memory\n");
    return 1;
  }
  struct ArrowArrayStream in;
  memset(&in, 0, sizeof(in));
  struct ArrowSchema schema;
  memset(&schema, 0, sizeof(schema));
  cflight_ipc_writer *w = NULL;
  int64_t n_batches = 0;
  rc = open_input(in_path, opts, &in, &err);
  if (rc != CFLIGHT_OK) {
    fprintf(stderr, PROG ": cannot read %s: %s%s\n", in_label, err.message,
            err.code == CFLIGHT_INVALID_DATA ? " (is it Arrow IPC data?)" : "");
    cflight_ipc_options_free(opts);
    return 1;
  }
  int e = in.get_schema(&in, &schema);
  if (e != 0) rc = stream_failure(&in, e, in_label, &err);
  if (rc == CFLIGHT_OK) {
    rc = out_path ? cflight_ipc_writer_open_path(out_path, OUT_FORMAT, &schema, opts, &w, &err)
                  : cflight_ipc_writer_open_fd(STDOUT_FILENO, OUT_FORMAT, &schema, opts, &w, &err);
  }
  if (rc == CFLIGHT_OK) rc = copy_batches(&in, w, in_label, &n_batches, &err);
  if (rc == CFLIGHT_OK) rc = cflight_ipc_writer_close(w, &err);
  cflight_ipc_writer_free(w);
  cf_schema_release(&schema);
  in.release(&in);
  cflight_ipc_options_free(opts);
  if (rc != CFLIGHT_OK) {
    fprintf(stderr, PROG ": %s -> %s: %s\n", in_label, out_label, err.message);
    if (out_path != NULL) unlink(out_path);
    return 1;
  }
  return 0;
}
