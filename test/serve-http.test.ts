import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { binaryInfer, binaryOutput, bytesOf, DEFAULTS, DIMS, expected, fixture, probe, randomPicks, serve } from './helpers/serve-fixture.js';

const f = fixture('serve-http');
const s = await serve(f, { bodyLimit: 64 * 1024 });
test.after(async () => {
  await s.close();
  f.dir.remove();
});

const get = (path: string) => fetch(s.http + path);
const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) => fetch(s.http + path, { method: 'POST', body, headers });

async function expectError(res: Response | Promise<Response>, status: number, pattern: RegExp): Promise<void> {
  const r = await res;
  const body = await r.json() as { error?: string };
  assert.is(r.status, status, JSON.stringify(body));
  assert.type(body.error, 'string');
  assert.match(body.error!, pattern);
}

test('health, server metadata and model metadata', async () => {
  assert.is((await get('/v2/health/live')).status, 200);
  assert.is((await get('/v2/health/ready')).status, 200);
  const meta = await (await get('/v2')).json() as { name: string; extensions: string[] };
  assert.is(meta.name, 'hps-node');
  assert.ok(meta.extensions.includes('binary_tensor_data'), meta.extensions.join());
  for (const path of ['/v2/models/m', '/v2/models/m/versions/1']) {
    const m = await (await get(path)).json();
    assert.equal(m, {
      name: 'm', versions: ['1'], platform: 'hps',
      inputs: [{ name: 'KEYS', datatype: 'INT64', shape: [-1, -1] }, { name: 'NUMKEYS', datatype: 'INT32', shape: [-1, -1] }],
      outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [-1, -1] }],
    });
  }
  assert.is((await get('/v2/models/m/ready')).status, 200);
  assert.is((await get('/v2/models/m/versions/1/ready')).status, 200);
  await expectError(get('/v2/models/nope'), 404, /unknown model "nope"; served models: m/);
  await expectError(get('/v2/models/nope/ready'), 404, /unknown model/);
  await expectError(get('/v2/models/m/versions/7'), 404, /no version "7"; versions: 1/);
  await expectError(get('/v2/nothing'), 404, /no endpoint GET \/v2\/nothing/);
});

test('binary infer: OUTPUT0 is byte-identical to the HugeCTR files; absent keys get the default', async () => {
  for (const [na, nb, seed] of [[120, 50, 1], [0, 7, 2], [400, 0, 3], [1, 1, 4]]) {
    const picks = [randomPicks(na, f.keys[0].length, seed), randomPicks(nb, f.keys[1].length, seed + 100)];
    const keys = new BigInt64Array([...probe(f, 0, picks[0]), ...probe(f, 1, picks[1])]);
    const { body, headers } = binaryInfer(keys, [na, nb], { id: `req-${seed}` });
    const res = await post('/v2/models/m/infer', body, headers);
    assert.is(res.status, 200);
    const { header, output } = await binaryOutput(res);
    const floats = na * DIMS[0] + nb * DIMS[1];
    assert.equal(header, { model_name: 'm', model_version: '1', id: `req-${seed}`, outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [1, floats], parameters: { binary_data_size: floats * 4 } }] });
    assert.ok(output.equals(bytesOf(expected(f, picks))), `request ${seed}: bytes differ`);
  }
});

test('the request parameter binary_data_output, shape [n], and the versioned route', async () => {
  const picks = [randomPicks(30, f.keys[0].length, 5), randomPicks(20, f.keys[1].length, 6)];
  const keys = new BigInt64Array([...probe(f, 0, picks[0]), ...probe(f, 1, picks[1])]);
  const header = JSON.stringify({
    inputs: [
      { name: 'NUMKEYS', datatype: 'INT32', shape: [2], parameters: { binary_data_size: 8 } },
      { name: 'KEYS', datatype: 'INT64', shape: [keys.length], parameters: { binary_data_size: keys.byteLength } },
    ],
    parameters: { binary_data_output: true },
  });
  // NUMKEYS first: binary data follows the inputs' order; the header's length is odd, so KEYS is unaligned.
  const body = Buffer.concat([Buffer.from(header + ' '.repeat((Buffer.byteLength(header) % 2) === 0 ? 1 : 0)), Buffer.from(Int32Array.of(30, 20).buffer), Buffer.from(keys.buffer)]);
  const res = await post('/v2/models/m/versions/1/infer', body, { 'Inference-Header-Content-Length': String(body.length - 8 - keys.byteLength) });
  assert.is(res.status, 200);
  const { output } = await binaryOutput(res);
  assert.ok(output.equals(bytesOf(expected(f, picks))));
});

test('JSON infer: JSON tensors in, JSON data out, equal to the files', async () => {
  const picks = [[-1, -1, -1], randomPicks(40, f.keys[1].length, 7)];
  const aKeys = [1, 2, 3]; // absent from table a: its default vector
  const bKeys = Array.from(probe(f, 1, picks[1]), Number);
  const res = await post('/v2/models/m/infer', JSON.stringify({
    id: 'j',
    inputs: [
      { name: 'KEYS', datatype: 'INT64', shape: [1, 43], data: [...aKeys, ...bKeys] },
      { name: 'NUMKEYS', datatype: 'INT32', shape: [1, 2], data: [[3, 40]] },
    ],
  }), { 'Content-Type': 'application/json' });
  assert.is(res.status, 200);
  const out = await res.json() as { id: string; outputs: { name: string; datatype: string; shape: number[]; data: number[] }[] };
  assert.is(out.id, 'j');
  assert.equal(out.outputs[0].shape, [1, 3 * DIMS[0] + 40 * DIMS[1]]);
  assert.equal(out.outputs[0].data.slice(0, DIMS[0]), new Array(DIMS[0]).fill(DEFAULTS[0]));
  assert.ok(bytesOf(Float32Array.from(out.outputs[0].data)).equals(bytesOf(expected(f, picks))));
});

test('bad inputs get 400 naming the input and what was expected', async () => {
  const keys = probe(f, 0, [1, 2, 3]);
  const send = (body: Buffer, headers: Record<string, string>) => post('/v2/models/m/infer', body, headers);
  const json = (inputs: unknown[]) => post('/v2/models/m/infer', JSON.stringify({ inputs }));
  const k = (data: unknown[], datatype = 'INT64', shape = [1, data.length]) => ({ name: 'KEYS', datatype, shape, data });
  const n = (data: unknown[], datatype = 'INT32', shape = [1, data.length]) => ({ name: 'NUMKEYS', datatype, shape, data });
  await expectError(json([k([1, 2], 'INT32'), n([2, 0])]), 400, /input KEYS: datatype INT32, expected INT64/);
  await expectError(json([k([1, 2]), n([2, 0], 'INT64')]), 400, /input NUMKEYS: datatype INT64, expected INT32/);
  await expectError(json([k([1, 2, 3]), n([1, 1])]), 400, /NUMKEYS sums to 2, but input KEYS holds 3 keys/);
  await expectError(json([k([1, 2, 3]), n([1, 1, 1])]), 400, /NUMKEYS: 3 counts, but model m has 2 tables \(a, b\): too many tables/);
  await expectError(json([k([1]), n([1])]), 400, /NUMKEYS: 1 counts, but model m has 2 tables/);
  await expectError(json([k([1, 2]), n([3, -1])]), 400, /element 1 \(table b\) is -1/);
  await expectError(json([k([1, 2], 'INT64', [2, 1]), n([2, 0])]), 400, /input KEYS: shape \[2, 1\], expected \[n\] or \[1, n\]/);
  await expectError(json([k([1, 2], 'INT64', [1, 3]), n([2, 0])]), 400, /input KEYS: only 2 values given, but shape \[1, 3\] holds 3/);
  await expectError(json([k([1, 2.5]), n([2, 0])]), 400, /input KEYS: element 1 \(2\.5\) is not valid/);
  await expectError(json([n([0, 0])]), 400, /missing input KEYS/);
  await expectError(json([k([]), n([0, 0]), { name: 'X', datatype: 'INT64', shape: [1], data: [1] }]), 400, /unknown input X/);
  await expectError(post('/v2/models/m/infer', JSON.stringify({ inputs: [k([1]), n([1, 0])], outputs: [{ name: 'OUT' }] })), 400, /unknown output "OUT"/);
  // the key limit: max_batch_size x maxnum_catfeature_query_per_table_per_sample, both named
  const many = new BigInt64Array(241).fill(5n);
  const over = binaryInfer(many, [0, 241]);
  await expectError(send(over.body, over.headers), 400, /table b has 241 keys, more than one request may hold: max_batch_size \(4\) x maxnum_catfeature_query_per_table_per_sample\[1\] \(60\) = 240/);
  const atLimit = binaryInfer(new BigInt64Array(240).fill(5n), [0, 240]);
  assert.is((await send(atLimit.body, atLimit.headers)).status, 200);
  // byte sizes that do not match the shape
  const good = binaryInfer(keys, [3, 0]);
  const header = good.body.subarray(0, Number(good.headers['Inference-Header-Content-Length'])).toString().replace('"binary_data_size":24', '"binary_data_size":20');
  const short = Buffer.concat([Buffer.from(header), good.body.subarray(good.body.length - 32, good.body.length - 12), good.body.subarray(good.body.length - 8)]);
  await expectError(send(short, { 'Inference-Header-Content-Length': String(header.length) }), 400, /input KEYS: 20 bytes of data, but shape \[1, 3\] of INT64 needs 3 x 8 = 24 bytes/);
  await expectError(send(Buffer.concat([good.body, Buffer.alloc(4)]), good.headers), 400, /4 bytes of binary data follow/);
  await expectError(send(good.body, { 'Inference-Header-Content-Length': '99999' }), 400, /Inference-Header-Content-Length: "99999" is not valid/);
  // malformed JSON, an oversize body, an unknown model
  await expectError(post('/v2/models/m/infer', '{"inputs": [', { 'Content-Type': 'application/json' }), 400, /malformed JSON in the request body/);
  await expectError(post('/v2/models/m/infer', Buffer.alloc(65 * 1024), { 'Content-Type': 'application/octet-stream' }), 413, /exceeds the server's limit of 65536 bytes/);
  await expectError(send(good.body, good.headers).then(() => post('/v2/models/zz/infer', good.body, good.headers)), 404, /unknown model "zz"/);
});

test.run();
