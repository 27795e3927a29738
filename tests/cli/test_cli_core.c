/* Unit tests of the cflight program's parts that need no RPC: argument
 * parsing, value rendering and the output formats, CSV import, the data
 * directory, and the progress bar. */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "csv_import.h"
#include "format.h"
#include "harness.h"
#include "integration.h"
#include "progress.h"
#include "store.h"

static const char *source_path(const char *rel) {
  static char buf[4096];
  const char *src = getenv("CFLIGHT_SOURCE_DIR");
  snprintf(buf, sizeof(buf), "%s/%s", src != NULL ? src : ".", rel);
  return buf;
}

/* ---- Arguments --------------------------------------------------------------------- */

typedef struct arg_seen {
  int n_pos;
  const char *pos[8];
  const char *format;
  int verbose;
  const char *headers[4];
  int n_headers;
} arg_seen;

enum { OPT_FORMAT = 1, OPT_VERBOSE, OPT_HEADER };

static const arg_spec test_specs[] = {
    {"format", 'f', "FORMAT", OPT_FORMAT, "output format"},
    {"verbose", 'v', NULL, OPT_VERBOSE, "say more"},
    {"header", 0, "K=V", OPT_HEADER, "a header"},
    {NULL, 0, NULL, 0, NULL},
};

static int on_arg(void *ctx, const arg_spec *spec, const char *value, char *msg, size_t cap) {
  arg_seen *s = ctx;
  if (spec == NULL) {
    if (s->n_pos == 8) {
      snprintf(msg, cap, "too many");
      return 1;
    }
    s->pos[s->n_pos++] = value;
    return 0;
  }
  switch (spec->id) {
    case OPT_FORMAT:
      s->format = value;
      break;
    case OPT_VERBOSE:
      s->verbose++;
      break;
    case OPT_HEADER:
      if (s->n_headers < 4) s->headers[s->n_headers++] = value;
      break;
  }
  return 0;
}

static void test_args(void) {
  const arg_spec *groups[] = {test_specs};
  char *argv1[] = {"a", "--format=csv", "-v", "b", "--header", "k=v", "--header=x=y", "--", "-c"};
  arg_seen s = {0};
  CHECK_EQ_INT(args_parse("t", groups, 1, 9, argv1, on_arg, &s), 0);
  CHECK_EQ_INT(s.n_pos, 3);
  CHECK_EQ_STR(s.pos[0], "a");
  CHECK_EQ_STR(s.pos[1], "b");
  CHECK_EQ_STR(s.pos[2], "-c");
  CHECK_EQ_STR(s.format, "csv");
  CHECK_EQ_INT(s.verbose, 1);
  CHECK_EQ_INT(s.n_headers, 2);
  CHECK_EQ_STR(s.headers[1], "x=y");

  char *argv2[] = {"-fjson", "-"};
  memset(&s, 0, sizeof(s));
  CHECK_EQ_INT(args_parse("t", groups, 1, 2, argv2, on_arg, &s), 0);
  CHECK_EQ_STR(s.format, "json");
  CHECK_EQ_STR(s.pos[0], "-");

  char *argv3[] = {"--formt", "x"};
  memset(&s, 0, sizeof(s));
  CHECK_EQ_INT(args_parse("t", groups, 1, 2, argv3, on_arg, &s), 2); /* unknown, suggested */
  char *argv4[] = {"--format"};
  CHECK_EQ_INT(args_parse("t", groups, 1, 1, argv4, on_arg, &s), 2); /* value missing */
  char *argv5[] = {"x", "--help"};
  CHECK_EQ_INT(args_parse("t", groups, 1, 2, argv5, on_arg, &s), 1);
  char *argv6[] = {"--verbose=3"};
  CHECK_EQ_INT(args_parse("t", groups, 1, 1, argv6, on_arg, &s), 2);
}

/* ---- Output formats ------------------------------------------------------------------- */

/* Renders every batch of a JSON integration file in `format`; caller frees. */
static char *render_file(cf_json_file *json, const out_options *opts, cflight_error *err) {
  char *text = NULL;
  size_t size = 0;
  FILE *fp = open_memstream(&text, &size);
  out_sink *sink = NULL;
  int rc = out_sink_open(opts, fp, cf_json_file_schema(json), &sink, err);
  for (int64_t i = 0; rc == CFLIGHT_OK && i < cf_json_file_num_batches(json); i++) {
    struct ArrowArray batch;
    rc = cf_json_file_batch(json, i, &batch, err);
    if (rc != CFLIGHT_OK) break;
    bool done;
    rc = out_sink_write(sink, &batch, &done, err);
    cf_array_release(&batch);
  }
  if (rc == CFLIGHT_OK) rc = out_sink_close(sink, err);
  out_sink_free(sink);
  fclose(fp);
  if (rc != CFLIGHT_OK) {
    free(text);
    return NULL;
  }
  return text;
}

static char *render_typed(out_format format, int64_t limit) {
  cflight_error err = {0};
  cf_json_file *json = NULL;
  CHECK_OK(cf_json_file_read(source_path("tests/cli/data/typed.json"), &json, &err), &err);
  if (json == NULL) return NULL;
  out_options o;
  out_options_init(&o);
  o.format = format;
  o.limit = limit;
  o.unicode = true;
  char *text = render_file(json, &o, &err);
  CHECK_MSG(text != NULL, "render: %s", err.message);
  cf_json_file_free(json);
  return text;
}

static void check_text(const char *what, const char *got, const char *want) {
  if (got == NULL || strcmp(got, want) != 0) {
    cft_fail(__FILE__, __LINE__, "%s differs.\n--- got:\n%s--- want:\n%s", what,
             got ? got : "(null)\n", want);
  }
}

static void test_typed_csv(void) {
  char *csv = render_typed(OUT_CSV, -1);
  check_text("csv", csv,
             "id,name,score,ok,price,ts,day,raw,tags,point\n"
             "1,alice,1.5,true,123.45,2023-11-14T22:13:20.123456Z,2023-11-14,0102ff,"
             "\"[\"\"a\"\", null]\",\"{\"\"x\"\": 1, \"\"y\"\": 0.5}\"\n"
             "2,\"\",-0.25,false,-0.05,1969-12-31T23:59:59.000000Z,1969-12-31,\"\",[],"
             "\"{\"\"x\"\": null, \"\"y\"\": -1.0}\"\n"
             "3,,,,,,,,,\n");
  free(csv);
}

static void test_typed_json(void) {
  char *json = render_typed(OUT_JSON, -1);
  check_text("json", json,
             "{\"id\":1,\"name\":\"alice\",\"score\":1.5,\"ok\":true,\"price\":\"123.45\","
             "\"ts\":\"2023-11-14T22:13:20.123456Z\",\"day\":\"2023-11-14\",\"raw\":\"AQL/\","
             "\"tags\":[\"a\",null],\"point\":{\"x\":1,\"y\":0.5}}\n"
             "{\"id\":2,\"name\":\"\",\"score\":-0.25,\"ok\":false,\"price\":\"-0.05\","
             "\"ts\":\"1969-12-31T23:59:59.000000Z\",\"day\":\"1969-12-31\",\"raw\":\"\","
             "\"tags\":[],\"point\":{\"x\":null,\"y\":-1.0}}\n"
             "{\"id\":3,\"name\":null,\"score\":null,\"ok\":null,\"price\":null,\"ts\":null,"
             "\"day\":null,\"raw\":null,\"tags\":null,\"point\":null}\n");
  free(json);
}

static void test_typed_table(void) {
  char *table = render_typed(OUT_TABLE, -1);
  check_text("table", table,
             "id    | name   | score   | ok    | price             | ts                          "
             "| day        | raw    | tags         | point\n"
             "int64 | string | float64 | bool  | decimal128(10, 2) | timestamp[us, tz=UTC]       "
             "| date32     | binary | list<string> | struct<x: int32, y: float64>\n"
             "------+--------+---------+-------+-------------------+-----------------------------"
             "+------------+--------+--------------+-----------------------------\n"
             "    1 | alice  |     1.5 | true  |            123.45 | 2023-11-14T22:13:20.123456Z "
             "| 2023-11-14 | 0102ff | [\"a\", null]  | {\"x\": 1, \"y\": 0.5}\n"
             "    2 |        |   -0.25 | false |             -0.05 | 1969-12-31T23:59:59.000000Z "
             "| 1969-12-31 |        | []           | {\"x\": null, \"y\": -1.0}\n"
             "    3 | \xE2\x88\x85      |       \xE2\x88\x85 | \xE2\x88\x85     |                 "
             "\xE2\x88\x85 | \xE2\x88\x85                           | \xE2\x88\x85          | "
             "\xE2\x88\x85 "
             "     | \xE2\x88\x85            | \xE2\x88\x85\n"
             "(3 rows)\n");
  free(table);
  /* The limit, and values cut to the widest column allowed. */
  cflight_error err = {0};
  cf_json_file *json = NULL;
  CHECK_OK(cf_json_file_read(source_path("tests/cli/data/typed.json"), &json, &err), &err);
  out_options o;
  out_options_init(&o);
  o.limit = 1;
  o.max_width = 8;
  char *cut = render_file(json, &o, &err);
  check_text(
      "cut table", cut,
      "id    | name   | score   | ok   | price    | ts       | day      | raw    | tags     | "
      "point\n"
      "int64 | string | float64 | bool | decim... | times... | date32   | binary | list<... | "
      "struc...\n"
      "------+--------+---------+------+----------+----------+----------+--------+----------+"
      "---------\n"
      "    1 | alice  |     1.5 | true |   123.45 | 2023-... | 2023-... | 0102ff | [\"a\",... | "
      "{\"x\":...\n"
      "(1 row, limited by --limit)\n");
  free(cut);
  cf_json_file_free(json);
}

/* Every gold file renders in every text format, and JSON lines parse. */
static void render_gold_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return;
  struct dirent *e;
  int files = 0;
  while ((e = readdir(d)) != NULL) {
    if (!ends_with_ci(e->d_name, ".json.gz")) continue;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    cflight_error err = {0};
    cf_json_file *json = NULL;
    if (cf_json_file_read(path, &json, &err) != CFLIGHT_OK) {
      cft_fail(__FILE__, __LINE__, "%s: %s", path, err.message);
      continue;
    }
    files++;
    for (int f = OUT_TABLE; f <= OUT_ARROWS; f++) {
      out_options o;
      out_options_init(&o);
      o.format = (out_format)f;
      o.unicode = f == OUT_CSV;
      char *text = render_file(json, &o, &err);
      CHECK_MSG(text != NULL, "%s as %s: %s", e->d_name, out_format_name(o.format), err.message);
      if (text != NULL && f == OUT_JSON) {
        int64_t ncols = cf_json_file_schema(json)->n_children;
        for (char *line = text; *line != '\0';) {
          char *nl = strchr(line, '\n');
          if (nl == NULL) break;
          json_error_t jerr;
          json_t *v = json_loadb(line, (size_t)(nl - line), JSON_ALLOW_NUL, &jerr);
          CHECK_MSG(v != NULL && json_is_object(v), "%s: bad JSON line: %s: %.200s", e->d_name,
                    jerr.text, line);
          /* Duplicate field names collapse in a JSON object. */
          if (v != NULL && strstr(e->d_name, "duplicate") == NULL) {
            CHECK_EQ_INT(json_object_size(v), ncols);
          }
          json_decref(v);
          line = nl + 1;
        }
      }
      free(text);
    }
    cf_json_file_free(json);
  }
  closedir(d);
  CHECK(files > 0);
}

static void test_render_gold(void) {
  render_gold_dir(cft_data_path("arrow-ipc-stream/integration/cpp-21.0.0"));
  render_gold_dir(cft_data_path("arrow-ipc-stream/integration/4.0.0-shareddict"));
}

static void test_dates(void) {
  int64_t y;
  int m, d;
  civil_from_days(0, &y, &m, &d);
  CHECK(y == 1970 && m == 1 && d == 1);
  civil_from_days(-719528, &y, &m, &d); /* 0000-01-01 */
  CHECK(y == 0 && m == 1 && d == 1);
  civil_from_days(19675, &y, &m, &d);
  CHECK(y == 2023 && m == 11 && d == 14);
  for (int64_t k = -800000; k < 800000; k += 997) {
    civil_from_days(k, &y, &m, &d);
    CHECK_EQ_INT(days_from_civil(y, m, d), k);
  }
}

/* ---- CSV import --------------------------------------------------------------------- */

static void test_csv_parsers(void) {
  int64_t i;
  CHECK(csv_parse_int64("-9223372036854775808", 20, &i) && i == INT64_MIN);
  CHECK(!csv_parse_int64("9223372036854775808", 19, &i));
  CHECK(csv_parse_int64("+42", 3, &i) && i == 42);
  CHECK(!csv_parse_int64("007", 3, &i));
  CHECK(!csv_parse_int64("1.0", 3, &i));
  CHECK(!csv_parse_int64("-", 1, &i));
  double v;
  CHECK(csv_parse_float64("1.5e3", 5, &v) && v == 1500);
  CHECK(csv_parse_float64("NaN", 3, &v));
  CHECK(csv_parse_float64("-inf", 4, &v));
  CHECK(!csv_parse_float64("0x10", 4, &v));
  CHECK(!csv_parse_float64(" 1", 2, &v));
  CHECK(!csv_parse_float64("nanny", 5, &v));
  CHECK(!csv_parse_float64("1e999", 5, &v));
  bool b;
  CHECK(csv_parse_bool("TRUE", 4, &b) && b);
  CHECK(csv_parse_bool("false", 5, &b) && !b);
  CHECK(!csv_parse_bool("yes", 3, &b));
  int32_t days;
  CHECK(csv_parse_date("2024-02-29", 10, &days));
  CHECK(!csv_parse_date("2023-02-29", 10, &days));
  CHECK(!csv_parse_date("2023-13-01", 10, &days));
  int64_t secs;
  int32_t ns;
  bool zoned;
  int fd;
  CHECK(csv_parse_timestamp("2023-11-14T22:13:20.123456789Z", 30, &secs, &ns, &zoned, &fd));
  CHECK(secs == 1700000000 && ns == 123456789 && zoned && fd == 9);
  CHECK(csv_parse_timestamp("2023-11-14 23:13:20+01:00", 25, &secs, &ns, &zoned, &fd));
  CHECK(secs == 1700000000 && ns == 0 && zoned);
  CHECK(csv_parse_timestamp("2023-11-14T22:13", 16, &secs, &ns, &zoned, &fd));
  CHECK(secs == 1700000000 - 20 && !zoned);
  CHECK(!csv_parse_timestamp("2023-11-14T25:00", 16, &secs, &ns, &zoned, &fd));
  CHECK(!csv_parse_timestamp("2023-11-14T22:13:20.", 20, &secs, &ns, &zoned, &fd));
}

static char *write_tmp(const char *name, const char *text) {
  static char path[4096];
  snprintf(path, sizeof(path), "%s/%s", cft_tmpdir(), name);
  FILE *fp = fopen(path, "wb");
  fputs(text, fp);
  fclose(fp);
  return path;
}

/* Imports CSV text and writes it back as CSV (or another format). */
static char *csv_round(const char *text, const csv_import_options *io, out_format format,
                       cflight_error *err, char **schema_desc) {
  const char *path = write_tmp("in.csv", text);
  csv_reader *r = NULL;
  if (csv_reader_open(path, io, &r, err) != CFLIGHT_OK) return NULL;
  struct ArrowSchema schema;
  CHECK_OK(csv_reader_schema(r, &schema, err), err);
  if (schema_desc != NULL) {
    sbuf d;
    sb_init(&d);
    for (int64_t c = 0; c < schema.n_children; c++) {
      sb_printf(&d, "%s%s:%s", c ? " " : "", schema.children[c]->name, schema.children[c]->format);
    }
    *schema_desc = sb_take(&d);
  }
  char *out = NULL;
  size_t size = 0;
  FILE *fp = open_memstream(&out, &size);
  out_options o;
  out_options_init(&o);
  o.format = format;
  out_sink *sink = NULL;
  int rc = out_sink_open(&o, fp, &schema, &sink, err);
  int batches = 0;
  while (rc == CFLIGHT_OK) {
    struct ArrowArray batch;
    rc = csv_reader_next(r, &batch, err);
    if (rc != CFLIGHT_OK || batch.release == NULL) break;
    batches++;
    rc = cflight_array_validate(&schema, &batch, true, err);
    if (rc == CFLIGHT_OK) rc = out_sink_write(sink, &batch, NULL, err);
    cf_array_release(&batch);
  }
  if (rc == CFLIGHT_OK) rc = out_sink_close(sink, err);
  out_sink_free(sink);
  fclose(fp);
  cf_schema_release(&schema);
  csv_reader_free(r);
  if (rc != CFLIGHT_OK) {
    free(out);
    return NULL;
  }
  return out;
}

static void test_csv_import(void) {
  cflight_error err = {0};
  csv_import_options io;
  csv_import_options_init(&io);
  io.batch_rows = 2; /* several batches */
  const char *in =
      "\xEF\xBB\xBFid,score,ok,name,day,when,zoned,code,mixed,empty\n"
      "1,1.5,true,alice,2024-01-31,2024-01-31T10:00:00,2024-01-31T10:00:00Z,007,1,\n"
      "-2,2,FALSE,\"b, \"\"q\"\"\",2024-02-29,2024-01-31 10:00:00.5,2024-01-31T11:00:00+01:00,"
      "010,x,\n"
      ",,,,,,,,,\n"
      "4,1e3,false,\"\",1999-12-31,2024-01-31T10:00,2024-01-31T10:00:00.000001Z,1, 2,\n";
  char *schema = NULL;
  char *out = csv_round(in, &io, OUT_CSV, &err, &schema);
  CHECK_MSG(out != NULL, "%s", err.message);
  CHECK_EQ_STR(schema,
               "id:l score:g ok:b name:u day:tdD when:tsu: zoned:tsu:UTC code:u mixed:u empty:u");
  check_text("csv round trip", out,
             "id,score,ok,name,day,when,zoned,code,mixed,empty\n"
             "1,1.5,true,alice,2024-01-31,2024-01-31T10:00:00.000000,2024-01-31T10:00:00.000000Z,"
             "007,1,\n"
             "-2,2.0,false,\"b, \"\"q\"\"\",2024-02-29,2024-01-31T10:00:00.500000,"
             "2024-01-31T10:00:00.000000Z,010,x,\n"
             ",,,,,,,,,\n"
             "4,1000.0,false,\"\",1999-12-31,2024-01-31T10:00:00.000000,"
             "2024-01-31T10:00:00.000001Z,1,\" 2\",\n");
  free(out);
  free(schema);

  /* Type overrides, a tab delimiter, no header, nanoseconds. */
  csv_import_options_init(&io);
  io.delimiter = '\t';
  io.header = false;
  io.types = "column_1=string";
  out = csv_round("1\t2024-01-01T00:00:00.123456789Z\n2\t2024-01-01T00:00:00Z\n", &io, OUT_JSON,
                  &err, &schema);
  CHECK_MSG(out != NULL, "%s", err.message);
  CHECK_EQ_STR(schema, "column_1:u column_2:tsn:UTC");
  check_text("tsv", out,
             "{\"column_1\":\"1\",\"column_2\":\"2024-01-01T00:00:00.123456789Z\"}\n"
             "{\"column_1\":\"2\",\"column_2\":\"2024-01-01T00:00:00.000000000Z\"}\n");
  free(out);
  free(schema);

  /* Duplicate and empty header names. */
  csv_import_options_init(&io);
  out = csv_round("a,a,,a\n1,2,3,4\n", &io, OUT_CSV, &err, &schema);
  CHECK_EQ_STR(schema, "a:l a_2:l column_3:l a_3:l");
  free(out);
  free(schema);
}

static void expect_csv_error(const char *in, const char *types, const char *want) {
  cflight_error err = {0};
  csv_import_options io;
  csv_import_options_init(&io);
  io.types = types;
  char *out = csv_round(in, &io, OUT_CSV, &err, NULL);
  CHECK_MSG(out == NULL, "no error for %s", in);
  CHECK_MSG(strstr(err.message, want) != NULL, "error '%s' lacks '%s'", err.message, want);
  free(out);
}

static void test_csv_errors(void) {
  expect_csv_error("a,b\n1,2\n3\n", NULL, "row 2 has 1 field, but the header has 2");
  expect_csv_error("a,b\n1,2\n3,\"x\"y\n", NULL, "malformed CSV");
  expect_csv_error("a,b\n1,\"2\n", NULL, "unclosed quote");
  expect_csv_error("a\nx\n", "a=int64", "row 1, column 'a': 'x' is not an integer");
  expect_csv_error("a\nx\n", "b=int64", "no column 'b'");
  expect_csv_error("a\nx\n", "a=uuid", "unknown type 'uuid'");
  expect_csv_error("", NULL, "empty");
}

/* ---- The data directory ------------------------------------------------------------- */

static void expect_name_error(const char *text, const char *want) {
  char name[STORE_MAX_NAME];
  cflight_error err = {0};
  CHECK_EQ_INT(store_name_from_text(text, strlen(text), name, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_MSG(strstr(err.message, want) != NULL, "'%s': '%s' lacks '%s'", text, err.message, want);
}

static void test_store_names(void) {
  char name[STORE_MAX_NAME];
  cflight_error err = {0};
  CHECK_OK(store_name_from_text("a/b c/d", 7, name, &err), &err);
  CHECK_EQ_STR(name, "a/b c/d");
  expect_name_error("../x", "'..'");
  expect_name_error("a/./b", "'.'");
  expect_name_error("/etc/passwd", "absolute");
  expect_name_error("a//b", "part 2 is empty");
  expect_name_error("a/", "part 2 is empty");
  expect_name_error("", "empty dataset path");
  expect_name_error(".hidden", "starts with '.'");
  expect_name_error("a\nb", "control character");
  const char *parts[] = {"x", "a/b"};
  CHECK_EQ_INT(store_name_from_parts(parts, 2, name, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "contains '/'") != NULL);
  const char *abs[] = {"/x"};
  CHECK_EQ_INT(store_name_from_parts(abs, 1, name, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "absolute") != NULL);
  const char *dots[] = {"a", ".."};
  CHECK_EQ_INT(store_name_from_parts(dots, 2, name, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(store_name_from_parts(NULL, 0, name, &err), CFLIGHT_INVALID_ARGUMENT);
  const char *ok[] = {"sales", "2024"};
  CHECK_OK(store_name_from_parts(ok, 2, name, &err), &err);
  CHECK_EQ_STR(name, "sales/2024");
}

/* Writes the typed dataset through an upload; commits or aborts it. */
static int upload_typed(store *s, const char *name, bool commit, cflight_error *err) {
  cf_json_file *json = NULL;
  CF_RETURN_NOT_OK(cf_json_file_read(source_path("tests/cli/data/typed.json"), &json, err));
  store_upload *u = NULL;
  int rc = store_upload_begin(s, name, &u, err);
  cflight_ipc_writer *w = NULL;
  if (rc == CFLIGHT_OK) {
    rc = cflight_ipc_writer_open_fd(store_upload_fd(u), CFLIGHT_IPC_FORMAT_FILE,
                                    cf_json_file_schema(json), NULL, &w, err);
  }
  struct ArrowArray batch = {0};
  if (rc == CFLIGHT_OK) rc = cf_json_file_batch(json, 0, &batch, err);
  if (rc == CFLIGHT_OK) rc = cflight_ipc_writer_write(w, &batch, err);
  if (rc == CFLIGHT_OK) rc = cflight_ipc_writer_close(w, err);
  cf_array_release(&batch);
  cflight_ipc_writer_free(w);
  cf_json_file_free(json);
  if (u != NULL) {
    if (rc == CFLIGHT_OK && commit) {
      rc = store_upload_commit(u, err);
    } else {
      store_upload_abort(u);
    }
  }
  return rc;
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.' || strlen(e->d_name) > 2;
  closedir(d);
  return n;
}

static void test_store(void) {
  cflight_error err = {0};
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s/data/nested", cft_tmpdir());
  store *s = NULL;
  int removed = -1;
  CHECK_OK(store_open(dir, false, &s, &removed, &err), &err);
  if (s == NULL) return;
  CHECK_EQ_INT(removed, 0);

  /* A second writer is refused while the first holds the directory. */
  store *s2 = NULL;
  CHECK_EQ_INT(store_open(dir, false, &s2, NULL, &err), CFLIGHT_FAILED_PRECONDITION);
  CHECK(strstr(err.message, "in use by another cflight serve") != NULL);
  /* A read-only server may share it. */
  CHECK_OK(store_open(dir, true, &s2, NULL, &err), &err);

  CHECK_OK(upload_typed(s, "a/b", true, &err), &err);
  CHECK_OK(upload_typed(s, "a/c", true, &err), &err);
  CHECK_OK(upload_typed(s, "top", true, &err), &err);
  CHECK_OK(upload_typed(s, "gone", false, &err), &err); /* aborted: nothing stays */

  char **names;
  size_t n;
  CHECK_OK(store_list(s, NULL, &names, &n, &err), &err);
  CHECK_EQ_INT(n, 3);
  if (n == 3) {
    CHECK_EQ_STR(names[0], "a/b");
    CHECK_EQ_STR(names[1], "a/c");
    CHECK_EQ_STR(names[2], "top");
  }
  store_names_free(names, n);
  CHECK_OK(store_list(s, "a/", &names, &n, &err), &err);
  CHECK_EQ_INT(n, 2);
  store_names_free(names, n);
  CHECK_OK(store_list(s, "t", &names, &n, &err), &err);
  CHECK_EQ_INT(n, 1);
  store_names_free(names, n);

  ds_info info;
  CHECK_OK(store_stat(s, "a/b", &info, &err), &err);
  CHECK_EQ_INT(info.rows, 3);
  CHECK(info.bytes > 0 && info.file_size > 0 && info.schema != NULL);
  ds_info_reset(&info);
  CHECK_OK(store_stat(s2, "a/b", &info, &err), &err); /* cached path and fresh store agree */
  CHECK_EQ_INT(info.rows, 3);
  ds_info_reset(&info);
  CHECK_EQ_INT(store_stat(s, "a/nope", &info, &err), CFLIGHT_NOT_FOUND);

  /* A reader keeps the version it opened while the dataset is replaced and dropped. */
  struct ArrowArrayStream stream;
  CHECK_OK(store_open_stream(s, "a/b", &stream, &err), &err);
  CHECK_OK(upload_typed(s, "a/b", true, &err), &err);
  CHECK_OK(store_drop(s, "a/b", &err), &err);
  struct ArrowArray batch;
  CHECK_EQ_INT(stream.get_next(&stream, &batch), 0);
  CHECK_EQ_INT(batch.length, 3);
  cf_array_release(&batch);
  stream.release(&stream);
  CHECK_EQ_INT(store_drop(s, "a/b", &err), CFLIGHT_NOT_FOUND);

  /* Rename: refuses to overwrite unless asked; empty directories go away. */
  CHECK_OK(store_rename(s, "a/c", "x/y/z", false, &err), &err);
  char sub[4200];
  snprintf(sub, sizeof(sub), "%s/a", dir);
  struct stat st;
  CHECK(stat(sub, &st) != 0); /* a/ was emptied and removed */
  CHECK_EQ_INT(store_rename(s, "top", "x/y/z", false, &err), CFLIGHT_ALREADY_EXISTS);
  CHECK_OK(store_rename(s, "top", "x/y/z", true, &err), &err);
  CHECK_EQ_INT(store_rename(s, "nope", "x", false, &err), CFLIGHT_NOT_FOUND);

  /* Read-only stores refuse every change. */
  CHECK_EQ_INT(store_drop(s2, "x/y/z", &err), CFLIGHT_PERMISSION_DENIED);
  CHECK(strstr(err.message, "read-only") != NULL);
  store_upload *u = NULL;
  CHECK_EQ_INT(store_upload_begin(s2, "q", &u, &err), CFLIGHT_PERMISSION_DENIED);
  store_close(s2);

  /* Leftovers of a crash are removed at the next open. */
  CHECK_OK(store_upload_begin(s, "x/left", &u, &err), &err);
  char tmp[4300];
  snprintf(tmp, sizeof(tmp), "%s/x/" STORE_TMP_PREFIX "old", dir);
  close(open(tmp, O_CREAT | O_WRONLY, 0644));
  store_close(s); /* removes its own upload's file */
  CHECK(stat(tmp, &st) == 0);
  CHECK_OK(store_open(dir, false, &s, &removed, &err), &err);
  CHECK_EQ_INT(removed, 1);
  CHECK(stat(tmp, &st) != 0);
  snprintf(sub, sizeof(sub), "%s/x", dir);
  CHECK_EQ_INT(count_entries(sub), 1); /* only y/ */
  store_close(s);

  /* Not a directory. */
  snprintf(tmp, sizeof(tmp), "%s/x/y/z.arrow", dir);
  CHECK_EQ_INT(store_open(tmp, false, &s, NULL, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "not a directory") != NULL);
}

static void test_progress(void) {
  sbuf b;
  sb_init(&b);
  progress_render(&b, "get x", 500, 1024 * 1024, 1000, -1, 2.0, 100);
  CHECK_MSG(strstr(sb_str(&b), " 50%  500 rows  1.0 MiB  512.0 KiB/s  2.0s") != NULL, "'%s'",
            sb_str(&b));
  CHECK(strstr(sb_str(&b), "[====================>") != NULL);
  sb_clear(&b);
  progress_render(&b, "put y", 1234567, 10, -1, -1, 0, 40);
  CHECK(strstr(sb_str(&b), "%") == NULL);
  CHECK(strlen(sb_str(&b)) <= 39);
  sb_free(&b);
  /* No terminal: no bar. */
  CHECK(progress_start(PROGRESS_NEVER, "x", 1, 1) == NULL);
}

int main(void) {
  RUN_TEST(test_args);
  RUN_TEST(test_typed_csv);
  RUN_TEST(test_typed_json);
  RUN_TEST(test_typed_table);
  RUN_TEST(test_render_gold);
  RUN_TEST(test_dates);
  RUN_TEST(test_csv_parsers);
  RUN_TEST(test_csv_import);
  RUN_TEST(test_csv_errors);
  RUN_TEST(test_store_names);
  RUN_TEST(test_store);
  RUN_TEST(test_progress);
  return cft_finish();
}
