/* Encode -> decode round trips of every Arrow type, built with
 * cf_array_init: with nulls, empty, sliced (offsets on batches and on
 * children), compressed, dictionaries (delta, replacement, nested), the
 * message-level API, schemas as bytes, files and descriptors. */
#include <fcntl.h>
#include <unistd.h>

#include "ipc/ipc.h"
#include "ipc_test_util.h"

#define N 37

static struct ArrowSchema *batch_schema(struct ArrowSchema **cols, int n) {
  struct ArrowSchema *s = tu_field("+s", "", NULL);
  cflight_error err = {0};
  /* Rebuild with n children. */
  cf_schema_release(s);
  CHECK_OK(cf_schema_init(s, "+s", "", n, &err), &err);
  s->flags = 0;
  for (int i = 0; i < n; i++) {
    cf_schema_move(cols[i], s->children[i]);
    free(cols[i]);
  }
  return s;
}

static struct ArrowArray *batch(int64_t len, struct ArrowArray **cols, int n) {
  cflight_error err = {0};
  struct ArrowArray *a = calloc(1, sizeof(*a));
  CHECK_OK(cf_array_init(a, 1, n, &err), &err);
  a->length = len;
  for (int i = 0; i < n; i++) {
    cf_array_move(cols[i], a->children[i]);
    free(cols[i]);
  }
  return a;
}

/* Round trip of the batch whole, then of slices made by setting the
 * batch's offset and length. */
static void roundtrip_with_slices(const char *what, struct ArrowSchema *s, struct ArrowArray *b) {
  struct ArrowArray *one[1] = {b};
  tu_roundtrip(what, s, one, 1);
  int64_t len = b->length;
  const int64_t cuts[][2] = {{3, 20}, {8, 0}, {13, 24}, {1, 35}, {36, 1}};
  for (size_t i = 0; i < CF_ARRAY_SIZE(cuts); i++) {
    if (cuts[i][0] + cuts[i][1] > len) continue;
    char name[128];
    snprintf(name, sizeof(name), "%s[%lld:+%lld]", what, (long long)cuts[i][0],
             (long long)cuts[i][1]);
    b->offset = cuts[i][0];
    b->length = cuts[i][1];
    tu_roundtrip(name, s, one, 1);
  }
  b->offset = 0;
  b->length = len;
  /* Several batches in one stream. */
  struct ArrowArray *three[3] = {b, b, b};
  tu_roundtrip(what, s, three, 3);
}

static void test_primitives(void) {
  const char *formats[] = {"b",           "c",
                           "C",           "s",
                           "S",           "i",
                           "I",           "l",
                           "L",           "e",
                           "f",           "g",
                           "tdD",         "tdm",
                           "tts",         "ttm",
                           "ttu",         "ttn",
                           "tss:",        "tsm:",
                           "tsu:UTC",     "tsn:Europe/Paris",
                           "tDs",         "tDm",
                           "tDu",         "tDn",
                           "tiM",         "tiD",
                           "tin",         "d:5,2,32",
                           "d:10,-3,64",  "d:38,10,128",
                           "d:76,20,256", "w:7",
                           "w:1"};
  enum { NF = CF_ARRAY_SIZE(formats) + 1 };
  struct ArrowSchema *fields[NF];
  struct ArrowArray *cols[NF];
  for (size_t i = 0; i < CF_ARRAY_SIZE(formats); i++) {
    cf_type t;
    cflight_error err = {0};
    CHECK_OK(cf_type_parse(formats[i], &t, &err), &err);
    char name[16];
    snprintf(name, sizeof(name), "c%zu", i);
    fields[i] = i % 3 == 2 ? tu_field_nn(formats[i], name, NULL) : tu_field(formats[i], name, NULL);
    int nulls = i % 3 == 2 ? 0 : (int)(2 + i % 5);
    if (t.id == CF_BOOL)
      cols[i] = tu_bool(N, i, nulls);
    else
      cols[i] = tu_prim(N, t.bit_width / 8, i, nulls);
  }
  fields[NF - 1] = tu_field("n", "nulls", NULL);
  cols[NF - 1] = tu_null(N);
  struct ArrowSchema *s = batch_schema(fields, NF);
  struct ArrowArray *b = batch(N, cols, NF);
  roundtrip_with_slices("primitives", s, b);
  tu_array_free(b);
  tu_schema_free(s);
}

static void test_binary(void) {
  struct ArrowSchema *f[] = {tu_field("u", "utf8", NULL),        tu_field("z", "binary", NULL),
                             tu_field("U", "large_utf8", NULL),  tu_field("Z", "large_bin", NULL),
                             tu_field("vu", "utf8_view", NULL),  tu_field("vz", "bin_view", NULL),
                             tu_field_nn("u", "no_nulls", NULL), tu_field("vu", "view_nn", NULL)};
  struct ArrowArray *c[] = {tu_binary(N, false, 1, 3), tu_binary(N, false, 2, 4),
                            tu_binary(N, true, 3, 5),  tu_binary(N, true, 4, 6),
                            tu_view(N, 5, 3),          tu_view(N, 6, 7),
                            tu_binary(N, false, 7, 0), tu_view(N, 8, 0)};
  struct ArrowSchema *s = batch_schema(f, 8);
  struct ArrowArray *b = batch(N, c, 8);
  roundtrip_with_slices("binary", s, b);
  tu_array_free(b);
  tu_schema_free(s);
}

static void test_nested(void) {
  int8_t codes[] = {5, 2, 9};
  struct ArrowSchema *f[] = {
      tu_field("+l", "list", tu_field("i", "item", NULL), NULL),
      tu_field("+L", "large_list", tu_field("u", "item", NULL), NULL),
      tu_field("+w:3", "fsl", tu_field("s", "item", NULL), NULL),
      tu_field("+vl", "list_view", tu_field("l", "item", NULL), NULL),
      tu_field("+vL", "large_list_view", tu_field("u", "item", NULL), NULL),
      tu_field("+s", "struct", tu_field("i", "a", NULL), tu_field("u", "b", NULL), NULL),
      tu_field("+m", "map",
               tu_field_nn("+s", "entries", tu_field_nn("u", "key", NULL),
                           tu_field("i", "value", NULL), NULL),
               NULL),
      tu_field("+us:5,2,9", "sparse", tu_field("i", "x", NULL), tu_field("u", "y", NULL),
               tu_field("b", "z", NULL), NULL),
      tu_field("+ud:5,2,9", "dense", tu_field("l", "x", NULL), tu_field("vu", "y", NULL),
               tu_field("n", "z", NULL), NULL),
      tu_field("+r", "ree32", tu_field_nn("i", "run_ends", NULL), tu_field("u", "values", NULL),
               NULL),
      tu_field("+r", "ree16", tu_field_nn("s", "run_ends", NULL), tu_field("l", "values", NULL),
               NULL),
      tu_field("+r", "ree64", tu_field_nn("l", "run_ends", NULL), tu_field("b", "values", NULL),
               NULL),
      tu_field("+l", "deep",
               tu_field("+s", "item", tu_field("+L", "l", tu_field("g", "item", NULL), NULL),
                        tu_field("+w:2", "f", tu_field("vz", "item", NULL), NULL), NULL),
               NULL),
  };
  f[6]->flags |= ARROW_FLAG_MAP_KEYS_SORTED;
  int64_t cl = tu_list_child_len(N);
  struct ArrowArray *c[] = {
      tu_list(N, 4, tu_prim(cl, 4, 1, 3), 4),
      tu_list(N, 8, tu_binary(cl, false, 2, 5), 3),
      tu_fsl(N, 3, tu_prim(3 * N, 2, 3, 4), 5),
      tu_list_view(N, 4, tu_prim(23, 8, 4, 6), 4),
      tu_list_view(N, 8, tu_binary(11, false, 5, 3), 0),
      tu_struct(N, 4, tu_prim(N, 4, 6, 3), tu_binary(N, false, 7, 5), NULL),
      tu_list(N, 4, tu_struct(cl, 0, tu_binary(cl, false, 8, 0), tu_prim(cl, 4, 9, 4), NULL), 6),
      tu_union(N, false, codes, 3, tu_prim(N, 4, 10, 3), tu_binary(N, false, 11, 4),
               tu_bool(N, 12, 5)),
      tu_union(N, true, codes, 3, tu_prim(20, 8, 13, 3), tu_view(15, 14, 4), tu_null(9)),
      tu_ree(N, 4, tu_binary(tu_ree_runs(N), false, 15, 3)),
      tu_ree(N, 2, tu_prim(tu_ree_runs(N), 8, 16, 0)),
      tu_ree(N, 8, tu_bool(tu_ree_runs(N), 17, 4)),
      tu_list(N, 4,
              tu_struct(cl, 3, tu_list(cl, 8, tu_prim(tu_list_child_len(cl), 8, 18, 5), 4),
                        tu_fsl(cl, 2, tu_view(2 * cl, 19, 3), 0), NULL),
              5),
  };
  struct ArrowSchema *s = batch_schema(f, CF_ARRAY_SIZE(f));
  struct ArrowArray *b = batch(N, c, CF_ARRAY_SIZE(c));
  roundtrip_with_slices("nested", s, b);
  tu_array_free(b);
  tu_schema_free(s);
}

/* Children with their own offsets (a producer's slices below the top). */
static void test_child_offsets(void) {
  int64_t cl = tu_list_child_len(N);
  struct ArrowSchema *f[] = {
      tu_field("+l", "list", tu_field("u", "item", NULL), NULL),
      tu_field("+s", "struct", tu_field("i", "a", NULL), tu_field("b", "b", NULL), NULL),
      tu_field("i", "prim", NULL),
      tu_field("+w:2", "fsl", tu_field("l", "item", NULL), NULL),
  };
  struct ArrowArray *list_child = tu_binary(cl + 5, false, 1, 3);
  list_child->offset = 5;
  list_child->length = cl;
  list_child->null_count = -1; /* unknown: the encoder counts */
  struct ArrowArray *sa = tu_prim(N + 3, 4, 2, 4), *sb = tu_bool(N + 11, 3, 5);
  sa->offset = 3;
  sa->length = N;
  sa->null_count = -1;
  sb->offset = 11;
  sb->length = N;
  sb->null_count = -1;
  struct ArrowArray *prim = tu_prim(N + 7, 4, 4, 3);
  prim->offset = 7;
  prim->length = N;
  prim->null_count = -1;
  struct ArrowArray *fc = tu_prim(2 * N + 1, 8, 5, 3);
  fc->offset = 1;
  fc->length = 2 * N;
  fc->null_count = -1;
  struct ArrowArray *c[] = {tu_list(N, 4, list_child, 3), tu_struct(N, 5, sa, sb, NULL), prim,
                            tu_fsl(N, 2, fc, 4)};
  struct ArrowSchema *s = batch_schema(f, 4);
  struct ArrowArray *b = batch(N, c, 4);
  roundtrip_with_slices("child offsets", s, b);
  tu_array_free(b);
  tu_schema_free(s);
}

static struct ArrowArray *dict_strings(int n, const char *const *v) {
  return tu_strings(n, v, 0);
}

/* Payload types the encoder queues for a batch. */
static int drain(cflight_ipc_encoder *enc, int *types, int max) {
  int n = 0;
  cflight_ipc_payload *p;
  while ((p = cflight_ipc_encoder_next(enc)) != NULL) {
    if (n < max) types[n] = cflight_ipc_payload_type(p);
    n++;
    cflight_ipc_payload_free(p);
  }
  return n;
}

static void test_dictionaries(void) {
  static const char *const d1[] = {"apple", "banana", "cherry"};
  static const char *const d2[] = {"apple", "banana", "cherry", "date", "elderberry"};
  static const char *const d3[] = {"x", "y"};
  struct ArrowSchema *f[] = {
      tu_dict_field("c", "dict8", tu_field("u", NULL, NULL), false),
      tu_dict_field("S", "dict_u16_ordered", tu_field("l", NULL, NULL), true),
      tu_dict_field("i", "dict_of_list", tu_field("+l", NULL, tu_field("u", "item", NULL), NULL),
                    false),
  };
  struct ArrowSchema *s = batch_schema(f, 3);
  struct ArrowArray *batches[4];
  const char *const *dv[4] = {d1, d2, d3, d3};
  int dn[4] = {3, 5, 2, 2};
  for (int k = 0; k < 4; k++) {
    int64_t cl = tu_list_child_len(4);
    struct ArrowArray *c[] = {
        tu_dict(N, 1, dict_strings(dn[k], dv[k]), (uint64_t)k, 4),
        tu_dict(N, 2, tu_prim(6, 8, 42, 0), (uint64_t)k + 10, 0),
        tu_dict(N, 4, tu_list(4, 4, tu_binary(cl, false, 3, 0), 2), (uint64_t)k + 20, 5),
    };
    batches[k] = batch(N, c, 3);
  }
  /* Stream: deltas then a replacement. */
  tu_roundtrip("dictionaries 0-1 (delta)", s, batches, 2);
  tu_roundtrip_stream("dictionaries (delta, replacement)", s, batches, 4);

  /* What the encoder sends: dictionaries first, then only what changed. */
  cflight_error err = {0};
  cflight_ipc_encoder *enc;
  CHECK_OK(cflight_ipc_encoder_new(s, NULL, &enc, &err), &err);
  int types[16];
  CHECK_OK(cflight_ipc_encoder_write_batch(enc, batches[0], &err), &err);
  CHECK_EQ_INT(drain(enc, types, 16), 4);
  CHECK_EQ_INT(types[0], CFLIGHT_IPC_DICTIONARY_BATCH);
  CHECK_EQ_INT(types[3], CFLIGHT_IPC_RECORD_BATCH);
  CHECK_OK(cflight_ipc_encoder_write_batch(enc, batches[0], &err), &err);
  CHECK_EQ_INT(drain(enc, types, 16), 1); /* unchanged dictionaries: nothing */
  CHECK_OK(cflight_ipc_encoder_write_batch(enc, batches[1], &err), &err);
  CHECK_EQ_INT(drain(enc, types, 16), 2); /* one delta */
  CHECK_OK(cflight_ipc_encoder_write_batch(enc, batches[2], &err), &err);
  CHECK_EQ_INT(drain(enc, types, 16), 2); /* one replacement */
  cflight_ipc_encoder_free(enc);

  /* The file format takes deltas but refuses replacements. */
  cflight_buffer *data = tu_write(s, batches, 2, CFLIGHT_IPC_FORMAT_FILE, NULL, &err);
  CHECK_MSG(data != NULL, "file with a delta: %s", err.message);
  cflight_buffer_unref(data);
  data = tu_write(s, batches, 3, CFLIGHT_IPC_FORMAT_FILE, NULL, &err);
  CHECK(data == NULL);
  CHECK_MSG(strstr(err.message, "replacement") != NULL, "%s", err.message);
  cflight_buffer_unref(data);

  /* Without deltas, the extension is sent as a replacement. */
  cflight_ipc_options *o = cflight_ipc_options_new();
  cflight_ipc_options_set_dictionary_deltas(o, false);
  CHECK_OK(cflight_ipc_encoder_new(s, o, &enc, &err), &err);
  CHECK_OK(cflight_ipc_encoder_write_batch(enc, batches[0], &err), &err);
  drain(enc, types, 16);
  CHECK_OK(cflight_ipc_encoder_write_batch(enc, batches[1], &err), &err);
  CHECK_EQ_INT(drain(enc, types, 16), 2);
  cflight_ipc_encoder_free(enc);
  cflight_ipc_options_free(o);
  for (int k = 0; k < 4; k++)
    tu_array_free(batches[k]);
  tu_schema_free(s);
}

/* Dictionaries whose values hold dictionary-encoded fields. */
static void test_nested_dictionaries(void) {
  static const char *const inner1[] = {"red", "green"};
  static const char *const inner2[] = {"red", "green", "blue"};
  static const char *const inner3[] = {"cyan"};
  struct ArrowSchema *value =
      tu_field("+s", NULL, tu_dict_field("s", "color", tu_field("u", NULL, NULL), false),
               tu_field("i", "n", NULL), NULL);
  struct ArrowSchema *f[] = {
      tu_dict_field("i", "outer", value, false),
      tu_field("+l", "list_of_dict", tu_dict_field("c", "item", tu_field("u", NULL, NULL), false),
               NULL),
  };
  struct ArrowSchema *s = batch_schema(f, 2);
  const char *const *inner[3] = {inner1, inner2, inner3};
  int inner_n[3] = {2, 3, 1};
  struct ArrowArray *batches[3];
  for (int k = 0; k < 3; k++) {
    struct ArrowArray *values =
        tu_struct(5, 0, tu_dict(5, 2, dict_strings(inner_n[k], inner[k]), (uint64_t)k, 3),
                  tu_prim(5, 4, 7, 0), NULL);
    int64_t cl = tu_list_child_len(N);
    struct ArrowArray *c[] = {
        tu_dict(N, 4, values, (uint64_t)k + 1, 6),
        tu_list(N, 4, tu_dict(cl, 1, dict_strings(inner_n[k], inner[k]), (uint64_t)k, 4), 5),
    };
    batches[k] = batch(N, c, 2);
  }
  tu_roundtrip_stream("nested dictionaries", s, batches, 3);
  struct ArrowArray *same[2] = {batches[1], batches[1]};
  tu_roundtrip("nested dictionaries, unchanged", s, same, 2);
  for (int k = 0; k < 3; k++)
    tu_array_free(batches[k]);
  tu_schema_free(s);
}

/* A dictionary value array of n values for each kind of value type. */
typedef struct value_kind {
  const char *name;
  struct ArrowSchema *(*schema)(void);
  struct ArrowArray *(*make)(int64_t n);
} value_kind;

static struct ArrowSchema *vs_int(void) {
  return tu_field("i", NULL, NULL);
}
static struct ArrowArray *va_int(int64_t n) {
  return tu_prim(n, 4, 1, 4);
}
static struct ArrowSchema *vs_bool(void) {
  return tu_field("b", NULL, NULL);
}
static struct ArrowArray *va_bool(int64_t n) {
  return tu_bool(n, 2, 3);
}
static struct ArrowSchema *vs_utf8(void) {
  return tu_field("u", NULL, NULL);
}
static struct ArrowArray *va_utf8(int64_t n) {
  return tu_binary(n, false, 3, 4);
}
static struct ArrowSchema *vs_large(void) {
  return tu_field("Z", NULL, NULL);
}
static struct ArrowArray *va_large(int64_t n) {
  return tu_binary(n, true, 4, 0);
}
static struct ArrowSchema *vs_view(void) {
  return tu_field("vu", NULL, NULL);
}
static struct ArrowArray *va_view(int64_t n) {
  return tu_view(n, 5, 3);
}
static struct ArrowSchema *vs_dec(void) {
  return tu_field("d:20,4,128", NULL, NULL);
}
static struct ArrowArray *va_dec(int64_t n) {
  return tu_prim(n, 16, 6, 5);
}
static struct ArrowSchema *vs_fsb(void) {
  return tu_field("w:3", NULL, NULL);
}
static struct ArrowArray *va_fsb(int64_t n) {
  return tu_prim(n, 3, 7, 4);
}
static struct ArrowSchema *vs_list1(void) {
  return tu_field("+l", NULL, tu_field("u", "item", NULL), NULL);
}
static struct ArrowArray *va_list1(int64_t n) {
  return tu_list(n, 4, tu_binary(tu_list_child_len(n), false, 8, 3), 5);
}
static struct ArrowSchema *vs_llist(void) {
  return tu_field("+L", NULL, tu_field("i", "item", NULL), NULL);
}
static struct ArrowArray *va_llist(int64_t n) {
  return tu_list(n, 8, tu_prim(tu_list_child_len(n), 4, 9, 3), 4);
}
static struct ArrowSchema *vs_fsl(void) {
  return tu_field("+w:2", NULL, tu_field("s", "item", NULL), NULL);
}
static struct ArrowArray *va_fsl(int64_t n) {
  return tu_fsl(n, 2, tu_prim(2 * n, 2, 10, 3), 4);
}
static struct ArrowSchema *vs_lview(void) {
  return tu_field("+vl", NULL, tu_field("l", "item", NULL), NULL);
}
static struct ArrowArray *va_lview(int64_t n) {
  return tu_list_view(n, 4, tu_prim(9, 8, 11, 4), 3);
}
static struct ArrowSchema *vs_struct(void) {
  return tu_field("+s", NULL, tu_field("i", "a", NULL), tu_field("vz", "b", NULL), NULL);
}
static struct ArrowArray *va_struct(int64_t n) {
  return tu_struct(n, 4, tu_prim(n, 4, 12, 3), tu_view(n, 13, 0), NULL);
}
static struct ArrowSchema *vs_map(void) {
  return tu_field("+m", NULL,
                  tu_field_nn("+s", "entries", tu_field_nn("u", "key", NULL),
                              tu_field("l", "value", NULL), NULL),
                  NULL);
}
static struct ArrowArray *va_map(int64_t n) {
  int64_t cl = tu_list_child_len(n);
  return tu_list(n, 4, tu_struct(cl, 0, tu_binary(cl, false, 14, 0), tu_prim(cl, 8, 15, 3), NULL),
                 0);
}
static const int8_t union_codes[] = {4, 1};
static struct ArrowSchema *vs_sparse(void) {
  return tu_field("+us:4,1", NULL, tu_field("i", "a", NULL), tu_field("u", "b", NULL), NULL);
}
static struct ArrowArray *va_sparse(int64_t n) {
  return tu_union(n, false, union_codes, 2, tu_prim(n, 4, 16, 3), tu_binary(n, false, 17, 4));
}
static struct ArrowSchema *vs_dense(void) {
  return tu_field("+ud:4,1", NULL, tu_field("i", "a", NULL), tu_field("u", "b", NULL), NULL);
}
static struct ArrowArray *va_dense(int64_t n) {
  return tu_union(n, true, union_codes, 2, tu_prim(n, 4, 18, 3), tu_binary(n, false, 19, 4));
}
static struct ArrowSchema *vs_ree(void) {
  return tu_field("+r", NULL, tu_field_nn("s", "run_ends", NULL), tu_field("u", "values", NULL),
                  NULL);
}
static struct ArrowArray *va_ree(int64_t n) {
  return tu_ree(n, 2, tu_binary(tu_ree_runs(n), false, 20, 3));
}
static struct ArrowSchema *vs_null(void) {
  return tu_field("n", NULL, NULL);
}
static struct ArrowArray *va_null(int64_t n) {
  return tu_null(n);
}
static struct ArrowSchema *vs_nested_dict(void) {
  return tu_field("+l", NULL, tu_dict_field("c", "item", tu_field("u", NULL, NULL), false), NULL);
}
static struct ArrowArray *va_nested_dict(int64_t n) {
  static const char *const inner[] = {"p", "q", "r"};
  return tu_list(n, 4, tu_dict(tu_list_child_len(n), 1, tu_strings(3, inner, 0), 21, 4), 3);
}

/* For every value type: batch 1 carries a dictionary of the first 7
 * values, batch 2 all 19, so the second is sent as a delta and the reader
 * concatenates. */
static void test_dictionary_deltas_all_types(void) {
  static const value_kind kinds[] = {
      {"int32", vs_int, va_int},
      {"bool", vs_bool, va_bool},
      {"utf8", vs_utf8, va_utf8},
      {"large_binary", vs_large, va_large},
      {"utf8_view", vs_view, va_view},
      {"decimal128", vs_dec, va_dec},
      {"fsb", vs_fsb, va_fsb},
      {"list", vs_list1, va_list1},
      {"large_list", vs_llist, va_llist},
      {"fixed_size_list", vs_fsl, va_fsl},
      {"list_view", vs_lview, va_lview},
      {"struct", vs_struct, va_struct},
      {"map", vs_map, va_map},
      {"sparse_union", vs_sparse, va_sparse},
      {"dense_union", vs_dense, va_dense},
      {"run_end_encoded", vs_ree, va_ree},
      {"null", vs_null, va_null},
      {"nested_dictionary", vs_nested_dict, va_nested_dict},
  };
  for (size_t k = 0; k < CF_ARRAY_SIZE(kinds); k++) {
    struct ArrowSchema *f[] = {tu_dict_field("i", kinds[k].name, kinds[k].schema(), false)};
    struct ArrowSchema *s = batch_schema(f, 1);
    struct ArrowArray *batches[3];
    for (int b = 0; b < 3; b++) {
      struct ArrowArray *values = kinds[k].make(19);
      if (b == 0) {
        values->length = 7; /* a prefix of the later ones */
        values->null_count = -1;
      }
      struct ArrowArray *c[] = {tu_dict(N, 4, values, (uint64_t)b, 4)};
      batches[b] = batch(N, c, 1);
    }
    cflight_error err = {0};
    cflight_ipc_encoder *enc;
    CHECK_OK(cflight_ipc_encoder_new(s, NULL, &enc, &err), &err);
    int types[8], n = 0;
    for (int b = 0; b < 3; b++) {
      CHECK_OK(cflight_ipc_encoder_write_batch(enc, batches[b], &err), &err);
      n += drain(enc, types, 8);
    }
    /* The nested case sends its inner dictionary once more (first batch). */
    CHECK_MSG(n == (k + 1 == CF_ARRAY_SIZE(kinds) ? 6 : 5), "%s: %d messages", kinds[k].name, n);
    cflight_ipc_encoder_free(enc);
    tu_roundtrip(kinds[k].name, s, batches, 3);
    for (int b = 0; b < 3; b++)
      tu_array_free(batches[b]);
    tu_schema_free(s);
  }
}

/* Two fields sharing one dictionary id: one dictionary batch per change. */
static void test_shared_dictionary(void) {
  static const char *const d1[] = {"a", "b", "c"};
  static const char *const d2[] = {"a", "b", "c", "d"};
  struct ArrowSchema *f[] = {
      tu_dict_field("i", "x", tu_field("u", NULL, NULL), false),
      tu_field("+l", "l", tu_dict_field("i", "y", tu_field("u", NULL, NULL), false), NULL),
      tu_dict_field("s", "own", tu_field("u", NULL, NULL), false)};
  struct ArrowSchema *s = batch_schema(f, 3);
  struct ArrowArray *batches[2];
  for (int k = 0; k < 2; k++) {
    int64_t cl = tu_list_child_len(N);
    struct ArrowArray *c[] = {
        tu_dict(N, 4, tu_strings(k ? 4 : 3, k ? d2 : d1, 0), 1, 3),
        tu_list(N, 4, tu_dict(cl, 4, tu_strings(k ? 4 : 3, k ? d2 : d1, 0), 2, 4), 5),
        tu_dict(N, 2, tu_strings(3, d1, 0), 3, 0)};
    batches[k] = batch(N, c, 3);
  }
  cflight_error err = {0};
  cflight_ipc_options *o = cflight_ipc_options_new();
  int64_t ids[] = {7, 7, 3};
  CHECK_OK(cflight_ipc_options_set_dictionary_ids(o, ids, 3, &err), &err);
  cflight_ipc_encoder *enc;
  CHECK_OK(cflight_ipc_encoder_new(s, o, &enc, &err), &err);
  int types[8];
  CHECK_OK(cflight_ipc_encoder_write_batch(enc, batches[0], &err), &err);
  CHECK_EQ_INT(drain(enc, types, 8), 3); /* two dictionaries, one batch */
  CHECK_OK(cflight_ipc_encoder_write_batch(enc, batches[1], &err), &err);
  CHECK_EQ_INT(drain(enc, types, 8), 2); /* one delta for the shared id */
  cflight_ipc_encoder_free(enc);
  for (int fmt = 0; fmt < 2; fmt++) {
    cflight_buffer *bytes = tu_write(s, batches, 2, (cflight_ipc_format)fmt, o, &err);
    CHECK_MSG(bytes != NULL, "%s", err.message);
    struct ArrowArray got[2];
    struct ArrowSchema gs;
    int m = bytes ? tu_read(bytes, (cflight_ipc_format)fmt, NULL, &gs, got, 2, &err) : -1;
    CHECK_MSG(m == 2, "%s", err.message);
    for (int i = 0; i < m; i++) {
      CHECK_OK(cflight_array_equal(s, batches[i], &got[i], &err), &err);
      /* Both fields decode with the very same dictionary. */
      CHECK(got[i].children[0]->dictionary->buffers[2] ==
            got[i].children[1]->children[0]->dictionary->buffers[2]);
    }
    if (m >= 0) {
      tu_release_all(got, m);
      cf_schema_release(&gs);
    }
    cflight_buffer_unref(bytes);
  }
  /* Fields sharing an id must carry the same dictionary. */
  struct ArrowArray *c[] = {
      tu_dict(N, 4, tu_strings(3, d1, 0), 1, 3),
      tu_list(N, 4, tu_dict(tu_list_child_len(N), 4, tu_strings(4, d2, 0), 2, 4), 5),
      tu_dict(N, 2, tu_strings(3, d1, 0), 3, 0)};
  struct ArrowArray *bad = batch(N, c, 3);
  CHECK_OK(cflight_ipc_encoder_new(s, o, &enc, &err), &err);
  CHECK_EQ_INT(cflight_ipc_encoder_write_batch(enc, bad, &err), CFLIGHT_INVALID_ARGUMENT);
  CHECK_MSG(strstr(err.message, "sharing dictionary id 7") != NULL, "%s", err.message);
  CHECK(cflight_ipc_encoder_next(enc) == NULL);
  cflight_ipc_encoder_free(enc);
  /* Ids that do not fit the schema. */
  int64_t short_ids[] = {1};
  CHECK_OK(cflight_ipc_options_set_dictionary_ids(o, short_ids, 1, &err), &err);
  CHECK(cflight_ipc_encoder_new(s, o, &enc, &err) != CFLIGHT_OK);
  tu_array_free(bad);
  cflight_ipc_options_free(o);
  tu_array_free(batches[0]);
  tu_array_free(batches[1]);
  tu_schema_free(s);
}

static void test_empty(void) {
  /* Zero-length batches, a stream without batches, a schema without fields. */
  struct ArrowSchema *f[] = {
      tu_field("u", "a", NULL), tu_field("+l", "b", tu_field("i", "item", NULL), NULL),
      tu_dict_field("i", "d", tu_field("u", NULL, NULL), false), tu_field("vu", "v", NULL)};
  struct ArrowSchema *s = batch_schema(f, 4);
  static const char *const dv[] = {"q"};
  struct ArrowArray *c[] = {tu_binary(0, false, 1, 0), tu_list(0, 4, tu_prim(0, 4, 1, 0), 0),
                            tu_dict(0, 4, dict_strings(1, dv), 1, 0), tu_view(0, 1, 0)};
  struct ArrowArray *b = batch(0, c, 4);
  struct ArrowArray *two[2] = {b, b};
  tu_roundtrip("zero-length batches", s, two, 2);
  tu_roundtrip("no batches", s, NULL, 0);
  tu_array_free(b);
  tu_schema_free(s);

  struct ArrowSchema *none = batch_schema(NULL, 0);
  struct ArrowArray *nb = batch(5, NULL, 0);
  struct ArrowArray *one[1] = {nb};
  tu_roundtrip("no columns", none, one, 1);
  tu_array_free(nb);
  tu_schema_free(none);
}

static void test_metadata(void) {
  struct ArrowSchema *f[] = {tu_field("w:16", "uuid", NULL), tu_field("i", "dup", NULL),
                             tu_field("u", "dup", NULL), tu_field_nn("l", "", NULL)};
  tu_set_metadata(f[0], "ARROW:extension:name", "arrow.uuid", "ARROW:extension:metadata", "");
  tu_set_metadata(f[1], "k", "v", "empty", "");
  struct ArrowSchema *s = batch_schema(f, 4);
  tu_set_metadata(s, "schema key", "schema value", "k2", "v2");
  struct ArrowArray *c[] = {tu_prim(N, 16, 1, 3), tu_prim(N, 4, 2, 0), tu_binary(N, false, 3, 4),
                            tu_prim(N, 8, 4, 0)};
  struct ArrowArray *b = batch(N, c, 4);
  struct ArrowArray *one[1] = {b};
  tu_roundtrip("metadata", s, one, 1);
  tu_array_free(b);
  tu_schema_free(s);
}

/* Message-level API: payloads -> decoder, with aligned and misaligned bodies. */
static void test_message_api(void) {
  struct ArrowSchema *f[] = {tu_field("l", "a", NULL), tu_field("u", "b", NULL),
                             tu_dict_field("c", "d", tu_field("u", NULL, NULL), false)};
  struct ArrowSchema *s = batch_schema(f, 3);
  static const char *const dv[] = {"p", "q", "r"};
  struct ArrowArray *c[] = {tu_prim(N, 8, 1, 3), tu_binary(N, false, 2, 4),
                            tu_dict(N, 1, dict_strings(3, dv), 3, 5)};
  struct ArrowArray *b = batch(N, c, 3);
  cflight_error err = {0};
  for (int shift = 0; shift < 2; shift++) {
    cflight_ipc_encoder *enc;
    cflight_ipc_decoder *dec;
    CHECK_OK(cflight_ipc_encoder_new(s, NULL, &enc, &err), &err);
    CHECK_OK(cflight_ipc_decoder_new(NULL, &dec, &err), &err);
    struct ArrowSchema got;
    CHECK_EQ_INT(cflight_ipc_decoder_schema(dec, &got, &err), CFLIGHT_FAILED_PRECONDITION);
    cflight_ipc_payload *p;
    CHECK_OK(cflight_ipc_encoder_schema(enc, &p, &err), &err);
    cflight_ipc_piece meta = cflight_ipc_payload_metadata(p);
    int64_t body_len = -1;
    CHECK_OK(cflight_ipc_message_body_length(meta.data, meta.size, &body_len, &err), &err);
    CHECK_EQ_INT(body_len, 0);
    cflight_ipc_message_type type;
    struct ArrowArray out;
    CHECK_OK(cflight_ipc_decoder_decode(dec, meta.data, meta.size, NULL, &type, &out, &err), &err);
    CHECK_EQ_INT(type, CFLIGHT_IPC_SCHEMA);
    cflight_ipc_payload_free(p);
    CHECK_OK(cflight_ipc_encoder_write_batch(enc, b, &err), &err);
    int n_batches = 0;
    while ((p = cflight_ipc_encoder_next(enc)) != NULL) {
      const cflight_ipc_piece *pieces;
      size_t np = cflight_ipc_payload_body(p, &pieces);
      int64_t len = cflight_ipc_payload_body_length(p);
      meta = cflight_ipc_payload_metadata(p);
      CHECK_OK(cflight_ipc_message_body_length(meta.data, meta.size, &body_len, &err), &err);
      CHECK_EQ_INT(body_len, len);
      /* The body, at an 8-aligned address or one byte off. */
      cflight_buffer *whole = cflight_buffer_new((size_t)len + 8);
      uint8_t *dst = cflight_buffer_mutable_data(whole) + shift;
      int64_t pos = 0;
      for (size_t i = 0; i < np; i++) {
        memcpy(dst + pos, pieces[i].data, pieces[i].size);
        pos += (int64_t)pieces[i].size;
      }
      CHECK_EQ_INT(pos, len);
      cflight_buffer *body = cflight_buffer_slice(whole, (size_t)shift, (size_t)len);
      cflight_buffer_unref(whole);
      CHECK_OK(cflight_ipc_decoder_decode(dec, meta.data, meta.size, body, &type, &out, &err),
               &err);
      CHECK_EQ_INT(type, cflight_ipc_payload_type(p));
      if (type == CFLIGHT_IPC_RECORD_BATCH) {
        n_batches++;
        CHECK_OK(cflight_array_equal(s, b, &out, &err), &err);
        /* Zero copy: the int64 values lie in the body unless misaligned. */
        const uint8_t *v = out.children[0]->buffers[1];
        const uint8_t *start = cflight_buffer_data(body);
        bool inside = v >= start && v < start + len;
        CHECK_MSG(inside == (shift == 0), "int64 buffer %s the body with shift %d",
                  inside ? "inside" : "outside", shift);
        /* The offsets of a utf8 column are 4-aligned copies or in place. */
        CHECK(((uintptr_t)out.children[1]->buffers[1] & 3) == 0);
        /* One byte values never need a copy. */
        const uint8_t *data = out.children[1]->buffers[2];
        CHECK(data >= start && data < start + len);
        cf_array_release(&out);
      }
      cflight_buffer_unref(body);
      cflight_ipc_payload_free(p);
    }
    CHECK_EQ_INT(n_batches, 1);
    CHECK_OK(cflight_ipc_decoder_schema(dec, &got, &err), &err);
    CHECK(cf_schema_equal(s, &got, NULL) == CFLIGHT_OK);
    cf_schema_release(&got);
    cflight_ipc_decoder_free(dec);
    cflight_ipc_encoder_free(enc);
  }
  /* Payload hold: the body stays valid after the batch's owner lets go. */
  cflight_ipc_encoder *enc;
  CHECK_OK(cflight_ipc_encoder_new(s, NULL, &enc, &err), &err);
  CHECK_OK(cflight_ipc_encoder_write_batch(enc, b, &err), &err);
  cflight_ipc_payload *p, *last = NULL;
  while ((p = cflight_ipc_encoder_next(enc)) != NULL) {
    cflight_ipc_payload_free(last);
    last = p;
  }
  cflight_ipc_payload_hold(last, b);
  CHECK(b->release == NULL);
  cflight_ipc_payload_free(last);
  cflight_ipc_encoder_free(enc);
  free(b);
  tu_schema_free(s);
}

static void test_schema_bytes(void) {
  struct ArrowSchema *f[] = {
      tu_field("tsu:UTC", "ts", NULL), tu_dict_field("i", "d", tu_field("u", NULL, NULL), true),
      tu_field("+ud:1,0", "u", tu_field("i", "a", NULL), tu_field("u", "b", NULL), NULL)};
  struct ArrowSchema *s = batch_schema(f, 3);
  tu_set_metadata(s, "k", "v", NULL, NULL);
  cflight_error err = {0};
  cflight_buffer *bytes;
  CHECK_OK(cflight_ipc_schema_serialize(s, &bytes, &err), &err);
  const uint8_t *p = cflight_buffer_data(bytes);
  size_t n = cflight_buffer_size(bytes);
  CHECK_EQ_INT(n % 8, 0);
  struct ArrowSchema got;
  /* Encapsulated with continuation marker. */
  CHECK_OK(cflight_ipc_schema_deserialize(p, n, &got, &err), &err);
  CHECK(cf_schema_equal(s, &got, NULL) == CFLIGHT_OK);
  cf_schema_release(&got);
  /* Bare flatbuffer. */
  CHECK_OK(cflight_ipc_schema_deserialize(p + 8, n - 8, &got, &err), &err);
  CHECK(cf_schema_equal(s, &got, NULL) == CFLIGHT_OK);
  cf_schema_release(&got);
  /* Legacy framing: int32 length, message. */
  CHECK_OK(cflight_ipc_schema_deserialize(p + 4, n - 4, &got, &err), &err);
  CHECK(cf_schema_equal(s, &got, NULL) == CFLIGHT_OK);
  cf_schema_release(&got);
  CHECK_EQ_INT(cflight_ipc_schema_deserialize(p, 0, &got, &err), CFLIGHT_INVALID_DATA);
  CHECK_EQ_INT(cflight_ipc_schema_deserialize(p, 7, &got, &err), CFLIGHT_INVALID_DATA);
  cflight_buffer_unref(bytes);
  tu_schema_free(s);
}

static void test_files_and_fds(void) {
  struct ArrowSchema *f[] = {tu_field("i", "a", NULL), tu_field("U", "b", NULL),
                             tu_dict_field("s", "d", tu_field("u", NULL, NULL), false)};
  struct ArrowSchema *s = batch_schema(f, 3);
  static const char *const dv[] = {"one", "two"};
  struct ArrowArray *c[] = {tu_prim(N, 4, 1, 3), tu_binary(N, true, 2, 4),
                            tu_dict(N, 2, dict_strings(2, dv), 1, 3)};
  struct ArrowArray *b = batch(N, c, 3);
  cflight_error err = {0};
  char path[512];
  for (int format = 0; format < 2; format++) {
    snprintf(path, sizeof(path), "%s/out-%d.arrow", cft_tmpdir(), format);
    cflight_ipc_options *o = cflight_ipc_options_new();
    CHECK_OK(cflight_ipc_options_set_compression(o, CFLIGHT_COMPRESSION_ZSTD, 1, &err), &err);
    cflight_ipc_writer *w;
    CHECK_OK(cflight_ipc_writer_open_path(path, (cflight_ipc_format)format, s, o, &w, &err), &err);
    for (int i = 0; i < 3; i++)
      CHECK_OK(cflight_ipc_writer_write(w, b, &err), &err);
    CHECK_OK(cflight_ipc_writer_close(w, &err), &err);
    CHECK_EQ_INT(cflight_ipc_writer_write(w, b, &err), CFLIGHT_FAILED_PRECONDITION);
    cflight_ipc_writer_free(w);
    cflight_ipc_options_free(o);

    struct ArrowArrayStream st;
    cflight_ipc_format got_format;
    CHECK_OK(cflight_ipc_open_path(path, NULL, &st, &got_format, &err), &err);
    CHECK_EQ_INT(got_format, format);
    int n = 0;
    for (;;) {
      struct ArrowArray a;
      CHECK_EQ_INT(st.get_next(&st, &a), 0);
      if (a.release == NULL) break;
      CHECK_OK(cflight_array_equal(s, b, &a, &err), &err);
      cf_array_release(&a);
      n++;
    }
    CHECK_EQ_INT(n, 3);
    st.release(&st);

    if (format == CFLIGHT_IPC_FORMAT_FILE) {
      cflight_ipc_file_reader *r;
      CHECK_OK(cflight_ipc_file_reader_open_path(path, NULL, &r, &err), &err);
      CHECK_EQ_INT(cflight_ipc_file_reader_num_batches(r), 3);
      struct ArrowArray a;
      CHECK_OK(cflight_ipc_file_reader_read(r, 2, &a, &err), &err);
      CHECK_OK(cflight_array_equal(s, b, &a, &err), &err);
      cf_array_release(&a);
      CHECK_EQ_INT(cflight_ipc_file_reader_read(r, 3, &a, &err), CFLIGHT_OUT_OF_RANGE);
      struct ArrowSchema got;
      CHECK_OK(cflight_ipc_file_reader_schema(r, &got, &err), &err);
      CHECK(cf_schema_equal(s, &got, NULL) == CFLIGHT_OK);
      cf_schema_release(&got);
      cflight_ipc_file_reader_free(r);
    } else {
      /* The stream again, through a file descriptor, message by message. */
      int fd = open(path, O_RDONLY);
      CHECK(fd >= 0);
      CHECK_OK(cflight_ipc_stream_open_fd(fd, NULL, &st, &err), &err);
      n = 0;
      for (;;) {
        struct ArrowArray a;
        CHECK_EQ_INT(st.get_next(&st, &a), 0);
        if (a.release == NULL) break;
        CHECK_OK(cflight_array_equal(s, b, &a, &err), &err);
        cf_array_release(&a);
        n++;
      }
      CHECK_EQ_INT(n, 3);
      st.release(&st);
      close(fd);
    }
  }
  /* A pipe, written by the fd writer and read by the fd reader. */
  int fds[2];
  CHECK(pipe(fds) == 0);
  cflight_ipc_writer *w;
  CHECK_OK(cflight_ipc_writer_open_fd(fds[1], CFLIGHT_IPC_FORMAT_STREAM, s, NULL, &w, &err), &err);
  CHECK_OK(cflight_ipc_writer_write(w, b, &err), &err);
  CHECK_OK(cflight_ipc_writer_close(w, &err), &err);
  cflight_ipc_writer_free(w);
  close(fds[1]);
  struct ArrowArrayStream st;
  CHECK_OK(cflight_ipc_stream_open_fd(fds[0], NULL, &st, &err), &err);
  struct ArrowArray a;
  CHECK_EQ_INT(st.get_next(&st, &a), 0);
  CHECK(a.release != NULL);
  if (a.release != NULL) CHECK_OK(cflight_array_equal(s, b, &a, &err), &err);
  cf_array_release(&a);
  CHECK_EQ_INT(st.get_next(&st, &a), 0);
  CHECK(a.release == NULL);
  st.release(&st);
  close(fds[0]);
  tu_array_free(b);
  tu_schema_free(s);
}

static void test_compare_and_validate(void) {
  /* equal reports the first difference with its path. */
  struct ArrowSchema *f[] = {
      tu_field("+l", "b", tu_field("+s", "item", tu_field("i", "x", NULL), NULL), NULL)};
  struct ArrowSchema *s = batch_schema(f, 1);
  int64_t cl = tu_list_child_len(N);
  int32_t *vals = calloc((size_t)cl, 4);
  for (int64_t i = 0; i < cl; i++)
    vals[i] = (int32_t)i;
  struct ArrowArray *c1[] = {
      tu_list(N, 4, tu_struct(cl, 0, tu_prim_values(cl, 4, vals, 0), NULL), 0)};
  vals[17] = 6;
  struct ArrowArray *c2[] = {
      tu_list(N, 4, tu_struct(cl, 0, tu_prim_values(cl, 4, vals, 0), NULL), 0)};
  struct ArrowArray *a = batch(N, c1, 1), *b = batch(N, c2, 1);
  cflight_error err = {0};
  CHECK_EQ_INT(cflight_array_equal(s, a, b, &err), CFLIGHT_INVALID_DATA);
  CHECK_MSG(strstr(err.message, "column 'b'[") != NULL && strstr(err.message, "child 'x'") &&
                strstr(err.message, "17 != 6") != NULL,
            "message: %s", err.message);
  CHECK_OK(cflight_array_validate(s, a, true, &err), &err);
  /* Break an offset: full validation notices, structure alone does not. */
  int32_t *offs = (int32_t *)a->children[0]->buffers[1];
  offs[5] = offs[6] + 1;
  CHECK_OK(cflight_array_validate(s, a, false, &err), &err);
  CHECK_EQ_INT(cflight_array_validate(s, a, true, &err), CFLIGHT_INVALID_DATA);
  CHECK_MSG(strstr(err.message, "column 'b'") != NULL, "%s", err.message);
  free(vals);
  tu_array_free(a);
  tu_array_free(b);
  tu_schema_free(s);
}

int main(void) {
  RUN_TEST(test_primitives);
  RUN_TEST(test_binary);
  RUN_TEST(test_nested);
  RUN_TEST(test_child_offsets);
  RUN_TEST(test_dictionaries);
  RUN_TEST(test_nested_dictionaries);
  RUN_TEST(test_dictionary_deltas_all_types);
  RUN_TEST(test_shared_dictionary);
  RUN_TEST(test_empty);
  RUN_TEST(test_metadata);
  RUN_TEST(test_message_api);
  RUN_TEST(test_schema_bytes);
  RUN_TEST(test_files_and_fds);
  RUN_TEST(test_compare_and_validate);
  return cft_finish();
}
