// Compute-location primitives: computeAt / reverseComputeAt move a producer (consumer)
// block under a loop of its consumer (producer), recomputing only the region that loop
// iteration needs (provides); computeInline / reverseComputeInline fold a one-store
// injective block into its neighbour and drop the intermediate buffer.
import type { Buffer, Node, PrimExpr, Range, Var } from '@kiln/ir-core';
import { add, and, freezeNode, ge, isConstInt, lt, Mutator, primVar, substitute } from '@kiln/ir-core';
import type { Block, BlockRealize, For, PrimFunc, Stmt } from '@kiln/tensorir';
import { blockRealize, bufferStore, forLoop, seqStmt } from '@kiln/tensorir';
import type { Interval, Lin } from '../arith.js';
import { bounds, fromLin, linearize, simplifyIndex, usesAnyVar } from '../arith.js';
import { ScheduleErrorCodes as C, fail } from '../errors.js';
import {
  isReductionBlock,
  isWrapper,
  paramBuffers,
  readers,
  singleStore,
  updateRegions,
  writers,
} from '../regions.js';
import {
  allBlocks,
  loadedBuffers,
  requireRootScope,
  TreeIndex,
  transformStmt,
  usedVars as usedVarsOf,
  withBody,
} from '../tree.js';

/** One dimension of a region needed (provided) per iteration: `outer + [lo, hi]`, or unknown. */
interface Piece {
  outer: Lin;
  lo: number;
  hi: number;
}

function loopRanges(loops: readonly For[]): Map<Var, Interval> {
  const m = new Map<Var, Interval>();
  for (const l of loops) {
    if (l.min.kind === 'IntImm' && l.extent.kind === 'IntImm')
      m.set(l.loopVar, [l.min.value, l.min.value + l.extent.value - 1]);
  }
  return m;
}

function sameOuter(a: Lin, b: Lin): boolean {
  if (a.terms.size !== b.terms.size) return false;
  for (const [k, t] of a.terms) if (b.terms.get(k)?.coeff !== t.coeff) return false;
  return true;
}

/**
 * The region one access covers per iteration of the loop above `inner`: the access range
 * (in block iteration variables) rewritten in loop variables, with the inner loops
 * swept over their ranges. Undefined when it is not affine in the inner loops.
 */
function pieceOf(
  rg: Range,
  r: BlockRealize,
  inner: ReadonlyMap<Var, Interval>,
  innerVars: ReadonlySet<Var>,
): Piece | undefined {
  const bind = new Map<Node, Node>(r.block.iterVars.map((iv, i) => [iv.var, r.iterValues[i]]));
  const min = simplifyIndex(substitute(rg.min, bind));
  const ext = simplifyIndex(substitute(rg.extent, bind));
  if (ext.kind !== 'IntImm') return undefined;
  const lin = linearize(min);
  let lo = lin.c;
  let span = 0;
  const outer = new Map<string, { atom: PrimExpr; coeff: number }>();
  for (const [k, t] of lin.terms) {
    if (t.atom.kind === 'Var' && innerVars.has(t.atom)) {
      const iv = inner.get(t.atom);
      if (!iv) return undefined;
      lo += t.coeff > 0 ? t.coeff * iv[0] : t.coeff * iv[1];
      span += Math.abs(t.coeff) * (iv[1] - iv[0]);
    } else if (usesAnyVar(t.atom, innerVars)) {
      return undefined;
    } else outer.set(k, { ...t });
  }
  return { outer: { terms: outer, c: 0 }, lo, hi: lo + span + ext.value - 1 };
}

function unionPieces(ps: readonly (Piece | undefined)[]): Piece | undefined {
  if (ps.length === 0 || ps.some((p) => p === undefined)) return undefined;
  const first = ps[0]!;
  if (!ps.every((p) => sameOuter(p!.outer, first.outer))) return undefined;
  return { outer: first.outer, lo: Math.min(...ps.map((p) => p!.lo)), hi: Math.max(...ps.map((p) => p!.hi)) };
}

/** Per-dimension pieces of `buf` accessed by `blocks` (through `regionsOf`) per iteration of `loop`. */
function regionPerIteration(
  idx: TreeIndex,
  loop: For,
  buf: Buffer,
  blocks: readonly BlockRealize[],
  regionsOf: (b: Block) => readonly { buffer: Buffer; region: readonly Range[] }[],
): (Piece | undefined)[] {
  const perDim: (Piece | undefined)[][] = buf.shape.map(() => []);
  for (const r of blocks) {
    const all = idx.loopsAbove(r);
    const at = all.indexOf(loop);
    // Shared memory is filled for the whole thread block: threadIdx loops above count as swept (as in TVM).
    const relaxed = buf.scope.startsWith('shared')
      ? all
          .slice(0, at + 1)
          .filter((l) => l.forKind === 'thread_binding' && (l.threadTag ?? '').startsWith('threadIdx'))
      : [];
    const inner = [...relaxed, ...all.slice(at + 1)];
    const innerRanges = loopRanges(inner);
    const innerVars = new Set(inner.map((l) => l.loopVar));
    for (const rg of regionsOf(r.block)) {
      if (rg.buffer !== buf) continue;
      rg.region.forEach((range, d) => {
        perDim[d].push(pieceOf(range, r, innerRanges, innerVars));
      });
    }
  }
  return perDim.map(unionPieces);
}

/**
 * Regenerate the loop nest of `r`: iteration variables mapped to a dimension with a known
 * piece iterate over that piece only (guarded by a predicate where it may leave the
 * domain); the others over their whole domain.
 */
function regenerate(r: BlockRealize, mapped: Map<Var, Piece>, outerRanges: ReadonlyMap<Var, Interval>): Stmt {
  const blk = r.block;
  const values: PrimExpr[] = [];
  const loops: { v: Var; extent: number | PrimExpr }[] = [];
  let pred: PrimExpr | undefined;
  const conj = (c: PrimExpr): void => {
    pred = pred === undefined ? c : and(pred, c);
  };
  blk.iterVars.forEach((iv, k) => {
    const dt = iv.var.dtype;
    const piece = mapped.get(iv.var);
    if (!piece) {
      if (isConstInt(iv.dom.extent, 1)) {
        values.push(iv.dom.min);
        return;
      }
      const v = primVar(`ax${k}`, dt);
      loops.push({ v, extent: iv.dom.extent });
      values.push(simplifyIndex(add(iv.dom.min, v)));
      return;
    }
    const start = fromLin({ terms: piece.outer.terms, c: piece.lo }, dt);
    const extent = piece.hi - piece.lo + 1;
    let value: PrimExpr = start;
    if (extent > 1) {
      const v = primVar(`ax${k}`, dt);
      loops.push({ v, extent });
      value = simplifyIndex(add(start, v));
    }
    values.push(value);
    const b = bounds(start, outerRanges);
    const dmin = iv.dom.min.kind === 'IntImm' ? iv.dom.min.value : undefined;
    const dext = iv.dom.extent.kind === 'IntImm' ? iv.dom.extent.value : undefined;
    if (dmin === undefined || !b || b[0] < dmin) conj(ge(value, iv.dom.min));
    if (dmin === undefined || dext === undefined || !b || b[1] + extent - 1 > dmin + dext - 1)
      conj(lt(value, simplifyIndex(add(iv.dom.min, iv.dom.extent))));
  });
  let s: Stmt = blockRealize(values, pred ?? true, blk);
  for (let i = loops.length - 1; i >= 0; i--) s = forLoop(loops[i].v, 0, loops[i].extent, s);
  return s;
}

function bodyItems(s: Stmt): Stmt[] {
  return s.kind === 'SeqStmt' ? [...s.seq] : [s];
}

function commonChecks(prim: string, idx: TreeIndex, r: BlockRealize, loop: For): Block {
  requireRootScope(prim, idx, r, (m) => fail(C.SCHEDULE_LOCATION, prim, m));
  const scope = idx.scopeBlock(r);
  if (!scope || idx.scopeBlock(loop) !== scope) {
    fail(
      C.SCHEDULE_LOCATION,
      prim,
      `block '${r.block.name}' and loop '${loop.loopVar.name}' are not in the same scope`,
    );
  }
  if (isWrapper(r.block)) fail(C.SCHEDULE_ERROR, prim, `block '${r.block.name}' contains other blocks`);
  return scope;
}

/** Move producer `r` under `loop` so that each iteration computes what the consumers below need. */
export function computeAt(fn: PrimFunc, r: BlockRealize, loop: For): PrimFunc {
  const prim = 'computeAt';
  const idx = new TreeIndex(fn.body);
  const scope = commonChecks(prim, idx, r, loop);
  const name = r.block.name;
  const lname = loop.loopVar.name;
  const params = paramBuffers(fn);
  const outs = [...new Set(r.block.writes.map((w) => w.buffer))];
  const consumers = new Set<BlockRealize>();
  for (const b of outs) {
    if (params.has(b))
      fail(
        C.SCHEDULE_OUTPUT_BLOCK,
        prim,
        `block '${name}' writes function output '${b.name}'; it must compute all of it`,
      );
    const other = writers(scope.body, b).filter((w) => w !== r);
    if (other.length > 0)
      fail(C.SCHEDULE_ERROR, prim, `'${b.name}' is also written by block '${other[0].block.name}'`);
    for (const c of idx.childBlocks(scope))
      if (c !== r && c.block.reads.some((x) => x.buffer === b)) consumers.add(c);
  }
  if (consumers.size === 0)
    fail(C.SCHEDULE_LOCATION, prim, `block '${name}' has no consumer under loop '${lname}'`);
  for (const c of consumers) {
    if (!idx.isAncestor(loop, c))
      fail(
        C.SCHEDULE_LOCATION,
        prim,
        `consumer '${c.block.name}' of block '${name}' is not under loop '${lname}'`,
      );
  }
  const underLoop = idx.isAncestor(loop, r);
  if (!underLoop && idx.pos(r) > idx.pos(loop))
    fail(C.SCHEDULE_LOCATION, prim, `block '${name}' comes after loop '${lname}'`);
  // Inputs of the producer must be final at the new position.
  const ins = [...loadedBuffers(r.block.body), ...(r.block.init ? loadedBuffers(r.block.init) : [])].filter(
    (b) => !outs.includes(b),
  );
  const items = bodyItems(loop.body);
  const firstUse = items.findIndex((it) => allBlocks(it).some((b) => consumers.has(b)));
  for (const b of ins) {
    for (const w of writers(scope.body, b)) {
      if (w === r) continue;
      const at = items.findIndex((it) => it === w || allBlocks(it).includes(w));
      if (at >= firstUse)
        fail(
          C.SCHEDULE_LOCATION,
          prim,
          `input '${b.name}' of block '${name}' is written by '${w.block.name}' after the insertion point under loop '${lname}'`,
        );
      if (at < 0 && !underLoop && idx.pos(w) > idx.pos(r) && idx.pos(w) < idx.pos(loop)) {
        fail(
          C.SCHEDULE_LOCATION,
          prim,
          `input '${b.name}' of block '${name}' is overwritten by '${w.block.name}' before loop '${lname}'`,
        );
      }
    }
  }
  const outerLoops = [...idx.loopsAbove(loop), loop];
  const mapped = new Map<Var, Piece>();
  for (const b of outs) {
    const need = regionPerIteration(idx, loop, b, [...consumers], (blk) => blk.reads);
    const w = r.block.writes.find((x) => x.buffer === b)!;
    w.region.forEach((rg, d) => {
      const piece = need[d];
      if (!piece) return;
      if (rg.min.kind === 'IntImm') return;
      const iv = r.block.iterVars.find((x) => x.var === rg.min);
      if (!iv || !isConstInt(rg.extent, 1))
        fail(
          C.SCHEDULE_LOCATION,
          prim,
          `block '${name}' writes '${b.name}' at an index that is not an iteration variable`,
        );
      if (iv.iterType !== 'spatial')
        fail(
          C.SCHEDULE_LOCATION,
          prim,
          `block '${name}' writes '${b.name}' along reduction variable '${iv.var.name}'`,
        );
      if (!mapped.has(iv.var)) mapped.set(iv.var, piece);
    });
  }
  const nest = regenerate(r, mapped, loopRanges(outerLoops));
  const body = transformStmt(fn.body, (s) => {
    if (s === r) return null;
    if (s !== loop) return undefined;
    const inner = transformStmt(loop.body, (x) => (x === r ? null : undefined))!;
    const parts = bodyItems(inner);
    const at = parts.findIndex((it) => allBlocks(it).some((b) => consumers.has(b)));
    parts.splice(at, 0, nest);
    return freezeNode({ ...loop, body: seqStmt(parts) });
  });
  return withBody(fn, body!);
}

/** Move consumer `r` under `loop` so that each iteration consumes what the producers below just wrote. */
export function reverseComputeAt(fn: PrimFunc, r: BlockRealize, loop: For): PrimFunc {
  const prim = 'reverseComputeAt';
  const idx = new TreeIndex(fn.body);
  const scope = commonChecks(prim, idx, r, loop);
  const name = r.block.name;
  const lname = loop.loopVar.name;
  const underLoop = idx.isAncestor(loop, r);
  if (!underLoop && idx.pos(r) < idx.pos(loop))
    fail(C.SCHEDULE_LOCATION, prim, `block '${name}' comes before loop '${lname}'`);
  const outs = new Set(r.block.writes.map((w) => w.buffer));
  for (const b of outs) {
    const other = writers(scope.body, b).filter((w) => w !== r);
    if (other.length > 0)
      fail(C.SCHEDULE_ERROR, prim, `'${b.name}' is also written by block '${other[0].block.name}'`);
    const early = readers(loop, b).filter((x) => x !== r);
    if (early.length > 0)
      fail(
        C.SCHEDULE_LOCATION,
        prim,
        `block '${early[0].block.name}' under loop '${lname}' reads '${b.name}', an output of block '${name}'`,
      );
  }
  const ins = [...new Set(r.block.reads.map((x) => x.buffer))].filter((b) => !outs.has(b));
  const produced: { buf: Buffer; producers: BlockRealize[] }[] = [];
  const endOfLoop = Math.max(...allBlocks(loop).map((b) => idx.pos(b)), idx.pos(loop));
  for (const b of ins) {
    const ws = idx.childBlocks(scope).filter((w) => w !== r && w.block.writes.some((x) => x.buffer === b));
    const inside = ws.filter((w) => idx.isAncestor(loop, w));
    for (const w of ws) {
      if (!inside.includes(w) && idx.pos(w) > idx.pos(loop)) {
        fail(
          C.SCHEDULE_LOCATION,
          prim,
          `input '${b.name}' of block '${name}' is written by '${w.block.name}' after loop '${lname}'`,
        );
      }
    }
    // A producer whose reduction runs across the loop has not finished its region inside it.
    const above = new Set([...idx.loopsAbove(loop), loop].map((l) => l.loopVar));
    for (const w of inside) {
      w.block.iterVars.forEach((iv, k) => {
        if (iv.iterType !== 'spatial' && [...usedVarsOf(w.iterValues[k])].some((v) => above.has(v))) {
          fail(
            C.SCHEDULE_LOCATION,
            prim,
            `producer '${w.block.name}' reduces across loop '${lname}'; its output is incomplete inside it`,
          );
        }
      });
    }
    if (inside.length > 0) produced.push({ buf: b, producers: inside });
  }
  if (produced.length === 0)
    fail(C.SCHEDULE_LOCATION, prim, `no producer of block '${name}' is under loop '${lname}'`);
  // Blocks between the loop and the consumer must not touch what moves earlier.
  if (!underLoop) {
    for (const o of idx.order) {
      if (
        o.kind !== 'BlockRealize' ||
        o === r ||
        idx.pos(o) <= endOfLoop ||
        idx.pos(o) >= idx.pos(r) ||
        isWrapper(o.block)
      )
        continue;
      const touches =
        o.block.reads.some((x) => outs.has(x.buffer)) ||
        o.block.writes.some((x) => outs.has(x.buffer) || ins.includes(x.buffer));
      if (touches)
        fail(
          C.SCHEDULE_LOCATION,
          prim,
          `block '${o.block.name}' between loop '${lname}' and block '${name}' depends on it`,
        );
    }
  }
  const outerLoops = [...idx.loopsAbove(loop), loop];
  const mapped = new Map<Var, Piece>();
  for (const { buf, producers } of produced) {
    const have = regionPerIteration(idx, loop, buf, producers, (blk) => blk.writes);
    for (const rd of r.block.reads.filter((x) => x.buffer === buf)) {
      rd.region.forEach((rg, d) => {
        const piece = have[d];
        const full =
          piece &&
          piece.outer.terms.size === 0 &&
          piece.lo === 0 &&
          buf.shape[d].kind === 'IntImm' &&
          piece.hi === buf.shape[d].value - 1;
        if (full) return;
        const iv = r.block.iterVars.find((x) => x.var === rg.min);
        if (!piece || !iv || !isConstInt(rg.extent, 1)) {
          fail(
            C.SCHEDULE_LOCATION,
            prim,
            `block '${name}' reads '${buf.name}' in a way the region produced per iteration of loop '${lname}' cannot cover`,
          );
        }
        if (iv.iterType !== 'spatial')
          fail(
            C.SCHEDULE_LOCATION,
            prim,
            `block '${name}' would split its reduction variable '${iv.var.name}' across loop '${lname}'`,
          );
        if (!mapped.has(iv.var)) mapped.set(iv.var, piece);
      });
    }
  }
  const nest = regenerate(r, mapped, loopRanges(outerLoops));
  const body = transformStmt(fn.body, (s) => {
    if (s === r) return null;
    if (s !== loop) return undefined;
    const inner = transformStmt(loop.body, (x) => (x === r ? null : undefined))!;
    return freezeNode({ ...loop, body: seqStmt([...bodyItems(inner), nest]) });
  });
  return withBody(fn, body!);
}

/** Rewrite every load of `buf` by `fnLoad`; then refresh the regions of the blocks that read it. */
function rewriteLoads<T extends Node>(
  root: T,
  buf: Buffer,
  fnLoad: (indices: readonly PrimExpr[]) => PrimExpr,
): T {
  class R extends Mutator {
    protected override visitNode(n: Node): Node {
      const m = this.defaultVisit(n);
      if (m.kind === 'BufferLoad' && (m as unknown as { buffer: Buffer }).buffer === buf)
        return fnLoad((m as unknown as { indices: readonly PrimExpr[] }).indices);
      return m;
    }
  }
  return new R().visit(root);
}

/** Refresh regions of blocks mentioning `buf`, innermost first; drop its allocation. */
function refreshAfter(root: Stmt, buf: Buffer): Stmt {
  const visit = (s: Stmt): Stmt => {
    const out = transformStmt(s, (x) => {
      if (x === s) return undefined;
      if (x.kind === 'Block') return visit(x);
      return undefined;
    });
    let res = out ?? s;
    if (res.kind === 'Block') {
      const blk = res;
      const touched = blk.reads.some((r) => r.buffer === buf) || blk.writes.some((w) => w.buffer === buf);
      let next = touched ? updateRegions(blk) : blk;
      if (next.allocBuffers.includes(buf))
        next = freezeNode({
          ...next,
          allocBuffers: Object.freeze(next.allocBuffers.filter((b) => b !== buf)),
        });
      res = next;
    }
    return res;
  };
  return visit(root);
}

function injectiveStore(
  prim: string,
  blk: Block,
  what: string,
): { buf: Buffer; value: PrimExpr; vars: Var[] } {
  if (isWrapper(blk)) fail(C.SCHEDULE_NOT_INJECTIVE, prim, `${what} '${blk.name}' contains other blocks`);
  if (isReductionBlock(blk)) fail(C.SCHEDULE_NOT_INJECTIVE, prim, `${what} '${blk.name}' is a reduction`);
  const st = singleStore(blk);
  if (!st) fail(C.SCHEDULE_NOT_INJECTIVE, prim, `${what} '${blk.name}' is not a single buffer store`);
  const vars: Var[] = [];
  for (const i of st.indices) {
    const iv = blk.iterVars.find((x) => x.var === i);
    if (!iv || vars.includes(iv.var))
      fail(
        C.SCHEDULE_NOT_INJECTIVE,
        prim,
        `${what} '${blk.name}' stores at indices that are not distinct iteration variables`,
      );
    vars.push(iv.var);
  }
  if (vars.length !== blk.iterVars.length)
    fail(
      C.SCHEDULE_NOT_INJECTIVE,
      prim,
      `${what} '${blk.name}' does not store along all its iteration variables`,
    );
  return { buf: st.buffer, value: st.value, vars };
}

/** Inline a spatial one-store producer into all its consumers. */
export function computeInline(fn: PrimFunc, r: BlockRealize): PrimFunc {
  const prim = 'computeInline';
  const name = r.block.name;
  requireRootScope(prim, new TreeIndex(fn.body), r, (m) => fail(C.SCHEDULE_NOT_INJECTIVE, prim, m));
  const { buf, value, vars } = injectiveStore(prim, r.block, 'block');
  if (paramBuffers(fn).has(buf))
    fail(C.SCHEDULE_OUTPUT_BLOCK, prim, `block '${name}' writes function output '${buf.name}'`);
  if (loadedBuffers(value).has(buf))
    fail(C.SCHEDULE_NOT_INJECTIVE, prim, `block '${name}' reads the buffer it writes`);
  const other = writers(fn.body, buf).filter((w) => w !== r);
  if (other.length > 0)
    fail(C.SCHEDULE_ERROR, prim, `'${buf.name}' is also written by block '${other[0].block.name}'`);
  let body = transformStmt(fn.body, (s) => (s === r ? null : undefined))!;
  body = rewriteLoads(body, buf, (indices) =>
    substitute(value, new Map<Node, Node>(vars.map((v, k) => [v, indices[k]]))),
  );
  body = refreshAfter(body, buf);
  return withBody(fn, body);
}

/** Inline a spatial one-store consumer into the single producer of the buffer it reads. */
export function reverseComputeInline(fn: PrimFunc, r: BlockRealize): PrimFunc {
  const prim = 'reverseComputeInline';
  const name = r.block.name;
  const idx = new TreeIndex(fn.body);
  requireRootScope(prim, idx, r, (m) => fail(C.SCHEDULE_NOT_INJECTIVE, prim, m));
  const cons = injectiveStore(prim, r.block, 'block');
  const params = paramBuffers(fn);
  const cands = [...loadedBuffers(cons.value)].filter(
    (b) => !params.has(b) && writers(fn.body, b).some((w) => w !== r),
  );
  if (cands.length !== 1)
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `block '${name}' must read exactly one intermediate buffer (reads ${cands.length})`,
    );
  const buf = cands[0];
  // Every load of the intermediate must be the same one-to-one point.
  const loads: (readonly PrimExpr[])[] = [];
  class Collect extends Mutator {
    protected override visitNode(n: Node): Node {
      if (n.kind === 'BufferLoad' && (n as unknown as { buffer: Buffer }).buffer === buf)
        loads.push((n as unknown as { indices: readonly PrimExpr[] }).indices);
      return this.defaultVisit(n);
    }
  }
  new Collect().visit(cons.value);
  const order: Var[] = [];
  for (const i of loads[0]) {
    const iv = r.block.iterVars.find((x) => x.var === i);
    if (!iv || order.includes(iv.var))
      fail(
        C.SCHEDULE_NOT_INJECTIVE,
        prim,
        `block '${name}' reads '${buf.name}' at indices that are not distinct iteration variables`,
      );
    order.push(iv.var);
  }
  if (order.length !== r.block.iterVars.length || loads.some((l) => l.some((e, d) => e !== loads[0][d]))) {
    fail(C.SCHEDULE_NOT_INJECTIVE, prim, `block '${name}' does not read '${buf.name}' one-to-one`);
  }
  order.forEach((v, d) => {
    const iv = r.block.iterVars.find((x) => x.var === v)!;
    const ext = buf.shape[d];
    if (
      !isConstInt(iv.dom.min, 0) ||
      iv.dom.extent.kind !== 'IntImm' ||
      ext.kind !== 'IntImm' ||
      iv.dom.extent.value !== ext.value
    ) {
      fail(
        C.SCHEDULE_ERROR,
        prim,
        `block '${name}' does not cover all of '${buf.name}' along dimension ${d}`,
      );
    }
  });
  const prods = writers(fn.body, buf).filter((w) => w !== r);
  if (prods.length !== 1) fail(C.SCHEDULE_ERROR, prim, `'${buf.name}' has ${prods.length} writers`);
  const p = prods[0];
  const prod = injectiveStore(prim, p.block, 'producer');
  if (prod.buf !== buf)
    fail(C.SCHEDULE_ERROR, prim, `producer '${p.block.name}' does not store '${buf.name}'`);
  p.block.iterVars.forEach((iv, k) => {
    const d = prod.vars.indexOf(iv.var);
    const ext = buf.shape[d];
    if (
      !isConstInt(iv.dom.min, 0) ||
      iv.dom.extent.kind !== 'IntImm' ||
      ext.kind !== 'IntImm' ||
      iv.dom.extent.value !== ext.value
    ) {
      fail(
        C.SCHEDULE_ERROR,
        prim,
        `producer '${p.block.name}' does not cover all of '${buf.name}' (iteration variable ${k})`,
      );
    }
  });
  const others = readers(fn.body, buf).filter((x) => x !== r);
  if (others.length > 0)
    fail(C.SCHEDULE_ERROR, prim, `'${buf.name}' is also read by block '${others[0].block.name}'`);
  if (params.has(cons.buf) && writers(fn.body, cons.buf).some((w) => w !== r))
    fail(C.SCHEDULE_ERROR, prim, `'${cons.buf.name}' has other writers`);
  // The consumer's other inputs must be ready where the producer runs, and nothing in between may see its output early.
  for (const b of loadedBuffers(cons.value)) {
    if (b === buf) continue;
    for (const w of writers(fn.body, b)) {
      if (idx.pos(w) > idx.pos(p))
        fail(
          C.SCHEDULE_LOCATION,
          prim,
          `input '${b.name}' of block '${name}' is written by '${w.block.name}' after producer '${p.block.name}'`,
        );
    }
  }
  for (const o of allBlocks(fn.body)) {
    if (o === r || o === p || isWrapper(o.block) || idx.pos(o) < idx.pos(p) || idx.pos(o) > idx.pos(r))
      continue;
    if (
      o.block.reads.some((x) => x.buffer === cons.buf) ||
      o.block.writes.some((x) => x.buffer === cons.buf)
    ) {
      fail(
        C.SCHEDULE_LOCATION,
        prim,
        `block '${o.block.name}' between '${p.block.name}' and '${name}' uses '${cons.buf.name}'`,
      );
    }
  }
  const toProd = new Map<Node, Node>(order.map((v, d) => [v, prod.vars[d]]));
  const value = substitute(
    rewriteLoads(cons.value, buf, () => prod.value),
    toProd,
  );
  const indices = singleStore(r.block)!.indices.map((i) => substitute(i, toProd));
  const store = bufferStore(cons.buf, value, indices);
  const newBlk = updateRegions(freezeNode({ ...p.block, body: store }));
  let body = transformStmt(fn.body, (s) => (s === r ? null : s === p.block ? newBlk : undefined))!;
  body = refreshAfter(body, buf);
  return withBody(fn, body);
}
