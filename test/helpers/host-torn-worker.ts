import { parentPort, workerData } from 'node:worker_threads';
import { HostArena, type HostArenaHandle } from '../../engine/host/host-arena.js';
import { randomKeys, rng } from './host-random.js';

/**
 * A thread of the torn-read test. Writers rewrite the hot keys with rows whose elements all equal a
 * per-write stamp (and, by mode, insert new keys to make the arena grow or overflow); readers look the
 * hot keys up until they have read `rowsTarget` rows and report every row that is not uniform.
 */
export interface TornSetup {
  handle: HostArenaHandle;
  role: 'writer' | 'reader';
  mode: 'rewrite' | 'grow' | 'evict' | 'rebuild';
  hot: BigInt64Array;
  /** [0]: stop flag for the writer; [1]: the writer's rounds so far (readers read until it did a few). */
  control: Int32Array;
  rowsTarget: number;
  seed: number;
}

const setup = workerData as TornSetup;
const MIN_WRITER_ROUNDS = 6;
const arena = HostArena.attach(setup.handle);
const dim = arena.dim;
const hot = setup.hot;

if (setup.role === 'writer') {
  const rand = rng(setup.seed);
  const rows = new Float32Array(hot.length * dim);
  let stamp = 0, added = 0;
  while (Atomics.load(setup.control, 0) === 0) {
    stamp++;
    Atomics.store(setup.control, 1, stamp);
    rows.fill(stamp);
    arena.insert(hot, rows);
    if (setup.mode === 'grow' && added < 300000 || setup.mode === 'evict') {
      const fresh = randomKeys(rand, 1000);
      arena.insert(fresh, new Float32Array(fresh.length * dim).fill(-stamp));
      added += fresh.length;
    }
    if (setup.mode === 'rebuild') {
      // Fresh keys in and out again: their tombstones make the index rebuild every few rounds, so that
      // readers still probing a retired index overlap the next rewrite of the hot keys.
      const fresh = randomKeys(rand, 2000);
      arena.insert(fresh, new Float32Array(fresh.length * dim).fill(-stamp));
      arena.erase(fresh);
      added += fresh.length;
    }
  }
  parentPort!.postMessage({ writes: stamp, added });
} else {
  // 'rebuild' readers ask for the hot keys 16 times over, so that each kernel call runs long.
  const keys = setup.mode === 'rebuild' ? new BigInt64Array(hot.length * 16).map((_, i) => hot[i % hot.length]) : hot;
  const out = new Float32Array(keys.length * dim);
  const last = new Float64Array(hot.length);
  let rowsRead = 0, torn = 0, backwards = 0, missing = 0;
  let firstTorn = '';
  // Enough rows, and overlapping several writer rounds even when the machine gives the writer little time.
  while (rowsRead < setup.rowsTarget || Atomics.load(setup.control, 1) < MIN_WRITER_ROUNDS) {
    const miss = arena.lookup(keys, out);
    missing += miss.length;
    let m = 0;
    for (let i = 0; i < keys.length; i++) {
      if (m < miss.length && miss[m] === i) { m++; continue; }
      const base = i * dim, v = out[base];
      for (let j = 1; j < dim; j++) {
        if (out[base + j] !== v) {
          if (!torn) firstTorn = `key ${keys[i]}: element 0 is ${v}, element ${j} is ${out[base + j]}`;
          torn++;
          break;
        }
      }
      // Without eviction a key's stamp never goes back for one reader (each read is one point in time).
      const h = i % hot.length;
      if (setup.mode !== 'evict' && i < hot.length && v < last[h]) backwards++;
      if (i < hot.length) last[h] = v;
    }
    rowsRead += keys.length;
  }
  parentPort!.postMessage({ rowsRead, torn, firstTorn, backwards, missing });
}
arena.close();
