// Loop transformations: split, fuse, reorder, and changing a loop's kind (parallel,
// vectorized, unrolled, thread-bound). They rewrite loop headers and the iteration
// bindings of the blocks below; block bodies are untouched.
import type { AttrValue, PrimExpr, Var } from '@kiln/ir-core';
import {
  add,
  and,
  floordiv,
  floormod,
  freezeNode,
  intImm,
  isConstInt,
  lt,
  mul,
  primVar,
  substitute,
} from '@kiln/ir-core';
import type { Block, BlockRealize, For, ForKind, PrimFunc, Stmt } from '@kiln/tensorir';
import { simplifyIndex } from '../arith.js';
import { ScheduleErrorCodes as C, fail } from '../errors.js';
import { isWrapper as isWrapperBlock } from '../regions.js';
import { tidyBindings } from '../simplify.js';
import { allBlocks, directBlocks, replaceStmt, TreeIndex, usedVars, withBody } from '../tree.js';

function constOf(e: PrimExpr): number | undefined {
  return e.kind === 'IntImm' ? e.value : undefined;
}

/** Conjoin `cond` to a realize's predicate, dropping a trivially true old one. */
export function addPredicate(r: BlockRealize, cond: PrimExpr): BlockRealize {
  const p = isConstInt(r.predicate, 1) ? cond : and(r.predicate, cond);
  return freezeNode({ ...r, predicate: p });
}

/** Simplify the iteration bindings of the blocks directly under `s`. */
function canonicalBindings(s: Stmt): Stmt {
  let out = s;
  for (const r of directBlocks(s)) {
    const vals = r.iterValues.map((v) => simplifyIndex(v));
    if (vals.some((v, i) => v !== r.iterValues[i]))
      out = replaceStmt(out, r, freezeNode({ ...r, iterValues: Object.freeze(vals) }));
  }
  return out;
}

function requireSerial(prim: string, loop: For): void {
  if (loop.forKind !== 'serial')
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `loop '${loop.loopVar.name}' is ${loop.forKind}; only serial loops can be restructured`,
    );
}

export interface SplitResult {
  fn: PrimFunc;
  loops: Var[];
}

/** Split `loop` into nested loops of the given extents; one may be `undefined` (inferred). */
export function split(fn: PrimFunc, loop: For, factors: readonly (number | undefined)[]): SplitResult {
  const name = loop.loopVar.name;
  const prim = 'split';
  requireSerial(prim, loop);
  if (factors.length < 2)
    fail(C.SCHEDULE_INVALID_FACTOR, prim, `loop '${name}' needs at least two factors, got ${factors.length}`);
  const holes = factors.filter((f) => f === undefined).length;
  if (holes > 1) fail(C.SCHEDULE_INVALID_FACTOR, prim, `loop '${name}': at most one factor may be inferred`);
  for (const f of factors) {
    if (f !== undefined && (!Number.isInteger(f) || f <= 0))
      fail(C.SCHEDULE_INVALID_FACTOR, prim, `loop '${name}': factor ${f} is not a positive integer`);
  }
  const dt = loop.loopVar.dtype;
  const known = factors.reduce<number>((p, f) => p * (f ?? 1), 1);
  const ext = constOf(loop.extent);
  let extents: PrimExpr[];
  let exact: boolean;
  if (ext !== undefined) {
    const inferred = Math.ceil(ext / known);
    const fs = factors.map((f) => f ?? inferred);
    const prod = fs.reduce((p, f) => p * f, 1);
    if (prod < ext)
      fail(
        C.SCHEDULE_INVALID_FACTOR,
        prim,
        `loop '${name}': factors [${fs.join(', ')}] cover ${prod} < extent ${ext}`,
      );
    exact = prod === ext;
    extents = fs.map((f) => intImm(f, dt));
  } else {
    if (holes !== 1)
      fail(
        C.SCHEDULE_INVALID_FACTOR,
        prim,
        `loop '${name}' has a symbolic extent; leave one factor to be inferred`,
      );
    const inferred = floordiv(add(loop.extent, known - 1), intImm(known, dt));
    extents = factors.map((f) => (f === undefined ? inferred : intImm(f, dt)));
    exact = known === 1;
  }
  const vars = extents.map((_, k) => primVar(`${name}_${k}`, dt));
  let value: PrimExpr = vars[0];
  for (let k = 1; k < vars.length; k++) value = add(mul(value, extents[k]), vars[k]);
  if (!isConstInt(loop.min, 0)) value = add(value, loop.min);
  value = simplifyIndex(value);
  let body = substitute(loop.body, new Map([[loop.loopVar, value]]));
  if (!exact) {
    const bound = simplifyIndex(add(loop.min, loop.extent));
    for (const r of directBlocks(body)) body = replaceStmt(body, r, addPredicate(r, lt(value, bound)));
  }
  body = canonicalBindings(body);
  let nest: Stmt = body;
  for (let k = vars.length - 1; k >= 0; k--) {
    nest = freezeNode({
      ...loop,
      loopVar: vars[k],
      min: intImm(0, dt),
      extent: extents[k],
      body: nest,
      annotations: Object.freeze({}),
    });
  }
  return { fn: tidyBindings(withBody(fn, replaceStmt(fn.body, loop, nest))), loops: vars };
}

/** Fuse a perfect nest of adjacent loops (outermost first) into one. */
export function fuse(fn: PrimFunc, loops: readonly For[]): { fn: PrimFunc; loop: Var } {
  const prim = 'fuse';
  if (loops.length === 0) fail(C.SCHEDULE_ERROR, prim, 'needs at least one loop');
  if (loops.length === 1) return { fn, loop: loops[0].loopVar };
  const names = loops.map((l) => l.loopVar.name);
  for (let i = 0; i + 1 < loops.length; i++) {
    if (loops[i].body !== loops[i + 1]) {
      fail(
        C.SCHEDULE_NOT_PERFECT_NEST,
        prim,
        `loops [${names.join(', ')}] are not adjacent in a perfect nest: '${names[i + 1]}' is not the only body of '${names[i]}'`,
      );
    }
  }
  for (const l of loops) requireSerial(prim, l);
  const vs = new Set(loops.map((l) => l.loopVar));
  for (const l of loops) {
    if ([...usedVars(l.extent), ...usedVars(l.min)].some((v) => vs.has(v))) {
      fail(C.SCHEDULE_ERROR, prim, `the extent of loop '${l.loopVar.name}' depends on another fused loop`);
    }
  }
  const dt = loops[0].loopVar.dtype;
  const fused = primVar(`${names.join('_')}_fused`, dt);
  const map = new Map<Var, PrimExpr>();
  let inner: PrimExpr = intImm(1, dt);
  for (let i = loops.length - 1; i >= 0; i--) {
    const l = loops[i];
    let v: PrimExpr = isConstInt(inner, 1) ? fused : floordiv(fused, inner);
    if (i > 0) v = floormod(v, l.extent);
    if (!isConstInt(l.min, 0)) v = add(v, l.min);
    map.set(l.loopVar, simplifyIndex(v));
    inner = simplifyIndex(mul(inner, l.extent));
  }
  const innermost = loops[loops.length - 1];
  const body = canonicalBindings(substitute(innermost.body, map));
  const nest = freezeNode({
    ...loops[0],
    loopVar: fused,
    min: intImm(0, dt),
    extent: inner,
    body,
    annotations: Object.freeze({}),
  });
  return { fn: tidyBindings(withBody(fn, replaceStmt(fn.body, loops[0], nest))), loop: fused };
}

/** Reorder loops of one single-branch chain; loops of the chain not named keep their place. */
export function reorder(fn: PrimFunc, loops: readonly For[]): PrimFunc {
  const prim = 'reorder';
  if (loops.length <= 1) return fn;
  if (new Set(loops).size !== loops.length) fail(C.SCHEDULE_ERROR, prim, 'a loop is named twice');
  const idx = new TreeIndex(fn.body);
  const depth = (l: For): number => idx.ancestors(l).length;
  const sorted = [...loops].sort((a, b) => depth(a) - depth(b));
  const names = loops.map((l) => `'${l.loopVar.name}'`).join(', ');
  for (let i = 0; i + 1 < sorted.length; i++) {
    if (!idx.isAncestor(sorted[i], sorted[i + 1]))
      fail(C.SCHEDULE_NOT_SAME_CHAIN, prim, `loops ${names} are not in one loop chain`);
  }
  const outer = sorted[0];
  const innerMost = sorted[sorted.length - 1];
  const chain: For[] = [innerMost];
  for (let p = idx.parent.get(innerMost); p && p !== outer; p = idx.parent.get(p)) {
    if (p.kind !== 'For')
      fail(
        C.SCHEDULE_NOT_SAME_CHAIN,
        prim,
        `loops ${names} are separated by a ${p.kind}; they must form a single-branch chain`,
      );
    chain.push(p);
  }
  chain.push(outer);
  chain.reverse();
  for (let i = 0; i + 1 < chain.length; i++) {
    if (chain[i].body !== chain[i + 1])
      fail(C.SCHEDULE_NOT_SAME_CHAIN, prim, `loops ${names} are not a single-branch chain`);
  }
  const chainVars = new Set(chain.map((l) => l.loopVar));
  for (const l of chain) {
    if ([...usedVars(l.extent), ...usedVars(l.min)].some((v) => chainVars.has(v))) {
      fail(
        C.SCHEDULE_ERROR,
        prim,
        `the extent of loop '${l.loopVar.name}' depends on another loop of the chain`,
      );
    }
  }
  // Sibling blocks below the chain would see their interleaving change; refuse when they share data.
  const blocks = allBlocks(innerMost.body);
  if (blocks.length > 1) {
    for (const a of blocks) {
      for (const b of blocks) {
        if (a === b) continue;
        if (
          a.block.writes.some(
            (w) =>
              b.block.reads.some((r) => r.buffer === w.buffer) ||
              b.block.writes.some((x) => x.buffer === w.buffer),
          )
        ) {
          fail(
            C.SCHEDULE_ERROR,
            prim,
            `blocks '${a.block.name}' and '${b.block.name}' below loops ${names} depend on each other; reordering would change their interleaving`,
          );
        }
      }
    }
  }
  for (const r of blocks) checkIterTypes(prim, r.block);
  const chosen = new Set(loops);
  const slots = chain.map((l, i) => (chosen.has(l) ? i : -1)).filter((i) => i >= 0);
  const order = [...chain];
  slots.forEach((slot, k) => {
    order[slot] = loops[k];
  });
  // A loop feeding both spatial and reduction variables (fused across them) orders each
  // reduction so that its init point comes first; moving it would break that.
  const moved = chain.filter((l, i) => order[i] !== l);
  for (const r of blocks) {
    if (!r.block.iterVars.some((iv) => iv.iterType !== 'spatial')) continue;
    for (const l of moved) {
      const roles = new Set(
        r.block.iterVars
          .filter((_, k) => usedVars(r.iterValues[k]).has(l.loopVar))
          .map((iv) => iv.iterType === 'spatial'),
      );
      if (roles.size === 2) {
        fail(
          C.SCHEDULE_LOOP_DEPENDENCE,
          prim,
          `loop '${l.loopVar.name}' feeds both spatial and reduction variables of block '${r.block.name}'; reordering it would reorder the reduction's init`,
        );
      }
    }
  }
  let nest: Stmt = innerMost.body;
  for (let i = order.length - 1; i >= 0; i--) nest = freezeNode({ ...order[i], body: nest });
  return withBody(fn, replaceStmt(fn.body, outer, nest));
}

function checkIterTypes(prim: string, blk: Block): void {
  for (const iv of blk.iterVars) {
    if (iv.iterType === 'opaque' || iv.iterType === 'ordered') {
      fail(
        C.SCHEDULE_ERROR,
        prim,
        `block '${blk.name}' has ${iv.iterType} iteration variable '${iv.var.name}'; its loops cannot be reordered`,
      );
    }
  }
}

/**
 * Is storage of `scope` private to each iteration of a loop bound to `threadTag`? Shared
 * memory belongs to one thread block, local memory to one thread.
 */
function privateTo(scope: string, threadTag: string | undefined): boolean {
  if (!threadTag) return false;
  const local = scope === 'local' || scope.startsWith('wmma.') || scope === 'warp';
  if (threadTag.startsWith('blockIdx') || threadTag.startsWith('vthread'))
    return local || scope === 'shared' || scope.startsWith('shared.');
  return local;
}

/**
 * Iterations of `loop` are independent when every block below binds the loop variable only
 * to spatial iteration variables (a reduction carries a dependence across iterations).
 */
export function checkIndependent(prim: string, loop: For, threadTag?: string): void {
  const lv = loop.loopVar;
  for (const r of allBlocks(loop.body)) {
    r.iterValues.forEach((v, i) => {
      const iv = r.block.iterVars[i];
      if (iv.iterType !== 'spatial' && usedVars(v).has(lv)) {
        fail(
          C.SCHEDULE_LOOP_DEPENDENCE,
          prim,
          `loop '${lv.name}' is bound to ${iv.iterType} iteration variable '${iv.var.name}' of block '${r.block.name}'; its iterations are not independent`,
        );
      }
    });
  }
  // A block that does not depend on the loop writes the same elements in every iteration:
  // concurrent iterations would race (e.g. a reduction computed at an inner loop).
  for (const r of allBlocks(loop.body)) {
    if (isWrapperBlock(r.block) || r.block.writes.length === 0) continue;
    if (r.block.writes.every((w) => privateTo(w.buffer.scope, threadTag))) continue;
    if (!r.iterValues.some((v) => usedVars(v).has(lv))) {
      const enclosing = [...allBlocks(loop.body)].filter(
        (o) => o !== r && allBlocks(o.block.body).includes(r),
      );
      if (enclosing.length > 0) continue;
      fail(
        C.SCHEDULE_LOOP_DEPENDENCE,
        prim,
        `block '${r.block.name}' under loop '${lv.name}' writes the same elements in every iteration`,
      );
    }
  }
  const idx = new TreeIndex(loop.body);
  for (const s of idx.order) {
    if (s.kind === 'BufferStore' && !idx.ancestors(s).some((a) => a.kind === 'Block')) {
      fail(
        C.SCHEDULE_ERROR,
        prim,
        `loop '${lv.name}' holds stores outside any block; their dependences cannot be checked`,
      );
    }
  }
}

export const THREAD_TAGS: readonly string[] = [
  'blockIdx.x',
  'blockIdx.y',
  'blockIdx.z',
  'threadIdx.x',
  'threadIdx.y',
  'threadIdx.z',
  'vthread',
  'vthread.x',
  'vthread.y',
  'vthread.z',
];

/** Change a loop's kind: parallel / vectorized / thread_binding check independence; unrolled is always legal. */
export function setLoopKind(fn: PrimFunc, loop: For, kind: ForKind, threadTag?: string): PrimFunc {
  const prim =
    kind === 'parallel'
      ? 'parallel'
      : kind === 'vectorized'
        ? 'vectorize'
        : kind === 'unrolled'
          ? 'unroll'
          : 'bind';
  if (kind === 'thread_binding') {
    if (!threadTag || !THREAD_TAGS.includes(threadTag))
      fail(C.SCHEDULE_ERROR, prim, `unknown thread tag '${threadTag}' for loop '${loop.loopVar.name}'`);
  }
  if (kind !== 'unrolled') checkIndependent(prim, loop, threadTag);
  if (kind === 'vectorized' && constOf(loop.extent) === undefined)
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `loop '${loop.loopVar.name}' has a symbolic extent and cannot be vectorized`,
    );
  if (loop.forKind === 'thread_binding' && kind !== 'thread_binding')
    fail(C.SCHEDULE_ERROR, prim, `loop '${loop.loopVar.name}' is already bound to ${loop.threadTag}`);
  const next = freezeNode({
    ...loop,
    forKind: kind,
    threadTag: kind === 'thread_binding' ? threadTag : undefined,
  });
  return withBody(fn, replaceStmt(fn.body, loop, next));
}

export function annotateLoop(fn: PrimFunc, loop: For, key: string, value: AttrValue): PrimFunc {
  const next = freezeNode({ ...loop, annotations: Object.freeze({ ...loop.annotations, [key]: value }) });
  return withBody(fn, replaceStmt(fn.body, loop, next));
}

export function annotateBlock(fn: PrimFunc, r: BlockRealize, key: string, value: AttrValue): PrimFunc {
  const blk = freezeNode({
    ...r.block,
    annotations: Object.freeze({ ...r.block.annotations, [key]: value }),
  });
  return withBody(fn, replaceStmt(fn.body, r.block, blk));
}
