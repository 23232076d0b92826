// The KVM side of one vCPU: the software copies KVM keeps (vcpu->arch.cr0/cr3/cr4/efer), the VMCS
// set-up of Linux v4.1 arch/x86/kvm/vmx.c (vmx_vcpu_setup, setup_vmcs_config, hardware_setup,
// update_exception_bitmap, vmx_fpu_activate) and the register setters that decide which exits
// happen next (vmx_set_cr0 with ept_update_paging_mode_cr0, vmx_set_cr3, vmx_set_cr4, vmx_set_efer).

import { CR4_PKE } from "../pkeys.js";
import type { X86TracepointName } from "../tracepoints.js";
import type { FieldValue, KvmEra } from "../../core/trace.js";
import type { GuestMemory } from "../../core/memory.js";
import type { MmioBus } from "../../core/bus.js";
import type { X86State } from "../env.js";
import type { X86Cpu } from "../cpu.js";
import { DR6_BS } from "../debug-regs.js";
import { VECTOR } from "../vectors.js";
import { CR0, CR4, EFER } from "../state.js";
import { ctl, withDefault1 } from "../vmx/controls.js";
import { lookupField, type Vmcs } from "../vmx/fields.js";
import type { Ept, HostMemory } from "../vmx/ept.js";
import type { PioBus } from "../../devices/pio.js";
import { MceState } from "./mce.js";
import { MtrrState } from "./mtrr.js";
import { MSRS } from "./msrs.js";
import { vmCpuidHas, type VmCpuid } from "./cpuid-vm.js";
import type { KvmIrqChip } from "./irqchip.js";
import { join64, MASK64 } from "../../core/bits.js";
import { X86Regs } from "../regs.js";

const BIT = (n: number) => (1 << n) >>> 0;
/** Fields KVM reads or writes on every exit, resolved once. */
const F_GUEST_CR0 = lookupField("GUEST_CR0").field, F_GUEST_CR3 = lookupField("GUEST_CR3").field, F_GUEST_CR4 = lookupField("GUEST_CR4").field;
const F_GUEST_RIP = lookupField("GUEST_RIP").field, F_EXIT_LEN = lookupField("VM_EXIT_INSTRUCTION_LEN").field;
// Written by KVM's CR setters on every MOV-to-CR exit: by table entry (no name lookup).
const F_CR0_SHADOW = lookupField("CR0_READ_SHADOW").field, F_CR4_SHADOW = lookupField("CR4_READ_SHADOW").field;
const F_EPTP = lookupField("EPT_POINTER").field, F_CPU_BASED = lookupField("CPU_BASED_VM_EXEC_CONTROL").field;
const F_GUEST_CS_AR = lookupField("GUEST_CS_AR_BYTES").field;
/** CR3-load and CR3-store exiting (ept_update_paging_mode_cr0). */
const CR3_EXITING = (ctl("CPU_BASED_CR3_LOAD_EXITING") | ctl("CPU_BASED_CR3_STORE_EXITING")) >>> 0;

// vmx.c (v4.1) constants.
export const KVM_GUEST_CR0_MASK = CR0.NW | CR0.CD;
export const KVM_VM_CR0_ALWAYS_ON_UNRESTRICTED_GUEST = CR0.WP | CR0.NE;
export const KVM_CR4_GUEST_OWNED_BITS = CR4.PVI | CR4.DE | CR4.PCE | CR4.OSFXSR | CR4.OSXMMEXCPT;
export const KVM_PMODE_VM_CR4_ALWAYS_ON = CR4.PAE | CR4.VMXE;
/** CR4 bits v4.1 knows (x86.h CR4_RESERVED_BITS is the complement): VME..OSXMMEXCPT, VMXE, FSGSBASE, PCIDE, OSXSAVE, SMEP, SMAP. */
const CR4_RESERVED_BITS = ~(0x7ffn | CR4.VMXE | (1n << 16n) | CR4.PCIDE | CR4.OSXSAVE | CR4.SMEP | CR4.SMAP) & ((1n << 64n) - 1n);
/** CR4 bits refused unless the guest's CPUID has the feature (kvm_set_cr4 v4.1, __cr4_reserved_bits today). */
const CR4_NEEDS: readonly [bigint, string][] = [
  [CR4.OSXSAVE, "XSAVE"], [CR4.SMEP, "SMEP"], [CR4.SMAP, "SMAP"], [1n << 16n, "FSGSBASE"], [CR4.PCIDE, "PCID"], [CR4.VMXE, "VMX"], [CR4_PKE, "PKU"],
];
/**
 * CR4 bits today's KVM knows beyond v4.1's (kvm_host.h CR4_RESERVED_BITS): PKE (Linux 4.6). CR4.PKS
 * is not one (KVM does not virtualize supervisor protection keys), so it stays reserved.
 */
const CR4_KNOWN_TODAY = CR4_PKE;
/** kvm->arch.ept_identity_map_addr default (VMX_EPT_IDENTITY_PAGETABLE_ADDR). */
export const EPT_IDENTITY_MAP_ADDR = 0xfffbc000n;
/**
 * Exceptions KVM intercepts with EPT and an active FPU (update_exception_bitmap), by era: v4.1 has
 * #DB, #UD, #MC (eb = PF|UD|MC|NM|DB, minus #PF with EPT and #NM with the FPU active); #AC joined
 * in Linux 4.4 (commit 54a20552e1ea, "work around infinite loop in microcode when #AC is
 * delivered", CVE-2015-5307), so today's vmx/vmx.c has #DB, #UD, #AC, #MC.
 */
export const KVM_EXCEPTION_BITMAP: Readonly<Record<KvmEra, number>> = {
  "2015": BIT(1) | BIT(6) | BIT(18),
  today: BIT(1) | BIT(6) | BIT(17) | BIT(18),
};

export interface KvmContext {
  vmcs: Vmcs;
  cpu: X86Cpu;
  memory: GuestMemory;
  bus: MmioBus;
  pio: PioBus;
  ept: Ept;
  host: HostMemory;
  /** The VM's settings, read live (era: the KVM version modelled). */
  settings: { readonly era: KvmEra };
  emit: (name: X86TracepointName, fields: Record<string, FieldValue>) => void;
  /** Modelled cycles now (the machine's clock). */
  now: () => number;
  /** The vCPU sleeps (kvm_vcpu_block): the clock advances `cycles` with no guest instruction. */
  idle: (cycles: number) => void;
  /** The vCPU's id (vcpu->vcpu_id): 0 unless the VM has several. */
  vcpuId?: number;
  /** The guest's CPUID vendor when the VMM set one other than the host's (MachineOptions.cpuVendor). */
  cpuVendor?: string;
  /** The VM's own CPUID (cpuid-vm.ts): its vCPU topology and the features its -cpu model leaves out (guest_cpuid_has is false for them); unset: the era's table alone. */
  cpuid?: VmCpuid;
  /**
   * kvm_vcpu_block with other vCPUs in the VM (SMP): the vCPU sleeps until an interrupt wakes it
   * while the others run (x86/smp.ts); returns what happened. Unset with one vCPU.
   */
  block?: () => string;
  /** The machine's tracer for the hot handlers' events: a tracepoint resolved once, then emitted by kind (VmBase.kindOf/emitKind). */
  tracer: { kindOf(name: X86TracepointName): number; emitKind(kind: number, fields: Record<string, FieldValue>): void };
}

/**
 * The counters KVM keeps per vCPU: Linux's struct kvm_vcpu_stat names where it has them (exits,
 * halt_exits, halt_wakeup, io_exits, mmio_exits, irq_exits, irq_window_exits, hypercalls,
 * insn_emulation, pf_fixed: arch/x86/include/asm/kvm_host.h), exitlab's own per-reason counts
 * otherwise. count() takes only these names.
 */
export const X86_VCPU_STATS = [
  "exits", "halt_exits", "halt_wakeup", "io_exits", "mmio_exits", "irq_exits", "irq_window_exits", "hypercalls", "insn_emulation", "pf_fixed", "mmu_reset",
  "cr_exits", "msr_exits", "cpuid_exits", "exception_exits", "apic_access_exits", "apic_write_exits", "eoi_induced_exits", "tpr_below_threshold_exits",
  "invd_exits", "wbinvd_exits", "pause_exits", "mwait_exits", "monitor_exits",
] as const;
export type X86VcpuStat = (typeof X86_VCPU_STATS)[number];

export class KvmVcpu {
  /** vcpu->arch copies: what the guest believes its registers hold. */
  readonly arch = { cr0: 0n, cr3: 0n, cr4: 0n, efer: 0n, cr0GuestOwned: 0n, cr4GuestOwned: 0n };
  /**
   * vcpu->stat counters (Linux names where they exist) by name, in the order first counted: a box
   * per counter, so count() (on every exit) is one lookup and an increment.
   */
  private readonly counters = new Map<string, { n: number }>();
  /** The counters as an object, in the order first counted. */
  get stats(): Record<string, number> {
    return Object.fromEntries([...this.counters].map(([k, c]) => [k, c.n]));
  }
  /** Guest instructions KVM completed for the guest (emulated, or skipped once handled): not in the machine's steps. */
  emulated = 0;
  /** MSRs KVM emulates in software (kvm_get/set_msr_common). */
  readonly softMsrs = new Map<number, bigint>();
  /** The machine-check MSRs' state (vcpu->arch.mcg_cap, mcg_status, mcg_ctl, mce_banks: get/set_msr_mce). */
  readonly mce = new MceState();
  /** The MTRRs' state (vcpu->arch.mtrr_state: kvm_mtrr_get_msr / kvm_mtrr_set_msr). */
  readonly mtrr = new MtrrState();
  /** Exception queued for injection at the next VM entry (kvm_queue_exception). */
  queued: { vector: number; errorCode?: number; address?: bigint } | null = null;
  /** The in-kernel irqchip (local APIC, I/O APIC), set by the machine after construction. */
  irq!: KvmIrqChip;
  ioBitmapA = 0;
  ioBitmapB = 0;
  msrBitmap = 0;

  constructor(readonly ctx: KvmContext) {}

  private cpuidKind = -1;
  /** kvm_cpuid, resolved at its first use (handle_cpuid runs on every CPUID exit). */
  traceCpuid(fields: Record<string, FieldValue>): void {
    if (this.cpuidKind < 0) this.cpuidKind = this.ctx.tracer.kindOf("kvm_cpuid");
    this.ctx.tracer.emitKind(this.cpuidKind, fields);
  }

  get state(): X86State {
    return this.ctx.cpu.state;
  }

  count(stat: X86VcpuStat): void {
    this.counted(stat).n++;
  }

  /**
   * The box of a counter, for a hot handler to keep and increment (`box.n++`) with no lookup by
   * name. Made on its first count, so counters still list in the order first counted.
   */
  counted(stat: X86VcpuStat): { n: number } {
    let c = this.counters.get(stat);
    if (c === undefined) this.counters.set(stat, (c = { n: 0 }));
    return c;
  }
  /** The boxes of the counters every exit, and every CPUID exit, increments (counted()). */
  exitsBox: { n: number } | null = null;
  cpuidBox: { n: number } | null = null;

  // ---- vmx_vcpu_setup + hardware_setup (v4.1) ----

  setup(): void {
    const { vmcs, host } = this.ctx;
    const pin = ["PIN_BASED_EXT_INTR_MASK", "PIN_BASED_NMI_EXITING", "PIN_BASED_VIRTUAL_NMIS"];
    // setup_vmcs_config min|opt, minus CR8 exiting (TPR shadow) and CR3/INVLPG exiting (EPT).
    const primary = [
      "CPU_BASED_HLT_EXITING", "CPU_BASED_USE_TSC_OFFSETING", "CPU_BASED_MWAIT_EXITING", "CPU_BASED_MONITOR_EXITING",
      "CPU_BASED_RDPMC_EXITING", "CPU_BASED_MOV_DR_EXITING", "CPU_BASED_USE_IO_BITMAPS", "CPU_BASED_TPR_SHADOW",
      "CPU_BASED_USE_MSR_BITMAPS", "CPU_BASED_ACTIVATE_SECONDARY_CONTROLS",
    ];
    const secondary = [
      "SECONDARY_EXEC_ENABLE_EPT", "SECONDARY_EXEC_RDTSCP", "SECONDARY_EXEC_ENABLE_VPID", "SECONDARY_EXEC_WBINVD_EXITING",
      "SECONDARY_EXEC_UNRESTRICTED_GUEST", "SECONDARY_EXEC_PAUSE_LOOP_EXITING",
    ];
    const exit = ["VM_EXIT_HOST_ADDR_SPACE_SIZE", "VM_EXIT_ACK_INTR_ON_EXIT", "VM_EXIT_SAVE_IA32_PAT", "VM_EXIT_LOAD_IA32_PAT"];
    const entry = ["VM_ENTRY_LOAD_DEBUG_CONTROLS", "VM_ENTRY_LOAD_IA32_PAT"];
    const or = (names: string[]) => names.reduce((v, n) => (v | ctl(n)) >>> 0, 0);
    // adjust_vmx_controls: the default1 bits of each allowed-settings MSR are set too (hardware holds
    // them); with EPT, setup_vmcs_config then clears CR3-load/store and INVLPG exiting (the true
    // controls allow 0 there).
    const noEptExits = or(["CPU_BASED_CR3_LOAD_EXITING", "CPU_BASED_CR3_STORE_EXITING", "CPU_BASED_INVLPG_EXITING"]);
    vmcs.write("PIN_BASED_VM_EXEC_CONTROL", withDefault1("PIN_BASED_VM_EXEC_CONTROL", or(pin)));
    vmcs.write("CPU_BASED_VM_EXEC_CONTROL", (withDefault1("CPU_BASED_VM_EXEC_CONTROL", or(primary)) & ~noEptExits) >>> 0);
    vmcs.write("SECONDARY_VM_EXEC_CONTROL", withDefault1("SECONDARY_VM_EXEC_CONTROL", or(secondary)));
    vmcs.write("VM_EXIT_CONTROLS", withDefault1("VM_EXIT_CONTROLS", or(exit)));
    vmcs.write("VM_ENTRY_CONTROLS", withDefault1("VM_ENTRY_CONTROLS", or(entry)));
    vmcs.write("VIRTUAL_PROCESSOR_ID", 1);
    vmcs.write("VMCS_LINK_POINTER", MASK64);
    vmcs.write("PLE_GAP", 128);
    vmcs.write("PLE_WINDOW", 4096);
    vmcs.write("EPT_POINTER", this.ctx.ept.eptp);
    vmcs.write("TSC_OFFSET", 0n);
    vmcs.write("GUEST_IA32_PAT", 0x0007_0406_0007_0406n);
    vmcs.write("HOST_IA32_PAT", 0x0007_0406_0007_0406n);

    // I/O bitmaps: every port exits except 0x80, the POST/delay port (hardware_setup, v4.1).
    this.ioBitmapA = host.allocPage();
    this.ioBitmapB = host.allocPage();
    for (let i = 0; i < 4096; i++) {
      host.memory.writeByte(this.ioBitmapA + i, 0xff);
      host.memory.writeByte(this.ioBitmapB + i, 0xff);
    }
    this.setIoIntercept(0x80, false);
    vmcs.write("IO_BITMAP_A", this.ioBitmapA);
    vmcs.write("IO_BITMAP_B", this.ioBitmapB);
    // MSR bitmap: every MSR exits except those KVM passes through (vmx_disable_intercept_for_msr).
    this.msrBitmap = host.allocPage();
    for (let i = 0; i < 4096; i++) host.memory.writeByte(this.msrBitmap + i, 0xff);
    for (const m of MSRS) if (m.passthrough) for (const w of [false, true]) this.setMsrIntercept(m.code, w, false);
    vmcs.write("MSR_BITMAP", this.msrBitmap);

    this.updateExceptionBitmap();
    vmcs.write("PAGE_FAULT_ERROR_CODE_MASK", 0);
    vmcs.write("PAGE_FAULT_ERROR_CODE_MATCH", 0);
    vmcs.write("CR3_TARGET_COUNT", 0);
    // v4.1's vmx_fpu_activate: the guest owns CR0.TS, KVM owns every other CR0 bit. Today
    // (Linux 6.4+, arch/x86/kvm/kvm_cache_regs.h KVM_POSSIBLE_CR0_GUEST_BITS = TS | WP;
    // vmx_l1_guest_owned_cr0_bits drops WP only without EPT, and exitlab's KVM runs with EPT):
    // the guest owns CR0.WP too, so toggling it is no exit.
    this.arch.cr0GuestOwned = this.ctx.settings.era === "2015" ? CR0.TS : CR0.TS | CR0.WP;
    vmcs.write("CR0_GUEST_HOST_MASK", ~this.arch.cr0GuestOwned & MASK64);
    // set_cr4_guest_host_mask: with EPT the guest also owns CR4.PGE.
    this.arch.cr4GuestOwned = KVM_CR4_GUEST_OWNED_BITS | CR4.PGE;
    vmcs.write("CR4_GUEST_HOST_MASK", ~this.arch.cr4GuestOwned & MASK64);

    // Host state as a 64-bit Linux host has it (representative values: vmx_set_constant_host_state).
    vmcs.write("HOST_CR0", 0x8005_0033n);
    vmcs.write("HOST_CR4", 0x0026_e0n);
    vmcs.write("HOST_CS_SELECTOR", 0x10);
    vmcs.write("HOST_SS_SELECTOR", 0x18);
    vmcs.write("HOST_DS_SELECTOR", 0);
    vmcs.write("HOST_ES_SELECTOR", 0);
    vmcs.write("HOST_TR_SELECTOR", 0x40);
    vmcs.write("HOST_IA32_EFER", 0xd01n);
  }

  /** update_exception_bitmap: the era's intercepted exceptions (KVM_EXCEPTION_BITMAP). */
  updateExceptionBitmap(): void {
    this.ctx.vmcs.write("EXCEPTION_BITMAP", KVM_EXCEPTION_BITMAP[this.ctx.settings.era]);
  }

  setIoIntercept(port: number, on: boolean): void {
    const base = port < 0x8000 ? this.ioBitmapA : this.ioBitmapB;
    const p = port & 0x7fff;
    const m = this.ctx.host.memory;
    const b = m.readByte(base + (p >> 3));
    m.writeByte(base + (p >> 3), on ? b | (1 << (p & 7)) : b & ~(1 << (p & 7)));
  }

  /** __vmx_enable/disable_intercept_for_msr: read-low 0x000, read-high 0x400, write-low 0x800, write-high 0xc00. */
  setMsrIntercept(msr: number, write: boolean, on: boolean): boolean {
    let off: number;
    if (msr >= 0 && msr <= 0x1fff) off = write ? 0x800 : 0;
    else if (msr >= 0xc000_0000 && msr <= 0xc000_1fff) off = write ? 0xc00 : 0x400;
    else return false;
    const bit = msr & 0x1fff;
    const m = this.ctx.host.memory;
    const a = this.msrBitmap + off + (bit >> 3);
    const b = m.readByte(a);
    m.writeByte(a, on ? b | (1 << (bit & 7)) : b & ~(1 << (bit & 7)));
    return true;
  }

  /** KVM_SET_SREGS from the VMM: the multiboot hand-off state goes through KVM's setters. */
  setSregs(s: X86State): void {
    const v = this.ctx.vmcs;
    for (const seg of ["es", "cs", "ss", "ds", "fs", "gs"] as const) {
      const u = seg.toUpperCase() as Uppercase<typeof seg>;
      v.write(`GUEST_${u}_SELECTOR`, s.seg[seg].selector);
      v.write(`GUEST_${u}_BASE`, s.seg[seg].base);
      v.write(`GUEST_${u}_LIMIT`, s.seg[seg].limit >>> 0);
      v.write(`GUEST_${u}_AR_BYTES`, s.seg[seg].attributes);
    }
    v.write("GUEST_TR_AR_BYTES", 0x8b);
    v.write("GUEST_TR_LIMIT", 0xffff);
    v.write("GUEST_LDTR_AR_BYTES", 0x10000);
    v.write("GUEST_GDTR_BASE", s.gdtr.base);
    v.write("GUEST_GDTR_LIMIT", s.gdtr.limit);
    v.write("GUEST_IDTR_BASE", s.idtr.base);
    v.write("GUEST_IDTR_LIMIT", s.idtr.limit);
    v.write("GUEST_RIP", s.rip);
    v.write("GUEST_RSP", s.gpr[4]!);
    v.write("GUEST_RFLAGS", s.rflags);
    this.arch.cr3 = s.cr3;
    this.vmxSetEfer(s.efer);
    this.vmxSetCr0(s.cr0 | CR0.ET);
    this.vmxSetCr4(s.cr4);
    this.vmxSetCr3();
  }

  /**
   * After an exit KVM re-reads what the guest may have changed without exiting: the guest-owned
   * CR0/CR4 bits (vmx_decache_cr0/cr4_guest_bits) and, with EPT and paging on, CR3 (vmx_decache_cr3, v4.1).
   */
  decache(): void {
    const v = this.ctx.vmcs;
    // Idempotent while the fields it reads are unwritten (KVM's own setters write them too).
    if (v.crWrites === this.decachedAt) return;
    this.decachedAt = v.crWrites;
    const a = this.arch;
    a.cr0 = (a.cr0 & ~a.cr0GuestOwned) | (v.readField(F_GUEST_CR0) & a.cr0GuestOwned);
    a.cr4 = (a.cr4 & ~a.cr4GuestOwned) | (v.readField(F_GUEST_CR4) & a.cr4GuestOwned);
    if (this.isPaging() || this.ctx.settings.era !== "2015") a.cr3 = v.readField(F_GUEST_CR3);
  }

  /** Vmcs.crWrites at the last decache. */
  private decachedAt = -1;
  /** EFER.LMA of arch.efer (set with it in vmxSetEfer): skipInstruction's width, with no BigInt. */
  private lma = false;

  isPaging(): boolean {
    return (this.arch.cr0 & CR0.PG) !== 0n;
  }

  /** CR3-load and CR3-store exiting on or off in the primary controls. */
  private cr3Exiting(on: boolean): void {
    const v = this.ctx.vmcs;
    const old = v.readNum(F_CPU_BASED);
    v.writeField(F_CPU_BASED, on ? (old | CR3_EXITING) >>> 0 : (old & ~CR3_EXITING) >>> 0);
  }

  /** vmx_set_cr0 (v4.1) with enable_ept and enable_unrestricted_guest. */
  vmxSetCr0(cr0: bigint): void {
    let hw = (cr0 & ~KVM_GUEST_CR0_MASK) | KVM_VM_CR0_ALWAYS_ON_UNRESTRICTED_GUEST;
    if (this.arch.efer & EFER.LME) {
      if (!this.isPaging() && cr0 & CR0.PG) this.enterLmode();
      if (this.isPaging() && !(cr0 & CR0.PG)) this.vmxSetEfer(this.arch.efer & ~EFER.LMA);
    }
    // ept_update_paging_mode_cr0 (2015): trap CR3 accesses while the guest runs without paging.
    // Today's vmx_set_cr0 does this only for restricted guests (enable_ept && !enable_unrestricted_guest):
    // with unrestricted guest the hardware runs paging-off guests natively, so CR3 is never trapped.
    if (this.ctx.settings.era !== "2015") {
      this.cr3Exiting(false);
      this.arch.cr0 = cr0;
      this.vmxSetCr4(this.arch.cr4);
    } else if (!(cr0 & CR0.PG)) {
      this.cr3Exiting(true);
      this.arch.cr0 = cr0;
      this.vmxSetCr4(this.arch.cr4);
    } else if (!this.isPaging()) {
      this.cr3Exiting(false);
      this.arch.cr0 = cr0;
      this.vmxSetCr4(this.arch.cr4);
    }
    if (!(cr0 & CR0.WP)) hw &= ~CR0.WP;
    this.ctx.vmcs.writeField(F_CR0_SHADOW, cr0);
    this.ctx.vmcs.writeField(F_GUEST_CR0, hw);
    this.arch.cr0 = cr0;
  }

  /** enter_lmode: mark TR as a busy 64-bit TSS and set EFER.LMA. */
  private enterLmode(): void {
    const ar = Number(this.ctx.vmcs.read("GUEST_TR_AR_BYTES"));
    if ((ar & 0xf) !== 11) this.ctx.vmcs.write("GUEST_TR_AR_BYTES", (ar & ~0xf) | 11);
    this.vmxSetEfer(this.arch.efer | EFER.LMA);
  }

  /** vmx_set_cr4 (v4.1): with EPT and paging off, the hardware runs with PSE instead of PAE. */
  vmxSetCr4(cr4: bigint): void {
    let hw = cr4 | KVM_PMODE_VM_CR4_ALWAYS_ON;
    this.arch.cr4 = cr4;
    if (!this.isPaging()) {
      hw &= ~CR4.PAE;
      hw |= CR4.PSE;
      hw &= ~CR4.SMEP;
    } else if (!(cr4 & CR4.PAE)) hw &= ~CR4.PAE;
    this.ctx.vmcs.writeField(F_CR4_SHADOW, cr4);
    this.ctx.vmcs.writeField(F_GUEST_CR4, hw);
  }

  /**
   * vmx_set_cr3 (v4.1): EPTP for the EPT root; GUEST_CR3 is the guest's own only once paging is on
   * (KVM's identity map before). Today, with unrestricted guest, GUEST_CR3 is always the guest's.
   */
  vmxSetCr3(): void {
    this.ctx.vmcs.writeField(F_EPTP, this.ctx.ept.eptp);
    const own = this.isPaging() || this.ctx.settings.era !== "2015";
    this.ctx.vmcs.writeField(F_GUEST_CR3, own ? this.arch.cr3 : EPT_IDENTITY_MAP_ADDR);
    // The MMU's root reload (kvm_mmu_reset_context / kvm_mmu_load) may INVEPT; the model's cache of
    // EPT translations (vmx/ept.ts) is dropped by every change to the tables themselves, so it
    // never holds a stale one and there is nothing to drop here: same translations, no re-walks.
  }

  /** vmx_set_efer + update_transition_efer (v4.1): IA-32e entry control and the EFER loaded at entry. */
  vmxSetEfer(efer: bigint): void {
    const v = this.ctx.vmcs;
    this.arch.efer = efer;
    this.lma = (efer & EFER.LMA) !== 0n;
    v.setBits("VM_ENTRY_CONTROLS", ctl("VM_ENTRY_IA32E_MODE"), (efer & EFER.LMA) !== 0n);
    let guestEfer = efer;
    if (!(guestEfer & EFER.LMA)) guestEfer &= ~EFER.LME;
    v.write("GUEST_IA32_EFER", guestEfer);
    v.setBits("VM_ENTRY_CONTROLS", ctl("VM_ENTRY_LOAD_IA32_EFER"), true);
    v.setBits("VM_EXIT_CONTROLS", ctl("VM_EXIT_LOAD_IA32_EFER"), true);
  }

  /** kvm_set_cr0 (x86.c v4.1): 1 = invalid (the caller injects #GP). */
  kvmSetCr0(value: bigint): number {
    let cr0 = value | CR0.ET;
    if (cr0 >> 32n) return 1;
    if (cr0 & CR0.NW && !(cr0 & CR0.CD)) return 1;
    if (cr0 & CR0.PG && !(cr0 & CR0.PE)) return 1;
    if (!this.isPaging() && cr0 & CR0.PG && this.arch.efer & EFER.LME) {
      if (!(this.arch.cr4 & CR4.PAE)) return 1;
      if ((this.ctx.vmcs.readNum(F_GUEST_CS_AR) >> 13) & 1) return 1;
    }
    // Clearing PG: v4.1 refuses it only with CR4.PCIDE set; "KVM: X86: Raise #GP when clearing CR0_PG
    // in 64 bit mode" (Lai Jiangshan, 2021) added is_64_bit_mode(vcpu), as SDM Vol. 3 9.8.5.4 requires.
    if (!(cr0 & CR0.PG) && (this.arch.cr4 & CR4.PCIDE || (this.ctx.settings.era !== "2015" && this.is64BitMode()))) return 1;
    cr0 &= 0xe005_003fn;
    const old = this.arch.cr0;
    this.vmxSetCr0(cr0);
    // kvm_mmu_reset_context when PG/WP/PE change: the MMU is re-initialised and reloads its root.
    if ((cr0 ^ old) & (CR0.PG | CR0.WP | CR0.PE)) {
      this.count("mmu_reset");
      this.vmxSetCr3();
    }
    return 0;
  }

  /** is_64_bit_mode: EFER.LMA and CS.L (GUEST_CS_AR_BYTES bit 13). */
  is64BitMode(): boolean {
    return (this.arch.efer & EFER.LMA) !== 0n && ((this.ctx.vmcs.readNum(F_GUEST_CS_AR) >> 13) & 1) === 1;
  }

  /** kvm_set_cr3 (x86.c v4.1). */
  kvmSetCr3(cr3: bigint): number {
    if (this.arch.efer & EFER.LMA && cr3 >> 52n) return 1;
    this.arch.cr3 = cr3;
    this.vmxSetCr3();
    return 0;
  }

  /**
   * kvm_set_cr4 (x86.c v4.1; today's kvm_is_valid_cr4 with __cr4_reserved_bits): CR4_RESERVED_BITS,
   * then each feature bit the guest's CPUID does not advertise (OSXSAVE needs XSAVE, SMEP, SMAP,
   * FSGSBASE, PCIDE needs PCID; VMXE needs VMX: vmx_set_cr4's nested_vmx_allowed), then PAE in long mode.
   */
  kvmSetCr4(cr4: bigint): number {
    const era = this.ctx.settings.era;
    if (cr4 & CR4_RESERVED_BITS & ~(era === "2015" ? 0n : CR4_KNOWN_TODAY)) return 1;
    for (const [bit, feature] of CR4_NEEDS) if (cr4 & bit && !vmCpuidHas(this.ctx.cpuid, era, feature)) return 1;
    if (this.arch.efer & EFER.LMA && !(cr4 & CR4.PAE)) return 1;
    const old = this.arch.cr4;
    this.vmxSetCr4(cr4);
    if ((cr4 ^ old) & (CR4.PGE | CR4.PSE | CR4.PAE | CR4.SMEP | CR4_PKE)) this.vmxSetCr3();
    return 0;
  }

  /** set_efer (x86.c v4.1): LMA is KVM's to set; LME may not change while paging is on. */
  kvmSetEfer(efer: bigint): number {
    const reserved = ~(EFER.SCE | EFER.LME | EFER.LMA | EFER.NXE) & MASK64;
    if (efer & reserved) return 1;
    if (this.isPaging() && (this.arch.efer & EFER.LME) !== (efer & EFER.LME)) return 1;
    efer = (efer & ~EFER.LMA) | (this.arch.efer & EFER.LMA);
    this.vmxSetEfer(efer);
    return 0;
  }

  /** skip_emulated_instruction: GUEST_RIP += VM_EXIT_INSTRUCTION_LEN. */
  skipInstruction(singleStep = true): void {
    this.emulated++;
    if (singleStep) this.singleStepAfterSkip();
    const v = this.ctx.vmcs;
    const next = v.readNum(F_GUEST_RIP) + v.readNum(F_EXIT_LEN);
    if (next <= Number.MAX_SAFE_INTEGER) {
      v.writeField(F_GUEST_RIP, this.lma ? next : next % 4294967296);
      return;
    }
    let rip = v.readField(F_GUEST_RIP) + v.readField(F_EXIT_LEN);
    if (!this.lma) rip &= 0xffff_ffffn;
    v.writeField(F_GUEST_RIP, rip);
  }

  /**
   * Today's kvm_skip_emulated_instruction: an instruction KVM completed with RFLAGS.TF set ends in
   * the single-step #DB the CPU would have raised (kvm_vcpu_do_singlestep: #DB with DR6.BS). v4.1's
   * skip_emulated_instruction only moved RIP, so a single-stepped CPUID or port access was missed.
   */
  private singleStepAfterSkip(): void {
    if (this.ctx.settings.era === "2015") return;
    // TF without materializing the lazy arithmetic flags (the register file's `fl` holds TF eagerly).
    const fl = (this.state as { fl?: number }).fl;
    if (fl !== undefined ? (fl & 0x100) === 0 : (this.state.rflags & 0x100n) === 0n) return;
    this.queueException(VECTOR.DB, undefined, DR6_BS);
  }

  /** kvm_queue_exception(_e): injected at the next VM entry (traced then as kvm_inj_exception). */
  queueException(vector: number, errorCode?: number, address?: bigint): void {
    this.queued = { vector, errorCode, address };
  }

  /** kvm_register_write: RSP lives in the VMCS (GUEST_RSP), the others in vcpu->arch.regs. */
  writeGpr(reg: number, value: bigint): void {
    const v = this.state.mode === "long64" ? value : value & 0xffff_ffffn;
    this.state.gpr[reg] = v;
    if (reg === 4) this.ctx.vmcs.write("GUEST_RSP", v);
  }

  /** kvm_register_readl: the low 32 bits outside 64-bit mode. */
  readGpr(reg: number): bigint {
    const s = this.state;
    // The register file's halves when it has them (one BigInt made per exit's operand).
    if (s instanceof X86Regs) return s.mode === "long64" ? join64(s.r[reg]!, s.r[reg + 16]!) : BigInt(s.r[reg]! >>> 0);
    const v = s.gpr[reg]!;
    return s.mode === "long64" ? v : v & 0xffff_ffffn;
  }
}
