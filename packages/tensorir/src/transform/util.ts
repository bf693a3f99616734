// Shared helpers for the lowering passes: statement-level traversal that preserves
// identity, small constant folding for indices built by the passes themselves, free-variable
// queries, no-op detection and binder freshening (for code duplication).
import type { Buffer, Let, Node, PrimExpr, Var } from '@kiln/ir-core';
import {
  add,
  broadcast,
  collect,
  DType,
  intImm,
  isConstInt,
  buffer as makeBuffer,
  mapChildren,
  mul,
  primVar,
  ramp,
  rewriteNode,
  substitute,
} from '@kiln/ir-core';
import type { PrimFunc, Stmt } from '../stmt.js';
import { evaluate, isStmt, primFunc, seqStmt } from '../stmt.js';

/**
 * Rebuild `s` with each direct child statement replaced by `f(child)`; identity if none
 * changed. A sequence whose items became sequences is flattened (SeqStmts never nest).
 */
export function mapStmtChildren<T extends Stmt>(s: T, f: (c: Stmt) => Stmt): T {
  const out = mapChildren(s, (c) => (isStmt(c) ? f(c) : c));
  if (out !== s && out.kind === 'SeqStmt' && out.seq.some((c) => c.kind === 'SeqStmt'))
    return seqStmt(out.seq, out.span) as T;
  return out;
}

/**
 * Rebuild `s` with each direct PrimExpr child (not statements, not binders, not buffers)
 * replaced by `f(e)`. Block-level children (IterVar, BufferRegion) are left alone.
 */
export function mapStmtExprs<T extends Stmt>(s: T, f: (e: PrimExpr) => PrimExpr): T {
  return mapChildren(s, (c, field) => {
    if (field.type === 'binder' || field.type === 'binder[]') return c;
    if (
      isStmt(c) ||
      c.kind === 'Buffer' ||
      c.kind === 'IterVar' ||
      c.kind === 'BufferRegion' ||
      c.kind === 'Block'
    )
      return c;
    return f(c as PrimExpr);
  });
}

/** Replace the body of a PrimFunc; identity when the body is unchanged. */
export function withBody(fn: PrimFunc, body: Stmt): PrimFunc {
  if (body === fn.body) return fn;
  return primFunc(fn.params, body, { attrs: fn.attrs, retType: fn.retType, span: fn.span });
}

/** The canonical no-op statement. */
export function noOp(): Stmt {
  return evaluate(intImm(0, DType.int32));
}

/** `Evaluate(<constant>)`: a statement that does nothing. */
export function isNoOp(s: Stmt): boolean {
  if (s.kind === 'Evaluate') return s.value.kind === 'IntImm' || s.value.kind === 'FloatImm';
  if (s.kind === 'SeqStmt') return s.seq.every(isNoOp);
  return false;
}

/** Does `n` use any of `vars` (PrimExpr Vars or handle Vars)? */
export function usesAny(n: Node, vars: ReadonlySet<Node>): boolean {
  if (vars.size === 0) return false;
  return collect(n, (x) => vars.has(x)).length > 0;
}
export function usesVar(n: Node, v: Node): boolean {
  return usesAny(n, new Set([v]));
}

// ------------------------------------------------ folding arithmetic (scalar and Ramp)

/** `a + b`, folding integer constants, zeros, and Ramp ± scalar / Ramp + Ramp. */
export function addFold(a: PrimExpr, b: PrimExpr): PrimExpr {
  if (a.kind === 'IntImm' && b.kind === 'IntImm' && a.dtype === b.dtype)
    return intImm(a.value + b.value, a.dtype);
  if (isConstInt(b, 0) && b.dtype.bits <= a.dtype.bits) return a;
  if (isConstInt(a, 0) && a.dtype.bits <= b.dtype.bits) return b;
  if (a.kind === 'Ramp' && b.kind === 'Ramp' && a.lanes === b.lanes)
    return ramp(addFold(a.base, b.base), addFold(a.stride, b.stride), a.lanes);
  if (a.kind === 'Ramp' && b.dtype.lanes === 1) return ramp(addFold(a.base, b), a.stride, a.lanes);
  if (b.kind === 'Ramp' && a.dtype.lanes === 1) return ramp(addFold(a, b.base), b.stride, b.lanes);
  if (a.kind === 'Ramp' && b.kind === 'Broadcast' && a.lanes === b.lanes)
    return ramp(addFold(a.base, b.value), a.stride, a.lanes);
  if (b.kind === 'Ramp' && a.kind === 'Broadcast' && a.lanes === b.lanes)
    return ramp(addFold(a.value, b.base), b.stride, b.lanes);
  if (a.kind === 'Broadcast' && b.kind === 'Broadcast' && a.lanes === b.lanes)
    return broadcast(addFold(a.value, b.value), a.lanes);
  return add(a, b);
}

/** `a * b`, folding integer constants, ones, zeros, and Ramp * scalar. */
export function mulFold(a: PrimExpr, b: PrimExpr): PrimExpr {
  if (a.kind === 'IntImm' && b.kind === 'IntImm' && a.dtype === b.dtype)
    return intImm(a.value * b.value, a.dtype);
  if (isConstInt(b, 1) && b.dtype.bits <= a.dtype.bits) return a;
  if (isConstInt(a, 1) && a.dtype.bits <= b.dtype.bits) return b;
  if (a.kind === 'Ramp' && b.dtype.lanes === 1)
    return ramp(mulFold(a.base, b), mulFold(a.stride, b), a.lanes);
  if (b.kind === 'Ramp' && a.dtype.lanes === 1)
    return ramp(mulFold(a, b.base), mulFold(a, b.stride), b.lanes);
  if (a.kind === 'Ramp' && b.kind === 'Broadcast' && a.lanes === b.lanes)
    return ramp(mulFold(a.base, b.value), mulFold(a.stride, b.value), a.lanes);
  if (b.kind === 'Ramp' && a.kind === 'Broadcast' && a.lanes === b.lanes)
    return ramp(mulFold(a.value, b.base), mulFold(a.value, b.stride), b.lanes);
  if (a.kind === 'Broadcast' && b.kind === 'Broadcast' && a.lanes === b.lanes)
    return broadcast(mulFold(a.value, b.value), a.lanes);
  return mul(a, b);
}

/** Product of a list of extents (1 for an empty list), folded. */
export function productOf(xs: readonly PrimExpr[]): PrimExpr {
  let p: PrimExpr = intImm(1, DType.int64);
  for (const x of xs) p = mulFold(p, x);
  return p;
}

/** Fold a binary node of two integer constants (used after substitution). */
export function foldConstBinary(e: PrimExpr): PrimExpr {
  if (e.kind === 'Add') return addFold(e.a, e.b);
  if (e.kind === 'Mul') return mulFold(e.a, e.b);
  if (e.kind === 'Sub' && e.a.kind === 'IntImm' && e.b.kind === 'IntImm' && e.a.dtype === e.b.dtype)
    return intImm(e.a.value - e.b.value, e.a.dtype);
  if (e.kind === 'Sub' && isConstInt(e.b, 0) && e.b.dtype.bits <= e.a.dtype.bits) return e.a;
  return e;
}

/** A scalar of `e`'s dtype broadcast to `lanes` lanes (or `e` if it is already a vector). */
export function toLanes(e: PrimExpr, lanes: number): PrimExpr {
  return e.dtype.lanes === lanes ? e : broadcast(e, lanes);
}

// ------------------------------------------------ buffers and binders

/** A copy of `b` with some fields replaced (a new buffer object: a new identity). */
export function rebuildBuffer(
  b: Buffer,
  patch: {
    data?: Var;
    shape?: readonly PrimExpr[];
    strides?: readonly PrimExpr[];
    elemOffset?: PrimExpr;
    name?: string;
  },
): Buffer {
  return makeBuffer(patch.name ?? b.name, b.dtype, patch.shape ?? b.shape, {
    data: patch.data ?? b.data,
    strides: patch.strides ?? b.strides,
    elemOffset: patch.elemOffset ?? b.elemOffset,
    scope: b.scope,
    align: b.align,
    span: b.span,
  });
}

/** Every distinct buffer object referenced in `n` (loads, stores, declarations). */
export function buffersIn(n: Node): Buffer[] {
  return collect(n, (x): x is Buffer => x.kind === 'Buffer');
}

/**
 * Replace buffers (by object) everywhere in `s`, including binder positions (Allocate,
 * DeclBuffer), then substitute scalar vars. Identity when nothing maps.
 */
export function replaceBuffersAndVars(
  s: Stmt,
  bufMap: ReadonlyMap<Buffer, Buffer>,
  varMap: ReadonlyMap<Var, PrimExpr>,
): Stmt {
  let out = s;
  if (bufMap.size > 0) {
    out = rebindBuffers(out, bufMap);
    out = substitute(out, bufMap as ReadonlyMap<Node, Node>);
  }
  if (varMap.size > 0) out = substitute(out, varMap as ReadonlyMap<Node, Node>);
  return out;
}

function rebindBuffers(s: Stmt, bufMap: ReadonlyMap<Buffer, Buffer>): Stmt {
  const rec = (x: Stmt): Stmt => {
    let y = mapStmtChildren(x, rec);
    if ((y.kind === 'Allocate' || y.kind === 'DeclBuffer') && bufMap.has(y.buffer)) {
      y = Object.freeze({ ...y, buffer: bufMap.get(y.buffer)! });
    }
    return y;
  };
  return rec(s);
}

/**
 * Give every variable bound inside `s` (loop vars, LetStmt vars, allocated storage) a
 * fresh object, so that a duplicated statement never binds the same Var twice.
 */
export function freshenBinders(s: Stmt): Stmt {
  const varMap = new Map<Var, PrimExpr>();
  const dataMap = new Map<Var, Var>();
  const binders: Stmt[] = collect(
    s,
    (n): n is Stmt => n.kind === 'For' || n.kind === 'LetStmt' || n.kind === 'Allocate',
  ) as Stmt[];
  for (const l of collect(s, (n): n is Let => n.kind === 'Let')) {
    if (!varMap.has(l.var)) varMap.set(l.var, primVar(l.var.name, l.var.dtype));
  }
  for (const b of binders) {
    if (b.kind === 'For' && !varMap.has(b.loopVar))
      varMap.set(b.loopVar, primVar(b.loopVar.name, b.loopVar.dtype));
    if (b.kind === 'LetStmt' && !varMap.has(b.var)) varMap.set(b.var, primVar(b.var.name, b.var.dtype));
    if (b.kind === 'Allocate' && !dataMap.has(b.buffer.data))
      dataMap.set(b.buffer.data, primVar(b.buffer.data.name, b.buffer.data.dtype));
  }
  if (varMap.size === 0 && dataMap.size === 0) return s;
  const bufMap = new Map<Buffer, Buffer>();
  for (const b of buffersIn(s)) {
    const d = dataMap.get(b.data);
    if (d) bufMap.set(b, rebuildBuffer(b, { data: d }));
  }
  const rec = (x: Stmt): Stmt => {
    let y = mapStmtChildren(x, rec);
    if (y.kind === 'For' && varMap.has(y.loopVar))
      y = Object.freeze({ ...y, loopVar: varMap.get(y.loopVar) as Var });
    else if (y.kind === 'LetStmt' && varMap.has(y.var))
      y = Object.freeze({ ...y, var: varMap.get(y.var) as Var });
    return y;
  };
  // Let expressions bind too: rename their binder, the uses follow through substitution.
  const renameLets = (n: Node): Node | undefined =>
    n.kind === 'Let' && varMap.has((n as Let).var)
      ? Object.freeze({ ...(n as Let), var: varMap.get((n as Let).var) as Var })
      : undefined;
  const renamed = rewriteNode(rec(s), [renameLets], { fixpoint: false });
  return replaceBuffersAndVars(renamed, bufMap, varMap);
}

/**
 * Rename binders that are bound a second time (a loop var, let var or allocation reused
 * by two statements), so that every Var is bound at most once. `seen` holds the binders
 * already in scope or used (the params); identity when nothing repeats.
 */
export function uniquifyBinders(s: Stmt, seen: Set<Node>): Stmt {
  const binderOf = (x: Stmt): Node | undefined =>
    x.kind === 'For'
      ? x.loopVar
      : x.kind === 'LetStmt'
        ? x.var
        : x.kind === 'Allocate'
          ? x.buffer.data
          : undefined;
  const rec = (x: Stmt): Stmt => {
    let y = x;
    const b = binderOf(y);
    if (b !== undefined && seen.has(b)) y = freshenBinders(y);
    const nb = binderOf(y);
    if (nb !== undefined) seen.add(nb);
    return mapStmtChildren(y, rec);
  };
  return rec(s);
}
