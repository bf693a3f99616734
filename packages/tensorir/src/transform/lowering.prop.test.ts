// Property test: on randomly generated loop programs - random loop kinds (vectorized,
// unrolled, parallel, serial), random index patterns including ones that make lanes
// collide or carry values between iterations, conditionals on the loop vars, local
// temporaries - the full lowering never changes what the program computes, and its
// output always meets the lowered-TIR contract.
import type { Buffer, PrimExpr, Var } from '@kiln/ir-core';
import {
  add,
  buffer,
  bufferLoad,
  call,
  floatImm,
  gt,
  lt,
  max,
  mul,
  primVar,
  select,
  sub,
} from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { interpret } from '../interpreter/index.js';
import type { NDArray } from '../ndarray.js';
import { allClose, cloneNDArray, randomNDArray, seededRandom } from '../ndarray.js';
import type { ForKind, PrimFunc, Stmt } from '../stmt.js';
import { allocate, bufferStore, forLoop, ifThenElse, letStmt, loopVar, primFunc, seqStmt } from '../stmt.js';
import { lowerPrimFunc } from './index.js';
import { verifyLowered } from './verify_lowered.js';

const SIZE = 80;

class Gen {
  private readonly r: () => number;
  constructor(seed: number) {
    this.r = seededRandom(seed);
  }
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
}

interface Ctx {
  o: Var;
  v: Var;
  L: number;
  k?: Var;
  bufs: Buffer[];
  T?: Buffer;
  /** Lane-safe mode: stores go to C at one injective index, loads come from A and B. */
  safe: boolean;
  outIndex: PrimExpr;
}

/** An in-bounds index for a buffer of SIZE elements (o < 8, v < L <= 8, k < 4). */
function index(g: Gen, c: Ctx): PrimExpr {
  const base = add(mul(c.o, c.L), c.v);
  const forms: PrimExpr[] = [
    base,
    add(base, 1),
    add(base, 8),
    sub(71, base),
    c.v,
    mul(c.v, 2),
    c.o,
    add(c.o, 0),
  ];
  if (c.k) forms.push(add(base, c.k), add(mul(c.v, 4), c.k), c.k);
  return g.pick(forms);
}

function value(g: Gen, c: Ctx, depth: number): PrimExpr {
  const leaf = (): PrimExpr => {
    const choice = g.int(4);
    if (choice === 0) return floatImm(g.int(5) - 2, 'float32');
    if (choice === 1 && c.T) return bufferLoad(c.T, [g.pick([c.v, 0])]);
    return bufferLoad(g.pick(c.safe ? c.bufs.slice(0, 2) : c.bufs), [index(g, c)]);
  };
  if (depth === 0) return leaf();
  switch (g.int(6)) {
    case 0:
      return add(value(g, c, depth - 1), value(g, c, depth - 1));
    case 1:
      return mul(value(g, c, depth - 1), value(g, c, depth - 1));
    case 2:
      return max(value(g, c, depth - 1), value(g, c, depth - 1));
    case 3:
      return select(
        gt(value(g, c, depth - 1), floatImm(0, 'float32')),
        value(g, c, depth - 1),
        value(g, c, depth - 1),
      );
    case 4:
      return call('float32', g.pick(['tir.sigmoid', 'tir.tanh', 'tir.fabs']), [value(g, c, depth - 1)]);
    default:
      return leaf();
  }
}

function store(g: Gen, c: Ctx): Stmt {
  const target = c.safe ? c.bufs[2] : c.T && g.chance(0.25) ? c.T : g.pick(c.bufs.slice(1));
  const idx = c.safe ? c.outIndex : target === c.T ? g.pick([c.v, 0] as PrimExpr[]) : index(g, c);
  let s: Stmt = bufferStore(target, value(g, c, 2), [idx]);
  if (g.chance(0.2))
    s = ifThenElse(lt(g.pick(c.safe ? [c.o] : ([c.v, c.o, add(c.v, c.o)] as PrimExpr[])), 1 + g.int(6)), s);
  return s;
}

function program(seed: number): PrimFunc {
  const g = new Gen(seed);
  const A = buffer('A', 'float32', [SIZE]);
  const B = buffer('B', 'float32', [SIZE]);
  const C = buffer('C', 'float32', [SIZE]);
  const L = g.pick([1, 2, 4, 8]);
  // A symbolic outer extent (a scalar param the caller passes) in some programs.
  const n = primVar('n');
  const symbolic = g.chance(0.3);
  const O: PrimExpr | number = symbolic ? n : 1 + g.int(8);
  const [o, v] = [loopVar('o'), loopVar('v')];
  const useT = g.chance(0.3);
  const T = useT ? buffer('T', 'float32', [8], { scope: 'local' }) : undefined;
  const safe = g.chance(0.5);
  const base = add(mul(o, L), v);
  const outIndex = g.pick([base, sub(71, base), add(base, 8)]);
  // Sometimes the output index goes through a let (the vectorizer inlines Ramp lets).
  const t = loopVar('t');
  const viaLet = safe && g.chance(0.3);
  const c: Ctx = {
    o,
    v,
    L,
    bufs: [A, B, C],
    T: safe ? undefined : T,
    safe,
    outIndex: viaLet ? t : outIndex,
  };
  const kinds: ForKind[] = ['serial', 'vectorized', 'vectorized', 'unrolled', 'parallel'];
  let inner: Stmt;
  if (g.chance(0.3)) {
    const k = loopVar('k');
    const ck = { ...c, k };
    const body = seqStmt(Array.from({ length: 1 + g.int(2) }, () => store(g, ck)));
    inner = seqStmt([
      store(g, c),
      forLoop(k, 0, 1 + g.int(4), body, { kind: g.pick(['serial', 'unrolled'] as ForKind[]) }),
    ]);
  } else {
    inner = seqStmt(Array.from({ length: 1 + g.int(3) }, () => store(g, c)));
  }
  if (viaLet) inner = letStmt(t, outIndex, inner);
  // A tail guard as a non-dividing split leaves it: affine in v, so lanes can split at it.
  if (safe && g.chance(0.4)) inner = ifThenElse(lt(add(base, g.int(3)), 1 + g.int(SIZE - 8)), inner);
  let body: Stmt = forLoop(v, 0, L, inner, { kind: g.pick(kinds) });
  if (T)
    body = allocate(
      T,
      seqStmt([forLoop(loopVar('t'), 0, 8, bufferStore(T, floatImm(0.5, 'float32'), [0])), body]),
    );
  return primFunc(
    symbolic ? [A, B, C, n] : [A, B, C],
    forLoop(o, 0, O, body, { kind: g.pick(['serial', 'parallel', 'unrolled'] as ForKind[]) }),
  );
}

function run(fn: PrimFunc, args: ReadonlyArray<NDArray | number>): NDArray[] {
  const copy = args.map((a) => (typeof a === 'number' ? a : cloneNDArray(a)));
  interpret(fn, copy);
  return copy.filter((a): a is NDArray => typeof a !== 'number');
}

describe('lowering never changes results (random loop programs)', () => {
  it('200 programs', () => {
    let vectorized = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const fn = program(seed);
      const args: Array<NDArray | number> = [
        randomNDArray('float32', [SIZE], seed),
        randomNDArray('float32', [SIZE], seed + 1000),
        randomNDArray('float32', [SIZE], seed + 2000),
      ];
      if (fn.params.length === 4) args.push(1 + (seed % 8));
      const ref = run(fn, args);
      const low = lowerPrimFunc(fn, { unroll: { maxExtent: 2 } });
      expect(verifyLowered(low), `seed ${seed}`).toEqual([]);
      const got = run(low, args);
      got.forEach((x, i) => {
        const rep = allClose(x, ref[i], 1e-5, 1e-6);
        expect(rep.ok, `seed ${seed}, arg ${i}: ${rep.message}`).toBe(true);
      });
      if (
        JSON.stringify(low, (_k, val: unknown) =>
          typeof val === 'object' && val !== null && (val as { kind?: string }).kind === 'Ramp'
            ? 'RAMP'
            : val,
        ).includes('RAMP')
      )
        vectorized++;
    }
    // The generator must exercise the vector path, not only the fallback.
    expect(vectorized).toBeGreaterThan(12);
  });
});

/** Stages that each fill a temporary, then consume it; temporaries at root or per stage. */
function stagedProgram(seed: number): PrimFunc {
  const g = new Gen(seed);
  const A = buffer('A', 'float32', [SIZE]);
  const C = buffer('C', 'float32', [SIZE]);
  const rootTemps: Buffer[] = [];
  const stages: Stmt[] = [];
  const n = 2 + g.int(3);
  for (let s = 0; s < n; s++) {
    const size = g.pick([8, 16]);
    const T = buffer(`T${s}`, 'float32', [size], { scope: g.pick(['local', 'global']) });
    const [i, j] = [loopVar('i'), loopVar('j')];
    const fill = forLoop(
      i,
      0,
      size,
      bufferStore(T, add(bufferLoad(A, [add(i, s)]), floatImm(s, 'float32')), [i]),
      { kind: g.pick(['serial', 'vectorized'] as ForKind[]) },
    );
    const use = forLoop(
      j,
      0,
      size,
      bufferStore(
        C,
        add(bufferLoad(C, [j]), mul(bufferLoad(T, [sub(size - 1, j)]), floatImm(0.5, 'float32'))),
        [j],
      ),
      {
        kind: g.pick(['serial', 'vectorized', 'unrolled'] as ForKind[]),
      },
    );
    const stage = seqStmt([fill, use]);
    if (g.chance(0.5)) {
      rootTemps.push(T);
      stages.push(stage);
    } else stages.push(allocate(T, stage));
  }
  let body: Stmt = seqStmt(stages);
  for (let k = rootTemps.length - 1; k >= 0; k--) body = allocate(rootTemps[k], body);
  return primFunc([A, C], body);
}

describe('lowering never changes results (staged temporaries, storage reuse)', () => {
  it('200 programs', () => {
    let shared = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const fn = stagedProgram(seed);
      const args = [randomNDArray('float32', [SIZE], seed), randomNDArray('float32', [SIZE], seed + 7)];
      const ref = run(fn, args);
      const low = lowerPrimFunc(fn);
      expect(verifyLowered(low), `seed ${seed}`).toEqual([]);
      const got = run(low, args);
      const rep = allClose(got[1], ref[1], 1e-5, 1e-6);
      expect(rep.ok, `seed ${seed}: ${rep.message}`).toBe(true);
      if (JSON.stringify(low).includes('"DeclBuffer"')) shared++;
    }
    expect(shared).toBeGreaterThan(50);
  });
});
