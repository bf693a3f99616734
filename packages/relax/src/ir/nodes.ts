// Relax node kinds: graph-level expressions, bindings and StructInfo, declared once in
// the ir-core node table so generic traversal and structural equality (alpha-equivalence
// over relax.Var / relax.DataflowVar binders) come for free. Types only + the table;
// factories live in expr.ts and struct-info.ts.
import type { Attrs, DataType, PrimExpr, Span } from '@kiln/ir-core';
import { defineFunctionKind, defineNodeKinds } from '@kiln/ir-core';

// ---------------------------------------------------------------- StructInfo

/** No static knowledge beyond "some runtime object". The base of every StructInfo. */
export interface ObjectStructInfo {
  readonly kind: 'relax.ObjectStructInfo';
  readonly span?: Span;
}
/** A scalar of `dtype`, with its symbolic value when known. */
export interface PrimStructInfo {
  readonly kind: 'relax.PrimStructInfo';
  readonly span?: Span;
  readonly dtype: DataType;
  readonly value?: PrimExpr;
}
/**
 * A shape (tuple of int64). `values` are the dimensions when known; they are known iff
 * `ndim >= 0 && values.length === ndim` (an unknown-valued shape has `values = []`).
 * Use `shapeValues()` rather than reading `values` directly.
 */
export interface ShapeStructInfo {
  readonly kind: 'relax.ShapeStructInfo';
  readonly span?: Span;
  readonly values: readonly PrimExpr[];
  /** Rank, or -1 when unknown. */
  readonly ndim: number;
}
/**
 * A tensor. `shape` is a ShapeExpr (the symbolic dims), a Var holding a shape, or absent
 * when only the rank (`ndim`, -1 if unknown) is known. `dtype` absent = unknown dtype.
 */
export interface TensorStructInfo {
  readonly kind: 'relax.TensorStructInfo';
  readonly span?: Span;
  readonly shape?: ShapeExpr | Var | DataflowVar;
  readonly dtype?: DataType;
  readonly ndim: number;
}
export interface TupleStructInfo {
  readonly kind: 'relax.TupleStructInfo';
  readonly span?: Span;
  readonly fields: readonly StructInfo[];
}
/**
 * A function. `opaque` functions (extern, packed) have unknown parameters: `params` is
 * empty and calls are checked only against `ret`.
 */
export interface FuncStructInfo {
  readonly kind: 'relax.FuncStructInfo';
  readonly span?: Span;
  readonly params: readonly StructInfo[];
  readonly ret: StructInfo;
  readonly opaque: boolean;
  readonly pure: boolean;
}

export type StructInfo =
  | ObjectStructInfo
  | PrimStructInfo
  | ShapeStructInfo
  | TensorStructInfo
  | TupleStructInfo
  | FuncStructInfo;
export type StructInfoKind = StructInfo['kind'];

// ---------------------------------------------------------------- expressions

interface ExprBase {
  readonly span?: Span;
  /** Filled in by normalization (BlockBuilder.normalize); absent on raw, unnormalized IR. */
  readonly structInfo?: StructInfo;
}

/** A variable bound by a function parameter or a binding outside dataflow blocks. */
export interface Var {
  readonly kind: 'relax.Var';
  readonly span?: Span;
  readonly name: string;
  readonly structInfo: StructInfo;
}
/** A variable bound inside a dataflow block and visible only there. */
export interface DataflowVar {
  readonly kind: 'relax.DataflowVar';
  readonly span?: Span;
  readonly name: string;
  readonly structInfo: StructInfo;
}
export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;
/** Tensor data embedded in the graph (weights, folded constants). Row-major. */
export interface Constant extends ExprBase {
  readonly kind: 'relax.Constant';
  readonly dtype: DataType;
  readonly shape: readonly number[];
  readonly data: TypedArray;
}
export interface Tuple extends ExprBase {
  readonly kind: 'relax.Tuple';
  readonly fields: readonly Expr[];
}
export interface TupleGetItem extends ExprBase {
  readonly kind: 'relax.TupleGetItem';
  readonly tuple: Expr;
  readonly index: number;
}
/** A shape value built from symbolic integers: `R.shape([n, 768])`. */
export interface ShapeExpr extends ExprBase {
  readonly kind: 'relax.ShapeExpr';
  readonly values: readonly PrimExpr[];
}
/** A scalar known at the graph level (a symbolic int, a float attribute passed as value). */
export interface PrimValue extends ExprBase {
  readonly kind: 'relax.PrimValue';
  readonly value: PrimExpr;
}
export interface StringImm extends ExprBase {
  readonly kind: 'relax.StringImm';
  readonly value: string;
}
/** A registered operator used as a callee. Interned per name (see `opRef`). */
export interface Op extends ExprBase {
  readonly kind: 'relax.Op';
  readonly name: string;
}
/** A reference to a function of the enclosing IRModule (Relax function or PrimFunc). */
export interface GlobalVar extends ExprBase {
  readonly kind: 'relax.GlobalVar';
  readonly name: string;
}
/** A function provided by the runtime or a library, called by symbol name. */
export interface ExternFunc extends ExprBase {
  readonly kind: 'relax.ExternFunc';
  readonly globalSymbol: string;
}
/**
 * A call. `op` is an Op (registered operator), a GlobalVar (module function), an
 * ExternFunc, or a Var holding a function. `attrs` are the op's attributes (validated by
 * its zod schema during normalization). `sinfoArgs` carries StructInfo arguments: for
 * `relax.call_tir` / `relax.call_dps_packed` the output StructInfo.
 */
export interface Call extends ExprBase {
  readonly kind: 'relax.Call';
  readonly op: Op | GlobalVar | ExternFunc | Var | DataflowVar;
  readonly args: readonly Expr[];
  readonly attrs: Attrs;
  readonly sinfoArgs: readonly StructInfo[];
}
export interface If extends ExprBase {
  readonly kind: 'relax.If';
  readonly cond: Expr;
  readonly trueBranch: Expr;
  readonly falseBranch: Expr;
}
export interface SeqExpr extends ExprBase {
  readonly kind: 'relax.SeqExpr';
  readonly blocks: readonly (BindingBlock | DataflowBlock)[];
  readonly body: Expr;
}
/** A Relax function (named `RelaxFunction` so it does not shadow the global `Function`). */
export interface RelaxFunction extends ExprBase {
  readonly kind: 'relax.Function';
  readonly params: readonly Var[];
  readonly body: Expr;
  readonly retStructInfo: StructInfo;
  readonly isPure: boolean;
  /** `global_symbol`, `private`, `Primitive`, `Composite`, ... */
  readonly attrs: Attrs;
}

export type Expr =
  | Var
  | DataflowVar
  | Constant
  | Tuple
  | TupleGetItem
  | ShapeExpr
  | PrimValue
  | StringImm
  | Op
  | GlobalVar
  | ExternFunc
  | Call
  | If
  | SeqExpr
  | RelaxFunction;
export type ExprKind = Expr['kind'];
export type AnyVar = Var | DataflowVar;

// ---------------------------------------------------------------- bindings

export interface VarBinding {
  readonly kind: 'relax.VarBinding';
  readonly span?: Span;
  readonly var: AnyVar;
  readonly value: Expr;
}
/**
 * Bind `var` to `value` after checking at runtime that it matches `structInfo`; symbolic
 * variables first seen in `structInfo` are defined here.
 */
export interface MatchCast {
  readonly kind: 'relax.MatchCast';
  readonly span?: Span;
  readonly var: AnyVar;
  readonly value: Expr;
  readonly structInfo: StructInfo;
}
export type Binding = VarBinding | MatchCast;

export interface BindingBlock {
  readonly kind: 'relax.BindingBlock';
  readonly span?: Span;
  readonly bindings: readonly Binding[];
}
/** A side-effect-free block; its DataflowVars are invisible outside it. */
export interface DataflowBlock {
  readonly kind: 'relax.DataflowBlock';
  readonly span?: Span;
  readonly bindings: readonly Binding[];
}
export type Block = BindingBlock | DataflowBlock;

export type RelaxNode = Expr | Binding | Block | StructInfo;
export type RelaxKind = RelaxNode['kind'];

// ---------------------------------------------------------------- the table
// Field order is traversal order: a binder scopes the fields after it (the value of a
// binding is visited before its var; function params before the body).

/** Field tables typed against the node interfaces, so a renamed field fails to compile. */
type FieldTable<T> = { [K in Exclude<keyof T, 'kind' | 'span'>]-?: import('@kiln/ir-core').FieldType };
const info = <T>(fields: FieldTable<T>, isVar = false) => ({
  fields: fields as Record<string, import('@kiln/ir-core').FieldType>,
  isVar,
});

defineNodeKinds('relax', {
  'relax.ObjectStructInfo': info<ObjectStructInfo>({}),
  'relax.PrimStructInfo': info<PrimStructInfo>({ dtype: 'value', value: 'node?' }),
  'relax.ShapeStructInfo': info<ShapeStructInfo>({ values: 'node[]', ndim: 'value' }),
  'relax.TensorStructInfo': info<TensorStructInfo>({ shape: 'node?', dtype: 'value', ndim: 'value' }),
  'relax.TupleStructInfo': info<TupleStructInfo>({ fields: 'node[]' }),
  'relax.FuncStructInfo': info<FuncStructInfo>({
    params: 'node[]',
    ret: 'node',
    opaque: 'value',
    pure: 'value',
  }),

  'relax.Var': info<Var>({ name: 'ignore', structInfo: 'node' }, true),
  'relax.DataflowVar': info<DataflowVar>({ name: 'ignore', structInfo: 'node' }, true),
  'relax.Constant': info<Constant>({ dtype: 'value', shape: 'value', data: 'value', structInfo: 'node?' }),
  'relax.Tuple': info<Tuple>({ fields: 'node[]', structInfo: 'node?' }),
  'relax.TupleGetItem': info<TupleGetItem>({ tuple: 'node', index: 'value', structInfo: 'node?' }),
  'relax.ShapeExpr': info<ShapeExpr>({ values: 'node[]', structInfo: 'node?' }),
  'relax.PrimValue': info<PrimValue>({ value: 'node', structInfo: 'node?' }),
  'relax.StringImm': info<StringImm>({ value: 'value', structInfo: 'node?' }),
  'relax.Op': info<Op>({ name: 'value', structInfo: 'node?' }),
  'relax.GlobalVar': info<GlobalVar>({ name: 'value', structInfo: 'node?' }),
  'relax.ExternFunc': info<ExternFunc>({ globalSymbol: 'value', structInfo: 'node?' }),
  'relax.Call': info<Call>({
    op: 'node',
    args: 'node[]',
    attrs: 'value',
    sinfoArgs: 'node[]',
    structInfo: 'node?',
  }),
  'relax.If': info<If>({ cond: 'node', trueBranch: 'node', falseBranch: 'node', structInfo: 'node?' }),
  'relax.SeqExpr': info<SeqExpr>({ blocks: 'node[]', body: 'node', structInfo: 'node?' }),
  'relax.Function': info<RelaxFunction>({
    params: 'binder[]',
    retStructInfo: 'node',
    body: 'node',
    isPure: 'value',
    attrs: 'value',
    structInfo: 'node?',
  }),

  'relax.VarBinding': info<VarBinding>({ value: 'node', var: 'binder' }),
  'relax.MatchCast': info<MatchCast>({ value: 'node', structInfo: 'node', var: 'binder' }),
  'relax.BindingBlock': info<BindingBlock>({ bindings: 'node[]' }),
  'relax.DataflowBlock': info<DataflowBlock>({ bindings: 'node[]' }),
});
defineFunctionKind('relax.Function');

const STRUCT_INFO_KINDS: ReadonlySet<string> = new Set([
  'relax.ObjectStructInfo',
  'relax.PrimStructInfo',
  'relax.ShapeStructInfo',
  'relax.TensorStructInfo',
  'relax.TupleStructInfo',
  'relax.FuncStructInfo',
]);
const EXPR_KINDS: ReadonlySet<string> = new Set([
  'relax.Var',
  'relax.DataflowVar',
  'relax.Constant',
  'relax.Tuple',
  'relax.TupleGetItem',
  'relax.ShapeExpr',
  'relax.PrimValue',
  'relax.StringImm',
  'relax.Op',
  'relax.GlobalVar',
  'relax.ExternFunc',
  'relax.Call',
  'relax.If',
  'relax.SeqExpr',
  'relax.Function',
]);

export function isStructInfo(x: unknown): x is StructInfo {
  return typeof x === 'object' && x !== null && STRUCT_INFO_KINDS.has((x as { kind?: string }).kind ?? '');
}
export function isRelaxExpr(x: unknown): x is Expr {
  return typeof x === 'object' && x !== null && EXPR_KINDS.has((x as { kind?: string }).kind ?? '');
}
export function isAnyVar(x: unknown): x is AnyVar {
  const k = (x as { kind?: string } | null)?.kind;
  return k === 'relax.Var' || k === 'relax.DataflowVar';
}
/** Leaf expressions: what ANF allows as call arguments (vars, constants, shape/prim values, tuples of leaves). */
export function isLeaf(e: Expr): boolean {
  switch (e.kind) {
    case 'relax.Var':
    case 'relax.DataflowVar':
    case 'relax.Constant':
    case 'relax.ShapeExpr':
    case 'relax.PrimValue':
    case 'relax.StringImm':
    case 'relax.Op':
    case 'relax.GlobalVar':
    case 'relax.ExternFunc':
      return true;
    case 'relax.Tuple':
      return e.fields.every(isLeaf);
    default:
      return false;
  }
}
