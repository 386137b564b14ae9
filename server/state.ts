import { HpsError } from '../engine/errors.js';
import type { ParameterServer } from '../engine/parameter-server.js';
import { notFound } from './errors.js';
import { HpsModel, MODEL_VERSION } from './hps-model.js';

/**
 * What the server serves: the ParameterServer once it is open (it may still be loading when the
 * endpoints start, so that liveness answers during a long import), the served model of each ps.json
 * model, and whether the server is draining for shutdown.
 */
export class ServingState {
  private ps: ParameterServer | null = null;
  private loadError: Error | null = null;
  private draining = false;
  readonly models = new Map<string, HpsModel>();

  constructor(source: ParameterServer | Promise<ParameterServer>) {
    Promise.resolve(source).then(
      (ps) => {
        this.ps = ps;
        for (const m of ps.config.models) this.models.set(m.name, new HpsModel(m));
      },
      (e: Error) => { this.loadError = e; },
    );
  }

  /** Every model loaded (and warmed: ParameterServer.open warms the tiers before it resolves), not draining. */
  get ready(): boolean {
    return this.ps !== null && !this.draining;
  }

  /** Why the server is not ready, for a 503 body; null when it is. */
  get notReadyReason(): string | null {
    if (this.draining) return 'the server is shutting down';
    if (this.loadError) return `the models failed to load: ${this.loadError.message}`;
    if (!this.ps) return 'the models are still loading';
    return null;
  }

  /**
   * The open ParameterServer, or a 503 while loading. While draining it is still returned: a request
   * that arrived before shutdown began is served (new ones are refused by the transports).
   */
  server(): ParameterServer {
    if (!this.ps) throw new HpsError('UNAVAILABLE', `not ready: ${this.notReadyReason}`);
    return this.ps;
  }

  /** The ParameterServer when it is open, draining or not; null while loading. */
  get opened(): ParameterServer | null {
    return this.ps;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  drain(): void {
    this.draining = true;
  }

  /** The served model `name` at `version` ('' or undefined: the latest): 404 naming what exists. */
  model(name: string, version?: string): HpsModel {
    const m = this.models.get(name);
    if (!m) {
      const known = [...this.models.keys()];
      if (!this.ps && !this.loadError) throw new HpsError('UNAVAILABLE', `not ready: the models are still loading (model ${JSON.stringify(name)} asked)`);
      throw new HpsError('UNKNOWN_MODEL', `unknown model ${JSON.stringify(name)}; served models: ${known.join(', ') || '(none)'}`);
    }
    if (version !== undefined && version !== '' && version !== MODEL_VERSION) {
      throw notFound(`model ${name} has no version ${JSON.stringify(version)}; versions: ${MODEL_VERSION}`);
    }
    return m;
  }
}
