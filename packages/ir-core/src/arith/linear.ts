// Linear-form queries over the canonical polynomial: the coefficients of an expression
// as a linear combination of chosen variables (used for access-pattern and stride
// analysis, loop splitting, and vectorization legality).
import type { PrimExpr, Var } from '../expr.js';
import { intImm } from '../expr.js';
import { collect } from '../visitor.js';
import type { Analyzer } from './analyzer.js';
import { simplify } from './analyzer.js';
import type { Poly } from './poly.js';
import { constPoly, fromPoly, polyAddScaled, toPoly } from './poly.js';
import { isIndexType } from './util.js';

export interface LinearEquation {
  /** `coefficients[i]` multiplies `vars[i]`; may be symbolic (e.g. `n` in `i*n + j`). */
  readonly coefficients: readonly PrimExpr[];
  /** The part free of all `vars`. */
  readonly base: PrimExpr;
}

/**
 * Write `e` as `sum(coefficients[i] * vars[i]) + base` where neither the coefficients nor
 * the base mention any of `vars`; undefined when `e` is not linear in them (a product of
 * two of them, or one inside a division, min, cast, ...).
 */
export function detectLinearEquation(
  e: PrimExpr,
  vars: readonly Var[],
  analyzer?: Analyzer,
): LinearEquation | undefined {
  if (!isIndexType(e.dtype)) return undefined;
  const p = toPoly(simplify(e, analyzer));
  if (!p.exact) return undefined;
  const set = new Set<PrimExpr>(vars);
  const mentions = (x: PrimExpr): boolean => collect(x, (n) => set.has(n as PrimExpr)).length > 0;
  const coefs: Poly[] = vars.map(() => constPoly(0));
  let base = constPoly(p.constant);
  for (const t of p.terms) {
    const hits = t.atoms.map((a, i) => ({ a, i })).filter(({ a }) => mentions(a));
    if (hits.length === 0) {
      base = polyAddScaled(base, { terms: [t], constant: 0, exact: true }, 1);
      continue;
    }
    // exactly one factor may be one of the vars itself; nothing else may mention them
    if (hits.length !== 1 || !set.has(hits[0].a)) return undefined;
    const k = vars.indexOf(hits[0].a as Var);
    const rest = t.atoms.filter((_, i) => i !== hits[0].i);
    const part: Poly =
      rest.length === 0
        ? constPoly(t.coef)
        : { terms: [{ atoms: rest, coef: t.coef }], constant: 0, exact: true };
    coefs[k] = polyAddScaled(coefs[k], part, 1);
  }
  const build = (q: Poly): PrimExpr | undefined => fromPoly(q, e.dtype);
  const coefficients: PrimExpr[] = [];
  for (const c of coefs) {
    const x = build(c);
    if (x === undefined) return undefined;
    coefficients.push(x);
  }
  const b = build(base) ?? intImm(0, e.dtype);
  return { coefficients, base: b };
}

/** The constant coefficients of `e` in `vars` (and constant base), when all are constants. */
export function detectConstLinear(
  e: PrimExpr,
  vars: readonly Var[],
  analyzer?: Analyzer,
): { coefficients: number[]; base: number } | undefined {
  const eqn = detectLinearEquation(e, vars, analyzer);
  if (eqn?.base.kind !== 'IntImm' || eqn.coefficients.some((c) => c.kind !== 'IntImm')) return undefined;
  return {
    coefficients: eqn.coefficients.map((c) => (c.kind === 'IntImm' ? c.value : 0)),
    base: eqn.base.value,
  };
}
