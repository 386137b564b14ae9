import { loadConfig } from './config/index.js';
import type { HpsOptions } from './config/options.js';
import type { ModelConfig, ResolvedConfig, TableConfig } from './config/types.js';
import { HpsError } from './errors.js';
import { fingerprintFiles } from './import/fingerprint.js';
import { exportHugeCtrFolder, importTable, openHugeCtrFolder, openImportSource, type ExportReport, type ImportReport, type ImportSpec } from './import/index.js';
import { normalizeKeys, type KeyInput } from './keys.js';
import { LmdbStore } from './lmdb/lmdb-store.js';
import { lookupRows, type LookupTier, type TableTiers } from './table-lookup.js';

export interface OpenOptions {
  /** Progress bars for imports done at open; default: when stderr is a terminal. */
  progress?: boolean;
  /** Where the one-line "not yet supported" notice and other warnings go. Default console.warn. */
  warn?: (line: string) => void;
}

export interface TableInfo {
  name: string;
  index: number;
  dim: number;
  keyType: 'int64' | 'uint32';
  defaultValue: number;
  /** Rows in the persistent tier, or null when it is disabled. */
  rows: number | null;
  sparseFile: string | null;
  /** What the persistent rows were imported from, if anything. */
  importedFrom: string | null;
  tiers: string[];
}

export interface ServerInfo {
  models: { name: string; persistentPath: string | null; tables: TableInfo[] }[];
  persistentDb: { type: string; path: string; readOnly: boolean };
  notYetSupported: string[];
  /** Imports done by `open` (sparse files new or changed since the last open). */
  importsAtOpen: ImportReport[];
}

interface TableEntry extends TableTiers {
  readonly config: TableConfig;
  readonly index: number;
  readonly tiers: LookupTier[];
}

interface ModelEntry {
  readonly config: ModelConfig;
  readonly store: LmdbStore | null;
  readonly tables: TableEntry[];
}

/**
 * The embedding store: models of tables, each table served by its tiers (at this stage the LMDB
 * persistent tier, then the default vector).
 */
export class ParameterServer {
  private closed = false;

  private constructor(
    readonly config: ResolvedConfig,
    private readonly models: Map<string, ModelEntry>,
    private readonly importsAtOpen: ImportReport[],
  ) {}

  /**
   * Opens a store from a ps.json path, a parsed ps.json object or typed options. Tables whose
   * `sparseFile` (HugeCTR folder) is new or changed since the last open are imported into LMDB first.
   */
  static async open(config: string | HpsOptions | object, options: OpenOptions = {}): Promise<ParameterServer> {
    const resolved = await loadConfig(config);
    const warn = options.warn ?? ((line: string) => console.warn(line));
    if (resolved.notYetSupported.length > 0) {
      warn(`hps: accepted but not yet supported (no effect yet): ${resolved.notYetSupported.join(', ')}`);
    }
    const models = new Map<string, ModelEntry>();
    const imports: ImportReport[] = [];
    try {
      for (const model of resolved.models) {
        models.set(model.name, await openModel(resolved, model, imports, options.progress, warn));
      }
    } catch (e) {
      for (const m of models.values()) await m.store?.close();
      throw e;
    }
    return new ParameterServer(resolved, models, imports);
  }

  /**
   * Looks up `keys` in `table` (name or index) of `model`. Resolves to `out` (or a new Float32Array)
   * holding keys.length x dim floats, row i for keys[i]; keys found in no tier get the default vector.
   */
  async lookup(model: string, table: string | number, keys: KeyInput, out?: Float32Array): Promise<Float32Array> {
    const entry = this.table(model, table);
    const normalized = normalizeKeys(keys, entry.config.keyType, 'keys');
    const size = normalized.length * entry.dim;
    if (out === undefined) out = new Float32Array(size);
    else if (!(out instanceof Float32Array)) {
      throw new HpsError('BAD_OUTPUT', `out: expected a Float32Array of ${normalized.length} keys x dim ${entry.dim} = ${size} floats, got ${describe(out)}`);
    } else if (out.length !== size) {
      throw new HpsError('BAD_OUTPUT', `out: holds ${out.length} floats, expected ${normalized.length} keys x dim ${entry.dim} = ${size} (model ${model} table ${entry.config.name})`);
    }
    await lookupRows(entry, normalized, out);
    return out;
  }

  /** Imports a table's rows from files (atomic: on failure the table is unchanged). */
  async importTable(model: string, table: string | number, spec: ImportSpec, options: { progress?: boolean } = {}): Promise<ImportReport> {
    const entry = this.table(model, table);
    const store = this.storeOf(model);
    const source = await openImportSource(spec, entry.dim);
    const { report } = await importTable(store, entry.config.name, source, { keyType: entry.config.keyType, progress: options.progress });
    return report;
  }

  /** Writes a table's persistent rows as a HugeCTR folder (`key`, `emb_vector`). */
  async exportTable(model: string, table: string | number, folder: string): Promise<ExportReport> {
    const entry = this.table(model, table);
    return exportHugeCtrFolder(this.storeOf(model), entry.config.name, folder);
  }

  info(): ServerInfo {
    this.checkOpen();
    const { persistentDb } = this.config;
    return {
      models: [...this.models.values()].map((m) => ({
        name: m.config.name,
        persistentPath: m.store?.path ?? null,
        tables: m.tables.map((t) => {
          const meta = m.store?.table(t.config.name);
          return {
            name: t.config.name,
            index: t.index,
            dim: t.dim,
            keyType: t.config.keyType,
            defaultValue: t.config.defaultValue,
            rows: m.store ? (meta?.count ?? 0) : null,
            sparseFile: t.config.sparseFile,
            importedFrom: meta?.source ?? null,
            tiers: t.tiers.map((tier) => tier.name),
          };
        }),
      })),
      persistentDb: { type: persistentDb.type, path: persistentDb.path, readOnly: persistentDb.readOnly },
      notYetSupported: [...this.config.notYetSupported],
      importsAtOpen: [...this.importsAtOpen],
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.models.values()) await m.store?.close();
  }

  private table(model: string, table: string | number): TableEntry {
    this.checkOpen();
    const m = this.models.get(model);
    if (!m) {
      throw new HpsError('UNKNOWN_MODEL', `model ${JSON.stringify(model)} is not loaded; known models: ${[...this.models.keys()].join(', ') || '(none)'}`);
    }
    const entry = typeof table === 'number' ? m.tables[table] : m.tables.find((t) => t.config.name === table);
    if (!entry || (typeof table === 'number' && !Number.isInteger(table))) {
      const known = m.tables.map((t) => `${t.index}: ${t.config.name}`).join(', ');
      throw new HpsError('UNKNOWN_TABLE', `model ${model} has no table ${JSON.stringify(table)}; known tables (index: name): ${known}`);
    }
    return entry;
  }

  private storeOf(model: string): LmdbStore {
    const store = this.models.get(model)?.store;
    if (!store) throw new HpsError('BAD_CONFIG', `model ${model}: the persistent tier is disabled (persistent_db), so there is no store to import into or export from`);
    return store;
  }

  private checkOpen(): void {
    if (this.closed) throw new HpsError('CLOSED', 'the ParameterServer is closed');
  }
}

async function openModel(config: ResolvedConfig, model: ModelConfig, imports: ImportReport[], progress: boolean | undefined, warn: (line: string) => void): Promise<ModelEntry> {
  const { persistentDb } = config;
  const store = persistentDb.type === 'lmdb' ? LmdbStore.open(persistentDb.path, model.name, { readOnly: persistentDb.readOnly }) : null;
  try {
    const tables: TableEntry[] = [];
    for (const [index, table] of model.tables.entries()) {
      const tiers: LookupTier[] = [];
      if (store) {
        await prepareTable(store, table, imports, progress);
        tiers.push(lmdbTier(store, table.name));
      } else if (table.sparseFile) {
        warn(`hps: model ${model.name} table ${table.name}: sparse file ${table.sparseFile} is not loaded because persistent_db is disabled; lookups return the default vector`);
      }
      tables.push({ config: table, index, dim: table.dim, defaultRow: new Float32Array(table.dim).fill(table.defaultValue), tiers });
    }
    return { config: model, store, tables };
  } catch (e) {
    await store?.close();
    throw e;
  }
}

/**
 * Makes the persistent table match the configuration: imports the sparse file when the stored
 * fingerprint differs (first open, or the files changed), creates an empty table otherwise.
 */
async function prepareTable(store: LmdbStore, table: TableConfig, imports: ImportReport[], progress: boolean | undefined): Promise<void> {
  const existing = store.table(table.name);
  if (table.sparseFile) {
    const source = openHugeCtrFolder(table.sparseFile, table.dim);
    const fingerprint = fingerprintFiles(source.files, table.dim);
    if (existing?.fingerprint === fingerprint && existing.keyType === table.keyType) return;
    if (store.readOnly) {
      throw new HpsError('READ_ONLY', `model ${store.model} table ${table.name}: ${existing ? 'the sparse files changed since the last import' : 'the table was never imported'} (${table.sparseFile}), but persistent_db is read-only; import it with \`hps import\` or a writable open first`);
    }
    const { report } = await importTable(store, table.name, source, { keyType: table.keyType, progress });
    imports.push(report);
    return;
  }
  if (existing) {
    if (existing.dim !== table.dim || existing.keyType !== table.keyType) {
      throw new HpsError('BAD_CONFIG', `model ${store.model} table ${table.name}: the persistent store at ${store.path} holds dim ${existing.dim} ${existing.keyType} keys, the configuration says dim ${table.dim} ${table.keyType} keys`);
    }
  } else if (!store.readOnly) {
    store.ensureTable(table.name, table.dim, table.keyType);
  }
}

/** The LMDB tier of one table; a table missing from a read-only store answers nothing. */
function lmdbTier(store: LmdbStore, table: string): LookupTier {
  return {
    name: 'lmdb',
    query: (keys, out, positions) => {
      if (store.readOnly && !store.table(table)) return positions ?? Uint32Array.from(keys, (_, i) => i);
      return store.get(table, keys, out, positions);
    },
  };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  return typeof v;
}
