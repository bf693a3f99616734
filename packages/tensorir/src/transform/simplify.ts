// tir.Simplify
// Does:        simplifies every expression of the function (indices, values, conditions,
//              loop bounds) with an arithmetic analyzer that knows the range of each
//              enclosing loop variable; an `if` whose condition the analyzer proves true or
//              false keeps only the taken branch; a loop of extent 1 (other than a thread
//              binding) becomes its body with the loop var replaced by the loop's min.
//              The analyzer is pluggable: ir-core's arith Analyzer by default, or the
//              local constant folder here (integer/boolean folding and identities).
// Requires:    no Block / BlockRealize (blocks are walked but their iter vars are not bound).
// Establishes: nothing new structurally; expressions are in the analyzer's canonical form.
import type { Node, PrimExpr, Range, Var } from '@kiln/ir-core';
import { Analyzer, boolImm, intImm, isIntegral, mapChildren, not, range, substitute } from '@kiln/ir-core';
import type { For, PrimFunc, Stmt } from '../stmt.js';
import { ifThenElse } from '../stmt.js';
import {
  mapStmtChildren,
  mapStmtExprs,
  noOp,
  rebuildBuffer,
  replaceBuffersAndVars,
  withBody,
} from './util.js';
import { lanesIndependent } from './vectorize_loop.js';

/** What tir.Simplify needs from an arithmetic analyzer (ir-core's Analyzer fits). */
export interface ArithAnalyzer {
  /** Run `fn` knowing that `v` ranges over `r`. */
  withBinding<T>(v: Var, r: Range, fn: () => T): T;
  /** Run `fn` knowing that `cond` holds. */
  withConstraint<T>(cond: PrimExpr, fn: () => T): T;
  simplify(e: PrimExpr): PrimExpr;
  canProve(cond: PrimExpr): boolean;
}

export interface SimplifyOptions {
  /** Build the analyzer (one per function run). Default: ir-core's arith Analyzer. */
  analyzer?: () => ArithAnalyzer;
}

// ------------------------------------------------------------ fallback constant folder

function fdiv(a: number, b: number): number {
  return Math.floor(a / b);
}
function tdiv(a: number, b: number): number {
  return Math.trunc(a / b);
}

function foldNode(e: PrimExpr): PrimExpr {
  switch (e.kind) {
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
    case 'Or': {
      const { a, b } = e;
      if (a.kind === 'IntImm' && b.kind === 'IntImm' && a.dtype.lanes === 1) {
        const x = a.value;
        const y = b.value;
        const int = (v: number): PrimExpr => (Number.isSafeInteger(v) ? intImm(v, e.dtype) : e);
        switch (e.kind) {
          case 'Add':
            return int(x + y);
          case 'Sub':
            return int(x - y);
          case 'Mul':
            return int(x * y);
          case 'Div':
            return y === 0 ? e : int(tdiv(x, y));
          case 'Mod':
            return y === 0 ? e : int(x - tdiv(x, y) * y);
          case 'FloorDiv':
            return y === 0 ? e : int(fdiv(x, y));
          case 'FloorMod':
            return y === 0 ? e : int(x - fdiv(x, y) * y);
          case 'Min':
            return int(Math.min(x, y));
          case 'Max':
            return int(Math.max(x, y));
          case 'EQ':
            return boolImm(x === y);
          case 'NE':
            return boolImm(x !== y);
          case 'LT':
            return boolImm(x < y);
          case 'LE':
            return boolImm(x <= y);
          case 'GT':
            return boolImm(x > y);
          case 'GE':
            return boolImm(x >= y);
          case 'And':
            return boolImm(x !== 0 && y !== 0);
          case 'Or':
            return boolImm(x !== 0 || y !== 0);
        }
      }
      if (!isIntegral(e.dtype)) return e;
      const isC = (x: PrimExpr, v: number): boolean => x.kind === 'IntImm' && x.value === v;
      if (e.kind === 'Add' && isC(b, 0)) return a;
      if (e.kind === 'Add' && isC(a, 0)) return b;
      if (e.kind === 'Sub' && isC(b, 0)) return a;
      if (e.kind === 'Mul' && isC(b, 1)) return a;
      if (e.kind === 'Mul' && isC(a, 1)) return b;
      if (e.kind === 'Mul' && (isC(a, 0) || isC(b, 0))) return intImm(0, e.dtype);
      if ((e.kind === 'FloorDiv' || e.kind === 'Div') && isC(b, 1)) return a;
      if ((e.kind === 'FloorMod' || e.kind === 'Mod') && isC(b, 1)) return intImm(0, e.dtype);
      if (e.kind === 'And' && isC(a, 1)) return b;
      if (e.kind === 'And' && isC(b, 1)) return a;
      if (e.kind === 'And' && (isC(a, 0) || isC(b, 0))) return boolImm(false);
      if (e.kind === 'Or' && (isC(a, 1) || isC(b, 1))) return boolImm(true);
      if (e.kind === 'Or' && isC(a, 0)) return b;
      if (e.kind === 'Or' && isC(b, 0)) return a;
      return e;
    }
    case 'Not':
      return e.a.kind === 'IntImm' ? boolImm(e.a.value === 0) : e;
    case 'Select':
      return e.cond.kind === 'IntImm' ? (e.cond.value !== 0 ? e.t : e.f) : e;
    case 'Cast':
      if (
        e.value.kind === 'IntImm' &&
        isIntegral(e.dtype) &&
        e.dtype.lanes === 1 &&
        e.dtype.code !== 'bool' &&
        e.dtype.bits >= 32
      ) {
        return intImm(e.value.value, e.dtype);
      }
      return e;
    default:
      return e;
  }
}

/** Bottom-up constant folding, identity-preserving. */
export function constantFold(e: PrimExpr): PrimExpr {
  const memo = new Map<Node, Node>();
  const rec = (n: Node): Node => {
    const hit = memo.get(n);
    if (hit) return hit;
    const kids = mapChildren(n, (c, f) =>
      f.type === 'binder' || f.type === 'binder[]' || c.kind === 'Buffer' ? c : rec(c),
    );
    const out = kids.kind === 'Buffer' || kids.kind === 'Range' ? kids : foldNode(kids as PrimExpr);
    memo.set(n, out);
    return out;
  };
  return rec(e) as PrimExpr;
}

/** The constant folder as an analyzer: proves only conditions that fold to true. */
export function createConstantFoldAnalyzer(): ArithAnalyzer {
  return {
    withBinding: (_v, _r, fn) => fn(),
    withConstraint: (_c, fn) => fn(),
    simplify: constantFold,
    canProve: (c) => {
      const f = constantFold(c);
      return f.kind === 'IntImm' && f.value !== 0;
    },
  };
}

// ------------------------------------------------------------ the pass

class StmtSimplifier {
  constructor(private readonly az: ArithAnalyzer) {}

  private expr = (e: PrimExpr): PrimExpr => {
    const s = this.az.simplify(e);
    // Keep the original object when the analyzer only rebuilt an equal tree.
    return s === e ? e : s;
  };

  stmt(s: Stmt): Stmt {
    switch (s.kind) {
      case 'For': {
        const min = this.expr(s.min);
        const extent = this.expr(s.extent);
        if (extent.kind === 'IntImm' && extent.value === 1 && s.forKind !== 'thread_binding') {
          return this.stmt(substitute(s.body, new Map<Node, Node>([[s.loopVar, min]])));
        }
        if (extent.kind === 'IntImm' && extent.value <= 0) return noOp();
        const body = this.az.withBinding(s.loopVar, range(min, extent), () => this.stmt(s.body));
        if (min === s.min && extent === s.extent && body === s.body) return s;
        const out: For = Object.freeze({ ...s, min, extent, body });
        // Facts from enclosing ifs may fold the loop var out of an index (`v` → 0 where only
        // v = 0 runs). Still correct, but no longer visibly independent: a `vectorized`
        // loop that was provably independent and no longer is becomes serial.
        if (s.forKind === 'vectorized' && !lanesIndependent(out) && lanesIndependent(s)) {
          return Object.freeze({ ...out, forKind: 'serial' as const });
        }
        return out;
      }
      case 'IfThenElse': {
        const cond = this.expr(s.cond);
        const taken =
          cond.kind === 'IntImm'
            ? cond.value !== 0
            : this.az.canProve(cond)
              ? true
              : this.az.canProve(not(cond))
                ? false
                : undefined;
        if (taken === true) return this.stmt(s.then);
        if (taken === false) return s.else ? this.stmt(s.else) : noOp();
        const then = this.az.withConstraint(cond, () => this.stmt(s.then));
        const other = s.else;
        const els = other ? this.az.withConstraint(not(cond), () => this.stmt(other)) : undefined;
        if (cond === s.cond && then === s.then && els === s.else) return s;
        return ifThenElse(cond, then, els, s.span);
      }
      case 'Allocate':
      case 'DeclBuffer': {
        // Declared sizes feed codegen (stack/shared arrays): fold them to constants when possible.
        const b = s.buffer;
        const shape = b.shape.map(this.expr);
        let body = s.body;
        let buf = b;
        if (shape.some((x, i) => x !== b.shape[i])) {
          buf = rebuildBuffer(b, { shape });
          body = replaceBuffersAndVars(body, new Map([[b, buf]]), new Map());
        }
        const nb = this.stmt(body);
        if (buf === b && nb === s.body) return s;
        return Object.freeze({ ...s, buffer: buf, body: nb });
      }
      default: {
        const t = mapStmtExprs(s, this.expr);
        return mapStmtChildren(t, (c) => this.stmt(c));
      }
    }
  }
}

export function simplifyPrimFunc(fn: PrimFunc, options: SimplifyOptions = {}): PrimFunc {
  const make = options.analyzer ?? ((): ArithAnalyzer => new Analyzer());
  return withBody(fn, new StmtSimplifier(make()).stmt(fn.body));
}
