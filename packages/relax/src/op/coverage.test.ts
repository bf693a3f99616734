// Every registered operator has a StructInfo-inference case over a symbolic shape and an
// error case asserting its KilnError code; the table must name every built-in op, so a
// new op without tests fails here.
import { primVar } from '@kiln/ir-core';
import { allClose } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { call, externFunc, globalVar, tuple } from '../ir/expr.js';
import type { Expr, StructInfo } from '../ir/nodes.js';
import { shapeSInfo, tensorSInfo } from '../ir/struct-info.js';
import { at, fromFn, infer, inferError, rand, runOp, tensorOut } from '../testing/harness.js';
import { createOpRegistry } from './builtin.js';
import { BINARY_OPS, UNARY_OPS } from './elemwise.js';
import * as op from './index.js';
import { REDUCE_NAMES } from './reduce.js';

const n = primVar('n');
const f32 = (s: readonly (number | typeof n)[]) => tensorSInfo(s, 'float32');
const i64 = (s: readonly (number | typeof n)[]) => tensorSInfo(s, 'int64');
const bool = (s: readonly (number | typeof n)[]) => tensorSInfo(s, 'bool');

interface Case {
  args: StructInfo[];
  build: (...a: Expr[]) => Expr;
  want: string;
  bad: { args: StructInfo[]; build: (...a: Expr[]) => Expr; code: string };
}
const C: Record<string, Case> = {};
const raw =
  (name: string, attrs: Record<string, unknown> = {}) =>
  (...a: Expr[]) =>
    call(name, a, { attrs: attrs as never });

const unaryDT = {
  float: 'float32',
  any: 'float32',
  int: 'int32',
  bool: 'bool',
  predicate: 'float32',
} as const;
for (const [name, kind] of Object.entries(UNARY_OPS)) {
  const dt = unaryDT[kind];
  const out = kind === 'predicate' ? 'bool' : dt;
  C[name] = {
    args: [tensorSInfo([n, 3], dt)],
    build: raw(name),
    want: `R.Tensor((n, 3), "${out}")`,
    bad:
      kind === 'any'
        ? { args: [shapeSInfo([n])], build: raw(name), code: 'INVALID_ARGUMENT' }
        : {
            args: [tensorSInfo([n], kind === 'float' || kind === 'predicate' ? 'int32' : 'float32')],
            build: raw(name),
            code: 'DTYPE_MISMATCH',
          },
  };
}
for (const [name, kind] of Object.entries(BINARY_OPS)) {
  const dt = kind === 'logical' ? 'bool' : kind === 'bitwise' ? 'int32' : 'float32';
  C[name] = {
    args: [tensorSInfo([n, 1, 4], dt), tensorSInfo([3, 1], dt)],
    build: raw(name),
    want: `R.Tensor((n, 3, 4), "${kind === 'compare' ? 'bool' : dt}")`,
    bad: {
      args: [tensorSInfo([2, 3], dt), tensorSInfo([4, 3], dt)],
      build: raw(name),
      code: 'SHAPE_MISMATCH',
    },
  };
}
for (const name of REDUCE_NAMES) {
  C[name] = {
    args: [f32([n, 3, 4])],
    build: raw(name, { axis: [1], keepdims: true }),
    want: 'R.Tensor((n, 1, 4), "float32")',
    bad: { args: [f32([n, 3])], build: raw(name, { axis: [3] }), code: 'INVALID_ARGUMENT' },
  };
}
for (const name of ['relax.argmax', 'relax.argmin']) {
  C[name] = {
    args: [f32([n, 3])],
    build: raw(name, { axis: -1 }),
    want: 'R.Tensor((n,), "int64")',
    bad: { args: [f32([n, 3])], build: raw(name, { axis: 2 }), code: 'INVALID_ARGUMENT' },
  };
}
for (const name of ['relax.cumsum', 'relax.cumprod']) {
  C[name] = {
    args: [f32([n, 3])],
    build: raw(name, { axis: 0 }),
    want: 'R.Tensor((n, 3), "float32")',
    bad: { args: [f32([n, 3])], build: raw(name, { axis: 5 }), code: 'INVALID_ARGUMENT' },
  };
}
const convArgs = (sp: number, o: number): [StructInfo, StructInfo] => [
  f32([n, 2, ...Array(sp).fill(6)]),
  f32([o, 2, ...Array(sp).fill(3)]),
];
for (const sp of [1, 2, 3]) {
  C[`relax.nn.conv${sp}d`] = {
    args: convArgs(sp, 4),
    build: raw(`relax.nn.conv${sp}d`, { padding: [1] }),
    want: `R.Tensor((n, 4, ${Array(sp).fill(6).join(', ')}), "float32")`,
    bad: {
      args: [f32([n, 3, ...Array(sp).fill(6)]), f32([4, 2, ...Array(sp).fill(3)])],
      build: raw(`relax.nn.conv${sp}d`),
      code: 'SHAPE_MISMATCH',
    },
  };
  for (const kind of ['max', 'avg']) {
    const name = `relax.nn.${kind}_pool${sp}d`;
    C[name] = {
      args: [f32([n, 2, ...Array(sp).fill(6)])],
      build: raw(name, { poolSize: [2], strides: [2] }),
      want: `R.Tensor((n, 2, ${Array(sp).fill(3).join(', ')}), "float32")`,
      bad: { args: [f32([n, 2])], build: raw(name, { poolSize: [2] }), code: 'SHAPE_MISMATCH' },
    };
  }
  const ad = `relax.nn.adaptive_avg_pool${sp}d`;
  C[ad] = {
    args: [f32([n, 2, ...Array(sp).fill(6)])],
    build: raw(ad, { outputSize: [2] }),
    want: `R.Tensor((n, 2, ${Array(sp).fill(2).join(', ')}), "float32")`,
    bad: {
      args: [f32([n, 2, ...Array(sp).fill(6)])],
      build: raw(ad, { outputSize: [0] }),
      code: 'INVALID_ARGUMENT',
    },
  };
}
C['relax.nn.adaptive_max_pool2d'] = {
  ...C['relax.nn.adaptive_avg_pool2d'],
  build: raw('relax.nn.adaptive_max_pool2d', { outputSize: [2] }),
};
C['relax.nn.adaptive_max_pool2d'].bad = {
  ...C['relax.nn.adaptive_avg_pool2d'].bad,
  build: raw('relax.nn.adaptive_max_pool2d', { outputSize: [0] }),
};
for (const sp of [1, 2, 3]) {
  const name = `relax.nn.conv${sp}d_transpose`;
  C[name] = {
    args: [f32([n, 2, ...Array(sp).fill(4)]), f32([2, 3, ...Array(sp).fill(3)])],
    build: raw(name, { strides: [2] }),
    want: `R.Tensor((n, 3, ${Array(sp).fill(9).join(', ')}), "float32")`,
    bad: {
      args: [f32([n, 2, ...Array(sp).fill(4)]), f32([3, 3, ...Array(sp).fill(3)])],
      build: raw(name),
      code: 'SHAPE_MISMATCH',
    },
  };
}
const one = (args: StructInfo[], build: Case['build'], want: string, bad: Case['bad']): Case => ({
  args,
  build,
  want,
  bad,
});
Object.assign(C, {
  'relax.call_tir': one(
    [f32([n, 3])],
    (x) => op.callTIR(globalVar('k'), [x], f32([n, 3])),
    'R.Tensor((n, 3), "float32")',
    {
      args: [f32([n])],
      build: (x) => op.callTIR(globalVar('k'), [x], tensorSInfo(undefined, 'float32', { ndim: 1 })),
      code: 'INVALID_ARGUMENT',
    },
  ),
  'relax.call_dps_packed': one(
    [f32([n])],
    (x) => op.callDPSPacked(externFunc('lib.f'), [x], f32([n])),
    'R.Tensor((n,), "float32")',
    {
      args: [f32([n])],
      build: (x) => call('relax.call_dps_packed', [x, tuple([x])], { sinfoArgs: [f32([n])] }),
      code: 'INVALID_ARGUMENT',
    },
  ),
  'relax.shape_of': one([f32([n, 2])], (x) => op.shapeOf(x), 'R.Shape([n, 2])', {
    args: [shapeSInfo(1)],
    build: (x) => op.shapeOf(x),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.where': one(
    [bool([n, 1]), f32([3]), f32([1])],
    (c, a, b) => op.where(c, a, b),
    'R.Tensor((n, 3), "float32")',
    {
      args: [f32([2]), f32([2]), f32([2])],
      build: (c, a, b) => op.where(c, a, b),
      code: 'DTYPE_MISMATCH',
    },
  ),
  'relax.astype': one([f32([n])], (x) => op.astype(x, 'float16'), 'R.Tensor((n,), "float16")', {
    args: [f32([n])],
    build: raw('relax.astype', {}),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.reinterpret': one([f32([n])], (x) => op.reinterpret(x, 'int32'), 'R.Tensor((n,), "int32")', {
    args: [f32([n])],
    build: (x) => op.reinterpret(x, 'int16'),
    code: 'DTYPE_MISMATCH',
  }),
  'relax.clip': one([f32([n])], (x) => op.clip(x, 0, 6), 'R.Tensor((n,), "float32")', {
    args: [f32([n])],
    build: (x) => op.clip(x, 6, 0),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.nn.leaky_relu': one([f32([n])], (x) => op.leakyRelu(x), 'R.Tensor((n,), "float32")', {
    args: [i64([n])],
    build: (x) => op.leakyRelu(x),
    code: 'DTYPE_MISMATCH',
  }),
  'relax.nn.dropout': one([f32([n])], (x) => op.dropout(x, 0.1), 'R.Tensor((n,), "float32")', {
    args: [f32([n])],
    build: (x) => op.dropout(x, 2),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.matmul': one(
    [f32([n, 2, 3]), f32([3, 4])],
    (a, b) => op.matmul(a, b),
    'R.Tensor((n, 2, 4), "float32")',
    { args: [f32([2, 3]), f32([4, 4])], build: (a, b) => op.matmul(a, b), code: 'SHAPE_MISMATCH' },
  ),
  'relax.linear': one([f32([n, 3]), f32([5, 3])], (a, b) => op.linear(a, b), 'R.Tensor((n, 5), "float32")', {
    args: [f32([n, 3]), f32([5, 4])],
    build: (a, b) => op.linear(a, b),
    code: 'SHAPE_MISMATCH',
  }),
  'relax.einsum': one(
    [f32([n, 3]), f32([3, 2])],
    (a, b) => op.einsum([a, b], 'ij,jk->ki'),
    'R.Tensor((2, n), "float32")',
    { args: [f32([3])], build: (a) => op.einsum([a], 'i...->i'), code: 'INVALID_ARGUMENT' },
  ),
  'relax.reshape': one([f32([n, 4])], (x) => op.reshape(x, [2, n, 2]), 'R.Tensor((2, n, 2), "float32")', {
    args: [f32([2, 4])],
    build: (x) => op.reshape(x, [3, 3]),
    code: 'SHAPE_MISMATCH',
  }),
  'relax.permute_dims': one([f32([n, 4])], (x) => op.permuteDims(x), 'R.Tensor((4, n), "float32")', {
    args: [f32([n, 4])],
    build: (x) => op.permuteDims(x, [0]),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.expand_dims': one([f32([n])], (x) => op.expandDims(x, 1), 'R.Tensor((n, 1), "float32")', {
    args: [f32([n])],
    build: (x) => op.expandDims(x, 3),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.squeeze': one([f32([n, 1])], (x) => op.squeeze(x, 1), 'R.Tensor((n,), "float32")', {
    args: [f32([n, 2])],
    build: (x) => op.squeeze(x, 1),
    code: 'SHAPE_MISMATCH',
  }),
  'relax.flatten': one([f32([n, 2, 3])], (x) => op.flatten(x), 'R.Tensor((n * 6,), "float32")', {
    args: [f32([n, 2])],
    build: (x) => op.flatten(x, 1, 0),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.concat': one(
    [f32([n, 2]), f32([n, 3])],
    (a, b) => op.concat([a, b], -1),
    'R.Tensor((n, 5), "float32")',
    { args: [f32([2, 2]), f32([3, 3])], build: (a, b) => op.concat([a, b], 1), code: 'SHAPE_MISMATCH' },
  ),
  'relax.split': one(
    [f32([n, 4])],
    (x) => op.split(x, 2, 1),
    'R.Tuple(R.Tensor((n, 2), "float32"), R.Tensor((n, 2), "float32"))',
    { args: [f32([n, 5])], build: (x) => op.split(x, 2, 1), code: 'SHAPE_MISMATCH' },
  ),
  'relax.strided_slice': one(
    [f32([n, 8])],
    (x) => op.stridedSlice(x, [1], [2], [6], [2]),
    'R.Tensor((n, 2), "float32")',
    { args: [f32([n, 8])], build: (x) => op.stridedSlice(x, [1, 0], [2], [6]), code: 'INVALID_ARGUMENT' },
  ),
  'relax.broadcast_to': one([f32([1, 3])], (x) => op.broadcastTo(x, [n, 3]), 'R.Tensor((n, 3), "float32")', {
    args: [f32([2, 3])],
    build: (x) => op.broadcastTo(x, [3, 3]),
    code: 'SHAPE_MISMATCH',
  }),
  'relax.tile': one([f32([n])], (x) => op.tile(x, [3]), 'R.Tensor((n * 3,), "float32")', {
    args: [f32([n])],
    build: (x) => op.tile(x, [-1]),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.repeat': one([f32([n, 2])], (x) => op.repeat(x, 2, 1), 'R.Tensor((n, 4), "float32")', {
    args: [f32([n, 2])],
    build: (x) => op.repeat(x, 2, 2),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.nn.pad': one([f32([n, 2])], (x) => op.pad(x, [0, 1, 2, 0]), 'R.Tensor((n + 1, 4), "float32")', {
    args: [f32([n, 2])],
    build: (x) => op.pad(x, [0, 1]),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.triu': one([f32([n, n])], (x) => op.triu(x), 'R.Tensor((n, n), "float32")', {
    args: [f32([n])],
    build: (x) => op.triu(x),
    code: 'SHAPE_MISMATCH',
  }),
  'relax.tril': one([f32([n, n])], (x) => op.tril(x), 'R.Tensor((n, n), "float32")', {
    args: [f32([n])],
    build: (x) => op.tril(x),
    code: 'SHAPE_MISMATCH',
  }),
  'relax.take': one([f32([n, 5]), i64([2])], (x, i) => op.take(x, i, 1), 'R.Tensor((n, 2), "float32")', {
    args: [f32([n, 5]), f32([2])],
    build: (x, i) => op.take(x, i, 1),
    code: 'DTYPE_MISMATCH',
  }),
  'relax.gather_elements': one(
    [f32([n, 5]), i64([n, 2])],
    (x, i) => op.gatherElements(x, i, 1),
    'R.Tensor((n, 2), "float32")',
    { args: [f32([n, 5]), i64([2])], build: (x, i) => op.gatherElements(x, i, 1), code: 'SHAPE_MISMATCH' },
  ),
  'relax.gather_nd': one(
    [f32([n, 5, 2]), i64([n, 3, 1])],
    (x, i) => op.gatherNd(x, i, 1),
    'R.Tensor((n, 3, 2), "float32")',
    { args: [f32([2, 2]), i64([1, 3])], build: (x, i) => op.gatherNd(x, i), code: 'SHAPE_MISMATCH' },
  ),
  'relax.scatter_elements': one(
    [f32([n, 5]), i64([n, 2]), f32([n, 2])],
    (x, i, u) => op.scatterElements(x, i, u, 1),
    'R.Tensor((n, 5), "float32")',
    {
      args: [f32([4, 5]), i64([2, 2]), tensorSInfo([2, 2], 'int32')],
      build: (x, i, u) => op.scatterElements(x, i, u),
      code: 'DTYPE_MISMATCH',
    },
  ),
  'relax.one_hot': one([i64([n])], (i) => op.oneHot(i, 3, { axis: 0 }), 'R.Tensor((3, n), "float32")', {
    args: [f32([n])],
    build: (i) => op.oneHot(i, 3),
    code: 'DTYPE_MISMATCH',
  }),
  'relax.sort': one([f32([n, 4])], (x) => op.sort(x, 0), 'R.Tensor((n, 4), "float32")', {
    args: [f32([n, 4])],
    build: (x) => op.sort(x, 2),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.argsort': one([f32([n, 4])], (x) => op.argsort(x), 'R.Tensor((n, 4), "int64")', {
    args: [f32([n, 4])],
    build: (x) => op.argsort(x, -3),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.topk': one(
    [f32([n, 4])],
    (x) => op.topk(x, 2, { retType: 'indices' }),
    'R.Tensor((n, 2), "int64")',
    { args: [f32([n, 4])], build: (x) => op.topk(x, 5), code: 'SHAPE_MISMATCH' },
  ),
  'relax.full': one([f32([])], (v) => op.full([n, 2], v, 'int32'), 'R.Tensor((n, 2), "int32")', {
    args: [f32([1])],
    build: (v) => op.full([n], v),
    code: 'SHAPE_MISMATCH',
  }),
  'relax.zeros': one([], () => op.zeros([n]), 'R.Tensor((n,), "float32")', {
    args: [f32([n])],
    build: (x) => call('relax.zeros', [x]),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.ones': one([], () => op.ones([n], 'int8'), 'R.Tensor((n,), "int8")', {
    args: [],
    build: () => op.ones([n], 'complex'),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.zeros_like': one([f32([n])], (x) => op.zerosLike(x), 'R.Tensor((n,), "float32")', {
    args: [shapeSInfo(1)],
    build: (x) => op.zerosLike(x),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.ones_like': one([f32([n])], (x) => op.onesLike(x, 'bool'), 'R.Tensor((n,), "bool")', {
    args: [shapeSInfo(1)],
    build: (x) => op.onesLike(x),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.full_like': one([f32([n]), f32([])], (x, v) => op.fullLike(x, v), 'R.Tensor((n,), "float32")', {
    args: [f32([n]), f32([2])],
    build: (x, v) => op.fullLike(x, v),
    code: 'SHAPE_MISMATCH',
  }),
  'relax.arange': one([], () => op.arange(0, n, 2), 'R.Tensor(((n + 1) // 2,), "int64")', {
    args: [],
    build: () => op.arange(0, 4, 0),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.nn.batch_norm': one(
    [f32([n, 3, 4]), f32([3]), f32([3]), f32([3]), f32([3])],
    (x, g, b, m, v) => op.batchNorm(x, g, b, m, v),
    'R.Tensor((n, 3, 4), "float32")',
    {
      args: [f32([n, 3, 4]), f32([4]), f32([3]), f32([3]), f32([3])],
      build: (x, g, b, m, v) => op.batchNorm(x, g, b, m, v),
      code: 'SHAPE_MISMATCH',
    },
  ),
  'relax.nn.layer_norm': one(
    [f32([n, 4]), f32([4]), f32([4])],
    (x, g, b) => op.layerNorm(x, g, b),
    'R.Tensor((n, 4), "float32")',
    {
      args: [f32([n, 4]), f32([4]), f32([4])],
      build: (x, g, b) => op.layerNorm(x, g, b, { axes: [2] }),
      code: 'INVALID_ARGUMENT',
    },
  ),
  'relax.nn.group_norm': one(
    [f32([n, 4, 3]), f32([4]), f32([4])],
    (x, g, b) => op.groupNorm(x, g, b, 2),
    'R.Tensor((n, 4, 3), "float32")',
    {
      args: [f32([n, 4, 3]), f32([3]), f32([4])],
      build: (x, g, b) => op.groupNorm(x, g, b, 2),
      code: 'SHAPE_MISMATCH',
    },
  ),
  'relax.nn.rms_norm': one(
    [f32([n, 4]), f32([4])],
    (x, w) => op.rmsNorm(x, w),
    'R.Tensor((n, 4), "float32")',
    { args: [f32([n, 4]), f32([3])], build: (x, w) => op.rmsNorm(x, w), code: 'SHAPE_MISMATCH' },
  ),
  'relax.nn.softmax': one([f32([n, 4])], (x) => op.softmax(x, 0), 'R.Tensor((n, 4), "float32")', {
    args: [i64([n])],
    build: (x) => op.softmax(x),
    code: 'DTYPE_MISMATCH',
  }),
  'relax.nn.log_softmax': one([f32([n, 4])], (x) => op.logSoftmax(x), 'R.Tensor((n, 4), "float32")', {
    args: [f32([n])],
    build: (x) => op.logSoftmax(x, 1),
    code: 'INVALID_ARGUMENT',
  }),
  'relax.nn.attention': one(
    [f32([1, n, 2, 8]), f32([1, n, 2, 8]), f32([1, n, 2, 4])],
    (q, k, v) => op.attention(q, k, v, { causalMask: 'TopLeft' }),
    'R.Tensor((1, n, 2, 4), "float32")',
    {
      args: [f32([1, 5, 2, 8]), f32([1, 5, 3, 8]), f32([1, 5, 3, 4])],
      build: (q, k, v) => op.attention(q, k, v),
      code: 'SHAPE_MISMATCH',
    },
  ),
  'relax.nn.prelu': one(
    [f32([n, 3, 4]), f32([3])],
    (x, a) => op.prelu(x, a),
    'R.Tensor((n, 3, 4), "float32")',
    {
      args: [f32([n, 3, 4]), f32([4])],
      build: (x, a) => op.prelu(x, a),
      code: 'SHAPE_MISMATCH',
    },
  ),
  'relax.image.resize2d': one(
    [f32([n, 3, 4, 4])],
    (x) => op.resize2d(x, [8, n]),
    'R.Tensor((n, 3, 8, n), "float32")',
    { args: [f32([n, 4, 4])], build: (x) => op.resize2d(x, [8, 8]), code: 'SHAPE_MISMATCH' },
  ),
});

describe('every built-in op: inference (symbolic) and an error case', () => {
  it('the table covers every registered op', () => {
    const vmOps = (name: string) =>
      name.startsWith('relax.builtin.') || name.startsWith('relax.memory.') || name.startsWith('relax.vm.');
    const missing = createOpRegistry()
      .listOps()
      .filter((o) => !(o in C) && !vmOps(o));
    expect(missing).toEqual([]);
  });
  for (const [name, c] of Object.entries(C)) {
    it(name, () => {
      expect(infer(c.args, c.build)).toBe(c.want);
      expect(inferError(c.bad.args, c.bad.build)).toBe(c.bad.code);
    });
  }
});

describe('legalization of the remaining variants', () => {
  it('conv1d_transpose', () => {
    const x = rand('float32', [1, 2, 4], 1);
    const w = rand('float32', [2, 3, 3], 2);
    const ref = fromFn('float32', [1, 3, 9], ([, o, y]) => {
      let s = 0;
      for (let c = 0; c < 2; c++)
        for (let k = 0; k < 3; k++) {
          const num = y - k;
          if (num % 2 || num < 0 || num / 2 >= 4) continue;
          s += at(x, [0, c, num / 2]) * at(w, [c, o, k]);
        }
      return s;
    });
    const r = allClose(
      tensorOut(runOp((a, b) => op.conv1dTranspose(a, b, { strides: [2] }), [x, w])),
      ref,
      1e-4,
      1e-5,
    );
    expect(r.ok, r.message).toBe(true);
  });
  it('pool 1d / 3d and adaptive 1d / 3d', () => {
    const x1 = rand('float32', [1, 2, 7], 3);
    const avg1 = fromFn(
      'float32',
      [1, 2, 3],
      ([b, c, i]) => (at(x1, [b, c, 2 * i]) + at(x1, [b, c, 2 * i + 1])) / 2,
    );
    expect(
      allClose(tensorOut(runOp((a) => op.avgPool1d(a, [2], { strides: [2] }), [x1])), avg1, 1e-5, 1e-6).ok,
    ).toBe(true);
    const x3 = rand('float32', [1, 1, 2, 4, 4], 4);
    const mx3 = fromFn('float32', [1, 1, 1, 2, 2], ([, , , i, j]) => {
      let m = -Infinity;
      for (let d = 0; d < 2; d++)
        for (let y = 0; y < 2; y++)
          for (let z = 0; z < 2; z++) m = Math.max(m, at(x3, [0, 0, d, 2 * i + y, 2 * j + z]));
      return m;
    });
    expect(allClose(tensorOut(runOp((a) => op.maxPool3d(a, [2], { strides: [2] }), [x3])), mx3).ok).toBe(
      true,
    );
    const av3 = fromFn('float32', [1, 1, 1, 2, 2], ([, , , i, j]) => {
      let s = 0;
      for (let d = 0; d < 2; d++)
        for (let y = 0; y < 2; y++) for (let z = 0; z < 2; z++) s += at(x3, [0, 0, d, 2 * i + y, 2 * j + z]);
      return s / 8;
    });
    expect(
      allClose(tensorOut(runOp((a) => op.avgPool3d(a, [2], { strides: [2] }), [x3])), av3, 1e-5, 1e-6).ok,
    ).toBe(true);
    expect(
      allClose(tensorOut(runOp((a) => op.adaptiveAvgPool3d(a, [1, 2, 2]), [x3])), av3, 1e-5, 1e-6).ok,
    ).toBe(true);
    const ad1 = fromFn('float32', [1, 2, 1], ([b, c]) => {
      let s = 0;
      for (let i = 0; i < 7; i++) s += at(x1, [b, c, i]);
      return s / 7;
    });
    expect(allClose(tensorOut(runOp((a) => op.adaptiveAvgPool1d(a, [1]), [x1])), ad1, 1e-5, 1e-6).ok).toBe(
      true,
    );
  });
  it('prelu', () => {
    const x = rand('float32', [2, 3, 4], 7);
    const a = rand('float32', [3], 8);
    const r = allClose(
      tensorOut(runOp((p, q) => op.prelu(p, q), [x, a])),
      fromFn('float32', [2, 3, 4], ([i, c, k]) => {
        const v = at(x, [i, c, k]);
        return v > 0 ? v : v * at(a, [c]);
      }),
    );
    expect(r.ok, r.message).toBe(true);
  });
  it('dropout is the identity; ones_like; arange over a symbolic length', () => {
    const x = rand('float32', [2, 3], 5);
    expect(Array.from(tensorOut(runOp((a) => op.dropout(a, 0.3), [x])).data, Number)).toEqual(
      Array.from(x.data, Number),
    );
    expect(Array.from(tensorOut(runOp((a) => op.onesLike(a, 'int32'), [x])).data, Number)).toEqual([
      1, 1, 1, 1, 1, 1,
    ]);
    // arange(0, n) where n comes from an argument's shape: the kernel takes n as a TIR var.
    const r = runOp((_a) => op.arange(0, n), [rand('float32', [4], 6)], [f32([n])]);
    expect(Array.from(tensorOut(r).data, Number)).toEqual([0, 1, 2, 3]);
  });
});
