/* Exact number conversions (for the integration JSON and for printing):
 * decimal strings to and from two's complement over 64-bit limbs, half floats, and shortest
 * round-trip formatting of floats. */
#include <math.h>
#include <stdio.h>

#include "arrow/arrow.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "cflight assumes a little-endian host (Arrow data is little-endian)"
#endif

/* ---- Decimals ---------------------------------------------------------------- */

#define DEC_MAX_LIMBS 4

typedef unsigned __int128 u128;

static int limbs_for(int32_t bit_width) {
  return bit_width <= 64 ? 1 : bit_width / 64;
}

/* Negates a little-endian limb array in place (two's complement). */
static void limbs_negate(uint64_t *v, int n) {
  uint64_t carry = 1;
  for (int i = 0; i < n; i++) {
    uint64_t x = ~v[i] + carry;
    carry = (carry && x == 0) ? 1 : 0;
    v[i] = x;
  }
}

int cf_decimal_from_string(const char *s, size_t len, int32_t bit_width, uint8_t *out,
                           cflight_error *err) {
  if (bit_width != 32 && bit_width != 64 && bit_width != 128 && bit_width != 256) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "decimal bit width %d is not 32, 64, "
                             "128 or 256",
                             (int)bit_width);
  }
  size_t i = 0;
  bool negative = false;
  if (i < len && (s[i] == '-' || s[i] == '+')) {
    negative = s[i] == '-';
    i++;
  }
  if (i == len) {
    return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                             "'%.*s' is not a decimal integer (expected digits)",
                             (int)(len > 80 ? 80 : len), s);
  }
  int n = limbs_for(bit_width);
  uint64_t mag[DEC_MAX_LIMBS] = {0};
  for (; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT,
                               "'%.*s' is not a decimal integer (bad character '%c')",
                               (int)(len > 80 ? 80 : len), s, s[i]);
    }
    /* mag = mag * 10 + digit, limb by limb with the carry in the high half. */
    uint64_t carry = (uint64_t)(s[i] - '0');
    for (int k = 0; k < n; k++) {
      u128 t = (u128)mag[k] * 10u + carry;
      mag[k] = (uint64_t)t;
      carry = (uint64_t)(t >> 64);
    }
    if (carry != 0) goto overflow;
  }
  /* The magnitude must fit the signed range: < 2^(w-1), or == 2^(w-1) when negative. */
  {
    int top_bit = bit_width - 1; /* index of the sign bit */
    int limb = top_bit / 64, bit = top_bit % 64;
    bool above = false, exactly = true;
    /* bits above the sign bit (within the limbs) must be zero */
    for (int k = n - 1; k >= 0; k--) {
      uint64_t above_mask = 0;
      if (k > limb) above_mask = ~(uint64_t)0;
      if (k == limb) above_mask = bit == 63 ? 0 : ~(uint64_t)0 << (bit + 1);
      if (mag[k] & above_mask) above = true;
    }
    if (above) goto overflow;
    bool sign_set = (mag[limb] >> bit) & 1;
    if (sign_set) {
      /* Only -2^(w-1) is allowed: the sign bit alone. */
      for (int k = 0; k < n; k++) {
        uint64_t rest = mag[k];
        if (k == limb) rest &= ~((uint64_t)1 << bit);
        if (rest != 0) exactly = false;
      }
      if (!negative || !exactly) goto overflow;
    }
  }
  if (negative) limbs_negate(mag, n);
  memcpy(out, mag, (size_t)bit_width / 8);
  return CFLIGHT_OK;
overflow:
  return cflight_error_set(err, CFLIGHT_INVALID_ARGUMENT, "'%.*s' does not fit a %d-bit decimal",
                           (int)(len > 80 ? 80 : len), s, (int)bit_width);
}

int cf_decimal_to_string(const uint8_t *value, int32_t bit_width, char *buf, size_t cap) {
  int n = limbs_for(bit_width);
  uint64_t v[DEC_MAX_LIMBS] = {0};
  if (bit_width == 32) {
    int32_t x;
    memcpy(&x, value, 4);
    v[0] = (uint64_t)(int64_t)x;
  } else {
    memcpy(v, value, (size_t)n * 8);
  }
  bool negative = (v[n - 1] >> 63) & 1;
  if (negative) limbs_negate(v, n);
  /* Repeated division by 10^19 gives base-10^19 digits, least significant first. */
  const uint64_t chunk = 10000000000000000000ull;
  uint64_t parts[8];
  int n_parts = 0;
  for (;;) {
    bool zero = true;
    for (int k = 0; k < n; k++)
      if (v[k] != 0) zero = false;
    if (zero && n_parts > 0) break;
    u128 rem = 0;
    for (int k = n - 1; k >= 0; k--) {
      u128 cur = (rem << 64) | v[k];
      v[k] = (uint64_t)(cur / chunk);
      rem = cur % chunk;
    }
    parts[n_parts++] = (uint64_t)rem;
    if (zero) break;
  }
  char tmp[96];
  int len = snprintf(tmp, sizeof(tmp), "%s%llu", negative ? "-" : "",
                     (unsigned long long)parts[n_parts - 1]);
  for (int k = n_parts - 2; k >= 0; k--)
    len += snprintf(tmp + len, sizeof(tmp) - (size_t)len, "%019llu", (unsigned long long)parts[k]);
  if ((size_t)len >= cap) return -1;
  memcpy(buf, tmp, (size_t)len + 1);
  return len;
}

/* ---- Half floats ------------------------------------------------------------- */

uint16_t cf_half_from_float(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  uint32_t exp = (x >> 23) & 0xff;
  uint32_t man = x & 0x7fffff;
  if (exp == 0xff) { /* inf or NaN (keep NaN quiet and non-zero) */
    return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
  }
  int32_t e = (int32_t)exp - 127 + 15;
  if (e >= 31) return (uint16_t)(sign | 0x7c00); /* overflow to infinity */
  if (e <= 0) {
    /* Subnormal half (or zero): shift the mantissa with its implicit bit. */
    if (e < -10) return sign;
    uint32_t m = man | 0x800000;
    int shift = 14 - e; /* 24-bit significand down to 10 bits */
    uint32_t half_m = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half_m & 1))) half_m++;
    return (uint16_t)(sign | half_m); /* a carry into the exponent is still right */
  }
  uint32_t half_m = man >> 13;
  uint32_t rem = man & 0x1fff;
  uint16_t h = (uint16_t)(sign | ((uint32_t)e << 10) | half_m);
  if (rem > 0x1000 || (rem == 0x1000 && (half_m & 1))) h++; /* may round up to infinity: right */
  return h;
}

float cf_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  uint32_t x;
  if (exp == 0) {
    if (man == 0) {
      x = sign;
    } else { /* subnormal: normalise */
      int e = -1;
      do {
        e++;
        man <<= 1;
      } while ((man & 0x400) == 0);
      x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    x = sign | 0x7f800000 | (man << 13);
  } else {
    x = sign | ((exp - 15 + 127) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &x, 4);
  return f;
}

/* ---- Shortest round-trip formatting ------------------------------------------ */

static bool reads_back(const char *s, double v, bool as_float) {
  if (!as_float) return strtod(s, NULL) == v;
  /* A reader may parse as double and then narrow, or parse as float: both must agree. */
  return (float)strtod(s, NULL) == (float)v && strtof(s, NULL) == (float)v;
}

int cf_format_double(double v, bool as_float, char *buf, size_t cap) {
  char tmp[40];
  int len = 0;
  int max_digits = as_float ? 9 : 17;
  for (int p = 1; p <= max_digits; p++) {
    len = snprintf(tmp, sizeof(tmp), "%.*g", p, v);
    if (reads_back(tmp, v, as_float)) break;
    if (p == max_digits) {
      /* Exact for a double; for a float, the exact value of the float as double. */
      len = snprintf(tmp, sizeof(tmp), "%.17g", as_float ? (double)(float)v : v);
    }
  }
  /* Keep it a JSON real: "1" would read back as an integer. */
  if (strpbrk(tmp, ".eEn") == NULL && (size_t)len + 2 < sizeof(tmp)) {
    memcpy(tmp + len, ".0", 3);
    len += 2;
  }
  if ((size_t)len >= cap) return -1;
  memcpy(buf, tmp, (size_t)len + 1);
  return len;
}
