import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { SCALES } from '../lib/scales.js';
import type { Suite } from '../lib/suite.js';

/**
 * Bytes held by the host tier after loading, against the raw bytes (8-byte key + float32 row per key):
 * the arena's own count (memoryBytes) and the process's RSS growth, measured in a fresh child process.
 */
export const memorySuite: Suite = {
  name: 'memory',
  description: 'host tier bytes and RSS growth vs raw bytes (8 B key + row)',
  needs: [],
  async run(ctx, report) {
    const { keys, dim } = SCALES[ctx.scale].memory;
    const partitions = Math.max(1, Math.min(16, availableParallelism()));
    report.sizes = { keys, dim, partitions };
    const probe = new URL('../workers/memory-probe.js', import.meta.url).pathname;
    const run = spawnSync(process.execPath, ['--expose-gc', probe, String(keys), String(dim), String(partitions)], { encoding: 'utf8' });
    if (run.status !== 0) {
      const reason = /ERR_MODULE_NOT_FOUND/.test(run.stderr) ? 'engine/host/host-arena.ts is not built' : `the probe failed: ${run.stderr.trim().split('\n').slice(-3).join(' ')}`;
      report.skip('memory', reason);
      return;
    }
    const m = JSON.parse(run.stdout.trim().split('\n').pop()!) as { memoryBytes: number; rssBefore: number; rssAfter: number; loadSeconds: number; wrong: number; size: number };
    if (m.wrong) throw new Error(`memory: ${m.wrong} wrong or missing values in the sampled chunks`);
    if (m.size !== keys) throw new Error(`memory: the arena holds ${m.size} keys, expected ${keys}`);
    const one = (v: number) => ({ median: v, min: v, max: v, samples: 1 });
    const raw = report.figure('raw bytes', 'bytes', one(keys * (8 + 4 * dim)), '8-byte key + dim x 4-byte row per key');
    const held = report.figure('host tier bytes', 'bytes', one(m.memoryBytes), 'HostArena.memoryBytes(): bytes of the partition memories');
    const rss = report.figure('RSS growth', 'bytes', one(m.rssAfter - m.rssBefore), `fresh process; load took ${m.loadSeconds.toFixed(2)} s`);
    report.ratio('host tier bytes / raw', held, raw, 1.15, '<=');
    report.ratio('RSS growth / raw', rss, raw, 1.15, '<=');
  },
};
