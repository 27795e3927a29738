/* The integration JSON layer on its own (no IPC): every gold JSON reads, and
 * JSON -> arrays -> JSON -> arrays -> JSON reaches a fixed point with the
 * same schema; exact number conversions; exact buffer layouts for small
 * hand-written files; dictionary deltas; clear errors for malformed files. */
#include <math.h>

#include "gold_cases.h"
#include "integration.h"

/* ---- Helpers ------------------------------------------------------------------ */

static char *json_of(cf_json_file *f, cflight_error *err) {
  cf_json_writer *w;
  char *text = NULL;
  size_t size;
  if (cf_json_writer_new(cf_json_file_schema(f), &w, err) != CFLIGHT_OK) return NULL;
  for (int64_t i = 0; i < cf_json_file_num_batches(f); i++) {
    struct ArrowArray b;
    if (cf_json_file_batch(f, i, &b, err) != CFLIGHT_OK) goto out;
    int rc = cf_json_writer_write(w, &b, err);
    cf_array_release(&b);
    if (rc != CFLIGHT_OK) goto out;
  }
  cf_json_writer_finish(w, &text, &size, err);
out:
  cf_json_writer_free(w);
  return text;
}

static cf_json_file *parse(const char *text, cflight_error *err) {
  cf_json_file *f = NULL;
  cf_json_file_parse(text, strlen(text), "test.json", &f, err);
  return f;
}

/* ---- Gold files ------------------------------------------------------------------ */

static void test_gold_fixed_point(void) {
  size_t n;
  gold_case *cases = gold_cases(&n);
  CHECK(n >= 37);
  for (size_t i = 0; i < n; i++) {
    cflight_error err = {0};
    cf_json_file *a = NULL, *b = NULL;
    char *text_b = NULL, *text_c = NULL;
    const char *path = gold_path(&cases[i], ".json.gz");
    if (cf_json_file_read(path, &a, &err) != CFLIGHT_OK) {
      CHECK_MSG(false, "%s: %s", cases[i].name, err.message);
      continue;
    }
    text_b = json_of(a, &err);
    CHECK_MSG(text_b != NULL, "%s: writing: %s", cases[i].name, err.message);
    if (text_b != NULL) b = parse(text_b, &err);
    CHECK_MSG(b != NULL, "%s: re-reading our JSON: %s", cases[i].name, err.message);
    if (b != NULL) {
      CHECK_OK(cf_schema_equal(cf_json_file_schema(a), cf_json_file_schema(b), &err), &err);
      CHECK_EQ_INT(cf_json_file_num_batches(a), cf_json_file_num_batches(b));
      text_c = json_of(b, &err);
      CHECK_MSG(text_c != NULL && strcmp(text_b, text_c) == 0,
                "%s: JSON -> arrays -> JSON is "
                "not a fixed point",
                cases[i].name);
    }
    free(text_b);
    free(text_c);
    cf_json_file_free(a);
    cf_json_file_free(b);
  }
  free(cases);
}

/* The stream view of a file yields its schema and batches, then the end. */
static void test_stream(void) {
  cflight_error err = {0};
  cf_json_file *f;
  char path[4200];
  snprintf(path, sizeof(path), "%s",
           cft_data_path("arrow-ipc-stream/integration/cpp-21.0.0/generated_primitive.json.gz"));
  CHECK_OK(cf_json_file_read(path, &f, &err), &err);
  if (f == NULL) return;
  int64_t n = cf_json_file_num_batches(f);
  struct ArrowArrayStream st;
  CHECK_OK(cf_json_file_to_stream(f, &st, &err), &err);
  struct ArrowSchema s;
  CHECK_EQ_INT(st.get_schema(&st, &s), 0);
  CHECK_EQ_STR(s.format, "+s");
  cf_schema_release(&s);
  int64_t got = 0;
  for (;;) {
    struct ArrowArray b;
    CHECK_EQ_INT(st.get_next(&st, &b), 0);
    if (b.release == NULL) break;
    got++;
    cf_array_release(&b);
  }
  CHECK_EQ_INT(got, n);
  st.release(&st);
}

/* ---- Numbers ----------------------------------------------------------------------- */

static void check_decimal(const char *s, int bits, const char *hex_le) {
  cflight_error err = {0};
  uint8_t out[32], want[32];
  size_t n = strlen(hex_le) / 2;
  for (size_t i = 0; i < n; i++)
    sscanf(hex_le + 2 * i, "%2hhx", &want[i]);
  CHECK_OK(cf_decimal_from_string(s, strlen(s), bits, out, &err), &err);
  CHECK_MSG(memcmp(out, want, n) == 0, "decimal%d '%s' has the wrong bytes", bits, s);
  char back[96];
  const char *canon = s[0] == '+' ? s + 1 : s;
  CHECK(cf_decimal_to_string(out, bits, back, sizeof(back)) > 0);
  CHECK_EQ_STR(back, canon);
}

static void test_decimals(void) {
  check_decimal("0", 128, "00000000000000000000000000000000");
  check_decimal("-1", 128, "ffffffffffffffffffffffffffffffff");
  check_decimal("18446744073709551616", 128, "00000000000000000100000000000000");
  check_decimal("170141183460469231731687303715884105727", 128, "ffffffffffffffffffffffffffffff7f");
  check_decimal("-170141183460469231731687303715884105728", 128,
                "00000000000000000000000000000080");
  check_decimal("2147483647", 32, "ffffff7f");
  check_decimal("-2147483648", 32, "00000080");
  check_decimal("-9223372036854775808", 64, "0000000000000080");
  check_decimal("57896044618658097711785492504343953926634992332820282019728792003956564819967",
                256, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  check_decimal("-57896044618658097711785492504343953926634992332820282019728792003956564819968",
                256, "0000000000000000000000000000000000000000000000000000000000000080");
  check_decimal("-12345", 256, "c7cfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");

  const struct {
    const char *s;
    int bits;
  } bad[] = {
      {"", 128},
      {"-", 128},
      {"+", 64},
      {"1.5", 128},
      {"12a", 128},
      {" 1", 128},
      {"2147483648", 32},
      {"-2147483649", 32},
      {"9223372036854775808", 64},
      {"170141183460469231731687303715884105728", 128},
      {"-170141183460469231731687303715884105729", 128},
      {"999999999999999999999999999999999999999999999999999999999999999999999999999999", 256},
      {"1", 100},
  };
  for (size_t i = 0; i < CF_ARRAY_SIZE(bad); i++) {
    uint8_t out[32];
    cflight_error err = {0};
    CHECK_MSG(cf_decimal_from_string(bad[i].s, strlen(bad[i].s), bad[i].bits, out, &err) ==
                  CFLIGHT_INVALID_ARGUMENT,
              "accepted decimal%d '%s'", bad[i].bits, bad[i].s);
  }

  /* Random 64-bit values agree with printf, and every width round-trips. */
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 2000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    char want[32], got[96];
    snprintf(want, sizeof(want), "%lld", (long long)(int64_t)x);
    CHECK(cf_decimal_to_string((const uint8_t *)&x, 64, got, sizeof(got)) > 0);
    CHECK_EQ_STR(got, want);
    uint64_t limbs[4] = {x, x * 31, x ^ 0x5555, (x >> 3) | ((i & 1) ? 0x8000000000000000ull : 0)};
    for (int bits = 128; bits <= 256; bits += 128) {
      uint8_t back[32];
      cflight_error err = {0};
      CHECK(cf_decimal_to_string((const uint8_t *)limbs, bits, got, sizeof(got)) > 0);
      CHECK_OK(cf_decimal_from_string(got, strlen(got), bits, back, &err), &err);
      CHECK(memcmp(back, limbs, (size_t)bits / 8) == 0);
    }
  }
}

static void test_half_floats(void) {
  CHECK_EQ_INT(cf_half_from_float(1.0f), 0x3c00);
  CHECK_EQ_INT(cf_half_from_float(-2.0f), 0xc000);
  CHECK_EQ_INT(cf_half_from_float(65504.0f), 0x7bff);
  CHECK_EQ_INT(cf_half_from_float(65520.0f), 0x7c00); /* rounds up to infinity */
  CHECK_EQ_INT(cf_half_from_float(ldexpf(1, -24)), 0x0001);
  CHECK_EQ_INT(cf_half_from_float(ldexpf(1, -25)), 0x0000);        /* a tie, to even */
  CHECK_EQ_INT(cf_half_from_float(ldexpf(3, -25)), 0x0002);        /* a tie, to even */
  CHECK_EQ_INT(cf_half_from_float(1.0f + ldexpf(1, -11)), 0x3c00); /* a tie, to even */
  CHECK_EQ_INT(cf_half_from_float(INFINITY), 0x7c00);
  CHECK(isnan(cf_half_to_float(cf_half_from_float(NAN))));
  for (uint32_t h = 0; h < 0x10000; h++) {
    float f = cf_half_to_float((uint16_t)h);
    if (isnan(f)) continue;
    CHECK_MSG(cf_half_from_float(f) == h, "half 0x%04x does not round-trip", h);
  }
}

static void test_float_format(void) {
  char buf[40];
  cf_format_double(0.1, false, buf, sizeof(buf));
  CHECK_EQ_STR(buf, "0.1");
  cf_format_double(1.0, false, buf, sizeof(buf));
  CHECK_EQ_STR(buf, "1.0");
  cf_format_double(-0.0, false, buf, sizeof(buf));
  CHECK_EQ_STR(buf, "-0.0");
  cf_format_double(362.493f, true, buf, sizeof(buf));
  CHECK_EQ_STR(buf, "362.493");
  cf_format_double(5e-324, false, buf, sizeof(buf));
  CHECK(strtod(buf, NULL) == 5e-324);
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 20000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    double d;
    memcpy(&d, &x, 8);
    if (!isfinite(d)) continue;
    cf_format_double(d, false, buf, sizeof(buf));
    CHECK_MSG(strtod(buf, NULL) == d, "%s does not read back as %.17g", buf, d);
    float f;
    uint32_t y = (uint32_t)x;
    memcpy(&f, &y, 4);
    if (!isfinite(f)) continue;
    cf_format_double(f, true, buf, sizeof(buf));
    CHECK_MSG(strtof(buf, NULL) == f && (float)strtod(buf, NULL) == f, "%s is not float %.9g", buf,
              (double)f);
  }
}

/* ---- Exact layouts ---------------------------------------------------------------------- */

#define INT32 "{\"name\": \"int\", \"bitWidth\": 32, \"isSigned\": true}"
#define ITEM "{\"name\": \"item\", \"type\": " INT32 ", \"nullable\": true, \"children\": []}"
#define INT32_TYPE "{\"name\": \"int\", \"bitWidth\": 32, \"isSigned\": true}"
#define FIELD(name, type, extra) \
  "{\"name\": \"" name "\", \"type\": " type ", \"nullable\": true, \"children\": []" extra "}"

static const char *values_json =
    "{\"schema\": {\"fields\": ["                                                             //
    FIELD("bv", "{\"name\": \"binaryview\"}", "") ","                                         //
    FIELD("d", "{\"name\": \"decimal\", \"precision\": 5, \"scale\": 1}", "") ","              //
    FIELD("mdn", "{\"name\": \"interval\", \"unit\": \"MONTH_DAY_NANO\"}", "") ","             //
    FIELD("h", "{\"name\": \"floatingpoint\", \"precision\": \"HALF\"}", "") ","               //
    FIELD("u", "{\"name\": \"int\", \"bitWidth\": 64, \"isSigned\": false}", "") ","           //
    FIELD("s", "{\"name\": \"utf8\"}", "") "],"                                               //
    "\"metadata\": [{\"key\": \"k\", \"value\": \"v\"}]},"                                    //
    "\"batches\": [{\"count\": 2, \"columns\": ["                                             //
    "{\"name\": \"bv\", \"count\": 2, \"VALIDITY\": [1, 1],"                                  //
    " \"VIEWS\": [{\"SIZE\": 3, \"INLINED\": \"ABCDEF\"},"                                    //
    "  {\"SIZE\": 13, \"PREFIX_HEX\": \"01020304\", \"BUFFER_INDEX\": 1, \"OFFSET\": 2}],"     //
    " \"VARIADIC_DATA_BUFFERS\": [\"\", \"00000102030405060708090A0B0C0D\"]},"                //
    "{\"name\": \"d\", \"count\": 2, \"VALIDITY\": [1, 0], \"DATA\": [\"-2\", \"0\"]},"        //
    "{\"name\": \"mdn\", \"count\": 2, \"VALIDITY\": [1, 0],"                                 //
    " \"DATA\": [{\"months\": 1, \"days\": -2, \"nanoseconds\": \"-3\"}, {}]},"               //
    "{\"name\": \"h\", \"count\": 2, \"VALIDITY\": [1, 1], \"DATA\": [1.5, \"-Infinity\"]},"  //
    "{\"name\": \"u\", \"count\": 2, \"VALIDITY\": [1, 1],"                                   //
    " \"DATA\": [\"18446744073709551615\", 7]},"                                              //
    "{\"name\": \"s\", \"count\": 2, \"VALIDITY\": [1, 1], \"OFFSET\": [5, 6, 8],"            //
    " \"DATA\": [\"a\", \"\\u00e9\"]}"                                                        //
    "]}]}";

static void test_exact_layouts(void) {
  cflight_error err = {0};
  cf_json_file *f = parse(values_json, &err);
  CHECK_MSG(f != NULL, "%s", err.message);
  if (f == NULL) return;
  const struct ArrowSchema *s = cf_json_file_schema(f);
  CHECK_EQ_STR(s->children[1]->format, "d:5,1,128");
  CHECK_EQ_STR(s->children[2]->format, "tin");
  CHECK_EQ_INT(cf_metadata_count(s->metadata), 1);
  struct ArrowArray b;
  CHECK_OK(cf_json_file_batch(f, 0, &b, &err), &err);
  if (b.release == NULL) {
    cf_json_file_free(f);
    return;
  }
  /* Binary view: an inline view and one into the second variadic buffer. */
  const struct ArrowArray *bv = b.children[0];
  CHECK_EQ_INT(bv->n_buffers, 5);
  CHECK(bv->buffers[0] == NULL); /* no nulls: no bitmap */
  const uint8_t *views = bv->buffers[1];
  const uint8_t inline_view[16] = {3, 0, 0, 0, 0xAB, 0xCD, 0xEF};
  const uint8_t ref_view[16] = {13, 0, 0, 0, 1, 2, 3, 4, 1, 0, 0, 0, 2, 0, 0, 0};
  CHECK(memcmp(views, inline_view, 16) == 0);
  CHECK(memcmp(views + 16, ref_view, 16) == 0);
  const int64_t *sizes = bv->buffers[4];
  CHECK_EQ_INT(sizes[0], 0);
  CHECK_EQ_INT(sizes[1], 15);
  CHECK_EQ_INT(((const uint8_t *)bv->buffers[3])[2], 1);
  /* Decimal: two's complement, and the null slot's value kept. */
  const struct ArrowArray *d = b.children[1];
  CHECK_EQ_INT(d->null_count, 1);
  const uint8_t *dv = d->buffers[1];
  CHECK_EQ_INT(dv[0], 0xFE);
  CHECK_EQ_INT(dv[15], 0xFF);
  CHECK_EQ_INT(dv[16], 0);
  /* Month-day-nano: int32, int32, int64; {} is zeros. */
  const uint8_t *mdn = b.children[2]->buffers[1];
  int32_t months, days;
  int64_t nanos;
  memcpy(&months, mdn, 4);
  memcpy(&days, mdn + 4, 4);
  memcpy(&nanos, mdn + 8, 8);
  CHECK_EQ_INT(months, 1);
  CHECK_EQ_INT(days, -2);
  CHECK_EQ_INT(nanos, -3);
  /* Half floats. */
  const uint16_t *h = b.children[3]->buffers[1];
  CHECK_EQ_INT(h[0], 0x3e00);
  CHECK_EQ_INT(h[1], 0xfc00);
  /* uint64 beyond int64. */
  const uint64_t *u = b.children[4]->buffers[1];
  CHECK(u[0] == UINT64_MAX);
  CHECK(u[1] == 7);
  /* Offsets not starting at 0 are rebased. */
  const int32_t *offs = b.children[5]->buffers[1];
  CHECK_EQ_INT(offs[0], 0);
  CHECK_EQ_INT(offs[2], 3);
  CHECK(memcmp(b.children[5]->buffers[2], "a\xc3\xa9", 3) == 0);
  cf_array_release(&b);

  /* Written back: non-finite floats as strings, uint64 as strings. */
  char *text = json_of(f, &err);
  CHECK(text != NULL);
  if (text != NULL) {
    CHECK(strstr(text, "\"-Infinity\"") != NULL);
    CHECK(strstr(text, "\"18446744073709551615\"") != NULL);
    CHECK(strstr(text, "\"PREFIX_HEX\": \"01020304\"") != NULL);
    CHECK(strstr(text, "\"nanoseconds\": -3") != NULL);
  }
  free(text);
  cf_json_file_free(f);
}

/* Dictionaries: attached by id, shared between fields, deltas appended. */
static void test_dictionaries(void) {
  const char *doc =
      "{\"schema\": {\"fields\": ["
      "{\"name\": \"a\", \"type\": {\"name\": \"utf8\"}, \"nullable\": true, \"children\": [],"
      " \"dictionary\": {\"id\": 7, \"indexType\": {\"name\": \"int\", \"bitWidth\": 8, "
      "\"isSigned\": true}, \"isOrdered\": true}},"
      "{\"name\": \"b\", \"type\": {\"name\": \"utf8\"}, \"nullable\": false, \"children\": [],"
      " \"dictionary\": {\"id\": 7, \"indexType\": {\"name\": \"int\", \"bitWidth\": 32, "
      "\"isSigned\": false}, \"isOrdered\": false}}]},"
      "\"dictionaries\": ["
      "{\"id\": 7, \"data\": {\"count\": 2, \"columns\": [{\"name\": \"x\", \"count\": 2, "
      "\"VALIDITY\": [1, 1], \"OFFSET\": [0, 1, 2], \"DATA\": [\"p\", \"q\"]}]}},"
      "{\"id\": 7, \"isDelta\": true, \"data\": {\"count\": 1, \"columns\": [{\"name\": \"x\", "
      "\"count\": 1, \"VALIDITY\": [1], \"OFFSET\": [0, 2], \"DATA\": [\"rs\"]}]}}],"
      "\"batches\": [{\"count\": 3, \"columns\": ["
      "{\"name\": \"a\", \"count\": 3, \"VALIDITY\": [1, 0, 1], \"DATA\": [2, 99, 0]},"
      "{\"name\": \"b\", \"count\": 3, \"VALIDITY\": [1, 1, 1], \"DATA\": [1, 2, 0]}]}]}";
  cflight_error err = {0};
  cf_json_file *f = parse(doc, &err);
  CHECK_MSG(f != NULL, "%s", err.message);
  if (f == NULL) return;
  const struct ArrowSchema *s = cf_json_file_schema(f);
  CHECK_EQ_STR(s->children[0]->format, "c");
  CHECK_EQ_STR(s->children[0]->dictionary->format, "u");
  CHECK(s->children[0]->flags & ARROW_FLAG_DICTIONARY_ORDERED);
  CHECK_EQ_STR(s->children[1]->format, "I");
  CHECK(!(s->children[1]->flags & ARROW_FLAG_NULLABLE));
  struct ArrowArray b;
  CHECK_OK(cf_json_file_batch(f, 0, &b, &err), &err);
  for (int i = 0; i < 2 && b.release != NULL; i++) {
    const struct ArrowArray *dict = b.children[i]->dictionary;
    CHECK(dict != NULL);
    if (dict == NULL) continue;
    CHECK_EQ_INT(dict->length, 3);
    CHECK(memcmp(dict->buffers[2], "pqrs", 4) == 0);
  }
  cf_array_release(&b);
  /* The writer gives each field its own id and writes the whole (delta'd) dictionary. */
  char *text = json_of(f, &err);
  CHECK(text != NULL);
  cf_json_file *g = text ? parse(text, &err) : NULL;
  CHECK_MSG(g != NULL, "%s", err.message);
  if (g != NULL) {
    CHECK_OK(cf_schema_equal(s, cf_json_file_schema(g), &err), &err);
    CHECK(strstr(text, "\"isOrdered\": true") != NULL);
  }
  free(text);
  cf_json_file_free(g);
  cf_json_file_free(f);
}

/* A dictionary given as an entry plus deltas reads as the same dictionary
 * given whole: for offsets, views, nested lists and dense unions, the delta's
 * offsets, buffer indices and child offsets are shifted. */
static void test_dictionary_deltas(void) {
  const char *schema =
      "{\"schema\": {\"fields\": [{\"name\": \"f\", \"type\": %s, \"nullable\": true, "
      "\"children\": [%s], \"dictionary\": {\"id\": 0, \"indexType\": " INT32_TYPE
      ", \"isOrdered\": false}}]}, \"dictionaries\": [%s], \"batches\": [{\"count\": 1, "
      "\"columns\": [{\"name\": \"f\", \"count\": 1, \"VALIDITY\": [1], \"DATA\": [%d]}]}]}";
  const char *entry = "{\"id\": 0, %s\"data\": {\"count\": %d, \"columns\": [%s]}}";
  const struct {
    const char *type, *children;
    const char *a, *b, *whole; /* FieldData */
    int na, nb;
  } cases[] = {
      {"{\"name\": \"utf8\"}", "",
       "{\"name\": \"d\", \"count\": 2, \"VALIDITY\": [1, 0], \"OFFSET\": [0, 2, 2], "
       "\"DATA\": [\"ab\", \"\"]}",
       "{\"name\": \"d\", \"count\": 1, \"VALIDITY\": [1], \"OFFSET\": [3, 6], \"DATA\": "
       "[\"cde\"]}",
       "{\"name\": \"d\", \"count\": 3, \"VALIDITY\": [1, 0, 1], \"OFFSET\": [0, 2, 2, 5], "
       "\"DATA\": [\"ab\", \"\", \"cde\"]}",
       2, 1},
      {"{\"name\": \"binaryview\"}", "",
       "{\"name\": \"d\", \"count\": 1, \"VALIDITY\": [1], \"VIEWS\": [{\"SIZE\": 13, "
       "\"PREFIX_HEX\": \"00010203\", \"BUFFER_INDEX\": 0, \"OFFSET\": 0}], "
       "\"VARIADIC_DATA_BUFFERS\": [\"000102030405060708090A0B0C\"]}",
       "{\"name\": \"d\", \"count\": 2, \"VALIDITY\": [1, 1], \"VIEWS\": [{\"SIZE\": 13, "
       "\"PREFIX_HEX\": \"FF010203\", \"BUFFER_INDEX\": 0, \"OFFSET\": 0}, {\"SIZE\": 1, "
       "\"INLINED\": \"AA\"}], \"VARIADIC_DATA_BUFFERS\": [\"FF0102030405060708090A0B0C\"]}",
       "{\"name\": \"d\", \"count\": 3, \"VALIDITY\": [1, 1, 1], \"VIEWS\": [{\"SIZE\": 13, "
       "\"PREFIX_HEX\": \"00010203\", \"BUFFER_INDEX\": 0, \"OFFSET\": 0}, {\"SIZE\": 13, "
       "\"PREFIX_HEX\": \"FF010203\", \"BUFFER_INDEX\": 1, \"OFFSET\": 0}, {\"SIZE\": 1, "
       "\"INLINED\": \"AA\"}], \"VARIADIC_DATA_BUFFERS\": [\"000102030405060708090A0B0C\", "
       "\"FF0102030405060708090A0B0C\"]}",
       1, 2},
      {"{\"name\": \"list\"}", ITEM,
       "{\"name\": \"d\", \"count\": 1, \"VALIDITY\": [1], \"OFFSET\": [0, 2], \"children\": "
       "[{\"name\": \"item\", \"count\": 2, \"VALIDITY\": [1, 1], \"DATA\": [1, 2]}]}",
       "{\"name\": \"d\", \"count\": 1, \"VALIDITY\": [1], \"OFFSET\": [0, 1], \"children\": "
       "[{\"name\": \"item\", \"count\": 1, \"VALIDITY\": [1], \"DATA\": [3]}]}",
       "{\"name\": \"d\", \"count\": 2, \"VALIDITY\": [1, 1], \"OFFSET\": [0, 2, 3], "
       "\"children\": [{\"name\": \"item\", \"count\": 3, \"VALIDITY\": [1, 1, 1], \"DATA\": "
       "[1, 2, 3]}]}",
       1, 1},
      {"{\"name\": \"union\", \"mode\": \"DENSE\", \"typeIds\": [3]}", ITEM,
       "{\"name\": \"d\", \"count\": 1, \"TYPE_ID\": [3], \"OFFSET\": [0], \"children\": "
       "[{\"name\": \"item\", \"count\": 1, \"VALIDITY\": [1], \"DATA\": [7]}]}",
       "{\"name\": \"d\", \"count\": 1, \"TYPE_ID\": [3], \"OFFSET\": [0], \"children\": "
       "[{\"name\": \"item\", \"count\": 1, \"VALIDITY\": [1], \"DATA\": [8]}]}",
       "{\"name\": \"d\", \"count\": 2, \"TYPE_ID\": [3, 3], \"OFFSET\": [0, 1], "
       "\"children\": [{\"name\": \"item\", \"count\": 2, \"VALIDITY\": [1, 1], \"DATA\": "
       "[7, 8]}]}",
       1, 1},
  };
  for (size_t i = 0; i < CF_ARRAY_SIZE(cases); i++) {
    char e1[2048], e2[2048], whole[2048], both[4200], doc1[8192], doc2[8192];
    snprintf(e1, sizeof(e1), entry, "", cases[i].na, cases[i].a);
    snprintf(e2, sizeof(e2), entry, "\"isDelta\": true, ", cases[i].nb, cases[i].b);
    snprintf(both, sizeof(both), "%s, %s", e1, e2);
    snprintf(whole, sizeof(whole), entry, "", cases[i].na + cases[i].nb, cases[i].whole);
    int last = cases[i].na + cases[i].nb - 1; /* the batch points at the delta's last value */
    snprintf(doc1, sizeof(doc1), schema, cases[i].type, cases[i].children, both, last);
    snprintf(doc2, sizeof(doc2), schema, cases[i].type, cases[i].children, whole, last);
    cflight_error err = {0};
    cf_json_file *f1 = parse(doc1, &err);
    CHECK_MSG(f1 != NULL, "delta case %zu: %s", i, err.message);
    cf_json_file *f2 = parse(doc2, &err);
    CHECK_MSG(f2 != NULL, "delta case %zu, whole: %s", i, err.message);
    char *t1 = f1 ? json_of(f1, &err) : NULL, *t2 = f2 ? json_of(f2, &err) : NULL;
    CHECK_MSG(t1 != NULL && t2 != NULL && strcmp(t1, t2) == 0, "delta case %zu differs:\n%s\n%s", i,
              t1 ? t1 : "(null)", t2 ? t2 : "(null)");
    free(t1);
    free(t2);
    cf_json_file_free(f1);
    cf_json_file_free(f2);
  }
}

/* The writer keeps one dictionary per field: a later batch may extend it
 * (a delta) but not replace it, which the JSON format cannot express. */
static void test_writer_dictionaries(void) {
  const char *doc =
      "{\"schema\": {\"fields\": [{\"name\": \"f\", \"type\": {\"name\": \"utf8\"}, "
      "\"nullable\": true, \"children\": [], \"dictionary\": {\"id\": 0, \"indexType\": " INT32
      ", \"isOrdered\": false}}]}, \"dictionaries\": [{\"id\": 0, \"data\": {\"count\": %d, "
      "\"columns\": [{\"name\": \"d\", \"count\": %d, \"VALIDITY\": %s, \"OFFSET\": %s, "
      "\"DATA\": %s}]}}], \"batches\": [{\"count\": 1, \"columns\": [{\"name\": \"f\", "
      "\"count\": 1, \"VALIDITY\": [1], \"DATA\": [0]}]}]}";
  char d1[2048], d2[2048], d3[2048];
  snprintf(d1, sizeof(d1), doc, 2, 2, "[1, 1]", "[0, 1, 2]", "[\"a\", \"b\"]");
  snprintf(d2, sizeof(d2), doc, 3, 3, "[1, 1, 1]", "[0, 1, 2, 3]", "[\"a\", \"b\", \"c\"]");
  snprintf(d3, sizeof(d3), doc, 2, 2, "[1, 1]", "[0, 1, 2]", "[\"x\", \"b\"]");
  cflight_error err = {0};
  cf_json_file *f1 = parse(d1, &err), *f2 = parse(d2, &err), *f3 = parse(d3, &err);
  CHECK(f1 != NULL && f2 != NULL && f3 != NULL);
  if (f1 == NULL || f2 == NULL || f3 == NULL) goto out;
  struct ArrowArray b1, b2, b3;
  cf_json_file_batch(f1, 0, &b1, &err);
  cf_json_file_batch(f2, 0, &b2, &err);
  cf_json_file_batch(f3, 0, &b3, &err);
  cf_json_writer *w;
  CHECK_OK(cf_json_writer_new(cf_json_file_schema(f1), &w, &err), &err);
  CHECK_OK(cf_json_writer_write(w, &b1, &err), &err);
  CHECK_OK(cf_json_writer_write(w, &b2, &err), &err); /* a delta: [a, b] + [c] */
  CHECK_EQ_INT(cf_json_writer_write(w, &b1, &err), CFLIGHT_INVALID_ARGUMENT); /* shrinks */
  CHECK(strstr(err.message, "shrank from 3 to 2 values") != NULL);
  char *text;
  size_t size;
  CHECK_OK(cf_json_writer_finish(w, &text, &size, &err), &err);
  CHECK(strstr(text, "\"DATA\": [\"a\", \"b\", \"c\"]") != NULL);
  free(text);
  cf_json_writer_free(w);
  CHECK_OK(cf_json_writer_new(cf_json_file_schema(f1), &w, &err), &err);
  CHECK_OK(cf_json_writer_write(w, &b1, &err), &err);
  CHECK_EQ_INT(cf_json_writer_write(w, &b3, &err), CFLIGHT_INVALID_ARGUMENT); /* a replacement */
  CHECK(strstr(err.message, "batches[1].columns[0](\"f\"): dictionary of field 'f' was replaced") !=
        NULL);
  cf_json_writer_free(w);
  cf_array_release(&b1);
  cf_array_release(&b2);
  cf_array_release(&b3);
out:
  cf_json_file_free(f1);
  cf_json_file_free(f2);
  cf_json_file_free(f3);
}

/* ---- Schema comparison --------------------------------------------------------------------- */

static void test_schema_equal(void) {
  const char *base = "{\"schema\": {\"fields\": [%s], \"metadata\": %s}, \"batches\": []}";
  const char *variants[][2] = {
      /* fields, schema metadata */
      {FIELD("a", "{\"name\": \"timestamp\", \"unit\": \"SECOND\", \"timezone\": \"UTC\"}",
             ", \"metadata\": [{\"key\": \"x\", \"value\": \"1\"}, {\"key\": \"y\", \"value\": "
             "\"2\"}]"),
       "[{\"key\": \"m\", \"value\": \"n\"}]"},
      /* metadata in another order: equal */
      {FIELD("a", "{\"name\": \"timestamp\", \"unit\": \"SECOND\", \"timezone\": \"UTC\"}",
             ", \"metadata\": [{\"key\": \"y\", \"value\": \"2\"}, {\"key\": \"x\", \"value\": "
             "\"1\"}]"),
       "[{\"key\": \"m\", \"value\": \"n\"}]"},
      /* another time zone */
      {FIELD("a", "{\"name\": \"timestamp\", \"unit\": \"SECOND\", \"timezone\": \"UTC+1\"}",
             ", \"metadata\": [{\"key\": \"x\", \"value\": \"1\"}, {\"key\": \"y\", \"value\": "
             "\"2\"}]"),
       "[{\"key\": \"m\", \"value\": \"n\"}]"},
      /* another value */
      {FIELD("a", "{\"name\": \"timestamp\", \"unit\": \"SECOND\", \"timezone\": \"UTC\"}",
             ", \"metadata\": [{\"key\": \"x\", \"value\": \"1\"}, {\"key\": \"y\", \"value\": "
             "\"3\"}]"),
       "[{\"key\": \"m\", \"value\": \"n\"}]"},
      /* another schema metadata */
      {FIELD("a", "{\"name\": \"timestamp\", \"unit\": \"SECOND\", \"timezone\": \"UTC\"}",
             ", \"metadata\": [{\"key\": \"x\", \"value\": \"1\"}, {\"key\": \"y\", \"value\": "
             "\"2\"}]"),
       "null"},
      /* another name */
      {FIELD("b", "{\"name\": \"timestamp\", \"unit\": \"SECOND\", \"timezone\": \"UTC\"}",
             ", \"metadata\": [{\"key\": \"x\", \"value\": \"1\"}, {\"key\": \"y\", \"value\": "
             "\"2\"}]"),
       "[{\"key\": \"m\", \"value\": \"n\"}]"},
  };
  const bool equal_to_first[] = {true, true, false, false, false, false};
  cf_json_file *files[CF_ARRAY_SIZE(variants)];
  for (size_t i = 0; i < CF_ARRAY_SIZE(variants); i++) {
    char doc[2048];
    cflight_error err = {0};
    snprintf(doc, sizeof(doc), base, variants[i][0], variants[i][1]);
    files[i] = parse(doc, &err);
    CHECK_MSG(files[i] != NULL, "variant %zu: %s", i, err.message);
  }
  for (size_t i = 0; i < CF_ARRAY_SIZE(variants); i++) {
    cflight_error err = {0};
    if (files[0] == NULL || files[i] == NULL) continue;
    int rc = cf_schema_equal(cf_json_file_schema(files[0]), cf_json_file_schema(files[i]), &err);
    CHECK_MSG((rc == CFLIGHT_OK) == equal_to_first[i], "variant %zu: %s", i, err.message);
  }
  for (size_t i = 0; i < CF_ARRAY_SIZE(variants); i++)
    cf_json_file_free(files[i]);

  /* Dictionary index type and ordering matter; nullability too. */
  const char *dicts[] = {
      FIELD("d", "{\"name\": \"utf8\"}",
            ", \"dictionary\": {\"id\": 0, \"indexType\": {\"name\": \"int\", \"bitWidth\": 8, "
            "\"isSigned\": true}, \"isOrdered\": false}"),
      FIELD("d", "{\"name\": \"utf8\"}",
            ", \"dictionary\": {\"id\": 5, \"indexType\": {\"name\": \"int\", \"bitWidth\": 8, "
            "\"isSigned\": true}, \"isOrdered\": false}"),
      FIELD("d", "{\"name\": \"utf8\"}",
            ", \"dictionary\": {\"id\": 0, \"indexType\": {\"name\": \"int\", \"bitWidth\": 16, "
            "\"isSigned\": true}, \"isOrdered\": false}"),
      FIELD("d", "{\"name\": \"utf8\"}",
            ", \"dictionary\": {\"id\": 0, \"indexType\": {\"name\": \"int\", \"bitWidth\": 8, "
            "\"isSigned\": true}, \"isOrdered\": true}"),
      FIELD("d", "{\"name\": \"binary\"}",
            ", \"dictionary\": {\"id\": 0, \"indexType\": {\"name\": \"int\", \"bitWidth\": 8, "
            "\"isSigned\": true}, \"isOrdered\": false}"),
      FIELD("d", "{\"name\": \"utf8\"}", ""),
  };
  const bool dict_equal[] = {true, true, false, false, false, false};
  cf_json_file *first = NULL;
  for (size_t i = 0; i < CF_ARRAY_SIZE(dicts); i++) {
    char doc[2048];
    cflight_error err = {0};
    snprintf(doc, sizeof(doc), base, dicts[i], "[]");
    cf_json_file *g = parse(doc, &err);
    CHECK_MSG(g != NULL, "dictionary variant %zu: %s", i, err.message);
    if (i == 0) {
      first = g;
      continue;
    }
    if (g != NULL && first != NULL) {
      int rc = cf_schema_equal(cf_json_file_schema(first), cf_json_file_schema(g), &err);
      CHECK_MSG((rc == CFLIGHT_OK) == dict_equal[i], "dictionary variant %zu: %s", i, err.message);
    }
    cf_json_file_free(g);
  }
  cf_json_file_free(first);

  /* A map's entries and key/value names are not part of its type. */
  const char *maps[] = {"entries", "key", "value", "some_entries", "k", "v"};
  cf_json_file *m[2];
  for (int i = 0; i < 2; i++) {
    char field[1024], doc[2048];
    cflight_error err = {0};
    snprintf(field, sizeof(field),
             "{\"name\": \"m\", \"type\": {\"name\": \"map\", \"keysSorted\": false}, "
             "\"nullable\": true, \"children\": [{\"name\": \"%s\", \"type\": {\"name\": "
             "\"struct\"}, \"nullable\": false, \"children\": [{\"name\": \"%s\", \"type\": "
             "{\"name\": \"utf8\"}, \"nullable\": false, \"children\": []}, {\"name\": "
             "\"%s\", \"type\": " INT32_TYPE ", \"nullable\": true, \"children\": []}]}]}",
             maps[3 * i], maps[3 * i + 1], maps[3 * i + 2]);
    snprintf(doc, sizeof(doc), base, field, "[]");
    m[i] = parse(doc, &err);
    CHECK_MSG(m[i] != NULL, "map %d: %s", i, err.message);
  }
  if (m[0] != NULL && m[1] != NULL) {
    cflight_error err = {0};
    CHECK_OK(cf_schema_equal(cf_json_file_schema(m[0]), cf_json_file_schema(m[1]), &err), &err);
  }
  cf_json_file_free(m[0]);
  cf_json_file_free(m[1]);
}

/* ---- Malformed files ---------------------------------------------------------------------------
 */

#define ONE_FIELD(type, children)                                \
  "{\"schema\": {\"fields\": [{\"name\": \"f\", \"type\": " type \
  ", \"nullable\": true, \"children\": [" children "]}]}, "
#define BATCH(col) "\"batches\": [{\"count\": 2, \"columns\": [" col "]}]}"

static void test_malformed(void) {
  const struct {
    const char *doc;
    const char *message; /* must appear in the error */
  } cases[] = {
      {"{", "not valid JSON: line 1"},
      {"[]", "the document must be an object"},
      {"{\"batches\": []}", "missing member \"schema\""},
      {"{\"schema\": {\"fields\": 3}, \"batches\": []}", "schema: \"fields\" must be an array"},
      {"{\"schema\": {\"fields\": [{\"type\": " INT32 "}]}, \"batches\": []}",
       "schema.fields[0]: missing member \"name\""},
      {ONE_FIELD("{\"name\": \"int9\"}", "") "\"batches\": []}",
       "schema.fields[0](\"f\").type: unknown type name \"int9\""},
      {ONE_FIELD("{\"name\": \"int\", \"bitWidth\": 7, \"isSigned\": true}", "") "\"batches\": []}",
       "bitWidth must be 8, 16, 32 or 64"},
      {ONE_FIELD("{\"name\": \"list\"}", "") "\"batches\": []}", "must have 1 child field(s)"},
      {ONE_FIELD("{\"name\": \"union\", \"mode\": \"SPARSE\", \"typeIds\": [1, 2]}",
                 ITEM) "\"batches\": []}",
       "2 typeIds for 1 children"},
      {ONE_FIELD("{\"name\": \"time\", \"unit\": \"SECOND\", \"bitWidth\": 64}",
                 "") "\"batches\": []}",
       "is 32 bits wide, not 64"},
      {ONE_FIELD(INT32, "") "\"batches\": [{\"count\": 2, \"columns\": []}]}",
       "batches[0]: \"columns\" has 0 columns, the schema has 1 fields"},
      {ONE_FIELD(INT32, "") BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1], \"DATA\": "
                                  "[1, 2]}"),
       "batches[0].columns[0](\"f\"): \"VALIDITY\" has 1 elements, expected 2"},
      {ONE_FIELD(INT32, "") BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 2], "
                                  "\"DATA\": [1, 2]}"),
       "VALIDITY[1] must be 0 or 1"},
      {ONE_FIELD(INT32, "") BATCH("{\"name\": \"f\", \"count\": 3, \"VALIDITY\": [1, 1, 1], "
                                  "\"DATA\": [1, 2, 3]}"),
       "the column has 3 rows, the batch 2"},
      {ONE_FIELD("{\"name\": \"int\", \"bitWidth\": 8, \"isSigned\": true}", "")
           BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 1], \"DATA\": [1, 300]}"),
       "DATA[1] is 300, outside [-128, 127]"},
      {ONE_FIELD("{\"name\": \"int\", \"bitWidth\": 64, \"isSigned\": false}", "")
           BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 1], \"DATA\": [\"1\", "
                 "\"-1\"]}"),
       "DATA[1] is \"-1\", not an unsigned 64-bit integer"},
      {ONE_FIELD("{\"name\": \"int\", \"bitWidth\": 64, \"isSigned\": true}", "")
           BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 1], \"DATA\": [\"12x\", "
                 "\"1\"]}"),
       "DATA[0] is \"12x\", not an integer"},
      {ONE_FIELD("{\"name\": \"binary\"}", "")
           BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 1], \"OFFSET\": [0, 1, 2], "
                 "\"DATA\": [\"0G\", \"00\"]}"),
       "DATA[0] is not hexadecimal"},
      {ONE_FIELD("{\"name\": \"binary\"}", "")
           BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 1], \"OFFSET\": [0, 1, 2], "
                 "\"DATA\": [\"000\", \"00\"]}"),
       "odd number of hex digits"},
      {ONE_FIELD("{\"name\": \"utf8\"}", "")
           BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 1], \"OFFSET\": [0, 1, 5], "
                 "\"DATA\": [\"a\", \"bc\"]}"),
       "DATA[1] has 2 bytes but OFFSET gives it 4"},
      {ONE_FIELD("{\"name\": \"utf8\"}", "")
           BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 1], \"OFFSET\": [0, 2, 1], "
                 "\"DATA\": [\"ab\", \"\"]}"),
       "OFFSET[2] = 1 is less than the offset before it"},
      {ONE_FIELD("{\"name\": \"list\"}", ITEM)
           BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 1], \"OFFSET\": [0, 1, 3], "
                 "\"children\": [{\"name\": \"item\", \"count\": 2, \"VALIDITY\": [1, 1], "
                 "\"DATA\": [1, 2]}]}"),
       "child column has 2 values, but the last OFFSET needs 3"},
      {ONE_FIELD("{\"name\": \"list\"}", ITEM)
           BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 1], \"OFFSET\": [0, 1, 2], "
                 "\"children\": [{\"name\": \"item\", \"count\": 2, \"VALIDITY\": [1, 1], "
                 "\"DATA\": [1, \"x\"]}]}"),
       "batches[0].columns[0](\"f\").children[0]: DATA[1] is \"x\", not an integer"},
      {ONE_FIELD("{\"name\": \"utf8view\"}", "")
           BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 1], \"VIEWS\": [{\"SIZE\": "
                 "1, \"INLINED\": \"a\"}, {\"SIZE\": 20, \"PREFIX_HEX\": \"00000000\", "
                 "\"BUFFER_INDEX\": 1, \"OFFSET\": 0}], \"VARIADIC_DATA_BUFFERS\": [\"00\"]}"),
       ".VIEWS[1]: BUFFER_INDEX 1 is past the 1 VARIADIC_DATA_BUFFERS"},
      {ONE_FIELD("{\"name\": \"utf8view\"}", "")
           BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 1], \"VIEWS\": [{\"SIZE\": "
                 "2, \"INLINED\": \"a\"}, {\"SIZE\": 0, \"INLINED\": \"\"}], "
                 "\"VARIADIC_DATA_BUFFERS\": []}"),
       "INLINED holds 1 bytes but SIZE is 2"},
      {ONE_FIELD("{\"name\": \"binaryview\"}", "")
           BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 1], \"VIEWS\": [{\"SIZE\": "
                 "20, \"PREFIX_HEX\": \"00000000\", \"BUFFER_INDEX\": 0, \"OFFSET\": 0}, "
                 "{\"SIZE\": 0, \"INLINED\": \"\"}], \"VARIADIC_DATA_BUFFERS\": [\"0011\"]}"),
       "is past the end of variadic buffer 0 (2 bytes)"},
      {ONE_FIELD("{\"name\": \"decimal\", \"precision\": 38, \"scale\": 0, \"bitWidth\": 32}", "")
           BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 1], \"DATA\": "
                 "[\"1\", \"99999999999\"]}"),
       "DATA[1]: '99999999999' does not fit a 32-bit decimal"},
      {ONE_FIELD("{\"name\": \"union\", \"mode\": \"SPARSE\", \"typeIds\": [4]}", ITEM)
           BATCH("{\"name\": \"f\", \"count\": 2, \"TYPE_ID\": [4, 5], \"children\": [{\"name\": "
                 "\"item\", \"count\": 2, \"VALIDITY\": [1, 1], \"DATA\": [1, 2]}]}"),
       "TYPE_ID[1] = 5 is not one of the union's typeIds"},
      {ONE_FIELD("{\"name\": \"union\", \"mode\": \"DENSE\", \"typeIds\": [4]}", ITEM)
           BATCH("{\"name\": \"f\", \"count\": 2, \"TYPE_ID\": [4, 4], \"OFFSET\": [0, 2], "
                 "\"children\": [{\"name\": \"item\", \"count\": 2, \"VALIDITY\": [1, 1], "
                 "\"DATA\": [1, 2]}]}"),
       "OFFSET[1] = 2 is outside its child column (2 values)"},
      {ONE_FIELD("{\"name\": \"fixedsizelist\", \"listSize\": 2}", ITEM)
           BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 1], \"children\": [{\"name\": "
                 "\"item\", \"count\": 3, \"VALIDITY\": [1, 1, 1], \"DATA\": [1, 2, 3]}]}"),
       "but count * listSize needs 4"},
      {ONE_FIELD("{\"name\": \"runendencoded\"}",
                 "{\"name\": \"run_ends\", \"type\": " INT32 ", \"nullable\": false, "
                 "\"children\": []}, " ITEM)
           BATCH("{\"name\": \"f\", \"count\": 2, \"children\": [{\"name\": \"run_ends\", "
                 "\"count\": 2, \"VALIDITY\": [1, 1], \"DATA\": [2, 1]}, {\"name\": \"item\", "
                 "\"count\": 2, \"VALIDITY\": [1, 1], \"DATA\": [1, 2]}]}"),
       "run_ends[1] = 1: run ends must be positive and increasing"},
      {ONE_FIELD(
           "{\"name\": \"runendencoded\"}",
           "{\"name\": \"run_ends\", \"type\": {\"name\": \"int\", \"bitWidth\": 8, "
           "\"isSigned\": true}, \"nullable\": false, \"children\": []}, " ITEM) "\"batches\": []}",
       "run ends of type int8"},
      {ONE_FIELD("{\"name\": \"utf8\"}",
                 "") "\"dictionaries\": [{\"id\": 3, \"data\": {\"count\": 0, \"columns\": []}}], "
                     "\"batches\": []}",
       "dictionaries[0]: no field of the schema uses dictionary id 3"},
      {"{\"schema\": {\"fields\": [{\"name\": \"f\", \"type\": {\"name\": \"utf8\"}, "
       "\"nullable\": true, \"children\": [], \"dictionary\": {\"id\": 1, \"indexType\": " INT32
       ", \"isOrdered\": false}}]}, " BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, "
                                            "1], \"DATA\": [0, 0]}"),
       "uses dictionary id 1, but \"dictionaries\" has no entry with that id"},
      {"{\"schema\": {\"fields\": [{\"name\": \"f\", \"type\": {\"name\": \"utf8\"}, "
       "\"nullable\": true, \"children\": [], \"dictionary\": {\"id\": 1, \"indexType\": " INT32
       ", \"isOrdered\": false}}]}, \"dictionaries\": [{\"id\": 1, \"data\": {\"count\": 1, "
       "\"columns\": [{\"name\": \"d\", \"count\": 1, \"VALIDITY\": [1], \"OFFSET\": [0, 1], "
       "\"DATA\": [\"x\"]}]}}], " BATCH("{\"name\": \"f\", \"count\": 2, \"VALIDITY\": [1, 1], "
                                        "\"DATA\": [0, 1]}"),
       "DATA[1] = 1 is not an index into dictionary id 1 (1 values)"},
      {"{\"schema\": {\"fields\": [{\"name\": \"f\", \"type\": {\"name\": \"utf8\"}, "
       "\"nullable\": true, \"children\": [], \"dictionary\": {\"id\": 1, \"indexType\": "
       "{\"name\": \"utf8\"}, \"isOrdered\": false}}]}, \"batches\": []}",
       "dictionary indices must be of type \"int\""},
      {"{\"schema\": {\"fields\": [{\"name\": \"f\", \"type\": {\"name\": \"utf8\"}, "
       "\"nullable\": true, \"children\": [], \"metadata\": [{\"key\": 1}]}]}, \"batches\": []}",
       ".metadata[0]: \"key\" and \"value\" must both be strings"},
      {ONE_FIELD(INT32, "") BATCH("{\"name\": \"f\", \"count\": -2, \"VALIDITY\": [1, 1], "
                                  "\"DATA\": [1, 2]}"),
       "\"count\" is -2, outside [0, 2147483647]"},
  };
  for (size_t i = 0; i < CF_ARRAY_SIZE(cases); i++) {
    cflight_error err = {0};
    cf_json_file *f = parse(cases[i].doc, &err);
    CHECK_MSG(f == NULL, "case %zu was accepted", i);
    cf_json_file_free(f);
    CHECK_MSG(err.code == CFLIGHT_INVALID_DATA, "case %zu: code %s", i,
              cflight_code_name(err.code));
    CHECK_MSG(strncmp(err.message, "test.json: ", 11) == 0, "case %zu: no file name in '%s'", i,
              err.message);
    CHECK_MSG(strstr(err.message, cases[i].message) != NULL, "case %zu: '%s' not in '%s'", i,
              cases[i].message, err.message);
  }

  /* Deep nesting is refused, not followed into a stack overflow. */
  char deep[20000] = "{\"schema\": {\"fields\": [";
  for (int i = 0; i < 200; i++)
    strcat(deep,
           "{\"name\": \"l\", \"type\": {\"name\": \"list\"}, \"nullable\": true, "
           "\"children\": [");
  strcat(deep, ITEM);
  for (int i = 0; i < 200; i++)
    strcat(deep, "]}");
  strcat(deep, "]}, \"batches\": []}");
  cflight_error err = {0};
  cf_json_file *f = parse(deep, &err);
  CHECK(f == NULL);
  CHECK_MSG(strstr(err.message, "nested more than 64 deep") != NULL, "%s", err.message);
  cf_json_file_free(f);

  /* Files: missing, and not gzip nor JSON. */
  CHECK_EQ_INT(cf_json_file_read("/nonexistent/x.json.gz", &f, &err), CFLIGHT_IO_ERROR);
  CHECK(strstr(err.message, "/nonexistent/x.json.gz") != NULL);
  char path[512];
  snprintf(path, sizeof(path), "%s/garbage.json.gz", cft_tmpdir());
  FILE *g = fopen(path, "wb");
  fwrite("\x1f\x8b\x08\x00garbage", 1, 11, g);
  fclose(g);
  CHECK(cf_json_file_read(path, &f, &err) != CFLIGHT_OK);
  CHECK(strstr(err.message, path) != NULL);
}

/* Every prefix of a valid gold file is rejected cleanly (no crash, no leak). */
static void test_truncated(void) {
  cflight_error err = {0};
  cf_json_file *f;
  const char *path = cft_data_path(
      "arrow-ipc-stream/integration/cpp-21.0.0/"
      "generated_null_trivial.json.gz");
  CHECK_OK(cf_json_file_read(path, &f, &err), &err);
  char *text = f ? json_of(f, &err) : NULL;
  cf_json_file_free(f);
  if (text == NULL) return;
  size_t n = strlen(text);
  for (size_t k = 0; k + 2 < n; k++) {
    cf_json_file *g = NULL;
    CHECK(cf_json_file_parse(text, k, "t", &g, &err) != CFLIGHT_OK);
    cf_json_file_free(g);
  }
  free(text);
}

/* Random edits of valid documents (digits changed, characters dropped or
 * swapped for structural ones): every outcome is a clean error or a file
 * that writes back as JSON. Run under the sanitizers this checks that the
 * reader never lets through arrays the writer would read out of bounds. */
static void test_mutations(void) {
  const char *names[] = {"generated_nested",
                         "generated_union",
                         "generated_binary_view",
                         "generated_run_end_encoded",
                         "generated_nested_dictionary",
                         "generated_list_view",
                         "generated_map",
                         "generated_interval_mdn"};
  uint64_t x = 0x2545F4914F6CDD1Dull;
  int accepted = 0, rejected = 0;
  for (size_t n = 0; n < CF_ARRAY_SIZE(names); n++) {
    char rel[256];
    cflight_error err = {0};
    cf_json_file *f;
    snprintf(rel, sizeof(rel), "arrow-ipc-stream/integration/cpp-21.0.0/%s.json.gz", names[n]);
    if (cf_json_file_read(cft_data_path(rel), &f, &err) != CFLIGHT_OK) {
      CHECK_MSG(false, "%s", err.message);
      continue;
    }
    char *text = json_of(f, &err);
    cf_json_file_free(f);
    if (text == NULL) continue;
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    for (int round = 0; round < 150; round++) {
      memcpy(copy, text, len + 1);
      size_t clen = len;
      for (int edits = 0; edits < 3; edits++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t pos = (size_t)(x % clen);
        static const char repl[] = "0123456789-[]{},\":x";
        switch ((x >> 32) % 3) {
          case 0: /* change a digit: offsets, counts, indices, sizes */
            for (size_t k = pos; k < clen; k++) {
              if (copy[k] >= '0' && copy[k] <= '9') {
                copy[k] = (char)('0' + (x >> 40) % 10);
                break;
              }
            }
            break;
          case 1: /* drop a character */
            memmove(copy + pos, copy + pos + 1, clen - pos);
            clen--;
            break;
          default:
            copy[pos] = repl[(x >> 40) % (sizeof(repl) - 1)];
            break;
        }
      }
      cf_json_file *g = NULL;
      if (cf_json_file_parse(copy, clen, "mutated", &g, &err) == CFLIGHT_OK) {
        accepted++;
        char *again = json_of(g, &err);
        free(again);
        cf_json_file_free(g);
      } else {
        rejected++;
        CHECK_MSG(strncmp(err.message, "mutated: ", 9) == 0, "%s", err.message);
      }
    }
    free(copy);
    free(text);
  }
  CHECK(accepted > 0 && rejected > 0);
}

int main(void) {
  RUN_TEST(test_gold_fixed_point);
  RUN_TEST(test_stream);
  RUN_TEST(test_decimals);
  RUN_TEST(test_half_floats);
  RUN_TEST(test_float_format);
  RUN_TEST(test_exact_layouts);
  RUN_TEST(test_dictionaries);
  RUN_TEST(test_dictionary_deltas);
  RUN_TEST(test_writer_dictionaries);
  RUN_TEST(test_schema_equal);
  RUN_TEST(test_malformed);
  RUN_TEST(test_truncated);
  RUN_TEST(test_mutations);
  return cft_finish();
}
