// The A64 register file and PSTATE. Values are unsigned 64-bit BigInts.

export class A64State {
  /** X0..X30. Register 31 is SP or XZR depending on the instruction; see readX/writeX. */
  readonly x: bigint[] = new Array<bigint>(31).fill(0n);
  /** SP_EL0..SP_EL3. */
  readonly sp: bigint[] = [0n, 0n, 0n, 0n];
  /** Address of the instruction being executed (set by the CPU loop before exec). */
  pc = 0n;
  /** Where execution continues after this instruction; semantics of branches assign it. */
  nextPc = 0n;
  /** PSTATE.NZCV as bits 3..0 (N=8, Z=4, C=2, V=1). */
  nzcv = 0;
  /** Current exception level 0..3. */
  el = 1;
  /** PSTATE.SP: 0 = use SP_EL0, 1 = SP_ELx. */
  spsel = 1;
  /** PSTATE.DAIF as bits 3..0 (D=8, A=4, I=2, F=1). */
  daif = 0xf;

  /** Read Xn (sf=true) or Wn zero-extended; n=31 reads XZR, or SP when `sp` is set. */
  readX(n: number, sf = true, sp = false): bigint {
    const v = n === 31 ? (sp ? this.currentSp : 0n) : this.x[n]!;
    return sf ? v : v & 0xffff_ffffn;
  }

  /** Write Xn (sf=true) or Wn (zero-extends to 64); n=31 discards, or writes SP when `sp` is set. */
  writeX(n: number, value: bigint, sf = true, sp = false): void {
    const v = sf ? value & 0xffff_ffff_ffff_ffffn : value & 0xffff_ffffn;
    if (n === 31) {
      if (sp) this.currentSp = v;
      return;
    }
    this.x[n] = v;
  }

  get currentSp(): bigint {
    return this.spsel === 0 ? this.sp[0]! : this.sp[this.el]!;
  }

  set currentSp(v: bigint) {
    if (this.spsel === 0) this.sp[0] = v;
    else this.sp[this.el] = v;
  }
}
