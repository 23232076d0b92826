// Flag-polling loops: a vCPU that waits for another vCPU to write memory (kvm-unit-tests' `while
// (nmi_counter == old_counter);`, `while (!nmi_flushed) pause();`) runs a tight loop that only
// loads, compares and branches back. Such a loop is idempotent: every pass recomputes its
// registers and flags from memory and loop-invariant registers alone, so while memory does not
// change it can never leave the loop; only another vCPU's store (or an interrupt on this vCPU,
// which the machine looks at between blocks) ends it. On real KVM the vCPUs run in parallel and
// the waiter sees the store at once; interleaved on one thread (core/vcpus.ts), the waiter would
// otherwise burn the rest of its quantum and the writer run a whole quantum past its store.
// smp.ts uses this classification to end the waiter's quantum after one pass and to let the
// others run only a short quantum while one waits (POLL_QUANTUM), as QEMU's round-robin TCG ends
// a vCPU's time slice at PAUSE (target/i386/tcg/misc_helper.c helper_pause: cpu_loop_exit) —
// here also without PAUSE, since the pass itself shows nothing can change.
// Instruction forms: Intel SDM Vol. 2 MOV, MOVZX, MOVSX, CMP, TEST, PAUSE, NOP, Jcc.

import type { X86Insn } from "./isa/types.js";

/** CMP's index among the ALU group's eight operations (isa/table.ts ALU: add, or, adc, sbb, and, sub, xor, cmp). */
const ALU_CMP = 7;

/** Loads into a register: MOV r, m; MOVZX r, m; MOVSX(D) r, m. */
const LOADS = new Set(["mov", "movzx", "movsx"]);

/**
 * Whether `insns`, one pass of a compiled loop (the last instruction a conditional branch back to
 * the first; the block stores nothing), is a flag-polling loop: every other instruction is a load
 * into a register from an address no instruction of the loop changes (its base and index
 * registers are not loaded into), a CMP or TEST (they write only flags), or a hint (NOP, PAUSE,
 * ENDBR64). Anything else — arithmetic on a register, a register-to-register move, a load whose
 * address the loop advances, an exit-causing or system instruction — may make progress alone, and
 * the loop is not one.
 */
export function isFlagPoll(insns: readonly X86Insn[]): boolean {
  const n = insns.length;
  if (n < 2 || insns[n - 1]!.spec.sem !== "jcc") return false;
  const loaded = new Set<number>();
  const addressRegs = new Set<number>();
  for (let i = 0; i < n - 1; i++) {
    const insn = insns[i]!;
    const sem = insn.spec.sem;
    if (insn.prefixes.lock) return false;
    for (const op of insn.operands) {
      if (op.kind !== "mem") continue;
      if (op.base !== null) addressRegs.add(op.base);
      if (op.index !== null) addressRegs.add(op.index);
    }
    if (sem === "nop" || sem === "test" || (sem === "alu" && insn.spec.arg === ALU_CMP)) continue;
    if (LOADS.has(sem)) {
      const [dst, src] = insn.operands;
      if (dst?.kind !== "reg" || src?.kind !== "mem") return false;
      loaded.add(dst.reg);
      continue;
    }
    return false;
  }
  for (const r of loaded) if (addressRegs.has(r)) return false;
  return true;
}
