import { HpsError } from '../engine/errors.js';
import { badRequest } from './errors.js';
import { HpsModel, MODEL_VERSION } from './hps-model.js';
import type { TokenCheck } from './auth.js';
import type { ServingState } from './state.js';

/** One entry of the repository index (the model repository extension). */
export interface ModelIndexEntry {
  name: string;
  version: string;
  state: 'READY' | 'UNAVAILABLE';
  reason: string;
}

/**
 * The model repository extension over the ps.json: the index lists its models (served or unloaded),
 * load re-reads a model from it and swaps it in while lookups go on, unload stops serving a model.
 * Load and unload need the bearer token.
 */
export class ModelControl {
  private readonly unloaded = new Set<string>();

  constructor(private readonly state: ServingState, private readonly auth: TokenCheck, private readonly log: (line: string) => void) {}

  index(readyOnly: boolean): ModelIndexEntry[] {
    const names = [...new Set([...this.state.models.keys(), ...this.unloaded])].sort();
    const entries = names.map((name): ModelIndexEntry => (this.state.models.has(name)
      ? { name, version: MODEL_VERSION, state: 'READY', reason: '' }
      : { name, version: MODEL_VERSION, state: 'UNAVAILABLE', reason: 'unloaded' }));
    return readyOnly ? entries.filter((e) => e.state === 'READY') : entries;
  }

  async load(name: string, authorization: string | undefined, parameters: unknown): Promise<void> {
    this.auth.require(authorization, `load of model ${name}`);
    noParameters(parameters, 'load');
    const ps = this.state.server();
    await ps.reloadModel(name);
    this.state.models.set(name, new HpsModel(ps.modelConfig(name)));
    this.unloaded.delete(name);
    this.log(`hps serve: model ${name} loaded`);
  }

  async unload(name: string, authorization: string | undefined, parameters: unknown): Promise<void> {
    this.auth.require(authorization, `unload of model ${name}`);
    noParameters(parameters, 'unload');
    const ps = this.state.server();
    if (!this.state.models.has(name)) {
      throw new HpsError('UNKNOWN_MODEL', `unload: model ${JSON.stringify(name)} is not loaded; loaded models: ${[...this.state.models.keys()].join(', ') || '(none)'}`);
    }
    this.state.models.delete(name);
    this.unloaded.add(name);
    await ps.unloadModel(name);
    this.log(`hps serve: model ${name} unloaded`);
  }
}

/** Load and unload take no parameters here (Triton's config override and unload_dependents do not apply). */
function noParameters(parameters: unknown, what: string): void {
  if (parameters === undefined || parameters === null) return;
  if (typeof parameters !== 'object' || Object.keys(parameters).length > 0) {
    throw badRequest(`${what}: parameters ${JSON.stringify(parameters)} are not supported; send none (the model is read from the ps.json)`);
  }
}
