// Core operators of the graph IR itself: calls of TIR kernels and library functions in
// destination-passing style (`call_tir`, `call_dps_packed`) and `shape_of`.
import type { ExprLike } from '@kiln/ir-core';
import { ErrorCodes, getFunction } from '@kiln/ir-core';
import type { PrimFunc } from '@kiln/tensorir';
import { call, shapeExpr, tuple } from '../ir/expr.js';
import type { Call, Expr, ExternFunc, GlobalVar, StructInfo } from '../ir/nodes.js';
import { shapeSInfo, tensorShape, tupleSInfo } from '../ir/struct-info.js';
import type { OpContext, OpDef } from './registry.js';
import { defineOp } from './registry.js';

function dpsOutput(c: Call, ctx: OpContext<unknown>): StructInfo {
  if (c.sinfoArgs.length !== 1)
    ctx.fail(ErrorCodes.INVALID_ARGUMENT, `needs exactly one output StructInfo, got ${c.sinfoArgs.length}`);
  const out = c.sinfoArgs[0];
  const outs = out.kind === 'relax.TupleStructInfo' ? out.fields : [out];
  for (const o of outs) {
    if (o.kind !== 'relax.TensorStructInfo' || !tensorShape(o) || !o.dtype) {
      ctx.fail(
        ErrorCodes.INVALID_ARGUMENT,
        'outputs must be tensors with known shape and dtype (they are allocated by the caller)',
      );
    }
  }
  const args = ctx.arg(1);
  if (args.kind !== 'relax.TupleStructInfo')
    ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'argument 1 must be a tuple of the kernel arguments');
  return out;
}

/** `call_tir(@prim_func, (args...), out_sinfo[, tir_vars])`: run a PrimFunc that writes fresh outputs. */
export const callTIROp = defineOp({
  name: 'relax.call_tir',
  numArgs: [2, 3],
  pattern: 'opaque',
  inferStructInfo(c, ctx) {
    const callee = c.args[0];
    if (callee.kind !== 'relax.GlobalVar')
      return ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'argument 0 must be the GlobalVar of a PrimFunc');
    if (ctx.module) {
      const f = getFunction(ctx.module, callee.name);
      if (f && f.kind !== 'PrimFunc')
        ctx.fail(ErrorCodes.INVALID_ARGUMENT, `'${callee.name}' is a ${f.kind}, not a PrimFunc`);
    }
    if (c.args.length === 3 && ctx.arg(2).kind !== 'relax.ShapeStructInfo')
      ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'tir_vars must be a shape');
    const out = dpsOutput(c, ctx);
    const f = ctx.module ? getFunction(ctx.module, callee.name) : undefined;
    if (f && f.kind === 'PrimFunc') {
      // The kernel takes the inputs, then the outputs (buffers), then the tir_vars (scalars).
      const params = (f as PrimFunc).params;
      const nBuf = params.filter((p) => p.kind === 'Buffer').length;
      const ins = ctx.arg(1);
      const nIn = ins.kind === 'relax.TupleStructInfo' ? ins.fields.length : 1;
      const nOut = out.kind === 'relax.TupleStructInfo' ? out.fields.length : 1;
      const tv = c.args.length === 3 ? ctx.arg(2) : undefined;
      const nVars = tv && tv.kind === 'relax.ShapeStructInfo' ? tv.ndim : 0;
      if (nBuf !== nIn + nOut || params.length - nBuf !== nVars) {
        ctx.fail(
          ErrorCodes.INVALID_ARGUMENT,
          `'${callee.name}' takes ${nBuf} buffers and ${params.length - nBuf} scalars, called with ${nIn} inputs, ${nOut} outputs and ${nVars} tir_vars`,
        );
      }
    }
    return out;
  },
});

/** `call_dps_packed(extern_func, (args...), out_sinfo)`: a library function in destination-passing style. */
export const callDPSPackedOp = defineOp({
  name: 'relax.call_dps_packed',
  numArgs: 2,
  pattern: 'opaque',
  inferStructInfo(c, ctx) {
    const callee = c.args[0];
    if (callee.kind !== 'relax.ExternFunc' && callee.kind !== 'relax.GlobalVar') {
      ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'argument 0 must be an ExternFunc');
    }
    return dpsOutput(c, ctx);
  },
});

/** `shape_of(x)`: the (symbolic) shape of a tensor as a shape value. */
export const shapeOfOp = defineOp({
  name: 'relax.shape_of',
  numArgs: 1,
  pattern: 'opaque',
  inferStructInfo(_c, ctx) {
    const x = ctx.tensor(0);
    return x.shape ? shapeSInfo(x.shape) : shapeSInfo(x.ndim);
  },
});

export const CORE_OPS: readonly OpDef<unknown>[] = [
  callTIROp,
  callDPSPackedOp,
  shapeOfOp,
] as readonly OpDef<unknown>[];

/** `call_tir(gv, args, outSInfo)`; several outputs are given as an array (a tuple result). */
export function callTIR(
  gv: GlobalVar,
  args: readonly Expr[],
  out: StructInfo | readonly StructInfo[],
  tirVars?: readonly ExprLike[],
): Call {
  const outSInfo = Array.isArray(out) ? tupleSInfo(out as readonly StructInfo[]) : (out as StructInfo);
  const a: Expr[] = [gv, tuple(args)];
  if (tirVars && tirVars.length > 0) a.push(shapeExpr(tirVars));
  return call('relax.call_tir', a, { sinfoArgs: [outSInfo] });
}
export function callDPSPacked(
  fn: ExternFunc,
  args: readonly Expr[],
  out: StructInfo | readonly StructInfo[],
): Call {
  const outSInfo = Array.isArray(out) ? tupleSInfo(out as readonly StructInfo[]) : (out as StructInfo);
  return call('relax.call_dps_packed', [fn, tuple(args)], { sinfoArgs: [outSInfo] });
}
export function shapeOf(x: Expr): Call {
  return call('relax.shape_of', [x]);
}
