// A read-only serving process for the concurrent-swap test: reads the same keys over and over until
// its stdin closes (and once more after), classifying each batch as all old rows, all new rows, or a mix, then prints the
// counts as JSON. Each batch is one read snapshot, so a mix would mean a torn import swap.
import { LmdbStore } from '../../engine/lmdb/lmdb-store.js';

const [root, model, table, keysHex, dimText] = process.argv.slice(2);
const dim = Number(dimText);
const keys = new BigInt64Array(new Uint8Array(Buffer.from(keysHex, 'hex')).buffer);
const store = LmdbStore.open(root, model, { readOnly: true });
const out = new Float32Array(keys.length * dim);
const counts = { old: 0, new: 0, mixed: 0, missing: 0 };
let open = true;
process.stdin.on('data', () => {});
process.stdin.on('end', () => (open = false));
process.stdout.write('ready\n');
// the first batch runs before the writer starts, one more after it is done
for (let last = false; !last; ) {
  last = !open;
  const missing = store.get(table, keys, out);
  if (missing.length > 0) counts.missing++;
  // the test's old rows are all positive, the new ones all negative
  let positive = 0;
  for (let i = 0; i < out.length; i += dim) if (out[i] > 0) positive++;
  if (positive === keys.length) counts.old++;
  else if (positive === 0) counts.new++;
  else counts.mixed++;
  await new Promise((r) => setImmediate(r));
}
process.stdout.write(JSON.stringify(counts) + '\n');
await store.close();
