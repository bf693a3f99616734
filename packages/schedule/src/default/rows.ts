// Default CPU schedule for row-wise kernels: softmax, layer norm, RMS norm, log-softmax —
// a chain of blocks that all work on the rows of the last (output) block, some of them
// reducing each row (max, sum, sum of squares). Scheduled block by block, each such
// kernel would run one loop nest per block over all rows (several parallel regions,
// with serial write-backs between them, and every intermediate row leaving the cache);
// instead every block is computed at the output's row loop, so one parallel loop over
// the rows does the whole kernel, a row at a time, in cache. Inside a row, sums and
// max / min reductions whose length the vector width divides are rfactor'ed into vector
// lanes of partial results (then a short write-back), and elementwise blocks are
// vectorized along the row. A kernel that does not fit (a block that would be
// recomputed per row, an access the primitives cannot follow) keeps the per-block rules.
import type { Buffer, Node, PrimExpr, Var } from '@kiln/ir-core';
import { isKilnError, postOrderVisit, structuralEqual, substitute } from '@kiln/ir-core';
import type { For, PrimFunc, Stmt } from '@kiln/tensorir';
import { varsIn } from '@kiln/tensorir';
import type { Schedule } from '../schedule.js';
import { createSchedule } from '../schedule.js';
import type { BlockRV, LoopRV } from '../trace.js';
import { blockShape, constExtent, contiguousIn, loadsOf, vectorizableValue } from './analysis.js';
import type { TileBuffer } from './epilogue.js';
import { compactTiles } from './epilogue.js';

/** Names of the blocks directly under the root block, in order. */
function topLevelBlockNames(sch: Schedule): string[] {
  const root = sch.func.body;
  const blk = root.kind === 'BlockRealize' ? root.block.body : root;
  const out: string[] = [];
  const walk = (st: Stmt): void => {
    if (st.kind === 'BlockRealize') out.push(st.block.name);
    else if (st.kind === 'SeqStmt') for (const x of st.seq) walk(x);
    else if (
      st.kind === 'For' ||
      st.kind === 'LetStmt' ||
      st.kind === 'Allocate' ||
      st.kind === 'DeclBuffer' ||
      st.kind === 'AttrStmt'
    )
      walk(st.body);
  };
  walk(blk);
  return out;
}

/** The extents of `loops`: the product of the constant ones, and the symbolic ones. */
function extents(sch: Schedule, loops: readonly LoopRV[]): { n: number; symbolic: PrimExpr[] } {
  let n = 1;
  const symbolic: PrimExpr[] = [];
  for (const l of loops) {
    const e = sch.get(l).extent;
    const c = constExtent(e);
    if (c === undefined) symbolic.push(e);
    else n *= c;
  }
  return { n, symbolic };
}

/**
 * Whether `inner` (a block's loops under the rows) times `rows` is at most `before` (its
 * loops before): no block computes more than it did, for symbolic row counts as well.
 */
function noRecompute(
  inner: { n: number; symbolic: PrimExpr[] },
  rows: { n: number; symbolic: PrimExpr[] },
  before: { n: number; symbolic: PrimExpr[] },
): boolean {
  // Symbolic extents (a dynamic sequence) must be matched one for one.
  const left = [...before.symbolic];
  for (const s of [...rows.symbolic, ...inner.symbolic]) {
    const i = left.findIndex((x) => structuralEqual(x, s));
    if (i < 0) return false;
    left.splice(i, 1);
  }
  return inner.n * rows.n <= before.n;
}

/** Whether the block is a reduction `out = combine(out, x)` with Add, Max or Min. */
function isLaneReducible(sch: Schedule, b: BlockRV): boolean {
  const r = sch.getRealize(b);
  const shape = blockShape(r);
  if (!shape?.block.init || shape.reduce.length === 0) return false;
  const v = shape.store.value;
  return v.kind === 'Add' || v.kind === 'Max' || v.kind === 'Min';
}

/**
 * Split the innermost reduction loop of top-level block `b` by the vector width and
 * rfactor it into lanes of partial results; returns the name of the rfactor block, or
 * undefined when the block does not qualify (then it stays a scalar reduction).
 */
function rfactorRowReduction(sch: Schedule, b: BlockRV, lanes: number): string | undefined {
  const r = sch.getRealize(b);
  const shape = blockShape(r);
  if (!shape || !isLaneReducible(sch, b)) return undefined;
  const kv = shape.reduce[shape.reduce.length - 1];
  const kIdx = r.block.iterVars.findIndex((iv) => iv.var === kv);
  const kLoopVar = r.iterValues[kIdx];
  const loops = sch.getLoops(b);
  const kLoop = loops[loops.length - 1];
  if (!kLoop || sch.get(kLoop).loopVar !== kLoopVar) return undefined;
  const ext = constExtent(sch.get(kLoop).extent);
  if (ext === undefined || ext % lanes !== 0 || ext < 2 * lanes) return undefined;
  const loads = loadsOf(shape.store.value).filter((l) => l.buffer !== shape.store.buffer);
  if (!contiguousIn(loads, kv) || !vectorizableValue(shape.store.value)) return undefined;
  const [, k1] = sch.split(kLoop, [undefined, lanes]);
  const nSpatial = r.block.iterVars.filter((iv) => iv.iterType === 'spatial').length;
  return sch.get(sch.rfactor(k1, nSpatial)).name;
}

/**
 * An rfactor block under the row loop: its lane loop goes innermost and is vectorized,
 * its init is split out (and vectorized) above the remaining reduction loop.
 */
function vectorizeLanes(sch: Schedule, b: BlockRV, lanes: number, depth: number): void {
  const r = sch.getRealize(b);
  const loops = sch.getLoops(b).slice(depth);
  const laneLoop = loops.find((l) => {
    const v = sch.get(l).loopVar;
    const i = r.iterValues.findIndex((x) => x === v);
    return i >= 0 && r.block.iterVars[i].iterType === 'spatial' && constExtent(sch.get(l).extent) === lanes;
  });
  if (!laneLoop) return;
  const others = loops.filter((l) => sch.get(l).loopVar !== sch.get(laneLoop).loopVar);
  if (others.length === 0) return;
  sch.reorder(...others, laneLoop);
  const reordered = sch.getLoops(b).slice(depth);
  const init = sch.decomposeReduction(b, reordered[0]);
  const inner = sch.getLoops(b);
  sch.vectorize(inner[inner.length - 1]);
  const initLoops = sch.getLoops(init);
  const il = initLoops[initLoops.length - 1];
  if (initLoops.length > depth && constExtent(sch.get(il).extent) === lanes) sch.vectorize(il);
}

/** Vectorize the innermost loop of a spatial block under the row loop, when it walks the row. */
function vectorizeRowElementwise(sch: Schedule, b: BlockRV, lanes: number, rowLoop: LoopRV): void {
  const r = sch.getRealize(b);
  const shape = blockShape(r);
  if (!shape || shape.reduce.length > 0 || r.block.init) return;
  const loops = sch.getLoops(b);
  const inner = loops[loops.length - 1];
  if (sch.get(inner).loopVar === sch.get(rowLoop).loopVar) return;
  const ext = constExtent(sch.get(inner).extent);
  if (ext === undefined || ext < lanes || ext % lanes !== 0) return;
  const innerVar = r.block.iterVars.find((_, i) => r.iterValues[i] === sch.get(inner).loopVar)?.var;
  if (!innerVar || !vectorizableValue(shape.store.value)) return;
  const accesses = [...loadsOf(shape.store.value), { indices: shape.store.indices }];
  if (!contiguousIn(accesses, innerVar as Var)) return;
  const [, vec] = sch.split(inner, [undefined, lanes]);
  sch.vectorize(vec);
}

/**
 * The row-wise schedule of `fn`, or undefined when `fn` is not a row-wise kernel (then
 * the caller applies the per-block rules).
 */
export function scheduleRowwise(
  fn: PrimFunc,
  blockNames: readonly string[],
  lanes: number,
  threads: number,
  minParallelWork: number,
): PrimFunc | undefined {
  if (blockNames.length < 2) return undefined;
  try {
    const sch = createSchedule(fn);
    const first = blockNames.map((n) => sch.getBlock(n));
    if (first.some((b) => !blockShape(sch.getRealize(b)))) return undefined;
    if (!first.slice(0, -1).some((b) => isLaneReducible(sch, b))) return undefined;
    // Every reduction reduces along rows: its inputs are contiguous along its innermost
    // reduction axis (a matmul-like sum is left to the contraction rules).
    for (const b of first) {
      const sh = blockShape(sch.getRealize(b))!;
      if (sh.reduce.length === 0) continue;
      const loads = loadsOf(sh.store.value).filter((l) => l.buffer !== sh.store.buffer);
      if (!contiguousIn(loads, sh.reduce[sh.reduce.length - 1])) return undefined;
    }
    const outName = blockNames[blockNames.length - 1];
    const outShape = blockShape(sch.getRealize(first[first.length - 1]))!;
    if (outShape.reduce.length > 0 || outShape.block.init) return undefined;
    const rowLoops = sch.getLoops(first[first.length - 1]).slice(0, -1);
    if (rowLoops.length === 0) return undefined;
    if (rowLoops.some((l) => sch.get(l).forKind !== 'serial')) return undefined;
    const rows = extents(sch, rowLoops);
    if (rows.symbolic.length === 0 && rows.n < 2) return undefined;
    // Vector lanes of partial sums / maxima first (rfactor wants a loop nest of its own).
    const rfNames = new Set<string>();
    for (const b of first.slice(0, -1)) {
      const rf = rfactorRowReduction(sch, b, lanes);
      if (rf) rfNames.add(rf);
    }
    const names = topLevelBlockNames(sch);
    if (names[names.length - 1] !== outName) return undefined;
    const blocks = names.map((n) => sch.getBlock(n));
    const before = blocks.map((b) => extents(sch, sch.getLoops(b)));
    const rowLoop = rowLoops[rowLoops.length - 1];
    for (let i = blocks.length - 2; i >= 0; i--) sch.computeAt(blocks[i], rowLoop);
    // No block may be recomputed: per row it must do at most its share of the work.
    const depth = rowLoops.length;
    const rowVar = sch.get(rowLoop).loopVar;
    for (let i = 0; i < blocks.length; i++) {
      const loops = sch.getLoops(blocks[i]);
      if (loops.length < depth || sch.get(loops[depth - 1]).loopVar !== rowVar) return undefined;
      if (!noRecompute(extents(sch, loops.slice(depth)), rows, before[i])) return undefined;
    }
    for (let i = 0; i < blocks.length; i++) {
      // A primitive that refuses changes nothing: that block stays as computeAt left it.
      try {
        if (rfNames.has(names[i])) vectorizeLanes(sch, blocks[i], lanes, depth);
        else if (!isLaneReducible(sch, blocks[i])) vectorizeRowElementwise(sch, blocks[i], lanes, rowLoop);
      } catch (e) {
        if (!isKilnError(e)) throw e;
      }
    }
    const work = before.reduce((a, b) => a + (b.symbolic.length > 0 ? Number.POSITIVE_INFINITY : b.n), 0);
    let loopVar = sch.get(rowLoop).loopVar;
    if (threads > 1 && work >= minParallelWork) {
      const fused = rowLoops.length > 1 ? sch.fuse(...rowLoops) : rowLoops[0];
      sch.parallel(fused);
      loopVar = sch.get(fused).loopVar;
    }
    return compactRowBuffers(sch.func, loopVar);
  } catch (e) {
    if (!isKilnError(e)) throw e;
    return undefined;
  }
}

/**
 * The intermediates of a row-wise kernel (a row's maximum, exponentials, sum) are used only
 * inside the row loop once every block is computed at it, one row at a time: each shrinks
 * to one row's worth, allocated inside the loop (per thread when it runs in parallel),
 * instead of a buffer of the whole tensor that a kernel over a dynamic shape must allocate
 * on every call. A dimension shrinks away when every access indexes it by the same
 * expression of the loops outside the row loop's body; the others must be constant.
 */
function compactRowBuffers(fn: PrimFunc, rowVar: Var): PrimFunc {
  if (fn.body.kind !== 'BlockRealize') return fn;
  let loop: For | undefined;
  postOrderVisit(fn.body, (n) => {
    if (n.kind === 'For' && (n as unknown as For).loopVar === rowVar) loop = n as unknown as For;
  });
  if (!loop) return fn;
  const inner = new Set<Node>();
  postOrderVisit(loop.body, (n) => {
    if (n.kind === 'For') inner.add((n as unknown as For).loopVar);
  });
  // Every access under the loop, its indices in terms of loop variables.
  const accesses = new Map<Buffer, PrimExpr[][]>();
  const recordIn = (n: Node, bind: ReadonlyMap<Node, Node>) =>
    postOrderVisit(n, (x) => {
      if (x.kind !== 'BufferLoad' && x.kind !== 'BufferStore') return;
      const a = x as unknown as { buffer: Buffer; indices: readonly PrimExpr[] };
      const list = accesses.get(a.buffer) ?? [];
      list.push(a.indices.map((e) => substitute(e, bind)));
      accesses.set(a.buffer, list);
    });
  const visit = (st: Stmt, bind: ReadonlyMap<Node, Node>): void => {
    if (st.kind === 'BlockRealize') {
      const m = new Map(bind);
      st.block.iterVars.forEach((iv, i) => {
        m.set(iv.var, substitute(st.iterValues[i], bind));
      });
      if (st.block.init) visit(st.block.init, m);
      visit(st.block.body, m);
    } else if (st.kind === 'For' || st.kind === 'LetStmt' || st.kind === 'AttrStmt') visit(st.body, bind);
    else if (st.kind === 'SeqStmt') for (const x of st.seq) visit(x, bind);
    else if (st.kind === 'IfThenElse') {
      recordIn(st.cond, bind);
      visit(st.then, bind);
      if (st.else) visit(st.else, bind);
    } else recordIn(st, bind);
  };
  visit(loop.body, new Map());
  const tiles: TileBuffer[] = [];
  for (const buf of fn.body.block.allocBuffers) {
    const list = accesses.get(buf);
    if (!list || list.length === 0) continue;
    const tile: number[] = [];
    let ok = true;
    buf.shape.forEach((ext, d) => {
      const first = list[0][d];
      const fixed =
        list.every((idx) => structuralEqual(idx[d], first)) && !varsIn(first).some((v) => inner.has(v));
      if (fixed) tile.push(1);
      else {
        const c = constExtent(ext);
        if (c === undefined) ok = false;
        tile.push(c ?? 1);
      }
    });
    if (ok) tiles.push({ buffer: buf, loopVar: rowVar, tile });
  }
  return tiles.length > 0 ? compactTiles(fn, tiles) : fn;
}
