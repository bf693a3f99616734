// Small analyses over TIR: which variables an expression or statement uses without
// binding them, and which buffers a statement reads and writes.
import type { Buffer, BufferLoad, Node, PrimExpr, Var } from '@kiln/ir-core';
import { childrenOf, nodeKindInfo } from '@kiln/ir-core';
import type { Block, BufferStore, IterVar, PrimFunc, Stmt } from '../stmt.js';

/**
 * Variables used in `root` but not bound inside it, in first-use order. Buffer data
 * vars (handles) are included unless `skipHandles`; vars in the shapes of buffers used
 * are included (they must be defined somewhere too).
 */
export function freeVars(root: Node, opts: { skipHandles?: boolean } = {}): Var[] {
  const out: Var[] = [];
  const seen = new Set<Var>();
  const bound = new Set<Node>();
  const visited = new Set<Node>();
  const use = (v: Var): void => {
    if (bound.has(v) || seen.has(v)) return;
    if (opts.skipHandles && v.dtype.code === 'handle') return;
    seen.add(v);
    out.push(v);
  };
  const walk = (n: Node): void => {
    if (n.kind === 'Var') {
      use(n as Var);
      return;
    }
    // Subtrees without binders can be visited once; binder-carrying kinds scope their vars.
    const info = nodeKindInfo(n.kind);
    const hasBinder = info.fields.some((f) => f.type === 'binder' || f.type === 'binder[]');
    if (!hasBinder) {
      if (visited.has(n)) return;
      visited.add(n);
    }
    if (n.kind === 'Buffer') {
      const b = n as Buffer;
      use(b.data);
      for (const c of [...b.shape, ...b.strides, b.elemOffset]) walk(c);
      return;
    }
    const rec = n as unknown as Record<string, unknown>;
    const newlyBound: Node[] = [];
    if (n.kind === 'Block') {
      // Block iter vars are scoped over the whole block, not just their IterVar node.
      for (const iv of (n as Block).iterVars) {
        walk(iv.dom);
        if (!bound.has(iv.var)) {
          bound.add(iv.var);
          newlyBound.push(iv.var);
        }
      }
    }
    if (n.kind === 'IterVar') {
      walk((n as IterVar).dom);
      return;
    }
    for (const f of info.fields) {
      const v = rec[f.name];
      if (v === undefined || v === null) continue;
      if (f.type === 'binder' || f.type === 'binder[]') {
        for (const b of f.type === 'binder' ? [v as Node] : (v as readonly Node[])) {
          if (b.kind === 'Buffer') {
            // Binding a buffer binds its data var; its shape vars must be defined outside.
            const buf = b as Buffer;
            for (const c of [...buf.shape, ...buf.strides, buf.elemOffset]) walk(c);
            if (!bound.has(buf.data)) {
              bound.add(buf.data);
              newlyBound.push(buf.data);
            }
          }
          if (!bound.has(b)) {
            bound.add(b);
            newlyBound.push(b);
          }
        }
      } else if (f.type === 'node' || f.type === 'node?') {
        walk(v as Node);
      } else if (f.type === 'node[]') {
        for (const c of v as readonly Node[]) walk(c);
      }
    }
    // Block iter vars are binders inside IterVar nodes; PrimFunc params bind buffers' shape vars.
    for (const b of newlyBound) bound.delete(b);
  };
  if (root.kind === 'PrimFunc') {
    const fn = root as PrimFunc;
    for (const p of fn.params) {
      if (p.kind === 'Buffer') {
        bound.add(p.data);
        for (const s of [...p.shape, ...p.strides, p.elemOffset]) for (const v of varsIn(s)) bound.add(v);
      }
      bound.add(p);
    }
    walk(fn.body);
    return out;
  }
  walk(root);
  return out;
}

/** Every Var node appearing in `root` (binders included), in first-seen order. */
export function varsIn(root: Node): Var[] {
  const out: Var[] = [];
  const seen = new Set<Node>();
  const walk = (n: Node): void => {
    if (seen.has(n)) return;
    seen.add(n);
    if (n.kind === 'Var') {
      out.push(n as Var);
      return;
    }
    for (const c of childrenOf(n)) walk(c);
  };
  walk(root);
  return out;
}

export interface BufferAccesses {
  /** Loads per buffer, in first-seen order. */
  readonly reads: ReadonlyMap<Buffer, readonly BufferLoad[]>;
  readonly writes: ReadonlyMap<Buffer, readonly BufferStore[]>;
}

/** All BufferLoads and BufferStores under `root`, grouped by buffer. */
export function collectBufferAccesses(root: Node): BufferAccesses {
  const reads = new Map<Buffer, BufferLoad[]>();
  const writes = new Map<Buffer, BufferStore[]>();
  const seen = new Set<Node>();
  const walk = (n: Node): void => {
    if (seen.has(n)) return;
    seen.add(n);
    if (n.kind === 'BufferLoad') {
      const l = n as BufferLoad;
      const arr = reads.get(l.buffer) ?? [];
      arr.push(l);
      reads.set(l.buffer, arr);
    } else if (n.kind === 'BufferStore') {
      const s = n as BufferStore;
      const arr = writes.get(s.buffer) ?? [];
      arr.push(s);
      writes.set(s.buffer, arr);
    }
    if (n.kind === 'Buffer') return;
    for (const c of childrenOf(n)) walk(c);
  };
  walk(root);
  return { reads, writes };
}

/** Whether `e` mentions variable `v`. */
export function usesVar(e: PrimExpr | Stmt, v: Var): boolean {
  return varsIn(e).includes(v);
}
