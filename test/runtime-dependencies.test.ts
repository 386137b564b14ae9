// What the shipped runtime (engine/, workers/, server/, bin/) imports from npm: only packages listed in
// `dependencies`, so that `npm install hps-node` brings everything it loads and nothing it does not.
// Examples, benches and tests may use devDependencies (onnxruntime-node, protobufjs); the runtime never.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Graph = { obj(): Record<string, string[]> };
const madge = createRequire(import.meta.url)('madge') as (paths: string[], config: object) => Promise<Graph>;
const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(root + 'package.json', 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** npm packages imported (at run time: type-only imports vanish) by the TypeScript files under `folders`. */
async function npmImports(folders: string[]): Promise<{ packages: Set<string>; modules: number }> {
  const graph = await madge(folders.map((f) => root + f), {
    baseDir: root,
    fileExtensions: ['ts'],
    tsConfig: root + 'tsconfig.json',
    includeNpm: true,
    detectiveOptions: { ts: { skipTypeImports: true }, es6: { skipTypeImports: true } },
  });
  const packages = new Set<string>();
  const all = Object.entries(graph.obj());
  for (const [, deps] of all) {
    for (const d of deps) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(d);
      // madge resolves a package by its types; @types/x stands for x.
      if (m) packages.add(m[1].replace(/^@types\/(?:([^_]+)__)?(.+)$/, (_s, scope: string | undefined, name: string) => (scope ? `@${scope}/${name}` : name)));
    }
  }
  return { packages, modules: all.filter(([k]) => !k.includes('node_modules')).length };
}

test('the runtime imports only packages in dependencies', async () => {
  const { packages, modules } = await npmImports(['engine', 'workers', 'server', 'bin']);
  // A graph of a handful of files would mean madge resolved nothing.
  assert.ok(modules > 80, `madge saw only ${modules} runtime modules`);
  for (const p of ['lmdb', 'piscina', 'fastify', '@grpc/grpc-js', 'zod']) assert.ok(packages.has(p), `madge did not see ${p}`);
  const undeclared = [...packages].filter((p) => !(p in pkg.dependencies));
  assert.equal(undeclared, [], 'imported by the runtime but not in dependencies');
});

test('onnxruntime-node and protobufjs are devDependencies, used by the ranking example, its bench and tests only', async () => {
  for (const p of ['onnxruntime-node', 'protobufjs']) {
    assert.ok(p in pkg.devDependencies && !(p in pkg.dependencies), `${p} should be a devDependency only`);
  }
  const { packages } = await npmImports(['examples', 'bench']);
  assert.ok(packages.has('onnxruntime-node') && packages.has('protobufjs'), 'the ranking example no longer uses them: drop them');
});

test.run();
