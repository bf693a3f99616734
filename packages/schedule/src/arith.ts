// Index arithmetic the primitives need: linear forms over "atoms" (variables or opaque
// non-linear subterms), interval bounds, and a small canonicalizing simplifier. It only
// reasons about constants and affine sums, which is what split/fuse/computeAt produce.
import type { DataType, PrimExpr, Var } from '@kiln/ir-core';
import { add, floordiv, floormod, intImm, mul, postOrderVisit, sub } from '@kiln/ir-core';

// Stable ids for variables so that keys and term orders are deterministic within a run.
const varIds = new WeakMap<object, number>();
let nextVarId = 1;
function idOf(v: object): number {
  let id = varIds.get(v);
  if (id === undefined) {
    id = nextVarId++;
    varIds.set(v, id);
  }
  return id;
}

/** A string key identifying an expression up to structure (vars and buffers by identity). */
export function exprKey(e: PrimExpr): string {
  switch (e.kind) {
    case 'IntImm':
      return `${e.value}`;
    case 'FloatImm':
      return `${e.value}f`;
    case 'StringImm':
      return JSON.stringify(e.value);
    case 'Var':
      return `${e.name}#${idOf(e)}`;
    case 'Not':
      return `!(${exprKey(e.a)})`;
    case 'Select':
      return `sel(${exprKey(e.cond)},${exprKey(e.t)},${exprKey(e.f)})`;
    case 'Cast':
      return `${e.dtype.str}(${exprKey(e.value)})`;
    case 'Call':
      return `${e.op}(${e.args.map(exprKey).join(',')})`;
    case 'Let':
      return `let(${exprKey(e.var)}=${exprKey(e.value)};${exprKey(e.body)})`;
    case 'Ramp':
      return `ramp(${exprKey(e.base)},${exprKey(e.stride)},${e.lanes})`;
    case 'Broadcast':
      return `bc(${exprKey(e.value)},${e.lanes})`;
    case 'BufferLoad':
      return `${e.buffer.name}#${idOf(e.buffer)}[${e.indices.map(exprKey).join(',')}]`;
    default:
      return `${e.kind}(${exprKey(e.a)},${exprKey(e.b)})`;
  }
}

/** `c + Σ coeff·atom`; atoms are Vars or opaque terms, keyed by `exprKey`. */
export interface Lin {
  readonly terms: ReadonlyMap<string, { readonly atom: PrimExpr; readonly coeff: number }>;
  readonly c: number;
}

function linOf(terms: Map<string, { atom: PrimExpr; coeff: number }>, c: number): Lin {
  for (const [k, t] of terms) if (t.coeff === 0) terms.delete(k);
  return { terms, c };
}

/** Affine form of an integer expression; non-affine subterms become opaque atoms. */
export function linearize(e: PrimExpr): Lin {
  switch (e.kind) {
    case 'IntImm':
      return { terms: new Map(), c: e.value };
    case 'Add':
    case 'Sub': {
      const a = linearize(e.a);
      const b = linearize(e.b);
      const s = e.kind === 'Add' ? 1 : -1;
      const terms = new Map<string, { atom: PrimExpr; coeff: number }>();
      for (const [k, t] of a.terms) terms.set(k, { ...t });
      for (const [k, t] of b.terms) {
        const cur = terms.get(k);
        if (cur) cur.coeff += s * t.coeff;
        else terms.set(k, { atom: t.atom, coeff: s * t.coeff });
      }
      return linOf(terms, a.c + s * b.c);
    }
    case 'Mul': {
      const a = linearize(e.a);
      const b = linearize(e.b);
      const scale = (l: Lin, k: number): Lin => {
        const terms = new Map<string, { atom: PrimExpr; coeff: number }>();
        for (const [key, t] of l.terms) terms.set(key, { atom: t.atom, coeff: t.coeff * k });
        return linOf(terms, l.c * k);
      };
      if (a.terms.size === 0) return scale(b, a.c);
      if (b.terms.size === 0) return scale(a, b.c);
      break;
    }
    case 'Cast':
      if (e.dtype.code === 'int' && e.value.dtype.code === 'int') return linearize(e.value);
      break;
    default:
      break;
  }
  return { terms: new Map([[exprKey(e), { atom: e, coeff: 1 }]]), c: 0 };
}

export function linSub(a: Lin, b: Lin): Lin {
  const terms = new Map<string, { atom: PrimExpr; coeff: number }>();
  for (const [k, t] of a.terms) terms.set(k, { ...t });
  for (const [k, t] of b.terms) {
    const cur = terms.get(k);
    if (cur) cur.coeff -= t.coeff;
    else terms.set(k, { atom: t.atom, coeff: -t.coeff });
  }
  return linOf(terms, a.c - b.c);
}

export function linEqual(a: Lin, b: Lin): boolean {
  const d = linSub(a, b);
  return d.c === 0 && d.terms.size === 0;
}

/** Rebuild an expression from a linear form (terms in their first-seen order). */
export function fromLin(l: Lin, dt: DataType): PrimExpr {
  let acc: PrimExpr | undefined;
  for (const { atom, coeff } of l.terms.values()) {
    const mag = Math.abs(coeff);
    const term = mag === 1 ? atom : mul(atom, intImm(mag, dt));
    if (acc === undefined) acc = coeff > 0 ? term : mul(term, intImm(-1, dt));
    else acc = coeff > 0 ? add(acc, term) : sub(acc, term);
  }
  if (acc === undefined) return intImm(l.c, dt);
  if (l.c > 0) return add(acc, intImm(l.c, dt));
  if (l.c < 0) return sub(acc, intImm(-l.c, dt));
  return acc;
}

export type Interval = readonly [number, number];
export type VarRanges = ReadonlyMap<Var, Interval>;

/** Inclusive integer bounds of `e` when the variables range over `ranges`; undefined if unknown. */
export function bounds(e: PrimExpr, ranges: VarRanges): Interval | undefined {
  switch (e.kind) {
    case 'IntImm':
      return [e.value, e.value];
    case 'Var':
      return ranges.get(e);
    case 'Cast':
      return e.dtype.code === 'int' ? bounds(e.value, ranges) : undefined;
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Min':
    case 'Max': {
      const a = bounds(e.a, ranges);
      const b = bounds(e.b, ranges);
      if (!a || !b) return undefined;
      if (e.kind === 'Add') return [a[0] + b[0], a[1] + b[1]];
      if (e.kind === 'Sub') return [a[0] - b[1], a[1] - b[0]];
      if (e.kind === 'Min') return [Math.min(a[0], b[0]), Math.min(a[1], b[1])];
      if (e.kind === 'Max') return [Math.max(a[0], b[0]), Math.max(a[1], b[1])];
      const ps = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]];
      return [Math.min(...ps), Math.max(...ps)];
    }
    case 'FloorDiv':
    case 'FloorMod': {
      const a = bounds(e.a, ranges);
      const b = bounds(e.b, ranges);
      if (!a || !b || b[0] !== b[1] || b[0] <= 0) return undefined;
      const d = b[0];
      if (e.kind === 'FloorDiv') return [Math.floor(a[0] / d), Math.floor(a[1] / d)];
      if (Math.floor(a[0] / d) === Math.floor(a[1] / d))
        return [a[0] - Math.floor(a[0] / d) * d, a[1] - Math.floor(a[1] / d) * d];
      return [0, d - 1];
    }
    default:
      return undefined;
  }
}

/** Does `e` mention any of `vars`? */
export function usesAnyVar(e: PrimExpr, vars: ReadonlySet<Var>): boolean {
  if (vars.size === 0) return false;
  let hit = false;
  postOrderVisit(e, (n) => {
    if (n.kind === 'Var' && vars.has(n as Var)) hit = true;
  });
  return hit;
}

/**
 * Canonicalize an integer index expression: affine sums are flattened and their constants
 * folded; floordiv/floormod by a constant fold when the bounds of the operand allow.
 */
export function simplifyIndex(e: PrimExpr, ranges: VarRanges = new Map()): PrimExpr {
  if (e.dtype.code !== 'int' || e.dtype.lanes !== 1) return e;
  switch (e.kind) {
    case 'Add':
    case 'Sub':
    case 'Mul': {
      const a = simplifyIndex(e.a, ranges);
      const b = simplifyIndex(e.b, ranges);
      const rebuilt =
        a === e.a && b === e.b ? e : e.kind === 'Add' ? add(a, b) : e.kind === 'Sub' ? sub(a, b) : mul(a, b);
      return fromLin(linearize(rebuilt), e.dtype);
    }
    case 'FloorDiv':
    case 'FloorMod': {
      const a = simplifyIndex(e.a, ranges);
      const b = simplifyIndex(e.b, ranges);
      if (b.kind === 'IntImm' && b.value > 0) {
        const d = b.value;
        if (d === 1) return e.kind === 'FloorDiv' ? a : intImm(0, e.dtype);
        // Split a = d·q + r where r's bounds stay within [0, d): then a//d = q, a%d = r.
        const l = linearize(a);
        const qTerms = new Map<string, { atom: PrimExpr; coeff: number }>();
        const rTerms = new Map<string, { atom: PrimExpr; coeff: number }>();
        for (const [k, t] of l.terms) {
          if (t.coeff % d === 0) qTerms.set(k, { atom: t.atom, coeff: t.coeff / d });
          else rTerms.set(k, { ...t });
        }
        const qc = Math.floor(l.c / d);
        const r = fromLin({ terms: rTerms, c: l.c - qc * d }, e.dtype);
        const rb = bounds(r, ranges);
        if (rb && rb[0] >= 0 && rb[1] < d) {
          return e.kind === 'FloorDiv' ? fromLin({ terms: qTerms, c: qc }, e.dtype) : r;
        }
        if (qTerms.size === 0 && l.c === 0 && rb && e.kind === 'FloorMod' && rb[0] >= 0 && rb[1] < d)
          return r;
      }
      if (a === e.a && b === e.b) return e;
      return e.kind === 'FloorDiv' ? floordiv(a, b) : floormod(a, b);
    }
    default:
      return e;
  }
}
