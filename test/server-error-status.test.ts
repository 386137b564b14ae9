import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { ParameterServer, createServer, HpsError } from '../engine/index.js';
import { HPS_ERROR_CODES, type HpsErrorCode } from '../engine/errors.js';
import { grpcStatusOf, httpStatusOf, statusOfCode } from '../server/errors.js';
import { AsyncFakeCache } from './helpers/async-cache.js';
import { grpcClient } from './helpers/grpc-client.js';
import { binaryInfer, binaryOutput, bytesOf, expected, fixture, probe } from './helpers/serve-fixture.js';

/*
 * Every HpsError code reaches clients with a status of its own meaning: the table in server/errors.ts is
 * total (walked here code by code), and a real HTTP client and a real gRPC client get exactly that status
 * for an error of each code raised while serving a request.
 */

test('every HpsError code has an HTTP and a gRPC status, and bad input is always 400 / INVALID_ARGUMENT', () => {
  assert.ok(HPS_ERROR_CODES.length >= 20);
  for (const code of HPS_ERROR_CODES) {
    const mapped = statusOfCode(code);
    assert.ok(mapped, `${code} has no status`);
    assert.ok(mapped.http >= 400 && mapped.http < 600, `${code}: HTTP ${mapped.http}`);
    assert.ok(mapped.grpc !== GrpcStatus.OK && mapped.grpc !== GrpcStatus.UNKNOWN, `${code}: gRPC ${GrpcStatus[mapped.grpc]}`);
    const e = new HpsError(code, 'x');
    assert.is(httpStatusOf(e), mapped.http, code);
    assert.is(grpcStatusOf(e), mapped.grpc, code);
    if (code.startsWith('BAD_')) {
      assert.equal([mapped.http, GrpcStatus[mapped.grpc]], [400, 'INVALID_ARGUMENT'], code);
    }
  }
  assert.equal([statusOfCode('UNKNOWN_TABLE').http, statusOfCode('UNAUTHORIZED').http, statusOfCode('CLOSED').http], [404, 401, 503]);
});

test('a real HTTP client and a real gRPC client get each code\'s status for an error raised while serving', async () => {
  const f = fixture('server-error-status');
  let failWith: HpsErrorCode | null = null;
  /** The L1 cache fails each query with `failWith` while it is set (an error deep inside a lookup). */
  class FailingCache extends AsyncFakeCache {
    override query(keys: BigInt64Array, out: Float32Array): Promise<Uint32Array> {
      if (failWith) return Promise.reject(new HpsError(failWith, `injected ${failWith}`));
      return super.query(keys, out);
    }
  }
  const ps = await ParameterServer.open(f.psJson, { progress: false, log: () => {}, warn: () => {}, l1Cache: (spec) => new FailingCache(spec.dim, spec.capacity) });
  const server = createServer(ps, { httpPort: 0, grpcPort: 0, metricsPort: null, log: () => {} });
  const { http, grpc } = await server.listen();
  const { call, close } = grpcClient(grpc!.port);
  try {
    const keys = [probe(f, 0, [5, -1, 7]), probe(f, 1, [3])];
    const all = new BigInt64Array([...keys[0], ...keys[1]]);
    const want = bytesOf(expected(f, [[5, -1, 7], [3]]));
    const infer = () => {
      const { body, headers } = binaryInfer(all, [3, 1]);
      return fetch(`http://127.0.0.1:${http.port}/v2/models/m/infer`, { method: 'POST', body, headers });
    };
    const grpcInfer = () => call('ModelInfer', {
      model_name: 'm',
      inputs: [{ name: 'KEYS', datatype: 'INT64', shape: [1, all.length] }, { name: 'NUMKEYS', datatype: 'INT32', shape: [1, 2] }],
      outputs: [{ name: 'OUTPUT0' }],
      raw_input_contents: [bytesOf(all as unknown as Float32Array), Buffer.from(Int32Array.of(3, 1).buffer)],
    });

    // Served normally first: the injection is what fails the requests below.
    const ok = await infer();
    assert.is(ok.status, 200);
    assert.equal((await binaryOutput(ok)).output, want);
    assert.equal(Buffer.from(((await grpcInfer()).raw_output_contents as Buffer[])[0]), want);

    for (const code of HPS_ERROR_CODES) {
      failWith = code;
      const res = await infer();
      assert.is(res.status, statusOfCode(code).http, code);
      assert.equal(await res.json(), { error: `injected ${code}` });
      try {
        await grpcInfer();
        assert.unreachable(`${code}: gRPC call succeeded`);
      } catch (e) {
        assert.is(GrpcStatus[(e as ServiceError).code], GrpcStatus[statusOfCode(code).grpc], code);
        assert.is((e as ServiceError).details, `injected ${code}`);
      }
    }
    failWith = null;
    const again = await infer();
    assert.is(again.status, 200);
    assert.equal((await binaryOutput(again)).output, want);
  } finally {
    close();
    await server.close();
    await ps.close();
    f.dir.remove();
  }
});

test.run();
