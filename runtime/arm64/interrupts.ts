// How an interrupt reaches the guest CPU: the attention bits the engine looks at between compiled
// blocks (never per instruction), the IRQ exception entry to EL1, and the hook through which
// device models (the generic timer, the GICv3 CPU interface) answer system-register accesses.
// Source: Arm ARM (DDI 0487) D1.10 "Exception entry" (IRQ: vector offset +0x80 from the table of
// the current EL with SP_ELx, +0x280 — +0x400 + 0x80 — from a lower EL; ELR = the preferred
// return address, the next instruction; PSTATE.DAIF all set), D1.3.6 PSTATE.I masking IRQs.

import type { A64Cpu } from "./cpu.js";

/** cpu.attention bits: a virtual IRQ is signalled (ATTN_VIRQ), the machine must look at its clock or a physical interrupt (ATTN_STOP). */
export const ATTN_VIRQ = 1, ATTN_STOP = 2;

/** Registers a device model answers for (the generic timer's CNTx_*, the GICv3 ICC_*). */
export interface SysregHook {
  /** The value of `name`, or undefined when the model does not own it. */
  read(name: string): bigint | undefined;
  /** Write `name`; false when the model does not own it. */
  write(name: string, v: bigint): boolean;
}

/** Exception entry for an IRQ to EL1: ELR_EL1 = pc, SPSR_EL1 = PSTATE, DAIF masked, EL1h, vector + 0x80. */
export function takeIrq(cpu: A64Cpu): void {
  const s = cpu.state;
  cpu.sysregs.set("ELR_EL1", s.pc);
  cpu.sysregs.set("SPSR_EL1", cpu.pstate);
  cpu.pstateSS = 0;
  const offset = (s.el === 0 ? 0x400n : s.spsel ? 0x200n : 0n) + 0x80n;
  s.el = 1;
  s.spsel = 1;
  s.daif = 0xf;
  s.pc = (cpu.reg("VBAR_EL1") & ~0x7ffn) + offset;
}
