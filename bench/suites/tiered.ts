import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEngine } from '../lib/engine.js';
import { buildHostTable, batchKeys, checkBatch, STREAMS } from '../lib/host-table.js';
import { openLmdbPeer } from '../lib/lmdb-peer.js';
import { samplesAsync, samplesSync } from '../lib/measure.js';
import { SCALES } from '../lib/scales.js';
import { summarize } from '../lib/stats.js';
import type { Suite } from '../lib/suite.js';

/** Slices in which each side of the warm ratio is measured, in turn. */
const ROUNDS = 5;

type PsModule = typeof import('../../engine/parameter-server.js');
type Server = import('../../engine/parameter-server.js').ParameterServer;

/** Per-tier hit counts as ParameterServer.stats() reports them for a table. */
interface HitSnapshot {
  uniqueKeys: number;
  l1: { hits: number };
  l2: { hits: number };
  l3: { hits: number };
  defaults: number;
}

const MODEL = 'bench';
const TABLE = 't0';

/**
 * L1 + L2 + L3 from a cold start: the table imported into LMDB from a HugeCTR folder when the store
 * opens, L2 (HostArena) capped at 25% of the rows by its overflow margin and empty at start, L1 (the
 * WASM cache) at 5% of the rows. A first pass over each query stream shows the cold behaviour; the
 * benchmark.js figure is then taken at a warm state and compared with lmdb-js per key on the same rows.
 */
export const tieredSuite: Suite = {
  name: 'tiered',
  description: 'ParameterServer L1 (5%) + L2 (25%) + L3 (LMDB) from a cold start vs lmdb-js per key',
  needs: [],
  async run(ctx, report) {
    const sizes = SCALES[ctx.scale].tiered;
    const ps = await loadEngine<PsModule>('parameter-server.js');
    if ('missing' in ps) {
      report.skip('tiered', ps.missing);
      return;
    }
    const partitions = Math.max(1, Math.min(16, availableParallelism()));
    const table = buildHostTable(sizes);
    report.sizes = { keys: sizes.keys, dim: sizes.dim, batch: sizes.batch, batches: sizes.batches, l1: '5% of rows', l2: '25% of rows', partitions };
    const dir = mkdtempSync(join(tmpdir(), 'hps-bench-tiered-'));
    let server: Server | undefined;
    let peer: Awaited<ReturnType<typeof openLmdbPeer>> | undefined;
    const peerOut = new Float32Array(sizes.batch * sizes.dim);
    try {
      const folder = join(dir, 'sparse', TABLE);
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, 'key'), table.keyList);
      writeFileSync(join(folder, 'emb_vector'), table.rows);
      const t0 = performance.now();
      server = await ps.module.ParameterServer.open({
        models: [{
          name: MODEL,
          tables: [{ name: TABLE, dim: sizes.dim, sparseFile: folder }],
          l1Enabled: true, l1CacheFraction: 0.05, l1Backend: 'wasm', l1Policy: 'lru',
        }],
        volatileDb: {
          type: 'parallel_hash_map', numPartitions: partitions,
          overflowMargin: Math.ceil((0.25 * sizes.keys) / partitions), initialCacheRate: 0, cacheMissedEmbeddings: true,
        },
        persistentDb: { type: 'lmdb', path: join(dir, 'lmdb') },
      }, { progress: false });
      const openSeconds = (performance.now() - t0) / 1000;
      const tiers = server.info().models[0].tables[0].tiers;
      report.note(`open with the import of ${sizes.keys} rows took ${openSeconds.toFixed(1)} s; tiers: ${tiers.join(' -> ')}`);
      if (tiers.length < 3) {
        report.skip('tiered', `the ParameterServer serves this table from ${tiers.join(', ') || 'no tier'} only (L1 and L2 not wired in yet)`);
        return;
      }
      const srv = server;
      const out = new Float32Array(sizes.batch * sizes.dim);
      const lookup = (keys: BigInt64Array) => srv.lookup(MODEL, TABLE, keys, out);
      for (const stream of STREAMS) {
        // Cold pass: each batch once, in order, rows checked; per-batch rates are the samples.
        const before = hitSnapshot(srv);
        const cold: number[] = [];
        for (let b = 0; b < table.batches; b++) {
          const s = performance.now();
          await lookup(batchKeys(table, stream, b));
          cold.push(table.batch / ((performance.now() - s) / 1000));
          const bad = checkBatch(table, stream, b, out);
          if (bad) throw new Error(`tiered: wrong row at ${bad}`);
        }
        ctx.record('tiered', report.figure(`tiered first pass ${stream}`, 'keys/s', summarize(cold), `each batch once from the state the previous stream left${stream === 'zipf' ? ' (cold: empty L1 and L2)' : ''}`));
        hitRates(report, `first pass ${stream}`, before, hitSnapshot(srv));
        // Warm: ROUNDS slices of the tiered lookups, each followed by a slice of lmdb-js per key on the
        // same rows (its own environment, page cache warmed once), so both sides see the same load.
        if (!peer) {
          peer = await openLmdbPeer(table.keyList, table.rows, table.dim);
          for (const st of STREAMS) for (let pb = 0; pb < table.batches; pb++) peer.lookup(batchKeys(table, st, pb), peerOut);
        }
        const p = peer;
        const warmBefore = hitSnapshot(srv);
        const slice = { maxTime: ctx.measure.maxTime / ROUNDS, minSamples: Math.max(2, Math.ceil(ctx.measure.minSamples / ROUNDS)) };
        const tieredRates: number[] = [], peerRates: number[] = [];
        let b = 0, pb = 0;
        for (let r = 0; r < ROUNDS; r++) {
          tieredRates.push(...await samplesAsync(`tiered ${stream}`, () => lookup(batchKeys(table, stream, b++)), table.batch, slice));
          peerRates.push(...samplesSync(`lmdb ${stream}`, () => p.lookup(batchKeys(table, stream, pb++), peerOut), table.batch, slice));
        }
        const tiered = report.figure(`tiered warm ${stream}`, 'keys/s', summarize(tieredRates), `${ROUNDS} slices interleaved with lmdb-js per key`);
        ctx.record('tiered', tiered);
        hitRates(report, `warm ${stream}`, warmBefore, hitSnapshot(srv));
        const lmdb = report.figure(`lmdb-js per key ${stream}`, 'keys/s', summarize(peerRates), `getBinaryFast per key on the same rows, warm page cache; ${ROUNDS} slices interleaved with the tiered lookups`);
        ctx.record('tiered', lmdb);
        report.ratio(`tiered warm vs lmdb-js per key (${stream})`, tiered, lmdb, 5);
      }
    } finally {
      await peer?.close();
      await server?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

function hitSnapshot(server: Server): HitSnapshot | null {
  const stats = (server as unknown as { stats?: () => (HitSnapshot & { model: string; table: string })[] }).stats;
  if (typeof stats !== 'function') return null;
  return stats.call(server).find((s) => s.model === MODEL && s.table === TABLE) ?? null;
}

/** Hit rates per tier over an interval, as fractions of the distinct keys asked (added up per request). */
function hitRates(report: import('../lib/results.js').SuiteReport, phase: string, a: HitSnapshot | null, b: HitSnapshot | null): void {
  if (!a || !b) {
    if (phase.startsWith('first pass zipf')) report.note('hit rates per tier: this ParameterServer exposes no stats()');
    return;
  }
  const unique = b.uniqueKeys - a.uniqueKeys;
  const pct = (x: number) => `${((100 * x) / Math.max(1, unique)).toFixed(1)}%`;
  report.note(`${phase}: of ${unique} distinct keys per request (summed), L1 ${pct(b.l1.hits - a.l1.hits)}, L2 ${pct(b.l2.hits - a.l2.hits)}, L3 ${pct(b.l3.hits - a.l3.hits)}, default ${pct(b.defaults - a.defaults)}`);
}
