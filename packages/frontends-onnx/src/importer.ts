// fromOnnx: ONNX ModelProto → Relax IRModule with one function `main`. Graph inputs
// become parameters (symbolic `dim_param` dims become shape variables, one per distinct
// name), initializers become constants, nodes are converted in order by the converter
// chosen for (op type, model opset). Before converting anything the whole model
// (subgraphs included) is checked, so every unsupported op is reported in one error.
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { IRModule, PrimExpr } from '@kiln/ir-core';
import { DType, ErrorCodes, intImm, isKilnError, KilnError, primVar } from '@kiln/ir-core';
import type { Expr, OpRegistry, Var } from '@kiln/relax';
import {
  BlockBuilder,
  createOpRegistry,
  evaluateRelax,
  isNDArray,
  legalizeModule,
  relaxVar,
  tensorSInfo,
  tuple,
  tupleSInfo,
} from '@kiln/relax';
import type { NodeContext, OnnxValue } from './context.js';
import { exprOf, exprValue, hostValue } from './context.js';
import { OnnxErrorCodes } from './errors.js';
import type { HostTensor } from './host.js';
import { hostTensor } from './host.js';
import { DEFAULT_CONVERTERS, MAX_OPSET } from './ops/index.js';
import type { AttrValue, GraphProto, ModelProto, NodeProto } from './proto.js';
import { attrValue, decodeModel, kilnDType, tensorFromProto, toNum } from './proto.js';
import type { ConverterDef, ConverterTable } from './registry.js';
import { normDomain } from './registry.js';

export interface FromOnnxOptions {
  /** Override input shapes: numbers are static dims, strings symbolic dims (shared by name). */
  shapes?: Readonly<Record<string, readonly (number | string)[]>>;
  /** Override the default-domain opset the model declares. */
  opset?: number;
  /** Folder of external data files (default: the model file's folder). */
  externalDataDir?: string;
  /**
   * Graph inputs fixed to values at compile time (they are then not parameters of
   * `main`). Useful when an input determines a shape, which Kiln needs statically.
   */
  bindInputs?: Readonly<Record<string, HostTensor>>;
  /**
   * The element shapes of sequence-typed graph inputs (numbers static, strings symbolic):
   * a sequence is passed as a tuple, so its length must be known at compile time.
   */
  sequenceInputs?: Readonly<Record<string, readonly (readonly (number | string)[])[]>>;
  /** Name used in messages when `src` is bytes. */
  fileName?: string;
  /** Operator registry for StructInfo inference (default: the built-in operators). */
  ops?: OpRegistry;
  /** Converter table (default: the built-in converters); plugins may extend a copy. */
  converters?: ConverterTable;
  /** Name of the function to build (default `main`). */
  functionName?: string;
}

/** One entry of an ONNX_UNSUPPORTED_OP error's `details.ops`. */
export interface UnsupportedOp {
  readonly op: string;
  readonly domain: string;
  readonly opset: number;
  readonly reason: string;
  readonly nodes: readonly string[];
}

class Scope {
  private readonly values = new Map<string, OnnxValue>();
  constructor(readonly parent?: Scope) {}
  get(name: string): OnnxValue | undefined {
    return this.values.get(name) ?? this.parent?.get(name);
  }
  set(name: string, v: OnnxValue): void {
    this.values.set(name, v);
  }
}

/** A safe Relax variable name for an ONNX value name. */
export function sanitizeName(n: string): string {
  const s = n.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(s) ? s : `v_${s}`;
}

const BAD_OPSET_DOMAINS = new Set(['ai.onnx.ml', 'ai.onnx.training', 'ai.onnx.preview.training']);

class Importer {
  readonly bb: BlockBuilder;
  readonly opsets = new Map<string, number>();
  private readonly symVars = new Map<string, PrimExpr>();
  private nodeCount = 0;

  constructor(
    readonly model: ModelProto,
    readonly file: string,
    readonly opts: FromOnnxOptions,
    readonly baseDir: string | undefined,
    readonly converters: ConverterTable,
  ) {
    this.bb = new BlockBuilder(undefined, { ops: opts.ops ?? createOpRegistry() });
    for (const o of model.opsetImport ?? [])
      this.opsets.set(normDomain(o.domain), toNum(o.version as number));
    if (opts.opset !== undefined) this.opsets.set('', opts.opset);
    if (!this.opsets.has('')) this.opsets.set('', MAX_OPSET);
    const v = this.opsets.get('')!;
    if (v > MAX_OPSET) {
      throw new KilnError(
        OnnxErrorCodes.ONNX_OPSET,
        `${file}: opset ${v} is newer than the newest this importer knows (${MAX_OPSET})`,
        { details: { file, opset: v } },
      );
    }
  }

  opsetOf(domain: string): number | undefined {
    return this.opsets.get(normDomain(domain));
  }

  /** Every unsupported op of `g` and its subgraphs. */
  checkSupported(g: GraphProto, out: Map<string, UnsupportedOp & { nodes: string[] }>): void {
    for (const n of g.node ?? []) {
      const op = n.opType ?? '';
      const domain = normDomain(n.domain);
      const opset = this.opsetOf(domain);
      let reason: string | undefined;
      let conv: ConverterDef | undefined;
      if (opset === undefined) reason = `domain '${domain}' is not imported by the model`;
      else {
        conv = this.converters.lookup(domain, op, opset);
        if (!conv) {
          if (BAD_OPSET_DOMAINS.has(domain)) reason = `domain '${domain}' is not supported`;
          else if (this.converters.has(domain, op)) reason = `no converter for this opset`;
          else if (op === 'Loop' || op === 'Scan') reason = 'loop subgraphs are not supported, only If is';
          else reason = 'no converter';
        } else {
          const missing = (conv.requires ?? []).filter((r) => !this.bb.ops.has(r));
          if (missing.length) reason = `Relax has no ${missing.join(', ')}`;
        }
      }
      if (reason) {
        const key = `${domain}::${op}::${opset}`;
        const e = out.get(key) ?? { op, domain, opset: opset ?? 0, reason, nodes: [] };
        e.nodes.push(n.name || `#${this.nodeCount}`);
        out.set(key, e);
      }
      this.nodeCount++;
      for (const a of n.attribute ?? []) {
        if (a.g) this.checkSupported(a.g, out);
        for (const sg of a.graphs ?? []) this.checkSupported(sg, out);
      }
    }
  }

  private symDim(name: string): PrimExpr {
    let v = this.symVars.get(name);
    if (!v) {
      v = primVar(sanitizeName(name), DType.int64);
      this.symVars.set(name, v);
    }
    return v;
  }

  private inputParam(vi: { name?: string | null; type?: unknown }, index: number): Var {
    const name = vi.name ?? `input${index}`;
    interface TensorTypeProto {
      elemType?: number;
      shape?: { dim?: { dimValue?: unknown; dimParam?: string | null }[] } | null;
    }
    const ty = vi.type as
      | {
          tensorType?: TensorTypeProto | null;
          optionalType?: {
            elemType?: {
              tensorType?: TensorTypeProto | null;
              sequenceType?: { elemType?: { tensorType?: TensorTypeProto | null } | null } | null;
            } | null;
          } | null;
          sequenceType?: { elemType?: { tensorType?: TensorTypeProto | null } | null } | null;
        }
      | undefined;
    // (An optional sequence is taken as present, like an optional tensor below.)
    const seqOf = (ty?.sequenceType ?? ty?.optionalType?.elemType?.sequenceType)?.elemType?.tensorType;
    if (seqOf) {
      // A sequence is a tuple: its length and element shapes must be given.
      const shapes = this.opts.sequenceInputs?.[name];
      if (!shapes)
        throw new KilnError(
          OnnxErrorCodes.ONNX_DYNAMIC,
          `${this.file}: graph input '${name}' is a sequence: its element shapes must be given (sequenceInputs)`,
          { details: { input: name } },
        );
      const edt = kilnDType(seqOf.elemType ?? 0, `graph input '${name}'`);
      return relaxVar(
        sanitizeName(name),
        tupleSInfo(
          shapes.map((s) =>
            tensorSInfo(
              s.map((d) => (typeof d === 'number' ? dimConst(d) : this.symDim(d))),
              edt,
            ),
          ),
        ),
      );
    }
    // An optional tensor input becomes a tensor parameter: Kiln has no "none" value at run
    // time, so the caller always passes the tensor (OptionalHasElement on it is true).
    const tt = ty?.tensorType ?? ty?.optionalType?.elemType?.tensorType;
    if (!tt)
      throw new KilnError(
        OnnxErrorCodes.ONNX_INVALID,
        `${this.file}: graph input '${name}' is not a tensor (sequence, map and optional-sequence inputs are not supported)`,
        { details: { input: name } },
      );
    const dt = kilnDType(tt.elemType ?? 0, `graph input '${name}'`);
    const override = this.opts.shapes?.[name];
    let dimsOut: PrimExpr[] | undefined;
    if (override)
      dimsOut = override.map((d, i) =>
        typeof d === 'number' ? dimConst(d) : d ? this.symDim(d) : this.symDim(`${name}_dim${i}`),
      );
    else if (tt.shape) {
      dimsOut = (tt.shape.dim ?? []).map((d, i) => {
        if (d.dimParam) return this.symDim(d.dimParam);
        // Unset fields live on the protobufjs prototype: only an own dimValue is a real dim.
        if (Object.hasOwn(d, 'dimValue') && toNum(d.dimValue as number) >= 0)
          return dimConst(toNum(d.dimValue as number));
        return this.symDim(`${name}_dim${i}`);
      });
    }
    return relaxVar(sanitizeName(name), dimsOut ? tensorSInfo(dimsOut, dt) : tensorSInfo(undefined, dt));
  }

  build(): IRModule {
    const g = this.model.graph;
    if (!g)
      throw new KilnError(OnnxErrorCodes.ONNX_INVALID, `${this.file}: the model has no graph`, {
        details: { file: this.file },
      });
    const unsupported = new Map<string, UnsupportedOp & { nodes: string[] }>();
    this.checkSupported(g, unsupported);
    if (unsupported.size > 0) {
      const list = [...unsupported.values()].sort((a, b) => a.op.localeCompare(b.op));
      const text = list
        .map(
          (u) =>
            `${u.domain ? `${u.domain}.` : ''}${u.op} (opset ${u.opset}${u.reason === 'no converter' ? '' : `: ${u.reason}`})`,
        )
        .join(', ');
      throw new KilnError(
        OnnxErrorCodes.ONNX_UNSUPPORTED_OP,
        `${this.file}: ${list.length} unsupported operator${list.length > 1 ? 's' : ''}: ${text}`,
        {
          details: { file: this.file, ops: list },
        },
      );
    }
    const scope = new Scope();
    const inits = new Set<string>();
    for (const t of g.initializer ?? []) {
      inits.add(t.name ?? '');
      scope.set(t.name ?? '', hostValue(tensorFromProto(t, this.baseDir)));
    }
    const params: Var[] = [];
    (g.input ?? []).forEach((vi, i) => {
      const name = vi.name ?? '';
      if (inits.has(name)) return; // an input with an initializer is a constant with a default
      const bound = this.opts.bindInputs?.[name];
      if (bound) {
        scope.set(name, hostValue(bound));
        return;
      }
      const p = this.inputParam(vi, i);
      params.push(p);
      scope.set(name, exprValue(p));
    });
    const outputNames = (g.output ?? []).map((o) => o.name ?? '');
    const fname = this.opts.functionName ?? 'main';
    this.bb.function(
      fname,
      params,
      () => {
        this.convertGraph(g, scope);
        const outs = outputNames.map((n) => {
          const v = scope.get(n);
          if (!v)
            throw new KilnError(
              OnnxErrorCodes.ONNX_INVALID,
              `${this.file}: graph output '${n}' is not produced by any node`,
              { details: { output: n } },
            );
          return this.bb.normalize(exprOf(this.rootContext(`graph output '${n}'`), v));
        });
        return outs.length === 1 ? outs[0] : tuple(outs);
      },
      { attrs: { output_names: outputNames, input_names: params.map((p) => p.name) } },
    );
    return this.bb.getModule();
  }

  private rootContext(where: string): NodeContext {
    const fail = (code: string, message: string): never => {
      throw new KilnError(code, `${this.file}: ${where}: ${message}`, { details: { file: this.file } });
    };
    return {
      bb: this.bb,
      where,
      fail,
      unsupported: (m: string) => fail(OnnxErrorCodes.ONNX_UNSUPPORTED_OP, m),
    } as unknown as NodeContext;
  }

  /** Convert in a scratch function and evaluate it with the reference evaluator; undefined if that fails. */
  private tryFold(conv: ConverterDef, makeCtx: (bb: BlockBuilder) => NodeContext): OnnxValue[] | undefined {
    try {
      const fb = new BlockBuilder(undefined, { ops: this.bb.ops });
      let outs: (OnnxValue | undefined)[] = [];
      fb.function('fold', [], () => {
        const r = conv.convert(makeCtx(fb));
        outs = Array.isArray(r) ? [...(r as (OnnxValue | undefined)[])] : [r as OnnxValue | undefined];
        if (outs.every((o) => o === undefined || o.kind !== 'expr')) return tuple([]);
        const ctx = makeCtx(fb);
        return tuple(outs.map((o) => (o ? exprOf(ctx, o) : tuple([]))));
      });
      if (outs.every((o) => o === undefined || o.kind !== 'expr')) return outs as OnnxValue[];
      const legal = legalizeModule(fb.getModule(), this.bb.ops);
      const val = evaluateRelax(legal, 'fold', []);
      const fields = typeof val === 'object' && 'tuple' in val ? val.tuple : [];
      return outs.map((o, i) => {
        if (!o) return undefined;
        if (o.kind !== 'expr') return o;
        const f = fields[i];
        if (!f || !isNDArray(f)) throw new Error('not a tensor');
        return hostValue(fromNDArray(f));
      }) as OnnxValue[];
    } catch {
      return undefined;
    }
  }

  convertGraph(g: GraphProto, scope: Scope): OnnxValue[] {
    for (const n of g.node ?? []) this.convertNode(n, scope);
    return (g.output ?? []).map((o) => {
      const v = scope.get(o.name ?? '');
      if (!v)
        throw new KilnError(
          OnnxErrorCodes.ONNX_INVALID,
          `${this.file}: subgraph output '${o.name}' is not produced`,
          { details: { output: o.name } },
        );
      return v;
    });
  }

  private convertNode(n: NodeProto, scope: Scope): void {
    const op = n.opType ?? '';
    const domain = normDomain(n.domain);
    const opset = this.opsetOf(domain)!;
    const conv = this.converters.lookup(domain, op, opset)!;
    const where = `${op} '${n.name || (n.output ?? [])[0] || '?'}'`;
    const inputs = (n.input ?? []).map((name) => {
      if (!name) return undefined;
      const v = scope.get(name);
      if (!v) {
        throw new KilnError(
          OnnxErrorCodes.ONNX_INVALID,
          `${this.file}: ${where}: input '${name}' is not a graph input, an initializer or the output of an earlier node`,
          {
            details: { node: n.name ?? '', op, input: name },
          },
        );
      }
      return v;
    });
    const attrs = new Map<string, AttrValue | undefined>();
    for (const a of n.attribute ?? []) attrs.set(a.name ?? '', attrValue(a, this.baseDir));
    const fail = (code: string, message: string): never => {
      throw new KilnError(code, `${this.file}: ${where} (opset ${opset}): ${message}`, {
        details: { node: n.name ?? '', op, opset, file: this.file },
      });
    };
    const num = (name: string): number | undefined => {
      const v = attrs.get(name);
      if (v === undefined) return undefined;
      if (typeof v !== 'number') fail(OnnxErrorCodes.ONNX_INVALID, `attribute '${name}' must be a number`);
      return v as number;
    };
    const list = <T>(name: string, check: (x: unknown) => boolean): T[] | undefined => {
      const v = attrs.get(name);
      if (v === undefined) return undefined;
      if (!Array.isArray(v) || !v.every(check))
        fail(OnnxErrorCodes.ONNX_INVALID, `attribute '${name}' has the wrong type`);
      return v as T[];
    };
    const makeCtx = (bb: BlockBuilder): NodeContext => ({
      node: n,
      opType: op,
      opset,
      bb,
      where,
      numInputs: inputs.length,
      numOutputs: (n.output ?? []).length,
      input: (i) => inputs[i],
      req: (i) => {
        const v = inputs[i];
        if (!v) return fail(OnnxErrorCodes.ONNX_INVALID, `input ${i} is required`);
        return v;
      },
      hasAttr: (name) => attrs.has(name),
      attr: (name) => attrs.get(name),
      int: (name, def) => num(name) ?? def,
      float: (name, def) => num(name) ?? def,
      str: (name, def) => {
        const v = attrs.get(name);
        if (v === undefined) return def;
        if (typeof v !== 'string') fail(OnnxErrorCodes.ONNX_INVALID, `attribute '${name}' must be a string`);
        return v as string;
      },
      ints: (name) => list<number>(name, (x) => typeof x === 'number'),
      floats: (name) => list<number>(name, (x) => typeof x === 'number'),
      strs: (name) => list<string>(name, (x) => typeof x === 'string'),
      tensorAttr: (name) => {
        const v = attrs.get(name);
        if (v === undefined) return undefined;
        if (typeof v !== 'object' || Array.isArray(v) || !('data' in v))
          fail(OnnxErrorCodes.ONNX_INVALID, `attribute '${name}' must be a tensor`);
        return v as HostTensor;
      },
      graph: (name) => {
        const v = attrs.get(name);
        if (v === undefined) return undefined;
        if (typeof v !== 'object' || Array.isArray(v) || !('node' in v || 'output' in v))
          fail(OnnxErrorCodes.ONNX_INVALID, `attribute '${name}' must be a graph`);
        return v as GraphProto;
      },
      wantsOutput: (i) => !!(n.output ?? [])[i],
      subgraph: (sg, bind) => {
        const inner = new Scope(scope);
        for (const t of sg.initializer ?? [])
          inner.set(t.name ?? '', hostValue(tensorFromProto(t, this.baseDir)));
        (bind ?? []).forEach((v, i) => inner.set(sg.input?.[i]?.name ?? '', v));
        return this.convertGraph(sg, inner);
      },
      fail,
      unsupported: (m) => fail(OnnxErrorCodes.ONNX_UNSUPPORTED_OP, m),
    });
    let res: ReturnType<ConverterDef['convert']> | undefined;
    // A node whose inputs are all known at import time is evaluated here (shape
    // computations of expanded ONNX functions), so that what depends on it stays static.
    if (
      !NO_FOLD.has(op) &&
      inputs.every((v) => v === undefined || (v.kind === 'host' && v.t.data.length <= FOLD_LIMIT)) &&
      inputs.some((v) => v)
    ) {
      res = this.tryFold(conv, makeCtx);
    }
    try {
      res ??= conv.convert(makeCtx(this.bb));
    } catch (e) {
      if (isKilnError(e) && (e.details?.node !== undefined || e.message.startsWith(this.file))) throw e;
      const code = isKilnError(e) ? e.code : ErrorCodes.INTERNAL;
      throw new KilnError(code, `${this.file}: ${where} (opset ${opset}): ${(e as Error).message}`, {
        cause: e,
        details: { node: n.name ?? '', op, opset, file: this.file },
      });
    }
    const outs: readonly (OnnxValue | undefined)[] = Array.isArray(res)
      ? (res as readonly (OnnxValue | undefined)[])
      : [res as OnnxValue | undefined];
    (n.output ?? []).forEach((name, i) => {
      if (!name) return;
      const v = outs[i];
      if (!v) {
        // Optional outputs a converter does not produce are an error only when used; defer it.
        scope.set(name, { kind: 'expr', expr: missingOutput(this.file, where, i) });
        return;
      }
      scope.set(name, v);
    });
  }
}

const FOLD_LIMIT = 4096;
/** Ops never evaluated at import time (random, control flow). */
const NO_FOLD = new Set([
  'If',
  'Loop',
  'Scan',
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
  'RandomUniformLike',
  'Bernoulli',
  'Multinomial',
  'Dropout',
]);

/** A placeholder that fails when a converter's unproduced optional output is used. */
function missingOutput(file: string, where: string, i: number): Expr {
  return new Proxy({} as Expr, {
    get(_t, p) {
      if (p === 'then') return undefined;
      throw new KilnError(
        OnnxErrorCodes.ONNX_UNSUPPORTED_OP,
        `${file}: ${where}: output ${i} is not supported`,
        { details: { output: i } },
      );
    },
  });
}

function fromNDArray(a: NDArrayLike): HostTensor {
  // NDArrays hold 16-bit floats as their values (in a Float32Array), not as bit patterns.
  return hostTensor(a.dtype.str, a.shape, Array.from(a.data as ArrayLike<number | bigint>, Number));
}
type NDArrayLike = {
  readonly dtype: { readonly str: string };
  readonly shape: readonly number[];
  readonly data: ArrayLike<number | bigint>;
};

function dimConst(d: number): PrimExpr {
  return intImm(d, DType.int64);
}

/**
 * Import an ONNX model (file path or bytes) as a Relax IRModule with a function `main`
 * (attrs: `output_names`, `input_names`).
 */
export function fromOnnx(src: Uint8Array | string, opts: FromOnnxOptions = {}): IRModule {
  let bytes: Uint8Array;
  let file: string;
  let baseDir = opts.externalDataDir;
  if (typeof src === 'string') {
    file = opts.fileName ?? basename(src);
    try {
      bytes = readFileSync(src);
    } catch (e) {
      throw new KilnError(
        OnnxErrorCodes.ONNX_PARSE,
        `${src}: cannot read the model file (${(e as Error).message})`,
        { cause: e, details: { file: src } },
      );
    }
    baseDir ??= dirname(src);
  } else {
    bytes = src;
    file = opts.fileName ?? '<bytes>';
  }
  const model = decodeModel(bytes, file);
  if (!model.graph)
    throw new KilnError(OnnxErrorCodes.ONNX_PARSE, `${file}: not an ONNX model (no graph)`, {
      details: { file },
    });
  return new Importer(model, file, opts, baseDir, opts.converters ?? DEFAULT_CONVERTERS).build();
}

/** tensor, sequence (also an optional sequence, taken as present), optional (of a tensor) or other. */
function valueKind(type: unknown): string {
  const ty = type as
    | {
        tensorType?: unknown;
        sequenceType?: unknown;
        optionalType?: { elemType?: { sequenceType?: unknown } };
      }
    | null
    | undefined;
  if (ty?.tensorType) return 'tensor';
  if (ty?.sequenceType || ty?.optionalType?.elemType?.sequenceType) return 'sequence';
  return ty?.optionalType ? 'optional' : 'other';
}

/** The graph outputs of a model: name and kind of value (see valueKind). */
export function onnxOutputs(src: Uint8Array | string): { name: string; kind: string }[] {
  const bytes = typeof src === 'string' ? readFileSync(src) : src;
  const model = decodeModel(bytes, typeof src === 'string' ? basename(src) : '<bytes>');
  return (model.graph?.output ?? []).map((o) => ({ name: o.name ?? '', kind: valueKind(o.type) }));
}

/** The graph inputs of a model that are not initializers (name, dtype, dims as written). */
export function onnxInputs(
  src: Uint8Array | string,
): { name: string; kind: string; dtype: string; shape: (number | string)[] }[] {
  const bytes = typeof src === 'string' ? readFileSync(src) : src;
  const model = decodeModel(bytes, typeof src === 'string' ? basename(src) : '<bytes>');
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  return (model.graph?.input ?? [])
    .filter((i) => !inits.has(i.name))
    .map((i) => {
      const tt = i.type?.tensorType;
      return {
        name: i.name ?? '',
        kind: valueKind(i.type),
        dtype: tt ? kilnDType(tt.elemType ?? 0, `graph input '${i.name}'`) : 'unknown',
        shape: (tt?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : toNum(d.dimValue as number))),
      };
    });
}
