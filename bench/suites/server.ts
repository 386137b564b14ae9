import { Worker } from 'node:worker_threads';
import Fastify from 'fastify';
import { SCALES } from '../lib/scales.js';
import { hostServer, HOST_MODEL, HOST_TABLE, type Server } from '../lib/host-server.js';
import { quantileSorted, summarize } from '../lib/stats.js';
import type { Figure } from '../lib/results.js';
import type { Suite } from '../lib/suite.js';
import type { ClientResult, ClientTask } from '../workers/server-client.js';

const ROUNDS = 3;
type Transport = 'in-process' | 'http' | 'grpc' | 'fixed';
const TRANSPORTS: Transport[] = ['in-process', 'http', 'grpc', 'fixed'];
const LABEL: Record<Transport, string> = { 'in-process': 'in-process lookup', http: 'HTTP binary infer', grpc: 'gRPC infer', fixed: 'fastify fixed body' };

/**
 * `hps serve` on loopback over the host table: in-process ParameterServer.lookup, HTTP binary infer,
 * gRPC infer and a fastify route answering a fixed body of the same size (the HTTP stack's own limit
 * on this machine), for each request size and number of requests in flight, rounds interleaved. The
 * requests come from a worker thread, so the client does not share the server's event loop. Then an
 * overload run (more requests in flight than the pool admits) shows latency, not memory, growing.
 */
export const serverSuite: Suite = {
  name: 'server',
  description: 'hps serve on loopback: in-process lookup vs HTTP binary infer vs gRPC infer vs a fixed-body fastify route',
  needs: [],
  async run(ctx, report) {
    const sizes = SCALES[ctx.scale].server;
    const table = ctx.table();
    const opened = await hostServer(ctx);
    if ('missing' in opened) {
      report.skip('server', opened.missing);
      return;
    }
    const { server: ps } = opened;
    const stream = table.streams.zipf.keys;
    report.sizes = { keys: table.keys, dim: table.dim, batches: sizes.batches.join(' '), inFlight: sizes.inFlight.join(' '), rounds: ROUNDS, overload: sizes.overload };
    report.note(`ParameterServer over the host table (tiers ${opened.tiers.join(' -> ')}); Zipf(1.05) key stream; the client runs in a worker thread`);

    const { createServer } = await import('../../server/server.js');
    const { binaryResponse } = await import('../../server/http-infer.js');
    const server = createServer(ps, { httpPort: 0, grpcPort: 0, metricsPort: null, log: () => {} });
    const addresses = await server.listen();
    const fixedBodies = new Map(sizes.batches.map((b) => [b, binaryResponse(HOST_MODEL, undefined, b * table.dim)]));
    const fixed = Fastify({ logger: false, bodyLimit: 64 * 2 ** 20 });
    fixed.removeAllContentTypeParsers();
    fixed.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    fixed.post('/fixed', async (req, reply) => {
      const keys = (Number(req.headers['content-length']) - Number(req.headers['inference-header-content-length']) - 4) / 8;
      const r = fixedBodies.get(keys)!;
      return reply.header('Inference-Header-Content-Length', r.headerLength).type('application/octet-stream').send(r.body);
    });
    await fixed.listen({ host: '127.0.0.1', port: 0 });
    let failed = 0;
    let seed = 0;
    let worker: Worker | null = null;
    try {
      const shared = new BigInt64Array(new SharedArrayBuffer(stream.byteLength));
      shared.set(stream);
      worker = new Worker(new URL('../workers/server-client.js', import.meta.url), {
        workerData: { keys: shared, httpPort: addresses.http.port, fixedPort: (fixed.server.address() as { port: number }).port, grpcPort: addresses.grpc!.port },
      });
      let pending: { resolve: (r: ClientResult) => void; reject: (e: Error) => void } | null = null;
      worker.on('message', (r: ClientResult) => pending?.resolve(r));
      worker.on('error', (e) => pending?.reject(e));
      const client = (task: ClientTask) => new Promise<ClientResult>((resolve, reject) => {
        pending = { resolve, reject };
        worker!.postMessage(task);
      });
      for (const batch of sizes.batches) {
        const requests = (level: number) => Math.max(level * 2, Math.min(sizes.requests, Math.ceil(2 ** 21 / batch)));
        const rates = new Map<string, number[]>();
        const p50s = new Map<string, number[]>();
        const p99s = new Map<string, number[]>();
        const add = (m: Map<string, number[]>, k: string, v: number) => m.set(k, [...(m.get(k) ?? []), v]);
        for (const level of sizes.inFlight) {
          for (let round = 0; round < ROUNDS; round++) {
            for (const t of TRANSPORTS) {
              const n = requests(level);
              const r = t === 'in-process'
                ? await inProcess(ps, stream, batch, table.dim, level, n, seed)
                : await client({ transport: t, model: HOST_MODEL, batch, level, requests: n, seed, responseBytes: t === 'grpc' ? batch * table.dim * 4 : fixedBodies.get(batch)!.body.length });
              seed += n;
              if (r.failed > 0) report.note(`${LABEL[t]} batch ${batch}, ${level} in flight: ${r.failed} failed requests, first: ${r.firstError}`);
              failed += r.failed;
              const key = `${t}/${level}`;
              const sorted = Float64Array.from(r.latenciesUs).sort();
              add(rates, key, (n * batch) / r.seconds);
              add(p50s, key, quantileSorted(sorted, 0.5));
              add(p99s, key, quantileSorted(sorted, 0.99));
            }
          }
        }
        const figures = new Map<string, Figure>();
        for (const level of sizes.inFlight) {
          for (const t of TRANSPORTS) {
            const key = `${t}/${level}`;
            const note = `${requests(level)} requests per round, ${ROUNDS} rounds interleaved with the other transports`;
            figures.set(`${key}/rate`, report.figure(`${LABEL[t]} keys/s, batch ${batch}, ${level} in flight`, 'keys/s', summarize(rates.get(key)!), note));
            report.figure(`${LABEL[t]} p50, batch ${batch}, ${level} in flight`, 'us', summarize(p50s.get(key)!), note);
            figures.set(`${key}/p99`, report.figure(`${LABEL[t]} p99, batch ${batch}, ${level} in flight`, 'us', summarize(p99s.get(key)!), note));
          }
        }
        const most = sizes.inFlight[sizes.inFlight.length - 1];
        if (batch === sizes.batches[sizes.batches.length - 1]) {
          for (const level of sizes.inFlight) {
            report.ratio(`HTTP binary / in-process keys/s (batch ${batch}, ${level} in flight)`, figures.get(`http/${level}/rate`)!, figures.get(`in-process/${level}/rate`)!, 0.5);
          }
        }
        if (batch === sizes.batches[0]) {
          report.ratio(`HTTP binary p99 / fixed-body p99 (batch ${batch}, ${most} in flight)`, figures.get(`http/${most}/p99`)!, figures.get(`fixed/${most}/p99`)!, 2, '<=');
        }
        for (const t of ['http', 'grpc', 'in-process'] as const) {
          const levels = sizes.inFlight.map((l) => figures.get(`${t}/${l}/rate`)!);
          const peak = levels.reduce((a, b) => (b.median > a.median ? b : a));
          report.ratio(`${LABEL[t]} ${most} in flight / peak (batch ${batch})`, figures.get(`${t}/${most}/rate`)!, peak, 0.9);
        }
      }

      // Overload: many more small requests in flight than the server serves at once.
      const before = process.memoryUsage().rss;
      const batch = sizes.batches[0];
      const over = await client({ transport: 'http', model: HOST_MODEL, batch, level: sizes.overload, requests: sizes.overload * 20, seed, responseBytes: fixedBodies.get(batch)!.body.length });
      failed += over.failed;
      const sorted = Float64Array.from(over.latenciesUs).sort();
      report.figure(`HTTP binary p99, batch ${batch}, ${sizes.overload} in flight (overload)`, 'us', summarize([quantileSorted(sorted, 0.99)]), `${sizes.overload * 20} requests`);
      report.figure(`server RSS growth during the overload run`, 'MiB', summarize([(process.memoryUsage().rss - before) / 2 ** 20]), 'resident set of the serving process, after minus before');
      const failures = report.figure('failed requests', 'requests', summarize([failed]), 'every request of every run above; must be 0');
      report.bound('failed requests (must be 0)', failures, 0.5, '0.5 requests');
    } finally {
      await worker?.terminate();
      await fixed.close();
      await server.close();
    }
  },
};

/** `level` concurrent closed loops of ps.lookup over the key stream, as the client worker does over the network. */
async function inProcess(ps: Server, stream: BigInt64Array, batch: number, dim: number, level: number, requests: number, seed: number): Promise<ClientResult> {
  const latencies = new Float64Array(requests);
  let next = 0;
  const starts = stream.length - batch + 1;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: level }, async () => {
    const out = new Float32Array(batch * dim);
    for (let r = next++; r < requests; r = next++) {
      const start = ((seed + r) * 7919 * batch) % starts;
      const t = performance.now();
      await ps.lookup(HOST_MODEL, HOST_TABLE, stream.subarray(start, start + batch), out);
      latencies[r] = (performance.now() - t) * 1000;
    }
  }));
  return { latenciesUs: latencies, seconds: (performance.now() - t0) / 1000, failed: 0, firstError: null };
}
