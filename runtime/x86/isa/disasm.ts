// AT&T syntax disassembly in the style of GNU objdump (binutils 2.40 i386-dis.c): operands in
// reverse Intel order, `%reg`, `$imm` as unsigned hex of the operand size, `disp(base,index,scale)`,
// a size suffix only where no register operand tells the size, branch targets as absolute
// addresses (`0x...`, where objdump also prints `<symbol>`; objdump omits `0x` only when a symbol
// table is present — we always print it so the text re-assembles).

import { hex } from "../../core/bits.js";
import type { OperandForm, X86Insn, X86Operand, X86Spec } from "./types.js";
import { ADDRESS_SIZE_IGNORED, GPR16, GPR32, GPR64, regName } from "./types.js";

const SUFFIX: Record<number, string> = { 1: "b", 2: "w", 4: "l", 8: "q" };

/** Instructions whose operand size is only visible as a suffix (objdump: retw, lretw, popfw). */
const STACK_SIZED = new Set(["ret", "retfar", "leave", "pushf", "popf", "pushseg", "popseg", "call", "jmp", "callind", "jmpind"]);

/** Forms whose register operand tells objdump (and GNU as) the operation size. */
const SIZING_REG_FORMS = new Set<OperandForm>(["Gb", "Gw", "Gv", "Gy", "Zb", "Zv", "AL", "rAX", "eAX", "Rv", "Ry"]);

function maskBytes(v: bigint, n: number): bigint {
  return v & ((1n << BigInt(n * 8)) - 1n);
}

function addrReg(reg: number, addrSize: number): string {
  return "%" + (addrSize === 8 ? GPR64[reg]! : addrSize === 4 ? GPR32[reg]! : GPR16[reg]!);
}

export function formatMemory(m: Extract<X86Operand, { kind: "mem" }>, forceSeg = false): string {
  const seg = m.segOverride || forceSeg ? `%${m.seg}:` : "";
  if (m.ripRelative) {
    const d = m.disp < 0n ? "-" + hex(-m.disp) : hex(m.disp);
    return `${seg}${d}(%${m.addrSize === 8 ? "rip" : "eip"})`;
  }
  if (m.base === null && m.index === null) {
    // objdump shows a 16-bit absolute displacement signed, 32/64-bit ones unsigned.
    if (m.addrSize === 2 && m.disp < 0n) return `${seg}-${hex(-m.disp)}`;
    return seg + hex(maskBytes(m.disp, m.addrSize));
  }
  let d = "";
  if (m.dispBytes > 0 || m.base === null) d = m.disp < 0n ? "-" + hex(-m.disp) : hex(m.disp);
  const parts: string[] = [m.base === null ? "" : addrReg(m.base, m.addrSize)];
  if (m.index !== null) parts.push(addrReg(m.index, m.addrSize));
  if (m.index !== null && m.addrSize !== 2) parts.push(String(m.scale)); // 16-bit forms have no scale
  return `${seg}${d}(${parts.join(",")})`;
}

function formatOperand(insn: X86Insn, op: X86Operand, form: OperandForm, address: bigint): string | null {
  switch (op.kind) {
    case "reg":
      if (form === "DX") return "(%dx)";
      return "%" + regName(op.reg, op.size, op.high8);
    case "imm":
      if (form === "One") return null;
      return "$" + hex(maskBytes(op.value, op.size));
    case "mem":
      return formatMemory(op, form === "Xb" || form === "Xv" || form === "Yb" || form === "Yv" || form === "Bb");
    case "cr":
      return `%cr${op.n}`;
    case "dr":
      return `%db${op.n}`;
    case "sreg":
      return `%${op.seg}`;
    case "rel": {
      const width = insn.mode === "long64" ? 8 : insn.operandSize === 2 ? 2 : 4;
      return hex(maskBytes(address + BigInt(insn.length) + op.disp, width));
    }
    case "far":
      return `$${hex(BigInt(op.selector))},$${hex(op.offset)}`;
    case "xmm":
      return `%${op.ymm ? "ymm" : "xmm"}${op.n}`;
  }
}

/** Mnemonic with the size suffix objdump would print. */
export function mnemonicOf(insn: X86Insn): string {
  const spec = insn.spec;
  let m = spec.mnemonic;
  const forms = spec.operands;
  if (spec.map === 0 && spec.opcode === 0x63) return insn.operandSize === 8 ? "movslq" : "movsxd";
  // SSE forms: the mnemonic names the size (movd/movq), never a suffix.
  if (forms.some((f) => f === "Vx" || f === "Wx" || f === "Wq" || f === "Wd" || f === "Mx")) return m;
  if (spec.sem === "iret") {
    const def = insn.mode === "real" || insn.mode === "protected16" ? 2 : 4;
    return insn.operandSize === def ? "iret" : "iret" + SUFFIX[insn.operandSize]; // iretw, iretl (16-bit code), iretq
  }
  if (spec.sem === "sysret" || spec.sem === "sysexit") {
    // objdump: sysretl/sysretq (sysexitl/sysexitq) in 64-bit code, sysret (sysretl with 66 in 16-bit code) elsewhere.
    const def = insn.mode === "real" || insn.mode === "protected16" ? 2 : 4;
    return insn.mode === "long64" || insn.operandSize !== def ? m + SUFFIX[insn.operandSize] : m;
  }
  if (spec.sem === "loop") {
    const def = insn.mode === "long64" ? 8 : insn.mode === "real" || insn.mode === "protected16" ? 2 : 4;
    return insn.addressSize === def ? m : m + SUFFIX[insn.addressSize]; // loopl: the count register is ecx
  }
  if (spec.sem === "jrcxz") return insn.addressSize === 8 ? "jrcxz" : insn.addressSize === 4 ? "jecxz" : "jcxz";
  if (m === "mov" && insn.mode === "long64") {
    if (((forms.includes("Ov") || forms.includes("Ob")) && insn.addressSize === 8) || (forms[1] === "Iv" && insn.operandSize === 8)) m = "movabs";
  }
  if (spec.suffix === "always") {
    if (["movs", "cmps", "ins", "outs"].includes(spec.sem)) return m + SUFFIX[forms.includes("Yb") || forms.includes("Xb") ? 1 : insn.operandSize];
    return m + SUFFIX[insn.operandSize];
  }
  // objdump shows the operand size of lgdt/sidt... outside 64-bit mode (lgdtl, lgdtw).
  if (forms[0] === "Ms" && insn.mode !== "long64") return m + SUFFIX[insn.operandSize];
  const hasSizingReg = forms.some(
    (f, i) => SIZING_REG_FORMS.has(f) || f === "Sw" || ((f === "Ev" || f === "Eb" || f === "Ew" || f === "Ed") && insn.operands[i]?.kind === "reg"),
  );
  const defaultSize = insn.mode === "long64" && spec.size64 ? 8 : insn.mode === "real" || insn.mode === "protected16" ? 2 : 4;
  if (!hasSizingReg && insn.operandSize !== defaultSize && forms.some((f) => f === "Iz" || f === "Ibs" || f === "Ap" || f === "Ev" || f === "Mp")) {
    return m + SUFFIX[insn.operandSize]; // pushw $imm, ljmpw $sel,$off: the prefix changed the size
  }
  const relByte = forms[0] === "Jb";
  if (!hasSizingReg && !relByte && spec.osize === undefined && insn.operandSize !== defaultSize && STACK_SIZED.has(spec.sem)) {
    return m + SUFFIX[insn.operandSize]; // retw, leavew, pushfw, pushw %ds ...
  }
  if (spec.suffix === "never" || spec.size64 !== undefined || spec.sem === "setcc") return m;
  const memIndex = forms.findIndex((f, i) => (f === "Eb" || f === "Ev" || f === "Ew" || f === "Ed") && insn.operands[i]?.kind === "mem");
  if (memIndex < 0) return m;
  if (hasSizingReg) return m;
  const size = (insn.operands[memIndex] as { size: number }).size;
  return m + (SUFFIX[size] ?? "");
}

/**
 * The prefix word objdump prints for an address-size prefix (67h) whose effect the operands do not
 * show: `addr32`/`addr16` (binutils i386-dis.c, "addr32"/"addr16"), or "" when a base, index or
 * %rip/%eip register, a string operand or the mnemonic (loopl, jecxz) already tells the address
 * size. Without it `67 a0 disp32` (addr32 `mov moffs32,%al`) would print like `a0 disp64` and
 * re-assemble to the 8-byte-offset form; GNU as takes the word back (SDM Vol. 2 §2.1.1, Table 2-4
 * for moffs, whose size is the address size).
 */
function addressSizeWord(insn: X86Insn): string {
  if (!insn.prefixes.addrsize) return "";
  if (insn.spec.sem === "loop" || insn.spec.sem === "jrcxz" || ADDRESS_SIZE_IGNORED.has(insn.spec.sem)) return "";
  const shown = insn.operands.some((op) => op.kind === "mem" && (op.ripRelative || op.base !== null || op.index !== null));
  return shown ? "" : insn.addressSize === 2 ? "addr16 " : "addr32 ";
}

/** GNU objdump-style AT&T text for one decoded instruction at `address`. */
export function disassembleX86(insn: X86Insn, address: bigint): string {
  const spec = insn.spec;
  if (spec.sem === "ud" && spec.mnemonic === "(bad)") return "(bad)";
  let prefix = "";
  if (insn.prefixes.lock) prefix += "lock ";
  if (spec.rep === "rep" && insn.prefixes.rep) prefix += "rep ";
  if (spec.rep === "repz" && insn.prefixes.rep) prefix += "repz ";
  if (spec.rep === "repz" && insn.prefixes.repne) prefix += "repnz ";
  if (spec.rep === "rep" && insn.prefixes.repne) prefix += "repnz ";
  // objdump names the prefixes in the order of their bytes: 67 before F0/F2/F3 prints first
  const addr = addressSizeWord(insn);
  if (addr) {
    // the first of the printed lock/rep prefix bytes (all prefixes come before the opcode, so the
    // first occurrence of each byte is the prefix)
    const printed = [insn.prefixes.lock && 0xf0, prefix.includes("rep") && (insn.prefixes.rep ? 0xf3 : 0xf2)].filter((b): b is number => b !== false);
    const first = Math.min(...printed.map((b) => insn.bytes.indexOf(b)));
    prefix = first < insn.bytes.indexOf(0x67) ? prefix + addr : addr + prefix;
  }
  const texts: string[] = [];
  const indirect = spec.sem === "jmpind" || spec.sem === "callind" || spec.sem === "jmpfarind" || spec.sem === "callfarind";
  for (let i = insn.operands.length - 1; i >= 0; i--) {
    const t = formatOperand(insn, insn.operands[i]!, spec.operands[i]!, address);
    if (t !== null) texts.push(indirect ? "*" + t : t);
  }
  const m = mnemonicOf(insn);
  return prefix + (texts.length ? `${m} ${texts.join(",")}` : m);
}

const FORM_SHOWN: Partial<Record<OperandForm, string>> = {
  Eb: "r/m8", Ew: "r/m16", Ed: "r/m32", Ev: "r/m", Gb: "r8", Gw: "r16", Gv: "r", Gy: "r32/64", Ib: "$imm8", Iw: "$imm16",
  Iz: "$imm32", Iv: "$imm", Ibs: "$simm8", Jb: "rel8", Jz: "rel32", Zb: "r8", Zv: "r", AL: "%al", rAX: "%rax", eAX: "%eax",
  DX: "(%dx)", CL: "%cl", One: "1", Sw: "%sreg", Cy: "%crN", Dy: "%dbN", Ry: "r64", Rv: "r", M: "m", Mw: "m16", Ms: "m16&addr",
  Mp: "m16:32/64", Ob: "moffs8", Ov: "moffs", Ap: "$sel,$off", Xb: "%ds:(%rsi)", Xv: "%ds:(%rsi)", Yb: "%es:(%rdi)", Yv: "%es:(%rdi)",
  Vx: "xmm", Wx: "xmm/m128", Wq: "xmm/m64", Wd: "xmm/m32", Mx: "m128", Md: "m32", AX: "%ax",
};

/** One table entry as a manual would list it: opcode bytes and AT&T operand forms ("0f 22 /r  mov r64,%crN"). */
export function formatSpec(spec: X86Spec): string {
  const bytes: string[] = [];
  if (spec.prefix === 0xf3 || spec.prefix === 0xf2 || spec.prefix === 0x66) bytes.push(spec.prefix.toString(16));
  if (spec.prefix === "np") bytes.push("NP");
  if (spec.vex) bytes.unshift(spec.vexL === undefined ? "VEX" : `VEX.${spec.vexL ? 256 : 128}`);
  if (spec.map >= 1) bytes.push("0f");
  if (spec.map === 2) bytes.push("38");
  if (spec.map === 3) bytes.push("3a");
  bytes.push(spec.opcode.toString(16).padStart(2, "0") + (spec.plusReg ? "+r" : ""));
  if (spec.modrm) bytes.push(spec.rm !== undefined ? `/${spec.ext ?? 0} rm=${spec.rm}` : spec.ext !== undefined ? `/${spec.ext}` : "/r");
  const ops = [...spec.operands].reverse().map((f) => FORM_SHOWN[f] ?? `%${f.toLowerCase()}`);
  return `${bytes.join(" ").padEnd(14)}${spec.mnemonic}${ops.length ? " " + ops.join(",") : ""}`;
}
