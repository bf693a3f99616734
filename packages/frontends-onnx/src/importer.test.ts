// fromOnnx: StructInfo of imported modules (symbolic dims, folded shape computations,
// output_names), initializers from raw_data / typed fields / external files, and the
// error codes for malformed protobuf, missing values and unsupported ops.
import { readFileSync } from 'node:fs';
import { getFunction, isKilnError, KilnError } from '@kiln/ir-core';
import type { RelaxFunction, TensorStructInfo } from '@kiln/relax';
import { sinfoToString } from '@kiln/relax';
import { describe, expect, it } from 'vitest';
import { OnnxErrorCodes } from './errors.js';
import { hostTensor } from './host.js';
import { fromOnnx } from './importer.js';
import { MAX_OPSET } from './ops/index.js';
import { onnx, tensorFromProto } from './proto.js';
import { buildModel, fixture } from './testing.test-util.js';

const mainOf = (m: ReturnType<typeof fromOnnx>) => getFunction(m, 'main') as unknown as RelaxFunction;
function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isKilnError(e)) return e.code;
    throw e;
  }
  return undefined;
}

describe('fromOnnx structure', () => {
  it('names params after graph inputs, keeps a symbolic batch dim and lists output names', () => {
    const fn = mainOf(fromOnnx(fixture('mlp_dynamic.onnx')));
    expect(fn.params.map((p) => p.name)).toEqual(['x']);
    expect(sinfoToString(fn.params[0].structInfo)).toBe('R.Tensor((batch, 8), "float32")');
    expect(sinfoToString(fn.retStructInfo)).toBe('R.Tensor((batch, 4), "float32")');
    expect(fn.attrs.output_names).toEqual(['y']);
  });

  it('folds Shape → Gather → Concat → Reshape on a symbolic shape at import time', () => {
    const fn = mainOf(fromOnnx(fixture('shape_fold.onnx')));
    expect(sinfoToString(fn.retStructInfo)).toBe('R.Tensor((N, 12), "float32")');
  });

  it('shapes option overrides input dims (static and symbolic)', () => {
    const a = mainOf(fromOnnx(fixture('mlp_dynamic.onnx'), { shapes: { x: [3, 8] } }));
    expect(sinfoToString(a.retStructInfo)).toBe('R.Tensor((3, 4), "float32")');
    const b = mainOf(fromOnnx(fixture('mlp_dynamic.onnx'), { shapes: { x: ['n', 8] } }));
    expect(sinfoToString(b.retStructInfo)).toBe('R.Tensor((n, 4), "float32")');
  });

  it('shares one shape variable per dim_param name', () => {
    const bytes = buildModel({
      nodes: [{ op: 'Add', inputs: ['a', 'b'], outputs: ['y'] }],
      inputs: [
        { name: 'a', dtype: 'float32', shape: ['n', 4] },
        { name: 'b', dtype: 'float32', shape: ['n', 4] },
      ],
      outputs: ['y'],
    });
    const fn = mainOf(fromOnnx(bytes));
    const [pa, pb] = fn.params.map((p) => p.structInfo as TensorStructInfo);
    const da = pa.shape?.kind === 'relax.ShapeExpr' ? pa.shape.values[0] : undefined;
    const db = pb.shape?.kind === 'relax.ShapeExpr' ? pb.shape.values[0] : undefined;
    expect(da).toBeDefined();
    expect(da).toBe(db);
    expect(sinfoToString(fn.retStructInfo)).toBe('R.Tensor((n, 4), "float32")');
  });

  it('multiple outputs become a tuple in output order', () => {
    const bytes = buildModel({
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['r'] },
        { op: 'Neg', inputs: ['x'], outputs: ['n'] },
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
      outputs: ['n', 'r'],
    });
    const fn = mainOf(fromOnnx(bytes));
    expect(sinfoToString(fn.retStructInfo)).toBe(
      'R.Tuple(R.Tensor((2,), "float32"), R.Tensor((2,), "float32"))',
    );
    expect(fn.attrs.output_names).toEqual(['n', 'r']);
  });

  it('picks the converter version for the model opset (Softmax before 13 coerces to 2-D)', () => {
    const mk = (opset: number) =>
      buildModel({
        nodes: [{ op: 'Softmax', inputs: ['x'], outputs: ['y'] }],
        inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3, 4] }],
        outputs: ['y'],
        opset,
      });
    const old = mainOf(fromOnnx(mk(11)));
    const cur = mainOf(fromOnnx(mk(13)));
    expect(JSON.stringify(old.body).includes('relax.reshape')).toBe(true);
    expect(JSON.stringify(cur.body).includes('relax.reshape')).toBe(false);
  });

  it('reads an initializer from an external data file', () => {
    const fn = mainOf(fromOnnx(fixture('external_data.onnx')));
    expect(sinfoToString(fn.retStructInfo)).toBe('R.Tensor((2, 5), "float32")');
    expect(codeOf(() => fromOnnx(readFileSync(fixture('external_data.onnx'))))).toBe(
      OnnxErrorCodes.ONNX_EXTERNAL_DATA,
    );
  });

  it('rejects opsets newer than it knows', () => {
    const bytes = buildModel({
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
      outputs: ['y'],
      opset: MAX_OPSET + 1,
    });
    expect(codeOf(() => fromOnnx(bytes))).toBe(OnnxErrorCodes.ONNX_OPSET);
  });
});

describe('TensorProto decoding', () => {
  it('reads typed fields and raw data for float16, bool, int64 and uint8', () => {
    const f16 = tensorFromProto(
      onnx.TensorProto.fromObject({ name: 'h', dataType: 10, dims: [2], int32Data: [0x3c00, 0xc000] }),
    );
    expect(Array.from(f16.data)).toEqual([1, -2]);
    const b = tensorFromProto(
      onnx.TensorProto.fromObject({ name: 'b', dataType: 9, dims: [3], rawData: new Uint8Array([1, 0, 1]) }),
    );
    expect(b.dtype).toBe('bool');
    expect(Array.from(b.data)).toEqual([1, 0, 1]);
    const raw64 = new Uint8Array(new BigInt64Array([-3n, 2n ** 40n]).buffer);
    const i64 = tensorFromProto(
      onnx.TensorProto.fromObject({ name: 'i', dataType: 7, dims: [2], rawData: raw64 }),
    );
    expect(Array.from(i64.data)).toEqual([-3, 2 ** 40]);
    const typed64 = tensorFromProto(
      onnx.TensorProto.fromObject({ name: 'j', dataType: 7, dims: [2], int64Data: [5, -6] }),
    );
    expect(Array.from(typed64.data)).toEqual([5, -6]);
    const u8 = tensorFromProto(
      onnx.TensorProto.fromObject({ name: 'u', dataType: 2, dims: [2], int32Data: [250, 3] }),
    );
    expect(u8.dtype).toBe('uint8');
    const bf = tensorFromProto(
      onnx.TensorProto.fromObject({ name: 'bf', dataType: 16, dims: [1], int32Data: [0x3fc0] }),
    );
    expect(Array.from(bf.data)).toEqual([1.5]);
  });

  it('turns initializers of every storage into typed constants', () => {
    const bytes = buildModel({
      nodes: [{ op: 'Add', inputs: ['x', 'c'], outputs: ['y'] }],
      inputs: [{ name: 'x', dtype: 'int64', shape: [2] }],
      outputs: ['y'],
      inits: { c: hostTensor('int64', [2], [7, -9]) },
    });
    const fn = mainOf(fromOnnx(bytes));
    expect(sinfoToString(fn.retStructInfo)).toBe('R.Tensor((2,), "int64")');
    expect(
      JSON.stringify(fn.body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)).includes(
        'relax.Constant',
      ),
    ).toBe(true);
  });

  it('rejects element types Kiln has no dtype for', () => {
    expect(
      codeOf(() => tensorFromProto(onnx.TensorProto.fromObject({ name: 's', dataType: 8, dims: [1] }))),
    ).toBe(OnnxErrorCodes.ONNX_UNSUPPORTED_DTYPE);
  });
});

describe('errors', () => {
  it('malformed protobuf is ONNX_PARSE naming the file', () => {
    let err: unknown;
    try {
      fromOnnx(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2]), { fileName: 'broken.onnx' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KilnError);
    expect((err as KilnError).code).toBe(OnnxErrorCodes.ONNX_PARSE);
    expect((err as KilnError).message).toContain('broken.onnx');
    expect(codeOf(() => fromOnnx('/nonexistent/model.onnx'))).toBe(OnnxErrorCodes.ONNX_PARSE);
  });

  it('a missing initializer is ONNX_INVALID naming the node and the value', () => {
    let err: KilnError | undefined;
    try {
      fromOnnx(fixture('missing_initializer.onnx'));
    } catch (e) {
      err = e as KilnError;
    }
    expect(err?.code).toBe(OnnxErrorCodes.ONNX_INVALID);
    expect(err?.message).toContain("Add 'add_bias'");
    expect(err?.message).toContain("'bias'");
  });

  it('unsupported ops are reported together in one ONNX_UNSUPPORTED_OP error', () => {
    let err: KilnError | undefined;
    try {
      fromOnnx(fixture('unsupported.onnx'));
    } catch (e) {
      err = e as KilnError;
    }
    expect(err?.code).toBe(OnnxErrorCodes.ONNX_UNSUPPORTED_OP);
    const ops = ((err?.details?.ops ?? []) as { op: string; domain: string; opset: number }[]).map(
      (o) => `${o.domain}.${o.op}@${o.opset}`,
    );
    expect(ops).toEqual(['com.example.FancyOp@3', 'com.example.OtherOp@3']);
    expect(err?.message).toContain('FancyOp');
    expect(err?.message).toContain('OtherOp');
  });

  it('an op older than every converter version is refused with that reason', () => {
    // Attention exists from opset 23; at opset 17 it is not an ONNX op yet.
    const bytes = buildModel({
      nodes: [{ op: 'Attention', inputs: ['x', 'x', 'x'], outputs: ['y'] }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 2, 3, 4] }],
      outputs: ['y'],
    });
    let err: KilnError | undefined;
    try {
      fromOnnx(bytes);
    } catch (e) {
      err = e as KilnError;
    }
    expect(err?.code).toBe(OnnxErrorCodes.ONNX_UNSUPPORTED_OP);
    expect(err?.message).toMatch(/Attention \(opset 17: no converter for this opset\)/);
  });

  it('a shape needed at compile time that is only known at run time is ONNX_DYNAMIC', () => {
    const bytes = buildModel({
      nodes: [{ op: 'Reshape', inputs: ['x', 's'], outputs: ['y'] }],
      inputs: [
        { name: 'x', dtype: 'float32', shape: [2, 3] },
        { name: 's', dtype: 'int64', shape: [1] },
      ],
      outputs: ['y'],
    });
    expect(codeOf(() => fromOnnx(bytes))).toBe(OnnxErrorCodes.ONNX_DYNAMIC);
    // ...and fine once that input is bound at compile time.
    const fn = mainOf(fromOnnx(bytes, { bindInputs: { s: hostTensor('int64', [1], [6]) } }));
    expect(sinfoToString(fn.retStructInfo)).toBe('R.Tensor((6,), "float32")');
  });
});

describe('optional graph inputs', () => {
  const model = (elem: object) =>
    onnx.ModelProto.encode(
      onnx.ModelProto.fromObject({
        irVersion: 8,
        opsetImport: [{ domain: '', version: 18 }],
        graph: {
          name: 'g',
          node: [{ opType: 'OptionalHasElement', input: ['o'], output: ['y'], name: 'has' }],
          input: [{ name: 'o', type: elem }],
          output: [{ name: 'y' }],
        },
      }),
    ).finish();
  it('an optional tensor input is a tensor parameter that is always present', () => {
    const fn = mainOf(
      fromOnnx(
        model({
          optionalType: { elemType: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 4 }] } } } },
        }),
      ),
    );
    expect(sinfoToString(fn.params[0].structInfo as TensorStructInfo)).toBe('R.Tensor((4,), "float32")');
  });
  it('an optional sequence input is a sequence (a tuple of the given element shapes)', () => {
    const seqOf = { sequenceType: { elemType: { tensorType: { elemType: 1 } } } };
    const bytes = model({ optionalType: { elemType: seqOf } });
    expect(codeOf(() => fromOnnx(bytes))).toBe(OnnxErrorCodes.ONNX_DYNAMIC);
    const fn = mainOf(fromOnnx(bytes, { sequenceInputs: { o: [[2], [3, 'n']] } }));
    expect(sinfoToString(fn.params[0].structInfo)).toBe(
      'R.Tuple(R.Tensor((2,), "float32"), R.Tensor((3, n), "float32"))',
    );
  });
  it('a map input is refused', () => {
    const mapOf = { mapType: { keyType: 7, valueType: { tensorType: { elemType: 1 } } } };
    expect(codeOf(() => fromOnnx(model(mapOf)))).toBe(OnnxErrorCodes.ONNX_INVALID);
  });
});
