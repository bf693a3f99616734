// Import-time folding of comparisons and Where over symbolic shape values. Exporters
// guard shape arithmetic with patterns such as
//   Where(Equal(shape, -1), ones, shape)        (torch's expand with -1 entries)
// where `shape` holds symbolic dims. Every variable in a shape-derived value is a tensor
// dimension, hence ≥ 0, so such comparisons are usually decidable at import time; folding
// them keeps the result a shape value that Expand / Reshape can use, instead of run-time
// data that would make the output shape unknown.
import type { PrimExpr, Var } from '@kiln/ir-core';
import { Analyzer, collect, DType, intImm, le, lt } from '@kiln/ir-core';
import type { NodeContext, OnnxValue } from '../context.js';
import { dtypeOf, hostValue, isFloatName, symValue } from '../context.js';
import { hostTensor } from '../host.js';

type Cmp = 'Equal' | 'Less' | 'Greater' | 'LessOrEqual' | 'GreaterOrEqual';

/** Elements of a shape value (sym, or a small integer host tensor of rank ≤ 1). */
function elements(v: OnnxValue): { values: PrimExpr[]; rank: number } | undefined {
  if (v.kind === 'sym') return { values: [...v.values], rank: v.shape.length };
  if (v.kind === 'host' && v.t.shape.length <= 1 && !isFloatName(v.t.dtype) && v.t.dtype !== 'bool')
    return { values: Array.from(v.t.data, (x) => intImm(x, DType.int64)), rank: v.t.shape.length };
  return undefined;
}

/** An analyzer that knows every variable of `es` is a dimension (≥ 0). */
function dimAnalyzer(es: readonly PrimExpr[]): Analyzer {
  const an = new Analyzer();
  const seen = new Set<Var>();
  for (const e of es)
    for (const v of collect(e, (n): n is Var => n.kind === 'Var'))
      if (!seen.has(v)) {
        seen.add(v);
        an.bind(v, { min: 0, max: Number.POSITIVE_INFINITY });
      }
  return an;
}

/** Broadcast two element lists of rank ≤ 1; undefined when their lengths disagree. */
function zip<T>(a: readonly T[], b: readonly T[]): [T, T][] | undefined {
  const n = Math.max(a.length, b.length);
  if ((a.length !== n && a.length !== 1) || (b.length !== n && b.length !== 1)) return undefined;
  return Array.from({ length: n }, (_, i) => [a[a.length === 1 ? 0 : i], b[b.length === 1 ? 0 : i]]);
}

/**
 * Fold `a <op> b` when one side is a symbolic shape value and every element's outcome is
 * provable; a bool host tensor, or undefined when it cannot be decided at import time.
 */
export function foldSymCompare(
  _ctx: NodeContext,
  name: string,
  a: OnnxValue,
  b: OnnxValue,
): OnnxValue | undefined {
  if (a.kind !== 'sym' && b.kind !== 'sym') return undefined;
  const ea = elements(a);
  const eb = elements(b);
  if (!ea || !eb) return undefined;
  const pairs = zip(ea.values, eb.values);
  if (!pairs) return undefined;
  const an = dimAnalyzer([...ea.values, ...eb.values]);
  const out: number[] = [];
  for (const [x, y] of pairs) {
    let r: boolean | undefined;
    switch (name as Cmp) {
      case 'Equal':
        r = an.canProveEqual(x, y)
          ? true
          : an.canProve(lt(x, y)) || an.canProve(lt(y, x))
            ? false
            : undefined;
        break;
      case 'Less':
        r = decide(an, lt(x, y), le(y, x));
        break;
      case 'Greater':
        r = decide(an, lt(y, x), le(x, y));
        break;
      case 'LessOrEqual':
        r = decide(an, le(x, y), lt(y, x));
        break;
      case 'GreaterOrEqual':
        r = decide(an, le(y, x), lt(x, y));
        break;
      default:
        return undefined;
    }
    if (r === undefined) return undefined;
    out.push(r ? 1 : 0);
  }
  const shape = ea.rank || eb.rank ? [out.length] : [];
  return hostValue(hostTensor('bool', shape, out));
}

function decide(an: Analyzer, yes: PrimExpr, no: PrimExpr): boolean | undefined {
  if (an.canProve(yes)) return true;
  if (an.canProve(no)) return false;
  return undefined;
}

/** `Where(c, x, y)` with a known condition over shape values: a shape value again. */
export function foldSymWhere(
  ctx: NodeContext,
  c: OnnxValue,
  x: OnnxValue,
  y: OnnxValue,
): OnnxValue | undefined {
  if (c.kind !== 'host' || (x.kind !== 'sym' && y.kind !== 'sym')) return undefined;
  if (c.t.shape.length > 1) return undefined;
  const ex = elements(x);
  const ey = elements(y);
  if (!ex || !ey) return undefined;
  const xy = zip(ex.values, ey.values);
  if (!xy) return undefined;
  const cond = Array.from(c.t.data, (v) => v !== 0);
  const n = Math.max(xy.length, cond.length);
  if ((xy.length !== n && xy.length !== 1) || (cond.length !== n && cond.length !== 1)) return undefined;
  const values = Array.from({ length: n }, (_, i) => {
    const [a, b] = xy[xy.length === 1 ? 0 : i];
    return cond[cond.length === 1 ? 0 : i] ? a : b;
  });
  const rank = Math.max(ex.rank, ey.rank, c.t.shape.length);
  return symValue(dtypeOf(x.kind === 'sym' ? x : y, ctx), rank ? [n] : [], values);
}
