// Node builders used by the grammar's postprocessors (grammar/exitlab.ne): spans from tokens,
// number literals, words. Kept typed here so the generated parser stays a thin table.

import type { Expr, Pos, Word } from "./ast.js";
import type { Token } from "./lexer.js";

/** nearley asks the lexer whether `%name` is a token type; every one of ours is. */
export const lexer = { has: (_name: string) => true };

type Spanned = Token | { pos: Pos } | null | undefined | Spanned[];

function first(x: Spanned): Pos | undefined {
  if (!x || typeof x !== "object") return undefined;
  if (Array.isArray(x)) {
    for (const y of x) {
      const p = first(y);
      if (p) return p;
    }
    return undefined;
  }
  if ("pos" in x) return x.pos;
  if (!("offset" in x)) return undefined;
  return { line: x.line, col: x.col, offset: x.offset, end: x.offset + x.text.length };
}

function last(x: Spanned): Pos | undefined {
  if (!x || typeof x !== "object") return undefined;
  if (Array.isArray(x)) {
    for (let i = x.length - 1; i >= 0; i--) {
      const p = last(x[i]);
      if (p) return p;
    }
    return undefined;
  }
  return first(x);
}

/** The span from the first to the last positioned item. */
export function span(...items: Spanned[]): Pos {
  const a = first(items)!;
  const b = last(items) ?? a;
  return { line: a.line, col: a.col, offset: a.offset, end: b.end };
}

export function word(t: Token): Word {
  return { text: t.value, pos: span(t) };
}

/** `0x1f`, `0b1010`, `1_000`, `64k` (×1024), `1m` (×1024²). */
export function parseNumber(text: string): bigint {
  let t = text.replace(/_/g, "");
  let scale = 1n;
  const suffix = t.slice(-1).toLowerCase();
  if (!/^0[xb]/i.test(t) && (suffix === "k" || suffix === "m")) {
    scale = suffix === "k" ? 1024n : 1024n * 1024n;
    t = t.slice(0, -1);
  }
  if (/^0[bB]/.test(t)) return BigInt("0b" + t.slice(2)) * scale;
  return BigInt(t) * scale;
}

export function num(t: Token): Expr {
  return { type: "number", value: parseNumber(t.text), text: t.text, pos: span(t) };
}

export function str(t: Token): Expr {
  return { type: "string", value: t.value, pos: span(t) };
}

export function binary(d: [Expr, Token, Expr]): Expr {
  return { type: "binary", op: d[1].text as never, left: d[0], right: d[2], pos: span(d[0], d[2]) };
}
