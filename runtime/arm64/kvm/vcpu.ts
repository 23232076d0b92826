// KVM/arm64's per-vcpu state and helpers: the HCR_EL2 it programs at reset (by era), the stage-2
// tables of the VM, counters (vcpu->stat), and the small operations the exit handlers share —
// skipping the trapped instruction, injecting exceptions, the cache-state logic of
// kvm_toggle_cache / kvm_set_way_flush. Sources: Linux v4.1 arch/arm64/include/asm/kvm_arm.h
// (HCR_GUEST_FLAGS), arch/arm64/kvm/reset.c, arch/arm64/kvm/inject_fault.c, arch/arm/kvm/mmu.c.

import { PMU_COUNTERS, VPmu, type PmuSources } from "./pmu.js";
import { MDCR_TPM, MDCR_TPMCR } from "../el2.js";
import type { Arm64TracepointName } from "../tracepoints.js";
import type { FieldValue, KvmEra } from "../../core/trace.js";
import type { GuestMemory } from "../../core/memory.js";
import type { MmioBus } from "../../core/bus.js";
import { HostMemory } from "../../core/host-memory.js";
import type { A64Cpu } from "../cpu.js";
import { EC, FSC } from "../esr.js";
import { hcr, type HcrBitName } from "../el2.js";
import { Stage2, type Granule } from "./stage2.js";

/**
 * HCR_EL2 at vcpu reset. "2015" is the kernel the talk traced (Linux 3.17-3.19 HCR_GUEST_FLAGS:
 * TVM set from reset, so VM-register writes trap until the guest turns MMU and caches on).
 * "today" (Linux 4.0 and later): TVM only once the guest uses set/way maintenance, TID3 traps the
 * ID registers, IMO/FMO route interrupts through the vGIC.
 */
export function resetHcr(era: KvmEra): bigint {
  const common: HcrBitName[] = ["VM", "SWIO", "FB", "BSU_IS", "TWI", "TWE", "TSC", "TIDCP", "TACR", "TSW", "AMO", "IMO", "FMO", "RW"];
  const names: HcrBitName[] = era === "2015" ? [...common, "TVM"] : [...common, "PTW", "TID3"];
  return names.reduce((v, n) => v | hcr(n), 0n);
}

/** KVM's per-vcpu exit counters (struct kvm_vcpu_stat, plus this model's own). */
export interface Arm64Stats {
  exits: number;
  mmio_exit_user: number;
  mmio_exit_kernel: number;
  wfi_exit_stat: number;
  wfe_exit_stat: number;
  hvc_exit_stat: number;
  sys_reg_exits: number;
  stage2_maps: number;
  dcache_flushes: number;
  dcache_flush_bytes: number;
  vm_flushes: number;
  [k: string]: number;
}

export interface VcpuContext {
  cpu: A64Cpu;
  memory: GuestMemory;
  bus: MmioBus;
  host: HostMemory;
  /** The VM's settings, read live (era: the KVM version modelled). */
  settings: { readonly era: KvmEra };
  granule: () => Granule;
  pairMmio: () => boolean;
  emit: (name: Arm64TracepointName, fields: Record<string, FieldValue>) => void;
  /** The machine's tracer for the hot handlers' events: a tracepoint resolved once, then emitted by kind (VmBase.kindOf/emitKind). */
  tracer: { kindOf(name: Arm64TracepointName): number; emitKind(kind: number, fields: Record<string, FieldValue>): void };
  /**
   * kvm_vcpu_block: wait for an interrupt. Returns the nanoseconds blocked (0: one was already
   * pending), or -1 when nothing can ever wake the vCPU (no timer armed, nothing pending).
   */
  block?: () => number;
  /** KVM's emulation of the EL1 physical timer registers (today: kvm_arm_timer_read/write), or undefined. */
  timerReg?: { read(name: string): bigint | undefined; write(name: string, v: bigint): boolean };
  /** KVM's handling of a trapped ICC_SGI1R_EL1 write (vgic_v3_dispatch_sgi). */
  sgi1r?: (v: bigint) => void;
  /** What this vCPU's vPMU counts from (kvm/pmu.ts): its retired instructions and the VM's modelled cycles. */
  pmu: PmuSources;
  /** The PSCI calls that act on the VM's vCPUs (vcpu-state.ts): results in PSCI return codes. */
  psci?: {
    cpuOn(target: bigint, entry: bigint, contextId: bigint): { ret: bigint; text: string };
    affinityInfo(target: bigint, level: bigint): { ret: bigint; text: string };
    /** kvm_psci_vcpu_off: this vCPU stops; true when no vCPU is left on. */
    cpuOff(): boolean;
  };
}

/** What block() returns when the vCPU was descheduled to wait (SMP): the other vCPUs run meanwhile. */
export const VCPU_BLOCKED = -2;

export class KvmVcpu {
  stage2: Stage2;
  readonly stats: Arm64Stats = {
    exits: 0, mmio_exit_user: 0, mmio_exit_kernel: 0, wfi_exit_stat: 0, wfe_exit_stat: 0, hvc_exit_stat: 0,
    sys_reg_exits: 0, stage2_maps: 0, dcache_flushes: 0, dcache_flush_bytes: 0, vm_flushes: 0,
  };
  /** Guest instructions KVM completed for the guest (emulated, or skipped once handled): not in the machine's steps. */
  emulated = 0;
  /** ESR_EL2 of the exit being handled, as a number (set by the machine at the exit). */
  exitEsr = 0;
  /** Bytes cleaned by the last handler (for the cost model). */
  lastFlushBytes = 0;
  /** The last handler returned to user space (QEMU) before resuming. */
  lastUserspace = false;
  /** The last handler emulated an MMIO access in the kernel (the vGIC distributor). */
  lastKernelMmio = false;
  /**
   * Guest-physical ranges KVM maps in stage 2 as Device memory at vGIC init, so the guest reaches
   * them without exiting (kvm_vgic_map_resources: GICV at the guest's GICC address, GICv2 only).
   */
  directMmio: { base: number; size: number }[] = [];

  private hvcKind = -1;
  /** kvm_hvc_arm64, resolved at its first use (handle_hvc runs on every hypercall). */
  traceHvc(fields: Record<string, FieldValue>): void {
    if (this.hvcKind < 0) this.hvcKind = this.ctx.tracer.kindOf("kvm_hvc_arm64");
    this.ctx.tracer.emitKind(this.hvcKind, fields);
  }

  /** KVM's virtual PMU of this vCPU (kvm_pmu, pmu-emul.c). */
  pmu: VPmu;

  constructor(readonly ctx: VcpuContext) {
    this.stage2 = new Stage2(ctx.host, ctx.granule());
    this.pmu = new VPmu(ctx.pmu);
  }

  get cpu(): A64Cpu {
    return this.ctx.cpu;
  }

  get state() {
    return this.ctx.cpu.state;
  }

  count(stat: keyof Arm64Stats, n = 1): void {
    this.stats[stat] = (this.stats[stat] ?? 0) + n;
  }

  /** kvm_reset_vcpu + kvm_arch_vcpu_init: EL1h with DAIF masked, HCR/VTCR/VTTBR, virtual IDs. */
  reset(entry: bigint, x0: bigint): void {
    const cpu = this.cpu;
    cpu.pstate = 0x3c5n; // PSR_MODE_EL1h | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT | PSR_D_BIT
    cpu.state.pc = entry;
    cpu.state.x[0] = x0;
    this.programStage2();
    cpu.setReg("HCR_EL2", resetHcr(this.ctx.settings.era));
    // kvm_arm_setup_mdcr_el2: HPMN = the host's PMCR_EL0.N, every PMU access trapped (TPM, TPMCR).
    cpu.setReg("MDCR_EL2", BigInt(PMU_COUNTERS) | MDCR_TPM | MDCR_TPMCR);
    this.pmu = new VPmu(this.ctx.pmu); // kvm_pmu_vcpu_reset
    cpu.setReg("VPIDR_EL2", cpu.reg("MIDR_EL1"));
  }

  private programStage2(): void {
    this.cpu.setReg("VTCR_EL2", this.stage2.vtcr);
    this.cpu.setReg("VTTBR_EL2", this.stage2.vttbr);
  }

  /**
   * The stage-2 mapping of a direct device range (directMmio) holding `ipa`: Device-nGnRE,
   * read/write (Arm ARM D8.5.5, S2 MemAttr 0b0001). KVM maps these before the first run; this
   * model writes the descriptor when the guest first reaches the page (no exit either way), so
   * guests that never touch them keep the stage 2 they had. Returns whether `ipa` is one.
   */
  mapDirect(ipa: number): boolean {
    const r = this.directMmio.find((x) => ipa >= x.base && ipa < x.base + x.size);
    if (!r) return false;
    this.stage2.mapPage(ipa, (0x1n << 2n) | (3n << 6n) | (1n << 10n));
    this.cpu.mmu.flush();
    return true;
  }

  /** Rebuild an empty stage 2 with the current granule (the `granule` setting changed). */
  rebuildStage2(): void {
    this.stage2 = new Stage2(this.ctx.host, this.ctx.granule());
    this.programStage2();
  }

  hcr(): bigint {
    return this.cpu.reg("HCR_EL2");
  }

  setHcr(v: bigint): void {
    this.cpu.setReg("HCR_EL2", v);
  }

  /** vcpu_has_cache_enabled: SCTLR_EL1.M and SCTLR_EL1.C both set. */
  cacheEnabled(): boolean {
    return (this.cpu.reg("SCTLR_EL1") & 0b101n) === 0b101n;
  }

  /** kvm_skip_instr: the trapped instruction completed (32-bit A64 instructions only). */
  skipInstruction(): void {
    this.emulated++;
    this.state.pc += 4n;
  }

  /** kvm_inject_undefined: an UNDEFINED exception at the trapped instruction, taken to EL1. */
  injectUndefined(): void {
    this.cpu.enterEl1(EC.UNKNOWN, 0n, undefined, this.state.pc);
  }

  /** kvm_inject_pabt / kvm_inject_dabt: a synchronous external abort at EL1 (inject_abt64). */
  injectAbort(isIabt: boolean, addr: bigint): void {
    const lower = this.state.el === 0;
    const ec = isIabt ? (lower ? EC.IABT_LOW : EC.IABT_CUR) : lower ? EC.DABT_LOW : EC.DABT_CUR;
    this.cpu.enterEl1(ec, BigInt(FSC.SYNC_EXTERNAL), addr, this.state.pc);
  }

  /** stage2_flush_vm: clean+invalidate every page mapped in stage 2 to the point of coherency. */
  flushVm(): number {
    const bytes = this.stage2.mappedBytes;
    this.count("vm_flushes");
    this.count("dcache_flush_bytes", bytes);
    this.lastFlushBytes += bytes;
    return bytes;
  }

  /** kvm_toggle_cache (arch/arm/kvm/mmu.c): flush when the cache state changes; stop trapping VM ops once on. */
  toggleCache(wasEnabled: boolean): void {
    const now = this.cacheEnabled();
    if (now !== wasEnabled) this.flushVm();
    if (now) this.setHcr(this.hcr() & ~hcr("TVM"));
    this.ctx.emit("kvm_toggle_cache", { vcpu_pc: this.state.pc, was: wasEnabled, now });
  }

  /** kvm_set_way_flush: on the first set/way operation flush the VM and start trapping VM ops (Linux 4.0+). */
  setWayFlush(): void {
    const hcrEl2 = this.hcr();
    this.ctx.emit("kvm_set_way_flush", { vcpu_pc: this.state.pc, cache: this.cacheEnabled() });
    if (!(hcrEl2 & hcr("TVM"))) {
      this.flushVm();
      this.setHcr(hcrEl2 | hcr("TVM"));
    }
  }
}
