// The node-kind table. Each IR declares, once, the fields of each of its node kinds and
// what they hold; generic traversal, structural equality/hash and rewriting are driven
// by it, so adding a node kind is one table entry plus its factory.
import type { Span } from './errors.js';
import { ErrorCodes, KilnError } from './errors.js';

/** Every IR node: an immutable object discriminated by a globally unique `kind`. */
export interface Node {
  readonly kind: string;
  readonly span?: Span;
}

/**
 * What a field holds:
 * - `node` / `node?` / `node[]`: child nodes (traversed, compared structurally).
 * - `binder` / `binder[]`: variables defined here (compared up to renaming; uses that
 *   follow in later fields and below must map consistently).
 * - `value`: plain data (numbers, strings, booleans, DataType, arrays/records of those,
 *   typed arrays), compared by value.
 * - `ignore`: not part of structural identity (names of variables, hints).
 */
export type FieldType = 'node' | 'node?' | 'node[]' | 'binder' | 'binder[]' | 'value' | 'ignore';

export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
}

export interface NodeKindInfo {
  readonly kind: string;
  /** Which IR declares it (`prim`, `tir`, `relax`, ...), for messages. */
  readonly ir: string;
  readonly fields: readonly FieldSpec[];
  /**
   * A variable node: compared by binding (alpha-equivalence) rather than by fields.
   * Its `value` fields (e.g. dtype) must still agree when two vars are matched.
   */
  readonly isVar?: boolean;
}

const table = new Map<string, NodeKindInfo>();

/**
 * Declare node kinds. `fields` maps each field name to what it holds, in traversal order
 * (a binder field scopes the fields after it).
 */
export function defineNodeKinds(
  ir: string,
  kinds: Record<string, { fields: Record<string, FieldType>; isVar?: boolean }>,
): void {
  for (const [kind, spec] of Object.entries(kinds)) {
    if (table.has(kind)) {
      const prev = table.get(kind)!;
      throw new KilnError(
        ErrorCodes.DUPLICATE_NAME,
        `node kind '${kind}' of IR '${ir}' already declared by '${prev.ir}'`,
      );
    }
    table.set(
      kind,
      Object.freeze({
        kind,
        ir,
        isVar: spec.isVar ?? false,
        fields: Object.freeze(
          Object.entries(spec.fields).map(([name, type]) => Object.freeze({ name, type })),
        ),
      }),
    );
  }
}

export function nodeKindInfo(kind: string): NodeKindInfo {
  const info = table.get(kind);
  if (!info) throw new KilnError(ErrorCodes.INTERNAL, `internal error: unknown node kind '${kind}'`);
  return info;
}

export function hasNodeKind(kind: string): boolean {
  return table.has(kind);
}

export function listNodeKinds(ir?: string): string[] {
  return [...table.values()].filter((k) => ir === undefined || k.ir === ir).map((k) => k.kind);
}

export function isNode(x: unknown): x is Node {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as { kind?: unknown }).kind === 'string' &&
    table.has((x as Node).kind)
  );
}

/** The child nodes of `n` (binders included), in field order. */
export function childrenOf(n: Node): Node[] {
  const out: Node[] = [];
  const rec = n as unknown as Record<string, unknown>;
  for (const f of nodeKindInfo(n.kind).fields) {
    const v = rec[f.name];
    switch (f.type) {
      case 'node':
      case 'binder':
        out.push(v as Node);
        break;
      case 'node?':
        if (v !== undefined && v !== null) out.push(v as Node);
        break;
      case 'node[]':
      case 'binder[]':
        for (const c of v as readonly Node[]) out.push(c);
        break;
      default:
        break;
    }
  }
  return out;
}

/**
 * Rebuild `n` with each child node replaced by `fn(child)`. Returns `n` itself when no
 * child changed, so "did anything change?" is an identity check. Binder fields are
 * passed through `fn` too (a renaming pass may replace them).
 */
export function mapChildren<T extends Node>(n: T, fn: (child: Node, field: FieldSpec) => Node): T {
  const rec = n as unknown as Record<string, unknown>;
  let changed: Record<string, unknown> | undefined;
  for (const f of nodeKindInfo(n.kind).fields) {
    const v = rec[f.name];
    let nv: unknown = v;
    switch (f.type) {
      case 'node':
      case 'binder':
        nv = fn(v as Node, f);
        break;
      case 'node?':
        if (v !== undefined && v !== null) nv = fn(v as Node, f);
        break;
      case 'node[]':
      case 'binder[]': {
        const arr = v as readonly Node[];
        let out: Node[] | undefined;
        for (let i = 0; i < arr.length; i++) {
          const c = fn(arr[i], f);
          if (c !== arr[i] && !out) out = arr.slice(0, i);
          if (out) out.push(c);
        }
        if (out) nv = Object.freeze(out);
        break;
      }
      default:
        break;
    }
    if (nv !== v) {
      changed ??= {};
      changed[f.name] = nv;
    }
  }
  if (!changed) return n;
  return Object.freeze({ ...rec, ...changed }) as unknown as T;
}

/** Freeze a freshly built node (factories call this). */
export function freezeNode<T extends Node>(n: T): T {
  return Object.freeze(n);
}
