// The fast path's templates for the system instructions that run in a VM without an exit and in
// hot loops: MOV to/from CR8 in 64-bit mode (SDM Vol. 2 "MOV—Move to/from Control Registers":
// CR8 is reachable only with REX.R, in 64-bit mode; Vol. 3 10.8.6.1: CR8[3:0] is TPR[7:4]). With
// the "use TPR shadow" VM-execution control and CR8-load/store exiting clear (KVM's setting with
// an in-kernel APIC: vmx.c setup_vmcs_config drops CPU_BASED_CR8_LOAD/STORE_EXITING when the TPR
// shadow is available), the processor reads and writes the virtual TPR without a VM exit (SDM
// Vol. 3 29.3 "Virtualizing CR8-based TPR accesses"). The checks (CPL, the exiting controls,
// reserved bits) stay in the CPU (FastMem.readCr8/writeCr8), so a template is the same code for
// every VMCS. Other control registers keep the BigInt semantics (system.ts): their writes change
// modes and translations.

import type { X86Operand } from "../types.js";
import type { Template } from "./fast-gen.js";

type Cr = Extract<X86Operand, { kind: "cr" }>;
type Reg = Extract<X86Operand, { kind: "reg" }>;

/** MOV r64, CR8: the TPR class (0..15), zero-extended. */
const movfromcr: Template = (g, insn) => {
  const [dst, src] = insn.operands as [Reg, Cr];
  if (insn.mode !== "long64" || src.n !== 8) return false;
  const t = g.v("a");
  g.faults = true;
  g.emit(`const ${t} = m.readCr8(${dst.reg});`);
  g.emit(`R[${dst.reg}] = ${t}; R[${dst.reg + 16}] = 0;`);
  return true;
};

/**
 * MOV CR8, r64. It ends the block (as a branch to the next instruction does): lowering the TPR
 * below KVM's TPR threshold is a trap-like VM exit right after it (SDM Vol. 3 29.1.2), which the
 * machine looks for between blocks.
 */
const movtocr: Template = (g, insn) => {
  const [dst, src] = insn.operands as [Cr, Reg];
  if (insn.mode !== "long64" || dst.n !== 8) return false;
  g.faults = true;
  g.branches = true;
  g.emit(`m.writeCr8(R[${src.reg}], R[${src.reg + 16}], ${src.reg});`);
  return true;
};

export const SYSTEM_TEMPLATES: Readonly<Record<string, Template>> = { movfromcr, movtocr };
