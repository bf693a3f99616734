// Values held in VM registers and passed to / returned from VM functions.
import { Tensor } from '../tensor.js';

/** A shape value (Relax `R.Shape`): a distinct class so it is never confused with a tuple of numbers. */
export class Shape {
  readonly dims: readonly number[];
  constructor(dims: readonly number[]) {
    this.dims = Object.freeze([...dims]);
  }
  toString(): string {
    return `Shape[${this.dims.join(', ')}]`;
  }
}

/** Tensor, tuple (array), shape, scalar or string. */
export type Value = Tensor | Shape | number | bigint | boolean | string | readonly Value[];

export function describeValue(v: Value | undefined): string {
  if (v === undefined) return 'nothing (unset register)';
  if (v instanceof Tensor) return `tensor ${v.dtype}[${v.shape.join(', ')}]`;
  if (v instanceof Shape) return v.toString();
  if (Array.isArray(v)) return `tuple of ${v.length}`;
  return `${typeof v} ${String(v)}`;
}

/** Adds every storage buffer reachable from `v` (through tuples) to `out`. */
export function collectStorages(v: Value | undefined, out: Set<unknown>): void {
  if (v instanceof Tensor) out.add(v.storage);
  else if (Array.isArray(v)) for (const x of v) collectStorages(x, out);
}
