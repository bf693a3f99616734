// relax.AnnotateTIROpPattern: derive each PrimFunc's fusion pattern (TVM's OpPatternKind)
// from its TIR and record it as the `op_pattern` attribute.
// What it looks at: the leaf blocks under the root block. A block with an `init` is a
// reduction: `acc = acc + a * b` with a and b reading different buffers is
// out_elemwise_fusable (matmul, conv), anything else comm_reduce. A spatial block compares
// the indices of every load with the indices it stores to: equal → elemwise, a subsequence
// of the stored iteration variables (or constant 0 for size-1 dims) → broadcast, anything
// else → injective. The function's kind is the largest of its blocks', except that only
// elemwise/broadcast blocks may follow a reduction, and two matmul-like reductions or any
// statement the analysis does not understand make it opaque.
// Requires: nothing (PrimFuncs in block form, as createPrimFunc builds them; already
// lowered loop nests come out opaque). Establishes: 'op_pattern_annotated'.
import type { Buffer, BufferLoad, Node, PrimExpr, Var } from '@kiln/ir-core';
import { childrenOf, definePass, structuralEqual } from '@kiln/ir-core';
import type { OpPattern } from '@kiln/relax';
import type { Block, BufferStore, PrimFunc, Stmt } from '@kiln/tensorir';
import { primFunc } from '@kiln/tensorir';
import { z } from 'zod';

/** Order of the pattern kinds: a fused group has the largest kind of its members. */
export const PATTERN_RANK: Readonly<Record<OpPattern, number>> = Object.freeze({
  elemwise: 0,
  broadcast: 1,
  injective: 2,
  comm_reduce: 3,
  out_elemwise_fusable: 4,
  opaque: 5,
});

export function maxPattern(a: OpPattern, b: OpPattern): OpPattern {
  return PATTERN_RANK[a] >= PATTERN_RANK[b] ? a : b;
}

const PATTERNS = new Set<string>(Object.keys(PATTERN_RANK));
export function isOpPattern(x: unknown): x is OpPattern {
  return typeof x === 'string' && PATTERNS.has(x);
}

/** The recorded pattern of a PrimFunc, if AnnotateTIROpPattern (or its author) set one. */
export function opPatternOf(fn: PrimFunc): OpPattern | undefined {
  const p = fn.attrs.op_pattern;
  return isOpPattern(p) ? p : undefined;
}

/** Raised inside the walk when something makes the function opaque. */
class Opaque extends Error {}

interface LeafBlock {
  readonly block: Block;
}

function collectLeafBlocks(s: Stmt, out: LeafBlock[]): void {
  switch (s.kind) {
    case 'SeqStmt':
      for (const c of s.seq) collectLeafBlocks(c, out);
      return;
    case 'For':
      collectLeafBlocks(s.body, out);
      return;
    case 'BlockRealize': {
      const b = s.block;
      if (b.iterVars.length === 0 && b.init === undefined && containsBlock(b.body)) {
        collectLeafBlocks(b.body, out); // a root (or other grouping) block
        return;
      }
      out.push({ block: b });
      return;
    }
    case 'Block':
      collectLeafBlocks(s.body, out);
      return;
    default:
      // Stores outside blocks, allocations, calls for side effects: not analysable.
      throw new Opaque();
  }
}

function containsBlock(s: Stmt): boolean {
  let found = false;
  const walk = (n: Node): void => {
    if (found) return;
    if (n.kind === 'BlockRealize') {
      found = true;
      return;
    }
    for (const c of childrenOf(n)) walk(c);
  };
  walk(s);
  return found;
}

/** The stores of a block body, looking through `where` conditions and lets. */
function storesOf(s: Stmt, out: BufferStore[], conds: PrimExpr[]): void {
  switch (s.kind) {
    case 'BufferStore':
      out.push(s);
      return;
    case 'SeqStmt':
      for (const c of s.seq) storesOf(c, out, conds);
      return;
    case 'IfThenElse':
      conds.push(s.cond);
      storesOf(s.then, out, conds);
      if (s.else) storesOf(s.else, out, conds);
      return;
    case 'LetStmt':
      conds.push(s.value);
      storesOf(s.body, out, conds);
      return;
    default:
      throw new Opaque();
  }
}

function loadsIn(e: Node): BufferLoad[] {
  const out: BufferLoad[] = [];
  const seen = new Set<Node>();
  const walk = (n: Node): void => {
    if (seen.has(n)) return;
    seen.add(n);
    if (n.kind === 'BufferLoad') out.push(n as BufferLoad);
    if (n.kind === 'Buffer') return;
    for (const c of childrenOf(n)) walk(c);
  };
  walk(e);
  return out;
}

function sameIndex(a: PrimExpr, b: PrimExpr): boolean {
  return a === b || structuralEqual(a, b);
}

/** How a load relates to the stored indices: elemwise, broadcast or injective. */
function loadPattern(load: BufferLoad, storeIdx: readonly PrimExpr[]): OpPattern {
  const idx = load.indices;
  if (idx.length === storeIdx.length && idx.every((e, i) => sameIndex(e, storeIdx[i]))) return 'elemwise';
  // Broadcast: every index is a stored iteration variable (in increasing position) or a
  // constant 0 on a dimension of extent 1.
  let pos = -1;
  for (let d = 0; d < idx.length; d++) {
    const e = idx[d];
    if (e.kind === 'IntImm' && e.value === 0) {
      const ext = load.buffer.shape[d];
      if (ext.kind === 'IntImm' && ext.value === 1) continue;
      return 'injective';
    }
    if (e.kind !== 'Var') return 'injective';
    const at = storeIdx.findIndex((s, i) => i > pos && s === e);
    if (at < 0) return 'injective';
    pos = at;
  }
  return 'broadcast';
}

function buffersIn(e: PrimExpr): Set<Buffer> {
  return new Set(loadsIn(e).map((l) => l.buffer));
}

/** `acc + a * b` (either operand order, casts allowed) with a and b reading different buffers. */
function isMultiplyAccumulate(store: BufferStore): boolean {
  const v = store.value;
  if (v.kind !== 'Add') return false;
  const isAcc = (e: PrimExpr) => e.kind === 'BufferLoad' && e.buffer === store.buffer;
  const other = isAcc(v.a) ? v.b : isAcc(v.b) ? v.a : undefined;
  if (!other) return false;
  let prod = other;
  while (prod.kind === 'Cast') prod = prod.value;
  if (prod.kind !== 'Mul') return false;
  const a = buffersIn(prod.a);
  const b = buffersIn(prod.b);
  if (a.size === 0 || b.size === 0 || a.has(store.buffer) || b.has(store.buffer)) return false;
  for (const x of a) if (b.has(x)) return false;
  return true;
}

function blockPattern(b: Block): OpPattern {
  const stores: BufferStore[] = [];
  const conds: PrimExpr[] = [];
  storesOf(b.body, stores, conds);
  if (stores.length === 0) throw new Opaque();
  const spatial: Var[] = b.iterVars.filter((iv) => iv.iterType === 'spatial').map((iv) => iv.var);
  for (const s of stores) {
    // Each output element is written once, at the spatial iteration point.
    if (s.indices.length !== spatial.length || s.indices.some((e, i) => e !== spatial[i])) throw new Opaque();
  }
  const written = new Set(stores.map((s) => s.buffer));
  if (b.init !== undefined) {
    if (!b.iterVars.some((iv) => iv.iterType === 'reduce')) throw new Opaque();
    return stores.length === 1 && isMultiplyAccumulate(stores[0]) ? 'out_elemwise_fusable' : 'comm_reduce';
  }
  if (b.iterVars.some((iv) => iv.iterType !== 'spatial')) throw new Opaque();
  let kind: OpPattern = 'elemwise';
  for (const e of [...stores.map((s) => s.value), ...conds]) {
    for (const l of loadsIn(e)) {
      if (written.has(l.buffer)) throw new Opaque();
      kind = maxPattern(kind, loadPattern(l, stores[0].indices));
    }
  }
  return kind;
}

/** The pattern kind of a PrimFunc, derived from its blocks. */
export function analyzeOpPattern(fn: PrimFunc): OpPattern {
  const leaves: LeafBlock[] = [];
  try {
    collectLeafBlocks(fn.body, leaves);
    if (leaves.length === 0) return 'opaque';
    let kind: OpPattern = 'elemwise';
    let reductions = 0;
    let matmulLike = 0;
    for (const { block } of leaves) {
      const k = blockPattern(block);
      if (k === 'comm_reduce' || k === 'out_elemwise_fusable') {
        reductions++;
        if (k === 'out_elemwise_fusable') matmulLike++;
      } else if (reductions > 0 && PATTERN_RANK[k] > PATTERN_RANK.broadcast) {
        // A gather or reshape after a reduction is not an epilogue FuseOps can extend.
        return 'opaque';
      }
      kind = maxPattern(kind, k);
    }
    if (matmulLike > 1) return 'opaque';
    // A matmul-like block next to another reduction (attention, norms) fuses like a reduction.
    if (matmulLike === 1 && reductions > 1) return 'comm_reduce';
    return kind;
  } catch (e) {
    if (e instanceof Opaque) return 'opaque';
    throw e;
  }
}

const options = z.object({
  /** Recompute the pattern of functions that already carry one. */
  overwrite: z.boolean().default(false),
});

export const AnnotateTIROpPattern = definePass<z.output<typeof options>, z.input<typeof options>, PrimFunc>({
  name: 'relax.AnnotateTIROpPattern',
  kind: 'prim_func',
  establishes: ['op_pattern_annotated'],
  options,
  transform(fn, _name, _ctx, o) {
    if (!o.overwrite && opPatternOf(fn) !== undefined) return fn;
    const kind = analyzeOpPattern(fn);
    if (fn.attrs.op_pattern === kind) return fn;
    return primFunc(fn.params, fn.body, {
      attrs: { ...fn.attrs, op_pattern: kind },
      retType: fn.retType,
      span: fn.span,
    });
  },
});
