// The Analyzer: what is known about variables (ranges bound by loops, blocks, shape
// constraints, branch conditions) and the analyses that use it: constant bounds,
// interval sets, the simplifier and the provers built on it. One Analyzer per pass run;
// it holds no global state.

import { ErrorCodes, KilnError } from '../errors.js';
import type { ExprLike, PrimExpr, Range, Var } from '../expr.js';
import { binary, eq, intImm, sub, toExpr } from '../expr.js';
import { structuralEqual } from '../structural.js';
import { collect } from '../visitor.js';
import type { ConstIntBound } from './bound.js';
import { computeConstIntBound, EVERYTHING, intersectBound } from './bound.js';
import type { IntervalSet } from './int-set.js';
import { evalIntSet, intervalSet } from './int-set.js';
import type { Poly, Term } from './poly.js';
import { fromPoly, polyAddScaled, toPoly } from './poly.js';
import { negate, Simplifier } from './simplify.js';
import { compareExpr, floorMod, isIndexType } from './util.js';

/**
 * An inclusive interval for `bind`: bounds may be expressions, numbers, or ±Infinity for
 * an open side. (A `Range` is the half-open `[min, min + extent)`.)
 */
export interface IntervalLike {
  readonly min: PrimExpr | number;
  readonly max: PrimExpr | number;
}
export type BindingLike = Range | IntervalLike | ConstIntBound;

interface VarInfo {
  readonly bound: ConstIntBound;
  /** Symbolic bounds, when they are not plain constants. */
  readonly set?: IntervalSet;
}

/**
 * The symbolic prover does not nest: the simplifications it runs itself use constant
 * bounds only (nested proofs made the cost exponential in the depth of range chains).
 */
const MAX_PROOF_DEPTH = 1;
/** Rounds of substituting symbolic variable ranges into a bound (one per link of a chain). */
const MAX_SYMBOLIC_ROUNDS = 16;

export class Analyzer {
  private readonly vars = new Map<Var, VarInfo>();
  private readonly facts: PrimExpr[] = [];
  private boundCache = new Map<PrimExpr, ConstIntBound>();
  private proofDepth = 0;

  // ------------------------------------------------------------ binding

  /** Declare the range of `v` (replacing what was known). */
  bind(v: Var, r: BindingLike): void {
    this.vars.set(v, this.infoOf(v, r));
    this.invalidate();
  }

  /** Forget what is known about `v`. */
  unbind(v: Var): void {
    this.vars.delete(v);
    this.invalidate();
  }

  /** Run `fn` with `v` bound to `r`, restoring the previous knowledge afterwards. */
  withBinding<T>(v: Var, r: BindingLike, fn: () => T): T {
    return this.withBindings(new Map([[v, r]]), fn);
  }

  withBindings<T>(
    bindings: ReadonlyMap<Var, BindingLike> | Iterable<readonly [Var, BindingLike]>,
    fn: () => T,
  ): T {
    const saved: Array<[Var, VarInfo | undefined]> = [];
    const infos: Array<[Var, VarInfo]> = [];
    for (const [v, r] of bindings) infos.push([v, this.infoOf(v, r)]);
    for (const [v, info] of infos) {
      saved.push([v, this.vars.get(v)]);
      this.vars.set(v, info);
    }
    this.invalidate();
    try {
      return fn();
    } finally {
      for (let i = saved.length - 1; i >= 0; i--) {
        const [v, prev] = saved[i];
        if (prev) this.vars.set(v, prev);
        else this.vars.delete(v);
      }
      this.invalidate();
    }
  }

  /**
   * Run `fn` knowing that `cond` holds (inside `if (cond)`): comparisons of a variable
   * with an expression tighten that variable's range, and `cond` itself counts as proven.
   */
  withConstraint<T>(cond: PrimExpr, fn: () => T): T {
    return this.withSimplifiedConstraint(this.simplify(cond), fn);
  }

  /** `withConstraint` for a condition that is already simplified (the simplifier's own use). */
  withSimplifiedConstraint<T>(c: PrimExpr, fn: () => T): T {
    const saved = new Map<Var, VarInfo | undefined>();
    const restore = (): void => {
      for (const [v, prev] of saved) {
        if (prev) this.vars.set(v, prev);
        else this.vars.delete(v);
      }
      this.invalidate();
    };
    try {
      // applied one by one, so later conjuncts see what earlier ones established
      // (0 <= j && j < n: n > j >= 0)
      for (const part of conjuncts(c)) {
        for (const { v, kind, rhs } of varComparisons(part)) {
          const info = this.tightened(v, kind, rhs);
          if (!saved.has(v)) saved.set(v, this.vars.get(v));
          this.vars.set(v, info);
          this.invalidate();
        }
      }
    } catch (err) {
      restore();
      throw err;
    }
    this.facts.push(c);
    try {
      return fn();
    } finally {
      this.facts.pop();
      restore();
    }
  }

  /** What is known about `v` once `v kind rhs` holds as well. */
  private tightened(v: Var, kind: BoundKind, rhs: PrimExpr): VarInfo {
    const rb = this.constIntBound(rhs);
    const cur = this.vars.get(v) ?? { bound: this.constIntBound(v) };
    const one = intImm(1, rhs.dtype);
    const symbolic = rhs.kind !== 'IntImm';
    let lo: ConstIntBound = EVERYTHING;
    let set: IntervalSet | undefined;
    switch (kind) {
      case 'LT':
        lo = { min: -Infinity, max: rb.max - 1 };
        if (symbolic) set = intervalSet(cur.set?.min, this.simplify(sub(rhs, one)));
        break;
      case 'LE':
        lo = { min: -Infinity, max: rb.max };
        if (symbolic) set = intervalSet(cur.set?.min, rhs);
        break;
      case 'GT':
        lo = { min: rb.min + 1, max: Infinity };
        if (symbolic) set = intervalSet(this.simplify(binary('Add', rhs, one)), cur.set?.max);
        break;
      case 'GE':
        lo = { min: rb.min, max: Infinity };
        if (symbolic) set = intervalSet(rhs, cur.set?.max);
        break;
      case 'EQ':
        lo = rb;
        if (symbolic) set = intervalSet(rhs, rhs);
        break;
    }
    return { bound: intersectBound(cur.bound, lo), set: set ?? cur.set };
  }

  /** The constant bound known for `v` from bindings, if any. */
  varBound(v: Var): ConstIntBound | undefined {
    return this.vars.get(v)?.bound;
  }

  /** The symbolic interval known for `v` from bindings, if any. */
  varSet(v: Var): IntervalSet | undefined {
    const info = this.vars.get(v);
    if (!info) return undefined;
    if (info.set) return info.set;
    const b = info.bound;
    return intervalSet(
      Number.isFinite(b.min) ? intImm(b.min, v.dtype) : undefined,
      Number.isFinite(b.max) ? intImm(b.max, v.dtype) : undefined,
    );
  }

  private invalidate(): void {
    if (this.boundCache.size > 0) this.boundCache = new Map();
  }

  private infoOf(v: Var, r: BindingLike): VarInfo {
    if (!isIndexType(v.dtype) && v.dtype.code !== 'bool') {
      throw new KilnError(
        ErrorCodes.DTYPE_MISMATCH,
        `cannot bind a range to variable '${v.name}' of dtype ${v.dtype.str}`,
      );
    }
    let lo: PrimExpr | number;
    let hi: PrimExpr | number;
    if ('kind' in r && r.kind === 'Range') {
      lo = r.min;
      hi = this.simplify(sub(r.extent, 1));
      hi = this.simplify(binary('Add', toExpr(lo, v.dtype), hi));
    } else {
      const iv = r as IntervalLike;
      lo = iv.min;
      hi = iv.max;
    }
    const lb = typeof lo === 'number' ? lo : this.constIntBound(lo).min;
    const hb = typeof hi === 'number' ? hi : this.constIntBound(hi).max;
    const bound = { min: lb, max: hb };
    const symbolic = (x: PrimExpr | number): boolean => typeof x !== 'number' && x.kind !== 'IntImm';
    if (!symbolic(lo) && !symbolic(hi)) return { bound };
    const asExpr = (x: PrimExpr | number): PrimExpr | undefined =>
      typeof x === 'number' ? (Number.isFinite(x) ? intImm(x, v.dtype) : undefined) : x;
    return { bound, set: intervalSet(asExpr(lo), asExpr(hi)) };
  }

  // ------------------------------------------------------------ analyses

  /** The constant bound of `e` under the current bindings (±Infinity when unknown). */
  constIntBound(e: ExprLike): ConstIntBound {
    const x = toExpr(e);
    return computeConstIntBound(x, (v) => this.vars.get(v)?.bound, this.boundCache);
  }

  /**
   * The symbolic interval of `e` when the variables in `dom` range over their sets (by
   * default: every variable with a symbolic binding in this analyzer).
   */
  intSet(e: ExprLike, dom?: ReadonlyMap<Var, Range | IntervalSet>): IntervalSet {
    const x = toExpr(e);
    const d = new Map<Var, IntervalSet>();
    if (dom) {
      for (const [v, s] of dom) {
        if ('kind' in s && s.kind === 'Range') {
          d.set(v, intervalSet(this.simplify(s.min), this.simplify(sub(binary('Add', s.min, s.extent), 1))));
        } else d.set(v, s as IntervalSet);
      }
    } else {
      for (const [v, info] of this.vars) if (info.set) d.set(v, info.set);
    }
    return evalIntSet(x, d, this);
  }

  /**
   * A constant bound of an integer expression obtained by replacing variables that have
   * symbolic ranges by those ranges (e.g. i in [0, n-1] proves i - n < 0). Undefined when
   * nothing symbolic applies.
   */
  symbolicBound(e: PrimExpr): ConstIntBound | undefined {
    if (this.proofDepth >= MAX_PROOF_DEPTH || !isIndexType(e.dtype)) return undefined;
    const p0 = toPoly(e);
    if (!p0.exact) return undefined;
    const ranged = (x: PrimExpr): boolean =>
      collect(x, (n) => this.vars.get(n as Var)?.set !== undefined).length > 0;
    if (!ranged(e)) return undefined;
    // Linear occurrences of a symbolically ranged variable are replaced by the end of its
    // range that bounds the term (by the coefficient's sign), a few rounds deep so that
    // chains (j < i < n) resolve; everything else is left to the constant bound, which
    // still sees each variable's constant range, so the sum of the parts stays sound.
    this.proofDepth++;
    try {
      const side = (upper: boolean): number => {
        const inf = upper ? Infinity : -Infinity;
        const sideOf = (x: PrimExpr): number =>
          upper ? this.constIntBound(x).max : this.constIntBound(x).min;
        // every intermediate expression bounds e, so keep the tightest seen
        const better = (u: number, w: number): number => (upper ? Math.min(u, w) : Math.max(u, w));
        let x: PrimExpr | undefined = fromPoly(p0, e.dtype);
        if (x === undefined) return inf;
        let best = sideOf(x);
        // one variable per round: substituting all at once loses their correlation
        // (j < n and n > j would turn j - n into n - j - 2)
        for (let round = 0; round < MAX_SYMBOLIC_ROUNDS; round++) {
          const p: Poly = toPoly(x);
          let next: Poly | undefined;
          for (const t of p.terms) {
            const set = this.linearSymbolic(t);
            const end = set && (t.coef > 0 === upper ? set.max : set.min);
            if (end === undefined || end.dtype !== e.dtype) continue;
            next = polyAddScaled(
              polyAddScaled(p, { terms: [t], constant: 0, exact: true }, -1),
              toPoly(end),
              t.coef,
            );
            break;
          }
          const y: PrimExpr | undefined = next && fromPoly(next, e.dtype);
          if (y === undefined) break;
          x = this.simplify(y);
          best = better(best, sideOf(x));
        }
        if (Number.isFinite(best)) return best;
        // non-linear uses (min, division, ...) of ranged variables: interval arithmetic
        const dom = new Map<Var, IntervalSet>();
        for (const [w, info] of this.vars) if (info.set) dom.set(w, info.set);
        let z: PrimExpr | undefined = x;
        for (let round = 0; round < MAX_SYMBOLIC_ROUNDS && z !== undefined; round++) {
          if (collect(z, (n) => dom.has(n as Var)).length === 0) break;
          const set = evalIntSet(z, dom, this, { simplifyBounds: false });
          const end = upper ? set.max : set.min;
          z = end && this.simplify(end);
          if (z !== undefined) best = better(best, sideOf(z));
        }
        return best;
      };
      return { min: side(false), max: side(true) };
    } finally {
      this.proofDepth--;
    }
  }

  /** The symbolic set of a term `k*v` whose variable has a symbolic range. */
  private linearSymbolic(t: Term): IntervalSet | undefined {
    if (t.atoms.length !== 1 || t.atoms[0].kind !== 'Var') return undefined;
    return this.vars.get(t.atoms[0])?.set;
  }

  /** Is `cond` one of the facts of an enclosing `withConstraint` (true), or its negation (false)? */
  knownTruth(cond: PrimExpr): boolean | undefined {
    if (this.facts.length === 0) return undefined;
    const neg = negate(cond);
    for (const f of this.facts) {
      for (const part of conjuncts(f)) {
        if (compareExpr(part, cond) === 0) return true;
        if (compareExpr(part, neg) === 0) return false;
      }
    }
    return undefined;
  }

  // ------------------------------------------------------------ simplifier and provers

  /** Simplify `e` to canonical form under what this analyzer knows. */
  simplify(e: PrimExpr): PrimExpr {
    return new Simplifier(this).simplify(e);
  }

  /** Can `cond` be proven true for every value of the free variables in their ranges? */
  canProve(cond: ExprLike): boolean {
    const c = this.simplify(toExpr(cond));
    return c.kind === 'IntImm' && c.value !== 0;
  }

  /** Are `a` and `b` provably equal? */
  canProveEqual(a: ExprLike, b: ExprLike): boolean {
    const x = toExpr(a);
    const y = toExpr(b, typeof b === 'object' ? undefined : x.dtype);
    if (isIndexType(x.dtype) && isIndexType(y.dtype)) {
      const d = this.simplify(sub(x, y));
      return d.kind === 'IntImm' && d.value === 0;
    }
    const sx = this.simplify(x);
    const sy = this.simplify(y);
    if (structuralEqual(sx, sy)) return true;
    return x.dtype === y.dtype && x.dtype.code === 'bool' && this.canProve(eq(sx, sy));
  }

  /** Is `e >= k` provable? */
  canProveGreaterEqual(e: ExprLike, k: number): boolean {
    const x = this.simplify(toExpr(e));
    if (this.constIntBound(x).min >= k) return true;
    if (!isIndexType(x.dtype)) return false;
    return (this.symbolicBound(x)?.min ?? -Infinity) >= k;
  }

  /** Is `e < k` provable? */
  canProveLess(e: ExprLike, k: number): boolean {
    const x = this.simplify(toExpr(e));
    if (this.constIntBound(x).max < k) return true;
    if (!isIndexType(x.dtype)) return false;
    return (this.symbolicBound(x)?.max ?? Infinity) < k;
  }

  /** Is `e > 0` provable? */
  canProvePositive(e: ExprLike): boolean {
    return this.canProveGreaterEqual(e, 1);
  }

  /** Is `a <= b` provable? (symbolic: e.g. `i + 1 <= n` for i in [0, n)) */
  canProveLessEqual(a: ExprLike, b: ExprLike): boolean {
    const x = toExpr(a);
    return this.canProve(binary('LE', x, toExpr(b, typeof b === 'object' ? undefined : x.dtype)));
  }

  /**
   * Does `factor` provably divide `extent` (for every value of the variables)? A constant
   * factor divides when floormod simplifies to 0; a symbolic one when it is a factor of
   * every monomial of the extent (e.g. n*m by m).
   */
  canProveDivisible(extent: ExprLike, factor: ExprLike): boolean {
    const e = this.simplify(toExpr(extent));
    const f = this.simplify(toExpr(factor, e.dtype));
    if (!isIndexType(e.dtype)) return false;
    if (f.kind === 'IntImm') {
      if (f.value === 0) return false;
      if (e.kind === 'IntImm') return floorMod(e.value, f.value) === 0;
      const m = this.simplify(binary('FloorMod', e, f));
      return m.kind === 'IntImm' && m.value === 0;
    }
    const m = this.simplify(binary('FloorMod', e, f));
    if (m.kind === 'IntImm' && m.value === 0) return true;
    // the factor's constant part and atoms must both divide every term
    const pf = toPoly(f);
    if (pf.terms.length !== 1 || pf.constant !== 0) return false;
    const pe = toPoly(e);
    if (pe.constant !== 0 || !pe.exact) return false;
    const { atoms, coef } = pf.terms[0];
    return pe.terms.every((t) => {
      if (t.coef % coef !== 0) return false;
      const rest = [...t.atoms];
      return atoms.every((a) => {
        const i = rest.findIndex((x) => compareExpr(x, a) === 0);
        if (i < 0) return false;
        rest.splice(i, 1);
        return true;
      });
    });
  }
}

// ---------------------------------------------------------------- module-level helpers

/** Simplify `e`; with no analyzer, variables are only known by their dtypes. */
export function simplify(e: PrimExpr, analyzer?: Analyzer): PrimExpr {
  return (analyzer ?? new Analyzer()).simplify(e);
}

/** The constant bound of `e` (under `analyzer`'s bindings, if given). */
export function constIntBound(e: ExprLike, analyzer?: Analyzer): ConstIntBound {
  return (analyzer ?? new Analyzer()).constIntBound(e);
}

/**
 * Are two (shape) expressions provably equal? `n*2` vs `n + n` is; `n` vs `m` is not
 * (unknown is not equal). Integer operands of different widths are compared as values.
 */
export function provablyEqual(a: ExprLike, b: ExprLike, analyzer?: Analyzer): boolean {
  return (analyzer ?? new Analyzer()).canProveEqual(a, b);
}

/** `a - b` in canonical form, without knowledge of ranges (undefined if not integer). */
export function canonicalDifference(a: PrimExpr, b: PrimExpr): PrimExpr | undefined {
  if (!isIndexType(a.dtype) || a.dtype !== b.dtype) return undefined;
  return fromPoly(polyAddScaled(toPoly(simplify(a)), toPoly(simplify(b)), -1), a.dtype);
}

function conjuncts(c: PrimExpr): PrimExpr[] {
  return c.kind === 'And' ? [...conjuncts(c.a), ...conjuncts(c.b)] : [c];
}

const MIRROR = { LT: 'GT', LE: 'GE', GT: 'LT', GE: 'LE', EQ: 'EQ' } as const;
type BoundKind = keyof typeof MIRROR;

/**
 * Every reading of a comparison as `v op rhs` with `rhs` free of `v`: each variable with a
 * coefficient of +1 or -1 in `lhs - rhs` is solved for (`i + j < n` bounds i, j and n).
 */
function varComparisons(c: PrimExpr): Array<{ v: Var; kind: BoundKind; rhs: PrimExpr }> {
  if (!(c.kind in MIRROR)) return [];
  const cmp = c as PrimExpr & { a: PrimExpr; b: PrimExpr };
  const t = cmp.a.dtype;
  if (!isIndexType(t)) return [];
  const kind = c.kind as BoundKind;
  const p = polyAddScaled(toPoly(cmp.a), toPoly(cmp.b), -1);
  if (!p.exact) return [];
  const out: Array<{ v: Var; kind: BoundKind; rhs: PrimExpr }> = [];
  for (const term of p.terms) {
    const v = term.atoms[0];
    if (term.atoms.length !== 1 || v.kind !== 'Var' || (term.coef !== 1 && term.coef !== -1)) continue;
    const rest = polyAddScaled(p, { terms: [term], constant: 0, exact: true }, -1);
    if (rest.terms.some((x) => x.atoms.some((a) => collect(a, (n) => n === v).length > 0))) continue;
    // v + rest op 0  =>  v op -rest;   -v + rest op 0  =>  v mirror(op) rest
    const rhs = fromPoly(
      term.coef === 1 ? polyAddScaled({ terms: [], constant: 0, exact: true }, rest, -1) : rest,
      t,
    );
    if (rhs !== undefined) out.push({ v, kind: term.coef === 1 ? kind : MIRROR[kind], rhs });
  }
  return out;
}
