/* Errors and reference-counted buffers. */
#include "base/base.h"
#include "harness.h"

static int freed = 0;
static void count_free(void *ctx, void *data) {
  (void)data;
  *(int *)ctx += 1;
}

static void test_error(void) {
  cflight_error err = {0};
  CHECK_EQ_INT(cflight_error_set(&err, CFLIGHT_NOT_FOUND, "no %s", "thing"), CFLIGHT_NOT_FOUND);
  CHECK_EQ_STR(err.message, "no thing");
  CHECK_OK(cflight_error_set_extra_info(&err, "xyz", 3), &err);
  CHECK_EQ_INT(cflight_buffer_size(err.extra_info), 3);
  cflight_error moved = {0};
  cflight_error_move(&moved, &err);
  CHECK_EQ_INT(err.code, CFLIGHT_OK);
  CHECK(err.extra_info == NULL);
  CHECK_EQ_INT(moved.code, CFLIGHT_NOT_FOUND);
  cflight_error_reset(&moved);
  CHECK_EQ_STR(cflight_code_name(CFLIGHT_UNAUTHENTICATED), "UNAUTHENTICATED");
  CHECK_EQ_INT(cflight_code_to_grpc(CFLIGHT_INVALID_DATA), CFLIGHT_INVALID_ARGUMENT);
  CHECK_EQ_INT(cflight_error_set(NULL, CFLIGHT_INTERNAL, "ignored"), CFLIGHT_INTERNAL);
}

static void test_buffers(void) {
  cflight_buffer *b = cflight_buffer_copy("hello world", 11);
  CHECK(((uintptr_t)cflight_buffer_data(b) & 63) == 0);
  cflight_buffer *s = cflight_buffer_slice(b, 6, 5);
  cflight_buffer *ss = cflight_buffer_slice(s, 1, 3);
  CHECK(memcmp(cflight_buffer_data(ss), "orl", 3) == 0);
  CHECK(cflight_buffer_slice(b, 6, 6) == NULL);
  cflight_buffer_unref(b);
  cflight_buffer_unref(s);
  CHECK(memcmp(cflight_buffer_data(ss), "orl", 3) == 0);
  cflight_buffer_unref(ss);

  static const char text[] = "static";
  cflight_buffer *w = cflight_buffer_wrap(text, 6, count_free, &freed);
  cflight_buffer_ref(w);
  cflight_buffer_unref(w);
  CHECK_EQ_INT(freed, 0);
  cflight_buffer_unref(w);
  CHECK_EQ_INT(freed, 1);

  cf_bytes bytes = {0};
  CHECK_OK(cf_bytes_append(&bytes, "abc", 3, NULL), &(cflight_error){0});
  CHECK_OK(cf_bytes_pad(&bytes, 8, NULL), &(cflight_error){0});
  CHECK_EQ_INT(bytes.len, 8);
  cflight_buffer *fin = cf_bytes_finish(&bytes);
  CHECK_EQ_INT(cflight_buffer_size(fin), 8);
  CHECK(bytes.data == NULL);
  cflight_buffer_unref(fin);
}

/* A message cut at the buffer's size never ends inside a UTF-8 character. */
static void test_error_utf8_truncation(void) {
  char long_text[3000];
  size_t n = 0;
  while (n + 2 < sizeof(long_text)) {
    long_text[n++] = (char)0xC3; /* "é" */
    long_text[n++] = (char)0xA9;
  }
  long_text[n] = '\0';
  for (int shift = 0; shift < 4; shift++) {
    cflight_error err = {0};
    cflight_error_set(&err, CFLIGHT_INTERNAL, "%.*s%s", shift, "xyz", long_text);
    size_t len = strlen(err.message);
    CHECK(len >= CFLIGHT_ERROR_MESSAGE_SIZE - 3);
    unsigned char last = (unsigned char)err.message[len - 1];
    CHECK_MSG(last == 0xA9 || last < 0x80, "message ends in a partial character (0x%02x)", last);
  }
}

int main(void) {
  RUN_TEST(test_error);
  RUN_TEST(test_error_utf8_truncation);
  RUN_TEST(test_buffers);
  return cft_finish();
}
