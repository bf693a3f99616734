// Relax text round trips: every node kind, StructInfo form, constant dtype and operator
// prints, parses back structurally equal and prints identically again; modules after
// LegalizeOps (Relax + PrimFuncs) round-trip; parse errors carry PARSE_ERROR and a position.
import type { IRModule, Node } from '@kiln/ir-core';
import {
  add,
  DType,
  irModule,
  isKilnError,
  mul,
  parseModule,
  primVar,
  printModule,
  printNode,
  structuralEqual,
} from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { BlockBuilder } from '../block-builder.js';
import {
  bindingBlock,
  call,
  constant,
  dataflowBlock,
  dataflowVar,
  externFunc,
  globalVar,
  ifExpr,
  matchCast,
  opRef,
  primValue,
  relaxFunction,
  relaxStringImm,
  relaxVar,
  seqExpr,
  shapeExpr,
  tuple,
  tupleGetItem,
  varBinding,
  withStructInfo,
} from '../ir/expr.js';
import type { Expr, RelaxFunction, StructInfo } from '../ir/nodes.js';
import {
  funcSInfo,
  objectSInfo,
  opaqueFuncSInfo,
  primSInfo,
  shapeSInfo,
  tensorSInfo,
  tupleSInfo,
} from '../ir/struct-info.js';
import { createOpRegistry } from '../op/builtin.js';
import * as op from '../op/index.js';
import { legalizeModule } from '../transform/legalize-ops.js';
import { bfloatBits, halfBits } from './data.js';
import { parseRelaxFunction, parseStructInfo, printRelaxFunction } from './index.js';

/** Print, parse, compare function by function (symbolic variables are per function in text), print again. */
export function expectRoundTrip(mod: IRModule): string {
  const text = printModule(mod);
  const back = parseModule(text);
  expect(back.globals).toEqual(mod.globals);
  mod.globals.forEach((g, i) => {
    const ok = structuralEqual(back.funcs[i], mod.funcs[i], { mapFreeVars: true });
    if (!ok)
      expect(printModule(irModule([[g, back.funcs[i]]]))).toBe(printModule(irModule([[g, mod.funcs[i]]])));
    expect(ok, `function ${g}`).toBe(true);
  });
  expect(printModule(back)).toBe(text);
  return text;
}

function fnRoundTrip(fn: RelaxFunction): string {
  const text = printRelaxFunction(fn);
  const back = parseRelaxFunction(text);
  expect(printRelaxFunction(back)).toBe(text);
  expect(structuralEqual(back, fn, { mapFreeVars: true })).toBe(true);
  return text;
}

const f32 = (shape: readonly (number | ReturnType<typeof primVar>)[]) => tensorSInfo(shape, 'float32');

describe('Relax text: functions built with BlockBuilder', () => {
  it('prints a dataflow MLP with a symbolic batch the TVMScript way and round-trips', () => {
    const n = primVar('n');
    const bb = new BlockBuilder();
    const x = relaxVar('x', f32([n, 768]));
    const w = relaxVar('w', f32([768, 10]));
    bb.function('main', [x, w], () =>
      bb.dataflow(() => {
        const a = bb.emit(op.matmul(x, w));
        const b = bb.emit(op.add(a, constant([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10], 'float32')));
        return bb.emitOutput(op.exp(b));
      }),
    );
    const text = expectRoundTrip(bb.getModule());
    expect(text).toContain(
      '@main = R.function[n](x: R.Tensor((n, 768), "float32"), w: R.Tensor((768, 10), "float32"))',
    );
    expect(text).toContain('lv: R.Tensor((n, 10), "float32") = R.matmul(x, w');
    expect(text).toContain('output gv: R.Tensor((n, 10), "float32") = R.exp(lv1)');
    expect(text).toContain('return gv');
  });

  it('round-trips match_cast, shape_of, binding blocks after dataflow blocks and calls of module functions', () => {
    const bb = new BlockBuilder();
    const m = primVar('m');
    const y = relaxVar('y', f32([m, 4]));
    // A private helper called from main; it sorts after main, so the call refers forward.
    bb.function('zz_helper', [y], () => bb.emit(op.relu(y)), { private: true });
    const x = relaxVar('x', tensorSInfo(undefined, 'float32', { ndim: 2 }));
    const k = primVar('k');
    bb.function('main', [x], () => {
      const c = bb.matchCast(x, f32([k, 4]));
      const s = bb.emit(op.shapeOf(c));
      const h = bb.emit(call(bb.globalVarFor('zz_helper'), [c]));
      const out = bb.dataflow(() => bb.emitOutput(op.multiply(h, h)));
      const t = bb.emit(tuple([out, s, primValue(k), relaxStringImm('tag "quoted"\n')]));
      return bb.emit(tupleGetItem(t, 0));
    });
    const text = expectRoundTrip(bb.getModule());
    expect(text).toContain('R.match_cast(x, R.Tensor((k, 4), "float32"))');
    expect(text).toContain('@zz_helper(');
  });

  it('round-trips If with SeqExpr and bare branches', () => {
    const bb = new BlockBuilder();
    const c = relaxVar('c', tensorSInfo([], 'bool'));
    const x = relaxVar('x', f32([3]));
    bb.function('main', [c, x], () => bb.emit(ifExpr(c, op.add(x, x), x)));
    const text = expectRoundTrip(bb.getModule());
    expect(text).toMatch(/= if c \{/);
  });

  it('round-trips legalized modules (Relax + PrimFuncs) and reductions with attributes', () => {
    const n = primVar('n');
    const bb = new BlockBuilder();
    const x = relaxVar('x', f32([n, 8]));
    const w = relaxVar('w', f32([8, 8]));
    bb.function('main', [x, w], () =>
      bb.dataflow(() => {
        const a = bb.emit(op.matmul(x, w));
        const r = bb.emit(op.relu(a));
        const s = bb.emit(op.sum(r, { axis: [1], keepdims: true }));
        const sm = bb.emit(op.softmax(r, -1));
        return bb.emitOutput(op.add(sm, s));
      }),
    );
    const before = bb.getModule();
    expectRoundTrip(before);
    const legal = legalizeModule(before);
    const text = expectRoundTrip(legal);
    expect(text).toContain('R.call_tir(@');
    expect(text).toContain('= prim_func');
  });
});

describe('Relax text: node kinds built by hand', () => {
  const n = primVar('n');
  const x = relaxVar('x', f32([n, 4]));

  it('covers every expression kind (raw, partly unnormalized IR included)', () => {
    const sv = relaxVar('s', shapeSInfo([n, 4]));
    const byShapeVar = relaxVar('z', tensorSInfo(sv, 'float32'));
    const lv = dataflowVar('lv', f32([n, 4]));
    const gv = relaxVar('gv', f32([n, 4]));
    const t = relaxVar('t', tupleSInfo([f32([n, 4]), shapeSInfo([n, 4])]));
    const closureParam = relaxVar('q', f32([2]));
    const inner = relaxFunction([closureParam], seqExpr([], closureParam), f32([2]), { isPure: false });
    const fv = relaxVar('f', inner.structInfo!);
    const ext = externFunc('my_lib.fn', opaqueFuncSInfo(f32([n, 4])));
    const raw = relaxVar('raw', objectSInfo());
    // A module function referenced ahead of its definition: its GlobalVar carries its signature.
    const other = relaxFunction(
      [relaxVar('a', f32([n, 4]))],
      seqExpr([], constant([1.5], [], 'float32')),
      f32([]),
    );
    const calls = [
      varBinding(lv, withStructInfo(call('relax.add', [x, x]), f32([n, 4]))),
      varBinding(
        gv,
        withStructInfo(
          call('relax.call_dps_packed', [ext, tuple([lv])], { sinfoArgs: [f32([n, 4])] }),
          f32([n, 4]),
        ),
      ),
    ];
    const body: Expr = seqExpr(
      [
        bindingBlock([
          varBinding(sv, shapeExpr([n, 4])),
          matchCast(byShapeVar, x, tensorSInfo(sv, 'float32')),
        ]),
        dataflowBlock(calls),
        bindingBlock([varBinding(t, tuple([gv, sv]))]),
        bindingBlock([
          varBinding(fv, inner),
          // An unnormalized call (no StructInfo) bound to an Object var; an Op used as a value.
          varBinding(raw, call(opRef('relax.nn.relu'), [tupleGetItem(t, 0)])),
          varBinding(relaxVar('o', objectSInfo()), withStructInfo(opRef('relax.exp'), objectSInfo())),
          varBinding(
            relaxVar('g', objectSInfo()),
            withStructInfo(call(globalVar('other', other.structInfo), [x]), objectSInfo()),
          ),
          varBinding(
            relaxVar('h', objectSInfo()),
            withStructInfo(call(fv, [constant([1, 2], [2])]), objectSInfo()),
          ),
        ]),
        bindingBlock([]),
      ],
      withStructInfo(tupleGetItem(t, 0), f32([n, 4])),
    );
    const fn = relaxFunction([x], body, f32([n, 4]), {
      attrs: { global_symbol: 'main', 'weird key': [1, 'a', null, true] },
    });
    const text = expectRoundTrip(irModule({ main: fn, other }));
    expect(text).toContain(
      'R.call_dps_packed(R.extern("my_lib.fn", R.Callable(ret=R.Tensor((n, 4), "float32"))), (lv,), out_sinfo=R.Tensor((n, 4), "float32"))',
    );
    expect(text).toContain('R.nn.relu(t[0]) as ?');
    expect(text).toContain('bindings {\n  }');
    expect(text).toContain('R.Tensor(s, "float32")');
  });

  it('covers every StructInfo form', () => {
    const m = primVar('m', 'int32');
    const forms: StructInfo[] = [
      objectSInfo(),
      primSInfo('float32'),
      primSInfo('int64', n),
      primSInfo('int32', m),
      shapeSInfo(),
      shapeSInfo(3),
      shapeSInfo([]),
      shapeSInfo([n, 2]),
      tensorSInfo(),
      tensorSInfo(undefined, 'float16'),
      tensorSInfo(undefined, undefined, { ndim: 2 }),
      tensorSInfo(undefined, 'int8', { ndim: 0 }),
      tensorSInfo([], 'bool'),
      tensorSInfo([n], 'bfloat16'),
      tensorSInfo([add(mul(n, 2), 1), 3], 'int64'),
      tupleSInfo([]),
      tupleSInfo([tensorSInfo([1], 'float32'), tupleSInfo([objectSInfo()])]),
      funcSInfo([f32([n])], f32([n])),
      funcSInfo([], objectSInfo(), { pure: false }),
      opaqueFuncSInfo(),
      opaqueFuncSInfo(f32([2]), { pure: true }),
    ];
    const params = forms.map((s, i) => relaxVar(`p${i}`, s));
    const fn = relaxFunction(params, seqExpr([], params[0]), objectSInfo());
    const text = fnRoundTrip(fn);
    expect(text).toContain('R.Tensor("float16")');
    expect(text).toContain('R.Tensor(ndim=2)');
    expect(text).toContain('R.Prim(value=m)');
    expect(text).toContain('R.Shape(ndim=3)');
    expect(text).toContain('R.Callable((R.Tensor((n,), "float32"),), R.Tensor((n,), "float32"))');
    expect(text).toContain('R.Callable(ret=R.Object)');
  });

  it('parses standalone StructInfo', () => {
    const s = parseStructInfo('R.Tensor((n, 768), "float32")', { scope: { n } });
    expect(structuralEqual(s, tensorSInfo([n, 768], 'float32'))).toBe(true);
    expect(printNode(s)).toBe('R.Tensor((n, 768), "float32")');
  });

  it('prints any Relax node with printNode', () => {
    const b = varBinding(
      dataflowVar('lv', f32([n, 4])),
      withStructInfo(call('relax.add', [x, x]), f32([n, 4])),
    );
    expect(printNode(b)).toBe('lv: R.Tensor((n, 4), "float32") = R.add(x, x)');
    expect(printNode(call('relax.sum', [x], { attrs: { axis: [1], keepdims: false } }))).toBe(
      'R.sum(x, axis=[1], keepdims=false)',
    );
  });
});

describe('Relax text: constants', () => {
  const cases: Array<[string, readonly number[], readonly number[]]> = [
    ['float32', [2, 3], [1.5, -0, 0.1, Number.NaN, Number.POSITIVE_INFINITY, -3e-38]],
    ['float64', [3], [0.1, 1e300, -5e-324]],
    ['float16', [2, 2], [0.1, 65504, -2.5, 6e-8]],
    ['bfloat16', [2], [3.25, -1e38]],
    ['int8', [3], [-128, 0, 127]],
    ['int16', [2], [-32768, 32767]],
    ['int32', [1, 1, 2], [-2147483648, 2147483647]],
    ['uint8', [2], [0, 255]],
    ['uint32', [2], [0, 4294967295]],
    ['bool', [3], [1, 0, 1]],
    ['float32', [], [2.5]],
    ['float8_e4m3fn', [4], [0.5, -448, Number.NaN, -0]],
    ['float8_e5m2', [3], [Number.POSITIVE_INFINITY, -57344, 1.5e-5]],
    ['float8_e4m3fnuz', [2], [-240, 0.001953125]],
    ['float8_e8m0fnu', [2], [1, 2 ** -127]],
    ['float4_e2m1fn', [2], [-6, 0.5]],
    ['int4', [3], [-8, 7, 0]],
    ['uint2', [2], [0, 3]],
  ];
  for (const [dt, shape, values] of cases) {
    it(`round-trips ${dt}${JSON.stringify(shape)} inline`, () => {
      // The factory stores numbers as given; 16-bit floats are stored as their bit patterns.
      const c =
        dt === 'float16'
          ? constant(new Uint16Array(values.map(halfBits)), shape, dt)
          : dt === 'bfloat16'
            ? constant(new Uint16Array(values.map(bfloatBits)), shape, dt)
            : constant(values, shape, dt);
      const v = relaxVar('v', c.structInfo!);
      const fn = relaxFunction([], seqExpr([bindingBlock([varBinding(v, c)])], v), c.structInfo!);
      const text = fnRoundTrip(fn);
      expect(text).not.toContain('base64');
    });
  }

  it('round-trips int64 and uint64 beyond 2^53 exactly', () => {
    const big = new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 9007199254740993n]);
    const ubig = new BigUint64Array([2n ** 64n - 1n, 0n]);
    for (const c of [constant(big, [3], 'int64'), constant(ubig, [2], 'uint64')]) {
      const fn = relaxFunction([], seqExpr([], c), c.structInfo!);
      const text = fnRoundTrip(fn);
      expect(text).toMatch(/9223372036854775807|18446744073709551615/);
    }
  });

  it('prints large constants, empty ones and NaN payloads as base64 data', () => {
    const big = new Float32Array(1000).map((_, i) => Math.sin(i) * 1000);
    const weird = new Float32Array(new Uint32Array([0x7fc00001]).buffer);
    const weird64 = new Float64Array(new BigUint64Array([0x7ff8000000000001n]).buffer);
    for (const c of [
      constant(big, [10, 100]),
      constant(new Float32Array(0), [0, 3]),
      constant(weird, [1]),
      constant(weird64, [1], 'float64'),
    ]) {
      const fn = relaxFunction([], seqExpr([], c), c.structInfo!);
      const text = fnRoundTrip(fn);
      expect(text).toContain('base64="');
    }
  });

  it('reads hex data too', () => {
    const fn = parseRelaxFunction(
      'R.function() -> R.Tensor((2,), "int16") { return R.const((2,), "int16", hex="0100ffff") }',
    );
    const body = fn.body as Extract<Expr, { kind: 'relax.SeqExpr' }>;
    const c = body.body as Extract<Expr, { kind: 'relax.Constant' }>;
    expect([...c.data]).toEqual([1, -1]);
  });
});

describe('Relax text: every registered operator name', () => {
  it('prints and parses calls of all ops (unnormalized, so no inference is involved)', () => {
    const ops = createOpRegistry().listOps();
    expect(ops.length).toBeGreaterThan(50);
    const x = relaxVar('x', f32([4]));
    const bindings = ops.map((name, i) =>
      varBinding(relaxVar(`r${i}`, objectSInfo()), call(name, [x], { attrs: { axis: [0], mode: 'x' } })),
    );
    const fn = relaxFunction([x], seqExpr([bindingBlock(bindings)], x), f32([4]));
    const text = fnRoundTrip(fn);
    expect(text).toContain('R.nn.conv2d(x, axis=[0], mode="x") as ?');
    // A plugin op outside the relax namespace and ops whose names clash with the syntax.
    const odd = ['myplugin.fancy', 'relax.shape', 'R.weird', 'relax.if'];
    const oddFn = relaxFunction(
      [x],
      seqExpr(
        [bindingBlock(odd.map((name, i) => varBinding(relaxVar(`o${i}`, objectSInfo()), call(name, [x]))))],
        x,
      ),
      f32([4]),
    );
    const t2 = fnRoundTrip(oddFn);
    expect(t2).toContain('myplugin.fancy(x)');
    expect(t2).toContain('R.op("relax.shape")(x)');
  });
});

describe('Relax text: errors', () => {
  const cases: Array<[string, RegExp]> = [
    ['R.function(x: R.Tensor((n,), "float32")) -> R.Object { return x }', /unknown variable 'n'/],
    [
      'R.function(x: R.Object) -> R.Object {\n  y = myplugin.op(x, x)\n  return y\n}',
      /needs a StructInfo annotation/,
    ],
    [
      'R.function(x: R.Tensor((2,), "float32"), y: R.Tensor((3,), "float32")) -> R.Object {\n  z = R.add(x, y)\n  return z\n}',
      /cannot infer the StructInfo of relax.add/,
    ],
    ['R.function(x: R.Object) -> R.Object {\n  return z\n}', /unknown variable 'z'/],
    ['R.function(x: R.Object) -> R.Foo { return x }', /expected a StructInfo/],
    ['R.function() -> R.Object { return R.const([[1, 2], [3]], "int32") }', /different shapes/],
    ['R.function() -> R.Object { return R.const((2,), "int32", base64="AAA=") }', /does not hold 2 elements/],
    ['R.function() -> R.Object { return R.const(1.5, "int32") }', /not a int32 value/],
    ['R.function(t: R.Tuple(R.Object)) -> R.Object { return t[-1] }', /negative/],
    [
      'R.function(x: R.Object) -> R.Object {\n  y = R.match_cast(x, R.Tensor((2, 3), "float32", ndim=3))\n  return y\n}',
      /rank 2 but ndim=3/,
    ],
    [
      'R.function(x: R.Object) -> R.Object {\n  return R.const((2,), "float32", base64="AAAAAAAAAAA=", extra=1)\n}',
      /expected '\)'/,
    ],
  ];
  for (const [src, msg] of cases) {
    it(`rejects ${JSON.stringify(src.slice(0, 50))}`, () => {
      let err: unknown;
      try {
        parseRelaxFunction(src);
      } catch (e) {
        err = e;
      }
      expect(isKilnError(err)).toBe(true);
      const k = err as { code: string; message: string; span?: { line: number; column: number } };
      expect(k.code).toBe('PARSE_ERROR');
      expect(k.message).toMatch(msg);
      expect(k.span?.line).toBeGreaterThan(0);
      expect(k.span?.column).toBeGreaterThan(0);
    });
  }

  it('points at the offending line and column in a module', () => {
    const text =
      '@main = R.function(x: R.Object) -> R.Object {\n  y: R.Object = R.add(x, w)\n  return y\n}\n';
    try {
      parseModule(text);
      expect.unreachable();
    } catch (e) {
      const k = e as { code: string; span?: { line: number; column: number } };
      expect(k.code).toBe('PARSE_ERROR');
      expect(k.span).toMatchObject({ line: 2, column: 26 });
    }
  });

  it('rejects references to unknown globals in a module', () => {
    const text = '@main = R.function(x: R.Object) -> R.Object {\n  y: R.Object = @nope(x)\n  return y\n}\n';
    expect(() => parseModule(text)).toThrow(/unknown global '@nope'/);
  });
});

describe('Relax text: hand-written input', () => {
  it('accepts comments, trailing commas and the dtype= spelling', () => {
    const fn = parseRelaxFunction(`
      # a comment
      R.function[n](x: R.Tensor((n, 4), dtype="float32"),) -> R.Tensor((n, 4), "float32") {
        dataflow {
          lv: R.Tensor((n, 4), "float32") = R.add(x, x,)  # trailing comma
          output gv: R.Tensor((n, 4), "float32") = R.multiply(lv, R.const(2.0, "float32"))
        }
        return gv
      }`);
    expect(fn.params.length).toBe(1);
    const text = printRelaxFunction(fn);
    expect(text).toContain('R.multiply(lv, R.const(2.0, "float32"))');
    expect(structuralEqual(parseRelaxFunction(text), fn, { mapFreeVars: true })).toBe(true);
  });

  it('infers the StructInfo of operator calls and tuple items written without an annotation', () => {
    const fn = parseRelaxFunction(`
      R.function[n](x: R.Tensor((n, 4), "float32")) -> R.Tensor((n, 1), "float32") {
        dataflow {
          t = (x, x)
          a = t[0]
          b = R.add(a, x)
          output gv = R.sum(b, axis=[1], keepdims=true)
        }
        return gv
      }`);
    const text = printRelaxFunction(fn);
    expect(text).toContain('output gv: R.Tensor((n, 1), "float32") = R.sum(b, axis=[1], keepdims=true)');
    expect(text).toContain('a: R.Tensor((n, 4), "float32") = t[0]');
  });

  it('keeps symbolic variables shared between functions of one module', () => {
    const text = printModule(
      parseModule(
        '@a = R.function[n](x: R.Tensor((n,), "float32")) -> R.Tensor((n,), "float32") { return x }\n' +
          '@b = R.function[n](x: R.Tensor((n,), "float32")) -> R.Tensor((n,), "float32") {\n  y: R.Tensor((n,), "float32") = @a(x)\n  return y\n}\n',
      ),
    );
    const mod = parseModule(text);
    const a = mod.funcs[0] as RelaxFunction;
    const b = mod.funcs[1] as RelaxFunction;
    const dimOf = (f: RelaxFunction): Node =>
      (f.params[0].structInfo as unknown as { shape: { values: Node[] } }).shape.values[0];
    expect(dimOf(a)).toBe(dimOf(b));
    expect(DType.int64).toBeDefined();
  });
});
