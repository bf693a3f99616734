// relax.DeduplicatePrimFuncs: structurally equal PrimFuncs (made under different names, as
// FuseTIR does for repeated layers) are merged, calls redirected, results unchanged.
import { add, getFunction, mul, parseModule, primVar, printModule, structuralEqual } from '@kiln/ir-core';
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
import '../text/index.js';
import { wellFormed } from '../well-formed.js';
import {
  DeduplicatePrimFuncs,
  deduplicatePrimFuncs,
  findDuplicatePrimFuncs,
} from './deduplicate-prim-funcs.js';

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

  it('Before/Expected in the text format: a copy under other names (buffers too) is merged', () => {
    // @name(buf) computes buf * k + 1; main chains the calls given.
    const prim = (name: string, k: string, buf: string) => `
@${name} = prim_func[n](${buf}: float32[n, 4], T_affine: float32[n, 4]) attrs {global_symbol: "${name}", tir.noalias: true} {
  block root() {
    for i in 0 +: n {
      for j in 0 +: 4 {
        block T_affine(v_i = spatial(0 +: n, i), v_j = spatial(0 +: 4, j)) {
          reads(${buf}[v_i, v_j])
          writes(T_affine[v_i, v_j])
          T_affine[v_i, v_j] = ${buf}[v_i, v_j] * ${k} + 1.0
        }
      }
    }
  }
}`;
    const main = (callees: string[]) => `
@main = R.function[n](x: R.Tensor((n, 4), "float32")) -> R.Tensor((n, 4), "float32") attrs {global_symbol: "main"} {
${callees.map((c, i) => `  gv${i}: R.Tensor((n, 4), "float32") = R.call_tir(@${c}, (${i ? `gv${i - 1}` : 'x'},), out_sinfo=R.Tensor((n, 4), "float32"))`).join('\n')}
  return gv${callees.length - 1}
}`;
    const before = parseModule(
      prim('layer0', '2.0', 'a') +
        prim('layer1', '2.0', 'b') +
        prim('layer2', '3.0', 'a') +
        main(['layer0', 'layer1', 'layer2']),
    );
    const expected = parseModule(
      prim('layer0', '2.0', 'a') + prim('layer2', '3.0', 'a') + main(['layer0', 'layer0', 'layer2']),
    );
    const actual = DeduplicatePrimFuncs.run(before);
    expect(printModule(actual)).toBe(printModule(expected));
    expect(actual.globals).toEqual(expected.globals);
    for (const [i, g] of actual.globals.entries())
      expect(structuralEqual(actual.funcs[i], expected.funcs[i], { mapFreeVars: true }), g).toBe(true);
    expect(wellFormed(actual)).toEqual([]);
  });

  it('is the identity on a module without duplicates', () => {
    const out = deduplicatePrimFuncs(deduplicatePrimFuncs(build()));
    expect(deduplicatePrimFuncs(out)).toBe(out);
  });
});
