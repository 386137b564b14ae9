// Runs every compiled test file (dist/test/**/*.test.js) in its own process, so that worker threads,
// killed children and native handles of one suite cannot leak into another, then prints one closing
// line of the form "N passed, N failed" (uvu's own summary has another form).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('../dist/test/', import.meta.url).pathname;
const only = process.argv.slice(2);

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith('.test.js') ? [path] : [];
  }).sort();
}

let passed = 0;
let failed = 0;
for (const file of findTests(root)) {
  const name = relative(root, file);
  if (only.length && !only.some((o) => name.includes(o))) continue;
  console.log(`\n# ${name}`);
  const run = spawnSync(process.execPath, [file], { encoding: 'utf8', env: process.env, maxBuffer: 64 << 20 });
  process.stdout.write(run.stdout);
  process.stderr.write(run.stderr);
  const total = Number(/Total:\s+(\d+)/.exec(run.stdout)?.[1] ?? 0);
  const ok = Number(/Passed:\s+(\d+)/.exec(run.stdout)?.[1] ?? 0);
  passed += ok;
  // A suite that crashed before uvu printed its summary counts as one failure.
  failed += run.status === 0 ? total - ok : Math.max(1, total - ok);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
