// tir.ConvertBlocksToLoops
// Does:        removes Block / BlockRealize. Each block's iteration variables are
//              replaced by the values its BlockRealize binds them to; a non-trivial
//              predicate becomes an IfThenElse around the block body; the block's
//              alloc_buffers become Allocate statements (keeping their scope) around it.
//              A leftover `init` is lowered as tir.LowerInitBlock does. Reads/writes
//              regions and block annotations are dropped (they served scheduling only).
// Requires:    nothing (runs LowerInitBlock's rewrite on blocks that still have init).
// Establishes: no Block, BlockRealize or IterVar remains; every Var is bound at most
//              once (a loop var / let var / allocation bound twice, e.g. by a schedule
//              that copied a statement, is renamed in its second binding).
import type { Node, PrimExpr, Var } from '@kiln/ir-core';
import { boolImm, ErrorCodes, KilnError, substitute } from '@kiln/ir-core';
import type { BlockRealize, PrimFunc, Stmt } from '../stmt.js';
import { allocate, blockRealize, ifThenElse } from '../stmt.js';
import { lowerBlockInit } from './lower_init_block.js';
import { mapStmtChildren, uniquifyBinders, withBody } from './util.js';

function isTrue(e: PrimExpr): boolean {
  return e.kind === 'IntImm' && e.value !== 0;
}

function convertRealize(r: BlockRealize): Stmt {
  const blk = lowerBlockInit(r.block);
  const map = new Map<Var, PrimExpr>();
  blk.iterVars.forEach((iv, i) => {
    map.set(iv.var, r.iterValues[i]);
  });
  let body = convert(substitute(blk.body, map as ReadonlyMap<Node, Node>));
  for (let i = blk.allocBuffers.length - 1; i >= 0; i--) body = allocate(blk.allocBuffers[i], body, blk.span);
  if (!isTrue(r.predicate)) {
    body = ifThenElse(r.predicate, body, undefined, r.span);
  }
  return body;
}

function convert(s: Stmt): Stmt {
  switch (s.kind) {
    case 'BlockRealize':
      return convertRealize(s);
    case 'Block':
      // A bare Block (no realize) is only legal as a root with no iteration variables.
      if (s.iterVars.length > 0) {
        throw new KilnError(
          ErrorCodes.WELL_FORMED,
          `block '${s.name}' has iteration variables but no BlockRealize binding them`,
        );
      }
      return convertRealize(blockRealize([], boolImm(true), s));
    default:
      return mapStmtChildren(s, convert);
  }
}

export function convertBlocksToLoops(fn: PrimFunc): PrimFunc {
  const seen = new Set<Node>(fn.params.map((p) => (p.kind === 'Buffer' ? p.data : p)));
  return withBody(fn, uniquifyBinders(convert(fn.body), seen));
}
