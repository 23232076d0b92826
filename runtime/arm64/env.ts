// What an A64 instruction's semantics may ask of the machine. The ISA module (decode + semantic
// functions) depends only on this interface; the machine (MMU, EL2 trap rules, exception entry)
// implements it. Any method may throw a guest exception (an abort, a trap to EL2, UNDEFINED);
// semantics therefore do their memory accesses before any register write-back, so a faulting
// instruction leaves the register file as it was.

import type { A64State } from "./state.js";

/** One memory access, described the way the data-abort syndrome needs it (Arm ARM D17.2.37). */
export interface A64MemAccess {
  /** Bytes per element: 1, 2, 4, 8 or 16 (SIMD&FP register loads and stores move 4, 8 or 16 as 8-byte halves). */
  size: 1 | 2 | 4 | 8 | 16;
  write: boolean;
  /** Transfer register Rt (ISS.SRT). */
  rt: number;
  /** Load sign-extends (ISS.SSE). */
  signed: boolean;
  /** Rt is a 64-bit register (ISS.SF). */
  sf: boolean;
  /** Acquire/release semantics (ISS.AR). */
  acqrel: boolean;
  /**
   * The access can report a valid syndrome (ISS.ISV = 1): single-register loads and stores of the
   * general-purpose registers. False for ldp/stp, writeback forms where the architecture says so,
   * and other multi-register accesses.
   */
  syndromeValid: boolean;
  /**
   * The access must be aligned to its size whatever the memory type and SCTLR_EL1.A: exclusives,
   * load-acquire/store-release and atomics (Arm ARM B2.5.2; AArch64.CheckAlignment's
   * AccType_ORDERED/ATOMIC). Unaligned, it is an Alignment fault taken before translation.
   */
  mustAlign?: boolean;
}

export type A64Barrier = "isb" | "dsb" | "dmb";
export type A64PstateField = "daifset" | "daifclr" | "spsel";

/** System-register operand of MRS/MSR/SYS, as encoded (op0, op1, CRn, CRm, op2). */
export interface A64SysregEncoding {
  op0: number;
  op1: number;
  crn: number;
  crm: number;
  op2: number;
}

export interface A64Env {
  readonly state: A64State;
  /** Load `a.size` bytes from virtual address `va` (little-endian), zero-extended. */
  load(va: bigint, a: A64MemAccess): bigint;
  /** Store the low `a.size` bytes of `value` at `va`. */
  store(va: bigint, value: bigint, a: A64MemAccess): void;
  /** MRS Xt, <sysreg>. */
  readSysreg(enc: A64SysregEncoding, rt: number): bigint;
  /** MSR <sysreg>, Xt. */
  writeSysreg(enc: A64SysregEncoding, value: bigint, rt: number): void;
  /** MSR <pstatefield>, #imm. */
  writePstate(field: A64PstateField, imm: number): void;
  /** SYS #op1, Cn, Cm, #op2, Xt: DC, IC, TLBI, AT. */
  sys(enc: A64SysregEncoding, value: bigint, rt: number): void;
  /** SVC/HVC/SMC #imm16. */
  call(kind: "svc" | "hvc" | "smc", imm16: number): void;
  eret(): void;
  /** WFI (false) or WFE (true). */
  wait(isWfe: boolean): void;
  barrier(kind: A64Barrier): void;
  /** YIELD executed (a spin-wait hint): called when set, e.g. to let another vCPU run. */
  onYield?: (() => void) | null;
  /** Raise the undefined-instruction exception for this instruction. */
  undefinedInstruction(): never;
  /**
   * CheckSPAlignment (Arm ARM D1.8.2): called by loads and stores whose base register is SP, before
   * any access; raises the SP alignment fault when SP is not 16-byte aligned and SCTLR_EL1.SA
   * (SA0 at EL0) is set. Environments without the check (instruction emulation) omit it.
   */
  checkSpAlignment?(): void;
  /**
   * The alignment check of an access made before translation: raises the Alignment fault of an
   * unaligned `mustAlign` access (or any unaligned access with SCTLR_EL1.A = 1); returns whether
   * the access is unaligned. Store-exclusive calls it even when the monitor check fails.
   */
  checkAlignment?(va: bigint, a: A64MemAccess): boolean;
  /**
   * CheckFPAdvSIMDEnabled64 (Arm ARM D1.10.1, CPACR_EL1.FPEN): called by SIMD&FP instructions before
   * anything else; raises the trap to EL1 (EC 0x07) when FPEN traps the current EL. Environments
   * without the check (instruction emulation) omit it.
   */
  checkFpAccess?(): void;
}
