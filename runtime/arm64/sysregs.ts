// The AArch64 system registers exitlab models, as data: encoding (op0, op1, CRn, CRm, op2), who
// may access them, which HCR_EL2 control traps an EL1 access to EL2, and the reset value of this
// machine. The assembler/disassembler (isa/names.ts), the EL2 trap rules (el2.ts), KVM's sysreg
// handlers (kvm/sysregs.ts), `show sysregs` and completion all read this one table.
// Sources: Arm ARM (DDI 0487) chapter D13 "AArch64 System Register Descriptions" for encodings and
// the HCR_EL2 field descriptions (TVM, TRVM, TACR, TID1..TID3) for the trap groups; reset values
// are this machine's (a Cortex-A57-like CPU under KVM's vcpu reset, Linux v4.1 sys_regs.c); the
// feature-ID registers' come from the field table of idregs.ts, and the unallocated encodings of
// the ID space read as zero (sysregByEncoding).

import { RAZ_ID_REGS, idRegValue, isIdSpace } from "./idregs.js";

/** Which HCR_EL2 control traps an access from EL1 (Arm ARM D13.2 HCR_EL2). */
export type SysregTrapGroup =
  | "tvm" // HCR_EL2.TVM traps writes, TRVM reads: the virtual-memory control registers
  | "tacr" // HCR_EL2.TACR: ACTLR_EL1
  | "tid1" // HCR_EL2.TID1: REVIDR_EL1, AIDR_EL1
  | "tid2" // HCR_EL2.TID2: CTR_EL0, CCSIDR_EL1, CLIDR_EL1, CSSELR_EL1
  | "tid3" // HCR_EL2.TID3: the feature-ID registers (op0 3, op1 0, CRn 0, CRm 1..7)
  | "el1pcten" // CNTHCTL_EL2.EL1PCTEN = 0 traps CNTPCT_EL0 (timer.ts TIMER_TRAPS)
  | "el1pcen" // CNTHCTL_EL2.EL1PCEN = 0 traps the EL1 physical timer (timer.ts TIMER_TRAPS)
  | "imo" // HCR_EL2.IMO traps writes to the GICv3 SGI generation registers
  | "tpm" // MDCR_EL2.TPM traps the PMU registers (TPMCR PMCR_EL0 too): KVM's vPMU (kvm/pmu.ts)
  | "icc"; // a GICv3 CPU-interface register: UNDEFINED without a GICv3, redirected to ICV_* by ICH_HCR_EL2.En

export interface SysregDef {
  /** Upper-case architectural name, e.g. "SCTLR_EL1". */
  name: string;
  op0: number;
  op1: number;
  crn: number;
  crm: number;
  op2: number;
  /** Lowest exception level that may access it (1 for *_EL1, 0 for *_EL0 registers allowed at EL0, 2 for *_EL2). */
  minEl: 0 | 1 | 2;
  readOnly?: boolean;
  /** MRS is UNDEFINED (OSLAR_EL1). */
  writeOnly?: boolean;
  /** Writes are ignored (RAZ/WI registers). */
  ignoresWrites?: boolean;
  /** HCR_EL2 control that traps EL1 accesses to EL2. */
  trap?: SysregTrapGroup;
  reset: bigint;
  doc: string;
}

type Row = [name: string, op0: number, op1: number, crn: number, crm: number, op2: number, minEl: 0 | 1 | 2, flags: string, reset: bigint, doc: string];

// flags: "r" read-only, "w" write-only, "wi" writes ignored, "tvm" / "tacr" / "tid1" / "tid2" /
// "tid3" trap group (comma separated).
const ROWS: Row[] = [
  ["MIDR_EL1", 3, 0, 0, 0, 0, 1, "r", 0x411f_d070n, "Main ID register (reads return VPIDR_EL2 from EL1): Arm Cortex-A57 r1p0"],
  ["MPIDR_EL1", 3, 0, 0, 0, 5, 1, "r", 0x8000_0000n, "Multiprocessor affinity (reads return VMPIDR_EL2 from EL1)"],
  ["REVIDR_EL1", 3, 0, 0, 0, 6, 1, "r,tid1", 0n, "Revision ID"],
  // The feature-ID registers (values computed from the fields of idregs.ts: what is modelled) and
  // the named RAZ ones of the ID space, in encoding order.
  ...([
  ["ID_AA64PFR0_EL1", 3, 0, 0, 4, 0, 1, "r,tid3", idRegValue("ID_AA64PFR0_EL1"), "Processor feature 0: EL0-EL2 AArch64 only, no EL3, no FP/AdvSIMD"],
  ["ID_AA64PFR1_EL1", 3, 0, 0, 4, 1, 1, "r,tid3", 0n, "Processor feature 1"],
  ["ID_AA64DFR0_EL1", 3, 0, 0, 5, 0, 1, "r,tid3", idRegValue("ID_AA64DFR0_EL1"), "Debug feature 0: ARMv8 debug, no PMU, the minimum of breakpoints and watchpoints"],
  ["ID_AA64ISAR0_EL1", 3, 0, 0, 6, 0, 1, "r,tid3", idRegValue("ID_AA64ISAR0_EL1"), "Instruction set attribute 0: no AES, SHA, CRC32 or atomics"],
  ["ID_AA64MMFR0_EL1", 3, 0, 0, 7, 0, 1, "r,tid3", idRegValue("ID_AA64MMFR0_EL1"), "Memory model feature 0: PARange 44 bits (4), 16-bit ASID, little-endian, 4K and 64K granules"],
  ["ID_AA64MMFR1_EL1", 3, 0, 0, 7, 1, 1, "r,tid3", 0n, "Memory model feature 1"],
  ...RAZ_ID_REGS.map(([name, crm, op2, doc]): Row => [name, 3, 0, 0, crm, op2, 1, "r,tid3", 0n, doc]),
  ] as Row[]).sort((x, y) => x[4] * 8 + x[5] - (y[4] * 8 + y[5])),
  ["CCSIDR_EL1", 3, 1, 0, 0, 0, 1, "r,tid2", 0x701f_e00an, "Current cache size ID (the cache CSSELR_EL1 selects)"],
  ["CLIDR_EL1", 3, 1, 0, 0, 1, 1, "r,tid2", 0x0a20_0023n, "Cache level ID"],
  ["AIDR_EL1", 3, 1, 0, 0, 7, 1, "r,tid1", 0n, "Auxiliary ID"],
  ["CSSELR_EL1", 3, 2, 0, 0, 0, 1, "tid2", 0n, "Cache size selection"],
  ["CTR_EL0", 3, 3, 0, 0, 1, 0, "r,tid2", 0x8444_c004n, "Cache type: 64-byte lines"],
  ["DCZID_EL0", 3, 3, 0, 0, 7, 0, "r", 0x4n, "Data cache zero ID: DC ZVA zeroes 64 bytes"],
  ["SCTLR_EL1", 3, 0, 1, 0, 0, 1, "tvm", 0x00c5_0838n, "System control: M (bit 0) stage-1 MMU, C (bit 2) data cache, I (bit 12) instruction cache"],
  ["ACTLR_EL1", 3, 0, 1, 0, 1, 1, "tacr", 0n, "Auxiliary control (IMPLEMENTATION DEFINED)"],
  ["CPACR_EL1", 3, 0, 1, 0, 2, 1, "", 0n, "Architectural feature access control (FP/SIMD)"],
  ["TTBR0_EL1", 3, 0, 2, 0, 0, 1, "tvm", 0n, "Translation table base 0 (lower VA range)"],
  ["TTBR1_EL1", 3, 0, 2, 0, 1, 1, "tvm", 0n, "Translation table base 1 (upper VA range)"],
  ["TCR_EL1", 3, 0, 2, 0, 2, 1, "tvm", 0n, "Translation control: T0SZ, TG0 granule, IPS, cacheability of walks"],
  ["SPSR_EL1", 3, 0, 4, 0, 0, 1, "", 0n, "Saved program status on exception entry to EL1"],
  ["ELR_EL1", 3, 0, 4, 0, 1, 1, "", 0n, "Exception link register (return address) for EL1"],
  ["SP_EL0", 3, 0, 4, 1, 0, 1, "", 0n, "Stack pointer of EL0"],
  ["SPSEL", 3, 0, 4, 2, 0, 1, "", 1n, "Stack pointer select (PSTATE.SP)"],
  ["CURRENTEL", 3, 0, 4, 2, 2, 1, "r", 0x4n, "Current exception level in bits 3:2"],
  ["DAIF", 3, 3, 4, 2, 1, 0, "", 0x3c0n, "Interrupt masks (PSTATE.DAIF) in bits 9:6"],
  ["NZCV", 3, 3, 4, 2, 0, 0, "", 0n, "Condition flags in bits 31:28"],
  ["AFSR0_EL1", 3, 0, 5, 1, 0, 1, "tvm", 0n, "Auxiliary fault status 0"],
  ["AFSR1_EL1", 3, 0, 5, 1, 1, 1, "tvm", 0n, "Auxiliary fault status 1"],
  ["ESR_EL1", 3, 0, 5, 2, 0, 1, "tvm", 0n, "Exception syndrome for exceptions taken to EL1"],
  ["FAR_EL1", 3, 0, 6, 0, 0, 1, "tvm", 0n, "Fault address for aborts taken to EL1"],
  ["PAR_EL1", 3, 0, 7, 4, 0, 1, "", 0n, "Physical address of the last AT instruction"],
  ["MAIR_EL1", 3, 0, 10, 2, 0, 1, "tvm", 0n, "Memory attribute indirection: eight attribute bytes indexed by AttrIndx"],
  ["AMAIR_EL1", 3, 0, 10, 3, 0, 1, "tvm", 0n, "Auxiliary memory attribute indirection"],
  ["VBAR_EL1", 3, 0, 12, 0, 0, 1, "", 0n, "Vector base address for exceptions taken to EL1"],
  ["CONTEXTIDR_EL1", 3, 0, 13, 0, 1, 1, "tvm", 0n, "Context ID (process identifier)"],
  ["TPIDR_EL1", 3, 0, 13, 0, 4, 1, "", 0n, "Software thread ID for EL1"],
  ["TPIDR_EL0", 3, 3, 13, 0, 2, 0, "", 0n, "Software thread ID for EL0"],
  ["TPIDRRO_EL0", 3, 3, 13, 0, 3, 0, "", 0n, "Read-only (at EL0) software thread ID"],
  ["CNTFRQ_EL0", 3, 3, 14, 0, 0, 0, "", 62_500_000n, "Counter frequency (62.5 MHz)"],
  // The generic timer (Arm ARM D13.8; timer.ts models them and the CNTHCTL_EL2 trap rules).
  ["CNTPCT_EL0", 3, 3, 14, 0, 1, 0, "r,el1pcten", 0n, "Physical count"],
  ["CNTVCT_EL0", 3, 3, 14, 0, 2, 0, "r", 0n, "Virtual count: CNTPCT_EL0 − CNTVOFF_EL2"],
  ["CNTKCTL_EL1", 3, 0, 14, 1, 0, 1, "", 0n, "Counter-timer kernel control: EL0 access to the counters and timers"],
  ["CNTP_TVAL_EL0", 3, 3, 14, 2, 0, 0, "el1pcen", 0n, "Physical timer value: CVAL − count, signed 32-bit"],
  ["CNTP_CTL_EL0", 3, 3, 14, 2, 1, 0, "el1pcen", 0n, "Physical timer control: ENABLE 0, IMASK 1, ISTATUS 2"],
  ["CNTP_CVAL_EL0", 3, 3, 14, 2, 2, 0, "el1pcen", 0n, "Physical timer compare value"],
  ["CNTV_TVAL_EL0", 3, 3, 14, 3, 0, 0, "", 0n, "Virtual timer value: CVAL − count, signed 32-bit"],
  ["CNTV_CTL_EL0", 3, 3, 14, 3, 1, 0, "", 0n, "Virtual timer control: ENABLE 0, IMASK 1, ISTATUS 2"],
  ["CNTV_CVAL_EL0", 3, 3, 14, 3, 2, 0, "", 0n, "Virtual timer compare value"],
  // The GICv3 CPU interface (Arm IHI 0069H 12.2): with ICH_HCR_EL2.En the guest's accesses reach
  // the virtual interface (ICV_*) without exiting, except SGI generation (HCR_EL2.IMO).
  ["ICC_PMR_EL1", 3, 0, 4, 6, 0, 1, "icc", 0n, "Interrupt priority mask"],
  ["ICC_IAR0_EL1", 3, 0, 12, 8, 0, 1, "r,icc", 0n, "Group 0 interrupt acknowledge"],
  ["ICC_EOIR0_EL1", 3, 0, 12, 8, 1, 1, "w,icc", 0n, "Group 0 end of interrupt"],
  ["ICC_AP1R0_EL1", 3, 0, 12, 9, 0, 1, "icc", 0n, "Group 1 active priorities 0"],
  ["ICC_DIR_EL1", 3, 0, 12, 11, 1, 1, "w,icc", 0n, "Deactivate interrupt"],
  ["ICC_RPR_EL1", 3, 0, 12, 11, 3, 1, "r,icc", 0n, "Running priority"],
  ["ICC_SGI1R_EL1", 3, 0, 12, 11, 5, 1, "w,imo", 0n, "Group 1 SGI generation: INTID 27:24, IRM 40, Aff1 23:16, TargetList 15:0"],
  ["ICC_IAR1_EL1", 3, 0, 12, 12, 0, 1, "r,icc", 0n, "Group 1 interrupt acknowledge"],
  ["ICC_EOIR1_EL1", 3, 0, 12, 12, 1, 1, "w,icc", 0n, "Group 1 end of interrupt (priority drop and, EOImode 0, deactivation)"],
  ["ICC_HPPIR1_EL1", 3, 0, 12, 12, 2, 1, "r,icc", 0n, "Group 1 highest priority pending interrupt"],
  ["ICC_BPR1_EL1", 3, 0, 12, 12, 3, 1, "icc", 0n, "Group 1 binary point"],
  ["ICC_CTLR_EL1", 3, 0, 12, 12, 4, 1, "icc", 0n, "CPU interface control"],
  ["ICC_SRE_EL1", 3, 0, 12, 12, 5, 1, "icc", 0n, "System register enable: SRE 0, DFB 1, DIB 2"],
  ["ICC_IGRPEN0_EL1", 3, 0, 12, 12, 6, 1, "icc", 0n, "Group 0 interrupt enable"],
  ["ICC_IGRPEN1_EL1", 3, 0, 12, 12, 7, 1, "icc", 0n, "Group 1 interrupt enable"],
  // The PMUv3 registers (Arm ARM D13.10 "Performance Monitors registers"; encodings there),
  // trapped by MDCR_EL2.TPM/TPMCR and emulated by KVM's vPMU (kvm/pmu.ts; Linux sys_regs.c
  // access_pm*). Their values live in the vPMU, not here: the reset column is unused.
  ["PMCR_EL0", 3, 3, 9, 12, 0, 1, "tpm", 0n, "Performance monitors control: E 0, P 1, C 2, LC 6, LP 7, N 15:11, IDCODE 23:16, IMP 31:24"],
  ["PMCNTENSET_EL0", 3, 3, 9, 12, 1, 1, "tpm", 0n, "Counter enable set: P<n> bits 30:0, C bit 31 (the cycle counter)"],
  ["PMCNTENCLR_EL0", 3, 3, 9, 12, 2, 1, "tpm", 0n, "Counter enable clear"],
  ["PMOVSCLR_EL0", 3, 3, 9, 12, 3, 1, "tpm", 0n, "Overflow flag status clear"],
  ["PMSWINC_EL0", 3, 3, 9, 12, 4, 1, "w,tpm", 0n, "Software increment: counts event 0x00 (SW_INCR) on the counters written"],
  ["PMSELR_EL0", 3, 3, 9, 12, 5, 1, "tpm", 0n, "Event counter selection for PMXEVTYPER/PMXEVCNTR (SEL 4:0)"],
  ["PMCEID0_EL0", 3, 3, 9, 12, 6, 1, "r,tpm", 0n, "Common event identification 0: events 0x00-0x1f (bits 31:0), 0x4000-0x401f (63:32)"],
  ["PMCEID1_EL0", 3, 3, 9, 12, 7, 1, "r,tpm", 0n, "Common event identification 1: events 0x20-0x3f, 0x4020-0x403f"],
  ["PMCCNTR_EL0", 3, 3, 9, 13, 0, 1, "tpm", 0n, "Cycle counter (64 bits)"],
  ["PMXEVTYPER_EL0", 3, 3, 9, 13, 1, 1, "tpm", 0n, "Selected event type: PMEVTYPER<PMSELR.SEL> (31: PMCCFILTR)"],
  ["PMXEVCNTR_EL0", 3, 3, 9, 13, 2, 1, "tpm", 0n, "Selected event count: PMEVCNTR<PMSELR.SEL>"],
  ["PMUSERENR_EL0", 3, 3, 9, 14, 0, 1, "tpm", 0n, "User enable: EL0 access to the PMU (EN 0, SW 1, CR 2, ER 3)"],
  ["PMINTENSET_EL1", 3, 0, 9, 14, 1, 1, "tpm", 0n, "Overflow interrupt enable set"],
  ["PMINTENCLR_EL1", 3, 0, 9, 14, 2, 1, "tpm", 0n, "Overflow interrupt enable clear"],
  ["PMOVSSET_EL0", 3, 3, 9, 14, 3, 1, "tpm", 0n, "Overflow flag status set"],
  ...Array.from({ length: 31 }, (_, n): Row => [`PMEVCNTR${n}_EL0`, 3, 3, 14, 8 + (n >> 3), n & 7, 1, "tpm", 0n, `Event counter ${n}`]),
  ...Array.from({ length: 31 }, (_, n): Row => [`PMEVTYPER${n}_EL0`, 3, 3, 14, 12 + (n >> 3), n & 7, 1, "tpm", 0n, `Event type of counter ${n}: evtCount 15:0 (9:0 in PMUv3), filters P 31 (EL1), U 30 (EL0), NSH 27 (EL2)`]),
  ["PMCCFILTR_EL0", 3, 3, 14, 15, 7, 1, "tpm", 0n, "Cycle counter filter: P 31, U 30, NSH 27"],
  // The ARMv8 debug registers (DebugVer 6 is mandatory, idregs.ts), op0 = 2, Arm ARM "Debug
  // registers" (encodings) and KVM's emulation of them (Linux v4.1 sys_regs.c: trap_raz_wi,
  // trap_oslsr_el1, trap_bvr/bcr/wvr/wcr). Six breakpoints and four watchpoints (BRPs = 5, WRPs = 3, the Cortex-A57's),
  // which fire as debug.ts says.
  ["MDCCINT_EL1", 2, 0, 0, 2, 0, 1, "", 0n, "Monitor DCC interrupt enable"],
  ["MDSCR_EL1", 2, 0, 0, 2, 2, 1, "", 0n, "Monitor debug system control"],
  ...[0, 1, 2, 3, 4, 5].flatMap((n): Row[] => [
    [`DBGBVR${n}_EL1`, 2, 0, 0, n, 4, 1, "", 0n, `Breakpoint ${n} value: the instruction address`],
    [`DBGBCR${n}_EL1`, 2, 0, 0, n, 5, 1, "", 0n, `Breakpoint ${n} control: E 0, PMC 2:1, BAS 8:5, BT 23:20`],
  ]),
  ...[0, 1, 2, 3].flatMap((n): Row[] => [
    [`DBGWVR${n}_EL1`, 2, 0, 0, n, 6, 1, "", 0n, `Watchpoint ${n} value: the data address`],
    [`DBGWCR${n}_EL1`, 2, 0, 0, n, 7, 1, "", 0n, `Watchpoint ${n} control: E 0, PAC 2:1, LSC 4:3, BAS 12:5, MASK 28:24`],
  ]),
  ["MDCCSR_EL0", 2, 3, 0, 1, 0, 0, "r", 0n, "Debug comms channel status (no DCC traffic)"],
  ["MDRAR_EL1", 2, 0, 1, 0, 0, 1, "r", 0n, "Debug ROM address: Valid = 0b00, no ROM table"],
  ["OSLAR_EL1", 2, 0, 1, 0, 4, 1, "w", 0n, "OS lock access: writing OSLK (bit 0) sets OSLSR_EL1.OSLK"],
  ["OSLSR_EL1", 2, 0, 1, 1, 4, 1, "r", 0x8n, "OS lock status: OSLM = 0b10 (OS lock implemented), OSLK (bit 1) unlocked at vcpu reset (KVM)"],
  ["OSDLR_EL1", 2, 0, 1, 3, 4, 1, "wi", 0n, "OS double lock (RAZ/WI, as KVM's trap_raz_wi)"],
  ["DBGPRCR_EL1", 2, 0, 1, 4, 4, 1, "wi", 0n, "Debug power/reset control (RAZ/WI, as KVM's trap_raz_wi)"],
  // EL2: UNDEFINED when accessed from EL1 (the guest), shown by `show sysregs el2`.
  ["VPIDR_EL2", 3, 4, 0, 0, 0, 2, "", 0x411f_d070n, "Virtualization processor ID: what MIDR_EL1 returns at EL1"],
  ["VMPIDR_EL2", 3, 4, 0, 0, 5, 2, "", 0x8000_0000n, "Virtualization multiprocessor ID: what MPIDR_EL1 returns at EL1"],
  ["SCTLR_EL2", 3, 4, 1, 0, 0, 2, "", 0x30c5_0838n, "System control for EL2"],
  ["HCR_EL2", 3, 4, 1, 1, 0, 2, "", 0n, "Hypervisor configuration: which guest operations trap to EL2 (VM, TVM, TWI, TWE, TSC, ...)"],
  ["TTBR0_EL2", 3, 4, 2, 0, 0, 2, "", 0n, "Translation table base for EL2"],
  ["TCR_EL2", 3, 4, 2, 0, 2, 2, "", 0n, "Translation control for EL2"],
  ["VTTBR_EL2", 3, 4, 2, 1, 0, 2, "", 0n, "Stage-2 translation table base and VMID"],
  ["VTCR_EL2", 3, 4, 2, 1, 2, 2, "", 0n, "Stage-2 translation control: T0SZ, SL0, TG0, PS"],
  ["SPSR_EL2", 3, 4, 4, 0, 0, 2, "", 0n, "Saved program status on exception entry to EL2"],
  ["ELR_EL2", 3, 4, 4, 0, 1, 2, "", 0n, "Exception link register for EL2: the guest pc of a trap"],
  ["ESR_EL2", 3, 4, 5, 2, 0, 2, "", 0n, "Exception syndrome for exceptions taken to EL2 (KVM's `hsr`)"],
  ["FAR_EL2", 3, 4, 6, 0, 0, 2, "", 0n, "Fault virtual address for aborts taken to EL2 (KVM's `hxfar`)"],
  ["HPFAR_EL2", 3, 4, 6, 0, 4, 2, "", 0n, "Faulting IPA bits 47:12 in bits 39:4 for stage-2 aborts"],
  ["MAIR_EL2", 3, 4, 10, 2, 0, 2, "", 0n, "Memory attributes for EL2"],
  ["VBAR_EL2", 3, 4, 12, 0, 0, 2, "", 0n, "Vector base for EL2 (KVM's hyp vectors)"],
  ["CNTVOFF_EL2", 3, 4, 14, 0, 3, 2, "", 0n, "Virtual offset: CNTVCT_EL0 = CNTPCT_EL0 − CNTVOFF_EL2"],
  ["CNTHCTL_EL2", 3, 4, 14, 1, 0, 2, "", 0n, "Counter-timer hypervisor control: EL1PCTEN 0, EL1PCEN 1 (0 traps)"],
  // What the world switch at EL2 uses (runtime/arm64/hyp/): the EL2 trap controls KVM's
  // __activate_traps writes, the vcpu pointer (TPIDR_EL2), SP_EL1 (EL2 saves the guest's), the GICv3
  // virtual interface's hypervisor registers (Arm IHI 0069H 12.4: ICH_HCR/VMCR/ELRSR/AP0R0/AP1R0/LR<n>),
  // and the ARMv8.1 VHE registers (Arm ARM D5.6 "Virtualization Host Extensions"): the EL2
  // counterparts that EL1 accesses reach at EL2 with HCR_EL2.E2H = 1, and the *_EL12/*_EL02
  // aliases through which an EL2 host reaches the real EL1/EL0 registers (UNDEFINED with E2H = 0).
  ["MDCR_EL2", 3, 4, 1, 1, 1, 2, "", 0n, "Monitor debug configuration: debug and PMU traps"],
  ["CPTR_EL2", 3, 4, 1, 1, 2, 2, "", 0x33ffn, "Architectural feature trap (FP/SIMD TFP bit 10)"],
  ["HSTR_EL2", 3, 4, 1, 1, 3, 2, "", 0n, "Hypervisor system trap (AArch32 CP15)"],
  ["TTBR1_EL2", 3, 4, 2, 0, 1, 2, "", 0n, "Translation table base 1 for EL2 (VHE: the EL2&0 regime's upper range)"],
  ["SP_EL1", 3, 4, 4, 1, 0, 2, "", 0n, "Stack pointer of EL1 (accessible from EL2)"],
  ["AFSR0_EL2", 3, 4, 5, 1, 0, 2, "", 0n, "Auxiliary fault status 0 for EL2"],
  ["AFSR1_EL2", 3, 4, 5, 1, 1, 2, "", 0n, "Auxiliary fault status 1 for EL2"],
  ["AMAIR_EL2", 3, 4, 10, 3, 0, 2, "", 0n, "Auxiliary memory attributes for EL2"],
  ["ICH_AP0R0_EL2", 3, 4, 12, 8, 0, 2, "", 0n, "GICv3 virtual interface: group 0 active priorities"],
  ["ICH_AP1R0_EL2", 3, 4, 12, 9, 0, 2, "", 0n, "GICv3 virtual interface: group 1 active priorities"],
  ["ICH_HCR_EL2", 3, 4, 12, 11, 0, 2, "", 0n, "GICv3 virtual interface control: En bit 0"],
  ["ICH_MISR_EL2", 3, 4, 12, 11, 2, 2, "r", 0n, "GICv3 maintenance interrupt status"],
  ["ICH_ELRSR_EL2", 3, 4, 12, 11, 5, 2, "r", 0xffffn, "GICv3 empty list register status"],
  ["ICH_VMCR_EL2", 3, 4, 12, 11, 7, 2, "", 0n, "GICv3 virtual machine control (the guest's PMR, BPR, group enables)"],
  ...[0, 1, 2, 3].map((n): Row => [`ICH_LR${n}_EL2`, 3, 4, 12, 12, n, 2, "", 0n, `GICv3 list register ${n}: State 63:62, Group 60, Priority 55:48, vINTID 31:0`]),
  ["CONTEXTIDR_EL2", 3, 4, 13, 0, 1, 2, "", 0n, "Context ID for EL2 (VHE)"],
  ["TPIDR_EL2", 3, 4, 13, 0, 2, 2, "", 0n, "Software thread ID for EL2 (KVM: the running vcpu's context)"],
  ["SCTLR_EL12", 3, 5, 1, 0, 0, 2, "", 0n, "VHE alias of SCTLR_EL1 (EL2 with E2H = 1)"],
  ["CPACR_EL12", 3, 5, 1, 0, 2, 2, "", 0n, "VHE alias of CPACR_EL1"],
  ["TTBR0_EL12", 3, 5, 2, 0, 0, 2, "", 0n, "VHE alias of TTBR0_EL1"],
  ["TTBR1_EL12", 3, 5, 2, 0, 1, 2, "", 0n, "VHE alias of TTBR1_EL1"],
  ["TCR_EL12", 3, 5, 2, 0, 2, 2, "", 0n, "VHE alias of TCR_EL1"],
  ["SPSR_EL12", 3, 5, 4, 0, 0, 2, "", 0n, "VHE alias of SPSR_EL1"],
  ["ELR_EL12", 3, 5, 4, 0, 1, 2, "", 0n, "VHE alias of ELR_EL1"],
  ["AFSR0_EL12", 3, 5, 5, 1, 0, 2, "", 0n, "VHE alias of AFSR0_EL1"],
  ["AFSR1_EL12", 3, 5, 5, 1, 1, 2, "", 0n, "VHE alias of AFSR1_EL1"],
  ["ESR_EL12", 3, 5, 5, 2, 0, 2, "", 0n, "VHE alias of ESR_EL1"],
  ["FAR_EL12", 3, 5, 6, 0, 0, 2, "", 0n, "VHE alias of FAR_EL1"],
  ["MAIR_EL12", 3, 5, 10, 2, 0, 2, "", 0n, "VHE alias of MAIR_EL1"],
  ["AMAIR_EL12", 3, 5, 10, 3, 0, 2, "", 0n, "VHE alias of AMAIR_EL1"],
  ["VBAR_EL12", 3, 5, 12, 0, 0, 2, "", 0n, "VHE alias of VBAR_EL1"],
  ["CONTEXTIDR_EL12", 3, 5, 13, 0, 1, 2, "", 0n, "VHE alias of CONTEXTIDR_EL1"],
  ["CNTKCTL_EL12", 3, 5, 14, 1, 0, 2, "", 0n, "VHE alias of CNTKCTL_EL1"],
  ["CNTV_CTL_EL02", 3, 5, 14, 3, 1, 2, "", 0n, "VHE alias of CNTV_CTL_EL0"],
  ["CNTV_CVAL_EL02", 3, 5, 14, 3, 2, 2, "", 0n, "VHE alias of CNTV_CVAL_EL0"],
];

export const SYSREGS: readonly SysregDef[] = ROWS.map(([name, op0, op1, crn, crm, op2, minEl, flags, reset, doc]) => {
  const f = flags.split(",").filter(Boolean);
  const trap = f.find((x) => x !== "r" && x !== "w" && x !== "wi") as SysregTrapGroup | undefined;
  return { name, op0, op1, crn, crm, op2, minEl, readOnly: f.includes("r") || undefined, writeOnly: f.includes("w") || undefined, ignoresWrites: f.includes("wi") || undefined, trap, reset, doc };
});

const key = (op0: number, op1: number, crn: number, crm: number, op2: number) => (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
const BY_KEY = new Map(SYSREGS.map((r) => [key(r.op0, r.op1, r.crn, r.crm, r.op2), r]));
const BY_NAME = new Map(SYSREGS.map((r) => [r.name, r]));

export function sysregByName(name: string): SysregDef | undefined {
  return BY_NAME.get(name.toUpperCase());
}

/**
 * The register at an encoding, or undefined when it is not modelled. The unallocated encodings of
 * the feature-ID space (op0 = 3, op1 = 0, CRn = 0, CRm = 1..7) are registers too: read-only,
 * RAZ, trapped by HCR_EL2.TID3, named generically (Arm ARM "Reserved encodings in the ID space";
 * Linux sys_regs.c ID_UNALLOCATED).
 */
export function sysregByEncoding(e: { op0: number; op1: number; crn: number; crm: number; op2: number }): SysregDef | undefined {
  const k = key(e.op0, e.op1, e.crn, e.crm, e.op2);
  const r = BY_KEY.get(k);
  if (r || !isIdSpace(e)) return r;
  const name = genericSysregName(e);
  const def: SysregDef = { name, op0: 3, op1: 0, crn: 0, crm: e.crm, op2: e.op2, minEl: 1, readOnly: true, trap: "tid3", reset: 0n, doc: "unallocated ID register encoding (reserved ID space: RAZ)" };
  BY_KEY.set(k, def);
  return def;
}

/** The generic name of an encoding (Arm ARM C5.3), for registers outside the table. */
export function genericSysregName(e: { op0: number; op1: number; crn: number; crm: number; op2: number }): string {
  return `S${e.op0}_${e.op1}_C${e.crn}_C${e.crm}_${e.op2}`;
}
