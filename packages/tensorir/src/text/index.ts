// TIR text: registers the `prim_func` text format with ir-core (so printModule and
// parseModule handle PrimFuncs) and exports the TIR printer and parser.
import { defineFunctionTextFormat } from '@kiln/ir-core';
import type { PrimFunc } from '../stmt.js';
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
