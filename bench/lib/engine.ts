/**
 * Loads an engine module for a suite, or says why it cannot: the tiers are built alongside the suite,
 * and a workload whose component is missing is skipped with that reason rather than crashing the run.
 */
export async function loadEngine<T>(path: string): Promise<{ module: T } | { missing: string }> {
  const url = new URL(`../../engine/${path}`, import.meta.url);
  try {
    return { module: (await import(url.href)) as T };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND') return { missing: `engine/${path.replace(/\.js$/, '.ts')} is not built (${e.message.split('\n')[0]})` };
    throw err;
  }
}
