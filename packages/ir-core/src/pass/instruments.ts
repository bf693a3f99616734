// The instruments Kiln ships: per-pass timing, IR dumps into a folder, and a
// well-formedness check after every pass. Each instrument keeps its own records
// (per instance, never global), so two compilations do not see each other's data.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, KilnError } from '../errors.js';
import type { IRModule } from '../module.js';
import type { PassInstrument } from './context.js';
import { printModuleOrDump } from './dump.js';
import type { Pass } from './pass.js';
import { checkWellFormed } from './well-formed.js';

// ---------------------------------------------------------------- timing

export interface TimingRecord {
  readonly name: string;
  /** Wall time in milliseconds, including nested passes. */
  readonly ms: number;
  readonly children: readonly TimingRecord[];
}

export interface TimingSummaryRow {
  readonly name: string;
  readonly calls: number;
  /** Time including nested passes (a pass nested in itself counts once). */
  readonly totalMs: number;
  /** Time excluding nested passes. */
  readonly selfMs: number;
}

export interface TimingInstrument extends PassInstrument {
  /** Completed top-level passes with their nested passes. */
  records(): readonly TimingRecord[];
  /** Per pass name, heaviest self time first: where the compile time goes. */
  summary(): readonly TimingSummaryRow[];
  /** A text table: total time, share of the overall time, and the pass name indented by depth. */
  report(): string;
  reset(): void;
}

interface OpenRecord {
  name: string;
  start: number;
  children: TimingRecord[];
}

export function timingInstrument(options: { now?: () => number } = {}): TimingInstrument {
  const now = options.now ?? (() => performance.now());
  let roots: TimingRecord[] = [];
  let stack: OpenRecord[] = [];
  const close = (): void => {
    const open = stack.pop();
    if (!open) return;
    const rec: TimingRecord = Object.freeze({
      name: open.name,
      ms: now() - open.start,
      children: Object.freeze(open.children),
    });
    (stack.length > 0 ? stack[stack.length - 1].children : roots).push(rec);
  };
  return {
    name: 'timing',
    enterContext() {
      stack = [];
    },
    exitContext() {
      // A pass that threw never reached runAfterPass; drop its half-open records.
      stack = [];
    },
    runBeforePass(pass: Pass) {
      stack.push({ name: pass.name, start: now(), children: [] });
    },
    runAfterPass() {
      close();
    },
    records() {
      return roots.slice();
    },
    summary() {
      const rows = new Map<string, { calls: number; totalMs: number; selfMs: number }>();
      const walk = (r: TimingRecord, open: ReadonlySet<string>): void => {
        const row = rows.get(r.name) ?? { calls: 0, totalMs: 0, selfMs: 0 };
        row.calls++;
        if (!open.has(r.name)) row.totalMs += r.ms;
        row.selfMs += r.ms - r.children.reduce((s, c) => s + c.ms, 0);
        rows.set(r.name, row);
        const inner = new Set(open).add(r.name);
        for (const c of r.children) walk(c, inner);
      };
      for (const r of roots) walk(r, new Set());
      return [...rows.entries()]
        .map(([name, r]) => Object.freeze({ name, ...r }))
        .sort((a, b) => b.selfMs - a.selfMs);
    },
    reset() {
      roots = [];
      stack = [];
    },
    report() {
      const total = roots.reduce((s, r) => s + r.ms, 0);
      const lines = [`${'total(ms)'.padStart(12)} ${'%'.padStart(6)}  pass`];
      const walk = (r: TimingRecord, depth: number): void => {
        const pct = total > 0 ? ((100 * r.ms) / total).toFixed(1) : '0.0';
        lines.push(`${r.ms.toFixed(3).padStart(12)} ${pct.padStart(6)}  ${'  '.repeat(depth)}${r.name}`);
        for (const c of r.children) walk(c, depth + 1);
      };
      for (const r of roots) walk(r, 0);
      lines.push(`${total.toFixed(3).padStart(12)} ${'100.0'.padStart(6)}  (total)`);
      return `${lines.join('\n')}\n`;
    },
  };
}

// ---------------------------------------------------------------- IR dumps

export type ModulePrinter = (mod: IRModule) => string;

export interface PrintIROptions {
  /** Folder to write into (created if missing). */
  dir: string;
  /** Dump the module before each pass. Default false. */
  before?: boolean;
  /** Dump the module after each pass. Default true. */
  after?: boolean;
  /** How to print a module; defaults to the text format (`dumpIR` for kinds without one). */
  print?: ModulePrinter;
  /** Also dump around sequential pipelines (their members are dumped anyway). Default false. */
  includeSequential?: boolean;
}

export interface PrintIRInstrument extends PassInstrument {
  /** Paths written so far, in order. */
  files(): readonly string[];
}

function writeAtomically(path: string, text: string): void {
  // Never leave a half-written dump behind: write aside, then rename into place.
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/**
 * Writes `NNN_<pass>.before.txt` / `NNN_<pass>.after.txt`, numbered in the order
 * passes start. Numbering continues across runs with the same instrument, so a
 * second compilation does not overwrite the first one's dumps.
 */
export function printIRInstrument(options: PrintIROptions): PrintIRInstrument {
  const { dir } = options;
  const before = options.before ?? false;
  const after = options.after ?? true;
  const print = options.print ?? printModuleOrDump;
  let counter = 0;
  let stack: Array<number | undefined> = [];
  const written: string[] = [];
  const fileFor = (n: number, pass: Pass, when: string): string =>
    join(dir, `${String(n).padStart(3, '0')}_${pass.name.replace(/[^A-Za-z0-9_.-]/g, '_')}.${when}.txt`);
  const dump = (path: string, mod: IRModule): void => {
    mkdirSync(dir, { recursive: true });
    writeAtomically(path, print(mod));
    written.push(path);
  };
  return {
    name: 'printIR',
    enterContext() {
      stack = [];
    },
    exitContext() {
      stack = [];
    },
    runBeforePass(pass, mod) {
      if (pass.passes && !options.includeSequential) {
        stack.push(undefined);
        return;
      }
      const n = ++counter;
      stack.push(n);
      if (before) dump(fileFor(n, pass, 'before'), mod);
    },
    runAfterPass(pass, mod) {
      const n = stack.pop();
      if (n !== undefined && after) dump(fileFor(n, pass, 'after'), mod);
    },
    files() {
      return written.slice();
    },
  };
}

// ---------------------------------------------------------------- well-formedness

export interface WellFormedInstrumentOptions {
  /** Also check the module given to the outermost pass. Default false. */
  checkInput?: boolean;
}

/**
 * After every pass, runs the registered well-formedness checker of each function's
 * kind and raises KilnError WELL_FORMED naming the pass that broke the module.
 */
export function wellFormedInstrument(options: WellFormedInstrumentOptions = {}): PassInstrument {
  let inputChecked = false;
  const check = (mod: IRModule, pass: Pass, when: 'after' | 'before'): void => {
    const found = checkWellFormed(mod);
    if (found.length === 0) return;
    const first = found[0];
    const what = when === 'after' ? `after pass '${pass.name}'` : `input of pass '${pass.name}'`;
    throw new KilnError(
      ErrorCodes.WELL_FORMED,
      `${what}: function '${first.function}' is not well-formed: ${first.problems[0]}`,
      {
        notes: found.flatMap((f) => f.problems.map((p) => `${f.function}: ${p}`)),
        details: { pass: pass.name, when, functions: found.map((f) => f.function) },
      },
    );
  };
  return {
    name: 'wellFormed',
    enterContext() {
      inputChecked = false;
    },
    runBeforePass(pass, mod) {
      if (options.checkInput && !inputChecked) {
        inputChecked = true;
        check(mod, pass, 'before');
      }
    },
    runAfterPass(pass, mod) {
      // A sequential's members were each checked already.
      if (!pass.passes) check(mod, pass, 'after');
    },
  };
}
