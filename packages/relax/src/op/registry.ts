// The operator registry: operators are not node kinds but entries here (name, zod attrs
// schema, StructInfo inference, fusion pattern, legalization to TIR), so a plugin adds an
// operator without touching the IR. A registry belongs to a compiler instance:
// `createOpRegistry()` returns a fresh one preloaded with the built-in operators.
import type { DataType, IRModule, PrimExpr } from '@kiln/ir-core';
import { ErrorCodes, KilnError } from '@kiln/ir-core';
import type { z } from 'zod';
import type { BlockBuilder } from '../block-builder.js';
import type { Call, Expr, StructInfo, TensorStructInfo } from '../ir/nodes.js';
import { shapeToString, sinfoToString, tensorShape } from '../ir/struct-info.js';

/** How an operator fuses (TVM's OpPatternKind), consumed by FuseOps. */
export type OpPattern =
  | 'elemwise'
  | 'broadcast'
  | 'injective'
  | 'comm_reduce'
  | 'out_elemwise_fusable'
  | 'opaque';

/** A tensor argument's StructInfo, unpacked. */
export interface TensorArg {
  readonly sinfo: TensorStructInfo;
  /** Symbolic dims when known. */
  readonly shape?: readonly PrimExpr[];
  readonly dtype?: DataType;
  /** Rank, -1 when unknown. */
  readonly ndim: number;
}

export interface OpContext<A> {
  readonly op: string;
  readonly call: Call;
  /** The attributes, validated and with defaults filled in by the op's schema. */
  readonly attrs: A;
  /** The module calls may refer to (for GlobalVar callees), when known. */
  readonly module?: IRModule;
  /** The StructInfo of argument `i` (INVALID_ARGUMENT naming the op if missing). */
  arg(i: number): StructInfo;
  /** Argument `i` as a tensor (INVALID_ARGUMENT naming the op if it is not one). */
  tensor(i: number): TensorArg;
  /** Throw a KilnError naming the op. */
  fail(code: string, message: string): never;
}

export interface OpDef<A = Record<string, never>> {
  /** Namespaced name: `relax.add`, `relax.nn.conv2d`, `myplugin.fancy`. */
  readonly name: string;
  /** zod schema of the attributes; its output is what inference and legalization see. */
  readonly attrs?: z.ZodType<A>;
  /** Number of arguments (a number, a [min, max] range, or 'variadic'). */
  readonly numArgs: number | readonly [number, number] | 'variadic';
  readonly pattern: OpPattern;
  /** Pure ops may be removed when unused and reordered (default true). */
  readonly pure?: boolean;
  readonly description?: string;
  inferStructInfo(call: Call, ctx: OpContext<A>): StructInfo;
  /** Replace the call by TIR (via `bb.addFunc` + `call_tir`) or by simpler Relax ops. */
  legalize?(call: Call, bb: BlockBuilder, ctx: OpContext<A>): Expr;
}

/** Any op definition, as stored in a registry (attrs type erased). */
export type AnyOpDef = OpDef<unknown>;

/** Declare an operator. Identity at runtime; it fixes the attrs type for the callbacks. */
export function defineOp<A = Record<string, never>>(def: OpDef<A>): OpDef<A> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(def.name)) {
    throw new KilnError(
      ErrorCodes.INVALID_ARGUMENT,
      `operator name '${def.name}' must be namespaced, like 'relax.add'`,
    );
  }
  return Object.freeze({ ...def });
}

export class OpRegistry {
  private readonly ops = new Map<string, AnyOpDef>();

  /** Add an operator; a second operator of the same name is DUPLICATE_NAME unless `override`. */
  register<A>(def: OpDef<A>, opts: { override?: boolean } = {}): this {
    if (this.ops.has(def.name) && !opts.override) {
      throw new KilnError(ErrorCodes.DUPLICATE_NAME, `operator '${def.name}' is already registered`);
    }
    this.ops.set(def.name, def as AnyOpDef);
    return this;
  }
  has(name: string): boolean {
    return this.ops.has(name);
  }
  /** The definition of `name`, or UNKNOWN_NAME. */
  get(name: string): AnyOpDef {
    const d = this.ops.get(name);
    if (!d)
      throw new KilnError(ErrorCodes.UNKNOWN_NAME, `unknown operator '${name}'`, { details: { op: name } });
    return d;
  }
  tryGet(name: string): AnyOpDef | undefined {
    return this.ops.get(name);
  }
  /** Registered operator names, sorted. */
  listOps(): string[] {
    return [...this.ops.keys()].sort();
  }
  /** A copy that can be extended without affecting this registry. */
  clone(): OpRegistry {
    const r = new OpRegistry();
    for (const d of this.ops.values()) r.register(d);
    return r;
  }
}

/** Validate `call.attrs` against the op's schema (INVALID_ARGUMENT naming the op and field). */
export function parseAttrs<A>(def: OpDef<A>, call: Call): A {
  if (!def.attrs) return {} as A;
  const r = def.attrs.safeParse(call.attrs);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue?.path.join('.') || '(attrs)';
  throw new KilnError(
    ErrorCodes.INVALID_ARGUMENT,
    `${def.name}: invalid attribute '${field}': ${issue?.message ?? 'invalid'}`,
    {
      details: { op: def.name, field },
    },
  );
}

function checkArity(def: AnyOpDef, call: Call): void {
  const n = call.args.length;
  const spec = def.numArgs;
  if (spec === 'variadic') return;
  const [lo, hi] = typeof spec === 'number' ? [spec, spec] : spec;
  if (n < lo || n > hi) {
    const want = lo === hi ? `${lo}` : `${lo} to ${hi}`;
    throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `${def.name} takes ${want} argument(s), got ${n}`, {
      details: { op: def.name },
    });
  }
}

/** The context handed to an op's callbacks for `call`. */
export function makeOpContext<A>(def: OpDef<A>, call: Call, module?: IRModule): OpContext<A> {
  checkArity(def as AnyOpDef, call);
  const attrs = parseAttrs(def, call);
  const name = def.name;
  const arg = (i: number): StructInfo => {
    const a = call.args[i];
    if (a === undefined)
      throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `${name}: missing argument ${i}`, {
        details: { op: name },
      });
    if (!a.structInfo) {
      throw new KilnError(
        ErrorCodes.INVALID_ARGUMENT,
        `${name}: argument ${i} has no StructInfo (not normalized)`,
        { details: { op: name } },
      );
    }
    return a.structInfo;
  };
  return {
    op: name,
    call,
    attrs,
    module,
    arg,
    tensor(i: number): TensorArg {
      const s = arg(i);
      if (s.kind !== 'relax.TensorStructInfo') {
        throw new KilnError(
          ErrorCodes.INVALID_ARGUMENT,
          `${name}: argument ${i} must be a tensor, got ${sinfoToString(s)}`,
          {
            details: { op: name, arg: i },
          },
        );
      }
      return { sinfo: s, shape: tensorShape(s), dtype: s.dtype, ndim: s.ndim };
    },
    fail(code: string, message: string): never {
      throw new KilnError(code, `${name}: ${message}`, { details: { op: name } });
    },
  };
}

/** Run an op's StructInfo inference for a call whose arguments are normalized. */
export function inferCallStructInfo(registry: OpRegistry, call: Call, module?: IRModule): StructInfo {
  if (call.op.kind !== 'relax.Op')
    throw new KilnError(ErrorCodes.INTERNAL, 'internal error: inferCallStructInfo on a non-op call');
  const def = registry.get(call.op.name);
  try {
    return def.inferStructInfo(call, makeOpContext(def, call, module));
  } catch (e) {
    // Point the error at the offending call when it has a source location.
    if (e instanceof KilnError && !e.span && call.span) {
      throw new KilnError(e.code, e.message, {
        span: call.span,
        notes: e.notes,
        details: e.details,
        cause: e,
      });
    }
    throw e;
  }
}

/** Text of a tensor argument's shape for messages. */
export function argShapeText(t: TensorArg): string {
  return t.shape ? shapeToString(t.shape) : t.ndim >= 0 ? `(ndim=${t.ndim})` : '(?)';
}
