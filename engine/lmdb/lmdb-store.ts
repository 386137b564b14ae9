import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { HpsError } from '../errors.js';
import { normalizeKeys, type KeyType } from '../keys.js';
import { KeyCodec, keyHalves } from './key-codec.js';
import { removeAbandonedRuns } from './abandoned-runs.js';
import { EnvGate } from './env-gate.js';
import { currentOwner, describeOwner, isOwner, ownerAlive, type Owner } from './owner.js';
import { checkDataFile } from './data-file.js';
import { RowChecksum } from './row-checksum.js';
import { StagedTable } from './staged-table.js';
import { writeRows, type RowDatabase } from './write-rows.js';
import type { TableMeta } from './table-meta.js';

/** A named string stored with rows in the same transaction (an update source's last applied stream ID). */
export interface StoreMark {
  name: string;
  value: string;
}

export interface LmdbStoreOptions {
  /** Serving processes open read-only: every write is an HpsError READ_ONLY. */
  readOnly?: boolean;
  /**
   * Named databases this process may have open in the environment (default 1024). Each table uses
   * at most two, whatever the number of imports (see `rowSlots`), plus one for the metadata.
   */
  maxDbs?: number;
}

/** The meta entry of a staging database: the import that writes it, and for which table. */
interface StagingRecord {
  table: string;
  owner: Owner;
}

type MetaDatabase = Database<TableMeta | StagingRecord | true | string, string>;

const META_DB = 'hps:meta';
const TABLE = 'table:';
const MARK = 'mark:';
/**
 * Meta entries naming staging databases of imports in progress, with their owner: a writable open empties
 * those whose owner is dead (a killed import), never a live one. A live entry also locks its table
 * against a second import, in any process.
 */
export const STAGING = 'staging:';
/** Sleeps between attempts of a read that raced another thread opening a database handle. */
const backoff = new Int32Array(new SharedArrayBuffer(4));
const ROW_DB_OPTIONS = { keyEncoding: 'binary', encoding: 'binary', compression: false, cache: false } as const;

/**
 * The persistent tier (L3): one LMDB environment per model at `<root>/<model>`, one named database per
 * table. Reads copy rows straight from LMDB's value buffer into the caller's Float32Array with no
 * per-key allocation; each write call is one transaction.
 */
export class LmdbStore {
  private readonly rowDbs = new Map<string, RowDatabase>();
  /**
   * Table metadata read in this event-loop turn. lmdb-js reads within one turn from one snapshot
   * anyway, so this changes nothing visible and saves decoding the record on every call; it is
   * cleared on the next turn (to see other processes' imports) and by this store's own writes.
   */
  private readonly metaCache = new Map<string, TableMeta | undefined>();
  private metaCacheClear: NodeJS.Immediate | null = null;
  private readonly codecs = { int64: new KeyCodec('int64'), uint32: new KeyCodec('uint32') };
  private closed = false;

  private constructor(
    readonly model: string,
    readonly path: string,
    readonly readOnly: boolean,
    private readonly env: RootDatabase,
    private readonly meta: MetaDatabase | null,
    private readonly gate: EnvGate,
  ) {}

  /** Opens (a writable open creates) the environment of `model` under `root`. */
  static open(root: string, model: string, options: LmdbStoreOptions = {}): LmdbStore {
    const path = join(root, model);
    const readOnly = options.readOnly ?? false;
    if (readOnly && !existsSync(path)) {
      throw new HpsError('IO', `model ${model}: no LMDB environment at ${path}; a read-only store is never created, import the model's tables first`);
    }
    let gate: EnvGate;
    let env: RootDatabase;
    try {
      gate = EnvGate.open(path, readOnly);
      // Opened holding the gate: an open must not overlap another process's commit (env-gate.ts).
      env = gate.run(() => {
        checkDataFile(path, model);
        return open({ path, maxDbs: options.maxDbs ?? 1024, readOnly, compression: false, cache: false });
      });
    } catch (e) {
      if (e instanceof HpsError) throw e;
      throw new HpsError('IO', `model ${model}: cannot open the LMDB environment at ${path}: ${(e as Error).message}`, { cause: e });
    }
    let meta: MetaDatabase | null = null;
    try {
      meta = gate.run(() => env.openDB<TableMeta | StagingRecord | true | string, string>(META_DB, { encoding: 'json', cache: false }));
    } catch (e) {
      if (!readOnly) {
        void gate.run(() => env.close());
        throw new HpsError('IO', `model ${model}: cannot open ${META_DB} in ${path}: ${(e as Error).message}`, { cause: e });
      }
    }
    const store = new LmdbStore(model, path, readOnly, env, meta, gate);
    try {
      store.checkTableDbs();
    } catch (e) {
      void gate.run(() => env.close());
      throw e;
    }
    if (!readOnly) {
      store.dropAbandonedStaging();
      removeAbandonedRuns(path);
    }
    return store;
  }

  /** Every table's metadata, by name. */
  tables(): TableMeta[] {
    if (!this.meta) return [];
    const out: TableMeta[] = [];
    for (const { value } of this.meta.getRange({ start: TABLE, end: TABLE + '\uffff' })) out.push(value as TableMeta);
    return out;
  }

  table(name: string): TableMeta | undefined {
    this.checkOpen();
    if (this.metaCache.has(name)) return this.metaCache.get(name);
    const meta = (this.meta?.get(TABLE + name) as TableMeta | undefined) ?? undefined;
    this.metaCache.set(name, meta);
    this.metaCacheClear ??= setImmediate(() => this.forgetMeta());
    return meta;
  }

  private forgetMeta(): void {
    this.metaCache.clear();
    if (this.metaCacheClear) clearImmediate(this.metaCacheClear);
    this.metaCacheClear = null;
  }

  /** Creates an empty table if it does not exist; an existing one must have the same dim and key type. */
  ensureTable(name: string, dim: number, keyType: KeyType): TableMeta {
    const existing = this.table(name);
    if (existing) {
      checkShape(this.model, existing, dim, keyType);
      return existing;
    }
    this.checkWritable(name, 'create a table');
    const meta: TableMeta = { name, db: rowSlots(name)[0], dim, keyType, count: 0, fingerprint: null, source: null, updatedAt: new Date().toISOString(), checksum: new RowChecksum().toString() };
    this.forgetMeta();
    this.transact(() => {
      this.rowDb(meta.db).clearSync();
      this.metaDb().putSync(TABLE + name, meta);
    });
    return meta;
  }

  /**
   * Reads the rows of `keys[p]` for every position p in `positions` (all positions when null) into
   * row p of `out` (keys.length x dim). Rows of missing keys are left untouched. Returns the positions
   * that were not found, ascending. All reads of one call see one snapshot, taken when the call
   * begins: every write committed before it (by any thread or process) is seen.
   */
  get(table: string, keys: BigInt64Array, out: Float32Array, positions: Uint32Array | null = null): Uint32Array {
    return this.freshRead(table, (meta) => {
      if (!meta) this.requireTable(table);
      return this.readRows(meta!, keys, out, positions);
    });
  }

  /**
   * As `get` (`positions`: read only those keys, in that order), for a serving tier: a table that does not
   * exist (yet) has every key missing. A worker
   * that attached before the table's first import sees it once it is committed.
   */
  getIfTable(table: string, keys: BigInt64Array, out: Float32Array, positions: Uint32Array | null = null): Uint32Array {
    return this.freshRead(table, (meta) => {
      if (meta) return this.readRows(meta, keys, out, positions);
      const n = positions ? positions.length : keys.length;
      return positions ? positions.slice() : Uint32Array.from({ length: n }, (_, i) => i);
    });
  }

  /**
   * Runs `read` on the newest committed snapshot, with `table`'s metadata in it. lmdb-js otherwise
   * keeps one read transaction until a timer of its own resets it, and a lookup worker may run no timer
   * for long (piscina waits for tasks in Atomics.wait): such a worker would read, and pin the pages of,
   * an old snapshot. Resetting costs one native call; the next read renews.
   *
   * A database handle opened here (the table was imported anew) is usable only by transactions begun
   * after it is committed to the environment, and threads sharing a read-only environment open it
   * concurrently (lmdb-js notes the race): a read that finds the handle not yet valid starts again.
   */
  private freshRead<T>(table: string, read: (meta: TableMeta | undefined) => T): T {
    this.checkOpen();
    for (let attempt = 0; ; attempt++) {
      this.env.resetReadTxn();
      this.forgetMeta();
      const meta = this.table(table);
      if (meta && !this.rowDbs.has(meta.db)) {
        this.rowDb(meta.db);
        continue;
      }
      try {
        return read(meta);
      } catch (e) {
        if (attempt >= 50 || !/The dbi \d+ (flag was not valid|was out of range)/.test((e as Error).message)) throw e;
        Atomics.wait(backoff, 0, 0, 1);
      }
    }
  }

  private readRows(meta: TableMeta, keys: BigInt64Array, out: Float32Array, positions: Uint32Array | null): Uint32Array {
    const table = meta.name;
    const rowBytes = meta.dim * 4;
    if (out.length < keys.length * meta.dim) {
      throw new HpsError('BAD_OUTPUT', `model ${this.model} table ${table}: output holds ${out.length} floats, expected at least ${keys.length} x ${meta.dim} = ${keys.length * meta.dim}`);
    }
    this.checkKeys(meta, keys);
    const db = this.rowDb(meta.db);
    const codec = this.codecs[meta.keyType];
    const halves = keyHalves(keys);
    const outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    const n = positions ? positions.length : keys.length;
    const missing = new Uint32Array(n);
    let nMissing = 0;
    const dim = meta.dim;
    let valueBuffer: ArrayBufferLike | null = null;
    // Int32 views copy the float bits exactly (NaN payloads included).
    const outWords = new Int32Array(out.buffer, out.byteOffset, out.length);
    let valueWords = outWords;
    for (let j = 0; j < n; j++) {
      const p = positions ? positions[j] : j;
      const value = db.getBinaryFast(codec.encode(halves, p));
      if (value === undefined) {
        missing[nMissing++] = p;
        continue;
      }
      // getBinaryFast returns one reused buffer whose `length` lmdb sets to the value size (a larger
      // value comes in another buffer). Copying word by word through a view made once per buffer
      // avoids making a subarray object per key.
      if (value.length !== rowBytes) throw corruptRow(this.model, meta, value.length);
      if (value.buffer !== valueBuffer) {
        valueBuffer = value.buffer;
        valueWords = new Int32Array(valueBuffer, 0, valueBuffer.byteLength >>> 2);
      }
      if ((value.byteOffset & 3) === 0) {
        const from = value.byteOffset >>> 2;
        const to = p * dim;
        for (let k = 0; k < dim; k++) outWords[to + k] = valueWords[from + k];
      } else {
        outBytes.set(value.subarray(0, rowBytes), p * rowBytes);
      }
    }
    return missing.subarray(0, nMissing);
  }

  /** Inserts or replaces rows (`vectors` is keys.length x dim) in one transaction. */
  put(table: string, keys: BigInt64Array, vectors: Float32Array): void {
    this.putRows(table, keys, vectors, null);
  }

  /**
   * put(), and `mark` stored in the same transaction: after a crash either both the rows and the mark
   * are there or neither is.
   */
  putMarked(table: string, keys: BigInt64Array, vectors: Float32Array, mark: StoreMark): void {
    this.putRows(table, keys, vectors, mark);
  }

  private putRows(table: string, keys: BigInt64Array, vectors: Float32Array, mark: StoreMark | null): void {
    const meta = this.requireTable(table);
    this.checkWritable(table, 'put rows');
    this.checkKeys(meta, keys);
    checkVectors(this.model, meta, keys.length, vectors);
    const db = this.rowDb(meta.db);
    this.writeTxn(table, 'put rows', () => {
      const sum = this.checksumOf(meta);
      writeRows(db, this.codecs[meta.keyType], meta.dim, keys, vectors, null, sum);
      this.updateCount(meta, db, sum);
      if (mark) this.metaDb().putSync(MARK + mark.name, mark.value);
    });
  }

  /** The value of a mark stored by putMarked, or undefined. */
  mark(name: string): string | undefined {
    this.checkOpen();
    const value = this.meta?.get(MARK + name);
    return typeof value === 'string' ? value : undefined;
  }

  /** Removes keys in one transaction; returns how many were present. */
  erase(table: string, keys: BigInt64Array): number {
    const meta = this.requireTable(table);
    this.checkWritable(table, 'erase rows');
    this.checkKeys(meta, keys);
    const db = this.rowDb(meta.db);
    const codec = this.codecs[meta.keyType];
    const halves = keyHalves(keys);
    let removed = 0;
    this.writeTxn(table, 'erase rows', () => {
      const before = entryCount(db);
      const sum = this.checksumOf(meta);
      for (let i = 0; i < keys.length; i++) {
        const key = codec.encode(halves, i);
        if (sum) {
          const old = db.getBinaryFast(key);
          if (old !== undefined) sum.remove(halves[2 * i], halves[2 * i + 1], old, 0, old.length);
        }
        db.removeSync(key);
      }
      removed = before - entryCount(db);
      this.updateCount(meta, db, sum);
    });
    return removed;
  }

  /**
   * Starts an import of `name` into the table's other row database (`rowSlots`), emptied first; the
   * table as it was stays readable until `commit()` swaps the new one in within one transaction. A
   * killed import leaves only its staging rows, removed at the next writable open. One import of a
   * table runs at a time across all processes: a second one is an HpsError BUSY naming the first.
   */
  beginImport(name: string, shape: { dim: number; keyType: KeyType; fingerprint: string | null; source: string | null }): StagedTable {
    this.checkWritable(name, 'import');
    const record: StagingRecord = { table: name, owner: currentOwner() };
    let dbName = '';
    this.writeTxn(name, 'start an import', () => {
      for (const { key, value } of this.stagingEntries()) {
        if (!isLive(value)) this.dropStaging(key);
        else if (value.table === name) {
          throw new HpsError('BUSY', `model ${this.model} table ${name}: another import of this table is running in ${describeOwner(value.owner)}, writing ${this.path}; retry once it has finished`);
        }
      }
      // Read in this transaction: the table as the last import (of any process) left it.
      this.forgetMeta();
      dbName = stagingSlot(name, this.table(name));
      this.metaDb().putSync(STAGING + dbName, record);
      this.rowDb(dbName).clearSync();
    });
    const db = this.rowDb(dbName);
    const staged: StagedTable = new StagedTable(this.codecs[shape.keyType], shape.dim, (fn) => this.transact(fn), db, (abort) => {
      this.forgetMeta();
      this.transact(() => {
        const mine = this.metaDb().get(STAGING + dbName);
        if (!isStaging(mine) || mine.owner.pid !== record.owner.pid || mine.owner.since !== record.owner.since) {
          // Only a process that wrongly judged this one dead can have removed it: refuse to swap in nothing.
          throw new HpsError('BUSY', `model ${this.model} table ${name}: the staging rows of this import were removed by another process; the table is unchanged, import again`);
        }
        if (abort) {
          this.dropStaging(STAGING + dbName);
          return;
        }
        const count = entryCount(db);
        const old = this.table(name);
        const meta: TableMeta = { name, db: dbName, dim: shape.dim, keyType: shape.keyType, count, fingerprint: shape.fingerprint, source: shape.source, updatedAt: new Date().toISOString(), checksum: staged.checksum.toString() };
        this.metaDb().putSync(TABLE + name, meta);
        this.metaDb().removeSync(STAGING + dbName);
        if (old && old.db !== dbName) this.rowDb(old.db).clearSync();
      });
      this.forgetMeta();
      return this.table(name)!;
    });
    return staged;
  }

  /** Every row of `table` in ascending key order, `chunkRows` at a time (buffers reused between chunks). */
  *scan(table: string, chunkRows = 65536): Generator<{ keys: BigInt64Array; vectors: Float32Array }> {
    const meta = this.requireTable(table);
    const db = this.rowDb(meta.db);
    const codec = this.codecs[meta.keyType];
    const keys = new BigInt64Array(chunkRows);
    const halves = keyHalves(keys);
    const vectors = new Float32Array(chunkRows * meta.dim);
    const vecBytes = new Uint8Array(vectors.buffer);
    const rowBytes = meta.dim * 4;
    let n = 0;
    for (const { key, value } of db.getRange({ snapshot: true })) {
      if (value.length !== rowBytes) throw corruptRow(this.model, meta, value.length);
      codec.decode(key, halves, n);
      vecBytes.set(value, n * rowBytes);
      if (++n === chunkRows) {
        yield { keys, vectors };
        n = 0;
      }
    }
    if (n > 0) yield { keys: keys.subarray(0, n), vectors: vectors.subarray(0, n * meta.dim) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.forgetMeta();
    // Closed holding the gate: the last process to close destroys LMDB's lock-table mutexes (env-gate.ts).
    await this.gate.run(() => this.env.close());
  }

  private requireTable(table: string): TableMeta {
    const meta = this.table(table);
    if (!meta) {
      const known = this.tables().map((t) => t.name);
      throw new HpsError('UNKNOWN_TABLE', `model ${this.model}: no table ${JSON.stringify(table)} in the persistent store at ${this.path}; known tables: ${known.length ? known.join(', ') : '(none)'}`);
    }
    return meta;
  }

  /** A uint32 table's keys must fit 32 bits: the 4-byte encoding would otherwise drop the high half. */
  private checkKeys(meta: TableMeta, keys: BigInt64Array): void {
    if (meta.keyType === 'uint32') normalizeKeys(keys, 'uint32', `model ${this.model} table ${meta.name}: keys`);
  }

  /** Runs `fn` in one write transaction; an LMDB failure (e.g. a full disk) rolls it back and is an HpsError IO. */
  private writeTxn(table: string, what: string, fn: () => void): void {
    try {
      this.transact(fn);
      this.forgetMeta();
    } catch (e) {
      this.forgetMeta();
      if (e instanceof HpsError) throw e;
      throw new HpsError('IO', `model ${this.model} table ${table}: cannot ${what} in ${this.path}: ${(e as Error).message}; nothing was written`, { cause: e });
    }
  }

  /**
   * Every write transaction of this store, holding the environment's gate (env-gate.ts). Nothing
   * else calls transactionSync: a transaction begun outside the gate could wait for the gate while
   * holding LMDB's writer lock, which the gate's holder may be waiting for.
   */
  private transact(fn: () => void): void {
    this.gate.run(() => this.env.transactionSync(fn));
  }

  /**
   * The handle of a row database, opened once per process and kept: a table's rows live in one of two
   * databases whatever the number of imports (`rowSlots`), so handles never pile up, and a handle is
   * never closed while another thread may read through it. Opening one in a writable environment is
   * a write transaction (it may create the database), so it holds the gate; a read-only open reads.
   */
  private rowDb(name: string): RowDatabase {
    let db = this.rowDbs.get(name);
    if (!db) {
      try {
        const openDb = () => this.env.openDB<Buffer, Buffer>(name, ROW_DB_OPTIONS);
        db = this.readOnly ? openDb() : this.gate.run(openDb);
      } catch (e) {
        throw new HpsError('IO', `model ${this.model}: cannot open the row database ${name} in ${this.path}: ${(e as Error).message}`, { cause: e });
      }
      this.rowDbs.set(name, db);
    }
    return db;
  }

  private metaDb(): MetaDatabase {
    return this.meta!;
  }

  /**
   * The table's checksum as committed, read inside the caller's write transaction (so no other writer's
   * change is missed); null for a table written before checksums were kept.
   */
  private checksumOf(meta: TableMeta): RowChecksum | null {
    const current = this.metaDb().get(TABLE + meta.name) as TableMeta | undefined;
    return current?.db === meta.db ? RowChecksum.parse(current.checksum) : null;
  }

  private updateCount(meta: TableMeta, db: RowDatabase, sum: RowChecksum | null): void {
    this.forgetMeta();
    meta = { ...meta, count: entryCount(db), checksum: sum ? sum.toString() : null };
    meta.updatedAt = new Date().toISOString();
    this.metaDb().putSync(TABLE + meta.name, meta);
  }

  /**
   * Refuses (HpsError CORRUPT) a store whose table metadata names a rows database that is not in the
   * file, or counts other rows than that database holds. Metadata and rows change in one transaction, so
   * one snapshot sees them agree; a disagreement seen twice, in two snapshots, is damage.
   */
  private checkTableDbs(): void {
    if (!this.meta) return;
    let problem: string | null = null;
    for (let attempt = 0; attempt < 2; attempt++) {
      this.env.resetReadTxn();
      const names = new Set<string>();
      for (const key of this.env.getKeys()) names.add(String(key));
      const tables = this.tables();
      problem = null;
      for (const t of tables) {
        if (!names.has(t.db)) {
          problem = `table ${t.name}: its rows database ${t.db} is missing (${META_DB} records ${t.count} rows for it)`;
          break;
        }
      }
      if (!problem) {
        for (const t of tables) this.openExistingRowDb(t.db);
        this.env.resetReadTxn();
        for (const t of this.tables()) {
          const db = this.rowDbs.get(t.db);
          const rows = db ? countOrNull(db) : null;
          if (rows !== null && rows !== t.count) {
            problem = `table ${t.name}: ${META_DB} records ${t.count} rows, its rows database ${t.db} holds ${rows}`;
            break;
          }
        }
      }
      if (!problem) return;
    }
    throw new HpsError('CORRUPT', `model ${this.model}: ${join(this.path, 'data.mdb')} is damaged: ${problem}; refusing to open it (restore the store from a copy, or import the table again)`);
  }

  /** Opens a rows database that exists, never creating one (a store of an earlier version may have dropped it since it was listed). */
  private openExistingRowDb(name: string): void {
    if (this.rowDbs.has(name)) return;
    try {
      const openDb = () => this.env.openDB<Buffer, Buffer>(name, { ...ROW_DB_OPTIONS, create: false } as typeof ROW_DB_OPTIONS);
      // In a writable environment an open is a write transaction: it holds the gate (see rowDb).
      this.rowDbs.set(name, this.readOnly ? openDb() : this.gate.run(openDb));
    } catch {
      // gone since it was listed: the next snapshot's metadata no longer names it
    }
  }

  /** Empties the staging databases of imports whose process is gone (killed or crashed). */
  private dropAbandonedStaging(): void {
    if (this.stagingEntries().every(({ value }) => isLive(value))) return;
    this.transact(() => {
      // Listed again inside the transaction: another process may have finished or begun one since.
      for (const { key, value } of this.stagingEntries()) if (!isLive(value)) this.dropStaging(key);
    });
  }

  private stagingEntries(): { key: string; value: unknown }[] {
    return [...this.metaDb().getRange({ start: STAGING, end: STAGING + '\uffff' })].map(({ key, value }) => ({ key: key as string, value }));
  }

  /** Empties one staging database and removes its entry, inside the caller's write transaction. */
  private dropStaging(key: string): void {
    this.rowDb(key.slice(STAGING.length)).clearSync();
    this.metaDb().removeSync(key);
  }

  private checkWritable(table: string, what: string): void {
    this.checkOpen();
    if (this.readOnly) {
      throw new HpsError('READ_ONLY', `model ${this.model} table ${table}: cannot ${what}, the persistent store at ${this.path} is open read-only (persistent_db read_only)`);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new HpsError('CLOSED', `model ${this.model}: the persistent store at ${this.path} is closed`);
  }
}

export function checkVectors(model: string, meta: { name: string; dim: number }, nKeys: number, vectors: Float32Array): void {
  if (!(vectors instanceof Float32Array)) {
    throw new HpsError('BAD_VECTOR', `model ${model} table ${meta.name}: vectors must be a Float32Array`);
  }
  if (vectors.length !== nKeys * meta.dim) {
    throw new HpsError('BAD_VECTOR', `model ${model} table ${meta.name}: vectors hold ${vectors.length} floats, expected ${nKeys} keys x dim ${meta.dim} = ${nKeys * meta.dim}`);
  }
}

function checkShape(model: string, meta: TableMeta, dim: number, keyType: KeyType): void {
  if (meta.dim !== dim || meta.keyType !== keyType) {
    throw new HpsError('BAD_CONFIG', `model ${model} table ${meta.name}: the persistent store holds dim ${meta.dim} ${meta.keyType} keys, the configuration says dim ${dim} ${keyType} keys`);
  }
}

function corruptRow(model: string, meta: TableMeta, size: number): HpsError {
  return new HpsError('IO', `model ${model} table ${meta.name}: a stored row has ${size} bytes, expected dim ${meta.dim} x 4 = ${meta.dim * 4}`);
}

function isStaging(value: unknown): value is StagingRecord {
  return typeof value === 'object' && value !== null && isOwner((value as StagingRecord).owner);
}

/** A staging entry whose import may still be running (entries of older versions record no owner: dead). */
function isLive(value: unknown): value is StagingRecord {
  return isStaging(value) && ownerAlive(value.owner);
}

/** entryCount, or null where a handle opened by another thread at the same moment is not valid yet (lmdb-js notes the race). */
function countOrNull(db: RowDatabase): number | null {
  try {
    return entryCount(db);
  } catch {
    return null;
  }
}

function entryCount(db: RowDatabase): number {
  return (db.getStats() as { entryCount: number }).entryCount;
}

/**
 * The two row databases of a table. An import writes into the one the table does not use and swaps
 * it in; the one replaced is emptied (its pages freed), never deleted, so every process keeps one
 * handle per slot however many imports it sees. (Stores written by earlier versions name a table's
 * rows with a random suffix; the next import moves them into a slot.)
 */
function rowSlots(table: string): [string, string] {
  return [`hps:rows:${table}:a`, `hps:rows:${table}:b`];
}

/** Where an import of `table` stages its rows: the slot the table does not use (the second for a new table). */
function stagingSlot(table: string, meta: TableMeta | undefined): string {
  const [first, second] = rowSlots(table);
  return meta?.db === second ? first : second;
}
