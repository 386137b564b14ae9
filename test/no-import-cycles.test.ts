import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// madge walks the TypeScript sources (type-only imports included): a cycle in engine/ makes load order
// matter and every change to one side ripple to the other.
const madge = createRequire(import.meta.url)('madge') as (path: string, config: object) => Promise<{ circular(): string[][]; obj(): Record<string, string[]> }>;
const root = fileURLToPath(new URL('../../', import.meta.url));

test('engine/ has no import cycles', async () => {
  const graph = await madge(root + 'engine', {
    fileExtensions: ['ts'],
    tsConfig: root + 'tsconfig.json',
    detectiveOptions: { ts: { skipTypeImports: false } },
  });
  const modules = Object.keys(graph.obj());
  // A graph of a handful of files would mean madge resolved nothing, and found no cycle for that reason.
  assert.ok(modules.length > 40, `madge saw only ${modules.length} modules under engine/`);
  assert.ok(graph.obj()['parameter-server.ts']?.length > 5, 'madge resolved no imports of parameter-server.ts');
  assert.equal(graph.circular(), [], 'import cycles in engine/');
});

test.run();
