import { parentPort, workerData } from 'node:worker_threads';

/**
 * A benchmark worker of the host suite: attaches to the HostArena of the main thread (its own wasm
 * instances over the same shared memories) and, per message, looks up `count` batches of a query
 * stream starting at batch `first`, then answers with the number of keys looked up. The key streams
 * arrive once, in SharedArrayBuffers.
 */
interface Setup {
  handle: unknown;
  streams: Record<string, BigInt64Array>;
  batch: number;
  batches: number;
  dim: number;
}
interface Task {
  stream: string;
  first: number;
  count: number;
}

const setup = workerData as Setup;
const { HostArena } = await import(new URL('../../engine/host/host-arena.js', import.meta.url).href);
const arena = HostArena.attach(setup.handle);
const out = new Float32Array(setup.batch * setup.dim);

parentPort!.on('message', (task: Task) => {
  const keys = setup.streams[task.stream];
  let missing = 0;
  for (let i = 0; i < task.count; i++) {
    const start = ((task.first + i) % setup.batches) * setup.batch;
    missing += arena.lookup(keys.subarray(start, start + setup.batch), out).length;
  }
  parentPort!.postMessage({ keys: task.count * setup.batch, missing });
});
parentPort!.postMessage({ ready: true });
