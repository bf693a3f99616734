// Every operator family in normalized form: calls built with the op constructors and
// BlockBuilder (so StructInfo comes from inference, attributes from the op's schema)
// print, parse back structurally equal and print identically, alone and legalized.
import type { IRModule } from '@kiln/ir-core';
import { irModule, parseModule, primVar, printModule, structuralEqual } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { BlockBuilder } from '../block-builder.js';
import { constant, relaxVar } from '../ir/expr.js';
import type { Expr, Var } from '../ir/nodes.js';
import { tensorSInfo } from '../ir/struct-info.js';
import * as op from '../op/index.js';
import { legalizeModule } from '../transform/legalize-ops.js';
import { CallTIRRewrite, StaticPlanBlockMemory, ToNonDataflow } from '../vm/index.js';
import './index.js';

const n = primVar('n');
const img = () => relaxVar('img', tensorSInfo([n, 3, 8, 8], 'float32'));
const mat = () => relaxVar('m', tensorSInfo([n, 8], 'float32'));
const vec = () => relaxVar('v', tensorSInfo([8], 'float32'));
const idx = () => relaxVar('i', tensorSInfo([n, 8], 'int64'));

type Case = [string, () => Var[], (...ps: Var[]) => Expr];
const CASES: Case[] = [
  [
    'unary + binary elementwise',
    () => [mat(), vec()],
    (m, v) => op.multiply(op.add(op.exp(m), v), op.tanh(v)),
  ],
  ['comparison + where', () => [mat(), vec()], (m, v) => op.where(op.less(m, v), m, v)],
  [
    'astype / clip / leaky_relu',
    () => [mat()],
    (m) => op.leakyRelu(op.clip(op.astype(m, 'float16'), -1, 1), 0.2),
  ],
  [
    'low-precision astype (saturate, round_mode) / reinterpret',
    () => [mat()],
    (m) =>
      op.astype(
        op.astype(op.reinterpret(op.astype(m, 'float8_e5m2', { saturate: false }), 'int8'), 'int4'),
        'float8_e8m0fnu',
        { roundMode: 'nearest', saturate: false },
      ),
  ],
  [
    'matmul / linear',
    () => [mat(), relaxVar('w', tensorSInfo([8, 4], 'float32'))],
    (m, w) => op.matmul(m, w),
  ],
  [
    'reductions',
    () => [mat()],
    (m) => op.sum(op.max(m, { axis: [1], keepdims: true }), { axis: null, keepdims: false }),
  ],
  [
    'argmax / cumsum',
    () => [mat()],
    (m) => op.cumsum(op.astype(op.argmax(m, { axis: 1 }), 'float32'), { axis: 0 }),
  ],
  [
    'reshape / permute / expand / squeeze / flatten',
    () => [img()],
    (x) => op.flatten(op.squeeze(op.expandDims(op.permuteDims(x, [0, 2, 3, 1]), 0), [0]), 1),
  ],
  ['concat / split', () => [mat(), mat()], (a, b) => op.split(op.concat([a, b], 1), 2, 1)],
  [
    'strided_slice / tile / repeat / pad',
    () => [mat()],
    (m) => op.pad(op.repeat(op.tile(op.stridedSlice(m, [1], [0], [4]), [1, 2]), 2, 0), [0, 0, 1, 1]),
  ],
  [
    'triu / take',
    () => [mat(), relaxVar('j', tensorSInfo([3], 'int64'))],
    (m, j) => op.take(op.triu(m, 1), j, 1),
  ],
  [
    'conv2d / pooling / norms',
    () => [img(), relaxVar('w', tensorSInfo([4, 3, 3, 3], 'float32'))],
    (x, w) =>
      op.maxPool2d(op.conv2d(x, w, { padding: [1, 1], strides: [1, 1] }), [2, 2], { strides: [2, 2] }),
  ],
  [
    'softmax / layer_norm',
    () => [mat(), vec(), vec()],
    (m, g, b) => op.layerNorm(op.softmax(m, -1), g, b, { axes: [-1] }),
  ],
  [
    'creation ops',
    () => [mat()],
    (m) => op.add(op.zerosLike(m), op.full([n, 8], constant([2], [], 'float32'))),
  ],
  ['gather_elements', () => [mat(), idx()], (m, i) => op.gatherElements(m, i, 1)],
  [
    'resize2d (scales, roi, antialias) / expm1',
    () => [img()],
    (x) =>
      op.expm1(
        op.resize2d(x, [3, 5], {
          method: 'cubic',
          coordinateTransformationMode: 'tf_crop_and_resize',
          scales: [0.75, 1.25],
          roi: [0.1, 0, 0.9, 1],
          antialias: true,
          extrapolationValue: 0.5,
        }),
      ),
  ],
  [
    'conv3d_transpose',
    () => [
      relaxVar('v', tensorSInfo([1, 2, 3, 4, 5], 'float32')),
      relaxVar('w', tensorSInfo([2, 3, 2, 2, 2], 'float32')),
    ],
    (v, w) => op.conv3dTranspose(v, w, { strides: [2, 1, 2] }),
  ],
];

function roundTrip(mod: IRModule): void {
  const text = printModule(mod);
  const back = parseModule(text);
  expect(printModule(back)).toBe(text);
  for (const [i, g] of mod.globals.entries()) {
    const ok = structuralEqual(back.funcs[i], mod.funcs[i], { mapFreeVars: true });
    if (!ok)
      expect(printModule(irModule([[g, back.funcs[i]]]))).toBe(printModule(irModule([[g, mod.funcs[i]]])));
    expect(ok, g).toBe(true);
  }
}

describe('Relax text: normalized operator calls', () => {
  for (const [name, params, build] of CASES) {
    it(name, () => {
      const bb = new BlockBuilder();
      const ps = params();
      bb.function('main', ps, (...xs) => bb.dataflow(() => bb.emitOutput(build(...xs))));
      const mod = bb.getModule();
      roundTrip(mod);
      roundTrip(legalizeModule(mod));
    });
  }
});

describe('Relax text: VM-lowered modules (explicit memory, direct PrimFunc calls)', () => {
  it('round-trips after ToNonDataflow, CallTIRRewrite and StaticPlanBlockMemory', () => {
    const bb = new BlockBuilder();
    const x = relaxVar('x', tensorSInfo([4, 8], 'float32'));
    const w = relaxVar('w', tensorSInfo([8, 8], 'float32'));
    bb.function('main', [x, w], () =>
      bb.dataflow(() => {
        const a = bb.emit(op.matmul(x, w));
        const b = bb.emit(op.relu(a));
        const c = bb.emit(op.add(b, x));
        return bb.emitOutput(op.exp(c));
      }),
    );
    let mod = legalizeModule(bb.getModule());
    for (const pass of [ToNonDataflow, CallTIRRewrite, StaticPlanBlockMemory]) {
      mod = pass.run(mod);
      roundTrip(mod);
    }
    expect(printModule(mod)).toMatch(/@matmul\(x, w, /);
  });
});
