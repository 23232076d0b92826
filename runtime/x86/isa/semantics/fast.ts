// Semantics of the common integer instructions, written once as JavaScript code templates over
// the decoded operands (SDM Vol. 2 pages: MOV, MOVZX/MOVSX, LEA, ADD..CMP, TEST, INC/DEC, NOT/NEG,
// SHL/SHR/SAR, Jcc/JMP/CALL/RET, PUSH/POP, SETcc/CMOVcc, NOP). The interpreter compiles one
// template per decoded instruction (cached by its source text); the block compiler concatenates
// the same templates into one function per basic block (also XCHG, LEAVE, CBW/CWD). Everything here works on the Number
// register file (runtime/x86/regs.ts): no BigInt, no allocation. Instructions (or operand shapes)
// without a template run on the BigInt semantics of the other files.
//
// Generated code sees: `c` (X86Regs: lazy flags, pc/npc, helpers), `R` (c.r, the GPR halves) and
// `m` (FastMem: memory through segmentation, paging and EPT; may throw a guest fault or VM exit).
// Memory accesses come before register commits, so a faulting instruction changes nothing.

import type { X86Insn, X86Operand } from "../types.js";
import { SEG_ORDER } from "../types.js";
import type { X86Regs } from "../../regs.js";

/** Memory for the fast path: offsets and values as int32 halves. */
export interface FastMem {
  /** Read `size` bytes at seg:offset; returns the low 32 bits (1/2 bytes: masked, 4/8: int32); the high half of an 8-byte read in `hi`. */
  rd(seg: number, lo: number, hi: number, size: number): number;
  wr(seg: number, lo: number, hi: number, size: number, vlo: number, vhi: number): void;
  hi: number;
}

export type FastFn = (c: X86Regs, R: Int32Array, m: FastMem) => void;

type MemOp = Extract<X86Operand, { kind: "mem" }>;

/** What a flag-setting instruction recorded: names of its values (constants or variables). */
export interface FlagsOut {
  kind: number;
  size: number;
  r: string;
  a: string | null;
  b: string | null;
  /** High halves (8-byte operations; "0" otherwise). */
  rh: string;
  ah: string;
  bh: string;
  ccf: string | null;
  /** Index in Gen.out of the statement that records the flags. */
  line: number;
}

/** Code generation state for one instruction. */
export class Gen {
  private n = 0;
  readonly out: string[] = [];
  /** Whether the code may throw (memory access): the block compiler commits rip before it. */
  faults = false;
  /** Whether the instruction assigns c.npc (a branch). */
  branches = false;
  /** The lazy flags this instruction records (all arithmetic flags), and the line that records them. */
  flags: FlagsOut | null = null;
  /** A shift's eager RFLAGS write: its line in out, and whether it always happens (constant count). */
  shiftFlags: { line: number; full: boolean } | null = null;
  /** The instruction stores to memory. */
  writes = false;
  /** Probe the data TLB inline (compiled blocks; the env is the machine's CPU). */
  inlineMem = false;

  constructor(
    readonly insn: X86Insn,
    /** Expression for this instruction's rip. */
    readonly pc: string,
    /** Prefix of variable names (unique per instruction within a block). */
    readonly tag = "",
  ) {}

  v(p = "t"): string {
    return `${p}${this.tag}${this.n++}`;
  }

  emit(s: string): void {
    this.out.push(s);
  }

  /** rip after a branch to `expr` (SDM: 16/32-bit operand sizes truncate EIP). */
  target(expr: string): string {
    const i = this.insn;
    if (i.mode === "long64" && i.operandSize !== 2) return `(${expr})`;
    return i.operandSize === 2 ? `((${expr}) & 65535)` : `((${expr}) >>> 0)`;
  }

  /** Address of the next instruction (unwrapped; used for relative targets and return addresses). */
  nextRaw(): string {
    return `(${this.pc} + ${this.insn.length})`;
  }
}

const MASK = [0, 0xff, 0xffff, 0, 0];

function fix(size: number): string {
  return size === 4 ? " | 0" : ` & ${MASK[size]}`;
}

interface Val {
  lo: string;
  hi: string;
  /** For memory operands: the effective address (reused by the write of a read-modify-write). */
  ea?: [string, string];
}

function lo32(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}

function hi32(v: bigint): number {
  return Number(BigInt.asIntN(32, BigInt.asIntN(64, v) >> 32n));
}

/** Effective address (offset within the segment) of a memory operand as (lo, hi) variables. */
function effectiveAddress(g: Gen, m: MemOp): [string, string] {
  const lo = g.v("e");
  const sh = Math.log2(m.scale);
  if (m.addrSize !== 8) {
    const terms: string[] = [];
    if (m.base !== null) terms.push(`R[${m.base}]`);
    if (m.index !== null) terms.push(sh ? `(R[${m.index}] << ${sh})` : `R[${m.index}]`);
    if (m.ripRelative) terms.push(g.nextRaw());
    if (m.disp !== 0n || terms.length === 0) terms.push(String(lo32(m.disp)));
    g.emit(`const ${lo} = (${terms.join(" + ")}) ${m.addrSize === 2 ? "& 65535" : ">>> 0"};`);
    return [lo, "0"];
  }
  const hi = g.v("e");
  const los: string[] = [];
  const his: string[] = [];
  if (m.base !== null) (los.push(`(R[${m.base}] >>> 0)`), his.push(`R[${m.base + 16}]`));
  if (m.index !== null) {
    const i = m.index;
    if (sh) (los.push(`((R[${i}] << ${sh}) >>> 0)`), his.push(`((R[${i + 16}] << ${sh}) | (R[${i}] >>> ${32 - sh}))`));
    else (los.push(`(R[${i}] >>> 0)`), his.push(`R[${i + 16}]`));
  }
  if (m.ripRelative) {
    const r = g.v("p");
    g.emit(`const ${r} = ${g.nextRaw()};`);
    los.push(`(${r} >>> 0)`);
    his.push(`Math.floor(${r} / 4294967296)`);
  }
  if (m.disp !== 0n || los.length === 0) (los.push(String(lo32(m.disp) >>> 0)), his.push(String(hi32(m.disp))));
  g.emit(`let ${lo} = ${los.join(" + ")};`);
  g.emit(`const ${hi} = (${his.join(" + ")} + Math.floor(${lo} / 4294967296)) | 0;`);
  g.emit(`${lo} = ${lo} >>> 0;`);
  return [lo, hi];
}

function segIndex(m: MemOp): number {
  return SEG_ORDER.indexOf(m.seg);
}

/** Read an operand into variables; null if this operand kind has no fast form. */
function read(g: Gen, op: X86Operand, size = sizeOf(op)): Val | null {
  switch (op.kind) {
    case "reg": {
      const t = g.v("a");
      const n = op.reg;
      if (size === 8) {
        g.emit(`const ${t} = R[${n}], ${t}h = R[${n + 16}];`);
        return { lo: t, hi: `${t}h` };
      }
      const e = size === 1 ? (op.high8 ? `(R[${n}] >> 8) & 255` : `R[${n}] & 255`) : size === 2 ? `R[${n}] & 65535` : `R[${n}]`;
      g.emit(`const ${t} = ${e};`);
      return { lo: t, hi: "0" };
    }
    case "imm": {
      const v = op.value & ((1n << BigInt(8 * size)) - 1n);
      if (size === 8) return { lo: String(lo32(v)), hi: String(hi32(v)) };
      return { lo: String(size === 4 ? lo32(v) : Number(v)), hi: "0" };
    }
    case "mem": {
      if (op.size !== 1 && op.size !== 2 && op.size !== 4 && op.size !== 8) return null;
      const ea = effectiveAddress(g, op);
      const v = memRead(g, segIndex(op), ea[0], ea[1], op.size);
      return { ...v, ea };
    }
    case "sreg": {
      const t = g.v("a");
      g.emit(`const ${t} = c.seg.${op.seg}.selector;`);
      return { lo: t, hi: "0" };
    }
    default:
      return null;
  }
}

/** Write (lo, hi) to an operand: 8/16-bit register writes merge, 32-bit writes zero-extend. */
function write(g: Gen, op: X86Operand, lo: string, hi: string, ea?: [string, string]): boolean {
  if (op.kind === "reg") {
    const n = op.reg;
    switch (op.size) {
      case 1:
        g.emit(op.high8 ? `R[${n}] = (R[${n}] & -65281) | ((${lo} & 255) << 8);` : `R[${n}] = (R[${n}] & -256) | (${lo} & 255);`);
        return true;
      case 2:
        g.emit(`R[${n}] = (R[${n}] & -65536) | (${lo} & 65535);`);
        return true;
      case 4:
        g.emit(`R[${n}] = ${lo}; R[${n + 16}] = 0;`);
        return true;
      default:
        g.emit(`R[${n}] = ${lo}; R[${n + 16}] = ${hi};`);
        return true;
    }
  }
  if (op.kind === "mem") {
    if (op.size !== 1 && op.size !== 2 && op.size !== 4 && op.size !== 8) return false;
    const [el, eh] = ea ?? effectiveAddress(g, op);
    memWrite(g, segIndex(op), el, eh, op.size, lo, hi);
    return true;
  }
  return false;
}

/**
 * Load `size` bytes at seg:(lo, hi) into fresh variables. In a compiled block (g.inlineMem) the
 * data TLB of the machine's CPU is probed inline (m.segBaseN, m.rKey, m.rArr: see cpu.ts) and
 * m.rd is called only on a miss; the interpreter always calls m.rd.
 */
function memRead(g: Gen, seg: number, lo: string, hi: string, size: number): Val {
  const t = g.v("a");
  g.faults = true;
  const call = `m.rd(${seg}, ${lo}, ${hi}, ${size})`;
  const lin = g.inlineMem ? linearExpr(g, seg, lo, hi) : null;
  if (!lin) {
    g.emit(`const ${t} = ${call};`);
    if (size === 8) g.emit(`const ${t}h = m.hi;`);
    return { lo: t, hi: size === 8 ? `${t}h` : "0" };
  }
  const [l, pg, k, o, A] = [g.v("l"), g.v("pg"), g.v("k"), g.v("o"), g.v("A")];
  g.emit(`const ${l} = ${lin}, ${pg} = Math.floor(${l} / 4096), ${k} = ${pg} & 255, ${o} = ${l} - ${pg} * 4096;`);
  g.emit(`let ${t}${size === 8 ? `, ${t}h` : ""};`);
  g.emit(`if (m.rKey[${k}] === ${pg} && ${o} <= ${4096 - size}) { const ${A} = m.rArr[${k}]; ${t} = ${loadBytes(A, o, 0, size)};${size === 8 ? ` ${t}h = ${loadBytes(A, o, 4, 4)};` : ""} }`);
  g.emit(`else { ${t} = ${call};${size === 8 ? ` ${t}h = m.hi;` : ""} }`);
  return { lo: t, hi: size === 8 ? `${t}h` : "0" };
}

/** Store `size` bytes at seg:(lo, hi); inline through the write TLB in a compiled block (see memRead). */
function memWrite(g: Gen, seg: number, lo: string, hi: string, size: number, vlo: string, vhi: string): void {
  g.faults = true;
  g.writes = true;
  const call = `m.wr(${seg}, ${lo}, ${hi}, ${size}, ${vlo}, ${vhi});`;
  const lin = g.inlineMem ? linearExpr(g, seg, lo, hi) : null;
  if (!lin) {
    g.emit(call);
    return;
  }
  const [l, pg, k, o, A, v, w] = [g.v("l"), g.v("pg"), g.v("k"), g.v("o"), g.v("A"), g.v("v"), g.v("w")];
  g.emit(`const ${l} = ${lin}, ${pg} = Math.floor(${l} / 4096), ${k} = ${pg} & 255, ${o} = ${l} - ${pg} * 4096;`);
  const st: string[] = [`const ${v} = ${vlo};`, `${A}[${o}] = ${v};`];
  if (size >= 2) st.push(`${A}[${o} + 1] = ${v} >> 8;`);
  if (size >= 4) st.push(`${A}[${o} + 2] = ${v} >> 16; ${A}[${o} + 3] = ${v} >> 24;`);
  if (size === 8) st.push(`const ${w} = ${vhi}; ${A}[${o} + 4] = ${w}; ${A}[${o} + 5] = ${w} >> 8; ${A}[${o} + 6] = ${w} >> 16; ${A}[${o} + 7] = ${w} >> 24;`);
  g.emit(`if (m.wKey[${k}] === ${pg} && ${o} <= ${4096 - size} && m.ownHook) { const ${A} = m.wArr[${k}]; ${st.join(" ")} }`);
  g.emit(`else ${call}`);
}

/** Linear address expression of seg:(lo, hi) for the inline TLB probe (NaN = miss), or null (always call). */
function linearExpr(g: Gen, seg: number, lo: string, hi: string): string | null {
  if (g.insn.mode === "long64") return seg >= 4 ? null : `((${hi} | 0) * 4294967296 + (${lo} >>> 0))`;
  // base + offset, both below 2^32, wrapped by one subtraction (% on doubles is slow); NaN stays NaN.
  const x = `(m.segBaseN[${seg}] + (${lo} >>> 0))`;
  return `(${x} >= 4294967296 ? ${x} - 4294967296 : ${x})`;
}

function loadBytes(A: string, o: string, at: number, size: number): string {
  const b = (i: number) => `${A}[${o} + ${at + i}]`;
  if (size === 1) return b(0);
  if (size === 2) return `(${b(0)} | (${b(1)} << 8))`;
  return `(${b(0)} | (${b(1)} << 8) | (${b(2)} << 16) | (${b(3)} << 24))`;
}

function sizeOf(op: X86Operand): number {
  return op.kind === "reg" || op.kind === "imm" || op.kind === "mem" ? op.size : 2;
}

/** Record the lazy flags of an operation. */
function record(g: Gen, kind: number, size: number, r: Val, a: Val | null, b: Val | null, ccf?: string): void {
  g.flags = { kind, size, r: r.lo, a: a?.lo ?? null, b: b?.lo ?? null, rh: r.hi, ah: a?.hi ?? "0", bh: b?.hi ?? "0", ccf: ccf ?? null, line: g.out.length };
  const s = [`c.cc = ${kind}; c.csz = ${size}; c.cr = ${r.lo};`];
  if (size === 8) s.push(`c.crh = ${r.hi};`);
  if (a && b) {
    s.push(`c.ca = ${a.lo}; c.cb = ${b.lo};`);
    if (size === 8) s.push(`c.cah = ${a.hi}; c.cbh = ${b.hi};`);
  }
  if (ccf) s.push(`c.ccf = ${ccf};`);
  g.emit(s.join(" "));
}

/** r = a + b (+ carry) or a - b (- borrow) at `size`. */
function addSub(g: Gen, size: number, a: Val, b: Val, sub: boolean, carry?: string): Val {
  const r = g.v("r");
  const op = sub ? "-" : "+";
  const cin = carry ? ` ${op} ${carry}` : "";
  if (size !== 8) {
    g.emit(`const ${r} = (${a.lo} ${op} ${b.lo}${cin})${fix(size)};`);
    return { lo: r, hi: "0" };
  }
  g.emit(`let ${r} = (${a.lo} >>> 0) ${op} (${b.lo} >>> 0)${cin};`);
  if (sub) g.emit(`const ${r}h = (${a.hi} - ${b.hi} - (${r} < 0 ? 1 : 0)) | 0;`);
  else g.emit(`const ${r}h = (${a.hi} + ${b.hi} + (${r} > 4294967295 ? 1 : 0)) | 0;`);
  g.emit(`${r} = ${r} | 0;`);
  return { lo: r, hi: `${r}h` };
}

function logic(g: Gen, size: number, a: Val, b: Val, op: "&" | "|" | "^"): Val {
  const r = g.v("r");
  g.emit(`const ${r} = ${a.lo} ${op} ${b.lo};`);
  if (size !== 8) return { lo: r, hi: "0" };
  g.emit(`const ${r}h = ${a.hi} ${op} ${b.hi};`);
  return { lo: r, hi: `${r}h` };
}

type Template = (g: Gen, insn: X86Insn) => boolean;

const CC_ADD = 1, CC_ADC = 2, CC_SUB = 3, CC_SBB = 4, CC_LOGIC = 5, CC_INC = 6, CC_DEC = 7;
const SS = 2; // SEG_ORDER index of ss

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

function relTarget(g: Gen): string {
  const rel = g.insn.operands[0] as Extract<X86Operand, { kind: "rel" }>;
  return g.target(`${g.pc} + ${g.insn.length + Number(rel.disp)}`);
}

const jmp: Template = (g) => {
  g.branches = true;
  g.emit(`c.npc = ${relTarget(g)};`);
  return true;
};

const jcc: Template = (g, insn) => {
  g.branches = true;
  g.emit(`if (c.cond(${insn.spec.arg})) c.npc = ${relTarget(g)};`);
  return true;
};

/** Stack pointer width: 64-bit mode uses rsp; 32-bit code esp; real mode sp. */
function stackSize(insn: X86Insn): number {
  return insn.mode === "long64" ? 8 : insn.mode === "real" || insn.mode === "protected16" ? 2 : 4;
}

/** Push (lo, hi) of `size` bytes: memory first, then rsp. */
function push(g: Gen, size: number, v: Val): void {
  const ss = stackSize(g.insn);
  const sp = g.v("sp");
  if (ss === 8) {
    g.emit(`let ${sp} = (R[4] >>> 0) - ${size}; const ${sp}h = (R[20] - (${sp} < 0 ? 1 : 0)) | 0; ${sp} = ${sp} >>> 0;`);
    memWrite(g, SS, sp, `${sp}h`, size, v.lo, v.hi);
    g.emit(`R[4] = ${sp} | 0; R[20] = ${sp}h;`);
  } else if (ss === 4) {
    g.emit(`const ${sp} = (R[4] - ${size}) >>> 0;`);
    memWrite(g, SS, sp, "0", size, v.lo, v.hi);
    g.emit(`R[4] = ${sp} | 0; R[20] = 0;`);
  } else {
    g.emit(`const ${sp} = (R[4] - ${size}) & 65535;`);
    memWrite(g, SS, sp, "0", size, v.lo, v.hi);
    g.emit(`R[4] = (R[4] & -65536) | ${sp};`);
  }
}

/** Read the top of the stack; returns the value and the statement that commits the new rsp. */
function peekPop(g: Gen, size: number, extra = 0): { v: Val; commit: string } {
  const ss = stackSize(g.insn);
  const add = size + extra;
  const sp0 = g.v("sp");
  if (ss === 8) {
    g.emit(`const ${sp0} = R[4] >>> 0, ${sp0}h = R[20];`);
    const v = memRead(g, SS, sp0, `${sp0}h`, size);
    const sp = g.v("sp");
    g.emit(`let ${sp} = ${sp0} + ${add}; const ${sp}h = (${sp0}h + (${sp} > 4294967295 ? 1 : 0)) | 0;`);
    return { v, commit: `R[4] = ${sp} | 0; R[20] = ${sp}h;` };
  }
  g.emit(`const ${sp0} = R[4] ${ss === 4 ? ">>> 0" : "& 65535"};`);
  const v = memRead(g, SS, sp0, "0", size);
  if (ss === 4) return { v, commit: `R[4] = (${sp0} + ${add}) | 0; R[20] = 0;` };
  return { v, commit: `R[4] = (R[4] & -65536) | ((${sp0} + ${add}) & 65535);` };
}

/** The return address (rip of the next instruction) as a value of the operand size. */
function returnAddress(g: Gen): Val {
  const r = g.v("ra");
  g.emit(`const ${r} = ${g.nextRaw()};`);
  return { lo: `(${r} | 0)`, hi: g.insn.operandSize === 8 ? `(Math.floor(${r} / 4294967296) | 0)` : "0" };
}

/** A branch target from an operand value (lo, hi) of the operand size. */
function valueTarget(g: Gen, v: Val): string {
  if (g.insn.operandSize === 8) return g.target(`(${v.hi} | 0) * 4294967296 + (${v.lo} >>> 0)`);
  return g.target(v.lo);
}

const call: Template = (g) => {
  g.branches = true;
  const t = g.v("tg");
  g.emit(`const ${t} = ${relTarget(g)};`);
  push(g, g.insn.operandSize, returnAddress(g));
  g.emit(`c.npc = ${t};`);
  return true;
};

const callind: Template = (g, insn) => {
  g.branches = true;
  const v = read(g, insn.operands[0]!);
  if (!v) return false;
  const t = g.v("tg");
  g.emit(`const ${t} = ${valueTarget(g, v)};`);
  push(g, insn.operandSize, returnAddress(g));
  g.emit(`c.npc = ${t};`);
  return true;
};

const jmpind: Template = (g, insn) => {
  g.branches = true;
  const v = read(g, insn.operands[0]!);
  if (!v) return false;
  g.emit(`c.npc = ${valueTarget(g, v)};`);
  return true;
};

const ret: Template = (g, insn) => {
  g.branches = true;
  const op = insn.operands[0];
  const extra = op?.kind === "imm" ? Number(op.value) : 0;
  const { v, commit } = peekPop(g, insn.operandSize, extra);
  g.emit(commit);
  g.emit(`c.npc = ${valueTarget(g, v)};`);
  return true;
};

const pushOp: Template = (g, insn) => {
  const v = read(g, insn.operands[0]!, insn.operandSize);
  if (!v) return false;
  push(g, insn.operandSize, v);
  return true;
};

const pop: Template = (g, insn) => {
  const dst = insn.operands[0]!;
  const { v, commit } = peekPop(g, insn.operandSize);
  if (dst.kind === "mem") {
    if (!write(g, dst, v.lo, v.hi)) return false;
    g.emit(commit);
    return true;
  }
  g.emit(commit); // pop %rsp: the popped value wins over the increment
  return write(g, dst, v.lo, v.hi);
};

/** XCHG: the memory side (if any) is written first so a fault leaves the register untouched. */
const xchg: Template = (g, insn) => {
  const [a, b] = insn.operands as [X86Operand, X86Operand];
  const va = read(g, a);
  const vb = read(g, b);
  if (!va || !vb) return false;
  if (a.kind === "mem") return write(g, a, vb.lo, vb.hi, va.ea) && write(g, b, va.lo, va.hi, vb.ea);
  return write(g, b, va.lo, va.hi, vb.ea) && write(g, a, vb.lo, vb.hi, va.ea);
};

/** LEAVE: rSP = rBP, then pop rBP (operand size), stack-pointer width by mode. */
const leave: Template = (g, insn) => {
  const ss = stackSize(insn);
  const osz = insn.operandSize;
  const bp = g.v("bp");
  const rbp: X86Operand = { kind: "reg", reg: 5, size: osz };
  if (ss === 8) {
    g.emit(`const ${bp} = R[5] >>> 0, ${bp}h = R[21];`);
    const v = memRead(g, SS, bp, `${bp}h`, osz);
    g.emit(`{ const s = ${bp} + ${osz}; R[4] = s | 0; R[20] = (${bp}h + (s > 4294967295 ? 1 : 0)) | 0; }`);
    return write(g, rbp, v.lo, v.hi);
  }
  g.emit(`const ${bp} = R[5] ${ss === 4 ? ">>> 0" : "& 65535"};`);
  const v = memRead(g, SS, bp, "0", osz);
  g.emit(ss === 4 ? `R[4] = (${bp} + ${osz}) | 0; R[20] = 0;` : `R[4] = (R[4] & -65536) | ((${bp} + ${osz}) & 65535);`);
  return write(g, rbp, v.lo, v.hi);
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

export const TEMPLATES: Readonly<Record<string, Template>> = {
  alu, test, incdec, neg, not, shift, setcc, cmovcc, mov, movzx, movsx, lea, nop, xchg, leave, cbw, cwd,
  jmp, jcc, call, callind, jmpind, ret, push: pushOp, pop,
};

/** The template code of one instruction, or null when it has no fast form. */
export function generate(insn: X86Insn, pc: string, tag = "", inlineMem = false): Gen | null {
  const t = TEMPLATES[insn.spec.sem];
  if (!t) return null;
  const g = new Gen(insn, pc, tag);
  g.inlineMem = inlineMem;
  return t(g, insn) ? g : null;
}

const compiled = new Map<string, FastFn>();

/**
 * The interpreter's compiled form of one decoded instruction (c.pc = its rip, c.npc = the next
 * rip on entry; a branch assigns c.npc), or null. Cached on the instruction and by source text.
 */
export function fastFunction(insn: X86Insn): FastFn | null {
  if (insn.fast !== undefined) return insn.fast;
  const g = generate(insn, "c.pc");
  let fn: FastFn | null = null;
  if (g) {
    const src = g.out.join("\n");
    fn = compiled.get(src) ?? null;
    if (!fn) {
      fn = new Function("c", "R", "m", `"use strict";\n${src}`) as FastFn;
      if (compiled.size > 50_000) compiled.clear();
      compiled.set(src, fn);
    }
  }
  insn.fast = fn;
  return fn;
}
