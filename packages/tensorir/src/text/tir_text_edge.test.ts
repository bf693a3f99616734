// TIR text edge cases: storage aliasing, flat vs braced scoped statements, standalone
// statements, hand-written literals, deep nesting, parse errors with positions.

import type { Node } from '@kiln/ir-core';
import {
  add,
  buffer,
  bufferLoad,
  cast,
  DType,
  defineFunctionTextFormat,
  floatImm,
  intImm,
  isKilnError,
  mul,
  parseFunction,
  primVar,
  printFunction,
  printNode,
  range,
  structuralEqual,
} from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import type { PrimFunc, Stmt } from '../stmt.js';
import {
  allocate,
  block,
  blockRealize,
  bufferRegion,
  bufferStore,
  declBuffer,
  forLoop,
  iterVar,
  letStmt,
  primFunc,
  seqStmt,
} from '../stmt.js';
import { parsePrimFunc, parseStmt, printPrimFunc, printStmt } from './index.js';

function roundTrip(fn: PrimFunc): string {
  const text = printPrimFunc(fn);
  const back = parsePrimFunc(text);
  expect(structuralEqual(back, fn, { mapFreeVars: true }), text).toBe(true);
  expect(printPrimFunc(back)).toBe(text);
  return text;
}

describe('TIR text: storage aliasing', () => {
  it('keeps buffers that share a data var as aliases, and distinct ones apart', () => {
    const A = buffer('A', 'float32', [4, 4]);
    const flat = buffer('A', 'float32', [16], { data: A.data });
    const other = buffer('A', 'float32', [16]);
    const fn = primFunc(
      [A],
      declBuffer(flat, declBuffer(other, bufferStore(flat, bufferLoad(other, [3]), [0]))),
    );
    const text = roundTrip(fn);
    expect(text).toContain('decl_buffer A_1: float32[16] data=A.data');
    expect(text).toContain('decl_buffer A_2: float32[16]\n');
    const back = parsePrimFunc(text);
    const b1 = (back.body as Extract<Stmt, { kind: 'DeclBuffer' }>).buffer;
    expect(b1.data).toBe((back.params[0] as typeof A).data);
    // Not an alias: structurally different from the aliased version.
    const unaliased = primFunc(
      [A],
      declBuffer(
        buffer('A', 'float32', [16]),
        declBuffer(other, bufferStore(flat, bufferLoad(other, [3]), [0])),
      ),
    );
    expect(structuralEqual(parsePrimFunc(printPrimFunc(unaliased)), fn, { mapFreeVars: true })).toBe(false);
  });

  it('handles storage given as a handle parameter, before or after the buffer', () => {
    const p = primVar('p', DType.handle);
    const A = buffer('A', 'float32', [8], { data: p });
    roundTrip(primFunc([p, A], bufferStore(A, 1, [0])));
    const text = roundTrip(primFunc([A, p], bufferStore(A, 1, [0])));
    expect(text.split('\n')[0]).toBe('prim_func(A: float32[8], A.data: handle) {');
  });

  it('handles a data var of a non-handle dtype and an alias in a block alloc', () => {
    const d = primVar('d', 'int64');
    const A = buffer('A', 'float32', [8], { data: d });
    const S = buffer('S', 'float32', [8], { scope: 'local' });
    const S2 = buffer('S2', 'float16', [16], { scope: 'local', data: S.data });
    const blk = block('b', bufferStore(S2, floatImm(1, 'float16'), [0]), { allocBuffers: [S, S2] });
    roundTrip(primFunc([A], seqStmt([blockRealize([], true, blk), bufferStore(A, 2, [1])])));
  });
});

describe('TIR text: layout of scoped statements', () => {
  const A = buffer('A', 'float32', [8]);
  const x = primVar('x');
  const y = primVar('y');
  it('prints a scoped statement flat when it ends its list, braced otherwise', () => {
    const inner = letStmt(x, 1, bufferStore(A, 0, [x]));
    const fn = primFunc([A], seqStmt([inner, letStmt(y, 2, bufferStore(A, 1, [y]))]));
    expect(roundTrip(fn)).toBe(
      [
        'prim_func(A: float32[8]) {',
        '  let x = 1 {',
        '    A[x] = 0.0',
        '  }',
        '  let y = 2',
        '  A[y] = 1.0',
        '}',
      ].join('\n'),
    );
    // The same statements with the second let's body extended are different IR.
    const fn2 = primFunc(
      [A],
      letStmt(x, 1, seqStmt([bufferStore(A, 0, [x]), letStmt(y, 2, bufferStore(A, 1, [y]))])),
    );
    expect(roundTrip(fn2)).toBe(
      ['prim_func(A: float32[8]) {', '  let x = 1', '  A[x] = 0.0', '  let y = 2', '  A[y] = 1.0', '}'].join(
        '\n',
      ),
    );
  });

  it('round-trips empty bodies and nested sequences', () => {
    const S = buffer('S', 'float32', [4], { scope: 'shared' });
    const empty = seqStmt([]);
    roundTrip(primFunc([A], allocate(S, empty)));
    roundTrip(primFunc([A], seqStmt([allocate(S, empty), bufferStore(A, 0, [0])])));
    const nested = {
      kind: 'SeqStmt',
      seq: [bufferStore(A, 0, [0]), seqStmt([bufferStore(A, 1, [1]), bufferStore(A, 2, [2])])],
    } as unknown as Stmt;
    roundTrip(primFunc([A], Object.freeze(nested)));
  });

  it('prints statements standalone and parses them through a scope', () => {
    const i = primVar('i');
    const s = forLoop(i, 0, 8, bufferStore(A, add(bufferLoad(A, [i]), 1), [i]), { kind: 'unrolled' });
    const text = printStmt(s);
    expect(text).toBe('for i in 0 +: 8 unrolled {\n  A[i] = A[i] + 1.0\n}');
    expect(structuralEqual(parseStmt(text, { A }), s, { mapFreeVars: true })).toBe(true);
  });

  it('goes through the generic function text API', () => {
    const v = primVar('v');
    const fn = primFunc(
      [A],
      blockRealize([intImm(3)], true, block('b', bufferStore(A, 0, [v]), { iterVars: [iterVar(v, [0, 8])] })),
    );
    const text = printFunction(fn);
    expect(text.startsWith('prim_func(')).toBe(true);
    expect(structuralEqual(parseFunction(text), fn, { mapFreeVars: true })).toBe(true);
  });
});

describe('TIR text: hand-written text', () => {
  it('lets unsuffixed literals take the dtype their context needs', () => {
    const A = buffer('A', 'float32', [8]);
    const i = primVar('i', 'int32');
    const v = primVar('v', 'int32');
    const x = primVar('x', 'int32');
    const expected = primFunc(
      [A],
      forLoop(
        i,
        intImm(0, 'int32'),
        intImm(8, 'int32'),
        blockRealize(
          [i],
          true,
          block(
            'b',
            letStmt(x, intImm(-1, 'int32'), bufferStore(A, floatImm(0), [cast('int64', add(mul(v, 2), x))])),
            {
              iterVars: [iterVar(v, [intImm(0, 'int32'), intImm(8, 'int32')])],
              reads: [bufferRegion(A, [range(intImm(0), intImm(8))])],
            },
          ),
        ),
      ),
    );
    const text = `
      # hand-written: no dtype suffixes on the literals
      prim_func(A: float32[8]) {
        for i: int32 in 0 +: 8 {
          block b(v: int32 = spatial(0 +: 8, i)) {
            reads(A[0 +: 8])
            let x: int32 = -1
            A[cast(int64, v * 2 + x)] = 0
          }
        }
      }`;
    expect(structuralEqual(parsePrimFunc(text), expected, { mapFreeVars: true })).toBe(true);
    expect(printPrimFunc(expected)).toContain('for i: int32 in 0i32 +: 8i32 {');
  });
});

describe('TIR text: literals whose dtype differs from their context', () => {
  it('spell out their suffix so they are not read back coerced', () => {
    const A = buffer('A', 'float32', [8]);
    const i = primVar('i', 'int32');
    const fn = primFunc([A], forLoop(i, intImm(0), intImm(8, 'int32'), bufferStore(A, intImm(3), [0])));
    const text = roundTrip(fn);
    expect(text).toContain('for i: int32 in 0i64 +: 8i32 {');
    expect(text).toContain('A[0] = 3i64');
  });
});

describe('TIR text: absurd nesting', () => {
  it('is a KilnError, never a RangeError', () => {
    const deep = `prim_func() {\n${'for i in 0 +: 2 {\n'.repeat(20000)}${'}\n'.repeat(20000)}}`;
    try {
      parsePrimFunc(deep);
      expect.unreachable();
    } catch (e) {
      expect(isKilnError(e, 'PARSE_ERROR'), String(e)).toBe(true);
    }
    const A = buffer('A', 'float32', [2]);
    let s: Stmt = bufferStore(A, 0, [0]);
    for (let k = 0; k < 20000; k++) s = forLoop(primVar('i'), 0, 2, s);
    try {
      printPrimFunc(primFunc([A], s));
      expect.unreachable();
    } catch (e) {
      expect(isKilnError(e, 'UNSUPPORTED'), String(e)).toBe(true);
    }
  });
});

describe('TIR text: names do not depend on other IRs', () => {
  it('ignores words reserved by other registered formats', () => {
    defineFunctionTextFormat<Node>({
      kind: 'test.OtherFunction',
      keyword: 'other_fn',
      reserved: ['A', 'i'],
      print: () => {},
      parse: () => {
        throw new Error('unused');
      },
    });
    const A = buffer('A', 'float32', [4]);
    const i = primVar('i');
    const fn = primFunc([A], forLoop(i, 0, 4, bufferStore(A, 0, [i])));
    expect(printPrimFunc(fn)).toBe('prim_func(A: float32[4]) {\n  for i in 0 +: 4 {\n    A[i] = 0.0\n  }\n}');
    expect(printFunction(fn)).toBe(printPrimFunc(fn));
    expect(printNode(fn.body)).toBe('for i in 0 +: 4 {\n  A[i] = 0.0\n}');
  });
});

describe('TIR text: parse errors', () => {
  const cases: Array<[string, string, number, number]> = [
    ['missing +:', 'prim_func(A: float32[8]) {\n  for i in 0 : 8 {\n  }\n}', 2, 14],
    ['unknown buffer', 'prim_func(A: float32[8]) {\n  B[0] = 1.0\n}', 2, 3],
    ['unknown variable in body', 'prim_func(A: float32[8]) {\n  A[k] = 1.0\n}', 2, 5],
    ['bad iteration kind', 'prim_func() {\n  block b(v = sideways(0 +: 4, 0)) {\n  }\n}', 2, 15],
    ['realize without a value', 'prim_func() {\n  block b(v = spatial(0 +: 4)) {\n  }\n}', 2, 29],
    ['thread binding without a tag', 'prim_func() {\n  for t in 0 +: 4 thread_binding {\n  }\n}', 2, 34],
    ['not a statement', 'prim_func() {\n  3 + 4\n}', 2, 3],
    ['unclosed body', 'prim_func() {\n  for i in 0 +: 4 {\n  }\n', 4, 1],
    ['bad dtype', 'prim_func(A: flaot32[8]) {\n}', 1, 14],
    ['mismatched operand dtypes', 'prim_func(A: float32[8]) {\n  A[0] = A[0] + 1i32\n}', 2, 15],
    ['param redeclared with another dtype', 'prim_func[n: int32](A: float32[n], n: int64) {\n}', 1, 36],
    ['unknown storage var', 'prim_func(A: float32[8] data=Q.data) {\n}', 1, 30],
  ];
  for (const [what, text, line, column] of cases) {
    it(what, () => {
      try {
        parsePrimFunc(text, { source: 'test.tir' });
        expect.unreachable();
      } catch (e) {
        expect(isKilnError(e, 'PARSE_ERROR'), String(e)).toBe(true);
        if (isKilnError(e)) {
          expect([e.span?.line, e.span?.column], e.message).toEqual([line, column]);
          expect(e.span?.source).toBe('test.tir');
        }
      }
    });
  }
  it('names what was expected and what was found', () => {
    try {
      parsePrimFunc('prim_func(A: float32[8]) {\n  for i in 0 : 8 {}\n}');
    } catch (e) {
      expect(isKilnError(e) && e.message).toBe("expected '+:' but found ':'");
      expect(isKilnError(e) && e.format()).toBe(
        [
          "<input>:2:14: error[PARSE_ERROR]: expected '+:' but found ':'",
          '  note:   for i in 0 : 8 {}',
          `  note: ${' '.repeat(13)}^`,
        ].join('\n'),
      );
    }
  });
});

describe('TIR text: printNode', () => {
  it('prints statements, buffers, regions and iteration variables on their own', () => {
    const A = buffer('A', 'float32', [8, 8], { scope: 'shared' });
    const i = primVar('i');
    expect(printNode(forLoop(i, 0, 8, bufferStore(A, 0, [i, i])))).toBe(
      'for i in 0 +: 8 {\n  A[i, i] = 0.0\n}',
    );
    expect(printNode(A)).toBe('A: float32[8, 8] scope="shared"');
    expect(printNode(bufferRegion(A, [range(i, 1), range(0, 8)]))).toBe('A[i, 0 +: 8]');
    expect(printNode(iterVar(i, [0, 8], 'reduce'))).toBe('i: int64 = reduce(0 +: 8)');
    expect(printNode(range(add(i, 1), 4))).toBe('i + 1 +: 4');
    expect(printNode(add(i, 1))).toBe('i + 1');
  });
});
