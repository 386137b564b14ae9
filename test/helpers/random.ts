/** mulberry32: a seeded generator of floats in [0, 1), so random tests repeat exactly. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` random 64-bit keys (any bit pattern, repeats possible). */
export function randomBitKeys(rand: () => number, n: number): BigInt64Array {
  const keys = new BigInt64Array(n);
  const halves = new Uint32Array(keys.buffer);
  for (let i = 0; i < halves.length; i++) halves[i] = Math.floor(rand() * 4294967296);
  return keys;
}
