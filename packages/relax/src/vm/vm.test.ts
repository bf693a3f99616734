import type { IRModule } from '@kiln/ir-core';
import { dtype, getFunction, isKilnError, primVar, sequential } from '@kiln/ir-core';
import type { Artifact, KernelArg } from '@kiln/runtime';
import { createRuntime, Tensor } from '@kiln/runtime';
import type { NDArray, PrimFunc } from '@kiln/tensorir';
import { interpret } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import type { RelaxFunction } from '../index.js';
import { BlockBuilder, constant, op, relaxVar, tensorSInfo } from '../index.js';
import { LegalizeOps } from '../transform/legalize-ops.js';
import { lowerToVM } from './codegen.js';
import { CallTIRRewrite, ToNonDataflow } from './lower-passes.js';
import { memoryPlanOf, StaticPlanBlockMemory } from './memory-plan.js';

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** The VM program as an artifact whose kernels run in the TIR reference interpreter. */
function interpretedArtifact(mod: IRModule) {
  const prog = lowerToVM(mod);
  const kernels: Record<string, (args: readonly KernelArg[]) => void> = {};
  for (const k of prog.kernels) {
    const pf = getFunction(mod, k) as unknown as PrimFunc;
    const nparams = pf.params.length;
    kernels[k] = (args) => {
      // The trailing ABI dims are implied by the tensors' shapes for the interpreter.
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
  return createRuntime().load(artifact, { jsModules: { cpu: kernels } });
}

function buildMLP(): IRModule {
  const n = primVar('n');
  const x = relaxVar('x', tensorSInfo([n, 16], 'float32'));
  const w1 = constant(rand(16 * 32, 1), [16, 32]);
  const b1 = constant(rand(32, 2), [32]);
  const w2 = constant(rand(32 * 10, 3), [32, 10]);
  const b2 = constant(rand(10, 4), [10]);
  const bb = new BlockBuilder();
  bb.function('main', [x], () =>
    bb.dataflow(() => {
      const h = bb.emit(op.matmul(x, w1));
      const hb = bb.emit(op.add(h, b1));
      const r = bb.emit(op.relu(hb));
      const o = bb.emit(op.matmul(r, w2));
      const ob = bb.emit(op.add(o, b2));
      return bb.emitOutput(ob);
    }),
  );
  return bb.getModule();
}

function mlpReference(x: Float32Array, n: number): Float32Array {
  const w1 = rand(16 * 32, 1);
  const b1 = rand(32, 2);
  const w2 = rand(32 * 10, 3);
  const b2 = rand(10, 4);
  const out = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) {
    const h = new Float32Array(32);
    for (let j = 0; j < 32; j++) {
      let s = 0;
      for (let k = 0; k < 16; k++) s += x[i * 16 + k] * w1[k * 32 + j];
      h[j] = Math.max(0, s + b1[j]);
    }
    for (let j = 0; j < 10; j++) {
      let s = 0;
      for (let k = 0; k < 32; k++) s += h[k] * w2[k * 10 + j];
      out[i * 10 + j] = s + b2[j];
    }
  }
  return out;
}

const lowerPipeline = sequential([LegalizeOps, ToNonDataflow, CallTIRRewrite, StaticPlanBlockMemory]);

describe('Relax → VM', () => {
  it('runs a symbolic-batch MLP on the VM for several batch sizes from one program', () => {
    const mod = lowerPipeline.run(buildMLP());
    const exe = interpretedArtifact(mod);
    for (const n of [1, 3, 5]) {
      const xs = rand(n * 16, 10 + n);
      const y = exe.call('main', Tensor.fromTypedArray(xs, [n, 16])) as Tensor;
      expect(y.shape).toEqual([n, 10]);
      const got = y.toTypedArray() as Float32Array;
      const want = mlpReference(xs, n);
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-4);
    }
  });

  it('also lowers call_tir directly, without the explicit-allocation passes', () => {
    const mod = LegalizeOps.run(buildMLP());
    const exe = interpretedArtifact(mod);
    const xs = rand(2 * 16, 7);
    const got = (
      exe.call('main', Tensor.fromTypedArray(xs, [2, 16])) as Tensor
    ).toTypedArray() as Float32Array;
    const want = mlpReference(xs, 2);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-4);
  });

  it('refuses inputs of the wrong shape or dtype with clear errors', () => {
    const exe = interpretedArtifact(lowerPipeline.run(buildMLP()));
    expect(() => exe.call('main', Tensor.fromTypedArray(new Float32Array(2 * 15), [2, 15]))).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
    expect(() => exe.call('main', Tensor.fromTypedArray(new Int32Array(2 * 16), [2, 16]))).toThrow(
      expect.objectContaining({ code: 'DTYPE_MISMATCH' }),
    );
  });

  it('memory planning reuses storage along a chain and reports the saving', () => {
    const x = relaxVar('x', tensorSInfo([64, 64], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () =>
      bb.dataflow(() => {
        let cur = x as Parameters<typeof op.exp>[0];
        for (let i = 0; i < 6; i++) cur = bb.emit(i % 2 === 0 ? op.exp(cur) : op.negative(cur));
        return bb.emitOutput(bb.emit(op.add(cur, x)));
      }),
    );
    const mod = lowerPipeline.run(bb.getModule());
    const report = memoryPlanOf(getFunction(mod, 'main') as unknown as RelaxFunction)!;
    // six intermediates of 16 KiB each; the output escapes and is not planned
    expect(report.bytesBefore).toBe(6 * 64 * 64 * 4);
    expect(report.bytesAfter).toBe(2 * 64 * 64 * 4);
    expect(report.escaping).toBe(1);
    const exe = interpretedArtifact(mod);
    const xs = rand(64 * 64, 3);
    const got = (
      exe.call('main', Tensor.fromTypedArray(xs, [64, 64])) as Tensor
    ).toTypedArray() as Float32Array;
    for (const i of [0, 17, 4095]) {
      let v = xs[i];
      for (let k = 0; k < 6; k++) v = k % 2 === 0 ? Math.exp(v) : -v;
      expect(got[i]).toBeCloseTo(v + xs[i], 4);
    }
  });

  it('runs the digits CNN (conv, bias, relu, pool, dense) through the default passes, matching PyTorch', async () => {
    // The bundled example model, built with BlockBuilder from its trained weights.
    const { loadModel, readNpy } = await import('@kiln/cli');
    const ex = new URL('../../../../examples/digits/', import.meta.url).pathname;
    const mod = lowerPipeline.run(await loadModel(`${ex}digits_model.mjs`));
    const exe = interpretedArtifact(mod);
    const batch = readNpy(`${ex}samples/batch8.npy`);
    const ref = new Float32Array(readNpy(`${ex}samples/batch8_logits.npy`).data.buffer);
    const x = Tensor.fromTypedArray(batch.data.slice(0, 3 * 256), [3, 1, 8, 8], 'float32');
    const got = (exe.call('main', x) as Tensor).toTypedArray() as Float32Array;
    expect(got.length).toBe(30);
    for (let i = 0; i < 30; i++) expect(Math.abs(got[i] - ref[i])).toBeLessThan(1e-3);
  });

  it('names the operator that has no lowering', () => {
    try {
      lowerToVM(buildMLP());
      expect.unreachable();
    } catch (e) {
      expect(isKilnError(e, 'VM_LOWERING')).toBe(true);
      expect((e as Error).message).toContain('relax.matmul');
    }
  });
});
