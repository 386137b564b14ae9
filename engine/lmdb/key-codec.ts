import type { KeyType } from '../keys.js';

/**
 * The binary key encoding of the persistent tier. A key is stored big-endian, int64 keys with the sign
 * bit flipped (8 bytes), uint32 keys as 4 bytes. LMDB compares keys with memcmp, so with this encoding
 * byte order is numeric order: a sorted import appends to the right edge of the B-tree (MDB_APPEND,
 * full pages, no splits in the middle) and a scan (export) returns keys in ascending numeric order.
 * Little-endian bytes would sort by the low byte first and scatter every insert.
 *
 * Keys come in as the engine's BigInt64Array bit patterns, read through a Uint32Array view of its two
 * 32-bit halves (little-endian host: low half first), so no BigInt is made per key.
 */
export class KeyCodec {
  readonly width: 4 | 8;
  /** The one reused key buffer; valid until the next encode. */
  readonly bytes: Buffer;
  private readonly view: DataView;

  constructor(readonly keyType: KeyType) {
    this.width = keyType === 'int64' ? 8 : 4;
    this.bytes = Buffer.alloc(this.width);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.width);
  }

  /** Encodes key i of `halves` (a Uint32Array view of a BigInt64Array) into `this.bytes`. */
  encode(halves: Uint32Array, i: number): Buffer {
    if (this.width === 8) {
      this.view.setUint32(0, (halves[2 * i + 1] ^ 0x80000000) >>> 0);
      this.view.setUint32(4, halves[2 * i]);
    } else {
      this.view.setUint32(0, halves[2 * i]);
    }
    return this.bytes;
  }

  /** Decodes a stored key into slot i of `halves`. */
  decode(stored: Uint8Array, halves: Uint32Array, i: number): void {
    const v = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
    if (this.width === 8) {
      halves[2 * i + 1] = (v.getUint32(0) ^ 0x80000000) >>> 0;
      halves[2 * i] = v.getUint32(4);
    } else {
      halves[2 * i + 1] = 0;
      halves[2 * i] = v.getUint32(0);
    }
  }

  /** The key's sort position as two unsigned 32-bit numbers (high, low) in stored byte order. */
  orderHigh(halves: Uint32Array, i: number): number {
    return this.width === 8 ? (halves[2 * i + 1] ^ 0x80000000) >>> 0 : 0;
  }
}

/** A Uint32Array view of the two halves of every key (no copy). */
export function keyHalves(keys: BigInt64Array): Uint32Array {
  return new Uint32Array(keys.buffer, keys.byteOffset, keys.length * 2);
}
