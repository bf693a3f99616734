// tir.FlattenBuffer
// Does:        rewrites every multi-dimensional (or strided, or offset) buffer into a 1-D
//              buffer over the same storage (same `data` var): indices are linearised
//              row-major (or with the buffer's explicit strides) and the element offset
//              is added to the index, so the flat buffer has no strides and offset 0.
//              Param buffers stay in the signature (they carry the shapes the caller
//              binds); the body opens with a DeclBuffer of each flattened param.
//              Allocate / DeclBuffer of a multi-dim buffer declare its flat form instead.
//              Symbolic shapes and strides are fine: the index is an expression.
// Requires:    no Block / BlockRealize (tir.ConvertBlocksToLoops).
// Establishes: every BufferLoad / BufferStore has exactly one index, on a buffer with
//              shape [n], no strides and elem_offset 0.
import type { Buffer, BufferLoad, Node, PrimExpr } from '@kiln/ir-core';
import { bufferLoad, DType, ErrorCodes, intImm, isConstInt, KilnError, Mutator } from '@kiln/ir-core';
import type { Allocate, BufferStore, DeclBuffer, PrimFunc, Stmt } from '../stmt.js';
import { bufferStore, declBuffer } from '../stmt.js';
import { addFold, mulFold, productOf, rebuildBuffer, usesVar, withBody } from './util.js';

/** Is `b` already in flat form (1-D, compact, offset 0)? */
export function isFlatBuffer(b: Buffer): boolean {
  return b.shape.length === 1 && b.strides.length === 0 && isConstInt(b.elemOffset, 0);
}

/** Number of elements addressed through `b`, counted from its data pointer. */
export function flatExtent(b: Buffer): PrimExpr {
  let n: PrimExpr;
  if (b.strides.length === 0) n = productOf(b.shape);
  else {
    // Last addressable element + 1: offset + sum (shape_i - 1) * stride_i + 1.
    n = intImm(1, DType.int64);
    b.shape.forEach((s, i) => {
      const sm1 = s.kind === 'IntImm' ? intImm(s.value - 1, s.dtype) : addFold(s, intImm(-1, s.dtype));
      n = addFold(n, mulFold(sm1, b.strides[i]));
    });
  }
  return isConstInt(b.elemOffset, 0) ? n : addFold(b.elemOffset, n);
}

/** The 1-D index of `indices` into `b` (elem_offset included). */
export function linearIndex(b: Buffer, indices: readonly PrimExpr[]): PrimExpr {
  if (indices.length !== b.shape.length) {
    throw new KilnError(
      ErrorCodes.WELL_FORMED,
      `buffer '${b.name}' has ${b.shape.length} dimensions but is accessed with ${indices.length} indices`,
    );
  }
  let idx: PrimExpr;
  if (indices.length === 0) idx = intImm(0, DType.int64);
  else if (b.strides.length === 0) {
    // Horner form: ((i0 * s1 + i1) * s2 + i2) ...
    idx = indices[0];
    for (let k = 1; k < indices.length; k++) idx = addFold(mulFold(idx, b.shape[k]), indices[k]);
  } else {
    if (b.strides.length !== b.shape.length) {
      throw new KilnError(
        ErrorCodes.WELL_FORMED,
        `buffer '${b.name}' has ${b.shape.length} dimensions but ${b.strides.length} strides`,
      );
    }
    idx = mulFold(indices[0], b.strides[0]);
    for (let k = 1; k < indices.length; k++) idx = addFold(idx, mulFold(indices[k], b.strides[k]));
  }
  return isConstInt(b.elemOffset, 0) ? idx : addFold(idx, b.elemOffset);
}

class Flattener extends Mutator {
  private readonly flat = new Map<Buffer, Buffer>();

  flatOf(b: Buffer): Buffer {
    if (isFlatBuffer(b)) return b;
    let f = this.flat.get(b);
    if (!f) {
      f = rebuildBuffer(b, { shape: [flatExtent(b)], strides: [], elemOffset: intImm(0, DType.int64) });
      this.flat.set(b, f);
    }
    return f;
  }

  protected override visitNode(n: Node): Node {
    switch (n.kind) {
      case 'BufferLoad': {
        const l = n as BufferLoad;
        const idx = l.indices.map((i) => this.visit(i));
        if (isFlatBuffer(l.buffer))
          return idx.every((x, i) => x === l.indices[i]) ? l : bufferLoad(l.buffer, idx, l.span);
        return bufferLoad(this.flatOf(l.buffer), [linearIndex(l.buffer, idx)], l.span);
      }
      case 'BufferStore': {
        const st = n as BufferStore;
        const idx = st.indices.map((i) => this.visit(i));
        const v = this.visit(st.value);
        if (isFlatBuffer(st.buffer)) {
          return v === st.value && idx.every((x, i) => x === st.indices[i])
            ? st
            : bufferStore(st.buffer, v, idx, st.span);
        }
        return bufferStore(this.flatOf(st.buffer), v, [linearIndex(st.buffer, idx)], st.span);
      }
      case 'Allocate':
      case 'DeclBuffer': {
        const a = n as Allocate | DeclBuffer;
        const body = this.visit(a.body);
        const fb = this.flatOf(a.buffer);
        if (fb === a.buffer && body === a.body) return a;
        return Object.freeze({ ...a, buffer: fb, body });
      }
      case 'Block':
      case 'BlockRealize':
        throw new KilnError(
          ErrorCodes.PASS_REQUIREMENT,
          `tir.FlattenBuffer needs block-free TIR, found a ${n.kind} (run tir.ConvertBlocksToLoops first)`,
        );
      default:
        return this.defaultVisit(n);
    }
  }
}

export function flattenBuffer(fn: PrimFunc): PrimFunc {
  const fl = new Flattener();
  let body = fl.visit(fn.body);
  for (let i = fn.params.length - 1; i >= 0; i--) {
    const p = fn.params[i];
    if (p.kind !== 'Buffer' || isFlatBuffer(p)) continue;
    // Only declare the flat view of params the body uses.
    const f = fl.flatOf(p);
    if (usesVar(body, f)) body = declBuffer(f, body);
  }
  return withBody(fn, body as Stmt);
}
