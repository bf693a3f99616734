// Unit tests of the evaluator, the bound and interval-set analyses, the provers and the
// linear-form helpers.
import { describe, expect, it } from 'vitest';
import { isKilnError } from '../errors.js';
import {
  add,
  and,
  call,
  cast,
  div,
  floatImm,
  floordiv,
  floormod,
  intImm,
  letExpr,
  lt,
  max,
  min,
  mul,
  or,
  primVar,
  range,
  select,
  sub,
  truncmod,
} from '../expr.js';
import { structuralEqual } from '../structural.js';
import { Analyzer, constIntBound, provablyEqual, simplify } from './analyzer.js';
import { evaluate } from './evaluate.js';
import { detectConstLinear, detectLinearEquation } from './linear.js';
import { asConstInt, isConst } from './util.js';

const i = primVar('i');
const j = primVar('j');
const n = primVar('n');
const m = primVar('m');
const x = primVar('x');

describe('evaluate', () => {
  const env = new Map([
    [i, 7],
    [j, -3],
  ]);
  it('implements truncated and floored integer division', () => {
    expect(evaluate(div(j, 2), env)).toBe(-1);
    expect(evaluate(truncmod(j, 2), env)).toBe(-1);
    expect(evaluate(floordiv(j, 2), env)).toBe(-2);
    expect(evaluate(floormod(j, 2), env)).toBe(1);
    expect(evaluate(floormod(i, -2), env)).toBe(-1);
  });
  it('raises DIVIDE_BY_ZERO for integer division by zero', () => {
    for (const e of [div(i, 0), truncmod(i, 0), floordiv(i, sub(j, j)), floormod(i, 0)]) {
      let err: unknown;
      try {
        evaluate(e, env);
      } catch (e2) {
        err = e2;
      }
      expect(isKilnError(err, 'DIVIDE_BY_ZERO')).toBe(true);
    }
    expect(evaluate(div(floatImm(1), floatImm(0)))).toBe(Infinity);
  });
  it('handles casts, booleans, select and let', () => {
    expect(evaluate(cast('int32', floatImm(-2.75)))).toBe(-2);
    expect(evaluate(cast('bool', intImm(-4)))).toBe(1);
    expect(evaluate(cast('float32', floatImm(0.1, 'float64')))).toBe(Math.fround(0.1));
    expect(evaluate(and(lt(i, 8), lt(j, -5)), env)).toBe(0);
    expect(evaluate(or(lt(i, 8), lt(j, -5)), env)).toBe(1);
    expect(evaluate(select(lt(j, 0), min(i, j), max(i, j)), env)).toBe(-3);
    const t = primVar('t');
    expect(evaluate(letExpr(t, add(i, 1), mul(t, t)), env)).toBe(64);
    expect(evaluate(call('float32', 'exp', [floatImm(0)]))).toBe(1);
  });
  it('names an unbound variable', () => {
    let err: unknown;
    try {
      evaluate(add(x, 1));
    } catch (e) {
      err = e;
    }
    expect(isKilnError(err, 'UNKNOWN_NAME')).toBe(true);
  });
});

describe('constIntBound', () => {
  it('uses bindings and dtypes', () => {
    const an = new Analyzer();
    an.bind(i, range(0, 16));
    an.bind(j, { min: -4, max: 4 });
    expect(an.constIntBound(add(mul(i, 4), j))).toEqual({ min: -4, max: 64 });
    expect(an.constIntBound(floordiv(i, 4))).toEqual({ min: 0, max: 3 });
    expect(an.constIntBound(floormod(j, 3))).toEqual({ min: 0, max: 2 });
    expect(an.constIntBound(truncmod(j, 3))).toEqual({ min: -2, max: 2 });
    expect(an.constIntBound(mul(j, j))).toEqual({ min: -16, max: 16 });
    expect(an.constIntBound(x)).toEqual({ min: -Infinity, max: Infinity });
    expect(an.constIntBound(primVar('u', 'uint8'))).toEqual({ min: 0, max: 255 });
    expect(an.constIntBound(floordiv(x, 4))).toEqual({ min: -Infinity, max: Infinity });
    expect(constIntBound(floormod(x, 8))).toEqual({ min: 0, max: 7 });
    expect(an.constIntBound(lt(i, 16))).toEqual({ min: 1, max: 1 });
  });
  it('scopes bindings', () => {
    const an = new Analyzer();
    const inner = an.withBinding(i, range(2, 3), () => an.constIntBound(i));
    expect(inner).toEqual({ min: 2, max: 4 });
    expect(an.constIntBound(i)).toEqual({ min: -Infinity, max: Infinity });
    an.bind(i, range(0, 8));
    an.withBinding(i, range(0, 2), () => expect(an.constIntBound(i).max).toBe(1));
    expect(an.constIntBound(i).max).toBe(7);
    an.unbind(i);
    expect(an.constIntBound(i).max).toBe(Infinity);
  });
});

describe('intSet', () => {
  it('computes symbolic regions', () => {
    const an = new Analyzer();
    const io = primVar('io');
    const ii = primVar('ii');
    const s = an.intSet(
      add(mul(io, 4), ii),
      new Map([
        [io, range(0, n)],
        [ii, range(0, 4)],
      ]),
    );
    expect(structuralEqual(s.min, intImm(0))).toBe(true);
    expect(structuralEqual(s.max, simplify(sub(mul(n, 4), 1)))).toBe(true);
    const t = an.intSet(floordiv(i, 4), new Map([[i, range(0, mul(n, 4))]]));
    expect(structuralEqual(t.max, simplify(sub(n, 1)))).toBe(true);
  });
  it('uses the analyzer’s symbolic bindings by default', () => {
    const an = new Analyzer();
    an.bind(i, range(m, 8));
    const s = an.intSet(sub(i, m));
    expect(s.min && asConstInt(s.min)).toBe(0);
    expect(s.max && asConstInt(s.max)).toBe(7);
  });
});

describe('provers', () => {
  it('canProve and canProveEqual', () => {
    const an = new Analyzer();
    an.bind(i, range(0, n));
    expect(an.canProve(lt(i, n))).toBe(true);
    expect(an.canProve(lt(i, m))).toBe(false);
    expect(an.canProveEqual(mul(add(n, 1), 2), add(add(n, n), 2))).toBe(true);
    expect(an.canProveEqual(n, m)).toBe(false);
    expect(provablyEqual(mul(n, 2), add(n, n))).toBe(true);
    expect(provablyEqual(n, 4)).toBe(false);
    expect(provablyEqual(intImm(4, 'int32'), intImm(4))).toBe(true);
  });
  it('canProveGreaterEqual / canProveLess', () => {
    const an = new Analyzer();
    an.bind(n, { min: 1, max: Infinity });
    an.bind(i, range(0, n));
    expect(an.canProveGreaterEqual(n, 1)).toBe(true);
    expect(an.canProveGreaterEqual(sub(n, i), 1)).toBe(true);
    expect(an.canProveGreaterEqual(sub(n, 2), 0)).toBe(false);
    expect(an.canProveLess(sub(i, n), 0)).toBe(true);
    expect(an.canProvePositive(mul(n, 3))).toBe(true);
    expect(an.canProveLessEqual(add(i, 1), n)).toBe(true);
  });
  it('canProveDivisible', () => {
    const an = new Analyzer();
    expect(an.canProveDivisible(128, 32)).toBe(true);
    expect(an.canProveDivisible(100, 32)).toBe(false);
    expect(an.canProveDivisible(mul(n, 32), 8)).toBe(true);
    expect(an.canProveDivisible(add(mul(n, 32), 16), 8)).toBe(true);
    expect(an.canProveDivisible(add(mul(n, 32), 4), 8)).toBe(false);
    expect(an.canProveDivisible(n, 4)).toBe(false);
    expect(an.canProveDivisible(mul(mul(n, m), 6), mul(m, 3))).toBe(true);
    expect(an.canProveDivisible(add(mul(n, m), n), m)).toBe(false);
    expect(an.canProveDivisible(n, 0)).toBe(false);
  });
});

describe('linear helpers', () => {
  it('detectLinearEquation', () => {
    const eqn = detectLinearEquation(add(add(mul(i, n), j), sub(mul(i, 2), 3)), [i, j]);
    expect(eqn).toBeDefined();
    expect(structuralEqual(eqn!.coefficients[0], simplify(add(n, 2)))).toBe(true);
    expect(asConstInt(eqn!.coefficients[1])).toBe(1);
    expect(asConstInt(eqn!.base)).toBe(-3);
    expect(detectLinearEquation(mul(i, i), [i])).toBeUndefined();
    expect(detectLinearEquation(floordiv(i, 4), [i])).toBeUndefined();
    expect(detectLinearEquation(add(floordiv(n, 4), i), [i])).toBeDefined();
    expect(detectConstLinear(add(mul(i, 4), add(j, 7)), [i, j])).toEqual({ coefficients: [4, 1], base: 7 });
    expect(detectConstLinear(add(mul(i, n), j), [i, j])).toBeUndefined();
  });
  it('isConst / asConstInt', () => {
    expect(isConst(intImm(3))).toBe(true);
    expect(isConst(floatImm(3))).toBe(true);
    expect(isConst(x)).toBe(false);
    expect(asConstInt(intImm(-5))).toBe(-5);
    expect(asConstInt(floatImm(2))).toBeUndefined();
  });
});
