/* The hand-written flatbuffers builder and reader: round trips of every
 * field kind, defaults, alignment, and the reader's refusals. */
#include "ipc/flatbuf.h"
#include "harness.h"

typedef struct built {
  uint8_t *data;
  size_t size;
} built;

/* A table {0: u8, 1: i16, 2: i32, 3: i64, 4: string, 5: [i64], 6: sub-table,
 * 7: [table]}; fields listed in `absent` are left out. */
static built build_sample(bool skip_optional) {
  cf_fbb b;
  cf_fbb_init(&b);
  cf_fbref sub[3];
  for (int i = 0; i < 3; i++) {
    cf_fbb_table_start(&b);
    cf_fbb_add_i32(&b, 0, 100 + i);
    sub[i] = cf_fbb_table_end(&b);
  }
  cf_fbref vec_tables = cf_fbb_vector_refs(&b, sub, 3);
  int64_t longs[] = {1, -2, INT64_MAX};
  cf_fbref vec = cf_fbb_vector(&b, longs, 3, 8, 8);
  cf_fbref str = cf_fbb_string(&b, "hello", 5);
  cf_fbb_table_start(&b);
  cf_fbb_add_i32(&b, 0, 42);
  cf_fbref one = cf_fbb_table_end(&b);
  cf_fbb_table_start(&b);
  cf_fbb_add_u8(&b, 0, 7);
  if (!skip_optional) cf_fbb_add_i16(&b, 1, -300);
  cf_fbb_add_i32(&b, 2, -70000);
  cf_fbb_add_i64(&b, 3, INT64_MIN);
  if (!skip_optional) cf_fbb_add_ref(&b, 4, str);
  cf_fbb_add_ref(&b, 5, vec);
  cf_fbb_add_ref(&b, 6, one);
  cf_fbb_add_ref(&b, 7, vec_tables);
  cf_fbref root = cf_fbb_table_end(&b);
  cflight_error err = {0};
  CHECK_OK(cf_fbb_finish(&b, root, &err), &err);
  built out = {malloc(cf_fbb_size(&b)), cf_fbb_size(&b)};
  memcpy(out.data, cf_fbb_data(&b), out.size);
  cf_fbb_reset(&b);
  return out;
}

static void test_round_trip(void) {
  for (int skip = 0; skip < 2; skip++) {
    built bt = build_sample(skip);
    CHECK_EQ_INT(bt.size % 8, 0);
    cflight_error err = {0};
    cf_fbr r;
    cf_fbt t, one, item;
    cf_fbv v;
    CHECK_OK(cf_fbr_init(&r, bt.data, bt.size, &err), &err);
    CHECK(cf_fbr_root(&r, &t));
    CHECK_EQ_INT(cf_fbt_u8(&t, 0, 0), 7);
    CHECK_EQ_INT(cf_fbt_i16(&t, 1, 5), skip ? 5 : -300);
    CHECK_EQ_INT(cf_fbt_i32(&t, 2, 0), -70000);
    CHECK(cf_fbt_i64(&t, 3, 0) == INT64_MIN);
    CHECK(cf_fbt_has(&t, 4) == !skip);
    const char *s;
    uint32_t len;
    CHECK(cf_fbt_string(&t, 4, &s, &len) == !skip);
    if (!skip) CHECK(len == 5 && memcmp(s, "hello", 5) == 0);
    CHECK(cf_fbt_vector(&t, 5, 8, &v));
    CHECK_EQ_INT(v.n, 3);
    CHECK(cf_load_i64(v.data + 16) == INT64_MAX);
    /* 8-byte elements land on 8-byte boundaries of the buffer. */
    CHECK_EQ_INT(v.pos % 8, 0);
    CHECK(cf_fbt_table(&t, 6, &one));
    CHECK_EQ_INT(cf_fbt_i32(&one, 0, 0), 42);
    CHECK(cf_fbt_vector(&t, 7, 4, &v));
    CHECK_EQ_INT(v.n, 3);
    for (uint32_t i = 0; i < 3; i++) {
      CHECK(cf_fbv_table(&v, i, &item));
      CHECK_EQ_INT(cf_fbt_i32(&item, 0, 0), 100 + (int)i);
    }
    CHECK(!cf_fbv_table(&v, 3, &item));
    /* Absent fields give defaults, fields past the vtable too. */
    CHECK_EQ_INT(cf_fbt_i32(&t, 12, 99), 99);
    CHECK(!cf_fbt_table(&t, 9, &item));
    CHECK_EQ_INT(r.rc, CFLIGHT_OK);
    free(bt.data);
  }
}

/* Where reads go so that the compiler keeps them. */
static volatile uint64_t sink;

/* Reads every field of the sample; returns the reader's error. */
static int read_sample(const uint8_t *data, size_t size, cflight_error *err) {
  cf_fbr r;
  cf_fbt t, one, item;
  cf_fbv v;
  const char *s;
  uint32_t len;
  if (cf_fbr_init(&r, data, size, err) != CFLIGHT_OK) return r.rc;
  if (!cf_fbr_root(&r, &t)) return r.rc;
  cf_fbt_u8(&t, 0, 0);
  cf_fbt_i16(&t, 1, 0);
  cf_fbt_i32(&t, 2, 0);
  cf_fbt_i64(&t, 3, 0);
  if (cf_fbt_string(&t, 4, &s, &len)) {
    for (uint32_t i = 0; i < len; i++)
      sink += (uint8_t)s[i];
  }
  if (cf_fbt_vector(&t, 5, 8, &v)) {
    for (uint32_t i = 0; i < v.n; i++)
      sink += (uint64_t)cf_load_i64(v.data + 8 * i);
  }
  if (cf_fbt_table(&t, 6, &one)) cf_fbt_i32(&one, 0, 0);
  if (cf_fbt_vector(&t, 7, 4, &v)) {
    for (uint32_t i = 0; i < v.n; i++)
      if (cf_fbv_table(&v, i, &item)) cf_fbt_i32(&item, 0, 0);
  }
  return r.rc;
}

static void test_refusals(void) {
  built bt = build_sample(false);
  cflight_error err = {0};
  CHECK_OK(read_sample(bt.data, bt.size, &err), &err);
  /* Every truncation and every single-byte change is either read in
   * bounds or refused (ASan would catch an out-of-bounds read). */
  uint8_t *copy = malloc(bt.size);
  for (size_t cut = 0; cut < bt.size; cut++) {
    memcpy(copy, bt.data, cut);
    read_sample(copy, cut, &err);
  }
  int refused = 0;
  for (size_t i = 0; i < bt.size; i++) {
    for (int val = 0; val < 256; val += 17) {
      memcpy(copy, bt.data, bt.size);
      copy[i] = (uint8_t)val;
      if (read_sample(copy, bt.size, &err) != CFLIGHT_OK) refused++;
    }
  }
  CHECK(refused > 0);
  /* Specific breakages. */
  memcpy(copy, bt.data, bt.size);
  uint32_t root = cf_load_u32(copy);
  uint32_t far = (uint32_t)bt.size;
  memcpy(copy, &far, 4);
  CHECK_EQ_INT(read_sample(copy, bt.size, &err), CFLIGHT_INVALID_DATA);
  CHECK_MSG(strstr(err.message, "outside") != NULL, "%s", err.message);
  memcpy(copy, bt.data, bt.size);
  int32_t vt_far = -(int32_t)bt.size;
  memcpy(copy + root, &vt_far, 4);
  CHECK_EQ_INT(read_sample(copy, bt.size, &err), CFLIGHT_INVALID_DATA);
  CHECK_MSG(strstr(err.message, "vtable") != NULL, "%s", err.message);
  /* Odd vtable size. */
  memcpy(copy, bt.data, bt.size);
  int32_t soff = cf_load_i32(copy + root);
  uint32_t vt = (uint32_t)((int64_t)root - soff);
  copy[vt] |= 1;
  CHECK_EQ_INT(read_sample(copy, bt.size, &err), CFLIGHT_INVALID_DATA);
  CHECK_MSG(strstr(err.message, "vtable size") != NULL, "%s", err.message);
  /* A field offset beyond the table's inline size. */
  memcpy(copy, bt.data, bt.size);
  uint16_t big = 0xFFF0;
  memcpy(copy + vt + 4 + 2 * 3, &big, 2);
  CHECK_EQ_INT(read_sample(copy, bt.size, &err), CFLIGHT_INVALID_DATA);
  CHECK_MSG(strstr(err.message, "exceeds the table") != NULL, "%s", err.message);
  /* Too small to hold anything. */
  CHECK_EQ_INT(read_sample(bt.data, 4, &err), CFLIGHT_INVALID_DATA);
  free(copy);
  free(bt.data);
}

static void test_vector_lengths(void) {
  /* A vector whose count claims more elements than the buffer holds. */
  cf_fbb b;
  cf_fbb_init(&b);
  int32_t vals[4] = {1, 2, 3, 4};
  cf_fbref v = cf_fbb_vector(&b, vals, 4, 4, 4);
  cf_fbb_table_start(&b);
  cf_fbb_add_ref(&b, 0, v);
  cf_fbref root = cf_fbb_table_end(&b);
  cflight_error err = {0};
  CHECK_OK(cf_fbb_finish(&b, root, &err), &err);
  size_t size = cf_fbb_size(&b);
  uint8_t *copy = malloc(size);
  memcpy(copy, cf_fbb_data(&b), size);
  cf_fbr r;
  cf_fbt t;
  cf_fbv vec;
  CHECK_OK(cf_fbr_init(&r, copy, size, &err), &err);
  CHECK(cf_fbr_root(&r, &t));
  CHECK(cf_fbt_vector(&t, 0, 4, &vec));
  uint32_t huge = 0x40000000;
  memcpy(copy + vec.pos - 4, &huge, 4);
  CHECK_OK(cf_fbr_init(&r, copy, size, &err), &err);
  CHECK(cf_fbr_root(&r, &t));
  CHECK(!cf_fbt_vector(&t, 0, 4, &vec));
  CHECK_EQ_INT(r.rc, CFLIGHT_INVALID_DATA);
  CHECK_MSG(strstr(err.message, "run past") != NULL, "%s", err.message);
  free(copy);
  cf_fbb_reset(&b);
}

int main(void) {
  RUN_TEST(test_round_trip);
  RUN_TEST(test_refusals);
  RUN_TEST(test_vector_lengths);
  return cft_finish();
}
