// A small CNN (conv + bias + relu + max-pool + flatten + dense + bias): the number of
// kernels launched drops after FuseOps + FuseTIR and the results are unchanged, on the VM
// with the TIR interpreter and end to end through the native CPU pipeline (compileModule).

import { readFileSync } from 'node:fs';
import { compileModule } from '@kiln/cli';
import { createPassContext, getFunction, sequential, wellFormedInstrument } from '@kiln/ir-core';
import {
  BlockBuilder,
  CallTIRRewrite,
  constant,
  LegalizeOps,
  op,
  relaxVar,
  StaticPlanBlockMemory,
  ToNonDataflow,
  tensorSInfo,
} from '@kiln/relax';
import { createRuntime, Tensor } from '@kiln/runtime';
import type { PrimFunc } from '@kiln/tensorir';
import { printPrimFunc } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { AnnotateTIROpPattern } from './annotate-tir-op-pattern.js';
import { FuseOps } from './fuse-ops.js';
import { FuseTIR } from './fuse-tir.js';
import { batchNormParams, maxRelErr, rand, runOnVM, smallCNN } from './testing/vm.js';

const lower = [ToNonDataflow, CallTIRRewrite, StaticPlanBlockMemory];
const unfusedPipeline = sequential([LegalizeOps, ...lower]);
const fusedPipeline = sequential(
  [LegalizeOps, AnnotateTIROpPattern, FuseOps, FuseTIR, ...lower],
  'fusion_pipeline',
);

const hasAVX512 =
  process.arch === 'x64' &&
  (() => {
    try {
      return /\bavx512f\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      return false;
    }
  })();

/** An inverted-residual block (MobileNetV2): expand 1x1, depthwise 3x3, project 1x1, skip. */
function invertedResidual() {
  const x = relaxVar('x', tensorSInfo([1, 16, 16, 16], 'float32'));
  const bb = new BlockBuilder();
  bb.function('main', [x], () => {
    const e = bb.emit(op.conv2d(x, constant(rand(32 * 16, 1, 0.3), [32, 16, 1, 1])));
    const r = bb.emit(op.clip(bb.emit(op.add(e, constant(rand(32, 2), [32, 1, 1]))), 0, 6));
    const d = bb.emit(
      op.conv2d(r, constant(rand(32 * 9, 3, 0.3), [32, 1, 3, 3]), { groups: 32, padding: [1] }),
    );
    const dr = bb.emit(op.clip(bb.emit(op.add(d, constant(rand(32, 4), [32, 1, 1]))), 0, 6));
    const p = bb.emit(op.conv2d(dr, constant(rand(16 * 32, 5, 0.3), [16, 32, 1, 1])));
    return bb.emit(op.add(bb.emit(op.add(p, constant(rand(16, 6), [16, 1, 1]))), x));
  });
  return bb.getModule();
}

describe('an inverted-residual block through the default CPU pipeline (AVX-512)', () => {
  it('gets its weights packed at compile time: packed constants, no layout transform of a weight, no copy in a kernel', () => {
    const target = {
      kind: 'llvm' as const,
      keys: ['cpu'],
      mtriple: 'x86_64-linux-gnu',
      mcpu: 'skylake-avx512',
      features: ['+avx2', '+fma', '+avx512f'],
      numThreads: 2,
    };
    const res = compileModule(invertedResidual(), { target });
    const shapes = res.artifact.constants.map((c) => c.shape.join(','));
    // OIHW16i16o for the 1x1 convs, (C/16, KH, KW, 16) for the depthwise one
    expect(shapes).toContain('2,1,1,1,16,16');
    expect(shapes).toContain('1,2,1,1,16,16');
    expect(shapes).toContain('2,3,3,16');
    // The input and the output are the only layout transforms; every kernel reads its
    // weights as they are (no panel copy at run time).
    const kernels = res.relaxModule.globals.filter(
      (g) => getFunction(res.relaxModule, g)?.kind === 'PrimFunc',
    );
    expect(kernels.filter((k) => k.includes('layout_transform')).length).toBe(2);
    expect(kernels.some((k) => k.includes('OIHW'))).toBe(false);
    for (const k of kernels) {
      const text = printPrimFunc(getFunction(res.relaxModule, k) as unknown as PrimFunc);
      expect(text).not.toMatch(/_packed/);
    }
    if (hasAVX512) {
      const xs = rand(4096, 7);
      const plain = compileModule(invertedResidual(), { relaxPipeline: unfusedPipeline });
      const run = (a: typeof res) =>
        (
          createRuntime()
            .load(a.artifact)
            .call('main', Tensor.fromTypedArray(xs, [1, 16, 16, 16])) as Tensor
        ).toTypedArray() as Float32Array;
      expect(maxRelErr(run(res), run(plain))).toBeLessThan(1e-4);
    }
  });
});

describe('a small CNN through FuseOps + FuseTIR', () => {
  it('launches fewer kernels on the VM and computes the same', () => {
    const before = unfusedPipeline.run(smallCNN());
    // well-formedness (Relax and TIR) checked after every pass
    const after = fusedPipeline.run(smallCNN(), createPassContext({ instruments: [wellFormedInstrument()] }));
    for (const batch of [1, 2]) {
      const inp = [{ data: rand(batch * 4 * 64, 20 + batch), shape: [batch, 4, 8, 8] }];
      const ref = runOnVM(before, inp);
      const got = runOnVM(after, inp);
      expect(got.outputs[0].length).toBe(batch * 10);
      expect(maxRelErr(got.outputs[0], ref.outputs[0])).toBeLessThan(1e-4);
      // conv, add, relu, pool, conv, add, relu, reshape, matmul, add
      expect(ref.launches).toBe(10);
      // conv+add+relu, pool, conv+add+relu, reshape, matmul+add: a reshape (injective) is
      // no epilogue of a conv nor a prologue of a matmul, as in TVM
      expect(got.launches).toBe(5);
      expect(Object.keys(got.byKernel).sort()).toEqual([
        'fused_conv2d1_add1_relu1',
        'fused_conv2d_add_relu',
        'fused_matmul_add2',
        'max_pool2d',
        'reshape',
      ]);
      if (batch === 1)
        console.log(
          `small CNN kernels launched: ${ref.launches} → ${got.launches}`,
          Object.keys(got.byKernel).join(', '),
        );
    }
  });

  it('fuses a residual block: conv+bn+relu, and conv+bn+add(skip)+relu', () => {
    const x = relaxVar('x', tensorSInfo([1, 8, 6, 6], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () =>
      bb.dataflow(() => {
        const c1 = bb.emit(op.conv2d(x, constant(rand(8 * 8 * 9, 1, 0.2), [8, 8, 3, 3]), { padding: [1] }));
        const b1 = bb.emit(op.batchNorm(c1, ...batchNormParams(8, 10)));
        const r1 = bb.emit(op.relu(b1));
        const c2 = bb.emit(op.conv2d(r1, constant(rand(8 * 8 * 9, 2, 0.2), [8, 8, 3, 3]), { padding: [1] }));
        const b2 = bb.emit(op.batchNorm(c2, ...batchNormParams(8, 20)));
        const s = bb.emit(op.add(b2, x));
        return bb.emitOutput(op.relu(s));
      }),
    );
    const mod = sequential([LegalizeOps, AnnotateTIROpPattern]).run(bb.getModule());
    const tir = sequential([FuseOps, FuseTIR]).run(
      mod,
      createPassContext({ instruments: [wellFormedInstrument()] }),
    );
    expect(tir.globals).toEqual(['fused_conv2d_batch_norm_add_relu', 'fused_conv2d_batch_norm_relu', 'main']);
    const inp = [{ data: rand(288, 8), shape: [1, 8, 6, 6] }];
    const ref = runOnVM(mod, inp);
    const got = runOnVM(tir, inp);
    expect(ref.launches).toBe(7);
    expect(got.launches).toBe(2);
    expect(maxRelErr(got.outputs[0], ref.outputs[0])).toBeLessThan(1e-4);
  });

  it('compiles through the native CPU pipeline with the fusion passes and matches the unfused build', () => {
    const fused = compileModule(smallCNN(), { relaxPipeline: fusedPipeline });
    const plain = compileModule(smallCNN(), { relaxPipeline: unfusedPipeline });
    expect(fused.stats.kernels).toBeLessThan(plain.stats.kernels);
    const rt = createRuntime();
    const a = rt.load(fused.artifact);
    const b = rt.load(plain.artifact);
    const xs = rand(3 * 4 * 64, 99);
    const ya = (
      a.call('main', Tensor.fromTypedArray(xs, [3, 4, 8, 8])) as Tensor
    ).toTypedArray() as Float32Array;
    const yb = (
      b.call('main', Tensor.fromTypedArray(xs, [3, 4, 8, 8])) as Tensor
    ).toTypedArray() as Float32Array;
    const ref = runOnVM(unfusedPipeline.run(smallCNN()), [{ data: xs, shape: [3, 4, 8, 8] }]).outputs[0];
    expect(maxRelErr(ya, yb)).toBeLessThan(1e-4);
    expect(maxRelErr(ya, ref)).toBeLessThan(1e-4);
    console.log(`native kernels: ${plain.stats.kernels} → ${fused.stats.kernels}`);
  });
});
