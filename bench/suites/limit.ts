import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STREAMS, type StreamName } from '../lib/host-table.js';
import type { RunContext } from '../lib/context.js';
import { summarize } from '../lib/stats.js';
import type { Suite } from '../lib/suite.js';

/** Includes and the file reader shared by both C programs below. */
const C_PRELUDE = String.raw`
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
`;

/**
 * The hardware limit of the host workload: a C program, written here and compiled at run time with
 * `cc -O3`, that gathers the same rows for the same batches with memcpy by a precomputed row index
 * (no hashing, no probing). One thread, like the host one-thread figure it is compared with.
 */
const GATHER_C = String.raw`
${C_PRELUDE}
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

/**
 * The same C gather, one small batch at a time, as a long-running process for the latency suite: it
 * reads commands `FIRST COUNT SIZE` on stdin and, for i in FIRST .. FIRST + COUNT - 1, copies the SIZE
 * rows of the stream window starting at (i * 7919 * SIZE) mod (stream length - SIZE + 1) (the latency
 * suite's windows) and prints each batch's nanoseconds on one line. Waiting on stdin between commands,
 * it lets the two sides of a latency ratio be interleaved finely.
 */
const GATHER_LATENCY_C = String.raw`
${C_PRELUDE}
static uint64_t ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* usage: gather-latency ROWS_FILE INDEX_FILE keys dim streamLength */
int main(int argc, char **argv) {
  if (argc != 6) { fprintf(stderr, "usage: gather-latency rows index keys dim streamLength\n"); return 2; }
  size_t keys = strtoull(argv[3], 0, 10), dim = strtoull(argv[4], 0, 10), len = strtoull(argv[5], 0, 10);
  size_t rowBytes = dim * sizeof(float);
  const char *rows = slurp(argv[1], keys * rowBytes);
  const int32_t *index = slurp(argv[2], len * sizeof(int32_t));
  char *out = NULL;
  if (posix_memalign((void **)&out, 64, 65536 * rowBytes)) return 2;
  volatile uint32_t sink = 0;
  printf("ready\n");
  fflush(stdout);
  unsigned long long first, count, size;
  while (scanf("%llu %llu %llu", &first, &count, &size) == 3) {
    if (size < 1 || size > 65536 || size > len) { fprintf(stderr, "bad size %llu\n", size); return 2; }
    uint64_t starts = len - size + 1;
    for (unsigned long long i = first; i < first + count; i++) {
      const int32_t *ix = index + (i * 7919ull * size) % starts;
      uint64_t t0 = ns();
      for (size_t k = 0; k < size; k++) memcpy(out + k * rowBytes, rows + (size_t)ix[k] * rowBytes, rowBytes);
      uint64_t t1 = ns();
      sink += ((const uint32_t *)out)[i % (size * dim)];
      printf("%llu%c", (unsigned long long)(t1 - t0), i + 1 == first + count ? '\n' : ' ');
    }
    fflush(stdout);
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
  /** The one-batch-at-a-time gather of `stream` (GATHER_LATENCY_C), started; stop() ends it. */
  latency(stream: StreamName): Promise<LatencyGather>;
}

/** A running GATHER_LATENCY_C process. */
export interface LatencyGather {
  /** Nanoseconds of each of the `count` windows of `size` rows from window index `first` on. */
  gather(first: number, count: number, size: number): Promise<number[]>;
  stop(): void;
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
    writeFileSync(join(dir, 'gather-latency.c'), GATHER_LATENCY_C);
    execFileSync(compiler, ['-O3', '-o', join(dir, 'gather-latency'), join(dir, 'gather-latency.c')], { stdio: 'inherit' });
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
      latency: (stream) => startLatencyGather(join(dir, 'gather-latency'), [
        join(dir, 'rows.bin'), join(dir, `${stream}.idx`), String(table.keys), String(table.dim), String(table.streams[stream].rows.length),
      ]),
    };
  });
}

async function startLatencyGather(program: string, args: string[]): Promise<LatencyGather> {
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  let stderr = '';
  let ended: Error | null = null;
  child.stderr.on('data', (d) => { stderr += d; });
  const fail = (err: Error) => {
    ended ??= err;
    for (const w of waiting.splice(0)) w('');
  };
  child.on('error', fail);
  child.on('exit', (code) => fail(new Error(`latency gather exited (${code}): ${stderr}`)));
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = () => new Promise<string>((resolve, reject) => {
    if (ended) reject(ended);
    else waiting.push((line) => (ended && !line ? reject(ended) : resolve(line)));
  });
  if ((await next()) !== 'ready') throw new Error(`latency gather did not start: ${stderr}`);
  return {
    async gather(first, count, size) {
      const reply = next();
      child.stdin.write(`${first} ${count} ${size}\n`);
      const times = (await reply).trim().split(' ').map(Number);
      if (times.length !== count || times.some((t) => !Number.isFinite(t))) throw new Error(`latency gather: bad reply for ${count} batches`);
      return times;
    },
    stop() {
      child.stdin.end();
      child.kill();
    },
  };
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
