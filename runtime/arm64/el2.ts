// EL2's controls over a guest at EL1/EL0, as data: the HCR_EL2 bits, and the trap rules that read
// them. The CPU asks these rules at every MSR/MRS, DC/TLBI, WFI/WFE, HVC and SMC the guest
// executes; `trap`/`untrap` and `show hcr` read the same table.
// Source: Arm ARM (DDI 0487) HCR_EL2 field descriptions (D13.2.46 in edition A.k, D19.2 in H.a-J.a,
// D23.2 in K.a); the trapped instructions are listed under each field (TVM, TRVM, TACR, TIDn, TSW,
// TTLB, TWI, TWE, TSC, HCD). Bits 63:34 are the later extensions' (VHE, RAS, PAuth, NV, MTE, ...).

import { TIMER_TRAPS } from "./timer.js";
import type { SysregDef, SysregTrapGroup } from "./sysregs.js";

export interface HcrBit {
  name: string;
  /** Lowest bit of the field. */
  bit: number;
  /** Bits in the field (1 unless said). */
  width?: number;
  doc: string;
}

const HCR_TABLE = [
  { name: "VM", bit: 0, doc: "stage-2 translation enabled for EL1&0" },
  { name: "SWIO", bit: 1, doc: "set/way invalidate becomes clean+invalidate" },
  { name: "PTW", bit: 2, doc: "protected table walk: stage-1 walks to device memory fault" },
  { name: "FMO", bit: 3, doc: "physical FIQs are routed to EL2" },
  { name: "IMO", bit: 4, doc: "physical IRQs are routed to EL2" },
  { name: "AMO", bit: 5, doc: "SErrors are routed to EL2" },
  { name: "VF", bit: 6, doc: "virtual FIQ pending" },
  { name: "VI", bit: 7, doc: "virtual IRQ pending" },
  { name: "VSE", bit: 8, doc: "virtual SError pending" },
  { name: "FB", bit: 9, doc: "force broadcast of TLB and I-cache maintenance" },
  { name: "BSU_IS", bit: 10, doc: "barrier shareability upgrade, BSU bit 0 (BSU = 0b01: inner shareable)" },
  { name: "BSU_OS", bit: 11, doc: "barrier shareability upgrade, BSU bit 1 (BSU = 0b10: outer shareable; 0b11: full system)" },
  { name: "DC", bit: 12, doc: "default cacheable: with the stage-1 MMU off, guest accesses are Normal write-back" },
  { name: "TWI", bit: 13, doc: "trap WFI to EL2 (EC 0x01)" },
  { name: "TWE", bit: 14, doc: "trap WFE to EL2 (EC 0x01)" },
  { name: "TID0", bit: 15, doc: "trap AArch32 JIDR/FPSID reads" },
  { name: "TID1", bit: 16, doc: "trap reads of REVIDR_EL1 and AIDR_EL1 (EC 0x18)" },
  { name: "TID2", bit: 17, doc: "trap CTR_EL0, CCSIDR_EL1, CLIDR_EL1, CSSELR_EL1 (EC 0x18)" },
  { name: "TID3", bit: 18, doc: "trap reads of the feature-ID registers, op0 3, op1 0, CRn 0, CRm 1-7 (EC 0x18)" },
  { name: "TSC", bit: 19, doc: "trap SMC to EL2 (EC 0x17)" },
  { name: "TIDCP", bit: 20, doc: "trap IMPLEMENTATION DEFINED system registers (EC 0x18)" },
  { name: "TACR", bit: 21, doc: "trap ACTLR_EL1 accesses (EC 0x18)" },
  { name: "TSW", bit: 22, doc: "trap data cache maintenance by set/way: DC ISW, CSW, CISW (EC 0x18)" },
  { name: "TPC", bit: 23, doc: "trap data/instruction cache maintenance to the point of coherency" },
  { name: "TPU", bit: 24, doc: "trap cache maintenance to the point of unification" },
  { name: "TTLB", bit: 25, doc: "trap TLB maintenance instructions (EC 0x18)" },
  { name: "TVM", bit: 26, doc: "trap writes of the virtual-memory control registers: SCTLR, TTBR0/1, TCR, MAIR, AMAIR, ESR, FAR, AFSR0/1, CONTEXTIDR (EC 0x18)" },
  { name: "TGE", bit: 27, doc: "trap general exceptions (host EL0 under EL2)" },
  { name: "TDZ", bit: 28, doc: "trap DC ZVA" },
  { name: "HCD", bit: 29, doc: "HVC disabled: HVC is UNDEFINED" },
  { name: "TRVM", bit: 30, doc: "trap reads of the virtual-memory control registers (EC 0x18)" },
  { name: "RW", bit: 31, doc: "EL1 is AArch64" },
  { name: "CD", bit: 32, doc: "stage-2 data accesses non-cacheable" },
  { name: "ID", bit: 33, doc: "stage-2 instruction fetches non-cacheable" },
  { name: "E2H", bit: 34, doc: "EL2 host: the host kernel runs at EL2 (VHE, FEAT_VHE)" },
  { name: "TLOR", bit: 35, doc: "trap LORegion registers (FEAT_LOR)" },
  { name: "TERR", bit: 36, doc: "trap error record accesses (FEAT_RAS)" },
  { name: "TEA", bit: 37, doc: "route synchronous external aborts to EL2 (FEAT_RAS)" },
  { name: "MIOCNCE", bit: 38, doc: "mismatched inner/outer cacheable non-coherency enable" },
  { name: "TME", bit: 39, doc: "enable transactional memory at EL0/EL1 (FEAT_TME)" },
  { name: "APK", bit: 40, doc: "pointer authentication key registers do not trap (FEAT_PAuth)" },
  { name: "API", bit: 41, doc: "pointer authentication instructions do not trap (FEAT_PAuth)" },
  { name: "NV", bit: 42, doc: "nested virtualization: EL2 instructions at EL1 trap (FEAT_NV)" },
  { name: "NV1", bit: 43, doc: "nested virtualization: EL1 registers that EL2 shares trap (FEAT_NV)" },
  { name: "AT", bit: 44, doc: "trap AT S1E0*/S1E1* address translation instructions (FEAT_NV)" },
  { name: "NV2", bit: 45, doc: "nested virtualization: EL2 register accesses go to memory (FEAT_NV2)" },
  { name: "FWB", bit: 46, doc: "stage 2 forces write-back: stage-2 attributes override stage 1 (FEAT_S2FWB)" },
  { name: "FIEN", bit: 47, doc: "fault injection enable (FEAT_RASv1p1)" },
  { name: "GPF", bit: 48, doc: "route granule protection faults to EL2 (FEAT_RME)" },
  { name: "TID4", bit: 49, doc: "trap cache ID registers CCSIDR/CLIDR/CSSELR (FEAT_EVT)" },
  { name: "TICAB", bit: 50, doc: "trap IC IALLUIS (FEAT_EVT)" },
  { name: "AMVOFFEN", bit: 51, doc: "activity monitor virtual offsets enable (FEAT_AMUv1p1)" },
  { name: "TOCU", bit: 52, doc: "trap cache maintenance to the point of unification (FEAT_EVT)" },
  { name: "EnSCXT", bit: 53, doc: "SCXTNUM_EL0/EL1 accesses do not trap (FEAT_CSV2_2)" },
  { name: "TTLBIS", bit: 54, doc: "trap inner shareable TLB maintenance (FEAT_EVT)" },
  { name: "TTLBOS", bit: 55, doc: "trap outer shareable TLB maintenance (FEAT_EVT)" },
  { name: "ATA", bit: 56, doc: "allocation tag access at EL0/EL1 does not trap (FEAT_MTE2)" },
  { name: "DCT", bit: 57, doc: "default cacheability tagging (FEAT_MTE2)" },
  { name: "TID5", bit: 58, doc: "trap GMID_EL1 reads (FEAT_MTE2)" },
  { name: "TWEDEn", bit: 59, doc: "TWE delay enable (FEAT_TWED)" },
  { name: "TWEDEL", bit: 60, width: 4, doc: "TWE delay: 2^(TWEDEL+8) cycles (FEAT_TWED)" },
] as const satisfies readonly HcrBit[];

/** HCR_EL2's fields (Arm ARM D23.2.48). */
export const HCR_BITS: readonly HcrBit[] = HCR_TABLE;
/** An HCR_EL2 field's name, as the table spells it. */
export type HcrBitName = (typeof HCR_TABLE)[number]["name"];

const BY_NAME = new Map<string, HcrBit>(HCR_BITS.map((b) => [b.name, b]));

/** The mask of HCR_EL2 bit `name` (a name not in the table is a compile error). */
const HCR_MASKS = new Map<string, bigint>();

export function hcr(name: HcrBitName): bigint {
  return hcrByName(name);
}

/** hcr() of a name computed at run time (a trap group's bit, a table's row); throws on a name not in the table. */
export function hcrByName(name: string): bigint {
  let m = HCR_MASKS.get(name);
  if (m === undefined) {
    const b = BY_NAME.get(name);
    if (!b) throw new Error(`no HCR_EL2 bit ${name}`);
    HCR_MASKS.set(name, (m = ((1n << BigInt(b.width ?? 1)) - 1n) << BigInt(b.bit)));
  }
  return m;
}

export function hcrNames(value: bigint): string[] {
  return HCR_BITS.filter((b) => value & hcrByName(b.name)).map((b) => b.name);
}

/** The HCR_EL2 bit that traps an EL1 access to a register of `group` (reads or writes). */
export function trapBitOf(group: SysregTrapGroup, isRead: boolean): string {
  switch (group) {
    case "tvm": return isRead ? "TRVM" : "TVM";
    case "tacr": return "TACR";
    case "tid1": return "TID1";
    case "tid2": return "TID2";
    case "tid3": return "TID3";
    case "imo": return "IMO";
    case "el1pcten": return "CNTHCTL_EL2.EL1PCTEN";
    case "el1pcen": return "CNTHCTL_EL2.EL1PCEN";
    case "icc": return "ICH_HCR_EL2.En";
    case "tpm": return "MDCR_EL2.TPM";
  }
}

/**
 * Does an MSR/MRS at EL1 trap to EL2 under `hcrEl2`? ID-register groups trap reads only (writes
 * to read-only registers are UNDEFINED before the check); TVM/TRVM split writes and reads.
 */
export function sysregTraps(hcrEl2: bigint, reg: SysregDef, isRead: boolean, cnthctl = 0, mdcrEl2 = 0n): boolean {
  if (!reg.trap) return false;
  // The PMU registers: MDCR_EL2.TPM (bit 6) traps them all, TPMCR (bit 5) PMCR_EL0 (Arm ARM D13.2 MDCR_EL2).
  if (reg.trap === "tpm") return (mdcrEl2 & (reg.name === "PMCR_EL0" ? MDCR_TPM | MDCR_TPMCR : MDCR_TPM)) !== 0n;
  // The generic timer's rules (timer.ts TIMER_TRAPS): CNTHCTL_EL2's bit clear traps the access.
  if (reg.trap === "el1pcten" || reg.trap === "el1pcen") return (cnthctl & (1 << TIMER_TRAPS.find((t) => t.group === reg.trap)!.bit)) === 0;
  if (reg.trap === "icc") return false;
  // GICv3 SGI generation registers trap to EL2 while HCR_EL2.IMO routes IRQs there (IHI 0069H 12.2.21).
  if (reg.trap === "imo") return !isRead && (hcrEl2 & hcr("IMO")) !== 0n;
  if (reg.trap.startsWith("tid") && !isRead) return reg.trap === "tid2" && reg.name === "CSSELR_EL1" && (hcrEl2 & hcr("TID2")) !== 0n;
  return (hcrEl2 & hcrByName(trapBitOf(reg.trap, isRead))) !== 0n;
}

/** MDCR_EL2.TPM (bit 6) and TPMCR (bit 5): Arm ARM D13.2 MDCR_EL2. */
export const MDCR_TPM = 1n << 6n;
export const MDCR_TPMCR = 1n << 5n;

/** IMPLEMENTATION DEFINED register space (op0 = 3, CRn = 11 or 15), trapped by HCR_EL2.TIDCP. */
export function isImpDefSysreg(e: { op0: number; crn: number }): boolean {
  return e.op0 === 3 && (e.crn === 11 || e.crn === 15);
}

/** Cache-maintenance by set/way: DC ISW (op1 0, CRm 6, op2 2), DC CSW (CRm 10), DC CISW (CRm 14). Arm ARM C5.3. */
export function isSetWayOp(e: { op1: number; crn: number; crm: number; op2: number }): boolean {
  return e.op1 === 0 && e.crn === 7 && e.op2 === 2 && (e.crm === 6 || e.crm === 10 || e.crm === 14);
}

/** TLB maintenance: SYS with CRn = 8 (Arm ARM C5.5). */
export function isTlbiOp(e: { crn: number }): boolean {
  return e.crn === 8;
}
