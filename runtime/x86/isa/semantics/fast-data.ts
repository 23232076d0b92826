// The fast path's templates for data operations (SDM Vol. 2 pages: MOV, MOVZX/MOVSX, LEA,
// ADD..CMP, TEST, INC/DEC, NOT/NEG, SHL/SHR/SAR, SETcc/CMOVcc, XCHG, CBW/CWD, NOP): each emits one
// instruction's JavaScript into a Gen (fast-gen.ts), or returns false for a shape it leaves to the
// BigInt semantics.

import type { X86Operand } from "../types.js";
import { addSub, effectiveAddress, logic, MASK, read, record, sizeOf, write, type Template, type Val } from "./fast-gen.js";

const CC_ADD = 1, CC_ADC = 2, CC_SUB = 3, CC_SBB = 4, CC_LOGIC = 5, CC_INC = 6, CC_DEC = 7;

/** ALU op index = ModRM.reg of 80/81/83: add, or, adc, sbb, and, sub, xor, cmp. */
const alu: Template = (g, insn) => {
  const [dst, src] = insn.operands as [X86Operand, X86Operand];
  const size = sizeOf(dst);
  const a = read(g, dst);
  const b = read(g, src, size);
  if (!a || !b) return false;
  const k = insn.spec.arg!;
  let r: Val;
  let kind: number;
  let ci: string | undefined;
  if (k === 2 || k === 3) {
    ci = g.v("ci");
    g.emit(`const ${ci} = c.cf();`);
  }
  switch (k) {
    case 0: r = addSub(g, size, a, b, false); kind = CC_ADD; break;
    case 2: r = addSub(g, size, a, b, false, ci); kind = CC_ADC; break;
    case 3: r = addSub(g, size, a, b, true, ci); kind = CC_SBB; break;
    case 5: case 7: r = addSub(g, size, a, b, true); kind = CC_SUB; break;
    default: r = logic(g, size, a, b, k === 1 ? "|" : k === 4 ? "&" : "^"); kind = CC_LOGIC;
  }
  if (k !== 7 && !write(g, dst, r.lo, r.hi, a.ea)) return false;
  record(g, kind, size, r, kind === CC_LOGIC ? null : a, kind === CC_LOGIC ? null : b, ci);
  return true;
};

const test: Template = (g, insn) => {
  const [dst, src] = insn.operands as [X86Operand, X86Operand];
  const size = sizeOf(dst);
  const a = read(g, dst);
  const b = read(g, src, size);
  if (!a || !b) return false;
  record(g, CC_LOGIC, size, logic(g, size, a, b, "&"), null, null);
  return true;
};

/** arg 0 = inc, 1 = dec; CF is preserved. */
const incdec: Template = (g, insn) => {
  const dst = insn.operands[0]!;
  const size = sizeOf(dst);
  const a = read(g, dst);
  if (!a) return false;
  const one: Val = { lo: "1", hi: "0" };
  const r = addSub(g, size, a, one, insn.spec.arg === 1);
  if (!write(g, dst, r.lo, r.hi, a.ea)) return false;
  const ci = g.v("ci");
  g.emit(`const ${ci} = c.cf();`);
  record(g, insn.spec.arg === 1 ? CC_DEC : CC_INC, size, r, a, one, ci);
  return true;
};

const neg: Template = (g, insn) => {
  const dst = insn.operands[0]!;
  const size = sizeOf(dst);
  const a = read(g, dst);
  if (!a) return false;
  const zero: Val = { lo: "0", hi: "0" };
  const r = addSub(g, size, zero, a, true);
  if (!write(g, dst, r.lo, r.hi, a.ea)) return false;
  record(g, CC_SUB, size, r, zero, a);
  return true;
};

const not: Template = (g, insn) => {
  const dst = insn.operands[0]!;
  const size = sizeOf(dst);
  const a = read(g, dst);
  if (!a) return false;
  const lo = size === 4 || size === 8 ? `~${a.lo}` : `(~${a.lo}) & ${MASK[size]}`;
  return write(g, dst, lo, size === 8 ? `~${a.hi}` : "0", a.ea);
};

/** SHL/SAL (4, 6), SHR (5), SAR (7); rotates (0..3) stay on the BigInt semantics. A zero count
 * changes no flags (SDM "if the count is 0, the flags are not affected") and no value, but a
 * 32-bit register destination is still written, zero-extending it (SDM Vol. 1 3.4.1.1). */
const shift: Template = (g, insn) => {
  const k = insn.spec.arg!;
  if (k < 4) return false;
  const [dst, cnt] = insn.operands as [X86Operand, X86Operand];
  const size = sizeOf(dst);
  const a = read(g, dst);
  if (!a) return false;
  const cmask = size === 8 ? 63 : 31;
  let cn: string;
  let full = false;
  if (cnt.kind === "imm") {
    const n = Number(cnt.value) & cmask;
    if (n === 0) {
      if (size === 4 && dst.kind === "reg") g.emit(`R[${dst.reg + 16}] = 0;`);
      return true;
    }
    cn = String(n);
    full = true;
  } else {
    const n = read(g, cnt, 1);
    if (!n) return false;
    cn = g.v("n");
    g.emit(`const ${cn} = ${n.lo} & ${cmask};`);
    g.emit(`if (${cn} !== 0) {`);
  }
  const r = g.v("r");
  if (size === 8) g.emit(`const ${r} = c.${k === 5 ? "shr" : k === 7 ? "sar" : "shl"}64(${a.lo}, ${a.hi}, ${cn}), ${r}h = c.t;`);
  else {
    const m = size === 4 ? "" : ` & ${MASK[size]}`;
    const sx = size === 1 ? `((${a.lo} << 24) >> 24)` : size === 2 ? `((${a.lo} << 16) >> 16)` : a.lo;
    const e = k === 5 ? `(${size === 4 ? `(${a.lo} >>> 0)` : a.lo} >>> ${cn}) | 0` : k === 7 ? `(${sx} >> ${cn})${m}` : `(${a.lo} << ${cn})${m}`;
    g.emit(`const ${r} = ${e};`);
  }
  if (!write(g, dst, r, size === 8 ? `${r}h` : "0", a.ea)) return false;
  g.shiftFlags = { line: g.out.length, full };
  g.emit(`c.fl = c.shiftFlags(${k}, ${a.lo}, ${a.hi}, ${cn}, ${size}); c.cc = 0;`);
  if (!full) g.emit(size === 4 && dst.kind === "reg" ? `} else R[${dst.reg + 16}] = 0;` : "}");
  return true;
};

const setcc: Template = (g, insn) => write(g, insn.operands[0]!, `(c.cond(${insn.spec.arg}) ? 1 : 0)`, "0");

/** CMOVcc reads its source always; a 32-bit destination is zero-extended even when not moved. */
const cmovcc: Template = (g, insn) => {
  const [dst, src] = insn.operands as [X86Operand, X86Operand];
  if (dst.kind !== "reg") return false;
  const v = read(g, src);
  if (!v) return false;
  g.emit(`if (c.cond(${insn.spec.arg})) {`);
  write(g, dst, v.lo, v.hi);
  g.emit(dst.size === 4 ? `} else R[${dst.reg + 16}] = 0;` : "}");
  return true;
};

const mov: Template = (g, insn) => {
  const [dst, src] = insn.operands as [X86Operand, X86Operand];
  const size = sizeOf(dst);
  const v = read(g, src, size);
  if (!v) return false;
  if (src.kind === "sreg" && size !== 2) return write(g, dst, v.lo, "0");
  return write(g, dst, v.lo, size === 8 ? v.hi : "0");
};

const movzx: Template = (g, insn) => {
  const [dst, src] = insn.operands as [X86Operand, X86Operand];
  const v = read(g, src);
  return !!v && write(g, dst, v.lo, "0");
};

const movsx: Template = (g, insn) => {
  const [dst, src] = insn.operands as [X86Operand, X86Operand];
  const v = read(g, src);
  if (!v) return false;
  const ss = sizeOf(src);
  const sx = g.v("s");
  g.emit(`const ${sx} = ${ss === 1 ? `(${v.lo} << 24) >> 24` : ss === 2 ? `(${v.lo} << 16) >> 16` : `${v.lo} | 0`};`);
  const ds = sizeOf(dst);
  return write(g, dst, ds === 2 ? `${sx} & 65535` : sx, ds === 8 ? `${sx} >> 31` : "0");
};

const lea: Template = (g, insn) => {
  const [dst, src] = insn.operands as [X86Operand, X86Operand];
  if (src.kind !== "mem") return false;
  const [lo, hi] = effectiveAddress(g, src);
  const ds = sizeOf(dst);
  return write(g, dst, ds === 2 ? `${lo} & 65535` : `${lo} | 0`, ds === 8 ? hi : "0");
};

const nop: Template = () => true;

/** XCHG: the memory side (if any) is written first so a fault leaves the register untouched. */
const xchg: Template = (g, insn) => {
  const [a, b] = insn.operands as [X86Operand, X86Operand];
  const va = read(g, a);
  const vb = read(g, b);
  if (!va || !vb) return false;
  if (a.kind === "mem") return write(g, a, vb.lo, vb.hi, va.ea) && write(g, b, va.lo, va.hi, vb.ea);
  return write(g, b, va.lo, va.hi, vb.ea) && write(g, a, vb.lo, vb.hi, va.ea);
};

/** CBW/CWDE/CDQE: sign-extend the low half of rAX into rAX. */
const cbw: Template = (g, insn) => {
  const size = insn.operandSize;
  const rax: X86Operand = { kind: "reg", reg: 0, size };
  if (size === 2) return write(g, rax, `((R[0] << 24) >> 24) & 65535`, "0");
  if (size === 4) return write(g, rax, `(R[0] << 16) >> 16`, "0");
  return write(g, rax, "R[0]", "(R[0] >> 31)");
};

/** CWD/CDQ/CQO: rDX = the sign of rAX. */
const cwd: Template = (g, insn) => {
  const size = insn.operandSize;
  const rdx: X86Operand = { kind: "reg", reg: 2, size };
  const t = g.v("s");
  if (size === 2) g.emit(`const ${t} = (R[0] & 0x8000) !== 0 ? 65535 : 0;`);
  else g.emit(`const ${t} = ${size === 4 ? "R[0]" : "R[16]"} >> 31;`);
  return write(g, rdx, t, t);
};

/** The data templates by semantics name (X86Spec.sem). */
export const DATA_TEMPLATES: Readonly<Record<string, Template>> = { alu, test, incdec, neg, not, shift, setcc, cmovcc, mov, movzx, movsx, lea, nop, xchg, cbw, cwd };
