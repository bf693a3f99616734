// Test helpers: build ONNX ModelProto bytes from TypeScript with onnx-proto, read the
// committed fixtures, and compile + run a module on the CPU pipeline.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileModule } from '@kiln/cli';
import type { IRModule } from '@kiln/ir-core';
import type { Value } from '@kiln/runtime';
import { createRuntime, Tensor } from '@kiln/runtime';
import type { HostTensor } from './host.js';
import { toStorage } from './host.js';
import { decodeTensor, onnx, onnxDTypeOf, toOnnxRawData } from './proto.js';

export const FIXTURES = join(import.meta.dirname, '__fixtures__');
export const fixture = (name: string): string => join(FIXTURES, name);
export function fixtureTensor(name: string): HostTensor {
  return decodeTensor(readFileSync(fixture(name)), name);
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attrs?: Record<string, number | number[] | string>;
}
export interface InputSpec {
  name: string;
  dtype: string;
  shape: (number | string)[];
}

/** ModelProto bytes for a single-graph model. */
export function buildModel(o: {
  nodes: NodeSpec[];
  inputs: InputSpec[];
  outputs: string[];
  inits?: Record<string, HostTensor>;
  opset?: number;
}): Uint8Array {
  const attr = (name: string, v: number | number[] | string) => {
    if (typeof v === 'string') return { name, type: 3, s: new TextEncoder().encode(v) };
    if (Array.isArray(v))
      return v.every(Number.isInteger) ? { name, type: 7, ints: v } : { name, type: 6, floats: v };
    return Number.isInteger(v) ? { name, type: 2, i: v } : { name, type: 1, f: v };
  };
  const vi = (i: InputSpec) => ({
    name: i.name,
    type: {
      tensorType: {
        elemType: onnxDTypeOf(i.dtype),
        shape: { dim: i.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
  const model = onnx.ModelProto.fromObject({
    irVersion: 8,
    opsetImport: [{ domain: '', version: o.opset ?? 17 }],
    graph: {
      name: 'g',
      node: o.nodes.map((n, k) => ({
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        name: n.name ?? `n${k}`,
        attribute: Object.entries(n.attrs ?? {}).map(([a, v]) => attr(a, v)),
      })),
      input: o.inputs.map(vi),
      output: o.outputs.map((n) => ({ name: n })),
      initializer: Object.entries(o.inits ?? {}).map(([name, t]) => ({
        name,
        dataType: onnxDTypeOf(t.dtype),
        dims: [...t.shape],
        rawData: toOnnxRawData(t),
      })),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

export function toRuntime(t: HostTensor): Tensor {
  const out = Tensor.empty(t.shape, t.dtype);
  (out.toTypedArray() as unknown as { set(a: ArrayLike<unknown>): void }).set(
    toStorage(t.dtype, t.data) as unknown as ArrayLike<unknown>,
  );
  return out;
}

/** Compile once; returns a runner that calls `main` and hands back the outputs as number arrays. */
export function compileAndLoad(
  mod: IRModule,
): (...inputs: HostTensor[]) => { shape: number[]; data: number[] }[] {
  const { artifact } = compileModule(mod);
  const exe = createRuntime().load(artifact);
  return (...inputs) => {
    const r = exe.call('main', ...inputs.map(toRuntime)) as Value;
    const outs = (Array.isArray(r) ? r : [r]) as Tensor[];
    return outs.map((t) => {
      const c = t.contiguous();
      return {
        shape: [...c.shape],
        data: Array.from(c.toTypedArray() as ArrayLike<number | bigint>, Number),
      };
    });
  };
}

/** Max |a - b| / (atol + rtol |b|) over the elements; ≤ 1 means close. */
export function closeness(got: readonly number[], want: ArrayLike<number>, rtol = 1e-4, atol = 1e-5): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++)
    worst = Math.max(worst, Math.abs(got[i] - want[i]) / (atol + rtol * Math.abs(want[i])));
  return worst;
}

/** A NodeProto object (named after its first output) for onnx.ModelProto.fromObject. */
export const onnxNode = (
  op: string,
  input: string[],
  output: string[],
  attribute: object[] = [],
  domain = '',
) => ({
  opType: op,
  input,
  output,
  name: output[0],
  attribute,
  domain,
});
/** An int64 TensorProto object (initializers, Constant values). */
export const int64Tensor = (name: string, dims: number[], v: number[]) => ({
  name,
  dataType: 7,
  dims,
  int64Data: v,
});
