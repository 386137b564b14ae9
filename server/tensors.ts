import { badRequest } from './errors.js';

/**
 * One input tensor of an inference request, as both transports deliver it: raw little-endian bytes
 * (HTTP binary tensor extension, gRPC `raw_input_contents`) or values (HTTP JSON `data`, gRPC typed
 * `contents`). Decoding goes straight into typed arrays; no object is made per element.
 */
export interface InputTensor {
  name: string;
  datatype: string;
  shape: readonly number[];
  bytes: Uint8Array | null;
  values: readonly unknown[] | null;
}

const TWO_32 = 2 ** 32;

/** Element count of `shape`, checking every dimension is a non-negative integer. */
export function elementCount(tensor: { name: string; shape: readonly number[] }): number {
  let n = 1;
  for (const d of tensor.shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw badRequest(`input ${tensor.name}: shape [${tensor.shape.join(', ')}] is not valid: expected non-negative integer dimensions`);
    n *= d;
  }
  return n;
}

/** An INT64 tensor of `n` elements as a BigInt64Array (a view on the bytes when they are 8-byte aligned). */
export function int64Elements(t: InputTensor, n: number): BigInt64Array {
  if (t.bytes) {
    checkByteSize(t, n, 8);
    if (t.bytes.byteOffset % 8 === 0) return new BigInt64Array(t.bytes.buffer, t.bytes.byteOffset, n);
    const copy = new BigInt64Array(n);
    new Uint8Array(copy.buffer).set(t.bytes);
    return copy;
  }
  const out = new BigInt64Array(n);
  const halves = new Uint32Array(out.buffer);
  let i = 0;
  forEachValue(t, n, (v) => {
    if (typeof v === 'number' && Number.isSafeInteger(v)) {
      const hi = Math.floor(v / TWO_32);
      halves[2 * i] = v - hi * TWO_32;
      halves[2 * i + 1] = hi;
    } else if (typeof v === 'string' && /^-?\d+$/.test(v)) {
      // gRPC int64 contents arrive as decimal strings (exact beyond 2^53).
      out[i] = BigInt.asIntN(64, BigInt(v));
      if (out[i] !== BigInt(v)) throw badElement(t, i, v, 'an INT64 value');
    } else {
      throw badElement(t, i, v, 'an integer (a safe integer in JSON; use binary data for keys beyond 2^53)');
    }
    i++;
  });
  return out;
}

/** An INT32 tensor of `n` elements as an Int32Array. */
export function int32Elements(t: InputTensor, n: number): Int32Array {
  if (t.bytes) {
    checkByteSize(t, n, 4);
    if (t.bytes.byteOffset % 4 === 0) return new Int32Array(t.bytes.buffer, t.bytes.byteOffset, n);
    const copy = new Int32Array(n);
    new Uint8Array(copy.buffer).set(t.bytes);
    return copy;
  }
  const out = new Int32Array(n);
  let i = 0;
  forEachValue(t, n, (v) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw badElement(t, i, v, 'an INT32 value');
    out[i++] = v;
  });
  return out;
}

function checkByteSize(t: InputTensor, n: number, width: number): void {
  const bytes = t.bytes!.byteLength;
  if (bytes !== n * width) {
    throw badRequest(`input ${t.name}: ${bytes} bytes of data, but shape [${t.shape.join(', ')}] of ${t.datatype} needs ${n} x ${width} = ${n * width} bytes`);
  }
}

/** Calls `fn` for each element of the (possibly nested, row-major) values, checking there are exactly `n`. */
function forEachValue(t: InputTensor, n: number, fn: (v: unknown) => void): void {
  if (!t.values) throw badRequest(`input ${t.name}: no data: expected "data" (JSON) or binary data (binary_data_size, raw_input_contents)`);
  let seen = 0;
  const walk = (values: readonly unknown[]) => {
    for (const v of values) {
      if (Array.isArray(v)) {
        walk(v);
      } else {
        if (++seen > n) break;
        fn(v);
      }
    }
  };
  walk(t.values);
  if (seen !== n) {
    throw badRequest(`input ${t.name}: ${seen > n ? 'more than' : 'only'} ${Math.min(seen, n)} values${seen > n ? '' : ' given'}, but shape [${t.shape.join(', ')}] holds ${n}`);
  }
}

function badElement(t: InputTensor, i: number, v: unknown, expected: string): Error {
  return badRequest(`input ${t.name}: element ${i} (${JSON.stringify(v) ?? typeof v}) is not valid: expected ${expected}`);
}
