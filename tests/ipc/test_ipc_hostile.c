/* Hostile input: Arrow C++'s fuzz regressions, every truncation and many
 * byte flips of small valid streams and files, and crafted messages (huge
 * and negative lengths, broken vtables, deep nesting, shared-subtree
 * blowups, unknown dictionary ids, bad union type ids, lying decompressed
 * sizes). Every one must end in a clean error or a clean read. */
#include <dirent.h>
#include <unistd.h>
#include <stdlib.h>

#include "ipc/ipc.h"
#include "ipc_test_util.h"

/* Reads data every way there is; returns the number of batches or -1. */
static int read_all_ways(const uint8_t *bytes, size_t size, cflight_ipc_options *opts, char *why,
                         size_t why_size) {
  cflight_error err = {0};
  cflight_buffer *data = cflight_buffer_copy(bytes, size);
  struct ArrowSchema schema;
  struct ArrowArray out[8];
  int ns = tu_read(data, CFLIGHT_IPC_FORMAT_STREAM, opts, &schema, out, 8, &err);
  if (ns >= 0) {
    /* Whatever was accepted must be valid and comparable to itself. */
    for (int i = 0; i < ns && i < 8; i++) {
      cflight_error e2 = {0};
      CHECK_OK(cflight_array_validate(&schema, &out[i], true, &e2), &e2);
      CHECK_OK(cflight_array_equal(&schema, &out[i], &out[i], &e2), &e2);
    }
    tu_release_all(out, ns < 8 ? ns : 8);
    cf_schema_release(&schema);
  } else if (why != NULL) {
    snprintf(why, why_size, "%s", err.message);
  }
  int nf = tu_read(data, CFLIGHT_IPC_FORMAT_FILE, opts, &schema, out, 8, &err);
  if (nf >= 0) {
    for (int i = 0; i < nf && i < 8; i++) {
      cflight_error e2 = {0};
      CHECK_OK(cflight_array_validate(&schema, &out[i], true, &e2), &e2);
    }
    tu_release_all(out, nf < 8 ? nf : 8);
    cf_schema_release(&schema);
  }
  /* Schema deserialization of the same bytes. */
  if (cflight_ipc_schema_deserialize(bytes, size, &schema, &err) == CFLIGHT_OK)
    cf_schema_release(&schema);
  cflight_buffer_unref(data);
  return ns >= 0 ? ns : nf;
}

static cflight_ipc_options *full_options(void) {
  cflight_ipc_options *o = cflight_ipc_options_new();
  cflight_ipc_options_set_validate_full(o, true);
  cflight_ipc_options_set_max_message_size(o, (int64_t)1 << 30);
  return o;
}

static void run_folder(const char *rel) {
  char dir[4096], path[8192];
  snprintf(dir, sizeof(dir), "%s", cft_data_path(rel));
  DIR *d = opendir(dir);
  CHECK_MSG(d != NULL, "cannot open %s", dir);
  if (d == NULL) return;
  cflight_ipc_options *o = full_options();
  int files = 0, rejected = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    size_t size = 0;
    uint8_t *bytes = cft_read_file(path, &size);
    if (bytes == NULL) continue;
    char why[CFLIGHT_ERROR_MESSAGE_SIZE] = "";
    if (read_all_ways(bytes, size, o, why, sizeof(why)) < 0) rejected++;
    files++;
    free(bytes);
  }
  closedir(d);
  fprintf(stderr, "  %s: %d files, %d rejected\n", rel, files, rejected);
  CHECK(files > 0);
  cflight_ipc_options_free(o);
}

static void test_fuzz_regressions(void) {
  run_folder("fuzz-regressions/ipc-stream");
  run_folder("fuzz-regressions/ipc-file");
}

/* A small stream (or file) with dictionaries, views, unions and nesting. */
static cflight_buffer *small_ipc(cflight_ipc_format format, cflight_compression codec) {
  static const char *const dv[] = {"a", "bb", "ccc"};
  static const char *const dv2[] = {"a", "bb", "ccc", "dddd"};
  int8_t codes[] = {0, 1};
  struct ArrowSchema *s = tu_field("+s", "", NULL);
  cf_schema_release(s);
  cflight_error err = {0};
  cf_schema_init(s, "+s", "", 5, &err);
  struct ArrowSchema *f[5] = {
      tu_dict_field("c", "d", tu_field("u", NULL, NULL), false),
      tu_field("vu", "v", NULL),
      tu_field("+ud:0,1", "u", tu_field("i", "a", NULL), tu_field("u", "b", NULL), NULL),
      tu_field("+l", "l", tu_field("+s", "item", tu_field("l", "x", NULL), NULL), NULL),
      tu_field("+r", "r", tu_field_nn("i", "run_ends", NULL), tu_field("g", "values", NULL), NULL),
  };
  for (int i = 0; i < 5; i++) {
    cf_schema_move(f[i], s->children[i]);
    free(f[i]);
  }
  struct ArrowArray *batches[2];
  for (int k = 0; k < 2; k++) {
    int64_t n = 7, cl = tu_list_child_len(n);
    struct ArrowArray *b = calloc(1, sizeof(*b));
    cf_array_init(b, 1, 5, &err);
    b->length = n;
    struct ArrowArray *c[5] = {
        tu_dict(n, 1, tu_strings(k ? 4 : 3, k ? dv2 : dv, 0), 1, 3),
        tu_view(n, 2, 3),
        tu_union(n, true, codes, 2, tu_prim(4, 4, 3, 2), tu_binary(4, false, 4, 0)),
        tu_list(n, 4, tu_struct(cl, 2, tu_prim(cl, 8, 5, 3), NULL), 4),
        tu_ree(n, 4, tu_prim(tu_ree_runs(n), 8, 6, 0)),
    };
    for (int i = 0; i < 5; i++) {
      cf_array_move(c[i], b->children[i]);
      free(c[i]);
    }
    batches[k] = b;
  }
  cflight_ipc_options *o = cflight_ipc_options_new();
  cflight_ipc_options_set_compression(o, codec, 0, &err);
  cflight_buffer *data = tu_write(s, batches, 2, format, o, &err);
  CHECK_MSG(data != NULL, "small stream: %s", err.message);
  cflight_ipc_options_free(o);
  tu_array_free(batches[0]);
  tu_array_free(batches[1]);
  tu_schema_free(s);
  return data;
}

static void test_truncations(void) {
  cflight_ipc_options *o = full_options();
  for (int format = 0; format < 2; format++) {
    for (int codec = 0; codec < 3; codec++) {
      cflight_buffer *data = small_ipc((cflight_ipc_format)format, (cflight_compression)codec);
      if (data == NULL) continue;
      const uint8_t *p = cflight_buffer_data(data);
      size_t size = cflight_buffer_size(data);
      CHECK_EQ_INT(read_all_ways(p, size, o, NULL, 0), 2);
      int accepted = 0;
      for (size_t cut = 0; cut < size; cut++) {
        if (read_all_ways(p, cut, o, NULL, 0) >= 0) accepted++;
      }
      /* Cuts at message boundaries read as shorter streams; a file needs its end. */
      if (format == CFLIGHT_IPC_FORMAT_FILE)
        CHECK_MSG(accepted <= 3, "%d truncated files accepted", accepted);
      cflight_buffer_unref(data);
    }
  }
  cflight_ipc_options_free(o);
}

static void test_byte_flips(void) {
  cflight_ipc_options *o = full_options();
  for (int format = 0; format < 2; format++) {
    cflight_buffer *data =
        small_ipc((cflight_ipc_format)format,
                  format ? CFLIGHT_COMPRESSION_LZ4_FRAME : CFLIGHT_COMPRESSION_NONE);
    if (data == NULL) continue;
    size_t size = cflight_buffer_size(data);
    uint8_t *copy = malloc(size);
    static const uint8_t patterns[] = {0xFF, 0x01};
    for (size_t i = 0; i < size; i++) {
      for (size_t k = 0; k < CF_ARRAY_SIZE(patterns); k++) {
        memcpy(copy, cflight_buffer_data(data), size);
        copy[i] ^= patterns[k];
        read_all_ways(copy, size, o, NULL, 0);
      }
    }
    free(copy);
    cflight_buffer_unref(data);
  }
  cflight_ipc_options_free(o);
}

/* ---- Crafted messages ------------------------------------------------------------- */

typedef struct rb_spec {
  int version;
  int64_t length;
  const int64_t *nodes; /* pairs */
  int n_nodes;
  const int64_t *bufs; /* pairs */
  int n_bufs;
  const int64_t *variadic;
  int n_variadic;
  int codec; /* -1: none */
  int64_t body_length;
  int64_t dict_id; /* >= 0: a DictionaryBatch */
} rb_spec;

static cflight_buffer *rb_message(const rb_spec *sp) {
  cf_fbb b;
  cf_fbb_init(&b);
  cf_fbref nodes = cf_fbb_vector(&b, sp->nodes, (size_t)sp->n_nodes, 16, 8);
  cf_fbref bufs = cf_fbb_vector(&b, sp->bufs, (size_t)sp->n_bufs, 16, 8);
  cf_fbref var = sp->variadic ? cf_fbb_vector(&b, sp->variadic, (size_t)sp->n_variadic, 8, 8) : 0;
  cf_fbref comp = 0;
  if (sp->codec >= 0) {
    cf_fbb_table_start(&b);
    cf_fbb_add_u8(&b, 0, (uint8_t)sp->codec);
    comp = cf_fbb_table_end(&b);
  }
  cf_fbb_table_start(&b);
  cf_fbb_add_i64(&b, 0, sp->length);
  cf_fbb_add_ref(&b, 1, nodes);
  cf_fbb_add_ref(&b, 2, bufs);
  if (comp) cf_fbb_add_ref(&b, 3, comp);
  if (var) cf_fbb_add_ref(&b, 4, var);
  cf_fbref rb = cf_fbb_table_end(&b);
  int type = CF_MSG_RECORD_BATCH;
  if (sp->dict_id >= 0) {
    cf_fbb_table_start(&b);
    cf_fbb_add_i64(&b, 0, sp->dict_id);
    cf_fbb_add_ref(&b, 1, rb);
    rb = cf_fbb_table_end(&b);
    type = CF_MSG_DICTIONARY_BATCH;
  }
  cf_fbb_table_start(&b);
  cf_fbb_add_i16(&b, 0, (int16_t)sp->version);
  cf_fbb_add_u8(&b, 1, (uint8_t)type);
  cf_fbb_add_ref(&b, 2, rb);
  cf_fbb_add_i64(&b, 3, sp->body_length);
  cf_fbref msg = cf_fbb_table_end(&b);
  cflight_error err = {0};
  CHECK_OK(cf_fbb_finish(&b, msg, &err), &err);
  cflight_buffer *out = cflight_buffer_copy(cf_fbb_data(&b), cf_fbb_size(&b));
  cf_fbb_reset(&b);
  return out;
}

/* A decoder that has seen schema s. */
static cflight_ipc_decoder *decoder_for(const struct ArrowSchema *s, bool full) {
  cflight_error err = {0};
  cflight_ipc_options *o = cflight_ipc_options_new();
  cflight_ipc_options_set_validate_full(o, full);
  cflight_ipc_decoder *dec = NULL;
  CHECK_OK(cflight_ipc_decoder_new(o, &dec, &err), &err);
  cflight_ipc_options_free(o);
  cflight_buffer *bytes;
  CHECK_OK(cflight_ipc_schema_serialize(s, &bytes, &err), &err);
  cflight_ipc_message_type type;
  struct ArrowArray out;
  CHECK_OK(cflight_ipc_decoder_decode(dec, cflight_buffer_data(bytes) + 8,
                                      cflight_buffer_size(bytes) - 8, NULL, &type, &out, &err),
           &err);
  cflight_buffer_unref(bytes);
  return dec;
}

/* Decodes a crafted message; expects failure with `expect` in the message
 * (or success when expect is NULL). */
static void expect_decode(cflight_ipc_decoder *dec, const rb_spec *sp, const uint8_t *body,
                          size_t body_size, const char *expect) {
  cflight_error err = {0};
  cflight_buffer *meta = rb_message(sp);
  cflight_buffer *b = body ? cflight_buffer_copy(body, body_size) : NULL;
  cflight_ipc_message_type type;
  struct ArrowArray out;
  int rc = cflight_ipc_decoder_decode(dec, cflight_buffer_data(meta), cflight_buffer_size(meta), b,
                                      &type, &out, &err);
  if (expect == NULL) {
    CHECK_MSG(rc == CFLIGHT_OK, "expected success: %s", err.message);
  } else {
    CHECK_MSG(rc == CFLIGHT_INVALID_DATA && strstr(err.message, expect) != NULL,
              "expected an error with '%s', got %s: %s", expect, cflight_code_name(rc),
              err.message);
  }
  cf_array_release(&out);
  cflight_buffer_unref(meta);
  cflight_buffer_unref(b);
}

static struct ArrowSchema *one_column(struct ArrowSchema *col) {
  struct ArrowSchema *s = calloc(1, sizeof(*s));
  cflight_error err = {0};
  cf_schema_init(s, "+s", "", 1, &err);
  cf_schema_move(col, s->children[0]);
  free(col);
  return s;
}

static void test_crafted_record_batches(void) {
  uint8_t body[64] = {0};
  struct ArrowSchema *s = one_column(tu_field("l", "x", NULL));
  cflight_ipc_decoder *dec = decoder_for(s, true);
  int64_t node[] = {3, 0};
  int64_t ok_bufs[] = {0, 0, 0, 24};
  rb_spec sp = {.version = CF_MD_V5,
                .length = 3,
                .nodes = node,
                .n_nodes = 1,
                .bufs = ok_bufs,
                .n_bufs = 2,
                .codec = -1,
                .body_length = 24,
                .dict_id = -1};
  expect_decode(dec, &sp, body, 24, NULL);

  int64_t outside[] = {0, 0, 16, 4096};
  sp.bufs = outside;
  expect_decode(dec, &sp, body, 24, "lies outside the 24-byte body");
  int64_t negative[] = {0, 0, -8, 24};
  sp.bufs = negative;
  expect_decode(dec, &sp, body, 24, "outside");
  int64_t huge[] = {0, 0, 8, INT64_MAX};
  sp.bufs = huge;
  expect_decode(dec, &sp, body, 24, "outside");
  int64_t short_buf[] = {0, 0, 0, 16};
  sp.bufs = short_buf;
  expect_decode(dec, &sp, body, 24, "values buffer holds 16 bytes");
  sp.bufs = ok_bufs;

  int64_t bad_node[] = {3, 4};
  sp.nodes = bad_node;
  expect_decode(dec, &sp, body, 24, "null count 4");
  int64_t neg_node[] = {-1, 0};
  sp.nodes = neg_node;
  expect_decode(dec, &sp, body, 24, "length -1");
  int64_t huge_node[] = {INT64_MAX, 0};
  sp.nodes = huge_node;
  sp.length = INT64_MAX;
  expect_decode(dec, &sp, body, 24, "bad field node 0");
  sp.nodes = node;
  sp.length = 3;

  int64_t nulls_node[] = {3, 1};
  sp.nodes = nulls_node;
  expect_decode(dec, &sp, body, 24, "validity bitmap of 0 bytes");
  sp.nodes = node;

  sp.n_bufs = 1;
  expect_decode(dec, &sp, body, 24, "the schema needs more");
  int64_t extra[] = {0, 0, 0, 24, 0, 0};
  sp.bufs = extra;
  sp.n_bufs = 3;
  expect_decode(dec, &sp, body, 24, "buffers");
  sp.bufs = ok_bufs;
  sp.n_bufs = 2;

  sp.length = 4;
  expect_decode(dec, &sp, body, 24, "column has 3 rows, the batch 4");
  sp.length = -5;
  expect_decode(dec, &sp, body, 24, "negative length");
  sp.length = 3;

  sp.body_length = 1 << 20;
  expect_decode(dec, &sp, body, 24, "announces");
  sp.body_length = 24;

  sp.version = 2;
  expect_decode(dec, &sp, body, 24, "version");
  sp.version = 99;
  expect_decode(dec, &sp, body, 24, "version");
  sp.version = CF_MD_V5;

  /* Unknown dictionary ids are errors. */
  sp.dict_id = 99;
  expect_decode(dec, &sp, body, 24, "unknown dictionary id 99");
  sp.dict_id = -1;

  /* Compression: lying lengths. */
  uint8_t cbody[64] = {0};
  int64_t big = (int64_t)1 << 60;
  memcpy(cbody + 8, &big, 8);
  int64_t cbufs[] = {0, 0, 8, 24};
  sp.bufs = cbufs;
  sp.codec = 1;
  sp.body_length = 32;
  expect_decode(dec, &sp, cbody, 32, "uncompressed length 1152921504606846976 exceeds");
  int64_t big2 = 1 << 24;
  memcpy(cbody + 8, &big2, 8);
  expect_decode(dec, &sp, cbody, 32, "cannot expand");
  int64_t small = 24;
  memcpy(cbody + 8, &small, 8);
  expect_decode(dec, &sp, cbody, 32, "zstd");
  int64_t neg = -7;
  memcpy(cbody + 8, &neg, 8);
  expect_decode(dec, &sp, cbody, 32, "negative uncompressed length");
  sp.codec = 0;
  memcpy(cbody + 8, &small, 8);
  expect_decode(dec, &sp, cbody, 32, "LZ4");
  int64_t tiny[] = {0, 0, 8, 4};
  sp.bufs = tiny;
  expect_decode(dec, &sp, cbody, 32, "too short for its length prefix");
  sp.codec = 7;
  expect_decode(dec, &sp, cbody, 32, "unknown compression codec");
  /* -1: stored as is. */
  int64_t stored[] = {0, 0, 0, 32};
  int64_t minus1 = -1;
  memcpy(cbody, &minus1, 8);
  sp.bufs = stored;
  sp.codec = 1;
  expect_decode(dec, &sp, cbody, 32, NULL);

  cflight_ipc_decoder_free(dec);
  tu_schema_free(s);
}

static void test_crafted_values(void) {
  uint8_t body[128] = {0};
  /* Union type ids. */
  struct ArrowSchema *s = one_column(
      tu_field("+us:3,7", "u", tu_field("C", "a", NULL), tu_field("C", "b", NULL), NULL));
  cflight_ipc_decoder *dec = decoder_for(s, true);
  int64_t nodes[] = {4, 0, 4, 0, 4, 0};
  int64_t bufs[] = {0, 4, 8, 0, 8, 4, 16, 0, 16, 4};
  rb_spec sp = {.version = CF_MD_V5,
                .length = 4,
                .nodes = nodes,
                .n_nodes = 3,
                .bufs = bufs,
                .n_bufs = 5,
                .codec = -1,
                .body_length = 24,
                .dict_id = -1};
  body[0] = 3;
  body[1] = 7;
  body[2] = 7;
  body[3] = 3;
  expect_decode(dec, &sp, body, 24, NULL);
  body[2] = 5;
  expect_decode(dec, &sp, body, 24, "unknown union type id 5");
  cflight_ipc_decoder_free(dec);
  /* The same in V4, where unions had a validity bitmap slot first. */
  dec = decoder_for(s, true);
  int64_t bufs4[] = {0, 0, 0, 4, 8, 0, 8, 4, 16, 0, 16, 4};
  sp.bufs = bufs4;
  sp.n_bufs = 6;
  sp.version = CF_MD_V4;
  body[2] = 3;
  expect_decode(dec, &sp, body, 24, NULL);
  sp.version = CF_MD_V5;
  expect_decode(dec, &sp, body, 24, "type ids buffer holds 0 bytes");
  cflight_ipc_decoder_free(dec);
  tu_schema_free(s);

  /* Dictionary indices against the dictionary's length. */
  s = one_column(tu_dict_field("c", "d", tu_field("l", NULL, NULL), false));
  dec = decoder_for(s, true);
  int64_t dnodes[] = {2, 0};
  int64_t dbufs[] = {0, 0, 0, 16};
  rb_spec dsp = {.version = CF_MD_V5,
                 .length = 2,
                 .nodes = dnodes,
                 .n_nodes = 1,
                 .bufs = dbufs,
                 .n_bufs = 2,
                 .codec = -1,
                 .body_length = 16,
                 .dict_id = -1};
  int64_t inodes[] = {4, 0};
  int64_t ibufs[] = {0, 0, 0, 4};
  rb_spec isp = {.version = CF_MD_V5,
                 .length = 4,
                 .nodes = inodes,
                 .n_nodes = 1,
                 .bufs = ibufs,
                 .n_bufs = 2,
                 .codec = -1,
                 .body_length = 8,
                 .dict_id = -1};
  uint8_t idx[8] = {0, 1, 1, 0};
  expect_decode(dec, &isp, idx, 8, "has not been received");
  dsp.dict_id = 0;
  expect_decode(dec, &dsp, body, 16, NULL);
  expect_decode(dec, &isp, idx, 8, NULL);
  idx[2] = 2;
  expect_decode(dec, &isp, idx, 8, "dictionary index 2 outside the 2-value dictionary");
  idx[2] = 0x80; /* -128 */
  expect_decode(dec, &isp, idx, 8, "dictionary index -128");
  cflight_ipc_decoder_free(dec);
  tu_schema_free(s);

  /* Offsets past the data, decreasing offsets, views out of bounds. */
  s = one_column(tu_field("u", "s", NULL));
  dec = decoder_for(s, true);
  int32_t offs[4] = {0, 2, 1, 3};
  memset(body, 0, sizeof(body));
  memcpy(body, offs, 16);
  int64_t snodes[] = {3, 0};
  int64_t sbufs[] = {0, 0, 0, 16, 16, 3};
  rb_spec ssp = {.version = CF_MD_V5,
                 .length = 3,
                 .nodes = snodes,
                 .n_nodes = 1,
                 .bufs = sbufs,
                 .n_bufs = 3,
                 .codec = -1,
                 .body_length = 24,
                 .dict_id = -1};
  expect_decode(dec, &ssp, body, 24, "below the previous");
  offs[3] = 9;
  offs[2] = 2;
  memcpy(body, offs, 16);
  expect_decode(dec, &ssp, body, 24, "offsets reach 9, past the 3-byte data buffer");
  cflight_ipc_decoder_free(dec);
  tu_schema_free(s);

  s = one_column(tu_field("vz", "v", NULL));
  dec = decoder_for(s, true);
  memset(body, 0, sizeof(body));
  int32_t view[4] = {20, 0, 0, 0}; /* 20 bytes in buffer 0 at offset 0; buffer has 8 */
  memcpy(body, view, 16);
  int64_t vnodes[] = {1, 0};
  int64_t vbufs[] = {0, 0, 0, 16, 16, 8};
  int64_t counts[] = {1};
  rb_spec vsp = {.version = CF_MD_V5,
                 .length = 1,
                 .nodes = vnodes,
                 .n_nodes = 1,
                 .bufs = vbufs,
                 .n_bufs = 3,
                 .variadic = counts,
                 .n_variadic = 1,
                 .codec = -1,
                 .body_length = 24,
                 .dict_id = -1};
  expect_decode(dec, &vsp, body, 24, "out of bounds");
  int64_t bad_counts[] = {5};
  vsp.variadic = bad_counts;
  expect_decode(dec, &vsp, body, 24, "variadic buffer count 5");
  vsp.variadic = NULL;
  vsp.n_variadic = 0;
  expect_decode(dec, &vsp, body, 24, "variadic buffer counts");
  cflight_ipc_decoder_free(dec);
  tu_schema_free(s);

  /* Run ends that do not cover the array, or do not increase. */
  s = one_column(
      tu_field("+r", "r", tu_field_nn("i", "run_ends", NULL), tu_field("C", "values", NULL), NULL));
  dec = decoder_for(s, true);
  memset(body, 0, sizeof(body));
  int32_t ends[2] = {3, 5};
  memcpy(body, ends, 8);
  int64_t rnodes[] = {6, 0, 2, 0, 2, 0};
  int64_t rbufs[] = {0, 0, 0, 8, 8, 0, 8, 2};
  rb_spec rsp = {.version = CF_MD_V5,
                 .length = 6,
                 .nodes = rnodes,
                 .n_nodes = 3,
                 .bufs = rbufs,
                 .n_bufs = 4,
                 .codec = -1,
                 .body_length = 16,
                 .dict_id = -1};
  expect_decode(dec, &rsp, body, 16, "before the array's length 6");
  ends[1] = 2;
  ends[0] = 6;
  memcpy(body, ends, 8);
  rnodes[0] = 2;
  rsp.length = 2;
  expect_decode(dec, &rsp, body, 16, "does not increase");
  cflight_ipc_decoder_free(dec);
  tu_schema_free(s);
}

/* Huge lengths that no buffer bounds (a struct without fields, a list of
 * fixed size 0, nulls) decode, validate and compare without per-row work. */
static void test_huge_lengths(void) {
  struct ArrowSchema *s = calloc(1, sizeof(*s));
  cflight_error err = {0};
  cf_schema_init(s, "+s", "", 3, &err);
  struct ArrowSchema *cols[3] = {tu_field("+s", "empty", NULL),
                                 tu_field("+w:0", "fsl0", tu_field("i", "item", NULL), NULL),
                                 tu_field("n", "nulls", NULL)};
  for (int i = 0; i < 3; i++) {
    cf_schema_move(cols[i], s->children[i]);
    free(cols[i]);
  }
  cflight_ipc_decoder *dec = decoder_for(s, true);
  int64_t big = (int64_t)1 << 61;
  int64_t nodes[] = {big, 0, big, 0, 0, 0, big, big};
  int64_t bufs[] = {0, 0, 0, 0, 0, 0, 0, 0};
  rb_spec sp = {.version = CF_MD_V5,
                .length = big,
                .nodes = nodes,
                .n_nodes = 4,
                .bufs = bufs,
                .n_bufs = 4,
                .codec = -1,
                .body_length = 0,
                .dict_id = -1};
  cflight_buffer *meta = rb_message(&sp);
  cflight_ipc_message_type type;
  struct ArrowArray out;
  CHECK_OK(cflight_ipc_decoder_decode(dec, cflight_buffer_data(meta), cflight_buffer_size(meta),
                                      NULL, &type, &out, &err),
           &err);
  if (out.release != NULL) {
    CHECK_EQ_INT(out.length, big);
    CHECK_OK(cflight_array_validate(s, &out, true, &err), &err);
    CHECK_OK(cflight_array_equal(s, &out, &out, &err), &err);
    cf_array_release(&out);
  }
  cflight_buffer_unref(meta);
  cflight_ipc_decoder_free(dec);
  tu_schema_free(s);
}

/* Schema messages built by hand: deep nesting, shared-subtree blowups,
 * big-endian data, bad vtables. */
static cf_fbref int_field(cf_fbb *b) {
  cf_fbb_table_start(b);
  cf_fbb_add_i32(b, 0, 32);
  cf_fbb_add_u8(b, 1, 1);
  cf_fbref t = cf_fbb_table_end(b);
  cf_fbb_table_start(b);
  cf_fbb_add_u8(b, 2, 2); /* Int */
  cf_fbb_add_ref(b, 3, t);
  return cf_fbb_table_end(b);
}

static cf_fbref list_field(cf_fbb *b, const cf_fbref *children, size_t n) {
  cf_fbref kids = cf_fbb_vector_refs(b, children, n);
  cf_fbb_table_start(b);
  cf_fbref t = cf_fbb_table_end(b);
  cf_fbb_table_start(b);
  cf_fbb_add_u8(b, 2, n == 1 ? 12 : 13); /* List or Struct_ */
  cf_fbb_add_ref(b, 3, t);
  cf_fbb_add_ref(b, 5, kids);
  return cf_fbb_table_end(b);
}

static cflight_buffer *schema_msg(cf_fbb *b, cf_fbref field, int16_t endianness) {
  cf_fbref fields = cf_fbb_vector_refs(b, &field, 1);
  cf_fbb_table_start(b);
  cf_fbb_add_i16(b, 0, endianness);
  cf_fbb_add_ref(b, 1, fields);
  cf_fbref schema = cf_fbb_table_end(b);
  cf_fbb_table_start(b);
  cf_fbb_add_i16(b, 0, CF_MD_V5);
  cf_fbb_add_u8(b, 1, CF_MSG_SCHEMA);
  cf_fbb_add_ref(b, 2, schema);
  cf_fbref msg = cf_fbb_table_end(b);
  cflight_error err = {0};
  CHECK_OK(cf_fbb_finish(b, msg, &err), &err);
  cflight_buffer *out = cflight_buffer_copy(cf_fbb_data(b), cf_fbb_size(b));
  cf_fbb_reset(b);
  return out;
}

static void expect_schema_error(cflight_buffer *msg, const char *expect) {
  cflight_error err = {0};
  struct ArrowSchema s;
  int rc =
      cflight_ipc_schema_deserialize(cflight_buffer_data(msg), cflight_buffer_size(msg), &s, &err);
  CHECK_MSG(rc == CFLIGHT_INVALID_DATA && strstr(err.message, expect) != NULL,
            "expected '%s', got %s: %s", expect, cflight_code_name(rc), err.message);
  if (rc == CFLIGHT_OK) cf_schema_release(&s);
  cflight_buffer_unref(msg);
}

static void test_crafted_schemas(void) {
  cf_fbb b;
  /* 100 nested lists. */
  cf_fbb_init(&b);
  cf_fbref f = int_field(&b);
  for (int i = 0; i < 100; i++)
    f = list_field(&b, &f, 1);
  expect_schema_error(schema_msg(&b, f, 0), "nested");

  /* A struct of 2000 references to one struct of 2000 references to ...:
   * 8e9 fields if expanded, a few kilobytes of bytes. */
  cf_fbb_init(&b);
  f = int_field(&b);
  cf_fbref same[2000];
  for (int level = 0; level < 3; level++) {
    for (int i = 0; i < 2000; i++)
      same[i] = f;
    f = list_field(&b, same, 2000);
  }
  expect_schema_error(schema_msg(&b, f, 0), "more tables than");

  cf_fbb_init(&b);
  f = int_field(&b);
  expect_schema_error(schema_msg(&b, f, 1), "big-endian");

  /* Broken vtables and offsets, on top of a valid schema message. */
  cf_fbb_init(&b);
  f = int_field(&b);
  cflight_buffer *good = schema_msg(&b, f, 0);
  const uint8_t *p = cflight_buffer_data(good);
  size_t n = cflight_buffer_size(good);
  uint8_t *copy = malloc(n);
  int rejected = 0;
  for (size_t i = 0; i < n; i++) {
    for (int v = 0; v < 4; v++) {
      static const uint8_t vals[] = {0x00, 0xFF, 0x7F, 0x80};
      memcpy(copy, p, n);
      copy[i] = vals[v];
      struct ArrowSchema s;
      cflight_error err = {0};
      if (cflight_ipc_schema_deserialize(copy, n, &s, &err) == CFLIGHT_OK)
        cf_schema_release(&s);
      else
        rejected++;
    }
  }
  CHECK(rejected > 0);
  /* Root offset out of range, vtable offset out of range. */
  memcpy(copy, p, n);
  uint32_t far = 0x7FFFFFF0;
  memcpy(copy, &far, 4);
  struct ArrowSchema s;
  cflight_error err = {0};
  CHECK_EQ_INT(cflight_ipc_schema_deserialize(copy, n, &s, &err), CFLIGHT_INVALID_DATA);
  CHECK_MSG(strstr(err.message, "outside") != NULL, "%s", err.message);
  memcpy(copy, p, n);
  uint32_t root;
  memcpy(&root, copy, 4);
  int32_t soff = -0x100000;
  memcpy(copy + root, &soff, 4);
  CHECK_EQ_INT(cflight_ipc_schema_deserialize(copy, n, &s, &err), CFLIGHT_INVALID_DATA);
  CHECK_MSG(strstr(err.message, "vtable") != NULL, "%s", err.message);
  free(copy);
  cflight_buffer_unref(good);
}

static void test_framing(void) {
  cflight_ipc_options *o = full_options();
  cflight_error err = {0};
  struct ArrowArrayStream st;
  static const uint8_t huge[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
  static const uint8_t negative[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x80};
  static const uint8_t eos_only[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00};
  static const uint8_t legacy_huge[] = {0xF0, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0};
  const struct {
    const uint8_t *p;
    size_t n;
    const char *expect;
  } cases[] = {{huge, 8, "runs past the end"}, {negative, 8, "negative metadata length"},
               {eos_only, 8, "no schema"},     {legacy_huge, 8, "runs past the end"},
               {huge, 3, "too few"},           {huge, 5, "truncated"}};
  for (size_t i = 0; i < CF_ARRAY_SIZE(cases); i++) {
    cflight_buffer *b = cflight_buffer_copy(cases[i].p, cases[i].n);
    int rc = cflight_ipc_stream_open_buffer(b, o, &st, &err);
    CHECK_MSG(rc == CFLIGHT_INVALID_DATA && strstr(err.message, cases[i].expect), "case %zu: %s", i,
              err.message);
    if (rc == CFLIGHT_OK) st.release(&st);
    cflight_buffer_unref(b);
  }
  /* The same through a pipe: a huge length must not allocate it up front. */
  int fds[2];
  CHECK(pipe(fds) == 0);
  static const uint8_t big_meta[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x30, 1, 2, 3};
  CHECK(write(fds[1], big_meta, sizeof(big_meta)) == (ssize_t)sizeof(big_meta));
  close(fds[1]);
  cflight_ipc_options *big = cflight_ipc_options_new();
  int rc = cflight_ipc_stream_open_fd(fds[0], big, &st, &err);
  CHECK_MSG(rc == CFLIGHT_INVALID_DATA && strstr(err.message, "ends inside"), "%s", err.message);
  close(fds[0]);
  cflight_ipc_options_free(big);
  cflight_ipc_options_free(o);
}

int main(void) {
  RUN_TEST(test_fuzz_regressions);
  RUN_TEST(test_truncations);
  RUN_TEST(test_byte_flips);
  RUN_TEST(test_crafted_record_batches);
  RUN_TEST(test_crafted_values);
  RUN_TEST(test_huge_lengths);
  RUN_TEST(test_crafted_schemas);
  RUN_TEST(test_framing);
  return cft_finish();
}
