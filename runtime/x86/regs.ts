// The x86 register file the interpreter and the block compiler work on: 64-bit general registers
// as 32-bit halves in one Int32Array (no BigInt in the hot path), rip as a Number, and lazy flags
// (the last flag-setting operation's kind, size, operands and result; CF/PF/AF/ZF/SF/OF are
// computed when something reads them). The X86State API (BigInt gpr/rip/rflags) is kept as
// accessors for the KVM model, the VMCS, views and the BigInt semantics of rare instructions.
//
// Value conventions of the fast path: a 64-bit register n is R[n] (low half) and R[16 + n] (high
// half), both int32. rip is the sign-extended (canonical) value as a Number, exact for every
// canonical address (|rip| < 2^47) and every 32-bit rip. Lazy-flag operands of 1/2-byte operations
// are masked non-negative numbers, of 4-byte operations int32, of 8-byte operations int32 pairs.

import type { X86Mode, X86Seg, X86State } from "./env.js";
import { join64 } from "../core/bits.js";
import { X86FpuState } from "./fpu-state.js";

/** Lazy-flag operation kinds (c.cc). 0 = the arithmetic flags are in c.fl. */
export const CC = { EAGER: 0, ADD: 1, ADC: 2, SUB: 3, SBB: 4, LOGIC: 5, INC: 6, DEC: 7 } as const;

/** RFLAGS arithmetic flag bits (SDM Vol. 1 Figure 3-8): CF PF AF ZF SF OF. */
export const ARITH_MASK = 0x8d5;

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i;
  b ^= b >> 4;
  b ^= b >> 2;
  b ^= b >> 1;
  PARITY[i] = (b & 1) === 0 ? 1 : 0;
}

const TWO32 = 4294967296;


/** Sign-extended Number of a 64-bit (lo, hi) pair: exact when |value| < 2^53 (canonical addresses). */
export function numOf(lo: number, hi: number): number {
  return (hi | 0) * TWO32 + (lo >>> 0);
}

/** The GPR file as BigInts: `state.gpr[i]` reads and writes the halves. */
function makeGprView(r: Int32Array): bigint[] {
  const view = {} as Record<number, bigint> & { length: number; [Symbol.iterator](): Iterator<bigint> };
  for (let i = 0; i < 16; i++) {
    Object.defineProperty(view, i, {
      enumerable: true,
      get: () => join64(r[i]!, r[16 + i]!),
      set: (v: bigint) => {
        r[i] = Number(v & 0xffff_ffffn) | 0;
        r[16 + i] = Number((v >> 32n) & 0xffff_ffffn) | 0;
      },
    });
  }
  Object.defineProperty(view, "length", { value: 16 });
  Object.defineProperty(view, Symbol.iterator, {
    value: function* () {
      for (let i = 0; i < 16; i++) yield join64(r[i]!, r[16 + i]!);
    },
  });
  return view as unknown as bigint[];
}

export class X86Regs implements X86State {
  /** GPR halves: R[n] low 32 bits, R[16 + n] high 32 bits. */
  readonly r = new Int32Array(32);
  /** rip of the current instruction (sign-extended Number). */
  pc = 0;
  /** rip of the next instruction; branches assign it. */
  npc = 0;
  /** X86State.stiShadow: the rip STI's interrupt shadow covers. */
  stiShadow?: bigint;
  /** X86State.stiCount. */
  stiCount = 0;
  /** X86State.nmiBlocked: blocking by NMI, from NMI delivery to the next IRET. */
  nmiBlocked = false;
  /** X86State.iretUnblockedNmi. */
  iretUnblockedNmi = false;
  /** RFLAGS: the arithmetic bits are valid only while cc === CC.EAGER; the others always. */
  fl = 2;
  cc = 0;
  csz = 4;
  cr = 0;
  crh = 0;
  ca = 0;
  cah = 0;
  cb = 0;
  cbh = 0;
  /** Carry-in of ADC/SBB; the preserved CF of INC/DEC. */
  ccf = 0;
  /** Instructions a compiled block completed before the one that faulted (jit.ts). */
  done = 0;
  /** Set (1) by a compiled block that stopped at an instruction that always exits (jit.ts Block.exit). */
  exit = 0;

  readonly gpr: bigint[];
  mode: X86Mode = "real";
  seg!: Record<X86Seg, { selector: number; base: bigint; limit: number; attributes: number }>;
  cr0 = 0n;
  cr2 = 0n;
  cr3 = 0n;
  cr4 = 0n;
  cr8 = 0n;
  efer = 0n;
  gdtr = { base: 0n, limit: 0 };
  idtr = { base: 0n, limit: 0 };
  /** PKRU and IA32_PKRS[31:0] (pkeys.ts), as unsigned 32-bit Numbers. */
  pkru = 0;
  pkrs = 0;
  /** x87, MXCSR and XMM registers (not part of load(): INIT leaves them, SDM Vol. 3A Table 10-1). */
  readonly fpu = new X86FpuState();

  constructor() {
    this.gpr = makeGprView(this.r);
  }

  /** A register file holding `s` (segments, descriptor tables: the same objects). */
  static from(s: X86State): X86Regs {
    const x = new X86Regs();
    x.load(s);
    return x;
  }

  /** Copy a BigInt state in. */
  load(s: X86State): void {
    for (let i = 0; i < 16; i++) this.gpr[i] = s.gpr[i] ?? 0n;
    this.rip = s.rip;
    this.nextRip = s.nextRip;
    this.rflags = s.rflags;
    this.mode = s.mode;
    this.seg = s.seg;
    this.cr0 = s.cr0;
    this.cr2 = s.cr2;
    this.cr3 = s.cr3;
    this.cr4 = s.cr4;
    this.cr8 = s.cr8;
    this.efer = s.efer;
    this.gdtr = s.gdtr;
    this.idtr = s.idtr;
    this.pkru = s.pkru ?? 0;
    this.pkrs = s.pkrs ?? 0;
  }

  /** Copy general registers, rip/nextRip, rflags and the mode back into a BigInt state. */
  store(s: X86State): void {
    for (let i = 0; i < 16; i++) s.gpr[i] = join64(this.r[i]!, this.r[16 + i]!);
    s.rip = this.rip;
    s.nextRip = this.nextRip;
    s.rflags = this.rflags;
    s.mode = this.mode;
  }

  get rip(): bigint {
    return BigInt.asUintN(64, BigInt(this.pc));
  }
  set rip(v: bigint) {
    this.pc = Number(BigInt.asIntN(64, v));
  }
  get nextRip(): bigint {
    return BigInt.asUintN(64, BigInt(this.npc));
  }
  set nextRip(v: bigint) {
    this.npc = Number(BigInt.asIntN(64, v));
  }
  get rflags(): bigint {
    return BigInt(this.flags() >>> 0);
  }
  set rflags(v: bigint) {
    this.fl = (Number(v & 0xffff_ffffn) | 2) >>> 0;
    this.cc = 0;
  }

  // ---- lazy flags ----

  /** RFLAGS with the arithmetic flags materialized (and kept eager from now on). */
  flags(): number {
    if (this.cc !== 0) {
      this.fl = ((this.fl & ~ARITH_MASK) | this.cf() | (this.pf() << 2) | this.af() | (this.zf() << 6) | (this.sf() << 7) | (this.of() << 11)) >>> 0;
      this.cc = 0;
    }
    return this.fl;
  }

  /** Replace the arithmetic flags in `which` with `values` (other RFLAGS bits in `which` too). */
  setFlagBits(which: number, values: number): void {
    const f = this.flags();
    this.fl = ((f & ~which) | (values & which) | 2) >>> 0;
  }

  cf(): number {
    const sz = this.csz;
    switch (this.cc) {
      case 0: return this.fl & 1;
      case 1: return ult(this.cr, this.crh, this.ca, this.cah, sz);
      case 2: return ult(this.cr, this.crh, this.ca, this.cah, sz) | (this.ccf & eq(this.cr, this.crh, this.ca, this.cah, sz));
      case 3: return ult(this.ca, this.cah, this.cb, this.cbh, sz);
      case 4: return ult(this.ca, this.cah, this.cb, this.cbh, sz) | (this.ccf & eq(this.ca, this.cah, this.cb, this.cbh, sz));
      case 5: return 0;
      default: return this.ccf;
    }
  }

  zf(): number {
    if (this.cc === 0) return (this.fl >> 6) & 1;
    return (this.csz === 8 ? (this.cr | this.crh) : this.cr) === 0 ? 1 : 0;
  }

  sf(): number {
    if (this.cc === 0) return (this.fl >> 7) & 1;
    return topBit(this.cr, this.crh, this.csz);
  }

  pf(): number {
    if (this.cc === 0) return (this.fl >> 2) & 1;
    return PARITY[this.cr & 0xff]!;
  }

  af(): number {
    if (this.cc === 0) return this.fl & 0x10;
    if (this.cc === 5) return 0;
    return (this.ca ^ this.cb ^ this.cr) & 0x10;
  }

  of(): number {
    const cc = this.cc;
    if (cc === 0) return (this.fl >> 11) & 1;
    if (cc === 5) return 0;
    const a = this.ca, b = this.cb, r = this.cr, ah = this.cah, bh = this.cbh, rh = this.crh;
    // add-like: (a ^ r) & (b ^ r); subtract-like: (a ^ b) & (a ^ r); sign bit of the operation size
    if (cc === 1 || cc === 2 || cc === 6) return topBit((a ^ r) & (b ^ r), (ah ^ rh) & (bh ^ rh), this.csz);
    return topBit((a ^ b) & (a ^ r), (ah ^ bh) & (ah ^ rh), this.csz);
  }

  // ---- shifts (SDM SAL/SAR/SHL/SHR) of 64-bit values: the result's low half is returned, the
  // high half left in `t`. Counts are already masked and non-zero. shiftFlags gives RFLAGS after
  // a shift of any size (AF cleared, as QEMU); templates commit it after their write. ----

  /** Scratch: high half of a 64-bit helper result. */
  t = 0;

  private szp(r: number, rh: number, sz: number): number {
    const z = (sz === 8 ? (r | rh) : r) === 0 ? 0x40 : 0;
    return z | (topBit(r, rh, sz) << 7) | (PARITY[r & 0xff]! << 2);
  }

  /** RFLAGS after SHL/SAL (k = 4 or 6), SHR (5) or SAR (7) of (a, ah) by n at size sz. */
  shiftFlags(k: number, a: number, ah: number, n: number, sz: number): number {
    let r: number, rh = 0, cf: number, of: number;
    if (sz === 8) {
      r = k === 5 ? this.shr64(a, ah, n) : k === 7 ? this.sar64(a, ah, n) : this.shl64(a, ah, n);
      rh = this.t;
      const b = k === 5 || k === 7 ? n - 1 : 64 - n; // the last bit shifted out
      cf = b < 32 ? (a >>> b) & 1 : (ah >>> (b - 32)) & 1;
      of = k === 5 ? ah >>> 31 : k === 7 ? 0 : (rh >>> 31) ^ cf;
    } else {
      const bits = sz * 8;
      const m = sz === 1 ? 0xff : sz === 2 ? 0xffff : -1;
      if (k === 5) {
        const u = sz === 4 ? a >>> 0 : a;
        r = (u >>> n) | 0;
        cf = (u >>> (n - 1)) & 1;
        of = topBit(a, 0, sz);
      } else if (k === 7) {
        const sa = sz === 1 ? (a << 24) >> 24 : sz === 2 ? (a << 16) >> 16 : a | 0;
        r = (sa >> n) & m;
        cf = (sa >> (n - 1)) & 1;
        of = 0;
      } else {
        r = (a << n) & m;
        cf = n <= bits ? (a >>> (bits - n)) & 1 : 0;
        of = topBit(r, 0, sz) ^ cf;
      }
    }
    return ((this.fl & ~ARITH_MASK) | cf | (of << 11) | this.szp(r, rh, sz)) >>> 0;
  }

  shl64(lo: number, hi: number, n: number): number {
    let rl: number, rh: number;
    if (n < 32) (rh = (hi << n) | (lo >>> (32 - n))), (rl = lo << n);
    else (rh = lo << (n - 32)), (rl = 0);
    this.t = rh | 0;
    return rl | 0;
  }

  shr64(lo: number, hi: number, n: number): number {
    let rl: number, rh: number;
    if (n < 32) (rl = (lo >>> n) | (hi << (32 - n))), (rh = hi >>> n);
    else (rl = hi >>> (n - 32)), (rh = 0);
    this.t = rh | 0;
    return rl | 0;
  }

  sar64(lo: number, hi: number, n: number): number {
    let rl: number, rh: number;
    if (n < 32) (rl = (lo >>> n) | (hi << (32 - n))), (rh = hi >> n);
    else (rl = hi >> (n - 32)), (rh = hi >> 31);
    this.t = rh | 0;
    return rl | 0;
  }

  /** Parity flag of the low byte of `v` (1 = even), for compiled blocks. */
  parity(v: number): number {
    return PARITY[v & 0xff]!;
  }

  /** Condition codes, SDM Vol. 1 Table B-1. */
  cond(n: number): boolean {
    let r: boolean;
    switch (n >> 1) {
      case 0: r = this.of() !== 0; break;
      case 1: r = this.cf() !== 0; break;
      case 2: r = this.zf() !== 0; break;
      case 3: r = (this.cf() | this.zf()) !== 0; break;
      case 4: r = this.sf() !== 0; break;
      case 5: r = this.pf() !== 0; break;
      case 6: r = this.sf() !== this.of(); break;
      default: r = this.zf() !== 0 || this.sf() !== this.of(); break;
    }
    return (n & 1) !== 0 ? !r : r;
  }
}

/** Unsigned a < b of operation size `sz` (1/2-byte values are masked, 4-byte int32, 8-byte pairs). */
function ult(a: number, ah: number, b: number, bh: number, sz: number): number {
  if (sz === 8) {
    const x = ah >>> 0, y = bh >>> 0;
    return x < y || (x === y && a >>> 0 < b >>> 0) ? 1 : 0;
  }
  return a >>> 0 < b >>> 0 ? 1 : 0;
}

function eq(a: number, ah: number, b: number, bh: number, sz: number): number {
  return (a | 0) === (b | 0) && (sz !== 8 || (ah | 0) === (bh | 0)) ? 1 : 0;
}

function topBit(v: number, vh: number, sz: number): number {
  switch (sz) {
    case 1: return (v >> 7) & 1;
    case 2: return (v >> 15) & 1;
    case 4: return v >>> 31;
    default: return vh >>> 31;
  }
}

/** Parity flag of a byte (1 = even number of set bits). */
export function parityOf(v: number): number {
  return PARITY[v & 0xff]!;
}
