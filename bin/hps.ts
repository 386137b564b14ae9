#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { HpsError, ParameterServer, type ImportSpec } from '../engine/index.js';
import { looksLikeText, textExcerpt } from '../engine/errors.js';
import { formatStats, zipfLookups } from './workload.js';
import { runDemo } from './demo.js';
import { addServeCommand } from './serve.js';
import { addPublishCommand } from './publish.js';
import { addCheckCommand } from './check.js';

const program = new Command('hps')
  .description('Hierarchical parameter server for Node.js: batched embedding lookups from tiered storage')
  .option('-v, --verbose', 'print which tiers and caches were picked, and why, on stderr')
  .showHelpAfterError();

program
  .command('demo')
  .description('generate a synthetic HugeCTR model, import it into LMDB, run Zipf(1.05) lookups, check them')
  .option('--keys <n>', 'keys in the generated table', int, 2 ** 22)
  .option('--dim <n>', 'vector dimension', int, 64)
  .option('--dir <path>', 'folder for the model, ps.json and store (kept); default: a temp folder, removed after')
  .option('--seconds <s>', 'how long to run lookups', seconds, 3)
  .option('--batch <n>', 'keys per lookup', int, 16384)
  .option('--seed <n>', 'random seed', int, 1)
  .action(async (o) => runDemo(o, (line) => console.log(line)));

withTable(program.command('import'))
  .description('import a table from a HugeCTR folder, a pair of .npy files or a JSONL file (atomic)')
  .option('--hugectr <folder>', 'HugeCTR sparse model folder (key + emb_vector)')
  .option('--key-bytes <n>', 'bytes per key in the HugeCTR key file: 8 (int64, as HPS reads it) or 4 (older HugeCTR versions); default 8', keyBytes)
  .option('--npy <files...>', 'keys.npy and vectors.npy')
  .option('--jsonl <file>', 'JSON Lines: {"key": 1, "vector": [...]} per line')
  .action(async (o) => {
    const spec = importSpec(o);
    await withServer(o.config, async (ps) => {
      const r = await ps.importTable(o.model, tableArg(o.table), spec);
      console.log(`imported ${r.rows} keys (${r.count} distinct) into ${r.model}/${r.table} in ${r.seconds.toFixed(2)} s: ${Math.round(r.keysPerSecond).toLocaleString('en-US')} keys/s, ${(r.bytes / 2 ** 20 / r.seconds).toFixed(0)} MiB/s`);
    });
  });

withTable(program.command('export'))
  .description('write a table as a HugeCTR sparse model folder (key + emb_vector)')
  .requiredOption('-o, --out <folder>', 'output folder')
  .action(async (o) => {
    await withServer(o.config, async (ps) => {
      const r = await ps.exportTable(o.model, tableArg(o.table), o.out);
      console.log(`exported ${r.rows} keys to ${r.folder} in ${r.seconds.toFixed(2)} s`);
    });
  });

withTable(program.command('lookup'))
  .description('look up keys and print their vectors, one line per key')
  .argument('[keys...]', 'keys (decimal integers, negative ones included)')
  .option('--keys-file <file>', 'read keys from a file (separated by spaces, commas or newlines)')
  // so that negative keys (-7) are keys, not options; anything else unknown fails as a key
  .allowUnknownOption()
  .action(async (keyArgs: string[], o) => {
    const texts = [...keyArgs, ...(o.keysFile ? readKeysFile(o.keysFile).split(/[\s,]+/).filter(Boolean) : [])];
    if (texts.length === 0) throw new HpsError('BAD_KEY', 'lookup: no keys given (as arguments or with --keys-file)');
    const keys = parseKeys(texts, o.keysFile);
    await withServer(o.config, async (ps) => {
      const out = await ps.lookup(o.model, tableArg(o.table), keys);
      const dim = out.length / keys.length;
      const lines = texts.map((k, i) => `${k}: ${Array.from(out.subarray(i * dim, (i + 1) * dim)).join(' ')}`);
      console.log(lines.join('\n'));
    });
  });

program
  .command('info')
  .description('print the models, tables and tiers of a configuration as JSON')
  .requiredOption('-c, --config <ps.json>', 'HPS ps.json or a JSON file of typed options')
  .action(async (o) => withServer(o.config, async (ps) => console.log(JSON.stringify(ps.info(), null, 2))));

withTable(program.command('stats'))
  .description('run Zipf(1.05) lookups over a table\'s stored keys, then print hit rates per tier and latency per stage')
  .option('--seconds <s>', 'how long to run lookups', seconds, 3)
  .option('--batch <n>', 'keys per lookup', int, 1024)
  .option('--sample <n>', 'stored keys to draw from (the first n in key order)', int, 1 << 20)
  .option('--json', 'print the stats as JSON')
  .action(async (o) => {
    await withServer(o.config, async (ps) => {
      const { name, dim } = ps.tableInfo(o.model, tableArg(o.table));
      const keys = ps.storedKeys(o.model, name, o.sample);
      if (keys.length === 0) throw new HpsError('BAD_CONFIG', `stats: model ${o.model} table ${name} has no stored keys to look up`);
      const rate = await zipfLookups(ps, { model: o.model, table: name, keys, dim, batch: o.batch, seconds: o.seconds, seed: 1 });
      const stats = ps.stats().find((s) => s.model === o.model && s.table === name)!;
      if (o.json) console.log(JSON.stringify({ ...rate, ...stats }, null, 2));
      else console.log([`${Math.round(rate.keysPerSecond).toLocaleString('en-US')} keys/s in batches of ${o.batch}`, ...formatStats(stats)].join('\n'));
    });
  });

function withTable(cmd: Command): Command {
  return cmd
    .requiredOption('-c, --config <ps.json>', 'HPS ps.json or a JSON file of typed options')
    .requiredOption('-m, --model <name>', 'model name')
    .requiredOption('-t, --table <name|index>', 'table name or index');
}

async function withServer(config: string, run: (ps: ParameterServer) => Promise<void>): Promise<void> {
  const quiet = !program.opts().verbose;
  const ps = await ParameterServer.open(config, quiet ? { log: () => {} } : {});
  try {
    await run(ps);
  } finally {
    await ps.close();
  }
}

function importSpec(o: { hugectr?: string; keyBytes?: 8 | 4; npy?: string[]; jsonl?: string }): ImportSpec {
  const given = [o.hugectr && 'hugectr', o.npy && 'npy', o.jsonl && 'jsonl'].filter(Boolean);
  if (given.length !== 1) throw new HpsError('BAD_FILE', `import: give exactly one of --hugectr, --npy, --jsonl (got ${given.length ? given.join(', ') : 'none'})`);
  if (o.keyBytes !== undefined && !o.hugectr) throw new HpsError('BAD_FILE', 'import: --key-bytes is for --hugectr folders (.npy files say their key type, JSONL keys are numbers)');
  if (o.hugectr) return { format: 'hugectr', folder: o.hugectr, keyBytes: o.keyBytes };
  if (o.npy) {
    if (o.npy.length !== 2) throw new HpsError('BAD_FILE', `import --npy: expected two files (keys.npy vectors.npy), got ${o.npy.length}`);
    return { format: 'npy', keys: o.npy[0], vectors: o.npy[1] };
  }
  return { format: 'jsonl', file: o.jsonl! };
}

function parseKeys(texts: string[], file: string | undefined): BigInt64Array {
  const keys = new BigInt64Array(texts.length);
  texts.forEach((t, i) => {
    if (!/^-?\d+$/.test(t)) throw new HpsError('BAD_KEY', `lookup: key ${i} ${textExcerpt(t, 0, 24)}${file ? ` (arguments then ${file})` : ''} is not a decimal integer`);
    const v = BigInt(t);
    if (v < -(2n ** 63n) || v >= 2n ** 63n) throw new HpsError('BAD_KEY', `lookup: key ${i} ${t} is out of the signed 64-bit range [-2^63, 2^63)`);
    keys[i] = v;
  });
  return keys;
}

/** The text of --keys-file; a missing file or a binary one is an error naming it (never quoting it). */
function readKeysFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new HpsError('BAD_FILE', `lookup --keys-file ${file}: cannot read: ${(e as Error).message}`, { cause: e });
  }
  if (!looksLikeText(text)) throw new HpsError('BAD_FILE', `lookup --keys-file ${file}: not a text file of decimal keys (it holds binary bytes)`);
  return text;
}

function tableArg(table: string): string | number {
  return /^\d+$/.test(table) ? Number(table) : table;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number of seconds, got ${JSON.stringify(value)}`);
  return n;
}

function keyBytes(value: string): 8 | 4 {
  if (value !== '8' && value !== '4') throw new InvalidArgumentError(`expected 8 (int64 keys) or 4 (uint32 keys), got ${JSON.stringify(value)}`);
  return Number(value) as 8 | 4;
}

function int(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

addServeCommand(program);
addPublishCommand(program);
addCheckCommand(program);

try {
  await program.parseAsync();
} catch (e) {
  console.error(`hps: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}
