/**
 * Runs the pipeline's step generators: one description of the lookup rules serves both an L1 that
 * answers at once (the WASM cache, on any thread) and one that answers with a promise (the CUDA cache,
 * or any EmbeddingCache). A generator yields each tier call's result; `drive` hands plain values straight
 * back and stays synchronous until a call returns a promise, then continues asynchronously from there.
 * So a synchronous L1 costs no microtask, and an asynchronous one is awaited, with the same rules.
 */
export type Steps<T> = Generator<unknown, T, unknown>;

export function drive<T>(steps: Steps<T>): T | Promise<T> {
  let r = steps.next();
  while (!r.done) {
    if (isPromise(r.value)) return finish(steps, r.value);
    r = steps.next(r.value);
  }
  return r.value;
}

/** `drive` where every tier is synchronous (worker threads, the inline path); a promise is a bug. */
export function driveSync<T>(steps: Steps<T>): T {
  const r = drive(steps);
  if (isPromise(r)) throw new Error('internal: an asynchronous tier on the synchronous pipeline path');
  return r;
}

async function finish<T>(steps: Steps<T>, pending: PromiseLike<unknown>): Promise<T> {
  let r: IteratorResult<unknown, T>;
  try {
    r = steps.next(await pending);
  } catch (err) {
    r = steps.throw(err);
  }
  while (!r.done) {
    try {
      r = steps.next(await r.value);
    } catch (err) {
      r = steps.throw(err);
    }
  }
  return r.value;
}

/** `f(v)`, at once when `v` is a plain value, after it resolves when it is a promise. */
export function then<T, U>(v: T | Promise<T>, f: (value: T) => U): U | Promise<U> {
  return isPromise(v) ? (v as Promise<T>).then(f) : f(v as T);
}

export function isPromise(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as PromiseLike<unknown> | null)?.then === 'function';
}
