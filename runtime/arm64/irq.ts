// Interrupts reaching the arm64 machine from outside the guest's instruction stream: a timer
// deadline that came due (its PPI goes high: a physical interrupt to the host, hence an IRQ exit
// of the vCPU it belongs to, or a wake-up of a blocked one), the IRQ exit's handling (the host
// took its interrupt; KVM resumes the guest), and `irq N` from the VMM (KVM_IRQ_LINE).
// Sources: Linux arch/arm64/kvm/arm.c (kvm_vm_ioctl_irq_line: the irq word's type, vcpu_idx and
// irq_num, traced by kvm_irq_line before the switch on the type; a PPI goes to vcpu_idx's
// redistributor, an SPI's num is its INTID, 32 and up), arch/arm64/kvm/handle_exit.c
// (handle_exit: ARM_EXCEPTION_IRQ returns 1), virt/kvm/arm/arch_timer.c.

import { ExitlabError } from "../core/errors.js";
import type { HandleResult } from "../core/machine.js";
import type { Arm64Machine } from "./machine.js";
import { timerOfDeadline } from "./smp.js";

/** KVM_ARM_IRQ_TYPE_* of the KVM_IRQ_LINE irq word (arch/arm64/include/uapi/asm/kvm.h): SPI 1, PPI 2. */
export const KVM_ARM_IRQ_TYPE = { SPI: 1, PPI: 2 } as const;

/**
 * Deadlines due: a timer's output goes high while the guest runs, which is a physical interrupt
 * to the host (the virtual timer's PPI 27; the host hrtimer emulating the physical one) and so an
 * IRQ exit; KVM injects the virtual interrupt on the way back in.
 */
export function fireDue(m: Arm64Machine): void {
  for (const name of m.clock.due()) {
    const { id, timer } = timerOfDeadline(name);
    const t = m.vcpus[id]!.timer.timers.find((x) => x.def.name === timer)!;
    t.fired = true;
    m.clock.schedule(name, null);
    // Another vCPU's: it takes the interrupt when it runs (an IRQ exit), or wakes from WFI with its line high.
    if (id === m.sched.current) m.vgic.raisePhysical(t.def.intid);
    else if (m.sched.states[id] === "running") m.vgic.raisePhysicalOn(id, t.def.intid);
    else m.vgic.withVcpu(id, () => m.vgic.syncTimers());
  }
}

/** handle_exit for ARM_EXCEPTION_IRQ: the host handled its interrupt already; resume (KVM returns 1). */
export function handleIrqExit(m: Arm64Machine): HandleResult {
  const what = [...m.vgic.physical].sort((a, b) => a - b);
  m.vgic.physical.clear();
  m.kvm.count("irq_exits");
  m.kvm.lastFlushBytes = 0;
  m.kvm.lastUserspace = false;
  return { action: "resume", message: `IRQ exit: physical interrupt ${what.map((i) => `${i} (${irqName(i)})`).join(", ")} taken by the host; KVM resumes the guest` };
}

/**
 * `irq N` from the VMM (KVM_IRQ_LINE, level high then low for an edge): the distributor's
 * interrupt N. A PPI (16..31) goes to vCPU `vcpu`'s redistributor (the irq word's vcpu_idx; the
 * lab passes the selected vCPU), an SPI to the distributor (vcpu_idx 0, as QEMU sends it). The
 * vCPU the interrupt reaches, if it runs, is kicked (an IRQ exit) so the interrupt reaches it at
 * entry. Throws ExitlabError for an INTID that is not a PPI or an SPI.
 */
export function injectIrq(m: Arm64Machine, intid: number, vcpu = 0): string {
  if (!Number.isInteger(intid) || intid < 16 || intid >= 288) throw new ExitlabError(`interrupt ${intid} out of range`, "irq takes a PPI (16..31) or an SPI (32..287) INTID; SGIs come from the guest (GICD_SGIR, ICC_SGI1R_EL1)");
  const ppi = intid < 32;
  const idx = ppi ? vcpu : 0;
  m.traceEvent("kvm_irq_line", { type: ppi ? KVM_ARM_IRQ_TYPE.PPI : KVM_ARM_IRQ_TYPE.SPI, vcpu_idx: idx, irq_num: intid, level: 1 });
  const v = m.vgic;
  const inject = (): boolean => {
    v.injectLine(intid, true);
    if (v.dist.edge[intid] === 0) {
      // The VMM lowers the line again at once (a pulse, a second KVM_IRQ_LINE): the latch keeps it pending for the guest.
      v.dist.latch[intid] = 1;
      m.traceEvent("kvm_irq_line", { type: ppi ? KVM_ARM_IRQ_TYPE.PPI : KVM_ARM_IRQ_TYPE.SPI, vcpu_idx: idx, irq_num: intid, level: 0 });
      v.injectLine(intid, false);
    }
    return v.dist.enabled[intid] === 1;
  };
  // A PPI lives in its vCPU's redistributor (banked per vCPU).
  const enabled = ppi ? v.withVcpu(idx, inject) : inject();
  // kvm_vgic_inject_irq → vgic_queue_irq_unlock kicks the target: the loaded vCPU exits at once;
  // another running one takes an IRQ exit when it runs; a blocked one wakes if it can take it.
  const target = ppi ? idx : m.sched.current;
  if (target === m.sched.current) v.raisePhysical(-1);
  else if (m.sched.states[target] === "running") v.raisePhysicalOn(target, -1);
  const where = ppi && m.sched.count > 1 ? ` for vCPU ${idx}` : "";
  return `interrupt ${intid} (${irqName(intid)}) injected${where}${enabled ? "" : ", disabled in the distributor: it stays pending"}`;
}

/** What an interrupt is on this machine, for messages. */
export function irqName(intid: number): string {
  if (intid === -1) return "kick";
  if (intid < 16) return "SGI";
  if (intid === 25) return "vGIC maintenance";
  if (intid === 27) return "virtual timer";
  if (intid === 30) return "physical timer";
  return intid < 32 ? "PPI" : "SPI";
}
