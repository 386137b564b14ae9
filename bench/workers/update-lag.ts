// The serving process of the redis suite's update-lag workload: opens a ParameterServer from the
// config file given (with an update_source), and over IPC reports every applied batch as
// { applied: lastStreamId, at: ms } (the wall clock, performance.timeOrigin + performance.now(), taken
// when the batch became visible to lookups), answers { op: 'lookup', keys } with { rows }, and exits
// on { op: 'stop' } once closed.
import { ParameterServer } from '../../engine/index.js';

const [configFile] = process.argv.slice(2);
const ps = await ParameterServer.open(configFile, { progress: false, log: () => {}, warn: (l) => process.stderr.write(`${l}\n`) });
ps.updateSource!.onApplied((_stream, lastId) => {
  process.send!({ applied: lastId, at: performance.timeOrigin + performance.now() });
});
process.on('message', async (m: { op: string; model?: string; table?: string; keys?: string[] }) => {
  if (m.op === 'lookup') {
    const rows = await ps.lookup(m.model!, m.table!, BigInt64Array.from(m.keys!.map(BigInt)));
    process.send!({ rows: Array.from(rows) });
  }
  if (m.op === 'stop') {
    await ps.close();
    process.disconnect();
  }
});
process.send!({ ready: true });
