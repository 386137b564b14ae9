import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomVectors } from './helpers/lmdb-random.js';
import { binaryInfer, binaryOutput, bytesOf, DEFAULTS, DIMS, expected, fixture, probe, serve } from './helpers/serve-fixture.js';

const f = fixture('serve-writes');
const TOKEN = 'secret-' + Math.random().toString(36).slice(2);
const s = await serve(f, { token: TOKEN });
test.after(async () => {
  await s.close();
  f.dir.remove();
});

const auth = { Authorization: `Bearer ${TOKEN}` };
const post = (base: string, path: string, body: string | Buffer, headers: Record<string, string> = {}) => fetch(base + path, { method: 'POST', body, headers });

/** OUTPUT0 of table `t` alone for `keys`, through the HTTP binary infer. */
async function lookup(t: number, keys: BigInt64Array): Promise<Float32Array> {
  const { body, headers } = binaryInfer(keys, t === 0 ? [keys.length, 0] : [0, keys.length]);
  const res = await post(s.http, '/v2/models/m/infer', body, headers);
  assert.is(res.status, 200);
  const { output } = await binaryOutput(res);
  return new Float32Array(new Uint8Array(output).buffer);
}

async function expectError(res: Promise<Response>, status: number, pattern: RegExp): Promise<void> {
  const r = await res;
  const body = await r.json() as { error: string };
  assert.is(r.status, status, JSON.stringify(body));
  assert.match(body.error, pattern);
}

test('without a token the write endpoints are off (404), reads work', async () => {
  const off = await serve(f);
  try {
    await expectError(post(off.http, '/v2/models/m/tables/a/update', '{"keys": [1], "vectors": [[1,2,3,4,5,6,7,8]]}', auth), 404, /update of model m table a is switched off: the server was started without a token/);
    await expectError(post(off.http, '/v2/models/m/tables/a/erase', '{"keys": [1]}', auth), 404, /switched off/);
  } finally {
    await off.server.close();
    await off.ps.close();
  }
});

test('a missing or wrong token gets 401 and nothing is written', async () => {
  const keys = probe(f, 0, [0, 1, 2, 3]);
  const before = await lookup(0, keys);
  const vectors = randomVectors(4, DIMS[0], 91);
  const binary = Buffer.concat([Buffer.from(keys.buffer), bytesOf(vectors)]);
  await expectError(post(s.http, '/v2/models/m/tables/a/update', binary, { 'Content-Type': 'application/octet-stream' }), 401, /needs the header Authorization: Bearer <token>/);
  await expectError(post(s.http, '/v2/models/m/tables/a/update', binary, { 'Content-Type': 'application/octet-stream', Authorization: 'Bearer nope' }), 401, /the bearer token is wrong; nothing was changed/);
  await expectError(post(s.http, '/v2/models/m/tables/a/erase', Buffer.from(keys.buffer), { 'Content-Type': 'application/octet-stream', Authorization: TOKEN }), 401, /wrong/);
  assert.ok(bytesOf(await lookup(0, keys)).equals(bytesOf(before)));
  assert.ok(bytesOf(before).equals(bytesOf(expected(f, [[0, 1, 2, 3], []]))));
});

test('binary and JSON updates and erases are seen by the next read', async () => {
  const keys = new BigInt64Array([...probe(f, 0, [10, 11, 12]), 123456789n]);
  const vectors = randomVectors(4, DIMS[0], 92);
  const res = await post(s.http, '/v2/models/m/tables/a/update', Buffer.concat([Buffer.from(keys.buffer), bytesOf(vectors)]), { 'Content-Type': 'application/octet-stream', ...auth });
  assert.is(res.status, 200);
  assert.equal(await res.json(), { model: 'm', table: 'a', updated: 4 });
  assert.ok(bytesOf(await lookup(0, keys)).equals(bytesOf(vectors)));

  const bKeys = probe(f, 1, [5, 6]);
  const bVectors = randomVectors(2, DIMS[1], 93);
  const nested = [Array.from(bVectors.subarray(0, 5)), Array.from(bVectors.subarray(5))];
  assert.is((await post(s.http, '/v2/models/m/tables/1/update', JSON.stringify({ keys: Array.from(bKeys, Number), vectors: nested }), auth)).status, 200);
  assert.ok(bytesOf(await lookup(1, bKeys)).equals(bytesOf(bVectors)));

  assert.is((await post(s.http, '/v2/models/m/tables/a/erase', Buffer.from(keys.buffer, 0, 16), { 'Content-Type': 'application/octet-stream', ...auth })).status, 200);
  assert.is((await post(s.http, '/v2/models/m/tables/b/erase', JSON.stringify({ keys: [Number(bKeys[0])] }), auth)).status, 200);
  const a = await lookup(0, keys);
  assert.equal(Array.from(a.subarray(0, 2 * DIMS[0])), new Array(2 * DIMS[0]).fill(DEFAULTS[0]));
  assert.ok(bytesOf(a.subarray(2 * DIMS[0])).equals(bytesOf(vectors.subarray(2 * DIMS[0]))));
  const b = await lookup(1, bKeys);
  assert.equal(Array.from(b.subarray(0, 5)), new Array(5).fill(DEFAULTS[1]));
  assert.ok(bytesOf(b.subarray(5)).equals(bytesOf(bVectors.subarray(5))));
});

test('bad write bodies: 400 naming the problem; unknown tables: 404', async () => {
  await expectError(post(s.http, '/v2/models/m/tables/a/update', Buffer.alloc(41), { 'Content-Type': 'application/octet-stream', ...auth }), 400, /41 bytes is not a whole number of rows \(8-byte key \+ 8 x 4-byte floats = 40 bytes each/);
  await expectError(post(s.http, '/v2/models/m/tables/a/update', '{"keys": [1, 2], "vectors": [[1]]}', auth), 400, /"vectors" holds 1 numbers, expected 2 keys x dim 8 = 16/);
  await expectError(post(s.http, '/v2/models/m/tables/a/update', '{"keys": [1], "vectors": [1,2,3,4,5,6,7,"x"]}', auth), 400, /vectors element 7 \("x"\) is not a finite number/);
  await expectError(post(s.http, '/v2/models/m/tables/a/erase', '{"keys": [1.5]}', auth), 400, /element 0 \(1\.5\) is not valid/);
  await expectError(post(s.http, '/v2/models/m/tables/a/erase', '{"keys": ', auth), 400, /malformed JSON/);
  await expectError(post(s.http, '/v2/models/m/tables/zz/erase', '{"keys": [1]}', auth), 404, /model m has no table "zz"; tables \(index: name\): 0: a, 1: b/);
  await expectError(post(s.http, '/v2/models/q/tables/a/erase', '{"keys": [1]}', auth), 404, /unknown model "q"/);
});

test.run();
