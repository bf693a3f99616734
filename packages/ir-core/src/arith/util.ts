// Shared numeric helpers of the arithmetic module: exact integer division flavours,
// dtype-faithful casts/rounding, the scalar semantics of every binary operator (used by
// both the evaluator and constant folding so the two can never disagree), and a total
// order on expressions that makes canonical forms deterministic.
import type { DataType } from '../dtype.js';
import { isFloat } from '../dtype.js';
import { ErrorCodes, KilnError } from '../errors.js';
import type { BinaryKind, IntImm, PrimExpr } from '../expr.js';
import type { Node } from '../node.js';
import { nodeKindInfo } from '../node.js';

/** Is `e` an integer or float immediate? */
export function isConst(e: PrimExpr): boolean {
  return e.kind === 'IntImm' || e.kind === 'FloatImm';
}

/** The value of an integer immediate (bool included), else undefined. */
export function asConstInt(e: PrimExpr): number | undefined {
  return e.kind === 'IntImm' ? e.value : undefined;
}

export function isIntImm(e: PrimExpr, value?: number): e is IntImm {
  return e.kind === 'IntImm' && (value === undefined || e.value === value);
}

/** Integer-like scalar (int/uint, not bool): the dtypes the linear normal form handles. */
export function isIndexType(t: DataType): boolean {
  return (t.code === 'int' || t.code === 'uint') && t.lanes === 1;
}

// ---------------------------------------------------------------- integer division

// `a % b` in JS is exact (fmod), so deriving quotients from it stays exact for safe ints,
// where `Math.floor(a / b)` could be off by one after rounding of the quotient.
export function truncMod(a: number, b: number): number {
  return (a % b) + 0;
}
export function truncDiv(a: number, b: number): number {
  return (a - (a % b)) / b + 0;
}
export function floorMod(a: number, b: number): number {
  const r = a % b;
  return (r !== 0 && r < 0 !== b < 0 ? r + b : r) + 0;
}
export function floorDiv(a: number, b: number): number {
  return (a - floorMod(a, b)) / b + 0;
}
export function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

// ---------------------------------------------------------------- dtype rounding

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const f16round = (Math as unknown as { f16round?: (x: number) => number }).f16round;

/** Round a JS number to the precision of float dtype `t`. */
export function roundFloat(t: DataType, v: number): number {
  if (t.code === 'bfloat') {
    if (Number.isNaN(v)) return NaN;
    f32[0] = v;
    const bits = u32[0];
    // round to nearest even on the 16 dropped mantissa bits
    u32[0] = ((bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000) >>> 0;
    return f32[0];
  }
  if (t.bits === 32) return Math.fround(v);
  if (t.bits === 16 && f16round) return f16round(v);
  return v;
}

/** The value of `v` converted to dtype `t` (int casts truncate toward zero; bool is v != 0). */
export function castValue(t: DataType, v: number): number {
  if (t.code === 'bool') return v !== 0 ? 1 : 0;
  if (t.code === 'int' || t.code === 'uint') return Math.trunc(v) + 0;
  if (isFloat(t)) return roundFloat(t, v);
  throw new KilnError(ErrorCodes.UNSUPPORTED, `cannot cast a number to dtype ${t.str}`);
}

/**
 * The scalar semantics of a binary operator on operands of dtype `operand` (comparisons
 * and logic give 0/1). Integer division by zero raises DIVIDE_BY_ZERO; floats follow IEEE.
 */
export function applyBinary(kind: BinaryKind, operand: DataType, a: number, b: number): number {
  const fl = isFloat(operand);
  const r = (v: number): number => (fl ? roundFloat(operand, v) : v + 0);
  switch (kind) {
    case 'Add':
      return r(a + b);
    case 'Sub':
      return r(a - b);
    case 'Mul':
      return r(a * b);
    case 'Div':
      if (fl) return r(a / b);
      checkDivisor(b, kind);
      return truncDiv(a, b);
    case 'Mod':
      if (fl) return r(a % b);
      checkDivisor(b, kind);
      return truncMod(a, b);
    case 'FloorDiv':
      if (fl) return r(Math.floor(a / b));
      checkDivisor(b, kind);
      return floorDiv(a, b);
    case 'FloorMod':
      if (fl) return r(a - Math.floor(a / b) * b);
      checkDivisor(b, kind);
      return floorMod(a, b);
    case 'Min':
      return Math.min(a, b);
    case 'Max':
      return Math.max(a, b);
    case 'EQ':
      return a === b ? 1 : 0;
    case 'NE':
      return a !== b ? 1 : 0;
    case 'LT':
      return a < b ? 1 : 0;
    case 'LE':
      return a <= b ? 1 : 0;
    case 'GT':
      return a > b ? 1 : 0;
    case 'GE':
      return a >= b ? 1 : 0;
    case 'And':
      return a !== 0 && b !== 0 ? 1 : 0;
    case 'Or':
      return a !== 0 || b !== 0 ? 1 : 0;
  }
}

function checkDivisor(b: number, kind: string): void {
  if (b === 0) throw new KilnError(ErrorCodes.DIVIDE_BY_ZERO, `integer division by zero in '${kind}'`);
}

// ---------------------------------------------------------------- a total order on expressions

const ids = new WeakMap<object, number>();
let nextId = 1;
/** A stable per-object id, to break ties between distinct variables of the same name. */
function objectId(o: object): number {
  let id = ids.get(o);
  if (id === undefined) {
    id = nextId++;
    ids.set(o, id);
  }
  return id;
}

// Variables sort first (by name), so canonical sums read `i*4 + j + floordiv(k, 2)`.
const KIND_RANK: Record<string, number> = { Var: 0, Buffer: 0, IntImm: 9, FloatImm: 9 };

function compareValue(x: unknown, y: unknown): number {
  if (x === y) return 0;
  if (typeof x === 'number' && typeof y === 'number') {
    if (x < y) return -1;
    if (x > y) return 1;
    return Number.isNaN(x) === Number.isNaN(y) ? 0 : Number.isNaN(x) ? 1 : -1;
  }
  if (typeof x === 'string' && typeof y === 'string') return x < y ? -1 : 1;
  if (Array.isArray(x) && Array.isArray(y)) {
    if (x.length !== y.length) return x.length - y.length;
    for (let i = 0; i < x.length; i++) {
      const c = compareValue(x[i], y[i]);
      if (c !== 0) return c;
    }
    return 0;
  }
  if (
    typeof x === 'object' &&
    x !== null &&
    typeof y === 'object' &&
    y !== null &&
    'str' in x &&
    'str' in y
  ) {
    return compareValue((x as DataType).str, (y as DataType).str);
  }
  const sx = JSON.stringify(x) ?? '';
  const sy = JSON.stringify(y) ?? '';
  return sx < sy ? -1 : sx > sy ? 1 : 0;
}

/**
 * A deterministic total order on expressions: 0 exactly when the two are structurally
 * equal with free variables compared by identity. Canonical sums and products are sorted
 * by it, so algebraically equal inputs rebuild to identical trees.
 */
export function compareExpr(a: Node, b: Node): number {
  if (a === b) return 0;
  if (a.kind !== b.kind) {
    const ra = KIND_RANK[a.kind] ?? 5;
    const rb = KIND_RANK[b.kind] ?? 5;
    if (ra !== rb) return ra - rb;
    return a.kind < b.kind ? -1 : 1;
  }
  const info = nodeKindInfo(a.kind);
  if (info.isVar) {
    const na = (a as unknown as { name: string }).name;
    const nb = (b as unknown as { name: string }).name;
    if (na !== nb) return na < nb ? -1 : 1;
    return objectId(a) - objectId(b);
  }
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  for (const f of info.fields) {
    const x = ra[f.name];
    const y = rb[f.name];
    let c = 0;
    switch (f.type) {
      case 'ignore':
        break;
      case 'value':
        c = compareValue(x, y);
        break;
      case 'node':
      case 'binder':
        c = compareExpr(x as Node, y as Node);
        break;
      case 'node?':
        if (x === undefined || y === undefined) c = x === y ? 0 : x === undefined ? -1 : 1;
        else c = compareExpr(x as Node, y as Node);
        break;
      case 'node[]':
      case 'binder[]': {
        const xs = x as readonly Node[];
        const ys = y as readonly Node[];
        c = xs.length - ys.length;
        for (let i = 0; c === 0 && i < xs.length; i++) c = compareExpr(xs[i], ys[i]);
        break;
      }
    }
    if (c !== 0) return c;
  }
  return 0;
}
