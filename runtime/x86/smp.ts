// SMP on the x86 machine: which vCPU runs next (core/vcpus.ts's round robin, as on arm64), what
// happens when one executes HLT while others can run (kvm_vcpu_block: it sleeps, they run), how a
// sleeping vCPU wakes (an interrupt it can take, an NMI, its APIC timer; traced kvm_vcpu_wakeup as
// it resumes), how the ICR's IPIs reach other vCPUs (INIT, STARTUP, fixed, lowest priority, NMI, by
// physical or logical destination or shorthand) and how a target that is running learns of one:
// kvm_vcpu_kick, the host's reschedule IPI, an EXTERNAL_INTERRUPT exit (with APICv: a posted
// interrupt the processor delivers without an exit). Sources: Linux virt/kvm/kvm_main.c
// (kvm_vcpu_block, kvm_vcpu_kick, kvm_vcpu_wake_up), arch/x86/kvm/lapic.c (kvm_apic_send_ipi,
// __apic_accept_irq, kvm_apic_accept_events), irq_comm.c (kvm_irq_delivery_to_apic, kvm_set_msi),
// x86.c (kvm_arch_vcpu_runnable, kvm_vcpu_has_events), vmx/posted_intr.c (pi_wakeup_handler).

import { scheduleVcpus, vcpuControl as coreVcpuControl, type SchedulingMachine, type SchedulingSteps, type VcpuControl, type VcpuScheduler } from "../core/vcpus.js";
import { ExitlabError } from "../core/errors.js";
import type { X86State } from "./env.js";
import { acceptInit, acceptSipi, matchesDest, SHORTHAND, type X86Vcpu } from "./vcpu-state.js";
import { RFLAGS_IF } from "./state.js";
import { apicOffset } from "./apic/registers.js";
import { lookupField } from "./vmx/fields.js";

const LVTT = apicOffset("LVTT");
/** The saved RFLAGS (a 64-bit field holding a 32-bit value: readNum is exact) and its IF bit as a Number. */
const GUEST_RFLAGS = lookupField("GUEST_RFLAGS").field;
const IF = Number(RFLAGS_IF);
/** ICR / redirection-entry delivery modes (SDM Vol. 3 Figure 11-12). */
const DM = { fixed: 0, lowest: 1, nmi: 4, init: 5, startup: 6 } as const;

/** What SMP on x86 needs of the machine: core/vcpus.ts's SchedulingMachine, and vCPU resets. */
export interface X86SmpMachine extends SchedulingMachine<X86Vcpu> {
  /** kvm_vcpu_reset of vCPU `id` into `state`. */
  resetVcpu(id: number, state: X86State): void;
}

/** kvm_vcpu_block for HLT with other vCPUs: the loaded vCPU sleeps (state blocked) until an interrupt or its timer wakes it. */
export function blockOnHlt(m: X86SmpMachine): string {
  const id = m.sched.current;
  m.sched.set(id, "blocked");
  m.vcpus[id]!.blockedAt = m.clock.now();
  return `HLT: vCPU ${id} blocks (kvm_vcpu_block) until an interrupt wakes it; the other vCPUs run`;
}

/** kvm_arch_vcpu_runnable of a blocked vCPU: an NMI, or an interrupt its APIC would deliver with RFLAGS.IF set (the HLT exit saved it). */
function hasEvents(v: X86Vcpu): boolean {
  const l = v.irq.lapic;
  if (l.nmiPending) return true;
  return (v.vmcs.readNum(GUEST_RFLAGS) & IF) !== 0 && (l.pendingVector() >= 0 || v.irq.hasExtint());
}

/** Whether vCPU `v`'s APIC timer can wake it: armed, its LVT entry unmasked, interrupts enabled. */
function timerCanWake(v: X86Vcpu): boolean {
  const l = v.irq.lapic;
  return l.timerDeadline !== Infinity && !(l.readReg(LVTT) & (1 << 16)) && (v.vmcs.readNum(GUEST_RFLAGS) & IF) !== 0;
}

/** A blocked vCPU with an event becomes runnable (kvm_vcpu_wake_up); it traces kvm_vcpu_wakeup when it next runs. */
function wakeIfPending(m: X86SmpMachine, v: X86Vcpu): void {
  if (m.sched.states[v.id] === "blocked" && hasEvents(v)) {
    m.sched.set(v.id, "running");
    v.resume = "wake";
  }
}

/** The blocked vCPUs: timers that expired fire (the host's hrtimer, apic_timer_fn), and those with an event wake. */
function wakeBlocked(m: X86SmpMachine): void {
  const now = m.clock.now();
  for (const id of m.sched.ids("blocked")) {
    const v = m.vcpus[id]!;
    if (now >= v.irq.lapic.timerDeadline) v.irq.lapic.fireTimer();
    wakeIfPending(m, v);
  }
}

/** x86's steps in the scheduling loop: a woken vCPU counts halt_wakeup; when all sleep, time jumps to the earliest APIC timer that can wake one. */
const STEPS: SchedulingSteps<X86SmpMachine> = {
  wakeBlocked,
  woke: (_m, v) => v.kvm.count("halt_wakeup"),
  idle(m) {
    let next = Infinity;
    for (const b of m.sched.ids("blocked")) if (timerCanWake(m.vcpus[b]!)) next = Math.min(next, m.vcpus[b]!.irq.lapic.timerDeadline);
    if (next === Infinity) {
      return m.sched.ids("blocked").length
        ? "every vCPU is waiting for SIPI or blocked in HLT, and no timer is armed and no interrupt pending to wake one"
        : "no vCPU can run: the others wait for INIT/SIPI";
    }
    // Every vCPU sleeps: the clock jumps to the first deadline (kvm_vcpu_block's idle time).
    m.clock.idle += Math.max(0, next - m.clock.now());
    return null;
  },
};

/**
 * Whether the loaded vCPU, entering a flag-polling loop (flag-poll.ts), runs one pass and then, if
 * it still loops, gives way (VcpuScheduler.pollWait): another vCPU can run and none is pinned
 * (`step`). With no other vCPU runnable it spins on as before, until an interrupt or the budget.
 */
export function pollMayYield(sched: VcpuScheduler): boolean {
  return sched.count > 1 && sched.pin === null && sched.othersRunnable();
}

/**
 * Load the vCPU that runs next (core/vcpus.ts scheduleVcpus, round robin by quantum). When none
 * can run but some sleep with an armed timer, modelled time jumps to the earliest deadline (every
 * vCPU is idle); when nothing can wake any, the VM stops. Returns the vCPU, or -1 (halted set, or
 * the pinned vCPU cannot run).
 */
export function schedule(m: X86SmpMachine): number {
  return scheduleVcpus(m, STEPS);
}

/**
 * An interrupt the VM's APICs accepted for vCPU `t` (not the one sending it): a sleeping target
 * wakes; a running one is kicked — without APICv, the host's reschedule IPI (an
 * EXTERNAL_INTERRUPT exit when it next runs, then KVM injects at entry); with APICv a posted
 * interrupt the processor delivers without an exit. The loaded vCPU (KVM handling its exit, or
 * the VMM between runs) takes it at its next entry.
 */
function notify(m: X86SmpMachine, t: X86Vcpu): void {
  const st = m.sched.states[t.id];
  if (st === "blocked") return wakeIfPending(m, t);
  if (st !== "running") return;
  if (t.id === m.sched.current || t.irq.apicv) t.irq.refresh();
  else t.irq.kick();
}

/** __apic_accept_irq at target `t`: traced kvm_apic_accept_irq; INIT and SIPI act on the vCPU. */
function accept(m: X86SmpMachine, t: X86Vcpu, vector: number, mode: number, level: boolean, assert: boolean): void {
  if (mode !== DM.fixed && mode !== DM.lowest && mode !== DM.nmi && mode !== DM.init && mode !== DM.startup) return;
  const l = t.irq.lapic;
  l.acceptIrq(vector, level, mode);
  if (mode === DM.init) {
    // The BSP ignores INIT here (kvm_apic_accept_events resets it to RUNNABLE; nothing sends it one).
    if (t.id === 0) return;
    acceptInit(m, t, level, assert);
    if (t.mp === "init-received") m.sched.set(t.id, "off");
    return;
  }
  if (mode === DM.startup) {
    if (acceptSipi(m, t, vector)) m.sched.set(t.id, "running");
    return;
  }
  notify(m, t);
}

/**
 * kvm_irq_delivery_to_apic for an IPI the loaded vCPU's APIC sent (ICR write; the APIC has
 * delivered to itself already): every other vCPU the shorthand or destination names accepts it.
 * Lowest priority goes to the first match (KVM picks one by priority or vector hashing).
 */
export function deliverIpi(m: X86SmpMachine, low: number, dest: number): void {
  const from = m.sched.current;
  const source = m.vcpus[from]!.irq.lapic;
  const vector = low & 0xff, mode = (low >> 8) & 7, logical = ((low >> 11) & 1) === 1;
  const assert = ((low >> 14) & 1) === 1, level = ((low >> 15) & 1) === 1, shorthand = (low >> 18) & 3;
  for (const t of m.vcpus) {
    if (t.id === from || !matchesDest(t.irq.lapic, source.id, shorthand, dest, logical)) continue;
    accept(m, t, vector, mode, level, assert);
    if (mode === DM.lowest && shorthand === SHORTHAND.none) break;
  }
}

/** The I/O APIC's (or an MSI's) interrupt: to the APICs its destination names, no shorthand (ioapic_service → kvm_irq_delivery_to_apic). */
export function deliverFromIoApic(m: X86SmpMachine, vector: number, level: boolean, mode: number, dest: number, logical: boolean): number {
  let n = 0;
  for (const t of m.vcpus) {
    if (!matchesDest(t.irq.lapic, -1, SHORTHAND.none, dest, logical)) continue;
    accept(m, t, vector, mode, level, true);
    n++;
    if (mode === DM.lowest) break;
  }
  return n;
}

/** The vCPUs as the lab sees them (core/vcpus.ts vcpuControl) for machine `m`. */
export function vcpuControl(m: X86SmpMachine & { selected: number; readonly steps: number }): VcpuControl {
  return coreVcpuControl(m, {
    vcpus: () => m.vcpus,
    pc: (id) => m.vcpus[id]!.cpu.state.rip,
    notRunning: (st) => (st === "off" ? "waiting for INIT/SIPI (the BSP's ICR starts it)" : "blocked in HLT until an interrupt"),
    ipi(cpu, vector) {
      if (vector === undefined) throw new ExitlabError("an x86 IPI needs its vector", "e.g. `ipi 1 vector 0x30` (vectors 16-255)");
      if (!Number.isInteger(vector) || vector < 16 || vector > 255) throw new ExitlabError(`vector ${vector} out of range: x86 interrupt vectors are 16-255`, "vectors 0-31 are exceptions; e.g. `ipi 1 vector 0x30`");
      const before = m.sched.states[cpu]!;
      const t = m.vcpus[cpu]!;
      const ok = t.irq.lapic.enabled;
      deliverFromIoApic(m, vector, false, DM.fixed, t.irq.lapic.x2apic ? t.irq.lapic.id : t.irq.lapic.readReg(apicOffset("ID")) >>> 24, false);
      const after = m.sched.states[cpu]!;
      const what = !ok
        ? "dropped: its local APIC is not software-enabled (SVR bit 8)"
        : before === "off"
          ? "it waits for INIT/SIPI: the vector stays in its IRR"
          : before === "blocked"
            ? after === "running" ? "it wakes from HLT" : "it stays blocked in HLT: it cannot take the interrupt now (RFLAGS.IF or the TPR)"
            : cpu === m.sched.current || t.irq.apicv ? "it takes it at its next VM entry (APICv: as a posted interrupt)" : "it is kicked (an EXTERNAL_INTERRUPT exit when it next runs) and KVM injects it at entry";
      return `vector ${vector} to vCPU ${cpu} (KVM_SIGNAL_MSI, fixed, physical destination APIC ID ${t.irq.lapic.id}): ${what}`;
    },
  });
}
