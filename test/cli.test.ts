import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomInt64Keys, randomVectors, row, tempDir } from './helpers/lmdb-random.js';
import { readBytes, writeHugeCtr } from './helpers/import-files.js';

const hps = fileURLToPath(new URL('../bin/hps.js', import.meta.url));
const dir = tempDir('cli');
test.after(() => dir.remove());

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [hps, ...args], { encoding: 'utf8', cwd: dir.path });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dim = 4;
const keys = randomInt64Keys(1000, 81);
const vectors = randomVectors(1000, dim, 82);
writeHugeCtr(join(dir.path, 'src'), keys, vectors);
const config = join(dir.path, 'ps.json');
writeFileSync(config, JSON.stringify({
  supportlonglong: true,
  models: [{ model: 'm', sparse_files: [], embedding_table_names: ['t'], embedding_vecsize_per_table: [dim], default_value_for_each_table: [0.5] }],
  persistent_db: { type: 'lmdb', path: 'store' },
}));

test('--help lists the commands', () => {
  const r = run('--help');
  assert.is(r.code, 0);
  for (const c of ['demo', 'import', 'export', 'lookup', 'info', 'stats']) assert.match(r.stdout, new RegExp(`\\n  ${c}`));
});

test('demo at a small size: import rate, lookup rate, sample check', () => {
  const r = run('demo', '--keys', '20000', '--dim', '8', '--seconds', '0.3', '--batch', '1000');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /imported 20000 keys into LMDB in [\d.]+ s: [\d,]+ keys\/s/);
  assert.match(r.stdout, /Zipf\(1\.05\) lookups, batches of 1000 keys .*: [\d,]+ lookups\/s, [\d,]+ keys\/s/);
  assert.match(r.stdout, /checked 1000 random keys against the generated files: all vectors match exactly/);
});

test('import, lookup, export and info on a ps.json', () => {
  const imported = run('import', '-c', config, '-m', 'm', '-t', 't', '--hugectr', join(dir.path, 'src'));
  assert.is(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /imported 1000 keys \(1000 distinct\) into m\/t in [\d.]+ s: [\d,]+ keys\/s/);

  const negative = keys.findIndex((k) => k < 0n);
  const probe = [keys[negative], keys[500], 12345n];
  const looked = run('lookup', '-c', config, '-m', 'm', '-t', '0', ...probe.map(String));
  assert.is(looked.code, 0, looked.stderr);
  const lines = looked.stdout.trim().split('\n');
  assert.is(lines.length, 3);
  const parse = (line: string) => line.split(': ')[1].split(' ').map(Number);
  assert.is(lines[0].split(': ')[0], String(keys[negative]));
  assert.equal(parse(lines[0]), row(vectors, negative, dim));
  assert.equal(parse(lines[1]), row(vectors, 500, dim));
  assert.equal(parse(lines[2]), [0.5, 0.5, 0.5, 0.5]);

  const keysFile = join(dir.path, 'keys.txt');
  writeFileSync(keysFile, `${keys[7]}\n${keys[8]},${keys[9]}\n`);
  const fromFile = run('lookup', '-c', config, '-m', 'm', '-t', 't', '--keys-file', keysFile);
  assert.equal(fromFile.stdout.trim().split('\n').map(parse), [row(vectors, 7, dim), row(vectors, 8, dim), row(vectors, 9, dim)]);

  const exported = run('export', '-c', config, '-m', 'm', '-t', 't', '-o', join(dir.path, 'out'));
  assert.is(exported.code, 0, exported.stderr);
  const ek = new BigInt64Array(readBytes(join(dir.path, 'out', 'key')));
  assert.equal(Array.from(ek), Array.from(keys).sort((a, b) => (a < b ? -1 : 1)));

  const info = run('info', '-c', config);
  assert.is(info.code, 0, info.stderr);
  const parsed = JSON.parse(info.stdout);
  assert.is(parsed.models[0].tables[0].rows, 1000);

  const stats = run('stats', '-c', config, '-m', 'm', '-t', 't', '--seconds', '0.2', '--batch', '64', '--json');
  assert.is(stats.code, 0, stats.stderr);
  const s = JSON.parse(stats.stdout);
  assert.ok(s.lookups > 0 && s.keys === s.lookups * 64, `${s.lookups} lookups of 64 keys`);
  // Every key drawn is stored: each distinct key is answered by exactly one tier, never the default.
  assert.is(s.l1.hits + s.l2.hits + s.l3.hits, s.uniqueKeys);
  assert.is(s.defaults, 0);
  assert.ok(s.keysPerSecond > 0 && s.latency.lookup.count === s.lookups);
  const extremes = run('lookup', '-c', config, '-m', 'm', '-t', 't', String(2n ** 63n - 1n), String(-(2n ** 63n)));
  assert.is(extremes.code, 0, extremes.stderr);
  assert.is(extremes.stdout.trim().split('\n').length, 2);
  const text = run('stats', '-c', config, '-m', 'm', '-t', 't', '--seconds', '0.1');
  assert.match(text.stdout, /^m\/t: \d+ lookups/m);
  assert.match(text.stdout, /^ {2}L3: \d+ hits/m);
});

test('errors go to stderr with exit code 1 and no stack trace', () => {
  const cases: [string[], RegExp][] = [
    [['lookup', '-c', config, '-m', 'm', '-t', 't', '12', 'abc'], /^hps: lookup: key 1 "abc" is not a decimal integer$/m],
    [['lookup', '-c', config, '-m', 'm', '-t', 'nope', '1'], /^hps: model m has no table "nope"; known tables \(index: name\): 0: t$/m],
    [['lookup', '-c', config, '-m', 'x', '-t', 't', '1'], /known models: m/],
    [['import', '-c', config, '-m', 'm', '-t', 't', '--hugectr', join(dir.path, 'missing')], /missing\/key: cannot read/],
    [['import', '-c', config, '-m', 'm', '-t', 't'], /give exactly one of --hugectr, --npy, --jsonl/],
    [['info', '-c', join(dir.path, 'absent.json')], /absent\.json/],
    [['stats', '-c', config, '-m', 'm', '-t', 'nope'], /^hps: model m has no table "nope"; known tables \(index: name\): 0: t$/m],
    [['stats', '-c', config, '-m', 'x', '-t', 't'], /^hps: model "x" is not loaded; known models: m$/m],
    // one bound for keys: the signed 64-bit range, the same message below and above it
    [['lookup', '-c', config, '-m', 'm', '-t', 't', '--', String(2n ** 63n)], /^hps: lookup: key 0 9223372036854775808 is out of the signed 64-bit range \[-2\^63, 2\^63\)$/m],
    [['lookup', '-c', config, '-m', 'm', '-t', 't', '1', String(2n ** 64n)], /^hps: lookup: key 1 18446744073709551616 is out of the signed 64-bit range/m],
    [['lookup', '-c', config, '-m', 'm', '-t', 't', String(-(2n ** 63n) - 1n)], /^hps: lookup: key 0 -9223372036854775809 is out of the signed 64-bit range/m],
  ];
  for (const [args, pattern] of cases) {
    const r = run(...args);
    assert.is(r.code, 1, args.join(' '));
    assert.match(r.stderr, pattern);
    assert.not.match(r.stderr, /\n\s+at /);
    assert.is(r.stdout, '');
  }
});

test.run();
