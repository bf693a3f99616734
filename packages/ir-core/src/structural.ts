// Structural equality and hashing over any registered node kinds, up to renaming of
// bound variables (alpha-equivalence). Source spans and variable names never count.
import type { DataType } from './dtype.js';
import type { FieldSpec, Node } from './node.js';
import { isNode, nodeKindInfo } from './node.js';

export interface StructuralOptions {
  /**
   * Treat free variables (uses with no binder in scope) as renamable too, matching them
   * on first sight. Off by default: free variables must then be the same object.
   */
  mapFreeVars?: boolean;
}

function isDataType(v: unknown): v is DataType {
  return (
    typeof v === 'object' && v !== null && typeof (v as DataType).str === 'string' && 'lanes' in (v as object)
  );
}

function valueEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (isDataType(a) || isDataType(b)) return isDataType(a) && isDataType(b) && a.str === b.str;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) return false;
    if (a.constructor !== b.constructor || a.byteLength !== b.byteLength) return false;
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => valueEqual(x, b[i]));
  }
  const ka = Object.keys(a)
    .filter((k) => (a as Record<string, unknown>)[k] !== undefined)
    .sort();
  const kb = Object.keys(b)
    .filter((k) => (b as Record<string, unknown>)[k] !== undefined)
    .sort();
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
  return ka.every((k) => valueEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

class EqualChecker {
  private readonly lr = new Map<Node, Node>();
  private readonly rl = new Map<Node, Node>();
  constructor(private readonly mapFree: boolean) {}

  private bind(a: Node, b: Node): boolean {
    if (a.kind !== b.kind) return false;
    const prevL = this.lr.get(a);
    const prevR = this.rl.get(b);
    if (prevL !== undefined || prevR !== undefined) return prevL === b && prevR === a;
    // A binding only holds if the variables' own fields agree (dtype, buffer shape, ...).
    this.lr.set(a, b);
    this.rl.set(b, a);
    if (!this.fields(a, b)) {
      this.lr.delete(a);
      this.rl.delete(b);
      return false;
    }
    return true;
  }

  node(a: Node, b: Node): boolean {
    if (a.kind !== b.kind) return false;
    const info = nodeKindInfo(a.kind);
    if (info.isVar) {
      const m = this.lr.get(a);
      if (m !== undefined) return m === b;
      if (this.rl.has(b)) return false;
      // With free-variable mapping, a variable met on both sides maps to itself, so it
      // cannot later be matched to another variable too.
      if (a === b) return this.mapFree ? this.bind(a, b) : true;
      return this.mapFree ? this.bind(a, b) : false;
    }
    // A shared subtree with no variables bound inside it so far is equal to itself.
    if (a === b && !this.mapFree && this.lr.size === 0) return true;
    return this.fields(a, b);
  }

  private fields(a: Node, b: Node): boolean {
    const ra = a as unknown as Record<string, unknown>;
    const rb = b as unknown as Record<string, unknown>;
    for (const f of nodeKindInfo(a.kind).fields) {
      if (!this.field(f, ra[f.name], rb[f.name])) return false;
    }
    return true;
  }

  private field(f: FieldSpec, x: unknown, y: unknown): boolean {
    switch (f.type) {
      case 'ignore':
        return true;
      case 'value':
        return valueEqual(x, y);
      case 'node':
        return this.node(x as Node, y as Node);
      case 'node?':
        if (x === undefined || x === null || y === undefined || y === null)
          return (x ?? null) === (y ?? null);
        return this.node(x as Node, y as Node);
      case 'node[]': {
        const xs = x as readonly Node[];
        const ys = y as readonly Node[];
        return xs.length === ys.length && xs.every((c, i) => this.node(c, ys[i]));
      }
      case 'binder':
        return this.binder(x as Node, y as Node);
      case 'binder[]': {
        const xs = x as readonly Node[];
        const ys = y as readonly Node[];
        return xs.length === ys.length && xs.every((c, i) => this.binder(c, ys[i]));
      }
    }
  }

  private binder(a: Node, b: Node): boolean {
    if (!nodeKindInfo(a.kind).isVar) return this.node(a, b);
    return this.bind(a, b);
  }
}

/** Are `a` and `b` the same IR up to renaming of bound variables? */
export function structuralEqual(a: unknown, b: unknown, options: StructuralOptions = {}): boolean {
  const chk = new EqualChecker(options.mapFreeVars ?? false);
  if (isNode(a) && isNode(b)) return chk.node(a, b);
  return valueEqual(a, b);
}

// ---------------------------------------------------------------- hashing

const M = 0x9e3779b1;
function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, M);
  return (h ^ (h >>> 15)) >>> 0;
}
function hashString(h: number, s: string): number {
  h = mix(h, s.length);
  for (let i = 0; i < s.length; i++) h = mix(h, s.charCodeAt(i));
  return h;
}
function hashNumber(h: number, n: number): number {
  if (Number.isInteger(n) && Math.abs(n) < 2 ** 31) return mix(h, n | 0);
  return hashString(h, String(n));
}
function hashValue(h: number, v: unknown): number {
  if (v === undefined || v === null) return mix(h, 7);
  if (typeof v === 'number') return hashNumber(mix(h, 1), v);
  if (typeof v === 'string') return hashString(mix(h, 2), v);
  if (typeof v === 'boolean') return mix(h, v ? 3 : 4);
  if (isDataType(v)) return hashString(mix(h, 5), v.str);
  if (ArrayBuffer.isView(v)) {
    const x = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    h = mix(h, x.length);
    for (let i = 0; i < x.length; i++) h = mix(h, x[i]);
    return h;
  }
  if (Array.isArray(v)) {
    h = mix(h, v.length);
    for (const x of v) h = hashValue(h, x);
    return h;
  }
  if (typeof v === 'object') {
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x === undefined) continue;
      h = hashValue(hashString(h, k), x);
    }
    return h;
  }
  return mix(h, 9);
}

class Hasher {
  private readonly ids = new Map<Node, number>();
  private static readonly identity = new WeakMap<Node, number>();
  private static next = 1;
  constructor(private readonly mapFree: boolean) {}

  private define(v: Node): number {
    const id = this.ids.size + 1;
    this.ids.set(v, id);
    return id;
  }

  node(h: number, n: Node): number {
    const info = nodeKindInfo(n.kind);
    h = hashString(h, n.kind);
    if (info.isVar) {
      const id = this.ids.get(n);
      if (id !== undefined) return mix(h, id);
      if (this.mapFree) {
        const nid = this.define(n);
        return this.fields(mix(h, nid), n);
      }
      let gid = Hasher.identity.get(n);
      if (gid === undefined) {
        gid = Hasher.next++;
        Hasher.identity.set(n, gid);
      }
      return mix(mix(h, 0x51ed), gid);
    }
    return this.fields(h, n);
  }

  private fields(h: number, n: Node): number {
    const r = n as unknown as Record<string, unknown>;
    for (const f of nodeKindInfo(n.kind).fields) {
      const v = r[f.name];
      switch (f.type) {
        case 'ignore':
          break;
        case 'value':
          h = hashValue(h, v);
          break;
        case 'node':
          h = this.node(h, v as Node);
          break;
        case 'node?':
          h = v === undefined || v === null ? mix(h, 11) : this.node(h, v as Node);
          break;
        case 'node[]':
          h = mix(h, (v as Node[]).length);
          for (const c of v as Node[]) h = this.node(h, c);
          break;
        case 'binder':
          h = this.binder(h, v as Node);
          break;
        case 'binder[]':
          h = mix(h, (v as Node[]).length);
          for (const c of v as Node[]) h = this.binder(h, c);
          break;
      }
    }
    return h;
  }

  private binder(h: number, v: Node): number {
    if (!nodeKindInfo(v.kind).isVar) return this.node(h, v);
    const known = this.ids.get(v);
    if (known !== undefined) return mix(hashString(h, v.kind), known);
    const id = this.define(v);
    return this.fields(mix(hashString(h, v.kind), id), v);
  }
}

/** A hash consistent with `structuralEqual` under the same options. */
export function structuralHash(n: unknown, options: StructuralOptions = {}): number {
  if (isNode(n)) return new Hasher(options.mapFreeVars ?? false).node(0x811c9dc5, n);
  return hashValue(0x811c9dc5, n);
}
