// @kiln/ir-core/testing: the helpers Kiln's own tests use, for plugin authors too.
// Runner-agnostic: failures are thrown Errors carrying `actual` / `expected` texts,
// which vitest and jest show as a diff.
import type { ErrorCode, IRModule, Pass, PassContext, PrimExpr, StructuralOptions } from '../index.js';
import {
  assertModuleWellFormed,
  createPassContext,
  dumpIR,
  extendPassContext,
  irModule,
  isFunctionKind,
  isKilnError,
  isNode,
  KilnError,
  listNodeKinds,
  moduleEntries,
  nodeKindInfo,
  PROPERTIES_ATTR,
  printExpr,
  printFunction,
  printModuleOrDump,
  structuralEqual,
  wellFormedInstrument,
} from '../index.js';

/** A test failure with texts a test runner can diff. */
export class IRAssertionError extends Error {
  readonly actual: string;
  readonly expected: string;
  readonly showDiff = true;
  constructor(message: string, actual: string, expected: string) {
    super(message);
    this.name = 'AssertionError';
    this.actual = actual;
    this.expected = expected;
  }
}

// ---------------------------------------------------------------- printing

/** The most readable text for `n`: the text format where one exists, else `dumpIR`. */
export function printForTest(n: unknown): string {
  if (!isNode(n)) return `${JSON.stringify(n, null, 2)}\n`;
  if (n.kind === 'IRModule') return printModuleOrDump(n as IRModule);
  try {
    if (isFunctionKind(n.kind)) return `${printFunction(n)}\n`;
    if (listNodeKinds('prim').includes(n.kind) && 'dtype' in n) return `${printExpr(n as PrimExpr)}\n`;
  } catch (e) {
    if (!isKilnError(e)) throw e;
  }
  return dumpIR(n);
}

/** A short unified-style line diff (`-` expected, `+` actual) with a little context. */
export function lineDiff(expected: string, actual: string, context = 2): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  // LCS table over lines; IR texts in tests are small.
  const m = a.length;
  const n = b.length;
  const lcs: number[][] = Array.from({ length: m + 1 }, () => new Array<number>(n + 1).fill(0));
  for (let i = m - 1; i >= 0; i--)
    for (let j = n - 1; j >= 0; j--)
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const ops: Array<{ t: ' ' | '-' | '+'; s: string }> = [];
  let i = 0;
  let j = 0;
  while (i < m || j < n) {
    if (i < m && j < n && a[i] === b[j]) {
      ops.push({ t: ' ', s: a[i++] });
      j++;
    } else if (i < m && (j === n || lcs[i + 1][j] >= lcs[i][j + 1])) ops.push({ t: '-', s: a[i++] });
    else ops.push({ t: '+', s: b[j++] });
  }
  const keep = ops.map((_o, k) =>
    ops.slice(Math.max(0, k - context), k + context + 1).some((x) => x.t !== ' '),
  );
  const out: string[] = [];
  let skipped = false;
  ops.forEach((o, k) => {
    if (keep[k]) {
      if (skipped) out.push('  ...');
      skipped = false;
      out.push(`${o.t} ${o.s}`);
    } else skipped = true;
  });
  if (skipped && out.length > 0) out.push('  ...');
  return out.join('\n');
}

/**
 * The field path of the first place where `actual` and `expected` differ, e.g.
 * `funcs[1].body.b.value`. Subtrees are compared with free variables mapped, so a
 * difference that only shows through variable binding is reported at the binder's parent.
 */
export function firstDifference(actual: unknown, expected: unknown, path = '$'): string | undefined {
  if (structuralEqual(actual, expected, { mapFreeVars: true })) return undefined;
  if (!isNode(actual) || !isNode(expected) || actual.kind !== expected.kind) return path;
  const ra = actual as unknown as Record<string, unknown>;
  const rb = expected as unknown as Record<string, unknown>;
  for (const f of nodeKindInfo(actual.kind).fields) {
    if (f.type === 'ignore') continue;
    const x = ra[f.name];
    const y = rb[f.name];
    const here = `${path}.${f.name}`;
    if (f.type === 'value') {
      if (!structuralEqual(x, y)) return here;
      continue;
    }
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length) return `${here} (length ${x.length} vs ${y.length})`;
      for (let k = 0; k < x.length; k++) {
        const d = firstDifference(x[k], y[k], `${here}[${k}]`);
        if (d) return d;
      }
      continue;
    }
    if ((x ?? null) === null || (y ?? null) === null) {
      if ((x ?? null) !== (y ?? null)) return here;
      continue;
    }
    const d = firstDifference(x, y, here);
    if (d) return d;
  }
  return path;
}

// ---------------------------------------------------------------- assertions

export interface AssertStructuralOptions extends StructuralOptions {
  /** Prefix for the failure message. */
  message?: string;
}

/**
 * Fail unless `actual` and `expected` are structurally equal. Free variables are
 * mapped by default, since tests compare separately built IR.
 */
export function assertStructuralEqual(
  actual: unknown,
  expected: unknown,
  options: AssertStructuralOptions = {},
): void {
  const mapFreeVars = options.mapFreeVars ?? true;
  if (structuralEqual(actual, expected, { mapFreeVars })) return;
  let a = printForTest(actual);
  let e = printForTest(expected);
  const lines = [
    `${options.message ? `${options.message}: ` : ''}IR is not structurally equal${mapFreeVars ? '' : ' (free variables compared by identity)'}`,
  ];
  const where = firstDifference(actual, expected);
  if (where) lines.push(`first difference at ${where}`);
  if (a === e && isNode(actual) && isNode(expected)) {
    // The text hides the difference (variable identity, unprinted fields): show the dump.
    lines.push('the printed texts are identical; showing the IR dumps');
    a = dumpIR(actual);
    e = dumpIR(expected);
    if (a === e)
      lines.push(
        'the dumps are identical too: the difference is which variable objects are used (free variables compared by identity, or a variable used where another is bound)',
      );
  }
  const diff = lineDiff(e, a);
  if (diff) lines.push('--- expected', '+++ actual', diff);
  throw new IRAssertionError(lines.join('\n'), a, e);
}

// A function that always throws is typed `() => never`: that is the synchronous case.
export type KilnErrorResult<R> = [R] extends [never]
  ? KilnError
  : R extends PromiseLike<unknown>
    ? Promise<KilnError>
    : KilnError;

/**
 * Fail unless `fn` throws a KilnError with `code`; returns the error for further
 * checks (a promise of it when `fn` is async).
 */
export function expectKilnError<R>(fn: () => R, code: ErrorCode): KilnErrorResult<R>;
export function expectKilnError(fn: () => unknown, code: ErrorCode): KilnError | Promise<KilnError> {
  const check = (e: unknown): KilnError => {
    if (!(e instanceof KilnError)) {
      const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      throw new IRAssertionError(`expected KilnError ${code}, got ${what}`, what, code);
    }
    if (e.code !== code)
      throw new IRAssertionError(`expected KilnError ${code}, got ${e.code}: ${e.message}`, e.code, code);
    return e;
  };
  const none = (): never => {
    throw new IRAssertionError(`expected KilnError ${code}, but nothing was thrown`, 'no error', code);
  };
  let result: unknown;
  try {
    result = fn();
  } catch (e) {
    return check(e);
  }
  if (result instanceof Promise) return result.then(none, check);
  return none();
}

/** Fail with KilnError WELL_FORMED unless every function passes its kind's checker. */
export function assertWellFormed(mod: IRModule): void {
  assertModuleWellFormed(mod, 'assertWellFormed');
}

function withoutProperties(mod: IRModule): IRModule {
  if (!(PROPERTIES_ATTR in mod.attrs)) return mod;
  const attrs = { ...mod.attrs };
  delete attrs[PROPERTIES_ATTR];
  return irModule(moduleEntries(mod), attrs);
}

export interface CheckPassOptions {
  pass: Pass;
  before: IRModule;
  expected: IRModule;
  ctx?: PassContext;
  mapFreeVars?: boolean;
  /** Compare module properties (`kiln.properties`) too. Default false. */
  compareProperties?: boolean;
}

/**
 * The Before/Expected test: run `pass` with a well-formedness check after every pass,
 * then assert the output equals `expected`. Returns the output.
 */
export function checkPass(options: CheckPassOptions): IRModule {
  const base = options.ctx ?? createPassContext();
  const ctx = extendPassContext(base, { instruments: [...base.instruments, wellFormedInstrument()] });
  const out = options.pass.run(options.before, ctx);
  const cmp = options.compareProperties ? out : withoutProperties(out);
  const exp = options.compareProperties ? options.expected : withoutProperties(options.expected);
  assertStructuralEqual(cmp, exp, {
    mapFreeVars: options.mapFreeVars,
    message: `pass '${options.pass.name}'`,
  });
  return out;
}

// ---------------------------------------------------------------- randomness

/** A small seeded PRNG (mulberry32), so failing random tests can be replayed. */
export interface Rng {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [lo, hi). */
  int(lo: number, hi: number): number;
  /** Uniform in [lo, hi). */
  float(lo?: number, hi?: number): number;
  /** Standard normal. */
  normal(): number;
  pick<T>(xs: readonly T[]): T;
  /** A shuffled copy. */
  shuffle<T>(xs: readonly T[]): T[];
  /** `n` uniform values in [lo, hi); never all zero. */
  float32Array(n: number, lo?: number, hi?: number): Float32Array;
  int32Array(n: number, lo: number, hi: number): Int32Array;
}

export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng: Rng = {
    seed,
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo)),
    float: (lo = 0, hi = 1) => lo + next() * (hi - lo),
    normal: () => {
      const u = 1 - next();
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    shuffle: (xs) => {
      const out = [...xs];
      for (let i = out.length - 1; i > 0; i--) {
        const k = Math.floor(next() * (i + 1));
        [out[i], out[k]] = [out[k], out[i]];
      }
      return out;
    },
    float32Array: (n, lo = -1, hi = 1) => {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = lo + next() * (hi - lo);
      // Tests must never run on all-zero inputs.
      if (n > 0 && out.every((x) => x === 0)) out[0] = hi > 0 ? hi / 2 : lo / 2;
      return out;
    },
    int32Array: (n, lo, hi) => {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = lo + Math.floor(next() * (hi - lo));
      return out;
    },
  };
  return Object.freeze(rng);
}

export const DEFAULT_TEST_SEED = 0x5eed;

/** The seed for random tests: KILN_TEST_SEED when set, else a fixed default. */
export function testSeed(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const v = env.KILN_TEST_SEED;
  if (v === undefined || v === '') return DEFAULT_TEST_SEED;
  const n = Number(v);
  if (!Number.isInteger(n))
    throw new KilnError('INVALID_ARGUMENT', `KILN_TEST_SEED must be an integer, got '${v}'`);
  return n >>> 0;
}
