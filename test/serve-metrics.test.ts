import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { binaryInfer, fixture, probe, randomPicks, serve } from './helpers/serve-fixture.js';

const f = fixture('serve-metrics');
const s = await serve(f, { metricsPort: 0 });
const metricsUrl = `http://127.0.0.1:${s.server.addresses.metrics!.port}/metrics`;
test.after(async () => {
  await s.close();
  f.dir.remove();
});

/** The value of one sample line `name{labels} value` of the Prometheus text. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m && m[1] === name && want.every((l) => m[2].split(',').includes(l))) return Number(m[3]);
  }
  throw new Error(`no sample ${name}{${want.join(',')}} in:\n${text}`);
}

test('Triton request metrics, per-table tier hits and hit rates, stage latency; the statistics extension', async () => {
  const picks = [randomPicks(100, f.keys[0].length, 31), randomPicks(50, f.keys[1].length, 32)];
  const keys = new BigInt64Array([...probe(f, 0, picks[0]), ...probe(f, 1, picks[1])]);
  const ok = binaryInfer(keys, [100, 50]);
  const bad = binaryInfer(keys, [100, 49]);
  for (let i = 0; i < 5; i++) assert.is((await fetch(`${s.http}/v2/models/m/infer`, { method: 'POST', body: ok.body, headers: ok.headers })).status, 200);
  for (let i = 0; i < 2; i++) assert.is((await fetch(`${s.http}/v2/models/m/infer`, { method: 'POST', body: bad.body, headers: bad.headers })).status, 400);

  const res = await fetch(metricsUrl);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type')!, /text\/plain/);
  const text = await res.text();
  const m = { model: 'm', version: '1' };
  assert.is(sample(text, 'nv_inference_request_success', m), 5);
  assert.is(sample(text, 'nv_inference_request_failure', m), 2);
  assert.is(sample(text, 'nv_inference_count', m), 5);
  assert.is(sample(text, 'nv_inference_exec_count', m), 5);
  assert.ok(sample(text, 'nv_inference_request_duration_us', m) > 0);
  assert.ok(sample(text, 'nv_inference_compute_infer_duration_us', m) > 0);
  // table a: 100 keys a request, 1 in 5 absent; 5 requests
  const a = { model: 'm', table: 'a' };
  assert.is(sample(text, 'hps_table_lookups', a), 5);
  assert.is(sample(text, 'hps_table_keys', a), 500);
  assert.is(sample(text, 'hps_table_default_vectors', a), stats().defaults);
  const hits = ['l1', 'l2', 'l3'].map((tier) => sample(text, 'hps_table_tier_hits', { ...a, tier }));
  assert.equal(hits, ['l1', 'l2', 'l3'].map((tier) => stats()[tier as 'l1'].hits));
  for (const tier of ['l1', 'l2', 'l3']) assert.is(sample(text, 'hps_table_tier_hit_rate', { ...a, tier }), stats()[tier as 'l1'].hitRate);
  assert.ok(sample(text, 'hps_table_stage_latency_us', { ...a, stage: 'lookup', quantile: '0.99' }) >= 1);
  assert.is((await fetch(metricsUrl.replace('/metrics', '/other'))).status, 404);

  const st = await (await fetch(`${s.http}/v2/models/m/stats`)).json() as { model_stats: { name: string; version: string; inference_count: number; inference_stats: { success: { count: number; ns: number }; fail: { count: number } } }[] };
  assert.is(st.model_stats.length, 1);
  assert.is(st.model_stats[0].inference_count, 5);
  assert.is(st.model_stats[0].inference_stats.success.count, 5);
  assert.ok(st.model_stats[0].inference_stats.success.ns > 0);
  assert.is(st.model_stats[0].inference_stats.fail.count, 2);
  assert.equal((await (await fetch(`${s.http}/v2/models/stats`)).json() as { model_stats: unknown[] }).model_stats.length, 1);
});

function stats() {
  return s.ps.stats().find((t) => t.table === 'a')!;
}

test.run();
