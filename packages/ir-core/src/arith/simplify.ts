// The canonicalizing simplifier. Bottom-up: children first, then the rules of the node's
// kind. Integer Add/Sub/Mul go through the polynomial normal form (poly.ts); division,
// min/max, comparisons and Select use the bound analysis of the owning Analyzer.
// Contract: never changes a value (except that it may turn an original division-by-zero
// into a value), preserves dtypes, and returns the same object when nothing changes.
import type { DataType } from '../dtype.js';
import { elementOf, isFloat } from '../dtype.js';
import { internalError, isKilnError } from '../errors.js';
import type { Binary, BinaryKind, Cast, Let, Not, PrimExpr, Select, Var } from '../expr.js';
import {
  binary,
  boolImm,
  broadcast,
  cast,
  floatImm,
  intImm,
  isPrimExpr,
  letExpr,
  mul,
  not,
  ramp,
  select,
} from '../expr.js';
import { mapChildren } from '../node.js';
import { structuralEqual } from '../structural.js';
import { collect, substitute } from '../visitor.js';
import type { Analyzer } from './analyzer.js';
import type { ConstIntBound } from './bound.js';
import { dtypeBound } from './bound.js';
import type { Poly, Term } from './poly.js';
import { atomPoly, constPoly, fromPoly, polyAddScaled, polyMul, polyScale, toPoly } from './poly.js';
import {
  applyBinary,
  asConstInt,
  castValue,
  compareExpr,
  floorDiv,
  floorMod,
  gcd,
  isIndexType,
  isIntImm,
} from './util.js';

type CompareKind = 'EQ' | 'NE' | 'LT' | 'LE' | 'GT' | 'GE';
const FLIP: Record<CompareKind, CompareKind> = { EQ: 'NE', NE: 'EQ', LT: 'GE', LE: 'GT', GT: 'LE', GE: 'LT' };
const isCompare = (k: string): k is CompareKind => k in FLIP;
const MAX_REWRITE_ROUNDS = 8;
/** Largest subtree (in nodes) re-simplified under a branch condition. */
const MAX_CONSTRAINED_SIZE = 64;
/** Analyzers currently re-simplifying under a branch condition (see underConstraint). */
const constraintNesting = new WeakMap<Analyzer, number>();

const isTrue = (e: PrimExpr): boolean => e.kind === 'IntImm' && e.value !== 0;
const isFalse = (e: PrimExpr): boolean => e.kind === 'IntImm' && e.value === 0;

export class Simplifier {
  private memo = new Map<PrimExpr, PrimExpr>();
  private polyMemo = new Map<PrimExpr, Poly>();

  constructor(private readonly an: Analyzer) {}

  simplify(e: PrimExpr): PrimExpr {
    const hit = this.memo.get(e);
    if (hit !== undefined) return hit;
    let r = this.visit(e);
    if (r !== e && structuralEqual(r, e)) r = e;
    if (r.dtype !== e.dtype)
      internalError(`simplify changed dtype ${e.dtype.str} to ${r.dtype.str} at '${e.kind}'`);
    this.memo.set(e, r);
    return r;
  }

  private visit(e: PrimExpr): PrimExpr {
    if ('b' in e && e.a.dtype.lanes > 1) return this.vectorBinary(e);
    switch (e.kind) {
      case 'IntImm':
      case 'FloatImm':
      case 'StringImm':
        return e;
      case 'Var': {
        // a variable bound to a single value is that value
        if (!isIndexType(e.dtype)) return e;
        const b = this.an.constIntBound(e);
        return b.min === b.max && Number.isFinite(b.min) ? intImm(b.min, e.dtype) : e;
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
        return this.arith(e);
      case 'Div':
      case 'Mod':
      case 'FloorDiv':
      case 'FloorMod':
        return this.division(e);
      case 'Min':
      case 'Max':
        return this.minMax(e);
      case 'EQ':
      case 'NE':
      case 'LT':
      case 'LE':
      case 'GT':
      case 'GE':
        return this.compare(e as Binary<CompareKind>);
      case 'And':
      case 'Or':
        return this.logic(e as Binary<'And' | 'Or'>);
      case 'Not':
        return this.not(e);
      case 'Select':
        return this.select(e);
      case 'Cast':
        return this.cast(e);
      case 'Let':
        return this.let(e);
      case 'Ramp': {
        const r = mapChildren(e, (c) => (isPrimExpr(c) ? this.simplify(c) : c));
        return isIntImm(r.stride, 0) ? broadcast(r.base, r.lanes) : r;
      }
      case 'Call':
      case 'Broadcast':
      case 'BufferLoad':
        return mapChildren(e, (c) => (isPrimExpr(c) ? this.simplify(c) : c));
    }
  }

  // ------------------------------------------------------------ helpers

  private rebuild(e: Binary, a: PrimExpr, b: PrimExpr): PrimExpr {
    return a === e.a && b === e.b ? e : binary(e.kind, a, b, e.span);
  }

  /** Fold a binary node whose operands are both scalar constants. */
  private fold(kind: BinaryKind, t: DataType, a: PrimExpr, b: PrimExpr): PrimExpr | undefined {
    if ((a.kind !== 'IntImm' && a.kind !== 'FloatImm') || (b.kind !== 'IntImm' && b.kind !== 'FloatImm'))
      return undefined;
    let v: number;
    try {
      v = applyBinary(kind, a.dtype, a.value, b.value);
    } catch (err) {
      // keep the division so that it still fails where it is evaluated
      if (isKilnError(err, 'DIVIDE_BY_ZERO')) return undefined;
      throw err;
    }
    if (isFloat(t)) return floatImm(v, t);
    if (!Number.isSafeInteger(v)) return undefined;
    return intImm(v, t);
  }

  private bound(e: PrimExpr): ConstIntBound {
    return this.an.constIntBound(e);
  }

  /** Bound of an integer difference, using symbolic variable ranges if constants do not decide. */
  private diffBound(d: PrimExpr, decided: (b: ConstIntBound) => boolean): ConstIntBound {
    const b = this.bound(d);
    if (decided(b)) return b;
    return this.an.symbolicBound(d) ?? b;
  }

  /** `a - b` in canonical form (integer operands), or undefined if not exact. */
  private difference(a: PrimExpr, b: PrimExpr): PrimExpr | undefined {
    return fromPoly(polyAddScaled(toPoly(a), toPoly(b), -1), a.dtype);
  }

  // ------------------------------------------------------------ vectors

  /**
   * Lane-wise operations on Broadcast and Ramp operands become one scalar operation, and
   * index ramps that stay inside one period of a division become Broadcast/Ramp again
   * (what tells codegen that a vectorized access is contiguous).
   */
  private vectorBinary(e: Binary): PrimExpr {
    const a = this.simplify(e.a);
    const b = this.simplify(e.b);
    const lanes = a.dtype.lanes;
    const scalar = (k: BinaryKind, x: PrimExpr, y: PrimExpr): PrimExpr => this.simplify(binary(k, x, y));
    const mkRamp = (base: PrimExpr, stride: PrimExpr): PrimExpr =>
      isIntImm(stride, 0) ? broadcast(base, lanes) : ramp(base, stride, lanes);
    if (a.kind === 'Broadcast' && b.kind === 'Broadcast')
      return broadcast(scalar(e.kind, a.value, b.value), lanes);
    if (!isIndexType(elementOf(a.dtype))) return this.rebuild(e, a, b);
    const zero = intImm(0, elementOf(a.dtype));
    switch (e.kind) {
      case 'Add':
      case 'Sub': {
        const sign = e.kind === 'Add' ? 1 : -1;
        const k = e.kind;
        if (a.kind === 'Ramp' && b.kind === 'Broadcast') return mkRamp(scalar(k, a.base, b.value), a.stride);
        if (a.kind === 'Broadcast' && b.kind === 'Ramp')
          return mkRamp(scalar(k, a.value, b.base), sign > 0 ? b.stride : scalar('Sub', zero, b.stride));
        if (a.kind === 'Ramp' && b.kind === 'Ramp')
          return mkRamp(scalar(k, a.base, b.base), scalar(k, a.stride, b.stride));
        break;
      }
      case 'Mul':
        if (a.kind === 'Ramp' && b.kind === 'Broadcast')
          return mkRamp(scalar('Mul', a.base, b.value), scalar('Mul', a.stride, b.value));
        if (a.kind === 'Broadcast' && b.kind === 'Ramp')
          return mkRamp(scalar('Mul', a.value, b.base), scalar('Mul', a.value, b.stride));
        break;
      case 'FloorDiv':
      case 'FloorMod': {
        if (a.kind !== 'Ramp' || b.kind !== 'Broadcast') break;
        const c = asConstInt(b.value);
        const s = asConstInt(a.stride);
        if (c === undefined || c <= 0 || s === undefined || s < 0) break;
        const div = e.kind === 'FloorDiv';
        const q = scalar('FloorDiv', a.base, b.value);
        const r = scalar('FloorMod', a.base, b.value);
        if (s % c === 0) return div ? mkRamp(q, intImm(s / c, zero.dtype)) : broadcast(r, lanes);
        // all lanes in the same period of c
        if (this.bound(r).max + s * (lanes - 1) < c) return div ? broadcast(q, lanes) : mkRamp(r, a.stride);
        break;
      }
      default:
        break;
    }
    return this.rebuild(e, a, b);
  }

  // ------------------------------------------------------------ Add / Sub / Mul

  /**
   * The polynomial of an integer expression. A whole Add/Sub/Mul tree is read in one go,
   * simplifying only its atoms, so a long sum is not rebuilt once per level.
   */
  private polyOf(e: PrimExpr): Poly {
    const hit = this.polyMemo.get(e);
    if (hit !== undefined) return hit;
    let p: Poly;
    if ((e.kind === 'Add' || e.kind === 'Sub' || e.kind === 'Mul') && isIndexType(e.dtype)) {
      const pa = this.polyOf(e.a);
      const pb = this.polyOf(e.b);
      if (e.kind !== 'Mul') p = polyAddScaled(pa, pb, e.kind === 'Add' ? 1 : -1);
      else {
        // merge div/mod pairs before distributing, where they are still single terms
        const na = this.normalize(pa);
        const nb = this.normalize(pb);
        p = polyMul(na, nb) ?? productAtom(na, nb, e.dtype);
      }
    } else {
      p = toPoly(this.simplify(e));
    }
    this.polyMemo.set(e, p);
    return p;
  }

  private arith(e: Binary<'Add' | 'Sub' | 'Mul'>): PrimExpr {
    if (isIndexType(e.dtype)) {
      const p = this.polyOf(e);
      const r = p.exact ? fromPoly(this.normalize(p), e.dtype) : undefined;
      if (r !== undefined) return r;
    }
    const a = this.simplify(e.a);
    const b = this.simplify(e.b);
    const folded = this.fold(e.kind, e.dtype, a, b);
    if (folded) return folded;
    if (isIndexType(e.dtype)) return this.rebuild(e, a, b);
    const one = (x: PrimExpr): boolean => (x.kind === 'IntImm' || x.kind === 'FloatImm') && x.value === 1;
    const zero = (x: PrimExpr): boolean => x.kind === 'IntImm' && x.value === 0;
    if (e.kind === 'Mul') {
      if (one(b)) return a;
      if (one(a)) return b;
      if (e.dtype.code !== 'float' && e.dtype.code !== 'bfloat' && (zero(a) || zero(b)))
        return intImm(0, e.dtype);
    }
    // x - 0 is exact for floats too; x + 0 is not (-0 + 0 is +0)
    if (e.kind === 'Sub' && (zero(b) || (b.kind === 'FloatImm' && b.value === 0))) return a;
    if (e.kind === 'Add' && !isFloat(e.dtype)) {
      if (zero(b)) return a;
      if (zero(a)) return b;
    }
    return this.rebuild(e, a, b);
  }

  /**
   * Merge `c*k*floordiv(x, c) + k*floormod(x, c)` into `k*x` (and the truncated pair):
   * the shape a split followed by a fuse leaves behind.
   */
  private normalize(p: Poly): Poly {
    for (let round = 0; round < MAX_REWRITE_ROUNDS; round++) {
      const next = this.mergeDivMod(p);
      if (next === undefined) return p;
      p = next;
    }
    return p;
  }

  private mergeDivMod(p: Poly): Poly | undefined {
    for (const t of p.terms) {
      if (t.atoms.length !== 1) continue;
      const d = t.atoms[0];
      if (d.kind !== 'FloorDiv' && d.kind !== 'Div') continue;
      const c = asConstInt(d.b);
      if (c === undefined || c === 0 || t.coef % c !== 0) continue;
      const k = t.coef / c;
      const modKind = d.kind === 'FloorDiv' ? 'FloorMod' : 'Mod';
      const m = p.terms.find(
        (u) =>
          u.atoms.length === 1 &&
          u.coef === k &&
          u.atoms[0].kind === modKind &&
          compareExpr((u.atoms[0] as Binary).a, d.a) === 0 &&
          compareExpr((u.atoms[0] as Binary).b, d.b) === 0,
      );
      if (!m) continue;
      let q = polyAddScaled(p, termPoly(t), -1);
      q = polyAddScaled(q, termPoly(m), -1);
      return polyAddScaled(q, toPoly(d.a), k);
    }
    return undefined;
  }

  // ------------------------------------------------------------ division

  private division(e: Binary<'Div' | 'Mod' | 'FloorDiv' | 'FloorMod'>): PrimExpr {
    const a = this.simplify(e.a);
    const b = this.simplify(e.b);
    const folded = this.fold(e.kind, e.dtype, a, b);
    if (folded) return folded;
    const isDiv = e.kind === 'Div' || e.kind === 'FloorDiv';
    const t = e.dtype;
    if (!isIndexType(t)) {
      if (isDiv && (b.kind === 'IntImm' || b.kind === 'FloatImm') && b.value === 1) return a;
      return this.rebuild(e, a, b);
    }
    const c = asConstInt(b);
    if (c === 1) return isDiv ? a : intImm(0, t);
    if (c === -1)
      return isDiv ? (fromPoly(polyScale(toPoly(a), -1), t) ?? this.rebuild(e, a, b)) : intImm(0, t);
    const floorKind = e.kind === 'FloorDiv' || e.kind === 'FloorMod';
    if (c !== undefined && c > 0) {
      // truncated and floored division agree on a non-negative dividend
      if (floorKind || this.bound(a).min >= 0)
        return this.divModByConst(isDiv, floorKind, a, c, t) ?? this.rebuild(e, a, b);
      return this.rebuild(e, a, b);
    }
    if (c === undefined) {
      // 0 <= a < b: the quotient is 0 and the remainder a
      if (this.bound(a).min >= 0 && this.bound(b).min > 0) {
        const d = this.difference(a, b);
        if (d !== undefined && this.diffBound(d, (x) => x.max < 0).max < 0) return isDiv ? intImm(0, t) : a;
      }
      // a is a multiple of the atom b: exact division
      const q = exactQuotient(toPoly(a), b);
      if (q !== undefined) {
        const r = isDiv ? fromPoly(q, t) : intImm(0, t);
        if (r !== undefined) return r;
      }
    }
    return this.rebuild(e, a, b);
  }

  /**
   * floordiv/floormod (or their truncated forms on a non-negative dividend) by a positive
   * constant: `a = c*q + r`, so `a / c = q + r / c` and `a % c = r % c`, and `r / c` folds
   * when the bound of r fits in one period.
   */
  private divModByConst(
    isDiv: boolean,
    floorKind: boolean,
    a: PrimExpr,
    c: number,
    t: DataType,
  ): PrimExpr | undefined {
    const pa = toPoly(a);
    if (!pa.exact) return undefined;
    const qTerms: Term[] = [];
    const rTerms: Term[] = [];
    for (const x of pa.terms) {
      if (x.coef % c === 0) qTerms.push({ atoms: x.atoms, coef: x.coef / c });
      else rTerms.push(x);
    }
    const q: Poly = { terms: qTerms, constant: floorDiv(pa.constant, c), exact: true };
    let r: Poly = { terms: rTerms, constant: floorMod(pa.constant, c), exact: true };

    // divide out a common factor: floordiv(g*y, g*c') == floordiv(y, c'), floormod == g*floormod(y, c')
    let g = c;
    for (const x of r.terms) g = gcd(g, x.coef);
    g = gcd(g, r.constant);
    const c2 = c / g;
    if (g > 1) r = polyScaleDown(r, g);

    // floordiv(floordiv(x, ci) + k, c2) == floordiv(x + k*ci, c2*ci)
    if (isDiv && r.terms.length === 1 && r.terms[0].coef === 1 && r.terms[0].atoms.length === 1) {
      const inner = r.terms[0].atoms[0];
      const ci =
        inner.kind === 'FloorDiv' || (inner.kind === 'Div' && this.bound(inner.a).min >= 0)
          ? asConstInt((inner as Binary).b)
          : undefined;
      if (ci !== undefined && ci > 0 && Number.isSafeInteger(c2 * ci)) {
        const x = fromPoly(polyAddScaled(toPoly((inner as Binary).a), constPoly(r.constant * ci), 1), t);
        const inner2 = x && this.divModByConst(true, true, x, c2 * ci, t);
        if (inner2) return fromPoly(this.normalize(polyAddScaled(q, toPoly(inner2), 1)), t);
      }
    }
    // floormod(floormod(x, ci), c2) == floormod(x, c2) when c2 divides ci
    if (!isDiv) {
      let replaced = false;
      let r2 = constPoly(r.constant);
      for (const x of r.terms) {
        const at = x.atoms[0];
        const ci =
          x.atoms.length === 1 && (at.kind === 'FloorMod' || (at.kind === 'Mod' && this.bound(at.a).min >= 0))
            ? asConstInt((at as Binary).b)
            : undefined;
        if (ci !== undefined && ci > 0 && ci % c2 === 0) {
          r2 = polyAddScaled(r2, toPoly((at as Binary).a), x.coef);
          replaced = true;
        } else r2 = polyAddScaled(r2, termPoly(x), 1);
      }
      if (replaced) {
        const x = fromPoly(r2, t);
        const m = x && this.divModByConst(false, true, x, c2, t);
        if (m) return fromPoly(polyScale(toPoly(m), g), t);
      }
    }

    const rExpr = fromPoly(r, t);
    if (rExpr === undefined) return undefined;
    const rb = this.bound(rExpr);
    let residual: Poly;
    if (Number.isFinite(rb.min) && Number.isFinite(rb.max) && floorDiv(rb.min, c2) === floorDiv(rb.max, c2)) {
      const m = floorDiv(rb.min, c2);
      residual = isDiv ? constPoly(m) : polyScale(polyAddScaled(r, constPoly(-m * c2), 1), g);
    } else {
      const split = this.splitByFactor(r, c2, t);
      if (split) {
        // r = c1*X + Y with 0 <= Y < c1 and c1 | c2: floordiv(r, c2) = floordiv(X, c2/c1),
        // floormod(r, c2) = c1*floormod(X, c2/c1) + Y
        const { c1, x, y } = split;
        const inner =
          this.divModByConst(isDiv, floorKind || this.bound(x).min < 0, x, c2 / c1, t) ??
          binary(isDiv ? 'FloorDiv' : 'FloorMod', x, intImm(c2 / c1, t));
        residual = isDiv ? toPoly(inner) : polyScale(polyAddScaled(y, toPoly(inner), c1), g);
      } else {
        const kind = floorKind || rb.min < 0 ? (isDiv ? 'FloorDiv' : 'FloorMod') : isDiv ? 'Div' : 'Mod';
        residual = polyScale(atomPoly(binary(kind, rExpr, intImm(c2, t))), isDiv ? 1 : g);
      }
    }
    return fromPoly(this.normalize(isDiv ? polyAddScaled(q, residual, 1) : residual), t);
  }

  /**
   * Find a proper factor c1 of c with r = c1*X + Y, X the terms whose coefficients c1
   * divides and Y the rest with 0 <= Y < c1 (a fused index `i*4 + j`, j < 4, divided by 8).
   * The largest such factor wins.
   */
  private splitByFactor(r: Poly, c: number, t: DataType): { c1: number; x: PrimExpr; y: Poly } | undefined {
    if (c > 1 << 20 || r.terms.length === 0) return undefined;
    const divisors: number[] = [];
    for (let d = 2; d * d <= c; d++) {
      if (c % d === 0) divisors.push(d, c / d);
    }
    divisors.sort((p, q) => q - p);
    for (const c1 of divisors) {
      if (c1 === c) continue;
      const xs: Term[] = [];
      const ys: Term[] = [];
      for (const term of r.terms) (term.coef % c1 === 0 ? xs : ys).push(term);
      if (xs.length === 0) continue;
      const y: Poly = { terms: ys, constant: r.constant, exact: true };
      const yExpr = fromPoly(y, t);
      if (yExpr === undefined) continue;
      const yb = this.bound(yExpr);
      if (yb.min < 0 || yb.max >= c1) continue;
      const x = fromPoly(
        { terms: xs.map((u) => ({ atoms: u.atoms, coef: u.coef / c1 })), constant: 0, exact: true },
        t,
      );
      if (x !== undefined) return { c1, x, y };
    }
    return undefined;
  }

  // ------------------------------------------------------------ Min / Max

  private minMax(e: Binary<'Min' | 'Max'>): PrimExpr {
    let a = this.simplify(e.a);
    let b = this.simplify(e.b);
    // both operands are always evaluated, so the order is free: make it canonical
    // (constants last), before the rules below look for a constant operand
    if (!isFloat(e.dtype) && compareExpr(a, b) > 0) [a, b] = [b, a];
    const folded = this.fold(e.kind, e.dtype, a, b);
    if (folded) return folded;
    if (compareExpr(a, b) === 0) return a;
    if (isIndexType(e.dtype)) {
      const d = this.difference(a, b);
      if (d !== undefined) {
        const db = this.diffBound(d, (x) => x.max <= 0 || x.min >= 0);
        if (db.max <= 0) return e.kind === 'Min' ? a : b;
        if (db.min >= 0) return e.kind === 'Min' ? b : a;
      }
      // min(min(x, c1), c2) == min(x, min(c1, c2))
      const c2 = asConstInt(b);
      if (c2 !== undefined && a.kind === e.kind) {
        const c1 = asConstInt((a as Binary).b);
        if (c1 !== undefined) {
          const c = e.kind === 'Min' ? Math.min(c1, c2) : Math.max(c1, c2);
          return this.simplify(binary(e.kind, (a as Binary).a, intImm(c, e.dtype)));
        }
      }
    }
    return this.rebuild(e, a, b);
  }

  // ------------------------------------------------------------ comparisons and logic

  private compare(e: Binary<CompareKind>): PrimExpr {
    const a = this.simplify(e.a);
    const b = this.simplify(e.b);
    const folded = this.fold(e.kind, e.dtype, a, b);
    if (folded) return folded;
    if (!isIndexType(a.dtype) || e.dtype.lanes !== 1) {
      const r = this.rebuild(e, a, b);
      const known = this.an.knownTruth(r);
      return known === undefined ? r : boolImm(known);
    }
    const p = polyAddScaled(toPoly(a), toPoly(b), -1);
    const d = fromPoly(p, a.dtype);
    if (d === undefined) return this.rebuild(e, a, b);
    const decide = (x: ConstIntBound): boolean | undefined => {
      switch (e.kind) {
        case 'LT':
          return x.max < 0 ? true : x.min >= 0 ? false : undefined;
        case 'LE':
          return x.max <= 0 ? true : x.min > 0 ? false : undefined;
        case 'GT':
          return x.min > 0 ? true : x.max <= 0 ? false : undefined;
        case 'GE':
          return x.min >= 0 ? true : x.max < 0 ? false : undefined;
        case 'EQ':
          return x.min === 0 && x.max === 0 ? true : x.min > 0 || x.max < 0 ? false : undefined;
        case 'NE':
          return x.min === 0 && x.max === 0 ? false : x.min > 0 || x.max < 0 ? true : undefined;
      }
    };
    const verdict = decide(this.diffBound(d, (x) => decide(x) !== undefined));
    if (verdict !== undefined) return boolImm(verdict);
    const r = canonicalCompare(e.kind, p, a.dtype);
    if (r.kind === 'IntImm') return r;
    if (this.an.knownTruth(r)) return boolImm(true);
    if (this.an.knownTruth(canonicalCompare(FLIP[e.kind], p, a.dtype))) return boolImm(false);
    return r;
  }

  private logic(e: Binary<'And' | 'Or'>): PrimExpr {
    const a = this.simplify(e.a);
    let b = this.simplify(e.b);
    if (e.dtype.lanes === 1) {
      const absorbing = e.kind === 'And' ? isFalse : isTrue;
      const neutral = e.kind === 'And' ? isTrue : isFalse;
      if (absorbing(a) || absorbing(b)) return boolImm(e.kind === 'Or');
      if (neutral(a)) return b;
      if (neutral(b)) return a;
      if (compareExpr(a, b) === 0) return a;
      // x && !x, x || !x
      if (compareExpr(a, this.negation(b)) === 0) return boolImm(e.kind === 'Or');
      // b is only evaluated when a holds (And) or fails (Or)
      b = this.underConstraint(e.kind === 'And' ? a : this.negation(a), b);
      if (absorbing(b)) return boolImm(e.kind === 'Or');
      if (neutral(b)) return a;
      // b implies a (And) or not-b implies not-a (Or): a is redundant
      const a2 = this.underConstraint(e.kind === 'And' ? b : this.negation(b), a);
      if (neutral(a2)) return b;
    }
    return this.rebuild(e, a, b);
  }

  /** The negation of a simplified condition, itself in canonical form. */
  private negation(c: PrimExpr): PrimExpr {
    if (isCompare(c.kind) && c.dtype.lanes === 1) {
      const x = c as Binary<CompareKind>;
      if (isIndexType(x.a.dtype)) {
        const p = polyAddScaled(toPoly(x.a), toPoly(x.b), -1);
        if (p.exact) return canonicalCompare(FLIP[x.kind], p, x.a.dtype);
      }
    }
    return negate(c);
  }

  /**
   * Re-simplify `x` knowing `cond` (for an arm only used when `cond` holds). Only one level
   * deep and for small `x`: nested conditions would otherwise re-simplify subtrees
   * exponentially often.
   */
  private underConstraint(cond: PrimExpr, x: PrimExpr): PrimExpr {
    if (x.kind === 'IntImm' || x.kind === 'FloatImm' || (constraintNesting.get(this.an) ?? 0) > 0) return x;
    const nodes = collect(x, () => true);
    if (nodes.length > MAX_CONSTRAINED_SIZE) return x;
    // only the conjuncts that mention a variable of x can help
    const vars = new Set(nodes.filter((n) => n.kind === 'Var'));
    const parts = conjunctsOf(cond).filter((c) => collect(c, (n) => vars.has(n)).length > 0);
    if (parts.length === 0) return x;
    cond = parts.reduce((p, q) => binary('And', p, q));
    // Under the condition a divisor may simplify to something that is zero where the
    // condition fails; an eagerly evaluated arm (Select, vector And) would then fault.
    if (nodes.some((n) => isDivision(n) && !isNonZeroConst((n as Binary).b))) return x;
    constraintNesting.set(this.an, 1);
    try {
      const r = this.an.withSimplifiedConstraint(cond, () => this.an.simplify(x));
      return r !== x && structuralEqual(r, x) ? x : r;
    } finally {
      constraintNesting.delete(this.an);
    }
  }

  private not(e: Not): PrimExpr {
    const a = this.simplify(e.a);
    if (e.dtype.lanes === 1) {
      if (a.kind === 'IntImm') return boolImm(a.value === 0);
      const n = this.negation(a);
      if (n.kind !== 'Not') return n;
    }
    return a === e.a ? e : not(a, e.span);
  }

  private select(e: Select): PrimExpr {
    const c = this.simplify(e.cond);
    if (c.kind === 'IntImm' && e.cond.dtype.lanes === 1)
      return c.value !== 0 ? this.simplify(e.t) : this.simplify(e.f);
    const t = this.underConstraint(c, this.simplify(e.t));
    const f = this.underConstraint(this.negation(c), this.simplify(e.f));
    if (compareExpr(t, f) === 0) return t;
    return c === e.cond && t === e.t && f === e.f ? e : select(c, t, f, e.span);
  }

  private cast(e: Cast): PrimExpr {
    const v = this.simplify(e.value);
    const t = e.dtype;
    if (v.dtype === t) return v;
    const numeric = t.code === 'int' || t.code === 'uint' || t.code === 'bool' || isFloat(t);
    if ((v.kind === 'IntImm' || v.kind === 'FloatImm') && t.lanes === 1 && numeric) {
      const val = castValue(t, v.value);
      if (isFloat(t)) return floatImm(val, t);
      if (Number.isSafeInteger(val)) return intImm(val, t);
    }
    // int64(int32(y)) with y: int64 is y when y fits in int32 (index dtype round trips)
    if (v.kind === 'Cast' && v.value.dtype === t && isIndexType(t) && isIndexType(v.dtype)) {
      const yb = this.bound(v.value);
      const rb = dtypeBound(v.dtype);
      if (yb.min >= rb.min && yb.max <= rb.max) return v.value;
    }
    return v === e.value ? e : cast(e.dtype, v, e.span);
  }

  private let(e: Let): PrimExpr {
    const value = this.simplify(e.value);
    // constants and variables are free to duplicate: inline them
    if (value.kind === 'IntImm' || value.kind === 'FloatImm' || value.kind === 'Var') {
      return this.simplify(substitute(e.body, new Map([[e.var, value]])));
    }
    const outer = this.memo;
    const outerPoly = this.polyMemo;
    this.memo = new Map();
    this.polyMemo = new Map();
    let body: PrimExpr;
    try {
      body = isIndexType(e.var.dtype)
        ? this.an.withBinding(e.var, this.bound(value), () => this.simplify(e.body))
        : this.simplify(e.body);
    } finally {
      this.memo = outer;
      this.polyMemo = outerPoly;
    }
    if (!usesVar(body, e.var)) return body;
    return value === e.value && body === e.body ? e : letExpr(e.var, value, body, e.span);
  }
}

// ---------------------------------------------------------------- free helpers

/** A product too large to expand: one atom, its two factors in canonical order. */
function productAtom(a: Poly, b: Poly, t: DataType): Poly {
  const x = fromPoly(a, t);
  const y = fromPoly(b, t);
  if (x === undefined || y === undefined) return { terms: [], constant: 0, exact: false };
  const [p, q] = compareExpr(x, y) <= 0 ? [x, y] : [y, x];
  return atomPoly(mul(p, q));
}

function termPoly(t: Term): Poly {
  return { terms: [t], constant: 0, exact: true };
}

function polyScaleDown(p: Poly, g: number): Poly {
  return {
    terms: p.terms.map((t) => ({ atoms: t.atoms, coef: t.coef / g })),
    constant: p.constant / g,
    exact: p.exact,
  };
}

/** p / atom when every monomial of p contains `atom` (and the constant is 0). */
function exactQuotient(p: Poly, atom: PrimExpr): Poly | undefined {
  if (!p.exact || p.constant !== 0 || p.terms.length === 0) return undefined;
  const divisor = toPoly(atom);
  if (divisor.terms.length !== 1 || divisor.constant !== 0 || divisor.terms[0].coef !== 1) return undefined;
  const dAtoms = divisor.terms[0].atoms;
  let out = constPoly(0);
  for (const t of p.terms) {
    const rest = [...t.atoms];
    for (const d of dAtoms) {
      const i = rest.findIndex((x) => compareExpr(x, d) === 0);
      if (i < 0) return undefined;
      rest.splice(i, 1);
    }
    const mono: Poly =
      rest.length === 0
        ? constPoly(t.coef)
        : { terms: [{ atoms: rest, coef: t.coef }], constant: 0, exact: true };
    out = polyAddScaled(out, mono, 1);
  }
  return out;
}

/** The logical negation of a condition, pushed into integer comparisons. */
export function negate(c: PrimExpr): PrimExpr {
  if (c.kind === 'Not') return c.a;
  if (isCompare(c.kind) && isIndexType((c as Binary).a.dtype) && c.dtype.lanes === 1) {
    const k = FLIP[c.kind as CompareKind];
    return binary(k, (c as Binary).a, (c as Binary).b, c.span);
  }
  if (c.kind === 'IntImm') return boolImm(c.value === 0);
  return not(c);
}

/**
 * The canonical comparison `p op 0` (p = lhs - rhs): GT/GE become LT/LE with the sides
 * swapped, the common factor of the coefficients is divided out (rounding the constant
 * the sound way), EQ/NE get a positive leading term, then positive terms go left,
 * negative ones right, and the constant to the side where it is positive.
 */
export function canonicalCompare(kind: CompareKind, p: Poly, t: DataType): PrimExpr {
  let k: CompareKind = kind;
  let q = p;
  if (k === 'GT' || k === 'GE') {
    q = polyScale(q, -1);
    k = k === 'GT' ? 'LT' : 'LE';
  }
  if ((k === 'EQ' || k === 'NE') && q.terms.length > 0 && q.terms[0].coef < 0) q = polyScale(q, -1);
  let g = 0;
  for (const x of q.terms) g = gcd(g, x.coef);
  if (g > 1) {
    const kc = q.constant;
    let c: number;
    if (k === 'LT') c = floorDiv(kc, g);
    else if (k === 'LE') c = -floorDiv(-kc, g);
    else {
      if (kc % g !== 0) return boolImm(k === 'NE');
      c = kc / g;
    }
    q = { terms: q.terms.map((x) => ({ atoms: x.atoms, coef: x.coef / g })), constant: c, exact: q.exact };
  }
  const lhs: Poly = {
    terms: q.terms.filter((x) => x.coef > 0),
    constant: Math.max(q.constant, 0),
    exact: q.exact,
  };
  const rhs: Poly = {
    terms: q.terms.filter((x) => x.coef < 0).map((x) => ({ atoms: x.atoms, coef: -x.coef })),
    constant: Math.max(-q.constant, 0),
    exact: q.exact,
  };
  const l = fromPoly(lhs, t);
  const r = fromPoly(rhs, t);
  if (l === undefined || r === undefined) internalError('canonicalCompare on an inexact polynomial');
  return binary(k, l, r);
}

function conjunctsOf(c: PrimExpr): PrimExpr[] {
  return c.kind === 'And' ? [...conjunctsOf(c.a), ...conjunctsOf(c.b)] : [c];
}

function isNonZeroConst(e: PrimExpr): boolean {
  return e.kind === 'IntImm' && e.value !== 0;
}

function isDivision(n: { kind: string }): boolean {
  return n.kind === 'Div' || n.kind === 'Mod' || n.kind === 'FloorDiv' || n.kind === 'FloorMod';
}

function usesVar(e: PrimExpr, v: Var): boolean {
  return collect(e, (n) => n === v).length > 0;
}
