import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STREAMS, type StreamName } from '../lib/host-table.js';
import type { RunContext } from '../lib/context.js';
import { summarize } from '../lib/stats.js';
import type { Suite } from '../lib/suite.js';

/**
 * The hardware limit of the host workload: a C program, written here and compiled at run time with
 * `cc -O3`, that gathers the same rows for the same batches with memcpy by a precomputed row index
 * (no hashing, no probing). One thread, like the host one-thread figure it is compared with.
 */
const GATHER_C = String.raw`
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *slurp(const char *path, size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes)) { perror("posix_memalign"); exit(2); }
  FILE *f = fopen(path, "rb");
  if (!f || fread(p, 1, bytes, f) != bytes) { fprintf(stderr, "cannot read %s\n", path); exit(2); }
  fclose(f);
  return p;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* usage: gather ROWS_FILE INDEX_FILE keys dim batch batches minTime minSamples
   prints "checksum N" (uint32 sum of the words of batch 0's output) then one line per sample:
   "sample SECONDS_PER_BATCH" */
int main(int argc, char **argv) {
  if (argc != 9) { fprintf(stderr, "usage: gather rows index keys dim batch batches minTime minSamples\n"); return 2; }
  size_t keys = strtoull(argv[3], 0, 10), dim = strtoull(argv[4], 0, 10);
  size_t batch = strtoull(argv[5], 0, 10), batches = strtoull(argv[6], 0, 10);
  double maxTime = atof(argv[7]);
  int minSamples = atoi(argv[8]);
  size_t rowBytes = dim * sizeof(float);
  const char *rows = slurp(argv[1], keys * rowBytes);
  const int32_t *index = slurp(argv[2], batch * batches * sizeof(int32_t));
  char *out = NULL;
  if (posix_memalign((void **)&out, 64, batch * rowBytes)) return 2;
  volatile uint32_t sink = 0;

  for (size_t i = 0; i < batch; i++) memcpy(out + i * rowBytes, rows + (size_t)index[i] * rowBytes, rowBytes);
  uint32_t sum = 0;
  for (size_t w = 0; w < batch * dim; w++) sum += ((const uint32_t *)out)[w];
  printf("checksum %u\n", sum);

  /* A sample is one pass over every batch; sample until maxTime has passed and minSamples are taken. */
  double start = now();
  for (int s = 0; s < minSamples || now() - start < maxTime; s++) {
    double t0 = now();
    for (size_t b = 0; b < batches; b++) {
      const int32_t *ix = index + b * batch;
      for (size_t i = 0; i < batch; i++) memcpy(out + i * rowBytes, rows + (size_t)ix[i] * rowBytes, rowBytes);
      sink += ((const uint32_t *)out)[b % (batch * dim)];
    }
    printf("sample %.9f\n", (now() - t0) / batches);
    if (s > 100000) break;
  }
  return 0;
}
`;

export const limitSuite: Suite = {
  name: 'limit',
  description: 'memcpy gather of the host table by precomputed row index, C compiled with cc -O3',
  needs: [],
  async run(ctx, report) {
    const tool = await gatherTool(ctx);
    if ('missing' in tool) {
      report.skip('limit', tool.missing);
      return;
    }
    const table = ctx.table();
    report.sizes = { keys: table.keys, dim: table.dim, batch: table.batch, batches: table.batches, compiler: `${tool.compiler} -O3` };
    for (const stream of STREAMS) {
      const rate = summarize(tool.run(stream, ctx.measure.maxTime, ctx.measure.minSamples));
      ctx.record('limit', report.figure(`limit ${stream}`, 'keys/s', rate, `${((rate.median * table.dim * 4) / 1e9).toFixed(2)} GB/s of rows copied`));
    }
  },
};

/** The compiled gather program over the host table's files, shared by the limit and host suites. */
export interface GatherTool {
  compiler: string;
  /** Gathers every batch of `stream` per sample until `maxTime` s and `minSamples` passed; keys/s per sample. */
  run(stream: StreamName, maxTime: number, minSamples: number): number[];
}

/**
 * Compiles the gather program and writes the host table's rows and row indices to a temp folder once
 * per run (removed when the run ends), or says why it cannot.
 */
export function gatherTool(ctx: RunContext): Promise<GatherTool | { missing: string }> {
  return ctx.shared('gather-tool', async () => {
    const compiler = ['cc', 'gcc', 'clang'].find((c) => spawnSync(c, ['--version']).status === 0);
    if (!compiler) return { missing: 'no C compiler (cc, gcc or clang) found on PATH' };
    const table = ctx.table();
    const dir = mkdtempSync(join(tmpdir(), 'hps-bench-limit-'));
    ctx.onClose(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'gather.c'), GATHER_C);
    execFileSync(compiler, ['-O3', '-o', join(dir, 'gather'), join(dir, 'gather.c')], { stdio: 'inherit' });
    writeFileSync(join(dir, 'rows.bin'), table.rows);
    const checksums = new Map<StreamName, number>();
    for (const stream of STREAMS) {
      writeFileSync(join(dir, `${stream}.idx`), table.streams[stream].rows);
      checksums.set(stream, expectedChecksum(table.rows, table.streams[stream].rows, table.batch, table.dim));
    }
    return {
      compiler,
      run(stream, maxTime, minSamples) {
        const run = spawnSync(join(dir, 'gather'), [
          join(dir, 'rows.bin'), join(dir, `${stream}.idx`), String(table.keys), String(table.dim), String(table.batch),
          String(table.batches), String(maxTime), String(minSamples),
        ], { encoding: 'utf8', maxBuffer: 64 << 20 });
        if (run.status !== 0) throw new Error(`limit: gather program failed (${run.status}): ${run.stderr}`);
        const checksum = Number(/checksum (\d+)/.exec(run.stdout)?.[1]);
        if (checksum !== checksums.get(stream)) throw new Error(`limit: the C gather returned other rows than the table holds (checksum ${checksum})`);
        return [...run.stdout.matchAll(/sample (\S+)/g)].map((m) => table.batch / Number(m[1]));
      },
    };
  });
}

/** uint32 sum of the words of the first batch's rows, as the C program computes it. */
function expectedChecksum(rows: Float32Array, index: Int32Array, batch: number, dim: number): number {
  const words = new Uint32Array(rows.buffer, rows.byteOffset, rows.length);
  let sum = 0;
  for (let i = 0; i < batch; i++) {
    const base = index[i] * dim;
    for (let d = 0; d < dim; d++) sum = (sum + words[base + d]) >>> 0;
  }
  return sum;
}
