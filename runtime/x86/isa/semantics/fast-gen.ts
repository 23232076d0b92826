// The fast path's code generator: the state of one instruction's generated JavaScript (Gen), and
// the pieces every template (fast-data.ts, fast-branch.ts) builds from — operands read and written
// as int32 halves of the Number register file (runtime/x86/regs.ts), effective addresses (SDM
// Vol. 2 §2.1.5), memory through FastMem or the inline TLB probe, and the lazy flags an operation
// records. No BigInt, no allocation in the generated code.

import type { X86Insn, X86Operand } from "../types.js";
import { SEG_ORDER } from "../types.js";
import type { X86Regs } from "../../regs.js";

/** Memory for the fast path: offsets and values as int32 halves. */
export interface FastMem {
  /** Read `size` bytes at seg:offset; returns the low 32 bits (1/2 bytes: masked, 4/8: int32); the high half of an 8-byte read in `hi`. */
  rd(seg: number, lo: number, hi: number, size: number): number;
  /**
   * Write `size` bytes at seg:offset. Returns true when the store raised a trap-like VM exit the
   * machine deferred (runtime/x86/trap-exit.ts: X86Cpu.deferTraps while a compiled block runs):
   * the generated code then returns -1 at once, the instruction unfinished, as if the exit had been
   * thrown. Else false (a fault or exit is thrown).
   */
  wr(seg: number, lo: number, hi: number, size: number, vlo: number, vhi: number): boolean;
  hi: number;
  /** MOV from CR8 (CPL and CR8-store exiting checked: may throw a guest fault or VM exit): the TPR class, 0..15. `gpr` names the destination for the exit qualification. */
  readCr8(gpr: number): number;
  /** MOV to CR8 of the 64-bit value (lo, hi) from GPR `gpr` (CPL, CR8-load exiting, reserved bits 63:4 checked). */
  writeCr8(lo: number, hi: number, gpr: number): void;
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

/** Value masks by operand size in bytes (1, 2; 4 and 8 need none). */
export const MASK = [0, 0xff, 0xffff, 0, 0];

function fix(size: number): string {
  return size === 4 ? " | 0" : ` & ${MASK[size]}`;
}

/** An operand's value in generated code: the names of its low and high 32-bit halves. */
export interface Val {
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
export function effectiveAddress(g: Gen, m: MemOp): [string, string] {
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
export function read(g: Gen, op: X86Operand, size = sizeOf(op)): Val | null {
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
export function write(g: Gen, op: X86Operand, lo: string, hi: string, ea?: [string, string]): boolean {
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
 * data TLB of the machine's CPU is probed inline (m.segBaseN, m.rKey, m.rArr: see cpu-memory.ts) and
 * m.rd is called only on a miss; the interpreter always calls m.rd.
 */
export function memRead(g: Gen, seg: number, lo: string, hi: string, size: number): Val {
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
  g.emit(probe(g, lin, lo, hi, l, pg, k, o));
  g.emit(`let ${t}${size === 8 ? `, ${t}h` : ""};`);
  g.emit(`if (m.rKey[${k}] === ${pg} && ${o} <= ${4096 - size}) { const ${A} = m.rArr[${k}]; ${t} = ${loadBytes(A, o, 0, size)};${size === 8 ? ` ${t}h = ${loadBytes(A, o, 4, 4)};` : ""} }`);
  g.emit(`else { ${t} = ${call};${size === 8 ? ` ${t}h = m.hi;` : ""} }`);
  return { lo: t, hi: size === 8 ? `${t}h` : "0" };
}

/** Store `size` bytes at seg:(lo, hi); inline through the write TLB in a compiled block (see memRead). */
export function memWrite(g: Gen, seg: number, lo: string, hi: string, size: number, vlo: string, vhi: string): void {
  g.faults = true;
  g.writes = true;
  // A deferred trap-like exit (FastMem.wr true) ends the function at once with -1 (trap-exit.ts).
  const call = `if (m.wr(${seg}, ${lo}, ${hi}, ${size}, ${vlo}, ${vhi})) return -1;`;
  const lin = g.inlineMem ? linearExpr(g, seg, lo, hi) : null;
  if (!lin) {
    g.emit(call);
    return;
  }
  const [l, pg, k, o, A, v, w] = [g.v("l"), g.v("pg"), g.v("k"), g.v("o"), g.v("A"), g.v("v"), g.v("w")];
  g.emit(probe(g, lin, lo, hi, l, pg, k, o));
  const st: string[] = [`const ${v} = ${vlo};`, `${A}[${o}] = ${v};`];
  if (size >= 2) st.push(`${A}[${o} + 1] = ${v} >> 8;`);
  if (size >= 4) st.push(`${A}[${o} + 2] = ${v} >> 16; ${A}[${o} + 3] = ${v} >> 24;`);
  if (size === 8) st.push(`const ${w} = ${vhi}; ${A}[${o} + 4] = ${w}; ${A}[${o} + 5] = ${w} >> 8; ${A}[${o} + 6] = ${w} >> 16; ${A}[${o} + 7] = ${w} >> 24;`);
  g.emit(`if (m.wKey[${k}] === ${pg} && ${o} <= ${4096 - size} && m.ownHook) { const ${A} = m.wArr[${k}]; ${st.join(" ")} }`);
  g.emit(`else ${call}`);
}

/**
 * The inline TLB probe's page number `pg` (linear address / 4096), slot `k` ((pg ^ pg >>> 8) & 255,
 * as cpu-memory.ts fills the TLB) and page offset `o`. In 64-bit mode from the address's halves with
 * integer operations (pg's low 16 bits are the low half's bits 12-27: no division, no floor);
 * elsewhere from the linear address `lin`, which may be NaN (a segment base not cached: a miss).
 */
function probe(g: Gen, lin: string, lo: string, hi: string, l: string, pg: string, k: string, o: string): string {
  if (g.insn.mode === "long64") return `const ${l} = (${lo}) | 0, ${pg} = (${hi} | 0) * 1048576 + (${l} >>> 12), ${k} = ((${l} >>> 12) ^ (${l} >>> 20)) & 255, ${o} = ${l} & 4095;`;
  return `const ${l} = ${lin}, ${pg} = Math.floor(${l} / 4096), ${k} = (${pg} ^ (${pg} >>> 8)) & 255, ${o} = ${l} - ${pg} * 4096;`;
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

/** An operand's size in bytes (a segment register: 2). */
export function sizeOf(op: X86Operand): number {
  return op.kind === "reg" || op.kind === "imm" || op.kind === "mem" ? op.size : 2;
}

/** Record the lazy flags of an operation. */
export function record(g: Gen, kind: number, size: number, r: Val, a: Val | null, b: Val | null, ccf?: string): void {
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
export function addSub(g: Gen, size: number, a: Val, b: Val, sub: boolean, carry?: string): Val {
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

/** r = a op b (and, or, xor) at `size`. */
export function logic(g: Gen, size: number, a: Val, b: Val, op: "&" | "|" | "^"): Val {
  const r = g.v("r");
  g.emit(`const ${r} = ${a.lo} ${op} ${b.lo};`);
  if (size !== 8) return { lo: r, hi: "0" };
  g.emit(`const ${r}h = ${a.hi} ${op} ${b.hi};`);
  return { lo: r, hi: `${r}h` };
}

/** A template: emits the code of `insn` into `g`; false when this operand shape has no fast form. */
export type Template = (g: Gen, insn: X86Insn) => boolean;

/** SEG_ORDER index of ss (the stack's segment). */
export const SS = 2;
