// A process that uses the Redis tier and the update source, then closes everything and returns
// without process.exit: it must exit on its own. Arguments: the ps.json path, the model, the table and
// the dim. It looks keys up, publishes an update, waits until it is applied and visible, closes while a
// lookup and the stream reader's XREAD BLOCK are in flight, and prints "closed". Should a handle keep
// it alive, an unref'd timer prints what is still open (it does not keep the process alive itself).
import { ParameterServer, UpdatePublisher } from '../../engine/index.js';

const [configFile, model, table, dimText] = process.argv.slice(2);
const dim = Number(dimText);
const ps = await ParameterServer.open(configFile, { progress: false, log: () => {}, warn: () => {} });
const publisher = await UpdatePublisher.open(configFile);
const keys = BigInt64Array.from({ length: 64 }, (_, i) => BigInt(i + 1));
await ps.lookup(model, table, keys);
const rows = new Float32Array(keys.length * dim).fill(42.5);
await publisher.publish(model, table, keys, rows);
while ((ps.updateStats()?.rows ?? 0) < keys.length) await new Promise((r) => setTimeout(r, 20));
const got = await ps.lookup(model, table, keys);
if (!got.every((x) => x === 42.5)) throw new Error('the update is not visible');
const inFlight = ps.lookup(model, table, keys).catch(() => null);
await ps.close();
await inFlight;
await publisher.close();
process.stdout.write('closed\n');
setTimeout(() => {
  process.stderr.write(`still open after close: ${JSON.stringify(process.getActiveResourcesInfo())}\n`);
}, 5000).unref();
