import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A seeded xorshift32 generator: tests are random but repeatable. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** `n` distinct random int64 keys over the whole range (negative ones included). */
export function randomInt64Keys(n: number, seed: number): BigInt64Array {
  const next = rng(seed);
  const keys = new BigInt64Array(n);
  const seen = new Set<bigint>();
  for (let i = 0; i < n; ) {
    const k = BigInt.asIntN(64, (BigInt(next()) << 32n) | BigInt(next()));
    if (seen.has(k)) continue;
    seen.add(k);
    keys[i++] = k;
  }
  return keys;
}

/** `n` distinct random uint32 keys (as int64 bit patterns), including values >= 2^31. */
export function randomUint32Keys(n: number, seed: number): BigInt64Array {
  const next = rng(seed);
  const keys = new BigInt64Array(n);
  const seen = new Set<number>();
  for (let i = 0; i < n; ) {
    const k = next();
    if (seen.has(k)) continue;
    seen.add(k);
    keys[i++] = BigInt(k);
  }
  return keys;
}

/** Random non-zero float32 values in (-1, 1). */
export function randomVectors(n: number, dim: number, seed: number): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < out.length; i++) out[i] = (next() / 0x100000000) * 2 - 1 || 0.5;
  return out;
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `hps-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Row i of `vectors` (dim wide) as a plain array, for deep-equal assertions. */
export function row(vectors: Float32Array, i: number, dim: number): number[] {
  return Array.from(vectors.subarray(i * dim, (i + 1) * dim));
}
