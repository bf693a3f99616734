// relax.FoldConstant: Before/Expected in the Relax text format, call_tir folding through
// the TIR interpreter, the size limit, and numerical checks of folded results against
// the interpreter running the unfolded module and against TypeScript references.
import type { IRModule } from '@kiln/ir-core';
import { isKilnError, parseModule, printModule, structuralEqual } from '@kiln/ir-core';
import type { NDArray } from '@kiln/tensorir';
import { allClose, getFlat, randomNDArray } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { BlockBuilder } from '../block-builder.js';
import { evaluateRelax, isNDArray } from '../eval.js';
import { call, relaxVar, shapeExpr, tuple } from '../ir/expr.js';
import type { Constant, RelaxFunction, SeqExpr } from '../ir/nodes.js';
import { tensorSInfo } from '../ir/struct-info.js';
import { createOpRegistry } from '../op/builtin.js';
import * as op from '../op/index.js';
import { defineOp } from '../op/registry.js';
import '../text/index.js';
import { wellFormed } from '../well-formed.js';
import { constantToNDArray, FoldConstant, foldConstant, ndarrayToConstant } from './fold-constant.js';
import { legalizeModule } from './legalize-ops.js';

function expectSame(actual: IRModule, expectedText: string): void {
  const expected = parseModule(expectedText);
  expect(printModule(actual)).toBe(printModule(expected));
  for (const [i, g] of actual.globals.entries()) {
    expect(structuralEqual(actual.funcs[i], expected.funcs[i], { mapFreeVars: true }), g).toBe(true);
  }
  expect(wellFormed(actual)).toEqual([]);
}

const mainOf = (m: IRModule) => m.funcs[m.globals.indexOf('main')] as RelaxFunction;

describe('relax.FoldConstant: Before/Expected', () => {
  it('folds an op of constants and the uses of the folded variable', () => {
    const before = parseModule(`
@main = R.function(x: R.Tensor((2,), "float32")) -> R.Tensor((2,), "float32") attrs {global_symbol: "main"} {
  dataflow {
    lv: R.Tensor((2,), "float32") = R.add(R.const([1.0, 2.0], "float32"), R.const([3.0, 4.5], "float32"))
    lv1: R.Tensor((2,), "float32") = R.multiply(lv, R.const([2.0, 2.0], "float32"))
    output gv: R.Tensor((2,), "float32") = R.add(x, lv1)
  }
  return gv
}`);
    const after = FoldConstant.run(before);
    expectSame(
      after,
      `
@main = R.function(x: R.Tensor((2,), "float32")) -> R.Tensor((2,), "float32") attrs {global_symbol: "main"} {
  dataflow {
    lv: R.Tensor((2,), "float32") = R.const([4.0, 6.5], "float32")
    lv1: R.Tensor((2,), "float32") = R.const([8.0, 13.0], "float32")
    output gv: R.Tensor((2,), "float32") = R.add(x, R.const([8.0, 13.0], "float32"))
  }
  return gv
}`,
    );
  });

  it('folds tuple items of constant tuples and shape_of of static shapes', () => {
    const before = parseModule(`
@main = R.function(x: R.Tensor((2, 3), "float32")) -> R.Tuple(R.Tensor((), "int32"), R.Shape([2, 3])) {
  t = (R.const(7, "int32"), R.const([1, 2], "int64"))
  a: R.Tensor((), "int32") = t[0]
  s: R.Shape([2, 3]) = R.shape_of(x)
  r = (a, s)
  return r
}`);
    expectSame(
      FoldConstant.run(before),
      `
@main = R.function(x: R.Tensor((2, 3), "float32")) -> R.Tuple(R.Tensor((), "int32"), R.Shape([2, 3])) {
  t = (R.const(7, "int32"), R.const([1, 2], "int64"))
  a: R.Tensor((), "int32") = R.const(7, "int32")
  s: R.Shape([2, 3]) = R.shape([2, 3])
  r: R.Tuple(R.Tensor((), "int32"), R.Shape([2, 3])) = (R.const(7, "int32"), s)
  return r
}`,
    );
  });

  it('folds calls whose argument is a variable bound to a tuple of constants', () => {
    const before = parseModule(`
@main = R.function() -> R.Tensor((4,), "int32") {
  t = (R.const([1, 2], "int32"), R.const([3, 4], "int32"))
  c: R.Tensor((4,), "int32") = R.concat(t, axis=0)
  return c
}`);
    expectSame(
      FoldConstant.run(before),
      `
@main = R.function() -> R.Tensor((4,), "int32") {
  t = (R.const([1, 2], "int32"), R.const([3, 4], "int32"))
  c = R.const([1, 2, 3, 4], "int32")
  return R.const([1, 2, 3, 4], "int32")
}`,
    );
  });

  it('leaves symbolic shapes, non-constant arguments and impure calls alone (identity)', () => {
    const before = parseModule(`
@main = R.function[n](x: R.Tensor((n, 2), "float32")) -> R.Tensor((n, 2), "float32") {
  dataflow {
    s: R.Shape([n, 2]) = R.shape_of(x)
    lv: R.Tensor((n, 2), "float32") = R.add(x, R.const([1.0, 2.0], "float32"))
    output gv: R.Tensor((n, 2), "float32") = R.nn.relu(lv)
  }
  y: R.Tensor((2,), "float32") = R.call_dps_packed(R.extern("f"), (R.const([1.0, 2.0], "float32"),), out_sinfo=R.Tensor((2,), "float32"))
  return gv
}`);
    expect(FoldConstant.run(before)).toBe(before);
  });
});

describe('relax.FoldConstant: call_tir and legalized modules', () => {
  it('runs PrimFuncs of call_tir on constant arguments in the interpreter', () => {
    const bb = new BlockBuilder();
    const x = relaxVar('x', tensorSInfo([2, 3], 'float32'));
    const c1 = ndarrayToConstant(randomNDArray('float32', [2, 3], 11));
    const c2 = ndarrayToConstant(randomNDArray('float32', [3], 12));
    bb.function('main', [x], () =>
      bb.dataflow(() => {
        const k = bb.emit(op.exp(op.add(c1, c2)));
        return bb.emitOutput(op.multiply(x, k));
      }),
    );
    const legal = legalizeModule(bb.getModule());
    const folded = FoldConstant.run(legal);
    expect(wellFormed(folded)).toEqual([]);
    const text = printModule(folded);
    // The exp(add(...)) chain is gone; the multiply with the input remains.
    const calls = (text.match(/R\.call_tir\(/g) ?? []).length;
    expect(calls).toBe(1);
    expect(text).toMatch(/R\.call_tir\(@multiply, \(x, R\.const\(/);
    // Numerically the same as running the unfolded module.
    const input = randomNDArray('float32', [2, 3], 13);
    const a = evaluateRelax(legal, 'main', [input]);
    const b = evaluateRelax(folded, 'main', [input]);
    if (!isNDArray(a) || !isNDArray(b)) throw new Error('tensor expected');
    expect(allClose(b, a, 1e-6, 0).ok).toBe(true);
  });

  it('folds call_tir written in the text format (PrimFunc in the same module)', () => {
    const kernel = `
@add = prim_func(a: float32[2], b: float32[2], T_add: float32[2]) attrs {global_symbol: "add"} {
  block root() {
    for i in 0 +: 2 {
      block T_add(v_i = spatial(0 +: 2, i)) {
        reads(a[v_i], b[v_i])
        writes(T_add[v_i])
        T_add[v_i] = a[v_i] * b[v_i] + 1.0
      }
    }
  }
}`;
    const before = parseModule(`${kernel}
@main = R.function(x: R.Tensor((2,), "float32")) -> R.Tensor((2,), "float32") attrs {global_symbol: "main"} {
  dataflow {
    lv: R.Tensor((2,), "float32") = R.call_tir(@add, (R.const([1.5, 2.0], "float32"), R.const([3.0, -4.0], "float32")), out_sinfo=R.Tensor((2,), "float32"))
    output gv: R.Tensor((2,), "float32") = R.call_tir(@add, (x, lv), out_sinfo=R.Tensor((2,), "float32"))
  }
  return gv
}`);
    expectSame(
      FoldConstant.run(before),
      `${kernel}
@main = R.function(x: R.Tensor((2,), "float32")) -> R.Tensor((2,), "float32") attrs {global_symbol: "main"} {
  dataflow {
    lv: R.Tensor((2,), "float32") = R.const([5.5, -7.0], "float32")
    output gv: R.Tensor((2,), "float32") = R.call_tir(@add, (x, R.const([5.5, -7.0], "float32")), out_sinfo=R.Tensor((2,), "float32"))
  }
  return gv
}`,
    );
  });

  it('respects maxElements (no huge zeros materialized) and folds below it', () => {
    const before = parseModule(`
@main = R.function() -> R.Tensor((64, 64), "float32") {
  z: R.Tensor((64, 64), "float32") = R.zeros(R.shape([64, 64]), dtype="float32")
  return z
}`);
    expect(FoldConstant.withOptions({ maxElements: 1000 }).run(before)).toBe(before);
    const after = FoldConstant.run(before);
    const seq = mainOf(after).body as SeqExpr;
    const c = seq.blocks[0].bindings[0].value as Constant;
    expect(c.kind).toBe('relax.Constant');
    expect(c.shape).toEqual([64, 64]);
    expect(printModule(after)).toContain('base64=');
  });

  it('rejects bad options with PASS_OPTIONS', () => {
    try {
      FoldConstant.withOptions({ maxElements: -1 });
      expect.unreachable();
    } catch (e) {
      expect(isKilnError(e) && e.code).toBe('PASS_OPTIONS');
    }
  });

  it('leaves calls of ops without a legalization alone', () => {
    const ops = createOpRegistry([
      defineOp({
        name: 'test.opaque',
        numArgs: 1,
        pattern: 'opaque',
        inferStructInfo: (c) => c.args[0].structInfo!,
      }),
    ]);
    const bb = new BlockBuilder(undefined, { ops });
    const c = ndarrayToConstant(randomNDArray('float32', [2], 3));
    bb.function('main', [], () => bb.emit(call('test.opaque', [c])));
    const mod = bb.getModule();
    expect(foldConstant(mod, ops)).toBe(mod);
  });
});

describe('relax.FoldConstant: numerical checks on random constants', () => {
  const ref = (a: NDArray, b: NDArray): number[] => {
    const [m, k] = a.shape;
    const n = b.shape[1];
    const out: number[] = [];
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += getFlat(a, i * k + t) * getFlat(b, t * n + j);
        out.push(Math.max(0, s));
      }
    return out;
  };

  it('matmul → relu → permute_dims → sum of random constants folds to the interpreter result', () => {
    for (const seed of [1, 2, 3]) {
      const a = randomNDArray('float32', [3, 5], seed * 10 + 1, { low: -2, high: 2 });
      const b = randomNDArray('float32', [5, 4], seed * 10 + 2, { low: -2, high: 2 });
      const bb = new BlockBuilder();
      bb.function('main', [], () =>
        bb.dataflow(() => {
          const mm = bb.emit(op.relu(op.matmul(ndarrayToConstant(a), ndarrayToConstant(b))));
          const t = bb.emit(op.permuteDims(mm, [1, 0]));
          return bb.emitOutput(op.sum(t, { axis: [0], keepdims: false }));
        }),
      );
      const mod = bb.getModule();
      const folded = FoldConstant.run(mod);
      expect(wellFormed(folded)).toEqual([]);
      const seq = mainOf(folded).body as SeqExpr;
      // Every binding of main is now a constant.
      for (const blk of seq.blocks) for (const x of blk.bindings) expect(x.value.kind).toBe('relax.Constant');
      const last = seq.blocks[0].bindings[seq.blocks[0].bindings.length - 1];
      const got = constantToNDArray(last.value as Constant);
      // Reference 1: the interpreter running the legalized, unfolded module.
      const want = evaluateRelax(legalizeModule(mod), 'main', []);
      if (!isNDArray(want)) throw new Error('tensor expected');
      expect(allClose(got, want, 1e-6, 1e-6).ok).toBe(true);
      // Reference 2: plain TypeScript.
      const mmRef = ref(a, b);
      const sums = [0, 1, 2].map((i) => mmRef.slice(i * 4, i * 4 + 4).reduce((x, y) => x + y, 0));
      for (const [i, s] of sums.entries()) expect(getFlat(got, i)).toBeCloseTo(s, 4);
      expect(sums.some((s) => s !== 0)).toBe(true);
    }
  });

  it('folds int64 and float16 constants with exact storage', () => {
    const i64 = randomNDArray('int64', [4], 5, { low: -1000, high: 1000 });
    const f16 = randomNDArray('float16', [4], 6, { low: -4, high: 4 });
    const bb = new BlockBuilder();
    bb.function('main', [], () => {
      const a = bb.emit(op.add(ndarrayToConstant(i64), ndarrayToConstant(i64)));
      const h = bb.emit(op.multiply(ndarrayToConstant(f16), ndarrayToConstant(f16)));
      return bb.emit(tuple([a, h]));
    });
    const folded = FoldConstant.run(bb.getModule());
    const seq = mainOf(folded).body as SeqExpr;
    const a = constantToNDArray(seq.blocks[0].bindings[0].value as Constant);
    const h = constantToNDArray(seq.blocks[0].bindings[1].value as Constant);
    for (let i = 0; i < 4; i++) {
      expect(getFlat(a, i)).toBe(2 * getFlat(i64, i));
      const v = getFlat(f16, i);
      expect(getFlat(h, i)).toBeCloseTo(v * v, 2);
    }
    expect((seq.blocks[0].bindings[1].value as Constant).data).toBeInstanceOf(Uint16Array);
    expect(shapeExpr([1]).kind).toBe('relax.ShapeExpr');
  });
});
