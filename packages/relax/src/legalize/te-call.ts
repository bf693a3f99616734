// The bridge from Relax calls to TIR kernels (TVM's `bb.call_te`): make te placeholders
// with the arguments' symbolic shapes, let the op build its compute stages, turn them
// into a PrimFunc, add it to the module and return `call_tir(@kernel, args, out_sinfo)`.
// Symbolic shape variables are carried through unchanged: the kernel's buffers use the
// same variables, so one kernel serves every value of `n`; variables the kernel cannot
// bind from its buffer shapes are passed as `tir_vars`.
import type { DataType, PrimExpr, Var as PrimVar } from '@kiln/ir-core';
import { ErrorCodes, getFunction, KilnError, structuralEqual, structuralHash } from '@kiln/ir-core';
import type { PrimFunc, Tensor } from '@kiln/tensorir';
import { createPrimFunc, placeholder } from '@kiln/tensorir';
import type { BlockBuilder } from '../block-builder.js';
import { call, tupleGetItem } from '../ir/expr.js';
import type { Call, Expr, GlobalVar, StructInfo } from '../ir/nodes.js';
import { objectSInfo, sinfoToString, tensorShape, tensorSInfo, tupleSInfo } from '../ir/struct-info.js';
import { callTIR } from '../op/core.js';

/** A tensor argument's te placeholder (symbolic shape required). */
export function placeholderFor(e: Expr, name: string, what: string): Tensor {
  const s = e.structInfo;
  if (s?.kind !== 'relax.TensorStructInfo') {
    throw new KilnError(
      ErrorCodes.UNSUPPORTED,
      `${what}: cannot legalize, argument '${name}' is not a tensor`,
    );
  }
  const shape = tensorShape(s);
  if (!shape || !s.dtype) {
    throw new KilnError(
      ErrorCodes.UNSUPPORTED,
      `${what}: cannot legalize an argument of unknown shape or dtype (${sinfoToString(s)})`,
    );
  }
  return placeholder(shape, s.dtype, name);
}

/** The known shape/dtype of a call result tensor (legalization needs both). */
export function outTensorInfo(c: Call, what: string): { shape: readonly PrimExpr[]; dtype: DataType } {
  const s = c.structInfo;
  if (s?.kind !== 'relax.TensorStructInfo' || !s.dtype || !tensorShape(s)) {
    throw new KilnError(
      ErrorCodes.UNSUPPORTED,
      `${what}: cannot legalize, the result's shape or dtype is unknown (${s ? sinfoToString(s) : 'not normalized'})`,
    );
  }
  return { shape: tensorShape(s)!, dtype: s.dtype };
}

export interface TECallOptions {
  /** Which call arguments are tensors passed to the kernel (default: every tensor argument). */
  tensorArgs?: readonly Expr[];
  /** Names of the placeholders (default a, b, c, ...). */
  names?: readonly string[];
  /** Function attributes of the kernel (`op_pattern`, ...). */
  attrs?: Record<string, string | number | boolean>;
}

/**
 * Build a kernel from te stages and call it: `build` receives one placeholder per tensor
 * argument and returns the output tensor(s). Returns the `call_tir` expression.
 */
export function emitTE(
  bb: BlockBuilder,
  call: Call,
  nameHint: string,
  build: (...inputs: Tensor[]) => Tensor | readonly Tensor[],
  opts: TECallOptions = {},
): Call {
  const what = call.op.kind === 'relax.Op' ? call.op.name : nameHint;
  const args = opts.tensorArgs ?? flattenTensorArgs(bb, call.args);
  const names =
    opts.names ?? args.map((_, i) => String.fromCharCode(97 + (i % 26)) + (i >= 26 ? String(i) : ''));
  // The kernel depends only on the op, its attributes and the arguments' StructInfo: a
  // call with the same signature reuses the kernel without rebuilding it.
  const cache = kernelCacheOf(bb);
  const sig = tupleSInfo([
    ...call.args.map((a) => a.structInfo ?? objectSInfo()),
    call.structInfo ?? objectSInfo(),
    ...args.map((a) => a.structInfo ?? objectSInfo()),
  ]);
  const text = `${what}|${nameHint}|${JSON.stringify(call.attrs)}|${JSON.stringify(opts.attrs ?? {})}|${names.join(',')}|${structuralHash(sig)}`;
  const hit = cache.get(text)?.find((e) => structuralEqual(e.sig, sig));
  if (hit && getFunction(bb.getModule(), hit.gv.name))
    return callTIR(hit.gv, args, hit.out, hit.tirVars.length ? hit.tirVars : undefined);
  const inputs = args.map((a, i) => placeholderFor(a, names[i], what));
  const out = build(...inputs);
  const outs = Array.isArray(out) ? (out as readonly Tensor[]) : [out as Tensor];
  const fn = createPrimFunc([...inputs, ...outs], { name: nameHint, attrs: opts.attrs });
  const tirVars = fn.params.filter((p): p is PrimVar => p.kind === 'Var');
  const gv = bb.addFunc(fn, nameHint);
  const outSInfo: StructInfo[] = outs.map((t) => tensorSInfo(t.shape, t.dtype));
  const sinfo = Array.isArray(out) ? tupleSInfo(outSInfo) : outSInfo[0];
  const entries = cache.get(text) ?? [];
  entries.push({ sig, gv, out: sinfo, tirVars });
  cache.set(text, entries);
  return callTIR(gv, args, sinfo, tirVars.length ? tirVars : undefined);
}

interface KernelEntry {
  readonly sig: StructInfo;
  readonly gv: GlobalVar;
  readonly out: StructInfo;
  readonly tirVars: readonly PrimVar[];
}
// One cache per BlockBuilder (i.e. per module being built), dropped with it.
const kernelCaches = new WeakMap<BlockBuilder, Map<string, KernelEntry[]>>();
function kernelCacheOf(bb: BlockBuilder): Map<string, KernelEntry[]> {
  let c = kernelCaches.get(bb);
  if (!c) {
    c = new Map();
    kernelCaches.set(bb, c);
  }
  return c;
}

/** Tensor arguments, with tuple arguments (concat, einsum) expanded. */
export function flattenTensorArgs(bb: BlockBuilder, args: readonly Expr[]): Expr[] {
  const out: Expr[] = [];
  for (const a of args) {
    const s = a.structInfo;
    if (a.kind === 'relax.Tuple') out.push(...flattenTensorArgs(bb, a.fields));
    else if (s?.kind === 'relax.TensorStructInfo') out.push(a);
    else if (s?.kind === 'relax.TupleStructInfo') {
      // A tuple-valued variable: take its fields out first (call_tir wants tensors).
      out.push(
        ...flattenTensorArgs(
          bb,
          s.fields.map((_, i) => bb.emit(tupleGetItem(a, i))),
        ),
      );
    }
  }
  return out;
}

/** The PrimFunc of a module kernel added by emitTE (for tests and debugging). */
export type { PrimFunc };

/**
 * A custom kernel outside any operator (TVM's `bb.emit_te`): `build` receives one te
 * placeholder per tensor in `args` (normalized expressions, usually variables) and returns
 * the output tensor(s); returns the `call_tir` to emit.
 */
export function callTE(
  bb: BlockBuilder,
  nameHint: string,
  args: readonly Expr[],
  build: (...inputs: Tensor[]) => Tensor | readonly Tensor[],
  opts: Omit<TECallOptions, 'tensorArgs'> = {},
): Call {
  const norm = args.map((a) => bb.normalize(a));
  // A carrier call (never emitted) gives emitTE the arguments and a cache signature.
  const carrier = call(`kiln.te.${nameHint.replace(/[^A-Za-z0-9_]/g, '_')}`, norm);
  return emitTE(bb, carrier, nameHint, build, { ...opts, tensorArgs: flattenTensorArgs(bb, norm) });
}
