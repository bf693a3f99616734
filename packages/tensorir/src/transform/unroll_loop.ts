// tir.UnrollLoop
// Does:        fully unrolls every `unrolled` loop of constant extent, and (when
//              `maxExtent` > 0) every `serial` loop of constant extent <= maxExtent: the
//              body is repeated once per iteration with the loop var replaced by its
//              value; variables bound inside each copy are renamed, so no Var is bound
//              twice. Inner loops are unrolled before outer ones.
//              An `unrolled` loop of non-constant extent is left as is (a hint to codegen).
// Requires:    no Block / BlockRealize.
// Establishes: no `unrolled` loop of constant extent remains.
import type { Node } from '@kiln/ir-core';
import { ErrorCodes, intImm, KilnError, substitute } from '@kiln/ir-core';
import type { For, PrimFunc, Stmt } from '../stmt.js';
import { seqStmt } from '../stmt.js';
import { constantFold } from './simplify.js';
import { addFold, freshenBinders, mapStmtChildren, mapStmtExprs, noOp, withBody } from './util.js';

export interface UnrollOptions {
  /** Also unroll serial loops of constant extent up to this (0: only `unrolled` loops). */
  maxExtent?: number;
}

function unroll(f: For, n: number): Stmt {
  if (n <= 0) return noOp();
  const copies: Stmt[] = [];
  for (let i = 0; i < n; i++) {
    const value = addFold(f.min, intImm(i, f.loopVar.dtype));
    // Fold the now-constant index arithmetic of each copy (`0 * 4 + 1` → `1`).
    const body = foldStmt(substitute(f.body, new Map<Node, Node>([[f.loopVar, value]])));
    // The first copy may keep the original binders; later ones get fresh ones.
    copies.push(i === 0 ? body : freshenBinders(body));
  }
  return seqStmt(copies, f.span);
}

function foldStmt(s: Stmt): Stmt {
  return mapStmtChildren(mapStmtExprs(s, constantFold), foldStmt);
}

function visit(s: Stmt, maxExtent: number): Stmt {
  const t = mapStmtChildren(s, (c) => visit(c, maxExtent));
  if (t.kind !== 'For' || t.extent.kind !== 'IntImm') return t;
  if (t.forKind === 'unrolled' || (t.forKind === 'serial' && t.extent.value <= maxExtent))
    return unroll(t, t.extent.value);
  return t;
}

export function unrollLoop(fn: PrimFunc, options: UnrollOptions = {}): PrimFunc {
  const maxExtent = options.maxExtent ?? 0;
  if (!Number.isInteger(maxExtent) || maxExtent < 0) {
    throw new KilnError(
      ErrorCodes.INVALID_ARGUMENT,
      `tir.UnrollLoop: maxExtent must be a non-negative integer, got ${maxExtent}`,
    );
  }
  return withBody(fn, visit(fn.body, maxExtent));
}
