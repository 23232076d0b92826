// The local APIC's registers and bit layouts, declared once and read by the APIC model (lapic.ts),
// KVM's APIC exits (kvm/apic-exits.ts), the kvm_apic tracepoint (its register names), `show apic`
// and the tests. Offsets and access: Intel SDM Vol. 3 Table 11-1 ("Local APIC Register Address
// Map"; 10-1 in older editions); x2APIC MSR numbers: SDM Vol. 3 Table 11-6 (MSR = 0x800 +
// offset / 16); names as Linux's apicdef.h spells them (APIC_TASKPRI ...), which is what
// kvm_trace_symbol_apic prints. Layouts: SDM Vol. 3 Figure 11-8 (LVT), Figure 11-12 (ICR),
// Figure 11-23 (SVR), Figure 11-10 (divide configuration).

import type { BitLayout } from "../../core/bitfields.js";

export interface ApicRegister {
  /** Linux's name without the APIC_ prefix (ID, TASKPRI, ICR ...). */
  name: string;
  /** Offset in the 4 KiB xAPIC page (0xfee00000 + offset). */
  offset: number;
  /** r: read-only, w: write-only, rw: both. */
  access: "r" | "w" | "rw";
  doc: string;
  /** Only in x2APIC mode (SELF_IPI). */
  x2apicOnly?: boolean;
  /** Not in x2APIC mode (DFR, ICR2: the ICR is one 64-bit MSR there). */
  xapicOnly?: boolean;
  /**
   * Access through the x2APIC MSR when it differs from `access` (SDM Vol. 3 Table 11-6; KVM's
   * kvm_lapic_readable_reg_mask and kvm_lapic_reg_write): "none" for ARBPRI and RRR, which x2APIC
   * mode does not have; "r" for ID and LDR, read-only there.
   */
  x2apicAccess?: ApicRegister["access"] | "none";
  /** An LVT entry beyond the LVR's max LVT entry (bits 23:16) does not exist (SDM 11.5.1; kvm_lapic_lvt_supported). */
  lvtIndex?: number;
}

const R = (name: string, offset: number, access: ApicRegister["access"], doc: string, more: Partial<ApicRegister> = {}): ApicRegister => ({ name, offset, access, doc, ...more });

/** The local APIC registers (SDM Vol. 3 Table 11-1). ISR/TMR/IRR are eight 32-bit words each. */
export const APIC_REGISTERS: readonly ApicRegister[] = [
  R("ID", 0x20, "rw", "local APIC ID (bits 31:24 in xAPIC mode, the whole register in x2APIC mode)", { x2apicAccess: "r" }),
  R("LVR", 0x30, "r", "version: bits 7:0 version (0x14), 23:16 max LVT entry, 24 EOI-broadcast suppression"),
  R("TASKPRI", 0x80, "rw", "task priority (TPR): interrupts of a class at or below TPR[7:4] are held"),
  R("ARBPRI", 0x90, "r", "arbitration priority", { x2apicAccess: "none" }),
  R("PROCPRI", 0xa0, "r", "processor priority (PPR): max(TPR, class of the highest in-service vector)"),
  R("EOI", 0xb0, "w", "end of interrupt: a write retires the highest in-service vector"),
  R("RRR", 0xc0, "r", "remote read", { x2apicAccess: "none" }),
  R("LDR", 0xd0, "rw", "logical destination", { x2apicAccess: "r" }),
  R("DFR", 0xe0, "rw", "destination format (flat / cluster)", { xapicOnly: true }),
  R("SPIV", 0xf0, "rw", "spurious-interrupt vector: bit 8 software-enables the APIC"),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => R(i ? `ISR${i}` : "ISR", 0x100 + 16 * i, "r", `in-service register, vectors ${32 * i}-${32 * i + 31}`)),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => R(i ? `TMR${i}` : "TMR", 0x180 + 16 * i, "r", `trigger-mode register, vectors ${32 * i}-${32 * i + 31}`)),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => R(i ? `IRR${i}` : "IRR", 0x200 + 16 * i, "r", `interrupt request register, vectors ${32 * i}-${32 * i + 31}`)),
  R("ESR", 0x280, "rw", "error status"),
  R("LVTCMCI", 0x2f0, "rw", "LVT corrected machine-check interrupt (KVM's APIC has it only with MCG_CAP.MCG_CMCI_P; the modelled LVR's max LVT entry 5 leaves it out)", { lvtIndex: 6 }),
  R("ICR", 0x300, "rw", "interrupt command, low half: a write sends the IPI (x2APIC: the whole 64-bit MSR 0x830)"),
  R("ICR2", 0x310, "rw", "interrupt command, high half: destination in bits 31:24", { xapicOnly: true }),
  R("LVTT", 0x320, "rw", "LVT timer: vector, mask, mode (one-shot, periodic, TSC-deadline)"),
  R("LVTTHMR", 0x330, "rw", "LVT thermal sensor"),
  R("LVTPC", 0x340, "rw", "LVT performance-monitoring counters"),
  R("LVT0", 0x350, "rw", "LVT LINT0"),
  R("LVT1", 0x360, "rw", "LVT LINT1"),
  R("LVTERR", 0x370, "rw", "LVT error"),
  R("TMICT", 0x380, "rw", "timer initial count: a write starts the one-shot or periodic count-down"),
  R("TMCCT", 0x390, "r", "timer current count"),
  R("TDCR", 0x3e0, "rw", "timer divide configuration"),
  R("SELF_IPI", 0x3f0, "w", "self IPI (x2APIC only): a write sends the vector to this APIC", { x2apicOnly: true }),
];

const byOffset = new Map(APIC_REGISTERS.map((r) => [r.offset, r]));
const byName = new Map(APIC_REGISTERS.map((r) => [r.name, r]));

/** The register at an xAPIC page offset (16-byte aligned), or undefined. */
export function apicRegisterAt(offset: number): ApicRegister | undefined {
  return byOffset.get(offset);
}

/** The register of that name (ICR, TASKPRI ...). Throws on an unknown name (a programming error). */
export function apicOffset(name: string): number {
  const r = byName.get(name);
  if (!r) throw new Error(`unknown APIC register ${name}`);
  return r.offset;
}

/**
 * How the x2APIC MSR at `offset` may be accessed in x2APIC mode (SDM Vol. 3 Table 11-6; Linux
 * arch/x86/kvm/lapic.c kvm_lapic_readable_reg_mask, kvm_lapic_reg_write): "none" for offsets with
 * no register, xAPIC-only ones (DFR, ICR2), ARBPRI and RRR, and LVT entries beyond the LVR's max
 * LVT entry (CMCI). Any other access #GPs.
 */
export function x2apicAccess(offset: number): ApicRegister["access"] | "none" {
  const r = byOffset.get(offset);
  if (!r || r.xapicOnly) return "none";
  if (r.lvtIndex !== undefined && r.lvtIndex > ((APIC_VERSION >> 16) & 0xff)) return "none";
  return r.x2apicAccess ?? r.access;
}

/** x2APIC MSR of a register offset (SDM Table 11-6): 0x800 + offset / 16. */
export const x2apicMsr = (offset: number) => 0x800 + (offset >> 4);
/** The register offset of an x2APIC MSR (0x800-0x8ff). */
export const x2apicOffset = (msr: number) => (msr - 0x800) << 4;

/** Default xAPIC base (IA32_APIC_BASE[35:12], SDM Vol. 3 11.4.4). */
export const APIC_DEFAULT_BASE = 0xfee0_0000;
/** IA32_APIC_BASE bits (SDM Vol. 3 Figure 11-5): BSP (8), x2APIC enable EXTD (10), APIC global enable EN (11). */
export const APIC_BASE_MSR = { BSP: 1 << 8, EXTD: 1 << 10, EN: 1 << 11 } as const;
/** IA32_TSC_DEADLINE (SDM Vol. 4 Table 2-2). */
export const MSR_TSC_DEADLINE = 0x6e0;
/** The version KVM reports (lapic.c APIC_VERSION 0x14) with 6 LVT entries (max LVT index 5). */
export const APIC_VERSION = 0x14 | (5 << 16);

/** Delivery modes of the ICR and the LVT entries (SDM Vol. 3 11.6.1), as kvm_deliver_mode names them. */
export const DELIVERY_MODES = ["Fixed", "LowPrio", "SMI", "Res3", "NMI", "INIT", "SIPI", "ExtINT"] as const;
/** Destination shorthands (ICR bits 19:18), as kvm_apic_dst_shorthand names them. */
export const DEST_SHORTHANDS = ["dst", "self", "all", "all-but-self"] as const;

/** The interrupt command register, low and high halves as one 64-bit value (SDM Vol. 3 Figure 11-12). */
export const ICR_LAYOUT: BitLayout = {
  name: "APIC interrupt command register",
  source: "Intel SDM Vol. 3 Figure 11-12 (10-12 in older editions); x2APIC: Figure 11-28",
  fields: [
    { name: "vector", lsb: 0, width: 8, doc: "vector (Fixed, SIPI: start page)" },
    { name: "delivery_mode", lsb: 8, width: 3, values: DELIVERY_MODES as unknown as string[], doc: "delivery mode" },
    { name: "dest_mode", lsb: 11, width: 1, values: ["physical", "logical"], doc: "destination mode" },
    { name: "delivery_status", lsb: 12, width: 1, values: ["idle", "send-pending"], doc: "delivery status (xAPIC; KVM delivers at once, so it reads idle)" },
    { name: "level", lsb: 14, width: 1, values: ["de-assert", "assert"], doc: "level (INIT de-assert uses 0)" },
    { name: "trigger_mode", lsb: 15, width: 1, values: ["edge", "level"], doc: "trigger mode" },
    { name: "shorthand", lsb: 18, width: 2, values: DEST_SHORTHANDS as unknown as string[], doc: "destination shorthand" },
    { name: "destination", lsb: 32, width: 32, radix: "hex", doc: "destination: xAPIC ICR2 bits 31:24 (here bits 63:56), x2APIC the whole high half" },
  ],
};

/** An LVT entry; the timer's adds the mode (SDM Vol. 3 Figure 11-8). */
export const LVT_LAYOUT: BitLayout = {
  name: "APIC local vector table entry",
  source: "Intel SDM Vol. 3 Figure 11-8 (10-8 in older editions)",
  fields: [
    { name: "vector", lsb: 0, width: 8, doc: "vector" },
    { name: "delivery_mode", lsb: 8, width: 3, values: DELIVERY_MODES as unknown as string[], doc: "delivery mode (not in LVTT)" },
    { name: "delivery_status", lsb: 12, width: 1, values: ["idle", "send-pending"], doc: "delivery status" },
    { name: "trigger_mode", lsb: 15, width: 1, values: ["edge", "level"], doc: "trigger mode (LINT0/LINT1)" },
    { name: "masked", lsb: 16, width: 1, doc: "masked: the source raises no interrupt" },
    { name: "timer_mode", lsb: 17, width: 2, values: ["one-shot", "periodic", "tsc-deadline", "reserved"], doc: "timer mode (LVTT only)" },
  ],
};

/** Timer modes (LVTT bits 18:17). */
export const TIMER_MODE = { ONESHOT: 0, PERIODIC: 1, TSC_DEADLINE: 2 } as const;
/** LVT mask bit (16) and the reset value of every LVT entry (masked, SDM 11.4.7.1). */
export const LVT_MASKED = 1 << 16;
/** SVR bit 8: APIC software enable. */
export const SPIV_APIC_ENABLED = 1 << 8;

/** Divide configuration bits 0,1,3 → divisor 2, 4, 8, 16, 32, 64, 128, 1 (SDM Vol. 3 Figure 11-10). */
export function timerDivisor(tdcr: number): number {
  const v = (tdcr & 3) | ((tdcr >> 1) & 4);
  return v === 7 ? 1 : 2 << v;
}
