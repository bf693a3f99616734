// IRModule text: optional module attributes, then every global as `@name = <function>`
// in name order, each printed by its kind's registered text format.

import type { Range } from '../expr.js';
import { isPrimExpr } from '../expr.js';
import type { Attrs, IRModule } from '../module.js';
import { irModule } from '../module.js';
import type { Node } from '../node.js';
import { parseFunctionFrom, printerFor, printFunctionInto, printNodeWith } from './format.js';
import { isDottedIdent, quoteString } from './lexer.js';
import type { TextParserOptions } from './parser.js';
import { TextParser } from './parser.js';
import { Prec, printGuarded, TextPrinter } from './printer.js';

export function printModule(mod: IRModule): string {
  return printGuarded(() => printModuleText(mod));
}

function printModuleText(mod: IRModule): string {
  const parts: string[] = [];
  if (Object.keys(mod.attrs).length > 0) parts.push(`attrs = ${new TextPrinter().attrs(mod.attrs)}`);
  mod.globals.forEach((name, i) => {
    // One printer per function: names are allocated per function, as a reader sees them.
    const p = printerFor(mod.funcs[i].kind);
    p.write(`${formatGlobal(name)} = `);
    printFunctionInto(mod.funcs[i], p);
    parts.push(p.toString());
  });
  return `${parts.join('\n\n')}\n`;
}

/**
 * The text of any node: an IRModule, a function, a PrimExpr, or a kind with a
 * registered node printer (TIR statements, ...). Fails with UNSUPPORTED otherwise.
 */
export function printNode(n: Node): string {
  if (n.kind === 'IRModule') return printModule(n as IRModule);
  return printGuarded(() => printNodeText(n));
}

function printNodeText(n: Node): string {
  const p = printerFor(n.kind);
  if (isPrimExpr(n)) return p.expr(n);
  if (n.kind === 'Range') {
    const r = n as Range;
    return `${p.expr(r.min, Prec.or)} +: ${p.expr(r.extent, Prec.or)}`;
  }
  printNodeWith(n, p);
  return p.toString();
}

/** `@name`, quoted when the name is not an identifier (`@"a$b"`). */
export function formatGlobal(name: string): string {
  return `@${isDottedIdent(name) ? name : quoteString(name)}`;
}

/** Parse a module printed by printModule (or written by hand in the same syntax). */
export function parseModule(text: string, options: TextParserOptions = {}): IRModule {
  const p = new TextParser(text, options);
  return p.guarded(() => parseModuleText(p));
}

function parseModuleText(p: TextParser): IRModule {
  p.globals = scanGlobals(p);
  let attrs: Attrs = {};
  const entries: Array<[string, Node]> = [];
  const seen = new Set<string>();
  while (!p.atEnd()) {
    if (p.check('attrs') && p.check('=', 1)) {
      p.next();
      p.next();
      attrs = p.parseAttrs();
      continue;
    }
    p.expect('@');
    const t = p.peek();
    const name = t.kind === 'string' ? p.next().str! : p.expectIdent('a global name');
    if (seen.has(name)) p.fail(`duplicate global '@${name}'`, t);
    seen.add(name);
    p.expect('=');
    p.currentGlobal = name;
    entries.push([name, parseFunctionFrom(p)]);
    p.currentGlobal = undefined;
  }
  return irModule(entries, attrs);
}

/** The names of all top-level `@name =` definitions, so functions may refer forward. */
function scanGlobals(p: TextParser): Set<string> {
  const out = new Set<string>();
  let depth = 0;
  for (let i = 0; ; i++) {
    const t = p.peek(i);
    if (t.kind === 'eof') break;
    if (t.kind === 'punct') {
      if (t.text === '(' || t.text === '[' || t.text === '{') depth++;
      else if (t.text === ')' || t.text === ']' || t.text === '}') depth--;
      else if (t.text === '@' && depth === 0 && p.check('=', i + 2)) {
        const n = p.peek(i + 1);
        if (n.kind === 'ident') out.add(n.text);
        else if (n.kind === 'string') out.add(n.str!);
      }
    }
  }
  return out;
}
