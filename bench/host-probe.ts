/**
 * Host-tier probe (docs/host-tier.md): memory overhead per overflow policy, with and without
 * expectedKeys, and the lookup rate of HostArena against plain gathers of the same rows, in one process
 * and interleaved (best of many rounds, thread CPU time) so that a busy machine disturbs the ratios less.
 * The bench suites (npm run bench -- --only host,memory) give the official figures against the C limit.
 *
 *   node dist/bench/host-probe.js [memKeys=4194304] [memDim=16] [gatherKeys=262144] [gatherDim=128] [partitions=2]
 */
import { HostArena } from '../engine/host/host-arena.js';
import type { OverflowPolicy } from '../engine/config/types.js';

const [memKeys, memDim, gatherKeys, gatherDim, partitions] = [4194304, 16, 262144, 128, 2]
  .map((d, i) => Number(process.argv[2 + i] ?? d));

function keyOf(i: number): bigint {
  return BigInt(i) * 0x9e3779b97f4a7c15n - 0x7000000000000000n;
}

function load(arena: HostArena, keys: number, dim: number): void {
  const CHUNK = 65536;
  const k = new BigInt64Array(CHUNK);
  const rows = new Float32Array(CHUNK * dim);
  for (let start = 0; start < keys; start += CHUNK) {
    const n = Math.min(CHUNK, keys - start);
    for (let i = 0; i < n; i++) k[i] = keyOf(start + i);
    for (let i = 0; i < n * dim; i++) rows[i] = ((start * dim + i) % 1000) / 1000 + 0.001;
    arena.insert(k.subarray(0, n), rows.subarray(0, n * dim));
  }
}

console.log(`memory: ${memKeys} keys x dim ${memDim}, ${partitions} partitions; raw = 8-byte key + row`);
for (const policy of ['evict_random', 'evict_least_used'] as OverflowPolicy[]) {
  for (const expected of [true, false]) {
    const arena = HostArena.create({ dim: memDim, numPartitions: partitions, overflowPolicy: policy, ...(expected ? { expectedKeys: memKeys } : {}) });
    load(arena, memKeys, memDim);
    const raw = memKeys * (8 + 4 * memDim);
    const l = arena.layout(0);
    console.log(`  ${policy.padEnd(16)} expectedKeys ${expected ? 'given' : 'absent'}: ${(arena.memoryBytes() / raw).toFixed(3)}x raw` +
      ` (row ${l.rowBytes} B, slot ${l.slotBytes} B, index load ${(l.indexUsed / l.indexCapacity).toFixed(2)})`);
    arena.close();
  }
}

const B = 16384;
const table = new Float32Array(gatherKeys * gatherDim).map((_, i) => (i % 977) / 977 + 0.001);
const allKeys = new BigInt64Array(gatherKeys).map((_, i) => keyOf(i));
const index = new Uint32Array(B);
let seed = 12345;
for (let i = 0; i < B; i++) {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  index[i] = seed % gatherKeys;
}
const batch = new BigInt64Array(B).map((_, i) => allKeys[index[i]]);
const out = new Float32Array(B * gatherDim);

const contenders: [string, () => void][] = [];
for (const p of [1, partitions]) {
  const arena = HostArena.create({ dim: gatherDim, numPartitions: p, expectedKeys: gatherKeys });
  for (let s = 0; s < gatherKeys; s += 65536) {
    const e = Math.min(gatherKeys, s + 65536);
    arena.insert(allKeys.subarray(s, e), table.subarray(s * gatherDim, e * gatherDim));
  }
  if (arena.lookup(batch, out).length) throw new Error('host-probe: keys missing');
  for (let i = 0; i < B * gatherDim; i++) if (out[i] !== table[index[Math.floor(i / gatherDim)] * gatherDim + (i % gatherDim)]) throw new Error('host-probe: wrong row');
  contenders.push([`HostArena.lookup, ${p} partition${p > 1 ? 's' : ''}`, () => arena.lookup(batch, out)]);
}
const shared = new Float32Array(new SharedArrayBuffer(table.byteLength));
shared.set(table);
contenders.push(['JS gather by row index (out.set per row)', () => {
  for (let i = 0; i < B; i++) out.set(table.subarray(index[i] * gatherDim, (index[i] + 1) * gatherDim), i * gatherDim);
}]);
contenders.push(['same from a SharedArrayBuffer table', () => {
  for (let i = 0; i < B; i++) out.set(shared.subarray(index[i] * gatherDim, (index[i] + 1) * gatherDim), i * gatherDim);
}]);
const best = contenders.map(() => 0);
for (let round = 0; round < 25; round++) {
  contenders.forEach(([, fn], j) => {
    const c0 = process.cpuUsage();
    for (let r = 0; r < 3; r++) fn();
    const c = process.cpuUsage(c0);
    best[j] = Math.max(best[j], (3 * B) / ((c.user + c.system) / 1e6));
  });
}
console.log(`gather: batches of ${B} uniform keys over ${gatherKeys} keys x dim ${gatherDim} (best of 25 rounds, CPU time)`);
contenders.forEach(([name], j) => console.log(`  ${name.padEnd(44)} ${(best[j] / 1e6).toFixed(2)} M keys/s  (${(best[j] / best[0]).toFixed(2)}x the first)`));
