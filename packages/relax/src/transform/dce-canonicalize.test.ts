// relax.DeadCodeElimination and relax.CanonicalizeBindings: Before/Expected in the
// Relax text format, well-formedness of the output, identity when nothing changes, and
// the usual pipeline FoldConstant → CanonicalizeBindings → DeadCodeElimination.
import type { IRModule } from '@kiln/ir-core';
import { parseModule, printModule, sequential, structuralEqual } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import '../text/index.js';
import { wellFormed } from '../well-formed.js';
import { CanonicalizeBindings } from './canonicalize-bindings.js';
import { DeadCodeElimination } from './dead-code-elimination.js';
import { EliminateCommonSubexpr } from './eliminate-common-subexpr.js';
import { FoldConstant } from './fold-constant.js';
import { legalizeModule } from './legalize-ops.js';

function expectSame(actual: IRModule, expectedText: string): void {
  const expected = parseModule(expectedText);
  expect(printModule(actual)).toBe(printModule(expected));
  expect(actual.globals).toEqual(expected.globals);
  for (const [i, g] of actual.globals.entries()) {
    expect(structuralEqual(actual.funcs[i], expected.funcs[i], { mapFreeVars: true }), g).toBe(true);
  }
  expect(wellFormed(actual)).toEqual([]);
}

describe('relax.DeadCodeElimination', () => {
  it('removes unused pure bindings (chains too), keeps impure ones and match_cast, drops emptied blocks', () => {
    const before = parseModule(`
@main = R.function[n](x: R.Tensor((n, 4), "float32")) -> R.Tensor((n, 4), "float32") attrs {global_symbol: "main"} {
  dataflow {
    a: R.Tensor((n, 4), "float32") = R.exp(x)
    b: R.Tensor((n, 4), "float32") = R.add(a, a)
    output unused: R.Tensor((n, 4), "float32") = R.multiply(b, b)
  }
  k = R.match_cast(x, R.Tensor((n, 4), "float32"))
  e: R.Tensor((n, 4), "float32") = R.extern("log", R.Callable(ret=R.Tensor((n, 4), "float32")))(x)
  dataflow {
    c: R.Tensor((n, 4), "float32") = R.nn.relu(x)
    output gv: R.Tensor((n, 4), "float32") = R.negative(c)
  }
  return gv
}`);
    expectSame(
      DeadCodeElimination.run(before),
      `
@main = R.function[n](x: R.Tensor((n, 4), "float32")) -> R.Tensor((n, 4), "float32") attrs {global_symbol: "main"} {
  k = R.match_cast(x, R.Tensor((n, 4), "float32"))
  e: R.Tensor((n, 4), "float32") = R.extern("log", R.Callable(ret=R.Tensor((n, 4), "float32")))(x)
  dataflow {
    c: R.Tensor((n, 4), "float32") = R.nn.relu(x)
    output gv: R.Tensor((n, 4), "float32") = R.negative(c)
  }
  return gv
}`,
    );
  });

  it('removes private functions and PrimFuncs no entry reaches', () => {
    const bbText = `
@helper = R.function(x: R.Tensor((2,), "float32")) -> R.Tensor((2,), "float32") {
  return x
}

@main = R.function(x: R.Tensor((2,), "float32")) -> R.Tensor((2,), "float32") attrs {global_symbol: "main"} {
  dataflow {
    a: R.Tensor((2,), "float32") = R.exp(x)
    b: R.Tensor((2,), "float32") = R.nn.relu(x)
    output gv: R.Tensor((2,), "float32") = @used(b)
  }
  return gv
}

@used = R.function(y: R.Tensor((2,), "float32")) -> R.Tensor((2,), "float32") {
  return y
}`;
    const legal = legalizeModule(parseModule(bbText));
    expect(legal.globals).toContain('exp');
    const after = DeadCodeElimination.run(legal);
    expect(after.globals).toEqual(['main', 'relu', 'used']);
    expect(wellFormed(after)).toEqual([]);
    // Explicit entries override the default.
    expect(DeadCodeElimination.withOptions({ entryFunctions: ['helper'] }).run(legal).globals).toEqual([
      'helper',
    ]);
    expect(() => DeadCodeElimination.withOptions({ entryFunctions: ['nope'] }).run(legal)).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_NAME' }),
    );
  });

  it('is the identity on a module with nothing dead, and keeps everything without entries', () => {
    const mod = parseModule(`
@f = R.function(x: R.Tensor((2,), "float32")) -> R.Tensor((2,), "float32") {
  y: R.Tensor((2,), "float32") = R.exp(x)
  return y
}`);
    expect(DeadCodeElimination.run(mod)).toBe(mod);
  });
});

describe('relax.CanonicalizeBindings', () => {
  it('folds aliases, trivial match_casts and promotes dataflow outputs', () => {
    const before = parseModule(`
@main = R.function[n](x: R.Tensor((n, 4), "float32")) -> R.Tensor((n, 4), "float32") {
  y = x
  z = R.match_cast(y, R.Tensor((n, 4), "float32"))
  dataflow {
    lv: R.Tensor((n, 4), "float32") = R.exp(z)
    lv1 = lv
    lv2: R.Tensor((n, 4), "float32") = R.add(lv1, lv)
    output gv = lv2
  }
  w = gv
  return w
}`);
    expectSame(
      CanonicalizeBindings.run(before),
      `
@main = R.function[n](x: R.Tensor((n, 4), "float32")) -> R.Tensor((n, 4), "float32") {
  dataflow {
    lv: R.Tensor((n, 4), "float32") = R.exp(x)
    output gv: R.Tensor((n, 4), "float32") = R.add(lv, lv)
  }
  return gv
}`,
    );
  });

  it('reads fields of tuple literals through', () => {
    const before = parseModule(`
@main = R.function(x: R.Tensor((2,), "float32"), y: R.Tensor((2,), "float32")) -> R.Tensor((2,), "float32") {
  dataflow {
    a: R.Tensor((2,), "float32") = R.exp(x)
    t = (a, y)
    b: R.Tensor((2,), "float32") = t[0]
    c: R.Tensor((2,), "float32") = t[1]
    output gv: R.Tensor((2,), "float32") = R.add(b, c)
  }
  return gv
}`);
    expectSame(
      CanonicalizeBindings.run(before),
      `
@main = R.function(x: R.Tensor((2,), "float32"), y: R.Tensor((2,), "float32")) -> R.Tensor((2,), "float32") {
  dataflow {
    a: R.Tensor((2,), "float32") = R.exp(x)
    t = (a, y)
    output gv: R.Tensor((2,), "float32") = R.add(a, y)
  }
  return gv
}`,
    );
  });

  it('keeps casts that check something and aliases that change StructInfo (identity)', () => {
    const mod = parseModule(`
@main = R.function(x: R.Tensor("float32", ndim=2)) -> R.Object {
  k = R.match_cast(x, R.Tensor((3, 4), "float32"))
  o: R.Object = k
  return o
}`);
    expect(CanonicalizeBindings.run(mod)).toBe(mod);
  });
});

describe('graph passes together', () => {
  it('FoldConstant → EliminateCommonSubexpr → CanonicalizeBindings → DeadCodeElimination', () => {
    const before = parseModule(`
@main = R.function(x: R.Tensor((2,), "float32")) -> R.Tensor((2,), "float32") attrs {global_symbol: "main"} {
  dataflow {
    c: R.Tensor((2,), "float32") = R.add(R.const([1.0, 2.0], "float32"), R.const([0.5, 0.5], "float32"))
    a: R.Tensor((2,), "float32") = R.multiply(x, c)
    b: R.Tensor((2,), "float32") = R.multiply(x, c)
    s: R.Tensor((2,), "float32") = R.add(a, b)
    output gv = s
  }
  return gv
}`);
    const pipeline = sequential([
      FoldConstant,
      EliminateCommonSubexpr,
      CanonicalizeBindings,
      DeadCodeElimination,
    ]);
    expectSame(
      pipeline.run(before),
      `
@main = R.function(x: R.Tensor((2,), "float32")) -> R.Tensor((2,), "float32") attrs {global_symbol: "main"} {
  dataflow {
    a: R.Tensor((2,), "float32") = R.multiply(x, R.const([1.5, 2.5], "float32"))
    output gv: R.Tensor((2,), "float32") = R.add(a, a)
  }
  return gv
}`,
    );
  });
});
