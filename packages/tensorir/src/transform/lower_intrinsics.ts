// tir.LowerIntrinsics
// Does:        (1) canonicalises intrinsic names (`exp` → `tir.exp`, aliases resolved) so
//              codegen matches one spelling; (2) rewrites the intrinsics code generators
//              do not implement into ones they do: tir.rsqrt → 1/sqrt, tir.sigmoid →
//              1/(1+exp(-x)), tir.exp10 → exp(x·ln 10), tir.log10 → log(x)·(1/ln 10),
//              tir.hypot → sqrt(x·x + y·y); (3) drops `Evaluate(tir.assume(..))` (an
//              analyzer hint with no run-time meaning). FloorDiv / FloorMod / Min / Max
//              are expression nodes, not calls: they stay for codegen.
// Requires:    nothing.
// Establishes: every `tir.*` Call op is in CODEGEN_INTRINSICS; other namespaced ops
//              (`cuda.*`, `llvm.*`: target-specific) are passed through untouched.
import type { Call, Node, PrimExpr } from '@kiln/ir-core';
import { add, call, div, ErrorCodes, isFloat, KilnError, mul, rewriteNode, sub } from '@kiln/ir-core';
import { builtinIntrinsics, canonicalIntrinsicName } from '../intrinsics.js';
import type { PrimFunc, Stmt } from '../stmt.js';
import { mapStmtChildren, noOp, withBody } from './util.js';

type Lowering = (x: readonly PrimExpr[], c: Call) => PrimExpr;

function f(c: Call, op: string, args: readonly PrimExpr[]): PrimExpr {
  return call(c.dtype, op, args);
}

/** Lowerings of the intrinsics codegen does not see, in terms of nodes and CODEGEN_INTRINSICS. */
export const INTRINSIC_LOWERINGS: Readonly<Record<string, Lowering>> = Object.freeze({
  'tir.rsqrt': ([x], c) => div(1, f(c, 'tir.sqrt', [x])),
  // exp(-x) overflows to +inf for very negative x, giving 1/inf = 0: still correct.
  'tir.sigmoid': ([x], c) => div(1, add(1, f(c, 'tir.exp', [sub(0, x)]))),
  'tir.exp10': ([x], c) => f(c, 'tir.exp', [mul(x, Math.LN10)]),
  'tir.log10': ([x], c) => mul(f(c, 'tir.log', [x]), 1 / Math.LN10),
  'tir.hypot': ([x, y], c) => f(c, 'tir.sqrt', [add(mul(x, x), mul(y, y))]),
});

/**
 * The intrinsics every code generator must implement, by canonical name: the builtin
 * intrinsic table minus the ones lowered above (and tir.assume, which is dropped).
 * Elementwise ones apply lane-wise to vector operands.
 */
export const CODEGEN_INTRINSICS: ReadonlySet<string> = new Set(
  [...builtinIntrinsics.keys()].filter((n) => !(n in INTRINSIC_LOWERINGS) && n !== 'tir.assume'),
);

/** Intrinsics without side effects or laziness: safe to apply lane-wise (vectorize). */
export const ELEMENTWISE_INTRINSICS: ReadonlySet<string> = new Set(
  [...CODEGEN_INTRINSICS].filter(
    (n) => builtinIntrinsics.get(n)?.evalKind === 'pure' && n !== 'tir.reinterpret',
  ),
);

/** A non-`tir` namespaced op (`cuda.shfl`, `llvm.x86.…`) is target-specific and passes through. */
export function isTargetIntrinsic(op: string): boolean {
  return op.includes('.') && !op.startsWith('tir.');
}

function lowerCall(n: Node): Node | undefined {
  if (n.kind !== 'Call') return undefined;
  const c = n as Call;
  if (isTargetIntrinsic(c.op)) return undefined;
  const name = canonicalIntrinsicName(c.op);
  const low = INTRINSIC_LOWERINGS[name];
  if (low !== undefined) {
    const arity = builtinIntrinsics.get(name)?.arity;
    if (typeof arity === 'number' && c.args.length !== arity) {
      throw new KilnError(
        ErrorCodes.WELL_FORMED,
        `intrinsic '${name}' takes ${arity} argument(s), got ${c.args.length}`,
      );
    }
    if (!isFloat(c.dtype))
      throw new KilnError(
        ErrorCodes.DTYPE_MISMATCH,
        `intrinsic '${name}' needs float operands, got ${c.dtype.str}`,
      );
    return low(c.args, c);
  }
  if (!CODEGEN_INTRINSICS.has(name)) {
    throw new KilnError(
      ErrorCodes.UNSUPPORTED,
      `intrinsic '${c.op}' is neither lowered by tir.LowerIntrinsics nor implemented by code generators`,
      {
        details: { intrinsic: c.op },
      },
    );
  }
  return name === c.op ? undefined : call(c.dtype, name, c.args, c.span);
}

function dropAssume(s: Stmt): Stmt {
  if (s.kind === 'Evaluate' && s.value.kind === 'Call' && canonicalIntrinsicName(s.value.op) === 'tir.assume')
    return noOp();
  return mapStmtChildren(s, dropAssume);
}

export function lowerIntrinsics(fn: PrimFunc): PrimFunc {
  return withBody(fn, rewriteNode(dropAssume(fn.body), [lowerCall]));
}
