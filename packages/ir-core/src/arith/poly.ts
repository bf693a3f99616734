// The canonical form of integer index arithmetic: a sum of coefficient * monomial plus a
// constant, where a monomial is a sorted product of "atoms" (variables and any non
// Add/Sub/Mul expression). Sorting by `compareExpr` makes equal polynomials rebuild to
// identical trees, which is what makes `simplify` canonical.
import type { DataType } from '../dtype.js';
import type { PrimExpr } from '../expr.js';
import { add, intImm, mul, sub } from '../expr.js';
import { compareExpr, isIndexType } from './util.js';

export interface Term {
  /** Sorted by compareExpr; never empty. */
  readonly atoms: readonly PrimExpr[];
  readonly coef: number;
}

export interface Poly {
  /** Sorted by monomial, no zero coefficients, no repeated monomials. */
  readonly terms: readonly Term[];
  readonly constant: number;
  /**
   * False once some coefficient left the exactly representable integers: such a poly
   * must not be rebuilt, because cancellations in it may be wrong.
   */
  readonly exact: boolean;
}

/** Products of sums are expanded only up to this many terms, to keep forms small. */
const MAX_EXPANDED_TERMS = 16;

export function compareMonomial(a: readonly PrimExpr[], b: readonly PrimExpr[]): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) {
    const c = compareExpr(a[i], b[i]);
    if (c !== 0) return c;
  }
  return 0;
}

const safe = (v: number): boolean => Number.isSafeInteger(v);

export function constPoly(c: number): Poly {
  return { terms: [], constant: c, exact: safe(c) };
}
export function atomPoly(e: PrimExpr): Poly {
  return { terms: [{ atoms: [e], coef: 1 }], constant: 0, exact: true };
}

/** p + k*q */
export function polyAddScaled(p: Poly, q: Poly, k: number): Poly {
  const out: Term[] = [];
  let exact = p.exact && q.exact;
  let i = 0;
  let j = 0;
  const push = (atoms: readonly PrimExpr[], coef: number): void => {
    if (!safe(coef)) exact = false;
    if (coef !== 0) out.push({ atoms, coef });
  };
  while (i < p.terms.length || j < q.terms.length) {
    const c =
      i >= p.terms.length
        ? 1
        : j >= q.terms.length
          ? -1
          : compareMonomial(p.terms[i].atoms, q.terms[j].atoms);
    if (c < 0) {
      push(p.terms[i].atoms, p.terms[i].coef);
      i++;
    } else if (c > 0) {
      push(q.terms[j].atoms, k * q.terms[j].coef);
      j++;
    } else {
      push(p.terms[i].atoms, p.terms[i].coef + k * q.terms[j].coef);
      i++;
      j++;
    }
  }
  const constant = p.constant + k * q.constant;
  return { terms: out, constant, exact: exact && safe(constant) };
}

export function polyScale(p: Poly, k: number): Poly {
  if (k === 0) return constPoly(0);
  return polyAddScaled(constPoly(0), p, k);
}

/** p * q, or undefined when the expansion would exceed MAX_EXPANDED_TERMS. */
export function polyMul(p: Poly, q: Poly): Poly | undefined {
  if (p.terms.length === 0) return polyScale(q, p.constant);
  if (q.terms.length === 0) return polyScale(p, q.constant);
  const np = p.terms.length + (p.constant !== 0 ? 1 : 0);
  const nq = q.terms.length + (q.constant !== 0 ? 1 : 0);
  if (np * nq > MAX_EXPANDED_TERMS) return undefined;
  let acc = constPoly(p.constant * q.constant);
  acc = polyAddScaled(acc, { terms: q.terms, constant: 0, exact: q.exact }, p.constant);
  acc = polyAddScaled(acc, { terms: p.terms, constant: 0, exact: p.exact }, q.constant);
  for (const s of p.terms) {
    for (const t of q.terms) {
      const atoms = [...s.atoms, ...t.atoms].sort(compareExpr);
      acc = polyAddScaled(acc, { terms: [{ atoms, coef: 1 }], constant: 0, exact: true }, s.coef * t.coef);
    }
  }
  return acc;
}

const polyCache = new WeakMap<PrimExpr, Poly>();

/**
 * Read an integer scalar expression as a polynomial. Pure structure: no simplification of
 * the atoms, no knowledge of variable ranges. Memoized per node (nodes are immutable).
 */
export function toPoly(e: PrimExpr): Poly {
  const hit = polyCache.get(e);
  if (hit) return hit;
  let p: Poly;
  switch (e.kind) {
    case 'IntImm':
      p = constPoly(e.value);
      break;
    case 'Add':
      p = polyAddScaled(toPoly(e.a), toPoly(e.b), 1);
      break;
    case 'Sub':
      p = polyAddScaled(toPoly(e.a), toPoly(e.b), -1);
      break;
    case 'Mul':
      p = polyMul(toPoly(e.a), toPoly(e.b)) ?? atomPoly(e);
      break;
    default:
      p = atomPoly(e);
  }
  polyCache.set(e, p);
  return p;
}

function isSorted(p: Poly): boolean {
  for (let i = 1; i < p.terms.length; i++) {
    if (compareMonomial(p.terms[i - 1].atoms, p.terms[i].atoms) >= 0) return false;
  }
  return true;
}

export function isConstPoly(p: Poly): boolean {
  return p.terms.length === 0;
}

function monomialExpr(atoms: readonly PrimExpr[]): PrimExpr {
  let e = atoms[0];
  for (let i = 1; i < atoms.length; i++) e = mul(e, atoms[i]);
  return e;
}

/**
 * Rebuild the canonical tree of `p` in dtype `t`: positive terms first, then subtracted
 * negative ones, then the constant (`i*4 + j - k + 3`). Undefined if `p` is not exact.
 */
export function fromPoly(p: Poly, t: DataType): PrimExpr | undefined {
  if (!p.exact || !isIndexType(t)) return undefined;
  const pos = p.terms.filter((x) => x.coef > 0);
  const neg = p.terms.filter((x) => x.coef < 0);
  const scaled = (x: Term, k: number): PrimExpr =>
    k === 1 ? monomialExpr(x.atoms) : mul(monomialExpr(x.atoms), intImm(k, t));
  let acc: PrimExpr | undefined;
  for (const x of pos) acc = acc === undefined ? scaled(x, x.coef) : add(acc, scaled(x, x.coef));
  let c = p.constant;
  if (acc === undefined && neg.length > 0) {
    if (c > 0) {
      acc = intImm(c, t);
      c = 0;
    } else {
      acc = scaled(neg[0], neg[0].coef);
      neg.shift();
    }
  }
  for (const x of neg) acc = sub(acc as PrimExpr, scaled(x, -x.coef));
  if (acc === undefined) return intImm(c, t);
  if (c > 0) acc = add(acc, intImm(c, t));
  else if (c < 0) acc = sub(acc, intImm(-c, t));
  // the tree reads back as `p`: remember it, so parents do not re-parse it
  if (isSorted(p)) polyCache.set(acc, p);
  return acc;
}
