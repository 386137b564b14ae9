import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { utimesSync } from 'node:fs';
import { join } from 'node:path';
import { randomVectors } from './helpers/lmdb-random.js';
import { binaryInfer, binaryOutput, bytesOf, DIMS, expected, fixture, probe, randomPicks, serve } from './helpers/serve-fixture.js';

const f = fixture('serve-model-control');
const TOKEN = 'tk-' + Math.random().toString(36).slice(2);
const s = await serve(f, { token: TOKEN });
test.after(async () => {
  await s.close();
  f.dir.remove();
});

const auth = { Authorization: `Bearer ${TOKEN}` };
const post = (path: string, body = '', headers: Record<string, string> = auth) => fetch(s.http + path, { method: 'POST', body, headers });
const picks = [randomPicks(60, f.keys[0].length, 21, 1000), randomPicks(30, f.keys[1].length, 22, 1000)];
const keys = new BigInt64Array([...probe(f, 0, picks[0]), ...probe(f, 1, picks[1])]);
const request = binaryInfer(keys, [60, 30]);
const infer = () => fetch(s.http + '/v2/models/m/infer', { method: 'POST', body: request.body, headers: request.headers });

test('the repository index lists the model; load and unload need the token', async () => {
  assert.equal(await (await post('/v2/repository/index')).json(), [{ name: 'm', version: '1', state: 'READY', reason: '' }]);
  const noToken = await post('/v2/repository/models/m/load', '', {});
  assert.is(noToken.status, 401);
  assert.match((await noToken.json() as { error: string }).error, /load of model m needs the header Authorization/);
  const wrong = await post('/v2/repository/models/m/unload', '', { Authorization: 'Bearer wrong' });
  assert.is(wrong.status, 401);
  assert.is((await infer()).status, 200, 'still served');
  const bad = await post('/v2/repository/models/m/load', '{"parameters": {"config": "{}"}}');
  assert.is(bad.status, 400);
  assert.match((await bad.json() as { error: string }).error, /parameters .* are not supported/);
  const unknown = await post('/v2/repository/models/zz/load');
  assert.is(unknown.status, 404);
  assert.match((await unknown.json() as { error: string }).error, /model "zz" is not in .*ps\.json; models there: m/);
});

test('load re-imports changed files and swaps the model in while 16 clients read: every read is the old or the new table', async () => {
  const before = bytesOf(expected(f, picks));
  const { output } = await binaryOutput(await infer());
  assert.ok(output.equals(before));
  f.write(0, randomVectors(f.keys[0].length, DIMS[0], 77));
  utimesSync(join(f.dir.path, 'sparse', 't0', 'emb_vector'), new Date(), new Date(Date.now() + 60_000));
  const after = bytesOf(expected(f, picks));
  assert.not.ok(after.equals(before));

  let stop = false;
  const seen = { old: 0, new: 0 };
  const clients = Array.from({ length: 16 }, async () => {
    while (!stop) {
      const res = await infer();
      assert.is(res.status, 200, 'no failed read');
      const { output: out } = await binaryOutput(res);
      if (out.equals(before)) seen.old++;
      else if (out.equals(after)) seen.new++;
      else assert.unreachable('a read saw neither the old table nor the new one');
    }
  });
  await new Promise((r) => setTimeout(r, 100));
  const res = await post('/v2/repository/models/m/load');
  assert.is(res.status, 200, await res.clone().text());
  const newBefore = seen.new;
  await new Promise((r) => setTimeout(r, 200));
  stop = true;
  await Promise.all(clients);
  assert.ok(seen.old > 0 && seen.new > newBefore, `reads: ${JSON.stringify(seen)}`);
  const { output: now } = await binaryOutput(await infer());
  assert.ok(now.equals(after), 'reads after the load see the new table');
});

test('unload stops serving the model; load brings it back', async () => {
  assert.is((await post('/v2/repository/models/m/unload')).status, 200);
  const gone = await infer();
  assert.is(gone.status, 404);
  assert.match((await gone.json() as { error: string }).error, /unknown model "m"/);
  assert.equal(await (await post('/v2/repository/index')).json(), [{ name: 'm', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' }]);
  assert.equal(await (await post('/v2/repository/index', '{"ready": true}')).json(), []);
  assert.is((await post('/v2/repository/models/m/unload')).status, 404);
  assert.is((await post('/v2/repository/models/m/load')).status, 200);
  const { output } = await binaryOutput(await infer());
  assert.ok(output.equals(bytesOf(expected(f, picks))));
});

test.run();
