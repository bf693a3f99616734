// relax.PrepackWeights: after the default CPU schedule, the copy of a constant matmul
// weight into panels leaves the kernel and is done once at compile time; the call passes
// the packed constant. Kernels called with a non-constant there keep their copy. Results
// are unchanged on the VM (interpreter) and natively from the artifact.
import { compileModule } from '@kiln/cli';
import type { IRModule } from '@kiln/ir-core';
import { createPassContext, getFunction, parseTarget, primVar, sequential } from '@kiln/ir-core';
import type { Constant, RelaxFunction, SeqExpr } from '@kiln/relax';
import {
  BlockBuilder,
  CallTIRRewrite,
  constant,
  DeduplicatePrimFuncs,
  LegalizeOps,
  op,
  relaxVar,
  StaticPlanBlockMemory,
  ToNonDataflow,
  tensorSInfo,
} from '@kiln/relax';
import { createRuntime, Tensor } from '@kiln/runtime';
import { DefaultCPUSchedule } from '@kiln/schedule';
import type { PrimFunc } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { AttachLayoutFreeBuffers, LAYOUT_FREE_ATTR, PrepackWeights } from './prepack-weights.js';
import { maxRelErr, rand, runOnVM } from './testing/vm.js';

const [M, K, N] = [32, 128, 256];
const W1 = constant(rand(K * N, 1), [K, N]);
const W2 = constant(rand(N * K, 2), [N, K]);

/** x · W1 → relu → · W2, with both weights constant (and, optionally, a third matmul by an input). */
function mlp(withInputWeight = false): IRModule {
  const x = relaxVar('x', tensorSInfo([M, K], 'float32'));
  const w = relaxVar('w', tensorSInfo([K, N], 'float32'));
  const bb = new BlockBuilder();
  bb.function('main', withInputWeight ? [x, w] : [x], () =>
    bb.dataflow(() => {
      const h = bb.emit(op.relu(bb.emit(op.matmul(x, W1))));
      const y = bb.emit(op.matmul(h, W2));
      if (!withInputWeight) return bb.emitOutput(y);
      // The same kernel as x · W1 (deduplicated), called with a weight known only at run time.
      const z = bb.emit(op.matmul(x, w));
      return bb.emitOutput(op.add(y, bb.emit(op.matmul(z, W2))));
    }),
  );
  return bb.getModule();
}

const target = parseTarget('llvm -mtriple=x86_64-linux-gnu -mcpu=haswell -mattr=+avx2,+fma -num-threads=2');
const lower = [ToNonDataflow, CallTIRRewrite, StaticPlanBlockMemory];
const run = (m: IRModule, passes: Parameters<typeof sequential>[0]) =>
  sequential(passes).run(m, createPassContext({ optLevel: 3, target }));

/** The call_tir bindings of `main`: kernel name and argument kinds / shapes. */
function calls(
  m: IRModule,
): Array<{ kernel: string; args: Array<{ kind: string; shape?: readonly number[] }> }> {
  return ((getFunction(m, 'main') as unknown as RelaxFunction).body as SeqExpr).blocks
    .flatMap((b) => b.bindings)
    .flatMap((b) => {
      const v = b.value;
      if (v.kind !== 'relax.Call' || v.args[0]?.kind !== 'relax.GlobalVar') return [];
      const t = v.args[1];
      const args = t.kind === 'relax.Tuple' ? t.fields : [t];
      return [
        {
          kernel: v.args[0].name,
          args: args.map((a) => ({ kind: a.kind, shape: (a as Constant).shape })),
        },
      ];
    });
}

const rootAllocs = (f: PrimFunc) => (f.body.kind === 'BlockRealize' ? f.body.block.allocBuffers.length : -1);
const shapeOf = (b: unknown) => (b as { shape: { value: number }[] }).shape.map((e) => e.value);

/** A dense layer over a dynamic number of rows: (n, K) · W1 + relu. */
function dynamicDense(): IRModule {
  const n = primVar('n');
  const x = relaxVar('x', tensorSInfo([n, K], 'float32'));
  const bb = new BlockBuilder();
  bb.function('main', [x], () => bb.dataflow(() => bb.emitOutput(op.relu(bb.emit(op.matmul(x, W1))))));
  return bb.getModule();
}

describe('relax.PrepackWeights', () => {
  it('packs constant matmul weights at compile time and removes the copy from the kernel', () => {
    const scheduled = run(mlp(), [LegalizeOps, DefaultCPUSchedule]);
    const packed = PrepackWeights.run(scheduled, createPassContext({ optLevel: 3, target }));
    const before = calls(scheduled).filter((c) => c.args[1]?.kind === 'relax.Constant');
    const after = calls(packed).filter((c) => c.args[1]?.kind === 'relax.Constant');
    expect(after.length).toBe(2);
    for (const [i, c] of after.entries()) {
      const oldKernel = getFunction(scheduled, c.kernel) as unknown as PrimFunc;
      const newKernel = getFunction(packed, c.kernel) as unknown as PrimFunc;
      // Before: the kernel allocates the panels and copies the weight into them.
      expect(rootAllocs(oldKernel)).toBe(1);
      expect(rootAllocs(newKernel)).toBe(0);
      // After: the argument is a constant of the panel layout [N/P, K, P], the kernel's param.
      const [k, n] = before[i].args[1].shape!;
      const [panels, rows, width] = c.args[1].shape!;
      expect(rows).toBe(k);
      expect(panels * width).toBe(n);
      expect(panels).toBeGreaterThan(1);
      expect(shapeOf(newKernel.params[1])).toEqual([panels, rows, width]);
    }
    const x = { data: rand(M * K, 7), shape: [M, K] };
    const want = runOnVM(run(mlp(), [LegalizeOps, ...lower]), [x]).outputs[0];
    const got = runOnVM(sequential(lower).run(packed, createPassContext({ optLevel: 3, target })), [x]);
    expect(maxRelErr(got.outputs[0], want)).toBeLessThan(1e-4);
    expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(0.5);
  });

  it('marks the parameters that every call passes a constant (layout_free_buffers)', () => {
    const marked = run(mlp(true), [LegalizeOps, DeduplicatePrimFuncs, AttachLayoutFreeBuffers]);
    const cs = calls(marked);
    const attr = (k: string) => (getFunction(marked, k) as unknown as PrimFunc).attrs[LAYOUT_FREE_ATTR];
    // x · W1 and x · w share a kernel: no parameter is constant at both calls.
    expect(attr(cs[0].kernel) ?? []).toEqual([]);
    // h · W2 and z · W2: the weights are.
    const second = cs.find((c) => c.kernel !== cs[0].kernel && c.args[1]?.kind === 'relax.Constant')!;
    expect(attr(second.kernel)).toEqual([1]);
  });

  it('keeps the copy in a kernel that is also called with a weight known only at run time', () => {
    const packed = run(mlp(true), [LegalizeOps, DeduplicatePrimFuncs, DefaultCPUSchedule, PrepackWeights]);
    const cs = calls(packed);
    const first = cs[0];
    // x · W1 and x · w share one kernel: W1 stays unpacked and the kernel keeps its copy.
    expect(cs.filter((c) => c.kernel === first.kernel).length).toBe(2);
    expect(first.args[1].shape).toEqual([K, N]);
    expect(rootAllocs(getFunction(packed, first.kernel) as unknown as PrimFunc)).toBe(1);
    // h · W2 and z · W2 share the other kernel, constant at both calls: packed.
    const second = cs.filter((c) => c.kernel !== first.kernel && c.args[1]?.kind === 'relax.Constant');
    expect(second.length).toBe(2);
    expect(second.every((c) => c.args[1].shape!.length === 3)).toBe(true);

    const x = { data: rand(M * K, 8), shape: [M, K] };
    const w = { data: rand(K * N, 9), shape: [K, N] };
    const want = runOnVM(run(mlp(true), [LegalizeOps, ...lower]), [x, w]).outputs[0];
    const got = runOnVM(sequential(lower).run(packed, createPassContext({ optLevel: 3, target })), [x, w]);
    expect(maxRelErr(got.outputs[0], want)).toBeLessThan(1e-4);
  });

  it('ships the packed weights in the artifact, with the results of an unoptimized build', () => {
    const fast = compileModule(mlp());
    const plain = compileModule(mlp(), { optLevel: 0 });
    expect(fast.artifact.constants.some((c) => c.shape.length === 3 && c.shape[1] === K)).toBe(true);
    expect(plain.artifact.constants.every((c) => c.shape.length === 2)).toBe(true);
    const x = Tensor.fromTypedArray(rand(M * K, 10), [M, K]);
    const out = (r: typeof fast) =>
      (createRuntime().load(r.artifact).call('main', x) as Tensor).toTypedArray() as Float32Array;
    expect(maxRelErr(out(fast), out(plain))).toBeLessThan(1e-4);
  });

  it('packs the weights of a dense layer over a dynamic number of rows, right at every row count', () => {
    const fast = compileModule(dynamicDense());
    const plain = compileModule(dynamicDense(), { optLevel: 0 });
    expect(fast.artifact.constants.some((c) => c.shape.length === 3 && c.shape[1] === K)).toBe(true);
    const fastExe = createRuntime().load(fast.artifact);
    const plainExe = createRuntime().load(plain.artifact);
    for (const rows of [1, 5, 33]) {
      const x = Tensor.fromTypedArray(rand(rows * K, rows), [rows, K]);
      const got = (fastExe.call('main', x) as Tensor).toTypedArray() as Float32Array;
      const want = (plainExe.call('main', x) as Tensor).toTypedArray() as Float32Array;
      expect(got.length).toBe(rows * N);
      expect(maxRelErr(got, want)).toBeLessThan(1e-4);
      expect(Math.max(...want)).toBeGreaterThan(0.5);
    }
  });
});
