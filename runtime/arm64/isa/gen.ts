// Instruction semantics as code templates. A table entry's `gen` (see types.ts) describes what
// the instruction does by calling the builder below, which emits JavaScript over the register
// file's 32-bit halves (A64State.r, layout REG) with the instruction's fields and address folded
// in as constants. The same emitted code runs one instruction at a time (the interpreter: a
// block of one) and concatenated into a basic block (the compiler, block.ts), so each
// instruction's behaviour is written once. 64-bit values are pairs of Int32 locals {lo, hi};
// every local the builder declares holds an Int32 (|0), so halves compare with ===.
// Arithmetic follows the Arm ARM pseudocode (J1.1.3 AddWithCarry, ShiftReg, ExtendReg,
// DecodeBitMasks; J1.2.3 ConditionHolds).

import { REG } from "../state.js";
import { join64 } from "../../core/bits.js";
import type { A64MemAccess } from "../env.js";

/** A 64-bit value as two JavaScript expressions (Int32 halves): locals or constants. */
export interface Val {
  lo: string;
  hi: string;
}

const M32 = 0xffff_ffffn;
export const ZERO: Val = { lo: "0", hi: "0" };

/** A BigInt constant as halves. */
export function konst64(v: bigint): Val {
  const x = BigInt.asUintN(64, v);
  return { lo: String(Number(x & M32) | 0), hi: String(Number(x >> 32n) | 0) };
}

/** 64-bit helpers the emitted code calls for the operations that are long to inline (H.*). */
export const INT64 = {
  /** High 32 bits of the unsigned product of two 32-bit values. */
  mulhiU32(a: number, b: number): number {
    const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
    const lo = a0 * b0, m1 = a1 * b0, m2 = a0 * b1;
    const carry = ((lo >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16;
    return (a1 * b1 + (m1 >>> 16) + (m2 >>> 16) + carry) | 0;
  },
  /** High 32 bits of the signed product of two 32-bit values. */
  mulhiS32(a: number, b: number): number {
    return (INT64.mulhiU32(a, b) - (a < 0 ? b : 0) - (b < 0 ? a : 0)) | 0;
  },
  /** Variable 64-bit shift (type 0 LSL, 1 LSR, 2 ASR, 3 ROR) by n in 0..63: returns lo, hi in out[0]. */
  shift64(l: number, h: number, type: number, n: number, out: Int32Array): number {
    if (n === 0) { out[0] = h; return l; }
    if (type === 3) {
      const s = shift64Pair(l, h, 1, n, out), sh = out[0]!;
      const t = shift64Pair(l, h, 0, 64 - n, out);
      out[0] = sh | out[0]!;
      return s | t;
    }
    return shift64Pair(l, h, type, n, out);
  },
  /** The 32 bits of x in reverse order (RBIT of one half). */
  rbit32(x: number): number {
    x = ((x >>> 1) & 0x55555555) | ((x & 0x55555555) << 1);
    x = ((x >>> 2) & 0x33333333) | ((x & 0x33333333) << 2);
    x = ((x >>> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4);
    return INT64.bswap32(x);
  },
  /** The 4 bytes of x in reverse order (REV of one half). */
  bswap32(x: number): number {
    return (x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
  },
  /** 64-bit values as BigInt for the rare operations done exactly that way (mul-high, 64-bit divide). */
  big: join64,
  /** Store a BigInt's low 64 bits: returns lo, hi in out[0]. */
  unbig(v: bigint, out: Int32Array): number {
    const x = BigInt.asUintN(64, v);
    out[0] = Number(x >> 32n) | 0;
    return Number(x & M32) | 0;
  },
};

function shift64Pair(l: number, h: number, type: number, n: number, out: Int32Array): number {
  if (n >= 64) { out[0] = type === 2 ? h >> 31 : 0; return type === 2 ? h >> 31 : 0; }
  if (n >= 32) {
    const k = n - 32;
    if (type === 0) { out[0] = l << k; return 0; }
    out[0] = type === 2 ? h >> 31 : 0;
    return type === 2 ? h >> k : (h >>> k) | 0;
  }
  if (type === 0) { out[0] = (h << n) | (l >>> (32 - n)); return l << n; }
  out[0] = type === 2 ? h >> n : (h >>> n) | 0;
  return (l >>> n) | (h << (32 - n));
}

/**
 * The general registers and flags a block's code uses: they live in JavaScript locals (rlN/rhN
 * for Xn's halves; PSTATE.NZCV as four sources, fN (N = its sign), fZ (Z = it is 0), fC (0 or 1)
 * and fV (V = its sign), so that setting a flag costs no more than keeping the value it comes
 * from, and only what a condition reads is ever tested) loaded at block entry, and written back to the
 * register file (SYNC) before anything that may fault or look at the state, and on leaving.
 */
export class BlockRegs {
  readonly used = new Set<number>();
  readonly written = new Set<number>();
  /** Marker replaced by the write-back code once the whole block is known. */
  static readonly SYNC = "/*SYNC*/";

  /** Declarations at block entry. */
  prologue(): string {
    const regs = [...this.used].sort((a, b) => a - b).map((n) => `rl${n} = R[${2 * n}], rh${n} = R[${2 * n + 1}]`);
    return `const nz0 = S.nzcv; let fN = nz0 << 28, fZ = ~nz0 & 4, fC = (nz0 >> 1) & 1, fV = nz0 << 31${regs.length ? ", " + regs.join(", ") : ""};`;
  }

  /** Write-back to the register file. */
  sync(): string {
    const regs = [...this.written].sort((a, b) => a - b).map((n) => `R[${2 * n}] = rl${n}; R[${2 * n + 1}] = rh${n};`);
    return ["S.nzcv = (fN < 0 ? 8 : 0) | (fZ === 0 ? 4 : 0) | (fC << 1) | (fV < 0 ? 1 : 0);", ...regs].join(" ");
  }
}

/** The emitted code of one instruction (a straight-line part, or a direct branch the block compiler can turn into a loop). */
export interface EmittedInsn {
  code: string;
  /** Direct branch: condition expression ("true" = always) and target. */
  branch?: { cond: string; target: Val };
  /** Ends the block with NPC already assigned (indirect branches, bridged instructions). */
  indirect?: boolean;
  /** Ran BigInt semantics that wrote the register file itself: no write-back after it. */
  bridged?: boolean;
}

/**
 * Builds the code of one instruction. `pc` is its address; `consts` collects the objects the
 * code refers to as K[i] (memory-access descriptors, bridged specs).
 */
export class Gen {
  private lines: string[] = [];
  private n = 0;
  private faultMarked = false;
  branch?: { cond: string; target: Val };
  indirect = false;
  bridged = false;

  constructor(
    readonly pc: bigint,
    /** Position of this instruction in its block (the `ci` a fault reports). */
    readonly index: number,
    private readonly consts: unknown[],
    private readonly prefix: string,
    private readonly regs: BlockRegs,
  ) {}

  get pcVal(): Val {
    return konst64(this.pc);
  }

  emit(line: string): void {
    this.lines.push(line);
  }

  /** A fresh local name. */
  local(): string {
    return `${this.prefix}${this.n++}`;
  }

  /** K[i] for an object the code needs at run time. */
  konst(x: unknown): string {
    let i = this.consts.indexOf(x);
    if (i < 0) i = this.consts.push(x) - 1;
    return `K[${i}]`;
  }

  /** Bind a value to fresh Int32 locals. */
  bind(lo: string, hi: string): Val {
    const l = this.local(), h = this.local();
    this.emit(`const ${l} = (${lo}) | 0, ${h} = (${hi}) | 0;`);
    return { lo: l, hi: h };
  }

  /** Before an operation that may fault: record where (pc and position) for precise exceptions. */
  mayFault(): void {
    if (this.faultMarked) return;
    this.faultMarked = true;
    const pc = this.pcVal;
    this.emit(`ci = ${this.index}; R[${REG.PC}] = ${pc.lo}; R[${REG.PC + 1}] = ${pc.hi}; ${BlockRegs.SYNC}`);
  }

  // ---- registers ----

  /** Read Xn (sf=1) or Wn zero-extended; 31 is XZR, or the current SP when `sp`. */
  reg(n: number, sf: number | boolean, sp = false): Val {
    const wide = sf === 1 || sf === true;
    if (n === 31 && !sp) return ZERO;
    const l = this.local(), h = this.local();
    if (n === 31) this.emit(`const ${l} = R[S.spi], ${h} = ${wide ? "R[S.spi + 1]" : "0"};`);
    else {
      this.regs.used.add(n);
      this.emit(`const ${l} = rl${n}, ${h} = ${wide ? `rh${n}` : "0"};`);
    }
    return { lo: l, hi: h };
  }

  /** Write Xn (sf=1) or Wn (zero-extending); 31 discards, or writes the current SP when `sp`. */
  setReg(n: number, v: Val, sf: number | boolean, sp = false): void {
    const wide = sf === 1 || sf === true;
    if (n === 31 && !sp) return;
    if (n === 31) this.emit(`{ const i = S.spi; R[i] = ${v.lo}; R[i + 1] = ${wide ? v.hi : "0"}; }`);
    else {
      this.regs.used.add(n);
      this.regs.written.add(n);
      this.emit(`rl${n} = ${v.lo}; rh${n} = ${wide ? v.hi : "0"};`);
    }
  }

  // ---- arithmetic ----

  /**
   * AddWithCarry(a, sub ? NOT(b) : b, carry) in 32 or 64 bits; sets NZCV when `flags`. Integer
   * operations only: the carry out of a + y + c is (r <u a) when c = 0 and (r <=u a) when c = 1.
   */
  add(a: Val, b: Val, sf: number, sub: boolean, flags: boolean, carry: string = sub ? "1" : "0"): Val {
    const y = this.bind(sub ? `~(${b.lo})` : b.lo, sf ? (sub ? `~(${b.hi})` : b.hi) : "0");
    const carryOut = (r: string, x: string, c: string) =>
      c === "0" ? `(${r} >>> 0) < (${x} >>> 0)` : c === "1" ? `(${r} >>> 0) <= (${x} >>> 0)` : `(${c} ? (${r} >>> 0) <= (${x} >>> 0) : (${r} >>> 0) < (${x} >>> 0))`;
    const c = carry === "0" || carry === "1" ? carry : this.bind(carry, "0").lo;
    const lo = this.local();
    this.emit(`const ${lo} = (${a.lo} + ${y.lo} + ${c}) | 0;`);
    if (!sf) {
      if (flags) this.setFlags(lo, lo, `${carryOut(lo, a.lo, c)} ? 1 : 0`, `(${a.lo} ^ ${lo}) & (${y.lo} ^ ${lo})`);
      return { lo, hi: "0" };
    }
    const c0 = this.local(), hi = this.local();
    this.emit(`const ${c0} = ${carryOut(lo, a.lo, c)} ? 1 : 0;`);
    this.emit(`const ${hi} = (${a.hi} + ${y.hi} + ${c0}) | 0;`);
    if (flags) this.setFlags(hi, `${lo} | ${hi}`, `${carryOut(hi, a.hi, c0)} ? 1 : 0`, `(${a.hi} ^ ${hi}) & (${y.hi} ^ ${hi})`);
    return { lo, hi };
  }

  /** Bitwise and/orr/eor of a and (b or NOT b); ANDS/BICS flags (C = V = 0) when `flags`. */
  logic(op: "&" | "|" | "^", a: Val, b: Val, sf: number, invert: boolean, flags: boolean): Val {
    const inv = (x: string) => (invert ? `~(${x})` : x);
    const r = this.bind(`${a.lo} ${op} ${inv(b.lo)}`, sf ? `${a.hi} ${op} ${inv(b.hi)}` : "0");
    if (flags) this.setNZ(r, sf);
    return r;
  }

  /** N and Z from a result, C = V = 0. */
  setNZ(r: Val, sf: number): void {
    if (sf) this.setFlags(r.hi, `${r.lo} | ${r.hi}`, "0", "0");
    else this.setFlags(r.lo, r.lo, "0", "0");
  }

  /** Set NZCV from its sources: N = sign of n, Z = (z === 0), C = c (0 or 1), V = sign of v. */
  setFlags(n: string, z: string, c: string, v: string): void {
    this.emit(`fN = ${n}; fZ = ${z}; fC = ${c}; fV = ${v};`);
  }

  /** Set NZCV to a constant (bits N=8, Z=4, C=2, V=1). */
  setNzcv(nzcv: number): void {
    this.setFlags(nzcv & 8 ? "-1" : "0", nzcv & 4 ? "0" : "1", String((nzcv >> 1) & 1), nzcv & 1 ? "-1" : "0");
  }

  /** PSTATE.C as 0 or 1. */
  get carryFlag(): string {
    return "fC";
  }

  /** NOT x within the width. */
  not(x: Val, sf: number): Val {
    return this.bind(`~(${x.lo})`, sf ? `~(${x.hi})` : "0");
  }

  /** ShiftReg with a constant amount: type 0 LSL, 1 LSR, 2 ASR, 3 ROR. */
  shift(x: Val, type: number, amount: number, sf: number): Val {
    if (amount === 0) return x;
    if (type === 3) return this.extr(x, x, amount, sf);
    if (!sf) {
      const op = type === 0 ? "<<" : type === 1 ? ">>>" : ">>";
      return this.bind(`${x.lo} ${op} ${amount}`, "0");
    }
    const k = amount;
    if (type === 0) return k < 32 ? this.bind(`${x.lo} << ${k}`, `(${x.hi} << ${k}) | (${x.lo} >>> ${32 - k})`) : this.bind("0", `${x.lo} << ${k - 32}`);
    const hiOut = type === 2 ? `${x.hi} >> ${k < 32 ? k : 31}` : k < 32 ? `${x.hi} >>> ${k}` : "0";
    if (k < 32) return this.bind(`(${x.lo} >>> ${k}) | (${x.hi} << ${32 - k})`, hiOut);
    return this.bind(type === 2 ? `${x.hi} >> ${k - 32}` : `${x.hi} >>> ${k - 32}`, hiOut);
  }

  /** ShiftReg with an amount from a register (LSLV & co.: amount mod the width). */
  shiftVar(x: Val, type: number, amount: Val, sf: number): Val {
    if (!sf) {
      const n = this.bind(`${amount.lo} & 31`, "0");
      if (type === 3) return this.bind(`${n.lo} === 0 ? ${x.lo} : (${x.lo} >>> ${n.lo}) | (${x.lo} << (32 - ${n.lo}))`, "0");
      const op = type === 0 ? "<<" : type === 1 ? ">>>" : ">>";
      return this.bind(`${x.lo} ${op} ${n.lo}`, "0");
    }
    const l = this.local();
    this.emit(`const ${l} = H.shift64(${x.lo}, ${x.hi}, ${type}, ${amount.lo} & 63, O);`);
    return this.bind(l, "O[0]");
  }

  /** EXTR: bits [lsb + width - 1 : lsb] of hi:lo (each `width` bits); ROR when hi = lo. */
  extr(hi: Val, lo: Val, lsb: number, sf: number): Val {
    if (lsb === 0) return sf ? lo : this.bind(lo.lo, "0");
    if (!sf) return this.bind(`(${lo.lo} >>> ${lsb}) | (${hi.lo} << ${32 - lsb})`, "0");
    const w = [lo.lo, lo.hi, hi.lo, hi.hi];
    const q = lsb >> 5, r = lsb & 31;
    const word = (i: number) => (r === 0 ? w[q + i]! : `(${w[q + i]} >>> ${r}) | (${w[q + i + 1] ?? "0"} << ${32 - r})`);
    return this.bind(word(0), q + 1 <= 2 ? word(1) : "0");
  }

  /** ExtendReg: option 0..7 (UXTB..SXTX) then LSL by shift, as a 64-bit value. */
  extend(x: Val, option: number, shift: number): Val {
    const len = 8 << (option & 3);
    const signed = (option & 4) !== 0;
    let v: Val;
    if (len === 64) v = x;
    else if (len === 32) v = this.bind(x.lo, signed ? `${x.lo} >> 31` : "0");
    else {
      const k = 32 - len;
      const l = this.local();
      this.emit(`const ${l} = ${signed ? `(${x.lo} << ${k}) >> ${k}` : `${x.lo} & ${(1 << len) - 1}`};`);
      v = this.bind(l, signed ? `${l} >> 31` : "0");
    }
    return this.shift(v, 0, shift, 1);
  }

  /** ConditionHolds(cond) over PSTATE.NZCV as a JavaScript boolean expression. */
  cond(cond: number): string {
    // EQ, CS, MI, VS, HI, GE, GT, AL (odd conditions negate, except NV = AL).
    const tests = ["fZ === 0", "fC !== 0", "fN < 0", "fV < 0", "(fC !== 0 && fZ !== 0)", "(fN ^ fV) >= 0", "((fN ^ fV) >= 0 && fZ !== 0)", "true"];
    const t = tests[cond >> 1]!;
    if ((cond & 1) === 1 && cond !== 15) return `!(${t})`;
    return t;
  }

  // ---- memory ----

  /** Load `a.size` bytes at addr (zero-extended; signed loads sign-extend to 32 or 64 bits per a.sf). */
  load(addr: Val, a: A64MemAccess): Val {
    this.mayFault();
    const l = this.local();
    this.emit(`const ${l} = M.ld(${addr.lo}, ${addr.hi}, ${this.konst(a)});`);
    if (a.size === 8) return this.bind(l, `R[${REG.T}]`);
    if (!a.signed) return this.bind(l, "0");
    const k = 32 - a.size * 8;
    const s = this.local();
    this.emit(`const ${s} = ${k ? `(${l} << ${k}) >> ${k}` : l};`);
    return this.bind(s, a.sf ? `${s} >> 31` : "0");
  }

  /** CheckSPAlignment before a load/store based on SP (the env raises the fault; aligned SP costs one test). */
  checkSp(): void {
    this.mayFault();
    this.emit(`if ((R[S.spi] & 15) !== 0 && E.checkSpAlignment !== undefined) E.checkSpAlignment();`);
  }

  /** Store the low `a.size` bytes of v at addr. */
  store(addr: Val, v: Val, a: A64MemAccess): void {
    this.mayFault();
    this.emit(`M.st(${addr.lo}, ${addr.hi}, ${v.lo}, ${v.hi}, ${this.konst(a)});`);
  }

  // ---- control flow ----

  /** A direct branch to `target` when `cond` holds (the block compiler emits the jump). */
  branchTo(target: bigint, cond = "true"): void {
    this.branch = { cond, target: konst64(target) };
  }

  /** An indirect branch: execution continues at v. */
  jump(v: Val): void {
    this.emit(`R[${REG.NPC}] = ${v.lo}; R[${REG.NPC + 1}] = ${v.hi};`);
    this.indirect = true;
  }

  /**
   * Call the CPU for an instruction that leaves the block (a trap it raises without throwing):
   * `expr` returns 1 when it left a trap to EL2 pending (the instruction does not retire), 2 when
   * it took an exception to EL1 (it retires; PC is the vector), 0 to go on at the next instruction.
   */
  leave(expr: string): void {
    this.mayFault();
    const next = konst64(this.pc + 4n);
    this.emit(`{ const t = ${expr}; if (t !== 0) return n + ${this.index} + (t === 2 ? 1 : 0); }`);
    this.emit(`R[${REG.NPC}] = ${next.lo}; R[${REG.NPC + 1}] = ${next.hi};`);
    this.indirect = true;
  }

  /** Run a table entry's BigInt semantics (instructions without a template); ends the block. */
  bridge(run: unknown, fields: unknown): void {
    this.mayFault();
    const next = konst64(this.pc + 4n);
    this.emit(`R[${REG.NPC}] = ${next.lo}; R[${REG.NPC + 1}] = ${next.hi};`);
    this.emit(`${this.konst(run)}(E, ${this.konst(fields)});`);
    this.indirect = true;
    this.bridged = true;
  }

  done(): EmittedInsn {
    return { code: this.lines.join("\n"), branch: this.branch, indirect: this.indirect || undefined, bridged: this.bridged || undefined };
  }
}
