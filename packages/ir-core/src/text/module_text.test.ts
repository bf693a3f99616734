// IRModule text, driven through a toy function kind registered the way an IR package
// registers its own: layout, round trips, forward references, errors.
import { describe, expect, it } from 'vitest';
import { DType } from '../dtype.js';
import { isKilnError } from '../errors.js';
import type { PrimExpr, Var } from '../expr.js';
import { add, floordiv, mul, primVar } from '../expr.js';
import { defineFunctionKind, irModule } from '../module.js';
import { defineNodeKinds, freezeNode } from '../node.js';
import { structuralEqual } from '../structural.js';
import { defineFunctionTextFormat, parseFunction, printFunction } from './format.js';
import { parseModule, printModule } from './module_text.js';

// A toy function kind, registered the way an IR package registers its own.
interface ToyFn {
  readonly kind: 'test.Toy';
  readonly params: readonly Var[];
  readonly body: PrimExpr;
  readonly callee?: string;
}
defineNodeKinds('test', { 'test.Toy': { fields: { params: 'binder[]', body: 'node', callee: 'value' } } });
defineFunctionKind('test.Toy');
const toy = (params: Var[], body: PrimExpr, callee?: string): ToyFn =>
  freezeNode({ kind: 'test.Toy', params, body, callee });

defineFunctionTextFormat<ToyFn>({
  kind: 'test.Toy',
  keyword: 'toy',
  reserved: ['calls'],
  print(fn, p) {
    p.write(`(${fn.params.map((v) => `${p.name(v)}: ${p.dtype(v.dtype)}`).join(', ')}) {`).newline();
    p.indented(() => {
      if (fn.callee !== undefined) p.line(`calls @${fn.callee}`);
      p.line(p.expr(fn.body));
    });
    p.write('}');
  },
  parse(ps) {
    const params = ps.list('(', ')', () => {
      const name = ps.expectIdent('a parameter name');
      ps.expect(':');
      const v = primVar(name, ps.parseDType());
      ps.define(name, v);
      return v;
    });
    ps.expect('{');
    let callee: string | undefined;
    if (ps.accept('calls')) {
      ps.expect('@');
      const t = ps.peek();
      callee = ps.expectIdent('a global');
      if (!ps.globals.has(callee)) ps.fail(`unknown global '@${callee}'`, t);
    }
    const body = ps.parseExpr();
    ps.expect('}');
    return toy(params, body, callee);
  },
});

describe('IRModule text', () => {
  const n = primVar('n');
  const m = primVar('n', DType.int32);
  const f = toy([n], add(mul(floordiv(n, 4), 4), 1), 'g');
  const g = toy([m, primVar('calls')], mul(m, m));
  const m2 = primVar('n', DType.int32);
  const g2 = toy([m2, primVar('calls')], mul(m2, m2));
  const mod = irModule(
    { g, f, 'weird.name': g2 },
    { target: 'llvm', opt: 3, flags: [true, null, 'x'], nested: { 'a b': 1.5 } },
  );

  it('prints attrs then functions in name order', () => {
    const text = printModule(mod);
    expect(text).toBe(
      [
        'attrs = {target: "llvm", opt: 3, flags: [true, null, "x"], nested: {"a b": 1.5}}',
        '',
        '@f = toy(n: int64) {',
        '  calls @g',
        '  floordiv(n, 4) * 4 + 1',
        '}',
        '',
        '@g = toy(n: int32, calls_: int64) {',
        '  n * n',
        '}',
        '',
        '@weird.name = toy(n: int32, calls_: int64) {',
        '  n * n',
        '}',
        '',
      ].join('\n'),
    );
    const back = parseModule(text);
    expect(structuralEqual(back, mod, { mapFreeVars: true })).toBe(true);
    expect(printModule(back)).toBe(text);
  });

  it('round-trips a single function and an empty module', () => {
    expect(structuralEqual(parseFunction(printFunction(g)), g)).toBe(true);
    expect(printModule(irModule({}))).toBe('\n');
    expect(structuralEqual(parseModule(''), irModule({}))).toBe(true);
  });

  it('reports unknown keywords and globals with their position', () => {
    const bad: Array<[string, number, number]> = [
      ['@f = nope(x: int64) { x }', 1, 6],
      ['@f = toy(x: int64) {\n  calls @h\n  x\n}', 2, 10],
      ['@f = toy(x: int64) { x }\n@f = toy(x: int64) { x }', 2, 2],
      ['@f = toy(x: int64) { y }', 1, 22],
      ['@f = toy(x: flaot32) { x }', 1, 13],
    ];
    for (const [text, line, column] of bad) {
      try {
        parseModule(text);
        expect.unreachable(text);
      } catch (e) {
        expect(isKilnError(e, 'PARSE_ERROR'), String(e)).toBe(true);
        if (isKilnError(e)) expect([text, e.span?.line, e.span?.column]).toEqual([text, line, column]);
      }
    }
  });
});
