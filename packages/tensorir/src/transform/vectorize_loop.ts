// tir.VectorizeLoop
// Does:        turns each `vectorized` loop of constant extent L into straight-line vector
//              code: the loop var becomes Ramp(min, 1, L), loads and stores whose index is
//              a Ramp become L-lane accesses, loop-invariant operands are Broadcast, and
//              elementwise ops / intrinsic calls get L-lane dtypes. Serial loops nested
//              inside are kept (their bodies vectorized) when that is provably legal.
//              An if_then_else whose condition does not depend on the loop var keeps
//              its scalar condition and gets vector branches (still evaluated lazily).
//              A loop whose body is `if (cond) S` with cond a conjunction of comparisons
//              affine in the loop var (the tail guard of a non-dividing split) becomes
//              `if (cond at first and last lane) <vector S> else <scalar loop>`.
//              Whenever lanes cannot be formed - non-constant extent, an `if` or loop
//              bound depending on the loop var, a store whose index is not a stride≠0
//              Ramp (a reduction across lanes), a location touched by two lanes, a
//              non-affine (gather) index, an allocation, an unknown call - the loop stays
//              scalar: it keeps the `vectorized` kind only as a hint when its iterations
//              are provably independent (codegen may vectorize it its own way, e.g. LLVM
//              with a masked tail), and becomes `serial` otherwise. The result never changes.
// Requires:    no Block / BlockRealize. Usually runs after FlattenBuffer (but handles
//              multi-dimensional buffers too).
// Establishes: every remaining `vectorized` loop is scalar code with provably independent
//              iterations (lanesIndependent); every vector load/store index is a Ramp
//              (at most one per access), every other vector value is built from Ramp,
//              Broadcast, vector loads and elementwise ops.
import type { BinaryKind, Buffer, Node, PrimExpr, Var } from '@kiln/ir-core';
import {
  and,
  BINARY_KINDS,
  binary,
  bufferLoad,
  call,
  cast,
  collect,
  ErrorCodes,
  intImm,
  isIntegral,
  KilnError,
  not,
  primVar,
  ramp,
  select,
  structuralEqual,
  substitute,
  withLanes,
} from '@kiln/ir-core';
import { canonicalIntrinsicName } from '../intrinsics.js';
import type { BufferStore, For, PrimFunc, Stmt } from '../stmt.js';
import { attrStmt, bufferStore, forLoop, ifThenElse, letStmt, seqStmt } from '../stmt.js';
import { ELEMENTWISE_INTRINSICS } from './lower_intrinsics.js';
import {
  addFold,
  foldConstBinary,
  freshenBinders,
  mapStmtChildren,
  mulFold,
  toLanes,
  usesAny,
  withBody,
} from './util.js';

export interface VectorizeOptions {
  /** Loops with more lanes than this fall back to serial. Default 64. */
  maxLanes?: number;
}

// Elementwise intrinsics that have a lane-wise vector form.
const VECTOR_CALLS: ReadonlySet<string> = ELEMENTWISE_INTRINSICS;

/** Vectorize one loop; `undefined` when lanes cannot be formed. */
class LoopVectorizer {
  private readonly varying = new Set<Node>();
  private readonly lets = new Map<Var, PrimExpr>();
  private readonly base: PrimExpr;

  constructor(
    private readonly loop: For,
    private readonly lanes: number,
  ) {
    this.varying.add(loop.loopVar);
    this.base = ramp(loop.min, intImm(1, loop.min.dtype), lanes);
  }

  run(): Stmt | undefined {
    if (!this.independentLanes()) return undefined;
    return this.stmt(this.loop.body);
  }

  /**
   * Lanes may run in lock-step only if no location written in the body is touched by
   * any other index expression, and written indices depend on nothing bound inside
   * the body (so two lanes - in any iterations of inner loops - never collide).
   */
  independentLanes(): boolean {
    const body = this.loop.body;
    // Already-vector code inside: leave it to codegen as is, do not nest lanes.
    if (collect(body, isVectorValued).length > 0) return false;
    // Vars that vary inside one lane's execution: inner loop vars, and lets built on them.
    const inner = new Set<Node>();
    for (const n of collect(body, (x) => x.kind === 'For')) inner.add((n as For).loopVar);
    const lets = collect(body, (x) => x.kind === 'LetStmt' || x.kind === 'Let') as unknown as Array<{
      var: Var;
      value: PrimExpr;
    }>;
    for (let changed = true; changed; ) {
      changed = false;
      for (const l of lets) {
        if (!inner.has(l.var) && usesAny(l.value, inner)) {
          inner.add(l.var);
          changed = true;
        }
      }
    }
    const accesses = collect(body, (x) => x.kind === 'BufferLoad' || x.kind === 'BufferStore') as Array<{
      kind: string;
      buffer: Buffer;
      indices: readonly PrimExpr[];
    }>;
    const written = new Map<Var, { buffer: Buffer; indices: readonly PrimExpr[] }>();
    for (const a of accesses) {
      if (a.kind !== 'BufferStore') continue;
      if (a.indices.some((i) => usesAny(i, inner))) return false;
      const prev = written.get(a.buffer.data);
      if (prev && !sameAccess(prev, a)) return false;
      written.set(a.buffer.data, a);
    }
    for (const a of accesses) {
      const w = written.get(a.buffer.data);
      if (w && !sameAccess(w, a)) return false;
    }
    return true;
  }

  /** Does every store write one location per lane (a stride≠0 Ramp once vectorized)? */
  storesInjective(): boolean {
    for (const st of collect(this.loop.body, (x) => x.kind === 'BufferStore') as BufferStore[]) {
      if (!this.indices(st.indices, true)) return false;
    }
    return true;
  }

  private isVarying(e: Node): boolean {
    return usesAny(e, this.varying);
  }

  expr(e: PrimExpr): PrimExpr | undefined {
    if (!this.isVarying(e)) return e;
    const L = this.lanes;
    switch (e.kind) {
      case 'Var':
        return e === this.loop.loopVar ? this.base : this.lets.get(e);
      case 'Not': {
        const a = this.expr(e.a);
        return a && not(a);
      }
      case 'Select': {
        const c = this.expr(e.cond);
        const t = this.expr(e.t);
        const f = this.expr(e.f);
        if (!c || !t || !f) return undefined;
        return select(c, toLanes(t, L), toLanes(f, L));
      }
      case 'Cast': {
        const v = this.expr(e.value);
        return v && cast(withLanes(e.dtype, L), toLanes(v, L));
      }
      case 'Call': {
        const name = canonicalIntrinsicName(e.op);
        if (name === 'tir.if_then_else' && e.args.length === 3 && !this.isVarying(e.args[0])) {
          // One condition for all lanes (a padded read of a whole vector): the branches
          // become vectors and only the taken one is evaluated, as before.
          const t = this.expr(e.args[1]);
          const f = this.expr(e.args[2]);
          if (!t || !f) return undefined;
          return call(withLanes(e.dtype, L), e.op, [e.args[0], toLanes(t, L), toLanes(f, L)]);
        }
        if (!VECTOR_CALLS.has(name)) return undefined;
        const args: PrimExpr[] = [];
        for (const a of e.args) {
          const x = this.expr(a);
          if (!x) return undefined;
          args.push(toLanes(x, L));
        }
        return call(withLanes(e.dtype, L), e.op, args);
      }
      case 'BufferLoad': {
        if (e.buffer.dtype.lanes !== 1) return undefined;
        const idx = this.indices(e.indices, false);
        return idx && bufferLoad(e.buffer, idx);
      }
      case 'IntImm':
      case 'FloatImm':
      case 'StringImm':
      case 'Let':
      case 'Ramp':
      case 'Broadcast':
        return undefined;
      default: {
        if (!BINARY_KINDS.has(e.kind)) return undefined;
        const a = this.expr(e.a);
        const b = this.expr(e.b);
        if (!a || !b) return undefined;
        return vectorBinary(e.kind, a, b, L);
      }
    }
  }

  /** Vector indices: exactly one Ramp (stride a nonzero constant for stores), rest scalar. */
  private indices(indices: readonly PrimExpr[], forStore: boolean): PrimExpr[] | undefined {
    const out: PrimExpr[] = [];
    let ramps = 0;
    for (const i of indices) {
      const x = this.expr(i);
      if (!x) return undefined;
      if (x.dtype.lanes > 1) {
        if (x.kind !== 'Ramp') return undefined; // a gather/scatter: not formed
        if (forStore && !(x.stride.kind === 'IntImm' && x.stride.value !== 0)) return undefined;
        ramps++;
      }
      out.push(x);
    }
    if (ramps > 1 || (forStore && ramps === 0)) return undefined;
    return out;
  }

  stmt(s: Stmt): Stmt | undefined {
    switch (s.kind) {
      case 'BufferStore': {
        if (s.buffer.dtype.lanes !== 1) return undefined;
        const idx = this.indices(s.indices, true);
        const v = this.expr(s.value);
        if (!idx || !v) return undefined;
        return bufferStore(s.buffer, toLanes(v, this.lanes), idx, s.span);
      }
      case 'SeqStmt': {
        const out: Stmt[] = [];
        for (const c of s.seq) {
          const x = this.stmt(c);
          if (!x) return undefined;
          out.push(x);
        }
        return seqStmt(out, s.span);
      }
      case 'IfThenElse': {
        if (this.isVarying(s.cond)) return undefined;
        const t = this.stmt(s.then);
        const e = s.else ? this.stmt(s.else) : undefined;
        if (!t || (s.else && !e)) return undefined;
        return ifThenElse(s.cond, t, e, s.span);
      }
      case 'LetStmt': {
        const v = this.expr(s.value);
        if (!v) return undefined;
        if (v.dtype.lanes === 1) {
          const b = this.stmt(s.body);
          return b && letStmt(s.var, v, b, s.span);
        }
        this.varying.add(s.var);
        if (v.kind === 'Ramp' || v.kind === 'Broadcast') {
          // Inline, so that indices built from it stay Ramps.
          this.lets.set(s.var, v);
          return this.stmt(s.body);
        }
        const nv = primVar(s.var.name, v.dtype);
        this.lets.set(s.var, nv);
        const b = this.stmt(s.body);
        return b && letStmt(nv, v, b, s.span);
      }
      case 'For': {
        if (s.forKind !== 'serial' && s.forKind !== 'unrolled') return undefined;
        if (this.isVarying(s.min) || this.isVarying(s.extent)) return undefined;
        const b = this.stmt(s.body);
        return (
          b &&
          forLoop(s.loopVar, s.min, s.extent, b, {
            kind: s.forKind,
            annotations: s.annotations,
            span: s.span,
          })
        );
      }
      case 'AttrStmt': {
        if (this.isVarying(s.value)) return undefined;
        const b = this.stmt(s.body);
        return b && attrStmt(s.key, s.value, b, s.span);
      }
      case 'Evaluate':
        return s.value.kind === 'IntImm' || s.value.kind === 'FloatImm' ? s : undefined;
      case 'While':
      case 'Allocate':
      case 'DeclBuffer':
      case 'Block':
      case 'BlockRealize':
        return undefined;
    }
  }
}

function isVectorValued(n: Node): boolean {
  const t = (n as unknown as { dtype?: { lanes: number } }).dtype;
  return t !== undefined && t.lanes > 1;
}

function sameAccess(
  a: { buffer: Buffer; indices: readonly PrimExpr[] },
  b: { buffer: Buffer; indices: readonly PrimExpr[] },
): boolean {
  return (
    a.buffer === b.buffer &&
    a.indices.length === b.indices.length &&
    a.indices.every((x, i) => structuralEqual(x, b.indices[i]))
  );
}

/** A lane-wise binary op, keeping Ramp form where affine arithmetic allows. */
function vectorBinary(kind: BinaryKind, a: PrimExpr, b: PrimExpr, lanes: number): PrimExpr {
  if (kind === 'Add') return addFold(a, b);
  if (kind === 'Mul' && (a.dtype.lanes === 1 || b.dtype.lanes === 1)) return mulFold(a, b);
  if (kind === 'Sub' && a.kind === 'Ramp' && b.dtype.lanes === 1)
    return ramp(binary('Sub', a.base, b), a.stride, lanes);
  if (kind === 'Sub' && a.dtype.lanes === 1 && b.kind === 'Ramp') {
    const negStride =
      b.stride.kind === 'IntImm'
        ? intImm(-b.stride.value, b.stride.dtype)
        : binary('Sub', intImm(0, b.stride.dtype), b.stride);
    return ramp(foldConstBinary(binary('Sub', a, b.base)), negStride, lanes);
  }
  if (kind === 'Sub' && a.kind === 'Ramp' && b.kind === 'Ramp')
    return ramp(binary('Sub', a.base, b.base), binary('Sub', a.stride, b.stride), lanes);
  return binary(kind, toLanes(a, lanes), toLanes(b, lanes));
}

function serial(f: For, body: Stmt): For {
  return forLoop(f.loopVar, f.min, f.extent, body, {
    kind: 'serial',
    annotations: f.annotations,
    span: f.span,
  });
}

/**
 * Are the iterations of `loop` independent - no location written by one iteration is
 * touched by another - so that codegen may vectorize it in any form? Conservative.
 */
export function lanesIndependent(loop: For): boolean {
  const lv = new LoopVectorizer(loop, 2);
  return lv.independentLanes() && lv.storesInjective();
}

/** A loop whose lanes could not be formed: a `vectorized` hint if provably legal, else serial. */
function fallback(f: For): For {
  return lanesIndependent(f) ? f : serial(f, f.body);
}

/** The conjuncts of `c` when it is an And-tree of comparisons; undefined otherwise. */
function comparisons(c: PrimExpr): Array<Extract<PrimExpr, { kind: 'LT' | 'LE' | 'GT' | 'GE' }>> | undefined {
  if (c.kind === 'And') {
    const a = comparisons(c.a);
    const b = comparisons(c.b);
    return a && b && [...a, ...b];
  }
  if (c.kind === 'LT' || c.kind === 'LE' || c.kind === 'GT' || c.kind === 'GE') return [c];
  return undefined;
}

/**
 * The tail guard of a non-dividing split, `for v: if (cond) S` with `cond` a conjunction
 * of comparisons affine in v: each comparison holds on a half-line of v, so it holds for
 * every lane iff it holds at the first and last lane. Emit
 * `if (cond(first) && cond(last)) <S on all lanes> else <the scalar loop>`.
 */
function vectorizeGuarded(f: For, lanes: number): Stmt | undefined {
  const body = f.body;
  if (body.kind !== 'IfThenElse' || body.else !== undefined) return undefined;
  const parts = comparisons(body.cond);
  if (!parts) return undefined;
  const probe = new LoopVectorizer(f, lanes);
  for (const p of parts) {
    for (const side of [p.a, p.b]) {
      if (!isIntegral(side.dtype)) return undefined;
      const x = probe.expr(side);
      if (!x || (x.dtype.lanes > 1 && x.kind !== 'Ramp')) return undefined; // not affine in v
    }
  }
  const inner = forLoop(f.loopVar, f.min, f.extent, body.then, {
    kind: 'vectorized',
    annotations: f.annotations,
    span: f.span,
  });
  const vec = new LoopVectorizer(inner, lanes).run();
  if (!vec) return undefined;
  const at = (k: number): PrimExpr =>
    substitute(body.cond, new Map<Node, Node>([[f.loopVar, addFold(f.min, intImm(k, f.min.dtype))]]));
  // The scalar copy re-binds the loop's variables: give it fresh ones.
  const scalar = fallback(freshenBinders(f) as For);
  return ifThenElse(and(at(0), at(lanes - 1)), vec, scalar, f.span);
}

function visit(s: Stmt, maxLanes: number): Stmt {
  const t = mapStmtChildren(s, (c) => visit(c, maxLanes));
  if (t.kind !== 'For' || t.forKind !== 'vectorized') return t;
  const L = t.extent.kind === 'IntImm' ? t.extent.value : undefined;
  if (L === 1) return substitute(t.body, new Map<Node, Node>([[t.loopVar, t.min]]));
  if (L === undefined || L < 1 || L > maxLanes) return fallback(t);
  return new LoopVectorizer(t, L).run() ?? vectorizeGuarded(t, L) ?? fallback(t);
}

export function vectorizeLoop(fn: PrimFunc, options: VectorizeOptions = {}): PrimFunc {
  const maxLanes = options.maxLanes ?? 64;
  if (!Number.isInteger(maxLanes) || maxLanes < 1)
    throw new KilnError(
      ErrorCodes.INVALID_ARGUMENT,
      `tir.VectorizeLoop: maxLanes must be a positive integer, got ${maxLanes}`,
    );
  return withBody(fn, visit(fn.body, maxLanes));
}
