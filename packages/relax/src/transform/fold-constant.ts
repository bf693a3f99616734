// relax.FoldConstant: evaluate at compile time what only depends on constants.
//  - A pure call whose arguments are all constants (tensors, static shapes, scalar
//    immediates) is replaced by its value: `call_tir` of a PrimFunc is run in the TIR
//    reference interpreter; an operator call is legalized (LegalizeOps on a scratch
//    module holding just that call) and then evaluated the same way.
//  - A use of a variable bound to a constant becomes the constant, so chains fold; a
//    variable bound to a tuple of constants counts as constant for the calls using it.
//  - `t[i]` of a tuple of constants becomes the constant; `shape_of(x)` of a tensor with
//    a static shape becomes that shape.
// Results larger than `maxElements` (in total) are left alone, so that e.g. `zeros` of a
// huge shape is not materialized needlessly. Calls whose evaluation is unsupported (no
// legalization, opaque kernels) are left alone too. Bindings that become dead are left
// for relax.DeadCodeElimination, PrimFuncs no longer called as well.
// Requires: normalized IR (StructInfo on every call). Establishes nothing new.
import type { IRModule, PassContext } from '@kiln/ir-core';
import { definePass, getFunction, irModule, isKilnError, moduleEntries, withFunction } from '@kiln/ir-core';
import type { NDArray } from '@kiln/tensorir';
import { ndarray } from '@kiln/tensorir';
import { z } from 'zod';
import { BlockBuilder } from '../block-builder.js';
import type { RelaxValue } from '../eval.js';
import { evaluateRelax, isNDArray } from '../eval.js';
import { call, constant, relaxVar, shapeExpr, tuple, tupleGetItem, typedArrayFor } from '../ir/expr.js';
import type {
  AnyVar,
  Binding,
  Call,
  Constant,
  Expr,
  RelaxFunction,
  SeqExpr,
  StructInfo,
  Var,
} from '../ir/nodes.js';
import { staticShape } from '../ir/struct-info.js';
import { createOpRegistry } from '../op/builtin.js';
import type { OpRegistry } from '../op/registry.js';
import { elementValue, setElement } from '../text/data.js';
import { legalizeModule } from './legalize-ops.js';
import {
  isPureValue,
  rebindValue,
  rebuildBlock,
  rebuildFunction,
  rebuildIf,
  rebuildSeq,
} from './pass-utils.js';

export interface FoldConstantOptions {
  /** Largest result (total elements over all outputs) that is folded. */
  readonly maxElements: number;
}

/** Is `e` known at compile time: a constant, a static shape, an immediate, or a tuple of those? */
function isConstantLike(e: Expr): boolean {
  switch (e.kind) {
    case 'relax.Constant':
    case 'relax.StringImm':
      return true;
    case 'relax.ShapeExpr':
      return e.values.every((v) => v.kind === 'IntImm');
    case 'relax.PrimValue':
      return e.value.kind === 'IntImm' || e.value.kind === 'FloatImm';
    case 'relax.Tuple':
      return e.fields.every(isConstantLike);
    default:
      return false;
  }
}

/** Total element count of a result of StructInfo `s` when every output is a static tensor. */
function staticElements(s: StructInfo | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (s.kind === 'relax.TensorStructInfo') {
    const shape = staticShape(s);
    return shape !== undefined && s.dtype !== undefined ? shape.reduce((a, b) => a * b, 1) : undefined;
  }
  if (s.kind === 'relax.TupleStructInfo') {
    let total = 0;
    for (const f of s.fields) {
      const k = staticElements(f);
      if (k === undefined) return undefined;
      total += k;
    }
    return total;
  }
  return undefined;
}

export function constantToNDArray(c: Constant): NDArray {
  const vals = Array.from({ length: c.data.length }, (_, i) => elementValue(c.dtype, c.data, i));
  return ndarray(c.dtype, c.shape, vals);
}
export function ndarrayToConstant(a: NDArray): Constant {
  const data = typedArrayFor(a.dtype, a.data.length);
  for (let i = 0; i < a.data.length; i++) setElement(a.dtype, data, i, a.data[i]);
  return constant(data, a.shape, a.dtype);
}

class Folder {
  changed = false;
  /** Variables bound to constants (or to tuples of constants), by the bindings seen so far. */
  private readonly known = new Map<AnyVar, Expr>();

  constructor(
    private readonly mod: IRModule,
    private readonly ops: OpRegistry,
    private readonly opts: FoldConstantOptions,
  ) {}

  function(fn: RelaxFunction): RelaxFunction {
    return rebuildFunction(fn, this.expr(fn.body));
  }

  private seq(s: SeqExpr): SeqExpr {
    const blocks = s.blocks.map((b) => {
      const bindings = b.bindings.map((x) => this.binding(x));
      return rebuildBlock(b, bindings);
    });
    return rebuildSeq(s, blocks, this.expr(s.body));
  }

  private binding(b: Binding): Binding {
    const value = this.expr(b.value);
    if (
      b.kind === 'relax.VarBinding' &&
      (value.kind === 'relax.Constant' ||
        (value.kind === 'relax.Tuple' && value.fields.every((f) => f.kind === 'relax.Constant')))
    ) {
      this.known.set(b.var, value);
    }
    return rebindValue(b, value);
  }

  private expr(e: Expr): Expr {
    switch (e.kind) {
      case 'relax.Var':
      case 'relax.DataflowVar': {
        const k = this.known.get(e);
        if (k !== undefined && k.kind === 'relax.Constant') {
          this.changed = true;
          return k;
        }
        return e;
      }
      case 'relax.Tuple': {
        const fields = e.fields.map((f) => this.expr(f));
        if (fields.every((f, i) => f === e.fields[i])) return e;
        return tuple(fields, e.span);
      }
      case 'relax.TupleGetItem': {
        const src =
          e.tuple.kind === 'relax.Var' || e.tuple.kind === 'relax.DataflowVar'
            ? (this.known.get(e.tuple) ?? e.tuple)
            : this.expr(e.tuple);
        if (src.kind === 'relax.Tuple' && src.fields[e.index]?.kind === 'relax.Constant') {
          this.changed = true;
          return src.fields[e.index];
        }
        const t = this.expr(e.tuple);
        if (t === e.tuple) return e;
        return Object.freeze({ ...tupleGetItem(t, e.index, e.span), structInfo: e.structInfo });
      }
      case 'relax.Call':
        return this.call(e);
      case 'relax.If':
        return rebuildIf(e, this.expr(e.cond), this.expr(e.trueBranch), this.expr(e.falseBranch));
      case 'relax.SeqExpr':
        return this.seq(e);
      case 'relax.Function':
        return this.function(e);
      default:
        return e;
    }
  }

  private call(c: Call): Expr {
    const args = c.args.map((a) => this.expr(a));
    const cur: Call = args.every((a, i) => a === c.args[i])
      ? c
      : Object.freeze({ ...c, args: Object.freeze(args) });
    if (cur.op.kind !== 'relax.Op') return cur;
    const name = cur.op.name;
    if (name === 'relax.shape_of') {
      const s = args[0]?.structInfo;
      const shape = s?.kind === 'relax.TensorStructInfo' ? staticShape(s) : undefined;
      if (shape === undefined) return cur;
      this.changed = true;
      return shapeExpr(shape);
    }
    // Variables bound to tuples of constants count as those tuples (for evaluation only).
    const evalArgs = args.map((a) => {
      const k = a.kind === 'relax.Var' || a.kind === 'relax.DataflowVar' ? this.known.get(a) : undefined;
      return k?.kind === 'relax.Tuple' ? k : a;
    });
    const foldable = (name === 'relax.call_tir' ? evalArgs.slice(1) : evalArgs).every(isConstantLike);
    if (!foldable || !isPureValue(cur, this.ops)) return cur;
    const size = staticElements(cur.structInfo);
    if (size === undefined || size > this.opts.maxElements) return cur;
    const folded = this.evaluate(Object.freeze({ ...cur, args: Object.freeze(evalArgs) }));
    if (folded === undefined) return cur;
    this.changed = true;
    return folded;
  }

  /**
   * Run `c` on a scratch module: its constant tensors become parameters (fed as
   * NDArrays), the call is legalized, and the reference evaluator runs it.
   */
  private evaluate(c: Call): Expr | undefined {
    let scratch = irModule();
    const callee = c.args[0];
    if (c.op.kind === 'relax.Op' && c.op.name === 'relax.call_tir') {
      if (callee?.kind !== 'relax.GlobalVar') return undefined;
      const prim = getFunction(this.mod, callee.name);
      if (prim === undefined || prim.kind !== 'PrimFunc') return undefined;
      scratch = withFunction(scratch, callee.name, prim);
    }
    const params: Var[] = [];
    const inputs: NDArray[] = [];
    const lift = (e: Expr): Expr => {
      if (e.kind === 'relax.Constant') {
        const p = relaxVar(`c${params.length}`, e.structInfo!);
        params.push(p);
        inputs.push(constantToNDArray(e));
        return p;
      }
      if (e.kind === 'relax.Tuple') return tuple(e.fields.map(lift));
      return e;
    };
    try {
      // Inside the try: a constant the interpreter has no NDArray for (float8, int4, ...)
      // leaves the call unfolded.
      const args = c.args.map(lift);
      const bb = new BlockBuilder(scratch, { ops: this.ops });
      bb.function('fold', params, () =>
        bb.emit(call(c.op, args, { attrs: c.attrs, sinfoArgs: c.sinfoArgs })),
      );
      const legal = legalizeModule(bb.getModule(), this.ops);
      return this.toExpr(evaluateRelax(legal, 'fold', inputs));
    } catch (e) {
      // Not evaluable here (no legalization, unsupported construct): leave the call.
      if (isKilnError(e)) return undefined;
      throw e;
    }
  }

  private toExpr(v: RelaxValue): Expr | undefined {
    if (typeof v === 'number') return undefined;
    if (isNDArray(v)) return ndarrayToConstant(v);
    if ('tuple' in v) {
      const fields = v.tuple.map((x) => this.toExpr(x));
      return fields.every((f) => f !== undefined) ? tuple(fields as Expr[]) : undefined;
    }
    return undefined;
  }
}

const foldOptions = z.object({
  maxElements: z
    .number()
    .int()
    .nonnegative()
    .default(1 << 22),
});

/** Fold constants in every Relax function of `mod`; `mod` itself when nothing folds. */
export function foldConstant(
  mod: IRModule,
  ops: OpRegistry = createOpRegistry(),
  opts: Partial<FoldConstantOptions> = {},
): IRModule {
  const o: FoldConstantOptions = { maxElements: opts.maxElements ?? 1 << 22 };
  let out = mod;
  for (const [name, fn] of moduleEntries(mod)) {
    if (fn.kind !== 'relax.Function') continue;
    const f = new Folder(mod, ops, o);
    const nf = f.function(fn as RelaxFunction);
    if (nf !== fn) out = withFunction(out, name, nf);
  }
  return out;
}

/** The FoldConstant pass over a given operator registry (plugins' legalizations included). */
export function createFoldConstant(ops?: OpRegistry) {
  return definePass<z.output<typeof foldOptions>, z.input<typeof foldOptions>>({
    name: 'relax.FoldConstant',
    kind: 'module',
    options: foldOptions,
    run(mod: IRModule, _ctx: PassContext, o) {
      return foldConstant(mod, ops ?? createOpRegistry(), o);
    },
  });
}

/** `relax.FoldConstant` over the built-in operators. */
export const FoldConstant = createFoldConstant();
