// The exitlab lexer (moo). Keywords are case-insensitive and reserved; every other word is a
// `word` (names, registers, exit reasons, trap kinds). An `asm { ... }` body is one token
// (braces nest two levels deep, enough for A64 register lists like `{v0.16b}`).

import moo from "moo";
import type { Pos } from "./ast.js";

/** Reserved words; tokens of type `kw_<word>`. */
export const KEYWORDS = [
  "vm", "boot", "guest", "from", "asm", "as", "use", "trap", "untrap", "step", "until", "handle",
  "run", "halt", "limit", "show", "table", "chart", "compare", "let", "expect", "set", "save",
  "load", "help", "exit", "exits", "trace", "last", "by", "over", "time", "count", "where",
  "print", "for", "decode", "irq", "stat", "sql",
] as const;
export type Keyword = (typeof KEYWORDS)[number];
const KEYWORD_SET = new Set<string>(KEYWORDS);

export interface Token {
  type: string;
  /** Source text. */
  text: string;
  /** Decoded value: strings unquoted, asm bodies without the braces, keywords lower-cased. */
  value: string;
  offset: number;
  line: number;
  col: number;
  lineBreaks: number;
}

const rules = moo.compile({
  ws: /[ \t\r]+/,
  comment: /(?:#|\/\/)[^\n]*/,
  nl: { match: /\n/, lineBreaks: true },
  asmbody: { match: /\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}/, lineBreaks: true },
  lbrace: "{",
  rbrace: "}",
  string: /"(?:\\["\\nt]|[^"\\\n])*"/,
  badstring: /"[^\n]*/,
  number: /(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|[0-9][0-9_]*[kKmM]?)(?![A-Za-z0-9_])/,
  // Anything else that starts with a digit (`0x`, `0xg`, `12ab`): reported as a malformed number.
  badnumber: /[0-9][A-Za-z0-9_]*/,
  word: {
    match: /[A-Za-z_][A-Za-z0-9_]*/,
    type: (text: string) => (KEYWORD_SET.has(text.toLowerCase()) ? "kw_" + text.toLowerCase() : undefined) as string,
  },
  op: ["==", "!=", "<=", ">=", "<<", ">>", "&&", "||", "<", ">", "=", "+", "-", "*", "/", "%", "&", "|", "^", "!", "~", "(", ")", "[", "]", ".", ",", ";"],
  error: moo.error,
});

export class LexError extends Error {
  constructor(message: string, readonly pos: Pos, readonly hint?: string) {
    super(message);
  }
}

function decode(type: string, text: string): string {
  if (type === "string") return text.slice(1, -1).replace(/\\(["\\nt])/g, (_, c: string) => (c === "n" ? "\n" : c === "t" ? "\t" : c));
  if (type === "asmbody") return text.slice(1, -1);
  if (type.startsWith("kw_")) return text.toLowerCase();
  return text;
}

const NUMBER_FORMS = "numbers are decimal (`1_000`, `64k`, `1m`), hex (`0x1f`) or binary (`0b101`)";

/** Every significant token of `source` (no blanks, no comments); throws LexError. */
export function tokenize(source: string): Token[] {
  rules.reset(source);
  const out: Token[] = [];
  for (let t = rules.next(); t; t = rules.next()) {
    const type = t.type === "op" ? t.text : t.type!;
    const pos: Pos = { line: t.line, col: t.col, offset: t.offset, end: t.offset + t.text.length };
    if (type === "ws" || type === "comment") continue;
    if (type === "error") {
      const ch = t.text[0]!;
      throw new LexError(`unexpected character \`${ch}\``, { ...pos, end: pos.offset + 1 });
    }
    if (type === "badnumber") throw new LexError(`\`${t.text.length > 40 ? t.text.slice(0, 40) + "…" : t.text}\` is not a number`, pos, NUMBER_FORMS);
    if (type === "number" && !/[0-9a-fA-F]/.test(t.text.replace(/^0[xXbB]/, ""))) {
      throw new LexError(`the number \`${t.text}\` has no digits`, pos, "`_` only separates digits: " + NUMBER_FORMS);
    }
    if (type === "badstring") throw new LexError("unterminated string: a string ends with `\"` on the same line", pos);
    if (type === "lbrace") throw new LexError("unclosed `{`: an asm block ends with a matching `}`", pos);
    if (type === "rbrace") throw new LexError("unexpected `}`: no asm block is open", pos);
    out.push({ type, text: t.text, value: decode(type, t.text), offset: t.offset, line: t.line, col: t.col, lineBreaks: t.lineBreaks });
  }
  return out;
}

/** A nearley-compatible lexer over already-lexed tokens (nearley asks `has` for `%name` symbols). */
export class TokenStream {
  private i = 0;
  constructor(private tokens: Token[]) {}
  reset(): void {
    this.i = 0;
  }
  next(): Token | undefined {
    return this.tokens[this.i++];
  }
  save(): object {
    return {};
  }
  formatError(token: Token, message: string): string {
    return `${message} at line ${token.line} col ${token.col}`;
  }
  has(_name: string): boolean {
    return true;
  }
}

export function tokenPos(t: Token): Pos {
  return { line: t.line, col: t.col, offset: t.offset, end: t.offset + t.text.length };
}
