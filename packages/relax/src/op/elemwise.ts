// Elementwise operators: unary math and activations, broadcasting binary arithmetic and
// comparisons, where, astype (cast) and clip.
import type { DataType } from '@kiln/ir-core';
import { DType, ErrorCodes, dtype as parseDType } from '@kiln/ir-core';
import { call } from '../ir/expr.js';
import type { Call, Expr, StructInfo } from '../ir/nodes.js';
import { broadcastShapes } from '../ir/struct-info.js';
import { isFloatDType, result, unifyDType, z, zDType } from './common.js';
import type { OpContext, OpDef, TensorArg } from './registry.js';
import { defineOp } from './registry.js';

// ---------------------------------------------------------------- unary

/** What a unary op accepts and returns. */
type UnaryKind = 'float' | 'any' | 'int' | 'bool' | 'predicate';

/** relax op name → [kind, pattern]. `predicate` ops return bool. */
export const UNARY_OPS = {
  'relax.abs': 'any',
  'relax.negative': 'any',
  'relax.exp': 'float',
  'relax.expm1': 'float',
  'relax.log': 'float',
  'relax.log2': 'float',
  'relax.log10': 'float',
  'relax.sqrt': 'float',
  'relax.rsqrt': 'float',
  'relax.sin': 'float',
  'relax.cos': 'float',
  'relax.tan': 'float',
  'relax.asin': 'float',
  'relax.acos': 'float',
  'relax.atan': 'float',
  'relax.sinh': 'float',
  'relax.cosh': 'float',
  'relax.tanh': 'float',
  'relax.sigmoid': 'float',
  'relax.erf': 'float',
  'relax.floor': 'any',
  'relax.ceil': 'any',
  'relax.round': 'any',
  'relax.trunc': 'any',
  'relax.sign': 'any',
  'relax.square': 'any',
  'relax.reciprocal': 'float',
  'relax.logical_not': 'bool',
  'relax.bitwise_not': 'int',
  'relax.isnan': 'predicate',
  'relax.isinf': 'predicate',
  'relax.isfinite': 'predicate',
  'relax.nn.relu': 'any',
  'relax.nn.gelu': 'float',
  'relax.nn.gelu_tanh': 'float',
  'relax.nn.silu': 'float',
  'relax.nn.softplus': 'float',
  'relax.nn.mish': 'float',
  'relax.nn.hard_sigmoid': 'float',
  'relax.nn.hard_swish': 'float',
} as const satisfies Record<string, UnaryKind>;
export type UnaryOpName = keyof typeof UNARY_OPS;

function checkKind(ctx: OpContext<unknown>, t: TensorArg, kind: UnaryKind): void {
  const dt = t.dtype;
  if (!dt) return;
  const ok =
    kind === 'any' ||
    (kind === 'float' && isFloatDType(dt)) ||
    (kind === 'predicate' && isFloatDType(dt)) ||
    (kind === 'int' && (dt.code === 'int' || dt.code === 'uint' || dt.code === 'bool')) ||
    (kind === 'bool' && dt.code === 'bool');
  if (!ok) ctx.fail(ErrorCodes.DTYPE_MISMATCH, `does not accept dtype ${dt.str}`);
}

function unaryDef(name: UnaryOpName): OpDef {
  const kind: UnaryKind = UNARY_OPS[name];
  return defineOp({
    name,
    numArgs: 1,
    pattern: 'elemwise',
    inferStructInfo(_c, ctx) {
      const x = ctx.tensor(0);
      checkKind(ctx, x, kind);
      return result(x.shape, kind === 'predicate' ? DType.bool : x.dtype, x.ndim);
    },
  });
}

// ---------------------------------------------------------------- binary

type BinaryKind = 'arith' | 'compare' | 'logical' | 'bitwise';
export const BINARY_OPS = {
  'relax.add': 'arith',
  'relax.subtract': 'arith',
  'relax.multiply': 'arith',
  'relax.divide': 'arith',
  'relax.floor_divide': 'arith',
  'relax.power': 'arith',
  'relax.maximum': 'arith',
  'relax.minimum': 'arith',
  'relax.mod': 'arith',
  'relax.floor_mod': 'arith',
  'relax.equal': 'compare',
  'relax.not_equal': 'compare',
  'relax.less': 'compare',
  'relax.less_equal': 'compare',
  'relax.greater': 'compare',
  'relax.greater_equal': 'compare',
  'relax.logical_and': 'logical',
  'relax.logical_or': 'logical',
  'relax.logical_xor': 'logical',
  'relax.bitwise_and': 'bitwise',
  'relax.bitwise_or': 'bitwise',
  'relax.bitwise_xor': 'bitwise',
} as const satisfies Record<string, BinaryKind>;
export type BinaryOpName = keyof typeof BINARY_OPS;

/** Broadcast result of tensors: known dims, or rank only when a pair of dims cannot be related. */
export function broadcastResult(
  ctx: OpContext<unknown>,
  ts: readonly TensorArg[],
  dt: DataType | undefined,
): StructInfo {
  if (ts.every((t) => t.shape)) {
    const s = broadcastShapes(
      ctx.op,
      ts.map((t) => t.shape!),
    );
    return result(s, dt, Math.max(...ts.map((t) => t.ndim)));
  }
  const ndim = ts.some((t) => t.ndim < 0) ? -1 : Math.max(...ts.map((t) => t.ndim));
  return result(undefined, dt, ndim);
}

function binaryDef(name: BinaryOpName): OpDef {
  const kind: BinaryKind = BINARY_OPS[name];
  return defineOp({
    name,
    numArgs: 2,
    pattern: 'broadcast',
    inferStructInfo(_c, ctx) {
      const a = ctx.tensor(0);
      const b = ctx.tensor(1);
      const dt = unifyDType(ctx, [a, b]);
      if (dt && kind === 'logical' && dt.code !== 'bool')
        ctx.fail(ErrorCodes.DTYPE_MISMATCH, `needs bool operands, got ${dt.str}`);
      if (dt && kind === 'bitwise' && isFloatDType(dt))
        ctx.fail(ErrorCodes.DTYPE_MISMATCH, `needs integer operands, got ${dt.str}`);
      return broadcastResult(ctx, [a, b], kind === 'compare' ? DType.bool : dt);
    },
  });
}

// ---------------------------------------------------------------- others

export const whereOp = defineOp({
  name: 'relax.where',
  numArgs: 3,
  pattern: 'broadcast',
  inferStructInfo(_c, ctx) {
    const cond = ctx.tensor(0);
    const x = ctx.tensor(1);
    const y = ctx.tensor(2);
    if (cond.dtype && cond.dtype.code !== 'bool')
      ctx.fail(ErrorCodes.DTYPE_MISMATCH, `condition must be bool, got ${cond.dtype.str}`);
    return broadcastResult(ctx, [cond, x, y], unifyDType(ctx, [x, y]));
  },
});

// saturate (float8 targets) and round_mode (float8_e8m0fnu) follow ONNX Cast; absent means
// the defaults (saturate, round up), which is what a plain TIR Cast does.
const astypeAttrs = z.object({
  dtype: zDType,
  saturate: z.boolean().optional(),
  round_mode: z.enum(['up', 'down', 'nearest']).optional(),
});
export const astypeOp = defineOp<z.output<typeof astypeAttrs>>({
  name: 'relax.astype',
  attrs: astypeAttrs,
  numArgs: 1,
  pattern: 'elemwise',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    return result(x.shape, parseDType(ctx.attrs.dtype), x.ndim);
  },
});

// The bits of each element read as another type of the same width (ONNX BitCast, TIR
// reinterpret). bool counts as 8 bits, as it is stored.
const reinterpretAttrs = z.object({ dtype: zDType });
export const reinterpretOp = defineOp<z.output<typeof reinterpretAttrs>>({
  name: 'relax.reinterpret',
  attrs: reinterpretAttrs,
  numArgs: 1,
  pattern: 'elemwise',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const to = parseDType(ctx.attrs.dtype);
    const width = (t: DataType) => (t.code === 'bool' ? 8 : t.bits);
    if (x.dtype && width(x.dtype) !== width(to))
      ctx.fail(
        ErrorCodes.DTYPE_MISMATCH,
        `cannot reinterpret ${x.dtype.str} (${width(x.dtype)} bits) as ${to.str} (${width(to)} bits)`,
      );
    return result(x.shape, to, x.ndim);
  },
});

// null = unbounded on that side (ONNX Clip with a missing min or max).
const clipAttrs = z.object({
  min: z.number().nullable().default(null),
  max: z.number().nullable().default(null),
});
export const clipOp = defineOp<z.output<typeof clipAttrs>>({
  name: 'relax.clip',
  attrs: clipAttrs,
  numArgs: 1,
  pattern: 'elemwise',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    const { min, max } = ctx.attrs;
    if (min !== null && max !== null && min > max)
      ctx.fail(ErrorCodes.INVALID_ARGUMENT, `min ${ctx.attrs.min} > max ${ctx.attrs.max}`);
    return result(x.shape, x.dtype, x.ndim);
  },
});

const leakyAttrs = z.object({ alpha: z.number().default(0.01) });
export const leakyReluOp = defineOp<z.output<typeof leakyAttrs>>({
  name: 'relax.nn.leaky_relu',
  attrs: leakyAttrs,
  numArgs: 1,
  pattern: 'elemwise',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    checkKind(ctx, x, 'float');
    return result(x.shape, x.dtype, x.ndim);
  },
});

export const ELEMWISE_OPS: readonly OpDef<unknown>[] = [
  ...(Object.keys(UNARY_OPS) as UnaryOpName[]).map(unaryDef),
  ...(Object.keys(BINARY_OPS) as BinaryOpName[]).map(binaryDef),
  whereOp,
  astypeOp,
  reinterpretOp,
  clipOp,
  leakyReluOp,
] as readonly OpDef<unknown>[];

// ---------------------------------------------------------------- constructors

const u =
  (name: UnaryOpName) =>
  (x: Expr): Call =>
    call(name, [x]);
const b =
  (name: BinaryOpName) =>
  (x: Expr, y: Expr): Call =>
    call(name, [x, y]);

export const abs = u('relax.abs');
export const negative = u('relax.negative');
export const exp = u('relax.exp');
/** exp(x) - 1, accurate near 0. */
export const expm1 = u('relax.expm1');
export const log = u('relax.log');
export const log2 = u('relax.log2');
export const log10 = u('relax.log10');
export const sqrt = u('relax.sqrt');
export const rsqrt = u('relax.rsqrt');
export const sin = u('relax.sin');
export const cos = u('relax.cos');
export const tan = u('relax.tan');
export const asin = u('relax.asin');
export const acos = u('relax.acos');
export const atan = u('relax.atan');
export const sinh = u('relax.sinh');
export const cosh = u('relax.cosh');
export const tanh = u('relax.tanh');
export const sigmoid = u('relax.sigmoid');
export const erf = u('relax.erf');
export const floor = u('relax.floor');
export const ceil = u('relax.ceil');
export const round = u('relax.round');
export const trunc = u('relax.trunc');
export const sign = u('relax.sign');
export const square = u('relax.square');
export const reciprocal = u('relax.reciprocal');
export const logicalNot = u('relax.logical_not');
export const bitwiseNot = u('relax.bitwise_not');
export const isnan = u('relax.isnan');
export const isinf = u('relax.isinf');
export const isfinite = u('relax.isfinite');
export const relu = u('relax.nn.relu');
export const gelu = u('relax.nn.gelu');
export const geluTanh = u('relax.nn.gelu_tanh');
export const silu = u('relax.nn.silu');
export const softplus = u('relax.nn.softplus');
export const mish = u('relax.nn.mish');
export const hardSigmoid = u('relax.nn.hard_sigmoid');
export const hardSwish = u('relax.nn.hard_swish');

export const add = b('relax.add');
export const subtract = b('relax.subtract');
export const multiply = b('relax.multiply');
export const divide = b('relax.divide');
export const floorDivide = b('relax.floor_divide');
export const power = b('relax.power');
export const maximum = b('relax.maximum');
export const minimum = b('relax.minimum');
export const mod = b('relax.mod');
export const floorMod = b('relax.floor_mod');
export const equal = b('relax.equal');
export const notEqual = b('relax.not_equal');
export const less = b('relax.less');
export const lessEqual = b('relax.less_equal');
export const greater = b('relax.greater');
export const greaterEqual = b('relax.greater_equal');
export const logicalAnd = b('relax.logical_and');
export const logicalOr = b('relax.logical_or');
export const logicalXor = b('relax.logical_xor');
export const bitwiseAnd = b('relax.bitwise_and');
export const bitwiseOr = b('relax.bitwise_or');
export const bitwiseXor = b('relax.bitwise_xor');

export function where(cond: Expr, x: Expr, y: Expr): Call {
  return call('relax.where', [cond, x, y]);
}
export interface AstypeOptions {
  /** float8 targets: out-of-range values become ±max (true, the default) or Inf/NaN. */
  saturate?: boolean;
  /** float8_e8m0fnu targets: how a value between two powers of two rounds (default 'up'). */
  roundMode?: 'up' | 'down' | 'nearest';
}
export function astype(x: Expr, dt: DataType | string, opts: AstypeOptions = {}): Call {
  const attrs: Record<string, string | boolean> = { dtype: typeof dt === 'string' ? dt : dt.str };
  if (opts.saturate === false) attrs.saturate = false;
  if (opts.roundMode !== undefined && opts.roundMode !== 'up') attrs.round_mode = opts.roundMode;
  return call('relax.astype', [x], { attrs });
}
/** The bits of `x` read as `dt` (same bit width per element). */
export function reinterpret(x: Expr, dt: DataType | string): Call {
  return call('relax.reinterpret', [x], { attrs: { dtype: typeof dt === 'string' ? dt : dt.str } });
}
export function clip(x: Expr, min: number | null, max: number | null): Call {
  return call('relax.clip', [x], { attrs: { min, max } });
}
export function leakyRelu(x: Expr, alpha = 0.01): Call {
  return call('relax.nn.leaky_relu', [x], { attrs: { alpha } });
}
