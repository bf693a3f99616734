// The passes that take a legalized Relax module to the explicit-memory form the VM
// lowering consumes:
//  - relax.ToNonDataflow: dataflow blocks become ordinary binding blocks (DataflowVars
//    become Vars), since the next steps introduce side effects (allocation, DPS calls).
//  - relax.CallTIRRewrite: `y = call_tir(f, (a, b), out)` becomes
//    `y = builtin.alloc_tensor(shape, dtype); _ = f(a, b, y)` (destination passing).
//    Requires: legalized (no op calls other than call_tir / VM builtins remain in use).
//  - relax.StaticPlanBlockMemory: see memory-plan.ts.
import type { Node } from '@kiln/ir-core';
import { definePass, ErrorCodes, KilnError, Mutator, mapFunctions } from '@kiln/ir-core';
import { bindingBlock, call, relaxVar, seqExpr, tuple, varBinding } from '../ir/expr.js';
import type {
  Binding,
  Block,
  Call,
  Expr,
  RelaxFunction,
  SeqExpr,
  StructInfo,
  TensorStructInfo,
} from '../ir/nodes.js';
import { makeShapeExpr, objectSInfo, tensorShape } from '../ir/struct-info.js';
import { allocTensor } from './ops.js';

class ToNonDataflowMutator extends Mutator {
  protected override visitNode(n: Node): Node {
    if (n.kind === 'relax.DataflowVar') {
      const v = n as unknown as { name: string; structInfo: StructInfo };
      return relaxVar(v.name, this.visit(v.structInfo as unknown as Node) as unknown as StructInfo);
    }
    const out = this.defaultVisit(n);
    if (out.kind === 'relax.DataflowBlock') return bindingBlock((out as unknown as Block).bindings);
    return out;
  }
}

export const ToNonDataflow = definePass({
  name: 'relax.ToNonDataflow',
  kind: 'function',
  establishes: ['non_dataflow'],
  transform(fn) {
    return new ToNonDataflowMutator().visit(fn);
  },
});

function outputsOf(sinfo: StructInfo, op: string): TensorStructInfo[] {
  const outs = sinfo.kind === 'relax.TupleStructInfo' ? sinfo.fields : [sinfo];
  return outs.map((o) => {
    if (o.kind !== 'relax.TensorStructInfo' || !o.dtype || !tensorShape(o)) {
      throw new KilnError(
        ErrorCodes.INVALID_ARGUMENT,
        `${op}: outputs need a known shape and dtype to be allocated`,
      );
    }
    return o;
  });
}

function rewriteSeq(seq: SeqExpr): SeqExpr {
  let changed = false;
  const blocks: Block[] = seq.blocks.map((blk) => {
    const out: Binding[] = [];
    let blockChanged = false;
    for (const b of blk.bindings) {
      const v = b.value;
      if (
        b.kind === 'relax.VarBinding' &&
        v.kind === 'relax.Call' &&
        v.op.kind === 'relax.Op' &&
        (v.op.name === 'relax.call_tir' || v.op.name === 'relax.call_dps_packed')
      ) {
        if (blk.kind === 'relax.DataflowBlock') {
          throw new KilnError(
            ErrorCodes.PASS_REQUIREMENT,
            'relax.CallTIRRewrite: run relax.ToNonDataflow first (found call_tir in a dataflow block)',
          );
        }
        const callee = v.args[0];
        const argsTuple = v.args[1];
        const args = argsTuple.kind === 'relax.Tuple' ? argsTuple.fields : [argsTuple];
        const outs = outputsOf(v.sinfoArgs[0], v.op.name);
        const allocVars = outs.map((o, i) => {
          const av = relaxVar(outs.length === 1 ? `${b.var.name}_alloc` : `${b.var.name}_alloc${i}`, o);
          out.push(varBinding(av, allocTensor(makeShapeExpr(tensorShape(o)!), o.dtype!.str)));
          return av;
        });
        const extra: Expr[] = [];
        if (v.args.length === 3) extra.push(v.args[2]); // tir_vars (a ShapeExpr of scalar params)
        const dps: Call = call(callee as Call['op'], [...args, ...allocVars, ...extra], {
          structInfo: objectSInfo(),
        });
        out.push(varBinding(relaxVar('_', objectSInfo()), dps));
        const result = allocVars.length === 1 ? allocVars[0] : tuple(allocVars);
        out.push(varBinding(b.var, result));
        blockChanged = true;
        continue;
      }
      const nv = rewriteExpr(b.value);
      if (nv !== b.value) {
        blockChanged = true;
        out.push({ ...b, value: nv } as Binding);
      } else out.push(b);
    }
    if (!blockChanged) return blk;
    changed = true;
    return bindingBlock(out);
  });
  const body = rewriteExpr(seq.body);
  if (!changed && body === seq.body) return seq;
  return seqExpr(blocks, body);
}

function rewriteExpr(e: Expr): Expr {
  switch (e.kind) {
    case 'relax.SeqExpr':
      return rewriteSeq(e);
    case 'relax.If': {
      const t = rewriteExpr(e.trueBranch);
      const f = rewriteExpr(e.falseBranch);
      return t === e.trueBranch && f === e.falseBranch
        ? e
        : Object.freeze({ ...e, trueBranch: t, falseBranch: f });
    }
    default:
      return e;
  }
}

export const CallTIRRewrite = definePass({
  name: 'relax.CallTIRRewrite',
  kind: 'module',
  requires: ['non_dataflow'],
  establishes: ['explicit_alloc'],
  run(mod) {
    return mapFunctions(
      mod,
      (f) => {
        const fn = f as unknown as RelaxFunction;
        const body = rewriteExpr(fn.body);
        return (body === fn.body ? fn : Object.freeze({ ...fn, body })) as unknown as Node;
      },
      'relax.Function',
    );
  },
});
