// Property tests: the simplifier never changes a value, is idempotent and canonical on
// linear forms; the bound and interval-set analyses are sound. Random integer
// expressions over three int64 variables with random ranges, checked with `evaluate`.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKilnError } from '../errors.js';
import type { PrimExpr, Var } from '../expr.js';
import {
  add,
  and,
  binary,
  div,
  eq,
  floordiv,
  floormod,
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
import { Analyzer, provablyEqual, simplify } from './analyzer.js';
import { evaluate } from './evaluate.js';

const a = primVar('a');
const b = primVar('b');
const c = primVar('c');
const VARS: readonly Var[] = [a, b, c];
const RUNS = Number(process.env.KILN_PROPERTY_RUNS ?? 400);

const constArb = fc.integer({ min: -9, max: 9 }).map((v) => intImm(v));
const leafArb: fc.Arbitrary<PrimExpr> = fc.oneof(fc.constantFrom<PrimExpr>(...VARS), constArb);

const { expr, cond } = fc.letrec<{ expr: PrimExpr; cond: PrimExpr }>((tie) => {
  const e = (): fc.Arbitrary<PrimExpr> => tie('expr') as fc.Arbitrary<PrimExpr>;
  const cnd = (): fc.Arbitrary<PrimExpr> => tie('cond') as fc.Arbitrary<PrimExpr>;
  const posConst = fc.integer({ min: 1, max: 9 }).map((v) => intImm(v));
  const divisor = fc.oneof(
    { weight: 3, arbitrary: posConst },
    { weight: 1, arbitrary: constArb },
    { weight: 1, arbitrary: e() },
  );
  return {
    expr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      { weight: 4, arbitrary: leafArb },
      { weight: 3, arbitrary: fc.tuple(e(), e()).map(([x, y]) => add(x, y)) },
      { weight: 2, arbitrary: fc.tuple(e(), e()).map(([x, y]) => sub(x, y)) },
      { weight: 2, arbitrary: fc.tuple(e(), constArb).map(([x, k]) => mul(x, k)) },
      { weight: 1, arbitrary: fc.tuple(e(), e()).map(([x, y]) => mul(x, y)) },
      { weight: 2, arbitrary: fc.tuple(e(), divisor).map(([x, y]) => floordiv(x, y)) },
      { weight: 2, arbitrary: fc.tuple(e(), divisor).map(([x, y]) => floormod(x, y)) },
      { weight: 1, arbitrary: fc.tuple(e(), divisor).map(([x, y]) => div(x, y)) },
      { weight: 1, arbitrary: fc.tuple(e(), divisor).map(([x, y]) => truncmod(x, y)) },
      { weight: 1, arbitrary: fc.tuple(e(), e()).map(([x, y]) => min(x, y)) },
      { weight: 1, arbitrary: fc.tuple(e(), e()).map(([x, y]) => max(x, y)) },
      { weight: 1, arbitrary: fc.tuple(cnd(), e(), e()).map(([p, x, y]) => select(p, x, y)) },
      {
        weight: 1,
        arbitrary: fc.tuple(e(), e()).map(([v, body]) => {
          const t = primVar('t');
          return letExpr(t, v, add(body, mul(t, 2)));
        }),
      },
    ),
    cond: fc.oneof(
      { depthSize: 'small' },
      {
        weight: 4,
        arbitrary: fc
          .tuple(fc.constantFrom('EQ', 'NE', 'LT', 'LE', 'GT', 'GE' as const), e(), e())
          .map(([k, x, y]) => binary(k, x, y) as PrimExpr),
      },
      { weight: 1, arbitrary: fc.tuple(cnd(), cnd()).map(([p, q]) => and(p, q)) },
      { weight: 1, arbitrary: fc.tuple(cnd(), cnd()).map(([p, q]) => or(p, q)) },
      { weight: 1, arbitrary: cnd().map((p) => not(p)) },
    ),
  };
});

/** Random ranges [lo, lo + extent) for the three variables. */
const rangesArb = fc.array(fc.tuple(fc.integer({ min: -20, max: 20 }), fc.integer({ min: 1, max: 24 })), {
  minLength: 3,
  maxLength: 3,
});
/** Points inside the ranges, as fractions of the extent. */
const pointsArb = fc.array(
  fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { minLength: 3, maxLength: 3 }),
  {
    minLength: 12,
    maxLength: 12,
  },
);

function analyzerFor(ranges: ReadonlyArray<readonly [number, number]>): Analyzer {
  const an = new Analyzer();
  VARS.forEach((v, i) => {
    an.bind(v, range(ranges[i][0], ranges[i][1]));
  });
  return an;
}

function envAt(ranges: ReadonlyArray<readonly [number, number]>, fr: readonly number[]): Map<Var, number> {
  return new Map(VARS.map((v, i) => [v, ranges[i][0] + Math.floor(fr[i] * ranges[i][1])]));
}

/** The value, or 'div0' when the evaluation divides by zero. */
function tryEval(e: PrimExpr, env: Map<Var, number>): number | 'div0' {
  try {
    return evaluate(e, env);
  } catch (err) {
    if (isKilnError(err, 'DIVIDE_BY_ZERO')) return 'div0';
    throw err;
  }
}

describe('simplify preserves values', () => {
  it('under random variable ranges', () => {
    fc.assert(
      fc.property(expr, rangesArb, pointsArb, (e, ranges, points) => {
        const an = analyzerFor(ranges);
        const s = an.simplify(e);
        expect(s.dtype).toBe(e.dtype);
        for (const fr of points) {
          const env = envAt(ranges, fr);
          const want = tryEval(e, env);
          if (want === 'div0') continue;
          expect(tryEval(s, env)).toBe(want);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('without any ranges', () => {
    fc.assert(
      fc.property(
        expr,
        fc.array(fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 3, maxLength: 3 }), {
          minLength: 12,
          maxLength: 12,
        }),
        (e, points) => {
          const s = simplify(e);
          for (const p of points) {
            const env = new Map(VARS.map((v, i) => [v, p[i]]));
            const want = tryEval(e, env);
            if (want === 'div0') continue;
            expect(tryEval(s, env)).toBe(want);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('under symbolic ranges (a in [0, n), b in [a, a + 4))', () => {
    const n = primVar('n');
    fc.assert(
      fc.property(expr, pointsArb, fc.integer({ min: 1, max: 30 }), (e, points, nv) => {
        const an = new Analyzer();
        an.bind(n, { min: 1, max: 30 });
        an.bind(a, range(0, n));
        an.bind(b, range(a, 4));
        const s = an.simplify(e);
        for (const fr of points) {
          const av = Math.floor(fr[0] * nv);
          const env = new Map<Var, number>([
            [n, nv],
            [a, av],
            [b, av + Math.floor(fr[1] * 4)],
            [c, Math.floor(fr[2] * 41) - 20],
          ]);
          const want = tryEval(e, env);
          if (want === 'div0') continue;
          expect(tryEval(s, env)).toBe(want);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('under a constraint, where the constraint holds', () => {
    // simple comparisons, so that constraints tighten ranges right at the boundaries
    const small = fc.integer({ min: -4, max: 4 }).map((v) => intImm(v));
    const side = fc.oneof(
      small,
      fc.constantFrom<PrimExpr>(...VARS),
      fc.tuple(fc.constantFrom<PrimExpr>(...VARS), small).map(([v, k]) => add(v, k)),
    );
    const simpleCond = fc
      .tuple(
        fc.constantFrom('EQ', 'NE', 'LT', 'LE', 'GT', 'GE' as const),
        fc.constantFrom<PrimExpr>(...VARS),
        side,
        fc.boolean(),
      )
      .map(([k, v, w, flip]) => (flip ? binary(k, w, v) : binary(k, v, w)) as PrimExpr);
    const constraint = fc.oneof(
      simpleCond,
      fc.tuple(simpleCond, simpleCond).map(([p, q]) => and(p, q)),
      cond,
    );
    const probe = fc.oneof(
      fc.tuple(simpleCond, expr, expr).map(([p, x, y]) => select(p, x, y)),
      fc.tuple(fc.constantFrom<PrimExpr>(...VARS), side).map(([v, w]) => min(v, w)),
      fc.tuple(fc.constantFrom<PrimExpr>(...VARS), side).map(([v, w]) => max(v, w)),
      expr,
    );
    fc.assert(
      fc.property(
        constraint,
        probe,
        fc.array(fc.array(fc.integer({ min: -6, max: 6 }), { minLength: 3, maxLength: 3 }), {
          minLength: 30,
          maxLength: 30,
        }),
        (p, e, points) => {
          const an = new Analyzer();
          const s = an.withConstraint(p, () => an.simplify(e));
          for (const pt of points) {
            const env = new Map(VARS.map((v, i) => [v, pt[i]]));
            if (tryEval(p, env) !== 1) continue;
            const want = tryEval(e, env);
            if (want === 'div0') continue;
            expect(tryEval(s, env)).toBe(want);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('is idempotent and returns its own output unchanged', () => {
    fc.assert(
      fc.property(expr, rangesArb, (e, ranges) => {
        const an = analyzerFor(ranges);
        const s = an.simplify(e);
        const s2 = an.simplify(s);
        expect(structuralEqual(s2, s)).toBe(true);
        expect(s2).toBe(s);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('bound analyses are sound', () => {
  it('constIntBound contains every value', () => {
    fc.assert(
      fc.property(expr, rangesArb, pointsArb, (e, ranges, points) => {
        const an = analyzerFor(ranges);
        const bd = an.constIntBound(e);
        const bs = an.constIntBound(an.simplify(e));
        for (const fr of points) {
          const v = tryEval(e, envAt(ranges, fr));
          if (v === 'div0') continue;
          expect(v).toBeGreaterThanOrEqual(bd.min);
          expect(v).toBeLessThanOrEqual(bd.max);
          expect(v).toBeGreaterThanOrEqual(bs.min);
          expect(v).toBeLessThanOrEqual(bs.max);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('intSet over a symbolic domain contains every value', () => {
    const n = primVar('n');
    fc.assert(
      fc.property(expr, fc.integer({ min: 1, max: 30 }), pointsArb, (e, nv, points) => {
        // a ranges over [0, n), b over [a, a + 3]; c stays a fixed symbol
        const an = new Analyzer();
        an.bind(n, { min: 1, max: 30 });
        const dom = new Map([
          [a, { min: intImm(0), max: sub(n, 1) }],
          [b, { min: a, max: add(a, 3) }],
        ]);
        const set = an.intSet(e, new Map([[a, dom.get(a)!]]));
        for (const fr of points) {
          const env = new Map<Var, number>([
            [n, nv],
            [a, Math.floor(fr[0] * nv)],
            [b, Math.floor(fr[1] * 7) - 3],
            [c, Math.floor(fr[2] * 11) - 5],
          ]);
          const v = tryEval(e, env);
          if (v === 'div0') continue;
          if (set.min) {
            const lo = tryEval(set.min, env);
            if (lo !== 'div0') expect(v).toBeGreaterThanOrEqual(lo);
          }
          if (set.max) {
            const hi = tryEval(set.max, env);
            if (hi !== 'div0') expect(v).toBeLessThanOrEqual(hi);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('linear forms are canonical', () => {
  const n = primVar('n');
  const m = primVar('m');
  const k = primVar('k');
  const LV: readonly Var[] = [n, m, k];
  const coefsArb = fc.record({
    coefs: fc.array(fc.integer({ min: -6, max: 6 }), { minLength: 3, maxLength: 3 }),
    constant: fc.integer({ min: -20, max: 20 }),
  });

  /** Build sum(coefs[i]*LV[i]) + constant in a random shape decided by `choices`. */
  function build(coefs: readonly number[], constant: number, choices: readonly number[]): PrimExpr {
    let ci = 0;
    const pick = (nopts: number): number => choices[ci++ % choices.length] % nopts;
    const pieces: PrimExpr[] = [];
    LV.forEach((v, i) => {
      const co = coefs[i];
      switch (pick(4)) {
        case 0:
          pieces.push(mul(v, co));
          break;
        case 1:
          pieces.push(mul(co, v));
          break;
        case 2: {
          // co*v as v + ... + v (or minus), split across the pieces
          const term = Math.abs(co);
          for (let t = 0; t < term; t++) pieces.push(co > 0 ? v : sub(0, v));
          break;
        }
        default:
          // (co+1)*v - v
          pieces.push(sub(mul(add(co, 1), v), v));
      }
    });
    const split = pick(3) - 1;
    pieces.push(intImm(constant - split), intImm(split));
    // shuffle deterministically by choices, then fold with a random tree shape
    for (let p = pieces.length - 1; p > 0; p--) {
      const q = pick(p + 1);
      [pieces[p], pieces[q]] = [pieces[q], pieces[p]];
    }
    while (pieces.length > 1) {
      const at = pick(pieces.length - 1);
      const merged =
        pick(3) === 0 ? sub(pieces[at], mul(-1, pieces[at + 1])) : add(pieces[at], pieces[at + 1]);
      pieces.splice(at, 2, merged);
    }
    return pieces[0];
  }

  it('equal linear combinations are provably equal and simplify identically', () => {
    const choicesArb = fc.array(fc.nat(1000), { minLength: 8, maxLength: 40 });
    fc.assert(
      fc.property(coefsArb, choicesArb, choicesArb, ({ coefs, constant }, ch1, ch2) => {
        const e1 = build(coefs, constant, ch1);
        const e2 = build(coefs, constant, ch2);
        expect(provablyEqual(e1, e2)).toBe(true);
        expect(structuralEqual(simplify(e1), simplify(e2))).toBe(true);
        // and a different constant is not equal
        expect(provablyEqual(e1, add(e2, 1))).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('distinct variables are not provably equal', () => {
    expect(provablyEqual(n, m)).toBe(false);
    expect(provablyEqual(mul(n, 2), add(n, n))).toBe(true);
    expect(provablyEqual(eq(n, m), ne(n, m))).toBe(false);
    expect(provablyEqual(lt(n, m), lt(n, m))).toBe(true);
    expect(provablyEqual(le(add(n, 1), m), le(add(1, n), m))).toBe(true);
  });
});
