// One conformance case: import model.onnx with @kiln/frontends-onnx, compile it with the
// default CPU pipeline, feed test_data_set_0/input_*.pb and compare with output_*.pb.
// Bundled by conformance.mjs (esbuild) and run inside worker processes.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileModule } from '@kiln/cli';
import type { HostTensor } from '@kiln/frontends-onnx';
import {
  decodeTensor,
  fromOnnx,
  hostTensor,
  OnnxErrorCodes,
  onnxInputs,
  onnxOutputs,
  sanitizeName,
  toStorage,
} from '@kiln/frontends-onnx';
import { getFunction, isKilnError } from '@kiln/ir-core';
import type { Value } from '@kiln/runtime';
import {
  createRuntime,
  isLowPrecisionFloatKind,
  minifloatBitsToNumber,
  Tensor,
  writeArtifact,
} from '@kiln/runtime';

export interface CaseSpec {
  name: string;
  suite: string;
  model: string;
  /** Folder holding input_*.pb / output_*.pb; undefined for the `light` models. */
  dataDir?: string;
  /** `light` models: expected output files; inputs are generated as arange(n)/n. */
  outputs?: string[];
  unsupported?: string;
}
export interface CaseResult {
  name: string;
  suite: string;
  pass: boolean;
  reason?: string;
  code?: string;
  stage?: 'data' | 'import' | 'compile' | 'run' | 'compare';
  bound?: string[];
  ms: number;
}

let cache: { dir: string; codeHash: string } | undefined;
/**
 * Keep compiled artifacts in `dir`, keyed by the model bytes, the inputs frozen at compile
 * time and `codeHash` (a hash of the bundled compiler), so a rerun with unchanged code skips
 * compilation.
 */
export function configureCache(dir: string, codeHash: string): void {
  mkdirSync(dir, { recursive: true });
  cache = { dir, codeHash };
}

const RTOL = 1e-3;
const ATOL = 1e-5;

function listPb(dir: string, prefix: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
    .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
    .map((f) => join(dir, f));
}

function halfToNum(bits: number, bf16: boolean): number {
  if (bf16) return new Float32Array(new Uint32Array([bits << 16]).buffer)[0];
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function toTensor(t: HostTensor): Tensor {
  // Fresh, aligned storage: kernels may assume the runtime's 64-byte alignment.
  const out = Tensor.empty(t.shape, t.dtype);
  (out.toTypedArray() as unknown as { set(a: ArrayLike<number | bigint>): void }).set(
    toStorage(t.dtype, t.data) as unknown as ArrayLike<number>,
  );
  return out;
}
function fromTensor(t: Tensor): { dtype: string; shape: number[]; data: number[] } {
  const c = t.contiguous();
  const a = c.toTypedArray();
  const dt = c.dtype;
  const data: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as number | bigint;
    data.push(
      dt === 'float16' || dt === 'bfloat16'
        ? halfToNum(Number(v), dt === 'bfloat16')
        : isLowPrecisionFloatKind(dt)
          ? minifloatBitsToNumber(dt, Number(v))
          : Number(v),
    );
  }
  return { dtype: dt, shape: [...c.shape], data };
}

function readVarint(b: Uint8Array, at: { i: number }): number {
  let r = 0;
  for (let shift = 0; ; shift += 7) {
    const x = b[at.i++];
    if (x === undefined) throw new Error('truncated varint');
    r += (x & 0x7f) * 2 ** shift;
    if (!(x & 0x80)) return r;
  }
}
/** A SequenceProto of tensors (field 3, tensor_values); other element kinds are refused. */
function decodeSequence(bytes: Uint8Array, file: string): HostTensor[] {
  const out: HostTensor[] = [];
  const at = { i: 0 };
  while (at.i < bytes.length) {
    const tag = readVarint(bytes, at);
    const [field, wire] = [Math.floor(tag / 8), tag & 7];
    if (wire === 0) readVarint(bytes, at);
    else if (wire === 2) {
      const n = readVarint(bytes, at);
      const sub = bytes.subarray(at.i, at.i + n);
      at.i += n;
      if (field === 3) out.push(decodeTensor(sub, file));
      else if (field > 3) throw new Error(`${file}: a sequence of non-tensors`);
    } else if (wire === 5) at.i += 4;
    else if (wire === 1) at.i += 8;
    else throw new Error(`${file}: bad wire type ${wire}`);
  }
  return out;
}

function sequenceOutputs(model: string): boolean[] {
  return onnxOutputs(model).map((o) => o.kind === 'sequence');
}

/** A test value: a tensor, or a sequence (a tuple at run time). */
type TestValue = HostTensor | HostTensor[];

function compareValue(got: Value, want: TestValue, i: number): string | undefined {
  if (!Array.isArray(want)) {
    if (!(got instanceof Tensor))
      return `output ${i}: got a ${Array.isArray(got) ? 'tuple' : typeof got}, expected a tensor`;
    return compare(got, want, i);
  }
  if (!Array.isArray(got)) return `output ${i}: got a tensor, expected a sequence`;
  const g = got as readonly Value[];
  if (g.length !== want.length) return `output ${i}: sequence of ${g.length}, expected ${want.length}`;
  for (let k = 0; k < want.length; k++) {
    const e = compareValue(g[k], want[k], i);
    if (e) return `${e} (sequence element ${k})`;
  }
  return undefined;
}

function compare(got: Tensor, want: HostTensor, i: number): string | undefined {
  const g = fromTensor(got);
  if (g.shape.length !== want.shape.length || g.shape.some((d, k) => d !== want.shape[k])) {
    return `output ${i}: shape [${g.shape.join(', ')}], expected [${want.shape.join(', ')}]`;
  }
  const isFloat = want.dtype.startsWith('float') || want.dtype.startsWith('bfloat');
  // float8 / float4 values are compared exactly (NaN equals NaN): they are the bit codes decoded.
  const exact = isLowPrecisionFloatKind(want.dtype);
  if (g.dtype !== want.dtype && !(g.dtype === 'bool' && want.dtype === 'bool'))
    return `output ${i}: dtype ${g.dtype}, expected ${want.dtype}`;
  let worst = -1;
  let worstErr = 0;
  for (let k = 0; k < want.data.length; k++) {
    const a = g.data[k];
    const b = want.data[k];
    if (isFloat) {
      if (Number.isNaN(b) && Number.isNaN(a)) continue;
      if (a === b) continue;
      if (exact) return `output ${i}: element ${k} is ${a}, expected ${b}`;
      const err = Math.abs(a - b);
      if (!(err <= ATOL + RTOL * Math.abs(b))) {
        if (worst < 0 || err > worstErr || Number.isNaN(err)) {
          worst = k;
          worstErr = err;
        }
      }
    } else if (a !== b) {
      return `output ${i}: element ${k} is ${a}, expected ${b}`;
    }
  }
  if (worst >= 0)
    return `output ${i}: element ${worst} is ${g.data[worst]}, expected ${want.data[worst]} (max abs error ${worstErr.toPrecision(3)})`;
  return undefined;
}

function lightInput(shape: readonly (number | string)[]): HostTensor {
  const s = shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  const n = s.reduce((a, b) => a * b, 1);
  // onnx's runner feeds arange(n).reshape(shape) / n as float32 to the light models.
  return hostTensor(
    'float32',
    s,
    Float64Array.from({ length: n }, (_, i) => Math.fround(i / n)),
  );
}

function outputsOf(v: Value, n: number): Value[] {
  if (v instanceof Tensor) return [v];
  // One output that is a sequence comes back as the tuple itself.
  if (Array.isArray(v)) return n === 1 ? [v] : [...(v as Value[])];
  throw new Error(`main returned ${typeof v}, expected ${n} value(s)`);
}

export function runCase(spec: CaseSpec): CaseResult {
  const t0 = performance.now();
  const done = (r: Omit<CaseResult, 'name' | 'suite' | 'ms'>): CaseResult => ({
    name: spec.name,
    suite: spec.suite,
    ms: Math.round(performance.now() - t0),
    ...r,
  });
  if (spec.unsupported)
    return done({ pass: false, stage: 'data', reason: spec.unsupported, code: 'TEST_DATA' });
  let inputs: TestValue[];
  let outputs: TestValue[];
  let graphIns: ReturnType<typeof onnxInputs> = [];
  try {
    // (inside the try: a graph input of an unsupported element type is a data failure)
    graphIns = onnxInputs(spec.model);
    if (spec.dataDir) {
      inputs = listPb(spec.dataDir, 'input_').map((f, k) =>
        graphIns[k]?.kind === 'sequence'
          ? decodeSequence(readFileSync(f), f)
          : decodeTensor(readFileSync(f), f),
      );
      const seqOuts = sequenceOutputs(spec.model);
      outputs = listPb(spec.dataDir, 'output_').map((f, k) =>
        seqOuts[k] ? decodeSequence(readFileSync(f), f) : decodeTensor(readFileSync(f), f),
      );
    } else {
      inputs = onnxInputs(spec.model).map((i) => lightInput(i.shape));
      outputs = (spec.outputs ?? []).map((f) => decodeTensor(readFileSync(f), f));
    }
  } catch (e) {
    // Sequence / optional values decode as garbage tensors: all data errors but dtypes are TEST_DATA.
    const code = isKilnError(e, OnnxErrorCodes.ONNX_UNSUPPORTED_DTYPE) ? e.code : 'TEST_DATA';
    return done({ pass: false, stage: 'data', code, reason: `test data: ${(e as Error).message}` });
  }
  const names = graphIns.map((i) => i.name);
  // Sequences are tuples: compile for the lengths and element shapes of the test data.
  const sequenceInputs: Record<string, number[][]> = {};
  names.forEach((n, i) => {
    const v = inputs[i];
    if (Array.isArray(v)) sequenceInputs[n] = v.map((t) => [...t.shape]);
  });
  let mod: ReturnType<typeof fromOnnx>;
  let bound: string[] | undefined;
  try {
    try {
      mod = fromOnnx(spec.model, { fileName: `${spec.name}/model.onnx`, sequenceInputs });
    } catch (e) {
      if (!isKilnError(e, OnnxErrorCodes.ONNX_DYNAMIC)) throw e;
      // Kiln needs shapes (and slice bounds, pads, ...) at compile time: freeze the
      // non-float inputs to their test values, then all of them.
      const tensorAt = (i: number) => {
        const v = inputs[i];
        return v && !Array.isArray(v) ? v : undefined;
      };
      const nonFloat = names.filter((_, i) => tensorAt(i) && !tensorAt(i)?.dtype.startsWith('float'));
      const attempt = (which: string[]) => {
        const bind: Record<string, HostTensor> = {};
        for (const n of which) bind[n] = tensorAt(names.indexOf(n)) as HostTensor;
        bound = which;
        return fromOnnx(spec.model, {
          fileName: `${spec.name}/model.onnx`,
          bindInputs: bind,
          sequenceInputs,
        });
      };
      try {
        mod = attempt(nonFloat);
      } catch (e2) {
        if (!isKilnError(e2, OnnxErrorCodes.ONNX_DYNAMIC)) throw e2;
        mod = attempt(names.filter((_, i) => tensorAt(i)));
      }
    }
  } catch (e) {
    return done({
      pass: false,
      stage: 'import',
      code: isKilnError(e) ? e.code : 'CRASH',
      reason: (e as Error).message,
      bound,
    });
  }
  const fn = getFunction(mod, 'main') as unknown as { attrs: { input_names?: readonly string[] } };
  const paramNames = fn.attrs.input_names ?? [];
  let artifact: Uint8Array | ReturnType<typeof compileModule>['artifact'] | undefined;
  let cacheFile: string | undefined;
  if (cache) {
    const h = createHash('sha256').update(cache.codeHash).update(readFileSync(spec.model));
    for (const n of bound ?? [])
      h.update(n).update(JSON.stringify(Array.from((inputs[names.indexOf(n)] as HostTensor).data)));
    h.update(JSON.stringify(sequenceInputs));
    cacheFile = join(cache.dir, `${h.digest('hex').slice(0, 32)}.kiln`);
    if (existsSync(cacheFile)) artifact = readFileSync(cacheFile);
  }
  try {
    if (!artifact) {
      const compiled = compileModule(mod).artifact;
      artifact = compiled;
      if (cacheFile) {
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(tmp, writeArtifact(compiled));
        renameSync(tmp, cacheFile);
      }
    }
  } catch (e) {
    return done({
      pass: false,
      stage: 'compile',
      code: isKilnError(e) ? e.code : 'CRASH',
      reason: (e as Error).message,
      bound,
    });
  }
  let outs: Value[];
  let exe: ReturnType<ReturnType<typeof createRuntime>['load']> | undefined;
  try {
    exe = createRuntime().load(artifact);
    const sanitized = names.map(sanitizeName);
    const args = paramNames.map((p) => {
      const v = inputs[sanitized.indexOf(p)];
      return Array.isArray(v) ? v.map(toTensor) : toTensor(v);
    });
    outs = outputsOf(exe.call('main', ...args), outputs.length);
  } catch (e) {
    return done({
      pass: false,
      stage: 'run',
      code: isKilnError(e) ? e.code : ((e as { code?: string }).code ?? 'CRASH'),
      reason: (e as Error).message,
      bound,
    });
  }
  // The outputs live in the executable's memory pool: compare before disposing it.
  try {
    return compareAll(outs, outputs, done, bound);
  } finally {
    exe.dispose();
  }
}

function compareAll(
  outs: Value[],
  outputs: TestValue[],
  done: (r: Omit<CaseResult, 'name' | 'suite' | 'ms'>) => CaseResult,
  bound: string[] | undefined,
): CaseResult {
  if (outs.length !== outputs.length)
    return done({
      pass: false,
      stage: 'compare',
      code: 'MISMATCH',
      reason: `${outs.length} outputs, expected ${outputs.length}`,
      bound,
    });
  for (let i = 0; i < outputs.length; i++) {
    const err = compareValue(outs[i], outputs[i], i);
    if (err) return done({ pass: false, stage: 'compare', code: 'MISMATCH', reason: err, bound });
  }
  return done({ pass: true, bound });
}

/** Cases of a folder holding one sub-folder per case (`<case>/model.onnx`). */
export function casesIn(dir: string, suite: string): CaseSpec[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((c) => existsSync(join(dir, c, 'model.onnx')))
    .sort()
    .map((c) => {
      const unsup = join(dir, c, 'unsupported.txt');
      return {
        name: c,
        suite,
        model: join(dir, c, 'model.onnx'),
        dataDir: join(dir, c, 'test_data_set_0'),
        unsupported: existsSync(unsup) ? readFileSync(unsup, 'utf8').trim() : undefined,
      };
    });
}
/** The `light` models: `<name>.onnx` + `<name>_output_<i>.pb`. */
export function lightCases(dir: string): CaseSpec[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.onnx'))
    .sort()
    .map((f) => {
      const base = f.slice(0, -5);
      const outs = readdirSync(dir)
        .filter((o) => o.startsWith(`${base}_output_`) && o.endsWith('.pb'))
        .sort()
        .map((o) => join(dir, o));
      return { name: base, suite: 'light', model: join(dir, f), outputs: outs };
    });
}
