import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binaryInfer, binaryOutput, bytesOf, expected, fixture, probe, randomPicks } from './helpers/serve-fixture.js';

const f = fixture('serve-sigterm');
const hps = new URL('../bin/hps.js', import.meta.url).pathname;
test.after(() => f.dir.remove());

interface Child {
  proc: ChildProcess;
  http: string;
  lines: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `hps serve` on ports picked by the system; resolves once it logged "ready" (the log names the ports). */
async function start(extra: string[] = []): Promise<Child> {
  const proc = spawn(process.execPath, [hps, 'serve', '-c', f.psJson, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    proc.stderr!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      lines.push(...parts);
      if (parts.some((l) => l.includes('ready:'))) resolve();
    });
    void exit.then(({ code }) => reject(new Error(`hps serve exited (${code}) before it was ready:\n${lines.join('\n')}${buffered}`)));
  });
  const http = /HTTP \(KServe v2\) listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(lines.join('\n'));
  assert.ok(http && Number(http[2]) > 0, lines.join('\n'));
  return { proc, http: http![1], lines, exit };
}

const picks = [randomPicks(200, f.keys[0].length, 41), randomPicks(100, f.keys[1].length, 42)];
const keys = new BigInt64Array([...probe(f, 0, picks[0]), ...probe(f, 1, picks[1])]);
const request = binaryInfer(keys, [200, 100]);
const want = bytesOf(expected(f, picks));

/** A request whose body arrives in two halves: it is in flight until `finish()` sends the second. */
function slowRequest(http: string): { response: Promise<Response>; finish: () => void } {
  let finish!: () => void;
  const half = Math.floor(request.body.length / 2);
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(new Uint8Array(request.body.subarray(0, half)));
      await new Promise<void>((resolve) => { finish = resolve; });
      controller.enqueue(new Uint8Array(request.body.subarray(half)));
      controller.close();
    },
  });
  const response = fetch(`${http}/v2/models/m/infer`, { method: 'POST', body, headers: { ...request.headers, 'Content-Length': String(request.body.length) }, duplex: 'half' } as RequestInit);
  return { response, finish: () => finish() };
}

test('the log names each endpoint with the port it got; SIGTERM lets requests in flight finish, then exits 0', async () => {
  const child = await start();
  assert.ok(child.lines.some((l) => /gRPC \(inference\.GRPCInferenceService\) listening on 127\.0\.0\.1:\d+$/.test(l)), child.lines.join('\n'));
  assert.ok(child.lines.some((l) => /metrics listening on http:\/\/127\.0\.0\.1:\d+\/metrics$/.test(l)), child.lines.join('\n'));
  assert.is((await fetch(`${child.http}/v2/health/ready`)).status, 200);
  // 16 requests whose bodies are half sent: the server has them, and cannot answer them yet.
  const slow = Array.from({ length: 16 }, () => slowRequest(child.http));
  await new Promise((r) => setTimeout(r, 500));
  child.proc.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  assert.is(child.proc.exitCode, null, 'still running: requests are in flight');
  for (const s of slow) s.finish();
  for (const res of await Promise.all(slow.map((s) => s.response))) {
    assert.is(res.status, 200);
    assert.ok((await binaryOutput(res)).output.equals(want));
  }
  assert.equal(await child.exit, { code: 0, signal: null });
  assert.ok(child.lines.some((l) => /SIGTERM: no new requests/.test(l)), child.lines.join('\n'));
});

test('a second signal exits at once', async () => {
  const child = await start();
  const slow = slowRequest(child.http);
  slow.response.catch(() => {});
  await new Promise((r) => setTimeout(r, 100));
  child.proc.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 200));
  assert.is(child.proc.exitCode, null, 'waiting for the request in flight');
  child.proc.kill('SIGTERM');
  assert.equal(await child.exit, { code: 1, signal: null });
  slow.finish();
});

test('a token file switches the write endpoints on', async () => {
  const tokenFile = join(f.dir.path, 'token');
  writeFileSync(tokenFile, 'file-token\n');
  const child = await start(['--token-file', tokenFile]);
  const res = await fetch(`${child.http}/v2/models/m/tables/a/erase`, { method: 'POST', body: '{"keys": [1]}', headers: { Authorization: 'Bearer file-token' } });
  assert.is(res.status, 200);
  child.proc.kill('SIGTERM');
  assert.equal(await child.exit, { code: 0, signal: null });
});

test.run();
