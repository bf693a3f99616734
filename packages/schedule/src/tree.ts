// Navigating and rewriting the statement tree of a PrimFunc. Nodes are immutable, so a
// primitive locates what it works on through a parent index and rebuilds the path above
// it; unchanged subtrees are shared with the previous function.
import type { Buffer, Node, Var } from '@kiln/ir-core';
import { freezeNode, Mutator, postOrderVisit } from '@kiln/ir-core';
import type { Block, BlockRealize, For, PrimFunc, Stmt } from '@kiln/tensorir';
import { evaluate, seqStmt } from '@kiln/tensorir';

/** The statement children of `s` (block init is a child too: it holds stores only). */
export function stmtChildren(s: Stmt): Stmt[] {
  switch (s.kind) {
    case 'For':
    case 'While':
    case 'LetStmt':
    case 'Allocate':
    case 'DeclBuffer':
    case 'AttrStmt':
      return [s.body];
    case 'SeqStmt':
      return [...s.seq];
    case 'IfThenElse':
      return s.else ? [s.then, s.else] : [s.then];
    case 'BlockRealize':
      return [s.block];
    case 'Block':
      return s.init ? [s.init, s.body] : [s.body];
    default:
      return [];
  }
}

/** A parent index over a function body, built once per primitive application. */
export class TreeIndex {
  readonly parent = new Map<Stmt, Stmt>();
  readonly blocks = new Map<string, BlockRealize>();
  readonly loops = new Map<Var, For>();
  /** Statements in pre-order (execution order of their starts). */
  readonly order: Stmt[] = [];

  constructor(readonly root: Stmt) {
    const walk = (s: Stmt): void => {
      this.order.push(s);
      if (s.kind === 'BlockRealize') this.blocks.set(s.block.name, s);
      if (s.kind === 'For') this.loops.set(s.loopVar, s);
      for (const c of stmtChildren(s)) {
        this.parent.set(c, s);
        walk(c);
      }
    };
    walk(root);
  }

  /** Ancestors of `s`, innermost first. */
  ancestors(s: Stmt): Stmt[] {
    const out: Stmt[] = [];
    for (let p = this.parent.get(s); p; p = this.parent.get(p)) out.push(p);
    return out;
  }

  /** The block whose body encloses `s` (its scope), if any. */
  scopeBlock(s: Stmt): Block | undefined {
    for (const a of this.ancestors(s)) if (a.kind === 'Block') return a;
    return undefined;
  }

  /** The loops between the enclosing scope block and `s`, outermost first. */
  loopsAbove(s: Stmt): For[] {
    const out: For[] = [];
    for (const a of this.ancestors(s)) {
      if (a.kind === 'Block') break;
      if (a.kind === 'For') out.push(a);
    }
    return out.reverse();
  }

  isAncestor(anc: Stmt, s: Stmt): boolean {
    for (let p = this.parent.get(s); p; p = this.parent.get(p)) if (p === anc) return true;
    return false;
  }

  /** Block realizes directly under `s`: not nested inside another block below `s`. */
  childBlocks(s: Stmt): BlockRealize[] {
    const out: BlockRealize[] = [];
    const walk = (x: Stmt): void => {
      if (x.kind === 'BlockRealize') {
        out.push(x);
        return;
      }
      for (const c of stmtChildren(x)) walk(c);
    };
    for (const c of stmtChildren(s.kind === 'BlockRealize' ? s.block : s)) walk(c);
    return out;
  }

  private positions?: Map<Stmt, number>;

  /** Position (pre-order index) of a statement, for before/after questions. */
  pos(s: Stmt): number {
    if (!this.positions) this.positions = new Map(this.order.map((x, i) => [x, i]));
    return this.positions.get(s) ?? -1;
  }

  /** The child of `scope` (a Block body or a For) on the path down to `s`. */
  childOnPath(container: Stmt, s: Stmt): Stmt | undefined {
    let cur: Stmt | undefined = s;
    while (cur) {
      const p = this.parent.get(cur);
      if (p === container) return cur;
      cur = p;
    }
    return undefined;
  }
}

/** All block realizes in pre-order under `s` (including nested scopes). */
export function allBlocks(s: Stmt): BlockRealize[] {
  const out: BlockRealize[] = [];
  const walk = (x: Stmt): void => {
    if (x.kind === 'BlockRealize') out.push(x);
    for (const c of stmtChildren(x)) walk(c);
  };
  walk(s);
  return out;
}

/**
 * Rewrite statements top-down: `fn` returns a replacement (or `null` to delete), or
 * `undefined` to recurse into the children. Loops and sequences that lose their whole body
 * disappear too; a rewrite that changes nothing returns `s` itself.
 */
export function transformStmt(s: Stmt, fn: (s: Stmt) => Stmt | null | undefined): Stmt | null {
  const r = fn(s);
  if (r !== undefined) return r;
  switch (s.kind) {
    case 'For':
    case 'While':
    case 'LetStmt':
    case 'AttrStmt':
    case 'Allocate':
    case 'DeclBuffer': {
      const b = transformStmt(s.body, fn);
      if (b === null) return null;
      return b === s.body ? s : freezeNode({ ...s, body: b });
    }
    case 'SeqStmt': {
      const parts: Stmt[] = [];
      let changed = false;
      for (const c of s.seq) {
        const n = transformStmt(c, fn);
        if (n !== c) changed = true;
        if (n !== null) parts.push(n);
      }
      if (!changed) return s;
      if (parts.length === 0) return null;
      return seqStmt(parts, s.span);
    }
    case 'IfThenElse': {
      const t = transformStmt(s.then, fn);
      const e = s.else ? transformStmt(s.else, fn) : undefined;
      if (t === s.then && e === s.else) return s;
      if (t === null && !e) return null;
      return freezeNode({ ...s, then: t ?? evaluate(0), else: e ?? undefined });
    }
    case 'BlockRealize': {
      const b = transformStmt(s.block, fn);
      if (b === null) return null;
      return b === s.block ? s : freezeNode({ ...s, block: b as Block });
    }
    case 'Block': {
      const b = transformStmt(s.body, fn);
      if (b === s.body) return s;
      // A scope block keeps existing even when all its children moved away.
      return freezeNode({ ...s, body: b ?? evaluate(0) });
    }
    default:
      return s;
  }
}

/** Replace one statement (by identity) with another, or delete it with `null`. */
export function replaceStmt(root: Stmt, target: Stmt, replacement: Stmt | null): Stmt {
  const r = transformStmt(root, (s) => (s === target ? replacement : undefined));
  return r ?? evaluate(0);
}

export function withBody(fn: PrimFunc, body: Stmt): PrimFunc {
  return body === fn.body ? fn : freezeNode({ ...fn, body });
}

/**
 * Replace buffers everywhere, binder positions (allocations) included, which `substitute`
 * deliberately leaves alone.
 */
export function replaceBuffers<T extends Node>(root: T, map: ReadonlyMap<Buffer, Buffer>): T {
  if (map.size === 0) return root;
  class Swap extends Mutator {
    protected override visitNode(n: Node): Node {
      const r = map.get(n as Buffer);
      return r !== undefined ? r : this.defaultVisit(n);
    }
  }
  return new Swap().visit(root);
}

/** Buffers loaded anywhere under `n`. */
export function loadedBuffers(n: Node): Set<Buffer> {
  const out = new Set<Buffer>();
  postOrderVisit(n, (x) => {
    if (x.kind === 'BufferLoad') out.add((x as unknown as { buffer: Buffer }).buffer);
  });
  return out;
}

/** Variables used anywhere under `n`. */
export function usedVars(n: Node): Set<Var> {
  const out = new Set<Var>();
  postOrderVisit(n, (x) => {
    if (x.kind === 'Var') out.add(x as Var);
  });
  return out;
}

/** Make `base` unique among the block names of `root`. */
export function uniqueBlockName(root: Stmt, base: string, taken: ReadonlySet<string> = new Set()): string {
  const names = new Set(allBlocks(root).map((r) => r.block.name));
  for (const t of taken) names.add(t);
  if (!names.has(base)) return base;
  for (let i = 1; ; i++) if (!names.has(`${base}_${i}`)) return `${base}_${i}`;
}

/** Block realizes at the top of `s`: `s` itself if it is one, else those not nested in another block. */
export function directBlocks(s: Stmt): BlockRealize[] {
  if (s.kind === 'BlockRealize') return [s];
  return new TreeIndex(s).childBlocks(s);
}

/**
 * Refuse primitives that restructure data flow inside a block other than the root one
 * (the outer block of blockize): its regions and reduction semantics would need the
 * change to be made before blockize.
 */
export function requireRootScope(
  prim: string,
  idx: TreeIndex,
  r: BlockRealize,
  fail: (msg: string) => never,
): void {
  const scope = idx.scopeBlock(r);
  const outer = scope ? idx.scopeBlock(scope) : undefined;
  if (outer !== undefined)
    fail(`block '${r.block.name}' is nested in block '${scope!.name}'; apply ${prim} before blockize`);
  if (allBlocks(r.block.body).length > 0) fail(`block '${r.block.name}' contains other blocks`);
}
