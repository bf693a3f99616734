// Property tests: random TIR statement trees (every statement kind, nested blocks,
// buffers aliasing one storage var) wrapped in a PrimFunc print, parse back to a
// structurally equal function, and print identically the second time.
// fast-check generates the tree's shape; a seeded generator fills in the leaves
// (expressions, names) from what is in scope at each point.
import type { Buffer, DataType, PrimExpr, Var } from '@kiln/ir-core';
import {
  add,
  and,
  boolImm,
  buffer,
  bufferLoad,
  call,
  cast,
  DType,
  dtype,
  floatImm,
  floordiv,
  floormod,
  intImm,
  isKilnError,
  letExpr,
  lt,
  max,
  min,
  mul,
  not,
  primVar,
  ramp,
  range,
  select,
  stringImm,
  structuralEqual,
  sub,
} from '@kiln/ir-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ForKind, IterType, PrimFunc, Stmt } from '../stmt.js';
import {
  allocate,
  attrStmt,
  block,
  blockRealize,
  bufferRegion,
  bufferStore,
  declBuffer,
  evaluate,
  forLoop,
  ifThenElse,
  iterVar,
  letStmt,
  primFunc,
  STMT_KINDS,
  seqStmt,
  whileLoop,
} from '../stmt.js';
import { parsePrimFunc, printPrimFunc } from './index.js';

type Plan =
  | { k: 'store' }
  | { k: 'eval' }
  | { k: 'for'; body: Plan }
  | { k: 'while'; body: Plan }
  | { k: 'if'; yes: Plan; no: Plan | null }
  | { k: 'let'; body: Plan }
  | { k: 'alloc'; body: Plan }
  | { k: 'decl'; body: Plan }
  | { k: 'attr'; body: Plan }
  | { k: 'seq'; items: Plan[] }
  | { k: 'block'; init: Plan | null; body: Plan };

const plan: fc.Arbitrary<Plan> = fc.letrec<{ s: Plan }>((tie) => ({
  s: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant<Plan>({ k: 'store' }),
    fc.constant<Plan>({ k: 'eval' }),
    tie('s').map((body): Plan => ({ k: 'for', body })),
    tie('s').map((body): Plan => ({ k: 'while', body })),
    fc.tuple(tie('s'), fc.option(tie('s'))).map(([t, e]): Plan => ({ k: 'if', yes: t, no: e })),
    tie('s').map((body): Plan => ({ k: 'let', body })),
    tie('s').map((body): Plan => ({ k: 'alloc', body })),
    tie('s').map((body): Plan => ({ k: 'decl', body })),
    tie('s').map((body): Plan => ({ k: 'attr', body })),
    fc.array(tie('s'), { minLength: 0, maxLength: 4 }).map((items): Plan => ({ k: 'seq', items })),
    fc.tuple(fc.option(tie('s')), tie('s')).map(([init, body]): Plan => ({ k: 'block', init, body })),
  ),
})).s;

/** mulberry32: a small seeded generator for the leaves. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { next, int, pick };
}

interface Scope {
  readonly ints: readonly Var[];
  readonly buffers: readonly Buffer[];
}

const NAMES = ['i', 'j', 'i', 'x', 'in', 'for', 'data', 'a.b', 'i_1'];
const BUF_NAMES = ['A', 'B', 'S', 'A', 'scope', 'reads', 'T'];

function build(p: Plan, seed: number): PrimFunc {
  const r = rng(seed);
  const name = () => r.pick(NAMES);
  const n = primVar('n');
  const m = primVar('m', 'int32');
  const params: Array<Buffer | Var> = [
    buffer('A', 'float32', [n, 16]),
    buffer('B', 'int32', [8], { strides: [1] }),
    buffer('C', 'float32x4', [4, cast('int64', m)], { scope: 'global', align: 16, elemOffset: mul(n, 2) }),
    m,
  ];
  if (r.int(2) === 0) params.push(primVar('alpha', 'float32'));

  const index = (s: Scope, depth = 2): PrimExpr => {
    const leaf = () => (r.int(3) === 0 || s.ints.length === 0 ? intImm(r.int(20) - 5) : r.pick(s.ints));
    if (depth === 0) return leaf();
    switch (r.int(9)) {
      case 0:
        return add(index(s, depth - 1), index(s, depth - 1));
      case 1:
        return mul(index(s, depth - 1), intImm(r.int(8)));
      case 2:
        return floordiv(index(s, depth - 1), intImm(r.int(7) + 1));
      case 3:
        return floormod(index(s, depth - 1), intImm(r.int(7) + 1));
      case 4:
        return min(index(s, depth - 1), sub(index(s, depth - 1), 1));
      case 5: {
        const v = primVar(name());
        return letExpr(v, index(s, depth - 1), add(v, index({ ...s, ints: [...s.ints, v] }, depth - 1)));
      }
      case 6:
        return select(lt(index(s, 0), index(s, 0)), index(s, depth - 1), index(s, depth - 1));
      default:
        return leaf();
    }
  };
  const cond = (s: Scope): PrimExpr => {
    const c = lt(index(s, 1), index(s, 1));
    return r.int(3) === 0 ? and(c, not(lt(index(s, 0), 3))) : c;
  };
  const load = (s: Scope, b: Buffer): PrimExpr =>
    bufferLoad(
      b,
      b.shape.map(() => index(s, 1)),
    );
  const value = (s: Scope, t: DataType, depth = 2): PrimExpr => {
    const same = s.buffers.filter((b) => b.dtype === t);
    if (depth === 0 || r.int(4) === 0) {
      if (same.length > 0 && r.int(2) === 0) return load(s, r.pick(same));
      if (t.code === 'float') return floatImm(r.pick([0, 1.5, -2.25, 1e-9, 0.1]), t);
      return intImm(r.int(100), t);
    }
    switch (r.int(5)) {
      case 0:
        return add(value(s, t, depth - 1), value(s, t, depth - 1));
      case 1:
        return t.code === 'float'
          ? call(t, 'exp', [value(s, t, depth - 1)])
          : max(value(s, t, depth - 1), value(s, t, depth - 1));
      case 2:
        return cast(t, index(s, 1));
      case 3:
        return select(cond(s), value(s, t, depth - 1), value(s, t, depth - 1));
      default:
        return mul(value(s, t, depth - 1), value(s, t, depth - 1));
    }
  };
  const store = (s: Scope): Stmt => {
    const b = r.pick(s.buffers);
    if (b.dtype.lanes > 1) {
      // Each binder-carrying subexpression is built once: a shared Let would bind one var twice.
      return bufferStore(b, bufferLoad(b, [index(s, 0), ramp(index(s, 1), 1, 2)]), [
        index(s, 0),
        ramp(index(s, 1), 2, 2),
      ]);
    }
    // Sometimes a default-dtype literal of the wrong dtype: must not be read back coerced.
    const v = r.int(8) === 0 ? r.pick([intImm(3), floatImm(0.5)]) : value(s, b.dtype);
    return bufferStore(
      b,
      v,
      b.shape.map(() => index(s)),
    );
  };
  const freshBuffer = (s: Scope, aliasOf?: Buffer): Buffer => {
    const t = aliasOf ? aliasOf.dtype : r.pick([DType.float32, DType.int32, dtype('float16')]);
    const shape = Array.from({ length: r.int(3) + 1 }, () =>
      r.int(3) === 0 && s.ints.length > 0 ? add(r.pick(s.ints), 1) : intImm(r.int(32) + 1),
    );
    return buffer(r.pick(BUF_NAMES), t, shape, {
      data: aliasOf?.data,
      scope: r.pick(['global', 'shared', 'local', 'wmma.accumulator']),
      align: r.pick([64, 64, 16]),
      strides: r.int(4) === 0 ? shape.map(() => intImm(r.int(4) + 1)) : [],
      elemOffset: r.int(4) === 0 ? index(s, 1) : undefined,
    });
  };

  const stmt = (pl: Plan, s: Scope): Stmt => {
    switch (pl.k) {
      case 'store':
        return store(s);
      case 'eval':
        return evaluate(
          r.int(2)
            ? call('void', 'tir.tvm_storage_sync', [stringImm('shared')])
            : call('int32', 'tir.noop', [index(s)]),
        );
      case 'for': {
        const t = r.int(4) === 0 ? DType.int32 : DType.int64;
        const v = primVar(name(), t);
        const kind = r.pick<ForKind>(['serial', 'parallel', 'vectorized', 'unrolled', 'thread_binding']);
        const ext = t === DType.int64 ? index(s, 1) : intImm(r.int(64) + 1, t);
        const inner = t === DType.int64 ? { ...s, ints: [...s.ints, v] } : s;
        return forLoop(
          v,
          t === DType.int64 ? intImm(r.int(3)) : r.int(4) === 0 ? intImm(0) : intImm(0, t),
          ext,
          stmt(pl.body, inner),
          {
            kind,
            threadTag:
              kind === 'thread_binding' ? r.pick(['threadIdx.x', 'blockIdx.y', 'vthread']) : undefined,
            annotations:
              r.int(4) === 0 ? { pragma_auto_unroll_max_step: 16, 'software pipeline': [0, 1] } : {},
          },
        );
      }
      case 'while':
        return whileLoop(cond(s), stmt(pl.body, s));
      case 'if':
        return ifThenElse(cond(s), stmt(pl.yes, s), pl.no === null ? undefined : stmt(pl.no, s));
      case 'let': {
        const t = r.int(3) === 0 ? DType.int32 : DType.int64;
        const v = primVar(name(), t);
        const val = t === DType.int64 ? index(s) : cast(t, index(s));
        return letStmt(v, val, stmt(pl.body, t === DType.int64 ? { ...s, ints: [...s.ints, v] } : s));
      }
      case 'alloc': {
        const b = freshBuffer(s);
        return allocate(b, stmt(pl.body, { ...s, buffers: [...s.buffers, b] }));
      }
      case 'decl': {
        // A view of existing storage: the new buffer shares the data var.
        const target = r.pick(s.buffers);
        const b = freshBuffer(s, r.int(4) === 0 ? undefined : target);
        return declBuffer(b, stmt(pl.body, { ...s, buffers: [...s.buffers, b] }));
      }
      case 'attr':
        return attrStmt(
          r.pick(['pragma_unroll', 'thread_extent', 'storage scope']),
          r.int(2) ? index(s) : intImm(r.int(9), 'int32'),
          stmt(pl.body, s),
        );
      case 'seq':
        return seqStmt(pl.items.map((x) => stmt(x, s)));
      case 'block': {
        const count = r.int(4);
        const vars = Array.from({ length: count }, () =>
          primVar(r.pick(['vi', 'vj', 'vi', 'v']), r.int(5) === 0 ? DType.int32 : DType.int64),
        );
        const ivs = vars.map((v) =>
          iterVar(
            v,
            v.dtype === DType.int64
              ? range(index(s, 0), intImm(r.int(30) + 1))
              : range(intImm(0, 'int32'), intImm(8, 'int32')),
            r.pick<IterType>(['spatial', 'reduce', 'ordered', 'opaque']),
          ),
        );
        const allocs = Array.from({ length: r.int(3) }, (_, q) =>
          q === 1 && r.int(2) === 0 ? null : freshBuffer(s),
        );
        const own: Buffer[] = [];
        for (const a of allocs) own.push(a ?? freshBuffer(s, own[0]));
        const inner: Scope = {
          ints: [...s.ints, ...vars.filter((v) => v.dtype === DType.int64)],
          buffers: [...s.buffers, ...own],
        };
        const region = (b: Buffer) =>
          bufferRegion(
            b,
            b.shape.map(() =>
              r.int(2) ? range(index(inner, 1), 1) : range(index(inner, 0), intImm(r.int(4) + 1)),
            ),
          );
        const blk = block(r.pick(['C', 'root', 'block with space', 'for', 'inf']), stmt(pl.body, inner), {
          iterVars: ivs,
          allocBuffers: own,
          reads: Array.from({ length: r.int(3) }, () => region(r.pick(inner.buffers))),
          writes: Array.from({ length: r.int(2) }, () => region(r.pick(inner.buffers))),
          init: pl.init === null ? undefined : stmt(pl.init, inner),
          annotations: r.int(3) === 0 ? { meta_schedule: { tile: [4, 8], ok: true, s: 'x"y' } } : {},
        });
        if (r.int(6) === 0) return blk;
        const values = vars.map((v) => (v.dtype === DType.int64 ? index(s, 1) : intImm(r.int(8), 'int32')));
        return blockRealize(values, r.int(3) === 0 ? cond(s) : boolImm(true), blk);
      }
    }
  };

  const scope: Scope = {
    ints: [n, cast('int64', m) as unknown as Var].slice(0, 1),
    buffers: params.filter((x): x is Buffer => x.kind === 'Buffer'),
  };
  return primFunc(params, stmt(p, scope), { attrs: r.int(2) ? { global_symbol: 'f' } : {} });
}

function check(fn: PrimFunc): void {
  const text = printPrimFunc(fn);
  let back: PrimFunc;
  try {
    back = parsePrimFunc(text);
  } catch (e) {
    throw new Error(`${String(e)}\n${text}`);
  }
  expect(structuralEqual(back, fn, { mapFreeVars: true }), text).toBe(true);
  expect(printPrimFunc(back), text).toBe(text);
}

describe('TIR text properties', () => {
  it('covers every statement kind, nested blocks and aliasing buffers', () => {
    const kinds = new Set<string>();
    let aliases = 0;
    let nestedBlocks = 0;
    for (const [p, seed] of fc.sample(fc.tuple(plan, fc.integer()), { numRuns: 400, seed: 7 })) {
      const fn = build(p, seed);
      const datas = new Map<unknown, number>();
      const walk = (n: unknown, blocks: number): void => {
        if (typeof n !== 'object' || n === null) return;
        if (Array.isArray(n)) {
          for (const x of n) walk(x, blocks);
          return;
        }
        const k = (n as { kind?: string }).kind;
        if (k === undefined) return;
        kinds.add(k);
        if (k === 'Buffer') {
          const d = (n as Buffer).data;
          datas.set(d, (datas.get(d) ?? 0) + 1);
          return;
        }
        if (k === 'Block' && blocks > 0) nestedBlocks++;
        for (const v of Object.values(n)) walk(v, k === 'Block' ? blocks + 1 : blocks);
      };
      const seen = new Set<Buffer>();
      const walkBuf = (n: unknown): void => {
        if (typeof n !== 'object' || n === null) return;
        if (Array.isArray(n)) {
          for (const x of n) walkBuf(x);
          return;
        }
        if ((n as { kind?: string }).kind === 'Buffer') {
          if (!seen.has(n as Buffer)) seen.add(n as Buffer);
          return;
        }
        Object.values(n).forEach(walkBuf);
      };
      walk(fn, 0);
      walkBuf(fn);
      const byData = new Map<unknown, number>();
      for (const b of seen) byData.set(b.data, (byData.get(b.data) ?? 0) + 1);
      if ([...byData.values()].some((c) => c > 1)) aliases++;
    }
    for (const k of [...STMT_KINDS, 'IterVar', 'BufferRegion']) {
      expect(kinds.has(k), k).toBe(true);
    }
    expect(aliases).toBeGreaterThan(10);
    expect(nestedBlocks).toBeGreaterThan(10);
  });

  it('mangled text fails with PARSE_ERROR and nothing else', () => {
    const chars = [
      '(',
      ')',
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      '=',
      '+:',
      '-',
      '"',
      '0',
      '1.5',
      'x',
      'for',
      'let',
      'block',
      '\n',
      ' ',
      'i32',
      '@',
    ];
    const edit = fc.record({
      at: fc.nat(),
      cut: fc.integer({ min: 0, max: 6 }),
      insert: fc.array(fc.constantFrom(...chars), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(plan, fc.integer(), fc.array(edit, { minLength: 1, maxLength: 3 }), (p, seed, edits) => {
        let text = printPrimFunc(build(p, seed));
        for (const e of edits) {
          const at = e.at % (text.length + 1);
          text = text.slice(0, at) + e.insert.join('') + text.slice(at + e.cut);
        }
        try {
          parsePrimFunc(text);
        } catch (err) {
          if (!isKilnError(err, 'PARSE_ERROR')) throw new Error(`${String(err)}\n${text}`);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('random statement trees round-trip and print stably', () => {
    fc.assert(
      fc.property(plan, fc.integer(), (p, seed) => check(build(p, seed))),
      { numRuns: 500 },
    );
  });
});
