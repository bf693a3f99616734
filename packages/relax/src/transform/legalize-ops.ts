// relax.LegalizeOps: replace every call of an operator that has a legalization by what
// the legalization builds, normally `call_tir(@kernel, args, out_sinfo)` over a PrimFunc
// generated with the te DSL (kernels are deduplicated structurally). Runs to a fixpoint,
// so legalizations may emit other operators. Ops without a legalization are left alone.
// Requires: normalized input (StructInfo on every call). Establishes: 'legalized' when no
// legalizable op call remains.
import type { IRModule, PassContext } from '@kiln/ir-core';
import { definePass, ErrorCodes, KilnError, moduleEntries } from '@kiln/ir-core';
import { z } from 'zod';
import { BlockBuilder } from '../block-builder.js';
import { ifExpr, matchCast, relaxFunction, seqExpr, varBinding, withStructInfo } from '../ir/expr.js';
import type { Binding, Block, Call, Expr, RelaxFunction, SeqExpr } from '../ir/nodes.js';
import { createOpRegistry } from '../op/builtin.js';
import type { AnyOpDef, OpContext, OpRegistry } from '../op/registry.js';
import { makeOpContext } from '../op/registry.js';

/** A legalization supplied from outside the registry (LegalizeOps' `customize`). */
export type LegalizeFn = (call: Call, bb: BlockBuilder, ctx: OpContext<unknown>) => Expr;

export interface LegalizeOptions {
  /** Operator names to leave alone. */
  skipOps?: readonly string[];
  /** Legalizations overriding (or adding to) the registry's. */
  customize?: Readonly<Record<string, LegalizeFn>>;
  /** Maximum rounds (legalizations that emit other ops need more than one). */
  maxRounds?: number;
}

class Legalizer {
  changed = false;
  constructor(
    private readonly bb: BlockBuilder,
    private readonly ops: OpRegistry,
    private readonly opts: LegalizeOptions,
  ) {}

  private legalizationOf(c: Call): { def: AnyOpDef; fn: LegalizeFn } | undefined {
    if (c.op.kind !== 'relax.Op') return undefined;
    const name = c.op.name;
    if (this.opts.skipOps?.includes(name)) return undefined;
    const def = this.ops.tryGet(name);
    const custom = this.opts.customize?.[name];
    if (custom && def) return { def, fn: custom };
    if (!def?.legalize) return undefined;
    const l = def.legalize;
    return { def, fn: (call, bb, ctx) => l(call, bb, ctx) };
  }

  function(fn: RelaxFunction): RelaxFunction {
    const body = this.expr(fn.body);
    if (body === fn.body) return fn;
    return relaxFunction(fn.params, body, fn.retStructInfo, {
      attrs: fn.attrs,
      isPure: fn.isPure,
      span: fn.span,
    });
  }

  /** Rewrite nested scopes (SeqExprs in If branches and function bodies). */
  private expr(e: Expr): Expr {
    switch (e.kind) {
      case 'relax.SeqExpr':
        return this.seq(e);
      case 'relax.If': {
        const t = this.expr(e.trueBranch);
        const f = this.expr(e.falseBranch);
        if (t === e.trueBranch && f === e.falseBranch) return e;
        return withStructInfo(ifExpr(e.cond, t, f, e.span), e.structInfo!);
      }
      case 'relax.Function':
        return this.function(e);
      default:
        return e;
    }
  }

  private seq(s: SeqExpr): SeqExpr {
    let changed = false;
    const blocks: Block[] = s.blocks.map((b) => {
      this.bb.beginBlock(b.kind === 'relax.DataflowBlock');
      let blockChanged = false;
      for (const binding of b.bindings) {
        const nb = this.binding(binding);
        if (nb !== binding) blockChanged = true;
        this.bb.emitBinding(nb);
      }
      const out = this.bb.endBlock();
      if (!blockChanged && out.bindings.length === b.bindings.length) return b;
      changed = true;
      return out;
    });
    const body = this.expr(s.body);
    if (!changed && body === s.body) return s;
    return withStructInfo(seqExpr(blocks, body, s.span), s.structInfo!);
  }

  private binding(b: Binding): Binding {
    const value = this.expr(b.value);
    if (value.kind === 'relax.Call') {
      const l = this.legalizationOf(value);
      if (l) {
        const ctx = makeOpContext(l.def, value, this.bb.getModule());
        const out = this.bb.normalize(l.fn(value, this.bb, ctx));
        if (out !== value) {
          this.changed = true;
          return b.kind === 'relax.VarBinding'
            ? varBinding(b.var, out, b.span)
            : matchCast(b.var, out, b.structInfo, b.span);
        }
      }
    }
    if (value === b.value) return b;
    return b.kind === 'relax.VarBinding'
      ? varBinding(b.var, value, b.span)
      : matchCast(b.var, value, b.structInfo, b.span);
  }
}

/** Legalize `mod` with `ops` (default: the built-in registry). */
export function legalizeModule(
  mod: IRModule,
  ops: OpRegistry = createOpRegistry(),
  opts: LegalizeOptions = {},
): IRModule {
  let cur = mod;
  const rounds = opts.maxRounds ?? 8;
  for (let round = 0; round < rounds; round++) {
    const bb = new BlockBuilder(cur, { ops });
    const lg = new Legalizer(bb, ops, opts);
    for (const [name, fn] of moduleEntries(cur)) {
      if (fn.kind !== 'relax.Function') continue;
      const nf = lg.function(fn as RelaxFunction);
      if (nf !== fn) bb.updateFunction(name, nf);
    }
    if (!lg.changed) return cur;
    cur = bb.getModule();
  }
  throw new KilnError(
    ErrorCodes.PASS_FAILED,
    `relax.LegalizeOps did not reach a fixpoint in ${rounds} rounds`,
  );
}

const legalizeOptions = z.object({ skipOps: z.array(z.string()).default([]) });

/** The LegalizeOps pass over a given registry (plugins' ops and legalizations included). */
export function createLegalizeOps(ops?: OpRegistry, customize?: Readonly<Record<string, LegalizeFn>>) {
  return definePass<z.output<typeof legalizeOptions>, z.input<typeof legalizeOptions>>({
    name: 'relax.LegalizeOps',
    kind: 'module',
    establishes: ['legalized'],
    options: legalizeOptions,
    run(mod: IRModule, _ctx: PassContext, o) {
      return legalizeModule(mod, ops ?? createOpRegistry(), { skipOps: o.skipOps, customize });
    },
  });
}

/** `relax.LegalizeOps` over the built-in operators. */
export const LegalizeOps = createLegalizeOps();
