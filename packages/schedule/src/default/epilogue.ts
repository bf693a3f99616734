// Epilogue fusion for the register-blocked contraction: the elementwise blocks that
// consume a convolution's or matmul's output in a fused kernel (bias add, activation,
// residual add) move under the register tile's innermost spatial loop
// (reverseComputeAt), so each tile is finished while it is still in L1 instead of in a
// second pass over the whole output; their innermost loop is vectorized. The
// accumulator buffer, then touched only inside the tile loop, shrinks to one tile
// allocated inside that loop (compactTiles): per thread, in registers after LLVM's SROA,
// and never written back to memory. Values are computed by the same expressions in the
// same order, so results are bit-identical.
import type { Buffer, Node, PrimExpr, Range, Var } from '@kiln/ir-core';
import {
  add,
  boolImm,
  buffer,
  DType,
  floordiv,
  floormod,
  freezeNode,
  intImm,
  Mutator,
  min,
  mul,
  postOrderVisit,
  primVar,
  range,
  structuralEqual,
  sub,
  substitute,
} from '@kiln/ir-core';
import type { Block, BlockRealize, BufferRegion, For, IterVar, PrimFunc, Stmt } from '@kiln/tensorir';
import { block, blockRealize, bufferRegion, bufferStore, iterVar, varsIn } from '@kiln/tensorir';
import { simplifyIndex } from '../arith.js';
import type { Schedule } from '../schedule.js';
import type { BlockRV, LoopRV } from '../trace.js';
import { transformStmt, uniqueBlockName, withBody } from '../tree.js';
import { blockShape, constExtent, vectorizableValue } from './analysis.js';
import type { ContractionPlan } from './contraction.js';

/** An accumulator buffer touched only inside one tile loop, and the tile it covers. */
export interface TileBuffer {
  readonly buffer: Buffer;
  readonly loopVar: Var;
  /** Per dimension of the buffer: the tile's extent (a divisor of the dimension), or 1. */
  readonly tile: readonly number[];
}

/**
 * An elementwise block: one store, spatial iteration variables only, no conditionals;
 * calls only to math the backend emits as vector code (GELU's erf, float32 exp / tanh).
 */
function plainElementwise(sch: Schedule, b: BlockRV): boolean {
  const shape = blockShape(sch.getRealize(b));
  if (!shape || shape.reduce.length > 0 || shape.block.init) return false;
  return vectorizableValue(shape.store.value);
}

/**
 * Move the chain of elementwise consumers of `block` (scheduled by scheduleContraction,
 * `init` its accumulator init) under the tile loop; `moved` receives the names of the
 * blocks moved (already scheduled: the caller's per-block rules must skip them).
 */
export function fuseEpilogue(
  sch: Schedule,
  block: BlockRV,
  init: BlockRV,
  plan: ContractionPlan,
  moved: Set<string>,
): TileBuffer[] {
  const lanes = plan.lanes;
  const loops = sch.getLoops(block);
  const initLoops = sch.getLoops(init);
  let k = 0;
  while (
    k < loops.length &&
    k < initLoops.length &&
    sch.get(loops[k]).loopVar === sch.get(initLoops[k]).loopVar
  )
    k++;
  if (k === 0) return [];
  const tile: LoopRV = loops[k - 1];
  const realize = sch.getRealize(block);
  const blk = realize.block;
  if (blk.body.kind !== 'BufferStore') return [];
  // What one iteration of the tile loop covers of each output axis: the extents of the
  // loops below it that the axis's binding uses (splits bind outer * inner + inner, so
  // that is the low-order part). The output is indexed by the spatial iteration
  // variables in order (planContraction).
  const belowExt = new Map<Var, number>();
  for (const l of loops.slice(k)) {
    const f = sch.get(l);
    belowExt.set(f.loopVar, constExtent(f.extent) ?? Number.POSITIVE_INFINITY);
  }
  const tileExtents: number[] = [];
  blk.iterVars.forEach((iv, i) => {
    if (iv.iterType !== 'spatial') return;
    const used = new Set<Var>();
    postOrderVisit(realize.iterValues[i], (n) => {
      if (belowExt.has(n as Var)) used.add(n as Var);
    });
    let ext = 1;
    for (const v of used) ext *= belowExt.get(v)!;
    // A symbolic axis (dynamic rows) is tiled by the loops below the tile loop when they are
    // constant; the last tile of such an axis is partial (predicated).
    const dom = constExtent(iv.dom.extent);
    tileExtents.push(dom !== undefined ? Math.min(ext, dom) : Number.isFinite(ext) ? ext : 1);
  });
  const out: TileBuffer = {
    buffer: blk.body.buffer,
    loopVar: sch.get(tile).loopVar,
    tile: tileExtents,
  };
  const extra: TileBuffer[] = [];
  let producer = block;
  for (;;) {
    const consumers = sch.getConsumers(producer);
    if (consumers.length !== 1 || !plainElementwise(sch, consumers[0])) break;
    const c = consumers[0];
    sch.reverseComputeAt(c, tile);
    moved.add(sch.get(c).name);
    const cl = sch.getLoops(c);
    const inner = cl[cl.length - 1];
    const ext = inner ? constExtent(sch.get(inner).extent) : undefined;
    if (cl.length > k && ext !== undefined && ext % lanes === 0) {
      if (ext > lanes) {
        const [, v] = sch.split(inner, [undefined, lanes]);
        sch.vectorize(v);
      } else sch.vectorize(inner);
    }
    producer = c;
    // An intermediate of the epilogue chain (the bias-added value GELU reads) of the
    // accumulator's shape is then also touched only inside the tile: it gets the same tile.
    const w = sch.getRealize(c).block.writes[0]?.buffer;
    if (
      w &&
      w.shape.length === out.buffer.shape.length &&
      w.shape.every((e, i) => structuralEqual(e, out.buffer.shape[i]))
    )
      extra.push({ ...out, buffer: w });
  }
  return [out, ...extra];
}

/** Every buffer access (load, store, block region) of `buf` in `n`. */
function accessCount(n: Node, buf: Buffer): number {
  let count = 0;
  postOrderVisit(n, (x) => {
    if (
      (x.kind === 'BufferLoad' || x.kind === 'BufferStore') &&
      (x as unknown as { buffer: Buffer }).buffer === buf
    )
      count++;
    if (x.kind === 'Block') {
      const b = x as unknown as Block;
      for (const rg of [...b.reads, ...b.writes]) if (rg.buffer === buf) count++;
    }
  });
  return count;
}

/**
 * Shrink each tile buffer whose every access sits inside its tile loop to one tile,
 * allocated by an opaque block inside that loop (so each thread has its own). Indices
 * become `floormod(index, tile)` on the tiled dimensions; the others are dropped.
 */
export function compactTiles(fn: PrimFunc, tiles: readonly TileBuffer[]): PrimFunc {
  let out = fn;
  for (const t of tiles) {
    if (out.body.kind !== 'BlockRealize') break;
    const root = out.body.block;
    if (!root.allocBuffers.includes(t.buffer)) continue;
    // The tile loop, and the loops around it up to the nearest block.
    let loop: For | undefined;
    let around: For[] = [];
    const find = (st: Stmt, stack: For[]): void => {
      if (loop) return;
      if (st.kind === 'For') {
        if (st.loopVar === t.loopVar) {
          loop = st;
          around = [...stack, st];
          return;
        }
        find(st.body, [...stack, st]);
      } else if (st.kind === 'BlockRealize') {
        find(st.block.body, []);
        if (st.block.init) find(st.block.init, []);
      } else if (st.kind === 'SeqStmt') for (const x of st.seq) find(x, stack);
      else if (st.kind === 'LetStmt' || st.kind === 'AttrStmt') find(st.body, stack);
      else if (st.kind === 'IfThenElse') {
        find(st.then, stack);
        if (st.else) find(st.else, stack);
      }
    };
    find(out.body, []);
    if (!loop || accessCount(loop, t.buffer) !== accessCount(out.body, t.buffer)) continue;
    const src = t.buffer;
    const dims = src.shape.map((e, d) => ({ d, ext: constExtent(e) })).filter(({ d }) => t.tile[d] > 1);
    // A symbolic dimension is tiled too: each iteration of the tile loop covers one aligned
    // run of `tile` indices (a split's inner loops), so floormod keeps them apart.
    if (dims.some(({ d, ext }) => ext !== undefined && ext % t.tile[d] !== 0)) continue;
    const dt = src.shape.length > 0 ? src.shape[0].dtype : DType.int64;
    // A tile of one element (a row's maximum or sum) is a buffer of one element.
    const one = dims.length === 0;
    const dst = buffer(
      `${src.name}_tile`,
      src.dtype,
      one ? [intImm(1, dt)] : dims.map(({ d }) => intImm(t.tile[d], dt)),
    );
    const mapIdx = (idx: readonly PrimExpr[]) =>
      one
        ? [intImm(0, dt)]
        : dims.map(({ d, ext }) =>
            t.tile[d] === ext ? idx[d] : simplifyIndex(floormod(idx[d], intImm(t.tile[d], idx[d].dtype))),
          );
    const mapRegion = (rg: BufferRegion): BufferRegion => {
      if (rg.buffer !== src) return rg;
      if (one) return bufferRegion(dst, [range(intImm(0, dt), intImm(1, dt))]);
      return bufferRegion(
        dst,
        dims.map(({ d, ext }): Range => {
          const x = rg.region[d];
          if (t.tile[d] === ext) return x;
          if (x.extent.kind === 'IntImm' && x.extent.value === 1)
            return range(simplifyIndex(floormod(x.min, intImm(t.tile[d], x.min.dtype))), x.extent);
          return range(intImm(0, x.min.dtype), intImm(t.tile[d], x.min.dtype));
        }),
      );
    };
    class Compact extends Mutator {
      protected override visitNode(n: Node): Node {
        if (n.kind === 'BufferLoad' && (n as unknown as { buffer: Buffer }).buffer === src) {
          const l = n as unknown as { indices: readonly PrimExpr[] };
          return freezeNode({
            ...(n as object),
            buffer: dst,
            indices: Object.freeze(mapIdx(l.indices.map((e) => this.visit(e) as PrimExpr))),
          } as unknown as Node);
        }
        if (n.kind === 'BufferStore' && (n as unknown as { buffer: Buffer }).buffer === src) {
          const st = n as unknown as { value: PrimExpr; indices: readonly PrimExpr[] };
          return bufferStore(
            dst,
            this.visit(st.value) as PrimExpr,
            mapIdx(st.indices.map((e) => this.visit(e) as PrimExpr)),
          ) as unknown as Node;
        }
        if (n.kind === 'Block') {
          const b = this.defaultVisit(n) as unknown as Block;
          return freezeNode({
            ...b,
            reads: Object.freeze(b.reads.map(mapRegion)),
            writes: Object.freeze(b.writes.map(mapRegion)),
          }) as unknown as Node;
        }
        return this.defaultVisit(n);
      }
    }
    // The scope block binds the variables of the loops around it to iter vars of its own,
    // so the blocks inside refer to those loops through it (blocks are opaque to loop vars).
    const compacted = new Compact().visit(loop.body) as Stmt;
    const used = new Set(varsIn(compacted));
    const bound = around.filter((f) => used.has(f.loopVar));
    const ivs = bound.map((f) =>
      iterVar(primVar(`v_${f.loopVar.name}`, f.loopVar.dtype), range(f.min, f.extent), 'opaque'),
    );
    const inner = substitute(
      compacted,
      new Map(bound.map((f, i) => [f.loopVar as Node, ivs[i].var as Node])),
    );
    const name = uniqueBlockName(out.body, `${src.name}_tile_scope`);
    const scope = blockRealize(
      bound.map((f) => f.loopVar),
      true,
      block(name, inner, {
        iterVars: ivs,
        reads: [],
        writes: [],
        allocBuffers: [dst],
      }),
    );
    const target = loop;
    const body = transformStmt(out.body, (x) =>
      x === target ? (freezeNode({ ...target, body: scope }) as Stmt) : undefined,
    ) as BlockRealize;
    const newRoot = freezeNode({
      ...body.block,
      allocBuffers: Object.freeze(body.block.allocBuffers.filter((b) => b !== src)),
    });
    out = withBody(out, freezeNode({ ...body, block: newRoot }));
  }
  return out;
}

/** The conjuncts of a predicate (`a && b && c` → [a, b, c]). */
function conjuncts(e: PrimExpr): PrimExpr[] {
  if (e.kind === 'And') {
    const a = e as unknown as { a: PrimExpr; b: PrimExpr };
    return [...conjuncts(a.a), ...conjuncts(a.b)];
  }
  return [e];
}

/**
 * Symbolic rows (planContraction's `symbolicRows`): the row split leaves a partial last
 * tile, and the split guards the accumulator's init and update with `row < rows`. Inside
 * the K loop that condition would keep the accumulators out of registers. Once the
 * accumulators are a per-tile buffer (compactTiles), the rows past the end can be
 * computed harmlessly: they read the last valid row (indices clamped to `rows - 1`),
 * accumulate into their own slots of the tile, and are never stored, because the
 * epilogue that writes the output keeps its guard. So the guard is dropped from blocks
 * that write only a tile buffer when every conjunct bounds a symbolic iteration variable
 * by its extent.
 */
export function liftRowPredicates(fn: PrimFunc): PrimFunc {
  const tiles = new Set<Buffer>();
  postOrderVisit(fn.body, (n) => {
    if (n.kind === 'Block' && (n as unknown as Block).name.endsWith('_tile_scope'))
      for (const b of (n as unknown as Block).allocBuffers) tiles.add(b);
  });
  if (tiles.size === 0) return fn;
  const body = transformStmt(fn.body, (x) => {
    if (x.kind !== 'BlockRealize') return undefined;
    const r = x as BlockRealize;
    const b = r.block;
    if (r.predicate.kind === 'IntImm' || b.writes.length === 0 || !b.writes.every((w) => tiles.has(w.buffer)))
      return undefined;
    const clamp = new Map<Node, Node>();
    const domains = new Map<IterVar, Range>();
    for (const conj of conjuncts(r.predicate)) {
      if (conj.kind !== 'LT') return undefined;
      const { a, b: bound } = conj as unknown as { a: PrimExpr; b: PrimExpr };
      const i = r.iterValues.findIndex((v) => structuralEqual(v, a));
      const iv = b.iterVars[i];
      if (
        iv?.iterType !== 'spatial' ||
        constExtent(iv.dom.extent) !== undefined ||
        constExtent(iv.dom.min) !== 0 ||
        !structuralEqual(iv.dom.extent, bound)
      )
        return undefined;
      // The tile height: the store into the tile indexes this axis by floormod(v, c).
      let c: number | undefined;
      if (b.body.kind === 'BufferStore')
        for (const e of b.body.indices) {
          const f = e as unknown as { kind: string; a: PrimExpr; b: PrimExpr };
          if (f.kind === 'FloorMod' && f.a === iv.var && f.b.kind === 'IntImm') c = f.b.value;
        }
      if (c === undefined) return undefined;
      clamp.set(iv.var, min(iv.var, sub(bound, intImm(1, bound.dtype))));
      // The iteration domain grows to whole tiles, so the rows past the end stay bound in it.
      const dt = bound.dtype;
      const padded = simplifyIndex(
        mul(floordiv(add(bound, intImm(c - 1, dt)), intImm(c, dt)), intImm(c, dt)),
      );
      domains.set(iv, range(iv.dom.min, padded));
    }
    class Clamp extends Mutator {
      protected override visitNode(n: Node): Node {
        if (n.kind === 'BufferLoad' && !tiles.has((n as unknown as { buffer: Buffer }).buffer)) {
          const l = n as unknown as { indices: readonly PrimExpr[] };
          return freezeNode({
            ...(n as object),
            indices: Object.freeze(l.indices.map((e) => substitute(e, clamp))),
          } as unknown as Node);
        }
        return this.defaultVisit(n);
      }
    }
    const iterVars = b.iterVars.map((iv) => {
      const dom = domains.get(iv);
      return dom ? freezeNode({ ...iv, dom }) : iv;
    });
    const blk = freezeNode({
      ...b,
      iterVars: Object.freeze(iterVars),
      body: new Clamp().visit(b.body) as Stmt,
    });
    return freezeNode({ ...r, predicate: boolImm(true), block: blk }) as Stmt;
  });
  return body === fn.body || !body ? fn : withBody(fn, body);
}
