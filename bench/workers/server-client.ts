import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import * as grpc from '@grpc/grpc-js';

/**
 * The load generator of the server suite, in a thread of its own so that it does not share the
 * server's event loop. Per task it keeps `level` requests of `batch` keys in flight (a closed loop)
 * until `requests` have been answered, timing each, and answers with the latencies (microseconds), the
 * seconds taken and the number of failed requests. HTTP requests are the binary tensor extension's form
 * (or the same bytes to the fixed-body route); gRPC requests carry raw_input_contents.
 */
interface Setup {
  keys: BigInt64Array;
  httpPort: number;
  /** The fixed-body route's own fastify server. */
  fixedPort: number;
  grpcPort: number;
}
export interface ClientTask {
  transport: 'http' | 'grpc' | 'fixed';
  model: string;
  batch: number;
  level: number;
  requests: number;
  /** Bytes each answer must have (checked, so a short or failed answer counts as a failure). */
  responseBytes: number;
  /** Where in the key stream this task starts. */
  seed: number;
}
export interface ClientResult {
  latenciesUs: Float64Array;
  seconds: number;
  failed: number;
  firstError: string | null;
}

const setup = workerData as Setup;
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const { inferenceService } = await import(new URL('../../server/grpc-service.js', import.meta.url).href);
const Client = inferenceService() as grpc.ServiceClientConstructor;
const client = new Client(`127.0.0.1:${setup.grpcPort}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 }) as unknown as { ModelInfer: Function };

function keysAt(task: ClientTask, r: number): BigInt64Array {
  const starts = setup.keys.length - task.batch + 1;
  const start = ((task.seed + r) * 7919 * task.batch) % starts;
  return setup.keys.subarray(start, start + task.batch);
}

function httpBody(keys: BigInt64Array): { body: Buffer; headerLength: number } {
  const header = JSON.stringify({
    inputs: [
      { name: 'KEYS', datatype: 'INT64', shape: [1, keys.length], parameters: { binary_data_size: keys.byteLength } },
      { name: 'NUMKEYS', datatype: 'INT32', shape: [1, 1], parameters: { binary_data_size: 4 } },
    ],
    outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }],
  });
  const body = Buffer.concat([Buffer.from(header), Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength), Buffer.from(Int32Array.of(keys.length).buffer)]);
  return { body, headerLength: Buffer.byteLength(header) };
}

function sendHttp(task: ClientTask, keys: BigInt64Array): Promise<number> {
  const { body, headerLength } = httpBody(keys);
  const path = task.transport === 'fixed' ? '/fixed' : `/v2/models/${task.model}/infer`;
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: task.transport === 'fixed' ? setup.fixedPort : setup.httpPort, path, method: 'POST', agent,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length, 'Inference-Header-Content-Length': headerLength },
    }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => { bytes += chunk.length; });
      res.on('end', () => (res.statusCode === 200 ? resolve(bytes) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function sendGrpc(task: ClientTask, keys: BigInt64Array): Promise<number> {
  return new Promise((resolve, reject) => {
    client.ModelInfer.call(client, {
      model_name: task.model,
      inputs: [{ name: 'KEYS', datatype: 'INT64', shape: [1, keys.length] }, { name: 'NUMKEYS', datatype: 'INT32', shape: [1, 1] }],
      raw_input_contents: [Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength), Buffer.from(Int32Array.of(keys.length).buffer)],
    }, (e: Error | null, res: { raw_output_contents: Buffer[] }) => (e ? reject(e) : resolve(res.raw_output_contents[0].length)));
  });
}

parentPort!.on('message', async (task: ClientTask) => {
  const latencies = new Float64Array(task.requests);
  let next = 0;
  let failed = 0;
  let firstError: string | null = null;
  const send = task.transport === 'grpc' ? sendGrpc : sendHttp;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: task.level }, async () => {
    for (let r = next++; r < task.requests; r = next++) {
      const keys = keysAt(task, r);
      const start = performance.now();
      try {
        const bytes = await send(task, keys);
        if (bytes !== task.responseBytes) throw new Error(`answer of ${bytes} bytes, expected ${task.responseBytes}`);
      } catch (e) {
        failed++;
        firstError ??= (e as Error).message;
      }
      latencies[r] = (performance.now() - start) * 1000;
    }
  }));
  const result: ClientResult = { latenciesUs: latencies, seconds: (performance.now() - t0) / 1000, failed, firstError };
  parentPort!.postMessage(result);
});
