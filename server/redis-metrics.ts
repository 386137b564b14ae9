import { Counter, Gauge, type Registry } from 'prom-client';
import type { ParameterServer } from '../engine/parameter-server.js';

/**
 * The scale-out figures, read from `ps.stats()` (each table's `l2Redis`) and `ps.updateStats()` at each
 * scrape: the Redis tier's hits, misses, faults, keys that fell through, partitions down, evictions and
 * values of the wrong size, per table; the update source's applied messages and rows and its skipped
 * messages. Totals since the model was loaded (tier) or the server opened (updates) are counters, so
 * that `rate()` works on them; partitions down is a gauge. Tables without a Redis tier have no samples.
 */
export function registerRedisMetrics(registry: Registry, psOf: () => ParameterServer | null): void {
  const table = ['model', 'table'] as const;
  // prom-client collects in registration order: the first metric fills them all.
  const faults = new Counter({
    name: 'hps_redis_faults_total', help: 'Redis tier commands that failed or timed out (their keys fell through to the next tier)',
    labelNames: table, registers: [registry], collect: () => fill(),
  });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new Counter<L>({ name, help, labelNames, registers: [registry] });
  const skipped = counter('hps_redis_skipped_keys_total', 'Keys that skipped the Redis tier because their partition was down', table);
  const hits = counter('hps_redis_hits_total', 'Keys found in the Redis tier', table);
  const misses = counter('hps_redis_misses_total', 'Keys asked of the Redis tier and not found there (absent, or their partition down or failing)', table);
  const evictions = counter('hps_redis_evictions_total', 'Rows removed from Redis by overflow handling', table);
  const badValues = counter('hps_redis_bad_values_total', 'Values of the wrong size found in Redis (read as misses)', table);
  const down = new Gauge({ name: 'hps_redis_partitions_down', help: 'Partitions of the table whose Redis node is failing now', labelNames: table, registers: [registry] });
  const messages = counter('hps_update_messages_total', 'Update stream messages applied', []);
  const rows = counter('hps_update_rows_total', 'Rows in the applied update stream messages', []);
  const skippedMessages = counter('hps_update_skipped_messages_total', 'Update stream messages skipped (reason: bad = a bad length or field, unknown_table = another table\'s)', ['reason']);

  function fill(): void {
    for (const m of [faults, skipped, hits, misses, evictions, badValues, down, messages, rows, skippedMessages]) m.reset();
    const ps = psOf();
    if (!ps) return;
    try {
      for (const s of ps.stats()) {
        const r = s.l2Redis;
        if (!r) continue;
        const labels = { model: s.model, table: s.table };
        faults.inc(labels, r.faults);
        skipped.inc(labels, r.skippedKeys);
        hits.inc(labels, r.hits);
        misses.inc(labels, r.misses);
        evictions.inc(labels, r.evictions);
        badValues.inc(labels, r.badValues);
        down.set(labels, r.partitionsDown);
      }
      const u = ps.updateStats();
      if (u) {
        messages.inc(u.messages);
        rows.inc(u.rows);
        skippedMessages.inc({ reason: 'bad' }, u.badMessages);
        skippedMessages.inc({ reason: 'unknown_table' }, u.unknownTable);
      }
    } catch {
      // closed while shutting down: no figures
    }
  }
}
