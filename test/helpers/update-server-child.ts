// A serving process for the update-stream tests: opens a ParameterServer from the config file given,
// then over IPC answers { op: 'lookup', keys } with the rows, { op: 'stats' } with the update source's
// counters and the mixed-vector count, and reports every applied batch as { applied: lastId }. Until
// told to stop, it also reads every key in a loop and counts rows that mix two versions (row[j] - j
// must be the same for every j of a row: how the tests build their vectors).
import { ParameterServer } from '../../engine/index.js';

const [configFile, keyCount, dimText] = process.argv.slice(2);
const dim = Number(dimText);
const ps = await ParameterServer.open(configFile, { progress: false, log: () => {}, warn: () => {} });
ps.updateSource!.onApplied((stream, lastId) => process.send!({ applied: lastId, stream }));
const keys = BigInt64Array.from({ length: Number(keyCount) }, (_, i) => BigInt(i * 7 + 1));
let mixed = 0;
let reads = 0;
let reading = true;

async function readLoop(): Promise<void> {
  while (reading) {
    const rows = await ps.lookup('m', 't', keys);
    for (let i = 0; i < keys.length; i++) {
      const base = rows[i * dim];
      for (let j = 1; j < dim; j++) if (rows[i * dim + j] - j !== base) { mixed++; break; }
    }
    reads++;
    await new Promise((r) => setImmediate(r));
  }
}
const loop = readLoop();

process.on('message', async (m: { op: string; keys?: string[] }) => {
  if (m.op === 'stats') process.send!({ stats: ps.updateStats(), mixed, reads });
  if (m.op === 'lookup') {
    const rows = await ps.lookup('m', 't', BigInt64Array.from(m.keys!.map(BigInt)));
    process.send!({ rows: Array.from(rows) });
  }
  if (m.op === 'stop') {
    reading = false;
    await loop;
    await ps.close();
    process.exit(0);
  }
});
process.send!({ ready: true });
