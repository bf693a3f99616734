// Operators that exist only after the graph has been lowered towards the VM: explicit
// allocation (CallTIRRewrite) and storage planning (StaticPlanBlockMemory). They are
// ordinary registry entries, so printers, checkers and plugins see them like any op.
import { ErrorCodes, dtype as parseDType } from '@kiln/ir-core';
import { z } from 'zod';
import { call, primValue } from '../ir/expr.js';
import type { Expr, ShapeExpr } from '../ir/nodes.js';
import { objectSInfo, tensorSInfo } from '../ir/struct-info.js';
import type { OpDef } from '../op/registry.js';
import { defineOp } from '../op/registry.js';

const dtypeAttrs = z.object({ dtype: z.string() });

function shapeArg(e: Expr | undefined): ShapeExpr | undefined {
  return e?.kind === 'relax.ShapeExpr' ? e : undefined;
}

/** `builtin.alloc_tensor(shape, dtype=…)`: a fresh tensor the VM allocates from its pool. */
export const allocTensorOp = defineOp<{ dtype: string }>({
  name: 'relax.builtin.alloc_tensor',
  numArgs: 1,
  pattern: 'opaque',
  pure: false,
  attrs: dtypeAttrs,
  inferStructInfo(c, ctx) {
    const s = shapeArg(c.args[0]);
    if (!s) return ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'argument 0 must be a shape expression');
    return tensorSInfo(s.values, parseDType(ctx.attrs.dtype));
  },
});

/** `memory.alloc_storage(size_bytes)`: untyped storage that planned tensors are placed in. */
export const allocStorageOp = defineOp({
  name: 'relax.memory.alloc_storage',
  numArgs: 1,
  pattern: 'opaque',
  pure: false,
  inferStructInfo(c, ctx) {
    if (c.args[0]?.kind !== 'relax.PrimValue')
      ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'argument 0 must be the size in bytes (a PrimValue)');
    return objectSInfo();
  },
});

/** `memory.alloc_tensor(storage, offset, shape, dtype=…)`: a tensor inside planned storage. */
export const memAllocTensorOp = defineOp<{ dtype: string }>({
  name: 'relax.memory.alloc_tensor',
  numArgs: 3,
  pattern: 'opaque',
  pure: false,
  attrs: dtypeAttrs,
  inferStructInfo(c, ctx) {
    const s = shapeArg(c.args[2]);
    if (!s) return ctx.fail(ErrorCodes.INVALID_ARGUMENT, 'argument 2 must be a shape expression');
    return tensorSInfo(s.values, parseDType(ctx.attrs.dtype));
  },
});

/** `memory.kill_storage(storage)`: nothing reads the storage after this point. */
export const killStorageOp = defineOp({
  name: 'relax.memory.kill_storage',
  numArgs: 1,
  pattern: 'opaque',
  pure: false,
  inferStructInfo() {
    return objectSInfo();
  },
});

export const VM_OPS: readonly OpDef<unknown>[] = [
  allocTensorOp,
  allocStorageOp,
  memAllocTensorOp,
  killStorageOp,
] as readonly OpDef<unknown>[];

export function allocTensor(shape: ShapeExpr, dt: string): Expr {
  return call('relax.builtin.alloc_tensor', [shape], {
    attrs: { dtype: dt },
    structInfo: tensorSInfo(shape.values, parseDType(dt)),
  });
}
export function allocStorage(bytes: Parameters<typeof primValue>[0]): Expr {
  return call('relax.memory.alloc_storage', [primValue(bytes)], { structInfo: objectSInfo() });
}
export function memAllocTensor(storage: Expr, offset: number, shape: ShapeExpr, dt: string): Expr {
  return call('relax.memory.alloc_tensor', [storage, primValue(offset), shape], {
    attrs: { dtype: dt },
    structInfo: tensorSInfo(shape.values, parseDType(dt)),
  });
}
export function killStorage(storage: Expr): Expr {
  return call('relax.memory.kill_storage', [storage], { structInfo: objectSInfo() });
}
