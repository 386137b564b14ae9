import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomInt64Keys, randomVectors, rng, row, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr, writeJsonl } from './helpers/import-files.js';

/*
 * The CLI's own arguments and files: bad numbers are refused before anything opens, a keys file that is
 * missing or binary is named and never quoted, and `hps import` of files other than the table's sparse
 * file warns that the next open imports the sparse file again (and that is what happens).
 */

const hps = fileURLToPath(new URL('../bin/hps.js', import.meta.url));
const dir = tempDir('cli-args');
test.after(() => dir.remove());

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [hps, ...args], { encoding: 'utf8', cwd: dir.path });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dim = 4;
const keys = randomInt64Keys(300, 401);
const vectors = randomVectors(300, dim, 402);
writeHugeCtr(join(dir.path, 'sparse'), keys, vectors);
const config = join(dir.path, 'ps.json');
writeFileSync(config, JSON.stringify({
  supportlonglong: true,
  models: [{ model: 'm', sparse_files: ['sparse'], embedding_table_names: ['t'], embedding_vecsize_per_table: [dim], default_value_for_each_table: [0] }],
  persistent_db: { type: 'lmdb', path: 'store' },
}));

function fails(args: string[], pattern: RegExp): string {
  const r = run(...args);
  assert.is(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.not.match(r.stderr, /\n\s+at /);
  assert.is(r.stdout, '');
  return r.stderr;
}

test('--seconds must be a positive number (stats and demo)', () => {
  for (const bad of ['-1', '0', 'NaN', 'abc', 'Infinity']) {
    fails(['stats', '-c', config, '-m', 'm', '-t', 't', `--seconds=${bad}`], new RegExp(`option '--seconds <s>' argument '${bad}' is invalid\\. expected a positive number of seconds, got "${bad}"`));
    fails(['demo', `--seconds=${bad}`], /expected a positive number of seconds/);
  }
});

test('a missing or binary --keys-file is named, never quoted; a long bad key is quoted briefly', () => {
  fails(['lookup', '-c', config, '-m', 'm', '-t', 't', '--keys-file', join(dir.path, 'absent.txt')], /^hps: lookup --keys-file \S+absent\.txt: cannot read: ENOENT/m);
  const next = rng(403);
  const binary = join(dir.path, 'keys.bin');
  writeFileSync(binary, Uint8Array.from({ length: 2000 }, () => next() & 0xff));
  const stderr = fails(['lookup', '-c', config, '-m', 'm', '-t', 't', '--keys-file', binary], /^hps: lookup --keys-file \S+keys\.bin: not a text file of decimal keys \(it holds binary bytes\)$/m);
  assert.ok(stderr.length < 200, stderr);
  const long = `12x${'9'.repeat(500)}`;
  const msg = fails(['lookup', '-c', config, '-m', 'm', '-t', 't', '1', long], /^hps: lookup: key 1 "12x9{21}"\.\.\. is not a decimal integer$/m);
  assert.ok(msg.length < 100, msg);
});

test('importing other files than the sparse file warns, naming both; the next open imports the sparse file again', () => {
  // The first open imports the sparse file; importing it again by hand gives no warning.
  const same = run('import', '-c', config, '-m', 'm', '-t', 't', '--hugectr', join(dir.path, 'sparse'));
  assert.is(same.code, 0, same.stderr);
  assert.not.match(same.stderr, /sparse_files/);

  const newer = randomVectors(300, dim, 404);
  const jsonl = join(dir.path, 'rows.jsonl');
  writeJsonl(jsonl, keys, newer, dim);
  const other = run('import', '-c', config, '-m', 'm', '-t', 't', '--jsonl', jsonl);
  assert.is(other.code, 0, other.stderr);
  assert.match(other.stdout, /imported 300 keys/);
  assert.match(other.stderr, new RegExp(`hps: model m table t: importing \\S+rows\\.jsonl, not the table's sparse file \\S+sparse \\(sparse_files in the configuration\\): the next open of this configuration imports \\S+sparse again over these rows`));

  // That next open (here `hps lookup`) serves the sparse file's rows again, as the warning said.
  const probe = [0, 150, 299];
  const looked = run('lookup', '-c', config, '-m', 'm', '-t', 't', ...probe.map((i) => String(keys[i])));
  assert.is(looked.code, 0, looked.stderr);
  const got = looked.stdout.trim().split('\n').map((l) => l.split(': ')[1].split(' ').map(Number));
  assert.equal(got, probe.map((i) => row(vectors, i, dim)));
});

test.run();
