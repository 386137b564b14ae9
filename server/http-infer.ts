import { badRequest } from './errors.js';
import { MODEL_VERSION, OUTPUT0 } from './hps-model.js';
import type { InputTensor } from './tensors.js';

/**
 * The KServe v2 HTTP inference request and response, JSON and with the binary tensor data extension:
 * a request body may be a JSON header of `Inference-Header-Content-Length` bytes followed by the
 * binary data of the inputs whose parameters give `binary_data_size`, in input order; an output asked
 * with `binary_data: true` (or every output, with the request parameter `binary_data_output`) comes
 * back as raw bytes after the response's JSON header.
 */
export const HEADER_LENGTH = 'inference-header-content-length';

export interface HttpInferRequest {
  id?: string;
  inputs: InputTensor[];
  /** Whether OUTPUT0 goes back as binary data. */
  binaryOutput: boolean;
}

export function parseInferBody(body: Buffer | undefined, headerLength: string | undefined): HttpInferRequest {
  const bytes = body ?? Buffer.alloc(0);
  let jsonEnd = bytes.length;
  if (headerLength !== undefined) {
    jsonEnd = Number(headerLength);
    if (!Number.isSafeInteger(jsonEnd) || jsonEnd < 0 || jsonEnd > bytes.length) {
      throw badRequest(`header Inference-Header-Content-Length: ${JSON.stringify(headerLength)} is not valid: expected the byte length of the JSON header, at most the body's ${bytes.length} bytes`);
    }
  }
  let header: unknown;
  try {
    header = JSON.parse(bytes.toString('utf8', 0, jsonEnd));
  } catch (e) {
    throw badRequest(`malformed JSON in the request body: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw badRequest('request body: expected a JSON object with "inputs"');
  const h = header as Record<string, unknown>;
  if (!Array.isArray(h.inputs)) throw badRequest('request body: "inputs" must be an array of tensors { name, datatype, shape, data | parameters.binary_data_size }');
  let at = jsonEnd;
  const inputs = h.inputs.map((raw, i): InputTensor => {
    if (raw === null || typeof raw !== 'object') throw badRequest(`inputs[${i}]: expected a tensor object`);
    const t = raw as Record<string, unknown>;
    const name = t.name;
    if (typeof name !== 'string') throw badRequest(`inputs[${i}]: "name" must be a string`);
    if (typeof t.datatype !== 'string') throw badRequest(`input ${name}: "datatype" must be a string such as "INT64"`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw badRequest(`input ${name}: "shape" must be an array of non-negative integers`);
    const size = (t.parameters as Record<string, unknown> | undefined)?.binary_data_size;
    if (size !== undefined) {
      if (!Number.isSafeInteger(size) || (size as number) < 0) throw badRequest(`input ${name}: parameters.binary_data_size ${JSON.stringify(size)} is not a byte count`);
      if (at + (size as number) > bytes.length) {
        throw badRequest(`input ${name}: binary_data_size ${size} runs past the end of the body (${bytes.length - at} bytes of binary data left)`);
      }
      const slice = bytes.subarray(at, at + (size as number));
      at += size as number;
      return { name, datatype: t.datatype, shape: t.shape, bytes: slice, values: null };
    }
    if (!Array.isArray(t.data)) throw badRequest(`input ${name}: expected "data" (an array) or parameters.binary_data_size`);
    return { name, datatype: t.datatype, shape: t.shape, bytes: null, values: t.data };
  });
  if (at !== bytes.length) throw badRequest(`request body: ${bytes.length - at} bytes of binary data follow the inputs' binary_data_size total`);
  return { id: typeof h.id === 'string' ? h.id : undefined, inputs, binaryOutput: wantsBinary(h) };
}

function wantsBinary(h: Record<string, unknown>): boolean {
  const all = (h.parameters as Record<string, unknown> | undefined)?.binary_data_output === true;
  if (h.outputs === undefined) return all;
  if (!Array.isArray(h.outputs)) throw badRequest('request body: "outputs" must be an array of { name, parameters }');
  let binary = all;
  for (const [i, o] of h.outputs.entries()) {
    const name = (o as Record<string, unknown> | null)?.name;
    if (name !== OUTPUT0) throw badRequest(`outputs[${i}]: unknown output ${JSON.stringify(name)}; the model has one output, ${OUTPUT0}`);
    const b = ((o as Record<string, unknown>).parameters as Record<string, unknown> | undefined)?.binary_data;
    if (b !== undefined) binary = b === true;
  }
  return binary;
}

/** The response header object, shared by the JSON and the binary forms. */
function responseHeader(model: string, id: string | undefined, output: Record<string, unknown>): Record<string, unknown> {
  return { model_name: model, model_version: MODEL_VERSION, ...(id === undefined ? {} : { id }), outputs: [output] };
}

/**
 * A binary response laid out before the lookup: the JSON header (padded with spaces to a multiple of
 * 4 bytes) then OUTPUT0's floats, which `out` views so that the lookups write into the body itself.
 */
export function binaryResponse(model: string, id: string | undefined, floats: number): { body: Buffer; headerLength: number; out: Float32Array } {
  const header = JSON.stringify(responseHeader(model, id, { name: OUTPUT0, datatype: 'FP32', shape: [1, floats], parameters: { binary_data_size: floats * 4 } }));
  const headerLength = Math.ceil(Buffer.byteLength(header) / 4) * 4;
  const body = Buffer.from(new ArrayBuffer(headerLength + floats * 4));
  body.fill(0x20, body.write(header, 0, 'utf8'), headerLength);
  return { body, headerLength, out: new Float32Array(body.buffer, headerLength, floats) };
}

export function jsonResponse(model: string, id: string | undefined, out: Float32Array, shape: number[]): string {
  return JSON.stringify(responseHeader(model, id, { name: OUTPUT0, datatype: 'FP32', shape, data: Array.from(out) }));
}
