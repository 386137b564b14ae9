/*
 * HPS's partition hash: a key's partition is rrxmrrxmsx_0(key) % num_partitions, where rrxmrrxmsx_0 is
 * Pelle Evensen's 64-bit mixer (HugeCTR database_backend_detail.hpp). It is computed here on 32-bit
 * halves so that no BigInt is made per key; `partitionOfBig` is the BigInt reference the tests use.
 */

const M1_HI = 0xa24baed4;
const M1_LO = 0x963ee407;
const M2_HI = 0x9fb21c65;
const M2_LO = 0x1e98df25;

/** Scratch for the 64-bit value being mixed, as [hi, lo] unsigned 32-bit words. */
let hi = 0;
let lo = 0;

/** (hi, lo) rotated right by n (0 < n < 64), returned through rHi/rLo. */
let rHi = 0;
let rLo = 0;
function rotr(h: number, l: number, n: number): void {
  if (n >= 32) {
    const t = h;
    h = l;
    l = t;
    n -= 32;
  }
  if (n === 0) {
    rHi = h;
    rLo = l;
    return;
  }
  rHi = ((h >>> n) | (l << (32 - n))) >>> 0;
  rLo = ((l >>> n) | (h << (32 - n))) >>> 0;
}

/** Low 32 bits and high 32 bits of the full product of two unsigned 32-bit numbers. */
let pHi = 0;
let pLo = 0;
function mul32(a: number, b: number): void {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  // Middle terms fit 33 bits: add them as doubles, then split.
  const mid = p01 + p10 + (p00 >>> 16);
  pLo = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
  pHi = (p11 + Math.floor(mid / 65536)) >>> 0;
}

/** (hi, lo) *= (mHi, mLo) modulo 2^64. */
function mul64(mHi: number, mLo: number): void {
  mul32(lo, mLo);
  const newLo = pLo;
  const carry = pHi;
  const newHi = (carry + Math.imul(hi, mLo) + Math.imul(lo, mHi)) >>> 0;
  hi = newHi;
  lo = newLo;
}

/** x ^= rotr(x, a) ^ rotr(x, b). */
function xorRot(a: number, b: number): void {
  rotr(hi, lo, a);
  let h = rHi;
  let l = rLo;
  rotr(hi, lo, b);
  h ^= rHi;
  l ^= rLo;
  hi = (hi ^ h) >>> 0;
  lo = (lo ^ l) >>> 0;
}

/** rrxmrrxmsx_0 of the 64-bit value (keyHi, keyLo); the result is left in (hi, lo). */
function mix(keyHi: number, keyLo: number): void {
  hi = keyHi >>> 0;
  lo = keyLo >>> 0;
  xorRot(25, 50);
  mul64(M1_HI, M1_LO);
  xorRot(24, 49);
  mul64(M2_HI, M2_LO);
  // x ^= x >> 28
  const sLo = ((lo >>> 28) | (hi << 4)) >>> 0;
  const sHi = hi >>> 28;
  lo = (lo ^ sLo) >>> 0;
  hi = (hi ^ sHi) >>> 0;
}

const TWO_32 = 4294967296;

/**
 * Partition of every key: `parts[i] = rrxmrrxmsx_0(keys[i]) % numPartitions`. A key is hashed as HPS
 * hashed it: its value widened to 64 bits (a uint32 key's high half is 0; an int64 key as its bits).
 */
export function partitionsOf(keys: BigInt64Array, numPartitions: number, parts = new Uint32Array(keys.length)): Uint32Array {
  const halves = new Uint32Array(keys.buffer, keys.byteOffset, keys.length * 2);
  const shift = TWO_32 % numPartitions;
  for (let i = 0; i < keys.length; i++) {
    mix(halves[2 * i + 1], halves[2 * i]);
    // (hi * 2^32 + lo) mod n, with every product below 2^53.
    parts[i] = ((hi % numPartitions) * shift + (lo % numPartitions)) % numPartitions;
  }
  return parts;
}

const MASK = (1n << 64n) - 1n;
const rotrBig = (x: bigint, n: bigint) => ((x >> n) | (x << (64n - n))) & MASK;

/** The BigInt form of rrxmrrxmsx_0, written straight from the C source: the reference for tests. */
export function rrxmrrxmsx0Big(key: bigint): bigint {
  let x = key & MASK;
  x ^= rotrBig(x, 25n) ^ rotrBig(x, 50n);
  x = (x * 0xa24baed4963ee407n) & MASK;
  x ^= rotrBig(x, 24n) ^ rotrBig(x, 49n);
  x = (x * 0x9fb21c651e98df25n) & MASK;
  return x ^ (x >> 28n);
}
