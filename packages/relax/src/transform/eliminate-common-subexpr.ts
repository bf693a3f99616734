// relax.EliminateCommonSubexpr: inside a dataflow block, a pure value computed twice
// (same operator or callee, structurally equal arguments, attributes and StructInfo
// arguments) is computed once. A later DataflowVar bound to the same value is dropped
// and its uses redirected to the first; a later output Var becomes an alias of the first
// (`gv = lv`, which relax.CanonicalizeBindings then folds). Redirection can make later
// values equal in turn, so chains collapse in one pass. Bindings outside dataflow blocks
// are not touched (they may have effects). Nested scopes (If branches, inner functions)
// are processed on their own.
// Options: `callOnly` (default false) restricts it to calls (no tuples / tuple items).
// Requires: normalized IR. Establishes nothing new.
import type { Node, PassContext } from '@kiln/ir-core';
import { definePass, structuralEqual, structuralHash, substitute } from '@kiln/ir-core';
import { z } from 'zod';
import { varBinding } from '../ir/expr.js';
import type { AnyVar, Binding, Block, Expr, RelaxFunction, SeqExpr } from '../ir/nodes.js';
import { createOpRegistry } from '../op/builtin.js';
import type { OpRegistry } from '../op/registry.js';
import { sinfoEqual } from '../text/printer.js';
import {
  isPureValue,
  rebindValue,
  rebuildBlock,
  rebuildFunction,
  rebuildIf,
  rebuildSeq,
  varsInStructInfo,
} from './pass-utils.js';

export interface CSEOptions {
  readonly callOnly: boolean;
}

class CSE {
  /** Variables that appear in some StructInfo; substituting them would desynchronize binders. */
  private pinned = new Set<AnyVar>();

  constructor(
    private readonly ops: OpRegistry,
    private readonly opts: CSEOptions,
  ) {}

  function(fn: RelaxFunction): RelaxFunction {
    this.pinned = varsInStructInfo(fn);
    return rebuildFunction(fn, this.expr(fn.body));
  }

  private expr(e: Expr): Expr {
    switch (e.kind) {
      case 'relax.SeqExpr':
        return this.seq(e);
      case 'relax.If':
        return rebuildIf(e, e.cond, this.expr(e.trueBranch), this.expr(e.falseBranch));
      case 'relax.Function':
        return rebuildFunction(e, this.expr(e.body));
      default:
        return e;
    }
  }

  private candidate(e: Expr): boolean {
    if (e.kind === 'relax.Call') return isPureValue(e, this.ops);
    if (this.opts.callOnly) return false;
    return (e.kind === 'relax.Tuple' || e.kind === 'relax.TupleGetItem') && isPureValue(e, this.ops);
  }

  private seq(s: SeqExpr): SeqExpr {
    const blocks = s.blocks.map((b) =>
      b.kind === 'relax.DataflowBlock' ? this.dataflow(b) : this.nested(b),
    );
    return rebuildSeq(s, blocks, this.expr(s.body));
  }

  /** A non-dataflow block: only its nested scopes are processed. */
  private nested(b: Block): Block {
    return rebuildBlock(
      b,
      b.bindings.map((x) => rebindValue(x, this.expr(x.value))),
    );
  }

  private dataflow(b: Block): Block {
    const seen = new Map<number, Array<{ value: Expr; v: AnyVar }>>();
    const redirect = new Map<Node, Node>();
    const out: Binding[] = [];
    for (const x of b.bindings) {
      // Uses of dropped variables are redirected first, so equal values become identical.
      let value = redirect.size > 0 ? substitute(x.value, redirect) : x.value;
      value = this.expr(value);
      if (x.kind !== 'relax.VarBinding' || !this.candidate(value)) {
        out.push(rebindValue(x, value));
        continue;
      }
      const h = structuralHash(value);
      const bucket = seen.get(h) ?? [];
      const hit = bucket.find(
        (c) => structuralEqual(c.value, value) && sinfoEqual(c.v.structInfo, x.var.structInfo),
      );
      if (hit === undefined) {
        bucket.push({ value, v: x.var });
        seen.set(h, bucket);
        out.push(rebindValue(x, value));
        continue;
      }
      if (x.var.kind === 'relax.DataflowVar' && !this.pinned.has(x.var)) {
        redirect.set(x.var, hit.v);
        continue;
      }
      // Visible after the block (or named in a StructInfo): keep the variable as an alias.
      out.push(varBinding(x.var, hit.v, x.span));
    }
    return rebuildBlock(b, out);
  }
}

const cseOptions = z.object({ callOnly: z.boolean().default(false) });

/** CSE over one function (identity when nothing is shared). */
export function eliminateCommonSubexpr(
  fn: RelaxFunction,
  ops: OpRegistry = createOpRegistry(),
  opts: Partial<CSEOptions> = {},
): RelaxFunction {
  return new CSE(ops, { callOnly: opts.callOnly ?? false }).function(fn);
}

export function createEliminateCommonSubexpr(ops?: OpRegistry) {
  const registry = ops ?? createOpRegistry();
  return definePass<z.output<typeof cseOptions>, z.input<typeof cseOptions>, RelaxFunction>({
    name: 'relax.EliminateCommonSubexpr',
    kind: 'function',
    options: cseOptions,
    transform(fn: RelaxFunction, _name: string, _ctx: PassContext, o) {
      return eliminateCommonSubexpr(fn, registry, o);
    },
  });
}

/** `relax.EliminateCommonSubexpr` over the built-in operators. */
export const EliminateCommonSubexpr = createEliminateCommonSubexpr();
