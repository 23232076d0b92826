// VM-execution, VM-exit and VM-entry control bits, and the rules by which they decide exits.
// Bit positions: Intel SDM Vol. 3 Tables 24-5 (pin-based), 24-6 (primary processor-based),
// 24-7 (secondary processor-based), 24-11/24-13 (exit controls), 24-15 (entry controls); names as
// Linux's arch/x86/include/asm/vmx.h. The exit rules are SDM Vol. 3 Chapter 25.1 ("Instructions
// that cause VM exits"): 25.1.2 unconditional, 25.1.3 conditional.

import type { GuestMemory } from "../../core/memory.js";
import { lookupField, type Vmcs, type VmcsFieldName } from "./fields.js";
import { VECTOR } from "../vectors.js";

export interface ControlBit {
  name: string;
  bit: number;
  doc: string;
}

const C = (name: string, bit: number, doc: string): ControlBit => ({ name, bit, doc });

export const PIN_BASED: readonly ControlBit[] = [
  C("PIN_BASED_EXT_INTR_MASK", 0, "external interrupts cause VM exits"),
  C("PIN_BASED_NMI_EXITING", 3, "NMIs cause VM exits"),
  C("PIN_BASED_VIRTUAL_NMIS", 5, "virtual NMIs"),
  C("PIN_BASED_VMX_PREEMPTION_TIMER", 6, "VMX-preemption timer"),
  C("PIN_BASED_POSTED_INTR", 7, "process posted interrupts"),
];

export const CPU_BASED: readonly ControlBit[] = [
  C("CPU_BASED_VIRTUAL_INTR_PENDING", 2, "interrupt-window exiting"),
  C("CPU_BASED_USE_TSC_OFFSETING", 3, "RDTSC returns TSC + TSC_OFFSET"),
  C("CPU_BASED_HLT_EXITING", 7, "HLT exits"),
  C("CPU_BASED_INVLPG_EXITING", 9, "INVLPG exits"),
  C("CPU_BASED_MWAIT_EXITING", 10, "MWAIT exits"),
  C("CPU_BASED_RDPMC_EXITING", 11, "RDPMC exits"),
  C("CPU_BASED_RDTSC_EXITING", 12, "RDTSC exits"),
  C("CPU_BASED_CR3_LOAD_EXITING", 15, "MOV to CR3 exits (unless the value is in the CR3-target list)"),
  C("CPU_BASED_CR3_STORE_EXITING", 16, "MOV from CR3 exits"),
  C("CPU_BASED_ACTIVATE_TERTIARY_CONTROLS", 17, "the tertiary controls apply"),
  C("CPU_BASED_CR8_LOAD_EXITING", 19, "MOV to CR8 exits"),
  C("CPU_BASED_CR8_STORE_EXITING", 20, "MOV from CR8 exits"),
  C("CPU_BASED_TPR_SHADOW", 21, "use the TPR shadow (virtual-APIC page)"),
  C("CPU_BASED_VIRTUAL_NMI_PENDING", 22, "NMI-window exiting"),
  C("CPU_BASED_MOV_DR_EXITING", 23, "MOV to/from DRn exits"),
  C("CPU_BASED_UNCOND_IO_EXITING", 24, "every I/O instruction exits (ignored when I/O bitmaps are used)"),
  C("CPU_BASED_USE_IO_BITMAPS", 25, "I/O bitmaps A (ports 0-0x7fff) and B (0x8000-0xffff) decide"),
  C("CPU_BASED_MONITOR_TRAP_FLAG", 27, "monitor trap flag"),
  C("CPU_BASED_USE_MSR_BITMAPS", 28, "MSR bitmaps decide RDMSR/WRMSR exits (otherwise all exit)"),
  C("CPU_BASED_MONITOR_EXITING", 29, "MONITOR exits"),
  C("CPU_BASED_PAUSE_EXITING", 30, "PAUSE exits"),
  C("CPU_BASED_ACTIVATE_SECONDARY_CONTROLS", 31, "the secondary controls apply"),
];

export const SECONDARY: readonly ControlBit[] = [
  C("SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES", 0, "virtualize APIC accesses"),
  C("SECONDARY_EXEC_ENABLE_EPT", 1, "enable EPT: guest-physical addresses translate through EPT"),
  C("SECONDARY_EXEC_DESC", 2, "descriptor-table exiting"),
  C("SECONDARY_EXEC_RDTSCP", 3, "enable RDTSCP"),
  C("SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE", 4, "virtualize x2APIC mode"),
  C("SECONDARY_EXEC_ENABLE_VPID", 5, "enable VPID"),
  C("SECONDARY_EXEC_WBINVD_EXITING", 6, "WBINVD exits"),
  C("SECONDARY_EXEC_UNRESTRICTED_GUEST", 7, "unrestricted guest: real mode and paging off run natively"),
  C("SECONDARY_EXEC_APIC_REGISTER_VIRT", 8, "APIC-register virtualization"),
  C("SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY", 9, "virtual-interrupt delivery"),
  C("SECONDARY_EXEC_PAUSE_LOOP_EXITING", 10, "PAUSE-loop exiting"),
  C("SECONDARY_EXEC_RDRAND", 11, "RDRAND exits"),
  C("SECONDARY_EXEC_ENABLE_INVPCID", 12, "enable INVPCID"),
  C("SECONDARY_EXEC_ENABLE_VMFUNC", 13, "enable VM functions"),
  C("SECONDARY_EXEC_SHADOW_VMCS", 14, "VMCS shadowing"),
  C("SECONDARY_EXEC_ENCLS_EXITING", 15, "ENCLS exits (per the ENCLS-exiting bitmap)"),
  C("SECONDARY_EXEC_RDSEED", 16, "RDSEED exits"),
  C("SECONDARY_EXEC_ENABLE_PML", 17, "page-modification logging"),
  C("SECONDARY_EXEC_PT_CONCEAL_VMX", 18, "conceal VMX from Intel PT"),
  C("SECONDARY_EXEC_EPT_VIOLATION_VE", 19, "EPT violations may cause #VE in the guest instead of exiting"),
  C("SECONDARY_EXEC_XSAVES", 20, "enable XSAVES/XRSTORS"),
  C("SECONDARY_EXEC_MODE_BASED_EPT_EXEC", 22, "mode-based execute control for EPT (separate user/supervisor execute)"),
  C("SECONDARY_EXEC_PT_USE_GPA", 24, "Intel PT output addresses are guest-physical"),
  C("SECONDARY_EXEC_TSC_SCALING", 25, "use TSC scaling"),
  C("SECONDARY_EXEC_ENABLE_USR_WAIT_PAUSE", 26, "enable user wait and pause (TPAUSE, UMONITOR, UMWAIT)"),
  C("SECONDARY_EXEC_BUS_LOCK_DETECTION", 30, "bus locks exit"),
  C("SECONDARY_EXEC_NOTIFY_VM_EXITING", 31, "notify VM exits when no event window opens"),
];

export const EXIT_CONTROLS: readonly ControlBit[] = [
  C("VM_EXIT_SAVE_DEBUG_CONTROLS", 2, "save DR7 and DEBUGCTL"),
  C("VM_EXIT_HOST_ADDR_SPACE_SIZE", 9, "the host runs in 64-bit mode"),
  C("VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL", 12, "load IA32_PERF_GLOBAL_CTRL"),
  C("VM_EXIT_ACK_INTR_ON_EXIT", 15, "acknowledge interrupt on exit"),
  C("VM_EXIT_SAVE_IA32_PAT", 18, "save IA32_PAT"),
  C("VM_EXIT_LOAD_IA32_PAT", 19, "load IA32_PAT"),
  C("VM_EXIT_SAVE_IA32_EFER", 20, "save IA32_EFER into GUEST_IA32_EFER"),
  C("VM_EXIT_LOAD_IA32_EFER", 21, "load IA32_EFER from HOST_IA32_EFER"),
  C("VM_EXIT_SAVE_VMX_PREEMPTION_TIMER", 22, "save the VMX-preemption timer value"),
];

export const ENTRY_CONTROLS: readonly ControlBit[] = [
  C("VM_ENTRY_LOAD_DEBUG_CONTROLS", 2, "load DR7 and DEBUGCTL"),
  C("VM_ENTRY_IA32E_MODE", 9, "IA-32e mode guest: the guest runs in long mode after entry (EFER.LMA)"),
  C("VM_ENTRY_SMM", 10, "entry to SMM"),
  C("VM_ENTRY_DEACT_DUAL_MONITOR", 11, "deactivate dual-monitor treatment"),
  C("VM_ENTRY_LOAD_IA32_PERF_GLOBAL_CTRL", 13, "load IA32_PERF_GLOBAL_CTRL"),
  C("VM_ENTRY_LOAD_IA32_PAT", 14, "load IA32_PAT"),
  C("VM_ENTRY_LOAD_IA32_EFER", 15, "load IA32_EFER from GUEST_IA32_EFER"),
];

export interface ControlField {
  /** The VMCS field. */
  field: VmcsFieldName;
  bits: readonly ControlBit[];
  /**
   * The reserved bits of the "default1" class, which must be 1 (SDM Vol. 3 Appendix A.3-A.5;
   * Linux's *_ALWAYSON_WITHOUT_TRUE_MSR).
   */
  default1: number;
  /** Where the bits are defined. */
  source: string;
}

/** Which VMCS field each control table lives in. */
export const CONTROL_FIELDS: readonly ControlField[] = [
  { field: "PIN_BASED_VM_EXEC_CONTROL", bits: PIN_BASED, default1: 0x16, source: "Intel SDM Vol. 3 Table 24-5; 25-5 in later editions" },
  { field: "CPU_BASED_VM_EXEC_CONTROL", bits: CPU_BASED, default1: 0x0401_e172, source: "Intel SDM Vol. 3 Table 24-6; 25-6 in later editions" },
  { field: "SECONDARY_VM_EXEC_CONTROL", bits: SECONDARY, default1: 0, source: "Intel SDM Vol. 3 Table 24-7; 25-7 in later editions" },
  { field: "VM_EXIT_CONTROLS", bits: EXIT_CONTROLS, default1: 0x0003_6dff, source: "Intel SDM Vol. 3 Table 24-11/24-13; 25-13 in later editions" },
  { field: "VM_ENTRY_CONTROLS", bits: ENTRY_CONTROLS, default1: 0x11ff, source: "Intel SDM Vol. 3 Table 24-15; 25-15 in later editions" },
];

const allBits = new Map<string, { field: string; mask: number }>();
for (const { field, bits } of CONTROL_FIELDS) for (const b of bits) allBits.set(b.name, { field, mask: (1 << b.bit) >>> 0 });

/**
 * A control value as the VMCS holds it after KVM's adjust_vmx_controls (Linux arch/x86/kvm/vmx.c,
 * v4.1 and today): the requested bits OR the field's default1 bits, the "must be 1" low word of the
 * allowed-settings MSR (SDM Vol. 3 Appendix A.3-A.5). `value` and the result are u32 numbers.
 */
export function withDefault1(field: string, value: number): number {
  const t = CONTROL_FIELDS.find((c) => c.field === field);
  if (!t) throw new Error(`not a VMX control field: ${field}`);
  return (value | t.default1) >>> 0;
}

/** Mask of a named control bit, e.g. ctl("CPU_BASED_HLT_EXITING"). */
export function ctl(name: string): number {
  const b = allBits.get(name);
  if (!b) throw new Error(`unknown VMX control ${name}`);
  return b.mask;
}

/** The field a named control bit lives in. */
export function ctlField(name: string): string {
  const b = allBits.get(name);
  if (!b) throw new Error(`unknown VMX control ${name}`);
  return b.field;
}

/** Names of the bits set in a control field's value. */
export function controlNames(field: string, value: number): string[] {
  const t = CONTROL_FIELDS.find((c) => c.field === field);
  return t ? t.bits.filter((b) => (value >>> b.bit) & 1).map((b) => b.name) : [];
}

// ---- the hardware's exit decisions (SDM 25.1.3) ----

const ACTIVATE_SECONDARY = ctl("CPU_BASED_ACTIVATE_SECONDARY_CONTROLS");

/** The controls of one VMCS as the processor consults them while the guest runs. */
export class ExitRules {
  constructor(
    private readonly vmcs: Vmcs,
    private readonly hostMemory: GuestMemory,
  ) {}

  private primary(name: string): boolean {
    return (this.vmcs.readNum(CPU_BASED_FIELD) & ctl(name)) !== 0;
  }

  secondary(name: string): boolean {
    return this.secondaryBits(ctl(name));
  }

  private secondaryBits(mask: number): boolean {
    if ((this.vmcs.readNum(CPU_BASED_FIELD) & ACTIVATE_SECONDARY) === 0) return false;
    return (this.vmcs.readNum(SECONDARY_FIELD) & mask) !== 0;
  }

  /** MOV to CR0/CR4 exits iff it would change a bit set in the guest/host mask away from the read shadow. */
  movToCr0or4Exits(cr: 0 | 4, value: bigint): boolean {
    const mask = this.vmcs.readField(cr === 0 ? CR0_MASK_FIELD : CR4_MASK_FIELD);
    const shadow = this.vmcs.readField(cr === 0 ? CR0_SHADOW_FIELD : CR4_SHADOW_FIELD);
    return ((value ^ shadow) & mask) !== 0n;
  }

  /**
   * movToCr0or4Exits of the value whose unsigned 32-bit halves are `lo` and `hi`, without a BigInt
   * while the mask and shadow are the ones last seen (the per-instruction check of a guest that
   * writes CR0 or CR4 in a loop).
   */
  movToCr0or4ExitsHalves(cr: 0 | 4, lo: number, hi: number): boolean {
    const mask = this.vmcs.readField(cr === 0 ? CR0_MASK_FIELD : CR4_MASK_FIELD);
    const shadow = this.vmcs.readField(cr === 0 ? CR0_SHADOW_FIELD : CR4_SHADOW_FIELD);
    const h = cr === 0 ? this.cr0Halves : this.cr4Halves;
    if (mask !== h.mask || shadow !== h.shadow) {
      h.mask = mask;
      h.shadow = shadow;
      h.xLo = Number(shadow & 0xffff_ffffn);
      h.xHi = Number((shadow >> 32n) & 0xffff_ffffn);
      h.mLo = Number(mask & 0xffff_ffffn);
      h.mHi = Number((mask >> 32n) & 0xffff_ffffn);
    }
    return (((lo ^ h.xLo) & h.mLo) | ((hi ^ h.xHi) & h.mHi)) !== 0;
  }

  /**
   * A MOV to CR4 of `value` with CR4 at `cr4`: null if it exits, else the CR4 it leaves
   * (mergeCr0or4). The last two answers are kept with the mask and shadow they were made under, so
   * a guest toggling a guest-owned bit (CR4.PGE) in a loop makes no BigInt for them.
   */
  cr4Write(cr4: bigint, value: bigint): bigint | null {
    const mask = this.vmcs.readField(CR4_MASK_FIELD);
    const shadow = this.vmcs.readNum(CR4_SHADOW_FIELD);
    const memo = this.cr4Memo;
    for (let i = 0; i < 2; i++) {
      const e = memo[i]!;
      if (e.cr4 === cr4 && e.value === value && e.mask === mask && e.shadow === shadow && shadow <= Number.MAX_SAFE_INTEGER) return e.next;
    }
    const next = this.movToCr0or4Exits(4, value) ? null : this.mergeCr0or4(4, cr4, value);
    const e = memo[1]!;
    memo[1] = memo[0]!;
    memo[0] = e;
    (e.cr4 = cr4), (e.value = value), (e.mask = mask), (e.shadow = shadow), (e.next = next);
    return next;
  }

  private readonly cr4Memo = [0, 1].map(() => ({ cr4: -1n, value: -1n, mask: -1n, shadow: -1, next: null as bigint | null }));

  /** The CR0 and CR4 mask and shadow of movToCr0or4ExitsHalves' last look, with their halves. */
  private readonly cr0Halves = { mask: -1n, shadow: -1n, xLo: 0, xHi: 0, mLo: 0, mHi: 0 };
  private readonly cr4Halves = { mask: -1n, shadow: -1n, xLo: 0, xHi: 0, mLo: 0, mHi: 0 };

  /** MOV from CR0/CR4 never exits: masked bits read from the shadow, others from the register. */
  readCr0or4(cr: 0 | 4, actual: bigint): bigint {
    const mask = this.vmcs.readField(cr === 0 ? CR0_MASK_FIELD : CR4_MASK_FIELD);
    const shadow = this.vmcs.readField(cr === 0 ? CR0_SHADOW_FIELD : CR4_SHADOW_FIELD);
    return (actual & ~mask) | (shadow & mask);
  }

  /** Bits a non-exiting MOV to CR0/CR4 may change: only the guest-owned ones. */
  mergeCr0or4(cr: 0 | 4, actual: bigint, value: bigint): bigint {
    const mask = this.vmcs.readField(cr === 0 ? CR0_MASK_FIELD : CR4_MASK_FIELD);
    return (actual & mask) | (value & ~mask);
  }

  /** MOV to CR3 exits with CR3-load exiting unless the value matches one of the first CR3_TARGET_COUNT targets. */
  movToCr3Exits(value: bigint): boolean {
    if (!this.primary("CPU_BASED_CR3_LOAD_EXITING")) return false;
    const n = Math.min(4, this.vmcs.read32("CR3_TARGET_COUNT"));
    for (let i = 0; i < n; i++) if (this.vmcs.read(`CR3_TARGET_VALUE${i as 0 | 1 | 2 | 3}`) === value) return false;
    return true;
  }

  movFromCr3Exits(): boolean {
    return this.primary("CPU_BASED_CR3_STORE_EXITING");
  }

  /** MOV to (write) or from CR8 exits with CR8-load/-store exiting (SDM 25.1.3); read per MOV CR8 (compiled path), so by field handle and mask. */
  movCr8Exits(write: boolean): boolean {
    return (this.vmcs.readNum(CPU_BASED_FIELD) & (write ? CR8_LOAD : CR8_STORE)) !== 0;
  }

  /** CLTS exits iff CR0.TS is host-owned and its shadow is 1 (SDM 25.1.3). */
  cltsExits(): boolean {
    const ts = 1n << 3n;
    return (this.vmcs.read("CR0_GUEST_HOST_MASK") & ts) !== 0n && (this.vmcs.read("CR0_READ_SHADOW") & ts) !== 0n;
  }

  /** LMSW exits iff it would set a host-owned PE/MP/EM/TS bit differently from the shadow (or clear... PE cannot be cleared). */
  lmswExits(value: number): boolean {
    const mask = this.vmcs.read("CR0_GUEST_HOST_MASK") & 0xfn;
    const shadow = this.vmcs.read("CR0_READ_SHADOW") & 0xfn;
    const v = BigInt(value & 0xf);
    if ((mask & 1n) && !(shadow & 1n) && (v & 1n)) return true;
    return ((v ^ shadow) & mask & 0xen) !== 0n;
  }

  movDrExits(): boolean {
    return this.primary("CPU_BASED_MOV_DR_EXITING");
  }

  hltExits(): boolean {
    return this.primary("CPU_BASED_HLT_EXITING");
  }

  rdtscExits(): boolean {
    return (this.vmcs.readNum(CPU_BASED_FIELD) & RDTSC_EXITING) !== 0;
  }

  invlpgExits(): boolean {
    return this.primary("CPU_BASED_INVLPG_EXITING");
  }

  wbinvdExits(): boolean {
    return this.secondary("SECONDARY_EXEC_WBINVD_EXITING");
  }

  /** Descriptor-table exiting: LGDT/LIDT/SGDT/SIDT/LLDT/LTR/SLDT/STR exit (SDM 25.1.3). */
  descriptorTableExits(): boolean {
    return this.secondary("SECONDARY_EXEC_DESC");
  }

  /** EPT on: "activate secondary controls" and "enable EPT" (read at every guest-physical access, so by field handle and mask). */
  eptEnabled(): boolean {
    return this.secondaryBits(ENABLE_EPT);
  }

  tscOffset(): bigint {
    // By mask and field handle (RDTSC asks at every read: kvm-unit-tests' TSC polls).
    return (this.vmcs.readNum(CPU_BASED_FIELD) & USE_TSC_OFFSETTING) !== 0 ? this.vmcs.readField(TSC_OFFSET_FIELD) : 0n;
  }

  /** SDM 25.1.3: with I/O bitmaps, an access exits if the bit of any port it touches is set (or it wraps). */
  ioExits(port: number, size: number): boolean {
    if (this.primary("CPU_BASED_USE_IO_BITMAPS")) {
      if (port + size > 0x10000) return true;
      for (let p = port; p < port + size; p++) if (this.ioBit(p)) return true;
      return false;
    }
    return this.primary("CPU_BASED_UNCOND_IO_EXITING");
  }

  ioBit(port: number): boolean {
    const base = Number(this.vmcs.read(port < 0x8000 ? "IO_BITMAP_A" : "IO_BITMAP_B"));
    const p = port & 0x7fff;
    return ((this.hostMemory.readByte(base + (p >> 3)) >> (p & 7)) & 1) === 1;
  }

  /**
   * SDM 24.6.9 / 25.1.3: without MSR bitmaps every RDMSR/WRMSR exits; with them, MSRs 0-0x1fff use
   * read-low (offset 0) / write-low (0x800), 0xc0000000-0xc0001fff read-high (0x400) / write-high
   * (0xc00); any other MSR exits.
   */
  msrExits(msr: number, write: boolean): boolean {
    if (!this.primary("CPU_BASED_USE_MSR_BITMAPS")) return true;
    const off = msrBitmapOffset(msr, write);
    if (off === null) return true;
    const base = Number(this.vmcs.read("MSR_BITMAP"));
    const bit = msr & 0x1fff;
    return ((this.hostMemory.readByte(base + off + (bit >> 3)) >> (bit & 7)) & 1) === 1;
  }

  exceptionExits(vector: number, errorCode?: number): boolean {
    const bitmap = this.vmcs.read32("EXCEPTION_BITMAP");
    let hit = ((bitmap >>> vector) & 1) === 1;
    if (vector === VECTOR.PF && errorCode !== undefined) {
      // SDM 25.2: #PF consults PFEC_MASK/MATCH; a match keeps the bitmap's decision, otherwise inverts it.
      const mask = this.vmcs.read32("PAGE_FAULT_ERROR_CODE_MASK");
      const match = this.vmcs.read32("PAGE_FAULT_ERROR_CODE_MATCH");
      if ((errorCode & mask) !== match) hit = !hit;
    }
    return hit;
  }
}

/** Byte offset of the 1 KiB MSR-bitmap quarter for this MSR and access, or null if no bitmap covers it. */
export function msrBitmapOffset(msr: number, write: boolean): number | null {
  if (msr >= 0 && msr <= 0x1fff) return write ? 0x800 : 0x000;
  if (msr >= 0xc000_0000 && msr <= 0xc000_1fff) return write ? 0xc00 : 0x400;
  return null;
}

// The execution-control fields by table entry, read as numbers: they are consulted on every
// guest-physical access (eptEnabled) and CR8 move, so no name lookup and no BigInt.
const CPU_BASED_FIELD = lookupField("CPU_BASED_VM_EXEC_CONTROL")!.field;
const SECONDARY_FIELD = lookupField("SECONDARY_VM_EXEC_CONTROL")!.field;
// The CR0/CR4 guest/host masks and read shadows, read on every MOV to/from CR0 or CR4 (by table entry: no name lookup).
const CR0_MASK_FIELD = lookupField("CR0_GUEST_HOST_MASK").field, CR4_MASK_FIELD = lookupField("CR4_GUEST_HOST_MASK").field;
const CR0_SHADOW_FIELD = lookupField("CR0_READ_SHADOW").field, CR4_SHADOW_FIELD = lookupField("CR4_READ_SHADOW").field;
const CR8_LOAD = ctl("CPU_BASED_CR8_LOAD_EXITING");
const CR8_STORE = ctl("CPU_BASED_CR8_STORE_EXITING");
const ENABLE_EPT = ctl("SECONDARY_EXEC_ENABLE_EPT");
// RDTSC's controls and the TSC offset (SDM Vol. 3 25.3 "Changes to Instruction Behavior in VMX Non-Root Operation", RDTSC).
const RDTSC_EXITING = ctl("CPU_BASED_RDTSC_EXITING"), USE_TSC_OFFSETTING = ctl("CPU_BASED_USE_TSC_OFFSETING");
const TSC_OFFSET_FIELD = lookupField("TSC_OFFSET").field;
