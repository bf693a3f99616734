// The runtime's builtin functions for `CallBuiltin` (tuples, shapes, views,
// copies). They work on any device the tensors live on; allocation goes through
// the calling frame so that the memory is pooled and reclaimed like any other.
import type { Device } from '../device/device.js';
import { RuntimeErrorCodes, runtimeError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { describeValue, Shape, type Value } from './value.js';

export interface BuiltinContext {
  /** Function name, for messages. */
  readonly func: string;
  /** A fresh pooled tensor owned by the calling frame. */
  allocTensor(shape: readonly number[], dtype: string, device: Device): Tensor;
  /** The executable's device by index. */
  device(index: number): Device;
}

export type BuiltinFunction = (args: readonly Value[], ctx: BuiltinContext) => Value | undefined;

function tensorArg(args: readonly Value[], i: number, name: string, ctx: BuiltinContext): Tensor {
  const v = args[i];
  if (!(v instanceof Tensor)) {
    runtimeError(
      RuntimeErrorCodes.TYPE_MISMATCH,
      `function '${ctx.func}': builtin '${name}' argument ${i} must be a tensor, got ${describeValue(v)}`,
    );
  }
  return v;
}

function intArg(args: readonly Value[], i: number, name: string, ctx: BuiltinContext): number {
  const v = args[i];
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    runtimeError(
      RuntimeErrorCodes.TYPE_MISMATCH,
      `function '${ctx.func}': builtin '${name}' argument ${i} must be an integer, got ${describeValue(v)}`,
    );
  }
  return v;
}

function shapeArg(args: readonly Value[], i: number, name: string, ctx: BuiltinContext): readonly number[] {
  const v = args[i];
  if (v instanceof Shape) return v.dims;
  if (v instanceof Tensor && v.ndim === 1 && v.storage.host) return v.toArray().map(Number);
  return runtimeError(
    RuntimeErrorCodes.TYPE_MISMATCH,
    `function '${ctx.func}': builtin '${name}' argument ${i} must be a shape, got ${describeValue(v)}`,
  );
}

export const DEFAULT_BUILTINS: Readonly<Record<string, BuiltinFunction>> = {
  'tuple.make': (args) => [...args],
  'tuple.get': (args, ctx) => {
    const t = args[0];
    const i = intArg(args, 1, 'tuple.get', ctx);
    if (!Array.isArray(t))
      runtimeError(
        RuntimeErrorCodes.TYPE_MISMATCH,
        `function '${ctx.func}': tuple.get on ${describeValue(t)}`,
      );
    if (i < 0 || i >= t.length)
      runtimeError(
        RuntimeErrorCodes.OUT_OF_BOUNDS,
        `function '${ctx.func}': tuple index ${i} out of range (${t.length} fields)`,
      );
    return t[i];
  },
  shape_of: (args, ctx) => new Shape(tensorArg(args, 0, 'shape_of', ctx).shape),
  'shape.get': (args, ctx) => {
    const s = shapeArg(args, 0, 'shape.get', ctx);
    const i = intArg(args, 1, 'shape.get', ctx);
    if (i < 0 || i >= s.length)
      runtimeError(RuntimeErrorCodes.OUT_OF_BOUNDS, `function '${ctx.func}': shape index ${i} out of range`);
    return s[i];
  },
  reshape: (args, ctx) => tensorArg(args, 0, 'reshape', ctx).reshape(shapeArg(args, 1, 'reshape', ctx)),
  copy: (args, ctx) => {
    const src = tensorArg(args, 0, 'copy', ctx);
    const dst =
      args.length > 1 ? tensorArg(args, 1, 'copy', ctx) : ctx.allocTensor(src.shape, src.dtype, src.device);
    src.copyInto(dst);
    return dst;
  },
  to_device: (args, ctx) => {
    const src = tensorArg(args, 0, 'to_device', ctx);
    const dev = ctx.device(intArg(args, 1, 'to_device', ctx));
    if (src.device === dev) return src;
    const dst = ctx.allocTensor(src.shape, src.dtype, dev);
    src.copyInto(dst);
    return dst;
  },
  'tensor.item': (args, ctx) => {
    const t = tensorArg(args, 0, 'tensor.item', ctx);
    if (t.size !== 1)
      runtimeError(
        RuntimeErrorCodes.SHAPE_MISMATCH,
        `function '${ctx.func}': tensor.item on a tensor of ${t.size} elements`,
      );
    const v = t.toArray()[0];
    return t.dtype === 'bool' ? v !== 0 : v;
  },
};
