// The x87 control instructions a kernel's early code runs to find and set up the FPU (Linux's
// fpu__init_check_features / fpu__init_cpu: FNINIT, FNSTSW, FNSTCW, FLDCW, FWAIT), on the vCPU's
// X86FpuState. No x87 arithmetic is modelled, so no instruction raises an x87 exception flag.
// Exceptions: Intel SDM Vol. 3A 2.5 and Table 2-2 ("Action Taken By x87 FPU Instructions for
// Different Combinations of EM, MP, and TS"): #NM if CR0.EM or CR0.TS; WAIT/FWAIT #NM only if CR0.MP
// and CR0.TS. The pending-exception check of WAIT (SDM Vol. 1 8.6, 8.7): #MF when FSW.ES is set and
// CR0.NE = 1 (with NE = 0 the error goes to FERR#, which is not modelled).

import type { X86Env } from "../../env.js";
import type { X86FpuState } from "../../fpu-state.js";
import { VECTOR } from "../../vectors.js";
import { CR0 } from "../../state.js";
import { effectiveAddress, readMem, writeGpr, writeMem, type MemOperand, type Sem } from "./core.js";

/** FSW bits (SDM Vol. 1 Figure 8-4): exception flags IE..PE (5:0), SF (6), ES (7), B (15). */
const FSW = { EXCEPTIONS: 0x3f, SF: 0x40, ES: 0x80, B: 0x8000 } as const;

/** The FPU state for an x87 instruction: #UD without one, #NM if CR0.EM or CR0.TS. */
function x87State(env: X86Env): X86FpuState {
  const s = env.state;
  if (!s.fpu) return env.raise(VECTOR.UD);
  if (s.cr0 & (CR0.EM | CR0.TS)) return env.raise(VECTOR.NM);
  return s.fpu;
}

/** WAIT/FWAIT: #NM if CR0.MP and CR0.TS; then an unmasked pending x87 exception (FSW.ES) is #MF with CR0.NE. */
const fwait: Sem = (env) => {
  const s = env.state;
  if (!s.fpu) return env.raise(VECTOR.UD);
  if ((s.cr0 & CR0.MP) !== 0n && (s.cr0 & CR0.TS) !== 0n) return env.raise(VECTOR.NM);
  if (s.fpu.fsw & FSW.ES && s.cr0 & CR0.NE) env.raise(VECTOR.MF);
};

/** FNINIT (DB E3): FCW 037FH, FSW 0, tags empty, pointers 0 (SDM Vol. 2 FINIT/FNINIT). */
const fninit: Sem = (env) => {
  x87State(env).initX87();
};

/** FNCLEX (DB E2): clear PE..IE, SF, ES and B in FSW (SDM Vol. 2 FCLEX/FNCLEX). */
const fnclex: Sem = (env) => {
  const f = x87State(env);
  f.fsw &= ~(FSW.EXCEPTIONS | FSW.SF | FSW.ES | FSW.B) & 0xffff;
};

/** FNSTSW AX (DF E0) or m16 (DD /7). */
const fnstsw: Sem = (env, insn) => {
  const f = x87State(env);
  const dst = insn.operands[0]!;
  if (dst.kind === "reg") writeGpr(env.state, 0, 2, BigInt(f.fsw));
  else {
    const m = dst as MemOperand;
    writeMem(env, m.seg, effectiveAddress(env.state, insn, m), 2, BigInt(f.fsw));
  }
};

/** FNSTCW m16 (D9 /7). */
const fnstcw: Sem = (env, insn) => {
  const f = x87State(env);
  const m = insn.operands[0] as MemOperand;
  writeMem(env, m.seg, effectiveAddress(env.state, insn, m), 2, BigInt(f.fcw));
};

/**
 * FLDCW m16 (D9 /5). A flag already set in FSW that the new word unmasks makes the exception
 * pending (FSW.ES and B): the next waiting x87 instruction reports it (SDM Vol. 2 FLDCW).
 */
const fldcw: Sem = (env, insn) => {
  const f = x87State(env);
  const m = insn.operands[0] as MemOperand;
  const cw = Number(readMem(env, m.seg, effectiveAddress(env.state, insn, m), 2));
  f.fcw = cw;
  if (f.fsw & FSW.EXCEPTIONS & ~cw) f.fsw |= FSW.ES | FSW.B;
  else f.fsw &= ~(FSW.ES | FSW.B) & 0xffff;
};

export const X87_SEMANTICS: Record<string, Sem> = { fwait, fninit, fnclex, fnstsw, fnstcw, fldcw };
