// TIR text: registers the `prim_func` text format with ir-core (so printModule and
// parseModule handle PrimFuncs) and exports the TIR printer and parser.
import type { Buffer, Node } from '@kiln/ir-core';
import { defineFunctionTextFormat, defineNodeTextPrinter } from '@kiln/ir-core';
import type { BufferRegion, IterVar, PrimFunc, Stmt } from '../stmt.js';
import { STMT_KINDS } from '../stmt.js';
import { TirParser } from './parser.js';
import { TIR_KEYWORDS, TirPrinter } from './printer.js';

export const primFuncTextFormat = defineFunctionTextFormat<PrimFunc>({
  kind: 'PrimFunc',
  keyword: 'prim_func',
  reserved: TIR_KEYWORDS,
  print(fn, printer) {
    new TirPrinter(printer).func(fn);
  },
  parse(parser) {
    return new TirParser(parser).func();
  },
});

// Standalone printing of the other TIR kinds (for messages and test failures).
defineNodeTextPrinter(
  STMT_KINDS,
  (n: Node, p) => {
    new TirPrinter(p).stmts(n as Stmt);
  },
  { reserved: TIR_KEYWORDS },
);
defineNodeTextPrinter(
  ['Buffer'],
  (n: Node, p) => {
    p.write(new TirPrinter(p).bufferDecl(n as Buffer));
  },
  { reserved: TIR_KEYWORDS },
);
defineNodeTextPrinter(
  ['BufferRegion'],
  (n: Node, p) => {
    p.write(new TirPrinter(p).region(n as BufferRegion));
  },
  { reserved: TIR_KEYWORDS },
);
defineNodeTextPrinter(
  ['IterVar'],
  (n: Node, p) => {
    const iv = n as IterVar;
    const t = new TirPrinter(p);
    p.write(`${t.varDecl(iv.var)} = ${iv.iterType}(${t.range(iv.dom, iv.var.dtype)})`);
  },
  { reserved: TIR_KEYWORDS },
);

export type { ParseStmtOptions } from './parser.js';
export { parsePrimFunc, parseStmt, TirParser } from './parser.js';
export {
  createTirPrinter,
  printPrimFunc,
  printStmt,
  TIR_KEYWORDS,
  TirPrinter,
  undeclaredVars,
} from './printer.js';
