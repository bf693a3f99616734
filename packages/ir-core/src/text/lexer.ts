// The lexer shared by every Kiln IR text format: identifiers (dotted names such as
// `threadIdx.x` or `relax.add` are one token), integers and floats with an optional
// dtype suffix (`3i32`, `1.5f64`, `inf`, `nanf16`), strings with escapes, punctuation,
// and `#` comments. Every token carries its line/column so errors can point at it.
import type { Span } from '../errors.js';
import { ErrorCodes, KilnError } from '../errors.js';

export type TokenKind = 'ident' | 'int' | 'float' | 'string' | 'punct' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** The source text of the token (for strings: the raw text with quotes). */
  readonly text: string;
  /** Numeric value of an `int`/`float` token. */
  readonly num?: number;
  /** Decoded value of a `string` token. */
  readonly str?: string;
  /** Dtype suffix of a number (`i32`, `u8`, `f64`, `bf16`, `i32x4`), if written. */
  readonly suffix?: string;
  readonly line: number;
  readonly column: number;
  readonly offset: number;
}

// Longest first, so `<=` wins over `<`.
const PUNCT = [
  // `+:` is the indexed range `min +: extent` (loops, buffer regions).
  '...',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '->',
  '=>',
  '::',
  '**',
  '+:',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  ';',
  '=',
  '+',
  '-',
  '*',
  '/',
  '%',
  '<',
  '>',
  '!',
  '@',
  '.',
  '?',
  '|',
  '&',
  '^',
  '~',
  '$',
];

// Character classes by code (the lexer's hot loop; regex tests per character are slow).
function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}
// Punctuation candidates by first character, longest first.
const PUNCT_BY_CHAR = new Map<string, string[]>();
for (const q of PUNCT) {
  const list = PUNCT_BY_CHAR.get(q[0]) ?? [];
  list.push(q);
  PUNCT_BY_CHAR.set(q[0], list);
}
const FLOAT_WORD_RE = /^(inf|nan)((?:f|bf)\d+(?:x\d+)?)?$/;
const SUFFIX_RE = /^(?:i|u|f|bf)\d+(?:x\d+)?/;

export function tokenize(text: string, source?: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const fail = (msg: string, at: number): never => {
    const span: Span = { source, line, column: at - lineStart + 1 };
    throw new KilnError(ErrorCodes.PARSE_ERROR, msg, { span, notes: pointAt(text, span.line, span.column) });
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    const start = i;
    const col = i - lineStart + 1;
    const tok = (kind: TokenKind, num?: number, suffix?: string, str?: string): void => {
      out.push({ kind, text: text.slice(start, i), num, str, suffix, line, column: col, offset: start });
    };
    const code = text.charCodeAt(i);
    if (isIdentStart(code)) {
      i++;
      while (i < text.length && isIdentPart(text.charCodeAt(i))) i++;
      // A dot continues the name only when a name part follows (`a.b`, not `a.` or `a.0`).
      while (text[i] === '.' && i + 1 < text.length && isIdentStart(text.charCodeAt(i + 1))) {
        i += 2;
        while (i < text.length && isIdentPart(text.charCodeAt(i))) i++;
      }
      const fw = c === 'i' || c === 'n' ? FLOAT_WORD_RE.exec(text.slice(start, i)) : null;
      if (fw) tok('float', fw[1] === 'inf' ? Infinity : NaN, fw[2]);
      else tok('ident');
      continue;
    }
    if (isDigit(code)) {
      while (i < text.length && isDigit(text.charCodeAt(i))) i++;
      let isFloat = false;
      if (text[i] === '.' && isDigit(text.charCodeAt(i + 1))) {
        isFloat = true;
        i++;
        while (i < text.length && isDigit(text.charCodeAt(i))) i++;
      }
      if ((text[i] === 'e' || text[i] === 'E') && /[0-9]|[+-][0-9]/.test(text.slice(i + 1, i + 3))) {
        isFloat = true;
        i += text[i + 1] === '+' || text[i + 1] === '-' ? 2 : 1;
        while (i < text.length && isDigit(text.charCodeAt(i))) i++;
      }
      const numText = text.slice(start, i);
      let suffix: string | undefined;
      const sm = SUFFIX_RE.exec(text.slice(i, i + 12));
      if (sm) {
        suffix = sm[0];
        i += suffix.length;
      }
      if (i < text.length && isIdentPart(text.charCodeAt(i)))
        fail(`malformed number '${text.slice(start, i + 1)}'`, start);
      tok(isFloat ? 'float' : 'int', Number(numText), suffix);
      continue;
    }
    if (c === '"' || c === "'") {
      i++;
      let s = '';
      for (;;) {
        if (i >= text.length || text[i] === '\n') fail('unterminated string literal', start);
        const d = text[i];
        if (d === c) {
          i++;
          break;
        }
        if (d !== '\\') {
          s += d;
          i++;
          continue;
        }
        const e = text[i + 1];
        i += 2;
        switch (e) {
          case 'n':
            s += '\n';
            break;
          case 't':
            s += '\t';
            break;
          case 'r':
            s += '\r';
            break;
          case '0':
            s += '\0';
            break;
          case '\\':
            s += '\\';
            break;
          case '"':
            s += '"';
            break;
          case "'":
            s += "'";
            break;
          case 'u': {
            const m = /^\{([0-9a-fA-F]{1,6})\}|^([0-9a-fA-F]{4})/.exec(text.slice(i, i + 8));
            if (!m) fail('bad \\u escape in string literal', i - 2);
            const cp = parseInt(m![1] ?? m![2], 16);
            if (cp > 0x10ffff) fail('bad \\u escape in string literal', i - 2);
            s += String.fromCodePoint(cp);
            i += m![0].length;
            break;
          }
          default:
            fail(`unknown escape '\\${e ?? ''}' in string literal`, i - 2);
        }
      }
      tok('string', undefined, undefined, s);
      continue;
    }
    const p = PUNCT_BY_CHAR.get(c)?.find((q) => text.startsWith(q, i));
    if (p === undefined) fail(`unexpected character '${c}'`, i);
    i += p!.length;
    tok('punct');
  }
  out.push({ kind: 'eof', text: '', line, column: i - lineStart + 1, offset: i });
  return out;
}

/** Notes showing the source line of a position with a caret under its column. */
export function pointAt(text: string, line: number, column: number): string[] {
  const src = text.split('\n')[line - 1];
  if (src === undefined) return [];
  // Tabs keep their width so the caret lines up under the offending character.
  const pad = src.slice(0, column - 1).replace(/[^\t]/g, ' ');
  return [src.replace(/\r$/, ''), `${pad}^`];
}

/** How a token is named in "expected X but found Y" messages. */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of input';
    case 'ident':
      return `identifier '${t.text}'`;
    case 'int':
      return `integer ${t.text}`;
    case 'float':
      return `float ${t.text}`;
    case 'string':
      return `string ${t.text}`;
    case 'punct':
      return `'${t.text}'`;
  }
}

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A plain (undotted) identifier the lexer reads back as one `ident` token. */
export function isPlainIdent(s: string): boolean {
  return IDENT_RE.test(s) && !/^(inf|nan)((?:f|bf)\d+(?:x\d+)?)?$/.test(s);
}
/** A possibly dotted identifier (`tir.exp`, `threadIdx.x`) read back as one token. */
export function isDottedIdent(s: string): boolean {
  return s.split('.').every(isPlainIdent);
}

/** Quote a string so the lexer decodes it back to exactly `s`. */
export function quoteString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (cp < 0x20 || cp === 0x7f || (cp >= 0xd800 && cp <= 0xdfff)) out += `\\u{${cp.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}
