/**
 * The dense part of the DLRM-style ranking model, shared by the ONNX builder and the plain-JS
 * reference: a bottom MLP over the dense features, a dot interaction between the bottom MLP's output
 * and the dim-16 embeddings, then a top MLP over [bottom output, pairwise dots, dim-64 embeddings,
 * pooled dim-64 embeddings] ending in a sigmoid. Weights are random (Glorot-uniform), seeded, and
 * saved beside the model file: `weights.bin` (float32, each tensor at a 4 KiB-aligned offset, as
 * ONNX's external-data convention advises) and `weights.json` (names, shapes, offsets).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DENSE_FEATURES, seededRandom, type Layout } from './dataset.js';

export const BOTTOM_UNITS = [64, 16];
export const TOP_UNITS = [64, 16, 1];
/** The bottom MLP's output joins the dim-16 embeddings in the dot interaction, so it is 16 wide too. */
export const INTERACTION_DIM = 16;

/** The model's inputs: name and shape per sample (the batch dimension comes first). */
export function inputShapes(l: Layout): { name: 'dense' | 'emb16' | 'emb64' | 'pooled64'; shape: number[] }[] {
  return [
    { name: 'dense', shape: [DENSE_FEATURES] },
    { name: 'emb16', shape: [l.oneHot16.length, l.tables.cat16.dim] },
    { name: 'emb64', shape: [l.oneHot64.length, l.tables.cat64.dim] },
    { name: 'pooled64', shape: [l.multiHot64.length, l.tables.cat64.dim] },
  ];
}

/** Vectors in the dot interaction: the bottom output plus one per dim-16 feature. */
export function interactionVectors(l: Layout): number {
  return 1 + l.oneHot16.length;
}

/** Flat indices i * n + j (i > j) of the strictly lower triangle of the n x n dot-product matrix. */
export function pairIndices(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) out.push(i * n + j);
  return out;
}

/** Width of the top MLP's input. */
export function topInputWidth(l: Layout): number {
  const n = interactionVectors(l);
  return INTERACTION_DIM + (n * (n - 1)) / 2 + (l.oneHot64.length + l.multiHot64.length) * l.tables.cat64.dim;
}

export interface Dense {
  /** [in, out], row-major (x @ weight + bias). */
  weight: Float32Array;
  bias: Float32Array;
  inputs: number;
  units: number;
}

export interface Weights {
  bottom: Dense[];
  top: Dense[];
}

export function randomWeights(l: Layout, seed: number): Weights {
  const rand = seededRandom(seed);
  const mlp = (inputs: number, units: number[]) => units.map((u, i) => {
    const fanIn = i === 0 ? inputs : units[i - 1];
    const limit = Math.sqrt(6 / (fanIn + u));
    return {
      inputs: fanIn,
      units: u,
      weight: Float32Array.from({ length: fanIn * u }, () => (rand() * 2 - 1) * limit),
      bias: Float32Array.from({ length: u }, () => (rand() * 2 - 1) * 0.05),
    };
  });
  return { bottom: mlp(DENSE_FEATURES, BOTTOM_UNITS), top: mlp(topInputWidth(l), TOP_UNITS) };
}

/** One tensor of weights.bin. */
export interface StoredTensor {
  name: string;
  shape: number[];
  /** Byte offset and length in weights.bin. */
  offset: number;
  length: number;
}

export const WEIGHTS_FILE = 'weights.bin';
const MANIFEST_FILE = 'weights.json';
const ALIGN = 4096;

function namedTensors(w: Weights): { name: string; shape: number[]; data: Float32Array }[] {
  const layer = (prefix: string, d: Dense, i: number) => [
    { name: `${prefix}${i}.weight`, shape: [d.inputs, d.units], data: d.weight },
    { name: `${prefix}${i}.bias`, shape: [d.units], data: d.bias },
  ];
  return [...w.bottom.flatMap((d, i) => layer('bottom', d, i)), ...w.top.flatMap((d, i) => layer('top', d, i))];
}

/** Writes weights.bin and weights.json into `dir`; returns the manifest. */
export function saveWeights(dir: string, w: Weights): StoredTensor[] {
  const tensors = namedTensors(w);
  const manifest: StoredTensor[] = [];
  let at = 0;
  for (const t of tensors) {
    manifest.push({ name: t.name, shape: t.shape, offset: at, length: t.data.byteLength });
    at = Math.ceil((at + t.data.byteLength) / ALIGN) * ALIGN;
  }
  const bytes = new Uint8Array(at);
  tensors.forEach((t, i) => bytes.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), manifest[i].offset));
  writeFileSync(join(dir, WEIGHTS_FILE), bytes);
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** Reads the weights saved by saveWeights. */
export function loadWeights(dir: string): Weights {
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as StoredTensor[];
  const bytes = readFileSync(join(dir, WEIGHTS_FILE));
  const get = (name: string) => {
    const t = manifest.find((m) => m.name === name);
    if (!t) throw new Error(`${join(dir, MANIFEST_FILE)}: no tensor ${name}`);
    return { data: new Float32Array(bytes.buffer.slice(bytes.byteOffset + t.offset, bytes.byteOffset + t.offset + t.length)), shape: t.shape };
  };
  const mlp = (prefix: string, layers: number) => Array.from({ length: layers }, (_, i) => {
    const weight = get(`${prefix}${i}.weight`);
    return { weight: weight.data, bias: get(`${prefix}${i}.bias`).data, inputs: weight.shape[0], units: weight.shape[1] };
  });
  return { bottom: mlp('bottom', BOTTOM_UNITS.length), top: mlp('top', TOP_UNITS.length) };
}
