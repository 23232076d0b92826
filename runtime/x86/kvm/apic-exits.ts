// KVM's handlers of the interrupt exits (Linux v4.1 arch/x86/kvm/vmx.c, same shape today):
// handle_external_interrupt, handle_interrupt_window, handle_tpr_below_threshold,
// handle_apic_access (with its fast EOI path), handle_apic_write, handle_apic_eoi_induced,
// kvm_emulate_halt with kvm_vcpu_block, and the x2APIC MSRs (kvm_x2apic_msr_read/write),
// IA32_APIC_BASE and IA32_TSC_DEADLINE. The irqchip they act on is kvm/irqchip.ts.

import type { HandleResult } from "../../core/machine.js";
import { RFLAGS_IF } from "../state.js";
import { ctl } from "../vmx/controls.js";
import { emulateInstruction } from "./emulate.js";
import { APIC_BASE_MSR, MSR_TSC_DEADLINE, apicOffset, apicRegisterAt, x2apicAccess, x2apicOffset } from "../apic/registers.js";
import type { KvmVcpu } from "./vcpu.js";
import { kvmCpuid } from "./cpuid.js";
import { vmCpuidHas } from "./cpuid-vm.js";
import { hex } from "../../core/bits.js";
import { RESCHEDULE_VECTOR } from "./irqchip.js";
import { resumeLater } from "./lazy-result.js";

const resume = (message: string): HandleResult => ({ action: "resume", message });
/** Expiries of the VM's timers a HLT sleeps through before it looks no further (an interrupt line held back, e.g. IRQ 0 in service). */
const MAX_TIMER_SLEEPS = 64;
const halt = (message: string): HandleResult => ({ action: "halt", message });
const EOI = apicOffset("EOI"), ICR = apicOffset("ICR"), ESR = apicOffset("ESR"), SELF_IPI = apicOffset("SELF_IPI");
/** The guest's physical-address width (CPUID 0x80000008 EAX[7:0]), above which IA32_APIC_BASE bits are reserved. */
const MAXPHYADDR = kvmCpuid(0x8000_0008).entry.eax & 0xff;

/** handle_external_interrupt: the host took its interrupt (here the local timer, whose hrtimer arms the APIC timer). */
export function handleExternalInterrupt(vcpu: KvmVcpu): HandleResult {
  vcpu.count("irq_exits");
  const l = vcpu.irq.lapic;
  const now = vcpu.ctx.now();
  // The VM's other timers (the PIT's hrtimer, QEMU's RTC): their interrupt lines are raised now.
  const fired = vcpu.irq.timers && now >= vcpu.irq.timers.deadline ? vcpu.irq.timers.expire(now) : [];
  if (fired.length) vcpu.irq.refresh();
  if (now >= l.timerDeadline) {
    // apic_timer_fn ran in the host: the guest's timer interrupt is pending at the next entry.
    l.fireTimer();
    return resume(`host timer interrupt: the guest's APIC timer expired (vector ${l.readReg(apicOffset("LVTT")) & 0xff} pending)`);
  }
  if (fired.length) return resume(`host timer interrupt: the ${fired.join(" and ")} timer expired (its interrupt line raised)`);
  if ((Number(vcpu.ctx.vmcs.read("VM_EXIT_INTR_INFO")) & 0xff) === RESCHEDULE_VECTOR) return resume("the host's reschedule IPI (kvm_vcpu_kick by another vCPU): the interrupt pending for this vCPU is injected at entry");
  return resume("external interrupt handled by the host");
}

/** handle_interrupt_window: the guest can take interrupts; stop asking, inject at entry. */
export function handleInterruptWindow(vcpu: KvmVcpu): HandleResult {
  vcpu.ctx.vmcs.setBits("CPU_BASED_VM_EXEC_CONTROL", ctl("CPU_BASED_VIRTUAL_INTR_PENDING"), false);
  vcpu.count("irq_window_exits");
  return resume("interrupt window open: the pending interrupt is injected at entry");
}

/** handle_tpr_below_threshold: the guest lowered CR8 below the threshold; KVM re-evaluates at entry. */
export function handleTprBelowThreshold(vcpu: KvmVcpu): HandleResult {
  vcpu.count("tpr_below_threshold_exits");
  return resume(`TPR lowered to ${hex(vcpu.state.cr8 << 4n)}: a held-back interrupt can be delivered`);
}

/**
 * handle_apic_access: v4.1's fast path for a linear write of the EOI register (no emulator:
 * kvm_lapic_set_eoi, skip the instruction); every other access is emulated, its MMIO reaching the
 * in-kernel APIC (kvm_apic traces it, no KVM_EXIT_MMIO).
 */
export function handleApicAccess(vcpu: KvmVcpu): HandleResult {
  vcpu.count("apic_access_exits");
  const q = Number(vcpu.ctx.vmcs.read("EXIT_QUALIFICATION"));
  const offset = q & 0xfff, type = (q >> 12) & 0xf;
  if (type === 1 && offset === EOI) {
    const v = vcpu.irq.lapic.eoi();
    vcpu.irq.refresh();
    vcpu.skipInstruction();
    return resume(`EOI (fast path) retired vector ${v}`);
  }
  const r = emulateInstruction(vcpu);
  vcpu.irq.refresh();
  const reg = apicRegisterAt(offset & 0xff0)?.name ?? hex(offset);
  return r.ok ? resume(`APIC ${type === 1 ? "write" : "read"} of ${reg} emulated`) : halt(r.message);
}

/** handle_apic_write (APICv): the write already sits in the virtual-APIC page; KVM applies it (kvm_apic_write_nodecode). */
export function handleApicWrite(vcpu: KvmVcpu): HandleResult {
  vcpu.count("apic_write_exits");
  const offset = Number(vcpu.ctx.vmcs.read("EXIT_QUALIFICATION")) & 0xff0;
  const value = vcpu.irq.pendingWrite;
  vcpu.ctx.emit("kvm_apic", { rw: 1, reg: offset, val: value });
  vcpu.irq.lapic.writeReg(offset, value);
  vcpu.irq.refresh();
  vcpu.skipInstruction();
  // The words only when read (an xAPIC IPI is two of these exits: ICR2, ICR).
  return resumeLater(() => `APIC write of ${apicRegisterAt(offset)?.name ?? hex(offset)} = ${hex(value)} applied`);
}

/** handle_apic_eoi_induced (APICv): a level-triggered vector's EOI; KVM tells the I/O APIC (kvm_apic_set_eoi_accelerated). */
export function handleEoiInduced(vcpu: KvmVcpu): HandleResult {
  vcpu.count("eoi_induced_exits");
  const vector = Number(vcpu.ctx.vmcs.read("EXIT_QUALIFICATION")) & 0xff;
  vcpu.irq.lapic.eoi();
  vcpu.irq.refresh();
  vcpu.skipInstruction();
  return resume(`EOI of level-triggered vector ${vector}: the I/O APIC is told`);
}

/**
 * handle_halt → kvm_emulate_halt → kvm_vcpu_block: the vCPU sleeps until it has an event
 * (kvm_arch_vcpu_runnable: an interrupt it can take, an NMI). With interrupts enabled and the APIC
 * timer armed, the modelled clock jumps to the deadline and the timer fires; with nothing that
 * could wake it the VM stops (a real vCPU would sleep forever).
 */
export function handleHalt(vcpu: KvmVcpu): HandleResult {
  vcpu.count("halt_exits");
  vcpu.skipInstruction();
  const l = vcpu.irq.lapic;
  const ifFlag = (vcpu.ctx.vmcs.read("GUEST_RFLAGS") & RFLAGS_IF) !== 0n;
  if (l.nmiPending || (ifFlag && (l.pendingVector() >= 0 || vcpu.irq.hasExtint()))) {
    vcpu.irq.refresh();
    return resume("HLT with an interrupt pending: the vCPU does not block");
  }
  // The VM's other timers (PIT, RTC) whose interrupt can wake the vCPU before its APIC timer: it
  // sleeps to each deadline in turn until an interrupt is pending (each expiry may raise one).
  const timers = vcpu.irq.timers;
  const apicTimer = ifFlag && l.timerDeadline !== Infinity && !(l.readReg(apicOffset("LVTT")) & (1 << 16)) ? l.timerDeadline : Infinity;
  if (!vcpu.ctx.block && ifFlag && timers) {
    let slept = 0;
    for (let i = 0; i < MAX_TIMER_SLEEPS; i++) {
      const next = timers.wakeDeadline();
      if (next === Infinity || next >= apicTimer) break;
      const d = Math.max(0, next - vcpu.ctx.now());
      vcpu.ctx.idle(d);
      slept += d;
      const fired = timers.expire(vcpu.ctx.now());
      if (l.pendingVector() >= 0 || vcpu.irq.hasExtint()) {
        vcpu.irq.clearKick();
        vcpu.count("halt_wakeup");
        vcpu.irq.refresh();
        return resume(`HLT: the vCPU blocked ${slept} cycles until the ${fired.join(" and ")} timer's interrupt`);
      }
    }
  }
  if (!vcpu.ctx.block && ifFlag && l.timerDeadline !== Infinity && !(l.readReg(apicOffset("LVTT")) & (1 << 16))) {
    const slept = Math.max(0, l.timerDeadline - vcpu.ctx.now());
    vcpu.ctx.idle(slept);
    vcpu.count("halt_wakeup");
    l.fireTimer();
    vcpu.irq.refresh();
    return resume(`HLT: the vCPU blocked ${slept} cycles until its APIC timer fired`);
  }
  // With other vCPUs, one of them (an IPI) or the timer may wake it: it sleeps while they run.
  if (vcpu.ctx.block) return resume(vcpu.ctx.block());
  return halt(`HLT with interrupts ${ifFlag ? "enabled" : "disabled"}: the vCPU blocks and no interrupt source can wake it; VM stopped`);
}

/** MSRs the irqchip answers: IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC 0x800-0x8ff (kvm_x2apic_msr_read). null: not one. */
export function apicMsrRead(vcpu: KvmVcpu, msr: number): bigint | null | "gp" {
  const l = vcpu.irq.lapic;
  if (msr === 0x1b) return l.baseMsr;
  if (msr === MSR_TSC_DEADLINE) return l.tscDeadline;
  if (msr < 0x800 || msr > 0x8ff) return null;
  const off = x2apicOffset(msr);
  // kvm_lapic_msr_read: a register outside kvm_lapic_readable_reg_mask (write-only, reserved) #GPs.
  if (!l.x2apic || !x2apicAccess(off).includes("r")) return "gp";
  const v = off === ICR ? (BigInt(l.readReg(apicOffset("ICR2"))) << 32n) | BigInt(l.readReg(ICR)) : BigInt(l.readReg(off));
  vcpu.ctx.emit("kvm_apic", { rw: 0, reg: off, val: v });
  return v;
}

/**
 * Whether a WRMSR of `data` to the x2APIC register at `off` #GPs (kvm_lapic_msr_write and
 * kvm_lapic_reg_write today; SDM Vol. 3 11.12.1.2): a register x2APIC mode cannot write (read-only
 * ID, LDR, PPR ..., reserved offsets), bits 63:32 set anywhere but the ICR, a nonzero ESR write,
 * SELF_IPI bits 31:8.
 */
export function x2apicWriteFaults(off: number, data: bigint): boolean {
  if (!x2apicAccess(off).includes("w")) return true;
  if (off === ICR) return false;
  if (data >> 32n) return true;
  if (off === ESR) return data !== 0n;
  if (off === SELF_IPI) return (data & 0xffff_ff00n) !== 0n;
  return false;
}

/** The write side (kvm_x2apic_msr_write, kvm_lapic_set_base, kvm_set_lapic_tscdeadline_msr): 1 = #GP. */
export function apicMsrWrite(vcpu: KvmVcpu, msr: number, data: bigint): number | null {
  const l = vcpu.irq.lapic;
  if (msr === 0x1b) {
    // kvm_set_apic_base (SDM Vol. 3 11.12.5, Figure 11-27): EXTD without EN is invalid; x2APIC is
    // entered only from xAPIC mode and left only by disabling; reserved bits (above MAXPHYADDR, 7:0, 9) #GP.
    // The same value is no change (kvm_apic_set_base: apic_base == value); EXTD is a reserved bit
    // when the guest's CPUID has no x2APIC (guest_cpu_cap_has(X86_FEATURE_X2APIC)).
    if (data === l.baseMsr) return 0;
    const en = (data & BigInt(APIC_BASE_MSR.EN)) !== 0n, extd = (data & BigInt(APIC_BASE_MSR.EXTD)) !== 0n;
    const wasEn = (l.base & APIC_BASE_MSR.EN) !== 0, wasX2 = l.x2apic;
    if (extd && !vmCpuidHas(vcpu.ctx.cpuid, vcpu.ctx.settings.era, "X2APIC")) return 1;
    if (extd && !en) return 1;
    if (wasX2 && en && !extd) return 1; // x2APIC → xAPIC
    if (!wasEn && en && extd) return 1; // disabled → x2APIC
    if (data & 0x2ffn || data >> BigInt(MAXPHYADDR)) return 1;
    const moved = l.baseAddress;
    l.setBase(Number(data));
    // The xAPIC page follows the base (apic->base_address; lapic-window.ts).
    if (l.baseAddress !== moved) vcpu.irq.apicBaseMoved();
    vcpu.irq.updateApicMode();
    vcpu.irq.refresh();
    return 0;
  }
  if (msr === MSR_TSC_DEADLINE) {
    l.setTscDeadline(data);
    vcpu.irq.refresh();
    return 0;
  }
  if (msr < 0x800 || msr > 0x8ff) return null;
  const off = x2apicOffset(msr);
  if (!l.x2apic || x2apicWriteFaults(off, data)) return 1;
  vcpu.ctx.emit("kvm_apic", { rw: 1, reg: off, val: data });
  if (off === ICR) l.writeIcr64(data);
  else l.writeReg(off, Number(data & 0xffff_ffffn));
  vcpu.irq.refresh();
  return 0;
}
