// relax.DeduplicatePrimFuncs: structurally equal PrimFuncs (made under different names, as
// FuseTIR does for repeated layers) are merged, calls redirected, results unchanged.
import { add, getFunction, mul, primVar } from '@kiln/ir-core';
import type { NDArray } from '@kiln/tensorir';
import * as T from '@kiln/tensorir';
import { allClose } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { BlockBuilder } from '../block-builder.js';
import { evaluateRelax, isNDArray } from '../eval.js';
import { relaxVar } from '../ir/expr.js';
import { tensorSInfo } from '../ir/struct-info.js';
import { callTE } from '../legalize/te-call.js';
import { rand } from '../testing/harness.js';
import { deduplicatePrimFuncs, findDuplicatePrimFuncs } from './deduplicate-prim-funcs.js';

const n = primVar('n');

/** main(x) = g(f2(f1(x))) where f1 and f2 are the same kernel made twice, g another one. */
function build() {
  const x = relaxVar('x', tensorSInfo([n, 4], 'float32'));
  const bb = new BlockBuilder();
  const affine = (k: number) => (a: T.Tensor) =>
    T.compute(a.shape, (i, j) => add(mul(a.at(i, j), k), 1), 'T_affine');
  bb.function('main', [x], () => {
    const a = bb.emit(callTE(bb, 'layer0', [x], affine(2)));
    const b = bb.emit(callTE(bb, 'layer1', [a], affine(2)));
    return bb.emit(callTE(bb, 'head', [b], affine(3)));
  });
  return bb.getModule();
}

describe('relax.DeduplicatePrimFuncs', () => {
  it('keeps one of two identical kernels, redirects its calls and keeps the result', () => {
    const mod = build();
    expect(mod.globals).toEqual(['head', 'layer0', 'layer1', 'main']);
    expect([...findDuplicatePrimFuncs(mod)]).toEqual([['layer1', 'layer0']]);
    const out = deduplicatePrimFuncs(mod);
    expect(out.globals).toEqual(['head', 'layer0', 'main']);
    expect(getFunction(out, 'layer1')).toBeUndefined();
    const xv = rand('float32', [5, 4], 3);
    const r0 = evaluateRelax(mod, 'main', [xv]);
    const r1 = evaluateRelax(out, 'main', [xv]);
    if (!isNDArray(r0) || !isNDArray(r1)) throw new Error('expected tensors');
    const want = Array.from((xv as NDArray).data as Float32Array, (v) => ((v * 2 + 1) * 2 + 1) * 3 + 1);
    expect(allClose(r1, want, 1e-5, 1e-5).ok).toBe(true);
    expect(allClose(r1, r0, 0, 0).ok).toBe(true);
  });

  it('is the identity on a module without duplicates', () => {
    const out = deduplicatePrimFuncs(deduplicatePrimFuncs(build()));
    expect(deduplicatePrimFuncs(out)).toBe(out);
  });
});
