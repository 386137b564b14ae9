/**
 * Moving the keys and rows of a subset of positions between a request's arrays and a compact array
 * of that subset (the keys a tier missed, handed to the next tier). Keys are copied as 32-bit halves
 * so no BigInt is made per key.
 */

/** The keys at `positions`, in that order. */
export function pickKeys(keys: BigInt64Array, positions: Uint32Array): BigInt64Array {
  const picked = new BigInt64Array(positions.length);
  const from = new Uint32Array(keys.buffer, keys.byteOffset, keys.length * 2);
  const to = new Uint32Array(picked.buffer);
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i] * 2;
    to[2 * i] = from[p];
    to[2 * i + 1] = from[p + 1];
  }
  return picked;
}

/** Rows `positions[i]` of `rows` gathered into a new compact array (row i). */
export function pickRows(rows: Float32Array, positions: Uint32Array, dim: number): Float32Array {
  const picked = new Float32Array(positions.length * dim);
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i] * dim;
    picked.set(rows.subarray(p, p + dim), i * dim);
  }
  return picked;
}

/** Row i of `compact` written to row `positions[i]` of `rows`. */
export function placeRows(compact: Float32Array, positions: Uint32Array, rows: Float32Array, dim: number): void {
  for (let i = 0; i < positions.length; i++) {
    rows.set(compact.subarray(i * dim, (i + 1) * dim), positions[i] * dim);
  }
}

/** `outer[inner[i]]` for each i: positions of a subset's subset, in the request's numbering. */
export function composePositions(outer: Uint32Array, inner: Uint32Array): Uint32Array {
  const composed = new Uint32Array(inner.length);
  for (let i = 0; i < inner.length; i++) composed[i] = outer[inner[i]];
  return composed;
}

/** Fills rows `positions` of `rows` with `value` (the table's default vector). */
export function fillRows(rows: Float32Array, positions: Uint32Array, dim: number, value: number): void {
  for (let i = 0; i < positions.length; i++) rows.fill(value, positions[i] * dim, (positions[i] + 1) * dim);
}
