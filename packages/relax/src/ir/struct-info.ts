// StructInfo factories and analysis: the static knowledge Relax keeps about every value
// (tensor rank/dtype/symbolic shape, tuples, shapes, scalars, functions). Includes the
// base-of relation, least common ancestor (for If), erasure of symbolic variables that
// go out of scope, broadcasting of symbolic shapes, and a compact text form for errors.
import type { DataType, ExprLike, Node, PrimExpr, Var as PrimVar, Span } from '@kiln/ir-core';
import {
  DType,
  ErrorCodes,
  freezeNode,
  KilnError,
  dtype as parseDType,
  postOrderVisit,
  toExpr,
} from '@kiln/ir-core';
import { constDim, provablyEqual, provablyNotEqual } from '../arith.js';
// Side effect: the node kinds must be declared before any node is built.
import './nodes.js';
import type {
  DataflowVar,
  FuncStructInfo,
  ObjectStructInfo,
  PrimStructInfo,
  ShapeExpr,
  ShapeStructInfo,
  StructInfo,
  TensorStructInfo,
  TupleStructInfo,
  Var,
} from './nodes.js';

// ---------------------------------------------------------------- factories

const OBJECT: ObjectStructInfo = freezeNode({ kind: 'relax.ObjectStructInfo' });
export function objectSInfo(): ObjectStructInfo {
  return OBJECT;
}
export function primSInfo(dt: DataType | string, value?: ExprLike, span?: Span): PrimStructInfo {
  const t = parseDType(dt);
  return freezeNode({
    kind: 'relax.PrimStructInfo',
    dtype: t,
    value: value === undefined ? undefined : toExpr(value, t),
    span,
  });
}
/** A shape: its values (`[n, 768]`), or only its rank (a number, -1 = unknown). */
export function shapeSInfo(valuesOrNdim: readonly ExprLike[] | number = -1, span?: Span): ShapeStructInfo {
  if (typeof valuesOrNdim === 'number') {
    return freezeNode({ kind: 'relax.ShapeStructInfo', values: Object.freeze([]), ndim: valuesOrNdim, span });
  }
  const values = Object.freeze(valuesOrNdim.map((v) => toExpr(v, DType.int64)));
  return freezeNode({ kind: 'relax.ShapeStructInfo', values, ndim: values.length, span });
}
/** The ShapeExpr used inside TensorStructInfo (built here to avoid an import cycle with expr.ts). */
export function makeShapeExpr(values: readonly ExprLike[], span?: Span): ShapeExpr {
  const vs = Object.freeze(values.map((v) => toExpr(v, DType.int64)));
  return freezeNode({ kind: 'relax.ShapeExpr', values: vs, structInfo: shapeSInfo(vs), span });
}

export interface TensorSInfoOptions {
  /** Rank when the shape is unknown. */
  ndim?: number;
  span?: Span;
}
/**
 * A tensor: `tensorSInfo([n, 768], 'float32')`, `tensorSInfo(shapeVar, 'float32')`,
 * `tensorSInfo(undefined, 'float32', { ndim: 2 })`, `tensorSInfo()` (anything).
 */
export function tensorSInfo(
  shape?: readonly ExprLike[] | ShapeExpr | Var | DataflowVar,
  dt?: DataType | string,
  opts: TensorSInfoOptions = {},
): TensorStructInfo {
  let s: ShapeExpr | Var | DataflowVar | undefined;
  let ndim = opts.ndim ?? -1;
  if (shape === undefined) s = undefined;
  else if (Array.isArray(shape)) s = makeShapeExpr(shape as readonly ExprLike[]);
  else s = shape as ShapeExpr | Var | DataflowVar;
  if (s !== undefined) {
    if (s.kind === 'relax.ShapeExpr') ndim = s.values.length;
    else {
      const vs = s.structInfo;
      if (vs.kind !== 'relax.ShapeStructInfo') {
        throw new KilnError(
          ErrorCodes.INVALID_ARGUMENT,
          `tensor shape variable '${s.name}' does not hold a shape`,
        );
      }
      ndim = vs.ndim;
    }
    if (opts.ndim !== undefined && opts.ndim !== -1 && opts.ndim !== ndim) {
      throw new KilnError(
        ErrorCodes.SHAPE_MISMATCH,
        `tensor shape has rank ${ndim} but ndim ${opts.ndim} was given`,
      );
    }
  }
  return freezeNode({
    kind: 'relax.TensorStructInfo',
    shape: s,
    dtype: dt === undefined ? undefined : parseDType(dt),
    ndim,
    span: opts.span,
  });
}
export function tupleSInfo(fields: readonly StructInfo[], span?: Span): TupleStructInfo {
  return freezeNode({ kind: 'relax.TupleStructInfo', fields: Object.freeze([...fields]), span });
}
export function funcSInfo(
  params: readonly StructInfo[],
  ret: StructInfo,
  opts: { pure?: boolean; span?: Span } = {},
): FuncStructInfo {
  return freezeNode({
    kind: 'relax.FuncStructInfo',
    params: Object.freeze([...params]),
    ret,
    opaque: false,
    pure: opts.pure ?? true,
    span: opts.span,
  });
}
/** A function whose parameters are unknown (extern / packed functions). */
export function opaqueFuncSInfo(ret: StructInfo = OBJECT, opts: { pure?: boolean } = {}): FuncStructInfo {
  return freezeNode({
    kind: 'relax.FuncStructInfo',
    params: Object.freeze([]),
    ret,
    opaque: true,
    pure: opts.pure ?? false,
  });
}

// ---------------------------------------------------------------- accessors

/** The values of a ShapeStructInfo when known. */
export function shapeValues(s: ShapeStructInfo): readonly PrimExpr[] | undefined {
  return s.ndim >= 0 && s.values.length === s.ndim ? s.values : undefined;
}
/** The symbolic dims of a tensor when known (through a shape variable too). */
export function tensorShape(t: TensorStructInfo): readonly PrimExpr[] | undefined {
  if (t.ndim === 0) return [];
  const s = t.shape;
  if (s === undefined) return undefined;
  if (s.kind === 'relax.ShapeExpr') return s.values;
  return s.structInfo.kind === 'relax.ShapeStructInfo' ? shapeValues(s.structInfo) : undefined;
}
/** Constant dims, when every dim folds to a constant. */
export function staticShape(t: TensorStructInfo): number[] | undefined {
  const s = tensorShape(t);
  if (!s) return undefined;
  const out: number[] = [];
  for (const d of s) {
    const c = constDim(d);
    if (c === undefined) return undefined;
    out.push(c);
  }
  return out;
}

// ---------------------------------------------------------------- printing

const BIN_SYM: Record<string, string> = {
  Add: '+',
  Sub: '-',
  Mul: '*',
  Div: '/',
  FloorDiv: '//',
  FloorMod: '%',
  Mod: '%',
  EQ: '==',
  NE: '!=',
  LT: '<',
  LE: '<=',
  GT: '>',
  GE: '>=',
  And: '&&',
  Or: '||',
};
/** Compact text of a PrimExpr for messages (`n * 2 + 1`). */
export function primToString(e: PrimExpr): string {
  switch (e.kind) {
    case 'IntImm':
      return e.dtype.code === 'bool' ? (e.value ? 'True' : 'False') : String(e.value);
    case 'FloatImm':
      return String(e.value);
    case 'StringImm':
      return JSON.stringify(e.value);
    case 'Var':
      return e.name;
    case 'Min':
    case 'Max':
      return `T.${e.kind.toLowerCase()}(${primToString(e.a)}, ${primToString(e.b)})`;
    case 'Not':
      return `!(${primToString(e.a)})`;
    case 'Cast':
      return `T.Cast("${e.dtype.str}", ${primToString(e.value)})`;
    case 'Call':
      return `${e.op}(${e.args.map(primToString).join(', ')})`;
    case 'Select':
      return `T.Select(${primToString(e.cond)}, ${primToString(e.t)}, ${primToString(e.f)})`;
    default:
      if ('a' in e && 'b' in e)
        return `(${primToString(e.a)} ${BIN_SYM[e.kind] ?? e.kind} ${primToString(e.b)})`;
      return e.kind;
  }
}
export function shapeToString(dims: readonly PrimExpr[]): string {
  return `(${dims.map((d) => primToString(d).replace(/^\((.*)\)$/, '$1')).join(', ')}${dims.length === 1 ? ',' : ''})`;
}
/** TVMScript-like text of a StructInfo, used in error messages. */
export function sinfoToString(s: StructInfo): string {
  switch (s.kind) {
    case 'relax.ObjectStructInfo':
      return 'R.Object';
    case 'relax.PrimStructInfo':
      return s.value ? `R.Prim(value=${primToString(s.value)})` : `R.Prim("${s.dtype.str}")`;
    case 'relax.ShapeStructInfo': {
      const v = shapeValues(s);
      return v ? `R.Shape([${v.map(primToString).join(', ')}])` : `R.Shape(ndim=${s.ndim})`;
    }
    case 'relax.TensorStructInfo': {
      const parts: string[] = [];
      const dims = tensorShape(s);
      if (s.shape && s.shape.kind !== 'relax.ShapeExpr') parts.push(s.shape.name);
      else if (dims) parts.push(shapeToString(dims));
      if (s.dtype) parts.push(`"${s.dtype.str}"`);
      if (!dims && !s.shape && s.ndim >= 0) parts.push(`ndim=${s.ndim}`);
      return `R.Tensor(${parts.join(', ')})`;
    }
    case 'relax.TupleStructInfo':
      return `R.Tuple(${s.fields.map(sinfoToString).join(', ')})`;
    case 'relax.FuncStructInfo':
      return s.opaque
        ? `R.Callable(ret=${sinfoToString(s.ret)})`
        : `R.Callable((${s.params.map(sinfoToString).join(', ')}), ${sinfoToString(s.ret)})`;
  }
}

// ---------------------------------------------------------------- base-of / LCA

function dimsEqual(a: readonly PrimExpr[], b: readonly PrimExpr[]): boolean {
  return a.length === b.length && a.every((d, i) => provablyEqual(d, b[i]));
}

/**
 * Is every value described by `derived` also described by `base`? (`R.Tensor(ndim=2)` is a
 * base of `R.Tensor((n, 4), "float32")`; `R.Object` is a base of everything.) Symbolic
 * dims must be provably equal.
 */
export function isBaseOf(base: StructInfo, derived: StructInfo): boolean {
  if (base.kind === 'relax.ObjectStructInfo') return true;
  switch (base.kind) {
    case 'relax.PrimStructInfo':
      if (derived.kind !== base.kind || derived.dtype !== base.dtype) return false;
      return (
        base.value === undefined || (derived.value !== undefined && provablyEqual(base.value, derived.value))
      );
    case 'relax.ShapeStructInfo': {
      if (derived.kind !== base.kind) return false;
      if (base.ndim !== -1 && base.ndim !== derived.ndim) return false;
      const bv = shapeValues(base);
      if (!bv) return true;
      const dv = shapeValues(derived);
      return dv !== undefined && dimsEqual(bv, dv);
    }
    case 'relax.TensorStructInfo': {
      if (derived.kind !== base.kind) return false;
      if (base.dtype !== undefined && derived.dtype !== base.dtype) return false;
      if (base.ndim !== -1 && base.ndim !== derived.ndim) return false;
      const bs = tensorShape(base);
      if (!bs) return true;
      const ds = tensorShape(derived);
      if (ds) return dimsEqual(bs, ds);
      // Same shape variable on both sides.
      return base.shape !== undefined && base.shape === derived.shape;
    }
    case 'relax.TupleStructInfo':
      return (
        derived.kind === base.kind &&
        derived.fields.length === base.fields.length &&
        base.fields.every((f, i) => isBaseOf(f, derived.fields[i]))
      );
    case 'relax.FuncStructInfo': {
      if (derived.kind !== base.kind) return false;
      if (base.pure && !derived.pure) return false;
      if (base.opaque) return isBaseOf(base.ret, derived.ret);
      if (derived.opaque || derived.params.length !== base.params.length) return false;
      // Parameters are contravariant: the derived function must accept what base accepts.
      return base.params.every((p, i) => isBaseOf(derived.params[i], p)) && isBaseOf(base.ret, derived.ret);
    }
  }
}

/** Could a value of `derived` at runtime match `base`? (MatchCast's static check.) */
export function mayBeBaseOf(base: StructInfo, derived: StructInfo): boolean {
  if (base.kind === 'relax.ObjectStructInfo' || derived.kind === 'relax.ObjectStructInfo') return true;
  if (base.kind !== derived.kind) return false;
  switch (base.kind) {
    case 'relax.TensorStructInfo': {
      const d = derived as TensorStructInfo;
      if (base.dtype && d.dtype && base.dtype !== d.dtype) return false;
      if (base.ndim >= 0 && d.ndim >= 0 && base.ndim !== d.ndim) return false;
      const bs = tensorShape(base);
      const ds = tensorShape(d);
      if (bs && ds) return bs.every((x, i) => !provablyNotEqual(x, ds[i]));
      return true;
    }
    case 'relax.ShapeStructInfo': {
      const d = derived as ShapeStructInfo;
      return base.ndim < 0 || d.ndim < 0 || base.ndim === d.ndim;
    }
    case 'relax.TupleStructInfo': {
      const d = derived as TupleStructInfo;
      return (
        d.fields.length === base.fields.length && base.fields.every((f, i) => mayBeBaseOf(f, d.fields[i]))
      );
    }
    case 'relax.PrimStructInfo':
      return (derived as PrimStructInfo).dtype === base.dtype;
    default:
      return true;
  }
}

/** The most specific StructInfo that is a base of both (used for If branches). */
export function structInfoLCA(a: StructInfo, b: StructInfo): StructInfo {
  if (isBaseOf(a, b)) return a;
  if (isBaseOf(b, a)) return b;
  if (a.kind !== b.kind) return OBJECT;
  switch (a.kind) {
    case 'relax.PrimStructInfo':
      return a.dtype === (b as PrimStructInfo).dtype ? primSInfo(a.dtype) : OBJECT;
    case 'relax.ShapeStructInfo':
      return shapeSInfo(a.ndim === (b as ShapeStructInfo).ndim ? a.ndim : -1);
    case 'relax.TensorStructInfo': {
      const t = b as TensorStructInfo;
      const ndim = a.ndim === t.ndim ? a.ndim : -1;
      const dt = a.dtype === t.dtype ? a.dtype : undefined;
      const sa = tensorShape(a);
      const sb = tensorShape(t);
      if (sa && sb && dimsEqual(sa, sb)) return tensorSInfo(sa, dt);
      return tensorSInfo(undefined, dt, { ndim });
    }
    case 'relax.TupleStructInfo': {
      const t = b as TupleStructInfo;
      if (a.fields.length !== t.fields.length) return OBJECT;
      return tupleSInfo(a.fields.map((f, i) => structInfoLCA(f, t.fields[i])));
    }
    case 'relax.FuncStructInfo': {
      const f = b as FuncStructInfo;
      return opaqueFuncSInfo(structInfoLCA(a.ret, f.ret), { pure: a.pure && f.pure });
    }
    default:
      return OBJECT;
  }
}

/** The symbolic (PrimExpr) variables a StructInfo mentions. */
export function symbolicVarsOf(s: Node): PrimVar[] {
  const out: PrimVar[] = [];
  postOrderVisit(s, (n) => {
    // Buffer data vars (handles) are not shape variables.
    if (n.kind === 'Var' && (n as PrimVar).dtype.code !== 'handle') out.push(n as PrimVar);
  });
  return out;
}

/**
 * Erase what refers to symbolic variables (or shape vars) not in scope: a dim list
 * mentioning an unknown variable becomes rank-only. Used when a value leaves the scope
 * where its symbolic variables were defined (a function's return, a SeqExpr's body).
 */
export function eraseToWellDefined(
  s: StructInfo,
  isDefined: (v: PrimVar) => boolean,
  isVarDefined: (v: Var | DataflowVar) => boolean = () => true,
): StructInfo {
  const ok = (e: PrimExpr) => symbolicVarsOf(e).every(isDefined);
  switch (s.kind) {
    case 'relax.ObjectStructInfo':
      return s;
    case 'relax.PrimStructInfo':
      return s.value && !ok(s.value) ? primSInfo(s.dtype) : s;
    case 'relax.ShapeStructInfo':
      return s.values.every(ok) ? s : shapeSInfo(s.ndim);
    case 'relax.TensorStructInfo': {
      if (!s.shape) return s;
      if (s.shape.kind !== 'relax.ShapeExpr')
        return isVarDefined(s.shape) ? s : tensorSInfo(undefined, s.dtype, { ndim: s.ndim });
      return s.shape.values.every(ok) ? s : tensorSInfo(undefined, s.dtype, { ndim: s.ndim });
    }
    case 'relax.TupleStructInfo': {
      const fs = s.fields.map((f) => eraseToWellDefined(f, isDefined, isVarDefined));
      return fs.every((f, i) => f === s.fields[i]) ? s : tupleSInfo(fs);
    }
    case 'relax.FuncStructInfo':
      return s;
  }
}

// ---------------------------------------------------------------- broadcasting

/**
 * NumPy broadcasting of symbolic shapes. Returns the result dims, or `undefined` when a
 * pair of symbolic dims cannot be related (then only the rank is known). Provably
 * different dims (neither 1) are a SHAPE_MISMATCH naming `op` and the operand shapes.
 */
export function broadcastShapes(
  op: string,
  shapes: readonly (readonly PrimExpr[])[],
): PrimExpr[] | undefined {
  const ndim = Math.max(0, ...shapes.map((s) => s.length));
  const out: PrimExpr[] = [];
  let unknown = false;
  for (let i = 0; i < ndim; i++) {
    let cur: PrimExpr | undefined;
    for (const s of shapes) {
      const k = s.length - ndim + i;
      if (k < 0) continue;
      const d = s[k];
      if (cur === undefined) {
        cur = d;
        continue;
      }
      const cc = constDim(cur);
      const cd = constDim(d);
      if (cd === 1) continue;
      if (cc === 1) {
        cur = d;
        continue;
      }
      if (provablyEqual(cur, d)) continue;
      if (cc !== undefined && cd !== undefined) {
        throw new KilnError(
          ErrorCodes.SHAPE_MISMATCH,
          `${op}: shapes ${shapes.map(shapeToString).join(' and ')} cannot be broadcast (dim ${i}: ${cc} vs ${cd})`,
          { details: { op, shapes: shapes.map(shapeToString) } },
        );
      }
      unknown = true;
    }
    out.push(cur!);
  }
  return unknown ? undefined : out;
}
