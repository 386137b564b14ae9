import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEngine } from '../lib/engine.js';
import { distinctKeys, randomRows, uniformRows } from '../lib/random.js';
import { SCALES } from '../lib/scales.js';
import { summarize } from '../lib/stats.js';
import { timeRuns } from '../lib/measure.js';
import type { Suite } from '../lib/suite.js';

type Hugectr = typeof import('../../engine/import/hugectr.js');
type ImportTable = typeof import('../../engine/import/import-table.js');
type Lmdb = typeof import('../../engine/lmdb/lmdb-store.js');

/**
 * A HugeCTR sparse-model folder (`key`: int64, `emb_vector`: float32 rows) imported into LMDB by the
 * engine's importer, against `cp` of the same two files (same disk, warm page cache for both). Rates
 * are source bytes per second; the import also checks sampled rows against the generated data.
 */
export const importSuite: Suite = {
  name: 'import',
  description: 'HugeCTR folder into LMDB (engine importer) vs cp of the same files',
  needs: [],
  async run(ctx, report) {
    const sizes = SCALES[ctx.scale].import;
    report.sizes = { keys: sizes.keys, dim: sizes.dim, runs: sizes.runs };
    const hugectr = await loadEngine<Hugectr>('import/hugectr.js');
    const importer = await loadEngine<ImportTable>('import/import-table.js');
    const lmdb = await loadEngine<Lmdb>('lmdb/lmdb-store.js');
    if ('missing' in hugectr || 'missing' in importer || 'missing' in lmdb) {
      const why = [hugectr, importer, lmdb].map((m) => ('missing' in m ? m.missing : '')).filter(Boolean).join('; ');
      report.skip('import', why);
      return;
    }

    const dir = mkdtempSync(join(tmpdir(), 'hps-bench-import-'));
    try {
      const folder = join(dir, 'model', 'table0');
      mkdirSync(folder, { recursive: true });
      const keys = distinctKeys(sizes.keys, 7);
      const rows = randomRows(sizes.keys * sizes.dim, 8);
      writeFileSync(join(folder, 'key'), keys);
      writeFileSync(join(folder, 'emb_vector'), rows);
      const bytes = keys.byteLength + rows.byteLength;

      const copyTo = join(dir, 'copy');
      execFileSync('cp', ['-r', folder, join(dir, 'warm')]); // warms the page cache for both sides
      rmSync(join(dir, 'warm'), { recursive: true });
      const cpSeconds = await timeRuns(sizes.runs, () => {
        execFileSync('cp', ['-r', folder, copyTo]);
        execFileSync('sync', [copyTo]);
        rmSync(copyTo, { recursive: true });
      });
      const cp = report.figure('cp', 'bytes/s', summarize(cpSeconds.map((s) => bytes / s)), 'cp -r of the folder then sync of the copy');

      const lmdbRoot = join(dir, 'lmdb');
      let checked = false;
      const importSeconds = await timeRuns(sizes.runs, async () => {
        rmSync(lmdbRoot, { recursive: true, force: true });
        const store = lmdb.module.LmdbStore.open(lmdbRoot, 'bench');
        try {
          await importer.module.importTable(store, 'table0', hugectr.module.openHugeCtrFolder(folder), { keyType: 'int64', progress: false });
          if (!checked) {
            checkImported(store, keys, rows, sizes.dim);
            checked = true;
          }
        } finally {
          await store.close();
        }
      });
      const imp = report.figure('import HugeCTR -> LMDB', 'bytes/s', summarize(importSeconds.map((s) => bytes / s)),
        `${human(sizes.keys / (importSeconds.reduce((a, b) => a + b) / importSeconds.length))} keys/s mean; includes opening and closing the store`);
      ctx.record('import', cp);
      ctx.record('import', imp);
      report.ratio('import vs cp', imp, cp, 0.5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

function checkImported(store: import('../../engine/lmdb/lmdb-store.js').LmdbStore, keys: BigInt64Array, rows: Float32Array, dim: number): void {
  const picks = uniformRows(keys.length, 1024, 9);
  const sample = new BigInt64Array(picks.length);
  picks.forEach((r, i) => (sample[i] = keys[r]));
  const out = new Float32Array(picks.length * dim);
  const missing = store.get('table0', sample, out);
  if (missing.length) throw new Error(`import: ${missing.length} of 1024 sampled keys missing after the import`);
  picks.forEach((r, i) => {
    for (let d = 0; d < dim; d++) {
      if (out[i * dim + d] !== rows[r * dim + d]) throw new Error(`import: row of key ${keys[r]} differs at element ${d}`);
    }
  });
}

function human(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : `${(v / 1e3).toFixed(1)}k`;
}
