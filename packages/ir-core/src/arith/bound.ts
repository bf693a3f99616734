// Constant integer bound analysis: an inclusive [min, max] (±Infinity when unknown) that
// every value of an expression is proven to lie in, given the ranges of its variables.
// Sound by construction: each rule takes the extremes of a monotone function over a box.
import type { DataType } from '../dtype.js';
import { intRange } from '../dtype.js';
import type { PrimExpr, Var } from '../expr.js';
import { castValue, floorDiv, floorMod, truncDiv, truncMod } from './util.js';

export interface ConstIntBound {
  readonly min: number;
  readonly max: number;
}

export const EVERYTHING: ConstIntBound = Object.freeze({ min: -Infinity, max: Infinity });

/** Build a bound, widening anything beyond the exactly representable integers to ±Infinity. */
export function makeBound(min: number, max: number): ConstIntBound {
  if (Number.isNaN(min) || min < -Number.MAX_SAFE_INTEGER) min = -Infinity;
  else if (min > Number.MAX_SAFE_INTEGER) min = Number.MAX_SAFE_INTEGER;
  if (Number.isNaN(max) || max > Number.MAX_SAFE_INTEGER) max = Infinity;
  else if (max < -Number.MAX_SAFE_INTEGER) max = -Number.MAX_SAFE_INTEGER;
  return { min, max };
}

/** The bound every value of dtype `t` has by itself (int64 and floats: unknown). */
export function dtypeBound(t: DataType): ConstIntBound {
  if (t.code === 'bool') return { min: 0, max: 1 };
  if (t.code === 'int' || t.code === 'uint') {
    if (t.bits >= 53) return { min: t.code === 'uint' ? 0 : -Infinity, max: Infinity };
    const [lo, hi] = intRange(t);
    return { min: lo, max: hi };
  }
  return EVERYTHING;
}

export function intersectBound(a: ConstIntBound, b: ConstIntBound): ConstIntBound {
  return { min: Math.max(a.min, b.min), max: Math.min(a.max, b.max) };
}
export function unionBound(a: ConstIntBound, b: ConstIntBound): ConstIntBound {
  return { min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
}

const mulSafe = (x: number, y: number): number => (x === 0 || y === 0 ? 0 : x * y);

function corners(a: ConstIntBound, b: ConstIntBound, f: (x: number, y: number) => number): ConstIntBound {
  const v = [f(a.min, b.min), f(a.min, b.max), f(a.max, b.min), f(a.max, b.max)];
  return makeBound(Math.min(...v), Math.max(...v));
}

// Quotient at a corner of the box, with the limits of infinite corners.
function divCorner(x: number, y: number, floor: boolean): number {
  if (!Number.isFinite(x)) return Number.isFinite(y) ? x * Math.sign(y) : 0;
  if (!Number.isFinite(y)) return floor && x !== 0 && x < 0 !== y < 0 ? -1 : 0;
  return floor ? floorDiv(x, y) : truncDiv(x, y);
}

// Quotient bound: split the divisor at zero, where it is not monotone (zero itself is a
// division error, so it contributes no value).
function divBound(a: ConstIntBound, b: ConstIntBound, floor: boolean): ConstIntBound {
  const parts: ConstIntBound[] = [];
  if (b.min < 0) parts.push({ min: b.min, max: Math.min(b.max, -1) });
  if (b.max > 0) parts.push({ min: Math.max(b.min, 1), max: b.max });
  if (parts.length === 0) return EVERYTHING;
  return parts.map((p) => corners(a, p, (x, y) => divCorner(x, y, floor))).reduce(unionBound);
}

function truncModBound(a: ConstIntBound, b: ConstIntBound): ConstIntBound {
  if (
    b.min === b.max &&
    Number.isFinite(b.min) &&
    b.min !== 0 &&
    Number.isFinite(a.min) &&
    Number.isFinite(a.max)
  ) {
    const c = b.min;
    // within one quotient bucket the remainder is a - q*c, monotone in a
    if (truncDiv(a.min, c) === truncDiv(a.max, c) && (a.min >= 0 || a.max <= 0)) {
      return { min: truncMod(a.min, c), max: truncMod(a.max, c) };
    }
  }
  const m = Math.max(Math.abs(b.min), Math.abs(b.max)) - 1;
  if (m < 0) return EVERYTHING;
  return makeBound(a.min >= 0 ? 0 : Math.max(a.min, -m), a.max <= 0 ? 0 : Math.min(a.max, m));
}

function floorModBound(a: ConstIntBound, b: ConstIntBound): ConstIntBound {
  if (
    b.min === b.max &&
    Number.isFinite(b.min) &&
    b.min !== 0 &&
    Number.isFinite(a.min) &&
    Number.isFinite(a.max)
  ) {
    const c = b.min;
    if (floorDiv(a.min, c) === floorDiv(a.max, c))
      return { min: floorMod(a.min, c), max: floorMod(a.max, c) };
  }
  if (b.min > 0) return makeBound(0, a.min >= 0 ? Math.min(a.max, b.max - 1) : b.max - 1);
  if (b.max < 0) return makeBound(a.max <= 0 ? Math.max(a.min, b.min + 1) : b.min + 1, 0);
  return makeBound(Math.min(b.min + 1, 0), Math.max(b.max - 1, 0));
}

function compareBound(
  kind: 'EQ' | 'NE' | 'LT' | 'LE' | 'GT' | 'GE',
  a: ConstIntBound,
  b: ConstIntBound,
): ConstIntBound {
  const T = { min: 1, max: 1 };
  const F = { min: 0, max: 0 };
  const U = { min: 0, max: 1 };
  switch (kind) {
    case 'LT':
      return a.max < b.min ? T : a.min >= b.max ? F : U;
    case 'LE':
      return a.max <= b.min ? T : a.min > b.max ? F : U;
    case 'GT':
      return a.min > b.max ? T : a.max <= b.min ? F : U;
    case 'GE':
      return a.min >= b.max ? T : a.max < b.min ? F : U;
    case 'EQ':
      if (a.min === a.max && b.min === b.max && a.min === b.min && Number.isFinite(a.min)) return T;
      return a.max < b.min || a.min > b.max ? F : U;
    case 'NE':
      if (a.min === a.max && b.min === b.max && a.min === b.min && Number.isFinite(a.min)) return F;
      return a.max < b.min || a.min > b.max ? T : U;
  }
}

/**
 * Compute the bound of `e`. `varBound` supplies what is known about a free variable;
 * `cache` (optional) memoizes results for nodes outside any Let scope.
 */
export function computeConstIntBound(
  e: PrimExpr,
  varBound: (v: Var) => ConstIntBound | undefined,
  cache?: Map<PrimExpr, ConstIntBound>,
): ConstIntBound {
  const letBound = new Map<Var, ConstIntBound>();
  const rec = (x: PrimExpr): ConstIntBound => {
    if (letBound.size === 0 && cache) {
      const hit = cache.get(x);
      if (hit) return hit;
      const r = compute(x);
      cache.set(x, r);
      return r;
    }
    return compute(x);
  };
  const compute = (x: PrimExpr): ConstIntBound => {
    switch (x.kind) {
      case 'IntImm':
        return { min: x.value, max: x.value };
      case 'FloatImm':
        return Number.isFinite(x.value) ? { min: Math.floor(x.value), max: Math.ceil(x.value) } : EVERYTHING;
      case 'Var': {
        const own = dtypeBound(x.dtype);
        const b = letBound.get(x) ?? varBound(x);
        return b ? intersectBound(own, b) : own;
      }
      case 'Let': {
        const vb = rec(x.value);
        const prev = letBound.get(x.var);
        letBound.set(x.var, vb);
        try {
          return rec(x.body);
        } finally {
          if (prev) letBound.set(x.var, prev);
          else letBound.delete(x.var);
        }
      }
      case 'Broadcast':
        return rec(x.value);
      case 'Ramp': {
        const base = rec(x.base);
        const step = corners(rec(x.stride), { min: 0, max: x.lanes - 1 }, mulSafe);
        return makeBound(base.min + step.min, base.max + step.max);
      }
      case 'Cast': {
        const t = x.dtype;
        const v = rec(x.value);
        if (t.code === 'bool') {
          if (v.min > 0 || v.max < 0) return { min: 1, max: 1 };
          if (v.min === 0 && v.max === 0) return { min: 0, max: 0 };
          return { min: 0, max: 1 };
        }
        if (t.code === 'int' || t.code === 'uint') {
          const lo = Number.isFinite(v.min) ? castValue(t, v.min) : v.min;
          const hi = Number.isFinite(v.max) ? castValue(t, v.max) : v.max;
          return makeBound(lo, hi);
        }
        return v;
      }
      case 'Not': {
        const a = rec(x.a);
        return { min: a.max === 0 ? 1 : 0, max: a.min > 0 || a.max < 0 ? 0 : 1 };
      }
      case 'Select': {
        const c = rec(x.cond);
        if (c.min > 0 || c.max < 0) return rec(x.t);
        if (c.min === 0 && c.max === 0) return rec(x.f);
        return unionBound(rec(x.t), rec(x.f));
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Mod':
      case 'FloorDiv':
      case 'FloorMod':
      case 'Min':
      case 'Max':
      case 'EQ':
      case 'NE':
      case 'LT':
      case 'LE':
      case 'GT':
      case 'GE':
      case 'And':
      case 'Or': {
        const fl = x.a.dtype.code === 'float' || x.a.dtype.code === 'bfloat';
        const a = rec(x.a);
        const b = rec(x.b);
        switch (x.kind) {
          case 'Add':
            return makeBound(a.min + b.min, a.max + b.max);
          case 'Sub':
            return makeBound(a.min - b.max, a.max - b.min);
          case 'Mul':
            return corners(a, b, mulSafe);
          case 'Div':
            return fl ? EVERYTHING : divBound(a, b, false);
          case 'FloorDiv':
            return fl ? EVERYTHING : divBound(a, b, true);
          case 'Mod':
            return fl ? EVERYTHING : truncModBound(a, b);
          case 'FloorMod':
            return fl ? EVERYTHING : floorModBound(a, b);
          case 'Min':
            return { min: Math.min(a.min, b.min), max: Math.min(a.max, b.max) };
          case 'Max':
            return { min: Math.max(a.min, b.min), max: Math.max(a.max, b.max) };
          case 'And':
            return { min: a.min > 0 && b.min > 0 ? 1 : 0, max: a.max > 0 && b.max > 0 ? 1 : 0 };
          case 'Or':
            return { min: a.min > 0 || b.min > 0 ? 1 : 0, max: a.max > 0 || b.max > 0 ? 1 : 0 };
          default:
            // float bounds from floor/ceil of constants are not exact enough to compare
            return fl ? { min: 0, max: 1 } : compareBound(x.kind, a, b);
        }
      }
      case 'Call':
      case 'BufferLoad':
      case 'StringImm':
        return dtypeBound(x.dtype);
    }
  };
  return rec(e);
}
