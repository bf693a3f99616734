// Buffer access regions of blocks: deriving a block's reads/writes from its body, and
// the block-level facts the legality checks ask about (reduction or not, who writes what).
import type { Buffer, Node, PrimExpr, Range, Var } from '@kiln/ir-core';
import { freezeNode, intImm, postOrderVisit, range, substitute } from '@kiln/ir-core';
import type { Block, BlockRealize, BufferRegion, BufferStore, For, PrimFunc, Stmt } from '@kiln/tensorir';
import { bufferRegion } from '@kiln/tensorir';
import type { Interval } from './arith.js';
import { exprKey, fromLin, linearize, linSub, simplifyIndex, usesAnyVar } from './arith.js';
import { allBlocks, stmtChildren } from './tree.js';

function collectAccesses(n: Node, loads: Map<Buffer, PrimExpr[][]>, stores: Map<Buffer, PrimExpr[][]>): void {
  postOrderVisit(n, (x) => {
    if (x.kind === 'BufferLoad') {
      const l = x as unknown as { buffer: Buffer; indices: readonly PrimExpr[] };
      if (!loads.has(l.buffer)) loads.set(l.buffer, []);
      loads.get(l.buffer)!.push([...l.indices]);
    } else if (x.kind === 'BufferStore') {
      const s = x as unknown as BufferStore;
      if (!stores.has(s.buffer)) stores.set(s.buffer, []);
      stores.get(s.buffer)!.push([...s.indices]);
    }
  });
}

/** The hull of a set of index tuples, per dimension: a point, a constant-offset span, or the full extent. */
export function hullRegion(buf: Buffer, accesses: readonly (readonly PrimExpr[])[]): Range[] {
  return buf.shape.map((extent, d) => {
    const idx = accesses.map((a) => simplifyIndex(a[d]));
    const first = idx[0];
    if (idx.every((e) => exprKey(e) === exprKey(first))) return range(first, intImm(1, first.dtype));
    const base = linearize(first);
    let lo = 0;
    let hi = 0;
    for (const e of idx) {
      const diff = linSub(linearize(e), base);
      if (diff.terms.size !== 0) return range(intImm(0, extent.dtype), extent);
      lo = Math.min(lo, diff.c);
      hi = Math.max(hi, diff.c);
    }
    const min = fromLin({ terms: base.terms, c: base.c + lo }, first.dtype);
    return range(min, intImm(hi - lo + 1, first.dtype));
  });
}

/**
 * Rebuild a block's reads/writes from its body and init. Entries for buffers the block
 * still touches keep their position; new buffers are appended in order of appearance.
 */
/** Sweep the inner loop variables of a region: per dimension, `outer + [lo, hi]` or the whole buffer. */
export function sweepRegion(rg: BufferRegion, ranges: ReadonlyMap<Var, Interval>): BufferRegion {
  const inner = new Set(ranges.keys());
  const region = rg.region.map((r, d): Range => {
    const min = simplifyIndex(r.min);
    const whole = range(intImm(0, rg.buffer.shape[d].dtype), rg.buffer.shape[d]);
    if (r.extent.kind !== 'IntImm') return whole;
    const lin = linearize(min);
    let lo = lin.c;
    let span = 0;
    const outer = new Map<string, { atom: PrimExpr; coeff: number }>();
    for (const [k, t] of lin.terms) {
      if (t.atom.kind === 'Var' && inner.has(t.atom)) {
        const iv = ranges.get(t.atom)!;
        lo += t.coeff > 0 ? t.coeff * iv[0] : t.coeff * iv[1];
        span += Math.abs(t.coeff) * (iv[1] - iv[0]);
      } else if (usesAnyVar(t.atom, inner)) return whole;
      else outer.set(k, { ...t });
    }
    return range(fromLin({ terms: outer, c: lo }, min.dtype), intImm(span + r.extent.value, min.dtype));
  });
  return bufferRegion(rg.buffer, region);
}

/** Union of regions of one buffer: equal ones merge, constant-offset ones hull, else the whole buffer. */
function unionRegions(buf: Buffer, rs: readonly BufferRegion[]): BufferRegion {
  const region = buf.shape.map((extent, d) => {
    const first = rs[0].region[d];
    if (
      rs.every(
        (r) =>
          exprKey(r.region[d].min) === exprKey(first.min) &&
          exprKey(r.region[d].extent) === exprKey(first.extent),
      )
    )
      return first;
    const base = linearize(simplifyIndex(first.min));
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of rs) {
      const e = r.region[d].extent;
      const diff = linSub(linearize(simplifyIndex(r.region[d].min)), base);
      if (diff.terms.size !== 0 || e.kind !== 'IntImm') return range(intImm(0, extent.dtype), extent);
      lo = Math.min(lo, diff.c);
      hi = Math.max(hi, diff.c + e.value - 1);
    }
    return range(
      fromLin({ terms: base.terms, c: base.c + lo }, first.min.dtype),
      intImm(hi - lo + 1, first.min.dtype),
    );
  });
  return bufferRegion(buf, region);
}

/**
 * Regions of a block that wraps other blocks (root, blockize's outer block): each nested
 * block's regions in terms of the loops around it, swept over those loops.
 */
function wrapperRegions(blk: Block): { reads: BufferRegion[]; writes: BufferRegion[] } {
  const reads = new Map<Buffer, BufferRegion[]>();
  const writes = new Map<Buffer, BufferRegion[]>();
  const add = (m: Map<Buffer, BufferRegion[]>, r: BufferRegion): void => {
    if (!m.has(r.buffer)) m.set(r.buffer, []);
    m.get(r.buffer)!.push(r);
  };
  const walk = (s: Stmt, loops: readonly For[]): void => {
    if (s.kind === 'For') {
      walk(s.body, [...loops, s]);
      return;
    }
    const ranges = new Map<Var, Interval>();
    for (const l of loops) {
      if (l.min.kind === 'IntImm' && l.extent.kind === 'IntImm')
        ranges.set(l.loopVar, [l.min.value, l.min.value + l.extent.value - 1]);
    }
    const whole = (rg: BufferRegion): BufferRegion => {
      // Loops with symbolic ranges cannot be swept: fall back to the whole buffer there.
      const symbolic = loops.filter((l) => !ranges.has(l.loopVar)).map((l) => l.loopVar);
      return rg.region.some((r) => usesAnyVar(r.min, new Set(symbolic)))
        ? bufferRegion(rg.buffer)
        : sweepRegion(rg, ranges);
    };
    if (s.kind === 'BlockRealize') {
      const bind = new Map<Node, Node>(s.block.iterVars.map((iv, i) => [iv.var, s.iterValues[i]]));
      for (const r of s.block.reads) add(reads, whole(substitute(r, bind)));
      for (const w of s.block.writes) add(writes, whole(substitute(w, bind)));
      return;
    }
    if (s.kind === 'BufferStore') {
      add(
        writes,
        whole(
          bufferRegion(
            s.buffer,
            s.indices.map((i) => range(i, intImm(1, i.dtype))),
          ),
        ),
      );
      postOrderVisit(s.value, (x) => {
        if (x.kind === 'BufferLoad') {
          const l = x as unknown as { buffer: Buffer; indices: readonly PrimExpr[] };
          add(
            reads,
            whole(
              bufferRegion(
                l.buffer,
                l.indices.map((i) => range(i, intImm(1, i.dtype))),
              ),
            ),
          );
        }
      });
      return;
    }
    for (const c of stmtChildren(s)) walk(c, loops);
  };
  walk(blk.body, []);
  const allocated = new Set(blk.allocBuffers);
  const fold = (m: Map<Buffer, BufferRegion[]>): BufferRegion[] =>
    [...m].filter(([b]) => !allocated.has(b)).map(([b, rs]) => unionRegions(b, rs));
  const w = fold(writes);
  const written = new Set(w.map((x) => x.buffer));
  return { reads: fold(reads).filter((r) => !written.has(r.buffer)), writes: w };
}

export function updateRegions(blk: Block): Block {
  if (isWrapper(blk)) {
    const { reads, writes } = wrapperRegions(blk);
    const order = (old: readonly BufferRegion[], fresh: BufferRegion[]): BufferRegion[] => {
      const pos = (b: Buffer): number => {
        const i = old.findIndex((r) => r.buffer === b);
        return i < 0 ? old.length : i;
      };
      return [...fresh].sort((a, b) => pos(a.buffer) - pos(b.buffer));
    };
    return freezeNode({
      ...blk,
      reads: Object.freeze(order(blk.reads, reads)),
      writes: Object.freeze(order(blk.writes, writes)),
    });
  }
  const loads = new Map<Buffer, PrimExpr[][]>();
  const stores = new Map<Buffer, PrimExpr[][]>();
  if (blk.init) collectAccesses(blk.init, new Map(), stores);
  collectAccesses(blk.body, loads, stores);
  const build = (old: readonly BufferRegion[], acc: Map<Buffer, PrimExpr[][]>): BufferRegion[] => {
    const out: BufferRegion[] = [];
    const done = new Set<Buffer>();
    const one = (b: Buffer): BufferRegion => {
      const a = acc.get(b)!;
      const prev = old.find((r) => r.buffer === b);
      if (a.length === 0) return prev ?? bufferRegion(b);
      return bufferRegion(b, hullRegion(b, a));
    };
    for (const r of old) {
      if (acc.has(r.buffer) && !done.has(r.buffer)) {
        out.push(one(r.buffer));
        done.add(r.buffer);
      }
    }
    for (const b of acc.keys()) {
      if (!done.has(b)) {
        out.push(one(b));
        done.add(b);
      }
    }
    return out;
  };
  // Like createPrimFunc, a block's reads leave out what it writes (the accumulator of a reduction).
  for (const b of stores.keys()) loads.delete(b);
  return freezeNode({
    ...blk,
    reads: Object.freeze(build(blk.reads, loads)),
    writes: Object.freeze(build(blk.writes, stores)),
  });
}

export function isReductionBlock(blk: Block): boolean {
  return blk.init !== undefined || blk.iterVars.some((iv) => iv.iterType === 'reduce');
}

/** Buffers that are function parameters (inputs and outputs the caller sees). */
export function paramBuffers(fn: PrimFunc): Set<Buffer> {
  const out = new Set<Buffer>();
  for (const p of fn.params) if (p.kind === 'Buffer') out.add(p);
  return out;
}

export function writers(scope: Stmt, buf: Buffer): BlockRealize[] {
  return allBlocks(scope).filter((r) => r.block.writes.some((w) => w.buffer === buf) && !isWrapper(r.block));
}
export function readers(scope: Stmt, buf: Buffer): BlockRealize[] {
  return allBlocks(scope).filter((r) => r.block.reads.some((w) => w.buffer === buf) && !isWrapper(r.block));
}

/** A block that only wraps other blocks (the root block, a blockize outer block). */
export function isWrapper(blk: Block): boolean {
  return allBlocks(blk.body).length > 0;
}

/** The single BufferStore a block body consists of, if it is one. */
export function singleStore(blk: Block): BufferStore | undefined {
  return blk.body.kind === 'BufferStore' ? blk.body : undefined;
}
