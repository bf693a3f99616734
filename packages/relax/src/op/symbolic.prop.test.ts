// Property: inference over symbolic dims agrees with inference over the concrete dims
// (evaluate the symbolic result at random values of the variables).
import type { PrimExpr } from '@kiln/ir-core';
import { evaluate, primVar } from '@kiln/ir-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockBuilder } from '../block-builder.js';
import { relaxVar } from '../ir/expr.js';
import type { Expr } from '../ir/nodes.js';
import { tensorShape, tensorSInfo } from '../ir/struct-info.js';
import * as op from './index.js';

const h = primVar('h');
const w = primVar('w');

function inferDims(shape: readonly (number | PrimExpr)[], build: (x: Expr) => Expr): readonly PrimExpr[] {
  const x = relaxVar('x', tensorSInfo(shape, 'float32'));
  const bb = new BlockBuilder();
  let out: readonly PrimExpr[] = [];
  bb.function('f', [x], () => {
    const v = bb.emit(build(x));
    if (v.structInfo.kind !== 'relax.TensorStructInfo') throw new Error('not a tensor');
    out = tensorShape(v.structInfo)!;
    return v;
  });
  return out;
}

const builders: Array<[string, (x: Expr) => Expr]> = [
  ['conv-like pool s2 p1', (x) => op.maxPool2d(x, [3, 3], { strides: [2], padding: [1] })],
  ['avg pool', (x) => op.avgPool2d(x, [2, 3], { strides: [2, 3] })],
  [
    'max pool ceil mode',
    (x) => op.maxPool2d(x, [3, 2], { strides: [2, 3], padding: [1, 0], ceilMode: true }),
  ],
  ['strided slice', (x) => op.stridedSlice(x, [2, 3], [1, -2], [2 ** 31 - 1, 2 ** 31 - 1], [2, 1])],
  ['pad + flatten', (x) => op.flatten(op.pad(x, [0, 0, 0, 0, 1, 2, 0, 3]), 1)],
  ['reshape -1', (x) => op.reshape(x, [-1, 2])],
  ['resize', (x) => op.resize2d(x, [4, 5])],
];

describe('symbolic inference agrees with concrete inference', () => {
  for (const [name, build] of builders) {
    it(name, () => {
      fc.assert(
        fc.property(fc.integer({ min: 3, max: 12 }), fc.integer({ min: 3, max: 12 }), (hv, wv) => {
          // reshape(-1, 2) needs an even element count
          const W = name === 'reshape -1' ? wv * 2 : wv;
          const sym = inferDims([1, 2, h, w], build);
          const conc = inferDims([1, 2, hv, W], build);
          const env = new Map([
            [h, hv],
            [w, W],
          ]);
          expect(sym.map((d) => evaluate(d, env))).toEqual(conc.map((d) => evaluate(d, new Map())));
        }),
        { numRuns: 25 },
      );
    });
  }
});
