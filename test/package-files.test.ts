// What `npm pack` would ship: the runtime a user needs (entry points, types, bin, worker, wasm, proto)
// and nothing of the tests, benches or results. Reads the list npm itself computes from package.json.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const root = new URL('../../', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(new URL('package.json', `file://${root}`), 'utf8')) as {
  main: string; types: string; bin: Record<string, string>; files: string[];
  exports: Record<string, { types: string; default: string }>;
};

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const r = spawnSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
if (r.status !== 0) throw new Error(`npm pack --dry-run failed (${r.status}): ${r.stderr}`);
const packed = new Set((JSON.parse(r.stdout) as [{ files: { path: string }[] }])[0].files.map((f) => f.path));
const strip = (p: string): string => p.replace(/^\.\//, '');

test('package.json has a files allowlist', () => {
  assert.ok(Array.isArray(pkg.files) && pkg.files.length > 0);
});

test('main, types, bin and every export point at packed files', () => {
  const targets = [pkg.main, pkg.types, ...Object.values(pkg.bin)];
  for (const entry of Object.values(pkg.exports)) targets.push(entry.types, entry.default);
  assert.ok(Object.keys(pkg.exports).includes('./tfjs'), 'the tfjs export');
  for (const t of targets) assert.ok(packed.has(strip(t)), `${t} is not in npm pack's list`);
});

test('the files the runtime loads by path are packed', () => {
  // engine/pool/lookup-pool.ts, engine/wasm/loader.ts and server/grpc-service.ts resolve these
  // relative to their compiled module, so they must keep these paths in the package.
  for (const f of ['dist/workers/lookup-worker.js', 'wasm/hps.wasm', 'server/proto/grpc_service.proto',
    'dist/server/server.js', 'dist/bin/serve.js', 'package.json', 'README.md', 'docs/api.md',
    'CMakeLists.txt', 'scripts/build-native.mjs', 'native/binding.cpp']) {
    assert.ok(packed.has(f), `${f} is not in npm pack's list`);
  }
});

test('no test, bench, result or source-only file is packed', () => {
  const bad = [...packed].filter((p) => /^(dist\/)?(test|bench|examples|results)\//.test(p)
    || /\.test\.(js|ts)$/.test(p) || /^(engine|workers|server|bin)\/.*\.ts$/.test(p) || p.startsWith('.device/')
    || /\.lmdb/.test(p) || p === 'tsconfig.json' || p === 'package-lock.json' || p.startsWith('wasm/') && p !== 'wasm/hps.wasm');
  assert.equal(bad, []);
});

test.run();
