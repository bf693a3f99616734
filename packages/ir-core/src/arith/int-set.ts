// Interval-set analysis: the symbolic inclusive interval [min, max] an integer expression
// covers when some of its variables range over intervals (loop domains, block regions).
// Bounds are PrimExprs (e.g. [0, n*4 - 1]); an absent side means unbounded.
import type { PrimExpr, Var } from '../expr.js';
import { add, binary, intImm, max as maxE, min as minE, mul, sub } from '../expr.js';
import { collect } from '../visitor.js';
import type { Analyzer } from './analyzer.js';
import { isIndexType } from './util.js';

export interface IntervalSet {
  /** Inclusive lower bound; undefined: unbounded below. */
  readonly min?: PrimExpr;
  /** Inclusive upper bound; undefined: unbounded above. */
  readonly max?: PrimExpr;
}

export function intervalSet(min: PrimExpr | undefined, max: PrimExpr | undefined): IntervalSet {
  return Object.freeze({ min, max });
}
export function pointSet(e: PrimExpr): IntervalSet {
  return intervalSet(e, e);
}
export const EVERYTHING_SET: IntervalSet = Object.freeze({});

/** Is the set a single value (its two bounds the same node)? */
export function isSinglePoint(s: IntervalSet): boolean {
  return s.min !== undefined && s.min === s.max;
}

type Lift = (x: PrimExpr, y: PrimExpr) => PrimExpr;
const both = (f: Lift, x?: PrimExpr, y?: PrimExpr): PrimExpr | undefined => (x && y ? f(x, y) : undefined);

/**
 * The interval of `e` when each variable in `dom` ranges over its set (other variables
 * are fixed symbols). Uses `an` to simplify bounds and to prove signs of multipliers.
 */
export function evalIntSet(
  e: PrimExpr,
  dom: ReadonlyMap<Var, IntervalSet>,
  an: Analyzer,
  options: { simplifyBounds?: boolean } = {},
): IntervalSet {
  // A caller that simplifies the final bound itself skips the per-node simplification.
  const simplifyBounds = options.simplifyBounds ?? true;
  const simp = (s: IntervalSet): IntervalSet => {
    if (!simplifyBounds) return s.min !== undefined && s.min === s.max ? pointSet(s.min) : s;
    if (s.min !== undefined && s.min === s.max) return pointSet(an.simplify(s.min));
    const lo = s.min && an.simplify(s.min);
    const hi = s.max && an.simplify(s.max);
    return lo !== undefined && hi !== undefined && lo !== hi && an.canProveEqual(lo, hi)
      ? pointSet(lo)
      : intervalSet(lo, hi);
  };
  const touchesDom = (x: PrimExpr): boolean =>
    dom.size > 0 && collect(x, (n) => dom.has(n as Var)).length > 0;
  // Fallback: the constant bound under the domain's constant bounds.
  const viaConstBound = (x: PrimExpr): IntervalSet => {
    const bindings = new Map<Var, { min: PrimExpr | number; max: PrimExpr | number }>();
    for (const [v, s] of dom) bindings.set(v, { min: s.min ?? -Infinity, max: s.max ?? Infinity });
    const b = an.withBindings(bindings, () => an.constIntBound(x));
    return intervalSet(
      Number.isFinite(b.min) ? intImm(b.min, x.dtype) : undefined,
      Number.isFinite(b.max) ? intImm(b.max, x.dtype) : undefined,
    );
  };
  const rec = (x: PrimExpr): IntervalSet => {
    if (!isIndexType(x.dtype)) return touchesDom(x) ? EVERYTHING_SET : pointSet(x);
    if (x.kind === 'Var') return dom.get(x) ?? pointSet(x);
    if (!touchesDom(x)) return pointSet(x);
    switch (x.kind) {
      case 'Add': {
        const a = rec(x.a);
        const b = rec(x.b);
        return simp(intervalSet(both(add, a.min, b.min), both(add, a.max, b.max)));
      }
      case 'Sub': {
        const a = rec(x.a);
        const b = rec(x.b);
        return simp(intervalSet(both(sub, a.min, b.max), both(sub, a.max, b.min)));
      }
      case 'Mul': {
        const a = rec(x.a);
        const b = rec(x.b);
        const scale = (s: IntervalSet, k: PrimExpr): IntervalSet | undefined => {
          if (an.canProveGreaterEqual(k, 0))
            return simp(intervalSet(s.min && mul(s.min, k), s.max && mul(s.max, k)));
          if (an.canProve(binary('LE', k, intImm(0, k.dtype))))
            return simp(intervalSet(s.max && mul(s.max, k), s.min && mul(s.min, k)));
          return undefined;
        };
        const r =
          (isSinglePoint(b) && scale(a, b.min as PrimExpr)) ||
          (isSinglePoint(a) && scale(b, a.min as PrimExpr));
        return r || viaConstBound(x);
      }
      case 'Div':
      case 'FloorDiv': {
        const a = rec(x.a);
        const b = rec(x.b);
        if (!isSinglePoint(b)) return viaConstBound(x);
        const k = b.min as PrimExpr;
        // truncated division is monotone too, but rounds differently on each side of 0
        if (x.kind === 'Div' && !(a.min && an.canProveGreaterEqual(a.min, 0))) return viaConstBound(x);
        const mk = (y?: PrimExpr): PrimExpr | undefined => y && binary(x.kind, y, k);
        if (an.canProveGreaterEqual(k, 1)) return simp(intervalSet(mk(a.min), mk(a.max)));
        return viaConstBound(x);
      }
      case 'Mod':
      case 'FloorMod': {
        const a = rec(x.a);
        const b = rec(x.b);
        if (!isSinglePoint(b)) return viaConstBound(x);
        const k = b.min as PrimExpr;
        if (!an.canProveGreaterEqual(k, 1)) return viaConstBound(x);
        if (x.kind === 'Mod' && !(a.min && an.canProveGreaterEqual(a.min, 0))) return viaConstBound(x);
        // the whole interval inside one period: the remainder is monotone over it
        if (a.min && a.max) {
          const q0 = binary('FloorDiv', a.min, k);
          const q1 = binary('FloorDiv', a.max, k);
          if (an.canProveEqual(q0, q1))
            return simp(intervalSet(binary(x.kind, a.min, k), binary(x.kind, a.max, k)));
        }
        return simp(intervalSet(intImm(0, x.dtype), sub(k, intImm(1, x.dtype))));
      }
      case 'Min':
      case 'Max': {
        const a = rec(x.a);
        const b = rec(x.b);
        const f = x.kind === 'Min' ? minE : maxE;
        // min: the lower side is unbounded if either is; the upper side is bounded if either is
        if (x.kind === 'Min')
          return simp(intervalSet(both(f, a.min, b.min), both(f, a.max, b.max) ?? a.max ?? b.max));
        return simp(intervalSet(both(f, a.min, b.min) ?? a.min ?? b.min, both(f, a.max, b.max)));
      }
      case 'Select': {
        const t = rec(x.t);
        const f = rec(x.f);
        return simp(intervalSet(both(minE, t.min, f.min), both(maxE, t.max, f.max)));
      }
      case 'Let': {
        const v = rec(x.value);
        const inner = new Map(dom);
        inner.set(x.var, v);
        return evalIntSet(x.body, inner, an, options);
      }
      default:
        return viaConstBound(x);
    }
  };
  return rec(e);
}
