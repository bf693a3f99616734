// Pipeline text: `relax.LegalizeOps,relax.FuseOps(maxDepth=8),seq(tir.A,tir.B)`.
// Option values: numbers, true/false, "strings", bare identifiers (strings),
// `[v,...]` lists and `{key=v,...}` records.
// Parsing looks pass names up in a registry and binds the options through
// `withOptions`, so they are validated exactly as in code. `pipeline.toString()`
// prints the same form back.
import { ErrorCodes, KilnError } from '../errors.js';
import type { Pass } from './pass.js';
import { sequential } from './pass.js';

/** What the parser needs from a registry. */
export interface PassLookup {
  /** The pass named `name`; throws KilnError UNKNOWN_PASS when there is none. */
  getPass(name: string): Pass;
}

type Value = string | number | boolean | Value[] | { [k: string]: Value };

class Parser {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly lookup: PassLookup,
  ) {}

  private fail(what: string): never {
    throw new KilnError(ErrorCodes.PARSE_ERROR, `pipeline text, column ${this.pos + 1}: ${what}`, {
      span: { source: '<pipeline>', line: 1, column: this.pos + 1 },
      notes: [this.text, `${' '.repeat(this.pos)}^`],
    });
  }

  private ws(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  private peek(): string {
    this.ws();
    return this.text[this.pos] ?? '';
  }

  private expect(ch: string): void {
    if (this.peek() !== ch)
      this.fail(
        `expected '${ch}', found ${this.pos < this.text.length ? `'${this.text[this.pos]}'` : 'end of text'}`,
      );
    this.pos++;
  }

  private word(re: RegExp, what: string): string {
    this.ws();
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (!m || m.index !== this.pos) this.fail(`expected ${what}`);
    this.pos += m[0].length;
    return m[0];
  }

  parseAll(): Pass[] {
    const passes = this.list();
    this.ws();
    if (this.pos < this.text.length) this.fail(`unexpected '${this.text[this.pos]}'`);
    return passes;
  }

  /** Comma-separated items, stopping before `)` or end of text. */
  private list(): Pass[] {
    const out: Pass[] = [];
    const c = this.peek();
    if (c === '' || c === ')') return out;
    out.push(this.item());
    while (this.peek() === ',') {
      this.pos++;
      out.push(this.item());
    }
    return out;
  }

  private item(): Pass {
    const start = this.pos;
    const name = this.word(/[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/y, 'a pass name');
    if (name === 'seq') {
      this.expect('(');
      const members = this.list();
      this.expect(')');
      return sequential(members);
    }
    let pass: Pass;
    try {
      pass = this.lookup.getPass(name);
    } catch (e) {
      if (e instanceof KilnError) {
        this.pos = start;
        throw new KilnError(e.code, e.message, {
          notes: e.notes,
          details: e.details,
          span: { source: '<pipeline>', line: 1, column: start + 1 },
          cause: e,
        });
      }
      throw e;
    }
    if (this.peek() !== '(') return pass;
    this.pos++;
    const opts = this.keyValues(')');
    this.expect(')');
    return pass.withOptions(opts);
  }

  /** `key=value,...` up to (not including) `close`. */
  private keyValues(close: string): Record<string, Value> {
    const out: Record<string, Value> = {};
    if (this.peek() === close) return out;
    for (;;) {
      const key = this.word(/[A-Za-z_][A-Za-z0-9_]*/y, 'an option name');
      if (Object.hasOwn(out, key)) this.fail(`option '${key}' given twice`);
      this.expect('=');
      // defineProperty: a key named __proto__ must stay a plain option, not a prototype.
      Object.defineProperty(out, key, {
        value: this.value(),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      if (this.peek() !== ',') break;
      this.pos++;
    }
    return out;
  }

  private value(): Value {
    const c = this.peek();
    if (c === '"') {
      const s = this.word(/"(?:[^"\\]|\\.)*"/y, 'a string');
      return JSON.parse(s) as string;
    }
    if (c === '{') {
      this.pos++;
      const rec = this.keyValues('}');
      this.expect('}');
      return rec;
    }
    if (c === '[') {
      this.pos++;
      const out: Value[] = [];
      if (this.peek() !== ']') {
        out.push(this.value());
        while (this.peek() === ',') {
          this.pos++;
          out.push(this.value());
        }
      }
      this.expect(']');
      return out;
    }
    if (/[-+0-9.]/.test(c)) {
      const n = this.word(/[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/y, 'a number');
      return Number(n);
    }
    const id = this.word(/[A-Za-z_][A-Za-z0-9_.-]*/y, 'a value (number, boolean, string or identifier)');
    if (id === 'true') return true;
    if (id === 'false') return false;
    return id;
  }
}

/** Parse pipeline text into one sequential pass. */
export function parsePipeline(text: string, registry: PassLookup, name?: string): Pass {
  return sequential(new Parser(text, registry).parseAll(), name);
}
