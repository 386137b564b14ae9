import { readFileSync } from 'node:fs';
import { printSelfTime, type CpuProfile } from './lib/cpuprofile.js';

/**
 * Summarizes .cpuprofile files written by `node --cpu-prof` (one per thread) by self time, wasm
 * functions named. Profile any suite, e.g.:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/run.js --quick --only import --no-docs
 *   node dist/bench/profile-summary.js /tmp/prof/*.cpuprofile
 */
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node dist/bench/profile-summary.js FILE.cpuprofile...');
  process.exit(2);
}
for (const file of files) {
  console.log(`\n${file}`);
  printSelfTime(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(process.env.TOP ?? 15));
}
