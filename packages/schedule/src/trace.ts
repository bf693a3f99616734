// The trace: every schedule call as an instruction (kind, inputs as random-variable
// references or literals, literal attrs, sampling decision, outputs). It prints to a
// readable text form and parses back, e.g.
//   b0 = getBlock(name="C")
//   l1, l2, l3 = getLoops(b0)
//   v4, v5 = samplePerfectTile(l1, n=2, maxInnermost=16) decision=[8, 8]
//   l6, l7 = split(l1, [v4, v5])
import type { AttrValue } from '@kiln/ir-core';
import { ScheduleErrorCodes as C, fail } from './errors.js';

/** A handle to a block of the schedule's current function. */
export class BlockRV {
  readonly rvKind = 'block' as const;
  constructor(readonly id: number) {}
}
/** A handle to a loop of the schedule's current function. */
export class LoopRV {
  readonly rvKind = 'loop' as const;
  constructor(readonly id: number) {}
}
/** A sampled integer (a tile size, a categorical choice). */
export class ExprRV {
  readonly rvKind = 'expr' as const;
  constructor(readonly id: number) {}
}
export type RV = BlockRV | LoopRV | ExprRV;

export function isRV(x: unknown): x is RV {
  return x instanceof BlockRV || x instanceof LoopRV || x instanceof ExprRV;
}

/** An instruction input: a random variable, a literal, or a list of those. */
export type TraceArg = RV | number | string | boolean | null | readonly TraceArg[];

export type InstructionKind =
  | 'getBlock'
  | 'getProducers'
  | 'getConsumers'
  | 'getLoops'
  | 'getChildBlocks'
  | 'split'
  | 'fuse'
  | 'reorder'
  | 'parallel'
  | 'vectorize'
  | 'unroll'
  | 'bind'
  | 'cacheRead'
  | 'cacheWrite'
  | 'setScope'
  | 'storageAlign'
  | 'computeAt'
  | 'reverseComputeAt'
  | 'computeInline'
  | 'reverseComputeInline'
  | 'decomposeReduction'
  | 'rfactor'
  | 'blockize'
  | 'tensorize'
  | 'annotate'
  | 'samplePerfectTile'
  | 'sampleCategorical';

export const INSTRUCTION_KINDS: readonly InstructionKind[] = [
  'getBlock',
  'getProducers',
  'getConsumers',
  'getLoops',
  'getChildBlocks',
  'split',
  'fuse',
  'reorder',
  'parallel',
  'vectorize',
  'unroll',
  'bind',
  'cacheRead',
  'cacheWrite',
  'setScope',
  'storageAlign',
  'computeAt',
  'reverseComputeAt',
  'computeInline',
  'reverseComputeInline',
  'decomposeReduction',
  'rfactor',
  'blockize',
  'tensorize',
  'annotate',
  'samplePerfectTile',
  'sampleCategorical',
];

export interface Instruction {
  readonly kind: InstructionKind;
  readonly inputs: readonly TraceArg[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
  readonly outputs: readonly RV[];
  /** The sampled outcome of a sampling instruction; replay reuses it. */
  readonly decision?: AttrValue;
}

export class Trace {
  constructor(readonly instructions: readonly Instruction[] = []) {
    Object.freeze(this.instructions);
  }

  get length(): number {
    return this.instructions.length;
  }

  /** A trace with instruction `i`'s decision replaced (for search: mutate a sample). */
  withDecision(i: number, decision: AttrValue): Trace {
    return new Trace(
      this.instructions.map((inst, k) => (k === i ? Object.freeze({ ...inst, decision }) : inst)),
    );
  }

  toString(): string {
    const names = new Map<RV, string>();
    let n = 0;
    const name = (rv: RV): string => {
      const hit = names.get(rv);
      if (hit === undefined)
        fail(C.TRACE_PARSE, 'trace', `random variable #${rv.id} is used before an instruction defines it`);
      return hit;
    };
    const value = (v: TraceArg | AttrValue): string => {
      if (isRV(v)) return name(v);
      if (v === null) return 'null';
      if (Array.isArray(v)) return `[${v.map((x) => value(x as TraceArg)).join(', ')}]`;
      if (typeof v === 'object')
        return `{${Object.entries(v)
          .map(([k, x]) => `${JSON.stringify(k)}: ${value(x as AttrValue)}`)
          .join(', ')}}`;
      if (typeof v === 'string') return JSON.stringify(v);
      return String(v);
    };
    const lines: string[] = [];
    for (const inst of this.instructions) {
      const args = [
        ...inst.inputs.map(value),
        ...Object.entries(inst.attrs).map(([k, v]) => `${k}=${value(v)}`),
      ];
      for (const o of inst.outputs)
        names.set(o, `${o.rvKind === 'block' ? 'b' : o.rvKind === 'loop' ? 'l' : 'v'}${n++}`);
      const lhs = inst.outputs.length > 0 ? `${inst.outputs.map(name).join(', ')} = ` : '';
      const dec = inst.decision !== undefined ? ` decision=${value(inst.decision)}` : '';
      lines.push(`${lhs}${inst.kind}(${args.join(', ')})${dec}`);
    }
    return lines.join('\n');
  }
}

// ---------------------------------------------------------------- parsing

type Tok = { t: 'id' | 'num' | 'str' | 'punct'; v: string; col: number };

function tokenize(line: string, lineNo: number): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < line.length) {
    const ch = line[i];
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      i++;
      continue;
    }
    if (ch === '#') break;
    const rest = line.slice(i);
    let m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(rest);
    if (m) {
      out.push({ t: 'id', v: m[0], col: i + 1 });
      i += m[0].length;
      continue;
    }
    m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(rest);
    if (m) {
      out.push({ t: 'num', v: m[0], col: i + 1 });
      i += m[0].length;
      continue;
    }
    m = /^"(?:[^"\\]|\\.)*"/.exec(rest);
    if (m) {
      out.push({ t: 'str', v: JSON.parse(m[0]) as string, col: i + 1 });
      i += m[0].length;
      continue;
    }
    if ('(),=[]{}:'.includes(ch)) {
      out.push({ t: 'punct', v: ch, col: i + 1 });
      i++;
      continue;
    }
    throw parseError(`unexpected character '${ch}'`, lineNo, i + 1);
  }
  return out;
}

function parseError(msg: string, line: number, column: number): Error {
  try {
    fail(C.TRACE_PARSE, 'parseTrace', `line ${line}:${column}: ${msg}`);
  } catch (e) {
    return e as Error;
  }
}

/** Parse the text form printed by `Trace.toString()`. */
export function parseTrace(text: string): Trace {
  const env = new Map<string, RV>();
  let nextId = 1;
  const instructions: Instruction[] = [];
  text.split('\n').forEach((raw, ln) => {
    const lineNo = ln + 1;
    const toks = tokenize(raw, lineNo);
    if (toks.length === 0) return;
    let p = 0;
    const peek = (): Tok | undefined => toks[p];
    const err = (msg: string): never => {
      throw parseError(msg, lineNo, toks[p]?.col ?? raw.length + 1);
    };
    const expect = (v: string): void => {
      const t = toks[p];
      if (t?.t !== 'punct' || t.v !== v) err(`expected '${v}'`);
      p++;
    };
    const newRV = (nm: string): RV => {
      const kind = nm[0];
      if (!/^[blv]\d+$/.test(nm)) err(`'${nm}' is not a random-variable name (b<n>, l<n> or v<n>)`);
      const rv =
        kind === 'b' ? new BlockRV(nextId++) : kind === 'l' ? new LoopRV(nextId++) : new ExprRV(nextId++);
      env.set(nm, rv);
      return rv;
    };
    const parseValue = (): TraceArg | AttrValue => {
      const t = peek();
      if (!t) return err('expected a value');
      if (t.t === 'num') {
        p++;
        return Number(t.v);
      }
      if (t.t === 'str') {
        p++;
        return t.v;
      }
      if (t.t === 'id') {
        p++;
        if (t.v === 'null') return null;
        if (t.v === 'true') return true;
        if (t.v === 'false') return false;
        const rv = env.get(t.v);
        if (!rv) {
          p--;
          return err(`unknown random variable '${t.v}'`);
        }
        return rv;
      }
      if (t.v === '[') {
        p++;
        const xs: (TraceArg | AttrValue)[] = [];
        while (!(peek()?.t === 'punct' && peek()?.v === ']')) {
          xs.push(parseValue());
          if (peek()?.v === ',') p++;
          else if (peek()?.v !== ']') err(`expected ',' or ']'`);
        }
        p++;
        return xs as TraceArg;
      }
      if (t.v === '{') {
        p++;
        const obj: Record<string, AttrValue> = {};
        while (!(peek()?.t === 'punct' && peek()?.v === '}')) {
          const k = peek();
          if (k?.t !== 'str') err('expected a string key');
          p++;
          expect(':');
          obj[k!.v] = parseValue() as AttrValue;
          if (peek()?.v === ',') p++;
          else if (peek()?.v !== '}') err(`expected ',' or '}'`);
        }
        p++;
        return obj;
      }
      return err(`unexpected '${t.v}'`);
    };
    // Outputs: `a, b = kind(...)`.
    const outNames: string[] = [];
    if (toks.some((t) => t.t === 'punct' && t.v === '=') && toks[1]?.v !== '(') {
      for (;;) {
        const t = peek();
        if (t?.t !== 'id') err('expected an output name');
        outNames.push(t!.v);
        p++;
        if (peek()?.v === ',') p++;
        else break;
      }
      expect('=');
    }
    const head = peek();
    if (head?.t !== 'id') {
      err('expected an instruction name');
      return;
    }
    if (!(INSTRUCTION_KINDS as readonly string[]).includes(head.v)) err(`unknown instruction '${head.v}'`);
    p++;
    expect('(');
    const inputs: TraceArg[] = [];
    const attrs: Record<string, AttrValue> = {};
    while (!(peek()?.t === 'punct' && peek()?.v === ')')) {
      const t = peek();
      if (t?.t === 'id' && toks[p + 1]?.v === '=') {
        p += 2;
        attrs[t.v] = parseValue() as AttrValue;
      } else inputs.push(parseValue() as TraceArg);
      if (peek()?.v === ',') p++;
      else if (peek()?.v !== ')') err(`expected ',' or ')'`);
    }
    p++;
    let decision: AttrValue | undefined;
    if (peek()) {
      const t = peek()!;
      if (t.t !== 'id' || t.v !== 'decision') err('expected end of line or decision=');
      p++;
      expect('=');
      decision = parseValue() as AttrValue;
      if (peek()) err('unexpected text after the decision');
    }
    const outputs = outNames.map(newRV);
    const inst: Instruction = {
      kind: head.v as InstructionKind,
      inputs,
      attrs,
      outputs,
      ...(decision !== undefined ? { decision } : {}),
    };
    instructions.push(Object.freeze(inst));
  });
  return new Trace(instructions);
}
