import { describeValue, HpsError } from './errors.js';

/** Key types a table can have (HPS: int64 `long long`, or `unsigned int`). */
export type KeyType = 'int64' | 'uint32';

/** What the API accepts as keys. */
export type KeyInput = BigInt64Array | BigUint64Array | Int32Array | Uint32Array | readonly number[];

const TWO_32 = 2 ** 32;

/**
 * Validates `input` for a table of `keyType` and returns the keys as 64-bit two's-complement bit
 * patterns in a BigInt64Array, the one key representation used inside the engine (wasm kernels, LMDB,
 * the CUDA addon). A BigInt64Array input is returned as it is (no copy) when valid. Conversion works on
 * 32-bit halves so that no BigInt is created per key. `where` names the argument in error messages.
 */
export function normalizeKeys(input: KeyInput, keyType: KeyType, where = 'keys'): BigInt64Array {
  if (input instanceof BigInt64Array) {
    if (keyType === 'uint32') checkHalves(new Uint32Array(input.buffer, input.byteOffset, input.length * 2), where, 'uint32');
    return input;
  }
  if (input instanceof BigUint64Array) {
    const halves = new Uint32Array(input.buffer, input.byteOffset, input.length * 2);
    checkHalves(halves, where, keyType === 'uint32' ? 'uint32' : 'uint64-as-int64');
    return new BigInt64Array(input.buffer, input.byteOffset, input.length);
  }
  if (!(input instanceof Int32Array) && !(input instanceof Uint32Array) && !Array.isArray(input)) {
    throw new HpsError('BAD_KEY', `${where}: expected a BigInt64Array, BigUint64Array, Int32Array, Uint32Array or an array of safe integers, got ${describeValue(input)}`);
  }
  const out = new BigInt64Array(input.length);
  const halves = new Uint32Array(out.buffer);
  if (input instanceof Int32Array) {
    for (let i = 0; i < input.length; i++) {
      const v = input[i];
      if (keyType === 'uint32' && v < 0) throw badKey(where, i, String(v), 'a key >= 0 for a uint32 table');
      halves[2 * i] = v >>> 0;
      halves[2 * i + 1] = v < 0 ? 0xffffffff : 0;
    }
    return out;
  }
  if (input instanceof Uint32Array) {
    for (let i = 0; i < input.length; i++) halves[2 * i] = input[i];
    return out;
  }
  for (let i = 0; i < input.length; i++) {
    const v = input[i];
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
      throw badKey(where, i, typeof v === 'number' ? String(v) : describeValue(v), 'a safe integer (use a BigInt64Array for keys beyond 2^53)');
    }
    if (keyType === 'uint32' && (v < 0 || v >= TWO_32)) throw badKey(where, i, String(v), 'an integer in [0, 4294967295] for a uint32 table');
    const hi = Math.floor(v / TWO_32);
    halves[2 * i] = v - hi * TWO_32;
    halves[2 * i + 1] = hi;
  }
  return out;
}

function checkHalves(halves: Uint32Array, where: string, rule: 'uint32' | 'uint64-as-int64'): void {
  for (let i = 0; i < halves.length; i += 2) {
    const hi = halves[i + 1];
    if (rule === 'uint32' ? hi !== 0 : hi >= 0x80000000) {
      const value = (BigInt(hi) << 32n) | BigInt(halves[i]);
      const shown = rule === 'uint32' && hi >= 0x80000000 ? value - (1n << 64n) : value;
      throw badKey(where, i / 2, shown.toString(), rule === 'uint32' ? 'an integer in [0, 4294967295] for a uint32 table' : 'a key below 2^63 for an int64 table');
    }
  }
}

function badKey(where: string, index: number, value: string, expected: string): HpsError {
  return new HpsError('BAD_KEY', `${where}[${index}]: key ${value} is not valid: expected ${expected}`);
}

