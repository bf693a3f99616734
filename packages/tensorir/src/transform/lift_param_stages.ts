// liftParamStages: split off the leading stages of a kernel that depend on one parameter
// only (TVM's SplitLayoutRewritePreproc). A schedule may start a kernel with a copy of an
// operand into a better layout — a matmul's weights packed into [N/P, K, P] panels, a
// padded copy of a filter — and when the caller always passes a constant there, that copy
// can run once at compile time instead of on every call.
//
// A top-level statement S of the root block is a *parameter stage* when
//   - every buffer S reads is one parameter P (and P is not written anywhere),
//   - every buffer S writes is one buffer X allocated by the root block, with a constant
//     shape, written nowhere else,
//   - P is used by nothing else in the kernel (no other statement, no alias of its data),
//   - no statement before S reads X.
// Lifting S makes X the kernel's parameter in P's place and returns S as a PrimFunc of its
// own, `(P, X)`, which computes the new argument from the old one. Values are unchanged.
import type { Buffer, Node } from '@kiln/ir-core';
import { freezeNode } from '@kiln/ir-core';
import type { Block, BlockRealize, PrimFunc, PrimFuncParam, Stmt } from '../stmt.js';
import { block, blockRealize, primFunc, seqStmt } from '../stmt.js';
import { buffersIn } from './util.js';

/** A stage lifted out of a kernel. */
export interface LiftedParamStage {
  /** The index of the parameter the stage reads (the kernel now takes `transform`'s output there). */
  readonly param: number;
  /** `(P, X)`: computes the kernel's new argument X from its old argument P. */
  readonly transform: PrimFunc;
}

export interface LiftParamStagesResult {
  /** The kernel without the lifted stages (the same object when nothing was lifted). */
  readonly fn: PrimFunc;
  readonly stages: readonly LiftedParamStage[];
}

/** Blocks (at any depth) of a statement. */
function blocksOf(s: Stmt): Block[] {
  const out: Block[] = [];
  const walk = (n: Node): void => {
    if (n.kind === 'BlockRealize') {
      const b = (n as BlockRealize).block;
      out.push(b);
      walk(b.body);
      if (b.init) walk(b.init);
      return;
    }
    if (n.kind === 'For' || n.kind === 'LetStmt' || n.kind === 'AttrStmt')
      walk((n as unknown as { body: Stmt }).body);
    else if (n.kind === 'SeqStmt') for (const c of (n as unknown as { seq: Stmt[] }).seq) walk(c);
    else if (n.kind === 'IfThenElse') {
      const i = n as unknown as { then: Stmt; else?: Stmt };
      walk(i.then);
      if (i.else) walk(i.else);
    }
  };
  walk(s);
  return out;
}

/** The single buffer of a list of buffers (by object), or undefined when there are 0 or several. */
function single(bs: readonly Buffer[]): Buffer | undefined {
  const set = new Set(bs);
  return set.size === 1 ? [...set][0] : undefined;
}

const isConstShape = (b: Buffer) => b.shape.every((e) => e.kind === 'IntImm');

/** Lift every parameter stage whose parameter `liftable(index)` allows. */
export function liftParamStages(fn: PrimFunc, liftable: (param: number) => boolean): LiftParamStagesResult {
  const none = { fn, stages: [] };
  if (fn.body.kind !== 'BlockRealize') return none;
  const root = fn.body.block;
  if (root.iterVars.length > 0 || root.init || root.body.kind !== 'SeqStmt') return none;
  let seq: readonly Stmt[] = root.body.seq;
  const params = [...fn.params];
  let allocs = [...root.allocBuffers];
  const stages: LiftedParamStage[] = [];
  const name = typeof fn.attrs.global_symbol === 'string' ? fn.attrs.global_symbol : 'kernel';
  for (let i = 0; i < seq.length; ) {
    const s = seq[i];
    const blocks = blocksOf(s);
    const src = single(blocks.flatMap((b) => b.reads.map((r) => r.buffer)));
    const dst = single(blocks.flatMap((b) => b.writes.map((r) => r.buffer)));
    const index = src ? params.indexOf(src) : -1;
    const ok =
      src !== undefined &&
      dst !== undefined &&
      index >= 0 &&
      liftable(index) &&
      blocks.every((b) => !b.init && b.allocBuffers.length === 0) &&
      allocs.includes(dst) &&
      isConstShape(dst) &&
      isConstShape(src) &&
      // What the statement touches is exactly its declared source and destination.
      buffersIn(s).every((b) => b === src || b === dst) &&
      seq.every((o, j) => {
        if (j === i) return true;
        const used = buffersIn(o);
        if (used.some((b) => b === src || (b !== dst && b.data === src.data))) return false;
        // X may be read after the stage, never before it and never written again.
        if (!used.includes(dst)) return true;
        return j > i && blocksOf(o).every((b) => b.writes.every((w) => w.buffer !== dst));
      });
    if (!ok) {
      i++;
      continue;
    }
    stages.push({
      param: index,
      transform: primFunc([src, dst], blockRealize([], fn.body.predicate, block('root', s)), {
        attrs: { global_symbol: `${name}_${src.name}_transform`, 'tir.noalias': true },
      }),
    });
    params[index] = dst;
    allocs = allocs.filter((b) => b !== dst);
    seq = seq.filter((_, j) => j !== i);
  }
  if (stages.length === 0) return none;
  const newRoot = freezeNode({ ...root, allocBuffers: Object.freeze(allocs), body: seqStmt(seq) }) as Block;
  const body = freezeNode({ ...fn.body, block: newRoot }) as BlockRealize;
  return {
    fn: Object.freeze({ ...fn, params: Object.freeze(params as PrimFuncParam[]), body }),
    stages,
  };
}
