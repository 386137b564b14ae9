// Lookup pipeline kernels on a thread-local memory (engine/pipeline/kernels-wasm.ts): key dedup with the
// inverse map, scatter of unique rows back to request order, and pooled combiners over CSR rows.
// No static data and no shadow stack: every buffer is at an offset the caller passes.
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <emscripten.h>
#include <wasm_simd128.h>

#define PL_OK 0xffffffffu
#define PL_SUM 0u
#define PL_MEAN 1u
#define PL_SQRTN 2u

static inline uint32_t pl_hash(int64_t key) {
  uint64_t k = (uint64_t)key;
  k ^= k >> 33; k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33; k *= 0xc4ceb93fe53d4ce9ULL;
  k ^= k >> 33;
  return (uint32_t)k;
}

/**
 * Deduplicates keys[0..n) in order of first occurrence: unique keys into `unique`, and for every position
 * i the index of keys[i] in `unique` into `inverse`. `table_idx` (mask + 1 words) and `table_keys`
 * (mask + 1 keys) are an open-addressing scratch table, mask + 1 a power of two above n. Returns the
 * number of unique keys.
 */
EMSCRIPTEN_KEEPALIVE uint32_t pl_dedup(const int64_t *keys, uint32_t n, int64_t *unique, uint32_t *inverse,
                                       uint32_t *table_idx, int64_t *table_keys, uint32_t mask) {
  memset(table_idx, 0, ((size_t)mask + 1u) * sizeof(uint32_t));
  uint32_t count = 0;
  for (uint32_t i = 0; i < n; i++) {
    const int64_t key = keys[i];
    uint32_t at = pl_hash(key) & mask;
    for (;;) {
      const uint32_t idx = table_idx[at];
      if (idx == 0) {
        table_idx[at] = count + 1u;  // 0 marks an empty entry, so entries hold index + 1
        table_keys[at] = key;
        unique[count] = key;
        inverse[i] = count++;
        break;
      }
      if (table_keys[at] == key) {
        inverse[i] = idx - 1u;
        break;
      }
      at = (at + 1u) & mask;
    }
  }
  return count;
}

/** Position of the first inverse entry >= count, or PL_OK. */
EMSCRIPTEN_KEEPALIVE uint32_t pl_check_inverse(const uint32_t *inverse, uint32_t n, uint32_t count) {
  for (uint32_t i = 0; i < n; i++)
    if (inverse[i] >= count) return i;
  return PL_OK;
}

/** Row i of `out` = row inverse[i] of `rows`, for i in [0, n). */
EMSCRIPTEN_KEEPALIVE void pl_scatter(const float *rows, const uint32_t *inverse, uint32_t n, uint32_t dim,
                                     float *out) {
  for (uint32_t i = 0; i < n; i++) {
    const float *src = rows + inverse[i] * dim;
    float *dst = out + i * dim;
    uint32_t d = 0;
    for (; d + 4 <= dim; d += 4) wasm_v128_store(dst + d, wasm_v128_load(src + d));
    for (; d < dim; d++) dst[d] = src[d];
  }
}

/**
 * Index of the first bad CSR offset (offsets[0] != 0, a decrease, or offsets[rows] != keys), or PL_OK.
 */
EMSCRIPTEN_KEEPALIVE uint32_t pl_check_offsets(const uint32_t *offsets, uint32_t rows, uint32_t keys) {
  if (offsets[0] != 0) return 0;
  for (uint32_t r = 1; r <= rows; r++)
    if (offsets[r] < offsets[r - 1] || offsets[r] > keys) return r;
  return offsets[rows] == keys ? PL_OK : rows;
}

/**
 * Pooled rows: for CSR row r (positions offsets[r]..offsets[r+1]), out row r = combination of
 * w[j] * rows[inverse[j]] with w[j] = weights[j] (or 1 when `weights` is 0). sum: the weighted sum;
 * mean: divided by the sum of weights (the count without weights); sqrtn: divided by sqrt of the sum of
 * squared weights (sqrt(count)). Float32 accumulation, as HPS and TF. A row whose divisor is 0, and an
 * empty row, gives zeros.
 */
EMSCRIPTEN_KEEPALIVE void pl_pool(const float *rows, const uint32_t *inverse, const uint32_t *offsets,
                                  uint32_t nrows, const float *weights, uint32_t dim, uint32_t combiner,
                                  float *out) {
  for (uint32_t r = 0; r < nrows; r++) {
    float *acc = out + r * dim;
    const uint32_t begin = offsets[r], end = offsets[r + 1];
    memset(acc, 0, dim * sizeof(float));
    float wsum = 0.0f, wsq = 0.0f;
    for (uint32_t j = begin; j < end; j++) {
      const float w = weights ? weights[j] : 1.0f;
      const float *src = rows + inverse[j] * dim;
      const v128_t wv = wasm_f32x4_splat(w);
      uint32_t d = 0;
      for (; d + 4 <= dim; d += 4)
        wasm_v128_store(acc + d, wasm_f32x4_add(wasm_v128_load(acc + d), wasm_f32x4_mul(wv, wasm_v128_load(src + d))));
      for (; d < dim; d++) acc[d] += w * src[d];
      wsum += w;
      wsq += w * w;
    }
    if (combiner == PL_SUM || begin == end) continue;
    const float divisor = combiner == PL_MEAN ? wsum : sqrtf(wsq);
    if (divisor == 0.0f) {
      memset(acc, 0, dim * sizeof(float));
      continue;
    }
    const v128_t dv = wasm_f32x4_splat(divisor);
    uint32_t d = 0;
    for (; d + 4 <= dim; d += 4) wasm_v128_store(acc + d, wasm_f32x4_div(wasm_v128_load(acc + d), dv));
    for (; d < dim; d++) acc[d] /= divisor;
  }
}

/**
 * Positions 0..n-1 of keys[0..n) in ascending signed order into `order` (a stable LSD radix sort, 8 bits a
 * pass; passes where every key has the same digit are skipped). `tmp`: n u32, `counts`: 256 u32 of scratch.
 */
EMSCRIPTEN_KEEPALIVE void pl_key_order(const int64_t *keys, uint32_t n, uint32_t *order, uint32_t *tmp, uint32_t *counts) {
  for (uint32_t i = 0; i < n; i++) order[i] = i;
  if (n < 2) return;
  uint32_t *src = order, *dst = tmp;
  for (uint32_t shift = 0; shift < 64; shift += 8) {
    memset(counts, 0, 256 * sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++) counts[(((uint64_t)keys[src[i]] ^ 0x8000000000000000ull) >> shift) & 255u]++;
    if (counts[(((uint64_t)keys[src[0]] ^ 0x8000000000000000ull) >> shift) & 255u] == n) continue;
    uint32_t at = 0;
    for (uint32_t d = 0; d < 256; d++) { const uint32_t c = counts[d]; counts[d] = at; at += c; }
    for (uint32_t i = 0; i < n; i++) dst[counts[(((uint64_t)keys[src[i]] ^ 0x8000000000000000ull) >> shift) & 255u]++] = src[i];
    uint32_t *t = src; src = dst; dst = t;
  }
  if (src != order) memcpy(order, src, n * sizeof(uint32_t));
}
