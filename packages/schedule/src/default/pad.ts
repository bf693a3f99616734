// Pad hoisting for the default CPU schedule: a reduction that reads its input through
// `if_then_else(in bounds, x[idx], 0)` (a padded convolution or pooling as legalized)
// gets a zero-padded copy `x_pad` written by its own block in front of it and reads
// `x_pad[idx + before]` unconditionally. The condition then no longer sits in the
// innermost loop, and the loop over the output width reads consecutive elements, so the
// contraction rule can vectorize it. The values read are the same, so results are
// bit-identical. Not hoisted: a read that is a whole vector along the output's innermost
// axis under a condition independent of that axis (depthwise convolution in NCHW[x]c),
// where one test per vector is cheaper than copying the input.
import type { Buffer, Node, PrimExpr, Var } from '@kiln/ir-core';
import {
  add,
  and,
  buffer,
  freezeNode,
  ge,
  intImm,
  lt,
  Mutator,
  primVar,
  range,
  structuralEqual,
  sub,
} from '@kiln/ir-core';
import type { BlockRealize, PrimFunc, Stmt } from '@kiln/tensorir';
import {
  block,
  blockRealize,
  bufferLoad,
  bufferRegion,
  bufferStore,
  forLoop,
  ifThenElseExpr,
  iterVar,
  seqStmt,
} from '@kiln/tensorir';
import type { VarRanges } from '../arith.js';
import { bounds, simplifyIndex } from '../arith.js';
import { allBlocks, replaceStmt, uniqueBlockName } from '../tree.js';

interface Padded {
  readonly call: PrimExpr;
  /** The value outside the input (zero). */
  readonly other: PrimExpr;
  readonly src: Buffer;
  readonly indices: readonly PrimExpr[];
  readonly before: readonly number[];
  readonly after: readonly number[];
}

function conjuncts(e: PrimExpr): PrimExpr[] {
  if (e.kind === 'And') return [...conjuncts(e.a), ...conjuncts(e.b)];
  return [e];
}

const isZero = (e: PrimExpr) => (e.kind === 'FloatImm' || e.kind === 'IntImm') && e.value === 0;

/** The padded read `call` of `r`, when its condition is exactly an in-bounds test of its load. */
function paddedRead(call: PrimExpr, ranges: VarRanges): Padded | undefined {
  if (call.kind !== 'Call' || call.op !== 'tir.if_then_else' || call.args.length !== 3) return undefined;
  const [cond, load, other] = call.args;
  if (load.kind !== 'BufferLoad' || !isZero(other)) return undefined;
  const src = load.buffer;
  const idx = load.indices;
  const lo = new Set<number>();
  const hi = new Set<number>();
  for (const c of conjuncts(cond)) {
    // idx_d >= 0 (or 0 <= idx_d) and idx_d < shape_d
    let matched = false;
    for (let d = 0; d < idx.length && !matched; d++) {
      if (
        (c.kind === 'GE' && structuralEqual(c.a, idx[d]) && isZero(c.b)) ||
        (c.kind === 'LE' && isZero(c.a) && structuralEqual(c.b, idx[d]))
      ) {
        lo.add(d);
        matched = true;
      } else if (c.kind === 'LT' && structuralEqual(c.a, idx[d]) && structuralEqual(c.b, src.shape[d])) {
        hi.add(d);
        matched = true;
      }
    }
    if (!matched) return undefined;
  }
  const before: number[] = [];
  const after: number[] = [];
  for (let d = 0; d < idx.length; d++) {
    const ext = src.shape[d];
    if (ext.kind !== 'IntImm') return undefined;
    const b = bounds(idx[d], ranges);
    if (!b) return undefined;
    const need0 = Math.max(0, -b[0]);
    const need1 = Math.max(0, b[1] - (ext.value - 1));
    // A side left unchecked must never be out of range.
    if ((need0 > 0 && !lo.has(d)) || (need1 > 0 && !hi.has(d))) return undefined;
    before.push(need0);
    after.push(need1);
  }
  if (before.every((x) => x === 0) && after.every((x) => x === 0)) return undefined;
  return { call, other, src, indices: idx, before, after };
}

/** The loop nest of one block writing the zero-padded copy `dst` of `p.src`. */
function padNest(name: string, p: Padded, dst: Buffer): Stmt {
  const ivs = dst.shape.map((extent, d) =>
    iterVar(primVar(`v${d}`, extent.dtype), range(intImm(0, extent.dtype), extent), 'spatial'),
  );
  const vs = ivs.map((iv) => iv.var);
  const srcIdx = vs.map((v, d) => (p.before[d] ? sub(v, intImm(p.before[d], v.dtype)) : v));
  let cond: PrimExpr | undefined;
  p.src.shape.forEach((ext, d) => {
    const v = vs[d];
    const cs: PrimExpr[] = [];
    if (p.before[d]) cs.push(ge(v, intImm(p.before[d], v.dtype)));
    if (p.after[d]) cs.push(lt(v, add(ext, intImm(p.before[d], v.dtype))));
    for (const c of cs) cond = cond ? and(cond, c) : c;
  });
  const value = cond ? ifThenElseExpr(cond, bufferLoad(p.src, srcIdx), p.other) : bufferLoad(p.src, srcIdx);
  const blk = block(name, bufferStore(dst, value, vs), {
    iterVars: ivs,
    reads: [
      bufferRegion(
        p.src,
        p.src.shape.map((e) => range(intImm(0, e.dtype), e)),
      ),
    ],
    writes: [
      bufferRegion(
        dst,
        vs.map((v) => range(v, intImm(1, v.dtype))),
      ),
    ],
  });
  const loops: Var[] = dst.shape.map((e, d) => primVar(`ax${d}`, e.dtype));
  let s: Stmt = blockRealize(loops, true, blk);
  for (let d = loops.length - 1; d >= 0; d--) s = forLoop(loops[d], 0, dst.shape[d], s);
  return s;
}

/** Hoist the padded reads of the top-level reduction blocks of `fn` into padding blocks. */
export function hoistPadding(fn: PrimFunc): PrimFunc {
  if (fn.body.kind !== 'BlockRealize') return fn;
  let out = fn;
  for (const r of allBlocks(fn.body)) {
    if (r.block.name === 'root' || !r.block.init || r.block.body.kind !== 'BufferStore') continue;
    const ranges = new Map<Var, readonly [number, number]>();
    for (const iv of r.block.iterVars) {
      if (iv.dom.min.kind !== 'IntImm' || iv.dom.extent.kind !== 'IntImm') continue;
      ranges.set(iv.var, [iv.dom.min.value, iv.dom.min.value + iv.dom.extent.value - 1]);
    }
    const found: Padded[] = [];
    const visit = (e: PrimExpr) => {
      const p = paddedRead(e, ranges);
      if (p) found.push(p);
    };
    walkExpr(r.block.body.value, visit);
    if (found.length !== 1) continue;
    const p = found[0];
    if (uniformAcrossVector(r, p)) continue;
    const dst = buffer(
      `${p.src.name}_pad`,
      p.src.dtype,
      p.src.shape.map((e, d) => intImm((e as { value: number }).value + p.before[d] + p.after[d], e.dtype)),
    );
    const root = out.body as BlockRealize;
    const newLoad = bufferLoad(
      dst,
      p.indices.map((e, d) => (p.before[d] ? simplifyIndex(add(e, intImm(p.before[d], e.dtype))) : e)),
    );
    class Swap extends Mutator {
      protected override visitNode(n: Node): Node {
        return n === p.call ? newLoad : this.defaultVisit(n);
      }
    }
    const cur = allBlocks(root).find((x) => x.block.name === r.block.name)!;
    const reads = cur.block.reads.map((rg) =>
      rg.buffer === p.src
        ? bufferRegion(
            dst,
            rg.region.map((x, d) =>
              range(simplifyIndex(add(x.min, intImm(p.before[d], x.min.dtype))), x.extent),
            ),
          )
        : rg,
    );
    const blk = freezeNode({
      ...cur.block,
      body: new Swap().visit(cur.block.body),
      reads: Object.freeze(reads),
    });
    let body = replaceStmt(root, cur.block, blk) as BlockRealize;
    // Insert the padding nest in front of the statement of the root body holding the block.
    const rootBlock = body.block;
    const items = rootBlock.body.kind === 'SeqStmt' ? rootBlock.body.seq : [rootBlock.body];
    const at = items.findIndex((s) => allBlocks(s).some((x) => x.block.name === r.block.name));
    if (at < 0) continue;
    const name = uniqueBlockName(body, `${p.src.name}_pad`);
    const nest = padNest(name, p, dst);
    const seq = [...items.slice(0, at), nest, ...items.slice(at)];
    const newRoot = freezeNode({
      ...rootBlock,
      body: seqStmt(seq),
      allocBuffers: Object.freeze([...rootBlock.allocBuffers, dst]),
    });
    body = freezeNode({ ...body, block: newRoot });
    out = Object.freeze({ ...out, body });
  }
  return out;
}

/**
 * Whether the padded read is a vector along the block's innermost output axis under a
 * condition that does not depend on that axis (a depthwise convolution in NCHW[x]c):
 * the vectorized kernel then tests the condition once per vector, which costs less than
 * a padded copy of the whole input.
 */
function uniformAcrossVector(r: BlockRealize, p: Padded): boolean {
  const store = r.block.body.kind === 'BufferStore' ? r.block.body : undefined;
  if (!store || store.indices.length === 0) return false;
  const last = store.indices[store.indices.length - 1];
  if (last.kind !== 'Var') return false;
  const n = p.indices.length;
  if (n === 0 || p.indices[n - 1] !== last) return false;
  const cond = (p.call as { args: readonly PrimExpr[] }).args[0];
  return !usesVarIn(cond, last) && p.indices.slice(0, n - 1).every((e) => !usesVarIn(e, last));
}

function usesVarIn(e: PrimExpr, v: PrimExpr): boolean {
  let uses = false;
  walkExpr(e, (x) => {
    if (x === v) uses = true;
  });
  return uses;
}

function walkExpr(e: PrimExpr, f: (e: PrimExpr) => void): void {
  f(e);
  switch (e.kind) {
    case 'Call':
      for (const a of e.args) walkExpr(a, f);
      return;
    case 'Cast':
      walkExpr(e.value, f);
      return;
    default:
      if ('a' in e && 'b' in e) {
        walkExpr(e.a as PrimExpr, f);
        walkExpr(e.b as PrimExpr, f);
      }
  }
}
