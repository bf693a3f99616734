// Symbolic shape arithmetic used by StructInfo inference: building dims with cheap
// constant folding, and deciding equality of dims with the ir-core simplifier/prover.
// All shape reasoning in this package goes through these few functions.
import type { PrimExpr } from '@kiln/ir-core';
import {
  provablyEqual as arithProvablyEqual,
  binary,
  canonicalDifference,
  DType,
  intImm,
  isConstInt,
  simplify,
  structuralEqual,
  toExpr,
} from '@kiln/ir-core';

export type Dim = PrimExpr;
export type DimLike = PrimExpr | number;

const asDim = (x: DimLike): PrimExpr => (typeof x === 'number' ? intImm(x, DType.int64) : x);
const constOf = (e: PrimExpr): number | undefined => (isConstInt(e) ? e.value : undefined);

/** Simplify an index expression: local constant folding, then the ir-core simplifier. */
export function simplifyDim(e: DimLike): PrimExpr {
  const d = fold(asDim(e));
  if (d.kind === 'IntImm' || d.kind === 'Var') return d;
  return simplify(d);
}

function fold(e: PrimExpr): PrimExpr {
  switch (e.kind) {
    case 'Add':
      return dimAdd(fold(e.a), fold(e.b));
    case 'Sub':
      return dimSub(fold(e.a), fold(e.b));
    case 'Mul':
      return dimMul(fold(e.a), fold(e.b));
    case 'FloorDiv':
      return dimFloorDiv(fold(e.a), fold(e.b));
    case 'FloorMod':
      return dimFloorMod(fold(e.a), fold(e.b));
    case 'Min':
      return dimMin(fold(e.a), fold(e.b));
    case 'Max':
      return dimMax(fold(e.a), fold(e.b));
    default:
      return e;
  }
}

export function dimAdd(a: DimLike, b: DimLike): PrimExpr {
  const x = asDim(a);
  const y = asDim(b);
  const cx = constOf(x);
  const cy = constOf(y);
  if (cx !== undefined && cy !== undefined) return intImm(cx + cy, x.dtype);
  if (cx === 0) return y;
  if (cy === 0) return x;
  // (v + c1) + c2 → v + (c1 + c2): keeps conv/pool output dims small.
  if (cy !== undefined && x.kind === 'Add' && isConstInt(x.b)) return dimAdd(x.a, x.b.value + cy);
  if (cy !== undefined && x.kind === 'Sub' && isConstInt(x.b)) return dimAdd(x.a, cy - x.b.value);
  if (cy !== undefined && cy < 0) return binary('Sub', x, intImm(-cy, x.dtype));
  return binary('Add', x, y);
}
export function dimSub(a: DimLike, b: DimLike): PrimExpr {
  const x = asDim(a);
  const y = asDim(b);
  const cy = constOf(y);
  if (cy !== undefined) return dimAdd(x, -cy);
  if (structuralEqual(x, y)) return intImm(0, x.dtype);
  // (v + w) - w → v
  if (x.kind === 'Add' && structuralEqual(x.b, y)) return x.a;
  return binary('Sub', x, y);
}
export function dimMul(a: DimLike, b: DimLike): PrimExpr {
  const x = asDim(a);
  const y = asDim(b);
  const cx = constOf(x);
  const cy = constOf(y);
  if (cx !== undefined && cy !== undefined) return intImm(cx * cy, x.dtype);
  if (cx === 1) return y;
  if (cy === 1) return x;
  if (cx === 0 || cy === 0) return intImm(0, x.dtype);
  return binary('Mul', x, y);
}
export function dimFloorDiv(a: DimLike, b: DimLike): PrimExpr {
  const x = asDim(a);
  const y = asDim(b);
  const cx = constOf(x);
  const cy = constOf(y);
  if (cx !== undefined && cy !== undefined && cy !== 0) return intImm(Math.floor(cx / cy), x.dtype);
  if (cy === 1) return x;
  // (v * c) / c → v
  if (cy !== undefined && x.kind === 'Mul' && isConstInt(x.b) && x.b.value === cy) return x.a;
  return cancelCommonFactors(x, y) ?? binary('FloorDiv', x, y);
}

/** A product as its constant factor and its other factors. */
function factorsOf(e: PrimExpr): { c: number; atoms: PrimExpr[] } {
  if (isConstInt(e)) return { c: e.value, atoms: [] };
  if (e.kind === 'Mul') {
    const a = factorsOf(e.a);
    const b = factorsOf(e.b);
    return { c: a.c * b.c, atoms: [...a.atoms, ...b.atoms] };
  }
  return { c: 1, atoms: [e] };
}

/**
 * `(b·s·128) // (b·s·32)` → 4: the factors the two products share cancel. Dims are
 * non-negative and a product of dims that divides another is taken to be non-zero (as
 * the -1 of a reshape is only defined then), so cancelling is exact whenever the
 * remaining constant factors divide. Undefined when nothing cancels.
 */
function cancelCommonFactors(x: PrimExpr, y: PrimExpr): PrimExpr | undefined {
  const fx = factorsOf(x);
  const fy = factorsOf(y);
  if (!fy.atoms.length) return undefined;
  const rest = [...fx.atoms];
  const left: PrimExpr[] = [];
  for (const a of fy.atoms) {
    const i = rest.findIndex((r) => structuralEqual(r, a));
    if (i >= 0) rest.splice(i, 1);
    else left.push(a);
  }
  if (rest.length + left.length === fx.atoms.length + fy.atoms.length) return undefined;
  if (left.length || fy.c === 0 || fx.c % fy.c !== 0) return undefined;
  return rest.reduce<PrimExpr>((acc, a) => dimMul(acc, a), intImm(fx.c / fy.c, x.dtype));
}
export function dimFloorMod(a: DimLike, b: DimLike): PrimExpr {
  const x = asDim(a);
  const y = asDim(b);
  const cx = constOf(x);
  const cy = constOf(y);
  if (cx !== undefined && cy !== undefined && cy !== 0) return intImm(((cx % cy) + cy) % cy, x.dtype);
  if (cy === 1) return intImm(0, x.dtype);
  return binary('FloorMod', x, y);
}
export function dimMin(a: DimLike, b: DimLike): PrimExpr {
  const x = asDim(a);
  const y = asDim(b);
  const cx = constOf(x);
  const cy = constOf(y);
  if (cx !== undefined && cy !== undefined) return intImm(Math.min(cx, cy), x.dtype);
  if (structuralEqual(x, y)) return x;
  return binary('Min', x, y);
}
export function dimMax(a: DimLike, b: DimLike): PrimExpr {
  const x = asDim(a);
  const y = asDim(b);
  const cx = constOf(x);
  const cy = constOf(y);
  if (cx !== undefined && cy !== undefined) return intImm(Math.max(cx, cy), x.dtype);
  if (structuralEqual(x, y)) return x;
  return binary('Max', x, y);
}
/** Product of dims (1 for none). */
export function dimProduct(dims: readonly DimLike[]): PrimExpr {
  return dims.reduce<PrimExpr>((acc, d) => dimMul(acc, d), intImm(1, DType.int64));
}

/** Can `a == b` be proven for every value of the free variables? */
export function provablyEqual(a: DimLike, b: DimLike): boolean {
  const x = asDim(a);
  const y = asDim(b);
  if (structuralEqual(x, y)) return true;
  const cx = constOf(x);
  const cy = constOf(y);
  if (cx !== undefined && cy !== undefined) return cx === cy;
  return arithProvablyEqual(x, y);
}
/** Can `a != b` be proven (so a shape mismatch is certain, not just possible)? */
export function provablyNotEqual(a: DimLike, b: DimLike): boolean {
  const x = asDim(a);
  const y = asDim(b);
  const cx = constOf(x);
  const cy = constOf(y);
  if (cx !== undefined && cy !== undefined) return cx !== cy;
  if (x.dtype !== y.dtype) return false;
  const d = canonicalDifference(x, y);
  return d !== undefined && isConstInt(d) && d.value !== 0;
}
/** The constant value of a dim, if it folds to one. */
export function constDim(e: DimLike): number | undefined {
  if (typeof e === 'number') return e;
  return constOf(simplifyDim(e));
}
export function dim(x: DimLike): PrimExpr {
  return typeof x === 'number' ? intImm(x, DType.int64) : x;
}
export { toExpr };
