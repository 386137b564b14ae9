/**
 * Fault handling of the Redis tier, per partition (a partition's two hashes live in one cluster slot,
 * so one node answers for it). A command that fails or takes longer than `timeoutMs` marks the
 * partition down for `retryAfterMs`: meanwhile its keys skip Redis and fall through to the next tier,
 * at that tier's speed. The first command after that is a probe; when it succeeds the partition is used
 * again (a node back, or a replica promoted). Each outage is logged once when it starts and once when
 * it ends; `faults` counts failed commands and `skippedKeys` the keys that fell through.
 */
export class FaultGate {
  private readonly downUntil: Float64Array;
  private readonly down: Uint8Array;
  faults = 0;
  skippedKeys = 0;

  constructor(
    partitions: number,
    private readonly what: string,
    private readonly log: (line: string) => void,
    readonly timeoutMs: number,
    private readonly retryAfterMs: number,
  ) {
    this.downUntil = new Float64Array(partitions);
    this.down = new Uint8Array(partitions);
  }

  /** Whether partition `p` should be asked now (up, or down long enough to be probed again). */
  open(p: number): boolean {
    return this.down[p] === 0 || performance.now() >= this.downUntil[p];
  }

  /** Partitions down at the moment. */
  downCount(): number {
    let n = 0;
    for (const d of this.down) n += d;
    return n;
  }

  succeeded(p: number): void {
    if (this.down[p] === 0) return;
    this.down[p] = 0;
    this.log(`hps: ${this.what} partition ${p}: Redis answers again; the tier serves it again`);
  }

  failed(p: number, err: unknown): void {
    this.faults++;
    this.downUntil[p] = performance.now() + this.retryAfterMs;
    if (this.down[p] === 1) return;
    this.down[p] = 1;
    this.log(`hps: ${this.what} partition ${p}: Redis failed (${err instanceof Error ? err.message : String(err)}); its keys fall through to the next tier until it answers again`);
  }

  /** `work`, failed with a timeout error after `timeoutMs` x `factor`. */
  async bounded<T>(work: Promise<T>, factor = 1): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const ms = this.timeoutMs * factor;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    });
    // A command abandoned by the timeout may still fail later: that is already accounted for.
    work.catch(() => {});
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
