// relax.ConvertLayout: NCHW → NCHW[x]c for conv2d with constant weights folded, layout
// transforms only at the boundaries of conv regions, unsupported convs left alone, and
// results unchanged on the VM (interpreter) and through the fusion pipeline natively.

import { compileModule } from '@kiln/cli';
import type { IRModule } from '@kiln/ir-core';
import { getFunction, primVar, sequential } from '@kiln/ir-core';
import type { RelaxFunction, SeqExpr } from '@kiln/relax';
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
  wellFormed,
} from '@kiln/relax';
import { createRuntime, Tensor } from '@kiln/runtime';
import { describe, expect, it } from 'vitest';
import { AnnotateTIROpPattern } from './annotate-tir-op-pattern.js';
import { ConvertLayout, convertLayout } from './convert-layout.js';
import { FuseOps } from './fuse-ops.js';
import { FuseTIR } from './fuse-tir.js';
import { batchNormParams, maxRelErr, rand, runOnVM, smallCNN } from './testing/vm.js';

function callees(m: IRModule): string[] {
  return ((getFunction(m, 'main') as unknown as RelaxFunction).body as SeqExpr).blocks
    .flatMap((b) => b.bindings)
    .flatMap((b) => {
      const v = b.value;
      if (v.kind !== 'relax.Call') return [];
      const a0 = v.args[0];
      return [a0?.kind === 'relax.GlobalVar' ? a0.name : v.op.kind === 'relax.Op' ? v.op.name : '?'];
    });
}

/** conv → bias → relu → conv → bias → relu → mean: one conv region. */
function convChain(): IRModule {
  const n = primVar('n');
  const x = relaxVar('x', tensorSInfo([n, 8, 6, 6], 'float32'));
  const bb = new BlockBuilder();
  bb.function('main', [x], () =>
    bb.dataflow(() => {
      const c1 = bb.emit(op.conv2d(x, constant(rand(8 * 8 * 9, 1, 0.3), [8, 8, 3, 3]), { padding: [1] }));
      const b1 = bb.emit(op.add(c1, constant(rand(8, 2), [8, 1, 1])));
      const r1 = bb.emit(op.relu(b1));
      const c2 = bb.emit(op.conv2d(r1, constant(rand(16 * 8 * 9, 3, 0.3), [16, 8, 3, 3]), { strides: [2] }));
      const s2 = bb.emit(op.multiply(c2, constant([0.5], [])));
      const r2 = bb.emit(op.relu(s2));
      return bb.emitOutput(op.mean(r2, { axis: [2, 3] }));
    }),
  );
  return bb.getModule();
}

const lower = [ToNonDataflow, CallTIRRewrite, StaticPlanBlockMemory];

describe('relax.ConvertLayout', () => {
  it('runs a conv region in NCHW4c with transforms only at its boundaries', () => {
    const mod = convChain();
    const out = ConvertLayout.withOptions({ layout: 'NCHW4c' }).run(mod);
    expect(wellFormed(out)).toEqual([]);
    expect(callees(out)).toEqual([
      'layout_transform_NCHW_NCHW4c',
      'conv2d_NCHW4c',
      'relax.add',
      'relax.nn.relu',
      'conv2d_NCHW4c1',
      'relax.multiply',
      'relax.nn.relu',
      'layout_transform_NCHW4c_NCHW',
      'relax.mean',
    ]);
    // weights were transformed at compile time: no weight transform kernel, packed constants
    expect(out.globals.some((g) => g.startsWith('layout_transform_OIHW'))).toBe(false);
    for (const batch of [1, 2]) {
      const inp = [{ data: rand(batch * 8 * 36, 40 + batch), shape: [batch, 8, 6, 6] }];
      const ref = runOnVM(LegalizeOps.run(mod), inp);
      const got = runOnVM(LegalizeOps.run(out), inp);
      expect(maxRelErr(got.outputs[0], ref.outputs[0])).toBeLessThan(1e-5);
    }
  });

  it('blocks a 4-channel input as one block, pools blocked, unblocks before the reshape', () => {
    const mod = smallCNN();
    const out = convertLayout(mod, { layout: 'NCHW8c' });
    const cs = callees(out);
    expect(cs.filter((c) => c.startsWith('conv2d_NCHW8c')).length).toBe(2);
    expect(cs).toContain('max_pool2d_NCHW8c');
    // the input, and before the reshape
    expect(cs.filter((c) => c.startsWith('layout_transform'))).toEqual([
      'layout_transform_NCHW_NCHW4c',
      'layout_transform_NCHW8c_NCHW',
    ]);
    const inp = [{ data: rand(2 * 4 * 64, 5), shape: [2, 4, 8, 8] }];
    const ref = runOnVM(LegalizeOps.run(mod), inp);
    const got = runOnVM(LegalizeOps.run(out), inp);
    expect(maxRelErr(got.outputs[0], ref.outputs[0])).toBeLessThan(1e-5);
  });

  it('folds batch norm with constant statistics into a blocked scale and shift', () => {
    const x = relaxVar('x', tensorSInfo([2, 8, 5, 5], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () =>
      bb.dataflow(() => {
        const c1 = bb.emit(op.conv2d(x, constant(rand(8 * 8 * 9, 1, 0.2), [8, 8, 3, 3]), { padding: [1] }));
        const r1 = bb.emit(op.relu(bb.emit(op.batchNorm(c1, ...batchNormParams(8, 10)))));
        const c2 = bb.emit(op.conv2d(r1, constant(rand(8 * 8 * 9, 2, 0.2), [8, 8, 3, 3]), { padding: [1] }));
        const s = bb.emit(op.add(bb.emit(op.batchNorm(c2, ...batchNormParams(8, 20))), r1));
        return bb.emitOutput(op.maxPool2d(bb.emit(op.relu(s)), [3, 3], { strides: [2], padding: [1] }));
      }),
    );
    const mod = bb.getModule();
    const out = convertLayout(mod, { layout: 'NCHW4c' });
    const cs = callees(out);
    expect(cs).not.toContain('relax.nn.batch_norm');
    expect(cs.filter((c) => c.startsWith('layout_transform'))).toEqual([
      'layout_transform_NCHW_NCHW4c',
      'layout_transform_NCHW4c_NCHW',
    ]);
    const inp = [{ data: rand(2 * 8 * 25, 3), shape: [2, 8, 5, 5] }];
    const ref = runOnVM(LegalizeOps.run(mod), inp);
    const pipeline = sequential([LegalizeOps, AnnotateTIROpPattern, FuseOps, FuseTIR]);
    const got = runOnVM(pipeline.run(out), inp);
    expect(maxRelErr(got.outputs[0], ref.outputs[0])).toBeLessThan(1e-4);
    // pack, conv+bn+relu, conv+bn+add+relu, pool, unpack
    expect(got.launches).toBe(5);
  });

  it('leaves grouped convs and channel counts it cannot block alone (identity)', () => {
    const x = relaxVar('x', tensorSInfo([1, 4, 5, 5], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () =>
      bb.dataflow(() => {
        const g = bb.emit(op.conv2d(x, constant(rand(4 * 2 * 9, 1), [4, 2, 3, 3]), { groups: 2 }));
        return bb.emitOutput(op.conv2d(g, constant(rand(6 * 4, 2), [6, 4, 1, 1])));
      }),
    );
    const mod = bb.getModule();
    expect(convertLayout(mod, { layout: 'NCHW4c' })).toBe(mod);
  });

  it('transforms a weight that is not a constant with a kernel', () => {
    const x = relaxVar('x', tensorSInfo([1, 4, 5, 5], 'float32'));
    const w = relaxVar('w', tensorSInfo([4, 4, 3, 3], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x, w], () =>
      bb.dataflow(() => bb.emitOutput(bb.emit(op.relu(bb.emit(op.conv2d(x, w, { padding: [1] })))))),
    );
    const mod = bb.getModule();
    const out = convertLayout(mod, { layout: 'NCHW4c' });
    expect(callees(out)).toContain('layout_transform_OIHW_OIHW4i4o');
    const inp = [
      { data: rand(100, 1), shape: [1, 4, 5, 5] },
      { data: rand(144, 2), shape: [4, 4, 3, 3] },
    ];
    expect(
      maxRelErr(runOnVM(LegalizeOps.run(out), inp).outputs[0], runOnVM(LegalizeOps.run(mod), inp).outputs[0]),
    ).toBeLessThan(1e-5);
  });

  it('runs depthwise convs blocked (24 channels as NCHW8c; stride 2, padding, dilation)', () => {
    // An inverted-residual block without dataflow blocks (as the ONNX frontend emits it):
    // 1x1 expand to 24 channels, depthwise 3x3 with the given stride/dilation, clip, 1x1
    // project, mean over H and W keeping the dims.
    for (const [stride, dil, pad] of [
      [1, 1, 1],
      [2, 1, 1],
      [1, 2, 2],
      [2, 1, 0],
    ]) {
      const x = relaxVar('x', tensorSInfo([1, 8, 9, 7], 'float32'));
      const bb = new BlockBuilder();
      bb.function('main', [x], () => {
        const e = bb.emit(op.conv2d(x, constant(rand(24 * 8, 1, 0.3), [24, 8, 1, 1])));
        const r = bb.emit(op.clip(bb.emit(op.add(e, constant(rand(24, 2), [24, 1, 1]))), 0, 6));
        const d = bb.emit(
          op.conv2d(r, constant(rand(24 * 9, 3, 0.3), [24, 1, 3, 3]), {
            groups: 24,
            strides: [stride],
            dilation: [dil],
            padding: [pad],
          }),
        );
        const dr = bb.emit(op.clip(bb.emit(op.add(d, constant(rand(24, 4), [24, 1, 1]))), 0, 6));
        const p = bb.emit(op.conv2d(dr, constant(rand(16 * 24, 5, 0.3), [16, 24, 1, 1])));
        return bb.emit(op.mean(p, { axis: [2, 3], keepdims: true }));
      });
      const mod = bb.getModule();
      const out = convertLayout(mod, { layout: 'NCHW16c' });
      expect(wellFormed(out)).toEqual([]);
      const cs = callees(out);
      expect(cs).toContain('depthwise_conv2d_NCHW8c');
      expect(cs).toContain('conv2d_NCHW8c');
      expect(cs).not.toContain('relax.nn.conv2d');
      // Only the input and the function's result change layout: no transform between ops
      // although the block is not a dataflow block.
      expect(cs.filter((c) => c.startsWith('layout_transform'))).toEqual([
        'layout_transform_NCHW_NCHW8c',
        'layout_transform_NCHW16c_NCHW',
      ]);
      // The depthwise weights were transformed at compile time.
      expect(out.globals.some((g) => g.startsWith('layout_transform_OIHW'))).toBe(false);
      const inp = [{ data: rand(8 * 63, 40 + stride + dil), shape: [1, 8, 9, 7] }];
      const ref = runOnVM(LegalizeOps.run(mod), inp);
      const got = runOnVM(LegalizeOps.run(out), inp);
      expect(maxRelErr(got.outputs[0], ref.outputs[0])).toBeLessThan(1e-5);
    }
  });

  it('transforms a depthwise weight that is not a constant with a kernel', () => {
    const x = relaxVar('x', tensorSInfo([1, 8, 5, 6], 'float32'));
    const w = relaxVar('w', tensorSInfo([8, 1, 3, 3], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x, w], () =>
      bb.dataflow(() =>
        bb.emitOutput(bb.emit(op.relu(bb.emit(op.conv2d(x, w, { groups: 8, padding: [1], strides: [2] }))))),
      ),
    );
    const mod = bb.getModule();
    const out = convertLayout(mod, { layout: 'NCHW8c' });
    expect(callees(out)).toContain('layout_transform_OIHW_OHW8o');
    const inp = [
      { data: rand(240, 1), shape: [1, 8, 5, 6] },
      { data: rand(72, 2), shape: [8, 1, 3, 3] },
    ];
    expect(
      maxRelErr(runOnVM(LegalizeOps.run(out), inp).outputs[0], runOnVM(LegalizeOps.run(mod), inp).outputs[0]),
    ).toBeLessThan(1e-5);
  });

  it('rejects a malformed layout option', () => {
    expect(() => ConvertLayout.withOptions({ layout: 'NHWC' })).toThrow(
      expect.objectContaining({ code: 'PASS_OPTIONS' }),
    );
  });

  it('composes with fusion and the native CPU pipeline, results unchanged', () => {
    const pipeline = sequential([
      ConvertLayout,
      LegalizeOps,
      AnnotateTIROpPattern,
      FuseOps,
      FuseTIR,
      ...lower,
    ]);
    const res = compileModule(convChain(), { relaxPipeline: pipeline });
    const plain = compileModule(convChain(), { relaxPipeline: sequential([LegalizeOps, ...lower]) });
    const xs = rand(2 * 8 * 36, 77);
    const run = (a: typeof res) =>
      (
        createRuntime()
          .load(a.artifact)
          .call('main', Tensor.fromTypedArray(xs, [2, 8, 6, 6])) as Tensor
      ).toTypedArray() as Float32Array;
    expect(maxRelErr(run(res), run(plain))).toBeLessThan(1e-4);
    console.log(
      `conv chain kernels: ${plain.stats.kernels} unfused NCHW → ${res.stats.kernels} fused NCHW8c`,
    );
  });
});
