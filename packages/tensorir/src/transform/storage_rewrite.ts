// tir.StorageRewrite
// Does:        lets temporaries whose lifetimes do not overlap share storage. (1) For a
//              chain of Allocates around a sequence, each allocated buffer's live range is
//              the span of sequence items that touch it; buffers of the same scope and
//              dtype with disjoint live ranges are packed greedily into one Allocate (of
//              the largest size; `max(...)` for symbolic sizes). (2) Sibling Allocates in
//              a sequence (each scoped to its own item) share one Allocate around the
//              sequence. The other members become DeclBuffer views on the survivor's
//              `data` var. Allocations are never moved out of loops.
//              In a GPU kernel (any thread_binding loop) only `local` buffers are shared:
//              threads do not leave one sequence item together, so a `shared`/`global`
//              buffer reused by a later item could be overwritten by a fast thread while
//              a slow one still reads it (sharing those needs barriers we do not insert).
// Requires:    flat buffers (tir.FlattenBuffer); no Block / BlockRealize.
// Establishes: fewer (never more) Allocates; every access still names a declared buffer.
import type { Buffer, PrimExpr, Var } from '@kiln/ir-core';
import { collect, max as maxExpr } from '@kiln/ir-core';
import type { Allocate, For, PrimFunc, SeqStmt, Stmt } from '../stmt.js';
import { allocate, declBuffer, seqStmt } from '../stmt.js';
import { isFlatBuffer } from './flatten_buffer.js';
import { mapStmtChildren, rebuildBuffer, replaceBuffersAndVars, usesVar, withBody } from './util.js';

export interface StorageRewriteOptions {
  /** Scopes whose allocations may be shared. Default: local, shared, global. */
  scopes?: readonly string[];
}

type Wrapper = { kind: 'Allocate' | 'DeclBuffer'; buffer: Buffer; span?: Stmt['span'] };

interface Live {
  buffer: Buffer;
  first: number;
  last: number;
}

function sizeOf(b: Buffer): PrimExpr {
  return b.shape[0];
}

function maxSize(a: PrimExpr, b: PrimExpr): PrimExpr {
  if (a.kind === 'IntImm' && b.kind === 'IntImm') return a.value >= b.value ? a : b;
  return maxExpr(a, b);
}

class Rewriter {
  constructor(private readonly scopes: ReadonlySet<string>) {}

  visit(s: Stmt): Stmt {
    if (s.kind === 'SeqStmt') {
      const t = mapStmtChildren(s, (c) => this.visit(c));
      return (t.kind === 'SeqStmt' && this.shareSiblings(t)) || t;
    }
    if (s.kind !== 'Allocate') return mapStmtChildren(s, (c) => this.visit(c));
    const wrappers: Wrapper[] = [];
    let cur: Stmt = s;
    while (cur.kind === 'Allocate' || cur.kind === 'DeclBuffer') {
      wrappers.push({ kind: cur.kind, buffer: cur.buffer, span: cur.span });
      cur = cur.body;
    }
    const inner = this.visit(cur);
    const merged = inner.kind === 'SeqStmt' ? this.share(wrappers, inner.seq, inner) : undefined;
    if (merged) return merged;
    if (inner === cur) return s;
    return rewrap(wrappers, inner);
  }

  /**
   * Sibling allocations `seq[Allocate(T1, s1), ..., Allocate(T2, s2)]` never live at the
   * same time: the first becomes one Allocate around the sequence, the others views.
   */
  private shareSiblings(seq: SeqStmt): Stmt | undefined {
    const groups = new Map<string, number[]>();
    seq.seq.forEach((st, i) => {
      if (st.kind !== 'Allocate') return;
      const b = st.buffer;
      if (!isFlatBuffer(b) || !this.scopes.has(b.scope)) return;
      if (collect(st.body, (n) => n.kind === 'Buffer' && n !== b && (n as Buffer).data === b.data).length > 0)
        return;
      const key = `${b.scope}/${b.dtype.str}`;
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    const items = [...seq.seq];
    const reps: Buffer[] = [];
    for (const idxs of groups.values()) {
      if (idxs.length < 2) continue;
      const allocs = idxs.map((i) => items[i] as Allocate);
      const rep = allocs[0].buffer;
      const size = allocs.map((a) => sizeOf(a.buffer)).reduce(maxSize);
      const repNew = size === sizeOf(rep) ? rep : rebuildBuffer(rep, { shape: [size] });
      const none = new Map<Var, PrimExpr>();
      idxs.forEach((i, n) => {
        const a = allocs[n];
        if (n === 0) {
          items[i] = repNew === rep ? a.body : replaceBuffersAndVars(a.body, new Map([[rep, repNew]]), none);
          return;
        }
        const view = rebuildBuffer(a.buffer, { data: rep.data });
        items[i] = declBuffer(view, replaceBuffersAndVars(a.body, new Map([[a.buffer, view]]), none), a.span);
      });
      reps.push(repNew);
    }
    if (reps.length === 0) return undefined;
    let out = seqStmt(items, seq.span);
    for (let i = reps.length - 1; i >= 0; i--) out = allocate(reps[i], out);
    return out;
  }

  private share(wrappers: readonly Wrapper[], seq: readonly Stmt[], body: Stmt): Stmt | undefined {
    const lives: Live[] = [];
    for (const w of wrappers) {
      const b = w.buffer;
      if (w.kind !== 'Allocate' || !isFlatBuffer(b) || !this.scopes.has(b.scope)) continue;
      // Another buffer object over the same storage would dangle if this one moved.
      const aliases = collect(body, (n) => n.kind === 'Buffer' && n !== b && (n as Buffer).data === b.data);
      if (aliases.length > 0 || wrappers.some((o) => o.buffer !== b && o.buffer.data === b.data)) continue;
      let first = -1;
      let last = -1;
      seq.forEach((st, i) => {
        if (usesVar(st, b.data)) {
          if (first < 0) first = i;
          last = i;
        }
      });
      if (first >= 0) lives.push({ buffer: b, first, last });
    }
    // Greedy interval packing per (scope, dtype), earliest start first.
    const slots = new Map<string, Array<{ members: Buffer[]; last: number }>>();
    for (const l of [...lives].sort((x, y) => x.first - y.first)) {
      const key = `${l.buffer.scope}/${l.buffer.dtype.str}`;
      const list = slots.get(key) ?? [];
      slots.set(key, list);
      const slot = list.find((sl) => sl.last < l.first);
      if (slot) {
        slot.members.push(l.buffer);
        slot.last = l.last;
      } else list.push({ members: [l.buffer], last: l.last });
    }
    const bufMap = new Map<Buffer, Buffer>();
    const dropped = new Set<Buffer>();
    const views: Buffer[] = [];
    for (const list of slots.values()) {
      for (const sl of list) {
        if (sl.members.length < 2) continue;
        const [rep, ...rest] = sl.members;
        const size = sl.members.map(sizeOf).reduce(maxSize);
        if (size !== sizeOf(rep)) bufMap.set(rep, rebuildBuffer(rep, { shape: [size] }));
        for (const m of rest) {
          const view = rebuildBuffer(m, { data: rep.data });
          bufMap.set(m, view);
          dropped.add(m);
          views.push(view);
        }
      }
    }
    if (dropped.size === 0) return undefined;
    let inner = replaceBuffersAndVars(body, bufMap, new Map<Var, PrimExpr>());
    for (let i = views.length - 1; i >= 0; i--) inner = declBuffer(views[i], inner);
    const kept = wrappers
      .filter((w) => !dropped.has(w.buffer))
      .map((w) => ({ ...w, buffer: bufMap.get(w.buffer) ?? w.buffer }));
    return rewrap(kept, inner);
  }
}

function rewrap(wrappers: readonly Wrapper[], body: Stmt): Stmt {
  let out = body;
  for (let i = wrappers.length - 1; i >= 0; i--) {
    const w = wrappers[i];
    out = w.kind === 'Allocate' ? allocate(w.buffer, out, w.span) : declBuffer(w.buffer, out, w.span);
  }
  return out;
}

export function storageRewrite(fn: PrimFunc, options: StorageRewriteOptions = {}): PrimFunc {
  let scopes = new Set(options.scopes ?? ['local', 'shared', 'global']);
  const gpu = collect(fn.body, (n) => n.kind === 'For' && (n as For).forKind === 'thread_binding').length > 0;
  if (gpu) scopes = new Set([...scopes].filter((s) => s === 'local'));
  return withBody(fn, new Rewriter(scopes).visit(fn.body));
}
