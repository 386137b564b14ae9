// The TF.js layers are a package export of their own: importing `hps-node` never loads TF.js, and
// `hps-node/tfjs` gives the layers (checked in a fresh process, through the package's export map).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('import "hps-node" loads no TF.js; import "hps-node/tfjs" gives both layers', () => {
  // TF.js keeps its engine in globalThis._tfengine from the moment it is loaded.
  const script = [
    "const main = await import('hps-node');",
    "console.log('main', typeof main.ParameterServer, globalThis._tfengine === undefined ? 'no-tfjs' : 'tfjs-loaded');",
    "const layers = await import('hps-node/tfjs');",
    "console.log('tfjs', typeof layers.HpsLookupLayer, typeof layers.HpsSparseLookupLayer, globalThis._tfengine === undefined ? 'no-tfjs' : 'tfjs-loaded');",
  ].join('\n');
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.is(run.status, 0, run.stderr);
  assert.match(run.stdout, /^main function no-tfjs$/m);
  assert.match(run.stdout, /^tfjs function function tfjs-loaded$/m);
});

test.run();
