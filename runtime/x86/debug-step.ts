// The debug exceptions the interpreter raises around one instruction (Intel SDM Vol. 3 17.3.1):
// an instruction breakpoint (DR7, fault-class, before the instruction unless RFLAGS.RF) and the
// single-step trap (RFLAGS.TF at the start of the instruction, trap-class, after it), with the
// blocking by MOV SS / POP SS that holds the trap back (SDM 6.8.3). The machine calls these only
// while TF, RF or a DR7 breakpoint is on, so the hot path pays one flag test per instruction and
// compiled blocks are not used meanwhile.

import type { X86Cpu } from "./cpu.js";
import type { X86Insn } from "./isa/types.js";
import { GuestFault } from "./state.js";
import { VECTOR } from "./vectors.js";
import { DR6_BS } from "./debug-regs.js";
import { singleStepTrap } from "./single-step.js";

/** RFLAGS.TF (bit 8) and RFLAGS.RF (bit 16), SDM Vol. 1 Figure 3-8. */
export const RFLAGS_TF = 0x100;
export const RFLAGS_RF = 0x1_0000;
/** The RFLAGS bits that make the machine run the debug checks. */
export const DEBUG_RFLAGS = RFLAGS_TF | RFLAGS_RF;

/**
 * Before an instruction: a #DB fault (DR6.Bn of the matching breakpoints) if DR7 enables an
 * instruction breakpoint at rip and RFLAGS.RF is clear (SDM 17.3.1.1). Throws the GuestFault.
 */
export function instructionBreakpoint(cpu: X86Cpu): void {
  cpu.dataHits = 0n;
  if (!cpu.drArmed || (cpu.state.fl & RFLAGS_RF) !== 0) return;
  const hits = cpu.instructionBreakpoints();
  if (hits !== 0n) throw new GuestFault(VECTOR.DB, undefined, hits);
}

/** MOV SS and POP SS block debug exceptions until the next instruction completes (SDM Vol. 3 6.8.3). */
function loadsSs(insn: X86Insn): boolean {
  const dst = insn.operands[0];
  return (insn.spec.sem === "movsreg" || insn.spec.sem === "popseg") && dst?.kind === "sreg" && dst.seg === "ss";
}

/**
 * After an instruction completed (rip is the next one), given the RFLAGS debug bits at its start:
 * RF is cleared once an instruction completes (IRET loads it instead), and TF at the start makes a
 * single-step #DB trap with DR6.BS — except after MOV SS / POP SS. Throws the trap's GuestFault.
 */
export function afterDebugStep(cpu: X86Cpu, insn: X86Insn, atStart: number): void {
  const s = cpu.state;
  if (atStart & RFLAGS_RF && insn.spec.sem !== "iret") s.fl &= ~RFLAGS_RF;
  // Data breakpoints hit by the instruction's accesses trap after it (SDM 17.3.1.2), with BS if TF was
  // set too; after MOV SS / POP SS the data breakpoint waits for the next instruction (SDM 6.8.3).
  if (loadsSs(insn)) {
    cpu.heldDebug = cpu.dataHits;
    cpu.dataHits = 0n;
    return;
  }
  const step = singleStepTrap(insn, (atStart & RFLAGS_TF) !== 0, (s.fl & RFLAGS_TF) !== 0);
  const payload = cpu.dataHits | cpu.heldDebug | (step ? DR6_BS : 0n);
  cpu.dataHits = 0n;
  cpu.heldDebug = 0n;
  if (payload !== 0n) {
    cpu.insn = null;
    throw new GuestFault(VECTOR.DB, undefined, payload);
  }
}

/** The #DB conditions MOV SS held back, now due (and forgotten): 0n if none. */
export function takeHeldDebug(cpu: X86Cpu): bigint {
  const held = cpu.heldDebug;
  cpu.heldDebug = 0n;
  return held;
}
