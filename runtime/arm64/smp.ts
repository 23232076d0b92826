// SMP on the arm64 machine: which vCPU runs next (core/vcpus.ts's round robin), what happens when
// one blocks in WFI while others can run (kvm_vcpu_block: it sleeps, they run), how a sleeping vCPU
// wakes (an interrupt pending for it: an SGI, an SPI it is the target of, its timer; traced
// kvm_vcpu_wakeup as it resumes), and how an SGI reaches a vCPU that is running (kvm_vcpu_kick: an
// IPI to its physical CPU, hence an IRQ exit there). Sources: Linux virt/kvm/kvm_main.c
// (kvm_vcpu_block, kvm_vcpu_kick, kvm_vcpu_wake_up), arch/arm64/kvm/vgic/vgic.c
// (vgic_queue_irq_unlock kicks the target), arch/arm64/kvm/arm.c (kvm_arch_vcpu_runnable).

import { scheduleVcpus, vcpuControl as coreVcpuControl, type SchedulingMachine, type SchedulingSteps, type VcpuControl } from "../core/vcpus.js";
import { ExitlabError } from "../core/errors.js";
import type { Vgic } from "./kvm/vgic.js";
import type { Arm64Vcpu } from "./vcpu-state.js";
import { VCPU_BLOCKED } from "./kvm/vcpu.js";
import { ATTN_STOP } from "./interrupts.js";
import type { GenericTimer } from "./timer.js";
import type { FieldValue } from "../core/trace.js";

/** What SMP on arm64 needs of the machine: core/vcpus.ts's SchedulingMachine, its vGIC and timers. */
export interface SmpMachine extends SchedulingMachine<Arm64Vcpu> {
  readonly vgic: Vgic;
  /** Fire the timers whose deadlines are due (each to its vCPU). */
  fireTimers(): void;
  /** An exit is being handled (KVM is in the host for the loaded vCPU). */
  readonly handling: boolean;
}

/** The deadline name of vCPU `id`'s timer `name` on the VM's clock: vCPU 0 keeps the bare name. */
export function timerDeadlineName(id: number, name: string): string {
  return id === 0 ? name : `${name}.${id}`;
}

/** The vCPU and timer of a deadline name (timerDeadlineName's inverse). */
export function timerOfDeadline(deadline: string): { id: number; timer: string } {
  const dot = deadline.indexOf(".");
  return dot < 0 ? { id: 0, timer: deadline } : { id: Number(deadline.slice(dot + 1)), timer: deadline.slice(0, dot) };
}

/** kvm_vcpu_block with other vCPUs: the loaded vCPU sleeps (state blocked) until an interrupt wakes it. */
export function blockVcpu(m: SmpMachine): number {
  const id = m.sched.current;
  m.sched.set(id, "blocked");
  m.vcpus[id]!.blockedAt = m.clock.now();
  return VCPU_BLOCKED;
}

/** What kvm_vcpu_block needs beyond SmpMachine: the loaded vCPU's timer and the trace. */
export interface BlockingMachine extends SmpMachine {
  readonly timer: GenericTimer;
  traceEvent(name: "kvm_vcpu_wakeup", fields: Record<string, FieldValue>): void;
}

/**
 * kvm_vcpu_block for WFI of the loaded vCPU: ns blocked (0 when an interrupt is pending), -1 when
 * nothing can wake it, VCPU_BLOCKED when other vCPUs run meanwhile (it sleeps: blockVcpu). With
 * one vCPU, modelled time jumps to the next deadline and the timer that woke it fires (the host
 * took its interrupt while the vCPU slept: no exit); traced kvm_vcpu_wakeup.
 */
export function kvmVcpuBlock(m: BlockingMachine): number {
  if (m.vgic.pendingForVcpu()) return 0;
  if (m.sched.count > 1) return blockVcpu(m);
  const slept = m.clock.sleepToNext();
  if (slept < 0) return -1;
  for (const name of m.clock.due()) {
    const t = m.timer.timers.find((x) => x.def.name === name)!;
    t.fired = true;
    m.clock.schedule(name, null);
  }
  m.vgic.syncTimers();
  const ns = m.clock.nanos(slept);
  m.traceEvent("kvm_vcpu_wakeup", { ns, waited: true, valid: true });
  return Math.max(1, ns);
}

/** kvm_psci_vcpu_off for the loaded vCPU; true when no vCPU is left on (the VM stops). */
export function powerOff(m: SmpMachine): boolean {
  m.sched.set(m.sched.current, "off");
  return m.sched.ids("off").length === m.sched.count;
}

/**
 * An SGI became pending for vCPU `t`: a blocked target wakes at the next scheduling point (the
 * pending interrupt makes it runnable); a running one other than the vCPU in the host is kicked (an
 * IRQ exit when it next runs); the loaded vCPU while KVM handles its exit takes it at entry.
 */
export function sgiPending(m: SmpMachine, t: number): void {
  if (m.sched.states[t] === "blocked") {
    // kvm_vcpu_kick → kvm_vcpu_wake_up: the sleeping vCPU wakes if the SGI can reach it.
    wakeIfPending(m, t);
    return;
  }
  if (m.sched.states[t] !== "running") return;
  if (t === m.sched.current && m.handling) return;
  m.vgic.raisePhysicalOn(t, -1);
}

/** Blocked vCPUs with an interrupt pending become runnable (kvm_arch_vcpu_runnable → kvm_vcpu_wake_up). */
function wakeBlocked(m: SmpMachine): void {
  for (const id of m.sched.ids("blocked")) wakeIfPending(m, id);
}

function wakeIfPending(m: SmpMachine, id: number): void {
  if (m.vgic.withVcpu(id, () => m.vgic.pendingForVcpu())) {
    m.sched.set(id, "running");
    m.vcpus[id]!.resume = "wake";
  }
}

/**
 * YIELD on the loaded vCPU (a spin-wait hint): its quantum ends at the next block boundary and the
 * next runnable vCPU takes over — when that can help: the yielding vCPU made progress since its
 * last YIELD (it took an exit or an interrupt: it may have set what another waits for), or another
 * vCPU has an interrupt or kick waiting (it may be what this one waits for). A guest spinning on a
 * flag another vCPU sets (kvm-unit-tests' cpu_relax() is YIELD) then waits a few instructions,
 * not a quantum, as on QEMU's round-robin TCG, whose helper_yield ends the time slice
 * (target/arm/tcg/op_helper.c); a vCPU that only spins keeps its quantum (no ping-pong of
 * spinning vCPUs). Real KVM runs the vCPUs in parallel; this keeps a spinning vCPU from holding
 * the modelled time of the one it waits for.
 */
export function yieldVcpu(m: SmpMachine & { readonly cpu: { attention: number } }): void {
  const id = m.sched.current;
  const v = m.vcpus[id]!;
  const progressed = v.exits !== v.exitsAtYield;
  v.exitsAtYield = v.exits;
  if (m.sched.pin !== null || !m.sched.othersRunnable()) return;
  if (!progressed && !othersKicked(m)) return;
  m.sched.left = 0;
  m.cpu.attention |= ATTN_STOP;
}

/** Whether a running vCPU other than the loaded one has a physical interrupt or kick waiting (an IRQ exit when it runs). */
function othersKicked(m: SmpMachine): boolean {
  const st = m.sched.states;
  for (let i = 0; i < st.length; i++) if (i !== m.sched.current && st[i] === "running" && m.vgic.physicals[i]!.size) return true;
  return false;
}

/** arm64's steps in the scheduling loop: a woken vCPU's timers sync to its vGIC; when all sleep, time jumps to the next deadline and the timers due fire. */
const STEPS: SchedulingSteps<SmpMachine> = {
  wakeBlocked,
  woke: (m) => m.vgic.syncTimers(),
  idle(m) {
    const blocked = m.sched.ids("blocked").length;
    if (blocked === 0 || m.clock.sleepToNext() < 0) return blocked ? "every vCPU is off or blocked in WFI, and no timer is armed and no interrupt pending to wake one" : "every vCPU is powered off";
    m.fireTimers();
    return null;
  },
};

/**
 * Load the vCPU that runs next (core/vcpus.ts scheduleVcpus, round robin by quantum). When none
 * can run, modelled time jumps to the next deadline (every vCPU sleeps) and the timers due wake
 * theirs; when nothing is scheduled either, the VM stops. Returns the vCPU, or -1 (halted set).
 */
export function schedule(m: SmpMachine): number {
  return scheduleVcpus(m, STEPS);
}

/** The vCPUs as the lab sees them (core/vcpus.ts vcpuControl) for machine `m`. */
export function vcpuControl(m: SmpMachine & { selected: number; readonly steps: number }): VcpuControl {
  return coreVcpuControl(m, {
    vcpus: () => m.vcpus,
    pc: (id) => m.vcpus[id]!.cpu.state.pc,
    notRunning: (st) => (st === "off" ? "powered off (PSCI CPU_ON starts it)" : "blocked in WFI until an interrupt"),
    ipi(cpu, n) {
      const intid = n ?? 0;
      if (!Number.isInteger(intid) || intid < 0 || intid > 15) throw new ExitlabError(`SGI ${intid} out of range`, "SGIs are INTIDs 0..15");
      const st = m.sched.states[cpu]!;
      m.vgic.dist.sendSgi(intid, 0, cpu);
      const what = st === "off" ? "it is powered off: the SGI waits in its redistributor" : st === "blocked" ? (m.sched.states[cpu] === "running" ? "it wakes from WFI" : "it stays blocked: the SGI is not enabled for it") : "it is kicked (an IRQ exit when it next runs) and takes the SGI at entry";
      return `SGI ${intid} pending for vCPU ${cpu} (as a GICD_SGIR / ICC_SGI1R_EL1 write from vCPU 0; KVM has no ioctl for SGIs): ${what}`;
    },
  });
}
