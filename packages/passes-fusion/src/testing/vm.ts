// Test helpers (not exported from the package): run a module on the VM with the TIR
// interpreter as kernel executor, counting kernel launches; seeded random inputs.
import type { IRModule } from '@kiln/ir-core';
import { dtype, getFunction, primVar } from '@kiln/ir-core';
import { BlockBuilder, constant, lowerToVM, op, relaxVar, tensorSInfo } from '@kiln/relax';
import type { Artifact, KernelArg } from '@kiln/runtime';
import { createRuntime, Tensor } from '@kiln/runtime';
import type { NDArray, PrimFunc } from '@kiln/tensorir';
import { interpret } from '@kiln/tensorir';

export function rand(n: number, seed: number, scale = 1): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

/** Constant batch-norm parameters (gamma ~1, beta, mean, variance ~1.5) for `channels`. */
export function batchNormParams(channels: number, seed: number) {
  return [
    constant(
      rand(channels, seed, 0.5).map((v) => 1 + v),
      [channels],
    ),
    constant(rand(channels, seed + 1), [channels]),
    constant(rand(channels, seed + 2), [channels]),
    constant(
      rand(channels, seed + 3, 0.5).map((v) => 1.5 + v),
      [channels],
    ),
  ] as const;
}

export interface VMRun {
  readonly outputs: Float32Array[];
  /** Kernel launches per call, by kernel name. */
  readonly launches: number;
  readonly byKernel: Record<string, number>;
}

/** Run `main` of `mod` through the VM (kernels in the TIR interpreter). */
export function runOnVM(
  mod: IRModule,
  inputs: ReadonlyArray<{ data: Float32Array; shape: number[] }>,
  fn = 'main',
): VMRun {
  const prog = lowerToVM(mod);
  const byKernel: Record<string, number> = {};
  let launches = 0;
  const kernels: Record<string, (args: readonly KernelArg[]) => void> = {};
  for (const k of prog.kernels) {
    const pf = getFunction(mod, k) as unknown as PrimFunc;
    const nparams = pf.params.length;
    kernels[k] = (args) => {
      launches++;
      byKernel[k] = (byKernel[k] ?? 0) + 1;
      const xs = args.slice(0, nparams).map((a) => {
        if (a instanceof Tensor)
          return { dtype: dtype(a.dtype), shape: a.shape, data: a.toTypedArray() } as NDArray;
        return a as number;
      });
      interpret(pf, xs);
    };
  }
  const artifact: Artifact = {
    kilnVersion: '0.0.0',
    target: 'interpreter',
    devices: ['cpu:0'],
    functions: prog.functions,
    constants: prog.constants,
    kernelModules: [{ name: 'cpu', kind: 'js', device: 0, symbols: {} }],
  };
  const exe = createRuntime().load(artifact, { jsModules: { cpu: kernels } });
  const out = exe.call(fn, ...inputs.map((i) => Tensor.fromTypedArray(i.data, i.shape)));
  const outs = Array.isArray(out) ? out : [out];
  return {
    outputs: outs.map((t) => (t as Tensor).toTypedArray() as Float32Array),
    launches,
    byKernel,
  };
}

/** Largest relative error (denominator floored at 1) between two arrays. */
export function maxRelErr(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
}

/** conv(4→8, 3x3, pad 1) + bias + relu → max_pool 2x2 → conv(8→8) + bias + relu → flatten → dense(8*4*4→10) + bias. */
export function smallCNN(): IRModule {
  const n = primVar('n');
  const x = relaxVar('x', tensorSInfo([n, 4, 8, 8], 'float32'));
  const bb = new BlockBuilder();
  bb.function('main', [x], () =>
    bb.dataflow(() => {
      const c1 = bb.emit(op.conv2d(x, constant(rand(8 * 4 * 9, 1, 0.3), [8, 4, 3, 3]), { padding: [1] }));
      const b1 = bb.emit(op.add(c1, constant(rand(8, 2), [1, 8, 1, 1])));
      const r1 = bb.emit(op.relu(b1));
      const p1 = bb.emit(op.maxPool2d(r1, [2, 2], { strides: [2, 2] }));
      const c2 = bb.emit(op.conv2d(p1, constant(rand(8 * 8 * 9, 3, 0.3), [8, 8, 3, 3]), { padding: [1] }));
      const b2 = bb.emit(op.add(c2, constant(rand(8, 4), [1, 8, 1, 1])));
      const r2 = bb.emit(op.relu(b2));
      const f = bb.emit(op.reshape(r2, [n, 8 * 4 * 4]));
      const d = bb.emit(op.matmul(f, constant(rand(128 * 10, 5, 0.2), [128, 10])));
      const o = bb.emit(op.add(d, constant(rand(10, 6), [10])));
      return bb.emitOutput(o);
    }),
  );
  return bb.getModule();
}
