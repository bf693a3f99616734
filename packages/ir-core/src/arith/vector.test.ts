// Vector (Ramp/Broadcast) rules: before/after cases and a lane-wise property check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKilnError } from '../errors.js';
import type { PrimExpr, Var } from '../expr.js';
import {
  add,
  broadcast,
  floordiv,
  floormod,
  intImm,
  lt,
  max,
  min,
  mul,
  primVar,
  ramp,
  range,
  sub,
} from '../expr.js';
import { structuralEqual } from '../structural.js';
import { Analyzer, simplify } from './analyzer.js';
import { evaluateLanes } from './evaluate.js';

const i = primVar('i');
const x = primVar('x');
const RUNS = Number(process.env.KILN_PROPERTY_RUNS ?? 400);

function expectSame(got: PrimExpr, want: PrimExpr): void {
  expect(structuralEqual(got, want)).toBe(true);
}

describe('vector rules', () => {
  it('combines ramps and broadcasts', () => {
    expectSame(simplify(add(ramp(x, 1, 4), broadcast(3, 4))), ramp(add(x, 3), 1, 4));
    expectSame(simplify(sub(broadcast(x, 4), ramp(x, 2, 4))), ramp(intImm(0), -2, 4));
    expectSame(simplify(mul(ramp(x, 1, 4), broadcast(4, 4))), ramp(mul(x, 4), 4, 4));
    expectSame(simplify(add(broadcast(x, 4), broadcast(x, 4))), broadcast(mul(x, 2), 4));
    expectSame(simplify(sub(ramp(x, 1, 4), ramp(x, 1, 4))), broadcast(0, 4));
    expectSame(simplify(lt(broadcast(intImm(1), 4), broadcast(intImm(2), 4))), broadcast(true, 4));
  });
  it('keeps a contiguous ramp inside one period of a division', () => {
    const an = new Analyzer();
    an.bind(i, range(0, 16));
    const base = mul(i, 4);
    expectSame(an.simplify(floordiv(ramp(base, 1, 4), broadcast(4, 4))), broadcast(i, 4));
    expectSame(an.simplify(floormod(ramp(base, 1, 4), broadcast(4, 4))), ramp(intImm(0), 1, 4));
    expectSame(an.simplify(floordiv(ramp(x, 8, 4), broadcast(4, 4))), ramp(floordiv(x, 4), 2, 4));
    expectSame(an.simplify(floormod(ramp(x, 8, 4), broadcast(4, 4))), broadcast(floormod(x, 4), 4));
    // crosses a period boundary: unchanged
    const e = floordiv(ramp(x, 1, 4), broadcast(4, 4));
    expect(an.simplify(e)).toBe(e);
  });
});

const VARS: readonly Var[] = [x, i];
const scalarArb: fc.Arbitrary<PrimExpr> = fc.oneof(
  fc.constantFrom<PrimExpr>(...VARS),
  fc.integer({ min: -9, max: 9 }).map((v) => intImm(v)),
  fc.tuple(fc.constantFrom<PrimExpr>(...VARS), fc.integer({ min: -4, max: 4 })).map(([v, k]) => mul(v, k)),
);
const LANES = 4;
const { vec } = fc.letrec<{ vec: PrimExpr }>((tie) => {
  const v = (): fc.Arbitrary<PrimExpr> => tie('vec') as fc.Arbitrary<PrimExpr>;
  const divisor = fc.integer({ min: 1, max: 8 }).map((c) => broadcast(c, LANES));
  return {
    vec: fc.oneof(
      { depthSize: 'small' },
      {
        weight: 3,
        arbitrary: fc.tuple(scalarArb, fc.integer({ min: -3, max: 5 })).map(([b, s]) => ramp(b, s, LANES)),
      },
      { weight: 2, arbitrary: scalarArb.map((b) => broadcast(b, LANES)) },
      { weight: 2, arbitrary: fc.tuple(v(), v()).map(([p, q]) => add(p, q)) },
      { weight: 1, arbitrary: fc.tuple(v(), v()).map(([p, q]) => sub(p, q)) },
      { weight: 1, arbitrary: fc.tuple(v(), scalarArb).map(([p, k]) => mul(p, broadcast(k, LANES))) },
      { weight: 2, arbitrary: fc.tuple(v(), divisor).map(([p, d]) => floordiv(p, d)) },
      { weight: 2, arbitrary: fc.tuple(v(), divisor).map(([p, d]) => floormod(p, d)) },
      { weight: 1, arbitrary: fc.tuple(v(), v()).map(([p, q]) => min(p, q)) },
      { weight: 1, arbitrary: fc.tuple(v(), v()).map(([p, q]) => max(p, q)) },
    ),
  };
});

function lanesOrDiv0(e: PrimExpr, env: Map<Var, number>): number[] | 'div0' {
  try {
    return evaluateLanes(e, env);
  } catch (err) {
    if (isKilnError(err, 'DIVIDE_BY_ZERO')) return 'div0';
    throw err;
  }
}

describe('vector simplification preserves every lane', () => {
  it('on random ramp/broadcast expressions', () => {
    fc.assert(
      fc.property(
        vec,
        fc.integer({ min: -10, max: 10 }),
        fc.array(fc.tuple(fc.integer({ min: -30, max: 30 }), fc.nat(5)), { minLength: 8, maxLength: 8 }),
        (e, lo, points) => {
          const an = new Analyzer();
          an.bind(i, range(lo, 6));
          const s = an.simplify(e);
          expect(s.dtype).toBe(e.dtype);
          expect(an.simplify(s)).toBe(s);
          for (const [xv, iv] of points) {
            const env = new Map<Var, number>([
              [x, xv],
              [i, lo + iv],
            ]);
            const want = lanesOrDiv0(e, env);
            if (want === 'div0') continue;
            expect(lanesOrDiv0(s, env)).toEqual(want);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
