import { Counter, Gauge, Registry } from 'prom-client';
import type { ParameterServer } from '../engine/parameter-server.js';
import { MODEL_VERSION } from './hps-model.js';
import { registerRedisMetrics } from './redis-metrics.js';

/** Durations of one inference, in nanoseconds: decoding inputs, the lookups, encoding the response. */
export interface InferTimes {
  inputNs: number;
  inferNs: number;
  outputNs: number;
  totalNs: number;
}

interface Duration {
  count: number;
  ns: number;
}

/** The statistics extension's per-model figures (GET /v2/models/{m}/stats, gRPC ModelStatistics). */
export interface ModelStatistics {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: { success: Duration; fail: Duration; queue: Duration; compute_input: Duration; compute_infer: Duration; compute_output: Duration };
}

/**
 * Request metrics under Triton's names (labelled by model and version) in a registry of this server's
 * own, per-table tier figures read from `ps.stats()` at each scrape (the Redis tier's and the update
 * source's in redis-metrics.ts), and the statistics extension's
 * per-model counts.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly stats = new Map<string, ModelStatistics>();
  private readonly success: Counter<'model' | 'version'>;
  private readonly failure: Counter<'model' | 'version'>;
  private readonly count: Counter<'model' | 'version'>;
  private readonly execCount: Counter<'model' | 'version'>;
  private readonly durations: Record<'request' | 'input' | 'infer' | 'output', Counter<'model' | 'version'>>;

  constructor(psOf: () => ParameterServer | null) {
    const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ['model', 'version'] as const, registers: [this.registry] });
    this.success = counter('nv_inference_request_success', 'Number of successful inference requests, all batch sizes');
    this.failure = counter('nv_inference_request_failure', 'Number of failed inference requests, all batch sizes');
    this.count = counter('nv_inference_count', 'Number of inferences performed (a request of shape [1, n] is one)');
    this.execCount = counter('nv_inference_exec_count', 'Number of model executions performed');
    this.durations = {
      request: counter('nv_inference_request_duration_us', 'Cumulative inference request duration in microseconds'),
      input: counter('nv_inference_compute_input_duration_us', 'Cumulative compute input duration in microseconds (decoding KEYS and NUMKEYS)'),
      infer: counter('nv_inference_compute_infer_duration_us', 'Cumulative compute inference duration in microseconds (the lookups)'),
      output: counter('nv_inference_compute_output_duration_us', 'Cumulative inference compute output duration in microseconds (encoding OUTPUT0)'),
    };
    registerTableGauges(this.registry, psOf);
    registerRedisMetrics(this.registry, psOf);
  }

  recordSuccess(model: string, times: InferTimes): void {
    const labels = { model, version: MODEL_VERSION };
    this.success.inc(labels);
    this.count.inc(labels);
    this.execCount.inc(labels);
    this.durations.request.inc(labels, times.totalNs / 1000);
    this.durations.input.inc(labels, times.inputNs / 1000);
    this.durations.infer.inc(labels, times.inferNs / 1000);
    this.durations.output.inc(labels, times.outputNs / 1000);
    const s = this.modelStats(model).inference_stats;
    add(s.success, times.totalNs);
    add(s.compute_input, times.inputNs);
    add(s.compute_infer, times.inferNs);
    add(s.compute_output, times.outputNs);
    const m = this.modelStats(model);
    m.inference_count++;
    m.execution_count++;
    m.last_inference = Date.now();
  }

  recordFailure(model: string, totalNs: number): void {
    this.failure.inc({ model, version: MODEL_VERSION });
    this.durations.request.inc({ model, version: MODEL_VERSION }, totalNs / 1000);
    add(this.modelStats(model).inference_stats.fail, totalNs);
  }

  /** The statistics extension's figures of `models`. */
  statistics(models: string[]): ModelStatistics[] {
    return models.map((m) => structuredClone(this.modelStats(m)));
  }

  private modelStats(model: string): ModelStatistics {
    let s = this.stats.get(model);
    if (!s) {
      const zero = () => ({ count: 0, ns: 0 });
      s = {
        name: model, version: MODEL_VERSION, last_inference: 0, inference_count: 0, execution_count: 0,
        inference_stats: { success: zero(), fail: zero(), queue: zero(), compute_input: zero(), compute_infer: zero(), compute_output: zero() },
      };
      this.stats.set(model, s);
    }
    return s;
  }
}

function add(d: Duration, ns: number): void {
  d.count++;
  d.ns += Math.round(ns);
}

/** Per-table gauges, filled from `ps.stats()` when scraped. */
function registerTableGauges(registry: Registry, psOf: () => ParameterServer | null): void {
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], collect?: () => void) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) });
  // prom-client collects in registration order: the first gauge fills them all.
  const hits = gauge('hps_table_tier_hits', 'Keys found in the tier (l1: L1 cache, l2: L2 host arena, l3: L3 LMDB) since start', ['model', 'table', 'tier'], () => fill());
  const hitRate = gauge('hps_table_tier_hit_rate', 'Hits over the distinct keys asked of the tier, since start', ['model', 'table', 'tier']);
  const lookups = gauge('hps_table_lookups', 'Lookups served by the table since start', ['model', 'table']);
  const keys = gauge('hps_table_keys', 'Keys asked of the table since start (repeats included)', ['model', 'table']);
  const defaults = gauge('hps_table_default_vectors', 'Keys found in no tier (given the default vector) since start', ['model', 'table']);
  const latency = gauge('hps_table_stage_latency_us', 'Lookup latency per stage (lookup: the whole request; l1, l2, l3: time in the tier) in microseconds, from the table\'s HDR histogram: quantile 0.5, 0.99 and 1 (the maximum)', ['model', 'table', 'stage', 'quantile']);

  function fill(): void {
    for (const g of [hits, hitRate, lookups, keys, defaults, latency]) g.reset();
    const ps = psOf();
    if (!ps) return;
    let stats;
    try {
      stats = ps.stats();
    } catch {
      return; // closed while shutting down: no table figures
    }
    for (const s of stats) {
      const table = { model: s.model, table: s.table };
      lookups.set(table, s.lookups);
      keys.set(table, s.keys);
      defaults.set(table, s.defaults);
      for (const tier of ['l1', 'l2', 'l3'] as const) {
        hits.set({ ...table, tier }, s[tier].hits);
        hitRate.set({ ...table, tier }, s[tier].hitRate);
      }
      for (const [stage, l] of Object.entries(s.latency)) {
        latency.set({ ...table, stage, quantile: '0.5' }, l.p50Us);
        latency.set({ ...table, stage, quantile: '0.99' }, l.p99Us);
        latency.set({ ...table, stage, quantile: '1' }, l.maxUs);
      }
    }
  }
}
