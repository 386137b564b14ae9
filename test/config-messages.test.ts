import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../engine/index.js';
import { HpsError } from '../engine/errors.js';
import { jsonFaultOffset } from '../engine/config/json-fault.js';
import { rng, tempDir } from './helpers/lmdb-random.js';

/*
 * How configuration files are quoted in errors: every JSON fault at its own line and column, a short
 * escaped excerpt of text files only, never a binary file's bytes, and unknown keys named properly
 * whatever their name ("__proto__" included).
 */

const dir = tempDir('config-messages');
test.after(() => dir.remove());

async function configError(content: string | Uint8Array): Promise<string> {
  const file = join(dir.path, 'ps.json');
  writeFileSync(file, content);
  try {
    await loadConfig(file);
  } catch (e) {
    assert.instance(e, HpsError);
    assert.is((e as HpsError).code, 'BAD_CONFIG', (e as Error).message);
    return (e as Error).message.replace(file, 'FILE');
  }
  throw new Error('expected BAD_CONFIG');
}

/** A random JSON value (numbers, strings with escapes, literals, nested arrays and objects). */
function randomValue(next: () => number, depth = 0): unknown {
  const r = next() % 10;
  if (depth > 3 || r < 3) {
    const leaf = next() % 6;
    return [next() % 100000 / 100 - 400, `s\n"${next() % 100}\\`, null, true, false, 1e-9 * (next() % 1000)][leaf];
  }
  if (r < 6) return Array.from({ length: next() % 4 }, () => randomValue(next, depth + 1));
  return Object.fromEntries(Array.from({ length: next() % 4 }, (_, i) => [`k${i}`, randomValue(next, depth + 1)]));
}

test('the fault scanner agrees with V8 wherever V8 names a position, and finds the unexpected character where it does not', () => {
  const next = rng(0x5eed);
  const edits = ',]}[{:"x1 .e-\\u';
  let positioned = 0;
  let unpositioned = 0;
  for (let i = 0; i < 6000; i++) {
    let text = JSON.stringify(randomValue(next), null, next() % 2 ? 2 : 0);
    const at = next() % (text.length + 1);
    const c = edits[next() % edits.length];
    const op = next() % 3;
    text = op === 0 ? text.slice(0, at) + text.slice(at + 1) : op === 1 ? text.slice(0, at) + c + text.slice(at) : text.slice(0, at) + c + text.slice(at + 1);
    let reason: string | null = null;
    try {
      JSON.parse(text);
    } catch (e) {
      reason = (e as Error).message;
    }
    const found = jsonFaultOffset(text);
    if (reason === null) {
      assert.is(found, -1, text);
      continue;
    }
    const position = /at position (\d+)/.exec(reason);
    if (position) {
      positioned++;
      assert.is(found, Number(position[1]), `${JSON.stringify(text)}: ${reason}`);
    } else if (/end of JSON input/.test(reason)) {
      assert.is(found, text.length, JSON.stringify(text));
    } else {
      unpositioned++;
      const token = /^Unexpected token '([\s\S])'/.exec(reason);
      assert.ok(token, reason);
      assert.is(text[found], token![1], `${JSON.stringify(text)}: ${reason}, scanner says ${found}`);
    }
  }
  assert.ok(positioned > 1000 && unpositioned > 500, `${positioned} positioned, ${unpositioned} not`);
});

test('an unexpected character is reported at its own line and column (not at the end of the file), quoted briefly', async () => {
  const msg = await configError('{\n  "models": [\n    {"model": tru}\n  ],\n  "persistent_db": {}\n}\n');
  assert.is(msg, 'invalid JSON in config file FILE at byte offset 33 (line 3, column 18): Unexpected character "}" near ..."\\"model\\": tru}\\n  ],\\n  \\"pe"...');
  assert.match(await configError('{"models": [1, 2,]}'), /at byte offset 17 \(line 1, column 18\): Unexpected character "]" near /);
  assert.match(await configError('hello, this is not JSON'), /at byte offset 0 \(line 1, column 1\): Unexpected character "h" near "hello, this "\.\.\.$/);
  // V8's own words where it names a position, without its position text
  assert.match(await configError('{"a": 1}}'), /at byte offset 8 \(line 1, column 9\): Unexpected non-whitespace character after JSON near /);
  assert.match(await configError('{"a": 1,\n,}'), /\(line 2, column 1\): Expected double-quoted property name near /);
  assert.match(await configError('{"models": ['), /at byte offset 12 \(line 1, column 13\): Unexpected end of JSON input near "\{\\"models\\": \["$/);
});

test('the excerpt is short and escaped, whatever the file holds', async () => {
  const long = `{"a": "${'z'.repeat(5000)}" x, "b": "${'y'.repeat(5000)}"}`;
  const msg = await configError(long);
  assert.ok(msg.length < 200, msg);
  assert.match(msg, /near \.\.\."z{10}\\" x, \\"b\\": \\"y{0,3}"\.\.\.$/);
});

test('a binary file given as the config is named, never quoted', async () => {
  const npy = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0x76, 0, 0x7b, 0x27, 0x64, 0x65, 0x73, 0x63, 0x72, 0x27]);
  const next = rng(99);
  const noise = Uint8Array.from({ length: 4096 }, () => next() & 0xff);
  for (const bytes of [npy, noise, new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x00, 0x7d])]) {
    const msg = await configError(bytes);
    assert.match(msg, /^config file FILE is not JSON text: it holds binary bytes \(\d+ characters\); expected a JSON file$/);
  }
});

test('an unknown key named __proto__ or constructor gets the known keys, not [object Object]', async () => {
  const base = { supportlonglong: true, models: [{ model: 'm', sparse_files: [], embedding_table_names: ['t'], embedding_vecsize_per_table: [4], deployed_device_list: [0], default_value_for_each_table: [0] }] };
  const text = JSON.stringify(base)
    .replace('"supportlonglong"', '"__proto__": {"x": 1}, "constructor": 2, "supportlonglong"')
    .replace('"model":', '"__proto__": [1], "model":');
  const file = join(dir.path, 'proto.ps.json');
  writeFileSync(file, text);
  const c = await loadConfig(file);
  const lines = c.warnings.map((w) => w.replace(file, 'FILE'));
  assert.is(lines.length, 3, lines.join('\n'));
  assert.ok(lines.every((l) => !/\[object Object\]|native code/.test(l)), lines.join('\n'));
  assert.match(lines.find((l) => l.includes(': __proto__'))!, /^config file FILE: __proto__: unknown key, ignored \(as HPS ignored it\); expected one of: supportlonglong, /);
  assert.match(lines.find((l) => l.includes(': constructor'))!, /: constructor: unknown key, ignored .*expected one of: supportlonglong, /);
  assert.match(lines.find((l) => l.includes('models[0].__proto__'))!, /models\[0\]\.__proto__: unknown key, ignored .*expected one of: model, sparse_files/);
  assert.is(c.models[0].tables[0].dim, 4);
});

test.run();
