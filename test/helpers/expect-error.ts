import * as assert from 'uvu/assert';
import { HpsError } from '../../engine/errors.js';

/** Asserts that `run` rejects with an HpsError of `code` whose message matches `pattern`. */
export async function expectError(run: () => Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  try {
    await run();
  } catch (e) {
    assertHpsError(e, code, pattern);
    return;
  }
  assert.unreachable(`expected HpsError ${code}`);
}

/** Asserts that `fn` throws an HpsError of `code` whose message matches `pattern`. */
export function throwsHps(fn: () => unknown, code: string, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    assertHpsError(e, code, pattern);
    return;
  }
  assert.unreachable(`expected HpsError ${code}`);
}

function assertHpsError(e: unknown, code: string, pattern: RegExp): void {
  assert.instance(e, HpsError, String(e));
  assert.is((e as HpsError).code, code, (e as Error).message);
  assert.match((e as Error).message, pattern);
}
