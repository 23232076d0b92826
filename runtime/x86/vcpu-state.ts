// The vCPUs of an x86 VM: what each owns (its CPU with its registers, TLB and decoded code; its
// VMCS and the exit rules that read it; KVM's per-vcpu state; its local APIC, APIC ID = vCPU id as
// KVM and QEMU give them), KVM's mp_state, and what INIT and SIPI do to a vCPU. The VM shares guest
// memory, the EPT, the buses and the I/O APIC. Sources: Linux arch/x86/kvm/lapic.c
// (kvm_apic_accept_events, kvm_apic_match_dest, kvm_apic_match_physical_addr /
// kvm_apic_match_logical_addr), x86.c (kvm_vcpu_reset, kvm_arch_vcpu_create: APs start
// KVM_MP_STATE_UNINITIALIZED), vmx/vmx.c (vmx_vcpu_reset, vmx_deliver_sipi_vector); Intel SDM
// Vol. 3 9.1.1 Table 9-1 (the state after INIT), 8.4.4 (the MP initialization protocol: INIT,
// then STARTUP at vector × 4096), 10.6.1 / 11.6.1 (ICR delivery modes), 10.6.2 / 11.6.2
// (destinations: physical, logical flat and cluster, x2APIC cluster).

import { X86Cpu } from "./cpu.js";
import { Vmcs } from "./vmx/fields.js";
import { ExitRules } from "./vmx/controls.js";
import { KvmVcpu, type KvmContext } from "./kvm/vcpu.js";
import { KvmIrqChip } from "./kvm/irqchip.js";
import type { LocalApic } from "./apic/lapic.js";
import type { IoApic } from "./apic/ioapic.js";
import { APIC_BASE_MSR, apicOffset } from "./apic/registers.js";
import type { X86Seg, X86State } from "./env.js";
import { CR0 } from "./state.js";
import { kvmCpuid } from "./kvm/cpuid.js";

const LDR = apicOffset("LDR"), DFR = apicOffset("DFR");

/**
 * KVM's mp_state of a vCPU (include/uapi/linux/kvm.h KVM_MP_STATE_*): the BSP starts "runnable",
 * an AP "uninitialized" (it waits for INIT), INIT makes it "init-received" (it waits for SIPI),
 * SIPI "runnable".
 */
export type X86MpState = "runnable" | "uninitialized" | "init-received";

/** One vCPU of the VM. */
export interface X86Vcpu {
  readonly id: number;
  readonly cpu: X86Cpu;
  readonly vmcs: Vmcs;
  readonly rules: ExitRules;
  readonly kvm: KvmVcpu;
  /** Its local APIC and KVM's interrupt injection; the I/O APIC in it is the VM's. */
  readonly irq: KvmIrqChip;
  /** Exits it took. */
  exits: number;
  /** Guest instructions it retired. */
  steps: number;
  /** The modelled cycle it blocked at (HLT), for kvm_vcpu_wakeup's time. */
  blockedAt: number;
  /**
   * What it must do when it next runs, before guest code: "wake" (it woke from HLT: trace
   * kvm_vcpu_wakeup, then enter), "enter" (started by SIPI: its first VM entry), or nothing.
   */
  resume: "" | "wake" | "enter";
  mp: X86MpState;
}

/** The segment state of INIT (SDM Vol. 3 Table 9-1; vmx_vcpu_reset): selector 0, base 0, limit 0xffff, present read/write data. */
const RESET_DATA_AR = 0x93;
/** CS after INIT: accessed execute/read code (vmx_vcpu_reset: seg_setup(VCPU_SREG_CS) then 0x9b). */
const RESET_CODE_AR = 0x9b;
/** CR0 after INIT: CD | NW | ET (SDM Table 9-1: 60000010H). */
const RESET_CR0 = CR0.CD | CR0.NW | CR0.ET;

/**
 * The register state of a vCPU KVM has reset for INIT and started with SIPI `vector`
 * (kvm_vcpu_reset + vmx_deliver_sipi_vector / kvm_vcpu_deliver_sipi_vector): real mode, CS
 * selector vector << 8 and base vector << 12, IP 0 (the AP starts at physical vector × 4096,
 * SDM Vol. 3 8.4.4.1); RDX holds the processor signature (CPUID.1 EAX), the other GPRs 0; RFLAGS
 * 2; GDTR/IDTR base 0 limit 0xffff. Without a vector: the INIT state itself (CS F000, base
 * FFFF0000, IP FFF0), the wait-for-SIPI state nothing executes.
 */
export function initState(sipiVector?: number): X86State {
  const seg = (attributes: number) => ({ selector: 0, base: 0n, limit: 0xffff, attributes });
  const segs = {} as X86State["seg"];
  for (const r of ["es", "ss", "ds", "fs", "gs"] as X86Seg[]) segs[r] = seg(RESET_DATA_AR);
  const cs = seg(RESET_CODE_AR);
  let rip = 0xfff0n;
  if (sipiVector === undefined) (cs.selector = 0xf000), (cs.base = 0xffff_0000n);
  else (cs.selector = sipiVector << 8), (cs.base = BigInt(sipiVector) << 12n), (rip = 0n);
  segs.cs = cs;
  const gpr = new Array<bigint>(16).fill(0n);
  gpr[2] = BigInt(kvmCpuid(1).entry.eax >>> 0);
  return {
    gpr, rip, nextRip: rip, rflags: 2n, mode: "real", seg: segs,
    cr0: RESET_CR0, cr2: 0n, cr3: 0n, cr4: 0n, cr8: 0n, efer: 0n,
    gdtr: { base: 0n, limit: 0xffff }, idtr: { base: 0n, limit: 0xffff },
  };
}

/** What an INIT or SIPI needs of the VM: its vCPUs, and putting a vCPU's registers in place. */
export interface StartupVcpus {
  readonly vcpus: readonly X86Vcpu[];
  /** kvm_vcpu_reset of vCPU `id` into `state` (the CPU's registers, then KVM_SET_SREGS into its VMCS). */
  resetVcpu(id: number, state: X86State): void;
}

/**
 * kvm_apic_accept_events for an INIT (SDM 10.6.1 / 11.6.1 delivery mode 101): the vCPU is reset
 * and, being an AP, waits for SIPI (KVM_MP_STATE_INIT_RECEIVED). `level`/`assert` are the ICR's
 * trigger mode and level: a level-triggered INIT de-assert is ignored (__apic_accept_irq: "if
 * (!trig_mode || level)"). Returns what happened.
 */
export function acceptInit(vm: StartupVcpus, v: X86Vcpu, level: boolean, assert: boolean): string {
  if (level && !assert) return `vCPU ${v.id}: INIT de-assert ignored`;
  vm.resetVcpu(v.id, initState());
  v.mp = "init-received";
  v.resume = "";
  return `vCPU ${v.id} reset by INIT: waits for SIPI`;
}

/**
 * kvm_apic_accept_events for a STARTUP IPI (delivery mode 110): a vCPU in INIT_RECEIVED starts in
 * real mode at vector × 4096 (KVM_MP_STATE_RUNNABLE); in any other state the SIPI is dropped
 * (SDM 8.4.4: a processor not waiting for SIPI ignores it). Returns whether it started.
 */
export function acceptSipi(vm: StartupVcpus, v: X86Vcpu, vector: number): boolean {
  if (v.mp !== "init-received") return false;
  vm.resetVcpu(v.id, initState(vector & 0xff));
  v.mp = "runnable";
  v.resume = "enter";
  return true;
}

/** ICR / redirection-entry destination modes and shorthands (SDM Vol. 3 Figure 11-12 bits 11, 19:18). */
export const SHORTHAND = { none: 0, self: 1, all: 2, allButSelf: 3 } as const;

/**
 * kvm_apic_match_dest: whether `target` is a destination of an interrupt with `shorthand` sent by
 * the APIC `sourceId` (-1: not from an APIC — the I/O APIC, an MSI) to `dest` in `logical` or
 * physical mode. Physical: dest equals the APIC ID, or is the broadcast ID (0xff xAPIC,
 * 0xffffffff x2APIC). Logical, x2APIC: cluster dest[31:16] = ID[19:4] and dest[15:0] has bit
 * ID[3:0] (the LDR KVM derives). Logical, xAPIC: the DFR's model — flat (0xf): LDR[31:24] & dest;
 * cluster (0x0): the high nibbles equal and the low nibbles intersect (SDM 10.6.2.2).
 */
export function matchesDest(target: LocalApic, sourceId: number, shorthand: number, dest: number, logical: boolean): boolean {
  switch (shorthand) {
    case SHORTHAND.self: return target.id === sourceId;
    case SHORTHAND.all: return true;
    case SHORTHAND.allButSelf: return target.id !== sourceId;
  }
  if (!logical) {
    const broadcast = target.x2apic ? 0xffff_ffff : 0xff;
    return (dest >>> 0) === broadcast || (dest >>> 0) === target.physicalId;
  }
  if (target.x2apic) {
    const ldr = target.readReg(LDR) >>> 0;
    return (dest >>> 16) === (ldr >>> 16) && (dest & ldr & 0xffff) !== 0;
  }
  const ldr = target.readReg(LDR) >>> 24;
  const d = dest & 0xff;
  if (d === 0xff) return true;
  const flat = (target.readReg(DFR) >>> 28) === 0xf;
  return flat ? (ldr & d) !== 0 : (ldr >> 4) === (d >> 4) && (ldr & d & 0xf) !== 0;
}

/** What a vCPU shares with its VM (KvmContext without the per-vCPU parts), and the SMP hooks. */
export interface VcpuHost extends Omit<KvmContext, "vmcs" | "cpu" | "vcpuId" | "block"> {
  /** kvm_vcpu_block with other vCPUs (smp.ts blockOnHlt); unset with one vCPU. */
  block?: () => string;
  /** An IPI from this vCPU's APIC for other vCPUs (smp.ts deliverIpi); unset with one vCPU. */
  onIpi?: (icrLow: number, dest: number) => void;
  /** Instructions vCPU `id` has retired, live (its STI shadow: KvmIrqChip); unset with one vCPU. */
  retired?: (id: number) => number;
  /** A vCPU's xAPIC page moved (IA32_APIC_BASE): the VM's APIC windows follow (apic/lapic-window.ts); unset with one vCPU. */
  apicBaseMoved?: () => void;
}

/**
 * kvm_arch_vcpu_create for vCPU `id` starting from `state`: its CPU, VMCS and exit rules, KVM's
 * vcpu and its local APIC (APIC ID = id; IA32_APIC_BASE.BSP only on vCPU 0). `ioapic` is the
 * VM's I/O APIC when it has several vCPUs (the machine maps it), else undefined (the irqchip
 * maps its own). The VMCS is set up by the caller (KvmVcpu.setup, KvmIrqChip.setup, setSregs).
 */
export function createX86Vcpu(h: VcpuHost, id: number, state: X86State, ioapic?: IoApic): X86Vcpu {
  const vmcs = new Vmcs();
  const rules = new ExitRules(vmcs, h.host.memory);
  const box: { irq?: KvmIrqChip } = {};
  const cpu = new X86Cpu(state, {
    memory: h.memory,
    bus: h.bus,
    rules,
    ept: h.ept,
    vmcs,
    now: () => BigInt(h.now()),
    apicPage: (offset, size, write, value) => box.irq!.apicPageAccess(offset, size, write, value),
    x2apicMsr: (msr, write, value) => box.irq!.x2apicMsrAccess(msr, write, value),
  });
  const kvm = new KvmVcpu({ ...h, vmcs, cpu, vcpuId: id, block: h.block });
  const irq = new KvmIrqChip(
    { vmcs, cpu, bus: h.bus, now: h.now, emit: h.emit, setMsrIntercept: (msr, write, on) => kvm.setMsrIntercept(msr, write, on), onIpi: h.onIpi, era: () => h.settings.era, apicBaseMoved: h.apicBaseMoved, retired: h.retired ? () => h.retired!(id) : undefined },
    id,
    ioapic,
  );
  box.irq = irq;
  kvm.irq = irq;
  cpu.events = irq;
  if (id !== 0) irq.lapic.base &= ~APIC_BASE_MSR.BSP;
  return { id, cpu, vmcs, rules, kvm, irq, exits: 0, steps: 0, blockedAt: 0, resume: "", mp: id === 0 ? "runnable" : "uninitialized" };
}
