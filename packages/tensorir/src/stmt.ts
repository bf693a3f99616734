// TensorIR statements and the PrimFunc. Expressions (including Buffer and BufferLoad)
// are ir-core's PrimExpr; this file adds the loop-level statement kinds.
import type { Attrs, Buffer, DataType, ExprLike, PrimExpr, Range, Span, Var } from '@kiln/ir-core';
import {
  DType,
  defineFunctionKind,
  defineNodeKinds,
  ErrorCodes,
  freezeNode,
  KilnError,
  primVar,
  range,
  toExpr,
} from '@kiln/ir-core';

export type ForKind = 'serial' | 'parallel' | 'vectorized' | 'unrolled' | 'thread_binding';
export type IterType = 'spatial' | 'reduce' | 'ordered' | 'opaque';

interface StmtBase {
  readonly span?: Span;
}

export interface BufferStore extends StmtBase {
  readonly kind: 'BufferStore';
  readonly buffer: Buffer;
  readonly value: PrimExpr;
  readonly indices: readonly PrimExpr[];
}
export interface LetStmt extends StmtBase {
  readonly kind: 'LetStmt';
  readonly var: Var;
  readonly value: PrimExpr;
  readonly body: Stmt;
}
export interface For extends StmtBase {
  readonly kind: 'For';
  readonly loopVar: Var;
  readonly min: PrimExpr;
  readonly extent: PrimExpr;
  readonly forKind: ForKind;
  /** For `thread_binding`: `blockIdx.x`, `threadIdx.y`, `vthread`, ... */
  readonly threadTag?: string;
  readonly body: Stmt;
  readonly annotations: Attrs;
}
export interface While extends StmtBase {
  readonly kind: 'While';
  readonly cond: PrimExpr;
  readonly body: Stmt;
}
export interface IfThenElse extends StmtBase {
  readonly kind: 'IfThenElse';
  readonly cond: PrimExpr;
  readonly then: Stmt;
  readonly else?: Stmt;
}
export interface SeqStmt extends StmtBase {
  readonly kind: 'SeqStmt';
  readonly seq: readonly Stmt[];
}
export interface Evaluate extends StmtBase {
  readonly kind: 'Evaluate';
  readonly value: PrimExpr;
}
/** Allocate fresh storage for `buffer` (its `data` var) for the duration of `body`. */
export interface Allocate extends StmtBase {
  readonly kind: 'Allocate';
  readonly buffer: Buffer;
  readonly body: Stmt;
}
/** Declare `buffer` as a view of storage allocated elsewhere (same `data` var). */
export interface DeclBuffer extends StmtBase {
  readonly kind: 'DeclBuffer';
  readonly buffer: Buffer;
  readonly body: Stmt;
}
/** Annotation scope: `attr key = value` around a body (e.g. `pragma_unroll`). */
export interface AttrStmt extends StmtBase {
  readonly kind: 'AttrStmt';
  readonly key: string;
  readonly value: PrimExpr;
  readonly body: Stmt;
}

/** A block iteration variable with its domain and role. */
export interface IterVar {
  readonly kind: 'IterVar';
  readonly span?: Span;
  readonly var: Var;
  readonly dom: Range;
  readonly iterType: IterType;
}
/** A rectangular region of a buffer: one Range per dimension. */
export interface BufferRegion {
  readonly kind: 'BufferRegion';
  readonly span?: Span;
  readonly buffer: Buffer;
  readonly region: readonly Range[];
}
/**
 * A block: the unit of scheduling. Its body sees only its iteration variables (bound by
 * the enclosing BlockRealize); `init` runs on the first reduction iteration.
 */
export interface Block extends StmtBase {
  readonly kind: 'Block';
  readonly name: string;
  readonly iterVars: readonly IterVar[];
  readonly reads: readonly BufferRegion[];
  readonly writes: readonly BufferRegion[];
  readonly allocBuffers: readonly Buffer[];
  readonly init?: Stmt;
  readonly body: Stmt;
  readonly annotations: Attrs;
}
/** Binds a block's iteration variables to values of the surrounding loops. */
export interface BlockRealize extends StmtBase {
  readonly kind: 'BlockRealize';
  readonly iterValues: readonly PrimExpr[];
  readonly predicate: PrimExpr;
  readonly block: Block;
}

export type Stmt =
  | BufferStore
  | LetStmt
  | For
  | While
  | IfThenElse
  | SeqStmt
  | Evaluate
  | Allocate
  | DeclBuffer
  | AttrStmt
  | Block
  | BlockRealize;
export type StmtKind = Stmt['kind'];

/** A parameter of a PrimFunc: a buffer (tensor argument) or a scalar variable. */
export type PrimFuncParam = Buffer | Var;

export interface PrimFunc {
  readonly kind: 'PrimFunc';
  readonly span?: Span;
  readonly params: readonly PrimFuncParam[];
  readonly body: Stmt;
  /** `global_symbol`, `tir.noalias`, `kiln.op_pattern`, target, ... */
  readonly attrs: Attrs;
  readonly retType: DataType;
}

defineNodeKinds('tir', {
  BufferStore: { fields: { buffer: 'node', value: 'node', indices: 'node[]' } },
  LetStmt: { fields: { value: 'node', var: 'binder', body: 'node' } },
  For: {
    fields: {
      min: 'node',
      extent: 'node',
      loopVar: 'binder',
      forKind: 'value',
      threadTag: 'value',
      annotations: 'value',
      body: 'node',
    },
  },
  While: { fields: { cond: 'node', body: 'node' } },
  IfThenElse: { fields: { cond: 'node', then: 'node', else: 'node?' } },
  SeqStmt: { fields: { seq: 'node[]' } },
  Evaluate: { fields: { value: 'node' } },
  Allocate: { fields: { buffer: 'binder', body: 'node' } },
  DeclBuffer: { fields: { buffer: 'binder', body: 'node' } },
  AttrStmt: { fields: { key: 'value', value: 'node', body: 'node' } },
  IterVar: { fields: { dom: 'node', var: 'binder', iterType: 'value' } },
  BufferRegion: { fields: { buffer: 'node', region: 'node[]' } },
  Block: {
    fields: {
      name: 'value',
      iterVars: 'node[]',
      allocBuffers: 'binder[]',
      reads: 'node[]',
      writes: 'node[]',
      init: 'node?',
      body: 'node',
      annotations: 'value',
    },
  },
  BlockRealize: { fields: { iterValues: 'node[]', predicate: 'node', block: 'node' } },
  PrimFunc: { fields: { params: 'binder[]', body: 'node', attrs: 'value', retType: 'value' } },
});
defineFunctionKind('PrimFunc');

/** Every statement kind of TensorIR. */
export const STMT_KINDS: readonly StmtKind[] = [
  'BufferStore',
  'LetStmt',
  'For',
  'While',
  'IfThenElse',
  'SeqStmt',
  'Evaluate',
  'Allocate',
  'DeclBuffer',
  'AttrStmt',
  'Block',
  'BlockRealize',
];
const STMT_KIND_SET: ReadonlySet<string> = new Set(STMT_KINDS);
export function isStmt(x: unknown): x is Stmt {
  return typeof x === 'object' && x !== null && STMT_KIND_SET.has((x as { kind?: string }).kind ?? '');
}

// ---------------------------------------------------------------- factories

export function bufferStore(
  buffer: Buffer,
  value: ExprLike,
  indices: readonly ExprLike[],
  span?: Span,
): BufferStore {
  const v = toExpr(value, buffer.dtype);
  return freezeNode({
    kind: 'BufferStore',
    buffer,
    value: v,
    indices: Object.freeze(indices.map((i) => toExpr(i))),
    span,
  });
}
export function letStmt(v: Var, value: ExprLike, body: Stmt, span?: Span): LetStmt {
  return freezeNode({ kind: 'LetStmt', var: v, value: toExpr(value, v.dtype), body, span });
}
export interface ForOptions {
  kind?: ForKind;
  threadTag?: string;
  annotations?: Attrs;
  span?: Span;
}
export function forLoop(
  loopVar: Var,
  min: ExprLike,
  extent: ExprLike,
  body: Stmt,
  opts: ForOptions = {},
): For {
  const kind = opts.kind ?? 'serial';
  if (kind === 'thread_binding' && !opts.threadTag) {
    throw new KilnError(
      ErrorCodes.INVALID_ARGUMENT,
      `thread_binding loop over '${loopVar.name}' needs a thread tag`,
    );
  }
  return freezeNode({
    kind: 'For',
    loopVar,
    min: toExpr(min, loopVar.dtype),
    extent: toExpr(extent, loopVar.dtype),
    forKind: kind,
    threadTag: opts.threadTag,
    body,
    annotations: Object.freeze({ ...(opts.annotations ?? {}) }),
    span: opts.span,
  });
}
export function whileLoop(cond: PrimExpr, body: Stmt, span?: Span): While {
  return freezeNode({ kind: 'While', cond, body, span });
}
export function ifThenElse(cond: PrimExpr, then: Stmt, otherwise?: Stmt, span?: Span): IfThenElse {
  return freezeNode({ kind: 'IfThenElse', cond, then, else: otherwise, span });
}
/** A sequence; nested SeqStmts are flattened and a single statement is returned as is. */
export function seqStmt(stmts: readonly Stmt[], span?: Span): Stmt {
  const flat: Stmt[] = [];
  for (const s of stmts) {
    if (s.kind === 'SeqStmt') flat.push(...s.seq);
    else flat.push(s);
  }
  if (flat.length === 1) return flat[0];
  return freezeNode({ kind: 'SeqStmt', seq: Object.freeze(flat), span });
}
export function evaluate(value: ExprLike, span?: Span): Evaluate {
  return freezeNode({ kind: 'Evaluate', value: toExpr(value), span });
}
export function allocate(buffer: Buffer, body: Stmt, span?: Span): Allocate {
  return freezeNode({ kind: 'Allocate', buffer, body, span });
}
export function declBuffer(buffer: Buffer, body: Stmt, span?: Span): DeclBuffer {
  return freezeNode({ kind: 'DeclBuffer', buffer, body, span });
}
export function attrStmt(key: string, value: ExprLike, body: Stmt, span?: Span): AttrStmt {
  return freezeNode({ kind: 'AttrStmt', key, value: toExpr(value), body, span });
}
export function iterVar(
  v: Var,
  dom: Range | readonly [ExprLike, ExprLike],
  iterType: IterType = 'spatial',
  span?: Span,
): IterVar {
  const d = 'kind' in dom ? dom : range(dom[0], dom[1]);
  return freezeNode({ kind: 'IterVar', var: v, dom: d, iterType, span });
}
export function bufferRegion(buffer: Buffer, region?: readonly Range[], span?: Span): BufferRegion {
  const r = region ?? buffer.shape.map((s) => range(toExpr(0, s.dtype), s));
  return freezeNode({ kind: 'BufferRegion', buffer, region: Object.freeze([...r]), span });
}
export interface BlockOptions {
  iterVars?: readonly IterVar[];
  reads?: readonly BufferRegion[];
  writes?: readonly BufferRegion[];
  allocBuffers?: readonly Buffer[];
  init?: Stmt;
  annotations?: Attrs;
  span?: Span;
}
export function block(name: string, body: Stmt, opts: BlockOptions = {}): Block {
  return freezeNode({
    kind: 'Block',
    name,
    iterVars: Object.freeze([...(opts.iterVars ?? [])]),
    reads: Object.freeze([...(opts.reads ?? [])]),
    writes: Object.freeze([...(opts.writes ?? [])]),
    allocBuffers: Object.freeze([...(opts.allocBuffers ?? [])]),
    init: opts.init,
    body,
    annotations: Object.freeze({ ...(opts.annotations ?? {}) }),
    span: opts.span,
  });
}
export function blockRealize(
  iterValues: readonly ExprLike[],
  predicate: ExprLike,
  blk: Block,
  span?: Span,
): BlockRealize {
  if (iterValues.length !== blk.iterVars.length) {
    throw new KilnError(
      ErrorCodes.INVALID_ARGUMENT,
      `block '${blk.name}' has ${blk.iterVars.length} iteration variables but is realized with ${iterValues.length} values`,
    );
  }
  return freezeNode({
    kind: 'BlockRealize',
    iterValues: Object.freeze(iterValues.map((v, i) => toExpr(v, blk.iterVars[i].var.dtype))),
    predicate: toExpr(predicate),
    block: blk,
    span,
  });
}
export interface PrimFuncOptions {
  attrs?: Attrs;
  retType?: DataType;
  span?: Span;
}
export function primFunc(params: readonly PrimFuncParam[], body: Stmt, opts: PrimFuncOptions = {}): PrimFunc {
  return freezeNode({
    kind: 'PrimFunc',
    params: Object.freeze([...params]),
    body,
    attrs: Object.freeze({ ...(opts.attrs ?? {}) }),
    retType: opts.retType ?? DType.void,
    span: opts.span,
  });
}

/** A fresh loop / iteration variable (int64, like all Kiln index arithmetic). */
export function loopVar(name: string, dt: DataType | string = DType.int64): Var {
  return primVar(name, dt);
}
