import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunContext } from './context.js';
import { loadEngine } from './engine.js';

type PsModule = typeof import('../../engine/parameter-server.js');
export type Server = import('../../engine/parameter-server.js').ParameterServer;

export const HOST_MODEL = 'host';
export const HOST_TABLE = 't0';

/**
 * A ParameterServer over the host table with the default configuration (L1 at HPS's 20%, the whole
 * table loaded into L2 at open, LMDB below, the default worker pool), opened once per run from a
 * HugeCTR folder in a temp dir and closed (the folder removed) when the run ends.
 */
export function hostServer(ctx: RunContext): Promise<{ server: Server; tiers: string[]; openSeconds: number } | { missing: string }> {
  return ctx.shared('host-server', async () => {
    const ps = await loadEngine<PsModule>('parameter-server.js');
    if ('missing' in ps) return ps;
    const table = ctx.table();
    const dir = mkdtempSync(join(tmpdir(), 'hps-bench-host-server-'));
    const folder = join(dir, 'sparse', HOST_TABLE);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'key'), table.keyList);
    writeFileSync(join(folder, 'emb_vector'), table.rows);
    const t0 = performance.now();
    let server: Server;
    try {
      server = await ps.module.ParameterServer.open({
        // maxBatchSize 1024 x 26 keys per sample: the server suite's 16,384-key requests fit its key limit.
        models: [{ name: HOST_MODEL, maxBatchSize: 1024, tables: [{ name: HOST_TABLE, dim: table.dim, sparseFile: folder }] }],
        persistentDb: { type: 'lmdb', path: join(dir, 'lmdb') },
      }, { progress: false });
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const openSeconds = (performance.now() - t0) / 1000;
    ctx.onClose(async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return { server, tiers: server.info().models[0].tables[0].tiers, openSeconds };
  });
}
