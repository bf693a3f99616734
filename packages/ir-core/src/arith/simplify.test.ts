// Before/after tests of the simplifier, one block per rule family.
import { describe, expect, it } from 'vitest';
import type { PrimExpr } from '../expr.js';
import {
  add,
  and,
  boolImm,
  cast,
  div,
  eq,
  floatImm,
  floordiv,
  floormod,
  ge,
  gt,
  intImm,
  le,
  letExpr,
  lt,
  max,
  min,
  mul,
  ne,
  not,
  or,
  primVar,
  range,
  select,
  sub,
  truncmod,
} from '../expr.js';
import { structuralEqual } from '../structural.js';
import { Analyzer, simplify } from './analyzer.js';

const i = primVar('i');
const j = primVar('j');
const k = primVar('k');
const n = primVar('n');
const m = primVar('m');
const x = primVar('x');

function expectSame(got: PrimExpr, want: PrimExpr): void {
  if (!structuralEqual(got, want)) throw new Error(`expected ${show(want)}, got ${show(got)}`);
}
// A tiny printer for failure messages (the text format lives in another module).
function show(e: PrimExpr): string {
  switch (e.kind) {
    case 'IntImm':
    case 'FloatImm':
      return String(e.value);
    case 'Var':
      return e.name;
    case 'Not':
      return `!(${show(e.a)})`;
    case 'Select':
      return `select(${show(e.cond)}, ${show(e.t)}, ${show(e.f)})`;
    case 'Cast':
      return `${e.dtype.str}(${show(e.value)})`;
    default:
      if ('a' in e && 'b' in e) return `${e.kind}(${show(e.a)}, ${show(e.b)})`;
      return e.kind;
  }
}

function bound(): Analyzer {
  const an = new Analyzer();
  an.bind(i, range(0, 16));
  an.bind(j, range(0, 4));
  an.bind(k, { min: 0, max: 7 });
  return an;
}

describe('constant folding', () => {
  it('folds integer ops with truncated and floored division', () => {
    expectSame(simplify(add(intImm(3), intImm(4))), intImm(7));
    expectSame(simplify(div(intImm(-7), intImm(2))), intImm(-3));
    expectSame(simplify(truncmod(intImm(-7), intImm(2))), intImm(-1));
    expectSame(simplify(floordiv(intImm(-7), intImm(2))), intImm(-4));
    expectSame(simplify(floormod(intImm(-7), intImm(2))), intImm(1));
    expectSame(simplify(min(intImm(3), intImm(-2))), intImm(-2));
    expectSame(simplify(lt(intImm(3), intImm(4))), boolImm(true));
  });
  it('folds floats in their precision', () => {
    const r = simplify(add(floatImm(0.1), floatImm(0.2)));
    expect(r.kind).toBe('FloatImm');
    expect((r as { value: number }).value).toBe(Math.fround(Math.fround(0.1) + Math.fround(0.2)));
    expectSame(simplify(mul(floatImm(2, 'float64'), floatImm(0.5, 'float64'))), floatImm(1, 'float64'));
  });
  it('keeps a division by constant zero, so it still fails at run time', () => {
    const e = floordiv(intImm(4), intImm(0));
    expect(simplify(e)).toBe(e);
  });
  it('folds casts of constants', () => {
    expectSame(simplify(cast('int32', floatImm(-2.7))), intImm(-2, 'int32'));
    expectSame(simplify(cast('bool', intImm(5))), boolImm(true));
    expectSame(simplify(cast('float32', intImm(3))), floatImm(3));
  });
});

describe('linear normal form', () => {
  it('cancels terms', () => {
    expectSame(simplify(sub(x, x)), intImm(0));
    expectSame(simplify(sub(add(x, 3), x)), intImm(3));
    expectSame(simplify(add(mul(n, 2), sub(intImm(0), add(n, n)))), intImm(0));
  });
  it('orders terms deterministically', () => {
    const a = simplify(add(add(j, mul(i, 4)), 3));
    const b = simplify(add(3, add(mul(4, i), j)));
    expectSame(a, b);
    expectSame(a, add(add(mul(i, 4), j), 3));
  });
  it('eliminates identities', () => {
    expectSame(simplify(mul(x, 1)), x);
    expectSame(simplify(add(x, 0)), x);
    expectSame(simplify(mul(x, 0)), intImm(0));
    expectSame(simplify(sub(mul(n, 3), mul(n, 3))), intImm(0));
  });
  it('writes negative terms as subtraction', () => {
    expectSame(simplify(add(mul(n, -1), m)), sub(m, n));
    expectSame(simplify(sub(intImm(5), x)), sub(intImm(5), x));
  });
  it('distributes products of small sums', () => {
    expectSame(simplify(mul(add(n, 1), m)), simplify(add(mul(m, n), m)));
    expectSame(simplify(mul(n, m)), simplify(mul(m, n)));
  });
  it('merges the div/mod pair a split leaves behind', () => {
    expectSame(simplify(add(mul(floordiv(x, 4), 4), floormod(x, 4))), x);
    expectSame(simplify(add(mul(div(x, 8), 16), mul(truncmod(x, 8), 2))), mul(x, 2));
  });
  it('preserves the dtype', () => {
    const a = primVar('a', 'int32');
    const r = simplify(add(mul(a, 2), sub(a, a)));
    expect(r.dtype.str).toBe('int32');
  });
});

describe('division under bounds', () => {
  it('floordiv/floormod of a split index', () => {
    const an = bound();
    expectSame(an.simplify(floordiv(add(mul(i, 4), j), 4)), i);
    expectSame(an.simplify(floormod(add(mul(i, 4), j), 4)), j);
    expectSame(an.simplify(floordiv(add(mul(i, 8), add(mul(j, 2), 1)), 2)), add(mul(i, 4), j));
  });
  it('pulls out multiples without bounds', () => {
    expectSame(simplify(floordiv(add(mul(n, 4), 7), 4)), add(n, 1));
    expectSame(simplify(floormod(add(mul(n, 4), 6), 4)), intImm(2));
    expectSame(simplify(floordiv(add(mul(n, 8), x), 4)), add(mul(n, 2), floordiv(x, 4)));
  });
  it('nested floordiv and floormod', () => {
    expectSame(simplify(floordiv(floordiv(x, 4), 8)), floordiv(x, 32));
    expectSame(simplify(floormod(floormod(x, 8), 4)), floormod(x, 4));
    expectSame(simplify(floormod(x, 1)), intImm(0));
    expectSame(simplify(floordiv(x, 1)), x);
  });
  it('divides out a common factor', () => {
    expectSame(simplify(floordiv(add(mul(x, 6), 2), 4)), floordiv(add(mul(x, 3), 1), 2));
  });
  it('truncated division of a non-negative dividend', () => {
    const an = bound();
    expectSame(an.simplify(div(add(mul(i, 4), j), 4)), i);
    expectSame(an.simplify(truncmod(add(mul(i, 4), j), 4)), j);
    // unknown sign: left alone
    const e = div(add(j, mul(x, 4)), 4);
    expect(simplify(e)).toBe(e);
  });
  it('symbolic quotient of a smaller non-negative dividend', () => {
    const an = new Analyzer();
    an.bind(n, { min: 1, max: Infinity });
    an.bind(i, range(0, n));
    expectSame(an.simplify(floordiv(i, n)), intImm(0));
    expectSame(an.simplify(floormod(i, n)), i);
    expectSame(simplify(floordiv(mul(n, m), m)), n);
    expectSame(simplify(floormod(mul(mul(n, m), 3), m)), intImm(0));
  });
});

describe('min/max and comparisons under bounds', () => {
  it('eliminates min/max', () => {
    const an = bound();
    expectSame(an.simplify(min(i, 16)), i);
    expectSame(an.simplify(max(i, 0)), i);
    expectSame(an.simplify(min(j, i)), min(i, j));
    expectSame(simplify(min(x, add(x, 1))), x);
    expectSame(simplify(max(x, x)), x);
  });
  it('folds comparisons', () => {
    const an = bound();
    expectSame(an.simplify(lt(i, 16)), boolImm(true));
    expectSame(an.simplify(ge(i, 16)), boolImm(false));
    expectSame(an.simplify(lt(add(mul(i, 4), j), 64)), boolImm(true));
    expectSame(simplify(eq(add(x, 1), add(1, x))), boolImm(true));
    expectSame(simplify(ne(x, add(x, 1))), boolImm(true));
    const e = lt(x, 3);
    expect(simplify(e)).toBe(e);
  });
  it('folds symbolic comparisons with symbolic loop ranges', () => {
    const an = new Analyzer();
    an.bind(i, range(0, n));
    expectSame(an.simplify(lt(i, n)), boolImm(true));
    expectSame(an.simplify(le(add(i, 1), n)), boolImm(true));
    expectSame(an.simplify(ge(i, n)), boolImm(false));
    an.bind(j, range(0, i));
    expectSame(an.simplify(lt(j, n)), boolImm(true));
  });
  it('uses constraints', () => {
    const an = new Analyzer();
    an.withConstraint(lt(x, 10), () => {
      expectSame(an.simplify(lt(x, 20)), boolImm(true));
      expectSame(an.simplify(lt(x, n)), lt(x, n));
    });
    an.withConstraint(lt(x, n), () => {
      expectSame(an.simplify(lt(x, n)), boolImm(true));
      expectSame(an.simplify(ge(x, n)), boolImm(false));
    });
    expectSame(an.simplify(lt(x, 20)), lt(x, 20));
  });
});

describe('booleans, select, cast, let', () => {
  const p = lt(x, n);
  const q = lt(m, 3);
  it('simplifies And/Or/Not', () => {
    expectSame(simplify(and(p, boolImm(true))), p);
    expectSame(simplify(and(p, boolImm(false))), boolImm(false));
    expectSame(simplify(or(p, boolImm(true))), boolImm(true));
    expectSame(simplify(or(boolImm(false), q)), q);
    expectSame(simplify(and(p, p)), p);
    expectSame(simplify(and(p, not(p))), boolImm(false));
    expectSame(simplify(or(p, ge(x, n))), boolImm(true));
    expectSame(simplify(not(not(p))), p);
    expectSame(simplify(not(p)), le(n, x));
  });
  it('simplifies Select', () => {
    expectSame(simplify(select(boolImm(true), x, n)), x);
    expectSame(simplify(select(lt(intImm(4), 3), x, n)), n);
    expectSame(simplify(select(p, add(x, 0), x)), x);
    const an = bound();
    expectSame(an.simplify(select(lt(i, 16), j, k)), j);
  });
  it('removes no-op casts and inlines trivial lets', () => {
    expectSame(simplify(cast('int64', x)), x);
    const t = primVar('t');
    expectSame(simplify(letExpr(t, 3, add(t, x))), add(x, 3));
    const u = primVar('u');
    const e = letExpr(u, floordiv(x, 3), mul(u, 2));
    expect(simplify(e)).toBe(e);
    expectSame(simplify(letExpr(u, floordiv(x, 3), add(u, u))), e);
    expectSame(simplify(letExpr(u, floordiv(x, 3), x)), x);
  });
  it('uses the bound of a let value in its body', () => {
    const u = primVar('u');
    const an = bound();
    expectSame(an.simplify(letExpr(u, floormod(x, 4), lt(u, 4))), boolImm(true));
  });
});

describe('identity', () => {
  it('returns the same object when nothing changes', () => {
    const cases: PrimExpr[] = [
      add(mul(i, 4), j),
      sub(m, n),
      floordiv(x, 4),
      lt(x, n),
      and(lt(x, n), lt(m, 3)),
      select(lt(x, n), x, n),
      min(n, x),
      cast('int32', x),
    ];
    for (const c of cases) expect(simplify(c)).toBe(c);
  });
  it('returns the same object for canonical input reached a second time', () => {
    const e = simplify(add(add(j, mul(i, 4)), sub(n, 2)));
    expect(simplify(e)).toBe(e);
    // a product too large to expand keeps canonical factors, and is then a fixed point
    const big = simplify(mul(add(add(add(x, n), m), 1), add(i, add(j, add(k, add(x, 1))))));
    expect(big.kind).toBe('Mul');
    expect(simplify(big)).toBe(big);
    expectSame(simplify(mul(add(i, add(j, add(k, add(x, 1)))), add(add(add(n, x), m), 1))), big);
  });
});

describe('fused-index division', () => {
  it('divides by a multiple of the inner extent', () => {
    const an = bound();
    // i*4 + j with j < 4, divided by 8 or reduced mod 8
    expectSame(an.simplify(floordiv(add(mul(i, 4), j), 8)), floordiv(i, 2));
    expectSame(an.simplify(floormod(add(mul(i, 4), j), 8)), add(j, mul(floormod(i, 2), 4)));
    expectSame(an.simplify(floordiv(floormod(add(mul(i, 4), j), 16), 4)), floormod(i, 4));
    expectSame(simplify(floordiv(add(mul(x, 4), 3), 8)), floordiv(x, 2));
  });
});

describe('scaling', () => {
  // Generous limits: these guard against quadratic-per-level or exponential blowups.
  // Large inputs must not blow up (an exponential walk would hit the test timeout);
  // speed itself is measured by benchmarks, not asserted here.
  it('handles long sums, deep conditions, exponential DAGs and symbolic range chains', () => {
    const vs = Array.from({ length: 300 }, (_, q) => primVar(`v${q}`));
    const an = new Analyzer();
    for (const v of vs) an.bind(v, range(0, 8));
    let sum: PrimExpr = intImm(0);
    for (const v of vs) sum = add(sum, mul(v, 3));
    let cond: PrimExpr = lt(vs[0], 4);
    for (let q = 1; q < 30; q++) cond = and(cond, lt(vs[q], add(vs[q - 1], 3)));
    let sel: PrimExpr = vs[0];
    for (let q = 1; q < 30; q++) sel = select(lt(vs[q], 4), add(sel, 1), sub(sel, vs[q]));
    // a DAG with exponentially many paths
    let dag: PrimExpr = vs[0];
    for (let q = 0; q < 40; q++) dag = add(dag, dag);
    const s = an.simplify(sum);
    an.simplify(cond);
    an.simplify(sel);
    expectSame(an.simplify(dag), mul(vs[0], 2 ** 40));
    expect(an.constIntBound(s)).toEqual({ min: 0, max: 300 * 21 });
    const chain = new Analyzer();
    chain.bind(vs[0], range(0, n));
    for (let q = 1; q < 10; q++) chain.bind(vs[q], range(0, vs[q - 1]));
    expectSame(chain.simplify(lt(add(vs[9], 9), n)), boolImm(true));
    let mm: PrimExpr = vs[9];
    for (let q = 0; q < 9; q++) mm = min(mm, add(vs[q], 1));
    expectSame(chain.simplify(lt(mm, n)), boolImm(true));
    expectSame(chain.simplify(lt(add(mm, 9), n)), boolImm(true));
    expect(chain.simplify(lt(add(mm, 10), n)).kind).toBe('LT');
  });
});

describe('canonical comparisons', () => {
  it('swaps GT/GE into LT/LE and moves constants', () => {
    expectSame(simplify(gt(n, x)), lt(x, n));
    expectSame(simplify(ge(x, n)), le(n, x));
    expectSame(simplify(lt(add(x, 3), add(n, 5))), lt(x, add(n, 2)));
    expectSame(simplify(lt(sub(x, 1), n)), lt(x, add(n, 1)));
    expectSame(simplify(eq(intImm(5), x)), eq(x, 5));
    expectSame(simplify(eq(n, m)), simplify(eq(m, n)));
  });
  it('divides out common factors, rounding the constant soundly', () => {
    expectSame(simplify(lt(mul(x, 4), 10)), lt(x, 3));
    expectSame(simplify(le(mul(x, 4), 10)), le(x, 2));
    expectSame(simplify(eq(mul(x, 4), 10)), boolImm(false));
    expectSame(simplify(ne(mul(x, 4), 10)), boolImm(true));
    expectSame(simplify(eq(mul(x, 4), mul(n, 8))), eq(mul(n, 2), x));
  });
});

describe('branch conditions', () => {
  it('simplifies the right operand of And/Or knowing the left', () => {
    expectSame(simplify(and(lt(x, 4), lt(x, 8))), lt(x, 4));
    expectSame(simplify(and(lt(x, 4), lt(5, x))), boolImm(false));
    expectSame(simplify(or(lt(x, 4), lt(x, 8))), lt(x, 8));
    expectSame(simplify(and(lt(x, 8), lt(x, 4))), lt(x, 4));
    expectSame(simplify(or(lt(x, 4), le(4, x))), boolImm(true));
  });
  it('simplifies Select arms knowing the condition', () => {
    expectSame(simplify(select(lt(x, 4), min(x, 4), max(x, 4))), x);
    expectSame(simplify(select(eq(x, 3), add(x, 1), 4)), intImm(4));
    // an arm with a variable divisor is left alone: both arms are evaluated
    const e = select(eq(n, 0), floordiv(x, n), 0);
    expect(simplify(e)).toBe(e);
  });
  it('solves constraints for every unit-coefficient variable', () => {
    const an = new Analyzer();
    an.bind(i, range(0, 8));
    an.withConstraint(lt(add(i, j), 10), () => {
      expectSame(an.simplify(lt(j, 10)), boolImm(true));
      expectSame(an.simplify(lt(j, 9)), lt(j, 9));
    });
    an.withConstraint(and(le(0, j), lt(j, n)), () => {
      expectSame(an.simplify(floordiv(j, n)), intImm(0));
    });
  });
});

describe('min/max and cast details', () => {
  it('orders min/max operands and merges constants', () => {
    expectSame(simplify(min(n, m)), simplify(min(m, n)));
    expectSame(simplify(min(min(x, 8), 4)), min(x, 4));
    expectSame(simplify(max(3, max(x, 5))), max(x, 5));
  });
  it('removes a narrowing round trip that cannot overflow', () => {
    const an = bound();
    expectSame(an.simplify(cast('int64', cast('int32', i))), i);
    const e = cast('int64', cast('int32', x));
    expect(simplify(e)).toBe(e);
  });
});
