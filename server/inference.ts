import { HpsError } from '../engine/errors.js';
import type { HpsModel } from './hps-model.js';
import type { ServerMetrics } from './metrics.js';
import type { ServingState } from './state.js';
import type { InputTensor } from './tensors.js';

export interface InferRequest {
  model: string;
  version?: string;
  /** Decodes the transport's inputs; called once the model is known. */
  inputs: () => readonly InputTensor[];
}

/**
 * One inference, whichever transport carried it: resolve the model, decode KEYS and NUMKEYS, let the
 * transport allocate OUTPUT0 inside its response buffer, look the keys up straight into it, encode.
 * Each phase is timed for the Triton metrics and the statistics extension; a request still running
 * after the timeout answers 504 (its lookups finish and their result is dropped).
 */
export class InferenceService {
  constructor(private readonly state: ServingState, private readonly metrics: ServerMetrics, private readonly timeoutMs: number) {}

  async infer<T>(req: InferRequest, allocate: (floats: number) => Float32Array, encode: (out: Float32Array, shape: number[]) => T): Promise<T> {
    const t0 = process.hrtime.bigint();
    let model: HpsModel | null = null;
    try {
      const ps = this.state.server();
      model = this.state.model(req.model, req.version);
      const plan = model.plan(req.inputs());
      const out = allocate(plan.outputLength);
      const t1 = process.hrtime.bigint();
      await this.withTimeout(model.lookup(ps, plan, out), req.model);
      const t2 = process.hrtime.bigint();
      const encoded = encode(out, [1, plan.outputLength]);
      const t3 = process.hrtime.bigint();
      this.metrics.recordSuccess(model.name, { inputNs: Number(t1 - t0), inferNs: Number(t2 - t1), outputNs: Number(t3 - t2), totalNs: Number(t3 - t0) });
      return encoded;
    } catch (e) {
      if (model) this.metrics.recordFailure(model.name, Number(process.hrtime.bigint() - t0));
      throw e;
    }
  }

  private withTimeout(work: Promise<void>, model: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HpsError('TIMEOUT', `model ${model}: the inference did not finish within the request timeout of ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }
}
