// Runs every compiled test file (dist/test/**/*.test.js) in its own process, so that worker threads,
// killed children and native handles of one suite cannot leak into another, then prints one closing
// line of the form "N passed, N failed" (uvu's own summary has another form).
//
// A file whose process is still alive EXIT_GRACE_MS after uvu printed its summary holds an open handle
// (a client that did not disconnect): it is killed, its tests count as uvu reported them, and the leak
// is reported by name so that it gets fixed. A file that runs past FILE_LIMIT_MS is killed and fails.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const EXIT_GRACE_MS = 30_000;
const FILE_LIMIT_MS = 15 * 60_000;
const root = new URL('../dist/test/', import.meta.url).pathname;
const only = process.argv.slice(2);

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith('.test.js') ? [path] : [];
  }).sort();
}

/** Runs one file; resolves to its stdout, exit status, and whether it had to be killed and why. */
function runFile(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let killedFor = null;
    let grace = null;
    const limit = setTimeout(() => { killedFor = 'limit'; child.kill('SIGKILL'); }, FILE_LIMIT_MS);
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      stdout += chunk;
      if (!grace && /Duration:/.test(stdout)) {
        grace = setTimeout(() => { killedFor = 'open-handle'; child.kill('SIGKILL'); }, EXIT_GRACE_MS);
      }
    });
    child.stderr.on('data', (chunk) => process.stderr.write(chunk));
    child.on('close', (status) => {
      clearTimeout(limit);
      if (grace) clearTimeout(grace);
      resolve({ stdout, status, killedFor });
    });
  });
}

let passed = 0;
let failed = 0;
const leaks = [];
for (const file of findTests(root)) {
  const name = relative(root, file);
  if (only.length && !only.some((o) => name.includes(o))) continue;
  console.log(`\n# ${name}`);
  const run = await runFile(file);
  const total = Number(/Total:\s+(\d+)/.exec(run.stdout)?.[1] ?? 0);
  const ok = Number(/Passed:\s+(\d+)/.exec(run.stdout)?.[1] ?? 0);
  passed += ok;
  if (run.killedFor === 'open-handle') {
    leaks.push(name);
    console.log(`# ${name}: still running ${EXIT_GRACE_MS / 1000} s after its summary (an open handle); killed`);
    failed += total - ok;
  } else if (run.killedFor === 'limit') {
    console.log(`# ${name}: killed after ${FILE_LIMIT_MS / 60_000} minutes`);
    failed += Math.max(1, total - ok);
  } else {
    // A suite that crashed before uvu printed its summary counts as one failure.
    failed += run.status === 0 ? total - ok : Math.max(1, total - ok);
  }
}
if (leaks.length > 0) console.log(`\nopen handles after the tests finished (killed): ${leaks.join(', ')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
