// Property tests: random well-typed PrimExprs of every kind print, parse back to a
// structurally equal expression, and print identically the second time.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DataType } from '../dtype.js';
import { DType, dtype, elementOf, isFloat } from '../dtype.js';
import { isKilnError } from '../errors.js';
import type { Buffer, PrimExpr, Var } from '../expr.js';
import {
  binary,
  boolImm,
  broadcast,
  buffer,
  bufferLoad,
  call,
  cast,
  floatImm,
  intImm,
  letExpr,
  not,
  primVar,
  ramp,
  select,
  stringImm,
} from '../expr.js';
import type { Node } from '../node.js';
import { structuralEqual } from '../structural.js';
import { substitute } from '../visitor.js';
import { parseExpr } from './parser.js';
import { TextPrinter } from './printer.js';

const SCALARS = ['int64', 'int32', 'uint8', 'int8', 'float32', 'float64', 'float16', 'bool'].map((s) =>
  dtype(s),
);
const VECTORS = ['int64x4', 'float32x4', 'int32x8'].map((s) => dtype(s));
const ALL = [...SCALARS, ...VECTORS];

// Awkward names on purpose: duplicates, reserved words, non-identifiers.
const NAMES = ['x', 'x', 'n', 'in', 'min', 'a.b', '0x', '', 'x_1', 'inf', 'True'];
const pool = new Map<DataType, Var[]>();
for (const t of ALL)
  pool.set(
    t,
    NAMES.slice(0, 4).map((n, i) => primVar(NAMES[(i * 3 + t.bits) % NAMES.length] || n, t)),
  );
// Placeholders that a Let generator replaces by its freshly bound variable.
const slot = new Map<DataType, Var>(ALL.map((t) => [t, primVar('t', t)]));
const buffers: Buffer[] = [
  buffer('A', 'float32', [16, primVar('n')]),
  buffer('B', 'int32', [8]),
  buffer('A', 'float64', [4, 4, 4], { scope: 'shared' }),
  buffer('V', 'float32x4', [32]),
];

const intValue = fc.oneof(fc.integer({ min: -300, max: 300 }), fc.maxSafeInteger());
const floatValue = fc.oneof(fc.double(), fc.constantFrom(0.1, -0, 1e-300, Infinity, NaN, 3));

const memo = new Map<string, fc.Arbitrary<PrimExpr>>();
function expr(t: DataType, depth: number): fc.Arbitrary<PrimExpr> {
  const key = `${t.str}/${depth}`;
  const hit = memo.get(key);
  if (hit) return hit;
  const arb = build(t, depth);
  memo.set(key, arb);
  return arb;
}

function leaves(t: DataType): fc.Arbitrary<PrimExpr>[] {
  const out: fc.Arbitrary<PrimExpr>[] = [fc.constantFrom(...pool.get(t)!, slot.get(t)!)];
  if (t.lanes === 1) {
    if (t === DType.bool) out.push(fc.boolean().map((b) => boolImm(b)));
    else if (isFloat(t)) out.push(floatValue.map((v) => floatImm(v, t)));
    else out.push(intValue.map((v) => intImm(t.code === 'uint' ? Math.abs(v) : v, t)));
  }
  return out;
}

function build(t: DataType, depth: number): fc.Arbitrary<PrimExpr> {
  const opts = leaves(t);
  if (depth <= 0) return fc.oneof(...opts);
  const sub = (u: DataType) => expr(u, depth - 1);
  const scalarOf = elementOf(t);
  if (t === DType.bool || (t.code === 'bool' && t.lanes > 1)) {
    // comparisons of same-typed operands, logic.
    const cmpTypes = ALL.filter((u) => u.code !== 'bool' && u.lanes === t.lanes);
    if (cmpTypes.length > 0) {
      opts.push(
        fc
          .constantFrom(...cmpTypes)
          .chain((u) =>
            fc
              .tuple(
                fc.constantFrom('EQ', 'NE', 'LT', 'LE', 'GT', 'GE') as fc.Arbitrary<'EQ'>,
                sub(u),
                sub(u),
              )
              .map(([k, a, b]) => binary(k, a, b)),
          ),
      );
    }
    if (t.lanes === 1) {
      opts.push(
        fc
          .tuple(fc.constantFrom('And', 'Or') as fc.Arbitrary<'And'>, sub(t), sub(t))
          .map(([k, a, b]) => binary(k, a, b)),
      );
      opts.push(sub(t).map((a) => not(a)));
    }
  } else {
    const kinds = ['Add', 'Sub', 'Mul', 'Div', 'Mod', 'FloorDiv', 'FloorMod', 'Min', 'Max'] as const;
    opts.push(fc.tuple(fc.constantFrom(...kinds), sub(t), sub(t)).map(([k, a, b]) => binary(k, a, b)));
  }
  if (t.lanes === 1) {
    opts.push(fc.tuple(sub(DType.bool), sub(t), sub(t)).map(([c, a, b]) => select(c, a, b)));
    opts.push(fc.constantFrom(...SCALARS).chain((u) => sub(u).map((v) => cast(t, v))));
    opts.push(fc.tuple(sub(t), sub(t)).map(([a, b]) => call(t, 'tir.pow', [a, b])));
    opts.push(
      fc
        .tuple(sub(DType.int64), sub(DType.float32))
        .map(([a, b]) => call(t, 'tir.mix', [stringImm('mode"\\'), a, b])),
    );
    opts.push(fc.constant(call(t, 'tir.zero', [])));
    opts.push(sub(DType.float32).map((a) => call(t, 'min', [a])));
    opts.push(
      fc.tuple(fc.constantFrom(...SCALARS), fc.constantFrom(...SCALARS)).chain(([vt, valt]) =>
        fc.tuple(sub(valt), sub(t)).map(([value, body]) => {
          const v = primVar('t', vt);
          return letExpr(v, value, substitute(body, new Map<Node, Node>([[slot.get(vt)!, v]])));
        }),
      ),
    );
    for (const b of buffers) {
      if (b.dtype === t)
        opts.push(
          fc
            .array(sub(DType.int64), { minLength: b.shape.length, maxLength: b.shape.length })
            .map((ix) => bufferLoad(b, ix)),
        );
    }
  } else {
    if (t.code !== 'bool') opts.push(sub(scalarOf).map((v) => broadcast(v, t.lanes)));
    if (t.code === 'int')
      opts.push(fc.tuple(sub(scalarOf), sub(scalarOf)).map(([b, s]) => ramp(b, s, t.lanes)));
    if (t.str === 'float32x4') {
      opts.push(
        fc
          .tuple(sub(DType.int64), sub(DType.int64))
          .map(([i, j]) => bufferLoad(buffers[0], [i, ramp(j, 1, 4)])),
      );
    }
  }
  return fc.oneof({ depthSize: 'small', withCrossShrink: true }, ...opts);
}

const anyExpr = fc.constantFrom(...ALL).chain((t) => expr(t, 3));

function check(e: PrimExpr): void {
  const p = new TextPrinter();
  const text = p.expr(e);
  const scope = new Map<string, Node>(p.names.entries().map(([o, n]) => [n, o as Node]));
  const back = parseExpr(text, scope);
  expect(structuralEqual(back, e, { mapFreeVars: true }), text).toBe(true);
  expect(structuralEqual(back, e), text).toBe(true);
  expect(new TextPrinter().expr(back), text).toBe(text);
}

describe('PrimExpr text properties', () => {
  it('print -> parse is structurally equal, and printing is stable', () => {
    fc.assert(fc.property(anyExpr, check), { numRuns: 2000 });
  });
  it('mangled text fails with PARSE_ERROR and nothing else', () => {
    const bits = [
      '(',
      ')',
      '[',
      ']',
      ',',
      '-',
      '!',
      '"',
      '0',
      '1.5',
      '2i32',
      'x',
      'let',
      'in',
      'select',
      'cast',
      'call',
      'ramp',
      ' ',
      'inf',
      'True',
    ];
    const edit = fc.record({
      at: fc.nat(),
      cut: fc.integer({ min: 0, max: 4 }),
      insert: fc.array(fc.constantFrom(...bits), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(anyExpr, fc.array(edit, { minLength: 1, maxLength: 3 }), (e, edits) => {
        const p = new TextPrinter();
        let text = p.expr(e);
        const scope = new Map<string, Node>(p.names.entries().map(([o, n]) => [n, o as Node]));
        for (const ed of edits) {
          const at = ed.at % (text.length + 1);
          text = text.slice(0, at) + ed.insert.join('') + text.slice(at + ed.cut);
        }
        try {
          parseExpr(text, scope);
        } catch (err) {
          if (!isKilnError(err, 'PARSE_ERROR')) throw new Error(`${String(err)}\n${text}`);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('covers every PrimExpr kind', () => {
    const seen = new Set<string>();
    const visit = (e: PrimExpr): void => {
      seen.add(e.kind);
    };
    fc.sample(anyExpr, 3000).forEach((e) => {
      const stack: Node[] = [e];
      while (stack.length) {
        const n = stack.pop()! as PrimExpr;
        visit(n);
        for (const v of Object.values(n)) {
          if (Array.isArray(v))
            stack.push(
              ...(v as Node[]).filter(
                (x) => typeof x === 'object' && x && 'kind' in x && x.kind !== 'Buffer',
              ),
            );
          else if (typeof v === 'object' && v && 'kind' in v && (v as Node).kind !== 'Buffer')
            stack.push(v as Node);
        }
      }
    });
    for (const k of [
      'IntImm',
      'FloatImm',
      'StringImm',
      'Var',
      'Add',
      'Sub',
      'Mul',
      'Div',
      'Mod',
      'FloorDiv',
      'FloorMod',
      'Min',
      'Max',
      'EQ',
      'NE',
      'LT',
      'LE',
      'GT',
      'GE',
      'And',
      'Or',
      'Not',
      'Select',
      'Cast',
      'Call',
      'Let',
      'Ramp',
      'Broadcast',
      'BufferLoad',
    ]) {
      expect(seen.has(k), k).toBe(true);
    }
  });
});
