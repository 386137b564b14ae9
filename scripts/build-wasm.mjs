// Builds wasm/hps.wasm from every wasm/*.c with Debian's emcc (3.1.6). The module imports its memory
// (env.memory, shared) so that one compiled module is instantiated once per shared memory and thread.
// `--check` rebuilds into a temporary file and fails when the committed wasm/hps.wasm differs from it.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const wasmDir = new URL('../wasm/', import.meta.url).pathname;
const target = join(wasmDir, 'hps.wasm');
const check = process.argv.includes('--check');
const sources = readdirSync(wasmDir).filter((f) => f.endsWith('.c')).sort().map((f) => join(wasmDir, f));
const output = check ? join(mkdtempSync(join(tmpdir(), 'hps-wasm-')), 'hps.wasm') : target;

const flags = [
  '-O3', '-msimd128', '-matomics', '-mbulk-memory', '--no-entry',
  '-sSTANDALONE_WASM', '-sIMPORTED_MEMORY', '-sALLOW_MEMORY_GROWTH=1',
  '-sINITIAL_MEMORY=1MB', '-sMAXIMUM_MEMORY=4GB', '-sTOTAL_STACK=16KB', '-sGLOBAL_BASE=1024',
  '-Wl,--shared-memory', '-Wl,--no-check-features', '-Wall', '-Werror',
];
try {
  // Debian's emcc needs its own acorn for the optimizer.
  execFileSync('emcc', [...flags, ...sources, '-o', output], {
    stdio: 'inherit', env: { ...process.env, NODE_PATH: '/usr/share/nodejs' },
  });
} catch (err) {
  console.error(`build:wasm: emcc failed (${err.code === 'ENOENT' ? 'emcc not found: apt-get install emscripten' : err.message})`);
  process.exit(1);
}
if (check) {
  if (!readFileSync(output).equals(readFileSync(target))) {
    console.error('build:wasm --check: wasm/hps.wasm differs from what wasm/*.c build; run `npm run build:wasm` and commit it');
    process.exit(1);
  }
  console.log('build:wasm --check: wasm/hps.wasm matches its sources');
} else {
  console.log(`build:wasm: wrote ${target} from ${sources.length} sources`);
}
