// A reference evaluator for legalized Relax: runs a function binding by binding on host
// NDArrays, executing `call_tir` kernels with the TIR reference interpreter. It is what
// numerical tests (and constant folding) use to check a whole graph against a reference;
// it is not the VM. Symbolic shape variables are bound from the arguments' shapes and by
// MatchCast, and checked where they are already bound.
import type { IRModule, PrimExpr, Var as PrimVar } from '@kiln/ir-core';
import { ErrorCodes, evaluate, getFunction, KilnError } from '@kiln/ir-core';
import type { InterpretArg, NDArray, PrimFunc } from '@kiln/tensorir';
import { interpret, ndarray } from '@kiln/tensorir';
import type { AnyVar, Expr, RelaxFunction, StructInfo } from './ir/nodes.js';
import { sinfoToString, tensorShape } from './ir/struct-info.js';
import { elementValue, isHalfStored } from './text/data.js';

/** A runtime value: a tensor, a tuple, a shape (number[] tagged), or a scalar. */
export type RelaxValue =
  | NDArray
  | { readonly tuple: readonly RelaxValue[] }
  | { readonly shape: readonly number[] }
  | number;

export function isNDArray(v: RelaxValue): v is NDArray {
  return typeof v === 'object' && 'data' in v;
}

class Evaluator {
  constructor(private readonly mod: IRModule) {}

  callFunction(fn: RelaxFunction, args: readonly RelaxValue[], name: string): RelaxValue {
    if (args.length !== fn.params.length) {
      throw new KilnError(
        ErrorCodes.INVALID_ARGUMENT,
        `'${name}' takes ${fn.params.length} arguments, got ${args.length}`,
      );
    }
    const env = new Map<AnyVar, RelaxValue>();
    const sym = new Map<PrimVar, number>();
    fn.params.forEach((p, i) => {
      this.match(p.structInfo, args[i], sym, `argument ${i} of '${name}'`);
      env.set(p, args[i]);
    });
    return this.expr(fn.body, env, sym);
  }

  /** Bind symbolic vars from a value's shape / check already bound ones. */
  private match(s: StructInfo, v: RelaxValue, sym: Map<PrimVar, number>, what: string): void {
    if (s.kind === 'relax.TensorStructInfo') {
      if (!isNDArray(v)) throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `${what} must be a tensor`);
      if (s.dtype && s.dtype !== v.dtype)
        throw new KilnError(
          ErrorCodes.DTYPE_MISMATCH,
          `${what} has dtype ${v.dtype.str}, expected ${s.dtype.str}`,
        );
      if (s.ndim >= 0 && s.ndim !== v.shape.length)
        throw new KilnError(
          ErrorCodes.SHAPE_MISMATCH,
          `${what} has rank ${v.shape.length}, expected ${s.ndim}`,
        );
      const dims = tensorShape(s);
      if (dims) this.matchDims(dims, v.shape, sym, what, s);
    } else if (s.kind === 'relax.TupleStructInfo') {
      if (typeof v !== 'object' || !('tuple' in v))
        throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `${what} must be a tuple`);
      s.fields.forEach((f, i) => {
        this.match(f, v.tuple[i], sym, `${what}[${i}]`);
      });
    } else if (
      s.kind === 'relax.ShapeStructInfo' &&
      typeof v === 'object' &&
      'shape' in v &&
      s.values.length === s.ndim
    ) {
      this.matchDims(s.values, v.shape, sym, what, s);
    }
  }
  private matchDims(
    dims: readonly PrimExpr[],
    actual: readonly number[],
    sym: Map<PrimVar, number>,
    what: string,
    s: StructInfo,
  ): void {
    dims.forEach((d, i) => {
      if (d.kind === 'Var' && !sym.has(d)) {
        sym.set(d, actual[i]);
        return;
      }
      const want = evaluate(d, sym);
      if (want !== actual[i]) {
        throw new KilnError(
          ErrorCodes.SHAPE_MISMATCH,
          `${what} has shape [${actual.join(', ')}], expected ${sinfoToString(s)} (dim ${i} = ${want})`,
        );
      }
    });
  }

  private expr(e: Expr, env: Map<AnyVar, RelaxValue>, sym: Map<PrimVar, number>): RelaxValue {
    switch (e.kind) {
      case 'relax.Var':
      case 'relax.DataflowVar': {
        const v = env.get(e);
        if (v === undefined)
          throw new KilnError(ErrorCodes.INTERNAL, `internal error: unbound variable '${e.name}'`);
        return v;
      }
      case 'relax.Constant':
        // float16 / bfloat16 constants hold bit patterns; NDArrays hold the values.
        if (isHalfStored(e.dtype))
          return ndarray(
            e.dtype,
            e.shape,
            Array.from({ length: e.data.length }, (_, i) => Number(elementValue(e.dtype, e.data, i))),
          );
        return ndarray(e.dtype, e.shape, e.data);
      case 'relax.Tuple':
        return { tuple: e.fields.map((f) => this.expr(f, env, sym)) };
      case 'relax.TupleGetItem': {
        const t = this.expr(e.tuple, env, sym);
        if (typeof t !== 'object' || !('tuple' in t))
          throw new KilnError(ErrorCodes.INVALID_ARGUMENT, 'TupleGetItem of a non-tuple');
        return t.tuple[e.index];
      }
      case 'relax.ShapeExpr':
        return { shape: e.values.map((v) => evaluate(v, sym)) };
      case 'relax.PrimValue':
        return evaluate(e.value, sym);
      case 'relax.SeqExpr': {
        for (const b of e.blocks) {
          for (const bd of b.bindings) {
            const v = this.expr(bd.value, env, sym);
            if (bd.kind === 'relax.MatchCast')
              this.match(bd.structInfo, v, sym, `match_cast of '${bd.var.name}'`);
            env.set(bd.var, v);
          }
        }
        return this.expr(e.body, env, sym);
      }
      case 'relax.If': {
        const c = this.expr(e.cond, env, sym);
        const cv = typeof c === 'number' ? c : isNDArray(c) ? Number(c.data[0]) : 1;
        return this.expr(cv ? e.trueBranch : e.falseBranch, env, sym);
      }
      case 'relax.Call':
        return this.call(e, env, sym);
      default:
        throw new KilnError(ErrorCodes.UNSUPPORTED, `evaluating a ${e.kind} is not supported`);
    }
  }

  private call(
    e: Extract<Expr, { kind: 'relax.Call' }>,
    env: Map<AnyVar, RelaxValue>,
    sym: Map<PrimVar, number>,
  ): RelaxValue {
    if (e.op.kind === 'relax.GlobalVar') {
      const f = getFunction(this.mod, e.op.name);
      if (f?.kind !== 'relax.Function')
        throw new KilnError(ErrorCodes.UNKNOWN_NAME, `no Relax function '${e.op.name}'`);
      return this.callFunction(
        f as RelaxFunction,
        e.args.map((a) => this.expr(a, env, sym)),
        e.op.name,
      );
    }
    if (e.op.kind !== 'relax.Op')
      throw new KilnError(ErrorCodes.UNSUPPORTED, `evaluating calls of ${e.op.kind} is not supported`);
    const name = e.op.name;
    if (name === 'relax.shape_of') {
      const x = this.expr(e.args[0], env, sym);
      if (!isNDArray(x)) throw new KilnError(ErrorCodes.INVALID_ARGUMENT, 'shape_of a non-tensor');
      return { shape: x.shape };
    }
    if (name !== 'relax.call_tir')
      throw new KilnError(
        ErrorCodes.UNSUPPORTED,
        `operator '${name}' is not legalized; run relax.LegalizeOps first`,
      );
    const gv = e.args[0];
    if (gv.kind !== 'relax.GlobalVar')
      throw new KilnError(ErrorCodes.INVALID_ARGUMENT, 'call_tir callee must be a GlobalVar');
    const fn = getFunction(this.mod, gv.name);
    if (fn?.kind !== 'PrimFunc') throw new KilnError(ErrorCodes.UNKNOWN_NAME, `no PrimFunc '${gv.name}'`);
    const argsV = this.expr(e.args[1], env, sym);
    const ins = typeof argsV === 'object' && 'tuple' in argsV ? argsV.tuple : [argsV];
    const outS = e.sinfoArgs[0];
    const outList = outS.kind === 'relax.TupleStructInfo' ? outS.fields : [outS];
    const outs = outList.map((o) => {
      if (o.kind !== 'relax.TensorStructInfo' || !o.dtype)
        throw new KilnError(ErrorCodes.INVALID_ARGUMENT, 'call_tir output must be a tensor of known dtype');
      return ndarray(
        o.dtype,
        tensorShape(o)!.map((d) => evaluate(d, sym)),
      );
    });
    const tirVars: InterpretArg[] = [];
    if (e.args[2]) {
      const tv = this.expr(e.args[2], env, sym);
      if (typeof tv === 'object' && 'shape' in tv) tirVars.push(...tv.shape);
    }
    interpret(fn as PrimFunc, [...(ins as InterpretArg[]), ...outs, ...tirVars]);
    return outS.kind === 'relax.TupleStructInfo' ? { tuple: outs } : outs[0];
  }
}

/** Run the Relax function `name` of a legalized module on host values. */
export function evaluateRelax(mod: IRModule, name: string, args: readonly RelaxValue[]): RelaxValue {
  const f = getFunction(mod, name);
  if (f?.kind !== 'relax.Function')
    throw new KilnError(ErrorCodes.UNKNOWN_NAME, `no Relax function '${name}'`);
  return new Evaluator(mod).callFunction(f as RelaxFunction, args, name);
}
