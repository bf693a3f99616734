// The default CPU schedule applied to every kernel that has no tuned schedule: for each
// top-level block, the leading loops bound only to spatial iteration variables are fused
// until they offer enough parallel work and the fused loop is made parallel. Inner loops
// are left to LLVM's loop vectorizer. Built from the schedule primitives, so their
// legality checks apply; a block the primitives refuse is left as it is.
import type { PrimExpr, Var } from '@kiln/ir-core';
import { isKilnError, postOrderVisit } from '@kiln/ir-core';
import type { PrimFunc, Stmt } from '@kiln/tensorir';
import { createSchedule } from '../schedule.js';
import type { LoopRV } from '../trace.js';

/** Iterations (of the whole loop nest) below which a block stays single-threaded. */
export const MIN_PARALLEL_WORK = 1 << 14;

export interface CPUScheduleTarget {
  readonly numThreads?: number;
}

function usesVar(e: PrimExpr, v: Var): boolean {
  let found = false;
  postOrderVisit(e, (n) => {
    if (n === v) found = true;
  });
  return found;
}

/** Names of the blocks directly under the root block (or under no block at all). */
function topLevelBlocks(s: Stmt, depth = 0, out: string[] = []): string[] {
  switch (s.kind) {
    case 'BlockRealize': {
      const isRoot = s.block.iterVars.length === 0 && depth === 0 && s.block.name === 'root';
      if (!isRoot) {
        out.push(s.block.name);
        return out;
      }
      return topLevelBlocks(s.block.body, depth + 1, out);
    }
    case 'For':
    case 'LetStmt':
    case 'Allocate':
    case 'DeclBuffer':
    case 'AttrStmt':
      return topLevelBlocks(s.body, depth, out);
    case 'SeqStmt':
      for (const x of s.seq) topLevelBlocks(x, depth, out);
      return out;
    case 'IfThenElse':
      topLevelBlocks(s.then, depth, out);
      if (s.else) topLevelBlocks(s.else, depth, out);
      return out;
    default:
      return out;
  }
}

/** Parallelize the outer spatial loops of every top-level block of `fn`. */
export function defaultCPUSchedule(fn: PrimFunc, target: CPUScheduleTarget = {}): PrimFunc {
  const threads = Math.max(1, target.numThreads ?? 1);
  if (threads === 1) return fn;
  const sch = createSchedule(fn);
  for (const name of topLevelBlocks(sch.func.body)) {
    try {
      const blockRV = sch.getBlock(name);
      const realize = sch.getRealize(blockRV);
      const blk = realize.block;
      const loops = sch.getLoops(blockRV);
      // Waking the pool costs microseconds: small blocks run faster on one thread.
      const total = loops.reduce((acc, l) => {
        const e = sch.get(l).extent;
        return acc * (e.kind === 'IntImm' ? e.value : Number.POSITIVE_INFINITY);
      }, 1);
      if (total < MIN_PARALLEL_WORK) continue;
      const chosen: LoopRV[] = [];
      let work = 1;
      for (const l of loops) {
        const loop = sch.get(l);
        if (loop.extent.kind !== 'IntImm' || loop.min.kind !== 'IntImm' || loop.min.value !== 0) break;
        const v = loop.loopVar;
        const spatialOnly = realize.iterValues.every((val, i) => !usesVar(val, v) || blk.iterVars[i].iterType === 'spatial');
        if (!spatialOnly) break;
        chosen.push(l);
        work *= loop.extent.value;
        if (work >= threads * 4) break;
      }
      if (chosen.length === 0 || work < 2) continue;
      const fused = chosen.length > 1 ? sch.fuse(...chosen) : chosen[0];
      sch.parallel(fused);
    } catch (e) {
      if (!isKilnError(e)) throw e;
    }
  }
  return sch.func;
}
