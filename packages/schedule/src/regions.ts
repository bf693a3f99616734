// Buffer access regions of blocks: deriving a block's reads/writes from its body, and
// the block-level facts the legality checks ask about (reduction or not, who writes what).
import type { Buffer, Node, PrimExpr, Range } from '@kiln/ir-core';
import { freezeNode, intImm, postOrderVisit, range } from '@kiln/ir-core';
import type { Block, BlockRealize, BufferRegion, BufferStore, PrimFunc, Stmt } from '@kiln/tensorir';
import { bufferRegion } from '@kiln/tensorir';
import { exprKey, fromLin, linearize, linSub, simplifyIndex } from './arith.js';
import { allBlocks } from './tree.js';

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
export function updateRegions(blk: Block): Block {
  const loads = new Map<Buffer, PrimExpr[][]>();
  const stores = new Map<Buffer, PrimExpr[][]>();
  if (blk.init) collectAccesses(blk.init, new Map(), stores);
  collectAccesses(blk.body, loads, stores);
  // Nested blocks (after blockize) declare their own regions; use them for their buffers.
  for (const inner of allBlocks(blk.body)) {
    for (const r of inner.block.reads) if (!loads.has(r.buffer)) loads.set(r.buffer, []);
    for (const r of inner.block.writes) if (!stores.has(r.buffer)) stores.set(r.buffer, []);
  }
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
  return freezeNode({ ...blk, reads: Object.freeze(build(blk.reads, loads)), writes: Object.freeze(build(blk.writes, stores)) });
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
