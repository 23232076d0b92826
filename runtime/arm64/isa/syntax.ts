// One syntax template per table entry drives both directions: the disassembler fills it with
// operand values, the assembler matches source text against it and collects operand values.
// Template language: see A64SpecDecl.syntax in types.ts.

import type { A64Ops, A64Spec } from "./types.js";
import { COND_NAMES, COND_SYNONYMS, EXTEND_NAMES, SHIFT_NAMES } from "./alu.js";
import { formatSysreg, parseSysreg, BARRIER_NAMES, PRFOP_NAMES, PSTATE_FIELDS } from "./sysnames.js";

export type SyntaxNode =
  | { t: "lit"; s: string }
  | { t: "reg"; field: string; kind: "R" | "X" | "W" | "V" | FpKind; sp: boolean }
  | { t: "imm"; name: string; fmt: "x" | "d" }
  | { t: "label"; name: string }
  | { t: "enum"; kind: EnumKind; name: string }
  | { t: "opt"; nodes: SyntaxNode[] };

/** SIMD&FP register operands of a fixed width: S (32), D (64), Q (128 bits); Arm ARM C1.2.5. */
export type FpKind = "S" | "D" | "Q";
const FP_KINDS = new Set<string>(["S", "D", "Q"]);

export type EnumKind = "cond" | "shift" | "ext" | "sysreg" | "sysop" | "barrier" | "pstate" | "prfop";
const ENUMS = new Set<string>(["cond", "shift", "ext", "sysreg", "sysop", "barrier", "pstate", "prfop"]);

export interface ParsedSyntax {
  mnemonic: SyntaxNode[];
  operands: SyntaxNode[];
}

function parseNodes(s: string, where: string): SyntaxNode[] {
  const stack: SyntaxNode[][] = [[]];
  let i = 0;
  const push = (n: SyntaxNode) => stack[stack.length - 1]!.push(n);
  while (i < s.length) {
    const c = s[i]!;
    if (c === "<") {
      const end = s.indexOf(">", i);
      if (end < 0) throw new Error(`${where}: unterminated < in syntax`);
      const body = s.slice(i + 1, end);
      i = end + 1;
      const reg = /^([RXWVSDQ])(d|n|m|t|t2|a|s)(\|sp)?$/.exec(body);
      if (reg) push({ t: "reg", field: "R" + reg[2], kind: reg[1] as "R", sp: !!reg[3] });
      else if (body === "label") push({ t: "label", name: "target" });
      else if (ENUMS.has(body)) push({ t: "enum", kind: body as EnumKind, name: body });
      else {
        const [name, fmt] = body.split(":");
        push({ t: "imm", name: name!, fmt: fmt === "d" ? "d" : "x" });
      }
      continue;
    }
    if (c === "{") { stack.push([]); i++; continue; }
    if (c === "}") {
      const nodes = stack.pop();
      if (!nodes || stack.length === 0) throw new Error(`${where}: unbalanced } in syntax`);
      push({ t: "opt", nodes });
      i++;
      continue;
    }
    const top = stack[stack.length - 1]!;
    const last = top[top.length - 1];
    if (last?.t === "lit") last.s += c;
    else push({ t: "lit", s: c });
    i++;
  }
  if (stack.length !== 1) throw new Error(`${where}: unbalanced { in syntax`);
  return stack[0]!;
}

export function parseSyntax(syntax: string, where: string): ParsedSyntax {
  const sp = /[ {]/.exec(syntax)?.index ?? -1;
  const mn = sp < 0 ? syntax : syntax.slice(0, sp);
  const ops = sp < 0 ? "" : syntax.slice(syntax[sp] === " " ? sp + 1 : sp);
  return { mnemonic: parseNodes(mn, where), operands: parseNodes(ops, where) };
}

// ---------------------------------------------------------------- formatting (disassembler)

export function regName(n: number, width: number, sp: boolean): string {
  if (n === 31) return sp ? (width === 64 ? "sp" : "wsp") : width === 64 ? "xzr" : "wzr";
  return (width === 64 ? "x" : "w") + n;
}

function regWidth(node: { field: string; kind: string }, ops: A64Ops): number {
  if (node.kind === "X") return 64;
  if (node.kind === "W") return 32;
  if (node.kind === "V") return Number(ops["w:" + node.field] ?? 64n);
  return ops.sf === 0n ? 32 : 64;
}

function hexOf(v: bigint): string {
  return (v < 0n ? "-0x" + (-v).toString(16) : "0x" + v.toString(16));
}

function formatEnum(kind: EnumKind, v: bigint, spec: A64Spec): string {
  const n = Number(v);
  switch (kind) {
    case "cond": return COND_NAMES[n & 15]!;
    case "shift": return SHIFT_NAMES[n & 3]!;
    case "ext": return n === 8 ? "lsl" : EXTEND_NAMES[n & 7]!;
    case "sysreg": return formatSysreg(n);
    case "pstate": return PSTATE_FIELDS[n] ?? `#${n}`;
    case "barrier": return BARRIER_NAMES[n] ?? `#0x${n.toString(16)}`;
    case "prfop": return PRFOP_NAMES[n] ?? `#0x${n.toString(16).padStart(2, "0")}`;
    case "sysop": {
      for (const [name, code] of Object.entries(spec.sysops ?? {})) if (code === n) return name;
      return `#${n}`;
    }
  }
}

function allUndefined(nodes: SyntaxNode[], ops: A64Ops): boolean {
  for (const n of nodes) {
    if (n.t === "lit") continue;
    if (n.t === "opt") { if (!allUndefined(n.nodes, ops)) return false; continue; }
    const key = n.t === "reg" ? n.field : n.name;
    if (ops[key] !== undefined) return false;
  }
  return true;
}

export function formatNodes(nodes: SyntaxNode[], ops: A64Ops, spec: A64Spec): string {
  let out = "";
  for (const n of nodes) {
    switch (n.t) {
      case "lit": out += n.s; break;
      case "reg": out += FP_KINDS.has(n.kind) ? n.kind.toLowerCase() + Number(ops[n.field] ?? 0n) : regName(Number(ops[n.field] ?? 0n), regWidth(n, ops), n.sp); break;
      case "imm": {
        const v = ops[n.name] ?? 0n;
        out += n.fmt === "d" ? v.toString() : hexOf(v);
        break;
      }
      case "label": out += "0x" + (ops.target ?? 0n).toString(16); break;
      case "enum": out += formatEnum(n.kind, ops[n.name] ?? 0n, spec); break;
      case "opt": if (!allUndefined(n.nodes, ops)) out += formatNodes(n.nodes, ops, spec); break;
    }
  }
  return out;
}

// ---------------------------------------------------------------- matching (assembler)

export interface MatchContext {
  spec: A64Spec;
  /** Evaluate an immediate/label expression at source column `col` (throws AsmError). */
  evaluate(text: string, col: number): bigint;
  /** Farthest failure seen, for the error message. */
  fail: { pos: number; msg: string; hint?: string; error?: Error };
}

const REG_RE = /^([a-z][a-z0-9]*)/i;

/** Parse a general-purpose register name → number and width, or undefined. */
export function parseReg(name: string): { n: number; width: number; sp: boolean; zr: boolean } | undefined {
  const s = name.toLowerCase();
  if (s === "sp") return { n: 31, width: 64, sp: true, zr: false };
  if (s === "wsp") return { n: 31, width: 32, sp: true, zr: false };
  if (s === "xzr") return { n: 31, width: 64, sp: false, zr: true };
  if (s === "wzr") return { n: 31, width: 32, sp: false, zr: true };
  if (s === "lr") return { n: 30, width: 64, sp: false, zr: false };
  if (s === "fp") return { n: 29, width: 64, sp: false, zr: false };
  // GNU as (tc-aarch64.c reg_names): ip0/ip1 are the intra-procedure-call registers x16/x17
  if (s === "ip0" || s === "ip1") return { n: s === "ip0" ? 16 : 17, width: 64, sp: false, zr: false };
  const m = /^([xw])(\d+)$/.exec(s);
  if (!m || (m[2]!.length > 1 && m[2]![0] === "0")) return undefined;
  const n = Number(m[2]);
  if (n > 30) return undefined;
  return { n, width: m[1] === "x" ? 64 : 32, sp: false, zr: false };
}

function failAt(ctx: MatchContext, pos: number, msg: string, hint?: string): false {
  if (pos >= ctx.fail.pos) ctx.fail = { pos, msg, hint };
  return false;
}

function skipWs(text: string, pos: number): number {
  while (pos < text.length && (text[pos] === " " || text[pos] === "\t")) pos++;
  return pos;
}

/** End of an expression operand: the first `,` `]` `!` outside parentheses. */
function exprEnd(text: string, pos: number): number {
  let depth = 0;
  for (let i = pos; i < text.length; i++) {
    const c = text[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (depth <= 0 && (c === "," || c === "]" || c === "!")) return i;
  }
  return text.length;
}

type Cont = (pos: number, ops: A64Ops) => boolean;

/**
 * Match `nodes[i..]` against `text` from `pos` (col0 = source column of text[0]), calling `k`
 * at the end; backtracks over optional groups.
 */
export function matchNodes(nodes: SyntaxNode[], i: number, text: string, pos: number, ops: A64Ops, ctx: MatchContext, col0: number, k: Cont): boolean {
  if (i === nodes.length) return k(pos, ops);
  const n = nodes[i]!;
  const next = (p: number, o: A64Ops) => matchNodes(nodes, i + 1, text, p, o, ctx, col0, k);
  switch (n.t) {
    case "lit": {
      let p = pos;
      for (const c of n.s) {
        if (c === " ") { p = skipWs(text, p); continue; }
        p = skipWs(text, p);
        if (c === "#" && text[p] !== "#") continue; // GNU as: '#' before an immediate is optional
        if (text[p]?.toLowerCase() !== c.toLowerCase()) return failAt(ctx, p, p >= text.length ? `expected '${c}'` : `expected '${c}' but found '${text[p]}'`);
        p++;
      }
      return next(p, ops);
    }
    case "opt": {
      const trial = { ...ops };
      if (matchNodes(n.nodes, 0, text, pos, trial, ctx, col0, (p, o) => next(p, o))) {
        Object.assign(ops, trial);
        return true;
      }
      return next(pos, ops);
    }
    case "reg": {
      const p = skipWs(text, pos);
      const m = REG_RE.exec(text.slice(p));
      if (FP_KINDS.has(n.kind)) {
        const f = m ? /^([bhsdqv])(\d+)$/i.exec(m[1]!) : null;
        const k = n.kind.toLowerCase();
        if (!f || Number(f[2]) > 31 || (f[2]!.length > 1 && f[2]![0] === "0")) return failAt(ctx, p, m ? `'${m[1]}' is not a SIMD&FP register` : "expected a register", `this operand is ${k}0-${k}31`);
        if (f[1]!.toLowerCase() !== k) return failAt(ctx, p, `expected a ${k} register, found ${m![1]}`, `this operand is ${k}0-${k}31`);
        return next(p + m![1]!.length, { ...ops, [n.field]: BigInt(f[2]!) });
      }
      const r = m ? parseReg(m[1]!) : undefined;
      if (!r) return failAt(ctx, p, m ? `'${m[1]}' is not a general-purpose register` : "expected a register", "registers are x0-x30, w0-w30, sp, xzr, wzr (fp, lr, ip0, ip1)");
      if (r.sp && !n.sp) return failAt(ctx, p, `${m![1]} is not allowed here`, "this operand takes xzr/wzr for register 31, not sp");
      if (r.zr && n.sp) return failAt(ctx, p, `${m![1]} is not allowed here`, "this operand takes sp for register 31, not the zero register");
      const o = { ...ops };
      if (n.kind === "X" && r.width !== 64) return failAt(ctx, p, `expected a 64-bit register, found ${m![1]}`);
      if (n.kind === "W" && r.width !== 32) return failAt(ctx, p, `expected a 32-bit register, found ${m![1]}`);
      if (n.kind === "R") {
        const sf = r.width === 64 ? 1n : 0n;
        if (o.sf !== undefined && o.sf !== sf) return failAt(ctx, p, `register width mismatch at ${m![1]}`, "use all x registers or all w registers");
        o.sf = sf;
      }
      if (n.kind === "V") o["w:" + n.field] = BigInt(r.width);
      o[n.field] = BigInt(r.n);
      return next(p + m![1]!.length, o);
    }
    case "imm":
    case "label": {
      const p = skipWs(text, pos);
      const end = exprEnd(text, p);
      const src = text.slice(p, end).trimEnd();
      if (!src) return failAt(ctx, p, n.t === "imm" ? "expected an immediate" : "expected a label or address");
      if (n.t === "imm" && REG_RE.test(src) && parseReg(REG_RE.exec(src)![1]!) && REG_RE.exec(src)![1]!.length === src.length) return failAt(ctx, p, `expected an immediate, found register ${src}`);
      let v: bigint;
      let s = src;
      let lo12 = false;
      if (/^:lo12:/i.test(s)) { lo12 = true; s = s.slice(6); }
      try {
        v = ctx.evaluate(s, col0 + p + (lo12 ? 6 : 0));
      } catch (e) {
        // an expression error is more telling than "expected '['" from another form at this spot
        const err = e instanceof Error ? e : new Error(String(e));
        if (p + 0.5 >= ctx.fail.pos) ctx.fail = { pos: p + 0.5, msg: err.message, error: err };
        return false;
      }
      if (lo12) v &= 0xfffn;
      const o = { ...ops, [n.name]: v };
      if (lo12) o["lo12"] = 1n;
      return next(end, o);
    }
    case "enum": {
      const p = skipWs(text, pos);
      const m = /^(#?[a-z0-9_]+)/i.exec(text.slice(p));
      // barrier and prefetch options may be numbers, with or without '#', in decimal or hex (GNU as)
      const number = (w: string, limit: number): number => {
        const t = /^#?(0x[0-9a-f]+|\d+)$/.exec(w);
        const x = t ? Number(t[1]) : -1;
        return x >= 0 && x < limit ? x : -1;
      };
      if (!m) return failAt(ctx, p, `expected ${n.kind === "sysop" ? "an operation name" : "a " + n.kind + " name"}`);
      const word = m[1]!.toLowerCase();
      let v: number | undefined;
      switch (n.kind) {
        case "cond": v = COND_NAMES.indexOf(word); if (v < 0) v = COND_SYNONYMS[word]; break;
        case "shift": v = SHIFT_NAMES.indexOf(word); break;
        case "ext": v = word === "lsl" ? 8 : EXTEND_NAMES.indexOf(word); break;
        case "sysreg": v = parseSysreg(word); break;
        case "pstate": v = PSTATE_FIELDS.indexOf(word); break;
        case "barrier": {
          v = BARRIER_NAMES.indexOf(word);
          if (v < 0) v = number(word, 16);
          break;
        }
        case "sysop": v = ctx.spec.sysops?.[word]; break;
        case "prfop": {
          v = PRFOP_NAMES.indexOf(word);
          if (v < 0) v = number(word, 32);
          break;
        }
      }
      if (v === undefined || v < 0) {
        const what = n.kind === "sysreg" ? "system register" : n.kind === "sysop" ? `${ctx.spec.key} operation` : n.kind;
        return failAt(ctx, p, `unknown ${what} '${word}'`, n.kind === "sysop" ? `known: ${Object.keys(ctx.spec.sysops ?? {}).join(", ")}` : undefined);
      }
      return next(p + word.length, { ...ops, [n.name]: BigInt(v) });
    }
  }
}
