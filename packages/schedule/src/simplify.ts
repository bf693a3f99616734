// Tidying block bindings and predicates with ir-core's Analyzer after a loop transform:
// loop ranges are known, so split/fuse index arithmetic (x·4 + y) // 4 folds back and
// predicates that always hold disappear.
import { Analyzer, boolImm, freezeNode, isConstInt, range } from '@kiln/ir-core';
import type { PrimFunc, Stmt } from '@kiln/tensorir';
import { transformStmt, withBody } from './tree.js';

export function tidyBindings(fn: PrimFunc): PrimFunc {
  const an = new Analyzer();
  const visit = (s: Stmt): Stmt | null | undefined => {
    if (s.kind === 'For') {
      return an.withBinding(s.loopVar, range(s.min, s.extent), () => {
        const b = transformStmt(s.body, visit)!;
        return b === s.body ? s : freezeNode({ ...s, body: b });
      });
    }
    if (s.kind === 'BlockRealize') {
      const vals = s.iterValues.map((v) => (v.dtype.code === 'int' ? an.simplify(v) : v));
      const p = an.simplify(s.predicate);
      const pred =
        isConstInt(p, 1) && !isConstInt(s.predicate, 1)
          ? boolImm(true)
          : p.kind === 'IntImm'
            ? s.predicate
            : p;
      // Nested blocks (blockize) see the outer block's iteration variables over their domains.
      const blk = an.withBindings(
        s.block.iterVars.map((iv) => [iv.var, iv.dom] as const),
        () => transformStmt(s.block, (x) => (x === s.block ? undefined : visit(x))) as typeof s.block,
      );
      const same = vals.every((v, i) => v === s.iterValues[i]) && pred === s.predicate && blk === s.block;
      return same ? s : freezeNode({ ...s, iterValues: Object.freeze(vals), predicate: pred, block: blk });
    }
    return undefined;
  };
  return withBody(fn, transformStmt(fn.body, visit)!);
}
