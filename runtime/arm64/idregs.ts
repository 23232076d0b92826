// The AArch64 feature-ID registers as data: every field this CPU advertises, with the value and
// the part of exitlab that models it (or why the value says "absent"). The reset values of the
// ID_AA64* rows of the sysreg table (sysregs.ts) are computed from these fields, and the MMU's
// physical address size is read from PARange, so an advertised feature and the model cannot
// drift apart. Fields not listed read 0 ("not implemented" for the signed-style fields of
// ARMv8.0, or the minimum the architecture allows). The whole ID space op0 = 3, op1 = 0, CRn = 0,
// CRm = 1..7 is readable: encodings without a register here are RAZ (reserved ID space).
// Sources: Arm ARM (DDI 0487) register descriptions ID_AA64PFR0_EL1, ID_AA64DFR0_EL1,
// ID_AA64ISAR0_EL1, ID_AA64MMFR0_EL1 (field encodings); "Reserved encodings in the ID space"
// (D23.3.1 in K.a: RAZ, trapped by HCR_EL2.TID3); the Cortex-A57 TRM (r1p0 reset values) for the
// fields the model keeps; Linux arch/arm64/kvm/sys_regs.c (ID_UNALLOCATED: RAZ under TID3).

/** One field of an ID register. */
export interface IdField {
  reg: string;
  /** Field name as the Arm ARM spells it. */
  field: string;
  lsb: number;
  width: number;
  value: number;
  /** What the value means, and what in exitlab models it (or why it is absent). */
  why: string;
}

const F = (reg: string, field: string, lsb: number, width: number, value: number, why: string): IdField => ({ reg, field, lsb, width, value, why });

export const ID_FIELDS: readonly IdField[] = [
  // ID_AA64PFR0_EL1
  F("ID_AA64PFR0_EL1", "EL0", 0, 4, 1, "EL0 is AArch64 only: no AArch32 state is modelled (an ERET to AArch32 is an illegal return)"),
  F("ID_AA64PFR0_EL1", "EL1", 4, 4, 1, "EL1 is AArch64 only"),
  F("ID_AA64PFR0_EL1", "EL2", 8, 4, 1, "EL2 is implemented, AArch64 only (KVM's, modelled by the trap rules and kvm/)"),
  F("ID_AA64PFR0_EL1", "EL3", 12, 4, 0, "no EL3: SMC is UNDEFINED unless HCR_EL2.TSC traps it"),
  F("ID_AA64PFR0_EL1", "FP", 16, 4, 0xf, "no floating point: no FP arithmetic is modelled (the V registers and LDP/STP of S/D/Q are, for save/restore code such as kvm-unit-tests' fpu.c, which does not read this field)"),
  F("ID_AA64PFR0_EL1", "AdvSIMD", 20, 4, 0xf, "no Advanced SIMD: no vector instructions or registers are modelled"),
  F("ID_AA64PFR0_EL1", "GIC", 24, 4, 0, "no GIC system-register interface"),
  // ID_AA64DFR0_EL1
  F("ID_AA64DFR0_EL1", "DebugVer", 0, 4, 6, "ARMv8 debug architecture (mandatory in ARMv8: cannot read absent): MDSCR_EL1, the OS lock, software step, the slots below (sysregs.ts, debug.ts)"),
  F("ID_AA64DFR0_EL1", "TraceVer", 4, 4, 0, "no trace unit system registers"),
  F("ID_AA64DFR0_EL1", "PMUVer", 8, 4, 1, "PMUv3 (the Cortex-A57's, as KVM's vPMU shows it: kvm/pmu.ts); a 2015 host passed the same field through with the registers RAZ/WI (Linux v4.1 sys_regs.c trap_raz_wi)"),
  F("ID_AA64DFR0_EL1", "BRPs", 12, 4, 5, "6 breakpoints, as the Cortex-A57 this machine is (Cortex-A57 TRM, ID_AA64DFR0_EL1): DBGB{V,C}R0..5_EL1, address-match breakpoints (debug.ts)"),
  F("ID_AA64DFR0_EL1", "WRPs", 20, 4, 3, "4 watchpoints, as the Cortex-A57 (Cortex-A57 TRM): DBGW{V,C}R0..3_EL1 (debug.ts)"),
  F("ID_AA64DFR0_EL1", "CTX_CMPs", 28, 4, 0, "1 context-aware breakpoint, the architectural minimum (context and linked matches are not modelled: BT != 0 never matches)"),
  // ID_AA64ISAR0_EL1: AES, SHA1, SHA2, CRC32 all 0
  F("ID_AA64ISAR0_EL1", "AES", 4, 4, 0, "no AES/PMULL instructions are decoded"),
  F("ID_AA64ISAR0_EL1", "SHA1", 8, 4, 0, "no SHA1 instructions are decoded"),
  F("ID_AA64ISAR0_EL1", "SHA2", 12, 4, 0, "no SHA256 instructions are decoded"),
  F("ID_AA64ISAR0_EL1", "CRC32", 16, 4, 0, "no CRC32 instructions are decoded"),
  F("ID_AA64ISAR0_EL1", "Atomic", 20, 4, 0, "no LSE atomics (ARMv8.0)"),
  // ID_AA64MMFR0_EL1
  F("ID_AA64MMFR0_EL1", "PARange", 0, 4, 4, "44-bit physical addresses (Cortex-A57): the MMU's output and stage-1-off address size checks"),
  F("ID_AA64MMFR0_EL1", "ASIDBits", 4, 4, 2, "16-bit ASIDs (a TTBR write flushes the model's TLB, so every ASID width behaves)"),
  F("ID_AA64MMFR0_EL1", "BigEnd", 8, 4, 0, "little-endian only: SCTLR_EL1.EE/E0E big-endian data accesses are not modelled"),
  F("ID_AA64MMFR0_EL1", "SNSMem", 12, 4, 1, "Secure and Non-secure memory are distinguished (Cortex-A57; not visible to a Non-secure guest)"),
  F("ID_AA64MMFR0_EL1", "BigEndEL0", 16, 4, 0, "no mixed-endian support at EL0"),
  F("ID_AA64MMFR0_EL1", "TGran16", 20, 4, 0, "16 KiB granule not supported (mmu.ts walks 4 and 64 KiB only)"),
  F("ID_AA64MMFR0_EL1", "TGran64", 24, 4, 0, "64 KiB granule supported (mmu.ts)"),
  F("ID_AA64MMFR0_EL1", "TGran4", 28, 4, 0, "4 KiB granule supported (mmu.ts)"),
];

/** The value of an ID register from its fields (0 for a register with none: RAZ). */
export function idRegValue(reg: string): bigint {
  let v = 0n;
  for (const f of ID_FIELDS) if (f.reg === reg) v |= BigInt(f.value) << BigInt(f.lsb);
  return v;
}

/** The value of one field (throws on a name not in the table: a typo is a bug here). */
export function idField(reg: string, field: string): number {
  const f = ID_FIELDS.find((x) => x.reg === reg && x.field === field);
  if (!f) throw new Error(`no ID field ${reg}.${field}`);
  return f.value;
}

/** ID_AA64MMFR0_EL1.PARange → bits of physical address (Arm ARM: 0 = 32, 1 = 36, 2 = 40, 3 = 42, 4 = 44, 5 = 48). */
export const PA_BITS = [32, 36, 40, 42, 44, 48][idField("ID_AA64MMFR0_EL1", "PARange")]!;

/**
 * The feature-ID register space (Arm ARM "Reserved encodings in the ID space"): op0 = 3, op1 = 0,
 * CRn = 0, CRm = 1..7, any op2. Reads of its unallocated encodings at EL1 are RAZ, and
 * HCR_EL2.TID3 traps reads of all of it.
 */
export function isIdSpace(e: { op0: number; op1: number; crn: number; crm: number }): boolean {
  return e.op0 === 3 && e.op1 === 0 && e.crn === 0 && e.crm >= 1 && e.crm <= 7;
}

/**
 * Named registers of the ID space that ARMv8.0 leaves reserved (later extensions allocate them)
 * or that describe AArch32, which this CPU does not implement: all read as zero. KVM today lists
 * them as ID_UNALLOCATED / ID_HIDDEN / AA32_ID_SANITISED with aa32_id_visibility (RAZ).
 */
export const RAZ_ID_REGS: readonly [name: string, crm: number, op2: number, doc: string][] = [
  ["ID_PFR0_EL1", 1, 0, "AArch32 processor feature 0 (RAZ: no AArch32)"],
  ["ID_PFR1_EL1", 1, 1, "AArch32 processor feature 1 (RAZ: no AArch32)"],
  ["ID_DFR0_EL1", 1, 2, "AArch32 debug feature 0 (RAZ: no AArch32)"],
  ["ID_AFR0_EL1", 1, 3, "AArch32 auxiliary feature 0 (RAZ)"],
  ["ID_MMFR0_EL1", 1, 4, "AArch32 memory model feature 0 (RAZ: no AArch32)"],
  ["ID_MMFR1_EL1", 1, 5, "AArch32 memory model feature 1 (RAZ: no AArch32)"],
  ["ID_MMFR2_EL1", 1, 6, "AArch32 memory model feature 2 (RAZ: no AArch32)"],
  ["ID_MMFR3_EL1", 1, 7, "AArch32 memory model feature 3 (RAZ: no AArch32)"],
  ["ID_ISAR0_EL1", 2, 0, "AArch32 instruction set attribute 0 (RAZ: no AArch32)"],
  ["ID_ISAR1_EL1", 2, 1, "AArch32 instruction set attribute 1 (RAZ: no AArch32)"],
  ["ID_ISAR2_EL1", 2, 2, "AArch32 instruction set attribute 2 (RAZ: no AArch32)"],
  ["ID_ISAR3_EL1", 2, 3, "AArch32 instruction set attribute 3 (RAZ: no AArch32)"],
  ["ID_ISAR4_EL1", 2, 4, "AArch32 instruction set attribute 4 (RAZ: no AArch32)"],
  ["ID_ISAR5_EL1", 2, 5, "AArch32 instruction set attribute 5 (RAZ: no AArch32)"],
  ["MVFR0_EL1", 3, 0, "AArch32 media and VFP feature 0 (RAZ: no AArch32)"],
  ["MVFR1_EL1", 3, 1, "AArch32 media and VFP feature 1 (RAZ: no AArch32)"],
  ["MVFR2_EL1", 3, 2, "AArch32 media and VFP feature 2 (RAZ: no AArch32)"],
  ["ID_AA64ZFR0_EL1", 4, 4, "SVE feature 0 (reserved in ARMv8.0: RAZ)"],
  ["ID_AA64DFR1_EL1", 5, 1, "Debug feature 1 (RAZ)"],
  ["ID_AA64AFR0_EL1", 5, 4, "Auxiliary feature 0 (RAZ)"],
  ["ID_AA64AFR1_EL1", 5, 5, "Auxiliary feature 1 (RAZ)"],
  ["ID_AA64ISAR1_EL1", 6, 1, "Instruction set attribute 1 (reserved in ARMv8.0: RAZ)"],
  ["ID_AA64ISAR2_EL1", 6, 2, "Instruction set attribute 2 (reserved in ARMv8.0: RAZ)"],
  ["ID_AA64MMFR2_EL1", 7, 2, "Memory model feature 2 (reserved in ARMv8.0: RAZ)"],
  ["ID_AA64MMFR3_EL1", 7, 3, "Memory model feature 3 (reserved in ARMv8.0: RAZ)"],
  ["ID_AA64MMFR4_EL1", 7, 4, "Memory model feature 4 (reserved in ARMv8.0: RAZ)"],
];
