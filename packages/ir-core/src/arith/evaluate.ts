// The reference evaluator of scalar PrimExpr: the ground truth the simplifier, the bound
// analysis and other packages' tests are checked against. Integers are exact JS numbers
// (no wraparound), floats are rounded to their dtype after every operation.

import { elementOf } from '../dtype.js';
import { ErrorCodes, KilnError } from '../errors.js';
import type { PrimExpr, Var } from '../expr.js';
import { binary, call, cast, not, select, toExpr } from '../expr.js';
import { applyBinary, castValue } from './util.js';

export type EvalEnv = ReadonlyMap<Var, number>;

const UNARY_INTRINSICS: Record<string, (x: number) => number> = {
  exp: Math.exp,
  exp2: (x) => 2 ** x,
  log: Math.log,
  log2: Math.log2,
  log10: Math.log10,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: Math.abs,
  fabs: Math.abs,
  floor: Math.floor,
  ceil: Math.ceil,
  trunc: Math.trunc,
  round: (x) => {
    // round half to even, as the hardware instructions do
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  },
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  erf: erf,
};
const BINARY_INTRINSICS: Record<string, (x: number, y: number) => number> = {
  pow: Math.pow,
  atan2: Math.atan2,
  fmod: (x, y) => x % y,
};

/**
 * Evaluate a scalar expression under `env` (values of its free variables). Truncated
 * Div/Mod, floored FloorDiv/FloorMod, comparisons and logic give 0/1, And/Or short-circuit,
 * Select evaluates both arms (TIR semantics; use `if_then_else` for a guarded arm).
 * Integer division by zero raises DIVIDE_BY_ZERO; an unbound variable UNKNOWN_NAME.
 */
export function evaluate(expr: PrimExpr, env: EvalEnv = new Map()): number {
  const scope = new Map<Var, number>(env);
  const ev = (e: PrimExpr): number => {
    switch (e.kind) {
      case 'IntImm':
      case 'FloatImm':
        return e.value;
      case 'Var': {
        const v = scope.get(e);
        if (v === undefined)
          throw new KilnError(ErrorCodes.UNKNOWN_NAME, `no value for variable '${e.name}'`);
        return v;
      }
      case 'And':
        return ev(e.a) !== 0 && ev(e.b) !== 0 ? 1 : 0;
      case 'Or':
        return ev(e.a) !== 0 || ev(e.b) !== 0 ? 1 : 0;
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Mod':
      case 'FloorDiv':
      case 'FloorMod':
      case 'Min':
      case 'Max':
      case 'EQ':
      case 'NE':
      case 'LT':
      case 'LE':
      case 'GT':
      case 'GE':
        return applyBinary(e.kind, e.a.dtype, ev(e.a), ev(e.b));
      case 'Not':
        return ev(e.a) === 0 ? 1 : 0;
      case 'Select': {
        const c = ev(e.cond);
        const t = ev(e.t);
        const f = ev(e.f);
        return c !== 0 ? t : f;
      }
      case 'Cast':
        return castValue(e.dtype, ev(e.value));
      case 'Let': {
        const had = scope.has(e.var);
        const prev = scope.get(e.var);
        scope.set(e.var, ev(e.value));
        try {
          return ev(e.body);
        } finally {
          if (had) scope.set(e.var, prev as number);
          else scope.delete(e.var);
        }
      }
      case 'Call':
        // results are converted to the call's dtype (rounded for floats)
        return evalCall(e.op, e.args, ev, (v) => castValue(e.dtype, v));
      case 'StringImm':
      case 'Ramp':
      case 'Broadcast':
      case 'BufferLoad':
        throw new KilnError(ErrorCodes.UNSUPPORTED, `evaluate: cannot evaluate a '${e.kind}' as a scalar`);
    }
  };
  return ev(expr);
}

function evalCall(
  op: string,
  args: readonly PrimExpr[],
  ev: (e: PrimExpr) => number,
  round: (v: number) => number,
): number {
  const name = op.startsWith('tir.') ? op.slice(4) : op;
  if (name === 'if_then_else' && args.length === 3) return ev(args[0]) !== 0 ? ev(args[1]) : ev(args[2]);
  const u = UNARY_INTRINSICS[name];
  if (u && args.length === 1) return round(u(ev(args[0])));
  const b = BINARY_INTRINSICS[name];
  if (b && args.length === 2) return round(b(ev(args[0]), ev(args[1])));
  throw new KilnError(
    ErrorCodes.UNSUPPORTED,
    `evaluate: unknown intrinsic '${op}' with ${args.length} argument(s)`,
  );
}

// Abramowitz–Stegun 7.1.26 is too coarse for a reference; this series/continued-fraction
// pair is accurate to ~1e-15 over the whole line.
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let sum = x;
    let term = x;
    const x2 = x * x;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz) for large |x|
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + n / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x > 0 ? 1 - erfc : erfc - 1;
}

/**
 * Lane `lane` of a vector expression as a scalar expression: Ramp(b, s) gives b + s*lane,
 * Broadcast(v) gives v, everything else is rebuilt lane-wise.
 */
export function extractLane(e: PrimExpr, lane: number): PrimExpr {
  if (e.dtype.lanes === 1) return e;
  const x = (y: PrimExpr): PrimExpr => extractLane(y, lane);
  switch (e.kind) {
    case 'Ramp':
      return binary('Add', e.base, binary('Mul', e.stride, toExpr(lane, e.stride.dtype)));
    case 'Broadcast':
      return e.value;
    case 'Not':
      return not(x(e.a));
    case 'Select':
      return select(x(e.cond), x(e.t), x(e.f));
    case 'Cast':
      return cast(elementOf(e.dtype), x(e.value));
    case 'Call':
      return call(elementOf(e.dtype), e.op, e.args.map(x));
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'Mod':
    case 'FloorDiv':
    case 'FloorMod':
    case 'Min':
    case 'Max':
    case 'EQ':
    case 'NE':
    case 'LT':
    case 'LE':
    case 'GT':
    case 'GE':
    case 'And':
    case 'Or':
      return binary(e.kind, x(e.a), x(e.b));
    default:
      throw new KilnError(
        ErrorCodes.UNSUPPORTED,
        `extractLane: cannot split a vector '${e.kind}' into lanes`,
      );
  }
}

/** Evaluate every lane of a (vector or scalar) expression. */
export function evaluateLanes(e: PrimExpr, env: EvalEnv = new Map()): number[] {
  return Array.from({ length: e.dtype.lanes }, (_, k) => evaluate(extractLane(e, k), env));
}
