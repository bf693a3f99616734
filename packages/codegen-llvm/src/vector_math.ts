// Inline float32 exp, erf, tanh and sigmoid as straight-line LLVM IR (polynomials, bit
// manipulation and selects, no calls), for scalars and vectors alike: an explicit vector
// gets the vector instructions directly, and a scalar use inside a loop leaves a body
// that LLVM's loop vectorizer can vectorize (a libm call would stay one call per lane).
// Accuracy: within a few ulp of the correctly rounded result over the whole float range
// (tests in vector_math.test.ts); NaN propagates, exp overflows to +inf and underflows
// through the subnormals to 0, erf/tanh saturate at ±1, and -0 maps to -0.
// The polynomial coefficients are near-minimax fits (iteratively reweighted least
// squares on float64, then rounded to float32) of:
//   exp:  (e^r - 1 - r) / r²          for r in [-ln2/2, ln2/2]   (exp(x) = 2^n e^r)
//   erf:  erf(x) / x                  in z = x² for |x| < 1
//         log(erfc(t)) + t²           in t - 2.5 for 1 <= t <= 4 (erf = 1 - erfc; erfc(4) rounds 1 - erfc to 1)
//   tanh: (tanh(x) - x) / x³          in z = x² for |x| < 1      (else 1 - 2 / (e^2|x| + 1))
import type { LValue } from './llvm_text.js';
import { floatConstant } from './llvm_text.js';

/** The float32 functions implemented here. */
export const VECTOR_MATH_FUNCTIONS = ['exp', 'erf', 'tanh', 'sigmoid'] as const;
export type VectorMathFunction = (typeof VECTOR_MATH_FUNCTIONS)[number];

export function isVectorMathFunction(op: string): op is VectorMathFunction {
  return (VECTOR_MATH_FUNCTIONS as readonly string[]).includes(op);
}

const EXP_POLY = [0.499999911, 0.166665033, 0.0416685939, 0.00837077852, 0.00138103415];
const ERF_SMALL_POLY = [
  1.12837911, -0.37612626, 0.112835854, -0.0268538129, 0.00518832868, -0.000801019894, 7.85386583e-5,
];
const ERF_LARGE_POLY = [
  -1.55681789, -0.352693945, 0.0561168604, -0.0107112434, 0.00246540573, -0.00015195868, 0.000186381643,
];
const TANH_POLY = [
  -0.333333284, 0.133331999, -0.0539530963, 0.0217847265, -0.0085951034, 0.0030785799, -0.000841127767,
  0.000121468198,
];
/** ln 2 split so that n * LN2_HI is exact for |n| < 2^15 (Cody and Waite). */
const LN2_HI = 0.693359375;
const LN2_LO = -0.000212194442;
/** 1.5 * 2^23: adding it rounds a float of magnitude < 2^22 to an integer (to nearest even). */
const ROUND_MAGIC = 12582912;
const ROUND_MAGIC_BITS = 0x4b400000;

/** What the emitter needs from a function under construction. */
export interface InstructionSink {
  emit(type: string, rhs: string): LValue;
  /** Declare an intrinsic once per module. */
  declare(name: string, text: string): void;
}

/**
 * Emits float32 math on `float` or `<N x float>` values. All arithmetic is plain IEEE
 * (no fast-math flags); `llvm.fmuladd` lets the backend use FMA where the target has it.
 */
class F32Emitter {
  readonly ft: string;
  readonly it: string;
  readonly bt: string;
  readonly suffix: string;
  constructor(
    readonly out: InstructionSink,
    readonly lanes: number,
  ) {
    this.ft = lanes > 1 ? `<${lanes} x float>` : 'float';
    this.it = lanes > 1 ? `<${lanes} x i32>` : 'i32';
    this.bt = lanes > 1 ? `<${lanes} x i1>` : 'i1';
    this.suffix = lanes > 1 ? `v${lanes}f32` : 'f32';
  }
  private splat(scalarType: string, text: string): string {
    if (this.lanes === 1) return text;
    return `<${Array.from({ length: this.lanes }, () => `${scalarType} ${text}`).join(', ')}>`;
  }
  c(x: number): LValue {
    return { type: this.ft, ref: this.splat('float', floatConstant(x, 'float')) };
  }
  ci(x: number): LValue {
    return { type: this.it, ref: this.splat('i32', String(x | 0)) };
  }
  bin(op: string, a: LValue, b: LValue): LValue {
    return this.out.emit(a.type, `${op} ${a.type} ${a.ref}, ${b.ref}`);
  }
  add(a: LValue, b: LValue): LValue {
    return this.bin('fadd', a, b);
  }
  sub(a: LValue, b: LValue): LValue {
    return this.bin('fsub', a, b);
  }
  mul(a: LValue, b: LValue): LValue {
    return this.bin('fmul', a, b);
  }
  div(a: LValue, b: LValue): LValue {
    return this.bin('fdiv', a, b);
  }
  /** a * b + c, fused where the target can. */
  fma(a: LValue, b: LValue, c: LValue): LValue {
    const name = `llvm.fmuladd.${this.suffix}`;
    this.out.declare(name, `declare ${this.ft} @${name}(${this.ft}, ${this.ft}, ${this.ft})`);
    return this.out.emit(
      this.ft,
      `call ${this.ft} @${name}(${this.ft} ${a.ref}, ${this.ft} ${b.ref}, ${this.ft} ${c.ref})`,
    );
  }
  unary(intrinsic: string, a: LValue): LValue {
    const name = `llvm.${intrinsic}.${this.suffix}`;
    this.out.declare(name, `declare ${this.ft} @${name}(${this.ft})`);
    return this.out.emit(this.ft, `call ${this.ft} @${name}(${this.ft} ${a.ref})`);
  }
  copysign(mag: LValue, sign: LValue): LValue {
    const name = `llvm.copysign.${this.suffix}`;
    this.out.declare(name, `declare ${this.ft} @${name}(${this.ft}, ${this.ft})`);
    return this.out.emit(this.ft, `call ${this.ft} @${name}(${this.ft} ${mag.ref}, ${this.ft} ${sign.ref})`);
  }
  neg(a: LValue): LValue {
    return this.out.emit(a.type, `fneg ${a.type} ${a.ref}`);
  }
  fcmp(pred: string, a: LValue, b: LValue): LValue {
    return this.out.emit(this.bt, `fcmp ${pred} ${this.ft} ${a.ref}, ${b.ref}`);
  }
  select(c: LValue, a: LValue, b: LValue): LValue {
    return this.out.emit(a.type, `select ${this.bt} ${c.ref}, ${a.type} ${a.ref}, ${b.type} ${b.ref}`);
  }
  /** Clamp into [lo, hi]; NaN becomes lo (ordered compares), so later integer conversions stay defined. */
  clamp(x: LValue, lo: number, hi: number): LValue {
    const l = this.c(lo);
    const h = this.c(hi);
    const a = this.select(this.fcmp('ogt', x, l), x, l);
    return this.select(this.fcmp('olt', a, h), a, h);
  }
  /** Horner: p[0] + z p[1] + z² p[2] + ... */
  poly(z: LValue, p: readonly number[]): LValue {
    let acc = this.c(p[p.length - 1]);
    for (let i = p.length - 2; i >= 0; i--) acc = this.fma(acc, z, this.c(p[i]));
    return acc;
  }
  /** x where x is NaN, else y. */
  nanPassThrough(x: LValue, y: LValue): LValue {
    return this.select(this.fcmp('uno', x, x), x, y);
  }
  /** 2^n for an integer vector n in [-126, 127], built in the exponent field. */
  pow2(n: LValue): LValue {
    const biased = this.out.emit(this.it, `add ${this.it} ${n.ref}, ${this.ci(127).ref}`);
    const bits = this.out.emit(this.it, `shl ${this.it} ${biased.ref}, ${this.ci(23).ref}`);
    return this.out.emit(this.ft, `bitcast ${this.it} ${bits.ref} to ${this.ft}`);
  }

  exp(x: LValue): LValue {
    // Beyond [-104, 89] the result is 0 or +inf; inside, n = round(x / ln 2) lies in
    // [-150, 128], and 2^n is applied as two factors 2^(n>>1) * 2^(n - n>>1), each a
    // normal float, so the first product is exact and only the last one rounds (into the
    // subnormals, or to +inf when e^x exceeds FLT_MAX).
    const xc = this.clamp(x, -104, 89);
    const { er, n } = this.expReduced(xc);
    const n1 = this.out.emit(this.it, `ashr ${this.it} ${n.ref}, ${this.ci(1).ref}`);
    const n2 = this.out.emit(this.it, `sub ${this.it} ${n.ref}, ${n1.ref}`);
    const y = this.mul(this.mul(er, this.pow2(n1)), this.pow2(n2));
    return this.nanPassThrough(x, y);
  }

  /** e^x for x known to lie in [-87, 88] (a normal result): no clamp, one scaling. */
  expNormal(x: LValue): LValue {
    const { er, n } = this.expReduced(x);
    return this.mul(er, this.pow2(n));
  }

  /** n = round(x / ln 2) and e^r for r = x - n ln 2 (|x| < 2^22 ln 2). */
  private expReduced(xc: LValue): { er: LValue; n: LValue } {
    const t = this.fma(xc, this.c(Math.LOG2E), this.c(ROUND_MAGIC));
    const nf = this.sub(t, this.c(ROUND_MAGIC));
    const tBits = this.out.emit(this.it, `bitcast ${this.ft} ${t.ref} to ${this.it}`);
    const n = this.out.emit(this.it, `sub ${this.it} ${tBits.ref}, ${this.ci(ROUND_MAGIC_BITS).ref}`);
    let r = this.fma(nf, this.c(-LN2_HI), xc);
    r = this.fma(nf, this.c(-LN2_LO), r);
    const r2 = this.mul(r, r);
    const p = this.poly(r, EXP_POLY);
    const er = this.add(this.fma(r2, p, r), this.c(1));
    return { er, n };
  }

  erf(x: LValue): LValue {
    const a = this.unary('fabs', x);
    // |x| < 1: x * P(x²).
    const z = this.mul(x, x);
    const small = this.mul(x, this.poly(z, ERF_SMALL_POLY));
    // 1 <= |x|: 1 - exp(-t² + R(t - 2.5)) with t = min(|x|, 4), sign of x.
    const t = this.clamp(a, 1, 4);
    const q = this.fma(this.neg(t), t, this.poly(this.sub(t, this.c(2.5)), ERF_LARGE_POLY));
    // q = log(erfc(t)) lies in [-18, -1.8]: e^q is a normal float.
    const large = this.copysign(this.sub(this.c(1), this.expNormal(q)), x);
    const y = this.select(this.fcmp('olt', a, this.c(1)), small, large);
    return this.nanPassThrough(x, y);
  }

  tanh(x: LValue): LValue {
    const a = this.unary('fabs', x);
    // |x| < 1: x + x³ P(x²).
    const z = this.mul(x, x);
    // (copysign keeps tanh(-0) = -0, which x + (-0 * P) would round to +0)
    const small = this.copysign(this.fma(this.mul(x, z), this.poly(z, TANH_POLY), x), x);
    // 1 <= |x|: 1 - 2 / (e^2|x| + 1), sign of x (e^2|x| = +inf gives exactly 1).
    const e = this.exp(this.add(a, a));
    const large = this.copysign(this.sub(this.c(1), this.div(this.c(2), this.add(e, this.c(1)))), x);
    const y = this.select(this.fcmp('olt', a, this.c(1)), small, large);
    return this.nanPassThrough(x, y);
  }

  sigmoid(x: LValue): LValue {
    // With e = e^-|x| (never overflows): 1 / (1 + e) for x >= 0, e / (1 + e) below, so
    // results down in the subnormals stay accurate; NaN stays NaN through e.
    const e = this.exp(this.neg(this.unary('fabs', x)));
    const d = this.add(this.c(1), e);
    const num = this.select(this.fcmp('oge', x, this.c(0)), this.c(1), e);
    return this.div(num, d);
  }
}

/**
 * Emit `fn(x)` for a float32 scalar or vector `x` (`float` or `<N x float>`) with `lanes`
 * lanes (1 for a scalar).
 */
export function emitFloat32Math(
  out: InstructionSink,
  fn: VectorMathFunction,
  x: LValue,
  lanes: number,
): LValue {
  const m = new F32Emitter(out, lanes);
  switch (fn) {
    case 'exp':
      return m.exp(x);
    case 'erf':
      return m.erf(x);
    case 'tanh':
      return m.tanh(x);
    case 'sigmoid':
      return m.sigmoid(x);
  }
}
