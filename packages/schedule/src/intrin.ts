// Tensor intrinsics for tensorize: a description (what a hardware micro-kernel computes,
// as a loop nest over one block) and an implementation (the TIR that replaces a matching
// nest). Registries belong to a schedule or a caller, never to a module-level singleton.
import type { Buffer, PrimExpr } from '@kiln/ir-core';
import { add, buffer, bufferLoad, ErrorCodes, intImm, KilnError, mul, primVar, range } from '@kiln/ir-core';
import type { PrimFunc, Stmt } from '@kiln/tensorir';
import { block, blockRealize, bufferRegion, bufferStore, forLoop, iterVar, primFunc } from '@kiln/tensorir';
import { ScheduleErrorCodes as C, fail } from './errors.js';

export interface TensorIntrin {
  readonly name: string;
  readonly desc: PrimFunc;
  readonly impl: PrimFunc;
}

export class TensorIntrinRegistry {
  private readonly table = new Map<string, TensorIntrin>();

  /** Add an intrinsic; both functions must take the same buffers (dtype and shape) in the same order. */
  register(name: string, desc: PrimFunc, impl: PrimFunc): TensorIntrin {
    if (this.table.has(name))
      throw new KilnError(ErrorCodes.DUPLICATE_NAME, `tensor intrinsic '${name}' is already registered`);
    const db = desc.params.filter((p): p is Buffer => p.kind === 'Buffer');
    const ib = impl.params.filter((p): p is Buffer => p.kind === 'Buffer');
    const same =
      db.length === ib.length &&
      db.every(
        (b, i) =>
          b.dtype === ib[i].dtype &&
          b.shape.length === ib[i].shape.length &&
          b.shape.every(
            (s, d) =>
              s.kind === 'IntImm' &&
              ib[i].shape[d].kind === 'IntImm' &&
              s.value === (ib[i].shape[d] as { value: number }).value,
          ),
      );
    if (!same)
      throw new KilnError(
        ErrorCodes.INVALID_ARGUMENT,
        `tensor intrinsic '${name}': description and implementation take different buffers`,
      );
    const t = Object.freeze({ name, desc, impl });
    this.table.set(name, t);
    return t;
  }

  get(name: string): TensorIntrin {
    const t = this.table.get(name);
    if (!t)
      fail(
        C.SCHEDULE_UNKNOWN_INTRIN,
        'tensorize',
        `no tensor intrinsic '${name}' (known: ${[...this.table.keys()].join(', ') || 'none'})`,
      );
    return t;
  }

  has(name: string): boolean {
    return this.table.has(name);
  }

  names(): string[] {
    return [...this.table.keys()];
  }

  /** An independent copy (a schedule registers into its own copy). */
  clone(): TensorIntrinRegistry {
    const r = new TensorIntrinRegistry();
    for (const t of this.table.values()) r.table.set(t.name, t);
    return r;
  }
}

function rootOf(body: Stmt): Stmt {
  return blockRealize([], true, block('root', body));
}

/** `C[i, j] += A[i, k] * B[k, j]` over 4×4×4, float32: the description of a matmul micro-kernel. */
function matmulDesc(n: number): PrimFunc {
  const A = buffer('A', 'float32', [n, n]);
  const B = buffer('B', 'float32', [n, n]);
  const Cb = buffer('C', 'float32', [n, n]);
  const [i, j, k] = ['i', 'j', 'k'].map((x) => primVar(x));
  const [vi, vj, vk] = ['vi', 'vj', 'vk'].map((x) => primVar(x));
  const one = (v: PrimExpr) => range(v, intImm(1));
  const blk = block(
    'update',
    bufferStore(Cb, add(bufferLoad(Cb, [vi, vj]), mul(bufferLoad(A, [vi, vk]), bufferLoad(B, [vk, vj]))), [
      vi,
      vj,
    ]),
    {
      iterVars: [iterVar(vi, [0, n]), iterVar(vj, [0, n]), iterVar(vk, [0, n], 'reduce')],
      reads: [bufferRegion(A, [one(vi), one(vk)]), bufferRegion(B, [one(vk), one(vj)])],
      writes: [bufferRegion(Cb, [one(vi), one(vj)])],
    },
  );
  const body = forLoop(i, 0, n, forLoop(j, 0, n, forLoop(k, 0, n, blockRealize([i, j, k], true, blk))));
  return primFunc([A, B, Cb], rootOf(body), { attrs: { global_symbol: `matmul_${n}x${n}x${n}_f32_desc` } });
}

/** The implementation: per output element, the k-sum fully unrolled (same summation order). */
function matmulImpl(n: number): PrimFunc {
  const A = buffer('A', 'float32', [n, n]);
  const B = buffer('B', 'float32', [n, n]);
  const Cb = buffer('C', 'float32', [n, n]);
  const [i, j] = ['i', 'j'].map((x) => primVar(x));
  const [vi, vj] = ['vi', 'vj'].map((x) => primVar(x));
  let acc: PrimExpr = bufferLoad(Cb, [vi, vj]);
  for (let k = 0; k < n; k++)
    acc = add(acc, mul(bufferLoad(A, [vi, intImm(k)]), bufferLoad(B, [intImm(k), vj])));
  const one = (v: PrimExpr) => range(v, intImm(1));
  const blk = block('micro_kernel', bufferStore(Cb, acc, [vi, vj]), {
    iterVars: [iterVar(vi, [0, n]), iterVar(vj, [0, n])],
    reads: [
      bufferRegion(A, [one(vi), range(intImm(0), intImm(n))]),
      bufferRegion(B, [range(intImm(0), intImm(n)), one(vj)]),
    ],
    writes: [bufferRegion(Cb, [one(vi), one(vj)])],
  });
  const body = forLoop(i, 0, n, forLoop(j, 0, n, blockRealize([i, j], true, blk), { kind: 'unrolled' }), {
    kind: 'unrolled',
  });
  return primFunc([A, B, Cb], rootOf(body), { attrs: { global_symbol: `matmul_${n}x${n}x${n}_f32_impl` } });
}

/** `C[0] += A[k] * B[k]` over k < 4, float32, and its unrolled implementation. */
function dotDesc(n: number, unrolled: boolean): PrimFunc {
  const A = buffer('A', 'float32', [n]);
  const B = buffer('B', 'float32', [n]);
  const Cb = buffer('C', 'float32', [1]);
  const zero = intImm(0);
  if (unrolled) {
    let acc: PrimExpr = bufferLoad(Cb, [zero]);
    for (let k = 0; k < n; k++) acc = add(acc, mul(bufferLoad(A, [intImm(k)]), bufferLoad(B, [intImm(k)])));
    const blk = block('dot_kernel', bufferStore(Cb, acc, [zero]), {
      reads: [bufferRegion(A), bufferRegion(B)],
      writes: [bufferRegion(Cb)],
    });
    return primFunc([A, B, Cb], rootOf(blockRealize([], true, blk)), {
      attrs: { global_symbol: `dot_${n}_f32_impl` },
    });
  }
  const k = primVar('k');
  const vk = primVar('vk');
  const blk = block(
    'update',
    bufferStore(Cb, add(bufferLoad(Cb, [zero]), mul(bufferLoad(A, [vk]), bufferLoad(B, [vk]))), [zero]),
    {
      iterVars: [iterVar(vk, [0, n], 'reduce')],
      reads: [bufferRegion(A, [range(vk, intImm(1))]), bufferRegion(B, [range(vk, intImm(1))])],
      writes: [bufferRegion(Cb, [range(zero, intImm(1))])],
    },
  );
  return primFunc([A, B, Cb], rootOf(forLoop(k, 0, n, blockRealize([k], true, blk))), {
    attrs: { global_symbol: `dot_${n}_f32_desc` },
  });
}

/** Names of the intrinsics every new registry starts with. */
export const BUILTIN_TENSOR_INTRINS = ['matmul_4x4x4_f32', 'dot_4_f32'] as const;

/** A registry holding the built-in intrinsics (unless `builtins: false`). */
export function createTensorIntrinRegistry(opts: { builtins?: boolean } = {}): TensorIntrinRegistry {
  const r = new TensorIntrinRegistry();
  if (opts.builtins ?? true) {
    r.register('matmul_4x4x4_f32', matmulDesc(4), matmulImpl(4));
    r.register('dot_4_f32', dotDesc(4, false), dotDesc(4, true));
  }
  return r;
}
