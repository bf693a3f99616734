// Block analysis for the default CPU schedules: recognise what kind of computation a
// top-level block performs (a sum of products, a reduction along the last axis, an
// elementwise map) from its iteration variables and its body, so that the default
// schedule can pick a rule per op class without relying on kernel names.
import type { Buffer, PrimExpr, Var } from '@kiln/ir-core';
import { postOrderVisit } from '@kiln/ir-core';
import type { Block, BlockRealize, BufferStore } from '@kiln/tensorir';
import { canonicalIntrinsicName } from '@kiln/tensorir';
import { linearize } from '../arith.js';

/** Float vector lanes of the widest vector unit the target features name. */
export function vectorLanes(features: readonly string[] | undefined, bits: number): number {
  const f = new Set((features ?? []).map((x) => x.replace(/^\+/, '')));
  const width = f.has('avx512f') ? 512 : f.has('avx2') || f.has('avx') ? 256 : 128;
  return Math.max(1, width / Math.max(8, bits));
}

export function usesVar(e: PrimExpr, v: Var): boolean {
  let found = false;
  postOrderVisit(e, (n) => {
    if (n === v) found = true;
  });
  return found;
}

/** Every BufferLoad in `e` (outermost first). */
export function loadsOf(e: PrimExpr): Array<{ buffer: Buffer; indices: readonly PrimExpr[] }> {
  const out: Array<{ buffer: Buffer; indices: readonly PrimExpr[] }> = [];
  postOrderVisit(e, (n) => {
    if (n.kind === 'BufferLoad') {
      const l = n as unknown as { buffer: Buffer; indices: readonly PrimExpr[] };
      out.push({ buffer: l.buffer, indices: l.indices });
    }
  });
  return out;
}

/** The value of a constant extent, or undefined when it is symbolic. */
export function constExtent(e: PrimExpr): number | undefined {
  return e.kind === 'IntImm' ? e.value : undefined;
}

export interface BlockShape {
  readonly realize: BlockRealize;
  readonly block: Block;
  readonly store: BufferStore;
  /** Iteration variables in order; each is bound directly to one loop variable. */
  readonly spatial: readonly Var[];
  readonly reduce: readonly Var[];
}

/**
 * The block's store and its iteration variables when its bindings are the trivial ones
 * that te produces (iteration variable k bound to the k-th loop variable, in order).
 */
export function blockShape(r: BlockRealize): BlockShape | undefined {
  const blk = r.block;
  if (blk.body.kind !== 'BufferStore') return undefined;
  const spatial: Var[] = [];
  const reduce: Var[] = [];
  for (let i = 0; i < blk.iterVars.length; i++) {
    const iv = blk.iterVars[i];
    const val = r.iterValues[i];
    // te drops the loops of extent-1 axes and binds them to a constant.
    const unit = val.kind === 'IntImm' && iv.dom.extent.kind === 'IntImm' && iv.dom.extent.value === 1;
    if (val.kind !== 'Var' && !unit) return undefined;
    if (iv.iterType === 'spatial') spatial.push(iv.var);
    else if (iv.iterType === 'reduce') reduce.push(iv.var);
    else return undefined;
  }
  return { realize: r, block: blk, store: blk.body, spatial, reduce };
}

/** Whether `e` is affine in `v` with coefficient 1..maxStride (1: a vector over `v` reads consecutive elements). */
export function unitStride(e: PrimExpr, v: Var, maxStride = 1): boolean {
  const lin = linearize(e);
  let coeff = 0;
  for (const t of lin.terms.values()) {
    if (t.atom === v) coeff += t.coeff;
    else if (usesVar(t.atom, v)) return false;
  }
  return coeff >= 1 && coeff <= maxStride;
}

/** Whether every access to a buffer in `e` is either free of `v` or contiguous in `v` (last index only). */
export function contiguousIn(
  accesses: ReadonlyArray<{ indices: readonly PrimExpr[] }>,
  v: Var,
  maxStride = 1,
): boolean {
  return accesses.every(({ indices }) => {
    const n = indices.length;
    for (let d = 0; d < n - 1; d++) if (usesVar(indices[d], v)) return false;
    return n === 0 || !usesVar(indices[n - 1], v) || unitStride(indices[n - 1], v, maxStride);
  });
}

/** Math intrinsics that the LLVM CPU backend emits as vector instructions (no per-lane call). */
const VECTOR_MATH = new Set([
  'sqrt',
  'rsqrt',
  'fabs',
  'floor',
  'ceil',
  'trunc',
  'round',
  'nearbyint',
  'copysign',
]);
/** ... and those it emits as inline vector polynomials for float32 (calls to libm otherwise). */
const VECTOR_MATH_F32 = new Set(['exp', 'erf', 'tanh', 'sigmoid']);

/**
 * Whether `e` vectorizes without branches or per-lane calls: no Select, Let or
 * if_then_else, and only calls to math functions the backend vectorizes.
 */
export function vectorizableValue(e: PrimExpr): boolean {
  let ok = true;
  postOrderVisit(e, (n) => {
    if (n.kind === 'Select' || n.kind === 'Let') ok = false;
    else if (n.kind === 'Call') {
      const c = n as unknown as { op: string; dtype: { code: string; bits: number } };
      const op = canonicalIntrinsicName(c.op).replace(/^tir\./, '');
      const f32 = c.dtype.code === 'float' && c.dtype.bits <= 32;
      if (!(VECTOR_MATH.has(op) && c.dtype.code === 'float') && !(VECTOR_MATH_F32.has(op) && f32)) ok = false;
    }
  });
  return ok;
}

/**
 * The panel width of a panel copy: the constant c of `floordiv(v, c)` / `floormod(v, c)`
 * in the accesses (the largest when several), or undefined.
 */
export function panelWidth(
  accesses: ReadonlyArray<{ indices: readonly PrimExpr[] }>,
  v: Var,
): number | undefined {
  let c: number | undefined;
  for (const { indices } of accesses)
    for (const e of indices)
      postOrderVisit(e, (n) => {
        if (n.kind !== 'FloorDiv' && n.kind !== 'FloorMod') return;
        const x = n as unknown as { a: PrimExpr; b: PrimExpr };
        if (x.a === v && x.b.kind === 'IntImm' && x.b.value > 1) c = Math.max(c ?? 0, x.b.value);
      });
  return c;
}
