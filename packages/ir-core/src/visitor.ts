// Generic traversal and rewriting over the node-kind table: a memoized mutator that
// passes extend per node kind, post-order visiting, rule-based rewriting, substitution.
import type { FieldSpec, Node } from './node.js';
import { childrenOf, mapChildren } from './node.js';

/** Visit every node reachable from `root` once (shared subtrees once), children first. */
export function postOrderVisit(root: Node, fn: (n: Node) => void): void {
  const seen = new Set<Node>();
  const stack: Array<{ n: Node; expanded: boolean }> = [{ n: root, expanded: false }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.expanded) {
      stack.pop();
      fn(top.n);
      continue;
    }
    if (seen.has(top.n)) {
      stack.pop();
      continue;
    }
    seen.add(top.n);
    top.expanded = true;
    const cs = childrenOf(top.n);
    for (let i = cs.length - 1; i >= 0; i--) if (!seen.has(cs[i])) stack.push({ n: cs[i], expanded: false });
  }
}

/** Collect the nodes satisfying `pred`, in post order. */
export function collect<T extends Node>(root: Node, pred: (n: Node) => n is T): T[];
export function collect(root: Node, pred: (n: Node) => boolean): Node[];
export function collect(root: Node, pred: (n: Node) => boolean): Node[] {
  const out: Node[] = [];
  postOrderVisit(root, (n) => {
    if (pred(n)) out.push(n);
  });
  return out;
}

/**
 * A memoized rewriting visitor. Override `visitNode` (switching on `kind`) for the kinds
 * a pass cares about and call `super.visitNode` / `this.defaultVisit` for the rest.
 * Each distinct node object is rewritten once.
 */
export class Mutator {
  protected readonly memo = new Map<Node, Node>();

  visit<T extends Node>(n: T): T {
    const hit = this.memo.get(n);
    if (hit !== undefined) return hit as T;
    const out = this.visitNode(n);
    this.memo.set(n, out);
    return out as T;
  }

  protected visitNode(n: Node): Node {
    return this.defaultVisit(n);
  }

  /** Rebuild `n` from its visited children; identity when nothing changed. */
  protected defaultVisit<T extends Node>(n: T): T {
    return mapChildren(n, (c, f) => this.visitChild(c, f));
  }

  /** Hook for binder fields: by default binders are visited like any child. */
  protected visitChild(c: Node, _field: FieldSpec): Node {
    return this.visit(c);
  }
}

/** A rewrite rule: return a replacement node, or `undefined` to leave the node alone. */
export type RewriteRule = (n: Node) => Node | undefined;

export interface RewriteOptions {
  /** Re-apply the rules to a replacement until none fires (bounded). Default true. */
  fixpoint?: boolean;
  /** Bound on successive rewrites of one node. */
  maxSteps?: number;
}

/** Rewrite bottom-up with `rules`: children first, then the first rule that fires. */
export function rewriteNode<T extends Node>(
  root: T,
  rules: readonly RewriteRule[],
  options: RewriteOptions = {},
): T {
  const fixpoint = options.fixpoint ?? true;
  const maxSteps = options.maxSteps ?? 64;
  class RuleMutator extends Mutator {
    protected override visitNode(n: Node): Node {
      let cur = this.defaultVisit(n);
      for (let step = 0; step < maxSteps; step++) {
        let next: Node | undefined;
        for (const r of rules) {
          next = r(cur);
          if (next !== undefined && next !== cur) break;
          next = undefined;
        }
        if (next === undefined) return cur;
        cur = fixpoint ? this.defaultVisit(next) : next;
        if (!fixpoint) return cur;
      }
      return cur;
    }
  }
  return new RuleMutator().visit(root);
}

/**
 * Replace uses of variables (any var-like node: PrimExpr Var, Buffer, relax Var) by the
 * mapped nodes. Binder positions are left alone.
 */
export function substitute<T extends Node>(root: T, map: ReadonlyMap<Node, Node>): T {
  if (map.size === 0) return root;
  class Subst extends Mutator {
    protected override visitNode(n: Node): Node {
      const r = map.get(n);
      return r !== undefined ? r : this.defaultVisit(n);
    }
    protected override visitChild(c: Node, f: FieldSpec): Node {
      if (f.type === 'binder' || f.type === 'binder[]') return c;
      return this.visit(c);
    }
  }
  return new Subst().visit(root);
}
