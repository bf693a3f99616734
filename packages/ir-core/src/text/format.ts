// Function text formats: each IR package registers how its function kind prints and
// parses (`prim_func ...`, `relax.function ...`). A static table, like the node-kind
// table, because the set of IR kinds is fixed when the packages are loaded.
import { ErrorCodes, KilnError } from '../errors.js';
import type { Node } from '../node.js';
import type { TextParser, TextParserOptions } from './parser.js';
import { TextParser as Parser } from './parser.js';
import type { TextPrinterOptions } from './printer.js';
import { printGuarded, TextPrinter } from './printer.js';

export interface FunctionTextFormat<F extends Node = Node> {
  /** The node kind (`PrimFunc`, `relax.Function`). */
  readonly kind: F['kind'];
  /** The word that starts the function's text (`prim_func`); may be dotted. */
  readonly keyword: string;
  /**
   * Print `fn` after its keyword, which the framework has already written (on the
   * current line; write a leading space if the syntax wants one).
   */
  print(fn: F, printer: TextPrinter): void;
  /** Parse a function whose keyword the framework has already consumed. */
  parse(parser: TextParser): F;
  /** Words this IR's printer must not use as names (its keywords). */
  readonly reserved?: readonly string[];
}

const byKind = new Map<string, FunctionTextFormat>();
const byKeyword = new Map<string, FunctionTextFormat>();

/** Register the text form of a function kind (once per kind and keyword). */
export function defineFunctionTextFormat<F extends Node>(
  format: FunctionTextFormat<F>,
): FunctionTextFormat<F> {
  const prevK = byKind.get(format.kind);
  if (prevK !== undefined)
    throw new KilnError(
      ErrorCodes.DUPLICATE_NAME,
      `a text format for function kind '${format.kind}' is already defined`,
    );
  const prevW = byKeyword.get(format.keyword);
  if (prevW !== undefined) {
    throw new KilnError(
      ErrorCodes.DUPLICATE_NAME,
      `text keyword '${format.keyword}' is already used by function kind '${prevW.kind}'`,
    );
  }
  const f = Object.freeze(format) as FunctionTextFormat<F>;
  byKind.set(format.kind, f as unknown as FunctionTextFormat);
  byKeyword.set(format.keyword, f as unknown as FunctionTextFormat);
  return f;
}

export function functionTextFormat(kind: string): FunctionTextFormat | undefined {
  return byKind.get(kind);
}
export function listFunctionTextFormats(): FunctionTextFormat[] {
  return [...byKind.values()];
}

/** Words reserved by all registered formats (printers avoid them as names). */
export function reservedWords(): string[] {
  return listFunctionTextFormats().flatMap((f) => [f.keyword, ...(f.reserved ?? [])]);
}

/**
 * A printer set up with every registered format's reserved words. Which names it hands
 * out depends on the IR packages loaded; prefer `printerFor(kind)` for stable text.
 */
export function createPrinter(options: TextPrinterOptions = {}): TextPrinter {
  return new TextPrinter({ ...options, reserved: [...reservedWords(), ...(options.reserved ?? [])] });
}

/**
 * A printer for nodes of `kind` that reserves only that IR's words (its function
 * format's keyword and reserved words, or those given with its node printer), so the
 * names in printed text do not depend on which other IR packages are loaded.
 */
export function printerFor(kind: string, options: TextPrinterOptions = {}): TextPrinter {
  const f = byKind.get(kind);
  const own = f !== undefined ? [f.keyword, ...(f.reserved ?? [])] : (nodePrinters.get(kind)?.reserved ?? []);
  return new TextPrinter({ ...options, reserved: [...own, ...(options.reserved ?? [])] });
}

/** Print a function of any registered kind into `printer` (keyword first). */
export function printFunctionInto(fn: Node, printer: TextPrinter): void {
  const f = byKind.get(fn.kind);
  if (f === undefined) {
    throw new KilnError(
      ErrorCodes.UNSUPPORTED,
      `no text format registered for function kind '${fn.kind}' (is its IR package imported?)`,
    );
  }
  printer.write(f.keyword);
  f.print(fn, printer);
}

/** The text of one function of any registered kind. */
export function printFunction(fn: Node): string {
  const p = printerFor(fn.kind);
  printGuarded(() => printFunctionInto(fn, p));
  return p.toString();
}

// ---------------------------------------------------------------- other node kinds

type NodePrinter = (n: Node, printer: TextPrinter) => void;
const nodePrinters = new Map<string, { print: NodePrinter; reserved: readonly string[] }>();

/**
 * Register how nodes of `kinds` print on their own (TIR statements, Relax expressions),
 * so `printNode` can show any node in messages and test failures.
 */
export function defineNodeTextPrinter(
  kinds: readonly string[],
  print: NodePrinter,
  options: { reserved?: readonly string[] } = {},
): void {
  for (const k of kinds) {
    if (nodePrinters.has(k))
      throw new KilnError(
        ErrorCodes.DUPLICATE_NAME,
        `a text printer for node kind '${k}' is already defined`,
      );
    nodePrinters.set(k, { print, reserved: options.reserved ?? [] });
  }
}

/** Does `printNode` know how to print `kind`? */
export function hasNodeTextPrinter(kind: string): boolean {
  return nodePrinters.has(kind) || byKind.has(kind);
}

/** The text of a function or of any node kind with a registered printer. */
export function printNodeWith(n: Node, printer: TextPrinter): void {
  if (byKind.has(n.kind)) {
    printFunctionInto(n, printer);
    return;
  }
  const f = nodePrinters.get(n.kind);
  if (f === undefined)
    throw new KilnError(ErrorCodes.UNSUPPORTED, `no text printer registered for node kind '${n.kind}'`);
  f.print(n, printer);
}

/** Parse one function: a registered keyword followed by that format's syntax. */
export function parseFunctionFrom(parser: TextParser): Node {
  const t = parser.peek();
  const f = t.kind === 'ident' ? byKeyword.get(t.text) : undefined;
  if (f === undefined) {
    const known = [...byKeyword.keys()].sort().join(', ') || 'none registered';
    parser.failExpected(`a function keyword (${known})`);
  }
  parser.next();
  return parser.withScope(() => f!.parse(parser), { catchesAutoDeclared: true });
}

/** Parse the text of one function of any registered kind. */
export function parseFunction(text: string, options: TextParserOptions = {}): Node {
  const p = new Parser(text, options);
  return p.guarded(() => {
    const fn = parseFunctionFrom(p);
    p.expectEnd();
    return fn;
  });
}
