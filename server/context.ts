import { readFileSync } from 'node:fs';
import { TokenCheck } from './auth.js';
import { InferenceService } from './inference.js';
import { ServerMetrics } from './metrics.js';
import { ModelControl } from './model-control.js';
import type { ResolvedServeOptions } from './options.js';
import type { ServingState } from './state.js';

/** The KServe v2 extensions this server implements (listed by `GET /v2` and ServerMetadata). */
export const EXTENSIONS = ['binary_tensor_data', 'model_repository', 'statistics'];

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** What the HTTP routes and the gRPC service share. */
export class ServerContext {
  readonly metrics: ServerMetrics;
  readonly inference: InferenceService;
  readonly auth: TokenCheck;
  readonly control: ModelControl;

  constructor(readonly state: ServingState, readonly options: ResolvedServeOptions) {
    this.metrics = new ServerMetrics(() => state.opened);
    this.inference = new InferenceService(state, this.metrics, options.requestTimeoutMs);
    this.auth = new TokenCheck(options.token);
    this.control = new ModelControl(state, this.auth, options.log);
  }

  serverMetadata(): { name: string; version: string; extensions: string[] } {
    return { name: 'hps-node', version: VERSION, extensions: EXTENSIONS };
  }
}
