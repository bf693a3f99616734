// Evaluation of the bytecode's serialized int64 expressions over the shape heap.
import { RuntimeErrorCodes, runtimeError } from '../errors.js';
import type { IntExpr } from './bytecode.js';

/** Shape heap of one frame: undefined = not bound yet. */
export type ShapeHeap = (number | undefined)[];

export function evalIntExpr(e: IntExpr, heap: ShapeHeap, where: () => string): number {
  switch (e.kind) {
    case 'int':
      return e.value;
    case 'slot': {
      const v = heap[e.slot];
      if (v === undefined)
        runtimeError(
          RuntimeErrorCodes.VM_UNBOUND_DIM,
          `${where()}: shape heap slot ${e.slot} read before it was bound`,
        );
      return v;
    }
    default: {
      const a = evalIntExpr(e.a, heap, where);
      const b = evalIntExpr(e.b, heap, where);
      let r: number;
      switch (e.kind) {
        case 'add':
          r = a + b;
          break;
        case 'sub':
          r = a - b;
          break;
        case 'mul':
          r = a * b;
          break;
        case 'floordiv':
          if (b === 0)
            runtimeError(
              RuntimeErrorCodes.DIVIDE_BY_ZERO,
              `${where()}: division by zero in a shape expression`,
            );
          r = Math.floor(a / b);
          break;
        case 'floormod':
          if (b === 0)
            runtimeError(
              RuntimeErrorCodes.DIVIDE_BY_ZERO,
              `${where()}: modulo by zero in a shape expression`,
            );
          r = a - Math.floor(a / b) * b;
          break;
        case 'min':
          r = Math.min(a, b);
          break;
        case 'max':
          r = Math.max(a, b);
          break;
        default:
          return runtimeError(
            RuntimeErrorCodes.BYTECODE_INVALID,
            `${where()}: unknown shape expression kind '${(e as { kind: string }).kind}'`,
          );
      }
      if (!Number.isSafeInteger(r))
        runtimeError(
          RuntimeErrorCodes.INVALID_ARGUMENT,
          `${where()}: shape expression overflows int53 (${r})`,
        );
      return r;
    }
  }
}

/** Structural check of a deserialized expression (used by the bytecode validator). */
export function isValidIntExpr(e: unknown, heapSize: number): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const x = e as { kind?: unknown; value?: unknown; slot?: unknown; a?: unknown; b?: unknown };
  switch (x.kind) {
    case 'int':
      return Number.isSafeInteger(x.value);
    case 'slot':
      return Number.isInteger(x.slot) && (x.slot as number) >= 0 && (x.slot as number) < heapSize;
    case 'add':
    case 'sub':
    case 'mul':
    case 'floordiv':
    case 'floormod':
    case 'min':
    case 'max':
      return isValidIntExpr(x.a, heapSize) && isValidIntExpr(x.b, heapSize);
    default:
      return false;
  }
}
