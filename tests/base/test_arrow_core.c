/* Format strings, array and schema ownership, shared arrays, metadata. */
#include "arrow/arrow.h"
#include "harness.h"

static void roundtrip_format(const char *format) {
  cf_type t;
  char buf[512];
  cflight_error err = {0};
  CHECK_OK(cf_type_parse(format, &t, &err), &err);
  CHECK_OK(cf_type_format(&t, buf, sizeof(buf), &err), &err);
  CHECK_EQ_STR(buf, format);
}

static void test_formats(void) {
  const char *formats[] = {"n",           "b",           "c",
                           "C",           "s",           "S",
                           "i",           "I",           "l",
                           "L",           "e",           "f",
                           "g",           "z",           "Z",
                           "u",           "U",           "vz",
                           "vu",          "w:16",        "d:10,2,32",
                           "d:18,-3,64",  "d:38,10,128", "d:76,20,256",
                           "tdD",         "tdm",         "tts",
                           "ttm",         "ttu",         "ttn",
                           "tss:",        "tsn:UTC",     "tsu:Europe/Paris",
                           "tDs",         "tDn",         "tiM",
                           "tiD",         "tin",         "+l",
                           "+L",          "+w:3",        "+vl",
                           "+vL",         "+s",          "+m",
                           "+ud:0,5,127", "+us:",        "+r"};
  for (size_t i = 0; i < CF_ARRAY_SIZE(formats); i++)
    roundtrip_format(formats[i]);
  cf_type t;
  cflight_error err = {0};
  CHECK_OK(cf_type_parse("d:19,4", &t, &err), &err);
  CHECK_EQ_INT(t.id, CF_DECIMAL128);
  const char *bad[] = {"",     "x",      "d:1",     "d:1,2,99", "w:",  "w:-1", "ts",
                       "tsx:", "+ud:1,", "+ud:128", "+w:",      "tiX", "vx"};
  for (size_t i = 0; i < CF_ARRAY_SIZE(bad); i++) {
    CHECK_MSG(cf_type_parse(bad[i], &t, &err) == CFLIGHT_INVALID_ARGUMENT, "accepted '%s'", bad[i]);
  }
  CHECK_EQ_INT(cf_type_parse(NULL, &t, &err), CFLIGHT_INVALID_ARGUMENT);
}

static void test_array_ownership(void) {
  cflight_error err = {0};
  struct ArrowArray a;
  CHECK_OK(cf_array_init(&a, 2, 2, &err), &err);
  int64_t *values = cf_array_alloc_buffer(&a, 1, 3 * sizeof(int64_t), &err);
  values[0] = 1;
  a.length = 3;
  for (int i = 0; i < 2; i++) {
    CHECK_OK(cf_array_init(a.children[i], 1, 0, &err), &err);
    cflight_buffer *b = cflight_buffer_copy("abcdefgh", 8);
    cf_array_set_buffer(a.children[i], 0, b, cflight_buffer_data(b) + 2);
  }
  struct ArrowArray *dict = cf_array_alloc_dictionary(&a, &err);
  CHECK_OK(cf_array_init(dict, 0, 0, &err), &err);

  /* A consumer may move a child out and release it after the parent. */
  struct ArrowArray moved;
  cf_array_move(a.children[1], &moved);
  cf_shared_array *sh = cf_shared_array_new(&a);
  CHECK(a.release == NULL);
  struct ArrowArray e1, e2;
  CHECK_OK(cf_shared_array_export(sh, cf_shared_array_get(sh), &e1, &err), &err);
  CHECK_OK(cf_shared_array_export(sh, cf_shared_array_get(sh)->children[0], &e2, &err), &err);
  cf_shared_array_unref(sh);
  CHECK_EQ_INT(((const int64_t *)e1.buffers[1])[0], 1);
  CHECK(e1.dictionary != NULL && e1.dictionary->release != NULL);
  struct ArrowArray e1child;
  cf_array_move(e1.children[0], &e1child);
  cf_array_release(&e1);
  CHECK(memcmp(e1child.buffers[0], "cdef", 4) == 0);
  cf_array_release(&e1child);
  cf_array_release(&e2);
  CHECK(memcmp(moved.buffers[0], "cdef", 4) == 0);
  cf_array_release(&moved);
}

static void test_schema(void) {
  cflight_error err = {0};
  struct ArrowSchema s, copy;
  CHECK_OK(cf_schema_init(&s, "+s", NULL, 2, &err), &err);
  CHECK_OK(cf_schema_init(s.children[0], "i", "a", 0, &err), &err);
  CHECK_OK(cf_schema_init(s.children[1], "c", "b", 0, &err), &err);
  struct ArrowSchema *dict = cf_schema_alloc_dictionary(s.children[1], &err);
  CHECK_OK(cf_schema_init(dict, "u", NULL, 0, &err), &err);
  cf_kv kvs[2] = {{"k1", 2, "v1", 2}, {"ARROW:extension:name", 20, "uuid", 4}};
  char *md;
  CHECK_OK(cf_metadata_build(kvs, 2, &md, &err), &err);
  CHECK_OK(cf_schema_set_metadata(s.children[0], md, &err), &err);
  free(md);
  CHECK_OK(cf_schema_validate(&s, &err), &err);
  CHECK_OK(cf_schema_copy(&s, &copy, &err), &err);
  cf_schema_release(&s);
  CHECK_EQ_STR(copy.children[0]->name, "a");
  CHECK_EQ_STR(copy.children[1]->dictionary->format, "u");
  cf_kv kv;
  CHECK(cf_metadata_get(copy.children[0]->metadata, "ARROW:extension:name", &kv));
  CHECK(kv.value_len == 4 && memcmp(kv.value, "uuid", 4) == 0);
  CHECK_EQ_INT(cf_metadata_count(copy.children[0]->metadata), 2);
  cf_schema_release(&copy);

  /* A map whose child is not a two-field struct is refused. */
  CHECK_OK(cf_schema_init(&s, "+m", "m", 1, &err), &err);
  CHECK_OK(cf_schema_init(s.children[0], "i", "entries", 0, &err), &err);
  CHECK_EQ_INT(cf_schema_validate(&s, &err), CFLIGHT_INVALID_ARGUMENT);
  cf_schema_release(&s);
}

static int countdown_next(void *ctx, struct ArrowArray *out, cflight_error *err) {
  int *left = ctx;
  if (*left == 0) return CFLIGHT_OK;
  if (*left < 0) return cflight_error_set(err, CFLIGHT_INVALID_DATA, "broken");
  (*left)--;
  CF_RETURN_NOT_OK(cf_array_init(out, 0, 0, err));
  out->length = 1;
  return CFLIGHT_OK;
}

static void test_stream(void) {
  cflight_error err = {0};
  struct ArrowSchema s, got;
  struct ArrowArrayStream st;
  int *left = malloc(sizeof(int));
  *left = 2;
  CHECK_OK(cf_schema_init(&s, "n", "x", 0, &err), &err);
  CHECK_OK(cf_stream_init(&st, &s, (cf_stream_source){countdown_next, free, left}, &err), &err);
  CHECK_EQ_INT(st.get_schema(&st, &got), 0);
  CHECK_EQ_STR(got.format, "n");
  cf_schema_release(&got);
  int batches = 0;
  struct ArrowArray a;
  while (st.get_next(&st, &a) == 0 && a.release != NULL) {
    batches++;
    cf_array_release(&a);
  }
  CHECK_EQ_INT(batches, 2);
  st.release(&st);
}

int main(void) {
  RUN_TEST(test_formats);
  RUN_TEST(test_array_ownership);
  RUN_TEST(test_schema);
  RUN_TEST(test_stream);
  return cft_finish();
}
