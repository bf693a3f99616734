// The part of `npm run zoo` that runs inside one Node process per model (bundled from the
// Kiln sources by zoo.mjs): import the ONNX file, compile it once, run the artifact at every
// shape listed in the model's JSON, and compare each output with ONNX Runtime's.
import { readFileSync } from 'node:fs';
import { compileModule } from '@kiln/cli';
import { fromOnnx } from '@kiln/frontends-onnx';
import type { Value } from '@kiln/runtime';
import { createRuntime, Tensor } from '@kiln/runtime';
import * as ort from 'onnxruntime-node';

interface InputSpec {
  name: string;
  dtype: 'float32' | 'int64';
  shape: number[];
  /** axis → dim name */
  dynamic: Record<string, string>;
}
interface ModelSpec {
  inputs: InputSpec[];
  runs: Record<string, number>[];
}
export interface RunResult {
  shape: string;
  maxRef: number;
  relErr: number;
}
export interface ModelResult {
  compileSeconds: number;
  /** Where the compile time went (import, graph passes, schedules, LLVM). */
  phases: Record<string, number>;
  kernels: number;
  /** Distinct compiled kernels (launches of one kernel share its code). */
  distinctKernels: number;
  runs: RunResult[];
}

function shapeFor(inp: InputSpec, run: Record<string, number>): number[] {
  const s = [...inp.shape];
  for (const [axis, dim] of Object.entries(inp.dynamic))
    if (run[dim] !== undefined) s[Number(axis)] = run[dim];
  return s;
}

function inputData(inp: InputSpec, shape: number[], seed: number): Float32Array | BigInt64Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (inp.dtype === 'int64') {
    if (/mask/i.test(inp.name)) {
      // Every row attends to its first tokens; the last row is padded after 60% of them.
      const [b, t] = [shape[0], n / shape[0]];
      return BigInt64Array.from({ length: n }, (_, i) =>
        Math.floor(i / t) === b - 1 && i % t >= Math.ceil(t * 0.6) ? 0n : 1n,
      );
    }
    return BigInt64Array.from({ length: n }, (_, i) => BigInt((i * 7919 + seed * 104729) % 1000));
  }
  let s = (seed * 2654435761) >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 4294967296) * 2 - 1;
  });
}

export async function checkModel(onnxPath: string, specPath: string): Promise<ModelResult> {
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as ModelSpec;
  const t0 = performance.now();
  const mod = fromOnnx(onnxPath);
  const t1 = performance.now();
  const { artifact, stats } = compileModule(mod);
  const compileSeconds = (performance.now() - t0) / 1000;
  const phases = {
    import: (t1 - t0) / 1000,
    relax: stats.seconds.relax,
    schedule: stats.seconds.schedule,
    codegen: stats.seconds.codegen,
  };
  const main = artifact.functions.find((f) => f.name === 'main');
  const kernels = main ? main.code.filter((i) => i.op === 'CallKernel').length : 0;
  const distinctKernels = artifact.kernelModules.reduce((n, m) => n + Object.keys(m.symbols).length, 0);
  const exe = createRuntime().load(artifact);
  const session = await ort.InferenceSession.create(onnxPath);
  const runs: RunResult[] = [];
  for (const run of spec.runs) {
    const feeds: Record<string, ort.Tensor> = {};
    const args: Tensor[] = [];
    spec.inputs.forEach((inp, k) => {
      const shape = shapeFor(inp, run);
      const data = inputData(inp, shape, k + 1);
      feeds[inp.name] = new ort.Tensor(inp.dtype, data, shape);
      args.push(Tensor.fromTypedArray(data, shape, inp.dtype));
    });
    const ref = Object.values(await session.run(feeds))[0];
    const out = exe.call('main', ...args) as Value;
    const got = (Array.isArray(out) ? out[0] : out) as Tensor;
    const g = got.contiguous().toTypedArray() as Float32Array;
    const r = ref.data as Float32Array;
    if (g.length !== r.length || got.shape.join(',') !== ref.dims.join(','))
      throw new Error(`output shape [${got.shape}] differs from ONNX Runtime's [${ref.dims}]`);
    let maxRef = 0;
    let maxDiff = 0;
    for (let i = 0; i < r.length; i++) {
      maxRef = Math.max(maxRef, Math.abs(r[i]));
      maxDiff = Math.max(maxDiff, Math.abs(g[i] - r[i]));
    }
    runs.push({ shape: JSON.stringify(run), maxRef, relErr: maxRef > 0 ? maxDiff / maxRef : maxDiff });
  }
  exe.dispose();
  return { compileSeconds, phases, kernels, distinctKernels, runs };
}
