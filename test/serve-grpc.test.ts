import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { status, type ServiceError } from '@grpc/grpc-js';
import { grpcClient } from './helpers/grpc-client.js';
import { bytesOf, DIMS, expected, fixture, probe, randomPicks, serve } from './helpers/serve-fixture.js';

const f = fixture('serve-grpc');
const s = await serve(f, { grpcPort: 0 });
const { call, close } = grpcClient(s.server.addresses.grpc!.port);
test.after(async () => {
  close();
  await s.close();
  f.dir.remove();
});

async function expectStatus(p: Promise<unknown>, code: status, pattern: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.is((e as ServiceError).code, code, (e as Error).message);
    assert.match((e as ServiceError).details, pattern);
    return;
  }
  assert.unreachable(`expected gRPC status ${status[code]}`);
}

/** A ModelInfer request with raw_input_contents. */
function rawRequest(keys: BigInt64Array, numKeys: number[], extra: object = {}) {
  return {
    model_name: 'm',
    inputs: [
      { name: 'KEYS', datatype: 'INT64', shape: [1, keys.length] },
      { name: 'NUMKEYS', datatype: 'INT32', shape: [1, numKeys.length] },
    ],
    outputs: [{ name: 'OUTPUT0' }],
    raw_input_contents: [Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength), Buffer.from(Int32Array.from(numKeys).buffer)],
    ...extra,
  };
}

test('health and metadata calls', async () => {
  assert.equal(await call('ServerLive', {}), { live: true });
  assert.equal(await call('ServerReady', {}), { ready: true });
  assert.equal(await call('ModelReady', { name: 'm', version: '1' }), { ready: true });
  const meta = await call('ServerMetadata', {});
  assert.is(meta.name, 'hps-node');
  assert.ok((meta.extensions as string[]).includes('binary_tensor_data'));
  assert.equal(await call('ModelMetadata', { name: 'm' }), {
    name: 'm', versions: ['1'], platform: 'hps',
    inputs: [{ name: 'KEYS', datatype: 'INT64', shape: ['-1', '-1'] }, { name: 'NUMKEYS', datatype: 'INT32', shape: ['-1', '-1'] }],
    outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: ['-1', '-1'] }],
  });
  await expectStatus(call('ModelMetadata', { name: 'nope' }), status.NOT_FOUND, /unknown model "nope"/);
  await expectStatus(call('ModelReady', { name: 'm', version: '3' }), status.NOT_FOUND, /no version "3"/);
});

test('ModelInfer with raw_input_contents: raw_output_contents byte-identical to the files', async () => {
  for (const [na, nb, seed] of [[150, 80, 1], [0, 3, 2], [400, 240, 3]]) {
    const picks = [randomPicks(na, f.keys[0].length, seed), randomPicks(nb, f.keys[1].length, seed + 50)];
    const keys = new BigInt64Array([...probe(f, 0, picks[0]), ...probe(f, 1, picks[1])]);
    const res = await call('ModelInfer', rawRequest(keys, [na, nb], { id: `g${seed}` }));
    const floats = na * DIMS[0] + nb * DIMS[1];
    assert.is(res.id, `g${seed}`);
    assert.equal(res.outputs, [{ name: 'OUTPUT0', datatype: 'FP32', shape: ['1', String(floats)], parameters: {}, contents: null }]);
    assert.ok((res.raw_output_contents as Buffer[])[0].equals(bytesOf(expected(f, picks))), `request ${seed}`);
  }
});

test('ModelInfer with typed contents (int64 as exact decimal strings)', async () => {
  const picks = [randomPicks(20, f.keys[0].length, 9), randomPicks(10, f.keys[1].length, 10)];
  const keys = [...probe(f, 0, picks[0]), ...probe(f, 1, picks[1])];
  const res = await call('ModelInfer', {
    model_name: 'm',
    inputs: [
      { name: 'KEYS', datatype: 'INT64', shape: [keys.length], contents: { int64_contents: keys.map(String) } },
      { name: 'NUMKEYS', datatype: 'INT32', shape: [2], contents: { int_contents: [20, 10] } },
    ],
  });
  assert.ok((res.raw_output_contents as Buffer[])[0].equals(bytesOf(expected(f, picks))));
});

test('bad requests: INVALID_ARGUMENT naming the problem', async () => {
  const keys = probe(f, 0, [1, 2]);
  const req = rawRequest(keys, [2, 0]);
  await expectStatus(call('ModelInfer', { ...req, inputs: [{ ...req.inputs[0], datatype: 'FP32' }, req.inputs[1]] }), status.INVALID_ARGUMENT, /input KEYS: datatype FP32, expected INT64/);
  await expectStatus(call('ModelInfer', rawRequest(keys, [1, 0])), status.INVALID_ARGUMENT, /NUMKEYS sums to 1, but input KEYS holds 2 keys/);
  await expectStatus(call('ModelInfer', rawRequest(keys, [1, 0, 1])), status.INVALID_ARGUMENT, /too many tables/);
  await expectStatus(call('ModelInfer', { ...req, raw_input_contents: [req.raw_input_contents[0].subarray(0, 12), req.raw_input_contents[1]] }), status.INVALID_ARGUMENT, /input KEYS: 12 bytes of data, but shape \[1, 2\] of INT64 needs 2 x 8 = 16 bytes/);
  await expectStatus(call('ModelInfer', { ...req, raw_input_contents: [req.raw_input_contents[0]] }), status.INVALID_ARGUMENT, /raw_input_contents holds 1 entries for 2 inputs/);
  await expectStatus(call('ModelInfer', rawRequest(new BigInt64Array(401), [401, 0])), status.INVALID_ARGUMENT, /max_batch_size \(4\) x maxnum_catfeature_query_per_table_per_sample\[0\] \(100\) = 400/);
  await expectStatus(call('ModelInfer', { ...req, model_name: 'zz' }), status.NOT_FOUND, /unknown model "zz"/);
  await expectStatus(call('ModelInfer', { ...req, outputs: [{ name: 'OUT1' }] }), status.INVALID_ARGUMENT, /unknown output "OUT1"/);
});

test('ModelStatistics and RepositoryIndex', async () => {
  const stats = await call('ModelStatistics', { name: 'm' }) as { model_stats: { name: string; inference_count: string; inference_stats: { success: { count: string }; fail: { count: string } } }[] };
  assert.is(stats.model_stats.length, 1);
  assert.is(stats.model_stats[0].name, 'm');
  assert.ok(Number(stats.model_stats[0].inference_count) >= 4, stats.model_stats[0].inference_count);
  assert.ok(Number(stats.model_stats[0].inference_stats.fail.count) >= 6);
  assert.equal(await call('RepositoryIndex', {}), { models: [{ name: 'm', version: '1', state: 'READY', reason: '' }] });
  await expectStatus(call('RepositoryModelLoad', { model_name: 'm' }), status.NOT_FOUND, /switched off/);
});

test.run();
