// Name allocation for printing: every var-like object (PrimExpr Var, Buffer, Relax var)
// gets one printed name, distinct objects get distinct names (`x`, `x_1`, ...), and
// names that the lexer would not read back as an identifier are sanitized.
import { isPlainIdent } from './lexer.js';

/**
 * Words no printed name may take: the literal words of the lexer and the function-form
 * names of PrimExpr text (so `min(a, b)` never reads as a call of a variable).
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'inf',
  'nan',
  'True',
  'False',
  'true',
  'false',
  'null',
  'let',
  'in',
  'select',
  'cast',
  'call',
  'ramp',
  'broadcast',
  'min',
  'max',
  'floordiv',
  'floormod',
  'truncdiv',
  'truncmod',
  'imm',
]);

/** Turn any string into a plain identifier (`a.b` -> `a_b`, `0x` -> `_0x`, `` -> `v`). */
export function sanitizeName(name: string, fallback = 'v'): string {
  let s = name.replace(/[^A-Za-z0-9_]/g, '_');
  if (s === '') s = fallback;
  if (!/^[A-Za-z_]/.test(s)) s = `_${s}`;
  if (!isPlainIdent(s)) s = `${s}_`;
  return s;
}

export class NameAllocator {
  private readonly byObject = new Map<object, string>();
  private readonly used = new Set<string>();
  private readonly nextSuffix = new Map<string, number>();
  private readonly reserved: ReadonlySet<string>;

  constructor(reserved: Iterable<string> = []) {
    this.reserved = new Set([...RESERVED_NAMES, ...reserved]);
  }

  /** The name of `obj`, allocating one from `hint` on first sight. */
  name(obj: object, hint: string): string {
    const known = this.byObject.get(obj);
    if (known !== undefined) return known;
    let base = sanitizeName(hint);
    if (this.reserved.has(base)) base = `${base}_`;
    let cand = base;
    // Resume numbering where this base left off: thousands of `i`s stay linear.
    let k = this.nextSuffix.get(base) ?? 1;
    while (this.used.has(cand) || this.reserved.has(cand)) cand = `${base}_${k++}`;
    this.nextSuffix.set(base, k);
    this.used.add(cand);
    this.byObject.set(obj, cand);
    return cand;
  }

  /**
   * Give `obj` exactly `text` (no sanitizing or deduplication), e.g. a dotted path such
   * as `A.data` that the IR's parser defines itself. Ignored if `obj` is already named.
   */
  alias(obj: object, text: string): string {
    const known = this.byObject.get(obj);
    if (known !== undefined) return known;
    this.used.add(text);
    this.byObject.set(obj, text);
    return text;
  }

  /** The name already given to `obj`, if any. */
  lookup(obj: object): string | undefined {
    return this.byObject.get(obj);
  }

  /** Every named object with its name, in allocation order. */
  entries(): Array<[object, string]> {
    return [...this.byObject.entries()];
  }

  has(obj: object): boolean {
    return this.byObject.has(obj);
  }

  /** Claim a name for no object (e.g. a global or keyword used in this text). */
  claim(name: string): void {
    this.used.add(name);
  }

  isUsed(name: string): boolean {
    return this.used.has(name) || this.reserved.has(name);
  }
}
