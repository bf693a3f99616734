// The text format framework: lexer, parser cursor, printer with name allocation, the
// PrimExpr text, function text formats registered per IR, and IRModule text.

export type { FunctionTextFormat } from './format.js';
export {
  createPrinter,
  defineFunctionTextFormat,
  defineNodeTextPrinter,
  functionTextFormat,
  hasNodeTextPrinter,
  listFunctionTextFormats,
  parseFunction,
  parseFunctionFrom,
  printerFor,
  printFunction,
  printFunctionInto,
  printNodeWith,
  reservedWords,
} from './format.js';
export type { Token, TokenKind } from './lexer.js';
export { describeToken, isDottedIdent, isPlainIdent, pointAt, quoteString, tokenize } from './lexer.js';
export { formatGlobal, parseModule, printModule, printNode } from './module_text.js';
export { NameAllocator, RESERVED_NAMES, sanitizeName } from './names.js';
export type { ParseExprOptions, ScopeInit, TextParserOptions } from './parser.js';
export { parseExpr, TextParser } from './parser.js';
export type { TextPrinterOptions } from './printer.js';
export { formatFloat, formatInt, immSuffix, Prec, printExpr, printGuarded, TextPrinter } from './printer.js';
