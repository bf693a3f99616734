// Memory-scope primitives: cacheRead / cacheWrite stage a buffer through a copy in another
// storage scope, setScope retags an intermediate buffer, storageAlign records the padding
// a later lowering applies to an allocation's strides.
import type { AttrValue, Buffer, Var } from '@kiln/ir-core';
import { buffer, freezeNode, intImm, primVar, range } from '@kiln/ir-core';
import type { Block, BlockRealize, PrimFunc, Stmt } from '@kiln/tensorir';
import {
  block,
  blockRealize,
  bufferLoad,
  bufferRegion,
  bufferStore,
  forLoop,
  iterVar,
  seqStmt,
} from '@kiln/tensorir';
import { ScheduleErrorCodes as C, fail } from '../errors.js';
import { paramBuffers, readers, writers } from '../regions.js';
import {
  replaceBuffers,
  replaceStmt,
  requireRootScope,
  TreeIndex,
  uniqueBlockName,
  withBody,
} from '../tree.js';

function scopeTag(scope: string): string {
  return scope.replace(/[^A-Za-z0-9_]/g, '_');
}

/** A loop nest with one block copying `src` into `dst` element by element. */
function copyNest(name: string, src: Buffer, dst: Buffer): Stmt {
  const ivs = src.shape.map((extent, d) =>
    iterVar(primVar(`v${d}`, extent.dtype), range(intImm(0, extent.dtype), extent), 'spatial'),
  );
  const vars = ivs.map((iv) => iv.var);
  const point = vars.map((v) => range(v, intImm(1, v.dtype)));
  const blk = block(name, bufferStore(dst, bufferLoad(src, vars), vars), {
    iterVars: ivs,
    reads: [bufferRegion(src, point)],
    writes: [bufferRegion(dst, point)],
  });
  const loops: Var[] = src.shape.map((e, d) => primVar(`ax${d}`, e.dtype));
  let s: Stmt = blockRealize(loops, true, blk);
  for (let d = loops.length - 1; d >= 0; d--) s = forLoop(loops[d], 0, src.shape[d], s);
  return s;
}

interface Placement {
  scope: Block;
  /** The statement of the scope's body that contains the block. */
  item: Stmt;
}

function placementOf(prim: string, idx: TreeIndex, r: BlockRealize): Placement {
  const scope = idx.scopeBlock(r);
  if (!scope) fail(C.SCHEDULE_ERROR, prim, `block '${r.block.name}' has no enclosing scope block`);
  const container = scope.body.kind === 'SeqStmt' ? scope.body : scope;
  const item = idx.childOnPath(container, r)!;
  return { scope, item };
}

/** Insert `stmt` before/after `item` in the body of `scope`, and allocate `buf` there. */
function insertInScope(root: Stmt, p: Placement, stmt: Stmt, where: 'before' | 'after', buf: Buffer): Stmt {
  const seq = where === 'before' ? [stmt, p.item] : [p.item, stmt];
  let body: Stmt;
  if (p.scope.body === p.item) body = seqStmt(seq);
  else {
    const items = (p.scope.body as { seq: readonly Stmt[] }).seq;
    const at = items.indexOf(p.item);
    body = seqStmt([...items.slice(0, at), ...seq, ...items.slice(at + 1)]);
  }
  const scope = freezeNode({ ...p.scope, body, allocBuffers: Object.freeze([...p.scope.allocBuffers, buf]) });
  return replaceStmt(root, p.scope, scope);
}

function cacheBuffer(src: Buffer, scope: string): Buffer {
  return buffer(`${src.name}_${scopeTag(scope)}`, src.dtype, src.shape, { scope });
}

/** Read `block.reads[readIndex]` through a copy in `scope`; returns the copy block's name. */
export function cacheRead(
  fn: PrimFunc,
  r: BlockRealize,
  readIndex: number,
  scope: string,
): { fn: PrimFunc; block: string } {
  const prim = 'cacheRead';
  const blk = r.block;
  const region = blk.reads[readIndex];
  if (!region)
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `block '${blk.name}' has no read buffer #${readIndex} (it reads ${blk.reads.length})`,
    );
  const src = region.buffer;
  requireRootScope(prim, new TreeIndex(fn.body), r, (m) => fail(C.SCHEDULE_ERROR, prim, m));
  if (blk.writes.some((w) => w.buffer === src))
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `block '${blk.name}' also writes '${src.name}'; a read cache would go stale`,
    );
  const idx = new TreeIndex(fn.body);
  const place = placementOf(prim, idx, r);
  const sneaky = writers(place.item, src).filter((w) => w !== r);
  if (sneaky.length > 0) {
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `'${src.name}' is written by block '${sneaky[0].block.name}' in the same loop nest as block '${blk.name}'`,
    );
  }
  const dst = cacheBuffer(src, scope);
  const name = uniqueBlockName(fn.body, dst.name);
  const consumer = freezeNode({
    ...blk,
    body: replaceBuffers(blk.body, new Map([[src, dst]])),
    init: blk.init,
    reads: Object.freeze(blk.reads.map((rg) => (rg.buffer === src ? bufferRegion(dst, rg.region) : rg))),
  });
  let body = replaceStmt(fn.body, blk, consumer);
  const idx2 = new TreeIndex(body);
  const r2 = idx2.blocks.get(blk.name)!;
  body = insertInScope(body, placementOf(prim, idx2, r2), copyNest(name, src, dst), 'before', dst);
  return { fn: withBody(fn, body), block: name };
}

/** Write `block.writes[writeIndex]` into a buffer in `scope`, then copy it back; returns the copy block's name. */
export function cacheWrite(
  fn: PrimFunc,
  r: BlockRealize,
  writeIndex: number,
  scope: string,
): { fn: PrimFunc; block: string } {
  const prim = 'cacheWrite';
  const blk = r.block;
  const region = blk.writes[writeIndex];
  if (!region)
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `block '${blk.name}' has no write buffer #${writeIndex} (it writes ${blk.writes.length})`,
    );
  const dst = region.buffer;
  const idx = new TreeIndex(fn.body);
  requireRootScope(prim, idx, r, (m) => fail(C.SCHEDULE_ERROR, prim, m));
  const place = placementOf(prim, idx, r);
  const others = writers(place.scope.body, dst).filter((w) => w !== r);
  if (others.length > 0)
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `'${dst.name}' is also written by block '${others[0].block.name}'; block '${blk.name}' is not its only writer`,
    );
  const early = readers(place.item, dst).filter((w) => w !== r);
  if (early.length > 0) {
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `block '${early[0].block.name}' reads '${dst.name}' in the same loop nest as block '${blk.name}', before the write-back`,
    );
  }
  const cache = cacheBuffer(dst, scope);
  const name = uniqueBlockName(fn.body, cache.name);
  const producer = replaceBuffers(blk, new Map([[dst, cache]]));
  let body = replaceStmt(fn.body, blk, producer);
  const idx2 = new TreeIndex(body);
  const r2 = idx2.blocks.get(blk.name)!;
  body = insertInScope(body, placementOf(prim, idx2, r2), copyNest(name, cache, dst), 'after', cache);
  return { fn: withBody(fn, body), block: name };
}

function allocatedWrite(prim: string, fn: PrimFunc, r: BlockRealize, bufferIndex: number): Buffer {
  const region = r.block.writes[bufferIndex];
  if (!region)
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `block '${r.block.name}' has no write buffer #${bufferIndex} (it writes ${r.block.writes.length})`,
    );
  if (paramBuffers(fn).has(region.buffer)) {
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `buffer '${region.buffer.name}' written by block '${r.block.name}' is a function parameter; only intermediate buffers can change`,
    );
  }
  return region.buffer;
}

/** Move the intermediate buffer written by `block.writes[bufferIndex]` to another storage scope. */
export function setScope(fn: PrimFunc, r: BlockRealize, bufferIndex: number, scope: string): PrimFunc {
  const buf = allocatedWrite('setScope', fn, r, bufferIndex);
  if (buf.scope === scope) return fn;
  const next = freezeNode({ ...buf, scope });
  return withBody(fn, replaceBuffers(fn.body, new Map([[buf, next]])));
}

/** Record that dimension `axis` of an intermediate buffer gets a stride ≡ offset (mod factor). */
export function storageAlign(
  fn: PrimFunc,
  r: BlockRealize,
  bufferIndex: number,
  axis: number,
  factor: number,
  offset: number,
): PrimFunc {
  const prim = 'storageAlign';
  const buf = allocatedWrite(prim, fn, r, bufferIndex);
  if (!Number.isInteger(axis) || axis < 0 || axis >= buf.shape.length) {
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `axis ${axis} is out of range for buffer '${buf.name}' of rank ${buf.shape.length}`,
    );
  }
  if (
    !Number.isInteger(factor) ||
    factor <= 0 ||
    !Number.isInteger(offset) ||
    offset < 0 ||
    offset >= factor
  ) {
    fail(
      C.SCHEDULE_ERROR,
      prim,
      `factor ${factor} / offset ${offset} for buffer '${buf.name}' need factor > 0 and 0 <= offset < factor`,
    );
  }
  const prev = (r.block.annotations.buffer_dim_align as readonly (readonly number[])[] | undefined) ?? [];
  const entries: AttrValue[] = prev
    .filter((e) => !(e[0] === bufferIndex && e[1] === axis))
    .map((e) => [...e]);
  entries.push([bufferIndex, axis, factor, offset]);
  const blk = freezeNode({
    ...r.block,
    annotations: Object.freeze({ ...r.block.annotations, buffer_dim_align: entries }),
  });
  return withBody(fn, replaceStmt(fn.body, r.block, blk));
}
