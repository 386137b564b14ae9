// A process that must exit on its own (no process.exit) once it closed what it opened; it prints
// "closed" when it did. Should a handle keep it alive, an unref'd timer prints what is still open (it
// does not keep the process alive itself).
//   ps CONFIG MODEL TABLE DIM: uses the Redis tier and the update source (looks keys up, publishes an
//     update, waits until it is visible), then closes while a lookup and the stream reader's XREAD BLOCK
//     are in flight;
//   refresh ADDRESSES: a cluster client, disconnected while its periodic slot-map refresh is in flight.
import { ParameterServer, UpdatePublisher } from '../../engine/index.js';
import { connectCluster } from '../../engine/redis/connect.js';

/** Says it closed; should the process still be alive 5 s later, says what keeps it. */
function closed(): void {
  process.stdout.write('closed\n');
  setTimeout(() => {
    process.stderr.write(`still open after close: ${JSON.stringify(process.getActiveResourcesInfo())}\n`);
  }, 5000).unref();
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'refresh') {
  const cluster = await connectCluster({ addresses: args[0].split(','), userName: null, password: null, tls: null, baseDir: '.', source: 'test' });
  // 'refresh' is emitted just before the refresh's completion callbacks run.
  await new Promise<void>((resolve) => cluster.once('refresh', () => {
    cluster.disconnect();
    resolve();
  }));
  closed();
} else {
  await usePs(args);
}

async function usePs([configFile, model, table, dimText]: string[]): Promise<void> {
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
  closed();
}
