// relax.EliminateCommonSubexpr: Before/Expected in the Relax text format, plus
// well-formedness of the output and identity when nothing is shared.
import type { IRModule } from '@kiln/ir-core';
import { parseModule, printModule, structuralEqual } from '@kiln/ir-core';
import { randomNDArray } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { evaluateRelax, isNDArray } from '../eval.js';
import '../text/index.js';
import { wellFormed } from '../well-formed.js';
import { EliminateCommonSubexpr } from './eliminate-common-subexpr.js';
import { legalizeModule } from './legalize-ops.js';

function expectSame(actual: IRModule, expectedText: string): void {
  const expected = parseModule(expectedText);
  expect(printModule(actual)).toBe(printModule(expected));
  for (const [i, g] of actual.globals.entries()) {
    expect(structuralEqual(actual.funcs[i], expected.funcs[i], { mapFreeVars: true }), g).toBe(true);
  }
  expect(wellFormed(actual)).toEqual([]);
}

describe('relax.EliminateCommonSubexpr', () => {
  it('shares identical calls and collapses the chains they start', () => {
    const before = parseModule(`
@main = R.function[n](x: R.Tensor((n, 4), "float32"), y: R.Tensor((n, 4), "float32")) -> R.Tensor((n, 4), "float32") {
  dataflow {
    a: R.Tensor((n, 4), "float32") = R.add(x, y)
    b: R.Tensor((n, 4), "float32") = R.add(x, y)
    c: R.Tensor((n, 4), "float32") = R.exp(a)
    d: R.Tensor((n, 4), "float32") = R.exp(b)
    output gv: R.Tensor((n, 4), "float32") = R.multiply(c, d)
  }
  return gv
}`);
    const after = EliminateCommonSubexpr.run(before);
    expectSame(
      after,
      `
@main = R.function[n](x: R.Tensor((n, 4), "float32"), y: R.Tensor((n, 4), "float32")) -> R.Tensor((n, 4), "float32") {
  dataflow {
    a: R.Tensor((n, 4), "float32") = R.add(x, y)
    c: R.Tensor((n, 4), "float32") = R.exp(a)
    output gv: R.Tensor((n, 4), "float32") = R.multiply(c, c)
  }
  return gv
}`,
    );
  });

  it('distinguishes attributes and argument order; output vars become aliases', () => {
    const before = parseModule(`
@main = R.function(x: R.Tensor((2, 3), "float32"), y: R.Tensor((2, 3), "float32")) -> R.Object {
  dataflow {
    s0: R.Tensor((2,), "float32") = R.sum(x, axis=[1], keepdims=false)
    s1: R.Tensor((3,), "float32") = R.sum(x, axis=[0], keepdims=false)
    s2: R.Tensor((2,), "float32") = R.sum(x, axis=[1], keepdims=false)
    p: R.Tensor((2, 3), "float32") = R.subtract(x, y)
    q: R.Tensor((2, 3), "float32") = R.subtract(y, x)
    output o1: R.Tensor((2, 3), "float32") = R.subtract(x, y)
    output o2 = (s0, s1, s2, p, q)
  }
  r = (o1, o2)
  return r
}`);
    const after = EliminateCommonSubexpr.run(before);
    expectSame(
      after,
      `
@main = R.function(x: R.Tensor((2, 3), "float32"), y: R.Tensor((2, 3), "float32")) -> R.Object {
  dataflow {
    s0: R.Tensor((2,), "float32") = R.sum(x, axis=[1], keepdims=false)
    s1: R.Tensor((3,), "float32") = R.sum(x, axis=[0], keepdims=false)
    p: R.Tensor((2, 3), "float32") = R.subtract(x, y)
    q: R.Tensor((2, 3), "float32") = R.subtract(y, x)
    output o1 = p
    output o2 = (s0, s1, s0, p, q)
  }
  r = (o1, o2)
  return r
}`,
    );
  });

  it('does not merge across non-dataflow bindings or impure calls; identity when nothing is shared', () => {
    const before = parseModule(`
@main = R.function(x: R.Tensor((2,), "float32")) -> R.Tensor((2,), "float32") {
  a: R.Tensor((2,), "float32") = R.add(x, x)
  b: R.Tensor((2,), "float32") = R.add(x, x)
  dataflow {
    c: R.Tensor((2,), "float32") = R.call_dps_packed(R.extern("rng", R.Callable(ret=R.Tensor((2,), "float32"))), (x,), out_sinfo=R.Tensor((2,), "float32"))
    output d: R.Tensor((2,), "float32") = R.multiply(a, b)
  }
  return d
}`);
    expect(EliminateCommonSubexpr.run(before)).toBe(before);
  });

  it('keeps results numerically identical on a legalized module', () => {
    const before = parseModule(`
@main = R.function(x: R.Tensor((3, 4), "float32")) -> R.Tensor((3, 4), "float32") {
  dataflow {
    a: R.Tensor((3, 4), "float32") = R.nn.relu(x)
    b: R.Tensor((3, 4), "float32") = R.nn.relu(x)
    c: R.Tensor((3, 4), "float32") = R.add(a, b)
    d: R.Tensor((3, 4), "float32") = R.add(b, a)
    output gv: R.Tensor((3, 4), "float32") = R.multiply(c, d)
  }
  return gv
}`);
    const after = EliminateCommonSubexpr.run(before);
    expect((printModule(after).match(/R\.nn\.relu/g) ?? []).length).toBe(1);
    const input = randomNDArray('float32', [3, 4], 9);
    const want = evaluateRelax(legalizeModule(before), 'main', [input]);
    const got = evaluateRelax(legalizeModule(after), 'main', [input]);
    if (!isNDArray(want) || !isNDArray(got)) throw new Error('tensor expected');
    expect([...got.data]).toEqual([...want.data]);
  });

  it('callOnly leaves repeated tuples alone', () => {
    const before = parseModule(`
@main = R.function(x: R.Tensor((2,), "float32")) -> R.Object {
  dataflow {
    t = (x,)
    u = (x,)
    a: R.Tensor((2,), "float32") = t[0]
    b: R.Tensor((2,), "float32") = u[0]
    output gv = (a, b)
  }
  return gv
}`);
    expect(EliminateCommonSubexpr.withOptions({ callOnly: true }).run(before)).toBe(before);
    expectSame(
      EliminateCommonSubexpr.run(before),
      `
@main = R.function(x: R.Tensor((2,), "float32")) -> R.Object {
  dataflow {
    t = (x,)
    a: R.Tensor((2,), "float32") = t[0]
    output gv = (a, a)
  }
  return gv
}`,
    );
  });
});
