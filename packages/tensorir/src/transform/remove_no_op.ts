// tir.RemoveNoOp
// Does:        deletes statements with no effect: Evaluate(<constant>), loops of constant
//              extent <= 0, loops / lets / allocations / attrs whose body does nothing,
//              `if` with a constant condition (keeps the taken branch) or two empty
//              branches, `while (false)`, stores of a location to itself, allocations and
//              buffer declarations the body never touches; drops no-ops from sequences. Conditions and loop bounds are pure, so dropping them is safe.
// Requires:    nothing (block-structured TIR is fine: blocks are left in place).
// Establishes: no no-op statement remains except a single Evaluate(0) for an empty body.
import type { PrimExpr } from '@kiln/ir-core';
import { not, structuralEqual } from '@kiln/ir-core';
import type { PrimFunc, Stmt } from '../stmt.js';
import { ifThenElse, seqStmt } from '../stmt.js';
import { isNoOp, mapStmtChildren, noOp, usesVar, withBody } from './util.js';

function constValue(e: PrimExpr): number | undefined {
  return e.kind === 'IntImm' || e.kind === 'FloatImm' ? e.value : undefined;
}

function remove(s: Stmt): Stmt {
  switch (s.kind) {
    case 'SeqStmt': {
      const kids = s.seq.map(remove);
      const kept = kids.filter((k) => !isNoOp(k));
      if (kept.length === 0) return noOp();
      if (kept.length === kids.length && kids.every((k, i) => k === s.seq[i])) return s;
      return seqStmt(kept, s.span);
    }
    case 'For': {
      const ext = constValue(s.extent);
      if (ext !== undefined && ext <= 0) return noOp();
      const t = mapStmtChildren(s, remove);
      return isNoOp(t.body) ? noOp() : t;
    }
    case 'IfThenElse': {
      const c = constValue(s.cond);
      if (c !== undefined) return c !== 0 ? remove(s.then) : s.else ? remove(s.else) : noOp();
      const then = remove(s.then);
      const els = s.else ? remove(s.else) : undefined;
      const elseEmpty = els === undefined || isNoOp(els);
      if (isNoOp(then) && elseEmpty) return noOp();
      if (isNoOp(then)) return ifThenElse(not(s.cond), els as Stmt, undefined, s.span);
      if (els !== undefined && elseEmpty) return ifThenElse(s.cond, then, undefined, s.span);
      if (then === s.then && els === s.else) return s;
      return ifThenElse(s.cond, then, els, s.span);
    }
    case 'While': {
      if (constValue(s.cond) === 0) return noOp();
      return mapStmtChildren(s, remove);
    }
    case 'Allocate':
    case 'DeclBuffer': {
      const t = mapStmtChildren(s, remove);
      if (isNoOp(t.body)) return noOp();
      // Storage (or a view) nothing in the body touches: only the body remains.
      if (!usesVar(t.body, t.buffer.data)) return t.body;
      return t;
    }
    case 'LetStmt':
    case 'AttrStmt': {
      const t = mapStmtChildren(s, remove);
      return isNoOp(t.body) ? noOp() : t;
    }
    case 'Evaluate':
      return isNoOp(s) ? (s.value.kind === 'IntImm' && s.value.value === 0 ? s : noOp()) : s;
    case 'BufferStore': {
      const v = s.value;
      if (
        v.kind === 'BufferLoad' &&
        v.buffer === s.buffer &&
        v.indices.length === s.indices.length &&
        v.indices.every((x, i) => structuralEqual(x, s.indices[i]))
      )
        return noOp();
      return s;
    }
    case 'Block':
    case 'BlockRealize':
      // Blocks carry scheduling structure; only their bodies are cleaned.
      return mapStmtChildren(s, remove);
  }
}

export function removeNoOp(fn: PrimFunc): PrimFunc {
  return withBody(fn, remove(fn.body));
}
