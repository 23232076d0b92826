// Integer expressions of GNU as (as.info "Expressions"): numbers (decimal, 0x, 0b, leading-0
// octal, 'c'), symbols, `.`, numeric local label references (1b/1f, renamed by the parser), unary
// - ~ !, and binary operators with GNU precedence: * / % << >> above | & ^ ! above + - and
// comparisons, then && and ||.

import { AsmError } from "./errors.js";

export type Expr =
  | { kind: "num"; value: bigint }
  | { kind: "sym"; name: string; column: number }
  | { kind: "dot" }
  | { kind: "un"; op: string; a: Expr }
  | { kind: "bin"; op: string; a: Expr; b: Expr };

export interface ExprContext {
  /** Value of a symbol, or undefined when not (yet) defined. */
  lookup(name: string): bigint | undefined;
  dot: bigint;
}

const LEVELS: string[][] = [["||"], ["&&"], ["+", "-", "==", "!=", "<>", "<", ">", "<=", ">="], ["|", "&", "^", "!"], ["*", "/", "%", "<<", ">>"]];
const OPERATORS = ["<<", ">>", "==", "!=", "<>", "<=", ">=", "&&", "||", "+", "-", "*", "/", "%", "|", "&", "^", "!", "~", "<", ">", "(", ")"];

interface Tok { t: string; v?: bigint; col: number }

export function tokenizeExpr(text: string, line: number, col0: number): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " " || c === "\t") { i++; continue; }
    const col = col0 + i;
    if (c === "'") {
      // character constant: 'c or 'c' (GNU as accepts both)
      let ch = text[i + 1];
      let len = 2;
      if (ch === "\\") {
        const esc = text[i + 2] ?? "";
        ch = { n: "\n", t: "\t", r: "\r", "0": "\0", "\\": "\\", "'": "'" }[esc] ?? esc;
        len = 3;
      }
      if (ch === undefined) throw new AsmError("unterminated character constant", line, col);
      if (text[i + len] === "'") len++;
      toks.push({ t: "num", v: BigInt(ch.charCodeAt(0)), col });
      i += len;
      continue;
    }
    const num = /^(0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+)([bf]?)/.exec(text.slice(i));
    if (num) {
      if (num[2]) toks.push({ t: "sym:" + num[1] + num[2], col }); // numeric local label reference
      else {
        const s = num[1]!;
        let v: bigint;
        if (/^0[0-7]+$/.test(s)) v = BigInt("0o" + s.slice(1));
        else if (/^0[0-9]+$/.test(s)) throw new AsmError(`bad octal number ${s}`, line, col, "octal numbers use digits 0-7; drop the leading 0 for decimal");
        else v = BigInt(s);
        toks.push({ t: "num", v, col });
      }
      i += num[0].length;
      if (/[A-Za-z_]/.test(text[i] ?? "")) throw new AsmError(`bad number ${text.slice(col - col0).split(/[^\w]/)[0]}`, line, col);
      continue;
    }
    const sym = /^[A-Za-z_.$][\w.$@]*/.exec(text.slice(i));
    if (sym) {
      toks.push({ t: sym[0] === "." ? "dot" : "sym:" + sym[0], col });
      i += sym[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (!op) throw new AsmError(`unexpected character '${c}' in expression`, line, col);
    toks.push({ t: op, col });
    i += op.length;
  }
  return toks;
}

/** Parse a whole expression; throws AsmError with the column of the problem. */
export function parseExpr(text: string, line: number, col0: number): Expr {
  const toks = tokenizeExpr(text, line, col0);
  let p = 0;
  const endCol = col0 + text.length;
  const peek = () => toks[p];
  const primary = (): Expr => {
    const t = toks[p];
    if (!t) throw new AsmError("missing operand in expression", line, endCol, "an expression ended too early");
    p++;
    if (t.t === "num") return { kind: "num", value: t.v! };
    if (t.t === "dot") return { kind: "dot" };
    if (t.t.startsWith("sym:")) return { kind: "sym", name: t.t.slice(4), column: t.col };
    if (t.t === "-" || t.t === "~" || t.t === "!" || t.t === "+") return { kind: "un", op: t.t, a: primary() };
    if (t.t === "(") {
      const e = level(0);
      if (peek()?.t !== ")") throw new AsmError("missing ')' in expression", line, peek()?.col ?? endCol);
      p++;
      return e;
    }
    throw new AsmError(`unexpected '${t.t}' in expression`, line, t.col);
  };
  const level = (n: number): Expr => {
    if (n >= LEVELS.length) return primary();
    let a = level(n + 1);
    for (;;) {
      const t = peek();
      if (!t || !LEVELS[n]!.includes(t.t)) return a;
      p++;
      a = { kind: "bin", op: t.t, a, b: level(n + 1) };
    }
  };
  const e = level(0);
  if (p < toks.length) throw new AsmError(`unexpected '${toks[p]!.t.replace(/^sym:/, "")}' after expression`, line, toks[p]!.col);
  return e;
}

/** Rewrite symbol names (numeric local labels 1b/1f become unique names). */
export function renameSymbols(e: Expr, rename: (name: string) => string): Expr {
  switch (e.kind) {
    case "sym": return { ...e, name: rename(e.name) };
    case "un": return { ...e, a: renameSymbols(e.a, rename) };
    case "bin": return { ...e, a: renameSymbols(e.a, rename), b: renameSymbols(e.b, rename) };
    default: return e;
  }
}

/** Symbols an expression mentions (for "is this a label reference" decisions). */
export function symbolsOf(e: Expr, out: string[] = []): string[] {
  if (e.kind === "sym") out.push(e.name);
  else if (e.kind === "un") symbolsOf(e.a, out);
  else if (e.kind === "bin") (symbolsOf(e.a, out), symbolsOf(e.b, out));
  return out;
}

export function mentionsDot(e: Expr): boolean {
  if (e.kind === "dot") return true;
  if (e.kind === "un") return mentionsDot(e.a);
  if (e.kind === "bin") return mentionsDot(e.a) || mentionsDot(e.b);
  return false;
}

/** Evaluate; returns undefined when a symbol is not defined (the caller decides if that is an error). */
export function evalExpr(e: Expr, ctx: ExprContext): bigint | undefined {
  switch (e.kind) {
    case "num": return e.value;
    case "dot": return ctx.dot;
    case "sym": return ctx.lookup(e.name);
    case "un": {
      const a = evalExpr(e.a, ctx);
      if (a === undefined) return undefined;
      return e.op === "-" ? -a : e.op === "~" ? ~a : e.op === "!" ? (a === 0n ? 1n : 0n) : a;
    }
    case "bin": {
      const a = evalExpr(e.a, ctx);
      const b = evalExpr(e.b, ctx);
      if (a === undefined || b === undefined) return undefined;
      switch (e.op) {
        case "+": return a + b;
        case "-": return a - b;
        case "*": return a * b;
        case "/": return b === 0n ? 0n : a / b;
        case "%": return b === 0n ? 0n : a % b;
        case "<<": return b < 0n || b > 64n ? 0n : a << b;
        case ">>": return b < 0n || b > 64n ? 0n : a >> b;
        case "|": return a | b;
        case "&": return a & b;
        case "^": return a ^ b;
        case "!": return a | ~b; // GNU "or not"
        case "==": return a === b ? -1n : 0n;
        case "!=": case "<>": return a !== b ? -1n : 0n;
        case "<": return a < b ? -1n : 0n;
        case ">": return a > b ? -1n : 0n;
        case "<=": return a <= b ? -1n : 0n;
        case ">=": return a >= b ? -1n : 0n;
        case "&&": return a !== 0n && b !== 0n ? 1n : 0n;
        default: return a !== 0n || b !== 0n ? 1n : 0n;
      }
    }
  }
}

/** Name of the first undefined symbol in `e`, for error messages. */
export function firstUndefined(e: Expr, ctx: ExprContext): { name: string; column: number } | undefined {
  if (e.kind === "sym") return ctx.lookup(e.name) === undefined ? { name: e.name, column: e.column } : undefined;
  if (e.kind === "un") return firstUndefined(e.a, ctx);
  if (e.kind === "bin") return firstUndefined(e.a, ctx) ?? firstUndefined(e.b, ctx);
  return undefined;
}
