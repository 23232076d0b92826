// AT&T operands as GNU as reads them: %reg, $imm, [%seg:]disp(base,index,scale), bare expressions
// (memory or branch targets), `*` for indirect branches.

import type { X86Seg } from "../../env.js";
import { AsmError } from "../../../core/errors.js";
import { GPR16, GPR32, GPR64, GPR8, GPR8_HIGH, SEG_ORDER, type RegSize } from "../types.js";
import { parseExpr, type Expr } from "../../../core/asm-expr.js";

export type AsmRegister =
  | { kind: "reg"; reg: number; size: RegSize; high8?: boolean; name: string }
  | { kind: "sreg"; seg: X86Seg; n: number; name: string }
  | { kind: "cr"; n: number; name: string }
  | { kind: "dr"; n: number; name: string }
  | { kind: "rip"; size: 4 | 8; name: string };

export type AsmOperand = (
  | AsmRegister
  | { kind: "imm"; expr: Expr }
  | {
      kind: "mem";
      seg?: X86Seg;
      base?: Extract<AsmRegister, { kind: "reg" }>;
      index?: Extract<AsmRegister, { kind: "reg" }>;
      scale: 1 | 2 | 4 | 8;
      disp?: Expr;
      rip?: 4 | 8;
    }
  | { kind: "expr"; expr: Expr; seg?: X86Seg }
) & { indirect?: boolean; column: number; text: string };

export const REGISTERS = new Map<string, AsmRegister>();
GPR64.forEach((n, i) => REGISTERS.set(n, { kind: "reg", reg: i, size: 8, name: n }));
GPR32.forEach((n, i) => REGISTERS.set(n, { kind: "reg", reg: i, size: 4, name: n }));
GPR16.forEach((n, i) => REGISTERS.set(n, { kind: "reg", reg: i, size: 2, name: n }));
GPR8.forEach((n, i) => REGISTERS.set(n, { kind: "reg", reg: i, size: 1, name: n }));
GPR8_HIGH.forEach((n, i) => REGISTERS.set(n, { kind: "reg", reg: i, size: 1, high8: true, name: n }));
for (let i = 8; i < 16; i++) REGISTERS.set(`r${i}l`, { kind: "reg", reg: i, size: 1, name: `r${i}l` });
SEG_ORDER.forEach((s, i) => REGISTERS.set(s, { kind: "sreg", seg: s, n: i, name: s }));
for (const n of [0, 2, 3, 4, 8]) REGISTERS.set(`cr${n}`, { kind: "cr", n, name: `cr${n}` });
for (let n = 0; n < 8; n++) {
  REGISTERS.set(`db${n}`, { kind: "dr", n, name: `db${n}` });
  REGISTERS.set(`dr${n}`, { kind: "dr", n, name: `dr${n}` });
}
REGISTERS.set("rip", { kind: "rip", size: 8, name: "rip" });
REGISTERS.set("eip", { kind: "rip", size: 4, name: "eip" });

/** Closest known name by edit distance (for "did you mean" hints). */
export function nearest(word: string, names: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const d = editDistance(word, n);
    if (d < bestD) (bestD = d), (best = n);
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 4) return 99;
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return dp[b.length]!;
}

export function parseRegister(text: string, line: number, col: number): AsmRegister {
  const name = text.slice(1).trim().toLowerCase();
  const r = REGISTERS.get(name);
  if (!r) {
    const near = nearest(name, REGISTERS.keys());
    throw new AsmError(`bad register name \`%${name}'`, line, col, near ? `did you mean %${near}?` : "x86 registers are %rax..%r15, %eax.., %ax.., %al.., %cs..%gs, %cr0..%cr8, %db0..%db7");
  }
  return r;
}

/** Split an operand list at top-level commas; returns [text, column] pairs. */
export function splitOperands(text: string, col0: number): [string, number][] {
  const out: [string, number][] = [];
  let depth = 0;
  let start = 0;
  let quote = false;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (c === '"' && text[i - 1] !== "\\") quote = !quote;
    if (quote && i < text.length) continue;
    if (c === "(") depth++;
    else if (c === ")") depth--;
    if (i === text.length || (c === "," && depth <= 0)) {
      const raw = text.slice(start, i);
      const lead = raw.length - raw.trimStart().length;
      out.push([raw.trim(), col0 + start + lead]);
      start = i + 1;
    }
  }
  return out.length === 1 && out[0]![0] === "" ? [] : out;
}

export function parseOperand(raw: string, line: number, col: number, rename: (e: Expr) => Expr): AsmOperand {
  let text = raw;
  let c = col;
  let indirect = false;
  if (text.startsWith("*")) {
    indirect = true;
    text = text.slice(1).trimStart();
    c = col + (raw.length - text.length);
  }
  if (text === "") throw new AsmError("missing operand", line, col);
  const base = { indirect, column: col, text: raw };
  if (text.startsWith("$")) return { ...base, kind: "imm", expr: rename(parseExpr(text.slice(1), line, c + 1)) };
  let seg: X86Seg | undefined;
  const segm = /^%(es|cs|ss|ds|fs|gs)\s*:/i.exec(text);
  if (segm) {
    seg = segm[1]!.toLowerCase() as X86Seg;
    c += segm[0].length;
    text = text.slice(segm[0].length).trimStart();
  }
  if (text.startsWith("%") && !seg) {
    const r = parseRegister(text, line, c);
    return { ...base, ...r };
  }
  // disp(base,index,scale): the last parenthesised group holds registers or starts with a comma.
  const m = /\(([^()]*)\)\s*$/.exec(text);
  if (m && (/^\s*%/.test(m[1]!) || /^\s*,/.test(m[1]!))) {
    const dispText = text.slice(0, m.index).trim();
    const parts = m[1]!.split(",").map((s) => s.trim());
    const inner = c + m.index + 1;
    const reg = (s: string, what: string): Extract<AsmRegister, { kind: "reg" }> | undefined => {
      if (s === "") return undefined;
      if (!s.startsWith("%")) throw new AsmError(`${what} must be a register, found \`${s}'`, line, inner);
      const r = parseRegister(s, line, inner);
      if (r.kind === "rip") return undefined;
      if (r.kind !== "reg" || r.size === 1) throw new AsmError(`\`${s}' is not a valid ${what} register`, line, inner, "use a 64-bit (or 32-bit) general register such as %rax");
      return r;
    };
    const baseText = parts[0] ?? "";
    let rip: 4 | 8 | undefined;
    if (/^%[re]ip$/i.test(baseText)) rip = baseText.toLowerCase() === "%rip" ? 8 : 4;
    const b = rip ? undefined : reg(baseText, "base");
    const idx = parts.length > 1 ? reg(parts[1]!, "index") : undefined;
    let scale: 1 | 2 | 4 | 8 = 1;
    if (parts.length > 2 && parts[2] !== "") {
      const sv = Number(parts[2]);
      if (sv !== 1 && sv !== 2 && sv !== 4 && sv !== 8) throw new AsmError(`scale factor of ${parts[2]} is not 1, 2, 4 or 8`, line, inner);
      scale = sv;
    }
    if (parts.length > 3) throw new AsmError("too many parts in memory operand", line, inner, "the form is disp(base,index,scale)");
    if (rip && idx) throw new AsmError("%rip-relative addressing takes no index register", line, inner);
    if (idx && idx.reg === 4) throw new AsmError(`\`%${idx.name}' cannot be an index register`, line, inner, "%rsp/%esp is not encodable as an index; swap base and index if the scale is 1");
    if (b && idx && b.size !== idx.size) throw new AsmError(`base \`%${b.name}' and index \`%${idx.name}' differ in size`, line, inner);
    const disp = dispText ? rename(parseExpr(dispText, line, c)) : undefined;
    return { ...base, kind: "mem", seg, base: b, index: idx, scale, disp, rip };
  }
  return { ...base, kind: "expr", expr: rename(parseExpr(text, line, c)), seg };
}
