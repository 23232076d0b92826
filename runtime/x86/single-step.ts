// The single-step trap (RFLAGS.TF): Intel SDM Vol. 3 17.3.1.4 "Single-Step Exception Condition" — a
// trap-class #DB after an instruction that executed with TF set (none after the instruction that sets
// it), DR6.BS set; SYSCALL/SYSRET decide on the TF they leave. KVM intercepts #DB (its exception
// bitmap) and reflects it; its emulator does the same for instructions it runs (kvm_vcpu_do_singlestep).

import type { X86Insn } from "./isa/types.js";

/** RFLAGS.TF (bit 8). */
export const TF = 1n << 8n;

/**
 * Whether an instruction that completed takes the single-step trap (SDM Vol. 3 17.3.1.4: TF set
 * while it executed; none after the instruction that sets TF). SYSCALL and SYSRET look at TF as they
 * leave it (the OS masks TF with IA32_FMASK to enter without a #DB; SYSRET that loads TF traps on
 * return: kvm-unit-tests x86/syscall.c test_syscall_tf, Linux em_syscall's ctxt->tf).
 */
export function singleStepTrap(insn: X86Insn, tfBefore: boolean, tfAfter: boolean): boolean {
  const sem = insn.spec.sem;
  return sem === "syscall" || sem === "sysret" ? tfAfter : tfBefore;
}

