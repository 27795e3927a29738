/* Bitmap helpers (LSB-first bit order, as Arrow's validity bitmaps). */
#ifndef CF_IPC_BITS_H
#define CF_IPC_BITS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline bool cf_bit_get(const uint8_t *bits, int64_t i) {
  return (bits[i >> 3] >> (i & 7)) & 1;
}

static inline void cf_bit_set_to(uint8_t *bits, int64_t i, bool v) {
  if (v)
    bits[i >> 3] |= (uint8_t)(1u << (i & 7));
  else
    bits[i >> 3] &= (uint8_t) ~(1u << (i & 7));
}

/* Whether slot i of an array with validity `bits` (NULL = all valid) is valid. */
static inline bool cf_is_valid(const uint8_t *bits, int64_t i) {
  return bits == NULL || cf_bit_get(bits, i);
}

static inline int64_t cf_bytes_for_bits(int64_t n) {
  return n / 8 + (n % 8 != 0);
}

/* Number of set bits in bits[start, start + n). Works a 64-bit word at a time. */
static inline int64_t cf_bits_count(const uint8_t *bits, int64_t start, int64_t n) {
  int64_t count = 0;
  int64_t i = start, end = start + n;
  while (i < end && (i & 7) != 0) {
    count += cf_bit_get(bits, i);
    i++;
  }
  while (end - i >= 64) {
    uint64_t w;
    memcpy(&w, bits + (i >> 3), 8);
    count += __builtin_popcountll(w);
    i += 64;
  }
  while (end - i >= 8) {
    count += __builtin_popcount(bits[i >> 3]);
    i += 8;
  }
  while (i < end) {
    count += cf_bit_get(bits, i);
    i++;
  }
  return count;
}

/* Copies n bits from src[src_off..] to dst[dst_off..]; other bits of dst
 * are kept. Whole bytes are copied at once when both offsets are byte
 * aligned; otherwise the source is read 64 bits at a time and shifted. */
static inline void cf_bits_copy(uint8_t *dst, int64_t dst_off, const uint8_t *src, int64_t src_off,
                                int64_t n) {
  if (n <= 0) return;
  if ((dst_off & 7) == 0 && (src_off & 7) == 0) {
    memcpy(dst + (dst_off >> 3), src + (src_off >> 3), (size_t)(n >> 3));
    for (int64_t i = n & ~(int64_t)7; i < n; i++)
      cf_bit_set_to(dst, dst_off + i, cf_bit_get(src, src_off + i));
    return;
  }
  int64_t i = 0;
  /* Bring the destination to a byte boundary bit by bit. */
  while (i < n && ((dst_off + i) & 7) != 0) {
    cf_bit_set_to(dst, dst_off + i, cf_bit_get(src, src_off + i));
    i++;
  }
  /* Then whole destination bytes, each gathered from two source bytes. */
  int shift = (int)((src_off + i) & 7);
  while (n - i >= 8) {
    int64_t s = (src_off + i) >> 3;
    unsigned v = src[s] >> shift;
    if (shift != 0) v |= (unsigned)src[s + 1] << (8 - shift);
    dst[(dst_off + i) >> 3] = (uint8_t)v;
    i += 8;
  }
  while (i < n) {
    cf_bit_set_to(dst, dst_off + i, cf_bit_get(src, src_off + i));
    i++;
  }
}

#endif /* CF_IPC_BITS_H */
