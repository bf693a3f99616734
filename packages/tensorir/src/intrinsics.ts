// TIR intrinsics: the named call ops that TIR `Call` nodes use (`tir.exp`,
// `tir.if_then_else`, ...), each with its dtype rule and a per-lane JS evaluator that the
// reference interpreter runs. Code generators look intrinsics up here by name.
//
// Canonical names carry the `tir.` prefix as in TVM; `lookupIntrinsic` also accepts the
// bare name (`exp`). The builtin table is read-only; a compiler instance that needs more
// intrinsics builds its own table with `createIntrinsicTable(extra)` and hands it to the
// interpreter, so no module-level registry is ever mutated.
import type { DataType, ExprLike, PrimExpr } from '@kiln/ir-core';
import {
  call,
  DType,
  ErrorCodes,
  isFloat,
  isIntegral,
  KilnError,
  dtype as parseDType,
  stringImm,
  toExpr,
  withLanes,
} from '@kiln/ir-core';
import { roundHalfEven, roundToBFloat16, roundToFloat16, wrapInt } from './ndarray.js';

/** How the interpreter treats a call. */
export type IntrinsicEvalKind =
  /** Pure: evaluate all args, then `evaluate` lane by lane. */
  | 'pure'
  /** Lazy: only some args are evaluated (`tir.if_then_else`); the interpreter special-cases it. */
  | 'lazy'
  /** Has an effect outside the value (`tir.thread_sync`); a no-op in the interpreter. */
  | 'effect';

export interface IntrinsicDef {
  /** Canonical name, e.g. `tir.exp`. */
  readonly name: string;
  /** Number of arguments: exact, or [min, max]. */
  readonly arity: number | readonly [number, number];
  readonly evalKind: IntrinsicEvalKind;
  /** What the operation computes, for docs and codegen authors. */
  readonly doc: string;
  /** The result dtype given the argument expressions (lanes included). Throws on bad inputs. */
  resultType(args: readonly PrimExpr[]): DataType;
  /**
   * One lane: `args` are lane values as numbers (bool 0/1), `t` the scalar result dtype,
   * `argTypes` the scalar argument dtypes. The interpreter rounds the result to `t`.
   */
  evaluate?(args: readonly number[], t: DataType, argTypes: readonly DataType[]): number;
}

export type IntrinsicTable = ReadonlyMap<string, IntrinsicDef>;

// ---------------------------------------------------------------- dtype rules

function dtypeError(name: string, msg: string): KilnError {
  return new KilnError(ErrorCodes.DTYPE_MISMATCH, `intrinsic '${name}': ${msg}`);
}
function sameAsArg0(name: string, pred: (t: DataType) => boolean, what: string) {
  return (args: readonly PrimExpr[]): DataType => {
    const t = args[0].dtype;
    if (!pred(t)) throw dtypeError(name, `expects ${what} argument, got ${t.str}`);
    for (const a of args.slice(1)) {
      if (a.dtype.str !== t.str)
        throw dtypeError(name, `arguments have different dtypes ${t.str} and ${a.dtype.str}`);
    }
    return t;
  };
}
const anyNumeric = (t: DataType): boolean => isFloat(t) || t.code === 'int' || t.code === 'uint';
const anyInt = (t: DataType): boolean => t.code === 'int' || t.code === 'uint';

// ---------------------------------------------------------------- numeric helpers

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** erf(x) to about 1e-14 absolute: Maclaurin series near 0, continued fraction for erfc beyond. */
export function erfImpl(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  let r: number;
  if (a < 2.5) {
    const x2 = a * a;
    let term = a;
    let sum = a;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const c = term / (2 * n + 1);
      sum += c;
      if (Math.abs(c) < 1e-17 * sum) break;
    }
    r = sum * TWO_OVER_SQRT_PI;
  } else if (a < 6) {
    // erfc(a) = exp(-a^2)/sqrt(pi) / (a + (1/2)/(a + 1/(a + (3/2)/(a + ...)))), evaluated backwards.
    let f = a;
    for (let k = 80; k >= 1; k--) f = a + k / 2 / f;
    r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  } else {
    r = 1;
  }
  return x < 0 ? -r : r;
}

function bitsOf(t: DataType): number {
  return t.code === 'bool' ? 1 : t.bits;
}
function toUnsignedBig(v: number, bits: number): bigint {
  return BigInt.asUintN(bits, BigInt(Math.trunc(v)));
}
function fromBig(v: bigint, t: DataType): number {
  return Number(t.code === 'int' ? BigInt.asIntN(t.bits, v) : BigInt.asUintN(t.bits, v));
}
function popcountImpl(v: number, t: DataType): number {
  let u = toUnsignedBig(v, bitsOf(t));
  let c = 0;
  while (u > 0n) {
    c += Number(u & 1n);
    u >>= 1n;
  }
  return c;
}
function clzImpl(v: number, t: DataType): number {
  const bits = bitsOf(t);
  const u = toUnsignedBig(v, bits);
  return bits - (u === 0n ? 0 : u.toString(2).length);
}
function bitwise(op: 'and' | 'or' | 'xor', a: number, b: number, t: DataType): number {
  if (t.bits <= 32) {
    const r = op === 'and' ? a & b : op === 'or' ? a | b : a ^ b;
    return wrapInt(r, t);
  }
  const x = BigInt(Math.trunc(a));
  const y = BigInt(Math.trunc(b));
  return fromBig(op === 'and' ? x & y : op === 'or' ? x | y : x ^ y, t);
}
function shiftLeftImpl(a: number, b: number, t: DataType): number {
  if (t.bits <= 32) return wrapInt(a * 2 ** b, t);
  return fromBig(BigInt(Math.trunc(a)) << BigInt(b), t);
}
function shiftRightImpl(a: number, b: number, t: DataType): number {
  // Arithmetic for signed, logical for unsigned (the value is already non-negative).
  if (t.bits <= 32) return wrapInt(Math.floor(a / 2 ** b), t);
  return fromBig(BigInt(Math.trunc(a)) >> BigInt(b), t);
}

const scratch = new DataView(new ArrayBuffer(8));

function float16Bits(x: number): number {
  const v = roundToFloat16(x);
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (Number.isNaN(v)) return 0x7e00;
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const m = Math.round((a / 2 ** e - 1) * 1024);
  return sign | ((e + 15) << 10) | m;
}
function float16FromBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** Bitwise reinterpretation between equally wide scalar types. */
export function reinterpretBits(v: number, from: DataType, to: DataType): number {
  const bits = from.bits;
  // Write `v` as `from` into the scratch space, then read it back as `to`.
  if (from.code === 'float' && bits === 32) scratch.setFloat32(0, v, true);
  else if (from.code === 'float' && bits === 64) scratch.setFloat64(0, v, true);
  else if (from.code === 'float' && bits === 16) scratch.setUint16(0, float16Bits(v), true);
  else if (from.code === 'bfloat') {
    scratch.setFloat32(4, roundToBFloat16(v), true);
    scratch.setUint16(0, scratch.getUint32(4, true) >>> 16, true);
  } else if (bits === 64) scratch.setBigUint64(0, toUnsignedBig(v, 64), true);
  else if (bits === 32) scratch.setUint32(0, Number(toUnsignedBig(v, 32)), true);
  else if (bits === 16) scratch.setUint16(0, Number(toUnsignedBig(v, 16)), true);
  else scratch.setUint8(0, Number(toUnsignedBig(v, 8)));

  if (to.code === 'float' && bits === 32) return scratch.getFloat32(0, true);
  if (to.code === 'float' && bits === 64) return scratch.getFloat64(0, true);
  if (to.code === 'float' && bits === 16) return float16FromBits(scratch.getUint16(0, true));
  if (to.code === 'bfloat') {
    scratch.setUint32(4, scratch.getUint16(0, true) << 16, true);
    return scratch.getFloat32(4, true);
  }
  if (bits === 64)
    return Number(to.code === 'int' ? scratch.getBigInt64(0, true) : scratch.getBigUint64(0, true));
  if (bits === 32) return to.code === 'int' ? scratch.getInt32(0, true) : scratch.getUint32(0, true);
  if (bits === 16) return to.code === 'int' ? scratch.getInt16(0, true) : scratch.getUint16(0, true);
  return to.code === 'int' ? scratch.getInt8(0) : scratch.getUint8(0);
}

// ---------------------------------------------------------------- the table

type Evaluator = NonNullable<IntrinsicDef['evaluate']>;

function def(
  name: string,
  arity: IntrinsicDef['arity'],
  evalKind: IntrinsicEvalKind,
  doc: string,
  resultType: IntrinsicDef['resultType'],
  evaluate?: Evaluator,
): IntrinsicDef {
  return Object.freeze({ name, arity, evalKind, doc, resultType, evaluate });
}

function floatUnary(short: string, doc: string, f: (x: number) => number): IntrinsicDef {
  const name = `tir.${short}`;
  return def(name, 1, 'pure', doc, sameAsArg0(name, isFloat, 'a float'), (a) => f(a[0]));
}
function numericUnary(short: string, doc: string, f: (x: number, t: DataType) => number): IntrinsicDef {
  const name = `tir.${short}`;
  return def(name, 1, 'pure', doc, sameAsArg0(name, anyNumeric, 'a numeric'), (a, t) => f(a[0], t));
}
function floatBinary(short: string, doc: string, f: (x: number, y: number) => number): IntrinsicDef {
  const name = `tir.${short}`;
  return def(name, 2, 'pure', doc, sameAsArg0(name, isFloat, 'float'), (a) => f(a[0], a[1]));
}
function intBinary(
  short: string,
  doc: string,
  f: (x: number, y: number, t: DataType) => number,
): IntrinsicDef {
  const name = `tir.${short}`;
  return def(name, 2, 'pure', doc, sameAsArg0(name, anyInt, 'integer'), (a, t) => f(a[0], a[1], t));
}
function floatPredicate(short: string, doc: string, f: (x: number) => boolean): IntrinsicDef {
  const name = `tir.${short}`;
  return def(
    name,
    1,
    'pure',
    doc,
    (args) => {
      const t = args[0].dtype;
      if (!anyNumeric(t)) throw dtypeError(name, `expects a numeric argument, got ${t.str}`);
      return withLanes(DType.bool, t.lanes);
    },
    (a) => (f(a[0]) ? 1 : 0),
  );
}

const BUILTINS: readonly IntrinsicDef[] = [
  floatUnary('exp', 'e^x', Math.exp),
  floatUnary('exp2', '2^x', (x) => 2 ** x),
  floatUnary('exp10', '10^x', (x) => 10 ** x),
  floatUnary('log', 'natural logarithm', Math.log),
  floatUnary('log2', 'base-2 logarithm', Math.log2),
  floatUnary('log10', 'base-10 logarithm', Math.log10),
  floatUnary('log1p', 'log(1 + x), accurate near 0', Math.log1p),
  floatUnary('expm1', 'exp(x) - 1, accurate near 0', Math.expm1),
  floatUnary('sqrt', 'square root', Math.sqrt),
  floatUnary('rsqrt', '1 / sqrt(x)', (x) => 1 / Math.sqrt(x)),
  floatUnary('sin', 'sine', Math.sin),
  floatUnary('cos', 'cosine', Math.cos),
  floatUnary('tan', 'tangent', Math.tan),
  floatUnary('asin', 'arc sine', Math.asin),
  floatUnary('acos', 'arc cosine', Math.acos),
  floatUnary('atan', 'arc tangent', Math.atan),
  floatUnary('sinh', 'hyperbolic sine', Math.sinh),
  floatUnary('cosh', 'hyperbolic cosine', Math.cosh),
  floatUnary('tanh', 'hyperbolic tangent', Math.tanh),
  floatUnary('sigmoid', '1 / (1 + e^-x), computed without overflow', (x) =>
    x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)),
  ),
  floatUnary('erf', 'the error function', erfImpl),
  floatUnary('fabs', 'absolute value of a float', Math.abs),
  numericUnary('abs', 'absolute value (ints wrap: abs(INT_MIN) = INT_MIN)', (x) => Math.abs(x)),
  floatUnary('floor', 'round toward -inf', Math.floor),
  floatUnary('ceil', 'round toward +inf', Math.ceil),
  floatUnary('round', 'round to nearest, ties to even (ONNX Round)', roundHalfEven),
  floatUnary('nearbyint', 'round in the default mode (ties to even)', roundHalfEven),
  floatUnary('trunc', 'round toward zero', Math.trunc),
  floatBinary('pow', 'x^y', (x, y) => x ** y),
  floatBinary('fmod', 'C fmod: remainder with the sign of x', (x, y) => x % y),
  floatBinary('atan2', 'atan(y / x) with quadrant', Math.atan2),
  floatBinary(
    'copysign',
    '|x| with the sign of y',
    (x, y) => Math.abs(x) * (y < 0 || Object.is(y, -0) ? -1 : 1),
  ),
  floatBinary('hypot', 'sqrt(x^2 + y^2)', Math.hypot),
  floatPredicate('isnan', 'x is NaN', Number.isNaN),
  floatPredicate('isinf', 'x is +inf or -inf', (x) => x === Infinity || x === -Infinity),
  floatPredicate('isfinite', 'x is neither NaN nor infinite', Number.isFinite),
  def(
    'tir.popcount',
    1,
    'pure',
    'number of set bits',
    sameAsArg0('tir.popcount', anyInt, 'an integer'),
    (a, t) => popcountImpl(a[0], t),
  ),
  def(
    'tir.clz',
    1,
    'pure',
    'number of leading zero bits',
    sameAsArg0('tir.clz', anyInt, 'an integer'),
    (a, t) => clzImpl(a[0], t),
  ),
  intBinary('bitwise_and', 'a & b', (a, b, t) => bitwise('and', a, b, t)),
  intBinary('bitwise_or', 'a | b', (a, b, t) => bitwise('or', a, b, t)),
  intBinary('bitwise_xor', 'a ^ b', (a, b, t) => bitwise('xor', a, b, t)),
  def('tir.bitwise_not', 1, 'pure', '~a', sameAsArg0('tir.bitwise_not', anyInt, 'an integer'), (a, t) =>
    t.bits <= 32 ? wrapInt(~a[0], t) : fromBig(~BigInt(Math.trunc(a[0])), t),
  ),
  intBinary('shift_left', 'a << b', shiftLeftImpl),
  intBinary('shift_right', 'a >> b (arithmetic for signed types)', shiftRightImpl),
  def(
    'tir.reinterpret',
    1,
    'pure',
    'the bits of x read as the call dtype (same total width)',
    () => {
      // The target dtype is the call's own dtype; factories check widths.
      throw dtypeError(
        'tir.reinterpret',
        'the result dtype must be given explicitly (use reinterpret(dtype, x))',
      );
    },
    (a, t, at) => reinterpretBits(a[0], at[0], t),
  ),
  def('tir.if_then_else', 3, 'lazy', 'cond ? t : f, evaluating only the taken branch', (args) => {
    if (args[0].dtype.code !== 'bool')
      throw dtypeError('tir.if_then_else', `condition must be bool, got ${args[0].dtype.str}`);
    if (args[1].dtype.str !== args[2].dtype.str)
      throw dtypeError('tir.if_then_else', `branches differ: ${args[1].dtype.str} vs ${args[2].dtype.str}`);
    return args[1].dtype;
  }),
  def(
    'tir.likely',
    1,
    'pure',
    'a branch hint: the value of the bool argument',
    sameAsArg0('tir.likely', (t) => t.code === 'bool', 'a bool'),
    (a) => a[0],
  ),
  def(
    'tir.thread_sync',
    [0, 1],
    'effect',
    'barrier for the given storage scope ("shared", "global", "warp")',
    () => DType.int32,
  ),
  def('tir.assume', 1, 'effect', 'tells the analyzer that the bool argument holds', () => DType.void),
];

const ALIASES: Readonly<Record<string, string>> = {
  'tir.tvm_storage_sync': 'tir.thread_sync',
  'tir.if_then_else': 'tir.if_then_else',
};

function buildTable(defs: readonly IntrinsicDef[]): Map<string, IntrinsicDef> {
  const m = new Map<string, IntrinsicDef>();
  for (const d of defs) {
    if (m.has(d.name)) throw new KilnError(ErrorCodes.DUPLICATE_NAME, `intrinsic '${d.name}' defined twice`);
    m.set(d.name, d);
  }
  return m;
}

/** The builtin intrinsics, by canonical name. Read-only. */
export const builtinIntrinsics: IntrinsicTable = buildTable(BUILTINS);

/** A table with the builtins plus `extra` (an extra def may replace a builtin of the same name). */
export function createIntrinsicTable(extra: readonly IntrinsicDef[] = []): IntrinsicTable {
  const m = new Map(builtinIntrinsics);
  for (const d of extra) m.set(d.name, d);
  return m;
}

/** Canonical name for `name`: adds the `tir.` prefix when missing and resolves aliases. */
export function canonicalIntrinsicName(name: string): string {
  const n = name.includes('.') ? name : `tir.${name}`;
  return ALIASES[n] ?? n;
}

/** Look an intrinsic up by canonical or bare name; undefined when unknown. */
export function lookupIntrinsic(
  name: string,
  table: IntrinsicTable = builtinIntrinsics,
): IntrinsicDef | undefined {
  return table.get(name) ?? table.get(canonicalIntrinsicName(name));
}

/** Like lookupIntrinsic, but an unknown name is a KilnError. */
export function getIntrinsic(name: string, table: IntrinsicTable = builtinIntrinsics): IntrinsicDef {
  const d = lookupIntrinsic(name, table);
  if (!d) throw new KilnError(ErrorCodes.UNKNOWN_NAME, `unknown TIR intrinsic '${name}'`);
  return d;
}

// ---------------------------------------------------------------- factories

/** Build a call of intrinsic `name`, checking arity and computing the dtype from its rule. */
export function callIntrinsic(name: string, args: readonly ExprLike[]): PrimExpr {
  const d = getIntrinsic(name);
  const n = args.length;
  const [lo, hi] = typeof d.arity === 'number' ? [d.arity, d.arity] : d.arity;
  if (n < lo || n > hi)
    throw new KilnError(
      ErrorCodes.INVALID_ARGUMENT,
      `intrinsic '${d.name}' takes ${lo === hi ? lo : `${lo}..${hi}`} arguments, got ${n}`,
    );
  const exprs = unifyArgs(args);
  return call(d.resultType(exprs), d.name, exprs);
}

/** Numbers adopt the dtype of the first node argument (so `pow(x, 2)` works on float16 x). */
function unifyArgs(args: readonly ExprLike[]): PrimExpr[] {
  const like = args.find((a): a is PrimExpr => typeof a === 'object');
  return args.map((a) => (typeof a === 'object' ? a : toExpr(a, like?.dtype)));
}

export const exp = (x: ExprLike): PrimExpr => callIntrinsic('tir.exp', [x]);
export const exp2 = (x: ExprLike): PrimExpr => callIntrinsic('tir.exp2', [x]);
export const exp10 = (x: ExprLike): PrimExpr => callIntrinsic('tir.exp10', [x]);
export const log = (x: ExprLike): PrimExpr => callIntrinsic('tir.log', [x]);
export const log2 = (x: ExprLike): PrimExpr => callIntrinsic('tir.log2', [x]);
export const log10 = (x: ExprLike): PrimExpr => callIntrinsic('tir.log10', [x]);
export const log1p = (x: ExprLike): PrimExpr => callIntrinsic('tir.log1p', [x]);
export const expm1 = (x: ExprLike): PrimExpr => callIntrinsic('tir.expm1', [x]);
export const sqrt = (x: ExprLike): PrimExpr => callIntrinsic('tir.sqrt', [x]);
export const rsqrt = (x: ExprLike): PrimExpr => callIntrinsic('tir.rsqrt', [x]);
export const sin = (x: ExprLike): PrimExpr => callIntrinsic('tir.sin', [x]);
export const cos = (x: ExprLike): PrimExpr => callIntrinsic('tir.cos', [x]);
export const tan = (x: ExprLike): PrimExpr => callIntrinsic('tir.tan', [x]);
export const asin = (x: ExprLike): PrimExpr => callIntrinsic('tir.asin', [x]);
export const acos = (x: ExprLike): PrimExpr => callIntrinsic('tir.acos', [x]);
export const atan = (x: ExprLike): PrimExpr => callIntrinsic('tir.atan', [x]);
export const sinh = (x: ExprLike): PrimExpr => callIntrinsic('tir.sinh', [x]);
export const cosh = (x: ExprLike): PrimExpr => callIntrinsic('tir.cosh', [x]);
export const tanh = (x: ExprLike): PrimExpr => callIntrinsic('tir.tanh', [x]);
export const sigmoid = (x: ExprLike): PrimExpr => callIntrinsic('tir.sigmoid', [x]);
export const erf = (x: ExprLike): PrimExpr => callIntrinsic('tir.erf', [x]);
export const fabs = (x: ExprLike): PrimExpr => callIntrinsic('tir.fabs', [x]);
export const abs = (x: ExprLike): PrimExpr => callIntrinsic('tir.abs', [x]);
export const floor = (x: ExprLike): PrimExpr => callIntrinsic('tir.floor', [x]);
export const ceil = (x: ExprLike): PrimExpr => callIntrinsic('tir.ceil', [x]);
export const round = (x: ExprLike): PrimExpr => callIntrinsic('tir.round', [x]);
export const nearbyint = (x: ExprLike): PrimExpr => callIntrinsic('tir.nearbyint', [x]);
export const trunc = (x: ExprLike): PrimExpr => callIntrinsic('tir.trunc', [x]);
export const pow = (x: ExprLike, y: ExprLike): PrimExpr => callIntrinsic('tir.pow', [x, y]);
export const fmod = (x: ExprLike, y: ExprLike): PrimExpr => callIntrinsic('tir.fmod', [x, y]);
export const atan2 = (y: ExprLike, x: ExprLike): PrimExpr => callIntrinsic('tir.atan2', [y, x]);
export const copysign = (x: ExprLike, y: ExprLike): PrimExpr => callIntrinsic('tir.copysign', [x, y]);
export const hypot = (x: ExprLike, y: ExprLike): PrimExpr => callIntrinsic('tir.hypot', [x, y]);
export const isnan = (x: ExprLike): PrimExpr => callIntrinsic('tir.isnan', [x]);
export const isinf = (x: ExprLike): PrimExpr => callIntrinsic('tir.isinf', [x]);
export const isfinite = (x: ExprLike): PrimExpr => callIntrinsic('tir.isfinite', [x]);
export const popcount = (x: ExprLike): PrimExpr => callIntrinsic('tir.popcount', [x]);
export const clz = (x: ExprLike): PrimExpr => callIntrinsic('tir.clz', [x]);
export const bitwiseAnd = (x: ExprLike, y: ExprLike): PrimExpr => callIntrinsic('tir.bitwise_and', [x, y]);
export const bitwiseOr = (x: ExprLike, y: ExprLike): PrimExpr => callIntrinsic('tir.bitwise_or', [x, y]);
export const bitwiseXor = (x: ExprLike, y: ExprLike): PrimExpr => callIntrinsic('tir.bitwise_xor', [x, y]);
export const bitwiseNot = (x: ExprLike): PrimExpr => callIntrinsic('tir.bitwise_not', [x]);
export const shiftLeft = (x: ExprLike, y: ExprLike): PrimExpr => callIntrinsic('tir.shift_left', [x, y]);
export const shiftRight = (x: ExprLike, y: ExprLike): PrimExpr => callIntrinsic('tir.shift_right', [x, y]);
export const likely = (cond: ExprLike): PrimExpr => callIntrinsic('tir.likely', [cond]);

/** `cond ? t : f` evaluating only the taken branch (use for padding: the other branch may be out of bounds). */
export function ifThenElseExpr(cond: ExprLike, t: ExprLike, f: ExprLike): PrimExpr {
  const c = toExpr(cond);
  const [a, b] = unifyArgs([t, f]);
  // Numbers in the first branch adopt the second branch's dtype too.
  const aa = typeof t === 'object' ? a : toExpr(t, b.dtype);
  return callIntrinsic('tir.if_then_else', [c, aa, b]);
}

/** The bits of `x` read as `dt` (same total width). */
export function reinterpret(dt: DataType | string, x: ExprLike): PrimExpr {
  const v = toExpr(x);
  const t = parseDType(dt);
  const w = (u: DataType): number => (u.code === 'bool' ? 8 : u.bits) * u.lanes;
  if (w(t) !== w(v.dtype))
    throw dtypeError('tir.reinterpret', `cannot reinterpret ${v.dtype.str} as ${t.str}: different widths`);
  return call(t, 'tir.reinterpret', [v]);
}

/** A storage barrier for `scope` (`shared` by default); a no-op in the interpreter. */
export function threadSync(scope = 'shared'): PrimExpr {
  return call(DType.int32, 'tir.thread_sync', [stringImm(scope)]);
}

/** Whether `e` is a call of intrinsic `name` (canonical or bare). */
export function isIntrinsicCall(e: PrimExpr, name: string): boolean {
  return e.kind === 'Call' && canonicalIntrinsicName(e.op) === canonicalIntrinsicName(name);
}

/** Used by the well-formedness checker and codegens: integer-typed dtypes accepted by bitwise ops. */
export function isIntegerDType(t: DataType): boolean {
  return isIntegral(t) && t.code !== 'bool';
}
