/**
 * Child process of the memory suite (a fresh process, so RSS growth is the host tier's alone): loads
 * `keys` random rows of `dim` into a HostArena in chunks, reusing the chunk buffers, then prints one
 * JSON line with the arena's memoryBytes(), RSS before and after, and a check of sampled rows.
 * Usage: node --expose-gc memory-probe.js KEYS DIM PARTITIONS
 */
import { seededRandom } from '../lib/random.js';

const [keys, dim, partitions] = process.argv.slice(2).map(Number);
const { HostArena } = await import(new URL('../../engine/host/host-arena.js', import.meta.url).href);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const CHUNK = 65536;
const keyChunk = new BigInt64Array(CHUNK);
const rowChunk = new Float32Array(CHUNK * dim);

/** Chunk c of the data set, the same on every call (seeded per chunk). */
function fill(c: number, count: number): void {
  const rand = seededRandom(1000 + c);
  const halves = new Uint32Array(keyChunk.buffer);
  for (let i = 0; i < count; i++) {
    halves[2 * i] = Math.imul(c * CHUNK + i, 0x9e3779b1) >>> 0;
    halves[2 * i + 1] = (rand() * 0x80000000) >>> 0;
  }
  for (let i = 0; i < count * dim; i++) rowChunk[i] = rand() * 2 - 1 || 0.5;
}

fill(0, Math.min(CHUNK, keys)); // touch the chunk buffers before the baseline
// Warm the code paths once (wasm compilation, the node binary's pages that loading and lookups run): a
// process-wide, one-time cost (about 5 MB of RSS) that is not the host tier's memory. The warm-up arena
// stays alive to the end, so that its own pages count before and after alike.
const warmKeys = Math.min(CHUNK, keys);
const warm = HostArena.create({ dim, numPartitions: partitions });
for (let c = 0; c < 4; c++) {
  fill(c, warmKeys);
  warm.insert(keyChunk.subarray(0, warmKeys), rowChunk.subarray(0, warmKeys * dim));
}
warm.lookup(keyChunk.subarray(0, warmKeys), new Float32Array(warmKeys * dim));
gc();
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
const arena = HostArena.create({ dim, numPartitions: partitions, overflowMargin: keys * 2, expectedKeys: keys });
for (let c = 0; c * CHUNK < keys; c++) {
  const count = Math.min(CHUNK, keys - c * CHUNK);
  fill(c, count);
  arena.insert(keyChunk.subarray(0, count), rowChunk.subarray(0, count * dim));
}
const loadSeconds = (performance.now() - t0) / 1000;
gc();
const rssAfter = process.memoryUsage().rss;

// Check the last chunk (still in the buffers) and the first.
let wrong = 0;
for (const c of [Math.ceil(keys / CHUNK) - 1, 0]) {
  const count = Math.min(CHUNK, keys - c * CHUNK);
  fill(c, count);
  const out = new Float32Array(count * dim);
  wrong += arena.lookup(keyChunk.subarray(0, count), out).length;
  for (let i = 0; i < count * dim; i++) if (out[i] !== rowChunk[i]) wrong++;
}
warm.close();
console.log(JSON.stringify({ memoryBytes: arena.memoryBytes(), rssBefore, rssAfter, loadSeconds, wrong, size: arena.size }));
