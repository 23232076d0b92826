// VM exits decided before the instruction runs, so the machine takes them without a JavaScript
// exception (a throw costs microseconds; guests that loop on CR writes, MSR writes or I/O exit
// twice per iteration): CR accesses (Intel SDM Vol. 3 25.1.3: MOV to CR0/CR4 by the guest/host
// masks and read shadows, MOV to/from CR3 by CR3-load/-store exiting and the CR3-target values,
// MOV to/from CR8 by CR8-load/-store exiting; qualification Table 28-3, vmx/qualification.ts) and
// RDMSR/WRMSR (25.1.3: by the MSR bitmaps, or always without them), HLT (HLT exiting). The instructions' own paths
// (cpu.ts, control-regs.ts) decide the same rules again when they run without this look (KVM's emulator, tests).

import { encodeBits32 } from "../core/bitfields.js";
import type { X86State } from "./env.js";
import { X86Regs } from "./regs.js";
import type { X86Insn, X86Operand } from "./isa/types.js";
import { readGpr } from "./isa/semantics/core.js";
import type { ExitInfo } from "./state.js";
import { EXIT } from "./vmx/reasons.js";
import type { ExitRules } from "./vmx/controls.js";
import { CR_ACCESS_QUAL } from "./vmx/qualification.js";

/**
 * The exit information of a CR access: `accessType` 0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW;
 * `gpr` the general register operand (0-15); for LMSW its source data and whether the operand was
 * in memory. The qualification is a Number (all fields are within bits 31:0).
 */
export function crAccessExit(cr: number, accessType: number, gpr: number, lmsw?: { source: number; memoryOperand: boolean }): ExitInfo {
  // MOV to/from CR: one shared record per (CR, direction, register), as CPUID_EXIT is (exits only read it).
  if (lmsw === undefined && accessType < 2 && cr < 16 && gpr < 16) {
    const k = (cr << 5) | (accessType << 4) | gpr;
    return (MOV_CR_EXITS[k] ??= crAccessExit(cr, accessType, gpr, NO_LMSW));
  }
  const qualification = encodeBits32(CR_ACCESS_QUAL, { cr, access_type: accessType, gpr, lmsw_operand: lmsw?.memoryOperand ? 1 : 0, lmsw_source: lmsw?.source ?? 0 });
  return { reason: EXIT.CR_ACCESS, qualification };
}

const MOV_CR_EXITS: (ExitInfo | undefined)[] = [];
const NO_LMSW = { source: 0, memoryOperand: false };

type CrOperand = Extract<X86Operand, { kind: "cr" }>;
type RegOperand = Extract<X86Operand, { kind: "reg" }>;

/**
 * The CR-access exit a MOV to/from CR instruction (`insn`, sem movtocr or movfromcr) takes under
 * `rules`, or null: it runs (and may still fault). The caller asks only at CPL 0: a #GP for CPL > 0 comes before any exit (SDM Vol. 3
 * 25.1.1); an undefined CR is #UD, which the instruction raises itself.
 */
export function plainCrExit(state: X86State, rules: ExitRules, insn: X86Insn): ExitInfo | null {
  if (insn.spec.sem === "movtocr") {
    const [dst, src] = insn.operands as [CrOperand, RegOperand];
    const n = dst.n;
    // The register file's halves when it has them (no BigInt per MOV CR0/CR4; a 32-bit operand has no high half).
    const r = state instanceof X86Regs ? state.r : null;
    const exits =
      (n === 0 || n === 4) && r !== null ? rules.movToCr0or4ExitsHalves(n, r[src.reg]! >>> 0, src.size === 8 ? r[src.reg + 16]! >>> 0 : 0)
      : n === 0 || n === 4 ? rules.movToCr0or4Exits(n, readGpr(state, src.reg, src.size))
      : n === 3 ? rules.movToCr3Exits(readGpr(state, src.reg, src.size))
      : n === 8 ? rules.movCr8Exits(true)
      : false;
    return exits ? crAccessExit(n, 0, src.reg) : null;
  }
  if (insn.spec.sem === "movfromcr") {
    const [dst, src] = insn.operands as [RegOperand, CrOperand];
    const n = src.n;
    const exits = n === 3 ? rules.movFromCr3Exits() : n === 8 ? rules.movCr8Exits(false) : false;
    return exits ? crAccessExit(n, 1, dst.reg) : null;
  }
  return null;
}

const MSR_READ_EXIT: ExitInfo = { reason: EXIT.MSR_READ, qualification: 0 };
const MSR_WRITE_EXIT: ExitInfo = { reason: EXIT.MSR_WRITE, qualification: 0 };

/**
 * The exit RDMSR or WRMSR (`insn`) takes for the MSR in ECX under `rules` (no qualification, SDM
 * Vol. 3 Table 28-1), or null. Asked only at CPL 0, as for CR accesses (#GP first).
 */
export function plainMsrExit(state: X86State, rules: ExitRules, insn: X86Insn): ExitInfo | null {
  const write = insn.spec.sem === "wrmsr";
  if (!write && insn.spec.sem !== "rdmsr") return null;
  return rules.msrExits(Number(readGpr(state, 1, 4)), write) ? (write ? MSR_WRITE_EXIT : MSR_READ_EXIT) : null;
}

const HLT_EXIT: ExitInfo = { reason: EXIT.HLT, qualification: 0 };

/** The exit HLT takes under `rules` (HLT exiting, SDM Vol. 3 25.1.3), or null. Asked only at CPL 0 (#GP first). */
export function plainHltExit(rules: ExitRules): ExitInfo | null {
  return rules.hltExits() ? HLT_EXIT : null;
}
