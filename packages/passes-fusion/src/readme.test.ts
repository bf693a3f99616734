// The README example, run through the package entry point.
import { getFunction, primVar, printFunction, sequential } from '@kiln/ir-core';
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
import { expect, it } from 'vitest';
import { AnnotateTIROpPattern, ConvertLayout, FuseOps, FuseTIR } from './index.js';

it('runs the README example', () => {
  const n = primVar('n');
  const x = relaxVar('x', tensorSInfo([n, 8, 16, 16], 'float32'));
  const bb = new BlockBuilder();
  bb.function('main', [x], () =>
    bb.dataflow(() => {
      const w = constant(new Float32Array(16 * 8 * 9).fill(0.01), [16, 8, 3, 3]);
      const c = bb.emit(op.conv2d(x, w, { padding: [1] }));
      const b = bb.emit(op.add(c, constant(new Float32Array(16).fill(0.1), [1, 16, 1, 1])));
      return bb.emitOutput(op.relu(b));
    }),
  );

  const pipeline = sequential([
    ConvertLayout.withOptions({ layout: 'NCHW8c' }),
    LegalizeOps,
    AnnotateTIROpPattern,
    FuseOps.withOptions({ maxDepth: 16 }),
    FuseTIR,
    ToNonDataflow,
    CallTIRRewrite,
    StaticPlanBlockMemory,
  ]);
  const mod = pipeline.run(bb.getModule());
  const kernels = mod.globals.filter((g) => getFunction(mod, g)?.kind === 'PrimFunc');
  // [ 'fused_conv2d_NCHW8c_add_relu', 'layout_transform_NCHW8c_NCHW', 'layout_transform_NCHW_NCHW8c' ]
  expect(kernels).toEqual([
    'fused_conv2d_NCHW8c_add_relu',
    'layout_transform_NCHW8c_NCHW',
    'layout_transform_NCHW_NCHW8c',
  ]);
  expect(printFunction(getFunction(mod, kernels[0])!)).toContain('T_conv2d_NCHW8c');
  expect(pipeline.toString()).toBe(
    'relax.ConvertLayout(layout=NCHW8c),relax.LegalizeOps,relax.AnnotateTIROpPattern,relax.FuseOps(maxDepth=16),relax.FuseTIR,relax.ToNonDataflow,relax.CallTIRRewrite,relax.StaticPlanBlockMemory',
  );
});
