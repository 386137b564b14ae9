// Builds the CUDA addon into build/hps_cuda.node with cmake, against this Node's own headers and
// node-addon-api's include directory (nothing is downloaded). Exits non-zero with a clear message when
// nvcc, cmake or the headers are missing (CI calls it only where nvcc exists).
//   node scripts/build-native.mjs [--bench] [--ptxas-report]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = new Set(process.argv.slice(2));

function fail(message) {
  console.error(`build-native: ${message}`);
  process.exit(1);
}

function found(cmd) {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

if (!found('nvcc')) fail('nvcc (the CUDA compiler) was not found on PATH: install the CUDA toolkit to build the GPU cache; without it the engine uses the WASM cache');
if (!found('cmake')) fail('cmake was not found on PATH');

const version = process.versions.node;
const nodeHeaders = [
  process.env.NODE_INCLUDE_DIR,
  join(dirname(dirname(process.execPath)), 'include', 'node'),
  join(homedir(), '.cache', 'node-gyp', version, 'include', 'node'),
  join(homedir(), '.node-gyp', version, 'include', 'node'),
].find((d) => d && existsSync(join(d, 'node_api.h')));
if (!nodeHeaders) fail(`Node's headers (node_api.h) were not found next to ${process.execPath} nor in node-gyp's cache; set NODE_INCLUDE_DIR`);

const require = createRequire(import.meta.url);
let napiDir;
try {
  napiDir = dirname(require.resolve('node-addon-api/package.json'));
} catch {
  fail('node-addon-api is not installed (npm install)');
}

const build = join(root, 'build');
const configure = [
  '-S', root, '-B', build,
  '-DCMAKE_BUILD_TYPE=Release',
  `-DNODE_INCLUDE_DIR=${nodeHeaders}`,
  `-DNAPI_INCLUDE_DIR=${napiDir}`,
  `-DHPS_GPU_BENCH=${args.has('--bench') ? 'ON' : 'OFF'}`,
  `-DHPS_PTXAS_REPORT=${args.has('--ptxas-report') ? 'ON' : 'OFF'}`,
];
for (const step of [configure, ['--build', build, '-j', String(Math.min(4, availableParallelism()))]]) {
  const r = spawnSync('cmake', step, { stdio: 'inherit' });
  if (r.status !== 0) fail(`cmake ${step[0]} ... failed (exit ${r.status})`);
}
console.log(`build-native: built ${join(build, 'hps_cuda.node')}`);
