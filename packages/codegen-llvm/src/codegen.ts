// Lowered TensorIR → textual LLVM IR for CPUs.
// Input: PrimFuncs after tir lowering (no blocks; buffers usually flattened — N-d accesses
// are still accepted and linearized here with row-major or explicit strides). Output: one
// LLVM module whose exported functions follow the kernel ABI below.
//
// Kernel ABI: tensorir's `kernelABI` — each PrimFunc param in order (a Buffer as a
// `T* noalias` pointer to its first element, a scalar Var by value), then one `i64` per
// symbolic shape variable of the param buffers that is not a param. `KernelInfo.args`
// records it so a caller can pass tensor dims.
import type { Buffer, DataType, Node, PrimExpr, Var } from '@kiln/ir-core';
import { DType, KilnError, postOrderVisit } from '@kiln/ir-core';
import type { For, PrimFunc, Stmt } from '@kiln/tensorir';
import { canonicalIntrinsicName, kernelABI } from '@kiln/tensorir';
import type { LValue } from './llvm_text.js';
import { FunctionBuilder, floatConstant, ModuleBuilder } from './llvm_text.js';
import { emitFloat32Math, isVectorMathFunction } from './vector_math.js';

/** How the caller supplies one kernel argument. */
export type KernelArg =
  | { kind: 'buffer'; param: number; name: string; dtype: string; ndim: number }
  | { kind: 'scalar'; param: number; name: string; dtype: string }
  | { kind: 'dim'; name: string; param: number; dim: number };

export interface KernelInfo {
  symbol: string;
  args: KernelArg[];
  /** C-level types of the arguments, in order (`ptr`, `i32`, `i64`, `f32`, `f64`, ...). */
  cTypes: string[];
  /**
   * The exported symbol takes one pointer to an array of 8-byte slots, one per argument in
   * `cTypes` order (a pointer or integer as a little-endian 64-bit value, an f32/f64 stored
   * at the slot's start), instead of the arguments themselves. Used above
   * MAX_DIRECT_KERNEL_ARGS arguments: FFI layers (koffi among them) cap the parameter count
   * of a native call, and a fused kernel over many constants or a wide concat exceeds it.
   */
  packed?: boolean;
}

/** Kernels with more arguments than this are exported with packed arguments. */
export const MAX_DIRECT_KERNEL_ARGS = 32;

export interface LLVMTargetInfo {
  mtriple: string;
  mcpu?: string;
  features?: readonly string[];
}

const CODEGEN = 'CODEGEN_ERROR';

function fail(fnName: string, msg: string): never {
  throw new KilnError(CODEGEN, `codegen-llvm: in '${fnName}': ${msg}`);
}

/** LLVM register type of a dtype (bool → i1; 16-bit floats are computed in float). */
export function llvmType(t: DataType): string {
  const scalar = llvmScalar(t);
  return t.lanes > 1 ? `<${t.lanes} x ${scalar}>` : scalar;
}
function llvmScalar(t: DataType): string {
  switch (t.code) {
    case 'bool':
      return 'i1';
    case 'int':
    case 'uint':
      return `i${t.bits}`;
    case 'float':
      return t.bits === 64 ? 'double' : 'float';
    case 'bfloat':
      return 'float';
    case 'handle':
      return 'i8*';
    case 'void':
      return 'void';
    default:
      // float8/float4 are storage types: tir.LegalizeLowPrecision (in lowerPrimFunc) rewrites them
      // to their storage integers, so codegen never sees one.
      throw new KilnError(
        CODEGEN,
        `codegen-llvm: dtype ${t.str} reached codegen; run tir.LegalizeLowPrecision (part of lowerPrimFunc) first`,
      );
  }
}
/** LLVM type of one element in memory. */
function memScalar(t: DataType): string {
  if (t.code === 'bool') return 'i8';
  if (t.code === 'float' && t.bits === 16) return 'half';
  if (t.code === 'bfloat') return 'i16';
  return llvmScalar(t);
}
function _memType(t: DataType): string {
  const s = memScalar(t);
  return t.lanes > 1 ? `<${t.lanes} x ${s}>` : s;
}
function cTypeOf(t: DataType): string {
  if (t.code === 'float') return t.bits === 64 ? 'f64' : t.bits === 32 ? 'f32' : 'f16';
  if (t.code === 'bool') return 'i8';
  return `${t.code === 'uint' ? 'u' : 'i'}${t.bits}`;
}
function isFloatT(t: DataType): boolean {
  return t.code === 'float' || t.code === 'bfloat';
}
function vecOf(scalar: string, lanes: number): string {
  return lanes > 1 ? `<${lanes} x ${scalar}>` : scalar;
}

/** A symbol-safe name. */
export function sanitizeSymbol(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}

interface BufferBinding {
  /** Pointer to element 0 of the buffer's storage, typed as the storage's element type. */
  ptr: LValue;
  /** The memory element type that `ptr` points to. */
  elem: string;
}

class Env {
  readonly vars = new Map<Var, LValue>();
  /** data var of a buffer → base pointer (i8*) */
  readonly data = new Map<Var, LValue>();
  constructor(readonly parent?: Env) {}
  lookupVar(v: Var): LValue | undefined {
    return this.vars.get(v) ?? this.parent?.lookupVar(v);
  }
  lookupData(v: Var): LValue | undefined {
    return this.data.get(v) ?? this.parent?.lookupData(v);
  }
}

const UNARY_MATH: Record<string, string> = {
  exp: 'exp',
  exp2: 'exp2',
  log: 'log',
  log2: 'log2',
  log10: 'log10',
  sqrt: 'sqrt',
  sin: 'sin',
  cos: 'cos',
  fabs: 'fabs',
  abs: 'fabs',
  floor: 'floor',
  ceil: 'ceil',
  trunc: 'trunc',
  round: 'roundeven',
  nearbyint: 'nearbyint',
};
/** Math functions with no LLVM intrinsic: libm calls (f32 name, f64 name). */
const LIBM: Record<string, [string, string]> = {
  tanh: ['tanhf', 'tanh'],
  erf: ['erff', 'erf'],
  tan: ['tanf', 'tan'],
  log1p: ['log1pf', 'log1p'],
  expm1: ['expm1f', 'expm1'],
  atan: ['atanf', 'atan'],
  asin: ['asinf', 'asin'],
  acos: ['acosf', 'acos'],
  sinh: ['sinhf', 'sinh'],
  cosh: ['coshf', 'cosh'],
  asinh: ['asinhf', 'asinh'],
  acosh: ['acoshf', 'acosh'],
  atanh: ['atanhf', 'atanh'],
};

class FunctionCodegen {
  readonly fb: FunctionBuilder;
  env: Env;

  constructor(
    readonly mb: ModuleBuilder,
    readonly fnName: string,
    fb: FunctionBuilder,
    env: Env,
    readonly fnAttrs: string,
    readonly counter: { n: number },
  ) {
    this.fb = fb;
    this.env = env;
  }

  // ------------------------------------------------------------ expressions

  expr(e: PrimExpr): LValue {
    switch (e.kind) {
      case 'IntImm':
        return {
          type: llvmType(e.dtype),
          ref: e.dtype.code === 'bool' ? (e.value ? 'true' : 'false') : String(e.value),
        };
      case 'FloatImm':
        return { type: llvmType(e.dtype), ref: floatConstant(e.value, llvmType(e.dtype)) };
      case 'StringImm':
        return fail(this.fnName, `string immediates are not supported in kernels ("${e.value}")`);
      case 'Var': {
        const v = this.env.lookupVar(e);
        if (!v) {
          const d = this.env.lookupData(e);
          if (d) return d;
          return fail(this.fnName, `variable '${e.name}' is used but not defined`);
        }
        return v;
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Mod':
      case 'FloorDiv':
      case 'FloorMod':
      case 'Min':
      case 'Max':
        return this.round16(this.arith(e.kind, this.expr(e.a), this.expr(e.b), e.a.dtype), e.dtype);
      case 'EQ':
      case 'NE':
      case 'LT':
      case 'LE':
      case 'GT':
      case 'GE':
        return this.compare(e.kind, this.expr(e.a), this.expr(e.b), e.a.dtype);
      case 'And':
      case 'Or': {
        const a = this.expr(e.a);
        const b = this.expr(e.b);
        return this.fb.emit(a.type, `${e.kind === 'And' ? 'and' : 'or'} ${a.type} ${a.ref}, ${b.ref}`);
      }
      case 'Not': {
        const a = this.expr(e.a);
        const ones = e.dtype.lanes > 1 ? this.splatConst('i1', e.dtype.lanes, 'true') : 'true';
        return this.fb.emit(a.type, `xor ${a.type} ${a.ref}, ${ones}`);
      }
      case 'Select': {
        const c = this.expr(e.cond);
        const t = this.expr(e.t);
        const f = this.expr(e.f);
        let cond = c;
        if (e.cond.dtype.lanes === 1 && e.dtype.lanes > 1) cond = c; // scalar condition selects whole vectors
        return this.fb.emit(
          t.type,
          `select ${cond.type} ${cond.ref}, ${t.type} ${t.ref}, ${f.type} ${f.ref}`,
        );
      }
      case 'Cast':
        return this.cast(this.expr(e.value), e.value.dtype, e.dtype);
      case 'Call':
        return this.round16(this.call(e), e.dtype);
      case 'Let': {
        const v = this.expr(e.value);
        const inner = new Env(this.env);
        inner.vars.set(e.var, v);
        const saved = this.env;
        this.env = inner;
        try {
          return this.expr(e.body);
        } finally {
          this.env = saved;
        }
      }
      case 'Ramp': {
        const base = this.expr(e.base);
        const stride = this.expr(e.stride);
        const st = llvmType(e.base.dtype);
        const vt = vecOf(st, e.lanes);
        const b = this.splat(base, e.lanes);
        const s = this.splat(stride, e.lanes);
        const steps = `<${Array.from({ length: e.lanes }, (_, i) => `${st} ${i}`).join(', ')}>`;
        const scaled = this.fb.emit(vt, `mul ${vt} ${s.ref}, ${steps}`);
        return this.fb.emit(vt, `add ${vt} ${b.ref}, ${scaled.ref}`);
      }
      case 'Broadcast':
        return this.splat(this.expr(e.value), e.lanes);
      case 'BufferLoad':
        return this.load(e.buffer, e.indices, e.dtype);
    }
  }

  private splatConst(scalarType: string, lanes: number, value: string): string {
    return `<${Array.from({ length: lanes }, () => `${scalarType} ${value}`).join(', ')}>`;
  }

  splat(v: LValue, lanes: number): LValue {
    if (v.type.startsWith('<')) return v;
    const vt = vecOf(v.type, lanes);
    const ins = this.fb.emit(vt, `insertelement ${vt} undef, ${v.type} ${v.ref}, i32 0`);
    return this.fb.emit(vt, `shufflevector ${vt} ${ins.ref}, ${vt} undef, <${lanes} x i32> zeroinitializer`);
  }

  private arith(kind: string, a: LValue, b: LValue, t: DataType): LValue {
    const ty = a.type;
    if (isFloatT(t)) {
      const fl = 'contract';
      switch (kind) {
        case 'Add':
          return this.fb.emit(ty, `fadd ${fl} ${ty} ${a.ref}, ${b.ref}`);
        case 'Sub':
          return this.fb.emit(ty, `fsub ${fl} ${ty} ${a.ref}, ${b.ref}`);
        case 'Mul':
          return this.fb.emit(ty, `fmul ${fl} ${ty} ${a.ref}, ${b.ref}`);
        case 'Div':
          // Exact (no arcp): x * (1/c) can land an ulp below an integer quotient, and a
          // floor of it (float Mod, resize coordinates) would then be off by one.
          return this.fb.emit(ty, `fdiv ${ty} ${a.ref}, ${b.ref}`);
        case 'Mod':
          return this.fb.emit(ty, `frem ${ty} ${a.ref}, ${b.ref}`);
        case 'FloorDiv': {
          const q = this.fb.emit(ty, `fdiv ${ty} ${a.ref}, ${b.ref}`);
          return this.intrinsicCall('floor', [q], ty);
        }
        case 'FloorMod': {
          // a - floor(a / b) * b
          const q = this.fb.emit(ty, `fdiv ${ty} ${a.ref}, ${b.ref}`);
          const f = this.intrinsicCall('floor', [q], ty);
          const m = this.fb.emit(ty, `fmul ${ty} ${f.ref}, ${b.ref}`);
          return this.fb.emit(ty, `fsub ${ty} ${a.ref}, ${m.ref}`);
        }
        case 'Min': {
          const c = this.fb.emit(ty.replace(/float|double/, 'i1'), `fcmp olt ${ty} ${a.ref}, ${b.ref}`);
          return this.fb.emit(ty, `select ${c.type} ${c.ref}, ${ty} ${a.ref}, ${ty} ${b.ref}`);
        }
        case 'Max': {
          const c = this.fb.emit(ty.replace(/float|double/, 'i1'), `fcmp ogt ${ty} ${a.ref}, ${b.ref}`);
          return this.fb.emit(ty, `select ${c.type} ${c.ref}, ${ty} ${a.ref}, ${ty} ${b.ref}`);
        }
      }
    }
    const signed = t.code === 'int';
    const nsw = signed ? ' nsw' : '';
    if (['Div', 'Mod', 'FloorDiv', 'FloorMod'].includes(kind) && !/^-?[1-9]\d*$/.test(b.ref)) {
      // x86 traps on an integer division by zero and the trap kills the whole process; a
      // zero divisor (undefined behaviour in TIR, as in C) divides by 1 instead.
      const bt = ty.replace(/i\d+/, 'i1');
      const zero = ty.startsWith('<') ? 'zeroinitializer' : '0';
      const one = ty.startsWith('<')
        ? this.splatConst(ty.replace(/^<\d+ x (i\d+)>$/, '$1'), Number(ty.slice(1)), '1')
        : '1';
      const isZero = this.fb.emit(bt, `icmp eq ${ty} ${b.ref}, ${zero}`);
      b = this.fb.emit(ty, `select ${bt} ${isZero.ref}, ${ty} ${one}, ${ty} ${b.ref}`);
    }
    switch (kind) {
      case 'Add':
        return this.fb.emit(ty, `add${nsw} ${ty} ${a.ref}, ${b.ref}`);
      case 'Sub':
        return this.fb.emit(ty, `sub${nsw} ${ty} ${a.ref}, ${b.ref}`);
      case 'Mul':
        return this.fb.emit(ty, `mul${nsw} ${ty} ${a.ref}, ${b.ref}`);
      case 'Div':
        return this.fb.emit(ty, `${signed ? 'sdiv' : 'udiv'} ${ty} ${a.ref}, ${b.ref}`);
      case 'Mod':
        return this.fb.emit(ty, `${signed ? 'srem' : 'urem'} ${ty} ${a.ref}, ${b.ref}`);
      case 'FloorDiv':
      case 'FloorMod': {
        if (!signed)
          return this.fb.emit(ty, `${kind === 'FloorDiv' ? 'udiv' : 'urem'} ${ty} ${a.ref}, ${b.ref}`);
        // q = a / b (trunc), r = a % b; floor adjusts when r != 0 and sign(r) != sign(b).
        const q = this.fb.emit(ty, `sdiv ${ty} ${a.ref}, ${b.ref}`);
        const r = this.fb.emit(ty, `srem ${ty} ${a.ref}, ${b.ref}`);
        const bt = ty.replace(/i\d+/, 'i1');
        const zero = ty.startsWith('<') ? 'zeroinitializer' : '0';
        const rnz = this.fb.emit(bt, `icmp ne ${ty} ${r.ref}, ${zero}`);
        const x = this.fb.emit(ty, `xor ${ty} ${r.ref}, ${b.ref}`);
        const neg = this.fb.emit(bt, `icmp slt ${ty} ${x.ref}, ${zero}`);
        const adj = this.fb.emit(bt, `and ${bt} ${rnz.ref}, ${neg.ref}`);
        if (kind === 'FloorDiv') {
          const one = ty.startsWith('<')
            ? this.splatConst(ty.replace(/^<\d+ x (i\d+)>$/, '$1'), Number(ty.slice(1)), '1')
            : '1';
          const qm = this.fb.emit(ty, `sub ${ty} ${q.ref}, ${one}`);
          return this.fb.emit(ty, `select ${bt} ${adj.ref}, ${ty} ${qm.ref}, ${ty} ${q.ref}`);
        }
        const rp = this.fb.emit(ty, `add ${ty} ${r.ref}, ${b.ref}`);
        return this.fb.emit(ty, `select ${bt} ${adj.ref}, ${ty} ${rp.ref}, ${ty} ${r.ref}`);
      }
      case 'Min':
      case 'Max': {
        const pred = kind === 'Min' ? (signed ? 'slt' : 'ult') : signed ? 'sgt' : 'ugt';
        const bt = ty.replace(/i\d+/, 'i1');
        const c = this.fb.emit(bt, `icmp ${pred} ${ty} ${a.ref}, ${b.ref}`);
        return this.fb.emit(ty, `select ${bt} ${c.ref}, ${ty} ${a.ref}, ${ty} ${b.ref}`);
      }
    }
    return fail(this.fnName, `unsupported arithmetic ${kind}`);
  }

  private compare(kind: string, a: LValue, b: LValue, t: DataType): LValue {
    const bt = t.lanes > 1 ? `<${t.lanes} x i1>` : 'i1';
    if (isFloatT(t)) {
      const pred = { EQ: 'oeq', NE: 'une', LT: 'olt', LE: 'ole', GT: 'ogt', GE: 'oge' }[kind as 'EQ'];
      return this.fb.emit(bt, `fcmp ${pred} ${a.type} ${a.ref}, ${b.ref}`);
    }
    const signed = t.code === 'int';
    const pred = {
      EQ: 'eq',
      NE: 'ne',
      LT: signed ? 'slt' : 'ult',
      LE: signed ? 'sle' : 'ule',
      GT: signed ? 'sgt' : 'ugt',
      GE: signed ? 'sge' : 'uge',
    }[kind as 'EQ'];
    return this.fb.emit(bt, `icmp ${pred} ${a.type} ${a.ref}, ${b.ref}`);
  }

  cast(v: LValue, from: DataType, to: DataType): LValue {
    const tt = llvmType(to);
    if (v.type === tt && from.code === to.code) return v;
    const fromF = isFloatT(from);
    const toF = isFloatT(to);
    const zero = from.lanes > 1 ? 'zeroinitializer' : fromF ? '0.0' : '0';
    if (to.code === 'bool') {
      if (fromF) return this.fb.emit(tt, `fcmp une ${v.type} ${v.ref}, ${zero}`);
      return this.fb.emit(tt, `icmp ne ${v.type} ${v.ref}, ${zero}`);
    }
    if (fromF && toF) {
      const fb = llvmScalar(from) === 'double' ? 64 : 32;
      const tb = llvmScalar(to) === 'double' ? 64 : 32;
      let r = v;
      if (fb < tb) r = this.fb.emit(tt, `fpext ${v.type} ${v.ref} to ${tt}`);
      else if (fb > tb) r = this.fb.emit(tt, `fptrunc ${v.type} ${v.ref} to ${tt}`);
      return this.roundTo16(r, to);
    }
    if (fromF && !toF) {
      return this.fb.emit(tt, `${to.code === 'uint' ? 'fptoui' : 'fptosi'} ${v.type} ${v.ref} to ${tt}`);
    }
    if (!fromF && toF) {
      const op = from.code === 'int' ? 'sitofp' : 'uitofp';
      return this.roundTo16(this.fb.emit(tt, `${op} ${v.type} ${v.ref} to ${tt}`), to);
    }
    // int → int
    const fbits = from.code === 'bool' ? 1 : from.bits;
    if (fbits === to.bits) return { type: tt, ref: v.ref };
    if (fbits > to.bits) return this.fb.emit(tt, `trunc ${v.type} ${v.ref} to ${tt}`);
    return this.fb.emit(tt, `${from.code === 'int' ? 'sext' : 'zext'} ${v.type} ${v.ref} to ${tt}`);
  }

  /**
   * The result of a 16-bit float operation, rounded to its type as IEEE arithmetic in
   * that type would give: without it a value's bits would depend on which stages fusion
   * and inlining put in one expression.
   */
  private round16(v: LValue, t: DataType): LValue {
    return t.bits === 16 && isFloatT(t) ? this.roundTo16(v, t) : v;
  }

  /** 16-bit float values live in float registers; round them to their type's precision. */
  private roundTo16(v: LValue, to: DataType): LValue {
    if (to.bits !== 16) return v;
    const lanes = to.lanes;
    if (to.code === 'float') {
      const ht = vecOf('half', lanes);
      const h = this.fb.emit(ht, `fptrunc ${v.type} ${v.ref} to ${ht}`);
      return this.fb.emit(v.type, `fpext ${ht} ${h.ref} to ${v.type}`);
    }
    return this.fromBF16(this.toBF16(v, lanes), lanes);
  }

  private toBF16(v: LValue, lanes: number): LValue {
    // round to nearest even on the upper 16 bits of the float32 pattern
    const it = vecOf('i32', lanes);
    const st = vecOf('i16', lanes);
    const c = (x: number) => (lanes > 1 ? this.splatConst('i32', lanes, String(x)) : String(x));
    const bits = this.fb.emit(it, `bitcast ${v.type} ${v.ref} to ${it}`);
    const lsb = this.fb.emit(it, `lshr ${it} ${bits.ref}, ${c(16)}`);
    const lsb1 = this.fb.emit(it, `and ${it} ${lsb.ref}, ${c(1)}`);
    const bias = this.fb.emit(it, `add ${it} ${lsb1.ref}, ${c(0x7fff)}`);
    const rounded = this.fb.emit(it, `add ${it} ${bits.ref}, ${bias.ref}`);
    const hi = this.fb.emit(it, `lshr ${it} ${rounded.ref}, ${c(16)}`);
    return this.fb.emit(st, `trunc ${it} ${hi.ref} to ${st}`);
  }

  private fromBF16(v: LValue, lanes: number): LValue {
    const it = vecOf('i32', lanes);
    const ft = vecOf('float', lanes);
    const c16 = lanes > 1 ? this.splatConst('i32', lanes, '16') : '16';
    const w = this.fb.emit(it, `zext ${v.type} ${v.ref} to ${it}`);
    const s = this.fb.emit(it, `shl ${it} ${w.ref}, ${c16}`);
    return this.fb.emit(ft, `bitcast ${it} ${s.ref} to ${ft}`);
  }

  private intrinsicSuffix(type: string): string {
    const m = /^<(\d+) x (\w+)>$/.exec(type);
    const scalar = m ? m[2] : type;
    const s = scalar === 'float' ? 'f32' : scalar === 'double' ? 'f64' : scalar;
    return m ? `v${m[1]}${s}` : s;
  }

  intrinsicCall(name: string, args: LValue[], retType: string): LValue {
    const full = `llvm.${name}.${this.intrinsicSuffix(args[0].type)}`;
    this.mb.declare(full, `declare ${retType} @${full}(${args.map((a) => a.type).join(', ')})`);
    return this.fb.emit(
      retType,
      `call ${retType} @${full}(${args.map((a) => `${a.type} ${a.ref}`).join(', ')})`,
    );
  }

  /** Apply a scalar libm function lane by lane. */
  private libmCall(fnNames: [string, string], arg: LValue, t: DataType): LValue {
    const scalar = llvmScalar(t);
    const fname = scalar === 'double' ? fnNames[1] : fnNames[0];
    this.mb.declare(fname, `declare ${scalar} @${fname}(${scalar}) nounwind readnone`);
    if (t.lanes === 1) return this.fb.emit(scalar, `call ${scalar} @${fname}(${scalar} ${arg.ref})`);
    let acc: LValue = { type: arg.type, ref: 'undef' };
    for (let i = 0; i < t.lanes; i++) {
      const x = this.fb.emit(scalar, `extractelement ${arg.type} ${arg.ref}, i32 ${i}`);
      const y = this.fb.emit(scalar, `call ${scalar} @${fname}(${scalar} ${x.ref})`);
      acc = this.fb.emit(arg.type, `insertelement ${arg.type} ${acc.ref}, ${scalar} ${y.ref}, i32 ${i}`);
    }
    return acc;
  }

  private call(e: Extract<PrimExpr, { kind: 'Call' }>): LValue {
    // Intrinsics arrive by canonical name (`tir.exp`); the tables below use bare names.
    const canon = canonicalIntrinsicName(e.op);
    const op = canon.startsWith('tir.') ? canon.slice(4) : canon;
    const t = e.dtype;
    const ty = llvmType(t);
    // float32 (and 16-bit floats, computed in float): inline polynomials that vectorize.
    if (isVectorMathFunction(op) && isFloatT(t) && llvmScalar(t) === 'float') {
      const sink = {
        emit: (type: string, rhs: string) => this.fb.emit(type, rhs),
        declare: (name: string, text: string) => this.mb.declare(name, text),
      };
      return emitFloat32Math(sink, op, this.expr(e.args[0]), t.lanes);
    }
    if (op in UNARY_MATH && isFloatT(t))
      return this.intrinsicCall(UNARY_MATH[op], [this.expr(e.args[0])], ty);
    if (op in LIBM && isFloatT(t)) return this.libmCall(LIBM[op], this.expr(e.args[0]), t);
    const args = () => e.args.map((a) => this.expr(a));
    switch (op) {
      case 'abs':
      case 'fabs': {
        // integer abs
        const [a] = args();
        const neg = this.fb.emit(ty, `sub ${ty} ${t.lanes > 1 ? 'zeroinitializer' : '0'}, ${a.ref}`);
        const bt = ty.replace(/i\d+/, 'i1');
        const c = this.fb.emit(bt, `icmp slt ${ty} ${a.ref}, ${t.lanes > 1 ? 'zeroinitializer' : '0'}`);
        return this.fb.emit(ty, `select ${bt} ${c.ref}, ${ty} ${neg.ref}, ${ty} ${a.ref}`);
      }
      case 'rsqrt': {
        const s = this.intrinsicCall('sqrt', args(), ty);
        const one =
          t.lanes > 1
            ? this.splatConst(llvmScalar(t), t.lanes, floatConstant(1, llvmScalar(t)))
            : floatConstant(1, ty);
        return this.fb.emit(ty, `fdiv ${ty} ${one}, ${s.ref}`);
      }
      case 'sigmoid': {
        const [a] = args();
        const sc = llvmScalar(t);
        const c = (x: number) =>
          t.lanes > 1 ? this.splatConst(sc, t.lanes, floatConstant(x, sc)) : floatConstant(x, sc);
        const n = this.fb.emit(ty, `fneg ${ty} ${a.ref}`);
        const ex = this.intrinsicCall('exp', [n], ty);
        const d = this.fb.emit(ty, `fadd ${ty} ${c(1)}, ${ex.ref}`);
        return this.fb.emit(ty, `fdiv ${ty} ${c(1)}, ${d.ref}`);
      }
      case 'pow':
      case 'copysign': {
        const name = op === 'pow' ? 'pow' : 'copysign';
        return this.intrinsicCall(name, args(), ty);
      }
      case 'atan2': {
        const fname = llvmScalar(t) === 'double' ? 'atan2' : 'atan2f';
        const sc = llvmScalar(t);
        this.mb.declare(fname, `declare ${sc} @${fname}(${sc}, ${sc}) nounwind readnone`);
        const [a, b] = args();
        if (t.lanes === 1) return this.fb.emit(sc, `call ${sc} @${fname}(${sc} ${a.ref}, ${sc} ${b.ref})`);
        let acc: LValue = { type: ty, ref: 'undef' };
        for (let i = 0; i < t.lanes; i++) {
          const x = this.fb.emit(sc, `extractelement ${ty} ${a.ref}, i32 ${i}`);
          const y = this.fb.emit(sc, `extractelement ${ty} ${b.ref}, i32 ${i}`);
          const r = this.fb.emit(sc, `call ${sc} @${fname}(${sc} ${x.ref}, ${sc} ${y.ref})`);
          acc = this.fb.emit(ty, `insertelement ${ty} ${acc.ref}, ${sc} ${r.ref}, i32 ${i}`);
        }
        return acc;
      }
      case 'clz': {
        const [a] = args();
        const full = `llvm.ctlz.${this.intrinsicSuffix(a.type)}`;
        this.mb.declare(full, `declare ${a.type} @${full}(${a.type}, i1)`);
        const r = this.fb.emit(a.type, `call ${a.type} @${full}(${a.type} ${a.ref}, i1 false)`);
        return this.cast(r, e.args[0].dtype, t);
      }
      case 'popcount': {
        const [a] = args();
        const r = this.intrinsicCall('ctpop', [a], a.type);
        return this.cast(r, e.args[0].dtype, t);
      }
      case 'fmod': {
        const [a, b] = args();
        return this.fb.emit(ty, `frem ${ty} ${a.ref}, ${b.ref}`);
      }
      case 'isnan': {
        const [a] = args();
        return this.fb.emit(ty, `fcmp uno ${a.type} ${a.ref}, ${a.ref}`);
      }
      case 'isinf':
      case 'isfinite': {
        const [a] = args();
        const ft = e.args[0].dtype;
        const fabs = this.intrinsicCall('fabs', [a], a.type);
        const sc = llvmScalar(ft);
        const inf =
          ft.lanes > 1
            ? this.splatConst(sc, ft.lanes, floatConstant(Infinity, sc))
            : floatConstant(Infinity, sc);
        return this.fb.emit(ty, `fcmp ${op === 'isinf' ? 'oeq' : 'olt'} ${a.type} ${fabs.ref}, ${inf}`);
      }
      case 'likely':
        return this.expr(e.args[0]);
      case 'if_then_else':
        return this.ifThenElseExpr(e.args[0], e.args[1], e.args[2], ty);
      case 'reinterpret': {
        const [a] = args();
        return this.fb.emit(ty, `bitcast ${a.type} ${a.ref} to ${ty}`);
      }
      case 'bitwise_and':
      case 'bitwise_or':
      case 'bitwise_xor':
      case 'shift_left':
      case 'shift_right': {
        const [a, b] = args();
        const ins = {
          bitwise_and: 'and',
          bitwise_or: 'or',
          bitwise_xor: 'xor',
          shift_left: 'shl',
          shift_right: t.code === 'int' ? 'ashr' : 'lshr',
        }[op];
        return this.fb.emit(ty, `${ins} ${ty} ${a.ref}, ${b.ref}`);
      }
      case 'bitwise_not': {
        const [a] = args();
        const m1 = t.lanes > 1 ? this.splatConst(llvmScalar(t), t.lanes, '-1') : '-1';
        return this.fb.emit(ty, `xor ${ty} ${a.ref}, ${m1}`);
      }
      default:
        return fail(this.fnName, `intrinsic '${op}' (${t.str}) is not supported by the LLVM backend`);
    }
  }

  /** Lazy conditional: only the taken branch is evaluated (it may load out of bounds otherwise). */
  private ifThenElseExpr(cond: PrimExpr, a: PrimExpr, b: PrimExpr, ty: string): LValue {
    if (cond.dtype.lanes > 1) {
      const c = this.expr(cond);
      const x = this.expr(a);
      const y = this.expr(b);
      return this.fb.emit(ty, `select ${c.type} ${c.ref}, ${ty} ${x.ref}, ${ty} ${y.ref}`);
    }
    const c = this.expr(cond);
    const tb = this.fb.newBlock('ite.then');
    const fb = this.fb.newBlock('ite.else');
    const end = this.fb.newBlock('ite.end');
    this.fb.condBr(c, tb, fb);
    this.fb.setBlock(tb);
    const x = this.expr(a);
    const tEnd = this.fb.current;
    this.fb.br(end);
    this.fb.setBlock(fb);
    const y = this.expr(b);
    const fEnd = this.fb.current;
    this.fb.br(end);
    this.fb.setBlock(end);
    return this.fb.emit(ty, `phi ${ty} [ ${x.ref}, %${tEnd.label} ], [ ${y.ref}, %${fEnd.label} ]`);
  }

  // ------------------------------------------------------------ memory

  private binding(buf: Buffer): BufferBinding {
    const base = this.env.lookupData(buf.data);
    if (!base) fail(this.fnName, `buffer '${buf.name}' has no storage in scope (not a param nor allocated)`);
    const elem = memScalar(buf.dtype.lanes > 1 ? ({ ...buf.dtype, lanes: 1 } as DataType) : buf.dtype);
    const ptrT = `${elem}*`;
    let ptr: LValue =
      base.type === ptrT ? base : this.fb.emit(ptrT, `bitcast ${base.type} ${base.ref} to ${ptrT}`);
    const off = buf.elemOffset;
    if (!(off.kind === 'IntImm' && off.value === 0)) {
      const o = this.cast(this.expr(off), off.dtype, DType.int64);
      ptr = this.fb.emit(ptrT, `getelementptr inbounds ${elem}, ${ptrT} ${ptr.ref}, i64 ${o.ref}`);
    }
    return { ptr, elem };
  }

  /** The flat element index of an access (row-major, or by explicit strides). */
  private flatIndex(buf: Buffer, indices: readonly PrimExpr[]): LValue {
    if (indices.length === 0) return { type: 'i64', ref: '0' };
    if (indices.length === 1 && buf.strides.length === 0) return this.toI64(indices[0]);
    if (indices.length !== buf.shape.length) {
      fail(
        this.fnName,
        `buffer '${buf.name}' has ${buf.shape.length} dims but is accessed with ${indices.length} indices`,
      );
    }
    const lanes = indices.reduce((l, i) => Math.max(l, i.dtype.lanes), 1);
    const it = vecOf('i64', lanes);
    let acc: LValue | undefined;
    const strides: LValue[] = [];
    if (buf.strides.length > 0) {
      for (const s of buf.strides) strides.push(this.toI64(s));
    } else {
      let run: LValue = { type: 'i64', ref: '1' };
      const rev: LValue[] = [];
      for (let d = buf.shape.length - 1; d >= 0; d--) {
        rev.push(run);
        if (d > 0) {
          const dim = this.toI64(buf.shape[d]);
          run = run.ref === '1' ? dim : this.fb.emit('i64', `mul nsw i64 ${run.ref}, ${dim.ref}`);
        }
      }
      strides.push(...rev.reverse());
    }
    indices.forEach((ix, d) => {
      let i = this.toI64(ix);
      if (lanes > 1) i = this.splat(i, lanes);
      let term = i;
      if (strides[d].ref !== '1') {
        const s = lanes > 1 ? this.splat(strides[d], lanes) : strides[d];
        term = this.fb.emit(it, `mul nsw ${it} ${i.ref}, ${s.ref}`);
      }
      acc = acc ? this.fb.emit(it, `add nsw ${it} ${acc.ref}, ${term.ref}`) : term;
    });
    return acc!;
  }

  private toI64(e: PrimExpr): LValue {
    const v = this.expr(e);
    const t =
      e.dtype.lanes > 1
        ? ({ ...DType.int64, lanes: e.dtype.lanes, str: `int64x${e.dtype.lanes}` } as DataType)
        : DType.int64;
    return this.cast(v, e.dtype, t);
  }

  /** A contiguous vector access `base + ramp(0, 1, lanes)`: the scalar start index, if so. */
  private contiguousStart(buf: Buffer, indices: readonly PrimExpr[]): PrimExpr | undefined {
    const last = indices[indices.length - 1];
    if (last?.kind !== 'Ramp') return undefined;
    if (!(last.stride.kind === 'IntImm' && last.stride.value === 1)) return undefined;
    if (indices.slice(0, -1).some((i) => i.dtype.lanes > 1)) return undefined;
    if (indices.length > 1 && buf.strides.length > 0) {
      const s = buf.strides[buf.strides.length - 1];
      if (!(s.kind === 'IntImm' && s.value === 1)) return undefined;
    }
    return last.base;
  }

  /** A vector access `base + ramp(0, s, lanes)` with 2 <= s <= 4 along a unit-stride last axis. */
  private shortStride(
    buf: Buffer,
    indices: readonly PrimExpr[],
  ): { base: PrimExpr; stride: number } | undefined {
    const last = indices[indices.length - 1];
    if (last?.kind !== 'Ramp' || last.stride.kind !== 'IntImm') return undefined;
    const st = last.stride.value;
    if (st < 2 || st > 4) return undefined;
    if (indices.slice(0, -1).some((i) => i.dtype.lanes > 1)) return undefined;
    if (indices.length > 1 && buf.strides.length > 0) {
      const s = buf.strides[buf.strides.length - 1];
      if (!(s.kind === 'IntImm' && s.value === 1)) return undefined;
    }
    return { base: last.base, stride: st };
  }

  /** `&ptr[idx]` as an element pointer. */
  private elementPointer(ptr: LValue, elem: string, idx: LValue): LValue {
    return this.fb.emit(`${elem}*`, `getelementptr inbounds ${elem}, ${elem}* ${ptr.ref}, i64 ${idx.ref}`);
  }

  /**
   * The address of a scalar access, or of the first lane of a contiguous vector access;
   * undefined for other vector accesses (strided or gathered lane by lane).
   */
  private directPointer(
    buf: Buffer,
    ptr: LValue,
    elem: string,
    indices: readonly PrimExpr[],
    lanes: number,
  ): LValue | undefined {
    const start = lanes > 1 ? this.contiguousStart(buf, indices) : undefined;
    if (lanes > 1 && !start) return undefined;
    const idx = start ? this.flatIndex(buf, [...indices.slice(0, -1), start]) : this.flatIndex(buf, indices);
    return this.elementPointer(ptr, elem, idx);
  }

  /** Element pointers of each lane of a gathered/scattered vector access. */
  private lanePointers(
    buf: Buffer,
    ptr: LValue,
    elem: string,
    indices: readonly PrimExpr[],
    lanes: number,
  ): LValue[] {
    const idx = this.flatIndex(buf, indices);
    return Array.from({ length: lanes }, (_, i) => {
      const li = idx.type.startsWith('<')
        ? this.fb.emit('i64', `extractelement ${idx.type} ${idx.ref}, i32 ${i}`)
        : idx;
      return this.elementPointer(ptr, elem, li);
    });
  }

  private load(buf: Buffer, indices: readonly PrimExpr[], t: DataType): LValue {
    const { ptr, elem } = this.binding(buf);
    const lanes = t.lanes;
    const align = Math.max(1, Math.min(buf.dtype.bits / 8, 16));
    const p = this.directPointer(buf, ptr, elem, indices, lanes);
    if (p) {
      if (lanes === 1) {
        const raw = this.fb.emit(elem, `load ${elem}, ${elem}* ${p.ref}, align ${align}`);
        return this.fromMemory(raw, buf.dtype, 1);
      }
      const vt = vecOf(elem, lanes);
      const vp = this.fb.emit(`${vt}*`, `bitcast ${elem}* ${p.ref} to ${vt}*`);
      const raw = this.fb.emit(vt, `load ${vt}, ${vt}* ${vp.ref}, align ${align}`);
      return this.fromMemory(raw, buf.dtype, lanes);
    }
    const strided = this.shortStride(buf, indices);
    if (strided) {
      // base + ramp(0, s, lanes) with a small s (a stride-2 convolution): one contiguous
      // load of the s*(lanes-1)+1 elements spanned (never past the last lane) and a
      // shuffle that keeps every s-th, instead of lanes scalar loads.
      const span = strided.stride * (lanes - 1) + 1;
      const sp = this.elementPointer(ptr, elem, this.flatIndex(buf, [...indices.slice(0, -1), strided.base]));
      const wt = vecOf(elem, span);
      const wp = this.fb.emit(`${wt}*`, `bitcast ${elem}* ${sp.ref} to ${wt}*`);
      const wide = this.fb.emit(wt, `load ${wt}, ${wt}* ${wp.ref}, align ${align}`);
      const mask = Array.from({ length: lanes }, (_, i) => `i32 ${i * strided.stride}`).join(', ');
      const vt = vecOf(elem, lanes);
      const raw = this.fb.emit(
        vt,
        `shufflevector ${wt} ${wide.ref}, ${wt} undef, <${lanes} x i32> <${mask}>`,
      );
      return this.fromMemory(raw, buf.dtype, lanes);
    }
    // gather: lane by lane
    const vt = vecOf(elem, lanes);
    let acc: LValue = { type: vt, ref: 'undef' };
    this.lanePointers(buf, ptr, elem, indices, lanes).forEach((lp, i) => {
      const x = this.fb.emit(elem, `load ${elem}, ${elem}* ${lp.ref}, align ${align}`);
      acc = this.fb.emit(vt, `insertelement ${vt} ${acc.ref}, ${elem} ${x.ref}, i32 ${i}`);
    });
    return this.fromMemory(acc, buf.dtype, lanes);
  }

  /** Convert a loaded memory value to its register form. */
  private fromMemory(raw: LValue, bt: DataType, lanes: number): LValue {
    if (bt.code === 'bool') {
      return this.fb.emit(
        vecOf('i1', lanes),
        `icmp ne ${raw.type} ${raw.ref}, ${lanes > 1 ? 'zeroinitializer' : '0'}`,
      );
    }
    if (bt.code === 'float' && bt.bits === 16) {
      const ft = vecOf('float', lanes);
      return this.fb.emit(ft, `fpext ${raw.type} ${raw.ref} to ${ft}`);
    }
    if (bt.code === 'bfloat') return this.fromBF16(raw, lanes);
    return raw;
  }

  private toMemory(v: LValue, bt: DataType, lanes: number): LValue {
    if (bt.code === 'bool') {
      const t = vecOf('i8', lanes);
      return this.fb.emit(t, `zext ${v.type} ${v.ref} to ${t}`);
    }
    if (bt.code === 'float' && bt.bits === 16) {
      const t = vecOf('half', lanes);
      return this.fb.emit(t, `fptrunc ${v.type} ${v.ref} to ${t}`);
    }
    if (bt.code === 'bfloat') return this.toBF16(v, lanes);
    return v;
  }

  private store(buf: Buffer, value: PrimExpr, indices: readonly PrimExpr[]): void {
    const { ptr, elem } = this.binding(buf);
    const lanes = value.dtype.lanes;
    const v = this.toMemory(this.expr(value), buf.dtype, lanes);
    const align = Math.max(1, Math.min(buf.dtype.bits / 8, 16));
    const p = this.directPointer(buf, ptr, elem, indices, lanes);
    if (p) {
      if (lanes === 1) {
        this.fb.emitVoid(`store ${elem} ${v.ref}, ${elem}* ${p.ref}, align ${align}`);
        return;
      }
      const vt = vecOf(elem, lanes);
      const vp = this.fb.emit(`${vt}*`, `bitcast ${elem}* ${p.ref} to ${vt}*`);
      this.fb.emitVoid(`store ${vt} ${v.ref}, ${vt}* ${vp.ref}, align ${align}`);
      return;
    }
    this.lanePointers(buf, ptr, elem, indices, lanes).forEach((lp, i) => {
      const x = this.fb.emit(elem, `extractelement ${v.type} ${v.ref}, i32 ${i}`);
      this.fb.emitVoid(`store ${elem} ${x.ref}, ${elem}* ${lp.ref}, align ${align}`);
    });
  }

  // ------------------------------------------------------------ statements

  stmt(s: Stmt): void {
    switch (s.kind) {
      case 'BufferStore':
        this.store(s.buffer, s.value, s.indices);
        return;
      case 'LetStmt': {
        const v = this.expr(s.value);
        this.withScope(() => {
          this.env.vars.set(s.var, v);
          this.stmt(s.body);
        });
        return;
      }
      case 'For':
        if (s.forKind === 'parallel') this.parallelFor(s);
        else if (s.forKind === 'thread_binding')
          fail(this.fnName, `thread-bound loop '${s.loopVar.name}' (${s.threadTag}) cannot run on the CPU`);
        else this.serialFor(s);
        return;
      case 'While': {
        const head = this.fb.newBlock('while.head');
        const body = this.fb.newBlock('while.body');
        const end = this.fb.newBlock('while.end');
        this.fb.br(head);
        this.fb.setBlock(head);
        const c = this.expr(s.cond);
        this.fb.condBr(c, body, end);
        this.fb.setBlock(body);
        this.stmt(s.body);
        this.fb.br(head);
        this.fb.setBlock(end);
        return;
      }
      case 'IfThenElse': {
        const c = this.expr(s.cond);
        const tb = this.fb.newBlock('if.then');
        const end = this.fb.newBlock('if.end');
        const eb = s.else ? this.fb.newBlock('if.else') : end;
        this.fb.condBr(c, tb, eb);
        this.fb.setBlock(tb);
        this.withScope(() => this.stmt(s.then));
        this.fb.br(end);
        if (s.else) {
          this.fb.setBlock(eb);
          const other = s.else;
          this.withScope(() => this.stmt(other));
          this.fb.br(end);
        }
        this.fb.setBlock(end);
        return;
      }
      case 'SeqStmt':
        for (const x of s.seq) this.stmt(x);
        return;
      case 'Evaluate':
        if (s.value.kind === 'IntImm') return;
        if (s.value.kind === 'Call' && canonicalIntrinsicName(s.value.op) === 'tir.thread_sync') return;
        this.expr(s.value);
        return;
      case 'Allocate':
        this.allocate(s.buffer, s.body);
        return;
      case 'DeclBuffer':
        this.stmt(s.body);
        return;
      case 'AttrStmt':
        this.stmt(s.body);
        return;
      case 'Block':
      case 'BlockRealize':
        fail(
          this.fnName,
          `found a ${s.kind} ('${s.kind === 'Block' ? s.name : s.block.name}'): lower the PrimFunc (tir.lowerForCodegen) before codegen`,
        );
    }
  }

  private withScope(f: () => void): void {
    const saved = this.env;
    this.env = new Env(saved);
    try {
      f();
    } finally {
      this.env = saved;
    }
  }

  private allocate(buf: Buffer, body: Stmt): void {
    let count = 1;
    let constant = true;
    for (const d of buf.shape) {
      if (d.kind === 'IntImm') count *= d.value;
      else constant = false;
    }
    const elem = memScalar(buf.dtype.lanes > 1 ? ({ ...buf.dtype, lanes: 1 } as DataType) : buf.dtype);
    const elemBytes = Math.max(1, (buf.dtype.code === 'bool' ? 8 : buf.dtype.bits) / 8) * buf.dtype.lanes;
    const lanesCount = count * buf.dtype.lanes;
    if (constant && count * elemBytes <= 256 * 1024) {
      const p = this.fb.entryAlloca(elem, lanesCount, 64, sanitizeSymbol(buf.name));
      this.withScope(() => {
        this.env.data.set(buf.data, p);
        this.stmt(body);
      });
      return;
    }
    // heap: kiln_alloc(bytes) ... kiln_free
    let bytes: LValue = { type: 'i64', ref: String(elemBytes) };
    for (const d of buf.shape) {
      const dv = this.toI64(d);
      bytes = this.fb.emit('i64', `mul nsw i64 ${bytes.ref}, ${dv.ref}`);
    }
    this.mb.declare('kiln_alloc', 'declare noalias i8* @kiln_alloc(i64)');
    this.mb.declare('kiln_free', 'declare void @kiln_free(i8*)');
    const raw = this.fb.emit('i8*', `call i8* @kiln_alloc(i64 ${bytes.ref})`);
    const typed = this.fb.emit(`${elem}*`, `bitcast i8* ${raw.ref} to ${elem}*`);
    this.withScope(() => {
      this.env.data.set(buf.data, typed);
      this.stmt(body);
    });
    this.fb.emitVoid(`call void @kiln_free(i8* ${raw.ref})`);
  }

  private serialFor(s: For): void {
    const min = this.toI64(s.min);
    const ext = this.toI64(s.extent);
    const end =
      s.min.kind === 'IntImm' && s.min.value === 0
        ? ext
        : this.fb.emit('i64', `add nsw i64 ${min.ref}, ${ext.ref}`);
    this.loop(min, end, sanitizeSymbol(s.loopVar.name), s, (iv) => {
      const v = this.cast(iv, DType.int64, s.loopVar.dtype);
      this.withScope(() => {
        this.env.vars.set(s.loopVar, v);
        this.stmt(s.body);
      });
    });
  }

  /** Emit `for (i = begin; i < end; ++i) body(i)` with a phi induction variable. */
  loop(begin: LValue, end: LValue, hint: string, s: For | undefined, body: (iv: LValue) => void): void {
    const pre = this.fb.current;
    const head = this.fb.newBlock(`${hint}.head`);
    const bodyB = this.fb.newBlock(`${hint}.body`);
    const exit = this.fb.newBlock(`${hint}.exit`);
    this.fb.br(head);
    this.fb.setBlock(head);
    const ivRef = this.fb.fresh(hint);
    const nextRef = this.fb.fresh(`${hint}.next`);
    const phiIndex = head.lines.length;
    head.lines.push(''); // placeholder for the phi, filled once the latch block is known
    const cond = this.fb.emit('i1', `icmp slt i64 ${ivRef}, ${end.ref}`);
    this.fb.condBr(cond, bodyB, exit);
    this.fb.setBlock(bodyB);
    body({ type: 'i64', ref: ivRef });
    const latch = this.fb.current;
    latch.lines.push(`  ${nextRef} = add nsw i64 ${ivRef}, 1`);
    let meta = '';
    if (s && (s.forKind === 'unrolled' || s.forKind === 'vectorized')) {
      const props =
        s.forKind === 'unrolled' ? ['!"llvm.loop.unroll.full"'] : ['!"llvm.loop.vectorize.enable", i1 true'];
      meta = `, !llvm.loop ${this.mb.loopMetadata(props)}`;
    }
    this.fb.terminate(`br label %${head.label}${meta}`);
    head.lines[phiIndex] =
      `  ${ivRef} = phi i64 [ ${begin.ref}, %${pre.label} ], [ ${nextRef}, %${latch.label} ]`;
    this.fb.setBlock(exit);
  }

  /**
   * A parallel loop: its body is outlined into `<fn>_par<k>(i64 begin, i64 end, i8* closure)`
   * and run by the pool in the C runtime (`kiln_parallel_for`). The closure is a stack
   * struct holding every value the body uses from outside.
   */
  private parallelFor(s: For): void {
    const captured = this.freeValues(s);
    const structT = `{ ${captured.map((c) => c.value.type).join(', ') || 'i8'} }`;
    const slot = this.fb.entryAlloca(structT, 1, 16, 'closure');
    captured.forEach((c, i) => {
      const p = this.fb.emit(
        `${c.value.type}*`,
        `getelementptr inbounds ${structT}, ${structT}* ${slot.ref}, i32 0, i32 ${i}`,
      );
      this.fb.emitVoid(`store ${c.value.type} ${c.value.ref}, ${c.value.type}* ${p.ref}`);
    });
    const name = `${this.fb.name}_par${this.counter.n++}`;
    const sub = new FunctionBuilder(
      name,
      'void',
      [
        { type: 'i64', name: 'begin' },
        { type: 'i64', name: 'end' },
        { type: 'i8*', name: 'closure' },
      ],
      this.fnAttrs,
      'internal',
    );
    this.mb.functions.push(sub);
    // The task unpacks the closure and calls the loop body as a function whose buffer
    // pointers are noalias parameters, inlined at once: the inliner turns that into alias
    // scopes, so the body keeps what the kernel's noalias params promised (without it,
    // LLVM could not keep a register-blocked accumulator tile in registers).
    const bodyName = `${name}_body`;
    const bodyParams = [
      { type: 'i64', name: 'begin' },
      { type: 'i64', name: 'end' },
      ...captured.map((c, i) => ({
        type: c.value.type,
        name: `cap${i}`,
        ...(c.isData && c.value.type.endsWith('*') ? { attrs: 'noalias' } : {}),
      })),
    ];
    const bodyFn = new FunctionBuilder(
      bodyName,
      'void',
      bodyParams,
      `${this.fnAttrs} alwaysinline`,
      'internal',
    );
    this.mb.functions.push(bodyFn);
    const cl = sub.emit(`${structT}*`, `bitcast i8* %closure to ${structT}*`);
    const loaded = captured.map((c, i) => {
      const p = sub.emit(
        `${c.value.type}*`,
        `getelementptr inbounds ${structT}, ${structT}* ${cl.ref}, i32 0, i32 ${i}`,
      );
      return sub.emit(c.value.type, `load ${c.value.type}, ${c.value.type}* ${p.ref}`);
    });
    sub.emitVoid(
      `call void @${bodyName}(${['i64 %begin', 'i64 %end', ...loaded.map((v) => `${v.type} ${v.ref}`)].join(', ')})`,
    );
    sub.terminate('ret void');
    const subEnv = new Env();
    const subGen = new FunctionCodegen(this.mb, this.fnName, bodyFn, subEnv, this.fnAttrs, this.counter);
    captured.forEach((c, i) => {
      const v = bodyFn.param(i + 2);
      if (c.isData) subEnv.data.set(c.node, v);
      else subEnv.vars.set(c.node, v);
    });
    const min = subGen.toI64(s.min);
    const b = bodyFn.emit('i64', `add nsw i64 %begin, ${min.ref}`);
    const e = bodyFn.emit('i64', `add nsw i64 %end, ${min.ref}`);
    subGen.loop(b, e, sanitizeSymbol(s.loopVar.name), undefined, (iv) => {
      const v = subGen.cast(iv, DType.int64, s.loopVar.dtype);
      subGen.withScope(() => {
        subGen.env.vars.set(s.loopVar, v);
        subGen.stmt(s.body);
      });
    });
    bodyFn.terminate('ret void');
    this.mb.declare('kiln_parallel_for', 'declare void @kiln_parallel_for(void (i64, i64, i8*)*, i8*, i64)');
    const n = this.toI64(s.extent);
    const cp = this.fb.emit('i8*', `bitcast ${structT}* ${slot.ref} to i8*`);
    this.fb.emitVoid(
      `call void @kiln_parallel_for(void (i64, i64, i8*)* @${name}, i8* ${cp.ref}, i64 ${n.ref})`,
    );
  }

  /** Values defined outside `s` that it uses: scalar vars and buffer storage pointers. */
  private freeValues(s: For): Array<{ node: Var; value: LValue; isData: boolean }> {
    const out: Array<{ node: Var; value: LValue; isData: boolean }> = [];
    const seen = new Set<Node>();
    postOrderVisit(s, (n) => {
      if (n.kind === 'Var' && !seen.has(n)) {
        seen.add(n);
        const v = n as Var;
        const val = this.env.lookupVar(v);
        if (val) out.push({ node: v, value: val, isData: false });
        else {
          const d = this.env.lookupData(v);
          if (d) out.push({ node: v, value: d, isData: true });
        }
      }
    });
    return out;
  }
}

export interface CodegenResult {
  llvmIR: string;
  kernels: KernelInfo[];
}

/** Generate one LLVM module for the given lowered PrimFuncs. */
export function codegenLLVM(
  funcs: ReadonlyArray<{ symbol: string; fn: PrimFunc }>,
  target: LLVMTargetInfo,
  moduleName = 'kiln',
): CodegenResult {
  const mb = new ModuleBuilder(moduleName, target.mtriple);
  const featureStr = (target.features ?? []).join(',');
  const attrParts = ['nounwind'];
  if (target.mcpu) attrParts.push(`"target-cpu"="${target.mcpu}"`);
  if (featureStr) attrParts.push(`"target-features"="${featureStr}"`);
  const fnAttrs = attrParts.join(' ');
  const kernels: KernelInfo[] = [];
  const counter = { n: 0 };
  const symbols = new Set<string>();
  for (const { symbol, fn } of funcs) {
    const sym = sanitizeSymbol(symbol);
    if (symbols.has(sym)) throw new KilnError(CODEGEN, `codegen-llvm: duplicate kernel symbol '${sym}'`);
    symbols.add(sym);
    const params: Array<{ type: string; name: string; attrs?: string }> = [];
    const args: KernelArg[] = [];
    const cTypes: string[] = [];
    const env = new Env();
    const abi = kernelABI(fn);
    const dimVars = abi.flatMap((a) => (a.kind === 'dim' ? [{ v: a.var, param: a.param, dim: a.dim }] : []));
    const pnames = new Set<string>();
    const pname = (base: string) => {
      let n = sanitizeSymbol(base) || 'arg';
      while (pnames.has(n)) n = `${n}_`;
      pnames.add(n);
      return n;
    };
    fn.params.forEach((p, i) => {
      if (p.kind === 'Buffer') {
        const elem = memScalar(p.dtype.lanes > 1 ? ({ ...p.dtype, lanes: 1 } as DataType) : p.dtype);
        const name = pname(p.name);
        params.push({ type: `${elem}*`, name, attrs: 'noalias' });
        env.data.set(p.data, { type: `${elem}*`, ref: `%${name}` });
        args.push({ kind: 'buffer', param: i, name: p.name, dtype: p.dtype.str, ndim: p.shape.length });
        cTypes.push('ptr');
      } else {
        const name = pname(p.name);
        const t = llvmType(p.dtype);
        params.push({ type: p.dtype.code === 'bool' ? 'i8' : t, name });
        env.vars.set(p, { type: t, ref: `%${name}` });
        args.push({ kind: 'scalar', param: i, name: p.name, dtype: p.dtype.str });
        cTypes.push(cTypeOf(p.dtype));
      }
    });
    for (const d of dimVars) {
      const name = pname(d.v.name);
      params.push({ type: 'i64', name });
      const v = { type: 'i64', ref: `%${name}` };
      env.vars.set(d.v, d.v.dtype.bits === 64 ? v : { type: llvmType(d.v.dtype), ref: `%${name}.cast` });
      args.push({ kind: 'dim', name: d.v.name, param: d.param, dim: d.dim });
      cTypes.push('i64');
    }
    const packed = params.length > MAX_DIRECT_KERNEL_ARGS;
    const fb = packed
      ? new FunctionBuilder(`${sym}.unpacked`, 'void', params, fnAttrs, 'internal')
      : new FunctionBuilder(sym, 'void', params, fnAttrs);
    // bool scalar params arrive as i8; narrower shape vars are cast from i64
    fn.params.forEach((p) => {
      if (p.kind === 'Var' && p.dtype.code === 'bool') {
        const cur = env.vars.get(p)!;
        env.vars.set(p, fb.emit('i1', `icmp ne i8 ${cur.ref}, 0`));
      }
    });
    for (const d of dimVars) {
      if (d.v.dtype.bits !== 64) {
        const cur = env.vars.get(d.v)!;
        fb.current.lines.push(`  ${cur.ref} = trunc i64 ${cur.ref.replace('.cast', '')} to ${cur.type}`);
      }
    }
    mb.functions.push(fb);
    const gen = new FunctionCodegen(mb, symbol, fb, env, fnAttrs, counter);
    gen.stmt(fn.body);
    fb.terminate('ret void');
    if (packed) mb.functions.push(packedEntry(sym, fb, fnAttrs));
    kernels.push(packed ? { symbol: sym, args, cTypes, packed } : { symbol: sym, args, cTypes });
  }
  return { llvmIR: mb.toText(), kernels };
}

/** `void sym(i64* args)`: unpacks one 8-byte slot per parameter and calls `inner`. */
function packedEntry(sym: string, inner: FunctionBuilder, fnAttrs: string): FunctionBuilder {
  const w = new FunctionBuilder(
    sym,
    'void',
    [{ type: 'i64*', name: 'args', attrs: 'nocapture readonly' }],
    fnAttrs,
  );
  const actuals = inner.params.map((p, k) => {
    const slot = w.emit('i64*', `getelementptr inbounds i64, i64* %args, i64 ${k}`, 'slot');
    if (p.type === 'float' || p.type === 'double') {
      const at = w.emit(`${p.type}*`, `bitcast i64* ${slot.ref} to ${p.type}*`, 'at');
      return `${p.type} ${w.emit(p.type, `load ${p.type}, ${p.type}* ${at.ref}, align 8`, p.name).ref}`;
    }
    const raw = w.emit('i64', `load i64, i64* ${slot.ref}, align 8`, 'raw');
    if (p.type.endsWith('*'))
      return `${p.type} ${w.emit(p.type, `inttoptr i64 ${raw.ref} to ${p.type}`, p.name).ref}`;
    if (p.type === 'i64') return `i64 ${raw.ref}`;
    if (/^i\d+$/.test(p.type))
      return `${p.type} ${w.emit(p.type, `trunc i64 ${raw.ref} to ${p.type}`, p.name).ref}`;
    throw new KilnError(CODEGEN, `codegen-llvm: '${sym}': a ${p.type} parameter cannot be passed packed`);
  });
  w.emitVoid(`call void @${inner.name}(${actuals.join(', ')})`);
  w.terminate('ret void');
  return w;
}
