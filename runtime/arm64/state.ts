// The A64 register file and PSTATE. The hot path (the compiled instruction templates, see
// isa/gen.ts) reads and writes 64-bit registers as two 32-bit halves in one Int32Array, `r`;
// everything else uses the BigInt views (x, sp, pc, nextPc, readX/writeX), which are accessors
// over the same array, so both always agree.

import { MASK32 as M32, MASK64 as M64, join64 } from "../core/bits.js";

export { join64 };

/** Layout of A64State.r: X0..X30 at 2n (low half) and 2n + 1 (high half). */
export const REG = {
  /** Index of the low half of Xn (n = 0..30); slot 31 (62/63) always reads zero (XZR). */
  x: (n: number): number => 2 * n,
  ZR: 62,
  /** SP_EL0..SP_EL3 at 64 + 2 * el. */
  sp: (el: number): number => 64 + 2 * el,
  /** The address of the instruction being executed. */
  PC: 72,
  /** Where execution continues after it (branches assign it). */
  NPC: 74,
  /** Scratch for 64-bit results returned in two halves (memory port, int64 helpers). */
  T: 76,
  SIZE: 80,
} as const;


/** Two Int32 halves → the unsigned 64-bit value: a number below 2^53 (exact), else a BigInt. */
export function value64(lo: number, hi: number): number | bigint {
  const h = hi >>> 0;
  return h < 0x20_0000 ? h * 0x1_0000_0000 + (lo >>> 0) : join64(lo, hi);
}


/**
 * A BigInt array view of `count` 64-bit slots of `r` starting at `base`: indexing, assignment
 * and the Array methods (map, forEach, spread, splice) all read and write `r`.
 */
function bigView(r: Int32Array, base: number, count: number): bigint[] {
  const index = (p: string | symbol): number => {
    if (typeof p !== "string") return -1;
    const i = Number(p);
    return Number.isInteger(i) && i >= 0 && i < count && String(i) === p ? i : -1;
  };
  return new Proxy(new Array<bigint>(count).fill(0n), {
    get(target, p, receiver) {
      const i = index(p);
      return i < 0 ? Reflect.get(target, p, receiver) : join64(r[base + 2 * i]!, r[base + 2 * i + 1]!);
    },
    set(target, p, v, receiver) {
      const i = index(p);
      if (i < 0) return p === "length" ? v === count : Reflect.set(target, p, v, receiver);
      const x = BigInt(v) & M64;
      r[base + 2 * i] = Number(x & M32) | 0;
      r[base + 2 * i + 1] = Number(x >> 32n) | 0;
      return true;
    },
  });
}

export class A64State {
  /** The register file as 32-bit halves (layout: REG). */
  readonly r = new Int32Array(REG.SIZE);
  /** X0..X30 as unsigned 64-bit BigInts (a view of `r`). Register 31 is SP or XZR: see readX/writeX. */
  readonly x: bigint[] = bigView(this.r, 0, 31);
  /** SP_EL0..SP_EL3 (a view of `r`). */
  readonly sp: bigint[] = bigView(this.r, 64, 4);
  /**
   * The SIMD&FP registers V0..V31 (Arm ARM B1.2.1), 128 bits each: V<n> is v[2n] (bits 63..0) and
   * v[2n + 1] (bits 127..64). Only the loads and stores that move them are modelled (no FP arithmetic).
   */
  readonly v = new BigUint64Array(64);
  /** PSTATE.NZCV as bits 3..0 (N=8, Z=4, C=2, V=1). */
  nzcv = 0;
  /** PSTATE.DAIF as bits 3..0 (D=8, A=4, I=2, F=1). */
  daif = 0xf;
  /** Instructions retired before the one that faulted, in the block or run that threw (see isa/block.ts). */
  partial = 0;
  /** Index in `r` of the stack pointer in use (SP_EL0 when PSTATE.SP = 0, else SP_ELx). */
  spi: number = REG.sp(1);
  private _el = 1;
  private _spsel = 1;

  /** Current exception level 0..3. */
  get el(): number {
    return this._el;
  }
  set el(v: number) {
    this._el = v;
    this.spi = this._spsel === 0 ? REG.sp(0) : REG.sp(v);
  }

  /** PSTATE.SP: 0 = use SP_EL0, 1 = SP_ELx. */
  get spsel(): number {
    return this._spsel;
  }
  set spsel(v: number) {
    this._spsel = v;
    this.spi = v === 0 ? REG.sp(0) : REG.sp(this._el);
  }

  /** Address of the instruction being executed. */
  get pc(): bigint {
    return join64(this.r[REG.PC]!, this.r[REG.PC + 1]!);
  }
  set pc(v: bigint) {
    this.r[REG.PC] = Number(v & M32) | 0;
    this.r[REG.PC + 1] = Number((v >> 32n) & M32) | 0;
  }

  /** Where execution continues after this instruction; semantics of branches assign it. */
  get nextPc(): bigint {
    return join64(this.r[REG.NPC]!, this.r[REG.NPC + 1]!);
  }
  set nextPc(v: bigint) {
    this.r[REG.NPC] = Number(v & M32) | 0;
    this.r[REG.NPC + 1] = Number((v >> 32n) & M32) | 0;
  }

  /** Xn as a number when it is below 2^53 (exact), else as a BigInt (trace fields take either). */
  xValue(n: number): number | bigint {
    return value64(this.r[2 * n]!, this.r[2 * n + 1]!);
  }

  /** The pc as a number when below 2^53, else as a BigInt. */
  pcValue(): number | bigint {
    return value64(this.r[REG.PC]!, this.r[REG.PC + 1]!);
  }

  /** Write Xn = v for 0 <= v < 2^31 (KVM's small results: PSCI return codes and versions). */
  setXSmall(n: number, v: number): void {
    this.r[2 * n] = v;
    this.r[2 * n + 1] = 0;
  }

  /** Read Xn (sf=true) or Wn zero-extended; n=31 reads XZR, or SP when `sp` is set. */
  readX(n: number, sf = true, sp = false): bigint {
    if (n === 31 && !sp) return 0n;
    const i = n === 31 ? this.spi : 2 * n;
    return sf ? join64(this.r[i]!, this.r[i + 1]!) : BigInt(this.r[i]! >>> 0);
  }

  /** Write Xn (sf=true) or Wn (zero-extends to 64); n=31 discards, or writes SP when `sp` is set. */
  writeX(n: number, value: bigint, sf = true, sp = false): void {
    if (n === 31 && !sp) return;
    const i = n === 31 ? this.spi : 2 * n;
    const v = value & M64;
    this.r[i] = Number(v & M32) | 0;
    this.r[i + 1] = sf ? Number((v >> 32n) & M32) | 0 : 0;
  }

  get currentSp(): bigint {
    return join64(this.r[this.spi]!, this.r[this.spi + 1]!);
  }

  set currentSp(v: bigint) {
    this.r[this.spi] = Number(v & M32) | 0;
    this.r[this.spi + 1] = Number((v >> 32n) & M32) | 0;
  }
}
