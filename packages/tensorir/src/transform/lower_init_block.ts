// tir.LowerInitBlock
// Does:        moves each reduction block's `init` into its body, guarded by
//              `if (every reduce iter var == its domain min) init`, so that the first
//              reduction iteration initialises the output and later ones accumulate.
// Requires:    block-structured TIR (any).
// Establishes: no Block has an `init`.
import type { PrimExpr } from '@kiln/ir-core';
import { and, eq } from '@kiln/ir-core';
import type { Block, PrimFunc, Stmt } from '../stmt.js';
import { block, ifThenElse, seqStmt } from '../stmt.js';
import { mapStmtChildren, withBody } from './util.js';

/** The guard under which a block's init runs: all reduce iter vars at their minimum. */
export function initCondition(b: Block): PrimExpr | undefined {
  let cond: PrimExpr | undefined;
  for (const iv of b.iterVars) {
    if (iv.iterType !== 'reduce') continue;
    const c = eq(iv.var, iv.dom.min);
    cond = cond === undefined ? c : and(cond, c);
  }
  return cond;
}

/** Fold `b.init` into `b.body`; `b` itself when it has no init. */
export function lowerBlockInit(b: Block): Block {
  if (b.init === undefined) return b;
  const cond = initCondition(b);
  // Without reduce iter vars every instance is "the first": init runs unconditionally.
  const guarded = cond === undefined ? b.init : ifThenElse(cond, b.init);
  return block(b.name, seqStmt([guarded, b.body]), {
    iterVars: b.iterVars,
    reads: b.reads,
    writes: b.writes,
    allocBuffers: b.allocBuffers,
    annotations: b.annotations,
    span: b.span,
  });
}

function visit(s: Stmt): Stmt {
  const t = mapStmtChildren(s, visit);
  return t.kind === 'Block' ? lowerBlockInit(t) : t;
}

export function lowerInitBlock(fn: PrimFunc): PrimFunc {
  return withBody(fn, visit(fn.body));
}
